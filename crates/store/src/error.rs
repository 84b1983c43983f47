//! Store errors, with the file and the operation.

use std::path::PathBuf;

/// A store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The database file could not be opened or set up.
    #[error("cannot open the database {}: {source}", path.display())]
    Open {
        /// The file.
        path: PathBuf,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// The file was written by a newer blackout.
    #[error("the database {} has schema version {found}; this blackout knows up to {known}: use a newer blackout or another --db", path.display())]
    Schema {
        /// The file.
        path: PathBuf,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// A query or write failed.
    #[error("database {op} failed: {source}")]
    Sql {
        /// What was being done.
        op: &'static str,
        /// SQLite's reason.
        source: rusqlite::Error,
    },
    /// A stored row could not be read back (written by something else, or damaged).
    #[error("a stored {what} could not be read: {message}")]
    Corrupt {
        /// Which kind of row.
        what: &'static str,
        /// Why.
        message: String,
    },
}

pub(crate) trait SqlContext<T> {
    fn during(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn during(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql { op, source })
    }
}
