//! The BGP rules, end to end through the BGP state: given routes, when they
//! change, then these events with these causes and times.

use blackout_bgp::{Vrp, Vrps};
use blackout_engine::{Engine, EngineConfig, Input};
use blackout_model::{
    AsPath, Asn, BgpInput, Cause, Entity, Event, PeerKey, RouteChange, RouteUpdate, Timestamp,
};
use blackout_profile::Profile;
use ipnet::IpNet;
use std::net::IpAddr;

const ORIGIN: u32 = 64500;
const PRIMARY: u32 = 64501;
const BACKUP: u32 = 64502;
const PREFIXES: [&str; 4] = [
    "203.0.113.0/26",
    "203.0.113.64/26",
    "203.0.113.128/26",
    "203.0.113.192/26",
];
const PEERS: u8 = 5;

fn p(text: &str) -> IpNet {
    text.parse().unwrap()
}

struct World {
    engine: Engine,
}

/// The lab's origin with four prefixes, a primary and a backup upstream.
fn profile() -> Profile {
    let prefixes: Vec<String> = PREFIXES.iter().map(|p| format!("\"{p}\"")).collect();
    blackout_profile::load_str(
        &format!(
            "name = \"rules\"\ndescription = \"the BGP rules\"\nlabel = \"the lab\"\n\
             [[network]]\nname = \"Lab origin\"\nasn = {ORIGIN}\nprefixes = [{}]\n\
             [[upstream]]\nasn = {PRIMARY}\nname = \"primary\"\nrole = \"primary\"\n\
             [[upstream]]\nasn = {BACKUP}\nname = \"backup\"\nrole = \"backup\"\n",
            prefixes.join(", ")
        ),
        "rules.toml",
    )
    .unwrap()
}

impl World {
    fn new(vrps: Vrps) -> Self {
        World {
            engine: Engine::new(EngineConfig::live(profile(), vrps)),
        }
    }

    fn feed(&mut self, input: BgpInput) {
        self.engine.step(input.at(), Input::Bgp(input));
    }

    fn route(&mut self, t: i64, peer: u8, prefix: &str, path: Option<&[u32]>) {
        let change = match path {
            Some(path) => RouteChange::Announce {
                as_path: AsPath::from_sequence(path.iter().copied()),
            },
            None => RouteChange::Withdraw,
        };
        self.feed(BgpInput::Route(RouteUpdate {
            at: Timestamp::from_secs(t),
            peer: PeerKey {
                collector: "rrc00".into(),
                ip: IpAddr::from([198, 51, 100, peer]),
                asn: Asn(64510 + u32::from(peer)),
            },
            prefix: p(prefix),
            path_id: None,
            change,
        }));
    }

    /// Every peer announces every prefix via the primary; the backup carries some peers' paths.
    fn baseline(&mut self) {
        for peer in 1..=PEERS {
            for prefix in PREFIXES {
                let upstream = if peer <= 3 { PRIMARY } else { BACKUP };
                self.route(0, peer, prefix, Some(&[64510, upstream, ORIGIN]));
            }
            self.feed(BgpInput::TableSize {
                at: Timestamp::from_secs(0),
                peer: PeerKey {
                    collector: "rrc00".into(),
                    ip: IpAddr::from([198, 51, 100, peer]),
                    asn: Asn(64510 + u32::from(peer)),
                },
                ipv4: 320_000,
                ipv6: 0,
            });
        }
        self.engine.settle(Timestamp::from_secs(0));
    }

    fn withdraw_all(&mut self, t: i64, prefixes: &[&str]) {
        for (i, peer) in (1..=PEERS).enumerate() {
            for prefix in prefixes {
                self.route(t + i as i64, peer, prefix, None);
            }
        }
    }

    fn announce_all(&mut self, t: i64, prefixes: &[&str]) {
        for (i, peer) in (1..=PEERS).enumerate() {
            for prefix in prefixes {
                let upstream = if peer <= 3 { PRIMARY } else { BACKUP };
                self.route(t + i as i64, peer, prefix, Some(&[64510, upstream, ORIGIN]));
            }
        }
    }

    fn finish(self) -> Vec<Event> {
        let events = self.engine.finish().events;
        for event in &events {
            assert!(
                !event.evidence.is_empty(),
                "no event without evidence: {event:?}"
            );
        }
        events
    }
}

fn only(events: &[Event], cause: Cause) -> &Event {
    let matching: Vec<&Event> = events.iter().filter(|e| e.cause == cause).collect();
    assert_eq!(
        matching.len(),
        1,
        "one {cause} event expected in {events:#?}"
    );
    matching[0]
}

#[test]
fn every_prefix_withdrawn_together_is_internal() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    world.withdraw_all(1000, &PREFIXES);
    world.announce_all(1000 + 9 * 3600, &PREFIXES);
    world.route(
        1000 + 10 * 3600,
        1,
        "203.0.113.0/26",
        Some(&[64510, PRIMARY, ORIGIN]),
    );
    let events = world.finish();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.cause, Cause::Internal);
    assert_eq!(event.entity, Entity::As(Asn(ORIGIN)));
    assert_eq!(event.start, Timestamp::from_secs(1000));
    // Visibility reached the `up` share once three of five peers were back.
    assert_eq!(event.end, Some(Timestamp::from_secs(1000 + 9 * 3600 + 2)));
    assert!(
        event.summary.contains("Back after 9 h 0 m"),
        "{}",
        event.summary
    );
}

#[test]
fn one_building_dark_is_partial() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    world.withdraw_all(500, &["203.0.113.128/26"]);
    let events = world.finish();
    let event = only(&events, Cause::Partial);
    assert_eq!(event.scope.prefixes, vec![p("203.0.113.128/26")]);
    assert!(event.end.is_none());
}

#[test]
fn partial_then_everything_revises_the_cause() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    world.withdraw_all(500, &["203.0.113.128/26"]);
    world.withdraw_all(
        900,
        &["203.0.113.0/26", "203.0.113.64/26", "203.0.113.192/26"],
    );
    let events = world.finish();
    let event = only(&events, Cause::Internal);
    assert_eq!(event.start, Timestamp::from_secs(500));
    assert!(
        event
            .evidence
            .iter()
            .any(|e| e.text.contains("partial -> internal"))
    );
}

#[test]
fn primary_cut_while_backup_carries_is_upstream_cut() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    // Peers 1-3 move from the primary to the backup: the routes stay visible.
    for peer in 1..=3 {
        for prefix in PREFIXES {
            world.route(2000, peer, prefix, Some(&[64510, BACKUP, ORIGIN, ORIGIN]));
        }
    }
    let events = world.finish();
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event.cause, Cause::UpstreamCut);
    assert_eq!(event.entity, Entity::Upstream(Asn(PRIMARY)));
    assert_eq!(event.start, Timestamp::from_secs(2000));
    assert!(event.summary.contains("64502"));
}

#[test]
fn both_upstreams_lost_is_not_an_upstream_cut() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    world.withdraw_all(3000, &PREFIXES);
    let events = world.finish();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0].cause, Cause::Internal);
    assert!(events[0].evidence.iter().any(|e| e.text.contains("64501")));
}

#[test]
fn a_foreign_more_specific_is_a_hijack() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    world.route(4000, 2, "203.0.113.0/27", Some(&[64510, 64499]));
    world.route(4600, 2, "203.0.113.0/27", None);
    let events = world.finish();
    let event = only(&events, Cause::Hijack);
    assert_eq!(event.entity, Entity::Prefix(p("203.0.113.0/26")));
    assert_eq!(event.start, Timestamp::from_secs(4000));
    assert_eq!(event.end, Some(Timestamp::from_secs(4600)));
}

#[test]
fn an_unknown_upstream_taking_the_paths_is_new() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    for peer in 4..=5 {
        for prefix in PREFIXES {
            world.route(5000, peer, prefix, Some(&[64510, 64498, ORIGIN]));
        }
    }
    let events = world.finish();
    let event = only(&events, Cause::NewUpstream);
    assert_eq!(event.entity, Entity::Upstream(Asn(64498)));
    assert_eq!(event.end, Some(event.start));
    // The backup's paths moved to the new upstream: that is a cut of the backup too.
    assert_eq!(
        only(&events, Cause::UpstreamCut).entity,
        Entity::Upstream(Asn(BACKUP))
    );
}

#[test]
fn invalid_routes_losing_visibility_are_rpki_invalid() {
    let vrps = Vrps::new(vec![Vrp {
        prefix: p("203.0.113.0/24"),
        max_length: 24,
        asn: Asn(ORIGIN),
    }]);
    let mut world = World::new(vrps);
    world.baseline();
    // Validating networks drop the routes: four of five peers lose them.
    for peer in 1..=4 {
        for prefix in PREFIXES {
            world.route(6000, peer, prefix, None);
        }
    }
    let events = world.finish();
    let network: Vec<&Event> = events
        .iter()
        .filter(|e| e.entity == Entity::As(Asn(ORIGIN)))
        .collect();
    assert_eq!(network.len(), 1, "{events:#?}");
    assert_eq!(network[0].cause, Cause::RpkiInvalid);
    // The invalid prefixes are warning states of the status, not events: the
    // network's event tells of the loss.
    assert_eq!(
        events
            .iter()
            .filter(|e| matches!(e.entity, Entity::Prefix(_)) && e.cause == Cause::RpkiInvalid)
            .count(),
        0,
        "{events:#?}"
    );
}

#[test]
fn repeated_withdraw_and_return_is_flapping() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    for cycle in 0..4 {
        let t = 10_000 + cycle * 600;
        world.withdraw_all(t, &PREFIXES);
        world.announce_all(t + 120, &PREFIXES);
    }
    world.route(
        20_000,
        1,
        "203.0.113.0/26",
        Some(&[64510, PRIMARY, ORIGIN, ORIGIN]),
    );
    let events = world.finish();
    let flap = only(&events, Cause::Flap);
    // Flapping began with the first withdrawal of the cycles.
    assert_eq!(flap.start, Timestamp::from_secs(10_000));
    // The summary reads like an analyst's: how often, from when to when, how
    // many prefixes, and the longest time away.
    let prefixes = PREFIXES.len();
    for text in [
        "lost and back 4 times",
        &format!("{prefixes} prefixes flapping"),
        "the longest down for 2 m",
    ] {
        assert!(flap.summary.contains(text), "{text:?} in {}", flap.summary);
    }
    assert_eq!(
        events.iter().filter(|e| e.cause == Cause::Internal).count(),
        4
    );
}

#[test]
fn one_peer_reset_raises_nothing() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    world.feed(BgpInput::PeerDown {
        at: Timestamp::from_secs(100),
        peer: PeerKey {
            collector: "rrc00".into(),
            ip: IpAddr::from([198, 51, 100, 1]),
            asn: Asn(64511),
        },
    });
    world.route(130, 2, "203.0.113.0/26", None);
    assert!(world.finish().is_empty());
}

/// A full-feed peer's session reset takes its paths along and brings them back:
/// an upstream that only its paths showed is not cut, neither when the peer
/// goes nor when it comes back and its routes are not all in yet (the reset is
/// feed evidence, not an outage of anything).
#[test]
fn a_reset_of_the_only_peer_through_an_upstream_is_no_cut() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    // Peers 1-4 via the primary; peer 5 alone via the backup (20% of the paths).
    for prefix in PREFIXES {
        world.route(1000, 4, prefix, Some(&[64510, PRIMARY, ORIGIN]));
    }
    world.engine.settle(Timestamp::from_secs(1100));
    world.feed(BgpInput::PeerDown {
        at: Timestamp::from_secs(2000),
        peer: PeerKey {
            collector: "rrc00".into(),
            ip: IpAddr::from([198, 51, 100, 5]),
            asn: Asn(64515),
        },
    });
    world.engine.settle(Timestamp::from_secs(2100));
    // It learns its table again, one prefix a minute.
    for (i, prefix) in PREFIXES.iter().enumerate() {
        world.route(
            2400 + 60 * i as i64,
            5,
            prefix,
            Some(&[64510, BACKUP, ORIGIN]),
        );
        world
            .engine
            .settle(Timestamp::from_secs(2430 + 60 * i as i64));
    }
    world.engine.settle(Timestamp::from_secs(4000));
    let events = world.finish();
    assert!(events.is_empty(), "{events:#?}");
}

/// Control: the same upstream losing the same peer's paths while the session
/// stays up (the peer moves to the primary) is a cut: what excuses the reset is
/// the session, not the one peer.
#[test]
fn the_only_peer_through_an_upstream_moving_away_is_a_cut() {
    let mut world = World::new(Vrps::default());
    world.baseline();
    for prefix in PREFIXES {
        world.route(1000, 4, prefix, Some(&[64510, PRIMARY, ORIGIN]));
    }
    world.engine.settle(Timestamp::from_secs(1100));
    for prefix in PREFIXES {
        world.route(2000, 5, prefix, Some(&[64510, PRIMARY, ORIGIN, ORIGIN]));
    }
    let events = world.finish();
    let event = only(&events, Cause::UpstreamCut);
    assert_eq!(event.entity, Entity::Upstream(Asn(BACKUP)));
    assert_eq!(event.start, Timestamp::from_secs(2000));
}
