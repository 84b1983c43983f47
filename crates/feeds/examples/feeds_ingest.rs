//! Ingest throughput of the live feeds, on one core, with the `kp` watch set:
//!
//! - BMP Route Monitoring: framing + decoding + the router session + `BgpState::apply`,
//!   over the 641,957 routes of the real rrc06 RIB (`text/ris-rrc06_bview…`, 2010),
//!   each encoded here as one pre-policy Route Monitoring message, with one message in
//!   a hundred about 175.45.176.0/24 (announced and withdrawn in turn, so that the
//!   state has work to do);
//! - RIS Live JSON: parsing + `BgpState::apply` over the same routes as RIS Live
//!   `ris_message` UPDATEs, shaped like the real one in `rislive/`.
//!
//! Run by `bench/feeds.sh`; prints figures. Usage: `feeds_ingest [DATA_DIR] [ROUNDS]`.

use blackout_bgp::{BgpState, Vrps, WatchSet};
use blackout_feeds::bmp::BmpFramer;
use blackout_feeds::{BmpOptions, BmpRouter, BmpViews, RisLiveSession};
use blackout_model::PrefixFilter;
use blackout_model::Timestamp;
use blackout_testdata::rib::{self, Route};
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

fn kp_route(i: usize) -> Route {
    Route {
        peer: "202.249.2.169"
            .parse()
            .unwrap_or(IpAddr::from([0, 0, 0, 0])),
        peer_as: 2497,
        prefix: "175.45.176.0/24".parse().unwrap_or_default(),
        path: if i.is_multiple_of(2) {
            vec![2497, 4837, 131279]
        } else {
            vec![]
        },
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let data = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(blackout_testdata::root);
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let profile = match blackout_profile::builtin("kp") {
        Ok(profile) => profile,
        Err(e) => {
            eprintln!("kp profile: {e}");
            std::process::exit(1)
        }
    };
    let watch = WatchSet::from_profile(&profile);
    let filter = PrefixFilter::new(watch.all_prefixes());
    let mut routes = rib::routes(&data).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let base = routes.len();
    // One message in a hundred concerns the watched network.
    let mut mixed = Vec::with_capacity(base + base / 99);
    for (i, route) in routes.drain(..).enumerate() {
        mixed.push(route);
        if i.is_multiple_of(99) {
            mixed.push(kp_route(i / 99));
        }
    }
    let routes = mixed;
    let mut stream = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        rib::route_monitoring(route, 1_277_971_199 + (i / 1000) as u32, &mut stream);
    }
    println!(
        "input: {} Route Monitoring messages ({} MB), {} about the watched network",
        routes.len(),
        stream.len() / 1_000_000,
        routes.len() - base
    );
    let options = Arc::new(BmpOptions {
        views: BmpViews::default(),
        filter: filter.clone(),
    });
    for round in 1..=rounds {
        let mut state = BgpState::new(watch.clone(), Vrps::default());
        let mut router = BmpRouter::new(
            "192.0.2.1".parse().unwrap_or(IpAddr::from([0, 0, 0, 0])),
            Arc::clone(&options),
        );
        let mut framer = BmpFramer::new();
        let mut out = Vec::new();
        let mut changes = 0usize;
        let now = Timestamp::from_secs(1_277_971_199);
        let start = Instant::now();
        // Delivered in 64 KiB reads, as a socket would.
        for chunk in stream.chunks(64 * 1024) {
            framer.push(chunk);
            while let Ok(Some(message)) = framer.next_message() {
                router.handle_bytes(now, message, &mut out);
            }
            for input in out.drain(..) {
                changes += state.apply(&input).len();
            }
        }
        let secs = start.elapsed().as_secs_f64();
        let stats = router.stats();
        println!(
            "BMP round {round}: {} messages in {secs:.3} s = {:.0} messages/s ({:.0} MB/s); {} announcements, {} withdrawals passed on, {} state changes",
            stats.messages,
            stats.messages as f64 / secs,
            stream.len() as f64 / secs / 1e6,
            stats.announcements,
            stats.withdrawals,
            changes
        );
    }
    let texts: Vec<String> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| rib::ris_live_update(r, 1_277_971_199.0 + i as f64 / 1000.0))
        .collect();
    let bytes: usize = texts.iter().map(String::len).sum();
    for round in 1..=rounds {
        let mut state = BgpState::new(watch.clone(), Vrps::default());
        let mut session = RisLiveSession::new(filter.clone());
        let mut out = Vec::new();
        let mut changes = 0usize;
        let now = Timestamp::from_secs(1_277_971_199);
        let start = Instant::now();
        for text in &texts {
            session.handle(now, text, &mut out);
            for input in out.drain(..) {
                changes += state.apply(&input).len();
            }
        }
        let secs = start.elapsed().as_secs_f64();
        println!(
            "RIS Live round {round}: {} messages in {secs:.3} s = {:.0} messages/s ({:.0} MB/s); {} state changes",
            texts.len(),
            texts.len() as f64 / secs,
            bytes as f64 / secs / 1e6,
            changes
        );
    }
}
