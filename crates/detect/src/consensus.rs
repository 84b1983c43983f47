//! Consensus of many vantage points on one target: is it down, or is only the
//! path from some of them broken, or is one vantage point wrong?
//!
//! A target is down when a quorum of the healthy vantage points sees it down.
//! A vantage point is healthy while its control targets answer; one whose
//! controls fail says nothing about any target. A single healthy vantage point
//! that alone sees the target down while at least two others see it up is the
//! one at fault (its own path), not the target. Any other split is a path
//! problem between some vantage points and the target, with both sides named.
//!
//! Pure: views and the time go in, a verdict comes out. A view older than the
//! configured age counts as no view at all, so a silent agent never votes.
//!
//! The detector judges each check (target and kind) this way over the vantage
//! points that look at it ([`judge`]), keeps what each of them saw ([`Seen`])
//! for the evidence of the target's events, and hands the splits ([`Split`]) to
//! a [`PathWatch`], which tells per vantage point when the set of targets it
//! alone (or with too few others) sees down changes: that vantage point's path
//! event opens, changes or ends then, and never the target's.

use blackout_model::{ProbeKind, ProbeRole, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How many healthy vantage points must see a target down.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Quorum {
    /// More than half of those with a view, and at least 2 when there are 3 or more.
    #[default]
    Majority,
    /// At least this many (never more than those with a view).
    AtLeast(usize),
}

impl Quorum {
    /// Vantage points needed to call a target down when `voters` have a view.
    pub fn required(self, voters: usize) -> usize {
        match self {
            Quorum::Majority => {
                let majority = voters / 2 + 1;
                if voters >= 3 {
                    majority.max(2)
                } else {
                    majority
                }
            }
            Quorum::AtLeast(n) => n.clamp(1, voters.max(1)),
        }
    }
}

/// What one vantage point last saw of the target.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sight {
    /// The target answered.
    Up,
    /// The target did not answer.
    Down,
}

/// One vantage point's view of the target, with its own health.
#[derive(Clone, Debug, PartialEq)]
pub struct VantageView {
    /// The vantage point's name.
    pub vantage: String,
    /// Do its control targets answer?
    pub controls_ok: bool,
    /// What it saw of the target, if anything.
    pub sight: Option<Sight>,
    /// When it saw it.
    pub at: Timestamp,
}

/// The judgement on one target from all vantage points.
#[derive(Clone, Debug, PartialEq)]
pub enum Verdict {
    /// No healthy vantage point has a recent view.
    NoVerdict {
        /// Vantage points whose controls fail.
        offline: Vec<String>,
    },
    /// The healthy vantage points see the target up (or too few see it down to
    /// say anything else).
    Up {
        /// Vantage points whose controls fail.
        offline: Vec<String>,
    },
    /// A quorum of the healthy vantage points sees the target down.
    Down {
        /// Those that see it down.
        seen_by: Vec<String>,
        /// Those that see it up.
        up_from: Vec<String>,
        /// Vantage points whose controls fail.
        offline: Vec<String>,
    },
    /// One healthy vantage point alone sees it down: that vantage point's path
    /// is at fault, not the target.
    LoneDissent {
        /// The dissenting vantage point.
        vantage: String,
        /// Those that see it up.
        up_from: Vec<String>,
        /// Vantage points whose controls fail.
        offline: Vec<String>,
    },
    /// Some healthy vantage points see it down, others up, and neither side is
    /// a quorum or a lone dissenter: a path problem, not an outage of the target.
    PathProblem {
        /// Those that see it down.
        down_from: Vec<String>,
        /// Those that see it up.
        up_from: Vec<String>,
        /// Vantage points whose controls fail.
        offline: Vec<String>,
    },
}

/// Judges one target from the views of every vantage point at `now`; views
/// older than `max_age_secs` are ignored.
pub fn judge(views: &[VantageView], quorum: Quorum, now: Timestamp, max_age_secs: f64) -> Verdict {
    let mut offline = Vec::new();
    let mut down = Vec::new();
    let mut up = Vec::new();
    for view in views {
        if now.secs_since(view.at) > max_age_secs {
            continue;
        }
        if !view.controls_ok {
            offline.push(view.vantage.clone());
            continue;
        }
        match view.sight {
            Some(Sight::Down) => down.push(view.vantage.clone()),
            Some(Sight::Up) => up.push(view.vantage.clone()),
            None => {}
        }
    }
    for names in [&mut offline, &mut down, &mut up] {
        names.sort();
        names.dedup();
    }
    let voters = down.len() + up.len();
    if voters == 0 {
        return Verdict::NoVerdict { offline };
    }
    if down.is_empty() {
        return Verdict::Up { offline };
    }
    if down.len() >= quorum.required(voters) {
        return Verdict::Down {
            seen_by: down,
            up_from: up,
            offline,
        };
    }
    if down.len() == 1 && up.len() >= 2 {
        return Verdict::LoneDissent {
            vantage: down.remove(0),
            up_from: up,
            offline,
        };
    }
    Verdict::PathProblem {
        down_from: down,
        up_from: up,
        offline,
    }
}

/// Healthy vantage points needed with a view before a split is reported: with
/// two that disagree, nothing tells whose path is at fault, and neither is
/// named (the target is not down either, as without a quorum).
pub const SPLIT_MIN_VOTERS: usize = 3;

impl Quorum {
    /// The quorum a profile's `[consensus]` table asks for.
    pub fn from_setting(quorum: Option<u32>) -> Self {
        match quorum {
            None => Quorum::Majority,
            Some(n) => Quorum::AtLeast(n as usize),
        }
    }
}

/// What one vantage point last saw of one check, as evidence says it.
#[derive(Clone, Debug, PartialEq)]
pub struct Seen {
    /// The vantage point.
    pub vantage: String,
    /// Did the target answer (in its latest result)?
    pub ok: bool,
    /// Does this vantage point's vote count as the target down (a failing
    /// check, past the hysteresis)?
    pub down: bool,
    /// Its round-trip time, if it answered.
    pub rtt_ms: Option<f64>,
    /// What it saw, as the probe said it.
    pub text: String,
    /// When.
    pub at: Timestamp,
}

impl Seen {
    /// `from tokyo: fail (timeout)`, `from paris: ok, 40 ms (answered)`.
    pub fn describe(&self) -> String {
        let rtt = self
            .rtt_ms
            .filter(|_| self.ok)
            .map(|ms| format!(", {ms:.0} ms"))
            .unwrap_or_default();
        format!(
            "from {}: {}{rtt} ({})",
            self.vantage,
            if self.ok { "ok" } else { "fail" },
            self.text
        )
    }
}

/// `a`, `a and b`, `a, b and c`.
pub fn name_list(names: &[String]) -> String {
    match names {
        [] => String::new(),
        [one] => one.clone(),
        [init @ .., last] => format!("{} and {last}", init.join(", ")),
    }
}

/// A check that some healthy vantage points see down and others up, with the
/// down side no quorum: a problem of their paths, not of the target.
#[derive(Clone, Debug, PartialEq)]
pub struct Split {
    /// What the target is.
    pub role: ProbeRole,
    /// The target.
    pub target: String,
    /// The kind of check.
    pub kind: ProbeKind,
    /// One vantage point alone sees it down while at least two see it up.
    pub lone: bool,
    /// Those that see it down.
    pub down_from: Vec<String>,
    /// Those that see it up.
    pub up_from: Vec<String>,
    /// Since when the down side has seen it fail.
    pub since: Timestamp,
    /// What each of them saw.
    pub seen: Vec<Seen>,
}

impl Split {
    /// `www.kp (icmp)`.
    pub fn check_name(&self) -> String {
        format!("{} ({})", self.target, self.kind)
    }

    /// One sentence: who sees it down, who up, and what that means.
    pub fn describe(&self) -> String {
        if self.lone {
            format!(
                "only {} sees {} down while {} reach it",
                name_list(&self.down_from),
                self.check_name(),
                name_list(&self.up_from)
            )
        } else {
            format!(
                "{} see {} down while {} reach{} it",
                name_list(&self.down_from),
                self.check_name(),
                name_list(&self.up_from),
                if self.up_from.len() == 1 { "es" } else { "" }
            )
        }
    }
}

/// One sentence for many splits: the targets grouped by who sees them down and
/// who up (`busan and seoul see kcna.kp and mfa.gov.kp down while local reaches them`).
pub fn describe_splits(splits: &[Split]) -> String {
    // Lone or not, the down side, the up side.
    type Sides<'a> = (bool, &'a [String], &'a [String]);
    let mut groups: BTreeMap<Sides<'_>, Vec<String>> = BTreeMap::new();
    for split in splits {
        let targets = groups
            .entry((split.lone, &split.down_from, &split.up_from))
            .or_default();
        if !targets.contains(&split.target) {
            targets.push(split.target.clone());
        }
    }
    groups
        .into_iter()
        .map(|((lone, down, up), targets)| {
            let them = if targets.len() == 1 { "it" } else { "them" };
            let reach = if up.len() == 1 { "reaches" } else { "reach" };
            let (down, up, targets) = (name_list(down), name_list(up), name_list(&targets));
            if lone {
                format!("only {down} sees {targets} down while {up} {reach} {them}")
            } else {
                format!("{down} see {targets} down while {up} {reach} {them}")
            }
        })
        .collect::<Vec<_>>()
        .join("; ")
}

/// One vantage point as the detector knows it now, for the status.
#[derive(Clone, Debug, PartialEq)]
pub struct VantageHealth {
    /// Its name.
    pub vantage: String,
    /// Since when its control targets all fail (it is offline), if they do.
    pub offline_since: Option<Timestamp>,
    /// How many control checks it runs.
    pub controls: usize,
    /// How many checks of targets it runs.
    pub checks: usize,
    /// How many of those fail now.
    pub failing: usize,
    /// Its latest result, of any check.
    pub last: Option<crate::ProbeSignal>,
    /// The targets it sees down while the other vantage points see them up.
    pub split_targets: Vec<String>,
}

/// The splits each vantage point is on the down side of, as they stand.
#[derive(Default)]
pub struct PathWatch {
    by_vantage: BTreeMap<String, BTreeMap<(ProbeRole, String, ProbeKind), Split>>,
}

/// A vantage point whose splits changed: its path event opens or changes with
/// `splits`, or ends when they are none.
#[derive(Clone, Debug, PartialEq)]
pub struct PathChange {
    /// The vantage point.
    pub vantage: String,
    /// The checks it sees down while others see them up, now.
    pub splits: Vec<Split>,
}

impl PathWatch {
    /// Takes every split of this instant; returns the vantage points whose set
    /// of split checks, or the sides of one, changed. Cost: the splits now and
    /// before, not the checks.
    pub fn update(&mut self, splits: Vec<Split>) -> Vec<PathChange> {
        let mut now: BTreeMap<String, BTreeMap<(ProbeRole, String, ProbeKind), Split>> =
            BTreeMap::new();
        for split in splits {
            for vantage in &split.down_from {
                now.entry(vantage.clone()).or_default().insert(
                    (split.role, split.target.clone(), split.kind),
                    split.clone(),
                );
            }
        }
        let same = |a: &Split, b: &Split| {
            a.lone == b.lone && a.down_from == b.down_from && a.up_from == b.up_from
        };
        let mut changes = Vec::new();
        for (vantage, before) in &self.by_vantage {
            if !now.contains_key(vantage) && !before.is_empty() {
                changes.push(PathChange {
                    vantage: vantage.clone(),
                    splits: Vec::new(),
                });
            }
        }
        for (vantage, splits) in &now {
            let changed = self.by_vantage.get(vantage).is_none_or(|before| {
                before.len() != splits.len()
                    || splits
                        .iter()
                        .any(|(key, split)| before.get(key).is_none_or(|b| !same(b, split)))
            });
            if changed {
                changes.push(PathChange {
                    vantage: vantage.clone(),
                    splits: splits.values().cloned().collect(),
                });
            }
        }
        changes.sort_by(|a, b| a.vantage.cmp(&b.vantage));
        self.by_vantage = now;
        changes
    }

    /// The splits a vantage point is on the down side of now.
    pub fn splits_of(&self, vantage: &str) -> impl Iterator<Item = &Split> {
        self.by_vantage
            .get(vantage)
            .into_iter()
            .flat_map(|s| s.values())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_000;

    fn view(name: &str, controls_ok: bool, sight: Option<Sight>) -> VantageView {
        VantageView {
            vantage: name.into(),
            controls_ok,
            sight,
            at: Timestamp::from_secs(NOW - 10),
        }
    }

    fn names(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    fn run(views: &[VantageView]) -> Verdict {
        judge(views, Quorum::Majority, Timestamp::from_secs(NOW), 60.0)
    }

    #[test]
    fn majority_needs_two_of_three_and_three_of_four() {
        assert_eq!(Quorum::Majority.required(1), 1);
        assert_eq!(Quorum::Majority.required(2), 2);
        assert_eq!(Quorum::Majority.required(3), 2);
        assert_eq!(Quorum::Majority.required(4), 3);
        assert_eq!(Quorum::Majority.required(5), 3);
        assert_eq!(Quorum::AtLeast(4).required(3), 3);
        assert_eq!(Quorum::AtLeast(0).required(3), 1);
    }

    #[test]
    fn all_three_see_it_down() {
        let views = [
            view("a", true, Some(Sight::Down)),
            view("b", true, Some(Sight::Down)),
            view("c", true, Some(Sight::Down)),
        ];
        assert_eq!(
            run(&views),
            Verdict::Down {
                seen_by: names(&["a", "b", "c"]),
                up_from: vec![],
                offline: vec![],
            }
        );
    }

    #[test]
    fn one_of_three_alone_is_the_vantage_at_fault() {
        let views = [
            view("b", true, Some(Sight::Up)),
            view("a", true, Some(Sight::Down)),
            view("c", true, Some(Sight::Up)),
        ];
        assert_eq!(
            run(&views),
            Verdict::LoneDissent {
                vantage: "a".into(),
                up_from: names(&["b", "c"]),
                offline: vec![],
            }
        );
    }

    #[test]
    fn two_of_four_is_a_path_problem_naming_both_sides() {
        let views = [
            view("a", true, Some(Sight::Down)),
            view("b", true, Some(Sight::Down)),
            view("c", true, Some(Sight::Up)),
            view("d", true, Some(Sight::Up)),
        ];
        assert_eq!(
            run(&views),
            Verdict::PathProblem {
                down_from: names(&["a", "b"]),
                up_from: names(&["c", "d"]),
                offline: vec![],
            }
        );
    }

    #[test]
    fn a_vantage_whose_controls_fail_does_not_vote() {
        let views = [
            view("a", false, Some(Sight::Down)),
            view("b", true, Some(Sight::Up)),
            view("c", true, Some(Sight::Up)),
        ];
        assert_eq!(
            run(&views),
            Verdict::Up {
                offline: names(&["a"])
            }
        );
        let all_offline = [view("a", false, Some(Sight::Down)), view("b", false, None)];
        assert_eq!(
            run(&all_offline),
            Verdict::NoVerdict {
                offline: names(&["a", "b"])
            }
        );
    }

    #[test]
    fn with_one_offline_the_two_healthy_ones_decide() {
        let views = [
            view("a", false, None),
            view("b", true, Some(Sight::Down)),
            view("c", true, Some(Sight::Down)),
        ];
        assert_eq!(
            run(&views),
            Verdict::Down {
                seen_by: names(&["b", "c"]),
                up_from: vec![],
                offline: names(&["a"]),
            }
        );
    }

    #[test]
    fn stale_views_do_not_vote() {
        let mut stale = view("a", true, Some(Sight::Down));
        stale.at = Timestamp::from_secs(NOW - 600);
        let views = [stale, view("b", true, Some(Sight::Up))];
        assert_eq!(run(&views), Verdict::Up { offline: vec![] });
    }

    #[test]
    fn a_configured_quorum_of_one_trusts_any_healthy_vantage() {
        let views = [
            view("a", true, Some(Sight::Down)),
            view("b", true, Some(Sight::Up)),
            view("c", true, Some(Sight::Up)),
        ];
        let verdict = judge(&views, Quorum::AtLeast(1), Timestamp::from_secs(NOW), 60.0);
        assert_eq!(
            verdict,
            Verdict::Down {
                seen_by: names(&["a"]),
                up_from: names(&["b", "c"]),
                offline: vec![],
            }
        );
    }
}
