//! The HTTP side of `blackout watch`: the JSON API, the live stream, the dashboard and
//! the Prometheus metrics, all read-only.
//!
//! - [`status`]: the snapshot the watch loop publishes ([`Status`] and its parts) and
//!   the headline the dashboard shows ([`Headline`]);
//! - `stream`: [`StreamMessage`], the [`Publisher`] that is the one write path for
//!   status and stream, and the server-sent events of `/api/v1/stream`;
//! - `metrics`: [`Metrics`], the Prometheus registry (gauges from the status, alert
//!   counters other parts increment);
//! - `handlers`: one thin function per route: check the parameters, read the snapshot
//!   or the database, answer JSON;
//! - `params`: strict parsing of query parameters, one error code per mistake;
//! - `guard`: refuses requests for other hosts ([`AllowedHosts`]) and oversized or
//!   malformed requests before routing, and puts the
//!   security headers (a strict Content-Security-Policy) on every answer;
//! - `entities`: [`WatchedEntities`], the sorted entity list that
//!   `/api/v1/entities` pages through (the global view has tens of thousands);
//! - `dashboard`: the page and its assets (uPlot included), embedded in the binary;
//! - `head_errors`: the API's JSON errors in place of the empty ones hyper answers by
//!   itself (a request line or head too long for its buffer, or unreadable);
//! - `server`: the connection loop behind [`serve`]: a deadline for every request head
//!   (a slow or silent client is disconnected) and a cap on open connections, both in
//!   [`ConnectionLimits`];
//! - `store_pool`: the read-only database connections kept between requests;
//! - `error`: [`ApiError`] with its stable [`ErrorCode`]s.
//!
//! Readers never block the writer: the status is an immutable `Arc` taken from a
//! `watch` channel, and the database is read through read-only connections on the
//! blocking pool (SQLite in WAL mode lets them read while the watch loop writes),
//! kept between requests by `store_pool` (at most one per query that may run at
//! once, none unused for more than a minute).
//!
//! Nothing in the API changes state, so no route needs a token; every method other
//! than GET (and HEAD) is refused with `405 method_not_allowed`. A route that changes
//! state must come with a token check.

pub mod status;

mod dashboard;
mod entities;
mod error;
mod guard;
mod handlers;
mod head_errors;
mod metrics;
mod params;
mod server;
mod store_pool;
mod stream;

pub use error::{ApiError, ErrorCode};
pub use guard::AllowedHosts;
pub use metrics::Metrics;
pub use params::{
    ENTITIES_LIMIT_DEFAULT, ENTITIES_LIMIT_MAX, ENTITY_KINDS, EVENTS_LIMIT_DEFAULT,
    EVENTS_LIMIT_MAX, POINTS_LIMIT_DEFAULT, POINTS_LIMIT_MAX, SIGNAL_SPAN_MAX_SECS,
};
pub use server::ConnectionLimits;
pub use status::{
    BmpPeerStatus, EntityState, EntityStatus, FeedStatus, Headline, LastKnownAddress,
    PeerDownStatus, PrefixStatus, ProbeStatus, RouterStatus, SkippedStatus, Status, UpstreamStatus,
    VantageResult, VantageStatus, WatchedEntities, WatchedEntity,
};
pub use stream::{Publisher, StreamMessage};

use axum::Router;
use axum::routing::get;
use blackout_store::Db;
use std::future::Future;
use std::sync::Arc;
use store_pool::StorePool;
use tokio::sync::{Semaphore, broadcast, watch};

/// Every route the API serves, in axum's path syntax (which is OpenAPI's too); the
/// OpenAPI description is tested to have each.
pub const ROUTES: &[&str] = &[
    "/",
    "/assets/{name}",
    "/overview",
    "/api/v1/status",
    "/api/v1/entities",
    "/api/v1/events",
    "/api/v1/events/{id}",
    "/api/v1/signals",
    "/api/v1/series",
    "/api/v1/stream",
    "/api/v1/openapi.json",
    "/metrics",
];

/// How many live-stream clients may be connected at once.
pub const MAX_STREAM_CLIENTS: usize = 64;
/// How many database queries may run at once.
pub const MAX_DB_QUERIES: usize = 4;

/// What every handler reads: the latest status, the stream, the database and the metrics.
#[derive(Clone)]
pub struct ApiState {
    inner: Arc<Inner>,
    limits: ConnectionLimits,
    allowed_hosts: Arc<AllowedHosts>,
}

pub(crate) struct Inner {
    pub(crate) status: watch::Receiver<Arc<Status>>,
    pub(crate) stream: broadcast::Sender<StreamMessage>,
    /// Read-only connections to the database, kept between queries.
    pub(crate) db: Arc<StorePool>,
    pub(crate) metrics: Arc<Metrics>,
    /// Set to true when the server stops, so that live streams end and graceful
    /// shutdown does not wait for them forever.
    pub(crate) stop: watch::Sender<bool>,
    pub(crate) db_queries: Arc<Semaphore>,
    pub(crate) stream_clients: Arc<Semaphore>,
}

impl ApiState {
    /// The state for a server that reads statuses from `status`, stream messages from
    /// `stream`, events and signals from the database `db`, and reports `metrics`.
    pub fn new(
        status: watch::Receiver<Arc<Status>>,
        stream: broadcast::Sender<StreamMessage>,
        db: Db,
        metrics: Arc<Metrics>,
    ) -> Self {
        let (stop, _) = watch::channel(false);
        ApiState {
            inner: Arc::new(Inner {
                status,
                stream,
                db: Arc::new(StorePool::new(db, MAX_DB_QUERIES)),
                metrics,
                stop,
                db_queries: Arc::new(Semaphore::new(MAX_DB_QUERIES)),
                stream_clients: Arc::new(Semaphore::new(MAX_STREAM_CLIENTS)),
            }),
            limits: ConnectionLimits::default(),
            allowed_hosts: Arc::new(AllowedHosts::local()),
        }
    }

    /// The same state, answering for `hosts` too (see [`AllowedHosts`]).
    pub fn with_allowed_hosts(mut self, hosts: AllowedHosts) -> Self {
        self.allowed_hosts = Arc::new(hosts);
        self
    }

    /// The hosts the API answers for.
    pub fn allowed_hosts(&self) -> &AllowedHosts {
        &self.allowed_hosts
    }

    /// The same state, served within `limits` instead of the defaults.
    pub fn with_limits(mut self, limits: ConnectionLimits) -> Self {
        self.limits = limits;
        self
    }

    /// The limits [`serve`] holds connections to.
    pub fn limits(&self) -> ConnectionLimits {
        self.limits
    }

    /// The latest status.
    pub fn status(&self) -> Arc<Status> {
        Arc::clone(&self.inner.status.borrow())
    }

    /// The metrics.
    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.inner.metrics
    }

    /// Ends every live stream (the server is stopping).
    pub fn stop_streams(&self) {
        self.inner.stop.send_replace(true);
    }
}

/// The whole application: API, stream, dashboard and metrics, behind the request guard.
pub fn router(state: ApiState) -> Router {
    Router::new()
        .route("/", get(dashboard::index))
        .route("/assets/{name}", get(dashboard::asset))
        .route("/overview", get(dashboard::overview))
        .route("/api/v1/status", get(handlers::status))
        .route("/api/v1/entities", get(handlers::entities))
        .route("/api/v1/events", get(handlers::events))
        .route("/api/v1/events/{id}", get(handlers::event))
        .route("/api/v1/signals", get(handlers::signals))
        .route("/api/v1/series", get(handlers::series))
        .route("/api/v1/stream", get(handlers::stream))
        .route("/api/v1/openapi.json", get(handlers::openapi))
        .route("/metrics", get(handlers::metrics))
        .fallback(handlers::not_found)
        .method_not_allowed_fallback(handlers::method_not_allowed)
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::guard,
        ))
        .with_state(state)
}

/// Serves [`router`] on `listener` within the state's [`ConnectionLimits`] until
/// `shutdown` completes, then ends the live streams and waits for requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: ApiState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let stopper = state.clone();
    let limits = state.limits();
    server::run(listener, router(state), limits, shutdown, move || {
        stopper.stop_streams()
    })
    .await
}
