//! What a probe is: its kind and the role of its target, in one spelling for the
//! probe engine, the detector, the store and the API.

use crate::SignalKind;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The kind of probe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeKind {
    /// ICMP echo.
    Icmp,
    /// TCP connect.
    Tcp,
    /// HTTP or HTTPS GET.
    Http,
    /// DNS queries to one authoritative server.
    Dns,
    /// SMTP banner and EHLO.
    Smtp,
    /// Paris traceroute.
    Trace,
}

impl ProbeKind {
    /// Every kind.
    pub const ALL: [ProbeKind; 6] = [
        ProbeKind::Icmp,
        ProbeKind::Tcp,
        ProbeKind::Http,
        ProbeKind::Dns,
        ProbeKind::Smtp,
        ProbeKind::Trace,
    ];

    /// The name used in output and in the contract's signal names (`probe.<name>`).
    pub fn as_str(self) -> &'static str {
        match self {
            ProbeKind::Icmp => "icmp",
            ProbeKind::Tcp => "tcp",
            ProbeKind::Http => "http",
            ProbeKind::Dns => "dns",
            ProbeKind::Smtp => "smtp",
            ProbeKind::Trace => "trace",
        }
    }

    /// The evidence signal of this kind of probe (`probe.icmp`, ...).
    pub fn signal(self) -> SignalKind {
        match self {
            ProbeKind::Icmp => SignalKind::ProbeIcmp,
            ProbeKind::Tcp => SignalKind::ProbeTcp,
            ProbeKind::Http => SignalKind::ProbeHttp,
            ProbeKind::Dns => SignalKind::ProbeDns,
            ProbeKind::Smtp => SignalKind::ProbeSmtp,
            ProbeKind::Trace => SignalKind::ProbeTrace,
        }
    }

    /// The kind of probe an evidence signal comes from, if it is a probe's.
    pub fn of_signal(signal: SignalKind) -> Option<ProbeKind> {
        ProbeKind::ALL
            .into_iter()
            .find(|kind| kind.signal() == signal)
    }
}

impl fmt::Display for ProbeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProbeKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        ProbeKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a kind of probe"))
    }
}

/// What a probe target is to the watched network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProbeRole {
    /// A host of the watched network.
    Host,
    /// A target far from it: tells whether the vantage point is online.
    Control,
    /// An authoritative server of a watched zone.
    Zone,
    /// A mail server.
    Mail,
    /// A target given on the command line: says nothing about a watched network.
    Cli,
}
