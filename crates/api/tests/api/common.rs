//! The fixture: a real SQLite store in a temp dir, a status built by hand, the real
//! server on a loopback port, and a small raw HTTP/1.1 client (raw, so that tests can
//! send what a well-behaved client library would refuse to: oversized headers, a
//! body on GET, garbage).

use blackout_api::{
    ApiState, BmpPeerStatus, ConnectionLimits, EntityState, EntityStatus, FeedStatus,
    LastKnownAddress, Metrics, PeerDownStatus, PrefixStatus, ProbeStatus, Publisher, RouterStatus,
    SkippedStatus, Status, UpstreamStatus, VantageResult, VantageStatus,
};
use blackout_model::{
    Asn, Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use blackout_model::{SeriesPoint, UpdateKind};
use blackout_store::Store;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// What a hostile banner or summary might carry: it must show as text, never run.
pub const HOSTILE: &str =
    "<img src=x id=injected onerror=\"window.pwned=1\"><script>window.pwned=1</script>";

pub fn now() -> Timestamp {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    Timestamp::from_secs(secs as i64)
}

pub fn kp_prefix() -> ipnet::IpNet {
    "175.45.176.0/24".parse().unwrap()
}

/// The ongoing event: North Korea dark, cause internal, with a hostile evidence text.
pub fn dark_event(start: Timestamp) -> Event {
    let entity = Entity::Country("KP".into());
    Event {
        id: EventId::derive(&entity, start, Cause::Internal),
        entity,
        cause: Cause::Internal,
        severity: Severity::Critical,
        confidence: 0.9,
        start,
        end: None,
        scope: Scope {
            prefixes: vec![kp_prefix()],
            upstreams: vec![Asn(4837), Asn(20485)],
            hosts: vec!["kcna.kp".into()],
            services: vec![],
            families: vec![],
        },
        summary: "Every upstream withdrew the routes of North Korea together".into(),
        evidence: vec![
            Evidence {
                at: start,
                signal: SignalKind::BgpVisibility,
                text: "175.45.176.0/24 seen by 0 of 20 full-feed peers".into(),
                value: Some(0.0),
            },
            Evidence {
                at: start.add_secs(30),
                signal: SignalKind::ProbeHttp,
                text: format!("kcna.kp answered {HOSTILE}"),
                value: None,
            },
        ],
    }
}

/// An older event that ended: one upstream cut.
pub fn cut_event(start: Timestamp) -> Event {
    let entity = Entity::Upstream(Asn(20485));
    Event {
        id: EventId::derive(&entity, start, Cause::UpstreamCut),
        entity,
        cause: Cause::UpstreamCut,
        severity: Severity::Warning,
        confidence: 0.7,
        start,
        end: Some(start.add_secs(600)),
        scope: Scope {
            prefixes: vec![kp_prefix()],
            upstreams: vec![Asn(20485)],
            ..Scope::default()
        },
        summary: "TransTelecom stopped carrying North Korea's routes; China Unicom still does"
            .into(),
        evidence: vec![Evidence {
            at: start,
            signal: SignalKind::BgpUpstream,
            text: "no path through AS20485".into(),
            value: Some(0.0),
        }],
    }
}

pub fn dark_status(now: Timestamp, event: &Event) -> Status {
    Status {
        generated_at: now,
        profile: "kp".into(),
        network: EntityStatus {
            entity: "country:KP".into(),
            name: "North Korea".into(),
            state: EntityState::Down,
            since: Some(event.start),
            cause: Some(Cause::Internal),
            event_id: Some(event.id.0.clone()),
            detail: "no route from any upstream".into(),
        },
        entities: vec![EntityStatus {
            entity: "host:kcna.kp".into(),
            name: "KCNA".into(),
            state: EntityState::Down,
            since: Some(event.start),
            cause: Some(Cause::Internal),
            event_id: Some(event.id.0.clone()),
            detail: HOSTILE.into(),
        }],
        upstreams: vec![
            UpstreamStatus {
                asn: 4837,
                name: "China Unicom".into(),
                visibility: 0.0,
                state: EntityState::Down,
            },
            UpstreamStatus {
                asn: 20485,
                name: "TransTelecom".into(),
                visibility: 0.0,
                state: EntityState::Down,
            },
        ],
        prefixes: vec![PrefixStatus {
            prefix: kp_prefix().to_string(),
            visibility: 0.0,
            seen_by: 0,
            full_feed_peers: 20,
            upstreams: Default::default(),
            origins: vec![],
            rpki_invalid: None,
        }],
        probes: vec![ProbeStatus {
            at: now,
            vantage: "local".into(),
            target: "kcna.kp".into(),
            check: "web".into(),
            kind: "probe.http".into(),
            ok: false,
            outcome: "timeout".into(),
            rtt_ms: None,
            loss: Some(1.0),
            detail: HOSTILE.into(),
            address: Some("175.45.176.71".into()),
            // The name went dark with the country: its last known address was probed.
            last_known_address: Some(LastKnownAddress {
                resolved_at: now.add_secs(-600),
                resolve_error: format!("kcna.kp: SERVFAIL {HOSTILE}"),
            }),
        }],
        feeds: vec![FeedStatus {
            name: "bmp:198.51.100.1".into(),
            state: "up".into(),
            last_message: Some(now.add_secs(-2)),
            rate: Some(12.5),
            detail: String::new(),
            why_no_routes: None,
            router: Some(bmp_router(now)),
        }],
        vantage: EntityStatus {
            entity: "vantage:local".into(),
            name: "this host".into(),
            state: EntityState::Up,
            ..EntityStatus::default()
        },
        vantages: vantage_rows(now),
        labels: [(
            "host:kcna.kp".to_string(),
            "kcna.kp (Korean Central News Agency)".to_string(),
        )]
        .into(),
        watched: Default::default(),
    }
}

/// Three vantage points of a central: one well, one offline, one whose path to
/// the targets alone fails (its latest result carries hostile text).
pub fn vantage_rows(now: Timestamp) -> Vec<VantageStatus> {
    let last = |target: &str, ok: bool, text: &str| {
        Some(VantageResult {
            at: now,
            target: target.into(),
            kind: "probe.icmp".into(),
            ok,
            rtt_ms: ok.then_some(41.5),
            text: text.into(),
        })
    };
    vec![
        VantageStatus {
            name: "local".into(),
            state: EntityState::Up,
            detail: "its control targets answer; 5 of its 11 checks fail from here".into(),
            checks: 11,
            failing: 5,
            last: last("kcna.kp", false, "timeout"),
            ..VantageStatus::default()
        },
        VantageStatus {
            name: "paris".into(),
            state: EntityState::Down,
            since: Some(now),
            event_id: Some("vantage-paris-offline".into()),
            detail: "the vantage point paris is offline: its control targets fail too".into(),
            checks: 11,
            failing: 0,
            last: last("a.root-servers.net", false, "network unreachable"),
        },
        VantageStatus {
            name: "tokyo".into(),
            state: EntityState::Degraded,
            since: Some(now),
            event_id: Some("vantage-tokyo-path".into()),
            detail: "the vantage point tokyo alone cannot reach what the others reach".into(),
            checks: 11,
            failing: 1,
            last: last("mfa.gov.kp", true, &format!("answered {HOSTILE}")),
        },
    ]
}

/// The observatory blind: its one feed down, so no full-feed peer counts the
/// prefixes; the web check failed with an HTTP error (no packets lost); the
/// vantage point listed among the entities too.
pub fn blind_status(now: Timestamp) -> Status {
    let mut status = dark_status(now, &dark_event(now));
    status.network.state = EntityState::Unknown;
    status.network.cause = None;
    status.network.event_id = None;
    status.network.detail = String::new();
    status.feeds[0].state = "down".into();
    status.feeds[0].router = None;
    for prefix in &mut status.prefixes {
        prefix.full_feed_peers = 0;
    }
    status.probes[0].outcome = "HTTP 503".into();
    status.probes[0].loss = Some(0.0);
    status.entities.push(status.vantage.clone());
    status
}

/// A BMP router as a feed reports it: a name with markup in it, a peer up with the
/// watched routes, one down since its Peer Down, and the Loc-RIB of a VRF.
pub fn bmp_router(now: Timestamp) -> RouterStatus {
    RouterStatus {
        sys_name: Some(format!("border1 {HOSTILE}")),
        sys_descr: Some("Cisco IOS XR Software, Version 7.10.1".into()),
        views_configured: vec!["pre-policy".into(), "post-policy".into(), "loc-rib".into()],
        views_sent: vec!["post-policy".into(), "loc-rib".into()],
        views_used: vec!["post-policy".into(), "loc-rib".into()],
        skipped: vec![SkippedStatus {
            what: "ipv4-vpn routes (VPN)".into(),
            why: "blackout follows IPv4 and IPv6 unicast only".into(),
            messages: 132,
        }],
        peers: vec![
            BmpPeerStatus {
                address: "198.51.100.5".into(),
                asn: 4837,
                bgp_id: "198.51.100.5".into(),
                peer_type: "global".into(),
                state: "up".into(),
                since: now.add_secs(-86_400),
                views_sent: vec!["post-policy".into()],
                view: Some("post-policy".into()),
                routes: 4,
                routes_ipv4: 4,
                table_ipv4: Some(1_023_456),
                ..BmpPeerStatus::default()
            },
            BmpPeerStatus {
                address: "198.51.100.9".into(),
                asn: 20485,
                bgp_id: "198.51.100.9".into(),
                peer_type: "global".into(),
                state: "down".into(),
                since: now.add_secs(-1_800),
                reason_code: Some(3),
                reason: Some(format!(
                    "the peer closed the session with a NOTIFICATION: cease {HOSTILE}"
                )),
                views_sent: vec!["post-policy".into()],
                ..BmpPeerStatus::default()
            },
            BmpPeerStatus {
                address: "198.51.100.1".into(),
                asn: 64511,
                bgp_id: "198.51.100.1".into(),
                peer_type: "loc-rib".into(),
                distinguisher: Some("64511:7".into()),
                table_name: Some("customers".into()),
                state: "up".into(),
                since: now.add_secs(-86_400),
                ..BmpPeerStatus::default()
            },
        ],
        peers_total: 3,
        peers_up: 2,
        peer_downs: vec![PeerDownStatus {
            peer: "bmp:198.51.100.1:post 198.51.100.9 AS20485".into(),
            at: now.add_secs(-1_800),
            reason_code: Some(3),
            reason: "the peer closed the session with a NOTIFICATION: cease: administrative shutdown (6/2)".into(),
            routes: 4,
        }],
    }
}

pub fn online_status(now: Timestamp) -> Status {
    let mut status = dark_status(now, &dark_event(now));
    status.network.state = EntityState::Up;
    status.network.cause = None;
    status.network.event_id = None;
    status.upstreams[0].visibility = 0.95;
    status.upstreams[0].state = EntityState::Up;
    status.upstreams[1].visibility = 0.4;
    status.upstreams[1].state = EntityState::Up;
    status
}

/// Writes the two events and two hours of series (visibility per prefix and per
/// upstream, probe results and RTT) into a new store at `db`.
pub fn fill_store(db: &std::path::Path, now: Timestamp) -> (Event, Event) {
    let dark = dark_event(now.add_secs(-1800));
    let cut = cut_event(now.add_secs(-5400));
    let mut store = Store::open(db).unwrap();
    store
        .record_events(&[
            (UpdateKind::Started, &cut),
            (UpdateKind::Ended, &cut),
            (UpdateKind::Started, &dark),
        ])
        .unwrap();
    let prefix = format!("prefix:{}", kp_prefix());
    let mut points = Vec::new();
    let mut point = |entity: &str, signal: &str, at: Timestamp, value: f64| {
        points.push(SeriesPoint::new(
            entity.parse().unwrap(),
            signal.parse().unwrap(),
            at,
            value,
        ))
    };
    // Both upstreams until the cut, China Unicom alone after it, nothing once dark.
    point(&prefix, "bgp.visibility", now.add_secs(-7200), 1.0);
    point(&prefix, "bgp.upstream.4837", now.add_secs(-7200), 0.6);
    point(&prefix, "bgp.upstream.20485", now.add_secs(-7200), 0.4);
    point(&prefix, "bgp.visibility", now.add_secs(-5400), 0.95);
    point(&prefix, "bgp.upstream.4837", now.add_secs(-5400), 0.95);
    point(&prefix, "bgp.visibility", now.add_secs(-4800), 1.0);
    point(&prefix, "bgp.upstream.4837", now.add_secs(-4800), 0.6);
    point(&prefix, "bgp.upstream.20485", now.add_secs(-4800), 0.4);
    point(&prefix, "bgp.visibility", now.add_secs(-1800), 0.0);
    for minute in 0..120 {
        let at = now.add_secs(-7200 + minute * 60);
        let up = minute < 90;
        point(
            "host:kcna.kp",
            "probe.http.ok",
            at,
            if up { 1.0 } else { 0.0 },
        );
        if up {
            point(
                "host:kcna.kp",
                "probe.icmp.rtt_ms",
                at,
                240.0 + (minute % 7) as f64 * 3.0,
            );
        }
    }
    store.record_signals(&points).unwrap();
    (dark, cut)
}

pub struct Server {
    pub addr: SocketAddr,
    pub publisher: Publisher,
    pub metrics: Arc<Metrics>,
    pub db: PathBuf,
    pub now: Timestamp,
    pub dark: Event,
    pub cut: Event,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<std::io::Result<()>>>,
    _dir: tempfile::TempDir,
}

impl Server {
    /// A server over a filled store, showing North Korea dark.
    pub async fn start() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("blackout.db");
        let now = now();
        let (dark, cut) = fill_store(&db, now);
        Self::start_with(dir, db, now, dark, cut, ConnectionLimits::default()).await
    }

    /// A server over a filled store that answers for `hosts` too.
    pub async fn start_with_hosts(hosts: blackout_api::AllowedHosts) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("blackout.db");
        let now = now();
        let (dark, cut) = fill_store(&db, now);
        Self::start_full(
            dir,
            db,
            now,
            (dark, cut),
            ConnectionLimits::default(),
            hosts,
        )
        .await
    }

    /// A server over a filled store, holding connections to `limits`.
    pub async fn start_limited(limits: ConnectionLimits) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("blackout.db");
        let now = now();
        let (dark, cut) = fill_store(&db, now);
        Self::start_with(dir, db, now, dark, cut, limits).await
    }

    /// A server whose database file does not exist.
    pub async fn start_without_store() -> Server {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("missing.db");
        let now = now();
        let dark = dark_event(now);
        let cut = cut_event(now);
        Self::start_with(dir, db, now, dark, cut, ConnectionLimits::default()).await
    }

    async fn start_with(
        dir: tempfile::TempDir,
        db: PathBuf,
        now: Timestamp,
        dark: Event,
        cut: Event,
        limits: ConnectionLimits,
    ) -> Server {
        let hosts = blackout_api::AllowedHosts::local();
        Self::start_full(dir, db, now, (dark, cut), limits, hosts).await
    }

    async fn start_full(
        dir: tempfile::TempDir,
        db: PathBuf,
        now: Timestamp,
        (dark, cut): (Event, Event),
        limits: ConnectionLimits,
        hosts: blackout_api::AllowedHosts,
    ) -> Server {
        let metrics = Arc::new(Metrics::new());
        let publisher = Publisher::new(dark_status(now, &dark), Arc::clone(&metrics));
        let state: ApiState = publisher
            .api_state(db.clone().into())
            .with_limits(limits)
            .with_allowed_hosts(hosts);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(blackout_api::serve(listener, state, async move {
            let _ = stopped.await;
        }));
        Server {
            addr,
            publisher,
            metrics,
            db,
            now,
            dark,
            cut,
            stop: Some(stop),
            task: Some(task),
            _dir: dir,
        }
    }

    /// Stops the server and says how long it took to return.
    pub async fn shutdown(mut self) -> Duration {
        let started = std::time::Instant::now();
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .expect("the server stops within 10 s")
                .unwrap()
                .unwrap();
        }
        started.elapsed()
    }

    pub async fn get(&self, path: &str) -> Response {
        request(
            self.addr,
            format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        )
        .await
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }

    /// Asserts a JSON error with this status and code, and returns its message.
    pub fn assert_error(&self, status: u16, code: &str) -> String {
        assert_eq!(self.status, status, "status of {}", self.text());
        assert!(
            self.header("content-type")
                .is_some_and(|t| t.starts_with("application/json")),
            "content type of {:?}",
            self.headers
        );
        let json = self.json();
        assert_eq!(json["error"]["code"], code, "{json}");
        let message = json["error"]["message"].as_str().unwrap_or_default();
        assert!(!message.is_empty(), "{json}");
        message.to_string()
    }
}

/// Sends raw bytes and reads one answer: up to its Content-Length, its last chunk, or
/// the end of the connection.
pub async fn request(addr: SocketAddr, bytes: &[u8]) -> Response {
    let mut stream = TcpStream::connect(addr).await.unwrap();
    // The server may answer and close before it has read everything we send (an
    // oversized request): a failed write is fine as long as the answer arrives.
    let _ = stream.write_all(bytes).await;
    let mut raw = Vec::new();
    tokio::time::timeout(Duration::from_secs(10), async {
        let mut buffer = [0u8; 16 * 1024];
        loop {
            if complete(&raw) {
                return;
            }
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => raw.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .expect("the server answers within 10 s");
    parse(&raw)
}

/// Whether `raw` holds a whole answer (as far as its framing says).
fn complete(raw: &[u8]) -> bool {
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return false;
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let body = &raw[split + 4..];
    if head.contains("\r\ncontent-length: 0") {
        return true;
    }
    if let Some(length) = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<usize>().ok())
    {
        return body.len() >= length;
    }
    if head.contains("transfer-encoding: chunked") {
        return body.ends_with(b"0\r\n\r\n");
    }
    false
}

pub fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .unwrap_or_else(|| panic!("no header end in {:?}", String::from_utf8_lossy(raw)));
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap();
    let status: u16 = status_line.split(' ').nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_string(), v.trim().to_string()))
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers.iter().any(|(n, v)| {
        n.eq_ignore_ascii_case("transfer-encoding") && v.eq_ignore_ascii_case("chunked")
    });
    if chunked {
        body = dechunk(&body);
    }
    Response {
        status,
        headers,
        body,
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let Some(end) = data.windows(2).position(|w| w == b"\r\n") else {
            return out;
        };
        let size_text = String::from_utf8_lossy(&data[..end]);
        let size =
            usize::from_str_radix(size_text.split(';').next().unwrap().trim(), 16).unwrap_or(0);
        if size == 0 {
            return out;
        }
        let start = end + 2;
        out.extend_from_slice(&data[start..(start + size).min(data.len())]);
        data = &data[(start + size + 2).min(data.len())..];
    }
}

/// A port nobody listens on right now (for Prometheus' own listener).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Says plainly that a test did not run, and why.
pub fn skipped(why: &str) {
    eprintln!("SKIPPED: {why}");
}

/// A program on the PATH, or None.
pub fn program(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|p| p.is_file())
    })
}

/// Kills a child process we started when the test ends, however it ends.
pub struct KillOnDrop(pub std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
