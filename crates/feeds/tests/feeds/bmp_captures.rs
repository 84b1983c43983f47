//! Real router captures (`bmp/raw` of the shared data: Huawei, Cisco, 6WIND/FRR,
//! Juniper; and the Cisco IOS XR captures of `tests/data`) through the framer, the
//! decoder and the router session, with pmacct's decoded JSON as the expected
//! routes; the same streams cut into random fragments must give identical results.

use crate::common::{bmp_captures, read, read_gz};
use blackout_feeds::bmp::{BmpFramer, BmpMessage, PeerHeader, PeerType, decode};
use blackout_feeds::message::negotiate;
use blackout_feeds::update::{UpdateContext, decode_update};
use blackout_feeds::{BmpOptions, BmpRouter, BmpViews};
use blackout_model::PrefixFilter;
use blackout_model::{BgpInput, RouteChange, Timestamp};
use proptest::prelude::*;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

/// A real router's capture with pmacct's decoding of it.
pub struct PmacctCapture {
    /// A short name.
    pub name: &'static str,
    /// The BMP stream.
    pub bmp: Vec<u8>,
    /// pmacct's JSON, one object per line.
    pub json: String,
}

/// The pmacct captures of the shared data, and those committed with this crate.
pub fn pmacct_captures() -> Vec<PmacctCapture> {
    let shared = [
        "pmacct_200-BMP-HUAWEI-locrib_instance",
        "pmacct_201-BMP-CISCO-rd_instance",
        "pmacct_205-BMP-6wind-FRR-peer_down",
    ]
    .map(|name| PmacctCapture {
        name,
        bmp: read(&format!("bmp/raw/{name}.bmp")),
        json: read_gz(&format!("bmp/pmacct-expected/{name}.output-bmp-00.json.gz")),
    });
    let ours = [
        "cisco-xr-7.10-post-policy-loc-rib",
        "cisco-xr-24.4-loc-rib-vrfs-peer-down",
    ]
    .map(|name| PmacctCapture {
        name,
        bmp: crate::common::read_committed(&format!("{name}.bmp")),
        json: crate::common::gunzip(&crate::common::read_committed(&format!(
            "{name}.pmacct.json.gz"
        ))),
    });
    shared.into_iter().chain(ours).collect()
}

fn frames(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut framer = BmpFramer::new();
    framer.push(bytes);
    let mut out = Vec::new();
    while let Some(message) = framer.next_message().expect("real capture frames") {
        out.push(message.to_vec());
    }
    assert_eq!(
        framer.pending(),
        0,
        "the capture ends on a message boundary"
    );
    out
}

fn view(peer: &PeerHeader) -> &'static str {
    if peer.peer_type == PeerType::LocRib {
        "loc"
    } else if peer.post_policy() {
        "post"
    } else {
        "pre"
    }
}

/// pmacct writes the RD as `type:admin:assigned`.
fn rd(distinguisher: u64) -> String {
    if distinguisher == 0 {
        return String::new();
    }
    let b = distinguisher.to_be_bytes();
    let kind = u16::from_be_bytes([b[0], b[1]]);
    match kind {
        0 => format!(
            "0:{}:{}",
            u16::from_be_bytes([b[2], b[3]]),
            u32::from_be_bytes([b[4], b[5], b[6], b[7]])
        ),
        2 => format!(
            "2:{}:{}",
            u32::from_be_bytes([b[2], b[3], b[4], b[5]]),
            u16::from_be_bytes([b[6], b[7]])
        ),
        _ => format!("{kind}:?"),
    }
}

/// Every unicast route of every Route Monitoring message, one line each:
/// `A|view|rd|peer|prefix|path_id|path` or `W|view|rd|peer|prefix|path_id`, decoded
/// with the context of the peer's Peer Up as the decoder's public parts give it.
/// Like pmacct, a withdrawal is listed only of a route held (announced, and not
/// withdrawn or flushed by a Peer Down since).
fn decoded_lines(bytes: &[u8]) -> (Vec<String>, usize) {
    let mut contexts: HashMap<(PeerType, u64, IpAddr), UpdateContext> = HashMap::new();
    let mut held: BTreeSet<(String, String)> = BTreeSet::new();
    let mut lines = Vec::new();
    let mut messages = 0;
    for frame in frames(bytes) {
        messages += 1;
        match decode(&frame).expect("real message decodes") {
            BmpMessage::PeerUp(up) => {
                contexts.insert(
                    (up.peer.peer_type, up.peer.distinguisher, up.peer.address),
                    negotiate(&up.received_open, &up.sent_open),
                );
            }
            BmpMessage::RouteMonitoring(rm) => {
                let p = rm.peer;
                let mut ctx = contexts
                    .get(&(p.peer_type, p.distinguisher, p.address))
                    .copied()
                    .unwrap_or_default();
                ctx.asn4 = p.peer_type == PeerType::LocRib || !p.legacy_as_path();
                let update =
                    decode_update(rm.update, &ctx, &|_| true).expect("real UPDATE decodes");
                let head = format!("{}|{}|{}", view(&p), rd(p.distinguisher), p.address);
                if let Some(family) = update.end_of_rib.filter(|f| f.safi == 1) {
                    lines.push(format!("E|{head}|{}", family.afi));
                }
                for n in &update.withdrawn {
                    let route = format!("{}|{:?}", n.prefix, n.path_id);
                    if held.remove(&(head.clone(), route.clone())) {
                        lines.push(format!("W|{head}|{route}"));
                    }
                }
                let path = update.as_path.map(|p| p.to_string()).unwrap_or_default();
                for n in &update.announced {
                    let route = format!("{}|{:?}", n.prefix, n.path_id);
                    lines.push(format!("A|{head}|{route}|{path}"));
                    held.insert((head.clone(), route));
                }
            }
            BmpMessage::PeerDown(down) => {
                let p = down.peer;
                let peer = format!("|{}|{}", rd(p.distinguisher), p.address);
                held.retain(|(head, _)| !head.ends_with(&peer));
            }
            _ => {}
        }
    }
    lines.sort();
    (lines, messages)
}

/// A record's AS path: older pmacct writes a list, newer a string.
fn pmacct_path(v: &serde_json::Value) -> String {
    match &v["as_path"] {
        serde_json::Value::String(path) => path.clone(),
        serde_json::Value::Array(asns) => asns
            .iter()
            .filter_map(|x| x.as_str())
            .collect::<Vec<_>>()
            .join(" "),
        _ => String::new(),
    }
}

/// The same lines from pmacct's JSON: its unicast route_monitor records.
fn pmacct_lines(text: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("pmacct JSON");
        if v["bmp_msg_type"] != "route_monitor" || v["safi"] != 1 {
            continue;
        }
        let view = if v["is_loc"] == 1 {
            "loc"
        } else if v["is_post"] == 1 {
            "post"
        } else {
            "pre"
        };
        let rd = if v["rd_origin"] == "bmp" {
            v["rd"].as_str().unwrap_or("").to_string()
        } else {
            String::new()
        };
        let head = format!("{view}|{rd}|{}", v["peer_ip"].as_str().expect("peer_ip"));
        let prefix = v["ip_prefix"].as_str().unwrap_or("");
        let path_id = match v["as_path_id"].as_u64() {
            Some(id) => format!("Some({id})"),
            None => "None".to_string(),
        };
        match v["log_type"].as_str() {
            Some("update") => {
                lines.push(format!("A|{head}|{prefix}|{path_id}|{}", pmacct_path(&v)));
            }
            Some("delete" | "withdraw") => lines.push(format!("W|{head}|{prefix}|{path_id}")),
            Some("end-of-rib") => lines.push(format!("E|{head}|{}", v["afi"])),
            other => panic!("unexpected log_type {other:?}"),
        }
    }
    lines.sort();
    lines
}

#[test]
fn unicast_routes_match_pmacct() {
    require_data!("unicast_routes_match_pmacct");
    for capture in pmacct_captures() {
        let name = capture.name;
        let (ours, messages) = decoded_lines(&capture.bmp);
        let expected = pmacct_lines(&capture.json);
        assert!(
            expected.len() >= 7,
            "{name}: pmacct has {} unicast routes",
            expected.len()
        );
        let ours_set: BTreeSet<_> = ours.iter().collect();
        let expected_set: BTreeSet<_> = expected.iter().collect();
        let missing: Vec<_> = expected_set.difference(&ours_set).take(5).collect();
        let extra: Vec<_> = ours_set.difference(&expected_set).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name} ({messages} messages): missing {missing:#?}\nextra {extra:#?}"
        );
        assert_eq!(ours, expected, "{name}: same routes, same counts");
        eprintln!(
            "{name}: {messages} messages, {} unicast routes as pmacct",
            ours.len()
        );
    }
}

/// Runs a capture through a router session, delivered in the given pieces.
pub fn through_router(bytes: &[u8], cuts: &[usize], views: BmpViews) -> (Vec<BgpInput>, BmpRouter) {
    let options = Arc::new(BmpOptions {
        views,
        filter: PrefixFilter::everything(),
    });
    let mut router = BmpRouter::new("192.0.2.1".parse().unwrap(), options);
    let mut framer = BmpFramer::new();
    let mut out = Vec::new();
    let mut start = 0;
    let now = Timestamp::from_secs(1_700_000_000);
    for &cut in cuts.iter().chain(std::iter::once(&bytes.len())) {
        let cut = cut.clamp(start, bytes.len());
        framer.push(&bytes[start..cut]);
        start = cut;
        while let Some(message) = framer.next_message().expect("frames") {
            router.handle_bytes(now, message, &mut out);
        }
    }
    (out, router)
}

const ALL_VIEWS: BmpViews = BmpViews {
    pre_policy: true,
    post_policy: true,
    loc_rib: true,
};

/// pmacct's records in the order it wrote them.
pub fn pmacct_records(text: &str) -> Vec<serde_json::Value> {
    let mut records: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("pmacct JSON"))
        .collect();
    records.sort_by_key(|v| v["seq"].as_u64().unwrap_or(0));
    records
}

/// pmacct's unicast routes at the end of the capture, as they should feed the BGP
/// state: the global Loc-RIB (`loc-rib||prefix|path`) and, per peer, one Adj-RIB-In
/// view (`pre|peer|prefix|path` or `post|...`), pre-policy taking over from
/// post-policy when its announcements come. RD-instance peers and VRF Loc-RIBs
/// (pmacct's `rd_origin` `bmp`) are left out, and each Peer Down clears its peer.
/// pmacct's own "internal" flush records are not BMP messages and are left out.
fn pmacct_fed(text: &str) -> BTreeSet<String> {
    let mut table: BTreeMap<(String, String), String> = BTreeMap::new();
    let mut feeding: HashMap<String, &str> = HashMap::new();
    for v in pmacct_records(text) {
        if v["rd_origin"] == "bmp" {
            continue;
        }
        let loc = v["is_loc"] == 1;
        let peer = if loc {
            "loc-rib|".to_string()
        } else {
            v["peer_ip"].as_str().unwrap_or("").to_string()
        };
        match v["bmp_msg_type"].as_str() {
            Some("route_monitor") if v["safi"] == 1 => {
                let view = if loc {
                    "loc-rib"
                } else if v["is_post"] == 1 {
                    "post"
                } else {
                    "pre"
                };
                let prefix = v["ip_prefix"].as_str().unwrap_or("").to_string();
                let fed = feeding.get(&peer).copied();
                if v["log_type"] == "update" {
                    match fed {
                        None => {
                            feeding.insert(peer.clone(), view);
                        }
                        Some("post") if view == "pre" => {
                            table.retain(|(p, _), _| *p != peer);
                            feeding.insert(peer.clone(), view);
                        }
                        Some(current) if current != view => continue,
                        Some(_) => {}
                    }
                    let mut path = pmacct_path(&v);
                    // The 6WIND router (AS4226809914) puts its own AS in front of its
                    // Loc-RIB and post-policy paths; the router session removes it.
                    if view != "pre" {
                        path = path.trim_start_matches("4226809914 ").to_string();
                    }
                    table.insert((peer, prefix), path);
                } else if fed == Some(view) {
                    table.remove(&(peer, prefix));
                }
            }
            Some("peer_down") => {
                table.retain(|(p, _), _| *p != peer);
                feeding.remove(&peer);
            }
            _ => {}
        }
    }
    table
        .into_iter()
        .map(|((peer, prefix), path)| {
            let view = feeding.get(&peer).copied().unwrap_or("?");
            if view == "loc-rib" {
                format!("{peer}|{prefix}|{path}")
            } else {
                format!("{view}|{peer}|{prefix}|{path}")
            }
        })
        .collect()
}

/// The router session's routes in the same form.
fn router_fed(router: &BmpRouter) -> BTreeSet<String> {
    router
        .routes()
        .into_iter()
        .map(|(key, prefix, _, path)| {
            let view = key.collector.rsplit(':').next().unwrap_or("");
            match view {
                "loc-rib" => format!("loc-rib||{prefix}|{path}"),
                "post" => format!("post|{}|{prefix}|{path}", key.ip),
                _ => format!("pre|{}|{prefix}|{path}", key.ip),
            }
        })
        .collect()
}

#[test]
fn routes_feeding_the_state_match_pmacct() {
    require_data!("routes_feeding_the_state_match_pmacct");
    for capture in pmacct_captures() {
        let name = capture.name;
        let (inputs, router) = through_router(&capture.bmp, &[], ALL_VIEWS);
        let stats = router.stats().clone();
        assert_eq!(
            stats.bad_messages + stats.bad_updates,
            0,
            "{name}: {stats:?}"
        );
        let ours = router_fed(&router);
        let expected = pmacct_fed(&capture.json);
        let missing: Vec<_> = expected.difference(&ours).take(5).collect();
        let extra: Vec<_> = ours.difference(&expected).take(5).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "{name}: missing {missing:#?}\nextra {extra:#?}"
        );
        // One Adj-RIB-In view per peer feeds, never both.
        let mut views: HashMap<IpAddr, BTreeSet<String>> = HashMap::new();
        for (key, ..) in router.routes() {
            if !key.collector.ends_with(":loc-rib") {
                views
                    .entry(key.ip)
                    .or_default()
                    .insert(key.collector.to_string());
            }
        }
        assert!(views.values().all(|v| v.len() == 1), "{name}: {views:?}");
        assert!(!inputs.is_empty() || ours.is_empty(), "{name}");
        eprintln!(
            "{name}: {} routes feed the state at the end; {stats:?}",
            ours.len()
        );
    }
}

#[test]
fn peer_down_flushes_that_peer_only() {
    require_data!("peer_down_flushes_that_peer_only");
    // The Juniper lab's reach capture, then its peer-down capture (192.0.2.1, AS65011),
    // over one session: that peer's routes go, the others stay.
    let mut bytes = read("bmp/raw/akvorado_bmp-reach.bmp");
    bytes.extend(read("bmp/raw/akvorado_bmp-peer-down.bmp"));
    let (inputs, mut router) = through_router(&bytes, &[], ALL_VIEWS);
    let downs: Vec<String> = inputs
        .iter()
        .filter_map(|i| match i {
            BgpInput::PeerDown { peer, .. } => Some(peer.to_string()),
            _ => None,
        })
        .collect();
    assert_eq!(downs, vec!["bmp:192.0.2.1 192.0.2.1 AS65011".to_string()]);
    assert_eq!(router.stats().peer_downs, 1);
    // The peer held routes: its Peer Down is feed evidence, with them and the reason.
    let report = router.report();
    let [evidence] = report.peer_downs.as_slice() else {
        panic!(
            "one Peer Down of a peer with routes: {:?}",
            report.peer_downs
        );
    };
    assert_eq!(evidence.peer.to_string(), downs[0]);
    assert!(evidence.routes > 0, "{evidence:?}");
    eprintln!("{evidence:?}");
    let peer = report
        .peers
        .iter()
        .find(|p| p.address.to_string() == "192.0.2.1")
        .expect("the peer stays listed, down");
    assert!(!peer.up);
    assert_eq!(peer.down_reason.as_ref(), Some(&evidence.reason));
    assert_eq!((peer.routes, peer.key.as_ref()), (0, None));
    let left = router.routes();
    assert!(!left.is_empty(), "the other peers keep their routes");
    assert!(
        left.iter()
            .all(|(key, ..)| key.ip.to_string() != "192.0.2.1")
    );
    // Losing the session flushes every peer that had routes, once each.
    let mut out = Vec::new();
    router.session_lost(Timestamp::from_secs(1), &mut out);
    let peers: BTreeSet<String> = left.iter().map(|(key, ..)| key.to_string()).collect();
    let flushed: BTreeSet<String> = out
        .iter()
        .map(|i| match i {
            BgpInput::PeerDown { peer, .. } => peer.to_string(),
            other => panic!("not a PeerDown: {other:?}"),
        })
        .collect();
    assert_eq!(flushed, peers);
    assert_eq!(out.len(), peers.len());
    assert_eq!(router.route_count(), 0);
}

#[test]
fn every_capture_decodes_and_juniper_cases_hold() {
    require_data!("every_capture_decodes_and_juniper_cases_hold");
    let mut total = 0;
    for name in bmp_captures() {
        let bytes = read(&format!("bmp/raw/{name}"));
        let (inputs, router) = through_router(&bytes, &[], ALL_VIEWS);
        let stats = router.stats();
        assert_eq!(stats.bad_messages, 0, "{name}: {stats:?}");
        assert_eq!(stats.bad_updates, 0, "{name}: {stats:?}");
        total += stats.messages;
        match name.as_str() {
            "akvorado_bmp-reach-unknown-family.bmp" | "akvorado_bmp-reach-vpls.bmp" => {
                assert!(!stats.skipped_families.is_empty(), "{name}: {stats:?}");
                assert!(
                    !inputs.iter().any(|i| matches!(i, BgpInput::Route(_))),
                    "{name}"
                );
            }
            "akvorado_bmp-reach-addpath.bmp" => {
                let ids: Vec<_> = inputs
                    .iter()
                    .filter_map(|i| match i {
                        BgpInput::Route(r) => r.path_id,
                        _ => None,
                    })
                    .collect();
                assert!(
                    !ids.is_empty(),
                    "{name}: ADD-PATH ids found without a Peer Up: {inputs:?}"
                );
            }
            "akvorado_bmp-reach.bmp" => {
                let announced = inputs
                    .iter()
                    .filter(|i| matches!(i, BgpInput::Route(r) if matches!(r.change, RouteChange::Announce { .. })))
                    .count();
                assert_eq!(stats.route_monitoring, 17, "{name}");
                assert!(announced >= 10, "{name}: {announced} announcements");
            }
            "akvorado_bmp-eor.bmp" => assert!(stats.end_of_ribs > 0, "{name}: {stats:?}"),
            "akvorado_bmp-peer-down.bmp" => assert_eq!(stats.peer_downs, 1),
            "akvorado_bmp-terminate.bmp" => assert!(router.terminated()),
            "akvorado_bmp-init.bmp" => assert!(router.sys_name().is_some()),
            _ => {}
        }
    }
    assert!(total > 900, "{total} messages in all");
}

/// One capture's inputs, as text, for comparing runs.
fn run_text(bytes: &[u8], cuts: &[usize]) -> Vec<String> {
    let (inputs, router) = through_router(bytes, cuts, ALL_VIEWS);
    let mut lines: Vec<String> = inputs.iter().map(|i| format!("{i:?}")).collect();
    lines.push(format!("{:?}", router.stats()));
    lines
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(24))]
    #[test]
    fn random_fragments_give_identical_results(
        file in 0usize..15,
        mut cuts in proptest::collection::vec(0usize..70_000, 0..400),
    ) {
        if blackout_testdata::find("random_fragments_give_identical_results", "bmp").is_none() {
            return Ok(());
        }
        let name = &bmp_captures()[file];
        let bytes = read(&format!("bmp/raw/{name}"));
        cuts.sort_unstable();
        let whole = run_text(&bytes, &[]);
        let pieces = run_text(&bytes, &cuts);
        prop_assert_eq!(whole, pieces);
    }
}

#[test]
fn byte_by_byte_gives_identical_results() {
    require_data!("byte_by_byte_gives_identical_results");
    let bytes = read("bmp/raw/pmacct_201-BMP-CISCO-rd_instance.bmp");
    let cuts: Vec<usize> = (1..bytes.len()).collect();
    assert_eq!(run_text(&bytes, &[]), run_text(&bytes, &cuts));
}
