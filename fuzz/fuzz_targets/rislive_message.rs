//! Arbitrary text through RIS Live's sans-IO session: each line of the input is one
//! websocket text message, with a filter the input chooses (every route, or only the
//! documentation prefixes).
//!
//! Invariants beyond "no panic": every text the session hands on (errors, unknown
//! types, peer states, collector names) is inert; only routes the filter wants pass;
//! an update's counts are the routes it passed, and only updates pass routes;
//! losing the connection flushes every peer that holds routes, each once, and
//! leaves the session knowing none.

#![no_main]

use blackout_feeds::RisLiveSession;
use blackout_feeds::rislive::RisMessage;
use blackout_model::{BgpInput, PrefixFilter, RouteChange, Timestamp};
use ipnet::IpNet;
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;

fn inert(text: &str) {
    assert!(!text.chars().any(char::is_control), "control character kept: {text:?}");
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, data)) = data.split_first() else {
        return;
    };
    let watched: Vec<IpNet> = ["192.0.2.0/24", "198.51.100.0/24", "2001:db8::/32"]
        .iter()
        .map(|prefix| prefix.parse().unwrap())
        .collect();
    let filter = if seed & 1 == 0 {
        PrefixFilter::everything()
    } else {
        PrefixFilter::new(&watched)
    };
    let mut session = RisLiveSession::new(filter.clone());
    let text = String::from_utf8_lossy(data);
    let mut peers = BTreeSet::new();
    for line in text.split('\n') {
        let mut out = Vec::new();
        let message = session.handle(Timestamp::EPOCH, line, &mut out);
        let (mut announced, mut withdrawn) = (0u32, 0u32);
        for input in &out {
            match input {
                BgpInput::Route(route) => {
                    inert(&route.peer.collector);
                    assert!(filter.wants(&route.prefix), "a route the filter does not want");
                    match route.change {
                        RouteChange::Announce { .. } => announced += 1,
                        RouteChange::Withdraw => withdrawn += 1,
                    }
                    peers.insert(route.peer.clone());
                }
                BgpInput::PeerDown { peer, .. } => {
                    inert(&peer.collector);
                    peers.remove(peer);
                }
                BgpInput::TableSize { .. } => panic!("RIS Live gives no table sizes"),
            }
        }
        match &message {
            RisMessage::Update {
                announced: a,
                withdrawn: w,
            } => assert_eq!((*a, *w), (announced, withdrawn), "counts of {line:?}"),
            RisMessage::PeerState { host, state, .. } => {
                inert(host);
                inert(state);
            }
            RisMessage::Error(text) | RisMessage::Other(text) | RisMessage::Malformed(text) => {
                inert(text)
            }
            RisMessage::Open | RisMessage::Notification | RisMessage::Keepalive | RisMessage::Pong => {}
        }
        if !matches!(message, RisMessage::Update { .. }) {
            assert!(
                out.iter().all(|input| !matches!(input, BgpInput::Route(_))),
                "routes from a message that is no update: {message:?}"
            );
        }
    }
    let mut out = Vec::new();
    session.connection_lost(Timestamp::EPOCH, &mut out);
    let flushed: BTreeSet<_> = out
        .iter()
        .map(|input| match input {
            BgpInput::PeerDown { peer, .. } => peer.clone(),
            other => panic!("connection loss gave {other:?}"),
        })
        .collect();
    assert_eq!(flushed.len(), out.len(), "a peer flushed twice");
    assert!(peers.is_subset(&flushed), "a peer holding routes was not flushed");
    assert_eq!(session.peer_count(), 0);
    let mut again = Vec::new();
    session.connection_lost(Timestamp::EPOCH, &mut again);
    assert!(again.is_empty());
});
