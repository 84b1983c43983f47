//! HTTP(S): one GET with its phases timed (connect, TLS handshake, first byte,
//! body), and a fingerprint of the page (its `<title>` and the SHA-256 of its body)
//! so that a replaced or defaced page shows.
//!
//! Every phase has its own deadline, the response head is bounded by hyper's
//! buffer limit and the body by [`MAX_BODY`], so a server that stalls its TLS
//! handshake or sends endless data cannot hold the probe. Certificates are not
//! verified: an observatory wants to see the page that is served, whoever signed
//! it (the handshake's signatures are still checked). [`title`] is the sans-IO part.

use crate::result::{HttpDetail, Outcome};
use crate::tcp;
use blackout_model::text::{inert, inert_bytes};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use sha2::{Digest, Sha256};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite};

/// The most body read and hashed; the rest is not read (and `truncated` is set).
pub const MAX_BODY: usize = 1024 * 1024;
/// The most response head (status line and headers) accepted.
const MAX_HEAD: usize = 64 * 1024;
/// The longest title kept, in characters (escapes included).
const MAX_TITLE_CHARS: usize = 200;
/// How much of the body is searched for the title.
const TITLE_WINDOW: usize = 64 * 1024;

/// The `<title>` of an HTML page: trimmed, whitespace collapsed, at most 200
/// characters. Never panics.
pub fn title(html: &[u8]) -> Option<String> {
    let lower: Vec<u8> = html.iter().map(u8::to_ascii_lowercase).collect();
    let open = find(&lower, b"<title")?;
    let start = open + find(lower.get(open..)?, b">")? + 1;
    let end = start + find(lower.get(start..)?, b"</title")?;
    let text = String::from_utf8_lossy(html.get(start..end)?);
    let text: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    let text = inert(&text, MAX_TITLE_CHARS);
    (!text.is_empty()).then_some(text)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A verifier that accepts any certificate but still checks the handshake's
/// signatures.
#[derive(Debug)]
struct AnyCertificate(WebPkiSupportedAlgorithms);

impl ServerCertVerifier for AnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.0)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.0)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_schemes()
    }
}

/// The TLS client configuration: ring only, any certificate.
pub fn tls_config() -> Result<Arc<rustls::ClientConfig>, rustls::Error> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let algorithms = provider.signature_verification_algorithms;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(AnyCertificate(algorithms)))
        .with_no_client_auth();
    Ok(Arc::new(config))
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// GETs `path` from `address`, sending `host` as the Host header (and as SNI with
/// TLS). `timeout` bounds each phase. A server that connects but stays silent (no TLS
/// handshake, no response head) gives [`Outcome::Timeout`] with the connect time, to
/// be retried as a lost packet is; [`silence_reason`] words it.
pub async fn probe(
    address: SocketAddr,
    host: &str,
    tls: Option<&Arc<rustls::ClientConfig>>,
    path: &str,
    timeout: Duration,
) -> (Outcome, Option<Duration>, HttpDetail) {
    let mut detail = HttpDetail::default();
    let started = Instant::now();
    let (stream, connected) = match tcp::connect(address, timeout).await {
        Ok(ok) => ok,
        Err(outcome) => return (outcome, None, detail),
    };
    detail.connect_ms = Some(ms(connected));
    let outcome = match tls {
        None => exchange(stream, address, host, path, timeout, started, &mut detail).await,
        Some(config) => {
            let server_name = match host.parse::<std::net::IpAddr>() {
                Ok(ip) => ServerName::IpAddress(ip.into()),
                Err(_) => match ServerName::try_from(host.to_string()) {
                    Ok(name) => name,
                    Err(_) => ServerName::IpAddress(address.ip().into()),
                },
            };
            let connector = tokio_rustls::TlsConnector::from(config.clone());
            match tokio::time::timeout(timeout, connector.connect(server_name, stream)).await {
                Err(_) => Outcome::Timeout,
                Ok(Err(error)) => Outcome::Failed {
                    reason: format!("TLS handshake failed: {error}"),
                },
                Ok(Ok(stream)) => {
                    detail.tls_ms = Some(ms(started.elapsed()));
                    exchange(stream, address, host, path, timeout, started, &mut detail).await
                }
            }
        }
    };
    (outcome, Some(connected), detail)
}

/// What a silent server (connected, then [`Outcome::Timeout`] on every attempt) is
/// told apart as: the step it stayed silent at.
pub fn silence_reason(detail: &HttpDetail, tls: bool, timeout: Duration) -> String {
    let step = if tls && detail.tls_ms.is_none() {
        "the TLS handshake did not finish"
    } else {
        "no response head"
    };
    format!(
        "connected, but {step} within {:.1} s",
        timeout.as_secs_f64()
    )
}

/// The request and the response over an established stream.
async fn exchange<S>(
    stream: S,
    address: SocketAddr,
    host: &str,
    path: &str,
    timeout: Duration,
    started: Instant,
    detail: &mut HttpDetail,
) -> Outcome
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let handshake = hyper::client::conn::http1::Builder::new()
        .max_buf_size(MAX_HEAD)
        .handshake::<_, Empty<Bytes>>(hyper_util::rt::TokioIo::new(stream))
        .await;
    let (mut sender, connection) = match handshake {
        Ok(pair) => pair,
        Err(error) => {
            return Outcome::Error {
                message: format!("starting HTTP on {address}: {error}"),
            };
        }
    };
    let driver = tokio::spawn(connection);
    let outcome = async {
        let host_header = match (host.parse::<std::net::Ipv6Addr>(), address.port()) {
            (Ok(_), port) => format!("[{host}]:{port}"),
            (Err(_), 80 | 443) => host.to_string(),
            (Err(_), port) => format!("{host}:{port}"),
        };
        let request = match hyper::Request::get(path)
            .header(hyper::header::HOST, host_header)
            .header(hyper::header::USER_AGENT, "blackout-probe/0.1")
            .header(hyper::header::CONNECTION, "close")
            .body(Empty::<Bytes>::new())
        {
            Ok(request) => request,
            Err(error) => {
                return Outcome::Error {
                    message: format!("building the request for {path}: {error}"),
                };
            }
        };
        let response = match tokio::time::timeout(timeout, sender.send_request(request)).await {
            Err(_) => return Outcome::Timeout,
            Ok(Err(error)) => {
                return Outcome::Failed {
                    reason: format!("a broken HTTP response: {error}"),
                };
            }
            Ok(Ok(response)) => response,
        };
        detail.first_byte_ms = Some(ms(started.elapsed()));
        let status = response.status();
        detail.status = Some(status.as_u16());
        let header = |name: hyper::header::HeaderName| {
            response
                .headers()
                .get(name)
                .map(|v| inert_bytes(v.as_bytes(), MAX_TITLE_CHARS))
        };
        detail.server = header(hyper::header::SERVER);
        detail.location = header(hyper::header::LOCATION);
        let mut body = response.into_body();
        let mut hasher = Sha256::new();
        let mut head = Vec::new();
        let deadline = Instant::now() + timeout;
        let mut body_error = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match tokio::time::timeout(left, body.frame()).await {
                Err(_) => {
                    body_error = Some(format!(
                        "the body did not end within {:.1} s",
                        timeout.as_secs_f64()
                    ));
                    break;
                }
                Ok(None) => break,
                Ok(Some(Err(error))) => {
                    body_error = Some(format!("the body broke off: {error}"));
                    break;
                }
                Ok(Some(Ok(frame))) => {
                    let Ok(data) = frame.into_data() else {
                        continue;
                    };
                    let room = MAX_BODY.saturating_sub(detail.body_bytes as usize);
                    let take = data.get(..data.len().min(room)).unwrap_or(&[]);
                    hasher.update(take);
                    if head.len() < TITLE_WINDOW {
                        let want = (TITLE_WINDOW - head.len()).min(take.len());
                        head.extend_from_slice(take.get(..want).unwrap_or(&[]));
                    }
                    detail.body_bytes += take.len() as u64;
                    if take.len() < data.len() {
                        detail.truncated = true;
                        break;
                    }
                }
            }
        }
        detail.total_ms = Some(ms(started.elapsed()));
        detail.sha256 = Some(
            hasher
                .finalize()
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect(),
        );
        detail.title = title(&head);
        if let Some(reason) = body_error {
            Outcome::Failed { reason }
        } else if status.is_server_error() {
            Outcome::Failed {
                reason: format!("HTTP {status}"),
            }
        } else {
            Outcome::Ok
        }
    }
    .await;
    driver.abort();
    outcome
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titles() {
        assert_eq!(
            title(b"<html><head><TITLE lang=en>\n  KCNA  Watch\n</Title>").as_deref(),
            Some("KCNA Watch")
        );
        assert_eq!(title(b"<title></title>"), None);
        assert_eq!(title(b"<title>never closed"), None);
        assert_eq!(title(b"no title here"), None);
        assert_eq!(title(b"<title"), None);
        assert_eq!(title(b""), None);
        let long = format!("<title>{}</title>", "x".repeat(1000));
        let cut = title(long.as_bytes()).unwrap();
        assert_eq!(cut.chars().count(), MAX_TITLE_CHARS + 1);
        assert!(cut.ends_with('…'));
        assert_eq!(
            title(b"<title>\x1b]0;owned\x07Home\x1b[2J</title>").as_deref(),
            Some("\\x1b]0;owned\\x07Home\\x1b[2J")
        );
    }

    #[test]
    fn tls_config_builds_with_ring_alone() {
        assert!(tls_config().is_ok());
    }
}
