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

fuzz_target!(|data: &[u8]| {
    let (subject, payload) = match data.iter().position(|&b| b == b'\n') {
        Some(cut) => (String::from_utf8_lossy(&data[..cut]).into_owned(), &data[cut + 1..]),
        None => ("blackout.v1.kp.fra-1.feed".to_string(), data),
    };
    if let Ok(report) = decode_feed_health(&subject, payload) {
        assert_eq!(report.schema, SCHEMA_VERSION);
        assert_eq!(report.encode().unwrap().subject, subject);
        for text in [Some(&report.feed), report.last_error.as_ref(), report.why_no_routes.as_ref()]
            .into_iter()
            .flatten()
        {
            assert!(!text.chars().any(char::is_control));
        }
        assert!(report.messages_per_sec.is_finite() && report.messages_per_sec >= 0.0);
        let vantage = report.vantage.clone();
        let health = report.into_health();
        assert!(health.feed.name.starts_with(&format!("{vantage}/")));
    }
});
