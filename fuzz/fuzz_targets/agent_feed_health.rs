//! Arbitrary bytes as a feed health report the central receives from the
//! broker, on a subject taken from the input too (up to the first newline) or a
//! valid one.
//!
//! Invariants beyond "no panic": a decoded report carries the schema version
//! this blackout reads and came on the subject its content names; its texts
//! have no control character left; its rate is a finite number not below zero;
//! at the central its feed is named after the vantage point.

#![no_main]

use blackout_model::subject::SCHEMA_VERSION;
use blackout_relay::decode_feed_health;
use libfuzzer_sys::fuzz_target;

#[path = "shared/broker_message.rs"]
mod broker_message;
use broker_message::{inert, on_subject};

fuzz_target!(|data: &[u8]| {
    let (subject, payload) = on_subject(data, "blackout.v1.kp.fra-1.feed");
    if let Ok(report) = decode_feed_health(&subject, payload) {
        assert_eq!(report.schema, SCHEMA_VERSION);
        assert_eq!(report.encode().unwrap().subject, subject);
        for text in [
            Some(&report.feed),
            report.last_error.as_ref(),
            report.why_no_routes.as_ref(),
        ]
        .into_iter()
        .flatten()
        {
            assert!(inert(text));
        }
        assert!(report.messages_per_sec.is_finite() && report.messages_per_sec >= 0.0);
        let vantage = report.vantage.clone();
        let health = report.into_health();
        assert!(health.feed.name.starts_with(&format!("{vantage}/")));
    }
});
