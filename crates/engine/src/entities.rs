//! What the engine knows of each entity now, for the API's entity list and the
//! dashboard's overview: every profile network, or in the global view every
//! country and origin AS, with its state and the event behind it.

use blackout_bgp::{BgpState, EntityIdx, EntityRole};
use blackout_detect::Detector;
use blackout_model::{Cause, Entity, EntityState, Event, EventId, Severity, Timestamp};
use serde::Serialize;
use std::collections::BTreeMap;

/// One entity as it stands.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct EntityView {
    /// The entity (`country:IR`, `as:44244`).
    pub entity: Entity,
    /// What to call it.
    pub name: String,
    /// What it is to the BGP state.
    pub role: EntityRole,
    /// Its prefixes.
    pub prefixes: u32,
    /// Its prefixes dark now.
    pub dark: u32,
    /// The share of (prefix, full-feed peer) pairs that see the prefix, when any
    /// peer counts.
    pub visibility: Option<f64>,
    /// Up, degraded, down, or unknown (no full-feed peer, or never seen up).
    pub state: EntityState,
    /// Since when, for an entity in trouble: when its event began.
    pub since: Option<Timestamp>,
    /// The cause its event names.
    pub cause: Option<Cause>,
    /// Its event.
    pub event: Option<EventId>,
}

/// Every entity's view, in the order the state knows them.
pub(crate) fn views(state: &BgpState, detector: &Detector) -> Vec<EntityView> {
    let mut worst: BTreeMap<&Entity, &Event> = BTreeMap::new();
    for event in detector.open_events() {
        let slot = worst.entry(&event.entity).or_insert(event);
        if (event.severity, event.start) > (slot.severity, slot.start) {
            *slot = event;
        }
    }
    state
        .entities()
        .iter()
        .enumerate()
        .map(|(index, info)| {
            let idx = EntityIdx(index as u32);
            let aggregates = state.aggregates(idx);
            let visibility = aggregates.visibility(state.denominators());
            let dark = detector.dark_count(idx) as u32;
            let event = worst.get(&info.entity).copied();
            let state = match (event, visibility) {
                (Some(event), _) if event.severity == Severity::Critical => EntityState::Down,
                (Some(_), _) => EntityState::Degraded,
                (None, None) => EntityState::Unknown,
                (None, Some(_)) if !detector.has_baseline(idx) => EntityState::Unknown,
                (None, Some(_)) if dark > 0 => EntityState::Degraded,
                (None, Some(_)) => EntityState::Up,
            };
            EntityView {
                entity: info.entity.clone(),
                name: info.name.clone(),
                role: info.role,
                prefixes: aggregates.prefix_count(),
                dark,
                visibility,
                state,
                since: event.map(|e| e.start),
                cause: event.map(|e| e.cause),
                event: event.map(|e| e.id.clone()),
            }
        })
        .collect()
}
