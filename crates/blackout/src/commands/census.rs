//! `blackout census PREFIX`: sweep every address of a prefix with ICMP echo (and
//! the given TCP ports) and list the hosts that answer. Progress on stderr when it
//! is a terminal.

use crate::Failure;
use crate::cli::{CensusArgs, Format};
use crate::output::{Table, json_line};
use anyhow::{Context, anyhow};
use blackout_probe::census::{CensusOptions, Progress, check_size, default_max};
use indicatif::{ProgressBar, ProgressStyle};
use ipnet::IpNet;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Runs `blackout census`.
pub fn run(args: CensusArgs) -> Result<(), Failure> {
    let prefix: IpNet = args.prefix.parse().map_err(|_| {
        Failure::Usage(anyhow!(
            "`{}` is not a prefix (e.g. 175.45.176.0/22)",
            args.prefix
        ))
    })?;
    let max = args.max_addresses.unwrap_or_else(|| default_max(&prefix));
    let count =
        check_size(&prefix, max, args.force).map_err(|error| Failure::Usage(error.into()))?;
    if !(args.timeout > 0.0 && args.timeout <= 60.0) {
        return Err(Failure::Usage(anyhow!(
            "--timeout {}: use seconds between 0 and 60",
            args.timeout
        )));
    }
    if args.ports.contains(&0) {
        return Err(Failure::Usage(anyhow!("--ports: 0 is not a port")));
    }
    let options = CensusOptions {
        ports: args.ports.clone(),
        timeout: Duration::from_secs_f64(args.timeout),
        retries: args.retries,
        rate: args.rate,
        ..CensusOptions::default()
    };
    // indicatif draws only on a terminal; elsewhere the bar stays hidden.
    let bar = ProgressBar::new(count);
    bar.set_style(
        ProgressStyle::with_template("{prefix:>5} [{bar:40}] {pos}/{len} {per_sec} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    let progress: Progress = {
        let bar = bar.clone();
        Arc::new(move |phase, done, total| {
            bar.set_prefix(phase);
            bar.set_length(total);
            bar.set_position(done);
        })
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let report = runtime.block_on(blackout_probe::census(prefix, options, progress));
    bar.finish_and_clear();
    if let Some(error) = &report.icmp_error {
        eprintln!("blackout: {error}");
    }
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            for host in &report.hosts {
                json_line(&mut out, host)?;
            }
        }
        Format::Table => {
            let mut table = Table::new(&["ADDRESS", "ICMP", "OPEN PORTS"]);
            for host in &report.hosts {
                table.row(vec![
                    host.address.to_string(),
                    if host.icmp { "alive" } else { "-" }.to_string(),
                    host.open_ports
                        .iter()
                        .map(u16::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                ]);
            }
            table.write(&mut out)?;
        }
    }
    out.flush()?;
    eprintln!(
        "{}: {} addresses, {} answer ICMP{}, {} hosts in all; ICMP sweep {:.3} s ({:.0} addresses/s), total {:.3} s",
        report.prefix,
        report.addresses,
        report.icmp_alive(),
        match report.icmp_mode {
            Some(mode) => format!(" ({mode:?} socket)").to_lowercase(),
            None => " (ICMP unavailable)".to_string(),
        },
        report.hosts.len(),
        report.icmp_secs,
        report.addresses as f64 / report.icmp_secs.max(1e-9),
        report.total_secs,
    );
    if report.icmp_error.is_some() && args.ports.is_empty() {
        return Err(Failure::Work(anyhow!(
            "the census could not send ICMP and had no ports to try"
        )));
    }
    Ok(())
}
