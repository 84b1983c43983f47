//! Why a delivery failed, with what it was doing and where, and whether another
//! attempt may help.

use std::time::Duration;

/// A failed delivery attempt.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The URL cannot be used (checked again here, in case validation was skipped).
    #[error("webhook {url}: {reason}")]
    BadUrl {
        /// The URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
    /// The host name did not resolve.
    #[error("webhook {url}: cannot resolve {host}: {source}")]
    Resolve {
        /// The URL.
        url: String,
        /// The host.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// No TCP connection.
    #[error("webhook {url}: cannot connect to {address}: {source}")]
    Connect {
        /// The URL.
        url: String,
        /// The address tried last.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("webhook {url}: TLS with {host}: {source}")]
    Tls {
        /// The URL.
        url: String,
        /// The server name.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP exchange failed.
    #[error("webhook {url}: HTTP: {source}")]
    Http {
        /// The URL.
        url: String,
        /// Why.
        source: hyper::Error,
    },
    /// The receiver answered with an error status.
    #[error("webhook {url}: the receiver answered {status}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The attempt took longer than the timeout.
    #[error("{channel} {target}: no answer within {timeout:?}")]
    Timeout {
        /// `webhook-json`, `webhook-slack` or `email`.
        channel: &'static str,
        /// The URL or relay.
        target: String,
        /// The limit.
        timeout: Duration,
    },
    /// The mail could not be built (a bad address).
    #[error("email: cannot build the message: {0}")]
    Message(String),
    /// The SMTP relay refused or failed.
    #[error("email via {relay}: {source}")]
    Smtp {
        /// host:port.
        relay: String,
        /// Why.
        source: lettre::transport::smtp::Error,
    },
}

impl DeliveryError {
    /// Whether another attempt may succeed: network trouble, timeouts, 5xx, 408
    /// and 429 may pass; a bad URL, a bad address or another 4xx will not.
    pub fn retryable(&self) -> bool {
        match self {
            DeliveryError::BadUrl { .. } | DeliveryError::Message(_) => false,
            DeliveryError::Status { status, .. } => {
                *status >= 500 || *status == 408 || *status == 429
            }
            DeliveryError::Smtp { source, .. } => !source.is_permanent(),
            _ => true,
        }
    }
}

/// The alerter could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The configuration is invalid.
    #[error(transparent)]
    Config(#[from] crate::config::ConfigError),
    /// The TLS configuration could not be built.
    #[error("cannot set up TLS for webhooks: {0}")]
    Tls(#[from] rustls::Error),
    /// The SMTP transport could not be built.
    #[error("cannot set up SMTP to {relay}: {source}")]
    Smtp {
        /// host:port.
        relay: String,
        /// Why.
        source: lettre::transport::smtp::Error,
    },
}
