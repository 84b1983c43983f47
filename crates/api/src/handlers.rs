//! One thin function per route: check the parameters, read the snapshot or the
//! database, answer JSON.

use crate::ApiState;
use crate::error::{ApiError, ErrorCode};
use crate::params::{self, EntitiesParams, EventsParams, NoParams, SignalsParams};
use crate::status::StatusBody;
use axum::Json;
use axum::extract::rejection::PathRejection;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, Uri, header};
use axum::response::{IntoResponse, Response};
use blackout_model::{SeriesKey, Timestamp, clock};
use blackout_store::{EventQuery, SignalRollup, Store};
use serde::Serialize;
use std::time::Duration;

/// The OpenAPI description, hand-written.
const OPENAPI: &str = include_str!("../assets/openapi.json");

/// How long a request waits for a free database slot before it is told to retry.
const DB_WAIT: Duration = Duration::from_secs(10);

fn no_store<T: IntoResponse>(body: T) -> Response {
    let mut response = body.into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `GET /api/v1/status`.
pub(crate) async fn status(State(state): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    params::query::<NoParams>(&uri)?;
    let status = state.status();
    Ok(no_store(Json(StatusBody::new(&status))))
}

/// `GET /api/v1/entities`: one page of the watched entities, in entity order.
pub(crate) async fn entities(
    State(state): State<ApiState>,
    uri: Uri,
) -> Result<Response, ApiError> {
    let q = params::query::<EntitiesParams>(&uri)?.check()?;
    let status = state.status();
    Ok(no_store(Json(status.watched.page(&q))))
}

/// Runs `work` on a read-only connection to the database (one kept from an earlier
/// query, see [`crate::store_pool`]), on the blocking pool, with at most
/// [`crate::MAX_DB_QUERIES`] at once.
async fn with_store<T, F>(state: &ApiState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Store) -> Result<T, ApiError> + Send + 'static,
{
    let permit = tokio::time::timeout(DB_WAIT, state.inner.db_queries.clone().acquire_owned())
        .await
        .map_err(|_| ApiError::new(ErrorCode::Busy, "too many database queries at once: retry"))?
        .map_err(|_| ApiError::new(ErrorCode::Internal, "the database queue is closed"))?;
    let pool = std::sync::Arc::clone(&state.inner.db);
    tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let db = pool.db();
        if db.is_missing_file() {
            return Err(ApiError::new(
                ErrorCode::StoreUnavailable,
                format!("the database {db} does not exist yet: blackout watch creates it"),
            ));
        }
        pool.with(work, |e| {
            ApiError::new(ErrorCode::StoreUnavailable, e.to_string())
        })
    })
    .await
    .map_err(|e| ApiError::new(ErrorCode::Internal, format!("a database query failed: {e}")))?
}

fn store_error(e: blackout_store::StoreError) -> ApiError {
    ApiError::new(ErrorCode::StoreUnavailable, e.to_string())
}

#[derive(Serialize)]
struct EventsBody {
    events: Vec<blackout_model::Event>,
}

/// `GET /api/v1/events`: newest first.
pub(crate) async fn events(State(state): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    let q = params::query::<EventsParams>(&uri)?.check(clock::now())?;
    let query = EventQuery {
        since: q.since,
        until: q.until,
        cause: q.cause,
        entity: q.entity,
        limit: Some(q.limit as usize),
    };
    let events = with_store(&state, move |store| {
        store.events(&query).map_err(store_error)
    })
    .await?;
    Ok(no_store(Json(EventsBody { events })))
}

/// `GET /api/v1/events/{id}`.
pub(crate) async fn event(
    State(state): State<ApiState>,
    uri: Uri,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    params::query::<NoParams>(&uri)?;
    let Path(id) = id.map_err(|e| ApiError::new(ErrorCode::BadId, e.body_text()))?;
    params::event_id(&id)?;
    let wanted = id.clone();
    let event = with_store(&state, move |store| {
        store.event(&wanted).map_err(store_error)
    })
    .await?;
    match event {
        Some(event) => Ok(no_store(Json(event))),
        None => Err(ApiError::new(
            ErrorCode::EventNotFound,
            format!("no event has the id `{id}`"),
        )),
    }
}

#[derive(Serialize)]
struct Point {
    at: Timestamp,
    value: f64,
}

#[derive(Serialize)]
struct Rollup {
    bucket: Timestamp,
    width_secs: i64,
    min: f64,
    max: f64,
    mean: f64,
    count: i64,
}

impl From<SignalRollup> for Rollup {
    fn from(r: SignalRollup) -> Self {
        Rollup {
            bucket: r.bucket,
            width_secs: r.width_secs,
            min: r.min,
            max: r.max,
            mean: r.mean,
            count: r.count,
        }
    }
}

#[derive(Serialize)]
struct SignalsBody {
    #[serde(flatten)]
    key: SeriesKey,
    from: Timestamp,
    until: Timestamp,
    /// Raw points, oldest first.
    points: Vec<Point>,
    /// Older points folded into buckets, oldest first.
    rollups: Vec<Rollup>,
    /// True when there were more raw points than the limit: the oldest were left out.
    truncated: bool,
}

/// `GET /api/v1/signals`: one series, raw points and rollups.
pub(crate) async fn signals(State(state): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    let q = params::query::<SignalsParams>(&uri)?.check(clock::now())?;
    let body = with_store(&state, move |store| {
        let mut points = store
            .signals(&q.key, q.from, q.until)
            .map_err(store_error)?;
        let rollups = store
            .rollups(&q.key, q.from, q.until)
            .map_err(store_error)?;
        let limit = q.limit as usize;
        let truncated = points.len() > limit;
        if truncated {
            points.drain(..points.len() - limit);
        }
        Ok(SignalsBody {
            key: q.key,
            from: q.from,
            until: q.until,
            points: points
                .into_iter()
                .map(|p| Point {
                    at: p.at,
                    value: p.value,
                })
                .collect(),
            rollups: rollups.into_iter().map(Rollup::from).collect(),
            truncated,
        })
    })
    .await?;
    Ok(no_store(Json(body)))
}

#[derive(Serialize)]
struct SeriesBody {
    series: Vec<SeriesKey>,
}

/// `GET /api/v1/series`: which (entity, signal) series the database holds.
pub(crate) async fn series(State(state): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    params::query::<NoParams>(&uri)?;
    let series = with_store(&state, |store| store.series().map_err(store_error)).await?;
    Ok(no_store(Json(SeriesBody { series })))
}

/// `GET /api/v1/stream`.
pub(crate) async fn stream(State(state): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    params::query::<NoParams>(&uri)?;
    let permit = state
        .inner
        .stream_clients
        .clone()
        .try_acquire_owned()
        .map_err(|_| {
            ApiError::new(
                ErrorCode::TooManyStreams,
                format!(
                    "{} clients are already on the stream: retry later",
                    crate::MAX_STREAM_CLIENTS
                ),
            )
        })?;
    Ok(no_store(crate::stream::sse(&state.inner, permit)))
}

/// `GET /api/v1/openapi.json`.
pub(crate) async fn openapi(uri: Uri) -> Result<Response, ApiError> {
    params::query::<NoParams>(&uri)?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        OPENAPI,
    )
        .into_response())
}

/// `GET /metrics`: the latest status as gauges, and the counters.
pub(crate) async fn metrics(State(state): State<ApiState>, uri: Uri) -> Result<Response, ApiError> {
    params::query::<NoParams>(&uri)?;
    let metrics = state.metrics();
    metrics.update_from(&state.status());
    Ok(no_store((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        metrics.encode(),
    )))
}

/// Any path the API does not have.
pub(crate) async fn not_found(uri: Uri) -> ApiError {
    ApiError::new(
        ErrorCode::NotFound,
        format!(
            "no such path: {}; GET /api/v1/openapi.json lists them",
            uri.path().chars().take(128).collect::<String>()
        ),
    )
}

/// A path the API has, with a method it does not.
pub(crate) async fn method_not_allowed() -> Response {
    (
        [(header::ALLOW, HeaderValue::from_static("GET, HEAD"))],
        ApiError::new(ErrorCode::MethodNotAllowed, "the API is read-only: use GET"),
    )
        .into_response()
}
