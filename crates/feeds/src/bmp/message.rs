//! BMP messages (RFC 7854, Loc-RIB of RFC 9069, Adj-RIB-Out of RFC 8671) as typed
//! values, decoded from one framed message.
//!
//! Route Monitoring keeps the BGP UPDATE as bytes ([`RouteMonitoring::update`]): it
//! can only be decoded with the monitored peer's context from its Peer Up, which the
//! router session ([`super::BmpRouter`]) holds.

use crate::message::{HEADER_LEN, Open, decode_open, kind};
use crate::wire::{Reader, Truncated};
use blackout_model::Timestamp;
use std::net::IpAddr;

/// BMP message types (RFC 7854 §4.1).
pub mod msg_type {
    /// Route Monitoring.
    pub const ROUTE_MONITORING: u8 = 0;
    /// Statistics Report.
    pub const STATISTICS: u8 = 1;
    /// Peer Down Notification.
    pub const PEER_DOWN: u8 = 2;
    /// Peer Up Notification.
    pub const PEER_UP: u8 = 3;
    /// Initiation.
    pub const INITIATION: u8 = 4;
    /// Termination.
    pub const TERMINATION: u8 = 5;
    /// Route Mirroring.
    pub const ROUTE_MIRRORING: u8 = 6;
}

/// The kind of monitored peer (RFC 7854 §4.2, RFC 9069).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum PeerType {
    /// Global Instance Peer.
    Global,
    /// RD Instance Peer (a VRF).
    RdInstance,
    /// Local Instance Peer.
    LocalInstance,
    /// The router's Loc-RIB (RFC 9069).
    LocRib,
    /// A type this decoder does not know.
    Other(u8),
}

/// The per-peer header (RFC 7854 §4.2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PeerHeader {
    /// Peer type.
    pub peer_type: PeerType,
    /// The raw flags byte.
    pub flags: u8,
    /// The peer distinguisher (route distinguisher of an RD instance peer).
    pub distinguisher: u64,
    /// The peer's address.
    pub address: IpAddr,
    /// The peer's AS.
    pub asn: u32,
    /// The peer's BGP identifier.
    pub bgp_id: u32,
    /// When the router saw what it reports; `None` when it sent zero.
    pub at: Option<Timestamp>,
}

impl PeerHeader {
    /// Post-policy Adj-RIB (L flag); for Loc-RIB peers, always false.
    pub fn post_policy(&self) -> bool {
        self.peer_type != PeerType::LocRib && self.flags & 0x40 != 0
    }

    /// Adj-RIB-Out (O flag, RFC 8671): routes the router sends, not what it hears.
    pub fn adj_rib_out(&self) -> bool {
        self.peer_type != PeerType::LocRib && self.flags & 0x10 != 0
    }

    /// The legacy 2-byte AS_PATH format (A flag).
    pub fn legacy_as_path(&self) -> bool {
        self.peer_type != PeerType::LocRib && self.flags & 0x20 != 0
    }

    /// Loc-RIB routes filtered (F flag, RFC 9069 §4.2).
    pub fn loc_rib_filtered(&self) -> bool {
        self.peer_type == PeerType::LocRib && self.flags & 0x80 != 0
    }
}

/// A Route Monitoring message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMonitoring<'a> {
    /// Who the routes are from.
    pub peer: PeerHeader,
    /// The BGP UPDATE body (after its 19-byte header).
    pub update: &'a [u8],
}

/// A Peer Up Notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerUp {
    /// The peer.
    pub peer: PeerHeader,
    /// The router's address on the session.
    pub local_address: IpAddr,
    /// The router's port.
    pub local_port: u16,
    /// The peer's port.
    pub remote_port: u16,
    /// The OPEN the router sent.
    pub sent_open: Open,
    /// The OPEN the router received.
    pub received_open: Open,
}

/// A Peer Down Notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerDown {
    /// The peer.
    pub peer: PeerHeader,
    /// The reason code (1-5 of RFC 7854 §4.9, 6 of RFC 9069).
    pub reason: u8,
}

/// A Statistics Report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statistics {
    /// The peer.
    pub peer: PeerHeader,
    /// The counters and gauges: (type, value).
    pub counters: Vec<(u16, u64)>,
}

/// One decoded BMP message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BmpMessage<'a> {
    /// Route Monitoring.
    RouteMonitoring(RouteMonitoring<'a>),
    /// Statistics Report.
    Statistics(Statistics),
    /// Peer Down.
    PeerDown(PeerDown),
    /// Peer Up.
    PeerUp(PeerUp),
    /// Initiation: the router's name and description.
    Initiation {
        /// sysName (TLV 2).
        sys_name: Option<String>,
        /// sysDescr (TLV 1).
        sys_descr: Option<String>,
    },
    /// Termination: the router is closing the session.
    Termination {
        /// The reason code (TLV 1), if sent.
        reason: Option<u16>,
    },
    /// Route Mirroring (ignored).
    RouteMirroring(PeerHeader),
    /// A type this decoder does not know.
    Unknown(u8),
}

/// A BMP message whose body does not decode.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum BmpError {
    /// A field runs past the message.
    #[error("BMP message type {kind}: {source}")]
    Truncated {
        /// The message type.
        kind: u8,
        /// What ran short.
        source: Truncated,
    },
    /// A Route Monitoring or Peer Up message whose BGP PDU is not what it should be.
    #[error("BMP message type {kind}: embedded BGP message is not a {expected}")]
    BadPdu {
        /// The message type.
        kind: u8,
        /// What was expected.
        expected: &'static str,
    },
}

/// Decodes one whole BMP message (common header included), as the framer cut it.
pub fn decode(message: &[u8]) -> Result<BmpMessage<'_>, BmpError> {
    let kind = message.get(5).copied().unwrap_or(u8::MAX);
    let truncated = |source| BmpError::Truncated { kind, source };
    let body = message.get(6..).unwrap_or(&[]);
    let mut r = Reader::new(body);
    Ok(match kind {
        msg_type::ROUTE_MONITORING => {
            let peer = peer_header(&mut r).map_err(truncated)?;
            let update = bgp_pdu(&mut r, kind::UPDATE, kind, "UPDATE")?;
            BmpMessage::RouteMonitoring(RouteMonitoring { peer, update })
        }
        msg_type::STATISTICS => {
            let peer = peer_header(&mut r).map_err(truncated)?;
            let count = r.u32("statistics count").map_err(truncated)?;
            let mut counters = Vec::new();
            for _ in 0..count {
                let stat = r.u16("statistic type").map_err(truncated)?;
                let len = usize::from(r.u16("statistic length").map_err(truncated)?);
                let value = r.take(len, "statistic").map_err(truncated)?;
                let mut v = Reader::new(value);
                let number = match len {
                    4 => u64::from(v.u32("counter").map_err(truncated)?),
                    8 => v.u64("gauge").map_err(truncated)?,
                    // Per-AFI/SAFI gauges (types 9, 10): AFI, SAFI, then the gauge.
                    11 => {
                        v.take(3, "per-family gauge family").map_err(truncated)?;
                        v.u64("per-family gauge").map_err(truncated)?
                    }
                    _ => continue,
                };
                counters.push((stat, number));
            }
            BmpMessage::Statistics(Statistics { peer, counters })
        }
        msg_type::PEER_DOWN => {
            let peer = peer_header(&mut r).map_err(truncated)?;
            let reason = r.u8("peer down reason").map_err(truncated)?;
            BmpMessage::PeerDown(PeerDown { peer, reason })
        }
        msg_type::PEER_UP => {
            let peer = peer_header(&mut r).map_err(truncated)?;
            let ipv6 = peer.flags & 0x80 != 0 && peer.peer_type != PeerType::LocRib;
            let local_address = r.addr16(ipv6, "local address").map_err(truncated)?;
            let local_port = r.u16("local port").map_err(truncated)?;
            let remote_port = r.u16("remote port").map_err(truncated)?;
            let sent = bgp_pdu(&mut r, kind::OPEN, kind, "OPEN")?;
            let sent_open = decode_open(sent).map_err(truncated)?;
            let received = bgp_pdu(&mut r, kind::OPEN, kind, "OPEN")?;
            let received_open = decode_open(received).map_err(truncated)?;
            BmpMessage::PeerUp(PeerUp {
                peer,
                local_address,
                local_port,
                remote_port,
                sent_open,
                received_open,
            })
        }
        msg_type::INITIATION => {
            let (mut sys_name, mut sys_descr) = (None, None);
            for (tlv, value) in tlvs(&mut r).map_err(truncated)? {
                let text = String::from_utf8_lossy(value)
                    .trim_end_matches('\0')
                    .to_string();
                match tlv {
                    1 => sys_descr = Some(text),
                    2 => sys_name = Some(text),
                    _ => {}
                }
            }
            BmpMessage::Initiation {
                sys_name,
                sys_descr,
            }
        }
        msg_type::TERMINATION => {
            let reason = tlvs(&mut r)
                .map_err(truncated)?
                .into_iter()
                .find(|(tlv, value)| *tlv == 1 && value.len() == 2)
                .and_then(|(_, value)| Some(u16::from_be_bytes([*value.first()?, *value.get(1)?])));
            BmpMessage::Termination { reason }
        }
        msg_type::ROUTE_MIRRORING => {
            BmpMessage::RouteMirroring(peer_header(&mut r).map_err(truncated)?)
        }
        other => BmpMessage::Unknown(other),
    })
}

fn peer_header(r: &mut Reader<'_>) -> Result<PeerHeader, Truncated> {
    let peer_type = match r.u8("peer type")? {
        0 => PeerType::Global,
        1 => PeerType::RdInstance,
        2 => PeerType::LocalInstance,
        3 => PeerType::LocRib,
        other => PeerType::Other(other),
    };
    let flags = r.u8("peer flags")?;
    let distinguisher = r.u64("peer distinguisher")?;
    let ipv6 = flags & 0x80 != 0 && peer_type != PeerType::LocRib;
    let address = r.addr16(ipv6, "peer address")?;
    let asn = r.u32("peer AS")?;
    let bgp_id = r.u32("peer BGP ID")?;
    let secs = r.u32("timestamp seconds")?;
    let micros = r.u32("timestamp microseconds")?;
    let at = (secs != 0 || micros != 0).then(|| {
        Timestamp::from_micros(i64::from(secs) * 1_000_000 + i64::from(micros.min(999_999)))
    });
    Ok(PeerHeader {
        peer_type,
        flags,
        distinguisher,
        address,
        asn,
        bgp_id,
        at,
    })
}

/// One BGP message inside a BMP message: checks its header and returns its body.
fn bgp_pdu<'a>(
    r: &mut Reader<'a>,
    want: u8,
    bmp_kind: u8,
    expected: &'static str,
) -> Result<&'a [u8], BmpError> {
    let bad = BmpError::BadPdu {
        kind: bmp_kind,
        expected,
    };
    let header = r.rest().get(..HEADER_LEN).ok_or(bad.clone())?;
    let len = usize::from(u16::from_be_bytes([header[16], header[17]]));
    if header[18] != want || len < HEADER_LEN {
        return Err(bad);
    }
    let pdu = r
        .take(len, "BGP PDU")
        .map_err(|source| BmpError::Truncated {
            kind: bmp_kind,
            source,
        })?;
    Ok(pdu.get(HEADER_LEN..).unwrap_or(&[]))
}

fn tlvs<'a>(r: &mut Reader<'a>) -> Result<Vec<(u16, &'a [u8])>, Truncated> {
    let mut out = Vec::new();
    while !r.is_empty() {
        let tlv = r.u16("information type")?;
        let len = usize::from(r.u16("information length")?);
        out.push((tlv, r.take(len, "information")?));
    }
    Ok(out)
}
