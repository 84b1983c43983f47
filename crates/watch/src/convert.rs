//! From the probe engine's and the feeds' words to the detector's.

use blackout_detect::{FeedSignal, ProbeSignal};
use blackout_feeds::{FeedHealth, FeedProblemKind, feed_problems};
use blackout_model::{ProbeRole, Timestamp};
use blackout_probe::{Detail, Outcome, ProbeResult};

/// The detector's view of a probe result; None when the result says nothing
/// about the target (the probe could not be made, or it was a command-line target).
pub fn probe_signal(result: &ProbeResult, vantage: &str) -> Option<ProbeSignal> {
    if result.role == ProbeRole::Cli {
        return None;
    }
    let (ok, text) = match &result.outcome {
        Outcome::Ok => (true, "answered".to_string()),
        Outcome::Timeout => (false, "timeout".to_string()),
        Outcome::Refused => (false, "connection refused".to_string()),
        Outcome::Unreachable { reason } => (false, format!("unreachable: {reason}")),
        Outcome::Failed { reason } => (false, reason.clone()),
        // A name that does not resolve here, a missing permission: our problem.
        Outcome::Error { .. } => return None,
    };
    let target = match (&result.detail, result.kind) {
        (Some(Detail::Dns(dns)), _) => format!("{}@{}", dns.zone, dns.server),
        _ => result.target.clone(),
    };
    let last_hop_asn = match &result.detail {
        Some(Detail::Trace(trace)) if !trace.reached => {
            trace.last_responding.as_ref().and_then(|hop| hop.asn)
        }
        _ => None,
    };
    let loss = (result.attempts > 0).then(|| f64::from(result.lost) / f64::from(result.attempts));
    Some(ProbeSignal {
        at: result.at,
        vantage: vantage.to_string(),
        role: result.role,
        target,
        kind: result.kind,
        ok,
        rtt_ms: result.rtt_ms,
        loss: if ok { loss } else { Some(1.0) },
        text,
        last_hop_asn,
    })
}

/// Which feeds are up and which are not, as the detector's signals. A feed that
/// has never come up is given `stale_secs` to do so before it counts as down.
pub fn feed_signals(health: &[FeedHealth], now: Timestamp, stale_secs: u64) -> Vec<FeedSignal> {
    let problems = feed_problems(health, now, stale_secs);
    health
        .iter()
        .map(|h| {
            let problem = problems
                .iter()
                .find(|p| p.feed == h.feed)
                .filter(|p| match &p.kind {
                    FeedProblemKind::Down { ever_up: false, .. } => {
                        now.secs_since(p.since) >= stale_secs as f64
                    }
                    _ => true,
                });
            let text = match problem.map(|p| &p.kind) {
                None => format!("{} is up: {:.1} messages/s", h.feed, h.messages_per_sec),
                Some(FeedProblemKind::Stale { silent_secs }) => {
                    format!("{} is silent for {silent_secs:.0} s", h.feed)
                }
                Some(FeedProblemKind::Down { reason, .. }) => {
                    format!(
                        "{} is down{}",
                        h.feed,
                        reason
                            .as_deref()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    )
                }
            };
            FeedSignal {
                at: now,
                feed: h.feed.to_string(),
                up: problem.is_none(),
                text,
            }
        })
        .collect()
}
