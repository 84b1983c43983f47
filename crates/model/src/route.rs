//! Route updates: the one shape in which every BGP source reports what it saw.

use crate::{AsPath, Asn, Timestamp};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

/// A BGP speaker whose routes blackout sees: a collector's peer in an archive or
/// on RIS Live, a router's monitored peer over BMP, or the far end of a BGP session.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PeerKey {
    /// Where the peer is seen from: a collector (`rrc06`, `route-views2`), a BMP
    /// router or a session.
    pub collector: Arc<str>,
    /// The peer's address.
    pub ip: IpAddr,
    /// The peer's AS.
    pub asn: Asn,
}

impl fmt::Display for PeerKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.collector, self.ip, self.asn)
    }
}

/// What happened to a route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RouteChange {
    /// The peer now uses this path (a RIB entry counts as an announcement).
    Announce {
        /// The path as the peer reported it.
        as_path: AsPath,
    },
    /// The peer no longer has a route.
    Withdraw,
}

/// One route of one peer changed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RouteUpdate {
    /// When the source saw it.
    pub at: Timestamp,
    /// Who has (or had) the route.
    pub peer: PeerKey,
    /// The prefix.
    pub prefix: IpNet,
    /// The ADD-PATH path identifier (RFC 7911), when the source uses ADD-PATH.
    pub path_id: Option<u32>,
    /// The new state of the route.
    pub change: RouteChange,
}

/// Everything a BGP source feeds into the BGP state. It serializes (tagged by
/// `kind`) so an agent can relay its feeds' inputs to a central.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BgpInput {
    /// A route changed.
    Route(RouteUpdate),
    /// A peer's session went down: all its routes are gone.
    PeerDown {
        /// When.
        at: Timestamp,
        /// Which peer.
        peer: PeerKey,
    },
    /// The size of a peer's whole table, as a RIB dump shows it; this is how
    /// full-feed peers are told from partial ones.
    TableSize {
        /// When the table was dumped.
        at: Timestamp,
        /// Which peer.
        peer: PeerKey,
        /// IPv4 unicast prefixes in the peer's table.
        ipv4: u32,
        /// IPv6 unicast prefixes in the peer's table.
        ipv6: u32,
    },
}

impl BgpInput {
    /// When the input was observed.
    pub fn at(&self) -> Timestamp {
        match self {
            BgpInput::Route(update) => update.at,
            BgpInput::PeerDown { at, .. } | BgpInput::TableSize { at, .. } => *at,
        }
    }
}
