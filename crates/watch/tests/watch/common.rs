//! Helpers: a webhook receiver, free ports, the watch loop in a task, a scrape.

use blackout_model::EventUpdate;
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
    /// Every event update, as the loop hands it on.
    pub updates: Arc<Mutex<Vec<EventUpdate>>>,
}

impl Watch {
    pub fn start(profile: Profile, db: &Path) -> Watch {
        Watch::start_with(profile, db, None)
    }

    /// With a VRP file, read at the start and again whenever it changes.
    pub fn start_with(profile: Profile, db: &Path, vrps_file: Option<&Path>) -> Watch {
        Watch::start_configured(profile, db, vrps_file, true)
    }

    /// With a VRP file or none, probing the profile's targets itself or not.
    pub fn start_configured(
        profile: Profile,
        db: &Path,
        vrps_file: Option<&Path>,
        own_probes: bool,
    ) -> Watch {
        Self::spawn(Self::config(profile, db, vrps_file, own_probes))
    }

    /// The central of the agents on the broker `central` names, probing nothing
    /// itself.
    pub fn start_central(
        profile: Profile,
        db: &Path,
        central: blackout_relay::CentralConfig,
    ) -> Watch {
        let mut config = Self::config(profile, db, None, false);
        config.nats = Some(central);
        Self::spawn(config)
    }

    fn config(
        profile: Profile,
        db: &Path,
        vrps_file: Option<&Path>,
        own_probes: bool,
    ) -> WatchConfig {
        let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
        let vrps = vrps_file
            .map(|path| {
                blackout_bgp::Vrps::from_json(&std::fs::read_to_string(path).unwrap()).unwrap()
            })
            .unwrap_or_default();
        WatchConfig {
            tracking: blackout_bgp::Tracking::Networks(blackout_bgp::WatchSet::from_profile(
                &profile,
            )),
            profile,
            db: db.into(),
            vantage: "local".into(),
            vrps,
            vrps_file: vrps_file.map(Path::to_path_buf),
            listen: Some(listen),
            nats: None,
            own_probes,
            api_hosts: Vec::new(),
        }
    }

    fn spawn(config: WatchConfig) -> Watch {
        let listen = config.listen.expect("an API address");
        let updates = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&updates);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let task = tokio::spawn(blackout_watch::run(
            config,
            async move {
                let _ = stopped.await;
            },
            move |update, _| seen.lock().unwrap().push(update.clone()),
        ));
        Watch {
            stop: Some(stop),
            task,
            listen,
            updates,
        }
    }

    /// Waits until `count` updates that `wanted` accepts have come, or panics after `secs`.
    pub async fn wait_for(
        &self,
        secs: u64,
        count: usize,
        what: &str,
        wanted: impl Fn(&EventUpdate) -> bool,
    ) -> Vec<EventUpdate> {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let found: Vec<EventUpdate> = self
                .updates
                .lock()
                .unwrap()
                .iter()
                .filter(|u| wanted(u))
                .cloned()
                .collect();
            if found.len() >= count {
                return found;
            }
            assert!(
                Instant::now() < deadline,
                "{what}: {} of {count} within {secs} s; updates: {:#?}",
                found.len(),
                self.updates.lock().unwrap()
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A GET of the API, as JSON (null while the API is not up yet).
    pub async fn get(&self, path: &str) -> serde_json::Value {
        let Ok(mut socket) = tokio::net::TcpStream::connect(self.listen).await else {
            return serde_json::Value::Null;
        };
        socket
            .write_all(
                format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await
            .unwrap();
        let mut text = String::new();
        socket.read_to_string(&mut text).await.unwrap();
        let body = text
            .split_once("\r\n\r\n")
            .map(|(_, b)| b)
            .unwrap_or_default();
        serde_json::from_str(body).unwrap_or(serde_json::Value::Null)
    }

    /// Waits until the status shows every watched prefix at `visibility`.
    pub async fn wait_visibility(&self, visibility: f64, secs: u64) {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let status = self.get("/api/v1/status").await;
            let prefixes = status["prefixes"].as_array().cloned().unwrap_or_default();
            if prefixes.len() == 4
                && prefixes
                    .iter()
                    .all(|p| p["visibility"].as_f64() == Some(visibility))
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the prefixes are not at {visibility} within {secs} s: {status:#}"
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
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
            .write_all(b"GET /metrics HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n")
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

/// A BGP speaker on 127.0.0.1 that blackout's active session dials: it answers
/// the OPEN, sends the routes it holds (then each change), and keeps the session
/// alive. Its routes outlive a connection, as a router's table does.
pub struct Speaker {
    pub port: u16,
    state: Arc<Mutex<SpeakerState>>,
}

#[derive(Default)]
struct SpeakerState {
    routes: std::collections::BTreeMap<ipnet::Ipv4Net, Vec<u32>>,
    session: Option<tokio::sync::mpsc::UnboundedSender<Vec<u8>>>,
}

/// The AS of the speaker.
pub const SPEAKER_AS: u32 = 64496;

impl Speaker {
    pub async fn start() -> Speaker {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let state = Arc::new(Mutex::new(SpeakerState::default()));
        let shared = Arc::clone(&state);
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                let (mut read, mut write) = socket.into_split();
                let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Vec<u8>>();
                let table: Vec<Vec<u8>> = {
                    let mut state = shared.lock().unwrap();
                    state.session = Some(tx);
                    state
                        .routes
                        .iter()
                        .map(|(prefix, path)| update(&[(*prefix, path.clone())], &[]))
                        .collect()
                };
                tokio::spawn(async move {
                    let open =
                        blackout_feeds::message::encode_open(SPEAKER_AS, 90, [192, 0, 2, 9].into());
                    let keepalive = blackout_feeds::message::encode_keepalive();
                    if write.write_all(&open).await.is_err()
                        || write.write_all(&keepalive).await.is_err()
                    {
                        return;
                    }
                    for message in table {
                        if write.write_all(&message).await.is_err() {
                            return;
                        }
                    }
                    // End-of-RIB.
                    let _ = write.write_all(&update(&[], &[])).await;
                    let mut alive = tokio::time::interval(Duration::from_secs(10));
                    loop {
                        tokio::select! {
                            message = rx.recv() => match message {
                                Some(message) => if write.write_all(&message).await.is_err() { return },
                                None => return,
                            },
                            _ = alive.tick() => if write.write_all(&keepalive).await.is_err() { return },
                        }
                    }
                });
                tokio::spawn(async move {
                    let mut sink = [0u8; 4096];
                    while matches!(read.read(&mut sink).await, Ok(n) if n > 0) {}
                });
            }
        });
        Speaker { port, state }
    }

    /// Announces `prefixes` with `path` (the speaker's AS first).
    pub fn announce(&self, prefixes: &[&str], path: &[u32]) {
        let mut state = self.state.lock().unwrap();
        let routes: Vec<(ipnet::Ipv4Net, Vec<u32>)> = prefixes
            .iter()
            .map(|p| (p.parse().unwrap(), path.to_vec()))
            .collect();
        for (prefix, path) in &routes {
            state.routes.insert(*prefix, path.clone());
        }
        if let Some(session) = &state.session {
            let _ = session.send(update(&routes, &[]));
        }
    }

    /// Withdraws `prefixes`.
    pub fn withdraw(&self, prefixes: &[&str]) {
        let mut state = self.state.lock().unwrap();
        let gone: Vec<ipnet::Ipv4Net> = prefixes.iter().map(|p| p.parse().unwrap()).collect();
        for prefix in &gone {
            state.routes.remove(prefix);
        }
        if let Some(session) = &state.session {
            let _ = session.send(update(&[], &gone));
        }
    }
}

/// A BGP UPDATE (IPv4, classic NLRI, 4-octet AS_PATH); every announced prefix
/// shares the first one's path.
fn update(announce: &[(ipnet::Ipv4Net, Vec<u32>)], withdraw: &[ipnet::Ipv4Net]) -> Vec<u8> {
    let nlri = |list: &mut dyn Iterator<Item = &ipnet::Ipv4Net>| {
        let mut out = Vec::new();
        for prefix in list {
            let len = prefix.prefix_len();
            out.push(len);
            out.extend_from_slice(&prefix.network().octets()[..usize::from(len).div_ceil(8)]);
        }
        out
    };
    let withdrawn = nlri(&mut withdraw.iter());
    let mut body = Vec::new();
    body.extend_from_slice(&(withdrawn.len() as u16).to_be_bytes());
    body.extend_from_slice(&withdrawn);
    match announce.first() {
        None => body.extend_from_slice(&[0, 0]),
        Some((_, path)) => {
            let mut attributes = vec![0x40, 1, 1, 0];
            let mut as_path = vec![2, path.len() as u8];
            for asn in path {
                as_path.extend_from_slice(&asn.to_be_bytes());
            }
            attributes.extend_from_slice(&[0x40, 2, as_path.len() as u8]);
            attributes.extend_from_slice(&as_path);
            attributes.extend_from_slice(&[0x40, 3, 4, 127, 0, 0, 1]);
            body.extend_from_slice(&(attributes.len() as u16).to_be_bytes());
            body.extend_from_slice(&attributes);
            body.extend_from_slice(&nlri(&mut announce.iter().map(|(p, _)| p)));
        }
    }
    let mut out = vec![0xff; 16];
    out.extend_from_slice(&((19 + body.len()) as u16).to_be_bytes());
    out.push(2);
    out.extend_from_slice(&body);
    out
}

/// A profile watching four /26s of 203.0.113.0/24 (origin AS64500, upstreams
/// AS64501 and AS64502) over one BGP session dialled to `speaker_port`.
pub fn bgp_profile(speaker_port: u16, extra: &str) -> Profile {
    let text = format!(
        r#"
name = "bgp-loopback"
description = "four /26s seen over one BGP session on loopback"

[[network]]
name = "Test origin"
asn = 64500
prefixes = ["203.0.113.0/26", "203.0.113.64/26", "203.0.113.128/26", "203.0.113.192/26"]

[[upstream]]
asn = 64501
name = "Primary"

[[upstream]]
asn = 64502
name = "Backup"
role = "backup"

[[feed]]
type = "bgp"
peer = "127.0.0.1"
peer_as = {SPEAKER_AS}
local_as = 64511
router_id = "192.0.2.1"
mode = "active"
port = {speaker_port}
{extra}
"#
    );
    blackout_profile::load_str(&text, "bgp-loopback.toml").unwrap()
}

/// The four watched /26s.
pub const PREFIXES: [&str; 4] = [
    "203.0.113.0/26",
    "203.0.113.64/26",
    "203.0.113.128/26",
    "203.0.113.192/26",
];

/// A profile of one host and one control on loopback TCP ports (`host`,
/// `control`), probed every 0.1 s with one try of 0.5 s: a closed port is down
/// at once, an open one answers.
pub fn host_and_control_profile(name: &str, host: u16, control: u16) -> Profile {
    let text = format!(
        r#"
name = "{name}"

[[network]]
name = "Loopback Net"
asn = 64500
prefixes = ["192.0.2.0/24"]

[[host]]
name = "svc.loopback.test"
address = "127.0.0.1"
checks = ["tcp:{host}"]

[[control]]
name = "control.loopback.test"
address = "127.0.0.1"
checks = ["tcp:{control}"]

[probes]
interval_secs = 0.1
jitter = 0.0
timeout_secs = 0.5
retries = 0
"#
    );
    blackout_profile::load_str(&text, &format!("{name}.toml")).unwrap()
}
