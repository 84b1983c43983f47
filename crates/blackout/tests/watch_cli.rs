//! `blackout watch` refuses what cannot work before it starts anything: a bad
//! profile, bad alert settings (in the profile or in an `--alerts` file) stop it
//! with exit 2 and a message that names the file, the line and the key; a
//! `--listen` address already taken stops it with exit 1 and says what to do; an
//! error says each reason once.
//! Nothing here sends a packet beyond loopback: the profiles have no feed and no
//! host.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

/// A profile with nothing to probe and no feed: watch would sit idle.
const QUIET: &str = r#"name = "quiet"
description = "a network watched by nothing"

[[network]]
name = "Quiet Net"
asn = 64500
prefixes = ["192.0.2.0/24"]
"#;

struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Self {
        Scratch(tempfile::tempdir().unwrap())
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn db(&self) -> PathBuf {
        self.0.path().join("blackout.db")
    }
}

/// Runs `blackout watch ARGS --db DB`, which must stop by itself within 20 s.
fn watch(scratch: &Scratch, args: &[&str]) -> Output {
    let mut child = Command::new(env!("CARGO_BIN_EXE_blackout"))
        .arg("watch")
        .args(args)
        .arg("--db")
        .arg(scratch.db())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("watch {args:?} did not stop by itself");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    child.wait_with_output().unwrap()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).to_string()
}

fn config(path: &Path) -> String {
    path.display().to_string()
}

#[test]
fn a_bad_profile_stops_watch_with_its_file_line_and_key() {
    let scratch = Scratch::new();
    let profile = scratch.write(
        "bad.toml",
        &QUIET.replace("asn = 64500", "asn = 64500\ncolour = \"red\""),
    );
    let output = watch(&scratch, &["--config", &config(&profile)]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("{}:7", profile.display())), "{text}");
    assert!(text.contains("key `network[0]"), "{text}");
    assert!(text.contains("colour"), "{text}");
    assert!(!scratch.db().exists(), "watch opened the database anyway");
}

#[test]
fn bad_alerts_in_a_profile_stop_watch_with_file_line_and_key() {
    let scratch = Scratch::new();
    let profile = scratch.write(
        "alerts.toml",
        &format!("{QUIET}\n[[alerts.webhook]]\nurl = \"ftp://hooks.example/x\"\nkind = \"json\"\n"),
    );
    let output = watch(&scratch, &["--config", &config(&profile)]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(
        text.contains(&format!("{}:10", profile.display())),
        "{text}"
    );
    assert!(text.contains("key `alerts.webhook[0].url`"), "{text}");
    assert!(text.contains("http:// or https://"), "{text}");
}

#[test]
fn a_bad_alerts_file_stops_watch_with_its_file_line_and_key() {
    let scratch = Scratch::new();
    let profile = scratch.write("quiet.toml", QUIET);
    let alerts = scratch.write(
        "alerts.toml",
        "min_severity = \"critical\"\n\n[email]\nsmtp_host = \"127.0.0.1\"\nfrom = \"blackout@example.org\"\nto = [\"noc@example.org\", \"not an address\"]\n",
    );
    let output = watch(
        &scratch,
        &["--config", &config(&profile), "--alerts", &config(&alerts)],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("{}:6", alerts.display())), "{text}");
    assert!(text.contains("key `email.to[1]`"), "{text}");
    assert!(text.contains("not an address"), "{text}");
    // An unknown key, with the built-in profile the option is for
    let alerts = scratch.write(
        "typo.toml",
        "[[webhook]]\nurl = \"http://127.0.0.1:9/\"\nkind = \"json\"\nretries = 5\n",
    );
    let output = watch(&scratch, &["--alerts", &config(&alerts)]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains(&format!("{}:4", alerts.display())), "{text}");
    assert!(text.contains("key `webhook[0]"), "{text}");
    assert!(text.contains("retries"), "{text}");
    // And a file that is not there
    let output = watch(&scratch, &["--alerts", "/nonexistent/alerts.toml"]);
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(2), "{text}");
    assert!(text.contains("/nonexistent/alerts.toml"), "{text}");
}

#[test]
fn a_listen_address_in_use_is_a_clear_error() {
    let scratch = Scratch::new();
    let profile = scratch.write("quiet.toml", QUIET);
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let address = taken.local_addr().unwrap().to_string();
    let output = watch(
        &scratch,
        &["--config", &config(&profile), "--listen", &address],
    );
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(
        text.contains(&format!("cannot listen on {address}")),
        "{text}"
    );
    assert!(text.contains("--listen"), "{text}");
    assert_eq!(
        text.matches("in use").count(),
        1,
        "the reason said twice: {text}"
    );
    assert!(!text.contains("panicked"), "{text}");
    assert!(
        !text.contains("blackout: watching"),
        "no banner for a watch that never started: {text}"
    );
    drop(taken);
}

#[test]
fn a_database_in_a_missing_directory_says_the_reason_once() {
    let scratch = Scratch::new();
    let profile = scratch.write("quiet.toml", QUIET);
    let db = scratch.0.path().join("no-such-dir").join("blackout.db");
    let output = Command::new(env!("CARGO_BIN_EXE_blackout"))
        .args([
            "watch",
            "--config",
            &config(&profile),
            "--listen",
            "127.0.0.1:0",
            "--db",
        ])
        .arg(&db)
        .output()
        .unwrap();
    let text = stderr(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    assert!(text.contains("no-such-dir"), "{text}");
    let reason = std::io::Error::from_raw_os_error(2).to_string();
    assert_eq!(
        text.matches(reason.as_str()).count(),
        1,
        "the operating system's reason said more than once: {text}"
    );
}
