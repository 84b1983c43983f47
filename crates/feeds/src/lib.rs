//! Live BGP feeds: a BMP station, a passive or active BGP session and a RIS Live
//! client, each producing the same [`BgpInput`]s as archive replay (so archives and
//! live feeds share one BGP state and one code path) plus the feed's own
//! [`FeedHealth`]. Every feed carries IPv4 and IPv6 unicast.
//!
//! The protocol logic is sans-IO, fed bytes and the time:
//! - `wire`, [`update`], [`message`]: bounds-checked decoding of BGP UPDATEs (unicast
//!   routes and AS paths from the classic fields and MP_REACH/MP_UNREACH, per-family
//!   ADD-PATH, 4-byte AS) and of OPEN (with its capabilities), NOTIFICATION and
//!   KEEPALIVE;
//! - [`bmp`]: BMP framing and decoding (RFC 7854, Loc-RIB of RFC 9069), and
//!   [`BmpRouter`], one router's session: the one view of each monitored peer that
//!   feeds the BGP state, its routes, and the router's report ([`BmpRouterHealth`]:
//!   sysName, sysDescr, peers, Peer Downs, what is skipped and why);
//! - [`fsm`]: [`BgpSession`], the BGP finite state machine as a pure function of
//!   (now, event) returning actions, with multiprotocol IPv4/IPv6 negotiation;
//! - [`rislive`]: [`RisLiveSession`], RIS Live JSON into route inputs;
//! - [`health`]: [`HealthTracker`] and [`feed_problems`], which says which feeds are
//!   stale or down.
//!
//! The thin tokio layer ([`BmpStation`], [`run_bgp_session`], [`run_ris_live`]) owns
//! the sockets and the clock and sends [`FeedEvent`]s into a channel. A lost session
//! (closed, reset, garbage, a hold timer, a BMP message left half-sent) always ends
//! with a [`BgpInput::PeerDown`] for each of its peers, so that the routes it reported
//! are flushed.
//!
//! # Peer keys
//! Each observer of the routes is one [`blackout_model::PeerKey`]:
//! - BMP: a monitored peer through one of its Adj-RIB-In views, `bmp:<router>`
//!   (pre-policy) or `bmp:<router>:post` (post-policy, where the router sends no
//!   pre-policy of it), with the peer's address and AS; the router itself through
//!   its Loc-RIB, `bmp:<router>:loc-rib` with the router's address and AS. Never two
//!   views of one peer: see [`bmp`]'s router module.
//! - a BGP session: `bgp:<router>`, the router's address and AS;
//! - RIS Live: the collector's name (`rrc00`), the peer's address and AS.
//!
//! # Known Issues
//! - Only IPv4 and IPv6 unicast routes are followed; VPN, labelled and other families
//!   are skipped and counted, and so are RD-instance peers and the Loc-RIBs of VRFs
//!   (the route model carries no AFI/SAFI or RD). A network whose Internet table
//!   lives in a VRF cannot be watched over BMP yet.
//! - The routers' own table sizes (BMP Statistics Reports) are in the feed's health,
//!   not fed to the BGP state as [`BgpInput::TableSize`]: that would change which
//!   peers count as full-feed, the BGP state's decision.
//! - The BGP session does not offer ADD-PATH. It offers graceful restart with no
//!   family, only so that routers end their table with an End-of-RIB: a restart of
//!   the router is a session loss (routes flushed, then learnt again).
//! - BMP Route Mirroring is ignored. FRR 8.4 has no Loc-RIB monitoring, so Loc-RIB is
//!   tested on captures of real routers only.
//! - Text from routers (sysName, sysDescr, VRF names) and from RIS Live is made
//!   inert where it is decoded, by `blackout_model::text::inert`.

mod error;
mod wire;

pub mod bmp;
pub mod fsm;
pub mod health;
pub mod message;
pub mod rislive;
mod session;
pub mod update;

pub use bmp::{
    BmpOptions, BmpPeerDown, BmpPeerHealth, BmpRouter, BmpRouterHealth, BmpStation,
    BmpStationConfig, BmpView, BmpViews, PeerDownReason,
};
pub use error::FeedError;
pub use fsm::{BgpSession, SessionConfig, SessionState};
pub use health::{
    FeedHealth, FeedId, FeedKind, FeedProblem, FeedProblemKind, FeedState, Gap, HealthTracker,
    SessionHealth, feed_problems,
};
pub use rislive::{RisLiveConfig, RisLiveSession, run_ris_live};
pub use session::{BgpFeedConfig, Dial, run_bgp_session};
pub use wire::Truncated;

use blackout_model::BgpInput;
use blackout_model::PrefixFilter;
use blackout_profile::{FeedConfig, SessionMode};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// What a feed reports.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedEvent {
    /// A route input for the BGP state.
    Input(BgpInput),
    /// The feed's health now (on every change of state, and every few seconds).
    Health(FeedHealth),
}

/// Where feeds send their events.
pub type FeedSender = tokio::sync::mpsc::Sender<FeedEvent>;

/// A feed ready to run, built from a profile's `[[feed]]`.
#[derive(Clone, Debug)]
pub enum Feed {
    /// A BMP station.
    Bmp(BmpStationConfig),
    /// A BGP session.
    Bgp(BgpFeedConfig),
    /// A RIS Live client.
    RisLive(RisLiveConfig),
}

impl Feed {
    /// The feed a profile describes, passing the routes `filter` wants (build it from
    /// the watch set's prefixes and aggregates).
    pub fn from_config(config: &FeedConfig, filter: &PrefixFilter) -> Feed {
        let health_interval = Duration::from_secs(5);
        match config {
            FeedConfig::RisLive { url } => {
                Feed::RisLive(RisLiveConfig::new(url.clone(), filter.clone()))
            }
            FeedConfig::Bmp {
                listen,
                allow,
                views,
            } => Feed::Bmp(BmpStationConfig {
                listen: *listen,
                allow: allow.clone(),
                options: BmpOptions {
                    views: BmpViews::from_list(views),
                    filter: filter.clone(),
                },
                health_interval,
                stall_timeout: bmp::DEFAULT_STALL_TIMEOUT,
            }),
            FeedConfig::Bgp {
                peer,
                peer_as,
                local_as,
                router_id,
                mode,
                port,
            } => {
                let any: IpAddr = match peer {
                    IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
                    IpAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
                };
                let dial = match mode {
                    SessionMode::Passive => Dial::Passive(SocketAddr::new(any, *port)),
                    SessionMode::Active => Dial::Active(SocketAddr::new(*peer, *port)),
                };
                Feed::Bgp(BgpFeedConfig {
                    session: SessionConfig {
                        peer: *peer,
                        peer_as: *peer_as,
                        local_as: *local_as,
                        router_id: *router_id,
                        hold_time: fsm::DEFAULT_HOLD_TIME,
                        filter: filter.clone(),
                    },
                    dial,
                    retry_min: Duration::from_secs(1),
                    retry_max: Duration::from_secs(60),
                    health_interval,
                })
            }
        }
    }

    /// Runs the feed until its listening socket fails or `events`' receiver is dropped.
    pub async fn run(self, events: FeedSender) -> Result<(), FeedError> {
        match self {
            Feed::Bmp(config) => BmpStation::bind(config).await?.run(events).await,
            Feed::Bgp(config) => run_bgp_session(config, events).await,
            Feed::RisLive(config) => run_ris_live(config, events).await,
        }
    }
}
