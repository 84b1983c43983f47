//! The request guard: refuses what no route should see, before routing, and marks
//! every answer with the security headers.
//!
//! The `Host` header must name this server ([`AllowedHosts`]): an IP address, `localhost`
//! (or a name under `.localhost`), or a name the operator allowed (`blackout watch
//! --api-host NAME`, for a reverse proxy; `*` allows any). Anything else is refused with
//! `421 misdirected_request`: a web page elsewhere whose name was made to resolve to
//! this machine (DNS rebinding) must not read the API through the visitor's browser.
//! The port is not compared: rebinding keeps the port of the page's own URL.
//!
//! Limits: a URL of at most [`MAX_URI_BYTES`], at most [`MAX_HEADERS`] headers of at
//! most [`MAX_HEADER_BYTES`] together, and no body on GET or HEAD (nothing in the API
//! reads one, and a body there is a sign of a confused or hostile client). What hyper
//! refuses before this guard runs (past 100 headers, or a head longer than its buffer)
//! gets the same JSON errors from `head_errors`.
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

/// The host names the API answers to, besides IP addresses and `localhost`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    /// Lowercase, without a trailing dot.
    names: Vec<String>,
    any: bool,
}

impl AllowedHosts {
    /// IP addresses and `localhost` only.
    pub fn local() -> Self {
        AllowedHosts::default()
    }

    /// Those and `names` (`*`: any host at all).
    pub fn with_names<S: AsRef<str>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut allowed = AllowedHosts::default();
        for name in names {
            let name = name
                .as_ref()
                .trim()
                .trim_end_matches('.')
                .to_ascii_lowercase();
            if name == "*" {
                allowed.any = true;
            } else if !name.is_empty() {
                allowed.names.push(name);
            }
        }
        allowed
    }

    /// Whether a `Host` header's value (`name`, `name:port`, `[v6]:port`) is allowed.
    pub fn allows(&self, host: &str) -> bool {
        if self.any {
            return true;
        }
        let name = match host.strip_prefix('[') {
            Some(bracketed) => match bracketed.split_once(']') {
                Some((v6, _)) => return v6.parse::<std::net::Ipv6Addr>().is_ok(),
                None => return false,
            },
            None => match host.rsplit_once(':') {
                Some((name, port)) if port.bytes().all(|b| b.is_ascii_digit()) => name,
                _ => host,
            },
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        name.parse::<std::net::IpAddr>().is_ok()
            || name == "localhost"
            || name.ends_with(".localhost")
            || self.names.contains(&name)
    }
}

fn check_host(request: &Request, allowed: &AllowedHosts) -> Result<(), ApiError> {
    let host = match request.headers().get(header::HOST) {
        Some(value) => value.to_str().ok(),
        // HTTP/1.0 may send none; a browser always does.
        None => return Ok(()),
    };
    match host {
        Some(host) if allowed.allows(host) => Ok(()),
        _ => Err(ApiError::new(
            ErrorCode::MisdirectedRequest,
            format!(
                "this server does not answer for the host `{}`; use its address or localhost, or start watch with --api-host NAME to allow a name (a reverse proxy's)",
                blackout_model::text::inert(host.unwrap_or("(not text)"), 64)
            ),
        )),
    }
}

fn check(request: &Request, allowed: &AllowedHosts) -> Result<(), ApiError> {
    check_host(request, allowed)?;
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
    let mut response = match check(&request, state.allowed_hosts()) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_allowed_are_addresses_localhost_and_the_names_given() {
        let local = AllowedHosts::local();
        for host in [
            "127.0.0.1:8470",
            "127.0.0.1",
            "[::1]:8470",
            "[2001:db8::1]",
            "192.0.2.7:80",
            "localhost:8470",
            "LOCALHOST.",
            "app.localhost:8470",
        ] {
            assert!(local.allows(host), "{host}");
        }
        for host in [
            "evil.example:8470",
            "evil.example",
            "localhost.evil.example",
            "[::1",
            "[not-v6]:80",
            "",
        ] {
            assert!(!local.allows(host), "{host}");
        }
        let proxied = AllowedHosts::with_names(["Blackout.Example.ORG."]);
        assert!(proxied.allows("blackout.example.org"));
        assert!(proxied.allows("blackout.example.org:443"));
        assert!(!proxied.allows("other.example.org"));
        assert!(AllowedHosts::with_names(["*"]).allows("anything.example"));
    }
}
