//! What the BGP state watches, taken from a profile.

use blackout_model::Asn;
use ipnet::IpNet;
use std::collections::BTreeSet;

/// The prefixes and ASes of interest.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchSet {
    /// Prefixes announced on their own: each has a visibility.
    pub prefixes: Vec<IpNet>,
    /// The network's own less-specifics: a route to one covers the prefixes under it.
    pub aggregates: Vec<IpNet>,
    /// The expected origins.
    pub origins: BTreeSet<Asn>,
    /// Upstreams the profile names (expected or historical): not "new" when seen.
    pub known_upstreams: BTreeSet<Asn>,
    /// A peer whose table has at least this share of the largest table is full-feed.
    pub full_feed_ratio: f64,
}

impl WatchSet {
    /// The watch set of a profile.
    pub fn from_profile(profile: &blackout_profile::Profile) -> Self {
        let aggregates = profile
            .networks
            .iter()
            .flat_map(|n| n.aggregates.iter().copied())
            .collect();
        WatchSet {
            prefixes: profile.announced_prefixes(),
            aggregates,
            origins: profile.origin_asns().into_iter().collect(),
            known_upstreams: profile.upstreams.iter().map(|u| u.asn).collect(),
            full_feed_ratio: profile.thresholds.full_feed_ratio,
        }
    }

    /// Every prefix whose routes matter, aggregates included.
    pub fn all_prefixes(&self) -> impl Iterator<Item = &IpNet> {
        self.prefixes.iter().chain(&self.aggregates)
    }

    /// Does a route to `prefix` concern the watched network: is it a watched
    /// prefix, or does it cover one or lie inside one?
    pub fn concerns(&self, prefix: &IpNet) -> bool {
        self.all_prefixes()
            .any(|watched| watched.contains(prefix) || prefix.contains(watched))
    }

    /// The watched prefixes that a route to `prefix` can make visible: the
    /// prefix itself, or those under it when it is an aggregate of the network.
    pub(crate) fn covered_by(&self, prefix: &IpNet) -> impl Iterator<Item = &IpNet> {
        let prefix = *prefix;
        self.prefixes
            .iter()
            .filter(move |watched| prefix.contains(*watched))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn concerns_equal_covering_and_more_specific() {
        let watch = WatchSet {
            prefixes: vec!["203.0.113.0/26".parse().unwrap()],
            aggregates: vec!["203.0.113.0/24".parse().unwrap()],
            ..WatchSet::default()
        };
        for concerned in [
            "203.0.113.0/26",
            "203.0.113.0/24",
            "203.0.113.0/28",
            "203.0.112.0/20",
            "203.0.113.128/25",
        ] {
            assert!(watch.concerns(&concerned.parse().unwrap()), "{concerned}");
        }
        for other in ["198.51.100.0/24", "2001:db8::/32", "203.0.114.0/24"] {
            assert!(!watch.concerns(&other.parse().unwrap()), "{other}");
        }
    }
}
