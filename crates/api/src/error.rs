//! API errors: a stable code, a message that says what to do, and an HTTP status.
//!
//! Every error the API returns, whether from a handler, the request guard or the
//! fallbacks, is `{"error": {"code": "...", "message": "..."}}`. Codes are stable
//! (scripts match on them); messages are for people and may change.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

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
            | ErrorCode::BodyNotAllowed => StatusCode::BAD_REQUEST,
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
        if self.code.status().is_server_error() {
            tracing::warn!(code = self.code.as_str(), message = %self.message, "API request failed");
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
