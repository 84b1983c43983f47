//! Relayed feeds end to end in the lab (issue 15), as root: the lab's BGP feeds
//! reach the central only through an agent. The lab up, a real nats-server with
//! JetStream in `bo-central`; `blackout agent --feeds` in `bo-vantage`, where the
//! transit's BMP station and BGP session point (it probes from there too, as
//! `watch_lab`'s one `watch` does); and the central `blackout watch --nats
//! --no-probes` in `bo-central`, with the lab profile without its `[[feed]]`s:
//! every route it judges was relayed.
//!
//! The run, in order:
//! - baseline: the relayed routes at their baseline in `/api/v1/status` (every
//!   prefix through both upstreams) with the agent's two feeds as the central's
//!   (`bmp:vp-feeds/…`, `bgp:vp-feeds/…`, up), the vantage point up, no event;
//! - the lab's faults whose routes move, between faults the probes alone see
//!   (see [`RELAYED_CASES`]; `BLACKOUT_RELAYED_LAB_FAULTS=a,b,...` picks others):
//!   each gives the cause it gives in `watch_lab`;
//! - the central killed (SIGKILL) and started again on the same database and
//!   durable consumer: it asks the agent for its routes, gets the table again,
//!   is back at the baseline within a minute, and opens no event.
//!
//! `BLACKOUT_LAB_KEEP_LOGS=DIR` keeps the agent's and the central's logs there.
//! Nextest runs it in the `lab` group, one lab test at a time; by hand: `flock
//! /tmp/blackout-lab.lock cargo test -p blackout --test relayed_feeds_lab`.
//! Without root or nats-server it says so and does not run.

mod lab_harness;

use blackout_lab::topology::ns;
use lab_harness::processes::{Broker, CENTRAL_API, Started, nats_allowed, start_central};
use lab_harness::*;
use serde_json::Value;
use std::ffi::OsString;
use std::path::Path;
use std::time::{Duration, Instant};

const STATE_DIR: &str = "/run/blackout-lab-relayed-test";
/// The agent that runs the feeds, where they arrive.
const FEEDS_NS: &str = ns::VANTAGE;
const FEEDS_VANTAGE: &str = "vp-feeds";
/// The central runs beside the broker, where no feed arrives.
const CENTRAL_NS: &str = ns::CENTRAL;
const DURABLE: &str = "lab-relay";
/// The faults run by default, in the lab's order: one of each cause the routes
/// show, kept apart by faults the probes alone see (as in `watch_lab`: two
/// returns of routes within the flap window would be a flap).
const RELAYED_CASES: &[&str] = &[
    "origin-withdraw",
    "dns-servfail",
    "power-cut 2",
    "web-5xx",
    "primary-cut",
    "hosts-dark 3",
    "v6-primary-cut",
];

/// The lab profile at `timing` without its `[[feed]]` tables: the central's.
fn without_feeds(profile: &str) -> String {
    let first = profile
        .find("\n[[feed]]")
        .expect("the lab profile has feeds");
    let rest = profile[first..]
        .find("\n[probes]")
        .map(|at| first + at)
        .expect("the lab profile's [probes] come after its feeds");
    format!("{}{}", &profile[..first], &profile[rest..])
}

fn status() -> Result<Value, String> {
    api_get(CENTRAL_NS, CENTRAL_API, "/api/v1/status")
}

/// The relayed routes at their baseline, the agent's feeds as the central's,
/// and its vantage point up with no check failing.
fn relayed_at_baseline(status: &Value) -> Result<(), String> {
    routes_at_baseline(status)?;
    let feeds = status["feeds"].as_array().cloned().unwrap_or_default();
    let relayed = |f: &Value| {
        f["name"]
            .as_str()
            .is_some_and(|name| name.contains(&format!(":{FEEDS_VANTAGE}/")))
    };
    if !feeds.iter().all(relayed) {
        return Err(format!("feeds not named after the agent: {feeds:?}"));
    }
    let rows = status["vantages"].as_array().cloned().unwrap_or_default();
    match rows.as_slice() {
        [row] if row["name"] == FEEDS_VANTAGE && row["state"] == "up" && row["failing"] == 0 => {
            Ok(())
        }
        _ => Err(format!("vantage rows: {rows:?}")),
    }
}

fn cases() -> Vec<&'static Case> {
    let default: Vec<&'static Case> = CASES
        .iter()
        .filter(|c| RELAYED_CASES.contains(&c.spec))
        .collect();
    selected_cases("BLACKOUT_RELAYED_LAB_FAULTS", &default)
}

#[test]
fn relayed_feeds_in_the_lab_give_each_cause_and_come_back_after_a_central_restart() {
    let test = "relayed_feeds_in_the_lab_give_each_cause_and_come_back_after_a_central_restart";
    if !lab_allowed(test) || !nats_allowed(test) {
        return;
    }
    let timing = Timing::from_env();
    let interval = timing.probe_interval();
    let run_started = Instant::now();
    let dir = tempfile::tempdir().expect("temp dir");
    let agent_profile = dir.path().join("lab-agent.toml");
    let central_profile = dir.path().join("lab-central.toml");
    std::fs::write(&agent_profile, timing.profile()).expect("write the profile");
    std::fs::write(&central_profile, without_feeds(&timing.profile()))
        .expect("write the central's profile");
    let vrps = dir.path().join("vrps.json");
    let db = dir.path().join("central.db");

    let lab = LabUp::start(STATE_DIR, &vrps);
    let topo = lab.topology().clone();
    let broker = Broker::start(dir.path(), &topo.central.addr.to_string());
    let url = broker.url();
    let mut args: Vec<OsString> = vec!["agent".into(), "--config".into(), agent_profile.into()];
    args.extend(["--vantage", FEEDS_VANTAGE, "--nats", &url, "--feeds"].map(OsString::from));
    args.extend(["--buffer".into(), dir.path().join("buffer").into()]);
    let mut agent = Started::spawn(FEEDS_NS, BIN, &args, &dir.path().join("agent.log"));
    let mut central = start_central(
        CENTRAL_NS,
        DURABLE,
        &central_profile,
        &db,
        &vrps,
        &url,
        &dir.path().join("central.log"),
    );

    // ---- baseline ----
    let mut problems = baseline_then_quiet(&mut central, &status, &relayed_at_baseline, interval);
    say(&format!(
        "the central at its baseline through the relayed feeds {:.1} s after the start ({timing:?} timing)",
        run_started.elapsed().as_secs_f64()
    ));

    // ---- the faults ----
    let mut figures = Vec::new();
    for case in cases() {
        let outcome = run_case(&lab, &mut central, case, &vrps, timing, &status, &|_, _| {
            false
        });
        problems.extend(outcome.problems);
        figures.push(outcome.figure);
    }
    for figure in &figures {
        say(&format!(
            "{}: {} (detected {})",
            figure.spec,
            figure.cause,
            seconds(figure.detected)
        ));
    }

    // ---- the central killed and started again: the table comes again ----
    // Its durable resumes after the last batch it acknowledged and the lab's
    // routes do not move meanwhile: only the table the agent sends again, when
    // the new central asks, brings the baseline back.
    central.kill();
    let restarted_at = Instant::now();
    central = start_central(
        CENTRAL_NS,
        DURABLE,
        &central_profile,
        &db,
        &vrps,
        &url,
        &dir.path().join("central-2.log"),
    );
    wait_for_baseline(&mut central, &status, &relayed_at_baseline);
    say(&format!(
        "the restarted central has the relayed routes again after {:.1} s",
        restarted_at.elapsed().as_secs_f64()
    ));
    central.idle(Duration::from_secs_f64(4.0 * interval));
    for update in central.updates.iter().filter(|u| u.change == "started") {
        problems.push(format!("after the central's restart: {}", update.brief()));
    }

    match agent.end("-TERM") {
        Ok(log) => {
            let stop = log
                .lines()
                .rev()
                .find(|l| l.contains("agent stopped after"))
                .unwrap_or_default()
                .to_string();
            say(&format!("agent: {stop}"));
            if !stop.contains(" 0 dropped") {
                problems.push(format!("the agent lost results: {stop}"));
            }
        }
        Err(why) => problems.push(format!("agent: {why}")),
    }
    if let Err(why) = central.stop() {
        problems.push(why);
    }
    drop(broker);
    if let Some(keep) = std::env::var_os("BLACKOUT_LAB_KEEP_LOGS") {
        for log in ["agent.log", "central.log", "central-2.log"] {
            let _ = std::fs::copy(dir.path().join(log), Path::new(&keep).join(log));
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}\n\nagent log:\n{}",
        problems.len(),
        problems.join("\n"),
        std::fs::read_to_string(dir.path().join("agent.log")).unwrap_or_default()
    );
}
