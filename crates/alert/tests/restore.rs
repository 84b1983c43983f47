//! After a restart, the policy restored from a real store's event log sends
//! nothing twice and still sends what is new.

use blackout_alert::{AlertKind, AlertPolicy};
use blackout_model::EventUpdate;
use blackout_model::UpdateKind;
use blackout_model::{
    Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use blackout_store::{EventQuery, Store};

fn events() -> (Event, Event, Event) {
    let start = Timestamp::from_secs(1_641_945_600);
    let entity = Entity::Country("KP".into());
    let first = Event {
        id: EventId::derive(&entity, start, Cause::Ddos),
        entity,
        cause: Cause::Ddos,
        severity: Severity::Critical,
        confidence: 0.8,
        start,
        end: None,
        scope: Scope::default(),
        summary: "under stress".into(),
        evidence: vec![Evidence {
            at: start,
            signal: SignalKind::ProbeIcmp,
            text: "loss".into(),
            value: Some(0.7),
        }],
    };
    let mut second = first.clone();
    second.cause = Cause::Internal;
    second.evidence.push(Evidence {
        at: start.add_secs(900),
        signal: SignalKind::BgpVisibility,
        text: "withdrawn".into(),
        value: Some(0.0),
    });
    let mut last = second.clone();
    last.end = Some(start.add_secs(6 * 3600));
    (first, second, last)
}

#[test]
fn a_policy_restored_from_the_store_does_not_repeat_itself() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blackout.db");
    let (first, second, last) = events();
    // Given a first run that alerted the start and the change, and stored them
    {
        let mut store = Store::open(&path).unwrap();
        store
            .record_events(&[(UpdateKind::Started, &first)])
            .unwrap();
        store
            .record_events(&[(UpdateKind::Revised, &second)])
            .unwrap();
    }
    // When a new process restores its policy from the store
    let store = Store::open_read_only(&path).unwrap();
    let mut policy = AlertPolicy::new(Severity::Warning);
    let open = store
        .events(&EventQuery {
            since: Some(first.start),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(open.len(), 1);
    for event in &open {
        policy.restore(event, &store.event_log(&event.id.0).unwrap());
    }
    // And the detector replays the same updates, then the end
    let replay = [
        EventUpdate::started(first),
        EventUpdate::revised(second.clone()),
        EventUpdate::revised(second),
        EventUpdate::ended(last.clone()),
        EventUpdate::ended(last),
    ];
    let alerts: Vec<(AlertKind, Cause, f64)> = replay
        .iter()
        .filter_map(|u| policy.decide(u))
        .map(|a| (a.kind, a.event.cause, a.duration_secs))
        .collect();
    // Then only the end is sent, once, with its duration
    assert_eq!(alerts, vec![(AlertKind::Ended, Cause::Internal, 21_600.0)]);
}
