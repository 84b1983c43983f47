//! `blackout events`: the events in the database, newest first.

use crate::Failure;
use crate::cli::{EventsArgs, Format};
use crate::output::{Table, duration, json_line};
use anyhow::{Context, anyhow};
use blackout_model::{Cause, Entity, Timestamp};
use blackout_store::{EventQuery, Store};
use std::io::{BufWriter, Write};

pub fn run(args: EventsArgs) -> Result<(), Failure> {
    let now = blackout_model::clock::now();
    let time = |flag: &str, text: &Option<String>| -> Result<Option<Timestamp>, Failure> {
        text.as_deref()
            .map(|text| Timestamp::parse_query(text, now).ok_or_else(|| Failure::Usage(anyhow!("--{flag} {text}: use RFC 3339 (2022-01-14T00:00:00Z), a date, Unix seconds, or a duration ago (24h, 7d)"))))
            .transpose()
    };
    let query = EventQuery {
        since: time("since", &args.since)?,
        until: time("until", &args.until)?,
        cause: args
            .cause
            .as_deref()
            .map(|c| {
                c.parse::<Cause>()
                    .map_err(|e| Failure::Usage(anyhow!("--cause: {e}")))
            })
            .transpose()?,
        entity: args
            .entity
            .as_deref()
            .map(|e| {
                e.parse::<Entity>()
                    .map(|e| e.to_string())
                    .map_err(|e| Failure::Usage(anyhow!("--entity: {e}")))
            })
            .transpose()?,
        limit: args.limit,
    };
    if args.db.is_missing_file() {
        return Err(Failure::Work(anyhow!(
            "no database at {}: `blackout watch` or `blackout replay --db {}` writes one",
            args.db,
            args.db
        )));
    }
    let store = Store::open_read_only(&args.db)?;
    let events = store.events(&query)?;
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    match args.format {
        Format::Json => {
            for event in &events {
                json_line(&mut out, event)?;
            }
        }
        Format::Table => {
            let mut table = Table::new(&[
                "id", "start", "duration", "entity", "cause", "severity", "conf", "summary",
            ]);
            for event in &events {
                let length = match event.end {
                    Some(end) => duration(end.secs_since(event.start)),
                    None => format!("{} + (ongoing)", duration(now.secs_since(event.start))),
                };
                table.row(vec![
                    event.id.to_string(),
                    event.start.to_rfc3339(),
                    length,
                    event.entity.to_string(),
                    event.cause.to_string(),
                    format!("{:?}", event.severity).to_lowercase(),
                    format!("{:.2}", event.confidence),
                    event.summary.clone(),
                ]);
            }
            if events.is_empty() {
                writeln!(out, "no events match in {}", args.db)?;
            } else {
                table.write(&mut out)?;
            }
        }
    }
    out.flush().context("cannot write the events")?;
    Ok(())
}
