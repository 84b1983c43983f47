//! Live tests of the probing engine against real servers on loopback (nginx, NSD,
//! aiosmtpd), hostile peers written here (tarpits, floods, broken DNS), and
//! network namespaces with real hops for traceroute, and one whose system resolver
//! asks an NSD that the test stops (a name that stops resolving).
//!
//! Needs root and the Debian packages nginx, nsd, python3-aiosmtpd, openssl,
//! iproute2 and util-linux (setpriv). Each test says "SKIPPED ..." on stderr and
//! returns when a requirement is missing.

#[path = "live/support.rs"]
mod support;

use blackout_model::Asn;
use blackout_model::ProbeRole;
use blackout_probe::census::{CensusOptions, census};
use blackout_probe::icmp::{IcmpAccess, IcmpMode};
use blackout_probe::{
    CheckSpec, Detail, DnsVerdict, EngineConfig, Outcome, PrefixTable, ProbeResult, Prober, Target,
};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::*;

/// Tests that change net.ipv4.ping_group_range take turns.
static SYSCTL: Mutex<()> = Mutex::new(());

fn config(timeout_ms: u64, retries: u32) -> EngineConfig {
    EngineConfig {
        timeout: Duration::from_millis(timeout_ms),
        retries,
        rate_per_sec: 0,
        ..EngineConfig::default()
    }
}

fn probe_all(config: EngineConfig, targets: &[Target]) -> Vec<ProbeResult> {
    runtime().block_on(async {
        let prober = Arc::new(Prober::new(config));
        prober.round(targets).await
    })
}

fn probe_one(config: EngineConfig, text: &str) -> ProbeResult {
    let target = Target::parse(text).unwrap_or_else(|e| panic!("{e}"));
    probe_all(config, &[target]).remove(0)
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn failed_reason(result: &ProbeResult) -> String {
    match &result.outcome {
        Outcome::Failed { reason } => reason.clone(),
        other => panic!("expected a failure, got {other:?} in {result:?}"),
    }
}

// ---------------------------------------------------------------- hostile peers

/// What a hostile TCP peer does after accepting.
#[derive(Clone, Copy)]
enum Hostile {
    /// Accepts and never speaks.
    Silent,
    /// Sends this, then nothing.
    Say(&'static [u8]),
    /// Sends this once, then the filler forever.
    Flood(&'static [u8], &'static [u8]),
    /// An HTTP server: reads the request's head, then sends this, then nothing.
    HttpSay(&'static [u8]),
    /// An HTTP server: reads the request's head, then floods as [`Hostile::Flood`].
    HttpFlood(&'static [u8], &'static [u8]),
}

/// Reads a request up to the blank line that ends its head (an HTTP server answers
/// only then: a client is free to treat bytes before its request as garbage).
fn read_request_head(stream: &mut std::net::TcpStream) {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut buf) {
            Ok(n) if n > 0 => head.extend_from_slice(&buf[..n]),
            _ => return,
        }
    }
}

/// A TCP listener on loopback that behaves as told with every connection.
fn hostile_tcp(behaviour: Hostile) -> SocketAddr {
    let listener = TcpListener::bind((loopback(), 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let behaviour = match behaviour {
                    Hostile::HttpSay(bytes) => {
                        read_request_head(&mut stream);
                        Hostile::Say(bytes)
                    }
                    Hostile::HttpFlood(first, filler) => {
                        read_request_head(&mut stream);
                        Hostile::Flood(first, filler)
                    }
                    other => other,
                };
                match behaviour {
                    Hostile::Silent => {
                        let mut sink = [0u8; 1024];
                        while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
                    }
                    Hostile::Say(bytes) | Hostile::HttpSay(bytes) => {
                        let _ = stream.write_all(bytes);
                        std::thread::sleep(Duration::from_secs(10));
                    }
                    Hostile::Flood(first, filler) | Hostile::HttpFlood(first, filler) => {
                        let _ = stream.write_all(first);
                        let started = Instant::now();
                        while started.elapsed() < Duration::from_secs(10) {
                            if stream.write_all(filler).is_err() {
                                break;
                            }
                        }
                    }
                }
            });
        }
    });
    address
}

// ---------------------------------------------------------------------- HTTP

const PAGE: &str = "<html><head><title>Star JV test page</title></head><body>hello</body></html>\n";

struct Nginx {
    _daemon: Daemon,
    dir: tempfile::TempDir,
    ip: Ipv4Addr,
    http: u16,
    https: u16,
}

fn nginx(test: &str) -> Option<Nginx> {
    if !root(test) || !have(test, "nginx", "nginx") || !have(test, "openssl", "openssl") {
        return None;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path();
    std::fs::create_dir_all(d.join("www")).expect("www");
    std::fs::create_dir_all(d.join("tmp")).expect("tmp");
    std::fs::write(d.join("www/index.html"), PAGE).expect("page");
    sh(&[
        "openssl",
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "2",
        "-subj",
        "/CN=www.lab.example",
        "-keyout",
        &d.join("key.pem").display().to_string(),
        "-out",
        &d.join("cert.pem").display().to_string(),
    ]);
    let ip = loopback();
    let (http, https) = (free_port(ip), free_port(ip));
    let p = d.display();
    let conf = format!(
        "user root; daemon off; worker_processes 1; pid {p}/nginx.pid; error_log {p}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {p}/tmp; proxy_temp_path {p}/tmp; fastcgi_temp_path {p}/tmp;
  uwsgi_temp_path {p}/tmp; scgi_temp_path {p}/tmp;
  server {{
    listen {ip}:{http};
    listen {ip}:{https} ssl;
    ssl_certificate {p}/cert.pem; ssl_certificate_key {p}/key.pem;
    root {p}/www;
    location = /broken {{ return 503; }}
  }}
}}
"
    );
    std::fs::write(d.join("nginx.conf"), conf).expect("conf");
    let daemon = spawn(
        d,
        "nginx",
        Command::new("nginx").args(["-p", &p.to_string(), "-c", &format!("{p}/nginx.conf")]),
    );
    assert!(
        wait_tcp(SocketAddr::from((ip, http)), Duration::from_secs(10)),
        "nginx did not start: {}",
        std::fs::read_to_string(d.join("error.log")).unwrap_or_default()
    );
    Some(Nginx {
        _daemon: daemon,
        dir,
        ip,
        http,
        https,
    })
}

fn http_detail(result: &ProbeResult) -> &blackout_probe::HttpDetail {
    match &result.detail {
        Some(Detail::Http(http)) => http,
        other => panic!("no HTTP detail: {other:?}"),
    }
}

#[test]
fn http_against_nginx() {
    let Some(server) = nginx("http_against_nginx") else {
        return;
    };
    let (ip, http, https) = (server.ip, server.http, server.https);

    let ok = probe_one(config(2000, 0), &format!("http://{ip}:{http}/"));
    assert_eq!(ok.outcome, Outcome::Ok, "{ok:?}");
    let detail = http_detail(&ok);
    assert_eq!(detail.status, Some(200));
    assert_eq!(detail.title.as_deref(), Some("Star JV test page"));
    assert_eq!(
        detail.sha256.as_deref(),
        Some(sha256_hex(PAGE.as_bytes()).as_str())
    );
    assert!(
        detail
            .server
            .as_deref()
            .is_some_and(|s| s.starts_with("nginx"))
    );
    let (connect, first) = (detail.connect_ms.unwrap(), detail.first_byte_ms.unwrap());
    assert!(connect > 0.0 && first >= connect, "{detail:?}");

    let tls = probe_one(config(2000, 0), &format!("https:{ip}:{https}"));
    assert_eq!(tls.outcome, Outcome::Ok, "{tls:?}");
    let detail = http_detail(&tls);
    assert!(
        detail
            .tls_ms
            .is_some_and(|t| t >= detail.connect_ms.unwrap())
    );
    assert_eq!(detail.title.as_deref(), Some("Star JV test page"));

    // Defacement: the page changes, and so do its hash and title.
    let defaced = "<html><title>Hacked by nobody</title></html>";
    std::fs::write(server.dir.path().join("www/index.html"), defaced).expect("deface");
    let after = probe_one(config(2000, 0), &format!("http:{ip}:{http}"));
    let detail = http_detail(&after);
    assert_eq!(detail.title.as_deref(), Some("Hacked by nobody"));
    assert_eq!(
        detail.sha256.as_deref(),
        Some(sha256_hex(defaced.as_bytes()).as_str())
    );

    let broken = probe_one(config(2000, 0), &format!("http://{ip}:{http}/broken"));
    assert_eq!(http_detail(&broken).status, Some(503));
    assert!(failed_reason(&broken).contains("503"));

    let refused = probe_one(config(2000, 0), &format!("http:{ip}:{}", free_port(ip)));
    assert_eq!(refused.outcome, Outcome::Refused);
}

#[test]
fn http_against_hostile_peers() {
    let silent = hostile_tcp(Hostile::Silent);
    let started = Instant::now();
    let result = probe_one(config(500, 0), &format!("http:{silent}"));
    assert!(
        failed_reason(&result).contains("no response head"),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    // A TLS handshake that stalls: the server accepts and never answers the hello.
    let started = Instant::now();
    let result = probe_one(config(500, 0), &format!("https:{silent}"));
    assert!(
        failed_reason(&result).contains("TLS handshake did not finish"),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(3));

    // Endless body: read up to the bound, hashed, marked as cut, and done quickly.
    // The server answers the request, as HTTP servers do: bytes sent before it are an
    // unsolicited message to the client (hyper gives up on them, "operation was
    // canceled"), which is the not-HTTP case below, not this one.
    let flood = hostile_tcp(Hostile::HttpFlood(
        b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n\r\n<title>flood</title>",
        &[b'x'; 65536],
    ));
    let started = Instant::now();
    let result = probe_one(config(2000, 0), &format!("http:{flood}"));
    assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
    let detail = http_detail(&result);
    assert!(detail.truncated);
    assert_eq!(detail.body_bytes, blackout_probe::http::MAX_BODY as u64);
    assert_eq!(detail.title.as_deref(), Some("flood"));
    assert!(started.elapsed() < Duration::from_secs(3));

    // Endless headers: refused by the head bound, not buffered forever.
    let headers = hostile_tcp(Hostile::HttpFlood(
        b"HTTP/1.1 200 OK\r\n",
        b"X-Junk: aaaaaaaaaaaaaaaaaaaaaaaa\r\n",
    ));
    let result = probe_one(config(2000, 0), &format!("http:{headers}"));
    assert!(
        failed_reason(&result).contains("broken HTTP response"),
        "{result:?}"
    );

    // Not HTTP at all.
    let garbage = hostile_tcp(Hostile::Say(b"SSH-2.0-OpenSSH_9.2\r\n"));
    let result = probe_one(config(1000, 0), &format!("http:{garbage}"));
    assert!(
        failed_reason(&result).contains("broken HTTP response"),
        "{result:?}"
    );
}

/// A TCP listener on loopback that takes the first `silent` connections and says
/// nothing on them (as when the greeting is lost), then answers every later one with
/// `script`: each pair is (what to send, whether to read a line before sending it).
fn silent_first(silent: usize, script: &'static [(&'static [u8], bool)]) -> SocketAddr {
    let listener = TcpListener::bind((loopback(), 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    std::thread::spawn(move || {
        for (index, stream) in listener.incoming().enumerate() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
                let mut sink = [0u8; 1024];
                if index < silent {
                    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
                    return;
                }
                for (bytes, read_first) in script {
                    if *read_first && !matches!(stream.read(&mut sink), Ok(n) if n > 0) {
                        return;
                    }
                    if stream.write_all(bytes).is_err() {
                        return;
                    }
                }
                std::thread::sleep(Duration::from_millis(500));
            });
        }
    });
    address
}

const SMTP_SCRIPT: &[(&[u8], bool)] = &[
    (b"220 mail.example ESMTP\r\n", false),
    (b"250-mail.example\r\n250 8BITMIME\r\n", true),
];
const HTTP_SCRIPT: &[(&[u8], bool)] = &[(
    b"HTTP/1.1 200 OK\r\nContent-Length: 19\r\n\r\n<title>back</title>",
    true,
)];

#[test]
fn smtp_silence_is_retried_as_a_timeout_and_judged_on_the_retries() {
    // The greeting lost once: the retry answers, and the result says one was lost.
    let once = silent_first(1, SMTP_SCRIPT);
    let result = probe_one(config(500, 2), &format!("smtp:{once}"));
    assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
    assert_eq!((result.attempts, result.lost), (2, 1), "{result:?}");

    // Silent on every attempt: judged on all of them, and worded as a silent service.
    let always = silent_first(usize::MAX, SMTP_SCRIPT);
    let result = probe_one(config(300, 2), &format!("smtp:{always}"));
    assert!(failed_reason(&result).contains("no greeting"), "{result:?}");
    assert_eq!((result.attempts, result.lost), (3, 2), "{result:?}");
}

#[test]
fn http_silence_is_retried_as_a_timeout_and_judged_on_the_retries() {
    let once = silent_first(1, HTTP_SCRIPT);
    let result = probe_one(config(500, 2), &format!("http:{once}"));
    assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
    assert_eq!((result.attempts, result.lost), (2, 1), "{result:?}");
    assert_eq!(http_detail(&result).title.as_deref(), Some("back"));

    let always = silent_first(usize::MAX, HTTP_SCRIPT);
    let result = probe_one(config(300, 1), &format!("http:{always}"));
    assert!(
        failed_reason(&result).contains("no response head"),
        "{result:?}"
    );
    assert_eq!((result.attempts, result.lost), (2, 1), "{result:?}");

    // A TLS handshake that never finishes is silence too.
    let result = probe_one(config(300, 1), &format!("https:{always}"));
    assert!(
        failed_reason(&result).contains("TLS handshake did not finish"),
        "{result:?}"
    );
    assert_eq!(result.attempts, 2, "{result:?}");
}

#[test]
fn hostile_text_from_services_is_inert_in_results_and_json() {
    let banner = hostile_tcp(Hostile::Say(
        b"220 mail\x1b[2J\x1b]0;owned\x07\x08\x08\xff ready\r\n",
    ));
    let result = probe_one(config(1000, 0), &format!("smtp:{banner}"));
    let shown = smtp_detail(&result).banner.clone().unwrap_or_default();
    assert_eq!(
        shown,
        "mail\\x1b[2J\\x1b]0;owned\\x07\\x08\\x08\u{fffd} ready"
    );

    let page = hostile_tcp(Hostile::HttpSay(
        b"HTTP/1.1 200 OK\r\nServer: nginx\xc2\x9b31m\r\nContent-Length: 33\r\n\r\n<title>\x1b]2;x\x07Hi\x1bc</title>\x1b[2J....",
    ));
    let result = probe_one(config(1000, 0), &format!("http:{page}"));
    let detail = http_detail(&result);
    assert_eq!(detail.title.as_deref(), Some("\\x1b]2;x\\x07Hi\\x1bc"));
    assert_eq!(detail.server.as_deref(), Some("nginx\\u{9b}31m"));

    let json = serde_json::to_string(&result).expect("json");
    assert!(
        !json.contains('\u{1b}') && !json.contains("\\u001b"),
        "{json}"
    );
}

/// A routing table with IPv4 routes only, as on a vantage point without IPv6.
struct Ipv4Only;

impl blackout_probe::RouteLookup for Ipv4Only {
    fn has_route(&self, to: IpAddr) -> bool {
        to.is_ipv4()
    }
}

#[test]
fn no_ipv6_route_is_our_problem_not_a_verdict_on_the_target() {
    let listener = TcpListener::bind("[::1]:0").expect("bind ::1");
    let v6 = listener.local_addr().expect("address");
    let v4 = TcpListener::bind((loopback(), 0)).expect("bind");
    let v4_address = v4.local_addr().expect("address");
    let targets = [
        Target::parse(&format!("tcp:{v6}")).expect("target"),
        Target::parse(&format!("smtp:{v6}")).expect("target"),
        Target::parse(&format!("tcp:{v4_address}")).expect("target"),
    ];
    let results = runtime().block_on(async {
        let prober = Arc::new(Prober::new(config(500, 2)).with_routes(Arc::new(Ipv4Only)));
        prober.round(&targets).await
    });
    for result in &results[..2] {
        let Outcome::Error { message } = &result.outcome else {
            panic!("an IPv6 target without a route is our problem: {result:?}");
        };
        assert!(message.contains("no IPv6 route"), "{message}");
        assert_eq!(result.attempts, 0, "nothing was sent: {result:?}");
    }
    assert_eq!(results[2].outcome, Outcome::Ok, "IPv4 is probed as ever");

    // With the kernel's own table, ::1 has a route.
    let result = probe_one(config(500, 0), &format!("tcp:{v6}"));
    assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
}

// ----------------------------------------------------------------------- TCP

#[test]
fn tcp_open_refused_and_timeout() {
    let ip = loopback();
    let listener = TcpListener::bind((ip, 0)).expect("bind");
    let open = listener.local_addr().expect("address");
    let result = probe_one(config(1000, 0), &format!("tcp:{open}"));
    assert_eq!(result.outcome, Outcome::Ok);
    assert!(result.rtt_ms.is_some());

    let result = probe_one(config(1000, 2), &format!("tcp:{ip}:{}", free_port(ip)));
    assert_eq!(result.outcome, Outcome::Refused);
    assert_eq!(result.attempts, 1, "a refusal is an answer: no retry");

    // A listener whose accept queue is full drops new SYNs: the connect times out.
    let full =
        socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).expect("socket");
    full.bind(&SocketAddr::from((ip, 0)).into()).expect("bind");
    full.listen(0).expect("listen");
    let full_address = full
        .local_addr()
        .expect("address")
        .as_socket()
        .expect("inet");
    let mut fillers = Vec::new();
    for _ in 0..4 {
        if let Ok(stream) =
            std::net::TcpStream::connect_timeout(&full_address, Duration::from_millis(300))
        {
            fillers.push(stream);
        }
    }
    let result = probe_one(config(300, 1), &format!("tcp:{full_address}"));
    assert_eq!(result.outcome, Outcome::Timeout, "{result:?}");
    assert_eq!((result.attempts, result.lost), (2, 1));
}

#[test]
fn rounds_on_an_interval_under_a_rate_limit() {
    let listener = TcpListener::bind((loopback(), 0)).expect("bind");
    let target =
        Target::parse(&format!("tcp:{}", listener.local_addr().expect("address"))).unwrap();
    // Rounds: every 200 ms, no jitter; the results reach the channel.
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let started = Instant::now();
    let times: Vec<Duration> = runtime().block_on(async {
        let prober = Arc::new(Prober::new(EngineConfig {
            interval: Duration::from_millis(200),
            jitter: 0.0,
            ..config(500, 0)
        }));
        let run = tokio::spawn(prober.run(vec![target.clone()], Arc::new(tx)));
        let mut times = Vec::new();
        while times.len() < 4 {
            let result = rx.recv().await.expect("a result");
            assert_eq!(result.outcome, Outcome::Ok);
            times.push(started.elapsed());
        }
        drop(rx);
        let _ = tokio::time::timeout(Duration::from_secs(2), run).await;
        times
    });
    let span = times[3] - times[0];
    assert!(
        span >= Duration::from_millis(550) && span < Duration::from_millis(1500),
        "three intervals of 200 ms took {span:?}"
    );
    // The global rate limit: 12 probes at 20 per second take at least ~0.5 s.
    let targets = vec![target; 12];
    let started = Instant::now();
    let results = probe_all(
        EngineConfig {
            rate_per_sec: 20,
            ..config(500, 0)
        },
        &targets,
    );
    assert!(results.iter().all(|r| r.outcome == Outcome::Ok));
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(450),
        "12 probes at 20/s took {took:?}"
    );
}

#[test]
fn a_changed_result_is_rechecked_soon_and_a_steady_one_is_not() {
    let listener = TcpListener::bind((loopback(), 0)).expect("bind");
    let address = listener.local_addr().expect("address");
    let target = Target::new(
        &address.ip().to_string(),
        CheckSpec::Tcp(address.port()),
        ProbeRole::Host,
    );
    // A control that stays up: asked again with the target's first failure.
    let control_listener = TcpListener::bind((loopback(), 0)).expect("bind");
    let control_address = control_listener.local_addr().expect("address");
    let control = Target::new(
        &control_address.ip().to_string(),
        CheckSpec::Tcp(control_address.port()),
        ProbeRole::Control,
    );
    let (tx, mut rx) = tokio::sync::mpsc::channel(16);
    let mut listener = Some(listener);
    let started = Instant::now();
    // Every 1.5 s, a changed result looked at again 200 ms later.
    let seen: Vec<(Duration, ProbeRole, bool)> = runtime().block_on(async {
        let prober = Arc::new(Prober::new(EngineConfig {
            interval: Duration::from_millis(1500),
            jitter: 0.0,
            recheck: Duration::from_millis(200),
            ..config(500, 0)
        }));
        let run = tokio::spawn(prober.run(vec![target, control], Arc::new(tx)));
        let mut seen = Vec::new();
        while seen
            .iter()
            .filter(|(_, role, _)| *role == ProbeRole::Host)
            .count()
            < 4
        {
            let result = rx.recv().await.expect("a result");
            if result.role == ProbeRole::Host {
                // The service stops after its first answer: connections are refused.
                listener = None;
            }
            seen.push((
                started.elapsed(),
                result.role,
                result.outcome == Outcome::Ok,
            ));
        }
        drop(rx);
        let _ = tokio::time::timeout(Duration::from_secs(2), run).await;
        seen
    });
    drop(listener);
    let target: Vec<(Duration, bool)> = seen
        .iter()
        .filter(|(_, role, _)| *role == ProbeRole::Host)
        .map(|(at, _, ok)| (*at, *ok))
        .collect();
    let passes: Vec<bool> = target.iter().map(|(_, ok)| *ok).collect();
    assert_eq!(passes, vec![true, false, false, false], "{seen:?}");
    let gap = |i: usize| target[i].0 - target[i - 1].0;
    assert!(
        gap(2) < Duration::from_millis(900),
        "the first failure was rechecked {:?} later",
        gap(2)
    );
    assert!(
        gap(3) > Duration::from_millis(1200),
        "a target that stays down is probed at its interval, not faster: {:?}",
        gap(3)
    );
    // The control was asked again right after the first failure, not an interval on.
    let first_failure = target[1].0;
    let control_next = seen
        .iter()
        .find(|(at, role, _)| *role == ProbeRole::Control && *at > first_failure)
        .map(|(at, ..)| *at - first_failure);
    assert!(
        control_next.is_some_and(|d| d < Duration::from_millis(900)),
        "the control after the first failure came {control_next:?} later: {seen:?}"
    );
    drop(control_listener);
}

// ---------------------------------------------------------------------- SMTP

fn smtp_detail(result: &ProbeResult) -> &blackout_probe::SmtpDetail {
    match &result.detail {
        Some(Detail::Smtp(smtp)) => smtp,
        other => panic!("no SMTP detail: {other:?}"),
    }
}

#[test]
fn smtp_against_aiosmtpd() {
    let test = "smtp_against_aiosmtpd";
    let has_module = Command::new("/usr/bin/python3")
        .args(["-c", "import aiosmtpd"])
        .status()
        .is_ok_and(|s| s.success());
    if !has_module {
        eprintln!("SKIPPED {test}: needs aiosmtpd: apt-get install python3-aiosmtpd");
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let ip = loopback();
    let port = free_port(ip);
    let _daemon = spawn(
        dir.path(),
        "aiosmtpd",
        Command::new("/usr/bin/python3").args([
            "-m",
            "aiosmtpd",
            "-n",
            "-l",
            &format!("{ip}:{port}"),
        ]),
    );
    assert!(
        wait_tcp(SocketAddr::from((ip, port)), Duration::from_secs(10)),
        "aiosmtpd did not start"
    );
    let result = probe_one(config(2000, 0), &format!("smtp:{ip}:{port}"));
    assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
    let detail = smtp_detail(&result);
    assert_eq!(detail.banner_code, Some(220));
    assert!(
        detail.banner.as_deref().is_some_and(|b| b.contains("SMTP")),
        "{detail:?}"
    );
    assert_eq!(detail.ehlo_code, Some(250));
    assert!(
        detail.extensions.iter().any(|e| e == "8BITMIME"),
        "{detail:?}"
    );
}

#[test]
fn smtp_against_hostile_peers() {
    let ip = loopback();
    let refused = probe_one(config(1000, 0), &format!("smtp:{ip}:{}", free_port(ip)));
    assert_eq!(refused.outcome, Outcome::Refused);

    let silent = hostile_tcp(Hostile::Silent);
    let started = Instant::now();
    let result = probe_one(config(500, 0), &format!("smtp:{silent}"));
    assert!(failed_reason(&result).contains("no greeting"), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    let rejecting = hostile_tcp(Hostile::Say(b"554 5.7.1 No SMTP service here\r\n"));
    let result = probe_one(config(1000, 0), &format!("smtp:{rejecting}"));
    assert!(
        failed_reason(&result).contains("greeting 554"),
        "{result:?}"
    );
    assert_eq!(smtp_detail(&result).banner_code, Some(554));

    // A 10 MB banner, one line: cut at the line bound, quickly.
    static BIG: [u8; 1 << 20] = [b'A'; 1 << 20];
    let flood = hostile_tcp(Hostile::Flood(b"220 ", &BIG));
    let started = Instant::now();
    let result = probe_one(config(2000, 0), &format!("smtp:{flood}"));
    assert!(failed_reason(&result).contains("longer than"), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(3));

    // Endless continuation lines: cut at the reply bound.
    let endless = hostile_tcp(Hostile::Flood(b"220-hello\r\n", b"220-more and more\r\n"));
    let result = probe_one(config(2000, 0), &format!("smtp:{endless}"));
    assert!(failed_reason(&result).contains("longer than"), "{result:?}");

    let not_smtp = hostile_tcp(Hostile::Say(b"HTTP/1.1 400 Bad Request\r\n\r\n"));
    let result = probe_one(config(1000, 0), &format!("smtp:{not_smtp}"));
    assert!(
        failed_reason(&result).contains("not an SMTP reply"),
        "{result:?}"
    );
}

// ----------------------------------------------------------------------- DNS

const ZONE: &str = "$ORIGIN lab.example.
$TTL 300
@    IN SOA ns1.lab.example. hostmaster.lab.example. 2024061501 3600 600 86400 300
@    IN NS  ns1.lab.example.
@    IN NS  ns2.lab.example.
@    IN A   203.0.113.11
ns1  IN A   203.0.113.10
ns2  IN A   203.0.113.74
";

fn dns_detail(result: &ProbeResult) -> &blackout_probe::DnsDetail {
    match &result.detail {
        Some(Detail::Dns(dns)) => dns,
        other => panic!("no DNS detail: {other:?}"),
    }
}

/// How a hostile DNS responder answers a query.
type Responder = fn(&[u8]) -> Vec<u8>;

/// A UDP responder that answers every query with `answer(query)`.
fn hostile_dns(answer: Responder) -> SocketAddr {
    let socket = UdpSocket::bind((loopback(), 0)).expect("bind");
    let address = socket.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            let reply = answer(&buf[..len]);
            let _ = socket.send_to(&reply, from);
        }
    });
    address
}

/// The query echoed back as a response, with the given flag bits changed.
fn echo_reply(query: &[u8], aa: bool, tc: bool, rcode: u8) -> Vec<u8> {
    let mut reply = query.to_vec();
    reply[2] = 0x80 | if aa { 0x04 } else { 0 } | if tc { 0x02 } else { 0 };
    reply[3] = rcode;
    reply
}

#[test]
fn dns_against_nsd() {
    let test = "dns_against_nsd";
    if !root(test) || !have(test, "nsd", "nsd") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("lab.example.zone"), ZONE).expect("zone");
    // broken.example is configured but its zone file does not parse: SERVFAIL.
    std::fs::write(
        dir.path().join("broken.example.zone"),
        "this is not a zone\n",
    )
    .expect("zone");
    let ip = loopback();
    let port = free_port(ip);
    let conf = format!(
        "server:
  ip-address: {ip}@{port}
  port: {port}
  zonesdir: \"{d}\"
  pidfile: \"{d}/nsd.pid\"
  database: \"\"
  zonelistfile: \"{d}/zone.list\"
  xfrdfile: \"{d}/xfrd.state\"
  logfile: \"{d}/nsd.log\"
  username: \"\"
  chroot: \"\"
  server-count: 1
  tcp-count: 10
remote-control:
  control-enable: no
zone:
  name: lab.example
  zonefile: lab.example.zone
zone:
  name: broken.example
  zonefile: broken.example.zone
"
    );
    std::fs::write(dir.path().join("nsd.conf"), &conf).expect("conf");
    let _daemon = spawn(
        dir.path(),
        "nsd",
        Command::new("nsd").args(["-d", "-c", &format!("{d}/nsd.conf")]),
    );
    assert!(
        wait_tcp(SocketAddr::from((ip, port)), Duration::from_secs(10)),
        "nsd did not start: {}",
        std::fs::read_to_string(dir.path().join("nsd.out")).unwrap_or_default()
    );

    let ok = probe_one(config(2000, 0), &format!("dns:lab.example@{ip}:{port}"));
    assert_eq!(ok.outcome, Outcome::Ok, "{ok:?}");
    let detail = dns_detail(&ok);
    assert_eq!(detail.soa_serial, Some(2024061501));
    assert_eq!(detail.ns, vec!["ns1.lab.example.", "ns2.lab.example."]);
    assert_eq!(detail.a, vec![ip_addr("203.0.113.11")]);
    assert_eq!(detail.aa, Some(true));
    assert_eq!(detail.verdict, Some(DnsVerdict::Authoritative));

    let refused = probe_one(config(2000, 0), &format!("dns:other.example@{ip}:{port}"));
    assert_eq!(
        dns_detail(&refused).verdict,
        Some(DnsVerdict::Refused),
        "{refused:?}"
    );
    assert_eq!(dns_detail(&refused).rcode.as_deref(), Some("REFUSED"));
    assert!(failed_reason(&refused).contains("REFUSED"));

    let servfail = probe_one(config(2000, 0), &format!("dns:broken.example@{ip}:{port}"));
    assert_eq!(
        dns_detail(&servfail).verdict,
        Some(DnsVerdict::Servfail),
        "{servfail:?}"
    );
    assert!(failed_reason(&servfail).contains("SERVFAIL"));

    // A name inside the zone but not its apex: authoritative, yet no SOA there.
    let not_apex = probe_one(config(2000, 0), &format!("dns:ns1.lab.example@{ip}:{port}"));
    assert_eq!(
        dns_detail(&not_apex).verdict,
        Some(DnsVerdict::Lame),
        "{not_apex:?}"
    );
}

fn ip_addr(text: &str) -> IpAddr {
    ip(text)
}

/// An authoritative server for lab.example on [::1] that answers SOA, NS, A and
/// AAAA at the apex, each with its one record, and counts the AAAA queries.
/// With `lose_first`, the first copy of each query is lost (never answered).
fn dual_stack_dns(aaaa_asked: Arc<Mutex<u32>>, lose_first: bool) -> SocketAddr {
    use hickory_proto::op::{Message, MessageType};
    use hickory_proto::rr::rdata::{A, AAAA, NS, SOA};
    use hickory_proto::rr::{Name, RData, Record, RecordType};
    let socket = UdpSocket::bind("[::1]:0").expect("bind [::1]");
    let address = socket.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let mut seen = std::collections::BTreeSet::new();
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            let Ok(mut message) = Message::from_vec(&buf[..len]) else {
                continue;
            };
            if lose_first && seen.insert(message.metadata.id) {
                continue;
            }
            let Some(query) = message.queries.first().cloned() else {
                continue;
            };
            let zone = Name::from_ascii("lab.example.").unwrap();
            let data = match query.query_type() {
                RecordType::SOA => RData::SOA(SOA::new(
                    zone.clone(),
                    zone.clone(),
                    2024061501,
                    3600,
                    600,
                    86400,
                    300,
                )),
                RecordType::NS => RData::NS(NS(Name::from_ascii("ns1.lab.example.").unwrap())),
                RecordType::A => RData::A(A("203.0.113.11".parse().unwrap())),
                RecordType::AAAA => {
                    *aaaa_asked.lock().unwrap() += 1;
                    RData::AAAA(AAAA("2001:db8:100::11".parse().unwrap()))
                }
                _ => continue,
            };
            message.metadata.message_type = MessageType::Response;
            message.metadata.authoritative = true;
            message.add_answer(Record::from_rdata(zone, 300, data));
            let _ = socket.send_to(&message.to_vec().unwrap(), from);
        }
    });
    address
}

#[test]
fn dns_over_ipv6_asks_aaaa_too() {
    let asked = Arc::new(Mutex::new(0));
    let server = dual_stack_dns(asked.clone(), false);
    let result = probe_one(config(2000, 0), &format!("dns:lab.example@{server}"));
    assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
    let detail = dns_detail(&result);
    assert_eq!(detail.soa_serial, Some(2024061501));
    assert_eq!(detail.a, vec![ip_addr("203.0.113.11")]);
    assert_eq!(detail.aaaa, vec![ip_addr("2001:db8:100::11")]);
    assert_eq!(*asked.lock().unwrap(), 1);
    let json = serde_json::to_value(detail).expect("json");
    assert_eq!(json["aaaa"], serde_json::json!(["2001:db8:100::11"]));
}

#[test]
fn a_lost_dns_query_is_sent_again_within_the_attempt() {
    // Each of the four questions loses its first datagram: one attempt, no
    // retries, still answered (each query sent again at half its timeout).
    let server = dual_stack_dns(Arc::new(Mutex::new(0)), true);
    let started = Instant::now();
    let result = probe_one(config(600, 0), &format!("dns:lab.example@{server}"));
    assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
    assert_eq!(result.attempts, 1);
    assert_eq!(dns_detail(&result).soa_serial, Some(2024061501));
    assert!(
        started.elapsed() < Duration::from_millis(4 * 600),
        "each query within its own timeout: {:?}",
        started.elapsed()
    );
}

#[test]
fn dns_against_hostile_peers() {
    let ip = loopback();
    // Nobody listens: the kernel answers port unreachable, which is "refused".
    let refused = probe_one(
        config(1000, 0),
        &format!("dns:lab.example@{ip}:{}", free_port(ip)),
    );
    assert_eq!(refused.outcome, Outcome::Refused, "{refused:?}");

    // A socket that reads and never answers: a timeout, on every attempt.
    let silent = UdpSocket::bind((ip, 0)).expect("bind");
    let silent_address = silent.local_addr().expect("address");
    let started = Instant::now();
    let timeout = probe_one(config(300, 1), &format!("dns:lab.example@{silent_address}"));
    assert_eq!(timeout.outcome, Outcome::Timeout);
    assert_eq!(timeout.attempts, 2);
    assert!(started.elapsed() < Duration::from_secs(2));

    let cases: [(Responder, DnsVerdict); 6] = [
        (|q| echo_reply(q, false, false, 0), DnsVerdict::Lame),
        (|q| q.get(..7).unwrap_or(q).to_vec(), DnsVerdict::Malformed),
        (
            |q| {
                let mut r = echo_reply(q, true, false, 0);
                r[5] = 9; // nine questions announced, one present
                r
            },
            DnsVerdict::Malformed,
        ),
        (
            |_| b"\x00\x00garbage that is not DNS".to_vec(),
            DnsVerdict::Malformed,
        ),
        (|q| echo_reply(q, true, true, 0), DnsVerdict::Truncated),
        (|q| echo_reply(q, false, false, 2), DnsVerdict::Servfail),
    ];
    for (answer, verdict) in cases {
        let server = hostile_dns(answer);
        let started = Instant::now();
        let result = probe_one(config(500, 0), &format!("dns:lab.example@{server}"));
        assert_eq!(dns_detail(&result).verdict, Some(verdict), "{result:?}");
        assert!(
            matches!(result.outcome, Outcome::Failed { .. }),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(2));
    }
    // The first query lost: sent again within the attempt (no retry needed), and
    // the answer is what is judged.
    let lossy = UdpSocket::bind((ip, 0)).expect("bind");
    let lossy_address = lossy.local_addr().expect("address");
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        let mut seen = 0;
        while let Ok((len, from)) = lossy.recv_from(&mut buf) {
            seen += 1;
            if seen > 1 {
                let _ = lossy.send_to(&echo_reply(&buf[..len], false, false, 2), from);
            }
        }
    });
    let result = probe_one(config(300, 2), &format!("dns:lab.example@{lossy_address}"));
    assert_eq!(
        dns_detail(&result).verdict,
        Some(DnsVerdict::Servfail),
        "{result:?}"
    );
    assert_eq!(result.attempts, 1, "{result:?}");

    // An answer with another ID is not taken (a spoofing guard): wrong, not silent.
    let wrong_id = hostile_dns(|q| {
        let mut r = echo_reply(q, true, false, 0);
        r[0] ^= 0xff;
        r
    });
    let result = probe_one(config(300, 0), &format!("dns:lab.example@{wrong_id}"));
    assert_eq!(
        dns_detail(&result).verdict,
        Some(DnsVerdict::Mismatch),
        "{result:?}"
    );
    assert!(failed_reason(&result).contains("ID"));
}

// ---------------------------------------------------------------------- ICMP

/// Sets net.ipv4.ping_group_range, restoring the old value when dropped.
struct PingRange(String);

impl PingRange {
    fn set(value: &str) -> PingRange {
        let path = "/proc/sys/net/ipv4/ping_group_range";
        let old = std::fs::read_to_string(path).expect("read ping_group_range");
        std::fs::write(path, value).expect("write ping_group_range");
        PingRange(old.split_whitespace().collect::<Vec<_>>().join(" "))
    }
}

impl Drop for PingRange {
    fn drop(&mut self) {
        let _ = std::fs::write("/proc/sys/net/ipv4/ping_group_range", &self.0);
    }
}

fn icmp_round(expected: Option<IcmpMode>) {
    let mode = IcmpAccess::detect().mode.ok();
    assert_eq!(mode, expected);
    let results = probe_all(
        config(1000, 0),
        &[
            Target::parse("127.0.0.1").unwrap(),
            Target::parse("127.9.8.7").unwrap(),
        ],
    );
    for result in &results {
        assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
        assert!(result.rtt_ms.is_some_and(|rtt| rtt < 100.0));
    }
}

#[test]
fn icmp_with_ping_socket() {
    if !root("icmp_with_ping_socket") {
        return;
    }
    let _turn = SYSCTL.lock().unwrap_or_else(|e| e.into_inner());
    let _range = PingRange::set("0 2147483647");
    icmp_round(Some(IcmpMode::Ping));
}

#[test]
fn icmp_with_raw_socket() {
    if !root("icmp_with_raw_socket") {
        return;
    }
    let _turn = SYSCTL.lock().unwrap_or_else(|e| e.into_inner());
    let _range = PingRange::set("1 0");
    icmp_round(Some(IcmpMode::Raw));
}

#[test]
fn icmp_with_neither() {
    let test = "icmp_with_neither";
    if !root(test) || !have(test, "setpriv", "util-linux") {
        return;
    }
    let _turn = SYSCTL.lock().unwrap_or_else(|e| e.into_inner());
    let _range = PingRange::set("1 0");
    // The same test binary, without CAP_NET_RAW and outside the ping range.
    let (ok, output) = rerun(
        None,
        &["setpriv", "--bounding-set=-net_raw", "--inh-caps=-net_raw"],
        "inner_icmp_with_neither",
        &[],
    );
    assert!(ok, "{output}");
}

#[test]
#[ignore = "run by icmp_with_neither without CAP_NET_RAW"]
fn inner_icmp_with_neither() {
    if !inner("inner_icmp_with_neither") {
        return;
    }
    let access = IcmpAccess::detect();
    let why = access.mode.expect_err("no ICMP socket may be opened");
    assert!(why.to_string().contains("ping_group_range"));
    assert!(why.to_string().contains("cap_net_raw"));
    let listener = TcpListener::bind((loopback(), 0)).expect("bind");
    let tcp = format!("tcp:{}", listener.local_addr().expect("address"));
    let (results, unavailable) = runtime().block_on(async {
        let prober = Arc::new(Prober::new(config(500, 0)));
        let unavailable = prober.icmp_unavailable().cloned();
        let targets = [
            Target::parse("127.0.0.1").unwrap(),
            Target::parse(&tcp).unwrap(),
        ];
        (prober.round(&targets).await, unavailable)
    });
    assert!(unavailable.is_some());
    assert!(
        matches!(&results[0].outcome, Outcome::Error { message } if message.contains("ICMP unavailable"))
    );
    assert_eq!(results[1].outcome, Outcome::Ok, "the other probes go on");
}

// -------------------------------------------------------------------- census

#[test]
fn census_of_a_loopback_prefix() {
    if !root("census_of_a_loopback_prefix") {
        return;
    }
    let listener = TcpListener::bind(("127.66.1.7", 0)).expect("bind");
    let port = listener.local_addr().expect("address").port();
    let report = runtime().block_on(census(
        "127.66.1.0/24".parse().unwrap(),
        CensusOptions {
            ports: vec![port],
            timeout: Duration::from_millis(500),
            ..CensusOptions::default()
        },
        Arc::new(|_, _, _| {}),
    ));
    assert_eq!(report.addresses, 256);
    assert_eq!(report.icmp_alive(), 256, "{:?}", report.icmp_error);
    let open: Vec<_> = report
        .hosts
        .iter()
        .filter(|h| !h.open_ports.is_empty())
        .collect();
    assert_eq!(open.len(), 1);
    assert_eq!(open[0].address, ip("127.66.1.7"));
    assert_eq!(open[0].open_ports, vec![port]);
    assert_eq!(
        report.hosts.first().map(|h| h.address),
        Some(ip("127.66.1.0"))
    );
    assert_eq!(
        report.hosts.last().map(|h| h.address),
        Some(ip("127.66.1.255"))
    );
}

// ------------------------------------------------------------ the namespaces

/// source — r1 — r2 — dest, dual-stack, with real hops:
/// source 198.51.100.2/30 — r1 198.51.100.1/30, 198.51.100.5/30 — r2 198.51.100.6/30,
/// 203.0.113.1/24 — dest 203.0.113.9/24. The source routes only 203.0.113.0/24 and
/// 192.0.2.0/24 (which r1 cannot route: it answers "network unreachable").
/// Over IPv6 the same: source 2001:db8:1::2 — r1 2001:db8:1::1, 2001:db8:2::1 — r2
/// 2001:db8:2::2, 2001:db8:9::1 — dest 2001:db8:9::9 (each a /64); the source routes
/// 2001:db8:9::/64 and 2001:db8:7::/64 (which r1 cannot route).
fn chain() -> Namespaces {
    let ns = Namespaces::create(&["s", "a", "b", "d"]);
    let pid = std::process::id();
    let link = |a: usize, b: usize, tag: &str, addrs_a: [&str; 2], addrs_b: [&str; 2]| {
        let (ia, ib) = (format!("v{pid}{tag}a"), format!("v{pid}{tag}b"));
        sh(&[
            "ip",
            "link",
            "add",
            &ia,
            "netns",
            ns.name(a),
            "type",
            "veth",
            "peer",
            "name",
            &ib,
            "netns",
            ns.name(b),
        ]);
        for (index, interface, addrs) in [(a, &ia, addrs_a), (b, &ib, addrs_b)] {
            ns.exec(index, &["ip", "addr", "add", addrs[0], "dev", interface]);
            // No duplicate address detection: the address is usable at once.
            ns.exec(
                index,
                &[
                    "ip", "-6", "addr", "add", addrs[1], "dev", interface, "nodad",
                ],
            );
        }
        ns.exec(a, &["ip", "link", "set", &ia, "up"]);
        ns.exec(b, &["ip", "link", "set", &ib, "up"]);
    };
    link(
        0,
        1,
        "x",
        ["198.51.100.2/30", "2001:db8:1::2/64"],
        ["198.51.100.1/30", "2001:db8:1::1/64"],
    );
    link(
        1,
        2,
        "y",
        ["198.51.100.5/30", "2001:db8:2::1/64"],
        ["198.51.100.6/30", "2001:db8:2::2/64"],
    );
    link(
        2,
        3,
        "z",
        ["203.0.113.1/24", "2001:db8:9::1/64"],
        ["203.0.113.9/24", "2001:db8:9::9/64"],
    );
    for (index, to, via) in [
        (0, "2001:db8:9::/64", "2001:db8:1::1"),
        (0, "2001:db8:7::/64", "2001:db8:1::1"),
        (1, "2001:db8:9::/64", "2001:db8:2::2"),
        (2, "2001:db8:1::/64", "2001:db8:2::1"),
        (3, "2001:db8::/32", "2001:db8:9::1"),
    ] {
        ns.exec(index, &["ip", "-6", "route", "add", to, "via", via]);
    }
    ns.exec(
        0,
        &[
            "ip",
            "route",
            "add",
            "203.0.113.0/24",
            "via",
            "198.51.100.1",
        ],
    );
    ns.exec(
        0,
        &["ip", "route", "add", "192.0.2.0/24", "via", "198.51.100.1"],
    );
    ns.exec(
        1,
        &[
            "ip",
            "route",
            "add",
            "203.0.113.0/24",
            "via",
            "198.51.100.6",
        ],
    );
    ns.exec(
        2,
        &[
            "ip",
            "route",
            "add",
            "198.51.100.0/30",
            "via",
            "198.51.100.5",
        ],
    );
    ns.exec(
        3,
        &[
            "ip",
            "route",
            "add",
            "198.51.100.0/24",
            "via",
            "203.0.113.1",
        ],
    );
    for router in [1, 2] {
        ns.exec(router, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        // Answer every probe: no ICMP rate limit in the lab.
        ns.exec(router, &["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"]);
        ns.exec(router, &["sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"]);
        ns.exec(router, &["sysctl", "-qw", "net.ipv6.icmp.ratelimit=0"]);
    }
    ns.exec(3, &["sysctl", "-qw", "net.ipv4.icmp_ratelimit=0"]);
    ns.exec(3, &["sysctl", "-qw", "net.ipv6.icmp.ratelimit=0"]);
    ns
}

#[test]
fn probes_through_namespaces() {
    let test = "probes_through_namespaces";
    if !root(test) || !have(test, "ip", "iproute2") {
        return;
    }
    let ns = chain();
    let (ok, output) = rerun(
        Some(ns.name(0)),
        &[],
        "inner_probes_through_namespaces",
        &[],
    );
    assert!(ok, "{output}");
    let (ok, output) = rerun(Some(ns.name(0)), &[], "inner_traces_over_ipv6", &[]);
    assert!(ok, "{output}");
    // Now the destination goes dark to ICMP: the path dies after r2.
    ns.exec(3, &["sysctl", "-qw", "net.ipv4.icmp_echo_ignore_all=1"]);
    ns.exec(3, &["sysctl", "-qw", "net.ipv6.icmp.echo_ignore_all=1"]);
    let (ok, output) = rerun(Some(ns.name(0)), &[], "inner_dark_destination", &[]);
    assert!(ok, "{output}");
}

fn lab_lookup() -> Arc<PrefixTable> {
    Arc::new(PrefixTable::new([
        ("198.51.100.0/30".parse().unwrap(), Asn(64496)),
        ("198.51.100.4/30".parse().unwrap(), Asn(64497)),
        ("203.0.113.0/24".parse().unwrap(), Asn(64498)),
        ("2001:db8:1::/64".parse().unwrap(), Asn(64496)),
        ("2001:db8:2::/64".parse().unwrap(), Asn(64497)),
        ("2001:db8:9::/64".parse().unwrap(), Asn(64498)),
    ]))
}

fn trace_detail(result: &ProbeResult) -> &blackout_probe::TraceDetail {
    match &result.detail {
        Some(Detail::Trace(trace)) => trace,
        other => panic!("no trace detail: {other:?}"),
    }
}

#[test]
#[ignore = "run by probes_through_namespaces inside its namespace"]
fn inner_probes_through_namespaces() {
    if !inner("inner_probes_through_namespaces") {
        return;
    }
    let targets: Vec<Target> = [
        "trace:203.0.113.9",
        "trace-udp:203.0.113.9",
        "203.0.113.9",
        "203.0.113.200",
        "192.0.2.1",
        "198.18.0.1",
        "tcp:203.0.113.9:80",
        "tcp:203.0.113.200:80",
    ]
    .iter()
    .map(|t| Target::parse(t).unwrap())
    .collect();
    let results = runtime().block_on(async {
        let prober = Arc::new(Prober::with_lookup(config(1000, 1), lab_lookup()));
        prober.round(&targets).await
    });
    for result in &results {
        println!("{}", serde_json::to_string(result).unwrap());
    }
    let hops = |result: &ProbeResult| -> Vec<(Option<IpAddr>, Option<Asn>)> {
        trace_detail(result)
            .hops
            .iter()
            .map(|h| (h.address, h.asn))
            .collect()
    };
    let path = vec![
        (Some(ip("198.51.100.1")), Some(Asn(64496))),
        (Some(ip("198.51.100.6")), Some(Asn(64497))),
        (Some(ip("203.0.113.9")), Some(Asn(64498))),
    ];
    for (index, mode) in [(0, "icmp"), (1, "udp")] {
        let trace = &results[index];
        assert_eq!(trace.outcome, Outcome::Ok, "{trace:?}");
        assert_eq!(trace_detail(trace).mode, mode);
        assert!(trace_detail(trace).reached);
        assert_eq!(hops(trace), path, "{mode}");
        assert_eq!(
            trace_detail(trace).last_responding.as_ref().map(|h| h.ttl),
            Some(3)
        );
    }
    assert_eq!(
        trace_detail(&results[1]).hops[2].reply.as_deref(),
        Some("port-unreachable")
    );
    assert_eq!(results[2].outcome, Outcome::Ok, "ping through two routers");
    // No such host behind r2: silence (r2's ARP gives up later than our timeout).
    assert_eq!(results[3].outcome, Outcome::Timeout, "{:?}", results[3]);
    assert_eq!((results[3].attempts, results[3].lost), (2, 1));
    // r1 has no route to 192.0.2.0/24 and says so.
    assert!(
        matches!(&results[4].outcome, Outcome::Unreachable { reason } if reason.contains("198.51.100.1")),
        "{:?}",
        results[4]
    );
    // The source itself has no route to 198.18.0.0/15.
    assert!(
        matches!(&results[5].outcome, Outcome::Unreachable { reason } if reason.contains("no route")),
        "{:?}",
        results[5]
    );
    assert_eq!(
        results[6].outcome,
        Outcome::Refused,
        "the destination resets port 80"
    );
    assert_eq!(results[7].outcome, Outcome::Timeout);
}

#[test]
#[ignore = "run by probes_through_namespaces inside its namespace"]
fn inner_dark_destination() {
    if !inner("inner_dark_destination") {
        return;
    }
    let targets = [
        Target::parse("trace:203.0.113.9").unwrap(),
        Target::parse("203.0.113.9").unwrap(),
        Target::parse("trace:[2001:db8:9::9]").unwrap(),
        Target::parse("[2001:db8:9::9]").unwrap(),
    ];
    let results = runtime().block_on(async {
        let prober = Arc::new(Prober::with_lookup(config(500, 1), lab_lookup()));
        prober.round(&targets).await
    });
    for result in &results {
        println!("{}", serde_json::to_string(result).unwrap());
    }
    let trace = trace_detail(&results[0]);
    assert!(!trace.reached);
    let last = trace.last_responding.as_ref().expect("r2 answers");
    assert_eq!(
        (last.ttl, last.address, last.asn),
        (2, Some(ip("198.51.100.6")), Some(Asn(64497)))
    );
    assert!(
        matches!(&results[0].outcome, Outcome::Unreachable { reason } if reason.contains("198.51.100.6"))
    );
    assert_eq!(results[1].outcome, Outcome::Timeout);
    assert_eq!(results[1].attempts, 2);
    // Over IPv6 too: the path dies after r2.
    let trace = trace_detail(&results[2]);
    assert!(!trace.reached, "{trace:?}");
    let last = trace.last_responding.as_ref().expect("r2 answers");
    assert_eq!(
        (last.ttl, last.address, last.asn),
        (2, Some(ip("2001:db8:2::2")), Some(Asn(64497)))
    );
    assert!(
        matches!(&results[2].outcome, Outcome::Unreachable { reason } if reason.contains("2001:db8:2::2")),
        "{:?}",
        results[2]
    );
    assert_eq!(results[3].outcome, Outcome::Timeout);
}

#[test]
#[ignore = "run by probes_through_namespaces inside its namespace"]
fn inner_traces_over_ipv6() {
    if !inner("inner_traces_over_ipv6") {
        return;
    }
    let targets: Vec<Target> = [
        "trace:[2001:db8:9::9]",
        "trace-udp:[2001:db8:9::9]",
        "[2001:db8:9::9]",
        "trace:[2001:db8:7::1]",
        "trace-udp:[2001:db8:7::1]",
    ]
    .iter()
    .map(|t| Target::parse(t).unwrap_or_else(|e| panic!("{e}")))
    .collect();
    let results = runtime().block_on(async {
        let prober = Arc::new(Prober::with_lookup(config(1000, 1), lab_lookup()));
        prober.round(&targets).await
    });
    for result in &results {
        println!("{}", serde_json::to_string(result).unwrap());
    }
    let path = vec![
        (Some(ip("2001:db8:1::1")), Some(Asn(64496))),
        (Some(ip("2001:db8:2::2")), Some(Asn(64497))),
        (Some(ip("2001:db8:9::9")), Some(Asn(64498))),
    ];
    for (index, mode, last_reply) in [(0, "icmp", "echo-reply"), (1, "udp", "port-unreachable")] {
        let trace = &results[index];
        assert_eq!(trace.outcome, Outcome::Ok, "{trace:?}");
        let detail = trace_detail(trace);
        assert_eq!(detail.mode, mode);
        assert!(detail.reached);
        let hops: Vec<_> = detail.hops.iter().map(|h| (h.address, h.asn)).collect();
        assert_eq!(hops, path, "{mode}");
        assert_eq!(
            detail
                .hops
                .iter()
                .map(|h| h.reply.as_deref())
                .collect::<Vec<_>>(),
            [
                Some("time-exceeded"),
                Some("time-exceeded"),
                Some(last_reply)
            ],
            "{mode}"
        );
        assert_eq!(detail.last_responding.as_ref().map(|h| h.ttl), Some(3));
    }
    assert_eq!(
        results[2].outcome,
        Outcome::Ok,
        "ping over IPv6 through two routers"
    );
    // r1 has no route to 2001:db8:7::/64 and says so, in ICMPv6, quoting each probe.
    for index in [3, 4] {
        let trace = &results[index];
        assert!(
            matches!(&trace.outcome, Outcome::Unreachable { reason } if reason.contains("2001:db8:1::1")),
            "{trace:?}"
        );
        let detail = trace_detail(trace);
        assert!(!detail.reached);
        let last = detail.last_responding.as_ref().expect("r1 answers");
        assert_eq!((last.ttl, last.address), (1, Some(ip("2001:db8:1::1"))));
        assert_eq!(last.reply.as_deref(), Some("unreachable"));
    }
}

// ------------------------------------------------- names that stop resolving

/// A `resolv.conf` for one namespace: `ip netns exec` puts the files of
/// `/etc/netns/NAME/` over `/etc/` for what it runs. Removed when dropped.
struct NamespaceResolvConf(std::path::PathBuf);

impl NamespaceResolvConf {
    fn write(namespace: &str, text: &str) -> NamespaceResolvConf {
        let dir = std::path::Path::new("/etc/netns").join(namespace);
        std::fs::create_dir_all(&dir).expect("/etc/netns/NAME");
        std::fs::write(dir.join("resolv.conf"), text).expect("resolv.conf");
        NamespaceResolvConf(dir)
    }
}

impl Drop for NamespaceResolvConf {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[test]
fn a_name_that_stops_resolving_is_probed_at_its_last_address() {
    let test = "a_name_that_stops_resolving_is_probed_at_its_last_address";
    if !root(test) || !have(test, "nsd", "nsd") || !have(test, "ip", "iproute2") {
        return;
    }
    // A namespace of its own, whose system resolver asks NSD on its loopback.
    let ns = Namespaces::create(&["n"]);
    ns.exec(0, &["ip", "addr", "add", "203.0.113.11/32", "dev", "lo"]);
    let _resolv = NamespaceResolvConf::write(
        ns.name(0),
        "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
    );
    let (ok, output) = rerun(
        Some(ns.name(0)),
        &[],
        "inner_a_name_that_stops_resolving",
        &[],
    );
    assert!(ok, "{output}");
}

#[test]
#[ignore = "run by a_name_that_stops_resolving_is_probed_at_its_last_address inside its namespace"]
fn inner_a_name_that_stops_resolving() {
    if !inner("inner_a_name_that_stops_resolving") {
        return;
    }
    let dir = tempfile::tempdir().expect("temp dir");
    let d = dir.path().display().to_string();
    std::fs::write(dir.path().join("lab.example.zone"), ZONE).expect("zone");
    let conf = format!(
        "server:
  ip-address: 127.0.0.1
  port: 53
  zonesdir: \"{d}\"
  pidfile: \"{d}/nsd.pid\"
  database: \"\"
  zonelistfile: \"{d}/zone.list\"
  xfrdfile: \"{d}/xfrd.state\"
  logfile: \"{d}/nsd.log\"
  username: \"\"
  chroot: \"\"
  server-count: 1
remote-control:
  control-enable: no
zone:
  name: lab.example
  zonefile: lab.example.zone
"
    );
    std::fs::write(dir.path().join("nsd.conf"), &conf).expect("conf");
    let nsd_address = SocketAddr::from(([127, 0, 0, 1], 53));
    let nsd = spawn(
        dir.path(),
        "nsd",
        Command::new("nsd").args(["-d", "-c", &format!("{d}/nsd.conf")]),
    );
    assert!(
        wait_tcp(nsd_address, Duration::from_secs(10)),
        "nsd did not start: {}",
        std::fs::read_to_string(dir.path().join("nsd.out")).unwrap_or_default()
    );
    // The web server of lab.example (203.0.113.11 in the zone, on this namespace's
    // loopback).
    let web = TcpListener::bind("203.0.113.11:0").expect("bind 203.0.113.11");
    let port = web.local_addr().expect("address").port();
    let target = Target::parse(&format!("tcp:lab.example:{port}")).unwrap();
    let never = Target::parse(&format!("tcp:nowhere.lab.example:{port}")).unwrap();
    let targets = [target.clone(), never];

    let rt = runtime();
    let prober = {
        let _inside = rt.enter();
        Arc::new(Prober::new(config(1000, 0)))
    };
    let resolved = rt.block_on(prober.round(&targets));
    println!("{}", serde_json::to_string(&resolved).unwrap());
    assert_eq!(resolved[0].outcome, Outcome::Ok, "{:?}", resolved[0]);
    assert_eq!(resolved[0].address, Some(ip("203.0.113.11")));
    assert_eq!(resolved[0].last_known_address, None);
    // A name that never resolved has no address to fall back on.
    assert!(
        matches!(resolved[1].outcome, Outcome::Error { .. }),
        "{:?}",
        resolved[1]
    );

    // The name servers go dark, the host does not. NSD's server processes outlive a
    // killed parent for a moment: stop it as its init script does, and wait.
    sh(&["kill", "-TERM", &nsd.0.id().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect_timeout(&nsd_address, Duration::from_millis(200)).is_ok() {
        assert!(Instant::now() < deadline, "nsd still answers");
        std::thread::sleep(Duration::from_millis(50));
    }
    drop(nsd);
    std::thread::sleep(Duration::from_millis(1100));
    let dark_names = rt.block_on(prober.round(&targets));
    // The path `blackout watch` takes: one target at a time.
    let alone = rt.block_on(prober.probe(&target));
    println!("{}", serde_json::to_string(&dark_names).unwrap());
    for result in [&dark_names[0], &alone] {
        assert_eq!(result.outcome, Outcome::Ok, "{result:?}");
        assert_eq!(result.address, Some(ip("203.0.113.11")));
        let last = result
            .last_known_address
            .as_ref()
            .unwrap_or_else(|| panic!("not marked as the last known address: {result:?}"));
        assert!(last.age_secs >= 1.0 && last.age_secs < 30.0, "{result:?}");
        assert!(last.resolved_at < result.at, "{result:?}");
        assert!(!last.resolve_error.is_empty());
    }
    assert!(matches!(dark_names[1].outcome, Outcome::Error { .. }));
    let json = serde_json::to_value(&dark_names[0]).unwrap();
    assert!(
        json["last_known_address"]["age_secs"].as_f64().unwrap() >= 1.0,
        "{json}"
    );

    // Now the host goes dark too: its outage shows (refused, not an error that
    // says nothing about the target).
    drop(web);
    let host_dark = rt.block_on(prober.round(&targets));
    println!("{}", serde_json::to_string(&host_dark).unwrap());
    assert_eq!(host_dark[0].outcome, Outcome::Refused, "{:?}", host_dark[0]);
    assert!(host_dark[0].last_known_address.is_some());
}
