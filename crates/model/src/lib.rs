//! The vocabulary every part of blackout speaks.
//!
//! This crate holds plain data and does no I/O; its one read of the clock,
//! [`clock::now`], is for the edges (the core is handed the time):
//!
//! - [`Asn`], [`Timestamp`], [`CountryCode`]: newtypes for the numbers and codes
//!   the domain is made of, and [`CountryLookup`], what a prefix-to-country map answers;
//! - [`AsPath`] and [`RouteUpdate`]: what a BGP source (an MRT archive, a BMP
//!   station, a BGP session, RIS Live) says about one route, in one shape for all
//!   of them, so that they share one BGP state and one code path;
//! - [`Event`], [`Entity`], [`Cause`], [`Evidence`]: the outage events of
//!   `../shared/CONTRACT.md`, as the detector emits them and as the store, the API
//!   and the alerts carry them, and [`EventUpdate`]: an event that started, changed
//!   or ended;
//! - [`SeriesKey`] and [`SeriesPoint`]: time series under a typed key (an entity
//!   and a [`Measure`]);
//! - [`PrefixFilter`]: which routes concern what is watched;
//! - [`ProbeKind`] and [`ProbeRole`]: what a probe is;
//! - [`TraceRequest`] and [`TraceReport`]: the reactive traceroute the engine asks
//!   for when an event starts, and what the edge brings back;
//! - [`subject`]: NATS subjects and message ids of the results many agents publish;
//! - [`clock`]: the wall clock, read by the edges only; [`text`]: escaping.

mod as_path;
mod asn;
pub mod clock;
mod country;
mod event;
mod filter;
mod probe;
mod route;
mod series;
pub mod subject;
pub mod text;
mod time;
mod trace;
mod update;

pub use as_path::{AsPath, PathSegment};
pub use asn::Asn;
pub use country::{CountryCode, CountryLookup};
pub use event::{
    Cause, Entity, EntityState, Event, EventId, Evidence, Family, Scope, Severity, SignalKind,
};
pub use filter::PrefixFilter;
pub use probe::{ProbeKind, ProbeRole};
pub use route::{BgpInput, PeerKey, RouteChange, RouteUpdate};
pub use series::{Measure, SeriesKey, SeriesPoint};
pub use time::{Timestamp, TimestampError, human_duration};
pub use trace::{TraceHop, TraceReport, TraceRequest};
pub use update::{EventUpdate, UpdateKind, fold_revisions};
