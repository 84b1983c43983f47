//! Counters of deliveries, per channel (`webhook-json`, `webhook-slack`,
//! `email`): [`AlertMetrics`] is what the [`Alerter`](crate::Alerter) reports
//! to; [`CountingMetrics`] keeps plain atomic counts (for tests and for `watch`
//! to read), and the API's Prometheus registry implements the same trait.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Where delivery outcomes are counted. One call per delivery (after its retries),
/// not per attempt.
pub trait AlertMetrics: Send + Sync {
    /// One alert reached `channel`.
    fn delivered(&self, channel: &str);
    /// One alert could not reach `channel`, retries spent.
    fn failed(&self, channel: &str);
}

/// Delivered and failed counts per channel.
#[derive(Debug, Default)]
pub struct CountingMetrics {
    counts: Mutex<BTreeMap<String, (AtomicU64, AtomicU64)>>,
}

impl CountingMetrics {
    /// No counts yet.
    pub fn new() -> Self {
        Self::default()
    }

    fn bump(&self, channel: &str, failed: bool) {
        // A poisoned lock only means another thread panicked mid-count; the counts
        // themselves are atomics and still right.
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let entry = counts.entry(channel.to_string()).or_default();
        let counter = if failed { &entry.1 } else { &entry.0 };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    /// Alerts delivered to `channel`.
    pub fn delivered_count(&self, channel: &str) -> u64 {
        self.snapshot().get(channel).map_or(0, |c| c.0)
    }

    /// Alerts that failed to reach `channel`.
    pub fn failed_count(&self, channel: &str) -> u64 {
        self.snapshot().get(channel).map_or(0, |c| c.1)
    }

    /// Every channel's (delivered, failed).
    pub fn snapshot(&self) -> BTreeMap<String, (u64, u64)> {
        let counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        counts
            .iter()
            .map(|(channel, (ok, bad))| {
                (
                    channel.clone(),
                    (ok.load(Ordering::Relaxed), bad.load(Ordering::Relaxed)),
                )
            })
            .collect()
    }
}

impl AlertMetrics for CountingMetrics {
    fn delivered(&self, channel: &str) {
        self.bump(channel, false);
    }

    fn failed(&self, channel: &str) {
        self.bump(channel, true);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_per_channel() {
        let metrics = CountingMetrics::new();
        metrics.delivered("email");
        metrics.delivered("email");
        metrics.failed("webhook-json");
        assert_eq!(metrics.delivered_count("email"), 2);
        assert_eq!(metrics.failed_count("email"), 0);
        assert_eq!(metrics.failed_count("webhook-json"), 1);
        assert_eq!(metrics.delivered_count("nowhere"), 0);
        assert_eq!(metrics.snapshot().len(), 2);
    }
}
