//! An address range with its country ([`GeoRange`]), what every reader yields, and
//! the integer view of IPv4 and IPv6 addresses (`Address`, for `u32` and `u128`)
//! that the map stores and searches.

use blackout_model::{Asn, CountryCode};
use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::fmt;
use std::net::IpAddr;

/// An inclusive range of addresses of one family, and the country it belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct GeoRange {
    start: IpAddr,
    end: IpAddr,
    country: CountryCode,
}

impl GeoRange {
    /// The range `start..=end`; None when the two are of different families or
    /// `start` comes after `end`.
    pub fn new(start: IpAddr, end: IpAddr, country: CountryCode) -> Option<Self> {
        let ordered = match (start, end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => s <= e,
            (IpAddr::V6(s), IpAddr::V6(e)) => s <= e,
            _ => false,
        };
        ordered.then_some(GeoRange {
            start,
            end,
            country,
        })
    }

    /// The addresses of a prefix.
    pub fn of_prefix(prefix: IpNet, country: CountryCode) -> Self {
        GeoRange {
            start: prefix.network(),
            end: prefix.broadcast(),
            country,
        }
    }

    /// The first address.
    pub fn start(&self) -> IpAddr {
        self.start
    }

    /// The last address (inclusive).
    pub fn end(&self) -> IpAddr {
        self.end
    }

    /// The country of every address in the range.
    pub fn country(&self) -> CountryCode {
        self.country
    }

    /// The smallest list of prefixes that covers exactly this range, in address order.
    pub fn prefixes(&self) -> Vec<IpNet> {
        match (self.start, self.end) {
            (IpAddr::V4(s), IpAddr::V4(e)) => cidr_cover(u32::from(s), u32::from(e)),
            (IpAddr::V6(s), IpAddr::V6(e)) => cidr_cover(u128::from(s), u128::from(e)),
            // `new` and `of_prefix` never mix families.
            _ => Vec::new(),
        }
    }
}

impl fmt::Display for GeoRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{} {}", self.start, self.end, self.country)
    }
}

/// A block of AS numbers delegated to a holder in one country (RIR delegation files),
/// kept for a later AS-to-country use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct AsnDelegation {
    /// The first AS number of the block.
    pub first: Asn,
    /// How many consecutive AS numbers the block holds (at least 1).
    pub count: u32,
    /// The country the RIR recorded for the holder.
    pub country: CountryCode,
}

/// An address as an unsigned integer (`u32` for IPv4, `u128` for IPv6): what the map
/// stores, compares and counts.
pub(crate) trait Address: Copy + Ord + fmt::Debug + Send + Sync + 'static {
    /// The highest address of the family.
    const MAX: Self;
    /// The number of bits in an address.
    const BITS: u32;

    /// How many addresses `start..=end` holds, saturating at `u128::MAX` (only the
    /// whole IPv6 space, 2^128 addresses, does not fit).
    fn count(start: Self, end: Self) -> u128;
    /// The next address; the caller ensures `self < MAX`.
    fn successor(self) -> Self;
    /// The previous address; the caller ensures `self > 0`.
    fn predecessor(self) -> Self;
    /// The address with its lowest `bits` bits set (the end of an aligned block).
    fn with_host_bits(self, bits: u32) -> Self;
    /// How many low bits are zero (`BITS` for zero).
    fn trailing_zeros(self) -> u32;
    /// The block `self/len` as a prefix.
    fn prefix(self, len: u8) -> IpNet;
    /// The address as an [`IpAddr`].
    fn ip(self) -> IpAddr;
}

/// The two families differ only in their integer and their `IpAddr` variant.
macro_rules! address {
    ($int:ty, $net:ident, $ip:ident) => {
        impl Address for $int {
            const MAX: Self = <$int>::MAX;
            const BITS: u32 = <$int>::BITS;

            fn count(start: Self, end: Self) -> u128 {
                u128::from(end - start).saturating_add(1)
            }
            fn successor(self) -> Self {
                self + 1
            }
            fn predecessor(self) -> Self {
                self - 1
            }
            fn with_host_bits(self, bits: u32) -> Self {
                self | <$int>::MAX.checked_shr(Self::BITS - bits).unwrap_or(0)
            }
            fn trailing_zeros(self) -> u32 {
                <$int>::trailing_zeros(self)
            }
            fn prefix(self, len: u8) -> IpNet {
                IpNet::$ip($net::new_assert(self.into(), len))
            }
            fn ip(self) -> IpAddr {
                IpAddr::$ip(self.into())
            }
        }
    };
}

address!(u32, Ipv4Net, V4);
address!(u128, Ipv6Net, V6);

/// The aligned blocks that cover `start..=end` exactly, largest first at each step.
fn cidr_cover<A: Address>(start: A, end: A) -> Vec<IpNet> {
    let mut out = Vec::new();
    let mut at = start;
    loop {
        // The largest block that starts at `at` (alignment) and stays within `end`.
        let mut host_bits = at.trailing_zeros().min(A::BITS);
        while host_bits > 0 && at.with_host_bits(host_bits) > end {
            host_bits -= 1;
        }
        let block_end = at.with_host_bits(host_bits);
        // host_bits <= BITS <= 128, so the length fits in a u8.
        out.push(at.prefix((A::BITS - host_bits) as u8));
        if block_end >= end {
            return out;
        }
        at = block_end.successor();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cc(code: &str) -> CountryCode {
        CountryCode::new(code).unwrap()
    }

    #[test]
    fn a_range_refuses_mixed_families_and_reversed_ends() {
        let v4: IpAddr = "192.0.2.0".parse().unwrap();
        let v6: IpAddr = "2001:db8::".parse().unwrap();
        assert!(GeoRange::new(v4, v6, cc("KP")).is_none());
        assert!(GeoRange::new("192.0.2.9".parse().unwrap(), v4, cc("KP")).is_none());
        assert!(GeoRange::new(v4, v4, cc("KP")).is_some());
    }

    #[test]
    fn prefixes_cover_a_range_exactly() {
        let range = GeoRange::new(
            "175.45.176.0".parse().unwrap(),
            "175.45.179.255".parse().unwrap(),
            cc("KP"),
        )
        .unwrap();
        assert_eq!(range.prefixes(), vec!["175.45.176.0/22".parse().unwrap()]);
        let odd = GeoRange::new(
            "192.0.2.1".parse().unwrap(),
            "192.0.2.6".parse().unwrap(),
            cc("ZA"),
        )
        .unwrap();
        let texts: Vec<String> = odd.prefixes().iter().map(|p| p.to_string()).collect();
        assert_eq!(
            texts,
            [
                "192.0.2.1/32",
                "192.0.2.2/31",
                "192.0.2.4/31",
                "192.0.2.6/32"
            ]
        );
        let everything = GeoRange::of_prefix("::/0".parse().unwrap(), cc("ZA"));
        assert_eq!(everything.prefixes(), vec!["::/0".parse().unwrap()]);
        let all_v4 = GeoRange::of_prefix("0.0.0.0/0".parse().unwrap(), cc("ZA"));
        assert_eq!(all_v4.prefixes(), vec!["0.0.0.0/0".parse().unwrap()]);
    }
}
