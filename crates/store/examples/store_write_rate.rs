//! The store's write rate on a real SQLite file: signal points in batches, and
//! events with evidence. Prints rows per second. Run by bench/detector.sh.

mod common;

use blackout_model::{Entity, Event, Measure, SeriesPoint, Timestamp, UpdateKind};
use blackout_store::Store;
use std::time::Instant;

fn main() {
    let dir = std::env::temp_dir().join(format!("blackout-store-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let path = dir.join("bench.db");
    let mut store = Store::open(&path).expect("open");
    let (batches, batch) = (1_000, 1_000);
    let started = Instant::now();
    for b in 0..batches {
        let points: Vec<SeriesPoint> = (0..batch)
            .map(|i| {
                SeriesPoint::new(
                    format!("prefix:175.45.{}.0/24", 176 + i % 4)
                        .parse::<Entity>()
                        .unwrap(),
                    "bgp.visibility".parse::<Measure>().unwrap(),
                    Timestamp::from_micros((b * batch + i) as i64 * 1000),
                    0.5,
                )
            })
            .collect();
        store.record_signals(&points).expect("write");
    }
    let signal_secs = started.elapsed().as_secs_f64();
    let started = Instant::now();
    let events = 20_000;
    for chunk in 0..(events / 100) {
        let owned: Vec<Event> = (0..100)
            .map(|i| {
                let n = chunk * 100 + i;
                common::upstream_cut(n, n as u32)
            })
            .collect();
        let changes: Vec<(UpdateKind, &Event)> =
            owned.iter().map(|e| (UpdateKind::Ended, e)).collect();
        store.record_events(&changes).expect("write events");
    }
    let event_secs = started.elapsed().as_secs_f64();
    let points = batches * batch;
    println!(
        "store: {points} signal points in {signal_secs:.2} s ({:.0} points/s, batches of {batch}); {events} events with 8 evidence items in {event_secs:.2} s ({:.0} events/s, batches of 100)",
        points as f64 / signal_secs,
        events as f64 / event_secs
    );
    let _ = std::fs::remove_dir_all(&dir);
}
