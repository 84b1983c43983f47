//! The connection loop: accepts connections, caps how many are open, gives each
//! client a deadline for its request head, and shuts down gracefully.
//!
//! axum's own `serve` sets no timer, so hyper never times out a request head there: a
//! client that opens a connection and sends its headers a byte at a time, or never,
//! would hold the connection (and a task) for as long as it likes. Here every
//! connection is served by hyper's HTTP/1 machinery with a timer and
//! [`ConnectionLimits::header_read_timeout`]: the deadline runs from the moment the
//! server waits for a request head (right after accept, and again after each answer on
//! a kept-alive connection) until the head is complete; past it the connection is
//! closed. An answer being written is not a head being read, so the live stream,
//! which is one long answer, is not cut.
//!
//! At most [`ConnectionLimits::max_connections`] connections are open at once. Idle
//! connections (no request under way: a head not yet sent, or a kept-alive
//! connection between requests) give way to new ones: when the total is reached, or
//! one client holds [`ConnectionLimits::max_idle_per_client`] idle connections, the
//! oldest idle one is closed. So clients that open hundreds of connections and send
//! nothing cannot make real requests wait; only when every connection is busy do new
//! clients wait in the kernel's backlog until one closes.
//!
//! A request head is read into at most [`MAX_HEAD_BYTES`]; what hyper refuses by
//! itself (a head past that, or one it cannot parse) is answered with the API's JSON
//! error all the same ([`JsonErrors`]).

use axum::Router;
use axum::body::Body;
use axum::extract::Request;
use http_body_util::BodyExt;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio::task::JoinSet;
use tower_service::Service;

use crate::head_errors::{JsonErrors, MAX_HEAD_BYTES};

/// Limits on the connections the server holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client has to send a whole request head, from the moment the server
    /// waits for it; past that the connection is closed without an answer.
    pub header_read_timeout: Duration,
    /// How many connections may be open at once (live streams included).
    pub max_connections: usize,
    /// How many idle connections one client address may hold; past that its oldest
    /// idle connection is closed.
    pub max_idle_per_client: usize,
}

impl ConnectionLimits {
    /// The default deadline for a request head.
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default cap on open connections: room for every stream client
    /// ([`crate::MAX_STREAM_CLIENTS`]) and many more short requests.
    pub const MAX_CONNECTIONS: usize = 512;
    /// The default cap on one client's idle connections: browsers open six or so.
    pub const MAX_IDLE_PER_CLIENT: usize = 32;
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Self::HEADER_READ_TIMEOUT,
            max_connections: Self::MAX_CONNECTIONS,
            max_idle_per_client: Self::MAX_IDLE_PER_CLIENT,
        }
    }
}

/// How long to wait after a failed accept (out of file descriptors, say) before trying
/// again, so that the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(200);

/// One open connection, as the accept loop sees it.
struct Open {
    client: IpAddr,
    /// Requests under way, their answers' bodies included (a live stream stays busy).
    busy: Arc<AtomicUsize>,
    /// Told to close (gracefully: an answer under way is finished first).
    close: Arc<Notify>,
    /// Asked to close already: no longer counted against the limits.
    closing: bool,
    /// When it was accepted: a connection gets [`IDLE_GRACE`] to send its first head
    /// before it counts as idle.
    accepted: Instant,
}

/// How long a new connection has to start its first request before it may be closed
/// to make room: long enough for a client that connects and then writes at once.
const IDLE_GRACE: Duration = Duration::from_millis(100);

/// The open connections, oldest first by id.
#[derive(Default)]
struct Connections {
    next: u64,
    open: HashMap<u64, Open>,
}

impl Connections {
    fn counted(&self) -> impl Iterator<Item = (&u64, &Open)> {
        self.open.iter().filter(|(_, open)| !open.closing)
    }

    fn idle_of(&self, client: IpAddr) -> usize {
        self.counted()
            .filter(|(_, open)| open.client == client && open.busy.load(Ordering::Acquire) == 0)
            .count()
    }

    fn idle(open: &Open) -> bool {
        open.busy.load(Ordering::Acquire) == 0 && open.accepted.elapsed() >= IDLE_GRACE
    }

    /// Closes the oldest idle connection (of `client`, if given). False if none is idle.
    fn close_oldest_idle(&mut self, client: Option<IpAddr>) -> bool {
        let oldest = self
            .counted()
            .filter(|(_, open)| client.is_none_or(|c| open.client == c))
            .filter(|(_, open)| Self::idle(open))
            .map(|(id, _)| *id)
            .min();
        let Some(id) = oldest else {
            return false;
        };
        if let Some(open) = self.open.get_mut(&id) {
            open.closing = true;
            open.close.notify_one();
        }
        true
    }
}

/// Marks its connection busy from the request until the answer's body is dropped.
struct BusyGuard(Arc<AtomicUsize>);

impl BusyGuard {
    fn new(busy: &Arc<AtomicUsize>) -> Self {
        busy.fetch_add(1, Ordering::AcqRel);
        BusyGuard(Arc::clone(busy))
    }
}

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting, calls `on_stop` (which ends the live streams), and waits for the open
/// connections to finish their answers.
pub(crate) async fn run(
    listener: TcpListener,
    app: Router,
    limits: ConnectionLimits,
    shutdown: impl Future<Output = ()> + Send + 'static,
    on_stop: impl FnOnce(),
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(MAX_HEAD_BYTES);
    let max_connections = limits.max_connections.max(1);
    let max_idle = limits.max_idle_per_client.max(1);
    let connections = Arc::new(Mutex::new(Connections::default()));
    // Told when a connection ends, so that a full loop can look again.
    let ended = Arc::new(Notify::new());
    let mut tasks = JoinSet::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        while tasks.try_join_next().is_some() {}
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    tracing::warn!("the API cannot accept a connection: {error}");
                    tokio::select! {
                        () = &mut shutdown => break,
                        () = tokio::time::sleep(ACCEPT_RETRY) => continue,
                    }
                }
            },
        };
        // Room for this one: close an idle connection if need be, else hold this one
        // until a connection ends (every connection is busy, streams say).
        loop {
            let waiting = ended.notified();
            {
                let mut open = lock(&connections);
                if open.counted().count() < max_connections || open.close_oldest_idle(None) {
                    break;
                }
            }
            tokio::select! {
                () = &mut shutdown => return stop(connections, tasks, on_stop).await,
                () = waiting => {}
                // A connection within its grace may become idle without ending.
                () = tokio::time::sleep(IDLE_GRACE) => {}
            }
        }
        let client = peer.ip();
        let busy = Arc::new(AtomicUsize::new(0));
        let close = Arc::new(Notify::new());
        let id = {
            let mut open = lock(&connections);
            if open.idle_of(client) >= max_idle {
                open.close_oldest_idle(Some(client));
            }
            let id = open.next;
            open.next += 1;
            open.open.insert(
                id,
                Open {
                    client,
                    busy: Arc::clone(&busy),
                    close: Arc::clone(&close),
                    closing: false,
                    accepted: Instant::now(),
                },
            );
            id
        };
        let app = app.clone();
        let socket = JsonErrors::new(stream, Arc::clone(&busy));
        let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
            let guard = BusyGuard::new(&busy);
            // A Router is always ready, so `call` needs no `poll_ready` first.
            let answer = app.clone().call(request.map(Body::new));
            async move {
                let response = answer.await?;
                // The guard lives in the body, so a live stream stays busy while it runs.
                Ok::<_, std::convert::Infallible>(response.map(|inner| {
                    Body::new(inner.map_frame(move |frame| {
                        let _busy = &guard;
                        frame
                    }))
                }))
            }
        });
        let connection = http.serve_connection(TokioIo::new(socket), service);
        let connections = Arc::clone(&connections);
        let ended = Arc::clone(&ended);
        tasks.spawn(async move {
            let mut connection = std::pin::pin!(connection);
            let result = tokio::select! {
                result = connection.as_mut() => result,
                () = close.notified() => {
                    connection.as_mut().graceful_shutdown();
                    connection.await
                }
            };
            if let Err(error) = result {
                // A client that went away or was too slow is routine.
                tracing::debug!("API connection from {peer}: {error}");
            }
            lock(&connections).open.remove(&id);
            ended.notify_one();
        });
    }
    drop(listener);
    stop(connections, tasks, on_stop).await
}

/// Ends the live streams (`on_stop`), asks every connection to close once its answer
/// is sent, and waits for them.
async fn stop(
    connections: Arc<Mutex<Connections>>,
    mut tasks: JoinSet<()>,
    on_stop: impl FnOnce(),
) -> std::io::Result<()> {
    on_stop();
    for open in lock(&connections).open.values_mut() {
        open.closing = true;
        open.close.notify_one();
    }
    while tasks.join_next().await.is_some() {}
    Ok(())
}

fn lock(connections: &Mutex<Connections>) -> std::sync::MutexGuard<'_, Connections> {
    // A panic while holding the lock leaves the map usable: nothing is half-written.
    connections
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}
