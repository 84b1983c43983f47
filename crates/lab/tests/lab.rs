//! The lab end to end, as root: bring it up; check from the vantage point, with
//! the project's own probes (`blackout probe --profile lab`, run in the vantage
//! namespace) that every service answers, and with its own BGP reading (a BMP
//! capture decoded by blackout-feeds' BMP parts into blackout-bgp's state) that
//! the feeds carry the four prefixes via both upstreams; check the transit's
//! table, the MRT dumps and the transit's BGP OPEN toward the vantage; inject
//! each fault, wait for its effect, heal and wait for the baseline; stack three
//! faults and heal them at once; take the lab down and check that nothing is
//! left. It prints `up`'s time and each fault's convergence and heal times.
//!
//! Needs root and the Debian packages the lab installs on first use (ping for the
//! loss and latency of `ddos`). The `blackout` binary is taken from beside the
//! test (target/<profile>/blackout) and built when missing.
//! Without root it says so on stderr (past the test harness's capture) and does
//! not run; with `BLACKOUT_LAB_REQUIRED=1` it fails instead.

use blackout_bgp::{BgpState, Vrps, WatchSet};
use blackout_feeds::bmp::{BmpFramer, BmpOptions, BmpRouter, BmpViews};
use blackout_lab::topology::{BACKUP_ASN, ORIGIN_ASN, PRIMARY_ASN, Service};
use blackout_lab::{Fault, Lab};
use blackout_model::PrefixFilter;
use blackout_model::{Asn, BgpInput, Timestamp};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
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

/// One round of `blackout probe --profile lab --format json` from the vantage
/// namespace, over the profile's targets (`targets` empty) or the ones given; one
/// JSON object per check. Exit code 1 only says a check failed: the objects say which.
fn probe(bin: &Path, extra: &[&str], targets: &[String]) -> Result<Vec<serde_json::Value>, String> {
    let bin = bin.to_string_lossy();
    let mut args = vec![
        "netns",
        "exec",
        VANTAGE,
        &bin,
        "probe",
        "--profile",
        "lab",
        "--format",
        "json",
    ];
    args.extend_from_slice(extra);
    args.extend(targets.iter().map(String::as_str));
    let out = Command::new("ip")
        .args(&args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running blackout probe: {e}"))?;
    let code = out.status.code().unwrap_or(-1);
    if code != 0 && code != 1 {
        return Err(format!(
            "blackout probe exited {code}: {}",
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

/// Probes each target once and hands each result to `judge`, which says what was
/// wrong with it, if anything.
fn probe_each(
    bin: &Path,
    extra: &[&str],
    targets: &[String],
    judge: impl Fn(&serde_json::Value) -> Option<String>,
) -> Result<(), String> {
    let results = probe(bin, extra, targets)?;
    if results.len() != targets.len() {
        return Err(format!(
            "{} results for {} targets",
            results.len(),
            targets.len()
        ));
    }
    match results
        .iter()
        .find_map(|r| judge(r).map(|why| format!("{}: {why}", brief(r))))
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
            .filter(|v| v.upstreams.get(&Asn(upstream)).is_some_and(|n| *n > 0))
            .map(|v| v.prefix.to_string())
            .collect()
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

/// Every check of the lab profile answers from the vantage point, by `blackout
/// probe --profile lab`: ICMP to every host, HTTP on both web servers, DNS on both
/// name servers, SMTP, the control host, and the rest of what the profile names.
fn services_at_baseline(bin: &Path) -> Result<(), String> {
    let results = probe(bin, &[], &[])?;
    if let Some(bad) = results.iter().find(|r| status(r) != "ok") {
        return Err(brief(bad));
    }
    let mut kinds: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for r in &results {
        let role = r["role"].as_str().unwrap_or("?");
        let kind = r["kind"].as_str().unwrap_or("?");
        kinds
            .entry(format!("{role} {kind}"))
            .or_default()
            .insert(r["address"].as_str().unwrap_or("?").to_string());
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
        let got = kinds.get(what).map_or(0, BTreeSet::len);
        if got < count {
            return Err(format!(
                "{what}: {got} targets answered, want {count}: {kinds:?}"
            ));
        }
    }
    Ok(())
}

/// `dns:lab.example@SERVER` for each name server.
fn dns_targets(lab: &Lab) -> Vec<String> {
    lab.topology()
        .hosts_with(Service::Dns)
        .into_iter()
        .map(|(_, h)| format!("dns:lab.example@{}", h.addr))
        .collect()
}

/// `http:ADDR` for each web server.
fn http_targets(lab: &Lab) -> Vec<String> {
    lab.topology()
        .hosts_with(Service::Web)
        .into_iter()
        .map(|(_, h)| format!("http:{}", h.addr))
        .collect()
}

/// Every name server gets the DNS verdict `want` (`servfail`, `refused`), or, for
/// `timeout` and `refused-port`, no answer at all (silence; ICMP port unreachable).
fn all_dns(bin: &Path, lab: &Lab, want: &str) -> Result<(), String> {
    probe_each(bin, &[], &dns_targets(lab), |r| {
        let got = match want {
            "timeout" => status(r) == "timeout",
            "refused-port" => status(r) == "refused",
            verdict => dns_verdict(r) == Some(verdict),
        };
        (!got).then(|| format!("want {want}, verdict {:?}", dns_verdict(r)))
    })
}

/// Every web server answers with the HTTP status `want`; or, for `hang`, accepts
/// the connection and never answers; or (`refused`) refuses it.
fn all_http(bin: &Path, lab: &Lab, want: &str) -> Result<(), String> {
    probe_each(bin, &[], &http_targets(lab), |r| {
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

/// ICMP echo from the vantage point, by `blackout probe`: `up` answer, `down` do not.
fn reach(bin: &Path, up: &[Ipv4Addr], down: &[Ipv4Addr]) -> Result<(), String> {
    let targets: Vec<String> = up.iter().chain(down).map(|a| format!("icmp:{a}")).collect();
    let up: BTreeSet<String> = up.iter().map(Ipv4Addr::to_string).collect();
    probe_each(
        bin,
        &["--timeout", "0.5", "--retries", "0"],
        &targets,
        |r| {
            let answered = status(r) == "ok";
            let should = up.contains(r["address"].as_str().unwrap_or(""));
            match (should, answered) {
                (true, false) => Some("does not answer".into()),
                (false, true) => Some("still answers".into()),
                _ => None,
            }
        },
    )
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
    let bin = blackout_bin();
    let bin = bin.as_path();
    let watch = WatchSet::from_profile(&blackout_profile::builtin("lab").expect("the lab profile"));
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
    let watched: Vec<String> = watch.prefixes.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        watched, prefixes,
        "the lab profile watches the origin's prefixes"
    );

    // ---- feeds ----
    let bmp = lab
        .start_capture("bmp", vantage_addr, topo.bmp_port)
        .expect("BMP capture");
    let bgp = lab
        .start_capture("bgp", vantage_addr, 179)
        .expect("BGP capture");
    let bmp_has_all = |upstream: u32, post: bool| {
        let view = BmpView::read(&bmp, &watch)?;
        let via = view.via(upstream, post);
        match prefixes.iter().find(|p| !via.contains(*p)) {
            Some(p) => Err(format!(
                "BMP ({} messages): post={post}: {p} not seen via AS{upstream}",
                view.messages
            )),
            None => Ok(()),
        }
    };
    let bmp_has_none = |upstream: u32, post: bool| {
        let view = BmpView::read(&bmp, &watch)?;
        match view.via(upstream, post).first() {
            Some(p) => Err(format!("BMP: post={post}: {p} still seen via AS{upstream}")),
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
        || services_at_baseline(bin),
    );
    let every: Vec<Ipv4Addr> = lab.probe_targets().iter().map(|(_, a)| *a).collect();
    reach(bin, &every, &[]).expect("every host answers ICMP");

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
            services_at_baseline(bin)
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
        reach(bin, &[control], &[www, ping3])
    });
    run("origin-crash", &mut || {
        expect.none_of(&all_prefixes)?;
        bmp_has_none(PRIMARY_ASN, false)?;
        reach(bin, &[control], &[www])
    });
    run("primary-cut", &mut || {
        expect.all_via(
            BACKUP_ASN,
            &[BACKUP_ASN, ORIGIN_ASN, ORIGIN_ASN, ORIGIN_ASN],
        )?;
        expect.no_path_from(PRIMARY_ASN)?;
        bmp_has_none(PRIMARY_ASN, false)?;
        reach(bin, &[www, ping3, ping4, control], &[])
    });
    run("backup-cut", &mut || {
        expect.all_via(PRIMARY_ASN, &[PRIMARY_ASN, ORIGIN_ASN])?;
        expect.no_path_from(BACKUP_ASN)?;
        bmp_has_none(BACKUP_ASN, false)?;
        reach(bin, &[www, ping3, control], &[])
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
    run("dns-timeout", &mut || all_dns(bin, &lab, "timeout"));
    run("dns-servfail", &mut || all_dns(bin, &lab, "servfail"));
    run("dns-refused", &mut || all_dns(bin, &lab, "refused"));
    run("dns-down", &mut || all_dns(bin, &lab, "refused-port"));
    run("web-5xx", &mut || all_http(bin, &lab, "503"));
    run("web-hang", &mut || all_http(bin, &lab, "hang"));
    run("web-down", &mut || all_http(bin, &lab, "refused"));
    run("smtp-4xx", &mut || {
        probe_each(bin, &[], &[format!("smtp:{mail}")], |r| {
            (smtp_code(r) != Some(421)).then(|| format!("banner code {:?}", smtp_code(r)))
        })
    });
    run("power-cut 2", &mut || {
        expect.only_missing("203.0.113.64/26")?;
        reach(bin, &[www, ping3, ping4], &[www2, mail])?;
        probe_each(bin, &[], &["dns:lab.example@203.0.113.74".into()], |r| {
            (!matches!(status(r), "timeout" | "refused" | "unreachable"))
                .then(|| "ns2 still answers".into())
        })
    });
    run("hosts-dark 3", &mut || {
        expect.all_via(PRIMARY_ASN, &[PRIMARY_ASN, ORIGIN_ASN])?;
        reach(bin, &[www, ping4], &[ping3])
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
        reach(bin, &[control], &[www])
    });
    run("vantage-cut", &mut || {
        reach(bin, &[], &[control, www, ping4])
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
        reach(bin, &[www, ping3], &[ping4])?;
        all_dns(bin, &lab, "refused")
    });
    let stacked = stack_started.elapsed();
    lab.heal(limit).expect("heal the stack");
    assert!(lab.active_faults().is_empty());
    wait_for("services after the stack", limit, || {
        services_at_baseline(bin)
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
