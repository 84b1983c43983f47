//! The broker's side shared by agents and the central: the connection (which
//! keeps trying while the broker is away) and each profile's stream of results.

use crate::RelayError;
use async_nats::jetstream::{self, ErrorCode, context::CreateStreamErrorKind, stream};
use blackout_model::subject::{SHARED_STREAM, profile_filter, results_stream};
use std::time::Duration;

/// How long JetStream remembers a message id: a result resent from an agent's
/// buffer within this time after its first copy was stored is stored once.
pub const DUPLICATE_WINDOW: Duration = Duration::from_secs(3600);
/// How long the stream keeps results.
pub const MAX_AGE: Duration = Duration::from_secs(7 * 24 * 3600);

/// A client of the broker at `url` that connects in the background and
/// reconnects forever (every 100 ms at first, at most every 2 s). A user and
/// password in the URL (`nats://USER:PASSWORD@HOST:PORT`, percent-encoded) are
/// what it logs in with; the client itself is given the URL without them, and
/// errors name the URL with the password hidden ([`redact`]).
pub async fn connect(url: &str) -> Result<async_nats::Client, RelayError> {
    let broker = BrokerUrl::parse(url)?;
    let mut options = async_nats::ConnectOptions::new()
        .name("blackout")
        .retry_on_initial_connect()
        .max_reconnects(None)
        .connection_timeout(Duration::from_secs(2))
        .reconnect_delay_callback(|attempts| {
            Duration::from_millis((attempts as u64).saturating_mul(100).min(2000))
        });
    if let Some((user, password)) = broker.credentials {
        options = options.user_and_password(user, password);
    }
    options
        .connect(broker.address.as_str())
        .await
        .map_err(|error| RelayError::Connect {
            url: redact(url),
            reason: error.to_string(),
        })
}

/// A broker's URL taken apart: the address to dial and the login in it.
#[derive(Debug, PartialEq, Eq)]
struct BrokerUrl {
    /// The URL without its user and password.
    address: String,
    /// The user and the password, decoded, when the URL has a user.
    credentials: Option<(String, String)>,
}

impl BrokerUrl {
    fn parse(url: &str) -> Result<BrokerUrl, RelayError> {
        let bad = |reason: &str| RelayError::Connect {
            url: redact(url),
            reason: reason.to_string(),
        };
        let Some((scheme, rest, userinfo)) = split_userinfo(url) else {
            return Ok(BrokerUrl {
                address: url.to_string(),
                credentials: None,
            });
        };
        let address = format!("{scheme}://{rest}");
        let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
        let user = percent_decode(user)
            .ok_or_else(|| bad("the user in it is not valid UTF-8 percent-encoding"))?;
        let password = percent_decode(password)
            .ok_or_else(|| bad("the password in it is not valid UTF-8 percent-encoding"))?;
        if user.is_empty() {
            return Ok(BrokerUrl {
                address,
                credentials: None,
            });
        }
        Ok(BrokerUrl {
            address,
            credentials: Some((user, password)),
        })
    }
}

/// `url` split into its scheme, what follows the `@` and the user information
/// before it, when it has a user information.
fn split_userinfo(url: &str) -> Option<(&str, &str, &str)> {
    let (scheme, after) = url.split_once("://")?;
    let authority_end = after.find(['/', '?', '#']).unwrap_or(after.len());
    let at = after[..authority_end].rfind('@')?;
    Some((scheme, &after[at + 1..], &after[..at]))
}

/// `url` with the password in it, if any, replaced by `***`: the form to log
/// or show.
pub fn redact(url: &str) -> String {
    match split_userinfo(url) {
        Some((scheme, rest, userinfo)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{rest}"),
            None => url.to_string(),
        },
        None => url.to_string(),
    }
}

/// A broker's URL that may hold a password: shown (`Debug`, `Display`) with the
/// password hidden ([`redact`]), handed whole only by [`NatsUrl::as_str`], to
/// [`connect`].
#[derive(Clone, PartialEq, Eq)]
pub struct NatsUrl(String);

impl NatsUrl {
    /// The URL as given, password included: for [`connect`], never for showing.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<String> for NatsUrl {
    fn from(url: String) -> Self {
        NatsUrl(url)
    }
}

impl std::str::FromStr for NatsUrl {
    type Err = std::convert::Infallible;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Ok(NatsUrl(url.to_string()))
    }
}

impl std::fmt::Debug for NatsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:?}", redact(&self.0))
    }
}

impl std::fmt::Display for NatsUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&redact(&self.0))
    }
}

/// `%XX` sequences decoded; None when one is broken or the bytes are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut decoded = Vec::with_capacity(bytes.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes[at] == b'%' {
            let hex = text.get(at + 1..at + 3)?;
            decoded.push(u8::from_str_radix(hex, 16).ok()?);
            at += 3;
        } else {
            decoded.push(bytes[at]);
            at += 1;
        }
    }
    String::from_utf8(decoded).ok()
}

/// What an agent and a central say once when the broker still has the shared
/// stream of an earlier version.
pub const SHARED_IN_USE: &str = "the broker still has BLACKOUT_RESULTS, the one stream of every \
    profile that earlier versions made: results go there, and the central reads them through a \
    subject filter, several times as slowly as from a profile's own stream. Once every central \
    has read it (no results pending), delete it with any NATS client \
    (`nats stream rm BLACKOUT_RESULTS`); each profile's stream is then made as it is needed";

/// Where a profile's results are kept.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResultsStream {
    /// The profile's own stream ([`results_stream`]): it holds that profile's
    /// results and nothing else, so a central reads it with no subject filter.
    Profile(String),
    /// The one stream of every profile that earlier versions made
    /// ([`SHARED_STREAM`], capturing `blackout.>`). While it is there it takes
    /// every profile's results (a profile's own stream would overlap it), and a
    /// central reads it through a subject filter, which nats-server 2.9 serves
    /// several times as slowly.
    Shared,
}

impl ResultsStream {
    /// The stream's name.
    pub fn name(&self) -> &str {
        match self {
            ResultsStream::Profile(name) => name,
            ResultsStream::Shared => SHARED_STREAM,
        }
    }
}

/// The settings of `profile`'s stream: that profile's results of every vantage
/// point and kind, on disk, ids remembered for [`DUPLICATE_WINDOW`].
pub fn stream_config(profile: &str) -> Result<stream::Config, RelayError> {
    Ok(stream::Config {
        name: results_stream(profile)?,
        subjects: vec![profile_filter(profile)?],
        storage: stream::StorageType::File,
        retention: stream::RetentionPolicy::Limits,
        discard: stream::DiscardPolicy::Old,
        duplicate_window: DUPLICATE_WINDOW,
        max_age: MAX_AGE,
        description: Some(format!(
            "blackout: the results of every agent of profile {profile}"
        )),
        ..Default::default()
    })
}

/// Creates `profile`'s stream if it is not there (one made by hand with other
/// limits is left as it is), and says where the profile's results are kept:
/// in the shared stream of an earlier version while that one is there.
pub async fn ensure_stream(
    js: &jetstream::Context,
    profile: &str,
) -> Result<ResultsStream, RelayError> {
    let config = stream_config(profile)?;
    let name = config.name.clone();
    let error = match js.get_or_create_stream(config).await {
        Ok(_) => return Ok(ResultsStream::Profile(name)),
        Err(error) => error,
    };
    let overlaps = matches!(
        error.kind(),
        CreateStreamErrorKind::JetStream(ref e) if e.error_code() == ErrorCode::STREAM_SUBJECT_OVERLAP
    );
    // Only an overlap sends it looking for the shared stream: a broker set up
    // for this version does not let an agent look that name up at all.
    if overlaps && js.get_stream(SHARED_STREAM).await.is_ok() {
        return Ok(ResultsStream::Shared);
    }
    Err(RelayError::Stream {
        name,
        reason: error.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_url_without_a_user_is_dialled_as_it_is() {
        let broker = BrokerUrl::parse("nats://127.0.0.1:4222").unwrap();
        assert_eq!(broker.address, "nats://127.0.0.1:4222");
        assert_eq!(broker.credentials, None);
        assert_eq!(redact("nats://127.0.0.1:4222"), "nats://127.0.0.1:4222");
    }

    #[test]
    fn the_user_and_password_are_taken_out_decoded_and_hidden_when_shown() {
        let url = "nats://agent-kp:s%40cret%3Ax@[::1]:4222";
        let broker = BrokerUrl::parse(url).unwrap();
        assert_eq!(broker.address, "nats://[::1]:4222");
        assert_eq!(
            broker.credentials,
            Some(("agent-kp".to_string(), "s@cret:x".to_string()))
        );
        assert_eq!(redact(url), "nats://agent-kp:***@[::1]:4222");
        assert!(!redact(url).contains("cret"));
    }

    #[test]
    fn a_nats_url_shows_no_password_in_debug_or_display() {
        let url: NatsUrl = "nats://central:hunter2@127.0.0.1:4222".parse().unwrap();
        assert_eq!(url.to_string(), "nats://central:***@127.0.0.1:4222");
        assert_eq!(format!("{url:?}"), "\"nats://central:***@127.0.0.1:4222\"");
        assert!(!format!("{url:#?}").contains("hunter2"));
        assert_eq!(url.as_str(), "nats://central:hunter2@127.0.0.1:4222");
    }

    #[test]
    fn an_at_sign_after_the_host_is_no_user() {
        let url = "nats://127.0.0.1:4222/path@x";
        assert_eq!(BrokerUrl::parse(url).unwrap().credentials, None);
        assert_eq!(redact(url), url);
    }

    #[test]
    fn a_broken_percent_encoding_is_refused_without_showing_the_password() {
        let error = BrokerUrl::parse("nats://u:pa%zzss@127.0.0.1:4222").unwrap_err();
        let shown = error.to_string();
        assert!(shown.contains("nats://u:***@127.0.0.1:4222"), "{shown}");
        assert!(!shown.contains("pa%zz"), "{shown}");
    }
}
