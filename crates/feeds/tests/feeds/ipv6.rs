//! IPv6 unicast in every feed, against real daemons on `::1` with documentation
//! prefixes (2001:db8::/32): BIRD 2 connecting to blackout's session over IPv6,
//! blackout dialling FRR over IPv6, and FRR reporting BIRD's IPv6 routes over BMP
//! (post-policy). Multiprotocol IPv4 and IPv6 unicast are negotiated, and IPv6
//! routes come in MP_REACH_NLRI and go in MP_UNREACH_NLRI.

use crate::common::{
    Daemon, daemons_missing, events_until, free_port, skipped, start_bgpd, start_bird,
};
use blackout_feeds::update::Family;
use blackout_feeds::{
    BgpFeedConfig, BmpOptions, BmpStation, BmpStationConfig, BmpView, BmpViews, Dial, FeedEvent,
    FeedHealth, FeedState, SessionConfig, run_bgp_session,
};
use blackout_model::{Asn, BgpInput, PrefixFilter, RouteChange};
use ipnet::IpNet;
use std::time::Duration;
use tokio::sync::mpsc;

fn watched() -> Vec<IpNet> {
    ["2001:db8:100::/40", "203.0.113.0/24"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect()
}

/// A free TCP port on ::1.
fn free_port6() -> u16 {
    std::net::TcpListener::bind("[::1]:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|_| free_port())
}

fn announced(seen: &[FeedEvent], prefix: &str) -> Vec<String> {
    seen.iter()
        .filter_map(|e| match e {
            FeedEvent::Input(BgpInput::Route(r)) if r.prefix.to_string() == prefix => {
                match &r.change {
                    RouteChange::Announce { as_path } => Some(format!("{} {}", r.peer, as_path)),
                    RouteChange::Withdraw => None,
                }
            }
            _ => None,
        })
        .collect()
}

fn withdrawn(seen: &[FeedEvent], prefix: &str) -> usize {
    seen.iter()
        .filter(|e| {
            matches!(e, FeedEvent::Input(BgpInput::Route(r))
                if r.prefix.to_string() == prefix && r.change == RouteChange::Withdraw)
        })
        .count()
}

fn last_health(seen: &[FeedEvent], feed: &str) -> Option<FeedHealth> {
    seen.iter().rev().find_map(|e| match e {
        FeedEvent::Health(h) if h.feed.to_string() == feed => Some(h.clone()),
        _ => None,
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

fn session_config(peer_as: u32, dial: Dial) -> BgpFeedConfig {
    BgpFeedConfig {
        session: SessionConfig {
            peer: "::1".parse().unwrap(),
            peer_as: Asn(peer_as),
            local_as: Asn(64496),
            router_id: "192.0.2.1".parse().unwrap(),
            hold_time: 90,
            filter: PrefixFilter::new(&watched()),
        },
        dial,
        retry_min: Duration::from_millis(200),
        retry_max: Duration::from_secs(2),
        health_interval: Duration::from_millis(300),
    }
}

/// BIRD announcing two IPv6 prefixes (one watched, one not) and an IPv4 one, from
/// `::1` port `port` as AS64499 to `neighbor_port`.
fn bird(dir: &std::path::Path, port: u16, neighbor_port: u16, neighbor_as: u32) -> Daemon {
    start_bird(
        dir,
        &format!(
            r#"
router id 192.0.2.4;
protocol device {{}}
protocol static s6 {{
  ipv6;
  route 2001:db8:100::/48 blackhole;
  route 2001:db8:1ff::/48 blackhole {{ bgp_path.prepend(64499); }};
  route 2001:db8:ff00::/40 blackhole;
}}
protocol static s4 {{ ipv4; route 203.0.113.0/24 blackhole; }}
protocol bgp peer6 {{
  local ::1 port {port} as 64499;
  neighbor ::1 port {neighbor_port} as {neighbor_as};
  multihop;
  hold time 9;
  connect retry time 1;
  error wait time 1, 2;
  # Loopback next hops are martians to FRR; documentation ones are not.
  ipv6 {{ import none; export all; next hop address 2001:db8::4; }};
  ipv4 {{ import none; export all; next hop address 192.0.2.4; }};
}}
"#
        ),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bird_sends_ipv6_routes_to_blackout_over_an_ipv6_session() {
    if let Some(why) = daemons_missing(true, false) {
        skipped(
            "bird_sends_ipv6_routes_to_blackout_over_an_ipv6_session",
            &why,
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ours, birds) = (free_port6(), free_port6());
    let (tx, mut rx) = mpsc::channel(4096);
    let listen = format!("[::1]:{ours}").parse().unwrap();
    let feed = tokio::spawn(run_bgp_session(
        session_config(64499, Dial::Passive(listen)),
        tx,
    ));
    let bird = bird(dir.path(), birds, ours, 64496);
    let mut seen = Vec::new();
    let feed_name = "bgp:::1";
    events_until(&mut rx, &mut seen, 30, "BIRD's IPv6 routes", |s| {
        !announced(s, "2001:db8:100::/48").is_empty()
            && !announced(s, "2001:db8:1ff::/48").is_empty()
            && !announced(s, "203.0.113.0/24").is_empty()
    })
    .await;
    assert_eq!(
        announced(&seen, "2001:db8:100::/48"),
        vec!["bgp:::1 ::1 AS64499 64499".to_string()]
    );
    assert_eq!(
        announced(&seen, "2001:db8:1ff::/48"),
        vec!["bgp:::1 ::1 AS64499 64499 64499".to_string()]
    );
    assert!(
        announced(&seen, "2001:db8:ff00::/40").is_empty(),
        "the filter passes only the watched prefixes"
    );
    // Both families negotiated; the table of each is complete once its End-of-RIB came.
    events_until(&mut rx, &mut seen, 10, "both End-of-RIBs", |s| {
        last_health(s, feed_name)
            .and_then(|h| h.session)
            .is_some_and(|s| s.end_of_rib.len() == 2)
    })
    .await;
    let health = last_health(&seen, feed_name).unwrap();
    assert_eq!(health.state, FeedState::Up);
    let session = health.session.unwrap();
    assert_eq!(
        session.families,
        vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
    );
    assert_eq!((session.routes_ipv4, session.routes_ipv6), (1, 2));
    assert_eq!(health.why_no_routes, None);

    // BIRD withdraws nothing but goes away: the session's IPv6 and IPv4 routes go.
    drop(bird);
    events_until(&mut rx, &mut seen, 20, "flush", |s| {
        !peer_downs(s).is_empty()
    })
    .await;
    assert_eq!(peer_downs(&seen), vec!["bgp:::1 ::1 AS64499".to_string()]);
    feed.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackout_dials_frr_over_ipv6_and_sees_a_withdrawal() {
    if let Some(why) = daemons_missing(false, true) {
        skipped("blackout_dials_frr_over_ipv6_and_sees_a_withdrawal", &why);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frr_port = free_port6();
    let bgpd = start_bgpd(
        dir.path(),
        r#"
router bgp 64498
 bgp router-id 192.0.2.3
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor ::1 remote-as 64496
 neighbor ::1 passive
 neighbor ::1 timers 3 9
 address-family ipv4 unicast
  network 203.0.113.0/24
  neighbor ::1 activate
 exit-address-family
 address-family ipv6 unicast
  network 2001:db8:100::/48
  network 2001:db8:180::/48
  neighbor ::1 activate
 exit-address-family
exit
"#,
        "::1",
        frr_port,
    );
    let (tx, mut rx) = mpsc::channel(4096);
    let target = format!("[::1]:{frr_port}").parse().unwrap();
    let feed = tokio::spawn(run_bgp_session(
        session_config(64498, Dial::Active(target)),
        tx,
    ));
    let mut seen = Vec::new();
    events_until(&mut rx, &mut seen, 40, "FRR's IPv6 routes", |s| {
        !announced(s, "2001:db8:100::/48").is_empty()
            && !announced(s, "2001:db8:180::/48").is_empty()
            && !announced(s, "203.0.113.0/24").is_empty()
    })
    .await;
    assert_eq!(
        announced(&seen, "2001:db8:180::/48"),
        vec!["bgp:::1 ::1 AS64498 64498".to_string()]
    );
    // FRR drops one IPv6 network: an IPv6 withdrawal in MP_UNREACH_NLRI.
    let status = std::process::Command::new("vtysh")
        .arg("--vty_socket")
        .arg(dir.path())
        .args(["-d", "bgpd"])
        .args(["-c", "configure terminal"])
        .args(["-c", "router bgp 64498"])
        .args(["-c", "address-family ipv6 unicast"])
        .args(["-c", "no network 2001:db8:180::/48"])
        .status()
        .expect("vtysh");
    assert!(status.success(), "vtysh: {status}");
    events_until(&mut rx, &mut seen, 30, "the IPv6 withdrawal", |s| {
        withdrawn(s, "2001:db8:180::/48") == 1
    })
    .await;
    assert_eq!(withdrawn(&seen, "2001:db8:100::/48"), 0);
    let health = last_health(&seen, "bgp:::1").unwrap();
    assert_eq!(health.state, FeedState::Up, "{health:?}");
    drop(bgpd);
    feed.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frr_reports_birds_ipv6_routes_post_policy_over_bmp() {
    if let Some(why) = daemons_missing(true, true) {
        skipped("frr_reports_birds_ipv6_routes_post_policy_over_bmp", &why);
        return;
    }
    let station = BmpStation::bind(BmpStationConfig {
        listen: "[::1]:0".parse().unwrap(),
        allow: vec!["::1".parse().unwrap()],
        options: BmpOptions {
            views: BmpViews::default(),
            filter: PrefixFilter::new(&watched()),
        },
        health_interval: Duration::from_millis(300),
        stall_timeout: Duration::from_secs(5),
    })
    .await
    .unwrap();
    let bmp_port = station.local_addr().unwrap().port();
    let (tx, mut rx) = mpsc::channel(4096);
    tokio::spawn(station.run(tx));
    let dir = tempfile::tempdir().unwrap();
    let (bird_dir, frr_dir) = (dir.path().join("bird"), dir.path().join("frr"));
    std::fs::create_dir_all(&bird_dir).unwrap();
    std::fs::create_dir_all(&frr_dir).unwrap();
    let (bird_port, frr_port) = (free_port6(), free_port6());
    let bgpd = start_bgpd(
        &frr_dir,
        &format!(
            r#"
hostname bmp-v6-router
router bgp 64500
 bgp router-id 192.0.2.5
 no bgp ebgp-requires-policy
 neighbor ::1 remote-as 64499
 neighbor ::1 port {bird_port}
 neighbor ::1 ebgp-multihop 2
 neighbor ::1 timers 3 9
 neighbor ::1 timers connect 1
 address-family ipv6 unicast
  neighbor ::1 activate
  neighbor ::1 route-map send-nothing out
 exit-address-family
 bmp targets blackout
  bmp connect ::1 port {bmp_port} min-retry 100 max-retry 1000
  bmp monitor ipv6 unicast post-policy
  bmp stats interval 1000
 exit
exit
route-map send-nothing deny 10
exit
"#
        ),
        "::1",
        frr_port,
    );
    let bird = bird(&bird_dir, bird_port, frr_port, 64500);
    let mut seen = Vec::new();
    let feed = "bmp:::1";
    events_until(
        &mut rx,
        &mut seen,
        60,
        "BIRD's IPv6 routes through FRR's BMP",
        |s| {
            announced(s, "2001:db8:100::/48").len() == 1
                && announced(s, "2001:db8:1ff::/48").len() == 1
        },
    )
    .await;
    assert_eq!(
        announced(&seen, "2001:db8:100::/48"),
        vec!["bmp:::1:post ::1 AS64499 64499".to_string()]
    );
    assert!(announced(&seen, "2001:db8:ff00::/40").is_empty());
    assert!(
        announced(&seen, "203.0.113.0/24").is_empty(),
        "IPv4 is not monitored"
    );
    // The health names the router, its peer and what feeds.
    events_until(&mut rx, &mut seen, 10, "the router's report", |s| {
        last_health(s, feed)
            .and_then(|h| h.router)
            .is_some_and(|r| r.peers.iter().any(|p| p.routes_ipv6 == 2))
    })
    .await;
    let health = last_health(&seen, feed).unwrap();
    let router = health.router.clone().unwrap();
    assert_eq!(router.sys_name.as_deref(), Some("bmp-v6-router"));
    assert!(
        router
            .sys_descr
            .as_deref()
            .unwrap_or("")
            .contains("FRRouting"),
        "{router:?}"
    );
    assert_eq!(router.views_sent, vec![BmpView::PostPolicy]);
    assert_eq!(router.views_used, vec![BmpView::PostPolicy]);
    let peer = &router.peers[0];
    assert_eq!(
        (peer.address.to_string(), peer.asn, peer.up),
        ("::1".to_string(), 64499, true)
    );
    assert_eq!(peer.bgp_id.to_string(), "192.0.2.4");
    assert_eq!(peer.view, Some(BmpView::PostPolicy));
    assert_eq!((peer.routes_ipv4, peer.routes_ipv6), (0, 2));
    assert_eq!(health.peers, 1);

    // BIRD goes: FRR's Peer Down flushes the peer, and is feed evidence with its
    // two routes and the reason.
    drop(bird);
    events_until(&mut rx, &mut seen, 30, "Peer Down", |s| {
        last_health(s, feed)
            .and_then(|h| h.router)
            .is_some_and(|r| !r.peer_downs.is_empty())
    })
    .await;
    assert_eq!(
        peer_downs(&seen),
        vec!["bmp:::1:post ::1 AS64499".to_string()]
    );
    let router = last_health(&seen, feed).unwrap().router.unwrap();
    let down = &router.peer_downs[0];
    assert_eq!(down.routes, 2, "{down:?}");
    assert!(down.reason.code.is_some(), "{down:?}");
    assert!(!router.peers[0].up);
    eprintln!("Peer Down as FRR reports it: {down:?}");
    drop(bgpd);
}
