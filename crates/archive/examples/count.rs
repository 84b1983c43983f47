//! Reads MRT archives with the `kp` profile's watch set (or everything with `--all`)
//! and prints what came out, with the time taken: the reader's benchmark until
//! `blackout replay` exists.
//!
//! `cargo run --release -p blackout-archive --example count -- [--all] FILE|DIR|URL...`

use blackout_archive::{ReaderOptions, expand_inputs, merge, open};
use blackout_model::BgpInput;
use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let all = args.iter().any(|arg| arg == "--all");
    args.retain(|arg| arg != "--all");
    let watch = if all {
        None
    } else {
        let profile = blackout_profile::builtin("kp")?;
        Some(
            profile
                .networks
                .iter()
                .flat_map(|network| network.prefixes.iter().chain(&network.aggregates))
                .copied()
                .collect(),
        )
    };
    let options = ReaderOptions {
        watch,
        ..ReaderOptions::default()
    };
    let started = Instant::now();
    let inputs = expand_inputs(&args, None)?;
    let readers = inputs
        .iter()
        .map(|input| open(input, &options))
        .collect::<Result<Vec<_>, _>>()?;
    let mut merged = merge(readers);
    let (mut routes, mut peer_downs, mut table_sizes) = (0u64, 0u64, 0u64);
    for input in merged.by_ref() {
        match input {
            BgpInput::Route(_) => routes += 1,
            BgpInput::PeerDown { .. } => peer_downs += 1,
            BgpInput::TableSize { .. } => table_sizes += 1,
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    let stats = merged.stats();
    let records: u64 = stats.iter().map(|s| s.records).sum();
    let entries: u64 = stats.iter().map(|s| s.rib_entries).sum();
    let bytes: u64 = stats.iter().map(|s| s.bytes).sum();
    let damaged: u64 = stats.iter().map(|s| s.damaged_records).sum();
    let unsupported: u64 = stats.iter().map(|s| s.unsupported_records).sum();
    println!(
        "inputs={} records={records} rib_entries={entries} routes={routes} peer_downs={peer_downs} \
         table_sizes={table_sizes} damaged={damaged} unsupported={unsupported} \
         seconds={elapsed:.3} records_per_s={:.0} mrt_mb_per_s={:.1}",
        inputs.len(),
        records as f64 / elapsed,
        bytes as f64 / elapsed / 1e6,
    );
    Ok(())
}
