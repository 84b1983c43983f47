//! Arbitrary bytes through the MRT archive reader, as a plain (or gzip/bzip2) stream,
//! whole and cut at a place the input chooses.
//!
//! The input is two bytes that choose the cut (a fraction of the rest), then the
//! stream. Invariants beyond "no panic": a stream that is not MRT is refused at open;
//! one that is accepted ends, its counters agree with what it yielded, its problem
//! list is bounded and not empty when something was damaged, unsupported or failed its
//! checksum, every resync follows damage, and the table sizes add up to the RIB entries
//! counted. Cutting the stream never yields more records than the whole, and the
//! routes and peer-downs of the cut are the first ones of the whole: the reader's
//! judgements (a damaged length, the resync after it) never look past a record's
//! declared length, and one that would stops the reading.
//!
//! The resync path needs records to damage: seed the corpus with the first records of
//! real archives, e.g. for each file F of ../shared/data/mrt,
//! `(printf '\x80\x00'; zcat F | head -c 20000) > fuzz/corpus/mrt_reader/$(basename F)`.

#![no_main]

use blackout_archive::{ReadStats, ReaderOptions, open_stream};
use blackout_model::BgpInput;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

/// Reads a stream to its end, checking what holds for any input; `None` if it is
/// refused at open.
fn read(data: &[u8]) -> Option<(Vec<BgpInput>, ReadStats)> {
    let mut reader = open_stream(
        Box::new(std::io::Cursor::new(data.to_vec())),
        Arc::from("fuzz"),
        &ReaderOptions::default(),
    )
    .ok()?;
    let inputs: Vec<BgpInput> = reader.by_ref().collect();
    assert!(reader.next().is_none(), "a finished reader stays finished");
    let stats = reader.stats();
    let (mut routes, mut peer_downs, mut table_sizes, mut table_total) = (0, 0, 0, 0);
    for input in &inputs {
        match input {
            BgpInput::Route(_) => routes += 1,
            BgpInput::PeerDown { .. } => peer_downs += 1,
            BgpInput::TableSize { ipv4, ipv6, .. } => {
                table_sizes += 1;
                table_total += u64::from(*ipv4) + u64::from(*ipv6);
            }
        }
    }
    assert_eq!(stats.routes, routes);
    assert_eq!(stats.peer_downs, peer_downs);
    assert_eq!(stats.table_sizes, table_sizes);
    assert!(table_total <= stats.rib_entries, "{table_total} > {}", stats.rib_entries);
    assert!(stats.errors.len() <= 10);
    assert_eq!(
        stats.errors.is_empty(),
        stats.damaged_records + stats.unsupported_records + stats.checksum_errors == 0,
        "{stats:?}"
    );
    assert!(stats.resyncs <= stats.damaged_records, "{stats:?}");
    assert!(!stats.truncated || stats.damaged_records > 0, "{stats:?}");
    assert!(stats.skipped_bytes == 0 || stats.damaged_records > 0, "{stats:?}");
    // each framed record holds at least a header: the counters cannot outrun the bytes
    assert!(stats.records * 12 <= stats.bytes);
    assert!(stats.skipped_bytes <= stats.bytes);
    Some((inputs, stats))
}

/// Routes and peer-downs (table sizes come when a dump ends, which a cut moves).
fn changes(inputs: &[BgpInput]) -> Vec<&BgpInput> {
    inputs
        .iter()
        .filter(|input| !matches!(input, BgpInput::TableSize { .. }))
        .collect()
}

fuzz_target!(|data: &[u8]| {
    let Some((choice, stream)) = data.split_first_chunk::<2>() else {
        return;
    };
    let Some((whole, whole_stats)) = read(stream) else {
        return;
    };
    let cut = usize::from(u16::from_be_bytes(*choice)) * stream.len() / 65_536;
    let Some((part, part_stats)) = read(&stream[..cut]) else {
        return;
    };
    assert!(
        part_stats.records <= whole_stats.records,
        "the cut at {cut} read {} records, the whole {}",
        part_stats.records,
        whole_stats.records
    );
    let (part, whole) = (changes(&part), changes(&whole));
    assert!(part.len() <= whole.len(), "the cut at {cut} yielded more");
    assert_eq!(part[..], whole[..part.len()], "the cut at {cut} changed what came before it");
});
