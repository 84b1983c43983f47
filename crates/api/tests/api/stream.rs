//! The live stream delivers the current status on connect, then status changes and
//! events as they are published, and ends when the server stops.

use crate::common::{Server, online_status};
use blackout_model::UpdateKind;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpStream;

pub struct SseClient {
    reader: BufReader<TcpStream>,
}

#[derive(Debug)]
pub struct Message {
    pub event: String,
    pub data: String,
}

impl SseClient {
    pub async fn connect(server: &Server) -> SseClient {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
            .await
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut head = Vec::new();
        loop {
            let mut line = String::new();
            reader.read_line(&mut line).await.unwrap();
            if line == "\r\n" || line.is_empty() {
                break;
            }
            head.push(line.trim_end().to_string());
        }
        assert!(head[0].starts_with("HTTP/1.1 200"), "{head:?}");
        assert!(
            head.iter()
                .any(|h| h.eq_ignore_ascii_case("content-type: text/event-stream")),
            "{head:?}"
        );
        SseClient { reader }
    }

    /// The next SSE message (skipping keep-alive comments), read through the chunked
    /// framing line by line: axum sends each message in one chunk.
    pub async fn next(&mut self) -> Message {
        tokio::time::timeout(Duration::from_secs(10), async {
            let mut event = String::new();
            let mut data = String::new();
            loop {
                let mut line = String::new();
                let n = self.reader.read_line(&mut line).await.unwrap();
                assert!(n > 0, "the stream ended");
                let line = line.trim_end_matches(['\r', '\n']);
                if let Some(name) = line.strip_prefix("event: ") {
                    event = name.to_string();
                } else if let Some(text) = line.strip_prefix("data: ") {
                    data.push_str(text);
                } else if line.is_empty() && !event.is_empty() {
                    return Message { event, data };
                }
                // Anything else is chunk framing or a comment.
            }
        })
        .await
        .expect("a stream message within 10 s")
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn status_changes_and_events_arrive_as_they_happen() {
    let server = Server::start().await;
    let mut client = SseClient::connect(&server).await;

    let first = client.next().await;
    assert_eq!(first.event, "status");
    let status: serde_json::Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(status["headline"]["state"], "dark");

    // A status change: North Korea comes back.
    server.publisher.publish_status(online_status(server.now));
    let change = client.next().await;
    assert_eq!(change.event, "status");
    let status: serde_json::Value = serde_json::from_str(&change.data).unwrap();
    assert_eq!(
        status["headline"]["text"],
        "North Korea: ONLINE via AS4837 China Unicom, AS20485 TransTelecom"
    );
    assert_eq!(status["network"]["state"], "up");

    // The event that ends: delivered once, and the same status (it came both through
    // the watch channel and the broadcast) was not sent twice before it.
    let mut ended = server.dark.clone();
    ended.end = Some(server.now);
    server.publisher.publish_event(UpdateKind::Ended, &ended);
    let message = client.next().await;
    assert_eq!(message.event, "event", "{message:?}");
    let body: serde_json::Value = serde_json::from_str(&message.data).unwrap();
    assert_eq!(body["change"], "ended");
    assert_eq!(body["event"]["id"], server.dark.id.0.as_str());
    assert_eq!(body["event"]["end"], server.now.to_string());
    assert_eq!(body["event"]["evidence"].as_array().unwrap().len(), 2);

    // The metrics count the client while it is connected.
    let metrics = server.get("/metrics").await.text();
    assert!(metrics.contains("blackout_stream_clients 1"), "{metrics}");
    drop(client);

    // With a client connected, stopping the server still returns promptly.
    let _second = SseClient::connect(&server).await;
    let took = server.shutdown().await;
    assert!(took < Duration::from_secs(5), "shutdown took {took:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_status_that_did_not_change_is_not_sent_again() {
    let server = Server::start().await;
    let mut client = SseClient::connect(&server).await;
    assert_eq!(client.next().await.event, "status");

    // The watch loop publishes a snapshot every second: the same one, taken later,
    // is not news.
    let online = online_status(server.now);
    server.publisher.publish_status(online.clone());
    let first = client.next().await;
    assert_eq!(first.event, "status");
    for later in 1..=3 {
        let mut again = online.clone();
        again.generated_at = server.now.add_secs(later);
        server.publisher.publish_status(again);
    }
    // What comes next is the event published after them, not a status.
    server
        .publisher
        .publish_event(UpdateKind::Revised, &server.dark);
    let next = client.next().await;
    assert_eq!(
        next.event, "event",
        "an unchanged status was sent: {next:?}"
    );
    // A status that says something new is sent.
    let mut changed = online.clone();
    changed.upstreams[0].visibility = 0.5;
    server.publisher.publish_status(changed);
    let next = client.next().await;
    assert_eq!(next.event, "status", "{next:?}");
    let status: serde_json::Value = serde_json::from_str(&next.data).unwrap();
    assert_eq!(status["upstreams"][0]["visibility"], 0.5);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_client_that_falls_behind_is_told_and_gets_the_latest_status() {
    let server = Server::start().await;
    let mut client = SseClient::connect(&server).await;
    assert_eq!(client.next().await.event, "status");

    // The client reads nothing while far more events than the stream holds are
    // published, each big enough that the socket buffers fill and the server's side
    // of the stream stops draining the broadcast.
    server.publisher.publish_status(online_status(server.now));
    let mut big = server.dark.clone();
    big.summary = "x".repeat(16 * 1024);
    let count = blackout_api::Publisher::STREAM_CAPACITY * 4;
    for _ in 0..count {
        server.publisher.publish_event(UpdateKind::Revised, &big);
    }

    let mut events = 0;
    let lagged = loop {
        let message = client.next().await;
        match message.event.as_str() {
            "event" => events += 1,
            "status" => {}
            "lagged" => break message,
            other => panic!("unexpected {other} after {events} events"),
        }
    };
    let missed: serde_json::Value = serde_json::from_str(&lagged.data).unwrap();
    let missed = missed["missed"].as_u64().unwrap();
    assert!(missed > 0);
    assert!(
        events + (missed as usize) <= count + 1,
        "{events} + {missed}"
    );
    // Right after: the latest status, whole, even if it was sent before the lag.
    let status = client.next().await;
    assert_eq!(status.event, "status");
    let status: serde_json::Value = serde_json::from_str(&status.data).unwrap();
    assert_eq!(status["headline"]["state"], "online");
}

#[tokio::test(flavor = "multi_thread")]
async fn too_many_stream_clients_get_a_503() {
    let server = Server::start().await;
    let mut clients = Vec::new();
    for _ in 0..blackout_api::MAX_STREAM_CLIENTS {
        clients.push(SseClient::connect(&server).await);
    }
    server
        .get("/api/v1/stream")
        .await
        .assert_error(503, "too_many_streams");
    // One leaves: there is room again.
    drop(clients.pop());
    let started = std::time::Instant::now();
    loop {
        let mut stream = TcpStream::connect(server.addr).await.unwrap();
        stream
            .write_all(b"GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .await
            .unwrap();
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        reader.read_line(&mut line).await.unwrap();
        if line.starts_with("HTTP/1.1 200") {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "no room after a client left: {line}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
