//! A service's misses seen from several vantage points at once fail it with
//! their first results, as a host's do, and a service event opens as soon as
//! the hosts are seen to answer from where it failed. At the onset of a flood
//! the service times out before the pings show the stress: the pings that the
//! vantage points send after their misses are what keep the flood's victim from
//! being called broken. (Seen in the lab with three agents at a 2 s interval:
//! with the service's misses corroborated and the hosts' answers taken from any
//! vantage point, 2 of 7 `ddos` runs opened a service event beside the DDoS.)
//! What each vantage point saw of a flood's checks, which flips with each
//! result, is told once a probe interval, not a revision each time.
//! And a flood's event is revised only when it says something new: the same
//! verdict weighed again, with evidence the event already held, was a revision
//! each time (in the lab, 18 to 110 of them in a flood of about 10 s).

mod support;

use blackout_detect::{ProbeSignal, Signal};
use blackout_model::{EventUpdate, ProbeKind, ProbeRole, Timestamp, UpdateKind};
use support::{HOSTS, VANTAGES, lab_detector, t};

const NAME_SERVER: &str = "lab.example@ns1.lab.example";

/// How a host's ping comes back.
#[derive(Clone, Copy, PartialEq)]
enum Ping {
    Clean,
    /// Answered, half the packets lost: a flood's queue.
    Lossy,
    /// Every packet lost.
    Lost,
}

fn probe(at: i64, vantage: &str, role: ProbeRole, target: &str, kind: ProbeKind) -> ProbeSignal {
    let mut signal = ProbeSignal::ping(t(at), vantage, role, target, true);
    signal.kind = kind;
    signal
}

fn host_ping(at: i64, vantage: &str, host: &str, ping: Ping) -> ProbeSignal {
    let mut signal = probe(at, vantage, ProbeRole::Host, host, ProbeKind::Icmp);
    match ping {
        Ping::Clean => {}
        Ping::Lossy => signal.loss = Some(0.5),
        Ping::Lost => {
            signal.ok = false;
            signal.rtt_ms = None;
            signal.loss = Some(1.0);
            signal.text = "timeout".into();
        }
    }
    signal
}

/// The lab profile's detector with three vantage points, each probing the
/// control, the hosts and one name server every 2 s at its own offset. From
/// round 5 the name server times out from every vantage point; a miss has
/// the vantage point's controls asked at once and its hosts' pings 500 ms
/// later, as the probe engine does. `pings(round, vantage, host, recheck)` says
/// how each host answers a vantage point in a round, and in the pings after a
/// miss. Returns every update with the time of the result that brought it.
fn run(pings: &dyn Fn(i64, &str, usize, bool) -> Ping) -> Vec<(Timestamp, EventUpdate)> {
    let (bgp, mut detector) = lab_detector();
    let mut results = Vec::new();
    for round in 0..20 {
        for (vantage, offset) in VANTAGES {
            let at = round * 2000 + offset;
            let control = probe(
                at,
                vantage,
                ProbeRole::Control,
                "control.example",
                ProbeKind::Icmp,
            );
            results.push(control);
            for (index, host) in HOSTS.iter().enumerate() {
                results.push(host_ping(
                    at,
                    vantage,
                    host,
                    pings(round, vantage, index, false),
                ));
            }
            let mut dns = probe(at, vantage, ProbeRole::Zone, NAME_SERVER, ProbeKind::Dns);
            if round >= 5 {
                dns.ok = false;
                dns.rtt_ms = None;
                dns.text = "timeout".into();
                if round == 5 {
                    for (index, host) in HOSTS.iter().enumerate() {
                        let ping = pings(round, vantage, index, true);
                        results.push(host_ping(at + 500, vantage, host, ping));
                    }
                }
            }
            results.push(dns);
        }
    }
    results.sort_by_key(|r| r.at);
    let mut said = Vec::new();
    for result in results {
        let at = result.at;
        let updates = detector.process(Signal::Probe(result), &bgp);
        said.extend(updates.into_iter().map(|u| (at, u)));
    }
    let end = t(40_000);
    said.extend(detector.flush(&bgp).into_iter().map(|u| (end, u)));
    said
}

/// The events that started, with when.
fn started(updates: &[(Timestamp, EventUpdate)]) -> Vec<(Timestamp, String)> {
    updates
        .iter()
        .filter(|(_, u)| u.kind == UpdateKind::Started)
        .map(|(at, u)| (*at, format!("{} {}", u.event.entity, u.event.cause)))
        .collect()
}

#[test]
fn a_service_missed_from_a_quorum_fails_before_its_second_result() {
    let said = started(&run(&|_, _, _, _| Ping::Clean));
    let service: Vec<&(Timestamp, String)> = said
        .iter()
        .filter(|(_, e)| e == "service:dns:lab.example service")
        .collect();
    assert_eq!(service.len(), 1, "{said:?}");
    // vp-a misses at 10.0 s and vp-b at 10.7 s: two of three. vp-b's hosts
    // answer at 11.2 s, which tells the service from the network; vp-a's
    // second miss would come only at 12.0 s.
    let (when, _) = service[0];
    assert!(*when <= t(11_200), "said at {when}: {said:?}");
    assert!(
        said.iter().all(|(_, e)| e.starts_with("service:")),
        "the hosts answer: nothing else is wrong: {said:?}"
    );
}

#[test]
fn a_floods_first_victim_is_not_called_broken() {
    // The flood shows in the pings only after the service's first misses: the
    // round's own pings are clean, those after the misses lossy, and every
    // round's after that.
    let said = started(&run(&|round, _, _, recheck| {
        if round > 5 || (round == 5 && recheck) {
            Ping::Lossy
        } else {
            Ping::Clean
        }
    }));
    assert!(
        said.iter().all(|(_, e)| !e.starts_with("service:")),
        "no service event while the hosts answer with loss: {said:?}"
    );
}

#[test]
fn every_revision_of_a_floods_event_says_something_new() {
    // Every host lossy from round 5, two of them clean again from round 8.
    let updates = run(&|round, _, host, _| {
        if round >= 5 && !(round >= 8 && host < 2) {
            Ping::Lossy
        } else {
            Ping::Clean
        }
    });
    let ddos: Vec<&EventUpdate> = updates
        .iter()
        .map(|(_, u)| u)
        .filter(|u| u.event.entity.to_string() == "as:64500" && u.event.cause.to_string() == "ddos")
        .collect();
    assert_eq!(ddos.first().map(|u| u.kind), Some(UpdateKind::Started));
    // Each vantage point's view of the failing name server is news; the same
    // verdict weighed again, with evidence the event already holds, is not.
    for pair in ddos.windows(2) {
        assert_ne!(
            pair[0].event, pair[1].event,
            "a revision that changes nothing: {:?}",
            pair[1].event.summary
        );
    }
    let from: Vec<&str> = ["vp-a", "vp-b", "vp-c"]
        .into_iter()
        .filter(|vantage| {
            let text = format!("(dns) from {vantage}: fail");
            ddos.last()
                .unwrap()
                .event
                .evidence
                .iter()
                .any(|e| e.text.contains(&text))
        })
        .collect();
    assert_eq!(
        from,
        ["vp-a", "vp-b", "vp-c"],
        "what each vantage point saw"
    );
}

#[test]
fn what_each_vantage_point_saw_of_a_flood_is_told_once_an_interval() {
    // From round 5 each vantage point loses some pings outright and gets the
    // others back with loss, a different share each round: its views of the
    // hosts flip from one round to the next, as the lab's flood makes them.
    let updates = run(&|round, vantage, host, recheck| {
        let turn = round as usize + host + vantage.len() * 7 + usize::from(recheck);
        if round < 5 {
            Ping::Clean
        } else if turn.is_multiple_of(3) {
            Ping::Lost
        } else {
            Ping::Lossy
        }
    });
    let ddos: Vec<&(Timestamp, EventUpdate)> = updates
        .iter()
        .filter(|(_, u)| u.event.entity.to_string() == "as:64500")
        .collect();
    let revised: Vec<Timestamp> = ddos
        .iter()
        .filter(|(_, u)| u.kind == UpdateKind::Revised)
        .map(|(at, _)| *at)
        .collect();
    assert!(
        ddos.first().is_some_and(
            |(_, u)| u.kind == UpdateKind::Started && u.event.cause.to_string() == "ddos"
        ),
        "{:?}",
        ddos.iter()
            .map(|(at, u)| format!("{at} {} {}", u.kind, u.event.cause))
            .collect::<Vec<_>>()
    );
    // The lab profile probes every 5 s: what the vantage points saw is told at
    // most once in 5 s, with the verdict's own changes (told at once, each
    // view is a revision of its own: 8 of them).
    assert!(
        revised.len() <= 4,
        "{} revisions: {revised:?}",
        revised.len()
    );
    let last = &ddos.last().unwrap().1.event;
    for vantage in ["vp-a", "vp-b", "vp-c"] {
        let from = format!("(icmp) from {vantage}: fail");
        assert!(
            last.evidence.iter().any(|e| e.text.contains(&from)),
            "what {vantage} saw is told: {:#?}",
            last.evidence
        );
    }
}
