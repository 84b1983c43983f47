//! Cuts a BMP byte stream into messages on the common header (RFC 7854 §4.1:
//! version 3, a 4-byte length, the type), whatever the TCP segmentation.

/// The common header's length.
pub const COMMON_HEADER_LEN: usize = 6;
/// The largest message accepted: a Route Monitoring message carries at most one BGP
/// message of 64 KiB (RFC 8654) plus headers; a Peer Up two OPENs and some TLVs.
pub const MAX_BMP_MESSAGE: usize = 256 * 1024;

/// The stream cannot be framed any further: the router must be disconnected.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FramingError {
    /// Not BMP version 3.
    #[error("BMP version {0} is not supported (only version 3)")]
    Version(u8),
    /// A length outside 6..=256 KiB.
    #[error("BMP message length {0} is out of range")]
    Length(u32),
}

/// Buffers bytes and hands out whole messages.
#[derive(Debug, Default)]
pub struct BmpFramer {
    buf: Vec<u8>,
    start: usize,
    broken: Option<FramingError>,
}

impl BmpFramer {
    /// An empty framer.
    pub fn new() -> Self {
        BmpFramer::default()
    }

    /// Appends bytes as they arrive.
    pub fn push(&mut self, bytes: &[u8]) {
        if self.start > 0 && self.start == self.buf.len() {
            self.buf.clear();
            self.start = 0;
        } else if self.start > 64 * 1024 {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// The next whole message (common header included), `Ok(None)` when more bytes are
    /// needed. After an error the stream is lost for good and every call repeats it.
    pub fn next_message(&mut self) -> Result<Option<&[u8]>, FramingError> {
        if let Some(error) = &self.broken {
            return Err(error.clone());
        }
        let pending = self.buf.get(self.start..).unwrap_or(&[]);
        let Some(&[version, a, b, c, d, _]) = pending.get(..COMMON_HEADER_LEN) else {
            if let Some(&version) = pending.first()
                && version != 3
            {
                return Err(self.fail(FramingError::Version(version)));
            }
            return Ok(None);
        };
        if version != 3 {
            return Err(self.fail(FramingError::Version(version)));
        }
        let len = u32::from_be_bytes([a, b, c, d]);
        if (len as usize) < COMMON_HEADER_LEN || len as usize > MAX_BMP_MESSAGE {
            return Err(self.fail(FramingError::Length(len)));
        }
        let len = len as usize;
        if pending.len() < len {
            return Ok(None);
        }
        let start = self.start;
        self.start += len;
        Ok(self.buf.get(start..start + len))
    }

    /// Bytes held that do not make a whole message yet: non-zero when a stream ends
    /// means the router went away in the middle of a message.
    pub fn pending(&self) -> usize {
        self.buf.len().saturating_sub(self.start)
    }

    fn fail(&mut self, error: FramingError) -> FramingError {
        self.broken = Some(error.clone());
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_across_any_split() {
        let mut stream = Vec::new();
        for body in [&b"abc"[..], b"", b"0123456789"] {
            stream.push(3);
            stream.extend_from_slice(&((6 + body.len()) as u32).to_be_bytes());
            stream.push(4);
            stream.extend_from_slice(body);
        }
        for split in 0..stream.len() {
            let mut framer = BmpFramer::new();
            let mut lens = Vec::new();
            for chunk in [&stream[..split], &stream[split..]] {
                framer.push(chunk);
                while let Some(message) = framer.next_message().unwrap() {
                    lens.push(message.len());
                }
            }
            assert_eq!(lens, vec![9, 6, 16], "split at {split}");
            assert_eq!(framer.pending(), 0);
        }
    }

    #[test]
    fn garbage_breaks_the_stream() {
        let mut framer = BmpFramer::new();
        framer.push(b"GET / HTTP/1.0\r\n");
        assert_eq!(framer.next_message(), Err(FramingError::Version(b'G')));
        assert!(framer.next_message().is_err());
        let mut framer = BmpFramer::new();
        framer.push(&[3, 0, 0, 0, 2, 0]);
        assert_eq!(framer.next_message(), Err(FramingError::Length(2)));
    }
}
