//! The lab's network as data: namespaces, links, addresses of both families,
//! routers and their BGP sessions, buildings and their hosts, the vantage points
//! and the central with its management network. One [`Topology`] value drives the
//! configs ([`crate::config`]), the set-up ([`crate::Lab`]), the faults and the
//! tests, so they cannot disagree; the `lab` profile is checked against it in a
//! test.
//!
//! Only documentation space is used (192.0.2.0/24, 198.51.100.0/24,
//! 203.0.113.0/24, 2001:db8::/32) with ASNs from 64496-64511, and no namespace
//! has a link or a route to the host's namespace.
//!
//! The IPv6 plan mirrors the IPv4 one:
//! - link `k`, the /30 198.51.100.4k/30, has the /64 2001:db8:0:k::/64, with
//!   host 1 on its first end and host 2 on its second (198.51.100.5 and
//!   2001:db8:0:1::1 are the origin's ends of link 1);
//! - the origin's aggregate is 2001:db8:100::/46 beside 203.0.113.0/24, and
//!   building N announces 2001:db8:10(N-1)::/48 beside its /26; its LAN is the
//!   first /64 of that /48, and a host's interface id is written like the last
//!   octet of its IPv4 address (www 203.0.113.11 and 2001:db8:100::11);
//! - the control network is 2001:db8:200::/48 beside 192.0.2.0/24;
//! - the management network is 198.51.100.240/28 and 2001:db8:300::/64.

use ipnet::{IpNet, Ipv4Net, Ipv6Net};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// Which BGP daemon runs a router.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Daemon {
    /// BIRD 2 (`bird`, `birdc`).
    Bird,
    /// FRR (`zebra`, `bgpd` with the `bmp` and `rpki` modules, `vtysh`).
    Frr,
}

/// An address family.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    /// IPv4.
    V4,
    /// IPv6.
    V6,
}

impl Family {
    /// Both families, IPv4 first.
    pub const BOTH: [Family; 2] = [Family::V4, Family::V6];

    /// The family of an address.
    pub fn of(addr: IpAddr) -> Family {
        match addr {
            IpAddr::V4(_) => Family::V4,
            IpAddr::V6(_) => Family::V6,
        }
    }

    /// The family of a prefix.
    pub fn of_net(net: &IpNet) -> Family {
        Family::of(net.addr())
    }

    /// Its name in BIRD channels and FRR address families (`ipv4`, `ipv6`).
    pub fn keyword(self) -> &'static str {
        match self {
            Family::V4 => "ipv4",
            Family::V6 => "ipv6",
        }
    }
}

impl std::fmt::Display for Family {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        })
    }
}

/// One end of a veth pair.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Endpoint {
    /// The namespace it lives in.
    pub ns: String,
    /// The interface name inside that namespace (named after the far side).
    pub ifname: String,
    /// Its addresses, each with the link's prefix length: IPv4 and IPv6.
    pub addrs: Vec<IpNet>,
}

impl Endpoint {
    /// Its first address of a family.
    pub fn addr_of(&self, family: Family) -> Option<IpAddr> {
        self.addrs
            .iter()
            .map(IpNet::addr)
            .find(|a| Family::of(*a) == family)
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

impl Link {
    /// The end in namespace `ns` and the far end.
    pub fn ends_from(&self, ns: &str) -> Option<(&Endpoint, &Endpoint)> {
        if self.a.ns == ns {
            Some((&self.a, &self.b))
        } else if self.b.ns == ns {
            Some((&self.b, &self.a))
        } else {
            None
        }
    }
}

/// A BGP session as one router sees it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbor {
    /// A short name, used as BIRD's protocol name and FRR's description.
    pub name: String,
    /// The neighbor's address (the session's transport).
    pub addr: IpAddr,
    /// The neighbor's AS.
    pub asn: u32,
    /// This router's address on the session.
    pub local: IpAddr,
    /// The address families the session carries: its transport's own between
    /// routers, both over IPv4 toward the vantage point.
    pub families: Vec<Family>,
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
    /// Prefixes it originates, of both families.
    pub originates: Vec<IpNet>,
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

/// A host and what runs on it, on both families.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LabHost {
    /// Its DNS name.
    pub name: String,
    /// Its IPv4 address.
    pub addr: Ipv4Addr,
    /// Its IPv6 address.
    pub addr6: Ipv6Addr,
    /// What it offers.
    pub service: Service,
}

impl LabHost {
    /// Both addresses, IPv4 first.
    pub fn addrs(&self) -> [IpAddr; 2] {
        [IpAddr::V4(self.addr), IpAddr::V6(self.addr6)]
    }

    /// Its address of a family.
    pub fn addr_of(&self, family: Family) -> IpAddr {
        match family {
            Family::V4 => IpAddr::V4(self.addr),
            Family::V6 => IpAddr::V6(self.addr6),
        }
    }
}

/// One of the origin's four buildings: a namespace behind the origin router,
/// with a /26 and a /48 of its own.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Building {
    /// 1 to 4.
    pub number: u8,
    /// Its namespace.
    pub ns: String,
    /// The IPv4 prefix the origin announces for it.
    pub prefix: Ipv4Net,
    /// The IPv6 prefix the origin announces for it.
    pub prefix6: Ipv6Net,
    /// The origin router's IPv4 address in it.
    pub gateway: Ipv4Addr,
    /// The origin router's IPv6 address in it.
    pub gateway6: Ipv6Addr,
    /// The hosts in it.
    pub hosts: Vec<LabHost>,
}

impl Building {
    /// Its prefixes, IPv4 first.
    pub fn prefixes(&self) -> [IpNet; 2] {
        [IpNet::V4(self.prefix), IpNet::V6(self.prefix6)]
    }

    /// BIRD's name for the static protocol that originates this building's
    /// prefix of a family (`bld2`, `bld2_v6`).
    pub fn static_protocol(&self, family: Family) -> String {
        match family {
            Family::V4 => format!("bld{}", self.number),
            Family::V6 => format!("bld{}_v6", self.number),
        }
    }
}

/// A static route of a namespace that is not a router.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Where to (`0.0.0.0/0` and `::/0` for the defaults).
    pub to: IpNet,
    /// The next hop.
    pub via: IpAddr,
}

/// A namespace that is not a router: a building, the control host or a vantage
/// point, with the routes `up` gives it (and a heal gives back).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Leaf {
    /// Its namespace.
    pub ns: String,
    /// Its routes.
    pub routes: Vec<Route>,
}

/// A vantage point: a namespace from which blackout (a `watch` or an `agent`)
/// probes the watched network and its control targets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Vantage {
    /// Its name (`vp-transit`), what its agent calls itself.
    pub name: String,
    /// Where it is, in words.
    pub label: String,
    /// Its namespace.
    pub ns: String,
    /// Its IPv4 address toward the watched network (the source of its probes).
    pub addr: Ipv4Addr,
    /// Its IPv6 address toward the watched network.
    pub addr6: Ipv6Addr,
    /// Its IPv4 address on the management network.
    pub mgmt: Ipv4Addr,
    /// Its IPv6 address on the management network.
    pub mgmt6: Ipv6Addr,
    /// The router its path toward the watched network starts at.
    pub attached: String,
    /// The router it reaches the control targets through, when that is not
    /// `attached`: its path toward the watched network then has a link of its own,
    /// which `vantage-path-cut` cuts.
    pub control_via: Option<String>,
    /// Its routes (defaults toward `attached`, the control network toward
    /// `control_via`).
    pub routes: Vec<Route>,
}

impl Vantage {
    /// Its addresses toward the watched network, IPv4 first.
    pub fn addrs(&self) -> [IpAddr; 2] {
        [IpAddr::V4(self.addr), IpAddr::V6(self.addr6)]
    }

    /// Its addresses on the management network, IPv4 first.
    pub fn mgmt_addrs(&self) -> [IpAddr; 2] {
        [IpAddr::V4(self.mgmt), IpAddr::V6(self.mgmt6)]
    }

    /// Does its path toward the watched network have a link of its own, so that
    /// cutting it leaves its path to the control targets?
    pub fn has_own_path(&self) -> bool {
        self.control_via.is_some()
    }

    fn leaf(&self) -> Leaf {
        Leaf {
            ns: self.ns.clone(),
            routes: self.routes.clone(),
        }
    }
}

/// The central's namespace (nats-server and the central `watch` run there) and
/// the management network that joins it to every vantage point: a bridge in the
/// central's namespace with one port per vantage. It has no route beyond its own
/// subnets, and no vantage forwards, so it never reaches the watched network.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Central {
    /// Its namespace.
    pub ns: String,
    /// The bridge's name in it.
    pub bridge: String,
    /// The management network, IPv4.
    pub net: Ipv4Net,
    /// The management network, IPv6.
    pub net6: Ipv6Net,
    /// The central's IPv4 address (on the bridge).
    pub addr: Ipv4Addr,
    /// The central's IPv6 address.
    pub addr6: Ipv6Addr,
    /// The management interface's name inside each vantage.
    pub vantage_ifname: String,
}

impl Central {
    /// The central's addresses, IPv4 first.
    pub fn addrs(&self) -> [IpAddr; 2] {
        [IpAddr::V4(self.addr), IpAddr::V6(self.addr6)]
    }

    /// The bridge port (in the central's namespace) toward a vantage.
    pub fn port(&self, vantage: &Vantage) -> String {
        format!("m-{}", vantage.name)
    }
}

/// The whole lab.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Topology {
    /// Every namespace, in the order they are made.
    pub namespaces: Vec<String>,
    /// Every link between routers, buildings, the control host and the vantages
    /// (the management network is [`Topology::central`]'s).
    pub links: Vec<Link>,
    /// The routers.
    pub routers: Vec<Router>,
    /// The origin's buildings.
    pub buildings: Vec<Building>,
    /// The control host: behind the transit, touched by no fault of the watched
    /// network.
    pub control: LabHost,
    /// The control host's namespace.
    pub control_leaf: Leaf,
    /// The vantage point behind the transit, where the feeds (BMP, the BGP
    /// session) arrive and where a lone `blackout watch` runs.
    pub vantage: Vantage,
    /// The other vantage points, for agents (issue 15).
    pub other_vantages: Vec<Vantage>,
    /// The central and the management network.
    pub central: Central,
    /// The vantage point's AS on the optional BGP session.
    pub vantage_asn: u32,
    /// The port of the BMP station on the vantage point.
    pub bmp_port: u16,
    /// The DNS zone the name servers serve.
    pub zone: String,
    /// The port of the RPKI-to-router cache on the transit's loopback.
    pub rtr_port: u16,
    /// The AS that the invalidating ROAs name (`rpki-invalid`).
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
    /// The vantage point behind the transit.
    pub const VANTAGE: &str = "bo-vantage";
    /// The vantage point behind the primary upstream.
    pub const VP_PRIMARY: &str = "bo-vp-primary";
    /// The vantage point behind the backup upstream, whose own link is cut by
    /// `vantage-path-cut`.
    pub const VP_BACKUP: &str = "bo-vp-backup";
    /// The control host.
    pub const CONTROL: &str = "bo-ctl";
    /// The central (nats-server, the central `watch`).
    pub const CENTRAL: &str = "bo-central";
}

/// The vantage points' names.
pub mod vantage {
    /// Behind the transit (namespace `bo-vantage`).
    pub const TRANSIT: &str = "vp-transit";
    /// Behind the primary upstream (namespace `bo-vp-primary`).
    pub const PRIMARY: &str = "vp-primary";
    /// Behind the backup upstream, with the control network through the transit
    /// (namespace `bo-vp-backup`).
    pub const BACKUP: &str = "vp-backup";
}

fn v4(addr: [u8; 4]) -> Ipv4Addr {
    Ipv4Addr::from(addr)
}

fn v6(segments: [u16; 8]) -> Ipv6Addr {
    Ipv6Addr::from(segments)
}

/// 2001:db8:`a`:`b`::`host`: every IPv6 address of the lab has this shape.
fn doc6(a: u16, b: u16, host: u16) -> Ipv6Addr {
    v6([0x2001, 0xdb8, a, b, 0, 0, 0, host])
}

fn net(addr: IpAddr, len: u8) -> IpNet {
    // The prefix lengths below are all literals within their family's range.
    IpNet::new(addr, len).unwrap_or_else(|_| IpNet::from(addr))
}

fn net4(addr: Ipv4Addr, len: u8) -> Ipv4Net {
    Ipv4Net::new(addr, len).unwrap_or_else(|_| Ipv4Net::from(addr))
}

fn net6(addr: Ipv6Addr, len: u8) -> Ipv6Net {
    Ipv6Net::new(addr, len).unwrap_or_else(|_| Ipv6Net::from(addr))
}

/// The default routes through a gateway of each family.
fn defaults(gateway: Ipv4Addr, gateway6: Ipv6Addr) -> Vec<Route> {
    vec![
        Route {
            to: net(IpAddr::V4(Ipv4Addr::UNSPECIFIED), 0),
            via: IpAddr::V4(gateway),
        },
        Route {
            to: net(IpAddr::V6(Ipv6Addr::UNSPECIFIED), 0),
            via: IpAddr::V6(gateway6),
        },
    ]
}

/// Link `k` of the lab's link space: 198.51.100.4k/30 and 2001:db8:0:k::/64,
/// host 1 on `a` and host 2 on `b`; each end is (namespace, interface name).
fn numbered_link(k: u8, a: (&str, &str), b: (&str, &str)) -> Link {
    let end = |(ns, ifname): (&str, &str), host: u8| Endpoint {
        ns: ns.to_string(),
        ifname: ifname.to_string(),
        addrs: vec![
            net(IpAddr::V4(v4([198, 51, 100, 4 * k + host])), 30),
            net(IpAddr::V6(doc6(0, u16::from(k), u16::from(host))), 64),
        ],
    };
    Link {
        a: end(a, 1),
        b: end(b, 2),
    }
}

/// The sessions, one per family and each over its own family, with the router
/// at the far end of `link`, as the router in `here` sees them.
fn sessions_over(link: &Link, here: &str, name: &str, asn: u32) -> Vec<Neighbor> {
    let Some((local, far)) = link.ends_from(here) else {
        return Vec::new();
    };
    Family::BOTH
        .iter()
        .filter_map(|family| {
            Some(Neighbor {
                name: match family {
                    Family::V4 => name.to_string(),
                    Family::V6 => format!("{name}_v6"),
                },
                addr: far.addr_of(*family)?,
                asn,
                local: local.addr_of(*family)?,
                families: vec![*family],
                prepend: 0,
                local_pref: 100,
                multihop: false,
            })
        })
        .collect()
}

fn host(name: &str, addr: [u8; 4], addr6: Ipv6Addr, service: Service) -> LabHost {
    LabHost {
        name: name.to_string(),
        addr: v4(addr),
        addr6,
        service,
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

/// Building `n`'s /48 (2001:db8:100::/48 for building 1).
fn building_prefix6(n: u8) -> Ipv6Net {
    net6(doc6(0x100 + u16::from(n) - 1, 0, 0), 48)
}

/// The address `host` on building `n`'s LAN (the first /64 of its /48).
fn building_addr6(n: u8, host: u16) -> Ipv6Addr {
    doc6(0x100 + u16::from(n) - 1, 0, host)
}

impl Topology {
    /// The lab modelled on North Korea: origin AS64500 with four /26s of
    /// 203.0.113.0/24 and four /48s of 2001:db8:100::/46, a primary (AS64501) and
    /// a backup (AS64502) upstream, the transit AS64503, the control host
    /// 192.0.2.10 and 2001:db8:200::10, three vantage points (behind the transit,
    /// the primary and the backup) and the central on a management network.
    pub fn standard() -> Topology {
        // An interface id written like the IPv4 address's last octet (::11 for .11).
        let id = |octet: u16| u16::from_str_radix(&octet.to_string(), 16).unwrap_or(octet);
        let bhost = |n: u8, name: &str, octet: u8, service| {
            host(
                name,
                [203, 0, 113, octet],
                building_addr6(n, id(u16::from(octet))),
                service,
            )
        };
        let buildings = vec![
            Building {
                number: 1,
                ns: "bo-b1".into(),
                prefix: net4(v4([203, 0, 113, 0]), 26),
                prefix6: building_prefix6(1),
                gateway: v4([203, 0, 113, 1]),
                gateway6: building_addr6(1, 1),
                hosts: vec![
                    bhost(1, "ns1.lab.example", 10, Service::Dns),
                    bhost(1, "www.lab.example", 11, Service::Web),
                ],
            },
            Building {
                number: 2,
                ns: "bo-b2".into(),
                prefix: net4(v4([203, 0, 113, 64]), 26),
                prefix6: building_prefix6(2),
                gateway: v4([203, 0, 113, 65]),
                gateway6: building_addr6(2, 1),
                hosts: vec![
                    bhost(2, "ns2.lab.example", 74, Service::Dns),
                    bhost(2, "www2.lab.example", 75, Service::Web),
                    bhost(2, "mail.lab.example", 76, Service::Smtp),
                ],
            },
            Building {
                number: 3,
                ns: "bo-b3".into(),
                prefix: net4(v4([203, 0, 113, 128]), 26),
                prefix6: building_prefix6(3),
                gateway: v4([203, 0, 113, 129]),
                gateway6: building_addr6(3, 1),
                hosts: vec![bhost(3, "ping3.lab.example", 130, Service::Ping)],
            },
            Building {
                number: 4,
                ns: "bo-b4".into(),
                prefix: net4(v4([203, 0, 113, 192]), 26),
                prefix6: building_prefix6(4),
                gateway: v4([203, 0, 113, 193]),
                gateway6: building_addr6(4, 1),
                hosts: vec![bhost(4, "ping4.lab.example", 194, Service::Ping)],
            },
        ];

        let to_vantage = numbered_link(0, (ns::TRANSIT, "vantage"), (ns::VANTAGE, "transit"));
        let origin_up1 = numbered_link(1, (ns::ORIGIN, "up1"), (ns::UP1, "origin"));
        let origin_up2 = numbered_link(2, (ns::ORIGIN, "up2"), (ns::UP2, "origin"));
        let up1_transit = numbered_link(3, (ns::UP1, "transit"), (ns::TRANSIT, "up1"));
        let up2_transit = numbered_link(4, (ns::UP2, "transit"), (ns::TRANSIT, "up2"));
        let to_vp_primary = numbered_link(5, (ns::UP1, "vp-primary"), (ns::VP_PRIMARY, "up1"));
        let to_vp_backup = numbered_link(6, (ns::UP2, "vp-backup"), (ns::VP_BACKUP, "up2"));
        let vp_backup_control =
            numbered_link(7, (ns::TRANSIT, "vp-backup"), (ns::VP_BACKUP, "transit"));
        let control_net = net4(v4([192, 0, 2, 0]), 24);
        let control_net6 = net6(doc6(0x200, 0, 0), 48);
        let to_control = Link {
            a: Endpoint {
                ns: ns::TRANSIT.into(),
                ifname: "ctl".into(),
                addrs: vec![
                    net(IpAddr::V4(v4([192, 0, 2, 1])), 24),
                    net(IpAddr::V6(doc6(0x200, 0, 1)), 48),
                ],
            },
            b: Endpoint {
                ns: ns::CONTROL.into(),
                ifname: "transit".into(),
                addrs: vec![
                    net(IpAddr::V4(v4([192, 0, 2, 10])), 24),
                    net(IpAddr::V6(doc6(0x200, 0, 0x10)), 48),
                ],
            },
        };

        let mut origin_neighbors = Vec::new();
        for mut n in sessions_over(&origin_up1, ns::ORIGIN, "up1", PRIMARY_ASN) {
            n.local_pref = 200;
            origin_neighbors.push(n);
        }
        for mut n in sessions_over(&origin_up2, ns::ORIGIN, "up2", BACKUP_ASN) {
            n.prepend = 2;
            origin_neighbors.push(n);
        }
        let origin = Router {
            ns: ns::ORIGIN.into(),
            label: "origin".into(),
            asn: ORIGIN_ASN,
            router_id: v4([198, 51, 100, 5]),
            daemon: Daemon::Bird,
            neighbors: origin_neighbors,
            originates: buildings.iter().flat_map(Building::prefixes).collect(),
        };
        // Upstreams prefer their customer (the origin) over their provider (the
        // transit), so each keeps its own path to the origin and the transit sees
        // both. Each announces the link of the vantage point behind it.
        let upstream = |ns: &str,
                        label: &str,
                        asn: u32,
                        router_id: [u8; 4],
                        to_origin: &Link,
                        to_transit: &Link,
                        to_vp: &Link| {
            let mut neighbors: Vec<Neighbor> = sessions_over(to_origin, ns, "origin", ORIGIN_ASN)
                .into_iter()
                .map(|n| Neighbor {
                    local_pref: 200,
                    ..n
                })
                .collect();
            neighbors.extend(sessions_over(to_transit, ns, "transit", TRANSIT_ASN));
            Router {
                ns: ns.into(),
                label: label.into(),
                asn,
                router_id: v4(router_id),
                daemon: Daemon::Bird,
                neighbors,
                originates: to_vp.a.addrs.iter().map(IpNet::trunc).collect(),
            }
        };
        let up1 = upstream(
            ns::UP1,
            "primary upstream",
            PRIMARY_ASN,
            [198, 51, 100, 6],
            &origin_up1,
            &up1_transit,
            &to_vp_primary,
        );
        let up2 = upstream(
            ns::UP2,
            "backup upstream",
            BACKUP_ASN,
            [198, 51, 100, 10],
            &origin_up2,
            &up2_transit,
            &to_vp_backup,
        );
        let mut transit_neighbors = sessions_over(&up1_transit, ns::TRANSIT, "up1", PRIMARY_ASN);
        transit_neighbors.extend(sessions_over(&up2_transit, ns::TRANSIT, "up2", BACKUP_ASN));
        // Toward blackout's own passive speaker on the vantage point: one session
        // over IPv4 that carries both families (multiprotocol BGP).
        transit_neighbors.push(Neighbor {
            name: "vantage".into(),
            addr: IpAddr::V4(v4([198, 51, 100, 2])),
            asn: 64511,
            local: IpAddr::V4(v4([198, 51, 100, 1])),
            families: Family::BOTH.to_vec(),
            prepend: 0,
            local_pref: 100,
            multihop: true,
        });
        let mut transit_originates = vec![IpNet::V4(control_net), IpNet::V6(control_net6)];
        transit_originates.extend(to_vantage.a.addrs.iter().map(IpNet::trunc));
        let transit = Router {
            ns: ns::TRANSIT.into(),
            label: "transit (the rest of the Internet)".into(),
            asn: TRANSIT_ASN,
            router_id: v4([198, 51, 100, 1]),
            daemon: Daemon::Frr,
            neighbors: transit_neighbors,
            originates: transit_originates,
        };

        let central = Central {
            ns: ns::CENTRAL.into(),
            bridge: "mgmt".into(),
            net: net4(v4([198, 51, 100, 240]), 28),
            net6: net6(doc6(0x300, 0, 0), 64),
            addr: v4([198, 51, 100, 241]),
            addr6: doc6(0x300, 0, 1),
            vantage_ifname: "mgmt".into(),
        };
        let vantage_at = |name: &str,
                          label: &str,
                          ns: &str,
                          uplink: &Link,
                          mgmt_host: u8,
                          control_via: Option<&Link>| {
            let (far, near) = (&uplink.a, &uplink.b);
            let addr_of = |end: &Endpoint, family| end.addr_of(family);
            let gateway = match addr_of(far, Family::V4) {
                Some(IpAddr::V4(a)) => a,
                _ => Ipv4Addr::UNSPECIFIED,
            };
            let gateway6 = match addr_of(far, Family::V6) {
                Some(IpAddr::V6(a)) => a,
                _ => Ipv6Addr::UNSPECIFIED,
            };
            let mut routes = defaults(gateway, gateway6);
            if let Some(link) = control_via {
                for family in Family::BOTH {
                    if let Some(via) = link.a.addr_of(family) {
                        let to = match family {
                            Family::V4 => IpNet::V4(control_net),
                            Family::V6 => IpNet::V6(control_net6),
                        };
                        routes.push(Route { to, via });
                    }
                }
            }
            Vantage {
                name: name.into(),
                label: label.into(),
                ns: ns.into(),
                addr: match addr_of(near, Family::V4) {
                    Some(IpAddr::V4(a)) => a,
                    _ => Ipv4Addr::UNSPECIFIED,
                },
                addr6: match addr_of(near, Family::V6) {
                    Some(IpAddr::V6(a)) => a,
                    _ => Ipv6Addr::UNSPECIFIED,
                },
                mgmt: v4([198, 51, 100, 240 + mgmt_host]),
                mgmt6: doc6(0x300, 0, u16::from(mgmt_host)),
                attached: far.ns.clone(),
                control_via: control_via.map(|l| l.a.ns.clone()),
                routes,
            }
        };
        let vantage = vantage_at(
            vantage::TRANSIT,
            "behind the transit (the feeds arrive here)",
            ns::VANTAGE,
            &to_vantage,
            2,
            None,
        );
        let other_vantages = vec![
            vantage_at(
                vantage::PRIMARY,
                "behind the primary upstream, away from the origin",
                ns::VP_PRIMARY,
                &to_vp_primary,
                3,
                None,
            ),
            vantage_at(
                vantage::BACKUP,
                "behind the backup upstream over a link of its own; the control network through the transit",
                ns::VP_BACKUP,
                &to_vp_backup,
                4,
                Some(&vp_backup_control),
            ),
        ];

        let mut links = vec![
            to_vantage,
            origin_up1,
            origin_up2,
            up1_transit,
            up2_transit,
            to_vp_primary,
            to_vp_backup,
            vp_backup_control,
            to_control,
        ];
        for building in &buildings {
            let len = building.prefix.prefix_len();
            let mut addrs: Vec<IpNet> = building
                .hosts
                .iter()
                .map(|h| net(IpAddr::V4(h.addr), len))
                .collect();
            addrs.extend(building.hosts.iter().map(|h| net(IpAddr::V6(h.addr6), 64)));
            links.push(Link {
                a: Endpoint {
                    ns: ns::ORIGIN.into(),
                    ifname: format!("b{}", building.number),
                    addrs: vec![
                        net(IpAddr::V4(building.gateway), len),
                        net(IpAddr::V6(building.gateway6), 64),
                    ],
                },
                b: Endpoint {
                    ns: building.ns.clone(),
                    ifname: "origin".into(),
                    addrs,
                },
            });
        }

        let mut namespaces: Vec<String> = [ns::ORIGIN, ns::UP1, ns::UP2, ns::TRANSIT]
            .iter()
            .map(|s| s.to_string())
            .collect();
        namespaces.extend(buildings.iter().map(|b| b.ns.clone()));
        namespaces.push(ns::CONTROL.into());
        namespaces.push(vantage.ns.clone());
        namespaces.extend(other_vantages.iter().map(|v| v.ns.clone()));
        namespaces.push(central.ns.clone());

        Topology {
            namespaces,
            links,
            routers: vec![origin, up1, up2, transit],
            buildings,
            control: host(
                "control.example",
                [192, 0, 2, 10],
                doc6(0x200, 0, 0x10),
                Service::Web,
            ),
            control_leaf: Leaf {
                ns: ns::CONTROL.into(),
                routes: defaults(v4([192, 0, 2, 1]), doc6(0x200, 0, 1)),
            },
            vantage,
            other_vantages,
            central,
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

    /// The origin's announced prefixes: the four /26s, then the four /48s.
    pub fn origin_prefixes(&self) -> Vec<IpNet> {
        let v4 = self.buildings.iter().map(|b| IpNet::V4(b.prefix));
        let v6 = self.buildings.iter().map(|b| IpNet::V6(b.prefix6));
        v4.chain(v6).collect()
    }

    /// The origin's announced prefixes of one family.
    pub fn origin_prefixes_of(&self, family: Family) -> Vec<IpNet> {
        self.buildings
            .iter()
            .flat_map(Building::prefixes)
            .filter(|p| Family::of_net(p) == family)
            .collect()
    }

    /// The IPv4 aggregate the ROAs cover (203.0.113.0/24).
    pub fn origin_aggregate(&self) -> Ipv4Net {
        net4(v4([203, 0, 113, 0]), 24)
    }

    /// The IPv6 aggregate the ROAs cover (2001:db8:100::/46).
    pub fn origin_aggregate6(&self) -> Ipv6Net {
        net6(doc6(0x100, 0, 0), 46)
    }

    /// The origin's aggregate of a family.
    pub fn origin_aggregate_of(&self, family: Family) -> IpNet {
        match family {
            Family::V4 => IpNet::V4(self.origin_aggregate()),
            Family::V6 => IpNet::V6(self.origin_aggregate6()),
        }
    }

    /// Every vantage point, the feeds' one first.
    pub fn vantages(&self) -> impl Iterator<Item = &Vantage> {
        std::iter::once(&self.vantage).chain(&self.other_vantages)
    }

    /// The vantage point with this name.
    pub fn vantage_named(&self, name: &str) -> Option<&Vantage> {
        self.vantages().find(|v| v.name == name)
    }

    /// The namespace that `name` stands for: one of the lab's namespaces, a
    /// vantage point's name, or `central`.
    pub fn namespace_for(&self, name: &str) -> Option<&str> {
        if let Some(ns) = self.namespaces.iter().find(|n| *n == name) {
            return Some(ns);
        }
        if name == "central" {
            return Some(&self.central.ns);
        }
        self.vantage_named(name).map(|v| v.ns.as_str())
    }

    /// The leaf namespaces (buildings, control, vantages) with their routes.
    pub fn leaves(&self) -> Vec<Leaf> {
        let mut leaves: Vec<Leaf> = self
            .buildings
            .iter()
            .map(|b| Leaf {
                ns: b.ns.clone(),
                routes: defaults(b.gateway, b.gateway6),
            })
            .collect();
        leaves.push(self.control_leaf.clone());
        leaves.extend(self.vantages().map(Vantage::leaf));
        leaves
    }

    /// The link between two namespaces, as (end in `from`, end in `to`).
    pub fn link_between(&self, from: &str, to: &str) -> Option<(&Endpoint, &Endpoint)> {
        self.links
            .iter()
            .filter_map(|l| l.ends_from(from))
            .find(|(_, far)| far.ns == to)
    }

    /// Every link with an end in `ns`, as (end in `ns`, far end).
    pub fn links_of(&self, ns: &str) -> Vec<(&Endpoint, &Endpoint)> {
        self.links.iter().filter_map(|l| l.ends_from(ns)).collect()
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
                for family in Family::BOTH {
                    assert!(end.addr_of(family).is_some(), "{} {family}", end.ns);
                }
            }
            // Both ends of a link share its subnets, of both families.
            for family in Family::BOTH {
                let subnet = |end: &Endpoint| {
                    end.addrs
                        .iter()
                        .find(|a| Family::of_net(a) == family)
                        .map(IpNet::network)
                };
                assert_eq!(subnet(&link.a), subnet(&link.b), "{} {family}", link.a.ns);
            }
        }
        for v in topo.vantages() {
            assert!(topo.central.port(v).len() <= 15);
            assert!(topo.namespaces.contains(&v.ns));
        }
        assert!(topo.namespaces.iter().all(|n| n.starts_with("bo-")));
        let mut unique = topo.namespaces.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), topo.namespaces.len());
    }

    #[test]
    fn sessions_are_symmetric_except_the_vantage() {
        let topo = Topology::standard();
        let mut families = std::collections::BTreeSet::new();
        for router in &topo.routers {
            for n in router.neighbors.iter().filter(|n| !n.multihop) {
                assert_eq!(n.families, vec![Family::of(n.addr)], "{}", n.name);
                assert_eq!(Family::of(n.addr), Family::of(n.local));
                families.insert(Family::of(n.addr));
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
        assert_eq!(families.len(), 2, "sessions of both families");
    }

    #[test]
    fn the_addressing_plan() {
        let topo = Topology::standard();
        let b1 = topo.building(1).unwrap();
        assert_eq!(b1.prefix6.to_string(), "2001:db8:100::/48");
        assert_eq!(
            topo.building(4).unwrap().prefix6.to_string(),
            "2001:db8:103::/48"
        );
        assert_eq!(b1.hosts[1].addr6.to_string(), "2001:db8:100::11");
        let b3 = topo.building(3).unwrap();
        assert_eq!(b3.hosts[0].addr6.to_string(), "2001:db8:102::130");
        assert_eq!(topo.origin_aggregate6().to_string(), "2001:db8:100::/46");
        for p in topo.origin_prefixes_of(Family::V6) {
            assert!(topo.origin_aggregate_of(Family::V6).contains(&p));
        }
        let (origin_end, up1_end) = topo.link_between(ns::ORIGIN, ns::UP1).unwrap();
        assert_eq!(
            origin_end.addr_of(Family::V6).unwrap().to_string(),
            "2001:db8:0:1::1"
        );
        assert_eq!(
            up1_end.addr_of(Family::V4).unwrap().to_string(),
            "198.51.100.6"
        );
        assert_eq!(topo.control.addr6.to_string(), "2001:db8:200::10");
        assert_eq!(topo.vantage.addr6.to_string(), "2001:db8::2");
        assert_eq!(topo.central.addr.to_string(), "198.51.100.241");
        assert_eq!(topo.central.addr6.to_string(), "2001:db8:300::1");
        assert_eq!(topo.origin_prefixes().len(), 8);
    }

    #[test]
    fn three_vantages_in_different_places_and_one_with_a_path_of_its_own() {
        let topo = Topology::standard();
        let places: Vec<(&str, &str)> = topo
            .vantages()
            .map(|v| (v.name.as_str(), v.attached.as_str()))
            .collect();
        assert_eq!(
            places,
            [
                (vantage::TRANSIT, ns::TRANSIT),
                (vantage::PRIMARY, ns::UP1),
                (vantage::BACKUP, ns::UP2)
            ]
        );
        let own: Vec<&str> = topo
            .vantages()
            .filter(|v| v.has_own_path())
            .map(|v| v.name.as_str())
            .collect();
        assert_eq!(own, [vantage::BACKUP]);
        let backup = topo.vantage_named(vantage::BACKUP).unwrap();
        // Its control network goes through the transit, the rest through its own link.
        let control: Vec<String> = backup
            .routes
            .iter()
            .filter(|r| r.to.prefix_len() > 0)
            .map(|r| r.to.to_string())
            .collect();
        assert_eq!(control, ["192.0.2.0/24", "2001:db8:200::/48"]);
        // Every vantage's subnet toward the network is announced by its router.
        for v in topo.vantages() {
            let router = topo.router(&v.attached).unwrap();
            for addr in v.addrs() {
                assert!(
                    router.originates.iter().any(|p| p.contains(&addr)),
                    "{} {addr}",
                    v.name
                );
            }
        }
    }

    #[test]
    fn the_management_network_stays_inside_and_off_the_routers() {
        let topo = Topology::standard();
        let c = &topo.central;
        for v in topo.vantages() {
            assert!(c.net.contains(&v.mgmt) && c.net6.contains(&v.mgmt6));
        }
        assert!(c.net.contains(&c.addr) && c.net6.contains(&c.addr6));
        // No router announces it and no link carries it.
        for r in &topo.routers {
            for p in &r.originates {
                assert!(!p.contains(&IpAddr::V4(c.addr)) && !p.contains(&IpAddr::V6(c.addr6)));
            }
        }
        for link in &topo.links {
            for a in link.a.addrs.iter().chain(&link.b.addrs) {
                assert!(!a.contains(&IpAddr::V4(c.addr)) && !a.contains(&IpAddr::V6(c.addr6)));
            }
        }
        assert!(!topo.links.iter().any(|l| l.ends_from(&c.ns).is_some()));
    }

    #[test]
    fn documentation_space_only() {
        let topo = Topology::standard();
        let doc: Vec<IpNet> = [
            "192.0.2.0/24",
            "198.51.100.0/24",
            "203.0.113.0/24",
            "2001:db8::/32",
        ]
        .iter()
        .map(|s| s.parse().unwrap())
        .collect();
        let documented = |a: &IpNet| doc.iter().any(|d| d.contains(a));
        for link in &topo.links {
            for a in link.a.addrs.iter().chain(&link.b.addrs) {
                assert!(documented(a), "{a}");
            }
        }
        for r in &topo.routers {
            assert!((64496..=64511).contains(&r.asn));
            for p in &r.originates {
                assert!(documented(p), "{p}");
            }
        }
        for v in topo.vantages() {
            for a in v.mgmt_addrs() {
                assert!(documented(&IpNet::from(a)), "{a}");
            }
        }
        for leaf in topo.leaves() {
            for route in &leaf.routes {
                assert!(documented(&IpNet::from(route.via)), "{}", route.via);
            }
        }
        assert!((64496..=64511).contains(&topo.vantage_asn));
        assert!((64496..=64511).contains(&topo.rogue_roa_asn));
    }
}
