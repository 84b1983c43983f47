//! What the lab is doing: [`Status`] for `blackout lab status`, the BGP
//! sessions and the transit's routes of both families, which addresses each
//! vantage point reaches over both families and the management network, and
//! the baseline check ([`Lab::baseline_problems`]) that `up` and `heal` wait
//! for.

use crate::error::Result;
use crate::exec;
use crate::lab::{ActiveFault, Lab};
use crate::topology::{BACKUP_ASN, Daemon, Family, ORIGIN_ASN, PRIMARY_ASN, ns};
use std::collections::BTreeSet;
use std::net::IpAddr;
use std::time::Duration;

/// One process the lab runs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProcessStatus {
    /// Its namespace.
    pub ns: String,
    /// What it is (`bird`, `bgpd`, `nsd`...).
    pub name: String,
    /// Its pid, if it is running.
    pub pid: Option<u32>,
}

/// A BGP session's state as its router reports it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SessionStatus {
    /// The router's namespace.
    pub ns: String,
    /// The neighbor: its name, address and the families the session carries.
    pub neighbor: String,
    /// The state (`Established`, `Active`, `Connect`...).
    pub state: String,
}

/// A route in the transit's BGP table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TransitRoute {
    /// The prefix.
    pub prefix: String,
    /// The AS path, nearest AS first.
    pub path: Vec<u32>,
    /// Is it the best path?
    pub best: bool,
}

/// Whether a vantage point reaches an address by ICMP.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reach {
    /// The vantage point's name.
    pub vantage: String,
    /// What the address is (a host's name, the control host, `central`).
    pub name: String,
    /// The address.
    pub addr: IpAddr,
    /// Did it answer?
    pub up: bool,
}

/// What `blackout lab status` reports.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The lab's namespaces that exist.
    pub namespaces: Vec<String>,
    /// The lab's namespaces that are missing.
    pub missing_namespaces: Vec<String>,
    /// The baseline processes and whether they run.
    pub processes: Vec<ProcessStatus>,
    /// BGP sessions.
    pub sessions: Vec<SessionStatus>,
    /// The transit's routes to the origin's prefixes, of both families.
    pub transit_routes: Vec<TransitRoute>,
    /// For every vantage point, the hosts and control host (both families) and
    /// the central (over the management network), and whether each answers ICMP.
    pub reachable: Vec<Reach>,
    /// The faults in force.
    pub faults: Vec<ActiveFault>,
}

impl Status {
    /// Is any part of the lab there?
    pub fn exists(&self) -> bool {
        !self.namespaces.is_empty()
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if !self.exists() {
            return writeln!(f, "lab: down (no namespace)");
        }
        let state = if self.missing_namespaces.is_empty() {
            "up"
        } else {
            "partly up"
        };
        writeln!(f, "lab: {state}")?;
        for missing in &self.missing_namespaces {
            writeln!(f, "  namespace {missing}: missing")?;
        }
        writeln!(f, "processes:")?;
        for p in &self.processes {
            match p.pid {
                Some(pid) => writeln!(f, "  {:<11} {:<8} running (pid {pid})", p.ns, p.name)?,
                None => writeln!(f, "  {:<11} {:<8} NOT RUNNING", p.ns, p.name)?,
            }
        }
        writeln!(f, "bgp sessions:")?;
        for s in &self.sessions {
            writeln!(f, "  {:<11} {:<34} {}", s.ns, s.neighbor, s.state)?;
        }
        writeln!(f, "transit routes to the origin:")?;
        for r in &self.transit_routes {
            let path: Vec<String> = r.path.iter().map(u32::to_string).collect();
            writeln!(
                f,
                "  {:<18} {}{}",
                r.prefix,
                path.join(" "),
                if r.best { "  (best)" } else { "" }
            )?;
        }
        let mut vantage = None;
        for r in &self.reachable {
            if vantage != Some(&r.vantage) {
                writeln!(f, "reachable from {} (ICMP):", r.vantage)?;
                vantage = Some(&r.vantage);
            }
            writeln!(
                f,
                "  {:<20} {:<18} {}",
                r.name,
                r.addr.to_string(),
                if r.up { "up" } else { "DOWN" }
            )?;
        }
        if self.faults.is_empty() {
            writeln!(f, "faults: none (baseline)")?;
        } else {
            writeln!(f, "faults:")?;
            for fault in &self.faults {
                let mut spec = fault.fault.clone();
                for arg in &fault.args {
                    spec.push(' ');
                    spec.push_str(arg);
                }
                writeln!(f, "  {spec} (since {})", fault.at)?;
            }
        }
        Ok(())
    }
}

/// The name under which the central appears among a vantage's addresses.
const CENTRAL: &str = "central";

impl Lab {
    /// The BGP sessions of every router, one row per session.
    pub fn sessions(&self) -> Vec<SessionStatus> {
        let mut out = Vec::new();
        for router in &self.topo.routers {
            let states: Vec<(String, String)> = match router.daemon {
                Daemon::Bird => {
                    let sock = self.bird_socket(&router.ns);
                    let text = exec::run(
                        "birdc",
                        &["-s", &sock.to_string_lossy(), "show", "protocols"],
                    )
                    .unwrap_or_default();
                    router
                        .neighbors
                        .iter()
                        .map(|n| (n.name.clone(), bird_state(&text, &n.name)))
                        .collect()
                }
                Daemon::Frr => {
                    let summaries: Vec<(Family, Option<serde_json::Value>)> = Family::BOTH
                        .iter()
                        .map(|f| {
                            let command = format!("show bgp {} unicast summary json", f.keyword());
                            (*f, self.vtysh_json(&command))
                        })
                        .collect();
                    router
                        .neighbors
                        .iter()
                        .map(|n| {
                            let family = n.families.first().copied().unwrap_or(Family::V4);
                            let state = summaries
                                .iter()
                                .find(|(f, _)| *f == family)
                                .and_then(|(_, s)| s.as_ref())
                                .and_then(|s| s["peers"][n.addr.to_string()]["state"].as_str())
                                .unwrap_or("unknown (bgpd not answering)");
                            (n.name.clone(), state.to_string())
                        })
                        .collect()
                }
            };
            for (n, (_, state)) in router.neighbors.iter().zip(states) {
                let families: Vec<&str> = n.families.iter().map(|f| f.keyword()).collect();
                out.push(SessionStatus {
                    ns: router.ns.clone(),
                    neighbor: format!("{} {} ({})", n.name, n.addr, families.join(", ")),
                    state,
                });
            }
        }
        out
    }

    /// Runs a vtysh command on the transit and parses its JSON.
    pub fn vtysh_json(&self, command: &str) -> Option<serde_json::Value> {
        serde_json::from_str(&self.vtysh(command).ok()?).ok()
    }

    /// Runs a vtysh command on the transit and returns its text.
    pub fn vtysh(&self, command: &str) -> Result<String> {
        let dir = self.ns_dir(ns::TRANSIT);
        exec::run(
            "vtysh",
            &["--vty_socket", &dir.to_string_lossy(), "-c", command],
        )
    }

    /// Runs a birdc command on a BIRD router.
    pub fn birdc(&self, ns: &str, command: &[&str]) -> Result<String> {
        let sock = self.bird_socket(ns).to_string_lossy().into_owned();
        let mut args = vec!["-s", sock.as_str()];
        args.extend_from_slice(command);
        exec::run("birdc", &args)
    }

    /// The transit's routes (Loc-RIB) to the origin's prefixes of both families.
    pub fn transit_routes(&self) -> Vec<TransitRoute> {
        let mut out = Vec::new();
        for family in Family::BOTH {
            let command = format!("show bgp {} unicast json", family.keyword());
            let Some(table) = self.vtysh_json(&command) else {
                continue;
            };
            for prefix in self.topo.origin_prefixes_of(family) {
                let key = prefix.to_string();
                for p in table["routes"][&key].as_array().into_iter().flatten() {
                    let path = p["path"]
                        .as_str()
                        .unwrap_or("")
                        .split_whitespace()
                        .filter_map(|a| a.parse().ok())
                        .collect();
                    out.push(TransitRoute {
                        prefix: key.clone(),
                        path,
                        best: p["bestpath"].as_bool().unwrap_or(false),
                    });
                }
            }
        }
        out
    }

    /// The prefixes the transit has received from a neighbor before its import
    /// policy (its Adj-RIB-In, kept by `soft-reconfiguration inbound`), of the
    /// neighbor's family.
    pub fn transit_received(&self, neighbor: IpAddr) -> Vec<String> {
        let family = Family::of(neighbor).keyword();
        let command =
            format!("show bgp {family} unicast neighbors {neighbor} received-routes json");
        self.vtysh_json(&command)
            .and_then(|table| {
                table["receivedRoutes"]
                    .as_object()
                    .map(|routes| routes.keys().cloned().collect())
            })
            .unwrap_or_default()
    }

    /// Which of `addrs` (of either family) answer ICMP from a namespace (one
    /// fping round per family).
    pub fn reachable_from(&self, ns: &str, addrs: &[IpAddr], timeout_ms: u32) -> BTreeSet<IpAddr> {
        let mut up = BTreeSet::new();
        for family in Family::BOTH {
            let targets: Vec<String> = addrs
                .iter()
                .filter(|a| Family::of(**a) == family)
                .map(IpAddr::to_string)
                .collect();
            if targets.is_empty() {
                continue;
            }
            let flag = match family {
                Family::V4 => "-4",
                Family::V6 => "-6",
            };
            let timeout = timeout_ms.to_string();
            let mut args = vec![flag, "-a", "-r", "1", "-t", timeout.as_str()];
            args.extend(targets.iter().map(String::as_str));
            // fping exits non-zero when some target is down; its stdout still
            // lists the live ones.
            let (_, stdout) = exec::output_ns(ns, "fping", &args);
            up.extend(
                stdout
                    .split_whitespace()
                    .filter_map(|a| a.parse::<IpAddr>().ok()),
            );
        }
        up
    }

    /// Every address of the watched network and the control host that a vantage
    /// point should reach: each host and the control host, on both families.
    pub fn probe_targets(&self) -> Vec<(String, IpAddr)> {
        let hosts = self.topo.hosts().map(|(_, h)| h);
        hosts
            .chain(std::iter::once(&self.topo.control))
            .flat_map(|h| h.addrs().map(|a| (h.name.clone(), a)))
            .collect()
    }

    /// What every vantage point reaches: [`Lab::probe_targets`] and the central
    /// over the management network. Vantages whose namespace is missing are left
    /// out.
    pub fn reachability(&self) -> Vec<Reach> {
        let existing: BTreeSet<String> = exec::netns_list().into_iter().collect();
        let central = self.topo.central.addrs().map(|a| (CENTRAL.to_string(), a));
        let targets: Vec<(String, IpAddr)> =
            self.probe_targets().into_iter().chain(central).collect();
        let addrs: Vec<IpAddr> = targets.iter().map(|(_, a)| *a).collect();
        let mut out = Vec::new();
        for vantage in self.topo.vantages().filter(|v| existing.contains(&v.ns)) {
            let up = self.reachable_from(&vantage.ns, &addrs, 500);
            out.extend(targets.iter().map(|(name, addr)| Reach {
                vantage: vantage.name.clone(),
                name: name.clone(),
                addr: *addr,
                up: up.contains(addr),
            }));
        }
        out
    }

    /// The lab's status. Needs root for the daemons' control sockets.
    pub fn status(&self) -> Result<Status> {
        Self::require_root()?;
        let existing: BTreeSet<String> = exec::netns_list().into_iter().collect();
        let (namespaces, missing): (Vec<String>, Vec<String>) = self
            .topo
            .namespaces
            .iter()
            .cloned()
            .partition(|n| existing.contains(n));
        if namespaces.is_empty() {
            return Ok(Status {
                namespaces,
                missing_namespaces: missing,
                processes: vec![],
                sessions: vec![],
                transit_routes: vec![],
                reachable: vec![],
                faults: self.active_faults(),
            });
        }
        let processes = self
            .baseline_processes()
            .into_iter()
            .map(|(ns, name)| ProcessStatus {
                pid: exec::pid_alive(&self.pid_file(&ns, &name)),
                ns,
                name,
            })
            .collect();
        Ok(Status {
            namespaces,
            missing_namespaces: missing,
            processes,
            sessions: self.sessions(),
            transit_routes: self.transit_routes(),
            reachable: self.reachability(),
            faults: self.active_faults(),
        })
    }

    /// What keeps the lab from its baseline; empty when it is there: every
    /// baseline process runs; the transit's best path to each of the origin's
    /// prefixes, of both families, is via the primary with the backup's path
    /// beside it; and every vantage point reaches every host and the control host
    /// over both families, and the central over the management network.
    pub fn baseline_problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        for (ns, name) in self.baseline_processes() {
            if exec::pid_alive(&self.pid_file(&ns, &name)).is_none() {
                problems.push(format!("{name} in {ns} is not running"));
            }
        }
        if !problems.is_empty() {
            return problems;
        }
        let routes = self.transit_routes();
        for prefix in self.topo.origin_prefixes() {
            let key = prefix.to_string();
            let best_primary = routes
                .iter()
                .any(|r| r.prefix == key && r.best && r.path == [PRIMARY_ASN, ORIGIN_ASN]);
            let backup = routes
                .iter()
                .any(|r| r.prefix == key && r.path.first() == Some(&BACKUP_ASN));
            if !best_primary {
                problems.push(format!("transit: no best path to {key} via the primary"));
            }
            if !backup {
                problems.push(format!("transit: no path to {key} via the backup"));
            }
        }
        if !problems.is_empty() {
            return problems;
        }
        for r in self.reachability().into_iter().filter(|r| !r.up) {
            problems.push(format!(
                "{}: {} ({}) does not answer ICMP",
                r.vantage, r.name, r.addr
            ));
        }
        problems
    }

    /// Waits until [`Lab::baseline_problems`] is empty.
    pub fn wait_baseline(&self, limit: Duration) -> Result<()> {
        exec::wait_for(limit, Duration::from_millis(250), || {
            let problems = self.baseline_problems();
            if problems.is_empty() {
                Ok(())
            } else {
                Err(format!("the baseline ({})", problems.join("; ")))
            }
        })
    }
}

/// A BIRD protocol's state in `birdc show protocols`: its info column (the BGP
/// state) when there is one, else its state column.
fn bird_state(text: &str, protocol: &str) -> String {
    text.lines()
        .find(|l| l.split_whitespace().next() == Some(protocol))
        .and_then(|l| {
            let fields: Vec<&str> = l.split_whitespace().collect();
            // name proto table state since info...
            let info = fields.get(5..).map(|f| f.join(" ")).unwrap_or_default();
            fields.get(3).map(|s| {
                if info.is_empty() {
                    (*s).to_string()
                } else {
                    info
                }
            })
        })
        .unwrap_or_else(|| "unknown (BIRD not answering)".into())
}
