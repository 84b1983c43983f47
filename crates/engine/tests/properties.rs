//! Properties of the detector over random worlds: random route churn from a
//! dozen peers and random probe results, fed through the engine.

use blackout_bgp::Vrps;
use blackout_detect::ProbeSignal;
use blackout_engine::{Engine, EngineConfig, Input};
use blackout_model::{AsPath, Asn, BgpInput, Event, PeerKey, RouteChange, RouteUpdate, Timestamp};
use blackout_model::{ProbeKind, ProbeRole};
use proptest::prelude::*;
use std::collections::BTreeMap;
use std::net::IpAddr;

#[derive(Clone, Debug)]
enum Step {
    Announce {
        peer: u8,
        prefix: usize,
        upstream: u8,
    },
    Withdraw {
        peer: u8,
        prefix: usize,
    },
    PeerDown {
        peer: u8,
    },
    Probe {
        target: usize,
        kind: u8,
        ok: bool,
        slow: bool,
    },
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        (1u8..12, 0usize..4, 0u8..3).prop_map(|(peer, prefix, upstream)| Step::Announce {
            peer,
            prefix,
            upstream
        }),
        (1u8..12, 0usize..4).prop_map(|(peer, prefix)| Step::Withdraw { peer, prefix }),
        (1u8..12).prop_map(|peer| Step::PeerDown { peer }),
        (
            0usize..6,
            0u8..3,
            prop::bool::weighted(0.7),
            prop::bool::weighted(0.2)
        )
            .prop_map(|(target, kind, ok, slow)| Step::Probe {
                target,
                kind,
                ok,
                slow
            }),
    ]
}

/// Runs the steps, each `gap` seconds after the last (0 for simultaneous).
fn run(steps: &[(Step, u16)]) -> Vec<Event> {
    let profile = blackout_profile::builtin("kp").unwrap();
    let prefixes = profile.announced_prefixes();
    let mut engine = Engine::new(EngineConfig::live(profile, Vrps::default()));
    let peer = |n: u8| PeerKey {
        collector: "rrc00".into(),
        ip: IpAddr::from([198, 51, 100, n]),
        asn: Asn(64400 + u32::from(n)),
    };
    let mut t = Timestamp::from_secs(1_700_000_000);
    for n in 1..12 {
        for prefix in &prefixes {
            let input = BgpInput::Route(RouteUpdate {
                at: t,
                peer: peer(n),
                prefix: *prefix,
                path_id: None,
                change: RouteChange::Announce {
                    as_path: AsPath::from_sequence([64400 + u32::from(n), 4837, 131279]),
                },
            });
            engine.step(input.at(), Input::Bgp(input));
        }
    }
    let targets = [
        "kcna.kp",
        "mfa.gov.kp",
        "airkoryo.com.kp",
        "rodong.rep.kp",
        "naenara.com.kp",
        "a.root-servers.net",
    ];
    for (step, gap) in steps {
        t = t.add_secs(i64::from(*gap));
        let input = match step {
            Step::Announce {
                peer: n,
                prefix,
                upstream,
            } => Some(BgpInput::Route(RouteUpdate {
                at: t,
                peer: peer(*n),
                prefix: prefixes[*prefix],
                path_id: None,
                change: RouteChange::Announce {
                    as_path: AsPath::from_sequence([
                        64400 + u32::from(*n),
                        [4837, 20485, 64499][usize::from(*upstream)],
                        131279,
                    ]),
                },
            })),
            Step::Withdraw { peer: n, prefix } => Some(BgpInput::Route(RouteUpdate {
                at: t,
                peer: peer(*n),
                prefix: prefixes[*prefix],
                path_id: None,
                change: RouteChange::Withdraw,
            })),
            Step::PeerDown { peer: n } => Some(BgpInput::PeerDown {
                at: t,
                peer: peer(*n),
            }),
            Step::Probe {
                target,
                kind,
                ok,
                slow,
            } => {
                let signal = ProbeSignal {
                    at: t,
                    vantage: "local".into(),
                    role: if *target == 5 {
                        ProbeRole::Control
                    } else {
                        ProbeRole::Host
                    },
                    target: targets[*target].into(),
                    kind: [ProbeKind::Icmp, ProbeKind::Http, ProbeKind::Trace][usize::from(*kind)],
                    ok: *ok,
                    rtt_ms: ok.then_some(if *slow { 2000.0 } else { 40.0 }),
                    loss: Some(if *ok { 0.0 } else { 1.0 }),
                    text: if *ok {
                        "answered".into()
                    } else {
                        "timeout".into()
                    },
                    last_hop_asn: None,
                };
                engine.step(signal.at, Input::Probe(signal));
                None
            }
        };
        if let Some(input) = input {
            engine.step(input.at(), Input::Bgp(input));
        }
    }
    engine.settle(t.add_secs(7200));
    engine.finish().events
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn every_event_has_evidence_a_sane_span_and_a_unique_id(steps in prop::collection::vec((step(), prop_oneof![Just(0u16), 1u16..900]), 0..120)) {
        let events = run(&steps);
        let mut ids = BTreeMap::new();
        for event in &events {
            prop_assert!(!event.evidence.is_empty(), "no evidence: {:?}", event);
            prop_assert!((0.0..=1.0).contains(&event.confidence));
            if let Some(end) = event.end {
                prop_assert!(end >= event.start, "ends before it starts: {:?}", event);
            }
            if let Some(earlier) = ids.insert(event.id.clone(), event) {
                prop_assert!(false, "two events share the id {}: {:?} and {:?}", event.id, earlier, event);
            }
        }
    }

    #[test]
    fn the_same_input_gives_the_same_output(steps in prop::collection::vec((step(), prop_oneof![Just(0u16), 1u16..900]), 0..80)) {
        prop_assert_eq!(run(&steps), run(&steps));
    }
}
