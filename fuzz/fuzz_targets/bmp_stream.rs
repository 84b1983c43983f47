//! Arbitrary bytes through the BMP station's sans-IO path: framer, decoder, router
//! session, as one stream and again cut at places the input chooses.
//!
//! Invariants beyond "no panic": the cut does not change what comes out; routes are
//! only withdrawn after they were announced by the same peer; losing the session
//! flushes every peer that still holds routes and leaves none.

#![no_main]

use blackout_feeds::bmp::BmpFramer;
use blackout_feeds::{BmpOptions, BmpRouter, BmpViews, PrefixFilter};
use blackout_model::{BgpInput, RouteChange, Timestamp};
use libfuzzer_sys::fuzz_target;
use std::collections::BTreeSet;
use std::sync::Arc;

fn run(data: &[u8], cuts: &[usize]) -> (Vec<BgpInput>, BmpRouter) {
    let options = Arc::new(BmpOptions {
        views: BmpViews {
            pre_policy: true,
            post_policy: true,
            loc_rib: true,
        },
        filter: PrefixFilter::everything(),
    });
    let mut router = BmpRouter::new("192.0.2.1".parse().unwrap(), options);
    let mut framer = BmpFramer::new();
    let mut out = Vec::new();
    let mut start = 0;
    for &cut in cuts.iter().chain(std::iter::once(&data.len())) {
        let cut = cut.clamp(start, data.len());
        framer.push(&data[start..cut]);
        start = cut;
        loop {
            match framer.next_message() {
                Ok(Some(message)) => router.handle_bytes(Timestamp::EPOCH, message, &mut out),
                Ok(None) | Err(_) => break,
            }
        }
    }
    (out, router)
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, data)) = data.split_first() else {
        return;
    };
    let cuts: Vec<usize> = (1..data.len())
        .filter(|i| (i * 31 + usize::from(seed)) % 7 == 0)
        .collect();
    let (whole, mut router) = run(data, &[]);
    let (pieces, _) = run(data, &cuts);
    assert_eq!(whole, pieces, "the cut changed the result");
    let mut held = BTreeSet::new();
    for input in &whole {
        match input {
            BgpInput::Route(r) => {
                let key = (r.peer.clone(), r.prefix, r.path_id);
                match r.change {
                    RouteChange::Announce { .. } => {
                        held.insert(key);
                    }
                    RouteChange::Withdraw => {
                        assert!(held.remove(&key), "withdrawal of a route never announced")
                    }
                }
            }
            BgpInput::PeerDown { peer, .. } => held.retain(|(p, ..)| p != peer),
            BgpInput::TableSize { .. } => panic!("BMP gives no table sizes"),
        }
    }
    assert_eq!(held.len(), router.route_count());
    let mut out = Vec::new();
    router.session_lost(Timestamp::EPOCH, &mut out);
    let flushed: BTreeSet<_> = out
        .iter()
        .map(|i| match i {
            BgpInput::PeerDown { peer, .. } => peer.clone(),
            other => panic!("session loss gave {other:?}"),
        })
        .collect();
    let holding: BTreeSet<_> = held.iter().map(|(p, ..)| p.clone()).collect();
    assert!(holding.is_subset(&flushed));
    assert_eq!(router.route_count(), 0);
});
