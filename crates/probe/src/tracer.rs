//! The tracer: reactive traceroute at the edge. The engine asks, in its output,
//! for traceroutes toward the targets of an event that started
//! ([`TraceRequest`]); the watch hands them to this task (and, as the central of
//! many vantage points, to every agent, whose own tracer runs them too), which
//! runs each (a Paris traceroute over ICMP, IPv4 or IPv6, from this vantage
//! point), and sends back a [`TraceReport`] named after the vantage point, which
//! the watch feeds to the engine as an input. The engine turns it into
//! `probe.trace` evidence on the event.
//!
//! Requests wait in a bounded queue: a full one drops the request and says so,
//! never holding up the watch loop. A few traces run at once. Without a raw
//! socket (root or `CAP_NET_RAW`) the tracer says so once and runs none.

use crate::icmp::{IcmpMode, open_socket};
use crate::trace::{TraceOptions, trace};
use crate::{NoAsLookup, Outcome, TraceDetail, TraceMode};
use blackout_model::text::{MAX_OUTSIDE_CHARS, inert};
use blackout_model::{TraceHop, TraceReport, TraceRequest, clock};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc};

/// Requests that may wait for the tracer; more are dropped (the engine asks for
/// at most 24 in 10 minutes, so only a stuck tracer fills it).
pub const TRACE_QUEUE: usize = 64;
/// Traceroutes run at once.
const TRACES_AT_ONCE: usize = 4;

/// How the tracer traces.
#[derive(Clone, Debug)]
pub struct TracerConfig {
    /// The name of this vantage point, in each report.
    pub vantage: String,
    /// How long each round of probes waits for answers.
    pub timeout: Duration,
    /// The highest TTL tried.
    pub max_hops: u8,
    /// Rounds (each resends the TTLs still silent).
    pub rounds: u32,
}

impl TracerConfig {
    /// The profile's probe timing, from `vantage`.
    pub fn from_profile(profile: &blackout_profile::Profile, vantage: &str) -> Self {
        let probes = crate::EngineConfig::from(&profile.probes);
        TracerConfig {
            vantage: vantage.to_string(),
            timeout: probes.timeout,
            max_hops: probes.max_hops,
            rounds: 1 + probes.retries.max(1),
        }
    }
}

/// Why the tracer runs nothing here, if it does not: no raw ICMP socket.
pub fn unavailable() -> Option<String> {
    open_socket(false, IcmpMode::Raw).err().map(|error| {
        format!(
            "reactive traceroute is off: it needs a raw ICMP socket (root or CAP_NET_RAW; `setcap cap_net_raw+ep <path to blackout>`): {error}"
        )
    })
}

/// Runs the requests that come in until their channel closes, each report sent
/// to `reports`.
pub async fn run(
    config: TracerConfig,
    mut requests: mpsc::Receiver<TraceRequest>,
    reports: mpsc::Sender<TraceReport>,
) {
    let slots = Arc::new(Semaphore::new(TRACES_AT_ONCE));
    let config = Arc::new(config);
    let mut running = tokio::task::JoinSet::new();
    while let Some(request) = requests.recv().await {
        let Ok(slot) = slots.clone().acquire_owned().await else {
            break;
        };
        let (config, reports) = (config.clone(), reports.clone());
        running.spawn(async move {
            let report = trace_one(&config, request).await;
            let _ = reports.send(report).await;
            drop(slot);
        });
        // Reap what has finished, so the set does not grow.
        while running.try_join_next().is_some() {}
    }
    while running.join_next().await.is_some() {}
}

/// Traces one request's target.
async fn trace_one(config: &TracerConfig, request: TraceRequest) -> TraceReport {
    let address = match request.address {
        Some(address) => Ok(address),
        None => resolve(&request.target).await,
    };
    let (address, outcome, detail) = match address {
        Ok(address) => {
            let options = TraceOptions {
                mode: TraceMode::Icmp,
                max_hops: config.max_hops,
                timeout: config.timeout,
                rounds: config.rounds,
            };
            let (outcome, _, detail) = trace(address, options, &NoAsLookup).await;
            (Some(address), outcome, detail)
        }
        Err(message) => (
            None,
            Outcome::Error { message },
            TraceDetail {
                mode: "icmp".into(),
                ..TraceDetail::default()
            },
        ),
    };
    report(request, config, address, &outcome, detail)
}

/// The first address a name resolves to.
async fn resolve(name: &str) -> Result<IpAddr, String> {
    match tokio::net::lookup_host((name, 0)).await {
        Ok(mut addresses) => addresses
            .next()
            .map(|a| a.ip())
            .ok_or_else(|| format!("{name} resolves to no address")),
        Err(error) => Err(format!("{name} does not resolve: {error}")),
    }
}

/// The probe's trace as the engine's report.
fn report(
    request: TraceRequest,
    config: &TracerConfig,
    address: Option<IpAddr>,
    outcome: &Outcome,
    detail: TraceDetail,
) -> TraceReport {
    let failure = match outcome {
        // A trace that could not be made at all (no socket, no source address):
        // no hop to show.
        Outcome::Error { message } if detail.hops.is_empty() => {
            Some(inert(message, MAX_OUTSIDE_CHARS))
        }
        _ => None,
    };
    TraceReport {
        event: request.event,
        target: request.target,
        at: clock::now(),
        vantage: config.vantage.clone(),
        address,
        mode: detail.mode,
        hops: detail
            .hops
            .iter()
            .map(|hop| TraceHop {
                ttl: hop.ttl,
                address: hop.address,
                asn: hop.asn,
            })
            .collect(),
        reached: detail.reached,
        failure,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Hop;
    use blackout_model::EventId;

    fn config() -> TracerConfig {
        TracerConfig {
            vantage: "local".into(),
            timeout: Duration::from_millis(100),
            max_hops: 8,
            rounds: 1,
        }
    }

    fn request(address: Option<&str>) -> TraceRequest {
        TraceRequest {
            event: EventId("ev-1".into()),
            target: "www.lab.example".into(),
            address: address.map(|a| a.parse().unwrap()),
            vantage: None,
        }
    }

    #[test]
    fn a_trace_becomes_a_report_with_its_hops() {
        let detail = TraceDetail {
            mode: "icmp".into(),
            hops: vec![
                Hop {
                    ttl: 1,
                    address: "2001:db8::1".parse().ok(),
                    rtt_ms: Some(0.2),
                    asn: None,
                    reply: Some("time-exceeded".into()),
                },
                Hop {
                    ttl: 2,
                    address: None,
                    rtt_ms: None,
                    asn: None,
                    reply: None,
                },
            ],
            reached: false,
            last_responding: None,
        };
        let outcome = Outcome::Unreachable {
            reason: "did not answer".into(),
        };
        let address = "2001:db8:100::11".parse().ok();
        let report = report(request(None), &config(), address, &outcome, detail);
        assert_eq!(report.address, address);
        assert_eq!(report.hops.len(), 2);
        assert_eq!(report.last_answering().map(|h| h.ttl), Some(1));
        assert!(!report.reached);
        assert_eq!(report.failure, None);
        assert_eq!(report.vantage, "local");
    }

    #[test]
    fn a_trace_that_could_not_be_made_says_why_inertly() {
        let outcome = Outcome::Error {
            message: "no socket \u{1b}[2J".into(),
        };
        let report = report(
            request(Some("203.0.113.11")),
            &config(),
            None,
            &outcome,
            TraceDetail::default(),
        );
        assert_eq!(report.failure.as_deref(), Some("no socket \\x1b[2J"));
    }
}
