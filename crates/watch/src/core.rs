//! The watch's side of the one write path: the [`Engine`] fed from live inputs,
//! and what the store and the status need besides its events and series (the
//! latest result of each check, each feed's health, what the last run saw).

use crate::convert::{feed_signals, probe_signal};
use blackout_api::{FeedStatus, ProbeStatus};
use blackout_bgp::{BgpState, Tracking, Vrps};
use blackout_detect::Detector;
use blackout_engine::{Engine, EngineConfig, Input};
use blackout_feeds::{FeedHealth, FeedId, FeedKind, FeedState};
use blackout_model::{
    BgpInput, Event, EventUpdate, SeriesPoint, Timestamp, TraceReport, TraceRequest,
};
use blackout_probe::{ProbeResult, targets_from_profile};
use blackout_profile::{FeedConfig, Profile};
use blackout_store::{FeedHealthRow, ProbeRow};
use std::collections::BTreeMap;

pub use blackout_engine::FEED_SETTLE_SECS;

/// What one step of the core produced.
#[derive(Debug, Default)]
pub struct Output {
    /// Events that started, changed or ended.
    pub updates: Vec<EventUpdate>,
    /// Points of the series.
    pub series: Vec<SeriesPoint>,
    /// The latest result of each check that ran, for the store.
    pub probes: Vec<ProbeRow>,
    /// Feed health for the store: on every change of state, and once a minute.
    pub feeds: Vec<FeedHealthRow>,
    /// Traceroutes the engine asks for, toward the targets of events that started.
    pub traces: Vec<TraceRequest>,
}

impl Output {
    /// Adds what `other` holds.
    pub fn extend(&mut self, other: Output) {
        self.updates.extend(other.updates);
        self.series.extend(other.series);
        self.probes.extend(other.probes);
        self.feeds.extend(other.feeds);
        self.traces.extend(other.traces);
    }

    fn engine(&mut self, output: blackout_engine::Output) {
        self.updates.extend(output.updates);
        self.series.extend(output.series);
        self.traces.extend(output.traces);
    }
}

/// How often a feed's health is stored while its state stays the same.
const FEED_RECORD_SECS: f64 = 60.0;

/// The engine, and the latest word of each feed and check.
pub struct Core {
    engine: Engine,
    vantage: String,
    feeds: BTreeMap<String, FeedHealth>,
    /// What the engine was last told of each feed: up, and its table loading.
    feed_said: BTreeMap<String, (bool, bool)>,
    probes: BTreeMap<(String, String), ProbeResult>,
    /// What the last run saw of each check (target, check) and feed, shown until
    /// they report again.
    last_seen_probes: BTreeMap<(String, String), ProbeStatus>,
    last_seen_feeds: BTreeMap<String, FeedStatus>,
    /// Each feed's state when its health was last stored, and when.
    feeds_recorded: BTreeMap<String, (FeedState, Timestamp)>,
    /// Relayed feeds whose tables may still be on their way to this central,
    /// until when (their health is the agent's, and cannot tell).
    tables_arriving: BTreeMap<String, Timestamp>,
}

impl Core {
    /// A core for a profile's networks, seen from `vantage`.
    pub fn new(profile: Profile, vrps: Vrps, vantage: &str) -> Self {
        let tracking = Tracking::Networks(blackout_bgp::WatchSet::from_profile(&profile));
        Core::tracking(profile, tracking, vrps, vantage)
    }

    /// A core for a profile, tracking what `tracking` says (the profile's
    /// networks, or every country and AS), seen from `vantage`.
    pub fn tracking(profile: Profile, tracking: Tracking, vrps: Vrps, vantage: &str) -> Self {
        Core {
            engine: Engine::new(EngineConfig {
                tracking,
                ..EngineConfig::live(profile, vrps)
            }),
            vantage: vantage.to_string(),
            feeds: BTreeMap::new(),
            feed_said: BTreeMap::new(),
            probes: BTreeMap::new(),
            last_seen_probes: BTreeMap::new(),
            last_seen_feeds: BTreeMap::new(),
            feeds_recorded: BTreeMap::new(),
            tables_arriving: BTreeMap::new(),
        }
    }

    /// What the last run saw of the checks and feeds (the store's latest rows),
    /// for the status until they report again; rows of other vantage points,
    /// checks and feeds than this profile's are left out. Only shown: the
    /// detector judges what it sees from now on.
    pub fn restore_last_seen(&mut self, feeds: Vec<FeedHealthRow>, probes: Vec<ProbeRow>) {
        let profile = self.engine.profile();
        let targets: Vec<String> = targets_from_profile(profile)
            .into_iter()
            .map(|t| t.name)
            .collect();
        for row in probes {
            if row.vantage == self.vantage && targets.contains(&row.target) {
                self.last_seen_probes.insert(
                    (row.target.clone(), row.check.clone()),
                    crate::status::from_probe_row(row),
                );
            }
        }
        for row in feeds {
            let kind = FeedKind::of_name(&row.feed);
            let mine = profile.feeds.iter().any(|feed| match feed {
                FeedConfig::Bgp { peer, .. } => row.feed == FeedId::bgp(*peer).to_string(),
                FeedConfig::Bmp { .. } => kind == Some(FeedKind::Bmp),
                FeedConfig::RisLive { .. } => kind == Some(FeedKind::RisLive),
            });
            if mine {
                self.last_seen_feeds
                    .insert(row.feed.clone(), crate::status::from_feed_row(row));
            }
        }
    }

    /// What the last run saw of the checks not run again yet (each is dropped as
    /// its check reports).
    pub(crate) fn last_seen_probes(&self) -> &BTreeMap<(String, String), ProbeStatus> {
        &self.last_seen_probes
    }

    /// What the last run saw of the feeds not reporting yet.
    pub(crate) fn last_seen_feeds(&self) -> &BTreeMap<String, FeedStatus> {
        &self.last_seen_feeds
    }

    /// Takes up the events that were open when blackout last stopped, at `now`
    /// (see [`Engine::resume`]). Returns the events it could not place.
    pub fn resume(&mut self, events: Vec<Event>, now: Timestamp) -> Vec<Event> {
        self.engine.resume(events, now)
    }

    /// Ends open events that [`Core::resume`] could not place (see
    /// [`Engine::close_unwatched`]).
    pub fn close_unwatched(events: Vec<Event>, now: Timestamp) -> Output {
        let mut output = Output::default();
        output.engine(Engine::close_unwatched(events, now));
        output
    }

    /// Is the first look after a restart over at `now`?
    pub fn first_look_over(&self, now: Timestamp) -> bool {
        self.engine.first_look_over(now)
    }

    /// A route input from a feed, at the time the feed dates it.
    pub fn on_bgp(&mut self, input: &BgpInput) -> Output {
        let mut output = Output::default();
        output.engine(self.engine.step(input.at(), Input::Bgp(input.clone())));
        output
    }

    /// New validated ROA payloads, at `now`: every route is validated again, and
    /// the routes whose RPKI state changed go to the detector.
    pub fn set_vrps(&mut self, now: Timestamp, vrps: Vrps) -> Output {
        let mut output = Output::default();
        output.engine(self.engine.step(now, Input::Vrps(vrps)));
        output
    }

    /// A probe result.
    pub fn on_probe(&mut self, result: ProbeResult) -> Output {
        let mut output = Output::default();
        if let Some(signal) = probe_signal(&result, &self.vantage) {
            output.engine(self.engine.step(signal.at, Input::Probe(signal)));
        }
        output
            .probes
            .push(crate::status::probe_row(&result, &self.vantage));
        let key = (result.target.clone(), result.check.clone());
        // Run again: what the last run saw of it is no longer shown.
        self.last_seen_probes.remove(&key);
        self.probes.insert(key, result);
        output
    }

    /// A probe result from another vantage point (an agent's, read from the
    /// broker): judged as seen from `vantage`, stored under its name. Only this
    /// vantage point's own results are the status' latest of each check.
    pub fn on_agent_probe(&mut self, vantage: &str, result: &ProbeResult) -> Output {
        let mut output = Output::default();
        if let Some(signal) = probe_signal(result, vantage) {
            output.engine(self.engine.step(signal.at, Input::Probe(signal)));
        }
        output
            .probes
            .push(crate::status::probe_row(result, vantage));
        output
    }

    /// A traceroute the engine asked for came back: evidence on its event.
    pub fn on_trace(&mut self, report: TraceReport) -> Output {
        let mut output = Output::default();
        output.engine(self.engine.step(report.at, Input::Trace(report)));
        output
    }

    /// A relayed feed's health, its table on its way to this central until
    /// `table_arriving_until` (if it is): taken as loading until then.
    pub fn on_relayed_feed_health(
        &mut self,
        health: FeedHealth,
        table_arriving_until: Option<Timestamp>,
    ) {
        let name = health.feed.to_string();
        match table_arriving_until {
            Some(until) => self.tables_arriving.insert(name, until),
            None => self.tables_arriving.remove(&name),
        };
        self.on_feed_health(health);
    }

    /// A feed's health.
    pub fn on_feed_health(&mut self, health: FeedHealth) {
        let name = health.feed.to_string();
        self.last_seen_feeds.remove(&name);
        self.feeds.insert(name, health);
    }

    /// Time passes to `now`: feeds are judged, the instant under way weighed, held
    /// recoveries declared, the first look ended when it is over.
    pub fn tick(&mut self, now: Timestamp) -> Output {
        let mut output = Output::default();
        for (name, health) in &self.feeds {
            let due = match self.feeds_recorded.get(name) {
                Some((state, at)) => {
                    *state != health.state || now.secs_since(*at) >= FEED_RECORD_SECS
                }
                None => true,
            };
            if due {
                output.feeds.push(crate::status::feed_row(health, now));
                self.feeds_recorded
                    .insert(name.clone(), (health.state, now));
            }
        }
        let health: Vec<FeedHealth> = self.feeds.values().cloned().collect();
        let stale = self.engine.profile().thresholds.feed_stale_secs;
        for mut signal in feed_signals(&health, now, stale) {
            if self
                .tables_arriving
                .get(&signal.feed)
                .is_some_and(|until| now < *until)
            {
                signal.loading = true;
            }
            let said = (signal.up, signal.loading);
            if self.feed_said.insert(signal.feed.clone(), said) != Some(said) {
                output.engine(self.engine.step(now, Input::Feed(signal)));
            }
        }
        output.engine(self.engine.settle(now));
        output
    }

    /// The BGP state, for views and summaries.
    pub fn bgp(&self) -> &BgpState {
        self.engine.state()
    }

    /// The engine.
    pub fn engine(&self) -> &Engine {
        &self.engine
    }

    /// The latest result of every check.
    pub fn probes(&self) -> impl Iterator<Item = &ProbeResult> {
        self.probes.values()
    }

    /// The latest health of every feed.
    pub fn feeds(&self) -> impl Iterator<Item = &FeedHealth> {
        self.feeds.values()
    }

    /// The profile.
    pub fn profile(&self) -> &Profile {
        self.engine.profile()
    }

    /// The detector.
    pub fn detector(&self) -> &Detector {
        self.engine.detector()
    }

    /// The name of this vantage point.
    pub fn vantage(&self) -> &str {
        &self.vantage
    }
}
