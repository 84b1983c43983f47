//! What can stop an archive from being read at all.
//!
//! Damage *inside* an archive is not an error: the reader skips what it cannot decode
//! and counts it in [`ReadStats`](crate::ReadStats). An [`ArchiveError`] means the input
//! could not be opened, fetched, or is not MRT in the first place.

use std::io;
use std::path::PathBuf;

/// An input could not be turned into a stream of MRT records.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    /// A local file or directory could not be read (missing, unreadable, …).
    // The reason is part of the message (not a `source`), so that printing the error
    // with its chain does not say it twice.
    #[error("cannot {op} {}: {reason}", path.display())]
    Io {
        /// What was being done: `open`, `list`, `create cache file`, ….
        op: &'static str,
        /// The path it was done to.
        path: PathBuf,
        /// The operating system's reason.
        reason: io::Error,
    },
    /// The bytes are not an MRT archive (plain, gzip or bzip2): pass an MRT file.
    #[error("{location} is not an MRT archive: {reason}")]
    NotMrt {
        /// The file or URL.
        location: String,
        /// What was found instead.
        reason: String,
    },
    /// An http(s) archive could not be fetched; check the URL or try again later.
    #[error("cannot fetch {url}: {message}")]
    Http {
        /// The URL.
        url: String,
        /// The transport's or the server's reason.
        message: String,
    },
    /// A directory argument holds no file that looks like an MRT archive.
    #[error("no MRT archive found under {}", .0.display())]
    EmptyDirectory(PathBuf),
}

impl ArchiveError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>, reason: io::Error) -> Self {
        ArchiveError::Io {
            op,
            path: path.into(),
            reason,
        }
    }
}
