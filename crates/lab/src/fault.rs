//! The faults: [`Fault`] names one, parses it from the command line, says what
//! it does, and injects and undoes it on a [`Lab`]. Faults stack; [`Lab::heal`]
//! undoes every fault in force and makes sure the baseline is back. Every
//! injection and heal goes to the fault log with a timestamp.

use crate::config::{self, DnsMode, WebMode};
use crate::error::{LabError, Result};
use crate::exec;
use crate::lab::{ActiveFault, Lab, now_rfc3339};
use crate::topology::{Service, ns};
use std::time::Duration;

/// One fault.
#[derive(Clone, Debug, PartialEq)]
pub enum Fault {
    /// The origin withdraws all its prefixes (its BGP sessions stay up).
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
    /// Building N loses power: its prefix is withdrawn and its hosts go dark.
    PowerCut(u8),
    /// Building N's hosts go dark while its prefix stays announced.
    HostsDark(u8),
    /// The origin withdraws and re-announces everything COUNT times.
    Flap {
        /// How many withdraw-and-announce cycles.
        count: u32,
        /// Seconds between two steps.
        interval_secs: f64,
    },
    /// A ROA names another AS, so the origin's routes are RPKI-invalid and the
    /// transit, which enforces route-origin validation, drops them.
    RpkiInvalid,
    /// The vantage point's own uplink is cut.
    VantageCut,
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
            "vantage-cut" => no_args(Fault::VantageCut),
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
            Fault::VantageCut => "vantage-cut",
        }
    }

    /// The fault's arguments, as given on the command line.
    pub fn args(&self) -> Vec<String> {
        match self {
            Fault::Ddos { secs } => vec![secs.to_string()],
            Fault::PowerCut(n) | Fault::HostsDark(n) => vec![n.to_string()],
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
                "the origin withdraws its four prefixes: every upstream loses them together"
            }
            Fault::OriginCrash => {
                "the origin's BGP daemon is killed: its sessions drop and the prefixes are withdrawn"
            }
            Fault::PrimaryCut => {
                "the origin-primary link goes down: the routes move to the backup (prepended path)"
            }
            Fault::BackupCut => {
                "the origin-backup link goes down: the backup path disappears, the primary still carries the routes"
            }
            Fault::Ddos { .. } => {
                "a 2 Mbit/s bottleneck, 10 % random loss and a UDP flood on the uplinks: loss and latency rise, BGP stays up"
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
                "one building's prefix is withdrawn and its hosts go dark; the other buildings stay up"
            }
            Fault::HostsDark(_) => "one building's hosts go dark while its prefix stays announced",
            Fault::Flap { .. } => {
                "the origin withdraws and re-announces its prefixes COUNT times, INTERVAL_SECS apart"
            }
            Fault::RpkiInvalid => {
                "a ROA names AS64496 for 203.0.113.0/24-26: the transit drops the origin's routes as RPKI-invalid"
            }
            Fault::VantageCut => {
                "the vantage point's uplink goes down: the control host, the feeds and every target fail"
            }
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

    fn set_link(lab: &Lab, a: &str, b: &str, up: bool) -> Result<()> {
        let state = if up { "up" } else { "down" };
        let Some((here, there)) = lab.topology().link_between(a, b) else {
            return Ok(());
        };
        for end in [here, there] {
            exec::run("ip", &["-n", &end.ns, "link", "set", &end.ifname, state])?;
        }
        if up {
            // The kernel dropped the leaf's default route with the link.
            lab.repair_network()?;
        }
        Ok(())
    }

    fn birdc_origin(lab: &Lab, action: &str, protocols: &[String]) -> Result<()> {
        for p in protocols {
            lab.birdc(ns::ORIGIN, &[action, p])?;
        }
        Ok(())
    }

    fn all_statics(lab: &Lab) -> Vec<String> {
        lab.topology()
            .buildings
            .iter()
            .map(|b| b.static_protocol())
            .collect()
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
            Fault::OriginWithdraw => Self::birdc_origin(lab, "disable", &Self::all_statics(lab)),
            Fault::OriginCrash => {
                let pid = exec::pid_alive(&lab.pid_file(ns::ORIGIN, "bird"));
                if let Some(pid) = pid {
                    exec::signal(pid, "KILL");
                }
                Ok(())
            }
            Fault::PrimaryCut => Self::set_link(lab, ns::ORIGIN, ns::UP1, false),
            Fault::BackupCut => Self::set_link(lab, ns::ORIGIN, ns::UP2, false),
            Fault::Ddos { secs } => {
                for (namespace, ifname) in Self::ddos_links(lab) {
                    Self::shape(&namespace, &ifname)?;
                }
                for namespace in [ns::ORIGIN, ns::UP1, ns::UP2] {
                    // Forwarded traffic only: the routers' own BGP sessions are local.
                    Self::nft_add(
                        lab,
                        namespace,
                        "ddos",
                        "forward",
                        "forward",
                        &["numgen random mod 100 < 10 counter drop"],
                    )?;
                }
                let targets: Vec<String> = topo
                    .hosts_with(Service::Ping)
                    .iter()
                    .map(|(_, h)| h.addr.to_string())
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
                        .map(|(addr, _)| format!("{addr}:80"))
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
                Self::birdc_origin(lab, "disable", &[format!("bld{n}")])?;
                Self::set_link(lab, ns::ORIGIN, &building, false)
            }
            Fault::HostsDark(n) => {
                let building = Self::building_ns(lab, *n)?;
                Self::set_link(lab, ns::ORIGIN, &building, false)
            }
            Fault::Flap {
                count,
                interval_secs,
            } => {
                let sock = lab.bird_socket(ns::ORIGIN).to_string_lossy().into_owned();
                let log = lab.fault_log().to_string_lossy().into_owned();
                let count = count.to_string();
                let interval = interval_secs.to_string();
                let statics = Self::all_statics(lab);
                let mut args = vec![
                    "flap",
                    count.as_str(),
                    interval.as_str(),
                    sock.as_str(),
                    log.as_str(),
                ];
                args.extend(statics.iter().map(String::as_str));
                lab.start_helper(ns::ORIGIN, "flap", &args)
            }
            Fault::RpkiInvalid => Self::set_roas(lab, true),
            Fault::VantageCut => Self::set_link(lab, ns::VANTAGE, ns::TRANSIT, false),
        }
    }

    /// Switches the ROAs, waits until the transit's RPKI table has them, and
    /// re-runs its import policy: FRR drops routes that turn invalid by itself,
    /// but takes back the ones that turn valid only on a soft clear.
    fn set_roas(lab: &Lab, invalid: bool) -> Result<()> {
        lab.write_roas(invalid)?;
        let topo = lab.topology();
        let want = if invalid {
            topo.rogue_roa_asn
        } else {
            crate::topology::ORIGIN_ASN
        };
        let until = std::time::Instant::now() + Duration::from_secs(15);
        loop {
            let table = lab.vtysh("show rpki prefix-table").unwrap_or_default();
            let loaded = table.lines().any(|l| {
                l.starts_with(&topo.origin_aggregate().addr().to_string())
                    && l.split_whitespace().last() == Some(want.to_string().as_str())
            });
            if loaded {
                break;
            }
            if std::time::Instant::now() > until {
                return Err(LabError::Timeout {
                    what: format!("the transit's RPKI table to name AS{want}"),
                    secs: 15,
                });
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        lab.vtysh("clear bgp ipv4 unicast * soft in").map(|_| ())
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
            Fault::OriginWithdraw => Self::birdc_origin(lab, "enable", &Self::all_statics(lab)),
            Fault::OriginCrash => {
                if exec::pid_alive(&lab.pid_file(ns::ORIGIN, "bird")).is_none() {
                    lab.start_bird(ns::ORIGIN)?;
                }
                Ok(())
            }
            Fault::PrimaryCut => Self::set_link(lab, ns::ORIGIN, ns::UP1, true),
            Fault::BackupCut => Self::set_link(lab, ns::ORIGIN, ns::UP2, true),
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
                Self::set_link(lab, ns::ORIGIN, &building, true)?;
                Self::birdc_origin(lab, "enable", &[format!("bld{n}")])
            }
            Fault::HostsDark(n) => {
                let building = Self::building_ns(lab, *n)?;
                Self::set_link(lab, ns::ORIGIN, &building, true)
            }
            Fault::Flap { .. } => {
                lab.stop(ns::ORIGIN, "flap");
                Self::birdc_origin(lab, "enable", &Self::all_statics(lab))
            }
            Fault::RpkiInvalid => Self::set_roas(lab, false),
            Fault::VantageCut => Self::set_link(lab, ns::VANTAGE, ns::TRANSIT, true),
        }
    }
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
    }
}
