//! Arbitrary bytes as a central's trace request, as an agent receives it from
//! the broker, on a subject taken from the input too (up to the first newline)
//! or a valid one.
//!
//! Invariants beyond "no panic": a decoded request carries the schema version
//! this blackout reads and came on the subject its content names; its event id,
//! target and vantage point have no control character left; one that names no
//! vantage point is for every one, one that names one is for it alone.

#![no_main]

use blackout_model::subject::SCHEMA_VERSION;
use blackout_relay::decode_trace_request;
use libfuzzer_sys::fuzz_target;

#[path = "shared/broker_message.rs"]
mod broker_message;
use broker_message::{inert, on_subject};

fuzz_target!(|data: &[u8]| {
    let (subject, payload) = on_subject(data, "blackout.v1.kp.trace-request");
    if let Ok(ask) = decode_trace_request(&subject, payload) {
        assert_eq!(ask.schema, SCHEMA_VERSION);
        assert_eq!(ask.encode().unwrap().0, subject);
        let request = &ask.request;
        assert!(inert(&request.event.0));
        assert!(inert(&request.target));
        match &request.vantage {
            None => assert!(request.is_for("fra-1") && request.is_for("ams-2")),
            Some(vantage) => {
                assert!(inert(vantage));
                assert!(request.is_for(vantage));
                assert!(!request.is_for(&format!("{vantage}-other")));
            }
        }
    }
});
