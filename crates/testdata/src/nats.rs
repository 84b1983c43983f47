//! A nats-server of a test's own (Debian's package), on a loopback port, for the
//! tests and examples of many vantage points: started with JetStream and its
//! store in the test's temporary directory, or with a configuration file the test
//! wrote; killed when dropped. Without nats-server, [`NatsServer::installed`]
//! says on stderr that the test is skipped and why.

use std::ffi::OsString;
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a started nats-server may take to listen.
const LISTEN_WITHIN: Duration = Duration::from_secs(10);

/// A running nats-server, killed when dropped.
pub struct NatsServer {
    child: Option<Child>,
    port: u16,
    args: Vec<OsString>,
}

impl NatsServer {
    /// Is nats-server installed? If not, says on stderr that the test is skipped.
    pub fn installed() -> bool {
        let found = Command::new("nats-server")
            .arg("--version")
            .output()
            .is_ok();
        if !found {
            eprintln!(
                "skipped: nats-server is not installed (Debian package nats-server; test.sh installs it as root)"
            );
        }
        found
    }

    /// One with JetStream on a free loopback port, its store in `dir/store`; None
    /// (said on stderr) when nats-server is missing.
    pub fn start(dir: &Path) -> Option<NatsServer> {
        if !Self::installed() {
            return None;
        }
        let port = free_port();
        let mut args: Vec<OsString> = ["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd"]
            .iter()
            .map(OsString::from)
            .collect();
        args.push(dir.join("store").into_os_string());
        Some(Self::spawn(port, args))
    }

    /// One run with the configuration file at `config`, which must make it
    /// listen on 127.0.0.1:`port`.
    pub fn with_config(port: u16, config: &Path) -> NatsServer {
        Self::spawn(port, vec!["-c".into(), config.as_os_str().to_owned()])
    }

    fn spawn(port: u16, args: Vec<OsString>) -> NatsServer {
        let mut server = NatsServer {
            child: None,
            port,
            args,
        };
        server.restart();
        server
    }

    /// The loopback port it listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its URL, without a login.
    pub fn url(&self) -> String {
        format!("nats://127.0.0.1:{}", self.port)
    }

    /// Starts it (again) with the same port, store and settings, and waits until
    /// it listens.
    pub fn restart(&mut self) {
        self.kill();
        let child = Command::new("nats-server")
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        self.child = Some(child);
        let deadline = Instant::now() + LISTEN_WITHIN;
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it outright (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A loopback port free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free loopback port")
}
