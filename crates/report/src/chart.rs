//! The charts, as plain SVG text: routing visibility per prefix and the share of
//! paths per upstream over the report's window, the event's span shaded and each
//! piece of evidence marked with its number from the timeline.
//!
//! The series are change-driven (a point is stored when a value changes), so they
//! are drawn as steps: a value holds until the next point. Hand-written SVG keeps
//! the HTML report and the SVG chart free of font and raster dependencies (only the
//! PNG needs fonts) and every label escaped.

use crate::Series;
use crate::text::{Labels, format_utc, upstream_name};
use blackout_model::text::escape_html;
use blackout_model::{Asn, Entity, Event, Measure, Timestamp};
use std::fmt::Write;

const WIDTH: f64 = 960.0;
const LEFT: f64 = 56.0;
const RIGHT: f64 = 20.0;
const PLOT_HEIGHT: f64 = 170.0;
const PANEL_TITLE: f64 = 30.0;
const AXIS: f64 = 50.0;
const LEGEND_ROW: f64 = 20.0;
const MARKER_SPACE: f64 = 18.0;
const COLOURS: [&str; 8] = [
    "#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
];

/// The time window a report shows: two hours either side of the event (of its
/// latest evidence while it goes on).
pub fn window(event: &Event) -> (Timestamp, Timestamp) {
    window_at(event, latest_evidence(event).add_secs(7200))
}

/// The window of a report written as of `as_of` (how far its data runs): two hours
/// before the event, and to two hours after its end, but never past `as_of`.
pub fn window_at(event: &Event, as_of: Timestamp) -> (Timestamp, Timestamp) {
    let last = event.end.unwrap_or_else(|| latest_evidence(event));
    let to = last.add_secs(7200).min(as_of.max(last));
    // A chart of an event seconds old still shows a few minutes.
    (
        event.start.add_secs(-7200),
        to.max(event.start.add_secs(300)),
    )
}

/// The latest evidence of an event, or its start.
pub fn latest_evidence(event: &Event) -> Timestamp {
    event
        .evidence
        .iter()
        .map(|e| e.at)
        .max()
        .unwrap_or(event.start)
        .max(event.start)
}

/// A series' (time, value) points.
type Points = Vec<(Timestamp, f64)>;

/// One line of a panel: a name and its (time, value) steps.
struct Line {
    name: String,
    points: Vec<(Timestamp, f64)>,
}

struct Panel {
    title: String,
    lines: Vec<Line>,
}

/// The panels the series make: visibility per prefix, and per upstream the mean
/// share of paths over the prefixes.
fn panels(series: &[Series], labels: &Labels) -> Vec<Panel> {
    let mut visibility = Vec::new();
    let mut probes = Vec::new();
    let mut upstreams: Vec<(u32, Vec<&Points>)> = Vec::new();
    for (key, points) in series {
        let name = match &key.entity {
            Entity::Prefix(prefix) => prefix.to_string(),
            other => other.to_string(),
        };
        if let Measure::ProbeOk(kind) = key.measure {
            probes.push(Line {
                name: format!("{name} ({kind})"),
                points: clean(points),
            });
        } else if key.measure == Measure::Visibility {
            visibility.push(Line {
                name,
                points: clean(points),
            });
        } else if let Measure::UpstreamShare(Asn(asn)) = key.measure {
            match upstreams.iter_mut().find(|(a, _)| *a == asn) {
                Some((_, list)) => list.push(points),
                None => upstreams.push((asn, vec![points])),
            }
        }
    }
    upstreams.sort_by_key(|(asn, _)| *asn);
    let upstream_lines = upstreams
        .into_iter()
        .map(|(asn, list)| Line {
            name: upstream_name(asn, labels),
            points: step_mean(&list),
        })
        .collect();
    let routes = vec![
        Panel {
            title: "Routing visibility per prefix (share of full-feed route collector peers that see it)"
                .to_string(),
            lines: visibility,
        },
        Panel {
            title: "Share of paths through each upstream (mean over the prefixes)".to_string(),
            lines: upstream_lines,
        },
    ];
    if probes.is_empty() {
        return routes;
    }
    let mut panels = vec![Panel {
        title: "Probe answers per check (1 = answered, 0 = failed)".to_string(),
        lines: probes,
    }];
    // A probe event with no routing data charts its probes alone, not empty panels.
    panels.extend(routes.into_iter().filter(|p| !p.lines.is_empty()));
    panels
}

/// Sorted, finite points.
fn clean(points: &[(Timestamp, f64)]) -> Vec<(Timestamp, f64)> {
    let mut out: Vec<(Timestamp, f64)> = points
        .iter()
        .copied()
        .filter(|(_, v)| v.is_finite())
        .collect();
    out.sort_by_key(|(t, _)| *t);
    out
}

/// At every time any series changes, the mean of each series' latest value
/// (series that have no value yet are left out).
fn step_mean(list: &[&Points]) -> Points {
    let cleaned: Vec<Vec<(Timestamp, f64)>> = list.iter().map(|p| clean(p)).collect();
    let mut times: Vec<Timestamp> = cleaned.iter().flatten().map(|(t, _)| *t).collect();
    times.sort();
    times.dedup();
    let mut cursors = vec![0usize; cleaned.len()];
    let mut out = Vec::with_capacity(times.len());
    for t in times {
        let mut sum = 0.0;
        let mut n = 0u32;
        for (series, cursor) in cleaned.iter().zip(cursors.iter_mut()) {
            while series.get(*cursor).is_some_and(|(at, _)| *at <= t) {
                *cursor += 1;
            }
            if let Some((_, value)) = cursor.checked_sub(1).and_then(|i| series.get(i)) {
                sum += value;
                n += 1;
            }
        }
        if n > 0 {
            out.push((t, sum / f64::from(n)));
        }
    }
    out
}

/// A tick step that gives at most eight ticks over `span` seconds.
fn tick_step(span: f64) -> i64 {
    const STEPS: [i64; 14] = [
        300, 600, 900, 1800, 3600, 7200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800,
        2_592_000, 31_536_000,
    ];
    STEPS
        .iter()
        .copied()
        .find(|step| span / *step as f64 <= 8.0)
        .unwrap_or(31_536_000)
}

struct Frame {
    from: Timestamp,
    to: Timestamp,
    plot_width: f64,
}

impl Frame {
    fn x(&self, at: Timestamp) -> f64 {
        let span = self.to.secs_since(self.from).max(1.0);
        let share = (at.secs_since(self.from) / span).clamp(0.0, 1.0);
        LEFT + share * self.plot_width
    }
}

fn y(top: f64, value: f64) -> f64 {
    top + (1.0 - value.clamp(0.0, 1.0)) * PLOT_HEIGHT
}

/// The chart: both panels, as an `<svg>` element. `standalone` adds the XML
/// namespace's companions a file needs (a background and a title line).
pub fn chart(
    event: &Event,
    series: &[Series],
    labels: &Labels,
    title: Option<&str>,
    as_of: Timestamp,
) -> String {
    let (from, to) = window_at(event, as_of);
    let frame = Frame {
        from,
        to,
        plot_width: WIDTH - LEFT - RIGHT,
    };
    let panels = panels(series, labels);
    let legend_rows = |panel: &Panel| legend_layout(panel).last().map_or(1, |(row, _)| row + 1);
    let title_lines = title.map(|t| wrap(t, TITLE_CHARS)).unwrap_or_default();
    let header = if title_lines.is_empty() {
        0.0
    } else {
        12.0 + TITLE_LINE * title_lines.len() as f64
    };
    let height = header
        + panels
            .iter()
            .map(|p| {
                PANEL_TITLE + MARKER_SPACE + PLOT_HEIGHT + AXIS + legend_rows(p) as f64 * LEGEND_ROW
            })
            .sum::<f64>();
    let mut svg = String::new();
    let _ = write!(
        svg,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" \
         font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" font-size=\"12\" role=\"img\">"
    );
    if !title_lines.is_empty() {
        let _ = write!(
            svg,
            "<rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{height:.0}\" fill=\"#ffffff\"/>"
        );
        for (row, line) in title_lines.iter().enumerate() {
            let _ = write!(
                svg,
                "<text x=\"{LEFT}\" y=\"{:.0}\" font-size=\"16\" font-weight=\"bold\">{}</text>",
                22.0 + TITLE_LINE * row as f64,
                escape_html(line)
            );
        }
    }
    let mut top = header;
    for panel in &panels {
        top = draw_panel(&mut svg, panel, event, &frame, top);
    }
    svg.push_str("</svg>");
    svg
}

/// The most characters of a title line: 16-pixel bold text fits about this many
/// in the chart's width (a PNG has no text flow, so a longer line is cut off).
const TITLE_CHARS: usize = 80;
const TITLE_LINE: f64 = 22.0;

/// Splits text into lines of at most `width` characters at spaces (a longer word
/// keeps a line of its own).
fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.chars().count() + 1 + word.chars().count() > width {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    if !line.is_empty() {
        lines.push(line);
    }
    lines
}

/// Draws one panel from `top`; returns where the next one starts.
fn draw_panel(svg: &mut String, panel: &Panel, event: &Event, frame: &Frame, top: f64) -> f64 {
    let right = LEFT + frame.plot_width;
    let _ = write!(
        svg,
        "<text x=\"{LEFT}\" y=\"{:.1}\" font-size=\"13\" font-weight=\"bold\">{}</text>",
        top + 20.0,
        escape_html(&panel.title)
    );
    let marker_top = top + PANEL_TITLE;
    let plot_top = marker_top + MARKER_SPACE;
    let plot_bottom = plot_top + PLOT_HEIGHT;

    // The event's span, shaded.
    let span_start = frame.x(event.start);
    let span_end = frame.x(event.end.unwrap_or(frame.to));
    let _ = write!(
        svg,
        "<rect class=\"span\" x=\"{span_start:.1}\" y=\"{plot_top:.1}\" width=\"{:.1}\" height=\"{PLOT_HEIGHT}\" fill=\"#d62728\" fill-opacity=\"0.10\"/>",
        (span_end - span_start).max(1.0)
    );

    // Gridlines and the value axis.
    for step in 0..=4 {
        let value = f64::from(step) * 0.25;
        let gy = y(plot_top, value);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" y1=\"{gy:.1}\" x2=\"{right:.1}\" y2=\"{gy:.1}\" stroke=\"#ddd\" stroke-width=\"1\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">{}%</text>",
            LEFT - 6.0,
            gy + 4.0,
            step * 25
        );
    }

    // Time ticks, in UTC, with the date where it changes.
    let span = frame.to.secs_since(frame.from);
    let step = tick_step(span);
    let first = frame.from.as_secs().div_euclid(step) * step + step;
    let mut tick = first;
    let mut last_day = String::new();
    while tick < frame.to.as_secs() {
        let at = Timestamp::from_secs(tick);
        let tx = frame.x(at);
        let day = format_utc(at, "%b %d");
        let label = format_utc(at, "%H:%M");
        let _ = write!(
            svg,
            "<line x1=\"{tx:.1}\" y1=\"{plot_bottom:.1}\" x2=\"{tx:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>\
             <text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{label}</text>",
            plot_bottom + 4.0,
            plot_bottom + 16.0
        );
        if day != last_day {
            let _ = write!(
                svg,
                "<text x=\"{tx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#555\">{}</text>",
                plot_bottom + 29.0,
                escape_html(&day)
            );
            last_day = day;
        }
        tick += step;
    }
    let _ = write!(
        svg,
        "<line x1=\"{LEFT}\" y1=\"{plot_bottom:.1}\" x2=\"{right:.1}\" y2=\"{plot_bottom:.1}\" stroke=\"#888\"/>\
         <text x=\"{right:.1}\" y=\"{:.1}\" text-anchor=\"end\" fill=\"#555\">UTC</text>",
        plot_bottom + 29.0
    );

    // Evidence: a dashed line and its number from the timeline; numbers that would
    // cover one another are moved right, the lines stay at their times.
    let mut last_marker = f64::NEG_INFINITY;
    for (index, item) in event.evidence.iter().enumerate() {
        if item.at < frame.from || item.at > frame.to {
            continue;
        }
        let ex = frame.x(item.at);
        let cx = ex.max(last_marker + 15.0);
        last_marker = cx;
        let _ = write!(
            svg,
            "<line class=\"evidence\" x1=\"{ex:.1}\" y1=\"{plot_top:.1}\" x2=\"{ex:.1}\" y2=\"{plot_bottom:.1}\" stroke=\"#d62728\" stroke-dasharray=\"3 3\" stroke-width=\"1\"/>\
             <circle cx=\"{cx:.1}\" cy=\"{:.1}\" r=\"7\" fill=\"#d62728\"/>\
             <text x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\" font-size=\"9\" fill=\"#fff\">{}</text>",
            marker_top + 8.0,
            marker_top + 11.0,
            index + 1
        );
    }

    // The lines, widest first so that lines lying on one another still show.
    if panel.lines.is_empty() {
        let _ = write!(
            svg,
            "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\" fill=\"#888\">no data stored for this window</text>",
            LEFT + frame.plot_width / 2.0,
            plot_top + PLOT_HEIGHT / 2.0
        );
    }
    let count = panel.lines.len();
    for (index, line) in panel.lines.iter().enumerate() {
        let colour = COLOURS[index % COLOURS.len()];
        let width = 2.0 + 1.6 * (count.min(6) - 1 - index.min(count.min(6) - 1)) as f64;
        let mut points = String::new();
        let mut previous: Option<f64> = None;
        for (at, value) in &line.points {
            if *at > frame.to {
                break;
            }
            // A point that repeats the value adds nothing to a step line.
            if previous == Some(*value) {
                continue;
            }
            let px = frame.x(*at);
            if let Some(last) = previous {
                let _ = write!(points, "{px:.1},{:.1} ", y(plot_top, last));
            }
            let _ = write!(points, "{px:.1},{:.1} ", y(plot_top, *value));
            previous = Some(*value);
        }
        if let Some(last) = previous {
            let _ = write!(points, "{right:.1},{:.1}", y(plot_top, last));
        }
        if !points.is_empty() {
            let _ = write!(
                svg,
                "<polyline fill=\"none\" stroke=\"{colour}\" stroke-width=\"{width:.1}\" stroke-linejoin=\"round\" stroke-opacity=\"0.9\" points=\"{}\"><title>{}</title></polyline>",
                points.trim_end(),
                escape_html(&line.name)
            );
        }
    }

    // The legend.
    let legend_top = plot_bottom + AXIS;
    for ((row, x), (index, line)) in legend_layout(panel)
        .into_iter()
        .zip(panel.lines.iter().enumerate())
    {
        let ly = legend_top + row as f64 * LEGEND_ROW;
        let _ = write!(
            svg,
            "<rect x=\"{x:.1}\" y=\"{:.1}\" width=\"14\" height=\"4\" fill=\"{}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" fill=\"#222\">{}</text>",
            ly - 6.0,
            COLOURS[index % COLOURS.len()],
            x + 18.0,
            ly,
            escape_html(&line.name)
        );
    }
    let rows = legend_layout(panel).last().map_or(1, |(row, _)| row + 1);
    plot_bottom + AXIS + rows as f64 * LEGEND_ROW
}

/// Where each legend entry goes: (row, x), wrapping at the plot's width.
fn legend_layout(panel: &Panel) -> Vec<(usize, f64)> {
    let mut out = Vec::new();
    let (mut row, mut x) = (0usize, LEFT);
    for line in &panel.lines {
        // About 7 px per character at 12 px, plus the swatch and a gap.
        let width = 18.0 + 7.0 * line.name.chars().count().min(60) as f64 + 22.0;
        if x + width > WIDTH - RIGHT && x > LEFT {
            row += 1;
            x = LEFT;
        }
        out.push((row, x));
        x += width;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_mean_follows_the_latest_value_of_each_series() {
        let t = Timestamp::from_secs;
        let a = vec![(t(0), 1.0), (t(100), 0.0)];
        let b = vec![(t(50), 0.5), (t(100), 0.0), (t(200), 1.0)];
        assert_eq!(
            step_mean(&[&a, &b]),
            vec![(t(0), 1.0), (t(50), 0.75), (t(100), 0.0), (t(200), 0.5)]
        );
        assert!(step_mean(&[]).is_empty());
    }

    #[test]
    fn long_titles_wrap_at_spaces() {
        let title = "North Korea had its addresses announced by another network for 2 h 10 m on 2025-03-09/10";
        let lines = wrap(title, TITLE_CHARS);
        assert!(lines.len() > 1, "{lines:?}");
        assert!(
            lines.iter().all(|l| l.chars().count() <= TITLE_CHARS),
            "{lines:?}"
        );
        assert_eq!(lines.join(" "), title);
    }

    #[test]
    fn ticks_stay_few() {
        for span in [600.0, 3600.0, 36_000.0, 86_400.0 * 3.0, 86_400.0 * 400.0] {
            assert!(span / tick_step(span) as f64 <= 8.0, "{span}");
        }
    }
}
