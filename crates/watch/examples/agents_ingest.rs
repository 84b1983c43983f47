//! Central ingest through NATS JetStream: how fast `blackout watch --nats` takes
//! its agents' probe results, beside a plain async-nats pull consumer reading the
//! same stream.
//!
//! Against a nats-server on loopback (`bench/agents.sh` starts one, in a network
//! namespace that has nothing but loopback), it fills the stream
//! `BLACKOUT_RESULTS_kp` with RESULTS probe results, as three agents (`vp-1`,
//! `vp-2`, `vp-3`) would publish them round after round: each probes COPIES
//! times the kp profile's targets and controls (default 1: the kp profile
//! itself), each with a documentation address, mostly answering, some rounds
//! not. As the probe engine's schedule does, each agent spreads a round's probes
//! over the profile's interval, so each result has a time of its own. Each
//! agent's results go as its `ResultBatcher` seals them: those that came back
//! within one tick of 100 ms, one message. With the kp profile alone (a result
//! every few seconds) that is one result a message; an agent with 300 times its
//! targets (about 100 results/s) sends about ten a message.
//! Then, each on the whole stream from its start:
//!
//! - `plain`: a durable pull consumer of async-nats with its default settings,
//!   acknowledging every message: the broker's and the client's own pace.
//! - `central`: `blackout_watch::run` with `--nats` and `--no-probes` (no probe of
//!   its own, no feed): it decodes each result, hands it to the engine, writes
//!   what came of it to its store (a SQLite file, or with `postgres` a scratch
//!   PostgreSQL cluster whose commits do not wait for the disk, as SQLite's WAL
//!   with `synchronous=NORMAL` does not) and acknowledges once it is written: each
//!   message its own ack (`AckPolicy::Explicit`), sent back to back, the last of a
//!   stored batch confirmed. The time runs from the watch being ready until the
//!   consumer's acknowledgement floor reaches the last result.
//!
//! Each also gets the CPU time this process spent meanwhile (`*_cpu_secs`, from
//! `/proc/self/stat`; the broker's and PostgreSQL's are not in it) and the results per CPU second,
//! a figure that a machine busy with other work disturbs less than the rate.
//!
//! With `outage`, the second half of the run is an outage: from its middle
//! round on, no target answers any vantage point (their controls do), so the
//! central judges every check failing, opens the network's event and the
//! services' events, and keeps weighing them.
//!
//! Prints `key=value` lines. Usage: `agents_ingest NATS_URL RESULTS DIR [COPIES
//! [sqlite|postgres [outage]]]`.

use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use blackout_bgp::{Tracking, Vrps, WatchSet};
use blackout_model::subject::results_stream;
use blackout_model::{Timestamp, clock};
use blackout_probe::{Outcome, ProbeResult, targets_from_profile};
use blackout_relay::{CentralConfig, Encoded, RESULTS_EVERY, ResultBatcher};
use blackout_store::scratch::ScratchCluster;
use blackout_watch::{WatchConfig, run_with_ready};
use futures_util::StreamExt;
use std::net::{IpAddr, Ipv6Addr};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The agents.
const VANTAGES: [&str; 3] = ["vp-1", "vp-2", "vp-3"];
/// Publishes waiting for their acks at once while the stream is filled: below
/// async-nats's bound of 5,000 acks in flight, past which a publish waits for a
/// permit that only an awaited (or dropped) ack gives back.
const PUBLISH_WINDOW: usize = 4096;

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("agents_ingest: {what}");
    std::process::exit(1)
}

/// The kp profile without its feeds: nothing here may reach the real Internet.
fn profile() -> blackout_profile::Profile {
    let mut profile = blackout_profile::builtin("kp").unwrap_or_else(|e| fail(e));
    profile.feeds.clear();
    profile
}

/// The profile's stream of results.
fn stream_name() -> String {
    results_stream(&profile().name).unwrap_or_else(|e| fail(e))
}

/// How long after it starts a probe that is not answered is given up.
const TIMEOUT_MS: i64 = 3_000;

/// The messages holding the `count` results the three agents publish, oldest
/// first, ending now. Each agent probes `copies` times the kp profile's targets
/// (the copies named `NAME~K`), spread over the profile's interval as the probe
/// engine's schedule spreads them: each result has its own time, and comes back
/// its round-trip time later (a timeout, 3 s later). Each agent's batcher seals
/// what came within one tick of `RESULTS_EVERY`, as the agent does: with the kp
/// profile alone (a result every few seconds) that is one result a message.
fn results(
    profile: &blackout_profile::Profile,
    count: u64,
    copies: u64,
    outage: bool,
) -> Vec<Encoded> {
    let kp_targets = targets_from_profile(profile);
    let targets: Vec<(String, &blackout_probe::Target)> = (0..copies.max(1))
        .flat_map(|copy| {
            kp_targets.iter().map(move |target| {
                let name = if copy == 0 {
                    target.name.clone()
                } else {
                    format!("{}~{copy}", target.name)
                };
                (name, target)
            })
        })
        .collect();
    let per_round = (targets.len() * VANTAGES.len()) as u64;
    let rounds = count.div_ceil(per_round);
    let interval_us = (profile.probes.interval_secs.max(1.0) * 1e6) as i64;
    let end = clock::now().as_micros();
    let start = end - rounds as i64 * interval_us;
    let tick_us = RESULTS_EVERY.as_micros().max(1) as i64;
    // Each agent's results as they come back: (when, the result).
    let mut came: Vec<Vec<(i64, ProbeResult)>> = vec![Vec::new(); VANTAGES.len()];
    let mut made = 0u64;
    'rounds: for round in 0..rounds as i64 {
        for (v, came) in came.iter_mut().enumerate() {
            // The agents started at different moments within the first spacing.
            let offset = interval_us * v as i64 / (targets.len() * VANTAGES.len()) as i64;
            for (t, (name, target)) in targets.iter().enumerate() {
                if made == count {
                    break 'rounds;
                }
                made += 1;
                let at_us = start
                    + round * interval_us
                    + interval_us * t as i64 / targets.len() as i64
                    + offset;
                let at = Timestamp::from_micros(at_us);
                // One round in 50 a target does not answer one vantage point;
                // in an outage's second half, no target answers (the controls do).
                let dark = (round as u64 + t as u64 + v as u64).is_multiple_of(50)
                    || (outage
                        && round as u64 >= rounds / 2
                        && target.role != blackout_model::ProbeRole::Control);
                let rtt_ms = 180 + (round as u64 * 7 + t as u64) % 40;
                let result = ProbeResult {
                    at,
                    target: name.clone(),
                    address: Some(IpAddr::V6(Ipv6Addr::new(
                        0x2001,
                        0xdb8,
                        0,
                        0,
                        0,
                        0,
                        (t >> 16) as u16,
                        t as u16,
                    ))),
                    kind: target.check.kind(),
                    check: target.check_label(),
                    role: target.role,
                    outcome: if dark { Outcome::Timeout } else { Outcome::Ok },
                    rtt_ms: (!dark).then_some(rtt_ms as f64),
                    attempts: 1,
                    lost: 0,
                    detail: None,
                    last_known_address: None,
                };
                let back_us = if dark {
                    TIMEOUT_MS * 1000
                } else {
                    rtt_ms as i64 * 1000
                };
                came.push((at_us + back_us, result));
            }
        }
    }
    // Sealed at each tick, as the agents do; the agents' messages in the order
    // they were sent.
    let mut sent: Vec<(i64, usize, Encoded)> = Vec::new();
    for (v, mut came) in came.into_iter().enumerate() {
        came.sort_by_key(|(back, _)| *back);
        let mut batcher = ResultBatcher::new(
            &profile.name,
            VANTAGES[v],
            Some(format!("bench agent {}", v + 1)),
        );
        let mut sequence = 0u64;
        let mut tick = None;
        // What waits is sealed at the end of its tick.
        let seal = |batcher: &mut ResultBatcher, sequence: &mut u64, open: i64| {
            let end = (open + 1) * tick_us;
            batcher
                .seal(Timestamp::from_micros(end), sequence)
                .into_iter()
                .map(move |message| (end, v, message))
        };
        for (back, result) in came {
            let this_tick = back.div_euclid(tick_us);
            if let Some(open) = tick.filter(|open| *open != this_tick) {
                sent.extend(seal(&mut batcher, &mut sequence, open));
            }
            tick = Some(this_tick);
            let at = Timestamp::from_micros(back);
            for message in batcher.push(result, at, &mut sequence) {
                sent.push((back, v, message));
            }
        }
        if let Some(open) = tick {
            sent.extend(seal(&mut batcher, &mut sequence, open));
        }
    }
    sent.sort_by_key(|(when, v, _)| (*when, *v));
    sent.into_iter().map(|(_, _, message)| message).collect()
}

/// A fresh stream holding `records`; returns its last sequence number.
async fn fill(js: &jetstream::Context, records: Vec<Encoded>) -> u64 {
    let _ = js.delete_stream(stream_name()).await;
    blackout_relay::ensure_stream(js, &profile().name)
        .await
        .unwrap_or_else(|e| fail(e));
    let started = Instant::now();
    let count: u64 = records.iter().map(Encoded::results).sum();
    let mut acks = Vec::with_capacity(PUBLISH_WINDOW);
    let mut last = 0;
    for Encoded {
        subject,
        id,
        payload,
    } in records
    {
        let publish = PublishMessage::build()
            .payload(payload.into())
            .message_id(id);
        acks.push(
            js.send_publish(subject, publish)
                .await
                .unwrap_or_else(|e| fail(e)),
        );
        if acks.len() == PUBLISH_WINDOW {
            for ack in acks.drain(..) {
                last = ack.await.unwrap_or_else(|e| fail(e)).sequence;
            }
        }
    }
    for ack in acks.drain(..) {
        last = ack.await.unwrap_or_else(|e| fail(e)).sequence;
    }
    let secs = started.elapsed().as_secs_f64();
    println!("publish_secs={secs:.3}");
    println!("publish_per_sec={:.0}", count as f64 / secs);
    last
}

/// The plain consumer: every message read and acknowledged, the last one
/// confirmed (it decodes nothing). Returns the seconds it took.
async fn plain(js: &jetstream::Context, count: u64) -> f64 {
    let stream = js
        .get_stream(stream_name())
        .await
        .unwrap_or_else(|e| fail(e));
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("bench-plain".to_string()),
            ack_policy: jetstream::consumer::AckPolicy::Explicit,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| fail(e));
    let started = Instant::now();
    let mut messages = consumer.messages().await.unwrap_or_else(|e| fail(e));
    let mut read = 0u64;
    while let Some(message) = messages.next().await {
        let message = message.unwrap_or_else(|e| fail(e));
        read += 1;
        if read == count {
            message.double_ack().await.unwrap_or_else(|e| fail(e));
            break;
        }
        message.ack().await.unwrap_or_else(|e| fail(e));
    }
    started.elapsed().as_secs_f64()
}

/// The central: the watch until its consumer has acknowledged the stream's
/// last result. Returns the seconds from its start and the results it took.
async fn central(
    url: &str,
    js: &jetstream::Context,
    db: blackout_store::Db,
    last: u64,
) -> (f64, u64, u64) {
    let profile = profile();
    let central = CentralConfig::new(url, &profile.name);
    let durable = central.durable.clone();
    let config = WatchConfig {
        tracking: Tracking::Networks(WatchSet::from_profile(&profile)),
        profile,
        db,
        vantage: "central".to_string(),
        vrps: Vrps::default(),
        vrps_file: None,
        listen: None,
        nats: Some(central),
        own_probes: false,
        api_hosts: Vec::new(),
    };
    let started: Arc<Mutex<Option<Instant>>> = Arc::new(Mutex::new(None));
    let ready = Arc::clone(&started);
    let js = js.clone();
    let done = async move {
        loop {
            tokio::time::sleep(Duration::from_millis(20)).await;
            let Ok(mut consumer) = js
                .get_consumer_from_stream::<pull::Config, _, _>(&durable, stream_name())
                .await
            else {
                continue;
            };
            if let Ok(info) = consumer.info().await
                && info.ack_floor.stream_sequence >= last
            {
                return;
            }
        }
    };
    let report = run_with_ready(
        config,
        done,
        move || *ready.lock().unwrap() = Some(Instant::now()),
        |_, _| {},
    )
    .await
    .unwrap_or_else(|e| fail(e));
    let began = started
        .lock()
        .unwrap()
        .unwrap_or_else(|| fail("never ready"));
    (
        began.elapsed().as_secs_f64(),
        report.agent_results,
        report.updates,
    )
}

/// The CPU time of this process so far (user and system, every thread), from
/// `/proc/self/stat` in clock ticks of 1/100 s.
fn cpu_secs() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_else(|e| fail(e));
    // The fields after the command's closing parenthesis: utime and stime are
    // the 12th and 13th of them.
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) + ticks(12)) / 100.0
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (Some(url), Some(count), Some(dir)) = (args.next(), args.next(), args.next()) else {
        fail("usage: agents_ingest NATS_URL RESULTS DIR [COPIES [sqlite|postgres [outage]]]")
    };
    let count: u64 = count.parse().unwrap_or_else(|e| fail(e));
    let copies: u64 = args
        .next()
        .map_or(Ok(1), |copies| copies.parse())
        .unwrap_or_else(|e| fail(e));
    let dir = PathBuf::from(dir);
    // The central's store: a SQLite file in DIR, or a scratch PostgreSQL cluster
    // (as a central deployment's would be: commits not waiting for the disk).
    let cluster = match args.next().as_deref() {
        None | Some("sqlite") => None,
        Some("postgres") => Some(
            ScratchCluster::start(&["synchronous_commit=off", "shared_buffers=128MB"])
                .unwrap_or_else(|why| fail(format!("no PostgreSQL: {why}"))),
        ),
        Some(other) => fail(format!("`{other}` is no store: sqlite or postgres")),
    };
    let outage = match args.next().as_deref() {
        None => false,
        Some("outage") => true,
        Some(other) => fail(format!("`{other}` is no scenario: outage or nothing")),
    };
    let db = match &cluster {
        Some(cluster) => {
            blackout_store::Db::parse(&cluster.url("bench")).unwrap_or_else(|e| fail(e))
        }
        None => blackout_store::Db::Sqlite(dir.join("central.db")),
    };
    println!(
        "store={}",
        if cluster.is_some() {
            "postgres"
        } else {
            "sqlite"
        }
    );
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(e));
    runtime.block_on(async {
        let client = async_nats::connect(&url).await.unwrap_or_else(|e| fail(e));
        let js = jetstream::new(client);
        let records = results(&profile(), count, copies, outage);
        println!(
            "targets_per_agent={}",
            targets_from_profile(&profile()).len() as u64 * copies.max(1)
        );
        let messages = records.len() as u64;
        let bytes: usize = records.iter().map(|record| record.payload.len()).sum();
        println!("results={count}");
        println!("messages={messages}");
        println!(
            "results_per_message={:.1}",
            count as f64 / messages.max(1) as f64
        );
        println!("mean_result_bytes={}", bytes as u64 / count.max(1));
        let last = fill(&js, records).await;

        let cpu = cpu_secs();
        let plain_secs = plain(&js, messages).await;
        let plain_cpu = cpu_secs() - cpu;
        println!("plain_secs={plain_secs:.3}");
        println!("plain_cpu_secs={plain_cpu:.2}");
        println!("plain_per_sec={:.0}", count as f64 / plain_secs);
        println!("plain_messages_per_sec={:.0}", messages as f64 / plain_secs);

        {
            let name = "central";
            let cpu = cpu_secs();
            let (secs, taken, updates) = central(&url, &js, db, last).await;
            let cpu = cpu_secs() - cpu;
            println!("{name}_cpu_secs={cpu:.2}");
            println!("{name}_per_cpu_sec={:.0}", count as f64 / cpu.max(0.01));
            if taken < count {
                fail(format!("{name} took {taken} of {count} results"));
            }
            println!("{name}_secs={secs:.3}");
            println!("{name}_per_sec={:.0}", count as f64 / secs);
            println!("{name}_taken={taken}");
            println!("{name}_event_updates={updates}");
            println!("{name}_to_plain={:.2}", plain_secs / secs);
        }
    });
}
