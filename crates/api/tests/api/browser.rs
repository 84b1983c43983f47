//! Headless Chromium driven over the DevTools protocol on loopback.
//!
//! `--dump-dom` with `--virtual-time-budget` never finishes on this page: virtual time
//! waits for pending fetches, and the live stream is a fetch that never ends. So the
//! test drives a real browser session instead: navigate, read the DOM as it changes,
//! take a screenshot.

use crate::common::{KillOnDrop, request};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

pub struct Browser {
    socket: Socket,
    next_id: u64,
    _child: KillOnDrop,
    _profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium with nothing of its own going out, and attaches to its page.
    pub async fn start(binary: &Path) -> Browser {
        let profile = tempfile::tempdir().unwrap();
        let child = Command::new(binary)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-default-apps",
                "--disable-extensions",
                "--no-default-browser-check",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "--window-size=1280,900",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let child = KillOnDrop(child);
        // Chromium writes the port it chose into the profile.
        let port_file = profile.path().join("DevToolsActivePort");
        let started = Instant::now();
        let port: u16 = loop {
            if let Ok(text) = std::fs::read_to_string(&port_file)
                && let Some(Ok(port)) = text.lines().next().map(str::parse)
            {
                break port;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "Chromium did not open its DevTools port"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        let devtools = SocketAddr::from(([127, 0, 0, 1], port));
        let page_url = loop {
            // Chromium builds the socket URL from the Host header: give it the port.
            let list = request(
                devtools,
                format!("GET /json/list HTTP/1.1\r\nHost: {devtools}\r\nConnection: close\r\n\r\n")
                    .as_bytes(),
            )
            .await;
            let targets: Value = serde_json::from_slice(&list.body).unwrap_or(Value::Null);
            let page = targets.as_array().and_then(|ts| {
                ts.iter()
                    .find(|t| t["type"] == "page")
                    .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(String::from))
            });
            if let Some(url) = page {
                break url;
            }
            assert!(
                started.elapsed() < Duration::from_secs(30),
                "no page target"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let (socket, _) = tokio_tungstenite::connect_async(page_url.as_str())
            .await
            .unwrap_or_else(|e| panic!("DevTools at {page_url}: {e}"));
        Browser {
            socket,
            next_id: 1,
            _child: child,
            _profile: profile,
        }
    }

    /// Sends a command and waits for its answer (events in between are skipped).
    pub async fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let command = json!({ "id": id, "method": method, "params": params });
        self.socket
            .send(Message::text(command.to_string()))
            .await
            .unwrap();
        let answer = tokio::time::timeout(Duration::from_secs(30), async {
            while let Some(message) = self.socket.next().await {
                if let Message::Text(text) = message.unwrap() {
                    let value: Value = serde_json::from_str(text.as_str()).unwrap();
                    if value["id"] == id {
                        return value;
                    }
                }
            }
            panic!("DevTools closed the connection");
        })
        .await
        .unwrap_or_else(|_| panic!("no answer to {method} within 30 s"));
        assert!(answer["error"].is_null(), "{method}: {answer}");
        answer["result"].clone()
    }

    pub async fn navigate(&mut self, url: &str) {
        self.call("Page.enable", json!({})).await;
        self.call("Page.navigate", json!({ "url": url })).await;
    }

    /// The value of a JavaScript expression in the page.
    pub async fn eval(&mut self, expression: &str) -> Value {
        let result = self
            .call(
                "Runtime.evaluate",
                json!({ "expression": expression, "returnByValue": true }),
            )
            .await;
        result["result"]["value"].clone()
    }

    /// The page's DOM as HTML, as it stands now.
    pub async fn dom(&mut self) -> String {
        self.eval("document.documentElement.outerHTML")
            .await
            .as_str()
            .unwrap_or_default()
            .to_string()
    }

    /// Waits until the DOM satisfies `ok`, and returns it (or the last one seen).
    pub async fn wait_for(&mut self, within: Duration, ok: impl Fn(&str) -> bool) -> String {
        let started = Instant::now();
        loop {
            let dom = self.dom().await;
            if ok(&dom) || started.elapsed() > within {
                return dom;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// A PNG of the whole page, `width` pixels wide.
    pub async fn screenshot(&mut self, width: u32) -> Vec<u8> {
        let height = self
            .eval("document.documentElement.scrollHeight")
            .await
            .as_u64()
            .unwrap_or(900)
            .clamp(300, 4000);
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({ "width": width, "height": height, "deviceScaleFactor": 1, "mobile": false }),
        )
        .await;
        // Let the page lay out again (the charts follow the width).
        tokio::time::sleep(Duration::from_millis(700)).await;
        let shot = self
            .call("Page.captureScreenshot", json!({ "format": "png" }))
            .await;
        base64_decode(shot["data"].as_str().unwrap_or_default())
    }
}

fn base64_decode(text: &str) -> Vec<u8> {
    let value = |c: u8| -> Option<u32> {
        Some(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        } as u32)
    };
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut buffer = 0u32;
    let mut bits = 0;
    for c in text.bytes().filter_map(value) {
        buffer = (buffer << 6) | c;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buffer >> bits) as u8);
        }
    }
    out
}
