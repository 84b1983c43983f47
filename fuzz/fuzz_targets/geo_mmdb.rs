//! Arbitrary bytes through blackout-geo's MMDB reader (the maxminddb crate underneath).
//!
//! Invariants beyond "no panic": see `geo_invariants.rs` (the report adds up; the map
//! is sorted, non-overlapping and merged, and answers for its own pieces); every
//! range an MMDB gives is one network (a single prefix).

#![no_main]

#[path = "geo_invariants.rs"]
mod geo_invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = blackout_geo::parse_mmdb(data, "fuzz") {
        geo_invariants::check(&parsed);
        for range in &parsed.ranges {
            assert_eq!(range.prefixes().len(), 1, "{range}");
        }
    }
});
