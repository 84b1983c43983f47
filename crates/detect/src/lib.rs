//! The detector: from what the BGP state reports to outage events with a cause,
//! a confidence and the evidence behind them.
//!
//! It is pure: [`BgpDetector::observe`] takes a [`BgpChange`] (which carries its
//! own time) and returns [`EventUpdate`]s; nothing reads a clock or does I/O, so
//! the same changes always give the same events, from an archive or a live feed.
//!
//! - [`DetectorConfig`]: the entities and thresholds, from a profile.
//! - [`BgpDetector`]: per-prefix and per-upstream state machines with hysteresis,
//!   and the rules that name a cause: every prefix gone together (`internal`),
//!   some gone (`partial`), one upstream gone while another carries the routes
//!   (`upstream-cut`), repeated withdraw and return (`flap`), a foreign origin
//!   (`hijack`), an unknown upstream (`new-upstream`), RPKI-invalid routes
//!   (`rpki-invalid`).
//! - [`EventUpdate`]: an event that started, changed (cause, evidence) or ended.
//!
//! [`BgpChange`]: blackout_bgp::BgpChange

mod bgp;
mod config;

pub use bgp::BgpDetector;
pub use config::DetectorConfig;

use blackout_model::Event;

/// What happened to an event.
#[derive(Clone, Debug, PartialEq)]
pub enum EventUpdate {
    /// A new event.
    Started(Event),
    /// An ongoing event changed: its cause, severity, scope or evidence.
    Revised(Event),
    /// An event ended (its `end` is set).
    Ended(Event),
}

impl EventUpdate {
    /// The event as it now stands.
    pub fn event(&self) -> &Event {
        match self {
            EventUpdate::Started(event)
            | EventUpdate::Revised(event)
            | EventUpdate::Ended(event) => event,
        }
    }
}
