//! The built-in `lab` profile describes exactly the network the lab builds:
//! its prefixes of both families, ASes, hosts (each on both families), name
//! servers, mail server, control host and feeds all come from
//! [`Topology::standard`].

use blackout_lab::Topology;
use blackout_lab::topology::{self, Family, LabHost, Service};
use blackout_profile::{FeedConfig, SessionMode, UpstreamRole, builtin};
use std::net::IpAddr;

/// The name a profile gives a lab host's address: its DNS name for IPv4, the
/// address itself for IPv6 (one name per host and family, so the two are
/// judged apart).
fn profile_name(host: &LabHost, addr: IpAddr) -> String {
    match Family::of(addr) {
        Family::V4 => host.name.clone(),
        Family::V6 => addr.to_string(),
    }
}

#[test]
fn the_lab_profile_matches_the_topology() {
    let profile = builtin("lab").unwrap();
    let topo = Topology::standard();

    let network = &profile.networks[0];
    assert_eq!(profile.networks.len(), 1);
    assert_eq!(network.asn.0, topology::ORIGIN_ASN);
    let prefixes: Vec<String> = network.prefixes.iter().map(|p| p.to_string()).collect();
    let expected: Vec<String> = topo
        .origin_prefixes()
        .iter()
        .map(|p| p.to_string())
        .collect();
    assert_eq!(prefixes, expected);
    assert_eq!(prefixes.len(), 8, "four /26s and four /48s");
    assert!(
        network.aggregates.is_empty(),
        "the lab announces no aggregate"
    );

    let upstream = |role| {
        profile
            .upstreams
            .iter()
            .find(|u| u.role == role)
            .map(|u| u.asn.0)
    };
    assert_eq!(upstream(UpstreamRole::Primary), Some(topology::PRIMARY_ASN));
    assert_eq!(upstream(UpstreamRole::Backup), Some(topology::BACKUP_ASN));

    // Every profile host is a lab host's address, named as `profile_name` says.
    for host in &profile.hosts {
        let addr = host.address.unwrap();
        let (_, lab_host) = topo
            .hosts()
            .find(|(_, h)| h.addrs().contains(&addr))
            .unwrap_or_else(|| panic!("{} is not in the lab", host.name));
        assert_eq!(host.name, profile_name(lab_host, addr));
    }
    // Every lab host is probed somewhere in the profile, on both families.
    for (_, h) in topo.hosts() {
        for addr in h.addrs() {
            let listed = profile.hosts.iter().any(|p| p.address == Some(addr))
                || profile
                    .zones
                    .iter()
                    .flat_map(|z| &z.servers)
                    .any(|s| s.address == Some(addr) && s.name == profile_name(h, addr))
                || profile.mail.iter().any(|m| m.address == Some(addr));
            assert!(listed, "{} ({addr}) is not in the profile", h.name);
        }
    }

    let zone = &profile.zones[0];
    assert_eq!(zone.name, topo.zone);
    let servers: Vec<IpAddr> = zone.servers.iter().filter_map(|s| s.address).collect();
    let dns: Vec<IpAddr> = Family::BOTH
        .iter()
        .flat_map(|f| {
            topo.hosts_with(Service::Dns)
                .into_iter()
                .map(move |(_, h)| h.addr_of(*f))
        })
        .collect();
    assert_eq!(servers, dns);

    let smtp: Vec<IpAddr> = topo
        .hosts_with(Service::Smtp)
        .iter()
        .flat_map(|(_, h)| h.addrs())
        .collect();
    let mail: Vec<IpAddr> = profile.mail.iter().filter_map(|m| m.address).collect();
    assert_eq!(mail, smtp);
    assert!(profile.mail.iter().all(|m| m.port == 25));
    assert_eq!(profile.mail[0].host.as_deref(), Some("mail.lab.example"));

    let controls: Vec<Option<IpAddr>> = profile.controls.iter().map(|c| c.address).collect();
    assert_eq!(controls, topo.control.addrs().map(Some));

    let transit = topo.router(topology::ns::TRANSIT).unwrap();
    let mut saw_bmp = false;
    let mut saw_bgp = false;
    for feed in &profile.feeds {
        match feed {
            FeedConfig::Bmp { listen, allow, .. } => {
                saw_bmp = true;
                assert_eq!(listen.ip(), IpAddr::V4(topo.vantage.addr));
                assert_eq!(listen.port(), topo.bmp_port);
                assert_eq!(allow, &vec![IpAddr::V4(transit.router_id)]);
            }
            FeedConfig::Bgp {
                peer,
                peer_as,
                local_as,
                router_id,
                mode,
                ..
            } => {
                saw_bgp = true;
                let session = transit.neighbors.iter().find(|n| n.multihop).unwrap();
                assert_eq!(*peer, session.local);
                assert_eq!(session.families, Family::BOTH);
                assert_eq!(peer_as.0, transit.asn);
                assert_eq!(local_as.0, topo.vantage_asn);
                assert_eq!(*router_id, topo.vantage.addr);
                assert_eq!(*mode, SessionMode::Passive);
            }
            FeedConfig::RisLive { .. } => panic!("the lab has no RIS Live feed"),
        }
    }
    assert!(saw_bmp && saw_bgp);
}
