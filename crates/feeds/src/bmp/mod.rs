//! The BMP station (RFC 7854): routers connect and report their peers' routes.
//!
//! - [`BmpFramer`] (framer): bytes in, whole messages out, whatever the segmentation;
//! - [`decode`] (message): one message into a typed [`BmpMessage`];
//! - [`BmpRouter`] (router): one router's session, sans-IO: Peer Up context, per-peer
//!   routes, and the [`blackout_model::BgpInput`]s that follow;
//! - [`BmpStation`] (station): the tokio listener with the allow-list, one task per
//!   router connection, and each router's health.

mod framer;
mod message;
mod router;
mod station;

pub use framer::{BmpFramer, COMMON_HEADER_LEN, FramingError, MAX_BMP_MESSAGE};
pub use message::{
    BmpError, BmpMessage, PeerDown, PeerHeader, PeerType, PeerUp, RouteMonitoring, Statistics,
    decode, msg_type,
};
pub use router::{BmpOptions, BmpRouter, BmpViews, RouterStats};
pub use station::{BmpStation, BmpStationConfig};
