//! The profile file as written, read strictly, and its checks.
//!
//! Reading and checking are one pure function of the text; the key path of a
//! failure comes from `serde_path_to_error` while reading and from the check itself
//! afterwards, and its line from the TOML spans.

use crate::alerts::AlertConfig;
use crate::error::{Located, ProfileError};
use crate::locate::{line_of, line_of_key};
use crate::model::*;
use blackout_model::Asn;
use ipnet::IpNet;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawProfile {
    name: String,
    #[serde(default)]
    description: String,
    label: Option<String>,
    country: Option<String>,
    #[serde(default)]
    network: Vec<RawNetwork>,
    #[serde(default)]
    upstream: Vec<RawUpstream>,
    #[serde(default)]
    host: Vec<RawHost>,
    #[serde(default)]
    zone: Vec<RawZone>,
    #[serde(default)]
    mail: Vec<RawMail>,
    #[serde(default)]
    control: Vec<RawHost>,
    #[serde(default)]
    feed: Vec<RawFeed>,
    #[serde(default)]
    thresholds: RawThresholds,
    #[serde(default)]
    probes: RawProbes,
    #[serde(default)]
    consensus: RawConsensus,
    #[serde(default)]
    alerts: AlertConfig,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawNetwork {
    name: String,
    asn: u32,
    prefixes: Vec<IpNet>,
    #[serde(default)]
    aggregates: Vec<IpNet>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawUpstream {
    asn: u32,
    name: String,
    #[serde(default = "default_role")]
    role: RawRole,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawRole {
    Primary,
    Backup,
    Historical,
}

fn default_role() -> RawRole {
    RawRole::Primary
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    name: String,
    label: Option<String>,
    address: Option<IpAddr>,
    #[serde(default)]
    checks: Vec<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawServer {
    Name(String),
    Full {
        name: String,
        address: Option<IpAddr>,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawZone {
    name: String,
    servers: Vec<RawServer>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMail {
    domain: Option<String>,
    host: Option<String>,
    address: Option<IpAddr>,
    #[serde(default = "default_smtp_port")]
    port: u16,
}

fn default_smtp_port() -> u16 {
    25
}

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "kebab-case", deny_unknown_fields)]
enum RawFeed {
    RisLive {
        url: String,
    },
    Bmp {
        listen: SocketAddr,
        #[serde(default)]
        allow: Vec<IpAddr>,
        // Read as text and checked here: a feed is an internally tagged enum, whose
        // inner values serde reports without their line.
        views: Option<Vec<String>>,
    },
    Bgp {
        peer: IpAddr,
        peer_as: u32,
        local_as: u32,
        router_id: std::net::Ipv4Addr,
        #[serde(default = "default_mode")]
        mode: RawMode,
        #[serde(default = "default_bgp_port")]
        port: u16,
    },
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "lowercase")]
enum RawMode {
    Passive,
    Active,
}

fn default_mode() -> RawMode {
    RawMode::Passive
}

fn default_bgp_port() -> u16 {
    179
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    full_feed_ratio: Option<f64>,
    visibility_down: Option<f64>,
    visibility_up: Option<f64>,
    upstream_down: Option<f64>,
    upstream_up: Option<f64>,
    recovery_hold_secs: Option<u64>,
    cut_settle_secs: Option<f64>,
    flap_count: Option<u32>,
    flap_window_secs: Option<u64>,
    feed_stale_secs: Option<u64>,
    loss_degraded: Option<f64>,
    partial_share: Option<f64>,
    internal_share: Option<f64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawProbes {
    interval_secs: Option<f64>,
    jitter: Option<f64>,
    timeout_secs: Option<f64>,
    retries: Option<u32>,
    rate_per_sec: Option<u32>,
    reactive_trace_events: Option<u32>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct RawConsensus {
    quorum: Option<RawQuorum>,
}

/// `quorum = 2` or `quorum = "majority"`.
#[derive(Deserialize)]
#[serde(untagged)]
enum RawQuorum {
    Count(i64),
    Word(String),
}

/// The most vantage points a quorum may ask for.
pub const MAX_QUORUM: i64 = 1_000;

/// The most events whose targets are traced within 10 minutes: each costs up to
/// four traceroutes of up to 30 hops.
pub const MAX_REACTIVE_TRACE_EVENTS: u32 = 1_000;

/// The longest timeout of any probe: a silent host costs at most this per try.
pub const MAX_TIMEOUT_SECS: f64 = 60.0;
/// The shortest probe timeout or interval: below it, timers and rate limits blur.
pub const MIN_PROBE_SECS: f64 = 0.01;
/// The longest probe interval: a day; beyond it the host is not being watched.
pub const MAX_INTERVAL_SECS: f64 = 86_400.0;
/// The longest settling time after a cut.
pub const MAX_SETTLE_SECS: f64 = 3_600.0;
/// The longest recovery hold and feed staleness: a day.
pub const MAX_HOLD_SECS: u64 = 86_400;
/// The longest flap window: a week.
pub const MAX_FLAP_WINDOW_SECS: u64 = 7 * 86_400;

/// Reads the text strictly: unknown keys and wrong types are errors with a line and a key.
pub(crate) fn parse<T: DeserializeOwned>(text: &str, origin: &str) -> Result<T, ProfileError> {
    let deserializer = toml::Deserializer::parse(text).map_err(|error| {
        ProfileError::Invalid(Located {
            file: origin.to_string(),
            line: error.span().map(|span| line_of(text, span.start)),
            key: None,
            message: error.message().trim().to_string(),
        })
    })?;
    serde_path_to_error::deserialize(deserializer).map_err(|error| {
        let path = error.path().to_string();
        let inner = error.into_inner();
        let key = (path != ".").then_some(path);
        let line = inner
            .span()
            .map(|span| line_of(text, span.start))
            .or_else(|| key.as_deref().and_then(|key| line_of_key(text, key)));
        ProfileError::Invalid(Located {
            file: origin.to_string(),
            line,
            key,
            message: inner.message().trim().to_string(),
        })
    })
}

/// Checks an alerts table read on its own (an alerts-only file); `prefix` is what
/// stands before its keys in the text (`alerts.` in a profile, nothing in an
/// alerts-only file).
pub(crate) fn check_alerts(
    alerts: &AlertConfig,
    text: &str,
    origin: &str,
    prefix: &str,
) -> Result<(), ProfileError> {
    alerts.validate().map_err(|error| {
        let check = Checker { text, origin };
        check.fail(format!("{prefix}{}", error.key()), error.reason())
    })
}

/// Collects check failures with their key, then locates the first.
struct Checker<'a> {
    text: &'a str,
    origin: &'a str,
}

impl Checker<'_> {
    fn fail(&self, key: String, message: impl Into<String>) -> ProfileError {
        ProfileError::Invalid(Located {
            file: self.origin.to_string(),
            line: line_of_key(self.text, &key),
            key: Some(key),
            message: message.into(),
        })
    }

    fn share(&self, key: &str, value: Option<f64>, default: f64) -> Result<f64, ProfileError> {
        let value = value.unwrap_or(default);
        if !(0.0..=1.0).contains(&value) {
            return Err(self.fail(
                format!("thresholds.{key}"),
                format!("{value} is not a share: write a number from 0 to 1"),
            ));
        }
        Ok(value)
    }

    /// A duration in seconds that must be finite and within `range` (`inf`, `nan` and
    /// `1e300` are numbers to TOML, and a probe would wait on them forever).
    fn seconds(
        &self,
        key: &str,
        value: f64,
        range: std::ops::RangeInclusive<f64>,
    ) -> Result<f64, ProfileError> {
        if value.is_finite() && range.contains(&value) {
            Ok(value)
        } else {
            Err(self.fail(
                key.to_string(),
                format!(
                    "{value} is not a usable duration: write seconds from {} to {}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    }

    /// Whole seconds that must be within `range`.
    fn whole_seconds(
        &self,
        key: &str,
        value: u64,
        range: std::ops::RangeInclusive<u64>,
    ) -> Result<u64, ProfileError> {
        if range.contains(&value) {
            Ok(value)
        } else {
            Err(self.fail(
                key.to_string(),
                format!(
                    "{value} is not a usable duration: write whole seconds from {} to {}",
                    range.start(),
                    range.end()
                ),
            ))
        }
    }

    fn name(&self, key: String, name: &str) -> Result<(), ProfileError> {
        let ok = !name.is_empty()
            && name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | ':'));
        if ok {
            Ok(())
        } else {
            Err(self.fail(key, format!("`{name}` is not a host name or address")))
        }
    }
}

impl RawProfile {
    /// Checks the values and builds the validated profile.
    pub(crate) fn validate(self, text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let check = Checker { text, origin };
        if self.name.is_empty() {
            return Err(check.fail("name".into(), "the profile needs a name"));
        }
        if let Some(country) = &self.country
            && !(country.len() == 2 && country.chars().all(|c| c.is_ascii_uppercase()))
        {
            return Err(check.fail(
                "country".into(),
                format!("`{country}` is not an ISO 3166 code: write two capital letters, like KP"),
            ));
        }
        if self.network.is_empty() {
            return Err(check.fail(
                "network".into(),
                "the profile watches no network: add a [[network]] with an asn and prefixes",
            ));
        }
        let mut networks = Vec::new();
        let mut seen_prefixes = BTreeSet::new();
        for (i, network) in self.network.into_iter().enumerate() {
            if network.prefixes.is_empty() {
                return Err(
                    check.fail(format!("network[{i}].prefixes"), "list at least one prefix")
                );
            }
            for (field, list) in [
                ("prefixes", &network.prefixes),
                ("aggregates", &network.aggregates),
            ] {
                for prefix in list {
                    if prefix.trunc() != *prefix {
                        return Err(check.fail(
                            format!("network[{i}].{field}"),
                            format!(
                                "{prefix} has host bits set: did you mean {}?",
                                prefix.trunc()
                            ),
                        ));
                    }
                    if !seen_prefixes.insert(*prefix) {
                        return Err(check.fail(
                            format!("network[{i}].{field}"),
                            format!("{prefix} is listed twice"),
                        ));
                    }
                }
            }
            networks.push(Network {
                name: network.name,
                asn: Asn(network.asn),
                prefixes: network.prefixes,
                aggregates: network.aggregates,
            });
        }
        let mut upstreams: Vec<Upstream> = Vec::new();
        for (i, upstream) in self.upstream.into_iter().enumerate() {
            if upstreams.iter().any(|known| known.asn.0 == upstream.asn) {
                return Err(check.fail(
                    format!("upstream[{i}].asn"),
                    format!("AS{} is listed twice", upstream.asn),
                ));
            }
            upstreams.push(Upstream {
                asn: Asn(upstream.asn),
                name: upstream.name,
                role: match upstream.role {
                    RawRole::Primary => UpstreamRole::Primary,
                    RawRole::Backup => UpstreamRole::Backup,
                    RawRole::Historical => UpstreamRole::Historical,
                },
            });
        }
        let hosts = parse_hosts(&check, "host", self.host)?;
        let controls = parse_hosts(&check, "control", self.control)?;
        let mut zones = Vec::new();
        for (i, zone) in self.zone.into_iter().enumerate() {
            check.name(format!("zone[{i}].name"), &zone.name)?;
            if zone.servers.is_empty() {
                return Err(check.fail(
                    format!("zone[{i}].servers"),
                    "list the zone's authoritative servers",
                ));
            }
            let mut servers = Vec::new();
            for server in zone.servers {
                let (name, address) = match server {
                    RawServer::Name(name) => (name, None),
                    RawServer::Full { name, address } => (name, address),
                };
                check.name(format!("zone[{i}].servers"), &name)?;
                servers.push(NameServer { name, address });
            }
            zones.push(Zone {
                name: zone.name.trim_end_matches('.').to_string(),
                servers,
            });
        }
        let mut mail = Vec::new();
        for (i, server) in self.mail.into_iter().enumerate() {
            if server.domain.is_none() && server.host.is_none() && server.address.is_none() {
                return Err(check.fail(
                    format!("mail[{i}]"),
                    "give a domain (its MX hosts are looked up), a host or an address",
                ));
            }
            mail.push(MailServer {
                domain: server.domain,
                host: server.host,
                address: server.address,
                port: server.port,
            });
        }
        let feeds = self
            .feed
            .into_iter()
            .enumerate()
            .map(|(i, feed)| {
                Ok(match feed {
                    RawFeed::RisLive { url } => FeedConfig::RisLive { url },
                    RawFeed::Bmp {
                        listen,
                        allow,
                        views,
                    } => FeedConfig::Bmp {
                        listen,
                        allow,
                        views: bmp_views(&check, i, views)?,
                    },
                    RawFeed::Bgp {
                        peer,
                        peer_as,
                        local_as,
                        router_id,
                        mode,
                        port,
                    } => FeedConfig::Bgp {
                        peer,
                        peer_as: Asn(peer_as),
                        local_as: Asn(local_as),
                        router_id,
                        mode: match mode {
                            RawMode::Passive => SessionMode::Passive,
                            RawMode::Active => SessionMode::Active,
                        },
                        port,
                    },
                })
            })
            .collect::<Result<Vec<_>, ProfileError>>()?;
        let defaults = Thresholds::default();
        let t = self.thresholds;
        let thresholds = Thresholds {
            full_feed_ratio: check.share(
                "full_feed_ratio",
                t.full_feed_ratio,
                defaults.full_feed_ratio,
            )?,
            visibility_down: check.share(
                "visibility_down",
                t.visibility_down,
                defaults.visibility_down,
            )?,
            visibility_up: check.share("visibility_up", t.visibility_up, defaults.visibility_up)?,
            upstream_down: check.share("upstream_down", t.upstream_down, defaults.upstream_down)?,
            upstream_up: check.share("upstream_up", t.upstream_up, defaults.upstream_up)?,
            recovery_hold_secs: t.recovery_hold_secs.unwrap_or(defaults.recovery_hold_secs),
            cut_settle_secs: t.cut_settle_secs.unwrap_or(defaults.cut_settle_secs),
            flap_count: t.flap_count.unwrap_or(defaults.flap_count),
            flap_window_secs: t.flap_window_secs.unwrap_or(defaults.flap_window_secs),
            feed_stale_secs: t.feed_stale_secs.unwrap_or(defaults.feed_stale_secs),
            loss_degraded: check.share("loss_degraded", t.loss_degraded, defaults.loss_degraded)?,
            partial_share: check.share("partial_share", t.partial_share, defaults.partial_share)?,
            internal_share: check.share(
                "internal_share",
                t.internal_share,
                defaults.internal_share,
            )?,
        };
        check.seconds(
            "thresholds.cut_settle_secs",
            thresholds.cut_settle_secs,
            0.0..=MAX_SETTLE_SECS,
        )?;
        check.whole_seconds(
            "thresholds.recovery_hold_secs",
            thresholds.recovery_hold_secs,
            0..=MAX_HOLD_SECS,
        )?;
        check.whole_seconds(
            "thresholds.flap_window_secs",
            thresholds.flap_window_secs,
            1..=MAX_FLAP_WINDOW_SECS,
        )?;
        check.whole_seconds(
            "thresholds.feed_stale_secs",
            thresholds.feed_stale_secs,
            1..=MAX_HOLD_SECS,
        )?;
        if thresholds.visibility_up < thresholds.visibility_down {
            return Err(check.fail(
                "thresholds.visibility_up".into(),
                "must not be below visibility_down, or a prefix could be down and up at once",
            ));
        }
        if thresholds.upstream_up < thresholds.upstream_down {
            return Err(check.fail(
                "thresholds.upstream_up".into(),
                "must not be below upstream_down",
            ));
        }
        if thresholds.flap_count < 2 {
            return Err(check.fail(
                "thresholds.flap_count".into(),
                "flapping needs at least 2 cycles",
            ));
        }
        let defaults = ProbeSettings::default();
        let p = self.probes;
        let probes = ProbeSettings {
            interval_secs: p.interval_secs.unwrap_or(defaults.interval_secs),
            jitter: p.jitter.unwrap_or(defaults.jitter),
            timeout_secs: p.timeout_secs.unwrap_or(defaults.timeout_secs),
            retries: p.retries.unwrap_or(defaults.retries),
            rate_per_sec: p.rate_per_sec.unwrap_or(defaults.rate_per_sec),
            reactive_trace_events: p
                .reactive_trace_events
                .unwrap_or(defaults.reactive_trace_events),
        };
        check.seconds(
            "probes.interval_secs",
            probes.interval_secs,
            MIN_PROBE_SECS..=MAX_INTERVAL_SECS,
        )?;
        check.seconds(
            "probes.timeout_secs",
            probes.timeout_secs,
            MIN_PROBE_SECS..=MAX_TIMEOUT_SECS,
        )?;
        if !(0.0..1.0).contains(&probes.jitter) {
            return Err(check.fail("probes.jitter".into(), "must be from 0 to below 1"));
        }
        if probes.rate_per_sec == 0 {
            return Err(check.fail("probes.rate_per_sec".into(), "must be at least 1"));
        }
        if probes.reactive_trace_events > MAX_REACTIVE_TRACE_EVENTS {
            return Err(check.fail(
                "probes.reactive_trace_events".into(),
                format!("must be at most {MAX_REACTIVE_TRACE_EVENTS} (events traced per 10 minutes; 0: none)"),
            ));
        }
        let consensus = ConsensusSettings {
            quorum: match self.consensus.quorum {
                None => None,
                Some(RawQuorum::Word(word)) if word == "majority" => None,
                Some(RawQuorum::Count(n)) if (1..=MAX_QUORUM).contains(&n) => Some(n as u32),
                Some(RawQuorum::Word(word)) => {
                    return Err(check.fail(
                        "consensus.quorum".into(),
                        format!("`{word}` is not a quorum: write \"majority\" or a count of vantage points"),
                    ));
                }
                Some(RawQuorum::Count(n)) => {
                    return Err(check.fail(
                        "consensus.quorum".into(),
                        format!("{n} is not a quorum: write a count from 1 to {MAX_QUORUM}, or \"majority\""),
                    ));
                }
            },
        };
        check_alerts(&self.alerts, text, origin, "alerts.")?;
        Ok(Profile {
            name: self.name,
            description: self.description,
            label: self.label,
            country: self.country,
            networks,
            upstreams,
            hosts,
            zones,
            mail,
            controls,
            feeds,
            thresholds,
            probes,
            consensus,
            alerts: self.alerts,
        })
    }
}

/// A BMP feed's views: every view when the profile lists none; a listed view at
/// most once, and at least one.
fn bmp_views(
    check: &Checker<'_>,
    feed: usize,
    // Read as text and checked here: a feed is an internally tagged enum, whose
    // inner values serde reports without their line.
    views: Option<Vec<String>>,
) -> Result<Vec<BmpView>, ProfileError> {
    let Some(views) = views else {
        return Ok(BmpView::ALL.to_vec());
    };
    let key = || format!("feed[{feed}].views");
    if views.is_empty() {
        return Err(check.fail(
            key(),
            "list at least one view (pre-policy, post-policy, loc-rib), or leave the key out \
             to take what the router sends",
        ));
    }
    let mut out: Vec<BmpView> = Vec::new();
    for text in views {
        let Some(view) = BmpView::ALL.into_iter().find(|v| v.as_str() == text) else {
            return Err(check.fail(
                key(),
                format!("`{text}` is not a BMP view: write pre-policy, post-policy or loc-rib"),
            ));
        };
        if out.contains(&view) {
            return Err(check.fail(key(), format!("{view} is listed twice")));
        }
        out.push(view);
    }
    out.sort();
    Ok(out)
}

fn parse_hosts(
    check: &Checker<'_>,
    section: &str,
    raw: Vec<RawHost>,
) -> Result<Vec<Host>, ProfileError> {
    raw.into_iter()
        .enumerate()
        .map(|(i, host)| {
            check.name(format!("{section}[{i}].name"), &host.name)?;
            let mut checks = Vec::new();
            for text in &host.checks {
                let parsed = text
                    .parse::<Check>()
                    .map_err(|message| check.fail(format!("{section}[{i}].checks"), message))?;
                checks.push(parsed);
            }
            if checks.is_empty() {
                return Err(check.fail(
                    format!("{section}[{i}].checks"),
                    "list at least one check (icmp, tcp:PORT, http, https, smtp, trace)",
                ));
            }
            Ok(Host {
                name: host.name,
                label: host.label,
                address: host.address,
                checks,
            })
        })
        .collect()
}
