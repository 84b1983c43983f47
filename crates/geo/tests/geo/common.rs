//! Paths to the fixtures and to the shared data, and the few helpers every module uses.

use blackout_model::{CountryCode, CountryLookup};
use std::path::PathBuf;

/// A fixture of `tests/fixtures`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// The `geo` folder of the real test data (found by blackout-testdata), or None after
/// saying why the caller is skipped.
pub fn shared_geo(test: &str) -> Option<PathBuf> {
    blackout_testdata::find(test, "geo")
}

pub fn cc(code: &str) -> CountryCode {
    CountryCode::new(code).unwrap()
}

/// The answer for a prefix, as text (`-` for unknown).
pub fn country_of(map: &impl CountryLookup, prefix: &str) -> String {
    map.country_of(&prefix.parse().unwrap())
        .map_or_else(|| "-".to_string(), |c| c.to_string())
}
