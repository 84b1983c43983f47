//! Helpers for the command's end-to-end tests: a temp dir per test, the binary,
//! and MRT files written with bgpkit-parser's encoders.

#![allow(dead_code)]

use bgpkit_parser::BgpElem;
use bgpkit_parser::models::{AsPath, Asn, ElemType, NetworkPrefix, Origin};
use std::io::Write;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The real RIS rrc06 RIB of 2010-07-01 (641,957 entries, 5 peers, 2 of them
/// full-feed), re-encoded as TABLE_DUMP_V2, or `None` after saying why `test` is skipped.
pub fn real_rib(test: &str) -> Option<PathBuf> {
    blackout_testdata::find(
        test,
        "derived/ris-rrc06_bview.20100701.0759.tdv2-reencoded.gz",
    )
}

/// The lab-like profile the replay tests watch.
pub const PROFILE: &str = r#"
name = "test"
description = "replay test network"

[[network]]
name = "Test origin"
asn = 64500
prefixes = ["203.0.113.0/26", "203.0.113.64/26", "203.0.113.128/26", "203.0.113.192/26"]

[[upstream]]
asn = 64501
name = "Primary"
role = "primary"

[[upstream]]
asn = 64502
name = "Backup"
role = "backup"

[thresholds]
recovery_hold_secs = 60
"#;

pub const PREFIXES: [&str; 4] = [
    "203.0.113.0/26",
    "203.0.113.64/26",
    "203.0.113.128/26",
    "203.0.113.192/26",
];
pub const ORIGIN: u32 = 64500;
pub const PRIMARY: u32 = 64501;
pub const BACKUP: u32 = 64502;

/// A temp dir that lives as long as the test.
pub struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    pub fn new() -> Self {
        Scratch {
            dir: tempfile::tempdir().expect("temp dir"),
        }
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub fn write(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let path = self.path(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("mkdir");
        }
        std::fs::write(&path, bytes).expect("write");
        path
    }

    /// Writes gzip'd bytes.
    pub fn write_gz(&self, name: &str, bytes: &[u8]) -> PathBuf {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(bytes).expect("gzip");
        self.write(name, &encoder.finish().expect("gzip"))
    }

    pub fn profile(&self) -> PathBuf {
        self.write("profile.toml", PROFILE.as_bytes())
    }
}

/// Runs the blackout binary.
pub fn blackout(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args(args)
        .current_dir(cwd)
        .env("BLACKOUT_CACHE", cwd.join("cache"))
        .output()
        .expect("run blackout")
}

/// A collector peer of the tests: 198.51.100.N, AS 64510+N.
pub fn peer(n: u8) -> (IpAddr, u32) {
    (IpAddr::from([198, 51, 100, n]), 64510 + u32::from(n))
}

/// A route of peer `n`: an announcement with `path`, or a withdrawal.
pub fn elem(t: f64, n: u8, prefix: &str, path: Option<&[u32]>) -> BgpElem {
    let (peer_ip, peer_asn) = peer(n);
    BgpElem {
        timestamp: t,
        elem_type: if path.is_some() {
            ElemType::ANNOUNCE
        } else {
            ElemType::WITHDRAW
        },
        peer_ip,
        peer_asn: Asn::new_32bit(peer_asn),
        prefix: NetworkPrefix::new(prefix.parse().expect("prefix"), None),
        next_hop: path.map(|_| peer_ip),
        as_path: path.map(AsPath::from_sequence),
        origin: path.map(|_| Origin::IGP),
        ..BgpElem::default()
    }
}

/// A TABLE_DUMP_V2 RIB. Each peer gets `filler` unrelated prefixes as well, so that
/// full-feed peers (big tables) can be told from partial ones.
pub fn rib(t: f64, routes: &[BgpElem], filler: &[(u8, u32)]) -> Vec<u8> {
    let mut encoder = bgpkit_parser::encoder::MrtRibEncoder::new();
    for route in routes {
        encoder.process_elem(route).expect("encode");
    }
    for (n, count) in filler {
        for i in 0..*count {
            let prefix = format!("10.{}.{}.0/24", i / 256, i % 256);
            encoder
                .process_elem(&elem(t, *n, &prefix, Some(&[64510 + u32::from(*n), 64496])))
                .expect("encode");
        }
    }
    encoder.export_bytes().expect("export").to_vec()
}

/// BGP4MP_ET update messages, one per element.
pub fn updates(elems: &[BgpElem]) -> Vec<u8> {
    let mut encoder = bgpkit_parser::encoder::MrtUpdatesEncoder::new();
    for elem in elems {
        encoder.process_elem(elem);
    }
    encoder.export_bytes().expect("export").to_vec()
}

/// The baseline RIB: peers 1-4 full-feed with every prefix, 1-2 via the primary and
/// 3-4 via the backup (prepended); peer 5 partial.
pub fn baseline_rib(t: f64) -> Vec<u8> {
    let mut routes = Vec::new();
    for n in 1..=4u8 {
        for prefix in PREFIXES {
            let path: Vec<u32> = if n <= 2 {
                vec![64510 + u32::from(n), PRIMARY, ORIGIN]
            } else {
                vec![64510 + u32::from(n), BACKUP, ORIGIN, ORIGIN, ORIGIN]
            };
            routes.push(elem(t, n, prefix, Some(&path)));
        }
    }
    rib(
        t,
        &routes,
        &[(1, 200), (2, 200), (3, 190), (4, 200), (5, 10)],
    )
}

/// JSON Lines of stdout, parsed.
pub fn json_lines(output: &Output) -> Vec<serde_json::Value> {
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("not JSON ({e}): {line}")))
        .collect()
}

/// The event lines (those without a `kind`).
pub fn events(output: &Output) -> Vec<serde_json::Value> {
    json_lines(output)
        .into_iter()
        .filter(|v| v.get("kind").is_none())
        .collect()
}
