//! The command line, as `../shared/CONTRACT.md` describes it.

use blackout_store::Db;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

/// blackout: an Internet outage observatory. It watches a country's or a
/// network's connection to the world, notices when it goes dark, and says why.
#[derive(Parser, Debug)]
#[command(name = "blackout", version, about, long_about = None)]
pub struct Cli {
    /// More logging on stderr (-v info, -vv debug); BLACKOUT_LOG overrides.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Watch live: BGP feeds, probe rounds and the detector together, with every
    /// event stored in the database. Stops cleanly on Ctrl-C or SIGTERM.
    Watch(WatchArgs),
    /// Replay MRT archives (files, directories or URLs) and report what they show
    /// about the watched networks.
    Replay(ReplayArgs),
    /// Probe the profile's hosts, zones, mail servers and controls (or the targets
    /// given) once, and print what each check saw.
    Probe(ProbeArgs),
    /// Sweep every address of a prefix: the hosts that answer ICMP, and the ports
    /// that answer.
    Census(CensusArgs),
    /// List the events in the database, newest first.
    Events(EventsArgs),
    /// Write an incident report of one event: a self-contained HTML page with
    /// charts, or the chart alone as SVG or PNG when FILE ends in .svg or .png.
    Report(ReportArgs),
    /// Run at a vantage point: the profile's probe rounds and the vantage
    /// self-check (control targets), every result published to NATS JetStream,
    /// buffered on disk while the broker is away. Stops on Ctrl-C or SIGTERM.
    Agent(AgentArgs),
    /// List the built-in profiles.
    Profiles,
    /// The lab: an emulated national network in network namespaces, with real
    /// BGP routers, servers and one-command faults (root only).
    Lab(LabArgs),
}

/// `blackout lab`.
#[derive(Args, Debug)]
pub struct LabArgs {
    /// Where the lab keeps its configs, pid files, logs, fault log
    /// (faults.jsonl) and MRT dumps.
    #[arg(long, value_name = "DIR", default_value = blackout_lab::DEFAULT_STATE_DIR, global = true)]
    pub state_dir: PathBuf,
    /// What to do.
    #[command(subcommand)]
    pub command: LabCommand,
}

/// `blackout lab` subcommands.
#[derive(Subcommand, Debug)]
pub enum LabCommand {
    /// Bring the lab up and wait for its baseline (installs missing Debian
    /// packages on first use). Idempotent.
    Up,
    /// Take the lab down: no namespace, link or process is left.
    Down,
    /// Say what is up and which faults are in force.
    Status,
    /// Inject a fault; faults stack.
    ///
    /// NAME is one of: origin-withdraw, origin-crash, primary-cut, backup-cut,
    /// ddos [SECONDS], dns-timeout, dns-servfail, dns-refused, dns-down, web-5xx,
    /// web-hang, web-down, smtp-4xx, power-cut N, hosts-dark N,
    /// flap COUNT INTERVAL_SECS, rpki-invalid, vantage-cut [VANTAGE],
    /// vantage-path-cut VANTAGE, v6-withdraw, v6-border-filter, v6-primary-cut,
    /// loss [PERCENT].
    Fault {
        /// The fault.
        #[arg(value_name = "NAME")]
        name: String,
        /// Its arguments.
        #[arg(value_name = "ARGS")]
        args: Vec<String>,
    },
    /// Undo every fault in force and wait for the baseline.
    Heal,
    /// Run a command inside one of the lab's namespaces, with this terminal.
    ///
    /// NS is a namespace (bo-origin, bo-vantage, ...), a vantage point's name
    /// (vp-transit, vp-primary, vp-backup) or `central`.
    Exec {
        /// Where to run it.
        #[arg(value_name = "NS")]
        ns: String,
        /// The command and its arguments (put `--` before it).
        #[arg(
            value_name = "COMMAND",
            required = true,
            trailing_var_arg = true,
            allow_hyphen_values = true
        )]
        command: Vec<String>,
    },
}

/// Which profile to use: a built-in one by name, or a file.
#[derive(Args, Debug, Clone)]
pub struct ProfileArgs {
    /// A built-in profile (see `blackout profiles`).
    #[arg(
        long,
        value_name = "NAME",
        conflicts_with = "config",
        default_value = "kp"
    )]
    pub profile: String,
    /// A profile file (TOML).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// The global view: every country and every origin AS, from full feeds.
#[derive(Args, Debug, Default)]
pub struct GlobalArgs {
    /// Watch every country (`country:CC`) and every origin AS (`as:N`) instead of
    /// the profile's networks; the profile gives only its feeds and thresholds.
    #[arg(long, requires = "geo")]
    pub global: bool,
    /// Prefix-to-country maps for --global: the RIRs' delegated-*-extended files
    /// (or the NRO's combined one), `start,end,CC` range CSVs, or MMDB; gzip or
    /// plain; later files override earlier ones.
    #[arg(long, value_name = "FILE", num_args = 1.., requires = "global")]
    pub geo: Vec<PathBuf>,
}

/// Output format.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Format {
    /// A table for people.
    #[default]
    Table,
    /// JSON Lines: one object per line.
    Json,
}

/// `blackout replay`.
#[derive(Args, Debug)]
pub struct ReplayArgs {
    /// The profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// The global view.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// Validated ROA payloads (rpki-client or Routinator JSON), for RPKI states.
    #[arg(long, value_name = "FILE")]
    pub vrps: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also print every change of the BGP view (visibility, origins, upstreams, RPKI) in time order.
    #[arg(long)]
    pub timeline: bool,
    /// Also store the events and the visibility series in this database, for
    /// `blackout events` and the API.
    #[arg(long, value_name = "PATH|URL")]
    pub db: Option<Db>,
    /// Where downloaded archives are kept.
    #[arg(long, value_name = "DIR", env = "BLACKOUT_CACHE")]
    pub cache: Option<PathBuf>,
    /// The collector every input comes from, whatever the names say. Without it, RIS
    /// (rrc06) and RouteViews (route-views2, route-views.jinx) names in the paths and
    /// URLs name the collector, and the inputs whose names carry none share one
    /// ("unnamed").
    #[arg(long, value_name = "NAME", value_parser = collector_name)]
    pub collector: Option<String>,
    /// MRT files, directories of them, or http(s) URLs.
    #[arg(required = true, value_name = "FILE|DIR|URL")]
    pub inputs: Vec<String>,
}

/// `blackout probe`.
#[derive(Args, Debug)]
pub struct ProbeArgs {
    /// The profile (its hosts, zones, mail servers and controls are probed unless
    /// targets are given).
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Seconds each attempt waits (default: the profile's).
    #[arg(long, value_name = "SECS")]
    pub timeout: Option<f64>,
    /// Attempts after the first for silent targets (default: the profile's).
    #[arg(long, value_name = "N")]
    pub retries: Option<u32>,
    /// Targets instead of the profile's: 127.0.0.1 (ICMP), tcp:HOST:PORT,
    /// http:HOST[:PORT], https:HOST[:PORT], http://HOST:PORT/PATH, smtp:HOST[:PORT],
    /// dns:ZONE@SERVER[:PORT], trace:HOST, trace-udp:HOST.
    #[arg(value_name = "TARGET")]
    pub targets: Vec<String>,
}

/// `blackout census`.
#[derive(Args, Debug)]
pub struct CensusArgs {
    /// The prefix to sweep (e.g. 175.45.176.0/22).
    #[arg(value_name = "PREFIX")]
    pub prefix: String,
    /// TCP ports to try on every address, comma-separated (e.g. 22,25,53,80,443).
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub ports: Vec<u16>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Refuse prefixes with more addresses than this, unless --force (by default
    /// 65536, a /16, for IPv4 and 4096, a /116, for IPv6).
    #[arg(long, value_name = "N")]
    pub max_addresses: Option<u64>,
    /// Sweep a prefix larger than --max-addresses.
    #[arg(long)]
    pub force: bool,
    /// Seconds to wait for late answers (and for each TCP connect).
    #[arg(long, value_name = "SECS", default_value_t = 1.0)]
    pub timeout: f64,
    /// Echo requests per second (0: as fast as replies come back).
    #[arg(long, value_name = "PPS", default_value_t = 0)]
    pub rate: u32,
    /// Extra passes for the addresses that stayed silent.
    #[arg(long, value_name = "N", default_value_t = 1)]
    pub retries: u32,
}

/// `blackout watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// The profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// The global view.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// The database.
    #[arg(long, value_name = "PATH|URL", default_value = "blackout.db")]
    pub db: Db,
    /// Where to serve the API, the dashboard and /metrics.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8470")]
    pub listen: std::net::SocketAddr,
    /// A host name the API answers for (repeat for more; `*`: any). Without it, only
    /// requests for an IP address or localhost are answered, and others get `421`:
    /// name here the host of a reverse proxy in front of blackout.
    #[arg(long = "api-host", value_name = "NAME")]
    pub api_hosts: Vec<String>,
    /// The name of this vantage point, in events and probe results.
    #[arg(long, value_name = "NAME", default_value = "local")]
    pub vantage: String,
    /// Validated ROA payloads (rpki-client or Routinator JSON), for RPKI states;
    /// read again whenever the file changes.
    #[arg(long, value_name = "FILE")]
    pub vrps: Option<PathBuf>,
    /// Alert settings from a file of their own (the keys of a profile's [alerts]
    /// table at the top level); they replace the profile's [alerts].
    #[arg(long, value_name = "FILE")]
    pub alerts: Option<PathBuf>,
    /// Print every event update as JSON Lines instead of a line of text.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Be the central of many vantage points: read the agents' results of this
    /// profile from the NATS JetStream broker at URL (a durable consumer: a
    /// restart resumes where it stopped), beside this watch's own probes and feeds.
    /// A login goes in the URL (`nats://USER:PASSWORD@HOST:4222`); give it in the
    /// environment (`BLACKOUT_NATS`) to keep the password off the command line.
    #[arg(
        long,
        value_name = "URL",
        env = "BLACKOUT_NATS",
        hide_env_values = true
    )]
    pub nats: Option<blackout_relay::NatsUrl>,
    /// The durable consumer's name (one per central); default
    /// `blackout-central-PROFILE`.
    #[arg(long, value_name = "NAME", requires = "nats")]
    pub durable: Option<String>,
    /// As the central, judge only the agents' results: do not probe the
    /// profile's targets and controls from here too (the BGP feeds still run).
    #[arg(long, requires = "nats")]
    pub no_probes: bool,
}

/// `blackout agent`.
#[derive(Args, Debug)]
pub struct AgentArgs {
    /// The profile.
    #[command(flatten)]
    pub profile: ProfileArgs,
    /// The name of this vantage point: letters, digits, `-` and `_`.
    #[arg(long, value_name = "NAME")]
    pub vantage: String,
    /// Where this vantage point is, in words (`Frankfurt, AS64496`).
    #[arg(long, value_name = "TEXT")]
    pub location: Option<String>,
    /// The NATS broker (`nats://127.0.0.1:4222`; with a login,
    /// `nats://USER:PASSWORD@HOST:4222`, best given in the environment as
    /// `BLACKOUT_NATS` to keep the password off the command line).
    #[arg(
        long,
        value_name = "URL",
        env = "BLACKOUT_NATS",
        hide_env_values = true
    )]
    pub nats: blackout_relay::NatsUrl,
    /// The directory of the disk buffer; default `blackout-agent-VANTAGE` in the
    /// working directory.
    #[arg(long, value_name = "DIR")]
    pub buffer: Option<PathBuf>,
    /// The disk buffer's bound in bytes; results that do not fit are dropped
    /// and counted.
    #[arg(long, value_name = "N", default_value_t = blackout_relay::DEFAULT_BUFFER_BYTES)]
    pub buffer_max_bytes: u64,
    /// Also run the profile's feeds (BMP, BGP, RIS Live) here and relay their
    /// routes of the watched prefixes to the central, in batches on
    /// `blackout.v1.PROFILE.VANTAGE.routes`.
    #[arg(long)]
    pub feeds: bool,
}

/// `blackout events`.
#[derive(Args, Debug)]
pub struct EventsArgs {
    /// The database.
    #[arg(long, value_name = "PATH|URL", default_value = "blackout.db")]
    pub db: Db,
    /// Events going on at or after this time: RFC 3339, a date, Unix seconds, or a
    /// duration ago (`24h`, `7d`).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Events that started before this time (same forms).
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Only this cause (`internal`, `upstream-cut`, ...).
    #[arg(long)]
    pub cause: Option<String>,
    /// Only this entity (`country:KP`, `upstream:4837`, ...).
    #[arg(long)]
    pub entity: Option<String>,
    /// At most this many.
    #[arg(long)]
    pub limit: Option<usize>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
}

/// `blackout report`.
#[derive(Args, Debug)]
pub struct ReportArgs {
    /// The event's id (see `blackout events`).
    #[arg(value_name = "EVENT_ID")]
    pub event_id: String,
    /// The database.
    #[arg(long, value_name = "PATH|URL", default_value = "blackout.db")]
    pub db: Db,
    /// Where to write it: FILE.svg or FILE.png for the chart alone, any other name for the
    /// HTML report.
    #[arg(long, value_name = "FILE")]
    pub out: PathBuf,
    /// The profile whose names label the report (North Korea, China Unicom, ...).
    #[command(flatten)]
    pub profile: ProfileArgs,
}

/// A collector name: letters, digits, `-`, `.` and `_`, at most 64 of them.
fn collector_name(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if valid {
        Ok(name.to_string())
    } else {
        Err("a collector name is 1 to 64 letters, digits, '-', '.' or '_'".into())
    }
}

/// Parses the process's arguments.
pub fn parse() -> Result<Cli, clap::Error> {
    Cli::try_parse()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lab_exec_takes_the_rest_as_the_command() {
        let cli = Cli::try_parse_from([
            "blackout",
            "lab",
            "exec",
            "vp-primary",
            "--",
            "ping",
            "-c",
            "1",
            "192.0.2.10",
        ])
        .unwrap();
        let Command::Lab(LabArgs {
            command: LabCommand::Exec { ns, command },
            ..
        }) = cli.command
        else {
            panic!("not lab exec: {:?}", cli.command);
        };
        assert_eq!(ns, "vp-primary");
        assert_eq!(command, ["ping", "-c", "1", "192.0.2.10"]);
        assert!(Cli::try_parse_from(["blackout", "lab", "exec", "vp-primary"]).is_err());
    }

    #[test]
    fn the_parsed_arguments_show_no_brokers_password() {
        let url = "nats://agent-vp-1:hunter2@127.0.0.1:4222";
        let agent = Cli::try_parse_from([
            "blackout",
            "agent",
            "--profile",
            "lab",
            "--vantage",
            "vp-1",
            "--nats",
            url,
        ])
        .unwrap();
        let watch =
            Cli::try_parse_from(["blackout", "watch", "--profile", "lab", "--nats", url]).unwrap();
        for cli in [agent, watch] {
            let shown = format!("{cli:?}");
            assert!(!shown.contains("hunter2"), "{shown}");
            assert!(
                shown.contains("nats://agent-vp-1:***@127.0.0.1:4222"),
                "{shown}"
            );
        }
    }
}
