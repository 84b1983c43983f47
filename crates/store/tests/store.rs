//! The store on a real SQLite file and on a real PostgreSQL (a scratch cluster
//! started by `initdb` and `pg_ctl`): one suite, run against both backends.
//! Round trips, no twins, queries, downsampling, many openers at once, and a
//! writer killed with SIGKILL in the middle of its work; then the one-writer lock,
//! and SQLite's own schema upgrades.

use blackout_model::{
    Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use blackout_model::{Measure, SeriesKey, SeriesPoint, UpdateKind};
use blackout_store::scratch::ScratchCluster;
use blackout_store::{Db, EventQuery, FeedHealthRow, ProbeRow, Store, StoreError};
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn event(n: i64, cause: Cause, end: Option<i64>) -> Event {
    let entity = Entity::Prefix(format!("203.0.113.{}/32", n % 256).parse().unwrap());
    let start = Timestamp::from_secs(1_700_000_000 + n * 60);
    Event {
        id: EventId::derive(&entity, start, cause),
        entity,
        cause,
        severity: Severity::Critical,
        confidence: 0.9,
        start,
        end: end.map(|e| start.add_secs(e)),
        scope: Scope::default(),
        summary: format!("event {n} with <b>markup</b> and 'quotes'"),
        evidence: vec![Evidence {
            at: start,
            signal: SignalKind::BgpVisibility,
            text: "gone".into(),
            value: Some(0.0),
        }],
    }
}

fn events_round_trip_and_are_never_duplicated(t: &TestDb) {
    let mut store = t.open();
    let mut open = event(1, Cause::Internal, None);
    store
        .record_events(&[(UpdateKind::Started, &open)])
        .unwrap();
    // The same start again (a restart replaying the same evidence), then its end.
    store
        .record_events(&[(UpdateKind::Started, &open)])
        .unwrap();
    open.end = Some(open.start.add_secs(3600));
    store.record_events(&[(UpdateKind::Ended, &open)]).unwrap();
    assert_eq!(store.event_count().unwrap(), 1);
    assert_eq!(store.event(&open.id.0).unwrap(), Some(open.clone()));
    let log = store.event_log(&open.id.0).unwrap();
    assert_eq!(
        log.iter()
            .map(|(_, change, _)| change.as_str())
            .collect::<Vec<_>>(),
        ["started", "ended"]
    );
    drop(store);
    // Reopening finds it all.
    let store = t.read();
    assert_eq!(store.events(&EventQuery::default()).unwrap(), vec![open]);
}

fn queries_filter_and_order_newest_first(t: &TestDb) {
    let mut store = t.open();
    let events: Vec<Event> = (0..10)
        .map(|n| {
            event(
                n,
                if n % 2 == 0 {
                    Cause::Internal
                } else {
                    Cause::Flap
                },
                Some(30),
            )
        })
        .collect();
    let changes: Vec<(UpdateKind, &Event)> =
        events.iter().map(|e| (UpdateKind::Ended, e)).collect();
    store.record_events(&changes).unwrap();
    let all = store.events(&EventQuery::default()).unwrap();
    assert_eq!(all.len(), 10);
    assert!(all.windows(2).all(|w| w[0].start >= w[1].start));
    let flaps = store
        .events(&EventQuery {
            cause: Some(Cause::Flap),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(flaps.len(), 5);
    let since = Timestamp::from_secs(1_700_000_000 + 5 * 60);
    let until = Timestamp::from_secs(1_700_000_000 + 8 * 60);
    let window = store
        .events(&EventQuery {
            since: Some(since),
            until: Some(until),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(
        window.iter().map(|e| e.start.as_secs()).collect::<Vec<_>>(),
        [1_700_000_420, 1_700_000_360, 1_700_000_300]
    );
    let one = store
        .events(&EventQuery {
            entity: Some(events[3].entity.to_string()),
            ..EventQuery::default()
        })
        .unwrap();
    assert_eq!(one, vec![events[3].clone()]);
    assert_eq!(
        store
            .events(&EventQuery {
                limit: Some(2),
                ..EventQuery::default()
            })
            .unwrap()
            .len(),
        2
    );
}

/// A batch of many series, each point written once and some twice in the same
/// batch (the later value kept), in more points than one statement writes.
fn a_large_batch_of_signals_is_written_whole_the_later_twin_kept(t: &TestDb) {
    let mut store = t.open();
    let key = |n: i64| {
        SeriesKey::new(
            format!("host:h{}.example", n % 7).parse().unwrap(),
            "probe.icmp.rtt_ms".parse().unwrap(),
        )
    };
    let mut points: Vec<SeriesPoint> = (0..1001)
        .map(|i| SeriesPoint {
            key: key(i),
            at: Timestamp::from_secs(1_700_000_000 + i),
            value: i as f64,
        })
        .collect();
    // The same points again at the end, with new values: these are kept.
    points.extend((0..50).map(|i| SeriesPoint {
        key: key(i),
        at: Timestamp::from_secs(1_700_000_000 + i),
        value: -1.0,
    }));
    store.record_signals(&points).unwrap();
    let mut got = Vec::new();
    for n in 0..7 {
        got.extend(
            store
                .signals(
                    &key(n),
                    Timestamp::EPOCH,
                    Timestamp::from_secs(1_800_000_000),
                )
                .unwrap(),
        );
    }
    assert_eq!(got.len(), 1001);
    for point in &got {
        let i = point.at.as_secs() - 1_700_000_000;
        let want = if i < 50 { -1.0 } else { i as f64 };
        assert_eq!(point.value, want, "{point:?}");
    }
}

fn signals_downsample_into_rollups(t: &TestDb) {
    let mut store = t.open();
    let points: Vec<SeriesPoint> = (0..120)
        .map(|i| {
            SeriesPoint::new(
                "prefix:203.0.113.0/26".parse::<Entity>().unwrap(),
                "bgp.visibility".parse::<Measure>().unwrap(),
                Timestamp::from_secs(i * 30),
                (i % 4) as f64,
            )
        })
        .collect();
    store.record_signals(&points).unwrap();
    store.record_signals(&points[..10]).unwrap();
    let all = store
        .signals(
            &SeriesKey::new(
                "prefix:203.0.113.0/26".parse().unwrap(),
                "bgp.visibility".parse().unwrap(),
            ),
            Timestamp::EPOCH,
            Timestamp::from_secs(10_000),
        )
        .unwrap();
    assert_eq!(all.len(), 120);
    // Fold the first half hour into 10-minute buckets.
    let folded = store.downsample(Timestamp::from_secs(1800), 600).unwrap();
    assert_eq!(folded, 60);
    let rollups = store
        .rollups(
            &SeriesKey::new(
                "prefix:203.0.113.0/26".parse().unwrap(),
                "bgp.visibility".parse().unwrap(),
            ),
            Timestamp::EPOCH,
            Timestamp::from_secs(10_000),
        )
        .unwrap();
    assert_eq!(rollups.len(), 3);
    assert!(
        rollups
            .iter()
            .all(|r| r.count == 20 && r.min == 0.0 && r.max == 3.0 && (r.mean - 1.5).abs() < 1e-9)
    );
    let left = store
        .signals(
            &SeriesKey::new(
                "prefix:203.0.113.0/26".parse().unwrap(),
                "bgp.visibility".parse().unwrap(),
            ),
            Timestamp::EPOCH,
            Timestamp::from_secs(10_000),
        )
        .unwrap();
    assert_eq!(left.len(), 60);
    assert_eq!(
        store.series().unwrap(),
        vec![SeriesKey::new(
            Entity::Prefix("203.0.113.0/26".parse().unwrap()),
            Measure::Visibility
        )]
    );
}

fn feed_health_keeps_the_latest_per_feed(t: &TestDb) {
    let mut store = t.open();
    let row = |feed: &str, at: i64, state: &str| FeedHealthRow {
        feed: feed.into(),
        at: Timestamp::from_secs(at),
        state: state.into(),
        last_message: Some(Timestamp::from_secs(at - 1)),
        rate: Some(12.5),
        detail: String::new(),
    };
    store
        .record_feed_health(&[
            row("bmp:198.51.100.1", 10, "up"),
            row("bmp:198.51.100.1", 20, "stale"),
            row("ris-live", 15, "up"),
        ])
        .unwrap();
    let latest = store.feed_health().unwrap();
    assert_eq!(
        latest
            .iter()
            .map(|r| (r.feed.as_str(), r.state.as_str()))
            .collect::<Vec<_>>(),
        [("bmp:198.51.100.1", "stale"), ("ris-live", "up")]
    );
}

fn a_watch_finds_its_own_open_events_again(t: &TestDb) {
    let mut store = t.open();
    let mine = event(1, Cause::Internal, None);
    let mut ended = event(2, Cause::Partial, None);
    let theirs = event(3, Cause::Internal, None);
    let replayed = event(4, Cause::Flap, None);
    store
        .record_events_of(
            "kp",
            &[(UpdateKind::Started, &mine), (UpdateKind::Started, &ended)],
        )
        .unwrap();
    ended.end = Some(ended.start.add_secs(60));
    store
        .record_events_of("kp", &[(UpdateKind::Ended, &ended)])
        .unwrap();
    store
        .record_events_of("lab", &[(UpdateKind::Started, &theirs)])
        .unwrap();
    // An open event from `blackout replay --db` belongs to no watch.
    store
        .record_events(&[(UpdateKind::Started, &replayed)])
        .unwrap();
    drop(store);
    let store = t.open();
    assert_eq!(store.open_events_of("kp").unwrap(), vec![mine]);
    assert_eq!(store.open_events_of("lab").unwrap(), vec![theirs]);
    assert!(store.open_events_of("other").unwrap().is_empty());
    assert_eq!(store.event_count().unwrap(), 4);
}

fn the_latest_probe_result_of_each_check_is_kept(t: &TestDb) {
    let mut store = t.open();
    let row = |target: &str, at: i64, ok: bool| ProbeRow {
        vantage: "local".into(),
        target: target.into(),
        check: "icmp".into(),
        at: Timestamp::from_secs(at),
        kind: "icmp".into(),
        ok,
        outcome: if ok { "ok" } else { "timeout" }.into(),
        rtt_ms: ok.then_some(12.5),
        loss: Some(if ok { 0.0 } else { 1.0 }),
        detail: String::new(),
        address: Some("175.45.176.71".into()),
        // The failed probe went to the address the name last resolved to.
        resolved_at: (!ok).then(|| Timestamp::from_secs(5)),
        resolve_error: (!ok).then(|| "kcna.kp: SERVFAIL".into()),
    };
    store
        .record_probe_results(&[row("kcna.kp", 10, true), row("kcna.kp", 20, false)])
        .unwrap();
    // An older result arriving late does not replace a newer one.
    store
        .record_probe_results(&[row("kcna.kp", 15, true), row("naenara.com.kp", 12, true)])
        .unwrap();
    drop(store);
    let store = t.read();
    assert_eq!(
        store.probe_results().unwrap(),
        vec![row("kcna.kp", 20, false), row("naenara.com.kp", 12, true)]
    );
}

/// A SQLite file as an older blackout left it: `sql` run on a new file.
fn file_left_by_an_older_version(sql: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(sql)
        .unwrap();
    (dir, path)
}

/// A series' points in its first 1,000 s, as (seconds, value).
fn first_points(store: &Store, key: &SeriesKey) -> Vec<(i64, f64)> {
    store
        .signals(key, Timestamp::EPOCH, Timestamp::from_secs(1_000))
        .unwrap()
        .iter()
        .map(|p| (p.at.as_secs(), p.value))
        .collect()
}

#[test]
fn a_version_1_file_is_upgraded_and_keeps_its_rows() {
    // What blackout's version-1 schema left: probe_latest without the address
    // columns.
    let (_dir, path) = file_left_by_an_older_version(
        "CREATE TABLE probe_latest (
                vantage TEXT NOT NULL, target TEXT NOT NULL, check_name TEXT NOT NULL,
                at_us INTEGER NOT NULL, kind TEXT NOT NULL, ok INTEGER NOT NULL,
                outcome TEXT NOT NULL, rtt_ms REAL, loss REAL, detail TEXT NOT NULL,
                PRIMARY KEY (vantage, target, check_name)
            ) STRICT, WITHOUT ROWID;
            INSERT INTO probe_latest VALUES
                ('local', 'kcna.kp', 'icmp', 10000000, 'icmp', 1, 'ok', 12.5, 0.0, '');
            PRAGMA user_version = 1;",
    );
    let mut store = Store::open(&path).unwrap();
    let open = event(1, Cause::Internal, None);
    store
        .record_events(&[(UpdateKind::Started, &open)])
        .unwrap();
    let rows = store.probe_results().unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].target, "kcna.kp");
    assert_eq!(
        (rows[0].address.as_deref(), rows[0].resolved_at),
        (None, None)
    );
    drop(store);
    // Opening again does not upgrade twice.
    let store = Store::open(&path).unwrap();
    assert_eq!(store.probe_results().unwrap(), rows);
    assert_eq!(store.event_count().unwrap(), 1);
}

#[test]
fn a_version_2_file_has_its_points_moved_to_numbered_series() {
    // Version 2's points named their series in full on every row.
    let (_dir, path) = file_left_by_an_older_version(
        "CREATE TABLE signals (
                entity TEXT NOT NULL, signal TEXT NOT NULL, at_us INTEGER NOT NULL,
                value REAL NOT NULL, PRIMARY KEY (entity, signal, at_us)
            ) STRICT, WITHOUT ROWID;
            INSERT INTO signals VALUES
                ('prefix:203.0.113.0/26', 'bgp.visibility', 30000000, 1.0),
                ('prefix:203.0.113.0/26', 'bgp.visibility', 60000000, 0.5),
                ('host:www.lab.example', 'probe.icmp.rtt_ms', 45000000, 12.5);
            PRAGMA user_version = 2;",
    );
    let visibility = SeriesKey::new(
        "prefix:203.0.113.0/26".parse().unwrap(),
        Measure::Visibility,
    );
    let rtt = SeriesKey::new(
        "host:www.lab.example".parse().unwrap(),
        "probe.icmp.rtt_ms".parse().unwrap(),
    );
    let mut store = Store::open(&path).unwrap();
    assert_eq!(first_points(&store, &visibility), [(30, 1.0), (60, 0.5)]);
    assert_eq!(first_points(&store, &rtt), [(45, 12.5)]);
    assert_eq!(store.series().unwrap(), [rtt.clone(), visibility.clone()]);
    assert_eq!(store.latest_seen().unwrap(), Some(Timestamp::from_secs(60)));
    // A point of a moved series joins it; a new series gets its own number.
    store
        .record_signals(&[
            SeriesPoint {
                key: visibility.clone(),
                at: Timestamp::from_secs(90),
                value: 0.0,
            },
            SeriesPoint::new(
                "prefix:203.0.113.64/26".parse::<Entity>().unwrap(),
                Measure::Visibility,
                Timestamp::from_secs(90),
                1.0,
            ),
        ])
        .unwrap();
    drop(store);
    // Opening again moves nothing twice.
    let store = Store::open(&path).unwrap();
    assert_eq!(
        first_points(&store, &visibility),
        [(30, 1.0), (60, 0.5), (90, 0.0)]
    );
    assert_eq!(store.series().unwrap().len(), 3);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let tables: i64 = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'signals'",
            [],
            |row| row.get(0),
        )
        .unwrap();
    assert_eq!(tables, 0, "version 2's table is gone");
}

#[test]
fn a_series_made_by_a_write_that_failed_is_made_again() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("failed.db");
    let mut store = Store::open(&path).unwrap();
    // Another connection makes the next write fail after its series is made.
    let other = rusqlite::Connection::open(&path).unwrap();
    other
        .execute_batch(
            "CREATE TRIGGER refuse BEFORE INSERT ON points WHEN NEW.value = -1.0
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
        )
        .unwrap();
    let key = SeriesKey::new(
        "prefix:203.0.113.0/26".parse().unwrap(),
        Measure::Visibility,
    );
    let point = |at: i64, value: f64| SeriesPoint {
        key: key.clone(),
        at: Timestamp::from_secs(at),
        value,
    };
    assert!(store.record_signals(&[point(30, -1.0)]).is_err());
    other.execute_batch("DROP TRIGGER refuse").unwrap();
    // The series' number from the failed write was rolled back with it: the
    // writer must not reuse it.
    store.record_signals(&[point(60, 0.5)]).unwrap();
    assert_eq!(first_points(&store, &key), [(60, 0.5)]);
}

#[test]
fn a_newer_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("new.db");
    drop(Store::open(&path).unwrap());
    set_user_version_in_header(&path, 99);
    let error = Store::open(&path).err().unwrap().to_string();
    assert!(error.contains("schema version 99"), "{error}");
}

/// Writes SQLite's user_version straight into the file header (offset 60,
/// big-endian), as a newer blackout would have left it.
fn set_user_version_in_header(path: &std::path::Path, version: u32) {
    use std::io::{Seek, SeekFrom, Write};
    let mut file = std::fs::OpenOptions::new().write(true).open(path).unwrap();
    file.seek(SeekFrom::Start(60)).unwrap();
    file.write_all(&version.to_be_bytes()).unwrap();
}

const CHILD: &str = "BLACKOUT_STORE_CRASH_CHILD";

/// The writer the crash test kills: batches of events and signals, each batch one
/// transaction, announced on stdout once committed.
fn crash_child(path: &str) -> ! {
    let mut store = Store::open(Db::parse(path).unwrap()).unwrap();
    // Go on from where the last killed writer stopped. Events and signals are two
    // transactions, events first, so a kill between them leaves the events one
    // batch ahead: that batch gets its signals only.
    let first_events = store.event_count().unwrap() as i64 / 20;
    for batch in crash_signals(&store).len() as i64 / 50.. {
        if batch >= first_events {
            let events: Vec<Event> = (0..20)
                .map(|i| event(batch * 20 + i, Cause::Internal, Some(60)))
                .collect();
            let changes: Vec<(UpdateKind, &Event)> =
                events.iter().map(|e| (UpdateKind::Ended, e)).collect();
            store.record_events(&changes).unwrap();
        }
        let points: Vec<SeriesPoint> = (0..50)
            .map(|i| {
                SeriesPoint::new(
                    "as:64500".parse::<Entity>().unwrap(),
                    "bgp.visibility".parse::<Measure>().unwrap(),
                    Timestamp::from_secs(batch * 50 + i),
                    1.0,
                )
            })
            .collect();
        store.record_signals(&points).unwrap();
        println!("committed {batch}");
    }
    std::process::exit(0)
}

/// The series the crash test's writer fills.
fn crash_signals(store: &Store) -> Vec<SeriesPoint> {
    store
        .signals(
            &SeriesKey::new(
                "as:64500".parse().unwrap(),
                "bgp.visibility".parse().unwrap(),
            ),
            Timestamp::EPOCH,
            Timestamp::from_secs(i64::MAX / 2_000_000),
        )
        .unwrap()
}

fn a_killed_writer_loses_nothing_committed_and_leaves_no_half_batch(t: &TestDb) {
    for round in 0..3 {
        let mut child = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                &t.test_name("a_killed_writer_loses_nothing_committed_and_leaves_no_half_batch"),
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, t.db_text())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let mut last_committed = None;
        let before = t.open().event_count().unwrap() as i64 / 20;
        let wanted = before + 30 + round * 25;
        for line in BufReader::new(stdout).lines() {
            let line = line.unwrap();
            if let Some(n) = line.strip_prefix("committed ") {
                last_committed = Some(n.parse::<i64>().unwrap());
                if last_committed >= Some(wanted) {
                    break;
                }
            }
        }
        // SIGKILL: no destructor, no flush, no goodbye.
        child.kill().unwrap();
        child.wait().unwrap();
        let Some(last) = last_committed else {
            let mut why = String::new();
            let _ = std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut why);
            panic!("the writer committed nothing: {why}");
        };
        let store = t.open();
        if let Some(check) = store.integrity_check().unwrap() {
            assert_eq!(check, "ok");
        }
        let count = store.event_count().unwrap() as i64;
        // Everything announced is there; whatever came after is whole batches only.
        assert!(
            count >= (last + 1) * 20,
            "round {round}: {count} events, {last} batches announced"
        );
        assert_eq!(count % 20, 0, "a half-written batch of events");
        let points = crash_signals(&store);
        assert!(
            points.len() as i64 >= (last + 1) * 50,
            "round {round}: {} points, {last} batches announced",
            points.len()
        );
        assert_eq!(points.len() % 50, 0, "a half-written batch of signals");
        // No twins: ids are unique by construction of the table; check the log too.
        let events = store.events(&EventQuery::default()).unwrap();
        let ids: std::collections::BTreeSet<_> = events.iter().map(|e| e.id.clone()).collect();
        assert_eq!(ids.len(), events.len());
    }
}

/// Processes that create the same new file at once (watch and `blackout events`
/// started together) all get it: none fails with "database is locked".
fn many_openers_of_a_new_file_all_succeed(t: &TestDb) {
    for round in 0..10 {
        let db = t.fresh(round);
        let start = std::sync::Arc::new(std::sync::Barrier::new(8));
        let openers: Vec<_> = (0..8)
            .map(|_| {
                let (db, start) = (db.clone(), start.clone());
                std::thread::spawn(move || {
                    start.wait();
                    Store::open(db).map(|store| store.event_count().unwrap())
                })
            })
            .collect();
        for opener in openers {
            assert_eq!(opener.join().unwrap().unwrap(), 0);
        }
    }
}

/// The database a test of the suite runs on.
struct TestDb {
    db: Db,
    backend: &'static str,
    _dir: tempfile::TempDir,
    cluster: Option<ScratchCluster>,
}

impl TestDb {
    fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        TestDb {
            db: Db::Sqlite(dir.path().join("blackout.db")),
            backend: "sqlite",
            _dir: dir,
            cluster: None,
        }
    }

    /// A scratch PostgreSQL cluster, or None (said on stderr) when PostgreSQL is
    /// not installed and cannot be as this user. As root (CI, test.sh) its absence
    /// is a failure: test.sh installs it.
    fn postgres() -> Option<TestDb> {
        match ScratchCluster::start(&["fsync=off"]) {
            Ok(cluster) => Some(TestDb {
                db: Db::parse(&cluster.url("blackout")).unwrap(),
                backend: "postgres",
                _dir: tempfile::tempdir().unwrap(),
                cluster: Some(cluster),
            }),
            Err(why) if !is_root() => {
                eprintln!("SKIPPED: the PostgreSQL half of the store suite did not run: {why}");
                None
            }
            Err(why) => panic!("cannot start a scratch PostgreSQL: {why}"),
        }
    }

    fn open(&self) -> Store {
        Store::open(&self.db).unwrap()
    }

    fn read(&self) -> Store {
        Store::open_read_only(&self.db).unwrap()
    }

    fn db_text(&self) -> String {
        match &self.db {
            Db::Sqlite(path) => path.display().to_string(),
            Db::Postgres(_) => self.cluster.as_ref().unwrap().url("blackout"),
        }
    }

    /// Another, new database of the same kind (number `n`).
    fn fresh(&self, n: usize) -> Db {
        match &self.cluster {
            None => Db::Sqlite(self._dir.path().join(format!("fresh{n}.db"))),
            Some(cluster) => Db::parse(&cluster.url(&format!("fresh{n}"))).unwrap(),
        }
    }

    fn test_name(&self, name: &str) -> String {
        format!("{}::{name}", self.backend)
    }
}

fn is_root() -> bool {
    std::env::var("USER").is_ok_and(|u| u == "root")
        || std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
        })
}

/// The suite, once per backend: `sqlite::NAME` and `postgres::NAME`.
macro_rules! suite {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[test]
                fn $name() {
                    super::run_child_if_asked();
                    super::$name(&super::TestDb::sqlite());
                }
            )*
        }
        mod postgres {
            $(
                #[test]
                fn $name() {
                    super::run_child_if_asked();
                    if let Some(db) = super::TestDb::postgres() {
                        super::$name(&db);
                    }
                }
            )*
        }
    };
}

suite!(
    events_round_trip_and_are_never_duplicated,
    queries_filter_and_order_newest_first,
    signals_downsample_into_rollups,
    a_large_batch_of_signals_is_written_whole_the_later_twin_kept,
    feed_health_keeps_the_latest_per_feed,
    a_watch_finds_its_own_open_events_again,
    the_latest_probe_result_of_each_check_is_kept,
    a_killed_writer_loses_nothing_committed_and_leaves_no_half_batch,
    many_openers_of_a_new_file_all_succeed,
    one_writer_at_a_time_and_readers_still_read,
);

/// In the crash test's child process: be the writer that gets killed.
fn run_child_if_asked() {
    if let Ok(db) = std::env::var(CHILD) {
        crash_child(&db);
    }
}

/// Issue 14: a second writer is refused and named; readers go on; the lock goes
/// with its holder.
fn one_writer_at_a_time_and_readers_still_read(t: &TestDb) {
    let mut first = Store::open_writer(&t.db).unwrap();
    first
        .record_events(&[(UpdateKind::Started, &event(1, Cause::Internal, None))])
        .unwrap();
    let refused = Store::open_writer(&t.db).err().unwrap();
    match &refused {
        StoreError::Locked { holder, .. } => {
            assert_eq!(*holder, Some(std::process::id()), "{refused}")
        }
        other => panic!("not refused as locked: {other}"),
    }
    let message = refused.to_string();
    assert!(message.contains(&t.db.to_string()), "{message}");
    assert!(
        message.contains(&format!("pid {}", std::process::id())),
        "{message}"
    );
    assert_eq!(t.read().event_count().unwrap(), 1);
    drop(first);
    let mut second = Store::open_writer(&t.db).unwrap();
    second
        .record_events(&[(UpdateKind::Started, &event(2, Cause::Internal, None))])
        .unwrap();
    assert_eq!(t.read().event_count().unwrap(), 2);
}

/// Issue 15: the PostgreSQL server restarts under a running writer (and a
/// reader): the writes go on, each batch written once, none lost, and the writer
/// still holds the one-writer lock afterwards.
#[test]
fn a_postgres_version_1_schema_has_its_points_moved_to_numbered_series() {
    let Some(t) = TestDb::postgres() else {
        return;
    };
    let cluster = t.cluster.as_ref().unwrap();
    let socket = cluster.socket_dir().to_str().unwrap().to_string();
    // What blackout's version 1 left: points named in full, in `signals`.
    cluster
        .run(
            "psql",
            &[
                "-h",
                &socket,
                "-U",
                "blackout",
                "-d",
                "postgres",
                "-v",
                "ON_ERROR_STOP=1",
                "-c",
                "CREATE SCHEMA v1;
                 CREATE TABLE v1.meta (name TEXT COLLATE \"C\" PRIMARY KEY, value BIGINT NOT NULL);
                 INSERT INTO v1.meta VALUES ('schema_version', 1);
                 CREATE TABLE v1.signals (entity TEXT COLLATE \"C\" NOT NULL,
                     signal TEXT COLLATE \"C\" NOT NULL, at_us BIGINT NOT NULL,
                     value DOUBLE PRECISION NOT NULL, PRIMARY KEY (entity, signal, at_us));
                 INSERT INTO v1.signals VALUES
                     ('prefix:203.0.113.0/26', 'bgp.visibility', 30000000, 1.0),
                     ('prefix:203.0.113.0/26', 'bgp.visibility', 60000000, 0.5);",
            ],
        )
        .unwrap();
    let db = Db::parse(&cluster.url("v1")).unwrap();
    let key = SeriesKey::new(
        "prefix:203.0.113.0/26".parse().unwrap(),
        Measure::Visibility,
    );
    let mut store = Store::open(db.clone()).unwrap();
    store
        .record_signals(&[SeriesPoint {
            key: key.clone(),
            at: Timestamp::from_secs(90),
            value: 0.0,
        }])
        .unwrap();
    drop(store);
    let store = Store::open(db).unwrap();
    assert_eq!(
        first_points(&store, &key),
        [(30, 1.0), (60, 0.5), (90, 0.0)]
    );
    assert_eq!(store.series().unwrap(), [key]);
    assert_eq!(store.latest_seen().unwrap(), Some(Timestamp::from_secs(90)));
}

#[test]
fn postgres_writes_go_on_across_a_server_restart() {
    let Some(t) = TestDb::postgres() else {
        return;
    };
    let cluster = t.cluster.as_ref().unwrap();
    let mut writer = Store::open_writer(&t.db).unwrap();
    let reader = t.read();
    let events: Vec<Event> = (0..40).map(|n| event(n, Cause::Internal, None)).collect();
    let restarted = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(std::time::Duration::from_millis(150));
            cluster.restart().unwrap();
            restarted.store(true, std::sync::atomic::Ordering::SeqCst);
        });
        // Batches before, during and after the restart.
        for event in &events {
            writer
                .record_events(&[(UpdateKind::Started, event)])
                .unwrap();
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        while !restarted.load(std::sync::atomic::Ordering::SeqCst) {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    });
    // One more after it for sure, then everything is there once.
    let last = event(40, Cause::Internal, None);
    writer
        .record_events(&[(UpdateKind::Started, &last)])
        .unwrap();
    assert_eq!(reader.event_count().unwrap(), 41);
    for event in events.iter().chain([&last]) {
        let log = reader.event_log(&event.id.0).unwrap();
        assert_eq!(log.len(), 1, "{}: {log:?}", event.id);
    }
    // The lock was taken again with the new connection.
    match Store::open_writer(&t.db).err() {
        Some(StoreError::Locked { .. }) => {}
        other => panic!("a second writer was not refused: {other:?}"),
    }
}
