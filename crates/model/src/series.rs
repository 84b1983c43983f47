//! Time series: what is measured of an entity over time, under one typed key.
//!
//! A [`SeriesKey`] is an entity and a [`Measure`]. The store keeps their text forms
//! (`prefix:175.45.176.0/24` and `bgp.upstream.4837`); everything else works with
//! the typed key, so that nothing builds a name with `format!` and parses it back.

use crate::{Asn, Entity, ProbeKind, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// What a series measures.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Measure {
    /// The share of full-feed peers that see a prefix; for a network, a country
    /// or an AS, the share of its prefixes that are visible (`bgp.visibility`).
    Visibility,
    /// The share of full-feed paths that run through an upstream (`bgp.upstream.N`).
    UpstreamShare(Asn),
    /// 1 when a check passed, 0 when it failed (`probe.KIND.ok`).
    ProbeOk(ProbeKind),
    /// A check's round-trip or response time in milliseconds (`probe.KIND.rtt_ms`).
    ProbeRttMs(ProbeKind),
    /// A check's share of lost attempts (`probe.KIND.loss`).
    ProbeLoss(ProbeKind),
}

impl Measure {
    /// Is this a BGP measure (as opposed to a probe's)?
    pub fn is_bgp(&self) -> bool {
        matches!(self, Measure::Visibility | Measure::UpstreamShare(_))
    }

    /// The kind of probe, for a probe's measure.
    pub fn probe_kind(&self) -> Option<ProbeKind> {
        match self {
            Measure::ProbeOk(kind) | Measure::ProbeRttMs(kind) | Measure::ProbeLoss(kind) => {
                Some(*kind)
            }
            Measure::Visibility | Measure::UpstreamShare(_) => None,
        }
    }
}

impl fmt::Display for Measure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Measure::Visibility => f.write_str("bgp.visibility"),
            Measure::UpstreamShare(asn) => write!(f, "bgp.upstream.{}", asn.0),
            Measure::ProbeOk(kind) => write!(f, "probe.{kind}.ok"),
            Measure::ProbeRttMs(kind) => write!(f, "probe.{kind}.rtt_ms"),
            Measure::ProbeLoss(kind) => write!(f, "probe.{kind}.loss"),
        }
    }
}

impl FromStr for Measure {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || {
            format!(
                "`{s}` is not a series (bgp.visibility, bgp.upstream.ASN, probe.KIND.ok, probe.KIND.rtt_ms, probe.KIND.loss)"
            )
        };
        if s == "bgp.visibility" {
            return Ok(Measure::Visibility);
        }
        if let Some(asn) = s.strip_prefix("bgp.upstream.") {
            return asn
                .parse::<u32>()
                .map(|n| Measure::UpstreamShare(Asn(n)))
                .map_err(|_| bad());
        }
        let rest = s.strip_prefix("probe.").ok_or_else(bad)?;
        let (kind, what) = rest.split_once('.').ok_or_else(bad)?;
        let kind: ProbeKind = kind.parse().map_err(|_| bad())?;
        match what {
            "ok" => Ok(Measure::ProbeOk(kind)),
            "rtt_ms" => Ok(Measure::ProbeRttMs(kind)),
            "loss" => Ok(Measure::ProbeLoss(kind)),
            _ => Err(bad()),
        }
    }
}

impl Serialize for Measure {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Measure {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Which series: an entity and what is measured of it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct SeriesKey {
    /// The entity (`prefix:175.45.176.0/24`, `country:KP`, `host:kcna.kp`).
    pub entity: Entity,
    /// What is measured.
    #[serde(rename = "signal")]
    pub measure: Measure,
}

impl SeriesKey {
    /// The series of `measure` for `entity`.
    pub fn new(entity: Entity, measure: Measure) -> Self {
        SeriesKey { entity, measure }
    }
}

/// One point of a series.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct SeriesPoint {
    /// Which series.
    #[serde(flatten)]
    pub key: SeriesKey,
    /// When.
    pub at: Timestamp,
    /// The value.
    pub value: f64,
}

impl SeriesPoint {
    /// A point of `measure` for `entity`.
    pub fn new(entity: Entity, measure: Measure, at: Timestamp, value: f64) -> Self {
        SeriesPoint {
            key: SeriesKey::new(entity, measure),
            at,
            value,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn measures_round_trip_through_text() {
        for text in [
            "bgp.visibility",
            "bgp.upstream.4837",
            "probe.icmp.ok",
            "probe.dns.rtt_ms",
            "probe.http.loss",
        ] {
            let measure: Measure = text.parse().unwrap();
            assert_eq!(measure.to_string(), text);
        }
        for bad in ["bgp.upstream.x", "probe.ftp.ok", "probe.icmp", "visibility"] {
            assert!(bad.parse::<Measure>().is_err(), "{bad}");
        }
    }

    #[test]
    fn a_point_serializes_with_entity_and_signal() {
        let point = SeriesPoint::new(
            Entity::Upstream(Asn(4837)),
            Measure::UpstreamShare(Asn(4837)),
            Timestamp::from_secs(0),
            0.5,
        );
        let json = serde_json::to_value(&point).unwrap();
        assert_eq!(json["entity"], "upstream:4837");
        assert_eq!(json["signal"], "bgp.upstream.4837");
        let back: SeriesPoint = serde_json::from_value(json).unwrap();
        assert_eq!(back, point);
    }
}
