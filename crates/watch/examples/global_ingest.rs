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
use flate2::read::GzDecoder;
use futures_util::{SinkExt, StreamExt};
use std::io::{BufRead, BufReader, Write};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

struct Route {
    peer: IpAddr,
    peer_as: u32,
    prefix: ipnet::IpNet,
    path: Vec<u32>,
}

fn fail(what: impl std::fmt::Display) -> ! {
    eprintln!("global_ingest: {what}");
    std::process::exit(1)
}

fn load(data: &Path) -> Vec<Route> {
    let path = data.join("text/ris-rrc06_bview.20100701.0759.bgpdump-m.txt.gz");
    let file =
        std::fs::File::open(&path).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    let mut routes = Vec::new();
    for line in BufReader::new(GzDecoder::new(file)).lines() {
        let Ok(line) = line else { break };
        let fields: Vec<&str> = line.split('|').collect();
        let (Some(peer), Some(peer_as), Some(prefix), Some(path)) =
            (fields.get(3), fields.get(4), fields.get(5), fields.get(6))
        else {
            continue;
        };
        let (Ok(peer), Ok(peer_as), Ok(prefix)) = (peer.parse(), peer_as.parse(), prefix.parse())
        else {
            continue;
        };
        let path: Vec<u32> = path.split(' ').filter_map(|a| a.parse().ok()).collect();
        routes.push(Route {
            peer,
            peer_as,
            prefix,
            path,
        });
    }
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

/// One Route Monitoring message (BMP v3, global pre-policy peer, 4-byte AS).
fn route_monitoring(route: &Route, secs: u32, out: &mut Vec<u8>) {
    let mut update = Vec::new();
    let (prefix_len, octets) = match route.prefix {
        ipnet::IpNet::V4(net) => (net.prefix_len(), net.addr().octets().to_vec()),
        ipnet::IpNet::V6(net) => (net.prefix_len(), net.addr().octets().to_vec()),
    };
    let nlri: Vec<u8> = std::iter::once(prefix_len)
        .chain(octets.into_iter().take(usize::from(prefix_len).div_ceil(8)))
        .collect();
    let mut attrs = vec![0x40, 1, 1, 0];
    let segment_len = 2 + 4 * route.path.len();
    attrs.extend_from_slice(&[0x50, 2]);
    attrs.extend_from_slice(&(segment_len as u16).to_be_bytes());
    attrs.extend_from_slice(&[2, route.path.len() as u8]);
    for asn in &route.path {
        attrs.extend_from_slice(&asn.to_be_bytes());
    }
    attrs.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
    update.extend_from_slice(&[0, 0]);
    update.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
    update.extend_from_slice(&attrs);
    update.extend_from_slice(&nlri);
    let bgp_len = 19 + update.len();
    let total = 6 + 42 + bgp_len;
    out.push(3);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.push(0);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&[0; 8]);
    match route.peer {
        IpAddr::V4(v4) => {
            out.extend_from_slice(&[0; 12]);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
    out.extend_from_slice(&route.peer_as.to_be_bytes());
    out.extend_from_slice(&[192, 0, 2, 9]);
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&(bgp_len as u16).to_be_bytes());
    out.push(2);
    out.extend_from_slice(&update);
}

fn ris_json(route: &Route, time: f64) -> String {
    let path: Vec<String> = route.path.iter().map(u32::to_string).collect();
    format!(
        r#"{{"type":"ris_message","data":{{"timestamp":{time},"peer":"{}","peer_asn":"{}","id":"x","host":"rrc06","type":"UPDATE","path":[{}],"community":[[2497,100]],"origin":"igp","announcements":[{{"next_hop":"{}","prefixes":["{}"]}}]}}}}"#,
        route.peer,
        route.peer_as,
        path.join(","),
        route.peer,
        route.prefix
    )
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
        route_monitoring(route, 1_277_971_199 + (i / 1000) as u32, &mut stream);
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
        .map(|(i, r)| ris_json(r, 1_277_971_199.0 + i as f64 / 1000.0))
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
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
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
