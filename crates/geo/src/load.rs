//! From files to a map: gzip is undone by its magic bytes, the format is told from the
//! content (never from the file name) by [`detect_format`], and [`load_files`] lays the
//! files' ranges over each other in the order given, so a later file overrides an
//! earlier one where they overlap (see [`crate::GeoMap`]).

use crate::delegated::{self, parse_delegated};
use crate::map::{GeoMap, GeoMapBuilder};
use crate::mmdb::{looks_like_mmdb, parse_mmdb};
use crate::range::AsnDelegation;
use crate::range_csv::{looks_like_range_csv, parse_range_csv};
use crate::report::{GeoError, GeoFormat, Parsed, ReadReport, inert};
use crate::text::first_text_line;
use flate2::read::MultiGzDecoder;
use std::borrow::Cow;
use std::io::Read;
use std::path::Path;

/// The most a gzip'd file may hold decompressed (the NRO's combined file is about
/// 60 MB, the largest MMDB country files about 10 MB): more is taken for damage.
pub const MAX_DECOMPRESSED: u64 = 1 << 30;

/// Which format the (decompressed) bytes are, from their content: MMDB by its metadata
/// marker, a delegation file by its header line, a range CSV by a first line of
/// `start,end,CC`. None when they are none of these.
pub fn detect_format(bytes: &[u8]) -> Option<GeoFormat> {
    if looks_like_mmdb(bytes) {
        return Some(GeoFormat::Mmdb);
    }
    let first = first_text_line(bytes)?;
    if delegated::is_header(first) {
        Some(GeoFormat::Delegated)
    } else if looks_like_range_csv(first) || looks_like_range_csv(second_text_line(bytes)?) {
        // The second line too, for a CSV that starts with a header.
        Some(GeoFormat::RangeCsv)
    } else {
        None
    }
}

/// Reads one file's bytes, gzip'd or plain, in whatever format they are.
pub fn parse(bytes: &[u8], source: &str) -> Result<Parsed, GeoError> {
    let bytes = gunzip(bytes, source)?;
    match detect_format(&bytes) {
        Some(GeoFormat::Mmdb) => parse_mmdb(&bytes, source),
        Some(GeoFormat::Delegated) => parse_delegated(&bytes, source),
        Some(GeoFormat::RangeCsv) => parse_range_csv(&bytes, source),
        None => Err(GeoError::UnknownFormat {
            source_name: source.to_string(),
            reason: match first_text_line(&bytes) {
                Some(line) => format!(
                    "its first line `{}` is neither a delegation header nor `start,end,CC`, and it is not MMDB",
                    inert(line)
                ),
                None => "no text line, and it is not MMDB".into(),
            },
        }),
    }
}

/// Reads one file from disk (see [`parse`]).
pub fn read_file(path: &Path) -> Result<Parsed, GeoError> {
    let bytes = std::fs::read(path).map_err(|reason| GeoError::Io {
        path: path.to_path_buf(),
        reason,
    })?;
    parse(&bytes, &path.display().to_string())
}

/// A map loaded from files, with what each file gave.
#[derive(Clone, Debug)]
pub struct Loaded {
    /// The map: the files laid over each other in the order given.
    pub map: GeoMap,
    /// The AS blocks of the delegation files, in file order.
    pub asns: Vec<AsnDelegation>,
    /// One report per file, in the order given.
    pub reports: Vec<ReadReport>,
}

/// Reads the files in order into one map: where two files give the same addresses a
/// country, the later file wins. A file that cannot be read stops the load (bad lines
/// inside a file do not: they are in its report).
pub fn load_files<P: AsRef<Path>>(paths: &[P]) -> Result<Loaded, GeoError> {
    let mut builder = GeoMapBuilder::new();
    let mut asns = Vec::new();
    let mut reports = Vec::new();
    for path in paths {
        let parsed = read_file(path.as_ref())?;
        builder.extend(parsed.ranges);
        asns.extend(parsed.asns);
        reports.push(parsed.report);
    }
    Ok(Loaded {
        map: builder.build(),
        asns,
        reports,
    })
}

/// The bytes, decompressed when they begin with gzip's magic.
fn gunzip<'a>(bytes: &'a [u8], source: &str) -> Result<Cow<'a, [u8]>, GeoError> {
    if !bytes.starts_with(&[0x1f, 0x8b]) {
        return Ok(Cow::Borrowed(bytes));
    }
    let mut out = Vec::new();
    let damaged = |reason: String| GeoError::Gzip {
        source_name: source.to_string(),
        reason,
    };
    MultiGzDecoder::new(bytes)
        .take(MAX_DECOMPRESSED + 1)
        .read_to_end(&mut out)
        .map_err(|e| damaged(e.to_string()))?;
    if out.len() as u64 > MAX_DECOMPRESSED {
        return Err(damaged(format!(
            "decompresses to more than {MAX_DECOMPRESSED} bytes"
        )));
    }
    Ok(Cow::Owned(out))
}

/// The second line that holds something.
fn second_text_line(bytes: &[u8]) -> Option<&str> {
    crate::text::numbered_lines(bytes)
        .filter_map(|(_, line)| match line {
            crate::text::Line::Text(text) => Some(text),
            _ => None,
        })
        .nth(1)
}
