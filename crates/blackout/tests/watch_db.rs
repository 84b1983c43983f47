//! Issue 14: one writer per database, with two real `blackout watch` processes,
//! on a SQLite file and on PostgreSQL (a scratch cluster). Issue 15: with
//! `--db postgres://...`, a watch killed with SIGKILL and started again takes up
//! the same event (same id), and `blackout events` reads it. Loopback only.

use blackout_store::scratch::ScratchCluster;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A profile with one TCP check on a loopback port nobody listens on: a service
/// event opens within a second or two.
fn profile(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("loopback.toml");
    std::fs::write(
        &path,
        format!(
            r#"
name = "loopback"
description = "one refused TCP service on loopback"

[[network]]
name = "Loopback Net"
asn = 64500
prefixes = ["192.0.2.0/24"]

[[host]]
name = "svc.loopback.test"
address = "127.0.0.1"
checks = ["tcp:{}"]

[probes]
interval_secs = 0.3
jitter = 0.0
timeout_secs = 0.5
retries = 0
"#,
            free_port()
        ),
    )
    .unwrap();
    path
}

struct Watch {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<serde_json::Value>,
}

impl Watch {
    fn start(profile: &std::path::Path, db: &str) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_blackout"))
            .args(["watch", "--format", "json", "--config"])
            .arg(profile)
            .args(["--db", db])
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, lines) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Watch {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    fn wait_for(
        &mut self,
        what: &str,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Some(found) = self.seen.iter().find(|u| wanted(u)) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within 30 s: {:#?}",
                self.seen
            );
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(serde_json::from_str(&line).unwrap());
            }
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A second watch on `db` while `first` writes to it: exit 2, naming the
/// database and the first one's pid; `blackout events` still reads.
fn second_watch_is_refused(profile: &std::path::Path, db: &str, shown: &str, first: &Watch) {
    let second = Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args(["watch", "--config"])
        .arg(profile)
        .args(["--db", db])
        .args(["--listen", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert_eq!(second.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains(shown),
        "the database is not named: {stderr}"
    );
    assert!(
        stderr.contains(&format!("pid {}", first.child.id())),
        "the first watch is not named: {stderr}"
    );
    let events = Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args(["events", "--format", "json", "--db", db])
        .output()
        .unwrap();
    assert!(
        events.status.success(),
        "{}",
        String::from_utf8_lossy(&events.stderr)
    );
}

fn is_service_start(u: &serde_json::Value) -> bool {
    u["change"] == "started" && u["event"]["cause"] == "service"
}

#[test]
fn a_second_watch_on_one_sqlite_file_exits_2_and_names_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let profile = profile(dir.path());
    let db = dir.path().join("blackout.db");
    let db = db.to_str().unwrap();
    let mut first = Watch::start(&profile, db);
    first.wait_for("a service event", is_service_start);
    second_watch_is_refused(&profile, db, db, &first);
}

#[test]
fn on_postgres_one_writer_and_a_killed_watch_resumes_the_same_event() {
    let cluster = match ScratchCluster::start(&["fsync=off"]) {
        Ok(cluster) => cluster,
        Err(why) if !is_root() => {
            eprintln!("SKIPPED: the PostgreSQL watch test did not run: {why}");
            return;
        }
        Err(why) => panic!("cannot start a scratch PostgreSQL: {why}"),
    };
    let dir = tempfile::tempdir().unwrap();
    let profile = profile(dir.path());
    let db = cluster.url("central");
    let mut first = Watch::start(&profile, &db);
    let started = first.wait_for("a service event", is_service_start);
    let id = started["event"]["id"].as_str().unwrap().to_string();
    second_watch_is_refused(&profile, &db, "(schema central)", &first);
    // SIGKILL: the connection closes with the process, and the lock with it.
    first.child.kill().unwrap();
    first.child.wait().unwrap();
    let mut again = Watch::start(&profile, &db);
    again.wait_for("the same event taken up", |u| {
        u["change"] == "revised"
            && u["event"]["id"] == id.as_str()
            && u["event"]["evidence"].as_array().is_some_and(|e| {
                e.iter().any(|e| {
                    e["text"]
                        .as_str()
                        .unwrap_or("")
                        .contains("took this event up again")
                })
            })
    });
    assert!(
        !again
            .seen
            .iter()
            .any(|u| u["change"] == "started" && u["event"]["id"] == id.as_str()),
        "started twice: {:#?}",
        again.seen
    );
    let listed = Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args(["events", "--format", "json", "--db", &db])
        .output()
        .unwrap();
    let events: Vec<serde_json::Value> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["id"], id.as_str());
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status").is_ok_and(|s| {
        s.lines()
            .find(|l| l.starts_with("Uid:"))
            .is_some_and(|l| l.split_whitespace().nth(2) == Some("0"))
    })
}
