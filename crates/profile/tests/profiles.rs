//! The built-in profiles load, and bad files fail with the file, the line and the key.

use blackout_profile::{Check, ProfileError, UpstreamRole, builtin, load_file, load_str};
use std::io::Write;

fn located(text: &str) -> (Option<usize>, Option<String>, String) {
    match load_str(text, "test.toml") {
        Err(ProfileError::Invalid(located)) => {
            assert_eq!(located.file, "test.toml");
            (located.line, located.key, located.message)
        }
        Err(other) => panic!("expected a located error, got {other}"),
        Ok(_) => panic!("expected an error for:\n{text}"),
    }
}

const MINIMAL: &str =
    "name = \"t\"\n\n[[network]]\nname = \"n\"\nasn = 64500\nprefixes = [\"192.0.2.0/24\"]\n";

#[test]
fn kp_profile_watches_star_jv_and_its_upstreams() {
    let kp = builtin("kp").unwrap();
    assert_eq!(kp.country.as_deref(), Some("KP"));
    assert_eq!(kp.networks[0].asn.0, 131279);
    assert_eq!(kp.announced_prefixes().len(), 4);
    assert_eq!(kp.watched_prefixes().len(), 5);
    let expected: Vec<u32> = kp
        .upstreams
        .iter()
        .filter(|u| u.is_expected())
        .map(|u| u.asn.0)
        .collect();
    assert_eq!(expected, vec![4837, 20485]);
    assert_eq!(kp.upstreams[2].role, UpstreamRole::Historical);
    assert_eq!(
        kp.upstream_name(blackout_model::Asn(20485)),
        Some("TransTelecom")
    );
    // Host addresses are resolved at run time, not written in the profile.
    assert!(kp.hosts.iter().all(|host| host.address.is_none()));
    assert!(kp.zones.iter().any(|zone| zone.name == "kp"));
    assert!(!kp.controls.is_empty());
}

#[test]
fn lab_profile_uses_documentation_space_only() {
    let lab = builtin("lab").unwrap();
    let documentation: Vec<ipnet::IpNet> = [
        "192.0.2.0/24",
        "198.51.100.0/24",
        "203.0.113.0/24",
        "2001:db8::/32",
    ]
    .iter()
    .map(|p| p.parse().unwrap())
    .collect();
    let inside = |ip: std::net::IpAddr| documentation.iter().any(|net| net.contains(&ip));
    for prefix in lab.watched_prefixes() {
        assert!(
            documentation.iter().any(|net| net.contains(&prefix)),
            "{prefix}"
        );
    }
    for host in lab.hosts.iter().chain(&lab.controls) {
        assert!(inside(host.address.unwrap()), "{}", host.name);
    }
    for asn in lab
        .origin_asns()
        .into_iter()
        .chain(lab.upstreams.iter().map(|u| u.asn))
    {
        assert!((64496..=64511).contains(&asn.0), "{asn}");
    }
}

#[test]
fn every_builtin_loads() {
    for (name, _) in blackout_profile::BUILTIN {
        builtin(name).unwrap_or_else(|e| panic!("{name}: {e}"));
    }
    assert!(matches!(
        builtin("xx"),
        Err(ProfileError::UnknownBuiltin { .. })
    ));
}

#[test]
fn defaults_fill_what_is_left_out() {
    let profile = load_str(MINIMAL, "test.toml").unwrap();
    assert_eq!(profile.thresholds, blackout_profile::Thresholds::default());
    assert_eq!(profile.probes, blackout_profile::ProbeSettings::default());
}

#[test]
fn unknown_key_names_line_and_key() {
    let text = format!("{MINIMAL}\n[[upstream]]\nasn = 64501\nname = \"u\"\ncolour = \"red\"\n");
    let (line, key, message) = located(&text);
    assert_eq!(line, Some(11));
    assert!(key.unwrap().starts_with("upstream[0]"));
    assert!(message.contains("colour"), "{message}");
}

#[test]
fn wrong_type_names_line_and_key() {
    let text = MINIMAL.replace("asn = 64500", "asn = \"many\"");
    let (line, key, _) = located(&text);
    assert_eq!(line, Some(5));
    assert_eq!(key.as_deref(), Some("network[0].asn"));
}

#[test]
fn bad_prefix_names_line_and_key() {
    let text = MINIMAL.replace("192.0.2.0/24", "192.0.2.0/33");
    let (line, key, _) = located(&text);
    assert_eq!(line, Some(6));
    assert_eq!(key.as_deref(), Some("network[0].prefixes[0]"));
}

#[test]
fn threshold_out_of_range_names_line_and_key() {
    let text = format!("{MINIMAL}\n[thresholds]\nvisibility_down = 1.5\n");
    let (line, key, message) = located(&text);
    assert_eq!(line, Some(9));
    assert_eq!(key.as_deref(), Some("thresholds.visibility_down"));
    assert!(message.contains("0 to 1"));
}

#[test]
fn every_duration_is_finite_and_bounded() {
    // Each bad value is on line 9, under its table, and is refused with its key.
    let cases = [
        ("probes", "timeout_secs", "inf"),
        ("probes", "timeout_secs", "+inf"),
        ("probes", "timeout_secs", "nan"),
        ("probes", "timeout_secs", "1e300"),
        ("probes", "timeout_secs", "61"),
        ("probes", "timeout_secs", "0"),
        ("probes", "timeout_secs", "-1"),
        ("probes", "interval_secs", "inf"),
        ("probes", "interval_secs", "1e300"),
        ("probes", "interval_secs", "0"),
        ("probes", "interval_secs", "86401"),
        ("thresholds", "cut_settle_secs", "inf"),
        ("thresholds", "cut_settle_secs", "-inf"),
        ("thresholds", "cut_settle_secs", "1e300"),
        ("thresholds", "recovery_hold_secs", "86401"),
        ("thresholds", "flap_window_secs", "0"),
        ("thresholds", "flap_window_secs", "604801"),
        ("thresholds", "feed_stale_secs", "0"),
        ("thresholds", "feed_stale_secs", "18446744073709551615"),
    ];
    for (table, key, value) in cases {
        let text = format!("{MINIMAL}\n[{table}]\n{key} = {value}\n");
        let (line, found, message) = located(&text);
        assert_eq!(line, Some(9), "{table}.{key} = {value}: {message}");
        assert_eq!(
            found.as_deref(),
            Some(format!("{table}.{key}").as_str()),
            "{value}: {message}"
        );
        assert!(
            message.contains("seconds from"),
            "{key} = {value}: {message}"
        );
    }
    // The bounds themselves are allowed.
    for (table, key, value) in [
        ("probes", "timeout_secs", "60"),
        ("probes", "interval_secs", "86400"),
        ("thresholds", "cut_settle_secs", "0"),
        ("thresholds", "flap_window_secs", "604800"),
    ] {
        let text = format!("{MINIMAL}\n[{table}]\n{key} = {value}\n");
        load_str(&text, "test.toml").unwrap_or_else(|e| panic!("{key} = {value}: {e}"));
    }
}

#[test]
fn alert_timeouts_are_bounded() {
    for (key, value) in [
        ("timeout_ms", "0"),
        ("timeout_ms", "60001"),
        ("backoff_ms", "3600001"),
    ] {
        let text = format!("{MINIMAL}\n[alerts.retry]\n{key} = {value}\n");
        let (line, found, message) = located(&text);
        assert_eq!(line, Some(9), "{key} = {value}: {message}");
        assert_eq!(
            found.as_deref(),
            Some(format!("alerts.retry.{key}").as_str())
        );
        assert!(message.contains("milliseconds from"), "{message}");
    }
    let text = format!("{MINIMAL}\n[alerts.retry]\ntimeout_ms = 60000\n");
    load_str(&text, "test.toml").unwrap();
}

#[test]
fn bad_check_names_line_and_key() {
    let text =
        format!("{MINIMAL}\n[[host]]\nname = \"h.example\"\nchecks = [\"icmp\", \"gopher\"]\n");
    let (line, key, message) = located(&text);
    assert_eq!(line, Some(10));
    assert_eq!(key.as_deref(), Some("host[0].checks"));
    assert!(message.contains("gopher"));
}

#[test]
fn unknown_feed_type_is_rejected() {
    let text = format!("{MINIMAL}\n[[feed]]\ntype = \"carrier-pigeon\"\n");
    let (line, key, _) = located(&text);
    assert!(line.is_some());
    assert!(key.unwrap().starts_with("feed[0]"));
}

#[test]
fn broken_toml_names_the_line() {
    let (line, _, _) = located("name = \"t\"\n[[network]\n");
    assert_eq!(line, Some(2));
}

#[test]
fn host_bits_and_duplicates_are_rejected() {
    let (_, key, message) = located(&MINIMAL.replace("192.0.2.0/24", "192.0.2.1/24"));
    assert_eq!(key.as_deref(), Some("network[0].prefixes"));
    assert!(message.contains("192.0.2.0/24"));
    let (_, _, message) =
        located(&MINIMAL.replace("\"192.0.2.0/24\"", "\"192.0.2.0/24\", \"192.0.2.0/24\""));
    assert!(message.contains("twice"));
}

#[test]
fn checks_parse_and_print() {
    for (text, check) in [
        ("icmp", Check::Icmp),
        ("tcp:22", Check::Tcp(22)),
        (
            "http",
            Check::Http {
                port: 80,
                tls: false,
            },
        ),
        (
            "https:8443",
            Check::Http {
                port: 8443,
                tls: true,
            },
        ),
        ("smtp", Check::Smtp(25)),
        ("trace", Check::Trace),
    ] {
        assert_eq!(text.parse::<Check>(), Ok(check.clone()));
        assert_eq!(check.to_string(), text);
    }
    assert!("tcp:0".parse::<Check>().is_err());
    assert!("tcp".parse::<Check>().is_err());
}

#[test]
fn file_errors_name_the_file() {
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(b"name = \"t\"\nbogus = 1\n").unwrap();
    let error = load_file(file.path()).unwrap_err().to_string();
    assert!(
        error.starts_with(&file.path().display().to_string()),
        "{error}"
    );
    assert!(error.contains(":2"), "{error}");
    let missing = load_file(std::path::Path::new("/nonexistent/p.toml")).unwrap_err();
    assert!(missing.to_string().contains("/nonexistent/p.toml"));
}

/// The `[alerts]` sample of the docs, after MINIMAL (line 8 is `[alerts]`).
const ALERTS: &str = "
[alerts]
min_severity = \"critical\"

[[alerts.webhook]]
url = \"https://hooks.example/blackout\"
kind = \"json\"
token = \"s3cret\"

[[alerts.webhook]]
url = \"https://hooks.slack.example/services/T000/B000/XXXX\"
kind = \"slack\"

[alerts.email]
smtp_host = \"mail.example\"
smtp_port = 587
from = \"blackout@example\"
to = [\"noc@example\"]
starttls = true

[alerts.retry]
attempts = 3
backoff_ms = 1000
timeout_ms = 10000
";

#[test]
fn a_profile_carries_its_alerts() {
    let profile = load_str(&format!("{MINIMAL}{ALERTS}"), "test.toml").unwrap();
    let alerts = &profile.alerts;
    assert!(alerts.has_channels());
    assert_eq!(alerts.min_severity, blackout_model::Severity::Critical);
    assert_eq!(alerts.webhooks.len(), 2);
    assert_eq!(
        alerts.webhooks[1].kind,
        blackout_profile::WebhookKind::Slack
    );
    assert_eq!(alerts.email.as_ref().unwrap().to, vec!["noc@example"]);
    // Without the table: no channel, the defaults.
    let plain = load_str(MINIMAL, "test.toml").unwrap();
    assert_eq!(plain.alerts, blackout_profile::AlertConfig::default());
    assert!(!plain.alerts.has_channels());
    // The built-in profiles send no alerts.
    assert!(!builtin("kp").unwrap().alerts.has_channels());
}

#[test]
fn bad_alert_settings_name_line_and_key() {
    let text = |from: &str, to: &str| format!("{MINIMAL}{}", ALERTS.replace(from, to));
    // A wrong scheme: found after reading, still located.
    let (line, key, message) = located(&text("https://hooks.example", "ftp://hooks.example"));
    assert_eq!(line, Some(12));
    assert_eq!(key.as_deref(), Some("alerts.webhook[0].url"));
    assert!(message.contains("http:// or https://"), "{message}");
    // A second recipient that is no address.
    let (line, key, _) = located(&text(
        "[\"noc@example\"]",
        "[\"noc@example\",\n  \"nobody\"]",
    ));
    assert_eq!(line, Some(25));
    assert_eq!(key.as_deref(), Some("alerts.email.to[1]"));
    // An unknown key, a wrong kind, a wrong severity, zero attempts.
    let (line, key, message) = located(&text("token = ", "colour = "));
    assert_eq!(line, Some(14));
    assert!(key.unwrap().starts_with("alerts.webhook[0]"));
    assert!(message.contains("colour"), "{message}");
    let (line, key, _) = located(&text("kind = \"slack\"", "kind = \"teams\""));
    assert_eq!(line, Some(18));
    assert_eq!(key.as_deref(), Some("alerts.webhook[1].kind"));
    let (line, key, _) = located(&text("\"critical\"", "\"dire\""));
    assert_eq!(line, Some(9));
    assert_eq!(key.as_deref(), Some("alerts.min_severity"));
    let (line, key, _) = located(&text("attempts = 3", "attempts = 0"));
    assert_eq!(line, Some(28));
    assert_eq!(key.as_deref(), Some("alerts.retry.attempts"));
}

#[test]
fn an_alerts_file_holds_the_table_s_keys_at_the_top() {
    use blackout_profile::{load_alerts_file, load_alerts_str};
    let own = ALERTS.replace("[alerts]\n", "").replace("alerts.", "");
    let alerts = load_alerts_str(&own, "alerts.toml").unwrap();
    let profile = load_str(&format!("{MINIMAL}{ALERTS}"), "test.toml").unwrap();
    assert_eq!(alerts, profile.alerts);
    // Errors name the file, the line and the key as the file writes it.
    let bad = own.replace("https://hooks.example", "gopher://hooks.example");
    let Err(ProfileError::Invalid(located)) = load_alerts_str(&bad, "alerts.toml") else {
        panic!("a gopher URL passed")
    };
    assert_eq!(located.file, "alerts.toml");
    assert_eq!(located.line, Some(5));
    assert_eq!(located.key.as_deref(), Some("webhook[0].url"));
    // A profile's table pasted whole is refused, with what to write instead.
    let Err(ProfileError::Invalid(located)) = load_alerts_str(ALERTS, "alerts.toml") else {
        panic!("an [alerts] table passed")
    };
    assert_eq!(located.key.as_deref(), Some("alerts"));
    assert!(located.message.contains("top level"), "{}", located.message);
    // And a file that is not there says which.
    let missing = std::path::Path::new("/nonexistent/alerts.toml");
    let error = load_alerts_file(missing).unwrap_err().to_string();
    assert!(error.starts_with("/nonexistent/alerts.toml"), "{error}");
}

#[test]
fn the_readme_samples_load() {
    let readme = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../README.md"),
    )
    .unwrap();
    let block_after = |marker: &str| {
        let from = readme.find(marker).expect(marker) + marker.len();
        let start = readme[from..].find("```toml\n").unwrap() + from + "```toml\n".len();
        let end = readme[start..].find("```").unwrap() + start;
        readme[start..end].to_string()
    };
    let profile = load_str(&block_after("A complete sample:"), "README.md").unwrap();
    assert!(profile.alerts.has_channels());
    let alerts =
        blackout_profile::load_alerts_str(&block_after("**Alerts**"), "README.md").unwrap();
    assert!(alerts.email.is_some());
}

#[test]
fn entities_have_names_for_people() {
    let kp = builtin("kp").unwrap();
    let labels = kp.entity_labels();
    assert_eq!(labels["country:KP"], kp.label.clone().unwrap());
    assert_eq!(labels["upstream:4837"], "AS4837 China Unicom");
    let lab = builtin("lab").unwrap();
    let labels = lab.entity_labels();
    assert_eq!(
        labels["host:www.lab.example"],
        "www.lab.example (web server, building 1)"
    );
    assert_eq!(
        labels["service:http:www.lab.example"],
        "HTTP on www.lab.example (web server, building 1)"
    );
    assert_eq!(labels["as:64500"], "Lab origin");
}

#[test]
fn bmp_views_default_to_all_and_are_checked() {
    use blackout_profile::{BmpView, FeedConfig};
    let feed = "\n[[feed]]\ntype = \"bmp\"\nlisten = \"127.0.0.1:11019\"\n";
    let views_of = |text: &str| match &load_str(text, "test.toml").unwrap().feeds[0] {
        FeedConfig::Bmp { views, .. } => views.clone(),
        other => panic!("not a BMP feed: {other:?}"),
    };
    assert_eq!(views_of(&format!("{MINIMAL}{feed}")), BmpView::ALL.to_vec());
    assert_eq!(
        views_of(&format!(
            "{MINIMAL}{feed}views = [\"loc-rib\", \"post-policy\"]\n"
        )),
        vec![BmpView::PostPolicy, BmpView::LocRib]
    );
    let (line, key, message) = located(&format!("{MINIMAL}{feed}views = []\n"));
    assert_eq!((line, key.as_deref()), (Some(11), Some("feed[0].views")));
    assert!(message.contains("at least one view"), "{message}");
    let (line, key, message) = located(&format!(
        "{MINIMAL}{feed}views = [\"loc-rib\", \"loc-rib\"]\n"
    ));
    assert_eq!((line, key.as_deref()), (Some(11), Some("feed[0].views")));
    assert!(message.contains("loc-rib is listed twice"), "{message}");
    let (line, key, message) = located(&format!("{MINIMAL}{feed}views = [\"adj-rib-out\"]\n"));
    assert_eq!((line, key.as_deref()), (Some(11), Some("feed[0].views")));
    assert!(message.contains("pre-policy"), "{message}");
}

#[test]
fn the_quorum_is_a_majority_unless_a_count_is_given() {
    let default = load_str(MINIMAL, "test.toml").unwrap();
    assert_eq!(default.consensus.quorum, None);
    let majority = load_str(
        &format!("{MINIMAL}\n[consensus]\nquorum = \"majority\"\n"),
        "test.toml",
    )
    .unwrap();
    assert_eq!(majority.consensus.quorum, None);
    let two = load_str(
        &format!("{MINIMAL}\n[consensus]\nquorum = 2\n"),
        "test.toml",
    )
    .unwrap();
    assert_eq!(two.consensus.quorum, Some(2));
}

#[test]
fn a_bad_quorum_names_line_and_key() {
    for (value, says) in [("0", "1 to"), ("-3", "1 to"), ("\"most\"", "majority")] {
        let text = format!("{MINIMAL}\n[consensus]\nquorum = {value}\n");
        let (line, key, message) = located(&text);
        assert_eq!(line, Some(9), "{value}: {message}");
        assert_eq!(key.as_deref(), Some("consensus.quorum"), "{value}");
        assert!(message.contains(says), "{value}: {message}");
    }
    for value in ["2.5", "true"] {
        let text = format!("{MINIMAL}\n[consensus]\nquorum = {value}\n");
        let (line, key, _) = located(&text);
        assert_eq!(line, Some(9), "{value}");
        assert_eq!(key.as_deref(), Some("consensus.quorum"), "{value}");
    }
    let text = format!("{MINIMAL}\n[consensus]\nquorum = 2\nweight = 3\n");
    let (line, key, message) = located(&text);
    assert_eq!(line, Some(10));
    assert!(key.unwrap().starts_with("consensus"), "{message}");
    assert!(message.contains("weight"), "{message}");
}
