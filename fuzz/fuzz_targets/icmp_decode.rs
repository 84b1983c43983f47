//! Arbitrary bytes as what a raw ICMP socket (with its IPv4 header) or an ICMPv6
//! socket hands the traceroute and the pinger: answers from any router on the path.
//!
//! Invariants beyond "no panic": the first byte picks the family and whether an
//! IPv4 header comes first; a message names addresses of the socket's family
//! only (a quoted packet of the other family is refused, not misread); "port
//! unreachable" is exactly the family's code for it; and a message decoded from
//! a prefix of the bytes is never contradicted by the whole (an error that
//! decodes from its first N bytes decodes the same from all of them, since
//! nothing after the quoted probe's first 8 bytes is read).

#![no_main]

use blackout_probe::icmp::packet::{IcmpMessage, decode};
use libfuzzer_sys::fuzz_target;
use std::net::IpAddr;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let v6 = selector & 1 == 1;
    let ip_header = !v6 && selector & 2 == 2;
    let family_ok = |address: &IpAddr| address.is_ipv6() == v6;
    let decoded = decode(v6, ip_header, bytes);
    if let Some((source, message)) = &decoded {
        assert_eq!(source.is_some(), ip_header);
        assert!(source.as_ref().is_none_or(family_ok));
        match message {
            IcmpMessage::TimeExceeded { destination, .. } => assert!(family_ok(destination)),
            IcmpMessage::Unreachable {
                code,
                port,
                destination,
                ..
            } => {
                assert!(family_ok(destination));
                assert_eq!(*port, *code == if v6 { 4 } else { 3 });
            }
            IcmpMessage::EchoReply { .. } | IcmpMessage::Other => {}
        }
    }
    // More bytes never change what a shorter message already said.
    for cut in 0..bytes.len() {
        if let Some(shorter) = decode(v6, ip_header, &bytes[..cut]) {
            assert_eq!(Some(shorter), decoded, "cut at {cut}");
        }
    }
});
