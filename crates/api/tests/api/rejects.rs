//! The API refuses malformed and oversized requests with a JSON error and a fitting
//! status, and keeps serving afterwards.

use crate::common::{Server, request};

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_get_their_own_codes() {
    let server = Server::start().await;
    let cases: &[(&str, u16, &str)] = &[
        ("/api/v1/events?since=yesterday", 400, "bad_time"),
        ("/api/v1/events?until=2022-13-45T99:00:00Z", 400, "bad_time"),
        ("/api/v1/events?since=99999999999999999", 400, "bad_time"),
        ("/api/v1/events?since=%FF%FE", 400, "bad_time"),
        (
            "/api/v1/events?since=2022-02-01&until=2022-01-01",
            400,
            "bad_range",
        ),
        ("/api/v1/events?cause=aliens", 400, "unknown_cause"),
        ("/api/v1/events?cause=INTERNAL", 400, "unknown_cause"),
        ("/api/v1/events?entity=planet:earth", 400, "bad_entity"),
        (
            "/api/v1/events?entity=prefix:999.1.1.1/33",
            400,
            "bad_entity",
        ),
        ("/api/v1/events?entity=as:notanumber", 400, "bad_entity"),
        ("/api/v1/events?entity=host:a%0Ab", 400, "bad_entity"),
        ("/api/v1/events?limit=0", 400, "bad_limit"),
        ("/api/v1/events?limit=1000000", 400, "bad_limit"),
        (
            "/api/v1/events?limit=99999999999999999999999",
            400,
            "bad_limit",
        ),
        ("/api/v1/events?limit=ten", 400, "bad_limit"),
        ("/api/v1/events?limt=10", 400, "bad_query"),
        ("/api/v1/events?cause=ddos&cause=flap", 400, "bad_query"),
        ("/api/v1/status?verbose=1", 400, "bad_query"),
        (
            "/api/v1/signals?signal=bgp.visibility",
            400,
            "missing_parameter",
        ),
        ("/api/v1/signals?entity=as:64496", 400, "missing_parameter"),
        (
            "/api/v1/signals?entity=as:64496&signal=%3Cscript%3E",
            400,
            "bad_signal",
        ),
        (
            "/api/v1/signals?entity=as:64496&signal=bgp.visibility&from=1970-01-01&until=2030-01-01",
            400,
            "bad_range",
        ),
        (
            "/api/v1/signals?entity=as:64496&signal=bgp.visibility&from=2030-01-01&until=2020-01-01",
            400,
            "bad_range",
        ),
        (
            "/api/v1/signals?entity=as:64496&signal=bgp.visibility&limit=100001",
            400,
            "bad_limit",
        ),
        ("/api/v1/events/has%20space", 400, "bad_id"),
        ("/api/v1/events/%FF", 400, "bad_id"),
        (
            "/api/v1/events/ev-0-0000000000000000",
            404,
            "event_not_found",
        ),
        ("/api/v1/nothing", 404, "not_found"),
        ("/assets/../../etc/passwd", 404, "not_found"),
        ("/assets/secret.js", 404, "not_found"),
    ];
    for (path, status, code) in cases {
        let response = server.get(path).await;
        let message = response.assert_error(*status, code);
        // Every answer, errors included, carries the security headers.
        assert!(
            response
                .header("content-security-policy")
                .is_some_and(|p| p.contains("default-src 'self'")),
            "{path}: {:?}",
            response.headers
        );
        assert!(message.len() < 600, "{path}: a short message: {message}");
    }
    let long_id = format!("/api/v1/events/{}", "a".repeat(200));
    server.get(&long_id).await.assert_error(400, "bad_id");
    // A huge parameter is not echoed back whole.
    let huge = format!("/api/v1/events?cause={}", "x".repeat(3000));
    let message = server.get(&huge).await.assert_error(400, "unknown_cause");
    assert!(message.len() < 600, "{message}");
}

#[tokio::test(flavor = "multi_thread")]
async fn oversized_requests_are_refused() {
    let server = Server::start().await;
    let long_url = format!("/api/v1/events?entity=host:{}", "a".repeat(5000));
    server
        .get(&long_url)
        .await
        .assert_error(414, "uri_too_long");

    let big_header = format!(
        "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {}\r\nConnection: close\r\n\r\n",
        "b".repeat(20_000)
    );
    request(server.addr, big_header.as_bytes())
        .await
        .assert_error(431, "headers_too_large");

    let mut many = String::from("GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..80 {
        many.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    many.push_str("Connection: close\r\n\r\n");
    request(server.addr, many.as_bytes())
        .await
        .assert_error(431, "headers_too_large");

    // Past what the server reads of a head at all: the same JSON errors, not hyper's
    // empty ones. A megabyte of URL is a URL too long; a head of 200 kB, or of more
    // headers than hyper parses, headers too large.
    let huge_url = format!(
        "GET /api/v1/events?entity=host:{} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    let message = request(server.addr, huge_url.as_bytes())
        .await
        .assert_error(414, "uri_too_long");
    assert!(message.contains("4096"), "{message}");
    let huge_header = format!(
        "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Filler: {}\r\n\r\n",
        "b".repeat(200_000)
    );
    request(server.addr, huge_header.as_bytes())
        .await
        .assert_error(431, "headers_too_large");
    let mut too_many = String::from("GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for i in 0..120 {
        too_many.push_str(&format!("X-H{i}: {i}\r\n"));
    }
    too_many.push_str("\r\n");
    request(server.addr, too_many.as_bytes())
        .await
        .assert_error(431, "headers_too_large");

    // Still serving.
    assert_eq!(server.get("/api/v1/status").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_is_not_this_server_is_misdirected() {
    let server = Server::start().await;
    let ask = |host: &str| {
        format!("GET /api/v1/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    // A page elsewhere whose name now resolves to 127.0.0.1 (DNS rebinding).
    let message = request(server.addr, ask("rebind.example:8470").as_bytes())
        .await
        .assert_error(421, "misdirected_request");
    assert!(message.contains("--api-host"), "{message}");
    for host in [
        server.addr.to_string(),
        format!("localhost:{}", server.addr.port()),
        "[::1]:8470".to_string(),
    ] {
        let answer = request(server.addr, ask(&host).as_bytes()).await;
        assert_eq!(answer.status, 200, "{host}: {}", answer.text());
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reverse_proxy_s_name_is_answered_once_allowed() {
    let server = Server::start_with_hosts(blackout_api::AllowedHosts::with_names([
        "blackout.example.org",
    ]))
    .await;
    let ask = |host: &str| {
        format!("GET /api/v1/status HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
    };
    let answer = request(server.addr, ask("blackout.example.org").as_bytes()).await;
    assert_eq!(answer.status, 200, "{}", answer.text());
    request(server.addr, ask("other.example.org").as_bytes())
        .await
        .assert_error(421, "misdirected_request");
}

#[tokio::test(flavor = "multi_thread")]
async fn bodies_on_get_and_other_methods_are_refused() {
    let server = Server::start().await;
    let with_length = "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 5\r\nConnection: close\r\n\r\nhello";
    request(server.addr, with_length.as_bytes())
        .await
        .assert_error(400, "body_not_allowed");
    let chunked = "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    request(server.addr, chunked.as_bytes())
        .await
        .assert_error(400, "body_not_allowed");
    // A zero length is no body.
    let empty = "GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
    assert_eq!(request(server.addr, empty.as_bytes()).await.status, 200);

    for method in ["POST", "PUT", "DELETE", "PATCH"] {
        let req = format!(
            "{method} /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{{}}"
        );
        let response = request(server.addr, req.as_bytes()).await;
        response.assert_error(405, "method_not_allowed");
        assert_eq!(response.header("allow"), Some("GET, HEAD"), "{method}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn garbage_gets_a_400_and_the_server_goes_on() {
    let server = Server::start().await;
    for garbage in [
        &b"HELLO\r\n\r\n"[..],
        &b"GET / HTTP/9.9\r\n\r\n"[..],
        &b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"[..],
        &b"GET /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nBad Header Line\r\n\r\n"[..],
    ] {
        let mut stream = tokio::net::TcpStream::connect(server.addr).await.unwrap();
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let _ = stream.write_all(garbage).await;
        let _ = stream.shutdown().await;
        let mut answer = Vec::new();
        let _ = tokio::time::timeout(
            std::time::Duration::from_secs(10),
            stream.read_to_end(&mut answer),
        )
        .await
        .expect("the server answers or closes within 10 s");
        let text = String::from_utf8_lossy(&answer);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 4"),
            "{garbage:?} -> {text}"
        );
        // What hyper refuses before the router answers is the API's JSON error too.
        if let Some((_, body)) = text.split_once("\r\n\r\n") {
            let json: serde_json::Value = serde_json::from_str(body)
                .unwrap_or_else(|e| panic!("{garbage:?} -> not JSON ({e}): {text}"));
            assert!(json["error"]["code"].is_string(), "{text}");
        }
    }
    assert_eq!(server.get("/api/v1/status").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_missing_database_is_a_503_not_a_crash() {
    let server = Server::start_without_store().await;
    let message = server
        .get("/api/v1/events")
        .await
        .assert_error(503, "store_unavailable");
    assert!(message.contains("missing.db"), "{message}");
    server
        .get("/api/v1/series")
        .await
        .assert_error(503, "store_unavailable");
    // The status does not need the database.
    assert_eq!(server.get("/api/v1/status").await.status, 200);
    assert!(!server.db.exists(), "the API never creates the database");
}
