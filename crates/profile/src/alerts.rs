//! The alert settings a profile carries: where alerts go (webhooks, email), how
//! hard delivery tries, and the least severity worth an alert. Pure data and pure
//! checks; the delivery itself is the `blackout-alert` crate's.
//!
//! The types are strict serde types (unknown keys are rejected). In a profile they
//! are the `[alerts]` table; in an alerts-only file (`blackout watch --alerts
//! FILE`, read by [`load_alerts_file`](crate::load_alerts_file)) the same keys
//! stand at the top level, without the `alerts.` in front:
//!
//! ```toml
//! [alerts]
//! min_severity = "critical"
//!
//! [[alerts.webhook]]
//! url = "https://hooks.example/blackout"
//! kind = "json"
//! token = "s3cret"                 # sent as "Authorization: Bearer s3cret"
//!
//! [[alerts.webhook]]
//! url = "https://hooks.slack.example/services/T000/B000/XXXX"
//! kind = "slack"
//!
//! [alerts.email]
//! smtp_host = "mail.example"
//! smtp_port = 587
//! from = "blackout@example"
//! to = ["noc@example"]
//! starttls = true
//!
//! [alerts.retry]
//! attempts = 3
//! backoff_ms = 1000
//! timeout_ms = 10000
//! ```
//!
//! [`AlertConfig::validate`] checks what serde cannot (URL schemes, header names,
//! addresses); each [`AlertConfigError`] names the key it is about, so that the
//! profile loader can give its file and line.

use blackout_model::Severity;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::net::IpAddr;

/// Everything about alerts.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// Webhooks to POST to.
    #[serde(default, rename = "webhook")]
    pub webhooks: Vec<WebhookConfig>,
    /// Email over SMTP.
    #[serde(default)]
    pub email: Option<EmailConfig>,
    /// How hard each delivery tries.
    #[serde(default)]
    pub retry: RetryPolicy,
    /// Events below this severity raise no alert.
    #[serde(default = "default_min_severity")]
    pub min_severity: Severity,
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            webhooks: Vec::new(),
            email: None,
            retry: RetryPolicy::default(),
            min_severity: default_min_severity(),
        }
    }
}

fn default_min_severity() -> Severity {
    Severity::Warning
}

/// What a webhook expects.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum WebhookKind {
    /// `{"alert": ..., "event": ..., "duration_secs": ...}`.
    Json,
    /// A Slack incoming webhook (`{"text": ..., "blocks": [...]}`); Mattermost and
    /// others that speak the same format work too.
    Slack,
}

impl WebhookKind {
    /// The channel name used in metrics.
    pub fn channel(self) -> &'static str {
        match self {
            WebhookKind::Json => "webhook-json",
            WebhookKind::Slack => "webhook-slack",
        }
    }
}

/// One webhook.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// `http://` or `https://` URL.
    pub url: String,
    /// The payload it expects.
    pub kind: WebhookKind,
    /// A secret sent with each request.
    #[serde(default)]
    pub token: Option<String>,
    /// The header that carries the token; without one the token goes as
    /// `Authorization: Bearer TOKEN`, with one as `HEADER: TOKEN`.
    #[serde(default)]
    pub header: Option<String>,
}

/// Email over SMTP.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmailConfig {
    /// The relay's name or address.
    pub smtp_host: String,
    /// Its port.
    #[serde(default = "default_smtp_port")]
    pub smtp_port: u16,
    /// The sender (`blackout@example` or `Blackout <blackout@example>`).
    pub from: String,
    /// The recipients.
    pub to: Vec<String>,
    /// Upgrade to TLS with STARTTLS (required when set; plain SMTP when not).
    #[serde(default = "default_starttls")]
    pub starttls: bool,
    /// Login, if the relay wants one.
    #[serde(default)]
    pub username: Option<String>,
    /// Password for `username`.
    #[serde(default)]
    pub password: Option<String>,
    /// Also send an HTML part beside the plain text.
    #[serde(default)]
    pub html: bool,
}

fn default_smtp_port() -> u16 {
    587
}

fn default_starttls() -> bool {
    true
}

/// How hard each delivery tries.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// Attempts in all (at least 1).
    #[serde(default = "default_attempts")]
    pub attempts: u32,
    /// The wait before the second attempt; it doubles for each one after.
    #[serde(default = "default_backoff_ms")]
    pub backoff_ms: u64,
    /// How long one attempt may take, connection included.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: default_attempts(),
            backoff_ms: default_backoff_ms(),
            timeout_ms: default_timeout_ms(),
        }
    }
}

impl RetryPolicy {
    /// The wait before attempt `attempt` (0-based; attempt 0 does not wait).
    pub fn backoff(&self, attempt: u32) -> std::time::Duration {
        if attempt == 0 {
            return std::time::Duration::ZERO;
        }
        let factor = 1u64 << (attempt - 1).min(16);
        std::time::Duration::from_millis(self.backoff_ms.saturating_mul(factor))
    }
}

fn default_attempts() -> u32 {
    3
}

fn default_backoff_ms() -> u64 {
    1000
}

fn default_timeout_ms() -> u64 {
    10_000
}

/// An alert setting that cannot work. [`AlertConfigError::key`] is the key within
/// the alerts table (`webhook[0].url`); the message says what is wrong.
#[derive(Debug, PartialEq, Eq, Clone)]
pub enum AlertConfigError {
    /// A webhook URL that is not http(s) or has no host.
    WebhookUrl {
        /// Which webhook.
        index: usize,
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A header name that HTTP does not allow.
    WebhookHeader {
        /// Which webhook.
        index: usize,
        /// The name.
        header: String,
    },
    /// A relay that is not a host name or address.
    EmailHost {
        /// The text.
        host: String,
    },
    /// An address that does not parse.
    EmailAddress {
        /// `from` or `to`.
        key: &'static str,
        /// For `to`: which recipient.
        index: Option<usize>,
        /// The text.
        address: String,
    },
    /// Email with nobody to send to.
    NoRecipients,
    /// A password without a user, or the reverse.
    HalfCredentials,
    /// Zero attempts.
    NoAttempts,
    /// A timeout of zero or beyond [`MAX_ALERT_TIMEOUT_MS`].
    TimeoutOutOfRange(u64),
    /// A first wait between attempts beyond [`MAX_ALERT_BACKOFF_MS`].
    BackoffOutOfRange(u64),
}

/// The longest one delivery attempt may take: a minute, like every other timeout.
pub const MAX_ALERT_TIMEOUT_MS: u64 = 60_000;
/// The longest first wait between attempts: an hour.
pub const MAX_ALERT_BACKOFF_MS: u64 = 3_600_000;

impl AlertConfigError {
    /// The key the error is about, within the alerts table.
    pub fn key(&self) -> String {
        match self {
            AlertConfigError::WebhookUrl { index, .. } => format!("webhook[{index}].url"),
            AlertConfigError::WebhookHeader { index, .. } => format!("webhook[{index}].header"),
            AlertConfigError::EmailHost { .. } => "email.smtp_host".into(),
            AlertConfigError::EmailAddress {
                key,
                index: Some(index),
                ..
            } => format!("email.{key}[{index}]"),
            AlertConfigError::EmailAddress { key, .. } => format!("email.{key}"),
            AlertConfigError::NoRecipients => "email.to".into(),
            AlertConfigError::HalfCredentials => "email.username".into(),
            AlertConfigError::NoAttempts => "retry.attempts".into(),
            AlertConfigError::TimeoutOutOfRange(_) => "retry.timeout_ms".into(),
            AlertConfigError::BackoffOutOfRange(_) => "retry.backoff_ms".into(),
        }
    }

    /// What is wrong, and what to write instead, without the key.
    pub fn reason(&self) -> String {
        match self {
            AlertConfigError::WebhookUrl { url, reason, .. } => format!("`{url}`: {reason}"),
            AlertConfigError::WebhookHeader { header, .. } => {
                format!("`{header}` is not a valid HTTP header name")
            }
            AlertConfigError::EmailHost { host } => {
                format!("`{host}` is not a host name or address")
            }
            AlertConfigError::EmailAddress { address, .. } => {
                format!("`{address}` is not an email address")
            }
            AlertConfigError::NoRecipients => "no recipient: name at least one".into(),
            AlertConfigError::HalfCredentials => {
                "username and password go together: give both or neither".into()
            }
            AlertConfigError::NoAttempts => "must be at least 1".into(),
            AlertConfigError::TimeoutOutOfRange(ms) => {
                format!(
                    "{ms} ms is not a timeout: write milliseconds from 1 to {MAX_ALERT_TIMEOUT_MS}"
                )
            }
            AlertConfigError::BackoffOutOfRange(ms) => {
                format!(
                    "{ms} ms is too long a wait: write milliseconds from 0 to {MAX_ALERT_BACKOFF_MS}"
                )
            }
        }
    }
}

impl fmt::Display for AlertConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "alerts.{}: {}", self.key(), self.reason())
    }
}

impl std::error::Error for AlertConfigError {}

impl AlertConfig {
    /// Does it name anywhere to send alerts?
    pub fn has_channels(&self) -> bool {
        !self.webhooks.is_empty() || self.email.is_some()
    }

    /// Checks each value serde cannot check.
    pub fn validate(&self) -> Result<(), AlertConfigError> {
        for (index, hook) in self.webhooks.iter().enumerate() {
            check_url(&hook.url).map_err(|reason| AlertConfigError::WebhookUrl {
                index,
                url: hook.url.clone(),
                reason: reason.to_string(),
            })?;
            if let Some(header) = &hook.header
                && !is_token(header)
            {
                return Err(AlertConfigError::WebhookHeader {
                    index,
                    header: header.clone(),
                });
            }
        }
        if let Some(email) = &self.email {
            if !is_host(&email.smtp_host) {
                return Err(AlertConfigError::EmailHost {
                    host: email.smtp_host.clone(),
                });
            }
            if !is_mailbox(&email.from) {
                return Err(AlertConfigError::EmailAddress {
                    key: "from",
                    index: None,
                    address: email.from.clone(),
                });
            }
            if email.to.is_empty() {
                return Err(AlertConfigError::NoRecipients);
            }
            for (index, to) in email.to.iter().enumerate() {
                if !is_mailbox(to) {
                    return Err(AlertConfigError::EmailAddress {
                        key: "to",
                        index: Some(index),
                        address: to.clone(),
                    });
                }
            }
            if email.username.is_some() != email.password.is_some() {
                return Err(AlertConfigError::HalfCredentials);
            }
        }
        if self.retry.attempts == 0 {
            return Err(AlertConfigError::NoAttempts);
        }
        if !(1..=MAX_ALERT_TIMEOUT_MS).contains(&self.retry.timeout_ms) {
            return Err(AlertConfigError::TimeoutOutOfRange(self.retry.timeout_ms));
        }
        if self.retry.backoff_ms > MAX_ALERT_BACKOFF_MS {
            return Err(AlertConfigError::BackoffOutOfRange(self.retry.backoff_ms));
        }
        Ok(())
    }
}

/// Checks an absolute http(s) URL the way an HTTP client will read it: the
/// scheme, a host (a name, an IPv4 address or a bracketed IPv6 one), an optional
/// port, and only characters a URI may hold.
fn check_url(url: &str) -> Result<(), &'static str> {
    if let Some(bad) = url.chars().find(|c| !is_uri_char(*c)) {
        return Err(if bad.is_whitespace() {
            "a URL has no spaces: write them as %20"
        } else {
            "holds a character a URL may not (write it %-encoded)"
        });
    }
    let Some((scheme, rest)) = url.split_once("://") else {
        return Err("use an http:// or https:// URL");
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return Err("use an http:// or https:// URL");
    }
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = if let Some(inner) = host_port.strip_prefix('[') {
        let Some((address, after)) = inner.split_once(']') else {
            return Err("an IPv6 address needs its closing ]");
        };
        if address.parse::<std::net::Ipv6Addr>().is_err() {
            return Err("not an IPv6 address between [ and ]");
        }
        match after {
            "" => (address, None),
            _ => match after.strip_prefix(':') {
                Some(port) => (address, Some(port)),
                None => return Err("after ] comes :PORT or the path"),
            },
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err("no host");
    }
    if !host_port.starts_with('[') && !is_host(host) {
        return Err("the host is not a host name or address");
    }
    if let Some(port) = port
        && !port.is_empty()
        && port.parse::<u16>().is_err()
    {
        return Err("the port is not a number from 0 to 65535");
    }
    Ok(())
}

/// Characters RFC 3986 allows in a URI (percent-encoded ones included).
fn is_uri_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~:/?#[]@!$&'()*+,;=%".contains(c)
}

/// An RFC 9110 token: what a header name may be.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c))
}

/// A host name (letters, digits, `-`, `_`, dots) or an IP address.
fn is_host(text: &str) -> bool {
    if text.parse::<IpAddr>().is_ok() {
        return true;
    }
    !text.is_empty()
        && text.len() <= 253
        && text.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// `user@domain` or `Name <user@domain>`.
fn is_mailbox(text: &str) -> bool {
    let text = text.trim();
    let address = match (text.rfind('<'), text.strip_suffix('>')) {
        (Some(open), Some(inner)) => {
            let name = &text[..open];
            if name.chars().any(|c| c.is_control() || c == '<' || c == '>') {
                return false;
            }
            &inner[open + 1..]
        }
        (None, None) => text,
        _ => return false,
    };
    let Some((user, domain)) = address.rsplit_once('@') else {
        return false;
    };
    let user_ok = !user.is_empty()
        && !user.starts_with('.')
        && !user.ends_with('.')
        && !user.contains("..")
        && user
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~.".contains(c));
    let domain_ok = match domain.strip_prefix('[').and_then(|d| d.strip_suffix(']')) {
        Some(literal) => literal.parse::<IpAddr>().is_ok(),
        None => is_host(domain),
    };
    user_ok && domain_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hook(url: &str) -> AlertConfig {
        AlertConfig {
            webhooks: vec![WebhookConfig {
                url: url.into(),
                kind: WebhookKind::Json,
                token: None,
                header: None,
            }],
            ..AlertConfig::default()
        }
    }

    fn email(to: Vec<String>) -> AlertConfig {
        AlertConfig {
            email: Some(EmailConfig {
                smtp_host: "127.0.0.1".into(),
                smtp_port: 25,
                from: "blackout@example.org".into(),
                to,
                starttls: false,
                username: None,
                password: None,
                html: false,
            }),
            ..AlertConfig::default()
        }
    }

    #[test]
    fn urls_an_http_client_can_use_pass_and_others_say_why_not() {
        for good in [
            "http://127.0.0.1:9/x",
            "https://hooks.slack.example/services/T000/B000/XXXX",
            "http://[::1]:8080/hook?x=1",
            "HTTPS://Hooks.Example",
            "http://user:pw@hooks.example/",
        ] {
            assert_eq!(hook(good).validate(), Ok(()), "{good}");
        }
        for (bad, why) in [
            ("ftp://h/", "http:// or https://"),
            ("/relative", "http:// or https://"),
            ("http:///path", "no host"),
            ("http://h:port/", "port"),
            ("http://[::1/", "closing ]"),
            ("http://exa mple/", "spaces"),
            ("http://h/<script>", "character"),
            ("http://bad..host/", "host name"),
        ] {
            match hook(bad).validate() {
                Err(error @ AlertConfigError::WebhookUrl { .. }) => {
                    assert_eq!(error.key(), "webhook[0].url");
                    assert!(error.reason().contains(why), "{bad}: {}", error.reason());
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn headers_addresses_and_retries_are_checked() {
        let mut config = hook("http://h/");
        config.webhooks[0].header = Some("X-Token".into());
        assert_eq!(config.validate(), Ok(()));
        config.webhooks[0].header = Some("X Token".into());
        assert_eq!(config.validate().unwrap_err().key(), "webhook[0].header");
        assert_eq!(
            email(vec![]).validate(),
            Err(AlertConfigError::NoRecipients)
        );
        let error = email(vec!["noc@example.org".into(), "not an address".into()])
            .validate()
            .unwrap_err();
        assert_eq!(error.key(), "email.to[1]");
        assert!(email(vec!["NOC <noc@example>".into()]).validate().is_ok());
        assert!(email(vec!["noc@[192.0.2.1]".into()]).validate().is_ok());
        assert!(email(vec!["noc@".into()]).validate().is_err());
        assert!(email(vec!["<noc@example".into()]).validate().is_err());
        let mut config = AlertConfig::default();
        config.retry.attempts = 0;
        assert_eq!(config.validate(), Err(AlertConfigError::NoAttempts));
        assert_eq!(
            config.validate().unwrap_err().to_string(),
            "alerts.retry.attempts: must be at least 1"
        );
    }

    #[test]
    fn backoff_doubles_and_never_overflows() {
        let policy = RetryPolicy {
            attempts: 5,
            backoff_ms: 100,
            timeout_ms: 1000,
        };
        let waits: Vec<u128> = (0..4).map(|a| policy.backoff(a).as_millis()).collect();
        assert_eq!(waits, vec![0, 100, 200, 400]);
        let huge = RetryPolicy {
            backoff_ms: u64::MAX,
            ..policy
        };
        assert_eq!(huge.backoff(40).as_millis(), u128::from(u64::MAX));
    }
}
