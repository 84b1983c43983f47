//! What the lab's end-to-end tests share (`watch_lab`, one `watch` at the vantage
//! point; `agents_lab`, three agents and a central): the lab brought up and taken
//! down, `blackout watch` run inside a namespace with its JSON updates read, the
//! lab profile at the tests' timing, the faults with the cause and entity each must
//! give, the check of each fault's event, and one fault run from injection to the
//! end of its event.

#![allow(dead_code)]

pub mod processes;

use blackout_lab::{Fault, Lab};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_blackout");
/// The lab profile, as shipped.
pub const LAB_PROFILE: &str = include_str!("../../../profile/profiles/lab.toml");

pub fn say(line: &str) {
    // Straight to the process's stderr: the harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "{line}");
}

// ---- time ----------------------------------------------------------------------

/// Seconds since the Unix epoch, now.
pub fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Seconds since the Unix epoch of an RFC 3339 time.
pub fn secs(rfc3339: &str) -> Option<f64> {
    let at: jiff::Timestamp = rfc3339.parse().ok()?;
    Some(at.as_nanosecond() as f64 / 1e9)
}

// ---- the profile -----------------------------------------------------------------

/// The hold time of the lab's BGP sessions (the lab's BIRD configuration).
pub const LAB_BGP_HOLD_SECS: u64 = 9;

/// How fast the watched profile probes and settles.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Timing {
    /// Probes every 2 s, recovery hold 3 s: the test suite's setting.
    Fast,
    /// The lab profile's own: probes every 5 s, recovery hold 10 s.
    Lab,
}

impl Timing {
    pub fn from_env() -> Timing {
        match std::env::var("BLACKOUT_WATCH_LAB_TIMING").as_deref() {
            Ok("lab") => Timing::Lab,
            _ => Timing::Fast,
        }
    }

    pub fn probe_interval(self) -> f64 {
        match self {
            Timing::Fast => 2.0,
            Timing::Lab => 5.0,
        }
    }

    pub fn recovery_hold(self) -> f64 {
        match self {
            Timing::Fast => 3.0,
            Timing::Lab => 10.0,
        }
    }

    pub fn flap_window(self) -> f64 {
        match self {
            Timing::Fast => 12.0,
            Timing::Lab => 30.0,
        }
    }

    /// The lab profile with this timing's probe interval and recovery hold, the
    /// shorter flap window, and every event's targets traced (a run opens about
    /// twenty events within minutes, past the default budget of 6 per 10
    /// minutes); every other setting is the lab profile's own.
    pub fn profile(self) -> String {
        let cut = LAB_PROFILE
            .find("\n[probes]")
            .expect("the lab profile has a [probes] table");
        let (head, tables) = LAB_PROFILE.split_at(cut);
        assert!(
            !tables.contains("\n[[") && !tables.contains("\n[alerts"),
            "the lab profile ends with its [probes] and [thresholds] tables"
        );
        let mut tables =
            tables.replace("\n[probes]\n", "\n[probes]\nreactive_trace_events = 1000\n");
        tables = tables.replace(
            "\n[thresholds]\n",
            &format!(
                "\n[thresholds]\nflap_window_secs = {}\n",
                self.flap_window()
            ),
        );
        if self == Timing::Fast {
            for (lab, fast) in [
                ("interval_secs = 5\n", "interval_secs = 2\n"),
                ("recovery_hold_secs = 10\n", "recovery_hold_secs = 3\n"),
            ] {
                assert!(tables.contains(lab), "the lab profile has `{}`", lab.trim());
                tables = tables.replace(lab, fast);
            }
        }
        format!("{head}{tables}")
    }
}

/// Validated ROA payloads in rpki-client's JSON: the lab's ROAs, as its RTR cache
/// serves them to the transit, for its /24 up to /26 and its IPv6 /46 up to /48,
/// naming `asn` (the origin, or the rogue AS of the `rpki-invalid` fault). Both
/// families: the transit drops both, in either order, and watch must see every
/// prefix that goes dark as invalid (with the IPv4 ROA alone, an IPv6 loss seen
/// first read as an IPv6 outage, `partial`).
pub fn write_vrps(path: &Path, asn: u32) {
    let roa = |prefix: &str, max_length: u8| {
        format!(
            "{{\"prefix\": \"{prefix}\", \"maxLength\": {max_length}, \"asn\": \"AS{asn}\", \"ta\": \"lab\"}}"
        )
    };
    let text = format!(
        "{{\"roas\": [{}, {}]}}\n",
        roa("203.0.113.0/24", 26),
        roa("2001:db8:100::/46", 48)
    );
    // Write and rename: watch never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write the VRPs");
    std::fs::rename(&tmp, path).expect("rename the VRPs");
}

// ---- watch -----------------------------------------------------------------------

/// One line of watch's output: an event that started, was revised or ended.
#[derive(Clone, Debug)]
pub struct Update {
    /// When the test read it (seconds since the epoch).
    pub seen: f64,
    pub change: String,
    pub event: Value,
}

impl Update {
    pub fn entity(&self) -> &str {
        self.event["entity"].as_str().unwrap_or("")
    }

    pub fn cause(&self) -> &str {
        self.event["cause"].as_str().unwrap_or("")
    }

    pub fn id(&self) -> &str {
        self.event["id"].as_str().unwrap_or("")
    }

    pub fn brief(&self) -> String {
        format!(
            "{} {} {} ({})",
            self.change,
            self.entity(),
            self.cause(),
            self.event["summary"].as_str().unwrap_or("")
        )
    }
}

/// Prints `updates` in order, each with its time from `fault_at` and what it
/// says that the event's previous update did not: what a phase of a lab run
/// said, to read when it went wrong.
pub fn say_what_watch_said(label: &str, updates: &[Update], fault_at: f64) {
    let mut before: BTreeMap<&str, &Value> = BTreeMap::new();
    let said: Vec<String> = updates
        .iter()
        .map(|u| {
            let news = before
                .insert(u.id(), &u.event)
                .map(|old| what_changed(old, &u.event))
                .unwrap_or_default();
            format!("{:+.2} s {}{news}", u.seen - fault_at, u.brief())
        })
        .collect();
    say(&format!("{label}: watch said {said:#?}"));
}

/// What an update of an event says that its previous one did not: the fields
/// that changed, and the evidence items it did not hold.
fn what_changed(old: &Value, new: &Value) -> String {
    let fields: Vec<&str> = [
        "start",
        "end",
        "cause",
        "severity",
        "confidence",
        "summary",
        "scope",
    ]
    .into_iter()
    .filter(|field| old[*field] != new[*field])
    .collect();
    let held: Vec<&Value> = old["evidence"]
        .as_array()
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let items: Vec<String> = new["evidence"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|item| !held.contains(item))
                .collect::<Vec<_>>()
        })
        .unwrap_or_default()
        .into_iter()
        .map(|item| {
            format!(
                "{} {}",
                item["at"].as_str().unwrap_or(""),
                item["text"].as_str().unwrap_or("")
            )
        })
        .collect();
    format!("; changed {fields:?}, new evidence {items:?}")
}

/// `blackout watch` running in a lab namespace, and what it printed.
pub struct Watch {
    child: Child,
    lines: mpsc::Receiver<(f64, String)>,
    stderr: PathBuf,
    pub updates: Vec<Update>,
    /// The events open now, by id.
    pub open: BTreeMap<String, Update>,
    /// Lines that were not an event update.
    pub garbage: Vec<String>,
}

impl Watch {
    /// Starts `blackout ARGS` (a `watch --format json`) inside namespace `ns`,
    /// its log to `stderr`.
    pub fn spawn(ns: &str, args: &[OsString], stderr: &Path) -> Watch {
        let log = std::fs::File::create(stderr).expect("watch's log file");
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, BIN])
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start blackout watch");
        let stdout = child.stdout.take().expect("watch's stdout");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((now_secs(), line)).is_err() {
                    break;
                }
            }
        });
        Watch {
            child,
            lines,
            stderr: stderr.to_path_buf(),
            updates: Vec::new(),
            open: BTreeMap::new(),
            garbage: Vec::new(),
        }
    }

    /// Takes what watch printed within `wait`; false if watch has exited.
    pub fn pump(&mut self, wait: Duration) -> bool {
        let first = match self.lines.recv_timeout(wait) {
            Ok(line) => Some(line),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => return false,
        };
        let rest: Vec<(f64, String)> = self.lines.try_iter().collect();
        for (seen, line) in first.into_iter().chain(rest) {
            let Ok(value) = serde_json::from_str::<Value>(&line) else {
                self.garbage.push(line);
                continue;
            };
            let update = Update {
                seen,
                change: value["change"].as_str().unwrap_or("").to_string(),
                event: value["event"].clone(),
            };
            if update.change == "ended" {
                self.open.remove(update.id());
            } else {
                self.open.insert(update.id().to_string(), update.clone());
            }
            self.updates.push(update);
        }
        true
    }

    /// Waits up to `limit` for an update, from index `from` on, that `matches`.
    pub fn wait_for(
        &mut self,
        from: usize,
        limit: Duration,
        matches: impl Fn(&Update) -> bool,
    ) -> Option<Update> {
        let until = Instant::now() + limit;
        loop {
            if let Some(found) = self.updates[from..].iter().find(|u| matches(u)) {
                return Some(found.clone());
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() || !self.pump(left.min(Duration::from_millis(200))) {
                return None;
            }
        }
    }

    /// Waits up to `limit` until no event is open; the ones still open if not.
    pub fn wait_quiet(&mut self, limit: Duration) -> Vec<String> {
        let until = Instant::now() + limit;
        while !self.open.is_empty() && Instant::now() < until {
            if !self.pump(Duration::from_millis(200)) {
                break;
            }
        }
        self.open.values().map(Update::brief).collect()
    }

    /// Watches for `span` more, taking what comes.
    pub fn idle(&mut self, span: Duration) {
        let until = Instant::now() + span;
        while Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            if !self.pump(left.min(Duration::from_millis(200))) {
                break;
            }
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGKILL, as a crash would: no clean stop, nothing flushed. Takes what it
    /// printed before.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.pump(Duration::from_millis(200));
    }

    /// SIGTERM; watch must stop cleanly. Returns its log.
    pub fn stop(&mut self) -> Result<String, String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            match self.child.try_wait() {
                Ok(Some(status)) => {
                    self.pump(Duration::from_millis(500));
                    let log = self.log();
                    return if status.success() && log.contains("stopped after") {
                        Ok(log)
                    } else {
                        Err(format!("watch ended with {status} on SIGTERM:\n{log}"))
                    };
                }
                Ok(None) if Instant::now() < until => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                _ => {
                    let _ = self.child.kill();
                    return Err(format!(
                        "watch did not stop within 15 s of SIGTERM:\n{}",
                        self.log()
                    ));
                }
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// `GET PATH` of the API at `api` (an address on the loopback of namespace `ns`),
/// as JSON.
pub fn api_get(ns: &str, api: &str, path: &str) -> Result<Value, String> {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "curl", "-sS", "--max-time", "2"])
        .arg(format!("http://{api}{path}"))
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "{path}: {e}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// Watch has its baseline: its routes (see [`routes_at_baseline`]) and every
/// check of its own answered.
pub fn at_baseline(status: &Value) -> Result<(), String> {
    routes_at_baseline(status)?;
    let probes = status["probes"].as_array().cloned().unwrap_or_default();
    // On each family: 4 hosts' ICMP, 2 HTTP, 1 TCP, 2 name servers, 1 mail server, 2
    // control; and 1 scheduled trace (www, over IPv4).
    if probes.len() < 25 {
        return Err(format!("{} checks have a result", probes.len()));
    }
    match probes.iter().find(|p| p["ok"] != true) {
        Some(bad) => Err(format!("a check fails: {bad}")),
        None => Ok(()),
    }
}

/// The routes are at their baseline: every prefix seen by every full-feed peer
/// via both upstreams, every feed up.
pub fn routes_at_baseline(status: &Value) -> Result<(), String> {
    let prefixes = status["prefixes"].as_array().cloned().unwrap_or_default();
    // The lab's four /26s and four /48s.
    let announced = blackout_lab::Topology::standard().origin_prefixes().len();
    if prefixes.len() != announced {
        return Err(format!("{} prefixes in the status", prefixes.len()));
    }
    for p in &prefixes {
        let ups = &p["upstreams"];
        if p["visibility"].as_f64() != Some(1.0)
            || ups["64501"].as_u64().unwrap_or(0) == 0
            || ups["64502"].as_u64().unwrap_or(0) == 0
        {
            return Err(format!("prefix not at its baseline: {p}"));
        }
    }
    let feeds = status["feeds"].as_array().cloned().unwrap_or_default();
    if feeds.len() != 2 || feeds.iter().any(|f| f["state"] != "up") {
        return Err(format!("feeds: {feeds:?}"));
    }
    Ok(())
}

// ---- the faults ----------------------------------------------------------------------

/// One fault and what watch must say about it.
pub struct Case {
    /// The fault and its arguments, as for `blackout lab fault`.
    pub spec: &'static str,
    /// The entity of the event it must give (a prefix of it, for `service:http:`).
    pub entity: &'static str,
    /// Its cause.
    pub cause: &'static str,
    /// Does BGP see it (a withdrawal or a path change)?
    pub bgp: bool,
}

/// The faults in the order they are run: the ones that withdraw routes are kept
/// apart by probe-only faults, so that their returns never add up to a flap.
pub const CASES: &[Case] = &[
    Case {
        spec: "origin-withdraw",
        entity: "as:64500",
        cause: "internal",
        bgp: true,
    },
    Case {
        spec: "dns-timeout",
        entity: "service:dns:lab.example",
        cause: "service",
        bgp: false,
    },
    Case {
        spec: "dns-servfail",
        entity: "service:dns:lab.example",
        cause: "service",
        bgp: false,
    },
    Case {
        spec: "origin-crash",
        entity: "as:64500",
        cause: "internal",
        bgp: true,
    },
    Case {
        spec: "dns-refused",
        entity: "service:dns:lab.example",
        cause: "service",
        bgp: false,
    },
    Case {
        spec: "dns-down",
        entity: "service:dns:lab.example",
        cause: "service",
        bgp: false,
    },
    Case {
        spec: "power-cut 2",
        entity: "as:64500",
        cause: "partial",
        bgp: true,
    },
    Case {
        spec: "web-5xx",
        entity: "service:http:",
        cause: "service",
        bgp: false,
    },
    Case {
        spec: "web-hang",
        entity: "service:http:",
        cause: "service",
        bgp: false,
    },
    Case {
        spec: "rpki-invalid",
        entity: "as:64500",
        cause: "rpki-invalid",
        bgp: true,
    },
    Case {
        spec: "web-down",
        entity: "service:http:",
        cause: "service",
        bgp: false,
    },
    Case {
        spec: "smtp-4xx",
        // The mail server on either family (its IPv6 address is a target of its own).
        entity: "service:smtp:",
        cause: "service",
        bgp: false,
    },
    Case {
        spec: "primary-cut",
        entity: "upstream:64501",
        cause: "upstream-cut",
        bgp: true,
    },
    Case {
        spec: "hosts-dark 3",
        entity: "as:64500",
        cause: "partial",
        bgp: false,
    },
    Case {
        spec: "backup-cut",
        entity: "upstream:64502",
        cause: "upstream-cut",
        bgp: true,
    },
    Case {
        spec: "ddos 30",
        entity: "as:64500",
        cause: "ddos",
        bgp: false,
    },
    Case {
        spec: "flap 3 1",
        entity: "as:64500",
        cause: "flap",
        bgp: true,
    },
    Case {
        spec: "vantage-cut",
        entity: "vantage:local",
        cause: "vantage",
        bgp: false,
    },
    // One family only: the network still reaches the world over IPv4, so neither
    // is a whole-network outage.
    Case {
        spec: "v6-border-filter",
        entity: "as:64500",
        cause: "data-plane",
        bgp: false,
    },
    Case {
        spec: "v6-withdraw",
        entity: "as:64500",
        cause: "partial",
        bgp: true,
    },
    // The primary drops the IPv6 routes and keeps the IPv4 ones: an upstream-cut
    // of IPv6 alone.
    Case {
        spec: "v6-primary-cut",
        entity: "upstream:64501",
        cause: "upstream-cut",
        bgp: true,
    },
];

/// The faults to run: `cases`, or those the environment variable `var` names
/// (comma-separated, from [`CASES`], repeats allowed).
pub fn selected_cases(var: &str, cases: &[&'static Case]) -> Vec<&'static Case> {
    let Ok(names) = std::env::var(var) else {
        return cases.to_vec();
    };
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| {
            CASES
                .iter()
                .find(|c| c.name() == name)
                .unwrap_or_else(|| panic!("{var}: no fault named {name}"))
        })
        .collect()
}

impl Case {
    pub fn name(&self) -> &str {
        self.spec.split_whitespace().next().unwrap_or(self.spec)
    }

    pub fn fault(&self) -> Fault {
        let mut words = self.spec.split_whitespace();
        let name = words.next().unwrap_or_default();
        let args: Vec<String> = words.map(str::to_string).collect();
        Fault::parse(name, &args).expect("the fault parses")
    }

    pub fn is_mine(&self, update: &Update) -> bool {
        update.entity().starts_with(self.entity) && update.cause() == self.cause
    }

    /// Events that come with the fault besides its own: the same cause on a
    /// sibling entity (both web servers fail); the withdrawals of a flap are an
    /// outage while they last; a stopped web server also refuses its TCP check; a
    /// vantage point cut off loses its feeds. (A ROA that turns the routes invalid
    /// makes each prefix a warning state of the status, not an event.)
    pub fn goes_with(&self, update: &Update) -> bool {
        if self.is_mine(update) {
            return true;
        }
        match self.name() {
            "flap" => update.entity() == "as:64500",
            "web-down" => {
                // www's TCP check, on either family.
                let tcp = [
                    "service:tcp:www.lab.example",
                    "service:tcp:2001:db8:100::11",
                ];
                tcp.contains(&update.entity()) && update.cause() == "service"
            }
            "vantage-cut" => update.cause() == "feed",
            _ => false,
        }
    }
}

/// What one fault gave.
pub struct Figure {
    pub spec: String,
    pub cause: String,
    /// Fault log time to the event printed with the fault's cause, in seconds.
    pub detected: Option<f64>,
    /// Fault log time to the first update of that event, whatever its cause then
    /// (a flap is an outage until its cycles add up), in seconds.
    pub first_said: Option<f64>,
    /// The first BGP evidence of the event (the first withdrawal the feeds saw) to
    /// the event printed.
    pub after_withdrawal: Option<f64>,
    /// The event's start relative to the fault log time.
    pub start: Option<f64>,
    /// Heal (fault log time) to the event's end printed.
    pub ended: Option<f64>,
}

/// The earliest BGP evidence of an event at or after `from` (less a little: the
/// lab logs a fault once it is in place, the withdrawal may be on its way by then).
pub fn first_bgp_evidence(event: &Value, from: f64) -> Option<f64> {
    event["evidence"]
        .as_array()?
        .iter()
        .filter(|e| {
            matches!(
                e["signal"].as_str(),
                Some("bgp.visibility" | "bgp.upstream" | "bgp.origin")
            )
        })
        .filter_map(|e| secs(e["at"].as_str()?))
        .filter(|at| *at >= from - 2.0)
        .reduce(f64::min)
}

/// The strings of a JSON array, as a set.
pub fn texts(list: &Value) -> BTreeSet<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// What is wrong with the event a fault gave, if anything.
pub fn check_event(case: &Case, event: &Value) -> Vec<String> {
    let mut wrong = Vec::new();
    let evidence = event["evidence"].as_array().cloned().unwrap_or_default();
    let signals: Vec<&str> = evidence
        .iter()
        .filter_map(|e| e["signal"].as_str())
        .collect();
    if evidence.is_empty() {
        wrong.push("no evidence".to_string());
    }
    if event["summary"].as_str().unwrap_or("").is_empty() {
        wrong.push("no summary".to_string());
    }
    let upstreams: Vec<u64> = event["scope"]["upstreams"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_u64).collect())
        .unwrap_or_default();
    let needs = |signal: &str| -> Option<String> {
        (!signals.iter().any(|s| s.starts_with(signal)))
            .then(|| format!("no {signal} evidence in {signals:?}"))
    };
    match case.name() {
        "origin-withdraw" | "origin-crash" => {
            wrong.extend(needs("bgp.visibility"));
            if upstreams != [64501, 64502] {
                wrong.push(format!("scope upstreams {upstreams:?}, want both"));
            }
        }
        "primary-cut" | "backup-cut" => {
            wrong.extend(needs("bgp.upstream"));
            let (cut, carrier) = if case.name() == "primary-cut" {
                (64501, 64502)
            } else {
                (64502, 64501)
            };
            if upstreams.first() != Some(&cut) || !upstreams.contains(&carrier) {
                wrong.push(format!(
                    "scope upstreams {upstreams:?}: want AS{cut} cut, AS{carrier} carrying"
                ));
            }
        }
        "power-cut" => {
            wrong.extend(needs("bgp.visibility"));
            // Building 2's /26 and /48.
            let prefixes = &event["scope"]["prefixes"];
            if texts(prefixes) != BTreeSet::from(["2001:db8:101::/48", "203.0.113.64/26"]) {
                wrong.push(format!(
                    "scope prefixes {prefixes}, want 203.0.113.64/26 and 2001:db8:101::/48"
                ));
            }
        }
        "hosts-dark" => {
            wrong.extend(needs("probe.icmp"));
            // ping3 on both families.
            let hosts = &event["scope"]["hosts"];
            if texts(hosts) != BTreeSet::from(["2001:db8:102::130", "ping3.lab.example"]) {
                wrong.push(format!("scope hosts {hosts}"));
            }
        }
        "rpki-invalid" => wrong.extend(needs("bgp.rpki")),
        "flap" => wrong.extend(needs("bgp.visibility")),
        "dns-timeout" | "dns-servfail" | "dns-refused" | "dns-down" => {
            wrong.extend(needs("probe.dns"))
        }
        "web-5xx" | "web-hang" | "web-down" => wrong.extend(needs("probe.http")),
        "smtp-4xx" => wrong.extend(needs("probe.smtp")),
        "v6-withdraw" => {
            wrong.extend(needs("bgp.visibility"));
            wrong.extend(ipv6_only(
                event,
                "IPv6 routes withdrawn; IPv4 still announced",
            ));
            let prefixes = &event["scope"]["prefixes"];
            let v6 = BTreeSet::from([
                "2001:db8:100::/48",
                "2001:db8:101::/48",
                "2001:db8:102::/48",
                "2001:db8:103::/48",
            ]);
            if texts(prefixes) != v6 {
                wrong.push(format!("scope prefixes {prefixes}, want the four /48s"));
            }
        }
        "v6-primary-cut" => {
            wrong.extend(needs("bgp.upstream"));
            wrong.extend(ipv6_only(
                event,
                "no longer carries the IPv6 routes of Lab origin (AS64500); it still carries the IPv4 routes",
            ));
            if upstreams.first() != Some(&64501) || !upstreams.contains(&64502) {
                wrong.push(format!(
                    "scope upstreams {upstreams:?}: want AS64501 cut, AS64502 carrying"
                ));
            }
        }
        "v6-border-filter" => {
            wrong.extend(needs("probe.icmp"));
            wrong.extend(traces_stop_at_the_border(&evidence));
            wrong.extend(ipv6_only(event, "IPv6 dark, IPv4 up"));
            let hosts = &event["scope"]["hosts"];
            let v6 = BTreeSet::from([
                "2001:db8:100::11",
                "2001:db8:101::75",
                "2001:db8:102::130",
                "2001:db8:103::194",
            ]);
            if texts(hosts) != v6 {
                wrong.push(format!("scope hosts {hosts}, want the four IPv6 hosts"));
            }
        }
        "vantage-cut"
            if !evidence.iter().any(|e| {
                e["text"]
                    .as_str()
                    .is_some_and(|t| t.contains("control.example"))
            }) =>
        {
            wrong.push("the evidence does not name the control host".into());
        }
        _ => {}
    }
    wrong
}

/// What is wrong with the reactive traceroutes of an event whose packets die at
/// the origin's border: some `probe.trace` evidence must name one of the origin
/// router's uplink addresses as the last hop that answered (it still answers a
/// probe whose hop limit runs out there: the filter drops forwarded packets only).
pub fn traces_stop_at_the_border(evidence: &[Value]) -> Vec<String> {
    let topology = blackout_lab::Topology::standard();
    let border: Vec<String> = topology
        .links_of(blackout_lab::topology::ns::ORIGIN)
        .iter()
        .filter(|(_, far)| {
            [
                blackout_lab::topology::ns::UP1,
                blackout_lab::topology::ns::UP2,
            ]
            .contains(&far.ns.as_str())
        })
        .flat_map(|(here, _)| here.addrs.iter().map(|a| a.addr().to_string()))
        .collect();
    let traces: Vec<&str> = evidence
        .iter()
        .filter(|e| e["signal"] == "probe.trace")
        .filter_map(|e| e["text"].as_str())
        .collect();
    let named = traces.iter().any(|text| {
        border
            .iter()
            .any(|address| text.contains(&format!("the last hop that did is {address} at hop")))
    });
    if named {
        Vec::new()
    } else {
        vec![format!(
            "no reactive traceroute stops at the origin's border ({border:?}): {traces:?}"
        )]
    }
}

/// What is wrong with an event that must tell an IPv6-only failure: its scope
/// names IPv6 alone, its summary says so in words (`words`), and it is a warning,
/// not the critical of a whole-network outage.
pub fn ipv6_only(event: &Value, words: &str) -> Vec<String> {
    let mut wrong = Vec::new();
    let families = &event["scope"]["families"];
    if texts(families) != BTreeSet::from(["ipv6"]) {
        wrong.push(format!("scope families {families}, want [\"ipv6\"]"));
    }
    let summary = event["summary"].as_str().unwrap_or("");
    if !summary.contains(words) {
        wrong.push(format!("summary {summary:?} does not say {words:?}"));
    }
    if event["severity"] != "warning" {
        wrong.push(format!(
            "severity {}: one family down is not the whole network down",
            event["severity"]
        ));
    }
    wrong
}

/// The lab, taken down however the test ends.
pub struct LabUp(Lab);

impl LabUp {
    /// Takes down what an earlier run left, brings the lab up afresh with its
    /// state in `state_dir`, and writes VRPs to `vrps` that make the origin's
    /// routes valid.
    pub fn start(state_dir: &str, vrps: &Path) -> LabUp {
        let lab = Lab::new(state_dir).with_progress(Box::new(|line| say(&format!("lab: {line}"))));
        lab.down().expect("clean slate");
        let up = LabUp(lab);
        up.0.up().expect("lab up");
        write_vrps(vrps, blackout_lab::topology::ORIGIN_ASN);
        up
    }
}

impl std::ops::Deref for LabUp {
    type Target = Lab;

    fn deref(&self) -> &Lab {
        &self.0
    }
}

impl Drop for LabUp {
    fn drop(&mut self) {
        let _ = self.0.down();
    }
}

/// Can `test` bring the lab up here? Without root it says so on stderr and the test
/// passes, unless `BLACKOUT_LAB_REQUIRED=1`.
pub fn lab_allowed(test: &str) -> bool {
    if blackout_lab::is_root() {
        return true;
    }
    let message = format!(
        "{test}: NOT RUN: needs root (network namespaces, routing daemons); run it as root"
    );
    say(&message);
    assert!(
        std::env::var("BLACKOUT_LAB_REQUIRED").as_deref() != Ok("1"),
        "{message}"
    );
    false
}

/// Waits up to 60 s until watch has the lab's baseline: `status` reads the
/// API's status, `ready` says what is still missing (see [`at_baseline`]).
pub fn wait_for_baseline(
    watch: &mut Watch,
    status: &dyn Fn() -> Result<Value, String>,
    ready: &dyn Fn(&Value) -> Result<(), String>,
) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        watch.pump(Duration::from_millis(500));
        match status().and_then(|s| ready(&s)) {
            Ok(()) => return,
            Err(why) => assert!(
                Instant::now() < until,
                "watch did not reach the lab's baseline within 60 s: {why}\n{}",
                watch.log()
            ),
        }
    }
}

/// Waits for the baseline (see [`wait_for_baseline`]), then lets three probe
/// intervals pass: nothing may be said meanwhile. Returns what was, as problems.
pub fn baseline_then_quiet(
    watch: &mut Watch,
    status: &dyn Fn() -> Result<Value, String>,
    ready: &dyn Fn(&Value) -> Result<(), String>,
    interval: f64,
) -> Vec<String> {
    wait_for_baseline(watch, status, ready);
    watch.idle(Duration::from_secs_f64(3.0 * interval));
    watch
        .updates
        .iter()
        .map(|update| format!("baseline: {}", update.brief()))
        .collect()
}

/// `1.23 s`, or `-` when there is no figure.
pub fn seconds(value: Option<f64>) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.2} s"))
}

/// What one fault gave: its figure, its own event and the problems seen.
pub struct Outcome {
    pub figure: Figure,
    /// Its own event's id and when the test read its start, if it had one.
    pub alerted: Option<(String, f64)>,
    /// The last update of its own event (its end, if it ended).
    pub last: Option<Update>,
    /// Where its updates begin in [`Watch::updates`].
    pub from: usize,
    /// The fault log's time of the injection, in seconds since the epoch.
    pub fault_at: f64,
    pub problems: Vec<String>,
}

/// Runs one fault against a running `watch`: injects it, waits for the event it
/// must give, holds it two probe rounds, heals, and waits until every event has
/// ended; then checks the event ([`check_event`]) and that every other event that
/// started meanwhile goes with the fault ([`Case::goes_with`], or `also`).
/// `status` reads the API's status (the `rpki-invalid` case waits for the VRPs to
/// be read again).
pub fn run_case(
    lab: &Lab,
    watch: &mut Watch,
    case: &Case,
    vrps: &Path,
    timing: Timing,
    status: &dyn Fn() -> Result<Value, String>,
    also: &dyn Fn(&Case, &Update) -> bool,
) -> Outcome {
    let interval = timing.probe_interval();
    let detect_limit = Duration::from_secs_f64((6.0 * interval).max(20.0));
    let quiet_limit = Duration::from_secs_f64(
        30.0 + 4.0 * interval + timing.recovery_hold() + timing.flap_window(),
    );
    let dwell = Duration::from_secs_f64(2.0 * interval + 1.0);
    let origin_asn = blackout_lab::topology::ORIGIN_ASN;
    let rogue_asn = lab.topology().rogue_roa_asn;
    let mut problems: Vec<String> = Vec::new();
    let mut alerted = None;
    let from = watch.updates.len();
    if case.name() == "rpki-invalid" {
        // The ROA changes in the validators' data first: watch, re-reading its
        // VRPs, sees the routes turn invalid while they are still announced.
        write_vrps(vrps, rogue_asn);
        // Each invalid prefix is a warning state of the status, not an event.
        let deadline = Instant::now() + Duration::from_secs(20);
        let invalid = loop {
            let warned = status().is_ok_and(|s| {
                s["prefixes"]
                    .as_array()
                    .is_some_and(|ps| ps.iter().any(|p| !p["rpki_invalid"].is_null()))
            });
            if warned || Instant::now() >= deadline {
                break warned;
            }
            std::thread::sleep(Duration::from_millis(500));
        };
        if !invalid {
            problems.push(
                "rpki-invalid: watch did not re-read --vrps (no prefix turned RPKI-invalid within 20 s)"
                    .into(),
            );
        }
    }
    let fault_at = lab
        .inject(&case.fault())
        .unwrap_or_else(|e| panic!("{}: {e}", case.spec));
    let fault_at = secs(&fault_at).expect("the fault log's time");
    let mine = watch.wait_for(from, detect_limit, |u| {
        u.change != "ended" && case.is_mine(u)
    });
    // The fault lasts a while after it is seen, as an outage does: long enough
    // for every check it touches to fail, and for a verdict to go wrong.
    watch.idle(dwell);
    let heal_at = lab
        .heal(Duration::from_secs(90))
        .unwrap_or_else(|e| panic!("heal after {}: {e}", case.spec));
    let heal_at = secs(&heal_at).expect("the fault log's time");
    if case.name() == "rpki-invalid" {
        write_vrps(vrps, origin_asn);
    }
    if case.name() == "vantage-cut" {
        // A BGP session cut for seconds may still die after the heal: its hold
        // timer (9 s in the lab) runs out while TCP backs off its resends. That
        // feed event belongs to this fault, not to the next one.
        watch.idle(Duration::from_secs(LAB_BGP_HOLD_SECS + 3));
    }
    let problems_before = problems.len();
    let still_open = watch.wait_quiet(quiet_limit);
    if !still_open.is_empty() {
        problems.push(format!(
            "{}: still open {:.0} s after heal: {still_open:?}",
            case.spec,
            quiet_limit.as_secs_f64()
        ));
    }
    let mut figure = Figure {
        spec: case.spec.to_string(),
        cause: case.cause.to_string(),
        detected: None,
        first_said: None,
        after_withdrawal: None,
        start: None,
        ended: None,
    };
    match &mine {
        None => {
            // What watch said instead goes out now, beside the fault's line: the
            // list at the end stays short enough to be read whole in a CI log.
            let seen: Vec<String> = watch.updates[from..].iter().map(Update::brief).collect();
            say(&format!(
                "{}: no {} event; watch said instead: {seen:#?}",
                case.spec, case.cause
            ));
            problems.push(format!(
                "{}: no {} event on {} within {:.0} s ({} other updates, listed with the fault)",
                case.spec,
                case.cause,
                case.entity,
                detect_limit.as_secs_f64(),
                seen.len()
            ));
        }
        Some(update) => {
            // The event may have started under another cause (partial, then ddos).
            let first_seen = watch.updates[from..]
                .iter()
                .find(|u| u.id() == update.id())
                .map_or(update.seen, |u| u.seen);
            alerted = Some((update.id().to_string(), first_seen));
            figure.detected = Some(update.seen - fault_at);
            figure.first_said = Some(first_seen - fault_at);
            figure.start = update.event["start"]
                .as_str()
                .and_then(secs)
                .map(|start| start - fault_at);
            if case.bgp {
                figure.after_withdrawal =
                    first_bgp_evidence(&update.event, fault_at).map(|w| update.seen - w);
            }
            let id = update.id().to_string();
            let last = watch.updates[from..]
                .iter()
                .rev()
                .find(|u| u.id() == id)
                .cloned();
            match last {
                Some(end) if end.change == "ended" => {
                    figure.ended = Some(end.seen - heal_at);
                    for wrong in check_event(case, &end.event) {
                        problems.push(format!("{}: {wrong}", case.spec));
                    }
                    if end.cause() != case.cause {
                        problems.push(format!(
                            "{}: the event ended as {}, not {}",
                            case.spec,
                            end.cause(),
                            case.cause
                        ));
                    }
                }
                _ => problems.push(format!("{}: its event did not end after heal", case.spec)),
            }
        }
    }
    if case.entity == "service:http:" {
        let servers: BTreeSet<&str> = watch.updates[from..]
            .iter()
            .filter(|u| case.is_mine(u))
            .map(Update::entity)
            .collect();
        // Each web server is a target on each family.
        if servers.len() != 4 {
            problems.push(format!(
                "{}: HTTP events for {servers:?}, want both web servers on both families",
                case.spec
            ));
        }
    }
    // Every other event is a wrong verdict, unless it is the fault's own consequence.
    for update in &watch.updates[from..] {
        let own = mine.as_ref().is_some_and(|m| m.id() == update.id());
        if !own && update.change == "started" && !case.goes_with(update) && !also(case, update) {
            let start = update.event["start"]
                .as_str()
                .and_then(secs)
                .map_or("?".to_string(), |s| format!("{:+.2} s", s - fault_at));
            problems.push(format!(
                "{}: also {} (printed {:+.2} s after the fault; its start {start}; heal at {:+.2} s)",
                case.spec,
                update.brief(),
                update.seen - fault_at,
                heal_at - fault_at
            ));
        }
    }
    // BLACKOUT_LAB_VERBOSE=1: for every fault.
    if problems.len() > problems_before || std::env::var_os("BLACKOUT_LAB_VERBOSE").is_some() {
        // What watch said through the fault, in order, beside the fault's line.
        say_what_watch_said(case.spec, &watch.updates[from..], fault_at);
    }
    say(&format!(
        "fault {:<16} {:<13} on {:<30} detected {} after the fault{}; ended {} after heal",
        case.spec,
        case.cause,
        mine.as_ref().map_or(case.entity, |m| m.entity()),
        seconds(figure.detected),
        if case.bgp {
            format!(
                ", {} after the first withdrawal",
                seconds(figure.after_withdrawal)
            )
        } else {
            String::new()
        },
        seconds(figure.ended),
    ));
    let last = mine.as_ref().and_then(|m| {
        watch.updates[from..]
            .iter()
            .rev()
            .find(|u| u.id() == m.id())
            .cloned()
    });
    Outcome {
        figure,
        alerted,
        last,
        from,
        fault_at,
        problems,
    }
}
