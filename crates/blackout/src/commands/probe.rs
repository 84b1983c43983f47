//! `blackout probe`: one round of probes over the profile's targets (or the ones
//! given), printed as a table or as JSON Lines. Exit code 1 when any check failed.

use crate::Failure;
use crate::cli::{Format, ProbeArgs};
use crate::output::{Table, json_line};
use anyhow::{Context, anyhow};
use blackout_probe::{
    CheckSpec, Detail, EngineConfig, Outcome, ProbeResult, Prober, Target, targets_from_profile,
};
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

/// Runs `blackout probe`.
pub fn run(args: ProbeArgs) -> Result<(), Failure> {
    let profile = super::load_profile(&args.profile)?;
    let targets = if args.targets.is_empty() {
        targets_from_profile(&profile)
    } else {
        args.targets
            .iter()
            .map(|text| Target::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|error| Failure::Usage(error.into()))?
    };
    if targets.is_empty() {
        return Err(Failure::Usage(anyhow!(
            "nothing to probe: the profile `{}` names no hosts, zones, mail servers or controls",
            profile.name
        )));
    }
    let mut config = EngineConfig::from(&profile.probes);
    if let Some(timeout) = args.timeout {
        if !(timeout > 0.0 && timeout <= 3600.0) {
            return Err(Failure::Usage(anyhow!(
                "--timeout {timeout}: use seconds between 0 and 3600"
            )));
        }
        config.timeout = Duration::from_secs_f64(timeout);
    }
    if let Some(retries) = args.retries {
        config.retries = retries;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let results = runtime.block_on(async {
        let prober = Arc::new(Prober::new(config));
        let needs_icmp = targets
            .iter()
            .any(|t| matches!(t.check, CheckSpec::Icmp | CheckSpec::Trace(_)));
        if needs_icmp && let Some(why) = prober.icmp_unavailable() {
            eprintln!("blackout: {why}");
        }
        prober.round(&targets).await
    });
    let mut out = std::io::stdout().lock();
    match args.format {
        Format::Json => {
            for result in &results {
                json_line(&mut out, result)?;
            }
        }
        Format::Table => table(&results).write(&mut out)?,
    }
    out.flush()?;
    let failed = results.iter().filter(|r| !r.outcome.is_ok()).count();
    if failed > 0 {
        return Err(Failure::Work(anyhow!(
            "{failed} of {} checks failed",
            results.len()
        )));
    }
    Ok(())
}

fn table(results: &[ProbeResult]) -> Table {
    let mut table = Table::new(&[
        "TARGET", "CHECK", "ADDRESS", "STATUS", "RTT", "TRIES", "DETAIL",
    ]);
    for result in results {
        table.row(vec![
            result.target.clone(),
            result.check.clone(),
            result
                .address
                .map(|a| a.to_string())
                .unwrap_or_else(|| "-".to_string()),
            result.outcome.word().to_string(),
            result
                .rtt_ms
                .map(|ms| format!("{ms:.1} ms"))
                .unwrap_or_else(|| "-".to_string()),
            if result.lost > 0 {
                format!("{} ({} lost)", result.attempts, result.lost)
            } else {
                result.attempts.to_string()
            },
            detail(result),
        ]);
    }
    table
}

/// One line that says what the check saw.
fn detail(result: &ProbeResult) -> String {
    let mut parts = Vec::new();
    match &result.detail {
        Some(Detail::Http(http)) => {
            if let Some(status) = http.status {
                parts.push(format!("HTTP {status}"));
            }
            if let Some(title) = &http.title {
                parts.push(format!("title {title:?}"));
            }
            if let Some(hash) = &http.sha256 {
                parts.push(format!(
                    "sha256 {}… ({} bytes{})",
                    hash.get(..12).unwrap_or(hash),
                    http.body_bytes,
                    if http.truncated { ", cut" } else { "" }
                ));
            }
            if let Some(ttfb) = http.first_byte_ms {
                parts.push(format!("first byte {ttfb:.1} ms"));
            }
        }
        Some(Detail::Dns(dns)) => {
            if let Some(serial) = dns.soa_serial {
                parts.push(format!("serial {serial}"));
            }
            if !dns.ns.is_empty() {
                parts.push(format!("NS {}", dns.ns.join(",")));
            }
            if !dns.a.is_empty() {
                let a: Vec<String> = dns.a.iter().map(|a| a.to_string()).collect();
                parts.push(format!("A {}", a.join(",")));
            }
            if !dns.aaaa.is_empty() {
                let aaaa: Vec<String> = dns.aaaa.iter().map(|a| a.to_string()).collect();
                parts.push(format!("AAAA {}", aaaa.join(",")));
            }
            if let Some(rcode) = &dns.rcode {
                parts.push(format!(
                    "{rcode}{}",
                    if dns.aa == Some(true) { " aa" } else { "" }
                ));
            }
        }
        Some(Detail::Smtp(smtp)) => {
            if let (Some(code), Some(banner)) = (smtp.banner_code, &smtp.banner) {
                let first = banner.lines().next().unwrap_or("");
                parts.push(format!(
                    "{code} {}",
                    first.chars().take(60).collect::<String>()
                ));
            }
            if let Some(code) = smtp.ehlo_code {
                parts.push(format!("EHLO {code} {}", smtp.extensions.join(",")));
            }
        }
        Some(Detail::Trace(trace)) => {
            let hops: Vec<String> = trace
                .hops
                .iter()
                .map(|hop| match hop.address {
                    Some(address) => format!(
                        "{} {address}{}",
                        hop.ttl,
                        hop.asn.map(|asn| format!(" {asn}")).unwrap_or_default()
                    ),
                    None => format!("{} *", hop.ttl),
                })
                .collect();
            parts.push(hops.join(" > "));
        }
        None => {}
    }
    if !matches!(result.outcome, Outcome::Ok)
        && let Some(reason) = result.outcome.reason()
    {
        parts.push(reason.to_string());
    }
    parts.join("; ")
}
