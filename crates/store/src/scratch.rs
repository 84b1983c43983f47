//! A throwaway PostgreSQL cluster in a directory of its own, for tests and
//! benchmarks: `initdb` and `pg_ctl` from Debian's package, listening only on a
//! unix socket inside the directory (no TCP port, nothing shared).
//!
//! PostgreSQL refuses to run as root, so as root the cluster runs as the
//! `postgres` user (the package creates it) through `runuser`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A running cluster; dropped, it is stopped and its directory removed.
pub struct ScratchCluster {
    dir: PathBuf,
    bin: PathBuf,
    run_as: Option<String>,
}

/// Where PostgreSQL's programs are: `BLACKOUT_PG_BIN`, else Debian's newest
/// `/usr/lib/postgresql/N/bin` with an `initdb`.
pub fn find_binaries() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("BLACKOUT_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|entry| {
            let entry = entry.ok()?;
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

impl ScratchCluster {
    /// Starts a cluster with these extra server settings (`name=value`), or says
    /// why it cannot: the programs are missing, or a step failed.
    pub fn start(settings: &[&str]) -> Result<ScratchCluster, String> {
        let bin = find_binaries().ok_or_else(|| {
            "PostgreSQL's programs are not installed (Debian package `postgresql`; or set BLACKOUT_PG_BIN)".to_string()
        })?;
        let dir = std::env::temp_dir().join(format!(
            "blackout-pg-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let run_as = is_root().then(|| "postgres".to_string());
        if run_as.is_some() {
            // The postgres user must own the directory it runs in.
            let chown = Command::new("chown")
                .args(["postgres:postgres"])
                .arg(&dir)
                .status()
                .map_err(|e| format!("chown: {e}"))?;
            if !chown.success() {
                let _ = std::fs::remove_dir_all(&dir);
                return Err("as root the cluster runs as the user `postgres`, which chown could not give the directory to".into());
            }
        }
        let cluster = ScratchCluster { dir, bin, run_as };
        let data = cluster.dir.join("data");
        cluster.run(
            "initdb",
            &[
                "-D",
                path_str(&data)?,
                "-A",
                "trust",
                "-U",
                "blackout",
                "--no-sync",
                "-E",
                "UTF8",
                "--locale=C",
            ],
        )?;
        let mut options = format!(
            "-k {} -c listen_addresses='' -c max_connections=200",
            path_str(&cluster.dir)?
        );
        for setting in settings {
            options.push_str(&format!(" -c {setting}"));
        }
        cluster.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-l",
                path_str(&cluster.dir.join("log"))?,
                "-w",
                "-o",
                &options,
                "start",
            ],
        )?;
        Ok(cluster)
    }

    /// The directory of its unix socket (also its `-h` for psql and pgbench).
    pub fn socket_dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server (fast: sessions are cut off) and starts it again with
    /// the same settings, as a restart by its administrator would.
    pub fn restart(&self) -> Result<(), String> {
        let data = self.dir.join("data");
        self.run(
            "pg_ctl",
            &[
                "-D",
                path_str(&data)?,
                "-l",
                path_str(&self.dir.join("log"))?,
                "-m",
                "fast",
                "-w",
                "restart",
            ],
        )
        .map(|_| ())
    }

    /// Where its programs are.
    pub fn binaries(&self) -> &Path {
        &self.bin
    }

    /// A `--db` URL for database `postgres`, as user `blackout`, in `schema`.
    pub fn url(&self, schema: &str) -> String {
        format!(
            "postgres:///postgres?host={}&user=blackout&schema={schema}",
            self.dir.display()
        )
    }

    /// Runs one of PostgreSQL's programs (as `postgres` when root), failing with
    /// its output.
    pub fn run(&self, program: &str, args: &[&str]) -> Result<String, String> {
        let path = self.bin.join(program);
        let mut command = match &self.run_as {
            Some(user) => {
                let mut command = Command::new("runuser");
                command.args(["-u", user, "--"]).arg(&path);
                command
            }
            None => Command::new(&path),
        };
        let output = command
            .args(args)
            .current_dir(&self.dir)
            .output()
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if !output.status.success() {
            let log = std::fs::read_to_string(self.dir.join("log")).unwrap_or_default();
            return Err(format!(
                "{program} failed ({}): {}{}\n{log}",
                output.status,
                String::from_utf8_lossy(&output.stdout),
                String::from_utf8_lossy(&output.stderr)
            ));
        }
        Ok(String::from_utf8_lossy(&output.stdout).into_owned())
    }
}

static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

fn path_str(path: &Path) -> Result<&str, String> {
    path.to_str()
        .ok_or_else(|| format!("{} is not UTF-8", path.display()))
}

impl Drop for ScratchCluster {
    fn drop(&mut self) {
        if let Some(data) = self.dir.join("data").to_str() {
            let _ = self.run("pg_ctl", &["-D", data, "-m", "immediate", "-w", "stop"]);
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
