//! `/api/v1/entities` and the overview page at the global view's size: 250 countries
//! and 70,000 ASes, a few of them in trouble. The list pages by entity; the page
//! shows a page per table (never the whole list) in headless Chromium, with
//! sparklines from the store's series and links to each entity's page.

use crate::browser::Browser;
use crate::common::{HOSTILE, Server, dark_status, program, skipped};
use blackout_api::{EntityState, Status, WatchedEntities, WatchedEntity};
use blackout_model::{Cause, SeriesPoint, Timestamp};
use serde_json::Value;
use std::path::PathBuf;
use std::time::Duration;

const COUNTRIES: usize = 250;
const ASES: u32 = 70_000;

/// A two-letter code for each of 250 countries (`AA`, `AB`, ...), with IR and SY in.
fn country_code(i: usize) -> String {
    let letters = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ";
    let code = [letters[i / 26 % 26], letters[i % 26]];
    String::from_utf8(code.to_vec()).unwrap()
}

/// Which are in trouble: 3 countries down (IR among them), 5 degraded; every 1,000th
/// AS down, every 700th degraded (the down ones win).
fn state_of_country(code: &str, i: usize) -> EntityState {
    if code == "IR" || i % 97 == 3 {
        EntityState::Down
    } else if i % 50 == 7 {
        EntityState::Degraded
    } else {
        EntityState::Up
    }
}

fn state_of_as(asn: u32) -> EntityState {
    if asn.is_multiple_of(1000) {
        EntityState::Down
    } else if asn.is_multiple_of(700) {
        EntityState::Degraded
    } else {
        EntityState::Up
    }
}

fn global_status(now: Timestamp, base: Status) -> Status {
    let mut rows = Vec::new();
    for i in 0..COUNTRIES {
        let code = country_code(i);
        let state = state_of_country(&code, i);
        let trouble = state != EntityState::Up;
        rows.push(WatchedEntity {
            entity: format!("country:{code}"),
            kind: "country".into(),
            name: if code == "IR" {
                format!("Iran {HOSTILE}")
            } else {
                format!("Country {code}")
            },
            state,
            since: trouble.then(|| now.add_secs(-3600)),
            cause: trouble.then_some(if state == EntityState::Down {
                Cause::Internal
            } else {
                Cause::Partial
            }),
            event_id: None,
            prefixes: Some(1200),
            dark: Some(match state {
                EntityState::Down => 1200,
                EntityState::Degraded => 300,
                _ => 0,
            }),
            visibility: Some(match state {
                EntityState::Down => 0.0,
                EntityState::Degraded => 0.75,
                _ => 1.0,
            }),
        });
    }
    // ASes in a scrambled order: the list sorts them by number.
    for k in 0..ASES {
        let asn = (k * 7919) % ASES + 1;
        let state = state_of_as(asn);
        let trouble = state != EntityState::Up;
        rows.push(WatchedEntity {
            entity: format!("as:{asn}"),
            kind: "as".into(),
            name: format!("AS{asn} Network"),
            state,
            since: trouble.then(|| now.add_secs(-600)),
            cause: trouble.then_some(Cause::Internal),
            event_id: None,
            prefixes: Some(4),
            dark: Some(if trouble { 4 } else { 0 }),
            visibility: Some(if trouble { 0.0 } else { 1.0 }),
        });
    }
    rows.push(WatchedEntity::from(&base.vantage));
    rows.extend(base.entities.iter().map(WatchedEntity::from));
    Status {
        watched: WatchedEntities::new(rows),
        ..base
    }
}

async fn get_json(server: &Server, path: &str) -> Value {
    let response = server.get(path).await;
    assert_eq!(response.status, 200, "{path}: {}", response.text());
    response.json()
}

#[tokio::test(flavor = "multi_thread")]
async fn entities_page_through_250_countries_and_70000_ases() {
    let server = Server::start().await;
    let status = global_status(server.now, dark_status(server.now, &server.dark));
    assert_eq!(status.watched.len(), COUNTRIES + ASES as usize + 2);
    server.publisher.publish_status(status);

    // The countries in trouble: down first asked, in code order, with the counts.
    let page = get_json(&server, "/api/v1/entities?kind=country&state=down").await;
    let down: Vec<&str> = page["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity"].as_str().unwrap())
        .collect();
    let expected: Vec<String> = (0..COUNTRIES)
        .filter(|i| state_of_country(&country_code(*i), *i) == EntityState::Down)
        .map(|i| format!("country:{}", country_code(i)))
        .collect();
    assert_eq!(down, expected);
    assert!(down.contains(&"country:IR"));
    assert_eq!(page["total"], expected.len());
    assert_eq!(page["next"], Value::Null);
    assert_eq!(page["states"]["down"], expected.len());
    let degraded = (0..COUNTRIES)
        .filter(|i| state_of_country(&country_code(*i), *i) == EntityState::Degraded)
        .count();
    assert_eq!(page["states"]["degraded"], degraded);
    assert_eq!(page["states"]["up"], COUNTRIES - expected.len() - degraded);
    let iran = page["entities"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["entity"] == "country:IR")
        .unwrap();
    assert_eq!(iran["kind"], "country");
    assert_eq!(iran["state"], "down");
    assert_eq!(iran["cause"], "internal");
    assert_eq!(iran["dark"], 1200);
    assert_eq!(iran["prefixes"], 1200);
    assert_eq!(iran["visibility"], 0.0);
    assert_eq!(iran["name"], format!("Iran {HOSTILE}"));

    // Every AS, a page of 1,000 at a time: each once, in number order.
    let mut after = String::new();
    let mut seen: Vec<u64> = Vec::new();
    let mut pages = 0;
    loop {
        let path = format!("/api/v1/entities?kind=as&limit=1000&after={after}");
        let page = get_json(&server, &path).await;
        assert_eq!(page["total"], ASES);
        let entities = page["entities"].as_array().unwrap();
        assert!(entities.len() <= 1000);
        seen.extend(
            entities
                .iter()
                .map(|e| e["entity"].as_str().unwrap()[3..].parse::<u64>().unwrap()),
        );
        pages += 1;
        match page["next"].as_str() {
            Some(next) => after = next.to_string(),
            None => break,
        }
    }
    assert_eq!(pages, 70);
    assert_eq!(seen, (1..=u64::from(ASES)).collect::<Vec<_>>());

    // The ASes in trouble, both states, paged by 25 with the default order.
    let trouble = (1..=ASES)
        .filter(|a| state_of_as(*a) != EntityState::Up)
        .count();
    let page = get_json(
        &server,
        "/api/v1/entities?kind=as&state=down,degraded&limit=25",
    )
    .await;
    assert_eq!(page["total"], trouble);
    assert_eq!(page["entities"].as_array().unwrap().len(), 25);
    assert_eq!(page["entities"][0]["entity"], "as:700");
    assert_eq!(page["entities"][1]["entity"], "as:1000");
    assert_eq!(page["next"], page["entities"][24]["entity"]);
    let next = page["next"].as_str().unwrap();
    let second = get_json(
        &server,
        &format!("/api/v1/entities?kind=as&state=down,degraded&limit=25&after={next}"),
    )
    .await;
    let first_of_second = second["entities"][0]["entity"].as_str().unwrap();
    let asn = |e: &str| e[3..].parse::<u32>().unwrap();
    assert!(asn(first_of_second) > asn(next));

    // Without filters: every kind, 100 by default, countries first.
    let all = get_json(&server, "/api/v1/entities").await;
    assert_eq!(all["total"], COUNTRIES + ASES as usize + 2);
    assert_eq!(all["entities"].as_array().unwrap().len(), 100);
    assert_eq!(all["entities"][0]["entity"], "country:AA");
    // The other kinds of entity are in the list too.
    let hosts = get_json(&server, "/api/v1/entities?kind=host,vantage").await;
    let kinds: Vec<&str> = hosts["entities"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["entity"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["host:kcna.kp", "vantage:local"]);

    // A name search, case-insensitive.
    let found = get_json(&server, "/api/v1/entities?q=iran").await;
    assert_eq!(found["total"], 1);
    assert_eq!(found["entities"][0]["entity"], "country:IR");
    let found = get_json(&server, "/api/v1/entities?kind=as&q=AS6999%20").await;
    assert_eq!(found["entities"][0]["entity"], "as:6999");

    // Mistakes say which part is wrong.
    for (query, code) in [
        ("kind=planet", "unknown_kind"),
        ("state=sideways", "unknown_state"),
        ("limit=0", "bad_limit"),
        ("limit=1001", "bad_limit"),
        ("after=planet:earth", "bad_entity"),
        ("kinds=as", "bad_query"),
    ] {
        server
            .get(&format!("/api/v1/entities?{query}"))
            .await
            .assert_error(400, code);
    }
}

fn chromium() -> Option<PathBuf> {
    program("chromium").or_else(|| program("chromium-browser"))
}

#[tokio::test(flavor = "multi_thread")]
async fn chromium_shows_the_overview_a_page_at_a_time_with_sparklines() {
    let Some(binary) = chromium() else {
        skipped(
            "chromium is not installed (apt-get install -y chromium): the overview was not loaded in a browser",
        );
        return;
    };
    let server = Server::start().await;
    let status = global_status(server.now, dark_status(server.now, &server.dark));
    server.publisher.publish_status(status);
    // A day of Iran's visibility, dark for the last hour; AS1000 dark for ten minutes.
    let mut points = Vec::new();
    for minute in (0..24 * 60).step_by(10) {
        let at = server.now.add_secs(-86_400 + minute * 60);
        let value = if minute >= 23 * 60 {
            0.0
        } else {
            0.97 + (minute % 3) as f64 * 0.01
        };
        points.push(SeriesPoint::new(
            "country:IR".parse().unwrap(),
            "bgp.visibility".parse().unwrap(),
            at,
            value,
        ));
    }
    for (secs, value) in [(-7200, 1.0), (-600, 0.0)] {
        points.push(SeriesPoint::new(
            "as:1000".parse().unwrap(),
            "bgp.visibility".parse().unwrap(),
            server.now.add_secs(secs),
            value,
        ));
    }
    blackout_store::Store::open(&server.db)
        .unwrap()
        .record_signals(&points)
        .unwrap();

    let mut browser = Browser::start(&binary).await;
    browser
        .navigate(&format!("http://{}/overview", server.addr))
        .await;
    let dom = browser
        .wait_for(Duration::from_secs(20), |dom| {
            dom.contains("data-loaded=\"true\"") && dom.matches("<polyline").count() >= 2
        })
        .await;
    let countries_in = |state| {
        (0..COUNTRIES)
            .filter(|i| state_of_country(&country_code(*i), *i) == state)
            .count()
    };
    let down_countries = countries_in(EntityState::Down);
    let degraded_countries = countries_in(EntityState::Degraded);
    let trouble_countries = down_countries + degraded_countries;
    let trouble_ases = (1..=ASES)
        .filter(|a| state_of_as(*a) != EntityState::Up)
        .count();
    for wanted in [
        format!(
            "{} countries and ASes in trouble now",
            trouble_countries + trouble_ases
        ),
        "href=\"/?entity=country%3AIR\"".to_string(),
        "href=\"/?entity=as%3A1000\"".to_string(),
        "Iran &lt;img src=x id=injected".to_string(),
        "1200 of 1200".to_string(),
        format!("1–25 of {trouble_ases}"),
        format!("{COUNTRIES} countries: {down_countries} down, {degraded_countries} degraded"),
        server.dark.summary.clone(),
        server.cut.summary.clone(),
    ] {
        assert!(
            dom.contains(&wanted),
            "the overview lacks {wanted:?}:\n{dom}"
        );
    }
    // Sparklines for the entities with series, Iran's and AS1000's; the events'
    // entities (country:KP, upstream:20485) have no visibility series: a dash.
    assert_eq!(dom.matches("<polyline").count(), 2, "sparklines:\n{dom}");
    assert!(dom.contains("aria-label=\"country:IR visibility, last 24 h\""));
    // What came from the network stays text.
    assert_eq!(
        browser
            .eval("document.getElementById('injected') === null && typeof window.pwned === 'undefined'")
            .await,
        Value::Bool(true)
    );
    // No giant DOM: a page of 25 per table, whatever the 70,000 ASes.
    let rows = browser
        .eval("document.querySelectorAll('#ases tbody tr').length")
        .await;
    assert_eq!(rows, 25);
    let elements = browser
        .eval("document.getElementsByTagName('*').length")
        .await
        .as_u64()
        .unwrap();
    assert!(elements < 3000, "{elements} elements on the page");

    // The next page of ASes.
    browser
        .eval("document.querySelectorAll('#ases-pager button')[1].click()")
        .await;
    let dom = browser
        .wait_for(Duration::from_secs(10), |dom| {
            dom.contains(&format!("26–50 of {trouble_ases}"))
        })
        .await;
    assert!(
        dom.contains(&format!("26–50 of {trouble_ases}")),
        "the second page:\n{dom}"
    );
    // A search finds one AS among 70,000.
    browser
        .eval("document.getElementById('find-text').value = 'AS6999 '; document.querySelector('#find button').click()")
        .await;
    let dom = browser
        .wait_for(Duration::from_secs(10), |dom| {
            dom.contains("AS6999 Network")
        })
        .await;
    assert!(dom.contains("href=\"/?entity=as%3A6999\""), "{dom}");

    let png = browser.screenshot(1280).await;
    assert!(png.starts_with(b"\x89PNG"), "a PNG");
    let shot = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("overview.png");
    std::fs::write(&shot, &png).unwrap();
    assert!(
        png.len() > 20_000,
        "screenshot {} is {} bytes",
        shot.display(),
        png.len()
    );
    eprintln!("overview screenshot: {}", shot.display());
}
