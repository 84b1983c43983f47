//! The lab's network as data: namespaces, links, addresses, routers and their
//! BGP sessions, buildings and their hosts. One [`Topology`] value drives the
//! configs ([`crate::config`]), the set-up ([`crate::Lab`]) and the tests, so
//! they cannot disagree; the `lab` profile is checked against it in a test.
//!
//! Only documentation space is used (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24) with ASNs from 64496-64511, and no namespace has a link or a
//! route to the host's namespace.

use ipnet::Ipv4Net;
use std::net::Ipv4Addr;

/// Which BGP daemon runs a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    /// BIRD 2 (`bird`, `birdc`).
    Bird,
    /// FRR (`zebra`, `bgpd` with the `bmp` and `rpki` modules, `vtysh`).
    Frr,
}

/// One end of a veth pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The namespace it lives in.
    pub ns: String,
    /// The interface name inside that namespace (named after the far side).
    pub ifname: String,
    /// Its addresses, each with the link's prefix length.
    pub addrs: Vec<Ipv4Net>,
}

impl Endpoint {
    /// The first address.
    pub fn addr(&self) -> Ipv4Addr {
        self.addrs
            .first()
            .map(Ipv4Net::addr)
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    }
}

/// A point-to-point link (a veth pair) between two namespaces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Link {
    /// One end (the router's end where one side is a router).
    pub a: Endpoint,
    /// The other end.
    pub b: Endpoint,
}

/// A BGP session as one router sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    /// A short name, used as BIRD's protocol name.
    pub name: String,
    /// The neighbor's address.
    pub addr: Ipv4Addr,
    /// The neighbor's AS.
    pub asn: u32,
    /// This router's address on the session.
    pub local: Ipv4Addr,
    /// How many extra copies of the own AS to prepend on export.
    pub prepend: u8,
    /// LOCAL_PREF given to routes learned from the neighbor.
    pub local_pref: u32,
    /// A multihop session that this side opens but the far side may never answer.
    pub multihop: bool,
}

/// A BGP router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Router {
    /// Its namespace.
    pub ns: String,
    /// What it stands for.
    pub label: String,
    /// Its AS.
    pub asn: u32,
    /// Its BGP identifier.
    pub router_id: Ipv4Addr,
    /// The daemon that runs it.
    pub daemon: Daemon,
    /// Its sessions.
    pub neighbors: Vec<Neighbor>,
    /// Prefixes it originates.
    pub originates: Vec<Ipv4Net>,
}

/// What a server host offers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Service {
    /// Authoritative DNS (NSD) for the zone.
    Dns,
    /// HTTP on port 80 (nginx).
    Web,
    /// SMTP on port 25.
    Smtp,
    /// Nothing but ICMP.
    Ping,
}

/// A host address and what runs on it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabHost {
    /// Its DNS name.
    pub name: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// What it offers.
    pub service: Service,
}

/// One of the origin's four /26s: a namespace behind the origin router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Building {
    /// 1 to 4.
    pub number: u8,
    /// Its namespace.
    pub ns: String,
    /// The prefix the origin announces for it.
    pub prefix: Ipv4Net,
    /// The origin router's address in it.
    pub gateway: Ipv4Addr,
    /// The hosts in it.
    pub hosts: Vec<LabHost>,
}

impl Building {
    /// BIRD's name for the static protocol that originates this building's prefix.
    pub fn static_protocol(&self) -> String {
        format!("bld{}", self.number)
    }
}

/// A namespace that is not a router: a building, the control host or the vantage point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// Its namespace.
    pub ns: String,
    /// Its address.
    pub addr: Ipv4Addr,
    /// Its default gateway.
    pub gateway: Ipv4Addr,
    /// Its interface toward the gateway.
    pub ifname: String,
}

/// The whole lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Every namespace, in the order they are made.
    pub namespaces: Vec<String>,
    /// Every link.
    pub links: Vec<Link>,
    /// The routers.
    pub routers: Vec<Router>,
    /// The origin's buildings.
    pub buildings: Vec<Building>,
    /// The control host: behind the transit, touched by no fault.
    pub control: LabHost,
    /// The control host's namespace.
    pub control_leaf: Leaf,
    /// The vantage point, where `blackout watch` runs.
    pub vantage: Leaf,
    /// The vantage point's AS on the optional BGP session.
    pub vantage_asn: u32,
    /// The port of the BMP station on the vantage point.
    pub bmp_port: u16,
    /// The DNS zone the name servers serve.
    pub zone: String,
    /// The port of the RPKI-to-router cache on the transit's loopback.
    pub rtr_port: u16,
    /// The AS that the invalidating ROA names (`rpki-invalid`).
    pub rogue_roa_asn: u32,
}

/// Namespace names (all start with `bo-`, so nothing else is touched).
pub mod ns {
    /// The origin router.
    pub const ORIGIN: &str = "bo-origin";
    /// The primary upstream.
    pub const UP1: &str = "bo-up1";
    /// The backup upstream.
    pub const UP2: &str = "bo-up2";
    /// The transit ("the rest of the Internet").
    pub const TRANSIT: &str = "bo-transit";
    /// The vantage point.
    pub const VANTAGE: &str = "bo-vantage";
    /// The control host.
    pub const CONTROL: &str = "bo-ctl";
}

fn net(addr: [u8; 4], len: u8) -> Ipv4Net {
    // The prefix lengths below are all literals of at most 32.
    Ipv4Net::new(Ipv4Addr::from(addr), len).unwrap_or_default()
}

fn endpoint(ns: &str, ifname: &str, addrs: &[([u8; 4], u8)]) -> Endpoint {
    Endpoint {
        ns: ns.to_string(),
        ifname: ifname.to_string(),
        addrs: addrs.iter().map(|(a, len)| net(*a, *len)).collect(),
    }
}

fn host(name: &str, addr: [u8; 4], service: Service) -> LabHost {
    LabHost {
        name: name.to_string(),
        addr: Ipv4Addr::from(addr),
        service,
    }
}

fn neighbor(name: &str, addr: [u8; 4], asn: u32, local: [u8; 4]) -> Neighbor {
    Neighbor {
        name: name.to_string(),
        addr: Ipv4Addr::from(addr),
        asn,
        local: Ipv4Addr::from(local),
        prepend: 0,
        local_pref: 100,
        multihop: false,
    }
}

/// The origin's AS.
pub const ORIGIN_ASN: u32 = 64500;
/// The primary upstream's AS.
pub const PRIMARY_ASN: u32 = 64501;
/// The backup upstream's AS.
pub const BACKUP_ASN: u32 = 64502;
/// The transit's AS.
pub const TRANSIT_ASN: u32 = 64503;

impl Topology {
    /// The lab modelled on North Korea: origin AS64500 with four /26s of
    /// 203.0.113.0/24, a primary (AS64501) and a backup (AS64502) upstream, the
    /// transit AS64503, the control host 192.0.2.10 and the vantage point
    /// 198.51.100.2 (AS64511).
    pub fn standard() -> Topology {
        let buildings = vec![
            Building {
                number: 1,
                ns: "bo-b1".into(),
                prefix: net([203, 0, 113, 0], 26),
                gateway: Ipv4Addr::new(203, 0, 113, 1),
                hosts: vec![
                    host("ns1.lab.example", [203, 0, 113, 10], Service::Dns),
                    host("www.lab.example", [203, 0, 113, 11], Service::Web),
                ],
            },
            Building {
                number: 2,
                ns: "bo-b2".into(),
                prefix: net([203, 0, 113, 64], 26),
                gateway: Ipv4Addr::new(203, 0, 113, 65),
                hosts: vec![
                    host("ns2.lab.example", [203, 0, 113, 74], Service::Dns),
                    host("www2.lab.example", [203, 0, 113, 75], Service::Web),
                    host("mail.lab.example", [203, 0, 113, 76], Service::Smtp),
                ],
            },
            Building {
                number: 3,
                ns: "bo-b3".into(),
                prefix: net([203, 0, 113, 128], 26),
                gateway: Ipv4Addr::new(203, 0, 113, 129),
                hosts: vec![host("ping3.lab.example", [203, 0, 113, 130], Service::Ping)],
            },
            Building {
                number: 4,
                ns: "bo-b4".into(),
                prefix: net([203, 0, 113, 192], 26),
                gateway: Ipv4Addr::new(203, 0, 113, 193),
                hosts: vec![host("ping4.lab.example", [203, 0, 113, 194], Service::Ping)],
            },
        ];

        let mut links = vec![
            Link {
                a: endpoint(ns::TRANSIT, "vantage", &[([198, 51, 100, 1], 30)]),
                b: endpoint(ns::VANTAGE, "transit", &[([198, 51, 100, 2], 30)]),
            },
            Link {
                a: endpoint(ns::ORIGIN, "up1", &[([198, 51, 100, 5], 30)]),
                b: endpoint(ns::UP1, "origin", &[([198, 51, 100, 6], 30)]),
            },
            Link {
                a: endpoint(ns::ORIGIN, "up2", &[([198, 51, 100, 9], 30)]),
                b: endpoint(ns::UP2, "origin", &[([198, 51, 100, 10], 30)]),
            },
            Link {
                a: endpoint(ns::UP1, "transit", &[([198, 51, 100, 13], 30)]),
                b: endpoint(ns::TRANSIT, "up1", &[([198, 51, 100, 14], 30)]),
            },
            Link {
                a: endpoint(ns::UP2, "transit", &[([198, 51, 100, 17], 30)]),
                b: endpoint(ns::TRANSIT, "up2", &[([198, 51, 100, 18], 30)]),
            },
            Link {
                a: endpoint(ns::TRANSIT, "ctl", &[([192, 0, 2, 1], 24)]),
                b: endpoint(ns::CONTROL, "transit", &[([192, 0, 2, 10], 24)]),
            },
        ];
        for building in &buildings {
            let len = building.prefix.prefix_len();
            links.push(Link {
                a: Endpoint {
                    ns: ns::ORIGIN.into(),
                    ifname: format!("b{}", building.number),
                    addrs: vec![Ipv4Net::new(building.gateway, len).unwrap_or_default()],
                },
                b: Endpoint {
                    ns: building.ns.clone(),
                    ifname: "origin".into(),
                    addrs: building
                        .hosts
                        .iter()
                        .map(|h| Ipv4Net::new(h.addr, len).unwrap_or_default())
                        .collect(),
                },
            });
        }

        let origin = Router {
            ns: ns::ORIGIN.into(),
            label: "origin".into(),
            asn: ORIGIN_ASN,
            router_id: Ipv4Addr::new(198, 51, 100, 5),
            daemon: Daemon::Bird,
            neighbors: vec![
                Neighbor {
                    local_pref: 200,
                    ..neighbor("up1", [198, 51, 100, 6], PRIMARY_ASN, [198, 51, 100, 5])
                },
                Neighbor {
                    prepend: 2,
                    ..neighbor("up2", [198, 51, 100, 10], BACKUP_ASN, [198, 51, 100, 9])
                },
            ],
            originates: buildings.iter().map(|b| b.prefix).collect(),
        };
        // Upstreams prefer their customer (the origin) over their provider (the
        // transit), so each keeps its own path to the origin and the transit sees both.
        let up1 = Router {
            ns: ns::UP1.into(),
            label: "primary upstream".into(),
            asn: PRIMARY_ASN,
            router_id: Ipv4Addr::new(198, 51, 100, 6),
            daemon: Daemon::Bird,
            neighbors: vec![
                Neighbor {
                    local_pref: 200,
                    ..neighbor("origin", [198, 51, 100, 5], ORIGIN_ASN, [198, 51, 100, 6])
                },
                neighbor(
                    "transit",
                    [198, 51, 100, 14],
                    TRANSIT_ASN,
                    [198, 51, 100, 13],
                ),
            ],
            originates: vec![],
        };
        let up2 = Router {
            ns: ns::UP2.into(),
            label: "backup upstream".into(),
            asn: BACKUP_ASN,
            router_id: Ipv4Addr::new(198, 51, 100, 10),
            daemon: Daemon::Bird,
            neighbors: vec![
                Neighbor {
                    local_pref: 200,
                    ..neighbor("origin", [198, 51, 100, 9], ORIGIN_ASN, [198, 51, 100, 10])
                },
                neighbor(
                    "transit",
                    [198, 51, 100, 18],
                    TRANSIT_ASN,
                    [198, 51, 100, 17],
                ),
            ],
            originates: vec![],
        };
        let transit = Router {
            ns: ns::TRANSIT.into(),
            label: "transit (the rest of the Internet)".into(),
            asn: TRANSIT_ASN,
            router_id: Ipv4Addr::new(198, 51, 100, 1),
            daemon: Daemon::Frr,
            neighbors: vec![
                neighbor("up1", [198, 51, 100, 13], PRIMARY_ASN, [198, 51, 100, 14]),
                neighbor("up2", [198, 51, 100, 17], BACKUP_ASN, [198, 51, 100, 18]),
                Neighbor {
                    multihop: true,
                    ..neighbor("vantage", [198, 51, 100, 2], 64511, [198, 51, 100, 1])
                },
            ],
            originates: vec![net([192, 0, 2, 0], 24), net([198, 51, 100, 0], 30)],
        };

        let mut namespaces: Vec<String> = [ns::ORIGIN, ns::UP1, ns::UP2, ns::TRANSIT]
            .iter()
            .map(|s| s.to_string())
            .collect();
        namespaces.extend(buildings.iter().map(|b| b.ns.clone()));
        namespaces.push(ns::CONTROL.into());
        namespaces.push(ns::VANTAGE.into());

        Topology {
            namespaces,
            links,
            routers: vec![origin, up1, up2, transit],
            buildings,
            control: host("control.example", [192, 0, 2, 10], Service::Web),
            control_leaf: Leaf {
                ns: ns::CONTROL.into(),
                addr: Ipv4Addr::new(192, 0, 2, 10),
                gateway: Ipv4Addr::new(192, 0, 2, 1),
                ifname: "transit".into(),
            },
            vantage: Leaf {
                ns: ns::VANTAGE.into(),
                addr: Ipv4Addr::new(198, 51, 100, 2),
                gateway: Ipv4Addr::new(198, 51, 100, 1),
                ifname: "transit".into(),
            },
            vantage_asn: 64511,
            bmp_port: 11019,
            zone: "lab.example".into(),
            rtr_port: 3323,
            rogue_roa_asn: 64496,
        }
    }

    /// The router in a namespace.
    pub fn router(&self, ns: &str) -> Option<&Router> {
        self.routers.iter().find(|r| r.ns == ns)
    }

    /// The origin router.
    pub fn origin(&self) -> Option<&Router> {
        self.router(ns::ORIGIN)
    }

    /// Building number `n` (1-based).
    pub fn building(&self, n: u8) -> Option<&Building> {
        self.buildings.iter().find(|b| b.number == n)
    }

    /// Every host behind the origin.
    pub fn hosts(&self) -> impl Iterator<Item = (&Building, &LabHost)> {
        self.buildings
            .iter()
            .flat_map(|b| b.hosts.iter().map(move |h| (b, h)))
    }

    /// The hosts that offer a service, with their building.
    pub fn hosts_with(&self, service: Service) -> Vec<(&Building, &LabHost)> {
        self.hosts().filter(|(_, h)| h.service == service).collect()
    }

    /// The origin's announced prefixes (the four buildings).
    pub fn origin_prefixes(&self) -> Vec<Ipv4Net> {
        self.buildings.iter().map(|b| b.prefix).collect()
    }

    /// The aggregate the ROAs cover.
    pub fn origin_aggregate(&self) -> Ipv4Net {
        net([203, 0, 113, 0], 24)
    }

    /// The leaf namespaces (buildings, control, vantage) with their gateways.
    pub fn leaves(&self) -> Vec<Leaf> {
        let mut leaves: Vec<Leaf> = self
            .buildings
            .iter()
            .map(|b| Leaf {
                ns: b.ns.clone(),
                addr: b.hosts.first().map(|h| h.addr).unwrap_or(b.gateway),
                gateway: b.gateway,
                ifname: "origin".into(),
            })
            .collect();
        leaves.push(self.control_leaf.clone());
        leaves.push(self.vantage.clone());
        leaves
    }

    /// The link between two namespaces, as (end in `from`, end in `to`).
    pub fn link_between(&self, from: &str, to: &str) -> Option<(&Endpoint, &Endpoint)> {
        self.links.iter().find_map(|l| {
            if l.a.ns == from && l.b.ns == to {
                Some((&l.a, &l.b))
            } else if l.b.ns == from && l.a.ns == to {
                Some((&l.b, &l.a))
            } else {
                None
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_link_end_is_in_a_known_namespace_and_names_are_short() {
        let topo = Topology::standard();
        for link in &topo.links {
            for end in [&link.a, &link.b] {
                assert!(topo.namespaces.contains(&end.ns), "{}", end.ns);
                assert!(end.ifname.len() <= 15);
                assert!(!end.addrs.is_empty());
            }
            // Both ends of a link share its subnet.
            assert_eq!(link.a.addrs[0].network(), link.b.addrs[0].network());
        }
        assert!(topo.namespaces.iter().all(|n| n.starts_with("bo-")));
    }

    #[test]
    fn sessions_are_symmetric_except_the_vantage() {
        let topo = Topology::standard();
        for router in &topo.routers {
            for n in router.neighbors.iter().filter(|n| !n.multihop) {
                let far = topo
                    .routers
                    .iter()
                    .find(|r| r.asn == n.asn)
                    .expect("neighbor AS is a router");
                let back = far
                    .neighbors
                    .iter()
                    .find(|m| m.addr == n.local)
                    .expect("the far side has the session");
                assert_eq!(back.asn, router.asn);
                assert_eq!(back.local, n.addr);
            }
        }
    }

    #[test]
    fn documentation_space_only() {
        let topo = Topology::standard();
        let doc: Vec<Ipv4Net> = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        for link in &topo.links {
            for a in link.a.addrs.iter().chain(&link.b.addrs) {
                assert!(doc.iter().any(|d| d.contains(a)), "{a}");
            }
        }
        for r in &topo.routers {
            assert!((64496..=64511).contains(&r.asn));
        }
        assert!((64496..=64511).contains(&topo.vantage_asn));
        assert!((64496..=64511).contains(&topo.rogue_roa_asn));
    }
}
