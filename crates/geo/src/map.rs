//! The map itself: [`GeoMap`], built once by [`GeoMapBuilder`] and read-only after.
//!
//! Each family is a `Table`: three parallel arrays (range starts, range ends, country)
//! sorted by start, with no overlap and no two touching ranges of the same country
//! (those are merged when the map is built). A lookup is a binary search on the
//! starts. The shared IPv4 CSV (334,373 lines) becomes about 10 bytes per range.
//!
//! # What `country_of` answers
//! For a prefix, every address counts once: the addresses of each country that the
//! prefix overlaps are added up, and so are the addresses the map does not know.
//! - The country holding the most addresses wins. On a tie, the country whose first
//!   address in the prefix comes first (the lowest address) wins.
//! - The unknown addresses compete too: when they outnumber the winner's, the answer
//!   is None (the map cannot say where most of the prefix is). On a tie between the
//!   winner and the unknown addresses, the winner stands.
//!
//! # Several sources
//! Ranges are laid over each other in the order they are added: where a later range
//! covers addresses that an earlier one gave a country, the later one wins for those
//! addresses, and the earlier keeps the rest. So a file loaded after another overrides
//! it where they overlap, and within one file a later line overrides an earlier one
//! (the shared IPv4 CSV has 568 lines that lie inside the range of an earlier line and
//! rely on this). Entries that give no country (`ZZ`, `available`, `reserved`) are not
//! ranges: they never erase a country that an earlier file gave.

use crate::range::{Address, GeoRange};
use blackout_model::{CountryCode, CountryLookup};
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// An immutable map from IPv4 and IPv6 address ranges to countries.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GeoMap {
    v4: Table<u32>,
    v6: Table<u128>,
    /// Every country of the map, sorted.
    countries: Vec<CountryCode>,
}

impl GeoMap {
    /// A map of these ranges; where they overlap, later ones win.
    pub fn from_ranges(ranges: impl IntoIterator<Item = GeoRange>) -> Self {
        let mut builder = GeoMapBuilder::new();
        builder.extend(ranges);
        builder.build()
    }

    /// The country of one address.
    pub fn country_at(&self, address: IpAddr) -> Option<CountryCode> {
        match address {
            IpAddr::V4(a) => self.v4.country_at(u32::from(a)),
            IpAddr::V6(a) => self.v6.country_at(u128::from(a)),
        }
    }

    /// How many IPv4 ranges the map holds (after merging touching ranges of one country).
    pub fn ipv4_range_count(&self) -> usize {
        self.v4.len()
    }

    /// How many IPv6 ranges the map holds (after merging touching ranges of one country).
    pub fn ipv6_range_count(&self) -> usize {
        self.v6.len()
    }

    /// True when the map knows no address at all.
    pub fn is_empty(&self) -> bool {
        self.v4.len() == 0 && self.v6.len() == 0
    }

    /// Every country that holds at least one address, sorted.
    pub fn countries(&self) -> &[CountryCode] {
        &self.countries
    }

    /// Every range of the map: IPv4 in address order, then IPv6 in address order.
    pub fn ranges(&self) -> impl Iterator<Item = GeoRange> + '_ {
        self.v4.ranges().chain(self.v6.ranges())
    }

    /// The ranges of one country, IPv4 then IPv6, each in address order. This scans the
    /// whole map: call it once per country and keep the result.
    pub fn ranges_of(&self, country: CountryCode) -> impl Iterator<Item = GeoRange> + '_ {
        self.ranges().filter(move |r| r.country() == country)
    }

    /// The prefixes that cover exactly the addresses of one country, in the order of
    /// [`GeoMap::ranges_of`] (a range that is not one aligned block gives several).
    pub fn prefixes_of(&self, country: CountryCode) -> impl Iterator<Item = IpNet> + '_ {
        self.ranges_of(country).flat_map(|r| r.prefixes())
    }
}

impl CountryLookup for GeoMap {
    fn country_of(&self, prefix: &IpNet) -> Option<CountryCode> {
        match prefix {
            IpNet::V4(p) => self
                .v4
                .country_of(u32::from(p.network()), u32::from(p.broadcast())),
            IpNet::V6(p) => self
                .v6
                .country_of(u128::from(p.network()), u128::from(p.broadcast())),
        }
    }
}

/// Lays ranges over each other in the order they come (later wins, see the module
/// docs), then freezes them into a [`GeoMap`].
#[derive(Debug, Default)]
pub struct GeoMapBuilder {
    v4: Overlay<u32>,
    v6: Overlay<u128>,
}

impl GeoMapBuilder {
    /// An empty builder.
    pub fn new() -> Self {
        Self::default()
    }

    /// Lays one range over what is there.
    pub fn add(&mut self, range: GeoRange) {
        match (range.start(), range.end()) {
            (IpAddr::V4(s), IpAddr::V4(e)) => {
                self.v4.lay(u32::from(s), u32::from(e), range.country())
            }
            (IpAddr::V6(s), IpAddr::V6(e)) => {
                self.v6.lay(u128::from(s), u128::from(e), range.country())
            }
            // A GeoRange never mixes families.
            _ => {}
        }
    }

    /// The map of everything laid so far.
    pub fn build(self) -> GeoMap {
        let v4 = self.v4.freeze();
        let v6 = self.v6.freeze();
        let mut countries: Vec<CountryCode> = v4
            .countries
            .iter()
            .chain(v6.countries.iter())
            .copied()
            .collect();
        countries.sort_unstable();
        countries.dedup();
        GeoMap { v4, v6, countries }
    }
}

impl Extend<GeoRange> for GeoMapBuilder {
    fn extend<T: IntoIterator<Item = GeoRange>>(&mut self, iter: T) {
        for range in iter {
            self.add(range);
        }
    }
}

/// Ranges of one family keyed by start, kept non-overlapping as they are laid.
#[derive(Debug)]
struct Overlay<A: Address> {
    by_start: BTreeMap<A, (A, CountryCode)>,
}

impl<A: Address> Default for Overlay<A> {
    fn default() -> Self {
        Overlay {
            by_start: BTreeMap::new(),
        }
    }
}

impl<A: Address> Overlay<A> {
    /// Lays `start..=end` over what is there: whatever it covers is cut away first.
    fn lay(&mut self, start: A, end: A, country: CountryCode) {
        // A range that begins before `start` and reaches into it keeps its head, and
        // its tail too when it reaches past `end`.
        if let Some((&s, &(e, c))) = self.by_start.range(..start).next_back()
            && e >= start
        {
            self.by_start.insert(s, (start.predecessor(), c));
            if e > end {
                self.by_start.insert(end.successor(), (e, c));
            }
        }
        // Ranges that begin inside lose what they share with it.
        while let Some((&s, &(e, c))) = self.by_start.range(start..=end).next() {
            self.by_start.remove(&s);
            if e > end {
                self.by_start.insert(end.successor(), (e, c));
                break;
            }
        }
        self.by_start.insert(start, (end, country));
    }

    /// The sorted table, with touching ranges of one country merged.
    fn freeze(self) -> Table<A> {
        let mut table: Table<A> = Table::default();
        for (start, (end, country)) in self.by_start {
            let last = table.starts.len().wrapping_sub(1);
            let touches = table.ends.last().is_some_and(|&previous_end| {
                previous_end < A::MAX && previous_end.successor() == start
            });
            if touches && table.countries.get(last) == Some(&country) {
                table.ends[last] = end;
            } else {
                table.starts.push(start);
                table.ends.push(end);
                table.countries.push(country);
            }
        }
        table.starts.shrink_to_fit();
        table.ends.shrink_to_fit();
        table.countries.shrink_to_fit();
        table
    }
}

/// The ranges of one family: sorted by start, not overlapping, inclusive ends.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Table<A: Address> {
    starts: Vec<A>,
    ends: Vec<A>,
    countries: Vec<CountryCode>,
}

impl<A: Address> Default for Table<A> {
    fn default() -> Self {
        Table {
            starts: Vec::new(),
            ends: Vec::new(),
            countries: Vec::new(),
        }
    }
}

impl<A: Address> Table<A> {
    fn len(&self) -> usize {
        self.starts.len()
    }

    /// The index of the range holding `address`, if any.
    fn holding(&self, address: A) -> Option<usize> {
        let after = self.starts.partition_point(|&s| s <= address);
        let index = after.checked_sub(1)?;
        (self.ends[index] >= address).then_some(index)
    }

    fn country_at(&self, address: A) -> Option<CountryCode> {
        self.holding(address).map(|i| self.countries[i])
    }

    fn ranges(&self) -> impl Iterator<Item = GeoRange> + '_ {
        (0..self.len()).filter_map(|i| {
            GeoRange::new(self.starts[i].ip(), self.ends[i].ip(), self.countries[i])
        })
    }

    /// The country of most of `low..=high` (see the module docs for ties and unknown space).
    fn country_of(&self, low: A, high: A) -> Option<CountryCode> {
        let first = match self.holding(low) {
            // Most prefixes sit inside one range.
            Some(i) if self.ends[i] >= high => return Some(self.countries[i]),
            Some(i) => i,
            None => self.starts.partition_point(|&s| s <= low),
        };
        let past = first + self.starts[first..].partition_point(|&s| s <= high);
        let mut tally = Tally::default();
        let mut known: u128 = 0;
        for i in first..past {
            let overlap = A::count(self.starts[i].max(low), self.ends[i].min(high));
            known = known.saturating_add(overlap);
            tally.add(self.countries[i], overlap);
        }
        let unknown = A::count(low, high).saturating_sub(known);
        let (country, held) = tally.most()?;
        (held >= unknown).then_some(country)
    }
}

/// Address counts per country, in the order the countries first appear. A prefix as
/// large as a /8 spans thousands of ranges and dozens of countries, so each country's
/// entry is found through a table indexed by its two letters, not by a search.
struct Tally {
    /// 1 + the index in `counts` of each code (`AA` = 0 … `ZZ` = 675), 0 for none.
    slot: [u16; 26 * 26],
    counts: Vec<(CountryCode, u128)>,
}

impl Default for Tally {
    fn default() -> Self {
        Tally {
            slot: [0; 26 * 26],
            counts: Vec::new(),
        }
    }
}

impl Tally {
    fn add(&mut self, country: CountryCode, n: u128) {
        let letters = country.as_str().as_bytes();
        // Two ASCII letters, uppercase, by CountryCode's construction.
        let index = usize::from(letters[0].wrapping_sub(b'A')) * 26
            + usize::from(letters[1].wrapping_sub(b'A'));
        match self.slot.get(index).copied() {
            Some(0) => {
                self.counts.push((country, n));
                self.slot[index] = self.counts.len() as u16;
            }
            Some(slot) => {
                let entry = &mut self.counts[usize::from(slot) - 1].1;
                *entry = entry.saturating_add(n);
            }
            // Not reached for a valid code; a linear entry keeps the count anyway.
            None => match self.counts.iter_mut().find(|(c, _)| *c == country) {
                Some((_, count)) => *count = count.saturating_add(n),
                None => self.counts.push((country, n)),
            },
        }
    }

    /// The country with the most addresses; on a tie, the one that appeared first.
    fn most(&self) -> Option<(CountryCode, u128)> {
        // `max_by_key` keeps the last of equal keys: scan in reverse to keep the first.
        self.counts.iter().rev().max_by_key(|(_, n)| *n).copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(code: &str) -> CountryCode {
        CountryCode::new(code).unwrap()
    }

    fn range(start: &str, end: &str, code: &str) -> GeoRange {
        GeoRange::new(start.parse().unwrap(), end.parse().unwrap(), cc(code)).unwrap()
    }

    fn of(map: &GeoMap, prefix: &str) -> Option<String> {
        map.country_of(&prefix.parse().unwrap())
            .map(|c| c.to_string())
    }

    #[test]
    fn a_later_range_overrides_the_addresses_it_covers() {
        let map = GeoMap::from_ranges([
            range("192.0.2.0", "192.0.2.255", "AA"),
            range("192.0.2.64", "192.0.2.127", "BB"),
        ]);
        let texts: Vec<String> = map.ranges().map(|r| r.to_string()).collect();
        assert_eq!(
            texts,
            [
                "192.0.2.0-192.0.2.63 AA",
                "192.0.2.64-192.0.2.127 BB",
                "192.0.2.128-192.0.2.255 AA"
            ]
        );
        // Laid back over the whole block, the first country takes it all again, merged.
        let map = GeoMap::from_ranges([
            range("192.0.2.0", "192.0.2.255", "AA"),
            range("192.0.2.64", "192.0.2.127", "BB"),
            range("192.0.2.0", "192.0.2.255", "AA"),
        ]);
        assert_eq!(map.ipv4_range_count(), 1);
        assert_eq!(map.countries(), [cc("AA")]);
    }

    #[test]
    fn ranges_at_the_ends_of_the_space_do_not_overflow() {
        let map = GeoMap::from_ranges([
            range("0.0.0.0", "255.255.255.255", "AA"),
            range("255.255.255.0", "255.255.255.255", "BB"),
            range("0.0.0.0", "0.0.0.0", "CC"),
            range("::", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "DD"),
        ]);
        assert_eq!(map.ipv4_range_count(), 3);
        assert_eq!(of(&map, "0.0.0.0/0").as_deref(), Some("AA"));
        assert_eq!(of(&map, "255.255.255.255/32").as_deref(), Some("BB"));
        assert_eq!(of(&map, "0.0.0.0/32").as_deref(), Some("CC"));
        assert_eq!(of(&map, "::/0").as_deref(), Some("DD"));
    }

    #[test]
    fn ties_go_to_the_lower_address_and_unknown_space_can_outweigh() {
        let map = GeoMap::from_ranges([
            range("198.51.100.0", "198.51.100.127", "BB"),
            range("198.51.100.128", "198.51.100.255", "AA"),
            range("203.0.113.0", "203.0.113.119", "AA"),
            range("203.0.113.120", "203.0.113.149", "BB"),
            range("192.0.2.0", "192.0.2.63", "DD"),
        ]);
        assert_eq!(of(&map, "198.51.100.0/24").as_deref(), Some("BB"));
        // 120 AA, 30 BB, 106 unknown: AA holds the most and outweighs the unknown.
        assert_eq!(of(&map, "203.0.113.0/24").as_deref(), Some("AA"));
        // 64 DD, 64 unknown: the tie stands for the country.
        assert_eq!(of(&map, "192.0.2.0/25").as_deref(), Some("DD"));
        // 128 BB, 128 AA, 256 unknown in the /23: unknown outweighs each country.
        assert_eq!(of(&map, "198.51.100.0/23"), None);
        // 150 known of 512: mostly unknown.
        assert_eq!(of(&map, "203.0.112.0/23"), None);
        assert_eq!(of(&map, "192.0.2.0/24"), None);
        assert_eq!(of(&map, "2001:db8::/32"), None);
    }
}
