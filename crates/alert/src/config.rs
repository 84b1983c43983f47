//! The alert settings: where alerts go (webhooks, email), how hard delivery
//! tries, and the least severity worth an alert.
//!
//! The types live in `blackout-profile` (module `alerts`), which is pure, so that
//! a profile can carry them as its `[alerts]` table and report a bad value with
//! the file, the line and the key; this crate uses them as they are. The format:
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
//! An alerts-only file (`blackout watch --alerts FILE`) holds the same keys at the
//! top level, without `alerts.`. [`AlertConfig::validate`] checks what serde
//! cannot (URL schemes, header names, addresses); [`ConfigError::key`] names the
//! key at fault.

pub use blackout_profile::alerts::{
    AlertConfig, AlertConfigError as ConfigError, EmailConfig, RetryPolicy, WebhookConfig,
    WebhookKind,
};

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_model::Severity;

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
    fn what_passes_validation_is_what_hyper_and_lettre_accept() {
        // The pure checks stand in for hyper's and lettre's parsers: a URL or an
        // address they pass must parse in the crates that use it.
        for url in [
            "http://127.0.0.1:9/x",
            "https://hooks.slack.example/services/T000/B000/XXXX",
            "http://[::1]:8080/hook?x=1",
            "http://user:pw@hooks.example/",
        ] {
            let config = AlertConfig {
                webhooks: vec![WebhookConfig {
                    url: url.into(),
                    kind: WebhookKind::Json,
                    token: None,
                    header: Some("X-Blackout-Token".into()),
                }],
                ..AlertConfig::default()
            };
            assert_eq!(config.validate(), Ok(()));
            let uri: hyper::Uri = url.parse().unwrap();
            assert!(uri.host().is_some(), "{url}");
            assert!(hyper::header::HeaderName::from_bytes(b"X-Blackout-Token").is_ok());
        }
        for address in [
            "noc@example",
            "NOC <noc@example.org>",
            "first.last+tag@example.org",
        ] {
            assert!(
                address.parse::<lettre::message::Mailbox>().is_ok(),
                "{address}"
            );
        }
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
    }
}
