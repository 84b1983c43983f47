//! The engine: blackout's one deterministic core.
//!
//! Model values and the time go in; event updates and series points come out.
//! Nothing here reads a clock or does I/O, so the same inputs always give the
//! same events. Three drivers feed it, each with its own clock:
//!
//! - `blackout watch`, on the wall clock: routes from its feeds, probe results,
//!   feed health, VRP files as they change, and the passing of time;
//! - `blackout replay`, on the archive's clock: routes from MRT files, and VRP
//!   snapshots from the time each was made;
//! - the scenario tests, on a simulated clock.
//!
//! The [`Engine`] owns the [`BgpState`] (routes, full-feed peers, per-prefix and
//! per-entity aggregates, kept route by route) and the [`Detector`] (state
//! machines with hysteresis, the attribution rules, the event book), and makes
//! the series ([`series`]). The first look after a restart ([`Engine::resume`])
//! is timed here, from the profile's probe settings and the feeds' health.
//!
//! Reactive traceroute (`traces`): an event that starts asks, in
//! [`Output::traces`], for traceroutes toward its affected targets (within
//! limits); the edge runs them and hands back [`Input::Trace`], which becomes
//! `probe.trace` evidence on the event.
//!
//! [`BgpState`]: blackout_bgp::BgpState
//! [`Detector`]: blackout_detect::Detector

mod engine;
mod entities;
pub mod series;
mod traces;

pub use engine::{Engine, EngineConfig, FEED_SETTLE_SECS, Finished, Input, Output};
pub use entities::EntityView;
pub use traces::{TRACE_TARGETS_PER_EVENT, TRACE_WINDOW_SECS};
