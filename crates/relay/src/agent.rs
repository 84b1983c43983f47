//! `blackout agent`: a vantage point's probe rounds and self-check, published.
//!
//! [`run_agent`] runs the profile's probes (its hosts, zones, mail servers and
//! control targets) with the probe engine. Their results wait in a
//! [`ResultBatcher`] for the next tick ([`RESULTS_EVERY`]) and go together, one
//! message, to the [`Publisher`]: straight to JetStream while the broker
//! answers, to the [`DiskBuffer`] while it does not, and, as long as anything
//! waits there, to the buffer first, so that results reach the stream in the
//! order they were made. Every message carries a `Nats-Msg-Id`; a message sent
//! twice (its first ack lost with the broker) is stored once.
//!
//! It also listens for the central's trace requests
//! (`blackout.v1.PROFILE.trace-request`): each goes to the probe crate's tracer,
//! and the report, named after this vantage point, is published like a result
//! (on `blackout.v1.PROFILE.VANTAGE.trace`), buffered while the broker is away.
//!
//! With feeds to relay (`blackout agent --feeds`), it runs the profile's
//! BGP/BMP/RIS Live feeds too, and publishes their route inputs in batches on
//! `blackout.v1.PROFILE.VANTAGE.routes` through the same publisher (see
//! [`crate::relayed`]).

use crate::RelayError;
use crate::buffer::DiskBuffer;
use crate::feed_health::{AgentFeedHealth, health_every};
use crate::relayed::{ROUTES_EVERY, RelayedFeed, RouteBatcher};
use crate::results::{RESULTS_EVERY, ResultBatcher};
use crate::routes::decode_routes_request;
use crate::stream::{ResultsStream, SHARED_IN_USE, connect, ensure_stream, redact};
use crate::wire::{AgentTrace, Encoded, decode_trace_request};
use async_nats::jetstream::{self, message::PublishMessage as Publish};
use blackout_feeds::{FeedEvent, FeedState};
use blackout_model::subject::{
    SCHEMA_VERSION, routes_request_subject, subject_token, trace_request_subject,
};
use blackout_model::text::{MAX_OUTSIDE_CHARS, inert};
use blackout_model::{Timestamp, TraceReport, TraceRequest, clock};
use blackout_probe::tracer::{self, TRACE_QUEUE, TracerConfig};
use blackout_probe::{EngineConfig, ProbeResult, Prober, targets_from_profile};
use blackout_profile::Profile;
use futures_util::StreamExt;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::mpsc;

/// How long a publish waits for the broker's ack before the broker counts as gone.
const ACK_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the buffer is offered to the broker while results wait in it.
const FLUSH_EVERY: Duration = Duration::from_millis(500);
/// Records sent from the buffer before their acks are awaited.
const FLUSH_BATCH: usize = 512;
/// The default bound of the disk buffer: 64 MiB, a day of the kp profile's results.
pub const DEFAULT_BUFFER_BYTES: u64 = 64 << 20;

/// What an agent needs. Its `Debug` shows the broker's URL without the password.
#[derive(Clone)]
pub struct AgentConfig {
    /// The profile whose targets it probes.
    pub profile: Profile,
    /// The vantage point's name (one subject token).
    pub vantage: String,
    /// Where it is, in words.
    pub location: Option<String>,
    /// The broker (`nats://127.0.0.1:4222`).
    pub nats: String,
    /// The directory of the disk buffer.
    pub buffer_dir: PathBuf,
    /// The disk buffer's bound.
    pub buffer_max_bytes: u64,
    /// The feeds it runs and relays (none unless asked).
    pub feeds: Vec<RelayedFeed>,
}

impl std::fmt::Debug for AgentConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentConfig")
            .field("profile", &self.profile.name)
            .field("vantage", &self.vantage)
            .field("location", &self.location)
            .field("nats", &redact(&self.nats))
            .field("buffer_dir", &self.buffer_dir)
            .field("buffer_max_bytes", &self.buffer_max_bytes)
            .field(
                "feeds",
                &self.feeds.iter().map(|feed| &feed.name).collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What an agent did, counted as it goes. What is published, buffered, dropped
/// and resent is counted in results (a message of results, each; any other
/// message, one).
#[derive(Debug, Default)]
pub struct AgentCounters {
    /// Results the probes produced.
    pub results: AtomicU64,
    /// Results published as they came.
    pub published: AtomicU64,
    /// Results written to the disk buffer.
    pub buffered: AtomicU64,
    /// Results dropped because the buffer was full.
    pub dropped: AtomicU64,
    /// Buffered results published since.
    pub resent: AtomicU64,
    /// Resent results the broker already had (their first ack was lost).
    pub duplicates: AtomicU64,
    /// Messages published or buffered (not dropped): each one message in the
    /// stream, once sent.
    pub messages: AtomicU64,
    /// Trace requests of the central taken.
    pub trace_requests: AtomicU64,
    /// Traceroute reports handed to the publisher.
    pub traces: AtomicU64,
    /// Route inputs of the relayed feeds.
    pub routes: AtomicU64,
    /// Batches of route inputs handed to the publisher.
    pub route_batches: AtomicU64,
    /// Times a central asked for the relayed routes again.
    pub route_requests: AtomicU64,
    /// Reports of the relayed feeds' health handed to the publisher.
    pub feed_reports: AtomicU64,
}

/// A snapshot of the counters, and the buffer's size.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct AgentReport {
    /// Results the probes produced.
    pub results: u64,
    /// Results published as they came.
    pub published: u64,
    /// Results written to the disk buffer.
    pub buffered: u64,
    /// Results dropped because the buffer was full.
    pub dropped: u64,
    /// Buffered results published since.
    pub resent: u64,
    /// Resent results the broker already had.
    pub duplicates: u64,
    /// Messages published or buffered.
    pub messages: u64,
    /// Trace requests of the central taken.
    pub trace_requests: u64,
    /// Traceroute reports handed to the publisher.
    pub traces: u64,
    /// Route inputs of the relayed feeds.
    pub routes: u64,
    /// Batches of route inputs handed to the publisher.
    pub route_batches: u64,
    /// Reports of the relayed feeds' health handed to the publisher.
    pub feed_reports: u64,
    /// Bytes still in the buffer.
    pub waiting_bytes: u64,
}

impl AgentCounters {
    /// The counters now.
    pub fn report(&self, waiting_bytes: u64) -> AgentReport {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        AgentReport {
            results: get(&self.results),
            published: get(&self.published),
            buffered: get(&self.buffered),
            dropped: get(&self.dropped),
            resent: get(&self.resent),
            duplicates: get(&self.duplicates),
            messages: get(&self.messages),
            trace_requests: get(&self.trace_requests),
            traces: get(&self.traces),
            routes: get(&self.routes),
            route_batches: get(&self.route_batches),
            feed_reports: get(&self.feed_reports),
            waiting_bytes,
        }
    }
}

/// Runs the agent until `shutdown` resolves: probes, publishes, buffers.
pub async fn run_agent(
    config: AgentConfig,
    counters: Arc<AgentCounters>,
    shutdown: impl Future<Output = ()>,
) -> Result<AgentReport, RelayError> {
    subject_token("profile", &config.profile.name)?;
    subject_token("vantage", &config.vantage)?;
    let buffer = DiskBuffer::open(&config.buffer_dir, config.buffer_max_bytes)?;
    let client = connect(&config.nats).await?;
    let mut asks = client
        .subscribe(trace_request_subject(&config.profile.name)?)
        .await
        .map_err(|error| RelayError::Subscribe(error.to_string()))?;
    // A central that starts again asks for the relayed routes again.
    let mut route_asks = if config.feeds.is_empty() {
        None
    } else {
        Some(
            client
                .subscribe(routes_request_subject(&config.profile.name)?)
                .await
                .map_err(|error| RelayError::Subscribe(error.to_string()))?,
        )
    };
    let mut publisher = Publisher::new(client, &config.profile.name, buffer, Arc::clone(&counters));
    if let Some(why) = tracer::unavailable() {
        tracing::warn!("{why}; each trace the central asks for is answered with that reason");
    }
    let (trace_requests, requests) = mpsc::channel::<TraceRequest>(TRACE_QUEUE);
    let (reports_tx, mut reports) = mpsc::channel::<TraceReport>(TRACE_QUEUE);
    let tracing_task = tokio::spawn(tracer::run(
        TracerConfig::from_profile(&config.profile, &config.vantage),
        requests,
        reports_tx,
    ));
    let targets = targets_from_profile(&config.profile);
    let (sink, mut results) = mpsc::channel::<ProbeResult>(4096);
    let prober = Arc::new(Prober::new(EngineConfig::from(&config.profile.probes)));
    if let Some(why) = prober.icmp_unavailable() {
        tracing::warn!("{why}");
    }
    let probes = tokio::spawn(prober.run(targets, Arc::new(sink)));
    let mut stamp = Stamp {
        profile: config.profile.name.clone(),
        vantage: config.vantage.clone(),
        location: config.location.clone(),
        // Above every sequence an earlier run of this agent used, unless it
        // published more than a million results a second.
        next: clock::now().as_micros().max(0) as u64,
    };
    let session = clock::now();
    let mut waiting_results =
        ResultBatcher::new(&stamp.profile, &stamp.vantage, stamp.location.clone());
    let mut batchers: Vec<RouteBatcher> = config
        .feeds
        .iter()
        .map(|feed| RouteBatcher::new(&stamp.profile, &stamp.vantage, &feed.name, session))
        .collect();
    let health_period = health_every(config.profile.thresholds.feed_stale_secs);
    // Each feed's state and when its health was last sent.
    let mut feed_states: Vec<Option<(FeedState, Timestamp)>> = vec![None; config.feeds.len()];
    let (mut feed_events, mut feed_tasks) = start_feeds(config.feeds);
    let mut flush = tokio::time::interval(FLUSH_EVERY);
    flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    // Results and route inputs wait at most this long at the agent.
    let mut seal_tick = tokio::time::interval(RESULTS_EVERY.min(ROUTES_EVERY));
    seal_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(result) = results.recv() => {
                counters.results.fetch_add(1, Ordering::Relaxed);
                for full in waiting_results.push(result, clock::now(), &mut stamp.next) {
                    publisher.take(full).await?;
                }
            }
            Some(ask) = asks.next() => {
                match decode_trace_request(ask.subject.as_str(), &ask.payload) {
                    // Asked of another vantage point alone (one that was away).
                    Ok(ask) if !ask.request.is_for(&stamp.vantage) => {}
                    Ok(ask) => {
                        counters.trace_requests.fetch_add(1, Ordering::Relaxed);
                        if trace_requests.try_send(ask.request).is_err() {
                            tracing::warn!("a trace request of the central is dropped: the tracer's queue is full");
                        }
                    }
                    Err(error) => tracing::warn!(
                        subject = %inert(ask.subject.as_str(), MAX_OUTSIDE_CHARS),
                        "a message that is not a trace request is set aside: {error}"
                    ),
                }
            }
            Some(report) = reports.recv() => {
                counters.traces.fetch_add(1, Ordering::Relaxed);
                publisher.take(stamp.seal_trace(report, clock::now())).await?;
            }
            Some((feed, event)) = feed_events.recv() => match event {
                FeedEvent::Input(input) => {
                    counters.routes.fetch_add(1, Ordering::Relaxed);
                    let full = batchers[feed].push(input, clock::now(), &mut stamp.next);
                    publish_batches(&mut publisher, &counters, full).await?;
                }
                FeedEvent::Health(health) => {
                    let now = clock::now();
                    let changed = feed_states[feed].is_none_or(|(state, _)| state != health.state);
                    let due = feed_states[feed].is_none_or(|(_, sent)| {
                        now.secs_since(sent) >= health_period.as_secs_f64()
                    });
                    if changed {
                        tracing::info!(
                            "feed {}: {:?}{}",
                            batchers[feed].feed(),
                            health.state,
                            health
                                .last_error
                                .as_ref()
                                .map(|error| format!(" ({error})"))
                                .unwrap_or_default()
                        );
                    }
                    if changed || due {
                        feed_states[feed] = Some((health.state, now));
                        let sequence = stamp.take_sequence();
                        let report = AgentFeedHealth::new(
                            &stamp.profile, &stamp.vantage, sequence, now, &health,
                        );
                        // The names were checked when the agent started.
                        if let Ok(encoded) = report.encode() {
                            counters.feed_reports.fetch_add(1, Ordering::Relaxed);
                            publisher.take(encoded).await?;
                        }
                    }
                }
            },
            Some(ask) = next_ask(&mut route_asks) => {
                match decode_routes_request(&ask.payload) {
                    Ok(request) if request.asks(&stamp.vantage) => {}
                    Ok(_) => continue,
                    Err(error) => {
                        tracing::warn!("a request for the routes is not understood: {error}");
                        continue;
                    }
                }
                counters.route_requests.fetch_add(1, Ordering::Relaxed);
                let now = clock::now();
                for batcher in &mut batchers {
                    tracing::info!(
                        "a central asks for the routes again: feed {} sends its {} routes as a new session",
                        batcher.feed(),
                        batcher.routes()
                    );
                    let table = batcher.resend(now, &mut stamp.next);
                    publish_batches(&mut publisher, &counters, table).await?;
                }
            }
            // Idle (nothing waits, no feed relayed), the agent does not wake.
            _ = seal_tick.tick(), if waiting_results.waiting() > 0 || !batchers.is_empty() => {
                for sealed in waiting_results.seal(clock::now(), &mut stamp.next) {
                    publisher.take(sealed).await?;
                }
                for batcher in &mut batchers {
                    let waiting = batcher.seal(clock::now(), &mut stamp.next);
                    publish_batches(&mut publisher, &counters, waiting).await?;
                }
            }
            _ = flush.tick() => publisher.flush().await?,
        }
    }
    probes.abort();
    tracing_task.abort();
    feed_tasks.abort_all();
    // Results and routes taken but not yet sent go to the broker, or to the buffer.
    for sealed in waiting_results.seal(clock::now(), &mut stamp.next) {
        publisher.take(sealed).await?;
    }
    for batcher in &mut batchers {
        let waiting = batcher.seal(clock::now(), &mut stamp.next);
        publish_batches(&mut publisher, &counters, waiting).await?;
    }
    // What is still buffered waits on disk for the next run.
    publisher.flush().await?;
    let waiting = publisher.waiting_bytes();
    publisher.close().await;
    Ok(counters.report(waiting))
}

/// Hands sealed route batches to the publisher, counted.
async fn publish_batches(
    publisher: &mut Publisher,
    counters: &AgentCounters,
    batches: Vec<Encoded>,
) -> Result<(), RelayError> {
    for batch in batches {
        counters.route_batches.fetch_add(1, Ordering::Relaxed);
        publisher.take(batch).await?;
    }
    Ok(())
}

/// The next message of a subscription there may not be.
async fn next_ask(
    subscription: &mut Option<async_nats::Subscriber>,
) -> Option<async_nats::Message> {
    match subscription {
        Some(subscription) => subscription.next().await,
        None => std::future::pending().await,
    }
}

/// Starts each feed, its events tagged with the feed's index.
fn start_feeds(
    feeds: Vec<RelayedFeed>,
) -> (mpsc::Receiver<(usize, FeedEvent)>, tokio::task::JoinSet<()>) {
    let (tagged_tx, tagged) = mpsc::channel::<(usize, FeedEvent)>(65_536);
    let mut tasks = tokio::task::JoinSet::new();
    for (index, relayed) in feeds.into_iter().enumerate() {
        let (events_tx, mut events) = mpsc::channel::<FeedEvent>(4096);
        let name = relayed.name;
        tasks.spawn(async move {
            if let Err(error) = relayed.feed.run(events_tx).await {
                tracing::warn!("feed {name} stopped: {error}");
            }
        });
        let tagged_tx = tagged_tx.clone();
        tasks.spawn(async move {
            while let Some(event) = events.recv().await {
                if tagged_tx.send((index, event)).await.is_err() {
                    break;
                }
            }
        });
    }
    (tagged, tasks)
}

/// Names and numbers the agent's results.
struct Stamp {
    profile: String,
    vantage: String,
    location: Option<String>,
    next: u64,
}

impl Stamp {
    /// The next sequence number, taken.
    fn take_sequence(&mut self) -> u64 {
        let sequence = self.next;
        self.next += 1;
        sequence
    }

    fn seal_trace(&mut self, mut report: TraceReport, now: Timestamp) -> Encoded {
        let sequence = self.take_sequence();
        report.vantage = self.vantage.clone();
        let message = AgentTrace {
            schema: SCHEMA_VERSION,
            profile: self.profile.clone(),
            vantage: self.vantage.clone(),
            location: self.location.clone(),
            sequence,
            sent_at: now,
            report,
        };
        // The names were checked when the agent started.
        message.encode().unwrap_or_else(|_| Encoded {
            subject: String::new(),
            id: String::new(),
            payload: Vec::new(),
        })
    }
}

/// Publishes to JetStream, or buffers on disk while it cannot.
pub struct Publisher {
    client: async_nats::Client,
    js: jetstream::Context,
    buffer: DiskBuffer,
    counters: Arc<AgentCounters>,
    /// The profile whose stream it makes sure of.
    profile: String,
    /// Where the broker keeps the profile's results, once looked up (or made).
    stream: Option<ResultsStream>,
    /// Was the broker reachable at the last try? (To log changes only.)
    up: bool,
}

impl Publisher {
    /// A publisher of `profile`'s results over a connected (or connecting)
    /// client.
    pub fn new(
        client: async_nats::Client,
        profile: &str,
        buffer: DiskBuffer,
        counters: Arc<AgentCounters>,
    ) -> Self {
        let mut js = jetstream::new(client.clone());
        js.set_timeout(ACK_TIMEOUT);
        Publisher {
            client,
            js,
            buffer,
            counters,
            profile: profile.to_string(),
            stream: None,
            up: true,
        }
    }

    /// Takes one message: published now if nothing waits and the broker
    /// answers, else buffered (or dropped and counted, when the buffer is full).
    /// The counters count results (a message of results counts each).
    pub async fn take(&mut self, record: Encoded) -> Result<(), RelayError> {
        if record.subject.is_empty() {
            return Ok(());
        }
        let results = record.results();
        if self.buffer.is_empty() && self.ready().await {
            match self.publish(&record).await {
                Ok(_) => {
                    self.counters
                        .published
                        .fetch_add(results, Ordering::Relaxed);
                    self.counters.messages.fetch_add(1, Ordering::Relaxed);
                    return Ok(());
                }
                Err(error) => self.went_down(&error),
            }
        }
        if self.buffer.push(&record)? {
            self.counters.buffered.fetch_add(results, Ordering::Relaxed);
            self.counters.messages.fetch_add(1, Ordering::Relaxed);
        } else {
            let before = self.counters.dropped.fetch_add(results, Ordering::Relaxed);
            let dropped = before + results;
            // Said at the first drop, then each time the count passes a power of two.
            if before == 0 || (before + 1).next_power_of_two() <= dropped {
                tracing::warn!(
                    "the disk buffer is full ({} bytes): {dropped} results dropped so far",
                    self.buffer.bytes(),
                );
            }
        }
        Ok(())
    }

    /// Sends what waits in the buffer, in order, while the broker takes it.
    pub async fn flush(&mut self) -> Result<(), RelayError> {
        let mut sent_now = 0u64;
        while !self.buffer.is_empty() && self.ready().await {
            let batch = self.buffer.peek(FLUSH_BATCH)?;
            let Some(last) = batch.last().map(|(_, end)| *end) else {
                break;
            };
            let mut acks = Vec::with_capacity(batch.len());
            for (record, end) in &batch {
                let publish = Publish::build()
                    .payload(bytes::Bytes::copy_from_slice(&record.payload))
                    .message_id(&record.id);
                match self.js.send_publish(record.subject.clone(), publish).await {
                    Ok(ack) => acks.push((ack, *end, record.results())),
                    Err(error) => {
                        self.went_down(&error.to_string());
                        break;
                    }
                }
            }
            let mut acked = None;
            for (ack, end, results) in acks {
                match ack.await {
                    Ok(ack) => {
                        self.counters.resent.fetch_add(results, Ordering::Relaxed);
                        if ack.duplicate {
                            self.counters
                                .duplicates
                                .fetch_add(results, Ordering::Relaxed);
                        }
                        sent_now += results;
                        acked = Some(end);
                    }
                    Err(error) => {
                        self.went_down(&error.to_string());
                        break;
                    }
                }
            }
            if let Some(end) = acked {
                self.buffer.mark_sent(end)?;
            }
            if acked != Some(last) {
                break;
            }
        }
        if sent_now > 0 {
            tracing::info!(
                "sent {sent_now} buffered results; {} bytes still wait",
                self.buffer.bytes()
            );
        }
        Ok(())
    }

    /// Bytes waiting in the buffer.
    pub fn waiting_bytes(&self) -> u64 {
        self.buffer.bytes()
    }

    /// Lets the client write what it holds.
    pub async fn close(self) {
        let _ = tokio::time::timeout(ACK_TIMEOUT, self.client.flush()).await;
    }

    /// Is the broker connected, with the stream in place?
    async fn ready(&mut self) -> bool {
        if self.client.connection_state() != async_nats::connection::State::Connected {
            if self.up {
                self.went_down("not connected");
            }
            return false;
        }
        if self.stream.is_none() {
            match ensure_stream(&self.js, &self.profile).await {
                Ok(stream) => {
                    if stream == ResultsStream::Shared {
                        tracing::warn!("{SHARED_IN_USE}");
                    }
                    self.stream = Some(stream);
                }
                Err(error) => {
                    self.went_down(&error.to_string());
                    return false;
                }
            }
        }
        if !self.up {
            self.up = true;
            tracing::info!("the broker is back: sending what waits in the disk buffer");
        }
        true
    }

    async fn publish(&self, record: &Encoded) -> Result<(), String> {
        let publish = Publish::build()
            .payload(bytes::Bytes::copy_from_slice(&record.payload))
            .message_id(&record.id);
        let ack = self
            .js
            .send_publish(record.subject.clone(), publish)
            .await
            .map_err(|error| error.to_string())?;
        ack.await.map(|_| ()).map_err(|error| error.to_string())
    }

    fn went_down(&mut self, why: &str) {
        if self.up {
            tracing::warn!("the broker does not take results ({why}): buffering them on disk");
        }
        self.up = false;
        // Looked up again once the broker answers: the stream may be gone (the
        // shared stream of an earlier version, deleted), or be another one.
        self.stream = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configs_debug_hides_the_brokers_password() {
        let config = AgentConfig {
            profile: blackout_profile::builtin("lab").expect("the lab profile"),
            vantage: "vp-1".into(),
            location: None,
            nats: "nats://agent-vp-1:s%40cret@127.0.0.1:4222".into(),
            buffer_dir: PathBuf::from("buffer"),
            buffer_max_bytes: DEFAULT_BUFFER_BYTES,
            feeds: Vec::new(),
        };
        for shown in [format!("{config:?}"), format!("{config:#?}")] {
            assert!(!shown.contains("s%40cret"), "{shown}");
            assert!(
                shown.contains("nats://agent-vp-1:***@127.0.0.1:4222"),
                "{shown}"
            );
            assert!(shown.contains("vp-1"), "{shown}");
        }
    }
}
