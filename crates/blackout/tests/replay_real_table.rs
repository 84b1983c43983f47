//! Historical North Korean sequences, built as MRT update files and laid over a
//! real full table: the RIS rrc06 RIB of 2010-07-01 from the real test data (641,957
//! entries, 5 peers of which 2 are full-feed). The events must come out with the
//! right causes and times, the real table deciding which peers count.

mod support;

use support::*;

/// The RIB's full-feed peers (318,457 and 323,485 entries) and a partial one (13).
const FULL: [(&str, u32); 2] = [("202.249.2.169", 2497), ("202.249.2.20", 4777)];
const PARTIAL: (&str, u32) = ("202.249.2.183", 42);
const KP: [&str; 4] = [
    "175.45.176.0/24",
    "175.45.177.0/24",
    "175.45.178.0/24",
    "175.45.179.0/24",
];
/// The RIB was dumped at 2010-07-01T08:00:00Z.
const T0: f64 = 1_277_971_200.0;

fn route(t: f64, peer: (&str, u32), prefix: &str, upstream: Option<u32>) -> bgpkit_parser::BgpElem {
    let mut elem = elem(
        t,
        1,
        prefix,
        upstream.map(|u| vec![peer.1, u, 131279]).as_deref(),
    );
    elem.peer_ip = peer.0.parse().unwrap();
    elem.peer_asn = bgpkit_parser::models::Asn::new_32bit(peer.1);
    if elem.as_path.is_some() {
        elem.next_hop = Some(elem.peer_ip);
    }
    elem
}

/// Every peer announces the four /24s: the full-feed peers via `upstreams[i]`.
fn announce(t: f64, upstreams: [u32; 2]) -> Vec<bgpkit_parser::BgpElem> {
    let mut elems = Vec::new();
    for (i, peer) in FULL.into_iter().enumerate() {
        for prefix in KP {
            elems.push(route(t + i as f64, peer, prefix, Some(upstreams[i])));
        }
    }
    for prefix in KP {
        elems.push(route(t, PARTIAL, prefix, Some(4837)));
    }
    elems
}

fn withdraw(t: f64, peers: &[(&str, u32)]) -> Vec<bgpkit_parser::BgpElem> {
    let mut elems = Vec::new();
    for (i, peer) in peers.iter().enumerate() {
        for prefix in KP {
            elems.push(route(t + i as f64, *peer, prefix, None));
        }
    }
    elems
}

/// The events of a replay over the real RIB, or `None` when `test` is skipped for lack
/// of it.
fn replay(
    test: &str,
    scratch: &Scratch,
    profile: &[&str],
    extra: &[&str],
) -> Option<Vec<serde_json::Value>> {
    let rib = real_rib(test)?;
    let mut args = vec!["replay"];
    args.extend_from_slice(profile);
    args.extend_from_slice(&["--format", "json"]);
    args.extend_from_slice(extra);
    args.push(rib.to_str().unwrap());
    let updates = scratch.path("rrc06");
    args.push(updates.to_str().unwrap());
    let output = blackout(&args, &scratch.path(""));
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let lines = json_lines(&output);
    let stats = lines.iter().find(|l| l["kind"] == "stats").unwrap();
    assert_eq!(stats["rib_entries"], 641_957);
    assert_eq!(stats["full_feed_peers"], 2, "{stats}");
    Some(events(&output))
}

#[test]
fn both_upstreams_lost_for_nine_hours_is_internal() {
    let scratch = Scratch::new();
    scratch.write_gz(
        "rrc06/updates.20100701.0805.gz",
        &updates(&announce(T0 + 300.0, [4837, 20485])),
    );
    scratch.write_gz(
        "rrc06/updates.20100701.1000.gz",
        &updates(&withdraw(T0 + 7200.0, &[FULL[0], FULL[1], PARTIAL])),
    );
    scratch.write_gz(
        "rrc06/updates.20100701.1900.gz",
        &updates(&announce(T0 + 7200.0 + 9.0 * 3600.0, [4837, 20485])),
    );
    scratch.write_gz(
        "rrc06/updates.20100701.2000.gz",
        &updates(&[route(T0 + 12.0 * 3600.0, PARTIAL, KP[0], Some(4837))]),
    );
    let Some(events) = replay(
        "both_upstreams_lost_for_nine_hours_is_internal",
        &scratch,
        &["--profile", "kp"],
        &[],
    ) else {
        return;
    };
    assert_eq!(events.len(), 2, "{events:#?}");
    // The 2010 table has North Korea behind China Unicom alone: TransTelecom carrying the
    // routes for the first time is news even though the kp profile names it.
    assert_eq!(events[0]["entity"], "upstream:20485");
    assert_eq!(events[0]["cause"], "new-upstream");
    assert_eq!(events[1]["entity"], "country:KP");
    assert_eq!(events[1]["cause"], "internal");
    assert_eq!(events[1]["start"], "2010-07-01T10:00:00Z");
    // Back when the first full-feed peer (half of them) sees the routes again.
    assert_eq!(events[1]["end"], "2010-07-01T19:00:00Z");
}

#[test]
fn transtelecom_appearing_beside_china_unicom_is_a_new_upstream() {
    let scratch = Scratch::new();
    let profile = scratch.write(
        "kp-2017.toml",
        std::fs::read(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../engine/tests/scenarios/profile-kp-2017.toml"),
        )
        .unwrap()
        .as_slice(),
    );
    scratch.write_gz(
        "rrc06/updates.20100701.0805.gz",
        &updates(&announce(T0 + 300.0, [4837, 4837])),
    );
    scratch.write_gz(
        "rrc06/updates.20100701.1200.gz",
        &updates(&announce(T0 + 4.0 * 3600.0, [4837, 20485])),
    );
    let Some(events) = replay(
        "transtelecom_appearing_beside_china_unicom_is_a_new_upstream",
        &scratch,
        &["--config", profile.to_str().unwrap()],
        &[],
    ) else {
        return;
    };
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["entity"], "upstream:20485");
    assert_eq!(events[0]["cause"], "new-upstream");
    assert_eq!(events[0]["start"], "2010-07-01T12:00:01Z");
}

#[test]
fn a_roa_with_max_length_22_dropped_by_validating_peers_is_rpki_invalid() {
    let scratch = Scratch::new();
    let vrps = scratch.write(
        "vrps.json",
        br#"{"roas":[{"asn":"AS131279","prefix":"175.45.176.0/22","maxLength":22,"ta":"apnic"}]}"#,
    );
    scratch.write_gz(
        "rrc06/updates.20100701.0805.gz",
        &updates(&announce(T0 + 300.0, [4837, 20485])),
    );
    // Both full-feed peers validate and drop the invalid /24s; 16 hours later the ROA is fixed
    // (here: the routes return, as they did once the maxLength was corrected).
    scratch.write_gz(
        "rrc06/updates.20100701.0900.gz",
        &updates(&withdraw(T0 + 3600.0, &FULL)),
    );
    let Some(events) = replay(
        "a_roa_with_max_length_22_dropped_by_validating_peers_is_rpki_invalid",
        &scratch,
        &["--profile", "kp"],
        &["--vrps", vrps.to_str().unwrap()],
    ) else {
        return;
    };
    let country: Vec<_> = events
        .iter()
        .filter(|e| e["entity"] == "country:KP")
        .collect();
    assert_eq!(country.len(), 1, "{events:#?}");
    assert_eq!(country[0]["cause"], "rpki-invalid");
    assert_eq!(country[0]["start"], "2010-07-01T09:00:00Z");
    let per_prefix = events
        .iter()
        .filter(|e| {
            e["cause"] == "rpki-invalid"
                && e["entity"]
                    .as_str()
                    .unwrap()
                    .starts_with("prefix:175.45.17")
        })
        .count();
    // The invalid prefixes are warning states, not events of their own.
    assert_eq!(per_prefix, 0, "{events:#?}");
}

#[test]
fn a_flapping_morning_then_a_long_outage_is_one_flap_event_then_the_outage() {
    let test = "a_flapping_morning_then_a_long_outage_is_one_flap_event_then_the_outage";
    let scratch = Scratch::new();
    let mut elems = announce(T0 + 300.0, [4837, 4837]);
    // Six times gone for ten minutes, every half hour from 09:00.
    for cycle in 0..6 {
        let t = T0 + 3600.0 + f64::from(cycle) * 1800.0;
        elems.extend(withdraw(t, &[FULL[0], FULL[1], PARTIAL]));
        elems.extend(announce(t + 600.0, [4837, 4837]));
    }
    // The next morning, dark for nine and a half hours.
    let dark = T0 + 24.0 * 3600.0;
    elems.extend(withdraw(dark, &[FULL[0], FULL[1], PARTIAL]));
    elems.extend(announce(dark + 9.5 * 3600.0, [4837, 4837]));
    scratch.write_gz("rrc06/updates.20100701.0805.gz", &updates(&elems));
    let Some(events) = replay(test, &scratch, &["--profile", "kp"], &[]) else {
        return;
    };
    // An analyst's reading: unstable for a morning, then dark; no outage per cycle.
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0]["entity"], "country:KP");
    assert_eq!(events[0]["cause"], "flap");
    assert_eq!(events[0]["start"], "2010-07-01T09:00:00Z");
    assert_eq!(events[0]["end"], "2010-07-01T11:40:00Z");
    let summary = events[0]["summary"].as_str().unwrap();
    assert!(summary.contains("lost and back 6 times"), "{summary}");
    assert!(summary.contains("the longest down for 10 m"), "{summary}");
    assert_eq!(events[1]["entity"], "country:KP");
    assert_eq!(events[1]["cause"], "internal");
    // Dated by the withdrawals of the two full-feed peers, a second apart.
    let start = events[1]["start"].as_str().unwrap();
    assert!(start.starts_with("2010-07-02T08:00:0"), "{start}");
    assert_eq!(events[1]["end"], "2010-07-02T17:30:00Z");
}
