//! Archives as users have them (issue 13): under names of their own, given by
//! relative or absolute paths, updates without a RIB, damaged files. The RIB is the
//! real RIS rrc06 table of 2010-07-01 from ../shared/data (641,957 entries, 5 peers,
//! 2 of them full-feed); the network watched is MIT (AS3, four prefixes via Cogent
//! AS174 from both full-feed peers, nothing else in the table overlapping them), and
//! the updates withdraw its prefixes from the RIB's own peers.
//!
//! Without ../shared/data each test says it was skipped, and why, and passes.

mod support;

use std::path::{Path, PathBuf};
use support::*;

/// MIT in 2010, as the rrc06 table shows it.
const MIT_PROFILE: &str = r#"
name = "mit-2010"
description = "MIT (AS3) as the RIS rrc06 table of 2010-07-01 shows it"

[[network]]
name = "MIT"
asn = 3
prefixes = ["18.0.0.0/8", "128.30.0.0/15", "128.52.0.0/16", "192.54.222.0/24"]

[[upstream]]
asn = 174
name = "Cogent"
role = "primary"
"#;

const MIT: [&str; 4] = [
    "18.0.0.0/8",
    "128.30.0.0/15",
    "128.52.0.0/16",
    "192.54.222.0/24",
];

/// The RIB's two full-feed peers (318,457 and 323,485 entries).
const FULL: [(&str, u32); 2] = [("202.249.2.169", 2497), ("202.249.2.20", 4777)];

/// 2010-07-01T09:00:00Z, an hour after the RIB.
const T_WITHDRAW: f64 = 1_277_974_800.0;

/// A withdrawal of `prefix` by a real RIB peer.
fn withdrawal(t: f64, peer: (&str, u32), prefix: &str) -> bgpkit_parser::BgpElem {
    let mut elem = elem(t, 1, prefix, None);
    elem.peer_ip = peer.0.parse().expect("peer address");
    elem.peer_asn = bgpkit_parser::models::Asn::new_32bit(peer.1);
    elem
}

/// Both full-feed peers withdraw all of MIT's prefixes at 09:00.
fn mit_withdrawn() -> Vec<u8> {
    let mut elems = Vec::new();
    for (i, peer) in FULL.into_iter().enumerate() {
        for prefix in MIT {
            elems.push(withdrawal(T_WITHDRAW + i as f64, peer, prefix));
        }
    }
    updates(&elems)
}

/// A directory `dir` of the scratch space with the real RIB under `rib_name` and the
/// updates that withdraw MIT under `updates_name`; its path.
fn lay_out(
    scratch: &Scratch,
    dir: &str,
    rib: &Path,
    rib_name: &str,
    updates_name: &str,
) -> PathBuf {
    let dir = scratch.path(dir);
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::copy(rib, dir.join(rib_name)).expect("copy");
    std::fs::write(dir.join(updates_name), mit_withdrawn()).expect("write");
    dir
}

/// Runs `blackout replay --config mit.toml --format json ARGS` in `cwd`.
fn replay_in(scratch: &Scratch, cwd: &Path, args: &[&str]) -> std::process::Output {
    let profile = scratch.write("mit.toml", MIT_PROFILE.as_bytes());
    let mut all = vec![
        "replay",
        "--config",
        profile.to_str().expect("path"),
        "--format",
        "json",
    ];
    all.extend_from_slice(args);
    let output = blackout(&all, cwd);
    assert!(
        output.status.success(),
        "exit {:?}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

fn stats(output: &std::process::Output) -> serde_json::Value {
    json_lines(output)
        .into_iter()
        .find(|line| line["kind"] == "stats")
        .expect("a stats line")
}

fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// The RIB and the updates were read as one collector with a table, and the
/// withdrawals took MIT's routes away: an outage from 09:00.
fn assert_one_collector_and_mit_dark(output: &std::process::Output, collector: &str) {
    let stats = stats(output);
    let collectors = stats["collectors"].as_array().expect("collectors");
    assert_eq!(collectors.len(), 1, "{stats}");
    assert_eq!(collectors[0]["collector"], collector, "{stats}");
    assert_eq!(collectors[0]["table_seen"], true, "{stats}");
    assert_eq!(collectors[0]["table_peers"], 5, "{stats}");
    assert_eq!(collectors[0]["update_peers_without_table"], 0, "{stats}");
    assert_eq!(
        stats["warnings"].as_array().map(Vec::len),
        Some(0),
        "{stats}"
    );
    assert_eq!(stats["rib_entries"], 641_957);
    assert_eq!(stats["full_feed_peers"], 2, "{stats}");
    let events = events(output);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["entity"], "as:3");
    assert_eq!(events[0]["cause"], "internal");
    assert_eq!(events[0]["start"], "2010-07-01T09:00:00Z");
    assert!(!stderr(output).contains("warning"), "{}", stderr(output));
}

#[test]
fn a_rib_and_updates_under_names_of_ones_own_are_one_collector() {
    let test = "a_rib_and_updates_under_names_of_ones_own_are_one_collector";
    let Some(rib) = real_rib(test) else { return };
    let scratch = Scratch::new();
    let dir = lay_out(
        &scratch,
        "downloads",
        &rib,
        "mydump.rib.mrt",
        "mydump.updates.mrt",
    );
    // cd downloads; blackout replay mydump.updates.mrt mydump.rib.mrt
    let output = replay_in(&scratch, &dir, &["mydump.updates.mrt", "mydump.rib.mrt"]);
    assert_one_collector_and_mit_dark(&output, "unnamed");

    // bview.X and updates.X, one given relative to the working directory and the other
    // absolute
    std::fs::copy(&rib, dir.join("bview.20100701.0759.gz")).expect("copy");
    scratch.write_gz("downloads/updates.20100701.0900.gz", &mit_withdrawn());
    let absolute = dir.join("updates.20100701.0900.gz");
    let output = replay_in(
        &scratch,
        &dir,
        &["bview.20100701.0759.gz", absolute.to_str().expect("path")],
    );
    assert_one_collector_and_mit_dark(&output, "unnamed");
}

#[test]
fn a_collector_directory_names_the_collector_from_inside_it_too() {
    let test = "a_collector_directory_names_the_collector_from_inside_it_too";
    let Some(rib) = real_rib(test) else { return };
    let scratch = Scratch::new();
    let dir = lay_out(
        &scratch,
        "rrc06",
        &rib,
        "bview.20100701.0759.gz",
        "updates.20100701.0900",
    );
    // cd rrc06; blackout replay bview.X updates.X
    let output = replay_in(
        &scratch,
        &dir,
        &["bview.20100701.0759.gz", "updates.20100701.0900"],
    );
    assert_one_collector_and_mit_dark(&output, "rrc06");
    // blackout replay ./rrc06/../rrc06/updates.X rrc06/bview.X from the parent
    let output = replay_in(
        &scratch,
        &scratch.path(""),
        &[
            "./rrc06/../rrc06/updates.20100701.0900",
            "rrc06/bview.20100701.0759.gz",
        ],
    );
    assert_one_collector_and_mit_dark(&output, "rrc06");
}

#[test]
fn updates_whose_peers_match_no_rib_peer_are_warned_of() {
    let test = "updates_whose_peers_match_no_rib_peer_are_warned_of";
    let Some(rib) = real_rib(test) else { return };
    let scratch = Scratch::new();
    std::fs::create_dir_all(scratch.path("rrc06")).expect("mkdir");
    std::fs::copy(&rib, scratch.path("rrc06/bview.20100701.0759.gz")).expect("copy");
    scratch.write("mine.updates.mrt", &mit_withdrawn());
    // The RIB is rrc06's by its directory, the updates nobody's: two collectors.
    let args = ["rrc06/bview.20100701.0759.gz", "mine.updates.mrt"];
    let output = replay_in(&scratch, &scratch.path(""), &args);
    let text = stderr(&output);
    assert!(
        text.contains("warning: mine.updates.mrt: its 2 peers match no RIB peer")
            && text.contains("2 of them are in the table dump of collector rrc06")
            && text.contains("--collector NAME"),
        "{text}"
    );
    let stats = stats(&output);
    let warnings = stats["warnings"].as_array().expect("warnings");
    assert!(
        warnings
            .iter()
            .any(|w| w.as_str().is_some_and(|w| w.contains("match no RIB peer"))),
        "{stats}"
    );
    assert!(
        stats["problems"][0]
            .as_str()
            .is_some_and(|p| p.starts_with("collector unnamed: updates only")),
        "{stats}"
    );
    // the withdrawals touched nothing
    assert_eq!(events(&output).len(), 0);

    // --collector reads them as one collector's: the warning goes, the outage shows
    let mut with_collector = vec!["--collector", "rrc06"];
    with_collector.extend_from_slice(&args);
    let output = replay_in(&scratch, &scratch.path(""), &with_collector);
    assert_one_collector_and_mit_dark(&output, "rrc06");

    // peers that no table names at all: the 2 RIB-less peers of an updates file of
    // documentation peers, beside the RIB of the same (unnamed) collector
    std::fs::copy(&rib, scratch.path("bview.20100701.0759.gz")).expect("copy");
    let strangers: Vec<_> = (1..=2u8)
        .map(|n| elem(T_WITHDRAW, n, MIT[0], None))
        .collect();
    scratch.write("strangers.updates.mrt", &updates(&strangers));
    let output = replay_in(
        &scratch,
        &scratch.path(""),
        &["bview.20100701.0759.gz", "strangers.updates.mrt"],
    );
    let text = stderr(&output);
    assert!(
        text.contains(
            "warning: strangers.updates.mrt: its 2 peers match none of the 5 peers of \
             collector unnamed's table dump"
        ),
        "{text}"
    );
}

#[test]
fn updates_without_a_rib_are_flagged() {
    let test = "updates_without_a_rib_are_flagged";
    let Some(updates_file) =
        blackout_testdata::find(test, "mrt/ris-rrc06_updates.20150401.0000.gz")
    else {
        return;
    };
    let scratch = Scratch::new();
    let output = blackout(
        &[
            "replay",
            "--format",
            "json",
            updates_file.to_str().expect("path"),
        ],
        &scratch.path(""),
    );
    assert!(output.status.success(), "{}", stderr(&output));
    let text = stderr(&output);
    assert!(
        text.contains(
            "warning: collector rrc06: updates only (1 file), no table dump (RIB) among the inputs"
        ),
        "{text}"
    );
    let stats = stats(&output);
    let collectors = stats["collectors"].as_array().expect("collectors");
    assert_eq!(collectors.len(), 1, "{stats}");
    assert_eq!(collectors[0]["collector"], "rrc06");
    assert_eq!(collectors[0]["table_seen"], false);
    assert_eq!(collectors[0]["table_peers"], 0);
    // the peers that sent UPDATEs (bgpdump: AS25152 over IPv4 and IPv6; the third
    // peer of the file only changes state) have no table
    assert_eq!(collectors[0]["update_peers"], 2, "{stats}");
    assert_eq!(collectors[0]["update_peers_without_table"], 2);
    assert!(
        stats["problems"][0]
            .as_str()
            .is_some_and(|p| p.contains("updates only")),
        "{stats}"
    );
    // the table format says it on stderr too
    let output = blackout(
        &["replay", updates_file.to_str().expect("path")],
        &scratch.path(""),
    );
    assert!(stderr(&output).contains("updates only"));
    assert!(String::from_utf8_lossy(&output.stdout).contains("Warning: collector rrc06"));
}

/// Copies a gzip'd MRT file decompressed, with the length field of the record
/// `from_end` records before the last overwritten with `length`; returns the new
/// file's path and the damaged record's length.
fn with_bad_length(source: &Path, target: &Path, from_end: usize, length: u32) -> usize {
    use std::io::Read;
    let mut mrt = Vec::new();
    flate2::read::MultiGzDecoder::new(std::fs::File::open(source).expect("data file"))
        .read_to_end(&mut mrt)
        .expect("gzip");
    let mut starts = Vec::new();
    let mut at = 0;
    while at + 12 <= mrt.len() {
        starts.push(at);
        let declared = u32::from_be_bytes([mrt[at + 8], mrt[at + 9], mrt[at + 10], mrt[at + 11]]);
        at += 12 + declared as usize;
    }
    let damaged = starts[starts.len() - 1 - from_end];
    let real = starts[starts.len() - from_end] - damaged;
    mrt[damaged + 8..damaged + 12].copy_from_slice(&length.to_be_bytes());
    std::fs::write(target, mrt).expect("write");
    real
}

#[test]
fn damage_is_summarised_on_stderr_in_every_format() {
    let test = "damage_is_summarised_on_stderr_in_every_format";
    let Some(source) =
        blackout_testdata::find(test, "mrt/ris-rrcXX_latest-update.20181218.1140.gz")
    else {
        return;
    };
    let scratch = Scratch::new();
    let damaged = scratch.path("latest-update.mrt");
    let lost = with_bad_length(&source, &damaged, 12_674, 0x00ff_ffff);
    let checksum = scratch.path("updates.20181218.1140.gz");
    let mut gzip = std::fs::read(&source).expect("data file");
    let crc = gzip.len() - 8;
    gzip[crc] ^= 0xff;
    std::fs::write(&checksum, gzip).expect("write");
    for format in ["json", "table"] {
        let output = blackout(
            &[
                "replay",
                "--format",
                format,
                "--collector",
                "rrc00",
                "latest-update.mrt",
                "updates.20181218.1140.gz",
            ],
            &scratch.path(""),
        );
        assert!(output.status.success(), "{}", stderr(&output));
        let text = stderr(&output);
        assert!(
            text.contains(&format!(
                "damage in latest-update.mrt: 1 damaged record, {lost} bytes skipped, 1 resync"
            )),
            "{format}: {text}"
        );
        assert!(
            text.contains(
                "damage in updates.20181218.1140.gz: 0 damaged records; gzip checksum error at \
                 decompressed offset 7864375"
            ),
            "{format}: {text}"
        );
        if format == "json" {
            let stats = stats(&output);
            assert_eq!(stats["resyncs"], 1, "{stats}");
            assert_eq!(stats["checksum_errors"], 1, "{stats}");
            assert_eq!(stats["truncated_inputs"], 0, "{stats}");
            let damage = stats["damage"].as_array().expect("damage");
            assert_eq!(damage.len(), 2, "{stats}");
            assert_eq!(damage[0]["input"], "latest-update.mrt");
            assert_eq!(damage[0]["skipped_bytes"], lost);
        }
    }
}
