//! Attribution: small rules, each of which weighs the evidence of a
//! [`Situation`] and explains itself.
//!
//! The rules are tried in order; the first that gives a [`Verdict`] names the
//! cause of the network's outage. A rule that sees its pattern beginning but not
//! yet settled says [`Assessment::Recheck`], and the next signal asks again.

use crate::bgp::DarkPrefix;
use crate::probes::CheckState;
use blackout_model::{
    Asn, Cause, Entity, Evidence, Family, ProbeKind, ProbeRole, Scope, Severity, SignalKind,
    Timestamp,
};
use blackout_profile::Thresholds;
use std::collections::BTreeSet;

/// How long stress must precede the fall of the routes to be its cause.
pub const STRESS_LEAD_SECS: f64 = 30.0;

/// One check as all usable vantage points together see it.
#[derive(Clone, Debug, PartialEq)]
pub struct CheckView {
    /// What the target is.
    pub role: ProbeRole,
    /// The address family it is probed over, when the target or the profile tells.
    pub family: Option<Family>,
    /// The target.
    pub target: String,
    /// The kind of check.
    pub kind: ProbeKind,
    /// The entity it tells about.
    pub entity: Entity,
    /// Failing only if it fails from every usable vantage point; degraded if from any.
    pub state: CheckState,
    /// What the last result said.
    pub text: String,
    /// For a traceroute: the AS of the last hop that answered.
    pub last_hop_asn: Option<Asn>,
    /// When it last came back from trouble.
    pub recovered_at: Option<Timestamp>,
    /// When the latest result was taken.
    pub last_at: Timestamp,
    /// Did the latest result answer (cleanly or not)?
    pub last_ok: bool,
    /// Was the latest result a clean answer (no loss, no latency far above the
    /// baseline)?
    pub last_clean: bool,
    /// Its loss and round trips since its trouble began, while in trouble.
    pub trouble: Option<crate::probes::TroubleStats>,
}

impl CheckView {
    /// Failing since when, if failing.
    pub fn failing_since(&self) -> Option<Timestamp> {
        self.state.failing_since()
    }

    /// In trouble (degraded or failing) since when.
    pub fn trouble_since(&self) -> Option<Timestamp> {
        match self.state {
            CheckState::Failing { since, .. } | CheckState::Degraded { since } => Some(since),
            _ => None,
        }
    }
}

/// Everything the rules may weigh about one network (a profile's network, a
/// country or an origin AS), at one moment.
pub struct Situation<'a> {
    /// Now.
    pub at: Timestamp,
    /// What to call the network in a sentence.
    pub name: &'a str,
    /// The thresholds.
    pub thresholds: &'a Thresholds,
    /// Its dark prefixes.
    pub dark: Vec<DarkPrefix>,
    /// Its prefixes whose routes are RPKI-invalid now, dark or not.
    pub rpki_invalid: Vec<ipnet::IpNet>,
    /// Its prefixes in all.
    pub prefixes: usize,
    /// Its prefixes per family (IPv4, IPv6).
    pub family_prefixes: [usize; 2],
    /// Does any full-feed peer see any of its prefixes of each family (IPv4, IPv6)?
    pub family_visible: [bool; 2],
    /// Has BGP seen its prefixes up at least once?
    pub bgp_baseline: bool,
    /// Can words about its routes be backed now: a feed is up and has seen them?
    pub bgp_view: bool,
    /// Its visibility, for evidence.
    pub visibility: String,
    /// Its visibility as one number: the mean share of full-feed peers that see
    /// each of its prefixes (0 to 1), the value of the items that quote it.
    pub visible_share: f64,
    /// The upstreams the paths showed carrying its routes, with their names.
    pub carriers: &'a [(Asn, String)],
    /// The upstreams the profile names.
    pub known_upstreams: &'a BTreeSet<Asn>,
    /// The full-feed peers the routes are counted over (IPv4, IPv6).
    pub peers: [u32; 2],
    /// The watched network's checks (hosts, zones, mail), over usable vantage points.
    pub checks: &'a [&'a CheckView],
    /// When stress began, if the outage under way began with stress: the cause
    /// stays `ddos` while the outage goes on, whatever follows.
    pub stress_before: Option<Timestamp>,
}

/// What a rule concluded.
#[derive(Clone, Debug, PartialEq)]
pub struct Verdict {
    /// The cause.
    pub cause: Cause,
    /// How bad.
    pub severity: Severity,
    /// How sure.
    pub confidence: f64,
    /// When the trouble began.
    pub start: Timestamp,
    /// One sentence.
    pub summary: String,
    /// What it touches.
    pub scope: Scope,
    /// Why: the rule's own explanation.
    pub evidence: Vec<Evidence>,
}

/// A rule's answer.
#[derive(Clone, Debug, PartialEq)]
pub enum Assessment {
    /// This is the cause.
    Verdict(Verdict),
    /// Not this rule's pattern.
    NotThis,
    /// The pattern is forming; ask again with more evidence.
    Recheck(String),
}

/// One attribution rule.
pub trait Rule {
    /// A short name, for logs and tests.
    fn name(&self) -> &'static str;
    /// Weighs the situation.
    fn assess(&self, situation: &Situation<'_>) -> Assessment;
}

/// The rules, in the order they are tried.
pub fn rules() -> Vec<Box<dyn Rule>> {
    vec![
        Box::new(RpkiInvalid),
        Box::new(NetworkStress),
        Box::new(AllRoutesGone),
        Box::new(FamilyRoutesGone),
        Box::new(SomeRoutesGone),
        Box::new(DataPlaneDead),
        Box::new(FamilyDataPlaneDead),
        Box::new(SomeHostsDark),
        Box::new(Unsettled),
    ]
}

/// Tries the rules in order: the first verdict wins; a recheck stops the search
/// (the situation is still forming), so does nothing at all.
pub fn attribute(situation: &Situation<'_>) -> Option<Verdict> {
    for rule in rules() {
        match rule.assess(situation) {
            Assessment::Verdict(verdict) => return Some(verdict),
            Assessment::Recheck(_) => return None,
            Assessment::NotThis => {}
        }
    }
    None
}

/// A dark host as evidence: its failure, dated when it began (value 1: every
/// attempt lost); or, when its latest ping answered (it is coming back, not yet
/// steadily), that answer, dated when it came (value 0).
fn dark_host_item(h: &CheckView, now: Timestamp) -> Evidence {
    match h.failing_since() {
        Some(since) if h.last_ok => item(
            h.last_at,
            SignalKind::ProbeIcmp,
            format!(
                "{}: answers again ({}), not yet steadily; dark since {since}",
                h.target, h.text
            ),
            Some(0.0),
        ),
        since => item(
            since.unwrap_or(now),
            SignalKind::ProbeIcmp,
            format!("{}: {}", h.target, h.text),
            Some(1.0),
        ),
    }
}

fn item(at: Timestamp, signal: SignalKind, text: String, value: Option<f64>) -> Evidence {
    Evidence {
        at,
        signal,
        text,
        value,
    }
}

fn hosts_icmp<'a>(situation: &'a Situation<'_>) -> impl Iterator<Item = &'a CheckView> {
    host_pings(situation.checks)
}

/// The ICMP checks of the watched network's hosts.
pub(crate) fn host_pings<'a>(checks: &[&'a CheckView]) -> impl Iterator<Item = &'a CheckView> {
    checks
        .iter()
        .copied()
        .filter(|c| c.kind == ProbeKind::Icmp && c.role == ProbeRole::Host)
}

/// When the first of these hosts fell silent, if there are any and every one of
/// them is failing.
fn every_host_silent_since(hosts: &[&CheckView]) -> Option<Timestamp> {
    hosts
        .iter()
        .map(|h| h.failing_since())
        .collect::<Option<Vec<Timestamp>>>()?
        .into_iter()
        .min()
}

/// The most prefixes an event's scope names: a country's thousands are counted
/// in its summary instead.
const SCOPE_PREFIXES: usize = 64;

fn dark_scope(situation: &Situation<'_>) -> Scope {
    Scope {
        prefixes: situation
            .dark
            .iter()
            .take(SCOPE_PREFIXES)
            .map(|d| d.prefix)
            .collect(),
        upstreams: situation.carriers.iter().map(|(a, _)| *a).collect(),
        families: families(situation.dark.iter().map(|d| Family::of_prefix(&d.prefix))),
        ..Scope::default()
    }
}

/// The families among `of`, each once, IPv4 first.
fn families(of: impl Iterator<Item = Family>) -> Vec<Family> {
    of.collect::<BTreeSet<Family>>().into_iter().collect()
}

/// The families of these hosts' checks, where known.
fn host_families(hosts: &[&CheckView]) -> Vec<Family> {
    families(hosts.iter().filter_map(|h| h.family))
}

/// The dark prefixes per family (IPv4, IPv6).
fn dark_per_family(s: &Situation<'_>) -> [usize; 2] {
    let mut dark = [0; 2];
    for d in &s.dark {
        dark[Family::of_prefix(&d.prefix).index()] += 1;
    }
    dark
}

/// Is the family part of the network now: it has prefixes, and they are seen
/// or have gone dark? (A family the profile lists but no feed ever showed has
/// nothing to lose.)
fn in_play(s: &Situation<'_>, dark: [usize; 2], family: Family) -> bool {
    let i = family.index();
    s.family_prefixes[i] > 0 && (dark[i] > 0 || s.family_visible[i])
}

/// Is the family dark as a whole: at least the internal share of its prefixes?
fn family_dark(s: &Situation<'_>, dark: [usize; 2], family: Family) -> bool {
    let i = family.index();
    let needed = (s.thresholds.internal_share * s.family_prefixes[i] as f64).ceil() as usize;
    s.family_prefixes[i] > 0 && dark[i] >= needed.max(1)
}

/// How much of one family is dark, in words: `all 4 IPv6 prefixes`, `3 of 4 IPv6
/// prefixes`.
fn family_count(s: &Situation<'_>, dark: [usize; 2], family: Family) -> String {
    let (gone, all) = (dark[family.index()], s.family_prefixes[family.index()]);
    let label = family.label();
    if gone == all {
        format!("all {all} {label} prefixes")
    } else {
        format!("{gone} of {all} {label} prefixes")
    }
}

/// The upstreams the paths showed, in words; "no upstream seen" when none was.
fn upstream_names(situation: &Situation<'_>) -> String {
    if situation.carriers.is_empty() {
        return "no upstream seen in the paths".to_string();
    }
    situation
        .carriers
        .iter()
        .map(|(_, label)| label.clone())
        .collect::<Vec<_>>()
        .join(", ")
}

/// The ASes that lost the dark prefixes, most first, with how many each lost:
/// ", lost by AS8452 (1010), AS24863 (512) and 3 more ASes"; nothing when they
/// are all the network's own (its name says who it is).
fn dark_origins(situation: &Situation<'_>) -> String {
    const NAMED: usize = 8;
    let mut lost: std::collections::BTreeMap<Asn, usize> = std::collections::BTreeMap::new();
    for origin in situation.dark.iter().filter_map(|d| d.origin) {
        *lost.entry(origin).or_default() += 1;
    }
    if lost.is_empty()
        || (lost.len() == 1
            && lost
                .keys()
                .all(|asn| situation.name.contains(&asn.to_string())))
    {
        return String::new();
    }
    let mut most: Vec<(Asn, usize)> = lost.into_iter().collect();
    most.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut names: Vec<String> = most
        .iter()
        .take(NAMED)
        .map(|(asn, count)| format!("{asn} ({count})"))
        .collect();
    if most.len() > NAMED {
        names.push(format!("{} more ASes", most.len() - NAMED));
    }
    let last = names.pop().unwrap_or_default();
    if names.is_empty() {
        format!(", lost by {last}")
    } else {
        format!(", lost by {} and {last}", names.join(", "))
    }
}

/// The dark prefixes by name, the first few of a long list and a count.
fn dark_names(situation: &Situation<'_>) -> String {
    let mut names: Vec<String> = situation
        .dark
        .iter()
        .take(8)
        .map(|d| d.prefix.to_string())
        .collect();
    if situation.dark.len() > names.len() {
        names.push(format!("and {} more", situation.dark.len() - names.len()));
    }
    names.join(", ")
}

/// Routes still originated but RPKI-invalid, and dropped where peers validate.
pub struct RpkiInvalid;

impl Rule for RpkiInvalid {
    fn name(&self) -> &'static str {
        "rpki-invalid"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        if s.dark.is_empty() && !s.rpki_invalid.is_empty() {
            return invalid_routes_dead_hosts(s);
        }
        if s.dark.is_empty() || !s.dark.iter().all(|d| d.rpki_invalid) {
            return Assessment::NotThis;
        }
        let start = s.dark.iter().map(|d| d.since).min().unwrap_or(s.at);
        Assessment::Verdict(Verdict {
            cause: Cause::RpkiInvalid,
            severity: Severity::Critical,
            confidence: 0.85,
            start,
            summary: format!(
                "{} of {} prefixes of {} lost visibility while RPKI-invalid: networks that validate routes drop them",
                s.dark.len(),
                s.prefixes,
                s.name
            ),
            scope: dark_scope(s),
            evidence: vec![item(
                s.at,
                SignalKind::BgpRpki,
                format!(
                    "every dark prefix is RPKI-invalid; visibility now {}",
                    s.visibility
                ),
                Some(s.visible_share),
            )],
        })
    }
}

/// RPKI-invalid routes that the feeds still show (peers that do not validate, or
/// a router's view before its policy) while every host is silent: the networks
/// on the way validate and drop them, which is why nothing answers.
fn invalid_routes_dead_hosts(s: &Situation<'_>) -> Assessment {
    let hosts: Vec<&CheckView> = hosts_icmp(s).collect();
    let Some(start) = every_host_silent_since(&hosts) else {
        return Assessment::NotThis;
    };
    let prefixes: Vec<String> = s.rpki_invalid.iter().map(ToString::to_string).collect();
    Assessment::Verdict(Verdict {
        cause: Cause::RpkiInvalid,
        severity: Severity::Critical,
        confidence: 0.75,
        start,
        summary: format!(
            "the routes of {} ({}) are RPKI-invalid and every host is silent: networks that validate routes drop them",
            s.name,
            prefixes.join(", ")
        ),
        scope: Scope {
            prefixes: s.rpki_invalid.clone(),
            hosts: hosts.iter().map(|h| h.target.clone()).collect(),
            ..Scope::default()
        },
        evidence: vec![item(
            s.at,
            SignalKind::BgpRpki,
            format!(
                "RPKI-invalid: {}; visibility now {}; no host answers",
                prefixes.join(", "),
                s.visibility
            ),
            Some(s.visible_share),
        )],
    })
}

/// Loss and latency rising across hosts and services before anything falls: the
/// network is under stress (a DDoS). Routes may go later; the cause stays.
pub struct NetworkStress;

impl Rule for NetworkStress {
    fn name(&self) -> &'static str {
        "ddos"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        let still_wrong =
            !s.dark.is_empty() || s.checks.iter().any(|c| c.trouble_since().is_some());
        if let Some(stress) = s.stress_before.filter(|_| still_wrong) {
            return Assessment::Verdict(Verdict {
                cause: Cause::Ddos,
                severity: Severity::Critical,
                confidence: 0.8,
                start: stress,
                summary: format!(
                    "{} has been under network stress since {stress}{}",
                    s.name,
                    if s.dark.is_empty() {
                        String::new()
                    } else {
                        format!(
                            "; then {} of {} prefixes were withdrawn",
                            s.dark.len(),
                            s.prefixes
                        )
                    }
                ),
                scope: Scope {
                    prefixes: s.dark.iter().map(|d| d.prefix).collect(),
                    ..Scope::default()
                },
                evidence: if s.dark.is_empty() {
                    Vec::new()
                } else {
                    vec![item(
                        s.at,
                        SignalKind::BgpVisibility,
                        format!("routes withdrawn after the stress: {}", s.visibility),
                        Some(s.visible_share),
                    )]
                },
            });
        }
        let watched: Vec<&CheckView> = s.checks.to_vec();
        let troubled: Vec<&CheckView> = watched
            .iter()
            .copied()
            .filter(|c| c.trouble_since().is_some())
            .collect();
        // Degradation, not just death: a dead network is not a stressed one.
        let degraded = troubled
            .iter()
            .filter(|c| {
                matches!(
                    c.state,
                    CheckState::Degraded { .. }
                        | CheckState::Failing {
                            after_degradation: true,
                            ..
                        }
                )
            })
            .count();
        if degraded == 0 || troubled.len() < 2 || troubled.len() * 2 < watched.len() {
            return Assessment::NotThis;
        }
        let Some(stress) = troubled.iter().filter_map(|c| c.trouble_since()).min() else {
            return Assessment::NotThis;
        };
        if let Some(fall) = s.dark.iter().map(|d| d.since).min()
            && fall.secs_since(stress) < STRESS_LEAD_SECS
        {
            // The routes fell with (or before) the stress: not stress first.
            return Assessment::NotThis;
        }
        let failing: Vec<String> = troubled
            .iter()
            .filter(|c| c.failing_since().is_some())
            .map(|c| c.entity.to_string())
            .collect();
        let mut evidence: Vec<Evidence> = troubled
            .iter()
            .flat_map(|c| stress_evidence(c, s.at))
            .collect();
        if !s.dark.is_empty() {
            evidence.push(item(
                s.at,
                SignalKind::BgpVisibility,
                format!("routes withdrawn after the stress: {}", s.visibility),
                Some(s.visible_share),
            ));
        }
        Assessment::Verdict(Verdict {
            cause: Cause::Ddos,
            severity: if failing.is_empty() && s.dark.is_empty() {
                Severity::Warning
            } else {
                Severity::Critical
            },
            confidence: if degraded >= 2 { 0.8 } else { 0.6 },
            start: stress,
            summary: format!(
                "{} is under network stress: loss and latency rose on {} of {} checks{}{}",
                s.name,
                troubled.len(),
                watched.len(),
                if failing.is_empty() {
                    String::new()
                } else {
                    format!(", then {} failed", failing.join(", "))
                },
                if s.dark.is_empty() {
                    String::new()
                } else {
                    format!(", then {} prefixes were withdrawn", s.dark.len())
                }
            ),
            scope: Scope {
                prefixes: s.dark.iter().map(|d| d.prefix).collect(),
                hosts: troubled
                    .iter()
                    .filter(|c| matches!(c.entity, Entity::Host(_)))
                    .map(|c| c.target.clone())
                    .collect(),
                services: troubled
                    .iter()
                    .filter(|c| matches!(c.entity, Entity::Service { .. }))
                    .map(|c| c.entity.to_string())
                    .collect(),
                ..Scope::default()
            },
            evidence,
        })
    }
}

/// What one troubled check says of the stress, with its numbers: the share of its
/// attempts lost since its trouble began, and its round trip then (median and peak)
/// against before. Items are stamped with the start of the trouble when they say
/// only what was seen then, and with `now` when they count everything since.
fn stress_evidence(check: &CheckView, now: Timestamp) -> Vec<Evidence> {
    let since = check.trouble_since().unwrap_or(now);
    let signal = check.kind.signal();
    let Some(stats) = &check.trouble else {
        return vec![item(
            since,
            signal,
            format!("{}: {}", check.entity, check.text),
            None,
        )];
    };
    let mut items = Vec::new();
    if let Some(loss) = stats.loss_share() {
        items.push(item(
            now,
            signal,
            format!(
                "{}: {:.0} % of attempts lost over {} result{} since {} ({})",
                check.entity,
                loss * 100.0,
                stats.results,
                if stats.results == 1 { "" } else { "s" },
                since,
                check.text
            ),
            Some(loss),
        ));
    }
    if let (Some(median), Some(peak)) = (stats.rtt_median(), stats.rtt_peak) {
        let before = stats.rtt_before.map_or_else(
            || "no round trip known from before".to_string(),
            |b| format!("{b:.0} ms before"),
        );
        items.push(item(
            now,
            signal,
            format!(
                "{}: round trip {median:.0} ms (median), {peak:.0} ms at the peak, since {since}; {before}",
                check.entity
            ),
            Some(median),
        ));
    }
    if items.is_empty() {
        items.push(item(
            since,
            signal,
            format!("{}: {}", check.entity, check.text),
            None,
        ));
    }
    items
}

/// Every prefix gone at once, every upstream together, with no stress before:
/// the network itself went dark (shutdown, router failure, power at the border).
pub struct AllRoutesGone;

impl Rule for AllRoutesGone {
    fn name(&self) -> &'static str {
        "internal"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        // A whole-network outage only when every family it uses fails: IPv4 dark
        // with IPv6 up is the next rule's.
        let dark = dark_per_family(s);
        let playing: Vec<Family> = Family::ALL
            .into_iter()
            .filter(|f| in_play(s, dark, *f))
            .collect();
        if s.prefixes == 0
            || playing.is_empty()
            || !playing.iter().all(|f| family_dark(s, dark, *f))
        {
            return Assessment::NotThis;
        }
        let start = s.dark.iter().map(|d| d.since).min().unwrap_or(s.at);
        Assessment::Verdict(Verdict {
            cause: Cause::Internal,
            severity: Severity::Critical,
            confidence: 0.9,
            start,
            summary: format!(
                "{} is dark: {} withdrawn, and every upstream ({}) lost the routes together",
                s.name,
                if s.dark.len() == s.prefixes && s.prefixes == 1 {
                    "its one prefix".to_string()
                } else if s.dark.len() == s.prefixes {
                    format!("all {} prefixes", s.prefixes)
                } else {
                    format!("{} of {} prefixes", s.dark.len(), s.prefixes)
                },
                upstream_names(s)
            ),
            scope: dark_scope(s),
            // The hosts' silence backs the routes' word, as the analysts' probes of
            // the country's servers did; each item is dated when its host fell
            // silent, so the same silence is told once however often it is weighed.
            evidence: std::iter::once(item(
                s.at,
                SignalKind::BgpVisibility,
                format!(
                    "every prefix gone from every upstream at once, with no degradation before: {}",
                    s.visibility
                ),
                Some(0.0),
            ))
            .chain(
                hosts_icmp(s)
                    .filter(|h| h.failing_since().is_some())
                    .map(|h| dark_host_item(h, s.at)),
            )
            .collect(),
        })
    }
}

/// One family's routes gone from every upstream while the other family's stay
/// announced: IPv6 withdrawn with IPv4 up, or the reverse. Not a whole-network
/// outage: the network still reaches the world over the other family.
pub struct FamilyRoutesGone;

impl Rule for FamilyRoutesGone {
    fn name(&self) -> &'static str {
        "family-routes"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        let dark = dark_per_family(s);
        let Some(lost) = Family::ALL.into_iter().find(|f| {
            family_dark(s, dark, *f)
                && dark[f.other().index()] == 0
                && s.family_visible[f.other().index()]
        }) else {
            return Assessment::NotThis;
        };
        let kept = lost.other();
        let start = s.dark.iter().map(|d| d.since).min().unwrap_or(s.at);
        Assessment::Verdict(Verdict {
            cause: Cause::Partial,
            severity: Severity::Warning,
            confidence: 0.85,
            start,
            summary: format!(
                "{} routes withdrawn; {} still announced: {} lost {} from every upstream ({}), its {} {} prefixes stay visible",
                lost.label(),
                kept.label(),
                s.name,
                family_count(s, dark, lost),
                upstream_names(s),
                s.family_prefixes[kept.index()],
                kept.label(),
            ),
            scope: dark_scope(s),
            evidence: vec![item(
                s.at,
                SignalKind::BgpVisibility,
                format!(
                    "every {} prefix gone from every upstream at once, the {} ones still seen: {}",
                    lost.label(),
                    kept.label(),
                    s.visibility
                ),
                Some(0.0),
            )],
        })
    }
}

/// Some prefixes gone, the rest fine: one building's power, one router.
pub struct SomeRoutesGone;

impl Rule for SomeRoutesGone {
    fn name(&self) -> &'static str {
        "partial-routes"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        let share = s.dark.len() as f64 / s.prefixes.max(1) as f64;
        if s.dark.is_empty() || share < s.thresholds.partial_share {
            return Assessment::NotThis;
        }
        let names = dark_names(s);
        let start = s.dark.iter().map(|d| d.since).min().unwrap_or(s.at);
        Assessment::Verdict(Verdict {
            cause: Cause::Partial,
            severity: Severity::Warning,
            confidence: 0.8,
            start,
            summary: format!(
                "{} of {} prefixes of {} are dark{} ({names}); the rest are visible",
                s.dark.len(),
                s.prefixes,
                s.name,
                dark_origins(s),
            ),
            scope: dark_scope(s),
            evidence: vec![item(
                s.at,
                SignalKind::BgpVisibility,
                format!("withdrawn: {names}; visibility now {}", s.visibility),
                Some(s.visible_share),
            )],
        })
    }
}

/// A claim about the routes when a feed that is up has seen them; otherwise the
/// plain fact that there was no BGP data to say it.
fn routes_words(s: &Situation<'_>, claim: &'static str) -> &'static str {
    if s.bgp_view {
        claim
    } else {
        "(no BGP data was available)"
    }
}

/// Routes fine, but every host dies past the border.
pub struct DataPlaneDead;

impl Rule for DataPlaneDead {
    fn name(&self) -> &'static str {
        "data-plane"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        let hosts: Vec<&CheckView> = hosts_icmp(s).collect();
        let Some(start) =
            every_host_silent_since(&hosts).filter(|_| s.bgp_baseline && s.dark.is_empty())
        else {
            return Assessment::NotThis;
        };
        let mut evidence: Vec<Evidence> = hosts.iter().map(|h| dark_host_item(h, s.at)).collect();
        let traces: Vec<&CheckView> = s
            .checks
            .iter()
            .copied()
            .filter(|c| c.kind == ProbeKind::Trace && c.failing_since().is_some())
            .collect();
        let past_border = traces
            .iter()
            .filter(|t| {
                t.last_hop_asn.is_some_and(|asn| {
                    s.known_upstreams.contains(&asn) || s.carriers.iter().any(|(u, _)| *u == asn)
                })
            })
            .count();
        for trace in &traces {
            evidence.push(item(
                s.at,
                SignalKind::ProbeTrace,
                format!("traceroute to {}: {}", trace.target, trace.text),
                None,
            ));
        }
        if s.bgp_view {
            evidence.push(item(
                s.at,
                SignalKind::BgpVisibility,
                format!("routes still visible: {}", s.visibility),
                Some(s.visible_share),
            ));
        }
        Assessment::Verdict(Verdict {
            cause: Cause::DataPlane,
            severity: Severity::Critical,
            confidence: if past_border > 0 { 0.85 } else { 0.7 },
            start,
            summary: format!(
                "every host of {} stopped answering {}{}",
                s.name,
                routes_words(s, "while its routes stay announced"),
                if past_border > 0 {
                    "; traceroutes die just past the border"
                } else {
                    ""
                }
            ),
            scope: Scope {
                hosts: hosts.iter().map(|h| h.target.clone()).collect(),
                families: host_families(&hosts),
                ..Scope::default()
            },
            evidence,
        })
    }
}

/// Routes fine, every host of one family silent while the other family's
/// answer: a filter at the border, or one family's forwarding broken. The
/// network still reaches the world over the other family.
pub struct FamilyDataPlaneDead;

impl Rule for FamilyDataPlaneDead {
    fn name(&self) -> &'static str {
        "family-data-plane"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        if !s.bgp_baseline || !s.dark.is_empty() {
            return Assessment::NotThis;
        }
        let hosts: Vec<&CheckView> = hosts_icmp(s).collect();
        let of = |family: Family| -> Vec<&CheckView> {
            hosts
                .iter()
                .copied()
                .filter(|h| h.family == Some(family))
                .collect()
        };
        let silent_family = Family::ALL.into_iter().find_map(|family| {
            let lost = of(family);
            let kept = of(family.other());
            let others_answer = hosts
                .iter()
                .filter(|h| h.family != Some(family))
                .all(|h| h.failing_since().is_none());
            let start =
                every_host_silent_since(&lost).filter(|_| !kept.is_empty() && others_answer)?;
            Some((family, lost, kept.len(), start))
        });
        let Some((family, lost, answering, start)) = silent_family else {
            return Assessment::NotThis;
        };
        let mut evidence: Vec<Evidence> = lost.iter().map(|h| dark_host_item(h, s.at)).collect();
        if s.bgp_view {
            evidence.push(item(
                s.at,
                SignalKind::BgpVisibility,
                format!("routes still visible: {}", s.visibility),
                Some(s.visible_share),
            ));
        }
        Assessment::Verdict(Verdict {
            cause: Cause::DataPlane,
            severity: Severity::Warning,
            confidence: 0.75,
            start,
            summary: format!(
                "{} dark, {} up: every {} host of {} ({}) stopped answering {}; its {answering} {} hosts answer",
                family.label(),
                family.other().label(),
                family.label(),
                s.name,
                lost.len(),
                routes_words(s, "while its routes stay announced"),
                family.other().label(),
            ),
            scope: Scope {
                hosts: lost.iter().map(|h| h.target.clone()).collect(),
                families: vec![family],
                ..Scope::default()
            },
            evidence,
        })
    }
}

/// Routes fine, some hosts dark while others answer.
pub struct SomeHostsDark;

impl Rule for SomeHostsDark {
    fn name(&self) -> &'static str {
        "partial-hosts"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        let dark: Vec<&CheckView> = hosts_icmp(s)
            .filter(|h| h.failing_since().is_some())
            .collect();
        let total = hosts_icmp(s).count();
        if !s.dark.is_empty() || dark.is_empty() || dark.len() == total {
            return Assessment::NotThis;
        }
        let start = dark
            .iter()
            .filter_map(|h| h.failing_since())
            .min()
            .unwrap_or(s.at);
        let names: Vec<String> = dark.iter().map(|h| h.target.clone()).collect();
        Assessment::Verdict(Verdict {
            cause: Cause::Partial,
            severity: Severity::Warning,
            confidence: 0.75,
            start,
            summary: format!(
                "{} of {total} hosts of {} are dark ({}) {}; the rest answer",
                dark.len(),
                s.name,
                names.join(", "),
                routes_words(s, "while their routes stay announced")
            ),
            scope: Scope {
                hosts: names,
                families: host_families(&dark),
                ..Scope::default()
            },
            evidence: dark.iter().map(|h| dark_host_item(h, s.at)).collect(),
        })
    }
}

/// Every host dark, and nothing to say why: no BGP view to tell a withdrawal from
/// a data-plane failure (no feed, or the routes were never seen).
pub struct Unsettled;

impl Rule for Unsettled {
    fn name(&self) -> &'static str {
        "unknown"
    }

    fn assess(&self, s: &Situation<'_>) -> Assessment {
        let hosts: Vec<&CheckView> = hosts_icmp(s).collect();
        let Some(start) = every_host_silent_since(&hosts).filter(|_| !s.bgp_baseline) else {
            return Assessment::NotThis;
        };
        Assessment::Verdict(Verdict {
            cause: Cause::Unknown,
            severity: Severity::Critical,
            confidence: 0.5,
            start,
            summary: format!(
                "every host of {} stopped answering, and without a BGP view the cause cannot be told",
                s.name
            ),
            scope: Scope {
                hosts: hosts.iter().map(|h| h.target.clone()).collect(),
                families: host_families(&hosts),
                ..Scope::default()
            },
            evidence: hosts
                .iter()
                .map(|h| dark_host_item(h, s.at))
                .chain(std::iter::once(item(
                    s.at,
                    SignalKind::BgpVisibility,
                    "no BGP view of the prefixes: no feed has shown them".into(),
                    None,
                )))
                .collect(),
        })
    }
}
