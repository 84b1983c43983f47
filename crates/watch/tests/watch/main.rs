//! `blackout-watch` end to end on loopback: alerts from the watch loop, a
//! restart that resumes the open events from the database, and the VRP file
//! read again over a live BGP session; a central that does not probe itself.

mod alerts;
mod common;
mod last_seen;
mod no_probes;
mod resume;
mod vrps;
