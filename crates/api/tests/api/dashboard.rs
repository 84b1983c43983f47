//! The dashboard in a real browser: headless Chromium loads the page from the server
//! on loopback, with every outside connection of its own turned off; the test reads
//! the DOM the page built, publishes an event while the page is open, and keeps a
//! screenshot under the target directory.

use crate::browser::Browser;
use crate::common::{HOSTILE, Server, program, skipped};
use blackout_model::UpdateKind;
use blackout_model::{Asn, Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind};
use std::path::PathBuf;
use std::time::Duration;

fn chromium() -> Option<PathBuf> {
    program("chromium").or_else(|| program("chromium-browser"))
}

fn live_event(now: blackout_model::Timestamp) -> Event {
    let entity = Entity::Prefix("175.45.177.0/24".parse().unwrap());
    Event {
        id: EventId::derive(&entity, now, Cause::Hijack),
        entity,
        cause: Cause::Hijack,
        severity: Severity::Critical,
        confidence: 0.8,
        start: now,
        end: None,
        scope: Scope {
            prefixes: vec!["175.45.177.0/24".parse().unwrap()],
            upstreams: vec![Asn(64500)],
            ..Scope::default()
        },
        summary: "LIVE: AS64500 announces a more specific of a watched prefix".into(),
        evidence: vec![Evidence {
            at: now,
            signal: SignalKind::BgpOrigin,
            text: "origin AS64500 seen by 3 peers".into(),
            value: Some(3.0),
        }],
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_shows_the_status_and_the_events_escaped_and_live() {
    let Some(binary) = chromium() else {
        skipped(
            "chromium is not installed (apt-get install -y chromium): the dashboard was not loaded in a browser",
        );
        return;
    };
    let server = Server::start().await;
    let url = format!("http://{}/", server.addr);
    let headline = format!(
        "North Korea: DARK since {} cause internal",
        server.dark.start
    );
    let mut browser = Browser::start(&binary).await;
    browser.navigate(&url).await;
    // Loaded: the headline is there, the events and the charts drew, the stream is on.
    let dom = browser
        .wait_for(Duration::from_secs(20), |dom| {
            dom.contains(&headline)
                && dom.contains("class=\"live-on\"")
                && dom.matches("class=\"uplot").count() >= 4
                && dom.contains("<article")
        })
        .await;
    for wanted in [
        headline.as_str(),
        server.dark.summary.as_str(),
        server.cut.summary.as_str(),
        "175.45.176.0/24 seen by 0 of 20 full-feed peers",
        "confidence 90.0 %",
        "upstream-cut",
        "China Unicom",
        "bmp:198.51.100.1",
        "timeout",
        "175.45.176.71",
        "last known address: the name did not resolve (kcna.kp: SERVFAIL",
        // The BMP router's box: its name (with the markup as text), views, peers.
        "bmp:198.51.100.1 · border1 &lt;img src=x id=injected",
        "Cisco IOS XR Software, Version 7.10.1",
        "views configured: pre-policy, post-policy, loc-rib · sent: post-policy, loc-rib · used: post-policy, loc-rib · peers: 2 up of 3",
        "skipped: ipv4-vpn routes (VPN) (132 messages)",
        "AS20485",
        "loc-rib RD 64511:7 customers",
        "1023456 / —",
        "went down with 4 watched routes: the peer closed the session with a NOTIFICATION",
    ] {
        assert!(dom.contains(wanted), "the page lacks {wanted:?}:\n{dom}");
    }
    // One row per vantage point, with its health and its latest result.
    let rows = browser
        .eval(
            "[...document.querySelectorAll('#vantages tbody tr')].map((tr) => \
             [...tr.cells].map((td) => td.textContent))",
        )
        .await;
    let rows = rows.as_array().expect("rows");
    assert_eq!(rows.len(), 3, "{rows:?}");
    let cell = |row: usize, col: usize| rows[row][col].as_str().unwrap_or_default().to_string();
    assert_eq!(cell(0, 0), "local");
    assert_eq!(cell(0, 1), "up");
    assert_eq!(cell(0, 3), "5 / 11");
    assert!(cell(0, 4).contains("kcna.kp probe.icmp fail"), "{rows:?}");
    assert_eq!(cell(1, 0), "paris");
    assert_eq!(cell(1, 1), "offline");
    assert!(cell(1, 4).contains("network unreachable"), "{rows:?}");
    assert!(cell(1, 5).contains("is offline"), "{rows:?}");
    assert_eq!(cell(2, 0), "tokyo");
    assert_eq!(cell(2, 1), "path");
    assert!(
        cell(2, 4).contains("mfa.gov.kp probe.icmp ok 41.5 ms answered <img"),
        "{rows:?}"
    );
    assert!(cell(2, 5).contains("alone cannot reach"), "{rows:?}");
    // What came from the network is text, not markup: escaped in the DOM, no element
    // made of it, no script of it run.
    assert!(
        dom.contains("&lt;img src=x id=injected"),
        "the hostile text is shown escaped:\n{dom}"
    );
    assert!(
        !dom.contains("id=\"injected\""),
        "no element from data:\n{dom}"
    );
    assert!(HOSTILE.contains("id=injected"));
    assert_eq!(
        browser.eval("document.getElementById('injected') === null && typeof window.pwned === 'undefined'").await,
        serde_json::Value::Bool(true),
        "no element made of data, no script of it run"
    );
    // The charts drew (uPlot puts its root in the page), with the series' labels.
    let charts = dom.matches("class=\"uplot").count();
    assert!(charts >= 4, "{charts} charts drawn:\n{dom}");
    assert!(dom.contains("AS4837 China Unicom"));
    assert!(dom.contains("live"), "the stream is connected");

    // Live: a new event and a status change, published while the page is open, show
    // without a reload.
    let live = live_event(server.now);
    server.publisher.publish_event(UpdateKind::Started, &live);
    server
        .publisher
        .publish_status(crate::common::online_status(server.now));
    let online = "North Korea: ONLINE via AS4837 China Unicom, AS20485 TransTelecom";
    let dom = browser
        .wait_for(Duration::from_secs(10), |dom| {
            dom.contains(&live.summary) && dom.contains(online)
        })
        .await;
    assert!(
        dom.contains(&live.summary),
        "the event published live is not on the page:\n{dom}"
    );
    assert!(
        dom.contains(online),
        "the status change is not on the page:\n{dom}"
    );
    assert!(dom.contains("class=\"state-online\""));

    // Back to dark for the screenshot: the header in red, the events below.
    server
        .publisher
        .publish_status(crate::common::dark_status(server.now, &server.dark));
    browser
        .wait_for(Duration::from_secs(10), |dom| dom.contains(&headline))
        .await;
    let png = browser.screenshot(1280).await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png");
    std::fs::write(&shot, &png).unwrap();
    assert!(
        png.len() > 20_000,
        "screenshot {} is {} bytes",
        shot.display(),
        png.len()
    );
    eprintln!("dashboard screenshot: {}", shot.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_blind_observatory_says_so_and_shows_no_data_as_no_data() {
    let Some(binary) = chromium() else {
        skipped(
            "chromium is not installed (apt-get install -y chromium): the dashboard was not loaded in a browser",
        );
        return;
    };
    let server = Server::start().await;
    let url = format!("http://{}/", server.addr);
    let mut browser = Browser::start(&binary).await;
    browser.navigate(&url).await;
    browser
        .wait_for(Duration::from_secs(20), |dom| dom.contains("DARK since"))
        .await;
    server
        .publisher
        .publish_status(crate::common::blind_status(server.now));
    let headline = "this observatory is offline: no feed is up (no verdict on North Korea)";
    let dom = browser
        .wait_for(Duration::from_secs(10), |dom| dom.contains(headline))
        .await;
    assert!(dom.contains(headline), "the headline:\n{dom}");
    // No element reads "0 %" (or draws a bar) for what has no data.
    let zero = browser
        .eval(
            "[...document.querySelectorAll('#upstreams *, #prefixes *, #probes *')]\
             .filter((e) => /^\\s*0(\\.0)?\\s*%\\s*$/.test(e.textContent)).map((e) => e.outerHTML)",
        )
        .await;
    assert_eq!(
        zero,
        serde_json::json!([]),
        "elements reading 0 % without data"
    );
    let bars = browser
        .eval("document.querySelectorAll('#upstreams .bar, #prefixes .bar').length")
        .await;
    assert_eq!(bars, serde_json::json!(0), "bars drawn without data");
    let no_data = browser
        .eval("document.querySelectorAll('#upstreams .nodata, #prefixes .nodata').length")
        .await;
    assert_eq!(
        no_data,
        serde_json::json!(3),
        "two upstreams and a prefix say no data"
    );
    // The failed web check lost no packets: its loss is not "0.0 %".
    let loss = browser
        .eval("document.querySelector('#probes tbody tr').cells[7].textContent")
        .await;
    assert_eq!(loss, serde_json::json!("—"));
    // The vantage point is listed once; the profile's labels are shown.
    let vantage_rows = browser
        .eval(
            "[...document.querySelectorAll('#entities tbody tr')]\
             .filter((r) => r.cells[0].textContent === 'vantage:local').length",
        )
        .await;
    assert_eq!(vantage_rows, serde_json::json!(1));
    assert!(dom.contains("Korean Central News Agency"), "{dom}");
    let png = browser.screenshot(1280).await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard-blind.png");
    std::fs::write(&shot, &png).unwrap();
    eprintln!("dashboard screenshot (blind): {}", shot.display());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_page_and_its_assets_are_served_from_the_binary_with_a_strict_policy() {
    let server = Server::start().await;
    let page = server.get("/").await;
    assert_eq!(page.status, 200);
    assert!(
        page.header("content-type")
            .unwrap()
            .starts_with("text/html")
    );
    let policy = page.header("content-security-policy").unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    assert!(
        policy.contains("script-src 'self'") && !policy.contains("unsafe"),
        "{policy}"
    );
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let html = page.text();
    // Nothing from elsewhere, nothing inline.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    assert!(
        !html.contains("<script>") && !html.contains("style="),
        "{html}"
    );
    for asset in [
        "common.js",
        "app.js",
        "app.css",
        "uPlot.iife.min.js",
        "uPlot.min.css",
        "uPlot.LICENSE",
    ] {
        let response = server.get(&format!("/assets/{asset}")).await;
        assert_eq!(response.status, 200, "{asset}");
        assert!(html.contains(asset) || asset == "uPlot.LICENSE", "{asset}");
    }
    for script in ["common.js", "app.js", "overview.js"] {
        let code = server.get(&format!("/assets/{script}")).await.text();
        for sink in [
            "innerHTML",
            "outerHTML",
            "insertAdjacentHTML",
            "document.write",
            "eval(",
        ] {
            assert!(!code.contains(sink), "{script} uses {sink}");
        }
    }
    assert!(
        server
            .get("/assets/uPlot.LICENSE")
            .await
            .text()
            .contains("MIT")
    );
}
