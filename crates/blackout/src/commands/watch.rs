//! `blackout watch`: the live observatory.

use crate::Failure;
use crate::cli::{Format, WatchArgs};
use crate::commands::load_profile;
use crate::output::json_line;
use anyhow::{Context, anyhow};
use blackout_bgp::Vrps;
use blackout_model::EventUpdate;
use blackout_watch::{WatchConfig, WatchError, run_with_ready as watch};
use std::io::Write;

pub fn run(args: WatchArgs) -> Result<(), Failure> {
    let mut profile = load_profile(&args.profile)?;
    let tracking = crate::commands::tracking(&mut profile, &args.global)?;
    if let Some(path) = &args.alerts {
        if profile.alerts.has_channels() {
            tracing::info!(
                "the alerts of {} replace the profile's [alerts]",
                path.display()
            );
        }
        profile.alerts = blackout_profile::load_alerts_file(path)
            .map_err(|error| Failure::Usage(error.into()))?;
    }
    if args.nats.is_some() {
        blackout_model::subject::subject_token("profile", &profile.name)
            .map_err(|error| Failure::Usage(anyhow!(error)))?;
        if let Some(durable) = &args.durable {
            blackout_model::subject::subject_token("durable consumer", durable)
                .map_err(|error| Failure::Usage(anyhow!(error)))?;
        }
    }
    let vrps = match &args.vrps {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the VRP file {}", path.display()))?;
            Vrps::from_json(&text).with_context(|| format!("{}", path.display()))?
        }
        None => Vrps::default(),
    };
    // Probes and feeds speak TLS (HTTPS checks, RIS Live): ring is the one provider.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let config = WatchConfig {
        profile: profile.clone(),
        tracking,
        db: args.db.clone(),
        vantage: args.vantage.clone(),
        vrps,
        vrps_file: args.vrps.clone(),
        listen: Some(args.listen),
        nats: args.nats.as_ref().map(|url| {
            let mut central = blackout_relay::CentralConfig::new(url.as_str(), &profile.name);
            if let Some(durable) = &args.durable {
                central.durable = durable.clone();
            }
            central
        }),
        own_probes: !args.no_probes,
        api_hosts: args.api_hosts.clone(),
    };
    let banner = format!(
        "blackout: watching {} ({} prefixes, {} feeds, {} hosts) from {}; events go to {}; dashboard on http://{}/",
        profile.label.as_deref().unwrap_or(&profile.name),
        profile.announced_prefixes().len(),
        profile.feeds.len(),
        profile.hosts.len(),
        args.vantage,
        args.db,
        args.listen
    );
    if let Some(warning) = exposure_warning(args.listen) {
        eprintln!("{warning}");
    }
    let format = args.format;
    let report = runtime
        .block_on(watch(
            config,
            shutdown(),
            // Said once the port and the database are taken, not before.
            move || eprintln!("{banner}"),
            move |update, _core| print_update(update, format),
        ))
        .map_err(|error| match error {
            // Alert settings that cannot work are bad configuration, like a bad profile.
            WatchError::Alerts(_) => Failure::Usage(anyhow!(error)),
            // Another watch writes to this --db: the user's choice to change, so exit 2,
            // with the holder named.
            WatchError::Store(blackout_store::StoreError::Locked { .. }) => {
                Failure::Usage(anyhow!(error))
            }
            _ => Failure::Work(anyhow!(error)),
        })?;
    eprintln!(
        "blackout: stopped after {} route updates, {} probe results, {} agents' results and {} event updates",
        report.routes, report.probes, report.agent_results, report.updates
    );
    Ok(())
}

fn print_update(update: &EventUpdate, format: Format) {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let event = &update.event;
    let change = update.kind.as_str();
    let written = match format {
        Format::Json => json_line(
            &mut out,
            &serde_json::json!({ "change": change, "event": event }),
        ),
        Format::Table => writeln!(
            out,
            "{} {change:<7} {} {} ({:.2}): {}",
            event.start, event.entity, event.cause, event.confidence, event.summary
        ),
    };
    // A closed stdout (a pipe that went away) must not stop the observatory.
    let _ = written.and_then(|()| out.flush());
}

/// Resolves on Ctrl-C or SIGTERM.
pub(crate) async fn shutdown() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}

/// A warning when `--listen` reaches beyond this machine: the API, the dashboard and
/// /metrics have no authentication.
fn exposure_warning(listen: std::net::SocketAddr) -> Option<String> {
    (!listen.ip().is_loopback()).then(|| {
        format!(
            "blackout: warning: --listen {listen} is not a loopback address: the API, the \
             dashboard and /metrics have no authentication and are open to every host that \
             can reach this one; use 127.0.0.1 unless that is what you want"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::exposure_warning;

    #[test]
    fn listening_beyond_loopback_is_warned_about() {
        for open in ["0.0.0.0:8470", "[::]:8470", "192.0.2.1:80"] {
            let warning = exposure_warning(open.parse().unwrap()).unwrap();
            assert!(warning.contains("not a loopback address"), "{warning}");
            assert!(warning.contains(open), "{warning}");
        }
        for closed in ["127.0.0.1:8470", "127.0.0.2:1", "[::1]:8470"] {
            assert_eq!(exposure_warning(closed.parse().unwrap()), None, "{closed}");
        }
    }
}
