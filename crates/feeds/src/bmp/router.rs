//! One router's BMP session, sans-IO: decoded messages and the time in, route
//! inputs out.
//!
//! The session keeps, per monitored peer, what its Peer Up said (4-byte AS, ADD-PATH
//! per family, the router's own AS, the VRF name), whether it is up (and why not),
//! the router's counts of its routes (Statistics Reports), and the routes to the
//! watched prefixes of the one view of it that feeds the BGP state. From those it
//! turns Route Monitoring into [`BgpInput::Route`]s, Peer Down into a
//! [`BgpInput::PeerDown`], and the loss of the whole session into the same for every
//! peer; [`BmpRouter::report`] says all of it for the feed's health.
//!
//! # Views and peer keys
//! Each router the BGP state hears of is one observer, and one view feeds it:
//! - a monitored peer (global instance) is the peer router's view, seen
//!   through its Adj-RIB-In: pre-policy where the router sends it (what the peer
//!   says), else post-policy. Its key is `bmp:<router>` (pre-policy) or
//!   `bmp:<router>:post`, with the peer's address and AS. A peer fed post-policy
//!   switches to pre-policy (its post-policy routes flushed) when pre-policy
//!   announcements of it arrive; pre-policy that carries only withdrawals (FRR without
//!   `soft-reconfiguration inbound`) does not take it over;
//! - the router itself is seen through its Loc-RIB (RFC 9069, global instance): its
//!   best paths, with the key `bmp:<router>:loc-rib`, the router's address and its AS.
//!
//! So the two Adj-RIB-In views of one peer are never both counted. The profile's
//! `views` can leave any view out; by default all three may feed.
//!
//! Skipped and counted: RD-instance peers (peer type 1) and Loc-RIB instances of
//! VRFs (a non-zero peer distinguisher), both a VPN's table and not the Internet's;
//! local-instance peers (type 2), another routing instance's;
//! Adj-RIB-Out (RFC 8671); peer types this decoder does not know; families other
//! than IPv4/IPv6 unicast (per AFI/SAFI); views the profile leaves out. When the
//! router sends Route Monitoring but nothing usable, [`BmpRouter::why_no_routes`]
//! says why.
//!
//! What real routers send is taken as it comes:
//! - the router's own AS at the front of a path (some Loc-RIB and post-policy
//!   encoders add it) is removed before origin and upstream are read off the path;
//! - a path that contains the router's own AS further on (a loop, reported
//!   pre-policy, or accepted with allowas-in) is kept and counted: the peer has the
//!   route, and origin and upstream read right off it ([`AsPath::upstream`] skips
//!   prepending and loops);
//! - withdrawals of routes the peer does not have (duplicates) and the same path
//!   announced again are dropped;
//! - Route Monitoring for a peer without a Peer Up (a router that does not send
//!   them) is decoded with the A flag for the AS width, and ADD-PATH is tried only
//!   when the plain decoding fails.

use super::message::{
    BmpMessage, PeerDown, PeerHeader, PeerType, PeerUp, RouteMonitoring, Statistics,
};
use super::report::{
    BmpPeerDown, BmpPeerHealth, BmpRouterHealth, MAX_PEER_DOWNS_REPORTED, MAX_PEERS_REPORTED,
    PeerDownReason, Skipped, family_routes,
};
use crate::message::negotiate;
use crate::update::{Family, Nlri, Update, UpdateContext, decode_update};
use blackout_model::PrefixFilter;
use blackout_model::{
    AsPath, Asn, BgpInput, PathSegment, PeerKey, RouteChange, RouteUpdate, Timestamp,
};
pub use blackout_profile::BmpView;
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// Which views may feed the BGP state (the profile's `views`). Of a monitored
/// peer's two Adj-RIB-In views one feeds at a time, pre-policy preferred; see the
/// module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BmpViews {
    /// A peer's Adj-RIB-In before the router's policy: what the peer says.
    pub pre_policy: bool,
    /// A peer's Adj-RIB-In after policy, where there is no pre-policy.
    pub post_policy: bool,
    /// The router's Loc-RIB (RFC 9069): its best paths.
    pub loc_rib: bool,
}

impl Default for BmpViews {
    /// Whatever the router sends.
    fn default() -> Self {
        BmpViews {
            pre_policy: true,
            post_policy: true,
            loc_rib: true,
        }
    }
}

impl BmpViews {
    /// The views a profile lists.
    pub fn from_list(views: &[BmpView]) -> Self {
        BmpViews {
            pre_policy: views.contains(&BmpView::PrePolicy),
            post_policy: views.contains(&BmpView::PostPolicy),
            loc_rib: views.contains(&BmpView::LocRib),
        }
    }

    /// May this view feed the state?
    pub fn allows(&self, view: BmpView) -> bool {
        match view {
            BmpView::PrePolicy => self.pre_policy,
            BmpView::PostPolicy => self.post_policy,
            BmpView::LocRib => self.loc_rib,
        }
    }

    /// The views allowed, in order.
    pub fn list(&self) -> Vec<BmpView> {
        BmpView::ALL
            .into_iter()
            .filter(|v| self.allows(*v))
            .collect()
    }
}

/// How a station turns BMP into route inputs.
#[derive(Clone, Debug, Default)]
pub struct BmpOptions {
    /// The views that may feed the state.
    pub views: BmpViews,
    /// The prefixes passed on.
    pub filter: PrefixFilter,
}

/// Counters of one router session.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RouterStats {
    /// BMP messages handled.
    pub messages: u64,
    /// Route Monitoring messages.
    pub route_monitoring: u64,
    /// Unicast routes announced in the views that feed the state, before the prefix
    /// filter: what the feed could use.
    pub usable_announcements: u64,
    /// Announcements passed on.
    pub announcements: u64,
    /// Withdrawals passed on.
    pub withdrawals: u64,
    /// Withdrawals of routes the peer did not have.
    pub duplicate_withdrawals: u64,
    /// Paths with the router's own AS further in (loops), kept as they are.
    pub looped_paths: u64,
    /// Paths that began with the router's own AS, which was removed.
    pub own_as_removed: u64,
    /// MP_REACH/MP_UNREACH attributes of families other than IPv4/IPv6 unicast, per
    /// family, in the views that may feed the state.
    pub skipped_families: BTreeMap<Family, u64>,
    /// Route Monitoring of views the profile leaves out.
    pub skipped_not_configured: u64,
    /// Route Monitoring of a peer's post-policy view while its pre-policy view feeds.
    pub skipped_not_preferred: u64,
    /// Route Monitoring of RD-instance peers (VRFs).
    pub skipped_rd_instance: u64,
    /// Route Monitoring of local-instance peers (other routing instances).
    pub skipped_local_instance: u64,
    /// Route Monitoring of the Loc-RIB of VRFs.
    pub skipped_vrf_loc_rib: u64,
    /// Route Monitoring of Adj-RIB-Out (RFC 8671): what the router sends, not hears.
    pub skipped_adj_rib_out: u64,
    /// Route Monitoring of peer types this decoder does not know.
    pub skipped_other_peer_type: u64,
    /// Messages about peers beyond [`MAX_MONITORED_PEERS`].
    pub skipped_too_many_peers: u64,
    /// Peers whose feeding view changed from post-policy to pre-policy.
    pub view_switches: u64,
    /// Route Monitoring messages whose UPDATE did not decode.
    pub bad_updates: u64,
    /// BMP messages whose body did not decode.
    pub bad_messages: u64,
    /// End-of-RIB markers.
    pub end_of_ribs: u64,
    /// Peer Up messages.
    pub peer_ups: u64,
    /// Peer Down messages.
    pub peer_downs: u64,
    /// Statistics Reports.
    pub statistics: u64,
}

/// The most monitored peers one router session keeps (a route reflector has
/// hundreds); messages about more are skipped and counted.
pub const MAX_MONITORED_PEERS: usize = 4096;
/// The most sources (views, RDs, VRFs) tallied for [`BmpRouter::why_no_routes`].
const MAX_SOURCES: usize = 64;

/// A monitored BGP session, as the per-peer header identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct PeerId {
    peer_type: PeerType,
    distinguisher: u64,
    address: IpAddr,
}

/// Where Route Monitoring comes from, as far as feeding the state goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Source {
    View(BmpView),
    AdjRibOut,
    RdInstance(u64),
    LocalInstance(u64),
    VrfLocRib(u64),
    OtherPeerType(u8),
}

/// What one source sent.
#[derive(Clone, Debug, Default)]
struct Tally {
    messages: u64,
    /// Unicast routes announced, before the prefix filter.
    unicast: u64,
    /// Other families seen.
    families: BTreeSet<Family>,
}

/// The view of a peer that feeds the state, and its watched routes.
struct FedView {
    view: BmpView,
    key: PeerKey,
    routes: HashMap<(IpNet, u32), AsPath>,
}

/// The router's counts of a peer's routes (Statistics Reports).
#[derive(Clone, Copy, Debug, Default)]
struct TableCounts {
    total: Option<u64>,
    ipv4: Option<u64>,
    ipv6: Option<u64>,
}

struct MonitoredPeer {
    header: PeerHeader,
    /// From the Peer Up, when there was one.
    context: Option<UpdateContext>,
    /// The router's own AS on this session.
    local_as: Option<u32>,
    table_name: Option<String>,
    up: bool,
    since: Timestamp,
    down_reason: Option<PeerDownReason>,
    views_sent: BTreeSet<BmpView>,
    fed: Option<FedView>,
    table: TableCounts,
    /// The latest time given to anything this peer's messages reported.
    last_at: Timestamp,
}

impl MonitoredPeer {
    fn new(header: PeerHeader, since: Timestamp) -> Self {
        MonitoredPeer {
            header,
            context: None,
            local_as: None,
            table_name: None,
            up: true,
            since,
            down_reason: None,
            views_sent: BTreeSet::new(),
            fed: None,
            table: TableCounts::default(),
            last_at: Timestamp::EPOCH,
        }
    }

    /// Keeps the times of a peer's messages in the order the messages came, each its
    /// own: a time at or before the last one given becomes the next microsecond after
    /// it. A router's stamps of whole seconds would otherwise tie (or, capped by one
    /// arrival time for a burst of messages, collide), or go back when a finer stamp
    /// came first.
    fn in_order(&mut self, at: Timestamp) -> Timestamp {
        let at = if at <= self.last_at {
            Timestamp::from_micros(self.last_at.as_micros() + 1)
        } else {
            at
        };
        self.last_at = at;
        at
    }

    /// [`Self::in_order`] for a message's two times: its routes' and its withdrawals'
    /// (which is never earlier).
    fn both_in_order(
        &mut self,
        (at, withdrawn_at): (Timestamp, Timestamp),
    ) -> (Timestamp, Timestamp) {
        let at = self.in_order(at);
        let withdrawn_at = withdrawn_at.max(at);
        self.last_at = self.last_at.max(withdrawn_at);
        (at, withdrawn_at)
    }

    fn route_count(&self) -> u32 {
        self.fed.as_ref().map_or(0, |f| f.routes.len() as u32)
    }

    /// Takes its routes out of the state: a PeerDown for the view that fed, if it held
    /// any. Returns how many it held.
    fn flush(&mut self, at: Timestamp, out: &mut Vec<BgpInput>) -> u32 {
        let Some(fed) = self.fed.take() else {
            return 0;
        };
        let held = fed.routes.len() as u32;
        if held > 0 {
            out.push(BgpInput::PeerDown { at, peer: fed.key });
        }
        held
    }

    fn went_down(&mut self, at: Timestamp, reason: PeerDownReason, out: &mut Vec<BgpInput>) -> u32 {
        let held = self.flush(at, out);
        self.up = false;
        self.since = at;
        self.down_reason = Some(reason);
        held
    }
}

/// A router's BMP session.
pub struct BmpRouter {
    router: IpAddr,
    options: Arc<BmpOptions>,
    sys_name: Option<String>,
    sys_descr: Option<String>,
    /// A Termination came, with its reason code if it had one.
    terminated: Option<Option<u16>>,
    peers: HashMap<PeerId, MonitoredPeer>,
    collectors: HashMap<BmpView, Arc<str>>,
    sources: BTreeMap<Source, Tally>,
    peer_downs: VecDeque<BmpPeerDown>,
    /// Counts Peer Ups, Peer Downs and Initiations: what a report would show anew.
    peer_events: u64,
    stats: RouterStats,
    /// Does `now` come from the clock as the messages arrive?
    live: bool,
    /// Has this router sent a stamp with microseconds? Until it does, its stamps are
    /// taken to be of whole seconds.
    fine_stamps: bool,
}

/// How much older than its arrival a live withdrawal's timestamp may be and still
/// be its own: routers export within a second, on another machine's clock a few.
pub const LIVE_WITHDRAWAL_SKEW_SECS: f64 = 5.0;

/// Microseconds in a second: the resolution of a router's whole-second stamps.
const WHOLE_SECOND_MICROS: i64 = 1_000_000;

impl BmpRouter {
    /// A session with the router at `router`, replayed: the routers' timestamps
    /// are the only times there are.
    pub fn new(router: IpAddr, options: Arc<BmpOptions>) -> Self {
        BmpRouter {
            router,
            options,
            sys_name: None,
            sys_descr: None,
            terminated: None,
            peers: HashMap::new(),
            collectors: HashMap::new(),
            sources: BTreeMap::new(),
            peer_downs: VecDeque::new(),
            peer_events: 0,
            stats: RouterStats::default(),
            live: false,
            fine_stamps: false,
        }
    }

    /// A session with the router at `router` as its messages arrive, `now` being
    /// the arrival time. A router's per-peer timestamp is when the routes were
    /// received; some routers (FRR) stamp a withdrawal with when the withdrawn
    /// route was, which can be long before. A live withdrawal stamped more than
    /// [`LIVE_WITHDRAWAL_SKEW_SECS`] before its arrival takes the arrival time, and
    /// no stamp is taken to lie after its arrival (but for the microseconds that keep
    /// one peer's messages of one burst in order).
    pub fn live(router: IpAddr, options: Arc<BmpOptions>) -> Self {
        BmpRouter {
            live: true,
            ..BmpRouter::new(router, options)
        }
    }

    /// The router's address.
    pub fn router(&self) -> IpAddr {
        self.router
    }

    /// The sysName from the Initiation message.
    pub fn sys_name(&self) -> Option<&str> {
        self.sys_name.as_deref()
    }

    /// The sysDescr from the Initiation message.
    pub fn sys_descr(&self) -> Option<&str> {
        self.sys_descr.as_deref()
    }

    /// Did the router send a Termination?
    pub fn terminated(&self) -> bool {
        self.terminated.is_some()
    }

    /// Why the router ended the session, if it sent a Termination (RFC 7854 §4.5).
    pub fn termination_text(&self) -> Option<String> {
        Some(match self.terminated? {
            None => "no reason given".to_string(),
            Some(0) => "administratively closed".to_string(),
            Some(1) => "unspecified reason".to_string(),
            Some(2) => "out of resources".to_string(),
            Some(3) => "redundant connection".to_string(),
            Some(4) => "permanently administratively closed".to_string(),
            Some(code) => format!("reason {code}"),
        })
    }

    /// The counters so far.
    pub fn stats(&self) -> &RouterStats {
        &self.stats
    }

    /// Grows with every Peer Up, Peer Down and Initiation: a report taken before
    /// is out of date when it changed.
    pub fn peer_events(&self) -> u64 {
        self.peer_events
    }

    /// Monitored peers known (by Peer Up, Peer Down or their routes), up or down.
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Peers whose routes feed the BGP state now: the keys the state hears of.
    pub fn fed_peer_count(&self) -> usize {
        self.peers.values().filter(|p| p.fed.is_some()).count()
    }

    /// Routes held now, over all peers.
    pub fn route_count(&self) -> usize {
        self.peers.values().map(|p| p.route_count() as usize).sum()
    }

    /// Every held route: (peer, prefix, path id, path), sorted. For tests.
    pub fn routes(&self) -> Vec<(PeerKey, IpNet, u32, AsPath)> {
        let mut out: Vec<_> = self
            .peers
            .values()
            .filter_map(|p| p.fed.as_ref())
            .flat_map(|f| {
                f.routes
                    .iter()
                    .map(|((prefix, id), path)| (f.key.clone(), *prefix, *id, path.clone()))
            })
            .collect();
        out.sort_by(|a, b| (&a.0, a.1, a.2).cmp(&(&b.0, b.1, b.2)));
        out
    }

    /// Decodes one framed message and handles it. A message that does not decode is
    /// counted and skipped: its framing held, so the stream goes on.
    pub fn handle_bytes(&mut self, now: Timestamp, message: &[u8], out: &mut Vec<BgpInput>) {
        match super::message::decode(message) {
            Ok(message) => self.handle(now, &message, out),
            Err(error) => {
                self.stats.messages += 1;
                self.stats.bad_messages += 1;
                tracing::debug!(router = %self.router, %error, "BMP message skipped");
            }
        }
    }

    /// Handles one decoded message; `now` is when it was received.
    pub fn handle(&mut self, now: Timestamp, message: &BmpMessage<'_>, out: &mut Vec<BgpInput>) {
        self.stats.messages += 1;
        match message {
            BmpMessage::RouteMonitoring(rm) => self.route_monitoring(now, rm, out),
            BmpMessage::PeerUp(up) => self.peer_up(now, up, out),
            BmpMessage::PeerDown(down) => self.peer_down(now, down, out),
            BmpMessage::Statistics(report) => self.statistics(report),
            BmpMessage::Initiation {
                sys_name,
                sys_descr,
            } => {
                self.peer_events += 1;
                if sys_name.is_some() {
                    self.sys_name.clone_from(sys_name);
                }
                if sys_descr.is_some() {
                    self.sys_descr.clone_from(sys_descr);
                }
            }
            BmpMessage::Termination { reason } => {
                self.terminated = Some(*reason);
            }
            BmpMessage::RouteMirroring(_) | BmpMessage::Unknown(_) => {}
        }
    }

    /// The session is gone (closed, reset, timed out, or the router sent garbage):
    /// every monitored peer's routes are gone with it, and each peer is down.
    pub fn session_lost(&mut self, now: Timestamp, out: &mut Vec<BgpInput>) {
        let mut ids: Vec<PeerId> = self.peers.keys().copied().collect();
        ids.sort();
        for id in ids {
            if let Some(peer) = self.peers.get_mut(&id)
                && (peer.up || peer.fed.is_some())
            {
                let reason = PeerDownReason {
                    code: None,
                    text: "the BMP session with the router ended".into(),
                };
                peer.went_down(now, reason, out);
            }
        }
    }

    /// Why Route Monitoring came but no route of it can feed the state, in words;
    /// `None` when some can, or when none came.
    pub fn why_no_routes(&self) -> Option<String> {
        if self.stats.route_monitoring == 0 || self.stats.usable_announcements > 0 {
            return None;
        }
        let views = self.options.views;
        let sent: Vec<BmpView> = self
            .sources
            .keys()
            .filter_map(|s| match s {
                Source::View(v) => Some(*v),
                _ => None,
            })
            .collect();
        let mut parts = Vec::new();
        let unconfigured: Vec<BmpView> =
            sent.iter().copied().filter(|v| !views.allows(*v)).collect();
        if !unconfigured.is_empty() {
            parts.push(format!(
                "views configured: {}; the router sends: {}",
                join(&views.list()),
                join(&sent)
            ));
        }
        for (source, tally) in &self.sources {
            match source {
                Source::View(view) if views.allows(*view) => {
                    let what = if tally.families.is_empty() {
                        "withdrawals and End-of-RIB markers".to_string()
                    } else {
                        let mut kinds: Vec<&str> = Vec::new();
                        for family in &tally.families {
                            if !kinds.contains(&family.kind_text()) {
                                kinds.push(family.kind_text());
                            }
                        }
                        let families: Vec<String> =
                            tally.families.iter().map(|f| f.to_string()).collect();
                        format!("{} routes ({})", kinds.join(" and "), families.join(", "))
                    };
                    parts.push(format!("its {view} view carries only {what}"));
                }
                Source::View(_) => {}
                Source::AdjRibOut => parts.push("it sends Adj-RIB-Out (skipped)".into()),
                Source::RdInstance(rd) => {
                    parts.push(format!("it sends RD-instance peers of RD {}", rd_text(*rd)));
                }
                Source::LocalInstance(rd) => {
                    parts.push(format!(
                        "it sends local-instance peers of instance {}",
                        rd_text(*rd)
                    ));
                }
                Source::VrfLocRib(rd) => {
                    let name = self
                        .peers
                        .iter()
                        .find(|(id, _)| id.peer_type == PeerType::LocRib && id.distinguisher == *rd)
                        .and_then(|(_, p)| p.table_name.clone());
                    parts.push(match name {
                        Some(name) => {
                            format!("it sends the Loc-RIB of VRF {name} (RD {})", rd_text(*rd))
                        }
                        None => format!("it sends the Loc-RIB of the VRF of RD {}", rd_text(*rd)),
                    });
                }
                Source::OtherPeerType(kind) => {
                    parts.push(format!("it sends peers of unknown type {kind}"));
                }
            }
        }
        Some(format!(
            "{} Route Monitoring messages but no IPv4/IPv6 unicast route blackout can use: {}",
            self.stats.route_monitoring,
            parts.join("; ")
        ))
    }

    /// The router and its peers as the feed's health shows them.
    pub fn report(&self) -> BmpRouterHealth {
        let views = self.options.views;
        let views_sent: Vec<BmpView> = self
            .sources
            .keys()
            .filter_map(|s| match s {
                Source::View(v) => Some(*v),
                _ => None,
            })
            .collect();
        let used: BTreeSet<BmpView> = self
            .peers
            .values()
            .filter_map(|p| p.fed.as_ref().map(|f| f.view))
            .collect();
        let mut peers: Vec<(&PeerId, &MonitoredPeer)> = self.peers.iter().collect();
        peers.sort_by(|(a_id, a), (b_id, b)| {
            (b.route_count(), b.up, a_id).cmp(&(a.route_count(), a.up, b_id))
        });
        let peers_total = peers.len() as u32;
        let peers_up = peers.iter().filter(|(_, p)| p.up).count() as u32;
        let peers = peers
            .into_iter()
            .take(MAX_PEERS_REPORTED)
            .map(|(id, peer)| self.peer_health(id, peer))
            .collect();
        BmpRouterHealth {
            sys_name: self.sys_name.clone(),
            sys_descr: self.sys_descr.clone(),
            views_configured: views.list(),
            views_sent,
            views_used: used.into_iter().collect(),
            skipped: self.skipped(),
            peers,
            peers_total,
            peers_up,
            peer_downs: self.peer_downs.iter().cloned().collect(),
        }
    }

    fn peer_health(&self, id: &PeerId, peer: &MonitoredPeer) -> BmpPeerHealth {
        let (mut routes_ipv4, mut routes_ipv6) = (0, 0);
        if let Some(fed) = &peer.fed {
            for (prefix, _) in fed.routes.keys() {
                match prefix {
                    IpNet::V4(_) => routes_ipv4 += 1,
                    IpNet::V6(_) => routes_ipv6 += 1,
                }
            }
        }
        let loc_rib = id.peer_type == PeerType::LocRib;
        BmpPeerHealth {
            address: if loc_rib { self.router } else { id.address },
            asn: peer.header.asn,
            bgp_id: Ipv4Addr::from(peer.header.bgp_id),
            peer_type: match id.peer_type {
                PeerType::Global => "global".into(),
                PeerType::RdInstance => "rd-instance".into(),
                PeerType::LocalInstance => "local-instance".into(),
                PeerType::LocRib => "loc-rib".into(),
                PeerType::Other(kind) => format!("type {kind}"),
            },
            distinguisher: (id.distinguisher != 0).then(|| rd_text(id.distinguisher)),
            table_name: peer.table_name.clone(),
            filtered: peer.header.loc_rib_filtered(),
            up: peer.up,
            since: peer.since,
            down_reason: peer.down_reason.clone(),
            views_sent: peer.views_sent.iter().copied().collect(),
            view: peer.fed.as_ref().map(|f| f.view),
            key: peer.fed.as_ref().map(|f| f.key.clone()),
            routes: routes_ipv4 + routes_ipv6,
            routes_ipv4,
            routes_ipv6,
            table_routes: peer.table.total,
            table_ipv4: peer.table.ipv4,
            table_ipv6: peer.table.ipv6,
        }
    }

    /// What was skipped, and why.
    fn skipped(&self) -> Vec<Skipped> {
        let s = &self.stats;
        let mut out = Vec::new();
        let mut push = |what: String, why: &str, messages: u64| {
            if messages > 0 {
                out.push(Skipped {
                    what,
                    why: why.to_string(),
                    messages,
                });
            }
        };
        for (family, count) in &s.skipped_families {
            push(
                family_routes(*family),
                "blackout follows IPv4 and IPv6 unicast only",
                *count,
            );
        }
        let rds: Vec<String> = self
            .sources
            .keys()
            .filter_map(|s| match s {
                Source::RdInstance(rd) => Some(rd_text(*rd)),
                _ => None,
            })
            .collect();
        push(
            format!("RD-instance peers (RD {})", rds.join(", ")),
            "a VRF's peers carry a VPN's routes, not the Internet's",
            s.skipped_rd_instance,
        );
        let vrfs: Vec<String> = self
            .peers
            .iter()
            .filter(|(id, _)| id.peer_type == PeerType::LocRib && id.distinguisher != 0)
            .map(|(id, p)| match &p.table_name {
                Some(name) => format!("{name} (RD {})", rd_text(id.distinguisher)),
                None => format!("RD {}", rd_text(id.distinguisher)),
            })
            .collect();
        push(
            format!("the Loc-RIB of VRFs {}", vrfs.join(", ")),
            "a VRF's table is a VPN's, not the Internet's",
            s.skipped_vrf_loc_rib,
        );
        push(
            "local-instance peers".into(),
            "another routing instance's peers, not the global table's",
            s.skipped_local_instance,
        );
        push(
            "Adj-RIB-Out".into(),
            "what the router sends is not what it hears",
            s.skipped_adj_rib_out,
        );
        push(
            "views the profile leaves out".into(),
            "not in the feed's views",
            s.skipped_not_configured,
        );
        push(
            "post-policy views of peers whose pre-policy view feeds".into(),
            "one view per peer, or its routes would count twice",
            s.skipped_not_preferred,
        );
        push(
            "peers of unknown types".into(),
            "RFC 7854 and RFC 9069 define types 0 to 3",
            s.skipped_other_peer_type,
        );
        push(
            format!("peers beyond the first {MAX_MONITORED_PEERS}"),
            "a router session keeps at most that many",
            s.skipped_too_many_peers,
        );
        out
    }

    fn peer_up(&mut self, now: Timestamp, up: &PeerUp, out: &mut Vec<BgpInput>) {
        self.stats.peer_ups += 1;
        self.peer_events += 1;
        let (at, _) = self.times(now, up.peer.at);
        let Some(peer) = self.peer_entry(&up.peer, at) else {
            return;
        };
        let at = peer.in_order(at);
        // A Peer Up for a peer that is up means the session restarted unseen.
        peer.flush(at, out);
        peer.header = up.peer;
        // The router receives what the peer sends.
        peer.context = Some(negotiate(&up.received_open, &up.sent_open));
        peer.local_as = Some(up.sent_open.asn);
        peer.table_name.clone_from(&up.table_name);
        peer.up = true;
        peer.since = at;
        peer.down_reason = None;
        peer.views_sent.clear();
        peer.table = TableCounts::default();
    }

    fn peer_down(&mut self, now: Timestamp, down: &PeerDown, out: &mut Vec<BgpInput>) {
        self.stats.peer_downs += 1;
        self.peer_events += 1;
        // A Peer Down withdraws the peer's routes: its time is a withdrawal's.
        let (_, at) = self.times(now, down.peer.at);
        let Some(peer) = self.peer_entry(&down.peer, at) else {
            return;
        };
        let at = peer.in_order(at);
        let reason = PeerDownReason {
            code: Some(down.reason),
            text: down.reason_text(),
        };
        let key = peer.fed.as_ref().map(|f| f.key.clone());
        let held = peer.went_down(at, reason.clone(), out);
        if let Some(key) = key
            && held > 0
        {
            if self.peer_downs.len() == MAX_PEER_DOWNS_REPORTED {
                self.peer_downs.pop_front();
            }
            self.peer_downs.push_back(BmpPeerDown {
                peer: key,
                at,
                reason,
                routes: held,
            });
        }
    }

    fn statistics(&mut self, report: &Statistics) {
        self.stats.statistics += 1;
        let Some(peer) = self.peers.get_mut(&peer_id(&report.peer)) else {
            return;
        };
        // A Loc-RIB instance counts its Loc-RIB (types 8 and 10), a peer its
        // Adj-RIB-In (types 7 and 9).
        let (total, per_family) = if report.peer.peer_type == PeerType::LocRib {
            (8, 10)
        } else {
            (7, 9)
        };
        for counter in &report.counters {
            match (counter.kind, counter.family) {
                (kind, None) if kind == total => peer.table.total = Some(counter.value),
                (kind, Some(Family::IPV4_UNICAST)) if kind == per_family => {
                    peer.table.ipv4 = Some(counter.value);
                }
                (kind, Some(Family::IPV6_UNICAST)) if kind == per_family => {
                    peer.table.ipv6 = Some(counter.value);
                }
                _ => {}
            }
        }
    }

    /// The peer a header names, made if new (up since `at`); `None` (counted) when
    /// the session already keeps [`MAX_MONITORED_PEERS`].
    fn peer_entry(&mut self, header: &PeerHeader, at: Timestamp) -> Option<&mut MonitoredPeer> {
        let id = peer_id(header);
        if !self.peers.contains_key(&id) && self.peers.len() >= MAX_MONITORED_PEERS {
            self.stats.skipped_too_many_peers += 1;
            return None;
        }
        Some(
            self.peers
                .entry(id)
                .or_insert_with(|| MonitoredPeer::new(*header, at)),
        )
    }

    fn tally(&mut self, source: Source) -> Option<&mut Tally> {
        if !self.sources.contains_key(&source) && self.sources.len() >= MAX_SOURCES {
            return None;
        }
        Some(self.sources.entry(source).or_default())
    }

    /// Where a Route Monitoring message comes from; a view only for what may feed.
    fn source(&mut self, header: &PeerHeader) -> Source {
        if header.adj_rib_out() {
            self.stats.skipped_adj_rib_out += 1;
            return Source::AdjRibOut;
        }
        match header.peer_type {
            PeerType::LocRib if header.distinguisher != 0 => {
                self.stats.skipped_vrf_loc_rib += 1;
                Source::VrfLocRib(header.distinguisher)
            }
            PeerType::LocRib => Source::View(BmpView::LocRib),
            PeerType::RdInstance => {
                self.stats.skipped_rd_instance += 1;
                Source::RdInstance(header.distinguisher)
            }
            PeerType::LocalInstance => {
                self.stats.skipped_local_instance += 1;
                Source::LocalInstance(header.distinguisher)
            }
            PeerType::Global if header.post_policy() => Source::View(BmpView::PostPolicy),
            PeerType::Global => Source::View(BmpView::PrePolicy),
            PeerType::Other(kind) => {
                self.stats.skipped_other_peer_type += 1;
                Source::OtherPeerType(kind)
            }
        }
    }

    fn collector(&mut self, view: BmpView) -> Arc<str> {
        let router = self.router;
        Arc::clone(self.collectors.entry(view).or_insert_with(|| {
            let name = match view {
                BmpView::PrePolicy => format!("bmp:{router}"),
                BmpView::PostPolicy => format!("bmp:{router}:post"),
                BmpView::LocRib => format!("bmp:{router}:loc-rib"),
            };
            Arc::from(name.as_str())
        }))
    }

    /// A router's stamp as the latest moment it may mean. Some routers send whole
    /// seconds (0 microseconds): such a stamp says only that the thing happened within
    /// that second, so it is read as the second's last microsecond (and, live, no later
    /// than the arrival). Read as its first, it would place a withdrawal, and the event
    /// it opens, up to a second before the fault that caused it. One stamp with
    /// microseconds shows that the router's stamps are finer, and from then on they
    /// are taken as they are.
    fn resolved(&mut self, stamp: Timestamp) -> Timestamp {
        if stamp.as_micros().rem_euclid(1_000_000) != 0 {
            self.fine_stamps = true;
        }
        if self.fine_stamps {
            stamp
        } else {
            Timestamp::from_micros(stamp.as_micros() + (WHOLE_SECOND_MICROS - 1))
        }
    }

    /// When the routes of a message count from, and when its withdrawals do.
    fn times(&mut self, now: Timestamp, stamp: Option<Timestamp>) -> (Timestamp, Timestamp) {
        let stamp = stamp.map(|stamp| self.resolved(stamp));
        match (stamp, self.live) {
            (None, _) => (now, now),
            (Some(stamp), false) => (stamp, stamp),
            (Some(stamp), true) => {
                let stamp = stamp.min(now);
                let withdrawn_at = if now.secs_since(stamp) > LIVE_WITHDRAWAL_SKEW_SECS {
                    now
                } else {
                    stamp
                };
                (stamp, withdrawn_at)
            }
        }
    }

    fn decode(&mut self, rm: &RouteMonitoring<'_>, known: Option<UpdateContext>) -> Option<Update> {
        let mut context = known.unwrap_or_default();
        context.asn4 = rm.peer.peer_type == PeerType::LocRib || !rm.peer.legacy_as_path();
        let filter = &self.options.filter;
        let want = |prefix: &IpNet| filter.wants(prefix);
        let decoded = match decode_update(rm.update, &context, &want) {
            Err(_) if known.is_none() => {
                // No Peer Up to say whether ADD-PATH is on: try it.
                let with_ids = UpdateContext {
                    add_path_v4: true,
                    add_path_v6: true,
                    ..context
                };
                decode_update(rm.update, &with_ids, &want)
            }
            other => other,
        };
        match decoded {
            Ok(update) => Some(update),
            Err(error) => {
                self.stats.bad_updates += 1;
                tracing::debug!(router = %self.router, peer = %rm.peer.address, %error, "UPDATE skipped");
                None
            }
        }
    }

    fn route_monitoring(
        &mut self,
        now: Timestamp,
        rm: &RouteMonitoring<'_>,
        out: &mut Vec<BgpInput>,
    ) {
        self.stats.route_monitoring += 1;
        let source = self.source(&rm.peer);
        if let Some(tally) = self.tally(source) {
            tally.messages += 1;
        }
        let Source::View(view) = source else {
            return;
        };
        let times = self.times(now, rm.peer.at);
        let Some(peer) = self.peer_entry(&rm.peer, times.0) else {
            return;
        };
        let (at, withdrawn_at) = peer.both_in_order(times);
        // Routes of a peer without a Peer Up (or after its Peer Down) mean it is up.
        if !peer.up {
            peer.up = true;
            peer.since = at;
            peer.down_reason = None;
        }
        peer.views_sent.insert(view);
        let feeding = peer.fed.as_ref().map(|f| f.view);
        let known = peer.context;
        if !self.options.views.allows(view) {
            self.stats.skipped_not_configured += 1;
            return;
        }
        if view == BmpView::PostPolicy && feeding == Some(BmpView::PrePolicy) {
            self.stats.skipped_not_preferred += 1;
            return;
        }
        let Some(update) = self.decode(rm, known) else {
            return;
        };
        let usable = (update.announced.len() as u64) + u64::from(update.filtered);
        for family in &update.skipped_families {
            *self.stats.skipped_families.entry(*family).or_default() += 1;
        }
        if let Some(tally) = self.tally(source) {
            tally.unicast += usable;
            tally
                .families
                .extend(update.skipped_families.iter().copied());
        }
        if update.end_of_rib.is_some() {
            self.stats.end_of_ribs += 1;
        }
        let switch = match feeding {
            Some(current) if current == view => false,
            // Withdrawals alone give a view nothing to hold, nor a reason to take over.
            _ if usable == 0 => return,
            None => false,
            // Pre-policy over post-policy: the other way round returned above.
            Some(_) => true,
        };
        let collector = self.collector(view);
        let Some(peer) = self.peers.get_mut(&peer_id(&rm.peer)) else {
            return;
        };
        // Pre-policy takes over from post-policy: the peer's own routes, once. The
        // post-policy view leaves after the pre-policy one has come, so that the
        // peer's routes are never missing in between.
        let replaced = if switch {
            self.stats.view_switches += 1;
            peer.fed.take()
        } else {
            None
        };
        self.stats.usable_announcements += usable;
        let key_ip = if view == BmpView::LocRib {
            self.router
        } else {
            rm.peer.address
        };
        let local_as = match rm.peer.peer_type {
            PeerType::LocRib => Some(rm.peer.asn),
            _ => peer.local_as,
        };
        let fed = peer.fed.get_or_insert_with(|| FedView {
            view,
            key: PeerKey {
                collector,
                ip: key_ip,
                asn: Asn(rm.peer.asn),
            },
            routes: HashMap::new(),
        });
        apply(
            fed,
            &update,
            local_as,
            (at, withdrawn_at),
            &self.options.filter,
            &mut self.stats,
            out,
        );
        if let Some(old) = replaced
            && !old.routes.is_empty()
        {
            out.push(BgpInput::PeerDown { at, peer: old.key });
        }
    }
}

/// Applies a decoded UPDATE to a view's routes, passing on what changed.
fn apply(
    fed: &mut FedView,
    update: &Update,
    local_as: Option<u32>,
    (at, withdrawn_at): (Timestamp, Timestamp),
    filter: &PrefixFilter,
    stats: &mut RouterStats,
    out: &mut Vec<BgpInput>,
) {
    for nlri in &update.withdrawn {
        withdraw(fed, nlri, withdrawn_at, filter, stats, out);
    }
    if update.announced.is_empty() {
        return;
    }
    let path = update.as_path.clone().unwrap_or_default();
    let path = match clean_path(path, local_as) {
        PathCheck::Clean(path, removed) => {
            if removed {
                stats.own_as_removed += 1;
            }
            path
        }
        PathCheck::Looped(path) => {
            // Reported pre-policy (or accepted with allowas-in): the peer does have
            // the route, and origin and upstream still read right off the path.
            stats.looped_paths += 1;
            path
        }
    };
    for nlri in &update.announced {
        let slot = (nlri.prefix, nlri.path_id.unwrap_or(0));
        if fed.routes.get(&slot) == Some(&path) {
            continue;
        }
        fed.routes.insert(slot, path.clone());
        stats.announcements += 1;
        out.push(BgpInput::Route(RouteUpdate {
            at,
            peer: fed.key.clone(),
            prefix: nlri.prefix,
            path_id: nlri.path_id,
            change: RouteChange::Announce {
                as_path: path.clone(),
            },
        }));
    }
}

fn withdraw(
    fed: &mut FedView,
    nlri: &Nlri,
    at: Timestamp,
    filter: &PrefixFilter,
    stats: &mut RouterStats,
    out: &mut Vec<BgpInput>,
) {
    if !filter.wants(&nlri.prefix) {
        return;
    }
    if fed
        .routes
        .remove(&(nlri.prefix, nlri.path_id.unwrap_or(0)))
        .is_none()
    {
        stats.duplicate_withdrawals += 1;
        return;
    }
    stats.withdrawals += 1;
    out.push(BgpInput::Route(RouteUpdate {
        at,
        peer: fed.key.clone(),
        prefix: nlri.prefix,
        path_id: nlri.path_id,
        change: RouteChange::Withdraw,
    }));
}

/// The monitored session a header names. A global peer's distinguisher is zero
/// (RFC 7854 §4.2) and a Loc-RIB instance's address is zero-filled (RFC 9069 §4.1):
/// whatever a router puts there, they name the same session, so that two sessions
/// never share one route key.
fn peer_id(header: &PeerHeader) -> PeerId {
    match header.peer_type {
        PeerType::Global => PeerId {
            peer_type: PeerType::Global,
            distinguisher: 0,
            address: header.address,
        },
        PeerType::LocRib => PeerId {
            peer_type: PeerType::LocRib,
            distinguisher: header.distinguisher,
            address: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        },
        peer_type => PeerId {
            peer_type,
            distinguisher: header.distinguisher,
            address: header.address,
        },
    }
}

fn join(views: &[BmpView]) -> String {
    if views.is_empty() {
        return "none".into();
    }
    views
        .iter()
        .map(|v| v.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// A route distinguisher in the usual text form (RFC 4364 §4.2).
fn rd_text(rd: u64) -> String {
    let b = rd.to_be_bytes();
    match u16::from_be_bytes([b[0], b[1]]) {
        0 => format!(
            "{}:{}",
            u16::from_be_bytes([b[2], b[3]]),
            u32::from_be_bytes([b[4], b[5], b[6], b[7]])
        ),
        1 => format!(
            "{}.{}.{}.{}:{}",
            b[2],
            b[3],
            b[4],
            b[5],
            u16::from_be_bytes([b[6], b[7]])
        ),
        2 => format!(
            "{}:{}",
            u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
            u16::from_be_bytes([b[6], b[7]])
        ),
        _ => format!("{rd:#018x}"),
    }
}

enum PathCheck {
    /// The path to use, and whether the router's own AS was removed from its front.
    Clean(AsPath, bool),
    /// The router's own AS is inside the path (after removing it from the front).
    Looped(AsPath),
}

/// Removes the router's own AS from the front of the path; a path that still
/// contains it is a loop.
fn clean_path(path: AsPath, local_as: Option<u32>) -> PathCheck {
    let Some(local) = local_as.map(Asn) else {
        return PathCheck::Clean(path, false);
    };
    if !path.contains(local) {
        return PathCheck::Clean(path, false);
    }
    let mut segments = path.segments().to_vec();
    let mut removed = false;
    if let Some(PathSegment::Sequence(first)) = segments.first_mut() {
        let lead = first.iter().take_while(|asn| **asn == local).count();
        if lead > 0 {
            first.drain(..lead);
            removed = true;
        }
    }
    let cleaned = AsPath::from_segments(segments);
    if cleaned.contains(local) {
        PathCheck::Looped(cleaned)
    } else {
        PathCheck::Clean(cleaned, removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_as_at_front_is_removed_and_loops_found() {
        let PathCheck::Clean(path, true) = clean_path(
            AsPath::from_sequence([65000, 65000, 64496, 64497]),
            Some(65000),
        ) else {
            panic!("not cleaned");
        };
        assert_eq!(path.to_string(), "64496 64497");
        assert_eq!(path.upstream(), Some(Asn(64496)));
        assert!(matches!(
            clean_path(AsPath::from_sequence([64496, 65000, 64497]), Some(65000)),
            PathCheck::Looped(_)
        ));
        assert!(matches!(
            clean_path(AsPath::from_sequence([64496, 64497]), Some(65000)),
            PathCheck::Clean(_, false)
        ));
    }

    #[test]
    fn route_distinguishers() {
        assert_eq!(rd_text(0x0000_fbf3_0000_005e), "64499:94");
        assert_eq!(rd_text(0x0002_0001_0007_0069), "65543:105");
    }

    /// A BMP Route Monitoring message from peer 192.0.2.4 (AS64499), stamped
    /// `stamp`, carrying an UPDATE that announces 203.0.113.0/24 with the path
    /// 64499 or, if not `announce`, withdraws it.
    fn route_monitoring_message(stamp: u32, announce: bool) -> Vec<u8> {
        view_message(0, 0, stamp, announce)
    }

    /// The same from a peer of `peer_type` with `flags` (0x40: post-policy).
    fn view_message(peer_type: u8, flags: u8, stamp: u32, announce: bool) -> Vec<u8> {
        let mut update = vec![0xff; 16];
        update.extend([0, 0, 2]);
        if announce {
            update.extend([0, 0]);
            let attrs: Vec<u8> = [
                vec![0x40, 1, 1, 0],
                vec![0x40, 2, 6, 2, 1, 0, 0, 0xfb, 0xf3],
                vec![0x40, 3, 4, 192, 0, 2, 4],
            ]
            .concat();
            update.extend((attrs.len() as u16).to_be_bytes());
            update.extend(attrs);
            update.extend([24, 203, 0, 113]);
        } else {
            update.extend([0, 4, 24, 203, 0, 113, 0, 0]);
        }
        let length = update.len() as u16;
        update[16..18].copy_from_slice(&length.to_be_bytes());
        let mut peer = vec![peer_type, flags];
        peer.extend([0; 8]);
        peer.extend([0; 12]);
        peer.extend([192, 0, 2, 4]);
        peer.extend(64499u32.to_be_bytes());
        peer.extend([192, 0, 2, 4]);
        peer.extend(stamp.to_be_bytes());
        peer.extend(0u32.to_be_bytes());
        let mut message = vec![3];
        message.extend(((6 + peer.len() + update.len()) as u32).to_be_bytes());
        message.push(0);
        message.extend(peer);
        message.extend(update);
        message
    }

    /// The times of the routes a session reports: the announcement stamped and
    /// arriving at T, the withdrawal stamped T (when the route came, as FRR
    /// does) and arriving an hour later.
    fn times(router: &mut BmpRouter) -> Vec<(bool, i64)> {
        const T: u32 = 1_700_000_000;
        let arrival = |secs: u32| Timestamp::from_secs(i64::from(secs));
        let mut out = Vec::new();
        router.handle_bytes(arrival(T), &route_monitoring_message(T, true), &mut out);
        router.handle_bytes(
            arrival(T + 3600),
            &route_monitoring_message(T, false),
            &mut out,
        );
        out.iter()
            .filter_map(|input| match input {
                BgpInput::Route(update) => Some((
                    matches!(update.change, RouteChange::Withdraw),
                    update.at.as_secs() - i64::from(T),
                )),
                _ => None,
            })
            .collect()
    }

    fn options() -> Arc<BmpOptions> {
        Arc::new(BmpOptions {
            views: BmpViews {
                pre_policy: true,
                post_policy: true,
                loc_rib: true,
            },
            filter: PrefixFilter::everything(),
        })
    }

    #[test]
    fn a_live_withdrawal_stamped_with_its_routes_arrival_takes_its_own() {
        let router: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            times(&mut BmpRouter::live(router, options())),
            vec![(false, 0), (true, 3600)]
        );
        // Replayed, the router's stamps are all there is: whole seconds, each the
        // end of its second, the withdrawal a microsecond after the announcement it
        // followed (into the next second).
        assert_eq!(
            times(&mut BmpRouter::new(router, options())),
            vec![(false, 0), (true, 1)]
        );
    }

    #[test]
    fn a_live_stamp_after_its_arrival_is_the_arrival() {
        let mut router = BmpRouter::live("198.51.100.1".parse().unwrap(), options());
        let mut out = Vec::new();
        let arrived = Timestamp::from_secs(1_700_000_000);
        router.handle_bytes(
            arrived,
            &route_monitoring_message(1_700_000_060, true),
            &mut out,
        );
        let [BgpInput::Route(update)] = out.as_slice() else {
            panic!("one route: {out:?}");
        };
        assert_eq!(update.at, arrived);
    }

    /// [`route_monitoring_message`] with `micros` in its stamp.
    fn stamped_message(stamp: u32, micros: u32, announce: bool) -> Vec<u8> {
        let mut message = route_monitoring_message(stamp, announce);
        // Common header (6), peer type, flags, RD, address, AS, BGP ID, seconds.
        message[44..48].copy_from_slice(&micros.to_be_bytes());
        message
    }

    /// The routes' times of each message, handed in as (arrival, message).
    fn route_times(router: &mut BmpRouter, messages: &[(Timestamp, Vec<u8>)]) -> Vec<Timestamp> {
        let mut out = Vec::new();
        for (arrival, message) in messages {
            router.handle_bytes(*arrival, message, &mut out);
        }
        out.iter()
            .filter_map(|input| match input {
                BgpInput::Route(update) => Some(update.at),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn whole_second_stamps_never_come_before_what_they_report_and_keep_their_order() {
        const T: u32 = 1_700_000_000;
        let second = Timestamp::from_secs(i64::from(T));
        let micros = |m: i64| Timestamp::from_micros(second.as_micros() + m);
        let router: IpAddr = "198.51.100.1".parse().unwrap();

        // Live: a router that stamps whole seconds. A withdrawal at T.700 is stamped T
        // and arrives at T.750: it happened no earlier than T, no later than its
        // arrival, so it counts from its arrival, never from T. The announcement
        // that follows in the same burst (one arrival time), stamped T as well, comes
        // a microsecond after it.
        let mut live = BmpRouter::live(router, options());
        let times = route_times(
            &mut live,
            &[
                (micros(100_000), route_monitoring_message(T, true)),
                (micros(750_000), route_monitoring_message(T, false)),
                (micros(750_000), route_monitoring_message(T, true)),
            ],
        );
        assert_eq!(
            times,
            vec![micros(100_000), micros(750_000), micros(750_001)]
        );
        // Arriving two seconds late, a whole-second stamp is its second's last
        // microsecond, and two in one second keep their order, each its own.
        let mut late = BmpRouter::live(router, options());
        let times = route_times(
            &mut late,
            &[
                (micros(2_000_000), route_monitoring_message(T, true)),
                (micros(2_000_000), route_monitoring_message(T, false)),
            ],
        );
        assert_eq!(times, vec![micros(999_999), micros(1_000_000)]);

        // Replayed: the stamps are all there is; each is its second's end, in order.
        let mut replayed = BmpRouter::new(router, options());
        let times = route_times(
            &mut replayed,
            &[
                (second, route_monitoring_message(T, true)),
                (second, route_monitoring_message(T, false)),
                (second, route_monitoring_message(T + 1, true)),
            ],
        );
        assert_eq!(
            times,
            vec![micros(999_999), micros(1_000_000), micros(1_999_999)]
        );

        // A router whose stamps carry microseconds: once one has come, a stamp that
        // happens to fall on a whole second is taken as it is, and a stamp before the
        // last one (a reordering) is moved after it.
        let mut fine = BmpRouter::new(router, options());
        let times = route_times(
            &mut fine,
            &[
                (second, stamped_message(T - 1, 300_000, true)),
                (second, stamped_message(T, 0, false)),
                (second, stamped_message(T - 1, 500_000, true)),
            ],
        );
        assert_eq!(
            times,
            vec![micros(-700_000), second, micros(1)],
            "fine stamps kept, a reordered one moved after the last"
        );
    }

    /// What one message gave: `A key` / `W key` / `D key` (PeerDown), in order.
    fn given(router: &mut BmpRouter, message: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        router.handle_bytes(Timestamp::from_secs(1_700_000_000), message, &mut out);
        out.iter()
            .map(|input| match input {
                BgpInput::Route(r) if r.change == RouteChange::Withdraw => format!("W {}", r.peer),
                BgpInput::Route(r) => format!("A {}", r.peer),
                BgpInput::PeerDown { peer, .. } => format!("D {peer}"),
                BgpInput::TableSize { peer, .. } => format!("T {peer}"),
            })
            .collect()
    }

    const POST: u8 = 0x40;
    const T: u32 = 1_700_000_000;

    #[test]
    fn pre_policy_takes_over_from_post_policy_once_it_announces() {
        let mut router = BmpRouter::new("198.51.100.1".parse().unwrap(), options());
        // Given a peer fed post-policy,
        assert_eq!(
            given(&mut router, &view_message(0, POST, T, true)),
            vec!["A bmp:198.51.100.1:post 192.0.2.4 AS64499"]
        );
        // pre-policy with withdrawals alone does not take it over;
        assert!(given(&mut router, &view_message(0, 0, T, false)).is_empty());
        assert_eq!(router.report().views_used, vec![BmpView::PostPolicy]);
        // its first announcement does: the pre-policy route comes, then the
        // post-policy view leaves;
        assert_eq!(
            given(&mut router, &view_message(0, 0, T, true)),
            vec![
                "A bmp:198.51.100.1 192.0.2.4 AS64499",
                "D bmp:198.51.100.1:post 192.0.2.4 AS64499"
            ]
        );
        // and post-policy is skipped from then on.
        assert!(given(&mut router, &view_message(0, POST, T, false)).is_empty());
        let stats = router.stats();
        assert_eq!((stats.view_switches, stats.skipped_not_preferred), (1, 1));
        let report = router.report();
        assert_eq!(report.views_used, vec![BmpView::PrePolicy]);
        assert_eq!(
            report.views_sent,
            vec![BmpView::PrePolicy, BmpView::PostPolicy]
        );
        assert_eq!(report.peers[0].view, Some(BmpView::PrePolicy));
    }

    #[test]
    fn views_left_out_are_counted_and_explained() {
        let options = Arc::new(BmpOptions {
            views: BmpViews::from_list(&[BmpView::LocRib]),
            filter: PrefixFilter::everything(),
        });
        let mut router = BmpRouter::new("198.51.100.1".parse().unwrap(), options);
        assert!(given(&mut router, &view_message(0, 0, T, true)).is_empty());
        assert!(given(&mut router, &view_message(0, POST, T, true)).is_empty());
        assert_eq!(router.stats().skipped_not_configured, 2);
        assert_eq!(
            router.why_no_routes().as_deref(),
            Some(
                "2 Route Monitoring messages but no IPv4/IPv6 unicast route blackout can use: \
                 views configured: loc-rib; the router sends: pre-policy, post-policy"
            )
        );
        // The router's own view feeds, keyed by the router.
        assert_eq!(
            given(&mut router, &view_message(3, 0, T, true)),
            vec!["A bmp:198.51.100.1:loc-rib 198.51.100.1 AS64499"]
        );
        assert_eq!(router.why_no_routes(), None);
    }

    #[test]
    fn rd_instance_peers_and_vrf_loc_ribs_are_skipped() {
        let mut router = BmpRouter::new("198.51.100.1".parse().unwrap(), options());
        let mut rd_instance = view_message(1, 0, T, true);
        rd_instance[8..16].copy_from_slice(&0x0000_fbf3_0000_000eu64.to_be_bytes());
        let mut vrf_loc_rib = view_message(3, 0, T, true);
        vrf_loc_rib[8..16].copy_from_slice(&0x0000_fbf3_0000_000bu64.to_be_bytes());
        assert!(given(&mut router, &rd_instance).is_empty());
        assert!(given(&mut router, &vrf_loc_rib).is_empty());
        let stats = router.stats();
        assert_eq!(
            (stats.skipped_rd_instance, stats.skipped_vrf_loc_rib),
            (1, 1)
        );
        assert_eq!(
            router.why_no_routes().as_deref(),
            Some(
                "2 Route Monitoring messages but no IPv4/IPv6 unicast route blackout can use: \
                 it sends RD-instance peers of RD 64499:14; \
                 it sends the Loc-RIB of the VRF of RD 64499:11"
            )
        );
    }

    /// Found by fuzzing: a global peer whose header carries a distinguisher, and
    /// a Loc-RIB whose header carries an address, are the same sessions as without,
    /// so that two sessions never write one route key; local-instance peers are
    /// another routing instance's, and skipped.
    #[test]
    fn one_session_one_key_whatever_the_header_s_spare_fields_say() {
        let mut router = BmpRouter::new("198.51.100.1".parse().unwrap(), options());
        assert_eq!(given(&mut router, &view_message(0, POST, T, true)).len(), 1);
        let mut with_rd = view_message(0, 0, T, true);
        with_rd[8..16].copy_from_slice(&7u64.to_be_bytes());
        assert_eq!(
            given(&mut router, &with_rd),
            vec![
                "A bmp:198.51.100.1 192.0.2.4 AS64499",
                "D bmp:198.51.100.1:post 192.0.2.4 AS64499"
            ],
            "the pre-policy view of the same peer takes over"
        );
        assert_eq!(router.peer_count(), 1);
        assert_eq!(given(&mut router, &view_message(3, 0, T, true)).len(), 1);
        let mut loc_rib_with_address = view_message(3, 0, T, false);
        loc_rib_with_address[29] = 9;
        assert_eq!(
            given(&mut router, &loc_rib_with_address),
            vec!["W bmp:198.51.100.1:loc-rib 198.51.100.1 AS64499"]
        );
        assert!(given(&mut router, &view_message(2, 0, T, true)).is_empty());
        assert_eq!(router.stats().skipped_local_instance, 1);
    }
}
