//! Text from the network is inert everywhere it lands, end to end: a mail server's
//! banner, a web server's title and `Server` header and a name server's NS names,
//! all carrying terminal escapes (ESC, BEL, CR, BS, NUL, the 8-bit CSI), a bidi
//! override and HTML/JSON metacharacters, are read by a real `blackout watch`, and
//! must come out inert in its stdout, the `events` and `probe` tables, the event JSON
//! (API and stream) the dashboard reads, the report, a Slack and a JSON webhook, and
//! an email (a real SMTP sink, aiosmtpd).
//!
//! Every peer is on loopback. The DNS part needs a port 53 on a loopback address (root);
//! without it, and without aiosmtpd, those parts say they were skipped.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What a hostile peer puts into its text: escapes that clear a screen and set a
/// window title, a bell, carriage return and backspaces (to overwrite what was
/// printed), a NUL, a right-to-left override, and markup and quotes.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;owned\u{7}\r\u{8}\u{8}\u{0}\u{202e}<b id=hostile>\"&'</b>";

/// The marker that must never show unescaped in HTML, nor as a raw `<` in Slack.
const MARKUP: &str = "<b id=hostile>";

/// A character no output of blackout may carry raw: the controls (but new line and
/// tab, which the outputs use themselves) and bidi overrides and isolates.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

fn assert_inert(place: &str, text: &str) {
    let chars: Vec<char> = text.chars().collect();
    if let Some(at) = chars.iter().position(|&c| unsafe_char(c)) {
        let c = chars[at];
        let around: String = chars[at.saturating_sub(200)..(at + 200).min(chars.len())]
            .iter()
            .collect();
        panic!("{place}: a raw {c:?} reached the output, here:\n{around:?}");
    }
}

/// Every string in a JSON value, decoded (a `\u001b` escape counts as the ESC it is).
fn json_strings(value: &serde_json::Value, out: &mut Vec<String>) {
    match value {
        serde_json::Value::String(s) => out.push(s.clone()),
        serde_json::Value::Array(items) => items.iter().for_each(|v| json_strings(v, out)),
        serde_json::Value::Object(map) => {
            for (key, v) in map {
                out.push(key.clone());
                json_strings(v, out);
            }
        }
        _ => {}
    }
}

fn assert_json_inert(place: &str, value: &serde_json::Value) {
    let mut strings = Vec::new();
    json_strings(value, &mut strings);
    for s in strings {
        assert_inert(place, &s);
    }
}

/// HTML where the hostile markup is text, never an element.
fn assert_html_inert(place: &str, html: &str) {
    assert_inert(place, html);
    assert!(
        !html.contains(MARKUP) && !html.contains("id=\"hostile\""),
        "{place}: hostile markup made an element:\n{html}"
    );
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A mail server whose greeting is a refusal wrapped in hostile text.
fn hostile_smtp() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let banner = format!("554 mail{HOSTILE} gone\r\n");
            let _ = stream.write_all(banner.as_bytes());
            std::thread::sleep(Duration::from_millis(100));
        }
    });
    address
}

/// A web server that answers 503 with a hostile title and `Server` header. Header
/// values cannot carry C0 controls (HTTP clients refuse them), so the header has the
/// 8-bit CSI, the bidi override and the markup.
fn hostile_http() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            std::thread::spawn(move || {
                let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut byte = [0u8; 1];
                while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).unwrap_or(0) == 1 {
                    head.push(byte[0]);
                }
                let body = format!("<html><title>down{HOSTILE}</title></html>");
                let answer = format!(
                    "HTTP/1.1 503 Service Unavailable\r\nServer: evil\u{9b}31m\u{202e}<b id=hostile>\"&\r\nContent-Type: text/html\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = stream.write_all(answer.as_bytes());
            });
        }
    });
    address
}

/// A DNS name in wire form from its labels.
fn wire_name(labels: &[&[u8]]) -> Vec<u8> {
    let mut out = Vec::new();
    for label in labels {
        out.push(label.len() as u8);
        out.extend_from_slice(label);
    }
    out.push(0);
    out
}

/// The answer of an authoritative server for `hostile.test` whose NS (and SOA
/// primary) is a name with hostile bytes in its first label.
fn dns_answer(query: &[u8]) -> Option<Vec<u8>> {
    let mut at = 12;
    while *query.get(at)? != 0 {
        at += usize::from(*query.get(at)?) + 1;
    }
    let question_end = at + 5;
    let qtype = u16::from_be_bytes([*query.get(at + 1)?, *query.get(at + 2)?]);
    let hostile_label = format!("ns{}", HOSTILE.replace(['\u{202e}'], ""));
    let ns = wire_name(&[hostile_label.as_bytes(), b"hostile", b"test"]);
    let rdata = match qtype {
        // SOA: the primary, the mailbox, serial, refresh, retry, expire, minimum.
        6 => {
            let mut rdata = ns.clone();
            rdata.extend(wire_name(&[b"h", b"hostile", b"test"]));
            for value in [2026120501u32, 3600, 600, 86400, 60] {
                rdata.extend(value.to_be_bytes());
            }
            rdata
        }
        2 => ns,
        1 => vec![127, 0, 0, 1],
        _ => return None,
    };
    let mut reply = query.get(..question_end)?.to_vec();
    // QR, AA, RD copied; NOERROR; one question, one answer.
    reply[2] = 0x84 | (query[2] & 0x01);
    reply[3] = 0;
    reply[4..12].copy_from_slice(&[0, 1, 0, 1, 0, 0, 0, 0]);
    reply.extend([0xc0, 0x0c]);
    reply.extend(qtype.to_be_bytes());
    reply.extend([0, 1, 0, 0, 0, 60]);
    reply.extend((rdata.len() as u16).to_be_bytes());
    reply.extend(rdata);
    Some(reply)
}

/// The name server on port 53 of a loopback address, or why there is none.
fn hostile_dns() -> Result<Ipv4Addr, String> {
    let address = Ipv4Addr::new(127, 53, (std::process::id() % 200) as u8 + 1, 53);
    let socket =
        UdpSocket::bind((address, 53)).map_err(|e| format!("binding {address}:53: {e}"))?;
    std::thread::spawn(move || {
        let mut buf = [0u8; 1500];
        while let Ok((len, from)) = socket.recv_from(&mut buf) {
            if let Some(reply) = dns_answer(&buf[..len]) {
                let _ = socket.send_to(&reply, from);
            }
        }
    });
    Ok(address)
}

/// An HTTP receiver that keeps every JSON body POSTed to it.
fn receiver() -> (String, Arc<Mutex<Vec<serde_json::Value>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let bodies = Arc::new(Mutex::new(Vec::new()));
    let kept = Arc::clone(&bodies);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
            let mut buffer = Vec::new();
            let mut chunk = [0u8; 4096];
            let body = loop {
                let n = stream.read(&mut chunk).unwrap_or(0);
                if n == 0 {
                    break None;
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
                if buffer.len() >= end + 4 + length {
                    break Some(buffer[end + 4..end + 4 + length].to_vec());
                }
            };
            if let Some(body) = body {
                kept.lock()
                    .unwrap()
                    .push(serde_json::from_slice(&body).expect("a JSON body"));
            }
            let _ = stream
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        }
    });
    (url, bodies)
}

/// A real SMTP sink (aiosmtpd writing a Maildir), killed on drop.
struct SmtpSink {
    child: Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    fn start() -> Result<SmtpSink, String> {
        // Debian's python3-aiosmtpd lives under /usr/bin/python3.
        let python = "/usr/bin/python3";
        let check = Command::new(python)
            .args(["-c", "import aiosmtpd"])
            .output()
            .map_err(|e| format!("{python}: {e}"))?;
        if !check.status.success() {
            return Err("python3-aiosmtpd is not installed".into());
        }
        let maildir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let port = free_port();
        let child = Command::new(python)
            .args(["-m", "aiosmtpd", "-n", "-l"])
            .arg(format!("127.0.0.1:{port}"))
            .args(["-c", "aiosmtpd.handlers.Mailbox"])
            .arg(maildir.path().join("Maildir"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("cannot start aiosmtpd: {e}"))?;
        let sink = SmtpSink {
            child,
            port,
            maildir,
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                return Err("aiosmtpd did not listen within 10 s".into());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(sink)
    }

    fn mails(&self) -> Vec<String> {
        std::fs::read_dir(self.maildir.path().join("Maildir").join("new"))
            .map(|dir| {
                dir.filter_map(|e| e.ok())
                    .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// A GET on loopback: the status and the body.
fn get(listen: SocketAddr, path: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(listen).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: {listen}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut answer = Vec::new();
    let _ = stream.read_to_end(&mut answer);
    let answer = String::from_utf8_lossy(&answer).to_string();
    let (head, body) = answer.split_once("\r\n\r\n").unwrap_or((&answer, ""));
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, body.to_string())
}

/// What the live stream sends within `secs`.
fn stream_for(listen: SocketAddr, secs: u64) -> String {
    let mut stream = TcpStream::connect(listen).expect("connect to the API");
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    write!(
        stream,
        "GET /api/v1/stream HTTP/1.1\r\nHost: {listen}\r\nAccept: text/event-stream\r\n\r\n"
    )
    .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    let mut seen = Vec::new();
    let mut chunk = [0u8; 8192];
    while Instant::now() < deadline {
        match stream.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => seen.extend_from_slice(&chunk[..n]),
            Err(_) => {}
        }
    }
    String::from_utf8_lossy(&seen).to_string()
}

fn blackout(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args(args)
        .output()
        .expect("run blackout")
}

#[test]
fn hostile_text_from_every_service_is_inert_in_every_output() {
    let dir = tempfile::tempdir().unwrap();
    let smtp = hostile_smtp();
    let http = hostile_http();
    let dns = hostile_dns();
    let (hook_url, hooks) = receiver();
    let sink = SmtpSink::start();
    let zone = match &dns {
        Ok(address) => format!(
            "[[zone]]\nname = \"hostile.test\"\nservers = [{{ name = \"ns.hostile.test\", address = \"{address}\" }}]\n"
        ),
        Err(why) => {
            eprintln!("SKIPPED the DNS part: {why} (needs root)");
            String::new()
        }
    };
    let email = match &sink {
        Ok(sink) => format!(
            "[alerts.email]\nsmtp_host = \"127.0.0.1\"\nsmtp_port = {}\nfrom = \"blackout@example.org\"\nto = [\"noc@example.org\"]\nstarttls = false\nhtml = true\n",
            sink.port
        ),
        Err(why) => {
            eprintln!("SKIPPED the email part: {why}");
            String::new()
        }
    };
    let profile = format!(
        r#"name = "hostile"
description = "services on loopback that send hostile text"

[[network]]
name = "Loopback Net"
asn = 64500
prefixes = ["192.0.2.0/24"]

[[host]]
name = "www.hostile.test"
address = "127.0.0.1"
checks = ["http:{http_port}"]

[[mail]]
address = "127.0.0.1"
port = {smtp_port}

{zone}
[probes]
interval_secs = 0.5
jitter = 0.0
timeout_secs = 0.5
retries = 0

[alerts.retry]
attempts = 2
backoff_ms = 50
timeout_ms = 2000

[[alerts.webhook]]
url = "{hook_url}"
kind = "slack"

[[alerts.webhook]]
url = "{hook_url}"
kind = "json"

{email}"#,
        http_port = http.port(),
        smtp_port = smtp.port(),
    );
    let profile_path = dir.path().join("hostile.toml");
    std::fs::write(&profile_path, &profile).unwrap();
    let db = dir.path().join("blackout.db");
    let listen: SocketAddr = format!("127.0.0.1:{}", free_port()).parse().unwrap();
    let mut watch = Command::new(env!("CARGO_BIN_EXE_blackout"))
        .arg("watch")
        .arg("--config")
        .arg(&profile_path)
        .arg("--db")
        .arg(&db)
        .args(["--listen", &listen.to_string()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = watch.stdout.take().unwrap();
    let lines = Arc::new(Mutex::new(Vec::<String>::new()));
    let kept = Arc::clone(&lines);
    std::thread::spawn(move || {
        // Read as bytes: a raw control character must be seen, not lost in decoding.
        let mut reader = BufReader::new(stdout);
        let mut line = Vec::new();
        while reader.read_until(b'\n', &mut line).unwrap_or(0) > 0 {
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&line).to_string());
            line.clear();
        }
    });

    // Both services fail: an event for each, and their alerts delivered.
    let deadline = Instant::now() + Duration::from_secs(60);
    let alerted = |entity: &str| {
        hooks.lock().unwrap().iter().any(|b| {
            b["event"]["entity"]
                .as_str()
                .is_some_and(|e| e.contains(entity))
        })
    };
    loop {
        let printed = lines.lock().unwrap().join("");
        let mails = sink.as_ref().map_or(2, |s| s.mails().len());
        if printed.contains("service:smtp")
            && printed.contains("service:http")
            && alerted("smtp")
            && alerted("http")
            && mails >= 2
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no events and alerts for both services within 60 s; stdout:\n{printed}\nhooks: {:?}",
            hooks.lock().unwrap()
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // The event JSON of the API, the status (probe results, NS names) and the stream.
    let (code, events) = get(listen, "/api/v1/events");
    assert_eq!(code, 200, "{events}");
    let events: serde_json::Value = serde_json::from_str(&events).expect("events JSON");
    assert_json_inert("GET /api/v1/events", &events);
    let shown = events.to_string();
    assert!(
        shown.contains(r"\\x1b[2J") && shown.contains(MARKUP),
        "the hostile banner is shown, escaped, in the events: {shown}"
    );
    let (code, status) = get(listen, "/api/v1/status");
    assert_eq!(code, 200, "{status}");
    let status: serde_json::Value = serde_json::from_str(&status).expect("status JSON");
    assert_json_inert("GET /api/v1/status", &status);
    if dns.is_ok() {
        assert!(
            status.to_string().contains("hostile.test"),
            "the NS name is in the status: {status}"
        );
    }
    // HTTP's own line ends (the head, the chunks) are CRLF; a CR anywhere else is raw.
    let streamed = stream_for(listen, 3);
    assert_inert("GET /api/v1/stream", &streamed.replace("\r\n", "\n"));
    assert!(streamed.contains("event: status"), "{streamed}");
    for data in streamed.lines().filter_map(|l| l.strip_prefix("data:")) {
        let value: serde_json::Value = serde_json::from_str(data.trim()).expect("stream JSON");
        assert_json_inert("GET /api/v1/stream", &value);
    }
    // The dashboard is a static page whose script shows the status and the events
    // read above as text (the API's own Chromium test, dashboard.rs, renders hostile
    // markup in a real browser); here its HTML and the overview must carry none.
    for page in ["/", "/overview"] {
        let (code, html) = get(listen, page);
        assert_eq!(code, 200, "{page}");
        assert_html_inert(page, &html);
    }

    // Slack and JSON webhooks, and the email.
    for body in hooks.lock().unwrap().iter() {
        assert_json_inert("a webhook", body);
        if body.get("blocks").is_some() {
            let text = body.to_string();
            assert!(!text.contains(MARKUP), "raw markup in Slack: {text}");
        }
    }
    assert!(
        hooks
            .lock()
            .unwrap()
            .iter()
            .any(|b| b.to_string().contains("&lt;b id=hostile&gt;")),
        "Slack gets the hostile text escaped: {:?}",
        hooks.lock().unwrap()
    );
    if let Ok(sink) = &sink {
        for mail in sink.mails() {
            // A mail's lines end in CRLF on the wire; the Maildir keeps LF.
            assert_inert("an email", &mail.replace("\r\n", "\n"));
            assert!(!mail.contains(MARKUP), "raw markup in an email: {mail}");
        }
    }

    let killed = Command::new("kill")
        .args(["-TERM", &watch.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    let exit = watch.wait().unwrap();
    let mut stderr = String::new();
    watch
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .unwrap();
    assert!(exit.success(), "{exit}: {stderr}");
    let printed = lines.lock().unwrap().join("");
    assert_inert("watch's stdout", &printed);
    assert_inert("watch's stderr", &stderr);
    assert!(printed.contains(r"\x1b[2J"), "{printed}");

    // `blackout events`, table and JSON, and a report on the SMTP event.
    let db_arg = db.display().to_string();
    let table = blackout(&["events", "--db", &db_arg]);
    assert!(table.status.success(), "{table:?}");
    assert_inert("the events table", &String::from_utf8_lossy(&table.stdout));
    let json = blackout(&["events", "--db", &db_arg, "--format", "json"]);
    assert!(json.status.success(), "{json:?}");
    let mut smtp_event = None;
    for line in String::from_utf8_lossy(&json.stdout).lines() {
        assert_inert("blackout events --format json", line);
        let value: serde_json::Value = serde_json::from_str(line).expect("one JSON object");
        assert_json_inert("blackout events --format json", &value);
        if value["entity"].as_str().is_some_and(|e| e.contains("smtp")) {
            smtp_event = value["id"].as_str().map(str::to_string);
        }
    }
    let smtp_event = smtp_event.expect("an SMTP event in the database");
    let report = dir.path().join("report.html");
    let made = blackout(&[
        "report",
        &smtp_event,
        "--db",
        &db_arg,
        "--out",
        &report.display().to_string(),
    ]);
    assert!(made.status.success(), "{made:?}");
    assert_html_inert("the report", &std::fs::read_to_string(&report).unwrap());

    // `blackout probe` of the same profile, table and JSON.
    let config = profile_path.display().to_string();
    for format in ["table", "json"] {
        let probed = blackout(&["probe", "--config", &config, "--format", format]);
        assert_eq!(probed.status.code(), Some(1), "{probed:?}");
        let out = String::from_utf8_lossy(&probed.stdout);
        assert_inert(&format!("blackout probe --format {format}"), &out);
        assert_inert(
            "blackout probe's stderr",
            &String::from_utf8_lossy(&probed.stderr),
        );
        assert!(out.contains(r"\x1b[2J"), "{format}: {out}");
        if format == "json" {
            for line in out.lines() {
                let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
                assert_json_inert("blackout probe --format json", &value);
            }
        }
        if dns.is_ok() {
            assert!(out.contains("hostile.test"), "{format}: the NS name: {out}");
        }
    }
}
