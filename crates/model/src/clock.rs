//! The wall clock, for the edges only.
//!
//! The core (the BGP state, the detector, the engine) is handed the time and never
//! reads a clock; `watch`, the feeds, the probes and the API read it here, in one
//! place, so that a test can tell the core from the edges by who calls [`now`].

use crate::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as a [`Timestamp`].
pub fn now() -> Timestamp {
    from_system_time(SystemTime::now())
}

/// A system time as a [`Timestamp`] (times before the epoch are negative).
pub fn from_system_time(time: SystemTime) -> Timestamp {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => Timestamp::from_micros(i64::try_from(after.as_micros()).unwrap_or(i64::MAX)),
        Err(before) => Timestamp::from_micros(
            -i64::try_from(before.duration().as_micros()).unwrap_or(i64::MAX),
        ),
    }
}
