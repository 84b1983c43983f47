//! The words of a report: the headline, what each cause means in plain words,
//! durations and times for people, and escaping for HTML and SVG.

use blackout_model::{Cause, Entity, Event, Severity, SignalKind, Timestamp};
use std::collections::HashMap;

/// Names for entities (`country:KP` → `North Korea`, `upstream:4837` → `China
/// Unicom`), from the profile. An entity without one is called by its text form.
pub type Labels = HashMap<String, String>;

/// The entity's label, or its text form.
pub fn entity_name(entity: &Entity, labels: &Labels) -> String {
    let text = entity.to_string();
    labels.get(&text).cloned().unwrap_or(text)
}

/// An upstream by number and, if known, name: `AS4837 (China Unicom)`.
pub fn upstream_name(asn: u32, labels: &Labels) -> String {
    match labels.get(&format!("upstream:{asn}")) {
        Some(name) => format!("AS{asn} ({name})"),
        None => format!("AS{asn}"),
    }
}

/// A duration in its two largest units: `9 h 30 m`, `45 s`, `2 d 3 h`.
pub use blackout_model::human_duration as duration_words;

fn jiff(at: Timestamp) -> Option<jiff::Timestamp> {
    jiff::Timestamp::from_microsecond(at.as_micros()).ok()
}

/// `2014-12-22 16:40 UTC`.
pub fn utc_minutes(at: Timestamp) -> String {
    format_utc(at, "%Y-%m-%d %H:%M UTC")
}

/// `2014-12-22 16:40:05 UTC`.
pub fn utc_seconds(at: Timestamp) -> String {
    format_utc(at, "%Y-%m-%d %H:%M:%S UTC")
}

/// A time with a jiff strftime format, or RFC 3339 if out of range.
pub fn format_utc(at: Timestamp, format: &str) -> String {
    at.format_utc(format)
}

/// The days an event spans: `2014-12-22`, `2014-12-22/23`, `2014-12-31/2015-01-01`.
pub fn day_span(start: Timestamp, end: Timestamp) -> String {
    let (Some(a), Some(b)) = (jiff(start), jiff(end)) else {
        return start.to_rfc3339();
    };
    let day = |t: jiff::Timestamp, f: &str| t.strftime(f).to_string();
    let (a_day, b_day) = (day(a, "%Y-%m-%d"), day(b, "%Y-%m-%d"));
    if a_day == b_day {
        a_day
    } else if day(a, "%Y-%m") == day(b, "%Y-%m") {
        format!("{a_day}/{}", day(b, "%d"))
    } else {
        format!("{a_day}/{b_day}")
    }
}

/// The contract's name of a signal kind (`bgp.visibility`).
pub fn signal_name(signal: SignalKind) -> &'static str {
    match signal {
        SignalKind::BgpVisibility => "bgp.visibility",
        SignalKind::BgpUpstream => "bgp.upstream",
        SignalKind::BgpOrigin => "bgp.origin",
        SignalKind::BgpRpki => "bgp.rpki",
        SignalKind::ProbeIcmp => "probe.icmp",
        SignalKind::ProbeTcp => "probe.tcp",
        SignalKind::ProbeHttp => "probe.http",
        SignalKind::ProbeDns => "probe.dns",
        SignalKind::ProbeSmtp => "probe.smtp",
        SignalKind::ProbeTrace => "probe.trace",
        SignalKind::Feed => "feed",
        SignalKind::Vantage => "vantage",
    }
}

/// A signal kind for people.
pub fn signal_words(signal: SignalKind) -> &'static str {
    match signal {
        SignalKind::BgpVisibility => "routing visibility",
        SignalKind::BgpUpstream => "upstream paths",
        SignalKind::BgpOrigin => "route origin",
        SignalKind::BgpRpki => "RPKI validity",
        SignalKind::ProbeIcmp => "ping",
        SignalKind::ProbeTcp => "TCP connection",
        SignalKind::ProbeHttp => "web",
        SignalKind::ProbeDns => "DNS",
        SignalKind::ProbeSmtp => "mail",
        SignalKind::ProbeTrace => "traceroute",
        SignalKind::Feed => "blackout's own feed",
        SignalKind::Vantage => "vantage point",
    }
}

/// What happened, as a verb phrase, and whether "for DURATION" fits after it.
fn verb(event: &Event) -> (&'static str, bool) {
    match event.cause {
        Cause::Internal | Cause::DataPlane | Cause::Unknown => match event.severity {
            Severity::Critical => ("was dark", true),
            Severity::Warning => ("was degraded", true),
        },
        Cause::Partial => ("was partly dark", true),
        Cause::UpstreamCut => ("lost one of its upstreams", true),
        Cause::Ddos => ("was under network stress", true),
        Cause::Service => ("had failing services", true),
        Cause::Flap => ("had unstable routes", true),
        Cause::RpkiInvalid => ("had RPKI-invalid routes", true),
        Cause::NewUpstream => ("took a new upstream", false),
        Cause::Hijack => ("had its addresses announced by another network", true),
        // The entity is blackout's own feed or vantage point: it was down, and the
        // watched network went unseen through it.
        Cause::Feed => ("was down (blackout saw no routes through it)", true),
        Cause::Vantage => ("was offline (blackout could not probe from it)", true),
    }
}

/// The headline: `North Korea was dark for 9 h 30 m on 2014-12-22/23`, or for an
/// event still open at its last evidence, `... has been dark since ...`.
pub fn headline(event: &Event, labels: &Labels) -> String {
    let name = entity_name(&event.entity, labels);
    let (verb, lasts) = verb(event);
    match event.end {
        Some(end) if lasts => format!(
            "{name} {verb} for {} on {}",
            duration_words(end.secs_since(event.start)),
            day_span(event.start, end)
        ),
        Some(_) => format!("{name} {verb} on {}", day_span(event.start, event.start)),
        None => {
            let ongoing = verb.replacen("was ", "has been ", 1);
            let ongoing = if ongoing == verb {
                format!("{verb} (still going on)")
            } else {
                ongoing
            };
            format!("{name} {ongoing} since {}", utc_minutes(event.start))
        }
    }
}

/// What a cause means, in plain words: one paragraph.
pub fn cause_paragraph(cause: Cause) -> &'static str {
    match cause {
        Cause::Internal => {
            "Internal failure. Every upstream provider stopped carrying the network's routes at the same moment, \
             or traffic died just inside the border while the providers were fine. When all the links to the outside \
             fail together, the trouble is almost never in the providers: it is the network itself going dark — a \
             deliberate shutdown, a failed border router, or a loss of power where the network meets the world."
        }
        Cause::UpstreamCut => {
            "Upstream cut. One upstream provider's paths to the network disappeared while another provider still \
             carried the routes. The network stayed reachable through the remaining provider, but one of its links to \
             the world was cut: a failed cable or session, a dispute, or a provider that stopped the service."
        }
        Cause::Ddos => {
            "Network stress (likely a denial-of-service attack). The routes stayed in place while packet loss and \
             delays rose across many hosts and services at once, and services began to fail. That pattern — the \
             paths still exist but traffic cannot get through — is what a flood of traffic looks like from outside. \
             Routes may be withdrawn later, when the operators pull the network off the Internet to stop the flood."
        }
        Cause::Service => {
            "Service failure. The network's hosts answered pings, but services on it (name servers, web sites or \
             mail) failed. The network was up; particular servers or applications were not. (Whether its routes were \
             seen, and by which feed, is in the summary and the evidence.)"
        }
        Cause::Partial => {
            "Partial outage. Some of the network's address blocks or hosts went dark while the rest stayed reachable. \
             This is what a local failure looks like — one building's power, one data centre, one router — rather than \
             the whole country or network going offline."
        }
        Cause::Flap => {
            "Routing instability (flapping). The routes were withdrawn and announced again and again within a short \
             time. Reachability came and went; this usually points to a failing link or router, or a misconfiguration."
        }
        Cause::RpkiInvalid => {
            "RPKI-invalid routes. The network kept announcing its routes, but they no longer matched the network's own \
             signed route authorisations (RPKI). Networks that validate routes drop such announcements, so reachability \
             fell wherever validation is enforced. This is usually an operator's configuration mistake, not an attack."
        }
        Cause::DataPlane => {
            "Data-plane failure. The routes were in place, so the rest of the Internet still knew the way, but packets \
             died just past the border: probes and traceroutes stopped there. The network was announced yet unreachable."
        }
        Cause::NewUpstream => {
            "New upstream. A provider that had not carried the network's routes before began to carry them. This is a \
             change, not an outage: a new link, a new contract, or a reroute during trouble on another link."
        }
        Cause::Hijack => {
            "Possible hijack. Another network (a different origin AS) announced the watched addresses, or a more \
             specific part of them. Traffic meant for the network may have gone elsewhere. This can be an attack or a \
             mistake by the other network."
        }
        Cause::Feed => {
            "Observation gap. One of blackout's own data feeds (a BGP session, a BMP station, RIS Live or an archive) \
             was stale or down. This says nothing about the watched network: for this time blackout could not see it \
             through that feed."
        }
        Cause::Vantage => {
            "Observation gap. The vantage point blackout measures from was itself offline: its control targets, far \
             from the watched network, failed too. Probe results from this time say nothing about the watched network."
        }
        Cause::Unknown => {
            "Unknown cause. The network was in trouble, but the evidence does not settle why. The timeline below shows \
             what was seen."
        }
    }
}

/// Confidence in words: `high (0.90)`.
pub fn confidence_words(confidence: f64) -> String {
    let words = if !confidence.is_finite() {
        "unknown"
    } else if confidence >= 0.85 {
        "high"
    } else if confidence >= 0.6 {
        "moderate"
    } else {
        "low"
    };
    format!("{words} ({confidence:.2})")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_spans() {
        let t = |s: &str| s.parse::<Timestamp>().unwrap();
        assert_eq!(
            day_span(t("2014-12-22T16:40:00Z"), t("2014-12-23T02:10:00Z")),
            "2014-12-22/23"
        );
        assert_eq!(
            day_span(t("2014-12-22T10:00:00Z"), t("2014-12-22T19:30:00Z")),
            "2014-12-22"
        );
        assert_eq!(
            day_span(t("2014-12-31T22:00:00Z"), t("2015-01-01T02:00:00Z")),
            "2014-12-31/2015-01-01"
        );
    }

    #[test]
    fn every_cause_has_a_paragraph() {
        for cause in Cause::ALL {
            assert!(cause_paragraph(cause).len() > 80, "{cause}");
        }
    }
}
