//! `blackout watch --nats`: the central's side. A durable JetStream pull
//! consumer reads every agent's results for one profile; each decoded result goes
//! to the watch as a [`Delivery`], which the watch acknowledges once the engine
//! has taken it and the store has written what came of it. A restarted central
//! (same durable name) resumes after the last acknowledged result; results it
//! took but did not acknowledge come again.

use crate::RelayError;
use crate::stream::{connect, ensure_stream, redact};
use crate::wire::{AgentMessage, AgentTraceRequest, decode_message};
use async_nats::jetstream::{self, AckKind, consumer::pull};
use blackout_model::TraceRequest;
use blackout_model::subject::{SCHEMA_VERSION, is_trace_request, profile_filter, subject_token};
use futures_util::StreamExt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// Results the broker may have out unacknowledged to the central.
const MAX_ACK_PENDING: i64 = 20_000;
/// Results asked for in one pull request: large enough that the broker streams
/// them without waiting for the next request (async-nats asks for 200 by default).
const PULL_BATCH: usize = 2_000;
/// How often an idle broker says it is still there.
const IDLE_HEARTBEAT: Duration = Duration::from_secs(15);
/// How long the broker waits for an ack before it delivers a result again.
const ACK_WAIT: Duration = Duration::from_secs(30);

/// What the central needs. Its `Debug` shows the broker's URL without the
/// password.
#[derive(Clone)]
pub struct CentralConfig {
    /// The broker.
    pub nats: String,
    /// The profile whose results it reads.
    pub profile: String,
    /// The durable consumer's name: one per central.
    pub durable: String,
}

impl CentralConfig {
    /// The central of `profile` at `nats`, with the durable consumer
    /// `blackout-central-PROFILE`.
    pub fn new(nats: &str, profile: &str) -> Self {
        CentralConfig {
            nats: nats.to_string(),
            profile: profile.to_string(),
            durable: format!("blackout-central-{profile}"),
        }
    }
}

impl std::fmt::Debug for CentralConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CentralConfig")
            .field("nats", &redact(&self.nats))
            .field("profile", &self.profile)
            .field("durable", &self.durable)
            .finish()
    }
}

/// What the central counted.
#[derive(Debug, Default)]
pub struct CentralCounters {
    /// Results decoded and handed on.
    pub received: AtomicU64,
    /// Messages that were not results (acknowledged as done with, not handed on).
    pub rejected: AtomicU64,
}

/// One result (or traceroute report) from an agent, to be acknowledged once it
/// has been taken.
pub struct Delivery {
    /// What the agent sent.
    pub message: AgentMessage,
    raw: jetstream::Message,
    /// Does acknowledging it acknowledge every result delivered before it too
    /// (a consumer with `AckPolicy::All`)?
    acks_earlier: bool,
}

impl Delivery {
    /// Acknowledges it: the broker will not deliver it again.
    pub async fn ack(&self) -> Result<(), RelayError> {
        self.raw
            .ack()
            .await
            .map_err(|error| RelayError::Ack(error.to_string()))
    }

    /// Acknowledges it and waits for the broker to confirm: every ack sent
    /// before it on the connection has been taken too.
    pub async fn ack_confirmed(&self) -> Result<(), RelayError> {
        self.raw
            .double_ack()
            .await
            .map_err(|error| RelayError::Ack(error.to_string()))
    }
}

/// Acknowledges a batch the watch has taken and stored, in the order they were
/// delivered, the last one confirmed. On the central's consumer
/// (`AckPolicy::All`) the last one's ack covers the batch and is the only one
/// sent; a durable made with explicit acks by an older version gets one each.
pub async fn ack_all(deliveries: Vec<Delivery>) -> Result<(), RelayError> {
    let Some((last, rest)) = deliveries.split_last() else {
        return Ok(());
    };
    if !last.acks_earlier {
        for delivery in rest {
            delivery.ack().await?;
        }
    }
    last.ack_confirmed().await
}

/// Reads the results of `config.profile` into `deliveries` until the receiver
/// is gone, going on across the broker's absences.
pub async fn consume(
    config: CentralConfig,
    deliveries: mpsc::Sender<Delivery>,
    counters: Arc<CentralCounters>,
) -> Result<(), RelayError> {
    let filter = profile_filter(&config.profile)?;
    subject_token("durable consumer", &config.durable)?;
    let client = connect(&config.nats).await?;
    let js = jetstream::new(client);
    let mut said_down = false;
    loop {
        if deliveries.is_closed() {
            return Ok(());
        }
        let consumer = async {
            ensure_stream(&js).await?;
            let stream = js
                .get_stream(blackout_model::subject::STREAM)
                .await
                .map_err(|error| RelayError::Stream(error.to_string()))?;
            stream
                .get_or_create_consumer(
                    &config.durable,
                    pull::Config {
                        durable_name: Some(config.durable.clone()),
                        filter_subject: filter.clone(),
                        // One ack for a whole stored batch: the watch takes the
                        // results in the order they come and stores them before
                        // it acknowledges the last.
                        ack_policy: jetstream::consumer::AckPolicy::All,
                        deliver_policy: jetstream::consumer::DeliverPolicy::All,
                        ack_wait: ACK_WAIT,
                        max_ack_pending: MAX_ACK_PENDING,
                        description: Some("blackout watch: the central".to_string()),
                        ..Default::default()
                    },
                )
                .await
                .map_err(|error| RelayError::Stream(error.to_string()))
        };
        let consumer: jetstream::consumer::Consumer<pull::Config> = match consumer.await {
            Ok(consumer) => consumer,
            Err(error) => {
                if !said_down {
                    tracing::warn!("cannot read the agents' results yet: {error}; trying again");
                    said_down = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let acks_earlier =
            consumer.cached_info().config.ack_policy == jetstream::consumer::AckPolicy::All;
        let messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH)
            .heartbeat(IDLE_HEARTBEAT)
            .messages()
            .await;
        let mut messages = match messages {
            Ok(messages) => messages,
            Err(error) => {
                tracing::warn!("cannot read the agents' results: {error}; trying again");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if said_down {
            tracing::info!("reading the agents' results again");
            said_down = false;
        }
        while let Some(message) = messages.next().await {
            let message = match message {
                Ok(message) => message,
                Err(error) => {
                    // A missed heartbeat or a broker gone: the stream goes on
                    // once the connection is back.
                    tracing::debug!("the agents' results: {error}");
                    continue;
                }
            };
            if is_trace_request(message.subject.as_str()) {
                // The central's own request, delivered to a durable that an
                // older version made with the filter `blackout.v1.PROFILE.>`.
                let _ = message.ack_with(AckKind::Term).await;
                continue;
            }
            match decode_message(message.subject.as_str(), &message.payload) {
                Ok(decoded) => {
                    counters.received.fetch_add(1, Ordering::Relaxed);
                    let delivery = Delivery {
                        message: decoded,
                        raw: message,
                        acks_earlier,
                    };
                    if deliveries.send(delivery).await.is_err() {
                        return Ok(());
                    }
                }
                Err(error) => {
                    counters.rejected.fetch_add(1, Ordering::Relaxed);
                    tracing::warn!(
                        subject = %blackout_model::text::inert(message.subject.as_str(), 256),
                        "a message that is not a result is set aside: {error}"
                    );
                    // Never to come again: it will not decode next time either.
                    let _ = message.ack_with(AckKind::Term).await;
                }
            }
        }
    }
}

/// Asks every agent of `config.profile` to run each traceroute that comes in,
/// until the channel closes.
pub async fn ask_traces(
    config: CentralConfig,
    mut requests: mpsc::Receiver<TraceRequest>,
) -> Result<(), RelayError> {
    let client = connect(&config.nats).await?;
    while let Some(request) = requests.recv().await {
        let ask = AgentTraceRequest {
            schema: SCHEMA_VERSION,
            profile: config.profile.clone(),
            request,
        };
        let (subject, payload) = ask.encode()?;
        // While the broker is away the client holds what is published (and this
        // task waits once its queue is full, so the watch drops new requests and
        // says so): a short absence delays the request, a long one loses it.
        if let Err(error) = client.publish(subject, payload.into()).await {
            tracing::warn!(
                "the agents are not asked to trace toward {}: {error}",
                ask.request.target
            );
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configs_debug_hides_the_brokers_password() {
        let config = CentralConfig::new("nats://central:hunter2@[::1]:4222", "kp");
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(shown.contains("nats://central:***@[::1]:4222"), "{shown}");
            assert!(shown.contains("blackout-central-kp"), "{shown}");
        }
    }
}
