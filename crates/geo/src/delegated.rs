//! RIR delegation files: an RIR's `delegated-<rir>-extended-latest` (and the older
//! `delegated-<rir>-latest`) and the NRO's combined file.
//!
//! ```text
//! 2.3|apnic|20260617|…|19830613|20260616|+1000     header: version|registry|serial|records|start|end|UTC offset
//! apnic|*|ipv4|*|45910|summary                      summary: records of one type
//! apnic|KP|ipv4|175.45.176.0|1024|20091104|allocated|A92319D5
//! apnic|JP|ipv6|2001:200::|35|19990813|allocated|A9108C4A
//! apnic|JP|asn|173|1|20020801|allocated|A91A7381
//! ```
//! A record is `registry|cc|type|start|value|date|status[|opaque-id…]`. For `ipv4` the
//! value is the number of addresses (not always a power of two, so one record can be
//! several prefixes); for `ipv6` it is the prefix length; for `asn` the number of AS
//! numbers. Only `allocated` and `assigned` space has a country; `available`,
//! `reserved`, `ietf` and `iana` space (the last two: IANA's pools in the NRO's file)
//! is skipped, and so are `ZZ` and empty codes. Any other status is a bad line. `#`
//! lines are comments.
//! `asn` records are kept as [`AsnDelegation`]s for a later AS-to-country use.
//!
//! The file must begin (after comments) with the header: without one it is not a
//! delegation file. A summary count that disagrees with the records that follow is
//! reported as a problem, since it means the file was cut short or edited.

use crate::range::{AsnDelegation, GeoRange};
use crate::report::{GeoError, GeoFormat, Parsed, Place, ReadReport, inert};
use crate::text::each_text_line;
use blackout_model::{Asn, CountryCode};
use ipnet::Ipv6Net;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Reads a delegation file (already decompressed). Bad lines are counted and
/// described; the file is refused only when it does not begin with the header.
pub fn parse_delegated(bytes: &[u8], source: &str) -> Result<Parsed, GeoError> {
    let mut report = ReadReport::new(source, GeoFormat::Delegated);
    let mut ranges = Vec::new();
    let mut asns = Vec::new();
    let mut header_seen = false;
    // Per record type: (the summary's line and count, the records found).
    let mut summaries: Vec<(&str, u64, u64)> = Vec::new();
    let mut found = [0u64; 3];
    each_text_line(bytes, &mut report, |report, number, text| {
        let at = Place::Line(number);
        if !header_seen {
            if !is_header(text) {
                return Err(GeoError::NotFormat {
                    source_name: source.to_string(),
                    format: GeoFormat::Delegated,
                    reason: format!(
                        "line {number}: expected the header `version|registry|serial|records|startdate|enddate|UTCoffset`, found `{}`",
                        inert(text)
                    ),
                });
            }
            header_seen = true;
            report.skipped += 1;
            return Ok(());
        }
        let fields: Vec<&str> = text.split('|').collect();
        if let Some(summary) = parse_summary(&fields) {
            match summary {
                Ok((kind, count)) => {
                    summaries.push((kind, count, number));
                    report.skipped += 1;
                }
                Err(what) => report.bad(at, what),
            }
            return Ok(());
        }
        // Summaries count every record of a type, whatever else is wrong with it.
        if let Some(kind) = fields.get(2).and_then(|k| Kind::from_text(k)) {
            found[kind as usize] += 1;
        }
        match parse_record(&fields) {
            Ok(Record::Range(range)) => ranges.push(range),
            Ok(Record::Asns(block)) => asns.push(block),
            Ok(Record::NoCountry) => report.skipped += 1,
            Err(what) => report.bad(at, what),
        }
        Ok(())
    })?;
    if !header_seen {
        return Err(GeoError::NotFormat {
            source_name: source.to_string(),
            format: GeoFormat::Delegated,
            reason: "no header line (the file is empty or holds only comments)".into(),
        });
    }
    for (kind, declared, line) in summaries {
        let counted = Kind::from_text(kind).map_or(0, |k| found[k as usize]);
        if declared != counted {
            report.note(
                Place::Line(line),
                format!(
                    "the summary says {declared} {kind} records, the file has {counted}: cut short or edited?"
                ),
            );
        }
    }
    report.ranges = ranges.len() as u64;
    Ok(Parsed {
        ranges,
        asns,
        report,
    })
}

/// True when `line` is a delegation file's header.
pub(crate) fn is_header(line: &str) -> bool {
    let fields: Vec<&str> = line.split('|').collect();
    let version_ok = fields.first().is_some_and(|v| {
        let mut parts = v.splitn(2, '.');
        parts.all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    let registry_ok = fields
        .get(1)
        .is_some_and(|r| !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric()));
    fields.len() >= 6 && version_ok && registry_ok
}

/// The record types a delegation file holds.
#[derive(Clone, Copy)]
enum Kind {
    Asn = 0,
    Ipv4 = 1,
    Ipv6 = 2,
}

impl Kind {
    fn from_text(text: &str) -> Option<Kind> {
        match text {
            "asn" => Some(Kind::Asn),
            "ipv4" => Some(Kind::Ipv4),
            "ipv6" => Some(Kind::Ipv6),
            _ => None,
        }
    }
}

/// What one record gives.
enum Record {
    Range(GeoRange),
    Asns(AsnDelegation),
    /// Space with no country: available, reserved, `ZZ` or an empty code.
    NoCountry,
}

/// `registry|*|type|*|count|summary`: None when the line is not a summary.
fn parse_summary<'a>(fields: &[&'a str]) -> Option<Result<(&'a str, u64), String>> {
    if fields.get(1) != Some(&"*") || fields.last() != Some(&"summary") {
        return None;
    }
    let [_, _, kind, _, count, _] = fields else {
        return Some(Err(format!(
            "a summary has 6 fields, this has {}",
            fields.len()
        )));
    };
    Some(
        count
            .parse()
            .map(|count| (*kind, count))
            .map_err(|_| format!("summary count `{}` is not a number", inert(count))),
    )
}

fn parse_record(fields: &[&str]) -> Result<Record, String> {
    let [_registry, code, kind, start, value, _date, status, ..] = fields else {
        return Err(format!(
            "a record has 7 or more fields (registry|cc|type|start|value|date|status), this has {}",
            fields.len()
        ));
    };
    let kind = Kind::from_text(kind)
        .ok_or_else(|| format!("type `{}` is not asn, ipv4 or ipv6", inert(kind)))?;
    match *status {
        "allocated" | "assigned" => {}
        // `ietf` and `iana` mark IANA's own pools in the NRO's combined file.
        "available" | "reserved" | "ietf" | "iana" => return Ok(Record::NoCountry),
        other => {
            return Err(format!(
                "status `{}` is not allocated, assigned, available, reserved, ietf or iana",
                inert(other)
            ));
        }
    }
    if code.is_empty() || code.eq_ignore_ascii_case("ZZ") {
        return Ok(Record::NoCountry);
    }
    let country = CountryCode::new(code)
        .ok_or_else(|| format!("country `{}` is not two letters", inert(code)))?;
    let record = match kind {
        Kind::Ipv4 => Record::Range(ipv4_range(start, value, country)?),
        Kind::Ipv6 => Record::Range(ipv6_range(start, value, country)?),
        Kind::Asn => Record::Asns(asn_block(start, value, country)?),
    };
    Ok(record)
}

/// `start` and an address count (any count, not only powers of two).
fn ipv4_range(start: &str, value: &str, country: CountryCode) -> Result<GeoRange, String> {
    let first: Ipv4Addr = start
        .parse()
        .map_err(|_| format!("start `{}` is not an IPv4 address", inert(start)))?;
    let count: u64 = positive(value, "address count")?;
    let last = u64::from(u32::from(first)) + count - 1;
    let last = u32::try_from(last)
        .map_err(|_| format!("{first} plus {count} addresses runs past 255.255.255.255"))?;
    range(IpAddr::V4(first), IpAddr::V4(Ipv4Addr::from(last)), country)
}

/// `start` and a prefix length; the start must be the prefix's first address.
fn ipv6_range(start: &str, value: &str, country: CountryCode) -> Result<GeoRange, String> {
    let first: Ipv6Addr = start
        .parse()
        .map_err(|_| format!("start `{}` is not an IPv6 address", inert(start)))?;
    let prefix = value
        .parse::<u8>()
        .ok()
        .and_then(|len| Ipv6Net::new(first, len).ok())
        .ok_or_else(|| format!("prefix length `{}` is not 0 to 128", inert(value)))?;
    if prefix.network() != first {
        return Err(format!("{first} is not the first address of a /{value}"));
    }
    range(IpAddr::V6(first), IpAddr::V6(prefix.broadcast()), country)
}

fn range(start: IpAddr, end: IpAddr, country: CountryCode) -> Result<GeoRange, String> {
    GeoRange::new(start, end, country).ok_or_else(|| format!("{start} to {end} is not a range"))
}

/// A count of 1 or more; `what` names it in the error.
fn positive<N: std::str::FromStr + PartialOrd + From<u8>>(
    value: &str,
    what: &str,
) -> Result<N, String> {
    value
        .parse()
        .ok()
        .filter(|n| *n > N::from(0))
        .ok_or_else(|| format!("{what} `{}` is not a positive number", inert(value)))
}

fn asn_block(start: &str, value: &str, country: CountryCode) -> Result<AsnDelegation, String> {
    let first: u32 = start
        .parse()
        .map_err(|_| format!("first AS number `{}` is not a number", inert(start)))?;
    let count: u32 = positive(value, "AS count")?;
    if first.checked_add(count - 1).is_none() {
        return Err(format!("AS{first} plus {count} runs past AS4294967295"));
    }
    Ok(AsnDelegation {
        first: Asn(first),
        count,
        country,
    })
}
