//! `blackout lab up | down | status | fault NAME [ARGS] | heal | exec NS -- CMD`:
//! drives the lab of crate blackout-lab. Root only; a non-root run exits 1 and
//! says why.

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
            let topo = lab.topology();
            println!(
                "lab up ({:.1} s); state in {}",
                took.as_secs_f64(),
                lab.state_dir().display()
            );
            for v in topo.vantages() {
                println!(
                    "vantage point {}: {} {} (management {}), in {}",
                    v.name, v.addr, v.addr6, v.mgmt, v.ns
                );
            }
            println!(
                "central: {} {}, in {}",
                topo.central.addr, topo.central.addr6, topo.central.ns
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
        LabCommand::Exec { ns, command } => {
            let Some(namespace) = lab.topology().namespace_for(&ns) else {
                return Err(Failure::Usage(anyhow::anyhow!(
                    "`{ns}` is not one of the lab's namespaces, vantage points or `central`"
                )));
            };
            let (program, rest) = command
                .split_first()
                .ok_or_else(|| Failure::Usage(anyhow::anyhow!("give the command to run")))?;
            let status = blackout_lab::netns_command(namespace, program)
                .args(rest)
                .status()
                .map_err(|e| {
                    Failure::Work(anyhow::anyhow!("cannot run {program} in {namespace}: {e}"))
                })?;
            if !status.success() {
                return Err(Failure::Work(anyhow::anyhow!(
                    "{program} in {namespace}: {status}"
                )));
            }
        }
    }
    Ok(())
}
