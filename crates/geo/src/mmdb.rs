//! MaxMind DB files (GeoLite2-Country, DB-IP lite, ip-location-db's `-mmdb` packages),
//! read with the `maxminddb` crate into ranges.
//!
//! Every network of the database is walked once (IPv4 networks of an IPv6 database
//! once, not again under their IPv6 aliases). A record's country is, in this order,
//! `country.iso_code` (GeoLite2, DB-IP), `registered_country.iso_code` (GeoLite2
//! networks with no located country) or a top-level `country_code`
//! (ip-location-db). Records are decoded once per data offset, since many networks
//! share one record. A database in which no record has a country (an ASN or ISP
//! database) is refused.

use crate::range::GeoRange;
use crate::report::{GeoError, GeoFormat, Parsed, Place, ReadReport, inert};
use blackout_model::CountryCode;
use ipnet::IpNet;
use maxminddb::{Reader, WithinOptions};
use serde::Deserialize;
use std::collections::HashMap;

/// The marker that opens an MMDB file's metadata section.
const METADATA_MARKER: &[u8] = b"\xab\xcd\xefMaxMind.com";
/// The metadata section sits in the last 128 KiB of the file (the format's rule).
const METADATA_WINDOW: usize = 128 * 1024;

/// Reads an MMDB file (already decompressed). Records that do not decode are counted
/// and described; the file is refused when it is not MMDB or has no country at all.
pub fn parse_mmdb(bytes: &[u8], source: &str) -> Result<Parsed, GeoError> {
    let not_mmdb = |reason: String| GeoError::NotFormat {
        source_name: source.to_string(),
        format: GeoFormat::Mmdb,
        reason,
    };
    let reader = Reader::from_source(bytes).map_err(|e| not_mmdb(e.to_string()))?;
    let networks = reader
        .networks(WithinOptions::default())
        .map_err(|e| not_mmdb(e.to_string()))?;
    let mut report = ReadReport::new(source, GeoFormat::Mmdb);
    let mut ranges = Vec::new();
    let mut by_offset: HashMap<usize, Result<Option<CountryCode>, String>> = HashMap::new();
    for item in networks {
        report.entries += 1;
        let found = item.and_then(|lookup| {
            let network = lookup.network()?;
            let prefix = IpNet::new(network.ip(), network.prefix())
                .map_err(|e| maxminddb::MaxMindDbError::invalid_input(e.to_string()))?;
            let country = match lookup.offset() {
                Some(offset) => by_offset
                    .entry(offset)
                    .or_insert_with(|| country_of_record(&lookup))
                    .clone(),
                None => Ok(None),
            };
            Ok((prefix, country))
        });
        match found {
            Ok((prefix, Ok(Some(country)))) => ranges.push(GeoRange::of_prefix(prefix, country)),
            Ok((_, Ok(None))) => report.skipped += 1,
            Ok((prefix, Err(what))) => report.bad(Place::Network(prefix), what),
            Err(error) => report.bad(Place::File, format!("damaged search tree: {error}")),
        }
    }
    if ranges.is_empty() && report.entries > 0 {
        let first_problem = report
            .problems
            .first()
            .map_or_else(String::new, |p| format!("; the first problem: {p}"));
        return Err(not_mmdb(format!(
            "none of its {} networks has a country (country.iso_code, registered_country.iso_code or country_code); database type `{}`{first_problem}",
            report.entries,
            inert(&reader.metadata().database_type)
        )));
    }
    report.ranges = ranges.len() as u64;
    Ok(Parsed {
        ranges,
        asns: Vec::new(),
        report,
    })
}

/// True when the bytes end with an MMDB metadata section.
pub(crate) fn looks_like_mmdb(bytes: &[u8]) -> bool {
    let tail = &bytes[bytes.len().saturating_sub(METADATA_WINDOW)..];
    tail.windows(METADATA_MARKER.len())
        .any(|w| w == METADATA_MARKER)
}

/// The fields of a record that can name a country; everything else is ignored.
#[derive(Deserialize)]
struct CountryFields<'a> {
    #[serde(borrow, default)]
    country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    registered_country: Option<IsoCode<'a>>,
    #[serde(borrow, default)]
    country_code: Option<&'a str>,
}

#[derive(Deserialize)]
struct IsoCode<'a> {
    #[serde(borrow, default)]
    iso_code: Option<&'a str>,
}

/// The country a record names, None when it names none, or why it does not decode.
fn country_of_record<S: AsRef<[u8]>>(
    lookup: &maxminddb::LookupResult<'_, S>,
) -> Result<Option<CountryCode>, String> {
    let fields: CountryFields = match lookup.decode() {
        Ok(Some(fields)) => fields,
        Ok(None) => return Ok(None),
        Err(error) => return Err(format!("record does not decode: {error}")),
    };
    let code = [
        fields.country.and_then(|c| c.iso_code),
        fields.registered_country.and_then(|c| c.iso_code),
        fields.country_code,
    ]
    .into_iter()
    .flatten()
    .find(|code| !code.is_empty());
    match code {
        None => Ok(None),
        Some(code) if code.eq_ignore_ascii_case("ZZ") => Ok(None),
        Some(code) => CountryCode::new(code)
            .map(Some)
            .ok_or_else(|| format!("country `{}` is not two letters", inert(code))),
    }
}
