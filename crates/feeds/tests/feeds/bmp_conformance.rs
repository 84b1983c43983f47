//! What a BMP feed says of real routers, capture by capture, against pmacct's own
//! decoding of the same capture: the router's sysName and sysDescr, its monitored
//! peers (address, AS, BGP ID, type, route distinguisher, up or down with the reason
//! code), the router's route counts per peer, the views it sends and those that
//! feed the BGP state with their routes, what is skipped and why, and the recent
//! Peer Downs of peers that held routes. Then the same captures with the profile's
//! `views` narrowed: a feed that gets messages and no usable route says why.

use crate::bmp_captures::{PmacctCapture, pmacct_captures, pmacct_records, through_router};
use blackout_feeds::bmp::BmpRouterHealth;
use blackout_feeds::update::Family;
use blackout_feeds::{BmpRouter, BmpView, BmpViews};
use std::collections::{BTreeMap, BTreeSet};

fn capture(name: &str) -> PmacctCapture {
    pmacct_captures()
        .into_iter()
        .find(|c| c.name == name)
        .unwrap_or_else(|| panic!("no capture {name}"))
}

/// pmacct writes a route distinguisher as `type:admin:assigned`; the report as
/// `admin:assigned`.
fn pmacct_rd(v: &serde_json::Value) -> Option<String> {
    v["rd"]
        .as_str()
        .map(|rd| rd.split_once(':').map_or(rd, |(_, r)| r).to_string())
}

/// A peer as both sides can name it: type, address (none for Loc-RIB instances,
/// whose address the report gives as the router's), AS, distinguisher.
type PeerName = (u8, String, u64, Option<String>);

fn pmacct_peer(v: &serde_json::Value) -> PeerName {
    let peer_type = v["peer_type"].as_u64().unwrap_or(99) as u8;
    let address = if peer_type == 3 {
        String::new()
    } else {
        v["peer_ip"].as_str().unwrap_or("").to_string()
    };
    let rd = if peer_type == 0 { None } else { pmacct_rd(v) };
    (peer_type, address, v["peer_asn"].as_u64().unwrap_or(0), rd)
}

fn report_peer(peer: &blackout_feeds::BmpPeerHealth) -> PeerName {
    let peer_type = match peer.peer_type.as_str() {
        "global" => 0,
        "rd-instance" => 1,
        "local-instance" => 2,
        "loc-rib" => 3,
        _ => 99,
    };
    let address = if peer_type == 3 {
        String::new()
    } else {
        peer.address.to_string()
    };
    (
        peer_type,
        address,
        u64::from(peer.asn),
        peer.distinguisher.clone(),
    )
}

/// Everything the report says that pmacct's JSON says too, checked against it.
fn check_against_pmacct(name: &str, router: &BmpRouter, report: &BmpRouterHealth, json: &str) {
    let records = pmacct_records(json);
    let of = |kind: &str| {
        records
            .iter()
            .filter(move |v| v["bmp_msg_type"] == kind)
            .collect::<Vec<_>>()
    };

    // The router's identity.
    let init = of("init");
    assert_eq!(init.len(), 1, "{name}");
    assert_eq!(
        report.sys_name.as_deref(),
        init[0]["bmp_init_info_sysname"].as_str(),
        "{name}"
    );
    assert_eq!(
        report.sys_descr.as_deref(),
        init[0]["bmp_init_info_sysdescr"].as_str(),
        "{name}"
    );

    // Peer Ups and Peer Downs, one record each in pmacct's output.
    let stats = router.stats();
    assert_eq!(stats.peer_ups, of("peer_up").len() as u64, "{name}");
    assert_eq!(stats.peer_downs, of("peer_down").len() as u64, "{name}");

    // The monitored peers with their BGP IDs, and which are down at the end with
    // which reason.
    let mut last: BTreeMap<PeerName, Option<u8>> = BTreeMap::new();
    let mut bgp_ids: BTreeMap<PeerName, String> = BTreeMap::new();
    let mut filtered: BTreeMap<PeerName, bool> = BTreeMap::new();
    for v in &records {
        match v["bmp_msg_type"].as_str() {
            Some("peer_up") => {
                last.insert(pmacct_peer(v), None);
                bgp_ids.insert(pmacct_peer(v), v["bgp_id"].as_str().unwrap_or("").into());
                filtered.insert(pmacct_peer(v), v["is_filtered"] == 1);
            }
            Some("peer_down") => {
                let reason = v["reason_type"].as_u64().map(|r| r as u8);
                last.insert(pmacct_peer(v), reason);
            }
            _ => {}
        }
    }
    let ours: BTreeMap<PeerName, Option<u8>> = report
        .peers
        .iter()
        .map(|p| {
            let reason = p.down_reason.as_ref().and_then(|r| r.code);
            assert_eq!(p.up, reason.is_none(), "{name}: {p:?}");
            (report_peer(p), reason)
        })
        .collect();
    // A router may send routes of a peer it sent no Peer Up for: those are extra.
    for (peer, reason) in &last {
        assert_eq!(ours.get(peer), Some(reason), "{name}: peer {peer:?}");
    }
    for peer in &report.peers {
        if let Some(id) = bgp_ids.get(&report_peer(peer)) {
            assert_eq!(&peer.bgp_id.to_string(), id, "{name}: {peer:?}");
        }
        // The F flag of a Loc-RIB instance: not the complete table.
        if let Some(is_filtered) = filtered.get(&report_peer(peer)) {
            assert_eq!(peer.filtered, *is_filtered, "{name}: {peer:?}");
        }
    }
    assert_eq!(report.peers_total as usize, report.peers.len(), "{name}");

    // The router's own counts of each peer's routes, as its last Statistics Report
    // gave them.
    let mut tables: BTreeMap<PeerName, (Option<u64>, Option<u64>)> = BTreeMap::new();
    for v in of("stats") {
        let peer = pmacct_peer(v);
        let loc = peer.0 == 3;
        let (total, per_family) = if loc { (8, 10) } else { (7, 9) };
        let entry = tables.entry(peer).or_default();
        let counter = v["counter_type"].as_u64();
        let value = v["counter_value"].as_u64();
        if counter == Some(total) && v["afi"].is_null() {
            entry.0 = value;
        }
        if counter == Some(per_family) && v["afi"] == 1 && v["safi"] == 1 {
            entry.1 = value;
        }
    }
    for peer in &report.peers {
        if let Some((total, ipv4)) = tables.get(&report_peer(peer))
            && peer.up
        {
            assert_eq!(
                (peer.table_routes, peer.table_ipv4),
                (*total, *ipv4),
                "{name}: {peer:?}"
            );
        }
    }

    // The families skipped are pmacct's non-unicast ones, and include all those of
    // global peers' Adj-RIB-In (pmacct does not mark which of its Loc-RIB and
    // labeled routes come from VRF instances, whose messages are skipped whole).
    let families = |global_adj_rib_in: bool| -> BTreeSet<String> {
        of("route_monitor")
            .into_iter()
            .filter(|v| v["safi"] != 1)
            .filter(|v| !global_adj_rib_in || (v["is_loc"] != 1 && v["rd_origin"] != "bmp"))
            .map(|v| {
                Family {
                    afi: v["afi"].as_u64().unwrap_or(0) as u16,
                    safi: v["safi"].as_u64().unwrap_or(0) as u8,
                }
                .to_string()
            })
            .collect()
    };
    let skipped: BTreeSet<String> = stats
        .skipped_families
        .keys()
        .map(|f| f.to_string())
        .collect();
    assert!(skipped.is_subset(&families(false)), "{name}: {skipped:?}");
    assert!(skipped.is_superset(&families(true)), "{name}: {skipped:?}");

    // RD-instance peers and VRF Loc-RIBs, skipped: the same distinguishers.
    let vrf_rds = |peer_type: u8| -> BTreeSet<String> {
        records
            .iter()
            .filter(|v| {
                v["bmp_msg_type"] == "route_monitor"
                    && v["rd_origin"] == "bmp"
                    && (v["is_loc"] == 1) == (peer_type == 3)
            })
            .filter_map(pmacct_rd)
            .collect()
    };
    let skipped_text: String = report
        .skipped
        .iter()
        .map(|s| format!("{} ({}): {}\n", s.what, s.messages, s.why))
        .collect();
    for rd in vrf_rds(1) {
        assert!(
            skipped_text.contains(&rd),
            "{name}: RD {rd}: {skipped_text}"
        );
    }
    for rd in vrf_rds(3) {
        assert!(
            skipped_text.contains(&format!("RD {rd}")),
            "{name}: VRF RD {rd}: {skipped_text}"
        );
    }
    eprintln!(
        "{name}: {} messages, {} peers, views sent {:?}, used {:?}; skipped:\n{skipped_text}",
        stats.messages,
        report.peers.len(),
        report.views_sent,
        report.views_used
    );
}

/// Routes held at the end, per view.
fn routes_per_view(router: &BmpRouter) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for (key, ..) in router.routes() {
        let view = match key.collector.rsplit(':').next() {
            Some("loc-rib") => "loc-rib",
            Some("post") => "post-policy",
            _ => "pre-policy",
        };
        *out.entry(view.to_string()).or_default() += 1;
    }
    out
}

fn counts(pairs: &[(&str, usize)]) -> BTreeMap<String, usize> {
    pairs.iter().map(|(k, v)| (k.to_string(), *v)).collect()
}

const ALL: BmpViews = BmpViews {
    pre_policy: true,
    post_policy: true,
    loc_rib: true,
};

#[test]
fn cisco_ios_xr_7_10_sends_post_policy_and_loc_rib_and_its_loc_rib_feeds() {
    require_data!("cisco_ios_xr_7_10_sends_post_policy_and_loc_rib_and_its_loc_rib_feeds");
    // The router of issue 13: post-policy Adj-RIB-In and Loc-RIB, no pre-policy.
    let c = capture("cisco-xr-7.10-post-policy-loc-rib");
    let (_, router) = through_router(&c.bmp, &[], ALL);
    let report = router.report();
    check_against_pmacct(c.name, &router, &report, &c.json);
    assert_eq!(router.stats().messages, 343);
    assert_eq!(
        report.views_sent,
        vec![BmpView::PostPolicy, BmpView::LocRib]
    );
    // Its post-policy view holds labeled and VPN routes only: the global Loc-RIB
    // alone carries unicast, and feeds.
    assert_eq!(report.views_used, vec![BmpView::LocRib]);
    assert_eq!(routes_per_view(&router), counts(&[("loc-rib", 1)]));
    assert_eq!(router.why_no_routes(), None);
    let loc_rib = report
        .peers
        .iter()
        .find(|p| p.peer_type == "loc-rib" && p.distinguisher.is_none())
        .expect("the global Loc-RIB");
    assert_eq!(
        loc_rib.key.as_ref().map(|k| k.to_string()).as_deref(),
        Some("bmp:192.0.2.1:loc-rib 192.0.2.1 AS4226809946")
    );
    assert_eq!((loc_rib.routes, loc_rib.routes_ipv4), (1, 1));
    // Three peers went down (reason 4) and came back; none held unicast routes, so
    // none is feed evidence.
    assert_eq!(router.stats().peer_downs, 3);
    assert!(report.peer_downs.is_empty(), "{:?}", report.peer_downs);
    assert!(report.peers.iter().all(|p| p.up), "they came back up");

    // A profile that asks for pre-policy only gets nothing, and says why.
    let (inputs, narrowed) =
        through_router(&c.bmp, &[], BmpViews::from_list(&[BmpView::PrePolicy]));
    assert!(inputs.is_empty(), "{inputs:?}");
    assert_eq!(
        narrowed.why_no_routes().as_deref(),
        Some(
            "301 Route Monitoring messages but no IPv4/IPv6 unicast route blackout can use: \
             views configured: pre-policy; the router sends: post-policy, loc-rib; \
             it sends the Loc-RIB of VRF A2 (RD 4226809946:12)"
        )
    );
    // Post-policy only: this router's post-policy carries no unicast route.
    let (inputs, narrowed) =
        through_router(&c.bmp, &[], BmpViews::from_list(&[BmpView::PostPolicy]));
    assert!(inputs.is_empty(), "{inputs:?}");
    let why = narrowed.why_no_routes().unwrap_or_default();
    assert!(
        why.contains(
            "its post-policy view carries only labeled unicast and VPN routes \
             (ipv4-labeled-unicast, ipv4-vpn, ipv6-vpn)"
        ),
        "{why}"
    );
}

#[test]
fn cisco_ios_xr_24_4_loc_rib_of_ten_vrfs_and_a_vrf_taken_down() {
    require_data!("cisco_ios_xr_24_4_loc_rib_of_ten_vrfs_and_a_vrf_taken_down");
    let c = capture("cisco-xr-24.4-loc-rib-vrfs-peer-down");
    let (_, router) = through_router(&c.bmp, &[], ALL);
    let report = router.report();
    check_against_pmacct(c.name, &router, &report, &c.json);
    assert_eq!(router.stats().messages, 877);
    assert_eq!(
        report.views_sent,
        vec![BmpView::PostPolicy, BmpView::LocRib]
    );
    assert_eq!(routes_per_view(&router), counts(&[("loc-rib", 1)]));
    let vrfs: BTreeSet<&str> = report
        .peers
        .iter()
        .filter(|p| p.peer_type == "loc-rib" && p.distinguisher.is_some())
        .filter_map(|p| p.table_name.as_deref())
        .collect();
    assert_eq!(vrfs.len(), 10, "{vrfs:?}");
    assert!(vrfs.contains("A2_TEST_7"), "{vrfs:?}");
    // The VRF was de-configured (reason 6, with its table name) and configured again.
    assert_eq!(router.stats().peer_downs, 1);
    assert!(report.peers.iter().all(|p| p.up));
    // Its routes never fed the state: no feed evidence.
    assert!(report.peer_downs.is_empty());
    assert!(
        router.stats().skipped_vrf_loc_rib > 400,
        "{:?}",
        router.stats()
    );
}

#[test]
fn huawei_and_cisco_vrf_only_routers_say_why_they_give_no_route() {
    require_data!("huawei_and_cisco_vrf_only_routers_say_why_they_give_no_route");
    let huawei = capture("pmacct_200-BMP-HUAWEI-locrib_instance");
    let (inputs, router) = through_router(&huawei.bmp, &[], ALL);
    check_against_pmacct(huawei.name, &router, &router.report(), &huawei.json);
    assert!(inputs.is_empty());
    // Its VRF Loc-RIBs say they are filtered (F flag).
    let report = router.report();
    let vrfs: Vec<_> = report
        .peers
        .iter()
        .filter(|p| p.peer_type == "loc-rib")
        .collect();
    assert_eq!(vrfs.len(), 3);
    assert!(vrfs.iter().all(|p| p.filtered), "{vrfs:?}");
    let why = router.why_no_routes().unwrap_or_default();
    assert_eq!(
        why,
        "84 Route Monitoring messages but no IPv4/IPv6 unicast route blackout can use: \
         its pre-policy view carries only VPN routes (ipv4-vpn, ipv6-vpn); \
         it sends the Loc-RIB of the VRF of RD 64499:11"
    );

    let cisco = capture("pmacct_201-BMP-CISCO-rd_instance");
    let (inputs, router) = through_router(&cisco.bmp, &[], ALL);
    check_against_pmacct(cisco.name, &router, &router.report(), &cisco.json);
    assert!(inputs.is_empty());
    let why = router.why_no_routes().unwrap_or_default();
    assert!(
        why.starts_with(
            "251 Route Monitoring messages but no IPv4/IPv6 unicast route blackout can use: \
             it sends RD-instance peers of RD 64499:14"
        ),
        "{why}"
    );
}

#[test]
fn a_6wind_router_feeds_post_policy_where_pre_policy_has_no_unicast() {
    require_data!("a_6wind_router_feeds_post_policy_where_pre_policy_has_no_unicast");
    let c = capture("pmacct_205-BMP-6wind-FRR-peer_down");
    let (_, router) = through_router(&c.bmp, &[], ALL);
    let report = router.report();
    check_against_pmacct(c.name, &router, &report, &c.json);
    // Pre-policy carries VPN routes only: each peer feeds post-policy, and the
    // router its Loc-RIB.
    assert_eq!(
        report.views_sent,
        vec![BmpView::PrePolicy, BmpView::PostPolicy, BmpView::LocRib]
    );
    assert_eq!(
        report.views_used,
        vec![BmpView::PostPolicy, BmpView::LocRib]
    );
    assert_eq!(
        routes_per_view(&router),
        counts(&[("loc-rib", 48), ("post-policy", 94)])
    );
    assert!(router.why_no_routes().is_none());
    // Its two Peer Downs are of a peer that held VPN routes only: not feed evidence.
    assert_eq!(router.stats().peer_downs, 2);
    assert!(report.peer_downs.is_empty(), "{:?}", report.peer_downs);
}
