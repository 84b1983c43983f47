//! Outage events, in the shape of `../shared/CONTRACT.md`.

use crate::{Asn, Timestamp};
use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// What an event is about.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    /// A whole country, by ISO 3166 code (`country:KP`).
    Country(String),
    /// An origin AS (`as:131279`).
    As(Asn),
    /// A watched prefix (`prefix:175.45.176.0/24`).
    Prefix(IpNet),
    /// An upstream AS of the watched network (`upstream:4837`).
    Upstream(Asn),
    /// A host, by name or address (`host:kcna.kp`).
    Host(String),
    /// A service: a kind and a name (`service:dns:kp`).
    Service {
        /// `dns`, `http`, `smtp`, ...
        kind: String,
        /// The zone, host or site.
        name: String,
    },
    /// One of blackout's own feeds (`feed:bmp:198.51.100.1`).
    Feed(String),
    /// The vantage point blackout watches from (`vantage:local`).
    Vantage(String),
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Entity::Country(code) => write!(f, "country:{code}"),
            Entity::As(asn) => write!(f, "as:{}", asn.0),
            Entity::Prefix(prefix) => write!(f, "prefix:{prefix}"),
            Entity::Upstream(asn) => write!(f, "upstream:{}", asn.0),
            Entity::Host(name) => write!(f, "host:{name}"),
            Entity::Service { kind, name } => write!(f, "service:{kind}:{name}"),
            Entity::Feed(name) => write!(f, "feed:{name}"),
            Entity::Vantage(name) => write!(f, "vantage:{name}"),
        }
    }
}

impl FromStr for Entity {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || format!("`{s}` is not an entity (kind:name, e.g. prefix:192.0.2.0/24)");
        let (kind, rest) = s.split_once(':').ok_or_else(bad)?;
        if rest.is_empty() {
            return Err(bad());
        }
        Ok(match kind {
            "country" => Entity::Country(rest.to_string()),
            "as" => Entity::As(rest.parse().map_err(|_| bad())?),
            "prefix" => Entity::Prefix(rest.parse().map_err(|_| bad())?),
            "upstream" => Entity::Upstream(rest.parse().map_err(|_| bad())?),
            "host" => Entity::Host(rest.to_string()),
            "service" => {
                let (kind, name) = rest.split_once(':').ok_or_else(bad)?;
                Entity::Service {
                    kind: kind.to_string(),
                    name: name.to_string(),
                }
            }
            "feed" => Entity::Feed(rest.to_string()),
            "vantage" => Entity::Vantage(rest.to_string()),
            _ => return Err(bad()),
        })
    }
}

impl Serialize for Entity {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Entity {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Why an entity is in trouble: the list of `CONTRACT.md`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// Every upstream lost the routes together, or the data plane dies just past the border.
    Internal,
    /// One upstream's paths are gone while another still carries the routes.
    UpstreamCut,
    /// Routes stay while loss and latency rise; services fail.
    Ddos,
    /// Routes and ICMP fine; DNS, HTTP or SMTP failing.
    Service,
    /// Some prefixes or hosts dark, the rest fine.
    Partial,
    /// Repeated withdraw and re-announce.
    Flap,
    /// Routes originated but RPKI-invalid.
    RpkiInvalid,
    /// Routes fine, probes die past the border.
    DataPlane,
    /// A new upstream carries the routes (a change, not an outage).
    NewUpstream,
    /// Another origin announces a watched prefix or a more specific.
    Hijack,
    /// One of blackout's own feeds is stale or down.
    Feed,
    /// The vantage point itself is offline.
    Vantage,
    /// An outage the evidence does not explain.
    Unknown,
}

impl Cause {
    /// Every cause, in the contract's order.
    pub const ALL: [Cause; 13] = [
        Cause::Internal,
        Cause::UpstreamCut,
        Cause::Ddos,
        Cause::Service,
        Cause::Partial,
        Cause::Flap,
        Cause::RpkiInvalid,
        Cause::DataPlane,
        Cause::NewUpstream,
        Cause::Hijack,
        Cause::Feed,
        Cause::Vantage,
        Cause::Unknown,
    ];

    /// The contract's name for the cause.
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Internal => "internal",
            Cause::UpstreamCut => "upstream-cut",
            Cause::Ddos => "ddos",
            Cause::Service => "service",
            Cause::Partial => "partial",
            Cause::Flap => "flap",
            Cause::RpkiInvalid => "rpki-invalid",
            Cause::DataPlane => "data-plane",
            Cause::NewUpstream => "new-upstream",
            Cause::Hijack => "hijack",
            Cause::Feed => "feed",
            Cause::Vantage => "vantage",
            Cause::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Cause {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Cause::ALL
            .into_iter()
            .find(|cause| cause.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a cause"))
    }
}

/// How bad it is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Degraded, partial, or a change worth knowing.
    Warning,
    /// Dark.
    Critical,
}

/// Which kind of signal a piece of evidence comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum SignalKind {
    /// Share of full-feed peers that see a prefix (`bgp.visibility`).
    BgpVisibility,
    /// Which upstreams carry the routes (`bgp.upstream`).
    BgpUpstream,
    /// Which AS originates the routes (`bgp.origin`).
    BgpOrigin,
    /// RPKI validity of the routes (`bgp.rpki`).
    BgpRpki,
    /// ICMP echo (`probe.icmp`).
    ProbeIcmp,
    /// TCP connect (`probe.tcp`).
    ProbeTcp,
    /// HTTP(S) (`probe.http`).
    ProbeHttp,
    /// Authoritative DNS (`probe.dns`).
    ProbeDns,
    /// SMTP banner and EHLO (`probe.smtp`).
    ProbeSmtp,
    /// Traceroute (`probe.trace`).
    ProbeTrace,
    /// Health of one of blackout's feeds (`feed`).
    Feed,
    /// Health of the vantage point (`vantage`).
    Vantage,
}

impl SignalKind {
    /// Every signal, in the contract's order.
    pub const ALL: [SignalKind; 12] = [
        SignalKind::BgpVisibility,
        SignalKind::BgpUpstream,
        SignalKind::BgpOrigin,
        SignalKind::BgpRpki,
        SignalKind::ProbeIcmp,
        SignalKind::ProbeTcp,
        SignalKind::ProbeHttp,
        SignalKind::ProbeDns,
        SignalKind::ProbeSmtp,
        SignalKind::ProbeTrace,
        SignalKind::Feed,
        SignalKind::Vantage,
    ];

    /// The contract's name for the signal.
    pub fn as_str(self) -> &'static str {
        match self {
            SignalKind::BgpVisibility => "bgp.visibility",
            SignalKind::BgpUpstream => "bgp.upstream",
            SignalKind::BgpOrigin => "bgp.origin",
            SignalKind::BgpRpki => "bgp.rpki",
            SignalKind::ProbeIcmp => "probe.icmp",
            SignalKind::ProbeTcp => "probe.tcp",
            SignalKind::ProbeHttp => "probe.http",
            SignalKind::ProbeDns => "probe.dns",
            SignalKind::ProbeSmtp => "probe.smtp",
            SignalKind::ProbeTrace => "probe.trace",
            SignalKind::Feed => "feed",
            SignalKind::Vantage => "vantage",
        }
    }

    /// Is it what an active probe saw (as against BGP, a feed or the vantage point)?
    pub fn is_probe(self) -> bool {
        matches!(
            self,
            SignalKind::ProbeIcmp
                | SignalKind::ProbeTcp
                | SignalKind::ProbeHttp
                | SignalKind::ProbeDns
                | SignalKind::ProbeSmtp
                | SignalKind::ProbeTrace
        )
    }
}

impl fmt::Display for SignalKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for SignalKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        SignalKind::ALL
            .into_iter()
            .find(|signal| signal.as_str() == s)
            .ok_or_else(|| format!("`{s}` is not a signal"))
    }
}

impl Serialize for SignalKind {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for SignalKind {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// The state of one entity.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "lowercase")]
pub enum EntityState {
    /// Working.
    Up,
    /// Working, but worse than usual (some prefixes, loss, latency).
    Degraded,
    /// Dark.
    Down,
    /// No verdict (no data yet, or the feeds or the vantage point are down).
    #[default]
    Unknown,
}

impl EntityState {
    /// Every state, in the order of the metrics' state set.
    pub const ALL: [EntityState; 4] = [
        EntityState::Up,
        EntityState::Degraded,
        EntityState::Down,
        EntityState::Unknown,
    ];

    /// The lowercase name used in JSON and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            EntityState::Up => "up",
            EntityState::Degraded => "degraded",
            EntityState::Down => "down",
            EntityState::Unknown => "unknown",
        }
    }
}

/// One observation behind an event.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// When it was seen.
    pub at: Timestamp,
    /// Which kind of signal.
    pub signal: SignalKind,
    /// What was seen, for a person.
    pub text: String,
    /// The measured value, where there is one (a share, a loss rate, a count).
    pub value: Option<f64>,
}

/// What an event touches.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Scope {
    /// Prefixes involved.
    pub prefixes: Vec<IpNet>,
    /// Upstream ASes involved.
    pub upstreams: Vec<Asn>,
    /// Hosts involved.
    pub hosts: Vec<String>,
    /// Services involved.
    pub services: Vec<String>,
    /// The address families that fail, for a network's outage (`["ipv6"]` when
    /// IPv6 fails while IPv4 works); left out when the event does not tell.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<Family>,
}

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Family {
    /// IPv4.
    Ipv4,
    /// IPv6.
    Ipv6,
}

impl Family {
    /// Both families, IPv4 first (the order of per-family arrays).
    pub const ALL: [Family; 2] = [Family::Ipv4, Family::Ipv6];

    /// The family of a prefix.
    pub fn of_prefix(prefix: &IpNet) -> Self {
        match prefix {
            IpNet::V4(_) => Family::Ipv4,
            IpNet::V6(_) => Family::Ipv6,
        }
    }

    /// The family of an address.
    pub fn of_addr(address: &std::net::IpAddr) -> Self {
        match address {
            std::net::IpAddr::V4(_) => Family::Ipv4,
            std::net::IpAddr::V6(_) => Family::Ipv6,
        }
    }

    /// Its place in per-family arrays (IPv4, IPv6).
    pub fn index(self) -> usize {
        match self {
            Family::Ipv4 => 0,
            Family::Ipv6 => 1,
        }
    }

    /// The other family.
    pub fn other(self) -> Self {
        match self {
            Family::Ipv4 => Family::Ipv6,
            Family::Ipv6 => Family::Ipv4,
        }
    }

    /// Its name in a sentence: `IPv4`, `IPv6`.
    pub fn label(self) -> &'static str {
        match self {
            Family::Ipv4 => "IPv4",
            Family::Ipv6 => "IPv6",
        }
    }
}

impl fmt::Display for Family {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Family::Ipv4 => "ipv4",
            Family::Ipv6 => "ipv6",
        })
    }
}

/// A stable identifier, unique in a database: derived from the entity, the
/// start and the first cause, so that the same input always gives the same id and
/// a restart that replays the same evidence does not make a duplicate.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EventId(pub String);

impl EventId {
    /// The id of an event about `entity` that started at `start` with `cause`.
    pub fn derive(entity: &Entity, start: Timestamp, cause: Cause) -> Self {
        // FNV-1a: stable across builds and platforms, unlike std's hasher.
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        let text = format!("{entity}|{}|{cause}", start.as_micros());
        for byte in text.as_bytes() {
            hash ^= u64::from(*byte);
            hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        }
        EventId(format!("ev-{}-{hash:016x}", start.as_secs()))
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// An outage (or a change worth knowing) of one entity, with its cause and evidence.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable id.
    pub id: EventId,
    /// What it is about.
    pub entity: Entity,
    /// Why, as far as the evidence says.
    pub cause: Cause,
    /// How bad.
    pub severity: Severity,
    /// How sure, from 0 to 1.
    pub confidence: f64,
    /// When it began.
    pub start: Timestamp,
    /// When it ended, or None while it goes on.
    pub end: Option<Timestamp>,
    /// What it touches.
    pub scope: Scope,
    /// One sentence a person can read.
    pub summary: String,
    /// The observations behind it, oldest first.
    pub evidence: Vec<Evidence>,
}

impl Event {
    /// How long it lasted (or has lasted by `now`), in seconds.
    pub fn duration_secs(&self, now: Timestamp) -> f64 {
        self.end.unwrap_or(now).secs_since(self.start)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entities_round_trip_through_text() {
        for text in [
            "country:KP",
            "as:131279",
            "prefix:175.45.176.0/24",
            "upstream:4837",
            "host:kcna.kp",
            "service:dns:kp",
            "feed:bmp:198.51.100.1",
            "vantage:local",
        ] {
            let entity: Entity = text.parse().unwrap();
            assert_eq!(entity.to_string(), text);
        }
        assert!("prefix:nonsense".parse::<Entity>().is_err());
        assert!("planet:earth".parse::<Entity>().is_err());
    }

    #[test]
    fn causes_round_trip_and_serialize_in_kebab_case() {
        for cause in Cause::ALL {
            assert_eq!(cause.as_str().parse::<Cause>(), Ok(cause));
            assert_eq!(
                serde_json::to_string(&cause).unwrap(),
                format!("\"{}\"", cause.as_str())
            );
        }
    }

    #[test]
    fn signals_round_trip_through_text() {
        for signal in SignalKind::ALL {
            assert_eq!(signal.as_str().parse::<SignalKind>(), Ok(signal));
            assert_eq!(
                serde_json::to_string(&signal).unwrap(),
                format!("\"{}\"", signal.as_str())
            );
        }
    }

    #[test]
    fn event_serializes_in_the_contract_shape() {
        let start = Timestamp::from_secs(1_640_995_200);
        let entity = Entity::Country("KP".into());
        let event = Event {
            id: EventId::derive(&entity, start, Cause::Internal),
            entity,
            cause: Cause::Internal,
            severity: Severity::Critical,
            confidence: 0.9,
            start,
            end: None,
            scope: Scope::default(),
            summary: "dark".into(),
            evidence: vec![Evidence {
                at: start,
                signal: SignalKind::BgpVisibility,
                text: "gone".into(),
                value: Some(0.0),
            }],
        };
        let json: serde_json::Value = serde_json::to_value(&event).unwrap();
        assert_eq!(json["entity"], "country:KP");
        assert_eq!(json["cause"], "internal");
        assert_eq!(json["severity"], "critical");
        assert_eq!(json["start"], "2022-01-01T00:00:00Z");
        assert!(json["end"].is_null());
        assert_eq!(json["evidence"][0]["signal"], "bgp.visibility");
        let back: Event = serde_json::from_value(json).unwrap();
        assert_eq!(back, event);
    }

    #[test]
    fn scope_families_are_named_when_known_and_left_out_otherwise() {
        let ipv6_only = Scope {
            prefixes: vec!["2001:db8:100::/48".parse().unwrap()],
            families: vec![Family::Ipv6],
            ..Scope::default()
        };
        let json = serde_json::to_value(&ipv6_only).unwrap();
        assert_eq!(json["families"], serde_json::json!(["ipv6"]));
        assert_eq!(serde_json::from_value::<Scope>(json).unwrap(), ipv6_only);
        // A scope that does not tell, and one written before families existed.
        let untold = serde_json::to_value(Scope::default()).unwrap();
        assert!(untold.get("families").is_none());
        let older: Scope = serde_json::from_str(
            r#"{"prefixes": [], "upstreams": [4837], "hosts": [], "services": []}"#,
        )
        .unwrap();
        assert!(older.families.is_empty());
        assert_eq!(
            Family::of_prefix(&"203.0.113.0/24".parse().unwrap()),
            Family::Ipv4
        );
        assert_eq!(Family::Ipv4.other(), Family::Ipv6);
        assert_eq!(Family::Ipv6.label(), "IPv6");
    }

    #[test]
    fn event_ids_are_stable_and_distinct() {
        let start = Timestamp::from_secs(1);
        let a = EventId::derive(&Entity::Upstream(Asn(4837)), start, Cause::UpstreamCut);
        let b = EventId::derive(&Entity::Upstream(Asn(20485)), start, Cause::UpstreamCut);
        assert_eq!(
            a,
            EventId::derive(&Entity::Upstream(Asn(4837)), start, Cause::UpstreamCut)
        );
        assert_ne!(a, b);
    }
}
