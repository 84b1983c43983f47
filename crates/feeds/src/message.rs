//! BGP messages (RFC 4271 §4): the 19-byte header, OPEN with the capabilities the
//! feeds care about (RFC 5492: multiprotocol, route refresh, 4-octet AS, ADD-PATH),
//! NOTIFICATION and KEEPALIVE, decoded and encoded without I/O.
//!
//! The same OPEN decoding serves the BGP session and BMP Peer Up messages, which
//! carry the two OPENs of the monitored session; [`negotiate`] derives from a pair of
//! OPENs the [`UpdateContext`] that the session's UPDATEs are decoded with.

use crate::update::{Family, UpdateContext};
use crate::wire::{Reader, Truncated};
use std::net::Ipv4Addr;

/// The BGP header's length.
pub const HEADER_LEN: usize = 19;
/// The largest BGP message without the extended message capability (RFC 4271).
pub const MAX_MESSAGE_LEN: usize = 4096;
/// The largest BGP message with it (RFC 8654).
pub const MAX_EXTENDED_LEN: usize = 65535;

/// BGP message types.
pub mod kind {
    /// OPEN.
    pub const OPEN: u8 = 1;
    /// UPDATE.
    pub const UPDATE: u8 = 2;
    /// NOTIFICATION.
    pub const NOTIFICATION: u8 = 3;
    /// KEEPALIVE.
    pub const KEEPALIVE: u8 = 4;
    /// ROUTE-REFRESH (RFC 2918).
    pub const ROUTE_REFRESH: u8 = 5;
}

/// A BGP message whose header could not be accepted.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum HeaderError {
    /// The 16-byte marker is not all ones (NOTIFICATION 1/1).
    #[error("BGP header marker is not all ones")]
    Marker,
    /// The length field is out of range (NOTIFICATION 1/2).
    #[error("BGP header length {0} is out of range")]
    Length(u16),
}

/// Looks at the start of `buf`: `Ok(None)` when a whole message is not there yet,
/// else the message's type and total length.
pub fn frame(buf: &[u8], max_len: usize) -> Result<Option<(u8, usize)>, HeaderError> {
    let Some(header) = buf.get(..HEADER_LEN) else {
        // Check the marker as far as it has come, to refuse garbage early.
        if buf.iter().take(16).any(|b| *b != 0xff) {
            return Err(HeaderError::Marker);
        }
        return Ok(None);
    };
    if header[..16].iter().any(|b| *b != 0xff) {
        return Err(HeaderError::Marker);
    }
    let len = u16::from_be_bytes([header[16], header[17]]);
    if usize::from(len) < HEADER_LEN || usize::from(len) > max_len {
        return Err(HeaderError::Length(len));
    }
    let minimum = match header[18] {
        kind::OPEN => 29,
        kind::NOTIFICATION => 21,
        kind::KEEPALIVE => 19,
        kind::UPDATE => 23,
        _ => HEADER_LEN,
    };
    if usize::from(len) < minimum || (header[18] == kind::KEEPALIVE && len != 19) {
        return Err(HeaderError::Length(len));
    }
    if buf.len() < usize::from(len) {
        return Ok(None);
    }
    Ok(Some((header[18], usize::from(len))))
}

/// ADD-PATH directions (RFC 7911 §4).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AddPathMode {
    /// The speaker can receive path identifiers.
    pub receive: bool,
    /// The speaker can send them.
    pub send: bool,
}

/// A decoded OPEN.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Open {
    /// BGP version (4).
    pub version: u8,
    /// The AS: the 4-octet capability's if present, else the header's.
    pub asn: u32,
    /// Hold time in seconds.
    pub hold_time: u16,
    /// BGP identifier.
    pub router_id: Ipv4Addr,
    /// Families of the multiprotocol capability.
    pub families: Vec<Family>,
    /// The 4-octet AS capability was present.
    pub asn4: bool,
    /// Route refresh capability.
    pub route_refresh: bool,
    /// Extended message capability (RFC 8654).
    pub extended_message: bool,
    /// ADD-PATH per family.
    pub add_path: Vec<(Family, AddPathMode)>,
}

impl Default for Open {
    fn default() -> Self {
        Open {
            version: 4,
            asn: 0,
            hold_time: 0,
            router_id: Ipv4Addr::UNSPECIFIED,
            families: Vec::new(),
            asn4: false,
            route_refresh: false,
            extended_message: false,
            add_path: Vec::new(),
        }
    }
}

/// Decodes the body of an OPEN (after the header).
pub fn decode_open(body: &[u8]) -> Result<Open, Truncated> {
    let mut r = Reader::new(body);
    let mut open = Open {
        version: r.u8("OPEN version")?,
        asn: u32::from(r.u16("OPEN AS")?),
        hold_time: r.u16("OPEN hold time")?,
        router_id: Ipv4Addr::from(r.u32("OPEN BGP identifier")?),
        ..Open::default()
    };
    let mut params_len = usize::from(r.u8("OPEN parameters length")?);
    let mut extended = false;
    // RFC 9072: a first parameter of type 255 announces 2-byte lengths.
    if params_len > 0 && r.rest().first() == Some(&255) {
        r.u8("OPEN extended marker")?;
        params_len = usize::from(r.u16("OPEN extended parameters length")?);
        extended = true;
    }
    let mut params = Reader::new(r.take(params_len, "OPEN parameters")?);
    while !params.is_empty() {
        let kind = params.u8("OPEN parameter type")?;
        let len = if extended {
            usize::from(params.u16("OPEN parameter length")?)
        } else {
            usize::from(params.u8("OPEN parameter length")?)
        };
        let value = params.take(len, "OPEN parameter")?;
        if kind != 2 {
            continue;
        }
        let mut caps = Reader::new(value);
        while !caps.is_empty() {
            let code = caps.u8("capability code")?;
            let len = usize::from(caps.u8("capability length")?);
            let mut cap = Reader::new(caps.take(len, "capability")?);
            match code {
                1 if len >= 4 => {
                    let afi = cap.u16("multiprotocol AFI")?;
                    cap.u8("multiprotocol reserved")?;
                    let safi = cap.u8("multiprotocol SAFI")?;
                    open.families.push(Family { afi, safi });
                }
                2 | 128 => open.route_refresh = true,
                6 => open.extended_message = true,
                65 if len >= 4 => {
                    open.asn4 = true;
                    open.asn = cap.u32("4-octet AS")?;
                }
                69 => {
                    while cap.left() >= 4 {
                        let afi = cap.u16("ADD-PATH AFI")?;
                        let safi = cap.u8("ADD-PATH SAFI")?;
                        let mode = cap.u8("ADD-PATH send/receive")?;
                        open.add_path.push((
                            Family { afi, safi },
                            AddPathMode {
                                receive: mode & 1 != 0,
                                send: mode & 2 != 0,
                            },
                        ));
                    }
                }
                _ => {}
            }
        }
    }
    Ok(open)
}

impl Open {
    fn add_path_mode(&self, family: Family) -> AddPathMode {
        self.add_path
            .iter()
            .find(|(f, _)| *f == family)
            .map(|(_, mode)| *mode)
            .unwrap_or_default()
    }
}

/// The context in which `receiver` decodes what `sender` sends: 4-byte ASNs if both
/// sent the capability; ADD-PATH for a family if the sender can send and the receiver
/// can receive (RFC 7911 §4).
pub fn negotiate(sender: &Open, receiver: &Open) -> UpdateContext {
    let add_path =
        |family| sender.add_path_mode(family).send && receiver.add_path_mode(family).receive;
    UpdateContext {
        asn4: sender.asn4 && receiver.asn4,
        add_path_v4: add_path(Family::IPV4_UNICAST),
        add_path_v6: add_path(Family::IPV6_UNICAST),
    }
}

fn with_header(kind: u8, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + body.len());
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&((HEADER_LEN + body.len()) as u16).to_be_bytes());
    out.push(kind);
    out.extend_from_slice(body);
    out
}

/// An OPEN announcing IPv4 and IPv6 unicast, route refresh, graceful restart with
/// no family and the 4-octet AS capability: what a listener that announces nothing
/// needs (BIRD refuses a session without multiprotocol IPv4 unicast and 4-byte AS).
///
/// The graceful restart capability names no family and no restart time: blackout
/// keeps no router's forwarding state across a restart (a restart stays a session
/// loss), but the capability is what makes a router end its table with an
/// End-of-RIB (RFC 4724 §2; FRR sends none without it), which tells when the
/// table is complete.
pub fn encode_open(asn: u32, hold_time: u16, router_id: Ipv4Addr) -> Vec<u8> {
    let mut caps = Vec::new();
    for family in [Family::IPV4_UNICAST, Family::IPV6_UNICAST] {
        caps.extend_from_slice(&[1, 4]);
        caps.extend_from_slice(&family.afi.to_be_bytes());
        caps.extend_from_slice(&[0, family.safi]);
    }
    caps.extend_from_slice(&[2, 0]);
    caps.extend_from_slice(&[64, 2, 0, 0]);
    caps.extend_from_slice(&[65, 4]);
    caps.extend_from_slice(&asn.to_be_bytes());
    let header_as = u16::try_from(asn).unwrap_or(23456);
    let mut body = Vec::new();
    body.push(4);
    body.extend_from_slice(&header_as.to_be_bytes());
    body.extend_from_slice(&hold_time.to_be_bytes());
    body.extend_from_slice(&router_id.octets());
    body.push((caps.len() + 2) as u8);
    body.push(2);
    body.push(caps.len() as u8);
    body.extend_from_slice(&caps);
    with_header(kind::OPEN, &body)
}

/// A KEEPALIVE.
pub fn encode_keepalive() -> Vec<u8> {
    with_header(kind::KEEPALIVE, &[])
}

/// A NOTIFICATION with its error code, subcode and data.
pub fn encode_notification(code: u8, subcode: u8, data: &[u8]) -> Vec<u8> {
    let mut body = vec![code, subcode];
    body.extend_from_slice(data);
    with_header(kind::NOTIFICATION, &body)
}

/// A NOTIFICATION's error in words (RFC 4271 §4.5, RFC 4486 for Cease).
pub fn notification_text(code: u8, subcode: u8) -> String {
    let main = match code {
        1 => "message header error",
        2 => "OPEN message error",
        3 => "UPDATE message error",
        4 => "hold timer expired",
        5 => "finite state machine error",
        6 => "cease",
        7 => "route refresh error",
        _ => "unknown error",
    };
    let sub = match (code, subcode) {
        (1, 1) => "connection not synchronized",
        (1, 2) => "bad message length",
        (1, 3) => "bad message type",
        (2, 1) => "unsupported version number",
        (2, 2) => "bad peer AS",
        (2, 3) => "bad BGP identifier",
        (2, 4) => "unsupported optional parameter",
        (2, 6) => "unacceptable hold time",
        (2, 7) => "unsupported capability",
        (2, 11) => "role mismatch",
        (3, 1) => "malformed attribute list",
        (3, 11) => "malformed AS_PATH",
        (6, 1) => "maximum number of prefixes reached",
        (6, 2) => "administrative shutdown",
        (6, 3) => "peer de-configured",
        (6, 4) => "administrative reset",
        (6, 5) => "connection rejected",
        (6, 6) => "other configuration change",
        (6, 7) => "connection collision resolution",
        (6, 8) => "out of resources",
        (6, 9) => "hard reset",
        _ => "",
    };
    if sub.is_empty() {
        format!("{main} ({code}/{subcode})")
    } else {
        format!("{main}: {sub} ({code}/{subcode})")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_round_trip() {
        let bytes = encode_open(4_200_000_000, 90, Ipv4Addr::new(192, 0, 2, 1));
        let Ok(Some((kind::OPEN, len))) = frame(&bytes, MAX_MESSAGE_LEN) else {
            panic!("no frame");
        };
        assert_eq!(len, bytes.len());
        let open = decode_open(&bytes[HEADER_LEN..]).unwrap();
        assert_eq!(open.asn, 4_200_000_000);
        assert!(open.asn4 && open.route_refresh);
        assert_eq!(
            open.families,
            vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST]
        );
        assert_eq!(open.hold_time, 90);
        assert_eq!(
            u16::from_be_bytes([bytes[20], bytes[21]]),
            23456,
            "AS_TRANS in the header"
        );
    }

    #[test]
    fn framing_refuses_garbage_and_waits_for_more() {
        assert_eq!(frame(&[0xff; 10], 4096), Ok(None));
        assert_eq!(frame(b"GET / HTTP/1.1", 4096), Err(HeaderError::Marker));
        let mut short = vec![0xff; 16];
        short.extend_from_slice(&[0, 5, 4]);
        assert_eq!(frame(&short, 4096), Err(HeaderError::Length(5)));
        let keepalive = encode_keepalive();
        assert_eq!(frame(&keepalive[..18], 4096), Ok(None));
        assert_eq!(frame(&keepalive, 4096), Ok(Some((kind::KEEPALIVE, 19))));
    }

    #[test]
    fn add_path_negotiation() {
        let mut sender = Open {
            asn4: true,
            ..Open::default()
        };
        sender.add_path.push((
            Family::IPV4_UNICAST,
            AddPathMode {
                send: true,
                receive: true,
            },
        ));
        let mut receiver = Open {
            asn4: true,
            ..Open::default()
        };
        assert!(!negotiate(&sender, &receiver).add_path_v4);
        receiver.add_path.push((
            Family::IPV4_UNICAST,
            AddPathMode {
                send: false,
                receive: true,
            },
        ));
        let ctx = negotiate(&sender, &receiver);
        assert!(ctx.add_path_v4 && !ctx.add_path_v6 && ctx.asn4);
    }
}
