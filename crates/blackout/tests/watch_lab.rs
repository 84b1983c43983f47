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

mod lab_harness;

use blackout_lab::Fault;
use lab_harness::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const STATE_DIR: &str = "/run/blackout-lab-watch-test";
const VANTAGE: &str = "bo-vantage";
/// The API, inside the vantage namespace (its own loopback).
const API: &str = "127.0.0.1:8470";
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

/// `blackout watch` in the vantage namespace with the lab's profile, feeds and
/// probes, its API on the namespace's loopback.
fn start_watch(profile: &Path, db: &Path, vrps: &Path, stderr: &Path) -> Watch {
    let mut args: Vec<OsString> = vec!["watch".into(), "--config".into(), profile.into()];
    args.extend(["--db".into(), db.into(), "--vrps".into(), vrps.into()]);
    args.extend(["--listen", API, "--format", "json"].map(OsString::from));
    Watch::spawn(VANTAGE, &args, stderr)
}

/// The API's status, from inside the vantage namespace.
fn status() -> Result<Value, String> {
    api_get(VANTAGE, API, "/api/v1/status")
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

    let lab = LabUp::start(STATE_DIR, &vrps);

    let _webhook = Receiver::start(&script, "webhook", WEBHOOK_PORT, &hooks);
    let _smtp = Receiver::start(&script, "smtp", SMTP_PORT, &mails);
    let mut watch = start_watch(&profile, &db, &vrps, &dir.path().join("watch.log"));

    // ---- baseline: everything seen, then a quiet spell ----
    let mut problems = baseline_then_quiet(&mut watch, &status, &at_baseline, interval);
    say(&format!(
        "watch at its baseline {:.1} s after the start ({timing:?} timing)",
        run_started.elapsed().as_secs_f64()
    ));

    // ---- the faults ----
    let mut figures: Vec<Figure> = Vec::new();
    // Each fault's own event: (fault, event id, when watch printed its start).
    let mut alerted: Vec<(&str, String, f64)> = Vec::new();
    let cases = selected_cases(
        "BLACKOUT_WATCH_LAB_FAULTS",
        &CASES.iter().collect::<Vec<_>>(),
    );
    for &case in &cases {
        let outcome = run_case(&lab, &mut watch, case, &vrps, timing, &status, &|_, _| {
            false
        });
        if let Some((id, seen)) = outcome.alerted {
            alerted.push((case.spec, id, seen));
        }
        problems.extend(outcome.problems);
        figures.push(outcome.figure);
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

    let lab = LabUp::start(STATE_DIR, &vrps);
    let mut watch = start_watch(&profile, &db, &vrps, &dir.path().join("watch.log"));
    wait_for_baseline(&mut watch, &status, &at_baseline);
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
