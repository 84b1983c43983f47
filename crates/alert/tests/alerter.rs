//! The alerter against real receivers on loopback: a small hyper webhook server
//! that can fail its first requests or hang, and a real SMTP server (aiosmtpd,
//! Debian's python3-aiosmtpd) writing a Maildir.

use blackout_alert::{
    AlertConfig, AlertPolicy, Alerter, CountingMetrics, EmailConfig, Labels, RetryPolicy,
    WebhookConfig, WebhookKind,
};
use blackout_model::EventUpdate;
use blackout_model::{
    Asn, Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;

/// One request the receiver took.
#[derive(Debug, Clone)]
struct Received {
    path: String,
    key: String,
    authorization: Option<String>,
    body: serde_json::Value,
    status: u16,
}

/// A webhook receiver on 127.0.0.1 that answers 503 to its first `fail_first`
/// requests, and never answers at all if `hang`.
struct Receiver {
    address: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    async fn start(fail_first: usize, hang: bool) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::new(AtomicUsize::new(0));
        let log = received.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (log, seen) = (log.clone(), seen.clone());
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request: Request<Incoming>| {
                        let (log, seen) = (log.clone(), seen.clone());
                        async move {
                            if hang {
                                tokio::time::sleep(Duration::from_secs(3600)).await;
                            }
                            let path = request.uri().path().to_string();
                            let header = |name: &str| {
                                request
                                    .headers()
                                    .get(name)
                                    .and_then(|v| v.to_str().ok())
                                    .map(String::from)
                            };
                            let key = header("x-blackout-alert").unwrap_or_default();
                            let authorization = header("authorization");
                            let bytes = request.into_body().collect().await?.to_bytes();
                            let body =
                                serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
                            let status = if seen.fetch_add(1, Ordering::SeqCst) < fail_first {
                                503
                            } else {
                                200
                            };
                            log.lock().unwrap().push(Received {
                                path,
                                key,
                                authorization,
                                body,
                                status,
                            });
                            let response = Response::builder()
                                .status(status)
                                .body(Full::new(Bytes::from_static(b"ok")))
                                .unwrap();
                            Ok::<_, hyper::Error>(response)
                        }
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Receiver { address, received }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.address)
    }

    fn accepted(&self) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status == 200)
            .cloned()
            .collect()
    }

    fn refused(&self) -> usize {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.status != 200)
            .count()
    }
}

/// North Korea dark from 2014-12-22 10:00 UTC; first seen as stress (ddos).
fn event(cause: Cause) -> Event {
    let start = Timestamp::from_secs(1_419_242_400);
    let entity = Entity::Country("KP".into());
    Event {
        id: EventId::derive(&entity, start, Cause::Ddos),
        entity,
        cause,
        severity: Severity::Critical,
        confidence: 0.9,
        start,
        end: None,
        scope: Scope {
            prefixes: vec!["175.45.176.0/22".parse().unwrap()],
            upstreams: vec![Asn(4837)],
            hosts: vec![],
            services: vec![],
            families: vec![],
        },
        summary: "North Korea is under network stress <@U123>".into(),
        evidence: vec![Evidence {
            at: start,
            signal: SignalKind::ProbeIcmp,
            text: "loss 80% across 5 hosts".into(),
            value: Some(0.8),
        }],
    }
}

/// Started (ddos), the same again, revised to internal (twice), the start again
/// (a replay), ended after 9.5 h, and the end again.
fn updates() -> Vec<EventUpdate> {
    let first = event(Cause::Ddos);
    let mut second = first.clone();
    second.cause = Cause::Internal;
    second.evidence.push(Evidence {
        at: first.start.add_secs(600),
        signal: SignalKind::BgpVisibility,
        text: "all routes withdrawn by both upstreams".into(),
        value: Some(0.0),
    });
    let mut last = second.clone();
    last.end = Some(first.start.add_secs(34_200));
    vec![
        EventUpdate::started(first.clone()),
        EventUpdate::started(first.clone()),
        EventUpdate::revised(second.clone()),
        EventUpdate::revised(second.clone()),
        EventUpdate::started(first),
        EventUpdate::ended(last.clone()),
        EventUpdate::ended(last),
    ]
}

fn labels() -> Labels {
    Labels::from([("country:KP".to_string(), "North Korea".to_string())])
}

fn hook(url: String, kind: WebhookKind, token: Option<&str>) -> WebhookConfig {
    WebhookConfig {
        url,
        kind,
        token: token.map(String::from),
        header: None,
    }
}

/// Decides each update with the policy and delivers the alerts it calls for
/// through the alerter's delivery loop, as watch does.
async fn run(config: &AlertConfig, metrics: Arc<CountingMetrics>, updates: Vec<EventUpdate>) {
    let alerter = Alerter::new(config, labels(), metrics).unwrap();
    let mut policy = AlertPolicy::new(config.min_severity);
    let (sender, receiver) = tokio::sync::mpsc::channel(16);
    for alert in updates.iter().filter_map(|update| policy.decide(update)) {
        sender.send(alert).await.unwrap();
    }
    drop(sender);
    alerter.deliver_all(receiver).await;
}

#[tokio::test]
async fn webhooks_get_both_payloads_once_each_despite_failures() {
    // Given a receiver whose first three requests fail with 503
    let receiver = Receiver::start(3, false).await;
    let config = AlertConfig {
        webhooks: vec![
            hook(receiver.url("/json"), WebhookKind::Json, None),
            hook(
                receiver.url("/slack?channel=noc"),
                WebhookKind::Slack,
                Some("s3cret"),
            ),
        ],
        retry: RetryPolicy {
            attempts: 5,
            backoff_ms: 20,
            timeout_ms: 2000,
        },
        ..AlertConfig::default()
    };
    let metrics = Arc::new(CountingMetrics::new());
    // When seven updates (three of them replays) go through the policy and the alerter
    run(&config, metrics.clone(), updates()).await;
    // Then each hook accepted exactly started, cause-changed and ended, once
    let accepted = receiver.accepted();
    assert_eq!(receiver.refused(), 3, "the first three were refused");
    let json: Vec<&Received> = accepted.iter().filter(|r| r.path == "/json").collect();
    let slack: Vec<&Received> = accepted.iter().filter(|r| r.path == "/slack").collect();
    let kinds: Vec<&str> = json
        .iter()
        .map(|r| r.body["alert"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, vec!["started", "cause-changed", "ended"]);
    assert_eq!(slack.len(), 3);
    let mut keys: Vec<(String, String)> = accepted
        .iter()
        .map(|r| (r.path.clone(), r.key.clone()))
        .collect();
    keys.sort();
    keys.dedup();
    assert_eq!(keys.len(), 6, "no duplicate reached the receiver");
    // The JSON payload is the contract's event, with the duration
    assert_eq!(json[0].body["event"]["cause"], "ddos");
    assert_eq!(json[1].body["event"]["cause"], "internal");
    assert_eq!(json[1].body["previous_cause"], "ddos");
    assert_eq!(json[1].body["duration_secs"], 600.0);
    assert_eq!(json[2].body["duration_secs"], 34_200.0);
    assert_eq!(json[2].body["event"]["end"], "2014-12-22T19:30:00Z");
    assert_eq!(json[0].authorization, None);
    // The Slack payload is readable, escaped, and carries the token
    assert_eq!(
        slack[0].body["text"],
        "North Korea DARK: ddos, since 2014-12-22 10:00 UTC (confidence 0.90)"
    );
    assert_eq!(
        slack[2].body["text"],
        "North Korea BACK after 9 h 30 m: internal, 2014-12-22 10:00 UTC to 2014-12-22 19:30 UTC (confidence 0.90)"
    );
    let slack_text = slack[0].body.to_string();
    assert!(slack_text.contains("&lt;@U123&gt;") && !slack_text.contains("<@U123>"));
    assert!(
        slack[0].body["blocks"]
            .as_array()
            .is_some_and(|b| b.len() >= 3)
    );
    assert_eq!(slack[0].authorization.as_deref(), Some("Bearer s3cret"));
    // And the counters say three delivered per channel, none failed
    assert_eq!(metrics.delivered_count("webhook-json"), 3);
    assert_eq!(metrics.delivered_count("webhook-slack"), 3);
    assert_eq!(
        metrics.failed_count("webhook-json") + metrics.failed_count("webhook-slack"),
        0
    );
}

#[tokio::test]
async fn receivers_that_are_down_or_hang_are_counted_as_failed_without_hanging() {
    // A port nobody listens on, and a receiver that never answers
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let hanging = Receiver::start(0, true).await;
    let config = AlertConfig {
        webhooks: vec![
            hook(format!("http://{closed}/json"), WebhookKind::Json, None),
            hook(hanging.url("/slack"), WebhookKind::Slack, None),
        ],
        retry: RetryPolicy {
            attempts: 3,
            backoff_ms: 10,
            timeout_ms: 300,
        },
        ..AlertConfig::default()
    };
    let metrics = Arc::new(CountingMetrics::new());
    let alerter = Alerter::new(&config, labels(), metrics.clone()).unwrap();
    let mut policy = AlertPolicy::new(Severity::Warning);
    let alert = policy.decide(&updates()[0]).unwrap();
    let started = Instant::now();
    let deliveries = alerter.deliver(&alert).await;
    let took = started.elapsed();
    // Three attempts of at most 300 ms, plus 10 + 20 ms of backoff
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert_eq!(deliveries.len(), 2);
    for delivery in &deliveries {
        assert_eq!(delivery.attempts, 3, "{delivery:?}");
        assert!(delivery.result.is_err());
    }
    let hang_error = deliveries[1].result.as_ref().unwrap_err().to_string();
    assert!(hang_error.contains("no answer within"), "{hang_error}");
    let refused = deliveries[0].result.as_ref().unwrap_err().to_string();
    assert!(refused.contains("cannot connect"), "{refused}");
    assert_eq!(metrics.failed_count("webhook-json"), 1);
    assert_eq!(metrics.failed_count("webhook-slack"), 1);
    assert_eq!(metrics.delivered_count("webhook-json"), 0);
    assert_eq!(hanging.received.lock().unwrap().len(), 0);
}

#[tokio::test]
async fn a_client_error_is_not_retried() {
    // Given a receiver that refuses with 404 (a wrong URL will not get better)
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let hits = Arc::new(AtomicUsize::new(0));
    let counted = hits.clone();
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let counted = counted.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |_request: Request<Incoming>| {
                    counted.fetch_add(1, Ordering::SeqCst);
                    async {
                        Ok::<_, hyper::Error>(
                            Response::builder()
                                .status(404)
                                .body(Full::new(Bytes::new()))
                                .unwrap(),
                        )
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let config = AlertConfig {
        webhooks: vec![hook(
            format!("http://{address}/nope"),
            WebhookKind::Json,
            None,
        )],
        retry: RetryPolicy {
            attempts: 4,
            backoff_ms: 10,
            timeout_ms: 1000,
        },
        ..AlertConfig::default()
    };
    let metrics = Arc::new(CountingMetrics::new());
    let alerter = Alerter::new(&config, labels(), metrics.clone()).unwrap();
    let alert = AlertPolicy::new(Severity::Warning)
        .decide(&updates()[0])
        .unwrap();
    let deliveries = alerter.deliver(&alert).await;
    assert_eq!(deliveries[0].attempts, 1);
    assert_eq!(hits.load(Ordering::SeqCst), 1);
    assert!(
        deliveries[0]
            .result
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("404")
    );
    assert_eq!(metrics.failed_count("webhook-json"), 1);
}

/// A real SMTP server: `python3 -m aiosmtpd` writing a Maildir; killed on drop.
struct SmtpServer {
    child: std::process::Child,
    port: u16,
    maildir: tempfile::TempDir,
}

impl Drop for SmtpServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts aiosmtpd, or says why it cannot.
fn smtp_server() -> Result<SmtpServer, String> {
    // Debian's python3-aiosmtpd lives under /usr/bin/python3 (pyenv's python lacks it).
    let python = "/usr/bin/python3";
    let check = std::process::Command::new(python)
        .args(["-c", "import aiosmtpd"])
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !check.status.success() {
        return Err("python3-aiosmtpd is not installed (apt-get install python3-aiosmtpd)".into());
    }
    let maildir = tempfile::tempdir().map_err(|e| e.to_string())?;
    let port = free_port();
    let child = std::process::Command::new(python)
        .args(["-m", "aiosmtpd", "-n", "-l"])
        .arg(format!("127.0.0.1:{port}"))
        .args(["-c", "aiosmtpd.handlers.Mailbox"])
        .arg(maildir.path().join("Maildir"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start aiosmtpd: {e}"))?;
    let server = SmtpServer {
        child,
        port,
        maildir,
    };
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        if Instant::now() > deadline {
            return Err("aiosmtpd did not listen within 10 s".into());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(server)
}

fn mails(server: &SmtpServer) -> Vec<String> {
    let new = server.maildir.path().join("Maildir").join("new");
    let mut mails: Vec<String> = std::fs::read_dir(new)
        .map(|dir| {
            dir.filter_map(|e| e.ok())
                .filter_map(|e| std::fs::read_to_string(e.path()).ok())
                .collect()
        })
        .unwrap_or_default();
    mails.sort();
    mails
}

fn email(port: u16, html: bool) -> EmailConfig {
    EmailConfig {
        smtp_host: "127.0.0.1".into(),
        smtp_port: port,
        from: "blackout@example.org".into(),
        to: vec!["noc@example.org".into(), "Desk <desk@example.org>".into()],
        starttls: false,
        username: None,
        password: None,
        html,
    }
}

#[tokio::test]
async fn email_reaches_a_real_smtp_server_once_per_alert() {
    let server = match smtp_server() {
        Ok(server) => server,
        Err(why) => {
            eprintln!("SKIPPED: {why}");
            return;
        }
    };
    let config = AlertConfig {
        email: Some(email(server.port, true)),
        retry: RetryPolicy {
            attempts: 3,
            backoff_ms: 50,
            timeout_ms: 5000,
        },
        ..AlertConfig::default()
    };
    let metrics = Arc::new(CountingMetrics::new());
    run(&config, metrics.clone(), updates()).await;
    assert_eq!(
        metrics.delivered_count("email"),
        3,
        "{:?}",
        metrics.snapshot()
    );
    assert_eq!(metrics.failed_count("email"), 0);
    // The Maildir is written by the server after the reply; give it a moment
    let deadline = Instant::now() + Duration::from_secs(5);
    while mails(&server).len() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mails = mails(&server);
    assert_eq!(mails.len(), 3, "one mail per alert, no duplicates");
    // Long headers are folded onto continuation lines: unfold them (RFC 5322 2.2.3).
    let unfolded: Vec<String> = mails
        .iter()
        .map(|m| {
            m.replace("\r\n", "\n")
                .replace("\n ", " ")
                .replace("\n\t", "\t")
        })
        .collect();
    let subjects: Vec<String> = unfolded
        .iter()
        .filter_map(|m| {
            m.lines()
                .find(|l| l.starts_with("Subject: "))
                .map(String::from)
        })
        .collect();
    for expected in [
        "Subject: [blackout] North Korea DARK: ddos (since 10:00 UTC)",
        "Subject: [blackout] North Korea DARK: now internal, was ddos (since 10:00 UTC)",
        "Subject: [blackout] North Korea BACK after 9 h 30 m: internal",
    ] {
        assert!(
            subjects.iter().any(|s| s == expected),
            "{expected} not in {subjects:?}"
        );
    }
    let ended = unfolded.iter().find(|m| m.contains("BACK after")).unwrap();
    assert!(
        ended.contains("To: noc@example.org, Desk <desk@example.org>"),
        "{ended}"
    );
    assert!(ended.contains("text/html"), "an HTML part too");
    // The HTML part is quoted-printable: join its soft line breaks.
    let raw = mails
        .iter()
        .find(|m| m.contains("text/html") && m.contains("BACK after"))
        .unwrap()
        .replace("\r\n", "\n")
        .replace("=\n", "");
    assert!(
        raw.contains("stress &lt;@U123&gt;</td>"),
        "the HTML part escapes the summary: {raw}"
    );
}

#[tokio::test]
async fn email_to_a_relay_that_is_down_is_counted_as_failed() {
    let config = AlertConfig {
        email: Some(email(free_port(), false)),
        retry: RetryPolicy {
            attempts: 2,
            backoff_ms: 10,
            timeout_ms: 1000,
        },
        ..AlertConfig::default()
    };
    let metrics = Arc::new(CountingMetrics::new());
    let alerter = Alerter::new(&config, labels(), metrics.clone()).unwrap();
    let alert = AlertPolicy::new(Severity::Warning)
        .decide(&updates()[0])
        .unwrap();
    let started = Instant::now();
    let deliveries = alerter.deliver(&alert).await;
    assert!(started.elapsed() < Duration::from_secs(3));
    assert_eq!(deliveries[0].attempts, 2);
    assert!(deliveries[0].result.is_err());
    assert_eq!(metrics.failed_count("email"), 1);
    assert_eq!(metrics.delivered_count("email"), 0);
}

#[tokio::test]
async fn an_smtp_server_that_never_greets_times_out() {
    // Accepts connections and says nothing, as a wedged relay would
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((stream, _)) = listener.accept().await {
            held.push(stream);
        }
    });
    let config = AlertConfig {
        email: Some(email(port, false)),
        retry: RetryPolicy {
            attempts: 2,
            backoff_ms: 10,
            timeout_ms: 400,
        },
        ..AlertConfig::default()
    };
    let metrics = Arc::new(CountingMetrics::new());
    let alerter = Alerter::new(&config, labels(), metrics.clone()).unwrap();
    let alert = AlertPolicy::new(Severity::Warning)
        .decide(&updates()[0])
        .unwrap();
    let started = Instant::now();
    let deliveries = alerter.deliver(&alert).await;
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(deliveries[0].attempts, 2);
    assert!(deliveries[0].result.is_err());
    assert_eq!(metrics.failed_count("email"), 1);
}

#[tokio::test]
async fn failed_deliveries_never_show_the_url_s_secrets() {
    // A receiver that answers 503 and a port nobody listens on, both reached with
    // a password and a key in the URL.
    let refusing = Receiver::start(usize::MAX, false).await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap()
    };
    let secret_url = |base: String| {
        base.replacen("http://", "http://alice:pa55word@", 1) + "?key=s3cret&team=noc"
    };
    let config = AlertConfig {
        webhooks: vec![
            hook(
                secret_url(format!("http://{closed}/json")),
                WebhookKind::Json,
                None,
            ),
            hook(secret_url(refusing.url("/slack")), WebhookKind::Slack, None),
        ],
        retry: RetryPolicy {
            attempts: 2,
            backoff_ms: 10,
            timeout_ms: 1000,
        },
        ..AlertConfig::default()
    };
    let metrics = Arc::new(CountingMetrics::new());
    let alerter = Alerter::new(&config, labels(), metrics.clone()).unwrap();
    let alert = AlertPolicy::new(Severity::Warning)
        .decide(&updates()[0])
        .unwrap();
    let deliveries = alerter.deliver(&alert).await;
    assert_eq!(deliveries.len(), 2);
    for delivery in &deliveries {
        // What the WARN line prints: the error, and the target beside it.
        let error = delivery.result.as_ref().unwrap_err().to_string();
        for shown in [&error, &delivery.target] {
            for secret in ["alice", "pa55word", "s3cret", "noc"] {
                assert!(!shown.contains(secret), "{secret} in {shown}");
            }
            assert!(shown.contains("***@127.0.0.1:"), "{shown}");
            assert!(shown.contains("?key=***&team=***"), "{shown}");
        }
    }
    assert!(
        deliveries[1]
            .result
            .as_ref()
            .unwrap_err()
            .to_string()
            .contains("answered 503"),
        "{deliveries:?}"
    );
}
