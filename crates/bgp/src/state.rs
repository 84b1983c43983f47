//! The per-peer routes to the watched network, and what follows from them.
//!
//! After each input the state recomputes only what the input can have changed
//! and reports the differences as [`BgpChange`]s. Visibility is counted over the
//! *full-feed* peers: peers whose table holds at least `full_feed_ratio` of the
//! largest table of their address family (from the RIB dumps' table sizes, so the
//! rule holds for a 2010 table of 320k prefixes as for today's). Where no table
//! size is known (update files alone, live feeds), the peers that have carried a
//! route to the network stand in. A peer whose session goes down leaves the
//! count: that is a problem of the feed, not an outage of the target.

use crate::rpki::{RpkiState, Vrps};
use crate::watch::WatchSet;
use blackout_model::{AsPath, Asn, BgpInput, PeerKey, RouteChange, RouteUpdate, Timestamp};
use ipnet::IpNet;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// How a prefix with routes relates to the watched ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// A watched prefix.
    Watched,
    /// An aggregate of the watched network's own.
    Aggregate,
    /// Inside a watched prefix.
    MoreSpecific,
    /// A less-specific that is not one of the network's aggregates.
    Covering,
}

/// What the full-feed peers see of one watched prefix now.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrefixView {
    /// The prefix.
    pub prefix: IpNet,
    /// Full-feed peers with a route to it (or to one of the network's aggregates).
    pub seen_by: u32,
    /// Full-feed peers in all (the denominator).
    pub full_feed_peers: u32,
    /// For each upstream (the AS before the origin), how many of those peers' paths use it.
    pub upstreams: BTreeMap<Asn, u32>,
    /// For each origin, how many of those peers' paths end in it.
    pub origins: BTreeMap<Asn, u32>,
}

impl PrefixView {
    /// The share of full-feed peers that see the prefix (0 when there are none).
    pub fn visibility(&self) -> f64 {
        if self.full_feed_peers == 0 {
            0.0
        } else {
            f64::from(self.seen_by) / f64::from(self.full_feed_peers)
        }
    }

    /// The share of full-feed peers whose path goes through `upstream`.
    pub fn upstream_share(&self, upstream: Asn) -> f64 {
        if self.full_feed_peers == 0 {
            0.0
        } else {
            f64::from(self.upstreams.get(&upstream).copied().unwrap_or(0))
                / f64::from(self.full_feed_peers)
        }
    }
}

/// The share of all full-feed paths to the given prefixes that run through
/// `upstream`; None when no full-feed peer counts at all.
pub fn upstream_share<'a>(
    views: impl IntoIterator<Item = &'a PrefixView>,
    upstream: Asn,
) -> Option<f64> {
    let (carried, total) = views
        .into_iter()
        .fold((0u32, 0u32), |(carried, total), view| {
            (
                carried + view.upstreams.get(&upstream).copied().unwrap_or(0),
                total + view.full_feed_peers,
            )
        });
    (total > 0).then(|| f64::from(carried) / f64::from(total))
}

/// A change in what the world sees of the watched network.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum BgpChange {
    /// The view of a watched prefix changed (peers seeing it, upstreams, origins, or the denominator).
    Visibility {
        /// When.
        at: Timestamp,
        /// The order of the change among all the state's changes: what came later
        /// within one instant supersedes what came before.
        #[serde(skip)]
        seq: u64,
        /// The new view.
        view: PrefixView,
        /// The visibility before.
        previous: f64,
    },
    /// An origin is now seen for a prefix that concerns the network, where none of
    /// the peers saw it before.
    OriginAppeared {
        /// When.
        at: Timestamp,
        /// The order of the change among all the state's changes: what came later
        /// within one instant supersedes what came before.
        #[serde(skip)]
        seq: u64,
        /// The prefix.
        prefix: IpNet,
        /// How it relates to the watched prefixes.
        relation: Relation,
        /// The origin.
        origin: Asn,
        /// Is it one of the profile's origins?
        expected: bool,
        /// The first path seen with it.
        as_path: AsPath,
        /// The peer that first carried it.
        peer: PeerKey,
    },
    /// No peer carries a route from that origin for that prefix any more.
    OriginGone {
        /// When.
        at: Timestamp,
        /// The order of the change among all the state's changes: what came later
        /// within one instant supersedes what came before.
        #[serde(skip)]
        seq: u64,
        /// The prefix.
        prefix: IpNet,
        /// The origin.
        origin: Asn,
        /// Was it one of the profile's origins?
        expected: bool,
    },
    /// Paths to the network now run through an AS that no path used before.
    UpstreamAppeared {
        /// When.
        at: Timestamp,
        /// The order of the change among all the state's changes: what came later
        /// within one instant supersedes what came before.
        #[serde(skip)]
        seq: u64,
        /// The upstream.
        upstream: Asn,
        /// Does the profile name it (as expected or historical)?
        known: bool,
        /// The prefix of the first such path.
        prefix: IpNet,
        /// That path.
        as_path: AsPath,
    },
    /// No path runs through that upstream any more.
    UpstreamGone {
        /// When.
        at: Timestamp,
        /// The order of the change among all the state's changes: what came later
        /// within one instant supersedes what came before.
        #[serde(skip)]
        seq: u64,
        /// The upstream.
        upstream: Asn,
    },
    /// A route's RPKI state, the first time it is seen or when it changes.
    Rpki {
        /// When.
        at: Timestamp,
        /// The order of the change among all the state's changes: what came later
        /// within one instant supersedes what came before.
        #[serde(skip)]
        seq: u64,
        /// The prefix.
        prefix: IpNet,
        /// The origin, if the path names one.
        origin: Option<Asn>,
        /// The state.
        state: RpkiState,
        /// The VRPs that cover the prefix, as text.
        vrps: Vec<String>,
    },
    /// The set of full-feed peers changed.
    FullFeedPeers {
        /// When.
        at: Timestamp,
        /// The order of the change among all the state's changes: what came later
        /// within one instant supersedes what came before.
        #[serde(skip)]
        seq: u64,
        /// How many peers are full-feed now.
        count: u32,
        /// How many peers have a known table size.
        of: u32,
    },
}

impl BgpChange {
    /// The order of the change among the state's changes.
    pub fn seq(&self) -> u64 {
        match self {
            BgpChange::Visibility { seq, .. }
            | BgpChange::OriginAppeared { seq, .. }
            | BgpChange::OriginGone { seq, .. }
            | BgpChange::UpstreamAppeared { seq, .. }
            | BgpChange::UpstreamGone { seq, .. }
            | BgpChange::Rpki { seq, .. }
            | BgpChange::FullFeedPeers { seq, .. } => *seq,
        }
    }

    fn set_seq(&mut self, value: u64) {
        match self {
            BgpChange::Visibility { seq, .. }
            | BgpChange::OriginAppeared { seq, .. }
            | BgpChange::OriginGone { seq, .. }
            | BgpChange::UpstreamAppeared { seq, .. }
            | BgpChange::UpstreamGone { seq, .. }
            | BgpChange::Rpki { seq, .. }
            | BgpChange::FullFeedPeers { seq, .. } => *seq = value,
        }
    }

    /// When the change happened.
    pub fn at(&self) -> Timestamp {
        match self {
            BgpChange::Visibility { at, .. }
            | BgpChange::OriginAppeared { at, .. }
            | BgpChange::OriginGone { at, .. }
            | BgpChange::UpstreamAppeared { at, .. }
            | BgpChange::UpstreamGone { at, .. }
            | BgpChange::Rpki { at, .. }
            | BgpChange::FullFeedPeers { at, .. } => *at,
        }
    }
}

/// Everything seen of one prefix over the whole run, for the summary.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PrefixSummary {
    /// The prefix.
    pub prefix: IpNet,
    /// How it relates to the watched prefixes.
    pub relation: Relation,
    /// First route seen.
    pub first_seen: Timestamp,
    /// Last announcement seen.
    pub last_announced: Option<Timestamp>,
    /// Last withdrawal seen.
    pub last_withdrawn: Option<Timestamp>,
    /// Announcements (RIB entries included).
    pub announcements: u64,
    /// Withdrawals (a session going down counts for each route it took).
    pub withdrawals: u64,
    /// Peers that ever had a route.
    pub peers: u32,
    /// Peers with a route now.
    pub peers_now: u32,
    /// Origins ever seen.
    pub origins: BTreeSet<Asn>,
    /// Upstreams ever seen.
    pub upstreams: BTreeSet<Asn>,
    /// RPKI states seen.
    pub rpki: BTreeSet<RpkiState>,
}

#[derive(Default)]
struct Peer {
    /// Routes to prefixes that concern the network, by (prefix, ADD-PATH id).
    routes: BTreeMap<(IpNet, u32), AsPath>,
    /// IPv4 and IPv6 table sizes from the last RIB dump.
    table: Option<(u32, u32)>,
    /// False once its session went down, until it speaks again.
    active: bool,
    /// Has it ever carried a route to the network? (the fallback denominator)
    observed: bool,
    full_feed_v4: bool,
    full_feed_v6: bool,
    /// This peer's part in each watched prefix's view, as last counted.
    parts: BTreeMap<IpNet, Part>,
}

/// One peer's part in the view of one watched prefix.
#[derive(Clone, Debug, Default, PartialEq)]
struct Part {
    /// Does the peer count in the denominator?
    counted: bool,
    /// Does it see the prefix?
    seen: bool,
    /// The upstreams of its paths, sorted, once each.
    upstreams: Vec<Asn>,
    /// The origins of its paths, sorted, once each.
    origins: Vec<Asn>,
}

impl PrefixView {
    /// Adds (`sign` 1) or takes away (-1) one peer's part.
    fn apply_part(&mut self, part: &Part, sign: i32) {
        let add = |n: &mut u32| *n = n.saturating_add_signed(sign);
        if part.counted {
            add(&mut self.full_feed_peers);
        }
        if part.seen {
            add(&mut self.seen_by);
        }
        for upstream in &part.upstreams {
            let count = self.upstreams.entry(*upstream).or_insert(0);
            add(count);
            if *count == 0 {
                self.upstreams.remove(upstream);
            }
        }
        for origin in &part.origins {
            let count = self.origins.entry(*origin).or_insert(0);
            add(count);
            if *count == 0 {
                self.origins.remove(origin);
            }
        }
    }
}

#[derive(Default)]
struct History {
    summary: BTreeMap<IpNet, (PrefixSummary, BTreeSet<PeerKey>)>,
}

/// The BGP state of the watched network, as all sources report it.
pub struct BgpState {
    watch: WatchSet,
    vrps: Vrps,
    peers: BTreeMap<PeerKey, Peer>,
    views: BTreeMap<IpNet, PrefixView>,
    /// Routes per (prefix, origin), any peer.
    origin_routes: BTreeMap<(IpNet, Asn), u32>,
    /// Routes to watched prefixes and aggregates per upstream, any peer.
    upstream_routes: BTreeMap<Asn, u32>,
    rpki_seen: BTreeMap<(IpNet, Option<Asn>), RpkiState>,
    full_feed: (u32, u32),
    /// Table sizes arrive one peer at a time at the end of a dump; the full-feed set
    /// is reclassified once all of them are in, so that a half-read set of sizes
    /// never looks like peers losing the routes.
    sizes_pending: Option<Timestamp>,
    history: History,
    ignored_routes: u64,
    /// The number of the next change.
    next_seq: u64,
}

impl BgpState {
    /// An empty state watching `watch`, validating against `vrps` (empty for none).
    pub fn new(watch: WatchSet, vrps: Vrps) -> Self {
        let views = watch
            .prefixes
            .iter()
            .map(|prefix| {
                (
                    *prefix,
                    PrefixView {
                        prefix: *prefix,
                        seen_by: 0,
                        full_feed_peers: 0,
                        upstreams: BTreeMap::new(),
                        origins: BTreeMap::new(),
                    },
                )
            })
            .collect();
        BgpState {
            watch,
            vrps,
            peers: BTreeMap::new(),
            views,
            origin_routes: BTreeMap::new(),
            upstream_routes: BTreeMap::new(),
            rpki_seen: BTreeMap::new(),
            full_feed: (0, 0),
            sizes_pending: None,
            history: History::default(),
            ignored_routes: 0,
            next_seq: 0,
        }
    }

    /// What is watched.
    pub fn watch(&self) -> &WatchSet {
        &self.watch
    }

    /// The current view of every watched prefix.
    pub fn views(&self) -> impl Iterator<Item = &PrefixView> {
        self.views.values()
    }

    /// The current view of one watched prefix.
    pub fn view(&self, prefix: &IpNet) -> Option<&PrefixView> {
        self.views.get(prefix)
    }

    /// Everything seen of each prefix that concerns the network.
    pub fn summaries(&self) -> impl Iterator<Item = &PrefixSummary> {
        self.history.summary.values().map(|(summary, _)| summary)
    }

    /// Peers known (any route or table size), and how many are full-feed now.
    pub fn peer_counts(&self) -> (usize, u32) {
        (self.peers.len(), self.denominator_v4())
    }

    /// Routes that did not concern the network and were dropped.
    pub fn ignored_routes(&self) -> u64 {
        self.ignored_routes
    }

    /// Applies one input and returns what it changed, in a deterministic order.
    pub fn apply(&mut self, input: &BgpInput) -> Vec<BgpChange> {
        let mut changes = Vec::new();
        if let BgpInput::TableSize {
            at,
            peer,
            ipv4,
            ipv6,
        } = input
        {
            if self.sizes_pending.is_some_and(|pending| pending != *at) {
                self.apply_sizes(&mut changes);
            }
            let entry = self.peers.entry(peer.clone()).or_default();
            entry.table = Some((*ipv4, *ipv6));
            entry.active = true;
            self.sizes_pending = Some(*at);
            return self.numbered(changes);
        }
        self.apply_sizes(&mut changes);
        match input {
            BgpInput::Route(update) => self.apply_route(update, &mut changes),
            BgpInput::PeerDown { at, peer } => self.apply_peer_down(*at, peer, &mut changes),
            BgpInput::TableSize { .. } => {}
        }
        self.numbered(changes)
    }

    /// Replaces the validated ROA payloads (a new rpki-client run, a ROA that
    /// appeared or was fixed) and revalidates every route: routes whose state
    /// changes are reported.
    pub fn set_vrps(&mut self, at: Timestamp, vrps: Vrps) -> Vec<BgpChange> {
        self.vrps = vrps;
        let mut changes = Vec::new();
        let routes: BTreeSet<(IpNet, Option<Asn>)> = self
            .peers
            .values()
            .flat_map(|peer| {
                peer.routes
                    .iter()
                    .map(|((prefix, _), path)| (*prefix, path.origin()))
            })
            .collect();
        for (prefix, origin) in routes {
            let Some(relation) = self.relation(&prefix) else {
                continue;
            };
            let path = AsPath::from_sequence(origin.map(|o| o.0));
            self.check_rpki(at, prefix, relation, &path, &mut changes);
        }
        self.numbered(changes)
    }

    fn numbered(&mut self, mut changes: Vec<BgpChange>) -> Vec<BgpChange> {
        for change in &mut changes {
            change.set_seq(self.next_seq);
            self.next_seq += 1;
        }
        changes
    }

    /// Takes in the table sizes received so far. `apply` does it by itself when
    /// another kind of input follows them; call this at the end of the input.
    pub fn flush(&mut self) -> Vec<BgpChange> {
        let mut changes = Vec::new();
        self.apply_sizes(&mut changes);
        self.numbered(changes)
    }

    fn apply_sizes(&mut self, changes: &mut Vec<BgpChange>) {
        if let Some(at) = self.sizes_pending.take() {
            self.reclassify_full_feed(at, changes);
            self.refresh_views(at, changes);
        }
    }

    fn apply_route(&mut self, update: &RouteUpdate, changes: &mut Vec<BgpChange>) {
        let prefix = update.prefix;
        let Some(relation) = self.relation(&prefix) else {
            self.ignored_routes += 1;
            return;
        };
        let at = update.at;
        let key = (prefix, update.path_id.unwrap_or(0));
        let peer = self.peers.entry(update.peer.clone()).or_default();
        // A peer that speaks again after its session went down, or for the first
        // time, may change the denominator of every prefix.
        let standing_changed =
            !peer.active || !peer.observed && matches!(update.change, RouteChange::Announce { .. });
        peer.active = true;
        let had_prefix = peer
            .routes
            .range((prefix, 0)..=(prefix, u32::MAX))
            .next()
            .is_some();
        let old = match &update.change {
            RouteChange::Announce { as_path } => {
                peer.observed = true;
                peer.routes.insert(key, as_path.clone())
            }
            RouteChange::Withdraw => peer.routes.remove(&key),
        };
        let has_prefix = peer
            .routes
            .range((prefix, 0)..=(prefix, u32::MAX))
            .next()
            .is_some();
        let new = match &update.change {
            RouteChange::Announce { as_path } => Some(as_path),
            RouteChange::Withdraw => None,
        };
        self.record_history(
            update,
            relation,
            old.is_some(),
            i32::from(has_prefix) - i32::from(had_prefix),
        );
        if old.as_ref() == new && !standing_changed {
            // A duplicate withdrawal, or the same path again: nothing moved.
            return;
        }
        self.count_route(
            at,
            prefix,
            relation,
            old.as_ref(),
            -1,
            &update.peer,
            changes,
        );
        if let Some(path) = new {
            self.count_route(at, prefix, relation, Some(path), 1, &update.peer, changes);
            self.check_rpki(at, prefix, relation, path, changes);
        }
        let targets: Vec<IpNet> = if standing_changed {
            self.watch.prefixes.clone()
        } else {
            self.watch.covered_by(&prefix).copied().collect()
        };
        self.refresh_parts(at, std::slice::from_ref(&update.peer), &targets, changes);
    }

    fn apply_peer_down(&mut self, at: Timestamp, peer_key: &PeerKey, changes: &mut Vec<BgpChange>) {
        let Some(peer) = self.peers.get_mut(peer_key) else {
            return;
        };
        peer.active = false;
        let routes = std::mem::take(&mut peer.routes);
        for ((prefix, _), path) in routes {
            if let Some(relation) = self.relation(&prefix) {
                if let Some((summary, _)) = self.history.summary.get_mut(&prefix) {
                    summary.withdrawals += 1;
                    summary.last_withdrawn = Some(at);
                }
                self.count_route(at, prefix, relation, Some(&path), -1, peer_key, changes);
            }
        }
        self.refresh_summary_peers_now();
        let targets = self.watch.prefixes.clone();
        self.refresh_parts(at, std::slice::from_ref(peer_key), &targets, changes);
    }

    fn relation(&self, prefix: &IpNet) -> Option<Relation> {
        if prefix.prefix_len() == 0 {
            // A default route covers everything and says nothing about the network.
            None
        } else if self.watch.prefixes.contains(prefix) {
            Some(Relation::Watched)
        } else if self.watch.aggregates.contains(prefix) {
            Some(Relation::Aggregate)
        } else if self.watch.all_prefixes().any(|w| w.contains(prefix)) {
            Some(Relation::MoreSpecific)
        } else if self.watch.all_prefixes().any(|w| prefix.contains(w)) {
            Some(Relation::Covering)
        } else {
            None
        }
    }

    /// Adds (`delta` 1) or removes (-1) one route from the origin and upstream counts.
    #[allow(clippy::too_many_arguments)]
    fn count_route(
        &mut self,
        at: Timestamp,
        prefix: IpNet,
        relation: Relation,
        path: Option<&AsPath>,
        delta: i32,
        peer: &PeerKey,
        changes: &mut Vec<BgpChange>,
    ) {
        let Some(path) = path else { return };
        for origin in path.possible_origins() {
            let expected = self.watch.origins.contains(&origin);
            let count = self.origin_routes.entry((prefix, origin)).or_insert(0);
            let before = *count;
            *count = count.saturating_add_signed(delta);
            if before == 0 && *count > 0 {
                changes.push(BgpChange::OriginAppeared {
                    seq: 0,
                    at,
                    prefix,
                    relation,
                    origin,
                    expected,
                    as_path: path.clone(),
                    peer: peer.clone(),
                });
            } else if before > 0 && *count == 0 {
                self.origin_routes.remove(&(prefix, origin));
                changes.push(BgpChange::OriginGone {
                    seq: 0,
                    at,
                    prefix,
                    origin,
                    expected,
                });
            }
        }
        let own_route = matches!(relation, Relation::Watched | Relation::Aggregate)
            && path
                .origin()
                .is_some_and(|o| self.watch.origins.contains(&o));
        if let (true, Some(upstream)) = (own_route, path.upstream()) {
            let count = self.upstream_routes.entry(upstream).or_insert(0);
            let before = *count;
            *count = count.saturating_add_signed(delta);
            if before == 0 && *count > 0 {
                changes.push(BgpChange::UpstreamAppeared {
                    seq: 0,
                    at,
                    upstream,
                    known: self.watch.known_upstreams.contains(&upstream),
                    prefix,
                    as_path: path.clone(),
                });
            } else if before > 0 && *count == 0 {
                self.upstream_routes.remove(&upstream);
                changes.push(BgpChange::UpstreamGone {
                    seq: 0,
                    at,
                    upstream,
                });
            }
        }
    }

    fn check_rpki(
        &mut self,
        at: Timestamp,
        prefix: IpNet,
        relation: Relation,
        path: &AsPath,
        changes: &mut Vec<BgpChange>,
    ) {
        if relation == Relation::Covering {
            return;
        }
        let origin = path.origin();
        if self.vrps.is_empty() {
            // Without VRPs nothing is known; a state seen before is forgotten quietly
            // unless it was invalid, whose end is news.
            if self.rpki_seen.remove(&(prefix, origin)) == Some(RpkiState::Invalid) {
                changes.push(BgpChange::Rpki {
                    seq: 0,
                    at,
                    prefix,
                    origin,
                    state: RpkiState::NotFound,
                    vrps: Vec::new(),
                });
            }
            return;
        }
        let state = self.vrps.validate(&prefix, origin);
        if self.rpki_seen.insert((prefix, origin), state) != Some(state) {
            if let Some((summary, _)) = self.history.summary.get_mut(&prefix) {
                summary.rpki.insert(state);
            }
            changes.push(BgpChange::Rpki {
                seq: 0,
                at,
                prefix,
                origin,
                state,
                vrps: self
                    .vrps
                    .covering(&prefix)
                    .iter()
                    .map(|v| v.to_string())
                    .collect(),
            });
        }
    }

    fn record_history(
        &mut self,
        update: &RouteUpdate,
        relation: Relation,
        had_route: bool,
        peers_delta: i32,
    ) {
        let (summary, peers) = self
            .history
            .summary
            .entry(update.prefix)
            .or_insert_with(|| {
                (
                    PrefixSummary {
                        prefix: update.prefix,
                        relation,
                        first_seen: update.at,
                        last_announced: None,
                        last_withdrawn: None,
                        announcements: 0,
                        withdrawals: 0,
                        peers: 0,
                        peers_now: 0,
                        origins: BTreeSet::new(),
                        upstreams: BTreeSet::new(),
                        rpki: BTreeSet::new(),
                    },
                    BTreeSet::new(),
                )
            });
        match &update.change {
            RouteChange::Announce { as_path } => {
                summary.announcements += 1;
                summary.last_announced = Some(update.at);
                summary.origins.extend(as_path.possible_origins());
                summary.upstreams.extend(as_path.upstream());
                if peers.insert(update.peer.clone()) {
                    summary.peers += 1;
                }
            }
            RouteChange::Withdraw if had_route => {
                summary.withdrawals += 1;
                summary.last_withdrawn = Some(update.at);
            }
            RouteChange::Withdraw => {}
        }
        summary.peers_now = summary.peers_now.saturating_add_signed(peers_delta);
    }

    fn refresh_summary_peers_now(&mut self) {
        for (prefix, (summary, _)) in self.history.summary.iter_mut() {
            summary.peers_now = self
                .peers
                .values()
                .filter(|peer| peer.routes.keys().any(|(p, _)| p == prefix))
                .count() as u32;
        }
    }

    fn reclassify_full_feed(&mut self, at: Timestamp, changes: &mut Vec<BgpChange>) {
        // Relative to the largest table of the same collector: a collector's dump is
        // one moment of one era, and archives of several eras may be replayed together.
        let mut largest: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for (key, peer) in &self.peers {
            if let Some((v4, v6)) = peer.table {
                let entry = largest.entry(&key.collector).or_insert((0, 0));
                entry.0 = entry.0.max(v4);
                entry.1 = entry.1.max(v6);
            }
        }
        let largest: BTreeMap<String, (u32, u32)> = largest
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let ratio = self.watch.full_feed_ratio;
        let mut known = 0;
        for (key, peer) in self.peers.iter_mut() {
            if let Some((v4, v6)) = peer.table {
                known += 1;
                let (max_v4, max_v6) = largest.get(&*key.collector).copied().unwrap_or((0, 0));
                peer.full_feed_v4 = max_v4 > 0 && f64::from(v4) >= ratio * f64::from(max_v4);
                peer.full_feed_v6 = max_v6 > 0 && f64::from(v6) >= ratio * f64::from(max_v6);
            }
        }
        let count = self
            .peers
            .values()
            .filter(|p| p.full_feed_v4 || p.full_feed_v6)
            .count() as u32;
        if (count, known) != self.full_feed {
            self.full_feed = (count, known);
            changes.push(BgpChange::FullFeedPeers {
                seq: 0,
                at,
                count,
                of: known,
            });
        }
    }

    /// Does this peer count in the denominator for a prefix of this family?
    fn counts(&self, peer: &Peer, ipv6: bool) -> bool {
        if !peer.active {
            return false;
        }
        if self.full_feed.1 > 0 {
            if ipv6 {
                peer.full_feed_v6
            } else {
                peer.full_feed_v4
            }
        } else {
            peer.observed
        }
    }

    fn denominator_v4(&self) -> u32 {
        self.peers
            .values()
            .filter(|p| self.counts(p, false))
            .count() as u32
    }

    /// Recomputes the views that `touched` can affect (all when None) and reports those that changed.
    /// Recounts the parts of `peers` in the views of `targets`, and reports the
    /// views that changed. Work is proportional to the peers and prefixes named,
    /// not to all peers: a route update touches one peer.
    fn refresh_parts(
        &mut self,
        at: Timestamp,
        peers: &[PeerKey],
        targets: &[IpNet],
        changes: &mut Vec<BgpChange>,
    ) {
        let before: Vec<(IpNet, PrefixView)> = targets
            .iter()
            .filter_map(|prefix| self.views.get(prefix).map(|view| (*prefix, view.clone())))
            .collect();
        for key in peers {
            let Some(peer) = self.peers.get(key) else {
                continue;
            };
            let parts: Vec<(IpNet, Part)> = targets
                .iter()
                .map(|prefix| (*prefix, self.part(peer, *prefix)))
                .collect();
            for (prefix, part) in parts {
                let Some(peer) = self.peers.get_mut(key) else {
                    continue;
                };
                let old = peer.parts.get(&prefix).cloned().unwrap_or_default();
                if old == part {
                    continue;
                }
                if part == Part::default() {
                    peer.parts.remove(&prefix);
                } else {
                    peer.parts.insert(prefix, part.clone());
                }
                if let Some(view) = self.views.get_mut(&prefix) {
                    view.apply_part(&old, -1);
                    view.apply_part(&part, 1);
                }
            }
        }
        for (prefix, previous) in before {
            if let Some(view) = self.views.get(&prefix)
                && *view != previous
            {
                changes.push(BgpChange::Visibility {
                    seq: 0,
                    at,
                    view: view.clone(),
                    previous: previous.visibility(),
                });
            }
        }
    }

    /// Recounts every peer's part in every view (the denominator changed).
    fn refresh_views(&mut self, at: Timestamp, changes: &mut Vec<BgpChange>) {
        let peers: Vec<PeerKey> = self.peers.keys().cloned().collect();
        let targets = self.watch.prefixes.clone();
        self.refresh_parts(at, &peers, &targets, changes);
    }

    /// One peer's part in the view of one watched prefix.
    fn part(&self, peer: &Peer, prefix: IpNet) -> Part {
        if !self.counts(peer, matches!(prefix, IpNet::V6(_))) {
            return Part::default();
        }
        let mut part = Part {
            counted: true,
            ..Part::default()
        };
        let mut paths = peer
            .routes
            .range((prefix, 0)..=(prefix, u32::MAX))
            .map(|(_, path)| path)
            .peekable();
        let mut collect = |path: &AsPath| {
            part.seen = true;
            part.upstreams.extend(path.upstream());
            part.origins.extend(path.possible_origins());
        };
        if paths.peek().is_some() {
            paths.for_each(&mut collect);
        } else {
            self.covering_own_routes(peer, &prefix)
                .into_iter()
                .for_each(&mut collect);
        }
        part.upstreams.sort_unstable();
        part.upstreams.dedup();
        part.origins.sort_unstable();
        part.origins.dedup();
        part
    }

    /// The peer's routes to the network's own aggregates over `prefix`, from the network's origins.
    fn covering_own_routes<'a>(&self, peer: &'a Peer, prefix: &IpNet) -> Vec<&'a AsPath> {
        self.watch
            .aggregates
            .iter()
            .filter(|aggregate| aggregate.contains(prefix))
            .flat_map(|aggregate| peer.routes.range((*aggregate, 0)..=(*aggregate, u32::MAX)))
            .map(|(_, path)| path)
            .filter(|path| {
                path.origin()
                    .is_some_and(|o| self.watch.origins.contains(&o))
            })
            .collect()
    }
}
