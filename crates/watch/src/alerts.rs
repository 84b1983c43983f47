//! Alerts from the watch loop. The [`AlertPolicy`] decides in the loop itself
//! (it is pure and cheap); a task of its own delivers, with the
//! [`Alerter`]'s retries, so that a slow receiver never holds up the detector.
//! Between the two sits a bounded queue: when it is full, the alert is dropped,
//! counted (`blackout_alerts_dropped_total`) and logged, rather than waited for.
//!
//! The policy's memory is restored from the store at startup, so that a restart
//! does not announce again what was announced before it.

use blackout_alert::{Alert, AlertConfig, AlertMetrics, AlertPolicy, Alerter, Labels, SetupError};
use blackout_api::Metrics;
use blackout_model::EventUpdate;
use blackout_model::Timestamp;
use blackout_store::{EventQuery, Store, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Alerts that may wait for delivery before new ones are dropped.
pub const ALERT_QUEUE: usize = 256;

/// How far back the policy's memory is restored from the store's event log:
/// events still open, and those that ended within this window.
const RESTORE_WINDOW_SECS: i64 = 86_400;

/// The API's Prometheus registry as the alerter's counters.
struct PrometheusAlerts(Arc<Metrics>);

impl AlertMetrics for PrometheusAlerts {
    fn delivered(&self, channel: &str) {
        self.0.alert_delivered(channel);
    }

    fn failed(&self, channel: &str) {
        self.0.alert_failed(channel);
    }
}

/// The policy, the queue and the delivering task.
pub(crate) struct Alerting {
    policy: AlertPolicy,
    queue: mpsc::Sender<Alert>,
    metrics: Arc<Metrics>,
    task: JoinHandle<()>,
    /// How long the task may finish what is queued when watch stops.
    grace: Duration,
}

impl Alerting {
    /// Sets up delivery for `config`, if it names any channel; `labels` name the
    /// entities in the messages. Must run inside the tokio runtime.
    pub(crate) fn start(
        config: &AlertConfig,
        labels: Labels,
        metrics: Arc<Metrics>,
    ) -> Result<Option<Self>, SetupError> {
        if !config.has_channels() {
            return Ok(None);
        }
        let alerter = Alerter::new(
            config,
            labels,
            Arc::new(PrometheusAlerts(Arc::clone(&metrics))),
        )?;
        let (queue, alerts) = mpsc::channel::<Alert>(ALERT_QUEUE);
        // One alert after the other: an event's start always goes out before its end.
        let task = tokio::spawn(alerter.deliver_all(alerts));
        Ok(Some(Alerting {
            policy: AlertPolicy::new(config.min_severity),
            queue,
            metrics,
            task,
            grace: Duration::from_millis(config.retry.timeout_ms.min(10_000)),
        }))
    }

    /// Remembers as sent what the store's event log says was announced: every
    /// event still open, and every one that ended within a day. Returns how many
    /// events it restored.
    pub(crate) fn restore(&mut self, store: &Store, now: Timestamp) -> Result<usize, StoreError> {
        let recent = store.events(&EventQuery {
            since: Some(now.add_secs(-RESTORE_WINDOW_SECS)),
            ..EventQuery::default()
        })?;
        for event in &recent {
            self.policy.restore(event, &store.event_log(&event.id.0)?);
        }
        Ok(recent.len())
    }

    /// Hands an update to the policy and queues the alert it calls for, if any.
    pub(crate) fn offer(&mut self, update: &EventUpdate) {
        let Some(alert) = self.policy.decide(update) else {
            return;
        };
        match self.queue.try_send(alert) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(alert)) => {
                self.metrics.alert_dropped();
                tracing::warn!(
                    event = %alert.event.id,
                    kind = alert.kind.as_str(),
                    "alert dropped: {ALERT_QUEUE} alerts are already waiting for delivery (is a receiver slow or down?)"
                );
            }
            Err(mpsc::error::TrySendError::Closed(alert)) => {
                self.metrics.alert_dropped();
                tracing::warn!(
                    event = %alert.event.id,
                    kind = alert.kind.as_str(),
                    "alert dropped: the delivery task has stopped"
                );
            }
        }
    }

    /// Closes the queue and gives the task a moment to deliver what waits in it.
    pub(crate) async fn finish(self) {
        let Alerting {
            queue, task, grace, ..
        } = self;
        let waiting = ALERT_QUEUE - queue.capacity();
        drop(queue);
        let abort = task.abort_handle();
        if tokio::time::timeout(grace, task).await.is_err() {
            abort.abort();
            tracing::warn!(
                "stopped with alerts still being delivered ({waiting} were queued at the stop); they are not sent"
            );
        }
    }
}
