//! Relayed feed routes against a real nats-server (Debian's `nats-server` on a
//! loopback port, its store in a temporary directory): batches published the
//! way an agent publishes (with their `Nats-Msg-Id`) reach the central's
//! consumer as route inputs named after their vantage point, a batch resent is
//! stored once, and a restarted central resumes after what it acknowledged.
//! Without nats-server the tests say so and pass.

use async_nats::jetstream::{self, message::PublishMessage as Publish};
use blackout_model::subject::SCHEMA_VERSION;
use blackout_model::{AsPath, Asn, BgpInput, PeerKey, RouteChange, RouteUpdate, Timestamp};
use blackout_relay::{
    AgentMessage, AgentRoutes, CentralConfig, CentralCounters, MAX_ROUTES_PER_BATCH, consume,
    ensure_stream,
};
use blackout_testdata::nats::NatsServer;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::mpsc;

/// A table of `count` IPv6 /128s in 2001:db8::/32 (documentation space),
/// announced by one BMP peer, cut in batches as an agent cuts them.
fn table(vantage: &str, count: usize, first_sequence: u64) -> Vec<AgentRoutes> {
    let at = Timestamp::from_secs_f64(1_700_000_000.0);
    let peer = PeerKey {
        collector: Arc::from("bmp-edge"),
        ip: "192.0.2.1".parse().unwrap(),
        asn: Asn(64496),
    };
    let inputs: Vec<BgpInput> = (0..count)
        .map(|n| {
            let prefix = format!("2001:db8::{:x}/128", n).parse().unwrap();
            BgpInput::Route(RouteUpdate {
                at,
                peer: peer.clone(),
                prefix,
                path_id: None,
                change: RouteChange::Announce {
                    as_path: AsPath::from_sequence([64496, 64511]),
                },
            })
        })
        .collect();
    inputs
        .chunks(MAX_ROUTES_PER_BATCH)
        .enumerate()
        .map(|(n, chunk)| AgentRoutes {
            schema: SCHEMA_VERSION,
            profile: "relaytest".into(),
            vantage: vantage.into(),
            feed: "edge".into(),
            session: at,
            sequence: first_sequence + n as u64,
            sent_at: at,
            inputs: chunk.to_vec(),
        })
        .collect()
}

async fn publish(url: &str, batches: &[AgentRoutes]) {
    let client = async_nats::connect(url).await.unwrap();
    let js = jetstream::new(client);
    ensure_stream(&js, "relaytest").await.unwrap();
    for batch in batches {
        let encoded = batch.encode().unwrap();
        let publish = Publish::build()
            .payload(encoded.payload.into())
            .message_id(&encoded.id);
        js.send_publish(encoded.subject, publish)
            .await
            .unwrap()
            .await
            .unwrap();
    }
}

/// Reads as the central (a new process each time: it asks agents for their
/// routes again) until `done` says so of the route inputs that came (or 30 s
/// passed), acknowledging each delivery; returns the inputs.
async fn central_reads(url: &str, done: impl Fn(&[BgpInput]) -> bool) -> Read {
    let (tx, mut rx) = mpsc::channel(64);
    let counters = Arc::new(CentralCounters::default());
    let task = tokio::spawn(consume(
        CentralConfig::new(url, "relaytest"),
        tx,
        Arc::clone(&counters),
    ));
    let mut got = Read::default();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while !done(&got.inputs) {
        let Ok(Some(delivery)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            break;
        };
        got.take(&delivery.message);
        delivery.ack().await.unwrap();
    }
    // Nothing more comes within a moment.
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await {
        got.take(&extra.message);
    }
    assert_eq!(counters.rejected.load(Ordering::Relaxed), 0);
    task.abort();
    got
}

/// What a central read: route inputs, and feed health reports.
#[derive(Default)]
struct Read {
    inputs: Vec<BgpInput>,
    feeds: Vec<blackout_relay::AgentFeedHealth>,
}

impl Read {
    fn take(&mut self, message: &AgentMessage) {
        match message {
            AgentMessage::Routes(batch) => self.inputs.extend(batch.clone().into_inputs()),
            AgentMessage::Feed(report) => self.feeds.push(report.clone()),
            AgentMessage::Results(_) | AgentMessage::Trace(_) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_table_in_batches_reaches_the_central_once_named_by_its_vantage() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let count = 3 * MAX_ROUTES_PER_BATCH + 17;
    let batches = table("vp-east", count, 1);
    assert_eq!(batches.len(), 4);
    publish(&nats.url(), &batches).await;
    // Resent (as from the agent's buffer after a lost ack): stored once.
    publish(&nats.url(), &batches[2..]).await;

    let inputs = central_reads(&nats.url(), |got| got.len() >= count)
        .await
        .inputs;
    assert_eq!(inputs.len(), count);
    for input in &inputs {
        let BgpInput::Route(update) = input else {
            panic!("not a route: {input:?}");
        };
        assert_eq!(&*update.peer.collector, "vp-east/bmp-edge");
    }

    // A restarted central (same durable) gets only what came after.
    let later = table("vp-east", 5, 100);
    publish(&nats.url(), &later).await;
    let resumed = central_reads(&nats.url(), |got| got.len() >= 5)
        .await
        .inputs;
    assert_eq!(resumed.len(), 5);
}

/// BIRD 2 on loopback announces 1,533 routes (every prefix from /24 to /32
/// of the three IPv4 documentation /24s) to an agent's passive BGP feed: every
/// route reaches the central once, named after the agent's vantage point; the
/// central, which asks for the routes as it starts, gets the table again as a
/// new session; and when BIRD dies the peer's loss reaches it too. Needs root
/// and BIRD.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agents_bgp_feed_reaches_the_central_as_routes_named_by_its_vantage() {
    use blackout_model::PrefixFilter;
    use blackout_profile::{FeedConfig, SessionMode};
    use blackout_relay::{AgentConfig, AgentCounters, RelayedFeed, run_agent};
    use blackout_testdata::daemons::{bird_missing, start_bird};
    use blackout_testdata::nats::free_port;

    if let Some(why) = bird_missing() {
        eprintln!("SKIPPED: an_agents_bgp_feed_reaches_the_central: {why}");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let mut announced = std::collections::BTreeSet::new();
    for base in ["192.0.2", "198.51.100", "203.0.113"] {
        for length in 24..=32u32 {
            let step = 1u32 << (32 - length);
            for start in (0..256).step_by(step as usize) {
                announced.insert(format!("{base}.{start}/{length}"));
            }
        }
    }
    assert_eq!(announced.len(), 1533);
    let (ours, birds) = (free_port(), free_port());
    let feed = FeedConfig::Bgp {
        peer: "127.0.0.2".parse().unwrap(),
        peer_as: Asn(64497),
        local_as: Asn(64496),
        router_id: "192.0.2.1".parse().unwrap(),
        mode: SessionMode::Passive,
        port: ours,
    };
    let profile = blackout_profile::load_str(
        r#"
name = "relaytest"
[[network]]
name = "Documentation"
asn = 64497
prefixes = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]
[[upstream]]
asn = 64496
name = "Loopback transit"
role = "primary"
[[host]]
name = "loopback.test"
address = "127.0.0.1"
checks = ["tcp:9"]
[probes]
interval_secs = 5
"#,
        "relaytest.toml",
    )
    .unwrap();
    let counters = Arc::new(AgentCounters::default());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_agent(
        AgentConfig {
            profile,
            vantage: "vp-east".into(),
            location: None,
            nats: nats.url(),
            buffer_dir: dir.path().join("buffer"),
            buffer_max_bytes: 4 << 20,
            feeds: vec![RelayedFeed::from_config(&feed, &PrefixFilter::everything())],
        },
        Arc::clone(&counters),
        async move {
            let _ = stopped.await;
        },
    ));
    let statics: String = announced
        .iter()
        .map(|prefix| format!("route {prefix} blackhole; "))
        .collect();
    let bird = start_bird(
        dir.path(),
        &format!(
            r#"
router id 192.0.2.2;
protocol device {{}}
protocol static s4 {{ ipv4; {statics}}}
protocol bgp blackout {{
  local 127.0.0.2 port {birds} as 64497;
  neighbor 127.0.0.1 port {ours} as 64496;
  multihop;
  connect retry time 1;
  ipv4 {{ import none; export all; }};
}}
"#
        ),
    );

    // The agent holds BIRD's table before any central reads.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while (counters.routes.load(Ordering::Relaxed) as usize) < announced.len() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "BIRD's routes did not reach the agent: {}",
            bird.log_text()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let routes = |inputs: &[BgpInput]| {
        let mut got = std::collections::BTreeSet::new();
        for input in inputs {
            let BgpInput::Route(update) = input else {
                panic!("not a route: {input:?}");
            };
            assert_eq!(&*update.peer.collector, "vp-east/bgp:127.0.0.2");
            assert_eq!(update.peer.asn, Asn(64497));
            let RouteChange::Announce { as_path } = &update.change else {
                panic!("not an announcement: {update:?}");
            };
            assert_eq!(as_path, &AsPath::from_sequence([64497]));
            assert!(got.insert(update.prefix.to_string()), "twice: {update:?}");
        }
        got
    };
    // The central, as it starts, asks for the routes again: it gets the table
    // as the agent relayed it, then once more as a new session.
    let read = central_reads(&nats.url(), |got| got.len() >= 2 * announced.len()).await;
    // The feed's health came too, named after the vantage point at the central.
    let up = read
        .feeds
        .iter()
        .find(|report| report.state == blackout_feeds::FeedState::Up)
        .expect("the feed's health, up");
    assert_eq!(
        up.clone().into_health().feed.to_string(),
        "bgp:vp-east/127.0.0.2"
    );
    let read = read.inputs;
    assert_eq!(read.len(), 2 * announced.len());
    let (relayed, resent) = read.split_at(announced.len());
    assert_eq!(routes(relayed), announced, "every route once");
    assert_eq!(routes(resent), announced, "the table once more");
    assert_eq!(
        counters.routes.load(Ordering::Relaxed) as usize,
        announced.len()
    );
    assert_eq!(counters.route_requests.load(Ordering::Relaxed), 1);

    // A central that misses this agent's table asks it by name (the watch does
    // when the feed's health shows peers but no routes came): a request for
    // another vantage point is not this agent's; its own sends the table again.
    let (vantages, asked) = mpsc::channel(4);
    // No trace request: that channel is closed from the start.
    let (closed, traces) = mpsc::channel(1);
    drop(closed);
    let asker = tokio::spawn(blackout_relay::ask_agents(
        CentralConfig::new(&nats.url(), "relaytest"),
        traces,
        asked,
    ));
    let batches = counters.route_batches.load(Ordering::Relaxed);
    vantages.send("vp-west".to_string()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(counters.route_requests.load(Ordering::Relaxed), 1);
    assert_eq!(counters.route_batches.load(Ordering::Relaxed), batches);
    vantages.send("vp-east".to_string()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while counters.route_requests.load(Ordering::Relaxed) < 2 {
        assert!(tokio::time::Instant::now() < deadline, "not asked by name");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    drop(vantages);
    asker.await.unwrap().unwrap();

    // BIRD gone: the session's loss reaches the central as the peer's down
    // (after the table sent again for this central, when it asked first).
    drop(bird);
    let down = central_reads(&nats.url(), |got| {
        got.iter().any(|input| {
            matches!(input, BgpInput::PeerDown { peer, .. }
                if &*peer.collector == "vp-east/bgp:127.0.0.2")
        })
    })
    .await
    .inputs;
    assert!(
        down.iter()
            .any(|input| matches!(input, BgpInput::PeerDown { .. })),
        "no peer loss in {} inputs",
        down.len()
    );
    let _ = stop.send(());
    let report = agent.await.unwrap().unwrap();
    assert_eq!((report.dropped, report.waiting_bytes), (0, 0));
    assert!(report.route_batches >= 2, "{report:?}");
}
