//! BMP messages (RFC 7854, Loc-RIB of RFC 9069, Adj-RIB-Out of RFC 8671) as typed
//! values, decoded from one framed message.
//!
//! Route Monitoring keeps the BGP UPDATE as bytes ([`RouteMonitoring::update`]): it
//! can only be decoded with the monitored peer's context from its Peer Up, which the
//! router session ([`super::BmpRouter`]) holds.

use crate::message::{HEADER_LEN, Open, decode_open, kind, notification_text};
use crate::update::Family;
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

    /// Loc-RIB routes filtered (F flag, RFC 9069 §4.2): the instance is not the
    /// complete table.
    pub fn loc_rib_filtered(&self) -> bool {
        self.peer_type == PeerType::LocRib && self.flags & 0x80 != 0
    }

    /// The peer's address is IPv6 (V flag; Loc-RIB peers have none).
    pub fn ipv6(&self) -> bool {
        self.peer_type != PeerType::LocRib && self.flags & 0x80 != 0
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
    /// The VRF or table name (information TLV 3, RFC 9069), as inert text.
    pub table_name: Option<String>,
}

/// A Peer Down Notification.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PeerDown {
    /// The peer.
    pub peer: PeerHeader,
    /// The reason code (1-5 of RFC 7854 §4.9, 6 of RFC 9069).
    pub reason: u8,
    /// What follows the reason.
    pub detail: PeerDownDetail,
}

/// The data of a Peer Down Notification, by its reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PeerDownDetail {
    /// Nothing (reasons 4 and 5), or data that did not decode.
    None,
    /// The NOTIFICATION sent (reason 1) or received (reason 3): code and subcode.
    Notification {
        /// Error code.
        code: u8,
        /// Error subcode.
        subcode: u8,
    },
    /// The FSM event that closed the session (reason 2).
    FsmEvent(u16),
    /// The VRF or table name of a Loc-RIB instance that went down (reason 6).
    TableName(String),
}

impl PeerDown {
    /// The reason in words (RFC 7854 §4.9, RFC 9069 §5.4).
    pub fn reason_text(&self) -> String {
        let detail = match &self.detail {
            PeerDownDetail::Notification { code, subcode } => {
                format!(": {}", notification_text(*code, *subcode))
            }
            PeerDownDetail::FsmEvent(event) => format!(" (FSM event {event})"),
            PeerDownDetail::TableName(name) => format!(" ({name})"),
            PeerDownDetail::None => String::new(),
        };
        let what = match self.reason {
            1 => "the router closed the session with a NOTIFICATION",
            2 => "the router closed the session without a NOTIFICATION",
            3 => "the peer closed the session with a NOTIFICATION",
            4 => "the peer closed the session without a NOTIFICATION",
            5 => "the peer is no longer monitored (de-configured)",
            6 => "the router closed the Loc-RIB instance",
            other => return format!("unknown reason {other}{detail}"),
        };
        format!("{what}{detail}")
    }
}

/// One counter or gauge of a Statistics Report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StatCounter {
    /// The statistics type (RFC 7854 §4.8: 7 routes in Adj-RIB-In, 8 in Loc-RIB,
    /// 9 and 10 the same per AFI/SAFI).
    pub kind: u16,
    /// The family of a per-AFI/SAFI gauge.
    pub family: Option<Family>,
    /// The value.
    pub value: u64,
}

/// A Statistics Report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Statistics {
    /// The peer.
    pub peer: PeerHeader,
    /// The counters and gauges of known sizes.
    pub counters: Vec<StatCounter>,
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
    /// Initiation: the router's name and description, as inert text.
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
                let kind = r.u16("statistic type").map_err(truncated)?;
                let len = usize::from(r.u16("statistic length").map_err(truncated)?);
                let value = r.take(len, "statistic").map_err(truncated)?;
                let mut v = Reader::new(value);
                let (family, value) = match len {
                    4 => (None, u64::from(v.u32("counter").map_err(truncated)?)),
                    8 => (None, v.u64("gauge").map_err(truncated)?),
                    // Per-AFI/SAFI gauges (types 9, 10, 16, 17): AFI, SAFI, the gauge.
                    11 => {
                        let family = Family {
                            afi: v.u16("per-family gauge AFI").map_err(truncated)?,
                            safi: v.u8("per-family gauge SAFI").map_err(truncated)?,
                        };
                        (Some(family), v.u64("per-family gauge").map_err(truncated)?)
                    }
                    _ => continue,
                };
                counters.push(StatCounter {
                    kind,
                    family,
                    value,
                });
            }
            BmpMessage::Statistics(Statistics { peer, counters })
        }
        msg_type::PEER_DOWN => {
            let peer = peer_header(&mut r).map_err(truncated)?;
            let reason = r.u8("peer down reason").map_err(truncated)?;
            let detail = peer_down_detail(reason, r.rest());
            BmpMessage::PeerDown(PeerDown {
                peer,
                reason,
                detail,
            })
        }
        msg_type::PEER_UP => {
            let peer = peer_header(&mut r).map_err(truncated)?;
            let local_address = r.addr16(peer.ipv6(), "local address").map_err(truncated)?;
            let local_port = r.u16("local port").map_err(truncated)?;
            let remote_port = r.u16("remote port").map_err(truncated)?;
            let sent = bgp_pdu(&mut r, kind::OPEN, kind, "OPEN")?;
            let sent_open = decode_open(sent).map_err(truncated)?;
            let received = bgp_pdu(&mut r, kind::OPEN, kind, "OPEN")?;
            let received_open = decode_open(received).map_err(truncated)?;
            // The information TLVs are optional and only informative: a damaged one
            // leaves the name out rather than losing the peer.
            let table_name = tlvs(&mut r)
                .ok()
                .and_then(|tlvs| tlvs.into_iter().find(|(tlv, _)| *tlv == 3))
                .map(|(_, value)| inert_text(value));
            BmpMessage::PeerUp(PeerUp {
                peer,
                local_address,
                local_port,
                remote_port,
                sent_open,
                received_open,
                table_name,
            })
        }
        msg_type::INITIATION => {
            let (mut sys_name, mut sys_descr) = (None, None);
            for (tlv, value) in tlvs(&mut r).map_err(truncated)? {
                match tlv {
                    1 => sys_descr = Some(inert_text(value)),
                    2 => sys_name = Some(inert_text(value)),
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

/// The longest text kept from a router's TLV (sysName, sysDescr, a VRF name).
pub const MAX_TEXT_CHARS: usize = 256;

/// A router's text made inert by the shared sanitizer: invalid UTF-8 replaced,
/// trailing NULs dropped, control characters shown escaped, at most
/// [`MAX_TEXT_CHARS`] characters.
pub(crate) fn inert_text(bytes: &[u8]) -> String {
    blackout_model::text::inert_bytes(bytes, MAX_TEXT_CHARS)
}

/// What follows a Peer Down's reason. Data that does not decode is left out: the
/// reason code alone still says what happened.
fn peer_down_detail(reason: u8, data: &[u8]) -> PeerDownDetail {
    let mut r = Reader::new(data);
    match reason {
        1 | 3 => {
            let header = r.take(HEADER_LEN, "NOTIFICATION header");
            match (header, r.u8("error code"), r.u8("error subcode")) {
                (Ok(header), Ok(code), Ok(subcode))
                    if header.get(18) == Some(&kind::NOTIFICATION) =>
                {
                    PeerDownDetail::Notification { code, subcode }
                }
                _ => PeerDownDetail::None,
            }
        }
        2 => r
            .u16("FSM event")
            .map_or(PeerDownDetail::None, PeerDownDetail::FsmEvent),
        6 => tlvs(&mut r)
            .ok()
            .and_then(|tlvs| tlvs.into_iter().find(|(tlv, _)| *tlv == 3))
            .map_or(PeerDownDetail::None, |(_, name)| {
                PeerDownDetail::TableName(inert_text(name))
            }),
        _ => PeerDownDetail::None,
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    /// An Initiation message with these TLVs.
    fn initiation(tlvs: &[(u16, &[u8])]) -> Vec<u8> {
        let mut body = Vec::new();
        for (kind, value) in tlvs {
            body.extend(kind.to_be_bytes());
            body.extend((value.len() as u16).to_be_bytes());
            body.extend_from_slice(value);
        }
        let mut message = vec![3];
        message.extend(((6 + body.len()) as u32).to_be_bytes());
        message.push(msg_type::INITIATION);
        message.extend(body);
        message
    }

    #[test]
    fn router_text_is_inert_and_bounded() {
        let long = "x".repeat(5000);
        let message = initiation(&[(2, b"core1\x1b[2J\r\n<b>\0\0"), (1, long.as_bytes())]);
        let Ok(BmpMessage::Initiation {
            sys_name,
            sys_descr,
        }) = decode(&message)
        else {
            panic!("not an Initiation");
        };
        assert_eq!(sys_name.as_deref(), Some("core1\\x1b[2J\\x0d\\x0a<b>"));
        assert_eq!(
            sys_descr.map(|d| d.chars().count()),
            Some(MAX_TEXT_CHARS + 1),
            "cut, and the cut marked"
        );
        assert_eq!(inert_text(b"\xff\xfeA"), "\u{fffd}\u{fffd}A");
    }

    #[test]
    fn peer_down_reasons_in_words() {
        let mut notification = vec![0xff; 16];
        notification.extend([0, 21, kind::NOTIFICATION, 6, 2]);
        let cases: [(u8, Vec<u8>, &str); 5] = [
            (
                3,
                notification,
                "the peer closed the session with a NOTIFICATION: cease: administrative shutdown (6/2)",
            ),
            (
                2,
                vec![0, 24],
                "the router closed the session without a NOTIFICATION (FSM event 24)",
            ),
            (
                6,
                [&[0, 3, 0, 4][..], b"blue"].concat(),
                "the router closed the Loc-RIB instance (blue)",
            ),
            (
                1,
                vec![0xff, 0xff],
                "the router closed the session with a NOTIFICATION",
            ),
            (9, vec![], "unknown reason 9"),
        ];
        for (reason, data, text) in cases {
            let down = PeerDown {
                peer: PeerHeader {
                    peer_type: PeerType::Global,
                    flags: 0,
                    distinguisher: 0,
                    address: "192.0.2.4".parse().unwrap(),
                    asn: 64499,
                    bgp_id: 0,
                    at: None,
                },
                reason,
                detail: peer_down_detail(reason, &data),
            };
            assert_eq!(down.reason_text(), text);
        }
    }
}
