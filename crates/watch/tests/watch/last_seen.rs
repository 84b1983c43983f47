//! What the last run saw of the checks and feeds is stored, and shown in the
//! status after a restart until they report again.

use crate::common::{Watch, free_port, tcp_profile};
use blackout_feeds::{FeedHealth, FeedId, FeedState};
use blackout_model::Timestamp;
use blackout_store::{FeedHealthRow, ProbeRow, Store};
use blackout_watch::Core;
use std::time::{Duration, Instant};

const PROFILE: &str = r#"
name = "last-seen"
description = "a host, a zone and a BMP station"

[[network]]
name = "Test origin"
asn = 64500
prefixes = ["203.0.113.0/26"]

[[host]]
name = "www.lab.example"
address = "203.0.113.11"
checks = ["icmp", "http"]

[[feed]]
type = "bmp"
listen = "127.0.0.1:11019"
"#;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_750_000_000 + secs)
}

fn probe_row(vantage: &str, target: &str, check: &str) -> ProbeRow {
    ProbeRow {
        vantage: vantage.into(),
        target: target.into(),
        check: check.into(),
        at: t(-600),
        kind: check.into(),
        ok: false,
        outcome: "timeout".into(),
        rtt_ms: None,
        loss: Some(1.0),
        detail: String::new(),
        address: Some("203.0.113.11".into()),
        resolved_at: Some(t(-3600)),
        resolve_error: Some("www.lab.example: SERVFAIL".into()),
    }
}

fn feed_row(feed: &str) -> FeedHealthRow {
    FeedHealthRow {
        feed: feed.into(),
        at: t(-600),
        state: "up".into(),
        last_message: Some(t(-601)),
        rate: Some(3.0),
        detail: String::new(),
    }
}

fn router(state: FeedState) -> FeedHealth {
    FeedHealth {
        feed: FeedId::bmp("198.51.100.1".parse().unwrap()),
        state,
        since: t(0),
        last_message: Some(t(0)),
        messages: 10,
        messages_per_sec: 1.0,
        reconnects: 0,
        gaps: 0,
        last_gap: None,
        peers: 1,
        last_error: None,
        why_no_routes: None,
        stalled: 0,
        router: None,
        session: None,
    }
}

#[test]
fn the_status_after_a_restart_shows_what_the_last_run_saw() {
    let profile = blackout_profile::load_str(PROFILE, "last-seen.toml").unwrap();
    let mut core = Core::new(profile, blackout_bgp::Vrps::default(), "local");
    core.restore_last_seen(
        vec![
            feed_row("bmp:198.51.100.1"),
            feed_row("bgp:192.0.2.99"),
            feed_row("rislive:ris-live.ripe.net"),
        ],
        vec![
            probe_row("local", "www.lab.example", "icmp"),
            probe_row("local", "www.lab.example", "http"),
            probe_row("elsewhere", "www.lab.example", "icmp"),
            probe_row("local", "kcna.kp", "icmp"),
        ],
    );
    let status = core.status(t(0));
    // This profile's checks from this vantage point, and its feeds, only
    let mut probes: Vec<(&str, &str, &str)> = status
        .probes
        .iter()
        .map(|p| (p.vantage.as_str(), p.target.as_str(), p.check.as_str()))
        .collect();
    probes.sort();
    assert_eq!(
        probes,
        vec![
            ("local", "www.lab.example", "http"),
            ("local", "www.lab.example", "icmp")
        ]
    );
    assert!(status.probes.iter().all(|p| p.at == t(-600)));
    // The last known address a probe went to is shown as such after the restart too.
    assert!(status.probes.iter().all(|p| {
        p.address.as_deref() == Some("203.0.113.11")
            && p.last_known_address.as_ref().is_some_and(|l| {
                l.resolved_at == t(-3600) && l.resolve_error == "www.lab.example: SERVFAIL"
            })
    }));
    assert_eq!(status.feeds.len(), 1, "{:?}", status.feeds);
    assert_eq!(status.feeds[0].name, "bmp:198.51.100.1");
    assert!(status.feeds[0].detail.contains("before blackout restarted"));
    // Until the feed reports again
    core.on_feed_health(router(FeedState::Up));
    let status = core.status(t(1));
    assert_eq!(status.feeds.len(), 1);
    assert!(status.feeds[0].detail.is_empty());
}

#[test]
fn feed_health_is_stored_on_each_change_and_once_a_minute() {
    let profile = blackout_profile::load_str(PROFILE, "last-seen.toml").unwrap();
    let mut core = Core::new(profile, blackout_bgp::Vrps::default(), "local");
    core.on_feed_health(router(FeedState::Up));
    let stored = |core: &mut Core, at: i64| core.tick(t(at)).feeds.len();
    assert_eq!(stored(&mut core, 1), 1);
    assert_eq!(stored(&mut core, 2), 0);
    assert_eq!(stored(&mut core, 60), 0);
    assert_eq!(stored(&mut core, 61), 1);
    core.on_feed_health(router(FeedState::Down));
    assert_eq!(stored(&mut core, 62), 1);
    assert_eq!(stored(&mut core, 63), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn probe_results_reach_the_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blackout.db");
    let watch = Watch::start(tcp_profile(free_port(), ""), &db);
    let deadline = Instant::now() + Duration::from_secs(20);
    let rows = loop {
        let rows = Store::open_read_only(&db)
            .and_then(|s| s.probe_results())
            .unwrap_or_default();
        if !rows.is_empty() || Instant::now() > deadline {
            break rows;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    watch.stop().await;
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0].target, "svc.loopback.test");
    assert_eq!(rows[0].vantage, "local");
    assert!(!rows[0].ok);
}
