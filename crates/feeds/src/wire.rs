//! A bounds-checked reader over a byte slice: every read of outside bytes goes
//! through it, so that a short or lying length field is an error, never a panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The input ended before a field it announced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[error("truncated: {field} needs {needed} bytes, {left} left")]
pub struct Truncated {
    /// The field being read.
    pub field: &'static str,
    /// Bytes it needed.
    pub needed: usize,
    /// Bytes there were.
    pub left: usize,
}

/// A cursor over bytes.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    pub(crate) fn new(bytes: &'a [u8]) -> Self {
        Reader { rest: bytes }
    }

    pub(crate) fn left(&self) -> usize {
        self.rest.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    pub(crate) fn rest(&self) -> &'a [u8] {
        self.rest
    }

    pub(crate) fn take(&mut self, n: usize, field: &'static str) -> Result<&'a [u8], Truncated> {
        if n > self.rest.len() {
            return Err(Truncated {
                field,
                needed: n,
                left: self.rest.len(),
            });
        }
        let (head, tail) = self.rest.split_at(n);
        self.rest = tail;
        Ok(head)
    }

    pub(crate) fn array<const N: usize>(
        &mut self,
        field: &'static str,
    ) -> Result<[u8; N], Truncated> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N, field)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self, field: &'static str) -> Result<u8, Truncated> {
        Ok(self.array::<1>(field)?[0])
    }

    pub(crate) fn u16(&mut self, field: &'static str) -> Result<u16, Truncated> {
        Ok(u16::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u32(&mut self, field: &'static str) -> Result<u32, Truncated> {
        Ok(u32::from_be_bytes(self.array(field)?))
    }

    pub(crate) fn u64(&mut self, field: &'static str) -> Result<u64, Truncated> {
        Ok(u64::from_be_bytes(self.array(field)?))
    }

    /// A 16-byte address field as BMP writes it: IPv4 in the last four bytes.
    pub(crate) fn addr16(&mut self, ipv6: bool, field: &'static str) -> Result<IpAddr, Truncated> {
        let bytes: [u8; 16] = self.array(field)?;
        Ok(if ipv6 {
            IpAddr::V6(Ipv6Addr::from(bytes))
        } else {
            IpAddr::V4(Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]))
        })
    }
}
