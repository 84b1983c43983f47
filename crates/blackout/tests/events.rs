//! `blackout events` on a database that `blackout replay --db` wrote.

mod support;

use support::*;

const T0: f64 = 1_735_689_600.0;

fn replay_into_db(scratch: &Scratch) -> std::path::PathBuf {
    scratch.write_gz("rrc00/bview.20250101.0000.gz", &baseline_rib(T0));
    let mut withdrawals = Vec::new();
    for n in 1..=4u8 {
        withdrawals.push(elem(T0 + 300.0 + f64::from(n), n, "203.0.113.128/26", None));
    }
    scratch.write_gz("rrc00/updates.20250101.0005.gz", &updates(&withdrawals));
    let hijack = [elem(T0 + 900.0, 3, "203.0.113.0/27", Some(&[64513, 64499]))];
    scratch.write_gz("rrc00/updates.20250101.0015.gz", &updates(&hijack));
    let db = scratch.path("blackout.db");
    let profile = scratch.profile();
    let dir = scratch.path("rrc00");
    let output = blackout(
        &[
            "replay",
            "--config",
            profile.to_str().unwrap(),
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
            dir.to_str().unwrap(),
        ],
        &scratch.path(""),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    db
}

#[test]
fn replay_writes_events_that_events_lists_newest_first() {
    let scratch = Scratch::new();
    let db = replay_into_db(&scratch);
    let output = blackout(
        &["events", "--db", db.to_str().unwrap(), "--format", "json"],
        &scratch.path(""),
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let events = json_lines(&output);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0]["cause"], "hijack");
    assert_eq!(events[1]["cause"], "partial");
    // Filters.
    let output = blackout(
        &[
            "events",
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
            "--cause",
            "partial",
        ],
        &scratch.path(""),
    );
    assert_eq!(json_lines(&output).len(), 1);
    let output = blackout(
        &[
            "events",
            "--db",
            db.to_str().unwrap(),
            "--format",
            "json",
            "--until",
            "2025-01-01T00:10:00Z",
        ],
        &scratch.path(""),
    );
    assert_eq!(json_lines(&output).len(), 1);
    let output = blackout(
        &[
            "events",
            "--db",
            db.to_str().unwrap(),
            "--entity",
            "prefix:203.0.113.0/26",
        ],
        &scratch.path(""),
    );
    let table = String::from_utf8_lossy(&output.stdout);
    assert!(
        table.contains("hijack") && !table.contains("partial"),
        "{table}"
    );
    // Replaying the same archives again adds no twin.
    replay_into_db(&scratch);
    let output = blackout(
        &["events", "--db", db.to_str().unwrap(), "--format", "json"],
        &scratch.path(""),
    );
    assert_eq!(json_lines(&output).len(), 2);
}

#[test]
fn a_missing_database_and_bad_flags_are_clear_errors() {
    let scratch = Scratch::new();
    let output = blackout(&["events", "--db", "nowhere.db"], &scratch.path(""));
    assert_eq!(output.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&output.stderr).contains("no database at nowhere.db"));
    let db = replay_into_db(&scratch);
    let output = blackout(
        &[
            "events",
            "--db",
            db.to_str().unwrap(),
            "--since",
            "last tuesday",
        ],
        &scratch.path(""),
    );
    assert_eq!(output.status.code(), Some(2));
    let output = blackout(
        &["events", "--db", db.to_str().unwrap(), "--cause", "aliens"],
        &scratch.path(""),
    );
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("aliens"));
}
