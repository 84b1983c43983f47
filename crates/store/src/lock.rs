//! The one-writer lock of a SQLite file: an exclusive `flock` on `<file>.lock`
//! beside it, holding the writer's process id.
//!
//! The kernel drops a `flock` when its process dies, `kill -9` included, so a
//! restarted watch never finds a stale lock. The file itself stays: removing a
//! file others may be about to lock would let two writers lock two files.

use crate::StoreError;
use rustix::fs::{FlockOperation, flock};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// A held lock; dropped, it is released.
#[derive(Debug)]
pub(crate) struct FileLock {
    _file: File,
}

/// The lock file of the database at `db`.
pub(crate) fn lock_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

impl FileLock {
    /// Takes the lock of the database at `db`, or says which process holds it.
    pub(crate) fn take(db: &Path) -> Result<FileLock, StoreError> {
        let path = lock_path(db);
        let failed = |source: std::io::Error| StoreError::Lock {
            path: path.clone(),
            source,
        };
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(failed)?;
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                let mut text = String::new();
                // The holder writes its pid right after locking: it may not be there yet.
                let _ = file.read_to_string(&mut text);
                return Err(StoreError::Locked {
                    db: db.display().to_string(),
                    holder: text.trim().parse().ok(),
                });
            }
            Err(errno) => return Err(failed(errno.into())),
        }
        file.set_len(0)
            .and_then(|()| file.seek(SeekFrom::Start(0)))
            .and_then(|_| writeln!(file, "{}", std::process::id()))
            .map_err(failed)?;
        Ok(FileLock { _file: file })
    }
}
