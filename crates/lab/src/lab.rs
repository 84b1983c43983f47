//! [`Lab`]: brings the lab up and down, starts and stops its daemons, reports
//! its status and checks that it is at its baseline. Faults live in
//! [`crate::fault`]; the configs it writes come from [`crate::config`].
//!
//! The network itself is made in [`crate::network`], and the status and the
//! baseline check are in [`crate::status`].
//!
//! The state dir (default `/run/blackout-lab`) holds one directory per
//! namespace (configs, pid files, logs, control sockets), `mrt/` (the transit's
//! MRT dumps), `faults.jsonl` (every up, down, fault and heal with a timestamp),
//! `active.json` (the faults now in force) and `helper.py` (the small servers).

use crate::config::{self, DnsMode, WebMode};
use crate::error::{LabError, Result, io};
use crate::exec;
use crate::topology::{Building, Daemon, LabHost, Service, Topology, ns};
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The default state dir.
pub const DEFAULT_STATE_DIR: &str = "/run/blackout-lab";

const HELPER: &str = include_str!("helper.py");
const PYTHON: &str = "/usr/bin/python3";
const FRR_DIR: &str = "/usr/lib/frr";

/// Where progress lines go (stderr by default).
pub type Progress = Box<dyn Fn(&str) + Send + Sync>;

/// The lab, at a state dir.
pub struct Lab {
    pub(crate) topo: Topology,
    pub(crate) state_dir: PathBuf,
    progress: Progress,
}

/// A fault in force, as kept in `active.json`.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq, Eq)]
pub struct ActiveFault {
    /// Its name (`primary-cut`).
    pub fault: String,
    /// Its arguments.
    pub args: Vec<String>,
    /// When it was injected (RFC 3339 UTC).
    pub at: String,
}

/// RFC 3339 UTC now, with milliseconds.
pub fn now_rfc3339() -> String {
    let now = jiff::Timestamp::now();
    format!("{now:.3}")
}

impl Lab {
    /// The standard lab at a state dir, with progress on stderr.
    pub fn new(state_dir: impl Into<PathBuf>) -> Lab {
        Lab {
            topo: Topology::standard(),
            state_dir: state_dir.into(),
            progress: Box::new(|line| eprintln!("lab: {line}")),
        }
    }

    /// Sends progress lines elsewhere.
    pub fn with_progress(mut self, progress: Progress) -> Lab {
        self.progress = progress;
        self
    }

    /// The topology.
    pub fn topology(&self) -> &Topology {
        &self.topo
    }

    /// The state dir.
    pub fn state_dir(&self) -> &Path {
        &self.state_dir
    }

    /// The fault log (JSON Lines).
    pub fn fault_log(&self) -> PathBuf {
        self.state_dir.join("faults.jsonl")
    }

    /// Where the transit writes its MRT dumps.
    pub fn mrt_dir(&self) -> PathBuf {
        self.state_dir.join("mrt")
    }

    pub(crate) fn say(&self, line: &str) {
        (self.progress)(line);
    }

    pub(crate) fn ns_dir(&self, ns: &str) -> PathBuf {
        self.state_dir.join(ns)
    }

    pub(crate) fn pid_file(&self, ns: &str, name: &str) -> PathBuf {
        self.ns_dir(ns).join(format!("{name}.pid"))
    }

    fn active_file(&self) -> PathBuf {
        self.state_dir.join("active.json")
    }

    pub(crate) fn roa_file(&self) -> PathBuf {
        self.ns_dir(ns::TRANSIT).join("roas.json")
    }

    pub(crate) fn helper(&self) -> PathBuf {
        self.state_dir.join("helper.py")
    }

    pub(crate) fn bird_socket(&self, ns: &str) -> PathBuf {
        self.ns_dir(ns).join("bird.ctl")
    }

    pub(crate) fn require_root() -> Result<()> {
        if exec::is_root() {
            Ok(())
        } else {
            Err(LabError::NotRoot)
        }
    }

    /// Appends one line to the fault log.
    pub(crate) fn log_event(
        &self,
        action: &str,
        fault: Option<&str>,
        args: &[String],
    ) -> Result<String> {
        let at = now_rfc3339();
        let mut entry = serde_json::json!({ "at": at, "action": action });
        if let Some(fault) = fault {
            entry["fault"] = fault.into();
            entry["args"] = args.into();
        }
        let path = self.fault_log();
        std::fs::create_dir_all(&self.state_dir).map_err(io("create", &self.state_dir))?;
        let mut line = entry.to_string();
        line.push('\n');
        use std::io::Write as _;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .and_then(|mut f| f.write_all(line.as_bytes()))
            .map_err(io("append to", &path))?;
        Ok(at)
    }

    /// The faults now in force.
    pub fn active_faults(&self) -> Vec<ActiveFault> {
        std::fs::read_to_string(self.active_file())
            .ok()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default()
    }

    pub(crate) fn set_active_faults(&self, faults: &[ActiveFault]) -> Result<()> {
        let path = self.active_file();
        let text = serde_json::to_string_pretty(faults).unwrap_or_else(|_| "[]".into());
        std::fs::write(&path, text).map_err(io("write", &path))
    }

    /// The processes the baseline lab runs: (namespace, name).
    pub fn baseline_processes(&self) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for router in &self.topo.routers {
            match router.daemon {
                Daemon::Bird => out.push((router.ns.clone(), "bird".to_string())),
                Daemon::Frr => {
                    out.push((router.ns.clone(), "rtr".to_string()));
                    out.push((router.ns.clone(), "zebra".to_string()));
                    out.push((router.ns.clone(), "bgpd".to_string()));
                }
            }
        }
        for b in &self.topo.buildings {
            for service in [Service::Dns, Service::Web, Service::Smtp] {
                if b.hosts.iter().any(|h| h.service == service) {
                    let name = match service {
                        Service::Dns => "nsd",
                        Service::Web => "nginx",
                        _ => "smtp",
                    };
                    out.push((b.ns.clone(), name.to_string()));
                }
            }
        }
        out.push((ns::CONTROL.to_string(), "nginx".to_string()));
        out
    }

    // ---- up -------------------------------------------------------------

    /// Brings the lab up and waits until it is at its baseline. Idempotent: a
    /// lab that is up and healthy is left alone; a half-made one is torn down
    /// first. If anything fails half way, everything made so far is removed.
    pub fn up(&self) -> Result<Duration> {
        Self::require_root()?;
        let started = Instant::now();
        crate::packages::ensure(crate::packages::REQUIRED, &|line| self.say(line))?;
        let existing: BTreeSet<String> = exec::netns_list().into_iter().collect();
        let ours: Vec<&String> = self
            .topo
            .namespaces
            .iter()
            .filter(|n| existing.contains(*n))
            .collect();
        if ours.len() == self.topo.namespaces.len() && self.baseline_problems().is_empty() {
            self.say("already up and at its baseline");
            return Ok(started.elapsed());
        }
        if !ours.is_empty() || !self.active_faults().is_empty() {
            self.say("a partial or faulted lab is there: taking it down first");
            self.down()?;
        }
        match self.build() {
            Ok(()) => {
                self.log_event("up", None, &[])?;
                let took = started.elapsed();
                self.say(&format!("up in {:.1} s", took.as_secs_f64()));
                Ok(took)
            }
            Err(error) => {
                self.say(&format!("up failed ({error}); cleaning up"));
                let _ = self.down();
                Err(error)
            }
        }
    }

    fn build(&self) -> Result<()> {
        self.write_files()?;
        self.say("creating namespaces and links");
        self.make_network()?;
        self.say("starting daemons");
        self.start_baseline()?;
        self.say("waiting for BGP to converge and the hosts to answer");
        self.wait_baseline(Duration::from_secs(90))
    }

    fn write(&self, path: &Path, text: &str) -> Result<()> {
        std::fs::write(path, text).map_err(io("write", path))
    }

    fn write_files(&self) -> Result<()> {
        let topo = &self.topo;
        for dir in topo
            .namespaces
            .iter()
            .map(|n| self.ns_dir(n))
            .chain([self.mrt_dir()])
        {
            std::fs::create_dir_all(&dir).map_err(io("create", &dir))?;
        }
        self.write(&self.helper(), HELPER)?;
        if !self.fault_log().exists() {
            self.write(&self.fault_log(), "")?;
        }
        self.set_active_faults(&[])?;
        for router in &topo.routers {
            let dir = self.ns_dir(&router.ns);
            match router.daemon {
                Daemon::Bird => self.write(
                    &dir.join("bird.conf"),
                    &config::bird_conf(topo, router, &dir),
                )?,
                Daemon::Frr => {
                    self.write(&dir.join("zebra.conf"), &config::zebra_conf(router, &dir))?;
                    self.write(
                        &dir.join("bgpd.conf"),
                        &config::bgpd_conf(topo, router, &dir, &self.mrt_dir()),
                    )?;
                }
            }
        }
        self.write_roas(false)?;
        for b in &topo.buildings {
            let dir = self.ns_dir(&b.ns);
            if b.hosts.iter().any(|h| h.service == Service::Dns) {
                self.write(&dir.join("lab.zone"), &config::zone_file(topo))?;
                self.write(&dir.join("broken.zone"), config::broken_zone_file())?;
                std::fs::create_dir_all(dir.join("xfr")).map_err(io("create", dir.join("xfr")))?;
            }
        }
        Ok(())
    }

    pub(crate) fn write_roas(&self, invalid: bool) -> Result<()> {
        // Write and rename, so the RTR cache never reads half a file.
        let path = self.roa_file();
        let tmp = path.with_extension("tmp");
        self.write(&tmp, &config::roas_json(&self.topo, invalid))?;
        std::fs::rename(&tmp, &path).map_err(io("rename", &path))
    }

    fn start_baseline(&self) -> Result<()> {
        self.start_rtr()?;
        for router in &self.topo.routers {
            match router.daemon {
                Daemon::Bird => self.start_bird(&router.ns)?,
                Daemon::Frr => self.start_frr()?,
            }
        }
        for b in &self.topo.buildings {
            self.start_services(b)?;
        }
        self.start_nginx(
            ns::CONTROL,
            std::slice::from_ref(&self.topo.control),
            WebMode::Normal,
        )
    }

    fn start_services(&self, b: &Building) -> Result<()> {
        if b.hosts.iter().any(|h| h.service == Service::Dns) {
            self.start_nsd(b, DnsMode::Normal)?;
        }
        let sites = config::web_sites(b);
        if !sites.is_empty() {
            self.start_nginx(&b.ns, &sites, WebMode::Normal)?;
        }
        if b.hosts.iter().any(|h| h.service == Service::Smtp) {
            self.start_smtp(b, false)?;
        }
        Ok(())
    }

    /// Waits for a pid file naming a live process.
    fn wait_pid(&self, ns: &str, name: &str) -> Result<u32> {
        let path = self.pid_file(ns, name);
        exec::wait_for(Duration::from_secs(10), Duration::from_millis(50), || {
            exec::pid_alive(&path)
                .ok_or_else(|| format!("{name} in {ns} to start (pid file {})", path.display()))
        })
    }

    pub(crate) fn start_bird(&self, ns: &str) -> Result<()> {
        let dir = self.ns_dir(ns);
        let conf = dir.join("bird.conf");
        let sock = self.bird_socket(ns);
        let pid = self.pid_file(ns, "bird");
        let _ = std::fs::remove_file(&pid);
        exec::run_ns(
            ns,
            "bird",
            &[
                "-c",
                &conf.to_string_lossy(),
                "-s",
                &sock.to_string_lossy(),
                "-P",
                &pid.to_string_lossy(),
            ],
        )?;
        self.wait_pid(ns, "bird").map(|_| ())
    }

    fn start_frr(&self) -> Result<()> {
        let n = ns::TRANSIT;
        let dir = self.ns_dir(n);
        let dir_s = dir.to_string_lossy().into_owned();
        let zserv = dir.join("zserv.api").to_string_lossy().into_owned();
        // FRR's daemons insist on their own user (root is not in its vty group):
        // they get the transit's directory and the MRT directory.
        let mrt = self.mrt_dir().to_string_lossy().into_owned();
        exec::run("chown", &["-R", "frr:frr", &dir_s, &mrt])?;
        for (daemon, modules) in [
            ("zebra", &[][..]),
            ("bgpd", &["-M", "bmp", "-M", "rpki"][..]),
        ] {
            let conf = dir
                .join(format!("{daemon}.conf"))
                .to_string_lossy()
                .into_owned();
            let pid = self.pid_file(n, daemon);
            let _ = std::fs::remove_file(&pid);
            let pid_s = pid.to_string_lossy().into_owned();
            let mut args = vec![
                "-d",
                "-f",
                &conf,
                "-i",
                &pid_s,
                "-z",
                &zserv,
                "--vty_socket",
                &dir_s,
                "-u",
                "frr",
                "-g",
                "frr",
                "-A",
                "127.0.0.1",
                "-P",
                "0",
            ];
            args.extend_from_slice(modules);
            exec::run_ns(n, &format!("{FRR_DIR}/{daemon}"), &args)?;
            self.wait_pid(n, daemon)?;
        }
        Ok(())
    }

    fn start_rtr(&self) -> Result<()> {
        let n = ns::TRANSIT;
        let port = self.topo.rtr_port.to_string();
        let roas = self.roa_file().to_string_lossy().into_owned();
        self.start_helper(n, "rtr", &["rtr", "127.0.0.1", &port, &roas])
    }

    /// Starts the helper in one of its modes, with its pid in `<ns>/<name>.pid`.
    pub(crate) fn start_helper(&self, ns: &str, name: &str, args: &[&str]) -> Result<()> {
        let pid = self.pid_file(ns, name);
        let _ = std::fs::remove_file(&pid);
        let helper = self.helper().to_string_lossy().into_owned();
        let pid_s = pid.to_string_lossy().into_owned();
        let mut full = vec![helper.as_str(), "--pidfile", &pid_s];
        full.extend_from_slice(args);
        let log = self.ns_dir(ns).join(format!("{name}.log"));
        exec::spawn_detached_ns(ns, PYTHON, &full, &log)?;
        self.wait_pid(ns, name).map(|_| ())
    }

    /// Starts a TCP capture on the vantage point: it accepts connections on
    /// `addr:port` and writes the bytes of the n-th to `<prefix>.n`, where the
    /// returned `<prefix>` is `<state>/bo-vantage/<name>`. For tests and demos:
    /// a BMP capture on the BMP port, or the transit's BGP OPEN on port 179.
    pub fn start_capture(&self, name: &str, addr: Ipv4Addr, port: u16) -> Result<PathBuf> {
        let n = self.topo.vantage.ns.clone();
        let prefix = self.ns_dir(&n).join(name);
        let prefix_s = prefix.to_string_lossy().into_owned();
        self.start_helper(
            &n,
            name,
            &["sink", &addr.to_string(), &port.to_string(), &prefix_s],
        )?;
        Ok(prefix)
    }

    /// Stops a capture started with [`Lab::start_capture`].
    pub fn stop_capture(&self, name: &str) {
        self.stop(&self.topo.vantage.ns.clone(), name);
    }

    pub(crate) fn start_nsd(&self, b: &Building, mode: DnsMode) -> Result<()> {
        let dir = self.ns_dir(&b.ns);
        let Some(server) = b.hosts.iter().find(|h| h.service == Service::Dns) else {
            return Ok(());
        };
        let conf = dir.join("nsd.conf");
        self.write(&conf, &config::nsd_conf(&self.topo, server, &dir, mode))?;
        self.stop(&b.ns, "nsd");
        exec::run_ns(&b.ns, "nsd", &["-c", &conf.to_string_lossy()])?;
        self.wait_pid(&b.ns, "nsd").map(|_| ())
    }

    pub(crate) fn start_nginx(&self, ns: &str, sites: &[LabHost], mode: WebMode) -> Result<()> {
        let dir = self.ns_dir(ns);
        let conf = dir.join("nginx.conf");
        self.write(&conf, &config::nginx_conf(sites, &dir, mode))?;
        let conf_s = conf.to_string_lossy().into_owned();
        let err = dir.join("nginx-error.log").to_string_lossy().into_owned();
        if exec::pid_alive(&self.pid_file(ns, "nginx")).is_some() {
            exec::run_ns(ns, "nginx", &["-c", &conf_s, "-e", &err, "-s", "reload"])?;
            return Ok(());
        }
        exec::run_ns(ns, "nginx", &["-c", &conf_s, "-e", &err])?;
        self.wait_pid(ns, "nginx").map(|_| ())
    }

    pub(crate) fn start_smtp(&self, b: &Building, four_xx: bool) -> Result<()> {
        let Some(mail) = b.hosts.iter().find(|h| h.service == Service::Smtp) else {
            return Ok(());
        };
        self.stop(&b.ns, "smtp");
        let mode = if four_xx { "smtp-4xx" } else { "smtp" };
        let [addr, addr6] = mail.addrs().map(|a| a.to_string());
        self.start_helper(&b.ns, "smtp", &[mode, "25", &mail.name, &addr, &addr6])
    }

    /// Stops one of the lab's processes by its pid file.
    pub(crate) fn stop(&self, ns: &str, name: &str) {
        let path = self.pid_file(ns, name);
        if let Some(pid) = exec::pid_alive(&path) {
            exec::stop_pid(pid, Duration::from_secs(3));
        }
        let _ = std::fs::remove_file(&path);
    }

    // ---- down -----------------------------------------------------------

    /// Takes the lab down: ends every process in its namespaces, deletes the
    /// namespaces (and with them every link), and clears the pid files and
    /// the faults in force. Logs and MRT dumps stay in the state dir.
    pub fn down(&self) -> Result<()> {
        Self::require_root()?;
        let existing: BTreeSet<String> = exec::netns_list().into_iter().collect();
        let mut pids = Vec::new();
        for n in self
            .topo
            .namespaces
            .iter()
            .filter(|n| existing.contains(*n))
        {
            pids.extend(exec::netns_pids(n));
        }
        for pid in &pids {
            exec::signal(*pid, "TERM");
        }
        let until = Instant::now() + Duration::from_secs(3);
        while pids.iter().any(|p| exec::alive(*p)) && Instant::now() < until {
            std::thread::sleep(Duration::from_millis(50));
        }
        for pid in pids.iter().filter(|p| exec::alive(**p)) {
            exec::signal(*pid, "KILL");
        }
        for n in self
            .topo
            .namespaces
            .iter()
            .filter(|n| existing.contains(*n))
        {
            exec::run("ip", &["netns", "del", n])?;
        }
        for n in &self.topo.namespaces {
            let dir = self.ns_dir(n);
            if let Ok(entries) = std::fs::read_dir(&dir) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
                    if name.ends_with(".pid")
                        || name.ends_with(".ctl")
                        || name.ends_with(".vty")
                        || name.ends_with(".api")
                    {
                        let _ = std::fs::remove_file(&path);
                    }
                }
            }
        }
        if self.state_dir.exists() {
            let had_faults = !self.active_faults().is_empty();
            self.set_active_faults(&[])?;
            if !existing.is_empty() || had_faults {
                self.log_event("down", None, &[])?;
            }
        }
        let left = self.leftovers();
        if left.is_empty() {
            self.say("down");
            Ok(())
        } else {
            Err(LabError::Command {
                command: "lab down".into(),
                status: "incomplete".into(),
                stderr: format!("still there: {}", left.join(", ")),
            })
        }
    }

    /// What of the lab still exists: namespaces and live processes from its pid
    /// files. Empty after a clean `down`.
    pub fn leftovers(&self) -> Vec<String> {
        let existing: BTreeSet<String> = exec::netns_list().into_iter().collect();
        let mut left: Vec<String> = self
            .topo
            .namespaces
            .iter()
            .filter(|n| existing.contains(*n))
            .map(|n| format!("namespace {n}"))
            .collect();
        for n in &self.topo.namespaces {
            if let Ok(entries) = std::fs::read_dir(self.ns_dir(n)) {
                for entry in entries.flatten() {
                    let path = entry.path();
                    if path.extension().is_some_and(|e| e == "pid")
                        && let Some(pid) = exec::pid_alive(&path)
                    {
                        left.push(format!("process {pid} ({})", path.display()));
                    }
                }
            }
        }
        left
    }

    /// Makes sure every baseline process runs, restarting those that do not.
    pub(crate) fn restart_missing(&self) -> Result<()> {
        for (ns, name) in self.baseline_processes() {
            if exec::pid_alive(&self.pid_file(&ns, &name)).is_some() {
                continue;
            }
            self.say(&format!("restarting {name} in {ns}"));
            match name.as_str() {
                "bird" => self.start_bird(&ns)?,
                "rtr" => self.start_rtr()?,
                "zebra" | "bgpd" => {
                    self.stop(&ns, "bgpd");
                    self.stop(&ns, "zebra");
                    self.start_frr()?;
                }
                "nsd" | "nginx" | "smtp" => {
                    if ns == ns::CONTROL {
                        let control = std::slice::from_ref(&self.topo.control);
                        self.start_nginx(&ns, control, WebMode::Normal)?;
                    } else if let Some(b) = self.topo.buildings.iter().find(|b| b.ns == ns) {
                        match name.as_str() {
                            "nsd" => self.start_nsd(b, DnsMode::Normal)?,
                            "nginx" => {
                                self.start_nginx(&ns, &config::web_sites(b), WebMode::Normal)?
                            }
                            _ => self.start_smtp(b, false)?,
                        }
                    }
                }
                _ => {}
            }
        }
        Ok(())
    }
}
