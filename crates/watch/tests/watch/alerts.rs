//! Alerts from the watch loop: a service that fails, then comes back, is
//! announced once when it starts and once when it ends (with the duration) to a
//! working webhook; a dead webhook is counted as failed; both counts show in
//! /metrics; the payloads carry the profile's names.

use crate::common::{Receiver, Watch, free_port, metric, tcp_profile};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_service_alerts_once_on_start_and_once_on_recovery() {
    let dir = tempfile::tempdir().unwrap();
    let receiver = Receiver::start().await;
    let dead = free_port();
    let port = free_port();
    let hooks = format!(
        "[[alerts.webhook]]\nurl = \"{}\"\nkind = \"json\"\n\n[[alerts.webhook]]\nurl = \"http://127.0.0.1:{dead}/\"\nkind = \"slack\"\n",
        receiver.url
    );
    // Given a watch over a TCP port that nothing listens on
    let watch = Watch::start(tcp_profile(port, &hooks), &dir.path().join("blackout.db"));
    // Then the service's failure is announced
    let started = receiver.wait_for("started", 20).await;
    assert_eq!(started["event"]["cause"], "service");
    assert_eq!(
        started["name"],
        "TCP on svc.loopback.test (the service under test)"
    );
    // When the port opens
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        while let Ok((socket, _)) = listener.accept().await {
            drop(socket);
        }
    });
    // Then the recovery is announced, with how long it lasted
    let ended = receiver.wait_for("ended", 20).await;
    assert_eq!(ended["event"]["id"], started["event"]["id"]);
    assert!(ended["duration_secs"].as_f64().unwrap() > 0.0, "{ended}");
    assert!(!ended["event"]["end"].is_null());
    // And the counts show in /metrics once the dead webhook's retries are spent
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let text = loop {
        let text = watch.metrics().await;
        if metric(
            &text,
            "blackout_alerts_failed_total{channel=\"webhook-slack\"}",
        ) == Some(2.0)
            || std::time::Instant::now() > deadline
        {
            break text;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(
        metric(
            &text,
            "blackout_alerts_delivered_total{channel=\"webhook-json\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(
        metric(
            &text,
            "blackout_alerts_failed_total{channel=\"webhook-slack\"}"
        ),
        Some(2.0),
        "{text}"
    );
    assert_eq!(metric(&text, "blackout_alerts_dropped_total"), Some(0.0));
    watch.stop().await;
    // Nothing was announced twice
    let alerts = receiver.alerts();
    assert_eq!(
        alerts.iter().map(|a| a.0.as_str()).collect::<Vec<_>>(),
        vec!["started", "ended"],
        "{alerts:?}"
    );
}
