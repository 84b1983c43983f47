//! `blackout replay` end to end, on MRT files built in the test: a RIB dump at
//! 2025-01-01 00:00 UTC followed by update files, RIS-named, in a directory.

mod support;

use support::*;

/// 2025-01-01T00:00:00Z.
const T0: f64 = 1_735_689_600.0;

fn replay(scratch: &Scratch, extra: &[&str]) -> std::process::Output {
    let profile = scratch.profile();
    let mut args = vec![
        "replay",
        "--config",
        profile.to_str().unwrap(),
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    let dir = scratch.path("rrc00");
    args.push(dir.to_str().unwrap());
    blackout(&args, &scratch.path(""))
}

fn assert_ok(output: &std::process::Output) {
    assert!(
        output.status.success(),
        "exit {:?}\nstderr: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
}

fn announce_all(t: f64, prefixes: &[&str]) -> Vec<bgpkit_parser::BgpElem> {
    let mut elems = Vec::new();
    for n in 1..=4u8 {
        for prefix in prefixes {
            let path: Vec<u32> = if n <= 2 {
                vec![64510 + u32::from(n), PRIMARY, ORIGIN]
            } else {
                vec![64510 + u32::from(n), BACKUP, ORIGIN, ORIGIN, ORIGIN]
            };
            elems.push(elem(t + f64::from(n), n, prefix, Some(&path)));
        }
    }
    elems
}

fn withdraw_all(t: f64, prefixes: &[&str]) -> Vec<bgpkit_parser::BgpElem> {
    let mut elems = Vec::new();
    for n in 1..=4u8 {
        for prefix in prefixes {
            elems.push(elem(t + f64::from(n), n, prefix, None));
        }
    }
    elems
}

#[test]
fn a_prefix_withdrawn_by_every_peer_is_partial_then_recovers() {
    let scratch = Scratch::new();
    scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    scratch.write_gz(
        "rrc00/updates.20250101.0005.gz",
        &updates(&withdraw_all(T0 + 300.0, &["203.0.113.128/26"])),
    );
    scratch.write_gz(
        "rrc00/updates.20250101.0200.gz",
        &updates(&announce_all(T0 + 7200.0, &["203.0.113.128/26"])),
    );
    // A later unrelated update moves time past the recovery hold.
    scratch.write_gz(
        "rrc00/updates.20250101.0300.gz",
        &updates(&[elem(
            T0 + 10_800.0,
            1,
            "203.0.113.0/26",
            Some(&[64511, PRIMARY, ORIGIN]),
        )]),
    );
    let output = replay(&scratch, &[]);
    assert_ok(&output);
    let events = events(&output);
    assert_eq!(events.len(), 1, "{events:#?}");
    let event = &events[0];
    assert_eq!(event["cause"], "partial");
    assert_eq!(event["entity"], "as:64500");
    assert_eq!(event["start"], "2025-01-01T00:05:01Z");
    // Back once half the full-feed peers (`visibility_up`) see it again: the second re-announcement.
    assert_eq!(event["end"], "2025-01-01T02:00:02Z");
    assert_eq!(event["scope"]["prefixes"][0], "203.0.113.128/26");
    assert!(!event["evidence"].as_array().unwrap().is_empty());
    let stats = json_lines(&output)
        .into_iter()
        .find(|v| v["kind"] == "stats")
        .unwrap();
    assert_eq!(
        stats["full_feed_peers"], 4,
        "peer 5's table is partial: {stats}"
    );
    assert_eq!(stats["inputs"], 4);
}

#[test]
fn every_prefix_withdrawn_by_every_peer_is_internal() {
    let scratch = Scratch::new();
    scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    scratch.write(
        "rrc00/updates.20250101.0010",
        &updates(&withdraw_all(T0 + 600.0, &PREFIXES)),
    );
    let output = replay(&scratch, &[]);
    assert_ok(&output);
    let events = events(&output);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["cause"], "internal");
    assert_eq!(events[0]["severity"], "critical");
    assert_eq!(events[0]["start"], "2025-01-01T00:10:01Z");
    assert!(events[0]["end"].is_null());
}

#[test]
fn one_upstream_replaced_by_another_is_an_upstream_cut() {
    let scratch = Scratch::new();
    scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    let mut moves = Vec::new();
    for n in 1..=2u8 {
        for prefix in PREFIXES {
            moves.push(elem(
                T0 + 900.0,
                n,
                prefix,
                Some(&[64510 + u32::from(n), BACKUP, ORIGIN, ORIGIN, ORIGIN]),
            ));
        }
    }
    scratch.write_gz("rrc00/updates.20250101.0015.gz", &updates(&moves));
    let output = replay(&scratch, &[]);
    assert_ok(&output);
    let events = events(&output);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["cause"], "upstream-cut");
    assert_eq!(events[0]["entity"], "upstream:64501");
    assert_eq!(events[0]["start"], "2025-01-01T00:15:00Z");
    let prefixes: Vec<serde_json::Value> = json_lines(&output)
        .into_iter()
        .filter(|v| v["kind"] == "prefix")
        .collect();
    let view = &prefixes
        .iter()
        .find(|p| p["prefix"]["prefix"] == "203.0.113.0/26")
        .unwrap()["view"];
    assert_eq!(view["upstreams"]["64502"], 4);
    assert!(view["upstreams"].get("64501").is_none());
}

#[test]
fn a_more_specific_from_a_foreign_origin_is_a_hijack() {
    let scratch = Scratch::new();
    scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    let hijack = [
        elem(T0 + 1200.0, 3, "203.0.113.0/27", Some(&[64513, 64499])),
        elem(
            T0 + 1210.0,
            4,
            "203.0.113.0/27",
            Some(&[64514, 3356, 64499]),
        ),
    ];
    scratch.write_gz("rrc00/updates.20250101.0020.gz", &updates(&hijack));
    let output = replay(&scratch, &[]);
    assert_ok(&output);
    let events = events(&output);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["cause"], "hijack");
    assert_eq!(events[0]["entity"], "prefix:203.0.113.0/26");
    assert_eq!(events[0]["start"], "2025-01-01T00:20:00Z");
    assert!(events[0]["summary"].as_str().unwrap().contains("AS64499"));
}

#[test]
fn a_roa_makes_the_routes_invalid() {
    let scratch = Scratch::new();
    scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    // The ROA allows only the /24: the /26s are invalid, as the /24s were in March 2025.
    let vrps = scratch.write(
        "vrps.json",
        br#"{"metadata":{"generated":1735689600},"roas":[{"asn":"AS64500","prefix":"203.0.113.0/24","maxLength":24,"ta":"test"}]}"#,
    );
    // Validating peers 1-3 drop the routes; peer 4 keeps them.
    let mut drops = Vec::new();
    for n in 1..=3u8 {
        for prefix in PREFIXES {
            drops.push(elem(T0 + 60.0, n, prefix, None));
        }
    }
    scratch.write_gz("rrc00/updates.20250101.0001.gz", &updates(&drops));
    let output = replay(&scratch, &["--vrps", vrps.to_str().unwrap()]);
    assert_ok(&output);
    let events = events(&output);
    let network: Vec<_> = events
        .iter()
        .filter(|e| e["entity"] == "as:64500")
        .collect();
    assert_eq!(network.len(), 1, "{events:#?}");
    assert_eq!(network[0]["cause"], "rpki-invalid");
    let per_prefix = events
        .iter()
        .filter(|e| {
            e["cause"] == "rpki-invalid" && e["entity"].as_str().unwrap().starts_with("prefix:")
        })
        .count();
    // The invalid prefixes are warning states, not events of their own.
    assert_eq!(per_prefix, 0, "{events:#?}");
    let rpki_evidence = network[0]["evidence"].as_array().unwrap();
    assert!(!rpki_evidence.is_empty());
}

#[test]
fn a_file_that_is_not_mrt_is_an_error_but_the_others_are_read() {
    let scratch = Scratch::new();
    let rib = scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    let text = scratch.write(
        "rrc00/updates.20250101.0005.gz",
        b"this is not an MRT archive, just text\n",
    );
    let good = scratch.write_gz(
        "rrc00/updates.20250101.0010.gz",
        &updates(&withdraw_all(T0 + 600.0, &PREFIXES)),
    );
    let profile = scratch.profile();
    let output = blackout(
        &[
            "replay",
            "--config",
            profile.to_str().unwrap(),
            "--format",
            "json",
            rib.to_str().unwrap(),
            text.to_str().unwrap(),
            good.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("updates.20250101.0005.gz"), "{stderr}");
    assert!(stderr.contains("not an MRT archive"), "{stderr}");
    // The good files were still read.
    assert_eq!(events(&output).len(), 1);
}

#[test]
fn a_bad_profile_is_a_usage_error_naming_file_line_and_key() {
    let scratch = Scratch::new();
    let profile = scratch.write("bad.toml", b"name = \"x\"\n[[network]]\nname = \"n\"\nasn = 1\nprefixes = [\"203.0.113.0/26\"]\nfavourite = true\n");
    let output = blackout(
        &["replay", "--config", profile.to_str().unwrap(), "x.mrt"],
        &scratch.path(""),
    );
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bad.toml:6"), "{stderr}");
    assert!(stderr.contains("favourite"), "{stderr}");
}

#[test]
fn the_table_names_the_events_and_the_prefixes() {
    let scratch = Scratch::new();
    scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    scratch.write_gz(
        "rrc00/updates.20250101.0010.gz",
        &updates(&withdraw_all(T0 + 600.0, &PREFIXES)),
    );
    let profile = scratch.profile();
    let dir = scratch.path("rrc00");
    let output = blackout(
        &[
            "replay",
            "--config",
            profile.to_str().unwrap(),
            "--timeline",
            dir.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    assert_ok(&output);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("Events (1)"), "{stdout}");
    assert!(stdout.contains("internal"), "{stdout}");
    assert!(stdout.contains("203.0.113.192/26"), "{stdout}");
    assert!(stdout.contains("visibility 100% -> 75%"), "{stdout}");
}
