//! Rough throughput of the API on loopback: a store with 1,000 events and 100,000
//! signal points, and 4 keep-alive clients per route for 3 seconds each.
//!
//! `cargo run --release -p blackout-api --example api_load [sqlite|postgres]`: the
//! store in a SQLite file (the default), or in a scratch PostgreSQL cluster of its
//! own (Debian's `postgresql`; as root it runs as the user `postgres`).

use blackout_api::{Metrics, Publisher, Status};
use blackout_model::{
    Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use blackout_model::{Measure, SeriesPoint, UpdateKind};
use blackout_store::scratch::ScratchCluster;
use blackout_store::{Db, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

fn event(i: i64, start: Timestamp) -> Event {
    let entity = Entity::Host(format!("host{i}.example"));
    Event {
        id: EventId::derive(&entity, start, Cause::Service),
        entity,
        cause: Cause::Service,
        severity: Severity::Warning,
        confidence: 0.6,
        start,
        end: Some(start.add_secs(300)),
        scope: Scope::default(),
        summary: format!("host{i} stopped answering HTTP"),
        evidence: (0..5)
            .map(|k| Evidence {
                at: start.add_secs(k * 30),
                signal: SignalKind::ProbeHttp,
                text: "timeout".into(),
                value: None,
            })
            .collect(),
    }
}

/// Sends `path` over one keep-alive connection until `deadline`; counts answers.
async fn client(addr: SocketAddr, path: String, deadline: Instant, count: Arc<AtomicU64>) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
    let mut buffer = vec![0u8; 1 << 20];
    while Instant::now() < deadline {
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut got = Vec::new();
        loop {
            let n = stream.read(&mut buffer).await.expect("read");
            assert!(n > 0, "closed");
            got.extend_from_slice(&buffer[..n]);
            if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                assert!(head.starts_with("http/1.1 200"), "{head}");
                let length: usize = head
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .expect("content-length");
                if got.len() >= end + 4 + length {
                    break;
                }
            }
        }
        count.fetch_add(1, Ordering::Relaxed);
    }
}

#[tokio::main(flavor = "multi_thread")]
async fn main() {
    let dir = tempfile::tempdir().expect("temp dir");
    let backend = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "sqlite".to_string());
    let (db, _cluster) = match backend.as_str() {
        "sqlite" => (Db::Sqlite(dir.path().join("load.db")), None),
        "postgres" => {
            let cluster = ScratchCluster::start(&[]).expect("a scratch PostgreSQL cluster");
            let db = Db::parse(&cluster.url("api_load")).expect("its URL");
            (db, Some(cluster))
        }
        other => panic!("usage: api_load [sqlite|postgres], not {other}"),
    };
    println!("store: {db}");
    let now = Timestamp::from_secs(1_700_000_000);
    {
        let mut store = Store::open_writer(db.clone()).expect("store");
        let events: Vec<Event> = (0..1000)
            .map(|i| event(i, now.add_secs(-i * 600)))
            .collect();
        let changes: Vec<(UpdateKind, &Event)> =
            events.iter().map(|e| (UpdateKind::Started, e)).collect();
        store.record_events(&changes).expect("events");
        let points: Vec<SeriesPoint> = (0..100_000)
            .map(|i| {
                let prefix = format!("192.0.2.{}/32", i % 10);
                SeriesPoint::new(
                    Entity::Prefix(prefix.parse().expect("a prefix")),
                    Measure::Visibility,
                    now.add_secs(-(i / 10) * 8),
                    1.0,
                )
            })
            .collect();
        store.record_signals(&points).expect("signals");
    }
    let publisher = Publisher::new(Status::default(), Arc::new(Metrics::new()));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(blackout_api::serve(
        listener,
        publisher.api_state(db),
        std::future::pending(),
    ));
    let until = now.add_secs(1);
    let from = now.add_secs(-86_400);
    for path in [
        "/api/v1/status".to_string(),
        "/metrics".to_string(),
        "/api/v1/events?limit=100".to_string(),
        format!(
            "/api/v1/signals?entity=prefix:192.0.2.1/32&signal=bgp.visibility&from={}&until={}",
            from.as_secs(),
            until.as_secs()
        ),
    ] {
        let count = Arc::new(AtomicU64::new(0));
        let deadline = Instant::now() + Duration::from_secs(3);
        let started = Instant::now();
        let tasks: Vec<_> = (0..4)
            .map(|_| tokio::spawn(client(addr, path.clone(), deadline, Arc::clone(&count))))
            .collect();
        for task in tasks {
            task.await.expect("client");
        }
        let n = count.load(Ordering::Relaxed);
        println!(
            "{:>8.0} requests/s  {}",
            n as f64 / started.elapsed().as_secs_f64(),
            path.split('&').next().unwrap_or(&path)
        );
    }
}
