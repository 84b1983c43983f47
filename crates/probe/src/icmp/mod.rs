//! ICMP echo: which kind of socket this process may use ([`IcmpAccess`]), and a
//! [`Pinger`] that shares one socket per address family among many probes.
//!
//! Linux offers two ways to send echo requests. A ping socket (`SOCK_DGRAM`,
//! `IPPROTO_ICMP`) needs no privilege but only works for groups within
//! `net.ipv4.ping_group_range` (the default `1 0` allows nobody, root included);
//! the kernel owns its identifier and hands over only the echo replies meant for
//! it. A raw socket needs root or `CAP_NET_RAW` and sees every ICMP message, so it
//! filters by identifier (and, in the kernel, by type with a BPF filter). When
//! neither is allowed, [`IcmpUnavailable`] says so with the fix, and the other
//! probes go on.
//!
//! The packet codec is in [`packet`]; it is pure and unit-tested.

pub mod packet;

use packet::{IcmpMessage, Quoted};
use socket2::{Domain, Protocol, SockFilter, Socket, Type};
use std::collections::HashMap;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// Which kind of ICMP socket is in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum IcmpMode {
    /// An unprivileged ping socket.
    Ping,
    /// A raw socket (root or `CAP_NET_RAW`).
    Raw,
}

/// Neither a ping socket nor a raw socket may be opened.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error(
    "ICMP probes are off: this process may open neither a ping socket (net.ipv4.ping_group_range is `{range}`, which does not include group {gid}) nor a raw socket (that needs root or CAP_NET_RAW). Fix: `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`, or `setcap cap_net_raw+ep <path to blackout>`. The other probes go on."
)]
pub struct IcmpUnavailable {
    /// The sysctl's value as read.
    pub range: String,
    /// The process's effective group.
    pub gid: String,
}

/// The decision, from the two facts: may this process open a ping socket, and may
/// it open a raw one? A ping socket is preferred: it needs no privilege and the
/// kernel does the matching.
pub fn choose_mode(ping_allowed: bool, raw_allowed: bool) -> Option<IcmpMode> {
    match (ping_allowed, raw_allowed) {
        (true, _) => Some(IcmpMode::Ping),
        (false, true) => Some(IcmpMode::Raw),
        (false, false) => None,
    }
}

/// Opens an ICMP socket of the given kind, non-blocking.
pub fn open_socket(v6: bool, mode: IcmpMode) -> io::Result<Socket> {
    let (domain, protocol) = if v6 {
        (Domain::IPV6, Protocol::ICMPV6)
    } else {
        (Domain::IPV4, Protocol::ICMPV4)
    };
    let kind = match mode {
        IcmpMode::Ping => Type::DGRAM,
        IcmpMode::Raw => Type::RAW,
    };
    let socket = Socket::new(domain, kind, Some(protocol))?;
    socket.set_nonblocking(true)?;
    if mode == IcmpMode::Raw && !v6 {
        // A raw socket sees every ICMP message on the host (on loopback, our own
        // requests too): let the kernel drop all but replies and errors.
        socket.attach_filter(&raw_v4_filter(&[0, 3, 11]))?;
    }
    Ok(socket)
}

/// A classic BPF program for a raw IPv4 ICMP socket that keeps only the given
/// ICMP types (at most 8).
pub fn raw_v4_filter(types: &[u8]) -> Vec<SockFilter> {
    let types = &types[..types.len().min(8)];
    let count = types.len() as u8;
    // X = IP header length; A = the ICMP type byte.
    let mut program = vec![
        SockFilter::new(0xb1, 0, 0, 0),
        SockFilter::new(0x50, 0, 0, 0),
    ];
    for (i, kind) in types.iter().enumerate() {
        // On a match, jump over the remaining tests and the drop to the accept.
        let to_accept = count - i as u8;
        program.push(SockFilter::new(0x15, to_accept, 0, u32::from(*kind)));
    }
    program.push(SockFilter::new(0x06, 0, 0, 0));
    program.push(SockFilter::new(0x06, 0, 0, 0xffff));
    program
}

/// What this process may use for ICMP, found by trying.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IcmpAccess {
    /// The mode to use, or why there is none.
    pub mode: Result<IcmpMode, IcmpUnavailable>,
}

impl IcmpAccess {
    /// Tries to open an IPv4 ping socket, then a raw one, and decides.
    pub fn detect() -> IcmpAccess {
        let ping = open_socket(false, IcmpMode::Ping).is_ok();
        let raw = !ping && open_socket(false, IcmpMode::Raw).is_ok();
        IcmpAccess {
            mode: choose_mode(ping, raw).ok_or_else(unavailable),
        }
    }
}

/// The explanation, with the facts read from the system.
fn unavailable() -> IcmpUnavailable {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range")
        .map(|text| text.split_whitespace().collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unreadable".to_string());
    let gid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find_map(|line| line.strip_prefix("Gid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_else(|| "unknown".to_string());
    IcmpUnavailable { range, gid }
}

/// How one echo went.
#[derive(Clone, Debug, PartialEq)]
pub enum PingReply {
    /// An echo reply, after this long.
    Reply(Duration),
    /// Nothing within the timeout.
    Timeout,
    /// An ICMP error, or the kernel had no route.
    Unreachable(String),
    /// The send failed for another reason.
    Error(String),
}

type Waiters = Arc<Mutex<HashMap<(IpAddr, u16), oneshot::Sender<Result<Instant, String>>>>>;

/// One socket of one address family, and the replies it waits for.
struct Channel {
    socket: Arc<UdpSocket>,
    v6: bool,
    ident: u16,
    next_seq: AtomicU16,
    waiters: Waiters,
    receiver: tokio::task::JoinHandle<()>,
}

impl Drop for Channel {
    fn drop(&mut self) {
        self.receiver.abort();
    }
}

/// Sends echo requests and matches replies, for any number of concurrent probes.
pub struct Pinger {
    mode: IcmpMode,
    v4: Option<Channel>,
    v6: Option<Channel>,
}

/// The identifier for raw sockets: the process id, so that two blackouts on one
/// host do not take each other's replies.
fn raw_ident() -> u16 {
    (std::process::id() & 0xffff) as u16
}

impl Pinger {
    /// Opens the sockets for `mode` (IPv6 only if the host has it). Must be called
    /// within a tokio runtime.
    pub fn new(mode: IcmpMode) -> io::Result<Pinger> {
        let v4 = Some(Channel::open(false, mode)?);
        let v6 = Channel::open(true, mode).ok();
        Ok(Pinger { mode, v4, v6 })
    }

    /// The mode in use.
    pub fn mode(&self) -> IcmpMode {
        self.mode
    }

    /// Sends one echo request to `address` and waits up to `timeout` for the reply.
    pub async fn ping(&self, address: IpAddr, timeout: Duration) -> PingReply {
        let channel = match (address, &self.v4, &self.v6) {
            (IpAddr::V4(_), Some(channel), _) | (IpAddr::V6(_), _, Some(channel)) => channel,
            _ => return PingReply::Error(format!("no ICMP socket for {address}")),
        };
        channel.ping(address, timeout).await
    }
}

impl Channel {
    fn open(v6: bool, mode: IcmpMode) -> io::Result<Channel> {
        let socket = open_socket(v6, mode)?;
        let socket = Arc::new(UdpSocket::from_std(std::net::UdpSocket::from(socket))?);
        let waiters: Waiters = Arc::default();
        let ip_header = mode == IcmpMode::Raw && !v6;
        let ident = raw_ident();
        let receiver = tokio::spawn(receive(
            socket.clone(),
            v6,
            ip_header,
            // A ping socket's identifier is the kernel's, and only its replies arrive.
            (mode == IcmpMode::Raw).then_some(ident),
            waiters.clone(),
        ));
        Ok(Channel {
            socket,
            v6,
            ident,
            next_seq: AtomicU16::new(0),
            waiters,
            receiver,
        })
    }

    async fn ping(&self, address: IpAddr, timeout: Duration) -> PingReply {
        // Find a sequence number not in use for this address (wraps after 65,536).
        let (seq, rx) = {
            let Ok(mut waiters) = self.waiters.lock() else {
                return PingReply::Error("ICMP waiter table poisoned".to_string());
            };
            let mut seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            while waiters.contains_key(&(address, seq)) {
                seq = self.next_seq.fetch_add(1, Ordering::Relaxed);
            }
            let (tx, rx) = oneshot::channel();
            waiters.insert((address, seq), tx);
            (seq, rx)
        };
        let packet = packet::echo_request(self.v6, self.ident, seq, b"blackout probe");
        let started = Instant::now();
        let sent = self
            .socket
            .send_to(&packet, SocketAddr::new(address, 0))
            .await;
        let reply = match sent {
            Err(error) => Err(send_error(&error)),
            Ok(_) => match tokio::time::timeout(timeout, rx).await {
                Ok(Ok(Ok(at))) => Ok(PingReply::Reply(at.saturating_duration_since(started))),
                Ok(Ok(Err(reason))) => Ok(PingReply::Unreachable(reason)),
                Ok(Err(_)) => Ok(PingReply::Error("ICMP receiver stopped".to_string())),
                Err(_) => Ok(PingReply::Timeout),
            },
        };
        if let Ok(mut waiters) = self.waiters.lock() {
            waiters.remove(&(address, seq));
        }
        reply.unwrap_or_else(|error| error)
    }
}

/// Maps a send error: no route is the network's state; anything else is ours.
pub fn send_error(error: &io::Error) -> PingReply {
    match error.raw_os_error() {
        Some(101) => PingReply::Unreachable(format!("network unreachable (no route): {error}")),
        Some(113) => PingReply::Unreachable(format!("host unreachable (no route): {error}")),
        _ => PingReply::Error(format!("ICMP send failed: {error}")),
    }
}

/// Reads replies and errors until the channel is dropped, waking the probes.
async fn receive(
    socket: Arc<UdpSocket>,
    v6: bool,
    ip_header: bool,
    ident: Option<u16>,
    waiters: Waiters,
) {
    let mut buf = vec![0u8; 2048];
    loop {
        let Ok((len, from)) = socket.recv_from(&mut buf).await else {
            // Errors here are transient (an ICMP error queued on the socket); go on.
            tokio::task::yield_now().await;
            continue;
        };
        let now = Instant::now();
        let Some(bytes) = buf.get(..len) else {
            continue;
        };
        let Some((_, message)) = packet::decode(v6, ip_header, bytes) else {
            continue;
        };
        let (key, value) = match message {
            IcmpMessage::EchoReply { ident: got, seq } => {
                if ident.is_some_and(|ours| ours != got) {
                    continue;
                }
                ((from.ip(), seq), Ok(now))
            }
            IcmpMessage::Unreachable {
                code,
                destination,
                quoted: Quoted::Echo {
                    ident: got, seq, ..
                },
                ..
            } if ident.is_none_or(|ours| ours == got) => (
                (destination, seq),
                Err(format!(
                    "{} from {}",
                    packet::unreachable_reason(v6, code),
                    from.ip()
                )),
            ),
            _ => continue,
        };
        let waiter = waiters.lock().ok().and_then(|mut w| w.remove(&key));
        if let Some(waiter) = waiter {
            let _ = waiter.send(value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decision() {
        assert_eq!(choose_mode(true, true), Some(IcmpMode::Ping));
        assert_eq!(choose_mode(true, false), Some(IcmpMode::Ping));
        assert_eq!(choose_mode(false, true), Some(IcmpMode::Raw));
        assert_eq!(choose_mode(false, false), None);
        let message = IcmpUnavailable {
            range: "1 0".into(),
            gid: "1000".into(),
        }
        .to_string();
        assert!(message.contains("ping_group_range"));
        assert!(message.contains("cap_net_raw"));
        assert!(message.contains("group 1000"));
    }

    #[test]
    fn filter_shape() {
        let program = raw_v4_filter(&[0, 3, 11]);
        assert_eq!(program.len(), 2 + 3 + 2);
    }
}
