//! Prefix-to-country maps for the global view: which country a prefix's addresses are
//! in. The core asks [`blackout_model::CountryLookup`]; this crate reads the files
//! behind it and answers.
//!
//! - [`GeoMap`] (module `map`) is the map: sorted, non-overlapping IPv4 and IPv6
//!   ranges in compact arrays, searched by bisection. `country_of` gives a prefix the
//!   country of most of its addresses, with the rules for ties and unknown space in
//!   the map's docs. It also lists the countries and the ranges or prefixes of one.
//!   [`GeoMapBuilder`] lays ranges over each other (later wins) and freezes the map.
//! - The readers are sans-IO, bytes in and [`Parsed`] out: [`parse_range_csv`]
//!   (module `range_csv`: `start,end,CC`), [`parse_delegated`] (module `delegated`:
//!   RIR and NRO delegation files, with their AS blocks as [`AsnDelegation`]s) and
//!   [`parse_mmdb`] (module `mmdb`: MaxMind DB via the `maxminddb` crate). Each
//!   skips, counts and describes bad lines in its [`ReadReport`] ([`Problem`]s name
//!   the file and the line or network) and refuses only a file that is not its
//!   format at all ([`GeoError`]).
//! - Module `load` undoes gzip, tells the format from the content
//!   ([`detect_format`], [`parse`]) and loads several files into one map in order
//!   ([`load_files`]): a later file overrides an earlier one where they overlap.
//! - Module `range` holds [`GeoRange`] and the integer view of addresses that the
//!   map searches; module `text` numbers the lines of the text formats.
//!
//! # Known Issues
//! - The `-num` variants of ip-location-db's CSVs (addresses as integers) are not
//!   read: an integer alone does not say its family.
//! - RIR records name the holder's country, not where the addresses are used; the
//!   CSV and MMDB sources mix in geofeeds. The map is as good as its files.
//! - `EU` and `AP` (RIPE's and APNIC's codes for regional holders) are kept as they
//!   are: they are two letters, though not countries.

mod delegated;
mod load;
mod map;
mod mmdb;
mod range;
mod range_csv;
mod report;
mod text;

pub use delegated::parse_delegated;
pub use load::{Loaded, MAX_DECOMPRESSED, detect_format, load_files, parse, read_file};
pub use map::{GeoMap, GeoMapBuilder};
pub use mmdb::parse_mmdb;
pub use range::{AsnDelegation, GeoRange};
pub use range_csv::parse_range_csv;
pub use report::{GeoError, GeoFormat, MAX_PROBLEMS, Parsed, Place, Problem, ReadReport};
