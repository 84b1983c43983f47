//! Three vantage points probe on schedules of their own, so at the start of a real
//! outage one of them sees the hosts fail while the others' latest answers are
//! from before it. That is no lone dissent: the vantage point gets no event of
//! its own, and once the others look too the outage is the target's. A vantage
//! point whose failures the others contradict after they began still gets its
//! own event. (Seen in the lab with three agents: every fault opened a
//! `vantage:NAME` event for whichever agent probed first.) Results that come in
//! long after they were measured (an agent's disk buffer, sent once the broker
//! is back) are kept out of the verdicts.

mod support;

use blackout_detect::{ProbeSignal, Signal};
use blackout_model::{EventUpdate, ProbeRole, Timestamp, UpdateKind};
use support::{HOSTS, VANTAGES, lab_detector, started, t};

fn ping(at: Timestamp, vantage: &str, role: ProbeRole, target: &str, ok: bool) -> Signal {
    Signal::Probe(ProbeSignal::ping(at, vantage, role, target, ok))
}

/// The lab profile's detector with three vantage points, each probing the
/// control and the hosts every 2 s at its own offset (a first failure is looked
/// at again 500 ms later, as is a first answer after failures). In each round,
/// the hosts fail from the vantage points
/// for which `failing(vantage, round)` says so. Returns every update.
fn run(failing: &dyn Fn(&str, i64) -> bool) -> Vec<EventUpdate> {
    let (bgp, mut detector) = lab_detector();
    let mut said = Vec::new();
    for round in 0..20 {
        for (vantage, offset) in VANTAGES {
            let at = t(round * 2000 + offset);
            let down = failing(vantage, round);
            said.extend(detector.process(
                ping(at, vantage, ProbeRole::Control, "control.example", true),
                &bgp,
            ));
            for host in HOSTS {
                said.extend(
                    detector.process(ping(at, vantage, ProbeRole::Host, host, !down), &bgp),
                );
            }
            if down != failing(vantage, round - 1) {
                let again = t(round * 2000 + offset + 500);
                for host in HOSTS {
                    said.extend(
                        detector.process(ping(again, vantage, ProbeRole::Host, host, !down), &bgp),
                    );
                }
            }
        }
    }
    said.extend(detector.flush(&bgp));
    said
}

#[test]
fn the_first_vantage_point_to_see_an_outage_is_not_a_lone_dissenter() {
    let said = started(&run(&|_, round| round >= 5));
    assert!(
        said.iter().all(|e| !e.starts_with("vantage:")),
        "no vantage point is at fault: {said:?}"
    );
    assert!(
        said.iter().any(|e| e.starts_with("as:64500")),
        "every vantage point sees the hosts down: the network's event: {said:?}"
    );
}

#[test]
fn a_vantage_point_the_others_contradict_after_its_failure_began_is_at_fault() {
    let said = started(&run(&|v, round| v == "vp-b" && round >= 5));
    assert_eq!(said, vec!["vantage:vp-b vantage".to_string()], "{said:?}");
}

#[test]
fn the_last_vantage_point_to_see_an_outage_end_is_not_a_lone_dissenter() {
    let updates = run(&|_, round| (5..10).contains(&round));
    let said = started(&updates);
    assert!(
        said.iter().all(|e| !e.starts_with("vantage:")),
        "no vantage point is at fault: {said:?}"
    );
    let ended = updates
        .iter()
        .filter(|u| u.kind == UpdateKind::Ended)
        .any(|u| u.event.entity.to_string().starts_with("as:64500"));
    assert!(ended, "the network's event ends: {said:?}");
}

#[test]
fn one_failed_look_after_the_others_saw_the_end_is_a_tail_not_a_dissent() {
    // vp-c's path comes back a round after the others': its one failed look
    // after they saw the hosts answer again is the outage's tail there.
    let said = started(&run(&|v, round| {
        (5..10).contains(&round) || (v == "vp-c" && round == 10)
    }));
    assert!(
        said.iter().all(|e| !e.starts_with("vantage:")),
        "no vantage point is at fault: {said:?}"
    );
    // Two rounds later still failing there: its own path.
    let said = started(&run(&|v, round| {
        (5..10).contains(&round) || (v == "vp-c" && round >= 10)
    }));
    assert!(
        said.contains(&"vantage:vp-c vantage".to_string()),
        "{said:?}"
    );
}

/// Three vantage points see the hosts answer for 40 s; then two of them send
/// what they kept while the broker was away: the hosts failing, a minute ago.
/// `late_by` is how long after its measurement each such result comes in.
fn late_failures(late_by: i64) -> (Vec<EventUpdate>, u64) {
    let (bgp, mut detector) = lab_detector();
    let mut said = Vec::new();
    for round in 0..20 {
        let now = round * 2000;
        for (vantage, offset) in VANTAGES {
            let at = t(now + offset);
            said.extend(detector.process(
                ping(at, vantage, ProbeRole::Control, "control.example", true),
                &bgp,
            ));
            for host in HOSTS {
                said.extend(detector.process(ping(at, vantage, ProbeRole::Host, host, true), &bgp));
            }
        }
        if round >= 15 {
            // Results of the rounds `late_by` earlier, failing, from two of them.
            for vantage in ["vp-a", "vp-b"] {
                for step in 0..4 {
                    let measured = t(now - late_by + step * 500);
                    for host in HOSTS {
                        said.extend(
                            detector.process(
                                ping(measured, vantage, ProbeRole::Host, host, false),
                                &bgp,
                            ),
                        );
                    }
                }
            }
        }
    }
    said.extend(detector.flush(&bgp));
    (said, detector.late_results())
}

#[test]
fn results_that_come_long_after_they_were_measured_are_history_not_news() {
    let (updates, late) = late_failures(60_000);
    assert_eq!(
        started(&updates),
        Vec::<String>::new(),
        "no event from old news"
    );
    assert_eq!(late, 5 * 2 * 4 * 4, "every late result counted");
    // The same failures in time are an outage of the network.
    let (updates, late) = late_failures(0);
    assert_eq!(late, 0);
    assert!(
        started(&updates).iter().any(|e| e.starts_with("as:64500")),
        "{:?}",
        started(&updates)
    );
}
