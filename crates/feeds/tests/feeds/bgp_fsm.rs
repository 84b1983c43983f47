//! The BGP state machine, Given/When/Then, with message builders; and the session
//! over a real socket against a peer that sends garbage.

use blackout_feeds::fsm::{Action, BgpSession, SessionConfig, SessionState};
use blackout_feeds::message::{self, encode_keepalive, encode_notification, encode_open, kind};
use blackout_feeds::{BgpFeedConfig, Dial, FeedEvent, run_bgp_session};
use blackout_model::PrefixFilter;
use blackout_model::{Asn, BgpInput, RouteChange, Timestamp};
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpSocket;

const PEER_AS: u32 = 64497;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_700_000_000 + secs)
}

fn session() -> BgpSession {
    let watched: Vec<ipnet::IpNet> = vec!["203.0.113.0/24".parse().unwrap()];
    BgpSession::new(SessionConfig {
        peer: "127.0.0.2".parse().unwrap(),
        peer_as: Asn(PEER_AS),
        local_as: Asn(64496),
        router_id: "192.0.2.1".parse().unwrap(),
        hold_time: 90,
        filter: PrefixFilter::new(&watched),
    })
}

/// An UPDATE announcing `prefixes` (IPv4, classic NLRI) with a 4-byte AS_PATH.
fn update(path: &[u32], prefixes: &[(u8, [u8; 4])], withdrawn: &[(u8, [u8; 4])]) -> Vec<u8> {
    let nlri = |list: &[(u8, [u8; 4])]| {
        let mut out = Vec::new();
        for (len, addr) in list {
            out.push(*len);
            out.extend_from_slice(&addr[..usize::from(*len).div_ceil(8)]);
        }
        out
    };
    let mut attributes = vec![0x40, 1, 1, 0];
    let mut as_path = vec![2, path.len() as u8];
    for asn in path {
        as_path.extend_from_slice(&asn.to_be_bytes());
    }
    attributes.extend_from_slice(&[0x40, 2, as_path.len() as u8]);
    attributes.extend_from_slice(&as_path);
    attributes.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 2]);
    let withdrawn = nlri(withdrawn);
    let mut body = Vec::new();
    body.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    body.extend_from_slice(&withdrawn);
    if prefixes.is_empty() {
        body.extend_from_slice(&[0, 0]);
    } else {
        body.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
        body.extend_from_slice(&attributes);
        body.extend_from_slice(&nlri(prefixes));
    }
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    out.push(kind::UPDATE);
    out.extend_from_slice(&body);
    out
}

fn sent(actions: &[Action]) -> Vec<(u8, Vec<u8>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(bytes) => Some((bytes[18], bytes[19..].to_vec())),
            _ => None,
        })
        .collect()
}

fn inputs(actions: &[Action]) -> Vec<BgpInput> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Input(i) => Some(i.clone()),
            _ => None,
        })
        .collect()
}

fn closed(actions: &[Action]) -> Option<String> {
    actions.iter().find_map(|a| match a {
        Action::Close { reason } => Some(reason.clone()),
        _ => None,
    })
}

/// Given an established session (hold time 9 from the router).
fn established() -> BgpSession {
    let mut s = session();
    let actions = s.connected(t(0));
    assert_eq!(sent(&actions)[0].0, kind::OPEN);
    let actions = s.received(t(0), &encode_open(PEER_AS, 9, "192.0.2.2".parse().unwrap()));
    assert_eq!(sent(&actions)[0].0, kind::KEEPALIVE);
    assert_eq!(s.state(), SessionState::OpenConfirm);
    s.received(t(0), &encode_keepalive());
    assert_eq!(s.state(), SessionState::Established);
    assert_eq!(s.hold_time(), 9);
    s
}

#[test]
fn routes_flow_and_end_of_rib_is_counted() {
    let mut s = established();
    let actions = s.received(
        t(1),
        &update(
            &[PEER_AS, 64510],
            &[(24, [203, 0, 113, 0]), (24, [192, 0, 2, 0])],
            &[],
        ),
    );
    let got = inputs(&actions);
    assert_eq!(got.len(), 1, "only the watched prefix: {got:?}");
    let BgpInput::Route(route) = &got[0] else {
        panic!()
    };
    assert_eq!(route.peer.to_string(), "bgp:127.0.0.2 127.0.0.2 AS64497");
    assert!(
        matches!(&route.change, RouteChange::Announce { as_path } if as_path.to_string() == "64497 64510")
    );
    assert_eq!(route.at, t(1));
    // End-of-RIB (an empty UPDATE).
    s.received(t(2), &update(&[], &[], &[]));
    assert_eq!(s.stats().end_of_ribs, 1);
    // Withdrawn, and withdrawn again (a duplicate gives nothing).
    let actions = s.received(t(3), &update(&[], &[], &[(24, [203, 0, 113, 0])]));
    assert!(
        matches!(&inputs(&actions)[0], BgpInput::Route(r) if r.change == RouteChange::Withdraw)
    );
    assert!(inputs(&s.received(t(4), &update(&[], &[], &[(24, [203, 0, 113, 0])]))).is_empty());
}

#[test]
fn messages_split_anywhere_are_the_same() {
    let mut whole = established();
    let mut split = established();
    let mut bytes = update(&[PEER_AS], &[(24, [203, 0, 113, 0])], &[]);
    bytes.extend(encode_keepalive());
    bytes.extend(update(&[], &[], &[(24, [203, 0, 113, 0])]));
    let a = inputs(&whole.received(t(1), &bytes));
    let mut b = Vec::new();
    for byte in &bytes {
        b.extend(inputs(&split.received(t(1), std::slice::from_ref(byte))));
    }
    assert_eq!(a, b);
    assert_eq!(a.len(), 2);
}

#[test]
fn keepalives_keep_it_and_silence_expires_the_hold_timer() {
    let mut s = established();
    s.received(t(1), &update(&[PEER_AS], &[(24, [203, 0, 113, 0])], &[]));
    // We send keepalives every 3 s.
    assert_eq!(s.next_deadline(), Some(t(3)));
    assert_eq!(sent(&s.tick(t(3))), vec![(kind::KEEPALIVE, vec![])]);
    // The router's keepalive at 8 s restarts its hold timer: nothing at 10 s.
    s.received(t(8), &encode_keepalive());
    assert!(closed(&s.tick(t(10))).is_none());
    // Then silence: at 17 s the hold timer expires.
    let actions = s.tick(t(17));
    assert_eq!(sent(&actions), vec![(kind::NOTIFICATION, vec![4, 0])]);
    assert!(closed(&actions).unwrap().contains("hold timer expired"));
    assert!(matches!(&inputs(&actions)[..], [BgpInput::PeerDown { at, .. }] if *at == t(17)));
    assert_eq!(s.state(), SessionState::Idle);
    assert!(s.routes().is_empty());
}

#[test]
fn bad_open_gets_the_right_notification() {
    let cases: [(Vec<u8>, (u8, u8)); 3] = [
        (encode_open(64999, 90, "192.0.2.2".parse().unwrap()), (2, 2)),
        (
            encode_open(PEER_AS, 2, "192.0.2.2".parse().unwrap()),
            (2, 6),
        ),
        (encode_open(PEER_AS, 90, "0.0.0.0".parse().unwrap()), (2, 3)),
    ];
    for (open, (code, subcode)) in cases {
        let mut s = session();
        s.connected(t(0));
        let actions = s.received(t(0), &open);
        assert_eq!(sent(&actions)[0], (kind::NOTIFICATION, vec![code, subcode]));
        assert!(closed(&actions).is_some());
        assert!(
            inputs(&actions).is_empty(),
            "nothing was established, nothing to flush"
        );
    }
}

#[test]
fn garbage_unexpected_messages_and_their_notifications() {
    let mut s = established();
    s.received(t(1), &update(&[PEER_AS], &[(24, [203, 0, 113, 0])], &[]));
    let actions = s.received(t(2), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(sent(&actions)[0], (kind::NOTIFICATION, vec![1, 1]));
    assert_eq!(inputs(&actions).len(), 1, "routes flushed");
    // An UPDATE before the session is established is an FSM error.
    let mut s = session();
    s.connected(t(0));
    let actions = s.received(t(0), &update(&[PEER_AS], &[(24, [203, 0, 113, 0])], &[]));
    assert_eq!(sent(&actions)[0], (kind::NOTIFICATION, vec![5, 1]));
    // A malformed UPDATE (its attribute length runs past the end).
    let mut s = established();
    let mut bad = update(&[PEER_AS], &[(24, [203, 0, 113, 0])], &[]);
    bad[22] = 200;
    let actions = s.received(t(1), &bad);
    assert_eq!(sent(&actions)[0], (kind::NOTIFICATION, vec![3, 1]));
    // The router's NOTIFICATION ends the session with its reason.
    let mut s = established();
    let actions = s.received(t(1), &encode_notification(6, 2, &[]));
    assert!(
        closed(&actions)
            .unwrap()
            .contains("administrative shutdown")
    );
    assert!(sent(&actions).is_empty());
}

#[test]
fn connection_lost_mid_message_flushes() {
    let mut s = established();
    s.received(t(1), &update(&[PEER_AS], &[(24, [203, 0, 113, 0])], &[]));
    let next = update(&[PEER_AS, 64510], &[(24, [203, 0, 113, 0])], &[]);
    assert!(inputs(&s.received(t(2), &next[..next.len() - 3])).is_empty());
    let actions = s.closed(t(3), "router closed the connection");
    assert!(matches!(&inputs(&actions)[..], [BgpInput::PeerDown { .. }]));
}

#[tokio::test]
async fn session_answers_a_garbage_peer_with_open_then_notification() {
    let port = crate::common::free_port();
    let listen = format!("127.0.0.1:{port}").parse().unwrap();
    let watched: Vec<ipnet::IpNet> = vec!["203.0.113.0/24".parse().unwrap()];
    let config = BgpFeedConfig {
        session: SessionConfig {
            peer: "127.0.0.2".parse().unwrap(),
            peer_as: Asn(PEER_AS),
            local_as: Asn(64496),
            router_id: "192.0.2.1".parse().unwrap(),
            hold_time: 90,
            filter: PrefixFilter::new(&watched),
        },
        dial: Dial::Passive(listen),
        retry_min: Duration::from_millis(100),
        retry_max: Duration::from_secs(1),
        health_interval: Duration::from_millis(200),
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(64);
    let feed = tokio::spawn(run_bgp_session(config, tx));
    let mut stream = None;
    for _ in 0..50 {
        let socket = TcpSocket::new_v4().unwrap();
        socket.bind("127.0.0.2:0".parse().unwrap()).unwrap();
        if let Ok(s) = socket.connect(listen).await {
            stream = Some(s);
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut stream = stream.expect("connects");
    stream
        .write_all(b"\x00\x01garbage garbage garbage")
        .await
        .unwrap();
    let mut got = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got)).await;
    let Ok(Some((kind::OPEN, open_len))) = message::frame(&got, 4096) else {
        panic!("an OPEN first: {got:?}");
    };
    let rest = &got[open_len..];
    assert_eq!(
        message::frame(rest, 4096),
        Ok(Some((kind::NOTIFICATION, 21)))
    );
    assert_eq!(&rest[19..21], &[1, 1], "connection not synchronized");
    let mut seen = Vec::new();
    crate::common::events_until(&mut rx, &mut seen, 5, "health", |s| {
        s.iter().any(|e| matches!(e, FeedEvent::Health(h) if h.last_error.as_deref().is_some_and(|e| e.contains("not synchronized"))))
    })
    .await;
    feed.abort();
}

/// An OPEN from the router (AS `PEER_AS`, hold time 9) with the 4-octet AS
/// capability and multiprotocol capabilities for `families` (AFI, SAFI).
fn open_with(families: &[(u16, u8)]) -> Vec<u8> {
    let mut caps = Vec::new();
    for (afi, safi) in families {
        caps.extend_from_slice(&[1, 4]);
        caps.extend_from_slice(&afi.to_be_bytes());
        caps.extend_from_slice(&[0, *safi]);
    }
    caps.extend_from_slice(&[65, 4]);
    caps.extend_from_slice(&PEER_AS.to_be_bytes());
    let mut body = vec![4];
    body.extend_from_slice(&(PEER_AS as u16).to_be_bytes());
    body.extend_from_slice(&9u16.to_be_bytes());
    body.extend_from_slice(&[192, 0, 2, 2]);
    body.push((caps.len() + 2) as u8);
    body.push(2);
    body.push(caps.len() as u8);
    body.extend_from_slice(&caps);
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    out.push(kind::OPEN);
    out.extend_from_slice(&body);
    out
}

/// An UPDATE whose only attributes are ORIGIN, AS_PATH (4-byte) and one
/// MP_REACH_NLRI or MP_UNREACH_NLRI of IPv6 unicast with `prefixes`.
fn mp_update(path: &[u32], prefixes: &[(u8, [u8; 16])], reach: bool) -> Vec<u8> {
    let mut nlri = Vec::new();
    for (len, addr) in prefixes {
        nlri.push(*len);
        nlri.extend_from_slice(&addr[..usize::from(*len).div_ceil(8)]);
    }
    let mut attributes = Vec::new();
    if reach {
        attributes.extend_from_slice(&[0x40, 1, 1, 0]);
        let mut as_path = vec![2, path.len() as u8];
        for asn in path {
            as_path.extend_from_slice(&asn.to_be_bytes());
        }
        attributes.extend_from_slice(&[0x40, 2, as_path.len() as u8]);
        attributes.extend_from_slice(&as_path);
        // AFI 2, SAFI 1, a 16-byte next hop (2001:db8::2), no SNPA.
        let mut value = vec![0, 2, 1, 16, 0x20, 0x01, 0x0d, 0xb8];
        value.extend_from_slice(&[0; 11]);
        value.push(2);
        value.push(0);
        value.extend_from_slice(&nlri);
        attributes.extend_from_slice(&[0x90, 14]);
        attributes.extend_from_slice(&(value.len() as u16).to_be_bytes());
        attributes.extend_from_slice(&value);
    } else {
        let mut value = vec![0, 2, 1];
        value.extend_from_slice(&nlri);
        attributes.extend_from_slice(&[0x90, 15]);
        attributes.extend_from_slice(&(value.len() as u16).to_be_bytes());
        attributes.extend_from_slice(&value);
    }
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    body.extend_from_slice(&attributes);
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    out.push(kind::UPDATE);
    out.extend_from_slice(&body);
    out
}

fn session_watching(prefixes: &[&str]) -> BgpSession {
    let watched: Vec<ipnet::IpNet> = prefixes.iter().map(|p| p.parse().unwrap()).collect();
    BgpSession::new(SessionConfig {
        peer: "::1".parse().unwrap(),
        peer_as: Asn(PEER_AS),
        local_as: Asn(64496),
        router_id: "192.0.2.1".parse().unwrap(),
        hold_time: 90,
        filter: PrefixFilter::new(&watched),
    })
}

#[test]
fn families_are_negotiated_from_both_opens() {
    use blackout_feeds::update::Family;
    let vpn4 = Family { afi: 1, safi: 128 };
    // What the router's OPEN offers (AFI, SAFI), and what the session then takes.
    type Offer = &'static [(u16, u8)];
    let cases: [(Offer, Vec<Family>); 4] = [
        (
            &[(1, 1), (2, 1)],
            vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST],
        ),
        (&[(2, 1), (1, 128)], vec![Family::IPV6_UNICAST]),
        // No multiprotocol capability at all: IPv4 unicast (RFC 4760 §8).
        (&[], vec![Family::IPV4_UNICAST]),
        (&[(1, 128)], vec![]),
    ];
    for (offered, negotiated) in cases {
        let mut s = session_watching(&["2001:db8:100::/40"]);
        s.connected(t(0));
        s.received(t(0), &open_with(offered));
        s.received(t(0), &encode_keepalive());
        assert_eq!(s.state(), SessionState::Established, "{offered:?}");
        assert_eq!(s.families(), negotiated.as_slice(), "{offered:?}");
        let health = s.health();
        assert_eq!(health.families, negotiated);
        if offered == [(1, 128)] {
            assert_eq!(health.router_families, vec![vpn4]);
            assert_eq!(
                s.why_no_routes().as_deref(),
                Some(
                    "the router offers only ipv4-vpn; blackout takes ipv4-unicast and ipv6-unicast"
                )
            );
        } else {
            assert_eq!(s.why_no_routes(), None);
        }
    }
}

#[test]
fn ipv6_routes_come_in_mp_reach_and_go_in_mp_unreach() {
    let mut s = session_watching(&["2001:db8:100::/40"]);
    s.connected(t(0));
    s.received(t(0), &open_with(&[(1, 1), (2, 1)]));
    s.received(t(0), &encode_keepalive());
    let mut watched = [0u8; 16];
    watched[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00]);
    let mut other = [0u8; 16];
    other[..6].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8, 0xff, 0x00]);
    let got = inputs(&s.received(
        t(1),
        &mp_update(&[PEER_AS, 64500], &[(48, watched), (48, other)], true),
    ));
    let [BgpInput::Route(route)] = got.as_slice() else {
        panic!("one watched IPv6 route: {got:?}");
    };
    assert_eq!(route.peer.to_string(), "bgp:::1 ::1 AS64497");
    assert_eq!(route.prefix.to_string(), "2001:db8:100::/48");
    assert!(
        matches!(&route.change, RouteChange::Announce { as_path } if as_path.to_string() == "64497 64500")
    );
    assert_eq!((s.health().routes_ipv4, s.health().routes_ipv6), (0, 1));
    // End-of-RIB of IPv6 unicast: an MP_UNREACH_NLRI with nothing in it.
    assert!(inputs(&s.received(t(2), &mp_update(&[], &[], false))).is_empty());
    assert_eq!(
        s.health().end_of_rib,
        vec![blackout_feeds::update::Family::IPV6_UNICAST]
    );
    let got = inputs(&s.received(t(3), &mp_update(&[], &[(48, watched)], false)));
    assert!(
        matches!(got.as_slice(), [BgpInput::Route(r)] if r.change == RouteChange::Withdraw && r.prefix == route.prefix),
        "{got:?}"
    );
    assert_eq!(s.health().routes_ipv6, 0);
}

#[test]
fn a_router_that_sends_only_vpn_routes_says_so() {
    let mut s = session_watching(&["203.0.113.0/24"]);
    s.connected(t(0));
    s.received(t(0), &open_with(&[(1, 1), (1, 128)]));
    s.received(t(0), &encode_keepalive());
    // MP_REACH_NLRI of VPNv4 (AFI 1, SAFI 128): a label, an RD and a prefix.
    let mut value = vec![0, 1, 128, 12];
    value.extend_from_slice(&[0; 8]);
    value.extend_from_slice(&[192, 0, 2, 2, 0]);
    value.extend_from_slice(&[112, 0, 0, 0x11]);
    value.extend_from_slice(&[0, 0, 0xfb, 0xf0, 0, 0, 0, 1]);
    value.extend_from_slice(&[203, 0, 113]);
    let mut attributes = vec![0x40, 1, 1, 0, 0x40, 2, 0, 0x90, 14];
    attributes.extend_from_slice(&(value.len() as u16).to_be_bytes());
    attributes.extend_from_slice(&value);
    let mut body = vec![0, 0];
    body.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
    body.extend_from_slice(&attributes);
    let mut bytes = vec![0xff; 16];
    bytes.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    bytes.push(kind::UPDATE);
    bytes.extend_from_slice(&body);
    assert!(inputs(&s.received(t(1), &bytes)).is_empty());
    assert_eq!(
        s.why_no_routes().as_deref(),
        Some("1 UPDATEs but no IPv4/IPv6 unicast route: the router sends only ipv4-vpn")
    );
}
