//! Telling an MRT record boundary from noise: the 12-byte common header
//! ([`plausible_header`]) and whether a record's own structure ends where its length
//! field says ([`body_fits`]).
//!
//! The reader checks every record's boundary before it frames it: the declared length
//! must end at another plausible header, or at the end of the stream. When it does not,
//! either the length field is damaged or the next header is; [`body_fits`] tells which
//! (a BGP4MP record carries the BGP message's own length, a RIB record its entries'),
//! so a damaged length costs one record rather than every record it would swallow.

/// The largest record body the reader accepts. Real TABLE_DUMP_V2 records with
/// thousands of peers stay well below it; bgpkit-parser's own cap is 16 MiB.
pub(crate) const MAX_RECORD_LEN: u32 = 16 * 1024 * 1024;

/// MRT types (RFC 6396 §4).
pub(crate) const BGP: u16 = 5;
pub(crate) const TABLE_DUMP: u16 = 12;
pub(crate) const TABLE_DUMP_V2: u16 = 13;
pub(crate) const BGP4MP: u16 = 16;
pub(crate) const BGP4MP_ET: u16 = 17;

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

    /// Where the message starts in the record: after the microsecond field for
    /// BGP4MP_ET.
    pub(crate) fn body_start(&self) -> usize {
        if self.entry_type == BGP4MP_ET { 16 } else { 12 }
    }

    /// A table dump (TABLE_DUMP or TABLE_DUMP_V2) rather than updates.
    pub(crate) fn is_table_dump(&self) -> bool {
        matches!(self.entry_type, TABLE_DUMP | TABLE_DUMP_V2)
    }
}

/// MRT types and subtypes that real writers emit (RFC 6396, RFC 8050), including the
/// deprecated ones. Anything else at a record boundary means the stream is not MRT
/// or has lost its framing.
fn known_type(entry_type: u16, subtype: u16) -> bool {
    match entry_type {
        // deprecated BGP (type 5): NULL .. KEEPALIVE; RIPE wrote it until 1999
        BGP => subtype <= 7,
        // TABLE_DUMP: AFI_IPv4, AFI_IPv6
        TABLE_DUMP => subtype == 1 || subtype == 2,
        // TABLE_DUMP_V2: PEER_INDEX_TABLE .. RIB_GENERIC_ADDPATH
        TABLE_DUMP_V2 => (1..=12).contains(&subtype),
        // BGP4MP and BGP4MP_ET: STATE_CHANGE .. MESSAGE_AS4_LOCAL_ADDPATH
        BGP4MP | BGP4MP_ET => subtype <= 11,
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
    let long_enough = if entry_type == BGP4MP_ET {
        length >= 4
    } else {
        true
    };
    (known_type(entry_type, subtype) && length <= MAX_RECORD_LEN && long_enough).then_some(header)
}

/// Does the record's own structure end exactly where its length field says? `record`
/// is the whole record (header and body, `header.record_len()` bytes). Records whose
/// structure says nothing about their length (OSPF, IS-IS, deprecated BGP) fit.
pub(crate) fn body_fits(header: Header, record: &[u8]) -> bool {
    let Some(body) = record.get(header.body_start()..header.record_len()) else {
        return false;
    };
    match header.entry_type {
        BGP4MP | BGP4MP_ET => bgp4mp_fits(header.subtype, body),
        TABLE_DUMP => table_dump_fits(header.subtype, body),
        TABLE_DUMP_V2 => match header.subtype {
            2..=5 | 8..=11 => rib_fits(header.subtype, body),
            _ => true,
        },
        _ => true,
    }
}

/// BGP4MP (RFC 6396 §4.4, RFC 8050 §3): the envelope (ASes, interface, AFI, two
/// addresses), then a state change or a BGP message whose header gives its length.
fn bgp4mp_fits(subtype: u16, body: &[u8]) -> bool {
    let as4 = matches!(subtype, 4 | 5 | 7 | 9 | 11);
    let asns = if as4 { 8 } else { 4 };
    let Some(afi) = body.get(asns + 2..asns + 4) else {
        return false;
    };
    let address = match u16::from_be_bytes([afi[0], afi[1]]) {
        1 => 4,
        2 => 16,
        _ => return false,
    };
    let envelope = asns + 4 + 2 * address;
    if matches!(subtype, 0 | 5) {
        // STATE_CHANGE: old and new state
        return body.len() == envelope + 4;
    }
    match body.get(envelope..envelope + 19) {
        Some(message) if message[..16] == [0xff; 16] => {
            let length = usize::from(u16::from_be_bytes([message[16], message[17]]));
            body.len() == envelope + length
        }
        _ => false,
    }
}

/// TABLE_DUMP (RFC 6396 §4.2): one or more entries, each with its attributes' length.
fn table_dump_fits(subtype: u16, body: &[u8]) -> bool {
    let address = if subtype == 2 { 16 } else { 4 };
    // view, sequence, prefix, length, status, originated, peer address, peer AS
    let fixed = 2 + 2 + address + 1 + 1 + 4 + address + 2;
    let mut pos = 0;
    while pos < body.len() {
        let Some(length) = body.get(pos + fixed..pos + fixed + 2) else {
            return false;
        };
        pos += fixed + 2 + usize::from(u16::from_be_bytes([length[0], length[1]]));
    }
    pos == body.len() && !body.is_empty()
}

/// The prefix at the start of a TABLE_DUMP_V2 RIB body (after the 4-byte sequence
/// number), the offset of the first entry, and the entry count.
pub(crate) fn rib_prefix(body: &[u8], v6: bool) -> Option<(ipnet::IpNet, usize, u16)> {
    use ipnet::{IpNet, Ipv4Net, Ipv6Net};
    use std::net::{Ipv4Addr, Ipv6Addr};
    let len = *body.get(4)?;
    let max = if v6 { 128 } else { 32 };
    if len > max {
        return None;
    }
    let octets = usize::from(len).div_ceil(8);
    let bytes = body.get(5..5 + octets)?;
    let count = body.get(5 + octets..7 + octets)?;
    let count = u16::from_be_bytes([count[0], count[1]]);
    let prefix = if v6 {
        let mut addr = [0u8; 16];
        addr[..octets].copy_from_slice(bytes);
        IpNet::V6(Ipv6Net::new(Ipv6Addr::from(addr), len).ok()?)
    } else {
        let mut addr = [0u8; 4];
        addr[..octets].copy_from_slice(bytes);
        IpNet::V4(Ipv4Net::new(Ipv4Addr::from(addr), len).ok()?)
    };
    Some((prefix, 7 + octets, count))
}

/// A TABLE_DUMP_V2 RIB record (RFC 6396 §4.3.2, RFC 8050 §4): the entries after the
/// prefix end exactly at the end of the body.
pub(crate) fn rib_fits(subtype: u16, body: &[u8]) -> bool {
    let v6 = matches!(subtype, 4 | 5 | 10 | 11);
    let fixed = if subtype >= 8 { 12 } else { 8 };
    let Some((_, mut pos, count)) = rib_prefix(body, v6) else {
        return false;
    };
    for _ in 0..count {
        let Some(entry) = body.get(pos..pos + fixed) else {
            return false;
        };
        pos += fixed + usize::from(u16::from_be_bytes([entry[fixed - 2], entry[fixed - 1]]));
    }
    pos == body.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_plausibility() {
        let bgp4mp = [0x55, 0, 0, 0, 0, 16, 0, 4, 0, 0, 0, 100];
        assert_eq!(plausible_header(&bgp4mp).map(|h| h.record_len()), Some(112));
        assert!(plausible_header(b"TABLE_DUMP|1").is_none());
        assert!(plausible_header(&[0, 0, 0, 0, 0, 17, 0, 4, 0, 0, 0, 3]).is_none());
        assert!(plausible_header(&[0, 0, 0, 0, 0, 13, 0, 2, 0xff, 0, 0, 0]).is_none());
        assert!(plausible_header(&bgp4mp[..11]).is_none());
    }

    /// A BGP4MP MESSAGE_AS4 record over IPv4 holding a KEEPALIVE (19 bytes).
    fn keepalive(length_field: u32) -> Vec<u8> {
        let mut record = vec![0x55, 0, 0, 0, 0, 16, 0, 4];
        record.extend_from_slice(&length_field.to_be_bytes());
        record.extend_from_slice(&[0, 0, 0xfb, 0xf0, 0, 0, 0xfb, 0xf1, 0, 0, 0, 1]);
        record.extend_from_slice(&[198, 51, 100, 1, 198, 51, 100, 2]);
        record.extend_from_slice(&[0xff; 16]);
        record.extend_from_slice(&[0, 19, 4]);
        record
    }

    #[test]
    fn a_bgp4mp_record_fits_only_its_own_length() {
        let record = keepalive(39);
        let header = plausible_header(&record).expect("header");
        assert!(body_fits(header, &record));
        let mut longer = keepalive(45);
        longer.extend_from_slice(&[0; 6]);
        assert!(!body_fits(
            plausible_header(&longer).expect("header"),
            &longer
        ));
        let shorter = keepalive(30);
        assert!(!body_fits(
            plausible_header(&shorter).expect("header"),
            &shorter[..42]
        ));
        // a record cut short of its length never fits
        assert!(!body_fits(header, &record[..40]));
    }

    #[test]
    fn rib_prefix_reads_the_fixed_layout() {
        // sequence 7, 175.45.176.0/22, 3 entries
        let body = [0, 0, 0, 7, 22, 175, 45, 176, 0, 3];
        let (prefix, pos, count) = rib_prefix(&body, false).expect("prefix");
        assert_eq!(prefix.to_string(), "175.45.176.0/22");
        assert_eq!((pos, count), (10, 3));
        assert!(rib_prefix(&[0, 0, 0, 7, 33, 1, 2, 3, 4, 5, 0, 0], false).is_none());
        assert!(rib_prefix(&[0, 0, 0, 7, 24, 1, 2], false).is_none());
        assert!(!rib_fits(2, &body[..8]));
        // one entry: peer 0, originated 0, 4 bytes of attributes
        let one = [0, 0, 0, 7, 8, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4];
        assert!(rib_fits(2, &one));
        assert!(!rib_fits(2, &one[..19]));
    }
}
