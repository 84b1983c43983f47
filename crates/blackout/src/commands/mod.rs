//! One module per subcommand. Each takes its parsed arguments, builds the parts
//! from the library crates, and returns a [`Failure`] that says which exit code fits.

mod census;
mod events;
mod lab;
mod probe;
mod profiles;
mod replay;
mod report;
mod watch;

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
        Command::Profiles => profiles::run(),
        Command::Lab(args) => lab::run(args),
    }
}

/// Loads the profile named on the command line; a bad one is a usage error (exit 2).
pub fn load_profile(args: &ProfileArgs) -> Result<Profile, Failure> {
    let loaded = match &args.config {
        Some(path) => blackout_profile::load_file(path),
        None => blackout_profile::builtin(&args.profile),
    };
    loaded.map_err(|error| Failure::Usage(error.into()))
}
