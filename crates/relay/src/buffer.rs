//! The agent's disk buffer: results that could not be published wait here, in
//! order, until the broker is back.
//!
//! It is one append-only file, `results.log`, one record a line
//! (`SUBJECT MSG-ID JSON`: subjects and ids hold no spaces, compact JSON no
//! newline), and `results.sent`, the byte offset of the first record not yet
//! published. Once every record is sent both are emptied. The file never grows
//! past its bound: a record that does not fit is dropped and counted. A torn last
//! line (the agent killed while writing) is cut off when the buffer is opened;
//! a line that is not a record is skipped and counted.

use crate::wire::Encoded;
use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use thiserror::Error;

/// A buffer that cannot be read or written.
#[derive(Debug, Error)]
#[error("the agent's buffer {path}: cannot {op}: {source}")]
pub struct BufferError {
    /// The file.
    pub path: PathBuf,
    /// What was being done.
    pub op: &'static str,
    /// Why it failed.
    pub source: std::io::Error,
}

/// The records waiting to be published, bounded in bytes.
pub struct DiskBuffer {
    log_path: PathBuf,
    sent_path: PathBuf,
    log: File,
    len: u64,
    sent: u64,
    max_bytes: u64,
    /// Lines skipped because they were not records.
    pub damaged: u64,
}

impl DiskBuffer {
    /// Opens (or creates) the buffer in `dir`, holding at most `max_bytes`.
    pub fn open(dir: &Path, max_bytes: u64) -> Result<Self, BufferError> {
        let fail = |path: &Path, op| {
            let path = path.to_path_buf();
            move |source| BufferError { path, op, source }
        };
        std::fs::create_dir_all(dir).map_err(fail(dir, "create the directory"))?;
        let log_path = dir.join("results.log");
        let sent_path = dir.join("results.sent");
        let mut log = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&log_path)
            .map_err(fail(&log_path, "open"))?;
        let mut bytes = Vec::new();
        log.read_to_end(&mut bytes)
            .map_err(fail(&log_path, "read"))?;
        // Only whole lines are records.
        let whole = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1) as u64;
        if whole < bytes.len() as u64 {
            log.set_len(whole)
                .map_err(fail(&log_path, "cut a torn line"))?;
        }
        let sent = match std::fs::read_to_string(&sent_path) {
            Ok(text) => text.trim().parse::<u64>().unwrap_or(0).min(whole),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => 0,
            Err(error) => return Err(fail(&sent_path, "read")(error)),
        };
        let mut buffer = DiskBuffer {
            log_path,
            sent_path,
            log,
            len: whole,
            sent,
            max_bytes,
            damaged: 0,
        };
        if buffer.sent == buffer.len && buffer.len > 0 {
            buffer.mark_sent(buffer.len)?;
        }
        Ok(buffer)
    }

    /// Appends a record; false when it does not fit (it is dropped).
    pub fn push(&mut self, record: &Encoded) -> Result<bool, BufferError> {
        let mut line =
            Vec::with_capacity(record.subject.len() + record.id.len() + record.payload.len() + 3);
        line.extend_from_slice(record.subject.as_bytes());
        line.push(b' ');
        line.extend_from_slice(record.id.as_bytes());
        line.push(b' ');
        line.extend_from_slice(&record.payload);
        line.push(b'\n');
        if self.len + line.len() as u64 > self.max_bytes {
            return Ok(false);
        }
        self.log.write_all(&line).map_err(|source| BufferError {
            path: self.log_path.clone(),
            op: "append",
            source,
        })?;
        self.len += line.len() as u64;
        Ok(true)
    }

    /// Is anything waiting?
    pub fn is_empty(&self) -> bool {
        self.sent >= self.len
    }

    /// Bytes on disk (sent records included, until all are sent).
    pub fn bytes(&self) -> u64 {
        self.len
    }

    /// Up to `max` records from the first unsent one, each with the offset just
    /// past it (what to hand [`DiskBuffer::mark_sent`] once it is published).
    pub fn peek(&mut self, max: usize) -> Result<Vec<(Encoded, u64)>, BufferError> {
        let fail = |op| {
            let path = self.log_path.clone();
            move |source| BufferError { path, op, source }
        };
        let mut file = File::open(&self.log_path).map_err(fail("open"))?;
        file.seek(SeekFrom::Start(self.sent))
            .map_err(fail("seek"))?;
        let mut reader = BufReader::new(file.take(self.len - self.sent));
        let mut records = Vec::new();
        let mut offset = self.sent;
        let mut line = Vec::new();
        while records.len() < max {
            line.clear();
            let read = reader.read_until(b'\n', &mut line).map_err(fail("read"))?;
            if read == 0 {
                break;
            }
            offset += read as u64;
            match parse_line(&line) {
                Some(record) => records.push((record, offset)),
                None => {
                    self.damaged += 1;
                    tracing::warn!(
                        "{}: a line that is not a record is skipped",
                        self.log_path.display()
                    );
                }
            }
        }
        if records.is_empty() && offset > self.sent {
            // Only damaged lines: nothing to send, but they are behind us now.
            self.mark_sent(offset)?;
        }
        Ok(records)
    }

    /// Everything before `offset` is published; when that is everything, the
    /// files are emptied.
    pub fn mark_sent(&mut self, offset: u64) -> Result<(), BufferError> {
        let fail = |path: &Path, op| {
            let path = path.to_path_buf();
            move |source| BufferError { path, op, source }
        };
        self.sent = offset.min(self.len);
        if self.sent == self.len {
            self.log.set_len(0).map_err(fail(&self.log_path, "empty"))?;
            self.len = 0;
            self.sent = 0;
        }
        std::fs::write(&self.sent_path, self.sent.to_string())
            .map_err(fail(&self.sent_path, "write"))?;
        Ok(())
    }
}

fn parse_line(line: &[u8]) -> Option<Encoded> {
    let line = line.strip_suffix(b"\n")?;
    let text = std::str::from_utf8(line).ok()?;
    let mut parts = text.splitn(3, ' ');
    let subject = parts.next()?.to_string();
    let id = parts.next()?.to_string();
    let payload = parts.next()?.as_bytes().to_vec();
    (!subject.is_empty() && !id.is_empty() && !payload.is_empty()).then_some(Encoded {
        subject,
        id,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(n: u64) -> Encoded {
        Encoded {
            subject: "blackout.v1.lab.a.probe".into(),
            id: format!("lab.a.{n}"),
            payload: format!("{{\"n\":{n}}}").into_bytes(),
        }
    }

    #[test]
    fn records_come_back_in_order_across_a_reopen_and_are_emptied_once_sent() {
        let dir = tempfile::tempdir().unwrap();
        let mut buffer = DiskBuffer::open(dir.path(), 1 << 20).unwrap();
        for n in 0..5 {
            assert!(buffer.push(&record(n)).unwrap());
        }
        let first = buffer.peek(2).unwrap();
        assert_eq!(first[0].0, record(0));
        buffer.mark_sent(first[1].1).unwrap();
        drop(buffer);
        let mut buffer = DiskBuffer::open(dir.path(), 1 << 20).unwrap();
        let rest = buffer.peek(10).unwrap();
        let ids: Vec<&str> = rest.iter().map(|(r, _)| r.id.as_str()).collect();
        assert_eq!(ids, ["lab.a.2", "lab.a.3", "lab.a.4"]);
        buffer.mark_sent(rest[2].1).unwrap();
        assert!(buffer.is_empty());
        assert_eq!(buffer.bytes(), 0);
        assert_eq!(
            std::fs::metadata(dir.path().join("results.log"))
                .unwrap()
                .len(),
            0
        );
    }

    #[test]
    fn the_bound_holds_and_a_torn_line_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let r = record(0);
        let line = (r.subject.len() + r.id.len() + r.payload.len() + 3) as u64;
        let mut buffer = DiskBuffer::open(dir.path(), 3 * line).unwrap();
        let kept = (0..5).filter(|&n| buffer.push(&record(n)).unwrap()).count();
        assert_eq!(kept, 3);
        assert!(buffer.bytes() <= 3 * line);
        drop(buffer);
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join("results.log"))
            .unwrap();
        file.write_all(b"blackout.v1.lab.a.probe lab.a.9 {\"n\"")
            .unwrap();
        let mut buffer = DiskBuffer::open(dir.path(), 3 * line).unwrap();
        assert_eq!(buffer.peek(10).unwrap().len(), 3);
        assert_eq!(buffer.damaged, 0);
    }
}
