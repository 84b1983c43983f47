//! The HTML page: one self-contained file (inline CSS, inline SVG, no script and
//! no external asset), every value from the data escaped.

use crate::Series;
use crate::chart;
use crate::text::{
    Labels, cause_paragraph, confidence_words, duration_words, entity_name, headline, signal_name,
    signal_words, upstream_name, utc_minutes, utc_seconds,
};
use blackout_model::text::escape_html;
use blackout_model::{Event, Severity, Timestamp};
use std::fmt::Write;

const STYLE: &str = "
body { font-family: 'DejaVu Sans', Helvetica, Arial, sans-serif; color: #222; background: #fff; margin: 0; }
main { max-width: 980px; margin: 0 auto; padding: 24px 28px 48px; line-height: 1.5; }
h1 { font-size: 26px; margin: 0 0 6px; }
h2 { font-size: 18px; margin: 28px 0 8px; border-bottom: 1px solid #e3e3e3; padding-bottom: 4px; }
.lede { font-size: 16px; color: #333; margin: 4px 0 16px; }
.badge { display: inline-block; padding: 1px 8px; border-radius: 10px; font-size: 12px; font-weight: bold; color: #fff; background: #d62728; }
.badge.warning { background: #e6a700; }
table { border-collapse: collapse; width: 100%; font-size: 14px; }
th, td { text-align: left; vertical-align: top; padding: 4px 10px 4px 0; border-bottom: 1px solid #f0f0f0; }
th { color: #555; font-weight: normal; width: 150px; }
ol.timeline { padding-left: 26px; font-size: 14px; }
ol.timeline li { margin: 4px 0; }
.when { font-family: 'DejaVu Sans Mono', monospace; color: #444; }
.signal { font-size: 12px; color: #666; }
.chart svg { width: 100%; height: auto; }
.note { font-size: 13px; color: #444; }
footer { font-size: 12px; color: #888; margin-top: 32px; }
";

/// The whole page.
pub fn page(
    event: &Event,
    series: &[Series],
    related: &[Event],
    labels: &Labels,
    as_of: Timestamp,
) -> String {
    let title = headline(event, labels);
    let mut out = String::with_capacity(32 * 1024);
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{}</title><style>{STYLE}</style></head><body><main>",
        escape_html(&title)
    );
    let (badge_class, badge) = match event.severity {
        Severity::Critical => ("badge", "critical"),
        Severity::Warning => ("badge warning", "warning"),
    };
    let _ = write!(
        out,
        "<p><span class=\"{badge_class}\">{badge}</span> <span class=\"signal\">blackout incident report</span></p>\
         <h1>{}</h1><p class=\"lede\">{}</p>",
        escape_html(&title),
        escape_html(&event.summary)
    );

    facts(&mut out, event, labels, as_of);

    out.push_str("<h2>What the charts show</h2><div class=\"chart\">");
    out.push_str(&chart::chart(event, series, labels, None, as_of));
    out.push_str(
        "</div><p class=\"note\">The shaded band is the event; each numbered red mark is a piece of evidence \
         from the timeline below. Times are UTC.</p>",
    );

    out.push_str("<h2>What the evidence says</h2>");
    if event.evidence.is_empty() {
        out.push_str("<p>No evidence was stored with this event.</p>");
    } else {
        out.push_str("<ol class=\"timeline\">");
        for item in &event.evidence {
            let value = item
                .value
                .filter(|v| v.is_finite())
                .map(|v| format!(" <span class=\"signal\">(value {})</span>", trim_number(v)))
                .unwrap_or_default();
            let _ = write!(
                out,
                "<li><span class=\"when\">{}</span> — {}{} <span class=\"signal\">[{}: {}]</span></li>",
                escape_html(&utc_seconds(item.at)),
                escape_html(&item.text),
                value,
                escape_html(signal_words(item.signal)),
                escape_html(signal_name(item.signal))
            );
        }
        if let Some(end) = event.end {
            let _ = write!(
                out,
                "</ol><p>The event ended at <span class=\"when\">{}</span>, after {}.</p>",
                escape_html(&utc_seconds(end)),
                escape_html(&duration_words(end.secs_since(event.start)))
            );
        } else {
            out.push_str("</ol><p>The event had not ended when this report was written.</p>");
        }
    }

    let _ = write!(
        out,
        "<h2>What the cause means</h2><p><strong>{}</strong> — {}</p><p>Confidence: {} — {}.</p>",
        escape_html(event.cause.as_str()),
        escape_html(cause_paragraph(event.cause)),
        escape_html(&confidence_words(event.confidence)),
        escape_html(confidence_meaning(event.confidence))
    );

    scope(&mut out, event, labels);

    out.push_str("<h2>Other events at the same time</h2>");
    let others: Vec<&Event> = related.iter().filter(|e| e.id != event.id).collect();
    if others.is_empty() {
        out.push_str("<p>None were recorded in the same window.</p>");
    } else {
        out.push_str(
            "<table><tr><th>start</th><th>duration</th><th>what</th><th>cause</th><th>summary</th></tr>",
        );
        for other in others {
            let length = other
                .end
                .map(|end| duration_words(end.secs_since(other.start)))
                .unwrap_or_else(|| "ongoing".into());
            let _ = write!(
                out,
                "<tr><td class=\"when\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape_html(&utc_minutes(other.start)),
                escape_html(&length),
                escape_html(&entity_name(&other.entity, labels)),
                escape_html(other.cause.as_str()),
                escape_html(&other.summary)
            );
        }
        out.push_str("</table>");
    }

    out.push_str(HOW_MEASURED);
    let _ = writeln!(
        out,
        "<footer>Event {} — written by blackout {} from its database.</footer></main></body></html>",
        escape_html(&event.id.0),
        env!("CARGO_PKG_VERSION")
    );
    out
}

fn facts(out: &mut String, event: &Event, labels: &Labels, as_of: Timestamp) {
    let name = entity_name(&event.entity, labels);
    let entity = event.entity.to_string();
    let what = if name == entity {
        escape_html(&name)
    } else {
        format!(
            "{} <span class=\"signal\">({})</span>",
            escape_html(&name),
            escape_html(&entity)
        )
    };
    let when = match event.end {
        Some(end) => format!(
            "{} to {}",
            escape_html(&utc_minutes(event.start)),
            escape_html(&utc_minutes(end))
        ),
        None => format!(
            "since {} (still going on)",
            escape_html(&utc_minutes(event.start))
        ),
    };
    let length = match event.end {
        Some(end) => duration_words(end.secs_since(event.start)),
        None => {
            let latest = as_of.max(chart::latest_evidence(event));
            format!(
                "at least {} (still going on at {})",
                duration_words(latest.secs_since(event.start)),
                utc_minutes(latest)
            )
        }
    };
    let _ = write!(
        out,
        "<table>\
         <tr><th>What</th><td>{what}</td></tr>\
         <tr><th>When</th><td>{when}</td></tr>\
         <tr><th>How long</th><td>{}</td></tr>\
         <tr><th>Cause</th><td><strong>{}</strong></td></tr>\
         <tr><th>Confidence</th><td>{}</td></tr>\
         <tr><th>Through</th><td>{}</td></tr>\
         </table>",
        escape_html(&length),
        escape_html(event.cause.as_str()),
        escape_html(&confidence_words(event.confidence)),
        through(event, labels)
    );
}

/// The upstreams involved, named.
fn through(event: &Event, labels: &Labels) -> String {
    if event.scope.upstreams.is_empty() {
        return "no upstream named in the evidence".to_string();
    }
    escape_html(
        &event
            .scope
            .upstreams
            .iter()
            .map(|a| upstream_name(a.0, labels))
            .collect::<Vec<_>>()
            .join(", "),
    )
}

fn scope(out: &mut String, event: &Event, labels: &Labels) {
    let scope = &event.scope;
    out.push_str("<h2>Scope</h2><table>");
    let mut row = |name: &str, items: Vec<String>| {
        let text = if items.is_empty() {
            "—".to_string()
        } else {
            items.join(", ")
        };
        let _ = write!(
            out,
            "<tr><th>{name}</th><td>{}</td></tr>",
            escape_html(&text)
        );
    };
    row(
        "Prefixes",
        scope.prefixes.iter().map(|p| p.to_string()).collect(),
    );
    row(
        "Upstreams",
        scope
            .upstreams
            .iter()
            .map(|a| upstream_name(a.0, labels))
            .collect(),
    );
    row("Hosts", scope.hosts.clone());
    row("Services", scope.services.clone());
    out.push_str("</table>");
}

fn confidence_meaning(confidence: f64) -> &'static str {
    if confidence >= 0.85 {
        "the evidence fits this cause and points away from the others"
    } else if confidence >= 0.6 {
        "the evidence fits this cause best, but does not rule out every other"
    } else {
        "treat this cause as a lead, not a finding"
    }
}

/// A value without trailing zeros: 0.5, 12, 0.125.
fn trim_number(value: f64) -> String {
    let text = format!("{value:.3}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text.is_empty() || text == "-" {
        "0".to_string()
    } else {
        text.to_string()
    }
}

const HOW_MEASURED: &str = "<h2>How this was measured</h2><div class=\"note\">\
<p><strong>Routing visibility.</strong> Networks announce the address blocks (prefixes) they can be reached at \
with BGP, the Internet's routing protocol. Public route collectors (RIPE RIS, RouteViews) and blackout's own BGP \
and BMP feeds record what many networks around the world hear. A prefix's visibility is the share of \
<em>full-feed</em> peers — networks that send the collector their whole routing table — that have a route to it. \
100% means everyone can find the way; 0% means the prefix has vanished from the Internet's map.</p>\
<p><strong>Upstreams.</strong> For every route, the network just before the origin on the path is the upstream \
that carries it. The share of paths through each upstream shows which links to the outside world were in use, \
and which ones fell.</p>\
<p><strong>Probes.</strong> Where the evidence names ping, web, DNS, mail or traceroute, blackout probed the \
network's servers from its vantage point, with control targets elsewhere to tell the network's failure from its \
own.</p>\
<p><strong>Reading the charts.</strong> Values are stored when they change and hold until the next change, so \
lines are drawn as steps. Times are UTC. The cause and the confidence come from blackout's rules, which weigh the \
evidence listed above; they are an assessment, not a statement by the network's operators.</p>\
</div>";
