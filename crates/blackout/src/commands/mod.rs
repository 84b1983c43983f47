//! One module per subcommand. Each takes its parsed arguments, builds the parts
//! from the library crates, and returns a [`Failure`] that says which exit code fits.

mod agent;
mod census;
mod events;
mod lab;
mod probe;
mod profiles;
mod replay;
mod report;
pub(crate) mod watch;

use crate::Failure;
use crate::cli::{Cli, Command, ProfileArgs};
use blackout_profile::Profile;

/// Runs the chosen subcommand.
pub fn run(cli: Cli) -> Result<(), Failure> {
    match cli.command {
        Command::Watch(args) => watch::run(args),
        Command::Replay(args) => replay::run(args),
        Command::Probe(args) => probe::run(args),
        Command::Census(args) => census::run(args),
        Command::Events(args) => events::run(args),
        Command::Report(args) => report::run(args),
        Command::Agent(args) => agent::run(args),
        Command::Profiles => profiles::run(),
        Command::Lab(args) => lab::run(args),
    }
}

/// Loads the profile named on the command line; a bad one is a usage error (exit 2).
/// The tracking a command's global arguments ask for: the profile's networks, or
/// every country and AS with the countries from the given maps. In the global
/// view the profile gives only its feeds, thresholds, probe timing and alerts:
/// its networks and targets are left out (nobody is probed).
pub fn tracking(
    profile: &mut Profile,
    global: &crate::cli::GlobalArgs,
) -> Result<blackout_bgp::Tracking, Failure> {
    if !global.global {
        return Ok(blackout_bgp::Tracking::Networks(
            blackout_bgp::WatchSet::from_profile(profile),
        ));
    }
    let loaded = blackout_geo::load_files(&global.geo)
        .map_err(|error| Failure::Usage(anyhow::anyhow!(error)))?;
    for report in &loaded.reports {
        eprintln!("blackout: {report}");
    }
    profile.name = format!("{}-global", profile.name);
    profile.label = Some("every country and AS".into());
    profile.country = None;
    profile.networks.clear();
    profile.upstreams.clear();
    profile.hosts.clear();
    profile.zones.clear();
    profile.mail.clear();
    profile.controls.clear();
    Ok(blackout_bgp::Tracking::Global(
        blackout_bgp::GlobalSet::new(
            std::sync::Arc::new(loaded.map),
            profile.thresholds.full_feed_ratio,
        ),
    ))
}

pub fn load_profile(args: &ProfileArgs) -> Result<Profile, Failure> {
    let loaded = match &args.config {
        Some(path) => blackout_profile::load_file(path),
        None => blackout_profile::builtin(&args.profile),
    };
    loaded.map_err(|error| Failure::Usage(error.into()))
}
