//! The embedded store: one SQLite file that holds what blackout saw and said.
//!
//! - **events**, with their evidence and scope, written again each time they change
//!   (keyed by their stable id, so a restart that replays the same evidence writes
//!   the same rows, never a twin);
//! - **event_log**: every start, revision and end, in order, for history and alerts;
//! - **signals**: time series (visibility, probe loss and RTT, ...), keyed by entity,
//!   signal and time, with [`Store::downsample`] folding old points into per-bucket
//!   minimum, maximum and mean;
//! - **feed_health**: the state of each feed over time;
//! - **probe_latest**: the latest result of each probe check;
//! - **event_owner**: which profile's watch wrote each event, so that a restart
//!   takes up its own open events.
//!
//! Every write is one transaction in WAL mode, so a `kill -9` loses nothing that was
//! committed and leaves nothing half-written. One connection writes; readers open
//! their own ([`Store::open_read_only`]).

mod error;
mod schema;
mod store;

pub use error::StoreError;
pub use store::{EventQuery, FeedHealthRow, ProbeRow, SignalRollup, Store};
