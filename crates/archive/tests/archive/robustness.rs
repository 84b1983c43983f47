//! Damaged, truncated and foreign input: read as far as it goes, counted, never a panic.

use crate::common::*;
use blackout_archive::{ArchiveError, ArchiveInput, Location, ReaderOptions, open, open_stream};
use blackout_model::BgpInput;
use flate2::read::MultiGzDecoder;
use std::io::Read;
use std::path::Path;
use std::sync::Arc;

/// A small deterministic generator (xorshift64*), so failures reproduce.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

fn decompressed(path: &Path) -> Vec<u8> {
    let mut out = Vec::new();
    MultiGzDecoder::new(std::fs::File::open(path).expect("data file"))
        .read_to_end(&mut out)
        .expect("gzip data file");
    out
}

/// Record boundaries of an intact plain MRT stream (12-byte header + length).
fn boundaries(mrt: &[u8]) -> Vec<usize> {
    let mut at = 0;
    let mut out = vec![0];
    while at + 12 <= mrt.len() {
        let len = u32::from_be_bytes([mrt[at + 8], mrt[at + 9], mrt[at + 10], mrt[at + 11]]);
        at += 12 + len as usize;
        out.push(at);
    }
    assert_eq!(at, mrt.len(), "the sample is intact");
    out
}

/// Reads bytes as a stream, checking the invariants that hold for any input.
fn read_bytes(
    bytes: Vec<u8>,
) -> Result<(Vec<BgpInput>, blackout_archive::ReadStats), ArchiveError> {
    let mut reader = open_stream(
        Box::new(std::io::Cursor::new(bytes)),
        Arc::from("test"),
        &ReaderOptions::default(),
    )?;
    let inputs: Vec<BgpInput> = reader.by_ref().collect();
    let stats = reader.stats();
    let routes = inputs
        .iter()
        .filter(|i| matches!(i, BgpInput::Route(_)))
        .count();
    assert_eq!(stats.routes as usize, routes);
    assert!(stats.errors.len() <= 10);
    assert_eq!(
        stats.errors.is_empty(),
        stats.damaged_records + stats.unsupported_records + stats.checksum_errors == 0,
        "{stats:?}"
    );
    assert!(stats.resyncs <= stats.damaged_records, "{stats:?}");
    assert!(!stats.truncated || stats.damaged_records > 0, "{stats:?}");
    assert!(
        stats.skipped_bytes == 0 || stats.damaged_records > 0,
        "{stats:?}"
    );
    assert!(reader.next().is_none(), "a finished reader stays finished");
    Ok((inputs, stats))
}

fn updates_sample() -> Vec<u8> {
    decompressed(&data_dir().join("mrt/ris-rrc06_updates.20150401.0000.gz"))
}

#[test]
fn truncated_streams_read_up_to_the_cut() {
    require_data!("truncated_streams_read_up_to_the_cut");
    let mrt = updates_sample();
    let bounds = boundaries(&mrt);
    let (full, _) = read_bytes(mrt.clone()).expect("intact sample");
    let mut rng = Rng(7);
    for _ in 0..60 {
        let cut = 1 + rng.below(mrt.len() - 1);
        let (inputs, stats) = read_bytes(mrt[..cut].to_vec()).expect("starts with MRT");
        let on_boundary = bounds.contains(&cut);
        assert_eq!(
            stats.damaged_records,
            u64::from(!on_boundary),
            "cut at {cut}"
        );
        // everything before the cut, in the same order
        assert!(inputs.len() <= full.len());
        assert_eq!(inputs[..], full[..inputs.len()], "cut at {cut}");
        let whole_records = bounds.iter().filter(|b| **b <= cut).count() as u64 - 1;
        assert_eq!(stats.records, whole_records, "cut at {cut}");
    }
}

#[test]
fn truncated_compressed_files_are_counted_not_fatal() {
    require_data!("truncated_compressed_files_are_counted_not_fatal");
    let dir = tempfile::tempdir().expect("temp dir");
    let data = data_dir();
    for file in [
        "mrt/ris-rrc05_updates.20100722.2015.gz",
        // bzip2 in 900 kB blocks: a 1 MiB file holds several
        "mrt/routeviews2_rib.20140523.0600.first1MiB-truncated.bz2",
    ] {
        let bytes = std::fs::read(data.join(file)).expect("data file");
        // (a cut inside a file's only bzip2 block leaves nothing to decompress: NotMrt)
        let full = read_file(&data.join(file), None);
        let cut = dir.path().join(Path::new(file).file_name().expect("name"));
        std::fs::write(&cut, &bytes[..bytes.len() * 2 / 3]).expect("write");
        let ours = read_file(&cut, None);
        assert!(ours.stats.damaged_records >= 1, "{file}: {:?}", ours.stats);
        assert!(
            !ours.lines.is_empty() && ours.lines.len() < full.lines.len(),
            "{file}"
        );
        assert_eq!(ours.lines[..], full.lines[..ours.lines.len()], "{file}");
    }
}

#[test]
fn garbage_between_records_is_skipped_and_reading_resumes() {
    require_data!("garbage_between_records_is_skipped_and_reading_resumes");
    let mrt = updates_sample();
    let bounds = boundaries(&mrt);
    let (full, _) = read_bytes(mrt.clone()).expect("intact sample");
    let mut rng = Rng(11);
    for round in 0..20 {
        let at = bounds[1 + rng.below(bounds.len() - 2)];
        let garbage_len = 1 + rng.below(3000);
        // garbage that is not a header anywhere (zero type fields never are)
        let garbage = vec![0u8; garbage_len];
        let mut damaged = mrt[..at].to_vec();
        damaged.extend_from_slice(&garbage);
        damaged.extend_from_slice(&mrt[at..]);
        let (inputs, stats) = read_bytes(damaged).expect("starts with MRT");
        assert_eq!(inputs, full, "round {round}: every record is still read");
        assert_eq!(stats.damaged_records, 1, "round {round}");
        assert_eq!(stats.skipped_bytes, garbage_len as u64, "round {round}");
        // random garbage: the records after it are found again (some may be lost to a
        // false boundary inside the garbage, but never more than the garbage's length)
        let mut damaged = mrt[..at].to_vec();
        damaged.extend_from_slice(&rng.bytes(garbage_len));
        damaged.extend_from_slice(&mrt[at..]);
        let (inputs, stats) = read_bytes(damaged).expect("starts with MRT");
        assert!(stats.damaged_records >= 1, "round {round}");
        assert!(
            inputs.len() + 50 >= full.len(),
            "round {round}: {} of {}",
            inputs.len(),
            full.len()
        );
    }
}

#[test]
fn a_cut_damaged_stream_reads_as_the_whole_does_up_to_the_cut() {
    let test = "a_cut_damaged_stream_reads_as_the_whole_does_up_to_the_cut";
    let Some(path) = data_file_or_skip(test, "mrt/ris-rrc06_updates.20150401.0000.gz") else {
        return;
    };
    let mrt = decompressed(&path);
    let bounds = boundaries(&mrt);
    let mut rng = Rng(13);
    for round in 0..10 {
        // two overwritten length fields and a run of random bytes between records
        let mut damaged = mrt.clone();
        for _ in 0..2 {
            let at = bounds[rng.below(bounds.len() - 1)];
            let shift = rng.below(32);
            let length = (rng.next() as u32) >> shift;
            damaged[at + 8..at + 12].copy_from_slice(&length.to_be_bytes());
        }
        let at = bounds[1 + rng.below(bounds.len() - 2)];
        let garbage_len = 1 + rng.below(500);
        let garbage = rng.bytes(garbage_len);
        damaged.splice(at..at, garbage);
        let (whole, whole_stats) = read_bytes(damaged.clone()).expect("starts with MRT");
        for _ in 0..30 {
            let cut = 12 + rng.below(damaged.len() - 12);
            let (inputs, stats) = read_bytes(damaged[..cut].to_vec()).expect("starts with MRT");
            assert!(
                stats.records <= whole_stats.records,
                "round {round}, cut at {cut}"
            );
            assert_eq!(
                inputs[..],
                whole[..inputs.len()],
                "round {round}, cut at {cut}"
            );
        }
    }
}

#[test]
fn corrupted_bytes_never_panic() {
    require_data!("corrupted_bytes_never_panic");
    let mrt = updates_sample();
    let mut rng = Rng(3);
    for _ in 0..200 {
        let mut damaged = mrt.clone();
        for _ in 0..1 + rng.below(20) {
            let at = 12 + rng.below(damaged.len() - 12);
            damaged[at] = rng.next() as u8;
        }
        let _ = read_bytes(damaged);
    }
}

#[test]
fn random_bytes_never_panic() {
    require_data!("random_bytes_never_panic");
    let mut rng = Rng(5);
    let header = &updates_sample()[..12];
    for round in 0..300 {
        let len = rng.below(4096);
        let mut bytes = rng.bytes(len);
        if round % 2 == 0 {
            // a real header first, so the body decoders see the noise
            let mut with_header = header.to_vec();
            with_header.append(&mut bytes);
            bytes = with_header;
        }
        if round % 5 == 0 {
            let mut gzip = vec![0x1f, 0x8b];
            gzip.append(&mut bytes);
            bytes = gzip;
        }
        match read_bytes(bytes) {
            Ok(_) | Err(ArchiveError::NotMrt { .. }) => {}
            Err(other) => panic!("round {round}: {other}"),
        }
    }
}

#[test]
fn not_mrt_is_an_error_at_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    let text = dir.path().join("notes.txt");
    std::fs::write(
        &text,
        "TABLE_DUMP2|1400824800|B|196.7.106.245|2905|0.0.0.0/0\n",
    )
    .expect("write");
    let random = dir.path().join("random.bin");
    std::fs::write(&random, Rng(9).bytes(65_536)).expect("write");
    let gzip_text = dir.path().join("text.gz");
    {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        std::io::Write::write_all(&mut encoder, b"hello, this is not MRT at all\n").expect("gzip");
        std::fs::write(&gzip_text, encoder.finish().expect("gzip")).expect("write");
    }
    let broken_gzip = dir.path().join("broken.gz");
    std::fs::write(&broken_gzip, [0x1f, 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9]).expect("write");
    for path in [&text, &random, &gzip_text, &broken_gzip] {
        let input = ArchiveInput::from_location(Location::File(path.clone()));
        match open(&input, &ReaderOptions::default()) {
            Err(ArchiveError::NotMrt { location, reason }) => {
                assert!(location.ends_with(path.file_name().unwrap().to_str().unwrap()));
                assert!(!reason.is_empty());
            }
            Err(other) => panic!("{}: {other}", path.display()),
            Ok(_) => panic!("{} was taken for MRT", path.display()),
        }
    }
    // a missing file is an I/O error that names the path
    let missing = ArchiveInput::from_location(Location::File(dir.path().join("missing.gz")));
    let error = open(&missing, &ReaderOptions::default())
        .err()
        .expect("missing file");
    assert!(matches!(error, ArchiveError::Io { .. }));
    assert!(error.to_string().contains("missing.gz"), "{error}");
    // an empty file is an empty archive (collectors publish empty update files)
    let empty = dir.path().join("updates.20150401.0000");
    std::fs::write(&empty, b"").expect("write");
    let input = ArchiveInput::from_location(Location::File(empty));
    let mut reader = open(&input, &ReaderOptions::default()).expect("empty file");
    assert!(reader.next().is_none());
    assert_eq!(reader.stats().damaged_records, 0);
}
