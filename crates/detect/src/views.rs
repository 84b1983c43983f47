//! The checks as the vantage points together judge them, kept from one
//! weighing to the next.
//!
//! Each target (role, name and kind of check) is judged over the vantage points
//! that look at it ([`consensus::judge`]): failing when a quorum of those online
//! sees it fail, split when some see it down and others up. A target's
//! judgement depends on its own checks and on a few facts about the vantage
//! points, so a weighing judges again only what may have changed:
//! - the targets with new results;
//! - those whose oldest view went stale (a silent vantage point stops voting);
//! - the failing (or missing) ones whose failure began before a vantage
//!   point's controls were asked again (a failure is the target's only once its
//!   vantage point has been looked at since), all of a vantage point's when its
//!   controls all miss or answer again, and all failing ones when a vantage
//!   point's return opens or closes its tail;
//! - all of them, when a vantage point goes offline or comes back, or a second
//!   one appears (a view then stops standing for ever).
//!
//! Before a target is judged, the misses of its checks from vantage points
//! that make a quorum of two or more fail those checks, in the tracker, as a
//! second miss would ([`corroborated`]).
//!
//! A large profile's weighing then costs the results that came in, not its
//! thousands of checks. Debug builds judge every target again after each
//! weighing and check that the kept judgements match.

use crate::DetectorConfig;
use crate::consensus::{self, Seen, Sight, Split, VantageView, Verdict as Consensus};
use crate::probes::{CheckState, CheckTrack, FAIL_AFTER, ProbeTracker, TargetKey};
use crate::rules::CheckView;
use blackout_model::{ProbeKind, ProbeRole, Timestamp};
use std::collections::{BTreeMap, BTreeSet};

/// The first of all targets in their order.
const FIRST_TARGET: TargetKey = (ProbeRole::Host, String::new(), ProbeKind::Icmp);

/// What the judgements need to know of the vantage points at a weighing.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Vantages {
    /// The instant weighed.
    pub now: Timestamp,
    /// How long a view stays current (infinite with one vantage point).
    pub max_age: f64,
    /// The vantage points whose controls all fail: they do not vote.
    pub offline: BTreeSet<String>,
    /// Per vantage point, when each of its controls was last asked, the
    /// earliest of them: a target's failure that began after it is shown as
    /// the check was before, until the controls tell.
    pub controls_seen: BTreeMap<String, Timestamp>,
    /// The vantage points back online recently enough that their checks
    /// failing since before the return are the outage's tail, with when they
    /// came back: those do not vote.
    pub tails: BTreeMap<String, Timestamp>,
    /// The vantage points online whose controls all failed their latest look:
    /// perhaps going offline, so their misses corroborate nothing.
    pub doubtful: BTreeSet<String>,
}

/// One target's judgement.
#[derive(Clone, Debug, PartialEq)]
struct Judgement {
    /// The check as the vantage points together see it; none when no vantage
    /// point online has a current view.
    view: Option<CheckView>,
    /// What each vantage point saw, when a quorum of several sees it down.
    seen_down: Option<Vec<Seen>>,
    /// The vantage points split over it, when they are.
    split: Option<Split>,
    /// The time of its oldest current view, from which it goes stale.
    oldest: Option<Timestamp>,
    /// The vantage points whose check of it fails or misses, with since when.
    failing: Vec<(String, Timestamp)>,
}

/// Every target's judgement, kept between weighings.
#[derive(Default)]
pub(crate) struct CheckViews {
    judged: BTreeMap<TargetKey, Judgement>,
    /// The targets with a failing (or missing) check, per vantage point, by
    /// when its check began to fail.
    failing_since: BTreeMap<String, BTreeSet<(Timestamp, TargetKey)>>,
    /// Each judged target by the time of its oldest current view.
    stale_from: BTreeSet<(Timestamp, TargetKey)>,
    /// What was known of the vantage points at the last weighing.
    last: Option<Vantages>,
}

impl CheckViews {
    /// Judges again what the results since the last weighing, the passing of
    /// time and the vantage points' changes may have changed.
    pub fn refresh(
        &mut self,
        probes: &mut ProbeTracker,
        vantages: Vantages,
        config: &DetectorConfig,
    ) {
        let mut due = probes.take_touched();
        match &self.last {
            Some(last) if last.max_age == vantages.max_age && last.offline == vantages.offline => {
                if last.tails != vantages.tails {
                    due.extend(
                        self.failing_since
                            .values()
                            .flatten()
                            .map(|(_, key)| key.clone()),
                    );
                } else {
                    if last.controls_seen != vantages.controls_seen {
                        self.shown_anew(&last.controls_seen, &vantages.controls_seen, &mut due);
                    }
                    for vantage in last.doubtful.symmetric_difference(&vantages.doubtful) {
                        if let Some(failing) = self.failing_since.get(vantage) {
                            due.extend(failing.iter().map(|(_, key)| key.clone()));
                        }
                    }
                }
            }
            _ => due.extend(self.judged.keys().cloned()),
        }
        while let Some((oldest, _)) = self.stale_from.first() {
            if vantages.now.secs_since(*oldest) <= vantages.max_age {
                break;
            }
            if let Some((_, key)) = self.stale_from.pop_first() {
                due.insert(key);
            }
        }
        for key in due {
            if key.0 == ProbeRole::Control {
                continue;
            }
            // The checks that vote are worked out once, for the corroboration
            // and the judgement; again only when misses were failed.
            let (judgement, promoted) = match probes.target(&key) {
                None => (None, Vec::new()),
                Some(tracks) => {
                    let shown = voting(tracks, &vantages);
                    let promoted = corroborated(&shown, &vantages, config);
                    let judgement = promoted
                        .is_empty()
                        .then(|| judge_target(&key, tracks, shown, &vantages, config));
                    (judgement, promoted)
                }
            };
            let judgement = if promoted.is_empty() {
                judgement
            } else {
                for vantage in &promoted {
                    probes.fail_on_miss(&key, vantage);
                }
                probes.target(&key).map(|tracks| {
                    judge_target(&key, tracks, voting(tracks, &vantages), &vantages, config)
                })
            };
            self.keep(key, judgement);
        }
        self.last = Some(vantages);
        #[cfg(debug_assertions)]
        self.check_against_all(probes, config);
    }

    /// Adds to `due` the failing targets whose showing changes as the times
    /// their vantage points' controls were asked go from `before` to `now`: a
    /// failure is shown once the controls were asked after it began, so those
    /// that began between the two times (after every time, for a vantage point
    /// with no time on one side).
    fn shown_anew(
        &self,
        before: &BTreeMap<String, Timestamp>,
        now: &BTreeMap<String, Timestamp>,
        due: &mut BTreeSet<TargetKey>,
    ) {
        let vantages: BTreeSet<&String> = before.keys().chain(now.keys()).collect();
        for vantage in vantages {
            let (was, is) = (before.get(vantage), now.get(vantage));
            let Some(failing) = self.failing_since.get(vantage).filter(|_| was != is) else {
                continue;
            };
            let (after, until) = match (was, is) {
                (Some(a), Some(b)) => (*a.min(b), Some(*a.max(b))),
                (Some(a), None) | (None, Some(a)) => (*a, None),
                (None, None) => continue,
            };
            let first = (after, FIRST_TARGET.clone());
            for (since, key) in failing.range(first..) {
                if *since <= after {
                    continue;
                }
                if until.is_some_and(|until| *since > until) {
                    break;
                }
                due.insert(key.clone());
            }
        }
    }

    /// Keeps a target's new judgement in place of its old one, and its place
    /// in the indexes.
    fn keep(&mut self, key: TargetKey, judgement: Option<Judgement>) {
        let was_oldest = self.judged.get(&key).and_then(|j| j.oldest);
        let oldest = judgement.as_ref().and_then(|j| j.oldest);
        if was_oldest != oldest {
            if let Some(was) = was_oldest {
                self.stale_from.remove(&(was, key.clone()));
            }
            if let Some(oldest) = oldest {
                self.stale_from.insert((oldest, key.clone()));
            }
        }
        let was_failing = self.judged.get(&key).map(|j| j.failing.as_slice());
        let failing = judgement.as_ref().map(|j| j.failing.as_slice());
        if was_failing.unwrap_or_default() != failing.unwrap_or_default() {
            for (vantage, since) in was_failing.unwrap_or_default() {
                if let Some(by_since) = self.failing_since.get_mut(vantage) {
                    by_since.remove(&(*since, key.clone()));
                }
            }
            for (vantage, since) in failing.unwrap_or_default() {
                if !self.failing_since.contains_key(vantage) {
                    self.failing_since.insert(vantage.clone(), BTreeSet::new());
                }
                if let Some(by_since) = self.failing_since.get_mut(vantage) {
                    by_since.insert((*since, key.clone()));
                }
            }
        }
        match judgement {
            Some(judgement) => self.judged.insert(key, judgement),
            None => self.judged.remove(&key),
        };
    }

    /// Each check with a verdict, in the order of the targets.
    pub fn checks(&self) -> impl Iterator<Item = &CheckView> {
        self.judged.values().filter_map(|j| j.view.as_ref())
    }

    /// The checks split between vantage points that see them down and up.
    pub fn splits(&self) -> impl Iterator<Item = &Split> {
        self.judged.values().filter_map(|j| j.split.as_ref())
    }

    /// What each vantage point saw of a check that a quorum of several sees
    /// down.
    pub fn seen_down(&self, key: &TargetKey) -> Option<&[Seen]> {
        self.judged.get(key)?.seen_down.as_deref()
    }

    /// The vantage points that vote a target failing at the last weighing, each
    /// with since when it fails there: the failures its judgement rests on.
    pub fn failing_from(&self, probes: &ProbeTracker, key: &TargetKey) -> Vec<(String, Timestamp)> {
        let (Some(vantages), Some(tracks)) = (&self.last, probes.target(key)) else {
            return Vec::new();
        };
        voting(tracks, vantages)
            .iter()
            .filter_map(|t| Some((t.last.vantage.clone(), t.state.failing_since()?)))
            .collect()
    }

    /// Every target judged afresh must match its kept judgement: a missed
    /// change would leave a verdict behind the checks it rests on.
    #[cfg(debug_assertions)]
    fn check_against_all(&self, probes: &ProbeTracker, config: &DetectorConfig) {
        let Some(vantages) = &self.last else {
            return;
        };
        let mut targets = 0;
        for (key, tracks) in probes.targets() {
            if key.0 == ProbeRole::Control {
                continue;
            }
            targets += 1;
            let shown = voting(tracks, vantages);
            assert_eq!(
                corroborated(&shown, vantages, config),
                Vec::<String>::new(),
                "misses of {key:?} that a quorum corroborates are left unfailed"
            );
            let fresh = judge_target(key, tracks, shown, vantages, config);
            assert_eq!(
                self.judged.get(key),
                Some(&fresh),
                "the kept judgement of {key:?} is behind its checks"
            );
        }
        assert_eq!(targets, self.judged.len(), "a target judged is gone");
    }
}

/// One target judged over the vantage points that look at it; `tracks` are
/// those that vote ([`voting`]).
fn judge_target(
    (role, target, kind): &TargetKey,
    by_vantage: &BTreeMap<String, CheckTrack>,
    tracks: Vec<Shown>,
    vantages: &Vantages,
    config: &DetectorConfig,
) -> Judgement {
    let now = vantages.now;
    let max_age = vantages.max_age;
    let (role, kind) = (*role, *kind);
    let failing_from: Vec<(String, Timestamp)> = by_vantage
        .iter()
        .filter_map(|(vantage, track)| {
            let since = track
                .state
                .failing_since()
                .or_else(|| track.missing_since())?;
            Some((vantage.clone(), since))
        })
        .collect();
    // With one vantage point, views never go stale.
    let oldest = tracks
        .iter()
        .map(|t| t.last.at)
        .filter(|at| max_age.is_finite() && now.secs_since(*at) <= max_age)
        .min();
    let mut judgement = Judgement {
        view: None,
        seen_down: None,
        split: None,
        oldest,
        failing: failing_from,
    };
    let failing = |t: &Shown| matches!(t.state, CheckState::Failing { .. });
    let views: Vec<VantageView> = tracks
        .iter()
        .map(|t| VantageView {
            vantage: t.last.vantage.clone(),
            controls_ok: true,
            sight: Some(if failing(t) { Sight::Down } else { Sight::Up }),
            at: t.last.at,
        })
        .collect();
    let verdict = consensus::judge(&views, config.quorum, now, max_age);
    if matches!(verdict, Consensus::NoVerdict { .. }) {
        return judgement;
    }
    let target = target.to_string();
    let tracks: Vec<Shown> = tracks
        .into_iter()
        .filter(|t| now.secs_since(t.last.at) <= max_age)
        .collect();
    let down_since = tracks
        .iter()
        .filter_map(|t| t.state.failing_since())
        .min()
        .unwrap_or(now);
    let seen = || -> Vec<Seen> {
        tracks
            .iter()
            .map(|t| Seen {
                vantage: t.last.vantage.clone(),
                ok: t.last.ok,
                down: failing(t),
                rtt_ms: t.last.rtt_ms,
                text: t.last.text.clone(),
                at: t.last.at,
            })
            .collect()
    };
    let state = match &verdict {
        Consensus::Down { .. } => {
            if tracks.len() > 1 {
                judgement.seen_down = Some(seen());
            }
            CheckState::Failing {
                since: down_since,
                after_degradation: tracks.iter().any(|t| {
                    matches!(
                        t.state,
                        CheckState::Failing {
                            after_degradation: true,
                            ..
                        }
                    )
                }),
            }
        }
        Consensus::LoneDissent { .. } | Consensus::PathProblem { .. } => {
            let (down_from, up_from, lone) = match &verdict {
                Consensus::LoneDissent {
                    vantage, up_from, ..
                } => (vec![vantage.clone()], up_from.clone(), true),
                Consensus::PathProblem {
                    down_from, up_from, ..
                } => (down_from.clone(), up_from.clone(), false),
                _ => unreachable!("matched above"),
            };
            // Each vantage point probes on its own schedule, so at a real
            // outage's start one sees the check fail while the others' latest
            // look is from before (or is a first miss not yet past the
            // hysteresis), and at its end one has yet to look again (or to
            // answer often enough) while the others see it back. A split holds
            // only when both sides looked since the other side's latest change:
            // those that reach it answered every time they looked since the
            // others' failure began, and those that see it down failed in their
            // latest look, after the others saw it come back. And those that
            // reach it must answer cleanly: under stress (loss and latency on
            // every path) one vantage point's two misses in a row are the
            // stress's, not its own path's.
            let failing_since = tracks
                .iter()
                .filter_map(|t| t.state.failing_since())
                .max()
                .unwrap_or(now);
            let down_looked = tracks
                .iter()
                .filter(|t| failing(t))
                .map(|t| t.last.at)
                .min()
                .unwrap_or(now);
            let confirmed = tracks.iter().all(|t| {
                if failing(t) {
                    !t.last.ok
                } else {
                    t.answered_all_since(failing_since)
                        && t.last_clean
                        && t.recovered_at.is_none_or(|back| back <= down_looked)
                }
            });
            if confirmed && down_from.len() + up_from.len() >= consensus::SPLIT_MIN_VOTERS {
                judgement.split = Some(Split {
                    role,
                    target: target.clone(),
                    kind,
                    lone,
                    down_from,
                    up_from,
                    since: down_since,
                    seen: seen(),
                });
            }
            degraded_or_ok(&tracks)
        }
        Consensus::Up { .. } | Consensus::NoVerdict { .. } => degraded_or_ok(&tracks),
    };
    // What the vantage points that see it as the verdict says saw last.
    let latest = tracks
        .iter()
        .filter(|t| failing(t) == matches!(state, CheckState::Failing { .. }))
        .max_by_key(|t| t.last.at)
        .or_else(|| tracks.iter().max_by_key(|t| t.last.at));
    let last = latest.map(|t| &t.last);
    judgement.view = Some(CheckView {
        role,
        family: config.target_family(&target),
        entity: last
            .map(|l| l.entity())
            .unwrap_or(blackout_model::Entity::Host(target.clone())),
        target,
        kind,
        state,
        text: last.map(|l| l.text.clone()).unwrap_or_default(),
        last_hop_asn: last.and_then(|l| l.last_hop_asn),
        recovered_at: tracks.iter().filter_map(|t| t.recovered_at).max(),
        last_at: last.map_or(now, |l| l.at),
        last_ok: last.is_some_and(|l| l.ok),
        last_clean: latest.is_some_and(|t| t.last_clean),
        trouble: crate::probes::TroubleStats::merged(
            tracks.iter().filter_map(|t| t.trouble.as_ref()),
        ),
    });
    judgement
}

/// A vantage point's check as the judgement sees it: its own state, or the
/// state before a failure its vantage point's controls have yet to confirm.
/// Everything else is the check's own, reached through it.
#[derive(Clone, Copy)]
struct Shown<'a> {
    state: CheckState,
    /// Since when its latest results failed, too few yet to fail it, when its
    /// vantage point's controls tell and it may corroborate other misses.
    missing_since: Option<Timestamp>,
    track: &'a CheckTrack,
}

impl std::ops::Deref for Shown<'_> {
    type Target = CheckTrack;

    fn deref(&self) -> &CheckTrack {
        self.track
    }
}

/// The checks of a target that vote, as the judgement sees them: those of
/// vantage points online, with a state, that are not the tail of an outage
/// their vantage point was back from. A failing check is shown as it was before
/// it failed until its vantage point's controls tell (a failure is the
/// target's only once the controls were asked after it began).
fn voting<'a>(by_vantage: &'a BTreeMap<String, CheckTrack>, vantages: &Vantages) -> Vec<Shown<'a>> {
    let in_tail = |vantage: &String, since: Timestamp| {
        vantages
            .tails
            .get(vantage)
            .is_some_and(|back| since < *back)
    };
    let controls_tell = |vantage: &String, since: Timestamp| {
        vantages
            .controls_seen
            .get(vantage)
            .is_none_or(|seen| *seen >= since)
    };
    by_vantage
        .iter()
        .filter(|(vantage, track)| {
            !vantages.offline.contains(*vantage)
                && track.state != CheckState::Unknown
                && !track
                    .state
                    .failing_since()
                    .is_some_and(|since| in_tail(vantage, since))
        })
        .map(|(vantage, track)| {
            let state = match track.state {
                CheckState::Failing {
                    since,
                    after_degradation,
                } if !controls_tell(vantage, since) => {
                    if after_degradation {
                        CheckState::Degraded { since }
                    } else {
                        CheckState::Ok
                    }
                }
                state => state,
            };
            let missing_since = track.missing_since().filter(|since| {
                controls_tell(vantage, *since)
                    && !in_tail(vantage, *since)
                    && !vantages.doubtful.contains(vantage)
            });
            Shown {
                state,
                missing_since,
                track,
            }
        })
        .collect()
}

/// The vantage points whose misses of a target fail their checks now: misses
/// that, with the checks already failing, make a quorum of [`FAIL_AFTER`] or
/// more vantage points that see the target down.
///
/// One vantage point's check fails after `FAIL_AFTER` failed results in a row,
/// each with the probe's retries lost. As many vantage points each with one
/// failed result at the same time are as many lost results, independent ones,
/// on paths of their own: their checks fail as a second miss would fail them
/// (and come back as after any failure, after `OK_AFTER` answers). So a quorum
/// tells an outage one result sooner, where each vantage point's second result
/// would take a recheck and a timeout more. A lone miss, or misses too few for
/// a quorum, stay what they are: a lost packet, not a dissent.
///
/// A service's misses too: what keeps a flood's first victim from being called
/// broken on them is the service rule, which opens a service event only once
/// the hosts answered cleanly from each vantage point that sees the service
/// fail, after its failure began (the detector's `weigh_services`).
fn corroborated(tracks: &[Shown], vantages: &Vantages, config: &DetectorConfig) -> Vec<String> {
    let current: Vec<&Shown> = tracks
        .iter()
        .filter(|t| vantages.now.secs_since(t.last.at) <= vantages.max_age)
        .collect();
    let required = config.quorum.required(current.len());
    let missing: Vec<String> = current
        .iter()
        .filter(|t| t.missing_since.is_some())
        .map(|t| t.last.vantage.clone())
        .collect();
    if missing.is_empty() || required < FAIL_AFTER as usize {
        return Vec::new();
    }
    let failing = current
        .iter()
        .filter(|t| t.state.failing_since().is_some())
        .count();
    if failing + missing.len() < required {
        return Vec::new();
    }
    missing
}

/// A check that is not down: degraded since the earliest degradation any
/// vantage point sees, else well.
fn degraded_or_ok(tracks: &[Shown]) -> CheckState {
    tracks
        .iter()
        .filter_map(|t| match t.state {
            CheckState::Degraded { since } => Some(since),
            _ => None,
        })
        .min()
        .map_or(CheckState::Ok, |since| CheckState::Degraded { since })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probes::ProbeSignal;

    const START: i64 = 1_700_000_000;

    fn at(second: i64) -> Timestamp {
        Timestamp::from_secs(START + second)
    }

    fn vantages(now: i64, controls_seen: &[(&str, i64)]) -> Vantages {
        Vantages {
            now: at(now),
            max_age: 30.0,
            offline: BTreeSet::new(),
            controls_seen: controls_seen
                .iter()
                .map(|(vantage, second)| (vantage.to_string(), at(*second)))
                .collect(),
            tails: BTreeMap::new(),
            doubtful: BTreeSet::new(),
        }
    }

    fn failing_since(second: i64) -> Option<CheckState> {
        Some(CheckState::Failing {
            since: at(second),
            after_degradation: false,
        })
    }

    /// The kp profile's detector settings, its checks and their kept
    /// judgements: pings of hosts seen from vantage points and judged.
    struct Judged {
        config: DetectorConfig,
        probes: ProbeTracker,
        views: CheckViews,
    }

    impl Judged {
        fn new() -> Judged {
            Judged {
                config: DetectorConfig::from_profile(
                    &blackout_profile::builtin("kp").expect("kp profile"),
                ),
                probes: ProbeTracker::default(),
                views: CheckViews::default(),
            }
        }

        /// `vantage` pings `host` at `second`.
        fn ping(&mut self, second: i64, vantage: &str, host: &str, ok: bool) {
            let signal = ProbeSignal::ping(at(second), vantage, ProbeRole::Host, host, ok);
            self.probes.observe(&signal, 0.2);
        }

        /// Every vantage point of `seen` pings `www` at `second`.
        fn round(&mut self, second: i64, seen: &[(&str, bool)]) {
            for (vantage, ok) in seen {
                self.ping(second, vantage, "www", *ok);
            }
        }

        /// Weighs the checks as `scene` says, and tells what `www` is now.
        fn weigh(&mut self, scene: Vantages) -> Option<CheckState> {
            self.views.refresh(&mut self.probes, scene, &self.config);
            self.views
                .checks()
                .find(|c| c.target == "www")
                .map(|c| c.state)
        }
    }

    fn is_failing(state: Option<CheckState>) -> bool {
        matches!(state, Some(CheckState::Failing { .. }))
    }

    #[test]
    fn a_view_going_stale_is_judged_again_without_a_result_of_its_own() {
        let mut judged = Judged::new();
        // Two of three vantage points see the host down: a quorum.
        for second in [0, 5] {
            judged.round(second, &[("a", false), ("b", false), ("c", true)]);
        }
        assert!(is_failing(judged.weigh(vantages(5, &[]))));
        // Only b and c go on probing it; a's view goes stale. With one of two
        // seeing it down there is no quorum: it is not called down any more,
        // though no result of a came in.
        for second in [20, 30] {
            judged.round(second, &[("b", false), ("c", true)]);
        }
        assert!(is_failing(judged.weigh(vantages(30, &[]))));
        judged.ping(40, "b", "other", true);
        assert_eq!(judged.weigh(vantages(40, &[])), Some(CheckState::Ok));
    }

    #[test]
    fn a_failure_is_shown_once_the_controls_were_asked_after_it_began() {
        let mut judged = Judged::new();
        judged.round(0, &[("a", true)]);
        judged.round(10, &[("a", false)]);
        judged.round(12, &[("a", false)]);
        assert_eq!(
            judged.weigh(vantages(12, &[("a", 5)])),
            Some(CheckState::Ok),
            "the controls were last asked before the failure began"
        );
        // The controls answer at 14: the failure is the target's, though the
        // target gave no new result.
        assert_eq!(judged.weigh(vantages(14, &[("a", 14)])), failing_since(10));
    }

    #[test]
    fn misses_at_a_quorum_of_vantage_points_fail_the_target_at_once() {
        let mut judged = Judged::new();
        judged.round(0, &[("a", true), ("b", true), ("c", true)]);
        judged.weigh(vantages(0, &[]));
        // One vantage point's first miss is a lost packet: neither down nor a
        // dissent.
        judged.round(5, &[("a", false)]);
        assert_eq!(judged.weigh(vantages(5, &[])), Some(CheckState::Ok));
        assert_eq!(judged.views.splits().count(), 0);
        // A second vantage point misses it too: two of three, each with one
        // failed result, are a quorum, and the target fails since the first miss.
        judged.round(6, &[("b", false)]);
        assert_eq!(judged.weigh(vantages(6, &[])), failing_since(5));
        // Their checks failed as after a second miss, and come back as after
        // any failure: one answer is not enough.
        judged.round(7, &[("b", true)]);
        assert!(is_failing(judged.weigh(vantages(7, &[]))));
        for second in [8, 9] {
            judged.round(second, &[("a", true), ("b", true)]);
        }
        assert_eq!(judged.weigh(vantages(9, &[])), Some(CheckState::Ok));
    }

    #[test]
    fn a_services_misses_at_a_quorum_fail_it_from_where_they_were_seen() {
        let mut judged = Judged::new();
        let mut http = |second: i64, vantage: &str, ok: bool| {
            let mut signal = ProbeSignal::ping(at(second), vantage, ProbeRole::Host, "www", ok);
            signal.kind = ProbeKind::Http;
            judged.probes.observe(&signal, 0.2);
        };
        for vantage in ["a", "b", "c"] {
            http(0, vantage, true);
        }
        http(5, "a", false);
        http(6, "b", false);
        assert!(is_failing(judged.weigh(vantages(6, &[]))));
        let key = (ProbeRole::Host, "www".to_string(), ProbeKind::Http);
        assert_eq!(
            judged.views.failing_from(&judged.probes, &key),
            vec![("a".to_string(), at(5)), ("b".to_string(), at(6))],
            "each vantage point's failure dates from its own miss"
        );
    }

    #[test]
    fn a_lone_vantage_points_miss_fails_nothing() {
        let mut judged = Judged::new();
        judged.round(0, &[("a", true)]);
        judged.round(5, &[("a", false)]);
        assert_eq!(judged.weigh(vantages(5, &[])), Some(CheckState::Ok));
        judged.round(6, &[("a", false)]);
        assert!(is_failing(judged.weigh(vantages(6, &[]))));
    }

    #[test]
    fn misses_count_once_their_vantage_points_controls_answer() {
        let mut judged = Judged::new();
        judged.round(0, &[("a", true), ("b", true), ("c", true)]);
        judged.weigh(vantages(0, &[]));
        judged.round(5, &[("a", false), ("b", false)]);
        // b's controls all missed their latest look, after the miss: b may be
        // going offline, and its miss corroborates nothing.
        let mut scene = vantages(6, &[("a", 6), ("b", 6)]);
        scene.doubtful.insert("b".to_string());
        assert_eq!(judged.weigh(scene), Some(CheckState::Ok));
        // Its controls answer again: its miss counts, with no result of the
        // target's own.
        assert!(is_failing(judged.weigh(vantages(7, &[("a", 6), ("b", 7)]))));
    }
}
