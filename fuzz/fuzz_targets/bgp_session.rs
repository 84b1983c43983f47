//! Arbitrary bytes from a "router" through the BGP session state machine, after a
//! valid OPEN and KEEPALIVE (so that UPDATE handling is reached), with timer ticks
//! between the pieces.
//!
//! Invariants beyond "no panic": every byte string sent is a well-formed BGP message;
//! a NOTIFICATION is always followed by the close; once closed the session is Idle,
//! holds no routes, and gave one PeerDown if it had been established.

#![no_main]

use blackout_model::PrefixFilter;
use blackout_feeds::fsm::{Action, BgpSession, SessionConfig, SessionState};
use blackout_feeds::message::{self, encode_keepalive, encode_open, kind};
use blackout_model::{Asn, BgpInput, Timestamp};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, data)) = data.split_first() else {
        return;
    };
    let mut session = BgpSession::new(SessionConfig {
        peer: "127.0.0.2".parse().unwrap(),
        peer_as: Asn(64497),
        local_as: Asn(64496),
        router_id: "192.0.2.1".parse().unwrap(),
        hold_time: 90,
        filter: if mode & 1 == 0 {
            PrefixFilter::everything()
        } else {
            PrefixFilter::new(&["203.0.113.0/24".parse().unwrap()])
        },
    });
    let mut actions = session.connected(Timestamp::EPOCH);
    if mode & 2 == 0 {
        actions.extend(session.received(
            Timestamp::EPOCH,
            &encode_open(64497, 9, "192.0.2.2".parse().unwrap()),
        ));
        actions.extend(session.received(Timestamp::EPOCH, &encode_keepalive()));
    }
    let mut now = Timestamp::EPOCH;
    let mut established = session.state() == SessionState::Established;
    for piece in data.chunks(usize::from(mode >> 2).max(1)) {
        now = now.add_secs(i64::from(piece[0] % 4));
        actions.extend(session.received(now, piece));
        actions.extend(session.tick(now));
        established |= session.state() == SessionState::Established;
        check(&actions, &session, established);
        if session.state() == SessionState::Idle {
            return;
        }
        actions.clear();
    }
    actions.extend(session.closed(now, "end of input"));
    check(&actions, &session, established);
});

fn check(actions: &[Action], session: &BgpSession, established: bool) {
    let mut notified = false;
    let mut downs = 0;
    for action in actions {
        match action {
            Action::Send(bytes) => {
                let framed = message::frame(bytes, message::MAX_MESSAGE_LEN);
                assert!(
                    matches!(framed, Ok(Some((_, len))) if len == bytes.len()),
                    "bad message sent"
                );
                notified |= bytes[18] == kind::NOTIFICATION;
            }
            Action::Input(BgpInput::PeerDown { .. }) => downs += 1,
            Action::Close { .. } => notified = false,
            _ => {}
        }
    }
    assert!(!notified, "a NOTIFICATION without the close");
    if session.state() == SessionState::Idle {
        assert!(session.routes().is_empty());
        if established {
            assert_eq!(downs, 1);
        }
    }
}
