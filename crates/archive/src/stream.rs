//! The decompressed byte stream, with look-ahead.
//!
//! [`PeekStream`] buffers the decompressed bytes so that the reader can look at a
//! header (and the next one) before bgpkit-parser frames the record, and can scan
//! forward byte by byte for the next record boundary after damage, without ever
//! holding more than one record (plus the read-ahead) in memory.
//!
//! A read error ends the stream but loses nothing read before it: it is kept
//! ([`PeekStream::failure`]) for the reader to name once the bytes before it are read.
//! A gzip checksum error, for one, comes after the last byte of a member was delivered.

use std::io::{self, Read};

/// How much decompressed data is read ahead at once.
const READ_AHEAD: usize = 256 * 1024;

/// A decompressed stream that can be peeked at.
pub(crate) struct PeekStream {
    inner: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    consumed: u64,
    /// The error that ended the stream, and the offset where it came.
    failure: Option<(io::Error, u64)>,
}

impl PeekStream {
    pub(crate) fn new(inner: Box<dyn Read + Send>) -> Self {
        PeekStream {
            inner,
            buf: vec![0; READ_AHEAD],
            start: 0,
            end: 0,
            eof: false,
            consumed: 0,
            failure: None,
        }
    }

    /// Makes at least `n` bytes available unless the stream ends first, and returns
    /// how many are available. After a read error the stream counts as ended, and the
    /// error is kept for [`PeekStream::failure`].
    #[inline]
    pub(crate) fn fill(&mut self, n: usize) -> usize {
        // the reader asks before every record, and the bytes are nearly always there
        if self.end - self.start < n && !self.eof {
            self.read_more(n);
        }
        self.end - self.start
    }

    #[cold]
    fn read_more(&mut self, n: usize) {
        while self.end - self.start < n && !self.eof {
            if self.buf.len() - self.start < n {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
                if self.buf.len() < n {
                    self.buf.resize(n.next_power_of_two(), 0);
                }
            }
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => self.eof = true,
                Ok(read) => self.end += read,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => {
                    self.eof = true;
                    let at = self.consumed + (self.end - self.start) as u64;
                    self.failure = Some((error, at));
                }
            }
        }
    }

    /// The read error that ended the stream, if one did, and the decompressed offset
    /// where it came.
    pub(crate) fn failure(&self) -> Option<(&io::Error, u64)> {
        self.failure.as_ref().map(|(error, at)| (error, *at))
    }

    /// The bytes read ahead and not yet consumed.
    pub(crate) fn peek(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Drops up to `n` bytes of the read-ahead.
    pub(crate) fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed += n as u64;
    }

    /// Decompressed bytes consumed so far: the offset of the next record.
    pub(crate) fn offset(&self) -> u64 {
        self.consumed
    }
}

impl Read for PeekStream {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.start == self.end {
            self.fill(1);
        }
        let available = self.peek();
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_grows_and_reads_through() {
        let data: Vec<u8> = (0..=255u8).cycle().take(READ_AHEAD * 3).collect();
        let mut stream = PeekStream::new(Box::new(io::Cursor::new(data.clone())));
        assert_eq!(stream.fill(10), READ_AHEAD);
        stream.consume(READ_AHEAD - 5);
        assert_eq!(stream.fill(READ_AHEAD * 2), READ_AHEAD * 2);
        assert_eq!(stream.peek()[0], data[READ_AHEAD - 5]);
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[READ_AHEAD - 5..]);
        assert_eq!(stream.offset(), data.len() as u64);
        assert!(stream.failure().is_none());
    }

    /// Gives its bytes, then fails instead of ending.
    struct FailsAtTheEnd(io::Cursor<Vec<u8>>);

    impl Read for FailsAtTheEnd {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            match self.0.read(out)? {
                0 => Err(io::Error::new(io::ErrorKind::InvalidInput, "checksum")),
                n => Ok(n),
            }
        }
    }

    #[test]
    fn a_read_error_keeps_the_bytes_before_it() {
        let inner = FailsAtTheEnd(io::Cursor::new(vec![7; 100]));
        let mut stream = PeekStream::new(Box::new(inner));
        assert_eq!(stream.fill(200), 100);
        assert_eq!(stream.peek(), &[7; 100][..]);
        let (error, at) = stream.failure().expect("failure kept");
        assert_eq!((error.to_string().as_str(), at), ("checksum", 100));
        let mut all = Vec::new();
        stream.read_to_end(&mut all).expect("read");
        assert_eq!(all.len(), 100);
    }
}
