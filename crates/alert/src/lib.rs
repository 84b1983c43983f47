//! Alerts: when an event starts, when its cause changes, and when it ends, tell
//! people, through JSON webhooks, Slack-compatible webhooks and email.
//!
//! - [`config`]: [`AlertConfig`] and its parts, the `[alerts]` table of a profile.
//! - [`policy`]: [`AlertPolicy`], the pure part: from [`EventUpdate`]s to
//!   [`Alert`]s, deduplicated by (event id, kind, cause), with a bounded memory
//!   that can be restored from the store's event log.
//! - [`payload`]: what each channel receives (JSON, Slack blocks, email subject,
//!   text and HTML), escaped for where it lands.
//! - [`Alerter`] (module `alerter`): the I/O, delivering to each channel with
//!   retries, backoff and a per-attempt timeout (webhooks in module `webhook`
//!   with hyper and rustls/ring, email in module `email` with lettre);
//!   [`Alerter::deliver_all`] is the delivery loop `watch` runs, taking alerts
//!   the policy has already decided, in order.
//! - [`AlertMetrics`] (module `metrics`): delivered and failed counts per
//!   channel; [`CountingMetrics`] is a plain atomic implementation.
//!
//! [`EventUpdate`]: blackout_model::EventUpdate

mod alerter;
pub mod config;
mod email;
mod error;
mod metrics;
pub mod payload;
pub mod policy;
mod webhook;

pub use alerter::{Alerter, Delivery, EMAIL_CHANNEL};
pub use config::{AlertConfig, ConfigError, EmailConfig, RetryPolicy, WebhookConfig, WebhookKind};
pub use error::{DeliveryError, SetupError};
pub use metrics::{AlertMetrics, CountingMetrics};
pub use payload::Labels;
pub use policy::{Alert, AlertKind, AlertPolicy};
