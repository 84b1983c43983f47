//! Live full-feed ingest in global mode, over loopback, on one thread: the real
//! feeds (a `BmpStation` accepting a router on 127.0.0.1, a RIS Live client
//! connected to a websocket server on 127.0.0.1) hand their route inputs to an
//! `Engine` that watches every country and origin AS (`--global`, countries from
//! the range CSVs of ../shared/data/geo), as `blackout watch --global` does.
//!
//! The routes are the 641,957 of the real rrc06 RIB (`text/ris-rrc06_bview…`,
//! 2010), each sent as one BMP Route Monitoring message or one RIS Live
//! `ris_message` UPDATE; the same routes once more with every full-feed path moved
//! to the other peer's path make the second half of the stream (churn, so the
//! state has work beyond learning). The sender runs in the same process (a thread
//! for BMP, a task for RIS Live): run under `taskset -c 0`, the figure is what one
//! core does, sending included.
//!
//! The time is from the first route input to the last (the feed is read until it
//! has been quiet for two seconds). Run by `bench/global.sh`; prints `key=value`
//! lines.
//! Usage: `global_ingest DATA_DIR [ROUNDS] [ROUTES]` (ROUTES: send only the first ones).

use blackout_bgp::{GlobalSet, Tracking, Vrps};
use blackout_engine::{Engine, EngineConfig, Input};
use blackout_feeds::{
    BmpOptions, BmpStation, BmpStationConfig, BmpViews, FeedEvent, RisLiveConfig, run_ris_live,
};
use blackout_model::{BgpInput, PrefixFilter};
use blackout_testdata::rib::{self, Route};
use futures_util::{SinkExt, StreamExt};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("global_ingest: {what}");
    std::process::exit(1)
}

fn load(data: &Path) -> Vec<Route> {
    let mut routes = rib::routes(data).unwrap_or_else(|e| fail(e));
    // The churn: each route again, its path moved to the other full-feed peer's
    // (their first hops swapped), as paths change through a day.
    let churn: Vec<Route> = routes
        .iter()
        .map(|r| {
            let mut path = r.path.clone();
            if let Some(first) = path.first_mut() {
                *first = if *first == 2497 { 4777 } else { 2497 };
            }
            Route {
                peer: r.peer,
                peer_as: r.peer_as,
                prefix: r.prefix,
                path,
            }
        })
        .collect();
    routes.extend(churn);
    routes
}

fn engine(geo: &Arc<blackout_geo::GeoMap>) -> Engine {
    let profile = blackout_profile::builtin("kp").unwrap_or_else(|e| fail(e));
    let countries: Arc<dyn blackout_model::CountryLookup> = geo.clone();
    let tracking = Tracking::Global(GlobalSet::new(
        countries,
        profile.thresholds.full_feed_ratio,
    ));
    let mut config = EngineConfig::live(profile, Vrps::default());
    config.profile.networks.clear();
    config.profile.hosts.clear();
    config.profile.zones.clear();
    config.profile.mail.clear();
    config.profile.controls.clear();
    config.tracking = tracking;
    Engine::new(config)
}

/// Feeds the engine the feed's inputs until none has come for two seconds; returns
/// how many route inputs went in, the seconds from the first to the last, and how
/// many event updates came out.
async fn drain(engine: &mut Engine, events: &mut mpsc::Receiver<FeedEvent>) -> (usize, f64, usize) {
    let mut seen = 0usize;
    let mut updates = 0usize;
    let mut first: Option<Instant> = None;
    let mut last = Instant::now();
    loop {
        let wait = if first.is_some() { 2 } else { 60 };
        let event = match tokio::time::timeout(Duration::from_secs(wait), events.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) | Err(_) => break,
        };
        if let FeedEvent::Input(input) = event {
            let route = matches!(input, BgpInput::Route(_));
            let at = input.at();
            updates += engine.step(at, Input::Bgp(input)).updates.len();
            if route {
                seen += 1;
                first.get_or_insert_with(Instant::now);
                last = Instant::now();
            }
        }
    }
    let secs = first.map_or(0.0, |f| last.duration_since(f).as_secs_f64());
    (seen, secs, updates)
}

async fn bmp_round(routes: &[Route], geo: &Arc<blackout_geo::GeoMap>) -> (usize, f64, usize) {
    let mut stream = Vec::new();
    for (i, route) in routes.iter().enumerate() {
        rib::route_monitoring(route, 1_277_971_199 + (i / 1000) as u32, &mut stream);
    }
    let station = BmpStation::bind(BmpStationConfig {
        listen: "127.0.0.1:0".parse().unwrap_or_else(|e| fail(e)),
        allow: vec![IpAddr::from([127, 0, 0, 1])],
        options: BmpOptions {
            views: BmpViews::default(),
            filter: PrefixFilter::everything(),
        },
        health_interval: Duration::from_secs(3600),
        stall_timeout: blackout_feeds::bmp::DEFAULT_STALL_TIMEOUT,
    })
    .await
    .unwrap_or_else(|e| fail(e));
    let addr = station.local_addr().unwrap_or_else(|e| fail(e));
    let (tx, mut rx) = mpsc::channel(4096);
    let running = tokio::spawn(station.run(tx));
    let router = std::thread::spawn(move || {
        let mut socket = std::net::TcpStream::connect(addr).unwrap_or_else(|e| fail(e));
        socket.write_all(&stream).unwrap_or_else(|e| fail(e));
        // Held open until the station has read everything.
        socket
    });
    let mut engine = engine(geo);
    let result = drain(&mut engine, &mut rx).await;
    drop(router.join());
    running.abort();
    result
}

async fn ris_live_round(routes: &[Route], geo: &Arc<blackout_geo::GeoMap>) -> (usize, f64, usize) {
    let texts: Vec<String> = routes
        .iter()
        .enumerate()
        .map(|(i, r)| rib::ris_live_update(r, 1_277_971_199.0 + i as f64 / 1000.0))
        .collect();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| fail(e));
    let addr = listener.local_addr().unwrap_or_else(|e| fail(e));
    let server = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap_or_else(|e| fail(e));
        let ws = tokio_tungstenite::accept_async(tcp)
            .await
            .unwrap_or_else(|e| fail(e));
        let (mut sink, mut incoming) = ws.split();
        // Subscriptions and pings are read and let be.
        tokio::spawn(async move { while let Some(Ok(_)) = incoming.next().await {} });
        for text in texts {
            if sink.send(Message::text(text)).await.is_err() {
                return;
            }
        }
        // Held open until the client has read everything.
        tokio::time::sleep(Duration::from_secs(3600)).await;
    });
    let config = RisLiveConfig::new(
        format!("ws://{addr}/v1/ws/?client=blackout-bench"),
        PrefixFilter::everything(),
    );
    let (tx, mut rx) = mpsc::channel(4096);
    let client = tokio::spawn(run_ris_live(config, tx));
    let mut engine = engine(geo);
    let result = drain(&mut engine, &mut rx).await;
    client.abort();
    server.abort();
    result
}

fn main() {
    let mut args = std::env::args().skip(1);
    let data = args
        .next()
        .map(PathBuf::from)
        .unwrap_or_else(blackout_testdata::root);
    let rounds: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(3);
    let geo = Arc::new(
        blackout_geo::load_files(&[
            data.join("geo/geo-whois-asn-country-ipv4.20260617.csv.gz"),
            data.join("geo/geo-whois-asn-country-ipv6.20260617.csv.gz"),
        ])
        .unwrap_or_else(|e| fail(e))
        .map,
    );
    let mut routes = load(&data);
    if let Some(most) = args.next().and_then(|r| r.parse().ok()) {
        routes.truncate(most);
    }
    println!("routes={}", routes.len());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| fail(e));
    for (name, round) in [("bmp", 0), ("rislive", 1)] {
        let mut best = f64::INFINITY;
        let mut routes_in = 0;
        let mut updates = 0;
        for _ in 0..rounds {
            let (seen, secs, events) = runtime.block_on(async {
                if round == 0 {
                    bmp_round(&routes, &geo).await
                } else {
                    ris_live_round(&routes, &geo).await
                }
            });
            if secs > 0.0 && secs < best {
                best = secs;
                routes_in = seen;
            }
            updates = events;
        }
        println!("{name}_routes={routes_in}");
        println!("{name}_seconds={best:.3}");
        println!("{name}_routes_per_second={:.0}", routes_in as f64 / best);
        println!("{name}_event_updates={updates}");
    }
}
