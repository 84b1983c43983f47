//! Paths to the fixtures and to the shared data, and the few helpers every module uses.

use blackout_model::{CountryCode, CountryLookup};
use std::path::PathBuf;

/// A fixture of `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The `geo` folder of the real test data (`$BLACKOUT_TEST_DATA`, which `./test.sh`
/// exports, else `../shared/data` beside the repository), or None after saying why the
/// caller is skipped.
pub fn shared_geo(test: &str) -> Option<PathBuf> {
    let dir = std::env::var_os("BLACKOUT_TEST_DATA")
        .filter(|dir| !dir.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data"))
        .join("geo");
    if dir.is_dir() {
        Some(dir)
    } else {
        eprintln!(
            "skipped: {test}: {} is missing (set BLACKOUT_TEST_DATA, put shared/data beside the \
             repository, or run scripts/fetch-test-data.sh)",
            dir.display()
        );
        None
    }
}

pub fn cc(code: &str) -> CountryCode {
    CountryCode::new(code).unwrap()
}

/// The answer for a prefix, as text (`-` for unknown).
pub fn country_of(map: &impl CountryLookup, prefix: &str) -> String {
    map.country_of(&prefix.parse().unwrap())
        .map_or_else(|| "-".to_string(), |c| c.to_string())
}
