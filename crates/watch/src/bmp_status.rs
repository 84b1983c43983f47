//! A BMP feed's router report ([`BmpRouterHealth`]) as the API's status shows it
//! ([`RouterStatus`]): the same facts, with the views, states and reasons in words.

use blackout_api::{BmpPeerStatus, PeerDownStatus, RouterStatus, SkippedStatus};
use blackout_feeds::{BmpRouterHealth, BmpView};

fn views(list: &[BmpView]) -> Vec<String> {
    list.iter().map(|v| v.as_str().to_string()).collect()
}

/// The router's part of a feed's status.
pub(crate) fn router_status(router: &BmpRouterHealth) -> RouterStatus {
    RouterStatus {
        sys_name: router.sys_name.clone(),
        sys_descr: router.sys_descr.clone(),
        views_configured: views(&router.views_configured),
        views_sent: views(&router.views_sent),
        views_used: views(&router.views_used),
        skipped: router
            .skipped
            .iter()
            .map(|s| SkippedStatus {
                what: s.what.clone(),
                why: s.why.clone(),
                messages: s.messages,
            })
            .collect(),
        peers: router
            .peers
            .iter()
            .map(|p| BmpPeerStatus {
                address: p.address.to_string(),
                asn: p.asn,
                bgp_id: p.bgp_id.to_string(),
                peer_type: p.peer_type.clone(),
                distinguisher: p.distinguisher.clone(),
                table_name: p.table_name.clone(),
                filtered: p.filtered,
                state: if p.up { "up" } else { "down" }.to_string(),
                since: p.since,
                reason_code: p.down_reason.as_ref().and_then(|r| r.code),
                reason: p.down_reason.as_ref().map(|r| r.text.clone()),
                views_sent: views(&p.views_sent),
                view: p.view.map(|v| v.as_str().to_string()),
                routes: p.routes,
                routes_ipv4: p.routes_ipv4,
                routes_ipv6: p.routes_ipv6,
                table_routes: p.table_routes,
                table_ipv4: p.table_ipv4,
                table_ipv6: p.table_ipv6,
            })
            .collect(),
        peers_total: router.peers_total,
        peers_up: router.peers_up,
        peer_downs: router
            .peer_downs
            .iter()
            .map(|d| PeerDownStatus {
                peer: d.peer.to_string(),
                at: d.at,
                reason_code: d.reason.code,
                reason: d.reason.text.clone(),
                routes: d.routes,
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_feeds::bmp::BmpFramer;
    use blackout_feeds::{BmpOptions, BmpRouter, BmpViews};
    use blackout_model::{PrefixFilter, Timestamp};
    use std::sync::Arc;

    /// A real IOS XR session (the feeds crate's test capture) through a router
    /// session, its report as the API shows it.
    #[test]
    fn a_real_router_s_report_reads_in_the_status() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../feeds/tests/data/cisco-xr-7.10-post-policy-loc-rib.bmp"
        );
        let bytes = std::fs::read(path).expect("the capture");
        let options = Arc::new(BmpOptions {
            views: BmpViews::default(),
            filter: PrefixFilter::everything(),
        });
        let mut router = BmpRouter::new("192.0.2.1".parse().unwrap(), options);
        let mut framer = BmpFramer::new();
        framer.push(&bytes);
        let mut out = Vec::new();
        while let Ok(Some(message)) = framer.next_message() {
            router.handle_bytes(Timestamp::from_secs(1_705_334_000), message, &mut out);
        }
        let status = router_status(&router.report());
        assert_eq!(status.sys_name.as_deref(), Some("ipf-zbl1327-r-daisy-90"));
        assert_eq!(status.views_sent, vec!["post-policy", "loc-rib"]);
        assert_eq!(status.views_used, vec!["loc-rib"]);
        assert_eq!((status.peers_total, status.peers_up), (7, 7));
        let loc_rib = &status.peers[0];
        assert_eq!(
            (
                loc_rib.peer_type.as_str(),
                loc_rib.view.as_deref(),
                loc_rib.routes
            ),
            ("loc-rib", Some("loc-rib"), 1)
        );
        assert_eq!(loc_rib.state, "up");
        assert!(
            status
                .skipped
                .iter()
                .any(|s| s.what == "ipv4-vpn routes (VPN)" && s.messages == 132),
            "{:?}",
            status.skipped
        );
    }
}
