//! Probe results travel together: what one vantage point's probes made within
//! [`RESULTS_EVERY`] goes out as one [`AgentResults`] message on
//! `blackout.v1.PROFILE.VANTAGE.results`.
//!
//! One message per result cost the broker, the central's client and its acks
//! as much as the result itself: a central reading many agents spent most of
//! its time on messages, not on results. A probe round's answers come within
//! a few hundred milliseconds of each other, so a short wait at the agent puts
//! most of a round in one message, and a result waits at most that long.
//!
//! [`ResultBatcher`] is pure: results and the time go in, sealed messages come
//! out. A message is sealed at the agent's tick, or when it holds
//! [`MAX_RESULTS_PER_MESSAGE`] results; one whose JSON would pass
//! [`MAX_RESULTS_BYTES`] is split in halves until each fits. Each result keeps
//! a sequence number of its own (the message's first, then on), and the
//! message id is their span ([`span_message_id`]), so a message sent twice from
//! the disk buffer is stored once, and the results in it keep their numbers.

use crate::wire::{
    AgentResult, DecodeError, Encoded, clean_opt, make_result_inert, seal_in_halves,
};
use blackout_model::Timestamp;
use blackout_model::subject::{self, ResultKind, SCHEMA_VERSION, SubjectError};
use blackout_probe::ProbeResult;
use serde::{Deserialize, Serialize};
use std::time::Duration;

/// How long a result waits at the agent, at most, before it is sent.
pub const RESULTS_EVERY: Duration = Duration::from_millis(100);
/// The most results one message carries.
pub const MAX_RESULTS_PER_MESSAGE: usize = 512;
/// The most bytes of one message of results: below nats-server's default
/// 1 MiB payload limit.
pub const MAX_RESULTS_BYTES: usize = crate::wire::MAX_BATCH_BYTES;

/// Probe results of one vantage point, published together.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentResults {
    /// The schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// The profile the agent probes for.
    pub profile: String,
    /// The vantage point's name.
    pub vantage: String,
    /// Where the vantage point is, in words (`Frankfurt, AS64496`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The agent's sequence number of the first result; the others follow it.
    pub first: u64,
    /// When the agent published it first (it may have waited in the buffer since).
    pub sent_at: Timestamp,
    /// The results, in the order the probes made them.
    pub results: Vec<ProbeResult>,
}

impl AgentResults {
    /// The sequence number of the last result.
    pub fn last(&self) -> u64 {
        self.first
            .saturating_add((self.results.len() as u64).saturating_sub(1))
    }

    /// The subject, message id and bytes to publish.
    pub fn encode(&self) -> Result<Encoded, SubjectError> {
        Encoded::of_vantage_span(
            self,
            &self.profile,
            &self.vantage,
            ResultKind::Results,
            self.first,
            self.last(),
        )
    }

    /// Each result on its own, with its own sequence number.
    pub fn into_each(self) -> impl Iterator<Item = AgentResult> {
        let AgentResults {
            schema,
            profile,
            vantage,
            location,
            first,
            sent_at,
            results,
        } = self;
        results
            .into_iter()
            .enumerate()
            .map(move |(index, result)| AgentResult {
                schema,
                profile: profile.clone(),
                vantage: vantage.clone(),
                location: location.clone(),
                sequence: first.saturating_add(index as u64),
                sent_at,
                result,
            })
    }
}

impl From<AgentResult> for AgentResults {
    /// One result as earlier versions published it, as a message of one.
    fn from(one: AgentResult) -> Self {
        AgentResults {
            schema: one.schema,
            profile: one.profile,
            vantage: one.vantage,
            location: one.location,
            first: one.sequence,
            sent_at: one.sent_at,
            results: vec![one.result],
        }
    }
}

impl crate::wire::Addressed for AgentResults {
    fn schema(&self) -> u32 {
        self.schema
    }
    fn expected_subject(&self) -> Result<String, SubjectError> {
        subject::result_subject(&self.profile, &self.vantage, ResultKind::Results)
    }
}

/// The central's decoder of a message of results that came on `subject`: at
/// most [`MAX_RESULTS_PER_MESSAGE`] results, every text in them made inert.
pub fn decode_results(subject: &str, bytes: &[u8]) -> Result<AgentResults, DecodeError> {
    let mut message: AgentResults =
        crate::wire::parse_addressed(subject, bytes, MAX_RESULTS_BYTES)?;
    if message.results.is_empty() || message.results.len() > MAX_RESULTS_PER_MESSAGE {
        return Err(DecodeError::Json(format!(
            "a message of {} results; it may have 1 to {MAX_RESULTS_PER_MESSAGE}",
            message.results.len()
        )));
    }
    if message
        .first
        .checked_add(message.results.len() as u64)
        .is_none()
    {
        return Err(DecodeError::Json(
            "its results' sequence numbers run past the largest there is".to_string(),
        ));
    }
    clean_opt(&mut message.location);
    message.results.iter_mut().for_each(make_result_inert);
    Ok(message)
}

/// The results of one vantage point waiting to be sent.
#[derive(Debug)]
pub struct ResultBatcher {
    profile: String,
    vantage: String,
    location: Option<String>,
    waiting: Vec<ProbeResult>,
}

impl ResultBatcher {
    /// The batcher of `vantage`'s results for `profile`, which must be subject
    /// tokens (checked when the agent starts).
    pub fn new(profile: &str, vantage: &str, location: Option<String>) -> Self {
        ResultBatcher {
            profile: profile.to_string(),
            vantage: vantage.to_string(),
            location,
            waiting: Vec::new(),
        }
    }

    /// Results waiting.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// Takes a result; when that fills a message, the message comes out sealed,
    /// its results numbered from `next` on.
    pub fn push(&mut self, result: ProbeResult, now: Timestamp, next: &mut u64) -> Vec<Encoded> {
        self.waiting.push(result);
        if self.waiting.len() >= MAX_RESULTS_PER_MESSAGE {
            self.seal(now, next)
        } else {
            Vec::new()
        }
    }

    /// Seals what waits (none, one message, or several when one would be too
    /// long), its results numbered from `next` on.
    pub fn seal(&mut self, now: Timestamp, next: &mut u64) -> Vec<Encoded> {
        let mut sealed = Vec::new();
        let waiting = std::mem::take(&mut self.waiting);
        let encode = |results: Vec<ProbeResult>, first: u64| {
            let message = AgentResults {
                schema: SCHEMA_VERSION,
                profile: self.profile.clone(),
                vantage: self.vantage.clone(),
                location: self.location.clone(),
                first,
                sent_at: now,
                results,
            };
            (message.encode().ok(), message.results)
        };
        // Each result has a number of its own.
        seal_in_halves(
            waiting,
            MAX_RESULTS_BYTES,
            next,
            |len| len as u64,
            &encode,
            &mut sealed,
        );
        sealed
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{AgentMessage, decode_message};
    use blackout_model::subject::results_in_message_id;
    use blackout_model::{ProbeKind, ProbeRole};
    use blackout_probe::Outcome;

    fn result(n: u64, role: ProbeRole) -> ProbeResult {
        ProbeResult {
            at: Timestamp::from_secs(1_700_000_000 + n as i64),
            target: format!("www-{n}\u{1b}[2J"),
            address: Some("203.0.113.11".parse().unwrap()),
            kind: ProbeKind::Tcp,
            check: "tcp:80".into(),
            role,
            outcome: Outcome::Ok,
            rtt_ms: Some(1.5),
            attempts: 1,
            lost: 0,
            detail: None,
            last_known_address: None,
        }
    }

    #[test]
    fn results_wait_for_the_tick_and_go_as_one_message_numbered_in_order() {
        let mut batcher = ResultBatcher::new("lab", "vp-1", Some("the lab".into()));
        let now = Timestamp::from_secs(1_700_000_100);
        let mut next = 40;
        assert!(
            batcher
                .push(result(1, ProbeRole::Host), now, &mut next)
                .is_empty()
        );
        assert!(
            batcher
                .push(result(2, ProbeRole::Control), now, &mut next)
                .is_empty()
        );
        assert_eq!(batcher.waiting(), 2);
        let sealed = batcher.seal(now, &mut next);
        assert_eq!(sealed.len(), 1);
        assert_eq!(next, 42);
        assert_eq!(batcher.waiting(), 0);
        assert!(batcher.seal(now, &mut next).is_empty(), "nothing waits");
        let message = &sealed[0];
        assert_eq!(message.subject, "blackout.v1.lab.vp-1.results");
        assert_eq!(message.id, "lab.vp-1.40-41");
        assert_eq!(message.results(), 2);
        let AgentMessage::Results(got) =
            decode_message(&message.subject, &message.payload).unwrap()
        else {
            panic!("not results");
        };
        assert_eq!(got.results.len(), 2);
        assert_eq!(got.results[0].target, "www-1\\x1b[2J", "made inert");
        let each: Vec<AgentResult> = got.into_each().collect();
        assert_eq!(each[1].sequence, 41);
        assert_eq!(each[1].result.role, ProbeRole::Control);
        assert_eq!(each[1].location.as_deref(), Some("the lab"));
    }

    #[test]
    fn a_full_message_goes_at_once_and_a_long_one_is_split_in_order() {
        let mut batcher = ResultBatcher::new("lab", "vp-1", None);
        let now = Timestamp::from_secs(1_700_000_100);
        let mut next = 0;
        let mut sealed = Vec::new();
        for n in 0..MAX_RESULTS_PER_MESSAGE as u64 {
            sealed.extend(batcher.push(result(n, ProbeRole::Host), now, &mut next));
        }
        assert_eq!(sealed.len(), 1);
        assert_eq!(sealed[0].results(), MAX_RESULTS_PER_MESSAGE as u64);
        assert_eq!(batcher.waiting(), 0);

        let mut long = result(0, ProbeRole::Host);
        long.check = "x".repeat(4000);
        for _ in 0..300 {
            sealed.extend(batcher.push(long.clone(), now, &mut next));
        }
        let split = batcher.seal(now, &mut next);
        assert!(split.len() >= 2, "{} messages", split.len());
        let mut expected_first = MAX_RESULTS_PER_MESSAGE as u64;
        for message in &split {
            assert!(message.payload.len() <= MAX_RESULTS_BYTES);
            let got = decode_results(&message.subject, &message.payload).unwrap();
            assert_eq!(got.first, expected_first);
            expected_first += got.results.len() as u64;
        }
        assert_eq!(expected_first, next);
        assert_eq!(
            split
                .iter()
                .map(|m| results_in_message_id(&m.id))
                .sum::<u64>(),
            300
        );
    }

    #[test]
    fn a_message_of_no_results_or_too_many_or_on_another_subject_is_refused() {
        let mut message = AgentResults {
            schema: SCHEMA_VERSION,
            profile: "lab".into(),
            vantage: "vp-1".into(),
            location: None,
            first: 1,
            sent_at: Timestamp::from_secs(1_700_000_100),
            results: Vec::new(),
        };
        let encoded = message.encode().unwrap();
        assert!(decode_results(&encoded.subject, &encoded.payload).is_err());
        message.results = vec![result(1, ProbeRole::Host); MAX_RESULTS_PER_MESSAGE + 1];
        let encoded = message.encode().unwrap();
        assert!(decode_results(&encoded.subject, &encoded.payload).is_err());
        message.results.truncate(3);
        message.first = u64::MAX - 1;
        let encoded = message.encode().unwrap();
        assert!(decode_results(&encoded.subject, &encoded.payload).is_err());
        message.first = 1;
        let encoded = message.encode().unwrap();
        assert!(matches!(
            decode_results("blackout.v1.lab.vp-2.results", &encoded.payload),
            Err(DecodeError::Subject { .. })
        ));
        assert_eq!(
            decode_results(&encoded.subject, &encoded.payload)
                .unwrap()
                .results
                .len(),
            3
        );
    }
}
