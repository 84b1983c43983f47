//! SQLite against PostgreSQL through the same `Store`: inserts of signal points
//! and events per second, and query latency, at a scale factor (1, 10, 100).
//! PostgreSQL is a scratch cluster on a unix socket with `synchronous_commit=off`,
//! the counterpart of SQLite's WAL with `synchronous=NORMAL` (a crash of the
//! process loses nothing committed; a power cut may lose the last commits).
//! Run by bench/store.sh, which also runs pgbench on the same kind of cluster.

mod common;

use blackout_model::{Entity, Event, Measure, SeriesKey, SeriesPoint, Timestamp, UpdateKind};
use blackout_store::scratch::ScratchCluster;
use blackout_store::{Db, EventQuery, Store};
use std::time::Instant;

struct Figures {
    points_per_sec: f64,
    events_per_sec: f64,
    list_ms: f64,
    one_ms: f64,
    range_ms: f64,
}

/// The `n`th event, spread over 16 upstreams.
fn event(n: usize) -> Event {
    common::upstream_cut(n, 64496 + (n % 16) as u32)
}

fn key(i: usize) -> SeriesKey {
    SeriesKey::new(
        format!("prefix:203.0.113.{}/32", i % 64)
            .parse::<Entity>()
            .unwrap(),
        "bgp.visibility".parse::<Measure>().unwrap(),
    )
}

fn measure(db: &Db, scale: usize) -> Figures {
    let mut store = Store::open_writer(db).expect("open");
    let points = 10_000 * scale;
    let started = Instant::now();
    for batch in 0..points / 1000 {
        let rows: Vec<SeriesPoint> = (0..1000)
            .map(|i| {
                let n = batch * 1000 + i;
                SeriesPoint {
                    key: key(n),
                    at: Timestamp::from_secs(n as i64 / 64),
                    value: 0.5,
                }
            })
            .collect();
        store.record_signals(&rows).expect("write points");
    }
    let points_per_sec = points as f64 / started.elapsed().as_secs_f64();
    let events = 1_000 * scale;
    let started = Instant::now();
    for chunk in 0..events / 100 {
        let owned: Vec<Event> = (0..100).map(|i| event(chunk * 100 + i)).collect();
        let changes: Vec<(UpdateKind, &Event)> =
            owned.iter().map(|e| (UpdateKind::Ended, e)).collect();
        store
            .record_events_of("bench", &changes)
            .expect("write events");
    }
    let events_per_sec = events as f64 / started.elapsed().as_secs_f64();
    let reader = Store::open_read_only(db).expect("reader");
    let queries = 200;
    let time = |work: &dyn Fn(usize)| {
        let started = Instant::now();
        for q in 0..queries {
            work(q);
        }
        started.elapsed().as_secs_f64() * 1000.0 / queries as f64
    };
    let list_ms = time(&|_| {
        let listed = reader
            .events(&EventQuery {
                limit: Some(50),
                ..EventQuery::default()
            })
            .expect("list");
        assert_eq!(listed.len(), 50);
    });
    let one_ms = time(&|q| {
        let wanted = event((q * 7919) % events);
        assert!(reader.event(&wanted.id.0).expect("one").is_some());
    });
    let range_ms = time(&|q| {
        let from = Timestamp::from_secs((q * 13 % (points / 64).max(1)) as i64);
        reader
            .signals(&key(q), from, from.add_secs(600))
            .expect("range");
    });
    Figures {
        points_per_sec,
        events_per_sec,
        list_ms,
        one_ms,
        range_ms,
    }
}

fn main() {
    let scale: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1);
    let dir = std::env::temp_dir().join(format!("blackout-store-compare-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let sqlite = measure(&Db::Sqlite(dir.join("bench.db")), scale);
    let cluster = ScratchCluster::start(&["synchronous_commit=off", "shared_buffers=128MB"])
        .unwrap_or_else(|why| panic!("no PostgreSQL: {why}"));
    let postgres = measure(&Db::parse(&cluster.url("bench")).expect("url"), scale);
    println!(
        "store {scale}x: {} signal points (batches of 1000), {} events with 8 evidence items (batches of 100), 200 queries each",
        10_000 * scale,
        1_000 * scale
    );
    println!(
        "{:<28} {:>14} {:>14} {:>10}",
        "", "sqlite", "postgres", "pg/sqlite"
    );
    let row = |name: &str, a: f64, b: f64| {
        println!("{name:<28} {a:>14.1} {b:>14.1} {:>10.2}", b / a);
    };
    row(
        "signal points/s",
        sqlite.points_per_sec,
        postgres.points_per_sec,
    );
    row("events/s", sqlite.events_per_sec, postgres.events_per_sec);
    row(
        "list 50 newest events, ms",
        sqlite.list_ms,
        postgres.list_ms,
    );
    row("one event by id, ms", sqlite.one_ms, postgres.one_ms);
    row("10 min of a series, ms", sqlite.range_ms, postgres.range_ms);
    if std::env::var_os("BLACKOUT_PGBENCH").is_some() {
        let socket = cluster.socket_dir().to_str().expect("utf-8").to_string();
        let base = ["-h", socket.as_str(), "-U", "blackout"];
        let init = [&base[..], &["-i", "-q", "-s", "1", "postgres"]].concat();
        cluster.run("pgbench", &init).expect("pgbench -i");
        for (what, flags) in [
            (
                "select-only, 1 client",
                &["-n", "-S", "-c", "1", "-T", "5"][..],
            ),
            ("tpc-b-like, 1 client", &["-n", "-c", "1", "-T", "5"][..]),
        ] {
            let args = [&base[..], flags, &["postgres"]].concat();
            let out = cluster.run("pgbench", &args).expect("pgbench");
            let tps = out
                .lines()
                .find(|l| l.starts_with("tps"))
                .unwrap_or("tps: ?");
            println!("pgbench {what}: {tps}");
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
