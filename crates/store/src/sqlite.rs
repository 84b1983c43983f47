//! The SQLite backend: one file, the embedded default.
//!
//! Every write is one transaction in WAL mode, so a `kill -9` loses nothing that
//! was committed and leaves nothing half-written. One connection writes; readers
//! open their own ([`SqliteStore::open_read_only`]). The one-writer lock is a
//! `flock` on a file beside the database ([`crate::lock`]).

use crate::backend::{Backend, Batch, LATEST_SEEN};
use crate::error::{SqlContext, StoreError};
use crate::lock::FileLock;
use crate::rows::{EventQuery, FeedHealthRow, LogEntry, ProbeRow, SignalRollup};
use crate::sqlite_schema as schema;
use blackout_model::{Event, SeriesKey, SeriesPoint, Timestamp, UpdateKind};
use rusqlite::{Connection, OpenFlags, OptionalExtension, Transaction, params};
use rustc_hash::FxHashMap as HashMap;
use std::path::{Path, PathBuf};

/// How often the checkpointer copies what the WAL holds into the database file.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// Copies the WAL into the database file, on a thread and connection of its
/// own, so that the writer's commits do not stop to do it (SQLite's automatic
/// checkpoint runs inside the commit that passes 1,000 pages: a tenth of a
/// central's CPU under a full stream of results). Passive: it never waits for
/// the writer or a reader, and takes up what it could not copy the next time.
struct Checkpointer {
    stop: Option<std::sync::mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Checkpointer {
    /// Starts checkpointing `path`; None when no second connection or thread
    /// could be had (the writer then checkpoints itself, as by default).
    fn start(path: &Path) -> Option<Checkpointer> {
        let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_WRITE).ok()?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("sqlite-checkpoint".into())
            .spawn(move || {
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    // One that fails (the file busy, the disk full) leaves the
                    // WAL as it was: the next one takes it up.
                    let _ = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .ok()?;
        Some(Checkpointer {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One SQLite file.
pub struct SqliteStore {
    conn: Connection,
    /// Copies the WAL into the file beside the writer (none for readers); held
    /// for its drop, which stops it.
    _checkpointer: Option<Checkpointer>,
    /// Each series' number in `series`, as this writer found or made them. A
    /// number never changes, so a look-up holds for good; those a transaction
    /// made join only once it commits.
    series_ids: HashMap<SeriesKey, i64>,
    path: PathBuf,
    lock: Option<FileLock>,
}

impl SqliteStore {
    /// Opens (creating if needed) a store for writing.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open(path).map_err(open_error)?;
        // Wait for another connection's lock rather than fail at once, from the
        // first statement on: switching to WAL needs the file to itself.
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_error)?;
        // WAL: readers never block the writer, and a killed writer leaves only whole
        // transactions. NORMAL sync: a process crash loses nothing committed.
        when_free(|| conn.pragma_update(None, "journal_mode", "WAL")).map_err(open_error)?;
        conn.pragma_update(None, "synchronous", "NORMAL")
            .map_err(open_error)?;
        conn.pragma_update(None, "foreign_keys", "ON")
            .map_err(open_error)?;
        check_version(&conn, path)?;
        // One immediate transaction: the write lock is taken (or waited for) first,
        // so two processes creating or upgrading the same file cannot deadlock
        // halfway, and the version is read under the lock, so an upgrade runs once.
        when_free(|| {
            conn.execute_batch("BEGIN IMMEDIATE")?;
            upgrade(&conn).inspect_err(|_| {
                let _ = conn.execute_batch("ROLLBACK");
            })
        })
        .map_err(open_error)?;
        let checkpointer = Checkpointer::start(path);
        if checkpointer.is_some() {
            conn.pragma_update(None, "wal_autocheckpoint", 0)
                .map_err(open_error)?;
        }
        Ok(SqliteStore {
            conn,
            _checkpointer: checkpointer,
            series_ids: HashMap::default(),
            path: path.to_path_buf(),
            lock: None,
        })
    }
    /// Opens a store for writing as its only writer: the lock first, so that a
    /// refused writer touches nothing.
    pub fn open_locked(path: &Path) -> Result<Self, StoreError> {
        let lock = FileLock::take(path)?;
        let mut store = SqliteStore::open(path)?;
        store.lock = Some(lock);
        Ok(store)
    }

    /// Opens an existing store for reading only.
    pub fn open_read_only(path: &Path) -> Result<Self, StoreError> {
        let open_error = |source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        };
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(open_error)?;
        conn.busy_timeout(std::time::Duration::from_secs(5))
            .map_err(open_error)?;
        check_version(&conn, path)?;
        Ok(SqliteStore {
            conn,
            _checkpointer: None,
            series_ids: HashMap::default(),
            path: path.to_path_buf(),
            lock: None,
        })
    }
    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Backend for SqliteStore {
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let tx = self.conn.transaction().during("begin")?;
        if !batch.events.is_empty() {
            write_events(&tx, batch.owner, batch.events)?;
        }
        let mut new_series = Vec::new();
        if !batch.signals.is_empty() {
            write_signals(&tx, batch.signals, &self.series_ids, &mut new_series)?;
        }
        if !batch.feeds.is_empty() {
            write_feed_health(&tx, batch.feeds)?;
        }
        if !batch.probes.is_empty() {
            write_probe_results(&tx, batch.probes)?;
        }
        tx.commit().during("commit")?;
        self.series_ids.extend(new_series);
        Ok(())
    }

    /// Folds raw points older than `before` into buckets of `width_secs` (min, max,
    /// mean, count), merging with buckets already folded, and deletes them; returns
    /// how many points were folded. One transaction: a crash folds all or nothing.
    fn downsample(&mut self, before: Timestamp, width_secs: i64) -> Result<usize, StoreError> {
        let width_us = width_secs.max(1) * 1_000_000;
        let tx = self.conn.transaction().during("begin")?;
        tx.execute(
            "INSERT INTO signal_rollups (entity, signal, bucket_us, width_s, min, max, mean, count)
             SELECT series.entity, series.signal, (at_us / ?2) * ?2, ?3, min(value), max(value), avg(value), count(*)
             FROM points JOIN series ON series.id = points.series
             WHERE at_us < ?1 GROUP BY points.series, (at_us / ?2)
             ON CONFLICT (entity, signal, bucket_us) DO UPDATE SET
               min = min(min, excluded.min),
               max = max(max, excluded.max),
               mean = (mean * count + excluded.mean * excluded.count) / (count + excluded.count),
               count = count + excluded.count",
            params![before.as_micros(), width_us, width_secs],
        )
        .during("fold signals")?;
        let folded = tx
            .execute("DELETE FROM points WHERE at_us < ?1", [before.as_micros()])
            .during("delete folded signals")?;
        tx.commit().during("commit downsample")?;
        Ok(folded)
    }
    /// SQLite's own check of the file.
    fn integrity_check(&self) -> Result<Option<String>, StoreError> {
        self.conn
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .during("check integrity")
            .map(Some)
    }

    fn lock_writer(&mut self) -> Result<(), StoreError> {
        if self.lock.is_none() {
            self.lock = Some(FileLock::take(&self.path)?);
        }
        Ok(())
    }

    /// Events, newest first.
    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let mut sql = String::from("SELECT body FROM events WHERE 1 = 1");
        let mut values: Vec<rusqlite::types::Value> = Vec::new();
        if let Some(since) = query.since {
            sql.push_str(" AND (end_us IS NULL OR end_us >= ?)");
            values.push(since.as_micros().into());
        }
        if let Some(until) = query.until {
            sql.push_str(" AND start_us < ?");
            values.push(until.as_micros().into());
        }
        if let Some(cause) = query.cause {
            sql.push_str(" AND cause = ?");
            values.push(cause.as_str().to_string().into());
        }
        if let Some(entity) = &query.entity {
            sql.push_str(" AND entity = ?");
            values.push(entity.clone().into());
        }
        sql.push_str(" ORDER BY start_us DESC, id DESC");
        if let Some(limit) = query.limit {
            sql.push_str(&format!(" LIMIT {limit}"));
        }
        let mut statement = self.conn.prepare(&sql).during("prepare event query")?;
        let rows = statement
            .query_map(rusqlite::params_from_iter(values), |row| {
                row.get::<_, String>(0)
            })
            .during("query events")?;
        let mut events = Vec::new();
        for body in rows {
            events.push(parse_event(&body.during("read event")?)?);
        }
        Ok(events)
    }
    /// One event.
    fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        let body: Option<String> = self
            .conn
            .query_row("SELECT body FROM events WHERE id = ?1", [id], |row| {
                row.get(0)
            })
            .optional()
            .during("query event")?;
        body.map(|b| parse_event(&b)).transpose()
    }
    /// The events the watch of `profile` wrote that have not ended, oldest first.
    fn open_events_of(&self, profile: &str) -> Result<Vec<Event>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT e.body FROM events e JOIN event_owner o ON o.id = e.id
                 WHERE o.profile = ?1 AND e.end_us IS NULL ORDER BY e.start_us, e.id",
            )
            .during("prepare open event query")?;
        let rows = statement
            .query_map([profile], |row| row.get::<_, String>(0))
            .during("query open events")?;
        let mut events = Vec::new();
        for body in rows {
            events.push(parse_event(&body.during("read event")?)?);
        }
        Ok(events)
    }
    /// How many events are stored.
    fn event_count(&self) -> Result<u64, StoreError> {
        let count: i64 = self
            .conn
            .query_row("SELECT count(*) FROM events", [], |row| row.get(0))
            .during("count events")?;
        Ok(count.max(0) as u64)
    }
    /// What happened to an event, in order.
    fn event_log(&self, id: &str) -> Result<Vec<LogEntry>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT at_us, change, cause FROM event_log WHERE id = ?1 ORDER BY seq")
            .during("prepare event log query")?;
        let rows = statement
            .query_map([id], |row| {
                Ok((
                    Timestamp::from_micros(row.get(0)?),
                    row.get(1)?,
                    row.get(2)?,
                ))
            })
            .during("query event log")?;
        rows.collect::<Result<_, _>>().during("read event log")
    }
    /// A series' raw points in a time range, oldest first.
    fn signals(
        &self,
        key: &SeriesKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        let (entity, signal) = (key.entity.to_string(), key.measure.to_string());
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT at_us, value FROM points JOIN series ON series.id = points.series
                 WHERE entity = ?1 AND signal = ?2 AND at_us >= ?3 AND at_us < ?4 ORDER BY at_us",
            )
            .during("prepare signal query")?;
        let rows = statement
            .query_map(
                params![entity, signal, from.as_micros(), until.as_micros()],
                |row| {
                    Ok(SeriesPoint {
                        key: key.clone(),
                        at: Timestamp::from_micros(row.get(0)?),
                        value: row.get(1)?,
                    })
                },
            )
            .during("query signals")?;
        rows.collect::<Result<_, _>>().during("read signals")
    }
    /// A series' rollups in a time range, oldest first.
    fn rollups(
        &self,
        key: &SeriesKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<SignalRollup>, StoreError> {
        let (entity, signal) = (key.entity.to_string(), key.measure.to_string());
        let mut statement = self
            .conn
            .prepare_cached(
                "SELECT bucket_us, width_s, min, max, mean, count FROM signal_rollups
                 WHERE entity = ?1 AND signal = ?2 AND bucket_us >= ?3 AND bucket_us < ?4 ORDER BY bucket_us",
            )
            .during("prepare rollup query")?;
        let rows = statement
            .query_map(
                params![entity, signal, from.as_micros(), until.as_micros()],
                |row| {
                    Ok(SignalRollup {
                        key: key.clone(),
                        bucket: Timestamp::from_micros(row.get(0)?),
                        width_secs: row.get(1)?,
                        min: row.get(2)?,
                        max: row.get(3)?,
                        mean: row.get(4)?,
                        count: row.get(5)?,
                    })
                },
            )
            .during("query rollups")?;
        rows.collect::<Result<_, _>>().during("read rollups")
    }
    fn latest_seen_us(&self) -> Result<Option<i64>, StoreError> {
        self.conn
            .query_row(LATEST_SEEN, [], |row| row.get(0))
            .during("find the latest record")
    }

    /// The series stored, in order. Rows whose names do not read as a series
    /// (written by another version) are left out.
    fn series(&self) -> Result<Vec<SeriesKey>, StoreError> {
        let mut statement = self
            .conn
            .prepare("SELECT entity, signal FROM series UNION SELECT DISTINCT entity, signal FROM signal_rollups ORDER BY 1, 2")
            .during("prepare series query")?;
        let rows = statement
            .query_map([], |row| {
                Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
            })
            .during("query series")?;
        let names: Vec<(String, String)> = rows.collect::<Result<_, _>>().during("read series")?;
        Ok(names
            .into_iter()
            .filter_map(|(entity, signal)| {
                Some(SeriesKey::new(entity.parse().ok()?, signal.parse().ok()?))
            })
            .collect())
    }
    /// The latest health of each feed.
    fn feed_health(&self) -> Result<Vec<FeedHealthRow>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT feed, at_us, state, last_message_us, rate, detail FROM feed_health f
                 WHERE at_us = (SELECT max(at_us) FROM feed_health g WHERE g.feed = f.feed) ORDER BY feed",
            )
            .during("prepare feed health query")?;
        let rows = statement
            .query_map([], |row| {
                Ok(FeedHealthRow {
                    feed: row.get(0)?,
                    at: Timestamp::from_micros(row.get(1)?),
                    state: row.get(2)?,
                    last_message: row.get::<_, Option<i64>>(3)?.map(Timestamp::from_micros),
                    rate: row.get(4)?,
                    detail: row.get(5)?,
                })
            })
            .during("query feed health")?;
        rows.collect::<Result<_, _>>().during("read feed health")
    }
    /// The latest result of every check, by vantage, target and check.
    fn probe_results(&self) -> Result<Vec<ProbeRow>, StoreError> {
        let mut statement = self
            .conn
            .prepare(
                "SELECT vantage, target, check_name, at_us, kind, ok, outcome, rtt_ms, loss, detail,
                   address, resolved_at_us, resolve_error
                 FROM probe_latest ORDER BY vantage, target, check_name",
            )
            .during("prepare probe result query")?;
        let rows = statement
            .query_map([], |row| {
                Ok(ProbeRow {
                    vantage: row.get(0)?,
                    target: row.get(1)?,
                    check: row.get(2)?,
                    at: Timestamp::from_micros(row.get(3)?),
                    kind: row.get(4)?,
                    ok: row.get(5)?,
                    outcome: row.get(6)?,
                    rtt_ms: row.get(7)?,
                    loss: row.get(8)?,
                    detail: row.get(9)?,
                    address: row.get(10)?,
                    resolved_at: row.get::<_, Option<i64>>(11)?.map(Timestamp::from_micros),
                    resolve_error: row.get(12)?,
                })
            })
            .during("query probe results")?;
        rows.collect::<Result<_, _>>().during("read probe results")
    }
}

fn write_events(
    tx: &Transaction<'_>,
    owner: Option<&str>,
    changes: &[(UpdateKind, &Event)],
) -> Result<(), StoreError> {
    if let Some(profile) = owner {
        let mut own = tx
            .prepare_cached("INSERT OR REPLACE INTO event_owner (id, profile) VALUES (?1, ?2)")
            .during("prepare event owner")?;
        for (_, event) in changes {
            own.execute(params![event.id.0, profile])
                .during("write event owner")?;
        }
    }
    {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO events (id, entity, cause, severity, confidence, start_us, end_us, summary, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                 ON CONFLICT (id) DO UPDATE SET entity = ?2, cause = ?3, severity = ?4, confidence = ?5,
                   start_us = ?6, end_us = ?7, summary = ?8, body = ?9",
            )
            .during("prepare event write")?;
        let mut log = tx
            .prepare_cached("INSERT OR IGNORE INTO event_log (id, at_us, change, cause) VALUES (?1, ?2, ?3, ?4)")
            .during("prepare event log")?;
        for (change, event) in changes {
            let body = serde_json::to_string(event).map_err(|e| StoreError::Corrupt {
                what: "event",
                message: e.to_string(),
            })?;
            let severity = serde_json::to_value(event.severity)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            upsert
                .execute(params![
                    event.id.0,
                    event.entity.to_string(),
                    event.cause.as_str(),
                    severity,
                    event.confidence,
                    event.start.as_micros(),
                    event.end.map(Timestamp::as_micros),
                    event.summary,
                    body
                ])
                .during("write event")?;
            let at = match change {
                UpdateKind::Started => event.start,
                UpdateKind::Ended => event.end.unwrap_or(event.start),
                UpdateKind::Revised => event.evidence.last().map(|e| e.at).unwrap_or(event.start),
            };
            log.execute(params![
                event.id.0,
                at.as_micros(),
                change.as_str(),
                event.cause.as_str()
            ])
            .during("log event")?;
        }
    }
    Ok(())
}
/// Writes signal points in one transaction; a point already stored is kept once.
/// A series not in `known` is looked up, or made, and goes into `made`.
fn write_signals(
    tx: &Transaction<'_>,
    points: &[SeriesPoint],
    known: &HashMap<SeriesKey, i64>,
    made: &mut Vec<(SeriesKey, i64)>,
) -> Result<(), StoreError> {
    let mut ids: HashMap<&SeriesKey, i64> = HashMap::default();
    {
        let mut find = tx
            .prepare_cached("SELECT id FROM series WHERE entity = ?1 AND signal = ?2")
            .during("prepare series look-up")?;
        let mut make = tx
            .prepare_cached("INSERT INTO series (entity, signal) VALUES (?1, ?2)")
            .during("prepare series write")?;
        for point in points {
            if ids.contains_key(&point.key) {
                continue;
            }
            let id = match known.get(&point.key) {
                Some(id) => *id,
                None => {
                    let (entity, signal) =
                        (point.key.entity.to_string(), point.key.measure.to_string());
                    let found: Option<i64> = find
                        .query_row(params![entity, signal], |row| row.get(0))
                        .optional()
                        .during("look up a series")?;
                    let id = match found {
                        Some(id) => id,
                        None => {
                            make.execute(params![entity, signal])
                                .during("write a series")?;
                            tx.last_insert_rowid()
                        }
                    };
                    made.push((point.key.clone(), id));
                    id
                }
            };
            ids.insert(&point.key, id);
        }
    }
    // Written in the table's key order: each series' points go into its pages
    // one after another, rather than each point seeking its page anew among
    // those of thousands of series.
    let mut rows: Vec<(i64, i64, f64)> = points
        .iter()
        .filter_map(|point| Some((*ids.get(&point.key)?, point.at.as_micros(), point.value)))
        .collect();
    rows.sort_by_key(|&(series, at, _)| (series, at));
    let mut insert = tx
        .prepare_cached("INSERT OR REPLACE INTO points (series, at_us, value) VALUES (?1, ?2, ?3)")
        .during("prepare signal write")?;
    for (series, at, value) in rows {
        insert
            .execute(params![series, at, value])
            .during("write signal")?;
    }
    Ok(())
}
/// Writes a feed's health.
fn write_feed_health(tx: &Transaction<'_>, rows: &[FeedHealthRow]) -> Result<(), StoreError> {
    {
        let mut insert = tx
            .prepare_cached(
                "INSERT OR REPLACE INTO feed_health (feed, at_us, state, last_message_us, rate, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .during("prepare feed health write")?;
        for row in rows {
            insert
                .execute(params![
                    row.feed,
                    row.at.as_micros(),
                    row.state,
                    row.last_message.map(Timestamp::as_micros),
                    row.rate,
                    row.detail
                ])
                .during("write feed health")?;
        }
    }
    Ok(())
}
/// Keeps the latest result of each check (one row per vantage, target and
/// check, replaced by each newer one), in one transaction.
fn write_probe_results(tx: &Transaction<'_>, rows: &[ProbeRow]) -> Result<(), StoreError> {
    {
        let mut upsert = tx
            .prepare_cached(
                "INSERT INTO probe_latest (vantage, target, check_name, at_us, kind, ok, outcome, rtt_ms, loss, detail,
                   address, resolved_at_us, resolve_error)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)
                 ON CONFLICT (vantage, target, check_name) DO UPDATE SET at_us = ?4, kind = ?5, ok = ?6,
                   outcome = ?7, rtt_ms = ?8, loss = ?9, detail = ?10, address = ?11,
                   resolved_at_us = ?12, resolve_error = ?13
                 WHERE ?4 >= at_us",
            )
            .during("prepare probe result write")?;
        for row in rows {
            upsert
                .execute(params![
                    row.vantage,
                    row.target,
                    row.check,
                    row.at.as_micros(),
                    row.kind,
                    row.ok,
                    row.outcome,
                    row.rtt_ms,
                    row.loss,
                    row.detail,
                    row.address,
                    row.resolved_at.map(Timestamp::as_micros),
                    row.resolve_error
                ])
                .during("write probe result")?;
        }
    }
    Ok(())
}
/// Refuses a file written by a newer blackout.
/// Runs a step of opening again while another process holds the lock. SQLite
/// skips the busy handler where waiting could deadlock (two connections turning a
/// new file to WAL at once), and says "busy" at once; it clears in moments.
fn when_free<T>(mut step: impl FnMut() -> rusqlite::Result<T>) -> rusqlite::Result<T> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match step() {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if matches!(
                    e.code,
                    rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                ) && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            other => return other,
        }
    }
}

/// Creates the schema or brings an older file up to this version, then commits;
/// runs inside the caller's immediate transaction.
fn upgrade(conn: &Connection) -> rusqlite::Result<()> {
    let found: i64 = conn.pragma_query_value(None, "user_version", |row| row.get(0))?;
    conn.execute_batch(schema::V1)?;
    if found < 2 {
        conn.execute_batch(schema::V2)?;
    }
    conn.execute_batch(schema::V3)?;
    let has_signals: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'signals')",
        [],
        |row| row.get(0),
    )?;
    if found < 3 && has_signals {
        conn.execute_batch(schema::MOVE_SIGNALS)?;
    }
    conn.execute_batch(&format!(
        "PRAGMA user_version = {}; COMMIT;",
        schema::VERSION
    ))
}

fn check_version(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |row| row.get(0))
        .map_err(|source| StoreError::Open {
            path: path.to_path_buf(),
            source,
        })?;
    if version > schema::VERSION {
        return Err(StoreError::Schema {
            db: path.display().to_string(),
            found: version,
            known: schema::VERSION,
        });
    }
    Ok(())
}

fn parse_event(body: &str) -> Result<Event, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: "event",
        message: e.to_string(),
    })
}
