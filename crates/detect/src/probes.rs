//! Probe signals and their state machines: one per vantage point, target and
//! kind of check, with hysteresis so that one lost probe never alarms.
//!
//! A check is failing after `FAIL_AFTER` failed results in a row (each result
//! already includes the probe's own retries) and well again after `OK_AFTER`
//! good ones; it is degraded while most recent results show loss above
//! `loss_degraded` or a round-trip time far above its own baseline. A result
//! lost outright counts as loss too: under a flood, a check may alternate between
//! lost rounds and answers after a retry and never fail twice in a row.

use blackout_model::{Asn, Entity, ProbeKind, ProbeRole, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Failed results in a row before a check counts as failing.
pub const FAIL_AFTER: u32 = 2;
/// Good results in a row before a failing check counts as well again.
pub const OK_AFTER: u32 = 2;
/// Results remembered per check for degradation and the RTT baseline.
const WINDOW: usize = 5;
/// Round-trip times remembered per check while it is in trouble (the latest), for
/// the median its evidence gives.
const TROUBLE_RTTS: usize = 512;

/// What a check saw while in trouble (degraded or failing), from the first troubled
/// result on: the numbers its evidence gives.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TroubleStats {
    /// Results since the trouble began.
    pub results: u32,
    /// Their loss, summed: a result lost outright counts 1, an answer the share of
    /// its attempts that were lost.
    pub loss_sum: f64,
    /// Round-trip times of the answers since (the latest [`TROUBLE_RTTS`]), in ms.
    pub rtts: VecDeque<f64>,
    /// The longest round trip since, in ms.
    pub rtt_peak: Option<f64>,
    /// The median round trip of the clean answers just before the trouble (else the
    /// check's baseline), in ms.
    pub rtt_before: Option<f64>,
}

impl TroubleStats {
    /// The share of attempts lost since the trouble began.
    pub fn loss_share(&self) -> Option<f64> {
        (self.results > 0).then(|| self.loss_sum / f64::from(self.results))
    }

    /// The median round trip since the trouble began.
    pub fn rtt_median(&self) -> Option<f64> {
        median(self.rtts.iter().copied())
    }

    fn add(&mut self, ok: bool, rtt: Option<f64>, loss: Option<f64>) {
        self.results += 1;
        self.loss_sum += if ok { loss.unwrap_or(0.0) } else { 1.0 };
        if let Some(rtt) = rtt.filter(|r| r.is_finite()) {
            self.rtts.push_back(rtt);
            if self.rtts.len() > TROUBLE_RTTS {
                self.rtts.pop_front();
            }
            self.rtt_peak = Some(self.rtt_peak.map_or(rtt, |p| p.max(rtt)));
        }
    }

    /// The numbers of one check seen from several vantage points, together.
    pub fn merged<'a>(all: impl IntoIterator<Item = &'a TroubleStats>) -> Option<TroubleStats> {
        let mut merged: Option<TroubleStats> = None;
        let mut befores = Vec::new();
        for stats in all {
            let into = merged.get_or_insert_with(TroubleStats::default);
            into.results += stats.results;
            into.loss_sum += stats.loss_sum;
            into.rtts.extend(stats.rtts.iter().copied());
            into.rtt_peak = match (into.rtt_peak, stats.rtt_peak) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
            befores.extend(stats.rtt_before);
        }
        if let Some(merged) = &mut merged {
            merged.rtt_before = median(befores);
        }
        merged
    }
}

/// The median of some numbers, if there are any.
pub fn median(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let mut values: Vec<f64> = values.into_iter().filter(|v| v.is_finite()).collect();
    if values.is_empty() {
        return None;
    }
    values.sort_by(f64::total_cmp);
    let middle = values.len() / 2;
    Some(if values.len() % 2 == 1 {
        values[middle]
    } else {
        (values[middle - 1] + values[middle]) / 2.0
    })
}

/// One probe result, as the detector sees it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeSignal {
    /// When the probe ran.
    pub at: Timestamp,
    /// Where it ran from.
    pub vantage: String,
    /// What the target is.
    pub role: ProbeRole,
    /// The host name or address; for DNS, `zone@server`.
    pub target: String,
    /// The kind of check.
    pub kind: ProbeKind,
    /// Did the target answer as a working service does?
    pub ok: bool,
    /// Round-trip or response time, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Share of the attempts that were lost, where the probe knows it.
    pub loss: Option<f64>,
    /// What was seen, for evidence (`timeout`, `SERVFAIL`, `HTTP 503`).
    pub text: String,
    /// For a traceroute that did not arrive: the AS of the last hop that answered.
    pub last_hop_asn: Option<Asn>,
}

impl ProbeSignal {
    /// An ICMP echo result as scenarios write it: answered in 1 ms with no
    /// loss, or lost outright (`timeout`).
    pub fn ping(at: Timestamp, vantage: &str, role: ProbeRole, target: &str, ok: bool) -> Self {
        ProbeSignal {
            at,
            vantage: vantage.into(),
            role,
            target: target.into(),
            kind: ProbeKind::Icmp,
            ok,
            rtt_ms: ok.then_some(1.0),
            loss: Some(if ok { 0.0 } else { 1.0 }),
            text: if ok { "answered" } else { "timeout" }.into(),
            last_hop_asn: None,
        }
    }

    /// The entity the check tells about: the host for ICMP and traceroute, else
    /// the service (`service:dns:ZONE`, `service:http:HOST`, ...).
    pub fn entity(&self) -> Entity {
        let host = || Entity::Host(self.target.clone());
        let service = |kind: &str, name: &str| Entity::Service {
            kind: kind.into(),
            name: name.into(),
        };
        match self.kind {
            ProbeKind::Dns => service("dns", self.target.split('@').next().unwrap_or(&self.target)),
            ProbeKind::Http => service("http", &self.target),
            ProbeKind::Smtp => service("smtp", &self.target),
            ProbeKind::Tcp => service("tcp", &self.target),
            _ => host(),
        }
    }
}

/// The state of one check.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CheckState {
    /// No result yet.
    Unknown,
    /// Answering well.
    Ok,
    /// Answering, with loss or latency well above its baseline, since then.
    Degraded {
        /// Since when.
        since: Timestamp,
    },
    /// Not answering, since then.
    Failing {
        /// The first failed result of the streak.
        since: Timestamp,
        /// Was it degraded just before? (stress first, failure after)
        after_degradation: bool,
    },
}

impl CheckState {
    /// Failing since when, if failing.
    pub fn failing_since(&self) -> Option<Timestamp> {
        match self {
            CheckState::Failing { since, .. } => Some(*since),
            _ => None,
        }
    }
}

/// One check from one vantage point.
#[derive(Clone, Debug)]
pub struct CheckTrack {
    /// The latest result.
    pub last: ProbeSignal,
    /// The state.
    pub state: CheckState,
    /// When it last came back from trouble: its first answer of the streak that
    /// ended a failure, or the clean answer that ended a degradation.
    pub recovered_at: Option<Timestamp>,
    /// Was the latest result a clean answer: no loss, no latency far above the
    /// baseline?
    pub last_clean: bool,
    /// What it saw since its trouble began, while it is in trouble.
    pub trouble: Option<TroubleStats>,
    fails: u32,
    oks: u32,
    first_fail: Option<Timestamp>,
    first_ok: Option<Timestamp>,
    /// The latest results: when, answered, round trip, loss.
    recent: VecDeque<(Timestamp, bool, Option<f64>, Option<f64>)>,
    baseline_rtt: Option<f64>,
    degraded_since: Option<Timestamp>,
}

/// What a check looks at, whatever the vantage point: role, target, kind. The
/// vantage points that look at one target are judged together.
pub type TargetKey = (ProbeRole, String, ProbeKind);

/// All checks.
#[derive(Default)]
pub struct ProbeTracker {
    /// Each target's checks, by vantage point.
    checks: BTreeMap<TargetKey, BTreeMap<String, CheckTrack>>,
    /// The targets with results since [`ProbeTracker::take_touched`]: only
    /// their judgement can have changed with the results.
    touched: BTreeSet<TargetKey>,
}

impl ProbeTracker {
    /// Takes one result; returns the state before and after.
    pub fn observe(
        &mut self,
        signal: &ProbeSignal,
        loss_degraded: f64,
    ) -> (CheckState, CheckState) {
        let key = (signal.role, signal.target.clone(), signal.kind);
        if !self.touched.contains(&key) {
            self.touched.insert(key.clone());
        }
        let by_vantage = self.checks.entry(key).or_default();
        // The vantage point's name is copied once, for its first result.
        if !by_vantage.contains_key(&signal.vantage) {
            by_vantage.insert(signal.vantage.clone(), CheckTrack::new(signal));
        }
        let Some(track) = by_vantage.get_mut(&signal.vantage) else {
            unreachable!("inserted above");
        };
        let before = track.state;
        track.last = signal.clone();
        let at = signal.at;
        track
            .recent
            .push_back((signal.at, signal.ok, signal.rtt_ms, signal.loss));
        while track.recent.len() > WINDOW {
            track.recent.pop_front();
        }
        if signal.ok {
            track.fails = 0;
            track.first_fail = None;
            track.oks += 1;
            track.first_ok.get_or_insert(at);
        } else {
            track.oks = 0;
            track.first_ok = None;
            track.fails += 1;
            track.first_fail.get_or_insert(at);
        }
        let troubled = track.is_troubled(signal.rtt_ms, signal.loss, loss_degraded);
        track.last_clean = signal.ok && !troubled;
        // Two bad answers of the last three: one lossy round is chance, not stress.
        let degraded = signal.ok && troubled && track.bad_of_last_three(loss_degraded) >= 2;
        if degraded {
            track.degraded_since.get_or_insert(at);
        } else if signal.ok {
            track.degraded_since = None;
        }
        if signal.ok
            && !degraded
            && let Some(rtt) = signal.rtt_ms
        {
            // The baseline follows good answers only, slowly.
            track.baseline_rtt = Some(track.baseline_rtt.map_or(rtt, |b| b * 0.8 + rtt * 0.2));
        }
        track.state = match track.state {
            CheckState::Failing {
                since,
                after_degradation,
            } if track.oks < OK_AFTER => CheckState::Failing {
                since,
                after_degradation,
            },
            CheckState::Failing { .. } => {
                track.recovered_at = track.first_ok;
                if degraded {
                    CheckState::Degraded { since: at }
                } else {
                    CheckState::Ok
                }
            }
            previous if track.fails >= FAIL_AFTER => CheckState::Failing {
                since: track.first_fail.unwrap_or(at),
                after_degradation: matches!(previous, CheckState::Degraded { .. }),
            },
            _ if degraded => CheckState::Degraded {
                since: track.degraded_since.unwrap_or(at),
            },
            // One failure after a degradation keeps the degradation.
            previous @ CheckState::Degraded { .. } if !signal.ok => previous,
            _ if signal.ok => CheckState::Ok,
            previous => previous,
        };
        if matches!(before, CheckState::Degraded { .. }) && track.state == CheckState::Ok {
            track.recovered_at = Some(at);
        }
        track.count_trouble(signal, loss_degraded);
        (before, track.state)
    }

    /// Every check: its vantage point, its target and its track, target by target.
    pub fn checks(&self) -> impl Iterator<Item = (&str, &TargetKey, &CheckTrack)> {
        self.checks.iter().flat_map(|(key, by_vantage)| {
            by_vantage
                .iter()
                .map(move |(vantage, track)| (vantage.as_str(), key, track))
        })
    }

    /// The checks of the control targets, which tell whether each vantage
    /// point is online: a few, found without going over the others.
    pub fn controls(&self) -> impl Iterator<Item = (&str, &TargetKey, &CheckTrack)> {
        let first = (ProbeRole::Control, String::new(), ProbeKind::ALL[0]);
        self.checks
            .range(first..)
            .take_while(|((role, ..), _)| *role == ProbeRole::Control)
            .flat_map(|(key, by_vantage)| {
                by_vantage
                    .iter()
                    .map(move |(vantage, track)| (vantage.as_str(), key, track))
            })
    }

    /// Every target, with its checks by vantage point.
    pub fn targets(&self) -> impl Iterator<Item = (&TargetKey, &BTreeMap<String, CheckTrack>)> {
        self.checks.iter()
    }

    /// One target's checks, by vantage point.
    pub fn target(&self, key: &TargetKey) -> Option<&BTreeMap<String, CheckTrack>> {
        self.checks.get(key)
    }

    /// Fails `vantage`'s check of a target on its miss, as a second failed
    /// result would: other vantage points' misses of the target at the same
    /// time corroborate it (see the views' judgement).
    pub(crate) fn fail_on_miss(&mut self, key: &TargetKey, vantage: &str) {
        let Some(track) = self.checks.get_mut(key).and_then(|t| t.get_mut(vantage)) else {
            return;
        };
        if let Some(since) = track.missing_since() {
            track.state = CheckState::Failing {
                since,
                after_degradation: matches!(track.state, CheckState::Degraded { .. }),
            };
        }
    }

    /// The targets with results since the last call, each once.
    pub fn take_touched(&mut self) -> BTreeSet<TargetKey> {
        std::mem::take(&mut self.touched)
    }
}

impl CheckTrack {
    /// A check with no result judged yet; `first` is its first result.
    fn new(first: &ProbeSignal) -> Self {
        CheckTrack {
            last: first.clone(),
            state: CheckState::Unknown,
            recovered_at: None,
            last_clean: false,
            trouble: None,
            fails: 0,
            oks: 0,
            first_fail: None,
            first_ok: None,
            recent: VecDeque::new(),
            baseline_rtt: None,
            degraded_since: None,
        }
    }

    /// Since when its latest results have failed, while they are still too few
    /// to fail the check: a miss, which other vantage points' misses of the same
    /// target may corroborate.
    pub fn missing_since(&self) -> Option<Timestamp> {
        match self.state {
            CheckState::Failing { .. } => None,
            _ => self.first_fail.filter(|_| self.fails > 0),
        }
    }

    /// Did it answer every time it was looked at since `at`, and was it looked
    /// at since (within the results it keeps)?
    pub fn answered_all_since(&self, at: Timestamp) -> bool {
        let mut since = self
            .recent
            .iter()
            .filter(|(when, ..)| *when >= at)
            .peekable();
        since.peek().is_some() && since.all(|(_, ok, ..)| *ok)
    }

    /// Keeps the numbers of the trouble under way: begun with the results already
    /// in the window that belong to it, and the clean answers before them as the
    /// round trip before; forgotten when the check is well again.
    fn count_trouble(&mut self, signal: &ProbeSignal, loss_degraded: f64) {
        let since = match self.state {
            CheckState::Degraded { since } | CheckState::Failing { since, .. } => since,
            CheckState::Ok | CheckState::Unknown => {
                self.trouble = None;
                return;
            }
        };
        if let Some(stats) = &mut self.trouble {
            stats.add(signal.ok, signal.rtt_ms, signal.loss);
            return;
        }
        // The trouble's results: from its start, and the bad results right before
        // it that led to it (one bad result is chance until a second follows).
        let bad = |(_, ok, _, loss): &(Timestamp, bool, Option<f64>, Option<f64>)| {
            !*ok || loss.is_some_and(|l| l >= loss_degraded)
        };
        let mut first = self
            .recent
            .iter()
            .position(|(at, ..)| *at >= since)
            .unwrap_or(self.recent.len());
        while first > 0 && self.recent.get(first - 1).is_some_and(bad) {
            first -= 1;
        }
        let clean_before = self
            .recent
            .iter()
            .take(first)
            .filter(|r| r.1 && !bad(r))
            .filter_map(|(_, _, rtt, _)| *rtt);
        let mut stats = TroubleStats {
            rtt_before: median(clean_before).or(self.baseline_rtt),
            ..TroubleStats::default()
        };
        for (_, ok, rtt, loss) in self.recent.iter().skip(first) {
            stats.add(*ok, *rtt, *loss);
        }
        self.trouble = Some(stats);
    }

    /// Is an answer with this round-trip time and loss lossy, or slow against
    /// the baseline?
    fn is_troubled(&self, rtt: Option<f64>, loss: Option<f64>, loss_degraded: f64) -> bool {
        let lossy = loss.is_some_and(|l| l >= loss_degraded);
        let slow = match (rtt, self.baseline_rtt) {
            (Some(rtt), Some(base)) => rtt > base * 3.0 && rtt - base > 50.0,
            _ => false,
        };
        lossy || slow
    }

    /// How many of the last three results (the latest included) were lost,
    /// lossy or slow. A lost result is the worst of loss: it counts among them.
    fn bad_of_last_three(&self, loss_degraded: f64) -> usize {
        self.recent
            .iter()
            .rev()
            .take(3)
            .filter(|(_, ok, rtt, loss)| !*ok || self.is_troubled(*rtt, *loss, loss_degraded))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(second: i64, ok: bool, loss: f64) -> ProbeSignal {
        ProbeSignal {
            at: Timestamp::from_secs(1_700_000_000 + second),
            vantage: "local".into(),
            role: ProbeRole::Host,
            target: "www.lab.example".into(),
            kind: ProbeKind::Icmp,
            ok,
            rtt_ms: ok.then_some(1.0),
            loss: Some(loss),
            text: if ok { "answered" } else { "timeout" }.into(),
            last_hop_asn: None,
        }
    }

    fn states(results: &[(bool, f64)]) -> Vec<CheckState> {
        let mut tracker = ProbeTracker::default();
        results
            .iter()
            .enumerate()
            .map(|(i, (ok, loss))| tracker.observe(&result(i as i64 * 5, *ok, *loss), 0.2).1)
            .collect()
    }

    #[test]
    fn lost_rounds_between_lossy_answers_are_degradation() {
        // A flood: one round lost outright, the next answered after a retry.
        let seen = states(&[(true, 0.0), (false, 1.0), (true, 0.5), (false, 1.0)]);
        assert_eq!(seen[1], CheckState::Ok, "one lost round is chance");
        let since = Timestamp::from_secs(1_700_000_010);
        assert_eq!(seen[2], CheckState::Degraded { since });
        assert_eq!(
            seen[3],
            CheckState::Degraded { since },
            "a lost round keeps it"
        );
    }

    #[test]
    fn a_lost_round_then_a_clean_answer_is_not_degradation() {
        let seen = states(&[(true, 0.0), (false, 1.0), (true, 0.0), (true, 0.0)]);
        assert!(seen.iter().all(|s| *s == CheckState::Ok), "{seen:?}");
    }

    #[test]
    fn a_troubled_check_counts_its_loss_and_round_trips_from_the_start_of_the_trouble() {
        let mut tracker = ProbeTracker::default();
        let mut observe = |second: i64, ok: bool, rtt: Option<f64>, loss: f64| {
            let mut signal = result(second, ok, loss);
            signal.rtt_ms = rtt;
            tracker.observe(&signal, 0.2);
            tracker
                .checks()
                .next()
                .map(|(.., t)| t.trouble.clone())
                .unwrap()
        };
        // Clean: 10, 12 and 14 ms. No trouble, no numbers.
        assert_eq!(observe(0, true, Some(10.0), 0.0), None);
        assert_eq!(observe(5, true, Some(12.0), 0.0), None);
        assert_eq!(observe(10, true, Some(14.0), 0.0), None);
        // A flood: 60 % lost at 300 ms, then 40 % at 500 ms: degraded from the first.
        assert_eq!(observe(15, true, Some(300.0), 0.6), None, "one is chance");
        let stats = observe(20, true, Some(500.0), 0.4).expect("in trouble");
        assert_eq!(stats.results, 2, "counted from the first bad result");
        assert_eq!(stats.rtt_before, Some(12.0), "the clean answers' median");
        assert_eq!(stats.rtt_peak, Some(500.0));
        assert_eq!(stats.rtt_median(), Some(400.0));
        assert!((stats.loss_share().unwrap() - 0.5).abs() < 1e-9);
        // A round lost outright counts as all lost; no round trip.
        let stats = observe(25, false, None, 1.0).expect("in trouble");
        assert_eq!(stats.results, 3);
        assert!((stats.loss_share().unwrap() - 2.0 / 3.0).abs() < 1e-9);
        assert_eq!(stats.rtt_median(), Some(400.0));
        // Well again: forgotten.
        observe(30, true, Some(11.0), 0.0);
        observe(35, true, Some(11.0), 0.0);
        assert_eq!(observe(40, true, Some(11.0), 0.0), None);
    }

    #[test]
    fn medians() {
        assert_eq!(median([]), None);
        assert_eq!(median([3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median([4.0, 1.0, 3.0, 2.0]), Some(2.5));
        assert_eq!(median([f64::NAN, 1.0]), Some(1.0));
    }

    #[test]
    fn two_lost_rounds_in_a_row_are_failure_not_degradation() {
        let seen = states(&[(true, 0.0), (false, 1.0), (false, 1.0)]);
        assert_eq!(
            seen[2],
            CheckState::Failing {
                since: Timestamp::from_secs(1_700_000_005),
                after_degradation: false
            }
        );
    }
}
