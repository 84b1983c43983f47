//! The events a detector has open and closed, and the one way they start, change and end.

use crate::EventUpdate;
pub(crate) use blackout_model::human_duration;
use blackout_model::{Cause, Entity, Event, EventId, Evidence, Scope, Severity, Timestamp};
use std::collections::BTreeMap;

/// Evidence kept per event; past this, the middle is dropped.
pub(crate) const MAX_EVIDENCE: usize = 64;

/// Which event: the entity, the cause it opened with, and a key that tells apart
/// events of one entity and cause (a hijacking origin, an RPKI-invalid prefix).
pub(crate) type Slot = (Entity, Cause, String);

/// What an event opens with.
pub(crate) struct Opening {
    pub(crate) severity: Severity,
    pub(crate) confidence: f64,
    pub(crate) scope: Scope,
    pub(crate) summary: String,
    pub(crate) evidence: Vec<Evidence>,
}

/// Open and closed events.
#[derive(Default)]
pub(crate) struct EventBook {
    pub(crate) open: BTreeMap<Slot, Event>,
    pub(crate) closed: Vec<Event>,
}

impl EventBook {
    pub(crate) fn is_open(&self, slot: &Slot) -> bool {
        self.open.contains_key(slot)
    }

    /// Opens an event that started at `start` (which may lie before the signal
    /// that revealed it), unless the same one is open.
    pub(crate) fn start(
        &mut self,
        start: Timestamp,
        slot: Slot,
        opening: Opening,
        updates: &mut Vec<EventUpdate>,
    ) {
        let cause = slot.1;
        self.start_as(start, slot, cause, opening, updates);
    }

    /// Like [`EventBook::start`], for an event whose cause is not the one its slot
    /// is named after (the network's event keeps one slot while its cause changes).
    pub(crate) fn start_as(
        &mut self,
        start: Timestamp,
        slot: Slot,
        event_cause: Cause,
        opening: Opening,
        updates: &mut Vec<EventUpdate>,
    ) {
        if self.open.contains_key(&slot) {
            return;
        }
        let (entity, cause, key) = slot.clone();
        let id_entity = if key.is_empty() {
            entity.clone()
        } else {
            Entity::Service {
                kind: cause.to_string(),
                name: format!("{entity}/{key}"),
            }
        };
        let id = EventId::derive(&id_entity, start, cause);
        // The same trouble back within the same event (it ended, then the evidence
        // changed its mind): reopen it rather than make a twin with the same id.
        if let Some(index) = self.closed.iter().position(|e| e.id == id) {
            let mut event = self.closed.remove(index);
            event.end = None;
            event.cause = event_cause;
            for item in opening.evidence {
                push_evidence(&mut event, item);
            }
            updates.push(EventUpdate::Revised(event.clone()));
            self.open.insert(slot, event);
            return;
        }
        let mut event = Event {
            id,
            entity,
            cause: event_cause,
            severity: opening.severity,
            confidence: opening.confidence,
            start,
            end: None,
            scope: opening.scope,
            summary: opening.summary,
            evidence: Vec::new(),
        };
        for item in opening.evidence {
            push_evidence(&mut event, item);
        }
        updates.push(EventUpdate::Started(event.clone()));
        self.open.insert(slot, event);
    }

    /// Adds evidence to an open event, quietly (no update).
    pub(crate) fn note(&mut self, slot: &Slot, evidence: Evidence) -> bool {
        match self.open.get_mut(slot) {
            Some(event) => {
                push_evidence(event, evidence);
                true
            }
            None => false,
        }
    }

    /// Changes an open event and reports the change.
    pub(crate) fn revise(
        &mut self,
        slot: &Slot,
        updates: &mut Vec<EventUpdate>,
        change: impl FnOnce(&mut Event),
    ) {
        if let Some(event) = self.open.get_mut(slot) {
            change(event);
            updates.push(EventUpdate::Revised(event.clone()));
        }
    }

    /// Ends an open event at `end`, adding the evidence of its end.
    pub(crate) fn end(
        &mut self,
        slot: &Slot,
        end: Timestamp,
        evidence: impl IntoIterator<Item = Evidence>,
        updates: &mut Vec<EventUpdate>,
    ) {
        let Some(mut event) = self.open.remove(slot) else {
            return;
        };
        for item in evidence {
            push_evidence(&mut event, item);
        }
        let end = end.max(event.start);
        event.end = Some(end);
        let duration = end.secs_since(event.start);
        if duration > 0.0 {
            event.summary = format!("{}. Back after {}", event.summary, human_duration(duration));
        }
        updates.push(EventUpdate::Ended(event.clone()));
        self.closed.push(event);
    }

    /// Every event, closed and open, in order of start.
    pub(crate) fn into_events(self) -> Vec<Event> {
        let mut events = self.closed;
        events.extend(self.open.into_values());
        events.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        events
    }
}

/// Appends evidence, keeping the opening half and the latest when there is too much.
pub(crate) fn push_evidence(event: &mut Event, evidence: Evidence) {
    if event.evidence.len() >= MAX_EVIDENCE {
        event.evidence.remove(MAX_EVIDENCE / 2);
    }
    event.evidence.push(evidence);
}
