//! The API's read-only connections to the database, kept between requests.
//!
//! Opening one costs a PostgreSQL login (a few milliseconds, and a backend
//! process at the server) or SQLite's schema read, on every request before this
//! pool. At most [`MAX_DB_QUERIES`](crate::MAX_DB_QUERIES) queries run at once,
//! so at most that many connections are kept. One that failed is not kept (it
//! may be broken), and one left unused for [`IDLE_MAX`] is closed rather than
//! used again: a server may have dropped it, or the SQLite file been replaced.

use blackout_store::{Db, Store, StoreError};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long an unused connection is kept.
pub const IDLE_MAX: Duration = Duration::from_secs(60);

/// Read-only connections to one database, each lent to one query at a time.
pub(crate) struct StorePool {
    db: Db,
    keep: usize,
    idle: Mutex<Vec<(Store, Instant)>>,
}

impl StorePool {
    /// A pool of read-only connections to `db`, keeping at most `keep` unused.
    pub(crate) fn new(db: Db, keep: usize) -> Self {
        StorePool {
            db,
            keep,
            idle: Mutex::new(Vec::new()),
        }
    }

    /// The database.
    pub(crate) fn db(&self) -> &Db {
        &self.db
    }

    /// Runs `work` on a connection: an unused one if there is a fresh one, else
    /// a new one. Blocking: call it off the async workers.
    pub(crate) fn with<T, E>(
        &self,
        work: impl FnOnce(&Store) -> Result<T, E>,
        opening_failed: impl FnOnce(StoreError) -> E,
    ) -> Result<T, E> {
        let store = match self.take(Instant::now()) {
            Some(store) => store,
            None => Store::open_read_only(&self.db).map_err(opening_failed)?,
        };
        let result = work(&store);
        if result.is_ok() {
            self.give_back(store, Instant::now());
        }
        result
    }

    fn take(&self, now: Instant) -> Option<Store> {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        idle.retain(|(_, since)| now.duration_since(*since) < IDLE_MAX);
        idle.pop().map(|(store, _)| store)
    }

    fn give_back(&self, store: Store, now: Instant) {
        let mut idle = self
            .idle
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if idle.len() < self.keep {
            idle.push((store, now));
        }
    }

    /// Connections kept unused now.
    #[cfg(test)]
    fn idle(&self) -> usize {
        self.idle.lock().map(|idle| idle.len()).unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn database() -> (tempfile::TempDir, Db) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("pool.db");
        Store::open(&path).unwrap();
        (dir, Db::Sqlite(path))
    }

    #[test]
    fn a_connection_serves_query_after_query_and_a_failed_one_is_not_kept() {
        let (_dir, db) = database();
        let pool = StorePool::new(db, 2);
        let opened = |e: StoreError| e.to_string();
        let count = |store: &Store| store.event_count().map_err(|e| e.to_string());
        assert_eq!(pool.with(count, opened), Ok(0));
        assert_eq!(pool.idle(), 1);
        assert_eq!(pool.with(count, opened), Ok(0));
        assert_eq!(pool.idle(), 1, "the same connection, used again");
        let failed: Result<(), String> = pool.with(|_| Err("broken".to_string()), opened);
        assert!(failed.is_err());
        assert_eq!(pool.idle(), 0, "a connection whose query failed is closed");
    }

    #[test]
    fn no_more_are_kept_than_may_run_at_once_and_stale_ones_are_closed() {
        let (_dir, db) = database();
        let pool = StorePool::new(db.clone(), 1);
        let now = Instant::now();
        pool.give_back(Store::open_read_only(&db).unwrap(), now);
        pool.give_back(Store::open_read_only(&db).unwrap(), now);
        assert_eq!(pool.idle(), 1);
        assert!(pool.take(now + IDLE_MAX).is_none(), "unused for too long");
        assert_eq!(pool.idle(), 0);
    }
}
