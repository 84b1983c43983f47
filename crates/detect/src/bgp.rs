//! The BGP rules: state machines per prefix and per upstream, and the network
//! event that sums them up.
//!
//! Hysteresis: a prefix goes down when its visibility falls below
//! `visibility_down` and is back only when it has stayed at or above
//! `visibility_up` for `recovery_hold_secs`; the outage then ends at the moment
//! it came back. One peer's session reset or one lost route therefore never
//! alarms. An upstream loss is only called `upstream-cut` once another upstream
//! is seen carrying the routes; if instead every prefix goes dark, the loss is
//! evidence of the network's own (`internal`) outage.

use crate::{DetectorConfig, EventUpdate};
use blackout_bgp::{BgpChange, PrefixView, Relation, RpkiState};
use blackout_model::{
    Asn, Cause, Entity, Event, EventId, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// Evidence kept per event; past this, the middle is summarised by a count.
const MAX_EVIDENCE: usize = 64;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Health {
    /// Never seen up: nothing to lose yet.
    Unknown,
    /// Visible; `falling_since` marks when it first dipped below `visibility_up`.
    Up { falling_since: Option<Timestamp> },
    /// Dark since `start`.
    Down { start: Timestamp },
    /// Back since `since`, not yet for long enough.
    Recovering { start: Timestamp, since: Timestamp },
}

/// How long a decline may take and still count as the start of the fall that follows.
const DECLINE_WINDOW_SECS: f64 = 300.0;

struct PrefixTrack {
    health: Health,
    view: Option<PrefixView>,
    returns: VecDeque<Timestamp>,
}

#[derive(Clone, Copy, Debug, PartialEq)]
enum Carriage {
    /// Never seen carrying: nothing to lose.
    Unknown,
    /// Carries the routes.
    Carrying,
    /// Lost since `since`; not yet known whether it is a cut or part of an outage.
    Pending { since: Timestamp },
    /// Lost while the network itself is dark: evidence for that event, not its own.
    Folded,
    /// Cut: an `upstream-cut` event is open.
    Cut { since: Timestamp },
    /// Back since `since` after a cut.
    Returning { cut: Timestamp, since: Timestamp },
}

/// The BGP part of the detector.
pub struct BgpDetector {
    config: DetectorConfig,
    prefixes: BTreeMap<IpNet, PrefixTrack>,
    upstreams: BTreeMap<Asn, Carriage>,
    /// Upstreams the profile does not name that were already reported as new.
    new_upstreams: BTreeSet<Asn>,
    open: BTreeMap<(Entity, Cause, String), Event>,
    closed: Vec<Event>,
    rpki_invalid: BTreeSet<IpNet>,
    /// Evidence gathered before the network event opens (the decline before the fall).
    pending_network_evidence: VecDeque<Evidence>,
    last_at: Timestamp,
}

impl BgpDetector {
    /// A detector with nothing seen yet.
    pub fn new(config: DetectorConfig) -> Self {
        let prefixes = config
            .prefixes
            .iter()
            .map(|prefix| {
                (
                    *prefix,
                    PrefixTrack {
                        health: Health::Unknown,
                        view: None,
                        returns: VecDeque::new(),
                    },
                )
            })
            .collect();
        let upstreams = config
            .upstreams
            .iter()
            .map(|(asn, _)| (*asn, Carriage::Unknown))
            .collect();
        BgpDetector {
            config,
            prefixes,
            upstreams,
            new_upstreams: BTreeSet::new(),
            open: BTreeMap::new(),
            closed: Vec::new(),
            rpki_invalid: BTreeSet::new(),
            pending_network_evidence: VecDeque::new(),
            last_at: Timestamp::EPOCH,
        }
    }

    /// Takes one change from the BGP state.
    pub fn observe(&mut self, change: &BgpChange) -> Vec<EventUpdate> {
        let at = change.at().max(self.last_at);
        self.last_at = at;
        let mut updates = Vec::new();
        match change {
            BgpChange::Visibility { view, .. } => self.on_view(at, view, &mut updates),
            BgpChange::OriginAppeared {
                prefix,
                relation,
                origin,
                expected: false,
                as_path,
                peer,
                ..
            } if *relation != Relation::Covering => {
                let entity = Entity::Prefix(self.watched_for(prefix));
                let text = format!(
                    "{prefix} originated by {origin}, seen by {} {} via path {as_path}",
                    peer.collector, peer.ip
                );
                let summary = format!(
                    "{origin} announces {prefix}, {} of {}: a possible hijack",
                    if *relation == Relation::MoreSpecific {
                        "a more-specific"
                    } else {
                        "a prefix"
                    },
                    self.config.network_name
                );
                let scope = Scope {
                    prefixes: vec![*prefix],
                    ..Scope::default()
                };
                let evidence = self.evidence(at, SignalKind::BgpOrigin, text, None);
                self.start(
                    at,
                    entity,
                    Cause::Hijack,
                    format!("{prefix}/{origin}"),
                    Severity::Critical,
                    0.7,
                    scope,
                    summary,
                    vec![evidence],
                    &mut updates,
                );
            }
            BgpChange::OriginGone {
                prefix,
                origin,
                expected: false,
                ..
            } => {
                let entity = Entity::Prefix(self.watched_for(prefix));
                let text = format!("{prefix} no longer originated by {origin}");
                let evidence = self.evidence(at, SignalKind::BgpOrigin, text, None);
                self.end(
                    at,
                    entity,
                    Cause::Hijack,
                    format!("{prefix}/{origin}"),
                    at,
                    Some(evidence),
                    &mut updates,
                );
            }
            BgpChange::Rpki {
                prefix,
                origin,
                state,
                vrps,
                ..
            } => self.on_rpki(at, *prefix, *origin, *state, vrps, &mut updates),
            _ => {}
        }
        self.settle(at, &mut updates);
        updates
    }

    /// Moves time on without a change (a live feed's quiet moments), so that held
    /// recoveries can be declared.
    pub fn advance(&mut self, now: Timestamp) -> Vec<EventUpdate> {
        let at = now.max(self.last_at);
        self.last_at = at;
        let mut updates = Vec::new();
        self.settle(at, &mut updates);
        updates
    }

    /// Ends the input: recoveries that are under way are declared at the moment
    /// the routes came back, and every event, ongoing or ended, is returned in
    /// order of start.
    pub fn finish(mut self) -> Vec<Event> {
        let at = self.last_at;
        let mut updates = Vec::new();
        let held: Vec<IpNet> = self
            .prefixes
            .iter()
            .filter(|(_, track)| matches!(track.health, Health::Recovering { .. }))
            .map(|(prefix, _)| *prefix)
            .collect();
        for prefix in held {
            if let Some(track) = self.prefixes.get_mut(&prefix)
                && let Health::Recovering { since, .. } = track.health
            {
                track.health = Health::Up {
                    falling_since: None,
                };
                track.returns.push_back(since);
            }
        }
        let returning: Vec<(Asn, Timestamp)> = self
            .upstreams
            .iter()
            .filter_map(|(asn, c)| match c {
                Carriage::Returning { since, .. } => Some((*asn, *since)),
                _ => None,
            })
            .collect();
        for (asn, since) in returning {
            self.upstreams.insert(asn, Carriage::Carrying);
            let evidence = self.evidence(
                since,
                SignalKind::BgpUpstream,
                format!(
                    "{} carries the routes again",
                    self.config.upstream_label(asn)
                ),
                None,
            );
            self.end(
                at,
                Entity::Upstream(asn),
                Cause::UpstreamCut,
                String::new(),
                since,
                Some(evidence),
                &mut updates,
            );
        }
        self.update_network(at, &mut updates);
        let mut events = self.closed;
        events.extend(self.open.into_values());
        events.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        events
    }

    fn watched_for(&self, prefix: &IpNet) -> IpNet {
        self.config
            .prefixes
            .iter()
            .find(|watched| watched.contains(prefix))
            .copied()
            .unwrap_or(*prefix)
    }

    fn evidence(
        &self,
        at: Timestamp,
        signal: SignalKind,
        text: String,
        value: Option<f64>,
    ) -> Evidence {
        Evidence {
            at,
            signal,
            text,
            value,
        }
    }

    fn describe_view(&self, view: &PrefixView) -> String {
        let upstreams: Vec<String> = view
            .upstreams
            .iter()
            .map(|(asn, n)| format!("{} {n}", self.config.upstream_label(*asn)))
            .collect();
        format!(
            "{} seen by {} of {} full-feed peers ({:.0}%){}",
            view.prefix,
            view.seen_by,
            view.full_feed_peers,
            view.visibility() * 100.0,
            if upstreams.is_empty() {
                String::new()
            } else {
                format!("; via {}", upstreams.join(", "))
            }
        )
    }

    fn on_view(&mut self, at: Timestamp, view: &PrefixView, updates: &mut Vec<EventUpdate>) {
        let t = &self.config.thresholds;
        let (down, up, hold) = (
            t.visibility_down,
            t.visibility_up,
            t.recovery_hold_secs as f64,
        );
        let visibility = view.visibility();
        let text = self.describe_view(view);
        let Some(track) = self.prefixes.get_mut(&view.prefix) else {
            return;
        };
        let before = track.health;
        // With no full-feed peer at all, BGP says nothing about the prefix.
        let blind = view.full_feed_peers == 0;
        track.health = match track.health {
            _ if blind => track.health,
            Health::Unknown if visibility >= up => Health::Up {
                falling_since: None,
            },
            Health::Unknown => Health::Unknown,
            Health::Up { falling_since } => {
                // The fall starts at the first loss of the decline that leads to it, not
                // at the crossing of a threshold; a rise ends a decline.
                let previous = track
                    .view
                    .as_ref()
                    .map(PrefixView::visibility)
                    .unwrap_or(visibility);
                let falling_since = if visibility > previous {
                    None
                } else if visibility < previous {
                    falling_since
                        .filter(|since| at.secs_since(*since) <= DECLINE_WINDOW_SECS)
                        .or(Some(at))
                } else {
                    falling_since
                };
                if visibility < down {
                    Health::Down {
                        start: falling_since.unwrap_or(at),
                    }
                } else {
                    Health::Up { falling_since }
                }
            }
            Health::Down { start } if visibility >= up => {
                track.returns.push_back(at);
                Health::Recovering { start, since: at }
            }
            Health::Down { start } => Health::Down { start },
            Health::Recovering { start, .. } if visibility < down => Health::Down { start },
            Health::Recovering { start, since } if visibility < up => {
                Health::Recovering { start, since }
            }
            Health::Recovering { start, since } if at.secs_since(since) >= hold => {
                let _ = start;
                Health::Up {
                    falling_since: None,
                }
            }
            recovering @ Health::Recovering { .. } => recovering,
        };
        track.view = Some(view.clone());
        let window = self.config.thresholds.flap_window_secs as f64;
        while track
            .returns
            .front()
            .is_some_and(|first| at.secs_since(*first) > window)
        {
            track.returns.pop_front();
        }
        let health = track.health;
        let changed_state = std::mem::discriminant(&before) != std::mem::discriminant(&health);
        let evidence = self.evidence(at, SignalKind::BgpVisibility, text, Some(visibility));
        if changed_state || matches!(health, Health::Down { .. }) {
            self.add_network_evidence(evidence.clone());
        }
        self.on_upstream_shares(at, updates);
        self.check_flap(at, view.prefix, evidence, updates);
    }

    fn network_upstream_share(&self, asn: Asn) -> f64 {
        let (carried, total) = self
            .prefixes
            .values()
            .filter_map(|track| track.view.as_ref())
            .fold((0u32, 0u32), |(carried, total), view| {
                (
                    carried + view.upstreams.get(&asn).copied().unwrap_or(0),
                    total + view.full_feed_peers,
                )
            });
        if total == 0 {
            0.0
        } else {
            f64::from(carried) / f64::from(total)
        }
    }

    /// Is every prefix up, seen by at least `visibility_up` of the peers, and not in
    /// the middle of a decline? (A peer that lost the routes long ago is no decline.)
    fn all_up(&self, at: Timestamp) -> bool {
        let up = self.config.thresholds.visibility_up;
        self.prefixes.values().all(|track| match track.health {
            Health::Unknown => true,
            Health::Up { falling_since } => {
                let declining =
                    falling_since.is_some_and(|since| at.secs_since(since) <= DECLINE_WINDOW_SECS);
                !declining && track.view.as_ref().is_none_or(|v| v.visibility() >= up)
            }
            _ => false,
        })
    }

    fn all_dark(&self) -> bool {
        self.prefixes
            .values()
            .all(|track| matches!(track.health, Health::Down { .. }))
    }

    fn on_upstream_shares(&mut self, at: Timestamp, updates: &mut Vec<EventUpdate>) {
        let t = self.config.thresholds.clone();
        let shares: BTreeMap<Asn, f64> = self
            .upstreams
            .keys()
            .map(|asn| (*asn, self.network_upstream_share(*asn)))
            .collect();
        for (asn, share) in &shares {
            let carriage = self.upstreams[asn];
            let label = self.config.upstream_label(*asn);
            let next = match carriage {
                Carriage::Unknown | Carriage::Folded if *share >= t.upstream_up => {
                    Carriage::Carrying
                }
                Carriage::Carrying if *share < t.upstream_down => {
                    let text = format!(
                        "{label} carries {:.0}% of paths, down from its baseline",
                        share * 100.0
                    );
                    let evidence = self.evidence(at, SignalKind::BgpUpstream, text, Some(*share));
                    self.add_network_evidence(evidence);
                    Carriage::Pending { since: at }
                }
                Carriage::Cut { since } if *share >= t.upstream_up => Carriage::Returning {
                    cut: since,
                    since: at,
                },
                Carriage::Returning { cut, .. } if *share < t.upstream_down => {
                    Carriage::Cut { since: cut }
                }
                Carriage::Returning { since, .. }
                    if at.secs_since(since) >= t.recovery_hold_secs as f64 =>
                {
                    let evidence = self.evidence(
                        since,
                        SignalKind::BgpUpstream,
                        format!(
                            "{label} carries the routes again ({:.0}% of paths)",
                            share * 100.0
                        ),
                        Some(*share),
                    );
                    self.end(
                        at,
                        Entity::Upstream(*asn),
                        Cause::UpstreamCut,
                        String::new(),
                        since,
                        Some(evidence),
                        updates,
                    );
                    Carriage::Carrying
                }
                other => other,
            };
            self.upstreams.insert(*asn, next);
        }
        // Decide pending losses: a cut if another upstream carries the routes while
        // the network stays visible; folded into the outage if the network is dark.
        let pending: Vec<(Asn, Timestamp)> = self
            .upstreams
            .iter()
            .filter_map(|(asn, c)| match c {
                Carriage::Pending { since } => Some((*asn, *since)),
                _ => None,
            })
            .collect();
        for (asn, since) in pending {
            let share = shares.get(&asn).copied().unwrap_or(0.0);
            if share >= t.upstream_up {
                self.upstreams.insert(asn, Carriage::Carrying);
                continue;
            }
            if self.all_dark() {
                self.upstreams.insert(asn, Carriage::Folded);
                continue;
            }
            let carriers: Vec<(Asn, f64)> = shares
                .iter()
                .filter(|(other, share)| **other != asn && **share >= t.upstream_up)
                .map(|(a, s)| (*a, *s))
                .chain(self.unknown_carriers(asn))
                .collect();
            if self.all_up(at) && !carriers.is_empty() {
                let label = self.config.upstream_label(asn);
                let others: Vec<String> = carriers
                    .iter()
                    .map(|(a, s)| {
                        format!(
                            "{} ({:.0}% of paths)",
                            self.config.upstream_label(*a),
                            s * 100.0
                        )
                    })
                    .collect();
                let summary = format!(
                    "{label} no longer carries the routes of {}; {} still does",
                    self.config.network_name,
                    others.join(", ")
                );
                let evidence = vec![
                    self.evidence(
                        since,
                        SignalKind::BgpUpstream,
                        format!("{label} paths gone"),
                        Some(share),
                    ),
                    self.evidence(
                        at,
                        SignalKind::BgpUpstream,
                        format!("routes carried by {}", others.join(", ")),
                        None,
                    ),
                ];
                let scope = Scope {
                    prefixes: self.config.prefixes.clone(),
                    upstreams: std::iter::once(asn)
                        .chain(carriers.iter().map(|(a, _)| *a))
                        .collect(),
                    ..Scope::default()
                };
                self.start_with(
                    since,
                    Entity::Upstream(asn),
                    Cause::UpstreamCut,
                    String::new(),
                    Severity::Warning,
                    0.85,
                    scope,
                    summary,
                    evidence,
                    updates,
                );
                self.upstreams.insert(asn, Carriage::Cut { since });
            }
        }
        self.check_new_upstreams(at, updates);
    }

    /// Upstreams the profile does not name that carry a real share of the paths.
    fn unknown_carriers(&self, except: Asn) -> Vec<(Asn, f64)> {
        let mut all: BTreeSet<Asn> = BTreeSet::new();
        for view in self.prefixes.values().filter_map(|t| t.view.as_ref()) {
            all.extend(view.upstreams.keys());
        }
        all.into_iter()
            .filter(|asn| *asn != except && !self.upstreams.contains_key(asn))
            .map(|asn| (asn, self.network_upstream_share(asn)))
            .filter(|(_, share)| *share >= self.config.thresholds.upstream_up)
            .collect()
    }

    fn check_new_upstreams(&mut self, at: Timestamp, updates: &mut Vec<EventUpdate>) {
        for (asn, share) in self.unknown_carriers(Asn(0)) {
            if !self.new_upstreams.insert(asn) {
                continue;
            }
            let summary = format!(
                "{asn} now carries {:.0}% of the paths to {}: a new upstream",
                share * 100.0,
                self.config.network_name
            );
            let evidence = vec![self.evidence(
                at,
                SignalKind::BgpUpstream,
                format!(
                    "{asn} seen as the AS before the origin on {:.0}% of full-feed paths",
                    share * 100.0
                ),
                Some(share),
            )];
            let scope = Scope {
                prefixes: self.config.prefixes.clone(),
                upstreams: vec![asn],
                ..Scope::default()
            };
            self.start(
                at,
                Entity::Upstream(asn),
                Cause::NewUpstream,
                String::new(),
                Severity::Warning,
                0.9,
                scope,
                summary,
                evidence,
                updates,
            );
            // A change, not an outage: the event is a moment.
            self.end(
                at,
                Entity::Upstream(asn),
                Cause::NewUpstream,
                String::new(),
                at,
                Vec::new(),
                updates,
            );
        }
    }

    fn on_rpki(
        &mut self,
        at: Timestamp,
        prefix: IpNet,
        origin: Option<Asn>,
        state: RpkiState,
        vrps: &[String],
        updates: &mut Vec<EventUpdate>,
    ) {
        let watched = self.watched_for(&prefix);
        let key = prefix.to_string();
        let origin_text = origin
            .map(|o| o.to_string())
            .unwrap_or_else(|| "an AS_SET".into());
        match state {
            RpkiState::Invalid => {
                self.rpki_invalid.insert(watched);
                let summary = format!(
                    "{prefix} from {origin_text} is RPKI-invalid: networks that validate routes will drop it"
                );
                let text = format!(
                    "{prefix} origin {origin_text}: invalid against {}",
                    if vrps.is_empty() {
                        "no VRP".to_string()
                    } else {
                        vrps.join(", ")
                    }
                );
                let evidence = vec![self.evidence(at, SignalKind::BgpRpki, text, Some(0.0))];
                let scope = Scope {
                    prefixes: vec![prefix],
                    ..Scope::default()
                };
                self.start(
                    at,
                    Entity::Prefix(watched),
                    Cause::RpkiInvalid,
                    key,
                    Severity::Warning,
                    0.8,
                    scope,
                    summary,
                    evidence,
                    updates,
                );
            }
            RpkiState::Valid | RpkiState::NotFound => {
                self.rpki_invalid.remove(&watched);
                let evidence = self.evidence(
                    at,
                    SignalKind::BgpRpki,
                    format!("{prefix} origin {origin_text}: {state}"),
                    Some(1.0),
                );
                self.end(
                    at,
                    Entity::Prefix(watched),
                    Cause::RpkiInvalid,
                    key,
                    at,
                    Some(evidence),
                    updates,
                );
            }
        }
    }

    fn check_flap(
        &mut self,
        at: Timestamp,
        prefix: IpNet,
        evidence: Evidence,
        updates: &mut Vec<EventUpdate>,
    ) {
        let t = &self.config.thresholds;
        let (count, window) = (t.flap_count as usize, t.flap_window_secs as f64);
        let returns = self
            .prefixes
            .get(&prefix)
            .map(|t| t.returns.len())
            .unwrap_or(0);
        let key = (self.config.network.clone(), Cause::Flap, String::new());
        if let Some(event) = self.open.get_mut(&key) {
            push_evidence(event, evidence);
            let last = self
                .prefixes
                .values()
                .flat_map(|t| t.returns.back())
                .max()
                .copied();
            let quiet = last.is_none_or(|last| at.secs_since(last) > window);
            if quiet && self.all_up(at) {
                let end = last.unwrap_or(at);
                self.end(
                    at,
                    self.config.network.clone(),
                    Cause::Flap,
                    String::new(),
                    end,
                    Vec::new(),
                    updates,
                );
            }
            return;
        }
        if returns >= count {
            let first = self.prefixes[&prefix]
                .returns
                .front()
                .copied()
                .unwrap_or(at);
            let summary = format!(
                "the routes of {} flap: {prefix} was withdrawn and came back {returns} times within {}",
                self.config.network_name,
                human_duration(window)
            );
            let scope = Scope {
                prefixes: vec![prefix],
                ..Scope::default()
            };
            self.start_with(
                first,
                self.config.network.clone(),
                Cause::Flap,
                String::new(),
                Severity::Warning,
                0.8,
                scope,
                summary,
                vec![evidence],
                updates,
            );
        }
    }

    /// Opens, revises or ends the network event from the prefixes' health.
    fn settle(&mut self, at: Timestamp, updates: &mut Vec<EventUpdate>) {
        let hold = self.config.thresholds.recovery_hold_secs as f64;
        for track in self.prefixes.values_mut() {
            if let Health::Recovering { since, .. } = track.health
                && at.secs_since(since) >= hold
            {
                track.health = Health::Up {
                    falling_since: None,
                };
            }
        }
        self.update_network(at, updates);
    }

    fn update_network(&mut self, at: Timestamp, updates: &mut Vec<EventUpdate>) {
        // Dark: down, or back but not for long enough. An RPKI-invalid prefix
        // counts from the moment it loses the `up` share, since validating networks
        // drop it while the others keep it.
        let up = self.config.thresholds.visibility_up;
        let dark: Vec<(IpNet, Timestamp)> = self
            .prefixes
            .iter()
            .filter_map(|(prefix, track)| match track.health {
                Health::Down { start } | Health::Recovering { start, .. } => Some((*prefix, start)),
                Health::Up { falling_since }
                    if self.rpki_invalid.contains(prefix)
                        && track.view.as_ref().is_some_and(|v| v.visibility() < up) =>
                {
                    Some((*prefix, falling_since.unwrap_or(at)))
                }
                _ => None,
            })
            .collect();
        let key = (self.config.network.clone(), Cause::Internal, String::new());
        let open = self.open.contains_key(&key);
        if dark.is_empty() {
            if open {
                let back = self
                    .prefixes
                    .values()
                    .flat_map(|t| t.returns.back())
                    .max()
                    .copied()
                    .unwrap_or(at);
                let text = format!(
                    "every prefix of {} is visible again",
                    self.config.network_name
                );
                let evidence = self.evidence(back, SignalKind::BgpVisibility, text, Some(1.0));
                self.end(
                    at,
                    self.config.network.clone(),
                    Cause::Internal,
                    String::new(),
                    back,
                    Some(evidence),
                    updates,
                );
            }
            return;
        }
        let total = self.prefixes.len();
        let all = dark.len() == total;
        let rpki = dark
            .iter()
            .all(|(prefix, _)| self.rpki_invalid.contains(prefix));
        let cause = match (all, rpki) {
            (_, true) => Cause::RpkiInvalid,
            (true, false) => Cause::Internal,
            (false, false) => Cause::Partial,
        };
        let prefixes: Vec<IpNet> = dark.iter().map(|(p, _)| *p).collect();
        let names: Vec<String> = prefixes.iter().map(|p| p.to_string()).collect();
        let expected: Vec<String> = self
            .upstreams
            .keys()
            .map(|a| self.config.upstream_label(*a))
            .collect();
        let summary = match cause {
            Cause::Internal => format!(
                "{} is dark: all {total} prefixes withdrawn, and every upstream ({}) lost the routes together",
                self.config.network_name,
                expected.join(", ")
            ),
            Cause::RpkiInvalid => format!(
                "{} prefixes of {} lost visibility while RPKI-invalid: networks that validate routes drop them",
                dark.len(),
                self.config.network_name
            ),
            _ => format!(
                "{} of {total} prefixes of {} are dark ({}); the rest are visible",
                dark.len(),
                self.config.network_name,
                names.join(", ")
            ),
        };
        let (severity, confidence) = match cause {
            Cause::Internal => (Severity::Critical, 0.9),
            Cause::RpkiInvalid => (Severity::Critical, 0.85),
            _ => (Severity::Warning, 0.8),
        };
        let start = dark.iter().map(|(_, s)| *s).min().unwrap_or(at);
        let scope = Scope {
            prefixes,
            upstreams: self.upstreams.keys().copied().collect(),
            ..Scope::default()
        };
        if let Some(event) = self.open.get_mut(&key) {
            if event.cause != cause || event.scope != scope {
                let text = if event.cause != cause {
                    format!("cause revised: {} -> {cause}", event.cause)
                } else {
                    format!("dark prefixes now: {}", names.join(", "))
                };
                push_evidence(
                    event,
                    Evidence {
                        at,
                        signal: SignalKind::BgpVisibility,
                        text,
                        value: Some(1.0 - dark.len() as f64 / total as f64),
                    },
                );
                event.cause = cause;
                event.severity = severity.max(event.severity);
                event.confidence = confidence;
                event.summary = summary;
                event.scope = scope;
                updates.push(EventUpdate::Revised(event.clone()));
            }
        } else {
            let evidence = self.pending_network_evidence.drain(..).collect();
            self.start_with(
                start,
                self.config.network.clone(),
                Cause::Internal,
                String::new(),
                severity,
                confidence,
                scope,
                summary,
                evidence,
                updates,
            );
            if let Some(event) = self.open.get_mut(&key) {
                event.cause = cause;
                if let Some(EventUpdate::Started(started)) = updates.last_mut() {
                    started.cause = cause;
                }
            }
        }
    }
}

impl BgpDetector {
    /// Adds evidence to the network event, or keeps it for when one opens.
    fn add_network_evidence(&mut self, evidence: Evidence) {
        let key = (self.config.network.clone(), Cause::Internal, String::new());
        if let Some(event) = self.open.get_mut(&key) {
            push_evidence(event, evidence);
        } else {
            self.pending_network_evidence.push_back(evidence);
            while self.pending_network_evidence.len() > MAX_EVIDENCE / 2 {
                self.pending_network_evidence.pop_front();
            }
        }
    }

    /// Opens an event that starts now, unless the same one is open.
    #[allow(clippy::too_many_arguments)]
    fn start(
        &mut self,
        at: Timestamp,
        entity: Entity,
        cause: Cause,
        key: String,
        severity: Severity,
        confidence: f64,
        scope: Scope,
        summary: String,
        evidence: Vec<Evidence>,
        updates: &mut Vec<EventUpdate>,
    ) {
        self.start_with(
            at, entity, cause, key, severity, confidence, scope, summary, evidence, updates,
        );
    }

    /// Opens an event that started at `start` (which may lie before the change
    /// that revealed it), unless the same one is open.
    #[allow(clippy::too_many_arguments)]
    fn start_with(
        &mut self,
        start: Timestamp,
        entity: Entity,
        cause: Cause,
        key: String,
        severity: Severity,
        confidence: f64,
        scope: Scope,
        summary: String,
        evidence: Vec<Evidence>,
        updates: &mut Vec<EventUpdate>,
    ) {
        let slot = (entity.clone(), cause, key.clone());
        if self.open.contains_key(&slot) {
            return;
        }
        let id_entity = if key.is_empty() {
            entity.clone()
        } else {
            Entity::Service {
                kind: cause.to_string(),
                name: format!("{entity}/{key}"),
            }
        };
        let mut event = Event {
            id: EventId::derive(&id_entity, start, cause),
            entity,
            cause,
            severity,
            confidence,
            start,
            end: None,
            scope,
            summary,
            evidence: Vec::new(),
        };
        for item in evidence {
            push_evidence(&mut event, item);
        }
        updates.push(EventUpdate::Started(event.clone()));
        self.open.insert(slot, event);
    }

    /// Ends an open event at `end`, adding the evidence of its end.
    #[allow(clippy::too_many_arguments)]
    fn end(
        &mut self,
        _at: Timestamp,
        entity: Entity,
        cause: Cause,
        key: String,
        end: Timestamp,
        evidence: impl IntoIterator<Item = Evidence>,
        updates: &mut Vec<EventUpdate>,
    ) {
        let Some(mut event) = self.open.remove(&(entity, cause, key)) else {
            return;
        };
        for item in evidence {
            push_evidence(&mut event, item);
        }
        let end = end.max(event.start);
        event.end = Some(end);
        let duration = end.secs_since(event.start);
        if duration > 0.0 {
            event.summary = format!("{}. Back after {}", event.summary, human_duration(duration));
        }
        updates.push(EventUpdate::Ended(event.clone()));
        self.closed.push(event);
    }
}

/// Appends evidence, keeping the first and the latest when there is too much.
fn push_evidence(event: &mut Event, evidence: Evidence) {
    if event.evidence.len() >= MAX_EVIDENCE {
        // Keep the opening half (how it began) and make room at the end (how it goes).
        event.evidence.remove(MAX_EVIDENCE / 2);
    }
    event.evidence.push(evidence);
}

/// "9h 32m", "45s": durations for people.
pub(crate) fn human_duration(secs: f64) -> String {
    let secs = secs.max(0.0).round() as u64;
    let (d, h, m, s) = (secs / 86_400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {s}s"),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h {m}m"),
    }
}
