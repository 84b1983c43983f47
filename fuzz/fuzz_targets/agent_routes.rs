//! Arbitrary bytes as a routes batch the central receives from the broker, on a
//! subject taken from the input too (up to the first newline) or a valid one.
//!
//! Invariants beyond "no panic": a decoded batch carries the schema version
//! this blackout reads, came on the subject its content names, holds no more
//! inputs than a batch may, and every peer it hands on is named by the vantage
//! point with no control character left.

#![no_main]

use blackout_model::BgpInput;
use blackout_model::subject::SCHEMA_VERSION;
use blackout_relay::{MAX_ROUTES_PER_BATCH, decode_routes};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let (subject, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(cut) => (String::from_utf8_lossy(&data[..cut]).into_owned(), &data[cut + 1..]),
        None => ("blackout.v1.kp.fra-1.routes".to_string(), data),
    };
    if let Ok(batch) = decode_routes(&subject, payload) {
        assert_eq!(batch.schema, SCHEMA_VERSION);
        assert_eq!(batch.encode().unwrap().subject, subject);
        assert!(batch.inputs.len() <= MAX_ROUTES_PER_BATCH);
        assert!(!batch.feed.chars().any(char::is_control));
        let prefix = format!("{}/", batch.vantage);
        for input in batch.into_inputs() {
            let peer = match input {
                BgpInput::Route(update) => update.peer,
                BgpInput::PeerDown { peer, .. } | BgpInput::TableSize { peer, .. } => peer,
            };
            assert!(peer.collector.starts_with(&prefix));
            assert!(!peer.collector.chars().any(char::is_control));
        }
    }
});
