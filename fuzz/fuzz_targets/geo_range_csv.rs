//! Arbitrary bytes through blackout-geo's range CSV reader (`start,end,CC`).
//!
//! Invariants beyond "no panic": see `geo_invariants.rs` (the report adds up; the map
//! is sorted, non-overlapping and merged, and answers for its own pieces).

#![no_main]

#[path = "geo_invariants.rs"]
mod geo_invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = blackout_geo::parse_range_csv(data, "fuzz") {
        geo_invariants::check(&parsed);
    }
});
