//! The I/O part: [`Alerter`] delivers an [`Alert`] to every configured channel
//! at once, each with its own retries (doubling backoff) and a timeout per
//! attempt, and counts each delivery's outcome in [`AlertMetrics`].
//!
//! [`Alerter::deliver_all`] is the delivery loop `watch` runs in a task of its
//! own: alerts in, in the order the [`AlertPolicy`] decided them, delivered one
//! after the other so that a start is always delivered before its end. The
//! policy decides on the caller's side of the queue (in `watch`, in its loop).
//!
//! [`AlertPolicy`]: crate::AlertPolicy

use crate::config::{AlertConfig, RetryPolicy, WebhookConfig, WebhookKind};
use crate::email::Mailer;
use crate::error::{DeliveryError, SetupError};
use crate::metrics::AlertMetrics;
use crate::payload::{self, Labels};
use crate::policy::Alert;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// The metrics channel name of email.
pub const EMAIL_CHANNEL: &str = "email";

/// What became of one alert on one channel.
#[derive(Debug)]
pub struct Delivery {
    /// `webhook-json`, `webhook-slack` or `email`.
    pub channel: &'static str,
    /// The URL (redacted: no password, no query values) or the relay.
    pub target: String,
    /// Attempts made.
    pub attempts: u32,
    /// The outcome of the last attempt.
    pub result: Result<(), DeliveryError>,
}

/// Delivers alerts.
pub struct Alerter {
    webhooks: Vec<WebhookConfig>,
    mailer: Option<Mailer>,
    retry: RetryPolicy,
    tls: Arc<rustls::ClientConfig>,
    labels: Labels,
    metrics: Arc<dyn AlertMetrics>,
}

impl Alerter {
    /// Checks the configuration and sets up the channels (nothing connects yet).
    /// `labels` name entities in messages (`country:KP` → `North Korea`).
    pub fn new(
        config: &AlertConfig,
        labels: Labels,
        metrics: Arc<dyn AlertMetrics>,
    ) -> Result<Self, SetupError> {
        config.validate()?;
        let timeout = Duration::from_millis(config.retry.timeout_ms);
        let mailer = config
            .email
            .as_ref()
            .map(|email| Mailer::new(email, timeout))
            .transpose()?;
        Ok(Alerter {
            webhooks: config.webhooks.clone(),
            mailer,
            retry: config.retry,
            tls: crate::webhook::tls_config()?,
            labels,
            metrics,
        })
    }

    /// Delivers `alert` to every channel at once and waits for all of them; each
    /// delivery is retried per the policy and counted once.
    pub async fn deliver(&self, alert: &Alert) -> Vec<Delivery> {
        let key = alert.dedupe_key();
        let json = payload::json_payload(alert, &self.labels)
            .to_string()
            .into_bytes();
        let slack = payload::slack_payload(alert, &self.labels)
            .to_string()
            .into_bytes();
        let mut jobs: Vec<std::pin::Pin<Box<dyn Future<Output = Delivery> + Send + '_>>> =
            Vec::new();
        for hook in &self.webhooks {
            let body = match hook.kind {
                WebhookKind::Json => json.clone(),
                WebhookKind::Slack => slack.clone(),
            };
            let key = key.clone();
            let tls = &self.tls;
            jobs.push(Box::pin(self.with_retries(
                hook.kind.channel(),
                blackout_model::text::redact_url(&hook.url),
                move || {
                    let body = body.clone();
                    let key = key.clone();
                    async move { crate::webhook::post(hook, body, &key, tls).await }
                },
            )));
        }
        if let Some(mailer) = &self.mailer {
            let subject = payload::email_subject(alert, &self.labels);
            let text = payload::email_text(alert, &self.labels);
            let html = payload::email_html(alert, &self.labels);
            jobs.push(Box::pin(self.with_retries(
                EMAIL_CHANNEL,
                mailer.relay().to_string(),
                move || {
                    let (subject, text, html) = (subject.clone(), text.clone(), html.clone());
                    async move { mailer.send(&subject, text, html).await }
                },
            )));
        }
        futures_util::future::join_all(jobs).await
    }

    async fn with_retries<F, Fut>(
        &self,
        channel: &'static str,
        target: String,
        mut attempt: F,
    ) -> Delivery
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<(), DeliveryError>>,
    {
        let timeout = Duration::from_millis(self.retry.timeout_ms);
        let attempts = self.retry.attempts.max(1);
        let mut made = 0;
        let mut result = Ok(());
        for n in 0..attempts {
            tokio::time::sleep(self.retry.backoff(n)).await;
            made += 1;
            result = match tokio::time::timeout(timeout, attempt()).await {
                Ok(outcome) => outcome,
                Err(_) => Err(DeliveryError::Timeout {
                    channel,
                    target: target.clone(),
                    timeout,
                }),
            };
            match &result {
                Ok(()) => break,
                Err(error) if !error.retryable() => break,
                Err(error) => {
                    tracing::debug!(channel, attempt = made, %error, "alert delivery failed; retrying")
                }
            }
        }
        match &result {
            Ok(()) => self.metrics.delivered(channel),
            Err(error) => {
                tracing::warn!(channel, attempts = made, %error, "alert not delivered");
                self.metrics.failed(channel);
            }
        }
        Delivery {
            channel,
            target,
            attempts: made,
            result,
        }
    }

    /// Takes alerts until the sender closes and delivers each one before the
    /// next is looked at, so that they go out in the order they were queued.
    pub async fn deliver_all(self, mut alerts: mpsc::Receiver<Alert>) {
        while let Some(alert) = alerts.recv().await {
            self.deliver(&alert).await;
        }
    }
}
