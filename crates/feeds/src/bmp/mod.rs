//! The BMP station (RFC 7854): routers connect and report their peers' routes.
//!
//! - [`BmpFramer`] (framer): bytes in, whole messages out, whatever the segmentation;
//! - [`decode`] (message): one message into a typed [`BmpMessage`];
//! - [`BmpRouter`] (router): one router's session, sans-IO: Peer Up context, the one
//!   view of each peer that feeds the BGP state, its routes, and the
//!   [`blackout_model::BgpInput`]s that follow;
//! - [`BmpRouterHealth`] (report): the router's identity, views, skipped routes and
//!   monitored peers, for the feed's health;
//! - [`BmpStation`] (station): the tokio listener with the allow-list, one task per
//!   router connection, and each router's health.

mod framer;
mod message;
mod report;
mod router;
mod station;

pub use framer::{BmpFramer, COMMON_HEADER_LEN, FramingError, MAX_BMP_MESSAGE};
pub use message::{
    BmpError, BmpMessage, MAX_TEXT_CHARS, PeerDown, PeerDownDetail, PeerHeader, PeerType, PeerUp,
    RouteMonitoring, StatCounter, Statistics, decode, msg_type,
};
pub use report::{
    BmpPeerDown, BmpPeerHealth, BmpRouterHealth, MAX_PEER_DOWNS_REPORTED, MAX_PEERS_REPORTED,
    PeerDownReason, Skipped,
};
pub use router::{
    BmpOptions, BmpRouter, BmpView, BmpViews, LIVE_WITHDRAWAL_SKEW_SECS, MAX_MONITORED_PEERS,
    RouterStats,
};
pub use station::{BmpStation, BmpStationConfig, DEFAULT_STALL_TIMEOUT};
