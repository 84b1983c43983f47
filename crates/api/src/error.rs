//! API errors: a stable code, a message that says what to do, and an HTTP status.
//!
//! Every error the API returns, whether from a handler, the request guard or the
//! fallbacks, is `{"error": {"code": "...", "message": "..."}}`. Codes are stable
//! (scripts match on them); messages are for people and may change.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::sync::atomic::{AtomicU64, Ordering};

/// The stable error codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorCode {
    /// A time parameter is not RFC 3339 or Unix seconds, or out of range.
    BadTime,
    /// `from`/`since` is not before `until`, or the span is too long.
    BadRange,
    /// `cause` is not one of the contract's causes.
    UnknownCause,
    /// `entity` is not `kind:name`.
    BadEntity,
    /// `kind` is not a kind of entity.
    UnknownKind,
    /// `state` is not an entity state.
    UnknownState,
    /// `signal` is not a signal name.
    BadSignal,
    /// `limit` is not a number in range.
    BadLimit,
    /// An event id with characters or a length no id has.
    BadId,
    /// The query string could not be read, names an unknown parameter, or repeats one.
    BadQuery,
    /// A required parameter is missing.
    MissingParameter,
    /// A GET or HEAD carried a body.
    BodyNotAllowed,
    /// The URL is longer than the API accepts.
    UriTooLong,
    /// The headers are larger than the API accepts.
    HeadersTooLarge,
    /// The request could not be read as HTTP.
    BadRequest,
    /// The `Host` header names a host this server does not answer for (a page on
    /// another site that reached it through DNS rebinding, say).
    MisdirectedRequest,
    /// No such path.
    NotFound,
    /// No such event.
    EventNotFound,
    /// The path exists, the method does not (nothing in the API changes state).
    MethodNotAllowed,
    /// The database cannot be opened or read.
    StoreUnavailable,
    /// Too many live-stream clients.
    TooManyStreams,
    /// Too many database queries at once.
    Busy,
    /// A bug: something that should not fail did.
    Internal,
}

impl ErrorCode {
    /// The code's stable text.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadTime => "bad_time",
            ErrorCode::BadRange => "bad_range",
            ErrorCode::UnknownCause => "unknown_cause",
            ErrorCode::BadEntity => "bad_entity",
            ErrorCode::UnknownKind => "unknown_kind",
            ErrorCode::UnknownState => "unknown_state",
            ErrorCode::BadSignal => "bad_signal",
            ErrorCode::BadLimit => "bad_limit",
            ErrorCode::BadId => "bad_id",
            ErrorCode::BadQuery => "bad_query",
            ErrorCode::MissingParameter => "missing_parameter",
            ErrorCode::BodyNotAllowed => "body_not_allowed",
            ErrorCode::UriTooLong => "uri_too_long",
            ErrorCode::HeadersTooLarge => "headers_too_large",
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::MisdirectedRequest => "misdirected_request",
            ErrorCode::NotFound => "not_found",
            ErrorCode::EventNotFound => "event_not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::StoreUnavailable => "store_unavailable",
            ErrorCode::TooManyStreams => "too_many_streams",
            ErrorCode::Busy => "busy",
            ErrorCode::Internal => "internal",
        }
    }

    /// The HTTP status that goes with it.
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::BadTime
            | ErrorCode::BadRange
            | ErrorCode::UnknownCause
            | ErrorCode::BadEntity
            | ErrorCode::UnknownKind
            | ErrorCode::UnknownState
            | ErrorCode::BadSignal
            | ErrorCode::BadLimit
            | ErrorCode::BadId
            | ErrorCode::BadQuery
            | ErrorCode::MissingParameter
            | ErrorCode::BodyNotAllowed
            | ErrorCode::BadRequest => StatusCode::BAD_REQUEST,
            ErrorCode::MisdirectedRequest => StatusCode::MISDIRECTED_REQUEST,
            ErrorCode::UriTooLong => StatusCode::URI_TOO_LONG,
            ErrorCode::HeadersTooLarge => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            ErrorCode::NotFound | ErrorCode::EventNotFound => StatusCode::NOT_FOUND,
            ErrorCode::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ErrorCode::StoreUnavailable | ErrorCode::TooManyStreams | ErrorCode::Busy => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            ErrorCode::Internal => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

/// An error answer.
#[derive(Debug, thiserror::Error)]
#[error("{} ({}): {message}", code.as_str(), code.status())]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// What went wrong and what to do, for a person.
    pub message: String,
}

impl ApiError {
    /// An error with a code and a message.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError {
            code,
            message: message.into(),
        }
    }
}

#[derive(Serialize)]
struct Body<'a> {
    error: Inner<'a>,
}

#[derive(Serialize)]
struct Inner<'a> {
    code: &'a str,
    message: &'a str,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // A client's mistake is the client's to read; a failure on our side (the
        // database, a bug) is also the operator's.
        // Refusals under load (too many streams, busy) come in floods: at most one
        // line a second says so, with how many were not written.
        if self.code.status().is_server_error()
            && let Some(suppressed) = FAILURE_LOG
                .admit(u64::try_from(blackout_model::clock::now().as_secs()).unwrap_or(0))
        {
            tracing::warn!(
                code = self.code.as_str(),
                message = %self.message,
                suppressed,
                "API request failed"
            );
        }
        let body = Body {
            error: Inner {
                code: self.code.as_str(),
                message: &self.message,
            },
        };
        (self.code.status(), Json(body)).into_response()
    }
}

/// The log of failed requests, limited to a line a second.
static FAILURE_LOG: LogRateLimit = LogRateLimit::new();

/// Lets one log line through per second; counts the ones it holds back and hands the
/// count to the next line that goes through.
pub(crate) struct LogRateLimit {
    /// The second of the last line written, plus one (0: none yet).
    last: AtomicU64,
    /// Lines held back since.
    held: AtomicU64,
}

impl LogRateLimit {
    pub(crate) const fn new() -> Self {
        LogRateLimit {
            last: AtomicU64::new(0),
            held: AtomicU64::new(0),
        }
    }

    /// Whether a line may be written in second `now`; if so, how many were held back
    /// before it.
    pub(crate) fn admit(&self, now: u64) -> Option<u64> {
        let stamp = now.saturating_add(1);
        let last = self.last.load(Ordering::Relaxed);
        if last != stamp
            && self
                .last
                .compare_exchange(last, stamp, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            Some(self.held.swap(0, Ordering::Relaxed))
        } else {
            self.held.fetch_add(1, Ordering::Relaxed);
            None
        }
    }

    #[cfg(test)]
    fn held_now(&self) -> u64 {
        self.held.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::LogRateLimit;

    #[test]
    fn a_flood_of_refusals_writes_a_line_a_second() {
        let limit = LogRateLimit::new();
        // 2,855 refusals in 45 s, as in the report, give 45 lines.
        let written: Vec<u64> = (0..2855u64)
            .filter_map(|n| limit.admit(1_000 + n * 45 / 2855))
            .collect();
        assert_eq!(written.len(), 45);
        assert_eq!(written[0], 0);
        // Every refusal is either written or counted in a later line (or still held).
        assert_eq!(written.iter().sum::<u64>() + 45 + limit.held_now(), 2855);
    }
}
