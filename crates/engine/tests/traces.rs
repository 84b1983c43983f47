//! Reactive traceroute in the engine, end to end through the BGP state: given a
//! network at its baseline, when it goes dark, then the event's start asks for
//! traceroutes toward its affected targets, and the reports that come back are
//! `probe.trace` evidence on it (a revision), naming the last hop that answered
//! and its AS. The limits (per event, per window) are unit-tested in the crate.

use blackout_bgp::Vrps;
use blackout_detect::ProbeSignal;
use blackout_engine::{Engine, EngineConfig, Input, Output, TRACE_TARGETS_PER_EVENT};
use blackout_model::{
    AsPath, Asn, BgpInput, Cause, EventId, PeerKey, ProbeKind, ProbeRole, RouteChange, RouteUpdate,
    SignalKind, Timestamp, TraceHop, TraceReport, TraceRequest, UpdateKind,
};
use blackout_profile::Profile;
use std::net::IpAddr;

const ORIGIN: u32 = 64500;
const UPSTREAM: u32 = 64501;
const PREFIXES: [&str; 2] = ["203.0.113.0/24", "2001:db8:100::/48"];
const PEERS: u8 = 5;

/// A network of two prefixes with five hosts in them and one outside.
fn profile() -> Profile {
    let hosts: String = [
        ("www.example", "203.0.113.11"),
        ("2001:db8:100::11", "2001:db8:100::11"),
        ("mail.example", "203.0.113.76"),
        ("ping3.example", "203.0.113.130"),
        ("ping4.example", "203.0.113.194"),
        ("elsewhere.example", "198.51.100.77"),
    ]
    .iter()
    .map(|(name, address)| {
        format!("[[host]]\nname = \"{name}\"\naddress = \"{address}\"\nchecks = [\"icmp\"]\n")
    })
    .collect();
    blackout_profile::load_str(
        &format!(
            "name = \"traces\"\ndescription = \"reactive traceroute\"\n\
             [[network]]\nname = \"Origin\"\nasn = {ORIGIN}\nprefixes = [\"{}\", \"{}\"]\n\
             [[upstream]]\nasn = {UPSTREAM}\nname = \"primary\"\nrole = \"primary\"\n{hosts}",
            PREFIXES[0], PREFIXES[1]
        ),
        "traces.toml",
    )
    .unwrap()
}

fn peer(n: u8) -> PeerKey {
    PeerKey {
        collector: "rrc00".into(),
        ip: IpAddr::from([198, 51, 100, n]),
        asn: Asn(64510 + u32::from(n)),
    }
}

struct World {
    engine: Engine,
}

impl World {
    /// Given: every peer carries both prefixes via the upstream.
    fn at_baseline() -> World {
        let mut world = World {
            engine: Engine::new(EngineConfig::live(profile(), Vrps::default())),
        };
        for n in 1..=PEERS {
            world.routes(0, n, true);
            world.engine.step(
                Timestamp::from_secs(0),
                Input::Bgp(BgpInput::TableSize {
                    at: Timestamp::from_secs(0),
                    peer: peer(n),
                    ipv4: 320_000,
                    ipv6: 80_000,
                }),
            );
        }
        let output = world.engine.settle(Timestamp::from_secs(0));
        assert!(output.traces.is_empty(), "{:?}", output.traces);
        world
    }

    fn routes(&mut self, t: i64, n: u8, up: bool) -> Output {
        let mut output = Output::default();
        for prefix in PREFIXES {
            let change = if up {
                RouteChange::Announce {
                    as_path: AsPath::from_sequence([64510, UPSTREAM, ORIGIN]),
                }
            } else {
                RouteChange::Withdraw
            };
            let input = BgpInput::Route(RouteUpdate {
                at: Timestamp::from_secs(t),
                peer: peer(n),
                prefix: prefix.parse().unwrap(),
                path_id: None,
                change,
            });
            output.extend(self.engine.step(input.at(), Input::Bgp(input)));
        }
        output
    }

    /// When: every peer loses both prefixes at `t`, and time passes a little.
    fn go_dark(&mut self, t: i64) -> Output {
        let mut output = Output::default();
        for n in 1..=PEERS {
            output.extend(self.routes(t, n, false));
        }
        output.extend(self.engine.settle(Timestamp::from_secs(t + 5)));
        output
    }

    fn come_back(&mut self, t: i64) -> Output {
        let mut output = Output::default();
        for n in 1..=PEERS {
            output.extend(self.routes(t, n, true));
        }
        output.extend(self.engine.settle(Timestamp::from_secs(t + 3600)));
        output
    }
}

/// A trace that dies after the origin's border router (2001:db8:0:1::1, whose
/// AS the trace did not know), then `dark` silent hops.
fn report(request: &TraceRequest, t: i64) -> TraceReport {
    TraceReport {
        event: request.event.clone(),
        target: request.target.clone(),
        at: Timestamp::from_secs(t),
        vantage: "local".into(),
        address: request.address,
        mode: "icmp".into(),
        hops: vec![
            TraceHop {
                ttl: 1,
                address: Some("2001:db8::1".parse().unwrap()),
                asn: Some(Asn(64503)),
            },
            TraceHop {
                ttl: 2,
                address: Some("2001:db8:100::1".parse().unwrap()),
                asn: None,
            },
            TraceHop {
                ttl: 3,
                address: None,
                asn: None,
            },
        ],
        reached: false,
        failure: None,
    }
}

#[test]
fn an_event_that_starts_asks_for_a_trace_of_each_affected_host_once() {
    let mut world = World::at_baseline();
    let output = world.go_dark(1000);
    let started: Vec<_> = output
        .updates
        .iter()
        .filter(|u| u.kind == UpdateKind::Started)
        .collect();
    assert_eq!(started.len(), 1, "{:#?}", output.updates);
    let event = &started[0].event;
    assert_eq!(event.cause, Cause::Internal);
    // The hosts inside the event's prefixes, at most four, each with its address;
    // the host outside them is not affected.
    let asked: Vec<(&str, Option<IpAddr>)> = output
        .traces
        .iter()
        .map(|r| (r.target.as_str(), r.address))
        .collect();
    assert_eq!(
        asked,
        [
            ("www.example", Some("203.0.113.11".parse().unwrap())),
            (
                "2001:db8:100::11",
                Some("2001:db8:100::11".parse().unwrap())
            ),
            ("mail.example", Some("203.0.113.76".parse().unwrap())),
            ("ping3.example", Some("203.0.113.130".parse().unwrap())),
        ]
    );
    assert_eq!(asked.len(), TRACE_TARGETS_PER_EVENT);
    assert!(output.traces.iter().all(|r| r.event == event.id));
    // Time passing and the event going on ask for nothing more.
    let later = world.engine.settle(Timestamp::from_secs(1100));
    assert!(later.traces.is_empty(), "{:?}", later.traces);
}

#[test]
fn a_report_is_trace_evidence_naming_the_last_hop_and_its_as() {
    let mut world = World::at_baseline();
    let output = world.go_dark(1000);
    let request = output.traces[1].clone();
    let revised = world.engine.step(
        Timestamp::from_secs(1008),
        Input::Trace(report(&request, 1008)),
    );
    assert_eq!(revised.updates.len(), 1, "{:#?}", revised.updates);
    let update = &revised.updates[0];
    assert_eq!(update.kind, UpdateKind::Revised);
    assert_eq!(update.event.id, request.event);
    let trace = update
        .event
        .evidence
        .iter()
        .find(|e| e.signal == SignalKind::ProbeTrace)
        .expect("probe.trace evidence");
    assert_eq!(trace.at, Timestamp::from_secs(1008));
    assert_eq!(
        trace.value,
        Some(2.0),
        "the last hop that answered is hop 2"
    );
    // The border hop's AS comes from the profile's network where the trace did
    // not know it.
    assert_eq!(
        trace.text,
        "traceroute to 2001:db8:100::11 from local over icmp: the destination did not answer; the last hop that did is 2001:db8:100::1 at hop 2 (AS64500); hops: 1 2001:db8::1 AS64503, 2 2001:db8:100::1 AS64500, 3 *"
    );
    assert!(
        revised.traces.is_empty(),
        "a revision asks for no new trace"
    );
}

#[test]
fn a_report_for_an_event_that_ended_or_never_was_changes_nothing() {
    let mut world = World::at_baseline();
    let output = world.go_dark(1000);
    let request = output.traces[0].clone();
    let back = world.come_back(2000);
    assert!(
        back.updates.iter().any(|u| u.kind == UpdateKind::Ended),
        "{:#?}",
        back.updates
    );
    let late = world.engine.step(
        Timestamp::from_secs(6000),
        Input::Trace(report(&request, 6000)),
    );
    assert!(late.updates.is_empty(), "{:#?}", late.updates);
    let stray = TraceRequest {
        event: EventId("ev-0-0000000000000000".into()),
        ..request
    };
    let none = world.engine.step(
        Timestamp::from_secs(6001),
        Input::Trace(report(&stray, 6001)),
    );
    assert!(none.updates.is_empty());
}

#[test]
fn the_same_outage_again_after_it_ended_is_traced_again() {
    let mut world = World::at_baseline();
    let first = world.go_dark(1000);
    world.come_back(2000);
    let second = world.go_dark(9000);
    assert_eq!(second.traces.len(), TRACE_TARGETS_PER_EVENT);
    assert_ne!(first.traces[0].event, second.traces[0].event);
}

/// An answer of the host outside the network (`elsewhere.example`) to `vantage`.
fn answer(engine: &mut Engine, vantage: &str, t: i64) -> Output {
    let at = Timestamp::from_secs(t);
    let signal = ProbeSignal {
        at,
        vantage: vantage.into(),
        role: ProbeRole::Host,
        target: "elsewhere.example".into(),
        kind: ProbeKind::Icmp,
        ok: true,
        rtt_ms: Some(20.0),
        loss: Some(0.0),
        text: "ok".into(),
        last_hop_asn: None,
    };
    engine.step(at, Input::Probe(signal))
}

#[test]
fn a_vantage_point_away_when_an_event_started_traces_it_once_it_is_back() {
    let mut world = World::at_baseline();
    // Two vantage points answer every minute.
    for t in (0..=990).step_by(60) {
        answer(&mut world.engine, "vp-a", t);
        answer(&mut world.engine, "vp-b", t);
    }
    let dark = world.go_dark(1000);
    let asked: Vec<&TraceRequest> = dark.traces.iter().collect();
    assert_eq!(asked.len(), TRACE_TARGETS_PER_EVENT);
    assert!(
        asked.iter().all(|r| r.vantage.is_none()),
        "every vantage point"
    );
    let event = asked[0].event.clone();
    // vp-a goes on answering: it heard the request, and is asked nothing more.
    for t in (1050..=1650).step_by(60) {
        let output = answer(&mut world.engine, "vp-a", t);
        assert!(output.traces.is_empty(), "{:?}", output.traces);
    }
    // vp-b was cut off from the broker for ten minutes: its results of the
    // while come now, from its disk buffer, the older ones too late to be
    // judged. With its first result that is current again it is asked alone
    // for the event's traces; once.
    let mut back = Output::default();
    for t in (1050..=1650).step_by(60) {
        let output = answer(&mut world.engine, "vp-b", t);
        if t < 1300 {
            assert!(output.traces.is_empty(), "late at {t}: {:?}", output.traces);
        }
        back.extend(output);
    }
    let owed: Vec<(&str, Option<&str>)> = back
        .traces
        .iter()
        .map(|r| (r.target.as_str(), r.vantage.as_deref()))
        .collect();
    assert_eq!(owed.len(), TRACE_TARGETS_PER_EVENT, "{owed:?}");
    assert!(owed.iter().all(|(_, vantage)| *vantage == Some("vp-b")));
    assert!(back.traces.iter().all(|r| r.event == event));
    assert!(
        back.traces
            .iter()
            .all(|r| r.is_for("vp-b") && !r.is_for("vp-a"))
    );
    let again = answer(&mut world.engine, "vp-b", 1710);
    assert!(again.traces.is_empty(), "{:?}", again.traces);
    // A vantage point that joins while the event is open traces it too.
    let joined = answer(&mut world.engine, "vp-c", 1716);
    assert_eq!(joined.traces.len(), TRACE_TARGETS_PER_EVENT);
    assert!(
        joined
            .traces
            .iter()
            .all(|r| r.vantage.as_deref() == Some("vp-c"))
    );
    // Once the event is over, one that comes back owes nothing.
    world.come_back(1800);
    let silent_then_back = answer(&mut world.engine, "vp-a", 9000);
    assert!(
        silent_then_back.traces.is_empty(),
        "{:?}",
        silent_then_back.traces
    );
}
