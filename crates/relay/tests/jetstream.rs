//! Agents and the central against a real nats-server (Debian's `nats-server`,
//! started on a loopback port with its store in a temporary directory). Probes go
//! to loopback only: a TCP listener of the test, a closed port, and a "control"
//! listener. Without nats-server the tests say so and pass.

use blackout_model::subject::{SHARED_STREAM, results_in_message_id};
use blackout_model::{EventId, ProbeRole, TraceRequest, subject::ResultKind};
use blackout_profile::Profile;
use blackout_relay::{
    AgentConfig, AgentCounters, AgentMessage, AgentReport, AgentResult, AgentTrace, CentralConfig,
    CentralCounters, Delivery, ack_all, ask_agents, consume, run_agent,
};
use blackout_testdata::nats::{NatsServer, free_port};
use std::collections::BTreeSet;
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The test profile's stream of results.
const STREAM: &str = "BLACKOUT_RESULTS_relaytest";

/// Results in a stream: those its messages' ids say they carry (a message of
/// results, each; any other message, one).
async fn results_in(url: &str, name: &str) -> u64 {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    let mut stream = js.get_stream(name).await.unwrap();
    let state = stream.info().await.unwrap().state.clone();
    let mut results = 0;
    for sequence in state.first_sequence..=state.last_sequence {
        if state.messages == 0 {
            break;
        }
        let message = stream.get_raw_message(sequence).await.unwrap();
        results += results_of(&message.headers);
    }
    results
}

/// The results a message carries, by its `Nats-Msg-Id`.
fn results_of(headers: &async_nats::HeaderMap) -> u64 {
    let id = headers
        .get(async_nats::header::NATS_MESSAGE_ID)
        .map(|id| id.as_str().to_string())
        .unwrap_or_default();
    results_in_message_id(&id)
}

/// Results in the test profile's stream.
async fn stream_results(nats: &NatsServer) -> u64 {
    results_in(&nats.url(), STREAM).await
}

/// Loopback targets: a listening port (a host that answers), a closed port (one
/// that refuses) and a control that answers, each probed every 0.1 s.
struct Targets {
    _open: TcpListener,
    _control: TcpListener,
    profile: Profile,
}

fn targets() -> Targets {
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let control = TcpListener::bind("127.0.0.1:0").unwrap();
    let closed = free_port();
    let text = format!(
        r#"
name = "relaytest"
description = "loopback targets for the relay's tests"

[[network]]
name = "Loopback Net"
asn = 64500
prefixes = ["192.0.2.0/24"]

[[host]]
name = "open.loopback.test"
address = "127.0.0.1"
checks = ["tcp:{open}"]

[[host]]
name = "closed.loopback.test"
address = "127.0.0.1"
checks = ["tcp:{closed}"]

[[control]]
name = "control.loopback.test"
address = "127.0.0.1"
checks = ["tcp:{control}"]

[probes]
interval_secs = 0.1
jitter = 0.0
timeout_secs = 0.5
retries = 0
"#,
        open = open.local_addr().unwrap().port(),
        control = control.local_addr().unwrap().port(),
    );
    Targets {
        _open: open,
        _control: control,
        profile: blackout_profile::load_str(&text, "relaytest.toml").unwrap(),
    }
}

/// An agent running in a task until stopped.
struct Agent {
    counters: Arc<AgentCounters>,
    stop: oneshot::Sender<()>,
    task: tokio::task::JoinHandle<Result<AgentReport, blackout_relay::RelayError>>,
}

impl Agent {
    fn start(profile: &Profile, vantage: &str, url: &str, buffer: &Path, max: u64) -> Agent {
        let counters = Arc::new(AgentCounters::default());
        let (stop, stopped) = oneshot::channel::<()>();
        let config = AgentConfig {
            profile: profile.clone(),
            vantage: vantage.into(),
            location: Some("the test's loopback".into()),
            nats: url.into(),
            buffer_dir: buffer.into(),
            buffer_max_bytes: max,
            feeds: Vec::new(),
        };
        let task = tokio::spawn(run_agent(config, Arc::clone(&counters), async move {
            let _ = stopped.await;
        }));
        Agent {
            counters,
            stop,
            task,
        }
    }

    async fn stop(self) -> AgentReport {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap()
    }

    async fn wait_for(&self, what: &str, secs: u64, done: impl Fn(&AgentCounters) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while !done(&self.counters) {
            assert!(
                Instant::now() < deadline,
                "{what} not within {secs} s: {:?}",
                self.counters.report(0)
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Reads results as the central until `count` have come (or `secs` passed),
/// acknowledges them all, and stops. Returns each result on its own.
async fn central_reads(url: &str, profile: &str, count: u64, secs: u64) -> Vec<AgentResult> {
    let (tx, mut rx) = mpsc::channel(1024);
    let counters = Arc::new(CentralCounters::default());
    let task = tokio::spawn(consume(
        CentralConfig::new(url, profile),
        tx,
        Arc::clone(&counters),
    ));
    let mut got: Vec<Delivery> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while got.iter().map(|d| d.message.count()).sum::<u64>() < count {
        let left = deadline.saturating_duration_since(Instant::now());
        match tokio::time::timeout(left, rx.recv()).await {
            Ok(Some(delivery)) => got.push(delivery),
            _ => break,
        }
    }
    // Nothing more than asked for comes within a moment.
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        got.push(extra);
    }
    assert_eq!(counters.rejected.load(Ordering::Relaxed), 0);
    let results: Vec<AgentResult> = got
        .iter()
        .filter_map(|d| d.message.as_results().cloned())
        .flat_map(|results| results.into_each())
        .collect();
    ack_all(got).await.unwrap();
    task.abort();
    results
}

fn sequences(results: &[AgentResult]) -> BTreeSet<(String, u64)> {
    results
        .iter()
        .map(|d| (d.vantage.clone(), d.sequence))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_publishes_and_the_central_receives_every_result_with_its_vantage() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let targets = targets();
    let agent = Agent::start(
        &targets.profile,
        "vp-one",
        &nats.url(),
        &dir.path().join("buffer"),
        1 << 20,
    );
    agent
        .wait_for("30 results published", 20, |c| {
            c.published.load(Ordering::Relaxed) >= 30
        })
        .await;
    let report = agent.stop().await;
    // Results made before the client's first connection wait in the buffer.
    assert_eq!(report.resent, report.buffered, "{report:?}");
    let sent = report.published + report.resent;
    assert_eq!(sent, report.results, "{report:?}");
    assert_eq!(stream_results(&nats).await, sent);

    let got = central_reads(&nats.url(), "relaytest", sent, 20).await;
    assert_eq!(got.len() as u64, sent);
    assert_eq!(sequences(&got).len(), got.len(), "no result twice");
    assert!(got.iter().all(|d| d.vantage == "vp-one"));
    assert!(
        got.iter()
            .all(|d| d.location.as_deref() == Some("the test's loopback"))
    );
    let controls = got
        .iter()
        .filter(|d| d.kind() == ResultKind::Control)
        .count();
    assert!(controls > 0, "the self-check is published too");
    assert!(
        got.iter()
            .any(|d| d.result.role == ProbeRole::Host && d.result.outcome.is_ok())
    );
    assert!(
        got.iter()
            .any(|d| d.result.outcome == blackout_probe::Outcome::Refused)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_killed_mid_run_loses_nothing_and_duplicates_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let targets = targets();
    let agent = Agent::start(
        &targets.profile,
        "vp-two",
        &nats.url(),
        &dir.path().join("buffer"),
        1 << 20,
    );
    agent
        .wait_for("results published", 20, |c| {
            c.published.load(Ordering::Relaxed) >= 10
        })
        .await;
    nats.kill();
    agent
        .wait_for("results buffered while the broker is away", 20, |c| {
            c.buffered.load(Ordering::Relaxed) >= 20
        })
        .await;
    nats.restart();
    agent
        .wait_for("the buffer resent", 30, |c| {
            let buffered = c.buffered.load(Ordering::Relaxed);
            c.resent.load(Ordering::Relaxed) == buffered
                && c.published.load(Ordering::Relaxed) + buffered
                    == c.results.load(Ordering::Relaxed)
        })
        .await;
    // A few more results after the broker came back, straight through.
    let published = agent.counters.published.load(Ordering::Relaxed);
    agent
        .wait_for("results published again", 20, |c| {
            c.published.load(Ordering::Relaxed) >= published + 5
        })
        .await;
    let report = agent.stop().await;
    assert_eq!(report.dropped, 0, "{report:?}");
    assert_eq!(report.waiting_bytes, 0, "{report:?}");
    assert_eq!(
        report.published + report.resent,
        report.results,
        "{report:?}"
    );
    // Each result in the stream once, none missing.
    assert_eq!(stream_results(&nats).await, report.results, "{report:?}");
    let got = central_reads(&nats.url(), "relaytest", report.results, 30).await;
    assert_eq!(got.len() as u64, report.results, "{report:?}");
    assert_eq!(
        sequences(&got).len() as u64,
        report.results,
        "no result twice"
    );
    // In the order they were made.
    let order: Vec<u64> = got.iter().map(|d| d.sequence).collect();
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_central_resumes_after_what_it_acknowledged() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let targets = targets();
    let buffer = dir.path().join("buffer");
    let agent = Agent::start(&targets.profile, "vp-three", &nats.url(), &buffer, 1 << 20);
    agent
        .wait_for("results published", 20, |c| {
            c.published.load(Ordering::Relaxed) >= 15
        })
        .await;
    let first = agent.stop().await;
    let first_sent = first.published + first.resent;
    let before = central_reads(&nats.url(), "relaytest", first_sent, 20).await;
    assert_eq!(before.len() as u64, first_sent);

    // The agent runs again while the central is away.
    let agent = Agent::start(&targets.profile, "vp-three", &nats.url(), &buffer, 1 << 20);
    agent
        .wait_for("more results published", 20, |c| {
            c.published.load(Ordering::Relaxed) >= 15
        })
        .await;
    let second = agent.stop().await;
    let second_sent = second.published + second.resent;
    let after = central_reads(&nats.url(), "relaytest", second_sent, 20).await;
    assert_eq!(after.len() as u64, second_sent, "only the new results");
    let old = sequences(&before);
    assert!(sequences(&after).iter().all(|s| !old.contains(s)));
    // The second run numbers its results after the first's.
    let last_before = before.iter().map(|d| d.sequence).max().unwrap();
    assert!(after.iter().all(|d| d.sequence > last_before));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_buffer_keeps_its_bound_counts_what_it_drops_and_sends_the_rest_later() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut nats) = NatsServer::start(dir.path()) else {
        return;
    };
    // The broker is away from the start.
    nats.kill();
    let targets = targets();
    let buffer = dir.path().join("buffer");
    let bound = 4096;
    let agent = Agent::start(&targets.profile, "vp-four", &nats.url(), &buffer, bound);
    agent
        .wait_for("results dropped", 30, |c| {
            c.dropped.load(Ordering::Relaxed) >= 5
        })
        .await;
    let on_disk = std::fs::metadata(buffer.join("results.log")).unwrap().len();
    assert!(on_disk <= bound, "{on_disk} bytes on disk");
    assert!(on_disk > bound / 2, "{on_disk} bytes on disk");
    nats.restart();
    agent
        .wait_for("the buffer resent", 30, |c| {
            let buffered = c.buffered.load(Ordering::Relaxed);
            buffered > 0 && c.resent.load(Ordering::Relaxed) == buffered
        })
        .await;
    let report = agent.stop().await;
    assert!(report.dropped >= 5, "{report:?}");
    assert_eq!(
        report.published + report.buffered + report.dropped,
        report.results,
        "{report:?}"
    );
    assert_eq!(
        stream_results(&nats).await,
        report.published + report.resent,
        "{report:?}"
    );
}

/// The central asks for a traceroute when an event starts; every agent runs it
/// from where it is (here toward 127.0.0.1 and ::1) and publishes the report
/// named after its vantage point, which the central reads beside the results.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_agent_traces_what_the_central_asks_and_reports_under_its_own_name() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let targets = targets();
    let agents: Vec<Agent> = ["vp-east", "vp-west"]
        .into_iter()
        .map(|vantage| {
            let buffer = dir.path().join(vantage);
            Agent::start(&targets.profile, vantage, &nats.url(), &buffer, 1 << 20)
        })
        .collect();
    // Connected, so subscribed to the requests (the subscription goes out first).
    for agent in &agents {
        agent
            .wait_for("a result published", 20, |c| {
                c.published.load(Ordering::Relaxed) >= 1
            })
            .await;
    }
    let (asks, requests) = mpsc::channel(8);
    let asker = tokio::spawn(ask_agents_for_traces(
        CentralConfig::new(&nats.url(), "relaytest"),
        requests,
    ));
    // Two for every vantage point, and one for vp-west alone (it was away when
    // its event started).
    for (event, address, vantage) in [
        ("ev-v4", "127.0.0.1", None),
        ("ev-v6", "::1", None),
        ("ev-owed", "127.0.0.1", Some("vp-west")),
    ] {
        asks.send(TraceRequest {
            event: EventId(event.into()),
            target: address.into(),
            address: address.parse().ok(),
            vantage: vantage.map(str::to_string),
        })
        .await
        .unwrap();
    }

    let (tx, mut rx) = mpsc::channel(1024);
    let counters = Arc::new(CentralCounters::default());
    let central = tokio::spawn(consume(
        CentralConfig::new(&nats.url(), "relaytest"),
        tx,
        Arc::clone(&counters),
    ));
    let mut traces: Vec<AgentTrace> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while traces.len() < 5 {
        let left = deadline.saturating_duration_since(Instant::now());
        let delivery = tokio::time::timeout(left, rx.recv())
            .await
            .unwrap_or_else(|_| panic!("5 trace reports not within 30 s: {traces:?}"))
            .unwrap();
        if let AgentMessage::Trace(trace) = &delivery.message {
            traces.push(trace.clone());
        }
        delivery.ack().await.unwrap();
    }
    central.abort();
    drop(asks);
    asker.await.unwrap().unwrap();
    assert_eq!(counters.rejected.load(Ordering::Relaxed), 0);

    let seen: BTreeSet<(String, String)> = traces
        .iter()
        .map(|t| (t.vantage.clone(), t.report.event.0.clone()))
        .collect();
    let expected: BTreeSet<(String, String)> = [
        ("vp-east", "ev-v4"),
        ("vp-east", "ev-v6"),
        ("vp-west", "ev-v4"),
        ("vp-west", "ev-v6"),
        ("vp-west", "ev-owed"),
    ]
    .into_iter()
    .map(|(v, e)| (v.to_string(), e.to_string()))
    .collect();
    assert_eq!(seen, expected, "one report per vantage point and request");
    for trace in &traces {
        assert_eq!(trace.report.vantage, trace.vantage);
        assert_eq!(trace.location.as_deref(), Some("the test's loopback"));
        let text = trace.report.describe();
        assert!(text.contains(&format!("from {}", trace.vantage)), "{text}");
        match &trace.report.failure {
            // With a raw socket (root, as the tests run in CI): loopback answers
            // at the first hop.
            None => {
                assert!(trace.report.reached, "{text}");
                assert_eq!(
                    trace.report.last_answering().and_then(|hop| hop.address),
                    trace.report.address,
                    "{text}"
                );
            }
            Some(why) => eprintln!("no trace could be made here: {why}"),
        }
    }
    for (agent, asked) in agents.into_iter().zip([2, 3]) {
        let report = agent.stop().await;
        assert_eq!(report.trace_requests, asked, "{report:?}");
        assert_eq!(report.traces, asked, "{report:?}");
    }
}

/// The central's consumer: (pending, unacknowledged).
async fn consumer_backlog(url: &str, durable: &str) -> Option<(u64, u64)> {
    let client = async_nats::connect(url).await.ok()?;
    let js = async_nats::jetstream::new(client);
    let stream = js.get_stream(STREAM).await.ok()?;
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        stream.get_consumer(durable).await.ok()?;
    let info = consumer.info().await.ok()?;
    Some((info.num_pending, info.num_ack_pending as u64))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_central_leaves_nothing_unacknowledged_across_trace_requests_and_a_broker_crash() {
    let dir = tempfile::tempdir().unwrap();
    let Some(mut nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let targets = targets();
    let agent = Agent::start(
        &targets.profile,
        "vp-ack",
        &nats.url(),
        &dir.path().join("buffer"),
        1 << 20,
    );
    // The central reads and acknowledges batch by batch, as watch does.
    let config = CentralConfig::new(&nats.url(), "relaytest");
    let durable = config.durable.clone();
    let (tx, mut rx) = mpsc::channel::<Delivery>(1024);
    let counters = Arc::new(CentralCounters::default());
    let consumer = tokio::spawn(consume(config.clone(), tx, Arc::clone(&counters)));
    let central = tokio::spawn(async move {
        let mut taken = 0u64;
        while let Some(first) = rx.recv().await {
            let mut batch = vec![first];
            while let Ok(next) = rx.try_recv() {
                batch.push(next);
            }
            taken += batch.len() as u64;
            if let Err(error) = ack_all(batch).await {
                eprintln!("ack: {error}");
            }
        }
        taken
    });
    let (asks, requests) = mpsc::channel(64);
    let asker = tokio::spawn(ask_agents_for_traces(config, requests));
    for round in 0..40u32 {
        if round % 4 == 0 {
            let _ = asks
                .send(TraceRequest {
                    event: EventId(format!("ev-{round}")),
                    target: "127.0.0.1".into(),
                    address: "127.0.0.1".parse().ok(),
                    vantage: None,
                })
                .await;
        }
        if round == 20 {
            nats.kill();
            tokio::time::sleep(Duration::from_millis(500)).await;
            nats.restart();
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let report = agent.stop().await;
    drop(asks);
    let _ = asker.await;
    let deadline = Instant::now() + Duration::from_secs(45);
    let mut backlog = None;
    while Instant::now() < deadline {
        backlog = consumer_backlog(&nats.url(), &durable).await;
        if backlog == Some((0, 0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    consumer.abort();
    eprintln!(
        "agent: {report:?}; stream {}; central received {}; backlog {backlog:?}",
        stream_results(&nats).await,
        counters.received.load(Ordering::Relaxed)
    );
    drop(central);
    assert_eq!(backlog, Some((0, 0)), "(pending, unacknowledged)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_that_comes_again_after_it_was_taken_is_marked_a_repeat() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let targets = targets();
    let agent = Agent::start(
        &targets.profile,
        "vp-again",
        &nats.url(),
        &dir.path().join("buffer"),
        1 << 20,
    );
    agent
        .wait_for("results published", 20, |c| {
            c.published.load(Ordering::Relaxed) >= 10
        })
        .await;
    let report = agent.stop().await;
    let sent = report.published + report.resent;
    let mut config = CentralConfig::new(&nats.url(), "relaytest");
    config.ack_wait = Duration::from_secs(1);
    let durable = config.durable.clone();
    let (tx, mut rx) = mpsc::channel::<Delivery>(1024);
    let counters = Arc::new(CentralCounters::default());
    let consumer = tokio::spawn(consume(config, tx, Arc::clone(&counters)));
    // Taken, and not acknowledged within the ack wait (as when the acks went
    // out to a broker that then died): they come again, marked.
    let mut first: Vec<Delivery> = Vec::new();
    let mut again: Vec<Delivery> = Vec::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    let results =
        |deliveries: &[Delivery]| deliveries.iter().map(|d| d.message.count()).sum::<u64>();
    while results(&again) < results(&first) || results(&first) < sent {
        let left = deadline.saturating_duration_since(Instant::now());
        let delivery = tokio::time::timeout(left, rx.recv())
            .await
            .expect("every result, then each again")
            .unwrap();
        if delivery.repeat {
            again.push(delivery);
        } else {
            first.push(delivery);
        }
    }
    let each = |deliveries: &[Delivery]| -> BTreeSet<(String, u64)> {
        deliveries
            .iter()
            .filter_map(|d| d.message.as_results().cloned())
            .flat_map(|results| results.into_each())
            .map(|r| (r.vantage, r.sequence))
            .collect()
    };
    let firsts = each(&first);
    let repeats = each(&again);
    assert_eq!(firsts.len() as u64, sent, "each result once, not marked");
    assert_eq!(repeats, firsts, "each again, marked a repeat");
    assert_eq!(counters.received.load(Ordering::Relaxed), sent);
    assert!(counters.repeats.load(Ordering::Relaxed) >= sent);
    ack_all(first).await.unwrap();
    ack_all(again).await.unwrap();
    // Acknowledged, nothing is left waiting (nor comes again).
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut backlog = None;
    while Instant::now() < deadline {
        backlog = consumer_backlog(&nats.url(), &durable).await;
        if backlog == Some((0, 0)) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    consumer.abort();
    assert_eq!(backlog, Some((0, 0)), "(pending, unacknowledged)");
}

/// The one stream of every profile that earlier versions made.
async fn make_shared_stream(url: &str) {
    let client = async_nats::connect(url).await.unwrap();
    let js = async_nats::jetstream::new(client);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: SHARED_STREAM.to_string(),
        subjects: vec!["blackout.>".to_string()],
        storage: async_nats::jetstream::stream::StorageType::File,
        duplicate_window: blackout_relay::DUPLICATE_WINDOW,
        ..Default::default()
    })
    .await
    .unwrap();
}

/// Runs an agent of the test profile until it has published 20 results;
/// returns how many it sent.
async fn agent_sends_20(url: &str, vantage: &str, buffer: &Path) -> u64 {
    let targets = targets();
    let agent = Agent::start(&targets.profile, vantage, url, buffer, 1 << 20);
    agent
        .wait_for("results published", 20, |c| {
            c.published.load(Ordering::Relaxed) >= 20
        })
        .await;
    let report = agent.stop().await;
    report.published + report.resent
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_earlier_versions_shared_stream_and_batch_acking_durable_are_read_then_left() {
    use async_nats::jetstream::consumer::{AckPolicy, pull};
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(dir.path()) else {
        return;
    };
    // An earlier version's broker: one stream for every profile. The agent's
    // results go there, since the profile's own stream would overlap it.
    make_shared_stream(&nats.url()).await;
    let sent = agent_sends_20(&nats.url(), "vp-old", &dir.path().join("buffer")).await;
    let client = async_nats::connect(nats.url()).await.unwrap();
    let js = async_nats::jetstream::new(client);
    assert!(js.get_stream(STREAM).await.is_err(), "no stream of its own");
    let shared = js.get_stream(SHARED_STREAM).await.unwrap();
    assert_eq!(results_in(&nats.url(), SHARED_STREAM).await, sent);

    // An earlier version's durable: one ack for a batch; it took the first two
    // messages.
    let config = CentralConfig::new(&nats.url(), "relaytest");
    let old: async_nats::jetstream::consumer::PullConsumer = shared
        .create_consumer(pull::Config {
            durable_name: Some(config.durable.clone()),
            filter_subject: "blackout.v1.relaytest.*.*".into(),
            ack_policy: AckPolicy::All,
            ..Default::default()
        })
        .await
        .unwrap();
    let mut batch = old.fetch().max_messages(2).messages().await.unwrap();
    let mut last = None;
    let mut taken = 0;
    while let Some(message) = futures_util::StreamExt::next(&mut batch).await {
        let message = message.unwrap();
        taken += message.headers.as_ref().map_or(1, results_of);
        last = Some(message);
    }
    last.unwrap().double_ack().await.unwrap();
    assert!(taken >= 2 && taken < sent, "{taken} of {sent}");

    let got = central_reads(&nats.url(), "relaytest", sent - taken, 20).await;
    assert_eq!(
        got.len() as u64,
        sent - taken,
        "only what the old one had not taken"
    );
    assert_eq!(sequences(&got).len() as u64, sent - taken, "none twice");
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        shared.get_consumer(&config.durable).await.unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
    assert_eq!(info.config.filter_subject, "blackout.v1.relaytest.*.*");

    // Read to its end, the shared stream is deleted: the next results go to the
    // profile's own stream, and a central reads them there, with no filter.
    js.delete_stream(SHARED_STREAM).await.unwrap();
    let again = agent_sends_20(&nats.url(), "vp-new", &dir.path().join("buffer-new")).await;
    let got = central_reads(&nats.url(), "relaytest", again, 20).await;
    assert_eq!(got.len() as u64, again);
    assert!(got.iter().all(|r| r.vantage == "vp-new"));
    let own = js.get_stream(STREAM).await.unwrap();
    assert_eq!(
        own.cached_info().config.subjects,
        ["blackout.v1.relaytest.*.*"]
    );
    let mut consumer: async_nats::jetstream::consumer::PullConsumer =
        own.get_consumer(&config.durable).await.unwrap();
    let info = consumer.info().await.unwrap();
    assert_eq!(info.config.filter_subject, "");
    assert_eq!(info.config.ack_policy, AckPolicy::Explicit);
}

/// The central's asker with trace requests only.
async fn ask_agents_for_traces(
    config: CentralConfig,
    requests: mpsc::Receiver<TraceRequest>,
) -> Result<(), blackout_relay::RelayError> {
    // No routes request: that channel is closed from the start.
    let (closed, vantages) = mpsc::channel(1);
    drop(closed);
    ask_agents(config, requests, vantages).await
}
