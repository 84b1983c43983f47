//! RIR and NRO delegation files: the fixtures in the layout of APNIC's extended file,
//! the NRO's combined file and a damaged RIPE-style file.

use crate::common::{cc, country_of, fixture};
use blackout_geo::{GeoMap, Place, parse_delegated, read_file};
use blackout_model::Asn;

#[test]
fn an_rir_extended_file_gives_ranges_asn_blocks_and_skips_free_space() {
    let parsed = read_file(&fixture("delegated-apnic-extended.txt")).unwrap();
    let r = &parsed.report;
    // 5 comment lines, the header, 3 summaries, 3 available or reserved records.
    assert_eq!((r.entries, r.ranges, r.skipped, r.bad), (20, 6, 12, 0));
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let ranges: Vec<String> = parsed.ranges.iter().map(|r| r.to_string()).collect();
    assert_eq!(
        ranges,
        [
            "1.0.0.0-1.0.0.255 AU",
            // 768 addresses: not a power of two, so not one prefix.
            "1.0.1.0-1.0.3.255 CN",
            "175.45.176.0-175.45.179.255 KP",
            "1.0.16.0-1.0.31.255 JP",
            "2001:200::-2001:200:1fff:ffff:ffff:ffff:ffff:ffff JP",
            "2001:df0::-2001:df0:0:ffff:ffff:ffff:ffff:ffff AU",
        ]
    );
    assert_eq!(
        parsed.ranges[1]
            .prefixes()
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>(),
        ["1.0.1.0/24", "1.0.2.0/23"]
    );
    let asns: Vec<(Asn, u32, String)> = parsed
        .asns
        .iter()
        .map(|b| (b.first, b.count, b.country.to_string()))
        .collect();
    assert_eq!(
        asns,
        [(Asn(173), 1, "JP".into()), (Asn(131279), 1, "KP".into())]
    );
    let map = GeoMap::from_ranges(parsed.ranges);
    assert_eq!(country_of(&map, "175.45.176.0/22"), "KP");
    assert_eq!(country_of(&map, "1.0.4.0/22"), "-");
    assert_eq!(country_of(&map, "2001:200::/32"), "-");
    assert_eq!(country_of(&map, "2001:200::/36"), "JP");
}

#[test]
fn the_nro_combined_file_reads_every_registry() {
    let parsed = read_file(&fixture("delegated-nro-extended.txt")).unwrap();
    let r = &parsed.report;
    assert_eq!((r.ranges, r.bad), (6, 0));
    assert!(r.problems.is_empty(), "{:?}", r.problems);
    let map = GeoMap::from_ranges(parsed.ranges);
    assert_eq!(
        map.countries(),
        [cc("BR"), cc("EU"), cc("KP"), cc("NL"), cc("US"), cc("ZA")]
    );
    // IANA's reserved 0/8 gives no country.
    assert_eq!(country_of(&map, "0.0.0.0/8"), "-");
    assert_eq!(country_of(&map, "41.0.0.0/11"), "ZA");
    assert_eq!(country_of(&map, "2620:0:1::/48"), "US");
    assert_eq!(parsed.asns.len(), 2);
}

#[test]
fn bad_records_are_counted_and_named_by_file_and_line() {
    let parsed = read_file(&fixture("delegated-damaged.txt")).unwrap();
    let r = &parsed.report;
    assert_eq!((r.entries, r.ranges, r.bad), (14, 2, 9));
    let problems: Vec<String> = r
        .problems
        .iter()
        .map(|p| {
            let text = p.to_string();
            let name = p.source.rsplit('/').next().unwrap().to_string();
            assert!(text.starts_with(&p.source), "{text}");
            text.replacen(&p.source, &name, 1)
        })
        .collect();
    assert_eq!(
        problems,
        [
            "delegated-damaged.txt:6: address count `zero` is not a positive number",
            "delegated-damaged.txt:7: address count `0` is not a positive number",
            "delegated-damaged.txt:8: 255.255.255.0 plus 512 addresses runs past 255.255.255.255",
            "delegated-damaged.txt:9: status `transferred` is not allocated, assigned, available, reserved, ietf or iana",
            "delegated-damaged.txt:10: country `FRA` is not two letters",
            "delegated-damaged.txt:11: a record has 7 or more fields (registry|cc|type|start|value|date|status), this has 5",
            "delegated-damaged.txt:12: 2001:db8:1:: is not the first address of a /32",
            "delegated-damaged.txt:13: prefix length `129` is not 0 to 128",
            "delegated-damaged.txt:14: type `ipx` is not asn, ipv4 or ipv6",
            "delegated-damaged.txt:3: the summary says 3 ipv6 records, the file has 2: cut short or edited?",
        ]
    );
    assert_eq!(r.problems[0].at, Place::Line(6));
}

#[test]
fn text_without_the_header_is_not_a_delegation_file() {
    let error = parse_delegated(
        b"# comment\napnic|KP|ipv4|175.45.176.0|1024|20091104|allocated\n",
        "excerpt.txt",
    )
    .unwrap_err();
    assert_eq!(
        error.to_string(),
        "excerpt.txt is not a valid RIR delegation file: line 2: expected the header `version|registry|serial|records|startdate|enddate|UTCoffset`, found `apnic|KP|ipv4|175.45.176.0|1024|20091104|allocated`"
    );
    let error = parse_delegated(b"# only a comment\n", "empty.txt").unwrap_err();
    assert!(error.to_string().contains("no header line"), "{error}");
}

#[test]
fn a_file_cut_mid_line_keeps_what_came_before() {
    let whole = std::fs::read(fixture("delegated-apnic-extended.txt")).unwrap();
    for cut in 0..whole.len() {
        match parse_delegated(&whole[..cut], "cut.txt") {
            Ok(parsed) => {
                assert!(parsed.ranges.len() <= 6);
                assert!(parsed.report.bad <= 1, "cut at {cut}: {:?}", parsed.report);
            }
            Err(error) => assert!(error.to_string().starts_with("cut.txt is not"), "{error}"),
        }
    }
}
