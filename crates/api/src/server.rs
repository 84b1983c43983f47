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
//! At most [`ConnectionLimits::max_connections`] connections are open at once; past
//! that the loop stops accepting and new clients wait in the kernel's backlog until a
//! connection closes.

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// Limits on the connections the server holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnectionLimits {
    /// How long a client has to send a whole request head, from the moment the server
    /// waits for it; past that the connection is closed without an answer.
    pub header_read_timeout: Duration,
    /// How many connections may be open at once (live streams included).
    pub max_connections: usize,
}

impl ConnectionLimits {
    /// The default deadline for a request head.
    pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
    /// The default cap on open connections: room for every stream client
    /// ([`crate::MAX_STREAM_CLIENTS`]) and many more short requests.
    pub const MAX_CONNECTIONS: usize = 512;
}

impl Default for ConnectionLimits {
    fn default() -> Self {
        ConnectionLimits {
            header_read_timeout: Self::HEADER_READ_TIMEOUT,
            max_connections: Self::MAX_CONNECTIONS,
        }
    }
}

/// How long to wait after a failed accept (out of file descriptors, say) before trying
/// again, so that the loop does not spin.
const ACCEPT_RETRY: Duration = Duration::from_millis(200);

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
        .header_read_timeout(limits.header_read_timeout);
    let slots = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let slot = tokio::select! {
            () = &mut shutdown => break,
            slot = Arc::clone(&slots).acquire_owned() => match slot {
                Ok(slot) => slot,
                // The semaphore is never closed.
                Err(_) => break,
            },
        };
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
        let connection =
            http.serve_connection(TokioIo::new(stream), TowerToHyperService::new(app.clone()));
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                // A client that went away or was too slow is routine.
                tracing::debug!("API connection from {peer}: {error}");
            }
            drop(slot);
        });
    }
    drop(listener);
    on_stop();
    graceful.shutdown().await;
    Ok(())
}
