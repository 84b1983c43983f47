//! Countries, and the one question a prefix-to-country map answers.
//!
//! [`CountryCode`] is an ISO 3166-1 alpha-2 code held in two bytes, so that a map
//! of 300,000 ranges or an entity per country costs little. [`CountryLookup`] is
//! what the core asks of such a map (`blackout-geo` reads RIR, NRO, CSV and MMDB
//! files into one); the core never reads a file itself.

use ipnet::IpNet;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// An ISO 3166-1 alpha-2 country code (`KP`), always two uppercase ASCII letters.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CountryCode([u8; 2]);

impl CountryCode {
    /// The code from text, in either case; None unless it is two ASCII letters.
    pub fn new(text: &str) -> Option<Self> {
        match text.as_bytes() {
            [a, b] if a.is_ascii_alphabetic() && b.is_ascii_alphabetic() => Some(CountryCode([
                a.to_ascii_uppercase(),
                b.to_ascii_uppercase(),
            ])),
            _ => None,
        }
    }

    /// The code as text.
    pub fn as_str(&self) -> &str {
        // Two ASCII letters by construction.
        std::str::from_utf8(&self.0).unwrap_or("??")
    }
}

impl fmt::Display for CountryCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for CountryCode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CountryCode::new(s)
            .ok_or_else(|| format!("`{s}` is not a country code (two letters, ISO 3166-1)"))
    }
}

impl Serialize for CountryCode {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

impl<'de> Deserialize<'de> for CountryCode {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer)?
            .parse()
            .map_err(serde::de::Error::custom)
    }
}

/// Which country a prefix belongs to: what a prefix-to-country map tells the core.
pub trait CountryLookup: Send + Sync {
    /// The country of the addresses of `prefix`; when they lie in several
    /// countries, the one that holds most of them. None when the map does not know.
    fn country_of(&self, prefix: &IpNet) -> Option<CountryCode>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_two_letters_uppercased() {
        assert_eq!(
            CountryCode::new("kp").map(|c| c.to_string()),
            Some("KP".into())
        );
        assert_eq!("KP".parse::<CountryCode>().unwrap().as_str(), "KP");
        for bad in ["", "K", "KPR", "K1", "é"] {
            assert!(CountryCode::new(bad).is_none(), "{bad}");
        }
        let json = serde_json::to_string(&CountryCode::new("ir").unwrap()).unwrap();
        assert_eq!(json, "\"IR\"");
    }
}
