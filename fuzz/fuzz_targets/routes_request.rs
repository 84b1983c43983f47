//! Arbitrary bytes as a central's request for relayed routes, as an agent
//! receives it from the broker.
//!
//! Invariants beyond "no panic": a decoded request carries the schema version
//! this blackout reads; one that names no vantage point asks every agent, and
//! one that names a vantage point asks that one and no other.

#![no_main]

use blackout_model::subject::SCHEMA_VERSION;
use blackout_relay::decode_routes_request;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(request) = decode_routes_request(data) {
        assert_eq!(request.schema, SCHEMA_VERSION);
        match &request.vantage {
            None => assert!(request.asks("fra-1") && request.asks("ams-2")),
            Some(vantage) => {
                assert!(request.asks(vantage));
                assert!(!request.asks(&format!("{vantage}-other")));
            }
        }
    }
});
