//! The engine itself: one write path from inputs to event updates and series.

use crate::series::SeriesMaker;
use crate::traces::{self, TracePlanner};
use blackout_bgp::{BgpChange, BgpState, ChangeKind, EntityIdx, Tracking, Vrps, WatchSet};
use blackout_detect::{
    Detector, DetectorConfig, FAIL_AFTER, FeedSignal, OK_AFTER, ProbeSignal, Signal,
};
use blackout_model::{
    BgpInput, Event, EventUpdate, Evidence, SeriesPoint, SignalKind, Timestamp, TraceReport,
    TraceRequest,
};
use blackout_profile::Profile;
use std::collections::{BTreeMap, BTreeSet};

/// How long a feed must have been up before its routes count as delivered, for
/// the first look after a restart: a router sends the routes it has right after
/// the session comes up, and those of a handful of watched prefixes within seconds.
pub const FEED_SETTLE_SECS: f64 = 15.0;

/// What an engine watches, and how.
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// The profile: names, thresholds, probe timing, feeds.
    pub profile: Profile,
    /// What the BGP state tracks: the profile's networks, or every country and AS.
    pub tracking: Tracking,
    /// Validated ROA payloads in force from the start.
    pub vrps: Vrps,
    /// Whether peers that carried a route stand in for full-feed peers while no
    /// table size is known: yes for live feeds (a session's first routes are its
    /// table), no for archives (an updates file is no table).
    pub observers_stand_in: bool,
    /// Whether the output carries every change of the BGP view too (a replay's
    /// `--timeline`).
    pub record_changes: bool,
}

impl EngineConfig {
    /// A live watch of a profile's networks.
    pub fn live(profile: Profile, vrps: Vrps) -> Self {
        EngineConfig {
            tracking: Tracking::Networks(WatchSet::from_profile(&profile)),
            profile,
            vrps,
            observers_stand_in: true,
            record_changes: false,
        }
    }

    /// A replay of archives for a profile's networks.
    pub fn archive(profile: Profile, vrps: Vrps) -> Self {
        EngineConfig {
            observers_stand_in: false,
            ..EngineConfig::live(profile, vrps)
        }
    }
}

/// Everything the engine is fed, besides the time.
#[derive(Clone, Debug)]
pub enum Input {
    /// A route, a peer's session going down, or a peer's table size.
    Bgp(BgpInput),
    /// A probe result.
    Probe(ProbeSignal),
    /// A feed's health changed.
    Feed(FeedSignal),
    /// New validated ROA payloads: every route is validated again.
    Vrps(Vrps),
    /// A traceroute the engine asked for came back: `probe.trace` evidence on
    /// its event (a revision), unless the event ended meanwhile.
    Trace(TraceReport),
}

/// What the engine said.
#[derive(Debug, Default)]
pub struct Output {
    /// Events that started, changed or ended.
    pub updates: Vec<EventUpdate>,
    /// Points of the series.
    pub series: Vec<SeriesPoint>,
    /// Every change of the BGP view, when the engine was asked to record them.
    pub changes: Vec<BgpChange>,
    /// Traceroutes to run toward the targets of events that started (the edge
    /// runs them and hands back an [`Input::Trace`]).
    pub traces: Vec<TraceRequest>,
}

impl Output {
    /// Adds what `other` holds.
    pub fn extend(&mut self, other: Output) {
        self.updates.extend(other.updates);
        self.series.extend(other.series);
        self.changes.extend(other.changes);
        self.traces.extend(other.traces);
    }

    /// Nothing said.
    pub fn is_empty(&self) -> bool {
        self.updates.is_empty() && self.series.is_empty() && self.traces.is_empty()
    }
}

/// What an engine said last, and what it leaves.
pub struct Finished {
    /// What the end itself said.
    pub output: Output,
    /// Every event, ongoing or ended, in order of start.
    pub events: Vec<Event>,
    /// The BGP state at the end.
    pub state: BgpState,
}

/// The BGP state, the detector and the series, fed together.
pub struct Engine {
    profile: Profile,
    state: BgpState,
    detector: Detector,
    series: SeriesMaker,
    /// Entities whose routes changed since their series last had a look.
    touched: BTreeSet<EntityIdx>,
    /// Each feed's standing: up since when, or down.
    feeds: BTreeMap<String, Option<Timestamp>>,
    /// Since when the first look after a restart goes on, if it does.
    first_look: Option<Timestamp>,
    /// The latest time seen.
    now: Timestamp,
    record_changes: bool,
    /// Which events' targets were traced, within which limits.
    traces: TracePlanner,
    /// Each vantage point's standing, to tell when one comes back.
    vantages: BTreeMap<String, VantageSeen>,
}

/// What the engine saw of a vantage point's results lately.
#[derive(Debug, Default)]
struct VantageSeen {
    /// When its latest current (not late) result was taken.
    current_at: Option<Timestamp>,
    /// Did its latest result come too late to be judged (sent from a disk
    /// buffer, after the broker was away)?
    behind: bool,
}

impl Engine {
    /// An engine with nothing seen yet.
    pub fn new(config: EngineConfig) -> Self {
        let mut state = BgpState::tracking(config.tracking, config.vrps);
        state.set_observers_stand_in(config.observers_stand_in);
        Engine {
            detector: Detector::new(DetectorConfig::from_profile(&config.profile)),
            profile: config.profile,
            state,
            series: SeriesMaker::new(),
            touched: BTreeSet::new(),
            feeds: BTreeMap::new(),
            first_look: None,
            now: Timestamp::EPOCH,
            record_changes: config.record_changes,
            traces: TracePlanner::default(),
            vantages: BTreeMap::new(),
        }
    }

    /// Takes up the events that were open when blackout last stopped (the
    /// store's open events of this profile), at `now`: trouble still there goes
    /// on as the same event, trouble gone ends once the first look is over (see
    /// [`Engine::first_look_over`]). Returns the events it could not place (of a
    /// prefix or upstream the profile no longer names, or a second event for one
    /// slot); close them with [`Engine::close_unwatched`].
    pub fn resume(&mut self, events: Vec<Event>, now: Timestamp) -> Vec<Event> {
        if events.is_empty() {
            return events;
        }
        self.first_look = Some(now);
        self.now = self.now.max(now);
        self.detector.resume(events, now, &self.state)
    }

    /// Ends, at `now`, open events that [`Engine::resume`] could not place, so
    /// that none is left open forever; each says why.
    pub fn close_unwatched(events: Vec<Event>, now: Timestamp) -> Output {
        let mut output = Output::default();
        let at = now.format_utc("%Y-%m-%d %H:%M:%S UTC");
        for mut event in events {
            if event.end.is_some() {
                continue;
            }
            let signal = event
                .evidence
                .last()
                .map(|e| e.signal)
                .unwrap_or(SignalKind::Vantage);
            event.evidence.push(Evidence {
                at: now.max(event.start),
                signal,
                text: format!(
                    "blackout restarted at {at} and no longer watches this as it was (the profile changed): closed without a verdict on its end"
                ),
                value: None,
            });
            event.summary = format!(
                "{} (closed when blackout restarted at {at}: no longer watched as it was)",
                event.summary
            );
            event.end = Some(now.max(event.start));
            output.updates.push(EventUpdate::ended(event));
        }
        output
    }

    /// Takes one input at `now`. What it changed is weighed when a later instant
    /// comes or [`Engine::settle`] is called: signals of one instant are judged
    /// together, whatever their order.
    pub fn step(&mut self, now: Timestamp, input: Input) -> Output {
        self.now = self.now.max(now);
        let mut output = Output::default();
        match input {
            Input::Bgp(input) => {
                self.before_bgp(input.at(), &mut output);
                let changes = self.state.apply(&input);
                self.take_changes(changes, &mut output);
            }
            Input::Vrps(vrps) => {
                self.before_bgp(now, &mut output);
                let changes = self.state.set_vrps(now, vrps);
                self.take_changes(changes, &mut output);
            }
            Input::Probe(signal) => {
                self.series.probe_points(&signal, &mut output.series);
                let back = self.vantage_back(&signal);
                output
                    .updates
                    .extend(self.detector.process(Signal::Probe(signal), &self.state));
                if let Some(vantage) = back {
                    output
                        .traces
                        .extend(self.traces.for_vantage(&vantage, &self.profile));
                }
            }
            Input::Feed(signal) => {
                let standing = self.feeds.entry(signal.feed.clone()).or_insert(None);
                match (signal.up, *standing) {
                    (true, None) => *standing = Some(signal.at),
                    (false, _) => *standing = None,
                    (true, Some(_)) => {}
                }
                output
                    .updates
                    .extend(self.detector.process(Signal::Feed(signal), &self.state));
            }
            Input::Trace(report) => {
                let id = report.event.clone();
                let evidence = traces::evidence(report, &self.profile);
                output
                    .updates
                    .extend(self.detector.add_evidence(&id, evidence));
            }
        }
        self.plan_traces(&mut output);
        output
    }

    /// The BGP state is about to change at `at`: what an earlier instant left
    /// pending (a table dump's peer sizes) is taken in, and that instant is
    /// weighed on the routes as they stood then. In an archive the next record
    /// may come an hour later; weighed after it, the earlier instant would see
    /// that hour's withdrawals and date them to itself.
    fn before_bgp(&mut self, at: Timestamp, output: &mut Output) {
        let changes = self.state.flush_before(at);
        self.take_changes(changes, output);
        output
            .updates
            .extend(self.detector.weigh_before(at, &self.state));
    }

    /// The vantage point of `signal` if this result shows it back: current again
    /// after results that came late, or after none for longer than a view stays
    /// current, or its first. It missed the trace requests of events that
    /// started meanwhile.
    fn vantage_back(&mut self, signal: &ProbeSignal) -> Option<String> {
        let late = self.detector.would_be_late(signal);
        // The vantage point's name is copied once, not once a result.
        if !self.vantages.contains_key(&signal.vantage) {
            self.vantages
                .insert(signal.vantage.clone(), VantageSeen::default());
        }
        let seen = self.vantages.get_mut(&signal.vantage)?;
        if late {
            seen.behind = true;
            return None;
        }
        let max_age = self.detector.view_max_age_with(&signal.vantage);
        let back = seen.behind
            || seen
                .current_at
                .is_none_or(|at| signal.at.secs_since(at) > max_age);
        seen.behind = false;
        seen.current_at = Some(seen.current_at.map_or(signal.at, |at| at.max(signal.at)));
        back.then(|| signal.vantage.clone())
    }

    /// Asks for the traceroutes the updates of `output` call for.
    fn plan_traces(&mut self, output: &mut Output) {
        let requests = self.traces.plan(self.now, &output.updates, &self.profile);
        output.traces.extend(requests);
    }

    fn take_changes(&mut self, changes: Vec<BgpChange>, output: &mut Output) {
        for change in changes {
            self.series
                .prefix_points(&change, &self.state, &mut output.series);
            match &change.kind {
                ChangeKind::Visibility { id, .. } => {
                    self.touched.extend(self.state.members(*id));
                }
                ChangeKind::Denominator { .. } => {
                    self.touched
                        .extend((0..self.state.entities().len() as u32).map(EntityIdx));
                }
                _ => {}
            }
            if self.record_changes {
                output.changes.push(change.clone());
            }
            output
                .updates
                .extend(self.detector.process(Signal::Bgp(change), &self.state));
        }
    }

    /// Time passes to `now`: the instant under way is weighed, held recoveries
    /// are declared, and the first look after a restart ends when it is over.
    /// `watch` calls it as soon as its inputs drain and once a second; replays
    /// need not (a later instant weighs the one before, and `finish` the last).
    pub fn settle(&mut self, now: Timestamp) -> Output {
        self.now = self.now.max(now);
        let mut output = Output::default();
        let changes = self.state.flush();
        self.take_changes(changes, &mut output);
        output
            .updates
            .extend(self.detector.process(Signal::Tick(self.now), &self.state));
        output.updates.extend(self.detector.flush(&self.state));
        let touched = std::mem::take(&mut self.touched);
        self.series
            .entity_points(self.now, &touched, &self.state, &mut output.series);
        if self.first_look.is_some() && self.first_look_over(self.now) {
            output
                .updates
                .extend(self.detector.end_first_look(self.now, &self.state));
            self.first_look = None;
        }
        self.plan_traces(&mut output);
        output
    }

    /// Ends the input (a replay's last record): recoveries under way are declared,
    /// and every event, ongoing or ended, is returned in order of start, with the
    /// BGP state as it ended (for a replay's summary).
    pub fn finish(mut self) -> Finished {
        let mut output = Output::default();
        let changes = self.state.flush();
        self.take_changes(changes, &mut output);
        let touched = std::mem::take(&mut self.touched);
        self.series
            .entity_points(self.now, &touched, &self.state, &mut output.series);
        let events = self.detector.finish(&self.state);
        Finished {
            output,
            events,
            state: self.state,
        }
    }

    /// Is the first look after a restart over at `now`? It is once both
    /// - every check has had time to give the results the detector needs to
    ///   judge it (`FAIL_AFTER` or `OK_AFTER` in a row, see
    ///   [`ProbeSettings::results_within_secs`](blackout_profile::ProbeSettings::results_within_secs)); and
    /// - every feed of the profile has been up for [`FEED_SETTLE_SECS`] and then
    ///   `recovery_hold_secs` (a return its routes show is declared only after
    ///   that hold, as always), or `feed_stale_secs` have passed (a feed not up
    ///   by then is down, its own event, and says nothing of the target).
    pub fn first_look_over(&self, now: Timestamp) -> bool {
        let Some(since) = self.first_look else {
            return true;
        };
        let elapsed = now.secs_since(since);
        let profile = &self.profile;
        let has_checks = !(profile.hosts.is_empty()
            && profile.controls.is_empty()
            && profile.zones.is_empty()
            && profile.mail.is_empty());
        let probes_seen =
            !has_checks || elapsed >= profile.probes.results_within_secs(FAIL_AFTER.max(OK_AFTER));
        let feed_look = FEED_SETTLE_SECS + profile.thresholds.recovery_hold_secs as f64;
        let settled = self
            .feeds
            .values()
            .filter(|up| up.is_some_and(|since| now.secs_since(since) >= feed_look))
            .count();
        let feeds_seen =
            settled >= profile.feeds.len() || elapsed > profile.thresholds.feed_stale_secs as f64;
        probes_seen && feeds_seen
    }

    /// Is the first look after a restart still going on?
    pub fn in_first_look(&self) -> bool {
        self.first_look.is_some()
    }

    /// The BGP state, for views, entities and summaries.
    pub fn state(&self) -> &BgpState {
        &self.state
    }

    /// The detector, for the events open now.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        &self.profile
    }

    /// Every entity (a profile's networks, or every country and origin AS) as it
    /// stands now.
    pub fn entities(&self) -> Vec<crate::EntityView> {
        crate::entities::views(&self.state, &self.detector)
    }

    /// The latest time the engine has seen.
    pub fn now(&self) -> Timestamp {
        self.now
    }
}
