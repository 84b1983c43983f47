//! BGP UPDATE decoding (RFC 4271 §4.3, RFC 4760, RFC 6793, RFC 7911), sans-IO:
//! the body of an UPDATE in, the unicast routes and their AS path out.
//!
//! The session context ([`UpdateContext`]: 4-byte AS numbers, and per address family
//! whether ADD-PATH path identifiers precede the prefixes) is passed in, because it
//! comes from the session's OPEN messages (a BGP session's, or the two OPENs of a BMP
//! Peer Up), not from the UPDATE itself.
//!
//! Only what the observatory reads is decoded: the IPv4 and IPv6 unicast prefixes
//! (withdrawn and announced, from the classic fields and from MP_REACH_NLRI /
//! MP_UNREACH_NLRI) and the AS path (AS_PATH merged with AS4_PATH). Other address
//! families (VPN, labelled, EVPN, unknown ones) are skipped and named in
//! [`Update::skipped_families`]. The path is decoded only when a prefix passes the
//! caller's filter, which is what makes ingest of a full feed cheap.
//!
//! Attribute framing errors make the whole UPDATE an error (the session cannot know
//! which routes it carried); a malformed AS_PATH makes it "treat as withdraw"
//! (RFC 7606 §7.2): the announced prefixes are reported as withdrawn.

use crate::wire::{Reader, Truncated};
use blackout_model::{AsPath, Asn, PathSegment};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{Ipv4Addr, Ipv6Addr};

/// An address family and subsequent address family (AFI/SAFI).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Family {
    /// Address family identifier (1 IPv4, 2 IPv6).
    pub afi: u16,
    /// Subsequent address family identifier (1 unicast, 4 labelled, 128 VPN...).
    pub safi: u8,
}

impl Family {
    /// IPv4 unicast.
    pub const IPV4_UNICAST: Family = Family { afi: 1, safi: 1 };
    /// IPv6 unicast.
    pub const IPV6_UNICAST: Family = Family { afi: 2, safi: 1 };

    /// Is it one of the two families blackout follows?
    pub fn is_unicast(self) -> bool {
        self == Family::IPV4_UNICAST || self == Family::IPV6_UNICAST
    }

    /// What kind of routes the SAFI carries, for people (`VPN`, `labeled unicast`).
    pub fn kind_text(self) -> &'static str {
        match self.safi {
            1 => "unicast",
            2 => "multicast",
            4 => "labeled unicast",
            65 => "VPLS",
            70 => "EVPN",
            128 => "VPN",
            129 => "multicast VPN",
            133 | 134 => "flowspec",
            _ => "other",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let afi = match self.afi {
            1 => "ipv4",
            2 => "ipv6",
            25 => "l2vpn",
            afi => return write!(f, "afi {afi} safi {}", self.safi),
        };
        match self.safi {
            1 => write!(f, "{afi}-unicast"),
            2 => write!(f, "{afi}-multicast"),
            4 => write!(f, "{afi}-labeled-unicast"),
            65 => write!(f, "{afi}-vpls"),
            70 => write!(f, "{afi}-evpn"),
            128 => write!(f, "{afi}-vpn"),
            safi => write!(f, "{afi} safi {safi}"),
        }
    }
}

impl serde::Serialize for Family {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What the session negotiated, which the UPDATE's bytes depend on.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UpdateContext {
    /// AS numbers in AS_PATH are 4 bytes (both sides sent the 4-octet AS capability).
    pub asn4: bool,
    /// IPv4 unicast prefixes carry an ADD-PATH path identifier.
    pub add_path_v4: bool,
    /// IPv6 unicast prefixes carry an ADD-PATH path identifier.
    pub add_path_v6: bool,
}

impl UpdateContext {
    fn add_path(&self, family: Family) -> bool {
        match family {
            Family::IPV4_UNICAST => self.add_path_v4,
            Family::IPV6_UNICAST => self.add_path_v6,
            _ => false,
        }
    }
}

/// One route: a prefix and, under ADD-PATH, its path identifier.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Nlri {
    /// The prefix (host bits cleared).
    pub prefix: IpNet,
    /// The ADD-PATH identifier, when the family uses ADD-PATH.
    pub path_id: Option<u32>,
}

/// The unicast content of one UPDATE.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Update {
    /// Routes withdrawn (classic field and MP_UNREACH_NLRI).
    pub withdrawn: Vec<Nlri>,
    /// Routes announced (classic NLRI and MP_REACH_NLRI) that passed the filter.
    pub announced: Vec<Nlri>,
    /// The path of the announced routes (AS4_PATH merged in); `None` when nothing
    /// announced passed the filter, or the UPDATE had no AS_PATH.
    pub as_path: Option<AsPath>,
    /// Announced prefixes left out by the filter.
    pub filtered: u32,
    /// An End-of-RIB marker (RFC 4724) for this family.
    pub end_of_rib: Option<Family>,
    /// Families in MP_REACH/MP_UNREACH that are not IPv4/IPv6 unicast, skipped.
    pub skipped_families: Vec<Family>,
    /// The AS_PATH was malformed, so the announcements were turned into withdrawals.
    pub treat_as_withdraw: bool,
}

/// An UPDATE that cannot be decoded at all.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum UpdateError {
    /// A length field runs past the data.
    #[error("UPDATE {0}")]
    Truncated(#[from] Truncated),
    /// A prefix length longer than the address.
    #[error("UPDATE has a {family} prefix of length {len}")]
    PrefixLength {
        /// The family.
        family: Family,
        /// The length found.
        len: u8,
    },
}

const ATTR_AS_PATH: u8 = 2;
const ATTR_MP_REACH: u8 = 14;
const ATTR_MP_UNREACH: u8 = 15;
const ATTR_AS4_PATH: u8 = 17;
const FLAG_EXTENDED_LENGTH: u8 = 0x10;

/// Decodes the body of an UPDATE (after the 19-byte BGP header). `want` decides for
/// each announced prefix whether it is kept; the AS path is decoded only if one is.
pub fn decode_update(
    body: &[u8],
    ctx: &UpdateContext,
    want: &dyn Fn(&IpNet) -> bool,
) -> Result<Update, UpdateError> {
    let mut r = Reader::new(body);
    let mut update = Update::default();
    let withdrawn_len = usize::from(r.u16("withdrawn routes length")?);
    let withdrawn = r.take(withdrawn_len, "withdrawn routes")?;
    read_prefixes(
        withdrawn,
        Family::IPV4_UNICAST,
        ctx.add_path_v4,
        &mut update.withdrawn,
    )?;
    let attributes_len = usize::from(r.u16("path attributes length")?);
    let attributes = r.take(attributes_len, "path attributes")?;
    let nlri = r.rest();

    let mut as_path_raw: Option<&[u8]> = None;
    let mut as4_path_raw: Option<&[u8]> = None;
    let mut announced = Vec::new();
    let mut attribute_count = 0;
    let mut only_unreach_family = None;
    let mut a = Reader::new(attributes);
    while !a.is_empty() {
        let flags = a.u8("attribute flags")?;
        let code = a.u8("attribute type")?;
        let len = if flags & FLAG_EXTENDED_LENGTH != 0 {
            usize::from(a.u16("attribute length")?)
        } else {
            usize::from(a.u8("attribute length")?)
        };
        let value = a.take(len, "attribute value")?;
        attribute_count += 1;
        match code {
            ATTR_AS_PATH => as_path_raw = Some(value),
            ATTR_AS4_PATH => as4_path_raw = Some(value),
            ATTR_MP_REACH => {
                let mut v = Reader::new(value);
                let family = Family {
                    afi: v.u16("MP_REACH AFI")?,
                    safi: v.u8("MP_REACH SAFI")?,
                };
                if family.is_unicast() {
                    let next_hop_len = usize::from(v.u8("MP_REACH next hop length")?);
                    v.take(next_hop_len, "MP_REACH next hop")?;
                    v.u8("MP_REACH reserved")?;
                    read_prefixes(v.rest(), family, ctx.add_path(family), &mut announced)?;
                } else {
                    update.skipped_families.push(family);
                }
            }
            ATTR_MP_UNREACH => {
                let mut v = Reader::new(value);
                let family = Family {
                    afi: v.u16("MP_UNREACH AFI")?,
                    safi: v.u8("MP_UNREACH SAFI")?,
                };
                if v.is_empty() {
                    only_unreach_family = Some(family);
                }
                if family.is_unicast() {
                    read_prefixes(
                        v.rest(),
                        family,
                        ctx.add_path(family),
                        &mut update.withdrawn,
                    )?;
                } else {
                    update.skipped_families.push(family);
                }
            }
            _ => {}
        }
    }
    read_prefixes(nlri, Family::IPV4_UNICAST, ctx.add_path_v4, &mut announced)?;

    if announced.is_empty() && update.withdrawn.is_empty() {
        if attribute_count == 0 && nlri.is_empty() {
            update.end_of_rib = Some(Family::IPV4_UNICAST);
        } else if attribute_count == 1 {
            update.end_of_rib = only_unreach_family;
        }
    }

    let before = announced.len();
    announced.retain(|n| want(&n.prefix));
    update.filtered = (before - announced.len()) as u32;
    if !announced.is_empty() {
        match decode_as_path(as_path_raw, as4_path_raw, ctx.asn4) {
            Ok(path) => {
                update.as_path = path;
                update.announced = announced;
            }
            Err(()) => {
                update.treat_as_withdraw = true;
                update.withdrawn.extend(announced);
            }
        }
    }
    Ok(update)
}

/// Reads a run of prefixes (RFC 4271 §4.3 encoding, RFC 7911 path identifiers).
fn read_prefixes(
    bytes: &[u8],
    family: Family,
    add_path: bool,
    out: &mut Vec<Nlri>,
) -> Result<(), UpdateError> {
    let mut r = Reader::new(bytes);
    let max_len = if family.afi == 2 { 128 } else { 32 };
    while !r.is_empty() {
        let path_id = if add_path {
            Some(r.u32("ADD-PATH path identifier")?)
        } else {
            None
        };
        let len = r.u8("prefix length")?;
        if len > max_len {
            return Err(UpdateError::PrefixLength { family, len });
        }
        let octets = r.take(usize::from(len).div_ceil(8), "prefix")?;
        let prefix = if family.afi == 2 {
            let mut addr = [0u8; 16];
            addr[..octets.len()].copy_from_slice(octets);
            Ipv6Net::new(Ipv6Addr::from(addr), len)
                .map(|net| IpNet::V6(net.trunc()))
                .map_err(|_| UpdateError::PrefixLength { family, len })?
        } else {
            let mut addr = [0u8; 4];
            addr[..octets.len()].copy_from_slice(octets);
            Ipv4Net::new(Ipv4Addr::from(addr), len)
                .map(|net| IpNet::V4(net.trunc()))
                .map_err(|_| UpdateError::PrefixLength { family, len })?
        };
        out.push(Nlri { prefix, path_id });
    }
    Ok(())
}

/// The route's path: AS_PATH, with AS4_PATH merged in on a 2-byte session
/// (RFC 6793 §4.2.3). If the segments do not fill the attribute exactly at the
/// announced width, the other width is tried: some BMP speakers set the "legacy
/// 2-byte" flag wrongly. `Err` when neither width fits (treat as withdraw).
fn decode_as_path(
    as_path: Option<&[u8]>,
    as4_path: Option<&[u8]>,
    asn4: bool,
) -> Result<Option<AsPath>, ()> {
    let Some(raw) = as_path else {
        return Ok(None);
    };
    let (path, width4) = match parse_segments(raw, asn4) {
        Some(path) => (path, asn4),
        None => (parse_segments(raw, !asn4).ok_or(())?, !asn4),
    };
    if width4 {
        return Ok(Some(AsPath::from_segments(path)));
    }
    let Some(as4) = as4_path.and_then(|raw| parse_segments(raw, true)) else {
        return Ok(Some(AsPath::from_segments(path)));
    };
    Ok(Some(AsPath::from_segments(merge_as4(path, as4))))
}

fn parse_segments(raw: &[u8], asn4: bool) -> Option<Vec<PathSegment>> {
    let mut r = Reader::new(raw);
    let mut segments = Vec::with_capacity(1);
    while !r.is_empty() {
        let kind = r.u8("segment type").ok()?;
        let count = usize::from(r.u8("segment length").ok()?);
        let width = if asn4 { 4 } else { 2 };
        let bytes = r.take(count * width, "segment").ok()?;
        let asns: Vec<Asn> = if asn4 {
            bytes
                .chunks_exact(4)
                .map(|c| Asn(u32::from_be_bytes([c[0], c[1], c[2], c[3]])))
                .collect()
        } else {
            bytes
                .chunks_exact(2)
                .map(|c| Asn(u32::from(u16::from_be_bytes([c[0], c[1]]))))
                .collect()
        };
        segments.push(match kind {
            1 => PathSegment::Set(asns),
            2 => PathSegment::Sequence(asns),
            3 => PathSegment::ConfedSequence(asns),
            4 => PathSegment::ConfedSet(asns),
            _ => return None,
        });
    }
    Some(segments)
}

/// The number of ASes a path counts for in RFC 6793's merge: a set counts one,
/// confederation segments none.
fn path_count(segments: &[PathSegment]) -> usize {
    segments
        .iter()
        .map(|s| match s {
            PathSegment::Sequence(a) => a.len(),
            PathSegment::Set(_) => 1,
            _ => 0,
        })
        .sum()
}

/// RFC 6793 §4.2.3: keep the leading ASes of AS_PATH that AS4_PATH lacks, then AS4_PATH.
fn merge_as4(path: Vec<PathSegment>, as4: Vec<PathSegment>) -> Vec<PathSegment> {
    let (n, m) = (path_count(&path), path_count(&as4));
    if m > n {
        return path;
    }
    let mut keep = n - m;
    let mut merged = Vec::new();
    for segment in path {
        if keep == 0 {
            break;
        }
        match segment {
            PathSegment::Sequence(asns) => {
                let take = asns.len().min(keep);
                keep -= take;
                merged.push(PathSegment::Sequence(asns.into_iter().take(take).collect()));
            }
            PathSegment::Set(asns) => {
                keep -= 1;
                merged.push(PathSegment::Set(asns));
            }
            other => merged.push(other),
        }
    }
    merged.extend(as4);
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(_: &IpNet) -> bool {
        true
    }

    #[test]
    fn ipv4_update_with_two_byte_path_and_as4_path() {
        // AS_PATH [1, 23456] (2-byte), AS4_PATH [131279]; NLRI 175.45.176.0/24
        let body = [
            0, 0, // no withdrawals
            0, 22, // attributes
            0x40, 1, 1, 0, // ORIGIN
            0x40, 2, 6, 2, 2, 0, 1, 0x5b, 0xa0, // AS_PATH
            0xc0, 17, 6, 2, 1, 0, 2, 0x00, 0xcf, // AS4_PATH [131279]
            24, 175, 45, 176,
        ];
        let update = decode_update(&body, &UpdateContext::default(), &all).unwrap();
        assert_eq!(update.announced.len(), 1);
        assert_eq!(update.announced[0].prefix.to_string(), "175.45.176.0/24");
        assert_eq!(update.as_path.unwrap().to_string(), "1 131279");
    }

    #[test]
    fn end_of_rib_and_truncation() {
        let eor = decode_update(&[0, 0, 0, 0], &UpdateContext::default(), &all).unwrap();
        assert_eq!(eor.end_of_rib, Some(Family::IPV4_UNICAST));
        // MP_UNREACH for IPv6 unicast with nothing in it
        let eor6 = decode_update(
            &[0, 0, 0, 6, 0x80, 15, 3, 0, 2, 1],
            &UpdateContext::default(),
            &all,
        )
        .unwrap();
        assert_eq!(eor6.end_of_rib, Some(Family::IPV6_UNICAST));
        assert!(decode_update(&[0, 9, 1], &UpdateContext::default(), &all).is_err());
        assert!(
            decode_update(
                &[0, 0, 0, 4, 0x40, 2, 9, 0],
                &UpdateContext::default(),
                &all
            )
            .is_err()
        );
    }

    #[test]
    fn malformed_path_is_treat_as_withdraw_and_filter_skips_it() {
        // AS_PATH with a segment type 9
        let body = [0, 0, 0, 7, 0x40, 2, 4, 9, 1, 0, 1, 8, 10];
        let update = decode_update(&body, &UpdateContext::default(), &all).unwrap();
        assert!(update.treat_as_withdraw);
        assert_eq!(update.withdrawn.len(), 1);
        let none = |_: &IpNet| false;
        let filtered = decode_update(&body, &UpdateContext::default(), &none).unwrap();
        assert!(!filtered.treat_as_withdraw);
        assert_eq!(filtered.filtered, 1);
    }
}
