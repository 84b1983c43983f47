//! The request guard: refuses what no route should see, before routing, and marks
//! every answer with the security headers.
//!
//! Limits: a URL of at most [`MAX_URI_BYTES`], at most [`MAX_HEADERS`] headers of at
//! most [`MAX_HEADER_BYTES`] together, and no body on GET or HEAD (nothing in the API
//! reads one, and a body there is a sign of a confused or hostile client). Hyper itself
//! answers `431` without a JSON body past 100 headers, before this guard runs.
//!
//! The Content-Security-Policy allows only the server's own scripts, styles and
//! connections: the dashboard loads nothing from elsewhere and runs no inline script,
//! so text from the network that slipped into the page still could not run.

use crate::ApiState;
use crate::error::{ApiError, ErrorCode};
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The longest URL (path and query) accepted.
pub const MAX_URI_BYTES: usize = 4096;
/// The most headers accepted.
pub const MAX_HEADERS: usize = 64;
/// The most header bytes (names and values) accepted.
pub const MAX_HEADER_BYTES: usize = 16 * 1024;

/// The dashboard's policy: its own origin only, no inline code, no framing.
pub const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

fn check(request: &Request) -> Result<(), ApiError> {
    let uri_len = request
        .uri()
        .path_and_query()
        .map_or(0, |pq| pq.as_str().len());
    if uri_len > MAX_URI_BYTES {
        return Err(ApiError::new(
            ErrorCode::UriTooLong,
            format!("the URL is {uri_len} bytes long; the API accepts up to {MAX_URI_BYTES}"),
        ));
    }
    let headers = request.headers();
    if headers.len() > MAX_HEADERS {
        return Err(ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!(
                "{} headers; the API accepts up to {MAX_HEADERS}",
                headers.len()
            ),
        ));
    }
    let header_bytes: usize = headers
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len())
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        return Err(ApiError::new(
            ErrorCode::HeadersTooLarge,
            format!("{header_bytes} bytes of headers; the API accepts up to {MAX_HEADER_BYTES}"),
        ));
    }
    let method = request.method();
    if method == Method::GET || method == Method::HEAD {
        let has_length = headers
            .get(header::CONTENT_LENGTH)
            .is_some_and(|v| v.as_bytes() != b"0");
        if has_length || headers.contains_key(header::TRANSFER_ENCODING) {
            return Err(ApiError::new(
                ErrorCode::BodyNotAllowed,
                format!("a {method} request carries no body"),
            ));
        }
    }
    Ok(())
}

/// The middleware.
pub(crate) async fn guard(State(state): State<ApiState>, request: Request, next: Next) -> Response {
    let mut response = match check(&request) {
        Ok(()) => next.run(request).await,
        Err(error) => {
            let mut response = error.into_response();
            // The body was not read: the connection cannot be reused safely.
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
            response
        }
    };
    state.metrics().http_response(response.status().as_u16());
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CONTENT_SECURITY_POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    response
}
