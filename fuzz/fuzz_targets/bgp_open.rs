//! Arbitrary bytes as a router's OPEN: decoded on its own, and as the body of the
//! OPEN a BGP session receives (so that capability negotiation is reached).
//!
//! Invariants beyond "no panic": the families a session takes are IPv4 and IPv6
//! unicast only, and only those the router offered (IPv4 unicast when it offered
//! none); a session that reaches OpenConfirm answers with one KEEPALIVE; one that
//! refuses the OPEN answers with a NOTIFICATION and closes.

#![no_main]

use blackout_feeds::fsm::{Action, BgpSession, SessionConfig, SessionState};
use blackout_feeds::message::{decode_open, kind, negotiate};
use blackout_feeds::update::Family;
use blackout_model::{Asn, PrefixFilter, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(open) = decode_open(data) {
        let ctx = negotiate(&open, &open);
        assert_eq!(ctx.asn4, open.asn4);
        assert!(open.families.len() * 6 <= data.len());
    }
    let mut message = vec![0xff; 16];
    let Ok(len) = u16::try_from(19 + data.len()) else {
        return;
    };
    message.extend_from_slice(&len.to_be_bytes());
    message.push(kind::OPEN);
    message.extend_from_slice(data);
    let mut session = BgpSession::new(SessionConfig {
        peer: "::1".parse().unwrap(),
        peer_as: Asn(64497),
        local_as: Asn(64496),
        router_id: "192.0.2.1".parse().unwrap(),
        hold_time: 90,
        filter: PrefixFilter::everything(),
    });
    session.connected(Timestamp::EPOCH);
    let actions = session.received(Timestamp::EPOCH, &message);
    let sent: Vec<u8> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Send(bytes) => bytes.get(18).copied(),
            _ => None,
        })
        .collect();
    match session.state() {
        SessionState::OpenConfirm => {
            assert_eq!(sent, vec![kind::KEEPALIVE]);
            let health = session.health();
            assert!(!health.router_families.is_empty());
            for family in session.families() {
                assert!(*family == Family::IPV4_UNICAST || *family == Family::IPV6_UNICAST);
                assert!(health.router_families.contains(family));
            }
            assert_eq!(health.families, session.families());
        }
        SessionState::Idle => {
            assert_eq!(sent, vec![kind::NOTIFICATION]);
            assert!(actions.iter().any(|a| matches!(a, Action::Close { .. })));
        }
        other => panic!("an OPEN left the session in {other:?}"),
    }
});
