//! The alert settings a profile carries: where alerts go (webhooks, email), how
//! hard delivery tries, and the least severity worth an alert.
//!
//! The types are strict serde types (unknown keys are rejected) so that they can sit
//! in a profile's TOML as an `[alerts]` table:
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
//! [`AlertConfig::validate`] checks what serde cannot (URL schemes, addresses).

use blackout_model::Severity;
use serde::{Deserialize, Serialize};

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

/// A setting that cannot work.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    /// A webhook URL that is not http(s) or has no host.
    #[error("alerts.webhook[{index}].url `{url}`: {reason}")]
    WebhookUrl {
        /// Which webhook.
        index: usize,
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// A header name that HTTP does not allow.
    #[error("alerts.webhook[{index}].header `{header}` is not a valid HTTP header name")]
    WebhookHeader {
        /// Which webhook.
        index: usize,
        /// The name.
        header: String,
    },
    /// An address that does not parse.
    #[error("alerts.email.{key} `{address}` is not an email address")]
    EmailAddress {
        /// `from` or `to`.
        key: &'static str,
        /// The text.
        address: String,
    },
    /// Email with nobody to send to.
    #[error("alerts.email.to is empty: name at least one recipient")]
    NoRecipients,
    /// A password without a user, or the reverse.
    #[error("alerts.email: username and password go together")]
    HalfCredentials,
    /// Zero attempts.
    #[error("alerts.retry.attempts must be at least 1")]
    NoAttempts,
    /// A zero timeout.
    #[error("alerts.retry.timeout_ms must be more than 0")]
    NoTimeout,
}

impl AlertConfig {
    /// Checks each value serde cannot check.
    pub fn validate(&self) -> Result<(), ConfigError> {
        for (index, hook) in self.webhooks.iter().enumerate() {
            let bad = |reason: &str| ConfigError::WebhookUrl {
                index,
                url: hook.url.clone(),
                reason: reason.to_string(),
            };
            let uri: hyper::Uri = hook
                .url
                .parse()
                .map_err(|e: hyper::http::uri::InvalidUri| bad(&e.to_string()))?;
            match uri.scheme_str() {
                Some("http") | Some("https") => {}
                _ => return Err(bad("use an http:// or https:// URL")),
            }
            if uri.host().is_none_or(str::is_empty) {
                return Err(bad("no host"));
            }
            if let Some(header) = &hook.header
                && hyper::header::HeaderName::from_bytes(header.as_bytes()).is_err()
            {
                return Err(ConfigError::WebhookHeader {
                    index,
                    header: header.clone(),
                });
            }
        }
        if let Some(email) = &self.email {
            email
                .from
                .parse::<lettre::message::Mailbox>()
                .map_err(|_| ConfigError::EmailAddress {
                    key: "from",
                    address: email.from.clone(),
                })?;
            if email.to.is_empty() {
                return Err(ConfigError::NoRecipients);
            }
            for to in &email.to {
                to.parse::<lettre::message::Mailbox>()
                    .map_err(|_| ConfigError::EmailAddress {
                        key: "to",
                        address: to.clone(),
                    })?;
            }
            if email.username.is_some() != email.password.is_some() {
                return Err(ConfigError::HalfCredentials);
            }
        }
        if self.retry.attempts == 0 {
            return Err(ConfigError::NoAttempts);
        }
        if self.retry.timeout_ms == 0 {
            return Err(ConfigError::NoTimeout);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_documented_sample_parses_and_validates() {
        let text = "
min_severity = \"critical\"

[[webhook]]
url = \"https://hooks.example/blackout\"
kind = \"json\"
token = \"s3cret\"

[[webhook]]
url = \"https://hooks.slack.example/services/T000/B000/XXXX\"
kind = \"slack\"

[email]
smtp_host = \"mail.example\"
smtp_port = 587
from = \"blackout@example\"
to = [\"noc@example\"]
starttls = true

[retry]
attempts = 3
backoff_ms = 1000
timeout_ms = 10000
";
        let config: AlertConfig = toml::from_str(text).unwrap();
        config.validate().unwrap();
        assert_eq!(config.min_severity, Severity::Critical);
        assert_eq!(config.webhooks.len(), 2);
        assert_eq!(config.webhooks[1].kind, WebhookKind::Slack);
        let back: AlertConfig = toml::from_str(&toml::to_string(&config).unwrap()).unwrap();
        assert_eq!(back, config);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_refused() {
        assert!(
            toml::from_str::<AlertConfig>(
                "[[webhook]]\nurl = \"http://h/\"\nkind = \"json\"\ncolour = 1\n"
            )
            .is_err()
        );
        assert!(
            toml::from_str::<AlertConfig>("[[webhook]]\nurl = \"http://h/\"\nkind = \"teams\"\n")
                .is_err()
        );
        let hook = |url: &str| AlertConfig {
            webhooks: vec![WebhookConfig {
                url: url.into(),
                kind: WebhookKind::Json,
                token: None,
                header: None,
            }],
            ..AlertConfig::default()
        };
        assert!(hook("http://127.0.0.1:9/x").validate().is_ok());
        assert!(matches!(
            hook("ftp://h/").validate(),
            Err(ConfigError::WebhookUrl { .. })
        ));
        assert!(matches!(
            hook("/relative").validate(),
            Err(ConfigError::WebhookUrl { .. })
        ));
        let mut config = AlertConfig::default();
        config.retry.attempts = 0;
        assert_eq!(config.validate(), Err(ConfigError::NoAttempts));
        let email = |to: Vec<String>| AlertConfig {
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
        };
        assert_eq!(email(vec![]).validate(), Err(ConfigError::NoRecipients));
        assert!(matches!(
            email(vec!["not an address".into()]).validate(),
            Err(ConfigError::EmailAddress { key: "to", .. })
        ));
        assert!(email(vec!["noc@example.org".into()]).validate().is_ok());
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
