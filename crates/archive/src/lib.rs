//! MRT archive reading: files, directories and URLs, decompressed and decoded into the
//! route inputs of [`blackout_model::BgpInput`].
//!
//! - [`expand_inputs`] (module `input`) turns arguments into [`ArchiveInput`]s, naming the
//!   collector and start time from RIS and RouteViews names (inputs whose names carry no
//!   collector share [`UNNAMED_COLLECTOR`]; the caller may name one for all);
//! - [`open`] (modules `source` and `stream`) gets the bytes (a file, or a URL through a
//!   local cache), picks the decompressor by magic bytes and checks that MRT follows;
//! - [`ArchiveReader`] (module `reader`, with `framing` telling record boundaries from
//!   noise) decodes records with bgpkit-parser into route updates, peer-down events and
//!   per-peer table sizes, skipping, resynchronising past and counting damage
//!   ([`ReadStats`]), and yielding only the routes of watched prefixes when asked;
//! - [`merge`] interleaves several readers in time order;
//! - [`Coverage`] (module `coverage`) says per collector whether a table dump was among
//!   the inputs and which peers it named, and warns of updates-only collectors and of
//!   updates files whose peers match no table peer.
//!
//! # Known Issues
//! - RIB_GENERIC (TABLE_DUMP_V2 subtypes 6 and 12) and BGP4MP_ENTRY records are counted
//!   as unsupported: bgpkit-parser 0.23 does not decode them.
//! - Multicast and labelled routes are left out (counted in
//!   [`ReadStats::non_unicast_routes`]): the route model carries no SAFI.

mod convert;
mod coverage;
mod error;
mod framing;
mod input;
mod merge;
mod reader;
mod source;
mod stream;

pub use coverage::{CollectorCoverage, Coverage, CoverageWarning};
pub use error::ArchiveError;
pub use input::{ArchiveInput, DumpKind, Location, UNNAMED_COLLECTOR, expand_inputs};
pub use merge::{Merged, merge};
pub use reader::{ArchiveReader, ReadStats, ReaderOptions, open, open_stream};
pub use source::{Progress, ProgressHandle};
