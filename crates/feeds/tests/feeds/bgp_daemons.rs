//! The BGP session against real routers on loopback: BIRD 2 connecting to blackout
//! (passive), and blackout dialling FRR (active). BIRD's session is also frozen
//! (SIGSTOP) until the hold timer expires, to see the NOTIFICATION go out, the routes
//! flushed, and the session and routes come back as one gap.

use crate::common::{
    Daemon, daemons_missing, events_until, free_port, skipped, start_bgpd, start_bird,
};
use blackout_bgp::{BgpState, Vrps, WatchSet};
use blackout_feeds::{BgpFeedConfig, Dial, FeedEvent, FeedState, SessionConfig, run_bgp_session};
use blackout_model::PrefixFilter;
use blackout_model::{Asn, BgpInput, RouteChange};
use ipnet::IpNet;
use std::time::Duration;
use tokio::sync::mpsc;

fn watched() -> Vec<IpNet> {
    ["203.0.113.0/24", "198.51.100.0/24", "2001:db8::/32"]
        .iter()
        .map(|p| p.parse().unwrap())
        .collect()
}

fn config(peer: &str, peer_as: u32, dial: Dial) -> BgpFeedConfig {
    BgpFeedConfig {
        session: SessionConfig {
            peer: peer.parse().unwrap(),
            peer_as: Asn(peer_as),
            local_as: Asn(64496),
            router_id: "192.0.2.1".parse().unwrap(),
            hold_time: 90,
            filter: PrefixFilter::new(&watched()),
        },
        dial,
        retry_min: Duration::from_millis(200),
        retry_max: Duration::from_secs(2),
        health_interval: Duration::from_millis(500),
    }
}

/// Announcements of `prefix` with `path` so far.
fn announced(seen: &[FeedEvent], prefix: &str, path: &str) -> usize {
    seen.iter()
        .filter(|e| {
            matches!(e, FeedEvent::Input(BgpInput::Route(r))
                if r.prefix.to_string() == prefix
                    && matches!(&r.change, RouteChange::Announce { as_path } if as_path.to_string() == path))
        })
        .count()
}

fn peer_downs(seen: &[FeedEvent]) -> usize {
    seen.iter()
        .filter(|e| matches!(e, FeedEvent::Input(BgpInput::PeerDown { .. })))
        .count()
}

fn last_health(seen: &[FeedEvent]) -> blackout_feeds::FeedHealth {
    seen.iter()
        .rev()
        .find_map(|e| match e {
            FeedEvent::Health(h) => Some(h.clone()),
            _ => None,
        })
        .expect("a health event")
}

/// Waits until the daemon has logged any of `needles`.
async fn wait_log(daemon: &Daemon, needles: &[&str], secs: u64) {
    let until = tokio::time::Instant::now() + Duration::from_secs(secs);
    while tokio::time::Instant::now() < until {
        let log = daemon.log_text();
        if needles.iter().any(|needle| log.contains(needle)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{} never logged any of {needles:?} in {secs} s:\n{}",
        daemon.name,
        daemon.log_text()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bird_connects_then_hold_timer_expires_then_session_returns() {
    if let Some(why) = daemons_missing(true, false) {
        skipped(
            "bird_connects_then_hold_timer_expires_then_session_returns",
            &why,
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let (ours, birds) = (free_port(), free_port());
    let (tx, mut rx) = mpsc::channel(4096);
    let listen = format!("127.0.0.1:{ours}").parse().unwrap();
    let feed = tokio::spawn(run_bgp_session(
        config("127.0.0.2", 64497, Dial::Passive(listen)),
        tx,
    ));
    let bird = start_bird(
        dir.path(),
        &format!(
            r#"
router id 192.0.2.2;
protocol device {{}}
protocol static s4 {{ ipv4; route 203.0.113.0/24 blackhole; route 198.51.100.0/25 blackhole; route 192.0.2.0/24 blackhole; }}
protocol bgp blackout {{
  local 127.0.0.2 port {birds} as 64497;
  neighbor 127.0.0.1 port {ours} as 64496;
  multihop;
  hold time 9;
  connect retry time 1;
  error wait time 1, 2;
  debug {{ events, states }};
  ipv4 {{ import none; export all; }};
}}
"#
        ),
    );
    let mut seen = Vec::new();
    events_until(&mut rx, &mut seen, 30, "BIRD's routes", |s| {
        announced(s, "203.0.113.0/24", "64497") == 1
            && announced(s, "198.51.100.0/25", "64497") == 1
    })
    .await;
    assert!(
        announced(&seen, "192.0.2.0/24", "64497") == 0,
        "the filter passes only the watched prefixes"
    );
    let health = last_health(&seen);
    assert_eq!(health.state, FeedState::Up, "{health:?}");
    assert_eq!(health.feed.entity().to_string(), "feed:bgp:127.0.0.2");

    // The same inputs drive the one BGP state: the prefix is seen, by one peer.
    let watch = WatchSet {
        full_feed_ratio: 0.9,
        ..WatchSet::single(Asn(64497), vec!["203.0.113.0/24".parse().unwrap()], vec![])
    };
    let mut state = BgpState::new(watch, Vrps::default());
    for event in &seen {
        if let FeedEvent::Input(input) = event {
            state.apply(input);
        }
    }
    let view = state
        .view(&"203.0.113.0/24".parse().unwrap())
        .unwrap()
        .clone();
    assert_eq!((view.seen_by, view.full_feed_peers), (1, 1), "{view:?}");

    // Freeze BIRD: no more keepalives. After 9 s the hold timer expires: NOTIFICATION
    // out, routes flushed, the feed (not the target) is down.
    bird.signal("STOP");
    let before = seen.len();
    events_until(&mut rx, &mut seen, 20, "hold timer expiry", |s| {
        peer_downs(s) == 1
    })
    .await;
    for event in &seen[before..] {
        if let FeedEvent::Input(input) = event {
            state.apply(input);
        }
    }
    let view = state.view(&"203.0.113.0/24".parse().unwrap()).unwrap();
    assert_eq!(
        view.full_feed_peers, 0,
        "a flushed feed leaves the denominator: {view:?}"
    );
    events_until(&mut rx, &mut seen, 5, "health down", |s| {
        last_health(s).state == FeedState::Down
    })
    .await;
    let health = last_health(&seen);
    assert!(
        health
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("hold timer expired"),
        "{health:?}"
    );

    // Thaw BIRD: it finds its session gone, and the session comes back. How it
    // finds out depends on what it does first once thawed: it reads our
    // NOTIFICATION ("Received: Hold timer expired"), or its own hold timer fires,
    // or it writes a KEEPALIVE into our closed socket, takes the reset and drops
    // the connection before it reads what is queued behind it ("Connection lost",
    // logged by `debug { events }`). Under load, any of them.
    bird.signal("CONT");
    wait_log(
        &bird,
        &["Hold timer expired", "Connection lost", "Connection closed"],
        20,
    )
    .await;
    events_until(&mut rx, &mut seen, 30, "routes again", |s| {
        announced(s, "203.0.113.0/24", "64497") == 2
    })
    .await;
    events_until(&mut rx, &mut seen, 5, "health up again", |s| {
        last_health(s).state == FeedState::Up && last_health(s).reconnects == 1
    })
    .await;
    let health = last_health(&seen);
    assert_eq!(health.gaps, 1, "{health:?}");
    assert!(health.last_gap.is_some());
    feed.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn blackout_dials_frr_and_frr_shutdown_flushes() {
    if let Some(why) = daemons_missing(false, true) {
        skipped("blackout_dials_frr_and_frr_shutdown_flushes", &why);
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let frr_port = free_port();
    let bgpd = start_bgpd(
        dir.path(),
        r#"
router bgp 64498
 bgp router-id 192.0.2.3
 no bgp ebgp-requires-policy
 no bgp network import-check
 neighbor 127.0.0.1 remote-as 64496
 neighbor 127.0.0.1 passive
 neighbor 127.0.0.1 timers 3 9
 address-family ipv4 unicast
  network 203.0.113.0/24
  network 198.51.100.128/25
  neighbor 127.0.0.1 activate
 exit-address-family
exit
"#,
        "127.0.0.3",
        frr_port,
    );
    let (tx, mut rx) = mpsc::channel(4096);
    let target = format!("127.0.0.3:{frr_port}").parse().unwrap();
    let feed = tokio::spawn(run_bgp_session(
        config("127.0.0.3", 64498, Dial::Active(target)),
        tx,
    ));
    let mut seen = Vec::new();
    events_until(&mut rx, &mut seen, 40, "FRR's routes", |s| {
        announced(s, "203.0.113.0/24", "64498") == 1
            && announced(s, "198.51.100.128/25", "64498") == 1
    })
    .await;
    assert_eq!(last_health(&seen).state, FeedState::Up);
    // FRR ends its table with an End-of-RIB, as blackout offers graceful restart
    // (with no family): the detector waits for it before its baseline of the
    // upstreams settles.
    events_until(&mut rx, &mut seen, 20, "FRR's End-of-RIB", |s| {
        last_health(s)
            .session
            .is_some_and(|session| session.end_of_rib == session.families)
    })
    .await;
    // FRR's hold time (9) is lower than ours: keepalives every 3 s keep it up.
    tokio::time::sleep(Duration::from_secs(12)).await;
    while let Ok(event) = rx.try_recv() {
        seen.push(event);
    }
    assert_eq!(peer_downs(&seen), 0, "the session stays up: {seen:#?}");
    // FRR stops: its session goes, and so do its routes.
    bgpd.signal("TERM");
    events_until(&mut rx, &mut seen, 20, "flush on FRR's shutdown", |s| {
        peer_downs(s) == 1
    })
    .await;
    let down = seen
        .iter()
        .find_map(|e| match e {
            FeedEvent::Input(BgpInput::PeerDown { peer, .. }) => Some(peer.to_string()),
            _ => None,
        })
        .unwrap();
    assert_eq!(down, "bgp:127.0.0.3 127.0.0.3 AS64498");
    drop(bgpd);
    feed.abort();
}
