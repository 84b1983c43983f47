//! Which prefixes a feed passes on: those that concern the watched network (equal,
//! covering or more specific), the same test as the BGP state's `WatchSet::concerns`,
//! so that a full feed costs a prefix test per route and nothing more.

use ipnet::IpNet;

/// The prefixes of interest; empty means every prefix.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PrefixFilter {
    v4: Vec<ipnet::Ipv4Net>,
    v6: Vec<ipnet::Ipv6Net>,
    all: bool,
}

impl PrefixFilter {
    /// Passes routes that overlap one of `prefixes` (the watched prefixes and aggregates).
    pub fn new<'a>(prefixes: impl IntoIterator<Item = &'a IpNet>) -> Self {
        let mut filter = PrefixFilter::default();
        for prefix in prefixes {
            match prefix {
                IpNet::V4(net) => filter.v4.push(*net),
                IpNet::V6(net) => filter.v6.push(*net),
            }
        }
        filter
    }

    /// Passes every route (conformance tests, full-table tools).
    pub fn everything() -> Self {
        PrefixFilter {
            all: true,
            ..PrefixFilter::default()
        }
    }

    /// The prefixes, as given.
    pub fn prefixes(&self) -> Vec<IpNet> {
        self.v4
            .iter()
            .map(|n| IpNet::V4(*n))
            .chain(self.v6.iter().map(|n| IpNet::V6(*n)))
            .collect()
    }

    /// Does a route to `prefix` concern the watched network? A default route never does.
    pub fn wants(&self, prefix: &IpNet) -> bool {
        if self.all {
            return true;
        }
        if prefix.prefix_len() == 0 {
            return false;
        }
        match prefix {
            IpNet::V4(p) => self.v4.iter().any(|w| w.contains(p) || p.contains(w)),
            IpNet::V6(p) => self.v6.iter().any(|w| w.contains(p) || p.contains(w)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn equal_covering_more_specific() {
        let watched: Vec<IpNet> = vec!["175.45.176.0/22".parse().unwrap()];
        let filter = PrefixFilter::new(&watched);
        for yes in ["175.45.176.0/22", "175.45.177.0/24", "175.32.0.0/11"] {
            assert!(filter.wants(&yes.parse().unwrap()), "{yes}");
        }
        for no in ["175.45.180.0/24", "0.0.0.0/0", "2001:db8::/32"] {
            assert!(!filter.wants(&no.parse().unwrap()), "{no}");
        }
        assert!(PrefixFilter::everything().wants(&"0.0.0.0/0".parse().unwrap()));
    }
}
