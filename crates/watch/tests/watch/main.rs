//! `blackout-watch` end to end on loopback: alerts from the watch loop, and a
//! restart that resumes the open events from the database.

mod alerts;
mod common;
mod resume;
