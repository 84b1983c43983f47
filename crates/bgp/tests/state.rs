//! The BGP state, Given/When/Then, with small builders for inputs.

use blackout_bgp::{BgpChange, BgpState, RpkiState, Vrp, Vrps, WatchSet};
use blackout_model::{AsPath, Asn, BgpInput, PeerKey, RouteChange, RouteUpdate, Timestamp};
use ipnet::IpNet;
use std::net::IpAddr;

const ORIGIN: u32 = 64500;
const PRIMARY: u32 = 64501;
const BACKUP: u32 = 64502;

fn p(text: &str) -> IpNet {
    text.parse().unwrap()
}

fn watch() -> WatchSet {
    WatchSet {
        prefixes: vec![p("203.0.113.0/26"), p("203.0.113.64/26")],
        aggregates: vec![p("203.0.113.0/24")],
        origins: [Asn(ORIGIN)].into(),
        known_upstreams: [Asn(PRIMARY), Asn(BACKUP)].into(),
        full_feed_ratio: 0.75,
    }
}

fn peer(n: u8) -> PeerKey {
    PeerKey {
        collector: "rrc00".into(),
        ip: IpAddr::from([198, 51, 100, n]),
        asn: Asn(64510),
    }
}

fn announce(t: i64, peer_n: u8, prefix: &str, path: &[u32]) -> BgpInput {
    BgpInput::Route(RouteUpdate {
        at: Timestamp::from_secs(t),
        peer: peer(peer_n),
        prefix: p(prefix),
        path_id: None,
        change: RouteChange::Announce {
            as_path: AsPath::from_sequence(path.iter().copied()),
        },
    })
}

fn withdraw(t: i64, peer_n: u8, prefix: &str) -> BgpInput {
    BgpInput::Route(RouteUpdate {
        at: Timestamp::from_secs(t),
        peer: peer(peer_n),
        prefix: p(prefix),
        path_id: None,
        change: RouteChange::Withdraw,
    })
}

fn table(t: i64, peer_n: u8, v4: u32) -> BgpInput {
    BgpInput::TableSize {
        at: Timestamp::from_secs(t),
        peer: peer(peer_n),
        ipv4: v4,
        ipv6: 0,
    }
}

/// Given four full-feed peers that see both prefixes via the primary upstream.
fn given_four_peers_via_primary() -> BgpState {
    let mut state = BgpState::new(watch(), Vrps::default());
    for n in 1..=4 {
        for prefix in ["203.0.113.0/26", "203.0.113.64/26"] {
            state.apply(&announce(0, n, prefix, &[64510, PRIMARY, ORIGIN]));
        }
        state.apply(&table(0, n, 320_000));
    }
    state.flush();
    state
}

fn visibility(state: &BgpState, prefix: &str) -> f64 {
    state.view(&p(prefix)).unwrap().visibility()
}

#[test]
fn full_visibility_through_the_primary() {
    let state = given_four_peers_via_primary();
    assert_eq!(visibility(&state, "203.0.113.0/26"), 1.0);
    let view = state.view(&p("203.0.113.0/26")).unwrap();
    assert_eq!(view.full_feed_peers, 4);
    assert_eq!(view.upstream_share(Asn(PRIMARY)), 1.0);
    assert_eq!(view.upstream_share(Asn(BACKUP)), 0.0);
}

#[test]
fn a_partial_table_is_not_full_feed() {
    let mut state = given_four_peers_via_primary();
    // A fifth peer with a small table sees nothing: it must not lower visibility.
    state.apply(&table(1, 5, 1_000));
    let changes = state.flush();
    assert!(
        changes
            .iter()
            .all(|c| !matches!(c, BgpChange::Visibility { .. }))
    );
    assert_eq!(visibility(&state, "203.0.113.0/26"), 1.0);
    // A 2010-sized table beside a 2010-sized max is full-feed: the rule is relative.
    state.apply(&table(2, 6, 300_000));
    state.flush();
    assert_eq!(state.view(&p("203.0.113.0/26")).unwrap().full_feed_peers, 5);
}

#[test]
fn withdrawal_by_every_peer_takes_visibility_to_zero() {
    let mut state = given_four_peers_via_primary();
    let mut last = Vec::new();
    for n in 1..=4 {
        last = state.apply(&withdraw(100, n, "203.0.113.0/26"));
    }
    assert_eq!(visibility(&state, "203.0.113.0/26"), 0.0);
    assert_eq!(visibility(&state, "203.0.113.64/26"), 1.0);
    assert!(
        last.iter()
            .any(|c| matches!(c, BgpChange::Visibility { previous, .. } if *previous == 0.25))
    );
    // The primary still carries the other prefix: it is not gone.
    assert!(
        !last
            .iter()
            .any(|c| matches!(c, BgpChange::UpstreamGone { .. }))
    );
    let changes = state.apply(&withdraw(101, 1, "203.0.113.0/26"));
    assert!(
        changes.is_empty(),
        "a duplicate withdrawal changes nothing: {changes:?}"
    );
}

#[test]
fn a_peer_session_reset_is_not_an_outage() {
    let mut state = given_four_peers_via_primary();
    state.apply(&BgpInput::PeerDown {
        at: Timestamp::from_secs(50),
        peer: peer(1),
    });
    // The peer leaves the denominator with its routes: the others still see everything.
    assert_eq!(visibility(&state, "203.0.113.0/26"), 1.0);
    assert_eq!(state.view(&p("203.0.113.0/26")).unwrap().full_feed_peers, 3);
}

#[test]
fn one_upstream_replaced_by_another() {
    let mut state = given_four_peers_via_primary();
    let mut changes = Vec::new();
    for n in 1..=4 {
        for prefix in ["203.0.113.0/26", "203.0.113.64/26"] {
            changes.extend(state.apply(&announce(
                200,
                n,
                prefix,
                &[64510, BACKUP, ORIGIN, ORIGIN, ORIGIN],
            )));
        }
    }
    assert!(changes.iter().any(|c| matches!(c, BgpChange::UpstreamAppeared { upstream, known: true, .. } if *upstream == Asn(BACKUP))));
    assert!(changes.iter().any(
        |c| matches!(c, BgpChange::UpstreamGone { upstream, .. } if *upstream == Asn(PRIMARY))
    ));
    let view = state.view(&p("203.0.113.64/26")).unwrap();
    assert_eq!(view.upstream_share(Asn(BACKUP)), 1.0);
    assert_eq!(view.upstream_share(Asn(PRIMARY)), 0.0);
    assert_eq!(view.visibility(), 1.0);
}

#[test]
fn an_unknown_upstream_is_new() {
    let mut state = given_four_peers_via_primary();
    let changes = state.apply(&announce(300, 1, "203.0.113.0/26", &[64510, 64499, ORIGIN]));
    assert!(changes.iter().any(|c| matches!(c, BgpChange::UpstreamAppeared { upstream, known: false, .. } if *upstream == Asn(64499))));
}

#[test]
fn a_foreign_more_specific_is_an_unexpected_origin() {
    let mut state = given_four_peers_via_primary();
    let changes = state.apply(&announce(400, 2, "203.0.113.0/27", &[64510, 64498]));
    assert!(changes.iter().any(|c| matches!(c,
        BgpChange::OriginAppeared { origin, expected: false, relation: blackout_bgp::Relation::MoreSpecific, .. } if *origin == Asn(64498))));
    let changes = state.apply(&withdraw(500, 2, "203.0.113.0/27"));
    assert!(
        changes
            .iter()
            .any(|c| matches!(c, BgpChange::OriginGone { origin, .. } if *origin == Asn(64498)))
    );
    // Unrelated routes are ignored.
    assert!(
        state
            .apply(&announce(600, 1, "198.51.100.0/24", &[64510, 64497]))
            .is_empty()
    );
    assert_eq!(state.ignored_routes(), 1);
}

#[test]
fn the_aggregate_keeps_the_prefixes_visible() {
    let mut state = given_four_peers_via_primary();
    for n in 1..=4 {
        state.apply(&announce(
            10,
            n,
            "203.0.113.0/24",
            &[64510, PRIMARY, ORIGIN],
        ));
        state.apply(&withdraw(20, n, "203.0.113.0/26"));
    }
    assert_eq!(visibility(&state, "203.0.113.0/26"), 1.0);
}

#[test]
fn a_roa_with_a_short_max_length_makes_the_routes_invalid() {
    let vrps = Vrps::new(vec![Vrp {
        prefix: p("203.0.113.0/24"),
        max_length: 24,
        asn: Asn(ORIGIN),
    }]);
    let mut state = BgpState::new(watch(), vrps);
    let changes = state.apply(&announce(0, 1, "203.0.113.0/26", &[64510, PRIMARY, ORIGIN]));
    assert!(changes.iter().any(|c| matches!(
        c,
        BgpChange::Rpki {
            state: RpkiState::Invalid,
            ..
        }
    )));
    let changes = state.apply(&announce(0, 1, "203.0.113.0/24", &[64510, PRIMARY, ORIGIN]));
    assert!(changes.iter().any(|c| matches!(
        c,
        BgpChange::Rpki {
            state: RpkiState::Valid,
            ..
        }
    )));
}

#[test]
fn without_table_sizes_the_observing_peers_stand_in() {
    let mut state = BgpState::new(watch(), Vrps::default());
    state.apply(&announce(0, 1, "203.0.113.0/26", &[64510, PRIMARY, ORIGIN]));
    state.apply(&announce(0, 2, "203.0.113.0/26", &[64510, PRIMARY, ORIGIN]));
    state.apply(&withdraw(5, 1, "203.0.113.0/26"));
    assert_eq!(visibility(&state, "203.0.113.0/26"), 0.5);
}

#[test]
fn summaries_record_history() {
    let mut state = given_four_peers_via_primary();
    state.apply(&withdraw(100, 1, "203.0.113.0/26"));
    let summary = state
        .summaries()
        .find(|s| s.prefix == p("203.0.113.0/26"))
        .unwrap();
    assert_eq!(summary.announcements, 4);
    assert_eq!(summary.withdrawals, 1);
    assert_eq!(summary.peers, 4);
    assert_eq!(summary.peers_now, 3);
    assert!(summary.upstreams.contains(&Asn(PRIMARY)));
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    fn input() -> impl Strategy<Value = BgpInput> {
        let prefixes = [
            "203.0.113.0/26",
            "203.0.113.64/26",
            "203.0.113.0/24",
            "203.0.113.0/28",
            "198.51.100.0/24",
        ];
        (
            0i64..1000,
            1u8..6,
            0usize..prefixes.len(),
            prop::bool::ANY,
            0u32..3,
        )
            .prop_map(move |(t, n, i, is_announce, path)| {
                if is_announce {
                    let upstream = [PRIMARY, BACKUP, 64499][path as usize];
                    announce(t, n, prefixes[i], &[64510, upstream, ORIGIN])
                } else {
                    withdraw(t, n, prefixes[i])
                }
            })
    }

    proptest! {
        #[test]
        fn same_input_same_output(inputs in prop::collection::vec(input(), 0..60)) {
            let run = |inputs: &[BgpInput]| {
                let mut state = BgpState::new(watch(), Vrps::default());
                inputs.iter().flat_map(|i| state.apply(i)).collect::<Vec<_>>()
            };
            prop_assert_eq!(run(&inputs), run(&inputs));
        }

        #[test]
        fn visibility_stays_a_share(inputs in prop::collection::vec(input(), 0..60)) {
            let mut state = BgpState::new(watch(), Vrps::default());
            for input in &inputs {
                state.apply(input);
                for view in state.views() {
                    prop_assert!((0.0..=1.0).contains(&view.visibility()));
                    prop_assert!(view.seen_by <= view.full_feed_peers);
                }
            }
        }

        #[test]
        fn withdrawing_everything_leaves_nothing(inputs in prop::collection::vec(input(), 0..60)) {
            let mut state = BgpState::new(watch(), Vrps::default());
            for input in &inputs {
                state.apply(input);
            }
            for n in 1..6 {
                state.apply(&BgpInput::PeerDown { at: Timestamp::from_secs(2000), peer: peer(n) });
            }
            for view in state.views() {
                prop_assert_eq!(view.seen_by, 0);
            }
        }
    }
}
