//! The typed results every probe produces, as later parts (the detector, the store,
//! `blackout probe --format json`) consume them.
//!
//! A [`ProbeResult`] says when, what was probed, how it went ([`Outcome`]), how long
//! it took and how many attempts it needed; [`Detail`] carries what each kind of
//! probe saw (an HTTP page's fingerprint, a DNS server's SOA serial, an SMTP banner,
//! a traceroute's hops). A host known by name whose name did not resolve is probed at
//! the last address the name resolved to, and its result says so
//! ([`LastKnownAddress`]).

use blackout_model::{Asn, Timestamp};
use blackout_model::{ProbeKind, ProbeRole};
use serde::{Deserialize, Serialize};
use std::net::IpAddr;

/// How a probe went.
///
/// The variants keep apart what the detector must tell apart: silence
/// ([`Outcome::Timeout`]), an active refusal ([`Outcome::Refused`]), no path
/// ([`Outcome::Unreachable`]), a peer that answered wrongly ([`Outcome::Failed`]) and
/// a problem on our side that says nothing about the target ([`Outcome::Error`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum Outcome {
    /// The target answered as a working service does.
    Ok,
    /// No answer within the timeout, on every attempt.
    Timeout,
    /// The connection was actively refused (TCP reset, ICMP port unreachable).
    Refused,
    /// There is no path: ICMP destination unreachable, or no route in the kernel.
    Unreachable {
        /// What said so.
        reason: String,
    },
    /// The peer answered, but not as a working service does (DNS SERVFAIL, REFUSED or
    /// a lame answer, an SMTP 554 banner, an HTTP 5xx, a malformed or oversized reply).
    Failed {
        /// What was wrong.
        reason: String,
    },
    /// The probe could not be made (no permission, a name that does not resolve):
    /// this says nothing about the target itself.
    Error {
        /// What went wrong, and what to do about it where we know.
        message: String,
    },
}

impl Outcome {
    /// Did the target answer as a working service does?
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok)
    }

    /// A short word for tables: `ok`, `timeout`, `refused`, `unreachable`, `failed`, `error`.
    pub fn word(&self) -> &'static str {
        match self {
            Outcome::Ok => "ok",
            Outcome::Timeout => "timeout",
            Outcome::Refused => "refused",
            Outcome::Unreachable { .. } => "unreachable",
            Outcome::Failed { .. } => "failed",
            Outcome::Error { .. } => "error",
        }
    }

    /// The reason or message, if the outcome carries one.
    pub fn reason(&self) -> Option<&str> {
        match self {
            Outcome::Unreachable { reason } | Outcome::Failed { reason } => Some(reason),
            Outcome::Error { message } => Some(message),
            _ => None,
        }
    }
}

/// One probe of one target.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct ProbeResult {
    /// When the probe started.
    pub at: Timestamp,
    /// The target as people name it (a host name, or an address literal).
    pub target: String,
    /// The address probed, when there was one.
    pub address: Option<IpAddr>,
    /// The kind of probe.
    pub kind: ProbeKind,
    /// The check, as written in profiles and on the command line (`tcp:80`,
    /// `dns:kp@ns1.kptc.kp`).
    pub check: String,
    /// What the target belongs to in the profile (`host`, `control`, `zone`, `mail`,
    /// `cli`).
    pub role: ProbeRole,
    /// How it went.
    #[serde(flatten)]
    pub outcome: Outcome,
    /// Round-trip time of the successful attempt (connect time for TCP-based probes),
    /// in milliseconds.
    pub rtt_ms: Option<f64>,
    /// Attempts made (1 + retries used).
    pub attempts: u32,
    /// Attempts that got no answer before the last one: loss, not an outage, when the
    /// outcome is still [`Outcome::Ok`].
    pub lost: u32,
    /// What the kind of probe saw.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<Detail>,
    /// Set when the target's name did not resolve for this probe and `address` is the
    /// last one it resolved to.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_known_address: Option<LastKnownAddress>,
}

/// Why a result's address was not resolved for it: the name failed to resolve (its
/// name servers may be as dark as the host), so the last address it resolved to was
/// probed instead.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct LastKnownAddress {
    /// When the name last resolved to the address.
    pub resolved_at: Timestamp,
    /// How long before this probe that was, in seconds.
    pub age_secs: f64,
    /// Why the name did not resolve this time.
    pub resolve_error: String,
}

/// Per-kind details.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Detail {
    /// HTTP(S).
    Http(HttpDetail),
    /// DNS.
    Dns(DnsDetail),
    /// SMTP.
    Smtp(SmtpDetail),
    /// Traceroute.
    Trace(TraceDetail),
}

/// What an HTTP(S) probe saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct HttpDetail {
    /// The HTTP status code, once headers arrived.
    pub status: Option<u16>,
    /// Milliseconds to the TCP connection.
    pub connect_ms: Option<f64>,
    /// Milliseconds to the end of the TLS handshake (HTTPS only).
    pub tls_ms: Option<f64>,
    /// Milliseconds to the response headers (time to first byte).
    pub first_byte_ms: Option<f64>,
    /// Milliseconds to the end of the body (or of what was read of it).
    pub total_ms: Option<f64>,
    /// The page's `<title>`, trimmed.
    pub title: Option<String>,
    /// SHA-256 of the body read, in hex: a replaced or defaced page shows as a new hash.
    pub sha256: Option<String>,
    /// Bytes of body read.
    pub body_bytes: u64,
    /// The body was longer than the bound and was cut.
    pub truncated: bool,
    /// The `Server` header.
    pub server: Option<String>,
    /// The `Location` header of a redirect.
    pub location: Option<String>,
}

/// How a DNS server's answer was judged.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DnsVerdict {
    /// NOERROR with the AA flag, for the question asked.
    Authoritative,
    /// SERVFAIL.
    Servfail,
    /// REFUSED.
    Refused,
    /// NXDOMAIN for the zone itself: the server does not know the zone.
    Nxdomain,
    /// An answer without the AA flag (a referral or a recursive answer): a lame server.
    Lame,
    /// An answer to another question, or with another ID.
    Mismatch,
    /// Bytes that are not a DNS message.
    Malformed,
    /// Truncated (TC) over UDP and the TCP retry failed too.
    Truncated,
    /// Another response code.
    OtherRcode,
}

/// What a DNS probe of one authoritative server saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct DnsDetail {
    /// The zone asked about.
    pub zone: String,
    /// The server's name.
    pub server: String,
    /// The response code of the last answer (`NOERROR`, `SERVFAIL`, ...).
    pub rcode: Option<String>,
    /// The AA flag of the last answer.
    pub aa: Option<bool>,
    /// The judgement of the first answer that was not authoritative, or of the last.
    pub verdict: Option<DnsVerdict>,
    /// The query that the verdict is about (`SOA`, `NS`, `A`).
    pub query: Option<String>,
    /// The SOA serial.
    pub soa_serial: Option<u32>,
    /// The NS records.
    pub ns: Vec<String>,
    /// The A records of the zone's apex.
    pub a: Vec<IpAddr>,
    /// The AAAA records of the zone's apex, where the check asks for them (a
    /// server reached over IPv6, or a profile with IPv6 prefixes).
    #[serde(default)]
    pub aaaa: Vec<IpAddr>,
    /// The answer was truncated over UDP and fetched again over TCP.
    pub tcp_fallback: bool,
}

/// What an SMTP probe saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct SmtpDetail {
    /// The greeting's reply code (220 when all is well).
    pub banner_code: Option<u16>,
    /// The greeting's text (all lines joined by a newline, bounded).
    pub banner: Option<String>,
    /// The reply code to EHLO.
    pub ehlo_code: Option<u16>,
    /// The EHLO keywords (extensions) announced.
    pub extensions: Vec<String>,
    /// Milliseconds to the greeting.
    pub banner_ms: Option<f64>,
}

/// One hop of a traceroute.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Hop {
    /// The TTL of the probe.
    pub ttl: u8,
    /// Who answered, if anyone did.
    pub address: Option<IpAddr>,
    /// The round-trip time, in milliseconds.
    pub rtt_ms: Option<f64>,
    /// The AS the answering address belongs to, where known.
    pub asn: Option<Asn>,
    /// What the answer was: `time-exceeded`, `echo-reply`, `port-unreachable`,
    /// `unreachable`, or none.
    pub reply: Option<String>,
}

/// What a traceroute saw.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct TraceDetail {
    /// `icmp` or `udp`.
    pub mode: String,
    /// Every hop up to the destination or the last TTL tried.
    pub hops: Vec<Hop>,
    /// Did the destination answer?
    pub reached: bool,
    /// The last hop that answered: where the path dies when the destination is dark.
    pub last_responding: Option<Hop>,
}
