//! The BGP state: what the world's routers say about what is tracked.
//!
//! Pure and deterministic: [`BgpState::apply`] takes one [`BgpInput`] (a route
//! update, a peer going down, a peer's table size) with its timestamp and returns
//! the [`BgpChange`]s it caused. No clock, no I/O: archives, BMP, BGP sessions and
//! RIS Live all feed the same state through the same path.
//!
//! - [`Tracking`]: what is tracked: a profile's networks ([`WatchSet`]), or every
//!   prefix of the full feeds by country and origin AS ([`GlobalSet`]).
//! - [`BgpState`]: the routes per prefix, which peers are full-feed, and per
//!   tracked prefix and per entity ([`EntityInfo`], [`Aggregates`]) what the
//!   full-feed peers see, kept up to date route by route: no input scans every
//!   prefix, except a peer's own session going down or the full-feed set changing.
//! - [`Vrps`] and [`RpkiState`]: route origin validation (RFC 6811) against
//!   validated ROA payloads from rpki-client or Routinator.
//!
//! [`BgpInput`]: blackout_model::BgpInput

mod entities;
mod rpki;
mod state;
mod watch;

pub use entities::{Aggregates, EntityIdx, EntityInfo, EntityRole};
pub use rpki::{RpkiState, Vrp, Vrps, VrpsError};
pub use state::{
    BgpChange, BgpState, ChangeKind, PrefixId, PrefixSummary, PrefixView, Relation, family, share,
    upstream_share,
};
pub use watch::{GlobalSet, Tracking, WatchSet, WatchedNetwork};
