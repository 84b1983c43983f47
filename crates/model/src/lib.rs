//! The vocabulary every part of blackout speaks.
//!
//! This crate holds plain data and nothing that does I/O or reads a clock:
//!
//! - [`Asn`], [`Timestamp`], [`CountryCode`]: newtypes for the numbers and codes
//!   the domain is made of, and [`CountryLookup`], what a prefix-to-country map answers;
//! - [`AsPath`] and [`RouteUpdate`]: what a BGP source (an MRT archive, a BMP
//!   station, a BGP session, RIS Live) says about one route, in one shape for all
//!   of them, so that they share one BGP state and one code path;
//! - [`Event`], [`Entity`], [`Cause`], [`Evidence`]: the outage events of
//!   `../shared/CONTRACT.md`, as the detector emits them and as the store, the API
//!   and the alerts carry them.

mod as_path;
mod asn;
mod country;
mod event;
mod route;
mod time;

pub use as_path::{AsPath, PathSegment};
pub use asn::Asn;
pub use country::{CountryCode, CountryLookup};
pub use event::{Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind};
pub use route::{BgpInput, PeerKey, RouteChange, RouteUpdate};
pub use time::{Timestamp, TimestampError, human_duration};
