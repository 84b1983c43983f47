//! Shared helpers: where the real data is, BMP captures as framed messages, and
//! daemons on loopback.

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

/// `../shared/data` beside the repository. Tests fail (never pass) without it.
pub fn data_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    assert!(
        dir.join("bmp").is_dir(),
        "the real test data is missing: expected {} (the shared/ folder beside the repository, \
         see shared/data/README.md)",
        dir.display()
    );
    dir
}

/// A file of the data set.
pub fn read(relative: &str) -> Vec<u8> {
    let path = data_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A gzip'd file of the data set, as text.
pub fn read_gz(relative: &str) -> String {
    let mut text = String::new();
    GzDecoder::new(read(relative).as_slice())
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("cannot gunzip {relative}: {e}"));
    text
}

/// Every raw BMP capture, by name.
pub fn bmp_captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir().join("bmp/raw"))
        .expect("bmp/raw")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bmp"))
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        15,
        "expected the 15 BMP captures of the data set"
    );
    names
}

/// Is this process root? Daemon tests need it (FRR drops to its own user, BIRD binds).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// The first of `paths` that exists.
pub fn find_binary(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Says plainly that a test did not run.
pub fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED: {test}: {why}");
}
