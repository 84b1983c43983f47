//! DNS, asked of one authoritative server directly: the zone's SOA (serial), NS and
//! apex A records, and where asked its apex AAAA records too, with the AA flag.
//!
//! [`build_query`] and [`judge`] are the sans-IO part: a query's bytes, and the
//! verdict on an answer's bytes ([`DnsVerdict`]: authoritative, SERVFAIL, REFUSED,
//! NXDOMAIN, lame, mismatched, malformed). The transport sends over UDP on a
//! connected socket (so an ICMP port unreachable shows as "refused"), waits out
//! stray or spoofed datagrams until the deadline, and falls back to TCP when the
//! answer is truncated, with every read bounded by size and time.

use crate::result::{DnsDetail, DnsVerdict, Outcome};
use blackout_model::text::{MAX_OUTSIDE_CHARS, inert};
use hickory_proto::op::{Message, Query, ResponseCode};
use hickory_proto::rr::{Name, RData, RecordType};
use std::net::{IpAddr, SocketAddr};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};

/// The largest UDP answer we accept (EDNS is not offered, so 512 would do; be lenient).
const MAX_UDP: usize = 4096;

/// The bytes of a query for `name`/`qtype`, with RD set as asked.
pub fn build_query(id: u16, name: &Name, qtype: RecordType, recursion: bool) -> Option<Vec<u8>> {
    let mut message = Message::query();
    message.metadata.id = id;
    message.metadata.recursion_desired = recursion;
    message.add_query(Query::query(name.clone(), qtype));
    message.to_vec().ok()
}

/// An answer, judged.
#[derive(Clone, Debug)]
pub struct Judged {
    /// The verdict.
    pub verdict: DnsVerdict,
    /// The response code, if the bytes were a message.
    pub rcode: Option<ResponseCode>,
    /// The AA flag.
    pub aa: bool,
    /// The TC flag.
    pub truncated: bool,
    /// The message, if the bytes were one.
    pub message: Option<Message>,
    /// A sentence for people.
    pub reason: String,
}

/// Judges an answer's bytes as an answer to query `id` for `name`/`qtype` asked of
/// an authoritative server.
pub fn judge(id: u16, name: &Name, qtype: RecordType, bytes: &[u8]) -> Judged {
    let message = match Message::from_vec(bytes) {
        Ok(message) => message,
        Err(error) => {
            return Judged {
                verdict: DnsVerdict::Malformed,
                rcode: None,
                aa: false,
                truncated: false,
                message: None,
                reason: format!("a malformed answer ({} bytes): {error}", bytes.len()),
            };
        }
    };
    let meta = message.metadata;
    let mut judged = Judged {
        verdict: DnsVerdict::Authoritative,
        rcode: Some(meta.response_code),
        aa: meta.authoritative,
        truncated: meta.truncation,
        message: None,
        reason: String::new(),
    };
    let same_question = message.queries.len() == 1
        && message
            .queries
            .first()
            .is_some_and(|q| q.name() == name && q.query_type() == qtype);
    let (verdict, reason) = if meta.id != id {
        (
            DnsVerdict::Mismatch,
            format!("an answer with ID {} to query ID {id}", meta.id),
        )
    } else if !same_question && !meta.truncation {
        (
            DnsVerdict::Mismatch,
            format!("an answer to another question than {name} {qtype}"),
        )
    } else {
        match meta.response_code {
            ResponseCode::ServFail => (DnsVerdict::Servfail, "SERVFAIL".to_string()),
            ResponseCode::Refused => (DnsVerdict::Refused, "REFUSED".to_string()),
            ResponseCode::NXDomain => (
                DnsVerdict::Nxdomain,
                format!("NXDOMAIN for {name}: the server does not know the zone"),
            ),
            ResponseCode::NoError if meta.truncation => {
                (DnsVerdict::Truncated, "a truncated answer".to_string())
            }
            ResponseCode::NoError if !meta.authoritative => (
                DnsVerdict::Lame,
                format!(
                    "a lame answer: no AA flag for {name} {qtype} (a referral or a cached answer)"
                ),
            ),
            ResponseCode::NoError => (DnsVerdict::Authoritative, String::new()),
            other => (DnsVerdict::OtherRcode, format!("response code {other}")),
        }
    };
    judged.verdict = verdict;
    judged.reason = reason;
    judged.message = Some(message);
    judged
}

/// Why a query got no judged answer.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Silence {
    Timeout,
    Refused,
    Unreachable(String),
    Error(String),
}

impl std::fmt::Display for Silence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Silence::Timeout => f.write_str("no answer in time"),
            Silence::Refused => f.write_str("connection refused"),
            Silence::Unreachable(reason) => write!(f, "unreachable: {reason}"),
            Silence::Error(message) => f.write_str(message),
        }
    }
}

/// Sends one query over UDP and waits for its answer until `deadline`, ignoring
/// answers with another ID (but remembering them: if nothing else comes, the
/// server answered wrongly rather than not at all). With no answer by half the
/// time, the query is sent once more, as stub resolvers do: a check asks three or
/// four questions, so with one datagram each, 2 % loss each way failed one
/// result in seven, and a lost query is loss, not a failing server.
async fn ask_udp(
    server: SocketAddr,
    name: &Name,
    qtype: RecordType,
    recursion: bool,
    deadline: Instant,
) -> Result<Judged, Silence> {
    let bind: SocketAddr = if server.is_ipv4() {
        ([0, 0, 0, 0], 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(bind)
        .await
        .map_err(|e| Silence::Error(format!("binding a UDP socket: {e}")))?;
    socket.connect(server).await.map_err(|e| io_silence(&e))?;
    let id = query_id(name, qtype);
    let query = build_query(id, name, qtype, recursion)
        .ok_or_else(|| Silence::Error(format!("cannot encode a query for {name}")))?;
    socket.send(&query).await.map_err(|e| io_silence(&e))?;
    let mut resend_at =
        Some(Instant::now() + deadline.saturating_duration_since(Instant::now()) / 2);
    let mut buf = vec![0u8; MAX_UDP];
    let mut wrong: Option<Judged> = None;
    loop {
        let until = resend_at.map_or(deadline, |at| at.min(deadline));
        let left = until.saturating_duration_since(Instant::now());
        let received = tokio::time::timeout(left, socket.recv(&mut buf)).await;
        let len = match received {
            Err(_) if resend_at.take().is_some() => {
                // The same query, same ID: an answer to either copy will do.
                socket.send(&query).await.map_err(|e| io_silence(&e))?;
                continue;
            }
            Err(_) => return wrong.ok_or(Silence::Timeout),
            Ok(Err(error)) => return Err(io_silence(&error)),
            Ok(Ok(len)) => len,
        };
        let judged = judge(id, name, qtype, buf.get(..len).unwrap_or(&[]));
        if judged.verdict == DnsVerdict::Mismatch {
            wrong = Some(judged);
            continue;
        }
        return Ok(judged);
    }
}

/// The same query over TCP (after a truncated UDP answer), length-prefixed, read
/// within the deadline and at most 64 KiB.
async fn ask_tcp(
    server: SocketAddr,
    name: &Name,
    qtype: RecordType,
    recursion: bool,
    deadline: Instant,
) -> Result<Judged, Silence> {
    let left = deadline.saturating_duration_since(Instant::now());
    let work = async {
        let mut stream = TcpStream::connect(server)
            .await
            .map_err(|e| io_silence(&e))?;
        let id = query_id(name, qtype);
        let query = build_query(id, name, qtype, recursion)
            .ok_or_else(|| Silence::Error(format!("cannot encode a query for {name}")))?;
        let mut framed = (query.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&query);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| io_silence(&e))?;
        let mut length = [0u8; 2];
        stream
            .read_exact(&mut length)
            .await
            .map_err(|e| Silence::Error(format!("reading the TCP answer's length: {e}")))?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(length))];
        stream
            .read_exact(&mut answer)
            .await
            .map_err(|e| Silence::Error(format!("reading the TCP answer: {e}")))?;
        Ok(judge(id, name, qtype, &answer))
    };
    tokio::time::timeout(left, work)
        .await
        .unwrap_or(Err(Silence::Timeout))
}

/// A query ID that varies per query without a random source.
fn query_id(name: &Name, qtype: RecordType) -> u16 {
    let nanos = blackout_model::clock::now().as_micros() as u32;
    let salt = name.to_ascii().len() as u32 ^ u32::from(u16::from(qtype));
    ((nanos ^ (nanos >> 16) ^ salt.wrapping_mul(2_654_435_761)) & 0xffff) as u16
}

fn io_silence(error: &std::io::Error) -> Silence {
    match error.kind() {
        std::io::ErrorKind::ConnectionRefused => Silence::Refused,
        std::io::ErrorKind::NetworkUnreachable | std::io::ErrorKind::HostUnreachable => {
            Silence::Unreachable(error.to_string())
        }
        _ => match error.raw_os_error() {
            Some(101 | 113) => Silence::Unreachable(error.to_string()),
            _ => Silence::Error(error.to_string()),
        },
    }
}

/// One query: UDP, then TCP if truncated.
async fn ask(
    server: SocketAddr,
    name: &Name,
    qtype: RecordType,
    recursion: bool,
    timeout: Duration,
    detail: &mut DnsDetail,
) -> Result<Judged, Silence> {
    let judged = ask_udp(server, name, qtype, recursion, Instant::now() + timeout).await?;
    if judged.truncated {
        detail.tcp_fallback = true;
        return match ask_tcp(server, name, qtype, recursion, Instant::now() + timeout).await {
            Ok(judged) => Ok(judged),
            Err(_) => Ok(Judged {
                verdict: DnsVerdict::Truncated,
                reason: "a truncated answer over UDP, and no answer over TCP".to_string(),
                ..judged
            }),
        };
    }
    Ok(judged)
}

/// Asks `server` (named `server_name`) for `zone`'s SOA, NS and apex A records,
/// and with `aaaa` its apex AAAA records. `timeout` bounds each query.
pub async fn probe(
    server: SocketAddr,
    server_name: &str,
    zone: &str,
    aaaa: bool,
    timeout: Duration,
) -> (Outcome, Option<Duration>, DnsDetail) {
    let mut detail = DnsDetail {
        zone: zone.to_string(),
        server: server_name.to_string(),
        ..DnsDetail::default()
    };
    let name = match Name::from_ascii(zone).map(|mut n| {
        n.set_fqdn(true);
        n
    }) {
        Ok(name) => name,
        Err(error) => {
            return (
                Outcome::Error {
                    message: format!("`{zone}` is not a DNS name: {error}"),
                },
                None,
                detail,
            );
        }
    };
    let started = Instant::now();
    let mut rtt = None;
    let asked: &[RecordType] = if aaaa {
        &[
            RecordType::SOA,
            RecordType::NS,
            RecordType::A,
            RecordType::AAAA,
        ]
    } else {
        &[RecordType::SOA, RecordType::NS, RecordType::A]
    };
    for &qtype in asked {
        detail.query = Some(qtype.to_string());
        let judged = match ask(server, &name, qtype, false, timeout, &mut detail).await {
            Ok(judged) => judged,
            Err(silence) => {
                let outcome = match silence {
                    Silence::Timeout => Outcome::Timeout,
                    Silence::Refused => Outcome::Refused,
                    Silence::Unreachable(reason) => Outcome::Unreachable { reason },
                    Silence::Error(message) => Outcome::Error { message },
                };
                return (outcome, rtt, detail);
            }
        };
        rtt.get_or_insert_with(|| started.elapsed());
        if let Some(code) = judged.rcode {
            detail.rcode = Some(rcode_name(code));
        }
        detail.aa = judged.rcode.map(|_| judged.aa);
        detail.verdict = Some(judged.verdict);
        if judged.verdict != DnsVerdict::Authoritative {
            return (
                Outcome::Failed {
                    reason: judged.reason,
                },
                rtt,
                detail,
            );
        }
        let answers = judged.message.map(|m| m.answers).unwrap_or_default();
        for record in answers {
            if record.name != name {
                continue;
            }
            match record.data {
                RData::SOA(soa) if qtype == RecordType::SOA => detail.soa_serial = Some(soa.serial),
                RData::NS(ns) if qtype == RecordType::NS => {
                    detail.ns.push(inert(&ns.0.to_ascii(), MAX_OUTSIDE_CHARS))
                }
                RData::A(a) if qtype == RecordType::A => detail.a.push(IpAddr::V4(a.0)),
                RData::AAAA(aaaa) if qtype == RecordType::AAAA => {
                    detail.aaaa.push(IpAddr::V6(aaaa.0))
                }
                _ => {}
            }
        }
        if qtype == RecordType::SOA && detail.soa_serial.is_none() {
            detail.verdict = Some(DnsVerdict::Lame);
            return (
                Outcome::Failed {
                    reason: format!(
                        "an authoritative answer without the SOA of {name}: the server does not serve the zone's apex"
                    ),
                },
                rtt,
                detail,
            );
        }
    }
    detail.query = None;
    (Outcome::Ok, rtt, detail)
}

fn rcode_name(code: ResponseCode) -> String {
    match code {
        ResponseCode::NoError => "NOERROR".to_string(),
        ResponseCode::FormErr => "FORMERR".to_string(),
        ResponseCode::ServFail => "SERVFAIL".to_string(),
        ResponseCode::NXDomain => "NXDOMAIN".to_string(),
        ResponseCode::NotImp => "NOTIMP".to_string(),
        ResponseCode::Refused => "REFUSED".to_string(),
        ResponseCode::NotAuth => "NOTAUTH".to_string(),
        other => u16::from(other).to_string(),
    }
}

/// The name servers of /etc/resolv.conf, for MX look-ups of mail domains (the
/// system resolver cannot ask for MX records).
pub fn system_nameservers() -> Vec<IpAddr> {
    std::fs::read_to_string("/etc/resolv.conf")
        .map(|text| {
            text.lines()
                .filter_map(|line| line.trim().strip_prefix("nameserver"))
                .filter_map(|rest| rest.trim().parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The MX hosts of `domain`, best first, asked of the system's recursive resolver.
pub async fn lookup_mx(domain: &str, timeout: Duration) -> Result<Vec<String>, String> {
    let mut name = Name::from_ascii(domain).map_err(|e| format!("`{domain}`: {e}"))?;
    name.set_fqdn(true);
    let servers = system_nameservers();
    if servers.is_empty() {
        return Err("no nameserver in /etc/resolv.conf to look up MX records".to_string());
    }
    let mut last = String::new();
    for server in servers {
        let mut scratch = DnsDetail::default();
        match ask(
            SocketAddr::new(server, 53),
            &name,
            RecordType::MX,
            true,
            timeout,
            &mut scratch,
        )
        .await
        {
            Ok(judged) if judged.rcode == Some(ResponseCode::NoError) => {
                let mut hosts: Vec<(u16, String)> = judged
                    .message
                    .map(|m| m.answers)
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|record| match record.data {
                        RData::MX(mx) => Some((
                            mx.preference,
                            inert(&mx.exchange.to_ascii(), MAX_OUTSIDE_CHARS),
                        )),
                        _ => None,
                    })
                    .collect();
                hosts.sort();
                return if hosts.is_empty() {
                    Err(format!("{domain} has no MX records"))
                } else {
                    Ok(hosts
                        .into_iter()
                        .map(|(_, host)| host.trim_end_matches('.').to_string())
                        .collect())
                };
            }
            Ok(judged) => last = format!("{server}: {}", judged.reason),
            Err(silence) => last = format!("{server}: {silence}"),
        }
    }
    Err(format!("MX look-up of {domain} failed ({last})"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::MessageType;
    use hickory_proto::rr::Record;
    use hickory_proto::rr::rdata::SOA;

    fn zone() -> Name {
        Name::from_ascii("lab.example.").unwrap()
    }

    fn answer(id: u16, rcode: ResponseCode, aa: bool, with_soa: bool) -> Vec<u8> {
        let mut message = Message::query();
        message.metadata.id = id;
        message.metadata.message_type = MessageType::Response;
        message.metadata.authoritative = aa;
        message.metadata.response_code = rcode;
        message.add_query(Query::query(zone(), RecordType::SOA));
        if with_soa {
            let soa = SOA::new(zone(), zone(), 2024010101, 3600, 600, 86400, 300);
            message.add_answer(Record::from_rdata(zone(), 300, RData::SOA(soa)));
        }
        message.to_vec().unwrap()
    }

    #[test]
    fn verdicts() {
        let z = zone();
        let ok = judge(
            7,
            &z,
            RecordType::SOA,
            &answer(7, ResponseCode::NoError, true, true),
        );
        assert_eq!(ok.verdict, DnsVerdict::Authoritative);
        assert!(ok.aa);
        for (rcode, verdict) in [
            (ResponseCode::ServFail, DnsVerdict::Servfail),
            (ResponseCode::Refused, DnsVerdict::Refused),
            (ResponseCode::NXDomain, DnsVerdict::Nxdomain),
            (ResponseCode::NotImp, DnsVerdict::OtherRcode),
        ] {
            assert_eq!(
                judge(7, &z, RecordType::SOA, &answer(7, rcode, false, false)).verdict,
                verdict
            );
        }
        let lame = judge(
            7,
            &z,
            RecordType::SOA,
            &answer(7, ResponseCode::NoError, false, true),
        );
        assert_eq!(lame.verdict, DnsVerdict::Lame);
        let other_id = judge(
            8,
            &z,
            RecordType::SOA,
            &answer(7, ResponseCode::NoError, true, true),
        );
        assert_eq!(other_id.verdict, DnsVerdict::Mismatch);
        let other_question = judge(
            7,
            &z,
            RecordType::NS,
            &answer(7, ResponseCode::NoError, true, true),
        );
        assert_eq!(other_question.verdict, DnsVerdict::Mismatch);
        let full = answer(7, ResponseCode::NoError, true, true);
        for cut in [0, 1, 5, 12, 20, full.len() - 1] {
            let judged = judge(7, &z, RecordType::SOA, &full[..cut]);
            assert_eq!(judged.verdict, DnsVerdict::Malformed, "cut at {cut}");
        }
    }

    #[test]
    fn query_round_trip() {
        let bytes = build_query(42, &zone(), RecordType::NS, false).unwrap();
        let message = Message::from_vec(&bytes).unwrap();
        assert_eq!(message.metadata.id, 42);
        assert!(!message.metadata.recursion_desired);
        assert_eq!(message.queries.len(), 1);
    }
}
