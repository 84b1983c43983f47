//! The live observatory: BGP feeds, probe rounds and the detector, together, with
//! the store as their memory.
//!
//! - [`Core`] (module `core`) is the watch's side of the one write path: the
//!   [`Engine`] (which owns the [`BgpState`] and the [`Detector`]) fed from live
//!   inputs, plus what the store and the status need besides events and series
//!   (each check's latest result, each feed's health, what the last run saw).
//! - [`convert`] turns the probe engine's results and the feeds' health into the
//!   detector's signals.
//! - `status` builds the API's [`Status`](blackout_api::Status) snapshot from the core;
//!   `bmp_status` turns a BMP feed's router report into its part of it.
//! - `vrps`: the `--vrps` file, read again when it changes (a bad one is logged and
//!   the VRPs in force stay).
//! - `alerts`: the [`AlertPolicy`](blackout_alert::AlertPolicy) fed with every event
//!   update, restored from the store at startup, and a task that delivers (bounded
//!   queue: a full one drops and counts, never blocks the loop).
//! - [`run`] (module `runner`) is the edge: it starts the feeds and the prober,
//!   ticks the clock once a second, feeds the core, writes what comes out to the
//!   store, hands the traceroutes the engine asks for when an event starts
//!   ([`TraceRequest`](blackout_model::TraceRequest)) to the probe crate's tracer
//!   (and, with `--nats`, to every agent), feeds their
//!   [`TraceReport`](blackout_model::TraceReport)s back to the core as evidence on
//!   the event, and stops cleanly on SIGINT or SIGTERM.
//!
//! [`Engine`]: blackout_engine::Engine
//! [`BgpState`]: blackout_bgp::BgpState
//! [`Detector`]: blackout_detect::Detector

mod alerts;
mod bmp_status;
pub mod convert;
mod core;
mod runner;
mod status;
mod vrps;

pub use alerts::ALERT_QUEUE;
pub use core::{Core, FEED_SETTLE_SECS, Output};
pub use runner::{WatchConfig, WatchError, WatchReport, run, run_with_ready};
pub use vrps::VRPS_CHECK_SECS;
