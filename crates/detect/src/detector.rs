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
use crate::probes::{CheckState, ProbeSignal, ProbeTracker};
use crate::rules::{CheckView, Situation, attribute};
use blackout_bgp::{BgpChange, BgpState, EntityIdx, EntityRole};
use blackout_model::{
    Asn, Cause, Entity, Event, EventUpdate, Evidence, ProbeKind, ProbeRole, Scope, Severity,
    SignalKind, Timestamp,
};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
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
    /// When each vantage point last came back online, for the same reason.
    vantage_back: BTreeMap<String, Timestamp>,
    /// Each feed blackout has heard of, and whether it is up: words about routes
    /// need a feed that is up.
    feeds: BTreeMap<String, bool>,
}

/// Evidence kept from before the network event opens.
const EARLY_EVIDENCE: usize = 32;

/// The slot of an entity's network event: one per entity, whatever its cause.
fn network_slot(entity: &Entity) -> Slot {
    (entity.clone(), Cause::Internal, String::new())
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
        Detector {
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
            vantage_back: BTreeMap::new(),
            feeds: BTreeMap::new(),
        }
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
    pub fn process(&mut self, signal: &Signal, bgp: &BgpState) -> Vec<EventUpdate> {
        let at = signal.at().max(self.last_at);
        let mut updates = Vec::new();
        if self.pending.is_some_and(|pending| pending < at) {
            self.weigh(bgp, &mut updates);
        }
        self.last_at = at;
        self.pending = Some(at);
        let mut signal = signal.clone();
        if let Signal::Probe(probe) = &mut signal {
            probe.at = at;
        }
        self.batch.push(signal);
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

    /// The events open now, of every part.
    pub fn open_events(&self) -> Vec<&Event> {
        self.book
            .open
            .values()
            .chain(self.bgp.open_events())
            .collect()
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
        let mut events = self.book.into_events();
        events.extend(self.bgp.into_events());
        events.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        events
    }

    /// Can a sentence about the entity's routes be backed: a feed is up (or none
    /// has reported down: the routes come straight in) and it has seen them?
    fn bgp_view(&self, entity: EntityIdx) -> bool {
        let feed_up = self.feeds.is_empty() || self.feeds.values().any(|up| *up);
        feed_up && self.bgp.has_baseline(entity)
    }

    fn on_feed(&mut self, at: Timestamp, feed: &FeedSignal, updates: &mut Vec<EventUpdate>) {
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
        for ((vantage, role, _, _), track) in self.probes.checks() {
            if *role != ProbeRole::Control {
                continue;
            }
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

    /// The watched network's checks, each over the vantage points that are online:
    /// failing only if every one of them sees it fail.
    fn check_views(&self, offline: &BTreeMap<String, Timestamp>) -> Vec<CheckView> {
        let mut grouped: BTreeMap<
            (ProbeRole, String, ProbeKind),
            Vec<Cow<'_, crate::probes::CheckTrack>>,
        > = BTreeMap::new();
        // When every control of each vantage point was last asked: a target's
        // failure is a fact about the target only once the vantage point has been
        // looked at again (online or not) after it began. A changed result is
        // probed again quickly, so a target can be failing before the controls
        // have all been asked again.
        let mut controls_seen: BTreeMap<&str, Timestamp> = BTreeMap::new();
        for ((vantage, role, ..), track) in self.probes.checks() {
            if *role == ProbeRole::Control {
                let seen = controls_seen
                    .entry(vantage.as_str())
                    .or_insert(track.last.at);
                *seen = (*seen).min(track.last.at);
            }
        }
        for ((vantage, role, target, kind), track) in self.probes.checks() {
            if *role == ProbeRole::Control
                || offline.contains_key(vantage)
                || track.state == CheckState::Unknown
                || self.in_tail(self.vantage_back.get(vantage).copied(), &track.state)
            {
                continue;
            }
            let track = match track.state {
                CheckState::Failing {
                    since,
                    after_degradation,
                } if controls_seen
                    .get(vantage.as_str())
                    .is_some_and(|seen| *seen < since) =>
                {
                    // Shown as it was before it failed, until the controls tell.
                    let mut before = track.clone();
                    before.state = if after_degradation {
                        CheckState::Degraded { since }
                    } else {
                        CheckState::Ok
                    };
                    Cow::Owned(before)
                }
                _ => Cow::Borrowed(track),
            };
            grouped
                .entry((*role, target.clone(), *kind))
                .or_default()
                .push(track);
        }
        grouped
            .into_iter()
            .map(|((role, target, kind), tracks)| {
                let failing: Vec<&Cow<'_, crate::probes::CheckTrack>> = tracks
                    .iter()
                    .filter(|t| matches!(t.state, CheckState::Failing { .. }))
                    .collect();
                let state = if failing.len() == tracks.len() {
                    let since = failing.iter().filter_map(|t| match t.state {
                        CheckState::Failing { since, .. } => Some(since),
                        _ => None,
                    });
                    let after = failing.iter().any(|t| {
                        matches!(
                            t.state,
                            CheckState::Failing {
                                after_degradation: true,
                                ..
                            }
                        )
                    });
                    CheckState::Failing {
                        since: since.min().unwrap_or(self.last_at),
                        after_degradation: after,
                    }
                } else if let Some(since) = tracks
                    .iter()
                    .filter_map(|t| match t.state {
                        CheckState::Degraded { since } => Some(since),
                        _ => None,
                    })
                    .min()
                {
                    CheckState::Degraded { since }
                } else {
                    CheckState::Ok
                };
                let latest = tracks.iter().max_by_key(|t| t.last.at);
                let last = latest.map(|t| &t.last);
                CheckView {
                    role,
                    entity: last
                        .map(|l| l.entity())
                        .unwrap_or(Entity::Host(target.clone())),
                    target,
                    kind,
                    state,
                    text: last.map(|l| l.text.clone()).unwrap_or_default(),
                    last_hop_asn: last.and_then(|l| l.last_hop_asn),
                    recovered_at: tracks.iter().filter_map(|t| t.recovered_at).max(),
                    last_at: last.map_or(self.last_at, |l| l.at),
                    last_clean: latest.is_some_and(|t| t.last_clean),
                    trouble: crate::probes::TroubleStats::merged(
                        tracks.iter().filter_map(|t| t.trouble.as_ref()),
                    ),
                }
            })
            .collect()
    }

    fn weigh(&mut self, bgp: &BgpState, updates: &mut Vec<EventUpdate>) {
        let Some(at) = self.pending.take() else {
            return;
        };
        self.take_in(at, bgp, updates);
        let changed: BTreeSet<EntityIdx> = self.bgp.changed_entities().clone();
        updates.extend(self.bgp.settle(at, bgp));
        let offline = self.offline_vantages();
        self.weigh_vantages(at, &offline, updates);
        let checks = self.check_views(&offline);
        let all_offline = !offline.is_empty() && self.vantage_count() == offline.len();
        // With every vantage point offline, the probes say nothing about the target:
        // no network verdict from them, and a service event open is held as it
        // stands (it ends only when its own checks are seen to pass).
        let checks = if all_offline { Vec::new() } else { checks };
        // The entities to weigh: those whose routes changed, those with checks of
        // their own, and those with an event or stress under way.
        let mut entities: BTreeSet<EntityIdx> = changed;
        let owners: Vec<Option<EntityIdx>> =
            checks.iter().map(|c| self.owner(&c.target, bgp)).collect();
        entities.extend(owners.iter().flatten());
        entities.extend(self.stress_since.keys());
        entities.extend(
            self.book
                .open
                .keys()
                .filter(|(_, cause, _)| *cause == Cause::Internal)
                .filter_map(|(entity, ..)| bgp.entity_index(entity)),
        );
        let mut network_causes: BTreeMap<EntityIdx, Cause> = BTreeMap::new();
        for entity in entities {
            let own: Vec<CheckView> = checks
                .iter()
                .zip(&owners)
                .filter(|(_, owner)| **owner == Some(entity))
                .map(|(check, _)| check.clone())
                .collect();
            if let Some(cause) = self.weigh_network(at, entity, own, bgp, updates) {
                network_causes.insert(entity, cause);
            }
        }
        if all_offline {
            self.hold_services();
        } else {
            self.weigh_services(at, &checks, &owners, &network_causes, updates);
        }
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
        let host = target.split('@').next_back().unwrap_or(target);
        let named = self
            .config
            .target_networks
            .get(host)
            .and_then(|entity| entity.parse::<Entity>().ok())
            .and_then(|entity| bgp.entity_index(&entity));
        named.or_else(|| {
            let entities = bgp.entities();
            entities
                .iter()
                .position(|e| e.role == EntityRole::Whole)
                .or_else(|| entities.iter().position(|e| e.role == EntityRole::Network))
                .map(|i| EntityIdx(i as u32))
        })
    }

    /// Weighs one entity's situation and opens, revises or ends its network
    /// event; returns the cause it stands on, if any.
    fn weigh_network(
        &mut self,
        at: Timestamp,
        entity: EntityIdx,
        checks: Vec<CheckView>,
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
            self.keep_early_evidence(entity);
            return None;
        }
        let dark = self.bgp.dark_prefixes(entity, bgp);
        let carriers: Vec<(Asn, String)> = self
            .bgp
            .carriers(entity)
            .into_iter()
            .map(|asn| (asn, self.config.upstream_label(asn)))
            .collect();
        let situation = Situation {
            at,
            name: &info.name,
            thresholds: &self.config.thresholds,
            dark,
            rpki_invalid: self.bgp.rpki_invalid_prefixes(entity),
            prefixes: bgp.aggregates(entity).prefix_count() as usize,
            bgp_baseline: self.bgp.has_baseline(entity),
            bgp_view: self.bgp_view(entity),
            visibility: self.bgp.visibility_text(entity, bgp),
            carriers: &carriers,
            known_upstreams: &self.config.known_upstreams,
            peers: bgp.denominators(),
            checks,
            stress_before: self.stress_since.get(&entity).copied(),
        };
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
        let checks = situation.checks;
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
            (Some(verdict), false) => {
                // Only this incident's own signals, from its start on.
                let early = self.early_evidence.remove(&entity).unwrap_or_default();
                let evidence: Vec<Evidence> = early
                    .into_iter()
                    .chain(bgp_evidence)
                    .filter(|e| e.at >= verdict.start)
                    .chain(verdict.evidence)
                    .collect();
                let opening = Opening {
                    severity: verdict.severity,
                    confidence: verdict.confidence,
                    scope: verdict.scope,
                    summary: verdict.summary,
                    evidence,
                };
                self.book
                    .start_as(verdict.start, slot, verdict.cause, opening, updates);
            }
            (Some(verdict), true) => {
                self.book.confirm(&slot);
                for item in bgp_evidence {
                    self.book.note(&slot, item);
                }
                let event = self.book.open.get(&slot)?;
                if cause_rank(verdict.cause) < cause_rank(event.cause) {
                    // The outage recedes (routes return before the probes see it,
                    // a ROA is fixed before the routes come back): a weaker
                    // explanation of the tail does not replace the cause of the onset.
                    let text = format!("{} recedes: {}", info.name, verdict.summary);
                    self.book.note(
                        &slot,
                        Evidence {
                            at,
                            signal: SignalKind::BgpVisibility,
                            text,
                            value: None,
                        },
                    );
                } else if event.cause != verdict.cause || event.scope != verdict.scope {
                    let text = if event.cause != verdict.cause {
                        format!("cause revised: {} -> {}", event.cause, verdict.cause)
                    } else {
                        "what is dark changed".to_string()
                    };
                    self.book.revise(&slot, updates, |event| {
                        for item in verdict.evidence {
                            crate::book::push_evidence(event, item);
                        }
                        event.evidence.push(Evidence {
                            at,
                            signal: SignalKind::BgpVisibility,
                            text,
                            value: None,
                        });
                        // The summary and scope keep the worst of the incident: a
                        // scope that only shrinks (hosts or prefixes coming back) is
                        // recorded in the evidence, not by forgetting the peak.
                        let past_peak =
                            event.cause == verdict.cause && within(&verdict.scope, &event.scope);
                        event.cause = verdict.cause;
                        event.severity = verdict.severity.max(event.severity);
                        event.confidence = verdict.confidence;
                        if !past_peak {
                            event.summary = verdict.summary;
                            event.scope = verdict.scope;
                        }
                        event.start = event.start.min(verdict.start);
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
            }
            (None, false) => self.keep(entity, bgp_evidence),
        }
        network_cause
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
        let grace = self.config.thresholds.recovery_hold_secs as f64
            + self
                .config
                .probes
                .results_within_secs(crate::FAIL_AFTER.max(crate::OK_AFTER));
        *since < back && self.last_at.secs_since(back) < grace
    }

    fn vantage_count(&self) -> usize {
        self.probes
            .checks()
            .map(|((vantage, ..), _)| vantage.as_str())
            .collect::<BTreeSet<_>>()
            .len()
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
            .filter(|(entity, cause, _)| {
                matches!(entity, Entity::Vantage(_)) && *cause == Cause::Vantage
            })
            .cloned()
            .collect();
        for slot in open {
            if let (Entity::Vantage(name), ..) = &slot
                && !offline.contains_key(name)
            {
                let back = self
                    .probes
                    .checks()
                    .filter(|((v, role, ..), _)| v == name && *role == ProbeRole::Control)
                    .filter_map(|(_, t)| t.recovered_at)
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
                .checks()
                .filter(|((v, role, ..), _)| v == name && *role == ProbeRole::Control)
                .map(|((_, _, target, kind), t)| Evidence {
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
        checks: &[CheckView],
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
            let host_dark = checks.iter().any(|h| {
                h.kind == ProbeKind::Icmp && h.target == check.target && h.failing_since().is_some()
            });
            if !host_dark
                && !network_down
                && !self.in_tail(network_back, &check.state)
                && hosts_answer_since(since)
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
        for slot in open {
            if still_failing.contains_key(&slot.0) {
                continue;
            }
            let own: Vec<&CheckView> = checks.iter().filter(|c| c.entity == slot.0).collect();
            let back = own
                .iter()
                .filter_map(|c| c.recovered_at)
                .max()
                .unwrap_or(at);
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
            let total = checks.iter().filter(|c| c.entity == entity).count();
            let view = checks
                .iter()
                .zip(owners)
                .find(|(c, _)| c.entity == entity)
                .and_then(|(_, owner)| *owner)
                .is_some_and(|owner| self.bgp_view(owner));
            let opening = service_opening(&entity, &views, total, at, view);
            if let Some(known) = self.book.open.get(&slot).map(|e| e.scope.hosts.clone()) {
                self.book.confirm(&slot);
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
            if !may_open.contains(&entity) {
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
        Signal::Feed(feed) => (1, u64::from(feed.up), feed.feed.clone()),
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
fn within(scope: &Scope, peak: &Scope) -> bool {
    scope.prefixes.iter().all(|p| peak.prefixes.contains(p))
        && scope.hosts.iter().all(|h| peak.hosts.contains(h))
        && scope.services.iter().all(|s| peak.services.contains(s))
}
