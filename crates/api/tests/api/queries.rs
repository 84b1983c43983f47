//! What the API answers from the snapshot and the store, and the OpenAPI description
//! against the routes really served.

use crate::common::Server;
use blackout_store::Store;
use serde_json::Value;

#[tokio::test(flavor = "multi_thread")]
async fn status_has_every_part_and_the_headline() {
    let server = Server::start().await;
    let response = server.get("/api/v1/status").await;
    assert_eq!(response.status, 200);
    assert_eq!(response.header("cache-control"), Some("no-store"));
    let json = response.json();
    assert_eq!(json["profile"], "kp");
    assert_eq!(json["network"]["state"], "down");
    assert_eq!(json["network"]["cause"], "internal");
    assert_eq!(json["network"]["event_id"], server.dark.id.0.as_str());
    assert_eq!(json["upstreams"][0]["asn"], 4837);
    assert_eq!(json["prefixes"][0]["full_feed_peers"], 20);
    assert_eq!(json["probes"][0]["outcome"], "timeout");
    assert_eq!(json["feeds"][0]["name"], "bmp:198.51.100.1");
    assert_eq!(json["vantage"]["state"], "up");
    assert_eq!(json["headline"]["state"], "dark");
    assert_eq!(
        json["headline"]["text"],
        format!(
            "North Korea: DARK since {} cause internal",
            server.dark.start
        )
    );
    // HEAD answers like GET, without a body.
    let head = crate::common::request(
        server.addr,
        b"HEAD /api/v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
    )
    .await;
    assert_eq!(head.status, 200);
    assert!(head.body.is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn events_newest_first_filtered_and_one_by_id() {
    let server = Server::start().await;
    let ids = |json: Value| -> Vec<String> {
        json["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect()
    };
    let all = server.get("/api/v1/events").await.json();
    assert_eq!(
        ids(all.clone()),
        [server.dark.id.0.as_str(), server.cut.id.0.as_str()]
    );
    // The Event JSON of the contract, evidence included.
    let first = &all["events"][0];
    assert_eq!(first["entity"], "country:KP");
    assert_eq!(first["severity"], "critical");
    assert!(first["end"].is_null());
    assert_eq!(first["evidence"][0]["signal"], "bgp.visibility");
    assert_eq!(first["scope"]["upstreams"][1], 20485);

    let by_cause = server.get("/api/v1/events?cause=upstream-cut").await.json();
    assert_eq!(ids(by_cause), [server.cut.id.0.as_str()]);
    let by_entity = server
        .get("/api/v1/events?entity=country:KP&since=&until=")
        .await
        .json();
    assert_eq!(ids(by_entity), [server.dark.id.0.as_str()]);
    let limited = server.get("/api/v1/events?limit=1").await.json();
    assert_eq!(ids(limited), [server.dark.id.0.as_str()]);
    // The cut ended 80 minutes ago: since 10 minutes ago only the dark event goes on.
    let since = server.now.add_secs(-600).as_secs();
    let recent = server
        .get(&format!("/api/v1/events?since={since}"))
        .await
        .json();
    assert_eq!(ids(recent), [server.dark.id.0.as_str()]);
    let before = server
        .get(&format!(
            "/api/v1/events?until={}",
            server.now.add_secs(-3600)
        ))
        .await
        .json();
    assert_eq!(ids(before), [server.cut.id.0.as_str()]);

    let one = server
        .get(&format!("/api/v1/events/{}", server.dark.id))
        .await;
    assert_eq!(one.status, 200);
    let event: blackout_model::Event = serde_json::from_slice(&one.body).unwrap();
    assert_eq!(event, server.dark);
}

#[tokio::test(flavor = "multi_thread")]
async fn signals_raw_points_rollups_and_limits() {
    let server = Server::start().await;
    let series = server.get("/api/v1/series").await.json();
    let names: Vec<String> = series["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            format!(
                "{} {}",
                s["entity"].as_str().unwrap(),
                s["signal"].as_str().unwrap()
            )
        })
        .collect();
    assert!(
        names.contains(&"prefix:175.45.176.0/24 bgp.visibility".to_string()),
        "{names:?}"
    );
    assert!(
        names.contains(&"host:kcna.kp probe.http.ok".to_string()),
        "{names:?}"
    );

    // Default range: the last day, so all 120 probe points.
    let day = server
        .get("/api/v1/signals?entity=host:kcna.kp&signal=probe.http.ok")
        .await
        .json();
    assert_eq!(day["points"].as_array().unwrap().len(), 120);
    assert_eq!(day["truncated"], false);
    assert_eq!(day["points"][0]["value"], 1.0);
    assert_eq!(day["points"][119]["value"], 0.0);

    let limited = server
        .get("/api/v1/signals?entity=host:kcna.kp&signal=probe.http.ok&limit=10")
        .await
        .json();
    let points = limited["points"].as_array().unwrap();
    assert_eq!(points.len(), 10);
    assert_eq!(limited["truncated"], true);
    // The newest ten are kept.
    assert_eq!(points[9]["at"], day["points"][119]["at"]);

    let from = server.now.add_secs(-2000);
    let until = server.now.add_secs(-1000);
    let range = server
        .get(&format!(
            "/api/v1/signals?entity=prefix:175.45.176.0/24&signal=bgp.visibility&from={from}&until={until}"
        ))
        .await
        .json();
    assert_eq!(range["from"], from.to_string());
    let points = range["points"].as_array().unwrap();
    assert_eq!(points.len(), 1, "{range}");
    assert_eq!(points[0]["value"], 0.0);

    // Fold the first hour into rollups: they come back beside the raw points.
    {
        let mut store = Store::open(&server.db).unwrap();
        store.downsample(server.now.add_secs(-3600), 600).unwrap();
    }
    let folded = server
        .get("/api/v1/signals?entity=host:kcna.kp&signal=probe.http.ok")
        .await
        .json();
    let rollups = folded["rollups"].as_array().unwrap();
    let raw = folded["points"].as_array().unwrap();
    let counted: i64 = rollups.iter().map(|r| r["count"].as_i64().unwrap()).sum();
    assert_eq!(counted + raw.len() as i64, 120, "{folded}");
    assert!(!rollups.is_empty());
    assert_eq!(rollups[0]["width_secs"], 600);
    assert_eq!(rollups[0]["mean"], 1.0);
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_describes_every_route_and_every_parameter() {
    let server = Server::start().await;
    let response = server.get("/api/v1/openapi.json").await;
    assert_eq!(response.status, 200);
    let spec = response.json();
    assert!(spec["openapi"].as_str().unwrap().starts_with("3."));
    let paths = spec["paths"].as_object().unwrap();
    for route in blackout_api::ROUTES {
        assert!(
            paths.contains_key(*route),
            "{route} is not in the OpenAPI description"
        );
    }
    for path in paths.keys() {
        assert!(
            blackout_api::ROUTES.contains(&path.as_str()),
            "{path} is described but not served"
        );
    }
    let schemas = spec["components"]["schemas"].as_object().unwrap();
    for (path, item) in paths {
        let get = &item["get"];
        assert!(get.is_object(), "{path} has a GET");
        for code in ["200", "400", "405", "414", "431"] {
            assert!(
                get["responses"][code].is_object(),
                "{path} documents {code}"
            );
        }
        // Every $ref resolves.
        let text = item.to_string();
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece.chars().take_while(|c| c.is_alphanumeric()).collect();
            assert!(
                schemas.contains_key(&name),
                "{path}: {name} is not a schema"
            );
        }
        // A concrete URL for the path (sample values for path parameters).
        let url = path
            .replace("{id}", &server.dark.id.0)
            .replace("{name}", "app.js");
        if path == "/api/v1/stream" {
            continue;
        }
        let required: Vec<String> = get["parameters"]
            .as_array()
            .map(|ps| {
                ps.iter()
                    .filter(|p| p["in"] == "query" && p["required"] == true)
                    .map(|p| p["name"].as_str().unwrap().to_string())
                    .collect()
            })
            .unwrap_or_default();
        let base = if required.is_empty() {
            url.clone()
        } else {
            format!("{url}?entity=prefix:175.45.176.0/24&signal=bgp.visibility")
        };
        let answer = server.get(&base).await;
        assert_eq!(answer.status, 200, "{base}: {}", answer.text());
        // Every documented query parameter is accepted (empty means absent)...
        if let Some(parameters) = get["parameters"].as_array() {
            for p in parameters.iter().filter(|p| p["in"] == "query") {
                let name = p["name"].as_str().unwrap();
                if required.iter().any(|r| r == name) {
                    continue;
                }
                let joiner = if base.contains('?') { '&' } else { '?' };
                let with = format!("{base}{joiner}{name}=");
                let answer = server.get(&with).await;
                assert_eq!(answer.status, 200, "{with}: {}", answer.text());
            }
        }
        // ... and an undocumented one is refused.
        if path.starts_with("/api/") {
            let joiner = if base.contains('?') { '&' } else { '?' };
            server
                .get(&format!("{base}{joiner}bogus=1"))
                .await
                .assert_error(400, "bad_query");
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bmp_feed_s_router_is_in_the_status_as_the_openapi_describes_it() {
    let server = Server::start().await;
    let status = server.get("/api/v1/status").await.json();
    let spec = server.get("/api/v1/openapi.json").await.json();
    let schemas = &spec["components"]["schemas"];
    // Each object has exactly the properties its schema names, all of the required.
    let check = |value: &Value, schema: &str| {
        let object = value
            .as_object()
            .unwrap_or_else(|| panic!("{schema}: {value}"));
        let properties: Vec<&String> = schemas[schema]["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("no schema {schema}"))
            .keys()
            .collect();
        let keys: Vec<&String> = object.keys().collect();
        assert_eq!(keys.len(), properties.len(), "{schema}: {keys:?}");
        for key in keys {
            assert!(properties.contains(&key), "{schema} lacks {key}");
        }
        for required in schemas[schema]["required"].as_array().unwrap() {
            assert!(object.contains_key(required.as_str().unwrap()));
        }
    };
    let feed = &status["feeds"][0];
    check(feed, "FeedStatus");
    let router = &feed["router"];
    check(router, "RouterStatus");
    check(&router["skipped"][0], "SkippedStatus");
    check(&router["peers"][1], "BmpPeerStatus");
    check(&router["peer_downs"][0], "PeerDownStatus");
    assert_eq!(router["views_used"][0], "post-policy");
    assert_eq!(router["peers"][1]["state"], "down");
    assert_eq!(router["peers"][1]["reason_code"], 3);
    assert_eq!(router["peer_downs"][0]["routes"], 4);
    assert_eq!(feed["why_no_routes"], Value::Null);
    // Each vantage point's row, and its latest result, as described.
    for row in status["vantages"].as_array().unwrap() {
        check(row, "VantageStatus");
        check(&row["last"], "VantageResult");
    }
    assert_eq!(status["vantages"][1]["name"], "paris");
    assert_eq!(status["vantages"][1]["state"], "down");
    assert_eq!(status["vantages"][2]["last"]["rtt_ms"], 41.5);
}
