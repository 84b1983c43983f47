//! The scenario suite: one case per file in `tests/scenarios/`, each a recorded
//! sequence of what the world did (routes, probe conditions, feeds) and the
//! events the detector must give.
//!
//! A scenario's world is simulated on a clock: full-feed collector peers carry
//! the watched prefixes via the given upstreams, and every check of the profile
//! (hosts, zone servers, mail, controls) is probed once per `probe_every` from
//! each vantage point, answering as its current condition says. Steps change the
//! routes and the conditions at given times. The same file therefore gives the
//! detector BGP changes and probe results interleaved as a live run would.
//!
//! Step actions (`do`):
//! - `withdraw all|ipv4|ipv6|PREFIX [peers A-B]` (`ipv4`, `ipv6`: every prefix of
//!   that family)
//! - `announce all|ipv4|ipv6|PREFIX [peers A-B] [via ASN] [origin ASN] [prepend N]`
//! - `peer-down N`
//! - `vrps none | PREFIX-MAXLEN ASN[, ...]`
//! - `set SELECTOR ok|fail|lossy|slow [TEXT]` with SELECTOR `all` (every watched
//!   check), `hosts`, `controls`, `host:NAME`, `host:NAME:KIND`, `dns:ZONE`,
//!   `dns:ZONE@SERVER`, `mail`, `family:ipv4|ipv6` (the checks of hosts, zone
//!   servers and mail servers the profile gives an address of that family),
//!   `vantage:NAME` (everything from there) or
//!   `vantage:NAME/SELECTOR`; `fail` may end with `last-hop ASN` for traces;
//!   `set vantage:NAME ok` gives its checks back to their own conditions
//! - `feed NAME down|up|loading` (`loading`: up, its table still coming in)
//! - `vantage NAME` adds a vantage point (all checks start ok from it)
//! - `stop` and `start`: blackout stops watching (nothing is seen until `start`),
//!   then starts again with a fresh BGP state, fed the routes as they are then (a
//!   feed's table), and a fresh detector that resumes the events open at `stop`;
//!   its first look ends two probe rounds (at least a minute) later
//!
//! Whatever the scenario, no event id may start twice, across restarts too, and
//! every event's evidence is its own incident's: each item once, dated within
//! the event's start and end, and, for one of several networks, naming none of
//! the other networks' prefixes or targets; a route item that quotes a share
//! carries its number.
//!
//! Besides its entity, cause and times, an expected event may say what its
//! summary holds (`summary_has`, `summary_lacks`), its scope (`scope_has`,
//! `families`) and its evidence: texts some item holds (`evidence_has`) or no
//! item holds (`evidence_lacks`), texts whose items carry a number
//! (`evidence_valued`), the only signal names allowed (`evidence_signals`) and
//! items dated when their thing was seen (`[[expect.evidence_at]]`: `has`,
//! `at`, `within`).

use blackout_bgp::{Vrp, Vrps};
use blackout_detect::{FeedSignal, ProbeSignal};
use blackout_engine::{Engine, EngineConfig, Input};
use blackout_model::{AsPath, Asn, BgpInput, Event, PeerKey, RouteChange, RouteUpdate, Timestamp};
use blackout_model::{ProbeKind, ProbeRole, UpdateKind};
use blackout_profile::{Check, Profile};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Scenario {
    description: String,
    #[serde(default)]
    profile: Option<String>,
    #[serde(default)]
    profile_file: Option<String>,
    setup: Setup,
    #[serde(default)]
    step: Vec<Step>,
    #[serde(default)]
    expect: Vec<Expect>,
    /// Events that may appear besides the expected ones (by cause).
    #[serde(default)]
    allow: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Setup {
    start: String,
    end: String,
    peers: u8,
    via: Vec<u32>,
    #[serde(default = "default_probe_every")]
    probe_every: String,
    #[serde(default)]
    probes: bool,
    #[serde(default)]
    vrps: Option<String>,
    /// Spread each round's checks over the round, each at its own offset, as a
    /// live schedule does, instead of all at the round's start.
    #[serde(default)]
    spread: bool,
    /// Probe a check whose result changed again this long after (`15s`), as the
    /// probe engine does; a target's first failure has the controls and the host
    /// pings probed again too.
    #[serde(default)]
    recheck: Option<String>,
}

fn default_probe_every() -> String {
    "1m".into()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Step {
    at: String,
    #[serde(rename = "do")]
    action: String,
    /// Repeat the step this many times...
    #[serde(default)]
    repeat: Option<u32>,
    /// ... this far apart.
    #[serde(default)]
    every: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expect {
    entity: String,
    cause: String,
    #[serde(default)]
    start: Option<String>,
    /// A time, or "ongoing".
    #[serde(default)]
    end: Option<String>,
    /// Tolerance on start and end.
    #[serde(default)]
    within: Option<String>,
    #[serde(default)]
    min_confidence: Option<f64>,
    /// The most confidence the evidence allows (one peer's view is a hint).
    #[serde(default)]
    max_confidence: Option<f64>,
    /// Text the summary must hold.
    #[serde(default)]
    summary_has: Option<String>,
    /// `warning` or `critical`, as the event last stood.
    #[serde(default)]
    severity: Option<blackout_model::Severity>,
    /// Text the summary must not hold (a claim the data cannot back).
    #[serde(default)]
    summary_lacks: Option<String>,
    /// A host, prefix, service or upstream the scope must name.
    #[serde(default)]
    scope_has: Option<String>,
    /// Texts that must each appear in some evidence item.
    #[serde(default)]
    evidence_has: Vec<String>,
    /// The address families the scope must name, exactly (`["ipv6"]`).
    #[serde(default)]
    families: Option<Vec<String>>,
    /// The only signal names the evidence may carry (`probe.http`, ...).
    #[serde(default)]
    evidence_signals: Vec<String>,
    /// Texts no evidence item may hold (a stale fact, a claim from another signal).
    #[serde(default)]
    evidence_lacks: Vec<String>,
    /// Texts of items that must carry a number: some item holds each, and every
    /// item that holds it has a value.
    #[serde(default)]
    evidence_valued: Vec<String>,
    /// Items that must be dated when their thing was seen.
    #[serde(default)]
    evidence_at: Vec<EvidenceAt>,
}

/// An evidence item's text and the time it must carry.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceAt {
    /// Text the item holds.
    has: String,
    /// The time it must carry...
    at: String,
    /// ... give or take this much.
    #[serde(default)]
    within: Option<String>,
}

impl Expect {
    /// Does the event, read in full (summary, scope, evidence), say what it must?
    /// `start` is the scenario's start, for the times of `evidence_at`.
    fn reads_right(&self, event: &Event, start: Timestamp) -> bool {
        let scope = &event.scope;
        let scope_names = scope
            .hosts
            .iter()
            .chain(&scope.services)
            .cloned()
            .chain(scope.prefixes.iter().map(|p| p.to_string()))
            .chain(scope.upstreams.iter().map(|a| a.to_string()))
            .collect::<Vec<String>>();
        self.summary_lacks
            .as_deref()
            .is_none_or(|text| !event.summary.contains(text))
            && self
                .scope_has
                .as_deref()
                .is_none_or(|name| scope_names.iter().any(|n| n.contains(name)))
            && self.families.as_ref().is_none_or(|want| {
                let got: Vec<String> = scope.families.iter().map(ToString::to_string).collect();
                got == *want
            })
            && self.evidence_has.iter().all(|text| {
                event
                    .evidence
                    .iter()
                    .any(|e| e.text.contains(text.as_str()))
            })
            && (self.evidence_signals.is_empty()
                || event
                    .evidence
                    .iter()
                    .all(|e| self.evidence_signals.iter().any(|s| s == e.signal.as_str())))
            && self.evidence_lacks.iter().all(|text| {
                event
                    .evidence
                    .iter()
                    .all(|e| !e.text.contains(text.as_str()))
            })
            && self.evidence_valued.iter().all(|text| {
                let holding: Vec<_> = event
                    .evidence
                    .iter()
                    .filter(|e| e.text.contains(text.as_str()))
                    .collect();
                !holding.is_empty() && holding.iter().all(|e| e.value.is_some())
            })
            && self.evidence_at.iter().all(|want| {
                let at = time(&want.at, start);
                let within = want.within.as_deref().map(secs).unwrap_or(0) as f64;
                event.evidence.iter().any(|e| {
                    e.text.contains(want.has.as_str()) && e.at.secs_since(at).abs() <= within
                })
            })
    }
}

/// The selector of a check by the family of its target's address
/// (`family:ipv6`); `family:unknown` without an address.
fn family_selector(address: Option<IpAddr>) -> String {
    match address {
        Some(IpAddr::V4(_)) => "family:ipv4".into(),
        Some(IpAddr::V6(_)) => "family:ipv6".into(),
        None => "family:unknown".into(),
    }
}

/// `90s`, `10m`, `1h20m`, `2d`.
fn secs(text: &str) -> i64 {
    let mut total = 0;
    let mut number = String::new();
    for c in text.chars() {
        if c.is_ascii_digit() {
            number.push(c);
            continue;
        }
        let n: i64 = number
            .parse()
            .unwrap_or_else(|_| panic!("bad duration {text}"));
        number.clear();
        total += n * match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            _ => panic!("bad duration unit in {text}"),
        };
    }
    if !number.is_empty() {
        total += number
            .parse::<i64>()
            .unwrap_or_else(|_| panic!("bad duration {text}"));
    }
    total
}

/// A time: RFC 3339, or `+DURATION` after the setup's start.
fn time(text: &str, start: Timestamp) -> Timestamp {
    match text.strip_prefix('+') {
        Some(offset) => start.add_secs(secs(offset)),
        None => text.parse().unwrap_or_else(|e| panic!("{e}")),
    }
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Condition {
    Ok,
    Fail,
    Lossy,
    Slow,
}

#[derive(Clone)]
struct CheckSpec {
    role: ProbeRole,
    target: String,
    kind: ProbeKind,
    selectors: Vec<String>,
}

struct World {
    profile: Profile,
    peers: u8,
    via: Vec<u32>,
    routes: BTreeMap<(u8, IpNet), Vec<u32>>,
    conditions: BTreeMap<String, (Condition, String, Option<u32>)>,
    checks: Vec<CheckSpec>,
    vantages: BTreeSet<String>,
    /// Did each check (vantage, target, kind) pass last time?
    last_ok: BTreeMap<(String, String, ProbeKind), bool>,
}

impl World {
    fn new(profile: Profile, peers: u8, via: Vec<u32>) -> Self {
        let mut checks = Vec::new();
        for host in &profile.hosts {
            for check in &host.checks {
                let kind = Check::kind(check);
                checks.push(CheckSpec {
                    role: ProbeRole::Host,
                    target: host.name.clone(),
                    kind,
                    selectors: vec![
                        "all".into(),
                        family_selector(host.address),
                        "hosts".into(),
                        format!("host:{}", host.name),
                        format!("host:{}:{}", host.name, kind),
                    ],
                });
            }
        }
        for zone in &profile.zones {
            for server in &zone.servers {
                checks.push(CheckSpec {
                    role: ProbeRole::Zone,
                    target: format!("{}@{}", zone.name, server.name),
                    kind: ProbeKind::Dns,
                    selectors: vec![
                        "all".into(),
                        family_selector(server.address),
                        format!("dns:{}", zone.name),
                        format!("dns:{}@{}", zone.name, server.name),
                    ],
                });
            }
        }
        for mail in &profile.mail {
            // Named as the prober names it: a server given only by its address
            // is called by its address.
            let name = mail
                .host
                .clone()
                .or(mail.domain.clone())
                .or(mail.address.map(|a| a.to_string()))
                .unwrap_or_default();
            checks.push(CheckSpec {
                role: ProbeRole::Mail,
                target: name,
                kind: ProbeKind::Smtp,
                selectors: vec!["all".into(), family_selector(mail.address), "mail".into()],
            });
        }
        for control in &profile.controls {
            for check in &control.checks {
                let kind = Check::kind(check);
                checks.push(CheckSpec {
                    role: ProbeRole::Control,
                    target: control.name.clone(),
                    kind,
                    selectors: vec!["controls".into(), format!("control:{}", control.name)],
                });
            }
        }
        World {
            profile,
            peers,
            via,
            routes: BTreeMap::new(),
            conditions: BTreeMap::new(),
            checks,
            vantages: ["local".to_string()].into(),
            last_ok: BTreeMap::new(),
        }
    }

    fn peer(&self, n: u8) -> PeerKey {
        PeerKey {
            collector: "rrc00".into(),
            ip: IpAddr::from([198, 51, 100, n]),
            asn: Asn(64400 + u32::from(n)),
        }
    }

    fn prefixes(&self, what: &str) -> Vec<IpNet> {
        let family = |v6: bool| -> Vec<IpNet> {
            self.profile
                .announced_prefixes()
                .into_iter()
                .filter(|p| matches!(p, IpNet::V6(_)) == v6)
                .collect()
        };
        match what {
            "all" => self.profile.announced_prefixes(),
            "ipv4" => family(false),
            "ipv6" => family(true),
            _ => vec![what.parse().unwrap_or_else(|_| panic!("bad prefix {what}"))],
        }
    }

    /// The origin a prefix of the profile is announced by: its network's.
    fn origin_of(&self, prefix: &IpNet) -> u32 {
        self.profile
            .networks
            .iter()
            .find(|n| {
                n.prefixes
                    .iter()
                    .chain(&n.aggregates)
                    .any(|p| p.contains(prefix))
            })
            .unwrap_or(&self.profile.networks[0])
            .asn
            .0
    }

    fn baseline(&mut self, at: Timestamp) -> Vec<BgpInput> {
        let mut inputs = Vec::new();
        for n in 1..=self.peers {
            let upstream = self.via[usize::from(n - 1) % self.via.len()];
            for prefix in self.profile.announced_prefixes() {
                let path = vec![64400 + u32::from(n), upstream, self.origin_of(&prefix)];
                inputs.push(self.route(at, n, prefix, Some(path)));
            }
            inputs.push(BgpInput::TableSize {
                at,
                peer: self.peer(n),
                ipv4: 500_000,
                ipv6: 200_000,
            });
        }
        inputs
    }

    fn route(&mut self, at: Timestamp, n: u8, prefix: IpNet, path: Option<Vec<u32>>) -> BgpInput {
        let change = match &path {
            Some(path) => {
                self.routes.insert((n, prefix), path.clone());
                RouteChange::Announce {
                    as_path: AsPath::from_sequence(path.iter().copied()),
                }
            }
            None => {
                self.routes.remove(&(n, prefix));
                RouteChange::Withdraw
            }
        };
        BgpInput::Route(RouteUpdate {
            at,
            peer: self.peer(n),
            prefix,
            path_id: None,
            change,
        })
    }

    /// The routes as they are now, as a fresh feed's table delivers them.
    fn table(&self, at: Timestamp) -> Vec<BgpInput> {
        let mut inputs: Vec<BgpInput> = self
            .routes
            .iter()
            .map(|((n, prefix), path)| {
                BgpInput::Route(RouteUpdate {
                    at,
                    peer: self.peer(*n),
                    prefix: *prefix,
                    path_id: None,
                    change: RouteChange::Announce {
                        as_path: AsPath::from_sequence(path.iter().copied()),
                    },
                })
            })
            .collect();
        for n in 1..=self.peers {
            inputs.push(BgpInput::TableSize {
                at,
                peer: self.peer(n),
                ipv4: 500_000,
                ipv6: 200_000,
            });
        }
        inputs
    }

    /// Applies a BGP action; returns the inputs.
    fn bgp_action(&mut self, at: Timestamp, words: &[&str]) -> Vec<BgpInput> {
        let mut peers: Vec<u8> = (1..=self.peers).collect();
        let mut via: Option<u32> = None;
        let mut origin: Option<u32> = None;
        let mut prepend = 0;
        let mut i = 2;
        while i + 1 < words.len() + 1 && i < words.len() {
            match words[i] {
                "peers" => {
                    let (a, b) = words[i + 1]
                        .split_once('-')
                        .unwrap_or((words[i + 1], words[i + 1]));
                    peers = (a.parse().unwrap()..=b.parse().unwrap()).collect();
                }
                "via" => via = Some(words[i + 1].parse().unwrap()),
                "origin" => origin = Some(words[i + 1].parse().unwrap()),
                "prepend" => prepend = words[i + 1].parse().unwrap(),
                other => panic!("unknown word {other}"),
            }
            i += 2;
        }
        let prefixes = self.prefixes(words[1]);
        let mut inputs = Vec::new();
        for (k, n) in peers.into_iter().enumerate() {
            // Peers hear of a change one after another, a second apart.
            let t = at.add_secs(k as i64);
            for prefix in &prefixes {
                let path = match words[0] {
                    "withdraw" => None,
                    _ => {
                        let upstream = via.unwrap_or(self.via[usize::from(n - 1) % self.via.len()]);
                        let mut path = vec![64400 + u32::from(n), upstream];
                        let origin = origin.unwrap_or_else(|| self.origin_of(prefix));
                        path.extend(std::iter::repeat_n(origin, 1 + prepend));
                        Some(path)
                    }
                };
                inputs.push(self.route(t, n, *prefix, path));
            }
        }
        inputs
    }

    /// The condition of a check seen from a vantage point: `vantage:NAME` (all of
    /// it), then `vantage:NAME/SELECTOR`, then the selectors from the most specific.
    fn condition(&self, vantage: &str, spec: &CheckSpec) -> (Condition, String, Option<u32>) {
        if let Some(whole) = self.conditions.get(&format!("vantage:{vantage}")) {
            return whole.clone();
        }
        spec.selectors
            .iter()
            .rev()
            .find_map(|s| {
                self.conditions
                    .get(&format!("vantage:{vantage}/{s}"))
                    .or_else(|| self.conditions.get(s))
                    .cloned()
            })
            .unwrap_or((Condition::Ok, String::new(), None))
    }

    /// One round of every check from every vantage point. Spread, each check
    /// runs at its own offset in the round (from a hash of its target and kind),
    /// with the conditions of the round's start. With `recheck`, as the probe
    /// engine does, a check whose result changed is probed again that much
    /// later, and a target's first failure has every control and host ping of
    /// its vantage point probed again with it (with the conditions of the round's
    /// start too).
    fn probe_round(
        &mut self,
        at: Timestamp,
        spread_over: Option<i64>,
        recheck: Option<i64>,
    ) -> Vec<ProbeSignal> {
        let mut signals = Vec::new();
        for vantage in &self.vantages {
            for spec in &self.checks {
                let offset = spread_over.map_or(0, |every| {
                    let key = format!("{}|{:?}", spec.target, spec.kind);
                    let hash = key.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
                    });
                    (hash % every.max(1) as u64) as i64
                });
                signals.push(self.probe(vantage, spec, at.add_secs(offset)));
            }
        }
        let mut rechecks = Vec::new();
        for signal in &signals {
            let key = (signal.vantage.clone(), signal.target.clone(), signal.kind);
            let before = self.last_ok.insert(key, signal.ok);
            let (Some(after), Some(before)) = (recheck, before) else {
                continue;
            };
            if before == signal.ok {
                continue;
            }
            let again = signal.at.add_secs(after);
            for spec in &self.checks {
                if spec.target == signal.target && spec.kind == signal.kind {
                    rechecks.push(self.probe(&signal.vantage, spec, again));
                } else if !signal.ok
                    && signal.role != ProbeRole::Control
                    && (spec.role == ProbeRole::Control
                        || (spec.role == ProbeRole::Host && spec.kind == ProbeKind::Icmp))
                {
                    // Asked together, the witnesses may well answer after the target.
                    rechecks.push(self.probe(&signal.vantage, spec, again.add_secs(1)));
                }
            }
        }
        for signal in &rechecks {
            let key = (signal.vantage.clone(), signal.target.clone(), signal.kind);
            self.last_ok.insert(key, signal.ok);
        }
        signals.extend(rechecks);
        signals
    }

    /// One check from one vantage point at `at`, answering as its condition says.
    fn probe(&self, vantage: &str, spec: &CheckSpec, at: Timestamp) -> ProbeSignal {
        let (condition, text, last_hop) = self.condition(vantage, spec);
        let (ok, rtt, loss, default_text) = match condition {
            Condition::Ok => (true, Some(40.0), Some(0.0), "answered"),
            Condition::Fail => (false, None, Some(1.0), "timeout"),
            Condition::Lossy => (true, Some(60.0), Some(0.5), "answered with loss"),
            Condition::Slow => (true, Some(900.0), Some(0.0), "answered slowly"),
        };
        ProbeSignal {
            at,
            vantage: vantage.to_string(),
            role: spec.role,
            target: spec.target.clone(),
            kind: spec.kind,
            ok,
            rtt_ms: rtt,
            loss,
            text: if text.is_empty() {
                default_text.to_string()
            } else {
                text
            },
            last_hop_asn: last_hop.map(Asn),
        }
    }
}

fn parse_vrps(text: &str) -> Vrps {
    if text.trim() == "none" {
        return Vrps::default();
    }
    Vrps::new(
        text.split(',')
            .map(|item| {
                let mut parts = item.split_whitespace();
                let (prefix, max) = parts.next().unwrap().rsplit_once('-').unwrap();
                Vrp {
                    prefix: prefix.parse().unwrap(),
                    max_length: max.parse().unwrap(),
                    asn: parts.next().unwrap().parse().unwrap(),
                }
            })
            .collect(),
    )
}

/// Every event as it last stood, and how often each id started.
#[derive(Default)]
struct Record {
    latest: BTreeMap<String, Event>,
    started: BTreeMap<String, usize>,
}

impl Record {
    fn take(&mut self, updates: Vec<blackout_model::EventUpdate>) {
        for update in updates {
            let event = update.event.clone();
            if matches!(
                update,
                blackout_model::EventUpdate {
                    kind: UpdateKind::Started,
                    ..
                }
            ) {
                *self.started.entry(event.id.0.clone()).or_default() += 1;
            }
            self.latest.insert(event.id.0.clone(), event);
        }
    }
}

fn run(path: &Path) -> (Scenario, Vec<Event>) {
    let text = std::fs::read_to_string(path).unwrap();
    let scenario: Scenario =
        toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let profile = scenario_profile(&scenario, path);
    let events = simulate(&scenario, profile, None);
    (scenario, events)
}

/// The profile a scenario watches with: its own file, a built-in, or `kp`.
fn scenario_profile(scenario: &Scenario, path: &Path) -> Profile {
    match (&scenario.profile, &scenario.profile_file) {
        (_, Some(file)) => blackout_profile::load_file(&path.parent().unwrap().join(file)).unwrap(),
        (Some(name), None) => blackout_profile::builtin(name).unwrap(),
        (None, None) => blackout_profile::builtin("kp").unwrap(),
    }
}

/// The names (prefixes, hosts, name servers, mail servers) that belong to
/// another of the profile's networks than `asn`'s and not to its own: an event
/// about one network must not name them. Empty when the profile has one network.
fn foreign_names(profile: &Profile, asn: u32) -> Vec<String> {
    let Some(own) = profile.networks.iter().find(|n| n.asn.0 == asn) else {
        return Vec::new();
    };
    let others: Vec<&IpNet> = profile
        .networks
        .iter()
        .filter(|n| n.asn.0 != asn)
        .flat_map(|n| &n.prefixes)
        .collect();
    let inside = |net: &[&IpNet], addr: IpAddr| net.iter().any(|p| p.contains(&addr));
    let own_prefixes: Vec<&IpNet> = own.prefixes.iter().collect();
    let foreign = |addr: Option<IpAddr>| {
        addr.is_some_and(|a| inside(&others, a) && !inside(&own_prefixes, a))
    };
    let mut names: Vec<String> = others
        .iter()
        .filter(|p| !own.prefixes.contains(p))
        .map(|p| p.to_string())
        .collect();
    let hosts = profile.hosts.iter().map(|h| (&h.name, h.address));
    let servers = profile.zones.iter().flat_map(|z| &z.servers);
    let mail = profile
        .mail
        .iter()
        .filter_map(|m| Some((m.host.as_ref()?, m.address)));
    let targets = hosts
        .chain(servers.map(|s| (&s.name, s.address)))
        .chain(mail);
    names.extend(
        targets
            .filter(|(_, address)| foreign(*address))
            .map(|(name, _)| name.clone()),
    );
    names
}

/// Is an evidence item one of the event book's notes: a revision of the cause
/// or scope, an outage receding, blackout restarting?
fn is_note(text: &str) -> bool {
    [
        "what is in trouble changed:",
        "cause revised:",
        "blackout restarted",
        "blackout stopped",
    ]
    .iter()
    .any(|start| text.starts_with(start))
        || text.contains(" recedes: ")
}

/// Does `text` name `name` as a whole word (not `web.a.example` inside
/// `web.a.example.org`, nor `198.51.100.1` inside `198.51.100.10`)?
fn names_whole(text: &str, name: &str) -> bool {
    let part =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_alphanumeric() || c == '-' || c == ':');
    text.match_indices(name).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let rest = &text[at + name.len()..];
        let mut after = rest.chars();
        let next = after.next();
        // A trailing dot ends a sentence; a dot followed by more of a name does not.
        let continues = next == Some('.') && part(after.next());
        !part(before) && !part(next) && !continues
    })
}

/// Runs the world through the engine on a simulated clock; `shuffle` permutes
/// the probe results and feed signals of each instant with a seed (the routes of
/// one instant keep their order: a withdrawal and a re-announcement by one peer
/// are not the same the other way round).
fn simulate(scenario: &Scenario, mut profile: Profile, shuffle: Option<u64>) -> Vec<Event> {
    let start: Timestamp = time(&scenario.setup.start, Timestamp::EPOCH);
    let end = time(&scenario.setup.end, start);
    let every = secs(&scenario.setup.probe_every);
    // The world probes every `probe_every`: the engine must know that interval,
    // as watch's does from the profile it probes with.
    profile.probes.interval_secs = every as f64;
    let vrps = scenario
        .setup
        .vrps
        .as_deref()
        .map(parse_vrps)
        .unwrap_or_default();
    let mut vrps_now = vrps.clone();
    let mut world = World::new(profile, scenario.setup.peers, scenario.setup.via.clone());
    // Expand the steps in time order.
    let mut steps: Vec<(Timestamp, usize, String)> = Vec::new();
    for (order, step) in scenario.step.iter().enumerate() {
        let at = time(&step.at, start);
        let every = step.every.as_deref().map(secs).unwrap_or(0);
        for k in 0..step.repeat.unwrap_or(1) {
            steps.push((
                at.add_secs(every * i64::from(k)),
                order,
                step.action.clone(),
            ));
        }
    }
    steps.sort();
    // What the engine is fed, by instant; a restart is a mark in the timeline.
    let mut instants: BTreeMap<Timestamp, Vec<Fed>> = BTreeMap::new();
    let feed_bgp = |instants: &mut BTreeMap<Timestamp, Vec<Fed>>, inputs: Vec<BgpInput>| {
        for input in inputs {
            instants
                .entry(input.at())
                .or_default()
                .push(Fed::Input(Input::Bgp(input)));
        }
    };
    feed_bgp(&mut instants, world.baseline(start));
    let mut watching = true;
    let mut next_round = start;
    let mut step_index = 0;
    let mut clock = start;
    while clock <= end {
        while step_index < steps.len() && steps[step_index].0 <= clock {
            let (at, _, action) = steps[step_index].clone();
            let words: Vec<&str> = action.split_whitespace().collect();
            // While blackout is stopped, the world changes unseen.
            let mut now: BTreeMap<Timestamp, Vec<Fed>> = BTreeMap::new();
            match words[0] {
                "stop" => {
                    watching = false;
                    now.entry(at).or_default().push(Fed::Stop);
                }
                "start" => {
                    watching = true;
                    now.entry(at)
                        .or_default()
                        .push(Fed::Start(vrps_now.clone()));
                    feed_bgp(&mut now, world.table(at));
                    next_round = at;
                }
                "withdraw" | "announce" => feed_bgp(&mut now, world.bgp_action(at, &words)),
                "peer-down" => {
                    let input = BgpInput::PeerDown {
                        at,
                        peer: world.peer(words[1].parse().unwrap()),
                    };
                    feed_bgp(&mut now, vec![input]);
                }
                "vrps" => {
                    vrps_now = parse_vrps(&words[1..].join(" "));
                    now.entry(at)
                        .or_default()
                        .push(Fed::Input(Input::Vrps(vrps_now.clone())));
                }
                "set" => {
                    let condition = match words[2] {
                        "ok" => Condition::Ok,
                        "fail" => Condition::Fail,
                        "lossy" => Condition::Lossy,
                        "slow" => Condition::Slow,
                        other => panic!("unknown condition {other}"),
                    };
                    let mut rest: Vec<&str> = words[3..].to_vec();
                    let mut hop = None;
                    if let Some(pos) = rest.iter().position(|w| *w == "last-hop") {
                        hop = rest.get(pos + 1).map(|asn| asn.parse().unwrap());
                        rest.truncate(pos);
                    }
                    if condition == Condition::Ok
                        && words[1].starts_with("vantage:")
                        && !words[1].contains('/')
                    {
                        // The vantage point is back: its checks answer as their own
                        // conditions say again.
                        world.conditions.remove(words[1]);
                    } else {
                        world
                            .conditions
                            .insert(words[1].to_string(), (condition, rest.join(" "), hop));
                    }
                }
                "feed" => {
                    let signal = FeedSignal {
                        at,
                        feed: words[1].into(),
                        up: words[2] != "down",
                        loading: words[2] == "loading",
                        text: format!("feed {} {}", words[1], words[2]),
                    };
                    now.entry(at)
                        .or_default()
                        .push(Fed::Input(Input::Feed(signal)));
                }
                "vantage" => {
                    world.vantages.insert(words[1].to_string());
                }
                other => panic!("unknown action {other}"),
            }
            let restart = matches!(words[0], "stop" | "start");
            for (at, fed) in now {
                if watching || restart {
                    instants.entry(at).or_default().extend(fed);
                }
            }
            step_index += 1;
        }
        if !watching && next_round <= clock {
            next_round = clock.add_secs(every);
        }
        if watching && scenario.setup.probes && clock >= next_round {
            let spread = scenario.setup.spread.then_some(every);
            let recheck = scenario.setup.recheck.as_deref().map(secs);
            for signal in world.probe_round(clock, spread, recheck) {
                instants
                    .entry(signal.at)
                    .or_default()
                    .push(Fed::Input(Input::Probe(signal)));
            }
            next_round = clock.add_secs(every);
        }
        if watching {
            instants.entry(clock).or_default();
        }
        // Move to the next moment something happens, or the next round.
        let next_step = steps.get(step_index).map(|s| s.0);
        let next_probe = if scenario.setup.probes {
            Some(next_round)
        } else {
            None
        };
        let idle = clock.add_secs(every.max(60));
        clock = [next_step, next_probe, Some(idle)]
            .into_iter()
            .flatten()
            .min()
            .unwrap();
    }
    // Every event as it last stood, and every id that started.
    let mut record = Record::default();
    let config = |vrps: Vrps| EngineConfig::live(world.profile.clone(), vrps);
    let mut engine = Some(Engine::new(config(vrps)));
    for (at, mut fed) in instants {
        if let Some(seed) = shuffle {
            // Probe results and feed signals in a random order; routes and restarts stay put.
            let mut x = seed | 1;
            let movable: Vec<usize> = (0..fed.len())
                .filter(|i| matches!(fed[*i], Fed::Input(Input::Probe(_) | Input::Feed(_))))
                .collect();
            for k in (1..movable.len()).rev() {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                fed.swap(movable[k], movable[(x % (k as u64 + 1)) as usize]);
            }
        }
        for item in fed {
            match item {
                Fed::Stop => {
                    // Stopped: the engine is gone, with what it had open.
                    if let Some(mut stopped) = engine.take() {
                        record.take(stopped.settle(at).updates);
                    }
                }
                Fed::Start(vrps) => {
                    let open: Vec<Event> = record
                        .latest
                        .values()
                        .filter(|e| e.end.is_none())
                        .cloned()
                        .collect();
                    let mut started = Engine::new(config(vrps));
                    let left = started.resume(open, at);
                    assert!(left.is_empty(), "events not resumed: {left:?}");
                    engine = Some(started);
                }
                Fed::Input(input) => {
                    if let Some(engine) = engine.as_mut() {
                        record.take(engine.step(at, input).updates);
                    }
                }
            }
        }
        if let Some(engine) = engine.as_mut() {
            record.take(engine.settle(at).updates);
        }
    }
    let Record {
        latest: mut events,
        started,
    } = record;
    if let Some(engine) = engine {
        let finished = engine.finish();
        for update in finished.output.updates {
            events.insert(update.event.id.0.clone(), update.event);
        }
        for event in finished.events {
            events.insert(event.id.0.clone(), event);
        }
    }
    let twice: Vec<&String> = started
        .iter()
        .filter(|(_, n)| **n > 1)
        .map(|(id, _)| id)
        .collect();
    assert!(
        twice.is_empty(),
        "{}: events started twice: {twice:?}",
        scenario.description
    );
    let mut events: Vec<Event> = events.into_values().collect();
    events.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
    events
}

/// What the simulated clock hands the engine at one instant.
enum Fed {
    Input(Input),
    /// blackout stops: the engine is gone.
    Stop,
    /// blackout starts again with these VRPs, and takes up the open events.
    Start(Vrps),
}

fn scenario_files() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.extension().is_some_and(|e| e == "toml")
                && !p
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with("profile-")
        })
        .collect();
    files.sort();
    files
}

fn check(path: &Path) -> Result<(), String> {
    let (scenario, events) = run(path);
    let profile = scenario_profile(&scenario, path);
    let start = time(&scenario.setup.start, Timestamp::EPOCH);
    // Each event with its evidence: what a failing scenario needs to be read.
    let describe = |events: &[Event]| {
        events
            .iter()
            .map(|e| {
                let items: String = e
                    .evidence
                    .iter()
                    .map(|i| format!("\n      {} {} {:?} {:?}", i.at, i.signal, i.value, i.text))
                    .collect();
                format!(
                    "  {} {} {} -> {} ({:.2}) {}{items}",
                    e.entity,
                    e.cause,
                    e.start,
                    e.end.map(|t| t.to_string()).unwrap_or("ongoing".into()),
                    e.confidence,
                    e.summary
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    let mut unmatched: Vec<&Event> = events.iter().collect();
    for expect in &scenario.expect {
        let within = expect.within.as_deref().map(secs).unwrap_or(0) as f64;
        let position = unmatched.iter().position(|e| {
            e.entity.to_string() == expect.entity
                && e.cause.to_string() == expect.cause
                && expect
                    .start
                    .as_deref()
                    .is_none_or(|s| e.start.secs_since(time(s, start)).abs() <= within)
                && match expect.end.as_deref() {
                    None => true,
                    Some("ongoing") => e.end.is_none(),
                    Some(t) => e
                        .end
                        .is_some_and(|end| end.secs_since(time(t, start)).abs() <= within),
                }
                && expect.min_confidence.is_none_or(|c| e.confidence >= c)
                && expect.max_confidence.is_none_or(|c| e.confidence <= c)
                && expect.severity.is_none_or(|s| e.severity == s)
                && expect
                    .summary_has
                    .as_deref()
                    .is_none_or(|text| e.summary.contains(text))
                && expect.reads_right(e, start)
        });
        match position {
            Some(i) => {
                unmatched.remove(i);
            }
            None => {
                return Err(format!(
                    "{}: no event {} {} start {:?} end {:?}; got:\n{}",
                    scenario.description,
                    expect.entity,
                    expect.cause,
                    expect.start,
                    expect.end,
                    describe(&events)
                ));
            }
        }
    }
    unmatched.retain(|e| !scenario.allow.contains(&e.cause.to_string()));
    if !unmatched.is_empty() {
        return Err(format!(
            "{}: unexpected events:\n{}\nall:\n{}",
            scenario.description,
            describe(&unmatched.into_iter().cloned().collect::<Vec<_>>()),
            describe(&events)
        ));
    }
    for event in &events {
        // A route measurement (a share, a visibility) carries its number, so that
        // a reader of the JSON need not parse it out of the words; the book's
        // notes (revisions, restarts) tell, and measure nothing.
        let unvalued: Vec<String> = event
            .evidence
            .iter()
            .filter(|item| {
                item.signal.as_str().starts_with("bgp.")
                    && item.text.contains('%')
                    && item.value.is_none()
                    && !is_note(&item.text)
            })
            .map(|item| format!("  {} {:?}", item.signal, item.text))
            .collect();
        if !unvalued.is_empty() {
            return Err(format!(
                "{}: route measurements without a value in {} {}:\n{}",
                scenario.description,
                event.entity,
                event.cause,
                unvalued.join("\n")
            ));
        }
        if event.evidence.is_empty() {
            return Err(format!(
                "{}: an event without evidence: {event:?}",
                scenario.description
            ));
        }
        let mut seen = BTreeSet::new();
        for item in &event.evidence {
            if !seen.insert((item.at, item.signal, item.text.as_str())) {
                return Err(format!(
                    "{}: an evidence item twice in {}: {item:?}",
                    scenario.description, event.entity
                ));
            }
        }
        // The evidence is the record of this incident: what was seen from its
        // start to its end, nothing from before or after.
        let outside: Vec<String> = event
            .evidence
            .iter()
            .filter(|item| item.at < event.start || event.end.is_some_and(|end| item.at > end))
            .map(|item| format!("  {} {} {:?}", item.at, item.signal, item.text))
            .collect();
        if !outside.is_empty() {
            return Err(format!(
                "{}: evidence from outside {} {} ({} -> {}):\n{}",
                scenario.description,
                event.entity,
                event.cause,
                event.start,
                event.end.map(|t| t.to_string()).unwrap_or("ongoing".into()),
                outside.join("\n")
            ));
        }
        // A network's event is about that network: with several networks in the
        // profile, its items name none of the others' prefixes or targets.
        if let blackout_model::Entity::As(asn) = &event.entity {
            let foreign = foreign_names(&profile, asn.0);
            let named: Vec<String> = event
                .evidence
                .iter()
                .flat_map(|item| {
                    foreign
                        .iter()
                        .filter(|name| names_whole(&item.text, name))
                        .map(move |name| format!("  {name}: {} {:?}", item.signal, item.text))
                })
                .collect();
            if !named.is_empty() {
                return Err(format!(
                    "{}: {} {} names another network's prefixes or targets:\n{}",
                    scenario.description,
                    event.entity,
                    event.cause,
                    named.join("\n")
                ));
            }
        }
        if let Some(end) = event.end
            && end < event.start
        {
            return Err(format!(
                "{}: an event that ends before it starts: {event:?}",
                scenario.description
            ));
        }
    }
    Ok(())
}

#[test]
fn every_scenario_gives_its_events() {
    // BLACKOUT_SCENARIO=NAME runs the scenarios whose file name holds NAME.
    let only = std::env::var("BLACKOUT_SCENARIO").ok();
    let files: Vec<PathBuf> = scenario_files()
        .into_iter()
        .filter(|f| {
            only.as_ref()
                .is_none_or(|o| f.to_string_lossy().contains(o.as_str()))
        })
        .collect();
    assert!(
        files.len() >= if only.is_some() { 1 } else { 10 },
        "the suite has {} scenarios",
        files.len()
    );
    let failures: Vec<String> = files
        .iter()
        .filter_map(|path| {
            check(path)
                .err()
                .map(|e| format!("{}\n{e}", path.display()))
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} scenarios failed:\n\n{}",
        failures.len(),
        files.len(),
        failures.join("\n\n")
    );
}

#[test]
fn every_cause_is_covered() {
    let mut causes = BTreeSet::new();
    for path in scenario_files() {
        let (scenario, _) = run(&path);
        causes.extend(scenario.expect.iter().map(|e| e.cause.clone()));
    }
    for cause in blackout_model::Cause::ALL {
        assert!(
            causes.contains(cause.as_str()),
            "no scenario expects {cause}"
        );
    }
}

#[test]
fn the_same_input_gives_the_same_events() {
    for path in scenario_files() {
        let (_, first) = run(&path);
        let (_, second) = run(&path);
        assert_eq!(first, second, "{}", path.display());
    }
}

#[test]
fn shuffling_simultaneous_signals_keeps_the_verdict() {
    for path in scenario_files() {
        let (scenario, events) = run(&path);
        let profile = scenario_profile(&scenario, &path);
        let verdict =
            |events: &[Event]| -> BTreeSet<(String, String, Timestamp, Option<Timestamp>)> {
                events
                    .iter()
                    .map(|e| (e.entity.to_string(), e.cause.to_string(), e.start, e.end))
                    .collect()
            };
        for seed in [7u64, 1234, 99_991] {
            let shuffled = simulate(&scenario, profile.clone(), Some(seed));
            assert_eq!(
                verdict(&events),
                verdict(&shuffled),
                "{} with seed {seed}",
                path.display()
            );
        }
    }
}
