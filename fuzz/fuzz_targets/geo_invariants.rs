//! What every geo fuzz target checks once a reader has accepted its input: the report
//! adds up, and the map built from the ranges is sorted, apart and merged, gives every
//! piece of itself its own country, and lets the last range laid keep its first address.

use blackout_geo::{GeoMap, MAX_PROBLEMS, Parsed};
use blackout_model::CountryLookup;
use std::net::IpAddr;

fn as_int(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

pub fn check(parsed: &Parsed) {
    let report = &parsed.report;
    assert_eq!(report.ranges, parsed.ranges.len() as u64);
    assert!(report.problems.len() <= MAX_PROBLEMS);
    assert!(report.bad == 0 || !report.problems.is_empty());
    assert!(report.bad + report.skipped <= report.entries);

    let map = GeoMap::from_ranges(parsed.ranges.iter().copied());
    let ranges: Vec<_> = map.ranges().collect();
    assert_eq!(ranges.len(), map.ipv4_range_count() + map.ipv6_range_count());
    for pair in ranges.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.start().is_ipv6() == b.start().is_ipv6() {
            assert!(as_int(a.end()) < as_int(b.start()), "{a} overlaps {b}");
            assert!(
                as_int(a.end()) + 1 < as_int(b.start()) || a.country() != b.country(),
                "{a} and {b} touch with one country"
            );
        }
    }
    for range in ranges.iter().take(64) {
        for prefix in range.prefixes().iter().take(8) {
            assert_eq!(map.country_of(prefix), Some(range.country()), "{prefix}");
        }
    }
    if let Some(last) = parsed.ranges.last() {
        assert_eq!(map.country_at(last.start()), Some(last.country()));
    }
}
