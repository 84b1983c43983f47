//! The RIS Live client against a local websocket server on 127.0.0.1 or ::1 (never
//! the real service): the real libbgpstream stream, then a longer stream composed
//! here that the server cuts (an abrupt drop, then a silent hang) to see the
//! reconnects, the flushes and the gaps, and IPv6 routes and peers.

use crate::common::{data_dir, events_until};
use blackout_feeds::rislive::{RisLiveSession, RisMessage};
use blackout_feeds::{FeedEvent, FeedHealth, FeedState, RisLiveConfig, run_ris_live};
use blackout_model::PrefixFilter;
use blackout_model::{BgpInput, RouteChange, Timestamp};
use futures_util::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::Message;

fn stream_lines() -> Vec<String> {
    std::fs::read_to_string(data_dir().join("rislive/libbgpstream_ris-live-stream.json"))
        .expect("RIS Live stream")
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn every_message_type_of_the_real_stream() {
    require_data!("every_message_type_of_the_real_stream");
    let mut session = RisLiveSession::new(PrefixFilter::everything());
    let mut out = Vec::new();
    let kinds: Vec<RisMessage> = stream_lines()
        .iter()
        .map(|line| session.handle(Timestamp::EPOCH, line, &mut out))
        .collect();
    assert_eq!(kinds.len(), 7);
    assert_eq!(
        kinds[0],
        RisMessage::Update {
            announced: 1,
            withdrawn: 0
        }
    );
    assert!(
        matches!(&kinds[1], RisMessage::PeerState { host, state, .. } if host == "rrc01" && state == "down")
    );
    assert_eq!(
        kinds[2],
        RisMessage::Error("this is a test error message".into())
    );
    assert_eq!(kinds[3], RisMessage::Open);
    assert_eq!(kinds[4], RisMessage::Notification);
    assert_eq!(kinds[5], RisMessage::Keepalive);
    // The stream's last line lacks its closing brace.
    assert!(matches!(kinds[6], RisMessage::Malformed(_)));
    let BgpInput::Route(route) = &out[0] else {
        panic!("{out:?}")
    };
    assert_eq!(route.peer.to_string(), "rrc00 72.22.223.9 AS11708");
    assert_eq!(route.prefix.to_string(), "45.161.192.0/23");
    assert_eq!(route.at, Timestamp::from_micros(1_553_627_987_890_000));
    let RouteChange::Announce { as_path } = &route.change else {
        panic!()
    };
    assert_eq!(as_path.origin().map(|a| a.0), Some(268481));
    assert_eq!(as_path.upstream().map(|a| a.0), Some(52993));
    let downs: Vec<String> = out[1..]
        .iter()
        .map(|i| match i {
            BgpInput::PeerDown { peer, .. } => peer.to_string(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        downs,
        vec![
            "rrc01 195.66.224.59 AS24931",
            "rrc01 2001:7f8:4::73ab:1 AS29611"
        ]
    );
}

/// What one server connection does after reading the subscriptions: send its
/// lines, then drop the TCP connection without a close frame, hang (answer nothing),
/// or serve (answer pings).
#[derive(Clone)]
enum Script {
    /// Send these, then drop the TCP connection without a close frame.
    Drop(Vec<String>),
    /// Send these, then read and answer nothing, holding the connection.
    Hang(Vec<String>),
    /// Send these, then answer pings until the client goes.
    Serve(Vec<String>),
}

/// A websocket server on 127.0.0.1 that plays one script per connection and keeps
/// the subscriptions it received.
async fn server(scripts: Vec<Script>) -> (SocketAddr, Arc<Mutex<Vec<Vec<String>>>>) {
    server_on("127.0.0.1:0", scripts).await
}

/// The same server on another loopback address (`[::1]:0`).
async fn server_on(bind: &str, scripts: Vec<Script>) -> (SocketAddr, Arc<Mutex<Vec<Vec<String>>>>) {
    let listener = TcpListener::bind(bind).await.unwrap();
    let addr = listener.local_addr().unwrap();
    let subscriptions = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&subscriptions);
    tokio::spawn(async move {
        for script in scripts {
            let (tcp, _) = listener.accept().await.unwrap();
            let mut ws = tokio_tungstenite::accept_async(tcp).await.unwrap();
            let mut subs = Vec::new();
            // The client subscribes first: one per prefix, and the peer states.
            while subs.len() < 2 {
                match ws.next().await {
                    Some(Ok(Message::Text(text))) => subs.push(text.to_string()),
                    other => panic!("expected a subscription, got {other:?}"),
                }
            }
            kept.lock().unwrap().push(subs);
            let (lines, after) = match script {
                Script::Drop(l) => (l, 0),
                Script::Hang(l) => (l, 1),
                Script::Serve(l) => (l, 2),
            };
            for line in lines {
                ws.send(Message::text(line)).await.unwrap();
            }
            match after {
                0 => drop(ws),
                1 => {
                    tokio::spawn(async move {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        drop(ws);
                    });
                }
                _ => {
                    tokio::spawn(async move {
                        while let Some(Ok(message)) = ws.next().await {
                            if let Message::Text(text) = message
                                && text.contains("ping")
                            {
                                let _ = ws
                                    .send(Message::text(r#"{"type":"pong","data":null}"#))
                                    .await;
                            }
                        }
                    });
                }
            }
        }
    });
    (addr, subscriptions)
}

fn config(addr: SocketAddr) -> RisLiveConfig {
    let watched: Vec<ipnet::IpNet> = vec!["203.0.113.0/24".parse().unwrap()];
    RisLiveConfig {
        backoff_min: Duration::from_millis(100),
        backoff_max: Duration::from_millis(400),
        ping_interval: Duration::from_millis(200),
        idle_timeout: Duration::from_millis(1500),
        health_interval: Duration::from_millis(200),
        ..RisLiveConfig::new(
            format!("ws://{addr}/v1/ws/?client=blackout-test"),
            PrefixFilter::new(&watched),
        )
    }
}

fn health(seen: &[FeedEvent]) -> Option<FeedHealth> {
    seen.iter().rev().find_map(|e| match e {
        FeedEvent::Health(h) => Some(h.clone()),
        _ => None,
    })
}

fn routes(seen: &[FeedEvent]) -> usize {
    seen.iter()
        .filter(|e| matches!(e, FeedEvent::Input(BgpInput::Route(_))))
        .count()
}

fn peer_downs(seen: &[FeedEvent]) -> usize {
    seen.iter()
        .filter(|e| matches!(e, FeedEvent::Input(BgpInput::PeerDown { .. })))
        .count()
}

#[tokio::test]
async fn real_stream_over_a_local_websocket() {
    require_data!("real_stream_over_a_local_websocket");
    let (addr, subscriptions) = server(vec![Script::Serve(stream_lines())]).await;
    let (tx, mut rx) = mpsc::channel(1024);
    let mut config = config(addr);
    config.filter = PrefixFilter::everything();
    let feed = tokio::spawn(run_ris_live(config, tx));
    let mut seen = Vec::new();
    events_until(
        &mut rx,
        &mut seen,
        10,
        "the stream's routes and peer states",
        |s| routes(s) == 1 && peer_downs(s) == 2 && health(s).is_some_and(|h| h.messages >= 7),
    )
    .await;
    let h = health(&seen).unwrap();
    assert_eq!(h.state, FeedState::Up);
    assert_eq!(h.feed.entity().to_string(), "feed:rislive:127.0.0.1");
    assert!(
        h.last_error.is_some(),
        "the ris_error and the broken line are reported: {h:?}"
    );
    // Pings are answered, so the feed stays up past the idle timeout.
    tokio::time::sleep(Duration::from_secs(2)).await;
    while let Ok(event) = rx.try_recv() {
        seen.push(event);
    }
    let h = health(&seen).unwrap();
    assert_eq!((h.state, h.reconnects), (FeedState::Up, 0), "{h:?}");
    assert!(
        subscriptions.lock().unwrap()[0]
            .iter()
            .any(|s| s.contains("RIS_PEER_STATE"))
    );
    feed.abort();
}

/// `count` UPDATEs of 203.0.113.0/24 from four rrc00 peers, announce and withdraw in turn.
fn composed(count: usize, start: usize) -> Vec<String> {
    (start..start + count)
        .map(|i| {
            let peer = format!("192.0.2.{}", 1 + i % 4);
            let time = 1_700_000_000.0 + i as f64 * 0.5;
            if i % 8 < 4 {
                format!(
                    r#"{{"type":"ris_message","data":{{"timestamp":{time},"peer":"{peer}","peer_asn":"6449{}","id":"x-{i}","host":"rrc00","type":"UPDATE","path":[6449{},64510,[64511,64509]],"origin":"igp","announcements":[{{"next_hop":"{peer}","prefixes":["203.0.113.0/24","198.51.100.0/24"]}}]}}}}"#,
                    6 + i % 4,
                    6 + i % 4
                )
            } else {
                format!(
                    r#"{{"type":"ris_message","data":{{"timestamp":{time},"peer":"{peer}","peer_asn":"6449{}","id":"x-{i}","host":"rrc00","type":"UPDATE","withdrawals":["203.0.113.0/24"]}}}}"#,
                    6 + i % 4
                )
            }
        })
        .collect()
}

#[tokio::test]
async fn drop_and_hang_are_reconnected_flushed_and_counted_as_gaps() {
    let (addr, subscriptions) = server(vec![
        Script::Drop(composed(500, 0)),
        Script::Hang(composed(250, 500)),
        Script::Serve(composed(250, 750)),
    ])
    .await;
    let (tx, mut rx) = mpsc::channel(8192);
    let feed = tokio::spawn(run_ris_live(config(addr), tx));
    let mut seen = Vec::new();
    events_until(
        &mut rx,
        &mut seen,
        30,
        "all 1000 messages over three connections",
        |s| {
            routes(s) == 1000
                && health(s).is_some_and(|h| h.state == FeedState::Up && h.reconnects == 2)
        },
    )
    .await;
    let h = health(&seen).unwrap();
    assert_eq!(h.gaps, 2, "{h:?}");
    let gap = h.last_gap.unwrap();
    assert!(gap.to > gap.from);
    // Each lost connection flushed the four peers it had seen.
    assert_eq!(peer_downs(&seen), 8);
    // The filter kept 198.51.100.0/24 out; AS_SETs came through as sets.
    assert!(seen.iter().all(|e| match e {
        FeedEvent::Input(BgpInput::Route(r)) => r.prefix.to_string() == "203.0.113.0/24",
        _ => true,
    }));
    let first = seen
        .iter()
        .find_map(|e| match e {
            FeedEvent::Input(BgpInput::Route(r)) => Some(r.clone()),
            _ => None,
        })
        .unwrap();
    assert_eq!(first.peer.to_string(), "rrc00 192.0.2.1 AS64496");
    let RouteChange::Announce { as_path } = first.change else {
        panic!()
    };
    assert_eq!(as_path.to_string(), "64496 64510 {64511,64509}");
    assert_eq!(first.at, Timestamp::from_secs(1_700_000_000));
    // Every connection subscribed again, to the watched prefix, more- and less-specific.
    let subs = subscriptions.lock().unwrap().clone();
    assert_eq!(subs.len(), 3);
    for conn in subs {
        let prefix: serde_json::Value = serde_json::from_str(&conn[0]).unwrap();
        assert_eq!(prefix["type"], "ris_subscribe");
        assert_eq!(prefix["data"]["prefix"], "203.0.113.0/24");
        assert_eq!(prefix["data"]["moreSpecific"], true);
        assert_eq!(prefix["data"]["lessSpecific"], true);
    }
    let reasons: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            FeedEvent::Health(h) if h.state == FeedState::Down => h.last_error.clone(),
            _ => None,
        })
        .collect();
    assert!(
        reasons.iter().any(|r| r.contains("nothing received")),
        "{reasons:?}"
    );
    feed.abort();
}

#[tokio::test]
async fn ipv6_prefixes_are_subscribed_and_their_routes_passed_on() {
    // RIS Live writes IPv6 as it comes from the peers: the same prefix in other
    // spellings, with host bits, next to prefixes the profile does not watch.
    let message = |time: u32, body: &str| {
        format!(
            r#"{{"type":"ris_message","data":{{"timestamp":{time},"peer":"2001:db8:f::1","peer_asn":"64497","id":"v6-{time}","host":"rrc00","type":"UPDATE",{body}}}}}"#
        )
    };
    let lines = vec![
        message(
            1_700_000_000,
            r#""path":[64497,64500],"announcements":[{"next_hop":"2001:db8:f::1","prefixes":["2001:db8:100::/48","2001:DB8:101:0::/48","2001:db8:102::1/48","2001:db8:ff00::/40"]}]"#,
        ),
        message(
            1_700_000_001,
            r#""withdrawals":["2001:0db8:0100::/48","2001:db8:ff00::/40"]"#,
        ),
    ];
    let (addr, subscriptions) = server_on("[::1]:0", vec![Script::Serve(lines)]).await;
    let (tx, mut rx) = mpsc::channel(1024);
    let watched: Vec<ipnet::IpNet> = vec![
        "2001:db8:100::/40".parse().unwrap(),
        "203.0.113.0/24".parse().unwrap(),
    ];
    let mut config = config(addr);
    config.filter = PrefixFilter::new(&watched);
    assert_eq!(
        config.feed_id().unwrap().to_string(),
        "rislive:[::1]",
        "the feed is named by the URL's host"
    );
    let feed = tokio::spawn(run_ris_live(config, tx));
    let mut seen = Vec::new();
    events_until(&mut rx, &mut seen, 10, "the IPv6 routes", |s| {
        routes(s) == 4
    })
    .await;
    let changes: Vec<String> = seen
        .iter()
        .filter_map(|e| match e {
            FeedEvent::Input(BgpInput::Route(r)) => Some(format!(
                "{} {} {}",
                r.peer,
                r.prefix,
                match &r.change {
                    RouteChange::Announce { as_path } => as_path.to_string(),
                    RouteChange::Withdraw => "withdrawn".into(),
                }
            )),
            _ => None,
        })
        .collect();
    assert_eq!(
        changes,
        vec![
            "rrc00 2001:db8:f::1 AS64497 2001:db8:100::/48 64497 64500",
            "rrc00 2001:db8:f::1 AS64497 2001:db8:101::/48 64497 64500",
            "rrc00 2001:db8:f::1 AS64497 2001:db8:102::/48 64497 64500",
            "rrc00 2001:db8:f::1 AS64497 2001:db8:100::/48 withdrawn",
        ]
    );
    let subs = subscriptions.lock().unwrap().clone();
    let prefixes: Vec<String> = subs[0]
        .iter()
        .filter_map(|s| {
            let v: serde_json::Value = serde_json::from_str(s).ok()?;
            v["data"]["prefix"].as_str().map(str::to_string)
        })
        .collect();
    assert_eq!(prefixes, vec!["203.0.113.0/24", "2001:db8:100::/40"]);
    feed.abort();
}
