//! blackout's probing engine: the data-plane evidence of an outage.
//!
//! In the North Korean outages, what observers watched was mostly the data plane:
//! the country's web, mail and DNS servers, and traceroutes into it. This crate
//! gathers that evidence. It only measures; deciding "outage" is the detector's job.
//!
//! - [`target`]: what to probe ([`Target`], [`CheckSpec`]), from a profile or the
//!   command line.
//! - [`result`]: the typed results ([`ProbeResult`], [`Outcome`], [`Detail`]).
//! - [`engine`]: the [`Prober`] that runs checks with retries, in one round or in
//!   rounds forever, under a global rate limit, into a [`ProbeSink`].
//! - `last_known`: the last address each name resolved to, probed when the name stops
//!   resolving (a dark country's name servers are dark too), the result marked with a
//!   [`LastKnownAddress`].
//! - one module per kind of probe: [`icmp`] (echo over ping or raw sockets, and the
//!   packet codec), [`tcp`], [`http`], [`dns`], [`smtp`], [`trace`] (Paris
//!   traceroute over ICMP or UDP, IPv4 and IPv6, with [`AsLookup`] for each hop's AS).
//! - [`tracer`]: reactive traceroute, the task that runs the engine's
//!   `TraceRequest`s at a vantage point (the watch's, an agent's) and hands back
//!   `TraceReport`s.
//! - [`census`]: the sweep of a whole prefix.
//! - [`schedule`]: the pure round scheduler and rate limiter.
//!
//! Every read from a peer is bounded by size and by time, so hostile or broken
//! peers (a tarpit, a flood, a 10 MB banner, a truncated DNS answer, a stalled TLS
//! handshake) end as a typed failure, never as a hang.
//!
//! # Known Issues
//! - Traceroute needs a raw socket (root or `CAP_NET_RAW`); over IPv6 the flow
//!   label is the kernel's, not set per trace.
//! - With a ping socket, ICMP errors (unreachable) are not read, so an unreachable
//!   host shows as a timeout unless the kernel itself has no route.

pub mod census;
pub mod dns;
pub mod engine;
pub mod http;
pub mod icmp;
mod last_known;
pub mod result;
pub mod route;
pub mod schedule;
pub mod smtp;
pub mod target;
pub mod tcp;
pub mod trace;
pub mod tracer;

pub use census::{CensusError, CensusHost, CensusOptions, CensusReport, census, check_size};
pub use engine::{EngineConfig, ProbeSink, Prober};
pub use icmp::{IcmpMode, IcmpUnavailable};
pub use result::{
    Detail, DnsDetail, DnsVerdict, Hop, HttpDetail, LastKnownAddress, Outcome, ProbeResult,
    SmtpDetail, TraceDetail,
};
pub use route::{KernelRoutes, RouteLookup};
pub use target::{Address, CheckSpec, Target, TargetError, TraceMode, targets_from_profile};
pub use trace::{AsLookup, NoAsLookup, PrefixTable};
