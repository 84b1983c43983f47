//! The detector: BGP changes, probe results and feed health in; events out.
//!
//! It owns the [`BgpDetector`] (prefixes and upstreams), the [`ProbeTracker`]
//! (checks), and the events about the network as a whole, its services, the
//! vantage points and the feeds. After each instant (all the signals of one
//! timestamp) it gathers a [`Situation`] and lets the [`rules`](crate::rules)
//! name the cause; an open event is revised when the cause changes (stress first,
//! withdrawals after) and ends when nothing is wrong any more.

use crate::DetectorConfig;
use crate::bgp::{BgpDetector, peer_weight, peers_evidence};
use crate::book::{EventBook, Opening, Slot};
use crate::consensus::{self, PathChange, PathWatch, Split, name_list};
use crate::probes::{CheckState, ProbeSignal, ProbeTracker};
use crate::rules::{CheckView, Situation, Verdict, attribute};
use crate::views::{CheckViews, Vantages};
use blackout_bgp::{BgpChange, BgpState, EntityIdx, EntityRole};
use blackout_model::{
    Cause, Entity, Event, EventId, EventUpdate, Evidence, ProbeKind, ProbeRole, Scope, Severity,
    SignalKind, Timestamp, UpdateKind,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};

/// The health of one of blackout's own feeds, as a signal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedSignal {
    /// When.
    pub at: Timestamp,
    /// The feed (`bmp:198.51.100.1`, `ris-live:rrc00`, `archive`).
    pub feed: String,
    /// Is it delivering?
    pub up: bool,
    /// Is its table still coming in (a session connecting for the first time, or
    /// up without its End-of-RIB yet)? While any feed's is, the routes seen are
    /// not yet the whole view, and no upstream is news.
    #[serde(default)]
    pub loading: bool,
    /// What was seen.
    pub text: String,
}

/// Everything the detector is fed.
#[derive(Clone, Debug, PartialEq)]
pub enum Signal {
    /// A change of the BGP view.
    Bgp(BgpChange),
    /// A probe result.
    Probe(ProbeSignal),
    /// A feed's health.
    Feed(FeedSignal),
    /// Time passes with nothing to say.
    Tick(Timestamp),
}

impl Signal {
    /// When.
    pub fn at(&self) -> Timestamp {
        match self {
            Signal::Bgp(change) => change.at(),
            Signal::Probe(probe) => probe.at,
            Signal::Feed(feed) => feed.at,
            Signal::Tick(at) => *at,
        }
    }
}

/// The whole detector.
pub struct Detector {
    config: DetectorConfig,
    bgp: BgpDetector,
    probes: ProbeTracker,
    book: EventBook,
    /// The instant whose signals are in but not yet weighed.
    pending: Option<Timestamp>,
    /// Its signals.
    batch: Vec<Signal>,
    /// Per network entity: when the stress began, while an outage that began with
    /// stress goes on.
    stress_since: BTreeMap<EntityIdx, Timestamp>,
    /// Per network entity: BGP evidence from before its event opened, the decline
    /// before the fall.
    early_evidence: BTreeMap<EntityIdx, std::collections::VecDeque<Evidence>>,
    last_at: Timestamp,
    /// When events were resumed, while the first look after the restart goes on.
    first_look: Option<Timestamp>,
    /// Per network entity: when its event last ended. Checks that began failing
    /// before it are the outage's tail (they need a round or two to see the return).
    network_back: BTreeMap<EntityIdx, Timestamp>,
    /// Per network entity with an event open: the most prefixes dark at once so
    /// far. A country's scope lists only the first of its dark prefixes, so the
    /// count is what says the outage grew.
    peak_dark: BTreeMap<EntityIdx, usize>,
    /// Per network entity with an event open: since when its summary's peak has
    /// stood, and when it first receded from it, so that a summary kept at the
    /// peak says when that worst was ("at the worst, from 10:02 to 10:09").
    peak_span: BTreeMap<EntityIdx, (Timestamp, Option<Timestamp>)>,
    /// The scope of the latest verdict on each entity's open event: the event
    /// keeps its peak, so a change is news only against what was last said.
    verdict_scope: BTreeMap<EntityIdx, Scope>,
    /// When each vantage point last came back online, for the same reason.
    vantage_back: BTreeMap<String, Timestamp>,
    /// Each feed blackout has heard of, and whether it is up: words about routes
    /// need a feed that is up.
    feeds: BTreeMap<String, bool>,
    /// Per network entity: losses of its routes held back as possible cycles of
    /// a flapping (see [`HeldLoss`]).
    held_losses: BTreeMap<EntityIdx, Vec<HeldLoss>>,
    /// Per network entity: when its routes last moved (a withdrawal, a return,
    /// another path). Vantage points that probe it at different moments of a
    /// routing change see different things; that is no path of theirs at fault.
    routes_moved: BTreeMap<EntityIdx, Timestamp>,
    /// The vantage points that see checks down while others see them up.
    paths: PathWatch,
    /// Every target's checks as the vantage points together judge them, as of
    /// the last instant weighed.
    views: CheckViews,
    /// Every vantage point whose probe results have been judged.
    vantages: BTreeSet<String>,
    /// Results that came too late to be judged (see [`Detector::is_late`]).
    late_results: u64,
    /// The network each target host belongs to, where the profile names one
    /// ([`DetectorConfig::target_networks`], read once).
    target_networks: BTreeMap<String, Entity>,
}

/// A loss of a network's routes that began within a flap window of its last
/// return (or while it flaps): it may be one cycle of a flapping, which is one
/// `flap` event, not an outage per cycle. It opens no event of its own until it
/// has lasted a whole window (then it is a long outage, and its event starts
/// when the loss began); if it comes back and no flapping forms within a window
/// after, it is told after the fact as the outage it was.
#[derive(Clone, Debug)]
struct HeldLoss {
    /// The verdict on the loss, the latest one, with the evidence of every
    /// verdict on it since its onset (each thing as first seen): the latest may
    /// come from after the routes came back, and the event keeps only its own
    /// span's.
    verdict: Verdict,
    /// When the routes came back, once they did.
    back: Option<Timestamp>,
}

/// The key of a vantage point's path event (its offline event has none): the
/// targets it sees down while the other vantage points see them up.
const PATH_KEY: &str = "path";

/// Evidence kept from before the network event opens.
const EARLY_EVIDENCE: usize = 32;

/// The slot of an entity's network event: one per entity, whatever its cause.
fn network_slot(entity: &Entity) -> Slot {
    (entity.clone(), Cause::Internal, String::new())
}

/// The network a check belongs to when its target names none: the profile's
/// whole, else its first network.
fn default_owner(bgp: &BgpState) -> Option<EntityIdx> {
    let entities = bgp.entities();
    entities
        .iter()
        .position(|e| e.role == EntityRole::Whole)
        .or_else(|| entities.iter().position(|e| e.role == EntityRole::Network))
        .map(|i| EntityIdx(i as u32))
}

/// Is this entity one whose network events this detector opens (every entity
/// of the BGP state: a profile's networks and country, or the global view's
/// countries and origin ASes)?
fn is_network(bgp: &BgpState, entity: &Entity) -> Option<EntityIdx> {
    bgp.entity_index(entity)
}

impl Detector {
    /// A detector with nothing seen yet.
    pub fn new(config: DetectorConfig) -> Self {
        let target_networks = config
            .target_networks
            .iter()
            .filter_map(|(host, entity)| Some((host.clone(), entity.parse::<Entity>().ok()?)))
            .collect();
        Detector {
            target_networks,
            bgp: BgpDetector::new(config.clone()),
            config,
            probes: ProbeTracker::default(),
            book: EventBook::default(),
            pending: None,
            batch: Vec::new(),
            stress_since: BTreeMap::new(),
            early_evidence: BTreeMap::new(),
            last_at: Timestamp::EPOCH,
            first_look: None,
            network_back: BTreeMap::new(),
            peak_dark: BTreeMap::new(),
            peak_span: BTreeMap::new(),
            verdict_scope: BTreeMap::new(),
            vantage_back: BTreeMap::new(),
            feeds: BTreeMap::new(),
            held_losses: BTreeMap::new(),
            routes_moved: BTreeMap::new(),
            paths: PathWatch::default(),
            views: CheckViews::default(),
            vantages: BTreeSet::new(),
            late_results: 0,
        }
    }

    /// Results of several vantage points that came later than a vantage point's
    /// view stays current, and were kept out of the verdicts.
    pub fn late_results(&self) -> u64 {
        self.late_results
    }

    /// How long a vantage point's latest result stands as its view when there
    /// are `many` vantage points: with one, it is the clock and its view never
    /// goes stale; with several, a silent one stops voting after a few rounds.
    fn view_max_age(&self, many: bool) -> f64 {
        if many {
            self.config
                .probes
                .results_within_secs(crate::FAIL_AFTER + 1)
        } else {
            f64::INFINITY
        }
    }

    /// Is this result, from one of several vantage points, older than a view
    /// stays current when it comes in? Results come late when an agent sends
    /// what it kept on disk while the broker was away, or when the broker
    /// delivers again what a central that died had taken. Judged now, their
    /// failures would be dated now; they are history (the series and the
    /// store keep them), not news.
    fn is_late(&mut self, probe: &ProbeSignal) -> bool {
        let late = self.would_be_late(probe);
        if !late && !self.vantages.contains(&probe.vantage) {
            self.vantages.insert(probe.vantage.clone());
        }
        late
    }

    /// Would this result come too late to be judged, were it taken now (see
    /// [`Detector::process`])?
    pub fn would_be_late(&self, probe: &ProbeSignal) -> bool {
        self.last_at.secs_since(probe.at) > self.view_max_age_with(&probe.vantage)
    }

    /// How long the view of `vantage` stays current, counting it among the
    /// vantage points.
    pub fn view_max_age_with(&self, vantage: &str) -> f64 {
        let known = self.vantages.contains(vantage);
        self.view_max_age(self.vantages.len() + usize::from(!known) > 1)
    }

    /// Takes up the events that were still open when blackout last stopped, at
    /// `at` (the restart), so that trouble that is still there goes on as the
    /// same event (same id, no second start) and trouble that is gone ends.
    ///
    /// Each event goes back to the slot it was opened in, and the state machines
    /// start from what it says: the prefixes of the network's event are dark
    /// since its start (a return needs `recovery_hold_secs` at or above
    /// `visibility_up` again, as always), a cut upstream is cut, an RPKI-invalid
    /// prefix is invalid, stress that began an outage is remembered. Until
    /// [`Detector::end_first_look`], resumed events are held: a rule that sees the
    /// trouble again confirms one; none is revised or ended, since a fresh
    /// detector has seen too little to say. Returns the events it cannot place
    /// (not of this profile, or a second event for one slot).
    pub fn resume(&mut self, events: Vec<Event>, at: Timestamp, bgp: &BgpState) -> Vec<Event> {
        let mut left = Vec::new();
        for event in events {
            if event.end.is_some() {
                left.push(event);
                continue;
            }
            if let Some(slot) = self.bgp.slot_of(&event, bgp) {
                if let Some(event) = self.bgp.resume(slot, event, bgp) {
                    left.push(event);
                }
                continue;
            }
            let Some(slot) = self.slot_of(&event, bgp) else {
                left.push(event);
                continue;
            };
            if let Some(entity) = is_network(bgp, &slot.0).filter(|_| slot.1 == Cause::Internal) {
                for prefix in &event.scope.prefixes {
                    self.bgp.seed_dark(prefix, event.start, bgp);
                }
                if event.cause == Cause::Ddos {
                    self.stress_since.insert(entity, event.start);
                }
            }
            if let Some(event) = self.book.resume(slot, event) {
                left.push(event);
            }
        }
        self.first_look = Some(at);
        left
    }

    /// Is the first look after a restart still going on?
    pub fn in_first_look(&self) -> bool {
        self.first_look.is_some()
    }

    /// Ends the first look after a restart (see [`Detector::resume`]): call it
    /// once the feeds have had time to deliver their routes and every check has
    /// given enough results to be judged. A resumed event whose end the detector
    /// called for during the first look ends now; one whose trouble nothing
    /// showed again ends at the restart, unless its own state machine will tell
    /// (a cut upstream, flapping, the network's dark prefixes); both carry a note
    /// that they ended while blackout was not watching. The others go on, with a
    /// note of the gap.
    pub fn end_first_look(&mut self, at: Timestamp, bgp: &BgpState) -> Vec<EventUpdate> {
        let mut updates = self.flush(bgp);
        let Some(resumed_at) = self.first_look.take() else {
            return updates;
        };
        self.book.release(
            resumed_at,
            |(entity, cause, _)| *cause == Cause::Internal && bgp.entity_index(entity).is_some(),
            &mut updates,
        );
        updates.extend(self.bgp.release(resumed_at));
        self.last_at = self.last_at.max(at);
        updates
    }

    /// The slot of an event of this part's own: the network's, a service's, a
    /// vantage point's or a feed's.
    fn slot_of(&self, event: &Event, bgp: &BgpState) -> Option<Slot> {
        let slot = match (&event.entity, event.cause) {
            (entity, _) if is_network(bgp, entity).is_some() => network_slot(entity),
            // A vantage point's path event names the targets it cannot see; its
            // offline event names none.
            (Entity::Vantage(_), Cause::Vantage) if !event.scope.hosts.is_empty() => {
                (event.entity.clone(), event.cause, PATH_KEY.to_string())
            }
            (Entity::Service { .. }, Cause::Service)
            | (Entity::Vantage(_), Cause::Vantage)
            | (Entity::Feed(_), Cause::Feed) => (event.entity.clone(), event.cause, String::new()),
            _ => return None,
        };
        Some(slot)
    }

    /// Takes one signal. Signals of one instant are weighed together, when the
    /// first signal of a later instant (or [`Detector::flush`]) arrives, so their
    /// order does not matter.
    pub fn process(&mut self, signal: Signal, bgp: &BgpState) -> Vec<EventUpdate> {
        if let Signal::Probe(probe) = &signal
            && self.is_late(probe)
        {
            self.late_results += 1;
            return Vec::new();
        }
        let at = signal.at().max(self.last_at);
        let mut updates = Vec::new();
        if self.pending.is_some_and(|pending| pending < at) {
            self.weigh(bgp, &mut updates);
        }
        self.last_at = at;
        self.pending = Some(at);
        let mut signal = signal;
        if let Signal::Probe(probe) = &mut signal {
            probe.at = at;
        }
        self.batch.push(signal);
        updates
    }

    /// The BGP state is about to change at `at`: an earlier instant still
    /// pending is weighed now, on the state as it stood then. Weighed later, it
    /// would read the routes of `at` with its own time (a replay's table dump
    /// would see the withdrawals of the hour after it, and date them to itself).
    pub fn weigh_before(&mut self, at: Timestamp, bgp: &BgpState) -> Vec<EventUpdate> {
        let mut updates = Vec::new();
        if self
            .pending
            .is_some_and(|pending| pending < at.max(self.last_at))
        {
            self.weigh(bgp, &mut updates);
        }
        updates
    }

    /// Takes in the signals of the pending instant in a canonical order: BGP
    /// changes in the order the BGP state made them (a later view supersedes an
    /// earlier one), then feeds, then probes, then the passing of time.
    fn take_in(&mut self, at: Timestamp, bgp: &BgpState, updates: &mut Vec<EventUpdate>) {
        let mut batch = std::mem::take(&mut self.batch);
        batch.sort_by_cached_key(order);
        for signal in batch {
            match signal {
                Signal::Bgp(change) => updates.extend(self.bgp.observe(&change, bgp)),
                Signal::Feed(feed) => self.on_feed(at, &feed, updates),
                Signal::Probe(probe) => {
                    self.probes
                        .observe(&probe, self.config.thresholds.loss_degraded);
                }
                Signal::Tick(_) => {}
            }
        }
    }

    /// Adds evidence that the rules do not gather (a traceroute toward the
    /// event's targets, run when it started) to the open event `id`: a revision
    /// of it, or nothing when no event `id` is open (it ended meanwhile) or it is
    /// held through the first look after a restart (kept, and shown then).
    pub fn add_evidence(&mut self, id: &EventId, evidence: Evidence) -> Option<EventUpdate> {
        let mut updates = Vec::new();
        if !self.book.add_evidence(id, evidence.clone(), &mut updates) {
            self.bgp.add_evidence(id, evidence, &mut updates);
        }
        updates.pop()
    }

    /// The events open now, of every part.
    pub fn open_events(&self) -> Vec<&Event> {
        self.book
            .open
            .values()
            .chain(self.bgp.open_events())
            .collect()
    }

    /// The routes to watched prefixes that are RPKI-invalid now: warning states
    /// of their prefixes for the status, not events.
    pub fn rpki_warnings(&self) -> impl Iterator<Item = &crate::RpkiWarning> {
        self.bgp.rpki_warnings()
    }

    /// How many of an entity's prefixes are dark now.
    pub fn dark_count(&self, entity: EntityIdx) -> usize {
        self.bgp.dark_count(entity)
    }

    /// Has the entity's routes been seen up yet? Before that, BGP says nothing of it.
    pub fn has_baseline(&self, entity: EntityIdx) -> bool {
        self.bgp.has_baseline(entity)
    }

    /// The detector's configuration.
    pub fn config(&self) -> &DetectorConfig {
        &self.config
    }

    /// Weighs the signals of the last instant now.
    pub fn flush(&mut self, bgp: &BgpState) -> Vec<EventUpdate> {
        let mut updates = Vec::new();
        if self.pending.is_some() {
            self.weigh(bgp, &mut updates);
        }
        updates
    }

    /// Ends the input: recoveries under way are declared, and every event,
    /// ongoing or ended, is returned in order of start.
    pub fn finish(mut self, bgp: &BgpState) -> Vec<Event> {
        let mut updates = self.flush(bgp);
        updates.extend(self.bgp.finish(bgp));
        self.pending = Some(self.last_at);
        self.weigh(bgp, &mut updates);
        // The input ends: a held loss is told as it stands, unless it is a cycle
        // of a flapping still open.
        for (entity, held) in std::mem::take(&mut self.held_losses) {
            if self.bgp.flap_open(entity, bgp) {
                continue;
            }
            for loss in held {
                self.tell_held_loss(entity, loss, bgp, &mut updates);
            }
        }
        let mut events = self.book.into_events();
        events.extend(self.bgp.into_events());
        events.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        events
    }

    /// Every vantage point heard from: its health, its checks and its latest
    /// result. For the status, not for each result: it goes over every check.
    pub fn vantage_health(&self) -> Vec<consensus::VantageHealth> {
        let offline = self.offline_vantages();
        let mut health: BTreeMap<&str, consensus::VantageHealth> = BTreeMap::new();
        for (vantage, (role, ..), track) in self.probes.checks() {
            let entry = health
                .entry(vantage)
                .or_insert_with(|| consensus::VantageHealth {
                    vantage: vantage.to_string(),
                    offline_since: offline.get(vantage).copied(),
                    controls: 0,
                    checks: 0,
                    failing: 0,
                    last: None,
                    split_targets: self
                        .paths
                        .splits_of(vantage)
                        .map(|s| s.check_name())
                        .collect(),
                });
            if *role == ProbeRole::Control {
                entry.controls += 1;
            } else {
                entry.checks += 1;
                if matches!(track.state, CheckState::Failing { .. }) {
                    entry.failing += 1;
                }
            }
            if entry.last.as_ref().is_none_or(|l| track.last.at > l.at) {
                entry.last = Some(track.last.clone());
            }
        }
        health.into_values().collect()
    }

    /// Can a sentence about the entity's routes be backed: a feed is up (or none
    /// has reported down: the routes come straight in) and it has seen them?
    fn bgp_view(&self, entity: EntityIdx) -> bool {
        let feed_up = self.feeds.is_empty() || self.feeds.values().any(|up| *up);
        feed_up && self.bgp.has_baseline(entity)
    }

    fn on_feed(&mut self, at: Timestamp, feed: &FeedSignal, updates: &mut Vec<EventUpdate>) {
        let progressed = self
            .bgp
            .set_table_loading(&feed.feed, feed.up && feed.loading);
        if progressed && self.feeds.get(&feed.feed) == Some(&feed.up) {
            // Only its table's progress changed: nothing to tell of the feed.
            return;
        }
        self.feeds.insert(feed.feed.clone(), feed.up);
        let slot: Slot = (Entity::Feed(feed.feed.clone()), Cause::Feed, String::new());
        let item = Evidence {
            at,
            signal: SignalKind::Feed,
            text: feed.text.clone(),
            value: Some(if feed.up { 1.0 } else { 0.0 }),
        };
        if feed.up {
            self.book.end(&slot, at, Some(item), updates);
        } else if self.book.note(&slot, item.clone()) {
            self.book.confirm(&slot);
        } else {
            let opening = Opening {
                severity: Severity::Warning,
                confidence: 0.95,
                scope: Scope::default(),
                summary: format!(
                    "blackout's feed {} is down or stale: no verdict on the target from it",
                    feed.feed
                ),
                evidence: vec![item],
            };
            self.book.start(at, slot, opening, updates);
        }
    }

    /// The vantage points whose control targets all fail, with since when.
    fn offline_vantages(&self) -> BTreeMap<String, Timestamp> {
        let mut controls: BTreeMap<&str, (usize, usize, Option<Timestamp>)> = BTreeMap::new();
        for (vantage, _, track) in self.probes.controls() {
            let entry = controls.entry(vantage).or_insert((0, 0, None));
            entry.0 += 1;
            // One failed round of every control is enough: the targets' own checks
            // need FAIL_AFTER rounds, so the vantage point's loss is named first.
            let since = match track.state {
                CheckState::Failing { since, .. } => Some(since),
                _ if !track.last.ok => Some(track.last.at),
                _ => None,
            };
            if let Some(since) = since {
                entry.1 += 1;
                entry.2 = Some(entry.2.map_or(since, |s: Timestamp| s.min(since)));
            }
        }
        controls
            .into_iter()
            .filter(|(_, (all, failing, _))| *all > 0 && all == failing)
            .filter_map(|(vantage, (_, _, since))| since.map(|since| (vantage.to_string(), since)))
            .collect()
    }

    /// What the judgements of the checks need to know of the vantage points
    /// now ([`Vantages`]).
    fn vantage_scene(&self, offline: &BTreeMap<String, Timestamp>) -> Vantages {
        // When every control of each vantage point was last asked: a target's
        // failure is a fact about the target only once the vantage point has been
        // looked at again (online or not) after it began. A changed result is
        // probed again quickly, so a target can be failing before the controls
        // have all been asked again.
        let mut controls_seen: BTreeMap<String, Timestamp> = BTreeMap::new();
        // And whether any of them answered its latest look: a vantage point whose
        // controls all just missed may be going offline.
        let mut answering: BTreeMap<&str, bool> = BTreeMap::new();
        for (vantage, _, track) in self.probes.controls() {
            match controls_seen.get_mut(vantage) {
                Some(seen) => *seen = (*seen).min(track.last.at),
                None => {
                    controls_seen.insert(vantage.to_string(), track.last.at);
                }
            }
            *answering.entry(vantage).or_default() |= track.last.ok;
        }
        let doubtful = answering
            .into_iter()
            .filter(|(vantage, answers)| !answers && !offline.contains_key(*vantage))
            .map(|(vantage, _)| vantage.to_string())
            .collect();
        let grace = self.tail_grace();
        Vantages {
            now: self.last_at,
            max_age: self.view_max_age(self.vantage_count() > 1),
            offline: offline.keys().cloned().collect(),
            controls_seen,
            tails: self
                .vantage_back
                .iter()
                .filter(|(_, back)| self.last_at.secs_since(**back) < grace)
                .map(|(vantage, back)| (vantage.clone(), *back))
                .collect(),
            doubtful,
        }
    }

    fn weigh(&mut self, bgp: &BgpState, updates: &mut Vec<EventUpdate>) {
        let Some(at) = self.pending.take() else {
            return;
        };
        let before = updates.len();
        self.take_in(at, bgp, updates);
        let changed: BTreeSet<EntityIdx> = self.bgp.changed_entities().clone();
        for entity in &changed {
            self.routes_moved.insert(*entity, at);
        }
        updates.extend(self.bgp.settle(at, bgp));
        self.adopt_first_cycles(before, bgp, updates);
        let offline = self.offline_vantages();
        self.weigh_vantages(at, &offline, updates);
        // The kept judgements are taken out while the network is weighed on them.
        let mut views = std::mem::take(&mut self.views);
        let scene = self.vantage_scene(&offline);
        views.refresh(&mut self.probes, scene, &self.config);
        let all_offline = !offline.is_empty() && self.vantage_count() == offline.len();
        // With every vantage point offline, the probes say nothing about the target:
        // no network verdict from them, and a service event open is held as it
        // stands (it ends only when its own checks are seen to pass).
        let checks: Vec<&CheckView> = if all_offline {
            Vec::new()
        } else {
            views.checks().collect()
        };
        // A split over a target whose routes moved about when it began (within a
        // probe round either way) is the routing change seen at different
        // moments, not a vantage point's path (a flap's withdrawals of a second
        // fall between some probes and on others).
        // Nor is one over a network under stress (its misses are the stress's).
        let interval = self.config.probes.results_within_secs(1);
        let splits: Vec<Split> = views
            .splits()
            .filter(|split| {
                let Some(owner) = self.owner(&split.target, bgp) else {
                    return true;
                };
                let moved = self.routes_moved.get(&owner);
                !self.stress_since.contains_key(&owner)
                    && !moved.is_some_and(|moved| moved.secs_since(split.since).abs() <= interval)
            })
            .cloned()
            .collect();
        let path_changes = self.paths.update(splits);
        self.weigh_paths(at, path_changes, updates);
        // The entities to weigh: those whose routes changed, those with checks of
        // their own, and those with an event or stress under way.
        let mut entities: BTreeSet<EntityIdx> = changed;
        let owners = self.owners(&checks, bgp);
        let mut own_checks: BTreeMap<EntityIdx, Vec<&CheckView>> = BTreeMap::new();
        for (check, owner) in checks.iter().zip(&owners) {
            if let Some(owner) = owner {
                own_checks.entry(*owner).or_default().push(*check);
            }
        }
        entities.extend(own_checks.keys());
        entities.extend(self.stress_since.keys());
        entities.extend(self.held_losses.keys());
        entities.extend(
            self.book
                .open
                .keys()
                .filter(|(_, cause, _)| *cause == Cause::Internal)
                .filter_map(|(entity, ..)| bgp.entity_index(entity)),
        );
        let mut network_causes: BTreeMap<EntityIdx, Cause> = BTreeMap::new();
        for entity in entities {
            let own = own_checks.remove(&entity).unwrap_or_default();
            if let Some(cause) = self.weigh_network(at, entity, own, &views, bgp, updates) {
                network_causes.insert(entity, cause);
            }
        }
        self.settle_held_losses(at, bgp, updates);
        if all_offline {
            self.hold_services();
        } else {
            self.weigh_services(at, &checks, &views, &owners, &network_causes, updates);
        }
        drop(checks);
        self.views = views;
        self.book
            .tell_unsaid(at, self.config.probes.interval_secs, updates);
    }

    /// Keeps every open service event as it stands, while nothing can be seen.
    fn hold_services(&mut self) {
        let open: Vec<Slot> = self
            .book
            .open
            .keys()
            .filter(|(entity, cause, _)| {
                matches!(entity, Entity::Service { .. }) && *cause == Cause::Service
            })
            .cloned()
            .collect();
        for slot in open {
            self.book.confirm(&slot);
        }
    }

    /// The network a probed target belongs to: the one the profile places it in,
    /// or the profile's first (its country, when it has several networks).
    fn owner(&self, target: &str, bgp: &BgpState) -> Option<EntityIdx> {
        self.owner_or(target, bgp, default_owner(bgp))
    }

    /// The owner of each check, in order: the network each names, or the
    /// profile's (found once for all of them).
    fn owners(&self, checks: &[&CheckView], bgp: &BgpState) -> Vec<Option<EntityIdx>> {
        let fallback = default_owner(bgp);
        checks
            .iter()
            .map(|c| self.owner_or(&c.target, bgp, fallback))
            .collect()
    }

    /// The network `target` names as its own, else `fallback`.
    fn owner_or(
        &self,
        target: &str,
        bgp: &BgpState,
        fallback: Option<EntityIdx>,
    ) -> Option<EntityIdx> {
        let host = target.split('@').next_back().unwrap_or(target);
        self.target_networks
            .get(host)
            .and_then(|entity| bgp.entity_index(entity))
            .or(fallback)
    }

    /// Weighs one entity's situation and opens, revises or ends its network
    /// event; returns the cause it stands on, if any.
    fn weigh_network(
        &mut self,
        at: Timestamp,
        entity: EntityIdx,
        checks: Vec<&CheckView>,
        views: &CheckViews,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) -> Option<Cause> {
        let info = &bgp.entities()[entity.0 as usize];
        let slot = network_slot(&info.entity);
        // Most entities that changed are fine: nothing dark, nothing probed,
        // nothing open. No rule can find anything there.
        if checks.is_empty()
            && self.bgp.dark_count(entity) == 0
            && self.bgp.rpki_invalid_prefixes(entity).is_empty()
            && !self.stress_since.contains_key(&entity)
            && !self.book.is_open(&slot)
        {
            self.held_loss_back(at, entity);
            self.keep_early_evidence(entity);
            return None;
        }
        let dark = self.bgp.dark_prefixes(entity, bgp);
        let situation = Situation {
            at,
            name: &info.name,
            thresholds: &self.config.thresholds,
            dark,
            rpki_invalid: self.bgp.rpki_invalid_prefixes(entity),
            prefixes: bgp.aggregates(entity).prefix_count() as usize,
            family_prefixes: bgp.aggregates(entity).prefixes.map(|n| n as usize),
            family_visible: bgp.aggregates(entity).seen.map(|n| n > 0),
            bgp_baseline: self.bgp.has_baseline(entity),
            bgp_view: self.bgp_view(entity),
            visibility: self.bgp.visibility_text(entity, bgp),
            visible_share: bgp
                .aggregates(entity)
                .visibility(bgp.denominators())
                .unwrap_or(0.0),
            carriers: self.bgp.carriers(entity),
            known_upstreams: &self.config.known_upstreams,
            peers: bgp.denominators(),
            checks: &checks,
            stress_before: self.stress_since.get(&entity).copied(),
        };
        let from_routes = !situation.dark.is_empty();
        let verdict = attribute(&situation).map(|mut verdict| {
            // A verdict from routes rests on the full-feed peers that see them.
            if !situation.dark.is_empty() {
                verdict.confidence *= peer_weight(situation.peers);
                verdict.evidence.push(peers_evidence(at, situation.peers));
                // A reader must see when an outage rests on one or two peers' word.
                let peers = situation.peers[0].max(situation.peers[1]);
                if peers <= 2 {
                    verdict.summary = format!(
                        "{} (as seen by only {peers} full-feed peer{})",
                        verdict.summary,
                        if peers == 1 { "" } else { "s" }
                    );
                }
            }
            verdict
        });
        let dark_now = situation.dark.len();
        // With several vantage points, the evidence says what each of them saw of
        // the checks a quorum sees down, and the summary names those that see it.
        let (vantage_items, seen_from) = vantage_evidence(views, &checks);
        let verdict = verdict.map(|mut verdict| {
            if !seen_from.is_empty() {
                verdict.summary = format!(
                    "{}; seen down from the vantage points {}",
                    verdict.summary,
                    name_list(&seen_from)
                );
                verdict.evidence.extend(vantage_items.iter().cloned());
            }
            verdict
        });
        let judged = verdict.is_some();
        // A resumed outage that began with stress stays stress while the first
        // look has yet to see the checks again.
        let holding = verdict.is_none() && self.first_look.is_some();
        if !holding {
            match verdict.as_ref().filter(|v| v.cause == Cause::Ddos) {
                Some(v) => self.stress_since.insert(entity, v.start),
                None => self.stress_since.remove(&entity),
            };
        }
        let network_cause = verdict.as_ref().map(|v| v.cause);
        let bgp_evidence = self.bgp.take_network_evidence(entity);
        match (verdict, self.book.is_open(&slot)) {
            (Some(verdict), false)
                if from_routes && self.may_be_flap_cycle(at, entity, verdict.start, bgp) =>
            {
                self.hold_loss(entity, verdict);
                self.keep(entity, bgp_evidence);
            }
            (Some(verdict), false) => {
                if from_routes {
                    // A loss held as a possible cycle has lasted a whole window:
                    // an outage of its own, and the flapping ended before it.
                    if let Some(held) = self.held_losses.get_mut(&entity) {
                        held.retain(|loss| loss.back.is_some());
                    }
                    if self.bgp.flap_open(entity, bgp) {
                        self.bgp.end_flap(entity, verdict.start, bgp, updates);
                    }
                }
                // Only this incident's own signals, from its start on.
                let early = self.early_evidence.remove(&entity).unwrap_or_default();
                let evidence: Vec<Evidence> = early
                    .into_iter()
                    .chain(bgp_evidence)
                    .filter(|e| e.at >= verdict.start)
                    .chain(verdict.evidence)
                    .collect();
                self.verdict_scope.insert(entity, verdict.scope.clone());
                let opening = Opening {
                    severity: verdict.severity,
                    confidence: verdict.confidence,
                    scope: verdict.scope,
                    summary: verdict.summary,
                    evidence,
                };
                self.book
                    .start_as(verdict.start, slot.clone(), verdict.cause, opening, updates);
                self.peak_dark.insert(entity, dark_now);
                self.peak_span.insert(entity, (verdict.start, None));
            }
            (Some(verdict), true) => {
                let peak = self.peak_dark.entry(entity).or_default();
                let grown = dark_now > *peak;
                let receding = dark_now < *peak;
                *peak = (*peak).max(dark_now);
                self.book.confirm(&slot);
                for item in bgp_evidence {
                    self.book.note(&slot, item);
                }
                let event = self.book.open.get(&slot)?;
                // An outage of the whole network gathers its hosts' silence as the
                // probes see it (a host falls silent a round after the routes go),
                // even while the verdict itself stays the same. Its host items are
                // dated when each host fell silent, so each is told once; other
                // verdicts date their probe items at the weighing, and revise on
                // their own when what they see changes.
                if verdict.cause == Cause::Internal && event.cause == Cause::Internal {
                    let seen_since: Vec<Evidence> = verdict
                        .evidence
                        .iter()
                        .filter(|item| {
                            item.signal.is_probe()
                                && item.at >= event.start
                                && !crate::book::holds(event, item)
                        })
                        .cloned()
                        .collect();
                    if !seen_since.is_empty() {
                        self.book.revise(&slot, updates, |event| {
                            for item in seen_since {
                                crate::book::push_evidence(event, item);
                            }
                        });
                    }
                }
                let event = self.book.open.get(&slot)?;
                // A note on the verdict is the routes' word only when routes are in
                // it; a probe-only verdict (hosts dark, stress) speaks for its probes.
                let signal = if from_routes {
                    SignalKind::BgpVisibility
                } else {
                    verdict
                        .evidence
                        .iter()
                        .map(|e| e.signal)
                        .find(|s| s.is_probe())
                        .unwrap_or(SignalKind::ProbeIcmp)
                };
                // Hosts that fell silent with their routes, still silent once the
                // routes are back (a round or two before the probes see them answer),
                // are the tail of the routes' outage, not a data plane dying.
                let tail_of_routes = verdict.cause == Cause::DataPlane
                    && !from_routes
                    && matches!(event.cause, Cause::Partial | Cause::Internal)
                    && self
                        .routes_moved
                        .get(&entity)
                        .is_some_and(|moved| verdict.start <= *moved);
                if cause_rank(verdict.cause) < cause_rank(event.cause) || tail_of_routes {
                    // The outage recedes (routes return before the probes see it,
                    // a ROA is fixed before the routes come back): a weaker
                    // explanation of the tail does not replace the cause of the onset.
                    let text = format!("{} recedes: {}", info.name, verdict.summary);
                    self.book.note(
                        &slot,
                        Evidence {
                            at,
                            signal,
                            text,
                            value: None,
                        },
                    );
                } else if event.cause != verdict.cause
                    || self.verdict_scope.get(&entity).unwrap_or(&event.scope) != &verdict.scope
                    || grown
                {
                    self.verdict_scope.insert(entity, verdict.scope.clone());
                    // Past the peak: the same explanation of less. Once the routes
                    // have come back (fewer dark than at the worst), what the tail
                    // names that the peak did not (a host silent a round longer, one
                    // more seen failing then) widens the scope; it does not replace
                    // the prefixes of the worst.
                    let widened = !within(&verdict.scope, &event.scope);
                    let past_peak =
                        event.cause == verdict.cause && !grown && (!widened || receding);
                    let span = self.peak_span.entry(entity).or_insert((event.start, None));
                    if !past_peak {
                        *span = (at, None);
                    } else if verdict.scope == event.scope {
                        // Back at the peak: the worst is now again.
                        span.1 = None;
                    } else if span.1.is_none() {
                        span.1 = Some(at);
                    }
                    let worst = match *span {
                        (from, Some(until)) if past_peak => Some(worst_span(from, until)),
                        _ => None,
                    };
                    let text = if event.cause != verdict.cause {
                        format!("cause revised: {} -> {}", event.cause, verdict.cause)
                    } else {
                        format!("what is in trouble changed: {}", verdict.summary)
                    };
                    self.book.revise(&slot, updates, |event| {
                        // A verdict that dates the onset earlier moves the start
                        // first, so that its evidence from then is let in.
                        event.start = event.start.min(verdict.start);
                        for item in verdict.evidence {
                            crate::book::push_evidence(event, item);
                        }
                        crate::book::push_evidence(
                            event,
                            Evidence {
                                at,
                                signal,
                                text,
                                value: None,
                            },
                        );
                        // The summary and scope keep the worst of the incident: a
                        // scope that only shrinks (hosts or prefixes coming back) is
                        // recorded in the evidence, not by forgetting the peak, and
                        // the summary says when the worst was.
                        event.cause = verdict.cause;
                        event.severity = verdict.severity.max(event.severity);
                        event.confidence = verdict.confidence;
                        if !past_peak {
                            event.summary = verdict.summary;
                            event.scope = verdict.scope;
                        } else {
                            if widened {
                                widen(&mut event.scope, &verdict.scope);
                            }
                            let peak = event
                                .summary
                                .split_once(WORST_MARK)
                                .map_or(event.summary.as_str(), |(peak, _)| peak);
                            event.summary = match worst {
                                Some(worst) => format!("{peak}{WORST_MARK}{worst}"),
                                None => peak.to_string(),
                            };
                        }
                    });
                }
            }
            (None, true) => {
                let start = self.book.open.get(&slot).map(|e| e.start).unwrap_or(at);
                let back = [
                    self.bgp.last_return(entity),
                    checks.iter().filter_map(|c| c.recovered_at).max(),
                ]
                .into_iter()
                .flatten()
                .filter(|t| *t >= start)
                .max()
                .unwrap_or(at);
                // An event the routes had no part in (hosts dark, stress) closes on
                // what its probes see, not on a line about visibility.
                let from_routes = self
                    .book
                    .open
                    .get(&slot)
                    .is_some_and(|e| !e.scope.prefixes.is_empty());
                let item = if from_routes {
                    Evidence {
                        at: back,
                        signal: SignalKind::BgpVisibility,
                        text: format!(
                            "{} is reachable again: {}",
                            info.name,
                            self.bgp.visibility_text(entity, bgp)
                        ),
                        value: Some(1.0),
                    }
                } else {
                    Evidence {
                        at: back,
                        signal: SignalKind::ProbeIcmp,
                        text: format!("{} answers again", info.name),
                        value: Some(1.0),
                    }
                };
                self.book.end(&slot, back, Some(item), updates);
                self.network_back.insert(entity, at);
                self.peak_dark.remove(&entity);
                self.peak_span.remove(&entity);
                self.verdict_scope.remove(&entity);
            }
            (None, false) => {
                self.held_loss_back(at, entity);
                self.keep(entity, bgp_evidence);
            }
        }
        if judged {
            self.note_new_vantages(&slot, at, vantage_items);
        }
        network_cause
    }

    /// Could a loss of the entity's routes that began at `start` be a cycle of a
    /// flapping: it has lasted less than a flap window, and the entity flaps or
    /// enough of its prefixes came back from losses within the window?
    fn may_be_flap_cycle(
        &self,
        at: Timestamp,
        entity: EntityIdx,
        start: Timestamp,
        bgp: &BgpState,
    ) -> bool {
        let window = self.config.thresholds.flap_window_secs as f64;
        at.secs_since(start) < window
            && (self.bgp.flap_open(entity, bgp) || self.bgp.flap_forming(entity, bgp))
    }

    /// The routes of a held loss are back (at their last return).
    fn held_loss_back(&mut self, at: Timestamp, entity: EntityIdx) {
        if let Some(loss) = self
            .held_losses
            .get_mut(&entity)
            .and_then(|held| held.iter_mut().find(|loss| loss.back.is_none()))
        {
            loss.back = Some(self.bgp.last_return(entity).unwrap_or(at));
        }
    }

    /// Holds a loss back as a possible cycle of a flapping (the one under way,
    /// with the latest verdict on it).
    fn hold_loss(&mut self, entity: EntityIdx, verdict: Verdict) {
        let held = self.held_losses.entry(entity).or_default();
        match held.iter_mut().find(|loss| loss.back.is_none()) {
            Some(loss) => {
                let start = loss.verdict.start.min(verdict.start);
                let mut evidence = std::mem::take(&mut loss.verdict.evidence);
                for item in &verdict.evidence {
                    let seen = evidence
                        .iter()
                        .any(|e| e.signal == item.signal && e.text == item.text);
                    if !seen && evidence.len() < crate::book::MAX_EVIDENCE {
                        evidence.push(item.clone());
                    }
                }
                loss.verdict = verdict;
                loss.verdict.start = start;
                loss.verdict.evidence = evidence;
            }
            None => held.push(HeldLoss {
                verdict,
                back: None,
            }),
        }
    }

    /// Settles the held losses: those of an entity that flaps are cycles of its
    /// flapping; one that came back a whole window ago with no flapping formed
    /// around it was an outage of its own, told now, after the fact.
    fn settle_held_losses(
        &mut self,
        at: Timestamp,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let window = self.config.thresholds.flap_window_secs as f64;
        let entities: Vec<EntityIdx> = self.held_losses.keys().copied().collect();
        for entity in entities {
            let flapping = self.bgp.flap_open(entity, bgp);
            // A loss within the span of a flapping (one that ended since, as
            // time may jump past its end in an archive) was one of its cycles.
            let span = self.bgp.flap_span(entity, bgp);
            let cycle = |start: Timestamp| {
                span.is_some_and(|(first, end)| {
                    first <= start && end.is_none_or(|end| start <= end)
                })
            };
            let Some(held) = self.held_losses.get_mut(&entity) else {
                continue;
            };
            let mut told = Vec::new();
            held.retain(|loss| match loss.back {
                Some(_) if flapping || cycle(loss.verdict.start) => false,
                Some(back) if at.secs_since(back) > window => {
                    told.push(loss.clone());
                    false
                }
                _ => true,
            });
            if held.is_empty() {
                self.held_losses.remove(&entity);
            }
            for loss in told {
                self.tell_held_loss(entity, loss, bgp, updates);
            }
        }
    }

    /// Opens the event of a held loss, and ends it if the routes came back.
    fn tell_held_loss(
        &mut self,
        entity: EntityIdx,
        loss: HeldLoss,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let info = &bgp.entities()[entity.0 as usize];
        let slot = network_slot(&info.entity);
        if self.book.is_open(&slot) {
            return;
        }
        let verdict = loss.verdict;
        let opening = Opening {
            severity: verdict.severity,
            confidence: verdict.confidence,
            scope: verdict.scope,
            summary: verdict.summary,
            evidence: verdict.evidence,
        };
        self.book
            .start_as(verdict.start, slot.clone(), verdict.cause, opening, updates);
        if let Some(back) = loss.back {
            let item = Evidence {
                at: back,
                signal: SignalKind::BgpVisibility,
                text: format!(
                    "{} is reachable again; no flapping formed around this loss within the flap window, so it is told as an outage of its own",
                    info.name
                ),
                value: Some(1.0),
            };
            self.book.end(&slot, back, Some(item), updates);
        }
    }

    /// A flapping that opened in this instant takes in the network's event of
    /// its first loss (the losses after it were held as possible cycles): one
    /// event, under that event's id, now with the cause `flap`.
    fn adopt_first_cycles(&mut self, from: usize, bgp: &BgpState, updates: &mut [EventUpdate]) {
        let window = self.config.thresholds.flap_window_secs as f64;
        for update in updates.iter_mut().skip(from) {
            if update.kind != UpdateKind::Started || update.event.cause != Cause::Flap {
                continue;
            }
            let entity = update.event.entity.clone();
            if bgp.entity_index(&entity).is_none() {
                continue;
            }
            let flap_start = update.event.start;
            let first = self.book.take(&network_slot(&entity), |event| {
                matches!(event.cause, Cause::Internal | Cause::Partial)
                    && event
                        .end
                        .is_none_or(|end| flap_start.secs_since(end) <= window)
            });
            if let Some(first) = first
                && let Some(flap) = self.bgp.adopt_into_flap(&entity, first)
            {
                *update = EventUpdate::revised(flap);
            }
        }
    }

    /// Adds to an open event what a vantage point saw of a check it had not yet
    /// said anything about (one that joined, or a check that failed later). Told
    /// with the event's next update, or within a probe interval: under a flood
    /// the vantage points' views of the checks flip with each result, and a
    /// revision for each (dozens in ten seconds with three vantage points) would
    /// drown the stream's news.
    fn note_new_vantages(&mut self, slot: &Slot, at: Timestamp, items: Vec<Evidence>) {
        let Some(event) = self.book.open.get(slot) else {
            return;
        };
        // `CHECK from VANTAGE:` identifies an item (its outcome text varies). A
        // vantage point that answered at first and failed later has something new
        // to say: its failure.
        let head = |text: &str| {
            text.split_once(": ")
                .map(|(h, outcome)| (h.to_string(), outcome.starts_with("fail")))
        };
        let said: Vec<(String, bool)> = event
            .evidence
            .iter()
            .filter_map(|e| head(&e.text))
            .collect();
        let new: Vec<Evidence> = items
            .into_iter()
            .filter(|item| {
                head(&item.text).is_some_and(|(h, failed)| {
                    !said
                        .iter()
                        .any(|(known, known_failed)| *known == h && (*known_failed || !failed))
                })
            })
            .collect();
        if new.is_empty() {
            return;
        }
        self.book.revise_later(slot, at, |event| {
            for item in new {
                crate::book::push_evidence(event, item);
            }
        });
    }

    /// Keeps the BGP evidence of an entity with no event yet: the decline before
    /// a fall belongs to the event that may follow.
    fn keep_early_evidence(&mut self, entity: EntityIdx) {
        let evidence = self.bgp.take_network_evidence(entity);
        self.keep(entity, evidence);
    }

    fn keep(&mut self, entity: EntityIdx, evidence: Vec<Evidence>) {
        if evidence.is_empty() {
            return;
        }
        let early = self.early_evidence.entry(entity).or_default();
        early.extend(evidence);
        while early.len() > EARLY_EVIDENCE {
            early.pop_front();
        }
    }

    /// Is this check's failure the tail of an outage that ended at `back`? It began
    /// before the end, and the checks have not yet had the recovery hold plus two
    /// rounds to see the return.
    fn in_tail(&self, back: Option<Timestamp>, state: &CheckState) -> bool {
        let (Some(back), CheckState::Failing { since, .. }) = (back, state) else {
            return false;
        };
        *since < back && self.last_at.secs_since(back) < self.tail_grace()
    }

    /// How long after a return failures that began before it are its tail.
    fn tail_grace(&self) -> f64 {
        self.config.thresholds.recovery_hold_secs as f64
            + self
                .config
                .probes
                .results_within_secs(crate::FAIL_AFTER.max(crate::OK_AFTER))
    }

    fn vantage_count(&self) -> usize {
        self.vantages.len()
    }

    fn weigh_vantages(
        &mut self,
        at: Timestamp,
        offline: &BTreeMap<String, Timestamp>,
        updates: &mut Vec<EventUpdate>,
    ) {
        let open: Vec<Slot> = self
            .book
            .open
            .keys()
            .filter(|(entity, cause, key)| {
                matches!(entity, Entity::Vantage(_)) && *cause == Cause::Vantage && key.is_empty()
            })
            .cloned()
            .collect();
        for slot in open {
            if let (Entity::Vantage(name), ..) = &slot
                && !offline.contains_key(name)
            {
                let back = self
                    .probes
                    .controls()
                    .filter(|(v, ..)| v == name)
                    .filter_map(|(.., t)| t.recovered_at)
                    .max()
                    .unwrap_or(at);
                let item = Evidence {
                    at: back,
                    signal: SignalKind::Vantage,
                    text: format!("the control targets answer {name} again"),
                    value: Some(1.0),
                };
                self.book.end(&slot, back, Some(item), updates);
                self.vantage_back.insert(name.clone(), at);
            }
        }
        for (name, since) in offline {
            let slot: Slot = (Entity::Vantage(name.clone()), Cause::Vantage, String::new());
            if self.book.is_open(&slot) {
                self.book.confirm(&slot);
                continue;
            }
            let failing: Vec<Evidence> = self
                .probes
                .controls()
                .filter(|(v, ..)| v == name)
                .map(|(_, (_, target, kind), t)| Evidence {
                    at: *since,
                    signal: kind.signal(),
                    text: format!("control {target}: {}", t.last.text),
                    value: Some(1.0),
                })
                .collect();
            let opening = Opening {
                severity: Severity::Warning,
                confidence: 0.9,
                scope: Scope::default(),
                summary: format!(
                    "the vantage point {name} is offline: its control targets fail too, so it gives no verdict on {}",
                    self.config.network_name
                ),
                evidence: failing,
            };
            self.book.start(*since, slot, opening, updates);
        }
    }

    /// Opens, changes or ends the path event of each vantage point whose splits
    /// changed: it sees targets down that the other vantage points see up. The
    /// targets' own events are not touched: a path is not an outage.
    fn weigh_paths(
        &mut self,
        at: Timestamp,
        changes: Vec<PathChange>,
        updates: &mut Vec<EventUpdate>,
    ) {
        for change in changes {
            let slot: Slot = (
                Entity::Vantage(change.vantage.clone()),
                Cause::Vantage,
                PATH_KEY.to_string(),
            );
            if change.splits.is_empty() {
                // Back when its checks first answered again, as its other events say.
                let start = self.book.open.get(&slot).map_or(at, |e| e.start);
                let back = self
                    .probes
                    .checks()
                    .filter(|(v, (role, ..), _)| {
                        *v == change.vantage && *role != ProbeRole::Control
                    })
                    .filter_map(|(.., t)| t.recovered_at)
                    .filter(|t| *t >= start)
                    .max()
                    .unwrap_or(at)
                    .min(at);
                let item = Evidence {
                    at: back,
                    signal: SignalKind::Vantage,
                    text: format!(
                        "{} sees the targets as the other vantage points do again",
                        change.vantage
                    ),
                    value: Some(1.0),
                };
                self.book.end(&slot, back, Some(item), updates);
                continue;
            }
            let opening = path_opening(&change.vantage, &change.splits, &self.config.network_name);
            if self.book.is_open(&slot) {
                self.book.confirm(&slot);
                self.book.revise(&slot, updates, |event| {
                    for item in opening.evidence {
                        crate::book::push_evidence(event, item);
                    }
                    for host in opening.scope.hosts {
                        if !event.scope.hosts.contains(&host) {
                            event.scope.hosts.push(host);
                        }
                    }
                    event.summary = opening.summary;
                    event.confidence = opening.confidence;
                });
            } else {
                let start = change.splits.iter().map(|s| s.since).min().unwrap_or(at);
                self.book.start(start, slot, opening, updates);
            }
        }
    }

    /// Services failing while their hosts answer and the network is otherwise fine.
    ///
    /// A service event opens only then; once open, it ends only when its own
    /// checks pass again, whatever opens or closes around it (the network going
    /// dark, the vantage point going offline, a feed going down): a failing
    /// service is still failing while the network's event goes on, and ending it
    /// then would make one outage two events.
    fn weigh_services(
        &mut self,
        at: Timestamp,
        checks: &[&CheckView],
        judged: &CheckViews,
        owners: &[Option<EntityIdx>],
        network_causes: &BTreeMap<EntityIdx, Cause>,
        updates: &mut Vec<EventUpdate>,
    ) {
        // Loss or failure on most hosts is stress on the network (a DDoS forming):
        // services that time out then are its victims, not broken on their own.
        let hosts: Vec<&CheckView> = crate::rules::host_pings(checks).collect();
        let troubled = hosts.iter().filter(|h| h.trouble_since().is_some()).count();
        let stressed = !hosts.is_empty() && troubled * 2 > hosts.len();
        // "While its hosts answer" must be seen, not assumed: most hosts answered
        // cleanly after the service began to fail. The checks run at their own
        // times in a round, so a service may fail before the pings that would
        // show a flood are in.
        let hosts_answer_since = |since: Timestamp| {
            let clean = hosts
                .iter()
                .filter(|h| h.last_clean && h.last_at >= since)
                .count();
            hosts.is_empty() || clean * 2 > hosts.len()
        };
        // And seen from where the service fails: with several vantage points,
        // most hosts answered cleanly from each vantage point that sees it fail,
        // after its failure there began. A service that fails on the misses of
        // two vantage points at once (see the views' corroboration) fails before
        // the flood that timed it out shows in the pings; the pings those
        // vantage points send after their misses (the probe engine asks them
        // with the recheck) are what tell a flood from a broken service.
        let probes = &self.probes;
        let hosts_answer_from = |vantage: &str, since: Timestamp| {
            let mut seen = 0;
            let mut clean = 0;
            for host in &hosts {
                let key = (host.role, host.target.clone(), host.kind);
                if let Some(track) = probes.target(&key).and_then(|t| t.get(vantage)) {
                    seen += 1;
                    if track.last_clean && track.last.at >= since {
                        clean += 1;
                    }
                }
            }
            seen == 0 || clean * 2 > seen
        };
        // The checks are indexed in one pass each (the hosts gone dark, the
        // checks of each service at issue): a scan of all of them for each
        // failing service would cost the square of a large profile's checks,
        // just when it goes dark.
        let dark_hosts: BTreeSet<&str> = checks
            .iter()
            .filter(|h| h.kind == ProbeKind::Icmp && h.failing_since().is_some())
            .map(|h| h.target.as_str())
            .collect();
        let mut still_failing: BTreeMap<Entity, Vec<&CheckView>> = BTreeMap::new();
        let mut may_open: BTreeSet<Entity> = BTreeSet::new();
        for (check, owner) in checks.iter().zip(owners) {
            if !matches!(check.entity, Entity::Service { .. }) {
                continue;
            }
            let Some(since) = check.failing_since() else {
                continue;
            };
            still_failing
                .entry(check.entity.clone())
                .or_default()
                .push(check);
            // While part of the network is dark, a failing service is more likely
            // on the dark side than broken on its own.
            let network_down = stressed || owner.is_some_and(|o| network_causes.contains_key(&o));
            let network_back = owner.and_then(|o| self.network_back.get(&o).copied());
            let host_dark = dark_hosts.contains(check.target.as_str());
            if !host_dark
                && !network_down
                && !self.in_tail(network_back, &check.state)
                && hosts_answer_since(since)
                && judged
                    .failing_from(probes, &(check.role, check.target.clone(), check.kind))
                    .iter()
                    .all(|(vantage, since)| hosts_answer_from(vantage, *since))
            {
                may_open.insert(check.entity.clone());
            }
        }
        let open: Vec<Slot> = self
            .book
            .open
            .keys()
            .filter(|(entity, cause, _)| {
                matches!(entity, Entity::Service { .. }) && *cause == Cause::Service
            })
            .cloned()
            .collect();
        let at_issue: BTreeSet<&Entity> = still_failing
            .keys()
            .chain(open.iter().map(|(entity, ..)| entity))
            .collect();
        let mut by_entity: BTreeMap<&Entity, Vec<(&CheckView, Option<EntityIdx>)>> =
            BTreeMap::new();
        if !at_issue.is_empty() {
            for (check, owner) in checks.iter().zip(owners) {
                if at_issue.contains(&check.entity) {
                    by_entity
                        .entry(&check.entity)
                        .or_default()
                        .push((check, *owner));
                }
            }
        }
        drop(at_issue);
        for slot in open {
            if still_failing.contains_key(&slot.0) {
                continue;
            }
            let own: Vec<&CheckView> = by_entity
                .get(&slot.0)
                .map(|own| own.iter().map(|(check, _)| *check).collect())
                .unwrap_or_default();
            // Back when its checks first answered again: a recovery from before
            // this event began is an earlier incident's.
            let start = self.book.open.get(&slot).map_or(at, |e| e.start);
            let back = own
                .iter()
                .filter_map(|c| c.recovered_at)
                .filter(|t| *t >= start)
                .max()
                .unwrap_or(at)
                .min(at);
            // The service's own kind of check (HTTP, DNS, SMTP), as its event named it.
            let named = self
                .book
                .open
                .get(&slot)
                .and_then(|e| e.evidence.first())
                .map(|e| e.signal);
            let signal = own
                .first()
                .map(|c| c.kind.signal())
                .or(named)
                .unwrap_or(SignalKind::ProbeTcp);
            let item = Evidence {
                at: back,
                signal,
                text: format!("{} answers again", slot.0),
                value: Some(1.0),
            };
            self.book.end(&slot, back, Some(item), updates);
        }
        for (entity, views) in still_failing {
            let slot: Slot = (entity.clone(), Cause::Service, String::new());
            let known = self.book.open.get(&slot).map(|e| e.scope.hosts.clone());
            // Nothing to say of a failing service whose event neither is open nor
            // may open (the network around it is down, or its hosts are silent):
            // in a large outage, most of them.
            if known.is_none() && !may_open.contains(&entity) {
                continue;
            }
            let own = by_entity
                .get(&entity)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let total = own.len();
            let view = own
                .first()
                .and_then(|(_, owner)| *owner)
                .is_some_and(|owner| self.bgp_view(owner));
            let mut opening = service_opening(&entity, &views, total, at, view);
            // With several vantage points, what each of them saw of the failing
            // checks, as for a network's event.
            let (vantage_items, seen_from) = vantage_evidence(judged, &views);
            if !seen_from.is_empty() {
                opening.summary = format!(
                    "{}; seen down from the vantage points {}",
                    opening.summary,
                    name_list(&seen_from)
                );
                opening.evidence.extend(vantage_items.iter().cloned());
            }
            if let Some(known) = known {
                self.book.confirm(&slot);
                self.note_new_vantages(&slot, at, vantage_items);
                // More of its checks fail now (the second name server): the event
                // widens to say so. A check that comes back does not narrow it: the
                // event tells what failed.
                let newly: Vec<Evidence> = views
                    .iter()
                    .filter(|v| !known.contains(&v.target))
                    .map(|v| service_evidence(v, at))
                    .collect();
                if newly.is_empty() {
                    continue;
                }
                self.book.revise(&slot, updates, |event| {
                    for item in newly {
                        crate::book::push_evidence(event, item);
                    }
                    for host in opening.scope.hosts {
                        if !event.scope.hosts.contains(&host) {
                            event.scope.hosts.push(host);
                        }
                    }
                    event.severity = event.severity.max(opening.severity);
                    event.summary = opening.summary;
                });
                continue;
            }
            let start = views
                .iter()
                .filter_map(|v| v.failing_since())
                .min()
                .unwrap_or(at);
            self.book.start(start, slot, opening, updates);
        }
    }
}

/// What a vantage point's path event says: the targets it sees down while
/// others see them up, who sees what, and that the target is not the one at
/// fault.
fn path_opening(vantage: &str, splits: &[Split], network: &str) -> Opening {
    let lone = splits.iter().all(|s| s.lone);
    let what = consensus::describe_splits(splits);
    let summary = if lone {
        format!(
            "the vantage point {vantage} alone cannot reach what the others reach ({what}): its own path is at fault, not {network}"
        )
    } else {
        format!(
            "a path problem between some vantage points and {network}, not an outage of it: {what}"
        )
    };
    let mut hosts: Vec<String> = Vec::new();
    let mut evidence = Vec::new();
    for split in splits {
        if !hosts.contains(&split.target) {
            hosts.push(split.target.clone());
        }
        evidence.push(Evidence {
            at: split.since,
            signal: SignalKind::Vantage,
            text: split.describe(),
            value: Some(split.down_from.len() as f64),
        });
        for seen in &split.seen {
            evidence.push(Evidence {
                at: seen.at,
                signal: split.kind.signal(),
                text: format!("{} {}", split.check_name(), seen.describe()),
                value: Some(if seen.ok { 1.0 } else { 0.0 }),
            });
        }
    }
    Opening {
        severity: Severity::Warning,
        confidence: if lone { 0.8 } else { 0.7 },
        scope: Scope {
            hosts,
            ..Scope::default()
        },
        summary,
        evidence,
    }
}

/// What each vantage point saw of the entity's checks that a quorum of
/// several sees down (one item per check and vantage point), and the names
/// of those that see them down.
fn vantage_evidence(views: &CheckViews, checks: &[&CheckView]) -> (Vec<Evidence>, Vec<String>) {
    let mut items = Vec::new();
    let mut down_from: BTreeSet<String> = BTreeSet::new();
    for check in checks {
        let Some(since) = check.failing_since() else {
            continue;
        };
        let Some(seen) = views.seen_down(&(check.role, check.target.clone(), check.kind)) else {
            continue;
        };
        for one in seen {
            if one.down {
                down_from.insert(one.vantage.clone());
            }
            // Dated when this vantage point saw it: an answer is not the
            // failure's. One seen just before the failure began (the checks
            // of a round run at their own times) is what it saw at the start.
            items.push(Evidence {
                at: one.at.max(since),
                signal: check.kind.signal(),
                text: format!("{} ({}) {}", check.target, check.kind, one.describe()),
                value: Some(if one.ok { 1.0 } else { 0.0 }),
            });
        }
    }
    (items, down_from.into_iter().collect())
}

/// What a service event says: which of its checks fail and how; critical when
/// all of them do.
fn service_opening(
    entity: &Entity,
    views: &[&CheckView],
    total: usize,
    at: Timestamp,
    bgp_view: bool,
) -> Opening {
    let what: Vec<String> = views
        .iter()
        .map(|v| format!("{}: {}", v.target, v.text))
        .collect();
    Opening {
        severity: if views.len() == total {
            Severity::Critical
        } else {
            Severity::Warning
        },
        confidence: 0.85,
        scope: Scope {
            services: vec![entity.to_string()],
            hosts: views.iter().map(|v| v.target.clone()).collect(),
            ..Scope::default()
        },
        summary: format!(
            "{entity} is failing ({}) while its hosts answer{}",
            what.join("; "),
            if bgp_view {
                " and the routes stay"
            } else {
                "; no BGP data was available"
            }
        ),
        evidence: views.iter().map(|v| service_evidence(v, at)).collect(),
    }
}

/// One failing check of a service, as evidence.
fn service_evidence(view: &CheckView, at: Timestamp) -> Evidence {
    Evidence {
        at: view.failing_since().unwrap_or(at),
        signal: view.kind.signal(),
        text: format!("{}: {}", view.target, view.text),
        value: Some(1.0),
    }
}

/// How strong an explanation a cause is: a revision may go up or sideways, not
/// down.
fn cause_rank(cause: Cause) -> u8 {
    match cause {
        Cause::Unknown => 0,
        Cause::Partial => 1,
        Cause::DataPlane => 2,
        Cause::Internal => 3,
        _ => 4,
    }
}

/// The canonical order of the signals of one instant.
fn order(signal: &Signal) -> (u8, u64, String) {
    match signal {
        Signal::Bgp(change) => (0, change.seq(), String::new()),
        Signal::Feed(feed) => (
            1,
            u64::from(feed.up) * 2 + u64::from(feed.loading),
            feed.feed.clone(),
        ),
        Signal::Probe(probe) => (
            2,
            u64::from(probe.ok),
            format!(
                "{}|{:?}|{}|{:?}|{}",
                probe.vantage, probe.role, probe.target, probe.kind, probe.text
            ),
        ),
        Signal::Tick(_) => (3, 0, String::new()),
    }
}

/// Whether every prefix, host and service of `scope` is already in `peak`: the
/// incident is smaller than it was, not different.
/// What joins a summary kept at its peak to the words on when that peak was.
const WORST_MARK: &str = "; at the worst, ";

/// `from 10:02 to 10:09 UTC`, with the dates when the span crosses midnight.
fn worst_span(from: Timestamp, until: Timestamp) -> String {
    let day = |t: Timestamp| t.format_utc("%Y-%m-%d");
    if day(from) == day(until) {
        format!(
            "from {} to {} UTC",
            from.format_utc("%H:%M"),
            until.format_utc("%H:%M")
        )
    } else {
        format!(
            "from {} to {} UTC",
            from.format_utc("%Y-%m-%d %H:%M"),
            until.format_utc("%Y-%m-%d %H:%M")
        )
    }
}

/// Adds to `scope` what `more` names that it does not. The upstreams keep their
/// order (the cut one first); the other lists stay sorted.
fn widen(scope: &mut Scope, more: &Scope) {
    fn add<T: Clone + PartialEq>(list: &mut Vec<T>, more: &[T]) {
        for item in more {
            if !list.contains(item) {
                list.push(item.clone());
            }
        }
    }
    add(&mut scope.prefixes, &more.prefixes);
    add(&mut scope.upstreams, &more.upstreams);
    add(&mut scope.hosts, &more.hosts);
    add(&mut scope.services, &more.services);
    add(&mut scope.families, &more.families);
    scope.prefixes.sort();
    scope.hosts.sort();
    scope.services.sort();
    scope.families.sort();
}

fn within(scope: &Scope, peak: &Scope) -> bool {
    scope.prefixes.iter().all(|p| peak.prefixes.contains(p))
        && scope.hosts.iter().all(|h| peak.hosts.contains(h))
        && scope.services.iter().all(|s| peak.services.contains(s))
        && scope.families.iter().all(|f| peak.families.contains(f))
}
