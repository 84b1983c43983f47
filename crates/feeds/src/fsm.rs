//! A passive BGP speaker's session as a pure state machine (RFC 4271 §8, reduced
//! to what a listener needs): fed the time and what happened (connected, bytes
//! received, a timer, the connection lost), it returns [`Action`]s for the I/O layer
//! (bytes to send, the connection to close) and the route inputs.
//!
//! It sends OPEN (multiprotocol IPv4 and IPv6 unicast, route refresh, 4-octet AS),
//! then KEEPALIVEs at a third of the negotiated hold time; it checks the router's
//! OPEN (version, AS, hold time, identifier) and answers every error with a
//! NOTIFICATION that says why; it announces nothing. The families are those both
//! OPENs name (a router that names none speaks IPv4 unicast, RFC 4760 §8). UPDATEs,
//! IPv4 in the classic fields and either family in MP_REACH/MP_UNREACH, become
//! [`BgpInput::Route`]s for the prefixes the filter passes; other families (VPN,
//! labelled) are skipped and counted. When the session ends for any reason after it
//! was established (NOTIFICATION, hold timer, the connection lost) one
//! [`BgpInput::PeerDown`] flushes its routes. [`BgpSession::health`] and
//! [`BgpSession::why_no_routes`] say what the session carries.

use crate::health::SessionHealth;
use crate::message::{
    self, HEADER_LEN, MAX_EXTENDED_LEN, MAX_MESSAGE_LEN, decode_open, encode_keepalive,
    encode_notification, encode_open, kind, notification_text,
};
use crate::update::{Family, UpdateContext, decode_update};
use blackout_model::PrefixFilter;
use blackout_model::{AsPath, Asn, BgpInput, PeerKey, RouteChange, RouteUpdate, Timestamp};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The hold time blackout offers.
pub const DEFAULT_HOLD_TIME: u16 = 90;
/// How long to wait for the router's OPEN (RFC 4271 suggests 4 minutes).
const OPEN_WAIT_SECS: i64 = 240;

/// One session's settings.
#[derive(Clone, Debug)]
pub struct SessionConfig {
    /// The router's address.
    pub peer: IpAddr,
    /// The router's AS.
    pub peer_as: Asn,
    /// blackout's AS.
    pub local_as: Asn,
    /// blackout's BGP identifier.
    pub router_id: Ipv4Addr,
    /// The hold time offered.
    pub hold_time: u16,
    /// The prefixes passed on.
    pub filter: PrefixFilter,
}

/// Where the session is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum SessionState {
    /// No connection.
    Idle,
    /// OPEN sent, waiting for the router's.
    OpenSent,
    /// OPENs exchanged, waiting for the router's KEEPALIVE.
    OpenConfirm,
    /// Routes flow.
    Established,
}

/// What the I/O layer must do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Write these bytes.
    Send(Vec<u8>),
    /// A route input for the BGP state.
    Input(BgpInput),
    /// The session entered this state.
    State(SessionState),
    /// Close the connection (after writing what was queued before).
    Close {
        /// Why, in words.
        reason: String,
    },
}

/// Counters of one session.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct SessionStats {
    /// BGP messages received.
    pub messages: u64,
    /// UPDATEs received.
    pub updates: u64,
    /// End-of-RIB markers received.
    pub end_of_ribs: u64,
    /// Times the session was established.
    pub established: u64,
    /// Unicast routes announced, before the prefix filter.
    pub usable_announcements: u64,
    /// MP_REACH/MP_UNREACH attributes of families other than IPv4/IPv6 unicast.
    pub skipped_families: BTreeMap<Family, u64>,
}

/// The session.
pub struct BgpSession {
    config: SessionConfig,
    key: PeerKey,
    state: SessionState,
    buf: Vec<u8>,
    context: UpdateContext,
    max_len: usize,
    hold_time: u16,
    hold_deadline: Option<Timestamp>,
    keepalive_deadline: Option<Timestamp>,
    routes: HashMap<(IpNet, u32), AsPath>,
    /// The families of the router's OPEN, and those both sides named.
    router_families: Vec<Family>,
    families: Vec<Family>,
    end_of_rib: BTreeSet<Family>,
    stats: SessionStats,
}

impl BgpSession {
    /// A session in Idle.
    pub fn new(config: SessionConfig) -> Self {
        let key = PeerKey {
            collector: Arc::from(format!("bgp:{}", config.peer).as_str()),
            ip: config.peer,
            asn: config.peer_as,
        };
        BgpSession {
            config,
            key,
            state: SessionState::Idle,
            buf: Vec::new(),
            context: UpdateContext::default(),
            max_len: MAX_MESSAGE_LEN,
            hold_time: 0,
            hold_deadline: None,
            keepalive_deadline: None,
            routes: HashMap::new(),
            router_families: Vec::new(),
            families: Vec::new(),
            end_of_rib: BTreeSet::new(),
            stats: SessionStats::default(),
        }
    }

    /// The state now.
    pub fn state(&self) -> SessionState {
        self.state
    }

    /// The peer key its routes carry (`bgp:<router>`).
    pub fn key(&self) -> &PeerKey {
        &self.key
    }

    /// The counters so far.
    pub fn stats(&self) -> &SessionStats {
        &self.stats
    }

    /// The negotiated hold time (0 before OPENs are exchanged, or if none).
    pub fn hold_time(&self) -> u16 {
        self.hold_time
    }

    /// Routes held now.
    pub fn routes(&self) -> &HashMap<(IpNet, u32), AsPath> {
        &self.routes
    }

    /// The families both OPENs named: those the router may send (empty before the
    /// OPENs are exchanged).
    pub fn families(&self) -> &[Family] {
        &self.families
    }

    /// What the session carries, for the feed's health.
    pub fn health(&self) -> SessionHealth {
        let ipv4 = self
            .routes
            .keys()
            .filter(|(prefix, _)| matches!(prefix, IpNet::V4(_)))
            .count() as u32;
        SessionHealth {
            router_families: self.router_families.clone(),
            families: self.families.clone(),
            routes_ipv4: ipv4,
            routes_ipv6: self.routes.len() as u32 - ipv4,
            end_of_rib: self.end_of_rib.iter().copied().collect(),
        }
    }

    /// Why the established session gives no route blackout can use, if it does not.
    pub fn why_no_routes(&self) -> Option<String> {
        if self.state != SessionState::Established {
            return None;
        }
        let list = |families: &[Family]| {
            families
                .iter()
                .map(|f| f.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        if self.families.is_empty() {
            return Some(format!(
                "the router offers only {}; blackout takes ipv4-unicast and ipv6-unicast",
                list(&self.router_families)
            ));
        }
        if self.stats.usable_announcements > 0 || self.stats.skipped_families.is_empty() {
            return None;
        }
        let skipped: Vec<Family> = self.stats.skipped_families.keys().copied().collect();
        Some(format!(
            "{} UPDATEs but no IPv4/IPv6 unicast route: the router sends only {}",
            self.stats.updates,
            list(&skipped)
        ))
    }

    /// When [`BgpSession::tick`] must be called next.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        match (self.hold_deadline, self.keepalive_deadline) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// A TCP connection with the router is up: send OPEN.
    pub fn connected(&mut self, now: Timestamp) -> Vec<Action> {
        self.buf.clear();
        self.router_families.clear();
        self.families.clear();
        self.end_of_rib.clear();
        self.max_len = MAX_MESSAGE_LEN;
        self.hold_deadline = Some(now.add_secs(OPEN_WAIT_SECS));
        self.keepalive_deadline = None;
        let mut actions = vec![Action::Send(encode_open(
            self.config.local_as.0,
            self.config.hold_time,
            self.config.router_id,
        ))];
        self.enter(SessionState::OpenSent, &mut actions);
        actions
    }

    /// Bytes from the router.
    pub fn received(&mut self, now: Timestamp, bytes: &[u8]) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.state == SessionState::Idle {
            return actions;
        }
        self.buf.extend_from_slice(bytes);
        let mut start = 0;
        while self.state != SessionState::Idle {
            let pending = self.buf.get(start..).unwrap_or(&[]);
            match message::frame(pending, self.max_len) {
                Ok(None) => break,
                Ok(Some((kind, len))) => {
                    let body = pending.get(HEADER_LEN..len).unwrap_or(&[]).to_vec();
                    start += len;
                    self.message(now, kind, &body, &mut actions);
                }
                Err(error) => {
                    let (sub, data) = match error {
                        message::HeaderError::Marker => (1, Vec::new()),
                        message::HeaderError::Length(len) => (2, len.to_be_bytes().to_vec()),
                    };
                    self.fail(now, 1, sub, &data, &mut actions);
                }
            }
        }
        self.buf.drain(..start.min(self.buf.len()));
        actions
    }

    /// Checks the timers.
    pub fn tick(&mut self, now: Timestamp) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.hold_deadline.is_some_and(|deadline| now >= deadline) {
            self.fail(now, 4, 0, &[], &mut actions);
            return actions;
        }
        if let Some(deadline) = self.keepalive_deadline
            && now >= deadline
        {
            actions.push(Action::Send(encode_keepalive()));
            self.keepalive_deadline = Some(now.add_secs(self.keepalive_interval()));
        }
        actions
    }

    /// The connection is gone (closed by the router, reset, or closed by us).
    pub fn closed(&mut self, now: Timestamp, reason: &str) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.state != SessionState::Idle {
            self.down(now, reason.to_string(), &mut actions);
        }
        actions
    }

    /// Ends the session from blackout's side (shutting down): NOTIFICATION Cease.
    pub fn shutdown(&mut self, now: Timestamp) -> Vec<Action> {
        let mut actions = Vec::new();
        if self.state != SessionState::Idle {
            actions.push(Action::Send(encode_notification(6, 2, &[])));
            self.down(now, "administrative shutdown".into(), &mut actions);
        }
        actions
    }

    fn keepalive_interval(&self) -> i64 {
        i64::from((self.hold_time / 3).max(1))
    }

    fn enter(&mut self, state: SessionState, actions: &mut Vec<Action>) {
        if self.state != state {
            self.state = state;
            actions.push(Action::State(state));
        }
    }

    fn message(&mut self, now: Timestamp, kind: u8, body: &[u8], actions: &mut Vec<Action>) {
        self.stats.messages += 1;
        match (self.state, kind) {
            (SessionState::OpenSent, kind::OPEN) => self.open(now, body, actions),
            (SessionState::OpenConfirm, kind::KEEPALIVE) => {
                self.restart_hold(now);
                self.stats.established += 1;
                self.enter(SessionState::Established, actions);
            }
            (SessionState::Established, kind::KEEPALIVE) => self.restart_hold(now),
            (SessionState::Established, kind::UPDATE) => {
                self.restart_hold(now);
                self.update(now, body, actions);
            }
            (SessionState::Established, kind::ROUTE_REFRESH) => self.restart_hold(now),
            (_, kind::NOTIFICATION) => {
                let code = body.first().copied().unwrap_or(0);
                let subcode = body.get(1).copied().unwrap_or(0);
                let reason = format!(
                    "router sent NOTIFICATION: {}",
                    notification_text(code, subcode)
                );
                self.down(now, reason, actions);
            }
            (_, kind::OPEN | kind::KEEPALIVE | kind::UPDATE | kind::ROUTE_REFRESH) => {
                self.fail(now, 5, fsm_subcode(self.state), &[], actions);
            }
            (_, other) => self.fail(now, 1, 3, &[other], actions),
        }
    }

    fn open(&mut self, now: Timestamp, body: &[u8], actions: &mut Vec<Action>) {
        let Ok(open) = decode_open(body) else {
            self.fail(now, 2, 0, &[], actions);
            return;
        };
        if open.version != 4 {
            self.fail(now, 2, 1, &[0, 4], actions);
            return;
        }
        if open.asn != self.config.peer_as.0 {
            self.fail(now, 2, 2, &[], actions);
            return;
        }
        if open.hold_time == 1 || open.hold_time == 2 {
            self.fail(now, 2, 6, &[], actions);
            return;
        }
        if open.router_id.is_unspecified() || open.router_id == self.config.router_id {
            self.fail(now, 2, 3, &[], actions);
            return;
        }
        self.router_families = if open.families.is_empty() {
            vec![Family::IPV4_UNICAST]
        } else {
            open.families.clone()
        };
        // Our OPEN offers IPv4 and IPv6 unicast.
        self.families = [Family::IPV4_UNICAST, Family::IPV6_UNICAST]
            .into_iter()
            .filter(|f| self.router_families.contains(f))
            .collect();
        // Our OPEN offers 4-byte AS and no ADD-PATH.
        self.context = UpdateContext {
            asn4: open.asn4,
            add_path_v4: false,
            add_path_v6: false,
        };
        self.hold_time = open.hold_time.min(self.config.hold_time);
        if open.extended_message {
            // We did not offer it, so the router must not use it; accepting longer
            // messages anyway costs nothing.
            self.max_len = MAX_EXTENDED_LEN;
        }
        actions.push(Action::Send(encode_keepalive()));
        if self.hold_time == 0 {
            self.hold_deadline = None;
            self.keepalive_deadline = None;
        } else {
            self.restart_hold(now);
            self.keepalive_deadline = Some(now.add_secs(self.keepalive_interval()));
        }
        self.enter(SessionState::OpenConfirm, actions);
    }

    fn restart_hold(&mut self, now: Timestamp) {
        if self.hold_time > 0 {
            self.hold_deadline = Some(now.add_secs(i64::from(self.hold_time)));
        }
    }

    fn update(&mut self, now: Timestamp, body: &[u8], actions: &mut Vec<Action>) {
        self.stats.updates += 1;
        let filter = &self.config.filter;
        let update = match decode_update(body, &self.context, &|p| filter.wants(p)) {
            Ok(update) => update,
            Err(_) => {
                self.fail(now, 3, 1, &[], actions);
                return;
            }
        };
        if let Some(family) = update.end_of_rib {
            self.stats.end_of_ribs += 1;
            self.end_of_rib.insert(family);
        }
        self.stats.usable_announcements +=
            update.announced.len() as u64 + u64::from(update.filtered);
        for family in &update.skipped_families {
            *self.stats.skipped_families.entry(*family).or_default() += 1;
        }
        for nlri in update.withdrawn {
            if !filter.wants(&nlri.prefix) {
                continue;
            }
            if self
                .routes
                .remove(&(nlri.prefix, nlri.path_id.unwrap_or(0)))
                .is_some()
            {
                actions.push(Action::Input(BgpInput::Route(RouteUpdate {
                    at: now,
                    peer: self.key.clone(),
                    prefix: nlri.prefix,
                    path_id: nlri.path_id,
                    change: RouteChange::Withdraw,
                })));
            }
        }
        let path = update.as_path.unwrap_or_default();
        for nlri in update.announced {
            let slot = (nlri.prefix, nlri.path_id.unwrap_or(0));
            if self.routes.get(&slot) == Some(&path) {
                continue;
            }
            self.routes.insert(slot, path.clone());
            actions.push(Action::Input(BgpInput::Route(RouteUpdate {
                at: now,
                peer: self.key.clone(),
                prefix: nlri.prefix,
                path_id: nlri.path_id,
                change: RouteChange::Announce {
                    as_path: path.clone(),
                },
            })));
        }
    }

    /// Sends a NOTIFICATION and ends the session.
    fn fail(
        &mut self,
        now: Timestamp,
        code: u8,
        subcode: u8,
        data: &[u8],
        actions: &mut Vec<Action>,
    ) {
        actions.push(Action::Send(encode_notification(code, subcode, data)));
        let reason = format!("sent NOTIFICATION: {}", notification_text(code, subcode));
        self.down(now, reason, actions);
    }

    fn down(&mut self, now: Timestamp, reason: String, actions: &mut Vec<Action>) {
        let was_established = self.state == SessionState::Established;
        self.buf.clear();
        self.hold_deadline = None;
        self.keepalive_deadline = None;
        self.hold_time = 0;
        if was_established || !self.routes.is_empty() {
            self.routes.clear();
            actions.push(Action::Input(BgpInput::PeerDown {
                at: now,
                peer: self.key.clone(),
            }));
        }
        self.enter(SessionState::Idle, actions);
        actions.push(Action::Close { reason });
    }
}

/// RFC 6608 subcodes: an unexpected message in OpenSent, OpenConfirm, Established.
fn fsm_subcode(state: SessionState) -> u8 {
    match state {
        SessionState::OpenSent => 1,
        SessionState::OpenConfirm => 2,
        SessionState::Established => 3,
        SessionState::Idle => 0,
    }
}
