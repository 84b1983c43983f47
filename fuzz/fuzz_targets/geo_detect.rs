//! Arbitrary bytes through blackout-geo's front door: gzip by magic, the format told by
//! content, then that format's reader.
//!
//! Invariants beyond "no panic": what is read is read as the format `detect_format`
//! names (for plain input), and the result holds what `geo_invariants.rs` checks.

#![no_main]

#[path = "geo_invariants.rs"]
mod geo_invariants;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(parsed) = blackout_geo::parse(data, "fuzz") {
        if !data.starts_with(&[0x1f, 0x8b]) {
            assert_eq!(blackout_geo::detect_format(data), Some(parsed.report.format));
        }
        geo_invariants::check(&parsed);
    }
});
