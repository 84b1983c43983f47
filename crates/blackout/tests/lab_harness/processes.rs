//! Processes the lab tests of many vantage points start in the lab's namespaces
//! (`agents_lab`, `relayed_feeds_lab`): any program, ended when dropped, and a
//! nats-server with JetStream in `bo-central`.

use super::{Watch, api_get, now_secs, say};
use blackout_lab::topology::ns;
use serde_json::Value;
use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The broker's client port, on the central's management address.
pub const NATS_PORT: u16 = 4222;
/// The broker's monitoring port, on `bo-central`'s loopback.
pub const NATS_MONITOR: &str = "127.0.0.1:8222";
/// The central's API, on its namespace's loopback.
pub const CENTRAL_API: &str = "127.0.0.1:8470";

/// The central `watch` in `ns`: the broker's results read with the durable
/// consumer `durable`, no probes of its own, its API on [`CENTRAL_API`].
pub fn start_central(
    ns: &str,
    durable: &str,
    profile: &Path,
    db: &Path,
    vrps: &Path,
    url: &str,
    log: &Path,
) -> Watch {
    let mut args: Vec<OsString> = vec!["watch".into(), "--config".into(), profile.into()];
    args.extend(["--db".into(), db.into(), "--vrps".into(), vrps.into()]);
    args.extend(["--listen", CENTRAL_API, "--format", "json"].map(OsString::from));
    args.extend(["--nats", url, "--durable", durable, "--no-probes"].map(OsString::from));
    Watch::spawn(ns, &args, log)
}

/// A process this test started (the broker, an agent), ended when dropped.
pub struct Started {
    pub child: Child,
    pub log: PathBuf,
}

impl Started {
    pub fn spawn(ns: &str, program: &str, args: &[OsString], log: &Path) -> Started {
        let file = std::fs::File::create(log).expect("a log file");
        let child = Command::new("ip")
            .args(["netns", "exec", ns, program])
            .args(args)
            .stdin(Stdio::null())
            .stdout(file.try_clone().expect("log"))
            .stderr(file)
            .spawn()
            .unwrap_or_else(|e| panic!("start {program} in {ns}: {e}"));
        Started {
            child,
            log: log.to_path_buf(),
        }
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends `signal` and waits up to 20 s for the process to end; its log.
    pub fn end(&mut self, signal: &str) -> Result<String, String> {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args([signal, &pid]).status();
        let until = Instant::now() + Duration::from_secs(20);
        while Instant::now() < until {
            if let Ok(Some(_)) = self.child.try_wait() {
                return Ok(self.log());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
        Err(format!(
            "did not end within 20 s of {signal}:\n{}",
            self.log()
        ))
    }
}

impl Drop for Started {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// nats-server with JetStream in `bo-central`, on the management address.
pub struct Broker {
    pub process: Started,
    dir: PathBuf,
    addr: String,
}

impl Broker {
    pub fn start(dir: &Path, addr: &str) -> Broker {
        let process = Broker::spawn(dir, addr);
        Broker {
            process,
            dir: dir.to_path_buf(),
            addr: addr.to_string(),
        }
    }

    fn spawn(dir: &Path, addr: &str) -> Started {
        // A file, as the monitoring port's own address has no flag.
        let conf = dir.join("nats-server.conf");
        let text = format!(
            "listen: \"{addr}:{NATS_PORT}\"\nhttp: \"{NATS_MONITOR}\"\n\
             jetstream {{ store_dir: \"{}\" }}\n",
            dir.join("store").display()
        );
        std::fs::write(&conf, text).expect("write the broker's configuration");
        let args: Vec<OsString> = vec!["-c".into(), conf.into()];
        let log = dir.join(format!("nats-{}.log", now_secs() as u64));
        let started = Started::spawn(ns::CENTRAL, "nats-server", &args, &log);
        let until = Instant::now() + Duration::from_secs(20);
        while jsz().is_err() {
            assert!(
                Instant::now() < until,
                "nats-server did not start:\n{}",
                started.log()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
        started
    }

    pub fn url(&self) -> String {
        format!("nats://{}:{NATS_PORT}", self.addr)
    }

    pub fn kill(&mut self) {
        let _ = self.process.end("-KILL");
    }

    pub fn restart(&mut self) {
        self.process = Broker::spawn(&self.dir, &self.addr);
    }
}

/// The broker's JetStream report, with the streams and consumers.
pub fn jsz() -> Result<Value, String> {
    api_get(
        ns::CENTRAL,
        NATS_MONITOR,
        "/jsz?accounts=true&streams=true&consumers=true",
    )
}

/// Can `test` run nats-server here? Without it, it says so and the test passes,
/// unless `BLACKOUT_LAB_REQUIRED=1`.
pub fn nats_allowed(test: &str) -> bool {
    if Command::new("nats-server")
        .arg("--version")
        .output()
        .is_ok()
    {
        return true;
    }
    say(&format!(
        "{test}: NOT RUN: nats-server is not installed (Debian package nats-server)"
    ));
    assert!(
        std::env::var("BLACKOUT_LAB_REQUIRED").as_deref() != Ok("1"),
        "nats-server is missing"
    );
    false
}
