//! A detector that takes up the events open when blackout last stopped: what it
//! places and what it leaves, how resumed events are held through the first look,
//! and how they end or go on after it. (The scenario suite's `stop`/`start` steps
//! cover whole outages across a restart.)

use blackout_bgp::{BgpState, Vrps, WatchSet};
use blackout_detect::{Detector, DetectorConfig, FeedSignal, Signal};
use blackout_model::{
    Asn, Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use blackout_model::{EventUpdate, UpdateKind};

const ORIGIN: u32 = 64500;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_735_689_600 + secs)
}

/// The lab's origin with one prefix, as the BGP state tracks it.
fn bgp() -> BgpState {
    BgpState::new(
        WatchSet::single(Asn(ORIGIN), vec!["203.0.113.0/26".parse().unwrap()], vec![]),
        Vrps::default(),
    )
}

fn detector() -> Detector {
    let profile = blackout_profile::load_str(
        "name = \"lab\"\ndescription = \"the lab\"\nlabel = \"the lab\"\n\
         [[network]]\nname = \"Lab origin\"\nasn = 64500\nprefixes = [\"203.0.113.0/26\"]\n\
         [[upstream]]\nasn = 64501\nname = \"primary\"\nrole = \"primary\"\n",
        "lab.toml",
    )
    .unwrap();
    Detector::new(DetectorConfig::from_profile(&profile))
}

/// An open event as the detector would have opened it at `start`.
fn open(entity: Entity, cause: Cause, start: Timestamp) -> Event {
    Event {
        id: EventId::derive(&entity, start, cause),
        entity,
        cause,
        severity: Severity::Warning,
        confidence: 0.9,
        start,
        end: None,
        scope: Scope::default(),
        summary: "trouble".into(),
        evidence: vec![Evidence {
            at: start,
            signal: SignalKind::Feed,
            text: "seen".into(),
            value: None,
        }],
    }
}

fn feed(at: Timestamp, up: bool) -> Signal {
    Signal::Feed(FeedSignal {
        at,
        feed: "bgp:192.0.2.1".into(),
        up,
        loading: false,
        text: format!("bgp:192.0.2.1 {}", if up { "up" } else { "down" }),
    })
}

fn run(detector: &mut Detector, signals: &[Signal]) -> Vec<EventUpdate> {
    let mut updates = Vec::new();
    for signal in signals {
        updates.extend(detector.process(signal.clone(), &bgp()));
    }
    updates.extend(detector.flush(&bgp()));
    updates
}

#[test]
fn events_of_other_profiles_ended_ones_and_twins_are_left() {
    let mut detector = detector();
    let feed = open(Entity::Feed("bgp:192.0.2.1".into()), Cause::Feed, t(0));
    let twin = Event {
        id: EventId("ev-twin".into()),
        ..feed.clone()
    };
    let other_network = open(Entity::As(Asn(64499)), Cause::Internal, t(0));
    let unknown_upstream = open(Entity::Upstream(Asn(64498)), Cause::UpstreamCut, t(0));
    let mut ended = open(Entity::Vantage("local".into()), Cause::Vantage, t(0));
    ended.end = Some(t(60));
    let left = detector.resume(
        vec![
            feed.clone(),
            twin.clone(),
            other_network.clone(),
            unknown_upstream.clone(),
            ended.clone(),
        ],
        t(3600),
        &bgp(),
    );
    assert_eq!(left, vec![twin, other_network, unknown_upstream, ended]);
    assert!(detector.in_first_look());
    assert_eq!(detector.open_events(), vec![&feed]);
}

#[test]
fn a_feed_back_during_the_first_look_ends_at_its_close_with_a_note() {
    // Given a feed event open when blackout stopped
    let mut detector = detector();
    let down = open(Entity::Feed("bgp:192.0.2.1".into()), Cause::Feed, t(0));
    detector.resume(vec![down.clone()], t(3600), &bgp());
    // When the feed reports up during the first look
    let held = run(&mut detector, &[feed(t(3601), true), Signal::Tick(t(3610))]);
    // Then nothing is said yet
    assert!(held.is_empty(), "{held:?}");
    // And at the close of the first look the same event ends, where it was seen over
    let updates = detector.end_first_look(t(3700), &bgp());
    assert_eq!(updates.len(), 1, "{updates:?}");
    let EventUpdate {
        kind: UpdateKind::Ended,
        event,
    } = &updates[0]
    else {
        panic!("{updates:?}")
    };
    assert_eq!(event.id, down.id);
    assert_eq!(event.end, Some(t(3601)));
    assert!(
        event
            .summary
            .contains("ended while blackout was not watching")
    );
    assert!(
        event
            .evidence
            .iter()
            .any(|e| e.text.contains("first look after it restarted"))
    );
    assert!(!detector.in_first_look());
    assert!(detector.open_events().is_empty());
}

#[test]
fn a_feed_still_down_goes_on_as_the_same_event() {
    let mut detector = detector();
    let down = open(Entity::Feed("bgp:192.0.2.1".into()), Cause::Feed, t(0));
    detector.resume(vec![down.clone()], t(3600), &bgp());
    // Up first (a feed gets time to come up), then down: the end is called off
    let held = run(
        &mut detector,
        &[
            feed(t(3601), true),
            feed(t(3605), false),
            Signal::Tick(t(3610)),
        ],
    );
    assert!(held.is_empty(), "{held:?}");
    let updates = detector.end_first_look(t(3700), &bgp());
    // It goes on, with a note of the gap, and no second start
    assert_eq!(updates.len(), 1, "{updates:?}");
    let EventUpdate {
        kind: UpdateKind::Revised,
        event,
    } = &updates[0]
    else {
        panic!("{updates:?}")
    };
    assert_eq!(event.id, down.id);
    assert!(event.end.is_none());
    assert!(
        event
            .evidence
            .iter()
            .any(|e| e.text.contains("took this event up again"))
    );
    // And later it ends as any event does
    let updates = run(&mut detector, &[feed(t(4000), true)]);
    assert!(
        matches!(&updates[..], [EventUpdate { kind: UpdateKind::Ended, event: e }] if e.id == down.id && e.end == Some(t(4000))),
        "{updates:?}"
    );
}

#[test]
fn an_event_nothing_shows_again_ends_at_the_restart() {
    // Given a vantage point that was offline, and no probe result after the restart
    let mut detector = detector();
    let offline = open(Entity::Vantage("local".into()), Cause::Vantage, t(0));
    detector.resume(vec![offline.clone()], t(3600), &bgp());
    run(&mut detector, &[Signal::Tick(t(3601))]);
    let updates = detector.end_first_look(t(3700), &bgp());
    // Then it ends where the first look began to see it over
    assert!(
        matches!(&updates[..], [EventUpdate { kind: UpdateKind::Ended, event: e }] if e.id == offline.id && e.end == Some(t(3601))),
        "{updates:?}"
    );
}

#[test]
fn without_a_resume_there_is_no_first_look() {
    let mut detector = detector();
    assert!(!detector.in_first_look());
    assert!(detector.end_first_look(t(0), &bgp()).is_empty());
}
