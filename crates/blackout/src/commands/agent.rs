//! `blackout agent`: a vantage point publishing to the central's broker.

use crate::Failure;
use crate::cli::AgentArgs;
use crate::commands::load_profile;
use anyhow::{Context, anyhow};
use blackout_relay::{AgentConfig, AgentCounters, RelayError, RelayedFeed, run_agent};
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
    let feeds = if args.feeds {
        let filter = blackout_bgp::WatchSet::from_profile(&profile).filter();
        let feeds: Vec<RelayedFeed> = profile
            .feeds
            .iter()
            .map(|feed| RelayedFeed::from_config(feed, &filter))
            .collect();
        if feeds.is_empty() {
            return Err(Failure::Usage(anyhow!(
                "--feeds: the profile {} has no [[feed]] to relay",
                profile.name
            )));
        }
        feeds
    } else {
        Vec::new()
    };
    let config = AgentConfig {
        feeds,
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
    let relaying = if config.feeds.is_empty() {
        String::new()
    } else {
        let names: Vec<&str> = config.feeds.iter().map(|feed| feed.name.as_str()).collect();
        format!("; relaying feeds {}", names.join(", "))
    };
    eprintln!(
        "blackout: agent {} probing for {} and publishing to {}; buffer in {}{relaying}",
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
        "blackout: agent stopped after {} results, {} traceroutes (of {} asked for) and {} route inputs in {} batches (and {} feed health reports): {} published, {} buffered, {} resent ({} the broker had already), {} dropped; {} messages; {} bytes wait in the buffer",
        report.results,
        report.traces,
        report.trace_requests,
        report.routes,
        report.route_batches,
        report.feed_reports,
        report.published,
        report.buffered,
        report.resent,
        report.duplicates,
        report.dropped,
        report.messages,
        report.waiting_bytes
    );
    Ok(())
}
