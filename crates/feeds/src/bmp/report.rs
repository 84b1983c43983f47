//! What a BMP feed tells about its router, for the feed's health: the router's
//! identity (sysName, sysDescr), the views it sends and those that feed the BGP
//! state, what was skipped and why, each monitored peer (address, AS, BGP ID, up or
//! down with the reason, route counts) and the recent Peer Downs of peers that held
//! watched routes.
//!
//! [`super::BmpRouter::report`] builds a [`BmpRouterHealth`]; the station puts it in
//! [`crate::FeedHealth::router`]. Every text in it that came from the router (names,
//! descriptions, VRF names) is inert: bounded, control characters replaced.

use crate::update::Family;
use blackout_model::{PeerKey, Timestamp};
use blackout_profile::BmpView;
use serde::Serialize;
use std::net::{IpAddr, Ipv4Addr};

/// The most monitored peers a report lists (those holding watched routes first).
pub const MAX_PEERS_REPORTED: usize = 256;
/// The most recent Peer Downs of peers that held watched routes a report keeps.
pub const MAX_PEER_DOWNS_REPORTED: usize = 16;

/// A BMP router as its feed sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct BmpRouterHealth {
    /// sysName from the Initiation message.
    pub sys_name: Option<String>,
    /// sysDescr from the Initiation message.
    pub sys_descr: Option<String>,
    /// The views the profile lets feed the BGP state.
    pub views_configured: Vec<BmpView>,
    /// The views the router sends Route Monitoring in (global instance).
    pub views_sent: Vec<BmpView>,
    /// The views that feed the BGP state now.
    pub views_used: Vec<BmpView>,
    /// What was skipped, and why.
    pub skipped: Vec<Skipped>,
    /// Monitored peers, those holding watched routes first; at most
    /// [`MAX_PEERS_REPORTED`].
    pub peers: Vec<BmpPeerHealth>,
    /// Monitored peers known in all (the list may be shorter).
    pub peers_total: u32,
    /// Of which up.
    pub peers_up: u32,
    /// The latest Peer Downs of peers that held watched routes, oldest first; at most
    /// [`MAX_PEER_DOWNS_REPORTED`]. Each is a peer whose routes left the BGP state.
    pub peer_downs: Vec<BmpPeerDown>,
}

/// Route Monitoring that does not feed the BGP state, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Skipped {
    /// What, in words (`ipv4-vpn routes`, `RD-instance peers (RD 64499:14)`).
    pub what: String,
    /// Why, in words.
    pub why: String,
    /// Route Monitoring messages (for a family: UPDATE attributes) skipped.
    pub messages: u64,
}

/// Why a monitored peer is down.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerDownReason {
    /// The Peer Down reason code (RFC 7854 §4.9, RFC 9069 §5.4); `None` when no Peer
    /// Down came (the BMP session itself ended).
    pub code: Option<u8>,
    /// The reason in words, with the NOTIFICATION or FSM event that came with it.
    pub text: String,
}

/// One monitored peer: a BGP session of the router's, or its Loc-RIB.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BmpPeerHealth {
    /// The peer's address (for a Loc-RIB instance: the router's, as its route key has).
    pub address: IpAddr,
    /// The peer's AS (for a Loc-RIB instance: the router's own).
    pub asn: u32,
    /// The peer's BGP identifier.
    pub bgp_id: Ipv4Addr,
    /// `global`, `rd-instance`, `local-instance`, `loc-rib` or `type N`.
    pub peer_type: String,
    /// The peer distinguisher, where it is not zero (a VRF's route distinguisher).
    pub distinguisher: Option<String>,
    /// The VRF or table name the router gave (Loc-RIB instances).
    pub table_name: Option<String>,
    /// A Loc-RIB instance that is filtered (F flag): not the complete table.
    pub filtered: bool,
    /// Up (a Peer Up, or routes, and no Peer Down since).
    pub up: bool,
    /// Since when it is up or down.
    pub since: Timestamp,
    /// Why it is down.
    pub down_reason: Option<PeerDownReason>,
    /// The views the router sent of it.
    pub views_sent: Vec<BmpView>,
    /// The view that feeds the BGP state, if one does.
    pub view: Option<BmpView>,
    /// The key its routes have in the BGP state, if they feed it.
    pub key: Option<PeerKey>,
    /// Watched routes held (after the prefix filter).
    pub routes: u32,
    /// Of which IPv4.
    pub routes_ipv4: u32,
    /// Of which IPv6.
    pub routes_ipv6: u32,
    /// The router's count of this peer's routes (Statistics Report: Adj-RIB-In, or
    /// Loc-RIB for a Loc-RIB instance), all families.
    pub table_routes: Option<u64>,
    /// The same for IPv4 unicast (per-AFI/SAFI gauge).
    pub table_ipv4: Option<u64>,
    /// The same for IPv6 unicast.
    pub table_ipv6: Option<u64>,
}

/// A monitored peer that held watched routes went down: feed evidence, never a
/// target outage by itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BmpPeerDown {
    /// The key its routes had in the BGP state (they were flushed with it).
    pub peer: PeerKey,
    /// When (the router's stamp, else the arrival).
    pub at: Timestamp,
    /// Why.
    pub reason: PeerDownReason,
    /// Watched routes it held.
    pub routes: u32,
}

/// A family's routes in words for a "skipped" line: `ipv4-vpn routes (VPN)`.
pub(crate) fn family_routes(family: Family) -> String {
    format!("{family} routes ({})", family.kind_text())
}
