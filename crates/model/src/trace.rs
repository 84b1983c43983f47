//! Reactive traceroute: what the engine asks the edge to trace when an event
//! starts ([`TraceRequest`]), and what comes back ([`TraceReport`]), which the
//! engine turns into `probe.trace` evidence on the event.
//!
//! The engine only decides and records; the traceroutes themselves run at the
//! edge (`watch`'s tracer), which hands the report back with the time it ended.

use crate::{Asn, EventId, Timestamp};
use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::net::IpAddr;

/// A traceroute the engine wants run: toward one affected target of an event.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRequest {
    /// The event whose evidence the trace is for.
    pub event: EventId,
    /// The target as the event names it (a host name or an address).
    pub target: String,
    /// Its address, where the profile fixes one; else the edge resolves the name.
    pub address: Option<IpAddr>,
    /// The one vantage point that is to run it (one that was away when the event
    /// started); none: every vantage point.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vantage: Option<String>,
}

impl TraceRequest {
    /// Is this request for the vantage point `vantage`?
    pub fn is_for(&self, vantage: &str) -> bool {
        self.vantage.as_deref().is_none_or(|asked| asked == vantage)
    }
}

/// One hop of a reported traceroute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceHop {
    /// The TTL (hop limit, in IPv6) of the probe.
    pub ttl: u8,
    /// Who answered, if anyone did.
    pub address: Option<IpAddr>,
    /// The AS of the address that answered, where known.
    pub asn: Option<Asn>,
}

/// What a traceroute toward an event's target found.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TraceReport {
    /// The event it was asked for.
    pub event: EventId,
    /// The target, as in the request.
    pub target: String,
    /// When the trace ended.
    pub at: Timestamp,
    /// Where it ran from.
    pub vantage: String,
    /// The address traced, once known.
    pub address: Option<IpAddr>,
    /// `icmp` or `udp`.
    pub mode: String,
    /// Every hop up to the destination or the last TTL tried.
    pub hops: Vec<TraceHop>,
    /// Did the destination answer?
    pub reached: bool,
    /// Why no trace could be made (no address, no raw socket), already inert.
    pub failure: Option<String>,
}

impl TraceReport {
    /// The last hop that answered: where the path dies when the destination is dark.
    pub fn last_answering(&self) -> Option<&TraceHop> {
        self.hops.iter().rev().find(|hop| hop.address.is_some())
    }

    /// The report in words, for the event's evidence: the hops, the last that
    /// answered and its AS, and whether the destination answered.
    pub fn describe(&self) -> String {
        let mut text = format!("traceroute to {}", self.target);
        if let Some(address) = self.address
            && address.to_string() != self.target
        {
            let _ = write!(text, " ({address})");
        }
        let _ = write!(text, " from {}", self.vantage);
        if let Some(failure) = &self.failure {
            let _ = write!(text, " could not be made: {failure}");
            return text;
        }
        let _ = write!(text, " over {}: ", self.mode);
        match (self.reached, self.last_answering()) {
            (true, _) => text.push_str("reached the destination"),
            (false, Some(hop)) => {
                let _ = write!(
                    text,
                    "the destination did not answer; the last hop that did is {} at hop {}",
                    hop.address.map(|a| a.to_string()).unwrap_or_default(),
                    hop.ttl
                );
                match hop.asn {
                    Some(asn) => {
                        let _ = write!(text, " ({asn})");
                    }
                    None => text.push_str(" (AS unknown)"),
                }
            }
            (false, None) => text.push_str("no hop answered"),
        }
        let hops: Vec<String> = self
            .hops
            .iter()
            .map(|hop| match (hop.address, hop.asn) {
                (Some(address), Some(asn)) => format!("{} {address} {asn}", hop.ttl),
                (Some(address), None) => format!("{} {address}", hop.ttl),
                (None, _) => format!("{} *", hop.ttl),
            })
            .collect();
        if !hops.is_empty() {
            let _ = write!(text, "; hops: {}", hops.join(", "));
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hop(ttl: u8, address: Option<&str>, asn: Option<u32>) -> TraceHop {
        TraceHop {
            ttl,
            address: address.map(|a| a.parse().unwrap()),
            asn: asn.map(Asn),
        }
    }

    fn report(hops: Vec<TraceHop>, reached: bool) -> TraceReport {
        TraceReport {
            event: EventId("ev-1".into()),
            target: "www.lab.example".into(),
            at: Timestamp::from_secs_f64(100.0),
            vantage: "local".into(),
            address: Some("2001:db8:100::11".parse().unwrap()),
            mode: "icmp".into(),
            hops,
            reached,
            failure: None,
        }
    }

    #[test]
    fn a_dark_path_names_its_last_answering_hop_and_its_as() {
        let dark = report(
            vec![
                hop(1, Some("2001:db8::1"), None),
                hop(2, Some("2001:db8:0:1::1"), Some(64500)),
                hop(3, None, None),
            ],
            false,
        );
        assert_eq!(dark.last_answering().map(|h| h.ttl), Some(2));
        assert_eq!(
            dark.describe(),
            "traceroute to www.lab.example (2001:db8:100::11) from local over icmp: the destination did not answer; the last hop that did is 2001:db8:0:1::1 at hop 2 (AS64500); hops: 1 2001:db8::1, 2 2001:db8:0:1::1 AS64500, 3 *"
        );
        let unknown = report(vec![hop(1, Some("2001:db8::1"), None)], false);
        assert!(unknown.describe().contains("at hop 1 (AS unknown)"));
        let silent = report(vec![hop(1, None, None)], false);
        assert!(silent.describe().contains("no hop answered"));
    }

    #[test]
    fn a_reached_destination_and_a_failure_say_so() {
        let reached = report(vec![hop(1, Some("2001:db8:100::11"), Some(64500))], true);
        assert!(reached.describe().contains("reached the destination"));
        let failed = TraceReport {
            failure: Some("no raw socket".into()),
            ..report(Vec::new(), false)
        };
        assert_eq!(
            failed.describe(),
            "traceroute to www.lab.example (2001:db8:100::11) from local could not be made: no raw socket"
        );
    }
}
