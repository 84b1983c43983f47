//! MMDB files written by MaxMind's own writer from `countries.csv` (see
//! `tests/fixtures/make-mmdb.pl`): the same ranges as the CSV, whichever field names
//! the country, IPv4 networks once (not again under their IPv6 aliases), and refusal
//! of what is not a country database.

use crate::common::{country_of, fixture};
use crate::oracle::assert_well_formed;
use blackout_geo::{GeoFormat, GeoMap, detect_format, parse_mmdb, read_file};
use std::process::Command;

fn map_of(name: &str) -> GeoMap {
    GeoMap::from_ranges(read_file(&fixture(name)).unwrap().ranges)
}

#[test]
fn an_ipv6_mmdb_gives_the_same_map_as_the_csv_it_was_written_from() {
    let from_mmdb = map_of("countries-v6.mmdb");
    let from_csv = map_of("countries.csv");
    assert_well_formed(&from_mmdb);
    assert_eq!(from_mmdb, from_csv);
    assert_eq!(
        (from_mmdb.ipv4_range_count(), from_mmdb.ipv6_range_count()),
        (5, 4)
    );
    // country.iso_code, registered_country.iso_code and a top-level country_code.
    assert_eq!(country_of(&from_mmdb, "175.45.176.0/22"), "KP");
    assert_eq!(country_of(&from_mmdb, "192.0.2.128/25"), "US");
    assert_eq!(country_of(&from_mmdb, "203.0.113.0/26"), "ZA");
    assert_eq!(country_of(&from_mmdb, "2001:db8:1::/48"), "NL");
    // A record with no country.
    assert_eq!(country_of(&from_mmdb, "198.51.100.0/24"), "-");
    // The IPv4 aliases (IPv4-mapped, Teredo, 6to4) are not read as IPv6 space.
    for alias in ["::ffff:0:0/96", "2001::/32", "2002::/16"] {
        assert_eq!(country_of(&from_mmdb, alias), "-", "{alias}");
    }
}

#[test]
fn an_ipv4_mmdb_gives_the_ipv4_part() {
    let from_mmdb = map_of("countries-v4.mmdb");
    let from_csv = map_of("countries.csv");
    let v4 = |map: &GeoMap| -> Vec<String> {
        map.ranges()
            .filter(|r| r.start().is_ipv4())
            .map(|r| r.to_string())
            .collect()
    };
    assert_eq!(v4(&from_mmdb), v4(&from_csv));
    assert_eq!(from_mmdb.ipv6_range_count(), 0);
}

#[test]
fn a_database_without_countries_or_not_mmdb_at_all_is_refused() {
    let error = read_file(&fixture("asn-only.mmdb")).unwrap_err();
    assert!(
        error
            .to_string()
            .ends_with("is not a valid MaxMind DB (MMDB) file: none of its 1 networks has a country (country.iso_code, registered_country.iso_code or country_code); database type `GeoLite2-ASN`"),
        "{error}"
    );
    let error = parse_mmdb(b"1.0.0.0,1.0.0.255,AU\n", "x.mmdb").unwrap_err();
    assert!(
        error
            .to_string()
            .starts_with("x.mmdb is not a valid MaxMind DB (MMDB) file: "),
        "{error}"
    );
}

#[test]
fn a_damaged_mmdb_never_panics_and_never_gives_overlapping_ranges() {
    let whole = std::fs::read(fixture("countries-v6.mmdb")).unwrap();
    assert_eq!(detect_format(&whole), Some(GeoFormat::Mmdb));
    // Cut short anywhere, and every byte of the search tree and data flipped.
    let mut damaged: Vec<Vec<u8>> = (0..whole.len()).map(|cut| whole[..cut].to_vec()).collect();
    for at in 0..whole.len() {
        let mut bytes = whole.clone();
        bytes[at] ^= 0xa5;
        damaged.push(bytes);
    }
    for bytes in damaged {
        if let Ok(parsed) = parse_mmdb(&bytes, "damaged.mmdb") {
            assert_well_formed(&GeoMap::from_ranges(parsed.ranges));
        }
    }
}

/// Regenerate-and-diff: the committed MMDB fixtures are what make-mmdb.pl writes.
#[test]
fn the_mmdb_fixtures_are_what_the_script_writes() {
    let has_writer = Command::new("perl")
        .args(["-MMaxMind::DB::Writer::Tree", "-e", "1"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !has_writer {
        eprintln!(
            "the_mmdb_fixtures_are_what_the_script_writes: skipped: MaxMind::DB::Writer is not installed (apt-get install libmaxmind-db-writer-perl)"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for name in ["make-mmdb.pl", "countries.csv"] {
        std::fs::copy(fixture(name), dir.path().join(name)).unwrap();
    }
    let status = Command::new("perl")
        .arg("make-mmdb.pl")
        .current_dir(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    for name in ["countries-v6.mmdb", "countries-v4.mmdb", "asn-only.mmdb"] {
        let written = std::fs::read(dir.path().join(name)).unwrap();
        let committed = std::fs::read(fixture(name)).unwrap();
        assert!(
            written == committed,
            "{name} differs from what make-mmdb.pl writes"
        );
    }
}

/// A search "tree" whose nodes all point twice to the next one has 2^depth paths: the
/// walk must stop on the node count, not run for ever (found by fuzzing geo_mmdb).
#[test]
fn a_search_tree_that_is_a_graph_is_refused_at_once() {
    let mut bytes = std::fs::read(fixture("countries-v4.mmdb")).unwrap();
    let (nodes, record_size) = {
        let reader = maxminddb::Reader::from_source(&bytes[..]).unwrap();
        (reader.metadata().node_count, reader.metadata().record_size)
    };
    assert_eq!(record_size, 24);
    for node in 0..nodes {
        let next = (node + 1).to_be_bytes();
        let at = node as usize * 6;
        // Both 24-bit records of the node point to the next node; the last to "no data".
        bytes[at..at + 3].copy_from_slice(&next[1..]);
        bytes[at + 3..at + 6].copy_from_slice(&next[1..]);
    }
    let started = std::time::Instant::now();
    let error = parse_mmdb(&bytes, "graph.mmdb").unwrap_err();
    assert!(
        error
            .to_string()
            .contains("its search tree is not a tree: more than"),
        "{error}"
    );
    assert!(started.elapsed().as_secs() < 5, "{:?}", started.elapsed());
}
