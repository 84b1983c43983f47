//! Time as the core sees it: a value handed in, never read from a clock.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::str::FromStr;

/// A point in time, in microseconds since the Unix epoch, UTC.
///
/// Microseconds because BGP4MP_ET and BMP carry them; archives of whole seconds
/// convert without loss.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(i64);

/// A time string that is not RFC 3339 (or a bare Unix time).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a time: use RFC 3339 (2022-01-14T00:00:00Z) or Unix seconds")]
pub struct TimestampError(pub String);

impl Timestamp {
    /// The epoch itself.
    pub const EPOCH: Timestamp = Timestamp(0);

    /// From microseconds since the epoch.
    pub const fn from_micros(micros: i64) -> Self {
        Timestamp(micros)
    }

    /// From whole seconds since the epoch.
    pub const fn from_secs(secs: i64) -> Self {
        Timestamp(secs * 1_000_000)
    }

    /// From fractional seconds, as bgpkit-parser reports them.
    pub fn from_secs_f64(secs: f64) -> Self {
        Timestamp((secs * 1_000_000.0).round() as i64)
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub const fn as_secs(self) -> i64 {
        self.0.div_euclid(1_000_000)
    }

    /// Fractional seconds since the epoch.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1_000_000.0
    }

    /// This time moved by a signed number of seconds.
    pub const fn add_secs(self, secs: i64) -> Self {
        Timestamp(self.0 + secs * 1_000_000)
    }

    /// Seconds from `earlier` to `self` (negative if `earlier` is later).
    pub fn secs_since(self, earlier: Timestamp) -> f64 {
        (self.0 - earlier.0) as f64 / 1_000_000.0
    }

    /// This time in UTC with a strftime `format` (`%Y-%m-%d %H:%M UTC`); RFC 3339
    /// for times out of the calendar's range.
    pub fn format_utc(self, format: &str) -> String {
        jiff::Timestamp::from_microsecond(self.0)
            .map(|ts| ts.strftime(format).to_string())
            .unwrap_or_else(|_| self.to_rfc3339())
    }

    /// RFC 3339 in UTC with a `Z`, with fractional seconds only where there are any.
    pub fn to_rfc3339(self) -> String {
        match jiff::Timestamp::from_microsecond(self.0) {
            Ok(ts) => {
                if self.0 % 1_000_000 == 0 {
                    ts.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
                } else {
                    ts.strftime("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
                }
            }
            // Out of jiff's range (years beyond ±9999): still say something exact.
            Err(_) => format!("@{}us", self.0),
        }
    }
}

/// A duration for people, in its two largest units: `45 s`, `12 m`, `9 h 30 m`,
/// `2 d 3 h`.
pub fn human_duration(secs: f64) -> String {
    let secs = if secs.is_finite() { secs.max(0.0) } else { 0.0 };
    let total = secs.round() as u64;
    let (days, hours, minutes, seconds) = (
        total / 86_400,
        total % 86_400 / 3600,
        total % 3600 / 60,
        total % 60,
    );
    if days > 0 {
        format!("{days} d {hours} h")
    } else if hours > 0 {
        format!("{hours} h {minutes} m")
    } else if minutes > 0 {
        format!("{minutes} m")
    } else {
        format!("{seconds} s")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339())
    }
}

/// Parses RFC 3339 (with any offset), a bare date (midnight UTC) or Unix seconds.
/// The latest Unix second a query may name: the end of year 9999.
pub const MAX_QUERY_UNIX_SECS: i64 = 253_402_300_799;

impl Timestamp {
    /// A time as people write it in a query (`blackout events --since`, the API's
    /// `since=` and `until=`): RFC 3339, a date, Unix seconds up to year 9999, or a
    /// span ago from `now` (`90s`, `30m`, `24h`, `7d`). `None` for anything else.
    pub fn parse_query(text: &str, now: Timestamp) -> Option<Timestamp> {
        let text = text.trim();
        if let Ok(secs) = text.parse::<i64>() {
            return (-MAX_QUERY_UNIX_SECS..=MAX_QUERY_UNIX_SECS)
                .contains(&secs)
                .then(|| Timestamp::from_secs(secs));
        }
        if let Ok(time) = text.parse::<Timestamp>() {
            return Some(time);
        }
        let unit_at = text.len().checked_sub(1)?;
        let (number, unit) = (text.get(..unit_at)?, text.get(unit_at..)?);
        if number.is_empty() || !number.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let n: i64 = number.parse().ok()?;
        let per_unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            _ => return None,
        };
        let secs = n
            .checked_mul(per_unit)
            .filter(|secs| *secs <= 2 * MAX_QUERY_UNIX_SECS)?;
        Some(now.add_secs(-secs))
    }
}

impl FromStr for Timestamp {
    type Err = TimestampError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Ok(secs) = s.parse::<i64>() {
            // Within the years RFC 3339 can write (±9999), as every other form
            // is: Unix seconds from outside may be any i64, whose microseconds
            // overflow.
            return secs
                .checked_mul(1_000_000)
                .filter(|micros| jiff::Timestamp::from_microsecond(*micros).is_ok())
                .map(Timestamp)
                .ok_or_else(|| TimestampError(s.to_string()));
        }
        if let Ok(ts) = s.parse::<jiff::Timestamp>() {
            return Ok(Timestamp(ts.as_microsecond()));
        }
        if let Ok(date) = s.parse::<jiff::civil::Date>()
            && let Ok(zoned) = date.to_zoned(jiff::tz::TimeZone::UTC)
        {
            return Ok(Timestamp(zoned.timestamp().as_microsecond()));
        }
        Err(TimestampError(s.to_string()))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_rfc3339())
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_round_trip() {
        let t = Timestamp::from_secs(1_418_947_200);
        assert_eq!(t.to_rfc3339(), "2014-12-19T00:00:00Z");
        assert_eq!("2014-12-19T00:00:00Z".parse::<Timestamp>(), Ok(t));
        assert_eq!("2014-12-19".parse::<Timestamp>(), Ok(t));
        assert_eq!("1418947200".parse::<Timestamp>(), Ok(t));
        let fine = Timestamp::from_micros(1_418_947_200_250_000);
        assert_eq!(fine.to_rfc3339(), "2014-12-19T00:00:00.250000Z");
        assert_eq!(fine.to_rfc3339().parse::<Timestamp>(), Ok(fine));
        assert!("yesterday".parse::<Timestamp>().is_err());
        // Seconds whose microseconds overflow, or past year 9999, are no time.
        for huge in ["177777777777777777", "-9223372036854775808", "253402300800"] {
            assert!(huge.parse::<Timestamp>().is_err(), "{huge}");
        }
        assert!("4102444800".parse::<Timestamp>().is_ok());
    }

    #[test]
    fn query_times_absolute_and_ago() {
        let now = Timestamp::from_secs(1_700_000_000);
        let at = |text| Timestamp::parse_query(text, now);
        assert_eq!(at("24h"), Some(now.add_secs(-86_400)));
        assert_eq!(at("7d"), Some(now.add_secs(-7 * 86_400)));
        assert_eq!(at("30m"), Some(now.add_secs(-1800)));
        assert_eq!(at("90s"), Some(now.add_secs(-90)));
        assert_eq!(at("1642200000"), Some(Timestamp::from_secs(1_642_200_000)));
        assert_eq!(
            at("2022-01-14T00:00:00Z"),
            Some(Timestamp::from_secs(1_642_118_400))
        );
        assert_eq!(at("2022-01-14"), Some(Timestamp::from_secs(1_642_118_400)));
        for bad in [
            "",
            "h",
            "-5h",
            "+5h",
            "24x",
            "yesterday",
            "1.5h",
            "24hh",
            "é",
            "9\u{0}h",
            "99999999999999999",
            "9223372036854775807d",
            "99999999999999d",
        ] {
            assert_eq!(at(bad), None, "{bad}");
        }
    }

    #[test]
    fn arithmetic() {
        let t = Timestamp::from_secs(100);
        assert_eq!(t.add_secs(5).secs_since(t), 5.0);
        assert_eq!(Timestamp::from_secs_f64(1.5).as_micros(), 1_500_000);
        assert_eq!(Timestamp::from_micros(-1).as_secs(), -1);
    }
}
