//! TCP connect, shared by the TCP, HTTP and SMTP probes: a connection within a
//! deadline, with the failure told apart (refused, unreachable, timeout).

use crate::result::Outcome;
use std::io;
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Connects within `timeout`; returns the stream and the connect time, or the
/// outcome that says why not.
pub async fn connect(
    address: SocketAddr,
    timeout: Duration,
) -> Result<(TcpStream, Duration), Outcome> {
    let started = Instant::now();
    match tokio::time::timeout(timeout, TcpStream::connect(address)).await {
        Ok(Ok(stream)) => {
            // Probes write small requests and wait for the answer: do not delay them.
            let _ = stream.set_nodelay(true);
            Ok((stream, started.elapsed()))
        }
        Ok(Err(error)) => Err(connect_error(&error, address)),
        Err(_) => Err(Outcome::Timeout),
    }
}

/// Maps a connect error to an outcome.
pub fn connect_error(error: &io::Error, address: SocketAddr) -> Outcome {
    match error.kind() {
        io::ErrorKind::ConnectionRefused => Outcome::Refused,
        io::ErrorKind::TimedOut => Outcome::Timeout,
        io::ErrorKind::NetworkUnreachable => Outcome::Unreachable {
            reason: format!("network unreachable connecting to {address}: {error}"),
        },
        io::ErrorKind::HostUnreachable => Outcome::Unreachable {
            reason: format!("host unreachable connecting to {address}: {error}"),
        },
        _ => match error.raw_os_error() {
            Some(101 | 113) => Outcome::Unreachable {
                reason: format!("connecting to {address}: {error}"),
            },
            _ => Outcome::Error {
                message: format!("connecting to {address}: {error}"),
            },
        },
    }
}
