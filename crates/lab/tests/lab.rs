//! The lab end to end, as root: bring it up; check from the vantage point behind
//! the transit, with the project's own probes (`blackout probe`, run in its
//! namespace) that every service answers on both families, that the zone has an
//! A and an AAAA record for every host, and with its own BGP reading (a BMP
//! capture decoded by blackout-feeds' BMP parts into blackout-bgp's state) that
//! the feeds carry the eight prefixes (four /26s, four /48s) via both upstreams;
//! check the transit's table, the MRT dumps (read by blackout-archive: both
//! families), the transit's BGP OPEN toward the vantage (both families), the
//! three vantage points, and the central, which reaches every vantage and nothing
//! of the watched network. Then inject each fault, wait until every vantage point
//! sees what it must over each family (probed from the three at once), heal and
//! wait for the baseline; stack four faults and heal them at once; take the lab
//! down and check that nothing is left. It prints `up`'s time and each fault's
//! convergence and heal times.
//!
//! Needs root and the Debian packages the lab installs on first use (ping for the
//! loss and latency of `ddos`, dig for the AAAA records). The `blackout` binary is
//! taken from beside the test (target/<profile>/blackout) and built when missing.
//! Without root it says so on stderr (past the test harness's capture) and does
//! not run; with `BLACKOUT_LAB_REQUIRED=1` it fails instead.

use blackout_archive::{ArchiveInput, Location, ReaderOptions};
use blackout_bgp::{BgpState, Vrps, WatchSet};
use blackout_feeds::bmp::{BmpFramer, BmpOptions, BmpRouter, BmpViews};
use blackout_lab::topology::{
    BACKUP_ASN, Family, LabHost, ORIGIN_ASN, PRIMARY_ASN, Service, Topology, Vantage,
};
use blackout_lab::{Fault, Lab, netns_command};
use blackout_model::PrefixFilter;
use blackout_model::{Asn, BgpInput, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const STATE_DIR: &str = "/run/blackout-lab-test";

fn say(line: &str) {
    // Straight to the process's stderr: the harness captures eprintln! of passing tests.
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// Runs a command inside a namespace: (exit code, stdout and stderr).
fn in_ns(ns: &str, program: &str, args: &[&str]) -> (i32, String) {
    match netns_command(ns, program)
        .args(args)
        .stdin(Stdio::null())
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

/// The `blackout` binary, built next to this test (target/<profile>/blackout).
/// When it is missing it is built with cargo, in a target directory of its own so
/// as not to wait on the lock this test's own build may hold.
fn blackout_bin() -> PathBuf {
    let exe = std::env::current_exe().expect("the test's own path");
    let beside = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join("blackout"));
    if let Some(bin) = beside.filter(|b| b.is_file()) {
        return bin;
    }
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../Cargo.toml");
    let target = std::env::temp_dir().join("blackout-lab-test-build");
    say("lab test: building the blackout binary (cargo build -p blackout)");
    let status = Command::new(env!("CARGO"))
        .arg("build")
        .arg("-p")
        .arg("blackout")
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--target-dir")
        .arg(&target)
        .status()
        .expect("running cargo");
    assert!(status.success(), "cargo build -p blackout failed");
    target.join("debug").join("blackout")
}

/// One round of `blackout probe --profile lab --format json` from namespace `ns`,
/// over the profile's targets (`targets` empty) or the ones given; one JSON object
/// per check. Exit code 1 only says a check failed: the objects say which.
fn probe(
    bin: &Path,
    ns: &str,
    extra: &[&str],
    targets: &[String],
) -> Result<Vec<serde_json::Value>, String> {
    let mut args = vec!["probe", "--profile", "lab", "--format", "json"];
    args.extend_from_slice(extra);
    args.extend(targets.iter().map(String::as_str));
    let out = netns_command(ns, bin)
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running blackout probe: {e}"))?;
    let code = out.status.code().unwrap_or(-1);
    if code != 0 && code != 1 {
        return Err(format!(
            "blackout probe in {ns} exited {code}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|line| serde_json::from_str(line).map_err(|e| format!("{e}: {line}")))
        .collect()
}

/// A result's status word (`ok`, `timeout`, `refused`, `unreachable`, `failed`, `error`).
fn status(result: &serde_json::Value) -> &str {
    result["status"].as_str().unwrap_or("?")
}

/// The address a result probed.
fn address(result: &serde_json::Value) -> Option<IpAddr> {
    result["address"].as_str()?.parse().ok()
}

/// One line for an assertion message.
fn brief(result: &serde_json::Value) -> String {
    let why = result
        .get("reason")
        .or_else(|| result.get("message"))
        .and_then(|v| v.as_str())
        .unwrap_or("");
    format!(
        "{} {}: {} {why}",
        result["check"].as_str().unwrap_or("?"),
        result["target"].as_str().unwrap_or("?"),
        status(result)
    )
}

/// Probes each target once from `ns` and hands each result to `judge`, which says
/// what was wrong with it, if anything.
fn probe_each(
    bin: &Path,
    ns: &str,
    extra: &[&str],
    targets: &[String],
    judge: impl Fn(&serde_json::Value) -> Option<String>,
) -> Result<(), String> {
    let results = probe(bin, ns, extra, targets)?;
    if results.len() != targets.len() {
        return Err(format!(
            "{} results for {} targets",
            results.len(),
            targets.len()
        ));
    }
    match results
        .iter()
        .find_map(|r| judge(r).map(|why| format!("{ns}: {}: {why}", brief(r))))
    {
        Some(problem) => Err(problem),
        None => Ok(()),
    }
}

/// The DNS probe's verdict (`authoritative`, `servfail`, `refused`...), when a
/// server answered.
fn dns_verdict(result: &serde_json::Value) -> Option<&str> {
    result["detail"]["dns"]["verdict"].as_str()
}

/// The HTTP status, when headers arrived.
fn http_status(result: &serde_json::Value) -> Option<u64> {
    result["detail"]["http"]["status"].as_u64()
}

/// The SMTP banner's code, when one arrived.
fn smtp_code(result: &serde_json::Value) -> Option<u64> {
    result["detail"]["smtp"]["banner_code"].as_u64()
}

/// Loss (0-1) and average RTT (ms) of `count` pings from `ns`.
fn ping_stats(ns: &str, addr: IpAddr, count: u32) -> (f64, f64) {
    let count_s = count.to_string();
    let target = addr.to_string();
    let (_, out) = in_ns(
        ns,
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

/// Runs `check` for every vantage point at once (each in its own thread); the
/// first problem, naming its vantage point.
fn at_every_vantage(
    topo: &Topology,
    check: impl Fn(&Vantage) -> Result<(), String> + Sync,
) -> Result<(), String> {
    let vantages: Vec<&Vantage> = topo.vantages().collect();
    let check = &check;
    std::thread::scope(|scope| {
        let handles: Vec<_> = vantages
            .iter()
            .map(|v| scope.spawn(move || check(v).map_err(|e| format!("{}: {e}", v.name))))
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err("the check panicked".into()))
            })
            .collect::<Result<Vec<()>, String>>()
            .map(|_| ())
    })
}

/// From every vantage point, 40 pings to each of `targets`: their loss (0-1) and
/// average RTT (ms) must be what `accepts` takes (each said, labelled `what`); and
/// the `control` host, which no fault of the watched network touches, loses nothing.
fn lossy_everywhere(
    topo: &Topology,
    targets: &[IpAddr],
    control: IpAddr,
    what: &str,
    accepts: impl Fn(f64, f64) -> bool + Sync,
) -> Result<(), String> {
    at_every_vantage(topo, |v| {
        for addr in targets {
            let (loss, rtt) = ping_stats(&v.ns, *addr, 40);
            if !accepts(loss, rtt) {
                return Err(format!("{addr}: loss {loss}, rtt {rtt} ms"));
            }
            say(&format!(
                "  {what} from {}: {addr} loss {:.0} %, average rtt {rtt:.1} ms",
                v.name,
                loss * 100.0
            ));
        }
        let (control_loss, _) = ping_stats(&v.ns, control, 10);
        if control_loss > 0.0 {
            return Err(format!("control host lost {control_loss}"));
        }
        Ok(())
    })
}

// ---- BMP, through the project's BMP station parts and BGP state ------------

/// What the BMP capture says, read as `blackout watch` reads BMP: the stream cut
/// by [`BmpFramer`], each router session handled by a [`BmpRouter`], its route
/// inputs applied to a [`BgpState`]: one state for the pre-policy views, one for
/// the post-policy views (a router session feeds one view per peer, so each view
/// has a session of its own).
struct BmpView {
    pre: BgpState,
    post: BgpState,
    messages: u64,
}

impl BmpView {
    /// Reads every capture file `<prefix>.n`, in connection order: each is one
    /// session of the transit's, and a later one means the earlier one ended.
    fn read(prefix: &Path, watch: &WatchSet) -> Result<BmpView, String> {
        let options = |pre_policy: bool| {
            Arc::new(BmpOptions {
                views: BmpViews {
                    pre_policy,
                    post_policy: !pre_policy,
                    loc_rib: false,
                },
                filter: PrefixFilter::new(watch.all_prefixes()),
            })
        };
        let (pre_options, post_options) = (options(true), options(false));
        let mut view = BmpView {
            pre: BgpState::new(watch.clone(), Vrps::default()),
            post: BgpState::new(watch.clone(), Vrps::default()),
            messages: 0,
        };
        let mut sessions = Vec::new();
        for n in 1.. {
            match std::fs::read(format!("{}.{n}", prefix.display())) {
                Ok(bytes) => sessions.push(bytes),
                Err(_) => break,
            }
        }
        let now = Timestamp::from_secs_f64(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0.0, |d| d.as_secs_f64()),
        );
        let last = sessions.len();
        let mut inputs = Vec::new();
        for (n, bytes) in sessions.iter().enumerate() {
            // The transit's address on the vantage link: it names the collector only.
            let transit = IpAddr::from([198, 51, 100, 1]);
            let mut pre = BmpRouter::new(transit, Arc::clone(&pre_options));
            let mut post = BmpRouter::new(transit, Arc::clone(&post_options));
            let mut framer = BmpFramer::new();
            framer.push(bytes);
            // The last message may be half written: the framer waits for the rest.
            while let Some(message) = framer
                .next_message()
                .map_err(|e| format!("BMP capture {}: {e}", n + 1))?
            {
                pre.handle_bytes(now, message, &mut inputs);
                post.handle_bytes(now, message, &mut inputs);
            }
            if n + 1 < last {
                pre.session_lost(now, &mut inputs);
                post.session_lost(now, &mut inputs);
            }
            view.messages += pre.stats().messages;
        }
        for input in &inputs {
            let post = match input {
                BgpInput::Route(update) => update.peer.collector.ends_with(":post"),
                BgpInput::PeerDown { peer, .. } | BgpInput::TableSize { peer, .. } => {
                    peer.collector.ends_with(":post")
                }
            };
            if post {
                view.post.apply(input);
            } else {
                view.pre.apply(input);
            }
        }
        Ok(view)
    }

    /// Prefixes seen through `upstream` in the pre- or post-policy view.
    fn via(&self, upstream: u32, post: bool) -> BTreeSet<String> {
        let state = if post { &self.post } else { &self.pre };
        state
            .views()
            .into_iter()
            .filter(|v| v.upstreams.get(&Asn(upstream)).is_some_and(|n| *n > 0))
            .map(|v| v.prefix.to_string())
            .collect()
    }
}

/// The BMP capture and what the test expects of it.
struct Bmp<'a> {
    capture: PathBuf,
    watch: &'a WatchSet,
}

impl Bmp<'_> {
    /// Every prefix of `want` is seen via `upstream` (pre- or post-policy).
    fn has(&self, upstream: u32, post: bool, want: &[String]) -> Result<(), String> {
        let view = BmpView::read(&self.capture, self.watch)?;
        let via = view.via(upstream, post);
        match want.iter().find(|p| !via.contains(*p)) {
            Some(p) => Err(format!(
                "BMP ({} messages): post={post}: {p} not seen via AS{upstream}",
                view.messages
            )),
            None => Ok(()),
        }
    }

    /// The origin's prefixes seen through any upstream, per family (IPv4, IPv6),
    /// are `want`: what a verdict per family rests on (IPv6 gone with IPv4 up is
    /// `[4, 0]`).
    fn per_family(&self, post: bool, want: [usize; 2]) -> Result<(), String> {
        let view = BmpView::read(&self.capture, self.watch)?;
        let state = if post { &view.post } else { &view.pre };
        let mut seen = [0; 2];
        for v in state.views() {
            if v.upstreams.values().any(|n| *n > 0) {
                seen[usize::from(v.prefix.addr().is_ipv6())] += 1;
            }
        }
        (seen == want).then_some(()).ok_or(format!(
            "BMP: post={post}: IPv4 and IPv6 prefixes seen {seen:?}, want {want:?}"
        ))
    }

    /// No prefix of `gone` is seen via `upstream` (pre- or post-policy).
    fn lacks(&self, upstream: u32, post: bool, gone: &[String]) -> Result<(), String> {
        let view = BmpView::read(&self.capture, self.watch)?;
        match view.via(upstream, post).iter().find(|p| gone.contains(p)) {
            Some(p) => Err(format!("BMP: post={post}: {p} still seen via AS{upstream}")),
            None => Ok(()),
        }
    }
}

// ---- MRT, through the project's archive reader -------------------------------

/// The watched prefixes that the transit's MRT files named `<kind>.*` carry, read
/// by blackout-archive as `blackout replay` reads archives.
fn mrt_prefixes(lab: &Lab, kind: &str, watch: &[ipnet::IpNet]) -> BTreeSet<String> {
    let mut seen = BTreeSet::new();
    let files = std::fs::read_dir(lab.mrt_dir())
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path())
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(kind))
        });
    for path in files {
        let options = ReaderOptions {
            watch: Some(watch.to_vec()),
            ..ReaderOptions::default()
        };
        let input = ArchiveInput::from_location(Location::File(path));
        // A file FRR is still writing may end in half a record: the reader skips it.
        let Ok(reader) = blackout_archive::open(&input, &options) else {
            continue;
        };
        for item in reader {
            if let BgpInput::Route(update) = item {
                seen.insert(update.prefix.to_string());
            }
        }
    }
    seen
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

    /// Every prefix of `these` has `path` as its best path.
    fn these_via(&self, these: &[String], path: &[u32]) -> Result<(), String> {
        let best = self.best();
        for p in these {
            match best.get(p) {
                Some(got) if got == path => {}
                other => return Err(format!("{p}: best path {other:?}")),
            }
        }
        Ok(())
    }

    /// Every prefix's best path is `path`.
    fn all_via(&self, path: &[u32]) -> Result<(), String> {
        let best = self.best();
        for p in &self.prefixes {
            match best.get(p) {
                Some(got) if got == path => {}
                other => return Err(format!("{p}: best path {other:?}")),
            }
        }
        Ok(())
    }

    /// The transit has no route to any prefix of `gone`, and a best one to every
    /// other prefix.
    fn only_missing(&self, gone: &[String]) -> Result<(), String> {
        let best = self.best();
        for p in &self.prefixes {
            if gone.contains(p) == best.contains_key(p) {
                return Err(format!("{p}: present = {}", best.contains_key(p)));
            }
        }
        let routes = self.lab.transit_routes();
        match routes.iter().find(|r| gone.contains(&r.prefix)) {
            Some(r) => Err(format!("transit still has {} via {:?}", r.prefix, r.path)),
            None => Ok(()),
        }
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

/// The family of an address given as text.
fn family_of(text: &str) -> Option<Family> {
    text.parse::<IpAddr>().ok().map(Family::of)
}

/// Every check of the lab profile answers from the vantage point behind the
/// transit, by `blackout probe --profile lab`, on both families: ICMP to every
/// host, HTTP on both web servers, DNS on both name servers, SMTP, the control
/// host, and the rest of what the profile names.
fn services_at_baseline(bin: &Path, ns: &str) -> Result<(), String> {
    let results = probe(bin, ns, &[], &[])?;
    if let Some(bad) = results.iter().find(|r| status(r) != "ok") {
        return Err(brief(bad));
    }
    let mut kinds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &results {
        let role = r["role"].as_str().unwrap_or("?");
        let kind = r["kind"].as_str().unwrap_or("?");
        let address = r["address"].as_str().unwrap_or("?");
        let family = family_of(address).map_or("?".to_string(), |f| f.to_string());
        kinds
            .entry(format!("{role} {kind} {family}"))
            .or_default()
            .insert(address.to_string());
    }
    let want = [
        ("host icmp", 4),
        ("host http", 2),
        ("zone dns", 2),
        ("mail smtp", 1),
        ("control icmp", 1),
        ("control tcp", 1),
    ];
    for (what, count) in want {
        for family in Family::BOTH {
            let key = format!("{what} {family}");
            let got = kinds.get(&key).map_or(0, BTreeSet::len);
            if got < count {
                return Err(format!(
                    "{key}: {got} targets answered, want {count}: {kinds:?}"
                ));
            }
        }
    }
    Ok(())
}

/// An address as a target host: IPv6 in brackets.
fn host_part(addr: IpAddr) -> String {
    match addr {
        IpAddr::V4(a) => a.to_string(),
        IpAddr::V6(a) => format!("[{a}]"),
    }
}

/// `KIND:ADDR` for both addresses of every host offering `service` (`dns:` is
/// `dns:lab.example@ADDR`).
fn targets(lab: &Lab, service: Service, kind: &str) -> Vec<String> {
    lab.topology()
        .hosts_with(service)
        .into_iter()
        .flat_map(|(_, h)| h.addrs())
        .map(|a| match service {
            Service::Dns => format!("dns:lab.example@{}", host_part(a)),
            _ => format!("{kind}:{}", host_part(a)),
        })
        .collect()
}

/// Every name server gets the DNS verdict `want` (`servfail`, `refused`), or, for
/// `timeout` and `refused-port`, no answer at all (silence; ICMP port unreachable),
/// on both families, from `ns`.
fn all_dns(bin: &Path, lab: &Lab, ns: &str, want: &str) -> Result<(), String> {
    probe_each(bin, ns, &[], &targets(lab, Service::Dns, "dns"), |r| {
        let got = match want {
            "timeout" => status(r) == "timeout",
            "refused-port" => status(r) == "refused",
            verdict => dns_verdict(r) == Some(verdict),
        };
        (!got).then(|| format!("want {want}, verdict {:?}", dns_verdict(r)))
    })
}

/// Every web server answers with the HTTP status `want` on both families; or, for
/// `hang`, accepts the connection and never answers; or (`refused`) refuses it.
fn all_http(bin: &Path, lab: &Lab, ns: &str, want: &str) -> Result<(), String> {
    probe_each(bin, ns, &[], &targets(lab, Service::Web, "http"), |r| {
        let got = match want.parse::<u64>() {
            Ok(code) => http_status(r) == Some(code),
            // Connected, but no response head within the timeout: the probe's "failed".
            Err(_) if want == "hang" => {
                status(r) == "failed"
                    && http_status(r).is_none()
                    && r["detail"]["http"]["connect_ms"].is_number()
            }
            Err(_) => status(r) == want,
        };
        (!got).then(|| format!("want {want}, HTTP status {:?}", http_status(r)))
    })
}

/// The mail server's banner code is `want` on both families.
fn all_smtp(bin: &Path, lab: &Lab, ns: &str, want: u64) -> Result<(), String> {
    probe_each(bin, ns, &[], &targets(lab, Service::Smtp, "smtp"), |r| {
        (smtp_code(r) != Some(want)).then(|| format!("banner code {:?}", smtp_code(r)))
    })
}

/// ICMP echo from `ns`, by `blackout probe`: `up` answer, `down` do not.
fn reach(bin: &Path, ns: &str, up: &[IpAddr], down: &[IpAddr]) -> Result<(), String> {
    let targets: Vec<String> = up.iter().chain(down).map(|a| format!("icmp:{a}")).collect();
    if targets.is_empty() {
        // Without targets, `blackout probe` would probe the whole profile.
        return Ok(());
    }
    probe_each(
        bin,
        ns,
        &["--timeout", "0.5", "--retries", "0"],
        &targets,
        |r| {
            let answered = status(r) == "ok";
            let should = address(r).is_some_and(|a| up.contains(&a));
            match (should, answered) {
                (true, false) => Some("does not answer".into()),
                (false, true) => Some("still answers".into()),
                _ => None,
            }
        },
    )
}

/// What one vantage point must see by ICMP during a fault.
#[derive(Default)]
struct View {
    up: Vec<IpAddr>,
    down: Vec<IpAddr>,
}

impl View {
    /// Every address in `all` answers but those `dark` says.
    fn split(all: &[IpAddr], dark: impl Fn(&IpAddr) -> bool) -> View {
        let (down, up) = all.iter().partition(|a| dark(a));
        View { up, down }
    }
}

/// The addresses the views are made of.
struct Addrs {
    /// Every host's, both families.
    hosts: Vec<IpAddr>,
    /// The control host's, both families.
    control: Vec<IpAddr>,
}

impl Addrs {
    fn of(topo: &Topology) -> Addrs {
        Addrs {
            hosts: topo.hosts().flat_map(|(_, h)| h.addrs()).collect(),
            control: topo.control.addrs().to_vec(),
        }
    }

    /// Hosts and control together.
    fn all(&self) -> Vec<IpAddr> {
        self.hosts.iter().chain(&self.control).copied().collect()
    }

    fn is_host(&self, a: &IpAddr) -> bool {
        self.hosts.contains(a)
    }
}

/// The addresses of the hosts of building `n`.
fn building_addrs(topo: &Topology, n: u8) -> Vec<IpAddr> {
    topo.building(n)
        .map(|b| b.hosts.iter().flat_map(LabHost::addrs).collect())
        .unwrap_or_default()
}

/// Every vantage point sees its `view` by ICMP (probed from all three at once).
fn views_hold(
    bin: &Path,
    lab: &Lab,
    view: &(dyn Fn(&Vantage) -> View + Sync),
) -> Result<(), String> {
    at_every_vantage(lab.topology(), |v| {
        let View { up, down } = view(v);
        reach(bin, &v.ns, &up, &down)
    })
}

/// The A and AAAA records of every host, asked of every name server on both of
/// its addresses with dig.
fn zone_has_both_families(lab: &Lab) -> Result<(), String> {
    let topo = lab.topology();
    for (_, server) in topo.hosts_with(Service::Dns) {
        for server_addr in server.addrs() {
            for (_, h) in topo.hosts() {
                for (rtype, want) in [
                    ("A", h.addr_of(Family::V4)),
                    ("AAAA", h.addr_of(Family::V6)),
                ] {
                    let at = format!("@{server_addr}");
                    let (_, out) = in_ns(
                        &topo.vantage.ns,
                        "dig",
                        &[
                            "+short", "+norec", "+time=1", "+tries=1", &at, rtype, &h.name,
                        ],
                    );
                    if out.trim().parse::<IpAddr>().ok() != Some(want) {
                        return Err(format!(
                            "{server_addr}: {} {rtype} is {:?}, want {want}",
                            h.name,
                            out.trim()
                        ));
                    }
                }
            }
        }
    }
    Ok(())
}

/// Takes the lab down if the test fails half way.
struct DownOnDrop<'a>(&'a Lab);

impl Drop for DownOnDrop<'_> {
    fn drop(&mut self) {
        let _ = self.0.down();
    }
}

/// `blackout lab exec` from outside: its exit code.
fn lab_exec(bin: &Path, ns: &str, command: &[&str]) -> i32 {
    Command::new(bin)
        .args(["lab", "--state-dir", STATE_DIR, "exec", ns, "--"])
        .args(command)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_or(-1, |s| s.code().unwrap_or(-1))
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
    let bin = blackout_bin();
    let bin = bin.as_path();
    let profile = blackout_profile::builtin("lab").expect("the lab profile");
    let watch = WatchSet::from_profile(&profile);
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
    let main = topo.vantage.ns.clone();
    let main = main.as_str();
    let prefixes: Vec<String> = topo
        .origin_prefixes()
        .iter()
        .map(|p| p.to_string())
        .collect();
    let of_family = |family: Family| -> Vec<String> {
        prefixes
            .iter()
            .filter(|p| family_of(p.split('/').next().unwrap_or("")) == Some(family))
            .cloned()
            .collect()
    };
    let (v4_prefixes, v6_prefixes) = (of_family(Family::V4), of_family(Family::V6));
    assert_eq!((v4_prefixes.len(), v6_prefixes.len()), (4, 4));
    let expect = Expect {
        lab: &lab,
        prefixes: prefixes.clone(),
    };
    let watched: Vec<String> = watch.prefixes().map(|p| p.to_string()).collect();
    assert_eq!(
        watched, prefixes,
        "the lab profile watches the origin's prefixes"
    );

    // ---- feeds ----
    let vantage_addr = topo.vantage.addr;
    let bmp = Bmp {
        capture: lab
            .start_capture("bmp", vantage_addr, topo.bmp_port)
            .expect("BMP capture"),
        watch: &watch,
    };
    let bgp = lab
        .start_capture("bgp", vantage_addr, 179)
        .expect("BGP capture");
    wait_for(
        "BMP pre-policy routes of both families from both upstreams",
        Duration::from_secs(30),
        || {
            bmp.has(PRIMARY_ASN, false, &prefixes)?;
            bmp.has(BACKUP_ASN, false, &prefixes)?;
            bmp.has(PRIMARY_ASN, true, &prefixes)
        },
    );
    wait_for(
        "the transit's BGP OPEN toward the vantage, with both families",
        Duration::from_secs(30),
        || {
            let bytes = std::fs::read(format!("{}.1", bgp.display())).map_err(|e| e.to_string())?;
            // Marker, length, type 1 (OPEN), version 4, then the sender's 2-byte AS.
            if bytes.len() >= 29 && bytes[..16].iter().all(|b| *b == 0xff) && bytes[18] == 1 {
                let asn = u16::from_be_bytes([bytes[20], bytes[21]]) as u32;
                if asn != 64503 {
                    return Err(format!("OPEN from AS{asn}"));
                }
                // Multiprotocol capabilities (code 1, length 4): AFI, 0, SAFI 1.
                for afi in [1u8, 2] {
                    let capability = [1, 4, 0, afi, 0, 1];
                    if !bytes.windows(6).any(|w| w == capability) {
                        return Err(format!("the OPEN offers no AFI {afi} unicast"));
                    }
                }
                return Ok(());
            }
            Err(format!("{} bytes, no OPEN yet", bytes.len()))
        },
    );
    lab.stop_capture("bgp");
    expect
        .all_via(&[PRIMARY_ASN, ORIGIN_ASN])
        .expect("transit view");
    let watch_prefixes: Vec<ipnet::IpNet> = watch.all_prefixes().copied().collect();
    wait_for(
        "MRT update dumps with both families",
        Duration::from_secs(20),
        || {
            let seen = mrt_prefixes(&lab, "updates", &watch_prefixes);
            match prefixes.iter().find(|p| !seen.contains(*p)) {
                Some(p) => Err(format!("{p} not in the update dumps: {seen:?}")),
                None => Ok(()),
            }
        },
    );

    // ---- services, zone, vantages, central ----
    wait_for(
        "every service at the baseline, on both families",
        Duration::from_secs(20),
        || services_at_baseline(bin, main),
    );
    wait_for("A and AAAA records", Duration::from_secs(10), || {
        zone_has_both_families(&lab)
    });
    let addrs = Addrs::of(&topo);
    let everything = addrs.all();
    views_hold(bin, &lab, &|_| View {
        up: everything.clone(),
        down: vec![],
    })
    .expect("every host and the control host answer every vantage point on both families");
    for v in topo.vantages() {
        for addr in topo.central.addrs() {
            let (code, out) = in_ns(&v.ns, "ping", &["-c", "1", "-W", "1", &addr.to_string()]);
            assert_eq!(
                code, 0,
                "{} does not reach the central at {addr}: {out}",
                v.name
            );
        }
    }
    // The central reaches no address of the watched network or the control host:
    // it has no route there.
    for addr in everything.iter().step_by(3) {
        let (code, out) = in_ns(&topo.central.ns, "ip", &["route", "get", &addr.to_string()]);
        assert_ne!(code, 0, "the central has a route to {addr}: {out}");
    }
    // `blackout lab exec` runs in the namespace it names, and says when the command fails.
    let ping3_v6 = topo.building(3).unwrap().hosts[0].addr6.to_string();
    assert_eq!(
        lab_exec(
            bin,
            "vp-primary",
            &["ping", "-c", "1", "-W", "1", &ping3_v6]
        ),
        0
    );
    assert_eq!(
        lab_exec(bin, "central", &["ping", "-c", "1", "-W", "1", &ping3_v6]),
        1
    );
    assert_eq!(lab_exec(bin, "bo-nowhere", &["true"]), 2);

    // ---- faults ----
    let host_of = |name: &str| -> [IpAddr; 2] {
        topo.hosts()
            .find(|(_, h)| h.name == name)
            .map(|(_, h)| h.addrs())
            .expect("a lab host")
    };
    let ping3 = host_of("ping3.lab.example");
    let b2 = building_addrs(&topo, 2);
    let is_v6 = |a: &IpAddr| a.is_ipv6();
    let mut figures: Vec<(String, Duration, Duration)> = Vec::new();
    let limit = Duration::from_secs(45);
    let baseline_view = |_: &Vantage| View {
        up: everything.clone(),
        down: vec![],
    };

    // Injects a fault, waits until `check` (from the feeds' vantage: BGP, BMP,
    // services) holds and every vantage point sees its `view`, heals, and waits
    // for the baseline, the services and the BMP feed.
    let mut run = |spec: &str,
                   check: &mut dyn FnMut() -> Result<(), String>,
                   view: &(dyn Fn(&Vantage) -> View + Sync)| {
        let mut words = spec.split_whitespace();
        let name = words.next().unwrap_or_default();
        let args: Vec<String> = words.map(str::to_string).collect();
        let fault = Fault::parse(name, &args).expect("fault parses");
        let started = Instant::now();
        lab.inject(&fault).unwrap_or_else(|e| panic!("{spec}: {e}"));
        wait_for(spec, limit, || {
            check()?;
            views_hold(bin, &lab, view)
        });
        let converged = started.elapsed();
        let heal_started = Instant::now();
        lab.heal(limit)
            .unwrap_or_else(|e| panic!("heal after {spec}: {e}"));
        wait_for(&format!("services after {spec}"), limit, || {
            services_at_baseline(bin, main)
        });
        wait_for(&format!("BMP after {spec}"), limit, || {
            bmp.has(PRIMARY_ASN, false, &prefixes)?;
            bmp.has(BACKUP_ASN, false, &prefixes)
        });
        let healed = heal_started.elapsed();
        say(&format!(
            "fault {spec:<26} effect after {:>5.2} s, baseline back after {:>5.2} s",
            converged.as_secs_f64(),
            healed.as_secs_f64()
        ));
        figures.push((spec.to_string(), converged, healed));
    };
    let hosts_dark = |_: &Vantage| View::split(&everything, |a| addrs.is_host(a));

    run(
        "origin-withdraw",
        &mut || {
            expect.only_missing(&prefixes)?;
            bmp.lacks(PRIMARY_ASN, false, &prefixes)?;
            bmp.lacks(BACKUP_ASN, false, &prefixes)
        },
        &hosts_dark,
    );
    run(
        "origin-crash",
        &mut || {
            expect.only_missing(&prefixes)?;
            bmp.lacks(PRIMARY_ASN, false, &prefixes)
        },
        &hosts_dark,
    );
    run(
        "primary-cut",
        &mut || {
            expect.all_via(&[BACKUP_ASN, ORIGIN_ASN, ORIGIN_ASN, ORIGIN_ASN])?;
            expect.no_path_from(PRIMARY_ASN)?;
            bmp.lacks(PRIMARY_ASN, false, &prefixes)
        },
        &baseline_view,
    );
    run(
        "backup-cut",
        &mut || {
            expect.all_via(&[PRIMARY_ASN, ORIGIN_ASN])?;
            expect.no_path_from(BACKUP_ASN)?;
            bmp.lacks(BACKUP_ASN, false, &prefixes)
        },
        &baseline_view,
    );
    run(
        "ddos 20",
        &mut || {
            // Routes and sessions stay while loss or latency rise, on both families
            // and from every vantage point; the control host is spared.
            expect.all_via(&[PRIMARY_ASN, ORIGIN_ASN])?;
            lossy_everywhere(&topo, &ping3, addrs.control[0], "ddos", |loss, rtt| {
                loss >= 0.1 || rtt >= 20.0
            })
        },
        // Lossy, not dark: the loss is checked above.
        &|_| View::default(),
    );
    run(
        "loss 20",
        &mut || {
            // A share of the packets dies at the border, each way, on both families
            // and from every vantage point; the routes stay and the control host
            // (not behind the border) is spared. 20 % each way loses about 36 % of
            // the round trips: enough to tell from none in 40 pings.
            expect.all_via(&[PRIMARY_ASN, ORIGIN_ASN])?;
            lossy_everywhere(&topo, &ping3, addrs.control[0], "loss 20", |loss, _| {
                (0.05..0.8).contains(&loss)
            })
        },
        &|_| View::default(),
    );
    run(
        "dns-timeout",
        &mut || at_every_vantage(&topo, |v| all_dns(bin, &lab, &v.ns, "timeout")),
        &baseline_view,
    );
    run(
        "dns-servfail",
        &mut || at_every_vantage(&topo, |v| all_dns(bin, &lab, &v.ns, "servfail")),
        &baseline_view,
    );
    run(
        "dns-refused",
        &mut || at_every_vantage(&topo, |v| all_dns(bin, &lab, &v.ns, "refused")),
        &baseline_view,
    );
    run(
        "dns-down",
        &mut || at_every_vantage(&topo, |v| all_dns(bin, &lab, &v.ns, "refused-port")),
        &baseline_view,
    );
    run(
        "web-5xx",
        &mut || at_every_vantage(&topo, |v| all_http(bin, &lab, &v.ns, "503")),
        &baseline_view,
    );
    run(
        "web-hang",
        &mut || at_every_vantage(&topo, |v| all_http(bin, &lab, &v.ns, "hang")),
        &baseline_view,
    );
    run(
        "web-down",
        &mut || at_every_vantage(&topo, |v| all_http(bin, &lab, &v.ns, "refused")),
        &baseline_view,
    );
    run(
        "smtp-4xx",
        &mut || at_every_vantage(&topo, |v| all_smtp(bin, &lab, &v.ns, 421)),
        &baseline_view,
    );
    run(
        "power-cut 2",
        &mut || {
            let gone: Vec<String> = topo
                .building(2)
                .map(|b| b.prefixes().iter().map(ToString::to_string).collect())
                .unwrap_or_default();
            expect.only_missing(&gone)?;
            probe_each(
                bin,
                main,
                &[],
                &[
                    "dns:lab.example@203.0.113.74".into(),
                    "dns:lab.example@[2001:db8:101::74]".into(),
                ],
                |r| {
                    (!matches!(status(r), "timeout" | "refused" | "unreachable"))
                        .then(|| "ns2 still answers".into())
                },
            )
        },
        &|_| View::split(&everything, |a| b2.contains(a)),
    );
    run(
        "hosts-dark 3",
        &mut || expect.all_via(&[PRIMARY_ASN, ORIGIN_ASN]),
        &|_| View::split(&everything, |a| ping3.contains(a)),
    );
    {
        // Flapping: count the withdrawals the transit shows while it runs.
        let mut seen_gone = 0;
        let mut was_gone = false;
        let mut seen_back_after_gone = 0;
        run(
            "flap 3 1",
            &mut || {
                let gone = expect.only_missing(&prefixes).is_ok();
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
            },
            // Between the steps the hosts answer or not: nothing to expect of the probes.
            &|_| View::default(),
        );
        let log = std::fs::read_to_string(lab.fault_log()).unwrap_or_default();
        assert!(
            log.matches("\"flap-withdraw\"").count() >= 3,
            "flap steps in the fault log"
        );
    }
    run(
        "rpki-invalid",
        &mut || {
            // The transit drops the routes of both families (Loc-RIB, post-policy
            // BMP) though it still receives them (Adj-RIB-In).
            expect.only_missing(&prefixes)?;
            bmp.lacks(PRIMARY_ASN, true, &prefixes)?;
            for neighbor in topo
                .router(blackout_lab::topology::ns::TRANSIT)
                .map(|t| t.neighbors.clone())
                .unwrap_or_default()
                .iter()
                .filter(|n| n.asn == PRIMARY_ASN)
            {
                let received = lab.transit_received(neighbor.addr);
                let family = Family::of(neighbor.addr);
                if let Some(p) = of_family(family).iter().find(|p| !received.contains(p)) {
                    return Err(format!("the transit no longer receives {p}"));
                }
            }
            Ok(())
        },
        // Only paths through the transit, which validates, lose the routes: the
        // upstreams keep their customer's routes and forward to it.
        &|v| {
            if v.attached == blackout_lab::topology::ns::TRANSIT {
                View::split(&everything, |a| addrs.is_host(a))
            } else {
                baseline_view(v)
            }
        },
    );
    run(
        "vantage-cut",
        &mut || {
            // The management network stays: the central still hears the vantage point.
            let (code, out) = in_ns(
                main,
                "ping",
                &["-c", "1", "-W", "1", &topo.central.addr.to_string()],
            );
            (code == 0)
                .then_some(())
                .ok_or(format!("the central is cut off too: {out}"))
        },
        &|v| {
            if v.name == topo.vantage.name {
                View::split(&everything, |_| true)
            } else {
                baseline_view(v)
            }
        },
    );
    run(
        "vantage-path-cut vp-backup",
        &mut || expect.all_via(&[PRIMARY_ASN, ORIGIN_ASN]),
        &|v| {
            if v.name == "vp-backup" {
                View::split(&everything, |a| addrs.is_host(a))
            } else {
                baseline_view(v)
            }
        },
    );
    run(
        "v6-withdraw",
        &mut || {
            expect.only_missing(&v6_prefixes)?;
            bmp.lacks(PRIMARY_ASN, false, &v6_prefixes)?;
            bmp.lacks(BACKUP_ASN, false, &v6_prefixes)?;
            bmp.has(PRIMARY_ASN, false, &v4_prefixes)?;
            bmp.has(BACKUP_ASN, false, &v4_prefixes)?;
            // One family dark, the other whole: not the whole network down.
            bmp.per_family(false, [4, 0])?;
            bmp.per_family(true, [4, 0])
        },
        &|_| View::split(&everything, |a| is_v6(a) && addrs.is_host(a)),
    );
    run(
        "v6-primary-cut",
        &mut || {
            // The primary loses the IPv6 routes only; the backup carries them,
            // and every host answers on both families.
            expect.these_via(
                &v6_prefixes,
                &[BACKUP_ASN, ORIGIN_ASN, ORIGIN_ASN, ORIGIN_ASN],
            )?;
            expect.these_via(&v4_prefixes, &[PRIMARY_ASN, ORIGIN_ASN])?;
            bmp.lacks(PRIMARY_ASN, false, &v6_prefixes)?;
            bmp.has(PRIMARY_ASN, false, &v4_prefixes)?;
            bmp.per_family(true, [4, 4])
        },
        &baseline_view,
    );
    run(
        "v6-border-filter",
        &mut || {
            // The routes of both families stay; IPv4's services too.
            expect.all_via(&[PRIMARY_ASN, ORIGIN_ASN])?;
            bmp.has(PRIMARY_ASN, false, &prefixes)?;
            bmp.per_family(true, [4, 4])?;
            probe_each(
                bin,
                main,
                &[],
                &["http:203.0.113.11".into(), "http:[2001:db8:100::11]".into()],
                |r| {
                    let v6 = address(r).is_some_and(|a| a.is_ipv6());
                    match (v6, http_status(r)) {
                        (false, Some(200)) | (true, None) => None,
                        (_, got) => Some(format!("HTTP status {got:?}")),
                    }
                },
            )
        },
        &|_| View::split(&everything, |a| is_v6(a) && addrs.is_host(a)),
    );

    // Every fault's impact, as the lab says it, is what the runs above showed.
    let impact = |spec: &str| {
        let mut words = spec.split_whitespace();
        let name = words.next().unwrap_or_default();
        let args: Vec<String> = words.map(str::to_string).collect();
        Fault::parse(name, &args).unwrap().impact(&topo)
    };
    assert_eq!(impact("rpki-invalid").vantages, ["vp-transit"]);
    assert_eq!(impact("vantage-path-cut vp-backup").vantages, ["vp-backup"]);
    assert_eq!(impact("v6-border-filter").families, [Family::V6]);
    assert_eq!(impact("v6-withdraw").families, [Family::V6]);
    assert_eq!(impact("v6-primary-cut").families, [Family::V6]);
    assert_eq!(impact("origin-withdraw").families, Family::BOTH);
    assert!(impact("primary-cut").vantages.is_empty());

    // ---- stacked faults, one heal ----
    let stack_started = Instant::now();
    for (name, args) in [
        ("primary-cut", vec![]),
        ("hosts-dark", vec!["4".to_string()]),
        ("dns-refused", vec![]),
        ("v6-border-filter", vec![]),
    ] {
        lab.inject(&Fault::parse(name, &args).unwrap())
            .expect("stacked fault");
    }
    assert_eq!(lab.active_faults().len(), 4);
    let ping4 = host_of("ping4.lab.example");
    wait_for("four stacked faults", limit, || {
        expect.all_via(&[BACKUP_ASN, ORIGIN_ASN, ORIGIN_ASN, ORIGIN_ASN])?;
        views_hold(bin, &lab, &|_| {
            View::split(&everything, |a| {
                ping4.contains(a) || (is_v6(a) && addrs.is_host(a))
            })
        })?;
        probe_each(
            bin,
            main,
            &[],
            &["dns:lab.example@203.0.113.10".into()],
            |r| (dns_verdict(r) != Some("refused")).then(|| "not refused".into()),
        )
    });
    let stacked = stack_started.elapsed();
    lab.heal(limit).expect("heal the stack");
    assert!(lab.active_faults().is_empty());
    wait_for("services after the stack", limit, || {
        services_at_baseline(bin, main)
    });
    expect
        .all_via(&[PRIMARY_ASN, ORIGIN_ASN])
        .expect("primary back");
    say(&format!(
        "stacked faults: effect after {:.2} s",
        stacked.as_secs_f64()
    ));

    // The transit's RIB dumps (every 60 s) carry both families too.
    wait_for(
        "a RIB dump with both families",
        Duration::from_secs(75),
        || {
            let seen = mrt_prefixes(&lab, "rib", &watch_prefixes);
            match prefixes.iter().find(|p| !seen.contains(*p)) {
                Some(p) => Err(format!("{p} not in the RIB dumps: {seen:?}")),
                None => Ok(()),
            }
        },
    );

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
    say("lab figures (effect = inject until every vantage point sees it)");
    say(&format!("  up: {:.1} s", up_time.as_secs_f64()));
    for (spec, converged, healed) in &figures {
        say(&format!(
            "  {spec:<26} effect {:>5.2} s   heal {:>5.2} s",
            converged.as_secs_f64(),
            healed.as_secs_f64()
        ));
    }
}
