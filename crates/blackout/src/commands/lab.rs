//! `blackout lab up | down | status | fault NAME [ARGS] | heal`: drives the lab
//! of crate blackout-lab. Root only; a non-root run exits 1 and says why.

use crate::Failure;
use crate::cli::{LabArgs, LabCommand};
use blackout_lab::{Fault, Lab, LabError};
use std::time::Duration;

/// How long `heal` waits for the baseline.
const HEAL_WAIT: Duration = Duration::from_secs(90);

fn work(error: LabError) -> Failure {
    match error {
        LabError::UnknownFault(_) | LabError::FaultArgs { .. } => Failure::Usage(error.into()),
        other => Failure::Work(other.into()),
    }
}

/// Runs a lab subcommand.
pub fn run(args: LabArgs) -> Result<(), Failure> {
    if !blackout_lab::is_root() {
        return Err(Failure::Work(LabError::NotRoot.into()));
    }
    let lab = Lab::new(args.state_dir);
    match args.command {
        LabCommand::Up => {
            let took = lab.up().map_err(work)?;
            println!(
                "lab up ({:.1} s); vantage point: ip netns exec {} ...; state in {}",
                took.as_secs_f64(),
                lab.topology().vantage.ns,
                lab.state_dir().display()
            );
        }
        LabCommand::Down => lab.down().map_err(work)?,
        LabCommand::Status => print!("{}", lab.status().map_err(work)?),
        LabCommand::Fault { name, args } => {
            let fault = Fault::parse(&name, &args).map_err(work)?;
            let at = lab.inject(&fault).map_err(work)?;
            let mut spec = vec![fault.name().to_string()];
            spec.extend(fault.args());
            println!("{at} fault {}", spec.join(" "));
        }
        LabCommand::Heal => {
            let at = lab.heal(HEAL_WAIT).map_err(work)?;
            println!("{at} heal");
        }
    }
    Ok(())
}
