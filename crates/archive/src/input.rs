//! Turning command-line arguments (files, directories, URLs) into [`ArchiveInput`]s.
//!
//! The collector and the start time come from the names the archives are published
//! under: RIS (`…/rrc06/2015.04/updates.20150401.0000.gz`, `bview.20100701.0759.gz`),
//! RouteViews (`…/route-views.jinx/bgpdata/2015.04/UPDATES/updates.20150401.0000.bz2`,
//! `…/bgpdata/2014.05/RIBS/rib.20140523.0600.bz2`), and the `<collector>_<dump name>`
//! form of this project's test data (`ris-rrc06_updates.20150401.0000.gz`,
//! `routeviews2_rib.20140523.0600.bz2`). A local file is named by its absolute path, so
//! `cd rrc06; blackout replay bview.X` and `blackout replay rrc06/bview.X` agree.
//!
//! Files whose names carry no collector (`bview.X` in a directory of one's own,
//! `mydump.rib.mrt`) all belong to one collector, [`UNNAMED_COLLECTOR`]: a RIB and the
//! updates a user downloaded side by side are one collector's, so the updates' peers
//! meet the RIB's. A collector given by the caller overrides every name.
//!
//! Directories are walked recursively and keep only files whose first bytes decode to an
//! MRT header, so a data directory with READMEs and checksums in it can be passed as is.

use crate::ArchiveError;
use crate::source::sniff_file;
use blackout_model::Timestamp;
use std::fmt;
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

/// The collector of the inputs whose names carry none.
pub const UNNAMED_COLLECTOR: &str = "unnamed";

/// Where an archive's bytes come from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Location {
    /// A local file.
    File(PathBuf),
    /// An http(s) URL, streamed through the local cache.
    Url(String),
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::File(path) => write!(f, "{}", path.display()),
            Location::Url(url) => f.write_str(url),
        }
    }
}

/// What kind of dump a file is, as its name says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DumpKind {
    /// A table dump (`bview`, `rib`): every route of every peer at one time.
    Rib,
    /// The updates of a time window.
    Updates,
    /// The name says neither.
    Unknown,
}

/// One archive to read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ArchiveInput {
    /// Where it is.
    pub location: Location,
    /// The collector that wrote it (`rrc06`, `route-views2`), as its name says, or
    /// given; [`UNNAMED_COLLECTOR`] when neither names one.
    pub collector: Arc<str>,
    /// RIB or updates.
    pub kind: DumpKind,
    /// The time in its name, if it has one.
    pub start: Option<Timestamp>,
}

impl ArchiveInput {
    /// Names an archive from its location alone (a file by its absolute path); a
    /// name without a collector gives [`UNNAMED_COLLECTOR`].
    pub fn from_location(location: Location) -> Self {
        let name = match &location {
            Location::File(path) => absolute(path).to_string_lossy().replace('\\', "/"),
            Location::Url(url) => url_path(url).to_string(),
        };
        let (collector, kind, start) = describe(&name);
        ArchiveInput {
            location,
            collector: Arc::from(collector.as_deref().unwrap_or(UNNAMED_COLLECTOR)),
            kind,
            start,
        }
    }
}

/// Expands files, directories (recursively, keeping files that look like MRT archives)
/// and http(s) URLs into inputs, sorted in time order with a RIB before the updates of
/// the same time. Inputs whose names carry no time keep their argument order, first.
///
/// `collector`, when given, is the collector of every input, whatever the names say.
pub fn expand_inputs(
    args: &[String],
    collector: Option<&str>,
) -> Result<Vec<ArchiveInput>, ArchiveError> {
    let mut inputs = Vec::new();
    for arg in args {
        if is_url(arg) {
            inputs.push(ArchiveInput::from_location(Location::Url(arg.clone())));
            continue;
        }
        let path = PathBuf::from(arg);
        let metadata =
            std::fs::metadata(&path).map_err(|source| ArchiveError::io("open", &path, source))?;
        if metadata.is_dir() {
            let mut files = Vec::new();
            walk(&path, &mut files)?;
            files.sort();
            let before = inputs.len();
            for file in files {
                if sniff_file(&file) {
                    inputs.push(ArchiveInput::from_location(Location::File(file)));
                }
            }
            if inputs.len() == before {
                return Err(ArchiveError::EmptyDirectory(path));
            }
        } else {
            inputs.push(ArchiveInput::from_location(Location::File(path)));
        }
    }
    if let Some(collector) = collector {
        let collector: Arc<str> = Arc::from(collector);
        for input in &mut inputs {
            input.collector = Arc::clone(&collector);
        }
    }
    inputs.sort_by_key(|input| (input.start, input.kind));
    Ok(inputs)
}

/// The absolute form of a path, with `.` and `..` resolved lexically (not through
/// symbolic links: the names the user chose are the ones that count).
fn absolute(path: &Path) -> PathBuf {
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for component in joined.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), ArchiveError> {
    let entries = std::fs::read_dir(dir).map_err(|source| ArchiveError::io("list", dir, source))?;
    for entry in entries {
        let entry = entry.map_err(|source| ArchiveError::io("list", dir, source))?;
        let path = entry.path();
        let file_type = entry
            .file_type()
            .map_err(|source| ArchiveError::io("list", &path, source))?;
        if file_type.is_dir() {
            walk(&path, out)?;
        } else if file_type.is_file() || (file_type.is_symlink() && path.is_file()) {
            out.push(path);
        }
    }
    Ok(())
}

pub(crate) fn is_url(arg: &str) -> bool {
    let lower = arg.get(..8).unwrap_or(arg).to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://")
}

/// The path part of a URL, without scheme, host, query or fragment.
fn url_path(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let rest = rest.split(['?', '#']).next().unwrap_or(rest);
    rest.find('/').map_or("", |slash| &rest[slash..])
}

/// Collector (if the name carries one), kind and start time from a path or URL path
/// (forward slashes).
fn describe(path: &str) -> (Option<String>, DumpKind, Option<Timestamp>) {
    let components: Vec<&str> = path.split('/').filter(|c| !c.is_empty()).collect();
    let file = components.last().copied().unwrap_or("");
    let (prefix, dump) = split_test_name(file);
    let kind = dump_kind(dump);
    let start = name_time(dump);
    let collector = prefix
        .map(normalise_collector)
        .or_else(|| collector_from_dirs(&components));
    (collector, kind, start)
}

/// `ris-rrc06_updates.20150401.0000.gz` → (`Some("ris-rrc06")`, `updates.20150401.0000.gz`);
/// a published name (`updates.…`, `bview.…`, `rib.…`) has no prefix.
fn split_test_name(file: &str) -> (Option<&str>, &str) {
    const DUMPS: [&str; 4] = ["updates", "bview", "rib", "latest-update"];
    if DUMPS.iter().any(|dump| file.starts_with(dump)) {
        return (None, file);
    }
    for (index, _) in file.match_indices('_') {
        let rest = &file[index + 1..];
        if DUMPS.iter().any(|dump| rest.starts_with(dump)) && index > 0 {
            return (Some(&file[..index]), rest);
        }
    }
    (None, file)
}

fn normalise_collector(prefix: &str) -> String {
    let lower = prefix.to_ascii_lowercase();
    if let Some(rest) = lower.strip_prefix("ris-") {
        return rest.to_string();
    }
    if let Some(rest) = lower.strip_prefix("routeviews") {
        let rest = rest.trim_start_matches(['-', '.']);
        return if rest.is_empty() {
            "route-views2".to_string()
        } else if rest.chars().all(|c| c.is_ascii_digit()) {
            format!("route-views{rest}")
        } else {
            format!("route-views.{rest}")
        };
    }
    prefix.to_string()
}

/// A RIS (`rrc06`) or RouteViews (`route-views2`, `route-views.jinx`) collector among
/// the directories, nearest first; or RouteViews' main collector, which publishes at
/// the top of its archive (`bgpdata/2014.05/RIBS/…`).
fn collector_from_dirs(components: &[&str]) -> Option<String> {
    let dirs = components.split_last().map_or(&[][..], |(_, dirs)| dirs);
    for dir in dirs.iter().rev() {
        let lower = dir.to_ascii_lowercase();
        if is_ris_collector(&lower) || is_routeviews_collector(&lower) {
            return Some(lower);
        }
    }
    match dirs {
        [.., bgpdata, month, kind]
            if bgpdata.eq_ignore_ascii_case("bgpdata")
                && is_year_month(month)
                && (kind.eq_ignore_ascii_case("ribs") || kind.eq_ignore_ascii_case("updates")) =>
        {
            Some("route-views2".to_string())
        }
        _ => None,
    }
}

/// `rrc00` … `rrc26`.
fn is_ris_collector(name: &str) -> bool {
    name.strip_prefix("rrc")
        .is_some_and(|number| !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit()))
}

/// `route-views`, `route-views2`, `route-views.jinx`, `route-views.sydney` (and not
/// `route-views-mirror`, a directory of one's own).
fn is_routeviews_collector(name: &str) -> bool {
    name.strip_prefix("route-views").is_some_and(|rest| {
        rest.bytes().all(|b| b.is_ascii_digit())
            || rest.strip_prefix('.').is_some_and(|site| {
                !site.is_empty()
                    && site
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-')
            })
    })
}

/// `2014.05`.
fn is_year_month(name: &str) -> bool {
    name.len() == 7
        && name.as_bytes()[4] == b'.'
        && name
            .bytes()
            .enumerate()
            .all(|(i, b)| i == 4 || b.is_ascii_digit())
}

/// RIB or updates, from the words of a file name (`bview.…`, `rib.…`, `updates.…`,
/// `latest-update.gz`, `mydump.rib.mrt`, `mydump_updates.mrt`).
fn dump_kind(dump: &str) -> DumpKind {
    let lower = dump.to_ascii_lowercase();
    let mut kind = DumpKind::Unknown;
    for word in lower.split(['.', '_', '-']) {
        match word {
            "bview" | "rib" | "ribs" => return DumpKind::Rib,
            "updates" | "update" => kind = DumpKind::Updates,
            _ => {}
        }
    }
    kind
}

/// The first `YYYYMMDD.HHMM` in a name.
fn name_time(name: &str) -> Option<Timestamp> {
    let bytes = name.as_bytes();
    (0..bytes.len()).find_map(|start| {
        let window = bytes.get(start..start + 13)?;
        let boundary_before = start == 0 || !bytes[start - 1].is_ascii_digit();
        let boundary_after = bytes.get(start + 13).is_none_or(|b| !b.is_ascii_digit());
        if !boundary_before
            || !boundary_after
            || window[8] != b'.'
            || !window[..8]
                .iter()
                .chain(&window[9..])
                .all(u8::is_ascii_digit)
        {
            return None;
        }
        let number = |range: std::ops::Range<usize>| -> i64 {
            window[range]
                .iter()
                .fold(0, |acc, digit| acc * 10 + i64::from(digit - b'0'))
        };
        let (year, month, day) = (number(0..4), number(4..6), number(6..8));
        let (hour, minute) = (number(9..11), number(11..13));
        if !(1..=12).contains(&month) || !(1..=31).contains(&day) || hour > 23 || minute > 59 {
            return None;
        }
        let days = days_from_civil(year, month, day);
        Some(Timestamp::from_secs(
            days * 86_400 + hour * 3_600 + minute * 60,
        ))
    })
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    fn described(path: &str) -> (Option<String>, DumpKind, Option<i64>) {
        let (collector, kind, start) = describe(path);
        (collector, kind, start.map(Timestamp::as_secs))
    }

    fn named(collector: &str) -> Option<String> {
        Some(collector.to_string())
    }

    #[test]
    fn published_names() {
        assert_eq!(
            described("data.ris.ripe.net/rrc06/2015.04/updates.20150401.0000.gz"),
            (named("rrc06"), DumpKind::Updates, Some(1_427_846_400))
        );
        assert_eq!(
            described(
                "/archive/route-views.jinx/bgpdata/2015.04/UPDATES/updates.20150401.0000.bz2"
            ),
            (
                named("route-views.jinx"),
                DumpKind::Updates,
                Some(1_427_846_400)
            )
        );
        assert_eq!(
            described("/bgpdata/2014.05/RIBS/rib.20140523.0600.bz2"),
            (named("route-views2"), DumpKind::Rib, Some(1_400_824_800))
        );
        assert_eq!(
            described("/srv/route-views6/bgpdata/2015.11/RIBS/rib.20151101.0600.bz2").0,
            named("route-views6")
        );
        assert_eq!(
            described("bview.20100701.0759.gz"),
            (None, DumpKind::Rib, Some(1_277_971_140))
        );
    }

    #[test]
    fn names_of_ones_own_carry_no_collector() {
        for path in [
            "/home/me/dumps/mydump.rib.mrt",
            "/home/me/route-views-mirror/updates.20150401.0000.gz",
            "/home/me/bgpdata/mine/updates.20150401.0000.gz",
            "/home/me/rrc/updates.20150401.0000.gz",
        ] {
            assert_eq!(described(path).0, None, "{path}");
        }
        assert_eq!(described("/x/mydump.rib.mrt").1, DumpKind::Rib);
        assert_eq!(described("/x/mydump.updates.mrt").1, DumpKind::Updates);
        assert_eq!(described("/x/latest-update.gz").1, DumpKind::Updates);
        assert_eq!(described("/x/mydump.mrt").1, DumpKind::Unknown);
    }

    #[test]
    fn relative_and_absolute_paths_name_the_same_collector() {
        let here = std::env::current_dir().expect("working directory");
        let relative = ArchiveInput::from_location(Location::File("bview.20100701.0759.gz".into()));
        let absolute =
            ArchiveInput::from_location(Location::File(here.join("bview.20100701.0759.gz")));
        let roundabout =
            ArchiveInput::from_location(Location::File(here.join("x/../bview.20100701.0759.gz")));
        assert_eq!(relative.collector, absolute.collector);
        assert_eq!(roundabout.collector, absolute.collector);
        assert_eq!(
            absolute_lexically("/data/rrc06/../mine/./bview.X"),
            "/data/mine/bview.X"
        );
        assert_eq!(
            described(&absolute_lexically("/data/rrc06/../mine/bview.X")).0,
            None
        );
    }

    fn absolute_lexically(path: &str) -> String {
        absolute(Path::new(path)).display().to_string()
    }

    #[test]
    fn test_data_names() {
        assert_eq!(
            described("../shared/data/mrt/ris-rrc06_updates.20150401.0000.gz").0,
            named("rrc06")
        );
        assert_eq!(
            described("routeviews2_rib.20140523.0600.first1MiB-truncated.bz2"),
            (named("route-views2"), DumpKind::Rib, Some(1_400_824_800))
        );
        assert_eq!(
            described("routeviews-jinx_updates.20150401.0000.bz2").0,
            named("route-views.jinx")
        );
        assert_eq!(
            described("routeviews6_rib.20151101.0600.bz2").0,
            named("route-views6")
        );
        assert_eq!(
            described("mrt-lab/mrtparse_bird_bgp.mrt"),
            (None, DumpKind::Unknown, None)
        );
    }

    #[test]
    fn urls() {
        let input = ArchiveInput::from_location(Location::Url(
            "https://data.ris.ripe.net/rrc00/2024.01/bview.20240101.0000.gz?x=1".into(),
        ));
        assert_eq!(&*input.collector, "rrc00");
        assert_eq!(input.kind, DumpKind::Rib);
        assert_eq!(url_path("http://127.0.0.1:80"), "");
    }

    #[test]
    fn bad_times_are_ignored() {
        assert_eq!(name_time("updates.20151301.0000"), None);
        assert_eq!(name_time("x.120150401.0000"), None);
        assert_eq!(
            name_time("a.20000229.2359").map(Timestamp::as_secs),
            Some(951_868_740)
        );
    }
}
