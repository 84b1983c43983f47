//! The PostgreSQL backend, for central deployments: tokio-postgres on a thread
//! of its own.
//!
//! The store's API is blocking (SQLite is), and its callers run on tokio workers,
//! where blocking on a second runtime panics. So each connection lives on its own
//! thread with a current-thread runtime; a call sends that thread a job and waits
//! for the answer. A batch is one transaction whose statements are pipelined
//! (sent without waiting for each answer); signal points go in one statement
//! (`unnest` of arrays).
//!
//! The tables live in one schema (`blackout`, or `?schema=` in the URL), created
//! or upgraded under a transaction-scoped advisory lock so that two processes
//! starting at once do it once. The one-writer lock is a session advisory lock
//! keyed by the schema; PostgreSQL drops it when the writer's connection closes,
//! which a killed process's does at once. The writer's pid is found through the
//! lock holder's `application_name` (`blackout/<pid>`).
//!
//! Text columns are `COLLATE "C"`, so that ordering by text is by bytes, as in
//! SQLite.
//!
//! A server that goes away (a restart, a failover) is connected to again: a call
//! that finds its connection closed, or fails because it closed, reconnects
//! (trying for [`RECONNECT_FOR`]), sets the session up as before, takes the
//! writer's lock again if it held it, and runs once more. A batch is one
//! transaction, so one cut off by the server's end was not written and is
//! written whole by the second try.

use crate::backend::{Backend, Batch, LATEST_SEEN};
use crate::db::{PgTarget, redact};
use crate::error::{SqlContext, StoreError};
use crate::rows::{EventQuery, EventRow, FeedHealthRow, LogEntry, ProbeRow, SignalRollup};
use blackout_model::{Event, SeriesKey, SeriesPoint, Timestamp};
use futures_util::future::try_join_all;
use rustc_hash::FxHashMap as HashMap;
use std::sync::mpsc;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

/// How long a call tries to reach a server that went away before it fails: a
/// restart takes a few seconds.
pub const RECONNECT_FOR: std::time::Duration = std::time::Duration::from_secs(30);

/// The schema version this code writes.
const VERSION: i64 = 2;

/// Version 1 named each point's series in full, in `signals`; version 2 names a
/// series once, in `series`, and its points carry its number (as SQLite's
/// schema 3 does, for the same reason: rows a third the size). A version-1
/// schema's points are moved over.
const MOVE_V1_SIGNALS: &str = r#"
CREATE TABLE IF NOT EXISTS signals (
    entity TEXT COLLATE "C" NOT NULL,
    signal TEXT COLLATE "C" NOT NULL,
    at_us  BIGINT NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (entity, signal, at_us)
);
INSERT INTO series (entity, signal) SELECT DISTINCT entity, signal FROM signals
    ON CONFLICT DO NOTHING;
INSERT INTO points (series, at_us, value)
    SELECT series.id, signals.at_us, signals.value
    FROM signals JOIN series USING (entity, signal)
    ON CONFLICT (series, at_us) DO UPDATE SET value = excluded.value;
DROP TABLE signals;
"#;

const SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS events (
    id         TEXT COLLATE "C" PRIMARY KEY,
    entity     TEXT COLLATE "C" NOT NULL,
    cause      TEXT COLLATE "C" NOT NULL,
    severity   TEXT COLLATE "C" NOT NULL,
    confidence DOUBLE PRECISION NOT NULL,
    start_us   BIGINT NOT NULL,
    end_us     BIGINT,
    summary    TEXT NOT NULL,
    body       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS events_start ON events (start_us);
CREATE INDEX IF NOT EXISTS events_entity ON events (entity, start_us);

CREATE TABLE IF NOT EXISTS event_log (
    seq    BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id     TEXT COLLATE "C" NOT NULL,
    at_us  BIGINT NOT NULL,
    change TEXT COLLATE "C" NOT NULL,
    cause  TEXT COLLATE "C" NOT NULL,
    UNIQUE (id, at_us, change, cause)
);

CREATE TABLE IF NOT EXISTS series (
    id     BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    entity TEXT COLLATE "C" NOT NULL,
    signal TEXT COLLATE "C" NOT NULL,
    UNIQUE (entity, signal)
);

CREATE TABLE IF NOT EXISTS points (
    series BIGINT NOT NULL,
    at_us  BIGINT NOT NULL,
    value  DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (series, at_us)
);

CREATE TABLE IF NOT EXISTS signal_rollups (
    entity    TEXT COLLATE "C" NOT NULL,
    signal    TEXT COLLATE "C" NOT NULL,
    bucket_us BIGINT NOT NULL,
    width_s   BIGINT NOT NULL,
    min       DOUBLE PRECISION NOT NULL,
    max       DOUBLE PRECISION NOT NULL,
    mean      DOUBLE PRECISION NOT NULL,
    count     BIGINT NOT NULL,
    PRIMARY KEY (entity, signal, bucket_us)
);

CREATE TABLE IF NOT EXISTS feed_health (
    feed            TEXT COLLATE "C" NOT NULL,
    at_us           BIGINT NOT NULL,
    state           TEXT COLLATE "C" NOT NULL,
    last_message_us BIGINT,
    rate            DOUBLE PRECISION,
    detail          TEXT NOT NULL,
    PRIMARY KEY (feed, at_us)
);

CREATE TABLE IF NOT EXISTS event_owner (
    id      TEXT COLLATE "C" PRIMARY KEY,
    profile TEXT COLLATE "C" NOT NULL
);
CREATE INDEX IF NOT EXISTS event_owner_profile ON event_owner (profile);

CREATE TABLE IF NOT EXISTS probe_latest (
    vantage        TEXT COLLATE "C" NOT NULL,
    target         TEXT COLLATE "C" NOT NULL,
    check_name     TEXT COLLATE "C" NOT NULL,
    at_us          BIGINT NOT NULL,
    kind           TEXT COLLATE "C" NOT NULL,
    ok             BOOLEAN NOT NULL,
    outcome        TEXT NOT NULL,
    rtt_ms         DOUBLE PRECISION,
    loss           DOUBLE PRECISION,
    detail         TEXT NOT NULL,
    address        TEXT,
    resolved_at_us BIGINT,
    resolve_error  TEXT,
    PRIMARY KEY (vantage, target, check_name)
);
"#;

const OWNER: &str = "INSERT INTO event_owner (id, profile) VALUES ($1, $2)
    ON CONFLICT (id) DO UPDATE SET profile = excluded.profile";
const EVENT: &str =
    "INSERT INTO events (id, entity, cause, severity, confidence, start_us, end_us, summary, body)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
    ON CONFLICT (id) DO UPDATE SET entity = excluded.entity, cause = excluded.cause,
      severity = excluded.severity, confidence = excluded.confidence, start_us = excluded.start_us,
      end_us = excluded.end_us, summary = excluded.summary, body = excluded.body";
const LOG: &str = "INSERT INTO event_log (id, at_us, change, cause) VALUES ($1, $2, $3, $4)
    ON CONFLICT DO NOTHING";
/// A batch's points: each series named once ($1, $2), made if new, and each
/// point ($4, $5) by the place of its series among them ($3, from 1). The
/// series this statement makes are not yet in `series` as the statement sees
/// it, so their numbers come from what it returns.
const SIGNALS: &str = r#"
WITH names AS (
    SELECT * FROM unnest($1::text[], $2::text[]) WITH ORDINALITY AS t(entity, signal, n)
), made AS (
    INSERT INTO series (entity, signal) SELECT entity, signal FROM names
    ON CONFLICT DO NOTHING RETURNING id, entity, signal
), ids AS (
    SELECT names.n, coalesce(made.id, series.id) AS id
    FROM names LEFT JOIN made USING (entity, signal) LEFT JOIN series USING (entity, signal)
)
INSERT INTO points (series, at_us, value)
    SELECT ids.id, p.at_us, p.value
    FROM unnest($3::bigint[], $4::bigint[], $5::float8[]) AS p(n, at_us, value) JOIN ids USING (n)
ON CONFLICT (series, at_us) DO UPDATE SET value = excluded.value"#;
const FEED: &str = "INSERT INTO feed_health (feed, at_us, state, last_message_us, rate, detail)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (feed, at_us) DO UPDATE SET state = excluded.state,
      last_message_us = excluded.last_message_us, rate = excluded.rate, detail = excluded.detail";
/// A batch's latest probe results, one statement: one array a column, one
/// element a check.
const PROBES: &str = r#"
INSERT INTO probe_latest (vantage, target, check_name, at_us, kind, ok, outcome,
      rtt_ms, loss, detail, address, resolved_at_us, resolve_error)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[], $5::text[],
      $6::bool[], $7::text[], $8::float8[], $9::float8[], $10::text[], $11::text[],
      $12::bigint[], $13::text[])
    ON CONFLICT (vantage, target, check_name) DO UPDATE SET at_us = excluded.at_us,
      kind = excluded.kind, ok = excluded.ok, outcome = excluded.outcome, rtt_ms = excluded.rtt_ms,
      loss = excluded.loss, detail = excluded.detail, address = excluded.address,
      resolved_at_us = excluded.resolved_at_us, resolve_error = excluded.resolve_error
    WHERE excluded.at_us >= probe_latest.at_us"#;

/// PostgreSQL's own words for a failure, not only "db error".
pub(crate) fn reason(error: &tokio_postgres::Error) -> String {
    match error.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => match std::error::Error::source(error) {
            Some(source) => format!("{error}: {source}"),
            None => error.to_string(),
        },
    }
}

/// One connection, on the thread that owns it.
struct Session {
    runtime: tokio::runtime::Runtime,
    client: Client,
    schema: String,
    /// The write statements, prepared once per connection (a writer only).
    writes: Option<Writes>,
    /// How to connect again.
    config: tokio_postgres::Config,
    read_only: bool,
    /// Does this session hold the one-writer lock (to take again on reconnecting)?
    writer: bool,
}

struct Writes {
    owner: Statement,
    event: Statement,
    log: Statement,
    signals: Statement,
    feed: Statement,
    probes: Statement,
}

type Job = Box<dyn FnOnce(&mut Session) + Send>;

/// A PostgreSQL database.
pub(crate) struct PgStore {
    jobs: Option<mpsc::Sender<Job>>,
    worker: Option<std::thread::JoinHandle<()>>,
    shown: String,
}

impl PgStore {
    /// Connects; a writer (not `read_only`) creates or upgrades the schema.
    pub(crate) fn connect(target: &PgTarget, read_only: bool) -> Result<PgStore, StoreError> {
        let shown = redact(&target.url);
        let fail = |reason: String| StoreError::Connect {
            db: shown.clone(),
            reason,
        };
        let mut config: tokio_postgres::Config = target
            .url
            .parse()
            .map_err(|e: tokio_postgres::Error| fail(reason(&e)))?;
        config.application_name(format!("blackout/{}", std::process::id()));
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(std::time::Duration::from_secs(10));
        }
        let schema = target.schema.clone();
        let (jobs, queue) = mpsc::channel::<Job>();
        let (ready, started) = mpsc::sync_channel(1);
        let worker = std::thread::Builder::new()
            .name("blackout-postgres".into())
            .spawn(move || {
                let session = Session::open(config, schema, read_only);
                let mut session = match session {
                    Ok(session) => {
                        let _ = ready.send(Ok(()));
                        session
                    }
                    Err(error) => {
                        let _ = ready.send(Err(error));
                        return;
                    }
                };
                for job in queue {
                    job(&mut session);
                }
            })
            .map_err(|e| fail(format!("cannot start its thread: {e}")))?;
        match started.recv() {
            Ok(Ok(())) => {}
            Ok(Err(reason)) => {
                let _ = worker.join();
                return Err(fail(reason));
            }
            Err(_) => return Err(fail("its thread stopped".into())),
        }
        Ok(PgStore {
            jobs: Some(jobs),
            worker: Some(worker),
            shown,
        })
    }

    /// Runs `work` on the connection's thread and waits for its answer.
    fn call<T: Send + 'static>(
        &self,
        work: impl Fn(&mut Session) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let gone = || StoreError::Connect {
            db: self.shown.clone(),
            reason: "the connection's thread stopped".into(),
        };
        let (answer, answered) = mpsc::sync_channel(1);
        let shown = self.shown.clone();
        self.jobs
            .as_ref()
            .ok_or_else(gone)?
            .send(Box::new(move |session| {
                let lost = |reason: String| StoreError::Connect {
                    db: shown.clone(),
                    reason: format!(
                        "the server went away and could not be reached again: {reason}"
                    ),
                };
                if session.client.is_closed()
                    && let Err(reason) = session.reconnect()
                {
                    let _ = answer.send(Err(lost(reason)));
                    return;
                }
                let mut result = work(session);
                // Failed because the connection closed under it, or the server said
                // it is shutting the session down before the socket closed: once
                // more, on a new one (a transaction cut off was not committed).
                if result.as_ref().is_err_and(server_went_away)
                    || (result.is_err() && session.client.is_closed())
                {
                    result = match session.reconnect() {
                        Ok(()) => work(session),
                        Err(reason) => Err(lost(reason)),
                    };
                }
                let _ = answer.send(result);
            }))
            .map_err(|_| gone())?;
        answered.recv().map_err(|_| gone())?
    }

    fn query(
        &self,
        op: &'static str,
        sql: &'static str,
        params: Vec<Param>,
    ) -> Result<Vec<Row>, StoreError> {
        self.call(move |session| {
            let Session {
                runtime, client, ..
            } = session;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
            runtime.block_on(client.query(sql, &refs)).during(op)
        })
    }
}

type Param = Box<dyn ToSql + Sync + Send>;

impl Drop for PgStore {
    fn drop(&mut self) {
        // The thread ends when its queue closes, and the connection with it.
        self.jobs.take();
        if let Some(worker) = self.worker.take() {
            let _ = worker.join();
        }
    }
}

impl Session {
    fn open(
        config: tokio_postgres::Config,
        schema: String,
        read_only: bool,
    ) -> Result<Session, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start a runtime: {e}"))?;
        let client = runtime.block_on(open_client(&config))?;
        let mut session = Session {
            runtime,
            client,
            schema,
            writes: None,
            config,
            read_only,
            writer: false,
        };
        session.set_up(read_only)?;
        Ok(session)
    }

    /// Connects again after the server went away, trying for [`RECONNECT_FOR`]
    /// (every 100 ms at first, at most every 2 s): set up as before, with the
    /// writer's lock taken again if this session held it.
    fn reconnect(&mut self) -> Result<(), String> {
        let deadline = std::time::Instant::now() + RECONNECT_FOR;
        let mut pause = std::time::Duration::from_millis(100);
        loop {
            let attempt = self.runtime.block_on(open_client(&self.config));
            let attempt = attempt.and_then(|client| {
                self.client = client;
                self.set_up(self.read_only)?;
                if self.writer && !self.take_writer_lock().map_err(|e| e.to_string())? {
                    return Err("another writer took the database while the server was away".into());
                }
                Ok(())
            });
            match attempt {
                Ok(()) => return Ok(()),
                Err(reason) if std::time::Instant::now() + pause >= deadline => return Err(reason),
                Err(_) => {
                    std::thread::sleep(pause);
                    pause = (pause * 2).min(std::time::Duration::from_secs(2));
                }
            }
        }
    }

    /// Tries to take the one-writer lock: taken, or held by another session.
    fn take_writer_lock(&mut self) -> Result<bool, StoreError> {
        let key = format!("blackout.writer.{}", self.schema);
        let taken: bool = self
            .runtime
            .block_on(self.client.query_one(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                &[&key],
            ))
            .during("take the writer lock")?
            .get(0);
        self.writer |= taken;
        Ok(taken)
    }

    fn set_up(&mut self, read_only: bool) -> Result<(), String> {
        let Session {
            runtime,
            client,
            schema,
            ..
        } = self;
        // The schema is a checked plain name (Db::parse), so quoting it is enough.
        let path = format!("SET search_path TO \"{schema}\"");
        runtime.block_on(async {
            client.batch_execute(&path).await.map_err(|e| reason(&e))?;
            if read_only {
                client
                    .batch_execute("SET default_transaction_read_only = on")
                    .await
                    .map_err(|e| reason(&e))?;
                let found = client
                    .query_one("SELECT to_regclass('meta') IS NOT NULL", &[])
                    .await
                    .map_err(|e| reason(&e))?;
                if !found.get::<_, bool>(0) {
                    return Err(format!(
                        "no blackout tables in the schema `{schema}` yet: `blackout watch --db` with this URL creates them"
                    ));
                }
                return check_version(client).await.map(|_| None);
            }
            let tx = client.transaction().await.map_err(|e| reason(&e))?;
            tx.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended('blackout.schema.' || $1, 0))",
                &[&*schema],
            )
            .await
            .map_err(|e| reason(&e))?;
            tx.batch_execute(&format!(
                "CREATE SCHEMA IF NOT EXISTS \"{schema}\";
                 CREATE TABLE IF NOT EXISTS meta (name TEXT COLLATE \"C\" PRIMARY KEY, value BIGINT NOT NULL);"
            ))
            .await
            .map_err(|e| reason(&e))?;
            let found = check_version(&tx).await?;
            tx.batch_execute(SCHEMA).await.map_err(|e| reason(&e))?;
            if found.is_some_and(|v| v < 2) {
                tx.batch_execute(MOVE_V1_SIGNALS)
                    .await
                    .map_err(|e| reason(&e))?;
            }
            tx.execute(
                "INSERT INTO meta (name, value) VALUES ('schema_version', $1)
                 ON CONFLICT (name) DO UPDATE SET value = excluded.value",
                &[&VERSION],
            )
            .await
            .map_err(|e| reason(&e))?;
            tx.commit().await.map_err(|e| reason(&e))?;
            let prepare = |sql| client.prepare(sql);
            let writes = Writes {
                owner: prepare(OWNER).await.map_err(|e| reason(&e))?,
                event: prepare(EVENT).await.map_err(|e| reason(&e))?,
                log: prepare(LOG).await.map_err(|e| reason(&e))?,
                signals: prepare(SIGNALS).await.map_err(|e| reason(&e))?,
                feed: prepare(FEED).await.map_err(|e| reason(&e))?,
                probes: prepare(PROBES).await.map_err(|e| reason(&e))?,
            };
            Ok(Some(writes))
        })
        .map(|writes| self.writes = writes)
    }
}

/// A new connection, driven by the session's runtime whenever its thread waits
/// on the client (`block_on`).
async fn open_client(config: &tokio_postgres::Config) -> Result<Client, String> {
    let (client, connection) = config.connect(NoTls).await.map_err(|e| reason(&e))?;
    tokio::spawn(connection);
    Ok(client)
}

/// The schema's version (none in a new one); refuses one written by a newer
/// blackout.
async fn check_version(client: &impl tokio_postgres::GenericClient) -> Result<Option<i64>, String> {
    let found: Option<i64> = client
        .query_opt("SELECT value FROM meta WHERE name = 'schema_version'", &[])
        .await
        .map_err(|e| reason(&e))?
        .map(|row| row.get(0));
    match found {
        Some(found) if found > VERSION => Err(format!(
            "schema version {found}; this blackout knows up to {VERSION}: use a newer blackout or another --db"
        )),
        _ => Ok(found),
    }
}

/// A batch's points as the arrays of [`SIGNALS`]: each series once, and each
/// point with the place of its series among them (from 1).
#[derive(Default)]
struct BatchPoints {
    entities: Vec<String>,
    measures: Vec<String>,
    places: Vec<i64>,
    ats: Vec<i64>,
    values: Vec<f64>,
}

/// A batch, owned, to be sent to the connection's thread. `Store::write`, the
/// only way here, hands each check and each series' point at one time once, as
/// one statement needs (it cannot update a row twice).
struct OwnedBatch {
    owner: Option<String>,
    events: Vec<EventRow>,
    signals: BatchPoints,
    feeds: Vec<FeedHealthRow>,
    probes: BatchProbes,
}

/// A batch's probe results as the arrays of [`PROBES`].
#[derive(Default)]
struct BatchProbes {
    vantages: Vec<String>,
    targets: Vec<String>,
    checks: Vec<String>,
    ats: Vec<i64>,
    kinds: Vec<String>,
    oks: Vec<bool>,
    outcomes: Vec<String>,
    rtts_ms: Vec<Option<f64>>,
    losses: Vec<Option<f64>>,
    details: Vec<String>,
    addresses: Vec<Option<String>>,
    resolved_ats: Vec<Option<i64>>,
    resolve_errors: Vec<Option<String>>,
}

impl BatchProbes {
    fn new(rows: &[ProbeRow]) -> BatchProbes {
        let mut out = BatchProbes::default();
        for row in rows {
            out.vantages.push(row.vantage.clone());
            out.targets.push(row.target.clone());
            out.checks.push(row.check.clone());
            out.ats.push(row.at.as_micros());
            out.kinds.push(row.kind.clone());
            out.oks.push(row.ok);
            out.outcomes.push(row.outcome.clone());
            out.rtts_ms.push(row.rtt_ms);
            out.losses.push(row.loss);
            out.details.push(row.detail.clone());
            out.addresses.push(row.address.clone());
            out.resolved_ats
                .push(row.resolved_at.map(Timestamp::as_micros));
            out.resolve_errors.push(row.resolve_error.clone());
        }
        out
    }
}

impl OwnedBatch {
    fn new(batch: &Batch<'_>) -> Result<OwnedBatch, StoreError> {
        let events = batch
            .events
            .iter()
            .map(|(change, event)| EventRow::new(*change, event))
            .collect::<Result<_, _>>()?;
        let mut places: HashMap<&SeriesKey, i64> = HashMap::default();
        let mut signals = BatchPoints::default();
        for point in batch.signals {
            let place = *places.entry(&point.key).or_insert_with(|| {
                signals.entities.push(point.key.entity.to_string());
                signals.measures.push(point.key.measure.to_string());
                signals.entities.len() as i64
            });
            signals.places.push(place);
            signals.ats.push(point.at.as_micros());
            signals.values.push(point.value);
        }
        Ok(OwnedBatch {
            owner: batch.owner.map(String::from),
            events,
            signals,
            feeds: batch.feeds.to_vec(),
            probes: BatchProbes::new(batch.probes),
        })
    }
}

impl Backend for PgStore {
    fn write(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        let batch = OwnedBatch::new(batch)?;
        self.call(move |session| {
            let Session {
                runtime,
                client,
                writes,
                ..
            } = session;
            let Some(st) = writes.as_ref() else {
                return Err(StoreError::Sql {
                    op: "write",
                    reason: "the database was opened for reading only".into(),
                });
            };
            runtime.block_on(async {
                let tx = client.transaction().await.during("begin")?;
                let mut rows: Vec<(&Statement, Vec<&(dyn ToSql + Sync)>)> = Vec::new();
                if let Some(owner) = &batch.owner {
                    for e in &batch.events {
                        rows.push((&st.owner, vec![&e.id, owner]));
                    }
                }
                for e in &batch.events {
                    rows.push((
                        &st.event,
                        vec![
                            &e.id,
                            &e.entity,
                            &e.cause,
                            &e.severity,
                            &e.confidence,
                            &e.start_us,
                            &e.end_us,
                            &e.summary,
                            &e.body,
                        ],
                    ));
                    rows.push((&st.log, vec![&e.id, &e.change_at_us, &e.change, &e.cause]));
                }
                if !batch.signals.places.is_empty() {
                    let s = &batch.signals;
                    rows.push((
                        &st.signals,
                        vec![&s.entities, &s.measures, &s.places, &s.ats, &s.values],
                    ));
                }
                let feeds: Vec<(i64, Option<i64>)> = batch
                    .feeds
                    .iter()
                    .map(|f| (f.at.as_micros(), f.last_message.map(Timestamp::as_micros)))
                    .collect();
                for (f, (at, last)) in batch.feeds.iter().zip(&feeds) {
                    rows.push((
                        &st.feed,
                        vec![&f.feed, at, &f.state, last, &f.rate, &f.detail],
                    ));
                }
                let p = &batch.probes;
                if !p.vantages.is_empty() {
                    rows.push((
                        &st.probes,
                        vec![
                            &p.vantages,
                            &p.targets,
                            &p.checks,
                            &p.ats,
                            &p.kinds,
                            &p.oks,
                            &p.outcomes,
                            &p.rtts_ms,
                            &p.losses,
                            &p.details,
                            &p.addresses,
                            &p.resolved_ats,
                            &p.resolve_errors,
                        ],
                    ));
                }
                // Sent in order without waiting for each answer; run in order.
                try_join_all(rows.iter().map(|(st, params)| tx.execute(*st, params)))
                    .await
                    .during("write")?;
                tx.commit().await.during("commit")
            })
        })
    }

    fn downsample(&mut self, before: Timestamp, width_secs: i64) -> Result<usize, StoreError> {
        let width_us = width_secs.max(1) * 1_000_000;
        let before = before.as_micros();
        self.call(move |session| {
            let Session {
                runtime, client, ..
            } = session;
            runtime.block_on(async {
                let tx = client.transaction().await.during("begin")?;
                tx.execute(
                    "INSERT INTO signal_rollups (entity, signal, bucket_us, width_s, min, max, mean, count)
                     SELECT entity, signal, (at_us / $2) * $2, $3, min(value), max(value), avg(value), count(*)
                     FROM points JOIN series ON series.id = points.series
                     WHERE at_us < $1 GROUP BY entity, signal, (at_us / $2)
                     ON CONFLICT (entity, signal, bucket_us) DO UPDATE SET
                       min = least(signal_rollups.min, excluded.min),
                       max = greatest(signal_rollups.max, excluded.max),
                       mean = (signal_rollups.mean * signal_rollups.count + excluded.mean * excluded.count)
                              / (signal_rollups.count + excluded.count),
                       count = signal_rollups.count + excluded.count",
                    &[&before, &width_us, &width_secs],
                )
                .await
                .during("fold signals")?;
                let folded = tx
                    .execute("DELETE FROM points WHERE at_us < $1", &[&before])
                    .await
                    .during("delete folded signals")?;
                tx.commit().await.during("commit downsample")?;
                Ok(folded as usize)
            })
        })
    }

    fn lock_writer(&mut self) -> Result<(), StoreError> {
        let shown = self.shown.clone();
        self.call(move |session| {
            if session.take_writer_lock()? {
                return Ok(());
            }
            let Session {
                runtime,
                client,
                schema,
                ..
            } = session;
            let key = format!("blackout.writer.{schema}");
            runtime.block_on(async {
                let holder: Option<String> = client
                    .query_opt(
                        "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
                         WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 1
                           AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
                           AND ((l.classid::bigint << 32) | l.objid::bigint) = hashtextextended($1, 0)
                         LIMIT 1",
                        &[&key],
                    )
                    .await
                    .during("find the writer")?
                    .map(|row| row.get(0));
                Err(StoreError::Locked {
                    db: if *schema == crate::DEFAULT_SCHEMA {
                        shown.clone()
                    } else {
                        format!("{shown} (schema {schema})")
                    },
                    holder: holder
                        .as_deref()
                        .and_then(|name| name.strip_prefix("blackout/"))
                        .and_then(|pid| pid.parse().ok()),
                })
            })
        })
    }

    fn events(&self, query: &EventQuery) -> Result<Vec<Event>, StoreError> {
        let query = query.clone();
        self.call(move |session| {
            let mut sql = String::from("SELECT body FROM events WHERE true");
            let mut params: Vec<Param> = Vec::new();
            let mut next = |sql: &mut String, text: &str, value: Param| {
                params.push(value);
                sql.push_str(&text.replace('?', &format!("${}", params.len())));
            };
            if let Some(since) = query.since {
                next(
                    &mut sql,
                    " AND (end_us IS NULL OR end_us >= ?)",
                    Box::new(since.as_micros()),
                );
            }
            if let Some(until) = query.until {
                next(&mut sql, " AND start_us < ?", Box::new(until.as_micros()));
            }
            if let Some(cause) = query.cause {
                next(
                    &mut sql,
                    " AND cause = ?",
                    Box::new(cause.as_str().to_string()),
                );
            }
            if let Some(entity) = &query.entity {
                next(&mut sql, " AND entity = ?", Box::new(entity.clone()));
            }
            sql.push_str(" ORDER BY start_us DESC, id DESC");
            if let Some(limit) = query.limit {
                sql.push_str(&format!(" LIMIT {limit}"));
            }
            let Session {
                runtime, client, ..
            } = session;
            let refs: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p.as_ref() as _).collect();
            let rows = runtime
                .block_on(client.query(&sql, &refs))
                .during("query events")?;
            rows.iter().map(|row| parse_event(row.get(0))).collect()
        })
    }

    fn event(&self, id: &str) -> Result<Option<Event>, StoreError> {
        let rows = self.query(
            "query event",
            "SELECT body FROM events WHERE id = $1",
            vec![Box::new(id.to_string())],
        )?;
        rows.first().map(|row| parse_event(row.get(0))).transpose()
    }

    fn open_events_of(&self, profile: &str) -> Result<Vec<Event>, StoreError> {
        let rows = self.query(
            "query open events",
            "SELECT e.body FROM events e JOIN event_owner o ON o.id = e.id
             WHERE o.profile = $1 AND e.end_us IS NULL ORDER BY e.start_us, e.id",
            vec![Box::new(profile.to_string())],
        )?;
        rows.iter().map(|row| parse_event(row.get(0))).collect()
    }

    fn event_count(&self) -> Result<u64, StoreError> {
        let rows = self.query("count events", "SELECT count(*) FROM events", Vec::new())?;
        Ok(rows.first().map_or(0, |row| row.get::<_, i64>(0)).max(0) as u64)
    }

    fn event_log(&self, id: &str) -> Result<Vec<LogEntry>, StoreError> {
        let rows = self.query(
            "query event log",
            "SELECT at_us, change, cause FROM event_log WHERE id = $1 ORDER BY seq",
            vec![Box::new(id.to_string())],
        )?;
        Ok(rows
            .iter()
            .map(|row| (Timestamp::from_micros(row.get(0)), row.get(1), row.get(2)))
            .collect())
    }

    fn signals(
        &self,
        key: &SeriesKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<SeriesPoint>, StoreError> {
        let rows = self.query(
            "query signals",
            "SELECT at_us, value FROM points JOIN series ON series.id = points.series
             WHERE entity = $1 AND signal = $2 AND at_us >= $3 AND at_us < $4 ORDER BY at_us",
            series_params(key, from, until),
        )?;
        Ok(rows
            .iter()
            .map(|row| SeriesPoint {
                key: key.clone(),
                at: Timestamp::from_micros(row.get(0)),
                value: row.get(1),
            })
            .collect())
    }

    fn rollups(
        &self,
        key: &SeriesKey,
        from: Timestamp,
        until: Timestamp,
    ) -> Result<Vec<SignalRollup>, StoreError> {
        let rows = self.query(
            "query rollups",
            "SELECT bucket_us, width_s, min, max, mean, count FROM signal_rollups
             WHERE entity = $1 AND signal = $2 AND bucket_us >= $3 AND bucket_us < $4 ORDER BY bucket_us",
            series_params(key, from, until),
        )?;
        Ok(rows
            .iter()
            .map(|row| SignalRollup {
                key: key.clone(),
                bucket: Timestamp::from_micros(row.get(0)),
                width_secs: row.get(1),
                min: row.get(2),
                max: row.get(3),
                mean: row.get(4),
                count: row.get(5),
            })
            .collect())
    }

    fn series(&self) -> Result<Vec<SeriesKey>, StoreError> {
        let rows = self.query(
            "query series",
            "SELECT entity, signal FROM series UNION SELECT DISTINCT entity, signal FROM signal_rollups ORDER BY 1, 2",
            Vec::new(),
        )?;
        Ok(rows
            .iter()
            .filter_map(|row| {
                let (entity, signal): (&str, &str) = (row.get(0), row.get(1));
                Some(SeriesKey::new(entity.parse().ok()?, signal.parse().ok()?))
            })
            .collect())
    }

    fn latest_seen_us(&self) -> Result<Option<i64>, StoreError> {
        let rows = self.query("find the latest record", LATEST_SEEN, Vec::new())?;
        Ok(rows.first().and_then(|row| row.get(0)))
    }

    fn feed_health(&self) -> Result<Vec<FeedHealthRow>, StoreError> {
        let rows = self.query(
            "query feed health",
            "SELECT DISTINCT ON (feed) feed, at_us, state, last_message_us, rate, detail
             FROM feed_health ORDER BY feed, at_us DESC",
            Vec::new(),
        )?;
        Ok(rows
            .iter()
            .map(|row| FeedHealthRow {
                feed: row.get(0),
                at: Timestamp::from_micros(row.get(1)),
                state: row.get(2),
                last_message: row.get::<_, Option<i64>>(3).map(Timestamp::from_micros),
                rate: row.get(4),
                detail: row.get(5),
            })
            .collect())
    }

    fn probe_results(&self) -> Result<Vec<ProbeRow>, StoreError> {
        let rows = self.query(
            "query probe results",
            "SELECT vantage, target, check_name, at_us, kind, ok, outcome, rtt_ms, loss, detail,
               address, resolved_at_us, resolve_error
             FROM probe_latest ORDER BY vantage, target, check_name",
            Vec::new(),
        )?;
        Ok(rows
            .iter()
            .map(|row| ProbeRow {
                vantage: row.get(0),
                target: row.get(1),
                check: row.get(2),
                at: Timestamp::from_micros(row.get(3)),
                kind: row.get(4),
                ok: row.get(5),
                outcome: row.get(6),
                rtt_ms: row.get(7),
                loss: row.get(8),
                detail: row.get(9),
                address: row.get(10),
                resolved_at: row.get::<_, Option<i64>>(11).map(Timestamp::from_micros),
                resolve_error: row.get(12),
            })
            .collect())
    }
}

fn series_params(key: &SeriesKey, from: Timestamp, until: Timestamp) -> Vec<Param> {
    vec![
        Box::new(key.entity.to_string()),
        Box::new(key.measure.to_string()),
        Box::new(from.as_micros()),
        Box::new(until.as_micros()),
    ]
}

fn parse_event(body: &str) -> Result<Event, StoreError> {
    serde_json::from_str(body).map_err(|e| StoreError::Corrupt {
        what: "event",
        message: e.to_string(),
    })
}

/// Did the server end the session (SQLSTATE 57P01 admin shutdown, 57P02 crash
/// shutdown, 57P03 cannot connect now, or class 08, connection exception)? Such
/// an error can come before the client sees its socket closed.
fn server_went_away(error: &StoreError) -> bool {
    let StoreError::Sql { reason, .. } = error else {
        return false;
    };
    ["(57P01)", "(57P02)", "(57P03)", "(08"]
        .iter()
        .any(|code| reason.contains(code))
}
