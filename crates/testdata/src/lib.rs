//! Where the real test data is (MRT archives, BMP captures, RIS Live messages, geo
//! ranges), for the workspace's tests and examples only: every crate takes this one
//! as a dev-dependency, never as a dependency (`crates/engine/tests/architecture.rs`
//! checks that).
//!
//! The data is `$BLACKOUT_TEST_DATA` when set (`./test.sh` exports it), else
//! `../shared/data` beside the repository. `shared/data/README.md` and
//! `scripts/test-data/SOURCES.tsv` say where each file comes from, and
//! `scripts/fetch-test-data.sh` fetches them. A test whose data is absent says on
//! stderr that it was skipped and why, and passes: the rest of the suite still runs
//! on a fresh clone.
//!
//! [`rib`] reads the real RIB's text into routes and encodes them as the live feeds'
//! messages, for the feed benchmarks. [`nats`] starts a nats-server of a test's
//! own on loopback, for the tests of many vantage points; [`daemons`] starts
//! BIRD there.

pub mod daemons;
pub mod nats;
pub mod rib;

use std::path::{Path, PathBuf};

/// The variable that names the data's directory.
pub const ENV: &str = "BLACKOUT_TEST_DATA";

/// The data's directory: `$BLACKOUT_TEST_DATA` when set and not empty, else
/// `../shared/data` beside the repository. It may not exist.
pub fn root() -> PathBuf {
    std::env::var_os(ENV)
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
}

/// `relative` (a file or a folder) under the data's directory, or `None` after
/// saying on stderr why `test` is skipped.
pub fn find(test: &str, relative: &str) -> Option<PathBuf> {
    let path = root().join(relative);
    if path.exists() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {test}: the real test data {} is missing (set {ENV}, put shared/data \
             beside the repository, or run scripts/fetch-test-data.sh)",
            path.display()
        );
        None
    }
}

/// Returns from the calling test, saying on stderr that it was skipped and why, when
/// `relative` is not under the data's directory.
#[macro_export]
macro_rules! require {
    ($test:expr, $relative:expr) => {
        if $crate::find($test, $relative).is_none() {
            return;
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_present_path_is_found_and_a_missing_one_is_none() {
        // An absolute path replaces the root when joined (`Path::join`), so this
        // crate's own manifest stands in for a file of the data wherever the data is.
        let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
        assert_eq!(find("this test", manifest), Some(PathBuf::from(manifest)));
        assert_eq!(find("this test", "no/such/file-in-the-data.bin"), None);
    }

    #[test]
    fn the_default_root_is_beside_the_repository() {
        if std::env::var_os(ENV).is_none_or(|dir| dir.is_empty()) {
            assert!(root().ends_with("../../../shared/data"));
        } else {
            assert_eq!(root(), PathBuf::from(std::env::var_os(ENV).unwrap()));
        }
    }
}
