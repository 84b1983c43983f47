//! The rows the store reads and writes, the same for every backend.

use blackout_model::{Cause, SeriesKey, Timestamp};
use serde::{Deserialize, Serialize};

/// One line of an event's history: when, `started|revised|ended`, and its cause then.
pub type LogEntry = (Timestamp, String, String);

/// Which events to list.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EventQuery {
    /// Events still going on at or after this time.
    pub since: Option<Timestamp>,
    /// Events that started before this time.
    pub until: Option<Timestamp>,
    /// Only this cause.
    pub cause: Option<Cause>,
    /// Only this entity (its text form).
    pub entity: Option<String>,
    /// At most this many (newest first).
    pub limit: Option<usize>,
}

/// Old points folded into one bucket.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SignalRollup {
    /// Which series.
    #[serde(flatten)]
    pub key: SeriesKey,
    /// The start of the bucket.
    pub bucket: Timestamp,
    /// The bucket's width, in seconds.
    pub width_secs: i64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
    /// Mean value.
    pub mean: f64,
    /// How many points it holds.
    pub count: i64,
}

/// A feed's health at one moment.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FeedHealthRow {
    /// The feed.
    pub feed: String,
    /// When.
    pub at: Timestamp,
    /// `up`, `stale`, `down`, ...
    pub state: String,
    /// Its last message.
    pub last_message: Option<Timestamp>,
    /// Messages per second.
    pub rate: Option<f64>,
    /// What else was seen.
    pub detail: String,
}

/// The latest result of one probe check.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ProbeRow {
    /// From where.
    pub vantage: String,
    /// The target (host name or address, `zone@server` for DNS).
    pub target: String,
    /// The check (`icmp`, `tcp:22`, `dns`, ...).
    pub check: String,
    /// When it ran.
    pub at: Timestamp,
    /// The kind of check (`icmp`, `http`, ...).
    pub kind: String,
    /// Did it pass?
    pub ok: bool,
    /// A short outcome (`ok`, `timeout`, `refused`, ...).
    pub outcome: String,
    /// Round-trip time, where measured.
    pub rtt_ms: Option<f64>,
    /// Loss ratio, where measured.
    pub loss: Option<f64>,
    /// What else was seen.
    pub detail: String,
    /// The address probed, when there was one.
    pub address: Option<String>,
    /// Set when the name did not resolve and its last known address was probed:
    /// when that address last resolved.
    pub resolved_at: Option<Timestamp>,
    /// ... and why the name did not resolve this time.
    pub resolve_error: Option<String>,
}

/// An event as the `events` table and the `event_log` hold it.
#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
pub(crate) struct EventRow {
    pub(crate) id: String,
    pub(crate) entity: String,
    pub(crate) cause: String,
    pub(crate) severity: String,
    pub(crate) confidence: f64,
    pub(crate) start_us: i64,
    pub(crate) end_us: Option<i64>,
    pub(crate) summary: String,
    pub(crate) body: String,
    /// When the change the log records happened.
    pub(crate) change_at_us: i64,
    /// `started`, `revised` or `ended`.
    pub(crate) change: String,
}

#[cfg_attr(not(feature = "postgres"), allow(dead_code))]
impl EventRow {
    /// The row for `event` after `change`.
    pub(crate) fn new(
        change: blackout_model::UpdateKind,
        event: &blackout_model::Event,
    ) -> Result<EventRow, crate::StoreError> {
        use blackout_model::UpdateKind;
        let body = serde_json::to_string(event).map_err(|e| crate::StoreError::Corrupt {
            what: "event",
            message: e.to_string(),
        })?;
        let severity = serde_json::to_value(event.severity)
            .ok()
            .and_then(|v| v.as_str().map(String::from))
            .unwrap_or_default();
        let at = match change {
            UpdateKind::Started => event.start,
            UpdateKind::Ended => event.end.unwrap_or(event.start),
            UpdateKind::Revised => event.evidence.last().map(|e| e.at).unwrap_or(event.start),
        };
        Ok(EventRow {
            id: event.id.0.clone(),
            entity: event.entity.to_string(),
            cause: event.cause.as_str().to_string(),
            severity,
            confidence: event.confidence,
            start_us: event.start.as_micros(),
            end_us: event.end.map(Timestamp::as_micros),
            summary: event.summary.clone(),
            body,
            change_at_us: at.as_micros(),
            change: change.as_str().to_string(),
        })
    }
}
