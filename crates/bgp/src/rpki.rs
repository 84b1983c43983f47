//! Route origin validation (RFC 6811) against validated ROA payloads.
//!
//! [`Vrps::from_json`] reads the JSON that rpki-client (`-j`) and Routinator
//! (`--format json` or `jsonext`) write: an object with a `roas` array whose items
//! have `prefix`, `maxLength` and `asn` (a number or `"AS123"`), and a `metadata`
//! object whose `generated` (rpki-client, Unix seconds) or `buildtime`
//! (rpki-client, RFC 3339) or `generatedTime` (Routinator) says when the set was
//! made: a replay applies it from then on, not from the archive's first record.
//!
//! The VRPs are indexed by prefix, so a validation looks up each length that a
//! VRP has (a few dozen at most) instead of scanning every VRP: a full table is
//! validated as fast as a watch list of four.

use blackout_model::{Asn, Timestamp};
use ipnet::IpNet;
use serde::Deserialize;
use std::collections::{BTreeSet, HashMap};
use std::fmt;

/// One validated ROA payload: `asn` may originate `prefix` and its more-specifics
/// down to `max_length`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vrp {
    /// The prefix.
    pub prefix: IpNet,
    /// The longest prefix length allowed.
    pub max_length: u8,
    /// The authorised origin (AS0 authorises none).
    pub asn: Asn,
}

/// A set of validated ROA payloads.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Vrps {
    vrps: Vec<Vrp>,
    /// Indexes into `vrps` by their (truncated) prefix.
    by_prefix: HashMap<IpNet, Vec<usize>>,
    /// The prefix lengths that VRPs have, per family (IPv4, IPv6).
    lengths: [BTreeSet<u8>; 2],
    /// When the set was made, if the file says.
    generated: Option<Timestamp>,
}

/// RFC 6811 validation states.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum RpkiState {
    /// A VRP covers the route and authorises its origin and length.
    Valid,
    /// VRPs cover the route, but none authorises its origin and length.
    Invalid,
    /// No VRP covers the route.
    NotFound,
}

impl fmt::Display for RpkiState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            RpkiState::Valid => "valid",
            RpkiState::Invalid => "invalid",
            RpkiState::NotFound => "not-found",
        })
    }
}

/// A VRP file that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum VrpsError {
    /// Not JSON of the expected shape.
    #[error("not rpki-client or Routinator JSON (an object with a `roas` array): {0}")]
    Json(#[from] serde_json::Error),
    /// An entry is wrong.
    #[error("ROA {index}: {message}")]
    Entry {
        /// Position in the `roas` array.
        index: usize,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
struct RawFile {
    #[serde(default)]
    metadata: Option<RawMetadata>,
    roas: Vec<RawRoa>,
}

#[derive(Deserialize)]
struct RawMetadata {
    /// rpki-client: Unix seconds.
    #[serde(default)]
    generated: Option<serde_json::Value>,
    /// rpki-client: RFC 3339.
    #[serde(default)]
    buildtime: Option<String>,
    /// Routinator (jsonext): RFC 3339.
    #[serde(default, rename = "generatedTime")]
    generated_time: Option<String>,
}

impl RawMetadata {
    fn when(&self) -> Option<Timestamp> {
        let generated = match &self.generated {
            Some(serde_json::Value::Number(n)) => n.as_i64().map(Timestamp::from_secs),
            Some(serde_json::Value::String(text)) => text.parse().ok(),
            _ => None,
        };
        generated
            .or_else(|| self.buildtime.as_deref().and_then(|t| t.parse().ok()))
            .or_else(|| self.generated_time.as_deref().and_then(|t| t.parse().ok()))
    }
}

#[derive(Deserialize)]
struct RawRoa {
    prefix: String,
    #[serde(rename = "maxLength")]
    max_length: u8,
    asn: RawAsn,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawAsn {
    Number(u32),
    Text(String),
}

impl Vrps {
    /// A set of VRPs.
    pub fn new(vrps: Vec<Vrp>) -> Self {
        let mut by_prefix: HashMap<IpNet, Vec<usize>> = HashMap::new();
        let mut lengths: [BTreeSet<u8>; 2] = Default::default();
        for (index, vrp) in vrps.iter().enumerate() {
            by_prefix.entry(vrp.prefix.trunc()).or_default().push(index);
            lengths[usize::from(matches!(vrp.prefix, IpNet::V6(_)))]
                .insert(vrp.prefix.prefix_len());
        }
        Vrps {
            vrps,
            by_prefix,
            lengths,
            generated: None,
        }
    }

    /// The same VRPs, made at `when`.
    pub fn generated_at(mut self, when: Option<Timestamp>) -> Self {
        self.generated = when;
        self
    }

    /// When the set was made, if its file says.
    pub fn generated(&self) -> Option<Timestamp> {
        self.generated
    }

    /// Reads rpki-client or Routinator JSON.
    pub fn from_json(text: &str) -> Result<Self, VrpsError> {
        let raw: RawFile = serde_json::from_str(text)?;
        let generated = raw.metadata.as_ref().and_then(RawMetadata::when);
        let mut vrps = Vec::with_capacity(raw.roas.len());
        for (index, roa) in raw.roas.into_iter().enumerate() {
            let bad = |message: String| VrpsError::Entry { index, message };
            let prefix: IpNet = roa
                .prefix
                .parse()
                .map_err(|_| bad(format!("`{}` is not a prefix", roa.prefix)))?;
            let asn = match roa.asn {
                RawAsn::Number(n) => Asn(n),
                RawAsn::Text(text) => text.parse().map_err(bad)?,
            };
            if roa.max_length < prefix.prefix_len() || roa.max_length > prefix.max_prefix_len() {
                return Err(bad(format!(
                    "maxLength {} does not fit {prefix}",
                    roa.max_length
                )));
            }
            vrps.push(Vrp {
                prefix: prefix.trunc(),
                max_length: roa.max_length,
                asn,
            });
        }
        Ok(Vrps::new(vrps).generated_at(generated))
    }

    /// How many VRPs there are.
    pub fn len(&self) -> usize {
        self.vrps.len()
    }

    /// True when there are none.
    pub fn is_empty(&self) -> bool {
        self.vrps.is_empty()
    }

    /// Validates a route's origin (None for an AS_SET origin, which no VRP matches).
    pub fn validate(&self, prefix: &IpNet, origin: Option<Asn>) -> RpkiState {
        let mut covered = false;
        for vrp in self.covering_iter(prefix) {
            covered = true;
            if let Some(origin) = origin
                && vrp.asn == origin
                && vrp.asn.0 != 0
                && prefix.prefix_len() <= vrp.max_length
            {
                return RpkiState::Valid;
            }
        }
        if covered {
            RpkiState::Invalid
        } else {
            RpkiState::NotFound
        }
    }

    /// The VRPs that cover a prefix, for evidence.
    pub fn covering(&self, prefix: &IpNet) -> Vec<&Vrp> {
        self.covering_iter(prefix).collect()
    }

    /// The VRPs whose prefix equals or covers `prefix`: one look-up per length
    /// that some VRP has, no longer than the prefix's.
    fn covering_iter<'a>(&'a self, prefix: &IpNet) -> impl Iterator<Item = &'a Vrp> + 'a {
        let prefix = *prefix;
        let family = usize::from(matches!(prefix, IpNet::V6(_)));
        self.lengths[family]
            .iter()
            .take_while(move |len| **len <= prefix.prefix_len())
            .filter_map(move |len| {
                let shorter = match prefix {
                    IpNet::V4(net) => ipnet::Ipv4Net::new(net.addr(), *len)
                        .ok()
                        .map(|n| IpNet::V4(n.trunc())),
                    IpNet::V6(net) => ipnet::Ipv6Net::new(net.addr(), *len)
                        .ok()
                        .map(|n| IpNet::V6(n.trunc())),
                }?;
                self.by_prefix.get(&shorter)
            })
            .flatten()
            .map(|index| &self.vrps[*index])
    }
}

impl fmt::Display for Vrp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} {}", self.prefix, self.max_length, self.asn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn max_length_22_makes_the_24s_invalid() {
        // The March 2025 case: a ROA for the /22 with maxLength 22.
        let vrps = Vrps::from_json(
            r#"{"metadata":{},"roas":[{"asn":"AS131279","prefix":"175.45.176.0/22","maxLength":22,"ta":"apnic"}]}"#,
        )
        .unwrap();
        assert_eq!(
            vrps.validate(&p("175.45.176.0/22"), Some(Asn(131279))),
            RpkiState::Valid
        );
        assert_eq!(
            vrps.validate(&p("175.45.177.0/24"), Some(Asn(131279))),
            RpkiState::Invalid
        );
        assert_eq!(
            vrps.validate(&p("175.45.177.0/24"), None),
            RpkiState::Invalid
        );
        assert_eq!(
            vrps.validate(&p("198.51.100.0/24"), Some(Asn(131279))),
            RpkiState::NotFound
        );
    }

    #[test]
    fn rpki_client_numbers_and_wrong_origin() {
        let vrps = Vrps::from_json(
            r#"{"roas":[{"asn":131279,"prefix":"175.45.176.0/22","maxLength":24,"expires":1}]}"#,
        )
        .unwrap();
        assert_eq!(
            vrps.validate(&p("175.45.178.0/24"), Some(Asn(131279))),
            RpkiState::Valid
        );
        assert_eq!(
            vrps.validate(&p("175.45.178.0/24"), Some(Asn(64496))),
            RpkiState::Invalid
        );
        assert_eq!(
            vrps.validate(&p("175.45.178.0/25"), Some(Asn(131279))),
            RpkiState::Invalid
        );
    }

    #[test]
    fn the_file_says_when_it_was_made() {
        let rpki_client = Vrps::from_json(
            r#"{"metadata":{"buildtime":"2025-03-01T10:00:00Z","generated":1740823200},"roas":[]}"#,
        )
        .unwrap();
        assert_eq!(
            rpki_client.generated(),
            Some(Timestamp::from_secs(1_740_823_200))
        );
        let routinator =
            Vrps::from_json(r#"{"metadata":{"generatedTime":"2025-03-01T10:00:00Z"},"roas":[]}"#)
                .unwrap();
        assert_eq!(routinator.generated(), "2025-03-01T10:00:00Z".parse().ok());
        assert_eq!(Vrps::from_json(r#"{"roas":[]}"#).unwrap().generated(), None);
    }

    #[test]
    fn the_index_agrees_with_a_scan() {
        let vrps: Vec<Vrp> = (0..500u32)
            .map(|i| Vrp {
                prefix: IpNet::V4(
                    ipnet::Ipv4Net::new(
                        std::net::Ipv4Addr::from(i.wrapping_mul(2_654_435_761)),
                        8 + (i % 17) as u8,
                    )
                    .unwrap()
                    .trunc(),
                ),
                max_length: 24,
                asn: Asn(64496 + i % 3),
            })
            .collect();
        let set = Vrps::new(vrps.clone());
        for i in 0..2000u32 {
            let prefix = IpNet::V4(
                ipnet::Ipv4Net::new(
                    std::net::Ipv4Addr::from(i.wrapping_mul(40_503)),
                    12 + (i % 13) as u8,
                )
                .unwrap()
                .trunc(),
            );
            let scan: Vec<&Vrp> = vrps.iter().filter(|v| v.prefix.contains(&prefix)).collect();
            let mut indexed = set.covering(&prefix);
            indexed.sort_by_key(|v| (v.prefix.prefix_len(), v.asn));
            let mut scan = scan;
            scan.sort_by_key(|v| (v.prefix.prefix_len(), v.asn));
            assert_eq!(indexed, scan, "{prefix}");
        }
    }

    #[test]
    fn as0_authorises_nobody() {
        let vrps = Vrps::new(vec![Vrp {
            prefix: p("192.0.2.0/24"),
            max_length: 24,
            asn: Asn(0),
        }]);
        assert_eq!(
            vrps.validate(&p("192.0.2.0/24"), Some(Asn(0))),
            RpkiState::Invalid
        );
    }

    #[test]
    fn bad_files_are_clear_errors() {
        assert!(matches!(Vrps::from_json("[]"), Err(VrpsError::Json(_))));
        let bad =
            Vrps::from_json(r#"{"roas":[{"asn":"ASX","prefix":"192.0.2.0/24","maxLength":24}]}"#);
        assert!(matches!(bad, Err(VrpsError::Entry { index: 0, .. })));
        let bad = Vrps::from_json(r#"{"roas":[{"asn":1,"prefix":"192.0.2.0/24","maxLength":20}]}"#);
        assert!(bad.unwrap_err().to_string().contains("maxLength 20"));
    }
}
