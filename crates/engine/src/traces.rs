//! Reactive traceroute, the engine's side: which traceroutes to ask for when an
//! event starts ([`TracePlanner::plan`]), and how a report becomes evidence
//! ([`evidence`]).
//!
//! An event that starts asks for a traceroute toward each of its affected
//! targets (its hosts; for a service, its host or its zone's servers; for a
//! network, its hosts inside the event's prefixes, else all its hosts), so that
//! its evidence says where the path dies, as the analysts of the seed reports
//! did by hand ("the traceroutes stop at the border"). Limits keep an outage of
//! many events from turning into a flood of traceroutes:
//! - each target once per event (a revision that names a new host adds it);
//! - at most [`TRACE_TARGETS_PER_EVENT`] targets per event;
//! - at most the profile's `probes.reactive_trace_events` events (6 by default)
//!   traced per [`TRACE_WINDOW_SECS`]; an event that starts past that budget is
//!   not traced (0: none is).
//!
//! A vantage point that was away when an event started (its results came late,
//! from its disk buffer, or stopped for a while), or that joins later, is asked
//! alone for the traceroutes of the events still open once its results are
//! current again ([`TracePlanner::for_vantage`]): it missed the request.
//!
//! Feed, vantage and new-upstream events ask for none: they say nothing of a
//! path toward the target (or, for a vantage point cut off, nothing can cross).

use blackout_model::{
    Cause, Entity, Event, EventId, EventUpdate, Evidence, SignalKind, Timestamp, TraceReport,
    TraceRequest, UpdateKind,
};
use blackout_profile::Profile;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::net::IpAddr;

/// The most targets traced for one event.
pub const TRACE_TARGETS_PER_EVENT: usize = 4;
/// The window of the traced-events budget, in seconds.
pub const TRACE_WINDOW_SECS: f64 = 600.0;

/// What has been traced, for the limits.
#[derive(Debug, Default)]
pub(crate) struct TracePlanner {
    /// The targets asked for, per open event.
    traced: BTreeMap<EventId, BTreeSet<String>>,
    /// When each event of the window was first traced, oldest first.
    recent: VecDeque<Timestamp>,
    /// The open events a vantage point that came back has been asked to trace.
    owed: BTreeSet<(EventId, String)>,
}

impl TracePlanner {
    /// The traceroutes that `updates`, said at `now`, call for.
    pub(crate) fn plan(
        &mut self,
        now: Timestamp,
        updates: &[EventUpdate],
        profile: &Profile,
    ) -> Vec<TraceRequest> {
        let mut requests = Vec::new();
        for update in updates {
            let event = &update.event;
            if update.kind == UpdateKind::Ended {
                self.traced.remove(&event.id);
                self.owed.retain(|(id, _)| *id != event.id);
                continue;
            }
            if matches!(
                event.cause,
                Cause::Feed | Cause::Vantage | Cause::NewUpstream
            ) {
                continue;
            }
            if !self.traced.contains_key(&event.id) {
                // A new event is traced once it starts, within the budget; a
                // revision only adds targets to an event traced already.
                let budget = profile.probes.reactive_trace_events as usize;
                if update.kind != UpdateKind::Started || !self.spend(now, budget) {
                    continue;
                }
                self.traced.insert(event.id.clone(), BTreeSet::new());
            }
            let Some(done) = self.traced.get_mut(&event.id) else {
                continue;
            };
            for target in affected_targets(event, profile) {
                if done.len() >= TRACE_TARGETS_PER_EVENT {
                    break;
                }
                if done.insert(target.clone()) {
                    requests.push(TraceRequest {
                        event: event.id.clone(),
                        address: address_of(&target, profile),
                        target,
                        vantage: None,
                    });
                }
            }
        }
        requests
    }

    /// The traceroutes a vantage point that was away (or new) owes the events
    /// still open: every target traced for them so far, asked of it alone, once
    /// per event.
    pub(crate) fn for_vantage(&mut self, vantage: &str, profile: &Profile) -> Vec<TraceRequest> {
        let mut requests = Vec::new();
        for (event, targets) in &self.traced {
            if !self.owed.insert((event.clone(), vantage.to_string())) {
                continue;
            }
            for target in targets {
                requests.push(TraceRequest {
                    event: event.clone(),
                    target: target.clone(),
                    address: address_of(target, profile),
                    vantage: Some(vantage.to_string()),
                });
            }
        }
        requests
    }

    /// Takes one traced event from the budget (`budget` per window) at `now`,
    /// if any is left.
    fn spend(&mut self, now: Timestamp, budget: usize) -> bool {
        while self
            .recent
            .front()
            .is_some_and(|at| now.secs_since(*at) >= TRACE_WINDOW_SECS)
        {
            self.recent.pop_front();
        }
        if self.recent.len() >= budget {
            return false;
        }
        self.recent.push_back(now);
        true
    }
}

/// The targets an event touches, in a stable order, each once.
fn affected_targets(event: &Event, profile: &Profile) -> Vec<String> {
    let mut targets: Vec<String> = Vec::new();
    let add = |targets: &mut Vec<String>, name: &str| {
        if !targets.iter().any(|t| t == name) {
            targets.push(name.to_string());
        }
    };
    match &event.entity {
        Entity::Host(name) => add(&mut targets, name),
        Entity::Service { kind, name } if kind == "dns" => {
            for zone in profile.zones.iter().filter(|z| z.name == *name) {
                for server in &zone.servers {
                    add(&mut targets, &server.name);
                }
            }
        }
        Entity::Service { name, .. } => add(&mut targets, name),
        _ => {}
    }
    for host in &event.scope.hosts {
        add(&mut targets, host);
    }
    let network = matches!(
        event.entity,
        Entity::Country(_) | Entity::As(_) | Entity::Prefix(_) | Entity::Upstream(_)
    );
    if network && targets.is_empty() {
        let inside = |host: &&blackout_profile::Host| {
            host.address.is_some_and(|address| {
                event
                    .scope
                    .prefixes
                    .iter()
                    .any(|prefix| prefix.contains(&address))
            })
        };
        let mut hosts: Vec<&blackout_profile::Host> = profile.hosts.iter().filter(inside).collect();
        if hosts.is_empty() {
            hosts = profile.hosts.iter().collect();
        }
        for host in hosts {
            add(&mut targets, &host.name);
        }
    }
    targets
}

/// The address the profile fixes for a target's name, or the name itself if it is one.
fn address_of(target: &str, profile: &Profile) -> Option<IpAddr> {
    let hosts = profile.hosts.iter().map(|h| (h.name.as_str(), h.address));
    let servers = profile
        .zones
        .iter()
        .flat_map(|z| &z.servers)
        .map(|s| (s.name.as_str(), s.address));
    let mail = profile
        .mail
        .iter()
        .filter_map(|m| Some((m.host.as_deref()?, m.address)));
    hosts
        .chain(servers)
        .chain(mail)
        .find(|(name, _)| *name == target)
        .and_then(|(_, address)| address)
        .or_else(|| target.parse().ok())
}

/// A report as `probe.trace` evidence: each hop's AS filled in from the
/// profile's networks where the trace did not know it, the value the TTL of the
/// last hop that answered.
pub(crate) fn evidence(mut report: TraceReport, profile: &Profile) -> Evidence {
    for hop in &mut report.hops {
        if hop.asn.is_none() {
            hop.asn = hop.address.and_then(|address| {
                profile
                    .networks
                    .iter()
                    .find(|n| {
                        n.prefixes
                            .iter()
                            .chain(&n.aggregates)
                            .any(|p| p.contains(&address))
                    })
                    .map(|n| n.asn)
            });
        }
    }
    Evidence {
        at: report.at,
        signal: SignalKind::ProbeTrace,
        text: report.describe(),
        value: report.last_answering().map(|hop| f64::from(hop.ttl)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use blackout_model::{Asn, Scope, Severity};

    fn lab() -> Profile {
        blackout_profile::builtin("lab").expect("the lab profile")
    }

    fn at(secs: f64) -> Timestamp {
        Timestamp::from_secs_f64(1_700_000_000.0 + secs)
    }

    fn event(id: &str, entity: Entity, cause: Cause, hosts: &[&str]) -> Event {
        Event {
            id: EventId(id.into()),
            entity,
            cause,
            severity: Severity::Critical,
            confidence: 0.9,
            start: at(0.0),
            end: None,
            scope: Scope {
                hosts: hosts.iter().map(|h| h.to_string()).collect(),
                ..Scope::default()
            },
            summary: "dark".into(),
            evidence: Vec::new(),
        }
    }

    fn started(event: Event) -> EventUpdate {
        EventUpdate::started(event)
    }

    fn targets(requests: &[TraceRequest]) -> Vec<&str> {
        requests.iter().map(|r| r.target.as_str()).collect()
    }

    #[test]
    fn each_target_once_per_event_and_at_most_four() {
        let profile = lab();
        let mut planner = TracePlanner::default();
        let host = Entity::As(Asn(64500));
        let first = event("ev-a", host.clone(), Cause::Partial, &["ping3.lab.example"]);
        let asked = planner.plan(at(0.0), &[started(first.clone())], &profile);
        assert_eq!(targets(&asked), ["ping3.lab.example"]);
        assert_eq!(
            asked[0].address,
            Some("203.0.113.130".parse().unwrap()),
            "the profile's address"
        );
        // A revision naming more hosts adds them, up to four in all.
        let wider = event(
            "ev-a",
            host,
            Cause::Partial,
            &[
                "ping3.lab.example",
                "2001:db8:102::130",
                "ping4.lab.example",
                "2001:db8:103::194",
                "www.lab.example",
            ],
        );
        let asked = planner.plan(at(5.0), &[EventUpdate::revised(wider.clone())], &profile);
        assert_eq!(
            targets(&asked),
            [
                "2001:db8:102::130",
                "ping4.lab.example",
                "2001:db8:103::194"
            ]
        );
        assert_eq!(asked[0].address, Some("2001:db8:102::130".parse().unwrap()));
        assert!(
            planner
                .plan(at(9.0), &[EventUpdate::revised(wider.clone())], &profile)
                .is_empty()
        );
        // Once it ended, the same id starting again is new trouble.
        let mut ended = wider.clone();
        ended.end = Some(at(20.0));
        assert!(
            planner
                .plan(at(20.0), &[EventUpdate::ended(ended)], &profile)
                .is_empty()
        );
        assert_eq!(planner.plan(at(30.0), &[started(wider)], &profile).len(), 4);
    }

    #[test]
    fn at_most_six_events_per_ten_minutes() {
        let profile = lab();
        let mut planner = TracePlanner::default();
        let dark = |n: usize| {
            started(event(
                &format!("ev-{n}"),
                Entity::Host("www.lab.example".into()),
                Cause::Unknown,
                &[],
            ))
        };
        assert_eq!(profile.probes.reactive_trace_events, 6, "the default");
        for n in 0..6 {
            let asked = planner.plan(at(n as f64 * 10.0), &[dark(n)], &profile);
            assert_eq!(targets(&asked), ["www.lab.example"], "event {n}");
        }
        // The seventh within the window is not traced, not even when revised later.
        assert!(planner.plan(at(100.0), &[dark(6)], &profile).is_empty());
        let seventh = dark(6).event;
        assert!(
            planner
                .plan(at(700.0), &[EventUpdate::revised(seventh)], &profile)
                .is_empty()
        );
        // Ten minutes after the first, one is free again.
        assert_eq!(
            planner
                .plan(at(TRACE_WINDOW_SECS), &[dark(7)], &profile)
                .len(),
            1
        );
        assert!(
            planner
                .plan(at(TRACE_WINDOW_SECS), &[dark(8)], &profile)
                .is_empty()
        );
    }

    #[test]
    fn a_budget_of_zero_traces_nothing() {
        let mut profile = lab();
        profile.probes.reactive_trace_events = 0;
        let mut planner = TracePlanner::default();
        let dark = started(event(
            "ev-z",
            Entity::Host("www.lab.example".into()),
            Cause::Unknown,
            &[],
        ));
        assert!(planner.plan(at(0.0), &[dark], &profile).is_empty());
    }

    #[test]
    fn feed_vantage_and_new_upstream_events_ask_for_none() {
        let profile = lab();
        let mut planner = TracePlanner::default();
        let updates = [
            started(event("ev-f", Entity::Feed("bmp".into()), Cause::Feed, &[])),
            started(event(
                "ev-v",
                Entity::Vantage("local".into()),
                Cause::Vantage,
                &[],
            )),
            started(event(
                "ev-n",
                Entity::As(Asn(64500)),
                Cause::NewUpstream,
                &[],
            )),
        ];
        assert!(planner.plan(at(0.0), &updates, &profile).is_empty());
        assert!(planner.recent.is_empty(), "no budget spent");
    }

    #[test]
    fn a_service_traces_its_host_or_its_zones_servers() {
        let profile = lab();
        let mut planner = TracePlanner::default();
        let dns = Entity::Service {
            kind: "dns".into(),
            name: "lab.example".into(),
        };
        let asked = planner.plan(
            at(0.0),
            &[started(event("ev-d", dns, Cause::Service, &[]))],
            &profile,
        );
        assert_eq!(
            targets(&asked),
            [
                "ns1.lab.example",
                "ns2.lab.example",
                "2001:db8:100::10",
                "2001:db8:101::74"
            ]
        );
        assert_eq!(asked[0].address, Some("203.0.113.10".parse().unwrap()));
        let http = Entity::Service {
            kind: "http".into(),
            name: "www2.lab.example".into(),
        };
        let asked = planner.plan(
            at(1.0),
            &[started(event("ev-h", http, Cause::Service, &[]))],
            &profile,
        );
        assert_eq!(targets(&asked), ["www2.lab.example"]);
        assert_eq!(asked[0].address, Some("203.0.113.75".parse().unwrap()));
    }

    #[test]
    fn a_network_event_without_hosts_traces_its_hosts_in_its_prefixes() {
        let profile = lab();
        let mut planner = TracePlanner::default();
        let mut building = event("ev-b", Entity::As(Asn(64500)), Cause::Partial, &[]);
        building.scope.prefixes = vec!["2001:db8:101::/48".parse().unwrap()];
        let asked = planner.plan(at(0.0), &[started(building)], &profile);
        assert_eq!(targets(&asked), ["2001:db8:101::75"]);
        let everything = event("ev-e", Entity::As(Asn(64500)), Cause::Internal, &[]);
        let asked = planner.plan(at(1.0), &[started(everything)], &profile);
        assert_eq!(
            targets(&asked),
            [
                "www.lab.example",
                "www2.lab.example",
                "ping3.lab.example",
                "ping4.lab.example"
            ]
        );
    }

    #[test]
    fn hops_get_the_as_of_the_profiles_networks_where_the_trace_knew_none() {
        let report = TraceReport {
            event: EventId("ev-a".into()),
            target: "2001:db8:100::11".into(),
            at: at(3.0),
            vantage: "local".into(),
            address: "2001:db8:100::11".parse().ok(),
            mode: "udp".into(),
            hops: vec![
                blackout_model::TraceHop {
                    ttl: 1,
                    address: "2001:db8::1".parse().ok(),
                    asn: None,
                },
                blackout_model::TraceHop {
                    ttl: 2,
                    address: "2001:db8:100::1".parse().ok(),
                    asn: None,
                },
            ],
            reached: false,
            failure: None,
        };
        let evidence = evidence(report, &lab());
        assert_eq!(evidence.signal, SignalKind::ProbeTrace);
        assert_eq!(evidence.value, Some(2.0));
        assert!(
            evidence
                .text
                .ends_with("hops: 1 2001:db8::1, 2 2001:db8:100::1 AS64500"),
            "{}",
            evidence.text
        );
    }
}
