//! From the probe engine's and the feeds' words to the detector's.

use blackout_detect::{FeedSignal, ProbeSignal};
use blackout_feeds::{FeedHealth, FeedProblemKind, FeedState, feed_problems};
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
                loading: table_loading(h, now, stale_secs),
                text,
            }
        })
        .collect()
}

/// How long a feed that cannot tell when its table is complete (BMP, RIS Live, a
/// feed relayed by an agent) is taken to be still sending it after it came up.
pub const TABLE_LOAD_SECS: f64 = 10.0;

/// How long a BGP session's table is waited for when the router sends no
/// End-of-RIB for one of its families.
pub const SESSION_TABLE_MAX_SECS: f64 = 60.0;

/// Is the feed's table still coming in? A feed that has never come up may still
/// (for `stale_secs`); a BGP session's table is complete once an End-of-RIB came
/// for every family both sides offered; another feed's is taken to be after
/// [`TABLE_LOAD_SECS`] up.
pub fn table_loading(health: &FeedHealth, now: Timestamp, stale_secs: u64) -> bool {
    let for_secs = now.secs_since(health.since);
    match health.state {
        FeedState::Connecting => for_secs < stale_secs as f64,
        FeedState::Down => false,
        FeedState::Up => match &health.session {
            Some(session)
                if session
                    .families
                    .iter()
                    .all(|f| session.end_of_rib.contains(f)) =>
            {
                false
            }
            Some(_) => for_secs < SESSION_TABLE_MAX_SECS,
            None => for_secs < TABLE_LOAD_SECS,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_feeds::update::Family;
    use blackout_feeds::{FeedId, HealthTracker, SessionHealth};

    fn at(secs: i64) -> Timestamp {
        Timestamp::from_secs(1_700_000_000 + secs)
    }

    #[test]
    fn a_feed_loads_while_connecting_then_for_a_while_up() {
        let mut bmp = HealthTracker::new(FeedId::bmp("192.0.2.1".parse().unwrap()), at(0));
        assert!(table_loading(&bmp.snapshot(at(5)), at(5), 30));
        // Never up within the stale time: down, nothing to wait for.
        assert!(!table_loading(&bmp.snapshot(at(31)), at(31), 30));
        bmp.up(at(40));
        assert!(table_loading(&bmp.snapshot(at(45)), at(45), 30));
        assert!(!table_loading(&bmp.snapshot(at(51)), at(51), 30));
    }

    #[test]
    fn a_sessions_table_is_complete_with_an_end_of_rib_for_every_family() {
        let mut bgp = HealthTracker::new(FeedId::bgp("192.0.2.1".parse().unwrap()), at(0));
        bgp.up(at(1));
        let families = vec![Family::IPV4_UNICAST, Family::IPV6_UNICAST];
        let mut session = SessionHealth {
            families: families.clone(),
            end_of_rib: vec![Family::IPV4_UNICAST],
            ..SessionHealth::default()
        };
        bgp.set_session(session.clone());
        // One family's table is in; the other's is waited for, up to a minute.
        assert!(table_loading(&bgp.snapshot(at(30)), at(30), 30));
        assert!(!table_loading(&bgp.snapshot(at(62)), at(62), 30));
        session.end_of_rib = families;
        bgp.set_session(session);
        assert!(!table_loading(&bgp.snapshot(at(2)), at(2), 30));
    }
}
