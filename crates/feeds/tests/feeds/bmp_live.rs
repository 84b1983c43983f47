//! The BMP station over real sockets: FRR monitoring its session with BIRD, and raw
//! TCP clients playing a router that is not allowed, one that disconnects in the
//! middle of a message, and one that sends garbage.

use crate::common::{
    daemons_missing, events_until, free_port, read, skipped, start_bgpd, start_bird,
};
use blackout_bgp::{BgpState, Vrps, WatchSet};
use blackout_feeds::{
    BmpOptions, BmpStation, BmpStationConfig, BmpView, BmpViews, FeedEvent, FeedHealth, FeedState,
};
use blackout_model::PrefixFilter;
use blackout_model::{Asn, BgpInput, RouteChange};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;
use tokio::sync::mpsc;

async fn station(allow: &[&str], filter: PrefixFilter) -> (SocketAddr, mpsc::Receiver<FeedEvent>) {
    let config = BmpStationConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        allow: allow.iter().map(|a| a.parse().unwrap()).collect(),
        options: BmpOptions {
            views: BmpViews::default(),
            filter,
        },
        health_interval: Duration::from_millis(300),
        stall_timeout: Duration::from_secs(2),
    };
    let station = BmpStation::bind(config).await.unwrap();
    let addr = station.local_addr().unwrap();
    let (tx, rx) = mpsc::channel(4096);
    tokio::spawn(station.run(tx));
    (addr, rx)
}

fn health_of(seen: &[FeedEvent], feed: &str) -> Option<FeedHealth> {
    seen.iter().rev().find_map(|e| match e {
        FeedEvent::Health(h) if h.feed.to_string() == feed => Some(h.clone()),
        _ => None,
    })
}

fn announced(seen: &[FeedEvent], collector: &str, prefix: &str, path: &str) -> bool {
    seen.iter().any(|e| {
        matches!(e, FeedEvent::Input(BgpInput::Route(r))
            if &*r.peer.collector == collector
                && r.prefix.to_string() == prefix
                && matches!(&r.change, RouteChange::Announce { as_path } if as_path.to_string() == path))
    })
}

fn peer_downs(seen: &[FeedEvent]) -> Vec<String> {
    seen.iter()
        .filter_map(|e| match e {
            FeedEvent::Input(BgpInput::PeerDown { peer, .. }) => Some(peer.to_string()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frr_reports_birds_routes_over_bmp() {
    if let Some(why) = daemons_missing(true, true) {
        skipped("frr_reports_birds_routes_over_bmp", &why);
        return;
    }
    let watched: Vec<ipnet::IpNet> = vec![
        "203.0.113.0/24".parse().unwrap(),
        "198.51.100.0/24".parse().unwrap(),
    ];
    let (addr, mut rx) = station(&["127.0.0.1"], PrefixFilter::new(&watched)).await;
    let dir = tempfile::tempdir().unwrap();
    let (bird_dir, frr_dir) = (dir.path().join("bird"), dir.path().join("frr"));
    std::fs::create_dir_all(&bird_dir).unwrap();
    std::fs::create_dir_all(&frr_dir).unwrap();
    let (bird_port, frr_port) = (free_port(), free_port());
    let bgpd = start_bgpd(
        &frr_dir,
        &format!(
            r#"
router bgp 64500
 bgp router-id 192.0.2.5
 no bgp ebgp-requires-policy
 neighbor 127.0.0.4 remote-as 64499
 neighbor 127.0.0.4 port {bird_port}
 neighbor 127.0.0.4 ebgp-multihop 2
 neighbor 127.0.0.4 update-source 127.0.0.5
 neighbor 127.0.0.4 timers 3 9
 neighbor 127.0.0.4 timers connect 1
 address-family ipv4 unicast
  neighbor 127.0.0.4 activate
  neighbor 127.0.0.4 soft-reconfiguration inbound
  neighbor 127.0.0.4 route-map send-nothing out
 exit-address-family
 bmp targets blackout
  bmp connect 127.0.0.1 port {} min-retry 100 max-retry 1000
  bmp monitor ipv4 unicast pre-policy
  bmp monitor ipv4 unicast post-policy
  bmp stats interval 1000
 exit
exit
route-map send-nothing deny 10
exit
"#,
            addr.port()
        ),
        "127.0.0.5",
        frr_port,
    );
    let bird = start_bird(
        &bird_dir,
        &format!(
            r#"
router id 192.0.2.4;
protocol device {{}}
protocol static s4 {{
  ipv4;
  route 203.0.113.0/24 blackhole;
  route 198.51.100.0/25 blackhole {{ bgp_path.prepend(64499); bgp_path.prepend(64499); }};
  route 192.0.2.0/24 blackhole;
}}
protocol bgp frr {{
  local 127.0.0.4 port {bird_port} as 64499;
  neighbor 127.0.0.5 port {frr_port} as 64500;
  multihop;
  hold time 9;
  connect retry time 1;
  # FRR refuses loopback next hops as martians.
  ipv4 {{ import none; export all; next hop address 192.0.2.4; }};
}}
"#
        ),
    );
    let mut seen = Vec::new();
    let collector = "bmp:127.0.0.1";
    events_until(
        &mut rx,
        &mut seen,
        60,
        "BIRD's routes through FRR's BMP",
        |s| {
            announced(s, collector, "203.0.113.0/24", "64499")
                && announced(s, collector, "198.51.100.0/25", "64499 64499 64499")
        },
    )
    .await;
    assert!(
        !announced(&seen, collector, "192.0.2.0/24", "64499"),
        "filtered out"
    );
    // FRR sends both views of BIRD: pre-policy feeds (post-policy, if it came first,
    // gave way), and the health says so once the inputs before it are through.
    events_until(&mut rx, &mut seen, 10, "pre-policy feeding", |s| {
        health_of(s, "bmp:127.0.0.1")
            .and_then(|h| h.router)
            .is_some_and(|r| {
                r.peers
                    .iter()
                    .any(|p| p.view == Some(BmpView::PrePolicy) && p.routes == 2)
            })
    })
    .await;
    let health = health_of(&seen, "bmp:127.0.0.1").expect("health");
    assert_eq!(health.state, FeedState::Up, "{health:?}");
    let router = health.router.clone().unwrap();
    assert!(
        router
            .sys_descr
            .as_deref()
            .unwrap_or("")
            .contains("FRRouting"),
        "{router:?}"
    );
    assert_eq!(
        router.views_sent,
        vec![BmpView::PrePolicy, BmpView::PostPolicy]
    );
    assert_eq!(router.views_used, vec![BmpView::PrePolicy]);
    let peer = &router.peers[0];
    assert_eq!(
        (peer.address.to_string(), peer.asn, peer.bgp_id.to_string()),
        ("127.0.0.4".to_string(), 64499, "192.0.2.4".to_string())
    );
    assert!(peer.up && peer.down_reason.is_none());
    assert_eq!((peer.routes_ipv4, peer.routes_ipv6), (2, 0));
    assert_eq!(health.peers, 1);
    // The prepended path still names the right origin, and no upstream.
    let watch = WatchSet {
        full_feed_ratio: 0.9,
        ..WatchSet::single(Asn(64499), watched.clone(), vec![])
    };
    let mut state = BgpState::new(watch, Vrps::default());
    let apply = |state: &mut BgpState, events: &[FeedEvent]| {
        for event in events {
            if let FeedEvent::Input(input) = event {
                state.apply(input);
            }
        }
    };
    apply(&mut state, &seen);
    let view = state.view(&"203.0.113.0/24".parse().unwrap()).unwrap();
    assert_eq!(view.seen_by, 1, "{view:?}");
    assert_eq!(
        view.origins.keys().copied().collect::<Vec<_>>(),
        vec![Asn(64499)]
    );

    // BIRD dies: FRR sends Peer Down, the station flushes that peer.
    let before = seen.len();
    drop(bird);
    events_until(&mut rx, &mut seen, 30, "Peer Down", |s| {
        !peer_downs(&s[before..]).is_empty()
    })
    .await;
    assert_eq!(
        peer_downs(&seen[before..]),
        vec!["bmp:127.0.0.1 127.0.0.4 AS64499".to_string()]
    );
    apply(&mut state, &seen[before..]);
    events_until(&mut rx, &mut seen, 10, "the Peer Down in the health", |s| {
        health_of(s, "bmp:127.0.0.1")
            .and_then(|h| h.router)
            .is_some_and(|r| !r.peer_downs.is_empty())
    })
    .await;
    let router = health_of(&seen, "bmp:127.0.0.1").unwrap().router.unwrap();
    let down = &router.peer_downs[0];
    assert_eq!(down.peer.to_string(), "bmp:127.0.0.1 127.0.0.4 AS64499");
    assert_eq!(down.routes, 2);
    assert_eq!(
        router.peers[0].down_reason.as_ref(),
        Some(&down.reason),
        "{router:?}"
    );
    eprintln!("FRR's Peer Down: {down:?}");
    assert_eq!(
        state
            .view(&"203.0.113.0/24".parse().unwrap())
            .unwrap()
            .seen_by,
        0
    );

    // FRR dies: the feed is down, as the feed's problem.
    drop(bgpd);
    events_until(&mut rx, &mut seen, 20, "feed down", |s| {
        health_of(s, "bmp:127.0.0.1").is_some_and(|h| h.state == FeedState::Down)
    })
    .await;
    let health = health_of(&seen, "bmp:127.0.0.1").unwrap();
    assert!(health.messages > 3, "{health:?}");
    assert_eq!(health.feed.entity().to_string(), "feed:bmp:127.0.0.1");
}

async fn connect_from(source: &str, to: SocketAddr) -> tokio::net::TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(source.parse::<IpAddr>().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.unwrap()
}

#[tokio::test]
async fn router_not_on_the_allow_list_is_refused() {
    require_data!("router_not_on_the_allow_list_is_refused");
    let (addr, mut rx) = station(&["127.0.0.7"], PrefixFilter::everything()).await;
    let mut stream = connect_from("127.0.0.8", addr).await;
    let _ = stream
        .write_all(&read("bmp/raw/akvorado_bmp-reach.bmp"))
        .await;
    let mut buf = [0u8; 16];
    let n = tokio::time::timeout(Duration::from_secs(5), stream.read(&mut buf))
        .await
        .expect("closed at once")
        .unwrap_or(0);
    assert_eq!(n, 0, "the station closes the connection");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut seen = Vec::new();
    while let Ok(event) = rx.try_recv() {
        seen.push(event);
    }
    assert!(
        seen.iter()
            .all(|e| matches!(e, FeedEvent::Health(h) if h.feed.name == "127.0.0.7")),
        "{seen:#?}"
    );
}

#[tokio::test]
async fn router_that_disconnects_mid_message_is_flushed() {
    require_data!("router_that_disconnects_mid_message_is_flushed");
    let (addr, mut rx) = station(&["127.0.0.7"], PrefixFilter::everything()).await;
    let mut stream = connect_from("127.0.0.7", addr).await;
    let mut bytes = read("bmp/raw/akvorado_bmp-peers-up.bmp");
    bytes.extend(read("bmp/raw/akvorado_bmp-reach.bmp"));
    // Half of one more message, then gone.
    let more = read("bmp/raw/akvorado_bmp-reach.bmp");
    bytes.extend_from_slice(&more[..more.len() / 3]);
    for chunk in bytes.chunks(97) {
        stream.write_all(chunk).await.unwrap();
    }
    drop(stream);
    let mut seen = Vec::new();
    events_until(&mut rx, &mut seen, 10, "flush", |s| {
        health_of(s, "bmp:127.0.0.7").is_some_and(|h| h.state == FeedState::Down)
    })
    .await;
    let routes = seen
        .iter()
        .filter(|e| matches!(e, FeedEvent::Input(BgpInput::Route(_))))
        .count();
    assert!(routes >= 10, "{routes} routes");
    let downs = peer_downs(&seen);
    assert!(
        downs.len() >= 2,
        "every peer with routes is flushed: {downs:?}"
    );
    let health = health_of(&seen, "bmp:127.0.0.7").unwrap();
    assert!(
        health
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("middle of a message"),
        "{health:?}"
    );
}

#[tokio::test]
async fn router_that_sends_garbage_is_dropped_and_flushed_then_comes_back() {
    require_data!("router_that_sends_garbage_is_dropped_and_flushed_then_comes_back");
    let (addr, mut rx) = station(&["127.0.0.7"], PrefixFilter::everything()).await;
    let mut stream = connect_from("127.0.0.7", addr).await;
    stream
        .write_all(&read("bmp/raw/akvorado_bmp-reach.bmp"))
        .await
        .unwrap();
    stream
        .write_all(b"\x16\x03\x01\x02\x00 this is TLS, not BMP")
        .await
        .unwrap();
    let mut seen = Vec::new();
    events_until(&mut rx, &mut seen, 10, "garbage ends the session", |s| {
        health_of(s, "bmp:127.0.0.7").is_some_and(|h| h.state == FeedState::Down)
    })
    .await;
    let health = health_of(&seen, "bmp:127.0.0.7").unwrap();
    assert!(
        health
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("not BMP"),
        "{health:?}"
    );
    assert!(!peer_downs(&seen).is_empty());
    let mut buf = [0u8; 8];
    assert_eq!(
        stream.read(&mut buf).await.unwrap_or(0),
        0,
        "the station hung up"
    );
    // The router connects again: a reconnect, and one gap.
    let mut again = connect_from("127.0.0.7", addr).await;
    again
        .write_all(&read("bmp/raw/akvorado_bmp-reach.bmp"))
        .await
        .unwrap();
    events_until(&mut rx, &mut seen, 10, "back", |s| {
        health_of(s, "bmp:127.0.0.7").is_some_and(|h| h.state == FeedState::Up && h.reconnects == 1)
    })
    .await;
    assert_eq!(health_of(&seen, "bmp:127.0.0.7").unwrap().gaps, 1);
}

#[tokio::test]
async fn router_that_stalls_half_way_through_a_message_is_cut_off_and_flushed() {
    require_data!("router_that_stalls_half_way_through_a_message_is_cut_off_and_flushed");
    // The station allows 2 s for the rest of a message that has begun.
    let (addr, mut rx) = station(&["127.0.0.7"], PrefixFilter::everything()).await;
    let mut stream = connect_from("127.0.0.7", addr).await;
    let mut whole = read("bmp/raw/akvorado_bmp-peers-up.bmp");
    whole.extend(read("bmp/raw/akvorado_bmp-reach.bmp"));
    stream.write_all(&whole).await.unwrap();
    // A slow message is not a stalled one: half, a pause within the bound, the rest.
    let more = read("bmp/raw/akvorado_bmp-eor.bmp");
    let (head, tail) = more.split_at(more.len() / 2);
    stream.write_all(head).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1200)).await;
    stream.write_all(tail).await.unwrap();
    let mut seen = Vec::new();
    events_until(&mut rx, &mut seen, 10, "routes", |s| {
        health_of(s, "bmp:127.0.0.7").is_some_and(|h| h.messages >= 20)
    })
    .await;
    assert!(peer_downs(&seen).is_empty(), "{seen:#?}");
    // Then half a message, and silence with the connection open.
    let reach = read("bmp/raw/akvorado_bmp-reach.bmp");
    stream.write_all(&reach[..reach.len() / 3]).await.unwrap();
    let started = std::time::Instant::now();
    events_until(&mut rx, &mut seen, 10, "the stall cut off", |s| {
        health_of(s, "bmp:127.0.0.7").is_some_and(|h| h.state == FeedState::Down)
    })
    .await;
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(1900) && waited < Duration::from_secs(5),
        "{waited:?}"
    );
    let health = health_of(&seen, "bmp:127.0.0.7").unwrap();
    assert_eq!(health.stalled, 1, "{health:?}");
    let error = health.last_error.clone().unwrap_or_default();
    assert!(error.contains("and then nothing for 2 s"), "{error}");
    assert!(
        peer_downs(&seen).len() >= 2,
        "every peer with routes is flushed"
    );
    assert!(
        health
            .router
            .as_ref()
            .is_some_and(|r| r.peers.iter().all(|p| !p.up)),
        "{health:?}"
    );
    let mut buf = [0u8; 8];
    assert_eq!(
        stream.read(&mut buf).await.unwrap_or(0),
        0,
        "the station hung up"
    );
    // The router comes back: the feed is up, and the stall is no longer its error.
    let mut again = connect_from("127.0.0.7", addr).await;
    again.write_all(&whole).await.unwrap();
    events_until(&mut rx, &mut seen, 10, "back up", |s| {
        health_of(s, "bmp:127.0.0.7").is_some_and(|h| h.state == FeedState::Up && h.reconnects == 1)
    })
    .await;
    let health = health_of(&seen, "bmp:127.0.0.7").unwrap();
    assert_eq!((health.last_error, health.stalled), (None, 1));
}
