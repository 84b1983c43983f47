//! What each channel receives for an [`Alert`]: the JSON webhook body, the Slack
//! message, and the email's subject, plain text and HTML. Pure functions.
//!
//! Everything that comes from outside (summaries, evidence texts, host names,
//! labels) is escaped for where it lands: `&`, `<` and `>` for Slack (as Slack
//! asks), HTML entities for the HTML mail, and control characters removed from
//! the email subject.

use crate::policy::{Alert, AlertKind};
use blackout_model::text::escape_html;
use blackout_model::{Cause, Entity, Event, Severity, Timestamp};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Names for entities (`country:KP` → `North Korea`), from the profile. An entity
/// without one is called by its text form.
pub type Labels = HashMap<String, String>;

/// The JSON webhook's body: `{"alert", "event", "duration_secs", "previous_cause",
/// "dedupe_key", "name", "labels"}`: the event as the contract has it, what the
/// alert announces, and the profile's names for the entity (`name`) and for every
/// entity the event touches (`labels`: `{"upstream:4837": "AS4837 China Unicom"}`).
pub fn json_payload(alert: &Alert, labels: &Labels) -> Value {
    let event = &alert.event;
    let scope = &event.scope;
    let entities = std::iter::once(event.entity.clone())
        .chain(scope.upstreams.iter().map(|&asn| Entity::Upstream(asn)))
        .chain(scope.hosts.iter().cloned().map(Entity::Host));
    let touched = entities
        .map(|entity| entity.to_string())
        .chain(scope.services.iter().cloned());
    let named: serde_json::Map<String, Value> = touched
        .filter_map(|entity| {
            let name = labels.get(&entity)?;
            Some((entity, Value::String(strip_controls(name))))
        })
        .collect();
    json!({
        "alert": alert.kind.as_str(),
        "event": event,
        "duration_secs": alert.duration_secs,
        "previous_cause": alert.previous_cause,
        "dedupe_key": alert.dedupe_key(),
        "name": entity_name(&event.entity, labels),
        "labels": named,
    })
}

/// The Slack message: a readable line in `text` (shown in notifications) and the
/// same with its details in `blocks`.
pub fn slack_payload(alert: &Alert, labels: &Labels) -> Value {
    let event = &alert.event;
    let line = slack_escape(&one_line(alert, labels));
    let mut fields = vec![
        field("Entity", &entity_name(&event.entity, labels)),
        field("Cause", &cause_text(alert)),
        field("Start", &utc_minutes(event.start)),
        field("Duration", &duration_text(alert)),
        field("Confidence", &format!("{:.2}", event.confidence)),
        field("Severity", severity_word(event.severity)),
    ];
    if let Some(end) = event.end {
        fields.push(field("End", &utc_minutes(end)));
    }
    let summary = slack_escape(&clip(&event.summary, 2000));
    json!({
        "text": line,
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": format!("*{line}*")}},
            {"type": "section", "fields": fields},
            {"type": "section", "text": {"type": "mrkdwn", "text": if summary.is_empty() { "(no summary)".to_string() } else { summary }}},
            {"type": "context", "elements": [{"type": "mrkdwn", "text": slack_escape(&format!("event {}", event.id))}]},
        ],
    })
}

fn field(name: &str, value: &str) -> Value {
    json!({"type": "mrkdwn", "text": format!("*{name}*\n{}", slack_escape(&clip(value, 1900)))})
}

/// The email subject: `[blackout] North Korea DARK: internal (since 10:00 UTC)`.
pub fn email_subject(alert: &Alert, labels: &Labels) -> String {
    let event = &alert.event;
    let name = entity_name(&event.entity, labels);
    let text = match alert.kind {
        AlertKind::Started => format!(
            "[blackout] {name} {}: {} (since {})",
            state_word(event),
            event.cause,
            utc_clock(event.start)
        ),
        AlertKind::CauseChanged => format!(
            "[blackout] {name} {}: now {}{} (since {})",
            state_word(event),
            event.cause,
            alert
                .previous_cause
                .map(|c| format!(", was {c}"))
                .unwrap_or_default(),
            utc_clock(event.start)
        ),
        AlertKind::Ended => format!(
            "[blackout] {name} BACK after {}: {}",
            duration_words(alert.duration_secs),
            event.cause
        ),
    };
    clip(&strip_controls(&text), 200)
}

/// The email's plain text.
pub fn email_text(alert: &Alert, labels: &Labels) -> String {
    let event = &alert.event;
    let mut out = String::new();
    out.push_str(&one_line(alert, labels));
    out.push_str("\n\n");
    for (name, value) in details(alert, labels) {
        out.push_str(&format!("{name:<11} {value}\n"));
    }
    if !event.evidence.is_empty() {
        out.push_str("\nEvidence (latest last):\n");
        for item in evidence_tail(event) {
            out.push_str(&format!(
                "  {}  {}  {}\n",
                utc_seconds(item.0),
                item.1,
                strip_controls(&item.2)
            ));
        }
    }
    out.push_str(&format!("\nEvent id: {}\n", event.id));
    out
}

/// The email's HTML part: the same as the text, every value escaped.
pub fn email_html(alert: &Alert, labels: &Labels) -> String {
    let event = &alert.event;
    let mut out = String::from(
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"></head><body style=\"font-family:sans-serif\">",
    );
    out.push_str(&format!(
        "<p><strong>{}</strong></p><table>",
        escape_html(&one_line(alert, labels))
    ));
    for (name, value) in details(alert, labels) {
        out.push_str(&format!(
            "<tr><th align=\"left\">{}</th><td>{}</td></tr>",
            escape_html(name),
            escape_html(&value)
        ));
    }
    out.push_str("</table>");
    if !event.evidence.is_empty() {
        out.push_str("<p>Evidence (latest last):</p><ul>");
        for item in evidence_tail(event) {
            out.push_str(&format!(
                "<li>{} <code>{}</code> {}</li>",
                escape_html(&utc_seconds(item.0)),
                escape_html(&item.1),
                escape_html(&item.2)
            ));
        }
        out.push_str("</ul>");
    }
    out.push_str(&format!(
        "<p style=\"color:#666\">Event id: {}</p></body></html>",
        escape_html(&event.id.0)
    ));
    out
}

/// The readable one-line summary shared by every channel.
pub fn one_line(alert: &Alert, labels: &Labels) -> String {
    let event = &alert.event;
    let name = entity_name(&event.entity, labels);
    let text = match alert.kind {
        AlertKind::Started => format!(
            "{name} {}: {}, since {} (confidence {:.2})",
            state_word(event),
            event.cause,
            utc_minutes(event.start),
            event.confidence
        ),
        AlertKind::CauseChanged => format!(
            "{name} {}: cause now {}{}, since {}, for {} (confidence {:.2})",
            state_word(event),
            event.cause,
            alert
                .previous_cause
                .map(|c| format!(" (was {c})"))
                .unwrap_or_default(),
            utc_minutes(event.start),
            duration_words(alert.duration_secs),
            event.confidence
        ),
        AlertKind::Ended => format!(
            "{name} BACK after {}: {}, {} to {} (confidence {:.2})",
            duration_words(alert.duration_secs),
            event.cause,
            utc_minutes(event.start),
            utc_minutes(event.end.unwrap_or(event.start)),
            event.confidence
        ),
    };
    strip_controls(&text)
}

fn details(alert: &Alert, labels: &Labels) -> Vec<(&'static str, String)> {
    let event = &alert.event;
    let mut rows = vec![
        ("Entity", entity_name(&event.entity, labels)),
        ("Cause", cause_text(alert)),
        ("Severity", severity_word(event.severity).to_string()),
        ("Confidence", format!("{:.2}", event.confidence)),
        ("Start", utc_seconds(event.start)),
    ];
    if let Some(end) = event.end {
        rows.push(("End", utc_seconds(end)));
    }
    rows.push(("Duration", duration_text(alert)));
    let scope = &event.scope;
    let mut parts = Vec::new();
    if !scope.prefixes.is_empty() {
        parts.push(format!(
            "prefixes {}",
            join(scope.prefixes.iter().map(|p| p.to_string()))
        ));
    }
    if !scope.upstreams.is_empty() {
        let names = scope
            .upstreams
            .iter()
            .map(|&asn| label_or(labels, &Entity::Upstream(asn), format!("AS{}", asn.0)));
        parts.push(format!("upstreams {}", join(names)));
    }
    if !scope.hosts.is_empty() {
        let names = scope
            .hosts
            .iter()
            .map(|host| label_or(labels, &Entity::Host(host.clone()), host.clone()));
        parts.push(format!("hosts {}", join(names)));
    }
    if !scope.services.is_empty() {
        parts.push(format!("services {}", join(scope.services.iter().cloned())));
    }
    if !parts.is_empty() {
        rows.push(("Scope", parts.join("; ")));
    }
    rows.push(("Summary", strip_controls(&event.summary)));
    rows
}

fn join(items: impl Iterator<Item = String>) -> String {
    items.collect::<Vec<_>>().join(", ")
}

/// The last ten pieces of evidence: (time, signal, text).
fn evidence_tail(event: &Event) -> Vec<(Timestamp, String, String)> {
    let skip = event.evidence.len().saturating_sub(10);
    event
        .evidence
        .iter()
        .skip(skip)
        .map(|e| {
            let signal = serde_json::to_value(e.signal)
                .ok()
                .and_then(|v| v.as_str().map(String::from))
                .unwrap_or_default();
            (e.at, signal, clip(&e.text, 500))
        })
        .collect()
}

fn cause_text(alert: &Alert) -> String {
    match alert.previous_cause {
        Some(previous) if alert.kind == AlertKind::CauseChanged => {
            format!("{} (was {previous})", alert.event.cause)
        }
        _ => alert.event.cause.to_string(),
    }
}

fn duration_text(alert: &Alert) -> String {
    match alert.kind {
        AlertKind::Started => "just began".to_string(),
        AlertKind::CauseChanged => format!("{} so far", duration_words(alert.duration_secs)),
        AlertKind::Ended => duration_words(alert.duration_secs),
    }
}

/// How the entity stands, in one capitalised word.
fn state_word(event: &Event) -> &'static str {
    match (event.cause, event.severity) {
        (Cause::NewUpstream, _) => "CHANGED",
        (Cause::Feed | Cause::Vantage, _) => "BLIND",
        (Cause::Hijack, _) => "HIJACKED",
        (_, Severity::Critical) => "DARK",
        (_, Severity::Warning) => "DEGRADED",
    }
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "critical",
        Severity::Warning => "warning",
    }
}

/// The entity's label, or its text form.
pub fn entity_name(entity: &Entity, labels: &Labels) -> String {
    label_or(labels, entity, strip_controls(&entity.to_string()))
}

/// The profile's label for `entity`, control characters removed, or `fallback`
/// (taken as it is) when the profile has none.
fn label_or(labels: &Labels, entity: &Entity, fallback: String) -> String {
    labels
        .get(&entity.to_string())
        .map_or(fallback, |name| strip_controls(name))
}

/// A duration in its two largest units: `9 h 30 m`, `45 s`, `2 d 3 h`.
pub use blackout_model::human_duration as duration_words;

/// `2014-12-22 16:40 UTC`.
pub fn utc_minutes(at: Timestamp) -> String {
    at.format_utc("%Y-%m-%d %H:%M UTC")
}

fn utc_seconds(at: Timestamp) -> String {
    at.format_utc("%Y-%m-%d %H:%M:%S UTC")
}

fn utc_clock(at: Timestamp) -> String {
    at.format_utc("%H:%M UTC")
}

/// Escapes text for Slack's mrkdwn: `&`, `<` and `>`, as Slack's docs ask, so
/// that nothing in an event can make a link, a mention or a `<!channel>`.
pub fn slack_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            c => out.push(c),
        }
    }
    out
}

/// Control characters (newlines included) become spaces: a header or a line stays one line.
fn strip_controls(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// At most `max` characters, with `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_model::{Asn, EventId, Evidence, Scope, SignalKind};

    fn alert(kind: AlertKind) -> Alert {
        let start = Timestamp::from_secs(1_419_242_400); // 2014-12-22 10:00 UTC
        let entity = Entity::Country("KP".into());
        let mut event = Event {
            id: EventId::derive(&entity, start, Cause::Internal),
            entity,
            cause: Cause::Internal,
            severity: Severity::Critical,
            confidence: 0.9,
            start,
            end: None,
            scope: Scope {
                prefixes: vec!["175.45.176.0/24".parse().unwrap()],
                upstreams: vec![Asn(4837)],
                hosts: vec![],
                services: vec![],
                families: vec![],
            },
            summary: "<!channel> all <b>routes</b> & paths gone\nsecond line".into(),
            evidence: vec![Evidence {
                at: start,
                signal: SignalKind::BgpVisibility,
                text: "<script>alert(1)</script>".into(),
                value: Some(0.0),
            }],
        };
        let duration_secs = match kind {
            AlertKind::Ended => {
                event.end = Some(start.add_secs(34_200));
                34_200.0
            }
            AlertKind::CauseChanged => 600.0,
            AlertKind::Started => 0.0,
        };
        Alert {
            kind,
            event,
            previous_cause: (kind == AlertKind::CauseChanged).then_some(Cause::Ddos),
            duration_secs,
        }
    }

    fn labels() -> Labels {
        Labels::from([
            ("country:KP".to_string(), "North Korea".to_string()),
            (
                "upstream:4837".to_string(),
                "AS4837 China Unicom".to_string(),
            ),
        ])
    }

    #[test]
    fn subjects_read_like_the_issue_asks() {
        assert_eq!(
            email_subject(&alert(AlertKind::Started), &labels()),
            "[blackout] North Korea DARK: internal (since 10:00 UTC)"
        );
        assert_eq!(
            email_subject(&alert(AlertKind::CauseChanged), &labels()),
            "[blackout] North Korea DARK: now internal, was ddos (since 10:00 UTC)"
        );
        assert_eq!(
            email_subject(&alert(AlertKind::Ended), &labels()),
            "[blackout] North Korea BACK after 9 h 30 m: internal"
        );
        assert_eq!(
            email_subject(&alert(AlertKind::Started), &Labels::new()),
            "[blackout] country:KP DARK: internal (since 10:00 UTC)"
        );
    }

    #[test]
    fn json_payload_carries_the_contract_event() {
        let value = json_payload(&alert(AlertKind::Ended), &labels());
        assert_eq!(value["alert"], "ended");
        assert_eq!(value["name"], "North Korea");
        assert_eq!(value["labels"]["upstream:4837"], "AS4837 China Unicom");
        assert_eq!(value["labels"]["country:KP"], "North Korea");
        assert_eq!(value["duration_secs"], 34_200.0);
        assert_eq!(value["event"]["cause"], "internal");
        assert_eq!(value["event"]["entity"], "country:KP");
        assert_eq!(value["event"]["end"], "2014-12-22T19:30:00Z");
        let back: Event = serde_json::from_value(value["event"].clone()).unwrap();
        assert_eq!(back, alert(AlertKind::Ended).event);
        assert_eq!(
            json_payload(&alert(AlertKind::CauseChanged), &Labels::new())["previous_cause"],
            "ddos"
        );
    }

    #[test]
    fn slack_payload_is_escaped_and_readable() {
        let value = slack_payload(&alert(AlertKind::Started), &labels());
        let text = value["text"].as_str().unwrap();
        assert_eq!(
            text,
            "North Korea DARK: internal, since 2014-12-22 10:00 UTC (confidence 0.90)"
        );
        let all = value.to_string();
        assert!(!all.contains("<!channel>"), "{all}");
        assert!(!all.contains("<b>"), "{all}");
        assert!(all.contains("&lt;!channel&gt;"), "{all}");
        assert!(all.contains("&amp; paths"), "{all}");
        assert!(value["blocks"].as_array().unwrap().len() >= 3);
    }

    #[test]
    fn email_bodies_escape_and_keep_lines() {
        let text = email_text(&alert(AlertKind::Ended), &labels());
        assert!(text.starts_with("North Korea BACK after 9 h 30 m: internal"));
        assert!(text.contains("Duration    9 h 30 m"));
        assert!(text.contains("upstreams AS4837 China Unicom"), "{text}");
        let html = email_html(&alert(AlertKind::Ended), &labels());
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(!html.contains("<b>routes"));
    }

    #[test]
    fn scope_entities_are_named_by_their_labels_or_their_own_text() {
        let mut alert = alert(AlertKind::Started);
        alert.event.scope.upstreams.push(Asn(64496));
        alert.event.scope.hosts = vec!["kcna.kp".into(), "192.0.2.7".into()];
        let mut labels = labels();
        labels.insert("host:kcna.kp".into(), "KCNA\nnews".into());
        let text = email_text(&alert, &labels);
        assert!(
            text.contains("upstreams AS4837 China Unicom, AS64496; hosts KCNA news, 192.0.2.7"),
            "{text}"
        );
        let value = json_payload(&alert, &labels);
        assert_eq!(value["labels"]["host:kcna.kp"], "KCNA news");
        assert_eq!(value["labels"]["upstream:4837"], "AS4837 China Unicom");
        assert!(value["labels"].get("upstream:64496").is_none());
        assert!(value["labels"].get("host:192.0.2.7").is_none());
    }

    #[test]
    fn durations_in_words() {
        assert_eq!(duration_words(34_200.0), "9 h 30 m");
        assert_eq!(duration_words(45.0), "45 s");
        assert_eq!(duration_words(600.0), "10 m");
        assert_eq!(duration_words(2.0 * 86_400.0 + 3.0 * 3600.0), "2 d 3 h");
        assert_eq!(duration_words(f64::NAN), "0 s");
        assert_eq!(duration_words(-5.0), "0 s");
    }
}
