//! Profiles: what blackout watches, and how.
//!
//! A profile is a strict TOML file (see the README's sample and
//! `profiles/kp.toml`). It names the networks (origin ASNs and prefixes), the
//! expected upstreams, the hosts with the checks to run on each, the DNS zones with
//! their authoritative servers, the mail servers, the control targets that tell
//! whether the vantage point itself is online, the feeds, the thresholds, and
//! how many vantage points must agree on a target (`[consensus]`).
//!
//! - [`Profile`] and its parts are the validated form the rest of blackout uses.
//! - [`load_file`], [`load_str`] and [`builtin`] make one; every failure is a
//!   [`ProfileError`] that names the file, the line and the key.
//! - [`BUILTIN`] lists the profiles compiled into the binary (`kp`, `lab`).
//! - [`alerts`]: [`AlertConfig`], the `[alerts]` table (webhooks, email, retries,
//!   the least severity worth an alert); [`load_alerts_file`] reads the same keys
//!   from a file of their own, with the same errors.

pub mod alerts;
mod error;
mod locate;
mod model;
mod raw;

pub use alerts::{
    AlertConfig, AlertConfigError, EmailConfig, RetryPolicy, WebhookConfig, WebhookKind,
};
pub use error::ProfileError;
pub use model::{
    BmpView, Check, ConsensusSettings, FeedConfig, Host, MailServer, NameServer, Network,
    ProbeSettings, Profile, SessionMode, Thresholds, Upstream, UpstreamRole, Zone,
};

/// The profiles compiled into the binary: name, one-line description, TOML text.
pub const BUILTIN: &[(&str, &str)] = &[
    ("kp", include_str!("../profiles/kp.toml")),
    ("lab", include_str!("../profiles/lab.toml")),
];

/// Loads a built-in profile by name.
pub fn builtin(name: &str) -> Result<Profile, ProfileError> {
    let (_, text) = BUILTIN
        .iter()
        .find(|(builtin, _)| *builtin == name)
        .ok_or_else(|| ProfileError::UnknownBuiltin {
            name: name.to_string(),
            known: BUILTIN
                .iter()
                .map(|(name, _)| *name)
                .collect::<Vec<_>>()
                .join(", "),
        })?;
    load_str(text, &format!("<built-in profile {name}>"))
}

/// Loads a profile from a file.
pub fn load_file(path: &std::path::Path) -> Result<Profile, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        file: path.display().to_string(),
        source,
    })?;
    load_str(&text, &path.display().to_string())
}

/// Loads a profile from TOML text; `origin` names the file in errors.
pub fn load_str(text: &str, origin: &str) -> Result<Profile, ProfileError> {
    let raw: raw::RawProfile = raw::parse(text, origin)?;
    raw.validate(text, origin)
}

/// Loads an alerts-only file: the keys of a profile's `[alerts]` table at the top
/// level (`min_severity`, `[[webhook]]`, `[email]`, `[retry]`).
pub fn load_alerts_file(path: &std::path::Path) -> Result<AlertConfig, ProfileError> {
    let text = std::fs::read_to_string(path).map_err(|source| ProfileError::Read {
        file: path.display().to_string(),
        source,
    })?;
    load_alerts_str(&text, &path.display().to_string())
}

/// Reads alert settings from the text of an alerts-only file; `origin` names the
/// file in errors.
pub fn load_alerts_str(text: &str, origin: &str) -> Result<AlertConfig, ProfileError> {
    let alerts: AlertConfig = raw::parse(text, origin).map_err(|error| match error {
        // A profile's table pasted whole: say what the file wants instead.
        ProfileError::Invalid(mut located) if located.key.as_deref() == Some("alerts") => {
            located.message = "an alerts file holds the keys of the [alerts] table at the top \
                level (min_severity, [[webhook]], [email], [retry]): drop the `alerts` table \
                around them"
                .into();
            ProfileError::Invalid(located)
        }
        other => other,
    })?;
    raw::check_alerts(&alerts, text, origin, "")?;
    Ok(alerts)
}
