//! The VRP file read again while watch runs, over a live BGP session on
//! loopback: a ROA rewritten with a shorter maxLength makes the routes
//! RPKI-invalid, live (a warning state of each prefix in the status, not an
//! event: the routes stay visible); a file that does not parse is refused and the
//! VRPs in force stay; the ROA fixed again clears the warnings.

use crate::common::{PREFIXES, SPEAKER_AS, Speaker, Watch, bgp_profile};
use blackout_model::Cause;
use blackout_model::EventUpdate;
use std::time::Duration;

fn roa(max_length: u8) -> String {
    format!(
        r#"{{"metadata": {{"generated": 1}}, "roas": [{{"asn": "AS64500", "prefix": "203.0.113.0/24", "maxLength": {max_length}, "ta": "lab"}}]}}"#
    )
}

fn rpki(update: &EventUpdate) -> bool {
    update.event.cause == Cause::RpkiInvalid
}

/// Waits until the status shows `invalid` prefixes with an RPKI warning, and
/// returns the status.
async fn wait_rpki_warnings(watch: &Watch, invalid: usize, secs: u64) -> serde_json::Value {
    let until = std::time::Instant::now() + Duration::from_secs(secs);
    loop {
        let status = watch.get("/api/v1/status").await;
        let warned = status["prefixes"].as_array().map_or(0, |ps| {
            ps.iter().filter(|p| !p["rpki_invalid"].is_null()).count()
        });
        if warned == invalid {
            return status;
        }
        assert!(
            std::time::Instant::now() < until,
            "not {invalid} RPKI-invalid prefixes within {secs} s: {status:#}"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_vrp_file_changes_the_routes_rpki_states_live() {
    let dir = tempfile::tempdir().unwrap();
    let vrps = dir.path().join("vrps.json");
    std::fs::write(&vrps, roa(26)).unwrap();
    let speaker = Speaker::start().await;
    speaker.announce(&PREFIXES, &[SPEAKER_AS, 64501, 64500]);
    // Given a watch that sees the four /26s, valid under a ROA up to /26
    let watch = Watch::start_with(
        bgp_profile(speaker.port, ""),
        &dir.path().join("blackout.db"),
        Some(&vrps),
    );
    watch.wait_visibility(1.0, 30).await;
    wait_rpki_warnings(&watch, 0, 1).await;
    // When the ROA is rewritten with maxLength 24 (written elsewhere, renamed over)
    let next = dir.path().join("vrps.json.new");
    std::fs::write(&next, roa(24)).unwrap();
    std::fs::rename(&next, &vrps).unwrap();
    // Then every /26 is RPKI-invalid, live: a warning state of each prefix in the
    // status (and of the network), not an event, since the routes stay visible
    let status = wait_rpki_warnings(&watch, PREFIXES.len(), 15).await;
    for prefix in PREFIXES {
        let row = status["entities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["entity"] == format!("prefix:{prefix}"))
            .unwrap_or_else(|| panic!("no status of {prefix}: {status:#}"));
        assert_eq!(row["state"], "degraded", "{row:#}");
        assert_eq!(row["cause"], "rpki-invalid", "{row:#}");
        assert!(
            row["detail"].as_str().unwrap().contains("RPKI-invalid"),
            "{row:#}"
        );
    }
    assert_eq!(status["network"]["state"], "degraded", "{status:#}");
    assert_eq!(status["network"]["cause"], "rpki-invalid", "{status:#}");
    assert!(watch.updates.lock().unwrap().iter().all(|u| !rpki(u)));
    // When the file is replaced by one that does not parse
    std::fs::write(&vrps, "{\"roas\": [{\"asn\": \"AS64500\", \"prefix\": ").unwrap();
    tokio::time::sleep(Duration::from_secs(blackout_watch::VRPS_CHECK_SECS * 2 + 1)).await;
    // Then the VRPs in force stay: the prefixes are still invalid
    wait_rpki_warnings(&watch, PREFIXES.len(), 1).await;
    // When the ROA is fixed, in place
    std::fs::write(&vrps, roa(26)).unwrap();
    // Then the warnings are gone, and no event was ever opened
    let status = wait_rpki_warnings(&watch, 0, 15).await;
    assert_eq!(status["network"]["state"], "up", "{status:#}");
    assert!(watch.updates.lock().unwrap().iter().all(|u| !rpki(u)));
    watch.stop().await;
}
