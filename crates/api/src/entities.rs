//! The entity list behind `/api/v1/entities` and the dashboard's overview: every
//! watched entity (in the global view every country and origin AS, tens of
//! thousands) kept sorted by entity, so that a page is a binary search and a walk,
//! and the next page starts after the last entity of this one.

use crate::params::EntitiesQuery;
use crate::status::WatchedEntity;
use blackout_model::{Entity, EntityState};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Every watched entity, sorted by entity (countries, then ASes by number, then
/// prefixes, upstreams, hosts, services, feeds and vantage points), each once.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct WatchedEntities(Arc<Vec<(Entity, WatchedEntity)>>);

impl WatchedEntities {
    /// The list, sorted; of two rows for one entity the first is kept, and a row
    /// whose entity does not parse is left out.
    pub fn new(rows: Vec<WatchedEntity>) -> Self {
        let mut parsed: Vec<(Entity, WatchedEntity)> = rows
            .into_iter()
            .filter_map(|row| Some((row.entity.parse().ok()?, row)))
            .collect();
        // Stable: the first row of an entity stays first, and dedup keeps it.
        parsed.sort_by(|a, b| a.0.cmp(&b.0));
        parsed.dedup_by(|later, earlier| later.0 == earlier.0);
        WatchedEntities(Arc::new(parsed))
    }

    /// How many entities are watched.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The rows, in order.
    pub fn iter(&self) -> impl Iterator<Item = &WatchedEntity> {
        self.0.iter().map(|(_, row)| row)
    }

    /// One page of the entities a query asks for.
    pub(crate) fn page(&self, query: &EntitiesQuery) -> EntitiesPage {
        let of_kind = |row: &WatchedEntity| {
            query.kinds.is_empty() || query.kinds.iter().any(|k| *k == row.kind)
        };
        let found = |row: &WatchedEntity| {
            query.search.as_ref().is_none_or(|text| {
                row.entity.to_lowercase().contains(text) || row.name.to_lowercase().contains(text)
            })
        };
        let in_state =
            |row: &WatchedEntity| query.states.is_empty() || query.states.contains(&row.state);
        // Counts over the whole list: the states of the kinds asked for, and how
        // many rows match in all.
        let mut states: BTreeMap<&'static str, usize> =
            EntityState::ALL.iter().map(|s| (s.as_str(), 0)).collect();
        let mut total = 0;
        for (_, row) in self.0.iter() {
            if of_kind(row) && found(row) {
                *states.entry(row.state.as_str()).or_default() += 1;
                if in_state(row) {
                    total += 1;
                }
            }
        }
        let start = match &query.after {
            Some(after) => self.0.partition_point(|(entity, _)| entity <= after),
            None => 0,
        };
        let limit = query.limit as usize;
        let mut entities: Vec<WatchedEntity> = Vec::with_capacity(limit.min(total));
        let mut more = false;
        for (_, row) in self.0[start..].iter() {
            if !(of_kind(row) && found(row) && in_state(row)) {
                continue;
            }
            if entities.len() == limit {
                more = true;
                break;
            }
            entities.push(row.clone());
        }
        let next = if more {
            entities.last().map(|row| row.entity.clone())
        } else {
            None
        };
        EntitiesPage {
            entities,
            total,
            states,
            next,
        }
    }
}

/// One page of `/api/v1/entities`.
#[derive(Debug, Serialize)]
pub(crate) struct EntitiesPage {
    /// The entities of the page, in entity order.
    entities: Vec<WatchedEntity>,
    /// How many entities match the query in all pages.
    total: usize,
    /// How many entities of the kinds asked for (and matching `q`) are in each
    /// state, whatever `state` asked.
    states: BTreeMap<&'static str, usize>,
    /// The `after` of the next page, or null on the last one.
    next: Option<String>,
}
