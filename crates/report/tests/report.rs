//! Reports from a real store: the December 2014 North Korea outage laid into a
//! SQLite store, gathered and rendered.

use blackout_model::{
    Asn, Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use blackout_model::{Measure, SeriesPoint, UpdateKind};
use blackout_report::{
    Fonts, Format, Labels, PNG_SCALE, PngError, gather, render_html, render_html_with,
    render_png_with, render_svg_with,
};
use blackout_store::Store;
use resvg::tiny_skia::Pixmap;
use std::path::Path;

const PREFIXES: [&str; 4] = [
    "175.45.176.0/24",
    "175.45.177.0/24",
    "175.45.178.0/24",
    "175.45.179.0/24",
];

fn t(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// North Korea dark from 2014-12-22 16:40 to 2014-12-23 02:10 UTC.
fn outage(summary: &str) -> Event {
    let start = t("2014-12-22T16:40:00Z");
    let entity = Entity::Country("KP".into());
    Event {
        id: EventId::derive(&entity, start, Cause::Internal),
        entity,
        cause: Cause::Internal,
        severity: Severity::Critical,
        confidence: 0.9,
        start,
        end: Some(t("2014-12-23T02:10:00Z")),
        scope: Scope {
            prefixes: PREFIXES.iter().map(|p| p.parse().unwrap()).collect(),
            upstreams: vec![Asn(4837)],
            hosts: vec![],
            services: vec![],
            families: vec![],
        },
        summary: summary.into(),
        evidence: vec![
            Evidence {
                at: t("2014-12-22T15:55:00Z"),
                signal: SignalKind::BgpVisibility,
                text: "175.45.178.0/24 withdrawn and announced again 3 times in an hour".into(),
                value: Some(0.6),
            },
            Evidence {
                at: start,
                signal: SignalKind::BgpUpstream,
                text: "AS4837 stopped carrying all 4 prefixes at once".into(),
                value: Some(0.0),
            },
            Evidence {
                at: start,
                signal: SignalKind::BgpVisibility,
                text: "all 4 prefixes seen by 0 of 38 full-feed peers".into(),
                value: Some(0.0),
            },
            Evidence {
                at: t("2014-12-23T02:10:00Z"),
                signal: SignalKind::BgpVisibility,
                text: "all 4 prefixes back, seen by 37 of 38 full-feed peers".into(),
                value: Some(0.97),
            },
        ],
    }
}

/// Visibility and upstream share of every prefix, every 10 minutes from 12:00 on
/// the 22nd to 06:00 on the 23rd, plus a prefix the event does not touch.
fn points() -> Vec<SeriesPoint> {
    let mut points = Vec::new();
    let from = t("2014-12-22T12:00:00Z");
    let dark_from = t("2014-12-22T16:40:00Z");
    let dark_until = t("2014-12-23T02:10:00Z");
    for step in 0..=108 {
        let at = from.add_secs(step * 600);
        for (index, prefix) in PREFIXES.iter().enumerate() {
            let flapping = index == 2 && at >= t("2014-12-22T15:40:00Z") && at < dark_from;
            let value = if at >= dark_from && at < dark_until {
                0.0
            } else if flapping {
                if step % 2 == 0 { 0.6 } else { 0.95 }
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
        points.push(SeriesPoint::new(
            Entity::Prefix("192.0.2.0/24".parse().unwrap()),
            Measure::Visibility,
            at,
            1.0,
        ));
    }
    points
}

/// An upstream event in the window, and one long after it.
fn other_events() -> (Event, Event) {
    let entity = Entity::Upstream(Asn(4837));
    let start = t("2014-12-22T16:40:00Z");
    let near = Event {
        id: EventId::derive(&entity, start, Cause::UpstreamCut),
        entity: entity.clone(),
        cause: Cause::UpstreamCut,
        severity: Severity::Warning,
        confidence: 0.7,
        start,
        end: Some(t("2014-12-23T02:10:00Z")),
        scope: Scope::default(),
        summary: "AS4837 no longer carries the routes".into(),
        evidence: vec![],
    };
    let later = t("2015-03-01T00:00:00Z");
    let far = Event {
        id: EventId::derive(&entity, later, Cause::Flap),
        start: later,
        end: Some(later.add_secs(600)),
        cause: Cause::Flap,
        ..near.clone()
    };
    (near, far)
}

fn store_with(dir: &Path, event: &Event) -> std::path::PathBuf {
    let path = dir.join("blackout.db");
    let mut store = Store::open(&path).unwrap();
    let (near, far) = other_events();
    store
        .record_events(&[
            (UpdateKind::Ended, event),
            (UpdateKind::Ended, &near),
            (UpdateKind::Ended, &far),
        ])
        .unwrap();
    store.record_signals(&points()).unwrap();
    path
}

fn labels() -> Labels {
    Labels::from([
        ("country:KP".to_string(), "North Korea".to_string()),
        ("upstream:4837".to_string(), "China Unicom".to_string()),
    ])
}

#[test]
fn gathers_the_event_its_prefixes_and_the_events_beside_it() {
    let dir = tempfile::tempdir().unwrap();
    let event = outage("North Korea's four prefixes were withdrawn by its only upstream");
    let path = store_with(dir.path(), &event);
    let store = Store::open_read_only(&path).unwrap();
    let data = gather(&store, &event.id.0).unwrap().unwrap();
    assert_eq!(data.event, event);
    // Four prefixes with two series each; the unrelated 192.0.2.0/24 left out
    assert_eq!(data.series.len(), 8);
    assert!(
        data.series
            .iter()
            .all(|(key, _)| key.entity.to_string().starts_with("prefix:175.45.17"))
    );
    // The window is two hours either side: 14:40 on the 22nd to 04:10 on the 23rd
    let (_, first) = &data.series[0];
    assert!(first.first().unwrap().0 >= t("2014-12-22T14:40:00Z"));
    assert!(first.last().unwrap().0 < t("2014-12-23T04:10:00Z"));
    // The value as the window opened is carried to its start
    assert_eq!(first.first().unwrap().0, t("2014-12-22T14:40:00Z"));
    // The upstream event overlaps; the one in March does not
    assert_eq!(data.related.len(), 1);
    assert_eq!(data.related[0].cause, Cause::UpstreamCut);
    assert!(gather(&store, "ev-nonexistent").unwrap().is_none());
}

#[test]
fn the_html_report_reads_well_and_escapes_everything() {
    let dir = tempfile::tempdir().unwrap();
    let event = outage("Routes withdrawn <script>alert(1)</script> & gone");
    let path = store_with(dir.path(), &event);
    let store = Store::open_read_only(&path).unwrap();
    let data = gather(&store, &event.id.0).unwrap().unwrap();
    let html = render_html_with(&data.event, &data.series, &data.related, &labels());

    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(
        html.contains("<h1>North Korea was dark for 9 h 30 m on 2014-12-22/23</h1>"),
        "headline"
    );
    // The cause, explained
    assert!(html.contains("Internal failure. Every upstream provider stopped carrying"));
    // The facts: through which upstream, how sure
    assert!(html.contains("AS4837 (China Unicom)"));
    assert!(html.contains("high (0.90)"));
    // A chart with the lines, the shaded span and the evidence marks
    assert!(html.contains("<svg"));
    assert_eq!(
        html.matches("<polyline").count(),
        5,
        "4 prefixes + 1 upstream"
    );
    assert_eq!(
        html.matches("class=\"span\"").count(),
        2,
        "one band per panel"
    );
    assert_eq!(
        html.matches("class=\"evidence\"").count(),
        8,
        "4 marks per panel"
    );
    // The timeline, in order, and the event beside it
    let first = html.find("withdrawn and announced again").unwrap();
    let back = html.find("all 4 prefixes back").unwrap();
    assert!(first < back);
    assert!(html.contains("AS4837 no longer carries the routes"));
    assert!(html.contains("How this was measured"));
    // Nothing from the data becomes markup; nothing is fetched
    assert!(!html.contains("<script>"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt; &amp; gone"));
    assert!(!html.contains("src="));
    assert!(!html.contains("href="));
    // Pure: the same data gives the same bytes
    assert_eq!(
        html,
        render_html_with(&data.event, &data.series, &data.related, &labels())
    );
}

#[test]
fn without_labels_or_data_the_report_still_says_what_it_knows() {
    let mut event = outage("dark");
    event.end = None;
    let html = render_html(&event, &[], &[]);
    assert!(html.contains("<h1>country:KP has been dark since 2014-12-22 16:40 UTC</h1>"));
    assert!(html.contains("no data stored for this window"));
    assert!(html.contains("still going on"));
}

#[test]
fn the_svg_is_the_chart_alone_and_well_formed() {
    let dir = tempfile::tempdir().unwrap();
    let mut event = outage("dark");
    event.evidence[0].text = "<b>bold</b>".into();
    let path = store_with(dir.path(), &event);
    let store = Store::open_read_only(&path).unwrap();
    let data = gather(&store, &event.id.0).unwrap().unwrap();
    let svg = render_svg_with(&data.event, &data.series, &labels());
    assert!(svg.starts_with("<?xml"));
    assert!(svg.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains("North Korea was dark for 9 h 30 m on 2014-12-22/23"));
    assert!(svg.trim_end().ends_with("</svg>"));
    assert!(!svg.contains("<b>"));
    assert_eq!(svg.matches("<polyline").count(), 5);
    // Every tag that opens closes (a rough well-formedness check)
    assert_eq!(svg.matches("<svg").count(), svg.matches("</svg>").count());
    assert_eq!(svg.matches("<text").count(), svg.matches("</text>").count());
    assert_eq!(Format::for_path(Path::new("out/report.SVG")), Format::Svg);
    assert_eq!(Format::for_path(Path::new("report.html")), Format::Html);
    assert_eq!(Format::for_path(Path::new("chart.png")), Format::Png);
}

/// The `height` the SVG declares.
fn svg_height(svg: &str) -> u32 {
    let start = svg.find(" height=\"").unwrap() + " height=\"".len();
    let end = start + svg[start..].find('"').unwrap();
    svg[start..end].parse().unwrap()
}

/// How many pixels in the rectangle are dark (text is black on white).
fn dark_pixels(image: &Pixmap, x: std::ops::Range<u32>, y: std::ops::Range<u32>) -> usize {
    y.flat_map(|row| x.clone().map(move |column| (column, row)))
        .filter_map(|(column, row)| image.pixel(column, row))
        .filter(|p| u16::from(p.red()) + u16::from(p.green()) + u16::from(p.blue()) < 200)
        .count()
}

#[test]
fn the_png_is_the_chart_drawn_at_twice_its_size_with_its_text() {
    let dir = tempfile::tempdir().unwrap();
    let event = outage("dark");
    let path = store_with(dir.path(), &event);
    let store = Store::open_read_only(&path).unwrap();
    let data = gather(&store, &event.id.0).unwrap().unwrap();
    let fonts = Fonts::system()
        .expect("a system font (./test.sh installs fonts-dejavu-core, the chart's DejaVu Sans)");
    let png = render_png_with(&data.event, &data.series, &labels(), &fonts).unwrap();

    assert!(png.starts_with(b"\x89PNG\r\n\x1a\n"), "the PNG signature");
    let image = Pixmap::decode_png(&png).expect("a PNG that decodes");
    let svg = render_svg_with(&data.event, &data.series, &labels());
    assert_eq!(image.width(), (960.0 * PNG_SCALE) as u32);
    assert_eq!(image.height(), (svg_height(&svg) as f32 * PNG_SCALE) as u32);
    // Not one colour: the white ground, black text, the lines' colours, the red span.
    let mut colours: Vec<[u8; 4]> = image
        .pixels()
        .iter()
        .map(|p| [p.red(), p.green(), p.blue(), p.alpha()])
        .collect();
    colours.sort_unstable();
    colours.dedup();
    assert!(colours.len() > 50, "{} colours", colours.len());
    assert!(
        image.pixels().iter().all(|p| p.alpha() == 255),
        "opaque: the chart has a white ground"
    );
    // The headline was drawn (the fonts were found): dark pixels in its strip, left of
    // the middle, and none in the empty strip above it.
    let scale = PNG_SCALE as u32;
    let headline = dark_pixels(&image, 56 * scale..480 * scale, 8 * scale..28 * scale);
    assert!(
        headline > 500,
        "{headline} dark pixels where the headline is"
    );
    assert_eq!(dark_pixels(&image, 0..image.width(), 0..2 * scale), 0);
    // Pure, given the fonts.
    assert_eq!(
        png,
        render_png_with(&data.event, &data.series, &labels(), &fonts).unwrap()
    );
}

#[test]
fn without_any_font_there_is_no_png_and_the_error_says_what_to_install() {
    let empty = tempfile::tempdir().unwrap();
    let error = Fonts::in_dir(empty.path()).unwrap_err();
    assert!(matches!(error, PngError::NoFont { .. }), "{error:?}");
    let message = error.to_string();
    assert!(message.contains("fonts-dejavu-core"), "{message}");
    assert!(
        message.contains(&empty.path().display().to_string()),
        "{message}"
    );
}

/// A web server failing for ten minutes, still failing when the report is written.
fn open_service_event() -> (Event, Vec<SeriesPoint>) {
    let start = t("2025-06-01T10:00:00Z");
    let entity = Entity::Service {
        kind: "http".into(),
        name: "www.example.kp".into(),
    };
    let event = Event {
        id: EventId::derive(&entity, start, Cause::Service),
        entity: entity.clone(),
        cause: Cause::Service,
        severity: Severity::Critical,
        confidence: 0.85,
        start,
        end: None,
        scope: Scope {
            services: vec![entity.to_string()],
            hosts: vec!["www.example.kp".into()],
            ..Scope::default()
        },
        summary: "service:http:www.example.kp is failing (HTTP 503)".into(),
        evidence: vec![Evidence {
            at: start,
            signal: SignalKind::ProbeHttp,
            text: "www.example.kp: HTTP 503".into(),
            value: Some(1.0),
        }],
    };
    // One check a minute: fine before, failing from the start to ten minutes on.
    let points = (-30..=10)
        .map(|minute| {
            SeriesPoint::new(
                entity.clone(),
                Measure::ProbeOk(blackout_model::ProbeKind::Http),
                start.add_secs(minute * 60),
                if minute < 0 { 1.0 } else { 0.0 },
            )
        })
        .collect();
    (event, points)
}

#[test]
fn a_report_on_a_probe_event_charts_its_probes_and_speaks_as_of_its_data() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blackout.db");
    let (event, points) = open_service_event();
    {
        let mut store = Store::open(&path).unwrap();
        store
            .record_events(&[(UpdateKind::Started, &event)])
            .unwrap();
        store.record_signals(&points).unwrap();
    }
    let store = Store::open_read_only(&path).unwrap();
    let data = gather(&store, &event.id.0).unwrap().unwrap();
    let as_of = t("2025-06-01T10:10:00Z");
    assert_eq!(data.as_of, as_of);
    assert_eq!(data.series.len(), 1, "{:?}", data.series);
    assert_eq!(
        data.series[0].0.measure,
        Measure::ProbeOk(blackout_model::ProbeKind::Http)
    );
    // The chart ends where the data does, not two hours past it.
    assert_eq!(blackout_report::window_at(&data.event, data.as_of).1, as_of);
    let html = blackout_report::render_html_at(
        &data.event,
        &data.series,
        &data.related,
        &labels(),
        data.as_of,
    );
    assert!(html.contains("at least 10 m"), "{html}");
    assert!(!html.contains("at least 0 s"), "{html}");
    assert!(html.contains("Probe answers"), "{html}");
    assert!(!html.contains("Routing visibility per prefix"), "{html}");
}

#[test]
fn the_headline_of_an_observation_gap_says_what_was_down() {
    let start = t("2025-06-01T10:00:00Z");
    let entity = Entity::Vantage("local".into());
    let event = Event {
        id: EventId::derive(&entity, start, Cause::Vantage),
        entity,
        cause: Cause::Vantage,
        severity: Severity::Warning,
        confidence: 0.9,
        start,
        end: None,
        scope: Scope::default(),
        summary: "the vantage point local is offline".into(),
        evidence: vec![],
    };
    let headline = blackout_report::text::headline(&event, &Labels::new());
    assert!(!headline.contains("not watched"), "{headline}");
    assert!(headline.contains("has been offline"), "{headline}");
}
