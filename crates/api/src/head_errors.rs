//! JSON for the errors hyper answers by itself.
//!
//! A request head that hyper cannot parse never reaches the router: hyper answers on
//! its own, `400`, `414` or `431` with an empty body, and closes the connection. A
//! request line longer than the read buffer (a 1 MB URL) is one of them: it gets
//! `431` even though the URL is what is too long. [`JsonErrors`] sits between the
//! socket and hyper and replaces such an answer, recognised as an error head with no
//! `content-type` written while no request of this connection is being answered (every
//! answer of the router carries a `content-type`), with the API's JSON error of the
//! right code, `414 uri_too_long` when the request line had not ended.
//!
//! After such an answer the rest of the request is read and dropped for a moment
//! ([`LINGER`], at most [`LINGER_BYTES`]) before the socket closes: closed with
//! unread bytes, it would be reset, and a client still sending its long URL would lose
//! the answer with it.

use crate::error::ErrorCode;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, ready};
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The most bytes of a request head hyper buffers; past it, it answers `431` by itself.
pub(crate) const MAX_HEAD_BYTES: usize = 64 * 1024;

/// How long the rest of a refused request is read after the answer.
pub(crate) const LINGER: Duration = Duration::from_secs(2);
/// The most bytes of a refused request read after the answer.
pub(crate) const LINGER_BYTES: usize = 4 * 1024 * 1024;

/// A connection's socket, with hyper's own error answers made JSON.
pub(crate) struct JsonErrors<S> {
    inner: S,
    /// Requests of this connection being answered by the router.
    busy: Arc<AtomicUsize>,
    /// Has the request line of the head being read ended?
    line_ended: bool,
    /// Was the last byte read (carriage returns aside) a new line?
    after_new_line: bool,
    /// Has the head being read ended (an empty line)? The next byte begins another.
    head_ended: bool,
    /// The JSON answer still to be written, once hyper's own was replaced.
    replacement: Option<(Vec<u8>, usize)>,
    /// After the replacement is sent: until when, and how much more, the rest of the
    /// request is read and dropped.
    linger: Option<(Pin<Box<tokio::time::Sleep>>, usize)>,
}

impl<S> JsonErrors<S> {
    pub(crate) fn new(inner: S, busy: Arc<AtomicUsize>) -> Self {
        JsonErrors {
            inner,
            busy,
            line_ended: false,
            after_new_line: false,
            head_ended: false,
            replacement: None,
            linger: None,
        }
    }

    /// Follows the request heads read: where a request line ends, and where a head
    /// does (an empty line), after which the next request line begins. The API reads
    /// no bodies (a GET with one is refused), so what follows a head is a head.
    fn saw(&mut self, bytes: &[u8]) {
        for &byte in bytes {
            match byte {
                b'\r' => {}
                b'\n' if self.after_new_line => self.head_ended = true,
                b'\n' => {
                    self.line_ended = true;
                    self.after_new_line = true;
                }
                _ if self.head_ended => {
                    self.head_ended = false;
                    self.line_ended = false;
                    self.after_new_line = false;
                }
                _ => self.after_new_line = false,
            }
        }
    }

    /// The JSON answer that replaces `written`, if `written` is hyper's own error head.
    fn replacement_for(&self, written: &[u8]) -> Option<Vec<u8>> {
        if self.busy.load(Ordering::Acquire) != 0 {
            return None;
        }
        let status = written.strip_prefix(b"HTTP/1.1 ")?.get(..4)?;
        let head_end = written.windows(4).position(|w| w == b"\r\n\r\n")?;
        let head = String::from_utf8_lossy(written.get(..head_end)?).to_ascii_lowercase();
        if head.contains("\r\ncontent-type:") {
            return None;
        }
        let (code, message) = match status {
            b"431 " | b"414 " if !self.line_ended => (
                ErrorCode::UriTooLong,
                format!(
                    "the request line is longer than the {MAX_HEAD_BYTES} bytes the API reads; URLs may be up to {} bytes",
                    crate::guard::MAX_URI_BYTES
                ),
            ),
            b"431 " => (
                ErrorCode::HeadersTooLarge,
                format!(
                    "the request head is longer than the {MAX_HEAD_BYTES} bytes the API reads; headers may be up to {} bytes",
                    crate::guard::MAX_HEADER_BYTES
                ),
            ),
            b"414 " => (
                ErrorCode::UriTooLong,
                format!(
                    "the URL is too long; the API accepts up to {} bytes",
                    crate::guard::MAX_URI_BYTES
                ),
            ),
            b"400 " => (
                ErrorCode::BadRequest,
                "the request is not HTTP/1.1 the API can read (a bad method, URL, header or version)"
                    .to_string(),
            ),
            _ => return None,
        };
        let body =
            serde_json::json!({"error": {"code": code.as_str(), "message": message}}).to_string();
        let status = code.status();
        Some(
            format!(
                "HTTP/1.1 {} {}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nx-content-type-options: nosniff\r\nconnection: close\r\n\r\n{body}",
                status.as_u16(),
                status.canonical_reason().unwrap_or(""),
                body.len()
            )
            .into_bytes(),
        )
    }
}

impl<S: AsyncWrite + Unpin> JsonErrors<S> {
    /// Writes what is left of the replacement answer.
    fn poll_replacement(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while let Some((bytes, sent)) = &mut self.replacement {
            let Some(rest) = bytes.get(*sent..).filter(|rest| !rest.is_empty()) else {
                break;
            };
            let n = ready!(Pin::new(&mut self.inner).poll_write(cx, rest))?;
            if n == 0 {
                return Poll::Ready(Err(io::ErrorKind::WriteZero.into()));
            }
            *sent += n;
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for JsonErrors<S> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        ready!(Pin::new(&mut this.inner).poll_read(cx, buf))?;
        if let Some(read) = buf.filled().get(before..) {
            this.saw(read);
        }
        Poll::Ready(Ok(()))
    }
}

impl<S: AsyncRead + AsyncWrite + Unpin> AsyncWrite for JsonErrors<S> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.replacement.is_some() {
            // The connection ends with the replacement: hyper writes nothing after
            // its error head, and anything it did would follow an answer already
            // complete.
            ready!(this.poll_replacement(cx))?;
            return Poll::Ready(Ok(buf.len()));
        }
        if let Some(answer) = this.replacement_for(buf) {
            this.replacement = Some((answer, 0));
            // hyper's bytes count as written; ours go out now or on the flush.
            let _ = this.poll_replacement(cx)?;
            return Poll::Ready(Ok(buf.len()));
        }
        Pin::new(&mut this.inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        Pin::new(&mut this.inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        ready!(this.poll_replacement(cx))?;
        if this.replacement.is_none() {
            return Pin::new(&mut this.inner).poll_shutdown(cx);
        }
        if this.linger.is_none() {
            ready!(Pin::new(&mut this.inner).poll_flush(cx))?;
            ready!(Pin::new(&mut this.inner).poll_shutdown(cx))?;
            this.linger = Some((Box::pin(tokio::time::sleep(LINGER)), 0));
        }
        let Some((deadline, drained)) = &mut this.linger else {
            return Poll::Ready(Ok(()));
        };
        let mut scratch = [0u8; 8192];
        loop {
            if deadline.as_mut().poll(cx).is_ready() || *drained >= LINGER_BYTES {
                return Poll::Ready(Ok(()));
            }
            let mut chunk = ReadBuf::new(&mut scratch);
            match Pin::new(&mut this.inner).poll_read(cx, &mut chunk) {
                Poll::Pending => return Poll::Pending,
                // The client closed (or reset): nothing left to wait for.
                Poll::Ready(Err(_)) => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) if chunk.filled().is_empty() => return Poll::Ready(Ok(())),
                Poll::Ready(Ok(())) => *drained += chunk.filled().len(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wrapper() -> JsonErrors<()> {
        JsonErrors::new((), Arc::new(AtomicUsize::new(0)))
    }

    fn code_of(answer: &[u8]) -> (String, serde_json::Value) {
        let text = String::from_utf8_lossy(answer);
        let (head, body) = text.split_once("\r\n\r\n").unwrap();
        (
            head.lines().next().unwrap().to_string(),
            serde_json::from_str(body).unwrap(),
        )
    }

    const HYPER_431: &[u8] =
        b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\ndate: x\r\n\r\n";

    #[test]
    fn a_request_line_that_never_ended_is_a_414() {
        let mut io = wrapper();
        io.saw(b"GET /aaaaaaaaaaaaaaaaaaaaaaa");
        let (status, body) = code_of(&io.replacement_for(HYPER_431).unwrap());
        assert_eq!(status, "HTTP/1.1 414 URI Too Long");
        assert_eq!(body["error"]["code"], "uri_too_long");
    }

    #[test]
    fn headers_past_the_buffer_are_a_431_and_the_next_request_line_is_followed() {
        let mut io = wrapper();
        io.saw(b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: aaaaaaa");
        let (status, body) = code_of(&io.replacement_for(HYPER_431).unwrap());
        assert_eq!(status, "HTTP/1.1 431 Request Header Fields Too Large");
        assert_eq!(body["error"]["code"], "headers_too_large");
        // A whole request, then a long request line: 414 again.
        io.saw(b"\r\n\r\nGET /aaaaaa");
        let (status, _) = code_of(&io.replacement_for(HYPER_431).unwrap());
        assert_eq!(status, "HTTP/1.1 414 URI Too Long");
    }

    #[test]
    fn answers_of_the_router_are_left_alone() {
        let mut io = wrapper();
        io.saw(b"GET / HTTP/1.1\r\n");
        let json_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
        assert!(io.replacement_for(json_400).is_none());
        assert!(io.replacement_for(b"HTTP/1.1 200 OK\r\n\r\n").is_none());
        assert!(io.replacement_for(b"{\"partial\": \"body\"}").is_none());
        io.busy.fetch_add(1, Ordering::AcqRel);
        assert!(
            io.replacement_for(HYPER_431).is_none(),
            "a request under way"
        );
    }

    #[test]
    fn a_malformed_request_is_a_json_400() {
        let mut io = wrapper();
        io.saw(b"GET / HTTP/1.1\r\nbad header\r\n\r\n");
        let hyper_400 = b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n";
        let (status, body) = code_of(&io.replacement_for(hyper_400).unwrap());
        assert_eq!(status, "HTTP/1.1 400 Bad Request");
        assert_eq!(body["error"]["code"], "bad_request");
    }
}
