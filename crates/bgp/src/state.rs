//! The routes that concern what is tracked, and what follows from them.
//!
//! Routes are kept per prefix, compactly (a peer, an ADD-PATH id, the origin and
//! the upstream: 16 bytes), so that a full table of 7.7 million routes fits. Each
//! input changes one prefix (a route) or one peer (a session going down, a table
//! size), and the state updates only what that can change:
//!
//! - per tracked prefix, how many *counted* peers see it (`seen_by`);
//! - per entity the prefix belongs to, the [`Aggregates`]: prefixes, the sum of
//!   their `seen_by`, the paths per upstream and per origin, RPKI-invalid prefixes;
//! - per family, the denominator: how many peers count.
//!
//! A peer counts (for a family) when it is *full-feed*: its table holds at least
//! `full_feed_ratio` of the largest table of its collector, from the RIB dumps'
//! table sizes, so the rule holds for a 2010 table of 320k prefixes as for today's.
//! Where no table size is known, live feeds let the peers that carried a route to
//! something tracked stand in (`observers_stand_in`); archives do not (a prefix of
//! an updates file is seen only by the peers that happened to re-announce it, so
//! without a table nothing is said). A peer whose session goes down leaves the
//! count: that is a problem of the feed, not an outage of the target.
//!
//! A profile's aggregates (its own less-specifics) cover the prefixes under them:
//! a peer with a route to the aggregate from an expected origin sees them.

use crate::entities::{Aggregates, EntityIdx, EntityInfo, EntityRole};
use crate::rpki::{RpkiState, Vrps};
use crate::watch::{GlobalSet, Tracking, WatchSet};
use blackout_model::{
    AsPath, Asn, BgpInput, Entity, PeerKey, PrefixFilter, RouteChange, RouteUpdate, Timestamp,
};
use ipnet::IpNet;
use rustc_hash::FxHashMap;
use serde::Serialize;
use smallvec::SmallVec;
use std::collections::{BTreeMap, BTreeSet};

/// How a prefix with routes relates to what is tracked.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Relation {
    /// A tracked prefix: it has a visibility and counts for its entities.
    Watched,
    /// An aggregate of a profile's network.
    Aggregate,
    /// Inside a watched prefix.
    MoreSpecific,
    /// A less-specific that is not one of the network's aggregates.
    Covering,
}

/// A prefix's number in the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct PrefixId(pub u32);

/// The address family of a prefix, as an index: 0 IPv4, 1 IPv6.
pub fn family(prefix: &IpNet) -> usize {
    usize::from(matches!(prefix, IpNet::V6(_)))
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
        share(self.seen_by, self.full_feed_peers)
    }

    /// The share of full-feed peers whose path goes through `upstream`.
    pub fn upstream_share(&self, upstream: Asn) -> f64 {
        share(
            self.upstreams.get(&upstream).copied().unwrap_or(0),
            self.full_feed_peers,
        )
    }
}

/// `part` of `whole`, 0 when `whole` is 0.
pub fn share(part: u32, whole: u32) -> f64 {
    if whole == 0 {
        0.0
    } else {
        f64::from(part) / f64::from(whole)
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

/// A change in what the world sees of what is tracked.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BgpChange {
    /// When.
    pub at: Timestamp,
    /// The order of the change among all the state's changes: what came later
    /// within one instant supersedes what came before.
    #[serde(skip)]
    pub seq: u64,
    /// What changed.
    #[serde(flatten)]
    pub kind: ChangeKind,
}

/// What a [`BgpChange`] is about.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "change", rename_all = "kebab-case")]
pub enum ChangeKind {
    /// What the counted peers see of a tracked prefix changed: the peers that see
    /// it, or the upstreams or origins of their paths.
    Visibility {
        /// The prefix.
        prefix: IpNet,
        /// Its number.
        #[serde(skip)]
        id: PrefixId,
        /// Counted peers that see it now.
        seen_by: u32,
        /// Counted peers of its family (the denominator).
        of: u32,
        /// Counted peers that saw it before.
        previous: u32,
        /// The upstreams whose paths to it changed in number (gained or lost a
        /// counted peer's path): only their shares of the prefix's entities moved.
        #[serde(skip)]
        upstreams: SmallVec<[Asn; 4]>,
    },
    /// The number of counted peers of a family changed: every prefix of the
    /// family has a new visibility.
    Denominator {
        /// 0 IPv4, 1 IPv6.
        family: usize,
        /// Counted peers now.
        of: u32,
        /// Counted peers before.
        previous: u32,
    },
    /// An origin is now seen for a prefix that concerns a profile's network, where
    /// none of the peers saw it before.
    OriginAppeared {
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
        /// The prefix.
        prefix: IpNet,
        /// The origin.
        origin: Asn,
        /// Was it one of the profile's origins?
        expected: bool,
    },
    /// Paths to a profile's networks now run through an AS that no path used before.
    UpstreamAppeared {
        /// The upstream.
        upstream: Asn,
        /// Does the profile name it (as expected or historical)?
        known: bool,
        /// The prefix of the first such path.
        prefix: IpNet,
        /// That path.
        as_path: AsPath,
    },
    /// No path to a profile's networks runs through that upstream any more.
    UpstreamGone {
        /// The upstream.
        upstream: Asn,
    },
    /// A route's RPKI state, the first time it is seen or when it changes (a
    /// profile's prefixes; the global view keeps counts per entity instead).
    Rpki {
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
        /// How many peers are full-feed now (either family).
        count: u32,
        /// How many peers have a known table size.
        of: u32,
    },
}

/// Everything seen of one prefix of a profile over the whole run, for the summary.
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

/// One route, compactly: who, which path, and the two ASes that matter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Route {
    peer: u32,
    path_id: u32,
    /// The origin, 0 for none (an AS_SET at the end, or an empty path).
    origin: u32,
    /// The AS before the origin, prepending removed, 0 for none.
    upstream: u32,
}

impl Route {
    fn of(peer: u32, path_id: u32, path: &AsPath) -> Self {
        Route {
            peer,
            path_id,
            origin: path.origin().map_or(0, |a| a.0),
            upstream: path.upstream().map_or(0, |a| a.0),
        }
    }
}

struct PrefixEntry {
    net: IpNet,
    relation: Relation,
    routes: Vec<Route>,
    /// Counted peers that see it (tracked prefixes).
    seen_by: u32,
    /// The entities it counts for (tracked prefixes).
    members: SmallVec<[EntityIdx; 2]>,
    /// For an aggregate, the watched prefixes under it; for a watched prefix, the
    /// aggregates over it (a profile's).
    related: Vec<u32>,
    /// Routes that are RPKI-invalid now (the global view).
    invalid_routes: u32,
}

#[derive(Default)]
struct Peer {
    key: Option<PeerKey>,
    /// IPv4 and IPv6 table sizes from the last RIB dump.
    table: Option<(u32, u32)>,
    /// False once its session went down, until it speaks again.
    active: bool,
    /// Has it carried a route to something tracked, per family?
    observed: [bool; 2],
    full_feed: [bool; 2],
    /// Does it count now, per family?
    counted: [bool; 2],
}

/// One peer's part in one watched prefix: the upstreams and origins of its paths.
#[derive(Clone, Debug, Default, PartialEq)]
struct Part {
    seen: bool,
    upstreams: SmallVec<[u32; 2]>,
    origins: SmallVec<[u32; 2]>,
}

#[derive(Default)]
struct History {
    summary: BTreeMap<IpNet, (PrefixSummary, BTreeSet<PeerKey>)>,
}

/// The BGP state of what is tracked, as all sources report it.
pub struct BgpState {
    tracking: Tracking,
    filter: PrefixFilter,
    observers_stand_in: bool,
    vrps: Vrps,
    peers: Vec<Peer>,
    peer_index: FxHashMap<PeerKey, u32>,
    prefixes: Vec<PrefixEntry>,
    prefix_index: FxHashMap<IpNet, u32>,
    entities: Vec<EntityInfo>,
    entity_index: FxHashMap<Entity, EntityIdx>,
    aggregates: Vec<Aggregates>,
    /// Each entity's tracked prefixes.
    entity_prefixes: Vec<Vec<PrefixId>>,
    /// Counted peers per family: the denominators.
    counted: [u32; 2],
    /// The profile's expected origins, kept here because every route to a
    /// profile's prefix asks (a profile of thousands of networks would otherwise
    /// build the set once per route).
    profile_origins: BTreeSet<Asn>,
    /// The lengths of a profile's watched prefixes and aggregates, per family, so
    /// that whether a new route lies inside one takes a lookup per length rather
    /// than a scan of all of them.
    watched_lengths: [BTreeSet<u8>; 2],
    /// Routes per (prefix, origin), any peer (a profile's).
    origin_routes: FxHashMap<(u32, Asn), u32>,
    /// Routes to watched prefixes and aggregates per upstream, any peer (a profile's).
    upstream_routes: BTreeMap<Asn, u32>,
    rpki_seen: FxHashMap<(u32, Option<Asn>), RpkiState>,
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
    /// An empty state watching a profile's networks, validating against `vrps`
    /// (empty for none); without table sizes, observing peers stand in.
    pub fn new(watch: WatchSet, vrps: Vrps) -> Self {
        BgpState::tracking(Tracking::Networks(watch), vrps)
    }

    /// An empty state for any tracking.
    pub fn tracking(tracking: Tracking, vrps: Vrps) -> Self {
        let mut state = BgpState {
            filter: tracking.filter(),
            tracking,
            observers_stand_in: true,
            vrps,
            peers: Vec::new(),
            peer_index: FxHashMap::default(),
            prefixes: Vec::new(),
            prefix_index: FxHashMap::default(),
            entities: Vec::new(),
            entity_index: FxHashMap::default(),
            aggregates: Vec::new(),
            entity_prefixes: Vec::new(),
            counted: [0, 0],
            profile_origins: BTreeSet::new(),
            watched_lengths: [BTreeSet::new(), BTreeSet::new()],
            origin_routes: FxHashMap::default(),
            upstream_routes: BTreeMap::new(),
            rpki_seen: FxHashMap::default(),
            full_feed: (0, 0),
            sizes_pending: None,
            history: History::default(),
            ignored_routes: 0,
            next_seq: 0,
        };
        if let Tracking::Networks(watch) = state.tracking.clone() {
            state.profile_origins = watch.origins();
            state.register_networks(&watch);
        }
        state
    }

    /// Whether peers that carried a route stand in for full-feed peers when no
    /// table size is known (live feeds: yes; archives without a RIB: no).
    pub fn set_observers_stand_in(&mut self, stand_in: bool) {
        self.observers_stand_in = stand_in;
    }

    fn register_networks(&mut self, watch: &WatchSet) {
        for prefix in watch.all_prefixes() {
            self.watched_lengths[family(prefix)].insert(prefix.prefix_len());
        }
        let whole = watch.whole.as_ref().map(|(entity, name)| {
            self.entity(
                entity.clone(),
                name.clone(),
                EntityRole::Whole,
                watch.origins().into_iter().collect(),
            )
        });
        for network in &watch.networks {
            let own = self.entity(
                network.entity.clone(),
                network.name.clone(),
                EntityRole::Network,
                vec![network.origin],
            );
            let members: SmallVec<[EntityIdx; 2]> = std::iter::once(own).chain(whole).collect();
            for prefix in &network.prefixes {
                let id = self.entry(*prefix, Relation::Watched);
                for member in &members {
                    self.join(id, *member);
                }
            }
        }
        let by_address = AddressOrder::of(watch.prefixes());
        for aggregate in watch.aggregates() {
            let id = self.entry(*aggregate, Relation::Aggregate);
            let under: Vec<u32> = by_address
                .inside(aggregate)
                .into_iter()
                .filter_map(|p| self.prefix_index.get(p).copied())
                .collect();
            for watched in &under {
                self.prefixes[*watched as usize].related.push(id);
            }
            self.prefixes[id as usize].related = under;
        }
    }

    /// The entity's number, made on first use.
    fn entity(
        &mut self,
        entity: Entity,
        name: String,
        role: EntityRole,
        origins: Vec<Asn>,
    ) -> EntityIdx {
        if let Some(idx) = self.entity_index.get(&entity) {
            return *idx;
        }
        let idx = EntityIdx(self.entities.len() as u32);
        self.entity_index.insert(entity.clone(), idx);
        self.entities.push(EntityInfo {
            entity,
            name,
            role,
            origins,
        });
        self.aggregates.push(Aggregates::default());
        self.entity_prefixes.push(Vec::new());
        idx
    }

    /// A tracked prefix (with no routes yet) joins an entity.
    fn join(&mut self, id: u32, member: EntityIdx) {
        let entry = &mut self.prefixes[id as usize];
        if entry.members.contains(&member) {
            return;
        }
        entry.members.push(member);
        self.aggregates[member.index()].prefixes[family(&entry.net)] += 1;
        self.entity_prefixes[member.index()].push(PrefixId(id));
    }

    /// The prefix's entry, made on first use.
    fn entry(&mut self, net: IpNet, relation: Relation) -> u32 {
        if let Some(id) = self.prefix_index.get(&net) {
            return *id;
        }
        let id = self.prefixes.len() as u32;
        self.prefix_index.insert(net, id);
        self.prefixes.push(PrefixEntry {
            net,
            relation,
            routes: Vec::new(),
            seen_by: 0,
            members: SmallVec::new(),
            related: Vec::new(),
            invalid_routes: 0,
        });
        id
    }

    /// What is tracked.
    pub fn tracking_of(&self) -> &Tracking {
        &self.tracking
    }

    /// The profile's networks, if the state tracks a profile.
    pub fn watch(&self) -> Option<&WatchSet> {
        match &self.tracking {
            Tracking::Networks(watch) => Some(watch),
            Tracking::Global(_) => None,
        }
    }

    /// The filter that feeds and readers apply for this state.
    pub fn filter(&self) -> &PrefixFilter {
        &self.filter
    }

    /// Every entity, by number.
    pub fn entities(&self) -> &[EntityInfo] {
        &self.entities
    }

    /// The number of an entity, if the state knows it.
    pub fn entity_index(&self, entity: &Entity) -> Option<EntityIdx> {
        self.entity_index.get(entity).copied()
    }

    /// An entity's aggregates.
    pub fn aggregates(&self, entity: EntityIdx) -> &Aggregates {
        &self.aggregates[entity.index()]
    }

    /// Counted peers per family (IPv4, IPv6).
    pub fn denominators(&self) -> [u32; 2] {
        self.counted
    }

    /// An entity's tracked prefixes.
    pub fn prefixes_of(&self, entity: EntityIdx) -> &[PrefixId] {
        &self.entity_prefixes[entity.index()]
    }

    /// The entities a tracked prefix counts for.
    pub fn members(&self, prefix: PrefixId) -> &[EntityIdx] {
        &self.prefixes[prefix.0 as usize].members
    }

    /// The prefix of a number.
    pub fn prefix(&self, prefix: PrefixId) -> IpNet {
        self.prefixes[prefix.0 as usize].net
    }

    /// The number of a prefix, if it has an entry.
    pub fn prefix_id(&self, prefix: &IpNet) -> Option<PrefixId> {
        self.prefix_index.get(prefix).map(|id| PrefixId(*id))
    }

    /// Counted peers that see a tracked prefix.
    pub fn seen_by(&self, prefix: PrefixId) -> u32 {
        self.prefixes[prefix.0 as usize].seen_by
    }

    /// The visibility of a tracked prefix (0 when no peer counts).
    pub fn visibility(&self, prefix: PrefixId) -> f64 {
        let entry = &self.prefixes[prefix.0 as usize];
        share(entry.seen_by, self.counted[family(&entry.net)])
    }

    /// Every tracked prefix with its number, in the order they were first seen.
    pub fn tracked(&self) -> impl Iterator<Item = (PrefixId, IpNet)> + '_ {
        self.prefixes
            .iter()
            .enumerate()
            .filter(|(_, e)| e.relation == Relation::Watched)
            .map(|(id, e)| (PrefixId(id as u32), e.net))
    }

    /// The current view of every watched prefix of a profile (computed: cheap for
    /// a profile's prefixes, not meant for the global view).
    pub fn views(&self) -> Vec<PrefixView> {
        self.watch()
            .map(|watch| watch.prefixes().filter_map(|p| self.view(p)).collect())
            .unwrap_or_default()
    }

    /// The current view of one tracked prefix.
    pub fn view(&self, prefix: &IpNet) -> Option<PrefixView> {
        let id = *self.prefix_index.get(prefix)?;
        let entry = &self.prefixes[id as usize];
        if entry.relation != Relation::Watched {
            return None;
        }
        let mut view = PrefixView {
            prefix: *prefix,
            seen_by: 0,
            full_feed_peers: self.counted[family(prefix)],
            upstreams: BTreeMap::new(),
            origins: BTreeMap::new(),
        };
        for peer in self.peers_with_part(id) {
            let part = self.part(id, peer, self.peers[peer as usize].counted[family(prefix)]);
            if part.seen {
                view.seen_by += 1;
            }
            for upstream in part.upstreams {
                *view.upstreams.entry(Asn(upstream)).or_insert(0) += 1;
            }
            for origin in part.origins {
                *view.origins.entry(Asn(origin)).or_insert(0) += 1;
            }
        }
        Some(view)
    }

    /// Everything seen of each prefix that concerns a profile's networks.
    pub fn summaries(&self) -> impl Iterator<Item = &PrefixSummary> {
        self.history.summary.values().map(|(summary, _)| summary)
    }

    /// Peers known (any route or table size), and how many count for IPv4 now.
    pub fn peer_counts(&self) -> (usize, u32) {
        (self.peers.len(), self.counted[0])
    }

    /// Peers with a known table size.
    pub fn peers_with_table(&self) -> u32 {
        self.full_feed.1
    }

    /// Routes that did not concern what is tracked and were dropped.
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
            let idx = self.peer(peer);
            let entry = &mut self.peers[idx as usize];
            entry.table = Some((*ipv4, *ipv6));
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
    /// changes are reported (a profile's) or counted (the global view).
    pub fn set_vrps(&mut self, at: Timestamp, vrps: Vrps) -> Vec<BgpChange> {
        self.vrps = vrps;
        let mut changes = Vec::new();
        let global = matches!(self.tracking, Tracking::Global(_));
        for id in 0..self.prefixes.len() {
            let (net, relation) = (self.prefixes[id].net, self.prefixes[id].relation);
            if global {
                let invalid = self.prefixes[id]
                    .routes
                    .iter()
                    .filter(|r| self.invalid(&net, r.origin))
                    .count() as u32;
                let before = self.prefixes[id].invalid_routes;
                self.prefixes[id].invalid_routes = invalid;
                self.count_invalid(id as u32, before, invalid);
                continue;
            }
            let origins: BTreeSet<u32> =
                self.prefixes[id].routes.iter().map(|r| r.origin).collect();
            for origin in origins {
                let origin = (origin != 0).then_some(Asn(origin));
                self.check_rpki(at, id as u32, net, relation, origin, &mut changes);
            }
        }
        if !global {
            // A prefix already withdrawn everywhere is judged by the origins it was
            // last seen with: where validating networks dropped a route before the
            // new VRPs were read here, the prefix is dark because it is invalid.
            let mut gone: Vec<(u32, Option<Asn>)> = self
                .rpki_seen
                .keys()
                .filter(|(id, _)| self.prefixes[*id as usize].routes.is_empty())
                .copied()
                .collect();
            gone.sort_unstable();
            for (id, origin) in gone {
                let (net, relation) = (
                    self.prefixes[id as usize].net,
                    self.prefixes[id as usize].relation,
                );
                self.check_rpki(at, id, net, relation, origin, &mut changes);
            }
        }
        self.numbered(changes)
    }

    fn numbered(&mut self, mut changes: Vec<BgpChange>) -> Vec<BgpChange> {
        for change in &mut changes {
            change.seq = self.next_seq;
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

    /// Takes in the table sizes received at an instant before `at`, if any: an
    /// input at `at` is about to come, and what the earlier instant left must be
    /// weighed with it, not with the later one. Sizes of `at` itself stay pending
    /// for the rest of their table.
    pub fn flush_before(&mut self, at: Timestamp) -> Vec<BgpChange> {
        if self.sizes_pending.is_some_and(|pending| pending < at) {
            self.flush()
        } else {
            Vec::new()
        }
    }

    fn apply_sizes(&mut self, changes: &mut Vec<BgpChange>) {
        if let Some(at) = self.sizes_pending.take() {
            self.reclassify_full_feed(at, changes);
        }
    }

    fn peer(&mut self, key: &PeerKey) -> u32 {
        if let Some(idx) = self.peer_index.get(key) {
            return *idx;
        }
        let idx = self.peers.len() as u32;
        self.peer_index.insert(key.clone(), idx);
        self.peers.push(Peer {
            key: Some(key.clone()),
            active: true,
            ..Peer::default()
        });
        idx
    }

    /// The entry a route to `prefix` goes to, made if it concerns what is tracked.
    fn entry_for(&mut self, update: &RouteUpdate) -> Option<u32> {
        let prefix = update.prefix;
        if let Some(id) = self.prefix_index.get(&prefix) {
            return Some(*id);
        }
        if !self.filter.wants(&prefix) {
            return None;
        }
        // Nothing to keep of a withdrawal of a route never seen.
        let RouteChange::Announce { as_path } = &update.change else {
            return None;
        };
        match &self.tracking {
            Tracking::Networks(_) => {
                let relation = if self.inside_watched(&prefix) {
                    Relation::MoreSpecific
                } else {
                    Relation::Covering
                };
                Some(self.entry(prefix, relation))
            }
            Tracking::Global(global) => {
                if !global.tracks(&prefix) {
                    return None;
                }
                let global = global.clone();
                let id = self.entry(prefix, Relation::Watched);
                self.join_global(id, &global, as_path.origin());
                Some(id)
            }
        }
    }

    /// Does `prefix` lie inside (or equal) a profile's watched prefix or aggregate?
    /// Looks up its supernet at each length the profile uses.
    fn inside_watched(&self, prefix: &IpNet) -> bool {
        self.watched_lengths[family(prefix)]
            .range(..=prefix.prefix_len())
            .any(|len| {
                let supernet = IpNet::new(prefix.addr(), *len)
                    .map(|net| net.trunc())
                    .expect("a length no longer than the prefix's own is valid");
                self.prefix_index.get(&supernet).is_some_and(|id| {
                    matches!(
                        self.prefixes[*id as usize].relation,
                        Relation::Watched | Relation::Aggregate
                    )
                })
            })
    }

    /// A new prefix of the global view joins its country and its origin AS.
    fn join_global(&mut self, id: u32, global: &GlobalSet, origin: Option<Asn>) {
        let net = self.prefixes[id as usize].net;
        let mut members: SmallVec<[EntityIdx; 2]> = SmallVec::new();
        if let Some(country) = global.countries.country_of(&net) {
            let code = country.to_string();
            members.push(self.entity(
                Entity::Country(code.clone()),
                code,
                EntityRole::Country,
                Vec::new(),
            ));
        }
        if let Some(origin) = origin {
            members.push(self.entity(
                Entity::As(origin),
                origin.to_string(),
                EntityRole::Origin,
                vec![origin],
            ));
        }
        for member in members {
            self.join(id, member);
        }
    }

    fn apply_route(&mut self, update: &RouteUpdate, changes: &mut Vec<BgpChange>) {
        let Some(id) = self.entry_for(update) else {
            self.ignored_routes += 1;
            return;
        };
        let at = update.at;
        let (net, relation) = {
            let entry = &self.prefixes[id as usize];
            (entry.net, entry.relation)
        };
        let fam = family(&net);
        let peer = self.peer(&update.peer);
        let announce = matches!(update.change, RouteChange::Announce { .. });
        // A peer that speaks again after its session went down, or for the first
        // time, may change the denominator.
        let standing_changed = {
            let p = &self.peers[peer as usize];
            !p.active || (!p.observed[fam] && announce)
        };
        {
            let p = &mut self.peers[peer as usize];
            p.active = true;
            if announce {
                p.observed[fam] = true;
            }
        }
        let path_id = update.path_id.unwrap_or(0);
        let new = match &update.change {
            RouteChange::Announce { as_path } => Some(Route::of(peer, path_id, as_path)),
            RouteChange::Withdraw => None,
        };
        let position = self.prefixes[id as usize]
            .routes
            .iter()
            .position(|r| r.peer == peer && r.path_id == path_id);
        let old = position.map(|i| self.prefixes[id as usize].routes[i]);
        let had_prefix = self.has_route(id, peer);
        if self.is_profile() {
            let has_after = new.is_some()
                || self.prefixes[id as usize]
                    .routes
                    .iter()
                    .any(|r| r.peer == peer && r.path_id != path_id);
            self.record_history(
                update,
                relation,
                old.is_some(),
                i32::from(has_after) - i32::from(had_prefix),
            );
        }
        if old == new && !standing_changed {
            // A duplicate withdrawal, or the same path again: nothing moved.
            return;
        }
        // The watched prefixes this route can change the view of, and this peer's
        // part in each before the change.
        let targets: SmallVec<[u32; 4]> = match relation {
            Relation::Watched => smallvec::smallvec![id],
            Relation::Aggregate => self.prefixes[id as usize].related.iter().copied().collect(),
            Relation::MoreSpecific | Relation::Covering => SmallVec::new(),
        };
        let before: SmallVec<[Part; 4]> = targets
            .iter()
            .map(|t| self.part(*t, peer, self.peers[peer as usize].counted[fam]))
            .collect();
        {
            let routes = &mut self.prefixes[id as usize].routes;
            match (position, new) {
                (Some(i), Some(route)) => routes[i] = route,
                (Some(i), None) => {
                    routes.swap_remove(i);
                }
                (None, Some(route)) => routes.push(route),
                (None, None) => {}
            }
        }
        if let Some(old) = old {
            self.count_route(at, id, relation, old, -1, None, &update.peer, changes);
        }
        if let (Some(route), RouteChange::Announce { as_path }) = (new, &update.change) {
            self.count_route(
                at,
                id,
                relation,
                route,
                1,
                Some(as_path),
                &update.peer,
                changes,
            );
        }
        self.validate_route(at, id, old, new, changes);
        for (target, before) in targets.iter().zip(before) {
            let after = self.part(*target, peer, self.peers[peer as usize].counted[fam]);
            self.apply_part(at, *target, &before, &after, changes);
        }
        if standing_changed {
            self.restand(at, &[peer], changes);
        }
    }

    fn is_profile(&self) -> bool {
        matches!(self.tracking, Tracking::Networks(_))
    }

    fn has_route(&self, id: u32, peer: u32) -> bool {
        self.prefixes[id as usize]
            .routes
            .iter()
            .any(|r| r.peer == peer)
    }

    /// The peers that may have a part in watched prefix `id`: those with a route to
    /// it or to an aggregate over it, each once.
    fn peers_with_part(&self, id: u32) -> BTreeSet<u32> {
        let entry = &self.prefixes[id as usize];
        entry
            .routes
            .iter()
            .map(|r| r.peer)
            .chain(
                entry
                    .related
                    .iter()
                    .flat_map(|a| self.prefixes[*a as usize].routes.iter().map(|r| r.peer)),
            )
            .collect()
    }

    /// One peer's part in watched prefix `id`, if it counts.
    fn part(&self, id: u32, peer: u32, counted: bool) -> Part {
        let mut part = Part::default();
        if !counted {
            return part;
        }
        let entry = &self.prefixes[id as usize];
        let mut take = |route: &Route| {
            part.seen = true;
            if route.upstream != 0 && !part.upstreams.contains(&route.upstream) {
                part.upstreams.push(route.upstream);
            }
            if route.origin != 0 && !part.origins.contains(&route.origin) {
                part.origins.push(route.origin);
            }
        };
        let mut direct = false;
        for route in entry.routes.iter().filter(|r| r.peer == peer) {
            direct = true;
            take(route);
        }
        if !direct && !entry.related.is_empty() {
            let origins = &self.profile_origins;
            for aggregate in &entry.related {
                for route in self.prefixes[*aggregate as usize]
                    .routes
                    .iter()
                    .filter(|r| r.peer == peer && origins.contains(&Asn(r.origin)))
                {
                    take(route);
                }
            }
        }
        part.upstreams.sort_unstable();
        part.origins.sort_unstable();
        part
    }

    /// Moves the counts of watched prefix `id` and of its entities from one
    /// peer's part `before` to `after`, and reports the change of view.
    fn apply_part(
        &mut self,
        at: Timestamp,
        id: u32,
        before: &Part,
        after: &Part,
        changes: &mut Vec<BgpChange>,
    ) {
        self.apply_parts(at, id, &[(before, after)], changes);
    }

    /// Moves the counts of watched prefix `id` and of its entities from several
    /// peers' parts before to after, and reports the change of view once: a
    /// full-feed set settling at the end of a table dump moves every peer's part
    /// in every prefix, and one change per prefix (not per prefix and peer) keeps
    /// that to the size of the table.
    fn apply_parts(
        &mut self,
        at: Timestamp,
        id: u32,
        moves: &[(&Part, &Part)],
        changes: &mut Vec<BgpChange>,
    ) {
        if moves.iter().all(|(before, after)| before == after) {
            return;
        }
        let fam = family(&self.prefixes[id as usize].net);
        let seen_delta: i64 = moves
            .iter()
            .map(|(before, after)| i64::from(after.seen) - i64::from(before.seen))
            .sum();
        let previous = self.prefixes[id as usize].seen_by;
        let seen_by = previous.saturating_add_signed(seen_delta as i32);
        self.prefixes[id as usize].seen_by = seen_by;
        let mut upstreams: SmallVec<[Asn; 4]> = SmallVec::new();
        for member in self.prefixes[id as usize].members.clone() {
            let aggregates = &mut self.aggregates[member.index()];
            aggregates.seen[fam] = aggregates.seen[fam].saturating_add_signed(seen_delta);
            for (before, after) in moves {
                for upstream in &before.upstreams {
                    aggregates.add_upstream(Asn(*upstream), fam, -1);
                }
                for upstream in &after.upstreams {
                    aggregates.add_upstream(Asn(*upstream), fam, 1);
                }
                for origin in &before.origins {
                    aggregates.add_origin(Asn(*origin), -1);
                }
                for origin in &after.origins {
                    aggregates.add_origin(Asn(*origin), 1);
                }
            }
        }
        for (before, after) in moves {
            for upstream in moved_upstreams(&before.upstreams, &after.upstreams) {
                if !upstreams.contains(&upstream) {
                    upstreams.push(upstream);
                }
            }
        }
        changes.push(BgpChange {
            at,
            seq: 0,
            kind: ChangeKind::Visibility {
                prefix: self.prefixes[id as usize].net,
                id: PrefixId(id),
                seen_by,
                of: self.counted[fam],
                previous,
                upstreams,
            },
        });
    }

    fn apply_peer_down(&mut self, at: Timestamp, key: &PeerKey, changes: &mut Vec<BgpChange>) {
        let Some(peer) = self.peer_index.get(key).copied() else {
            return;
        };
        // Every watched prefix this peer has a part in, and its part there now.
        let mut touched: BTreeMap<u32, Part> = BTreeMap::new();
        for id in 0..self.prefixes.len() as u32 {
            let entry = &self.prefixes[id as usize];
            if !entry.routes.iter().any(|r| r.peer == peer) {
                continue;
            }
            let targets: Vec<u32> = match entry.relation {
                Relation::Watched => vec![id],
                Relation::Aggregate => entry.related.clone(),
                _ => Vec::new(),
            };
            for target in targets {
                if let std::collections::btree_map::Entry::Vacant(slot) = touched.entry(target) {
                    let fam = family(&self.prefixes[target as usize].net);
                    slot.insert(self.part(target, peer, self.peers[peer as usize].counted[fam]));
                }
            }
        }
        self.peers[peer as usize].active = false;
        for id in 0..self.prefixes.len() as u32 {
            let removed: Vec<Route> = {
                let routes = &mut self.prefixes[id as usize].routes;
                let (gone, kept): (Vec<Route>, Vec<Route>) =
                    routes.iter().partition(|r| r.peer == peer);
                if gone.is_empty() {
                    continue;
                }
                *routes = kept;
                gone
            };
            let relation = self.prefixes[id as usize].relation;
            let net = self.prefixes[id as usize].net;
            if let Some((summary, _)) = self.history.summary.get_mut(&net) {
                summary.withdrawals += removed.len() as u64;
                summary.last_withdrawn = Some(at);
                summary.peers_now = summary.peers_now.saturating_sub(1);
            }
            for route in removed {
                self.count_route(at, id, relation, route, -1, None, key, changes);
                self.validate_route(at, id, Some(route), None, changes);
            }
        }
        // The peer leaves the denominators before its parts go, so that every
        // view reported is over the peers that count now.
        let previous = self.counted;
        self.update_standing(&[peer]);
        for (target, before) in touched {
            self.apply_part(at, target, &before, &Part::default(), changes);
        }
        self.report_denominators(at, previous, changes);
    }

    /// Works out again whether `peers` count, and moves their parts where that
    /// changed, in one pass over the prefixes for all of them.
    fn restand(&mut self, at: Timestamp, peers: &[u32], changes: &mut Vec<BgpChange>) {
        let previous = self.counted;
        let flipped = self.update_standing(peers);
        if flipped.is_empty() {
            return;
        }
        // The parts of the flipped peers in every watched prefix they have routes
        // for (directly or through an aggregate), moved one prefix at a time.
        let flipped_peers: BTreeMap<u32, [bool; 2]> = flipped.into_iter().collect();
        for id in 0..self.prefixes.len() as u32 {
            if self.prefixes[id as usize].relation != Relation::Watched {
                continue;
            }
            let peers: BTreeSet<u32> = self
                .peers_with_part(id)
                .into_iter()
                .filter(|peer| flipped_peers.contains_key(peer))
                .collect();
            if peers.is_empty() {
                continue;
            }
            let fam = family(&self.prefixes[id as usize].net);
            let moves: Vec<(Part, Part)> = peers
                .iter()
                .map(|peer| {
                    (
                        self.part(id, *peer, flipped_peers[peer][fam]),
                        self.part(id, *peer, self.peers[*peer as usize].counted[fam]),
                    )
                })
                .collect();
            let moves: Vec<(&Part, &Part)> = moves.iter().map(|(b, a)| (b, a)).collect();
            self.apply_parts(at, id, &moves, changes);
        }
        self.report_denominators(at, previous, changes);
    }

    /// Sets whether each of `peers` counts now and the denominators with it;
    /// returns the peers whose standing changed, with how they stood before.
    fn update_standing(&mut self, peers: &[u32]) -> Vec<(u32, [bool; 2])> {
        let any_table = self.full_feed.1 > 0;
        let stand_in = self.observers_stand_in;
        let mut flipped = Vec::new();
        for &peer in peers {
            let p = &mut self.peers[peer as usize];
            let before = p.counted;
            for (fam, total) in self.counted.iter_mut().enumerate() {
                p.counted[fam] = p.active
                    && if any_table {
                        p.full_feed[fam]
                    } else {
                        stand_in && p.observed[fam]
                    };
                if p.counted[fam] != before[fam] {
                    *total = if p.counted[fam] {
                        *total + 1
                    } else {
                        total.saturating_sub(1)
                    };
                }
            }
            if p.counted != before {
                flipped.push((peer, before));
            }
        }
        flipped
    }

    fn report_denominators(
        &mut self,
        at: Timestamp,
        previous: [u32; 2],
        changes: &mut Vec<BgpChange>,
    ) {
        for (fam, (now, before)) in self.counted.iter().zip(previous).enumerate() {
            if *now != before {
                changes.push(BgpChange {
                    at,
                    seq: 0,
                    kind: ChangeKind::Denominator {
                        family: fam,
                        of: *now,
                        previous: before,
                    },
                });
            }
        }
    }

    /// Adds (`delta` 1) or removes (-1) one route from the origin and upstream
    /// counts of a profile's prefixes.
    #[allow(clippy::too_many_arguments)]
    fn count_route(
        &mut self,
        at: Timestamp,
        id: u32,
        relation: Relation,
        route: Route,
        delta: i32,
        path: Option<&AsPath>,
        peer: &PeerKey,
        changes: &mut Vec<BgpChange>,
    ) {
        let Tracking::Networks(watch) = &self.tracking else {
            return;
        };
        let net = self.prefixes[id as usize].net;
        let origins = &self.profile_origins;
        let known_upstreams = &watch.known_upstreams;
        let mut new_changes: Vec<ChangeKind> = Vec::new();
        // A path ending in an AS_SET names no one origin: it is counted for none
        // (the compact route does not keep the set).
        if route.origin != 0 {
            let origin = Asn(route.origin);
            let expected = origins.contains(&origin);
            let count = self.origin_routes.entry((id, origin)).or_insert(0);
            let before = *count;
            *count = count.saturating_add_signed(delta);
            if before == 0 && *count > 0 {
                new_changes.push(ChangeKind::OriginAppeared {
                    prefix: net,
                    relation,
                    origin,
                    expected,
                    as_path: path.cloned().unwrap_or_default(),
                    peer: peer.clone(),
                });
            } else if before > 0 && *count == 0 {
                self.origin_routes.remove(&(id, origin));
                new_changes.push(ChangeKind::OriginGone {
                    prefix: net,
                    origin,
                    expected,
                });
            }
        }
        let own_route = matches!(relation, Relation::Watched | Relation::Aggregate)
            && route.origin != 0
            && origins.contains(&Asn(route.origin));
        if own_route && route.upstream != 0 {
            let upstream = Asn(route.upstream);
            let count = self.upstream_routes.entry(upstream).or_insert(0);
            let before = *count;
            *count = count.saturating_add_signed(delta);
            if before == 0 && *count > 0 {
                new_changes.push(ChangeKind::UpstreamAppeared {
                    upstream,
                    known: known_upstreams.contains(&upstream),
                    prefix: net,
                    as_path: path.cloned().unwrap_or_default(),
                });
            } else if before > 0 && *count == 0 {
                self.upstream_routes.remove(&upstream);
                new_changes.push(ChangeKind::UpstreamGone { upstream });
            }
        }
        changes.extend(
            new_changes
                .into_iter()
                .map(|kind| BgpChange { at, seq: 0, kind }),
        );
    }

    fn invalid(&self, net: &IpNet, origin: u32) -> bool {
        self.vrps
            .validate(net, (origin != 0).then_some(Asn(origin)))
            == RpkiState::Invalid
    }

    /// RPKI after a route changed: a profile's routes report their state, the
    /// global view counts invalid prefixes per entity.
    fn validate_route(
        &mut self,
        at: Timestamp,
        id: u32,
        old: Option<Route>,
        new: Option<Route>,
        changes: &mut Vec<BgpChange>,
    ) {
        if self.vrps.is_empty() && !self.is_profile() {
            return;
        }
        let (net, relation) = (
            self.prefixes[id as usize].net,
            self.prefixes[id as usize].relation,
        );
        if self.is_profile() {
            if let Some(route) = new
                && relation != Relation::Covering
            {
                let origin = (route.origin != 0).then_some(Asn(route.origin));
                self.check_rpki(at, id, net, relation, origin, changes);
            }
            return;
        }
        let before = self.prefixes[id as usize].invalid_routes;
        let mut after = before;
        if let Some(route) = old
            && self.invalid(&net, route.origin)
        {
            after = after.saturating_sub(1);
        }
        if let Some(route) = new
            && self.invalid(&net, route.origin)
        {
            after += 1;
        }
        self.prefixes[id as usize].invalid_routes = after;
        self.count_invalid(id, before, after);
    }

    fn count_invalid(&mut self, id: u32, before: u32, after: u32) {
        if (before > 0) == (after > 0) {
            return;
        }
        for member in self.prefixes[id as usize].members.clone() {
            let count = &mut self.aggregates[member.index()].rpki_invalid;
            *count = if after > 0 {
                *count + 1
            } else {
                count.saturating_sub(1)
            };
        }
    }

    fn check_rpki(
        &mut self,
        at: Timestamp,
        id: u32,
        prefix: IpNet,
        relation: Relation,
        origin: Option<Asn>,
        changes: &mut Vec<BgpChange>,
    ) {
        if relation == Relation::Covering {
            return;
        }
        if self.vrps.is_empty() {
            // Without VRPs nothing is known, but the origin is remembered: VRPs read
            // later judge a prefix withdrawn meanwhile by it. A state seen before
            // turns to not-found quietly unless it was invalid, whose end is news.
            if self.rpki_seen.insert((id, origin), RpkiState::NotFound) == Some(RpkiState::Invalid)
            {
                changes.push(BgpChange {
                    at,
                    seq: 0,
                    kind: ChangeKind::Rpki {
                        prefix,
                        origin,
                        state: RpkiState::NotFound,
                        vrps: Vec::new(),
                    },
                });
            }
            return;
        }
        let state = self.vrps.validate(&prefix, origin);
        if self.rpki_seen.insert((id, origin), state) != Some(state) {
            if let Some((summary, _)) = self.history.summary.get_mut(&prefix) {
                summary.rpki.insert(state);
            }
            changes.push(BgpChange {
                at,
                seq: 0,
                kind: ChangeKind::Rpki {
                    prefix,
                    origin,
                    state,
                    vrps: self
                        .vrps
                        .covering(&prefix)
                        .iter()
                        .map(|v| v.to_string())
                        .collect(),
                },
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

    fn reclassify_full_feed(&mut self, at: Timestamp, changes: &mut Vec<BgpChange>) {
        // Relative to the largest table of the same collector: a collector's dump is
        // one moment of one era, and archives of several eras may be replayed together.
        let mut largest: BTreeMap<&str, (u32, u32)> = BTreeMap::new();
        for peer in &self.peers {
            if let (Some((v4, v6)), Some(key)) = (peer.table, &peer.key) {
                let entry = largest.entry(&key.collector).or_insert((0, 0));
                entry.0 = entry.0.max(v4);
                entry.1 = entry.1.max(v6);
            }
        }
        let largest: BTreeMap<String, (u32, u32)> = largest
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let ratio = self.tracking.full_feed_ratio();
        let mut known = 0;
        for peer in self.peers.iter_mut() {
            if let (Some((v4, v6)), Some(key)) = (peer.table, &peer.key) {
                known += 1;
                let (max_v4, max_v6) = largest.get(&*key.collector).copied().unwrap_or((0, 0));
                peer.full_feed[0] = max_v4 > 0 && f64::from(v4) >= ratio * f64::from(max_v4);
                peer.full_feed[1] = max_v6 > 0 && f64::from(v6) >= ratio * f64::from(max_v6);
                peer.active = true;
            }
        }
        let count = self
            .peers
            .iter()
            .filter(|p| p.full_feed[0] || p.full_feed[1])
            .count() as u32;
        if (count, known) != self.full_feed {
            self.full_feed = (count, known);
            changes.push(BgpChange {
                at,
                seq: 0,
                kind: ChangeKind::FullFeedPeers { count, of: known },
            });
        }
        let all: Vec<u32> = (0..self.peers.len() as u32).collect();
        self.restand(at, &all, changes);
    }
}

/// A profile's watched prefixes sorted by family and first address, so that those
/// inside an aggregate are one range of the list: registering A aggregates over W
/// prefixes costs O((A + W) log W) rather than A × W comparisons.
struct AddressOrder<'a> {
    /// (family, first address, place in the profile's order, the prefix).
    sorted: Vec<(usize, u128, usize, &'a IpNet)>,
}

impl<'a> AddressOrder<'a> {
    fn of(prefixes: impl Iterator<Item = &'a IpNet>) -> Self {
        let mut sorted: Vec<_> = prefixes
            .enumerate()
            .map(|(place, prefix)| (family(prefix), first_address(prefix), place, prefix))
            .collect();
        sorted.sort_unstable_by_key(|(fam, first, place, _)| (*fam, *first, *place));
        AddressOrder { sorted }
    }

    /// The prefixes inside (or equal to) `aggregate`, in the profile's order.
    fn inside(&self, aggregate: &IpNet) -> Vec<&'a IpNet> {
        let fam = family(aggregate);
        let (low, high) = (first_address(aggregate), last_address(aggregate));
        let start = self
            .sorted
            .partition_point(|(f, first, _, _)| (*f, *first) < (fam, low));
        let mut found: Vec<(usize, &'a IpNet)> = self.sorted[start..]
            .iter()
            .take_while(|(f, first, _, _)| *f == fam && *first <= high)
            // A shorter prefix starting at the aggregate's first address covers it.
            .filter(|(_, _, _, prefix)| aggregate.contains(*prefix))
            .map(|(_, _, place, prefix)| (*place, *prefix))
            .collect();
        found.sort_unstable_by_key(|(place, _)| *place);
        found.into_iter().map(|(_, prefix)| prefix).collect()
    }
}

fn first_address(prefix: &IpNet) -> u128 {
    match prefix.trunc() {
        IpNet::V4(net) => u128::from(u32::from(net.network())),
        IpNet::V6(net) => u128::from(net.network()),
    }
}

fn last_address(prefix: &IpNet) -> u128 {
    match prefix.trunc() {
        IpNet::V4(net) => u128::from(u32::from(net.broadcast())),
        IpNet::V6(net) => u128::from(net.broadcast()),
    }
}

/// The upstreams in one sorted list and not the other.
fn moved_upstreams(before: &[u32], after: &[u32]) -> SmallVec<[Asn; 4]> {
    let gone = before.iter().filter(|u| after.binary_search(u).is_err());
    let come = after.iter().filter(|u| before.binary_search(u).is_err());
    gone.chain(come).map(|u| Asn(*u)).collect()
}

impl BgpChange {
    /// The number of the change among the state's changes.
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// When the change happened.
    pub fn at(&self) -> Timestamp {
        self.at
    }
}
