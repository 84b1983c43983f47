//! Helpers for the live tests: skipping when root or a package is missing,
//! free loopback addresses and ports, daemons that die with the test, network
//! namespaces that are always removed, and re-running one test inside a namespace.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Is this process root? Says so on stderr when not.
pub fn root(test: &str) -> bool {
    let uid = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|ids| ids.split_whitespace().nth(1).map(str::to_string))
        })
        .unwrap_or_default();
    if uid != "0" {
        eprintln!("SKIPPED {test}: needs root");
        return false;
    }
    true
}

/// Is `program` installed? Says which package to install when not.
pub fn have(test: &str, program: &str, package: &str) -> bool {
    let found = ["/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        .iter()
        .any(|dir| Path::new(dir).join(program).exists());
    if !found {
        eprintln!("SKIPPED {test}: needs {program}: apt-get install {package}");
    }
    found
}

static NEXT: AtomicU32 = AtomicU32::new(1);

/// A loopback address of its own for each caller: 127.77.P.N, where P depends on
/// the process, so parallel test runs do not collide.
pub fn loopback() -> Ipv4Addr {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let p = (std::process::id() % 250) as u8;
    Ipv4Addr::new(127, 77, p, (n % 250 + 2) as u8)
}

/// A TCP port free on `ip` now.
pub fn free_port(ip: Ipv4Addr) -> u16 {
    let listener = TcpListener::bind((ip, 0)).expect("bind a free port");
    let port = listener.local_addr().expect("local address").port();
    // The UDP port of the same number must be free too (for DNS).
    match UdpSocket::bind((ip, port)) {
        Ok(_) => port,
        Err(_) => free_port(ip),
    }
}

/// Waits until something accepts TCP on `address`.
pub fn wait_tcp(address: SocketAddr, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    while Instant::now() < deadline {
        if std::net::TcpStream::connect_timeout(&address, Duration::from_millis(200)).is_ok() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}

/// A child process killed when dropped.
pub struct Daemon(pub Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        // SIGTERM first: a daemon killed outright leaves its own children behind
        // (nginx's workers outlive a SIGKILLed master); then SIGKILL if it lingers.
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(3);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts a daemon with its output sent to files in `dir`.
pub fn spawn(dir: &Path, name: &str, command: &mut Command) -> Daemon {
    let out = std::fs::File::create(dir.join(format!("{name}.out"))).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = command
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .spawn()
        .unwrap_or_else(|e| panic!("starting {name}: {e}"));
    Daemon(child)
}

/// Runs a command, panicking with its output if it fails.
pub fn sh(args: &[&str]) {
    let output = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("{args:?}: {e}"));
    assert!(
        output.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Network namespaces that are deleted when dropped (also when a test panics).
pub struct Namespaces(pub Vec<String>);

impl Namespaces {
    /// Creates namespaces named `bo<pid><suffix>` for each suffix, loopback up.
    pub fn create(suffixes: &[&str]) -> Namespaces {
        let pid = std::process::id();
        let names: Vec<String> = suffixes.iter().map(|s| format!("bo{pid}{s}")).collect();
        let guard = Namespaces(Vec::new());
        let mut guard = guard;
        for name in &names {
            sh(&["ip", "netns", "add", name]);
            guard.0.push(name.clone());
            sh(&["ip", "netns", "exec", name, "ip", "link", "set", "lo", "up"]);
        }
        guard
    }

    /// The full name for a suffix.
    pub fn name(&self, index: usize) -> &str {
        &self.0[index]
    }

    /// Runs a command inside namespace `index`.
    pub fn exec(&self, index: usize, args: &[&str]) {
        let mut full = vec!["ip", "netns", "exec", self.name(index)];
        full.extend_from_slice(args);
        sh(&full);
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for name in &self.0 {
            let _ = Command::new("ip").args(["netns", "del", name]).status();
        }
    }
}

/// Runs the ignored test `inner` of this test binary again, inside `netns` (if
/// any) and behind `prefix` (e.g. setpriv), with `env` set; returns its success
/// and output.
pub fn rerun(
    netns: Option<&str>,
    prefix: &[&str],
    inner: &str,
    env: &[(&str, String)],
) -> (bool, String) {
    let exe = std::env::current_exe().expect("the test binary");
    let mut args: Vec<String> = Vec::new();
    if let Some(ns) = netns {
        args.extend(["ip", "netns", "exec", ns].map(String::from));
    }
    args.extend(prefix.iter().map(|s| s.to_string()));
    args.push(exe.display().to_string());
    args.extend(
        [
            inner,
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads",
            "1",
        ]
        .map(String::from),
    );
    let mut command = Command::new(&args[0]);
    command.args(&args[1..]).env("BLACKOUT_INNER", "1");
    for (key, value) in env {
        command.env(key, value);
    }
    let output = command.output().expect("re-running the test binary");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    // libtest exits 0 when the filter matched nothing: insist the test ran.
    let ran = text.contains("test result: ok. 1 passed");
    (output.status.success() && ran, text)
}

/// Is this the inner run of a re-run test? Says so on stderr when not.
pub fn inner(test: &str) -> bool {
    if std::env::var_os("BLACKOUT_INNER").is_none() {
        eprintln!("SKIPPED {test}: runs only inside its outer test");
        return false;
    }
    true
}

/// A multi-threaded runtime for a test.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// An address literal as an `IpAddr`.
pub fn ip(text: &str) -> IpAddr {
    text.parse().expect("an address")
}
