//! Files to a map: gzip undone, the format told by content and not by name, several
//! files laid in order (a later file overrides an earlier one), and errors that name
//! the file.

use crate::common::{country_of, fixture};
use blackout_geo::{GeoError, GeoFormat, detect_format, load_files, parse};
use flate2::Compression;
use flate2::write::GzEncoder;
use std::io::Write;

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

#[test]
fn the_format_is_told_by_content_whatever_the_name() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("countries.csv", "looks-like.mmdb", GeoFormat::RangeCsv),
        (
            "delegated-nro-extended.txt",
            "ranges.csv",
            GeoFormat::Delegated,
        ),
        (
            "countries-v6.mmdb",
            "delegated-apnic-latest",
            GeoFormat::Mmdb,
        ),
    ];
    for (fixture_name, misleading, format) in cases {
        let bytes = std::fs::read(fixture(fixture_name)).unwrap();
        assert_eq!(detect_format(&bytes), Some(format), "{fixture_name}");
        let plain = dir.path().join(misleading);
        std::fs::write(&plain, &bytes).unwrap();
        let zipped = dir.path().join(format!("{misleading}.txt"));
        std::fs::write(&zipped, gzip(&bytes)).unwrap();
        let loaded = load_files(&[&plain, &zipped]).unwrap();
        for report in &loaded.reports {
            assert_eq!(report.format, format, "{report}");
            assert_eq!(report.bad, 0, "{report}");
        }
        assert_eq!(loaded.reports[0].ranges, loaded.reports[1].ranges);
    }
}

#[test]
fn a_later_file_overrides_an_earlier_one_where_they_overlap() {
    let dir = tempfile::tempdir().unwrap();
    let first = dir.path().join("first.csv");
    std::fs::write(
        &first,
        "192.0.2.0,192.0.2.255,AA\n2001:db8::,2001:db8::ffff,AA\n",
    )
    .unwrap();
    let second = dir.path().join("second.csv");
    std::fs::write(&second, "192.0.2.128,192.0.3.127,BB\n").unwrap();

    let loaded = load_files(&[&first, &second]).unwrap();
    let ranges: Vec<String> = loaded.map.ranges().map(|r| r.to_string()).collect();
    assert_eq!(
        ranges,
        [
            "192.0.2.0-192.0.2.127 AA",
            "192.0.2.128-192.0.3.127 BB",
            "2001:db8::-2001:db8::ffff AA"
        ]
    );
    let reversed = load_files(&[&second, &first]).unwrap();
    assert_eq!(country_of(&reversed.map, "192.0.2.128/25"), "AA");
    assert_eq!(country_of(&reversed.map, "192.0.3.0/25"), "BB");
}

#[test]
fn a_file_that_cannot_be_read_is_named() {
    let missing = fixture("no-such-file.csv");
    let error = load_files(&[fixture("countries.csv"), missing.clone()]).unwrap_err();
    assert!(matches!(error, GeoError::Io { .. }));
    assert!(
        error
            .to_string()
            .starts_with(&format!("cannot read {}: ", missing.display())),
        "{error}"
    );

    let error = parse(b"<html>\n<body>not found</body>\n", "page.html").unwrap_err();
    assert_eq!(
        error.to_string(),
        "page.html is not a prefix-to-country file: its first line `<html>` is neither a delegation header nor `start,end,CC`, and it is not MMDB"
    );
    let error = parse(&[0x1f, 0x8b, 8, 0, 1, 2, 3], "cut.gz").unwrap_err();
    assert!(
        error.to_string().starts_with("cut.gz: damaged gzip: "),
        "{error}"
    );
    let error = parse(b"", "empty").unwrap_err();
    assert!(matches!(error, GeoError::UnknownFormat { .. }), "{error}");
}
