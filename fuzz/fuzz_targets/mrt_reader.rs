//! Arbitrary bytes through the MRT archive reader, as a plain (or gzip/bzip2) stream.
//!
//! Invariants beyond "no panic": a stream that is not MRT is refused at open; one that
//! is accepted ends, its counters agree with what it yielded, its problem list is
//! bounded and not empty when something was damaged or unsupported, and the table
//! sizes add up to the RIB entries counted.

#![no_main]

use blackout_archive::{ReaderOptions, open_stream};
use blackout_model::BgpInput;
use libfuzzer_sys::fuzz_target;
use std::sync::Arc;

fuzz_target!(|data: &[u8]| {
    let options = ReaderOptions::default();
    let Ok(mut reader) = open_stream(
        Box::new(std::io::Cursor::new(data.to_vec())),
        Arc::from("fuzz"),
        &options,
    ) else {
        return;
    };
    let (mut routes, mut peer_downs, mut table_sizes, mut table_total) = (0u64, 0u64, 0u64, 0u64);
    for input in reader.by_ref() {
        match input {
            BgpInput::Route(_) => routes += 1,
            BgpInput::PeerDown { .. } => peer_downs += 1,
            BgpInput::TableSize { ipv4, ipv6, .. } => {
                table_sizes += 1;
                table_total += u64::from(ipv4) + u64::from(ipv6);
            }
        }
    }
    assert!(reader.next().is_none(), "a finished reader stays finished");
    let stats = reader.stats();
    assert_eq!(stats.routes, routes);
    assert_eq!(stats.peer_downs, peer_downs);
    assert_eq!(stats.table_sizes, table_sizes);
    assert!(table_total <= stats.rib_entries, "{table_total} > {}", stats.rib_entries);
    assert!(stats.errors.len() <= 10);
    assert_eq!(
        stats.errors.is_empty(),
        stats.damaged_records + stats.unsupported_records == 0
    );
    // each framed record holds at least a header: the counters cannot outrun the bytes
    assert!(stats.records * 12 <= stats.bytes);
    assert!(stats.skipped_bytes <= stats.bytes);
});
