//! Reading one event's report data from the store.

use crate::Series;
use crate::chart::{latest_evidence, window_at};
use blackout_model::{Entity, Event, Measure, SeriesKey, Timestamp};
use blackout_store::{EventQuery, Store, StoreError};
use ipnet::IpNet;

/// The most prefixes charted: beyond this the chart stops being readable.
const MAX_PREFIXES: usize = 16;

/// How far before the window to look for the value a series had when it opened.
const LOOKBACK_SECS: i64 = 2 * 86_400;

/// Everything a report shows.
#[derive(Clone, Debug, PartialEq)]
pub struct ReportData {
    /// The event.
    pub event: Event,
    /// Its prefixes' series over the window.
    pub series: Vec<Series>,
    /// Other events that overlap the window.
    pub related: Vec<Event>,
    /// How far the database's data runs (at least to the event's latest
    /// evidence): the report speaks as of then.
    pub as_of: Timestamp,
}

/// The store could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Reading the store failed.
    #[error("cannot read the report's data from {db}: {source}")]
    Store {
        /// The database, its password hidden.
        db: String,
        /// Why.
        source: StoreError,
    },
}

/// The data for event `id`, or None if the store has no such event.
pub fn gather(store: &Store, id: &str) -> Result<Option<ReportData>, ReportError> {
    let fail = |source| ReportError::Store {
        db: store.db().to_string(),
        source,
    };
    let Some(event) = store.event(id).map_err(fail)? else {
        return Ok(None);
    };
    let as_of = store
        .latest_seen()
        .map_err(fail)?
        .map_or(latest_evidence(&event), |t| t.max(latest_evidence(&event)));
    let (from, to) = window_at(&event, as_of);
    // The checks the event names: a probe event charts its probes.
    let checks: Vec<String> = event
        .scope
        .hosts
        .iter()
        .map(|h| Entity::Host(h.clone()).to_string())
        .chain(event.scope.services.iter().cloned())
        .chain(std::iter::once(event.entity.to_string()))
        .collect();
    let mut probed = 0;
    let mut wanted: Vec<IpNet> = event.scope.prefixes.clone();
    if let Entity::Prefix(prefix) = &event.entity {
        wanted.push(*prefix);
    }
    let mut prefixes: Vec<IpNet> = Vec::new();
    let mut series = Vec::new();
    for key in store.series().map_err(fail)? {
        if let Measure::ProbeOk(_) = key.measure {
            if probed < MAX_PREFIXES && checks.contains(&key.entity.to_string()) {
                let points = points(store, &key, from, to).map_err(fail)?;
                if !points.is_empty() {
                    probed += 1;
                    series.push((key, points));
                }
            }
            continue;
        }
        if !key.measure.is_bgp() {
            continue;
        }
        let Entity::Prefix(prefix) = key.entity else {
            continue;
        };
        // An event names its prefixes; one that names none (a country) gets all.
        if !wanted.is_empty()
            && !wanted
                .iter()
                .any(|w| w.contains(&prefix) || prefix.contains(w))
        {
            continue;
        }
        if !prefixes.contains(&prefix) {
            if prefixes.len() >= MAX_PREFIXES {
                continue;
            }
            prefixes.push(prefix);
        }
        let points = points(store, &key, from, to).map_err(fail)?;
        if !points.is_empty() {
            series.push((key, points));
        }
    }
    let related = store
        .events(&EventQuery {
            since: Some(from),
            until: Some(to),
            ..EventQuery::default()
        })
        .map_err(fail)?
        .into_iter()
        .filter(|e| e.id != event.id)
        .collect();
    Ok(Some(ReportData {
        event,
        series,
        related,
        as_of,
    }))
}

/// A series over [from, to): folded buckets (their means) and raw points, and the
/// value it had as the window opened, placed at `from`.
fn points(
    store: &Store,
    key: &SeriesKey,
    from: Timestamp,
    to: Timestamp,
) -> Result<Vec<(Timestamp, f64)>, StoreError> {
    let mut points: Vec<(Timestamp, f64)> = Vec::new();
    let before = store.signals(key, from.add_secs(-LOOKBACK_SECS), from)?;
    if let Some(last) = before.last() {
        points.push((from, last.value));
    }
    points.extend(
        store
            .rollups(key, from, to)?
            .into_iter()
            .map(|r| (r.bucket, r.mean)),
    );
    points.extend(
        store
            .signals(key, from, to)?
            .into_iter()
            .map(|p| (p.at, p.value)),
    );
    points.sort_by_key(|(at, _)| *at);
    Ok(points)
}
