//! Real daemons a test starts on loopback and kills when it ends: BIRD 2 here
//! (the feed tests start FRR's bgpd too). They need root.

use std::path::{Path, PathBuf};

/// Is this process root? Daemon tests need it (FRR drops to its own user, BIRD binds).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .map(|l| l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// A daemon started by a test, killed when dropped.
pub struct Daemon {
    /// What it is (`bird`, `bgpd`), for messages.
    pub name: &'static str,
    /// The process.
    pub child: std::process::Child,
    /// Where it logs.
    pub log: PathBuf,
}

impl Daemon {
    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends a signal (STOP, CONT, KILL...) to the daemon.
    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([format!("-{signal}"), self.pid().to_string()])
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{signal} {}", self.name);
    }

    /// The daemon's log so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts BIRD 2 in the foreground with `config` (its log goes to `dir/bird.log`).
pub fn start_bird(dir: &Path, config: &str) -> Daemon {
    let conf = dir.join("bird.conf");
    let log = dir.join("bird.log");
    std::fs::write(&conf, format!("log \"{}\" all;\n{config}", log.display())).expect("bird.conf");
    let child = std::process::Command::new("bird")
        .arg("-f")
        .arg("-c")
        .arg(&conf)
        .arg("-s")
        .arg(dir.join("bird.ctl"))
        .arg("-P")
        .arg(dir.join("bird.pid"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start bird");
    Daemon {
        name: "bird",
        child,
        log,
    }
}

/// Why BIRD cannot run here, if it cannot.
pub fn bird_missing() -> Option<String> {
    if !is_root() {
        return Some("needs root (run the tests as root, as CI does)".into());
    }
    if !Path::new("/usr/sbin/bird").exists() {
        return Some("BIRD 2 is not installed (Debian package bird2)".into());
    }
    None
}
