//! What the store's benchmarks write: events shaped like a real upstream cut, with
//! eight evidence items each.

use blackout_model::{
    Asn, Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};

/// The `n`th event: an upstream cut of AS `upstream`, starting `n` seconds after
/// 2023-11-14T22:13:20Z and lasting a minute.
pub fn upstream_cut(n: usize, upstream: u32) -> Event {
    let entity = Entity::Upstream(Asn(upstream));
    let start = Timestamp::from_secs(1_700_000_000 + n as i64);
    Event {
        id: EventId::derive(&entity, start, Cause::UpstreamCut),
        entity,
        cause: Cause::UpstreamCut,
        severity: Severity::Warning,
        confidence: 0.85,
        start,
        end: Some(start.add_secs(60)),
        scope: Scope::default(),
        summary: "an upstream was cut".into(),
        evidence: (0..8)
            .map(|k| Evidence {
                at: start.add_secs(k),
                signal: SignalKind::BgpUpstream,
                text: "paths gone".into(),
                value: Some(0.0),
            })
            .collect(),
    }
}
