//! Renders the daemons' configuration files from the [`Topology`] as text: BIRD
//! for the origin and the upstreams, FRR (zebra and bgpd, with BMP, MRT dumps and
//! RPKI) for the transit, NSD and its zone, nginx, and the ROA list the lab's RTR
//! cache serves. Pure functions, so they are unit-tested without root.
//!
//! Every file names its own pid file, log and control socket under the lab's state
//! dir, so the lab's daemons never touch the host's own (`/etc/bird`,
//! `/run/frr`, `/etc/nsd`, `/etc/nginx`).

use crate::topology::{Building, Daemon, Family, LabHost, Neighbor, Router, Service, Topology};
use ipnet::IpNet;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

/// How the name servers behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsMode {
    /// They serve the zone.
    Normal,
    /// The zone file is broken, so the zone is not loaded and queries get SERVFAIL.
    Servfail,
    /// The zone is not configured, so queries get REFUSED.
    Refused,
}

/// How the web servers behave.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WebMode {
    /// 200 with a short body.
    Normal,
    /// 503 for everything.
    Error5xx,
}

/// BIRD's name for the static protocol that originates `prefix` on `router`:
/// a building's own name (`bld2`, `bld2_v6`, which the faults switch), else
/// `net` and its place in the list.
pub fn static_protocol(topo: &Topology, router: &Router, prefix: &IpNet) -> String {
    let family = Family::of_net(prefix);
    match topo
        .buildings
        .iter()
        .find(|b| b.prefixes().contains(prefix))
    {
        Some(building) => building.static_protocol(family),
        None => {
            let place = router
                .originates
                .iter()
                .position(|p| p == prefix)
                .unwrap_or_default();
            format!("net{place}")
        }
    }
}

/// BIRD's configuration for a BIRD router: a kernel protocol and the static
/// originations per family, and a BGP protocol per session (one family each).
pub fn bird_conf(topo: &Topology, router: &Router, dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} ({}), AS{}", router.ns, router.label, router.asn);
    let _ = writeln!(out, "log \"{}\" all;", dir.join("bird.log").display());
    let _ = writeln!(out, "router id {};", router.router_id);
    out.push_str("protocol device { scan time 2; }\n");
    // Only BGP routes go to the kernel: the originated prefixes are connected
    // routes there already (or, for a building's aggregate, covered by them), and
    // their BGP origination is a blackhole static.
    for family in Family::BOTH {
        let _ = writeln!(
            out,
            "protocol kernel kernel_{f} {{\n  {f} {{ import none; export where source = RTS_BGP; }};\n}}",
            f = family.keyword()
        );
    }
    for prefix in &router.originates {
        let _ = writeln!(
            out,
            "protocol static {} {{ {}; route {prefix} blackhole; }}",
            static_protocol(topo, router, prefix),
            Family::of_net(prefix).keyword(),
        );
    }
    for n in &router.neighbors {
        let mut channels = String::new();
        for family in &n.families {
            let _ = write!(
                channels,
                "  {} {{\n    import filter {{ {} }};\n    export {};\n  }};\n",
                family.keyword(),
                bird_import(topo, n),
                bird_export(router, n),
            );
        }
        let _ = write!(
            out,
            "protocol bgp {name} {{\n  local {local} as {asn};\n  neighbor {addr} as {peer};\n  direct;\n  check link yes;\n  hold time 9;\n  keepalive time 3;\n  connect delay time 1;\n  connect retry time 2;\n  error wait time 1, 4;\n{channels}}}\n",
            name = n.name,
            local = n.local,
            asn = router.asn,
            addr = n.addr,
            peer = n.asn,
        );
    }
    out
}

/// The import filter of a BIRD session: an upstream takes only the origin's
/// prefixes of the session's family from the origin; everything else is taken
/// with the session's LOCAL_PREF.
fn bird_import(topo: &Topology, n: &Neighbor) -> String {
    let family = n.families.first().copied().unwrap_or(Family::V4);
    if n.asn == crate::topology::ORIGIN_ASN {
        let own = topo.origin_aggregate_of(family);
        let longest = topo
            .origin_prefixes_of(family)
            .iter()
            .map(IpNet::prefix_len)
            .max()
            .unwrap_or(own.prefix_len());
        format!(
            "if net ~ [ {own}{{{},{longest}}} ] then {{ bgp_local_pref = {}; accept; }} reject;",
            own.prefix_len(),
            n.local_pref
        )
    } else {
        format!("bgp_local_pref = {}; accept;", n.local_pref)
    }
}

/// The export of a BIRD session: the origin announces its statics (prepended
/// as the session says), an upstream everything it has.
fn bird_export(router: &Router, n: &Neighbor) -> String {
    if router.asn == crate::topology::ORIGIN_ASN {
        let mut prepend = String::new();
        for _ in 0..n.prepend {
            let _ = write!(prepend, " bgp_path.prepend({});", router.asn);
        }
        format!("filter {{ if source = RTS_STATIC then {{{prepend} accept; }} reject; }}")
    } else {
        "all".to_string()
    }
}

/// zebra's configuration for the FRR router.
pub fn zebra_conf(router: &Router, dir: &Path) -> String {
    format!(
        "hostname {}\nlog file {}\nip forwarding\nipv6 forwarding\n",
        router.ns,
        dir.join("zebra.log").display()
    )
}

/// bgpd's configuration for the FRR router (the transit): sessions of both
/// families to the upstreams with route-origin validation, a multihop session
/// carrying both families toward the vantage point, a BMP feed of both families to
/// the vantage point and MRT dumps into `mrt_dir`.
pub fn bgpd_conf(topo: &Topology, router: &Router, dir: &Path, mrt_dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "frr defaults traditional");
    let _ = writeln!(out, "hostname {}", router.ns);
    let _ = writeln!(out, "log file {}", dir.join("bgpd.log").display());
    let _ = writeln!(out, "!");
    let _ = writeln!(out, "rpki");
    let _ = writeln!(out, " rpki polling_period 10");
    let _ = writeln!(out, " rpki cache 127.0.0.1 {} preference 1", topo.rtr_port);
    let _ = writeln!(out, "exit");
    let _ = writeln!(out, "!");
    let _ = writeln!(out, "router bgp {}", router.asn);
    let _ = writeln!(out, " bgp router-id {}", router.router_id);
    let _ = writeln!(out, " no bgp ebgp-requires-policy");
    let _ = writeln!(out, " no bgp default ipv4-unicast");
    for n in &router.neighbors {
        let _ = writeln!(out, " neighbor {} remote-as {}", n.addr, n.asn);
        let _ = writeln!(out, " neighbor {} description {}", n.addr, n.name);
        let _ = writeln!(out, " neighbor {} timers 3 9", n.addr);
        // A neighbor command of the router, not of an address family: inside
        // one, FRR's reader drops back to the router node, and what follows lands
        // in the default (IPv4) family.
        let _ = writeln!(out, " neighbor {} advertisement-interval 0", n.addr);
        if n.multihop {
            // The vantage side is blackout's own passive speaker: the transit keeps
            // trying to connect.
            let _ = writeln!(out, " neighbor {} ebgp-multihop 2", n.addr);
            let _ = writeln!(out, " neighbor {} update-source {}", n.addr, n.local);
            let _ = writeln!(out, " neighbor {} timers connect 5", n.addr);
        } else {
            let _ = writeln!(out, " neighbor {} timers connect 2", n.addr);
        }
    }
    for family in Family::BOTH {
        let _ = writeln!(out, " !");
        let _ = writeln!(out, " address-family {} unicast", family.keyword());
        for prefix in router
            .originates
            .iter()
            .filter(|p| Family::of_net(p) == family)
        {
            let _ = writeln!(out, "  network {prefix}");
        }
        for n in router
            .neighbors
            .iter()
            .filter(|n| n.families.contains(&family))
        {
            let _ = writeln!(out, "  neighbor {} activate", n.addr);
            if n.multihop {
                let _ = writeln!(out, "  neighbor {} route-map deny-all in", n.addr);
            } else {
                // Pre-policy BMP in FRR 8.4 carries announcements only with this.
                let _ = writeln!(out, "  neighbor {} soft-reconfiguration inbound", n.addr);
                let _ = writeln!(out, "  neighbor {} route-map rov in", n.addr);
            }
        }
        let _ = writeln!(out, " exit-address-family");
    }
    let _ = writeln!(out, " !");
    let _ = writeln!(out, " bmp targets vantage");
    let _ = writeln!(
        out,
        "  bmp connect {} port {} min-retry 1000 max-retry 3000",
        topo.vantage.addr, topo.bmp_port
    );
    // Statistics reports every 5 s: a BMP session carries nothing else while the
    // routes stay put, and a monitor takes a silent feed for a stale one.
    let _ = writeln!(out, "  bmp stats interval 5000");
    for family in Family::BOTH {
        for view in ["pre-policy", "post-policy"] {
            let _ = writeln!(out, "  bmp monitor {} unicast {view}", family.keyword());
        }
    }
    let _ = writeln!(out, " exit");
    let _ = writeln!(out, "exit");
    let _ = writeln!(out, "!");
    let _ = writeln!(out, "route-map rov deny 10");
    let _ = writeln!(out, " match rpki invalid");
    let _ = writeln!(out, "exit");
    let _ = writeln!(out, "route-map rov permit 20");
    let _ = writeln!(out, "exit");
    let _ = writeln!(out, "route-map deny-all deny 10");
    let _ = writeln!(out, "exit");
    let _ = writeln!(out, "!");
    let _ = writeln!(
        out,
        "dump bgp updates {}/updates.%Y%m%d.%H%M%S 60",
        mrt_dir.display()
    );
    let _ = writeln!(
        out,
        "dump bgp routes-mrt {}/rib.%Y%m%d.%H%M%S 60",
        mrt_dir.display()
    );
    out
}

/// The ROAs the RTR cache serves, as JSON `[[prefix, len, maxlen, asn], ...]`:
/// one per family, covering the origin's aggregate down to its announced
/// prefixes. In the baseline they name the origin, so its routes are valid; with
/// `invalid` they name another AS, so its routes of both families become
/// RPKI-invalid.
pub fn roas_json(topo: &Topology, invalid: bool) -> String {
    let asn = if invalid {
        topo.rogue_roa_asn
    } else {
        crate::topology::ORIGIN_ASN
    };
    let roas: Vec<serde_json::Value> = Family::BOTH
        .iter()
        .map(|family| {
            let aggregate = topo.origin_aggregate_of(*family);
            let max_len = topo
                .origin_prefixes_of(*family)
                .iter()
                .map(IpNet::prefix_len)
                .max()
                .unwrap_or(aggregate.prefix_len());
            serde_json::json!([
                aggregate.addr().to_string(),
                aggregate.prefix_len(),
                max_len,
                asn
            ])
        })
        .collect();
    let mut text = serde_json::Value::from(roas).to_string();
    text.push('\n');
    text
}

/// The zone file of the lab's zone: the name servers, the mail exchanger, and an
/// A and an AAAA record for every host.
pub fn zone_file(topo: &Topology) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "$ORIGIN {}.", topo.zone);
    out.push_str("$TTL 300\n");
    let _ = writeln!(
        out,
        "@ IN SOA ns1.{z}. hostmaster.{z}. 1 3600 600 86400 300",
        z = topo.zone
    );
    for (_, h) in topo.hosts_with(Service::Dns) {
        let _ = writeln!(out, "@ IN NS {}.", h.name);
    }
    for (_, h) in topo.hosts_with(Service::Smtp) {
        let _ = writeln!(out, "@ IN MX 10 {}.", h.name);
    }
    for (_, h) in topo.hosts() {
        let _ = writeln!(out, "{}. IN A {}", h.name, h.addr);
        let _ = writeln!(out, "{}. IN AAAA {}", h.name, h.addr6);
    }
    out
}

/// NSD's configuration for the name server `server`, listening on both of its
/// addresses, in `mode`.
pub fn nsd_conf(topo: &Topology, server: &LabHost, dir: &Path, mode: DnsMode) -> String {
    let d = dir.display();
    let mut out = String::from("server:\n");
    for addr in server.addrs() {
        let _ = writeln!(out, "  ip-address: {addr}");
    }
    let _ = write!(
        out,
        "  port: 53\n  do-ip4: yes\n  do-ip6: yes\n  username: \"\"\n  chroot: \"\"\n  server-count: 1\n  hide-version: yes\n  identity: \"{name}\"\n  verbosity: 1\n  zonesdir: \"{d}\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}/xfr\"\n  pidfile: \"{d}/nsd.pid\"\n  logfile: \"{d}/nsd.log\"\nremote-control:\n  control-enable: no\n",
        name = server.name
    );
    let zonefile = match mode {
        DnsMode::Normal => Some("lab.zone"),
        DnsMode::Servfail => Some("broken.zone"),
        DnsMode::Refused => None,
    };
    if let Some(file) = zonefile {
        let _ = write!(
            out,
            "zone:\n  name: \"{}\"\n  zonefile: \"{d}/{file}\"\n",
            topo.zone
        );
    }
    out
}

/// A zone file that does not parse, for [`DnsMode::Servfail`].
pub fn broken_zone_file() -> &'static str {
    "$ORIGIN lab.example.\n@ IN SOA this is not a zone\n"
}

/// nginx's configuration for the web servers of one namespace, each listening
/// on both of its addresses.
pub fn nginx_conf(sites: &[LabHost], dir: &Path, mode: WebMode) -> String {
    let d = dir.display();
    let mut out = format!(
        "worker_processes 1;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log {d}/nginx-access.log;\n  client_body_temp_path {d}/nginx-body;\n  proxy_temp_path {d}/nginx-proxy;\n  fastcgi_temp_path {d}/nginx-fastcgi;\n  uwsgi_temp_path {d}/nginx-uwsgi;\n  scgi_temp_path {d}/nginx-scgi;\n  default_type text/plain;\n"
    );
    for site in sites {
        let body = match mode {
            WebMode::Normal => format!("return 200 \"{} ok\\n\";", site.name),
            WebMode::Error5xx => "return 503 \"service unavailable\\n\";".to_string(),
        };
        let mut listen = String::new();
        for addr in site.addrs() {
            let _ = writeln!(listen, "    listen {};", SocketAddr::new(addr, 80));
        }
        let _ = write!(
            out,
            "  server {{\n{listen}    server_name {name};\n    location / {{ {body} }}\n  }}\n",
            name = site.name
        );
    }
    out.push_str("}\n");
    out
}

/// The web servers in a building.
pub fn web_sites(building: &Building) -> Vec<LabHost> {
    building
        .hosts
        .iter()
        .filter(|h| h.service == Service::Web)
        .cloned()
        .collect()
}

/// Is this router run by BIRD?
pub fn is_bird(router: &Router) -> bool {
    router.daemon == Daemon::Bird
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::topology::ns;
    use std::path::PathBuf;

    fn dir() -> PathBuf {
        PathBuf::from("/run/blackout-lab/x")
    }

    /// The text of one `protocol bgp NAME` block.
    fn bgp_block<'a>(conf: &'a str, name: &str) -> &'a str {
        let start = conf
            .find(&format!("protocol bgp {name} {{"))
            .unwrap_or_else(|| panic!("no protocol bgp {name}"));
        let rest = &conf[start..];
        &rest[..rest.find("\n}\n").unwrap_or(rest.len())]
    }

    #[test]
    fn origin_prepends_twice_toward_the_backup_only_on_both_families() {
        let topo = Topology::standard();
        let origin = topo.origin().unwrap();
        let conf = bird_conf(&topo, origin, &dir());
        for name in ["up1", "up1_v6"] {
            assert!(!bgp_block(&conf, name).contains("prepend"));
            assert!(bgp_block(&conf, name).contains("bgp_local_pref = 200"));
        }
        for name in ["up2", "up2_v6"] {
            assert_eq!(
                bgp_block(&conf, name)
                    .matches("bgp_path.prepend(64500)")
                    .count(),
                2
            );
        }
        for n in 1..=4 {
            assert!(conf.contains(&format!("protocol static bld{n} {{ ipv4;")));
            assert!(conf.contains(&format!("protocol static bld{n}_v6 {{ ipv6;")));
        }
        assert!(conf.contains("route 203.0.113.192/26 blackhole"));
        assert!(conf.contains("route 2001:db8:103::/48 blackhole"));
        let v6 = bgp_block(&conf, "up1_v6");
        assert!(v6.contains("local 2001:db8:0:1::1 as 64500"));
        assert!(v6.contains("neighbor 2001:db8:0:1::2 as 64501"));
        assert!(v6.contains("  ipv6 {") && !v6.contains("  ipv4 {"));
        assert!(conf.contains("protocol kernel kernel_ipv6"));
    }

    #[test]
    fn upstream_filters_the_origin_per_family_and_announces_its_vantage() {
        let topo = Topology::standard();
        let up1 = topo.router(ns::UP1).unwrap();
        let conf = bird_conf(&topo, up1, &dir());
        assert!(conf.contains("neighbor 198.51.100.5 as 64500"));
        assert!(conf.contains("neighbor 198.51.100.14 as 64503"));
        assert!(conf.contains("neighbor 2001:db8:0:3::2 as 64503"));
        assert!(bgp_block(&conf, "origin").contains("203.0.113.0/24{24,26}"));
        assert!(bgp_block(&conf, "origin_v6").contains("2001:db8:100::/46{46,48}"));
        assert!(conf.contains("protocol static net0 { ipv4; route 198.51.100.20/30 blackhole; }"));
        assert!(conf.contains("protocol static net1 { ipv6; route 2001:db8:0:5::/64 blackhole; }"));
        assert!(!conf.contains("bld"));
    }

    #[test]
    fn transit_has_bmp_rpki_mrt_and_the_vantage_session_for_both_families() {
        let topo = Topology::standard();
        let transit = topo.router(ns::TRANSIT).unwrap();
        let conf = bgpd_conf(&topo, transit, &dir(), &PathBuf::from("/m"));
        assert!(conf.contains("bmp connect 198.51.100.2 port 11019"));
        assert!(conf.contains("bmp monitor ipv4 unicast pre-policy"));
        assert!(conf.contains("bmp monitor ipv6 unicast pre-policy"));
        assert!(conf.contains("bmp monitor ipv6 unicast post-policy"));
        assert!(conf.contains("bmp stats interval 5000"));
        assert!(conf.contains("neighbor 198.51.100.13 soft-reconfiguration inbound"));
        assert!(conf.contains("neighbor 198.51.100.17 soft-reconfiguration inbound"));
        assert!(conf.contains("neighbor 2001:db8:0:3::1 soft-reconfiguration inbound"));
        assert!(conf.contains("neighbor 2001:db8:0:4::1 remote-as 64502"));
        assert!(conf.contains("neighbor 198.51.100.2 ebgp-multihop 2"));
        assert!(conf.contains("neighbor 198.51.100.2 remote-as 64511"));
        assert!(conf.contains("match rpki invalid"));
        assert!(conf.contains("rpki cache 127.0.0.1 3323"));
        assert!(conf.contains("dump bgp updates /m/updates"));
        assert!(conf.contains("network 192.0.2.0/24"));
        assert!(conf.contains("network 2001:db8:200::/48"));
        let v6 = conf.split(" address-family ipv6 unicast").nth(1).unwrap();
        let v6 = v6.split("exit-address-family").next().unwrap();
        // The vantage's one session carries IPv6 too; IPv4 sessions do not.
        assert!(v6.contains("neighbor 198.51.100.2 activate"));
        assert!(!v6.contains("neighbor 198.51.100.13 activate"));
        assert!(v6.contains("neighbor 2001:db8:0:4::1 route-map rov in"));
        let v4 = conf.split(" address-family ipv4 unicast").nth(1).unwrap();
        let v4 = v4.split("exit-address-family").next().unwrap();
        assert!(!v4.contains("2001:db8"));
    }

    #[test]
    fn roas_switch_between_valid_and_invalid_for_both_families() {
        let topo = Topology::standard();
        let valid: serde_json::Value = serde_json::from_str(&roas_json(&topo, false)).unwrap();
        let invalid: serde_json::Value = serde_json::from_str(&roas_json(&topo, true)).unwrap();
        assert_eq!(
            valid,
            serde_json::json!([
                ["203.0.113.0", 24, 26, 64500],
                ["2001:db8:100::", 46, 48, 64500]
            ])
        );
        assert_eq!(invalid[0][3], 64496);
        assert_eq!(invalid[1][3], 64496);
    }

    #[test]
    fn zone_names_every_host_on_both_families_and_both_servers() {
        let topo = Topology::standard();
        let zone = zone_file(&topo);
        assert!(zone.contains("@ IN NS ns1.lab.example."));
        assert!(zone.contains("@ IN NS ns2.lab.example."));
        assert!(zone.contains("@ IN MX 10 mail.lab.example."));
        assert!(zone.contains("www.lab.example. IN A 203.0.113.11"));
        assert!(zone.contains("www.lab.example. IN AAAA 2001:db8:100::11"));
        assert!(zone.contains("ping4.lab.example. IN A 203.0.113.194"));
        assert!(zone.contains("ns2.lab.example. IN AAAA 2001:db8:101::74"));
    }

    #[test]
    fn nsd_modes_on_both_families() {
        let topo = Topology::standard();
        let (_, ns1) = topo.hosts_with(Service::Dns)[0];
        let normal = nsd_conf(&topo, ns1, &dir(), DnsMode::Normal);
        assert!(normal.contains("ip-address: 203.0.113.10"));
        assert!(normal.contains("ip-address: 2001:db8:100::10"));
        assert!(normal.contains("do-ip6: yes"));
        assert!(normal.contains("lab.zone"));
        assert!(nsd_conf(&topo, ns1, &dir(), DnsMode::Servfail).contains("broken.zone"));
        assert!(!nsd_conf(&topo, ns1, &dir(), DnsMode::Refused).contains("zone:"));
    }

    #[test]
    fn nginx_modes_on_both_families() {
        let topo = Topology::standard();
        let sites = web_sites(topo.building(2).unwrap());
        assert_eq!(sites.len(), 1);
        let normal = nginx_conf(&sites, &dir(), WebMode::Normal);
        assert!(normal.contains("listen 203.0.113.75:80"));
        assert!(normal.contains("listen [2001:db8:101::75]:80"));
        assert!(normal.contains("return 200"));
        assert!(nginx_conf(&sites, &dir(), WebMode::Error5xx).contains("return 503"));
    }
}
