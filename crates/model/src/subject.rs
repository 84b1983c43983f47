//! Where many agents publish their results: NATS subject names and message ids.
//!
//! Every result an agent publishes goes to
//! `blackout.v<SCHEMA_VERSION>.<profile>.<vantage>.<kind>` (kind: `probe`,
//! `control`, `feed`), all in one stream, [`STREAM`], that captures `blackout.>`.
//! A central subscribes to `blackout.v1.<profile>.>` for one profile, or narrows
//! to one vantage point. Profile and vantage names must be single subject tokens,
//! so [`subject_token`] rejects dots, wildcards, whitespace and control bytes.
//! The message id (`Nats-Msg-Id`) is the profile, the vantage point and its
//! sequence, nothing else, so a result sent twice (from the agent's disk buffer after the broker
//! came back) is stored once.

use thiserror::Error;

/// The version of the result schema; part of every subject.
pub const SCHEMA_VERSION: u32 = 1;
/// The JetStream stream that holds every agent's results.
pub const STREAM: &str = "BLACKOUT_RESULTS";

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
    /// A probe of a watched target.
    Probe,
    /// A probe of a control target (the vantage point's self-check).
    Control,
    /// A feed's input or health.
    Feed,
}

impl ResultKind {
    /// The subject's last token.
    pub fn as_str(self) -> &'static str {
        match self {
            ResultKind::Probe => "probe",
            ResultKind::Control => "control",
            ResultKind::Feed => "feed",
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

/// The subjects a central reads for one profile.
pub fn profile_filter(profile: &str) -> Result<String, SubjectError> {
    let profile = subject_token("profile", profile)?;
    Ok(format!("blackout.v{SCHEMA_VERSION}.{profile}.>"))
}

/// The message id of a vantage point's `sequence`-th result for a profile: the
/// same result resent is the same id, which JetStream stores once. The sequence
/// must outlive the agent's restarts (it is kept with the disk buffer).
pub fn message_id(profile: &str, vantage: &str, sequence: u64) -> String {
    format!("{profile}.{vantage}.{sequence}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_name_version_profile_vantage_and_kind() {
        assert_eq!(
            result_subject("kp", "fra-1", ResultKind::Probe).unwrap(),
            "blackout.v1.kp.fra-1.probe"
        );
        assert_eq!(profile_filter("kp").unwrap(), "blackout.v1.kp.>");
        assert_eq!(message_id("kp", "fra-1", 42), "kp.fra-1.42");
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
