//! `blackout replay`: MRT archives through the engine.
//!
//! The inputs are merged in time order and fed to the same [`Engine`] that live
//! feeds use, on the archive's clock; VRP snapshots apply from the time each was
//! made. What comes out is the events, a summary per watched prefix, and what
//! could not be read. What the archive crate finds about the inputs goes to stderr
//! in every format: collectors without a table dump (at the start), updates files
//! whose peers match no table peer, and each damaged file's damage (at the end); the
//! JSON stats line carries the same.

use crate::Failure;
use crate::cli::{Format, ReplayArgs};
use crate::commands::load_profile;
use crate::output::{Table, duration, json_line};
use anyhow::Context;
use blackout_archive::{ArchiveReader, Coverage, CoverageWarning, ReadStats, ReaderOptions};
use blackout_bgp::{BgpChange, BgpState, ChangeKind, Tracking, Vrps};
use blackout_engine::{Engine, EngineConfig, Input};
use blackout_model::{Event, SeriesPoint, Timestamp, UpdateKind};
use blackout_store::Store;
use serde::Serialize;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

/// How many inputs go by between two progress-bar updates.
const PROGRESS_EVERY: u64 = 1 << 16;

pub fn run(args: ReplayArgs) -> Result<(), Failure> {
    let mut profile = load_profile(&args.profile)?;
    let tracking = crate::commands::tracking(&mut profile, &args.global)?;
    // VRP snapshots, oldest first; each applies from the time it was made (one
    // that does not say applies from the start).
    let mut snapshots = match &args.vrps {
        Some(path) => read_snapshots(path)?,
        None => Vec::new(),
    };
    let inputs = blackout_archive::expand_inputs(&args.inputs, args.collector.as_deref())?;
    let options = ReaderOptions {
        watch: match &tracking {
            Tracking::Networks(watch) => Some(watch.all_prefixes().copied().collect()),
            Tracking::Global(_) => None,
        },
        cache_dir: args.cache.clone().unwrap_or_else(default_cache_dir),
    };
    let mut failed = Vec::new();
    let mut readers: Vec<ArchiveReader> = Vec::new();
    for input in &inputs {
        match blackout_archive::open(input, &options) {
            Ok(reader) => readers.push(reader),
            Err(error) => {
                eprintln!("blackout: {error}");
                failed.push(error.to_string());
            }
        }
    }
    let initial = match snapshots.first() {
        Some((None, _)) => snapshots.remove(0).1,
        _ => Vrps::default(),
    };
    let mut engine = Engine::new(EngineConfig {
        record_changes: args.timeline,
        tracking,
        ..EngineConfig::archive(profile.clone(), initial)
    });
    let mut timeline: Vec<BgpChange> = Vec::new();
    let mut visibility: Vec<SeriesPoint> = Vec::new();
    let mut merged = blackout_archive::merge(readers);
    for warning in merged.coverage().warnings() {
        if matches!(warning, CoverageWarning::UpdatesOnly { .. }) {
            warn(warning);
        }
    }
    let total: u64 = merged.progress().total.unwrap_or(0);
    let bar = indicatif::ProgressBar::new(total);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} replay {bar:40} {bytes}/{total_bytes} {msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    let mut seen = 0u64;
    let mut first: Option<Timestamp> = None;
    let mut last: Option<Timestamp> = None;
    let keep = |output: blackout_engine::Output,
                timeline: &mut Vec<BgpChange>,
                visibility: &mut Vec<SeriesPoint>| {
        if args.db.is_some() {
            visibility.extend(output.series);
        }
        timeline.extend(output.changes);
    };
    while let Some(input) = merged.next() {
        let at = input.at();
        first = Some(first.map_or(at, |f| f.min(at)));
        last = Some(last.map_or(at, |l| l.max(at)));
        // VRPs made by now apply before the records of now.
        while snapshots
            .first()
            .is_some_and(|(made, _)| made.is_none_or(|made| made <= at))
        {
            let (made, vrps) = snapshots.remove(0);
            let output = engine.step(made.unwrap_or(at).max(at), Input::Vrps(vrps));
            keep(output, &mut timeline, &mut visibility);
        }
        let output = engine.step(at, Input::Bgp(input));
        keep(output, &mut timeline, &mut visibility);
        seen += 1;
        if seen.is_multiple_of(PROGRESS_EVERY) {
            bar.set_position(merged.progress().read);
            bar.set_message(at.to_rfc3339());
        }
    }
    bar.finish_and_clear();
    for (made, _) in &snapshots {
        eprintln!(
            "blackout: a VRP snapshot made at {} is after the last record and was not applied",
            made.map(|m| m.to_rfc3339()).unwrap_or_default()
        );
    }
    let coverage = merged.coverage();
    for warning in coverage.warnings() {
        if !matches!(warning, CoverageWarning::UpdatesOnly { .. }) {
            warn(warning);
        }
    }
    let files: Vec<(String, ReadStats)> = merged
        .readers()
        .iter()
        .map(|reader| (reader.location().to_string(), reader.stats()))
        .collect();
    for (location, stats) in &files {
        if stats.is_damaged() {
            eprintln!("blackout: damage in {location}: {}", stats.damage_summary());
        }
    }
    let finished = engine.finish();
    let events = finished.events;
    keep(finished.output, &mut timeline, &mut visibility);
    if let Some(path) = &args.db {
        store(path, &events, &visibility)?;
    }
    let report = Report {
        profile: &profile.name,
        state: &finished.state,
        events: &events,
        timeline: &timeline,
        files: &files,
        coverage: &coverage,
        failed: &failed,
        first,
        last,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        Format::Table => report.table(&mut out),
        Format::Json => report.json(&mut out),
    }
    .and_then(|()| out.flush())
    .context("cannot write the report")?;
    if failed.is_empty() {
        Ok(())
    } else {
        Err(Failure::Work(anyhow::anyhow!(
            "{} of {} inputs could not be read",
            failed.len(),
            inputs.len()
        )))
    }
}

/// The VRP snapshots of `--vrps`: one file, or every `.json` file of a
/// directory, each with the time it was made, oldest first (those that do not
/// say first).
fn read_snapshots(path: &Path) -> Result<Vec<(Option<Timestamp>, Vrps)>, Failure> {
    let files: Vec<PathBuf> = if path.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .with_context(|| format!("cannot read the VRP directory {}", path.display()))?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "json"))
            .collect();
        files.sort();
        files
    } else {
        vec![path.to_path_buf()]
    };
    let mut snapshots = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read the VRP file {}", file.display()))?;
        let vrps = Vrps::from_json(&text).with_context(|| format!("{}", file.display()))?;
        if vrps.generated().is_none() {
            eprintln!(
                "blackout: {} does not say when it was made (metadata.generated or buildtime): its VRPs apply from the first record",
                file.display()
            );
        }
        snapshots.push((vrps.generated(), vrps));
    }
    snapshots.sort_by_key(|(made, _)| *made);
    Ok(snapshots)
}

/// A warning about the inputs, on stderr.
fn warn(warning: &CoverageWarning) {
    let hint = match warning {
        CoverageWarning::UnmatchedPeers { .. } => {
            " (--collector NAME reads every input as one collector's)"
        }
        CoverageWarning::UpdatesOnly { .. } => "",
    };
    eprintln!("blackout: warning: {warning}{hint}");
}

/// Writes the replay's events and series to the database.
fn store(db: &blackout_store::Db, events: &[Event], points: &[SeriesPoint]) -> Result<(), Failure> {
    let mut store = Store::open(db)?;
    let changes: Vec<(UpdateKind, &Event)> = events
        .iter()
        .map(|event| {
            (
                if event.end.is_some() {
                    UpdateKind::Ended
                } else {
                    UpdateKind::Started
                },
                event,
            )
        })
        .collect();
    store.record_events(&changes)?;
    store.record_signals(points)?;
    Ok(())
}

fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("blackout")
        .join("archives")
}

struct Report<'a> {
    profile: &'a str,
    state: &'a BgpState,
    events: &'a [Event],
    timeline: &'a [BgpChange],
    /// Each input read, and what its reader saw.
    files: &'a [(String, ReadStats)],
    coverage: &'a Coverage,
    failed: &'a [String],
    first: Option<Timestamp>,
    last: Option<Timestamp>,
}

/// The totals of what was read, as the JSON summary line carries them.
#[derive(Serialize)]
struct Totals {
    kind: &'static str,
    profile: String,
    inputs: usize,
    failed_inputs: Vec<String>,
    first: Option<Timestamp>,
    last: Option<Timestamp>,
    records: u64,
    routes: u64,
    rib_entries: u64,
    damaged_records: u64,
    unsupported_records: u64,
    skipped_bytes: u64,
    resyncs: u64,
    truncated_inputs: usize,
    checksum_errors: u64,
    /// The damage of each damaged input.
    damage: Vec<InputDamage>,
    peers: usize,
    full_feed_peers: u32,
    /// Per collector: whether a table dump was among its inputs, and its peers.
    collectors: Vec<CollectorTotals>,
    /// Updates-only collectors; updates files whose peers match no table peer.
    warnings: Vec<String>,
    problems: Vec<String>,
}

/// One damaged input, as the JSON summary line carries it.
#[derive(Serialize)]
struct InputDamage {
    input: String,
    summary: String,
    damaged_records: u64,
    skipped_bytes: u64,
    resyncs: u64,
    truncated: bool,
    checksum_errors: u64,
    stream_error: Option<String>,
}

/// One collector's inputs, as the JSON summary line carries them.
#[derive(Serialize)]
struct CollectorTotals {
    collector: String,
    inputs: usize,
    table_seen: bool,
    table_peers: usize,
    update_peers: usize,
    update_peers_without_table: usize,
}

impl Report<'_> {
    fn stats(&self) -> impl Iterator<Item = &ReadStats> {
        self.files.iter().map(|(_, stats)| stats)
    }

    fn totals(&self) -> Totals {
        let sum = |f: fn(&ReadStats) -> u64| self.stats().map(f).sum::<u64>();
        let (peers, full_feed_peers) = self.state.peer_counts();
        let warnings: Vec<String> = self
            .coverage
            .warnings()
            .iter()
            .map(ToString::to_string)
            .collect();
        Totals {
            kind: "stats",
            profile: self.profile.to_string(),
            inputs: self.files.len() + self.failed.len(),
            failed_inputs: self.failed.to_vec(),
            first: self.first,
            last: self.last,
            records: sum(|s| s.records),
            routes: sum(|s| s.routes),
            rib_entries: sum(|s| s.rib_entries),
            damaged_records: sum(|s| s.damaged_records),
            unsupported_records: sum(|s| s.unsupported_records),
            skipped_bytes: sum(|s| s.skipped_bytes),
            resyncs: sum(|s| s.resyncs),
            truncated_inputs: self.stats().filter(|s| s.truncated).count(),
            checksum_errors: sum(|s| s.checksum_errors),
            damage: self
                .files
                .iter()
                .filter(|(_, stats)| stats.is_damaged())
                .map(|(input, stats)| InputDamage {
                    input: input.clone(),
                    summary: stats.damage_summary(),
                    damaged_records: stats.damaged_records,
                    skipped_bytes: stats.skipped_bytes,
                    resyncs: stats.resyncs,
                    truncated: stats.truncated,
                    checksum_errors: stats.checksum_errors,
                    stream_error: stats.stream_error.clone(),
                })
                .collect(),
            peers,
            full_feed_peers,
            collectors: self
                .coverage
                .collectors()
                .iter()
                .map(|c| CollectorTotals {
                    collector: c.collector.to_string(),
                    inputs: c.inputs,
                    table_seen: c.table_seen(),
                    table_peers: c.table_peers.len(),
                    update_peers: c.update_peers.len(),
                    update_peers_without_table: c.peers_without_table().count(),
                })
                .collect(),
            problems: warnings
                .iter()
                .cloned()
                .chain(self.stats().flat_map(|s| s.errors.iter().cloned()))
                .take(20)
                .collect(),
            warnings,
        }
    }

    fn json(&self, out: &mut impl Write) -> std::io::Result<()> {
        for change in self.timeline {
            json_line(
                out,
                &serde_json::json!({ "kind": "change", "change": change }),
            )?;
        }
        for event in self.events {
            json_line(out, event)?;
        }
        for summary in self.state.summaries() {
            let view = self.state.view(&summary.prefix);
            json_line(
                out,
                &serde_json::json!({
                    "kind": "prefix",
                    "prefix": summary,
                    "visibility": view.as_ref().map(|v| v.visibility()),
                    "view": view,
                }),
            )?;
        }
        // Looked up, not searched per view: a profile can watch 100,000 prefixes.
        let summarized: std::collections::HashSet<ipnet::IpNet> =
            self.state.summaries().map(|s| s.prefix).collect();
        for view in self.state.views() {
            if !summarized.contains(&view.prefix) {
                json_line(
                    out,
                    &serde_json::json!({ "kind": "prefix", "prefix": { "prefix": view.prefix, "relation": "watched", "peers": 0 }, "visibility": view.visibility(), "view": view }),
                )?;
            }
        }
        for (info, aggregates, events) in self.entities_with_events() {
            json_line(
                out,
                &serde_json::json!({
                    "kind": "entity",
                    "entity": info.entity,
                    "name": info.name,
                    "prefixes": aggregates.prefix_count(),
                    "visibility": aggregates.visibility(self.state.denominators()),
                    "events": events,
                }),
            )?;
        }
        json_line(out, &self.totals())
    }

    /// The entities that had events, with their aggregates at the end and how many
    /// events each had (the global view's summary: a full table has too many
    /// prefixes to list).
    fn entities_with_events(
        &self,
    ) -> Vec<(&blackout_bgp::EntityInfo, &blackout_bgp::Aggregates, usize)> {
        let mut counts: std::collections::BTreeMap<String, usize> = Default::default();
        for event in self.events {
            *counts.entry(event.entity.to_string()).or_default() += 1;
        }
        self.state
            .entities()
            .iter()
            .enumerate()
            .filter_map(|(i, info)| {
                let events = *counts.get(&info.entity.to_string())?;
                Some((
                    info,
                    self.state.aggregates(blackout_bgp::EntityIdx(i as u32)),
                    events,
                ))
            })
            .collect()
    }

    fn table(&self, out: &mut impl Write) -> std::io::Result<()> {
        let totals = self.totals();
        if !self.timeline.is_empty() {
            writeln!(out, "Timeline")?;
            let mut table = Table::new(&["time", "change"]);
            for change in self.timeline {
                table.row(vec![change.at().to_rfc3339(), describe_change(change)]);
            }
            table.write(out)?;
            writeln!(out)?;
        }
        writeln!(out, "Events ({})", self.events.len())?;
        if self.events.is_empty() {
            writeln!(
                out,
                "  none: the archives show no outage or change of the watched networks"
            )?;
        } else {
            let mut table =
                Table::new(&["start", "duration", "entity", "cause", "conf", "summary"]);
            for event in self.events {
                let length = match event.end {
                    Some(end) => duration(end.secs_since(event.start)),
                    None => format!(
                        "{} +",
                        duration(self.last.unwrap_or(event.start).secs_since(event.start))
                    ),
                };
                table.row(vec![
                    event.start.to_rfc3339(),
                    length,
                    event.entity.to_string(),
                    event.cause.to_string(),
                    format!("{:.2}", event.confidence),
                    event.summary.clone(),
                ]);
            }
            table.write(out)?;
        }
        let entities = self.entities_with_events();
        if self.state.watch().is_none() && !entities.is_empty() {
            writeln!(out)?;
            writeln!(
                out,
                "Countries and ASes with events (at the end of the replay)"
            )?;
            let mut table = Table::new(&["entity", "name", "prefixes", "visibility", "events"]);
            for (info, aggregates, events) in entities {
                table.row(vec![
                    info.entity.to_string(),
                    info.name.clone(),
                    aggregates.prefix_count().to_string(),
                    aggregates
                        .visibility(self.state.denominators())
                        .map_or_else(|| "-".into(), |v| format!("{:.0}%", v * 100.0)),
                    events.to_string(),
                ]);
            }
            table.write(out)?;
        }
        writeln!(out)?;
        writeln!(out, "Watched prefixes (at the end of the replay)")?;
        let mut table = Table::new(&[
            "prefix",
            "visibility",
            "seen by",
            "upstreams",
            "origins",
            "rpki",
            "ann/wdr",
        ]);
        let summaries: std::collections::HashMap<ipnet::IpNet, _> =
            self.state.summaries().map(|s| (s.prefix, s)).collect();
        for view in self.state.views() {
            let summary = summaries.get(&view.prefix).copied();
            let upstreams: Vec<String> = view
                .upstreams
                .iter()
                .map(|(a, n)| format!("{a}:{n}"))
                .collect();
            let origins: Vec<String> = view.origins.keys().map(|a| a.to_string()).collect();
            table.row(vec![
                view.prefix.to_string(),
                format!("{:.0}%", view.visibility() * 100.0),
                format!("{}/{}", view.seen_by, view.full_feed_peers),
                dash(upstreams.join(" ")),
                dash(origins.join(" ")),
                dash(
                    summary
                        .map(|s| {
                            s.rpki
                                .iter()
                                .map(|r| r.to_string())
                                .collect::<Vec<_>>()
                                .join(" ")
                        })
                        .unwrap_or_default(),
                ),
                summary
                    .map(|s| format!("{}/{}", s.announcements, s.withdrawals))
                    .unwrap_or_else(|| "0/0".into()),
            ]);
        }
        table.write(out)?;
        let others: Vec<_> = self
            .state
            .summaries()
            .filter(|s| s.relation != blackout_bgp::Relation::Watched)
            .collect();
        if !others.is_empty() {
            writeln!(out)?;
            writeln!(out, "Other prefixes that concern the watched networks")?;
            let mut table = Table::new(&[
                "prefix",
                "relation",
                "peers now/ever",
                "origins",
                "upstreams",
                "ann/wdr",
            ]);
            for summary in others {
                table.row(vec![
                    summary.prefix.to_string(),
                    format!("{:?}", summary.relation).to_lowercase(),
                    format!("{}/{}", summary.peers_now, summary.peers),
                    dash(
                        summary
                            .origins
                            .iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    dash(
                        summary
                            .upstreams
                            .iter()
                            .map(|a| a.to_string())
                            .collect::<Vec<_>>()
                            .join(" "),
                    ),
                    format!("{}/{}", summary.announcements, summary.withdrawals),
                ]);
            }
            table.write(out)?;
        }
        writeln!(out)?;
        let span = match (totals.first, totals.last) {
            (Some(first), Some(last)) => format!("{first} to {last}"),
            _ => "no records".into(),
        };
        writeln!(
            out,
            "Read {} inputs ({span}): {} records, {} RIB entries, {} routes of the watched networks; {} peers, {} full-feed",
            totals.inputs,
            totals.records,
            totals.rib_entries,
            totals.routes,
            totals.peers,
            totals.full_feed_peers
        )?;
        for warning in &totals.warnings {
            writeln!(out, "Warning: {warning}")?;
        }
        for damage in &totals.damage {
            writeln!(out, "Damage in {}: {}", damage.input, damage.summary)?;
        }
        if totals.damaged_records + totals.unsupported_records + totals.skipped_bytes > 0 {
            writeln!(
                out,
                "Skipped {} damaged records ({} bytes while resynchronising) and {} records of unsupported types",
                totals.damaged_records, totals.skipped_bytes, totals.unsupported_records
            )?;
            // (the warnings, which lead the problems, are printed above)
            for problem in totals.problems.iter().skip(totals.warnings.len()) {
                writeln!(out, "  {problem}")?;
            }
        }
        for failed in self.failed {
            writeln!(out, "Not read: {failed}")?;
        }
        Ok(())
    }
}

fn dash(text: String) -> String {
    if text.is_empty() { "-".into() } else { text }
}

fn describe_change(change: &BgpChange) -> String {
    match &change.kind {
        ChangeKind::Visibility {
            prefix,
            seen_by,
            of,
            previous,
            ..
        } => format!(
            "{prefix} visibility {:.0}% -> {:.0}% ({seen_by}/{of} full-feed peers)",
            blackout_bgp::share(*previous, *of) * 100.0,
            blackout_bgp::share(*seen_by, *of) * 100.0,
        ),
        ChangeKind::Denominator {
            family,
            of,
            previous,
        } => format!(
            "full-feed peers counted for IPv{}: {previous} -> {of}",
            if *family == 0 { 4 } else { 6 }
        ),
        ChangeKind::OriginAppeared {
            prefix,
            origin,
            expected,
            as_path,
            ..
        } => {
            format!(
                "{prefix} originated by {origin}{} (path {as_path})",
                if *expected { "" } else { " (unexpected)" }
            )
        }
        ChangeKind::OriginGone { prefix, origin, .. } => {
            format!("{prefix} no longer originated by {origin}")
        }
        ChangeKind::UpstreamAppeared {
            upstream,
            known,
            prefix,
            as_path,
        } => {
            format!(
                "{upstream} now carries {prefix}{} (path {as_path})",
                if *known { "" } else { " (a new upstream)" }
            )
        }
        ChangeKind::UpstreamGone { upstream } => {
            format!("{upstream} no longer carries any route")
        }
        ChangeKind::Rpki {
            prefix,
            origin,
            state,
            ..
        } => format!(
            "{prefix} from {} is RPKI {state}",
            origin
                .map(|o| o.to_string())
                .unwrap_or_else(|| "an AS_SET".into())
        ),
        ChangeKind::FullFeedPeers { count, of } => {
            format!("{count} of {of} peers are full-feed")
        }
    }
}
