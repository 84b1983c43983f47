//! Event updates: what the core says about an event each time it starts, changes
//! or ends. The store logs them, the API streams them and alerts are raised from
//! them, all in this one shape.

use crate::Event;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// What happened to an event.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UpdateKind {
    /// It began.
    Started,
    /// Its cause, severity, scope or evidence changed.
    Revised,
    /// It ended (its `end` is set).
    Ended,
}

impl UpdateKind {
    /// The name in logs, the store and the API (`started`, `revised`, `ended`).
    pub fn as_str(self) -> &'static str {
        match self {
            UpdateKind::Started => "started",
            UpdateKind::Revised => "revised",
            UpdateKind::Ended => "ended",
        }
    }
}

impl fmt::Display for UpdateKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for UpdateKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [UpdateKind::Started, UpdateKind::Revised, UpdateKind::Ended]
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not an event update (started, revised, ended)"))
    }
}

/// An event as it stands after it started, changed or ended.
#[derive(Clone, Debug, PartialEq)]
pub struct EventUpdate {
    /// What happened to it.
    pub kind: UpdateKind,
    /// The event as it now stands.
    pub event: Event,
}

impl EventUpdate {
    /// A new event.
    pub fn started(event: Event) -> Self {
        EventUpdate {
            kind: UpdateKind::Started,
            event,
        }
    }

    /// An event that changed.
    pub fn revised(event: Event) -> Self {
        EventUpdate {
            kind: UpdateKind::Revised,
            event,
        }
    }

    /// An event that ended.
    pub fn ended(event: Event) -> Self {
        EventUpdate {
            kind: UpdateKind::Ended,
            event,
        }
    }
}

/// The updates of one delivery (one write of the store, one batch on the
/// stream and to the alerts), each event's revisions folded into its latest
/// update: each update carries the whole event, so a revision followed by
/// another update of the same event in the same delivery says nothing the
/// later one does not. A start and an end are kept. Under a flood, the
/// traceroutes of three vantage points and what each saw come in within a
/// few milliseconds, a revision each; delivered, they are one.
pub fn fold_revisions(updates: Vec<EventUpdate>) -> Vec<EventUpdate> {
    if updates.len() < 2 {
        return updates;
    }
    let mut last_of: std::collections::HashMap<&crate::EventId, usize> =
        std::collections::HashMap::new();
    for (index, update) in updates.iter().enumerate() {
        last_of.insert(&update.event.id, index);
    }
    let keep: Vec<bool> = updates
        .iter()
        .enumerate()
        .map(|(index, update)| {
            update.kind != UpdateKind::Revised || last_of[&update.event.id] == index
        })
        .collect();
    updates
        .into_iter()
        .zip(keep)
        .filter_map(|(update, keep)| keep.then_some(update))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Cause, Entity, EventId, Scope, Severity, Timestamp};

    fn event(id: &str, summary: &str) -> Event {
        Event {
            id: EventId(id.to_string()),
            entity: Entity::Host("www.example".into()),
            cause: Cause::Service,
            severity: Severity::Warning,
            confidence: 0.8,
            start: Timestamp::from_secs(1_700_000_000),
            end: None,
            scope: Scope::default(),
            summary: summary.to_string(),
            evidence: Vec::new(),
        }
    }

    #[test]
    fn revisions_fold_into_the_latest_update_of_their_event() {
        let updates = vec![
            EventUpdate::started(event("a", "a begins")),
            EventUpdate::revised(event("a", "a, a trace")),
            EventUpdate::revised(event("b", "b, a trace")),
            EventUpdate::revised(event("a", "a, another trace")),
            EventUpdate::revised(event("b", "b, what vp-2 saw")),
            EventUpdate::ended(event("b", "b ends")),
            EventUpdate::revised(event("c", "c alone")),
        ];
        let folded: Vec<(UpdateKind, String)> = fold_revisions(updates)
            .into_iter()
            .map(|u| (u.kind, u.event.summary))
            .collect();
        assert_eq!(
            folded,
            vec![
                (UpdateKind::Started, "a begins".to_string()),
                (UpdateKind::Revised, "a, another trace".to_string()),
                (UpdateKind::Ended, "b ends".to_string()),
                (UpdateKind::Revised, "c alone".to_string()),
            ]
        );
    }
}
