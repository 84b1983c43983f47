//! One router's BMP session, sans-IO: decoded messages and the time in, route
//! inputs out.
//!
//! The session keeps, per monitored peer, what its Peer Up said (4-byte AS, ADD-PATH
//! per family, the router's own AS) and, per view of that peer (pre-policy,
//! post-policy, Loc-RIB), its routes to the watched prefixes. From those it turns
//! Route Monitoring into [`BgpInput::Route`]s, Peer Down into a [`BgpInput::PeerDown`]
//! per view, and the loss of the whole session into the same for every peer.
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
//! - families other than IPv4/IPv6 unicast are skipped and counted;
//! - Route Monitoring for a peer without a Peer Up (a router that does not send
//!   them) is decoded with the A flag for the AS width, and ADD-PATH is tried only
//!   when the plain decoding fails.

use super::message::{BmpMessage, PeerHeader, PeerType, RouteMonitoring};
use crate::message::negotiate;
use crate::update::{Nlri, UpdateContext, decode_update};
use blackout_model::PrefixFilter;
use blackout_model::{
    AsPath, Asn, BgpInput, PathSegment, PeerKey, RouteChange, RouteUpdate, Timestamp,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// Which views of each monitored peer feed the BGP state. Each view is a peer of
/// its own in the state (`bmp:<router>`, `bmp:<router>:post`, `bmp:<router>:loc-rib`),
/// so choose one unless double counting is wanted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BmpViews {
    /// Adj-RIB-In before the router's policy: what the peer really says (the default).
    pub pre_policy: bool,
    /// Adj-RIB-In after policy.
    pub post_policy: bool,
    /// The router's Loc-RIB (RFC 9069): its best paths.
    pub loc_rib: bool,
}

impl Default for BmpViews {
    fn default() -> Self {
        BmpViews {
            pre_policy: true,
            post_policy: false,
            loc_rib: false,
        }
    }
}

/// How a station turns BMP into route inputs.
#[derive(Clone, Debug, Default)]
pub struct BmpOptions {
    /// The views that feed the state.
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
    /// MP_REACH/MP_UNREACH attributes of families other than IPv4/IPv6 unicast.
    pub skipped_families: u64,
    /// Route Monitoring of views or peers not fed to the state (post-policy when only
    /// pre-policy is wanted, Adj-RIB-Out, VRFs...).
    pub skipped_views: u64,
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

/// A monitored BGP session, as the per-peer header identifies it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct PeerId {
    peer_type: PeerType,
    distinguisher: u64,
    address: IpAddr,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
enum View {
    PrePolicy,
    PostPolicy,
    LocRib,
}

struct ViewRoutes {
    key: PeerKey,
    routes: HashMap<(IpNet, u32), AsPath>,
}

#[derive(Default)]
struct MonitoredPeer {
    /// From the Peer Up, when there was one.
    context: Option<UpdateContext>,
    /// The router's own AS on this session.
    local_as: Option<u32>,
    views: BTreeMap<View, ViewRoutes>,
}

/// A router's BMP session.
pub struct BmpRouter {
    router: IpAddr,
    options: Arc<BmpOptions>,
    sys_name: Option<String>,
    terminated: bool,
    peers: HashMap<PeerId, MonitoredPeer>,
    collectors: HashMap<String, Arc<str>>,
    stats: RouterStats,
    /// Does `now` come from the clock as the messages arrive?
    live: bool,
}

/// How much older than its arrival a live withdrawal's timestamp may be and still
/// be its own: routers export within a second, on another machine's clock a few.
pub const LIVE_WITHDRAWAL_SKEW_SECS: f64 = 5.0;

impl BmpRouter {
    /// A session with the router at `router`, replayed: the routers' timestamps
    /// are the only times there are.
    pub fn new(router: IpAddr, options: Arc<BmpOptions>) -> Self {
        BmpRouter {
            router,
            options,
            sys_name: None,
            terminated: false,
            peers: HashMap::new(),
            collectors: HashMap::new(),
            stats: RouterStats::default(),
            live: false,
        }
    }

    /// A session with the router at `router` as its messages arrive, `now` being
    /// the arrival time. A router's per-peer timestamp is when the routes were
    /// received; some routers (FRR) stamp a withdrawal with when the withdrawn
    /// route was, which can be long before. A live withdrawal stamped more than
    /// [`LIVE_WITHDRAWAL_SKEW_SECS`] before its arrival takes the arrival time, and
    /// no timestamp may lie after its arrival.
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

    /// Did the router send a Termination?
    pub fn terminated(&self) -> bool {
        self.terminated
    }

    /// The counters so far.
    pub fn stats(&self) -> &RouterStats {
        &self.stats
    }

    /// Monitored peers known (by Peer Up or by their routes).
    pub fn peer_count(&self) -> usize {
        self.peers.len()
    }

    /// Routes held now, over all views and peers.
    pub fn route_count(&self) -> usize {
        self.peers
            .values()
            .flat_map(|p| p.views.values())
            .map(|v| v.routes.len())
            .sum()
    }

    /// Every held route of every view: (peer, prefix, path id, path), sorted. For tests
    /// and for a status page.
    pub fn routes(&self) -> Vec<(PeerKey, IpNet, u32, AsPath)> {
        let mut out: Vec<_> = self
            .peers
            .values()
            .flat_map(|p| p.views.values())
            .flat_map(|v| {
                v.routes
                    .iter()
                    .map(|((prefix, id), path)| (v.key.clone(), *prefix, *id, path.clone()))
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
            BmpMessage::PeerUp(up) => {
                self.stats.peer_ups += 1;
                let id = peer_id(&up.peer);
                // A Peer Up for a peer that is up means the session restarted unseen.
                if let Some(old) = self.peers.remove(&id) {
                    flush(up.peer.at.unwrap_or(now), old, out);
                }
                let peer = MonitoredPeer {
                    // The router receives what the peer sends.
                    context: Some(negotiate(&up.received_open, &up.sent_open)),
                    local_as: Some(up.sent_open.asn),
                    views: BTreeMap::new(),
                };
                self.peers.insert(id, peer);
            }
            BmpMessage::PeerDown(down) => {
                self.stats.peer_downs += 1;
                if let Some(old) = self.peers.remove(&peer_id(&down.peer)) {
                    flush(down.peer.at.unwrap_or(now), old, out);
                }
            }
            BmpMessage::Statistics(_) => self.stats.statistics += 1,
            BmpMessage::Initiation { sys_name, .. } => {
                if sys_name.is_some() {
                    self.sys_name.clone_from(sys_name);
                }
            }
            BmpMessage::Termination { .. } => self.terminated = true,
            BmpMessage::RouteMirroring(_) | BmpMessage::Unknown(_) => {}
        }
    }

    /// The session is gone (closed, reset, timed out, or the router sent garbage):
    /// every monitored peer's routes are gone with it.
    pub fn session_lost(&mut self, now: Timestamp, out: &mut Vec<BgpInput>) {
        let mut peers: Vec<_> = self.peers.drain().collect();
        peers.sort_by_key(|(id, _)| *id);
        for (_, peer) in peers {
            flush(now, peer, out);
        }
    }

    fn view_of(&self, header: &PeerHeader) -> Option<View> {
        let views = self.options.views;
        if header.adj_rib_out() {
            return None;
        }
        match header.peer_type {
            PeerType::LocRib => views.loc_rib.then_some(View::LocRib),
            PeerType::Global | PeerType::LocalInstance | PeerType::RdInstance => {
                if header.post_policy() {
                    views.post_policy.then_some(View::PostPolicy)
                } else {
                    views.pre_policy.then_some(View::PrePolicy)
                }
            }
            PeerType::Other(_) => None,
        }
    }

    fn collector(&mut self, header: &PeerHeader, view: View) -> Arc<str> {
        let mut name = format!("bmp:{}", self.router);
        if header.peer_type == PeerType::RdInstance || header.distinguisher != 0 {
            name.push_str(&format!(":rd={}", rd_text(header.distinguisher)));
        }
        match view {
            View::PrePolicy => {}
            View::PostPolicy => name.push_str(":post"),
            View::LocRib => name.push_str(":loc-rib"),
        }
        Arc::clone(
            self.collectors
                .entry(name)
                .or_insert_with_key(|name| Arc::from(name.as_str())),
        )
    }

    fn route_monitoring(
        &mut self,
        now: Timestamp,
        rm: &RouteMonitoring<'_>,
        out: &mut Vec<BgpInput>,
    ) {
        self.stats.route_monitoring += 1;
        let Some(view) = self.view_of(&rm.peer) else {
            self.stats.skipped_views += 1;
            return;
        };
        let id = peer_id(&rm.peer);
        let (at, withdrawn_at) = match (rm.peer.at, self.live) {
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
        };
        let known = self.peers.get(&id).and_then(|p| p.context);
        let mut context = known.unwrap_or_default();
        context.asn4 = rm.peer.peer_type == PeerType::LocRib || !rm.peer.legacy_as_path();
        let options = Arc::clone(&self.options);
        let filter = &options.filter;
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
        let update = match decoded {
            Ok(update) => update,
            Err(error) => {
                self.stats.bad_updates += 1;
                tracing::debug!(router = %self.router, peer = %rm.peer.address, %error, "UPDATE skipped");
                return;
            }
        };
        self.stats.skipped_families += update.skipped_families.len() as u64;
        if update.end_of_rib.is_some() {
            self.stats.end_of_ribs += 1;
        }
        if update.withdrawn.is_empty() && update.announced.is_empty() {
            return;
        }
        let collector = self.collector(&rm.peer, view);
        let peer = self.peers.entry(id).or_default();
        let local_as = match rm.peer.peer_type {
            PeerType::LocRib => Some(rm.peer.asn),
            _ => peer.local_as,
        };
        let routes = peer.views.entry(view).or_insert_with(|| ViewRoutes {
            key: PeerKey {
                collector,
                ip: rm.peer.address,
                asn: Asn(rm.peer.asn),
            },
            routes: HashMap::new(),
        });
        let key = &routes.key;
        let mut withdraw =
            |nlri: &Nlri, routes: &mut HashMap<(IpNet, u32), AsPath>, stats: &mut RouterStats| {
                if !filter.wants(&nlri.prefix) {
                    return;
                }
                if routes
                    .remove(&(nlri.prefix, nlri.path_id.unwrap_or(0)))
                    .is_none()
                {
                    stats.duplicate_withdrawals += 1;
                    return;
                }
                stats.withdrawals += 1;
                out.push(BgpInput::Route(RouteUpdate {
                    at: withdrawn_at,
                    peer: key.clone(),
                    prefix: nlri.prefix,
                    path_id: nlri.path_id,
                    change: RouteChange::Withdraw,
                }));
            };
        for nlri in &update.withdrawn {
            withdraw(nlri, &mut routes.routes, &mut self.stats);
        }
        if update.announced.is_empty() {
            return;
        }
        let path = update.as_path.unwrap_or_default();
        let path = match clean_path(path, local_as) {
            PathCheck::Clean(path, removed) => {
                if removed {
                    self.stats.own_as_removed += 1;
                }
                path
            }
            PathCheck::Looped(path) => {
                // Reported pre-policy (or accepted with allowas-in): the peer does have
                // the route, and origin and upstream still read right off the path.
                self.stats.looped_paths += 1;
                path
            }
        };
        for nlri in &update.announced {
            let slot = (nlri.prefix, nlri.path_id.unwrap_or(0));
            if routes.routes.get(&slot) == Some(&path) {
                continue;
            }
            routes.routes.insert(slot, path.clone());
            self.stats.announcements += 1;
            out.push(BgpInput::Route(RouteUpdate {
                at,
                peer: routes.key.clone(),
                prefix: nlri.prefix,
                path_id: nlri.path_id,
                change: RouteChange::Announce {
                    as_path: path.clone(),
                },
            }));
        }
    }
}

fn peer_id(header: &PeerHeader) -> PeerId {
    PeerId {
        peer_type: header.peer_type,
        distinguisher: header.distinguisher,
        address: header.address,
    }
}

fn flush(at: Timestamp, peer: MonitoredPeer, out: &mut Vec<BgpInput>) {
    for (_, view) in peer.views {
        out.push(BgpInput::PeerDown { at, peer: view.key });
    }
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
        let mut peer = vec![0, 0];
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
        // Replayed, the router's stamps are all there is.
        assert_eq!(
            times(&mut BmpRouter::new(router, options())),
            vec![(false, 0), (true, 0)]
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
}
