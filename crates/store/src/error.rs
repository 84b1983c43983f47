//! Store errors, with the database and the operation.

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
    /// The PostgreSQL database could not be reached or set up.
    #[error("cannot open the database {db}: {reason}")]
    Connect {
        /// The database, its password hidden.
        db: String,
        /// PostgreSQL's reason, or ours.
        reason: String,
    },
    /// The database was written by a newer blackout.
    #[error(
        "the database {db} has schema version {found}; this blackout knows up to {known}: use a newer blackout or another --db"
    )]
    Schema {
        /// The database.
        db: String,
        /// Its version.
        found: i64,
        /// Ours.
        known: i64,
    },
    /// Another process writes to this database.
    #[error("{}", locked_message(db, *holder))]
    Locked {
        /// The database.
        db: String,
        /// The process id of the writer, when it could be learnt.
        holder: Option<u32>,
    },
    /// The lock file beside the database could not be opened or locked.
    #[error("cannot lock {}: {source}", path.display())]
    Lock {
        /// The lock file.
        path: PathBuf,
        /// The operating system's reason.
        source: std::io::Error,
    },
    /// `--db postgres://...` in a blackout built without PostgreSQL.
    #[error(
        "--db {db}: this blackout was built without PostgreSQL support (cargo feature `postgres`)"
    )]
    NoPostgres {
        /// The database, its password hidden.
        db: String,
    },
    /// A query or write failed.
    #[error("database {op} failed: {reason}")]
    Sql {
        /// What was being done.
        op: &'static str,
        /// The database's reason.
        reason: String,
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

fn locked_message(db: &str, holder: Option<u32>) -> String {
    let who = match holder {
        Some(pid) => format!("another blackout watch (pid {pid})"),
        None => "another blackout watch".to_string(),
    };
    format!(
        "{who} is writing to the database {db}: one writer per database. Stop it, or give this watch another --db (events, report and the API may read it meanwhile)"
    )
}

pub(crate) trait SqlContext<T> {
    fn during(self, op: &'static str) -> Result<T, StoreError>;
}

impl<T> SqlContext<T> for Result<T, rusqlite::Error> {
    fn during(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql {
            op,
            reason: source.to_string(),
        })
    }
}

#[cfg(feature = "postgres")]
impl<T> SqlContext<T> for Result<T, tokio_postgres::Error> {
    fn during(self, op: &'static str) -> Result<T, StoreError> {
        self.map_err(|source| StoreError::Sql {
            op,
            reason: crate::postgres::reason(&source),
        })
    }
}
