//! The real RIS rrc06 RIB of 2010-07-01 (`text/ris-rrc06_bview…`, `bgpdump -m`
//! text, 641,957 routes) as the feed benchmarks send it: each route read back,
//! then encoded as one BMP Route Monitoring message or one RIS Live `ris_message`.

use flate2::read::GzDecoder;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::Path;

/// The RIB's text, under the data's directory.
pub const RIB_TEXT: &str = "text/ris-rrc06_bview.20100701.0759.bgpdump-m.txt.gz";

/// One route of the RIB, or a withdrawal when its path is empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// The peer that has it.
    pub peer: IpAddr,
    /// The peer's AS.
    pub peer_as: u32,
    /// The prefix.
    pub prefix: ipnet::IpNet,
    /// The AS path (AS sets, rare in 2010, are left out); empty for a withdrawal.
    pub path: Vec<u32>,
}

/// Every route of the RIB's text under `data` (the data's directory), in file order.
pub fn routes(data: &Path) -> std::io::Result<Vec<Route>> {
    let path = data.join(RIB_TEXT);
    let file = std::fs::File::open(&path)
        .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", path.display())))?;
    let mut routes = Vec::new();
    for line in BufReader::new(GzDecoder::new(file)).lines() {
        let line = line?;
        let fields: Vec<&str> = line.split('|').collect();
        let (Some(peer), Some(peer_as), Some(prefix), Some(path)) =
            (fields.get(3), fields.get(4), fields.get(5), fields.get(6))
        else {
            continue;
        };
        let (Ok(peer), Ok(peer_as), Ok(prefix)) = (peer.parse(), peer_as.parse(), prefix.parse())
        else {
            continue;
        };
        let path: Vec<u32> = path.split(' ').filter_map(|a| a.parse().ok()).collect();
        routes.push(Route {
            peer,
            peer_as,
            prefix,
            path,
        });
    }
    Ok(routes)
}

/// Appends one Route Monitoring message (BMP v3, global pre-policy peer, 4-byte
/// AS) for `route`, stamped `secs`, to `out`.
pub fn route_monitoring(route: &Route, secs: u32, out: &mut Vec<u8>) {
    let mut update = Vec::new();
    let (prefix_len, octets) = match route.prefix {
        ipnet::IpNet::V4(net) => (net.prefix_len(), net.addr().octets().to_vec()),
        ipnet::IpNet::V6(net) => (net.prefix_len(), net.addr().octets().to_vec()),
    };
    let nlri: Vec<u8> = std::iter::once(prefix_len)
        .chain(octets.into_iter().take(usize::from(prefix_len).div_ceil(8)))
        .collect();
    if route.path.is_empty() {
        update.extend_from_slice(&(nlri.len() as u16).to_be_bytes());
        update.extend_from_slice(&nlri);
        update.extend_from_slice(&[0, 0]);
    } else {
        let mut attrs = vec![0x40, 1, 1, 0];
        let segment_len = 2 + 4 * route.path.len();
        attrs.extend_from_slice(&[0x50, 2]);
        attrs.extend_from_slice(&(segment_len as u16).to_be_bytes());
        attrs.extend_from_slice(&[2, route.path.len() as u8]);
        for asn in &route.path {
            attrs.extend_from_slice(&asn.to_be_bytes());
        }
        attrs.extend_from_slice(&[0x40, 3, 4, 192, 0, 2, 1]);
        update.extend_from_slice(&[0, 0]);
        update.extend_from_slice(&(attrs.len() as u16).to_be_bytes());
        update.extend_from_slice(&attrs);
        update.extend_from_slice(&nlri);
    }
    let bgp_len = 19 + update.len();
    let total = 6 + 42 + bgp_len;
    out.push(3);
    out.extend_from_slice(&(total as u32).to_be_bytes());
    out.push(0);
    out.extend_from_slice(&[0, 0]);
    out.extend_from_slice(&[0; 8]);
    match route.peer {
        IpAddr::V4(v4) => {
            out.extend_from_slice(&[0; 12]);
            out.extend_from_slice(&v4.octets());
        }
        IpAddr::V6(v6) => out.extend_from_slice(&v6.octets()),
    }
    out.extend_from_slice(&route.peer_as.to_be_bytes());
    out.extend_from_slice(&[192, 0, 2, 9]);
    out.extend_from_slice(&secs.to_be_bytes());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.extend_from_slice(&[0xff; 16]);
    out.extend_from_slice(&(bgp_len as u16).to_be_bytes());
    out.push(2);
    out.extend_from_slice(&update);
}

/// One RIS Live `ris_message` UPDATE for `route` at `time` (seconds since the
/// epoch), shaped like the real one in the data's `rislive/`.
pub fn ris_live_update(route: &Route, time: f64) -> String {
    if route.path.is_empty() {
        return format!(
            r#"{{"type":"ris_message","data":{{"timestamp":{time},"peer":"{}","peer_asn":"{}","id":"x","host":"rrc06","type":"UPDATE","withdrawals":["{}"]}}}}"#,
            route.peer, route.peer_as, route.prefix
        );
    }
    let path: Vec<String> = route.path.iter().map(u32::to_string).collect();
    format!(
        r#"{{"type":"ris_message","data":{{"timestamp":{time},"peer":"{}","peer_asn":"{}","id":"x","host":"rrc06","type":"UPDATE","path":[{}],"community":[[2497,100]],"origin":"igp","announcements":[{{"next_hop":"{}","prefixes":["{}"]}}]}}}}"#,
        route.peer,
        route.peer_as,
        path.join(","),
        route.peer,
        route.prefix
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(path: &[u32]) -> Route {
        Route {
            peer: "192.0.2.1".parse().unwrap(),
            peer_as: 64496,
            prefix: "203.0.113.0/24".parse().unwrap(),
            path: path.to_vec(),
        }
    }

    #[test]
    fn a_route_monitoring_message_says_its_own_length() {
        for path in [&[64496, 64500][..], &[]] {
            let mut out = Vec::new();
            route_monitoring(&route(path), 1_277_971_199, &mut out);
            assert_eq!(out[0], 3, "BMP version 3");
            let length = u32::from_be_bytes(out[1..5].try_into().unwrap()) as usize;
            assert_eq!(length, out.len());
            assert_eq!(out[5], 0, "Route Monitoring");
            // The BGP message's marker, then its own length and type (UPDATE).
            let bgp = &out[6 + 42..];
            assert_eq!(&bgp[..16], &[0xff; 16]);
            assert_eq!(u16::from_be_bytes([bgp[16], bgp[17]]) as usize, bgp.len());
            assert_eq!(bgp[18], 2);
        }
    }

    #[test]
    fn a_ris_live_update_announces_or_withdraws() {
        let announce = ris_live_update(&route(&[64496, 64500]), 1.5);
        assert!(announce.contains(r#""path":[64496,64500]"#), "{announce}");
        assert!(
            announce.contains(r#""prefixes":["203.0.113.0/24"]"#),
            "{announce}"
        );
        let withdraw = ris_live_update(&route(&[]), 1.5);
        assert!(
            withdraw.contains(r#""withdrawals":["203.0.113.0/24"]"#),
            "{withdraw}"
        );
    }
}
