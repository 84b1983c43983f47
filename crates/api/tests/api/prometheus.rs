//! A real Prometheus scrapes `/metrics`: it must parse the exposition and store the
//! values, which a text comparison alone would not prove.

use crate::common::{KillOnDrop, Server, free_port, program, request, skipped};
use serde_json::Value;
use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Asks Prometheus' HTTP API for `query` and returns the first sample's value.
async fn query(prometheus: SocketAddr, query: &str) -> Option<String> {
    // Not listening yet: Prometheus is still starting.
    tokio::net::TcpStream::connect(prometheus).await.ok()?;
    let encoded: String = query
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"_.-~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let response = request(
        prometheus,
        format!(
            "GET /api/v1/query?query={encoded} HTTP/1.1\r\nHost: {prometheus}\r\nConnection: close\r\n\r\n"
        )
        .as_bytes(),
    )
    .await;
    let json: Value = serde_json::from_slice(&response.body).ok()?;
    json["data"]["result"][0]["value"][1]
        .as_str()
        .map(String::from)
}

#[tokio::test(flavor = "multi_thread")]
async fn prometheus_scrapes_the_metrics() {
    let Some(binary) = program("prometheus") else {
        skipped(
            "prometheus is not installed (apt-get install -y prometheus): /metrics was not scraped by a real Prometheus",
        );
        return;
    };
    let server = Server::start().await;
    server.metrics.alert_delivered("webhook");
    server.metrics.alert_failed("email");

    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("prometheus.yml");
    std::fs::write(
        &config,
        format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n  - job_name: blackout\n    static_configs:\n      - targets: ['{}']\n",
            server.addr
        ),
    )
    .unwrap();
    let port = free_port();
    let listen = SocketAddr::from(([127, 0, 0, 1], port));
    let child = Command::new(binary)
        .arg(format!("--config.file={}", config.display()))
        .arg(format!(
            "--storage.tsdb.path={}",
            dir.path().join("data").display()
        ))
        .arg(format!("--web.listen-address={listen}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let _prometheus = KillOnDrop(child);

    let started = Instant::now();
    let wanted = [
        ("up{job=\"blackout\"}", "1"),
        (
            "blackout_entity_state{entity=\"country:KP\",state=\"down\"}",
            "1",
        ),
        (
            "blackout_entity_state{entity=\"country:KP\",state=\"up\"}",
            "0",
        ),
        (
            "blackout_upstream_visibility_ratio{asn=\"4837\",name=\"China Unicom\"}",
            "0",
        ),
        (
            "blackout_prefix_full_feed_peers{prefix=\"175.45.176.0/24\"}",
            "20",
        ),
        (
            "blackout_probe_loss_ratio{target=\"kcna.kp\",check=\"web\"}",
            "1",
        ),
        ("blackout_probe_ok{target=\"kcna.kp\"}", "0"),
        ("blackout_feed_age_seconds{feed=\"bmp:198.51.100.1\"}", "2"),
        (
            "blackout_feed_message_rate{feed=\"bmp:198.51.100.1\"}",
            "12.5",
        ),
        ("blackout_alerts_delivered_total{channel=\"webhook\"}", "1"),
        ("blackout_alerts_failed_total{channel=\"email\"}", "1"),
    ];
    let mut missing: Vec<String> = Vec::new();
    while started.elapsed() < Duration::from_secs(60) {
        missing.clear();
        for (q, value) in wanted {
            let got = query(listen, q).await;
            if got.as_deref() != Some(value) {
                missing.push(format!("{q} = {got:?}, want {value}"));
            }
        }
        if missing.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert!(
        missing.is_empty(),
        "after {:?} Prometheus still lacks: {missing:#?}",
        started.elapsed()
    );
    eprintln!(
        "Prometheus scraped every metric within {:?}",
        started.elapsed()
    );
}

/// Prometheus' own linter reads the exposition: every metric has its help text and
/// type, and names and labels follow the conventions (`promtool check metrics` exits 0).
#[tokio::test(flavor = "multi_thread")]
async fn promtool_finds_nothing_to_fix_in_the_metrics() {
    let Some(promtool) = program("promtool") else {
        skipped(
            "promtool is not installed (apt-get install -y prometheus): /metrics was not linted",
        );
        return;
    };
    let server = Server::start().await;
    server.metrics.alert_delivered("webhook");
    server.metrics.alert_failed("email");
    let response = request(
        server.addr,
        format!(
            "GET /metrics HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
            server.addr
        )
        .as_bytes(),
    )
    .await;
    assert!(
        response.body.starts_with(b"# HELP") || response.body.starts_with(b"# TYPE"),
        "not an exposition: {}",
        String::from_utf8_lossy(&response.body)
    );
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().expect("promtool's stdin");
        stdin.write_all(&response.body).expect("feed promtool");
    }
    let output = child.wait_with_output().expect("wait for promtool");
    assert!(
        output.status.success(),
        "promtool check metrics: {}\n{}{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
