//! `country_of` against naive scans that follow the documented rule literally: every
//! address counts once, the country with the most addresses wins, a tie goes to the
//! country seen first (lowest address), and unknown addresses that outnumber the winner
//! make the answer unknown.
//!
//! Two oracles: one walks every address of a small universe (so ranges may overlap,
//! later ones winning), one scans non-overlapping ranges of any size.

use blackout_geo::{GeoMap, GeoRange};
use blackout_model::{CountryCode, CountryLookup};
use ipnet::IpNet;
use proptest::prelude::*;
use std::net::IpAddr;

const CODES: [&str; 4] = ["AA", "BB", "CC", "DD"];

/// The rule, given the tally in order of first appearance and the unknown count.
fn verdict(tally: &[(CountryCode, u128)], unknown: u128) -> Option<CountryCode> {
    let mut best: Option<(CountryCode, u128)> = None;
    for &(country, n) in tally {
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((country, n));
        }
    }
    best.filter(|&(_, n)| n >= unknown).map(|(c, _)| c)
}

fn add(tally: &mut Vec<(CountryCode, u128)>, country: CountryCode, n: u128) {
    match tally.iter_mut().find(|(c, _)| *c == country) {
        Some(entry) => entry.1 += n,
        None => tally.push((country, n)),
    }
}

fn as_int(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(a) => u128::from(u32::from(a)),
        IpAddr::V6(a) => u128::from(a),
    }
}

/// The country of one address: the last range given that holds it.
fn owner(ranges: &[GeoRange], address: u128, v6: bool) -> Option<CountryCode> {
    ranges
        .iter()
        .rev()
        .find(|r| {
            r.start().is_ipv6() == v6 && as_int(r.start()) <= address && address <= as_int(r.end())
        })
        .map(|r| r.country())
}

/// Walks every address of the prefix (keep it small).
fn per_address(ranges: &[GeoRange], prefix: IpNet) -> Option<CountryCode> {
    let v6 = matches!(prefix, IpNet::V6(_));
    let (low, high) = (as_int(prefix.network()), as_int(prefix.broadcast()));
    let mut tally = Vec::new();
    let mut unknown = 0;
    for address in low..=high {
        match owner(ranges, address, v6) {
            Some(country) => add(&mut tally, country, 1),
            None => unknown += 1,
        }
    }
    verdict(&tally, unknown)
}

/// Scans ranges that do not overlap, in address order (prefixes up to 2^126 addresses,
/// so that no sum here overflows).
pub fn range_scan(sorted: &[GeoRange], prefix: IpNet) -> Option<CountryCode> {
    let v6 = matches!(prefix, IpNet::V6(_));
    let (low, high) = (as_int(prefix.network()), as_int(prefix.broadcast()));
    let mut tally = Vec::new();
    let mut known = 0;
    for range in sorted.iter().filter(|r| r.start().is_ipv6() == v6) {
        let (s, e) = (
            as_int(range.start()).max(low),
            as_int(range.end()).min(high),
        );
        if s <= e {
            add(&mut tally, range.country(), e - s + 1);
            known += e - s + 1;
        }
    }
    verdict(&tally, high - low + 1 - known)
}

/// Paints the ranges that reach into the prefix one after another, each over what
/// is there, then scans the painted pieces (ranges may overlap; keep the prefix to a
/// few thousand ranges, since painting is quadratic).
pub fn paint_scan(ranges: &[GeoRange], prefix: IpNet) -> Option<CountryCode> {
    let v6 = matches!(prefix, IpNet::V6(_));
    let (low, high) = (as_int(prefix.network()), as_int(prefix.broadcast()));
    let mut painted: Vec<(u128, u128, CountryCode)> = Vec::new();
    for range in ranges.iter().filter(|r| r.start().is_ipv6() == v6) {
        let (s, e) = (
            as_int(range.start()).max(low),
            as_int(range.end()).min(high),
        );
        if s > e {
            continue;
        }
        let mut next = Vec::new();
        for &(ps, pe, pc) in &painted {
            if pe < s || ps > e {
                next.push((ps, pe, pc));
                continue;
            }
            if ps < s {
                next.push((ps, s - 1, pc));
            }
            if pe > e {
                next.push((e + 1, pe, pc));
            }
        }
        next.push((s, e, range.country()));
        painted = next;
    }
    painted.sort_by_key(|&(s, _, _)| s);
    let sorted: Vec<GeoRange> = painted
        .iter()
        .map(|&(s, e, c)| {
            let ip = |n: u128| {
                if v6 {
                    IpAddr::from(n.to_be_bytes())
                } else {
                    IpAddr::from((n as u32).to_be_bytes())
                }
            };
            GeoRange::new(ip(s), ip(e), c).unwrap()
        })
        .collect();
    range_scan(&sorted, prefix)
}

/// A range `offset..offset+len` above `base` (IPv4 10.0.0.0 or IPv6 2001:db8::).
fn small_range(v6: bool, offset: u32, len: u32, code: usize) -> GeoRange {
    let (start, end) = if v6 {
        let base = u128::from("2001:db8::".parse::<std::net::Ipv6Addr>().unwrap());
        (
            IpAddr::from((base + u128::from(offset)).to_be_bytes()),
            IpAddr::from((base + u128::from(offset + len - 1)).to_be_bytes()),
        )
    } else {
        let base = u32::from(std::net::Ipv4Addr::new(10, 0, 0, 0));
        (
            IpAddr::from((base + offset).to_be_bytes()),
            IpAddr::from((base + offset + len - 1).to_be_bytes()),
        )
    };
    GeoRange::new(start, end, CountryCode::new(CODES[code]).unwrap()).unwrap()
}

/// The map's ranges are sorted, apart, and touching ranges differ in country.
pub fn assert_well_formed(map: &GeoMap) {
    let ranges: Vec<GeoRange> = map.ranges().collect();
    for pair in ranges.windows(2) {
        let (a, b) = (&pair[0], &pair[1]);
        if a.start().is_ipv6() != b.start().is_ipv6() {
            continue;
        }
        assert!(as_int(a.end()) < as_int(b.start()), "{a} overlaps {b}");
        assert!(
            as_int(a.end()) + 1 < as_int(b.start()) || a.country() != b.country(),
            "{a} and {b} should have been merged"
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn country_of_agrees_with_a_walk_over_every_address(
        v6 in any::<bool>(),
        laid in prop::collection::vec((0u32..4096, 1u32..600, 0usize..4), 0..24),
        queries in prop::collection::vec((0u32..5000, 0u32..=12), 1..16),
    ) {
        let ranges: Vec<GeoRange> = laid
            .iter()
            .map(|&(offset, len, code)| small_range(v6, offset, len, code))
            .collect();
        let map = GeoMap::from_ranges(ranges.iter().copied());
        assert_well_formed(&map);
        for &(offset, host_bits) in &queries {
            let at = small_range(v6, offset, 1, 0).start();
            let bits = if v6 { 128 } else { 32 };
            let prefix = IpNet::new(at, (bits - host_bits) as u8).unwrap().trunc();
            prop_assert_eq!(map.country_of(&prefix), per_address(&ranges, prefix), "{}", prefix);
            prop_assert_eq!(map.country_at(at), owner(&ranges, as_int(at), v6), "{}", at);
        }
    }

    #[test]
    fn country_of_agrees_with_a_scan_on_large_ipv6_prefixes(
        cuts in prop::collection::btree_set(any::<u128>(), 2..40),
        codes in prop::collection::vec(0usize..5, 40),
        queries in prop::collection::vec((any::<u128>(), 2u8..=128), 1..16),
    ) {
        // Consecutive cut points bound the ranges; code 4 leaves a gap.
        let cuts: Vec<u128> = cuts.into_iter().collect();
        let ranges: Vec<GeoRange> = cuts
            .windows(2)
            .zip(&codes)
            .filter(|&(_, &code)| code < 4)
            .filter(|(w, _)| w[0] < w[1])
            .map(|(w, &code)| {
                GeoRange::new(
                    IpAddr::from(w[0].to_be_bytes()),
                    IpAddr::from((w[1] - 1).to_be_bytes()),
                    CountryCode::new(CODES[code]).unwrap(),
                )
                .unwrap()
            })
            .collect();
        let map = GeoMap::from_ranges(ranges.iter().copied());
        assert_well_formed(&map);
        for &(address, len) in &queries {
            let prefix = IpNet::new(IpAddr::from(address.to_be_bytes()), len).unwrap().trunc();
            prop_assert_eq!(map.country_of(&prefix), range_scan(&ranges, prefix), "{}", prefix);
        }
    }
}
