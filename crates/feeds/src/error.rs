//! Errors of the feeds' I/O layer. Decoding problems never surface here: they are
//! counted and reported in the feed's health, and the feed goes on.

use std::net::SocketAddr;

/// Why a feed stopped for good. Every other problem (a router that disconnects or
/// sends garbage, a websocket that drops) is retried and shows in [`crate::FeedHealth`].
#[derive(Debug, thiserror::Error)]
pub enum FeedError {
    /// The listening socket could not be opened: fix the address or free the port.
    #[error("cannot listen for {what} on {addr}: {source}")]
    Listen {
        /// BMP or BGP.
        what: &'static str,
        /// Where.
        addr: SocketAddr,
        /// The socket error.
        source: std::io::Error,
    },
    /// The RIS Live URL is not a ws:// or wss:// URL with a host: fix the profile.
    #[error("RIS Live URL `{url}` is not usable: {reason}")]
    Url {
        /// The URL.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Whoever consumed the feed's events is gone: the feed stops.
    #[error("the consumer of the feed's events has gone away")]
    Closed,
}
