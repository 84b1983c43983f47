//! MaxMind DB files (GeoLite2-Country, DB-IP lite, ip-location-db's `-mmdb` packages),
//! read with the `maxminddb` crate into ranges.
//!
//! Every network of the database is walked once. An IPv6 database keeps its IPv4
//! networks in `::/96` and may alias that subtree at `::ffff:0:0/96` (IPv4-mapped),
//! `2001::/32` (Teredo) and `2002::/16` (6to4). What the walk finds under one of those
//! three prefixes is dropped when it repeats the IPv4 networks exactly (same relative
//! prefixes, same records), so no IPv4 data shows up as IPv6 space; anything else found
//! there (a geofeed entry for a 6to4 block, say) is kept.
//!
//! The walk is bounded. A search tree is a tree: it has at most `node_count + 1`
//! leaves, and aliasing visits the IPv4 subtree three more times. A damaged or hostile
//! file can make its "tree" a graph whose paths double at every level (2^128 networks
//! from a few bytes), so every leaf is yielded and counted, empty ones and aliases
//! included, and the walk stops with an error past `4 * (node_count + 1)` leaves.
//!
//! A record's country is, in this order, `country.iso_code` (GeoLite2, DB-IP),
//! `registered_country.iso_code` (GeoLite2 networks with no located country) or a
//! top-level `country_code` (ip-location-db). Records are decoded once per data
//! offset, since many networks share one record. A database in which no record has a
//! country (an ASN or ISP database) is refused.

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
/// Where an IPv6 database may repeat its IPv4 subtree: (first address, prefix length).
const ALIASES: [(u128, u8); 3] = [
    (0xffff_0000_0000, 96),  // ::ffff:0:0/96, IPv4-mapped
    (0x2001_0000 << 96, 32), // 2001::/32, Teredo
    (0x2002 << 112, 16),     // 2002::/16, 6to4
];

/// What a record says of its country: a code, none, or why it does not decode.
type Country = Result<Option<CountryCode>, String>;

/// One leaf of the search tree.
struct Leaf {
    prefix: IpNet,
    /// The record, None for space the database does not cover.
    offset: Option<usize>,
    country: Option<Country>,
}

impl Leaf {
    /// The leaf's place below `base/len` as an IPv4 network: (address, length).
    fn relative(&self, base_len: u8) -> Option<(u32, u8)> {
        let IpNet::V6(net) = self.prefix else {
            return None;
        };
        let shift = 128 - 32 - u32::from(base_len);
        // Only called for leaves at least `base_len` long inside the alias.
        let address = (u128::from(net.network()) >> shift) as u32;
        Some((address, net.prefix_len().checked_sub(base_len)?))
    }
}

/// Reads an MMDB file (already decompressed). Records that do not decode are counted
/// and described; the file is refused when it is not MMDB, its tree is not a tree, or
/// it has no country at all.
pub fn parse_mmdb(bytes: &[u8], source: &str) -> Result<Parsed, GeoError> {
    let not_mmdb = |reason: String| GeoError::NotFormat {
        source_name: source.to_string(),
        format: GeoFormat::Mmdb,
        reason,
    };
    let reader = Reader::from_source(bytes).map_err(|e| not_mmdb(e.to_string()))?;
    let mut report = ReadReport::new(source, GeoFormat::Mmdb);
    let (mut leaves, aliased) = walk(&reader, &mut report).map_err(not_mmdb)?;
    // An alias's leaves are dropped when they repeat the IPv4 leaves exactly.
    let ipv4: Vec<(u32, u8, Option<usize>)> = leaves
        .iter()
        .filter_map(|leaf| match leaf.prefix {
            IpNet::V4(net) => Some((u32::from(net.network()), net.prefix_len(), leaf.offset)),
            IpNet::V6(_) => None,
        })
        .collect();
    for (alias, (_, base_len)) in aliased.into_iter().zip(ALIASES) {
        let repeats = alias.len() == ipv4.len()
            && alias
                .iter()
                .zip(&ipv4)
                .all(|(leaf, &(address, len, offset))| {
                    leaf.relative(base_len) == Some((address, len)) && leaf.offset == offset
                });
        if !repeats {
            leaves.extend(alias);
        }
    }
    let mut ranges = Vec::new();
    for leaf in leaves {
        match leaf.country {
            // No data: space the database does not cover, not an entry.
            None => continue,
            Some(Ok(Some(country))) => ranges.push(GeoRange::of_prefix(leaf.prefix, country)),
            Some(Ok(None)) => report.skipped += 1,
            Some(Err(what)) => report.bad(Place::Network(leaf.prefix), what),
        }
        report.entries += 1;
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

/// Walks every leaf, bounded by the node count: the leaves outside the alias prefixes,
/// and those inside each alias prefix (in the order of [`ALIASES`]). A damaged part of
/// the tree is counted as bad in the report.
fn walk<S: AsRef<[u8]>>(
    reader: &Reader<S>,
    report: &mut ReadReport,
) -> Result<(Vec<Leaf>, [Vec<Leaf>; 3]), String> {
    // Every leaf is yielded (aliases and empty ones too), so that the walk is counted.
    let options = WithinOptions::default()
        .include_aliased_networks()
        .include_networks_without_data();
    let networks = reader.networks(options).map_err(|e| e.to_string())?;
    let node_count = reader.metadata().node_count;
    let limit = 4 * (u64::from(node_count) + 1);
    let mut by_offset: HashMap<usize, Country> = HashMap::new();
    let mut leaves = Vec::new();
    let mut aliased: [Vec<Leaf>; 3] = Default::default();
    for (walked, item) in (1u64..).zip(networks) {
        if walked > limit {
            return Err(format!(
                "its search tree is not a tree: more than {limit} networks from {node_count} nodes"
            ));
        }
        let leaf = item.and_then(|lookup| {
            let network = lookup.network()?;
            let prefix = IpNet::new(network.ip(), network.prefix())
                .map_err(|e| maxminddb::MaxMindDbError::invalid_input(e.to_string()))?;
            let country = lookup.offset().map(|offset| {
                by_offset
                    .entry(offset)
                    .or_insert_with(|| country_of_record(&lookup))
                    .clone()
            });
            Ok(Leaf {
                prefix,
                offset: lookup.offset(),
                country,
            })
        });
        match leaf {
            Ok(leaf) => match alias_of(&leaf.prefix) {
                Some(index) => aliased[index].push(leaf),
                None => leaves.push(leaf),
            },
            Err(error) => {
                report.entries += 1;
                report.bad(Place::File, format!("damaged search tree: {error}"));
            }
        }
    }
    Ok((leaves, aliased))
}

/// Which alias prefix holds the prefix (it must be at least as long).
fn alias_of(prefix: &IpNet) -> Option<usize> {
    let IpNet::V6(net) = prefix else {
        return None;
    };
    let address = u128::from(net.network());
    ALIASES.iter().position(|&(start, len)| {
        let shift = 128 - u32::from(len);
        net.prefix_len() >= len && address >> shift == start >> shift
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
