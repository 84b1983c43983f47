//! The series the engine makes, for the store, the API's charts and the reports.
//!
//! - per watched prefix of a profile: its visibility, and each upstream's share of
//!   its paths (an upstream that leaves a prefix's view gets a 0 once, so its line
//!   drops rather than stopping at its last share);
//! - per entity (a profile's network, a country, an origin AS): its visibility,
//!   the share of (prefix, full-feed peer) pairs in which the peer sees the
//!   prefix; a point when it moved by at least [`ENTITY_STEP`] or
//!   [`ENTITY_EVERY_SECS`] passed, so that a full table does not write a point per
//!   route;
//! - per probe check: whether it passed, and its round-trip time.

use blackout_bgp::{BgpChange, BgpState, ChangeKind, EntityIdx};
use blackout_detect::ProbeSignal;
use blackout_model::{Asn, Entity, Measure, SeriesPoint, Timestamp};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet};

/// An entity's visibility moves at least this much between two points.
pub const ENTITY_STEP: f64 = 0.005;
/// ... or this long passes.
pub const ENTITY_EVERY_SECS: f64 = 300.0;

/// What the series remember between points.
#[derive(Debug, Default)]
pub struct SeriesMaker {
    /// Which upstreams each prefix's view had, so that one that leaves gets a 0.
    upstreams: BTreeMap<IpNet, BTreeSet<Asn>>,
    /// Each entity's last point.
    entities: BTreeMap<EntityIdx, (Timestamp, f64)>,
}

impl SeriesMaker {
    /// Nothing seen yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// The points a change of a profile's prefix adds.
    pub fn prefix_points(
        &mut self,
        change: &BgpChange,
        state: &BgpState,
        points: &mut Vec<SeriesPoint>,
    ) {
        let ChangeKind::Visibility { prefix, .. } = &change.kind else {
            return;
        };
        if state.watch().is_none() {
            return;
        }
        let Some(view) = state.view(prefix) else {
            return;
        };
        let at = change.at;
        let entity = Entity::Prefix(*prefix);
        points.push(SeriesPoint::new(
            entity.clone(),
            Measure::Visibility,
            at,
            view.visibility(),
        ));
        let known = self.upstreams.entry(*prefix).or_default();
        for upstream in known.iter().filter(|u| !view.upstreams.contains_key(u)) {
            points.push(SeriesPoint::new(
                entity.clone(),
                Measure::UpstreamShare(*upstream),
                at,
                0.0,
            ));
        }
        for upstream in view.upstreams.keys() {
            points.push(SeriesPoint::new(
                entity.clone(),
                Measure::UpstreamShare(*upstream),
                at,
                view.upstream_share(*upstream),
            ));
        }
        // Gone upstreams got their 0 once; they are named again if they return.
        *known = view.upstreams.keys().copied().collect();
    }

    /// The points of entities whose routes changed, where they moved enough.
    pub fn entity_points(
        &mut self,
        at: Timestamp,
        touched: &BTreeSet<EntityIdx>,
        state: &BgpState,
        points: &mut Vec<SeriesPoint>,
    ) {
        for entity in touched {
            let Some(value) = state.aggregates(*entity).visibility(state.denominators()) else {
                continue;
            };
            let due = match self.entities.get(entity) {
                None => true,
                Some((last_at, last)) => {
                    (value - last).abs() >= ENTITY_STEP
                        || at.secs_since(*last_at) >= ENTITY_EVERY_SECS
                }
            };
            if due {
                self.entities.insert(*entity, (at, value));
                let name = state.entities()[entity.0 as usize].entity.clone();
                points.push(SeriesPoint::new(name, Measure::Visibility, at, value));
            }
        }
    }

    /// The points of a probe result.
    pub fn probe_points(&self, signal: &ProbeSignal, points: &mut Vec<SeriesPoint>) {
        let entity = signal.entity();
        points.push(SeriesPoint::new(
            entity.clone(),
            Measure::ProbeOk(signal.kind),
            signal.at,
            if signal.ok { 1.0 } else { 0.0 },
        ));
        if let Some(rtt) = signal.rtt_ms {
            points.push(SeriesPoint::new(
                entity.clone(),
                Measure::ProbeRttMs(signal.kind),
                signal.at,
                rtt,
            ));
        }
        if let Some(loss) = signal.loss {
            points.push(SeriesPoint::new(
                entity,
                Measure::ProbeLoss(signal.kind),
                signal.at,
                loss,
            ));
        }
    }
}
