//! Running the tools the lab drives (`ip`, `tc`, `nft`, the daemons, `birdc`,
//! `vtysh`) with std::process::Command, inside a namespace where needed, and
//! finding and ending the lab's processes by pid, and waiting for what they
//! do ([`wait_for`]). [`netns_command`] is public:
//! tests and `blackout lab exec` run their own commands in the lab's namespaces
//! with it.

use crate::error::{LabError, Result};
use std::ffi::OsStr;
use std::io::Write as _;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};

fn describe(program: &str, args: &[&str]) -> String {
    let mut line = program.to_string();
    for arg in args {
        line.push(' ');
        line.push_str(arg);
    }
    line
}

/// Runs a command and returns its stdout; a non-zero exit is an error.
pub fn run(program: &str, args: &[&str]) -> Result<String> {
    let command = describe(program, args);
    let output = Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|source| LabError::Spawn {
            command: command.clone(),
            source,
        })?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    } else {
        Err(LabError::Command {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Runs a command inside a namespace (`ip netns exec`).
pub fn run_ns(ns: &str, program: &str, args: &[&str]) -> Result<String> {
    let mut full = vec!["netns", "exec", ns, program];
    full.extend_from_slice(args);
    run("ip", &full)
}

/// A command that runs `program` inside the network namespace `ns` (through
/// `ip netns exec`, which also gives it the namespace's own /etc/netns files
/// and /sys). Add arguments, stdio and environment as with any
/// [`Command`]; it needs root, like the lab.
pub fn netns_command(ns: &str, program: impl AsRef<OsStr>) -> Command {
    let mut command = Command::new("ip");
    command.args(["netns", "exec", ns]).arg(program);
    command
}

/// Runs a command inside a namespace and returns its exit code (-1 when it did
/// not start or was killed) and its stdout, whatever the code: for tools such
/// as fping whose stdout matters when they exit non-zero.
pub fn output_ns(ns: &str, program: &str, args: &[&str]) -> (i32, String) {
    netns_command(ns, program)
        .args(args)
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .map(|o| {
            (
                o.status.code().unwrap_or(-1),
                String::from_utf8_lossy(&o.stdout).into_owned(),
            )
        })
        .unwrap_or((-1, String::new()))
}

/// Runs `ip -batch -` (inside `ns` when given) over `lines`, one `ip` command
/// each: one process for many commands. It stops at the first that fails.
pub fn ip_batch(ns: Option<&str>, lines: &[String]) -> Result<()> {
    if lines.is_empty() {
        return Ok(());
    }
    let mut args = Vec::new();
    if let Some(ns) = ns {
        args.extend(["-n", ns]);
    }
    args.extend(["-batch", "-"]);
    let command = format!("{} <<< {}", describe("ip", &args), lines.join("; "));
    let mut child = Command::new("ip")
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| LabError::Spawn {
            command: command.clone(),
            source,
        })?;
    let mut text = lines.join("\n");
    text.push('\n');
    if let Some(mut stdin) = child.stdin.take() {
        // A write error means ip ended early; its exit status says why.
        let _ = stdin.write_all(text.as_bytes());
    }
    let output = child.wait_with_output().map_err(|source| LabError::Spawn {
        command: command.clone(),
        source,
    })?;
    if output.status.success() {
        Ok(())
    } else {
        Err(LabError::Command {
            command,
            status: output.status.to_string(),
            stderr: String::from_utf8_lossy(&output.stderr).trim().to_string(),
        })
    }
}

/// Runs a command and says only whether it succeeded (for probes and for
/// clean-up steps whose failure means "already gone").
pub fn ok(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

/// [`ok`] inside a namespace.
pub fn ok_ns(ns: &str, program: &str, args: &[&str]) -> bool {
    let mut full = vec!["netns", "exec", ns, program];
    full.extend_from_slice(args);
    ok("ip", &full)
}

/// Starts a long-running program inside a namespace, detached (its own session,
/// reparented away from us by `setsid -f`), with its output appended to `log`.
/// The program writes its own pid file.
pub fn spawn_detached_ns(ns: &str, program: &str, args: &[&str], log: &Path) -> Result<()> {
    let mut full = vec!["-f", "ip", "netns", "exec", ns, program];
    full.extend_from_slice(args);
    let command = describe("setsid", &full);
    let out = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .map_err(crate::error::io("open", log))?;
    let err = out.try_clone().map_err(crate::error::io("open", log))?;
    let status = Command::new("setsid")
        .args(&full)
        .stdin(Stdio::null())
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .status()
        .map_err(|source| LabError::Spawn {
            command: command.clone(),
            source,
        })?;
    if status.success() {
        Ok(())
    } else {
        Err(LabError::Command {
            command,
            status: status.to_string(),
            stderr: format!("see {}", log.display()),
        })
    }
}

/// Reads a pid file.
pub fn read_pid(path: &Path) -> Option<u32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Is the process alive (and not a zombie)?
pub fn alive(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses, which may contain spaces.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_some_and(|state| state != "Z" && state != "X"),
        Err(_) => false,
    }
}

/// The pid in a pid file, if that process is alive.
pub fn pid_alive(path: &Path) -> Option<u32> {
    read_pid(path).filter(|pid| alive(*pid))
}

/// Sends a signal to one process by pid.
pub fn signal(pid: u32, sig: &str) -> bool {
    ok("kill", &[&format!("-{sig}"), &pid.to_string()])
}

/// Ends one process: TERM, then KILL if it is still there after `grace`.
pub fn stop_pid(pid: u32, grace: std::time::Duration) {
    if !alive(pid) {
        return;
    }
    signal(pid, "TERM");
    let until = std::time::Instant::now() + grace;
    while alive(pid) && std::time::Instant::now() < until {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    if alive(pid) {
        signal(pid, "KILL");
        let until = std::time::Instant::now() + std::time::Duration::from_secs(2);
        while alive(pid) && std::time::Instant::now() < until {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
    }
}

/// The pids of every process in a namespace.
pub fn netns_pids(ns: &str) -> Vec<u32> {
    run("ip", &["netns", "pids", ns])
        .map(|out| {
            out.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// The namespaces that exist.
pub fn netns_list() -> Vec<String> {
    run("ip", &["netns", "list"])
        .map(|out| {
            out.lines()
                .filter_map(|line| line.split_whitespace().next())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// Is the effective user root? Read from /proc so no unsafe call is needed.
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            status
                .lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2))
                .map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

/// Asks `check` every `every` until it gives a value, for at most `limit`;
/// then fails with what its last refusal says is still awaited.
pub(crate) fn wait_for<T>(
    limit: std::time::Duration,
    every: std::time::Duration,
    mut check: impl FnMut() -> std::result::Result<T, String>,
) -> Result<T> {
    let until = std::time::Instant::now() + limit;
    loop {
        let awaited = match check() {
            Ok(value) => return Ok(value),
            Err(awaited) => awaited,
        };
        if std::time::Instant::now() > until {
            return Err(LabError::Timeout {
                what: awaited,
                secs: limit.as_secs(),
            });
        }
        std::thread::sleep(every);
    }
}
