//! The lab: an emulated national network in network namespaces, with real BGP
//! routers, real servers and one-command faults, for blackout's end-to-end tests
//! and for demos (`blackout lab up | down | status | fault NAME [ARGS] | heal`).
//!
//! - [`topology`]: the network as data ([`Topology::standard`]): namespaces,
//!   links, addresses, ASes, buildings and hosts. Everything else reads it.
//! - [`config`]: renders the BIRD, FRR, NSD and nginx configs and the ROAs from it.
//! - [`Lab`] (module `lab`): up, down, status and the baseline check, driving
//!   `ip`, the daemons and their control tools through std::process::Command.
//! - [`Fault`] (module `fault`): the faults, their injection, undo and heal.
//! - [`packages`]: the Debian packages, installed on first use.
//! - `exec`: running commands inside namespaces and ending processes by pid.
//!
//! The lab uses documentation space only (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24) and ASNs 64496-64511; no namespace has a link or route to
//! the host's namespace. Everything it runs is inside its `bo-*` namespaces,
//! with its own configs, sockets and pid files under the state dir.
//!
//! # Known Issues
//! - IPv4 only: IPv6 is switched off inside the namespaces.
//! - The transit's RPKI cache is the lab's own small RTR server (`helper.py`),
//!   because FRR takes ROAs only over RTR.

pub mod config;
mod error;
mod exec;
mod fault;
mod lab;
pub mod packages;
pub mod topology;

pub use error::{LabError, Result};
pub use exec::is_root;
pub use fault::Fault;
pub use lab::{
    ActiveFault, DEFAULT_STATE_DIR, Lab, ProcessStatus, Progress, SessionStatus, Status,
    TransitRoute, now_rfc3339,
};
pub use topology::Topology;
