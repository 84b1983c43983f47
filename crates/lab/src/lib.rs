//! The lab: an emulated national network in network namespaces, with real BGP
//! routers, real servers and one-command faults, for blackout's end-to-end tests
//! and for demos (`blackout lab up | down | status | fault NAME [ARGS] | heal`).
//!
//! - [`topology`]: the network as data ([`Topology::standard`]): namespaces,
//!   links, addresses of both families, ASes, buildings and hosts, the three
//!   vantage points and the central with its management network. Everything
//!   else reads it.
//! - [`config`]: renders the BIRD, FRR, NSD and nginx configs and the ROAs from it.
//! - [`Lab`] (module `lab`): up and down, driving `ip`, the daemons and their
//!   control tools through std::process::Command; module `network` makes the
//!   namespaces, links, addresses and routes; module `status` holds
//!   [`Status`] and the baseline check.
//! - [`Fault`] (module `fault`): the faults, their injection, undo and heal, and
//!   their [`Impact`]: which vantage points see them, over which families.
//! - [`packages`]: the Debian packages, installed on first use.
//! - `exec`: running commands inside namespaces ([`netns_command`], public for
//!   tests and `blackout lab exec`) and ending processes by pid.
//!
//! The lab is dual-stack: every link, host and vantage point has an IPv4 and an
//! IPv6 address, the routers run BGP sessions of both families, the servers
//! listen on both. It uses documentation space only (192.0.2.0/24,
//! 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32) and ASNs 64496-64511; no
//! namespace has a link or route to the host's namespace. Everything it runs is
//! inside its `bo-*` namespaces, with its own configs, sockets and pid files
//! under the state dir.
//!
//! # Known Issues
//! - The transit's RPKI cache is the lab's own small RTR server (`helper.py`),
//!   because FRR takes ROAs only over RTR.
//! - Only the vantage point behind the transit receives the feeds (BMP and the
//!   BGP session); the others probe only.

pub mod config;
mod error;
mod exec;
mod fault;
mod lab;
mod network;
pub mod packages;
mod status;
pub mod topology;

pub use error::{LabError, Result};
pub use exec::{is_root, netns_command};
pub use fault::{Fault, Impact};
pub use lab::{ActiveFault, DEFAULT_STATE_DIR, Lab, Progress, now_rfc3339};
pub use status::{ProcessStatus, Reach, SessionStatus, Status, TransitRoute};
pub use topology::Topology;
