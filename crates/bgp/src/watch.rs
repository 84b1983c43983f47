//! What the BGP state tracks: a profile's networks, or every prefix of full feeds.
//!
//! - [`WatchSet`]: a profile's networks, each an entity of its own (`as:N`, or the
//!   country when the profile watches one country through one network), with the
//!   country over all of them when the profile names one and has several; their
//!   prefixes (each with a visibility), their aggregates, their origins and the
//!   upstreams the profile names.
//! - [`GlobalSet`]: every prefix of the full feeds, each counted for its country
//!   (from a prefix-to-country map) and its origin AS: the view of an observatory
//!   that watches every country and every AS at once.
//! - [`Tracking`]: one or the other, as the BGP state is built with.

use blackout_model::{Asn, CountryLookup, Entity, PrefixFilter};
use ipnet::IpNet;
use std::collections::BTreeSet;
use std::sync::Arc;

/// One network of a profile.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchedNetwork {
    /// The entity its events are about (`as:64500`, or `country:KP` for a country
    /// watched through one network).
    pub entity: Entity,
    /// What to call it in a sentence.
    pub name: String,
    /// Its origin AS.
    pub origin: Asn,
    /// Prefixes announced on their own: each has a visibility.
    pub prefixes: Vec<IpNet>,
    /// The network's own less-specifics: a route to one covers the prefixes under it.
    pub aggregates: Vec<IpNet>,
}

/// The networks of a profile, and what else it knows about them.
#[derive(Clone, Debug, PartialEq)]
pub struct WatchSet {
    /// The networks.
    pub networks: Vec<WatchedNetwork>,
    /// The country over all the networks, when the profile names one and has
    /// several networks (with one, the network's entity is the country itself).
    pub whole: Option<(Entity, String)>,
    /// Upstreams the profile names (expected or historical).
    pub known_upstreams: BTreeSet<Asn>,
    /// A peer whose table has at least this share of the largest table is full-feed.
    pub full_feed_ratio: f64,
}

impl Default for WatchSet {
    fn default() -> Self {
        WatchSet {
            networks: Vec::new(),
            whole: None,
            known_upstreams: BTreeSet::new(),
            full_feed_ratio: 0.75,
        }
    }
}

impl WatchSet {
    /// The watch set of a profile.
    pub fn from_profile(profile: &blackout_profile::Profile) -> Self {
        let single = profile.networks.len() == 1;
        let networks = profile
            .networks
            .iter()
            .map(|network| {
                let (entity, name) = match (&profile.country, single) {
                    (Some(country), true) => (
                        Entity::Country(country.clone()),
                        profile.label.clone().unwrap_or_else(|| country.clone()),
                    ),
                    (None, true) => (
                        Entity::As(network.asn),
                        profile
                            .label
                            .clone()
                            .unwrap_or_else(|| format!("{} ({})", network.name, network.asn)),
                    ),
                    (_, false) => (
                        Entity::As(network.asn),
                        format!("{} ({})", network.name, network.asn),
                    ),
                };
                WatchedNetwork {
                    entity,
                    name,
                    origin: network.asn,
                    prefixes: network.prefixes.clone(),
                    aggregates: network.aggregates.clone(),
                }
            })
            .collect();
        let whole = match (&profile.country, single) {
            (Some(country), false) if !profile.networks.is_empty() => Some((
                Entity::Country(country.clone()),
                profile.label.clone().unwrap_or_else(|| country.clone()),
            )),
            _ => None,
        };
        WatchSet {
            networks,
            whole,
            known_upstreams: profile.upstreams.iter().map(|u| u.asn).collect(),
            full_feed_ratio: profile.thresholds.full_feed_ratio,
        }
    }

    /// A watch set of one network, `as:ORIGIN`, for tests and tools.
    pub fn single(origin: Asn, prefixes: Vec<IpNet>, aggregates: Vec<IpNet>) -> Self {
        WatchSet {
            networks: vec![WatchedNetwork {
                entity: Entity::As(origin),
                name: origin.to_string(),
                origin,
                prefixes,
                aggregates,
            }],
            ..WatchSet::default()
        }
    }

    /// The prefixes announced on their own, of every network.
    pub fn prefixes(&self) -> impl Iterator<Item = &IpNet> {
        self.networks.iter().flat_map(|n| &n.prefixes)
    }

    /// The aggregates of every network.
    pub fn aggregates(&self) -> impl Iterator<Item = &IpNet> {
        self.networks.iter().flat_map(|n| &n.aggregates)
    }

    /// Every prefix whose routes matter, aggregates included.
    pub fn all_prefixes(&self) -> impl Iterator<Item = &IpNet> {
        self.prefixes().chain(self.aggregates())
    }

    /// The expected origins.
    pub fn origins(&self) -> BTreeSet<Asn> {
        self.networks.iter().map(|n| n.origin).collect()
    }

    /// The filter a feed or an archive reader applies: routes that equal, cover or
    /// lie inside a watched prefix or aggregate.
    pub fn filter(&self) -> PrefixFilter {
        PrefixFilter::new(self.all_prefixes())
    }
}

/// Every prefix of the full feeds, by country and origin AS.
#[derive(Clone)]
pub struct GlobalSet {
    /// Which country a prefix belongs to.
    pub countries: Arc<dyn CountryLookup>,
    /// A peer whose table has at least this share of the largest table is full-feed.
    pub full_feed_ratio: f64,
    /// Longer IPv4 prefixes are not routed across the Internet and are left out.
    pub longest_v4: u8,
    /// Longer IPv6 prefixes are left out too.
    pub longest_v6: u8,
}

impl GlobalSet {
    /// Every country in `countries` and every origin AS, with the usual limits
    /// (/24 and /48: longer prefixes do not travel the Internet).
    pub fn new(countries: Arc<dyn CountryLookup>, full_feed_ratio: f64) -> Self {
        GlobalSet {
            countries,
            full_feed_ratio,
            longest_v4: 24,
            longest_v6: 48,
        }
    }

    /// Is a route to `prefix` tracked? Not a default route, nor longer than the limits.
    pub fn tracks(&self, prefix: &IpNet) -> bool {
        let longest = match prefix {
            IpNet::V4(_) => self.longest_v4,
            IpNet::V6(_) => self.longest_v6,
        };
        prefix.prefix_len() > 0 && prefix.prefix_len() <= longest
    }
}

impl std::fmt::Debug for GlobalSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GlobalSet")
            .field("full_feed_ratio", &self.full_feed_ratio)
            .field("longest_v4", &self.longest_v4)
            .field("longest_v6", &self.longest_v6)
            .finish_non_exhaustive()
    }
}

/// What a BGP state tracks.
#[derive(Clone, Debug)]
pub enum Tracking {
    /// A profile's networks.
    Networks(WatchSet),
    /// Every country and origin AS.
    Global(GlobalSet),
}

impl Tracking {
    /// The filter feeds and archive readers apply for it: everything in global mode.
    pub fn filter(&self) -> PrefixFilter {
        match self {
            Tracking::Networks(watch) => watch.filter(),
            Tracking::Global(_) => PrefixFilter::everything(),
        }
    }

    /// The full-feed ratio.
    pub fn full_feed_ratio(&self) -> f64 {
        match self {
            Tracking::Networks(watch) => watch.full_feed_ratio,
            Tracking::Global(global) => global.full_feed_ratio,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_country_with_one_network_is_the_country() {
        let kp = blackout_profile::builtin("kp").unwrap();
        let watch = WatchSet::from_profile(&kp);
        assert_eq!(watch.networks.len(), 1);
        assert_eq!(watch.networks[0].entity, Entity::Country("KP".into()));
        assert!(watch.whole.is_none());
        assert!(
            watch
                .filter()
                .wants(&"175.45.177.0/24".parse::<IpNet>().unwrap())
        );
    }
}
