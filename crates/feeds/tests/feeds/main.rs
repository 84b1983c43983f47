//! The live feeds against real inputs: BMP captures of real routers (checked against
//! pmacct's decoding), FRR and BIRD on loopback, and a local RIS Live server. One test
//! binary, one module per concern. Tests that need root or daemons say on stderr
//! that they were skipped, and why.

#[macro_use]
mod common;
mod bgp_daemons;
mod bgp_fsm;
mod bmp_captures;
mod bmp_conformance;
mod bmp_live;
mod ipv6;
mod rislive;
