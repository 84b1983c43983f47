//! Paris traceroute over ICMP or UDP, IPv4 and IPv6.
//!
//! Every probe of one trace belongs to one flow: ICMP echo requests keep their
//! identifier and checksum (the sequence number changes, two payload bytes
//! compensate), UDP datagrams keep their ports and their checksum (two payload
//! bytes compensate) and carry their identity in their length, so per-flow load
//! balancers send them all down one path. Probes for every TTL (the hop limit, in
//! IPv6) go out at once; each round resends only the TTLs that got no answer.
//! Answers are read from a raw ICMP or ICMPv6 socket (root or `CAP_NET_RAW`) and
//! matched by the probe they quote: an ICMPv6 time exceeded or destination
//! unreachable quotes the IPv6 header and the start of the probe as ICMP's do.
//!
//! Over IPv6 the kernel fills in every checksum itself; the compensating bytes
//! make the sum it computes the same for every probe of a flow. The flow label
//! is the kernel's (Linux derives it from the flow, so it stays the same too).
//!
//! Each hop's AS comes from an [`AsLookup`] (the BGP state, or a [`PrefixTable`]).

use crate::icmp::packet::{self, IcmpMessage, Quoted};
use crate::icmp::{IcmpMode, open_socket};
use crate::result::{Hop, Outcome, TraceDetail};
use crate::target::TraceMode;
use blackout_model::Asn;
use ipnet::IpNet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::net::UdpSocket;

/// Maps an address to the AS that originates it.
pub trait AsLookup: Send + Sync {
    /// The AS of `ip`, where known.
    fn asn_of(&self, ip: IpAddr) -> Option<Asn>;
}

/// Knows no AS.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoAsLookup;

impl AsLookup for NoAsLookup {
    fn asn_of(&self, _ip: IpAddr) -> Option<Asn> {
        None
    }
}

/// A prefix-to-origin table with longest-prefix match.
#[derive(Clone, Debug, Default)]
pub struct PrefixTable {
    entries: Vec<(IpNet, Asn)>,
}

impl PrefixTable {
    /// A table from (prefix, origin) pairs.
    pub fn new(entries: impl IntoIterator<Item = (IpNet, Asn)>) -> Self {
        let mut entries: Vec<_> = entries.into_iter().map(|(p, a)| (p.trunc(), a)).collect();
        // Longest first, so the first match is the most specific.
        entries.sort_by_key(|(prefix, _)| std::cmp::Reverse(prefix.prefix_len()));
        PrefixTable { entries }
    }
}

impl AsLookup for PrefixTable {
    fn asn_of(&self, ip: IpAddr) -> Option<Asn> {
        self.entries
            .iter()
            .find(|(prefix, _)| prefix.contains(&ip))
            .map(|(_, asn)| *asn)
    }
}

/// How a trace is run.
#[derive(Clone, Copy, Debug)]
pub struct TraceOptions {
    /// ICMP or UDP probes.
    pub mode: TraceMode,
    /// The highest TTL tried.
    pub max_hops: u8,
    /// How long each round waits for answers.
    pub timeout: Duration,
    /// Rounds (each resends the TTLs still silent).
    pub rounds: u32,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            mode: TraceMode::Icmp,
            max_hops: 30,
            timeout: Duration::from_secs(2),
            rounds: 3,
        }
    }
}

/// The UDP destination port (traceroute's classic base port; it stays fixed).
const UDP_PORT: u16 = 33434;

/// What one answer told about one TTL.
#[derive(Clone, Debug)]
struct Seen {
    from: IpAddr,
    rtt: Duration,
    reply: &'static str,
    destination: bool,
}

/// The identity of a probe: round (modulo 4) and TTL (at most 63), never zero.
fn probe_id(round: u32, ttl: u8) -> u16 {
    (((round & 3) as u16) << 8) | u16::from(ttl & 0x3f)
}

fn ttl_of(id: u16) -> u8 {
    (id & 0x3f) as u8
}

fn round_of(id: u16) -> u32 {
    u32::from(id >> 8)
}

/// The UDP payload length that carries a probe's identity: 2 compensation bytes,
/// then 64 bytes per round, plus the TTL.
fn udp_payload_len(id: u16) -> usize {
    2 + round_of(id) as usize * 64 + usize::from(ttl_of(id))
}

/// The identity back from a quoted UDP length.
fn id_from_udp_length(length: u16) -> Option<u16> {
    let payload = usize::from(length).checked_sub(8 + 2)?;
    let (round, ttl) = (payload / 64, payload % 64);
    (round < 4).then(|| probe_id(round as u32, ttl as u8))
}

/// Traces the path to `destination`.
pub async fn trace(
    destination: IpAddr,
    options: TraceOptions,
    lookup: &dyn AsLookup,
) -> (Outcome, Option<Duration>, TraceDetail) {
    let mut detail = TraceDetail {
        mode: match options.mode {
            TraceMode::Icmp => "icmp",
            TraceMode::Udp => "udp",
        }
        .to_string(),
        ..TraceDetail::default()
    };
    let v6 = destination.is_ipv6();
    let receiver = match open_socket(v6, IcmpMode::Raw)
        .and_then(|s| UdpSocket::from_std(std::net::UdpSocket::from(s)))
    {
        Ok(socket) => Arc::new(socket),
        Err(error) => {
            return (
                Outcome::Error {
                    message: format!(
                        "traceroute needs a raw {} socket (root or CAP_NET_RAW; `setcap cap_net_raw+ep <path to blackout>`): {error}",
                        if v6 { "ICMPv6" } else { "ICMP" }
                    ),
                },
                None,
                detail,
            );
        }
    };
    let sender = match Sender::open(options.mode, destination, &receiver).await {
        Ok(sender) => sender,
        Err(outcome) => return (outcome, None, detail),
    };
    let max = options.max_hops.clamp(1, 63);
    let mut seen: Vec<Option<Seen>> = vec![None; usize::from(max) + 1];
    let mut dest_ttl: Option<u8> = None;
    let mut router_unreachable: Option<String> = None;
    let mut buf = vec![0u8; 2048];
    for round in 0..options.rounds.max(1) {
        let limit = dest_ttl.unwrap_or(max);
        let pending: Vec<u8> = (1..=limit)
            .filter(|ttl| seen.get(usize::from(*ttl)).is_some_and(Option::is_none))
            .collect();
        if pending.is_empty() {
            break;
        }
        let mut sent_at = vec![None; usize::from(max) + 1];
        for ttl in &pending {
            match sender.send(*ttl, probe_id(round, *ttl)).await {
                Ok(()) => {
                    if let Some(slot) = sent_at.get_mut(usize::from(*ttl)) {
                        *slot = Some(Instant::now());
                    }
                }
                Err(error) => {
                    let outcome = match error.raw_os_error() {
                        Some(101 | 113) => Outcome::Unreachable {
                            reason: format!("no route to {destination}: {error}"),
                        },
                        _ => Outcome::Error {
                            message: format!(
                                "sending a traceroute probe to {destination}: {error}"
                            ),
                        },
                    };
                    return (outcome, None, detail);
                }
            }
        }
        let deadline = Instant::now() + options.timeout;
        loop {
            let open = (1..=dest_ttl.unwrap_or(max))
                .filter(|ttl| pending.contains(ttl))
                .any(|ttl| seen.get(usize::from(ttl)).is_some_and(Option::is_none));
            if !open {
                break;
            }
            let left = deadline.saturating_duration_since(Instant::now());
            let Ok(Ok((len, from))) =
                tokio::time::timeout(left, receiver.recv_from(&mut buf)).await
            else {
                break;
            };
            let now = Instant::now();
            // A raw IPv4 socket hands over the IP header too; an ICMPv6 one does not.
            let Some((_, message)) = packet::decode(v6, !v6, buf.get(..len).unwrap_or(&[])) else {
                continue;
            };
            let Some((id, reply, at_destination)) =
                sender.matches(&message, destination, from.ip())
            else {
                continue;
            };
            let ttl = ttl_of(id);
            if ttl == 0 || ttl > max || round_of(id) != round & 3 {
                continue;
            }
            if let IcmpMessage::Unreachable { code, .. } = message
                && !at_destination
            {
                router_unreachable = Some(format!(
                    "{} from {} at hop {ttl}",
                    packet::unreachable_reason(v6, code),
                    from.ip()
                ));
            }
            let Some(sent) = sent_at.get(usize::from(ttl)).copied().flatten() else {
                continue;
            };
            if let Some(slot) = seen.get_mut(usize::from(ttl))
                && slot.is_none()
            {
                *slot = Some(Seen {
                    from: from.ip(),
                    rtt: now.saturating_duration_since(sent),
                    reply,
                    destination: at_destination,
                });
            }
            if at_destination || matches!(message, IcmpMessage::Unreachable { .. }) {
                dest_ttl = Some(dest_ttl.map_or(ttl, |d| d.min(ttl)));
            }
        }
    }
    let last_ttl = match dest_ttl {
        Some(ttl) => ttl,
        None => {
            let last = (1..=max)
                .rev()
                .find(|ttl| seen.get(usize::from(*ttl)).is_some_and(Option::is_some))
                .unwrap_or(0);
            // Show a few silent hops after the last answer: where the path went dark.
            last.saturating_add(3).min(max)
        }
    };
    for ttl in 1..=last_ttl {
        let hop = match seen.get(usize::from(ttl)).cloned().flatten() {
            Some(seen) => Hop {
                ttl,
                address: Some(seen.from),
                rtt_ms: Some(seen.rtt.as_secs_f64() * 1000.0),
                asn: lookup.asn_of(seen.from),
                reply: Some(seen.reply.to_string()),
            },
            None => Hop {
                ttl,
                address: None,
                rtt_ms: None,
                asn: None,
                reply: None,
            },
        };
        detail.hops.push(hop);
    }
    detail.last_responding = detail
        .hops
        .iter()
        .rev()
        .find(|h| h.address.is_some())
        .cloned();
    let reached = dest_ttl
        .and_then(|ttl| seen.get(usize::from(ttl)).cloned().flatten())
        .filter(|s| s.destination);
    detail.reached = reached.is_some();
    match reached {
        Some(seen) => (Outcome::Ok, Some(seen.rtt), detail),
        None => {
            let reason = match (&router_unreachable, &detail.last_responding) {
                (Some(reason), _) => reason.clone(),
                (None, Some(hop)) => format!(
                    "{destination} did not answer; the last hop that did is {} at TTL {}{}",
                    hop.address.map(|a| a.to_string()).unwrap_or_default(),
                    hop.ttl,
                    hop.asn.map(|a| format!(" ({a})")).unwrap_or_default()
                ),
                (None, None) => format!("no hop answered on the way to {destination}"),
            };
            (Outcome::Unreachable { reason }, None, detail)
        }
    }
}

/// Sets the TTL (IPv4) or the unicast hop limit (IPv6) of what `socket` sends next.
fn set_hop_limit(socket: &UdpSocket, destination: IpAddr, ttl: u8) -> std::io::Result<()> {
    let socket = socket2::SockRef::from(socket);
    match destination {
        IpAddr::V4(_) => socket.set_ttl_v4(u32::from(ttl)),
        IpAddr::V6(_) => socket.set_unicast_hops_v6(u32::from(ttl)),
    }
}

/// Sends the probes of one trace.
enum Sender {
    Icmp {
        socket: Arc<UdpSocket>,
        destination: IpAddr,
        ident: u16,
        checksum: u16,
    },
    Udp {
        socket: UdpSocket,
        source: IpAddr,
        source_port: u16,
        destination: IpAddr,
    },
}

impl Sender {
    async fn open(
        mode: TraceMode,
        destination: IpAddr,
        raw: &Arc<UdpSocket>,
    ) -> Result<Sender, Outcome> {
        let salt = (blackout_model::clock::now().as_micros() & 0xffff) as u16;
        match mode {
            TraceMode::Icmp => Ok(Sender::Icmp {
                socket: raw.clone(),
                destination,
                ident: (std::process::id() as u16) ^ salt,
                checksum: 0x4242 ^ salt | 1,
            }),
            TraceMode::Udp => {
                let any = SocketAddr::new(
                    match destination {
                        IpAddr::V4(_) => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
                        IpAddr::V6(_) => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
                    },
                    0,
                );
                let socket = UdpSocket::bind(any).await.map_err(|e| Outcome::Error {
                    message: format!("binding the traceroute UDP socket: {e}"),
                })?;
                // Learn the source address the kernel will use, for the checksum.
                let probe = UdpSocket::bind(any).await.map_err(|e| Outcome::Error {
                    message: format!("binding a UDP socket: {e}"),
                })?;
                let routed = probe.connect(SocketAddr::new(destination, UDP_PORT)).await;
                let source = match (routed, probe.local_addr()) {
                    (Ok(()), Ok(local)) if local.ip().is_ipv4() == destination.is_ipv4() => {
                        local.ip()
                    }
                    (Err(error), _) => {
                        return Err(Outcome::Unreachable {
                            reason: format!("no route to {destination}: {error}"),
                        });
                    }
                    _ => {
                        return Err(Outcome::Error {
                            message: format!("no source address toward {destination}"),
                        });
                    }
                };
                let source_port = socket.local_addr().map(|a| a.port()).unwrap_or(0);
                Ok(Sender::Udp {
                    socket,
                    source,
                    source_port,
                    destination,
                })
            }
        }
    }

    async fn send(&self, ttl: u8, id: u16) -> std::io::Result<()> {
        match self {
            Sender::Icmp {
                socket,
                destination,
                ident,
                checksum,
            } => {
                set_hop_limit(socket, *destination, ttl)?;
                let packet = match destination {
                    IpAddr::V4(_) => packet::paris_echo_request(*ident, id, *checksum, 16),
                    IpAddr::V6(_) => packet::paris_echo6_request(*ident, id, 16),
                };
                socket
                    .send_to(&packet, SocketAddr::new(*destination, 0))
                    .await
                    .map(|_| ())
            }
            Sender::Udp {
                socket,
                source,
                source_port,
                destination,
            } => {
                set_hop_limit(socket, *destination, ttl)?;
                let payload = packet::paris_udp_payload(
                    *source,
                    *destination,
                    *source_port,
                    UDP_PORT,
                    0x4242,
                    udp_payload_len(id),
                );
                socket
                    .send_to(&payload, SocketAddr::new(*destination, UDP_PORT))
                    .await
                    .map(|_| ())
            }
        }
    }

    /// If `message` answers one of our probes: its id, what kind of answer, and
    /// whether the destination itself answered.
    fn matches(
        &self,
        message: &IcmpMessage,
        destination: IpAddr,
        from: IpAddr,
    ) -> Option<(u16, &'static str, bool)> {
        match (self, message) {
            (Sender::Icmp { ident, .. }, IcmpMessage::EchoReply { ident: got, seq })
                if got == ident && from == destination =>
            {
                Some((*seq, "echo-reply", true))
            }
            (
                Sender::Icmp { ident, .. },
                IcmpMessage::TimeExceeded {
                    destination: to,
                    quoted:
                        Quoted::Echo {
                            ident: got, seq, ..
                        },
                },
            ) if got == ident && *to == destination => Some((*seq, "time-exceeded", false)),
            (
                Sender::Icmp { ident, .. },
                IcmpMessage::Unreachable {
                    destination: to,
                    quoted:
                        Quoted::Echo {
                            ident: got, seq, ..
                        },
                    ..
                },
            ) if got == ident && *to == destination => {
                Some((*seq, "unreachable", from == destination))
            }
            (
                Sender::Udp { source_port, .. },
                IcmpMessage::TimeExceeded {
                    destination: to,
                    quoted:
                        Quoted::Udp {
                            source_port: sport,
                            destination_port: UDP_PORT,
                            length,
                            ..
                        },
                },
            ) if sport == source_port && *to == destination => {
                Some((id_from_udp_length(*length)?, "time-exceeded", false))
            }
            (
                Sender::Udp { source_port, .. },
                IcmpMessage::Unreachable {
                    port,
                    destination: to,
                    quoted:
                        Quoted::Udp {
                            source_port: sport,
                            destination_port: UDP_PORT,
                            length,
                            ..
                        },
                    ..
                },
            ) if sport == source_port && *to == destination => {
                let at_destination = *port && from == destination;
                Some((
                    id_from_udp_length(*length)?,
                    if *port {
                        "port-unreachable"
                    } else {
                        "unreachable"
                    },
                    at_destination,
                ))
            }
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefix_table_longest_match() {
        let table = PrefixTable::new([
            ("203.0.113.0/24".parse().unwrap(), Asn(64500)),
            ("203.0.113.128/25".parse().unwrap(), Asn(64501)),
            ("2001:db8::/32".parse().unwrap(), Asn(64502)),
        ]);
        assert_eq!(
            table.asn_of("203.0.113.1".parse().unwrap()),
            Some(Asn(64500))
        );
        assert_eq!(
            table.asn_of("203.0.113.200".parse().unwrap()),
            Some(Asn(64501))
        );
        assert_eq!(
            table.asn_of("2001:db8::1".parse().unwrap()),
            Some(Asn(64502))
        );
        assert_eq!(table.asn_of("198.51.100.1".parse().unwrap()), None);
        assert_eq!(NoAsLookup.asn_of("198.51.100.1".parse().unwrap()), None);
    }

    #[test]
    fn probe_ids() {
        for round in 0..4 {
            for ttl in 1..=63u8 {
                let id = probe_id(round, ttl);
                assert_ne!(id, 0);
                assert_eq!(ttl_of(id), ttl);
                assert_eq!(round_of(id), round);
                let length = (8 + udp_payload_len(id)) as u16;
                assert_eq!(id_from_udp_length(length), Some(id));
            }
        }
        assert_eq!(id_from_udp_length(9), None);
    }
}
