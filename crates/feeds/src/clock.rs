//! The wall clock, read only by the I/O layer: the sans-IO parts are handed the time.

use blackout_model::Timestamp;
use std::time::{SystemTime, UNIX_EPOCH};

/// Now, as a [`Timestamp`].
pub fn now() -> Timestamp {
    let micros = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
        .unwrap_or(0);
    Timestamp::from_micros(micros)
}
