//! Autonomous system numbers.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A 32-bit autonomous system number (RFC 6793).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Asn(pub u32);

impl Asn {
    /// AS_TRANS (RFC 6793): a placeholder for a 4-byte ASN on a 2-byte session.
    pub const TRANS: Asn = Asn(23456);

    /// The number itself.
    pub fn get(self) -> u32 {
        self.0
    }
}

impl fmt::Display for Asn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AS{}", self.0)
    }
}

impl From<u32> for Asn {
    fn from(value: u32) -> Self {
        Asn(value)
    }
}

/// Accepts `64496`, `AS64496` and `as64496`, the forms that RPKI tools and people write.
impl FromStr for Asn {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let digits = s
            .strip_prefix("AS")
            .or_else(|| s.strip_prefix("as"))
            .unwrap_or(s);
        digits
            .parse::<u32>()
            .map(Asn)
            .map_err(|_| format!("`{s}` is not an AS number"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_written_forms() {
        assert_eq!("131279".parse::<Asn>(), Ok(Asn(131279)));
        assert_eq!("AS4837".parse::<Asn>(), Ok(Asn(4837)));
        assert!("AS".parse::<Asn>().is_err());
        assert!("4294967296".parse::<Asn>().is_err());
        assert_eq!(Asn(20485).to_string(), "AS20485");
    }
}
