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
    ensure_stream(&js).await.unwrap();
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

/// Reads as the central until `routes` route inputs came (or 30 s passed),
/// acknowledging each delivery; returns the inputs.
async fn central_reads(url: &str, routes: usize) -> Vec<BgpInput> {
    let (tx, mut rx) = mpsc::channel(64);
    let counters = Arc::new(CentralCounters::default());
    let task = tokio::spawn(consume(
        CentralConfig::new(url, "relaytest"),
        tx,
        Arc::clone(&counters),
    ));
    let mut got = Vec::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while got.len() < routes {
        let Ok(Some(delivery)) = tokio::time::timeout_at(deadline, rx.recv()).await else {
            break;
        };
        if let AgentMessage::Routes(batch) = &delivery.message {
            got.extend(batch.clone().into_inputs());
        }
        delivery.ack().await.unwrap();
    }
    // Nothing more comes within a moment.
    if let Ok(Some(extra)) = tokio::time::timeout(Duration::from_millis(500), rx.recv()).await
        && let AgentMessage::Routes(batch) = &extra.message
    {
        got.extend(batch.clone().into_inputs());
    }
    assert_eq!(counters.rejected.load(Ordering::Relaxed), 0);
    task.abort();
    got
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

    let inputs = central_reads(&nats.url(), count).await;
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
    let resumed = central_reads(&nats.url(), 5).await;
    assert_eq!(resumed.len(), 5);
}
