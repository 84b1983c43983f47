//! What the detector's integration tests share: the lab profile's hosts, the
//! clock they count from, and three vantage points probing at offsets of their
//! own. Each test file uses what it needs of it.
#![allow(dead_code)]

use blackout_bgp::{BgpState, Vrps, WatchSet};
use blackout_detect::{Detector, DetectorConfig};
use blackout_model::{EventUpdate, Timestamp, UpdateKind};

/// The lab profile's detector, over a BGP state of its watched prefixes with no
/// route yet.
pub fn lab_detector() -> (BgpState, Detector) {
    let profile = blackout_profile::builtin("lab").unwrap();
    let bgp = BgpState::new(WatchSet::from_profile(&profile), Vrps::default());
    (bgp, Detector::new(DetectorConfig::from_profile(&profile)))
}

/// `millis` after the tests' epoch.
pub fn t(millis: i64) -> Timestamp {
    Timestamp::from_micros(1_735_689_600_000_000 + millis * 1000)
}

/// The lab profile's hosts.
pub const HOSTS: [&str; 4] = [
    "www.lab.example",
    "www2.lab.example",
    "ping3.lab.example",
    "ping4.lab.example",
];

/// The vantage points and how far into each 2 s round each probes.
pub const VANTAGES: [(&str, i64); 3] = [("vp-a", 0), ("vp-b", 700), ("vp-c", 1400)];

/// The events that started, as `ENTITY CAUSE`.
pub fn started(updates: &[EventUpdate]) -> Vec<String> {
    updates
        .iter()
        .filter(|u| u.kind == UpdateKind::Started)
        .map(|u| format!("{} {}", u.event.entity, u.event.cause))
        .collect()
}
