//! Telling an MRT record boundary from noise: the 12-byte common header
//! ([`plausible_header`]) and whether a record's own structure ends where its length
//! field says ([`structure`]).
//!
//! The reader checks every record before it frames it. A BGP4MP record carries the BGP
//! message's own length, a RIB record its entries' lengths, a peer index its peers':
//! when they end elsewhere than the length field says, the length is damaged, and the
//! reader scans for the next record instead of swallowing every record the length
//! would cover. The test reads only the bytes within the declared length, never what
//! follows, so that reading a stream cut anywhere agrees with reading it whole up to
//! the cut.

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

/// The header at the start of a stream, if its type and subtype are ones MRT writers
/// emit: evidence that the stream is MRT, even when the length field is damaged
/// (which the reader then scans past).
pub(crate) fn mrt_start(bytes: &[u8]) -> Option<Header> {
    let header = header_fields(bytes)?;
    known_type(header.entry_type, header.subtype).then_some(header)
}

fn header_fields(bytes: &[u8]) -> Option<Header> {
    let field = |at: usize| -> Option<[u8; 4]> { bytes.get(at..at + 4)?.try_into().ok() };
    let type_and_subtype = field(4)?;
    Some(Header {
        timestamp: u32::from_be_bytes(field(0)?),
        entry_type: u16::from_be_bytes([type_and_subtype[0], type_and_subtype[1]]),
        subtype: u16::from_be_bytes([type_and_subtype[2], type_and_subtype[3]]),
        length: u32::from_be_bytes(field(8)?),
    })
}

/// Reads a common header from the first 12 bytes of `bytes`, if it looks like one.
pub(crate) fn plausible_header(bytes: &[u8]) -> Option<Header> {
    let header = mrt_start(bytes)?;
    let long_enough = header.entry_type != BGP4MP_ET || header.length >= 4;
    (header.length <= MAX_RECORD_LEN && long_enough).then_some(header)
}

/// What a record's own structure says of its length field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Structure {
    /// The structure ends where the length says (its bytes may not all be read yet),
    /// and the record is this long, header included: the declared length, or 4 bytes
    /// more for a historical TABLE_DUMP record.
    Fits(usize),
    /// The structure ends elsewhere: the length field (or the structure) is damaged.
    DoesNotFit,
    /// The bytes that would tell are beyond the end of the stream.
    Unknown,
    /// The record has no structure that tells its length (OSPF, IS-IS, deprecated BGP,
    /// RIB_GENERIC, BGP4MP_ENTRY, GEO_PEER_TABLE).
    Unstructured,
}

/// Does the record's structure end where its length field says? `bytes` start at the
/// record's header and hold what the stream has of it (maybe less than the record,
/// maybe more). The answer depends on the bytes within the declared length only (and
/// the 4 more of a historical TABLE_DUMP record), never on what follows, so a cut
/// stream and the whole one agree wherever both have the bytes.
pub(crate) fn structure(header: Header, bytes: &[u8]) -> Structure {
    let Some(declared) = header.record_len().checked_sub(header.body_start()) else {
        return Structure::DoesNotFit;
    };
    let body = Body {
        bytes: bytes.get(header.body_start()..).unwrap_or_default(),
        declared,
    };
    let fits = match (header.entry_type, header.subtype) {
        (BGP4MP | BGP4MP_ET, 2 | 3) => return Structure::Unstructured,
        (BGP4MP | BGP4MP_ET, subtype) => bgp4mp(subtype, &body),
        (TABLE_DUMP, subtype) => table_dump(subtype, &body),
        (TABLE_DUMP_V2, 1) => peer_index(&body),
        (TABLE_DUMP_V2, subtype @ (2..=5 | 8..=11)) => rib(subtype, &body),
        _ => return Structure::Unstructured,
    };
    match fits {
        Ok(Some(end)) => Structure::Fits(header.body_start() + end),
        Ok(None) | Err(Short::Record) => Structure::DoesNotFit,
        Err(Short::Stream) => Structure::Unknown,
    }
}

/// What a structure test finds: `Some(length of the body)` when it fits.
type Fit = Result<Option<usize>, Short>;

/// Why a field could not be read.
enum Short {
    /// The declared length ends before it: the record cannot hold it.
    Record,
    /// The stream ends before it.
    Stream,
}

/// A record body as far as read, and its declared length.
struct Body<'a> {
    bytes: &'a [u8],
    declared: usize,
}

impl Body<'_> {
    /// The bytes `at..at + len`, which must lie within `limit` (the declared length, or
    /// a little more where a historical writer is known to have written more).
    fn within(&self, at: usize, len: usize, limit: usize) -> Result<&[u8], Short> {
        let end = at.checked_add(len).ok_or(Short::Record)?;
        if end > limit {
            return Err(Short::Record);
        }
        self.bytes.get(at..end).ok_or(Short::Stream)
    }

    fn get(&self, at: usize, len: usize) -> Result<&[u8], Short> {
        self.within(at, len, self.declared)
    }

    fn u16_at(&self, at: usize) -> Result<usize, Short> {
        let b = self.get(at, 2)?;
        Ok(usize::from(u16::from_be_bytes([b[0], b[1]])))
    }

    /// The structure ends at `end`: does it fit?
    fn ends_at(&self, end: usize) -> Fit {
        Ok((end == self.declared).then_some(end))
    }
}

const MARKER: [u8; 16] = [0xff; 16];

/// BGP4MP (RFC 6396 §4.4, RFC 8050 §3): the envelope (ASes, interface, AFI, two
/// addresses), then a state change or a BGP message whose header gives its length.
/// Zebra's short records, which bgpkit-parser reads, fit too: an 8-byte state change,
/// and an OPEN right after the two ASes.
fn bgp4mp(subtype: u16, body: &Body) -> Fit {
    if subtype == 0 && body.declared == 8 {
        return body.ends_at(8);
    }
    let as4 = matches!(subtype, 4 | 5 | 7 | 9 | 11);
    let asns = if as4 { 8 } else { 4 };
    let address = match body.u16_at(asns + 2)? {
        1 => 4,
        2 => 16,
        _ => return zebra_open(subtype, body),
    };
    let envelope = asns + 4 + 2 * address;
    if matches!(subtype, 0 | 5) {
        // STATE_CHANGE: old and new state
        return body.ends_at(envelope + 4);
    }
    let message = body.get(envelope, 18)?;
    if message[..16] != MARKER {
        return zebra_open(subtype, body);
    }
    body.ends_at(envelope + usize::from(u16::from_be_bytes([message[16], message[17]])))
}

/// Zebra's BGP4MP MESSAGE with a 2-byte AS whose OPEN follows the two ASes directly.
fn zebra_open(subtype: u16, body: &Body) -> Fit {
    if !matches!(subtype, 1 | 6 | 8 | 10) {
        return Ok(None);
    }
    let message = body.get(4, 19)?;
    Ok((message[..16] == MARKER && message[18] == 1).then_some(body.declared))
}

/// TABLE_DUMP (RFC 6396 §4.2): view and sequence, then one or more entries, each with
/// its attributes' length and a status of 1 (0 accepted too). A historical writer (the MRT toolkit) declared 4 bytes
/// fewer than it wrote; bgpkit-parser reads those 4 when the last entry ends exactly
/// 4 bytes past the declared length, and so does this test.
fn table_dump(subtype: u16, body: &Body) -> Fit {
    let address = match subtype {
        1 => 4,
        2 => 16,
        _ => return Ok(None),
    };
    // prefix, length, status, originated, peer address, peer AS, attributes' length
    let fixed = 2 * address + 10;
    let mut at = 4;
    if body.declared < at {
        return Ok(None);
    }
    while at < body.declared {
        let entry = body.get(at, fixed)?;
        // Batched entries follow one another with nothing to mark the last, so a
        // length that runs on would read the next record's header as an entry: its
        // prefix length and status (1, RFC 6396; 12 where a header's type sits) tell.
        let (length, status) = (entry[address], entry[address + 1]);
        if length > if address == 4 { 32 } else { 128 } || status > 1 {
            return Ok(None);
        }
        at += fixed + usize::from(u16::from_be_bytes([entry[fixed - 2], entry[fixed - 1]]));
    }
    let historical = body.declared + 4;
    if at == historical {
        // the 4 bytes beyond the declared length must be there to be read
        body.within(body.declared, 4, historical)?;
        return Ok(Some(historical));
    }
    body.ends_at(at)
}

/// PEER_INDEX_TABLE (RFC 6396 §4.3.1): collector BGP ID, view name, then the peers,
/// each sized by its type byte (IPv6 address, 4-byte AS).
fn peer_index(body: &Body) -> Fit {
    let mut at = 4;
    at += 2 + body.u16_at(at)?;
    let count = body.u16_at(at)?;
    at += 2;
    for _ in 0..count {
        let kind = body.get(at, 1)?[0];
        let address = if kind & 1 == 0 { 4 } else { 16 };
        let asn = if kind & 2 == 0 { 2 } else { 4 };
        at += 1 + 4 + address + asn;
    }
    body.ends_at(at)
}

/// A TABLE_DUMP_V2 RIB record (RFC 6396 §4.3.2, RFC 8050 §4): the entries after the
/// prefix end exactly at the end of the body.
fn rib(subtype: u16, body: &Body) -> Fit {
    let v6 = matches!(subtype, 4 | 5 | 10 | 11);
    let fixed = if subtype >= 8 { 12 } else { 8 };
    let length = body.get(4, 1)?[0];
    if length > if v6 { 128 } else { 32 } {
        return Ok(None);
    }
    let mut at = 5 + usize::from(length).div_ceil(8);
    let count = body.u16_at(at)?;
    at += 2;
    for _ in 0..count {
        at += fixed + body.u16_at(at + fixed - 2)?;
    }
    body.ends_at(at)
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
        // a damaged length still starts an MRT stream
        let damaged = [0x55, 0, 0, 0, 0, 16, 0, 4, 0xff, 0xff, 0xff, 0xff];
        assert!(plausible_header(&damaged).is_none());
        assert!(mrt_start(&damaged).is_some());
        assert!(mrt_start(b"TABLE_DUMP|1").is_none());
    }

    /// A BGP4MP MESSAGE_AS4 record over IPv4 holding a KEEPALIVE (19 bytes).
    fn keepalive(length_field: u32) -> Vec<u8> {
        let mut record = vec![0x55, 0, 0, 0, 0, 16, 0, 4];
        record.extend_from_slice(&length_field.to_be_bytes());
        record.extend_from_slice(&[0, 0, 0xfb, 0xf0, 0, 0, 0xfb, 0xf1, 0, 0, 0, 1]);
        record.extend_from_slice(&[198, 51, 100, 1, 198, 51, 100, 2]);
        record.extend_from_slice(&MARKER);
        record.extend_from_slice(&[0, 19, 4]);
        record
    }

    fn structure_of(record: &[u8]) -> Structure {
        structure(plausible_header(record).expect("header"), record)
    }

    #[test]
    fn a_bgp4mp_record_fits_only_its_own_length() {
        let record = keepalive(39);
        assert_eq!(structure_of(&record), Structure::Fits(51));
        // the structure is known from the BGP header, before the rest is read
        assert_eq!(structure_of(&record[..50]), Structure::Fits(51));
        assert_eq!(structure_of(&record[..49]), Structure::Unknown);
        assert_eq!(structure_of(&record[..40]), Structure::Unknown);
        assert_eq!(structure_of(&keepalive(45)), Structure::DoesNotFit);
        assert_eq!(structure_of(&keepalive(0x00ff_ffff)), Structure::DoesNotFit);
        // too short to hold the BGP header
        assert_eq!(structure_of(&keepalive(30)), Structure::DoesNotFit);
        assert_eq!(structure_of(&keepalive(30)[..20]), Structure::Unknown);
    }

    #[test]
    fn a_rib_record_fits_its_entries() {
        // sequence 7, 10.0.0.0/8, one entry: peer 0, originated 0, 4 bytes of attributes
        let body = [0, 0, 0, 7, 8, 10, 0, 1, 0, 0, 0, 0, 0, 0, 0, 4, 1, 2, 3, 4];
        let record = |length: u32, body: &[u8]| {
            let mut record = vec![0x55, 0, 0, 0, 0, 13, 0, 2];
            record.extend_from_slice(&length.to_be_bytes());
            record.extend_from_slice(body);
            record
        };
        assert_eq!(structure_of(&record(20, &body)), Structure::Fits(32));
        assert_eq!(structure_of(&record(19, &body)), Structure::DoesNotFit);
        assert_eq!(structure_of(&record(21, &body)), Structure::DoesNotFit);
        assert_eq!(structure_of(&record(20, &body[..15])), Structure::Unknown);
        // the walk ends before a declared length that is too long, whatever follows
        assert_eq!(structure_of(&record(5000, &body)), Structure::DoesNotFit);
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
    }
}
