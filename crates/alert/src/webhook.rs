//! One webhook POST over HTTP/1.1, with hyper, plain or over rustls (ring, the
//! webpki roots). One connection per delivery: alerts are rare, and a fresh
//! connection never trips over one the receiver closed in between.
//!
//! The caller bounds the whole attempt with its timeout; the response body is
//! not read beyond its head (the status is all that counts).

use crate::config::WebhookConfig;
use crate::error::DeliveryError;
use http_body_util::Full;
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use hyper::{Method, Request, Uri};
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;

/// The TLS configuration for https webhooks: ring, verified against the webpki roots.
pub(crate) fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(Arc::new(config))
}

/// POSTs `body` (JSON) to the webhook; Ok on a 2xx answer.
pub(crate) async fn post(
    hook: &WebhookConfig,
    body: Vec<u8>,
    dedupe_key: &str,
    tls: &Arc<rustls::ClientConfig>,
) -> Result<(), DeliveryError> {
    // Every error names the URL, so it is redacted once here (a password or a
    // `?key=` must not reach the logs).
    let url = blackout_model::text::redact_url(&hook.url);
    let bad = |reason: &str| DeliveryError::BadUrl {
        url: url.clone(),
        reason: reason.to_string(),
    };
    let uri: Uri = hook.url.parse().map_err(|_| bad("not a URL"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(bad("use an http:// or https:// URL")),
    };
    let host = uri
        .host()
        .filter(|h| !h.is_empty())
        .ok_or_else(|| bad("no host"))?;
    // An IPv6 literal comes bracketed in URLs; the resolver and SNI want it bare.
    let bare_host = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .to_string();
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let authority = uri
        .authority()
        .map(|a| a.as_str().to_string())
        .unwrap_or_else(|| host.to_string());
    let path = uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());

    let addresses: Vec<std::net::SocketAddr> = tokio::net::lookup_host((bare_host.as_str(), port))
        .await
        .map_err(|source| DeliveryError::Resolve {
            url: url.clone(),
            host: bare_host.clone(),
            source,
        })?
        .collect();
    let mut last_error = None;
    let mut stream = None;
    for address in &addresses {
        match TcpStream::connect(address).await {
            Ok(s) => {
                stream = Some(s);
                break;
            }
            Err(e) => last_error = Some((address.to_string(), e)),
        }
    }
    let stream = match stream {
        Some(stream) => stream,
        None => {
            let (address, source) = last_error.unwrap_or_else(|| {
                (
                    bare_host.clone(),
                    std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
                )
            });
            return Err(DeliveryError::Connect {
                url,
                address,
                source,
            });
        }
    };
    let _ = stream.set_nodelay(true);

    let mut request = Request::builder()
        .method(Method::POST)
        .uri(path)
        .header(HOST, authority)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("blackout/", env!("CARGO_PKG_VERSION")))
        .header("x-blackout-alert", dedupe_key)
        .body(Full::new(Bytes::from(body)))
        .map_err(|e| bad(&e.to_string()))?;
    if let Some(token) = &hook.token {
        let (name, value) = match &hook.header {
            Some(header) => (
                HeaderName::from_bytes(header.as_bytes()).map_err(|_| bad("bad header name"))?,
                HeaderValue::from_str(token),
            ),
            None => (
                AUTHORIZATION,
                HeaderValue::from_str(&format!("Bearer {token}")),
            ),
        };
        let mut value = value.map_err(|_| bad("the token is not a valid header value"))?;
        value.set_sensitive(true);
        request.headers_mut().insert(name, value);
    }

    if https {
        let server_name =
            ServerName::try_from(bare_host.clone()).map_err(|_| bad("bad TLS name"))?;
        let stream = tokio_rustls::TlsConnector::from(tls.clone())
            .connect(server_name, stream)
            .await
            .map_err(|source| DeliveryError::Tls {
                url: url.clone(),
                host: bare_host,
                source,
            })?;
        exchange(stream, request, &url).await
    } else {
        exchange(stream, request, &url).await
    }
}

async fn exchange<S>(
    stream: S,
    request: Request<Full<Bytes>>,
    url: &str,
) -> Result<(), DeliveryError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let http = |source| DeliveryError::Http {
        url: url.to_string(),
        source,
    };
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(http)?;
    // The connection task is aborted when this future ends or is dropped (the
    // caller's timeout), so a receiver that stalls cannot keep it alive.
    let _driver = AbortOnDrop(tokio::spawn(async move {
        let _ = connection.await;
    }));
    let response = sender.send_request(request).await.map_err(http)?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(DeliveryError::Status {
            url: url.to_string(),
            status: status.as_u16(),
        })
    }
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
