//! Renders the daemons' configuration files from the [`Topology`] as text: BIRD
//! for the origin and the upstreams, FRR (zebra and bgpd, with BMP, MRT dumps and
//! RPKI) for the transit, NSD and its zone, nginx, and the ROA list the lab's RTR
//! cache serves. Pure functions, so they are unit-tested without root.
//!
//! Every file names its own pid file, log and control socket under the lab's state
//! dir, so the lab's daemons never touch the host's own (`/etc/bird`,
//! `/run/frr`, `/etc/nsd`, `/etc/nginx`).

use crate::topology::{Building, Daemon, Router, Service, Topology};
use std::fmt::Write as _;
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

/// BIRD's configuration for a BIRD router.
pub fn bird_conf(topo: &Topology, router: &Router, dir: &Path) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "# {} ({}), AS{}", router.ns, router.label, router.asn);
    let _ = writeln!(out, "log \"{}\" all;", dir.join("bird.log").display());
    let _ = writeln!(out, "router id {};", router.router_id);
    out.push_str("protocol device { scan time 2; }\n");
    // Only BGP routes go to the kernel: the buildings' prefixes are connected
    // routes there already, and their BGP origination is a blackhole static.
    out.push_str("protocol kernel {\n  ipv4 { import none; export where source = RTS_BGP; };\n}\n");
    for building in &topo.buildings {
        if router.originates.contains(&building.prefix) {
            let _ = writeln!(
                out,
                "protocol static {} {{ ipv4; route {} blackhole; }}",
                building.static_protocol(),
                building.prefix
            );
        }
    }
    let own = topo.origin_aggregate();
    for n in &router.neighbors {
        let export = if !router.originates.is_empty() {
            let mut prepend = String::new();
            for _ in 0..n.prepend {
                let _ = write!(prepend, " bgp_path.prepend({});", router.asn);
            }
            format!("filter {{ if source = RTS_STATIC then {{{prepend} accept; }} reject; }}")
        } else {
            "all".to_string()
        };
        // An upstream takes only the origin's prefixes from the origin.
        let import_match = if n.asn == crate::topology::ORIGIN_ASN {
            format!(
                "if net ~ [ {own}{{24,26}} ] then {{ bgp_local_pref = {}; accept; }} reject;",
                n.local_pref
            )
        } else {
            format!("bgp_local_pref = {}; accept;", n.local_pref)
        };
        let _ = write!(
            out,
            "protocol bgp {name} {{\n  local {local} as {asn};\n  neighbor {addr} as {peer};\n  direct;\n  check link yes;\n  hold time 9;\n  keepalive time 3;\n  connect delay time 1;\n  connect retry time 2;\n  error wait time 1, 4;\n  ipv4 {{\n    import filter {{ {import_match} }};\n    export {export};\n  }};\n}}\n",
            name = n.name,
            local = n.local,
            asn = router.asn,
            addr = n.addr,
            peer = n.asn,
        );
    }
    out
}

/// zebra's configuration for the FRR router.
pub fn zebra_conf(router: &Router, dir: &Path) -> String {
    format!(
        "hostname {}\nlog file {}\nip forwarding\n",
        router.ns,
        dir.join("zebra.log").display()
    )
}

/// bgpd's configuration for the FRR router (the transit): sessions to the
/// upstreams with route-origin validation, a multihop session toward the vantage
/// point, a BMP feed to the vantage point and MRT dumps into `mrt_dir`.
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
        if n.multihop {
            // The vantage side is blackout's own passive speaker (a later issue):
            // the transit keeps trying to connect.
            let _ = writeln!(out, " neighbor {} ebgp-multihop 2", n.addr);
            let _ = writeln!(out, " neighbor {} update-source {}", n.addr, n.local);
            let _ = writeln!(out, " neighbor {} timers connect 5", n.addr);
        } else {
            let _ = writeln!(out, " neighbor {} timers connect 2", n.addr);
        }
    }
    let _ = writeln!(out, " !");
    let _ = writeln!(out, " address-family ipv4 unicast");
    for prefix in &router.originates {
        let _ = writeln!(out, "  network {prefix}");
    }
    for n in &router.neighbors {
        let _ = writeln!(out, "  neighbor {} activate", n.addr);
        let _ = writeln!(out, "  neighbor {} advertisement-interval 0", n.addr);
        if n.multihop {
            let _ = writeln!(out, "  neighbor {} route-map deny-all in", n.addr);
        } else {
            // Pre-policy BMP in FRR 8.4 carries announcements only with this.
            let _ = writeln!(out, "  neighbor {} soft-reconfiguration inbound", n.addr);
            let _ = writeln!(out, "  neighbor {} route-map rov in", n.addr);
        }
    }
    let _ = writeln!(out, " exit-address-family");
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
    let _ = writeln!(out, "  bmp monitor ipv4 unicast pre-policy");
    let _ = writeln!(out, "  bmp monitor ipv4 unicast post-policy");
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
/// in the baseline one ROA makes the origin's /26s valid; with `invalid` it names
/// another AS, so the origin's routes become RPKI-invalid.
pub fn roas_json(topo: &Topology, invalid: bool) -> String {
    let aggregate = topo.origin_aggregate();
    let asn = if invalid {
        topo.rogue_roa_asn
    } else {
        crate::topology::ORIGIN_ASN
    };
    format!(
        "[[\"{}\", {}, 26, {}]]\n",
        aggregate.addr(),
        aggregate.prefix_len(),
        asn
    )
}

/// The zone file of the lab's zone.
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
    }
    out
}

/// NSD's configuration for the name server at `addr`, in `mode`.
pub fn nsd_conf(
    topo: &Topology,
    addr: std::net::Ipv4Addr,
    name: &str,
    dir: &Path,
    mode: DnsMode,
) -> String {
    let d = dir.display();
    let mut out = format!(
        "server:\n  ip-address: {addr}\n  port: 53\n  do-ip6: no\n  username: \"\"\n  chroot: \"\"\n  server-count: 1\n  hide-version: yes\n  identity: \"{name}\"\n  verbosity: 1\n  zonesdir: \"{d}\"\n  database: \"\"\n  zonelistfile: \"{d}/zone.list\"\n  xfrdfile: \"{d}/xfrd.state\"\n  xfrdir: \"{d}/xfr\"\n  pidfile: \"{d}/nsd.pid\"\n  logfile: \"{d}/nsd.log\"\nremote-control:\n  control-enable: no\n"
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

/// nginx's configuration for the web servers of one namespace.
pub fn nginx_conf(addrs: &[(std::net::Ipv4Addr, String)], dir: &Path, mode: WebMode) -> String {
    let d = dir.display();
    let mut out = format!(
        "worker_processes 1;\nuser root;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log;\nevents {{ worker_connections 256; }}\nhttp {{\n  access_log {d}/nginx-access.log;\n  client_body_temp_path {d}/nginx-body;\n  proxy_temp_path {d}/nginx-proxy;\n  fastcgi_temp_path {d}/nginx-fastcgi;\n  uwsgi_temp_path {d}/nginx-uwsgi;\n  scgi_temp_path {d}/nginx-scgi;\n  default_type text/plain;\n"
    );
    for (addr, name) in addrs {
        let body = match mode {
            WebMode::Normal => format!("return 200 \"{name} ok\\n\";"),
            WebMode::Error5xx => "return 503 \"service unavailable\\n\";".to_string(),
        };
        let _ = write!(
            out,
            "  server {{\n    listen {addr}:80;\n    server_name {name};\n    location / {{ {body} }}\n  }}\n"
        );
    }
    out.push_str("}\n");
    out
}

/// The web server addresses and names in a building.
pub fn web_sites(building: &Building) -> Vec<(std::net::Ipv4Addr, String)> {
    building
        .hosts
        .iter()
        .filter(|h| h.service == Service::Web)
        .map(|h| (h.addr, h.name.clone()))
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

    #[test]
    fn origin_prepends_twice_toward_the_backup_only() {
        let topo = Topology::standard();
        let origin = topo.origin().unwrap();
        let conf = bird_conf(&topo, origin, &dir());
        let up1 = conf.split("protocol bgp up1").nth(1).unwrap();
        let up1 = up1.split("protocol bgp").next().unwrap();
        assert!(!up1.contains("prepend"));
        let up2 = conf.split("protocol bgp up2").nth(1).unwrap();
        assert_eq!(up2.matches("bgp_path.prepend(64500)").count(), 2);
        for n in 1..=4 {
            assert!(conf.contains(&format!("protocol static bld{n}")));
        }
        assert!(conf.contains("route 203.0.113.192/26 blackhole"));
        assert!(conf.contains("bgp_local_pref = 200"));
    }

    #[test]
    fn upstream_filters_the_origin_and_originates_nothing() {
        let topo = Topology::standard();
        let up1 = topo.router(ns::UP1).unwrap();
        let conf = bird_conf(&topo, up1, &dir());
        assert!(conf.contains("neighbor 198.51.100.5 as 64500"));
        assert!(conf.contains("neighbor 198.51.100.14 as 64503"));
        assert!(conf.contains("203.0.113.0/24{24,26}"));
        assert!(!conf.contains("protocol static"));
    }

    #[test]
    fn transit_has_bmp_rpki_mrt_and_the_vantage_session() {
        let topo = Topology::standard();
        let transit = topo.router(ns::TRANSIT).unwrap();
        let conf = bgpd_conf(&topo, transit, &dir(), &PathBuf::from("/m"));
        assert!(conf.contains("bmp connect 198.51.100.2 port 11019"));
        assert!(conf.contains("bmp monitor ipv4 unicast pre-policy"));
        assert!(conf.contains("bmp stats interval 5000"));
        assert!(conf.contains("neighbor 198.51.100.13 soft-reconfiguration inbound"));
        assert!(conf.contains("neighbor 198.51.100.17 soft-reconfiguration inbound"));
        assert!(conf.contains("neighbor 198.51.100.2 ebgp-multihop 2"));
        assert!(conf.contains("neighbor 198.51.100.2 remote-as 64511"));
        assert!(conf.contains("match rpki invalid"));
        assert!(conf.contains("rpki cache 127.0.0.1 3323"));
        assert!(conf.contains("dump bgp updates /m/updates"));
        assert!(conf.contains("network 192.0.2.0/24"));
    }

    #[test]
    fn roas_switch_between_valid_and_invalid() {
        let topo = Topology::standard();
        let valid: serde_json::Value = serde_json::from_str(&roas_json(&topo, false)).unwrap();
        let invalid: serde_json::Value = serde_json::from_str(&roas_json(&topo, true)).unwrap();
        assert_eq!(valid[0][3], 64500);
        assert_eq!(invalid[0][3], 64496);
        assert_eq!(valid[0][0], "203.0.113.0");
    }

    #[test]
    fn zone_names_every_host_and_both_servers() {
        let topo = Topology::standard();
        let zone = zone_file(&topo);
        assert!(zone.contains("@ IN NS ns1.lab.example."));
        assert!(zone.contains("@ IN NS ns2.lab.example."));
        assert!(zone.contains("@ IN MX 10 mail.lab.example."));
        assert!(zone.contains("www.lab.example. IN A 203.0.113.11"));
        assert!(zone.contains("ping4.lab.example. IN A 203.0.113.194"));
    }

    #[test]
    fn nsd_modes() {
        let topo = Topology::standard();
        let addr = "203.0.113.10".parse().unwrap();
        let normal = nsd_conf(&topo, addr, "ns1", &dir(), DnsMode::Normal);
        assert!(normal.contains("ip-address: 203.0.113.10"));
        assert!(normal.contains("lab.zone"));
        assert!(nsd_conf(&topo, addr, "ns1", &dir(), DnsMode::Servfail).contains("broken.zone"));
        assert!(!nsd_conf(&topo, addr, "ns1", &dir(), DnsMode::Refused).contains("zone:"));
    }

    #[test]
    fn nginx_modes() {
        let topo = Topology::standard();
        let sites = web_sites(topo.building(2).unwrap());
        assert_eq!(sites.len(), 1);
        let normal = nginx_conf(&sites, &dir(), WebMode::Normal);
        assert!(normal.contains("listen 203.0.113.75:80"));
        assert!(normal.contains("return 200"));
        assert!(nginx_conf(&sites, &dir(), WebMode::Error5xx).contains("return 503"));
    }
}
