//! Where many agents publish their results: NATS subject names and message ids.
//!
//! Every result an agent publishes goes to
//! `blackout.v<SCHEMA_VERSION>.<profile>.<vantage>.<kind>` (kind: `results`,
//! `feed`, `trace`, `routes`; `probe` and `control` carried one result each in
//! earlier versions), into the profile's own stream
//! ([`results_stream`]), which captures `blackout.v1.<profile>.*.*`
//! ([`profile_filter`]) and nothing else. The other way, a central asks every
//! agent of a profile for a reactive traceroute on
//! `blackout.v1.<profile>.trace-request` ([`trace_request_subject`]): one token
//! shorter than any result's subject, so never one of them, and never stored.
//! Profile and vantage names must be single subject tokens, so
//! [`subject_token`] rejects dots, wildcards, whitespace and control bytes.
//! The message id (`Nats-Msg-Id`) is the profile, the vantage point and its
//! sequence (for results published together, the span of their sequences),
//! nothing else, so a message sent twice (from the agent's disk buffer after
//! the broker came back) is stored once.

use thiserror::Error;

/// The version of the result schema; part of every subject.
pub const SCHEMA_VERSION: u32 = 1;
/// The one stream of every profile's results that earlier versions made,
/// capturing `blackout.>`. A broker that still has it keeps using it (see
/// [`results_stream`]).
pub const SHARED_STREAM: &str = "BLACKOUT_RESULTS";

/// A name that cannot be a subject token.
#[derive(Debug, Error, PartialEq)]
#[error("`{name}` cannot name a {what}: {why}")]
pub struct SubjectError {
    /// What the name was for (`vantage`, `profile`).
    pub what: &'static str,
    /// The name, escaped for printing.
    pub name: String,
    /// Why not.
    pub why: &'static str,
}

/// What a published result is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResultKind {
    /// The probe results (of watched and control targets) a vantage point
    /// published together.
    Results,
    /// One probe of a watched target (as earlier versions published it).
    Probe,
    /// One probe of a control target, the vantage point's self-check (as
    /// earlier versions published it).
    Control,
    /// A feed's input or health.
    Feed,
    /// A reactive traceroute's report, run because the central asked.
    Trace,
    /// A batch of route inputs of one of the vantage point's BGP/BMP feeds.
    Routes,
}

impl ResultKind {
    /// The subject's last token.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultKind::Results => "results",
            ResultKind::Probe => "probe",
            ResultKind::Control => "control",
            ResultKind::Feed => "feed",
            ResultKind::Trace => "trace",
            ResultKind::Routes => "routes",
        }
    }
}

/// Checks that `name` is one NATS subject token of at most 64 letters, digits,
/// `-` or `_`.
pub fn subject_token<'a>(what: &'static str, name: &'a str) -> Result<&'a str, SubjectError> {
    let fail = |why| SubjectError {
        what,
        name: name.escape_debug().to_string(),
        why,
    };
    if name.is_empty() {
        return Err(fail("it is empty"));
    }
    if name.len() > 64 {
        return Err(fail("it is longer than 64 bytes"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err(fail("only letters, digits, `-` and `_` may be used"));
    }
    Ok(name)
}

/// The subject one vantage point publishes one kind of result on.
pub fn result_subject(
    profile: &str,
    vantage: &str,
    kind: ResultKind,
) -> Result<String, SubjectError> {
    let profile = subject_token("profile", profile)?;
    let vantage = subject_token("vantage", vantage)?;
    Ok(format!(
        "blackout.v{SCHEMA_VERSION}.{profile}.{vantage}.{}",
        kind.as_str()
    ))
}

/// The subjects a central reads for one profile: every vantage point's results
/// of every kind, and not the trace requests of the central itself.
pub fn profile_filter(profile: &str) -> Result<String, SubjectError> {
    let profile = subject_token("profile", profile)?;
    Ok(format!("blackout.v{SCHEMA_VERSION}.{profile}.*.*"))
}

/// The JetStream stream that holds one profile's results: `BLACKOUT_RESULTS_`
/// and the profile. Its subjects are [`profile_filter`]'s and nothing else, so
/// the central's consumer needs no filter of its own: nats-server 2.9 hands a
/// filtered consumer its messages several times as slowly.
pub fn results_stream(profile: &str) -> Result<String, SubjectError> {
    let profile = subject_token("profile", profile)?;
    Ok(format!("{SHARED_STREAM}_{profile}"))
}

/// The subject on which a central asks every agent of a profile for a reactive
/// traceroute.
pub fn trace_request_subject(profile: &str) -> Result<String, SubjectError> {
    let profile = subject_token("profile", profile)?;
    Ok(format!(
        "blackout.v{SCHEMA_VERSION}.{profile}.trace-request"
    ))
}

/// Is `subject` a central's trace request (of any profile)?
pub fn is_trace_request(subject: &str) -> bool {
    let mut tokens = subject.split('.');
    tokens.next() == Some("blackout")
        && tokens.next() == Some(&format!("v{SCHEMA_VERSION}"))
        && tokens.next().is_some()
        && tokens.next() == Some("trace-request")
        && tokens.next().is_none()
}

/// The subject on which a central, when it starts, asks every agent of a
/// profile that relays feeds to send its routes again, as a new session. It is
/// outside the stream's `blackout.>` on purpose: a request is no result to keep.
pub fn routes_request_subject(profile: &str) -> Result<String, SubjectError> {
    let profile = subject_token("profile", profile)?;
    Ok(format!("blackout-ask.v{SCHEMA_VERSION}.{profile}.routes"))
}

/// The message id of a vantage point's `sequence`-th result for a profile: the
/// same result resent is the same id, which JetStream stores once. The sequence
/// must outlive the agent's restarts (it is kept with the disk buffer).
pub fn message_id(profile: &str, vantage: &str, sequence: u64) -> String {
    format!("{profile}.{vantage}.{sequence}")
}

/// The message id of a vantage point's results `first..=last`, published
/// together: `PROFILE.VANTAGE.FIRST-LAST` ([`message_id`] for one). The spans
/// of one agent never overlap, so the id is that message's alone.
pub fn span_message_id(profile: &str, vantage: &str, first: u64, last: u64) -> String {
    if last <= first {
        return message_id(profile, vantage, first);
    }
    format!("{profile}.{vantage}.{first}-{last}")
}

/// How many results a message of id `id` carries: the length of its span
/// ([`span_message_id`]), or one.
pub fn results_in_message_id(id: &str) -> u64 {
    let span = id.rsplit('.').next().unwrap_or_default();
    match span.split_once('-') {
        Some((first, last)) => match (first.parse::<u64>(), last.parse::<u64>()) {
            (Ok(first), Ok(last)) if last >= first => last - first + 1,
            _ => 1,
        },
        None => 1,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_routes_request_is_outside_the_stream_of_results() {
        let subject = routes_request_subject("kp").unwrap();
        assert_eq!(subject, "blackout-ask.v1.kp.routes");
        assert!(!subject.starts_with("blackout."));
        assert!(routes_request_subject("k.p").is_err());
    }

    #[test]
    fn subjects_name_version_profile_vantage_and_kind() {
        assert_eq!(
            result_subject("kp", "fra-1", ResultKind::Probe).unwrap(),
            "blackout.v1.kp.fra-1.probe"
        );
        assert_eq!(profile_filter("kp").unwrap(), "blackout.v1.kp.*.*");
        assert_eq!(results_stream("kp").unwrap(), "BLACKOUT_RESULTS_kp");
        assert!(results_stream("k.p").is_err());
        assert_eq!(
            result_subject("kp", "fra-1", ResultKind::Trace).unwrap(),
            "blackout.v1.kp.fra-1.trace"
        );
        assert_eq!(message_id("kp", "fra-1", 42), "kp.fra-1.42");
        assert_eq!(
            result_subject("kp", "fra-1", ResultKind::Results).unwrap(),
            "blackout.v1.kp.fra-1.results"
        );
    }

    #[test]
    fn a_span_of_results_is_one_id_that_says_how_many() {
        assert_eq!(span_message_id("kp", "fra-1", 40, 44), "kp.fra-1.40-44");
        assert_eq!(span_message_id("kp", "fra-1", 40, 40), "kp.fra-1.40");
        assert_eq!(results_in_message_id("kp.fra-1.40-44"), 5);
        assert_eq!(results_in_message_id("kp.fra-1.40"), 1);
        // Names may hold `-`; only the last token is the span.
        assert_eq!(results_in_message_id("k-p.fra-1.7"), 1);
        for odd in ["", "kp.a.9-3", "kp.a.x-y", "kp.a.-"] {
            assert_eq!(results_in_message_id(odd), 1, "{odd}");
        }
    }

    #[test]
    fn trace_requests_have_a_subject_no_result_has() {
        let request = trace_request_subject("kp").unwrap();
        assert_eq!(request, "blackout.v1.kp.trace-request");
        assert!(is_trace_request(&request));
        // A vantage point named `trace-request` still publishes one token deeper.
        let result = result_subject("kp", "trace-request", ResultKind::Probe).unwrap();
        assert!(!is_trace_request(&result));
        assert!(!is_trace_request("blackout.v1.kp"));
        assert!(!is_trace_request("blackout.v2.kp.trace-request"));
        assert!(trace_request_subject("k.p").is_err());
    }

    #[test]
    fn names_that_would_break_the_subject_are_refused() {
        for bad in ["", "a.b", "*", ">", "a b", "x\n", "é", &"a".repeat(65)] {
            let err = result_subject("kp", bad, ResultKind::Control).unwrap_err();
            assert_eq!(err.what, "vantage", "{bad:?}");
        }
        assert_eq!(
            profile_filter("k.p").unwrap_err().why,
            "only letters, digits, `-` and `_` may be used"
        );
    }
}
