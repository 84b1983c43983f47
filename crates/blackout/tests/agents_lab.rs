//! Many vantage points end to end in the lab (issue 15), as root: the lab up, a
//! real nats-server with JetStream in the central's namespace (`bo-central`,
//! listening on its management address only), one `blackout agent` in each of
//! the three vantage namespaces publishing to it over the management network,
//! and the central `blackout watch --nats ... --no-probes` judging their results.
//!
//! The central runs in the namespace where the lab's BGP feeds arrive
//! (`bo-vantage`: the transit's BMP station and BGP session point there; feeds
//! relayed by an agent have their own test, `relayed_feeds_lab`), with probes off: every probe result it judges
//! comes through the broker. It reaches the broker over the management network,
//! as the agents do.
//!
//! The run, in order:
//! - baseline: every vantage point is up in `/api/v1/status` (a row each), every
//!   check answers, and no event opens;
//! - `vantage-path-cut vp-backup`: a `vantage:vp-backup` event and no other; it
//!   ends after the heal;
//! - the lab's faults (all but one, see [`LEFT_OUT`];
//!   `BLACKOUT_AGENTS_LAB_FAULTS=a,b,...` picks others, `all` every one but
//!   `vantage-cut`): each gives the cause it gives in `watch_lab`, with no
//!   vantage point's event beside it, and where every vantage point's probes see
//!   it fail, the event's evidence says what each of the three saw;
//! - the broker killed (SIGKILL) and restarted while an event is open: the event
//!   stays the same and ends after the heal; once the agents stop, the stream
//!   holds exactly as many results as they produced (none lost, none twice) and
//!   the central's durable consumer has none pending;
//! - the central killed (SIGKILL) while an event is open and started again on the
//!   same database and durable consumer: it takes up the same event (same id) and
//!   ends it after the heal; the database has one row for it.
//!
//! Each fault's time to the event at the central is printed, in seconds and in
//! probe intervals (the target: within 2). It probes every 2 s;
//! `BLACKOUT_WATCH_LAB_TIMING=lab` runs it at the lab profile's own timing (every
//! 5 s, as `watch_lab` does with the same variable). Nextest runs it in the `lab` group, one
//! lab test at a time; by hand: `flock /tmp/blackout-lab.lock cargo test -p
//! blackout --test agents_lab`. Without root it says so and does not run.

mod lab_harness;

use blackout_lab::Topology;
use blackout_lab::topology::{ns, vantage};
use lab_harness::processes::{Broker, CENTRAL_API, Started, jsz, nats_allowed, start_central};
use lab_harness::*;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const STATE_DIR: &str = "/run/blackout-lab-agents-test";
/// Where the central `watch` runs: where the feeds arrive.
const CENTRAL_NS: &str = ns::VANTAGE;
/// The central's durable consumer.
const DURABLE: &str = "lab-central";
/// The vantage points, as the lab names them.
const VANTAGES: [&str; 3] = [vantage::TRANSIT, vantage::PRIMARY, vantage::BACKUP];

/// The faults not run by default: a vantage point's own cut is the path cut's
/// part, with the agents.
const LEFT_OUT: &[&str] = &["vantage-cut"];

/// The stream's message count and the central's consumer's pending counts:
/// (messages, last sequence, pending, waiting for an ack).
/// The central's consumer as the broker's monitor shows it (delivered, ack
/// floor, redelivered), for the log.
fn consumer_detail() -> String {
    let jsz = jsz().unwrap_or_default();
    let found = jsz["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
        .flat_map(|s| s["consumer_detail"].as_array().into_iter().flatten())
        .find(|c| c["name"] == DURABLE)
        .map(|c| {
            serde_json::json!({
                "delivered": c["delivered"]["stream_seq"],
                "ack_floor": c["ack_floor"]["stream_seq"],
                "num_ack_pending": c["num_ack_pending"],
                "num_redelivered": c["num_redelivered"],
            })
        });
    found.map_or_else(|| "not found".to_string(), |c| c.to_string())
}

fn stream_state() -> Result<(u64, u64, u64, u64), String> {
    let jsz = jsz()?;
    let stream = jsz["account_details"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|a| a["stream_detail"].as_array().into_iter().flatten())
        .find(|s| s["name"] == "BLACKOUT_RESULTS_lab")
        .ok_or_else(|| format!("no stream BLACKOUT_RESULTS_lab in {jsz}"))?;
    let consumer = stream["consumer_detail"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|c| c["name"] == DURABLE)
        .ok_or_else(|| format!("no consumer {DURABLE} in {stream}"))?;
    let n = |v: &Value| v.as_u64().unwrap_or(0);
    Ok((
        n(&stream["state"]["messages"]),
        n(&stream["state"]["last_seq"]),
        n(&consumer["num_pending"]),
        n(&consumer["num_ack_pending"]),
    ))
}

/// What an agent said when it stopped (its last line).
#[derive(Debug, Default)]
struct AgentReport {
    results: u64,
    traces: u64,
    asked: u64,
    route_batches: u64,
    feed_reports: u64,
    published: u64,
    buffered: u64,
    resent: u64,
    duplicates: u64,
    dropped: u64,
    messages: u64,
    waiting_bytes: u64,
}

impl AgentReport {
    /// From `agent stopped after N results, T traceroutes (of A asked for) and I route inputs in
    /// Q batches (and H feed health reports): P published, B buffered, R resent (D the broker had already), X dropped; M
    /// messages; W bytes wait in the buffer` (results counted as results, M the messages they went in).
    fn parse(log: &str) -> Option<AgentReport> {
        let line = log
            .lines()
            .rev()
            .find(|l| l.contains("agent stopped after"))?;
        let numbers: Vec<u64> = line
            .split(|c: char| !c.is_ascii_digit())
            .filter(|w| !w.is_empty())
            .filter_map(|w| w.parse().ok())
            .collect();
        match numbers[..] {
            [
                results,
                traces,
                asked,
                _route_inputs,
                route_batches,
                feed_reports,
                published,
                buffered,
                resent,
                duplicates,
                dropped,
                messages,
                waiting_bytes,
            ] => Some(AgentReport {
                results,
                traces,
                asked,
                route_batches,
                feed_reports,
                published,
                buffered,
                resent,
                duplicates,
                dropped,
                messages,
                waiting_bytes,
            }),
            _ => None,
        }
    }
}

/// Did the agent whose log this is say it buffers results at or after `at`
/// (seconds since the epoch)? Its warnings begin with their time.
fn buffered_since(log: &str, at: f64) -> bool {
    log.lines()
        .filter(|l| l.contains("buffering them on disk"))
        .filter_map(|l| secs(l.split_whitespace().next()?))
        .any(|when| when >= at)
}

/// `blackout agent` for each vantage point, in its own namespace.
fn start_agents(topo: &Topology, profile: &Path, url: &str, dir: &Path) -> Vec<Started> {
    VANTAGES
        .iter()
        .map(|name| {
            let v = topo.vantage_named(name).expect("the lab's vantage point");
            let mut args: Vec<OsString> = vec!["agent".into(), "--config".into(), profile.into()];
            args.extend(
                ["--vantage", name, "--location", &v.label, "--nats", url].map(OsString::from),
            );
            args.extend(["--buffer".into(), dir.join(format!("buffer-{name}")).into()]);
            Started::spawn(&v.ns, BIN, &args, &dir.join(format!("agent-{name}.log")))
        })
        .collect()
}

/// The central's status.
fn status() -> Result<Value, String> {
    api_get(CENTRAL_NS, CENTRAL_API, "/api/v1/status")
}

/// How many checks each vantage point runs: on each family 4 hosts' ICMP, 2
/// HTTP, 1 TCP, 2 name servers, 1 mail server; and the scheduled trace.
const CHECKS: u64 = 21;

/// The central's baseline: the routes (see [`routes_at_baseline`]) and a row
/// for each vantage point, every one up, running every check, none failing. (The
/// status's `probes` are the central's own, none with `--no-probes`.)
fn agents_at_baseline(status: &Value) -> Result<(), String> {
    routes_at_baseline(status)?;
    let rows = status["vantages"].as_array().cloned().unwrap_or_default();
    let mut names: Vec<&str> = rows.iter().filter_map(|r| r["name"].as_str()).collect();
    names.sort_unstable();
    let mut want = VANTAGES.to_vec();
    want.sort_unstable();
    if names != want {
        return Err(format!("vantage rows {names:?}, want {want:?}"));
    }
    match rows
        .iter()
        .find(|r| r["state"] != "up" || r["checks"] != CHECKS || r["failing"] != 0)
    {
        Some(row) => Err(format!("a vantage point is not up: {row}")),
        None => Ok(()),
    }
}

/// What is wrong with how a fault's event names the vantage points: one that
/// every vantage point's probes see down must say, over its updates, what each
/// of the three saw fail (`CHECK from VANTAGE: fail (...)`). Stress (`ddos`) is
/// no check down, and a flap's withdrawals (1 s each) are over before a check
/// fails twice: both are left out.
fn agreement(case: &Case, topo: &Topology, updates: &[&Update]) -> Vec<String> {
    let impact = case.fault().impact(topo);
    if impact.vantages.len() != VANTAGES.len() || ["ddos", "flap"].contains(&case.cause) {
        return Vec::new();
    }
    let evidence: Vec<&str> = updates
        .iter()
        .flat_map(|u| u.event["evidence"].as_array().into_iter().flatten())
        .filter_map(|e| e["text"].as_str())
        .collect();
    VANTAGES
        .iter()
        .filter(|name| {
            let from = format!("from {name}: fail");
            !evidence.iter().any(|t| t.contains(&from))
        })
        .map(|name| format!("no evidence of what {name} saw fail"))
        .collect()
}

/// The faults to run: every case of the lab but [`LEFT_OUT`], or those
/// `BLACKOUT_AGENTS_LAB_FAULTS` names (`all`: every one but `vantage-cut`).
fn cases() -> Vec<&'static Case> {
    if std::env::var("BLACKOUT_AGENTS_LAB_FAULTS").as_deref() == Ok("all") {
        return CASES.iter().filter(|c| c.name() != "vantage-cut").collect();
    }
    let default: Vec<&'static Case> = CASES
        .iter()
        .filter(|c| !LEFT_OUT.contains(&c.name()))
        .collect();
    selected_cases("BLACKOUT_AGENTS_LAB_FAULTS", &default)
}

/// Besides a fault's own event, what may come with it here: the vantage point
/// behind the validating transit loses the RPKI-invalid routes alone, a path
/// problem of its own.
fn also_here(case: &Case, update: &Update) -> bool {
    case.name() == "rpki-invalid"
        && update.entity() == format!("vantage:{}", vantage::TRANSIT)
        && update.cause() == "vantage"
}

/// The path cut's case: the vantage point's own event, nothing else.
const PATH_CUT: Case = Case {
    spec: "vantage-path-cut vp-backup",
    entity: "vantage:vp-backup",
    cause: "vantage",
    bgp: false,
};

/// The case the broker's and the central's restarts run under: building 3's
/// hosts dark, seen by the probes alone.
const HOSTS_DARK: Case = Case {
    spec: "hosts-dark 3",
    entity: "as:64500",
    cause: "partial",
    bgp: false,
};

#[test]
fn agents_in_the_lab_agree_on_each_fault_and_survive_restarts() {
    if !lab_allowed("agents_in_the_lab_agree_on_each_fault_and_survive_restarts") {
        return;
    }
    if !nats_allowed("agents_in_the_lab") {
        return;
    }
    let timing = Timing::from_env();
    let interval = timing.probe_interval();
    let run_started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let profile = dir.path().join("lab-agents.toml");
    std::fs::write(&profile, timing.profile()).expect("write the profile");
    let vrps = dir.path().join("vrps.json");
    let db = dir.path().join("central.db");

    let lab = LabUp::start(STATE_DIR, &vrps);
    let topo = lab.topology().clone();
    let mut broker = Broker::start(dir.path(), &topo.central.addr.to_string());
    let url = broker.url();
    let mut agents = start_agents(&topo, &profile, &url, dir.path());
    let central_log = dir.path().join("central.log");
    let mut central = start_central(
        CENTRAL_NS,
        DURABLE,
        &profile,
        &db,
        &vrps,
        &url,
        &central_log,
    );

    // ---- a. baseline ----
    let mut problems = baseline_then_quiet(&mut central, &status, &agents_at_baseline, interval);
    say(&format!(
        "central at its baseline with 3 vantage points {:.1} s after the start",
        run_started.elapsed().as_secs_f64()
    ));

    // ---- b. one vantage point's path cut, then c. the faults ----
    let mut figures: Vec<Figure> = Vec::new();
    let mut run = |case: &Case, central: &mut Watch, problems: &mut Vec<String>| {
        let outcome = run_case(&lab, central, case, &vrps, timing, &status, &also_here);
        problems.extend(outcome.problems);
        if let Some((id, _)) = &outcome.alerted {
            let mine: Vec<&Update> = central.updates[outcome.from..]
                .iter()
                .filter(|u| u.id() == id)
                .collect();
            for wrong in agreement(case, &topo, &mine) {
                problems.push(format!("{}: {wrong}", case.spec));
            }
        }
        figures.push(outcome.figure);
        outcome.alerted
    };
    run(&PATH_CUT, &mut central, &mut problems);
    for case in cases() {
        run(case, &mut central, &mut problems);
    }

    // ---- d. the broker killed and restarted while an event is open ----
    let mut broker_killed_at = None;
    let mut broker_back_at = None;
    let problems_before = problems.len();
    let from = central.updates.len();
    let fault_at = secs(&lab.inject(&HOSTS_DARK.fault()).expect("inject")).expect("time");
    let detect_limit = Duration::from_secs_f64((6.0 * interval).max(20.0));
    let quiet_limit = Duration::from_secs_f64(30.0 + 4.0 * interval + timing.recovery_hold());
    match central.wait_for(from, detect_limit, |u| HOSTS_DARK.is_mine(u)) {
        None => problems.push("broker restart: the fault opened no event".into()),
        Some(open) => {
            say(&format!(
                "broker restart: event {} open {:.1} s after the fault; killing the broker",
                open.id(),
                open.seen - fault_at
            ));
            broker_killed_at = Some(now_secs());
            broker.kill();
            central.idle(Duration::from_secs_f64(3.0 * interval));
            broker.restart();
            broker_back_at = Some(now_secs());
            central.idle(Duration::from_secs_f64(3.0 * interval));
            if !central.open.contains_key(open.id()) {
                problems.push(format!(
                    "broker restart: event {} is no longer open",
                    open.id()
                ));
            }
            lab.heal(Duration::from_secs(90)).expect("heal");
            let still = central.wait_quiet(quiet_limit);
            if !still.is_empty() {
                problems.push(format!("broker restart: still open after heal: {still:?}"));
            }
            for update in &central.updates[from..] {
                if update.id() != open.id() {
                    problems.push(format!("broker restart: also {}", update.brief()));
                }
            }
            if !central.updates[from..]
                .iter()
                .any(|u| u.id() == open.id() && u.change == "ended")
            {
                problems.push(format!("broker restart: event {} did not end", open.id()));
            }
        }
    }
    if problems.len() > problems_before || std::env::var_os("BLACKOUT_LAB_VERBOSE").is_some() {
        if let (Some(killed), Some(back)) = (broker_killed_at, broker_back_at) {
            say(&format!(
                "broker restart: killed {:+.2} s after the fault, back {:+.2} s after it",
                killed - fault_at,
                back - fault_at
            ));
        }
        say_what_watch_said("broker restart", &central.updates[from..], fault_at);
    }

    // ---- e. the central killed with SIGKILL and started again ----
    let from = central.updates.len();
    let fault_at = secs(&lab.inject(&HOSTS_DARK.fault()).expect("inject")).expect("time");
    let resumed_id = match central.wait_for(from, detect_limit, |u| HOSTS_DARK.is_mine(u)) {
        None => {
            problems.push("central restart: the fault opened no event".into());
            None
        }
        Some(open) => {
            say(&format!(
                "central restart: event {} open {:.1} s after the fault; kill -9 the central",
                open.id(),
                open.seen - fault_at
            ));
            Some(open.id().to_string())
        }
    };
    central.kill();
    let before = std::mem::replace(
        &mut central,
        start_central(
            CENTRAL_NS,
            DURABLE,
            &profile,
            &db,
            &vrps,
            &url,
            &dir.path().join("central-2.log"),
        ),
    );
    // Its first look: the open event taken up, the agents' results read on.
    central.idle(Duration::from_secs_f64(4.0 * interval));
    // The events the restarted central's API lists as open (no end).
    let api_open: Vec<String> = api_get(CENTRAL_NS, CENTRAL_API, "/api/v1/events")
        .map(|v| {
            v["events"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|e| e["end"].is_null())
                .filter_map(|e| e["id"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default();
    lab.heal(Duration::from_secs(90)).expect("heal");
    // The restarted central takes the event up without a word; it says when it ends.
    if let Some(id) = &resumed_id {
        central.wait_for(0, quiet_limit, |u| u.id() == id && u.change == "ended");
    }
    let still = central.wait_quiet(quiet_limit);
    if !still.is_empty() {
        problems.push(format!("central restart: still open after heal: {still:?}"));
    }
    if let Some(id) = &resumed_id {
        if !api_open.contains(id) {
            problems.push(format!(
                "central restart: the API's open events after the restart are {api_open:?}, not {id}"
            ));
        }
        if !central
            .updates
            .iter()
            .any(|u| u.id() == id && u.change == "ended")
        {
            let said: Vec<String> = central.updates.iter().map(Update::brief).collect();
            problems.push(format!(
                "central restart: event {id} did not end after the heal; it said {said:?}"
            ));
        }
        for update in &central.updates {
            if update.id() != id && update.change == "started" && update.cause() != "feed" {
                problems.push(format!("central restart: also {}", update.brief()));
            }
        }
    }

    // ---- d. (counts) the agents stopped: every result in the stream once ----
    let mut reports: BTreeMap<&str, AgentReport> = BTreeMap::new();
    for (name, agent) in VANTAGES.iter().zip(agents.iter_mut()) {
        match agent.end("-TERM") {
            Ok(log) => match AgentReport::parse(&log) {
                Some(report) => {
                    reports.insert(name, report);
                }
                None => problems.push(format!("agent {name}: no report on SIGTERM:\n{log}")),
            },
            Err(why) => problems.push(format!("agent {name}: {why}")),
        }
    }
    // The profile's stream holds each agent's messages (of results, trace
    // reports, route batches and feed health reports: none of the last two, the
    // lab's agents relay no feeds), and nothing else: the central's trace requests
    // are outside its subjects.
    let sent: u64 = reports.values().map(|r| r.messages).sum::<u64>();
    // The central reads what is left.
    let drain_from = Instant::now();
    let until = drain_from + Duration::from_secs(30);
    let mut looks = 0;
    let state = loop {
        central.pump(Duration::from_millis(500));
        let state = stream_state();
        let done = matches!(state, Ok((_, _, 0, 0)));
        looks += 1;
        if looks == 1 && !done {
            say(&format!(
                "the central's consumer at the first look: {state:?}"
            ));
        }
        if done || Instant::now() > until {
            break state;
        }
    };
    say(&format!(
        "the central's consumer, {:.1} s after the agents stopped: {}",
        drain_from.elapsed().as_secs_f64(),
        consumer_detail()
    ));
    match state {
        Ok((messages, last_seq, pending, ack_pending)) => {
            say(&format!(
                "stream: {messages} messages (last sequence {last_seq}); agents sent {sent}; \
                 the central's consumer has {pending} pending, {ack_pending} unacknowledged"
            ));
            if messages != sent || last_seq != sent {
                problems.push(format!(
                    "the stream holds {messages} messages (last sequence {last_seq}), the agents sent {sent}"
                ));
            }
            if pending != 0 || ack_pending != 0 {
                problems.push(format!(
                    "the central's consumer: {pending} pending, {ack_pending} unacknowledged"
                ));
            }
        }
        Err(why) => problems.push(why),
    }
    for (name, report) in &reports {
        say(&format!(
            "agent {name}: {} results, {} published, {} buffered, {} resent ({} the broker had \
             already), {} dropped, {} bytes left in the buffer; {} traceroutes of {} asked for",
            report.results,
            report.published,
            report.buffered,
            report.resent,
            report.duplicates,
            report.dropped,
            report.waiting_bytes,
            report.traces,
            report.asked
        ));
        let made = report.results + report.traces + report.route_batches + report.feed_reports;
        if report.dropped != 0
            || report.waiting_bytes != 0
            || report.published + report.resent != made
        {
            problems.push(format!("agent {name}: lost results: {report:?}"));
        }
    }
    if let Some(kill_at) = broker_killed_at
        && !agents.iter().any(|a| buffered_since(&a.log(), kill_at))
    {
        problems.push("no agent buffered a result while the broker was away".into());
    }

    // ---- stop, then the database: one row for the resumed event ----
    if let Err(why) = central.stop() {
        problems.push(why);
    }
    for watch in [&central, &before] {
        if !watch.garbage.is_empty() {
            problems.push(format!(
                "lines that are not event updates: {:?}",
                watch.garbage
            ));
        }
    }
    let listed = Command::new(BIN)
        .args(["events", "--format", "json", "--db"])
        .arg(&db)
        .output()
        .expect("blackout events");
    let stored: Vec<Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    if let Some(id) = &resumed_id {
        let rows = stored.iter().filter(|e| e["id"] == id.as_str()).count();
        let ended = stored
            .iter()
            .any(|e| e["id"] == id.as_str() && !e["end"].is_null());
        if rows != 1 || !ended {
            problems.push(format!(
                "database: {rows} rows for the resumed event {id} (ended: {ended})"
            ));
        }
    }

    // ---- 2. figures ----
    say("");
    say(&format!(
        "agents in the lab: fault to event at the central, 3 vantage points, probes every {interval} s"
    ));
    say(
        "  fault                       cause         detected  in intervals  first said  event start  ended after heal",
    );
    for f in &figures {
        say(&format!(
            "  {:<27} {:<13} {:>8}  {:>12}  {:>10}  {:>11}  {:>16}",
            f.spec,
            f.cause,
            seconds(f.detected),
            f.detected
                .map_or("-".to_string(), |d| format!("{:.2}", d / interval)),
            seconds(f.first_said),
            seconds(f.start),
            seconds(f.ended)
        ));
    }
    say(&format!(
        "  whole run {:.0} s",
        run_started.elapsed().as_secs_f64()
    ));
    if let Ok(path) = std::env::var("BLACKOUT_AGENTS_LAB_OUT") {
        // Tab-separated, `-` for a figure that is missing: bench/agents-lab.sh reads it.
        let cell = |v: Option<f64>| v.map_or("-".to_string(), |v| format!("{v:.3}"));
        let mut out = String::from(
            "fault\tcause\tprobe_interval\tdetected\tstart\tended_after_heal\tfirst_said\n",
        );
        for f in &figures {
            out.push_str(&format!(
                "{}\t{}\t{interval}\t{}\t{}\t{}\t{}\n",
                f.spec,
                f.cause,
                cell(f.detected),
                cell(f.start),
                cell(f.ended),
                cell(f.first_said)
            ));
        }
        std::fs::write(&path, out).expect("write the figures");
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n  {}\ncentral's log:\n{}",
        problems.len(),
        problems.join("\n  "),
        central.log()
    );
}
