//! The one write path: everything the observatory learns goes through [`Core`].

use crate::convert::{feed_signals, probe_signal};
use blackout_api::{FeedStatus, ProbeStatus};
use blackout_bgp::{BgpChange, BgpState, Vrps, WatchSet};
use blackout_detect::{Detector, DetectorConfig, FAIL_AFTER, OK_AFTER, Signal};
use blackout_feeds::{FeedHealth, FeedId, FeedKind, FeedState};
use blackout_model::{Asn, BgpInput, Entity, Event, EventUpdate, Measure, SeriesPoint, Timestamp};
use blackout_probe::{ProbeResult, targets_from_profile};
use blackout_profile::{FeedConfig, Profile};
use blackout_store::{FeedHealthRow, ProbeRow};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};

/// What one step of the core produced.
#[derive(Debug, Default)]
pub struct Output {
    /// Events that started, changed or ended.
    pub updates: Vec<EventUpdate>,
    /// Points of the signal series.
    pub signals: Vec<SeriesPoint>,
    /// The latest result of each check that ran, for the store.
    pub probes: Vec<ProbeRow>,
    /// Feed health for the store: on every change of state, and once a minute.
    pub feeds: Vec<FeedHealthRow>,
}

impl Output {
    /// Adds what `other` holds.
    pub fn extend(&mut self, other: Output) {
        self.updates.extend(other.updates);
        self.signals.extend(other.signals);
        self.probes.extend(other.probes);
        self.feeds.extend(other.feeds);
    }
}

/// How often a feed's health is stored while its state stays the same.
const FEED_RECORD_SECS: f64 = 60.0;

/// How long a feed must have been up before its routes count as delivered, for
/// the first look after a restart: a router sends the routes it has right after
/// the session comes up, and those of a handful of watched prefixes within seconds.
pub const FEED_SETTLE_SECS: f64 = 15.0;

/// The BGP state, the detector, and the latest word of each feed.
pub struct Core {
    profile: Profile,
    state: BgpState,
    detector: Detector,
    vantage: String,
    feeds: BTreeMap<String, FeedHealth>,
    feed_up: BTreeMap<String, bool>,
    probes: BTreeMap<(String, String), ProbeResult>,
    /// Since when the first look after a restart goes on, if it does.
    first_look: Option<Timestamp>,
    /// What the last run saw of each check (target, check) and feed, shown until
    /// they report again.
    last_seen_probes: BTreeMap<(String, String), ProbeStatus>,
    last_seen_feeds: BTreeMap<String, FeedStatus>,
    /// Each feed's state when its health was last stored, and when.
    feeds_recorded: BTreeMap<String, (FeedState, Timestamp)>,
    series: VisibilitySeries,
}

impl Core {
    /// A core for a profile, seen from `vantage`.
    pub fn new(profile: Profile, vrps: Vrps, vantage: &str) -> Self {
        Core {
            state: BgpState::new(WatchSet::from_profile(&profile), vrps),
            detector: Detector::new(DetectorConfig::from_profile(&profile)),
            profile,
            vantage: vantage.to_string(),
            feeds: BTreeMap::new(),
            feed_up: BTreeMap::new(),
            probes: BTreeMap::new(),
            first_look: None,
            last_seen_probes: BTreeMap::new(),
            last_seen_feeds: BTreeMap::new(),
            feeds_recorded: BTreeMap::new(),
            series: VisibilitySeries::new(),
        }
    }

    /// What the last run saw of the checks and feeds (the store's latest rows),
    /// for the status until they report again; rows of other vantage points,
    /// checks and feeds than this profile's are left out. Only shown: the
    /// detector judges what it sees from now on.
    pub fn restore_last_seen(&mut self, feeds: Vec<FeedHealthRow>, probes: Vec<ProbeRow>) {
        let targets: Vec<String> = targets_from_profile(&self.profile)
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
            let mine = self.profile.feeds.iter().any(|feed| match feed {
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

    /// Takes up the events that were open when blackout last stopped (the
    /// store's [`open_events_of`](blackout_store::Store::open_events_of) this
    /// profile), at `now`: trouble still there goes on as the same event, trouble
    /// gone ends once the first look is over (see [`Core::first_look_over`]).
    /// Returns the events the detector could not place.
    pub fn resume(&mut self, events: Vec<Event>, now: Timestamp) -> Vec<Event> {
        if events.is_empty() {
            return events;
        }
        self.first_look = Some(now);
        self.detector.resume(events, now)
    }

    /// Ends, at `now`, open events of this profile's that the detector could not
    /// take up again ([`Core::resume`] returned them: a prefix or upstream the
    /// profile no longer names, or a second event for one slot), so that none is
    /// left open forever; each says why.
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
                .unwrap_or(blackout_model::SignalKind::Vantage);
            event.evidence.push(blackout_model::Evidence {
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

    /// Is the first look after a restart over at `now`? It is once both
    /// - every check has had time to give the results the detector needs to
    ///   judge it (`FAIL_AFTER` or `OK_AFTER` in a row): the first round is spread
    ///   over one interval, each later one comes an interval (plus jitter) after,
    ///   and each result may take its timeout per attempt; and
    /// - every feed of the profile has been up for [`FEED_SETTLE_SECS`] and then
    ///   `recovery_hold_secs` (a return its routes show is declared only after
    ///   that hold, as always), or `feed_stale_secs` have passed (a feed not up
    ///   by then is down, its own event, and says nothing of the target).
    pub fn first_look_over(&self, now: Timestamp) -> bool {
        let Some(since) = self.first_look else {
            return true;
        };
        let elapsed = now.secs_since(since);
        let probes = &self.profile.probes;
        let has_checks = !(self.profile.hosts.is_empty()
            && self.profile.controls.is_empty()
            && self.profile.zones.is_empty()
            && self.profile.mail.is_empty());
        let results = f64::from(FAIL_AFTER.max(OK_AFTER));
        let probe_look = probes.interval_secs * (1.0 + (results - 1.0) * (1.0 + probes.jitter))
            + probes.timeout_secs * f64::from(probes.retries + 1)
            + 1.0;
        let probes_seen = !has_checks || elapsed >= probe_look;
        let feed_look = FEED_SETTLE_SECS + self.profile.thresholds.recovery_hold_secs as f64;
        let settled = self
            .feeds
            .values()
            .filter(|h| h.state == FeedState::Up && now.secs_since(h.since) >= feed_look)
            .count();
        let feeds_seen = settled >= self.profile.feeds.len()
            || elapsed > self.profile.thresholds.feed_stale_secs as f64;
        probes_seen && feeds_seen
    }

    /// A route input from a feed.
    pub fn on_bgp(&mut self, input: &BgpInput) -> Output {
        let mut output = Output::default();
        for change in self.state.apply(input) {
            self.series.add(&change, &mut output.signals);
            output
                .updates
                .extend(self.detector.process(&Signal::Bgp(change)));
        }
        output
    }

    /// New validated ROA payloads, at `now`: every route is validated again, and
    /// the routes whose RPKI state changed go to the detector.
    pub fn set_vrps(&mut self, now: Timestamp, vrps: Vrps) -> Output {
        let mut output = Output::default();
        for change in self.state.set_vrps(now, vrps) {
            self.series.add(&change, &mut output.signals);
            output
                .updates
                .extend(self.detector.process(&Signal::Bgp(change)));
        }
        output
    }

    /// A probe result.
    pub fn on_probe(&mut self, result: ProbeResult) -> Output {
        let mut output = Output::default();
        if let Some(signal) = probe_signal(&result, &self.vantage) {
            let entity = signal.entity();
            output.signals.push(SeriesPoint::new(
                entity.clone(),
                Measure::ProbeOk(signal.kind),
                signal.at,
                if signal.ok { 1.0 } else { 0.0 },
            ));
            if let Some(rtt) = signal.rtt_ms {
                output.signals.push(SeriesPoint::new(
                    entity,
                    Measure::ProbeRttMs(signal.kind),
                    signal.at,
                    rtt,
                ));
            }
            output
                .updates
                .extend(self.detector.process(&Signal::Probe(signal)));
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

    /// A feed's health.
    pub fn on_feed_health(&mut self, health: FeedHealth) {
        let name = health.feed.to_string();
        self.last_seen_feeds.remove(&name);
        self.feeds.insert(name, health);
    }

    /// The time passes: feeds are judged, held recoveries declared, the instant weighed.
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
        for signal in feed_signals(&health, now, self.profile.thresholds.feed_stale_secs) {
            if self.feed_up.insert(signal.feed.clone(), signal.up) != Some(signal.up) {
                output
                    .updates
                    .extend(self.detector.process(&Signal::Feed(signal)));
            }
        }
        output
            .updates
            .extend(self.detector.process(&Signal::Tick(now)));
        output.updates.extend(self.detector.flush());
        if self.first_look.is_some() && self.first_look_over(now) {
            output.updates.extend(self.detector.end_first_look(now));
            self.first_look = None;
        }
        output
    }

    /// The BGP state, for views and summaries.
    pub fn bgp(&self) -> &BgpState {
        &self.state
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
        &self.profile
    }

    /// The detector.
    pub fn detector(&self) -> &Detector {
        &self.detector
    }

    /// The name of this vantage point.
    pub fn vantage(&self) -> &str {
        &self.vantage
    }
}

/// The series BGP changes add to: visibility per prefix, and each upstream's
/// share of the prefix's paths. It remembers which upstreams each prefix had, so
/// that an upstream that leaves a prefix's view gets a 0 (the view no longer names
/// it) and its line drops rather than stopping at its last share.
#[derive(Debug, Default)]
pub struct VisibilitySeries {
    upstreams: BTreeMap<IpNet, BTreeSet<Asn>>,
}

impl VisibilitySeries {
    /// No prefix seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The points `change` adds.
    pub fn add(&mut self, change: &BgpChange, points: &mut Vec<SeriesPoint>) {
        let BgpChange::Visibility { at, view, .. } = change else {
            return;
        };
        let entity = Entity::Prefix(view.prefix);
        points.push(SeriesPoint::new(
            entity.clone(),
            Measure::Visibility,
            *at,
            view.visibility(),
        ));
        let known = self.upstreams.entry(view.prefix).or_default();
        for upstream in known.iter().filter(|u| !view.upstreams.contains_key(u)) {
            points.push(SeriesPoint::new(
                entity.clone(),
                Measure::UpstreamShare(*upstream),
                *at,
                0.0,
            ));
        }
        for upstream in view.upstreams.keys() {
            points.push(SeriesPoint::new(
                entity.clone(),
                Measure::UpstreamShare(*upstream),
                *at,
                view.upstream_share(*upstream),
            ));
        }
        // Gone upstreams got their 0 once; they are named again if they return.
        *known = view.upstreams.keys().copied().collect();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_model::{AsPath, PeerKey, RouteChange, RouteUpdate};

    fn route(peer: u8, upstream: Option<u32>) -> BgpInput {
        BgpInput::Route(RouteUpdate {
            at: Timestamp::from_secs(1_700_000_000 + i64::from(peer)),
            peer: PeerKey {
                collector: "rrc00".into(),
                ip: std::net::IpAddr::from([198, 51, 100, peer]),
                asn: Asn(64400 + u32::from(peer)),
            },
            prefix: "203.0.113.0/24".parse().unwrap(),
            path_id: None,
            change: match upstream {
                Some(upstream) => RouteChange::Announce {
                    as_path: AsPath::from_sequence([64400 + u32::from(peer), upstream, 64500]),
                },
                None => RouteChange::Withdraw,
            },
        })
    }

    #[test]
    fn an_upstream_that_leaves_a_prefix_drops_to_zero() {
        let watch = WatchSet {
            prefixes: vec!["203.0.113.0/24".parse().unwrap()],
            aggregates: vec![],
            origins: [Asn(64500)].into(),
            known_upstreams: [Asn(64501), Asn(64502)].into(),
            full_feed_ratio: 0.75,
        };
        let mut state = BgpState::new(watch, Vrps::default());
        let mut series = VisibilitySeries::new();
        let mut points = Vec::new();
        // Given two peers, one through each upstream
        for input in [route(1, Some(64501)), route(2, Some(64502))] {
            for change in state.apply(&input) {
                series.add(&change, &mut points);
            }
        }
        // When the path through 64502 goes
        let mut after = Vec::new();
        for change in state.apply(&route(2, None)) {
            series.add(&change, &mut after);
        }
        // Then its series gets a 0, and 64501's carries on
        let value = |upstream: u32| {
            after
                .iter()
                .rev()
                .find(|p| p.key.measure == Measure::UpstreamShare(Asn(upstream)))
                .map(|p| p.value)
        };
        assert_eq!(value(64502), Some(0.0), "{after:?}");
        assert!(value(64501).is_some_and(|v| v > 0.0));
        // And once it has its 0 it is not repeated
        let mut later = Vec::new();
        for change in state.apply(&route(1, Some(64501))) {
            series.add(&change, &mut later);
        }
        for change in state.apply(&route(3, Some(64501))) {
            series.add(&change, &mut later);
        }
        assert!(
            later
                .iter()
                .all(|p| p.key.measure != Measure::UpstreamShare(Asn(64502))),
            "{later:?}"
        );
    }
}
