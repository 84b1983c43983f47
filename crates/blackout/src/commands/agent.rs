//! `blackout agent`: a vantage point publishing to the central's broker.

use crate::Failure;
use crate::cli::AgentArgs;
use crate::commands::load_profile;
use anyhow::{Context, anyhow};
use blackout_relay::{AgentConfig, AgentCounters, RelayError, run_agent};
use std::path::PathBuf;
use std::sync::Arc;

pub fn run(args: AgentArgs) -> Result<(), Failure> {
    let profile = load_profile(&args.profile)?;
    for (what, name) in [
        ("profile", profile.name.as_str()),
        ("vantage", &args.vantage),
    ] {
        blackout_model::subject::subject_token(what, name)
            .map_err(|error| Failure::Usage(anyhow!(error)))?;
    }
    let config = AgentConfig {
        buffer_dir: args
            .buffer
            .clone()
            .unwrap_or_else(|| PathBuf::from(format!("blackout-agent-{}", args.vantage))),
        buffer_max_bytes: args.buffer_max_bytes,
        profile,
        vantage: args.vantage.clone(),
        location: args.location.clone(),
        nats: args.nats.as_str().to_string(),
    };
    // HTTPS checks speak TLS: ring is the one provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    eprintln!(
        "blackout: agent {} probing for {} and publishing to {}; buffer in {}",
        config.vantage,
        config.profile.name,
        blackout_relay::redact(&config.nats),
        config.buffer_dir.display()
    );
    let counters = Arc::new(AgentCounters::default());
    let report = runtime
        .block_on(run_agent(
            config,
            counters,
            crate::commands::watch::shutdown(),
        ))
        .map_err(|error| match error {
            RelayError::Name(_) | RelayError::Connect { .. } => Failure::Usage(anyhow!(error)),
            _ => Failure::Work(anyhow!(error)),
        })?;
    eprintln!(
        "blackout: agent stopped after {} results and {} traceroutes (of {} asked for): {} published, {} buffered, {} resent ({} the broker had already), {} dropped; {} bytes wait in the buffer",
        report.results,
        report.traces,
        report.trace_requests,
        report.published,
        report.buffered,
        report.resent,
        report.duplicates,
        report.dropped,
        report.waiting_bytes
    );
    Ok(())
}
