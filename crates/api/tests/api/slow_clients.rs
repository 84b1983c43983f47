//! Slow and silent clients cannot hold connections: a request head that is not whole
//! by the deadline (sent half and stalled, trickled a byte at a time, or never sent)
//! ends with the connection closed, while normal requests and the live stream go on;
//! past the connection cap, new clients wait until a connection closes.

use crate::common::{Server, online_status};
use crate::stream::SseClient;
use blackout_api::ConnectionLimits;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Reads until the server closes the connection (or resets it), or fails once `limit`
/// has passed since `opened`. Returns how long after `opened` it was closed, and what
/// the server sent.
async fn closed_within(
    stream: &mut TcpStream,
    opened: Instant,
    limit: Duration,
) -> (Duration, Vec<u8>) {
    let mut received = Vec::new();
    tokio::time::timeout(limit.saturating_sub(opened.elapsed()), async {
        let mut buffer = [0u8; 4096];
        loop {
            match stream.read(&mut buffer).await {
                Ok(0) | Err(_) => return,
                Ok(n) => received.extend_from_slice(&buffer[..n]),
            }
        }
    })
    .await
    .unwrap_or_else(|_| panic!("the server still holds the connection after {limit:?}"));
    (opened.elapsed(), received)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stalled_or_trickled_request_head_is_cut_at_the_deadline() {
    let deadline = Duration::from_secs(1);
    let server = Server::start_limited(ConnectionLimits {
        header_read_timeout: deadline,
        ..ConnectionLimits::default()
    })
    .await;
    // The live stream starts before the slow clients and must outlive the deadline.
    let mut live = SseClient::connect(&server).await;
    assert_eq!(live.next().await.event, "status");

    let opened = Instant::now();
    let mut half = TcpStream::connect(server.addr).await.unwrap();
    half.write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ")
        .await
        .unwrap();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let mut trickled = TcpStream::connect(server.addr).await.unwrap();
    // A byte every 100 ms: each read makes progress, but the head is never whole.
    let trickle = async {
        let head = b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
        let mut sent = 0;
        for byte in head {
            let mut probe = [0u8; 1];
            // Stop once the server has closed: a read that does not wait says so.
            if let Ok(Ok(0) | Err(_)) =
                tokio::time::timeout(Duration::from_millis(100), trickled.read(&mut probe)).await
            {
                break;
            }
            if trickled.write_all(&[*byte]).await.is_err() {
                break;
            }
            sent += 1;
        }
        (opened.elapsed(), sent)
    };

    let limit = deadline + Duration::from_secs(3);
    let (served, (half_after, half_got), (silent_after, silent_got), (trickled_after, sent)) = tokio::join!(
        // While they stall, others are served.
        server.get("/api/v1/status"),
        closed_within(&mut half, opened, limit),
        closed_within(&mut silent, opened, limit),
        trickle,
    );
    assert_eq!(served.status, 200);
    // The deadline is for the whole head, not for each read: the trickle was cut well
    // before its 60-odd bytes were out.
    assert!(sent < 40, "the trickling client sent {sent} bytes");
    assert!(
        trickled_after < limit,
        "a trickle held on for {trickled_after:?}"
    );
    for (name, after, got) in [
        ("half a head", half_after, half_got),
        ("nothing", silent_after, silent_got),
        ("a trickle", trickled_after, Vec::new()),
    ] {
        assert!(
            after >= deadline - Duration::from_millis(300),
            "{name}: cut after {after:?}, before the deadline"
        );
        assert!(
            got.is_empty(),
            "{name}: no answer, just a close: {:?}",
            String::from_utf8_lossy(&got)
        );
    }

    // The stream, open for longer than the deadline, still delivers.
    server.publisher.publish_status(online_status(server.now));
    let message = live.next().await;
    assert_eq!(message.event, "status");
    let status: serde_json::Value = serde_json::from_str(&message.data).unwrap();
    assert_eq!(status["network"]["state"], "up", "{status}");

    // So do new requests, and the slow clients left nothing behind.
    assert_eq!(server.get("/api/v1/status").await.status, 200);
    let elapsed = server.shutdown().await;
    assert!(
        elapsed < Duration::from_secs(3),
        "shutdown took {elapsed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_kept_alive_connection_left_idle_is_closed_at_the_deadline() {
    let deadline = Duration::from_secs(1);
    let server = Server::start_limited(ConnectionLimits {
        header_read_timeout: deadline,
        ..ConnectionLimits::default()
    })
    .await;
    let mut stream = TcpStream::connect(server.addr).await.unwrap();
    stream
        .write_all(b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // The rest of the answer comes, then nothing: the server waits for the next
    // request head for as long as the deadline allows.
    let answered = Instant::now();
    let (after, _) = closed_within(&mut stream, answered, deadline + Duration::from_secs(3)).await;
    assert!(after >= deadline - Duration::from_millis(300), "{after:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_default_deadline_is_ten_seconds() {
    let server = Server::start().await;
    let opened = Instant::now();
    let mut silent = TcpStream::connect(server.addr).await.unwrap();
    let (after, _) = closed_within(&mut silent, opened, Duration::from_secs(14)).await;
    assert!(
        after >= Duration::from_secs(9) && after <= Duration::from_secs(13),
        "a silent client was cut after {after:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn past_the_connection_cap_a_client_waits_for_a_free_slot() {
    let server = Server::start_limited(ConnectionLimits {
        max_connections: 3,
        ..ConnectionLimits::default()
    })
    .await;
    // Three busy connections: live streams, which are never idle.
    let mut held = Vec::new();
    for _ in 0..3 {
        let mut live = SseClient::connect(&server).await;
        assert_eq!(live.next().await.event, "status");
        held.push(live);
    }

    let addr = server.addr;
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let response = crate::common::request(
            addr,
            b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await;
        (response.status, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(!waiting.is_finished(), "a fourth connection was served");
    let freed = Instant::now();
    drop(held.pop());
    let (status, _) = waiting.await.unwrap();
    assert_eq!(status, 200);
    assert!(
        freed.elapsed() < Duration::from_secs(3),
        "served {:?} after a slot was freed",
        freed.elapsed()
    );
    drop(held);
    assert_eq!(server.get("/api/v1/status").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn six_hundred_idle_connections_do_not_slow_real_requests() {
    // The default limits: 512 connections in all, 32 idle per client.
    let server = Server::start_limited(ConnectionLimits::default()).await;
    let mut live = SseClient::connect(&server).await;
    assert_eq!(live.next().await.event, "status");
    // 600 connections that send nothing, from the same address as the real client.
    let mut idle = Vec::new();
    for _ in 0..600 {
        idle.push(TcpStream::connect(server.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut slowest = Duration::ZERO;
    for n in 0..20 {
        let started = Instant::now();
        let response = crate::common::request(
            server.addr,
            b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
        )
        .await;
        let took = started.elapsed();
        assert_eq!(response.status, 200, "request {n}");
        slowest = slowest.max(took);
        // More idle connections keep coming between the real requests.
        for _ in 0..10 {
            idle.push(TcpStream::connect(server.addr).await.unwrap());
        }
    }
    // How many of the idle connections the server closed to make room.
    let mut closed = 0;
    for stream in &mut idle {
        let mut byte = [0u8; 1];
        if let Ok(Ok(0) | Err(_)) =
            tokio::time::timeout(Duration::from_millis(1), stream.read(&mut byte)).await
        {
            closed += 1;
        }
    }
    eprintln!(
        "with {} idle connections opened: slowest of 20 real requests {slowest:?}; the server closed {closed} idle ones",
        idle.len()
    );
    // Before the per-client cap, each request waited 8-9 s for a head deadline.
    assert!(slowest < Duration::from_secs(2), "slowest {slowest:?}");
    // The server holds at most its cap; the rest it closed.
    assert!(
        closed >= idle.len() - ConnectionLimits::MAX_CONNECTIONS,
        "closed {closed}"
    );
    drop(live);
}
