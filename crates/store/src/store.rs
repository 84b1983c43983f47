//! [`Store`]: a database of either kind behind one type, with the writes and
//! reads everything else uses.

use crate::backend::{Backend, Batch};
use crate::db::Db;
use crate::error::StoreError;
use crate::rows::{EventQuery, FeedHealthRow, LogEntry, ProbeRow, SignalRollup};
use crate::sqlite::SqliteStore;
use blackout_model::{Event, SeriesKey, SeriesPoint, Timestamp, UpdateKind};

/// An open database.
pub struct Store {
    backend: Box<dyn Backend>,
    db: Db,
}

impl Store {
    /// Opens (creating or upgrading if needed) a database for writing.
    pub fn open(db: impl Into<Db>) -> Result<Self, StoreError> {
        let db = db.into();
        let backend: Box<dyn Backend> = match &db {
            Db::Sqlite(path) => Box::new(SqliteStore::open(path)?),
            Db::Postgres(target) => postgres(target, false)?,
        };
        Ok(Store::with(backend, db))
    }

    /// Opens a database for writing as its only writer (`watch`): a second writer
    /// gets [`StoreError::Locked`], naming the first one's process where it can.
    pub fn open_writer(db: impl Into<Db>) -> Result<Self, StoreError> {
        let db = db.into();
        // The lock before anything is written: a refused watch touches nothing.
        let backend: Box<dyn Backend> = match &db {
            Db::Sqlite(path) => Box::new(SqliteStore::open_locked(path)?),
            Db::Postgres(target) => {
                let mut backend = postgres(target, false)?;
                backend.lock_writer()?;
                backend
            }
        };
        Ok(Store::with(backend, db))
    }

    /// Opens an existing database for reading only.
    pub fn open_read_only(db: impl Into<Db>) -> Result<Self, StoreError> {
        let db = db.into();
        let backend: Box<dyn Backend> = match &db {
            Db::Sqlite(path) => Box::new(SqliteStore::open_read_only(path)?),
            Db::Postgres(target) => postgres(target, true)?,
        };
        Ok(Store::with(backend, db))
    }

    fn with(backend: Box<dyn Backend>, db: Db) -> Store {
        Store { backend, db }
    }

    /// The database.
    pub fn db(&self) -> &Db {
        &self.db
    }

    /// Writes a batch of any kinds of rows in one transaction. Of the probe
    /// rows of one check, only the newest is written, and of the points of one
    /// series at one time, only the last: the others would be replaced within
    /// the same transaction. A central's batch holds many rounds, each seen
    /// from every vantage point at once.
    pub fn write(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        if batch.is_empty() {
            return Ok(());
        }
        let newest = newest_of_each_check(batch.probes);
        let last = last_of_each_point(batch.signals);
        let probes = newest.as_deref().unwrap_or(batch.probes);
        let signals = last.as_deref().unwrap_or(batch.signals);
        self.backend.write(&Batch {
            probes,
            signals,
            ..*batch
        })
    }

    /// Writes events as they now stand, and logs what happened to each, in one
    /// transaction. Writing the same change twice leaves one row and one log line.
    pub fn record_events(&mut self, changes: &[(UpdateKind, &Event)]) -> Result<(), StoreError> {
        self.write(&Batch {
            events: changes,
            ..Batch::default()
        })
    }

    /// Like [`Store::record_events`], for the live watch of `profile`: the events
    /// are marked as that profile's, so that a restart can take up those still
    /// open ([`Store::open_events_of`]).
    pub fn record_events_of(
        &mut self,
        profile: &str,
        changes: &[(UpdateKind, &Event)],
    ) -> Result<(), StoreError> {
        self.write(&Batch {
            owner: Some(profile),
            events: changes,
            ..Batch::default()
        })
    }

    /// Writes signal points in one transaction; a point already stored is kept once.
    pub fn record_signals(&mut self, points: &[SeriesPoint]) -> Result<(), StoreError> {
        self.write(&Batch {
            signals: points,
            ..Batch::default()
        })
    }

    /// Writes feed health rows.
    pub fn record_feed_health(&mut self, rows: &[FeedHealthRow]) -> Result<(), StoreError> {
        self.write(&Batch {
            feeds: rows,
            ..Batch::default()
        })
    }

    /// Keeps the latest result of each check (one row per vantage, target and
    /// check, replaced by each newer one), in one transaction.
    pub fn record_probe_results(&mut self, rows: &[ProbeRow]) -> Result<(), StoreError> {
        self.write(&Batch {
            probes: rows,
            ..Batch::default()
        })
    }

    /// Folds raw points older than `before` into buckets of `width_secs` (min, max,
    /// mean, count), merging with buckets already folded, and deletes them; returns
    /// how many points were folded. One transaction: a crash folds all or nothing.
    pub fn downsample(&mut self, before: Timestamp, width_secs: i64) -> Result<usize, StoreError> {
        self.backend.downsample(before, width_secs)
    }

    /// The database's own check of its files, where it has one (SQLite's
    /// `integrity_check`: `ok` when sound).
    pub fn integrity_check(&self) -> Result<Option<String>, StoreError> {
        self.backend.integrity_check()
    }

    /// The events the watch of `profile` wrote that have not ended, oldest first.
    pub fn open_events_of(&self, profile: &str) -> Result<Vec<Event>, StoreError> {
        self.backend.open_events_of(profile)
    }

    /// Events, newest first.
    pub fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        self.backend.events(query)
    }

    /// One event.
    pub fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        self.backend.event(id)
    }

    /// How many events are stored.
    pub fn event_count(&self) -> Result<u64, StoreError> {
        self.backend.event_count()
    }

    /// What happened to an event, in order.
    pub fn event_log(&self, id: &str) -> Result<Vec<LogEntry>, StoreError> {
        self.backend.event_log(id)
    }

    /// A series' raw points in a time range, oldest first.
    pub fn signals(
        &self,
        key: &SeriesKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        self.backend.signals(key, from, until)
    }

    /// A series' rollups in a time range, oldest first.
    pub fn rollups(
        &self,
        key: &SeriesKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<SignalRollup>, StoreError> {
        self.backend.rollups(key, from, until)
    }

    /// The latest moment the database recorded anything (a series point, an event
    /// change, a feed's health, a probe result): how far its data runs. A report
    /// speaks as of then, not past it.
    pub fn latest_seen(&self) -> Result<Option<Timestamp>, StoreError> {
        let latest = self.backend.latest_seen_us()?;
        Ok(latest.map(Timestamp::from_micros))
    }

    /// The series stored, in order. Rows whose names do not read as a series
    /// (written by another version) are left out.
    pub fn series(&self) -> Result<Vec<SeriesKey>, StoreError> {
        self.backend.series()
    }

    /// The latest health of each feed.
    pub fn feed_health(&self) -> Result<Vec<FeedHealthRow>, StoreError> {
        self.backend.feed_health()
    }

    /// The latest result of every check, by vantage, target and check.
    pub fn probe_results(&self) -> Result<Vec<ProbeRow>, StoreError> {
        self.backend.probe_results()
    }
}

#[cfg(feature = "postgres")]
fn postgres(target: &crate::PgTarget, read_only: bool) -> Result<Box<dyn Backend>, StoreError> {
    Ok(Box::new(crate::postgres::PgStore::connect(
        target, read_only,
    )?))
}

#[cfg(not(feature = "postgres"))]
fn postgres(target: &crate::PgTarget, _read_only: bool) -> Result<Box<dyn Backend>, StoreError> {
    Err(StoreError::NoPostgres {
        db: crate::db::redact(&target.url),
    })
}

/// The last point of each series at each time in `points` (as the store's
/// replace keeps it); None when no two are of the same series and time.
fn last_of_each_point(points: &[SeriesPoint]) -> Option<Vec<SeriesPoint>> {
    kept_of_each_key(points, |point| (&point.key, point.at), |_, _| true)
}

/// The newest row of each (vantage, target, check) in `rows`; of two equally
/// new, the later (as the store's upsert keeps it). None when no two are of the
/// same check.
fn newest_of_each_check(rows: &[ProbeRow]) -> Option<Vec<ProbeRow>> {
    kept_of_each_key(
        rows,
        |row| {
            (
                row.vantage.as_str(),
                row.target.as_str(),
                row.check.as_str(),
            )
        },
        |kept, later| later.at >= kept.at,
    )
}

/// Of the items that share a key, the one the store keeps once all are
/// written in order (`replaces(kept, later)`: does the later one replace the
/// one kept?), in the order the keys first came; None when no two share a key
/// (nothing to drop, nothing cloned). Indices first, items cloned once at the
/// end: a batch holds many items of few keys.
fn kept_of_each_key<'a, T: Clone, K: Eq + std::hash::Hash>(
    items: &'a [T],
    key: impl Fn(&'a T) -> K,
    replaces: impl Fn(&T, &T) -> bool,
) -> Option<Vec<T>> {
    if items.len() < 2 {
        return None;
    }
    let mut slots: rustc_hash::FxHashMap<K, usize> =
        rustc_hash::FxHashMap::with_capacity_and_hasher(items.len(), Default::default());
    let mut kept: Vec<usize> = Vec::with_capacity(items.len());
    for (index, item) in items.iter().enumerate() {
        match slots.entry(key(item)) {
            std::collections::hash_map::Entry::Occupied(slot) => {
                let kept = &mut kept[*slot.get()];
                if replaces(&items[*kept], item) {
                    *kept = index;
                }
            }
            std::collections::hash_map::Entry::Vacant(slot) => {
                slot.insert(kept.len());
                kept.push(index);
            }
        }
    }
    (kept.len() < items.len()).then(|| kept.into_iter().map(|index| items[index].clone()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(vantage: &str, check: &str, at: i64, outcome: &str) -> ProbeRow {
        ProbeRow {
            vantage: vantage.into(),
            target: "www".into(),
            check: check.into(),
            at: Timestamp::from_secs(at),
            outcome: outcome.into(),
            ..ProbeRow::default()
        }
    }

    #[test]
    fn only_the_newest_row_of_each_check_is_written() {
        let rows = [
            row("vp-1", "icmp", 10, "old"),
            row("vp-2", "icmp", 10, "other vantage"),
            row("vp-1", "tcp:80", 11, "tcp"),
            row("vp-1", "icmp", 20, "new"),
            row("vp-1", "icmp", 15, "late but older"),
            row("vp-2", "icmp", 10, "same time, later"),
        ];
        let newest = newest_of_each_check(&rows).expect("rows of the same check");
        let shown: Vec<(&str, &str, &str)> = newest
            .iter()
            .map(|r| (r.vantage.as_str(), r.check.as_str(), r.outcome.as_str()))
            .collect();
        assert_eq!(
            shown,
            [
                ("vp-1", "icmp", "new"),
                ("vp-2", "icmp", "same time, later"),
                ("vp-1", "tcp:80", "tcp"),
            ]
        );
    }

    #[test]
    fn only_the_last_point_of_a_series_at_a_time_is_written() {
        let key = |host: &str| {
            SeriesKey::new(
                format!("host:{host}").parse().unwrap(),
                "probe.icmp.ok".parse().unwrap(),
            )
        };
        let point = |host: &str, at: i64, value: f64| SeriesPoint {
            key: key(host),
            at: Timestamp::from_secs(at),
            value,
        };
        let distinct = [point("a.example", 10, 1.0), point("a.example", 11, 0.0)];
        assert_eq!(last_of_each_point(&distinct), None, "nothing to drop");
        let points = [
            point("a.example", 10, 1.0),
            point("b.example", 10, 1.0),
            point("a.example", 10, 0.0),
            point("a.example", 11, 1.0),
            point("a.example", 10, 0.5),
        ];
        assert_eq!(
            last_of_each_point(&points),
            Some(vec![
                point("a.example", 10, 0.5),
                point("b.example", 10, 1.0),
                point("a.example", 11, 1.0),
            ])
        );
    }
}
