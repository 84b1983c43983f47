//! The watched prefixes, and the overlap test the reader runs on every prefix.
//!
//! Two prefixes overlap when one covers the other (or they are equal): their addresses
//! agree on the shorter of the two lengths. The watch list of a profile is short, so a
//! linear scan over pre-computed integers is faster than any tree.

use ipnet::IpNet;

/// A set of prefixes that routes are kept for; `None` keeps everything.
#[derive(Clone, Debug, Default)]
pub(crate) struct Watch {
    all: bool,
    v4: Vec<(u32, u8)>,
    v6: Vec<(u128, u8)>,
}

impl Watch {
    pub(crate) fn new(prefixes: Option<&[IpNet]>) -> Self {
        let Some(prefixes) = prefixes else {
            return Watch {
                all: true,
                ..Watch::default()
            };
        };
        let mut watch = Watch::default();
        for prefix in prefixes {
            match prefix {
                IpNet::V4(net) => watch.v4.push((u32::from(net.addr()), net.prefix_len())),
                IpNet::V6(net) => watch.v6.push((u128::from(net.addr()), net.prefix_len())),
            }
        }
        watch
    }

    /// Does `prefix` overlap a watched prefix?
    pub(crate) fn overlaps(&self, prefix: &IpNet) -> bool {
        if self.all {
            return true;
        }
        match prefix {
            IpNet::V4(net) => self.overlaps_v4(u32::from(net.addr()), net.prefix_len()),
            IpNet::V6(net) => self.overlaps_v6(u128::from(net.addr()), net.prefix_len()),
        }
    }

    pub(crate) fn overlaps_v4(&self, addr: u32, len: u8) -> bool {
        self.all
            || self.v4.iter().any(|&(watched, watched_len)| {
                let shorter = u32::from(len.min(watched_len).min(32));
                let mask = u32::MAX.checked_shl(32 - shorter).unwrap_or(0);
                (addr ^ watched) & mask == 0
            })
    }

    pub(crate) fn overlaps_v6(&self, addr: u128, len: u8) -> bool {
        self.all
            || self.v6.iter().any(|&(watched, watched_len)| {
                let shorter = u32::from(len.min(watched_len).min(128));
                let mask = u128::MAX.checked_shl(128 - shorter).unwrap_or(0);
                (addr ^ watched) & mask == 0
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> IpNet {
        text.parse().unwrap()
    }

    #[test]
    fn overlap_is_equal_covering_or_more_specific() {
        let watched = [net("175.45.176.0/22"), net("2001:db8::/32")];
        let watch = Watch::new(Some(&watched));
        assert!(watch.overlaps(&net("175.45.176.0/22")));
        assert!(watch.overlaps(&net("175.45.179.0/24")));
        assert!(watch.overlaps(&net("175.0.0.0/8")));
        assert!(watch.overlaps(&net("0.0.0.0/0")));
        assert!(!watch.overlaps(&net("175.45.180.0/24")));
        assert!(!watch.overlaps(&net("175.45.172.0/22")));
        assert!(watch.overlaps(&net("2001:db8:1::/48")));
        assert!(watch.overlaps(&net("::/0")));
        assert!(!watch.overlaps(&net("2001:db9::/32")));
        assert!(Watch::new(None).overlaps(&net("10.0.0.0/8")));
        assert!(!Watch::new(Some(&[])).overlaps(&net("10.0.0.0/8")));
    }
}
