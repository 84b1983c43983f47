//! Which event updates become alerts: the pure part, fed [`EventUpdate`]s and
//! nothing else (no clock, no I/O).
//!
//! An event raises at most three kinds of alert:
//! - **started**, the first time it is seen at or above the minimum severity
//!   (an event that starts as a warning and becomes critical alerts then);
//! - **cause-changed**, when a revision names a cause other than the last one
//!   alerted for that event (a revision of the evidence alone says nothing);
//! - **ended**, on recovery, with the duration, if its start was alerted or it is
//!   severe enough now.
//!
//! Every alert sent is remembered by (event id, kind, cause), so a replayed or
//! repeated update never alerts twice. The memory holds the last
//! [`AlertPolicy::capacity`] events, oldest forgotten first.
//!
//! # After a restart
//! The memory lives in the process. To restore it, read the store before the first
//! update: for every event still open, or ended within the replay window,
//! `store.event_log(id)` gives its starts, revisions and ends in order, and
//! [`AlertPolicy::restore`] marks them as already alerted:
//!
//! ```text
//! let recent = store.events(&EventQuery { since: Some(now.add_secs(-86_400)), ..Default::default() })?;
//! for event in &recent {
//!     policy.restore(event, &store.event_log(&event.id.0)?);
//! }
//! ```
//!
//! The store logs what the detector said, not what was delivered: an alert whose
//! delivery was still under way when the process died is not sent again (at most
//! once, never twice).

use blackout_model::{Cause, Event, EventId, Severity, Timestamp};
use blackout_model::{EventUpdate, UpdateKind};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet, VecDeque};

/// What an alert announces.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AlertKind {
    /// An event began.
    Started,
    /// An ongoing event's cause changed.
    CauseChanged,
    /// An event ended.
    Ended,
}

impl AlertKind {
    /// The name used in payloads: `started`, `cause-changed`, `ended`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertKind::Started => "started",
            AlertKind::CauseChanged => "cause-changed",
            AlertKind::Ended => "ended",
        }
    }
}

/// One alert to deliver.
#[derive(Clone, Debug, PartialEq)]
pub struct Alert {
    /// What it announces.
    pub kind: AlertKind,
    /// The event as it stands.
    pub event: Event,
    /// For `cause-changed`: the cause alerted before.
    pub previous_cause: Option<Cause>,
    /// How long the event has lasted: to its end for `ended`, to its latest
    /// evidence for `cause-changed`, 0 for `started`.
    pub duration_secs: f64,
}

impl Alert {
    /// A key that names this alert and no other: receivers can use it to drop a
    /// delivery that was retried after the first one got through.
    pub fn dedupe_key(&self) -> String {
        format!(
            "{}:{}:{}",
            self.event.id,
            self.kind.as_str(),
            self.event.cause
        )
    }

    /// The moment the alert is about: the start, the latest evidence, or the end.
    pub fn at(&self) -> Timestamp {
        match self.kind {
            AlertKind::Started => self.event.start,
            AlertKind::CauseChanged => latest(&self.event),
            AlertKind::Ended => self.event.end.unwrap_or_else(|| latest(&self.event)),
        }
    }
}

fn latest(event: &Event) -> Timestamp {
    event
        .evidence
        .iter()
        .map(|e| e.at)
        .max()
        .unwrap_or(event.start)
        .max(event.start)
}

/// What the policy remembers of one event.
#[derive(Clone, Debug, Default)]
struct Memory {
    /// The cause last alerted (started or cause-changed).
    alerted_cause: Option<Cause>,
    /// Alerts sent, by kind and cause.
    sent: HashSet<(AlertKind, Cause)>,
}

/// Decides which updates become alerts, and remembers what it decided.
#[derive(Clone, Debug)]
pub struct AlertPolicy {
    min_severity: Severity,
    capacity: usize,
    memory: HashMap<EventId, Memory>,
    /// Event ids in the order first seen, for forgetting the oldest.
    order: VecDeque<EventId>,
}

/// How many events the policy remembers by default.
pub const DEFAULT_CAPACITY: usize = 10_000;

impl AlertPolicy {
    /// A policy that alerts on events of `min_severity` or worse and remembers
    /// [`DEFAULT_CAPACITY`] events.
    pub fn new(min_severity: Severity) -> Self {
        Self::with_capacity(min_severity, DEFAULT_CAPACITY)
    }

    /// The same, remembering `capacity` events (at least 1).
    pub fn with_capacity(min_severity: Severity, capacity: usize) -> Self {
        AlertPolicy {
            min_severity,
            capacity: capacity.max(1),
            memory: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// How many events it remembers at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many events it remembers now.
    pub fn remembered(&self) -> usize {
        self.memory.len()
    }

    /// The alert an update calls for, if any; remembers it as sent.
    pub fn decide(&mut self, update: &EventUpdate) -> Option<Alert> {
        let event = &update.event;
        let severe = event.severity >= self.min_severity;
        let memory = self.memory.get(&event.id);
        let started = memory.is_some_and(|m| m.sent.iter().any(|(k, _)| *k == AlertKind::Started));
        let alerted_cause = memory.and_then(|m| m.alerted_cause);
        let replayed_start =
            memory.is_some_and(|m| m.sent.contains(&(AlertKind::Started, event.cause)));
        let (kind, previous_cause) = match update.kind {
            // A start seen again (a replay after a restart, or a detector that
            // repeats itself): the dedupe below drops it and follows its cause, so
            // that the replayed revisions after it compare with the right one.
            UpdateKind::Started if replayed_start => (AlertKind::Started, None),
            UpdateKind::Started | UpdateKind::Revised if !started => {
                if !severe {
                    return None;
                }
                (AlertKind::Started, None)
            }
            UpdateKind::Started | UpdateKind::Revised => {
                if alerted_cause == Some(event.cause) {
                    return None;
                }
                (AlertKind::CauseChanged, alerted_cause)
            }
            UpdateKind::Ended => {
                if !started && !severe {
                    return None;
                }
                (AlertKind::Ended, None)
            }
        };
        if self
            .memory
            .get(&event.id)
            .is_some_and(|m| m.sent.contains(&(kind, event.cause)))
        {
            // A replay of something already alerted; still follow the cause it names,
            // so the next real change compares with the right one.
            if kind != AlertKind::Ended {
                self.entry(&event.id).alerted_cause = Some(event.cause);
            }
            return None;
        }
        let memory = self.entry(&event.id);
        memory.sent.insert((kind, event.cause));
        if kind != AlertKind::Ended {
            memory.alerted_cause = Some(event.cause);
        }
        let mut alert = Alert {
            kind,
            event: event.clone(),
            previous_cause,
            duration_secs: 0.0,
        };
        alert.duration_secs = alert.at().secs_since(event.start).max(0.0);
        Some(alert)
    }

    /// Marks what an event's log says happened as already alerted (see the module
    /// docs). `log` is `Store::event_log`: (time, `started|revised|ended`, cause),
    /// in order; lines it does not understand are skipped.
    pub fn restore(&mut self, event: &Event, log: &[(Timestamp, String, String)]) {
        let severe = event.severity >= self.min_severity;
        let mut started = false;
        for (_, change, cause) in log {
            let Ok(cause) = cause.parse::<Cause>() else {
                continue;
            };
            match change.as_str() {
                // Below the minimum severity no start was alerted.
                "started" | "revised" if !started && !severe => {}
                "started" | "revised" if !started => {
                    started = true;
                    let memory = self.entry(&event.id);
                    memory.sent.insert((AlertKind::Started, cause));
                    memory.alerted_cause = Some(cause);
                }
                "started" | "revised" => {
                    let memory = self.entry(&event.id);
                    if memory.alerted_cause != Some(cause) {
                        memory.sent.insert((AlertKind::CauseChanged, cause));
                        memory.alerted_cause = Some(cause);
                    }
                }
                "ended" if started || severe => {
                    self.entry(&event.id).sent.insert((AlertKind::Ended, cause));
                }
                _ => {}
            }
        }
    }

    fn entry(&mut self, id: &EventId) -> &mut Memory {
        if !self.memory.contains_key(id) {
            while self.memory.len() >= self.capacity {
                match self.order.pop_front() {
                    Some(oldest) => {
                        self.memory.remove(&oldest);
                    }
                    None => break,
                }
            }
            self.order.push_back(id.clone());
        }
        self.memory.entry(id.clone()).or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_model::{Entity, Evidence, Scope, SignalKind};

    /// An event of North Korea that started at 10:00 with `cause`.
    fn event(cause: Cause, severity: Severity) -> Event {
        let start = Timestamp::from_secs(1_419_242_400);
        let entity = Entity::Country("KP".into());
        Event {
            id: EventId::derive(&entity, start, cause),
            entity,
            cause,
            severity,
            confidence: 0.9,
            start,
            end: None,
            scope: Scope::default(),
            summary: "North Korea is dark".into(),
            evidence: vec![Evidence {
                at: start,
                signal: SignalKind::BgpVisibility,
                text: "all four prefixes withdrawn".into(),
                value: Some(0.0),
            }],
        }
    }

    fn revised(mut event: Event, cause: Cause, after_secs: i64) -> Event {
        event.cause = cause;
        event.evidence.push(Evidence {
            at: event.start.add_secs(after_secs),
            signal: SignalKind::ProbeIcmp,
            text: format!("now {cause}"),
            value: None,
        });
        event
    }

    fn ended(mut event: Event, after_secs: i64) -> Event {
        event.end = Some(event.start.add_secs(after_secs));
        event
    }

    fn kinds(policy: &mut AlertPolicy, updates: &[EventUpdate]) -> Vec<(AlertKind, Cause)> {
        updates
            .iter()
            .filter_map(|u| policy.decide(u))
            .map(|a| (a.kind, a.event.cause))
            .collect()
    }

    #[test]
    fn start_cause_change_and_end_each_alert_once() {
        // Given an event that starts as stress, becomes internal, then ends after 9.5 h
        let first = event(Cause::Ddos, Severity::Critical);
        let second = revised(first.clone(), Cause::Internal, 600);
        let last = ended(second.clone(), 34_200);
        let updates = [
            EventUpdate::started(first.clone()),
            EventUpdate::revised(first.clone()),
            EventUpdate::revised(second.clone()),
            EventUpdate::revised(second.clone()),
            EventUpdate::ended(last.clone()),
        ];
        let mut policy = AlertPolicy::new(Severity::Warning);
        // When they are decided
        let alerts: Vec<Alert> = updates.iter().filter_map(|u| policy.decide(u)).collect();
        // Then: started, cause-changed (from ddos), ended with the duration
        assert_eq!(alerts.len(), 3);
        assert_eq!(alerts[0].kind, AlertKind::Started);
        assert_eq!(alerts[0].duration_secs, 0.0);
        assert_eq!(alerts[1].kind, AlertKind::CauseChanged);
        assert_eq!(alerts[1].previous_cause, Some(Cause::Ddos));
        assert_eq!(alerts[1].event.cause, Cause::Internal);
        assert_eq!(alerts[1].duration_secs, 600.0);
        assert_eq!(alerts[2].kind, AlertKind::Ended);
        assert_eq!(alerts[2].duration_secs, 34_200.0);
        // And replaying the whole stream alerts nothing more
        assert!(kinds(&mut policy, &updates).is_empty());
    }

    #[test]
    fn evidence_alone_does_not_alert() {
        let first = event(Cause::Internal, Severity::Critical);
        let mut policy = AlertPolicy::new(Severity::Warning);
        let mut alerts = kinds(&mut policy, &[EventUpdate::started(first.clone())]);
        for n in 1..50 {
            alerts.extend(kinds(
                &mut policy,
                &[EventUpdate::revised(revised(
                    first.clone(),
                    Cause::Internal,
                    n,
                ))],
            ));
        }
        assert_eq!(alerts, vec![(AlertKind::Started, Cause::Internal)]);
    }

    #[test]
    fn below_the_minimum_nothing_until_it_becomes_severe() {
        // Given a policy for critical events only
        let mut policy = AlertPolicy::new(Severity::Critical);
        let warning = event(Cause::Partial, Severity::Warning);
        let mut critical = revised(warning.clone(), Cause::Internal, 300);
        critical.severity = Severity::Critical;
        let alerts = kinds(
            &mut policy,
            &[
                EventUpdate::started(warning.clone()),
                EventUpdate::revised(warning.clone()),
                EventUpdate::revised(critical.clone()),
                EventUpdate::ended(ended(critical, 900)),
            ],
        );
        // Then the first alert is "started", when it became critical, with its cause then
        assert_eq!(
            alerts,
            vec![
                (AlertKind::Started, Cause::Internal),
                (AlertKind::Ended, Cause::Internal)
            ]
        );
        // And a warning that starts and ends below the minimum says nothing at all
        let mut other = event(Cause::NewUpstream, Severity::Warning);
        other.id = EventId("ev-other".into());
        assert!(
            kinds(
                &mut policy,
                &[
                    EventUpdate::started(other.clone()),
                    EventUpdate::ended(ended(other, 60))
                ]
            )
            .is_empty()
        );
    }

    #[test]
    fn a_cause_that_returns_alerts_only_if_not_alerted_before() {
        let a = event(Cause::Ddos, Severity::Critical);
        let b = revised(a.clone(), Cause::Internal, 60);
        let c = revised(b.clone(), Cause::Ddos, 120);
        let d = revised(c.clone(), Cause::Internal, 180);
        let mut policy = AlertPolicy::new(Severity::Warning);
        let alerts = kinds(
            &mut policy,
            &[
                EventUpdate::started(a),
                EventUpdate::revised(b),
                EventUpdate::revised(c),
                EventUpdate::revised(d),
            ],
        );
        // ddos → internal → ddos alerts each change; internal a second time is a
        // (cause-changed, internal) already sent: deduplicated.
        assert_eq!(
            alerts,
            vec![
                (AlertKind::Started, Cause::Ddos),
                (AlertKind::CauseChanged, Cause::Internal),
                (AlertKind::CauseChanged, Cause::Ddos),
            ]
        );
    }

    #[test]
    fn memory_is_bounded_and_forgets_the_oldest() {
        let mut policy = AlertPolicy::with_capacity(Severity::Warning, 3);
        let base = event(Cause::Internal, Severity::Critical);
        let numbered = |n: u32| {
            let mut e = base.clone();
            e.id = EventId(format!("ev-{n}"));
            e
        };
        for n in 0..10 {
            assert!(policy.decide(&EventUpdate::started(numbered(n))).is_some());
            assert!(policy.decide(&EventUpdate::started(numbered(n))).is_none());
        }
        assert_eq!(policy.remembered(), 3);
        // The newest are still remembered
        assert!(policy.decide(&EventUpdate::started(numbered(9))).is_none());
        // An update of an event already forgotten is new again
        assert!(policy.decide(&EventUpdate::started(numbered(0))).is_some());
    }

    #[test]
    fn restored_from_a_log_nothing_is_repeated_but_what_is_new_alerts() {
        // Given the log of an event that started as ddos and became internal
        let first = event(Cause::Ddos, Severity::Critical);
        let second = revised(first.clone(), Cause::Internal, 600);
        let log: Vec<(Timestamp, String, String)> = vec![
            (first.start, "started".into(), "ddos".into()),
            (first.start.add_secs(300), "revised".into(), "ddos".into()),
            (
                first.start.add_secs(600),
                "revised".into(),
                "internal".into(),
            ),
            (first.start.add_secs(601), "bogus".into(), "nonsense".into()),
        ];
        let mut policy = AlertPolicy::new(Severity::Warning);
        policy.restore(&second, &log);
        // When the detector replays the same updates after a restart
        let replay = kinds(
            &mut policy,
            &[
                EventUpdate::started(first.clone()),
                EventUpdate::revised(second.clone()),
            ],
        );
        // Then nothing is sent again, but the end still is
        assert!(replay.is_empty());
        assert_eq!(
            kinds(&mut policy, &[EventUpdate::ended(ended(second, 3600))]),
            vec![(AlertKind::Ended, Cause::Internal)]
        );
    }

    #[test]
    fn an_end_seen_without_its_start_still_alerts_if_severe() {
        let mut policy = AlertPolicy::new(Severity::Warning);
        let gone = ended(event(Cause::Internal, Severity::Critical), 120);
        let alert = policy.decide(&EventUpdate::ended(gone.clone())).unwrap();
        assert_eq!(alert.kind, AlertKind::Ended);
        assert_eq!(alert.duration_secs, 120.0);
        assert!(alert.dedupe_key().ends_with(":ended:internal"));
        assert!(policy.decide(&EventUpdate::ended(gone)).is_none());
    }
}
