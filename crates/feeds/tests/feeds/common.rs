//! Shared helpers: the real data (found by blackout-testdata), BMP captures as framed messages, and
//! daemons on loopback.

use flate2::read::GzDecoder;
use std::io::Read;
use std::path::{Path, PathBuf};

pub use blackout_testdata::daemons::{Daemon, is_root, start_bird};
/// The data directory, for tests that checked it with [`require_data!`] first.
pub use blackout_testdata::root as data_dir;

/// Returns from the calling test, saying it was skipped, when the real data is missing.
macro_rules! require_data {
    ($test:expr) => {
        blackout_testdata::require!($test, "bmp")
    };
}

/// A file of the data set.
pub fn read(relative: &str) -> Vec<u8> {
    let path = data_dir().join(relative);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// A gzip'd file of the data set, as text.
pub fn read_gz(relative: &str) -> String {
    gunzip(&read(relative))
}

/// Gzip'd bytes as text.
pub fn gunzip(bytes: &[u8]) -> String {
    let mut text = String::new();
    GzDecoder::new(bytes)
        .read_to_string(&mut text)
        .unwrap_or_else(|e| panic!("cannot gunzip: {e}"));
    text
}

/// A file of the captures committed with this crate (`tests/data`, see its README).
pub fn read_committed(name: &str) -> Vec<u8> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
}

/// Every raw BMP capture, by name.
pub fn bmp_captures() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data_dir().join("bmp/raw"))
        .expect("bmp/raw")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".bmp"))
        .collect();
    names.sort();
    assert_eq!(
        names.len(),
        15,
        "expected the 15 BMP captures of the data set"
    );
    names
}

/// The first of `paths` that exists.
pub fn find_binary(paths: &[&str]) -> Option<PathBuf> {
    paths.iter().map(PathBuf::from).find(|p| p.exists())
}

/// Says plainly that a test did not run.
pub fn skipped(test: &str, why: &str) {
    eprintln!("SKIPPED: {test}: {why}");
}

/// Starts FRR's bgpd in the foreground without zebra, listening for BGP on
/// `listen:port`, with `config` (its log goes to `dir/bgpd.log`).
pub fn start_bgpd(dir: &Path, config: &str, listen: &str, port: u16) -> Daemon {
    let conf = dir.join("bgpd.conf");
    let log = dir.join("bgpd.log");
    std::fs::write(
        &conf,
        format!(
            "frr defaults traditional\nlog file {}\n{config}",
            log.display()
        ),
    )
    .expect("bgpd.conf");
    let child = std::process::Command::new("/usr/lib/frr/bgpd")
        .arg("-f")
        .arg(&conf)
        .arg("-i")
        .arg(dir.join("bgpd.pid"))
        .arg("-z")
        .arg(dir.join("zserv.api"))
        .arg("--vty_socket")
        .arg(dir)
        .args(["-S", "-Z", "-n", "-P", "0", "-M", "bmp", "-l", listen, "-p"])
        .arg(port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start bgpd");
    Daemon {
        name: "bgpd",
        child,
        log,
    }
}

/// Why a daemon test cannot run here, if it cannot.
pub fn daemons_missing(need_bird: bool, need_frr: bool) -> Option<String> {
    if !is_root() {
        return Some("needs root (run the tests as root, as CI does)".into());
    }
    if need_bird && find_binary(&["/usr/sbin/bird"]).is_none() {
        return Some("BIRD 2 is not installed (Debian package bird2)".into());
    }
    if need_frr && find_binary(&["/usr/lib/frr/bgpd"]).is_none() {
        return Some("FRR is not installed (Debian package frr)".into());
    }
    None
}

/// A free TCP port on 127.0.0.1, from the kernel.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Receives feed events until `done` says so, or panics after `secs` seconds with
/// what came so far.
pub async fn events_until(
    events: &mut tokio::sync::mpsc::Receiver<blackout_feeds::FeedEvent>,
    seen: &mut Vec<blackout_feeds::FeedEvent>,
    secs: u64,
    what: &str,
    mut done: impl FnMut(&[blackout_feeds::FeedEvent]) -> bool,
) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
    while !done(seen) {
        match tokio::time::timeout_at(deadline, events.recv()).await {
            Ok(Some(event)) => seen.push(event),
            Ok(None) => panic!("{what}: the feed stopped; events so far: {seen:#?}"),
            Err(_) => panic!("{what}: not within {secs} s; events so far: {seen:#?}"),
        }
    }
}
