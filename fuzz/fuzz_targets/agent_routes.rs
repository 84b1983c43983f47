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

#[path = "shared/broker_message.rs"]
mod broker_message;
use broker_message::{inert, on_subject};

fuzz_target!(|data: &[u8]| {
    let (subject, payload) = on_subject(data, "blackout.v1.kp.fra-1.routes");
    if let Ok(batch) = decode_routes(&subject, payload) {
        assert_eq!(batch.schema, SCHEMA_VERSION);
        assert_eq!(batch.encode().unwrap().subject, subject);
        assert!(batch.inputs.len() <= MAX_ROUTES_PER_BATCH);
        assert!(inert(&batch.feed));
        let prefix = format!("{}/", batch.vantage);
        for input in batch.into_inputs() {
            let peer = match input {
                BgpInput::Route(update) => update.peer,
                BgpInput::PeerDown { peer, .. } | BgpInput::TableSize { peer, .. } => peer,
            };
            assert!(peer.collector.starts_with(&prefix));
            assert!(inert(&peer.collector));
        }
    }
});
