//! A target's failure waits for the vantage point's controls. The probe engine
//! looks again soon at a result that changed, so a target can fail twice (and
//! count as failing) before the controls have been asked again; only once they
//! have is the failure the target's, or the vantage point's own.

mod support;

use blackout_detect::{ProbeSignal, Signal};
use blackout_model::{Entity, Timestamp};
use blackout_model::{EventUpdate, ProbeRole, UpdateKind};
use support::{HOSTS, lab_detector, t};

fn ping(at: Timestamp, role: ProbeRole, target: &str, ok: bool) -> Signal {
    let mut ping = ProbeSignal::ping(at, "local", role, target, ok);
    if !ok {
        ping.text = "network unreachable".into();
    }
    Signal::Probe(ping)
}

/// The lab profile's detector, fed two rounds of every host and the control
/// answering, then the hosts failing twice 500 ms apart (a first failure and
/// its recheck); returns what it said then, and after the control's answer at
/// `control_at`.
fn cut(control_ok: bool) -> (Vec<EventUpdate>, Vec<EventUpdate>) {
    let (bgp, mut detector) = lab_detector();
    let mut said = Vec::new();
    for round in 0..2 {
        let at = t(round * 5000);
        said.extend(detector.process(ping(at, ProbeRole::Control, "control.example", true), &bgp));
        for host in HOSTS {
            said.extend(detector.process(ping(at, ProbeRole::Host, host, true), &bgp));
        }
    }
    for at in [t(10_000), t(10_500)] {
        for host in HOSTS {
            said.extend(detector.process(ping(at, ProbeRole::Host, host, false), &bgp));
        }
    }
    said.extend(detector.process(Signal::Tick(t(10_900)), &bgp));
    let before = said;
    let mut after = detector.process(
        ping(t(11_000), ProbeRole::Control, "control.example", control_ok),
        &bgp,
    );
    after.extend(detector.process(Signal::Tick(t(11_100)), &bgp));
    after.extend(detector.flush(&bgp));
    (before, after)
}

fn entities(updates: &[EventUpdate]) -> Vec<String> {
    updates
        .iter()
        .filter(|u| {
            matches!(
                u,
                EventUpdate {
                    kind: UpdateKind::Started,
                    ..
                }
            )
        })
        .map(|u| format!("{} {}", u.event.entity, u.event.cause))
        .collect()
}

#[test]
fn hosts_failing_before_the_controls_are_asked_again_wait_for_them() {
    let (before, after) = cut(false);
    assert_eq!(
        entities(&before),
        Vec::<String>::new(),
        "nothing before the controls answer"
    );
    let after = entities(&after);
    assert_eq!(
        after,
        vec!["vantage:local vantage".to_string()],
        "{after:?}"
    );
}

#[test]
fn hosts_failing_while_the_controls_answer_are_the_targets_trouble() {
    let (before, after) = cut(true);
    assert_eq!(entities(&before), Vec::<String>::new());
    let after = entities(&after);
    assert!(
        after
            .iter()
            .any(|e| e.starts_with(&Entity::As(blackout_model::Asn(64500)).to_string())),
        "the hosts' failure is the network's once the vantage point is seen online: {after:?}"
    );
}
