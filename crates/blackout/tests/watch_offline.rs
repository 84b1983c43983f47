//! The main command, `blackout watch` with the kp profile, run where the vantage
//! point has no route anywhere: inside a network namespace with nothing but
//! loopback, so every send fails in the kernel and no packet leaves. It must say
//! that the vantage point is offline, and never that North Korea is down.
//! Needs root (to make the namespace); without it, it says so and does not run.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// A namespace with only loopback, removed when dropped.
struct LoopbackOnly(String);

impl LoopbackOnly {
    fn new() -> Self {
        let name = format!("bo-watch-{}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "cannot create the network namespace {name}");
        let ns = LoopbackOnly(name);
        let up = Command::new("ip")
            .args(["netns", "exec", &ns.0, "ip", "link", "set", "lo", "up"])
            .status()
            .unwrap();
        assert!(up.success());
        // Nothing but loopback: no other link, no route out.
        let links = Command::new("ip")
            .args(["netns", "exec", &ns.0, "ip", "-o", "link"])
            .output()
            .unwrap();
        assert_eq!(
            String::from_utf8_lossy(&links.stdout).lines().count(),
            1,
            "the namespace must hold loopback only"
        );
        ns
    }
}

impl Drop for LoopbackOnly {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

#[test]
fn watch_kp_without_a_network_says_the_vantage_point_is_offline() {
    if !is_root() {
        eprintln!(
            "watch_kp_without_a_network_says_the_vantage_point_is_offline: NOT RUN: needs root to create a loopback-only network namespace"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    // The built-in kp profile, probed every 2 s so the test is short.
    let mut profile = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../profile/profiles/kp.toml"),
    )
    .unwrap();
    profile.push_str("\n[probes]\ninterval_secs = 2\ntimeout_secs = 0.5\nretries = 0\n\n[thresholds]\nfeed_stale_secs = 5\n");
    let profile_path = dir.path().join("kp-fast.toml");
    std::fs::write(&profile_path, profile).unwrap();
    let db = dir.path().join("blackout.db");
    let ns = LoopbackOnly::new();
    let mut child = Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            env!("CARGO_BIN_EXE_blackout"),
            "watch",
            "--config",
        ])
        .arg(&profile_path)
        .arg("--db")
        .arg(&db)
        .args(["--format", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut lines = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            lines.push(line);
        }
        let saw = |entity: &str| {
            lines
                .iter()
                .any(|l| l.contains(&format!("\"entity\":\"{entity}\"")))
        };
        if saw("vantage:local") && lines.iter().any(|l| l.contains("\"cause\":\"feed\"")) {
            break;
        }
    }
    // SIGTERM: it must stop cleanly.
    let killed = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    lines.extend(rx.try_iter());
    assert!(
        status.success(),
        "watch did not stop cleanly on SIGTERM: {status}\n{stderr}"
    );
    assert!(stderr.contains("stopped after"), "{stderr}");
    assert!(
        stderr.contains("blackout: watching North Korea"),
        "the banner once started: {stderr}"
    );
    let events: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert!(
        events
            .iter()
            .any(|e| e["event"]["entity"] == "vantage:local" && e["event"]["cause"] == "vantage"),
        "no vantage event in {lines:#?}\n{stderr}"
    );
    assert!(
        events.iter().all(|e| !e["event"]["entity"]
            .as_str()
            .unwrap_or("")
            .starts_with("country:")
            && !e["event"]["entity"]
                .as_str()
                .unwrap_or("")
                .starts_with("prefix:")),
        "a verdict about North Korea from an offline vantage point: {lines:#?}"
    );
    // And the database holds the same, for `blackout events`.
    let listed = Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args(["events", "--format", "json", "--db"])
        .arg(&db)
        .output()
        .unwrap();
    assert!(listed.status.success());
    assert!(String::from_utf8_lossy(&listed.stdout).contains("\"cause\":\"vantage\""));
}
