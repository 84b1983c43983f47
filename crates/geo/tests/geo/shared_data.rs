//! The real ranges of `../shared/data/geo` (ip-location-db's geo-whois-asn-country,
//! 2026-06-17): counts, North Korea, lookups that span ranges, and `country_of`
//! against a plain scan of the file's own ranges.

use crate::common::{country_of, shared_geo};
use crate::oracle::{assert_well_formed, paint_scan};
use blackout_geo::{GeoFormat, GeoMap, GeoRange, load_files, read_file};
use blackout_model::CountryLookup;
use ipnet::IpNet;
use proptest::prelude::*;
use proptest::test_runner::{Config, RngAlgorithm, TestRng, TestRunner};
use std::net::IpAddr;
use std::path::PathBuf;

const IPV4: &str = "geo-whois-asn-country-ipv4.20260617.csv.gz";
const IPV6: &str = "geo-whois-asn-country-ipv6.20260617.csv.gz";

fn both(test: &str) -> Option<[PathBuf; 2]> {
    let dir = shared_geo(test)?;
    Some([dir.join(IPV4), dir.join(IPV6)])
}

#[test]
fn the_shared_csvs_read_whole_and_north_korea_is_kp() {
    let Some(files) = both("the_shared_csvs_read_whole_and_north_korea_is_kp") else {
        return;
    };
    let loaded = load_files(&files).unwrap();
    let counts: Vec<(GeoFormat, u64, u64, u64)> = loaded
        .reports
        .iter()
        .map(|r| (r.format, r.entries, r.ranges, r.bad))
        .collect();
    assert_eq!(
        counts,
        [
            (GeoFormat::RangeCsv, 334_373, 334_373, 0),
            (GeoFormat::RangeCsv, 216_295, 216_295, 0)
        ]
    );
    let map = &loaded.map;
    assert_well_formed(map);
    // Touching ranges of one country are merged: a few fewer than the lines.
    assert_eq!(
        (map.ipv4_range_count(), map.ipv6_range_count()),
        (334_281, 216_282)
    );
    assert_eq!(map.countries().len(), 251);

    assert_eq!(country_of(map, "175.45.176.0/22"), "KP");
    for slash24 in 176..180 {
        assert_eq!(country_of(map, &format!("175.45.{slash24}.0/24")), "KP");
    }
    let kp = blackout_model::CountryCode::new("KP").unwrap();
    // The release's geofeed rows put a few stray addresses and many IPv6 blocks in KP
    // too (its README warns of wrong rows): pinned here as they are.
    let prefixes: Vec<String> = map.prefixes_of(kp).map(|p| p.to_string()).collect();
    assert_eq!(
        prefixes[..7],
        [
            "31.6.16.15/32",
            "31.58.181.80/28",
            "95.141.91.192/29",
            "102.129.128.0/24",
            "168.205.92.109/32",
            "175.45.176.0/22",
            "185.51.35.159/32"
        ]
    );
    assert_eq!(prefixes.len(), 74);
    assert!(prefixes[7..].iter().all(|p| p.contains(':')));
}

#[test]
fn lookups_on_real_ranges() {
    let Some(files) = both("lookups_on_real_ranges") else {
        return;
    };
    let map = load_files(&files).unwrap().map;
    // 1.0.0.0/24 AU, 1.0.1.0-1.0.3.255 CN: 768 CN against 256 AU.
    assert_eq!(country_of(&map, "1.0.0.0/22"), "CN");
    // 1.0.4.0/22 is AU again: 1,280 AU against 768 CN.
    assert_eq!(country_of(&map, "1.0.0.0/21"), "AU");
    assert_eq!(country_of(&map, "1.0.0.0/24"), "AU");
    // 10/8 is private space: in no file.
    assert_eq!(country_of(&map, "10.0.0.0/8"), "-");
    assert_eq!(country_of(&map, "2001:4860::/32"), "US");
    assert_eq!(country_of(&map, "2a00:1450:4001::/48"), "IE");
    assert_eq!(country_of(&map, "fc00::/7"), "-");
    assert_eq!(
        map.country_at("175.45.178.1".parse().unwrap())
            .unwrap()
            .as_str(),
        "KP"
    );
}

/// Painting the file's own ranges in file order (568 IPv4 and 83 IPv6 lines lie inside
/// an earlier line's range and override it) and scanning gives the same answer as the
/// map for random prefixes of routed sizes.
#[test]
fn country_of_agrees_with_a_scan_of_the_files_ranges() {
    let Some(files) = both("country_of_agrees_with_a_scan_of_the_files_ranges") else {
        return;
    };
    let mut ranges: Vec<GeoRange> = Vec::new();
    for file in &files {
        ranges.extend(read_file(file).unwrap().ranges);
    }
    let map = GeoMap::from_ranges(ranges.iter().copied());
    let v4_starts: Vec<u32> = ranges
        .iter()
        .filter_map(|r| match r.start() {
            IpAddr::V4(a) => Some(u32::from(a)),
            IpAddr::V6(_) => None,
        })
        .collect();
    let v6_starts: Vec<u128> = ranges
        .iter()
        .filter_map(|r| match r.start() {
            IpAddr::V6(a) => Some(u128::from(a)),
            IpAddr::V4(_) => None,
        })
        .collect();
    // Prefixes around real range starts (so that they often span a boundary), and a
    // few anywhere; a fixed seed so that a failure repeats.
    let v4 = (0..v4_starts.len(), 14u8..=32, any::<u32>(), any::<bool>()).prop_map(
        |(i, len, noise, anywhere)| {
            let at = if anywhere { noise } else { v4_starts[i] };
            IpNet::new(IpAddr::from(at.to_be_bytes()), len)
                .unwrap()
                .trunc()
        },
    );
    let v6 = (0..v6_starts.len(), 24u8..=64, any::<u128>(), any::<bool>()).prop_map(
        |(i, len, noise, anywhere)| {
            let at = if anywhere { noise } else { v6_starts[i] };
            IpNet::new(IpAddr::from(at.to_be_bytes()), len)
                .unwrap()
                .trunc()
        },
    );
    let mut runner = TestRunner::new_with_rng(
        Config::with_cases(120),
        TestRng::from_seed(RngAlgorithm::ChaCha, &[7; 32]),
    );
    runner
        .run(&prop_oneof![v4, v6], |prefix| {
            prop_assert_eq!(
                map.country_of(&prefix),
                paint_scan(&ranges, prefix),
                "{}",
                prefix
            );
            Ok(())
        })
        .unwrap();
}

/// Every file of `../shared/data/geo` that is a prefix-to-country file (told by
/// content) reads without a bad line.
#[test]
fn every_geo_file_of_the_shared_data_reads_cleanly() {
    let Some(dir) = shared_geo("every_geo_file_of_the_shared_data_reads_cleanly") else {
        return;
    };
    let mut read = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        match read_file(&path) {
            Ok(parsed) => {
                assert_eq!(parsed.report.bad, 0, "{}", parsed.report);
                assert!(parsed.report.ranges > 0, "{}", parsed.report);
                read += 1;
            }
            Err(blackout_geo::GeoError::UnknownFormat { .. }) => {
                eprintln!("{}: not a prefix-to-country file, left out", path.display());
            }
            Err(other) => panic!("{other}"),
        }
    }
    assert!(read >= 2, "only {read} geo files in {}", dir.display());
}
