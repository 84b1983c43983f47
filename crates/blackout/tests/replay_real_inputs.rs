//! Replays of real inputs as users have them: an updates file with no table dump
//! (RIS rrc06, 2015-04-01 00:00, whose routes to 83.142.16.0/24 and 69.194.4.0/24
//! come and go every half minute), and an archive of one collector peer (the real
//! table of RIS rrc06's peer 202.249.2.169, AS2497, of 2010-07-01). Each must give
//! the verdict its inputs can carry, and say what it rests on.
//!
//! The data come from `$BLACKOUT_TEST_DATA` (which `./test.sh` exports), else
//! `../shared/data` beside the repository; without them each test says it is skipped.

mod support;

use std::io::BufRead;
use support::*;

/// A file of the real test data, or `None` after saying why `test` is skipped.
fn data_file(test: &str, relative: &str) -> Option<std::path::PathBuf> {
    let path = std::env::var_os("BLACKOUT_TEST_DATA")
        .filter(|dir| !dir.is_empty())
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data")
        })
        .join(relative);
    if path.is_file() {
        Some(path)
    } else {
        eprintln!(
            "skipped: {test}: the real test data file {} is missing (set BLACKOUT_TEST_DATA, \
             put shared/data beside the repository, or run scripts/fetch-test-data.sh)",
            path.display()
        );
        None
    }
}

/// Two networks whose routes come and go in the rrc06 updates of 2015-04-01 00:00.
const PROFILE_2015: &str = r#"name = "rrc06-2015"
description = "two networks whose routes come and go in RIS rrc06's updates of 2015-04-01 00:00"

[[network]]
name = "AS24950 network"
asn = 24950
prefixes = ["83.142.16.0/24"]

[[network]]
name = "AS33529 network"
asn = 33529
prefixes = ["69.194.4.0/24"]

[[upstream]]
asn = 6939
name = "Hurricane Electric"
role = "primary"
"#;

#[test]
fn an_updates_only_replay_gives_no_outage_verdict_and_says_why() {
    let test = "an_updates_only_replay_gives_no_outage_verdict_and_says_why";
    let Some(file) = data_file(test, "mrt/ris-rrc06_updates.20150401.0000.gz") else {
        return;
    };
    let scratch = Scratch::new();
    let profile = scratch.write("rrc06-2015.toml", PROFILE_2015.as_bytes());
    let (profile, file) = (profile.to_str().unwrap(), file.to_str().unwrap());
    let output = blackout(
        &["replay", "--config", profile, "--format", "json", file],
        &scratch.path(""),
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    // Said at the start, before anything else.
    let first = stderr.lines().next().unwrap_or_default();
    assert!(
        first.contains("updates only") && first.contains("no outage verdict"),
        "{stderr}"
    );
    let lines = json_lines(&output);
    let stats = lines.iter().find(|l| l["kind"] == "stats").unwrap();
    // The watched routes were read: withdrawn and announced again many times.
    assert!(stats["routes"].as_u64().unwrap() >= 20, "{stats}");
    assert_eq!(stats["full_feed_peers"], 0, "{stats}");
    let collectors = stats["collectors"].as_array().unwrap();
    assert_eq!(collectors.len(), 1, "{stats}");
    assert_eq!(collectors[0]["table_seen"], false, "{stats}");
    assert!(
        stats["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .any(|w| w.as_str().unwrap().contains("no outage verdict")),
        "{stats}"
    );
    // No outage, no flapping: no peer was ever seen with its table.
    let events = events(&output);
    assert!(events.is_empty(), "{events:#?}");
    // The table says it too.
    let table = blackout(&["replay", "--config", profile, file], &scratch.path(""));
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("Warning: collector") && text.contains("no outage verdict"),
        "{text}"
    );
}

const KP: [&str; 4] = [
    "175.45.176.0/24",
    "175.45.177.0/24",
    "175.45.178.0/24",
    "175.45.179.0/24",
];
/// The real RIB was dumped at 2010-07-01T08:00:00Z.
const T0: f64 = 1_277_971_200.0;
/// The one peer: rrc06's 202.249.2.169, AS2497 (IIJ).
const PEER: (&str, u32) = ("202.249.2.169", 2497);
/// How many of the peer's real routes the archive holds besides North Korea's.
const TABLE_ROUTES: usize = 20_000;

/// A route of the one peer, from its real line of the RIB or made for North Korea.
fn peer_route(t: f64, prefix: &str, path: Option<&[u32]>) -> bgpkit_parser::BgpElem {
    let mut route = elem(t, 1, prefix, path);
    route.peer_ip = PEER.0.parse().unwrap();
    route.peer_asn = bgpkit_parser::models::Asn::new_32bit(PEER.1);
    if route.as_path.is_some() {
        route.next_hop = Some(route.peer_ip);
    }
    route
}

#[test]
fn a_one_peer_archive_says_the_outage_with_low_confidence_and_the_upstreams_the_paths_showed() {
    let test =
        "a_one_peer_archive_says_the_outage_with_low_confidence_and_the_upstreams_the_paths_showed";
    let Some(text) = data_file(test, "text/ris-rrc06_bview.20100701.0759.bgpdump-m.txt.gz") else {
        return;
    };
    // The peer's real routes (IPv4, plain AS paths), as its table dump holds them.
    let reader = std::io::BufReader::new(flate2::read::GzDecoder::new(
        std::fs::File::open(&text).unwrap(),
    ));
    let mut routes = Vec::new();
    for line in reader.lines() {
        let line = line.unwrap();
        let fields: Vec<&str> = line.split('|').collect();
        if fields.len() < 7 || fields[3] != PEER.0 || fields[5].contains(':') {
            continue;
        }
        let Ok(path) = fields[6]
            .split(' ')
            .map(str::parse)
            .collect::<Result<Vec<u32>, _>>()
        else {
            continue;
        };
        routes.push(peer_route(T0, fields[5], Some(&path)));
        if routes.len() == TABLE_ROUTES {
            break;
        }
    }
    assert_eq!(routes.len(), TABLE_ROUTES);
    // North Korea behind China Unicom alone, as in 2010.
    for prefix in KP {
        routes.push(peer_route(T0, prefix, Some(&[PEER.1, 4837, 131279])));
    }
    let scratch = Scratch::new();
    let rib_file = scratch.write_gz("one-peer/bview.20100701.0800.gz", &rib(T0, &routes, &[]));
    let mut changes: Vec<bgpkit_parser::BgpElem> = KP
        .iter()
        .map(|prefix| peer_route(T0 + 3600.0, prefix, None))
        .collect();
    changes.extend(
        KP.iter()
            .map(|prefix| peer_route(T0 + 3.0 * 3600.0, prefix, Some(&[PEER.1, 4837, 131279]))),
    );
    let updates_file = scratch.write_gz("one-peer/updates.20100701.0900.gz", &updates(&changes));
    let output = blackout(
        &[
            "replay",
            "--profile",
            "kp",
            "--format",
            "json",
            rib_file.to_str().unwrap(),
            updates_file.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = json_lines(&output);
    let stats = lines.iter().find(|l| l["kind"] == "stats").unwrap();
    assert_eq!(stats["full_feed_peers"], 1, "{stats}");
    let events = events(&output);
    assert_eq!(events.len(), 1, "{events:#?}");
    let outage = &events[0];
    assert_eq!(outage["entity"], "country:KP");
    assert_eq!(outage["cause"], "internal");
    // Dated by the archive: the withdrawals at 09:00, the return at 11:00.
    assert_eq!(outage["start"], "2010-07-01T09:00:00Z", "{outage:#}");
    assert_eq!(outage["end"], "2010-07-01T11:00:00Z");
    // One peer's word: said, and weighed.
    assert!(outage["confidence"].as_f64().unwrap() <= 0.5, "{outage:#}");
    let summary = outage["summary"].as_str().unwrap();
    assert!(
        summary.contains("as seen by only 1 full-feed peer"),
        "{summary}"
    );
    // The upstream the paths showed, not the profile's list (which names
    // TransTelecom, AS20485, as well).
    assert!(summary.contains("AS4837"), "{summary}");
    assert!(!summary.contains("20485"), "{summary}");
    assert_eq!(outage["scope"]["upstreams"], serde_json::json!([4837]));
}
