//! `blackout probe` and `blackout census` end to end, on loopback only.

use std::io::Write;
use std::net::TcpListener;
use std::process::{Command, Output};

fn blackout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args(args)
        .output()
        .expect("running blackout")
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .map(|ids| ids.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

#[test]
fn probe_targets_on_the_command_line() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let open = format!("tcp:{}", listener.local_addr().expect("address"));
    let output = blackout(&["probe", "--format", "json", "--timeout", "1", &open]);
    assert!(output.status.success(), "{output:?}");
    let line = String::from_utf8(output.stdout).expect("utf-8");
    let value: serde_json::Value = serde_json::from_str(line.trim()).expect("one JSON object");
    assert_eq!(value["status"], "ok");
    assert_eq!(value["kind"], "tcp");
    assert_eq!(value["role"], "cli");
    assert!(value["at"].as_str().is_some_and(|at| at.ends_with('Z')));

    // A closed port: the table says refused, and the exit code says a check failed.
    drop(listener);
    let output = blackout(&["probe", "--timeout", "1", &open]);
    assert_eq!(output.status.code(), Some(1));
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(table.starts_with("TARGET"), "{table}");
    assert!(table.contains("refused"), "{table}");
    assert!(String::from_utf8_lossy(&output.stderr).contains("1 of 1 checks failed"));
}

/// No byte a hostile peer uses to take over a terminal: ESC (screen clears, window
/// titles), BEL, CR, BS, and the 8-bit CSI.
fn inert(output: &[u8]) -> bool {
    !output
        .iter()
        .any(|b| matches!(b, 0x1b | 0x07 | b'\r' | 0x08))
        && !String::from_utf8_lossy(output).contains('\u{9b}')
}

#[test]
fn a_hostile_banner_reaches_the_probe_table_and_json_inert() {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream
                .write_all(b"554 mail\x1b[2J\x1b[H\x1b]0;owned\x07\r\x08\x08\xc2\x9b31m gone\r\n");
            std::thread::sleep(std::time::Duration::from_millis(300));
        }
    });
    let target = format!("smtp:{address}");
    for format in ["table", "json"] {
        let output = blackout(&["probe", "--format", format, "--timeout", "1", &target]);
        assert_eq!(output.status.code(), Some(1), "{output:?}");
        assert!(inert(&output.stdout), "{format}: {output:?}");
        assert!(inert(&output.stderr), "{format}: {output:?}");
        let shown = String::from_utf8_lossy(&output.stdout);
        assert!(shown.contains(r"\x1b[2J"), "{format}: {shown}");
    }
}

/// Runs `blackout` in a new network namespace that has loopback only: no IPv6 route
/// but ::1's. Nothing is sent: the kernel has nowhere to send it.
#[test]
fn a_vantage_point_without_an_ipv6_route_says_so_and_judges_nothing() {
    if !is_root() {
        eprintln!(
            "SKIPPED a_vantage_point_without_an_ipv6_route_says_so_and_judges_nothing: needs root (a network namespace)"
        );
        return;
    }
    let ns = format!("bo-nov6-{}", std::process::id());
    let made = std::process::Command::new("ip")
        .args(["netns", "add", &ns])
        .status()
        .is_ok_and(|s| s.success());
    assert!(made, "cannot create the network namespace {ns}");
    let output = std::process::Command::new("ip")
        .args(["netns", "exec", &ns, env!("CARGO_BIN_EXE_blackout")])
        .args(["probe", "--format", "json", "--timeout", "1"])
        .args(["tcp:[2001:db8::80]:80", "smtp:[2001:db8::25]:25"])
        .output()
        .expect("running blackout in the namespace");
    let _ = std::process::Command::new("ip")
        .args(["netns", "del", &ns])
        .status();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let results: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect();
    assert_eq!(results.len(), 2, "{output:?}");
    for result in &results {
        assert_eq!(result["status"], "error", "{result}");
        assert!(
            result["message"]
                .as_str()
                .is_some_and(|m| m.contains("no IPv6 route")),
            "{result}"
        );
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let warned = stderr
        .lines()
        .filter(|line| line.contains("WARN") && line.contains("no IPv6 route"))
        .count();
    assert_eq!(warned, 1, "said once in the log: {stderr}");
}

#[test]
fn probe_bad_usage() {
    let output = blackout(&["probe", "tcp:127.0.0.1"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("needs a port"));
}

#[test]
fn census_bounds_and_sweep() {
    let output = blackout(&["census", "127.0.0.0/8"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--force"));
    // IPv6: a /116 by default; beyond it, a clear error unless the bound is raised.
    let output = blackout(&["census", "2001:db8::/112"]);
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("a /116 for IPv6"), "{stderr}");
    let output = blackout(&["census", "2001:db8::/32", "--force"]);
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("narrow the prefix"));
    let output = blackout(&["census", "not-a-prefix"]);
    assert_eq!(output.status.code(), Some(2));
    if !is_root() {
        eprintln!(
            "SKIPPED the sweep in census_bounds_and_sweep: needs root (raw socket) or a ping_group_range that includes this group"
        );
        return;
    }
    let output = blackout(&["census", "127.55.0.0/24", "--format", "json"]);
    assert!(output.status.success(), "{output:?}");
    let lines = String::from_utf8_lossy(&output.stdout).lines().count();
    assert_eq!(lines, 256, "every loopback address answers");
    assert!(String::from_utf8_lossy(&output.stderr).contains("256 answer ICMP"));
}
