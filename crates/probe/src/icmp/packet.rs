//! ICMP and ICMPv6 packets, bytes in and out, no sockets: echo requests (with a
//! chosen checksum for Paris traceroute), and the decoding of what comes back
//! (echo replies, time exceeded, destination unreachable, with the probe they quote).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// ICMPv4 types used here.
const V4_ECHO_REPLY: u8 = 0;
const V4_UNREACHABLE: u8 = 3;
const V4_ECHO_REQUEST: u8 = 8;
const V4_TIME_EXCEEDED: u8 = 11;
/// ICMPv6 types used here.
const V6_UNREACHABLE: u8 = 1;
const V6_TIME_EXCEEDED: u8 = 3;
const V6_ECHO_REQUEST: u8 = 128;
const V6_ECHO_REPLY: u8 = 129;

/// IP protocol numbers.
pub const PROTO_ICMP: u8 = 1;
/// ICMPv6's next-header number.
pub const PROTO_ICMPV6: u8 = 58;
/// UDP's protocol number.
pub const PROTO_UDP: u8 = 17;

/// The Internet checksum's one's-complement sum of 16-bit words (not yet inverted).
pub fn ones_sum(data: &[u8], mut sum: u32) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for pair in &mut chunks {
        sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
    }
    if let [last] = chunks.remainder() {
        sum += u32::from(*last) << 8;
    }
    sum
}

/// Folds a sum to 16 bits and inverts it: the checksum field's value.
pub fn fold(mut sum: u32) -> u16 {
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// The Internet checksum (RFC 1071) of `data`.
pub fn checksum(data: &[u8]) -> u16 {
    fold(ones_sum(data, 0))
}

/// The two bytes that, put at an even offset of a message whose other bytes
/// (the checksum field already holding the wanted value) sum to `sum_without` in
/// one's complement, make that checksum valid.
///
/// This is how Paris traceroute keeps the checksum (and so the flow hash of
/// load balancers that include it) constant while the sequence number changes.
pub fn compensation(sum_without: u32) -> [u8; 2] {
    // A checksum is valid when everything, the field included, sums to 0xffff; the
    // filler must add the one's complement of what the rest already sums to.
    fold(sum_without).to_be_bytes()
}

/// An ICMP echo request.
///
/// For IPv4 the checksum is computed here; for ICMPv6 the kernel fills it in.
pub fn echo_request(v6: bool, ident: u16, seq: u16, payload: &[u8]) -> Vec<u8> {
    let mut packet = Vec::with_capacity(8 + payload.len());
    packet.push(if v6 { V6_ECHO_REQUEST } else { V4_ECHO_REQUEST });
    packet.push(0);
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(&ident.to_be_bytes());
    packet.extend_from_slice(&seq.to_be_bytes());
    packet.extend_from_slice(payload);
    if !v6 {
        let sum = checksum(&packet);
        packet[2..4].copy_from_slice(&sum.to_be_bytes());
    }
    packet
}

/// An ICMPv4 echo request whose checksum is `wanted`, whatever `seq` is: the
/// first two payload bytes compensate (Paris traceroute). `payload_len` is at least 2.
pub fn paris_echo_request(ident: u16, seq: u16, wanted: u16, payload_len: usize) -> Vec<u8> {
    let mut packet = vec![0u8; 8 + payload_len.max(2)];
    packet[0] = V4_ECHO_REQUEST;
    packet[2..4].copy_from_slice(&wanted.to_be_bytes());
    packet[4..6].copy_from_slice(&ident.to_be_bytes());
    packet[6..8].copy_from_slice(&seq.to_be_bytes());
    let filler = compensation(ones_sum(&packet, 0));
    packet[8..10].copy_from_slice(&filler);
    packet
}

/// An ICMPv6 echo request whose checksum stays the same whatever `seq` is: the
/// first two payload bytes are the one's complement of `seq`, so the sum the
/// kernel computes (it fills in an ICMPv6 checksum itself, over a pseudo-header
/// that is the same for every probe of one flow) never changes (Paris traceroute).
/// `payload_len` is at least 2.
pub fn paris_echo6_request(ident: u16, seq: u16, payload_len: usize) -> Vec<u8> {
    let mut packet = vec![0u8; 8 + payload_len.max(2)];
    packet[0] = V6_ECHO_REQUEST;
    packet[4..6].copy_from_slice(&ident.to_be_bytes());
    packet[6..8].copy_from_slice(&seq.to_be_bytes());
    packet[8..10].copy_from_slice(&(!seq).to_be_bytes());
    packet
}

/// The payload of a UDP datagram whose checksum is `wanted`, given the addresses
/// (both of one family) and ports (Paris traceroute over UDP). The payload is
/// `len` bytes (at least 2), the first two of which compensate.
///
/// The pseudo-headers of both families sum to the same words (the addresses, the
/// protocol and the length; IPv6 only widens the length and pads with zeros), so
/// one sum serves both.
pub fn paris_udp_payload(
    source: IpAddr,
    destination: IpAddr,
    source_port: u16,
    destination_port: u16,
    wanted: u16,
    len: usize,
) -> Vec<u8> {
    let len = len.max(2);
    let udp_len = (8 + len) as u16;
    let octets = |address: IpAddr| match address {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    };
    let mut pseudo = Vec::with_capacity(48);
    pseudo.extend_from_slice(&octets(source));
    pseudo.extend_from_slice(&octets(destination));
    pseudo.extend_from_slice(&[0, PROTO_UDP]);
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    pseudo.extend_from_slice(&source_port.to_be_bytes());
    pseudo.extend_from_slice(&destination_port.to_be_bytes());
    pseudo.extend_from_slice(&udp_len.to_be_bytes());
    pseudo.extend_from_slice(&wanted.to_be_bytes());
    let mut payload = vec![0u8; len];
    let filler = compensation(ones_sum(&pseudo, 0));
    payload[..2].copy_from_slice(&filler);
    payload
}

/// What the probe that an ICMP error quotes was.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Quoted {
    /// An ICMP echo request.
    Echo {
        /// Its identifier.
        ident: u16,
        /// Its sequence number.
        seq: u16,
        /// Its checksum.
        checksum: u16,
    },
    /// A UDP datagram.
    Udp {
        /// Source port.
        source_port: u16,
        /// Destination port.
        destination_port: u16,
        /// Its length, header included (the probe's identity in our Paris
        /// traceroute over UDP: checksums may be quoted as the sender's NIC left
        /// them, half done).
        length: u16,
        /// Its checksum.
        checksum: u16,
    },
    /// Something else.
    Other,
}

/// A decoded ICMP message.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpMessage {
    /// An echo reply.
    EchoReply {
        /// Identifier (with a ping socket, the kernel's, not ours).
        ident: u16,
        /// Sequence number.
        seq: u16,
    },
    /// A router dropped the probe when its TTL ran out.
    TimeExceeded {
        /// Where the quoted probe was going.
        destination: IpAddr,
        /// The quoted probe.
        quoted: Quoted,
    },
    /// Destination unreachable.
    Unreachable {
        /// The ICMP code (3: port unreachable in IPv4).
        code: u8,
        /// Port unreachable (v4 code 3, v6 code 4)?
        port: bool,
        /// Where the quoted probe was going.
        destination: IpAddr,
        /// The quoted probe.
        quoted: Quoted,
    },
    /// Any other ICMP message (including our own echo requests on loopback).
    Other,
}

/// Skips an IPv4 header, returning the protocol, source, destination and the rest.
fn ipv4_header(bytes: &[u8]) -> Option<(u8, Ipv4Addr, Ipv4Addr, &[u8])> {
    let first = *bytes.first()?;
    if first >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(first & 0x0f) * 4;
    if header_len < 20 {
        return None;
    }
    let protocol = *bytes.get(9)?;
    let source = Ipv4Addr::from(<[u8; 4]>::try_from(bytes.get(12..16)?).ok()?);
    let destination = Ipv4Addr::from(<[u8; 4]>::try_from(bytes.get(16..20)?).ok()?);
    Some((protocol, source, destination, bytes.get(header_len..)?))
}

fn be16(bytes: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*bytes.get(at)?, *bytes.get(at + 1)?]))
}

/// Decodes the quoted probe in an ICMP error: an IP header and at least 8 bytes.
fn quoted(v6: bool, bytes: &[u8]) -> Option<(IpAddr, Quoted)> {
    let (protocol, destination, rest) = if v6 {
        if bytes.first()? >> 4 != 6 {
            return None;
        }
        let next = *bytes.get(6)?;
        let destination = Ipv6Addr::from(<[u8; 16]>::try_from(bytes.get(24..40)?).ok()?);
        (next, IpAddr::V6(destination), bytes.get(40..)?)
    } else {
        let (protocol, _, destination, rest) = ipv4_header(bytes)?;
        (protocol, IpAddr::V4(destination), rest)
    };
    let quoted = match protocol {
        PROTO_ICMP | PROTO_ICMPV6 => Quoted::Echo {
            ident: be16(rest, 4)?,
            seq: be16(rest, 6)?,
            checksum: be16(rest, 2)?,
        },
        PROTO_UDP => Quoted::Udp {
            source_port: be16(rest, 0)?,
            destination_port: be16(rest, 2)?,
            length: be16(rest, 4)?,
            checksum: be16(rest, 6)?,
        },
        _ => Quoted::Other,
    };
    Some((destination, quoted))
}

/// Decodes an ICMP message as a socket hands it over.
///
/// `ip_header`: the bytes start with an IPv4 header (raw IPv4 sockets); ping
/// sockets and ICMPv6 sockets hand over the ICMP message alone. Returns the
/// message and, with an IP header, the address it came from. Never panics.
pub fn decode(v6: bool, ip_header: bool, bytes: &[u8]) -> Option<(Option<IpAddr>, IcmpMessage)> {
    let (source, icmp) = if ip_header {
        let (protocol, source, _, rest) = ipv4_header(bytes)?;
        if protocol != PROTO_ICMP {
            return None;
        }
        (Some(IpAddr::V4(source)), rest)
    } else {
        (None, bytes)
    };
    let kind = *icmp.first()?;
    let code = *icmp.get(1)?;
    let (reply, unreachable, exceeded) = if v6 {
        (V6_ECHO_REPLY, V6_UNREACHABLE, V6_TIME_EXCEEDED)
    } else {
        (V4_ECHO_REPLY, V4_UNREACHABLE, V4_TIME_EXCEEDED)
    };
    let message = if kind == reply {
        IcmpMessage::EchoReply {
            ident: be16(icmp, 4)?,
            seq: be16(icmp, 6)?,
        }
    } else if kind == exceeded || kind == unreachable {
        let (destination, probe) = quoted(v6, icmp.get(8..)?)?;
        if kind == exceeded {
            IcmpMessage::TimeExceeded {
                destination,
                quoted: probe,
            }
        } else {
            IcmpMessage::Unreachable {
                code,
                port: if v6 { code == 4 } else { code == 3 },
                destination,
                quoted: probe,
            }
        }
    } else {
        IcmpMessage::Other
    };
    Some((source, message))
}

/// Words for an ICMP destination-unreachable code.
pub fn unreachable_reason(v6: bool, code: u8) -> &'static str {
    match (v6, code) {
        (false, 0) | (true, 0) => "network unreachable (ICMP)",
        (false, 1) | (true, 3) => "host unreachable (ICMP)",
        (false, 2) => "protocol unreachable (ICMP)",
        (false, 3) | (true, 4) => "port unreachable (ICMP)",
        (false, 9 | 10 | 13) | (true, 1) => "administratively prohibited (ICMP)",
        _ => "destination unreachable (ICMP)",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    #[test]
    fn echo_request_checksum_verifies() {
        let packet = echo_request(false, 0x1234, 7, b"blackout");
        assert_eq!(packet[0], 8);
        assert_eq!(checksum(&packet), 0, "a valid packet sums to zero");
    }

    #[test]
    fn paris_echo_keeps_checksum() {
        let wanted = 0xbeef;
        for seq in [0u16, 1, 2, 300, 0xffff] {
            let packet = paris_echo_request(0x4242, seq, wanted, 8);
            assert_eq!(checksum(&packet), 0, "seq {seq}");
            assert_eq!(be16(&packet, 2), Some(wanted));
            assert_eq!(be16(&packet, 6), Some(seq));
        }
    }

    #[test]
    fn paris_udp_checksum_is_the_wanted_one() {
        let (s, d) = (
            Ipv4Addr::new(198, 51, 100, 1),
            Ipv4Addr::new(203, 0, 113, 9),
        );
        for wanted in [1u16, 2, 0x8000, 0xfffe] {
            let payload = paris_udp_payload(s.into(), d.into(), 40000, 33434, wanted, 4);
            let udp_len = 8 + payload.len() as u16;
            let mut all = Vec::new();
            all.extend_from_slice(&s.octets());
            all.extend_from_slice(&d.octets());
            all.extend_from_slice(&[0, 17]);
            all.extend_from_slice(&udp_len.to_be_bytes());
            all.extend_from_slice(&40000u16.to_be_bytes());
            all.extend_from_slice(&33434u16.to_be_bytes());
            all.extend_from_slice(&udp_len.to_be_bytes());
            all.extend_from_slice(&wanted.to_be_bytes());
            all.extend_from_slice(&payload);
            assert_eq!(checksum(&all), 0, "wanted {wanted:#x}");
        }
    }

    /// The IPv6 pseudo-header's words for `length` bytes of `next` (RFC 8200 8.1).
    fn pseudo6(source: Ipv6Addr, destination: Ipv6Addr, next: u8, length: u32) -> Vec<u8> {
        let mut pseudo = Vec::new();
        pseudo.extend_from_slice(&source.octets());
        pseudo.extend_from_slice(&destination.octets());
        pseudo.extend_from_slice(&length.to_be_bytes());
        pseudo.extend_from_slice(&[0, 0, 0, next]);
        pseudo
    }

    #[test]
    fn paris_echo6_keeps_the_checksum_the_kernel_computes() {
        let (s, d): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::2".parse().unwrap(),
            "2001:db8:100::11".parse().unwrap(),
        );
        let mut sums = BTreeSet::new();
        for seq in [0u16, 1, 2, 0x0102, 0x3f3f, 0xffff] {
            let packet = paris_echo6_request(0x4242, seq, 16);
            assert_eq!(packet[0], V6_ECHO_REQUEST);
            assert_eq!(be16(&packet, 6), Some(seq));
            let mut all = pseudo6(s, d, PROTO_ICMPV6, packet.len() as u32);
            all.extend_from_slice(&packet);
            sums.insert(checksum(&all));
        }
        assert_eq!(
            sums.len(),
            1,
            "one checksum for every sequence number: {sums:?}"
        );
    }

    #[test]
    fn paris_udp6_checksum_is_the_wanted_one() {
        let (s, d): (Ipv6Addr, Ipv6Addr) = (
            "2001:db8::2".parse().unwrap(),
            "2001:db8:100::11".parse().unwrap(),
        );
        for (wanted, len) in [(1u16, 2usize), (0x4242, 13), (0xfffe, 130)] {
            let payload = paris_udp_payload(s.into(), d.into(), 40000, 33434, wanted, len);
            let udp_len = 8 + payload.len() as u16;
            let mut all = pseudo6(s, d, PROTO_UDP, u32::from(udp_len));
            all.extend_from_slice(&40000u16.to_be_bytes());
            all.extend_from_slice(&33434u16.to_be_bytes());
            all.extend_from_slice(&udp_len.to_be_bytes());
            all.extend_from_slice(&wanted.to_be_bytes());
            all.extend_from_slice(&payload);
            assert_eq!(checksum(&all), 0, "wanted {wanted:#x}");
        }
    }

    fn ipv6(next: u8, source: &str, destination: &str, body: &[u8]) -> Vec<u8> {
        let mut header = vec![0x60, 0, 0, 0];
        header.extend_from_slice(&(body.len() as u16).to_be_bytes());
        header.extend_from_slice(&[next, 1]);
        header.extend_from_slice(&source.parse::<Ipv6Addr>().unwrap().octets());
        header.extend_from_slice(&destination.parse::<Ipv6Addr>().unwrap().octets());
        header.extend_from_slice(body);
        header
    }

    #[test]
    fn decodes_icmpv6_replies_and_errors_with_the_quoted_probe() {
        let mut reply = paris_echo6_request(7, 0x0105, 8);
        reply[0] = V6_ECHO_REPLY;
        assert_eq!(
            decode(true, false, &reply),
            Some((
                None,
                IcmpMessage::EchoReply {
                    ident: 7,
                    seq: 0x0105
                }
            ))
        );
        // A router's time exceeded, quoting the echo request it dropped.
        let probe = paris_echo6_request(7, 3, 8);
        let mut error = vec![V6_TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&ipv6(
            PROTO_ICMPV6,
            "2001:db8::2",
            "2001:db8:100::11",
            &probe,
        ));
        let (_, message) = decode(true, false, &error).unwrap();
        assert_eq!(
            message,
            IcmpMessage::TimeExceeded {
                destination: "2001:db8:100::11".parse().unwrap(),
                quoted: Quoted::Echo {
                    ident: 7,
                    seq: 3,
                    checksum: 0
                }
            }
        );
        // The destination's port unreachable (code 4), quoting a UDP probe.
        let udp = [0x9c, 0x40, 0x82, 0x9a, 0, 13, 0x42, 0x42, 0, 0];
        let mut error = vec![V6_UNREACHABLE, 4, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&ipv6(PROTO_UDP, "2001:db8::2", "2001:db8:100::11", &udp));
        let (_, message) = decode(true, false, &error).unwrap();
        assert_eq!(
            message,
            IcmpMessage::Unreachable {
                code: 4,
                port: true,
                destination: "2001:db8:100::11".parse().unwrap(),
                quoted: Quoted::Udp {
                    source_port: 40000,
                    destination_port: 33434,
                    length: 13,
                    checksum: 0x4242
                }
            }
        );
        // Administratively prohibited (a filter that says so), and a quote cut short.
        let mut error = vec![V6_UNREACHABLE, 1, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&ipv6(PROTO_UDP, "2001:db8::2", "2001:db8:100::11", &udp));
        assert!(matches!(
            decode(true, false, &error),
            Some((
                None,
                IcmpMessage::Unreachable {
                    code: 1,
                    port: false,
                    ..
                }
            ))
        ));
        assert_eq!(
            unreachable_reason(true, 1),
            "administratively prohibited (ICMP)"
        );
        assert_eq!(decode(true, false, &error[..8 + 40 + 4]), None);
        // An IPv4 packet quoted in an ICMPv6 error is not ours.
        let inner = ipv4(17, [198, 51, 100, 1], [203, 0, 113, 9], &udp);
        let mut error = vec![V6_TIME_EXCEEDED, 0, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&inner);
        assert_eq!(decode(true, false, &error), None);
    }

    fn ipv4(protocol: u8, source: [u8; 4], destination: [u8; 4], body: &[u8]) -> Vec<u8> {
        let mut header = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, protocol, 0, 0];
        header.extend_from_slice(&source);
        header.extend_from_slice(&destination);
        header.extend_from_slice(body);
        header
    }

    #[test]
    fn decodes_replies_and_errors() {
        let mut reply = echo_request(false, 9, 3, b"x");
        reply[0] = 0;
        let raw = ipv4(1, [127, 0, 0, 5], [127, 0, 0, 1], &reply);
        assert_eq!(
            decode(false, true, &raw),
            Some((
                Some("127.0.0.5".parse().unwrap()),
                IcmpMessage::EchoReply { ident: 9, seq: 3 }
            ))
        );
        assert_eq!(
            decode(false, false, &reply),
            Some((None, IcmpMessage::EchoReply { ident: 9, seq: 3 }))
        );
        // A time-exceeded quoting a Paris echo request.
        let probe = paris_echo_request(9, 4, 0xabcd, 8);
        let inner = ipv4(1, [198, 51, 100, 1], [203, 0, 113, 9], &probe[..8]);
        let mut error = vec![11, 0, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&inner);
        let raw = ipv4(1, [198, 51, 100, 254], [198, 51, 100, 1], &error);
        assert_eq!(
            decode(false, true, &raw),
            Some((
                Some("198.51.100.254".parse().unwrap()),
                IcmpMessage::TimeExceeded {
                    destination: "203.0.113.9".parse().unwrap(),
                    quoted: Quoted::Echo {
                        ident: 9,
                        seq: 4,
                        checksum: 0xabcd
                    }
                }
            ))
        );
        // A port unreachable quoting a UDP probe.
        let udp = [0x9c, 0x40, 0x82, 0x9a, 0, 12, 0x12, 0x34];
        let inner = ipv4(17, [198, 51, 100, 1], [203, 0, 113, 9], &udp);
        let mut error = vec![3, 3, 0, 0, 0, 0, 0, 0];
        error.extend_from_slice(&inner);
        let (_, message) = decode(false, false, &error).unwrap();
        assert_eq!(
            message,
            IcmpMessage::Unreachable {
                code: 3,
                port: true,
                destination: "203.0.113.9".parse().unwrap(),
                quoted: Quoted::Udp {
                    source_port: 40000,
                    destination_port: 33434,
                    length: 12,
                    checksum: 0x1234
                }
            }
        );
    }

    #[test]
    fn never_panics_on_garbage() {
        for len in 0..64 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            for (v6, header) in [(false, true), (false, false), (true, false)] {
                let _ = decode(v6, header, &bytes);
            }
            let mut truncated = vec![0x45u8; len + 1];
            truncated[0] = 0x4f;
            let _ = decode(false, true, &truncated);
            let mut error = vec![11u8, 0, 0, 0, 0, 0, 0, 0];
            error.extend_from_slice(&truncated);
            let _ = decode(false, false, &error);
        }
    }
}
