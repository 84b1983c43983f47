//! `blackout report` end to end: on a database `blackout replay --db` wrote from
//! MRT files built in the test, and on the December 2014 North Korea outage laid
//! into a store, rendered to PNG with headless chromium when it is installed; the
//! chart as a PNG drawn by blackout itself.

mod support;

use blackout_model::{
    Asn, Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use blackout_model::{Measure, SeriesPoint, UpdateKind};
use blackout_store::Store;
use support::*;

/// 2025-01-01T00:00:00Z.
const T0: f64 = 1_735_689_600.0;

fn all(t: f64, announce: bool) -> Vec<bgpkit_parser::BgpElem> {
    let mut elems = Vec::new();
    for n in 1..=4u8 {
        for prefix in PREFIXES {
            let path: Vec<u32> = if n <= 2 {
                vec![64510 + u32::from(n), PRIMARY, ORIGIN]
            } else {
                vec![64510 + u32::from(n), BACKUP, ORIGIN, ORIGIN, ORIGIN]
            };
            elems.push(elem(
                t + f64::from(n),
                n,
                prefix,
                announce.then_some(path.as_slice()),
            ));
        }
    }
    elems
}

fn ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Every prefix withdrawn at 00:10 and back 9.5 h later, replayed into a database.
fn replayed_outage(scratch: &Scratch) -> (std::path::PathBuf, String) {
    scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    scratch.write_gz(
        "rrc00/updates.20250101.0010.gz",
        &updates(&all(T0 + 600.0, false)),
    );
    scratch.write_gz(
        "rrc00/updates.20250101.0940.gz",
        &updates(&all(T0 + 600.0 + 34_200.0, true)),
    );
    // A later update moves time past the recovery hold.
    scratch.write_gz(
        "rrc00/updates.20250101.1100.gz",
        &updates(&[elem(
            T0 + 39_600.0,
            1,
            "203.0.113.0/26",
            Some(&[64511, PRIMARY, ORIGIN]),
        )]),
    );
    let db = scratch.path("blackout.db");
    let profile = scratch.profile();
    let output = blackout(
        &[
            "replay",
            "--config",
            profile.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
            scratch.path("rrc00").to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    ok(&output);
    let listed = blackout(
        &["events", "--db", db.to_str().unwrap(), "--format", "json"],
        &scratch.path(""),
    );
    ok(&listed);
    let events = json_lines(&listed);
    let internal = events
        .iter()
        .find(|e| e["cause"] == "internal")
        .unwrap_or_else(|| panic!("no internal event in {events:#?}"));
    (db, internal["id"].as_str().unwrap().to_string())
}

#[test]
fn report_of_a_replayed_outage_as_html_and_svg() {
    let scratch = Scratch::new();
    let (db, id) = replayed_outage(&scratch);
    let profile = scratch.profile();
    let out = scratch.path("report.html");
    let output = blackout(
        &[
            "report",
            &id,
            "--db",
            db.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
            "--config",
            profile.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    ok(&output);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(
        html.contains("<h1>Test origin was dark for 9 h 30 m on 2025-01-01</h1>"),
        "{}",
        &html[..html.len().min(2000)]
    );
    assert!(html.contains("Internal failure."));
    // Visibility of the four prefixes and the two upstreams' shares, from the replay
    assert_eq!(
        html.matches("<polyline").count(),
        6,
        "4 prefixes + 2 upstreams"
    );
    assert!(html.contains("AS64501 (Primary)") && html.contains("AS64502 (Backup)"));
    assert!(html.contains("203.0.113.128/26"));

    let svg_out = scratch.path("chart.svg");
    let output = blackout(
        &[
            "report",
            &id,
            "--db",
            db.to_str().unwrap(),
            "--out",
            svg_out.to_str().unwrap(),
            "--config",
            profile.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    ok(&output);
    let svg = std::fs::read_to_string(&svg_out).unwrap();
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("Test origin was dark for 9 h 30 m"));
    assert!(!svg.contains("<html"));
}

/// The width and height a PNG's header declares.
fn png_size(png: &[u8]) -> (u32, u32) {
    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the PNG signature");
    assert_eq!(&png[12..16], b"IHDR", "the header chunk comes first");
    let word = |at: usize| u32::from_be_bytes(png[at..at + 4].try_into().unwrap());
    (word(16), word(20))
}

#[test]
fn report_of_a_replayed_outage_as_png() {
    let scratch = Scratch::new();
    let (db, id) = replayed_outage(&scratch);
    let profile = scratch.profile();
    let report = |out: &std::path::Path, fontconfig: Option<&std::path::Path>| {
        let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_blackout"));
        command
            .args(["report", &id, "--db", db.to_str().unwrap(), "--out"])
            .arg(out)
            .args(["--config", profile.to_str().unwrap()])
            .current_dir(scratch.path(""));
        if let Some(file) = fontconfig {
            command.env("FONTCONFIG_FILE", file);
        }
        command.output().unwrap()
    };
    let svg_out = scratch.path("chart.svg");
    ok(&report(&svg_out, None));
    let svg = std::fs::read_to_string(&svg_out).unwrap();
    let svg_height: u32 = svg
        .split_once(" height=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(height, _)| height.parse().unwrap())
        .unwrap();

    let png_out = scratch.path("chart.png");
    let output = report(&png_out, None);
    ok(&output);
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("wrote the chart of"),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let png = std::fs::read(&png_out).unwrap();
    // Twice the SVG's size.
    assert_eq!(png_size(&png), (1920, 2 * svg_height));
    let image = resvg::tiny_skia::Pixmap::decode_png(&png).expect("a PNG that decodes");
    assert_eq!((image.width(), image.height()), png_size(&png));
    let first = image.pixels()[0];
    let differing = image.pixels().iter().filter(|p| **p != first).count();
    // Lines, text, axes and the shaded span: far more than a few stray pixels.
    assert!(
        differing > image.pixels().len() / 50,
        "{differing} of {} pixels differ from the first",
        image.pixels().len()
    );
    let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::write(keep.join("report-replayed-chart.png"), &png);

    // Where no font can be found, no image without its words: a clear error.
    std::fs::create_dir_all(scratch.path("no-fonts")).unwrap();
    let fontconfig = scratch.path("fonts.conf");
    std::fs::write(
        &fontconfig,
        format!(
            "<?xml version=\"1.0\"?>\n<fontconfig><dir>{}</dir></fontconfig>\n",
            scratch.path("no-fonts").display()
        ),
    )
    .unwrap();
    let unfonted = scratch.path("unfonted.png");
    let output = report(&unfonted, Some(&fontconfig));
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no font found") && stderr.contains("fonts-dejavu-core"),
        "{stderr}"
    );
    assert!(!unfonted.exists());
}

#[test]
fn an_unknown_event_or_a_missing_database_fails_clearly() {
    let scratch = Scratch::new();
    let (db, _) = replayed_outage(&scratch);
    let out = scratch.path("report.html");
    let output = blackout(
        &[
            "report",
            "ev-0-nonexistent",
            "--db",
            db.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no event `ev-0-nonexistent`"), "{stderr}");
    assert!(!out.exists());

    let output = blackout(
        &[
            "report",
            "ev-1",
            "--db",
            scratch.path("missing.db").to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("no database at"), "{stderr}");
    assert!(!scratch.path("missing.db").exists(), "not created");

    // No --out is a usage error
    let output = blackout(&["report", "ev-1"], &scratch.path(""));
    assert_eq!(output.status.code(), Some(2));
}

fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// North Korea, 2014-12-22 16:40 to 2014-12-23 02:10 UTC, into a store.
fn north_korea_2014(path: &std::path::Path) -> String {
    let start = t("2014-12-22T16:40:00Z");
    let end = t("2014-12-23T02:10:00Z");
    let prefixes = [
        "175.45.176.0/24",
        "175.45.177.0/24",
        "175.45.178.0/24",
        "175.45.179.0/24",
    ];
    let entity = Entity::Country("KP".into());
    let event = Event {
        id: EventId::derive(&entity, start, Cause::Internal),
        entity,
        cause: Cause::Internal,
        severity: Severity::Critical,
        confidence: 0.9,
        start,
        end: Some(end),
        scope: Scope {
            prefixes: prefixes.iter().map(|p| p.parse().unwrap()).collect(),
            upstreams: vec![Asn(4837)],
            hosts: vec![],
            services: vec![],
            families: vec![],
        },
        summary: "All four of North Korea's prefixes were withdrawn at once by its only upstream, China Unicom".into(),
        evidence: vec![
            Evidence {
                at: t("2014-12-22T15:50:00Z"),
                signal: SignalKind::BgpVisibility,
                text: "175.45.178.0/24 withdrawn and announced again 3 times in 40 minutes".into(),
                value: Some(0.6),
            },
            Evidence {
                at: start,
                signal: SignalKind::BgpUpstream,
                text: "AS4837 stopped carrying all 4 prefixes at once".into(),
                value: Some(0.0),
            },
            Evidence {
                at: start.add_secs(60),
                signal: SignalKind::BgpVisibility,
                text: "all 4 prefixes seen by 0 of 38 full-feed peers".into(),
                value: Some(0.0),
            },
            Evidence {
                at: end,
                signal: SignalKind::BgpVisibility,
                text: "all 4 prefixes back, seen by 37 of 38 full-feed peers".into(),
                value: Some(0.97),
            },
        ],
    };
    let mut points = Vec::new();
    for step in 0..=216 {
        let at = t("2014-12-22T12:00:00Z").add_secs(step * 300);
        for (index, prefix) in prefixes.iter().enumerate() {
            let flapping = index == 2 && at >= t("2014-12-22T15:50:00Z") && at < start;
            let value = if at >= start && at < end {
                0.0
            } else if flapping && step % 2 == 0 {
                0.55
            } else {
                0.97
            };
            let entity = Entity::Prefix(prefix.parse().unwrap());
            points.push(SeriesPoint::new(
                entity.clone(),
                Measure::Visibility,
                at,
                value,
            ));
            points.push(SeriesPoint::new(
                entity,
                Measure::UpstreamShare(Asn(4837)),
                at,
                if value > 0.0 { 1.0 } else { 0.0 },
            ));
        }
    }
    let mut store = Store::open(path).unwrap();
    store.record_events(&[(UpdateKind::Ended, &event)]).unwrap();
    store.record_signals(&points).unwrap();
    event.id.0
}

/// chromium, if installed.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

#[test]
fn the_north_korea_2014_report_renders_in_a_browser() {
    let scratch = Scratch::new();
    let db = scratch.path("blackout.db");
    let id = north_korea_2014(&db);
    let out = scratch.path("kp-2014.html");
    // The built-in kp profile names North Korea and China Unicom.
    let output = blackout(
        &[
            "report",
            &id,
            "--db",
            db.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    ok(&output);
    let html = std::fs::read_to_string(&out).unwrap();
    assert!(html.contains("<h1>North Korea was dark for 9 h 30 m on 2014-12-22/23</h1>"));
    assert!(html.contains("AS4837 (China Unicom)"));

    let Some(browser) = chromium() else {
        eprintln!(
            "SKIPPED: chromium is not installed (apt-get install chromium): the PNG rendering was not checked"
        );
        return;
    };
    let png = screenshot(browser, &scratch, &out, "1000,1800");
    // A blank page compresses to a few KB; text and charts make it much larger.
    assert!(png.len() > 40_000, "{} bytes", png.len());

    // The chart alone, as SVG, renders too.
    let svg = scratch.path("kp-2014.svg");
    ok(&blackout(
        &[
            "report",
            &id,
            "--db",
            db.to_str().unwrap(),
            "--out",
            svg.to_str().unwrap(),
        ],
        &scratch.path(""),
    ));
    let svg_png = screenshot(browser, &scratch, &svg, "960,700");
    assert!(svg_png.len() > 15_000, "{} bytes", svg_png.len());

    // Kept for a person to look at.
    let keep = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    let _ = std::fs::write(keep.join("report-kp-2014.png"), &png);
    let _ = std::fs::write(keep.join("report-kp-2014-chart.png"), &svg_png);
    let _ = std::fs::copy(&out, keep.join("report-kp-2014.html"));
    eprintln!("rendered to {}", keep.display());
}

/// Renders `file` with headless chromium and returns the PNG.
fn screenshot(browser: &str, scratch: &Scratch, file: &std::path::Path, size: &str) -> Vec<u8> {
    let png = file.with_extension("png");
    let rendered = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--window-size={size}"))
        .arg(format!(
            "--user-data-dir={}",
            scratch.path("chromium-profile").display()
        ))
        .arg(format!("--screenshot={}", png.display()))
        .arg(format!("file://{}", file.display()))
        .output()
        .unwrap();
    let bytes = std::fs::read(&png).unwrap_or_else(|_| {
        panic!(
            "chromium wrote no screenshot of {}: {}",
            file.display(),
            String::from_utf8_lossy(&rendered.stderr)
        )
    });
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n"));
    bytes
}
