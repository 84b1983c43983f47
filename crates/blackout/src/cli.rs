//! The command line, as `../shared/CONTRACT.md` describes it.

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
    /// Replay MRT archives (files, directories or URLs) and report what they show
    /// about the watched networks.
    Replay(ReplayArgs),
    /// List the built-in profiles.
    Profiles,
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
    /// Validated ROA payloads (rpki-client or Routinator JSON), for RPKI states.
    #[arg(long, value_name = "FILE")]
    pub vrps: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    pub format: Format,
    /// Also print every change of the BGP view (visibility, origins, upstreams, RPKI) in time order.
    #[arg(long)]
    pub timeline: bool,
    /// Where downloaded archives are kept.
    #[arg(long, value_name = "DIR", env = "BLACKOUT_CACHE")]
    pub cache: Option<PathBuf>,
    /// MRT files, directories of them, or http(s) URLs.
    #[arg(required = true, value_name = "FILE|DIR|URL")]
    pub inputs: Vec<String>,
}

/// Parses the process's arguments.
pub fn parse() -> Result<Cli, clap::Error> {
    Cli::try_parse()
}
