//! The live stream: status changes and events as server-sent events.
//!
//! Status changes come from the `watch` channel (it always holds the latest snapshot
//! and cannot lag); events, and statuses the writer chooses to broadcast, come from
//! the `broadcast` channel. The same snapshot arriving both ways is sent once (they are
//! compared by pointer: the writer hands out one `Arc` per snapshot), and so is a new
//! snapshot that says what the last one sent said ([`Status::same_as`]: the watch loop
//! publishes one every second, and then only its time differs). A client that
//! falls too far behind the broadcast gets a `lagged` message and the latest status,
//! then goes on: it may have missed events, and can fetch them from
//! `/api/v1/events`.
//!
//! [`Publisher`] is the one write path: it puts a snapshot in the `watch` channel,
//! broadcasts it and updates the metrics in one call.
//!
//! SSE messages: `event: status` (data: the status with its headline), `event: event`
//! (data: `{"change": "started|revised|ended", "event": {...}}`), `event: lagged`
//! (data: `{"missed": N}`).

use crate::metrics::Metrics;
use crate::status::{Status, StatusBody};
use crate::{ApiState, Inner};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use blackout_model::Event;
use blackout_model::UpdateKind;
use futures_util::Stream;
use serde::Serialize;
use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;
use tokio::sync::{OwnedSemaphorePermit, broadcast, watch};

/// What the stream carries, as the writer sends it.
// Events are rare (a few an hour) and the watch loop hands them over by value; boxing
// would only move the allocation.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug)]
pub enum StreamMessage {
    /// A new status snapshot.
    Status(Arc<Status>),
    /// An event started, was revised or ended.
    Event {
        /// `started`, `revised` or `ended`.
        change: String,
        /// The event as it now stands.
        event: Event,
    },
}

/// The one write path for the status and the stream.
pub struct Publisher {
    status: watch::Sender<Arc<Status>>,
    stream: broadcast::Sender<StreamMessage>,
    metrics: Arc<Metrics>,
}

impl Publisher {
    /// How many stream messages a slow client may fall behind before it is told it
    /// lagged.
    pub const STREAM_CAPACITY: usize = 1024;

    /// A publisher holding `initial` as the current status.
    pub fn new(initial: Status, metrics: Arc<Metrics>) -> Self {
        metrics.update_from(&initial);
        let (status, _) = watch::channel(Arc::new(initial));
        let (stream, _) = broadcast::channel(Self::STREAM_CAPACITY);
        Publisher {
            status,
            stream,
            metrics,
        }
    }

    /// The API's state, reading from this publisher and the database at `db`.
    pub fn api_state(&self, db: blackout_store::Db) -> ApiState {
        ApiState::new(
            self.status.subscribe(),
            self.stream.clone(),
            db,
            Arc::clone(&self.metrics),
        )
    }

    /// Makes `status` the current one: readers see it, the metrics show it, and
    /// stream clients are sent it.
    pub fn publish_status(&self, status: Status) {
        let status = Arc::new(status);
        self.metrics.update_from(&status);
        self.status.send_replace(Arc::clone(&status));
        // No subscriber is not an error: nobody is watching the stream right now.
        let _ = self.stream.send(StreamMessage::Status(status));
    }

    /// Tells stream clients that `event` started, was revised or ended.
    pub fn publish_event(&self, change: UpdateKind, event: &Event) {
        let _ = self.stream.send(StreamMessage::Event {
            change: change.as_str().to_string(),
            event: event.clone(),
        });
    }

    /// The latest status.
    pub fn current(&self) -> Arc<Status> {
        Arc::clone(&self.status.borrow())
    }
}

/// Keeps the client count right however the stream ends.
struct ClientGuard {
    metrics: Arc<Metrics>,
    _permit: OwnedSemaphorePermit,
}

impl Drop for ClientGuard {
    fn drop(&mut self) {
        self.metrics.stream_clients_add(-1);
    }
}

struct Client {
    status: watch::Receiver<Arc<Status>>,
    messages: broadcast::Receiver<StreamMessage>,
    stop: watch::Receiver<bool>,
    last_status: Option<Arc<Status>>,
    /// A message to send before waiting for more (the status after a `lagged`).
    pending: Option<SseEvent>,
    _guard: ClientGuard,
}

#[derive(Serialize)]
struct EventMessage<'a> {
    change: &'a str,
    event: &'a Event,
}

impl Client {
    fn status_message(&mut self, status: Arc<Status>) -> Option<SseEvent> {
        if self
            .last_status
            .as_ref()
            .is_some_and(|last| Arc::ptr_eq(last, &status) || last.same_as(&status))
        {
            return None;
        }
        let message = sse_json("status", &StatusBody::new(&status));
        self.last_status = Some(status);
        Some(message)
    }

    /// The next message to send, or None when the stream is over (the server is
    /// stopping or the writer is gone).
    async fn next(&mut self) -> Option<SseEvent> {
        if let Some(message) = self.pending.take() {
            return Some(message);
        }
        loop {
            tokio::select! {
                biased;
                stopped = self.stop.changed() => {
                    if stopped.is_err() || *self.stop.borrow() {
                        return None;
                    }
                }
                changed = self.status.changed() => {
                    changed.ok()?;
                    let status = Arc::clone(&self.status.borrow_and_update());
                    if let Some(message) = self.status_message(status) {
                        return Some(message);
                    }
                }
                received = self.messages.recv() => match received {
                    Ok(StreamMessage::Status(status)) => {
                        if let Some(message) = self.status_message(status) {
                            return Some(message);
                        }
                    }
                    Ok(StreamMessage::Event { change, event }) => {
                        return Some(sse_json("event", &EventMessage { change: &change, event: &event }));
                    }
                    Err(RecvError::Lagged(missed)) => {
                        // The client may have missed statuses too: send the latest
                        // whole right after saying so.
                        self.last_status = None;
                        let status = Arc::clone(&self.status.borrow_and_update());
                        self.pending = self.status_message(status);
                        return Some(sse_json("lagged", &serde_json::json!({ "missed": missed })));
                    }
                    Err(RecvError::Closed) => return None,
                },
            }
        }
    }
}

fn sse_json<T: Serialize>(name: &str, data: &T) -> SseEvent {
    match serde_json::to_string(data) {
        Ok(json) => SseEvent::default().event(name).data(json),
        // Serializing plain data cannot fail; if it did, a comment keeps the stream
        // well-formed instead of ending it.
        Err(e) => SseEvent::default().comment(format!("cannot serialize {name}: {e}")),
    }
}

/// The SSE response for one client that holds `permit`.
pub(crate) fn sse(
    inner: &Inner,
    permit: OwnedSemaphorePermit,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>> + use<>> {
    inner.metrics.stream_clients_add(1);
    let mut status = inner.status.clone();
    let first = Arc::clone(&status.borrow_and_update());
    let mut client = Client {
        status,
        messages: inner.stream.subscribe(),
        stop: inner.stop.subscribe(),
        last_status: None,
        pending: None,
        _guard: ClientGuard {
            metrics: Arc::clone(&inner.metrics),
            _permit: permit,
        },
    };
    client.pending = client.status_message(first);
    let stream = futures_util::stream::unfold(client, |mut client| async move {
        let message = client.next().await?;
        Some((Ok(message), client))
    });
    Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}
