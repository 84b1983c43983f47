//! `watch: Some(..)` yields only overlapping prefixes (never a default route), and
//! counts tables in full.

use crate::common::*;
use blackout_model::BgpInput;
use ipnet::IpNet;

/// Equal, covering or more-specific; a default route covers everything and says
/// nothing about a watched network, so it never overlaps.
fn overlaps(a: &IpNet, b: &IpNet) -> bool {
    a.prefix_len() > 0
        && b.prefix_len() > 0
        && (a.contains(&b.network()) || b.contains(&a.network()))
}

fn prefix_of(line: &str) -> IpNet {
    line.split('|')
        .nth(4)
        .and_then(|p| p.parse().ok())
        .expect("prefix")
}

#[test]
fn watched_reads_are_the_overlapping_part_of_full_reads() {
    require_data!("watched_reads_are_the_overlapping_part_of_full_reads");
    let data = data_dir();
    let watch: Vec<IpNet> = [
        "1.0.0.0/24",
        "12.0.0.0/8",
        "4.0.0.0/9",
        "2001:1200::/23",
        "2a02:2158::/32",
    ]
    .iter()
    .map(|p| p.parse().expect("prefix"))
    .collect();
    for file in [
        // TABLE_DUMP_V2 (the fast path), IPv4 and IPv6
        "mrt/routeviews2_rib.20140523.0600.first1MiB-truncated.bz2",
        "mrt/routeviews6_rib.20151101.0600.first1MiB-truncated.bz2",
        // TABLE_DUMP v1
        "mrt/routeviews2_rib.20080501.0644.first1MiB-truncated.bz2",
        // ADD-PATH RIB
        "mrt-lab/bgpdump_bview.ipv4_unicast_add_path.gz",
        // updates
        "mrt/ris-rrc06_updates.20150401.0000.gz",
        "mrt/ris-rrcXX_updates.20190101.0000.gz",
    ] {
        let path = data.join(file);
        let full = read_file(&path, None);
        let watched = read_file(&path, Some(watch.clone()));
        let wanted: Vec<&String> = full
            .lines
            .iter()
            .filter(|line| watch.iter().any(|w| overlaps(w, &prefix_of(line))))
            .collect();
        let got: Vec<&String> = watched.lines.iter().collect();
        assert_eq!(got, wanted, "{file}");
        assert!(
            file.contains("add_path") || !wanted.is_empty(),
            "{file}: the watch list should catch something"
        );
        assert_eq!(watched.table_sizes(), full.table_sizes(), "{file}");
        assert_eq!(watched.stats.rib_entries, full.stats.rib_entries, "{file}");
        assert_eq!(watched.stats.records, full.stats.records, "{file}");
        let peer_downs = |inputs: &[BgpInput]| {
            inputs
                .iter()
                .filter(|i| matches!(i, BgpInput::PeerDown { .. }))
                .count()
        };
        assert_eq!(
            peer_downs(&watched.inputs),
            peer_downs(&full.inputs),
            "{file}"
        );
    }
}

#[test]
fn the_kp_watch_set_skips_the_whole_2010_rib_but_counts_it() {
    require_data!("the_kp_watch_set_skips_the_whole_2010_rib_but_counts_it");
    // No DPRK route existed in July 2010 (Star JV appeared in late 2010).
    let profile = blackout_profile::builtin("kp").expect("kp profile");
    let watch: Vec<IpNet> = profile
        .networks
        .iter()
        .flat_map(|network| network.prefixes.iter().chain(&network.aggregates))
        .copied()
        .collect();
    let path = data_dir().join("derived/ris-rrc06_bview.20100701.0759.tdv2-reencoded.gz");
    let watched = read_file(&path, Some(watch));
    // 175.0.0.0/8-style covering routes would overlap; the table holds none
    assert_eq!(watched.lines.len(), 0);
    assert_eq!(watched.stats.rib_entries, 641_957);
    let sizes = watched.table_sizes();
    assert_eq!(sizes.len(), 5);
    let total: u64 = sizes.iter().map(|(_, v4, v6)| u64::from(v4 + v6)).sum();
    assert_eq!(total, 641_957);
    // full-feed peers have on the order of 300,000 prefixes in 2010
    assert!(
        sizes.iter().filter(|(_, v4, _)| *v4 > 250_000).count() >= 2,
        "{sizes:?}"
    );
}
