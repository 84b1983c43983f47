//! The store: what blackout saw and said, in a SQLite file (the embedded default)
//! or a PostgreSQL database (`--db postgres://...`, cargo feature `postgres`).
//!
//! - **events**, with their evidence and scope, written again each time they change
//!   (keyed by their stable id, so a restart that replays the same evidence writes
//!   the same rows, never a twin);
//! - **event_log**: every start, revision and end, in order, for history and alerts;
//! - **signals**: time series (visibility, probe loss and RTT, ...), keyed by entity,
//!   signal and time, with [`Store::downsample`] folding old points into per-bucket
//!   minimum, maximum and mean (**signal_rollups**);
//! - **feed_health**: the state of each feed over time;
//! - **probe_latest**: the latest result of each probe check;
//! - **event_owner**: which profile's watch wrote each event, so that a restart
//!   takes up its own open events.
//!
//! Modules: `db` reads a `--db` value ([`Db`]); `backend` is the one trait both
//! databases implement ([`Backend`], a [`Batch`] per transaction); `sqlite` and
//! `postgres` implement it; `lock` is the SQLite file's one-writer lock (PostgreSQL
//! uses an advisory lock); `store` is the [`Store`] everything else uses; `scratch`
//! starts a throwaway PostgreSQL cluster for tests and benchmarks.
//!
//! Every write is one transaction, so a `kill -9` loses nothing that was committed
//! and leaves nothing half-written. One process writes ([`Store::open_writer`]
//! refuses a second); readers open their own ([`Store::open_read_only`]).

mod backend;
mod db;
mod error;
mod lock;
#[cfg(feature = "postgres")]
mod postgres;
mod rows;
#[cfg(feature = "postgres")]
pub mod scratch;
mod sqlite;
mod sqlite_schema;
mod store;

pub use backend::{Backend, Batch};
pub use db::{DEFAULT_SCHEMA, Db, DbParseError, PgTarget};
pub use error::StoreError;
pub use rows::{EventQuery, FeedHealthRow, LogEntry, ProbeRow, SignalRollup};
pub use sqlite::SqliteStore;
pub use store::Store;
