//! MRT archive reading: files, directories and URLs, decompressed and decoded into the
//! route inputs of [`blackout_model::BgpInput`].
//!
//! - [`expand_inputs`] (module `input`) turns arguments into [`ArchiveInput`]s, naming the
//!   collector and start time from RIS and RouteViews file names;
//! - [`open`] (modules `source` and `stream`) gets the bytes (a file, or a URL through a
//!   local cache), picks the decompressor by magic bytes and checks that MRT follows;
//! - [`ArchiveReader`] (module `reader`) decodes records with bgpkit-parser into route
//!   updates, peer-down events and per-peer table sizes, skipping and counting damage,
//!   and yielding only the routes of watched prefixes when asked;
//! - [`merge`] interleaves several readers in time order.
//!
//! # Known Issues
//! - RIB_GENERIC (TABLE_DUMP_V2 subtypes 6 and 12) and BGP4MP_ENTRY records are counted
//!   as unsupported: bgpkit-parser 0.23 does not decode them.
//! - Multicast and labelled routes are left out (counted in
//!   [`ReadStats::non_unicast_routes`]): the route model carries no SAFI.

mod convert;
mod error;
mod input;
mod merge;
mod reader;
mod source;
mod stream;

pub use error::ArchiveError;
pub use input::{ArchiveInput, DumpKind, Location, expand_inputs};
pub use merge::{Merged, merge};
pub use reader::{ArchiveReader, ReadStats, ReaderOptions, open, open_stream};
pub use source::{Progress, ProgressHandle};
