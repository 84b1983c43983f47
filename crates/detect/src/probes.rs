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
use std::collections::{BTreeMap, VecDeque};

/// Failed results in a row before a check counts as failing.
pub const FAIL_AFTER: u32 = 2;
/// Good results in a row before a failing check counts as well again.
pub const OK_AFTER: u32 = 2;
/// Results remembered per check for degradation and the RTT baseline.
const WINDOW: usize = 5;

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

/// One check from one vantage point.
#[derive(Clone, Debug)]
pub struct CheckTrack {
    /// The latest result.
    pub last: ProbeSignal,
    /// The state.
    pub state: CheckState,
    /// When it last came back from failing.
    pub recovered_at: Option<Timestamp>,
    /// Was the latest result a clean answer: no loss, no latency far above the
    /// baseline?
    pub last_clean: bool,
    fails: u32,
    oks: u32,
    first_fail: Option<Timestamp>,
    first_ok: Option<Timestamp>,
    recent: VecDeque<(bool, Option<f64>, Option<f64>)>,
    baseline_rtt: Option<f64>,
    degraded_since: Option<Timestamp>,
}

/// The key of a check: vantage, role, target, kind.
pub type CheckKey = (String, ProbeRole, String, ProbeKind);

/// All checks.
#[derive(Default)]
pub struct ProbeTracker {
    checks: BTreeMap<CheckKey, CheckTrack>,
}

impl ProbeTracker {
    /// Takes one result; returns the state before and after.
    pub fn observe(
        &mut self,
        signal: &ProbeSignal,
        loss_degraded: f64,
    ) -> (CheckState, CheckState) {
        let key = (
            signal.vantage.clone(),
            signal.role,
            signal.target.clone(),
            signal.kind,
        );
        let track = self.checks.entry(key).or_insert_with(|| CheckTrack {
            last: signal.clone(),
            state: CheckState::Unknown,
            recovered_at: None,
            last_clean: false,
            fails: 0,
            oks: 0,
            first_fail: None,
            first_ok: None,
            recent: VecDeque::new(),
            baseline_rtt: None,
            degraded_since: None,
        });
        let before = track.state;
        track.last = signal.clone();
        let at = signal.at;
        track
            .recent
            .push_back((signal.ok, signal.rtt_ms, signal.loss));
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
        (before, track.state)
    }

    /// Every check.
    pub fn checks(&self) -> impl Iterator<Item = (&CheckKey, &CheckTrack)> {
        self.checks.iter()
    }
}

impl CheckTrack {
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
            .filter(|(ok, rtt, loss)| !*ok || self.is_troubled(*rtt, *loss, loss_degraded))
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
