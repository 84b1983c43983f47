//! The schema, created or upgraded when a store opens.

/// The version this code writes.
pub(crate) const VERSION: i64 = 3;

/// Version 1, but for its `signals` table (gone since version 3: see
/// [`MOVE_SIGNALS`]). Tables added since (`event_owner`, `probe_latest`) are created with IF
/// NOT EXISTS, so a file written before them gains them when it opens.
pub(crate) const V1: &str = "
CREATE TABLE IF NOT EXISTS events (
    id         TEXT PRIMARY KEY,
    entity     TEXT NOT NULL,
    cause      TEXT NOT NULL,
    severity   TEXT NOT NULL,
    confidence REAL NOT NULL,
    start_us   INTEGER NOT NULL,
    end_us     INTEGER,
    summary    TEXT NOT NULL,
    body       TEXT NOT NULL
) STRICT;
CREATE INDEX IF NOT EXISTS events_start ON events (start_us);
CREATE INDEX IF NOT EXISTS events_entity ON events (entity, start_us);

CREATE TABLE IF NOT EXISTS event_log (
    seq      INTEGER PRIMARY KEY AUTOINCREMENT,
    id       TEXT NOT NULL,
    at_us    INTEGER NOT NULL,
    change   TEXT NOT NULL,
    cause    TEXT NOT NULL,
    UNIQUE (id, at_us, change, cause)
) STRICT;

CREATE TABLE IF NOT EXISTS signal_rollups (
    entity   TEXT NOT NULL,
    signal   TEXT NOT NULL,
    bucket_us INTEGER NOT NULL,
    width_s  INTEGER NOT NULL,
    min      REAL NOT NULL,
    max      REAL NOT NULL,
    mean     REAL NOT NULL,
    count    INTEGER NOT NULL,
    PRIMARY KEY (entity, signal, bucket_us)
) STRICT, WITHOUT ROWID;

CREATE TABLE IF NOT EXISTS feed_health (
    feed    TEXT NOT NULL,
    at_us   INTEGER NOT NULL,
    state   TEXT NOT NULL,
    last_message_us INTEGER,
    rate    REAL,
    detail  TEXT NOT NULL,
    PRIMARY KEY (feed, at_us)
) STRICT, WITHOUT ROWID;

-- Which profile's watch wrote an event (events from replay have no row here): a
-- restarted watch takes up the open events of its own profile only.
CREATE TABLE IF NOT EXISTS event_owner (
    id      TEXT PRIMARY KEY,
    profile TEXT NOT NULL
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS event_owner_profile ON event_owner (profile);

-- The latest result of each probe check, for the status after a restart.
CREATE TABLE IF NOT EXISTS probe_latest (
    vantage    TEXT NOT NULL,
    target     TEXT NOT NULL,
    check_name TEXT NOT NULL,
    at_us      INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    ok         INTEGER NOT NULL,
    outcome    TEXT NOT NULL,
    rtt_ms     REAL,
    loss       REAL,
    detail     TEXT NOT NULL,
    PRIMARY KEY (vantage, target, check_name)
) STRICT, WITHOUT ROWID;

";

/// Version 2: a probe result keeps the address it probed, and, when the name did
/// not resolve and its last known address was probed instead, when that address
/// last resolved and why it did not this time.
pub(crate) const V2: &str = "
ALTER TABLE probe_latest ADD COLUMN address TEXT;
ALTER TABLE probe_latest ADD COLUMN resolved_at_us INTEGER;
ALTER TABLE probe_latest ADD COLUMN resolve_error TEXT;
";

/// Version 3: a series is named once, in `series`, and its points carry its
/// number. A point was some 60 bytes, most of them the series' two names, and
/// each insert compared text down the B-tree; it is now some 20, so a large
/// profile's stream of results writes a third of the pages. Created like
/// version 1, IF NOT EXISTS, on every open.
pub(crate) const V3: &str = "
CREATE TABLE IF NOT EXISTS series (
    id     INTEGER PRIMARY KEY,
    entity TEXT NOT NULL,
    signal TEXT NOT NULL,
    UNIQUE (entity, signal)
) STRICT;

CREATE TABLE IF NOT EXISTS points (
    series INTEGER NOT NULL,
    at_us  INTEGER NOT NULL,
    value  REAL NOT NULL,
    PRIMARY KEY (series, at_us)
) STRICT, WITHOUT ROWID;
";

/// An older file's points (`signals`, each row naming its series in full)
/// moved into version 3's tables, once.
pub(crate) const MOVE_SIGNALS: &str = "
INSERT OR IGNORE INTO series (entity, signal) SELECT DISTINCT entity, signal FROM signals;
INSERT OR REPLACE INTO points (series, at_us, value)
    SELECT series.id, signals.at_us, signals.value
    FROM signals JOIN series ON series.entity = signals.entity AND series.signal = signals.signal;
DROP TABLE signals;
";
