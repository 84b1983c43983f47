//! A central that judges only its agents' results (`--no-probes`) probes nothing
//! itself: its own failing controls open no `vantage:local` event.

use crate::common::{Watch, free_port, host_and_control_profile};
use std::time::Duration;

/// A host and a control on closed loopback ports, probed every 0.1 s: a watch
/// that probes them sees both fail.
fn profile() -> blackout_profile::Profile {
    host_and_control_profile("central", free_port(), free_port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watch_without_its_own_probes_probes_nothing_and_opens_no_vantage_event() {
    let dir = tempfile::tempdir().unwrap();

    // The same profile probed from here: its results come in.
    let probing = Watch::start_configured(profile(), &dir.path().join("probing.db"), None, true);
    tokio::time::sleep(Duration::from_secs(2)).await;
    let report = probing.stop().await;
    assert!(report.probes > 0, "{report:?}");

    let central = Watch::start_configured(profile(), &dir.path().join("central.db"), None, false);
    tokio::time::sleep(Duration::from_secs(3)).await;
    let updates = central.updates.lock().unwrap().clone();
    let report = central.stop().await;
    assert_eq!(report.probes, 0, "{report:?}");
    // Its controls fail, but it never probed them: no event, of the vantage
    // point or of anything else.
    assert!(updates.is_empty(), "{updates:#?}");
}
