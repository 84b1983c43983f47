//! The BGP state: what the world's routers say about the watched networks.
//!
//! Pure and deterministic: [`BgpState::apply`] takes one [`BgpInput`] (a route
//! update, a peer going down, a peer's table size) with its timestamp and returns
//! the [`BgpChange`]s it caused. No clock, no I/O: archives, BMP, BGP sessions and
//! RIS Live all feed the same state through the same path.
//!
//! - [`WatchSet`]: the prefixes, origins and upstreams of a profile, and the
//!   test of whether a prefix concerns them (equal, covering or more-specific).
//! - [`BgpState`]: per peer, the routes to those prefixes; which peers are
//!   full-feed; and from that, per prefix, the visibility, the upstreams and the
//!   origins, compared after each input with what they were before.
//! - [`Vrps`] and [`RpkiState`]: route origin validation (RFC 6811) against
//!   validated ROA payloads from rpki-client or Routinator.
//!
//! [`BgpInput`]: blackout_model::BgpInput

mod rpki;
mod state;
mod watch;

pub use rpki::{RpkiState, Vrp, Vrps, VrpsError};
pub use state::{BgpChange, BgpState, PrefixSummary, PrefixView, Relation, upstream_share};
pub use watch::WatchSet;
