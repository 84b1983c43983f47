//! The validated profile: what the rest of blackout reads.

use blackout_model::{Asn, ProbeKind};
use ipnet::IpNet;
use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

/// Everything blackout needs to know to watch one country or network.
#[derive(Clone, Debug, PartialEq)]
pub struct Profile {
    /// Short name (`kp`).
    pub name: String,
    /// One line for people.
    pub description: String,
    /// What people call the watched network in a sentence ("North Korea").
    pub label: Option<String>,
    /// ISO 3166 code of the country watched, if it is a country.
    pub country: Option<String>,
    /// The watched networks.
    pub networks: Vec<Network>,
    /// The upstreams the networks are expected (or known) to use.
    pub upstreams: Vec<Upstream>,
    /// Hosts to probe.
    pub hosts: Vec<Host>,
    /// DNS zones, asked of their authoritative servers.
    pub zones: Vec<Zone>,
    /// Mail servers.
    pub mail: Vec<MailServer>,
    /// Targets outside the watched network: when they fail, the vantage point is offline.
    pub controls: Vec<Host>,
    /// BGP feeds.
    pub feeds: Vec<FeedConfig>,
    /// Detection thresholds.
    pub thresholds: Thresholds,
    /// Probe timing.
    pub probes: ProbeSettings,
    /// How the results of several vantage points make one verdict.
    pub consensus: ConsensusSettings,
    /// Where alerts go (the `[alerts]` table; no channel when it is left out).
    pub alerts: crate::AlertConfig,
}

/// An origin AS and the prefixes it announces.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Network {
    /// The operator's name.
    pub name: String,
    /// The origin AS.
    pub asn: Asn,
    /// The prefixes it announces, each watched on its own.
    pub prefixes: Vec<IpNet>,
    /// Less-specific prefixes of the network's own that may be announced too.
    pub aggregates: Vec<IpNet>,
}

/// What an upstream is to the watched network.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum UpstreamRole {
    /// Carries the traffic normally.
    Primary,
    /// Carries it when the primary fails (or shares the load).
    Backup,
    /// Known from the past; not expected now, but not new when seen.
    Historical,
}

/// An upstream AS.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upstream {
    /// The AS.
    pub asn: Asn,
    /// Its name.
    pub name: String,
    /// Its role.
    pub role: UpstreamRole,
}

impl Upstream {
    /// Is the upstream expected to carry routes now (primary or backup)?
    pub fn is_expected(&self) -> bool {
        self.role != UpstreamRole::Historical
    }
}

/// One check to run on a host.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Check {
    /// ICMP echo.
    Icmp,
    /// TCP connect to a port.
    Tcp(u16),
    /// HTTP or HTTPS GET of `/`.
    Http {
        /// Port.
        port: u16,
        /// HTTPS?
        tls: bool,
    },
    /// SMTP banner and EHLO.
    Smtp(u16),
    /// Paris traceroute.
    Trace,
}

impl Check {
    /// The kind of probe that runs this check.
    pub fn kind(&self) -> ProbeKind {
        match self {
            Check::Icmp => ProbeKind::Icmp,
            Check::Tcp(_) => ProbeKind::Tcp,
            Check::Http { .. } => ProbeKind::Http,
            Check::Smtp(_) => ProbeKind::Smtp,
            Check::Trace => ProbeKind::Trace,
        }
    }
}

impl FromStr for Check {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (kind, port) = match s.split_once(':') {
            Some((kind, port)) => {
                let port = port
                    .parse::<u16>()
                    .ok()
                    .filter(|port| *port != 0)
                    .ok_or_else(|| format!("`{port}` is not a port (1-65535)"))?;
                (kind, Some(port))
            }
            None => (s, None),
        };
        Ok(match (kind, port) {
            ("icmp", None) => Check::Icmp,
            ("trace", None) => Check::Trace,
            ("tcp", Some(port)) => Check::Tcp(port),
            ("http", port) => Check::Http {
                port: port.unwrap_or(80),
                tls: false,
            },
            ("https", port) => Check::Http {
                port: port.unwrap_or(443),
                tls: true,
            },
            ("smtp", port) => Check::Smtp(port.unwrap_or(25)),
            _ => {
                return Err(format!(
                    "`{s}` is not a check: use icmp, tcp:PORT, http[:PORT], https[:PORT], smtp[:PORT] or trace"
                ));
            }
        })
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Check::Icmp => f.write_str("icmp"),
            Check::Trace => f.write_str("trace"),
            Check::Tcp(port) => write!(f, "tcp:{port}"),
            Check::Http {
                port: 80,
                tls: false,
            } => f.write_str("http"),
            Check::Http {
                port: 443,
                tls: true,
            } => f.write_str("https"),
            Check::Http { port, tls } => {
                write!(f, "{}:{port}", if *tls { "https" } else { "http" })
            }
            Check::Smtp(25) => f.write_str("smtp"),
            Check::Smtp(port) => write!(f, "smtp:{port}"),
        }
    }
}

/// A host to probe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Host {
    /// DNS name or address literal.
    pub name: String,
    /// What it is, for people.
    pub label: Option<String>,
    /// A fixed address; without one the name is resolved at run time.
    pub address: Option<IpAddr>,
    /// The checks to run.
    pub checks: Vec<Check>,
}

/// An authoritative name server of a zone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NameServer {
    /// Its name.
    pub name: String,
    /// A fixed address; without one the name is resolved at run time.
    pub address: Option<IpAddr>,
}

/// A DNS zone and the servers that are authoritative for it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Zone {
    /// The zone (`kp`).
    pub name: String,
    /// Its authoritative servers.
    pub servers: Vec<NameServer>,
}

/// A mail server, by host or by the domain whose MX records name it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailServer {
    /// A domain whose MX hosts are looked up at run time.
    pub domain: Option<String>,
    /// A mail host by name.
    pub host: Option<String>,
    /// A fixed address.
    pub address: Option<IpAddr>,
    /// The SMTP port.
    pub port: u16,
}

/// How a BGP session is set up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionMode {
    /// Wait for the router to connect.
    Passive,
    /// Connect to the router.
    Active,
}

/// A source of BGP routes.
#[derive(Clone, Debug, PartialEq)]
pub enum FeedConfig {
    /// RIPE RIS Live over a websocket.
    RisLive {
        /// The websocket URL.
        url: String,
    },
    /// A BMP station that routers connect to.
    Bmp {
        /// Where to listen.
        listen: SocketAddr,
        /// Routers allowed to connect.
        allow: Vec<IpAddr>,
        /// The views that may feed the BGP state, never empty: all three unless the
        /// profile lists some. Of the two Adj-RIB-In views one feeds per monitored
        /// peer (pre-policy where the router sends it, else post-policy); the Loc-RIB
        /// is the router's own view.
        views: Vec<BmpView>,
    },
    /// A multihop eBGP session that announces nothing.
    Bgp {
        /// The router.
        peer: IpAddr,
        /// The router's AS.
        peer_as: Asn,
        /// blackout's AS on the session.
        local_as: Asn,
        /// blackout's BGP identifier.
        router_id: std::net::Ipv4Addr,
        /// Who opens the connection.
        mode: SessionMode,
        /// Where to listen (passive) or the router's port (active).
        port: u16,
    },
}

/// A view of a router's routes that BMP reports (RFC 7854 §4.2, RFC 9069).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum BmpView {
    /// A monitored peer's Adj-RIB-In before the router's inbound policy: what the
    /// peer says.
    PrePolicy,
    /// A monitored peer's Adj-RIB-In after the router's inbound policy.
    PostPolicy,
    /// The router's Loc-RIB: its own best paths (RFC 9069).
    LocRib,
}

impl BmpView {
    /// Every view, in the order of preference for a monitored peer.
    pub const ALL: [BmpView; 3] = [BmpView::PrePolicy, BmpView::PostPolicy, BmpView::LocRib];

    /// The view as a profile writes it (`pre-policy`, `post-policy`, `loc-rib`).
    pub fn as_str(self) -> &'static str {
        match self {
            BmpView::PrePolicy => "pre-policy",
            BmpView::PostPolicy => "post-policy",
            BmpView::LocRib => "loc-rib",
        }
    }
}

impl std::fmt::Display for BmpView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a signal counts as an outage, and when as a recovery.
#[derive(Clone, Debug, PartialEq)]
pub struct Thresholds {
    /// A peer whose table has at least this share of the largest table seen is full-feed.
    pub full_feed_ratio: f64,
    /// A prefix whose visibility falls below this share of full-feed peers is down.
    pub visibility_down: f64,
    /// A down prefix is back once its visibility reaches this share.
    pub visibility_up: f64,
    /// An upstream whose share of the paths falls below this is lost.
    pub upstream_down: f64,
    /// A lost upstream is back once its share reaches this.
    pub upstream_up: f64,
    /// Seconds a recovery must hold before it is declared.
    pub recovery_hold_secs: u64,
    /// Seconds a fall of visibility holds back the verdict on an upstream that lost
    /// its paths: a total outage's withdrawals through the other upstream arrive
    /// within this time, and then the loss is evidence of that outage, not a cut.
    pub cut_settle_secs: f64,
    /// This many withdraw-and-return cycles within the window is flapping.
    pub flap_count: u32,
    /// The flapping window, in seconds.
    pub flap_window_secs: u64,
    /// A feed with no message for this long is stale.
    pub feed_stale_secs: u64,
    /// Probe loss above this share is degraded.
    pub loss_degraded: f64,
    /// A network with at least this share of its prefixes dark is in a partial
    /// outage (with four prefixes, one is enough; a country of 10,000 needs 500:
    /// one mid-size AS dark in a large country is that AS's outage, not the
    /// country's).
    pub partial_share: f64,
    /// A network with at least this share of its prefixes dark is dark as a whole
    /// (with four prefixes, all four; a country's few small networks that stay up
    /// do not make its shutdown partial).
    pub internal_share: f64,
}

impl Default for Thresholds {
    fn default() -> Self {
        Thresholds {
            full_feed_ratio: 0.75,
            visibility_down: 0.2,
            visibility_up: 0.5,
            upstream_down: 0.05,
            upstream_up: 0.2,
            recovery_hold_secs: 60,
            cut_settle_secs: 5.0,
            flap_count: 3,
            flap_window_secs: 3600,
            feed_stale_secs: 300,
            loss_degraded: 0.2,
            partial_share: 0.05,
            internal_share: 0.9,
        }
    }
}

/// How many vantage points must agree (the `[consensus]` table).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ConsensusSettings {
    /// How many healthy vantage points must see a target down for it to be
    /// down: `None` is a majority of those with a view (at least 2 when there
    /// are 3 or more); a count is capped at the number of those with a view.
    pub quorum: Option<u32>,
}

/// How often and how hard to probe.
#[derive(Clone, Debug, PartialEq)]
pub struct ProbeSettings {
    /// Seconds between two probes of one target.
    pub interval_secs: f64,
    /// Random spread of the interval, as a share of it.
    pub jitter: f64,
    /// Seconds before one attempt gives up.
    pub timeout_secs: f64,
    /// Attempts after the first before a target counts as failed.
    pub retries: u32,
    /// Probes per second, across all targets.
    pub rate_per_sec: u32,
    /// At most this many events have their targets traced (reactive traceroute)
    /// within 10 minutes; 0 traces none.
    pub reactive_trace_events: u32,
}

impl ProbeSettings {
    /// Seconds within which every check has given `results` results, from the
    /// start of a run or from any moment: the first round is spread over one
    /// interval, each later one comes an interval (plus jitter) after, and each
    /// result may take its timeout per attempt. This is how long the detector
    /// must wait before a check can be judged (`results` in a row), and how long
    /// the tail of an outage lasts in the checks after the network comes back.
    pub fn results_within_secs(&self, results: u32) -> f64 {
        let results = f64::from(results.max(1));
        self.interval_secs * (1.0 + (results - 1.0) * (1.0 + self.jitter))
            + self.timeout_secs * f64::from(self.retries + 1)
            + 1.0
    }
}

impl Default for ProbeSettings {
    fn default() -> Self {
        ProbeSettings {
            interval_secs: 60.0,
            jitter: 0.1,
            timeout_secs: 5.0,
            retries: 2,
            rate_per_sec: 100,
            reactive_trace_events: 6,
        }
    }
}

impl Profile {
    /// Every watched prefix, aggregates included.
    pub fn watched_prefixes(&self) -> Vec<IpNet> {
        self.networks
            .iter()
            .flat_map(|network| network.prefixes.iter().chain(&network.aggregates))
            .copied()
            .collect()
    }

    /// The prefixes announced on their own (aggregates excluded): the ones whose
    /// visibility is the network's.
    pub fn announced_prefixes(&self) -> Vec<IpNet> {
        self.networks
            .iter()
            .flat_map(|network| network.prefixes.iter())
            .copied()
            .collect()
    }

    /// The origin ASes.
    pub fn origin_asns(&self) -> Vec<Asn> {
        self.networks.iter().map(|network| network.asn).collect()
    }

    /// Names for people of the entities the profile knows, keyed by the entity's
    /// text form: `country:KP` → `North Korea`, `as:131279` → `Star JV`,
    /// `upstream:4837` → `AS4837 China Unicom`, `host:kcna.kp` → `kcna.kp (the
    /// state news agency)`, and each labelled host's services the same way.
    pub fn entity_labels(&self) -> std::collections::HashMap<String, String> {
        let mut labels = std::collections::HashMap::new();
        if let Some(country) = &self.country {
            let name = self.label.clone().unwrap_or_else(|| country.clone());
            labels.insert(format!("country:{country}"), name);
        }
        for network in &self.networks {
            labels.insert(format!("as:{}", network.asn.0), network.name.clone());
        }
        if self.country.is_none()
            && let (Some(label), Some(network)) = (&self.label, self.networks.first())
        {
            labels.insert(format!("as:{}", network.asn.0), label.clone());
        }
        for upstream in &self.upstreams {
            labels.insert(
                format!("upstream:{}", upstream.asn.0),
                format!("{} {}", upstream.asn, upstream.name),
            );
        }
        for host in self.hosts.iter().chain(&self.controls) {
            let Some(label) = &host.label else {
                continue;
            };
            let named = format!("{} ({label})", host.name);
            for check in &host.checks {
                let service = match check {
                    Check::Http { .. } => "http",
                    Check::Smtp(_) => "smtp",
                    Check::Tcp(_) => "tcp",
                    Check::Icmp | Check::Trace => continue,
                };
                labels.insert(
                    format!("service:{service}:{}", host.name),
                    format!("{} on {named}", service.to_uppercase()),
                );
            }
            labels.insert(format!("host:{}", host.name), named);
        }
        labels
    }

    /// The name of an upstream, if the profile knows it.
    pub fn upstream_name(&self, asn: Asn) -> Option<&str> {
        self.upstreams
            .iter()
            .find(|upstream| upstream.asn == asn)
            .map(|upstream| upstream.name.as_str())
    }
}
