//! The faults: [`Fault`] names one, parses it from the command line, says what
//! it does and which vantage points see it over which families ([`Impact`]),
//! and injects and undoes it on a [`Lab`]. Faults stack; [`Lab::heal`] undoes
//! every fault in force and makes sure the baseline is back. Every injection and
//! heal goes to the fault log with a timestamp.
//!
//! A fault acts on both address families where a real one would (a withdrawal,
//! a crash, a cut link, a dead building, a broken server); `v6-withdraw`,
//! `v6-border-filter` and `v6-primary-cut` touch IPv6 only; `loss` drops a share
//! of both.

use crate::config::{self, DnsMode, WebMode};
use crate::error::{LabError, Result};
use crate::exec;
use crate::lab::{ActiveFault, Lab, now_rfc3339};
use crate::topology::{Family, LabHost, Service, Topology, Vantage, ns};
use std::time::Duration;

/// The origin's BIRD protocol for its IPv6 session with the primary upstream
/// (each session exists once per family; see `config::bird_conf`).
const PRIMARY_V6_SESSION: &str = "up1_v6";

/// One fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The origin withdraws all its prefixes of both families (its BGP sessions
    /// stay up).
    OriginWithdraw,
    /// The origin's BGP daemon is killed.
    OriginCrash,
    /// The origin's link to the primary upstream is cut.
    PrimaryCut,
    /// The origin's link to the backup upstream is cut.
    BackupCut,
    /// A bandwidth bottleneck and random loss on the uplinks plus a UDP flood
    /// that stops after this many seconds; BGP is protected.
    Ddos {
        /// How long the flood lasts.
        secs: u32,
    },
    /// The name servers drop every query.
    DnsTimeout,
    /// The name servers answer SERVFAIL (the zone fails to load).
    DnsServfail,
    /// The name servers answer REFUSED (the zone is not served).
    DnsRefused,
    /// The name servers are not running.
    DnsDown,
    /// The web servers answer 503.
    Web5xx,
    /// The web servers accept connections and never answer.
    WebHang,
    /// The web servers are not running.
    WebDown,
    /// The mail server's banner is a 421.
    Smtp4xx,
    /// Building N loses power: its prefixes are withdrawn and its hosts go dark.
    PowerCut(u8),
    /// Building N's hosts go dark while its prefixes stay announced.
    HostsDark(u8),
    /// The origin withdraws and re-announces everything COUNT times.
    Flap {
        /// How many withdraw-and-announce cycles.
        count: u32,
        /// Seconds between two steps.
        interval_secs: f64,
    },
    /// ROAs name another AS, so the origin's routes are RPKI-invalid and the
    /// transit, which enforces route-origin validation, drops them.
    RpkiInvalid,
    /// The named vantage point's own uplinks are cut (the management network
    /// stays).
    VantageCut(String),
    /// The named vantage point loses the link its path toward the watched
    /// network takes; its path to the control targets stays.
    VantagePathCut(String),
    /// The origin withdraws its IPv6 prefixes only.
    V6Withdraw,
    /// The origin's IPv6 session with the primary upstream goes down: the
    /// primary stops carrying the IPv6 routes and keeps the IPv4 ones.
    V6PrimaryCut,
    /// The origin's border drops IPv6 packets toward the network: the routes
    /// stay, IPv6 to the hosts dies, IPv4 is untouched.
    V6BorderFilter,
    /// The origin's border drops this share of the packets it forwards over its
    /// uplinks, at random, in each direction: the routes and sessions stay.
    Loss {
        /// The share dropped, in percent (1 to 100).
        percent: u8,
    },
}

/// Which vantage points see a fault, over which families: what the lab's own
/// test checks, and what a test of many vantage points can expect.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Impact {
    /// The vantage points whose probes see it (targets failing, lost or slow;
    /// their controls too when `controls_fail`). Empty for a fault that only BGP
    /// sees: the routes move and every host still answers from everywhere.
    pub vantages: Vec<String>,
    /// The address families it touches.
    pub families: Vec<Family>,
    /// Do the control targets of those vantage points fail too (the vantage point
    /// itself is cut off)?
    pub controls_fail: bool,
}

/// The vantage points' names, for a message.
fn vantage_names(topo: &Topology) -> String {
    let names: Vec<&str> = topo.vantages().map(|v| v.name.as_str()).collect();
    names.join(", ")
}

impl Fault {
    /// Every fault name.
    pub const NAMES: &'static [&'static str] = &[
        "origin-withdraw",
        "origin-crash",
        "primary-cut",
        "backup-cut",
        "ddos",
        "dns-timeout",
        "dns-servfail",
        "dns-refused",
        "dns-down",
        "web-5xx",
        "web-hang",
        "web-down",
        "smtp-4xx",
        "power-cut",
        "hosts-dark",
        "flap",
        "rpki-invalid",
        "vantage-cut",
        "vantage-path-cut",
        "v6-withdraw",
        "v6-border-filter",
        "v6-primary-cut",
        "loss",
    ];

    /// Parses a fault from its name and arguments.
    pub fn parse(name: &str, args: &[String]) -> Result<Fault> {
        let bad = |message: &str| LabError::FaultArgs {
            fault: name.to_string(),
            message: message.to_string(),
        };
        let no_args = |fault: Fault| {
            if args.is_empty() {
                Ok(fault)
            } else {
                Err(bad("takes no arguments"))
            }
        };
        let building = || -> Result<u8> {
            match args {
                [n] => n
                    .parse::<u8>()
                    .ok()
                    .filter(|n| (1..=4).contains(n))
                    .ok_or_else(|| bad("the building is a number from 1 to 4")),
                _ => Err(bad("needs the building number (1-4)")),
            }
        };
        match name {
            "origin-withdraw" => no_args(Fault::OriginWithdraw),
            "origin-crash" => no_args(Fault::OriginCrash),
            "primary-cut" => no_args(Fault::PrimaryCut),
            "backup-cut" => no_args(Fault::BackupCut),
            "ddos" => {
                let secs = match args {
                    [] => 60,
                    [s] => s
                        .parse::<u32>()
                        .ok()
                        .filter(|s| (1..=3600).contains(s))
                        .ok_or_else(|| bad("SECONDS is a whole number from 1 to 3600"))?,
                    _ => return Err(bad("takes at most one argument, SECONDS")),
                };
                Ok(Fault::Ddos { secs })
            }
            "dns-timeout" => no_args(Fault::DnsTimeout),
            "dns-servfail" => no_args(Fault::DnsServfail),
            "dns-refused" => no_args(Fault::DnsRefused),
            "dns-down" => no_args(Fault::DnsDown),
            "web-5xx" => no_args(Fault::Web5xx),
            "web-hang" => no_args(Fault::WebHang),
            "web-down" => no_args(Fault::WebDown),
            "smtp-4xx" => no_args(Fault::Smtp4xx),
            "power-cut" => Ok(Fault::PowerCut(building()?)),
            "hosts-dark" => Ok(Fault::HostsDark(building()?)),
            "flap" => match args {
                [count, interval] => {
                    let count = count
                        .parse::<u32>()
                        .ok()
                        .filter(|c| (1..=1000).contains(c))
                        .ok_or_else(|| bad("COUNT is a whole number from 1 to 1000"))?;
                    let interval_secs = interval
                        .parse::<f64>()
                        .ok()
                        .filter(|i| i.is_finite() && (0.1..=3600.0).contains(i))
                        .ok_or_else(|| {
                            bad("INTERVAL_SECS is a number of seconds from 0.1 to 3600")
                        })?;
                    Ok(Fault::Flap {
                        count,
                        interval_secs,
                    })
                }
                _ => Err(bad("needs COUNT and INTERVAL_SECS")),
            },
            "rpki-invalid" => no_args(Fault::RpkiInvalid),
            "vantage-cut" => {
                let topo = Topology::standard();
                match args {
                    [] => Ok(Fault::VantageCut(topo.vantage.name.clone())),
                    [v] if topo.vantage_named(v).is_some() => Ok(Fault::VantageCut(v.clone())),
                    [_] => Err(bad(&format!("NAME is one of: {}", vantage_names(&topo)))),
                    _ => Err(bad("takes at most one argument, the vantage point's NAME")),
                }
            }
            "vantage-path-cut" => {
                let topo = Topology::standard();
                let own: Vec<&Vantage> = topo.vantages().filter(|v| v.has_own_path()).collect();
                let names: Vec<&str> = own.iter().map(|v| v.name.as_str()).collect();
                match args {
                    [v] if own.iter().any(|o| o.name == *v) => Ok(Fault::VantagePathCut(v.clone())),
                    [v] if topo.vantage_named(v).is_some() => Err(bad(&format!(
                        "{v}'s path toward the network shares its link with its path to the controls \
                         (use vantage-cut {v}); the vantage points with a path of their own: {}",
                        names.join(", ")
                    ))),
                    _ => Err(bad(&format!(
                        "needs the vantage point's NAME, one of: {}",
                        names.join(", ")
                    ))),
                }
            }
            "v6-withdraw" => no_args(Fault::V6Withdraw),
            "v6-border-filter" => no_args(Fault::V6BorderFilter),
            "v6-primary-cut" => no_args(Fault::V6PrimaryCut),
            "loss" => {
                let percent = match args {
                    [] => 2,
                    [p] => p
                        .parse::<u8>()
                        .ok()
                        .filter(|p| (1..=100).contains(p))
                        .ok_or_else(|| bad("PERCENT is a whole number from 1 to 100"))?,
                    _ => return Err(bad("takes at most one argument, PERCENT")),
                };
                Ok(Fault::Loss { percent })
            }
            other => Err(LabError::UnknownFault(other.to_string())),
        }
    }

    /// The fault's name.
    pub fn name(&self) -> &'static str {
        match self {
            Fault::OriginWithdraw => "origin-withdraw",
            Fault::OriginCrash => "origin-crash",
            Fault::PrimaryCut => "primary-cut",
            Fault::BackupCut => "backup-cut",
            Fault::Ddos { .. } => "ddos",
            Fault::DnsTimeout => "dns-timeout",
            Fault::DnsServfail => "dns-servfail",
            Fault::DnsRefused => "dns-refused",
            Fault::DnsDown => "dns-down",
            Fault::Web5xx => "web-5xx",
            Fault::WebHang => "web-hang",
            Fault::WebDown => "web-down",
            Fault::Smtp4xx => "smtp-4xx",
            Fault::PowerCut(_) => "power-cut",
            Fault::HostsDark(_) => "hosts-dark",
            Fault::Flap { .. } => "flap",
            Fault::RpkiInvalid => "rpki-invalid",
            Fault::VantageCut(_) => "vantage-cut",
            Fault::VantagePathCut(_) => "vantage-path-cut",
            Fault::V6Withdraw => "v6-withdraw",
            Fault::V6BorderFilter => "v6-border-filter",
            Fault::V6PrimaryCut => "v6-primary-cut",
            Fault::Loss { .. } => "loss",
        }
    }

    /// The fault's arguments, as given on the command line.
    pub fn args(&self) -> Vec<String> {
        match self {
            Fault::Ddos { secs } => vec![secs.to_string()],
            Fault::Loss { percent } => vec![percent.to_string()],
            Fault::PowerCut(n) | Fault::HostsDark(n) => vec![n.to_string()],
            Fault::VantageCut(v) | Fault::VantagePathCut(v) => vec![v.clone()],
            Fault::Flap {
                count,
                interval_secs,
            } => vec![count.to_string(), interval_secs.to_string()],
            _ => vec![],
        }
    }

    /// What the fault does and what a monitor at the vantage point sees.
    pub fn describe(&self) -> &'static str {
        match self {
            Fault::OriginWithdraw => {
                "the origin withdraws its prefixes of both families: every upstream loses them together"
            }
            Fault::OriginCrash => {
                "the origin's BGP daemon is killed: its sessions drop and the prefixes of both families are withdrawn"
            }
            Fault::PrimaryCut => {
                "the origin-primary link goes down: the routes of both families move to the backup (prepended path)"
            }
            Fault::BackupCut => {
                "the origin-backup link goes down: the backup path disappears, the primary still carries the routes"
            }
            Fault::Ddos { .. } => {
                "a 2 Mbit/s bottleneck, 10 % random loss and a UDP flood on the uplinks: loss and latency rise on both families, BGP stays up"
            }
            Fault::DnsTimeout => "both name servers drop DNS queries: queries time out",
            Fault::DnsServfail => "both name servers fail to load the zone: queries get SERVFAIL",
            Fault::DnsRefused => "both name servers stop serving the zone: queries get REFUSED",
            Fault::DnsDown => "both name servers stop: queries get ICMP port unreachable",
            Fault::Web5xx => "both web servers answer 503",
            Fault::WebHang => "both web servers accept TCP connections and never answer",
            Fault::WebDown => "both web servers stop: connections are refused",
            Fault::Smtp4xx => "the mail server's banner is 421 4.3.2",
            Fault::PowerCut(_) => {
                "one building's prefixes are withdrawn and its hosts go dark; the other buildings stay up"
            }
            Fault::HostsDark(_) => "one building's hosts go dark while its prefixes stay announced",
            Fault::Flap { .. } => {
                "the origin withdraws and re-announces its prefixes COUNT times, INTERVAL_SECS apart"
            }
            Fault::RpkiInvalid => {
                "ROAs name AS64496 for 203.0.113.0/24-26 and 2001:db8:100::/46-48: the transit drops the origin's routes as RPKI-invalid"
            }
            Fault::VantageCut(_) => {
                "the vantage point's uplinks go down: its control host, its feeds and every target fail (the management network stays)"
            }
            Fault::VantagePathCut(_) => {
                "the vantage point's own link toward the network goes down: every target fails from it alone, its control host still answers"
            }
            Fault::V6Withdraw => {
                "the origin withdraws its IPv6 prefixes only: IPv6 goes dark, IPv4 stays"
            }
            Fault::V6BorderFilter => {
                "the origin's border drops IPv6 toward the network: the IPv6 routes stay, IPv6 packets die, IPv4 stays"
            }
            Fault::V6PrimaryCut => {
                "the origin's IPv6 session with the primary goes down: the IPv6 routes move to the backup (prepended path), the IPv4 ones stay on the primary"
            }
            Fault::Loss { .. } => {
                "the origin's border drops PERCENT % of the packets it forwards over its uplinks, at random, each way: a little loss on both families, the routes and sessions stay"
            }
        }
    }

    /// Which vantage points of `topo` see the fault, over which families.
    pub fn impact(&self, topo: &Topology) -> Impact {
        let every = || topo.vantages().map(|v| v.name.clone()).collect::<Vec<_>>();
        let (vantages, families, controls_fail) = match self {
            Fault::PrimaryCut | Fault::BackupCut => (Vec::new(), Family::BOTH.to_vec(), false),
            Fault::V6PrimaryCut => (Vec::new(), vec![Family::V6], false),
            // Only paths through the transit, which validates, lose the routes; the
            // upstreams keep their own customer's routes and still forward to it.
            Fault::RpkiInvalid => (
                topo.vantages()
                    .filter(|v| v.attached == ns::TRANSIT)
                    .map(|v| v.name.clone())
                    .collect(),
                Family::BOTH.to_vec(),
                false,
            ),
            Fault::VantageCut(v) => (vec![v.clone()], Family::BOTH.to_vec(), true),
            Fault::VantagePathCut(v) => (vec![v.clone()], Family::BOTH.to_vec(), false),
            Fault::V6Withdraw | Fault::V6BorderFilter => (every(), vec![Family::V6], false),
            _ => (every(), Family::BOTH.to_vec(), false),
        };
        Impact {
            vantages,
            families,
            controls_fail,
        }
    }

    fn building_ns(lab: &Lab, n: u8) -> Result<String> {
        lab.topology()
            .building(n)
            .map(|b| b.ns.clone())
            .ok_or_else(|| LabError::FaultArgs {
                fault: "building".into(),
                message: format!("no building {n}"),
            })
    }

    /// Disables or enables the origin's static protocols that match a BIRD
    /// pattern (see [`Fault::statics`]), in one command, so the announcements of
    /// both families go or come back together.
    fn birdc_origin(lab: &Lab, action: &str, pattern: &str) -> Result<()> {
        lab.birdc(ns::ORIGIN, &[action, &format!("\"{pattern}\"")])
            .map(|_| ())
    }

    /// A BIRD pattern for the origin's static protocols (named as
    /// [`crate::topology::Building::static_protocol`] says): every building's or
    /// building `n`'s, of both families or of IPv6 only.
    fn statics(building: Option<u8>, v6_only: bool) -> String {
        let number = building.map_or("*".to_string(), |n| n.to_string());
        if v6_only {
            format!("bld{number}_v6")
        } else if building.is_some() {
            format!("bld{number}*")
        } else {
            "bld*".to_string()
        }
    }

    fn nft_table(fault: &str) -> String {
        format!("bo_{}", fault.replace('-', "_"))
    }

    fn nft_add(
        lab: &Lab,
        namespace: &str,
        fault: &str,
        chain: &str,
        hook: &str,
        rules: &[&str],
    ) -> Result<()> {
        let table = Self::nft_table(fault);
        let mut text = format!(
            "table inet {table} {{\n  chain {chain} {{\n    type filter hook {hook} priority 0; policy accept;\n"
        );
        for rule in rules {
            text.push_str("    ");
            text.push_str(rule);
            text.push('\n');
        }
        text.push_str("  }\n}\n");
        let path = lab.state_dir().join(namespace).join(format!("{table}.nft"));
        std::fs::write(&path, text).map_err(crate::error::io("write", &path))?;
        // Replace a table left by an earlier injection of the same fault.
        let _ = exec::ok_ns(namespace, "nft", &["delete", "table", "inet", &table]);
        exec::run_ns(namespace, "nft", &["-f", &path.to_string_lossy()]).map(|_| ())
    }

    fn nft_del(namespace: &str, fault: &str) {
        let _ = exec::ok_ns(
            namespace,
            "nft",
            &["delete", "table", "inet", &Self::nft_table(fault)],
        );
    }

    /// The uplink interfaces the DDoS shapes: both directions of both origin links.
    fn ddos_links(lab: &Lab) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for up in [ns::UP1, ns::UP2] {
            if let Some((origin_end, up_end)) = lab.topology().link_between(ns::ORIGIN, up) {
                out.push((origin_end.ns.clone(), origin_end.ifname.clone()));
                out.push((up_end.ns.clone(), up_end.ifname.clone()));
            }
        }
        out
    }

    fn shape(namespace: &str, ifname: &str) -> Result<()> {
        let tc = |args: &[&str]| -> Result<()> {
            let mut full = vec!["-n", namespace];
            full.extend_from_slice(args);
            exec::run("tc", &full).map(|_| ())
        };
        let _ = exec::ok(
            "tc",
            &["-n", namespace, "qdisc", "del", "dev", ifname, "root"],
        );
        tc(&[
            "qdisc", "add", "dev", ifname, "root", "handle", "1:", "htb", "default", "20",
        ])?;
        tc(&[
            "class", "add", "dev", ifname, "parent", "1:", "classid", "1:1", "htb", "rate",
            "20mbit",
        ])?;
        // BGP and ARP get their own class with a guaranteed rate, so the sessions
        // survive the flood; everything else shares a 2 Mbit/s pipe with a short queue.
        tc(&[
            "class", "add", "dev", ifname, "parent", "1:1", "classid", "1:10", "htb", "rate",
            "1mbit", "ceil", "20mbit", "prio", "0",
        ])?;
        tc(&[
            "class", "add", "dev", ifname, "parent", "1:1", "classid", "1:20", "htb", "rate",
            "2mbit", "ceil", "2mbit", "prio", "1",
        ])?;
        tc(&[
            "qdisc", "add", "dev", ifname, "parent", "1:20", "handle", "20:", "pfifo", "limit",
            "30",
        ])?;
        for field in ["sport", "dport"] {
            tc(&[
                "filter", "add", "dev", ifname, "parent", "1:", "protocol", "ip", "prio", "1",
                "u32", "match", "ip", field, "179", "0xffff", "flowid", "1:10",
            ])?;
        }
        tc(&[
            "filter", "add", "dev", ifname, "parent", "1:", "protocol", "arp", "prio", "2", "u32",
            "match", "u32", "0", "0", "flowid", "1:10",
        ])
    }

    /// Applies the fault.
    pub fn inject(&self, lab: &Lab) -> Result<()> {
        let topo = lab.topology().clone();
        match self {
            Fault::OriginWithdraw => {
                Self::birdc_origin(lab, "disable", &Self::statics(None, false))
            }
            Fault::OriginCrash => {
                let pid = exec::pid_alive(&lab.pid_file(ns::ORIGIN, "bird"));
                if let Some(pid) = pid {
                    exec::signal(pid, "KILL");
                }
                Ok(())
            }
            Fault::PrimaryCut => lab.set_link(ns::ORIGIN, ns::UP1, false),
            Fault::BackupCut => lab.set_link(ns::ORIGIN, ns::UP2, false),
            Fault::Ddos { secs } => {
                for (namespace, ifname) in Self::ddos_links(lab) {
                    Self::shape(&namespace, &ifname)?;
                }
                let links = Self::ddos_links(lab);
                for namespace in [ns::ORIGIN, ns::UP1, ns::UP2] {
                    // Forwarded traffic over the origin's uplinks only: the routers'
                    // own BGP sessions are local, and the upstreams' other traffic
                    // (the vantage points behind them, the control network) is spared.
                    let uplinks: Vec<String> = links
                        .iter()
                        .filter(|(n, _)| n == namespace)
                        .map(|(_, ifname)| format!("\"{ifname}\""))
                        .collect();
                    let uplinks = uplinks.join(", ");
                    let rules = ["iifname", "oifname"].map(|dir| {
                        format!("{dir} {{ {uplinks} }} numgen random mod 100 < 10 counter drop")
                    });
                    let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
                    Self::nft_add(lab, namespace, "ddos", "forward", "forward", &rules)?;
                }
                let targets: Vec<String> = topo
                    .hosts_with(Service::Ping)
                    .iter()
                    .flat_map(|(_, h)| h.addrs())
                    .map(|a| a.to_string())
                    .collect();
                let secs = secs.to_string();
                let mut args = vec!["flood", secs.as_str(), "500", "1172"];
                args.extend(targets.iter().map(String::as_str));
                lab.start_helper(ns::TRANSIT, "flood", &args)
            }
            Fault::DnsTimeout => {
                for (b, _) in topo.hosts_with(Service::Dns) {
                    Self::nft_add(
                        lab,
                        &b.ns,
                        self.name(),
                        "input",
                        "input",
                        &["udp dport 53 drop", "tcp dport 53 drop"],
                    )?;
                }
                Ok(())
            }
            Fault::DnsServfail | Fault::DnsRefused => {
                let mode = if *self == Fault::DnsServfail {
                    DnsMode::Servfail
                } else {
                    DnsMode::Refused
                };
                for (b, _) in topo.hosts_with(Service::Dns) {
                    lab.start_nsd(b, mode)?;
                }
                Ok(())
            }
            Fault::DnsDown => {
                for (b, _) in topo.hosts_with(Service::Dns) {
                    lab.stop(&b.ns, "nsd");
                }
                Ok(())
            }
            Fault::Web5xx => {
                for b in Self::web_buildings(lab) {
                    lab.start_nginx(&b.ns, &config::web_sites(&b), WebMode::Error5xx)?;
                }
                Ok(())
            }
            Fault::WebHang => {
                for b in Self::web_buildings(lab) {
                    lab.stop(&b.ns, "nginx");
                    let specs: Vec<String> = config::web_sites(&b)
                        .iter()
                        .flat_map(LabHost::addrs)
                        .map(|addr| std::net::SocketAddr::new(addr, 80).to_string())
                        .collect();
                    let mut args = vec!["hang"];
                    args.extend(specs.iter().map(String::as_str));
                    lab.start_helper(&b.ns, "hang", &args)?;
                }
                Ok(())
            }
            Fault::WebDown => {
                for b in Self::web_buildings(lab) {
                    lab.stop(&b.ns, "nginx");
                }
                Ok(())
            }
            Fault::Smtp4xx => {
                for (b, _) in topo.hosts_with(Service::Smtp) {
                    lab.start_smtp(b, true)?;
                }
                Ok(())
            }
            Fault::PowerCut(n) => {
                let building = Self::building_ns(lab, *n)?;
                Self::birdc_origin(lab, "disable", &Self::statics(Some(*n), false))?;
                lab.set_link(ns::ORIGIN, &building, false)
            }
            Fault::HostsDark(n) => {
                let building = Self::building_ns(lab, *n)?;
                lab.set_link(ns::ORIGIN, &building, false)
            }
            Fault::Flap {
                count,
                interval_secs,
            } => {
                let sock = lab.bird_socket(ns::ORIGIN).to_string_lossy().into_owned();
                let log = lab.fault_log().to_string_lossy().into_owned();
                let count = count.to_string();
                let interval = interval_secs.to_string();
                let statics = format!("\"{}\"", Self::statics(None, false));
                lab.start_helper(
                    ns::ORIGIN,
                    "flap",
                    &["flap", &count, &interval, &sock, &log, &statics],
                )
            }
            Fault::RpkiInvalid => Self::set_roas(lab, true),
            Fault::VantageCut(name) => Self::cut_vantage(lab, name, false, false),
            Fault::VantagePathCut(name) => Self::cut_vantage(lab, name, true, false),
            Fault::V6Withdraw => Self::birdc_origin(lab, "disable", &Self::statics(None, true)),
            Fault::V6PrimaryCut => lab
                .birdc(ns::ORIGIN, &["disable", PRIMARY_V6_SESSION])
                .map(|_| ()),
            Fault::V6BorderFilter => {
                // Forwarded packets only: the sessions with the upstreams are the
                // router's own, and so are its answers to traceroutes.
                let rule = format!(
                    "iifname {{ {} }} ip6 daddr {} counter drop",
                    Self::origin_uplinks(&topo),
                    topo.origin_aggregate6()
                );
                Self::nft_add(lab, ns::ORIGIN, self.name(), "forward", "forward", &[&rule])
            }
            Fault::Loss { percent } => {
                // Forwarded packets only, as above: BGP keeps its sessions, as a
                // real lossy link's TCP would by resending.
                let uplinks = Self::origin_uplinks(&topo);
                let rules = ["iifname", "oifname"].map(|dir| {
                    format!("{dir} {{ {uplinks} }} numgen random mod 100 < {percent} counter drop")
                });
                let rules: Vec<&str> = rules.iter().map(String::as_str).collect();
                Self::nft_add(lab, ns::ORIGIN, self.name(), "forward", "forward", &rules)
            }
        }
    }

    /// The origin's interfaces toward the upstreams, as an nftables set's elements.
    fn origin_uplinks(topo: &Topology) -> String {
        let uplinks: Vec<String> = topo
            .links_of(ns::ORIGIN)
            .iter()
            .filter(|(_, far)| topo.router(&far.ns).is_some())
            .map(|(here, _)| format!("\"{}\"", here.ifname))
            .collect();
        uplinks.join(", ")
    }

    /// Takes a vantage point's links down (`restore`: back up): every link of
    /// it but the management network's, or with `path_only` the one its path
    /// toward the watched network starts with.
    fn cut_vantage(lab: &Lab, name: &str, path_only: bool, restore: bool) -> Result<()> {
        let topo = lab.topology();
        let vantage = topo
            .vantage_named(name)
            .ok_or_else(|| LabError::FaultArgs {
                fault: "vantage".into(),
                message: format!("no vantage point {name}"),
            })?;
        for (_, far) in topo.links_of(&vantage.ns) {
            if !path_only || far.ns == vantage.attached {
                lab.set_link(&vantage.ns, &far.ns, restore)?;
            }
        }
        Ok(())
    }

    /// Switches the ROAs, waits until the transit's RPKI table has them and no
    /// longer the others, and re-runs its import policy: FRR drops routes that
    /// turn invalid by itself, but takes back the ones that turn valid only on a
    /// soft clear. A table caught halfway (the new ROA in, the old one not yet
    /// out) still finds the routes valid, so the wait is for the whole switch;
    /// turning them invalid then waits until the transit has dropped them, so
    /// that the fault is in force when it is logged.
    fn set_roas(lab: &Lab, invalid: bool) -> Result<()> {
        lab.write_roas(invalid)?;
        let topo = lab.topology();
        let (want, old) = if invalid {
            (topo.rogue_roa_asn, crate::topology::ORIGIN_ASN)
        } else {
            (crate::topology::ORIGIN_ASN, topo.rogue_roa_asn)
        };
        let (want, old) = (want.to_string(), old.to_string());
        wait_until(
            &format!("the transit's RPKI table to name AS{want} alone"),
            || {
                let table = lab.vtysh("show rpki prefix-table").unwrap_or_default();
                Family::BOTH.iter().all(|family| {
                    let aggregate = topo.origin_aggregate_of(*family).addr().to_string();
                    let origins: Vec<&str> = table
                        .lines()
                        .filter(|l| l.split_whitespace().next() == Some(aggregate.as_str()))
                        .filter_map(|l| l.split_whitespace().last())
                        .collect();
                    origins.contains(&want.as_str()) && !origins.contains(&old.as_str())
                })
            },
        )?;
        for family in Family::BOTH {
            lab.vtysh(&format!("clear bgp {} unicast * soft in", family.keyword()))?;
        }
        if invalid {
            wait_until("the transit to drop the origin's invalid routes", || {
                lab.transit_routes().is_empty()
            })?;
        }
        Ok(())
    }

    fn web_buildings(lab: &Lab) -> Vec<crate::topology::Building> {
        lab.topology()
            .buildings
            .iter()
            .filter(|b| !config::web_sites(b).is_empty())
            .cloned()
            .collect()
    }

    /// Undoes the fault.
    pub fn undo(&self, lab: &Lab) -> Result<()> {
        let topo = lab.topology().clone();
        match self {
            Fault::OriginWithdraw => Self::birdc_origin(lab, "enable", &Self::statics(None, false)),
            Fault::OriginCrash => {
                if exec::pid_alive(&lab.pid_file(ns::ORIGIN, "bird")).is_none() {
                    lab.start_bird(ns::ORIGIN)?;
                }
                Ok(())
            }
            Fault::PrimaryCut => lab.set_link(ns::ORIGIN, ns::UP1, true),
            Fault::BackupCut => lab.set_link(ns::ORIGIN, ns::UP2, true),
            Fault::Ddos { .. } => {
                lab.stop(ns::TRANSIT, "flood");
                for (namespace, ifname) in Self::ddos_links(lab) {
                    let _ = exec::ok(
                        "tc",
                        &["-n", &namespace, "qdisc", "del", "dev", &ifname, "root"],
                    );
                }
                for namespace in [ns::ORIGIN, ns::UP1, ns::UP2] {
                    Self::nft_del(namespace, "ddos");
                }
                Ok(())
            }
            Fault::DnsTimeout => {
                for (b, _) in topo.hosts_with(Service::Dns) {
                    Self::nft_del(&b.ns, self.name());
                }
                Ok(())
            }
            Fault::DnsServfail | Fault::DnsRefused | Fault::DnsDown => {
                for (b, _) in topo.hosts_with(Service::Dns) {
                    lab.start_nsd(b, DnsMode::Normal)?;
                }
                Ok(())
            }
            Fault::Web5xx | Fault::WebDown | Fault::WebHang => {
                for b in Self::web_buildings(lab) {
                    lab.stop(&b.ns, "hang");
                    lab.start_nginx(&b.ns, &config::web_sites(&b), WebMode::Normal)?;
                }
                Ok(())
            }
            Fault::Smtp4xx => {
                for (b, _) in topo.hosts_with(Service::Smtp) {
                    lab.start_smtp(b, false)?;
                }
                Ok(())
            }
            Fault::PowerCut(n) => {
                let building = Self::building_ns(lab, *n)?;
                lab.set_link(ns::ORIGIN, &building, true)?;
                Self::birdc_origin(lab, "enable", &Self::statics(Some(*n), false))
            }
            Fault::HostsDark(n) => {
                let building = Self::building_ns(lab, *n)?;
                lab.set_link(ns::ORIGIN, &building, true)
            }
            Fault::Flap { .. } => {
                lab.stop(ns::ORIGIN, "flap");
                Self::birdc_origin(lab, "enable", &Self::statics(None, false))
            }
            Fault::RpkiInvalid => Self::set_roas(lab, false),
            Fault::VantageCut(name) => Self::cut_vantage(lab, name, false, true),
            Fault::VantagePathCut(name) => Self::cut_vantage(lab, name, true, true),
            Fault::V6Withdraw => Self::birdc_origin(lab, "enable", &Self::statics(None, true)),
            Fault::V6PrimaryCut => lab
                .birdc(ns::ORIGIN, &["enable", PRIMARY_V6_SESSION])
                .map(|_| ()),
            Fault::V6BorderFilter | Fault::Loss { .. } => {
                Self::nft_del(ns::ORIGIN, self.name());
                Ok(())
            }
        }
    }
}

/// How long a fault waits for a router to take a change in.
const FAULT_SETTLE: Duration = Duration::from_secs(15);

/// Polls `done` every 100 ms until it holds, or fails naming `what` after
/// [`FAULT_SETTLE`].
fn wait_until(what: &str, mut done: impl FnMut() -> bool) -> Result<()> {
    exec::wait_for(FAULT_SETTLE, Duration::from_millis(100), || {
        done().then_some(()).ok_or_else(|| what.to_string())
    })
}

impl Lab {
    /// Injects a fault (on top of any in force) and logs it. Returns the
    /// timestamp written to the fault log.
    pub fn inject(&self, fault: &Fault) -> Result<String> {
        if !exec::is_root() {
            return Err(LabError::NotRoot);
        }
        if !exec::netns_list().iter().any(|n| n == ns::ORIGIN) {
            return Err(LabError::NotUp);
        }
        fault.inject(self)?;
        let at = self.log_event("fault", Some(fault.name()), &fault.args())?;
        let mut active = self.active_faults();
        active.push(ActiveFault {
            fault: fault.name().to_string(),
            args: fault.args(),
            at: at.clone(),
        });
        self.set_active_faults(&active)?;
        self.say(&format!("{}: {}", fault.name(), fault.describe()));
        Ok(at)
    }

    /// Undoes every fault in force, newest first, restarts anything of the
    /// baseline that is not running, logs the heal and waits (up to `wait`) for
    /// the baseline. Returns the timestamp written to the fault log.
    pub fn heal(&self, wait: Duration) -> Result<String> {
        if !exec::is_root() {
            return Err(LabError::NotRoot);
        }
        if !exec::netns_list().iter().any(|n| n == ns::ORIGIN) {
            return Err(LabError::NotUp);
        }
        let active = self.active_faults();
        let mut first_error = None;
        for entry in active.iter().rev() {
            let undone = Fault::parse(&entry.fault, &entry.args).and_then(|fault| fault.undo(self));
            if let Err(error) = undone {
                self.say(&format!("undoing {}: {error}", entry.fault));
                first_error.get_or_insert(error);
            }
        }
        self.repair_network()?;
        self.restart_missing()?;
        self.set_active_faults(&[])?;
        let at = self.log_event("heal", None, &[])?;
        if let Some(error) = first_error {
            return Err(error);
        }
        self.wait_baseline(wait)?;
        self.say(&format!(
            "healed at {at} (back to the baseline by {})",
            now_rfc3339()
        ));
        Ok(at)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_name_parses_and_round_trips() {
        for name in Fault::NAMES {
            let a = match *name {
                "power-cut" | "hosts-dark" => args(&["3"]),
                "flap" => args(&["3", "2"]),
                "ddos" => args(&["20"]),
                "vantage-path-cut" => args(&["vp-backup"]),
                "loss" => args(&["2"]),
                _ => vec![],
            };
            let fault = Fault::parse(name, &a).unwrap();
            assert_eq!(fault.name(), *name);
            assert_eq!(Fault::parse(fault.name(), &fault.args()).unwrap(), fault);
            assert!(!fault.describe().is_empty());
        }
    }

    #[test]
    fn bad_arguments_are_refused() {
        assert!(Fault::parse("power-cut", &args(&["5"])).is_err());
        assert!(Fault::parse("power-cut", &[]).is_err());
        assert!(Fault::parse("flap", &args(&["3"])).is_err());
        assert!(Fault::parse("flap", &args(&["0", "1"])).is_err());
        assert!(Fault::parse("ddos", &args(&["0"])).is_err());
        assert!(Fault::parse("origin-crash", &args(&["x"])).is_err());
        assert!(matches!(
            Fault::parse("meteor", &[]),
            Err(LabError::UnknownFault(_))
        ));
        assert_eq!(Fault::parse("ddos", &[]).unwrap(), Fault::Ddos { secs: 60 });
        assert!(Fault::parse("vantage-cut", &args(&["vp-nowhere"])).is_err());
        assert!(Fault::parse("vantage-path-cut", &[]).is_err());
        // Its path toward the network and its controls share the link to the transit.
        let shared = Fault::parse("vantage-path-cut", &args(&["vp-transit"]));
        assert!(
            matches!(shared, Err(LabError::FaultArgs { message, .. }) if message.contains("vantage-cut vp-transit"))
        );
        assert!(Fault::parse("v6-withdraw", &args(&["1"])).is_err());
        assert!(Fault::parse("loss", &args(&["0"])).is_err());
        assert!(Fault::parse("loss", &args(&["101"])).is_err());
        assert!(Fault::parse("loss", &args(&["2", "3"])).is_err());
        assert_eq!(
            Fault::parse("loss", &[]).unwrap(),
            Fault::Loss { percent: 2 }
        );
    }

    #[test]
    fn vantage_cut_names_the_feeds_vantage_by_default() {
        assert_eq!(
            Fault::parse("vantage-cut", &[]).unwrap(),
            Fault::VantageCut("vp-transit".into())
        );
        assert_eq!(
            Fault::parse("vantage-cut", &args(&["vp-primary"])).unwrap(),
            Fault::VantageCut("vp-primary".into())
        );
    }

    #[test]
    fn statics_patterns_match_the_protocol_names() {
        assert_eq!(Fault::statics(None, false), "bld*");
        assert_eq!(Fault::statics(None, true), "bld*_v6");
        assert_eq!(Fault::statics(Some(2), false), "bld2*");
        let topo = Topology::standard();
        let b2 = topo.building(2).unwrap();
        // The names the patterns must catch, and only those.
        for family in Family::BOTH {
            assert!(b2.static_protocol(family).starts_with("bld2"));
        }
        assert!(b2.static_protocol(Family::V6).ends_with("_v6"));
        assert!(!b2.static_protocol(Family::V4).ends_with("_v6"));
    }

    #[test]
    fn impacts() {
        let topo = Topology::standard();
        let all = ["vp-transit", "vp-primary", "vp-backup"];
        let impact = |name: &str, a: &[&str]| Fault::parse(name, &args(a)).unwrap().impact(&topo);
        let withdraw = impact("origin-withdraw", &[]);
        assert_eq!(withdraw.vantages, all);
        assert_eq!(withdraw.families, Family::BOTH);
        assert!(impact("primary-cut", &[]).vantages.is_empty());
        assert_eq!(impact("rpki-invalid", &[]).vantages, ["vp-transit"]);
        let cut = impact("vantage-cut", &["vp-primary"]);
        assert_eq!(
            (cut.vantages.as_slice(), cut.controls_fail),
            (&["vp-primary".to_string()][..], true)
        );
        let path = impact("vantage-path-cut", &["vp-backup"]);
        assert_eq!(
            (path.vantages.as_slice(), path.controls_fail),
            (&["vp-backup".to_string()][..], false)
        );
        let loss = impact("loss", &["2"]);
        assert_eq!(
            (
                loss.vantages.as_slice(),
                loss.families.as_slice(),
                loss.controls_fail
            ),
            (&all.map(String::from)[..], &Family::BOTH[..], false)
        );
        for v6 in ["v6-withdraw", "v6-border-filter"] {
            assert_eq!(impact(v6, &[]).families, [Family::V6]);
            assert_eq!(impact(v6, &[]).vantages, all);
        }
        // The IPv6 routes move to the backup: only BGP sees it.
        let v6_cut = impact("v6-primary-cut", &[]);
        assert_eq!(v6_cut.families, [Family::V6]);
        assert!(v6_cut.vantages.is_empty());
    }
}
