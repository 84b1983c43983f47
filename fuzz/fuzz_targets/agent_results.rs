//! Arbitrary bytes as a message of results the central receives from the
//! broker, on a subject taken from the input too (up to the first newline) or a
//! valid one.
//!
//! Invariants beyond "no panic": a decoded message carries the schema version
//! this blackout reads, came on the subject its content names, holds 1 to
//! `MAX_RESULTS_PER_MESSAGE` results whose sequence numbers do not overflow, and
//! has no control character left in the texts it hands on.

#![no_main]

use blackout_model::subject::SCHEMA_VERSION;
use blackout_relay::{MAX_RESULTS_PER_MESSAGE, decode_results};
use libfuzzer_sys::fuzz_target;

#[path = "shared/broker_message.rs"]
mod broker_message;
use broker_message::{inert, on_subject};

fuzz_target!(|data: &[u8]| {
    let (subject, payload) = on_subject(data, "blackout.v1.kp.fra-1.results");
    if let Ok(message) = decode_results(&subject, payload) {
        assert_eq!(message.schema, SCHEMA_VERSION);
        assert_eq!(message.encode().unwrap().subject, subject);
        assert!((1..=MAX_RESULTS_PER_MESSAGE).contains(&message.results.len()));
        assert!(message.first.checked_add(message.results.len() as u64).is_some());
        assert!(message.location.as_deref().is_none_or(inert));
        for result in message.into_each() {
            assert!(inert(&result.result.target));
            assert!(inert(&result.result.check));
            assert!(result.result.outcome.reason().is_none_or(inert));
        }
    }
});
