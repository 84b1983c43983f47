//! `blackout-watch` end to end on loopback: alerts from the watch loop, a
//! restart that resumes the open events from the database, and the VRP file
//! read again over a live BGP session; a central that does not probe itself,
//! and whose agents trace toward an event's targets when it asks; relayed
//! tables that reach a restarted central seconds apart.

mod alerts;
mod central_traces;
mod common;
mod last_seen;
mod no_probes;
mod relayed_tables;
mod resume;
mod vrps;
