//! Damaged MRT (issue 13): a length field overwritten in a real file loses only the
//! damaged record (the reader scans to the next record instead of swallowing the rest),
//! and a gzip trailer that does not match is named as a checksum error.
//!
//! The files are real (../shared/data); the damage is made in a temp dir. Without the
//! data each test says it was skipped, and why, and passes.

use crate::common::*;
use blackout_archive::{ReadStats, ReaderOptions, open_stream};
use std::io::Read as _;
use std::path::Path;
use std::sync::Arc;

/// The decompressed bytes of a gzip or bzip2 file, as far as they decompress (a
/// truncated file gives what comes before the cut).
fn plain(path: &Path) -> Vec<u8> {
    let file = std::fs::File::open(path).expect("data file");
    let mut reader: Box<dyn std::io::Read> = if path.extension().is_some_and(|e| e == "bz2") {
        Box::new(bzip2::read::MultiBzDecoder::new(file))
    } else {
        Box::new(flate2::read::MultiGzDecoder::new(file))
    };
    let mut out = Vec::new();
    let mut chunk = vec![0; 64 * 1024];
    while let Ok(n) = reader.read(&mut chunk) {
        if n == 0 {
            break;
        }
        out.extend_from_slice(&chunk[..n]);
    }
    out
}

/// Where each whole record starts (by the length fields of an intact stream).
fn record_starts(mrt: &[u8]) -> Vec<usize> {
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 12 <= mrt.len() {
        let length = u32::from_be_bytes([mrt[at + 8], mrt[at + 9], mrt[at + 10], mrt[at + 11]]);
        let end = at + 12 + length as usize;
        if end > mrt.len() {
            break;
        }
        starts.push(at);
        at = end;
    }
    starts
}

/// A length to write over a record's.
#[derive(Clone, Copy, Debug)]
enum WrongLength {
    /// To the end of any of these files (within the 16 MiB a header may declare).
    ToTheEnd,
    /// A little long: the record's end falls inside a later record.
    Longer,
    /// One byte short: the next header is read one byte early.
    OneShort,
    Zero,
    /// More than any record may be.
    Impossible,
}

impl WrongLength {
    const ALL: [WrongLength; 5] = [
        WrongLength::ToTheEnd,
        WrongLength::Longer,
        WrongLength::OneShort,
        WrongLength::Zero,
        WrongLength::Impossible,
    ];

    fn instead_of(self, body: u32) -> u32 {
        match self {
            WrongLength::ToTheEnd => 0x00ff_ffff,
            WrongLength::Longer => body + 1000,
            WrongLength::OneShort => body - 1,
            WrongLength::Zero => 0,
            WrongLength::Impossible => u32::MAX,
        }
    }
}

fn read_plain(bytes: Vec<u8>) -> (Vec<String>, ReadStats) {
    let mut reader = open_stream(
        Box::new(std::io::Cursor::new(bytes)),
        Arc::from("test"),
        &ReaderOptions::default(),
    )
    .expect("MRT");
    let lines: Vec<String> = reader.by_ref().filter_map(|i| route_line(&i)).collect();
    (lines, reader.stats())
}

/// Overwrites the length field of record `index` of `mrt` with each of several wrong
/// values and checks that only that record is lost: the same route lines as the intact
/// stream less that record's, one more damaged record, one resync, and exactly the
/// record's bytes skipped.
fn only_the_damaged_record_is_lost(name: &str, mrt: &[u8], index: usize, lengths: &[WrongLength]) {
    let starts = record_starts(mrt);
    let (start, end) = (starts[index], starts[index + 1]);
    let body = (end - start - 12) as u32;
    let (intact, intact_stats) = read_plain(mrt.to_vec());
    let before = read_plain(mrt[..start].to_vec()).0.len();
    let through = read_plain(mrt[..end].to_vec()).0.len();
    let mut expected = intact[..before].to_vec();
    expected.extend_from_slice(&intact[through..]);
    for wrong in lengths {
        let length = wrong.instead_of(body);
        let mut damaged = mrt.to_vec();
        damaged[start + 8..start + 12].copy_from_slice(&length.to_be_bytes());
        let (lines, stats) = read_plain(damaged);
        let what = format!(
            "{name}: record {index} of {}, {wrong:?} length",
            starts.len()
        );
        assert_eq!(
            stats.records,
            intact_stats.records - 1,
            "{what}: {:?}",
            stats.errors
        );
        assert_eq!(
            stats.damaged_records,
            intact_stats.damaged_records + 1,
            "{what}"
        );
        assert_eq!(stats.resyncs, 1, "{what}");
        assert_eq!(
            stats.skipped_bytes,
            intact_stats.skipped_bytes + (end - start) as u64,
            "{what}"
        );
        assert_eq!(stats.truncated, intact_stats.truncated, "{what}");
        assert!(
            lines == expected,
            "{what}: {} lines, expected {}",
            lines.len(),
            expected.len()
        );
    }
}

#[test]
fn an_overwritten_length_field_loses_only_its_record() {
    let test = "an_overwritten_length_field_loses_only_its_record";
    let Some(path) = data_file_or_skip(test, "mrt/ris-rrcXX_latest-update.20181218.1140.gz") else {
        return;
    };
    // Ground truth: bgpdump prints exactly our lines of the intact file (see
    // conformance), so the damaged file must give bgpdump's lines less one record's.
    let bgpdump = expected_for(&path).lines;
    let mrt = plain(&path);
    let (intact, _) = read_plain(mrt.clone());
    assert!(intact == bgpdump, "the intact file reads as bgpdump does");
    let starts = record_starts(&mrt);
    assert_eq!(starts.len(), 57_211);
    // 12,674 records follow the damaged one: a length that runs to the end of the
    // file would swallow all of them (1.74 MB).
    let index = starts.len() - 1 - 12_674;
    assert_eq!(mrt.len() - starts[index + 1], 1_737_288);
    only_the_damaged_record_is_lost("latest-update 2018-12-18", &mrt, index, &WrongLength::ALL);
    // also at the very first record, where no earlier record gives the time
    only_the_damaged_record_is_lost(
        "latest-update 2018-12-18",
        &mrt,
        0,
        &[WrongLength::ToTheEnd, WrongLength::Impossible],
    );
}

#[test]
fn an_overwritten_length_field_in_a_rib_loses_only_its_record() {
    let test = "an_overwritten_length_field_in_a_rib_loses_only_its_record";
    // TABLE_DUMP (v1), RIS rrc05 2002: one entry per record
    if let Some(path) = data_file_or_skip(test, "mrt/ris-rrc05_bview.20020722.2337.gz") {
        // records 50,000 to 60,000 of 115,521
        let mrt = plain(&path);
        let starts = record_starts(&mrt);
        let sample = &mrt[starts[50_000]..starts[60_000]];
        only_the_damaged_record_is_lost("rrc05 bview 2002", sample, 5_000, &WrongLength::ALL);
    }
    // TABLE_DUMP_V2 IPv6, route-views6 2015, cut at 1 MiB of bzip2 (the intact stream is
    // truncated already: one damaged record at its end)
    if let Some(path) = data_file_or_skip(
        test,
        "mrt/routeviews6_rib.20151101.0600.first1MiB-truncated.bz2",
    ) {
        let mrt = plain(&path);
        only_the_damaged_record_is_lost("route-views6 rib 2015", &mrt, 3_000, &WrongLength::ALL);
    }
}

#[test]
fn a_bad_gzip_checksum_is_named_and_loses_nothing() {
    let test = "a_bad_gzip_checksum_is_named_and_loses_nothing";
    let Some(path) = data_file_or_skip(test, "mrt/ris-rrcXX_latest-update.20181218.1140.gz") else {
        return;
    };
    let intact = read_file(&path, None);
    let gzip = std::fs::read(&path).expect("data file");
    let dir = tempfile::tempdir().expect("temp dir");
    // the trailer: CRC-32 (its first byte), then the length (its last byte)
    for at in [gzip.len() - 8, gzip.len() - 1] {
        let mut damaged = gzip.clone();
        damaged[at] ^= 0x5a;
        let copy = dir.path().join("updates.20181218.1140.gz");
        std::fs::write(&copy, damaged).expect("write");
        let ours = read_file(&copy, None);
        assert!(ours.lines == intact.lines, "every record is still read");
        let stats = &ours.stats;
        assert_eq!(stats.checksum_errors, 1, "{stats:?}");
        assert_eq!(
            (stats.damaged_records, stats.resyncs, stats.skipped_bytes),
            (0, 0, 0)
        );
        assert!(!stats.truncated);
        let named = stats.stream_error.as_deref().unwrap_or_default();
        assert!(
            named.starts_with("gzip checksum error at decompressed offset 7864375"),
            "{named}"
        );
        assert_eq!(stats.errors, [named.to_string()], "no resync is reported");
        assert!(stats.is_damaged());
        assert!(
            stats
                .damage_summary()
                .starts_with("0 damaged records; gzip checksum error at decompressed offset"),
            "{}",
            stats.damage_summary()
        );
    }
}

#[test]
fn a_cut_compressed_file_is_truncated_and_says_so() {
    let test = "a_cut_compressed_file_is_truncated_and_says_so";
    let dir = tempfile::tempdir().expect("temp dir");
    for file in [
        "mrt/ris-rrc05_updates.20100722.2015.gz",
        "mrt/routeviews2_rib.20140523.0600.first1MiB-truncated.bz2",
    ] {
        let Some(path) = data_file_or_skip(test, file) else {
            continue;
        };
        let bytes = std::fs::read(&path).expect("data file");
        let cut = dir.path().join(path.file_name().expect("file name"));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
        let stats = read_file(&cut, None).stats;
        assert!(stats.truncated, "{file}: {stats:?}");
        let named = stats.stream_error.as_deref().unwrap_or_default();
        assert!(
            named.contains("data ends early") && named.contains("the file is truncated"),
            "{file}: {named}"
        );
        assert_eq!(stats.checksum_errors, 0);
        assert!(stats.damage_summary().contains("truncated"));
    }
}
