//! Shared helpers: the real data (found by blackout-testdata), and reading an archive into comparable lines.

use blackout_archive::{ArchiveInput, Location, ReadStats, ReaderOptions, open};
use blackout_model::{BgpInput, RouteChange};
use flate2::read::GzDecoder;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

/// The data directory, for tests that checked it with [`require_data!`] first.
pub use blackout_testdata::root as data_dir;

/// Returns from the calling test, saying it was skipped, when the real data is missing.
macro_rules! require_data {
    ($test:expr) => {
        blackout_testdata::require!($test, "mrt")
    };
}

/// A file of the data set, or `None` after saying why `test` is skipped.
pub use blackout_testdata::find as data_file_or_skip;

/// Every MRT file of the data set, by directory then name.
pub fn mrt_files() -> Vec<PathBuf> {
    let data = data_dir();
    let mut files = Vec::new();
    for dir in ["mrt", "mrt-lab", "derived"] {
        let mut here: Vec<PathBuf> = std::fs::read_dir(data.join(dir))
            .unwrap_or_else(|e| panic!("cannot list {dir}: {e}"))
            .map(|entry| entry.expect("directory entry").path())
            .collect();
        here.sort();
        files.extend(here);
    }
    assert!(
        files.len() >= 38,
        "expected the 38 MRT files of the data set, found {}",
        files.len()
    );
    files
}

/// What reading one archive gave.
pub struct Read {
    /// One line per route: `A|secs|peer_ip|peer_as|prefix|as_path` or `W|secs|peer_ip|peer_as|prefix`.
    pub lines: Vec<String>,
    pub inputs: Vec<BgpInput>,
    pub stats: ReadStats,
}

impl Read {
    pub fn peer_downs(&self) -> usize {
        self.inputs
            .iter()
            .filter(|input| matches!(input, BgpInput::PeerDown { .. }))
            .count()
    }

    pub fn table_sizes(&self) -> Vec<(String, u32, u32)> {
        self.inputs
            .iter()
            .filter_map(|input| match input {
                BgpInput::TableSize {
                    peer, ipv4, ipv6, ..
                } => Some((format!("{}|{}", peer.ip, peer.asn.0), *ipv4, *ipv6)),
                _ => None,
            })
            .collect()
    }
}

pub fn route_line(input: &BgpInput) -> Option<String> {
    let BgpInput::Route(route) = input else {
        return None;
    };
    let head = format!(
        "{}|{}|{}|{}",
        route.at.as_secs(),
        route.peer.ip,
        route.peer.asn.0,
        route.prefix
    );
    Some(match &route.change {
        RouteChange::Announce { as_path } => format!("A|{head}|{as_path}"),
        RouteChange::Withdraw => format!("W|{head}"),
    })
}

pub fn read_file(path: &Path, watch: Option<Vec<ipnet::IpNet>>) -> Read {
    let input = ArchiveInput::from_location(Location::File(path.to_path_buf()));
    let options = ReaderOptions {
        watch,
        ..ReaderOptions::default()
    };
    let mut reader = open(&input, &options).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let inputs: Vec<BgpInput> = reader.by_ref().collect();
    let stats = reader.stats();
    let lines = inputs.iter().filter_map(route_line).collect();
    Read {
        lines,
        inputs,
        stats,
    }
}

/// `bgpdump -m` output, normalised like [`route_line`]; also the peer-down count its
/// STATE lines imply (leaving Established, state 6).
pub struct Expected {
    pub lines: Vec<String>,
    pub peer_downs: usize,
}

pub fn read_gz_lines(path: &Path) -> impl Iterator<Item = String> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    BufReader::new(GzDecoder::new(file))
        .lines()
        .map(|line| line.expect("readable gzip text"))
}

pub fn expected_for(path: &Path) -> Expected {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .expect("file name");
    let expected = data_dir()
        .join("expected")
        .join(format!("{name}.bgpdump-m.txt.gz"));
    normalise_bgpdump(&expected)
}

pub fn normalise_bgpdump(path: &Path) -> Expected {
    let mut lines = Vec::new();
    let mut peer_downs = 0;
    for line in read_gz_lines(path) {
        let fields: Vec<&str> = line.split('|').collect();
        let secs = fields[1].split('.').next().unwrap_or_default();
        match fields[2] {
            "STATE" => {
                if fields[5] == "6" && fields[6] != "6" {
                    peer_downs += 1;
                }
            }
            "W" => lines.push(format!(
                "W|{secs}|{}|{}|{}",
                fields[3], fields[4], fields[5]
            )),
            "A" | "B" => {
                let path_field = if fields[0].ends_with("_AP") { 7 } else { 6 };
                lines.push(format!(
                    "A|{secs}|{}|{}|{}|{}",
                    fields[3], fields[4], fields[5], fields[path_field]
                ));
            }
            other => panic!(
                "{}: unexpected bgpdump line kind {other}: {line}",
                path.display()
            ),
        }
    }
    Expected { lines, peer_downs }
}

/// Lines of `expected` missing from `ours` (multiset difference), and the extra ones.
pub fn multiset_diff(ours: &[String], expected: &[String]) -> (Vec<String>, Vec<String>) {
    let mut ours_sorted = ours.to_vec();
    let mut expected_sorted = expected.to_vec();
    ours_sorted.sort_unstable();
    expected_sorted.sort_unstable();
    let (mut missing, mut extra) = (Vec::new(), Vec::new());
    let (mut i, mut j) = (0, 0);
    while i < ours_sorted.len() || j < expected_sorted.len() {
        match (ours_sorted.get(i), expected_sorted.get(j)) {
            (Some(a), Some(b)) if a == b => {
                i += 1;
                j += 1;
            }
            (Some(a), Some(b)) if a < b => {
                extra.push(a.clone());
                i += 1;
            }
            (Some(_), Some(b)) => {
                missing.push(b.clone());
                j += 1;
            }
            (Some(a), None) => {
                extra.push(a.clone());
                i += 1;
            }
            (None, Some(b)) => {
                missing.push(b.clone());
                j += 1;
            }
            (None, None) => break,
        }
    }
    (missing, extra)
}
