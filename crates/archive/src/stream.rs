//! The decompressed byte stream, with look-ahead, and the test that tells an MRT
//! record header from noise.
//!
//! [`PeekStream`] buffers the decompressed bytes so that the reader can look at a
//! header before bgpkit-parser frames the record, and can scan forward byte by byte
//! for the next record boundary after damage, without ever holding more than one
//! record (plus the read-ahead) in memory.

use std::io::{self, Read};

/// How much decompressed data is read ahead at once.
const READ_AHEAD: usize = 256 * 1024;

/// The largest record body the reader accepts. Real TABLE_DUMP_V2 records with
/// thousands of peers stay well below it; bgpkit-parser's own cap is 16 MiB.
pub(crate) const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;

/// A decompressed stream that can be peeked at.
pub(crate) struct PeekStream {
    inner: Box<dyn Read + Send>,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    consumed: u64,
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
        }
    }

    /// Makes at least `n` bytes available unless the stream ends first, and returns
    /// how many are available. After an I/O error the stream counts as ended.
    pub(crate) fn fill(&mut self, n: usize) -> io::Result<usize> {
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
                    return Err(error);
                }
            }
        }
        Ok(self.end - self.start)
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
            self.fill(1)?;
        }
        let available = self.peek();
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// The fields of a 12-byte MRT common header (RFC 6396 §2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Header {
    pub(crate) timestamp: u32,
    pub(crate) entry_type: u16,
    pub(crate) subtype: u16,
    /// The length field: the body, plus the microsecond field for BGP4MP_ET.
    pub(crate) length: u32,
}

impl Header {
    /// Header plus body, in bytes.
    pub(crate) fn record_len(&self) -> usize {
        12 + self.length as usize
    }
}

/// MRT types and subtypes that real writers emit (RFC 6396, RFC 8050), including the
/// deprecated ones. Anything else at a record boundary means the stream is not MRT
/// or has lost its framing.
fn known_type(entry_type: u16, subtype: u16) -> bool {
    match entry_type {
        // deprecated BGP (type 5): NULL .. KEEPALIVE; RIPE wrote it until 1999
        5 => subtype <= 7,
        // TABLE_DUMP: AFI_IPv4, AFI_IPv6
        12 => subtype == 1 || subtype == 2,
        // TABLE_DUMP_V2: PEER_INDEX_TABLE .. RIB_GENERIC_ADDPATH
        13 => (1..=12).contains(&subtype),
        // BGP4MP and BGP4MP_ET: STATE_CHANGE .. MESSAGE_AS4_LOCAL_ADDPATH
        16 | 17 => subtype <= 11,
        // OSPFv2, ISIS, ISIS_ET, OSPFv3, OSPFv3_ET: framed, but not routes we read
        11 | 32 | 33 | 48 | 49 => subtype <= 16,
        _ => false,
    }
}

/// Reads a common header from the first 12 bytes of `bytes`, if it looks like one.
pub(crate) fn plausible_header(bytes: &[u8]) -> Option<Header> {
    let field = |at: usize| -> Option<[u8; 4]> { bytes.get(at..at + 4)?.try_into().ok() };
    let timestamp = u32::from_be_bytes(field(0)?);
    let type_and_subtype = field(4)?;
    let length = u32::from_be_bytes(field(8)?);
    let entry_type = u16::from_be_bytes([type_and_subtype[0], type_and_subtype[1]]);
    let subtype = u16::from_be_bytes([type_and_subtype[2], type_and_subtype[3]]);
    let header = Header {
        timestamp,
        entry_type,
        subtype,
        length,
    };
    let long_enough = if entry_type == 17 { length >= 4 } else { true };
    (known_type(entry_type, subtype) && length <= MAX_RECORD_LEN && long_enough).then_some(header)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn peek_grows_and_reads_through() {
        let data: Vec<u8> = (0..=255u8).cycle().take(READ_AHEAD * 3).collect();
        let mut stream = PeekStream::new(Box::new(io::Cursor::new(data.clone())));
        assert_eq!(stream.fill(10).unwrap(), READ_AHEAD);
        stream.consume(READ_AHEAD - 5);
        assert_eq!(stream.fill(READ_AHEAD * 2).unwrap(), READ_AHEAD * 2);
        assert_eq!(stream.peek()[0], data[READ_AHEAD - 5]);
        let mut rest = Vec::new();
        stream.read_to_end(&mut rest).unwrap();
        assert_eq!(rest, data[READ_AHEAD - 5..]);
        assert_eq!(stream.offset(), data.len() as u64);
    }

    #[test]
    fn header_plausibility() {
        let bgp4mp = [0x55, 0, 0, 0, 0, 16, 0, 4, 0, 0, 0, 100];
        assert_eq!(plausible_header(&bgp4mp).map(|h| h.record_len()), Some(112));
        assert!(plausible_header(b"TABLE_DUMP|1").is_none());
        assert!(plausible_header(&[0, 0, 0, 0, 0, 17, 0, 4, 0, 0, 0, 3]).is_none());
        assert!(plausible_header(&[0, 0, 0, 0, 0, 13, 0, 2, 0xff, 0, 0, 0]).is_none());
        assert!(plausible_header(&bgp4mp[..11]).is_none());
    }
}
