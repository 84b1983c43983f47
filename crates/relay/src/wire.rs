//! What travels between an agent and the central: JSON, with the schema version
//! in the message and in its subject. Probe results go several to a message
//! ([`crate::results::AgentResults`]); [`AgentResult`] is one of them, as the
//! central hands it on and as earlier versions published it, one a message.
//!
//! Each message's `encode` gives the subject, the `Nats-Msg-Id` and the bytes;
//! [`decode_message`] is the central's side: it takes any bytes from the network
//! and returns a message or a [`DecodeError`], never a panic. What it returns is
//! checked (schema, names that are subject tokens, a subject that matches what the
//! message says it is) and every text in it is made inert
//! ([`blackout_model::text::inert`]).
//!
//! Reactive traceroute travels the same way: the central asks every agent of a
//! profile with an [`AgentTraceRequest`] (which agents read with
//! [`decode_trace_request`]), and each agent answers with an [`AgentTrace`] on its
//! own `trace` subject, which the central reads with [`decode_message`] beside
//! the results.

use crate::feed_health::{AgentFeedHealth, decode_feed_health};
use crate::results::{AgentResults, decode_results};
use crate::routes::{AgentRoutes, decode_routes};
use blackout_model::subject::{self, ResultKind, SCHEMA_VERSION, SubjectError};
use blackout_model::text::{MAX_OUTSIDE_CHARS, inert};
use blackout_model::{EventId, ProbeRole, Timestamp, TraceReport, TraceRequest};
use blackout_probe::{Detail, Outcome, ProbeResult};
use serde::{Deserialize, Serialize};
use thiserror::Error;

/// The largest message the central decodes; an agent's result is a few hundred
/// bytes, a traceroute's a few kilobytes.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// The most bytes of a message of many items (results, route inputs): below
/// nats-server's default 1 MiB payload limit.
pub(crate) const MAX_BATCH_BYTES: usize = 960 * 1024;

/// One probe result of one vantage point: as the central hands it on, and as
/// earlier versions published it (one a message, on a `probe` or `control`
/// subject).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentResult {
    /// The schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// The profile the agent probes for.
    pub profile: String,
    /// The vantage point's name.
    pub vantage: String,
    /// Where the vantage point is, in words (`Frankfurt, AS64496`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The agent's sequence number of this result; with the profile and the
    /// vantage point it is the message id.
    pub sequence: u64,
    /// When the agent published it first (it may have waited in the buffer since).
    pub sent_at: Timestamp,
    /// The probe result.
    pub result: ProbeResult,
}

/// A reactive traceroute's report of one vantage point, as published.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentTrace {
    /// The schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// The profile the agent probes for.
    pub profile: String,
    /// The vantage point's name.
    pub vantage: String,
    /// Where the vantage point is, in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    /// The agent's sequence number (shared with its results).
    pub sequence: u64,
    /// When the agent published it first.
    pub sent_at: Timestamp,
    /// The report; its `vantage` is the message's.
    pub report: TraceReport,
}

impl AgentTrace {
    /// The subject, message id and bytes to publish.
    pub fn encode(&self) -> Result<Encoded, SubjectError> {
        Encoded::of_vantage(
            self,
            &self.profile,
            &self.vantage,
            ResultKind::Trace,
            self.sequence,
        )
    }
}

/// A central's request to every agent of a profile: trace toward an event's
/// target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentTraceRequest {
    /// The schema version ([`SCHEMA_VERSION`]).
    pub schema: u32,
    /// The profile.
    pub profile: String,
    /// What to trace, for which event.
    pub request: TraceRequest,
}

impl AgentTraceRequest {
    /// The subject and the bytes to publish.
    pub fn encode(&self) -> Result<(String, Vec<u8>), SubjectError> {
        let subject = subject::trace_request_subject(&self.profile)?;
        // A request of model values always serializes.
        Ok((subject, serde_json::to_vec(self).unwrap_or_default()))
    }
}

/// What a central reads from its agents.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentMessage {
    /// Probe and control results published together.
    Results(AgentResults),
    /// A reactive traceroute's report.
    Trace(AgentTrace),
    /// A batch of route inputs of one of the vantage point's feeds.
    Routes(AgentRoutes),
    /// The health of one of the vantage point's relayed feeds.
    Feed(AgentFeedHealth),
}

impl AgentMessage {
    /// The probe and control results, if it is some.
    pub fn as_results(&self) -> Option<&AgentResults> {
        match self {
            AgentMessage::Results(results) => Some(results),
            AgentMessage::Trace(_) | AgentMessage::Routes(_) | AgentMessage::Feed(_) => None,
        }
    }

    /// How many results it carries, for the counts: a message of results its
    /// results, any other one.
    pub fn count(&self) -> u64 {
        match self {
            AgentMessage::Results(results) => results.results.len() as u64,
            AgentMessage::Trace(_) | AgentMessage::Routes(_) | AgentMessage::Feed(_) => 1,
        }
    }

    /// The traceroute report, if it is one.
    pub fn as_trace(&self) -> Option<&AgentTrace> {
        match self {
            AgentMessage::Trace(trace) => Some(trace),
            AgentMessage::Results(_) | AgentMessage::Routes(_) | AgentMessage::Feed(_) => None,
        }
    }

    /// The vantage point that sent it.
    pub fn vantage(&self) -> &str {
        match self {
            AgentMessage::Results(results) => &results.vantage,
            AgentMessage::Trace(trace) => &trace.vantage,
            AgentMessage::Routes(routes) => &routes.vantage,
            AgentMessage::Feed(report) => &report.vantage,
        }
    }
}

/// A result ready to publish.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Encoded {
    /// The subject.
    pub subject: String,
    /// The `Nats-Msg-Id`.
    pub id: String,
    /// The JSON.
    pub payload: Vec<u8>,
}

impl Encoded {
    /// How many results it carries: those of its id's span
    /// ([`subject::results_in_message_id`]), or one.
    pub fn results(&self) -> u64 {
        subject::results_in_message_id(&self.id)
    }

    /// A vantage point's `sequence`-th message of `kind` for `profile`: its
    /// subject, its message id and `message` as JSON.
    pub(crate) fn of_vantage(
        message: &impl Serialize,
        profile: &str,
        vantage: &str,
        kind: ResultKind,
        sequence: u64,
    ) -> Result<Encoded, SubjectError> {
        Encoded::of_vantage_span(message, profile, vantage, kind, sequence, sequence)
    }

    /// Like [`Encoded::of_vantage`] for a message numbered `first..=last`
    /// (results published together), its id their span
    /// ([`subject::span_message_id`]).
    pub(crate) fn of_vantage_span(
        message: &impl Serialize,
        profile: &str,
        vantage: &str,
        kind: ResultKind,
        first: u64,
        last: u64,
    ) -> Result<Encoded, SubjectError> {
        Ok(Encoded {
            subject: subject::result_subject(profile, vantage, kind)?,
            id: subject::span_message_id(profile, vantage, first, last),
            // Messages of model values and plain values always serialize.
            payload: serde_json::to_vec(message).unwrap_or_default(),
        })
    }
}

/// Seals `items` as one message whose first number is `*next`, or, when its
/// JSON would pass `max_bytes`, as halves (in order) until each fits or holds a
/// single item. `encode(items, first)` makes the message and gives the items
/// back beside it (None: a name that cannot be a subject, checked before);
/// `numbers(len)` is how far a sealed message of `len` items moves `next`.
pub(crate) fn seal_in_halves<T>(
    items: Vec<T>,
    max_bytes: usize,
    next: &mut u64,
    numbers: fn(usize) -> u64,
    encode: &dyn Fn(Vec<T>, u64) -> (Option<Encoded>, Vec<T>),
    sealed: &mut Vec<Encoded>,
) {
    if items.is_empty() {
        return;
    }
    let (encoded, mut items) = encode(items, *next);
    let Some(encoded) = encoded else {
        return;
    };
    if encoded.payload.len() <= max_bytes || items.len() == 1 {
        *next += numbers(items.len());
        sealed.push(encoded);
        return;
    }
    let second = items.split_off(items.len() / 2);
    seal_in_halves(items, max_bytes, next, numbers, encode, sealed);
    seal_in_halves(second, max_bytes, next, numbers, encode, sealed);
}

/// Why bytes from the network are not a result.
#[derive(Debug, Error)]
pub enum DecodeError {
    /// Longer than [`MAX_MESSAGE_BYTES`].
    #[error("a message of {0} bytes is longer than the {MAX_MESSAGE_BYTES} a result may have")]
    TooLong(usize),
    /// Not JSON of the shape of a result.
    #[error("not a result: {0}")]
    Json(String),
    /// Another schema version.
    #[error(
        "schema version {0} is not understood here (this blackout reads version {SCHEMA_VERSION}): upgrade the older side"
    )]
    Schema(u32),
    /// A profile or vantage name that cannot be a subject token.
    #[error(transparent)]
    Name(#[from] SubjectError),
    /// The subject it came on is not the one its content names.
    #[error("came on `{subject}` but says it is for `{expected}`")]
    Subject {
        /// The subject, made inert.
        subject: String,
        /// The subject its content names.
        expected: String,
    },
}

impl AgentResult {
    /// What a result is about: a control target's or another.
    pub fn kind(&self) -> ResultKind {
        match self.result.role {
            ProbeRole::Control => ResultKind::Control,
            _ => ResultKind::Probe,
        }
    }

    /// The subject, message id and bytes to publish.
    pub fn encode(&self) -> Result<Encoded, SubjectError> {
        Encoded::of_vantage(
            self,
            &self.profile,
            &self.vantage,
            self.kind(),
            self.sequence,
        )
    }
}

/// The central's decoder: the bytes of a message that came on `subject`.
pub fn decode(subject: &str, bytes: &[u8]) -> Result<AgentResult, DecodeError> {
    let mut result: AgentResult = parse_addressed(subject, bytes, MAX_MESSAGE_BYTES)?;
    make_inert(&mut result);
    Ok(result)
}

/// The central's decoder of anything its agents publish: results on a
/// `results` subject ([`decode_results`]), a traceroute's report on a `trace`
/// subject, a batch of feed routes on a `routes` subject ([`decode_routes`]), a
/// feed's health on a `feed` subject, or one result as earlier versions
/// published it.
pub fn decode_message(subject: &str, bytes: &[u8]) -> Result<AgentMessage, DecodeError> {
    if subject.ends_with(".results") {
        return decode_results(subject, bytes).map(AgentMessage::Results);
    }
    if subject.ends_with(".routes") {
        return decode_routes(subject, bytes).map(AgentMessage::Routes);
    }
    if subject.ends_with(".feed") {
        return decode_feed_health(subject, bytes).map(AgentMessage::Feed);
    }
    if !subject.ends_with(".trace") {
        return decode(subject, bytes).map(|one| AgentMessage::Results(one.into()));
    }
    let mut trace: AgentTrace = parse_addressed(subject, bytes, MAX_MESSAGE_BYTES)?;
    clean_opt(&mut trace.location);
    let report = &mut trace.report;
    report.vantage = trace.vantage.clone();
    report.event = EventId(inert(&report.event.0, MAX_OUTSIDE_CHARS));
    clean(&mut report.target);
    clean(&mut report.mode);
    clean_opt(&mut report.failure);
    report.hops.truncate(255);
    Ok(AgentMessage::Trace(trace))
}

/// An agent's decoder of a central's trace request that came on `subject`.
pub fn decode_trace_request(subject: &str, bytes: &[u8]) -> Result<AgentTraceRequest, DecodeError> {
    let mut ask: AgentTraceRequest = parse_addressed(subject, bytes, MAX_MESSAGE_BYTES)?;
    let request = &mut ask.request;
    request.event = EventId(inert(&request.event.0, MAX_OUTSIDE_CHARS));
    clean(&mut request.target);
    clean_opt(&mut request.vantage);
    Ok(ask)
}

/// A message that says its schema version and the subject it must come on.
pub(crate) trait Addressed: serde::de::DeserializeOwned {
    /// Its schema version.
    fn schema(&self) -> u32;
    /// The subject its content names.
    fn expected_subject(&self) -> Result<String, SubjectError>;
}

/// `bytes` (at most `max` of them) as a `T` of this blackout's schema that
/// came on the subject its content names; its texts are still to be made inert.
pub(crate) fn parse_addressed<T: Addressed>(
    subject: &str,
    bytes: &[u8],
    max: usize,
) -> Result<T, DecodeError> {
    if bytes.len() > max {
        return Err(DecodeError::TooLong(bytes.len()));
    }
    let message: T =
        serde_json::from_slice(bytes).map_err(|error| DecodeError::Json(error.to_string()))?;
    if message.schema() != SCHEMA_VERSION {
        return Err(DecodeError::Schema(message.schema()));
    }
    let expected = message.expected_subject()?;
    if expected != subject {
        return Err(DecodeError::Subject {
            subject: inert(subject, MAX_OUTSIDE_CHARS),
            expected,
        });
    }
    Ok(message)
}

impl Addressed for AgentResult {
    fn schema(&self) -> u32 {
        self.schema
    }
    fn expected_subject(&self) -> Result<String, SubjectError> {
        subject::result_subject(&self.profile, &self.vantage, self.kind())
    }
}

impl Addressed for AgentTrace {
    fn schema(&self) -> u32 {
        self.schema
    }
    fn expected_subject(&self) -> Result<String, SubjectError> {
        subject::result_subject(&self.profile, &self.vantage, ResultKind::Trace)
    }
}

impl Addressed for AgentTraceRequest {
    fn schema(&self) -> u32 {
        self.schema
    }
    fn expected_subject(&self) -> Result<String, SubjectError> {
        subject::trace_request_subject(&self.profile)
    }
}

fn clean(text: &mut String) {
    *text = inert(text, MAX_OUTSIDE_CHARS);
}

pub(crate) fn clean_opt(text: &mut Option<String>) {
    if let Some(text) = text {
        clean(text);
    }
}

/// Every text of a result from the network, made inert.
fn make_inert(message: &mut AgentResult) {
    clean_opt(&mut message.location);
    make_result_inert(&mut message.result);
}

/// Every text of a probe result from the network, made inert.
pub(crate) fn make_result_inert(result: &mut ProbeResult) {
    clean(&mut result.target);
    clean(&mut result.check);
    match &mut result.outcome {
        Outcome::Unreachable { reason } | Outcome::Failed { reason } => clean(reason),
        Outcome::Error { message } => clean(message),
        Outcome::Ok | Outcome::Timeout | Outcome::Refused => {}
    }
    if let Some(last) = &mut result.last_known_address {
        clean(&mut last.resolve_error);
    }
    match &mut result.detail {
        Some(Detail::Http(http)) => {
            clean_opt(&mut http.title);
            clean_opt(&mut http.sha256);
            clean_opt(&mut http.server);
            clean_opt(&mut http.location);
        }
        Some(Detail::Dns(dns)) => {
            clean(&mut dns.zone);
            clean(&mut dns.server);
            clean_opt(&mut dns.rcode);
            clean_opt(&mut dns.query);
            dns.ns.truncate(64);
            dns.ns.iter_mut().for_each(clean);
            dns.a.truncate(64);
        }
        Some(Detail::Smtp(smtp)) => {
            clean_opt(&mut smtp.banner);
            smtp.extensions.truncate(64);
            smtp.extensions.iter_mut().for_each(clean);
        }
        Some(Detail::Trace(trace)) => {
            clean(&mut trace.mode);
            trace.hops.truncate(255);
            for hop in trace.hops.iter_mut().chain(trace.last_responding.as_mut()) {
                clean_opt(&mut hop.reply);
            }
        }
        None => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_model::ProbeKind;

    fn sample(role: ProbeRole) -> AgentResult {
        AgentResult {
            schema: SCHEMA_VERSION,
            profile: "lab".into(),
            vantage: "vp-primary".into(),
            location: Some("behind the primary".into()),
            sequence: 7,
            sent_at: Timestamp::from_secs(1_700_000_001),
            result: ProbeResult {
                at: Timestamp::from_secs(1_700_000_000),
                target: "www".into(),
                address: Some("203.0.113.11".parse().unwrap()),
                kind: ProbeKind::Tcp,
                check: "tcp:80".into(),
                role,
                outcome: Outcome::Failed {
                    reason: "bad\x1b[2Jbanner".into(),
                },
                rtt_ms: Some(1.5),
                attempts: 2,
                lost: 1,
                detail: None,
                last_known_address: None,
            },
        }
    }

    #[test]
    fn a_result_goes_through_on_its_subject_and_its_text_is_made_inert() {
        let sent = sample(ProbeRole::Host);
        let encoded = sent.encode().unwrap();
        assert_eq!(encoded.subject, "blackout.v1.lab.vp-primary.probe");
        assert_eq!(encoded.id, "lab.vp-primary.7");
        let got = decode(&encoded.subject, &encoded.payload).unwrap();
        assert_eq!(
            got.result.outcome,
            Outcome::Failed {
                reason: "bad\\x1b[2Jbanner".into()
            }
        );
        assert_eq!(got.result.target, sent.result.target);
        assert_eq!(got.sequence, 7);
    }

    fn trace(vantage: &str) -> AgentTrace {
        AgentTrace {
            schema: SCHEMA_VERSION,
            profile: "lab".into(),
            vantage: vantage.into(),
            location: None,
            sequence: 8,
            sent_at: Timestamp::from_secs(1_700_000_002),
            report: TraceReport {
                event: EventId("ev-1".into()),
                target: "www\x07".into(),
                at: Timestamp::from_secs(1_700_000_002),
                vantage: "someone else".into(),
                address: "127.0.0.1".parse().ok(),
                mode: "icmp".into(),
                hops: vec![blackout_model::TraceHop {
                    ttl: 1,
                    address: "127.0.0.1".parse().ok(),
                    asn: None,
                }],
                reached: true,
                failure: None,
            },
        }
    }

    #[test]
    fn a_trace_report_comes_on_its_vantage_points_subject_named_after_it() {
        let encoded = trace("vp-transit").encode().unwrap();
        assert_eq!(encoded.subject, "blackout.v1.lab.vp-transit.trace");
        assert_eq!(encoded.id, "lab.vp-transit.8");
        let AgentMessage::Trace(got) = decode_message(&encoded.subject, &encoded.payload).unwrap()
        else {
            panic!("not a trace");
        };
        assert_eq!(got.report.vantage, "vp-transit");
        assert_eq!(got.report.target, "www\\x07");
        assert_eq!(got.report.hops.len(), 1);
        // A report on another vantage point's subject is refused.
        assert!(matches!(
            decode_message("blackout.v1.lab.vp-other.trace", &encoded.payload),
            Err(DecodeError::Subject { .. })
        ));
        // A result on a trace subject is not a report.
        let result = sample(ProbeRole::Host).encode().unwrap();
        assert!(decode_message("blackout.v1.lab.vp-primary.trace", &result.payload).is_err());
        // And results still decode as results.
        assert!(matches!(
            decode_message(&result.subject, &result.payload),
            Ok(AgentMessage::Results(_))
        ));
    }

    #[test]
    fn a_trace_request_goes_to_every_agent_of_its_profile() {
        let ask = AgentTraceRequest {
            schema: SCHEMA_VERSION,
            profile: "lab".into(),
            request: TraceRequest {
                event: EventId("ev-2".into()),
                target: "www\u{1b}[2J".into(),
                address: "::1".parse().ok(),
                vantage: None,
            },
        };
        let (subject, bytes) = ask.encode().unwrap();
        assert_eq!(subject, "blackout.v1.lab.trace-request");
        let got = decode_trace_request(&subject, &bytes).unwrap();
        assert_eq!(got.request.target, "www\\x1b[2J");
        assert_eq!(got.request.address, ask.request.address);
        assert!(matches!(
            decode_trace_request("blackout.v1.kp.trace-request", &bytes),
            Err(DecodeError::Subject { .. })
        ));
        assert!(decode_trace_request(&subject, b"{}").is_err());
    }

    #[test]
    fn controls_go_on_the_control_subject() {
        let encoded = sample(ProbeRole::Control).encode().unwrap();
        assert_eq!(encoded.subject, "blackout.v1.lab.vp-primary.control");
    }

    #[test]
    fn wrong_subjects_schemas_and_names_are_refused() {
        let encoded = sample(ProbeRole::Host).encode().unwrap();
        assert!(matches!(
            decode("blackout.v1.lab.other.probe", &encoded.payload),
            Err(DecodeError::Subject { .. })
        ));
        let mut future = sample(ProbeRole::Host);
        future.schema = 2;
        let bytes = serde_json::to_vec(&future).unwrap();
        assert!(matches!(
            decode(&encoded.subject, &bytes),
            Err(DecodeError::Schema(2))
        ));
        let mut dotted = sample(ProbeRole::Host);
        dotted.vantage = "a.b".into();
        let bytes = serde_json::to_vec(&dotted).unwrap();
        assert!(matches!(
            decode(&encoded.subject, &bytes),
            Err(DecodeError::Name(_))
        ));
        for junk in [&b""[..], b"{", b"null", b"[1,2]", &[0xff; 10]] {
            assert!(matches!(
                decode(&encoded.subject, junk),
                Err(DecodeError::Json(_))
            ));
        }
        let long = vec![b' '; MAX_MESSAGE_BYTES + 1];
        assert!(matches!(
            decode(&encoded.subject, &long),
            Err(DecodeError::TooLong(_))
        ));
    }
}
