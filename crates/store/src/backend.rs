//! The one trait both databases implement: a batch written in one transaction,
//! a fold of old points into rollups, and the reads the commands and the API
//! make. Everything above it ([`crate::Store`]) is the same for both.

use crate::StoreError;
use crate::rows::{EventQuery, FeedHealthRow, LogEntry, ProbeRow, SignalRollup};
use blackout_model::{Event, SeriesKey, SeriesPoint, Timestamp, UpdateKind};

/// What one write carries. It is written in one transaction: a `kill -9` leaves
/// all of it or none.
#[derive(Clone, Copy, Default)]
pub struct Batch<'a> {
    /// The watch (by profile name) whose events these are; `None` for replay.
    pub owner: Option<&'a str>,
    /// Events as they now stand, with what happened to each. The same change
    /// written twice leaves one row and one log line.
    pub events: &'a [(UpdateKind, &'a Event)],
    /// Signal points; a point already stored is replaced.
    pub signals: &'a [SeriesPoint],
    /// Feed health rows.
    pub feeds: &'a [FeedHealthRow],
    /// Probe results; only a newer result replaces a check's latest.
    pub probes: &'a [ProbeRow],
}

impl Batch<'_> {
    /// True when there is nothing to write.
    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
            && self.signals.is_empty()
            && self.feeds.is_empty()
            && self.probes.is_empty()
    }
}

/// A database that holds what blackout saw and said.
pub trait Backend: Send {
    /// Writes `batch` in one transaction.
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), StoreError>;
    /// Folds raw points older than `before` into buckets of `width_secs` (merged
    /// with buckets folded before) and deletes them; returns how many were folded.
    fn downsample(&mut self, before: Timestamp, width_secs: i64) -> Result<usize, StoreError>;
    /// Makes this connection the database's only writer, or says who is
    /// ([`StoreError::Locked`]). Held until the backend is dropped (or its
    /// process dies).
    fn lock_writer(&mut self) -> Result<(), StoreError>;
    /// Events, newest first.
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError>;
    /// One event.
    fn event(&self, id: &str) -> Result<Option<Event>, StoreError>;
    /// The events the watch of `profile` wrote that have not ended, oldest first.
    fn open_events_of(&self, profile: &str) -> Result<Vec<Event>, StoreError>;
    /// How many events are stored.
    fn event_count(&self) -> Result<u64, StoreError>;
    /// What happened to an event, in order.
    fn event_log(&self, id: &str) -> Result<Vec<LogEntry>, StoreError>;
    /// A series' raw points in `[from, until)`, oldest first.
    fn signals(
        &self,
        key: &SeriesKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<SeriesPoint>, StoreError>;
    /// A series' rollups in `[from, until)`, oldest first.
    fn rollups(
        &self,
        key: &SeriesKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<SignalRollup>, StoreError>;
    /// The series stored (raw or folded), ordered by entity and signal text.
    fn series(&self) -> Result<Vec<SeriesKey>, StoreError>;
    /// The latest moment anything was recorded (a series point or rollup, an event
    /// change, a feed's health, a probe result), in microseconds.
    fn latest_seen_us(&self) -> Result<Option<i64>, StoreError>;
    /// The latest health of each feed, by feed.
    fn feed_health(&self) -> Result<Vec<FeedHealthRow>, StoreError>;
    /// The latest result of every check, by vantage, target and check.
    fn probe_results(&self) -> Result<Vec<ProbeRow>, StoreError>;
    /// The database's own check of its files, where it has one.
    fn integrity_check(&self) -> Result<Option<String>, StoreError> {
        Ok(None)
    }
}

/// The latest moment recorded in any table, the same query for every backend.
pub(crate) const LATEST_SEEN: &str = "SELECT MAX(m) FROM (SELECT MAX(at_us) AS m FROM points \
                 UNION ALL SELECT MAX(bucket_us) FROM signal_rollups \
                 UNION ALL SELECT MAX(at_us) FROM event_log \
                 UNION ALL SELECT MAX(at_us) FROM feed_health \
                 UNION ALL SELECT MAX(at_us) FROM probe_latest) AS latest";
