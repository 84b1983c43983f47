//! `blackout watch --nats`: the central's side. A durable JetStream pull
//! consumer reads every agent's results for one profile; each decoded result goes
//! to the watch as a [`Delivery`], which the watch acknowledges once the engine
//! has taken it and the store has written what came of it. A restarted central
//! (same durable name) resumes after the last acknowledged result; results it
//! took but did not acknowledge come again.
//!
//! Each delivery is acknowledged on its own (`AckPolicy::Explicit`; the acks of a
//! batch go out back to back and only the last waits for the broker). One ack for
//! a whole batch (`AckPolicy::All`) left deliveries stuck in nats-server 2.9: after
//! the broker was killed and restarted, some stayed pending below the ack floor,
//! where no ack reaches them, and came again every ack wait for ever. A durable
//! made that way by an earlier version is made again, from its ack floor on.
//!
//! A delivery that comes again after this process took it (its ack was lost
//! with the broker) is handed on marked as a repeat: the watch acknowledges it
//! with its batch and does not feed it to the engine twice.

use crate::RelayError;
use crate::routes::RoutesRequest;
use crate::stream::{ResultsStream, SHARED_IN_USE, connect, ensure_stream, redact};
use crate::wire::{AgentMessage, AgentTraceRequest, decode_message};
use async_nats::jetstream::{self, AckKind, consumer::pull};
use blackout_model::TraceRequest;
use blackout_model::subject::{
    SCHEMA_VERSION, is_trace_request, profile_filter, routes_request_subject, subject_token,
};
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
const IDLE_HEARTBEAT: Duration = Duration::from_secs(2);
/// How long one pull request stays open at the broker. Short: a request left
/// behind by a central that died (or by a connection that broke) is still
/// served until it expires, and what the broker hands it is lost until the ack
/// wait brings it back.
const PULL_EXPIRES: Duration = Duration::from_secs(5);
/// How long the broker waits for an ack before it delivers a result again.
const ACK_WAIT: Duration = Duration::from_secs(30);
/// How often the central reads its consumer's ack floor, below which nothing
/// comes again, to forget what it took there.
const FLOOR_EVERY: Duration = Duration::from_secs(5);

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
    /// How long the broker waits for an ack before it delivers again.
    pub ack_wait: Duration,
}

impl CentralConfig {
    /// The central of `profile` at `nats`, with the durable consumer
    /// `blackout-central-PROFILE`.
    pub fn new(nats: &str, profile: &str) -> Self {
        CentralConfig {
            nats: nats.to_string(),
            profile: profile.to_string(),
            durable: format!("blackout-central-{profile}"),
            ack_wait: ACK_WAIT,
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
    /// Results decoded and handed on (any other message counts one).
    pub received: AtomicU64,
    /// Messages that were not results (acknowledged as done with, not handed on).
    pub rejected: AtomicU64,
    /// Results (as `received` counts them) that came again after this process
    /// took them.
    pub repeats: AtomicU64,
}

/// One message from an agent (its results, a traceroute report, relayed routes
/// or a feed's health), to be acknowledged once it has been taken.
pub struct Delivery {
    /// What the agent sent.
    pub message: AgentMessage,
    raw: jetstream::Message,
    /// Did this process take it before (its ack was lost)? Then it is only to
    /// be acknowledged.
    pub repeat: bool,
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

/// Acknowledges a batch the watch has taken and stored: each delivery's ack goes
/// out at once, and the last one waits for the broker's confirmation (the acks
/// before it on the connection have been taken by then too).
pub async fn ack_all(deliveries: Vec<Delivery>) -> Result<(), RelayError> {
    let Some((last, rest)) = deliveries.split_last() else {
        return Ok(());
    };
    for delivery in rest {
        delivery.ack().await?;
    }
    last.ack_confirmed().await
}

/// The stream sequences this process has handed on and the broker may still
/// deliver again: those above the consumer's ack floor.
#[derive(Debug, Default)]
struct Taken {
    above_floor: std::collections::BTreeSet<u64>,
}

impl Taken {
    /// Notes `sequence` as taken; false when it was taken before.
    fn take(&mut self, sequence: u64) -> bool {
        self.above_floor.insert(sequence)
    }

    /// Everything up to `floor` is acknowledged and never comes again.
    fn acknowledged_up_to(&mut self, floor: u64) {
        self.above_floor = self.above_floor.split_off(&(floor + 1));
    }
}

/// The central's durable consumer, made (or made again, from the ack floor of
/// one an earlier version made with one ack per batch) with explicit acks, and
/// the stream it reads. On the profile's own stream it has no subject filter
/// (every message there is the profile's); on the shared stream of an earlier
/// version it filters the profile's results out of every profile's.
async fn explicit_consumer(
    js: &jetstream::Context,
    config: &CentralConfig,
) -> Result<(jetstream::consumer::Consumer<pull::Config>, ResultsStream), RelayError> {
    let place = ensure_stream(js, &config.profile).await?;
    let failed = |error: &dyn std::fmt::Display| RelayError::Stream {
        name: place.name().to_string(),
        reason: error.to_string(),
    };
    let filter = match place {
        ResultsStream::Profile(_) => String::new(),
        ResultsStream::Shared => profile_filter(&config.profile)?,
    };
    let stream = js.get_stream(place.name()).await.map_err(|e| failed(&e))?;
    let mut deliver_policy = jetstream::consumer::DeliverPolicy::All;
    if let Ok(mut old) = stream.get_consumer::<pull::Config>(&config.durable).await {
        let info = old.info().await.map_err(|e| failed(&e))?;
        if info.config.ack_policy == jetstream::consumer::AckPolicy::Explicit {
            return Ok((old, place));
        }
        let floor = info.ack_floor.stream_sequence;
        tracing::info!(
            "the durable consumer {} acknowledges batches (an earlier version's); made again \
             with explicit acks, from stream sequence {}",
            config.durable,
            floor + 1
        );
        stream
            .delete_consumer(&config.durable)
            .await
            .map_err(|e| failed(&e))?;
        deliver_policy = jetstream::consumer::DeliverPolicy::ByStartSequence {
            start_sequence: floor + 1,
        };
    }
    let consumer = stream
        .get_or_create_consumer(
            &config.durable,
            pull::Config {
                durable_name: Some(config.durable.clone()),
                filter_subject: filter,
                ack_policy: jetstream::consumer::AckPolicy::Explicit,
                deliver_policy,
                ack_wait: config.ack_wait,
                max_ack_pending: MAX_ACK_PENDING,
                description: Some("blackout watch: the central".to_string()),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| failed(&e))?;
    Ok((consumer, place))
}

/// Reads the results of `config.profile` into `deliveries` until the receiver
/// is gone, going on across the broker's absences.
pub async fn consume(
    config: CentralConfig,
    deliveries: mpsc::Sender<Delivery>,
    counters: Arc<CentralCounters>,
) -> Result<(), RelayError> {
    subject_token("profile", &config.profile)?;
    subject_token("durable consumer", &config.durable)?;
    let client = connect(&config.nats).await?;
    let js = jetstream::new(client.clone());
    let mut said_down = false;
    let mut taken = Taken::default();
    let mut asked_for_routes = false;
    let mut reading: Option<ResultsStream> = None;
    loop {
        if deliveries.is_closed() {
            return Ok(());
        }
        let mut consumer = match explicit_consumer(&js, &config).await {
            Ok((consumer, place)) => {
                if reading.as_ref() != Some(&place) {
                    if place == ResultsStream::Shared {
                        tracing::warn!("{SHARED_IN_USE}");
                    }
                    // Sequences are the stream's own: another stream's mean nothing here.
                    taken = Taken::default();
                    reading = Some(place);
                }
                consumer
            }
            Err(error) => {
                if !said_down {
                    tracing::warn!("cannot read the agents' results yet: {error}; trying again");
                    said_down = true;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        let messages = consumer
            .stream()
            .max_messages_per_batch(PULL_BATCH)
            .expires(PULL_EXPIRES)
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
        if !asked_for_routes {
            // This process knows none of the routes agents relayed to an earlier
            // one: each sends its table again, after what the durable holds.
            let subject = routes_request_subject(&config.profile)?;
            let payload = routes_request_payload(None);
            match client.publish(subject, payload.into()).await {
                Ok(()) => asked_for_routes = true,
                Err(error) => tracing::warn!("the agents are not asked for their routes: {error}"),
            }
        }
        let mut floor_read = tokio::time::Instant::now();
        while let Some(message) = messages.next().await {
            if floor_read.elapsed() >= FLOOR_EVERY {
                floor_read = tokio::time::Instant::now();
                if let Ok(info) = consumer.info().await {
                    taken.acknowledged_up_to(info.ack_floor.stream_sequence);
                }
            }
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
                    let repeat = match message.info() {
                        Ok(info) => !taken.take(info.stream_sequence),
                        Err(_) => false,
                    };
                    let count = decoded.count();
                    if repeat {
                        counters.repeats.fetch_add(count, Ordering::Relaxed);
                    } else {
                        counters.received.fetch_add(count, Ordering::Relaxed);
                    }
                    let delivery = Delivery {
                        message: decoded,
                        raw: message,
                        repeat,
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

/// The bytes of a request for relayed routes: of every agent, or of one.
fn routes_request_payload(vantage: Option<String>) -> Vec<u8> {
    let request = RoutesRequest {
        schema: SCHEMA_VERSION,
        vantage,
    };
    serde_json::to_vec(&request).unwrap_or_default()
}

/// Asks the agents of `config.profile`, on one connection, until both channels
/// close: every agent to run each traceroute that comes in `traces`, and each
/// vantage point that comes in `vantages` for its relayed routes (the watch sends
/// those it holds no table of, though their feeds have peers).
pub async fn ask_agents(
    config: CentralConfig,
    mut traces: mpsc::Receiver<TraceRequest>,
    mut vantages: mpsc::Receiver<String>,
) -> Result<(), RelayError> {
    let routes_subject = routes_request_subject(&config.profile)?;
    let client = connect(&config.nats).await?;
    let (mut traces_open, mut vantages_open) = (true, true);
    while traces_open || vantages_open {
        tokio::select! {
            request = traces.recv(), if traces_open => match request {
                Some(request) => ask_trace(&client, &config.profile, request).await,
                None => traces_open = false,
            },
            vantage = vantages.recv(), if vantages_open => match vantage {
                Some(vantage) => {
                    tracing::info!(
                        "{vantage} relays feeds with peers but its routes are not here (it \
                         was away when this central started): it is asked for them"
                    );
                    let payload = routes_request_payload(Some(vantage));
                    if let Err(error) = client.publish(routes_subject.clone(), payload.into()).await {
                        tracing::warn!("an agent is not asked for its routes: {error}");
                    }
                }
                None => vantages_open = false,
            },
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), client.flush()).await;
    Ok(())
}

/// Asks every agent of `profile` to run one traceroute.
async fn ask_trace(client: &async_nats::Client, profile: &str, request: TraceRequest) {
    let ask = AgentTraceRequest {
        schema: SCHEMA_VERSION,
        profile: profile.to_string(),
        request,
    };
    let (subject, payload) = match ask.encode() {
        Ok(encoded) => encoded,
        Err(error) => {
            tracing::warn!("a trace request cannot be sent: {error}");
            return;
        }
    };
    // While the broker is away the client holds what is published (and this task
    // waits once its queue is full, so the watch drops new requests and says so):
    // a short absence delays the request, a long one loses it.
    if let Err(error) = client.publish(subject, payload.into()).await {
        tracing::warn!(
            "the agents are not asked to trace toward {}: {error}",
            ask.request.target
        );
    }
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
