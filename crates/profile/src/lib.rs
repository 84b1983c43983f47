//! Profiles: what blackout watches, and how.
//!
//! A profile is a strict TOML file (see the README's sample and
//! `profiles/kp.toml`). It names the networks (origin ASNs and prefixes), the
//! expected upstreams, the hosts with the checks to run on each, the DNS zones with
//! their authoritative servers, the mail servers, the control targets that tell
//! whether the vantage point itself is online, the feeds, and the thresholds.
//!
//! - [`Profile`] and its parts are the validated form the rest of blackout uses.
//! - [`load_file`], [`load_str`] and [`builtin`] make one; every failure is a
//!   [`ProfileError`] that names the file, the line and the key.
//! - [`BUILTIN`] lists the profiles compiled into the binary (`kp`, `lab`).

mod error;
mod locate;
mod model;
mod raw;

pub use error::ProfileError;
pub use model::{
    Check, FeedConfig, Host, MailServer, NameServer, Network, ProbeSettings, Profile, SessionMode,
    Thresholds, Upstream, UpstreamRole, Zone,
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
    let raw = raw::parse(text, origin)?;
    raw.validate(text, origin)
}
