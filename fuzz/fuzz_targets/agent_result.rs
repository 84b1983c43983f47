//! Arbitrary bytes as a message the central receives from the broker, on a
//! subject taken from the input too (up to the first newline) or a valid one.
//!
//! Invariants beyond "no panic": a decoded result carries the schema version
//! this blackout reads, came on the subject its content names, and has no
//! control character left in the texts it hands on.

#![no_main]

use blackout_model::subject::SCHEMA_VERSION;
use blackout_relay::decode;
use libfuzzer_sys::fuzz_target;

#[path = "shared/broker_message.rs"]
mod broker_message;
use broker_message::{inert, on_subject};

fuzz_target!(|data: &[u8]| {
    let (subject, payload) = on_subject(data, "blackout.v1.kp.fra-1.probe");
    if let Ok(message) = decode(&subject, payload) {
        assert_eq!(message.schema, SCHEMA_VERSION);
        assert_eq!(message.encode().unwrap().subject, subject);
        assert!(inert(&message.result.target));
        assert!(inert(&message.result.check));
        assert!(message.location.as_deref().is_none_or(inert));
        assert!(message.result.outcome.reason().is_none_or(inert));
    }
});
