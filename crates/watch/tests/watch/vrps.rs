//! The VRP file read again while watch runs, over a live BGP session on
//! loopback: a ROA rewritten with a shorter maxLength makes the routes
//! RPKI-invalid, live; a file that does not parse is refused and the VRPs in
//! force stay; the ROA fixed again ends the events.

use crate::common::{PREFIXES, SPEAKER_AS, Speaker, Watch, bgp_profile};
use blackout_model::Cause;
use blackout_model::{EventUpdate, UpdateKind};
use std::time::Duration;

fn roa(max_length: u8) -> String {
    format!(
        r#"{{"metadata": {{"generated": 1}}, "roas": [{{"asn": "AS64500", "prefix": "203.0.113.0/24", "maxLength": {max_length}, "ta": "lab"}}]}}"#
    )
}

fn rpki(update: &EventUpdate) -> bool {
    update.event.cause == Cause::RpkiInvalid
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
    assert!(watch.updates.lock().unwrap().iter().all(|u| !rpki(u)));
    // When the ROA is rewritten with maxLength 24 (written elsewhere, renamed over)
    let next = dir.path().join("vrps.json.new");
    std::fs::write(&next, roa(24)).unwrap();
    std::fs::rename(&next, &vrps).unwrap();
    // Then every /26 is RPKI-invalid, live
    let started = watch
        .wait_for(15, 4, "rpki-invalid starts", |u| {
            matches!(
                u,
                EventUpdate {
                    kind: UpdateKind::Started,
                    ..
                }
            ) && rpki(u)
        })
        .await;
    let mut prefixes: Vec<String> = started.iter().map(|u| u.event.entity.to_string()).collect();
    prefixes.sort();
    let mut expected: Vec<String> = PREFIXES.iter().map(|p| format!("prefix:{p}")).collect();
    expected.sort();
    assert_eq!(prefixes, expected);
    // When the file is replaced by one that does not parse
    std::fs::write(&vrps, "{\"roas\": [{\"asn\": \"AS64500\", \"prefix\": ").unwrap();
    tokio::time::sleep(Duration::from_secs(blackout_watch::VRPS_CHECK_SECS * 2 + 1)).await;
    // Then the VRPs in force stay: nothing ends
    assert!(
        watch.updates.lock().unwrap().iter().all(|u| !matches!(
            u,
            EventUpdate {
                kind: UpdateKind::Ended,
                ..
            }
        )),
        "a bad file changed the VRPs"
    );
    // When the ROA is fixed, in place
    std::fs::write(&vrps, roa(26)).unwrap();
    // Then the four events end
    let ended = watch
        .wait_for(15, 4, "rpki-invalid ends", |u| {
            matches!(
                u,
                EventUpdate {
                    kind: UpdateKind::Ended,
                    ..
                }
            ) && rpki(u)
        })
        .await;
    assert!(
        ended
            .iter()
            .all(|u| started.iter().any(|s| s.event.id == u.event.id))
    );
    watch.stop().await;
}
