//! The health of an agent's relayed feeds, as the central sees it: one
//! [`AgentFeedHealth`] per report on `blackout.v1.PROFILE.VANTAGE.feed`, sent
//! when the feed's state changes and, while it does not, every
//! [`health_every`] (at most [`FEED_HEALTH_EVERY`], and a third of the
//! profile's `feed_stale_secs`: the central judges a feed stale by the last
//! message its last report names, so reports must come well within that).
//!
//! It carries the parts of a [`FeedHealth`] that say whether routes flow (state,
//! messages, reconnects, gaps, peers, the last problem), not a BMP router's
//! whole report, which stays in the agent's log. At the central
//! [`AgentFeedHealth::into_health`] names the feed after the vantage point
//! (`bgp:fra-1/192.0.2.1`), so its status row and a `feed:` event say whose
//! feed it is; a feed whose reports stop (its agent died) goes stale there like
//! a feed of the central's own.

use crate::wire::{Addressed, DecodeError, Encoded, MAX_MESSAGE_BYTES, parse_addressed};
use blackout_feeds::{FeedHealth, FeedId, FeedKind, FeedState};
use blackout_model::Timestamp;
use blackout_model::subject::{self, ResultKind, SCHEMA_VERSION, SubjectError};
use blackout_model::text::{MAX_OUTSIDE_CHARS, inert};
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How often a feed's health is sent at most, while its state stays the same.
pub const FEED_HEALTH_EVERY: Duration = Duration::from_secs(30);

/// How often a feed's health is sent while its state stays the same, for a
/// profile whose feeds count as stale after `feed_stale_secs` of silence.
pub fn health_every(feed_stale_secs: u64) -> Duration {
    FEED_HEALTH_EVERY
        .min(Duration::from_secs_f64(feed_stale_secs as f64 / 3.0))
        .max(Duration::from_secs(1))
}

/// One report of the health of a vantage point's feed, as published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentFeedHealth {
    /// The schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// The profile the agent runs for.
    pub profile: String,
    /// The vantage point's name.
    pub vantage: String,
    /// The agent's sequence number (shared with its results).
    pub sequence: u64,
    /// When the agent published it first.
    pub sent_at: Timestamp,
    /// The feed as the agent names it (`bgp:192.0.2.1`).
    pub feed: String,
    /// Its session state.
    pub state: FeedState,
    /// Since when it is in that state.
    pub since: Timestamp,
    /// The last message the feed received.
    pub last_message: Option<Timestamp>,
    /// Messages received since the feed started.
    pub messages: u64,
    /// Messages per second lately.
    pub messages_per_sec: f64,
    /// Times the session came back after being lost.
    pub reconnects: u32,
    /// Gaps in the feed.
    pub gaps: u32,
    /// Peers the feed reports routes of.
    pub peers: u32,
    /// The last problem, in words.
    pub last_error: Option<String>,
    /// Why messages come but no route, in words.
    pub why_no_routes: Option<String>,
}

impl AgentFeedHealth {
    /// The report of `health`, for the agent `vantage` of `profile`.
    pub fn new(
        profile: &str,
        vantage: &str,
        sequence: u64,
        sent_at: Timestamp,
        health: &FeedHealth,
    ) -> Self {
        AgentFeedHealth {
            schema: SCHEMA_VERSION,
            profile: profile.to_string(),
            vantage: vantage.to_string(),
            sequence,
            sent_at,
            feed: health.feed.to_string(),
            state: health.state,
            since: health.since,
            last_message: health.last_message,
            messages: health.messages,
            messages_per_sec: health.messages_per_sec,
            reconnects: health.reconnects,
            gaps: health.gaps,
            peers: health.peers,
            last_error: health.last_error.clone(),
            why_no_routes: health.why_no_routes.clone(),
        }
    }

    /// The subject, message id and bytes to publish.
    pub fn encode(&self) -> Result<Encoded, SubjectError> {
        Encoded::of_vantage(
            self,
            &self.profile,
            &self.vantage,
            ResultKind::Feed,
            self.sequence,
        )
    }

    /// The feed's health at the central, the feed named `KIND:VANTAGE/NAME`.
    /// The decoder has checked that the feed's name has a kind.
    pub fn into_health(self) -> FeedHealth {
        let kind = FeedKind::of_name(&self.feed).unwrap_or(FeedKind::Bgp);
        let name = self.feed.split_once(':').map_or("", |(_, name)| name);
        FeedHealth {
            feed: FeedId {
                kind,
                name: format!("{}/{name}", self.vantage),
            },
            state: self.state,
            since: self.since,
            last_message: self.last_message,
            messages: self.messages,
            messages_per_sec: self.messages_per_sec,
            reconnects: self.reconnects,
            gaps: self.gaps,
            last_gap: None,
            peers: self.peers,
            last_error: self.last_error,
            why_no_routes: self.why_no_routes,
            stalled: 0,
            router: None,
            session: None,
        }
    }
}

impl Addressed for AgentFeedHealth {
    fn schema(&self) -> u32 {
        self.schema
    }
    fn expected_subject(&self) -> Result<String, SubjectError> {
        subject::result_subject(&self.profile, &self.vantage, ResultKind::Feed)
    }
}

/// The central's decoder of a feed health report that came on `subject`.
pub fn decode_feed_health(subject: &str, bytes: &[u8]) -> Result<AgentFeedHealth, DecodeError> {
    let mut report: AgentFeedHealth = parse_addressed(subject, bytes, MAX_MESSAGE_BYTES)?;
    report.feed = inert(&report.feed, MAX_OUTSIDE_CHARS);
    if FeedKind::of_name(&report.feed).is_none() {
        return Err(DecodeError::Json(format!(
            "a feed named {:?}: not bmp:, bgp: or rislive:",
            report.feed
        )));
    }
    if !report.messages_per_sec.is_finite() || report.messages_per_sec < 0.0 {
        report.messages_per_sec = 0.0;
    }
    for text in [&mut report.last_error, &mut report.why_no_routes]
        .into_iter()
        .flatten()
    {
        *text = inert(text, MAX_OUTSIDE_CHARS);
    }
    Ok(report)
}

/// A BGP feed's health, up with one peer, for the tests.
#[cfg(test)]
pub(crate) fn sample_health() -> FeedHealth {
    let at = Timestamp::from_secs(1_700_000_000);
    FeedHealth {
        feed: FeedId::bgp("192.0.2.1".parse().unwrap()),
        state: FeedState::Up,
        since: at,
        last_message: Some(at),
        messages: 12,
        messages_per_sec: 0.5,
        reconnects: 1,
        gaps: 1,
        last_gap: None,
        peers: 1,
        last_error: None,
        why_no_routes: None,
        stalled: 0,
        router: None,
        session: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_come_well_within_the_time_a_feed_goes_stale() {
        assert_eq!(health_every(300), FEED_HEALTH_EVERY);
        assert_eq!(health_every(30), Duration::from_secs(10));
        assert_eq!(health_every(0), Duration::from_secs(1));
    }

    #[test]
    fn a_report_round_trips_and_names_the_feed_after_its_vantage() {
        let at = Timestamp::from_secs(1_700_000_001);
        let report = AgentFeedHealth::new("kp", "fra-1", 9, at, &sample_health());
        let encoded = report.encode().unwrap();
        assert_eq!(encoded.subject, "blackout.v1.kp.fra-1.feed");
        assert_eq!(encoded.id, "kp.fra-1.9");
        let got = decode_feed_health(&encoded.subject, &encoded.payload).unwrap();
        assert_eq!(got, report);
        let health = got.into_health();
        assert_eq!(health.feed.to_string(), "bgp:fra-1/192.0.2.1");
        assert_eq!(health.feed.entity().to_string(), "feed:bgp:fra-1/192.0.2.1");
        assert_eq!((health.state, health.messages), (FeedState::Up, 12));
    }

    #[test]
    fn a_report_on_another_subject_of_no_kind_or_with_control_text_is_refused_or_made_inert() {
        let at = Timestamp::from_secs(1_700_000_001);
        let mut report = AgentFeedHealth::new("kp", "fra-1", 9, at, &sample_health());
        let encoded = report.encode().unwrap();
        assert!(matches!(
            decode_feed_health("blackout.v1.kp.ams-1.feed", &encoded.payload),
            Err(DecodeError::Subject { .. })
        ));
        report.feed = "telnet:192.0.2.1".into();
        let encoded = report.encode().unwrap();
        assert!(decode_feed_health(&encoded.subject, &encoded.payload).is_err());
        report.feed = "bmp:192.0.2.1".into();
        report.last_error = Some("reset\u{1b}[2J\n".into());
        report.messages_per_sec = -1.0;
        let encoded = report.encode().unwrap();
        let got = decode_feed_health(&encoded.subject, &encoded.payload).unwrap();
        assert!(!got.last_error.unwrap().chars().any(char::is_control));
        assert_eq!(got.messages_per_sec, 0.0);
        assert!(decode_feed_health(&encoded.subject, &vec![b' '; MAX_MESSAGE_BYTES + 1]).is_err());
    }
}
