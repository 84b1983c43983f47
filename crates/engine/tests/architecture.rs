//! The dependency rule of ARCHITECTURE.md, checked: each workspace crate depends
//! (for building, not for its tests) only on the workspace crates its row allows,
//! blackout-testdata is a dev-dependency only, and the pure crates never read the
//! clock.

use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
    workspace_members: Vec<String>,
}

#[derive(Deserialize)]
struct Package {
    id: String,
    name: String,
    manifest_path: PathBuf,
    dependencies: Vec<Dependency>,
}

#[derive(Deserialize)]
struct Dependency {
    name: String,
    kind: Option<String>,
}

/// The crate only tests and examples may depend on.
const TEST_ONLY: &str = "blackout-testdata";

/// The workspace crates each crate may depend on, as ARCHITECTURE.md's table says.
fn allowed() -> BTreeMap<&'static str, Vec<&'static str>> {
    let pure_core = [
        "blackout-model",
        "blackout-profile",
        "blackout-bgp",
        "blackout-detect",
    ];
    BTreeMap::from([
        ("blackout-model", vec![]),
        ("blackout-profile", vec!["blackout-model"]),
        ("blackout-bgp", vec!["blackout-model", "blackout-profile"]),
        (
            "blackout-detect",
            vec!["blackout-model", "blackout-profile", "blackout-bgp"],
        ),
        ("blackout-engine", pure_core.to_vec()),
        ("blackout-geo", vec!["blackout-model"]),
        ("blackout-archive", vec!["blackout-model"]),
        ("blackout-feeds", vec!["blackout-model", "blackout-profile"]),
        ("blackout-probe", vec!["blackout-model", "blackout-profile"]),
        ("blackout-store", vec!["blackout-model"]),
        (
            "blackout-relay",
            vec![
                "blackout-model",
                "blackout-profile",
                "blackout-probe",
                "blackout-feeds",
            ],
        ),
        (
            "blackout-api",
            vec!["blackout-model", "blackout-store", "blackout-bgp"],
        ),
        ("blackout-alert", vec!["blackout-model", "blackout-profile"]),
        ("blackout-report", vec!["blackout-model", "blackout-store"]),
        (
            "blackout-watch",
            vec![
                "blackout-model",
                "blackout-profile",
                "blackout-bgp",
                "blackout-detect",
                "blackout-engine",
                "blackout-store",
                "blackout-probe",
                "blackout-feeds",
                "blackout-api",
                "blackout-alert",
                "blackout-relay",
            ],
        ),
        ("blackout-lab", vec![]),
        ("blackout-testdata", vec![]),
    ])
}

fn metadata() -> Metadata {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
            "--manifest-path",
        ])
        .arg(&manifest)
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("cargo metadata's JSON")
}

#[test]
fn every_crate_depends_only_on_what_its_layer_allows() {
    let metadata = metadata();
    let members: BTreeSet<&str> = metadata
        .workspace_members
        .iter()
        .map(String::as_str)
        .collect();
    let workspace: BTreeSet<&str> = metadata
        .packages
        .iter()
        .filter(|p| members.contains(p.id.as_str()))
        .map(|p| p.name.as_str())
        .collect();
    let allowed = allowed();
    let mut broken = Vec::new();
    for package in metadata
        .packages
        .iter()
        .filter(|p| members.contains(p.id.as_str()))
    {
        // Where the test data is: for tests and examples, never for building.
        for dependency in &package.dependencies {
            if dependency.name == TEST_ONLY && dependency.kind.as_deref() != Some("dev") {
                broken.push(format!(
                    "{} depends on {TEST_ONLY} (a dev-dependency only)",
                    package.name
                ));
            }
        }
        if package.name == "blackout" {
            continue;
        }
        let Some(may) = allowed.get(package.name.as_str()) else {
            broken.push(format!(
                "{} is not in ARCHITECTURE.md's table (add it there and here)",
                package.name
            ));
            continue;
        };
        for dependency in &package.dependencies {
            let building = dependency.kind.as_deref() != Some("dev");
            if building
                && workspace.contains(dependency.name.as_str())
                && !may.contains(&dependency.name.as_str())
            {
                broken.push(format!("{} depends on {}", package.name, dependency.name));
            }
        }
    }
    assert!(
        broken.is_empty(),
        "the layering rule is broken: {broken:#?}"
    );
}

#[test]
fn the_pure_crates_never_read_the_clock() {
    let metadata = metadata();
    let pure = [
        "blackout-model",
        "blackout-profile",
        "blackout-bgp",
        "blackout-detect",
        "blackout-engine",
    ];
    let mut readers = Vec::new();
    for package in metadata
        .packages
        .iter()
        .filter(|p| pure.contains(&p.name.as_str()))
    {
        let src = package
            .manifest_path
            .parent()
            .expect("a crate dir")
            .join("src");
        for file in rust_files(&src) {
            let text = std::fs::read_to_string(&file).expect("a source file");
            for (number, line) in text.lines().enumerate() {
                let code = line.split("//").next().unwrap_or_default();
                let reads = ["SystemTime::now", "Instant::now", "clock::now()"]
                    .iter()
                    .any(|call| code.contains(call));
                // The model crate defines the one clock helper, for the edges.
                let defines_it = file.ends_with("model/src/clock.rs");
                if reads && !defines_it {
                    readers.push(format!(
                        "{}:{}: {}",
                        file.display(),
                        number + 1,
                        line.trim()
                    ));
                }
            }
        }
    }
    assert!(readers.is_empty(), "the core reads the clock: {readers:#?}");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}
