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
use flate2::read::GzDecoder;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

struct Route {
    peer: IpAddr,
    peer_as: u32,
    prefix: ipnet::IpNet,
    path: Vec<u32>,
}

fn load(data: &Path) -> Vec<Route> {
    let path = data.join("text/ris-rrc06_bview.20100701.0759.bgpdump-m.txt.gz");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| {
        eprintln!("{}: {e}", path.display());
        std::process::exit(1)
    });
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
        // Sets are rare in 2010 and left out of this benchmark's paths.
        let path: Vec<u32> = path.split(' ').filter_map(|a| a.parse().ok()).collect();
        routes.push(Route {
            peer,
            peer_as,
            prefix,
            path,
        });
    }
    routes
}

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
    if route.path.is_empty() {
        update.extend_from_slice(&(nlri.len() as u16).to_be_bytes());
        update.extend_from_slice(&nlri);
        update.extend_from_slice(&[0, 0]);
    } else {
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
    }
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
    if route.path.is_empty() {
        format!(
            r#"{{"type":"ris_message","data":{{"timestamp":{time},"peer":"{}","peer_asn":"{}","id":"x","host":"rrc06","type":"UPDATE","withdrawals":["{}"]}}}}"#,
            route.peer, route.peer_as, route.prefix
        )
    } else {
        format!(
            r#"{{"type":"ris_message","data":{{"timestamp":{time},"peer":"{}","peer_asn":"{}","id":"x","host":"rrc06","type":"UPDATE","path":[{}],"community":[[2497,100]],"origin":"igp","announcements":[{{"next_hop":"{}","prefixes":["{}"]}}]}}}}"#,
            route.peer,
            route.peer_as,
            path.join(","),
            route.peer,
            route.prefix
        )
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let data = args
        .next()
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("BLACKOUT_TEST_DATA")
                .filter(|dir| !dir.is_empty())
                .map(PathBuf::from)
        })
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"));
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
    let mut routes = load(&data);
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
        route_monitoring(route, 1_277_971_199 + (i / 1000) as u32, &mut stream);
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
        .map(|(i, r)| ris_json(r, 1_277_971_199.0 + i as f64 / 1000.0))
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
