//! The lab end to end, as root: bring it up; check from the vantage point that
//! every service answers and that the feeds (the transit's table, a BMP capture,
//! the MRT dumps, the transit's BGP OPEN toward the vantage) carry the four
//! prefixes; inject each fault, wait for its effect, heal and wait for the
//! baseline; stack three faults and heal them at once; take the lab down and
//! check that nothing is left. It prints `up`'s time and each fault's
//! convergence and heal times.
//!
//! Needs root and the Debian packages the lab installs on first use, plus
//! bind9-dnsutils (dig) and curl, which it installs itself when missing.
//! Without root it says so on stderr (past the test harness's capture) and does
//! not run; with `BLACKOUT_LAB_REQUIRED=1` it fails instead.

use blackout_lab::topology::{BACKUP_ASN, ORIGIN_ASN, PRIMARY_ASN, Service};
use blackout_lab::{Fault, Lab, packages};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STATE_DIR: &str = "/run/blackout-lab-test";
const VANTAGE: &str = "bo-vantage";

fn say(line: &str) {
    // Straight to the process's stderr: the harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs a command inside the vantage namespace: (exit code, stdout).
fn vantage(program: &str, args: &[&str]) -> (i32, String) {
    let mut full = vec!["netns", "exec", VANTAGE, program];
    full.extend_from_slice(args);
    match Command::new("ip")
        .args(&full)
        .stdin(Stdio::null())
        .stderr(Stdio::piped())
        .output()
    {
        Ok(out) => {
            let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
            text.push_str(&String::from_utf8_lossy(&out.stderr));
            (out.status.code().unwrap_or(-1), text)
        }
        Err(_) => (-1, String::new()),
    }
}

/// A DNS query's outcome from the vantage point.
fn dns(server: Ipv4Addr) -> String {
    let at = format!("@{server}");
    let (_, out) = vantage(
        "dig",
        &[
            "+time=1",
            "+tries=1",
            "+norecurse",
            &at,
            "www.lab.example",
            "A",
        ],
    );
    if let Some(status) = out.split("status: ").nth(1) {
        let status = status.split(',').next().unwrap_or("").trim().to_string();
        if status == "NOERROR" && !out.contains("203.0.113.11") {
            return "NOERROR-without-answer".into();
        }
        return status;
    }
    if out.contains("timed out") {
        "timeout".into()
    } else if out.contains("connection refused") {
        "port-unreachable".into()
    } else {
        format!("other: {}", out.trim())
    }
}

/// An HTTP GET's outcome from the vantage point: the status, or why there is none.
fn http(addr: Ipv4Addr) -> String {
    let url = format!("http://{addr}/");
    let (code, out) = vantage(
        "curl",
        &[
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            "-m",
            "2",
            &url,
        ],
    );
    match code {
        0 => out.trim().to_string(),
        7 => "refused".into(),
        28 => "timeout".into(),
        other => format!("curl-exit-{other}"),
    }
}

/// The first line an SMTP server sends.
fn smtp_banner(addr: Ipv4Addr) -> String {
    let script = format!(
        "import socket\ntry:\n s=socket.create_connection(('{addr}',25),2); s.settimeout(2); print(s.recv(512).decode(errors='replace').splitlines()[0])\nexcept Exception as e:\n print('error', type(e).__name__)"
    );
    vantage("/usr/bin/python3", &["-c", &script])
        .1
        .trim()
        .to_string()
}

/// Which addresses answer one round of ICMP.
fn icmp(lab: &Lab, addrs: &[Ipv4Addr]) -> BTreeSet<Ipv4Addr> {
    lab.reachable_from_vantage(addrs, 400)
}

/// Loss (0-1) and average RTT (ms) of `count` pings.
fn ping_stats(addr: Ipv4Addr, count: u32) -> (f64, f64) {
    let count_s = count.to_string();
    let target = addr.to_string();
    let (_, out) = vantage(
        "ping",
        &["-q", "-n", "-c", &count_s, "-i", "0.05", "-W", "1", &target],
    );
    let loss = out
        .split_whitespace()
        .find(|w| w.ends_with('%'))
        .and_then(|w| w.trim_end_matches('%').parse::<f64>().ok())
        .map_or(1.0, |p| p / 100.0);
    let avg = out
        .split("= ")
        .nth(1)
        .and_then(|s| s.split('/').nth(1))
        .and_then(|s| s.parse::<f64>().ok())
        .unwrap_or(f64::INFINITY);
    (loss, avg)
}

/// Polls `check` every 100 ms until it returns `Ok`, for at most `limit`; the
/// time it took, or the last reason it gave.
fn wait_for(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Result<(), String>,
) -> Duration {
    let start = Instant::now();
    let mut last;
    loop {
        match check() {
            Ok(()) => return start.elapsed(),
            Err(reason) => last = reason,
        }
        if start.elapsed() > limit {
            panic!("{what}: not seen within {} s: {last}", limit.as_secs());
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

// ---- BMP, decoded minimally -------------------------------------------------

/// The routes BMP Route Monitoring carries, per (peer AS, post-policy).
#[derive(Default, Debug)]
struct BmpView {
    routes: BTreeMap<(u32, bool), BTreeSet<String>>,
    messages: usize,
}

fn be16(b: &[u8], at: usize) -> Option<usize> {
    Some(u16::from_be_bytes(b.get(at..at + 2)?.try_into().ok()?) as usize)
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn prefixes(mut b: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    while let Some(&len) = b.first() {
        let bytes = (len as usize).div_ceil(8);
        let Some(raw) = b.get(1..1 + bytes) else {
            break;
        };
        let mut octets = [0u8; 4];
        for (slot, byte) in octets.iter_mut().zip(raw) {
            *slot = *byte;
        }
        out.push(format!("{}/{len}", Ipv4Addr::from(octets)));
        b = &b[1 + bytes..];
    }
    out
}

impl BmpView {
    fn apply_stream(&mut self, mut b: &[u8]) {
        // Common header: version 3, length, type; then for Route Monitoring (0)
        // and Peer Down (2) the 42-byte per-peer header.
        while b.len() >= 6 && b[0] == 3 {
            let Some(len) = be32(b, 1).map(|l| l as usize) else {
                break;
            };
            let Some(msg) = b.get(..len) else { break };
            let kind = msg[5];
            self.messages += 1;
            if (kind == 0 || kind == 2) && msg.len() >= 48 {
                let flags = msg[7];
                let peer_as = be32(msg, 32).unwrap_or(0);
                let post = flags & 0x40 != 0;
                let table = self.routes.entry((peer_as, post)).or_default();
                if kind == 2 {
                    table.clear();
                } else if let Some(update) = msg.get(48..) {
                    // BGP header (16 marker, length, type 2) then the UPDATE body.
                    if update.get(18) == Some(&2) {
                        let body = &update[19..];
                        let wlen = be16(body, 0).unwrap_or(0);
                        let withdrawn = body.get(2..2 + wlen).unwrap_or(&[]);
                        let alen = be16(body, 2 + wlen).unwrap_or(0);
                        let nlri = body.get(4 + wlen + alen..).unwrap_or(&[]);
                        for p in prefixes(withdrawn) {
                            table.remove(&p);
                        }
                        for p in prefixes(nlri) {
                            table.insert(p);
                        }
                    }
                }
            }
            b = &b[len..];
        }
    }

    /// Reads every capture file `<prefix>.n`, in connection order.
    fn read(prefix: &Path) -> BmpView {
        let mut view = BmpView::default();
        for n in 1.. {
            let path = PathBuf::from(format!("{}.{n}", prefix.display()));
            let Ok(bytes) = std::fs::read(&path) else {
                break;
            };
            // A new session starts from nothing.
            view.routes.clear();
            view.apply_stream(&bytes);
        }
        view
    }

    fn has(&self, peer_as: u32, post: bool, prefix: &str) -> bool {
        self.routes
            .get(&(peer_as, post))
            .is_some_and(|t| t.contains(prefix))
    }
}

// ---- the lab's expected states ----------------------------------------------

struct Expect<'a> {
    lab: &'a Lab,
    prefixes: Vec<String>,
}

impl Expect<'_> {
    /// Transit best paths: prefix -> path.
    fn best(&self) -> BTreeMap<String, Vec<u32>> {
        self.lab
            .transit_routes()
            .into_iter()
            .filter(|r| r.best)
            .map(|r| (r.prefix, r.path))
            .collect()
    }

    fn all_via(&self, first: u32, path: &[u32]) -> Result<(), String> {
        let best = self.best();
        for p in &self.prefixes {
            match best.get(p) {
                Some(got) if got.first() == Some(&first) && got == path => {}
                other => return Err(format!("{p}: best path {other:?}")),
            }
        }
        Ok(())
    }

    fn none_of(&self, gone: &[&str]) -> Result<(), String> {
        let routes = self.lab.transit_routes();
        match routes.iter().find(|r| gone.contains(&r.prefix.as_str())) {
            Some(r) => Err(format!("transit still has {} via {:?}", r.prefix, r.path)),
            None => Ok(()),
        }
    }

    fn only_missing(&self, gone: &str) -> Result<(), String> {
        let best = self.best();
        for p in &self.prefixes {
            if (p == gone) == best.contains_key(p) {
                return Err(format!("{p}: present = {}", best.contains_key(p)));
            }
        }
        Ok(())
    }

    fn no_path_from(&self, asn: u32) -> Result<(), String> {
        match self
            .lab
            .transit_routes()
            .iter()
            .find(|r| r.path.first() == Some(&asn))
        {
            Some(r) => Err(format!("{} still via AS{asn}", r.prefix)),
            None => Ok(()),
        }
    }
}

fn services_at_baseline(lab: &Lab) -> Result<(), String> {
    let topo = lab.topology();
    for (_, h) in topo.hosts_with(Service::Dns) {
        let got = dns(h.addr);
        if got != "NOERROR" {
            return Err(format!("dns {}: {got}", h.addr));
        }
    }
    for (_, h) in topo.hosts_with(Service::Web) {
        let got = http(h.addr);
        if got != "200" {
            return Err(format!("http {}: {got}", h.addr));
        }
    }
    let got = http(topo.control.addr);
    if got != "200" {
        return Err(format!("http control: {got}"));
    }
    for (_, h) in topo.hosts_with(Service::Smtp) {
        let got = smtp_banner(h.addr);
        if !got.starts_with("220 ") {
            return Err(format!("smtp {}: {got}", h.addr));
        }
    }
    Ok(())
}

fn all_dns(lab: &Lab, want: &str) -> Result<(), String> {
    for (_, h) in lab.topology().hosts_with(Service::Dns) {
        let got = dns(h.addr);
        if got != want {
            return Err(format!("{}: {got}", h.addr));
        }
    }
    Ok(())
}

fn all_http(lab: &Lab, want: &str) -> Result<(), String> {
    for (_, h) in lab.topology().hosts_with(Service::Web) {
        let got = http(h.addr);
        if got != want {
            return Err(format!("{}: {got}", h.addr));
        }
    }
    Ok(())
}

fn reach(lab: &Lab, up: &[Ipv4Addr], down: &[Ipv4Addr]) -> Result<(), String> {
    let all: Vec<Ipv4Addr> = up.iter().chain(down).copied().collect();
    let alive = icmp(lab, &all);
    for a in up {
        if !alive.contains(a) {
            return Err(format!("{a} does not answer"));
        }
    }
    for a in down {
        if alive.contains(a) {
            return Err(format!("{a} still answers"));
        }
    }
    Ok(())
}

fn ip(s: &str) -> Ipv4Addr {
    s.parse().unwrap()
}

/// Takes the lab down if the test fails half way.
struct DownOnDrop<'a>(&'a Lab);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.down();
    }
}

#[test]
fn lab_end_to_end() {
    if !blackout_lab::is_root() {
        let message = "lab_end_to_end: NOT RUN: the lab test needs root (network namespaces, \
                       routing daemons); run `cargo test -p blackout-lab --test lab` as root";
        say(message);
        assert!(
            std::env::var("BLACKOUT_LAB_REQUIRED").as_deref() != Ok("1"),
            "{message}"
        );
        return;
    }
    let lab = Lab::new(STATE_DIR).with_progress(Box::new(|line| say(&format!("lab: {line}"))));
    // dig and curl, installed like the lab's own packages when missing.
    packages::ensure(packages::TEST_TOOLS, &|line| {
        say(&format!("lab test: {line}"))
    })
    .expect("the lab test's tools");
    lab.down().expect("clean slate");
    let guard = DownOnDrop(&lab);

    // ---- up ----
    let up_started = Instant::now();
    lab.up().expect("lab up");
    let up_time = up_started.elapsed();
    say(&format!("lab up in {:.1} s", up_time.as_secs_f64()));
    // A second `up` finds it up and leaves it alone.
    let again = lab.up().expect("second up");
    assert!(again < Duration::from_secs(10), "second up took {again:?}");

    let topo = lab.topology().clone();
    let prefixes: Vec<String> = topo
        .origin_prefixes()
        .iter()
        .map(|p| p.to_string())
        .collect();
    let expect = Expect {
        lab: &lab,
        prefixes: prefixes.clone(),
    };
    let vantage_addr = topo.vantage.addr;

    // ---- feeds ----
    let bmp = lab
        .start_capture("bmp", vantage_addr, topo.bmp_port)
        .expect("BMP capture");
    let bgp = lab
        .start_capture("bgp", vantage_addr, 179)
        .expect("BGP capture");
    let bmp_has_all = |peer_as: u32, post: bool| {
        let view = BmpView::read(&bmp);
        match prefixes.iter().find(|p| !view.has(peer_as, post, p)) {
            Some(p) => Err(format!(
                "BMP ({} messages): AS{peer_as} post={post} lacks {p}",
                view.messages
            )),
            None => Ok(()),
        }
    };
    let bmp_has_none = |peer_as: u32, post: bool| {
        let view = BmpView::read(&bmp);
        match prefixes.iter().find(|p| view.has(peer_as, post, p)) {
            Some(p) => Err(format!("BMP: AS{peer_as} post={post} still has {p}")),
            None => Ok(()),
        }
    };
    wait_for(
        "BMP pre-policy routes from both upstreams",
        Duration::from_secs(30),
        || {
            bmp_has_all(PRIMARY_ASN, false)?;
            bmp_has_all(BACKUP_ASN, false)?;
            bmp_has_all(PRIMARY_ASN, true)
        },
    );
    wait_for(
        "the transit's BGP OPEN toward the vantage",
        Duration::from_secs(30),
        || {
            let bytes = std::fs::read(format!("{}.1", bgp.display())).map_err(|e| e.to_string())?;
            // Marker, length, type 1 (OPEN), version 4, then the sender's 2-byte AS.
            if bytes.len() >= 29 && bytes[..16].iter().all(|b| *b == 0xff) && bytes[18] == 1 {
                let asn = u16::from_be_bytes([bytes[20], bytes[21]]) as u32;
                if asn == 64503 {
                    return Ok(());
                }
                return Err(format!("OPEN from AS{asn}"));
            }
            Err(format!("{} bytes, no OPEN yet", bytes.len()))
        },
    );
    lab.stop_capture("bgp");
    expect
        .all_via(PRIMARY_ASN, &[PRIMARY_ASN, ORIGIN_ASN])
        .expect("transit view");
    wait_for("MRT dumps", Duration::from_secs(10), || {
        let files: Vec<_> = std::fs::read_dir(lab.mrt_dir())
            .map_err(|e| e.to_string())?
            .flatten()
            .filter(|e| e.metadata().is_ok_and(|m| m.len() > 0))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        if files.iter().any(|f| f.starts_with("updates"))
            && files.iter().any(|f| f.starts_with("rib"))
        {
            Ok(())
        } else {
            Err(format!("{files:?}"))
        }
    });

    // ---- services ----
    wait_for(
        "every service at the baseline",
        Duration::from_secs(20),
        || services_at_baseline(&lab),
    );
    let every: Vec<Ipv4Addr> = lab.probe_targets().iter().map(|(_, a)| *a).collect();
    reach(&lab, &every, &[]).expect("every host answers ICMP");

    // ---- faults ----
    let control = topo.control.addr;
    let www = ip("203.0.113.11");
    let www2 = ip("203.0.113.75");
    let ping3 = ip("203.0.113.130");
    let ping4 = ip("203.0.113.194");
    let mail = ip("203.0.113.76");
    let all_prefixes: Vec<&str> = prefixes.iter().map(String::as_str).collect();
    let mut figures: Vec<(String, Duration, Duration)> = Vec::new();
    let limit = Duration::from_secs(45);

    let mut run = |spec: &str, check: &mut dyn FnMut() -> Result<(), String>| {
        let mut words = spec.split_whitespace();
        let name = words.next().unwrap_or_default();
        let args: Vec<String> = words.map(str::to_string).collect();
        let fault = Fault::parse(name, &args).expect("fault parses");
        let started = Instant::now();
        lab.inject(&fault).unwrap_or_else(|e| panic!("{spec}: {e}"));
        wait_for(spec, limit, &mut *check);
        let converged = started.elapsed();
        let heal_started = Instant::now();
        lab.heal(limit)
            .unwrap_or_else(|e| panic!("heal after {spec}: {e}"));
        wait_for(&format!("services after {spec}"), limit, || {
            services_at_baseline(&lab)
        });
        wait_for(&format!("BMP after {spec}"), limit, || {
            bmp_has_all(PRIMARY_ASN, false)?;
            bmp_has_all(BACKUP_ASN, false)
        });
        let healed = heal_started.elapsed();
        say(&format!(
            "fault {spec:<18} effect after {:>5.2} s, baseline back after {:>5.2} s",
            converged.as_secs_f64(),
            healed.as_secs_f64()
        ));
        figures.push((spec.to_string(), converged, healed));
    };

    run("origin-withdraw", &mut || {
        expect.none_of(&all_prefixes)?;
        bmp_has_none(PRIMARY_ASN, false)?;
        bmp_has_none(BACKUP_ASN, false)?;
        reach(&lab, &[control], &[www, ping3])
    });
    run("origin-crash", &mut || {
        expect.none_of(&all_prefixes)?;
        bmp_has_none(PRIMARY_ASN, false)?;
        reach(&lab, &[control], &[www])
    });
    run("primary-cut", &mut || {
        expect.all_via(
            BACKUP_ASN,
            &[BACKUP_ASN, ORIGIN_ASN, ORIGIN_ASN, ORIGIN_ASN],
        )?;
        expect.no_path_from(PRIMARY_ASN)?;
        bmp_has_none(PRIMARY_ASN, false)?;
        reach(&lab, &[www, ping3, ping4, control], &[])
    });
    run("backup-cut", &mut || {
        expect.all_via(PRIMARY_ASN, &[PRIMARY_ASN, ORIGIN_ASN])?;
        expect.no_path_from(BACKUP_ASN)?;
        bmp_has_none(BACKUP_ASN, false)?;
        reach(&lab, &[www, ping3, control], &[])
    });
    run("ddos 20", &mut || {
        // Routes and sessions stay while loss or latency rise.
        expect.all_via(PRIMARY_ASN, &[PRIMARY_ASN, ORIGIN_ASN])?;
        let (loss, rtt) = ping_stats(ping3, 40);
        let (control_loss, _) = ping_stats(control, 10);
        if control_loss > 0.0 {
            return Err(format!("control host lost {control_loss}"));
        }
        if loss >= 0.1 || rtt >= 20.0 {
            say(&format!(
                "  ddos: loss {:.0} %, average rtt {rtt:.1} ms",
                loss * 100.0
            ));
            Ok(())
        } else {
            Err(format!("loss {loss}, rtt {rtt} ms"))
        }
    });
    run("dns-timeout", &mut || all_dns(&lab, "timeout"));
    run("dns-servfail", &mut || all_dns(&lab, "SERVFAIL"));
    run("dns-refused", &mut || all_dns(&lab, "REFUSED"));
    run("dns-down", &mut || all_dns(&lab, "port-unreachable"));
    run("web-5xx", &mut || all_http(&lab, "503"));
    run("web-hang", &mut || all_http(&lab, "timeout"));
    run("web-down", &mut || all_http(&lab, "refused"));
    run("smtp-4xx", &mut || {
        let banner = smtp_banner(mail);
        if banner.starts_with("421 ") {
            Ok(())
        } else {
            Err(banner)
        }
    });
    run("power-cut 2", &mut || {
        expect.only_missing("203.0.113.64/26")?;
        reach(&lab, &[www, ping3, ping4], &[www2, mail])?;
        match dns(ip("203.0.113.74")).as_str() {
            "timeout" | "port-unreachable" => Ok(()),
            other => Err(format!("ns2 still answers: {other}")),
        }
    });
    run("hosts-dark 3", &mut || {
        expect.all_via(PRIMARY_ASN, &[PRIMARY_ASN, ORIGIN_ASN])?;
        reach(&lab, &[www, ping4], &[ping3])
    });
    {
        // Flapping: count the withdrawals the transit shows while it runs.
        let mut seen_gone = 0;
        let mut was_gone = false;
        let mut seen_back_after_gone = 0;
        run("flap 3 1", &mut || {
            let gone = expect.none_of(&all_prefixes).is_ok();
            if gone && !was_gone {
                seen_gone += 1;
            }
            if !gone && was_gone {
                seen_back_after_gone += 1;
            }
            was_gone = gone;
            if seen_gone >= 3 && seen_back_after_gone >= 3 {
                Ok(())
            } else {
                Err(format!(
                    "withdrawn {seen_gone} times, back {seen_back_after_gone} times"
                ))
            }
        });
        let log = std::fs::read_to_string(lab.fault_log()).unwrap_or_default();
        assert!(
            log.matches("\"flap-withdraw\"").count() >= 3,
            "flap steps in the fault log"
        );
    }
    run("rpki-invalid", &mut || {
        // The transit drops the routes (Loc-RIB, post-policy BMP) though it
        // still receives them (Adj-RIB-In). FRR 8.4 withdraws them from the
        // pre-policy BMP view too.
        expect.none_of(&all_prefixes)?;
        bmp_has_none(PRIMARY_ASN, true)?;
        let received = lab.transit_received(ip("198.51.100.13"));
        if let Some(p) = prefixes.iter().find(|p| !received.contains(p)) {
            return Err(format!("the transit no longer receives {p}"));
        }
        reach(&lab, &[control], &[www])
    });
    run("vantage-cut", &mut || {
        reach(&lab, &[], &[control, www, ping4])
    });

    // ---- stacked faults, one heal ----
    let stack_started = Instant::now();
    for (name, args) in [
        ("primary-cut", vec![]),
        ("hosts-dark", vec!["4".to_string()]),
        ("dns-refused", vec![]),
    ] {
        lab.inject(&Fault::parse(name, &args).unwrap())
            .expect("stacked fault");
    }
    assert_eq!(lab.active_faults().len(), 3);
    wait_for("three stacked faults", limit, || {
        expect.all_via(
            BACKUP_ASN,
            &[BACKUP_ASN, ORIGIN_ASN, ORIGIN_ASN, ORIGIN_ASN],
        )?;
        reach(&lab, &[www, ping3], &[ping4])?;
        all_dns(&lab, "REFUSED")
    });
    let stacked = stack_started.elapsed();
    lab.heal(limit).expect("heal the stack");
    assert!(lab.active_faults().is_empty());
    wait_for("services after the stack", limit, || {
        services_at_baseline(&lab)
    });
    expect
        .all_via(PRIMARY_ASN, &[PRIMARY_ASN, ORIGIN_ASN])
        .expect("primary back");
    say(&format!(
        "stacked faults: effect after {:.2} s",
        stacked.as_secs_f64()
    ));

    // Every fault and heal is in the fault log, with a timestamp.
    let log = std::fs::read_to_string(lab.fault_log()).expect("fault log");
    let mut logged = BTreeSet::new();
    for line in log.lines() {
        let entry: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        let at = entry["at"].as_str().expect("timestamp");
        assert!(at.ends_with('Z') && at.contains('T'), "{at}");
        if entry["action"] == "fault" {
            logged.insert(entry["fault"].as_str().unwrap_or("").to_string());
        }
    }
    for name in Fault::NAMES {
        assert!(logged.contains(*name), "{name} is not in the fault log");
    }
    assert!(log.matches("\"action\":\"heal\"").count() >= Fault::NAMES.len());

    // ---- down ----
    std::mem::forget(guard);
    lab.down().expect("lab down");
    let left = lab.leftovers();
    assert!(left.is_empty(), "left behind: {left:?}");
    let listed = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("ip netns list");
    let namespaces = String::from_utf8_lossy(&listed.stdout);
    assert!(!namespaces.contains("bo-"), "namespaces left: {namespaces}");
    // Down twice is fine.
    lab.down().expect("second down");

    say("");
    say("lab figures (convergence = inject until the effect is seen from the vantage point)");
    say(&format!("  up: {:.1} s", up_time.as_secs_f64()));
    for (spec, converged, healed) in &figures {
        say(&format!(
            "  {spec:<18} effect {:>5.2} s   heal {:>5.2} s",
            converged.as_secs_f64(),
            healed.as_secs_f64()
        ));
    }
}
