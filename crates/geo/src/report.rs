//! What reading a file gave and what went wrong: [`Parsed`] (the ranges and AS
//! blocks), [`ReadReport`] (counts and the first problems, each naming the file and
//! the line or network), and [`GeoError`] for a file that cannot be read at all.
//!
//! Damage inside a file is not an error: a bad line is skipped, counted and described.
//! A [`GeoError`] means the file could not be opened or decompressed, or is not the
//! format it was read as.

use crate::range::{AsnDelegation, GeoRange};
use ipnet::IpNet;
use std::fmt;
use std::io;
use std::path::PathBuf;

/// How many problems a report describes; the rest are only counted.
pub const MAX_PROBLEMS: usize = 10;

/// The formats this crate reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum GeoFormat {
    /// `start,end,CC` lines, one inclusive range each (ip-location-db, DB-IP lite).
    RangeCsv,
    /// An RIR's `delegated-<rir>-extended-latest` file or the NRO's combined file.
    Delegated,
    /// A MaxMind DB file (GeoLite2-Country, DB-IP, ip-location-db).
    Mmdb,
}

impl fmt::Display for GeoFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            GeoFormat::RangeCsv => "range CSV",
            GeoFormat::Delegated => "RIR delegation file",
            GeoFormat::Mmdb => "MaxMind DB (MMDB) file",
        })
    }
}

/// What a reader got out of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parsed {
    /// The ranges with a country, in file order.
    pub ranges: Vec<GeoRange>,
    /// AS number blocks with a country (delegation files only), in file order.
    pub asns: Vec<AsnDelegation>,
    /// Counts and problems.
    pub report: ReadReport,
}

/// Counts and the first problems of one file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReadReport {
    /// The file's name as given (a path, or a label for bytes).
    pub source: String,
    /// The format it was read as.
    pub format: GeoFormat,
    /// Lines read (text formats) or networks walked (MMDB).
    pub entries: u64,
    /// Ranges with a country.
    pub ranges: u64,
    /// Entries that were fine but give no country: header, summary and comment lines,
    /// `available` and `reserved` space, `ZZ` or empty codes, MMDB records without a
    /// country.
    pub skipped: u64,
    /// Entries that could not be read: skipped and described in `problems`.
    pub bad: u64,
    /// The first [`MAX_PROBLEMS`] problems: bad entries, and things that make the whole
    /// file suspect (a delegation file whose summary counts disagree with its records).
    pub problems: Vec<Problem>,
}

impl ReadReport {
    pub(crate) fn new(source: &str, format: GeoFormat) -> Self {
        ReadReport {
            source: source.to_string(),
            format,
            entries: 0,
            ranges: 0,
            skipped: 0,
            bad: 0,
            problems: Vec::new(),
        }
    }

    /// Counts a bad entry and describes it while there is room.
    pub(crate) fn bad(&mut self, at: Place, what: impl Into<String>) {
        self.bad += 1;
        self.note(at, what);
    }

    /// Describes a problem that is not one bad entry.
    pub(crate) fn note(&mut self, at: Place, what: impl Into<String>) {
        if self.problems.len() < MAX_PROBLEMS {
            self.problems.push(Problem {
                source: self.source.clone(),
                at,
                what: what.into(),
            });
        }
    }
}

impl fmt::Display for ReadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({}): {} entries, {} ranges, {} skipped, {} bad",
            self.source, self.format, self.entries, self.ranges, self.skipped, self.bad
        )
    }
}

/// Where in a file a problem is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Place {
    /// A line of a text file, counted from 1.
    Line(u64),
    /// A network of an MMDB file.
    Network(IpNet),
    /// The file as a whole.
    File,
}

/// One problem in a file: where it is and what is wrong.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub source: String,
    /// Where in it.
    pub at: Place,
    /// What is wrong, with the offending text shown inert.
    pub what: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.at {
            Place::Line(line) => write!(f, "{}:{}: {}", self.source, line, self.what),
            Place::Network(net) => write!(f, "{}: network {}: {}", self.source, net, self.what),
            Place::File => write!(f, "{}: {}", self.source, self.what),
        }
    }
}

/// A file that cannot be read as a prefix-to-country map at all.
#[derive(Debug, thiserror::Error)]
pub enum GeoError {
    /// The file could not be read (missing, unreadable, …).
    // The reason is part of the message (not a `source`), so that printing the error
    // with its chain does not say it twice.
    #[error("cannot read {}: {reason}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The operating system's reason.
        reason: io::Error,
    },
    /// The file starts as gzip but does not decompress: fetch it again.
    #[error("{source_name}: damaged gzip: {reason}")]
    Gzip {
        /// The file.
        source_name: String,
        /// What the decompressor said.
        reason: String,
    },
    /// The content is none of the formats read here: pass a range CSV, an RIR
    /// delegation file or an MMDB file (plain or gzip).
    #[error("{source_name} is not a prefix-to-country file: {reason}")]
    UnknownFormat {
        /// The file.
        source_name: String,
        /// What was found instead.
        reason: String,
    },
    /// The content was read as one format but is not that format at all.
    #[error("{source_name} is not a valid {format}: {reason}")]
    NotFormat {
        /// The file.
        source_name: String,
        /// The format it was read as.
        format: GeoFormat,
        /// What is wrong, naming the line where one applies.
        reason: String,
    },
}

/// Text from a file, made safe to show: control characters escaped, at most 60
/// characters.
pub(crate) fn inert(text: &str) -> String {
    let mut shown: String = text.chars().take(60).flat_map(char::escape_debug).collect();
    if text.chars().nth(60).is_some() {
        shown.push('…');
    }
    shown
}
