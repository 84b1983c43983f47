//! `blackout watch` end to end in the lab (issue 7), as root: bring the lab up,
//! run `watch --format json` inside the vantage namespace with the lab profile, wait
//! for a quiet baseline, then for each of the lab's faults: inject it, wait for the
//! event with the cause that fault must give, on the entity it must name, heal, and
//! wait for every event to end. The event JSON (cause, evidence, upstreams) and the
//! database (`blackout events --db`) are checked; any other event that is not the
//! fault's own consequence (a service "failing" while its prefix is withdrawn, an
//! outage of the target while the vantage point itself is cut off) is a failure too.
//! Every problem is collected and the test fails at the end with the whole list, so
//! one run shows all of them.
//!
//! Each fault's detection latency is printed: from the fault's timestamp in the lab's
//! fault log to the moment watch printed the event, and, for faults that BGP sees,
//! from the first withdrawal the feeds saw (the earliest BGP evidence of the event).
//!
//! Timing: by default the profile is the lab profile with probes every 2 s and a
//! recovery hold of 3 s, so the whole run takes about five minutes. With
//! `BLACKOUT_WATCH_LAB_TIMING=lab` (what `bench/latency.sh` uses) it keeps the lab
//! profile's own probe interval (5 s) and thresholds. Both shorten the flap window
//! (1 h in the lab profile): the returns of separate faults of one run would
//! otherwise add up to a flap, and a flap event would stay open for an hour.
//! With `BLACKOUT_LAB_LATENCY_OUT=FILE` the figures are also written there, one JSON
//! object per fault. `BLACKOUT_WATCH_LAB_FAULTS=ddos,ddos,smtp-4xx` runs only those
//! faults, in that order, repeats included: to chase one fault's rare misreading.
//! `BLACKOUT_LAB_EVENTS_OUT=FILE` writes every update watch printed there, one JSON
//! object per line, with when the test read it.
//!
//! Random loss (issue 14): a second test holds the lab's border at 2 % loss each
//! way for 3 minutes and expects no event at all, while the loss shows in the status
//! and the stored series; a 10-minute variant is ignored by default (see
//! [`watch_under_2_percent_loss_for_10_minutes_opens_no_event`]). Nextest runs the
//! lab tests one at a time (`.config/nextest.toml`): they share the namespaces.
//!
//! Needs root (network namespaces, routing daemons) and the Debian packages the lab
//! installs on first use. Without root it says so on stderr (past the harness's
//! capture) and does not run; with `BLACKOUT_LAB_REQUIRED=1` it fails instead.

use blackout_lab::{Fault, Lab};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

const STATE_DIR: &str = "/run/blackout-lab-watch-test";
const VANTAGE: &str = "bo-vantage";
/// The API, inside the vantage namespace (its own loopback).
const API: &str = "127.0.0.1:8470";
const BIN: &str = env!("CARGO_BIN_EXE_blackout");
/// The lab profile, as shipped.
const LAB_PROFILE: &str = include_str!("../../profile/profiles/lab.toml");
/// The alert receivers, on the vantage namespace's loopback.
const WEBHOOK_PORT: u16 = 8471;
const SMTP_PORT: u16 = 8025;
const WEBHOOK_TOKEN: &str = "lab-watch-token";

/// Where the profile sends alerts: a JSON webhook and a plain SMTP relay, both
/// served by [`RECEIVERS`] inside the vantage namespace.
fn alerts_table() -> String {
    format!(
        "\n[alerts]\nmin_severity = \"warning\"\n\n\
         [[alerts.webhook]]\nurl = \"http://127.0.0.1:{WEBHOOK_PORT}/blackout\"\nkind = \"json\"\n\
         token = \"{WEBHOOK_TOKEN}\"\n\n\
         [alerts.email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {SMTP_PORT}\n\
         from = \"blackout@lab.example\"\nto = [\"noc@lab.example\"]\nstarttls = false\n\n\
         [alerts.retry]\nattempts = 3\nbackoff_ms = 200\ntimeout_ms = 5000\n"
    )
}

/// The alert receivers: `webhook PORT FILE` (an HTTP server that records every
/// POST) or `smtp PORT FILE` (aiosmtpd, recording every message with its plain
/// text decoded). One JSON line per delivery; `ready` on stdout once listening.
const RECEIVERS: &str = r#"
import email, email.policy, json, sys, threading, time

mode, port, out = sys.argv[1], int(sys.argv[2]), sys.argv[3]
lock = threading.Lock()

def record(entry):
    entry["at"] = time.time()
    with lock, open(out, "a") as f:
        f.write(json.dumps(entry) + "\n")

if mode == "webhook":
    import http.server

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            try:
                body = json.loads(body)
            except ValueError:
                body = body.decode("utf-8", "replace")
            record({"path": self.path, "authorization": self.headers.get("Authorization"), "body": body})
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Hook)
    print("ready", flush=True)
    server.serve_forever()
else:
    from aiosmtpd.controller import Controller

    class Mail:
        async def handle_DATA(self, server, session, envelope):
            message = email.message_from_bytes(envelope.content, policy=email.policy.default)
            body = message.get_body(preferencelist=("plain",))
            record({"from": envelope.mail_from, "to": envelope.rcpt_tos,
                    "subject": str(message["subject"]), "text": body.get_content() if body else ""})
            return "250 OK"

    controller = Controller(Mail(), hostname="127.0.0.1", port=port)
    controller.start()
    print("ready", flush=True)
    threading.Event().wait()
"#;

fn say(line: &str) {
    // Straight to the process's stderr: the harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "{line}");
}

// ---- time ----------------------------------------------------------------------

/// Seconds since the Unix epoch, now.
fn now_secs() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

/// Seconds since the Unix epoch of an RFC 3339 time.
fn secs(rfc3339: &str) -> Option<f64> {
    let at: jiff::Timestamp = rfc3339.parse().ok()?;
    Some(at.as_nanosecond() as f64 / 1e9)
}

// ---- the profile -----------------------------------------------------------------

/// The hold time of the lab's BGP sessions (the lab's BIRD configuration).
const LAB_BGP_HOLD_SECS: u64 = 9;

/// How fast the watched profile probes and settles.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Timing {
    /// Probes every 2 s, recovery hold 3 s: the test suite's setting.
    Fast,
    /// The lab profile's own: probes every 5 s, recovery hold 10 s.
    Lab,
}

impl Timing {
    fn from_env() -> Timing {
        match std::env::var("BLACKOUT_WATCH_LAB_TIMING").as_deref() {
            Ok("lab") => Timing::Lab,
            _ => Timing::Fast,
        }
    }

    fn probe_interval(self) -> f64 {
        match self {
            Timing::Fast => 2.0,
            Timing::Lab => 5.0,
        }
    }

    fn recovery_hold(self) -> f64 {
        match self {
            Timing::Fast => 3.0,
            Timing::Lab => 10.0,
        }
    }

    fn flap_window(self) -> f64 {
        match self {
            Timing::Fast => 12.0,
            Timing::Lab => 30.0,
        }
    }

    /// The lab profile with this timing's probe interval and recovery hold, the
    /// shorter flap window, and every event's targets traced (a run opens about
    /// twenty events within minutes, past the default budget of 6 per 10
    /// minutes); every other setting is the lab profile's own.
    fn profile(self) -> String {
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

/// Validated ROA payloads in rpki-client's JSON: the lab's ROA for its /24 up to
/// /26, naming `asn` (the origin, or the rogue AS of the `rpki-invalid` fault).
fn write_vrps(path: &Path, asn: u32) {
    let text = format!(
        "{{\"roas\": [{{\"prefix\": \"203.0.113.0/24\", \"maxLength\": 26, \"asn\": \"AS{asn}\", \"ta\": \"lab\"}}]}}\n"
    );
    // Write and rename: watch never reads half a file.
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, text).expect("write the VRPs");
    std::fs::rename(&tmp, path).expect("rename the VRPs");
}

// ---- watch -----------------------------------------------------------------------

/// One line of watch's output: an event that started, was revised or ended.
#[derive(Clone, Debug)]
struct Update {
    /// When the test read it (seconds since the epoch).
    seen: f64,
    change: String,
    event: Value,
}

impl Update {
    fn entity(&self) -> &str {
        self.event["entity"].as_str().unwrap_or("")
    }

    fn cause(&self) -> &str {
        self.event["cause"].as_str().unwrap_or("")
    }

    fn id(&self) -> &str {
        self.event["id"].as_str().unwrap_or("")
    }

    fn brief(&self) -> String {
        format!(
            "{} {} {} ({})",
            self.change,
            self.entity(),
            self.cause(),
            self.event["summary"].as_str().unwrap_or("")
        )
    }
}

/// `blackout watch` running in the vantage namespace, and what it printed.
struct Watch {
    child: Child,
    lines: mpsc::Receiver<(f64, String)>,
    stderr: PathBuf,
    updates: Vec<Update>,
    /// The events open now, by id.
    open: BTreeMap<String, Update>,
    /// Lines that were not an event update.
    garbage: Vec<String>,
}

impl Watch {
    fn start(profile: &Path, db: &Path, vrps: &Path, stderr: &Path) -> Watch {
        let log = std::fs::File::create(stderr).expect("watch's log file");
        let mut child = Command::new("ip")
            .args(["netns", "exec", VANTAGE, BIN, "watch", "--config"])
            .arg(profile)
            .arg("--db")
            .arg(db)
            .arg("--vrps")
            .arg(vrps)
            .args(["--listen", API, "--format", "json"])
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
    fn pump(&mut self, wait: Duration) -> bool {
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
    fn wait_for(
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
    fn wait_quiet(&mut self, limit: Duration) -> Vec<String> {
        let until = Instant::now() + limit;
        while !self.open.is_empty() && Instant::now() < until {
            if !self.pump(Duration::from_millis(200)) {
                break;
            }
        }
        self.open.values().map(Update::brief).collect()
    }

    /// Watches for `span` more, taking what comes.
    fn idle(&mut self, span: Duration) {
        let until = Instant::now() + span;
        while Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            if !self.pump(left.min(Duration::from_millis(200))) {
                break;
            }
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.stderr).unwrap_or_default()
    }

    /// SIGTERM; watch must stop cleanly. Returns its log.
    fn stop(&mut self) -> Result<String, String> {
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

/// The API's status, from inside the vantage namespace.
fn status() -> Result<Value, String> {
    let out = Command::new("ip")
        .args(["netns", "exec", VANTAGE, "curl", "-sS", "--max-time", "2"])
        .arg(format!("http://{API}/api/v1/status"))
        .output()
        .map_err(|e| format!("curl: {e}"))?;
    serde_json::from_slice(&out.stdout).map_err(|e| {
        format!(
            "status: {e}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )
    })
}

/// Watch has its baseline: every prefix seen by every full-feed peer via both
/// upstreams, every feed up, every check answered.
fn at_baseline(status: &Value) -> Result<(), String> {
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

// ---- receivers for alerts ------------------------------------------------------------

/// A process this test started inside the vantage namespace, ended when dropped.
struct Receiver(Child);

impl Receiver {
    /// Starts [`RECEIVERS`] in `mode` on `port`, recording to `out`, and waits
    /// until it listens.
    fn start(script: &Path, mode: &str, port: u16, out: &Path) -> Receiver {
        let log_path = out.with_extension("log");
        let log = std::fs::File::create(&log_path).expect("receiver log");
        let child = Command::new("ip")
            .args(["netns", "exec", VANTAGE, "/usr/bin/python3"])
            .arg(script)
            .arg(mode)
            .arg(port.to_string())
            .arg(out)
            .stdin(Stdio::null())
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .expect("start a receiver in the vantage namespace");
        let mut receiver = Receiver(child);
        let until = Instant::now() + Duration::from_secs(15);
        loop {
            let said = std::fs::read_to_string(&log_path).unwrap_or_default();
            if said.contains("ready") {
                return receiver;
            }
            let gone = matches!(receiver.0.try_wait(), Ok(Some(_)));
            assert!(
                !gone && Instant::now() < until,
                "the {mode} receiver did not start: {said}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// What it has recorded so far.
    fn deliveries(out: &Path) -> Vec<Value> {
        std::fs::read_to_string(out)
            .unwrap_or_default()
            .lines()
            .filter_map(|l| serde_json::from_str(l).ok())
            .collect()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

// ---- the faults ----------------------------------------------------------------------

/// One fault and what watch must say about it.
struct Case {
    /// The fault and its arguments, as for `blackout lab fault`.
    spec: &'static str,
    /// The entity of the event it must give (a prefix of it, for `service:http:`).
    entity: &'static str,
    /// Its cause.
    cause: &'static str,
    /// Does BGP see it (a withdrawal or a path change)?
    bgp: bool,
}

/// The faults in the order they are run: the ones that withdraw routes are kept
/// apart by probe-only faults, so that their returns never add up to a flap.
const CASES: &[Case] = &[
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

/// The faults to run: every case, or those `BLACKOUT_WATCH_LAB_FAULTS` names.
fn selected_cases() -> Vec<&'static Case> {
    let Ok(names) = std::env::var("BLACKOUT_WATCH_LAB_FAULTS") else {
        return CASES.iter().collect();
    };
    names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(|name| {
            CASES
                .iter()
                .find(|c| c.name() == name)
                .unwrap_or_else(|| panic!("BLACKOUT_WATCH_LAB_FAULTS: no fault named {name}"))
        })
        .collect()
}

impl Case {
    fn name(&self) -> &str {
        self.spec.split_whitespace().next().unwrap_or(self.spec)
    }

    fn fault(&self) -> Fault {
        let mut words = self.spec.split_whitespace();
        let name = words.next().unwrap_or_default();
        let args: Vec<String> = words.map(str::to_string).collect();
        Fault::parse(name, &args).expect("the fault parses")
    }

    fn is_mine(&self, update: &Update) -> bool {
        update.entity().starts_with(self.entity) && update.cause() == self.cause
    }

    /// Events that come with the fault besides its own: the same cause on a
    /// sibling entity (both web servers fail); the withdrawals of a flap are an
    /// outage while they last; a stopped web server also refuses its TCP check; a
    /// vantage point cut off loses its feeds. (A ROA that turns the routes invalid
    /// makes each prefix a warning state of the status, not an event.)
    fn goes_with(&self, update: &Update) -> bool {
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
struct Figure {
    spec: String,
    cause: String,
    /// Fault log time to the event printed, in seconds.
    detected: Option<f64>,
    /// The first BGP evidence of the event (the first withdrawal the feeds saw) to
    /// the event printed.
    after_withdrawal: Option<f64>,
    /// The event's start relative to the fault log time.
    start: Option<f64>,
    /// Heal (fault log time) to the event's end printed.
    ended: Option<f64>,
}

/// The earliest BGP evidence of an event at or after `from` (less a little: the
/// lab logs a fault once it is in place, the withdrawal may be on its way by then).
fn first_bgp_evidence(event: &Value, from: f64) -> Option<f64> {
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
fn texts(list: &Value) -> BTreeSet<&str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// What is wrong with the event a fault gave, if anything.
fn check_event(case: &Case, event: &Value) -> Vec<String> {
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
fn traces_stop_at_the_border(evidence: &[Value]) -> Vec<String> {
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
fn ipv6_only(event: &Value, words: &str) -> Vec<String> {
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
struct LabUp(Lab);

impl LabUp {
    /// Takes down what an earlier run left, brings the lab up afresh, and writes
    /// VRPs to `vrps` that make the origin's routes valid.
    fn start(vrps: &Path) -> LabUp {
        let lab = Lab::new(STATE_DIR).with_progress(Box::new(|line| say(&format!("lab: {line}"))));
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
fn lab_allowed(test: &str) -> bool {
    if blackout_lab::is_root() {
        return true;
    }
    let message = format!(
        "{test}: NOT RUN: needs root (network namespaces, routing daemons); run `cargo test \
         -p blackout --test watch_lab` as root"
    );
    say(&message);
    assert!(
        std::env::var("BLACKOUT_LAB_REQUIRED").as_deref() != Ok("1"),
        "{message}"
    );
    false
}

/// Waits up to 60 s until watch has the lab's baseline (see [`at_baseline`]).
fn wait_for_baseline(watch: &mut Watch) {
    let until = Instant::now() + Duration::from_secs(60);
    loop {
        watch.pump(Duration::from_millis(500));
        match status().and_then(|s| at_baseline(&s)) {
            Ok(()) => return,
            Err(why) => assert!(
                Instant::now() < until,
                "watch did not reach the lab's baseline within 60 s: {why}\n{}",
                watch.log()
            ),
        }
    }
}

#[test]
fn watch_in_the_lab_names_each_fault_and_its_recovery() {
    if !lab_allowed("watch_in_the_lab_names_each_fault_and_its_recovery") {
        return;
    }
    let timing = Timing::from_env();
    let interval = timing.probe_interval();
    let run_started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = dir.path().join("lab-watch.toml");
    std::fs::write(&profile, timing.profile() + &alerts_table()).expect("write the profile");
    let script = dir.path().join("receivers.py");
    std::fs::write(&script, RECEIVERS).expect("write the receivers");
    let hooks = dir.path().join("webhook.jsonl");
    let mails = dir.path().join("mail.jsonl");
    let vrps = dir.path().join("vrps.json");
    let db = dir.path().join("blackout.db");

    let lab = LabUp::start(&vrps);
    let origin_asn = blackout_lab::topology::ORIGIN_ASN;
    let rogue_asn = lab.topology().rogue_roa_asn;

    let mut problems: Vec<String> = Vec::new();
    let _webhook = Receiver::start(&script, "webhook", WEBHOOK_PORT, &hooks);
    let _smtp = Receiver::start(&script, "smtp", SMTP_PORT, &mails);
    let mut watch = Watch::start(&profile, &db, &vrps, &dir.path().join("watch.log"));

    // ---- baseline: everything seen, then a quiet spell ----
    wait_for_baseline(&mut watch);
    watch.idle(Duration::from_secs_f64(3.0 * interval));
    for update in &watch.updates {
        problems.push(format!("baseline: {}", update.brief()));
    }
    say(&format!(
        "watch at its baseline {:.1} s after the start ({timing:?} timing)",
        run_started.elapsed().as_secs_f64()
    ));

    // ---- the faults ----
    let detect_limit = Duration::from_secs_f64((6.0 * interval).max(20.0));
    let quiet_limit = Duration::from_secs_f64(
        30.0 + 4.0 * interval + timing.recovery_hold() + timing.flap_window(),
    );
    let dwell = Duration::from_secs_f64(2.0 * interval + 1.0);
    let mut figures: Vec<Figure> = Vec::new();
    // Each fault's own event: (fault, event id, when watch printed its start).
    let mut alerted: Vec<(&str, String, f64)> = Vec::new();
    let cases = selected_cases();
    for &case in &cases {
        let from = watch.updates.len();
        if case.name() == "rpki-invalid" {
            // The ROA changes in the validators' data first: watch, re-reading its
            // VRPs, sees the routes turn invalid while they are still announced.
            write_vrps(&vrps, rogue_asn);
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
            write_vrps(&vrps, origin_asn);
        }
        if case.name() == "vantage-cut" {
            // A BGP session cut for seconds may still die after the heal: its hold
            // timer (9 s in the lab) runs out while TCP backs off its resends. That
            // feed event belongs to this fault, not to the next one.
            watch.idle(Duration::from_secs(LAB_BGP_HOLD_SECS + 3));
        }
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
            after_withdrawal: None,
            start: None,
            ended: None,
        };
        match &mine {
            None => {
                let seen: Vec<String> = watch.updates[from..].iter().map(Update::brief).collect();
                problems.push(format!(
                    "{}: no {} event on {} within {:.0} s; watch said: {seen:#?}",
                    case.spec,
                    case.cause,
                    case.entity,
                    detect_limit.as_secs_f64()
                ));
            }
            Some(update) => {
                // The event may have started under another cause (partial, then ddos).
                let first_seen = watch.updates[from..]
                    .iter()
                    .find(|u| u.id() == update.id())
                    .map_or(update.seen, |u| u.seen);
                alerted.push((case.spec, update.id().to_string(), first_seen));
                figure.detected = Some(update.seen - fault_at);
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
            if !own && update.change == "started" && !case.goes_with(update) {
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
        figures.push(figure);
    }

    // ---- alerts: every fault's event reached the webhook and the mailbox ----
    let until = Instant::now() + Duration::from_secs(30);
    let (hooked, mailed, missing) = loop {
        let hooked = Receiver::deliveries(&hooks);
        let mailed = Receiver::deliveries(&mails);
        let mut missing = Vec::new();
        for (spec, id, _) in &alerted {
            for kind in ["started", "ended"] {
                if !hooked
                    .iter()
                    .any(|h| h["body"]["alert"] == kind && h["body"]["event"]["id"] == id.as_str())
                {
                    missing.push(format!("{spec}: no `{kind}` webhook for {id}"));
                }
            }
            let marker = format!("Event id: {id}");
            let mails = mailed
                .iter()
                .filter(|m| m["text"].as_str().is_some_and(|t| t.contains(&marker)))
                .count();
            if mails < 2 {
                missing.push(format!(
                    "{spec}: {mails} emails name {id}; want its start and its end"
                ));
            }
        }
        if missing.is_empty() || Instant::now() > until {
            break (hooked, mailed, missing);
        }
        watch.pump(Duration::from_millis(500));
    };
    problems.extend(missing);
    let bearer = format!("Bearer {WEBHOOK_TOKEN}");
    if let Some(bad) = hooked
        .iter()
        .find(|h| h["authorization"] != bearer.as_str())
    {
        problems.push(format!(
            "a webhook without the token: {}",
            bad["authorization"]
        ));
    }
    if hooked.len() != mailed.len() {
        problems.push(format!(
            "{} webhooks but {} emails: every alert goes to both",
            hooked.len(),
            mailed.len()
        ));
    }
    if let Some(bad) = mailed.iter().find(|m| {
        !m["subject"]
            .as_str()
            .is_some_and(|s| s.starts_with("[blackout]"))
            || m["to"][0] != "noc@lab.example"
    }) {
        problems.push(format!(
            "an email that is not blackout's alert to noc@lab.example: {bad}"
        ));
    }
    // How long an alert took: from watch printing the start to the webhook's receipt.
    let mut delays: Vec<f64> = alerted
        .iter()
        .filter_map(|(_, id, seen)| {
            hooked
                .iter()
                .find(|h| {
                    h["body"]["alert"] == "started" && h["body"]["event"]["id"] == id.as_str()
                })
                .and_then(|h| h["at"].as_f64())
                .map(|at| at - seen)
        })
        .collect();
    delays.sort_by(f64::total_cmp);

    // ---- stop, then the database ----
    if let Err(why) = watch.stop() {
        problems.push(why);
    }
    if !watch.garbage.is_empty() {
        problems.push(format!(
            "lines that are not event updates: {:?}",
            watch.garbage
        ));
    }
    let listed = Command::new(BIN)
        .args(["events", "--format", "json", "--db"])
        .arg(&db)
        .output()
        .expect("blackout events");
    assert!(listed.status.success(), "blackout events failed");
    let stored: BTreeMap<String, Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .map(|e| (e["id"].as_str().unwrap_or("").to_string(), e))
        .collect();
    let mut last_word: BTreeMap<String, &Update> = BTreeMap::new();
    for update in &watch.updates {
        last_word.insert(update.id().to_string(), update);
    }
    for (id, update) in &last_word {
        match stored.get(id) {
            None => problems.push(format!("database: no event {id} ({})", update.brief())),
            Some(event) => {
                if event["cause"] != update.event["cause"] || event["end"] != update.event["end"] {
                    problems.push(format!(
                        "database: event {id} is {} ending {}; watch printed {} ending {}",
                        event["cause"], event["end"], update.event["cause"], update.event["end"]
                    ));
                }
            }
        }
    }
    if stored.len() != last_word.len() {
        problems.push(format!(
            "database: {} events, watch printed {}",
            stored.len(),
            last_word.len()
        ));
    }

    // ---- figures ----
    say("");
    say(&format!(
        "watch in the lab: detection latency ({timing:?} timing: probes every {interval} s)"
    ));
    say(
        "  fault            cause         detected  after 1st withdrawal  event start  ended after heal",
    );
    for f in &figures {
        say(&format!(
            "  {:<16} {:<13} {:>8}  {:>20}  {:>11}  {:>16}",
            f.spec,
            f.cause,
            seconds(f.detected),
            seconds(f.after_withdrawal),
            seconds(f.start),
            seconds(f.ended)
        ));
    }
    if let (Some(first), Some(last)) = (delays.first(), delays.last()) {
        say(&format!(
            "  alerts: {} webhooks and {} emails; a start reached the webhook {:.0}-{:.0} ms after watch printed it",
            hooked.len(),
            mailed.len(),
            first * 1000.0,
            last * 1000.0
        ));
    }
    say(&format!(
        "  whole run {:.0} s",
        run_started.elapsed().as_secs_f64()
    ));
    if let Ok(path) = std::env::var("BLACKOUT_LAB_EVENTS_OUT") {
        // Every update watch printed, with when the test read it: to read a run
        // after the fact.
        let lines: Vec<String> = watch
            .updates
            .iter()
            .map(|u| {
                serde_json::json!({ "seen": u.seen, "change": u.change, "event": u.event })
                    .to_string()
            })
            .collect();
        std::fs::write(&path, lines.join("\n") + "\n").expect("write the updates");
    }
    if let Ok(path) = std::env::var("BLACKOUT_LAB_LATENCY_OUT") {
        // Tab-separated, `-` for a figure that is missing: bench/latency.sh reads it.
        let mut out = String::from(
            "fault\tcause\tbgp\tprobe_interval\tdetected\tafter_withdrawal\tstart\tended_after_heal\n",
        );
        for (f, case) in figures.iter().zip(&cases) {
            let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
            out.push_str(&format!(
                "{}\t{}\t{}\t{interval}\t{}\t{}\t{}\t{}\n",
                f.spec,
                f.cause,
                case.bgp,
                cell(f.detected),
                cell(f.after_withdrawal),
                cell(f.start),
                cell(f.ended)
            ));
        }
        std::fs::write(&path, out).expect("write the latency figures");
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

/// `1.23 s`, or `-` when there is no figure.
fn seconds(value: Option<f64>) -> String {
    value.map_or("-".to_string(), |v| format!("{v:.2} s"))
}

// ---- random loss (issue 14) -------------------------------------------------------

/// The share of packets the lab's border drops, each way, in the loss runs.
const LOSS_PERCENT: u8 = 2;

/// `blackout watch` under random loss (issue 14): the origin's border drops 2 % of
/// the packets it forwards over its uplinks, each way, for three minutes, while watch
/// probes every check kind of the lab profile (every 2 s). That is no outage: watch
/// must open no event at all, while the loss shows in the status (some check's
/// loss above 0) and in the stored `probe.*.loss` series. Needs root, as the other
/// lab test; its 10-minute variant below is opt-in.
#[test]
fn watch_under_2_percent_loss_for_3_minutes_opens_no_event() {
    watch_under_loss(
        "watch_under_2_percent_loss_for_3_minutes_opens_no_event",
        Duration::from_secs(180),
    );
}

/// The same for 10 minutes, as the issue's test plan has it. Ignored by default (it
/// holds the lab for 11 minutes); run it as root with
/// `flock /tmp/blackout-lab.lock cargo nextest run -p blackout --test watch_lab
/// --run-ignored ignored-only` (or `cargo test -p blackout --test watch_lab --
/// --ignored`).
#[test]
#[ignore = "10 minutes in the lab: run with --run-ignored ignored-only, as root"]
fn watch_under_2_percent_loss_for_10_minutes_opens_no_event() {
    watch_under_loss(
        "watch_under_2_percent_loss_for_10_minutes_opens_no_event",
        Duration::from_secs(600),
    );
}

/// Brings the lab up, starts watch, waits for its baseline, then injects
/// `loss 2` for `span` and fails on any event watch opens meanwhile (or within
/// two probe rounds of the heal), or when the loss shows neither in the status nor
/// in the stored series.
fn watch_under_loss(test: &str, span: Duration) {
    if !lab_allowed(test) {
        return;
    }
    let timing = Timing::from_env();
    let interval = timing.probe_interval();
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = dir.path().join("lab-watch.toml");
    std::fs::write(&profile, timing.profile()).expect("write the profile");
    let vrps = dir.path().join("vrps.json");
    let db = dir.path().join("blackout.db");

    let lab = LabUp::start(&vrps);
    let mut watch = Watch::start(&profile, &db, &vrps, &dir.path().join("watch.log"));
    wait_for_baseline(&mut watch);
    watch.idle(Duration::from_secs_f64(3.0 * interval));
    let mut problems: Vec<String> = watch
        .updates
        .iter()
        .map(|u| format!("baseline: {}", u.brief()))
        .collect();

    let from = watch.updates.len();
    let fault = Fault::Loss {
        percent: LOSS_PERCENT,
    };
    let fault_at = lab.inject(&fault).expect("inject the loss");
    let fault_at = secs(&fault_at).expect("the fault log's time");
    // The status, every few seconds: the worst loss any check showed.
    let until = Instant::now() + span;
    let mut status_reads = 0;
    let mut worst_loss: f64 = 0.0;
    while Instant::now() < until {
        watch.idle(Duration::from_secs(5).min(until.saturating_duration_since(Instant::now())));
        if let Ok(status) = status() {
            status_reads += 1;
            for probe in status["probes"].as_array().into_iter().flatten() {
                let loss = probe["loss"].as_f64().unwrap_or(0.0);
                worst_loss = worst_loss.max(loss);
            }
        }
    }
    let heal_at = lab.heal(Duration::from_secs(90)).expect("heal");
    let heal_at = secs(&heal_at).expect("the fault log's time");
    watch.idle(Duration::from_secs_f64(2.0 * interval + 1.0));
    for update in &watch.updates[from..] {
        problems.push(format!(
            "{}% loss: {} (printed {:+.1} s after the fault; heal at {:+.1} s)",
            LOSS_PERCENT,
            update.brief(),
            update.seen - fault_at,
            heal_at - fault_at
        ));
    }
    if worst_loss <= 0.0 {
        problems.push(format!(
            "the status showed no check with loss in {status_reads} reads over {} s",
            span.as_secs()
        ));
    }
    if let Err(why) = watch.stop() {
        problems.push(why);
    }

    // The stored loss series over the fault: some loss, and not an outage's worth.
    let store = blackout_store::Store::open_read_only(db.as_path()).expect("open the database");
    let (from_ts, until_ts) = (
        blackout_model::Timestamp::from_secs(fault_at as i64),
        blackout_model::Timestamp::from_secs(heal_at as i64),
    );
    let mut points = 0usize;
    let mut lossy = 0usize;
    let mut total = 0.0;
    for key in store.series().expect("the series") {
        if !matches!(key.measure, blackout_model::Measure::ProbeLoss(_)) {
            continue;
        }
        for point in store
            .signals(&key, from_ts, until_ts)
            .expect("a loss series")
        {
            points += 1;
            total += point.value;
            if point.value > 0.0 {
                lossy += 1;
            }
        }
    }
    let mean = if points == 0 {
        0.0
    } else {
        total / points as f64
    };
    if lossy == 0 {
        problems.push(format!(
            "no stored loss point above 0 among {points} over the fault"
        ));
    }
    if mean > 0.2 {
        problems.push(format!(
            "the stored loss averages {:.1} % over the fault, far above {LOSS_PERCENT} % each way",
            mean * 100.0
        ));
    }
    say(&format!(
        "{LOSS_PERCENT} % loss for {} s: {} events; worst loss in the status {:.0} %; \
         stored loss points {points}, {lossy} above 0, mean {:.2} %",
        span.as_secs(),
        watch.updates.len() - from,
        worst_loss * 100.0,
        mean * 100.0
    ));
    assert!(
        problems.is_empty(),
        "{} problems:\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}
