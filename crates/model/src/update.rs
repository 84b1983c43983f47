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
