//! Central ingest through NATS JetStream: how fast `blackout watch --nats` takes
//! its agents' probe results, beside a plain async-nats pull consumer reading the
//! same stream.
//!
//! Against a nats-server on loopback (`bench/agents.sh` starts one, in a network
//! namespace that has nothing but loopback), it fills the stream
//! `BLACKOUT_RESULTS_kp` with RESULTS probe results of the kp profile, as three
//! agents (`vp-1`, `vp-2`, `vp-3`) would publish them round after round: every
//! target and control of the profile, each with a documentation address, mostly
//! answering, some rounds not. Each agent's results go as its `ResultBatcher`
//! seals them: those that came within one tick of 100 ms, one message (the
//! answers within 180-220 ms of the round's start, the timeouts 3 s after it).
//! Then, each on the whole stream from its start:
//!
//! - `plain`: a durable pull consumer of async-nats with its default settings,
//!   acknowledging every message: the broker's and the client's own pace.
//! - `central`: `blackout_watch::run` with `--nats` and `--no-probes` (no probe of
//!   its own, no feed): it decodes each result, hands it to the engine, writes
//!   what came of it to a SQLite file and acknowledges once it is written: each
//!   result its own ack (`AckPolicy::Explicit`), sent back to back, the last of a
//!   stored batch confirmed. The time runs from the watch being ready until the
//!   consumer's acknowledgement floor reaches the last result.
//!
//! Each also gets the CPU time this process spent meanwhile (`*_cpu_secs`, from
//! `/proc/self/stat`; the broker's is not in it) and the results per CPU second,
//! a figure that a machine busy with other work disturbs less than the rate.
//!
//! Prints `key=value` lines. Usage: `agents_ingest NATS_URL RESULTS DIR`.

use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use blackout_bgp::{Tracking, Vrps, WatchSet};
use blackout_model::subject::results_stream;
use blackout_model::{Timestamp, clock};
use blackout_probe::{Outcome, ProbeResult, targets_from_profile};
use blackout_relay::{CentralConfig, Encoded, RESULTS_EVERY, ResultBatcher};
use blackout_watch::{WatchConfig, run_with_ready};
use futures_util::StreamExt;
use std::net::{IpAddr, Ipv4Addr};
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

/// How long after a round's start a probe that is not answered is given up.
const TIMEOUT_MS: u64 = 3_000;

/// The messages holding the `count` results the three agents publish, oldest
/// first, ending now.
fn results(profile: &blackout_profile::Profile, count: u64) -> Vec<Encoded> {
    let targets = targets_from_profile(profile);
    let per_round = (targets.len() * VANTAGES.len()) as u64;
    let rounds = count.div_ceil(per_round);
    let interval = profile.probes.interval_secs.max(1.0);
    let end = clock::now().as_secs_f64();
    let start = end - rounds as f64 * interval;
    let tick_ms = RESULTS_EVERY.as_millis().max(1) as u64;
    let mut batchers: Vec<ResultBatcher> = VANTAGES
        .iter()
        .enumerate()
        .map(|(v, vantage)| {
            ResultBatcher::new(&profile.name, vantage, Some(format!("bench agent {}", v + 1)))
        })
        .collect();
    let mut sequences = [0u64; VANTAGES.len()];
    let mut out = Vec::new();
    let mut made = 0u64;
    'rounds: for round in 0..rounds {
        let at = Timestamp::from_secs_f64(start + round as f64 * interval);
        for (v, batcher) in batchers.iter_mut().enumerate() {
            // This vantage point's results of the round, with when each comes.
            let mut round_results: Vec<(u64, ProbeResult)> = Vec::new();
            for (t, target) in targets.iter().enumerate() {
                if made == count {
                    break;
                }
                made += 1;
                // One round in 50 a target does not answer one vantage point.
                let dark = (round + t as u64 + v as u64).is_multiple_of(50);
                let rtt_ms = 180 + (round * 7 + t as u64) % 40;
                let result = ProbeResult {
                    at,
                    target: target.name.clone(),
                    address: Some(IpAddr::V4(Ipv4Addr::new(203, 0, 113, (t % 250) as u8))),
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
                round_results.push((if dark { TIMEOUT_MS } else { rtt_ms }, result));
            }
            // Sealed at each tick, as the agent does: those of one tick together.
            round_results.sort_by_key(|(came_ms, _)| *came_ms);
            let mut tick = None;
            for (came_ms, result) in round_results {
                if tick.is_some_and(|tick| tick != came_ms / tick_ms) {
                    out.extend(batcher.seal(at, &mut sequences[v]));
                }
                tick = Some(came_ms / tick_ms);
                out.extend(batcher.push(result, at, &mut sequences[v]));
            }
            out.extend(batcher.seal(at, &mut sequences[v]));
            if made == count {
                break 'rounds;
            }
        }
    }
    out
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
async fn central(url: &str, js: &jetstream::Context, db: PathBuf, last: u64) -> (f64, u64) {
    let profile = profile();
    let central = CentralConfig::new(url, &profile.name);
    let durable = central.durable.clone();
    let config = WatchConfig {
        tracking: Tracking::Networks(WatchSet::from_profile(&profile)),
        profile,
        db: blackout_store::Db::Sqlite(db),
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
    (began.elapsed().as_secs_f64(), report.agent_results)
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
        fail("usage: agents_ingest NATS_URL RESULTS DIR")
    };
    let count: u64 = count.parse().unwrap_or_else(|e| fail(e));
    let dir = PathBuf::from(dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(e));
    runtime.block_on(async {
        let client = async_nats::connect(&url).await.unwrap_or_else(|e| fail(e));
        let js = jetstream::new(client);
        let records = results(&profile(), count);
        let messages = records.len() as u64;
        let bytes: usize = records.iter().map(|record| record.payload.len()).sum();
        println!("results={count}");
        println!("messages={messages}");
        println!("results_per_message={:.1}", count as f64 / messages.max(1) as f64);
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
            let db = dir.join(format!("{name}.db"));
            let cpu = cpu_secs();
            let (secs, taken) = central(&url, &js, db, last).await;
            let cpu = cpu_secs() - cpu;
            println!("{name}_cpu_secs={cpu:.2}");
            println!("{name}_per_cpu_sec={:.0}", count as f64 / cpu.max(0.01));
            if taken < count {
                fail(format!("{name} took {taken} of {count} results"));
            }
            println!("{name}_secs={secs:.3}");
            println!("{name}_per_sec={:.0}", count as f64 / secs);
            println!("{name}_taken={taken}");
            println!("{name}_to_plain={:.2}", plain_secs / secs);
        }
    });
}
