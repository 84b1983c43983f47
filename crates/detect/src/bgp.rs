//! The BGP rules: state machines per prefix and per upstream.
//!
//! Hysteresis: a prefix goes down when its visibility falls below
//! `visibility_down` and is back only when it has stayed at or above
//! `visibility_up` for `recovery_hold_secs`; the outage then ends at the moment
//! it came back. One peer's session reset or one lost route therefore never
//! alarms. An upstream loss is only called `upstream-cut` once another upstream
//! is seen carrying the routes over a steady view; if instead every prefix goes
//! dark, the loss is evidence of the network's own outage, which the
//! [`Detector`](crate::Detector) names from all the signals together.
//!
//! The events this part opens itself are those about single prefixes and
//! upstreams: `upstream-cut`, `new-upstream`, `hijack`, `rpki-invalid` per
//! prefix, and `flap`.

use crate::DetectorConfig;
use crate::book::{EventBook, Opening, Slot, human_duration};
use blackout_bgp::{BgpChange, PrefixView, Relation, RpkiState, upstream_share};
use blackout_model::{
    Asn, Cause, Entity, Event, EventUpdate, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How long a decline may take and still count as the start of the fall that follows.
const DECLINE_WINDOW_SECS: f64 = 300.0;

/// Visibility evidence kept for the network event before it opens.
const PENDING_EVIDENCE: usize = 32;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Health {
    /// Never seen up: nothing to lose yet.
    Unknown,
    /// Visible; `falling_since` marks the first loss of a decline under way.
    Up { falling_since: Option<Timestamp> },
    /// Dark since `start`.
    Down { start: Timestamp },
    /// Back since `since`, not yet for long enough.
    Recovering { start: Timestamp, since: Timestamp },
}

struct PrefixTrack {
    health: Health,
    view: Option<PrefixView>,
    /// When the prefix went down and came back, for each return within the flap window.
    returns: VecDeque<(Timestamp, Timestamp)>,
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

/// A watched prefix that is dark, and since when.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DarkPrefix {
    /// The prefix.
    pub prefix: IpNet,
    /// When its fall began.
    pub since: Timestamp,
    /// Is it RPKI-invalid?
    pub rpki_invalid: bool,
}

/// The BGP part of the detector.
pub struct BgpDetector {
    config: DetectorConfig,
    prefixes: BTreeMap<IpNet, PrefixTrack>,
    upstreams: BTreeMap<Asn, Carriage>,
    /// Upstreams the profile does not name that were already reported as new.
    new_upstreams: BTreeSet<Asn>,
    book: EventBook,
    rpki_invalid: BTreeSet<IpNet>,
    /// Evidence for the network event, gathered as it comes.
    network_evidence: VecDeque<Evidence>,
    last_at: Timestamp,
}

impl BgpDetector {
    /// A detector with nothing seen yet.
    pub fn new(config: DetectorConfig) -> Self {
        let prefixes = config
            .prefixes
            .iter()
            .map(|prefix| {
                let track = PrefixTrack {
                    health: Health::Unknown,
                    view: None,
                    returns: VecDeque::new(),
                };
                (*prefix, track)
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
            book: EventBook::default(),
            rpki_invalid: BTreeSet::new(),
            network_evidence: VecDeque::new(),
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
                let what = if *relation == Relation::MoreSpecific {
                    "a more-specific"
                } else {
                    "a prefix"
                };
                let opening = Opening {
                    severity: Severity::Critical,
                    confidence: 0.7,
                    scope: Scope {
                        prefixes: vec![*prefix],
                        ..Scope::default()
                    },
                    summary: format!(
                        "{origin} announces {prefix}, {what} of {}: a possible hijack",
                        self.config.network_name
                    ),
                    evidence: vec![evidence(
                        at,
                        SignalKind::BgpOrigin,
                        format!(
                            "{prefix} originated by {origin}, seen by {} {} via path {as_path}",
                            peer.collector, peer.ip
                        ),
                        None,
                    )],
                };
                let slot = (
                    Entity::Prefix(self.watched_for(prefix)),
                    Cause::Hijack,
                    format!("{prefix}/{origin}"),
                );
                self.book.start(at, slot, opening, &mut updates);
            }
            BgpChange::OriginGone {
                prefix,
                origin,
                expected: false,
                ..
            } => {
                let slot = (
                    Entity::Prefix(self.watched_for(prefix)),
                    Cause::Hijack,
                    format!("{prefix}/{origin}"),
                );
                let gone = evidence(
                    at,
                    SignalKind::BgpOrigin,
                    format!("{prefix} no longer originated by {origin}"),
                    None,
                );
                self.book.end(&slot, at, Some(gone), &mut updates);
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
        self.settle(at);
        self.end_quiet_flap(at, &mut updates);
        updates
    }

    /// Moves time on without a change (a live feed's quiet moments), so that held
    /// recoveries can be declared.
    pub fn advance(&mut self, now: Timestamp) -> Vec<EventUpdate> {
        let at = now.max(self.last_at);
        self.last_at = at;
        let mut updates = Vec::new();
        self.settle(at);
        self.on_upstream_shares(at, &mut updates);
        self.end_quiet_flap(at, &mut updates);
        updates
    }

    /// Ends the input: recoveries under way are declared at the moment the routes
    /// came back.
    pub fn finish(&mut self) -> Vec<EventUpdate> {
        let mut updates = Vec::new();
        for track in self.prefixes.values_mut() {
            if let Health::Recovering { .. } = track.health {
                track.health = Health::Up {
                    falling_since: None,
                };
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
            let back = evidence(
                since,
                SignalKind::BgpUpstream,
                format!(
                    "{} carries the routes again",
                    self.config.upstream_label(asn)
                ),
                None,
            );
            self.book.end(
                &(Entity::Upstream(asn), Cause::UpstreamCut, String::new()),
                since,
                Some(back),
                &mut updates,
            );
        }
        updates
    }

    /// The events open now.
    pub fn open_events(&self) -> impl Iterator<Item = &blackout_model::Event> {
        self.book.open.values()
    }

    /// The slot of an event this part opens, if `event` is one of them: a
    /// keyed slot is named from the event and checked against its id.
    pub(crate) fn slot_of(&self, event: &Event) -> Option<Slot> {
        let keyed = |key: String| {
            let slot = (event.entity.clone(), event.cause, key);
            (crate::book::slot_event_id(&slot, event.start) == event.id).then_some(slot)
        };
        match (&event.entity, event.cause) {
            (entity, Cause::Flap) if *entity == self.config.network => {
                Some((entity.clone(), Cause::Flap, String::new()))
            }
            (Entity::Upstream(asn), Cause::UpstreamCut) if self.upstreams.contains_key(asn) => {
                Some((event.entity.clone(), Cause::UpstreamCut, String::new()))
            }
            (Entity::Prefix(watched), Cause::RpkiInvalid)
                if self.prefixes.contains_key(watched) =>
            {
                keyed(event.scope.prefixes.first()?.to_string())
            }
            (Entity::Prefix(watched), Cause::Hijack) if self.prefixes.contains_key(watched) => {
                // The summary opens with the origin that announced it ("AS64496 announces").
                let origin: Asn = event
                    .summary
                    .split_whitespace()
                    .next()?
                    .strip_prefix("AS")?
                    .parse()
                    .ok()
                    .map(Asn)?;
                keyed(format!("{}/{origin}", event.scope.prefixes.first()?))
            }
            _ => None,
        }
    }

    /// Takes up an event this part opened before a restart (see
    /// [`Detector::resume`](crate::Detector::resume)), and sets the state machines
    /// to what it says: a cut upstream is cut since the event's start, an
    /// RPKI-invalid prefix is invalid, a flapping prefix came back at the event's
    /// latest evidence. `slot` is the event's, from [`BgpDetector::slot_of`]; the
    /// event is returned, back, if its slot is taken.
    pub(crate) fn resume(&mut self, slot: Slot, event: Event) -> Option<Event> {
        let latest = event
            .evidence
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or(event.start);
        match (&slot.0, slot.1) {
            (Entity::Upstream(asn), Cause::UpstreamCut) => {
                self.upstreams
                    .insert(*asn, Carriage::Cut { since: event.start });
            }
            (Entity::Prefix(watched), Cause::RpkiInvalid) => {
                self.rpki_invalid.insert(*watched);
            }
            (_, Cause::Flap) => {
                for prefix in &event.scope.prefixes {
                    if let Some(track) = self.prefixes.get_mut(prefix) {
                        track.returns.push_back((latest, latest));
                    }
                }
            }
            _ => {}
        }
        self.last_at = self.last_at.max(latest);
        self.book.resume(slot, event)
    }

    /// A watched prefix the network's resumed event says is dark: down since `start`.
    pub(crate) fn seed_dark(&mut self, prefix: &IpNet, start: Timestamp) {
        if let Some(track) = self.prefixes.get_mut(prefix) {
            track.health = Health::Down { start };
        }
    }

    /// Ends the first look after a restart (see [`EventBook::release`]): cuts and
    /// flapping are left to their own state machines, set when they were resumed;
    /// a hijack or an RPKI-invalid route the feeds did not show again is over.
    pub(crate) fn release(&mut self, resumed_at: Timestamp) -> Vec<EventUpdate> {
        let mut updates = Vec::new();
        self.book.release(
            resumed_at,
            |(_, cause, _)| matches!(cause, Cause::UpstreamCut | Cause::Flap),
            &mut updates,
        );
        updates
    }

    /// Every event this part opened, closed and open, in order of start.
    pub fn into_events(self) -> Vec<blackout_model::Event> {
        self.book.into_events()
    }

    /// The watched prefixes that are dark now: down, back but not for long
    /// enough, or RPKI-invalid and below the `up` share (validating networks drop
    /// them while the others keep them).
    pub fn dark_prefixes(&self) -> Vec<DarkPrefix> {
        let up = self.config.thresholds.visibility_up;
        self.prefixes
            .iter()
            .filter_map(|(prefix, track)| {
                let since = match track.health {
                    Health::Down { start } | Health::Recovering { start, .. } => start,
                    Health::Up { falling_since }
                        if self.rpki_invalid.contains(prefix)
                            && track.view.as_ref().is_some_and(|v| v.visibility() < up) =>
                    {
                        falling_since.unwrap_or(self.last_at)
                    }
                    _ => return None,
                };
                Some(DarkPrefix {
                    prefix: *prefix,
                    since,
                    rpki_invalid: self.rpki_invalid.contains(prefix),
                })
            })
            .collect()
    }

    /// The watched prefixes whose routes are RPKI-invalid now.
    pub fn rpki_invalid_prefixes(&self) -> Vec<IpNet> {
        self.rpki_invalid.iter().copied().collect()
    }

    /// How many prefixes are watched.
    pub fn prefix_count(&self) -> usize {
        self.prefixes.len()
    }

    /// Has any prefix been seen up yet? Before that, BGP has no opinion.
    pub fn has_baseline(&self) -> bool {
        self.prefixes
            .values()
            .any(|t| !matches!(t.health, Health::Unknown))
    }

    /// When the last prefix came back, if one did.
    pub fn last_return(&self) -> Option<Timestamp> {
        self.prefixes
            .values()
            .flat_map(|t| t.returns.back())
            .map(|(_, back)| *back)
            .max()
    }

    /// The visibility of each prefix now, for evidence.
    pub fn visibility_text(&self) -> String {
        self.prefixes
            .values()
            .filter_map(|t| t.view.as_ref())
            .map(|v| format!("{} {:.0}%", v.prefix, v.visibility() * 100.0))
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// Evidence gathered for the network event since the last call.
    pub fn take_network_evidence(&mut self) -> Vec<Evidence> {
        self.network_evidence.drain(..).collect()
    }

    fn add_network_evidence(&mut self, item: Evidence) {
        self.network_evidence.push_back(item);
        while self.network_evidence.len() > PENDING_EVIDENCE {
            self.network_evidence.pop_front();
        }
    }

    fn watched_for(&self, prefix: &IpNet) -> IpNet {
        self.config
            .prefixes
            .iter()
            .find(|watched| watched.contains(prefix))
            .copied()
            .unwrap_or(*prefix)
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
        let (down, up, window) = (
            t.visibility_down,
            t.visibility_up,
            t.flap_window_secs as f64,
        );
        let visibility = view.visibility();
        let text = self.describe_view(view);
        let Some(track) = self.prefixes.get_mut(&view.prefix) else {
            return;
        };
        let before = track.health;
        // With no full-feed peer at all, BGP says nothing about the prefix.
        if view.full_feed_peers > 0 {
            let previous = track
                .view
                .as_ref()
                .map(PrefixView::visibility)
                .unwrap_or(visibility);
            track.health = match track.health {
                Health::Unknown if visibility >= up => Health::Up {
                    falling_since: None,
                },
                Health::Unknown => Health::Unknown,
                Health::Up { falling_since } => {
                    // The fall starts at the first loss of the decline that leads to
                    // it, not at the crossing of a threshold; a rise ends a decline.
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
                    track.returns.push_back((start, at));
                    Health::Recovering { start, since: at }
                }
                Health::Down { start } => Health::Down { start },
                Health::Recovering { start, .. } if visibility < down => Health::Down { start },
                recovering @ Health::Recovering { .. } => recovering,
            };
        }
        track.view = Some(view.clone());
        while track
            .returns
            .front()
            .is_some_and(|(_, back)| at.secs_since(*back) > window)
        {
            track.returns.pop_front();
        }
        let changed_state =
            std::mem::discriminant(&before) != std::mem::discriminant(&track.health);
        let down_now = matches!(track.health, Health::Down { .. });
        let item = evidence(at, SignalKind::BgpVisibility, text, Some(visibility));
        let first_sight = before == Health::Unknown;
        if !first_sight && (changed_state || down_now || visibility < up) {
            self.add_network_evidence(item.clone());
        }
        self.on_upstream_shares(at, updates);
        self.check_flap(at, view.prefix, item, updates);
    }

    fn network_upstream_share(&self, asn: Asn) -> f64 {
        upstream_share(
            self.prefixes
                .values()
                .filter_map(|track| track.view.as_ref()),
            asn,
        )
        .unwrap_or(0.0)
    }

    /// Is every prefix up, seen by at least `visibility_up` of the peers, and not in
    /// the middle of a decline (one that began less than `cut_settle_secs` ago)?
    /// Peers that reach the network only through a cut upstream lose it, so a cut
    /// lowers visibility a little; a total outage lowers it all the way within the
    /// settling time.
    fn all_up(&self, at: Timestamp) -> bool {
        let up = self.config.thresholds.visibility_up;
        let settle = self.config.thresholds.cut_settle_secs;
        self.prefixes.values().all(|track| match track.health {
            Health::Unknown => true,
            Health::Up { falling_since } => {
                let declining = falling_since.is_some_and(|since| at.secs_since(since) < settle);
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
            let slot: Slot = (Entity::Upstream(*asn), Cause::UpstreamCut, String::new());
            let label = self.config.upstream_label(*asn);
            let next = match self.upstreams[asn] {
                Carriage::Unknown | Carriage::Folded if *share >= t.upstream_up => {
                    Carriage::Carrying
                }
                Carriage::Carrying if *share < t.upstream_down => {
                    let text = format!(
                        "{label} carries {:.0}% of paths, down from its baseline",
                        share * 100.0
                    );
                    self.add_network_evidence(evidence(
                        at,
                        SignalKind::BgpUpstream,
                        text,
                        Some(*share),
                    ));
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
                    let text = format!(
                        "{label} carries the routes again ({:.0}% of paths)",
                        share * 100.0
                    );
                    self.book.end(
                        &slot,
                        since,
                        Some(evidence(since, SignalKind::BgpUpstream, text, Some(*share))),
                        updates,
                    );
                    Carriage::Carrying
                }
                other => other,
            };
            self.upstreams.insert(*asn, next);
        }
        // Decide pending losses: a cut if another upstream carries the routes over a
        // steady view; folded into the outage if the network is dark.
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
                let opening = Opening {
                    severity: Severity::Warning,
                    confidence: 0.85,
                    scope: Scope {
                        prefixes: self.config.prefixes.clone(),
                        upstreams: std::iter::once(asn)
                            .chain(carriers.iter().map(|(a, _)| *a))
                            .collect(),
                        ..Scope::default()
                    },
                    summary: format!(
                        "{label} no longer carries the routes of {}; {} still does",
                        self.config.network_name,
                        others.join(", ")
                    ),
                    evidence: vec![
                        evidence(
                            since,
                            SignalKind::BgpUpstream,
                            format!("{label} paths gone"),
                            Some(share),
                        ),
                        evidence(
                            at,
                            SignalKind::BgpUpstream,
                            format!("routes carried by {}", others.join(", ")),
                            None,
                        ),
                    ],
                };
                self.book.start(
                    since,
                    (Entity::Upstream(asn), Cause::UpstreamCut, String::new()),
                    opening,
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
            let opening = Opening {
                severity: Severity::Warning,
                confidence: 0.9,
                scope: Scope {
                    prefixes: self.config.prefixes.clone(),
                    upstreams: vec![asn],
                    ..Scope::default()
                },
                summary: format!(
                    "{asn} now carries {:.0}% of the paths to {}: a new upstream",
                    share * 100.0,
                    self.config.network_name
                ),
                evidence: vec![evidence(
                    at,
                    SignalKind::BgpUpstream,
                    format!(
                        "{asn} seen as the AS before the origin on {:.0}% of full-feed paths",
                        share * 100.0
                    ),
                    Some(share),
                )],
            };
            let slot: Slot = (Entity::Upstream(asn), Cause::NewUpstream, String::new());
            self.book.start(at, slot.clone(), opening, updates);
            // A change, not an outage: the event is a moment.
            self.book.end(&slot, at, None, updates);
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
        let slot: Slot = (
            Entity::Prefix(watched),
            Cause::RpkiInvalid,
            prefix.to_string(),
        );
        let origin_text = origin
            .map(|o| o.to_string())
            .unwrap_or_else(|| "an AS_SET".into());
        match state {
            RpkiState::Invalid => {
                self.rpki_invalid.insert(watched);
                let against = if vrps.is_empty() {
                    "no VRP".to_string()
                } else {
                    vrps.join(", ")
                };
                let opening = Opening {
                    severity: Severity::Warning,
                    confidence: 0.8,
                    scope: Scope {
                        prefixes: vec![prefix],
                        ..Scope::default()
                    },
                    summary: format!(
                        "{prefix} from {origin_text} is RPKI-invalid: networks that validate routes will drop it"
                    ),
                    evidence: vec![evidence(
                        at,
                        SignalKind::BgpRpki,
                        format!("{prefix} origin {origin_text}: invalid against {against}"),
                        Some(0.0),
                    )],
                };
                self.add_network_evidence(opening.evidence[0].clone());
                self.book.start(at, slot, opening, updates);
            }
            RpkiState::Valid | RpkiState::NotFound => {
                self.rpki_invalid.remove(&watched);
                let text = format!("{prefix} origin {origin_text}: {state}");
                self.book.end(
                    &slot,
                    at,
                    Some(evidence(at, SignalKind::BgpRpki, text, Some(1.0))),
                    updates,
                );
            }
        }
    }

    fn check_flap(
        &mut self,
        at: Timestamp,
        prefix: IpNet,
        item: Evidence,
        updates: &mut Vec<EventUpdate>,
    ) {
        let t = &self.config.thresholds;
        let (count, window) = (t.flap_count as usize, t.flap_window_secs as f64);
        let slot: Slot = (self.config.network.clone(), Cause::Flap, String::new());
        if self.book.is_open(&slot) {
            self.book.note(&slot, item);
            return;
        }
        let returns = self
            .prefixes
            .get(&prefix)
            .map(|t| t.returns.len())
            .unwrap_or(0);
        if returns >= count {
            // Flapping began with the first withdrawal of the cycles in the window.
            let first = self.prefixes[&prefix]
                .returns
                .front()
                .map(|(down, _)| *down)
                .unwrap_or(at);
            let opening = Opening {
                severity: Severity::Warning,
                confidence: 0.8,
                scope: Scope {
                    prefixes: vec![prefix],
                    ..Scope::default()
                },
                summary: format!(
                    "the routes of {} flap: {prefix} was withdrawn and came back {returns} times within {}",
                    self.config.network_name,
                    human_duration(window)
                ),
                evidence: vec![item],
            };
            self.book.start(first, slot, opening, updates);
        }
    }

    /// Ends flapping once the routes have stayed put for a whole window.
    fn end_quiet_flap(&mut self, at: Timestamp, updates: &mut Vec<EventUpdate>) {
        let slot: Slot = (self.config.network.clone(), Cause::Flap, String::new());
        if !self.book.is_open(&slot) {
            return;
        }
        let window = self.config.thresholds.flap_window_secs as f64;
        let last = self.last_return();
        let quiet = last.is_none_or(|last| at.secs_since(last) > window);
        if quiet && self.all_up(at) {
            self.book.end(&slot, last.unwrap_or(at), None, updates);
        }
    }

    /// Declares the recoveries that have held long enough.
    fn settle(&mut self, at: Timestamp) {
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
    }
}

fn evidence(at: Timestamp, signal: SignalKind, text: String, value: Option<f64>) -> Evidence {
    Evidence {
        at,
        signal,
        text,
        value,
    }
}
