//! The entities the BGP state keeps aggregates for, and the aggregates themselves.
//!
//! An entity is a profile's network (`as:64500`, or `country:KP` for a country
//! watched through one network), the country over a profile's networks, or in
//! the global view a country (`country:IR`) or an origin AS (`as:44244`). A
//! prefix counts for every entity it belongs to, and each route change updates
//! the aggregates of those entities only: the cost of an update is the number of
//! entities of its prefix, never the number of prefixes.

use blackout_model::{Asn, Entity};
use serde::Serialize;

/// An entity's number in the BGP state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct EntityIdx(pub u32);

impl EntityIdx {
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// What an entity is to the state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum EntityRole {
    /// A network of a profile.
    Network,
    /// The country over several networks of a profile.
    Whole,
    /// A country of the global view.
    Country,
    /// An origin AS of the global view.
    Origin,
}

/// An entity and what to call it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntityInfo {
    /// The entity (`as:64500`, `country:KP`).
    pub entity: Entity,
    /// What to call it in a sentence.
    pub name: String,
    /// What it is.
    pub role: EntityRole,
    /// The origins its routes are expected from (a profile's network: its AS; an
    /// origin AS: itself; a country: none in particular).
    pub origins: Vec<Asn>,
}

/// What the full-feed peers see of one entity's prefixes, kept up to date route
/// by route.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Aggregates {
    /// Its prefixes, per family (IPv4, IPv6).
    pub prefixes: [u32; 2],
    /// The sum over its prefixes of the full-feed peers that see each, per family.
    pub seen: [u64; 2],
    /// Per upstream (the AS before the origin): the full-feed paths through it,
    /// summed over its prefixes (a peer counts once per prefix and upstream);
    /// sorted by AS.
    pub upstreams: Vec<(Asn, u64)>,
    /// The same per family (IPv4, IPv6): the paths to that family's prefixes
    /// through each upstream, for an upstream that drops one family and keeps
    /// the other.
    #[serde(skip)]
    pub family_upstreams: [Vec<(Asn, u64)>; 2],
    /// Per origin: the full-feed paths that end in it, summed over its prefixes;
    /// sorted by AS.
    pub origins: Vec<(Asn, u64)>,
    /// Its prefixes with an RPKI-invalid route now.
    pub rpki_invalid: u32,
}

impl Aggregates {
    /// Prefixes in all.
    pub fn prefix_count(&self) -> u32 {
        self.prefixes[0] + self.prefixes[1]
    }

    /// The (prefix, full-feed peer) pairs that could see it: the denominator of
    /// its visibility and of its upstreams' shares.
    pub fn capacity(&self, denominators: [u32; 2]) -> u64 {
        u64::from(self.prefixes[0]) * u64::from(denominators[0])
            + u64::from(self.prefixes[1]) * u64::from(denominators[1])
    }

    /// The share of (prefix, full-feed peer) pairs in which the peer sees the
    /// prefix; None when no full-feed peer counts.
    pub fn visibility(&self, denominators: [u32; 2]) -> Option<f64> {
        let capacity = self.capacity(denominators);
        (capacity > 0).then(|| (self.seen[0] + self.seen[1]) as f64 / capacity as f64)
    }

    /// The share of the full-feed paths that run through `upstream`.
    pub fn upstream_share(&self, upstream: Asn, denominators: [u32; 2]) -> Option<f64> {
        let capacity = self.capacity(denominators);
        (capacity > 0).then(|| count_of(&self.upstreams, upstream) as f64 / capacity as f64)
    }

    /// The share of one family's full-feed paths (0 IPv4, 1 IPv6) that run
    /// through `upstream`; None when the entity has no prefix of that family or
    /// no full-feed peer of it counts.
    pub fn family_upstream_share(
        &self,
        upstream: Asn,
        family: usize,
        denominators: [u32; 2],
    ) -> Option<f64> {
        let capacity = u64::from(self.prefixes[family]) * u64::from(denominators[family]);
        (capacity > 0)
            .then(|| count_of(&self.family_upstreams[family], upstream) as f64 / capacity as f64)
    }

    /// Every upstream that carries any full-feed path now, with its share, in
    /// AS order.
    pub fn upstream_shares(&self, denominators: [u32; 2]) -> Vec<(Asn, f64)> {
        let capacity = self.capacity(denominators).max(1) as f64;
        self.upstreams
            .iter()
            .map(|(asn, n)| (*asn, *n as f64 / capacity))
            .collect()
    }

    pub(crate) fn add_upstream(&mut self, upstream: Asn, family: usize, delta: i64) {
        add(&mut self.upstreams, upstream, delta);
        add(&mut self.family_upstreams[family], upstream, delta);
    }

    pub(crate) fn add_origin(&mut self, origin: Asn, delta: i64) {
        add(&mut self.origins, origin, delta);
    }
}

fn count_of(list: &[(Asn, u64)], asn: Asn) -> u64 {
    list.binary_search_by_key(&asn, |(a, _)| *a)
        .map_or(0, |i| list[i].1)
}

/// Adds `delta` to the count of `asn`, dropping it at zero. The list is kept
/// sorted by AS and searched by halves: a country's upstreams run to thousands
/// (the United States' in a full table), and readers get them in order.
fn add(list: &mut Vec<(Asn, u64)>, asn: Asn, delta: i64) {
    match list.binary_search_by_key(&asn, |(a, _)| *a) {
        Ok(i) => {
            let count = &mut list[i].1;
            *count = count.saturating_add_signed(delta);
            if *count == 0 {
                list.remove(i);
            }
        }
        Err(i) if delta > 0 => list.insert(i, (asn, delta as u64)),
        Err(_) => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shares_follow_the_counts() {
        let mut aggregates = Aggregates {
            prefixes: [4, 0],
            seen: [8, 0],
            ..Aggregates::default()
        };
        aggregates.add_upstream(Asn(64501), 0, 6);
        aggregates.add_upstream(Asn(64502), 0, 2);
        assert_eq!(aggregates.visibility([4, 0]), Some(0.5));
        assert_eq!(
            aggregates.upstream_share(Asn(64501), [4, 0]),
            Some(6.0 / 16.0)
        );
        aggregates.add_upstream(Asn(64502), 0, -2);
        assert_eq!(aggregates.upstreams, vec![(Asn(64501), 6)]);
        assert_eq!(aggregates.family_upstreams[0], vec![(Asn(64501), 6)]);
        assert_eq!(
            aggregates.family_upstream_share(Asn(64501), 1, [4, 4]),
            None
        );
        assert_eq!(aggregates.visibility([0, 0]), None);
    }
}
