//! Which prefixes concern what is watched: the one test that the archive reader,
//! the feeds and the BGP state all run on every route.
//!
//! A route concerns the watched prefixes when its prefix equals one, covers one or
//! lies inside one. Prefixes are either nested or disjoint, so that is the same as
//! their address ranges overlapping: the watched prefixes are kept as merged,
//! sorted ranges and each test is a binary search, so a watch list of 400,000
//! prefixes costs a route what a list of four does, give or take a few steps.

use ipnet::IpNet;

/// The prefixes of interest; [`PrefixFilter::everything`] passes every route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixFilter {
    /// Merged, sorted, disjoint address ranges (first, last) of the watched prefixes.
    v4: Vec<(u32, u32)>,
    v6: Vec<(u128, u128)>,
    all: bool,
}

fn v4_range(addr: u32, len: u8) -> (u32, u32) {
    let host_bits = 32 - u32::from(len.min(32));
    let mask = u32::MAX.checked_shl(host_bits).unwrap_or(0);
    (addr & mask, addr | !mask)
}

fn v6_range(addr: u128, len: u8) -> (u128, u128) {
    let host_bits = 128 - u32::from(len.min(128));
    let mask = u128::MAX.checked_shl(host_bits).unwrap_or(0);
    (addr & mask, addr | !mask)
}

fn merge<T: Ord + Copy>(mut ranges: Vec<(T, T)>) -> Vec<(T, T)> {
    ranges.sort_unstable();
    let mut merged: Vec<(T, T)> = Vec::with_capacity(ranges.len());
    for (first, last) in ranges {
        match merged.last_mut() {
            // Nested or equal prefixes: the outer range already holds this one.
            Some((_, end)) if first <= *end => *end = (*end).max(last),
            _ => merged.push((first, last)),
        }
    }
    merged
}

fn overlaps<T: Ord + Copy>(ranges: &[(T, T)], (first, last): (T, T)) -> bool {
    // The first range that does not end before this one begins, if it begins in time.
    let index = ranges.partition_point(|(_, end)| *end < first);
    ranges.get(index).is_some_and(|(start, _)| *start <= last)
}

impl PrefixFilter {
    /// Passes routes that overlap one of `prefixes` (the watched prefixes and
    /// aggregates). No prefix at all passes nothing.
    pub fn new<'a>(prefixes: impl IntoIterator<Item = &'a IpNet>) -> Self {
        let (mut v4, mut v6) = (Vec::new(), Vec::new());
        for prefix in prefixes {
            match prefix {
                IpNet::V4(net) => v4.push(v4_range(u32::from(net.addr()), net.prefix_len())),
                IpNet::V6(net) => v6.push(v6_range(u128::from(net.addr()), net.prefix_len())),
            }
        }
        PrefixFilter {
            v4: merge(v4),
            v6: merge(v6),
            all: false,
        }
    }

    /// Passes every route (global views, conformance tests, full-table tools).
    pub fn everything() -> Self {
        PrefixFilter {
            all: true,
            ..PrefixFilter::default()
        }
    }

    /// Does it pass every route?
    pub fn passes_everything(&self) -> bool {
        self.all
    }

    /// The outermost watched prefixes (those no other watched prefix covers), in
    /// address order; none when the filter passes everything.
    pub fn prefixes(&self) -> Vec<IpNet> {
        let v4 = self.v4.iter().map(|(first, last)| {
            let len = (last - first).count_ones();
            IpNet::V4(ipnet::Ipv4Net::new((*first).into(), 32 - len as u8).unwrap_or_default())
        });
        let v6 = self.v6.iter().map(|(first, last)| {
            let len = (last - first).count_ones();
            IpNet::V6(ipnet::Ipv6Net::new((*first).into(), 128 - len as u8).unwrap_or_default())
        });
        v4.chain(v6).collect()
    }

    /// Does a route to `prefix` concern what is watched? A default route covers
    /// everything and says nothing about any network: it never does (unless the
    /// filter passes everything).
    pub fn wants(&self, prefix: &IpNet) -> bool {
        match prefix {
            IpNet::V4(net) => self.wants_v4(u32::from(net.addr()), net.prefix_len()),
            IpNet::V6(net) => self.wants_v6(u128::from(net.addr()), net.prefix_len()),
        }
    }

    /// [`PrefixFilter::wants`] for an IPv4 prefix given as its address and length,
    /// for readers that have not built an `IpNet` yet.
    pub fn wants_v4(&self, addr: u32, len: u8) -> bool {
        self.all || len > 0 && overlaps(&self.v4, v4_range(addr, len))
    }

    /// [`PrefixFilter::wants`] for an IPv6 prefix given as its address and length.
    pub fn wants_v6(&self, addr: u128, len: u8) -> bool {
        self.all || len > 0 && overlaps(&self.v6, v6_range(addr, len))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn equal_covering_and_more_specific_pass() {
        let watched = [net("175.45.176.0/22"), net("2001:db8::/32")];
        let filter = PrefixFilter::new(&watched);
        for yes in [
            "175.45.176.0/22",
            "175.45.177.0/24",
            "175.32.0.0/11",
            "2001:db8:1::/48",
            "2000::/3",
        ] {
            assert!(filter.wants(&net(yes)), "{yes}");
        }
        for no in [
            "175.45.180.0/24",
            "0.0.0.0/0",
            "::/0",
            "2001:db9::/32",
            "10.0.0.0/8",
        ] {
            assert!(!filter.wants(&net(no)), "{no}");
        }
        assert!(PrefixFilter::everything().wants(&net("0.0.0.0/0")));
        let nested = [
            net("175.45.177.0/24"),
            net("175.45.176.0/22"),
            net("2001:db8::/32"),
        ];
        assert_eq!(
            PrefixFilter::new(&nested).prefixes(),
            vec![net("175.45.176.0/22"), net("2001:db8::/32")]
        );
        assert!(!PrefixFilter::new(&[]).wants(&net("10.0.0.0/8")));
    }

    #[test]
    fn many_prefixes_agree_with_a_scan() {
        let watched: Vec<IpNet> = (0..2000u32)
            .map(|i| {
                IpNet::V4(
                    ipnet::Ipv4Net::new(((i * 7919 % 65536) << 16).into(), 16 + (i % 9) as u8)
                        .unwrap()
                        .trunc(),
                )
            })
            .collect();
        let filter = PrefixFilter::new(&watched);
        for i in 0..5000u32 {
            let probe = IpNet::V4(
                ipnet::Ipv4Net::new((i.wrapping_mul(2_654_435_761)).into(), 8 + (i % 25) as u8)
                    .unwrap()
                    .trunc(),
            );
            let scan = watched
                .iter()
                .any(|w| w.contains(&probe) || probe.contains(w));
            assert_eq!(filter.wants(&probe), scan, "{probe}");
        }
    }
}
