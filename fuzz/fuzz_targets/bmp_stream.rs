//! Arbitrary bytes through the BMP station's sans-IO path: framer, decoder, router
//! session, as one stream and again cut at places the input chooses, with the views
//! the input chooses (any of pre-policy, post-policy, Loc-RIB).
//!
//! Invariants beyond "no panic": the cut does not change what comes out; routes are
//! only withdrawn after they were announced by the same peer; a monitored peer never
//! has both of its Adj-RIB-In views feeding at once, and no view left out of the
//! configuration feeds; the router's report is bounded and its text inert; a router
//! that says why it gives no route has given none; losing the session flushes every
//! peer that still holds routes and leaves none.

#![no_main]

use blackout_feeds::bmp::{
    BmpFramer, MAX_PEER_DOWNS_REPORTED, MAX_PEERS_REPORTED, MAX_TEXT_CHARS,
};
use blackout_feeds::{BmpOptions, BmpRouter, BmpView, BmpViews};
use blackout_model::{BgpInput, PrefixFilter, RouteChange, Timestamp};
use libfuzzer_sys::fuzz_target;
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::Arc;

fn run(data: &[u8], cuts: &[usize], views: BmpViews) -> (Vec<BgpInput>, BmpRouter) {
    let options = Arc::new(BmpOptions {
        views,
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

/// The view a route key stands for, by its collector's suffix.
fn view_of(collector: &str) -> BmpView {
    if collector.ends_with(":loc-rib") {
        BmpView::LocRib
    } else if collector.ends_with(":post") {
        BmpView::PostPolicy
    } else {
        BmpView::PrePolicy
    }
}

fn inert(text: &Option<String>) {
    if let Some(text) = text {
        assert!(text.chars().count() <= MAX_TEXT_CHARS);
        assert!(!text.chars().any(char::is_control), "control character kept");
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&seed, data)) = data.split_first() else {
        return;
    };
    let views = BmpViews {
        pre_policy: seed & 0x80 == 0,
        post_policy: seed & 0x40 == 0,
        loc_rib: seed & 0x20 == 0,
    };
    let cuts: Vec<usize> = (1..data.len())
        .filter(|i| (i * 31 + usize::from(seed)) % 7 == 0)
        .collect();
    let (whole, mut router) = run(data, &[], views);
    let (pieces, _) = run(data, &cuts, views);
    assert_eq!(whole, pieces, "the cut changed the result");
    let mut held = BTreeSet::new();
    for input in &whole {
        match input {
            BgpInput::Route(r) => {
                assert!(views.allows(view_of(&r.peer.collector)), "a view left out fed");
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
    // One Adj-RIB-In view per monitored peer holds routes.
    let mut adj_rib_in: BTreeMap<IpAddr, BTreeSet<BmpView>> = BTreeMap::new();
    for (peer, ..) in router.routes() {
        let view = view_of(&peer.collector);
        if view != BmpView::LocRib {
            adj_rib_in.entry(peer.ip).or_default().insert(view);
        }
    }
    assert!(adj_rib_in.values().all(|v| v.len() == 1), "two views of a peer feed");

    let report = router.report();
    assert!(report.peers.len() <= MAX_PEERS_REPORTED);
    assert!(report.peer_downs.len() <= MAX_PEER_DOWNS_REPORTED);
    assert!(report.peers_up <= report.peers_total);
    assert_eq!(report.peers_total as usize, router.peer_count());
    inert(&report.sys_name);
    inert(&report.sys_descr);
    for peer in &report.peers {
        inert(&peer.table_name);
        assert_eq!(peer.routes, peer.routes_ipv4 + peer.routes_ipv6);
        assert_eq!(peer.up, peer.down_reason.is_none());
    }
    if router.why_no_routes().is_some() {
        assert!(!whole.iter().any(|i| matches!(i, BgpInput::Route(_))));
    }

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
    assert!(router.report().peers.iter().all(|p| !p.up));
});
