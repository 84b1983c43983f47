//! `blackout watch` stopped with SIGTERM and started again on the same database,
//! on loopback only: a TCP service on 127.0.0.1 that refuses connections is an
//! open event when watch stops. Started again while it still refuses, watch
//! takes the same event up (same id, one row, no second start and no second
//! "started" alert) and ends it when the service answers; stopped again and the
//! service fixed while it is away, the next start ends the event on its first
//! look, with a note that blackout was not watching.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::Receiver;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A webhook receiver on 127.0.0.1: keeps every JSON body, answers 200.
fn webhook() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = stream.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                buffer.extend_from_slice(&chunk[..n]);
                let text = String::from_utf8_lossy(&buffer).to_string();
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let length: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        let (name, value) = l.split_once(':')?;
                        name.eq_ignore_ascii_case("content-length")
                            .then(|| value.trim().parse().ok())?
                    })
                    .unwrap_or(0);
                if buffer.len() >= end + 4 + length {
                    if let Ok(value) = serde_json::from_slice(&buffer[end + 4..end + 4 + length]) {
                        kept.lock().unwrap().push(value);
                    }
                    let _ = stream.write_all(
                        b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                    );
                    break;
                }
            }
        }
    });
    (url, bodies)
}

/// A watch process and its stdout, line by line.
struct Watch {
    child: Child,
    lines: Receiver<String>,
    seen: Vec<serde_json::Value>,
}

impl Watch {
    fn start(profile: &std::path::Path, db: &std::path::Path) -> Watch {
        let mut child = Command::new(env!("CARGO_BIN_EXE_blackout"))
            .args(["watch", "--format", "json", "--config"])
            .arg(profile)
            .arg("--db")
            .arg(db)
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
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

    /// Waits for an update that `wanted` accepts, or panics after `secs`.
    fn wait_for(
        &mut self,
        secs: u64,
        what: &str,
        wanted: impl Fn(&serde_json::Value) -> bool,
    ) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(found) = self.seen.iter().find(|u| wanted(u)) {
                return found.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no {what} within {secs} s; updates: {:#?}",
                self.seen
            );
            if let Ok(line) = self.lines.recv_timeout(Duration::from_millis(100)) {
                self.seen.push(serde_json::from_str(&line).unwrap());
            }
        }
    }

    /// SIGTERM, and a clean exit.
    fn stop(mut self) -> Vec<serde_json::Value> {
        let killed = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(killed.success());
        let status = self.child.wait().unwrap();
        let mut stderr = String::new();
        self.child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut stderr)
            .unwrap();
        assert!(
            status.success(),
            "watch did not stop cleanly: {status}\n{stderr}"
        );
        self.seen.extend(
            self.lines
                .try_iter()
                .map(|l| serde_json::from_str::<serde_json::Value>(&l).unwrap()),
        );
        self.seen
    }
}

fn change(update: &serde_json::Value) -> &str {
    update["change"].as_str().unwrap_or_default()
}

fn events_in(db: &std::path::Path) -> Vec<serde_json::Value> {
    let listed = Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args(["events", "--format", "json", "--db"])
        .arg(db)
        .output()
        .unwrap();
    assert!(listed.status.success());
    String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A service on `port` that accepts and drops connections, until dropped.
struct Service {
    stop: Arc<std::sync::atomic::AtomicBool>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Service {
    fn start(port: u16) -> Service {
        let listener = TcpListener::bind(("127.0.0.1", port)).unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
        let stopping = Arc::clone(&stop);
        let thread = std::thread::spawn(move || {
            while !stopping.load(std::sync::atomic::Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => drop(stream),
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        Service {
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for Service {
    fn drop(&mut self) {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[test]
fn a_restart_takes_up_the_open_event_without_a_twin_or_a_second_alert() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blackout.db");
    let (url, alerts) = webhook();
    let port = free_port();
    let profile = dir.path().join("loopback.toml");
    std::fs::write(
        &profile,
        format!(
            r#"
name = "loopback"
description = "one TCP service on loopback"

[[network]]
name = "Loopback Net"
asn = 64500
prefixes = ["192.0.2.0/24"]

[[host]]
name = "svc.loopback.test"
address = "127.0.0.1"
label = "the service under test"
checks = ["tcp:{port}"]

[probes]
interval_secs = 0.3
jitter = 0.0
timeout_secs = 0.5
retries = 0

[[alerts.webhook]]
url = "{url}"
kind = "json"
"#
        ),
    )
    .unwrap();
    let is_service = |u: &serde_json::Value| u["event"]["cause"] == "service";

    // Given a watch that sees the service refuse, and stops
    let mut first = Watch::start(&profile, &db);
    let started = first.wait_for(30, "a service event", |u| {
        change(u) == "started" && is_service(u)
    });
    let id = started["event"]["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(500));
    first.stop();

    // When it starts again while the service still refuses
    let mut second = Watch::start(&profile, &db);
    let taken_up = second.wait_for(30, "the event taken up again", |u| {
        change(u) == "revised"
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
    assert!(taken_up["event"]["end"].is_null());
    // And the service comes back
    let service = Service::start(port);
    let ended = second.wait_for(30, "the event's end", |u| {
        change(u) == "ended" && u["event"]["id"] == id.as_str()
    });
    assert!(
        !ended["event"]["summary"]
            .as_str()
            .unwrap()
            .contains("not watching")
    );
    let second_updates = second.stop();
    // Then no event started twice, one row is stored, ended
    assert!(
        second_updates
            .iter()
            .all(|u| change(u) != "started" || u["event"]["id"] != id.as_str()),
        "{second_updates:#?}"
    );
    let stored = events_in(&db);
    assert_eq!(stored.len(), 1, "{stored:#?}");
    assert_eq!(stored[0]["id"], id.as_str());
    assert!(!stored[0]["end"].is_null());
    // And the webhook heard one start and one end
    let deadline = Instant::now() + Duration::from_secs(5);
    while alerts.lock().unwrap().len() < 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    let kinds: Vec<String> = alerts
        .lock()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{} {}",
                a["alert"].as_str().unwrap(),
                a["event"]["id"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(kinds, vec![format!("started {id}"), format!("ended {id}")]);

    // Given the service refusing again under a third watch, which stops
    drop(service);
    let mut third = Watch::start(&profile, &db);
    let again = third.wait_for(30, "a second service event", |u| {
        change(u) == "started" && is_service(u) && u["event"]["id"] != id.as_str()
    });
    let second_id = again["event"]["id"].as_str().unwrap().to_string();
    std::thread::sleep(Duration::from_millis(500));
    third.stop();
    // When the service is fixed while blackout is away, and watch starts again
    let _service = Service::start(port);
    let mut fourth = Watch::start(&profile, &db);
    // Then the first look finds it over: it ends, with the note
    let over = fourth.wait_for(30, "the end on the first look", |u| {
        change(u) == "ended" && u["event"]["id"] == second_id.as_str()
    });
    assert!(
        over["event"]["summary"]
            .as_str()
            .unwrap()
            .contains("ended while blackout was not watching"),
        "{over:#}"
    );
    let updates = fourth.stop();
    assert!(
        updates.iter().all(|u| change(u) != "started"),
        "{updates:#?}"
    );
    let stored = events_in(&db);
    assert_eq!(stored.len(), 2, "{stored:#?}");
    assert!(stored.iter().all(|e| !e["end"].is_null()));
}
