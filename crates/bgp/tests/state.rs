//! The BGP state, Given/When/Then, with small builders for inputs.

use blackout_bgp::{BgpState, ChangeKind, RpkiState, Vrp, Vrps, WatchSet};
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
        known_upstreams: [Asn(PRIMARY), Asn(BACKUP)].into(),
        ..WatchSet::single(
            Asn(ORIGIN),
            vec![p("203.0.113.0/26"), p("203.0.113.64/26")],
            vec![p("203.0.113.0/24")],
        )
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
            .all(|c| !matches!(&c.kind, ChangeKind::Visibility { .. }))
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
            .any(|c| matches!(&c.kind, ChangeKind::Visibility { previous, of, .. } if *previous == 1 && *of == 4))
    );
    // The primary still carries the other prefix: it is not gone.
    assert!(
        !last
            .iter()
            .any(|c| matches!(&c.kind, ChangeKind::UpstreamGone { .. }))
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
    assert!(changes.iter().any(|c| matches!(&c.kind, ChangeKind::UpstreamAppeared { upstream, known: true, .. } if *upstream == Asn(BACKUP))));
    assert!(changes.iter().any(
        |c| matches!(&c.kind, ChangeKind::UpstreamGone { upstream, .. } if *upstream == Asn(PRIMARY))
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
    assert!(changes.iter().any(|c| matches!(&c.kind, ChangeKind::UpstreamAppeared { upstream, known: false, .. } if *upstream == Asn(64499))));
}

#[test]
fn a_foreign_more_specific_is_an_unexpected_origin() {
    let mut state = given_four_peers_via_primary();
    let changes = state.apply(&announce(400, 2, "203.0.113.0/27", &[64510, 64498]));
    assert!(changes.iter().any(|c| matches!(&c.kind, ChangeKind::OriginAppeared { origin, expected: false, relation: blackout_bgp::Relation::MoreSpecific, .. } if *origin == Asn(64498))));
    let changes = state.apply(&withdraw(500, 2, "203.0.113.0/27"));
    assert!(changes.iter().any(
        |c| matches!(&c.kind, ChangeKind::OriginGone { origin, .. } if *origin == Asn(64498))
    ));
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
        &c.kind,
        ChangeKind::Rpki {
            state: RpkiState::Invalid,
            ..
        }
    )));
    let changes = state.apply(&announce(0, 1, "203.0.113.0/24", &[64510, PRIMARY, ORIGIN]));
    assert!(changes.iter().any(|c| matches!(
        &c.kind,
        ChangeKind::Rpki {
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

/// A profile of 2,000 networks, each with a /48 aggregate over eight /52s, where
/// one more network's /47 covers two of those aggregates' first addresses without
/// lying inside either: every watched prefix sees the aggregates over it, and only
/// those.
#[test]
fn a_large_profile_registers_each_aggregate_over_its_own_prefixes() {
    use blackout_bgp::WatchedNetwork;
    use blackout_model::Entity;
    let net =
        |block: u32, sub: u32| -> IpNet { p(&format!("2001:db8:{block:x}:{:x}::/52", sub << 12)) };
    let aggregate = |block: u32| -> IpNet { p(&format!("2001:db8:{block:x}::/48")) };
    let mut networks: Vec<WatchedNetwork> = (0..2_000u32)
        .map(|block| WatchedNetwork {
            entity: Entity::As(Asn(64496 + block % 16)),
            name: format!("network {block}"),
            origin: Asn(64496 + block % 16),
            prefixes: (0..8).map(|sub| net(block, sub)).collect(),
            aggregates: vec![aggregate(block)],
        })
        .collect();
    networks.push(WatchedNetwork {
        entity: Entity::As(Asn(64511)),
        name: "covering".into(),
        origin: Asn(64511),
        prefixes: vec![p("2001:db8:10::/47")],
        aggregates: Vec::new(),
    });
    let mut state = BgpState::new(
        WatchSet {
            networks,
            ..WatchSet::default()
        },
        Vrps::default(),
    );
    // Four full-feed peers carry the aggregate of every even block, nothing else.
    for n in 1..=4 {
        for block in (0..2_000u32).step_by(2) {
            let origin = 64496 + block % 16;
            let prefix = aggregate(block).to_string();
            state.apply(&announce(0, n, &prefix, &[64510, PRIMARY, origin]));
        }
        state.apply(&BgpInput::TableSize {
            at: Timestamp::from_secs(0),
            peer: peer(n),
            ipv4: 0,
            ipv6: 200_000,
        });
    }
    state.flush();
    for block in 0..2_000u32 {
        for sub in 0..8 {
            let view = state.view(&net(block, sub)).unwrap();
            let expected = if block % 2 == 0 { 4 } else { 0 };
            assert_eq!(view.seen_by, expected, "{}", net(block, sub));
            assert_eq!(view.full_feed_peers, 4);
        }
    }
    // The /47 is no aggregate's: a route to 2001:db8:10::/48 does not cover it.
    assert_eq!(state.view(&p("2001:db8:10::/47")).unwrap().seen_by, 0);
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

mod entities {
    use super::*;
    use blackout_bgp::{Aggregates, GlobalSet, Tracking};
    use blackout_model::{CountryCode, CountryLookup, Entity};
    use proptest::prelude::*;
    use std::collections::BTreeMap;
    use std::sync::Arc;

    /// 198.51.100.0/24 is in XA, 203.0.113.0/24 in XB, the rest nowhere.
    struct TwoCountries;

    impl CountryLookup for TwoCountries {
        fn country_of(&self, prefix: &IpNet) -> Option<CountryCode> {
            if p("198.51.100.0/24").contains(prefix) {
                CountryCode::new("XA")
            } else if p("203.0.113.0/24").contains(prefix) {
                CountryCode::new("XB")
            } else {
                None
            }
        }
    }

    /// Every prefix by country and origin; documentation space is small, so
    /// prefixes up to /26 are tracked here.
    fn global() -> BgpState {
        BgpState::tracking(
            Tracking::Global(GlobalSet {
                longest_v4: 26,
                ..GlobalSet::new(Arc::new(TwoCountries), 0.75)
            }),
            Vrps::default(),
        )
    }

    /// An entity's prefixes, the peers that see them, and the paths per
    /// upstream, in all and per family.
    type Counts = (u32, u64, BTreeMap<Asn, u64>, [BTreeMap<Asn, u64>; 2]);

    /// What an entity's aggregates must be, counted from scratch over its prefixes.
    fn recount(state: &BgpState) -> BTreeMap<String, Counts> {
        let mut expected: BTreeMap<String, Counts> = BTreeMap::new();
        for (id, prefix) in state.tracked() {
            let view = state.view(&prefix).unwrap();
            let fam = blackout_bgp::family(&prefix);
            for member in state.members(id) {
                let name = state.entities()[member.0 as usize].entity.to_string();
                let entry = expected.entry(name).or_default();
                entry.0 += 1;
                entry.1 += u64::from(view.seen_by);
                for (upstream, n) in &view.upstreams {
                    *entry.2.entry(*upstream).or_insert(0) += u64::from(*n);
                    *entry.3[fam].entry(*upstream).or_insert(0) += u64::from(*n);
                }
            }
        }
        expected
    }

    fn kept(state: &BgpState) -> BTreeMap<String, Counts> {
        state
            .entities()
            .iter()
            .enumerate()
            .map(|(i, info)| {
                let a: &Aggregates = state.aggregates(blackout_bgp::EntityIdx(i as u32));
                (
                    info.entity.to_string(),
                    (
                        a.prefix_count(),
                        a.seen[0] + a.seen[1],
                        a.upstreams.iter().copied().collect(),
                        [0, 1].map(|fam| a.family_upstreams[fam].iter().copied().collect()),
                    ),
                )
            })
            .filter(|(_, (n, _, _, _))| *n > 0)
            .collect()
    }

    #[test]
    fn a_prefix_counts_for_its_country_and_its_origin() {
        let mut state = global();
        for n in 1..=4 {
            state.apply(&announce(0, n, "198.51.100.0/25", &[64510, 64501, 64496]));
            state.apply(&announce(0, n, "198.51.100.128/25", &[64510, 64502, 64497]));
            state.apply(&announce(0, n, "203.0.113.0/24", &[64510, 64501, 64496]));
            state.apply(&table(0, n, 320_000));
        }
        state.flush();
        let xa = state.entity_index(&Entity::Country("XA".into())).unwrap();
        let as64496 = state.entity_index(&Entity::As(Asn(64496))).unwrap();
        assert_eq!(state.aggregates(xa).prefix_count(), 2);
        assert_eq!(state.aggregates(as64496).prefix_count(), 2);
        assert_eq!(
            state.aggregates(xa).visibility(state.denominators()),
            Some(1.0)
        );
        // One AS goes dark: its country loses half, the other country nothing.
        for n in 1..=4 {
            state.apply(&withdraw(10, n, "198.51.100.128/25"));
        }
        assert_eq!(
            state.aggregates(xa).visibility(state.denominators()),
            Some(0.5)
        );
        let as64497 = state.entity_index(&Entity::As(Asn(64497))).unwrap();
        assert_eq!(
            state.aggregates(as64497).visibility(state.denominators()),
            Some(0.0)
        );
        assert_eq!(
            state
                .aggregates(xa)
                .upstream_share(Asn(64501), state.denominators()),
            Some(0.5)
        );
        // Longer than the limit, or a default route: not tracked.
        assert!(
            state
                .apply(&announce(20, 1, "198.51.100.0/28", &[64510, 64496]))
                .is_empty()
        );
        assert_eq!(kept(&state), recount(&state));
    }

    #[test]
    fn three_networks_of_a_profile_count_apart() {
        let profile = blackout_profile::load_str(
            "name = \"three\"\ndescription = \"three\"\ncountry = \"XA\"\n\
             [[network]]\nname = \"A\"\nasn = 64496\nprefixes = [\"198.51.100.0/26\"]\n\
             [[network]]\nname = \"B\"\nasn = 64497\nprefixes = [\"198.51.100.64/26\"]\n\
             [[network]]\nname = \"C\"\nasn = 64498\nprefixes = [\"198.51.100.128/26\", \"198.51.100.192/26\"]\n",
            "three.toml",
        )
        .unwrap();
        let mut state = BgpState::new(WatchSet::from_profile(&profile), Vrps::default());
        for n in 1..=3 {
            state.apply(&announce(0, n, "198.51.100.0/26", &[64510, 64501, 64496]));
            state.apply(&announce(0, n, "198.51.100.64/26", &[64510, 64501, 64497]));
            state.apply(&announce(0, n, "198.51.100.128/26", &[64510, 64502, 64498]));
            state.apply(&announce(0, n, "198.51.100.192/26", &[64510, 64502, 64498]));
        }
        let of = |entity: Entity| state.entity_index(&entity).unwrap();
        assert_eq!(
            state.aggregates(of(Entity::As(Asn(64498)))).prefix_count(),
            2
        );
        assert_eq!(
            state
                .aggregates(of(Entity::Country("XA".into())))
                .prefix_count(),
            4
        );
        assert_eq!(kept(&state), recount(&state));
    }

    fn input() -> impl Strategy<Value = BgpInput> {
        let prefixes = [
            "198.51.100.0/24",
            "198.51.100.0/25",
            "198.51.100.128/25",
            "203.0.113.0/24",
            "203.0.113.0/26",
            "192.0.2.0/24",
        ];
        (0i64..1000, 1u8..6, 0usize..prefixes.len(), 0u32..5, 0u32..4).prop_map(
            move |(t, n, i, what, path)| match what {
                0 => withdraw(t, n, prefixes[i]),
                1 if path == 0 => BgpInput::PeerDown {
                    at: Timestamp::from_secs(t),
                    peer: peer(n),
                },
                1 => table(t, n, 100_000 * path),
                _ => {
                    let upstream = [64501, 64502, 64503, 64504][path as usize];
                    let origin = 64496 + path % 2;
                    announce(t, n, prefixes[i], &[64510, upstream, origin])
                }
            },
        )
    }

    proptest! {
        #[test]
        fn aggregates_kept_route_by_route_equal_a_recount(inputs in prop::collection::vec(input(), 0..80)) {
            let mut state = global();
            for input in &inputs {
                state.apply(input);
                prop_assert_eq!(kept(&state), recount(&state));
            }
            state.flush();
            prop_assert_eq!(kept(&state), recount(&state));
        }
    }
}
