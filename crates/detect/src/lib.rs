//! The detector: from BGP changes, probe results and feed health to outage
//! events with a cause, a confidence and the evidence behind them.
//!
//! It is pure: [`Detector::process`] takes a [`Signal`] (which carries its own
//! time) and returns [`EventUpdate`](blackout_model::EventUpdate)s; nothing reads a clock or does I/O, so the
//! same signals always give the same events, from an archive or a live feed.
//!
//! - [`DetectorConfig`]: the entities and thresholds, from a profile.
//! - [`BgpDetector`] (module `bgp`): per-prefix and per-upstream state machines
//!   with hysteresis, and the events about single prefixes and upstreams
//!   (`upstream-cut`, `new-upstream`, `hijack`, `rpki-invalid`, `flap`).
//! - [`ProbeTracker`] (module `probes`): per check and vantage point, failing,
//!   degraded or well, with hysteresis.
//! - [`consensus`]: the judgement of many vantage points on one target
//!   (quorum of the healthy ones, lone dissent, path problems).
//! - module `views`: each target's judgement over the vantage points, kept
//!   between weighings and judged again only when what it rests on changed.
//! - [`rules`]: the attribution rules that name the cause of the network's outage
//!   (`internal`, `ddos`, `partial`, `data-plane`, `rpki-invalid`).
//! - [`Detector`] (module `detector`): all of the above together, with the
//!   events about the network, its services, the vantage points and the feeds.
//!
//! After a restart, [`Detector::resume`] takes up the events that were still open
//! (same ids, state machines set from what they say) and holds them through the
//! first look; [`Detector::end_first_look`] then ends those that are over (noting
//! that they ended while blackout was not watching) and lets the rest go on.

mod bgp;
mod book;
mod config;
pub mod consensus;
mod detector;
mod probes;
pub mod rules;
mod views;

pub use bgp::{BgpDetector, DarkPrefix, RpkiWarning};
pub use config::DetectorConfig;
pub use detector::{Detector, FeedSignal, Signal};
pub use probes::{CheckState, FAIL_AFTER, OK_AFTER, ProbeSignal, ProbeTracker, TroubleStats};
