//! SMTP: the greeting (code and text), then EHLO and its extensions, then QUIT.
//!
//! [`ReplyParser`] is the sans-IO part: bytes in, a complete (possibly
//! multi-line) reply out, with every line and the whole reply bounded, so a peer
//! that sends a 10 MB banner or endless data is cut off early and told apart.

use crate::result::{Outcome, SmtpDetail};
use crate::tcp;
use blackout_model::text::{MAX_OUTSIDE_CHARS, inert};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A line longer than this is not SMTP (RFC 5321 allows 512 octets).
pub const MAX_LINE: usize = 2048;
/// A reply (all its lines) longer than this is not SMTP either.
pub const MAX_REPLY: usize = 16 * 1024;

/// A complete SMTP reply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    /// The three-digit code.
    pub code: u16,
    /// The text of each line, without code and separator.
    pub lines: Vec<String>,
}

/// Why bytes are not an SMTP reply.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// A line without its end within [`MAX_LINE`] bytes.
    #[error("a reply line longer than {MAX_LINE} bytes")]
    LineTooLong,
    /// A reply longer than [`MAX_REPLY`] bytes.
    #[error("a reply longer than {MAX_REPLY} bytes")]
    TooLong,
    /// A line that does not start with a three-digit code and ` ` or `-`.
    #[error("not an SMTP reply line: {0:?}")]
    Malformed(String),
    /// The lines of one reply carry different codes.
    #[error("reply lines with different codes ({0} then {1})")]
    MixedCodes(u16, u16),
}

/// Collects bytes until a complete reply is there.
#[derive(Debug, Default)]
pub struct ReplyParser {
    pending: Vec<u8>,
    code: Option<u16>,
    lines: Vec<String>,
    total: usize,
}

impl ReplyParser {
    /// Feeds bytes; returns the reply once its last line arrived. Bytes after the
    /// reply are kept for the next one.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<Option<Reply>, ReplyError> {
        self.total += bytes.len();
        self.pending.extend_from_slice(bytes);
        while let Some(end) = self.pending.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = self.pending.drain(..=end).collect();
            let text = String::from_utf8_lossy(&line);
            let text = text.trim_end_matches(['\r', '\n']);
            if text.len() > MAX_LINE {
                return Err(ReplyError::LineTooLong);
            }
            let (code, last, rest) = parse_line(text)?;
            if let Some(first) = self.code
                && first != code
            {
                return Err(ReplyError::MixedCodes(first, code));
            }
            self.code = Some(code);
            self.lines.push(inert(rest, MAX_OUTSIDE_CHARS));
            if last {
                let reply = Reply {
                    code,
                    lines: std::mem::take(&mut self.lines),
                };
                self.code = None;
                self.total = self.pending.len();
                return Ok(Some(reply));
            }
        }
        if self.pending.len() > MAX_LINE {
            return Err(ReplyError::LineTooLong);
        }
        if self.total > MAX_REPLY {
            return Err(ReplyError::TooLong);
        }
        Ok(None)
    }
}

/// `250-SIZE` → (250, false, "SIZE"); `220 ready` → (220, true, "ready").
fn parse_line(text: &str) -> Result<(u16, bool, &str), ReplyError> {
    let malformed = || ReplyError::Malformed(text.chars().take(80).collect());
    let digits = text.get(..3).ok_or_else(malformed)?;
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(malformed());
    }
    let code: u16 = digits.parse().map_err(|_| malformed())?;
    match text.as_bytes().get(3) {
        None => Ok((code, true, "")),
        Some(b' ') => Ok((code, true, text.get(4..).unwrap_or(""))),
        Some(b'-') => Ok((code, false, text.get(4..).unwrap_or(""))),
        Some(_) => Err(malformed()),
    }
}

/// Reads one reply within `deadline`.
async fn read_reply<S: AsyncReadExt + Unpin>(
    stream: &mut S,
    parser: &mut ReplyParser,
    deadline: Instant,
    phase: &str,
) -> Result<Reply, Outcome> {
    if let Ok(Some(reply)) = parser.feed(&[]) {
        return Ok(reply);
    }
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let read = match tokio::time::timeout(left, stream.read(&mut buf)).await {
            Err(_) => return Err(Outcome::Timeout),
            Ok(Err(error)) => {
                return Err(Outcome::Failed {
                    reason: format!("reading the {phase}: {error}"),
                });
            }
            Ok(Ok(0)) => {
                return Err(Outcome::Failed {
                    reason: format!("the server closed the connection before the {phase}"),
                });
            }
            Ok(Ok(read)) => read,
        };
        match parser.feed(buf.get(..read).unwrap_or(&[])) {
            Ok(Some(reply)) => return Ok(reply),
            Ok(None) => {}
            Err(error) => {
                return Err(Outcome::Failed {
                    reason: format!("{phase}: {error}"),
                });
            }
        }
    }
}

/// What a silent server (connected, then [`Outcome::Timeout`] on every attempt) is
/// told apart as: the step it stayed silent at.
pub fn silence_reason(detail: &SmtpDetail, timeout: Duration) -> String {
    let step = if detail.banner_code.is_none() {
        "no greeting"
    } else {
        "no reply to EHLO"
    };
    format!(
        "connected, but {step} within {:.1} s",
        timeout.as_secs_f64()
    )
}

/// Greets the server at `address`, says EHLO and QUIT. A server that connects but
/// stays silent (no greeting, or no reply to EHLO, within `timeout`) gives
/// [`Outcome::Timeout`] with the connect time: silence is retried as a lost packet
/// is, and [`silence_reason`] words it once the retries are spent. `timeout` bounds each of the
/// connect, the greeting and the EHLO reply.
pub async fn probe(
    address: SocketAddr,
    timeout: Duration,
) -> (Outcome, Option<Duration>, SmtpDetail) {
    let mut detail = SmtpDetail::default();
    let started = Instant::now();
    let (mut stream, connected) = match tcp::connect(address, timeout).await {
        Ok(ok) => ok,
        Err(outcome) => return (outcome, None, detail),
    };
    let mut parser = ReplyParser::default();
    let banner = match read_reply(
        &mut stream,
        &mut parser,
        Instant::now() + timeout,
        "greeting",
    )
    .await
    {
        Ok(reply) => reply,
        Err(outcome) => return (outcome, Some(connected), detail),
    };
    detail.banner_ms = Some(started.elapsed().as_secs_f64() * 1000.0);
    detail.banner_code = Some(banner.code);
    detail.banner = Some(banner.lines.join("\n"));
    if banner.code != 220 {
        let _ = stream.write_all(b"QUIT\r\n").await;
        return (
            Outcome::Failed {
                reason: format!("greeting {} {}", banner.code, banner.lines.join(" ")),
            },
            Some(connected),
            detail,
        );
    }
    let wrote = tokio::time::timeout(timeout, stream.write_all(b"EHLO blackout.invalid\r\n")).await;
    if !matches!(wrote, Ok(Ok(()))) {
        return (
            Outcome::Failed {
                reason: "could not send EHLO".to_string(),
            },
            Some(connected),
            detail,
        );
    }
    let outcome = match read_reply(
        &mut stream,
        &mut parser,
        Instant::now() + timeout,
        "EHLO reply",
    )
    .await
    {
        Ok(reply) => {
            detail.ehlo_code = Some(reply.code);
            detail.extensions = reply
                .lines
                .iter()
                .skip(1)
                .filter_map(|line| line.split_whitespace().next())
                .map(str::to_ascii_uppercase)
                .collect();
            if reply.code == 250 {
                Outcome::Ok
            } else {
                Outcome::Failed {
                    reason: format!("EHLO answered {} {}", reply.code, reply.lines.join(" ")),
                }
            }
        }
        Err(outcome) => outcome,
    };
    // Leave politely, but do not wait for the goodbye.
    let _ = tokio::time::timeout(Duration::from_millis(200), stream.write_all(b"QUIT\r\n")).await;
    (outcome, Some(connected), detail)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multi_line_replies() {
        let mut parser = ReplyParser::default();
        assert_eq!(
            parser.feed(b"220-mail.example ESMTP\r\n220 ").unwrap(),
            None
        );
        let reply = parser.feed(b"ready\r\n250-x").unwrap().unwrap();
        assert_eq!(reply.code, 220);
        assert_eq!(reply.lines, vec!["mail.example ESMTP", "ready"]);
        let reply = parser.feed(b"\r\n250 SIZE 1000\r\n").unwrap();
        assert_eq!(
            reply,
            Some(Reply {
                code: 250,
                lines: vec!["x".into(), "SIZE 1000".into()]
            })
        );
        let mut parser = ReplyParser::default();
        assert_eq!(parser.feed(b"554\n").unwrap().map(|r| r.code), Some(554));
    }

    #[test]
    fn hostile_banner_bytes_are_inert() {
        let mut parser = ReplyParser::default();
        let reply = parser
            .feed(b"220-mail\x1b[2J\x1b]0;owned\x07\r\x08\xff\r\n220 ok\r\n")
            .unwrap()
            .unwrap();
        assert_eq!(
            reply.lines,
            vec!["mail\\x1b[2J\\x1b]0;owned\\x07\\x0d\\x08\u{fffd}", "ok"]
        );
        assert!(
            reply
                .lines
                .iter()
                .all(|line| !line.chars().any(char::is_control))
        );
    }

    #[test]
    fn hostile_replies() {
        let mut parser = ReplyParser::default();
        assert_eq!(
            parser.feed(&vec![b'2'; MAX_LINE + 10]),
            Err(ReplyError::LineTooLong)
        );
        let mut parser = ReplyParser::default();
        let mut endless = Err(ReplyError::TooLong);
        for _ in 0..10_000 {
            endless = parser.feed(b"220-this never ends\r\n");
            if endless.is_err() {
                break;
            }
        }
        assert_eq!(endless, Err(ReplyError::TooLong));
        let mut parser = ReplyParser::default();
        assert!(matches!(
            parser.feed(b"HTTP/1.1 400 Bad\r\n"),
            Err(ReplyError::Malformed(_))
        ));
        let mut parser = ReplyParser::default();
        assert_eq!(
            parser.feed(b"220-a\r\n250 b\r\n"),
            Err(ReplyError::MixedCodes(220, 250))
        );
    }
}
