//! Helpers: a webhook receiver, free ports, the watch loop in a task, a scrape.

use blackout_profile::Profile;
use blackout_watch::{WatchConfig, WatchReport};
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// A port on 127.0.0.1 that nothing listens on (taken, then given back).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// An HTTP receiver on 127.0.0.1 that keeps every JSON body POSTed to it and
/// answers 200.
pub struct Receiver {
    pub url: String,
    pub bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/hook", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&bodies);
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let kept = Arc::clone(&kept);
                tokio::spawn(async move {
                    let mut buffer = Vec::new();
                    let mut chunk = [0u8; 4096];
                    loop {
                        let Ok(n) = socket.read(&mut chunk).await else {
                            return;
                        };
                        if n == 0 {
                            return;
                        }
                        buffer.extend_from_slice(&chunk[..n]);
                        let text = String::from_utf8_lossy(&buffer).to_string();
                        let Some(end) = text.find("\r\n\r\n") else {
                            continue;
                        };
                        let length = text[..end]
                            .lines()
                            .find_map(|l| {
                                let (name, value) = l.split_once(':')?;
                                name.eq_ignore_ascii_case("content-length")
                                    .then(|| value.trim().parse::<usize>().ok())?
                            })
                            .unwrap_or(0);
                        if buffer.len() < end + 4 + length {
                            continue;
                        }
                        let body = &buffer[end + 4..end + 4 + length];
                        if let Ok(value) = serde_json::from_slice(body) {
                            kept.lock().unwrap().push(value);
                        }
                        let _ = socket
                            .write_all(
                                b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            )
                            .await;
                        return;
                    }
                });
            }
        });
        Receiver { url, bodies }
    }

    /// The alerts received so far: (alert kind, event id, cause).
    pub fn alerts(&self) -> Vec<(String, String, String)> {
        self.bodies
            .lock()
            .unwrap()
            .iter()
            .map(|b| {
                (
                    b["alert"].as_str().unwrap_or_default().to_string(),
                    b["event"]["id"].as_str().unwrap_or_default().to_string(),
                    b["event"]["cause"].as_str().unwrap_or_default().to_string(),
                )
            })
            .collect()
    }

    /// Waits until `kind` has been received, or panics after `secs`.
    pub async fn wait_for(&self, kind: &str, secs: u64) -> serde_json::Value {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(body) = self
                .bodies
                .lock()
                .unwrap()
                .iter()
                .find(|b| b["alert"] == kind)
            {
                return body.clone();
            }
            assert!(
                Instant::now() < deadline,
                "no `{kind}` alert within {secs} s; got {:?}",
                self.alerts()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A profile that probes one TCP port on 127.0.0.1 every 0.3 s, and sends its
/// alerts to `hooks` (TOML `[[alerts.webhook]]` tables).
pub fn tcp_profile(port: u16, hooks: &str) -> Profile {
    let text = format!(
        r#"
name = "loopback"
description = "one TCP port on loopback"
label = "Loopback Net"

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

[alerts.retry]
attempts = 2
backoff_ms = 50
timeout_ms = 2000
{hooks}
"#
    );
    blackout_profile::load_str(&text, "loopback.toml").unwrap()
}

/// The watch loop, running in a task until [`Watch::stop`].
pub struct Watch {
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<Result<WatchReport, blackout_watch::WatchError>>,
    pub listen: SocketAddr,
}

impl Watch {
    pub fn start(profile: Profile, db: &Path) -> Watch {
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let config = WatchConfig {
            profile,
            db: db.to_path_buf(),
            vantage: "local".into(),
            vrps: blackout_bgp::Vrps::default(),
            listen: Some(listen),
        };
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(blackout_watch::run(
            config,
            async move {
                let _ = stopped.await;
            },
            |_, _| {},
        ));
        Watch {
            stop: Some(stop),
            task,
            listen,
        }
    }

    pub async fn stop(mut self) -> WatchReport {
        let _ = self.stop.take().unwrap().send(());
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("watch did not stop within 20 s")
            .unwrap()
            .unwrap()
    }

    /// The /metrics text.
    pub async fn metrics(&self) -> String {
        let mut socket = tokio::net::TcpStream::connect(self.listen).await.unwrap();
        socket
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: x\r\nconnection: close\r\n\r\n")
            .await
            .unwrap();
        let mut text = String::new();
        socket.read_to_string(&mut text).await.unwrap();
        text
    }
}

/// The value of one line of a Prometheus text, if there.
pub fn metric(text: &str, name: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.trim().parse().ok())
}
