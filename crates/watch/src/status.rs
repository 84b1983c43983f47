//! The status snapshot the API serves, built from the core's state; and the
//! conversions of probe results and feed health to and from the store's rows,
//! so that the status shows what the last run saw until the checks and feeds
//! report again after a restart.

use crate::core::Core;
use blackout_api::{
    EntityState, EntityStatus, FeedStatus, LastKnownAddress, PrefixStatus, ProbeStatus, Status,
    UpstreamStatus, WatchedEntities, WatchedEntity,
};
use blackout_feeds::{FeedHealth, FeedState};
use blackout_model::ProbeRole;
use blackout_model::{Entity, Event, Severity, Timestamp};
use blackout_probe::{Outcome, ProbeResult};
use blackout_store::{FeedHealthRow, ProbeRow};

fn state_of(event: &Event) -> EntityState {
    match event.severity {
        Severity::Critical => EntityState::Down,
        Severity::Warning => EntityState::Degraded,
    }
}

fn from_event(entity: &Entity, name: &str, event: &Event) -> EntityStatus {
    EntityStatus {
        entity: entity.to_string(),
        name: name.to_string(),
        state: state_of(event),
        since: Some(event.start),
        cause: Some(event.cause),
        event_id: Some(event.id.0.clone()),
        detail: event.summary.clone(),
    }
}

/// The worst open event about `entity`.
fn worst<'a>(open: &[&'a Event], entity: &Entity) -> Option<&'a Event> {
    open.iter()
        .copied()
        .filter(|e| &e.entity == entity)
        .max_by_key(|e| (e.severity, e.start))
}

impl Core {
    /// Every entity's state now.
    pub fn status(&self, now: Timestamp) -> Status {
        let profile = self.profile();
        let open = self.detector().open_events();
        let config = self.detector().config();
        let views = self.bgp().views();
        let seen = views.iter().any(|v| v.full_feed_peers > 0);
        // Routes that are RPKI-invalid but still visible: warning states of their
        // watched prefixes, not events.
        let mut rpki: std::collections::BTreeMap<ipnet::IpNet, Vec<&blackout_detect::RpkiWarning>> =
            Default::default();
        for warning in self.detector().rpki_warnings() {
            rpki.entry(warning.watched).or_default().push(warning);
        }
        let rpki_text = |prefix: &ipnet::IpNet| {
            rpki.get(prefix).map(|warnings| {
                warnings
                    .iter()
                    .map(|w| w.text())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
        };
        let up = profile.thresholds.visibility_up;
        // The headline is the whole watched network: the country over a profile's
        // networks, or its one network.
        let (headline, headline_name) = self
            .bgp()
            .entities()
            .iter()
            .find(|e| e.role == blackout_bgp::EntityRole::Whole)
            .or_else(|| self.bgp().entities().first())
            .map(|e| (e.entity.clone(), e.name.clone()))
            .unwrap_or_else(|| {
                (
                    Entity::Vantage(self.vantage().to_string()),
                    config.network_name.clone(),
                )
            });
        let network = match worst(&open, &headline) {
            Some(event) => from_event(&headline, &headline_name, event),
            None => {
                let invalid = views
                    .iter()
                    .filter(|v| rpki.contains_key(&v.prefix))
                    .count();
                let visibility = views
                    .iter()
                    .map(|v| format!("{} {:.0}%", v.prefix, v.visibility() * 100.0))
                    .collect::<Vec<_>>()
                    .join(", ");
                EntityStatus {
                    entity: headline.to_string(),
                    name: headline_name.clone(),
                    state: if !seen {
                        EntityState::Unknown
                    } else if views.iter().all(|v| v.visibility() >= up) && invalid == 0 {
                        EntityState::Up
                    } else {
                        EntityState::Degraded
                    },
                    since: rpki.values().flatten().map(|w| w.since).min(),
                    cause: (invalid > 0).then_some(blackout_model::Cause::RpkiInvalid),
                    detail: if invalid > 0 {
                        format!(
                            "{invalid} of {} prefixes RPKI-invalid but still visible (networks that validate routes drop them); {visibility}",
                            views.len()
                        )
                    } else {
                        visibility
                    },
                    ..EntityStatus::default()
                }
            }
        };
        let vantage_entity = Entity::Vantage(self.vantage().to_string());
        let controls: Vec<_> = self
            .probes()
            .filter(|p| p.role == ProbeRole::Control)
            .collect();
        let vantage = match worst(&open, &vantage_entity) {
            Some(event) => from_event(&vantage_entity, self.vantage(), event),
            None => EntityStatus {
                entity: vantage_entity.to_string(),
                name: self.vantage().to_string(),
                state: if controls.is_empty() {
                    EntityState::Unknown
                } else if controls.iter().any(|p| p.outcome == Outcome::Ok) {
                    EntityState::Up
                } else {
                    EntityState::Degraded
                },
                ..EntityStatus::default()
            },
        };
        let mut entities: Vec<EntityStatus> = Vec::new();
        for event in &open {
            if entities
                .iter()
                .any(|e| e.entity == event.entity.to_string())
            {
                continue;
            }
            if let Some(worst) = worst(&open, &event.entity) {
                entities.push(from_event(&event.entity, &event.entity.to_string(), worst));
            }
        }
        for view in &views {
            let entity = Entity::Prefix(view.prefix);
            if !entities.iter().any(|e| e.entity == entity.to_string()) {
                let seen_by = format!(
                    "seen by {} of {} full-feed peers",
                    view.seen_by, view.full_feed_peers
                );
                let invalid = rpki_text(&view.prefix);
                entities.push(EntityStatus {
                    entity: entity.to_string(),
                    name: view.prefix.to_string(),
                    state: if view.full_feed_peers == 0 {
                        EntityState::Unknown
                    } else if view.visibility() >= up && invalid.is_none() {
                        EntityState::Up
                    } else {
                        EntityState::Degraded
                    },
                    since: rpki
                        .get(&view.prefix)
                        .and_then(|ws| ws.iter().map(|w| w.since).min()),
                    cause: invalid
                        .is_some()
                        .then_some(blackout_model::Cause::RpkiInvalid),
                    detail: match &invalid {
                        Some(text) => format!("{text}; {seen_by}"),
                        None => seen_by,
                    },
                    ..EntityStatus::default()
                });
            }
        }
        entities.sort_by(|a, b| a.entity.cmp(&b.entity));
        let upstreams = config
            .upstreams
            .iter()
            .map(|(asn, name)| {
                let share = blackout_bgp::upstream_share(views.iter(), *asn);
                let visibility = share.unwrap_or(0.0);
                let state = match worst(&open, &Entity::Upstream(*asn)) {
                    Some(event) => state_of(event),
                    None if share.is_none() => EntityState::Unknown,
                    None if visibility >= profile.thresholds.upstream_up => EntityState::Up,
                    None => EntityState::Degraded,
                };
                UpstreamStatus {
                    asn: asn.0,
                    name: name.clone(),
                    visibility,
                    state,
                }
            })
            .collect();
        let mut probes: Vec<ProbeStatus> = self
            .probes()
            .map(|p| probe_status(p, self.vantage()))
            .collect();
        // What the last run saw, for the checks and feeds not reporting yet.
        probes.extend(self.last_seen_probes().values().cloned());
        let mut feeds: Vec<FeedStatus> = self.feeds().map(feed_status).collect();
        feeds.extend(self.last_seen_feeds().values().cloned());
        let watched = watched(self, &network, &entities, &vantage);
        Status {
            generated_at: now,
            profile: profile.name.clone(),
            watched,
            network,
            entities,
            upstreams,
            prefixes: views
                .iter()
                .map(|view| PrefixStatus {
                    rpki_invalid: rpki_text(&view.prefix),
                    ..PrefixStatus::from(view)
                })
                .collect(),
            probes,
            feeds,
            vantage,
            labels: profile.entity_labels().into_iter().collect(),
        }
    }
}

/// Every watched entity for `/api/v1/entities`: the engine's (a profile's networks
/// and country, or in the global view every country and origin AS, with their
/// prefix counts and visibility), then the other entities of the status.
fn watched(
    core: &Core,
    network: &EntityStatus,
    entities: &[EntityStatus],
    vantage: &EntityStatus,
) -> WatchedEntities {
    let mut rows: Vec<WatchedEntity> = core
        .engine()
        .entities()
        .into_iter()
        .map(|view| {
            let entity = view.entity.to_string();
            WatchedEntity {
                kind: WatchedEntity::kind_of(&entity).to_string(),
                entity,
                name: view.name,
                state: view.state,
                since: view.since,
                cause: view.cause,
                event_id: view.event.map(|id| id.0),
                prefixes: Some(view.prefixes),
                dark: Some(view.dark),
                visibility: view.visibility,
            }
        })
        .collect();
    rows.extend(
        std::iter::once(network)
            .chain(entities)
            .chain(std::iter::once(vantage))
            .filter(|status| !status.entity.is_empty())
            .map(WatchedEntity::from),
    );
    WatchedEntities::new(rows)
}

/// A probe result as the status shows it.
pub(crate) fn probe_status(p: &ProbeResult, vantage: &str) -> ProbeStatus {
    let (ok, outcome, detail) = match &p.outcome {
        Outcome::Ok => (true, "ok", String::new()),
        Outcome::Timeout => (false, "timeout", String::new()),
        Outcome::Refused => (false, "refused", String::new()),
        Outcome::Unreachable { reason } => (false, "unreachable", reason.clone()),
        Outcome::Failed { reason } => (false, "failed", reason.clone()),
        Outcome::Error { message } => (false, "error", message.clone()),
    };
    ProbeStatus {
        at: p.at,
        vantage: vantage.to_string(),
        target: p.target.clone(),
        check: p.check.clone(),
        kind: format!("{:?}", p.kind).to_lowercase(),
        ok,
        outcome: outcome.to_string(),
        rtt_ms: p.rtt_ms,
        loss: (p.attempts > 0).then(|| f64::from(p.lost) / f64::from(p.attempts)),
        detail,
        address: p.address.map(|a| a.to_string()),
        last_known_address: p.last_known_address.as_ref().map(|l| LastKnownAddress {
            resolved_at: l.resolved_at,
            resolve_error: l.resolve_error.clone(),
        }),
    }
}

/// A feed's health as the status shows it.
pub(crate) fn feed_status(h: &FeedHealth) -> FeedStatus {
    FeedStatus {
        name: h.feed.to_string(),
        state: match h.state {
            FeedState::Connecting => "connecting",
            FeedState::Up => "up",
            FeedState::Down => "down",
        }
        .to_string(),
        last_message: h.last_message,
        rate: Some(h.messages_per_sec),
        detail: h.last_error.clone().unwrap_or_default(),
        why_no_routes: h.why_no_routes.clone(),
        router: h.router.as_deref().map(crate::bmp_status::router_status),
    }
}

/// A probe result as the store keeps it.
pub(crate) fn probe_row(p: &ProbeResult, vantage: &str) -> ProbeRow {
    let status = probe_status(p, vantage);
    ProbeRow {
        vantage: status.vantage,
        target: status.target,
        check: status.check,
        at: status.at,
        kind: status.kind,
        ok: status.ok,
        outcome: status.outcome,
        rtt_ms: status.rtt_ms,
        loss: status.loss,
        detail: status.detail,
        address: status.address,
        resolved_at: status.last_known_address.as_ref().map(|l| l.resolved_at),
        resolve_error: status.last_known_address.map(|l| l.resolve_error),
    }
}

/// A feed's health as the store keeps it, at `at`.
pub(crate) fn feed_row(h: &FeedHealth, at: Timestamp) -> FeedHealthRow {
    let status = feed_status(h);
    FeedHealthRow {
        feed: status.name,
        at,
        state: status.state,
        last_message: status.last_message,
        rate: status.rate,
        detail: status.detail,
    }
}

/// A stored probe result, shown until the check runs again.
pub(crate) fn from_probe_row(row: ProbeRow) -> ProbeStatus {
    ProbeStatus {
        at: row.at,
        vantage: row.vantage,
        target: row.target,
        check: row.check,
        kind: row.kind,
        ok: row.ok,
        outcome: row.outcome,
        rtt_ms: row.rtt_ms,
        loss: row.loss,
        detail: row.detail,
        address: row.address,
        last_known_address: row.resolved_at.map(|resolved_at| LastKnownAddress {
            resolved_at,
            resolve_error: row.resolve_error.unwrap_or_default(),
        }),
    }
}

/// A stored feed health, shown until the feed reports again.
pub(crate) fn from_feed_row(row: FeedHealthRow) -> FeedStatus {
    FeedStatus {
        name: row.feed,
        state: row.state,
        last_message: row.last_message,
        rate: row.rate,
        detail: if row.detail.is_empty() {
            format!("as last seen, before blackout restarted ({})", row.at)
        } else {
            format!(
                "as last seen, before blackout restarted ({}): {}",
                row.at, row.detail
            )
        },
        why_no_routes: None,
        router: None,
    }
}
