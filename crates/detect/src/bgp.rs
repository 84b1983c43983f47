//! The BGP rules: state machines per tracked prefix, and per entity and upstream.
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
//! Everything is kept per entity (a profile's network, a country, an origin AS),
//! updated as its prefixes change: which prefixes are dark and since when, which
//! are not steadily up, and each upstream's carriage, read from the BGP state's
//! aggregates. Only entities whose prefixes or paths changed in an instant (or
//! whose state waits on time) are looked at when the instant is weighed.
//!
//! The events this part opens itself are those about upstreams and single
//! prefixes: `upstream-cut`, `new-upstream`, `hijack`, and `flap`. A route that
//! is RPKI-invalid but still visible is a warning state ([`RpkiWarning`]) for the
//! status, not an event; the network's event names `rpki-invalid` when its
//! prefixes lose visibility while invalid.

use crate::DetectorConfig;
use crate::book::{EventBook, Opening, Slot, human_duration};
use blackout_bgp::{
    BgpChange, BgpState, ChangeKind, EntityIdx, PrefixId, Relation, RpkiState, family,
};
use blackout_model::{
    Asn, Cause, Entity, Event, EventId, EventUpdate, Evidence, Family, Scope, Severity, SignalKind,
    Timestamp,
};
use ipnet::IpNet;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

/// How long a decline may take and still count as the start of the fall that follows.
const DECLINE_WINDOW_SECS: f64 = 300.0;

/// Visibility evidence kept per entity for its network event before it opens.
const PENDING_EVIDENCE: usize = 32;

/// Entities with at most this many prefixes get evidence per prefix; larger
/// ones (countries, big ASes) get counts.
const PER_PREFIX_EVIDENCE: u32 = 16;

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

#[derive(Clone, Debug)]
struct PrefixTrack {
    health: Health,
    /// Counted peers that saw it at the last change.
    seen: u32,
    /// When the prefix went down and came back, for each return within the flap window.
    returns: VecDeque<(Timestamp, Timestamp)>,
    /// Is it counted in its entities' `returned` (a return within the window)?
    returned: bool,
    /// Is it counted in its entities' `flapping` (`flap_count` returns within the window)?
    flapping: bool,
}

impl Default for PrefixTrack {
    fn default() -> Self {
        PrefixTrack {
            health: Health::Unknown,
            seen: 0,
            returns: VecDeque::new(),
            returned: false,
            flapping: false,
        }
    }
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

impl Carriage {
    /// Is an `upstream-cut` open for it (cut, or back but not for long enough)?
    fn is_cut(self) -> bool {
        matches!(self, Carriage::Cut { .. } | Carriage::Returning { .. })
    }

    /// Does it wait on time (a loss not yet judged, a return not yet held)?
    fn waits(self) -> bool {
        matches!(self, Carriage::Pending { .. } | Carriage::Returning { .. })
    }
}

/// `IPv6 ` for a family's paths or routes of a network that has both families;
/// nothing when the network has one family only (its routes are all of it).
fn family_words(fam: usize, dual: bool) -> String {
    if dual {
        format!("{} ", Family::ALL[fam].label())
    } else {
        String::new()
    }
}

/// What the detector keeps of one entity.
#[derive(Clone, Debug, Default)]
struct EntityTrack {
    /// Prefixes down or back but not for long enough, with when their fall began.
    dark: BTreeMap<PrefixId, Timestamp>,
    /// Of those, the ones down now.
    down: BTreeSet<PrefixId>,
    /// How many of those are of each family (IPv4, IPv6).
    down_per_family: [u32; 2],
    /// Prefixes seen up at least once.
    known: u32,
    /// Prefixes up but below `visibility_up` or in a decline: (below, decline start).
    unsteady: BTreeMap<PrefixId, (bool, Option<Timestamp>)>,
    /// Of those, how many are below `visibility_up`.
    unsteady_below: u32,
    /// Of those, the starts of their declines, counted: the latest says whether
    /// the view has settled, without a walk over a country's prefixes.
    declines: BTreeMap<Timestamp, u32>,
    /// Watched prefixes whose routes are RPKI-invalid now.
    rpki_invalid: BTreeSet<IpNet>,
    /// Each upstream's carriage, per family (IPv4, IPv6): an upstream may drop
    /// one family's routes and keep the other's.
    upstreams: BTreeMap<Asn, [Carriage; 2]>,
    /// Of those, the ones whose carriage of either family waits on time: with
    /// the upstreams whose paths moved, the only ones a look needs to judge.
    timed: BTreeSet<Asn>,
    /// When time alone may next change what a look says of the entity (a decline
    /// settling, a return held, a loss to judge, a flapping gone quiet), if it
    /// waits on time at all.
    wake: Option<Timestamp>,
    /// The upstreams that carried paths from when the entity was first seen up
    /// until its view first settled (the tables of every feed take a few seconds
    /// to come in); None before that. Any other that comes to carry a real share
    /// afterwards is news.
    baseline_upstreams: Option<BTreeSet<Asn>>,
    /// Has the baseline settled?
    baseline_settled: bool,
    /// Upstreams already reported as new, or known from before a restart to have
    /// carried the routes (a resumed cut): not news when they carry again.
    reported_new: BTreeSet<Asn>,
    /// Upstreams seen carrying any share since the start, for summaries, in AS
    /// order with their names (written once, when first seen).
    carriers: Vec<(Asn, String)>,
    /// Upstreams whose paths to the entity changed in number since it was last
    /// looked at: only their shares moved, so only they are looked at.
    moved: BTreeSet<Asn>,
    /// Every share moved (the denominators changed): look at every upstream.
    rescan: bool,
    /// Evidence for the network event, gathered as it comes.
    evidence: VecDeque<Evidence>,
    /// When the last of its prefixes came back, if one did.
    last_return: Option<Timestamp>,
    /// The losses and returns of the flapping under way, if the entity flaps.
    flap: FlapTally,
    /// Its prefixes that came back from a loss within the flap window.
    returned: BTreeSet<PrefixId>,
    /// Of those, the ones that did so `flap_count` times: flapping prefixes.
    flapping: BTreeSet<PrefixId>,
}

impl EntityTrack {
    /// Sets an upstream's carriages, keeping the set of those that wait on time.
    fn set_carriages(&mut self, asn: Asn, carriages: [Carriage; 2]) {
        if carriages.iter().any(|c| c.waits()) {
            self.timed.insert(asn);
        } else {
            self.timed.remove(&asn);
        }
        self.upstreams.insert(asn, carriages);
    }

    /// Marks a prefix of family `fam` down or not, keeping the count per family.
    fn set_down(&mut self, id: PrefixId, fam: usize, down: bool) {
        let changed = if down {
            self.down.insert(id)
        } else {
            self.down.remove(&id)
        };
        if changed {
            let count = &mut self.down_per_family[fam];
            *count = if down {
                *count + 1
            } else {
                count.saturating_sub(1)
            };
        }
    }

    /// Sets a prefix's entry among the unsteady (None: it is steady), keeping the
    /// counts `all_up` reads.
    fn set_unsteady(&mut self, id: PrefixId, entry: Option<(bool, Option<Timestamp>)>) {
        let before = match entry {
            Some(entry) => self.unsteady.insert(id, entry),
            None => self.unsteady.remove(&id),
        };
        for (entry, sign) in [(before, -1i64), (entry, 1)] {
            let Some((below, since)) = entry else {
                continue;
            };
            if below {
                self.unsteady_below = self.unsteady_below.saturating_add_signed(sign as i32);
            }
            if let Some(since) = since {
                let count = self.declines.entry(since).or_default();
                *count = count.saturating_add_signed(sign as i32);
                if *count == 0 {
                    self.declines.remove(&since);
                }
            }
        }
    }
}

/// What an analyst says of a flapping: how many times the routes went and came
/// back, from when to when, the longest they stayed away, and which prefixes.
#[derive(Clone, Debug, Default)]
struct FlapTally {
    /// Returns counted per prefix that flapped.
    returns: BTreeMap<PrefixId, u32>,
    first_loss: Option<Timestamp>,
    last_return: Option<Timestamp>,
    longest_down_secs: f64,
    /// Which families (IPv4, IPv6) the prefixes that flapped are of.
    families: [bool; 2],
}

impl FlapTally {
    fn add(&mut self, prefix: PrefixId, fam: usize, down: Timestamp, back: Timestamp) {
        *self.returns.entry(prefix).or_default() += 1;
        self.families[fam] = true;
        self.first_loss = Some(self.first_loss.map_or(down, |first| first.min(down)));
        self.last_return = Some(self.last_return.map_or(back, |last| last.max(back)));
        self.longest_down_secs = self.longest_down_secs.max(back.secs_since(down));
    }

    /// The families that flapped, for the event's scope.
    fn scope_families(&self) -> Vec<Family> {
        Family::ALL
            .into_iter()
            .filter(|f| self.families[f.index()])
            .collect()
    }

    /// `dual`: the entity has prefixes of both families, so that one family
    /// flapping alone is said in words.
    fn summary(&self, name: &str, dual: bool) -> String {
        let span = match (self.first_loss, self.last_return) {
            (Some(first), Some(last)) => format!(" between {first} and {last}"),
            _ => String::new(),
        };
        // The routes go and come back together: the times are those of the
        // prefix that flapped most, and every prefix that flapped is counted.
        let times = self.returns.values().max().copied().unwrap_or(0);
        let prefixes = self.returns.len();
        let (which, kept) = match self.families {
            [true, false] if dual => ("IPv4 ", "; its IPv6 routes stay put"),
            [false, true] if dual => ("IPv6 ", "; its IPv4 routes stay put"),
            _ => ("", ""),
        };
        format!(
            "the {which}routes of {name} flap: lost and back {times} time{}{span}, {prefixes} prefix{} flapping, the longest down for {}{kept}",
            if times == 1 { "" } else { "s" },
            if prefixes == 1 { "" } else { "es" },
            human_duration(self.longest_down_secs),
        )
    }
}

/// A tracked prefix that is dark, and since when.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct DarkPrefix {
    /// The prefix.
    pub prefix: IpNet,
    /// When its fall began.
    pub since: Timestamp,
    /// Is it RPKI-invalid?
    pub rpki_invalid: bool,
    /// The AS it is originated by (its network's, or in the global view the
    /// origin it was first seen with), to name who lost it.
    pub origin: Option<Asn>,
}

/// The BGP part of the detector.
pub struct BgpDetector {
    config: DetectorConfig,
    prefixes: Vec<PrefixTrack>,
    entities: Vec<EntityTrack>,
    book: EventBook,
    /// Entities whose prefixes or paths changed since they were last looked at.
    dirty: BTreeSet<EntityIdx>,
    /// Entities whose state waits on time (a pending or returning upstream, a
    /// decline settling, flapping), by when they are next due a look: each is
    /// looked at once that time comes, not on every weigh until it settles (a
    /// full feed's churn keeps thousands of entities waiting at once).
    wakes: BTreeSet<(Timestamp, EntityIdx)>,
    /// Prefixes back but not yet for long enough.
    recovering: BTreeSet<PrefixId>,
    /// When a prefix's return leaves the flap window, for each return: the
    /// entities' `returned` and `flapping` are kept as time passes, each return
    /// looked at once more when it ages out.
    return_expiries: BTreeSet<(Timestamp, PrefixId)>,
    /// Routes to watched prefixes that are RPKI-invalid now, by route prefix.
    rpki_warnings: BTreeMap<IpNet, RpkiWarning>,
    /// The feeds whose table is still coming in: until none is, an entity's
    /// upstream baseline takes in every upstream it sees (a second feed's table
    /// may come seconds after the first's).
    tables_loading: BTreeSet<String>,
    last_at: Timestamp,
}

/// A route to a watched prefix that is RPKI-invalid now: a warning state of the
/// prefix (networks that validate routes drop it), shown in the status. It opens
/// no event while the prefix stays visible.
#[derive(Clone, Debug, PartialEq)]
pub struct RpkiWarning {
    /// The route's prefix.
    pub prefix: IpNet,
    /// The watched prefix it concerns (itself, or the one it lies in).
    pub watched: IpNet,
    /// Its origin (None: an AS_SET).
    pub origin: Option<Asn>,
    /// The VRPs it is invalid against ("no VRP" when none covers the origin).
    pub against: String,
    /// Invalid since when.
    pub since: Timestamp,
}

impl RpkiWarning {
    /// One sentence for the status.
    pub fn text(&self) -> String {
        let origin = self
            .origin
            .map(|o| o.to_string())
            .unwrap_or_else(|| "an AS_SET".into());
        format!(
            "{} from {origin} is RPKI-invalid (against {}) since {}: networks that validate routes drop it",
            self.prefix, self.against, self.since
        )
    }
}

impl BgpDetector {
    /// A detector with nothing seen yet.
    pub fn new(config: DetectorConfig) -> Self {
        BgpDetector {
            config,
            prefixes: Vec::new(),
            entities: Vec::new(),
            book: EventBook::default(),
            dirty: BTreeSet::new(),
            wakes: BTreeSet::new(),
            recovering: BTreeSet::new(),
            return_expiries: BTreeSet::new(),
            rpki_warnings: BTreeMap::new(),
            tables_loading: BTreeSet::new(),
            last_at: Timestamp::EPOCH,
        }
    }

    fn track(&mut self, prefix: PrefixId) -> &mut PrefixTrack {
        let index = prefix.0 as usize;
        if self.prefixes.len() <= index {
            self.prefixes.resize(index + 1, PrefixTrack::default());
        }
        &mut self.prefixes[index]
    }

    fn entity(&mut self, entity: EntityIdx) -> &mut EntityTrack {
        let index = entity.0 as usize;
        if self.entities.len() <= index {
            self.entities.resize(index + 1, EntityTrack::default());
        }
        &mut self.entities[index]
    }

    fn entity_ref(&self, entity: EntityIdx) -> Option<&EntityTrack> {
        self.entities.get(entity.0 as usize)
    }

    /// Takes one change from the BGP state.
    pub fn observe(&mut self, change: &BgpChange, bgp: &BgpState) -> Vec<EventUpdate> {
        let at = change.at.max(self.last_at);
        self.last_at = at;
        let mut updates = Vec::new();
        match &change.kind {
            ChangeKind::Visibility {
                id,
                seen_by,
                of,
                previous,
                upstreams,
                ..
            } => {
                for member in bgp.members(*id) {
                    self.entity(*member).moved.extend(upstreams.iter().copied());
                }
                self.on_view(at, *id, *seen_by, *of, *previous, bgp, &mut updates)
            }
            ChangeKind::Denominator {
                family: fam,
                of,
                previous,
            } => {
                // Every share of every entity moved with the denominator.
                for index in 0..bgp.entities().len() {
                    let entity = EntityIdx(index as u32);
                    self.entity(entity).rescan = true;
                    self.dirty.insert(entity);
                }
                let ids: Vec<(PrefixId, u32)> = bgp
                    .tracked()
                    .filter(|(_, net)| family(net) == *fam)
                    .map(|(id, _)| (id, bgp.seen_by(id)))
                    .collect();
                for (id, seen) in ids {
                    let before = self.prefixes.get(id.0 as usize).map_or(seen, |t| t.seen);
                    // The visibility before the denominator changed, for the decline.
                    let was = if *previous == 0 { seen } else { before };
                    self.on_view(
                        at,
                        id,
                        seen,
                        *of,
                        scale(was, *previous, *of),
                        bgp,
                        &mut updates,
                    );
                }
            }
            ChangeKind::OriginAppeared {
                prefix,
                relation,
                origin,
                expected: false,
                as_path,
                peer,
            } if *relation != Relation::Covering => {
                let what = if *relation == Relation::MoreSpecific {
                    "a more-specific"
                } else {
                    "a prefix"
                };
                let (watched, name) = self.watched_for(prefix, bgp);
                let opening = Opening {
                    severity: Severity::Critical,
                    confidence: 0.7,
                    scope: Scope {
                        prefixes: vec![*prefix],
                        ..Scope::default()
                    },
                    summary: format!(
                        "{origin} announces {prefix}, {what} of {name}: a possible hijack"
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
                    Entity::Prefix(watched),
                    Cause::Hijack,
                    format!("{prefix}/{origin}"),
                );
                self.book.start(at, slot, opening, &mut updates);
            }
            ChangeKind::OriginGone {
                prefix,
                origin,
                expected: false,
            } => {
                let (watched, _) = self.watched_for(prefix, bgp);
                let slot = (
                    Entity::Prefix(watched),
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
            ChangeKind::Rpki {
                prefix,
                origin,
                state,
                vrps,
            } => self.on_rpki(at, *prefix, *origin, *state, vrps, bgp, &mut updates),
            _ => {}
        }
        updates
    }

    /// Weighs what changed since the last weigh: held recoveries are declared,
    /// and the upstreams of every entity that changed (or waits on time) are
    /// looked at. Call it once an instant's changes are all in, and as time passes.
    pub fn settle(&mut self, at: Timestamp, bgp: &BgpState) -> Vec<EventUpdate> {
        let at = at.max(self.last_at);
        self.last_at = at;
        let mut updates = Vec::new();
        self.declare_recoveries(at, bgp);
        self.expire_returns(at, bgp);
        let mut look: BTreeSet<EntityIdx> = std::mem::take(&mut self.dirty);
        while let Some((due, entity)) = self.wakes.first().copied() {
            if due > at {
                break;
            }
            self.wakes.pop_first();
            self.entity(entity).wake = None;
            look.insert(entity);
        }
        for entity in look {
            self.on_upstream_shares(at, entity, bgp, &mut updates);
            self.end_quiet_flap(at, entity, bgp, &mut updates);
            self.schedule_wake(at, entity, bgp);
        }
        updates
    }

    /// Works out when time alone may next change what a look at the entity says,
    /// and keeps it among the wakes (changes of its routes make it dirty anyway).
    /// Prefixes that stay below `visibility_up` wait on no time (a country always
    /// has some): only a decline that has yet to settle does. A wake that comes a
    /// little early only costs a look that finds nothing, and sets the next.
    fn schedule_wake(&mut self, at: Timestamp, entity: EntityIdx, bgp: &BgpState) {
        let t = &self.config.thresholds;
        let after = |since: Timestamp, secs: f64| {
            Timestamp::from_micros(since.as_micros() + (secs * 1e6) as i64)
        };
        let (settle, hold, window) = (
            t.cut_settle_secs,
            t.recovery_hold_secs as f64,
            t.flap_window_secs as f64,
        );
        let flap_open = self
            .book
            .is_open(&flap_slot(&bgp.entities()[entity.0 as usize].entity));
        let track = self.entity(entity);
        let mut due: Vec<Timestamp> = Vec::new();
        for asn in &track.timed {
            for carriage in &track.upstreams[asn] {
                if let Carriage::Returning { since, .. } = carriage {
                    due.push(after(*since, hold));
                }
            }
        }
        // A decline settling: the view is steady then (a loss waiting to be
        // judged waits on that, or on changes of the routes, which make the
        // entity dirty).
        if let Some((since, _)) = track.declines.last_key_value()
            && at.secs_since(*since) < settle
        {
            due.push(after(*since, settle));
        }
        if flap_open {
            // Quiet once more than a window has passed since the last return.
            let last = track.flap.last_return.or(track.last_return);
            due.push(last.map_or(at, |last| {
                Timestamp::from_micros(after(last, window).as_micros() + 1)
            }));
        }
        let wake = due.into_iter().min();
        if track.wake == wake {
            return;
        }
        if let Some(old) = track.wake.take() {
            self.wakes.remove(&(old, entity));
        }
        if let Some(wake) = wake {
            self.entity(entity).wake = Some(wake);
            self.wakes.insert((wake, entity));
        }
    }

    /// Ends the input: recoveries under way are declared at the moment the routes
    /// came back.
    pub fn finish(&mut self, bgp: &BgpState) -> Vec<EventUpdate> {
        let mut updates = Vec::new();
        for id in self.recovering.clone() {
            self.recovered(id, bgp);
        }
        for index in 0..self.entities.len() {
            // An upstream back for every family it was cut for: its cut ended
            // when the last of them came back.
            let returning: Vec<(Asn, Timestamp)> = self.entities[index]
                .upstreams
                .iter()
                .filter(|(_, c)| !c.iter().any(|c| matches!(c, Carriage::Cut { .. })))
                .filter_map(|(asn, c)| {
                    c.iter()
                        .filter_map(|c| match c {
                            Carriage::Returning { since, .. } => Some(*since),
                            _ => None,
                        })
                        .max()
                        .map(|since| (*asn, since))
                })
                .collect();
            for (asn, since) in returning {
                let track = &mut self.entities[index];
                let mut carriages = track.upstreams[&asn];
                for carriage in &mut carriages {
                    if matches!(carriage, Carriage::Returning { .. }) {
                        *carriage = Carriage::Carrying;
                    }
                }
                track.set_carriages(asn, carriages);
                let back = evidence(
                    since,
                    SignalKind::BgpUpstream,
                    format!(
                        "{} carries the routes again",
                        self.config.upstream_label(asn)
                    ),
                    None,
                );
                let slot = self.cut_slot(EntityIdx(index as u32), asn, bgp);
                self.book.end(&slot, since, Some(back), &mut updates);
            }
        }
        updates
    }

    /// Is a flapping of the entity open?
    pub fn flap_open(&self, entity: EntityIdx, bgp: &BgpState) -> bool {
        self.book
            .is_open(&flap_slot(&bgp.entities()[entity.0 as usize].entity))
    }

    /// The entity's flapping under way or the last one: its start, and its end
    /// once over.
    pub(crate) fn flap_span(
        &self,
        entity: EntityIdx,
        bgp: &BgpState,
    ) -> Option<(Timestamp, Option<Timestamp>)> {
        self.book
            .latest(&flap_slot(&bgp.entities()[entity.0 as usize].entity))
            .map(|event| (event.start, event.end))
    }

    /// Ends the entity's flapping because a loss that began at `loss` has lasted
    /// longer than a flap window: that is an outage of its own, and the flapping
    /// ended with the last return before it.
    pub(crate) fn end_flap(
        &mut self,
        entity: EntityIdx,
        loss: Timestamp,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let info = &bgp.entities()[entity.0 as usize];
        let slot = flap_slot(&info.entity);
        let end = self
            .entity_ref(entity)
            .and_then(|t| t.flap.last_return)
            .filter(|back| *back <= loss)
            .unwrap_or(loss);
        // Dated at the flapping's end, which it explains: the loss itself is the
        // outage's evidence, not the flapping's.
        let item = evidence(
            end,
            SignalKind::BgpVisibility,
            format!(
                "the routes of {} came back for the last time at {end}; they went away again at {loss} and stayed away longer than the flap window: an outage of its own, not a cycle of the flapping",
                info.name
            ),
            Some(0.0),
        );
        self.book.end(&slot, end, Some(item), updates);
    }

    /// Takes `first`, the network's event of the loss that turned out to be the
    /// first cycle of the flapping just opened, into the flapping: the flapping
    /// keeps its id and start (one event from the first loss on, as an analyst
    /// tells it) and its evidence. Returns the flapping as it now stands.
    pub(crate) fn adopt_into_flap(&mut self, entity: &Entity, first: Event) -> Option<Event> {
        let event = self.book.open.get_mut(&flap_slot(entity))?;
        let own = std::mem::take(&mut event.evidence);
        let note = evidence(
            first.start,
            SignalKind::BgpVisibility,
            format!(
                "the loss at {} first read as an outage ({}); it was the first cycle of this flapping",
                first.start, first.cause
            ),
            None,
        );
        let mut items: Vec<Evidence> = first.evidence;
        items.push(note);
        items.extend(own);
        items.sort_by_key(|e| e.at);
        // The flapping starts with the first loss, so that loss's evidence is its own.
        event.id = first.id;
        event.start = event.start.min(first.start);
        for item in items {
            crate::book::push_evidence(event, item);
        }
        Some(event.clone())
    }

    /// Adds evidence to the open event `id`, if it is one of these (see
    /// [`EventBook::add_evidence`]).
    pub(crate) fn add_evidence(
        &mut self,
        id: &EventId,
        evidence: Evidence,
        updates: &mut Vec<EventUpdate>,
    ) -> bool {
        self.book.add_evidence(id, evidence, updates)
    }

    /// The events open now.
    pub fn open_events(&self) -> impl Iterator<Item = &Event> {
        self.book.open.values()
    }

    /// The slot of an event this part opens, if `event` is one of them: a
    /// keyed slot is named from the event and checked against its id.
    pub(crate) fn slot_of(&self, event: &Event, bgp: &BgpState) -> Option<Slot> {
        let keyed = |key: String| {
            let slot = (event.entity.clone(), event.cause, key);
            crate::book::is_slot_event_id(&slot, event.start, &event.id).then_some(slot)
        };
        let watched = |prefix: &IpNet| bgp.prefix_id(prefix).is_some();
        match (&event.entity, event.cause) {
            (entity, Cause::Flap) if bgp.entity_index(entity).is_some() => Some(flap_slot(entity)),
            (Entity::Upstream(asn), Cause::UpstreamCut) => {
                // A cut keyed by no network is of the profile's single network, and
                // then of an upstream the profile names.
                let plain = (event.entity.clone(), Cause::UpstreamCut, String::new());
                if crate::book::is_slot_event_id(&plain, event.start, &event.id) {
                    return self.config.known_upstreams.contains(asn).then_some(plain);
                }
                bgp.entities()
                    .iter()
                    .find_map(|info| keyed(info.entity.to_string()))
            }
            (Entity::Prefix(prefix), Cause::RpkiInvalid) if watched(prefix) => {
                keyed(event.scope.prefixes.first()?.to_string())
            }
            (Entity::Prefix(prefix), Cause::Hijack) if watched(prefix) => {
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
    pub(crate) fn resume(&mut self, slot: Slot, event: Event, bgp: &BgpState) -> Option<Event> {
        let latest = event
            .evidence
            .iter()
            .map(|e| e.at)
            .max()
            .unwrap_or(event.start);
        match (&slot.0, slot.1) {
            (Entity::Upstream(asn), Cause::UpstreamCut) => {
                let owner = if slot.2.is_empty() {
                    self.single_network(bgp)
                } else {
                    slot.2
                        .parse()
                        .ok()
                        .and_then(|e: Entity| bgp.entity_index(&e))
                };
                if let Some(owner) = owner {
                    // The families the event names; one written before events
                    // named them is of every family the network has.
                    let prefixes = bgp.aggregates(owner).prefixes;
                    let families: Vec<usize> = if event.scope.families.is_empty() {
                        (0..2).filter(|fam| prefixes[*fam] > 0).collect()
                    } else {
                        event.scope.families.iter().map(|f| f.index()).collect()
                    };
                    let track = self.entity(owner);
                    let mut carriages = track
                        .upstreams
                        .get(asn)
                        .copied()
                        .unwrap_or([Carriage::Unknown; 2]);
                    for fam in families {
                        carriages[fam] = Carriage::Cut { since: event.start };
                    }
                    track.set_carriages(*asn, carriages);
                    // It carried the routes before the cut: its return is no news.
                    track.reported_new.insert(*asn);
                }
            }
            (Entity::Prefix(watched), Cause::RpkiInvalid) => {
                if let Some(id) = bgp.prefix_id(watched) {
                    for member in bgp.members(id).to_vec() {
                        self.entity(member).rpki_invalid.insert(*watched);
                    }
                }
            }
            (_, Cause::Flap) => {
                for prefix in &event.scope.prefixes {
                    if let Some(id) = bgp.prefix_id(prefix) {
                        self.track(id).returns.push_back((latest, latest));
                        let window = self.config.thresholds.flap_window_secs as i64;
                        self.return_expiries.insert((latest.add_secs(window), id));
                        self.prune_returns(latest, id, bgp);
                    }
                }
            }
            _ => {}
        }
        self.last_at = self.last_at.max(latest);
        self.book.resume(slot, event)
    }

    /// A tracked prefix the network's resumed event says is dark: down since `start`.
    pub(crate) fn seed_dark(&mut self, prefix: &IpNet, start: Timestamp, bgp: &BgpState) {
        if let Some(id) = bgp.prefix_id(prefix) {
            self.set_health(id, Health::Down { start }, bgp);
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
    pub fn into_events(self) -> Vec<Event> {
        self.book.into_events()
    }

    /// The entity's tracked prefixes that are dark now: down, back but not for
    /// long enough, or RPKI-invalid and below the `up` share (validating networks
    /// drop them while the others keep them).
    pub fn dark_prefixes(&self, entity: EntityIdx, bgp: &BgpState) -> Vec<DarkPrefix> {
        let Some(track) = self.entity_ref(entity) else {
            return Vec::new();
        };
        let up = self.config.thresholds.visibility_up;
        let mut dark: Vec<DarkPrefix> = track
            .dark
            .iter()
            .map(|(id, since)| {
                let prefix = bgp.prefix(*id);
                DarkPrefix {
                    prefix,
                    since: *since,
                    rpki_invalid: track.rpki_invalid.contains(&prefix),
                    origin: origin_of(*id, bgp),
                }
            })
            .collect();
        for prefix in &track.rpki_invalid {
            let Some(id) = bgp.prefix_id(prefix) else {
                continue;
            };
            if track.dark.contains_key(&id) || bgp.visibility(id) >= up {
                continue;
            }
            let since = match self.prefixes.get(id.0 as usize).map(|t| t.health) {
                Some(Health::Up { falling_since }) => falling_since.unwrap_or(self.last_at),
                _ => self.last_at,
            };
            dark.push(DarkPrefix {
                prefix: *prefix,
                since,
                rpki_invalid: true,
                origin: origin_of(id, bgp),
            });
        }
        dark.sort_by_key(|d| d.prefix);
        dark
    }

    /// How many of the entity's prefixes are dark now (down or not yet back).
    pub fn dark_count(&self, entity: EntityIdx) -> usize {
        self.entity_ref(entity).map_or(0, |t| t.dark.len())
    }

    /// The routes to watched prefixes that are RPKI-invalid now, in prefix order.
    pub fn rpki_warnings(&self) -> impl Iterator<Item = &RpkiWarning> {
        self.rpki_warnings.values()
    }

    /// The entity's watched prefixes whose routes are RPKI-invalid now.
    pub fn rpki_invalid_prefixes(&self, entity: EntityIdx) -> Vec<IpNet> {
        self.entity_ref(entity)
            .map(|t| t.rpki_invalid.iter().copied().collect())
            .unwrap_or_default()
    }

    /// A feed's table is still coming in, or no longer is. Did that change?
    pub fn set_table_loading(&mut self, feed: &str, loading: bool) -> bool {
        if loading {
            self.tables_loading.insert(feed.to_string())
        } else {
            self.tables_loading.remove(feed)
        }
    }

    /// Has any prefix of the entity been seen up yet? Before that, BGP has no opinion.
    pub fn has_baseline(&self, entity: EntityIdx) -> bool {
        self.entity_ref(entity).is_some_and(|t| t.known > 0)
    }

    /// The upstreams seen carrying the entity's routes, with their names, for
    /// summaries: the paths showed them, whatever the profile expects.
    pub fn carriers(&self, entity: EntityIdx) -> &[(Asn, String)] {
        self.entity_ref(entity).map_or(&[], |t| &t.carriers)
    }

    /// When the last of the entity's prefixes came back, if one did.
    pub fn last_return(&self, entity: EntityIdx) -> Option<Timestamp> {
        self.entity_ref(entity).and_then(|t| t.last_return)
    }

    /// The visibility of the entity now, for evidence: per prefix for a small
    /// entity, in counts for a large one.
    pub fn visibility_text(&self, entity: EntityIdx, bgp: &BgpState) -> String {
        let aggregates = bgp.aggregates(entity);
        if aggregates.prefix_count() <= PER_PREFIX_EVIDENCE {
            return bgp
                .prefixes_of(entity)
                .iter()
                .map(|id| format!("{} {:.0}%", bgp.prefix(*id), bgp.visibility(*id) * 100.0))
                .collect::<Vec<_>>()
                .join(", ");
        }
        let dark = self.dark_count(entity);
        format!(
            "{} of {} prefixes visible, {:.0}% on average",
            aggregates.prefix_count() as usize - dark,
            aggregates.prefix_count(),
            aggregates.visibility(bgp.denominators()).unwrap_or(0.0) * 100.0
        )
    }

    /// Evidence gathered for the entity's network event since the last call.
    pub fn take_network_evidence(&mut self, entity: EntityIdx) -> Vec<Evidence> {
        self.entity(entity).evidence.drain(..).collect()
    }

    /// Entities whose prefixes or paths changed since the last weigh.
    pub fn changed_entities(&self) -> &BTreeSet<EntityIdx> {
        &self.dirty
    }

    fn add_network_evidence(&mut self, entity: EntityIdx, item: Evidence) {
        let track = self.entity(entity);
        track.evidence.push_back(item);
        while track.evidence.len() > PENDING_EVIDENCE {
            track.evidence.pop_front();
        }
    }

    /// The single network of a profile with one, for events keyed without it.
    fn single_network(&self, bgp: &BgpState) -> Option<EntityIdx> {
        (bgp.entities().len() == 1).then_some(EntityIdx(0))
    }

    /// The slot of an upstream-cut: keyed by the network when the state tracks
    /// more than one, so that each network's cut is its own event.
    fn cut_slot(&self, entity: EntityIdx, upstream: Asn, bgp: &BgpState) -> Slot {
        let key = if bgp.entities().len() == 1 {
            String::new()
        } else {
            bgp.entities()[entity.0 as usize].entity.to_string()
        };
        (Entity::Upstream(upstream), Cause::UpstreamCut, key)
    }

    /// The watched prefix a route to `prefix` concerns (itself, or the one it lies
    /// in), and the name of that prefix's network.
    fn watched_for(&self, prefix: &IpNet, bgp: &BgpState) -> (IpNet, String) {
        let mut candidate = Some(*prefix);
        while let Some(net) = candidate {
            if let Some(id) = bgp.prefix_id(&net)
                && let Some(member) = bgp.members(id).first()
            {
                return (net, bgp.entities()[member.0 as usize].name.clone());
            }
            candidate = (net.prefix_len() > 0).then(|| net.supernet()).flatten();
        }
        let name = bgp
            .entities()
            .first()
            .map_or_else(|| "the network".to_string(), |e| e.name.clone());
        (*prefix, name)
    }

    fn describe_view(&self, prefix: &IpNet, bgp: &BgpState) -> String {
        let Some(view) = bgp.view(prefix) else {
            return prefix.to_string();
        };
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

    /// Moves a prefix to a new health, keeping its entities' counts.
    fn set_health(&mut self, id: PrefixId, health: Health, bgp: &BgpState) {
        let before = self.track(id).health;
        self.track(id).health = health;
        if matches!(health, Health::Recovering { .. }) {
            self.recovering.insert(id);
        } else {
            self.recovering.remove(&id);
        }
        let visibility = bgp.visibility(id);
        let up = self.config.thresholds.visibility_up;
        let fam = family(&bgp.prefix(id));
        for member in bgp.members(id).to_vec() {
            let track = self.entity(member);
            if before == Health::Unknown && health != Health::Unknown {
                track.known += 1;
            }
            match health {
                Health::Down { start } => {
                    track.dark.insert(id, start);
                    track.set_down(id, fam, true);
                    track.set_unsteady(id, None);
                }
                Health::Recovering { start, .. } => {
                    track.dark.insert(id, start);
                    track.set_down(id, fam, false);
                    track.set_unsteady(id, None);
                }
                Health::Up { falling_since } => {
                    track.dark.remove(&id);
                    track.set_down(id, fam, false);
                    let below = visibility < up;
                    if below || falling_since.is_some() {
                        track.set_unsteady(id, Some((below, falling_since)));
                    } else {
                        track.set_unsteady(id, None);
                    }
                }
                Health::Unknown => {}
            }
            self.dirty.insert(member);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_view(
        &mut self,
        at: Timestamp,
        id: PrefixId,
        seen_by: u32,
        of: u32,
        previous: u32,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let t = &self.config.thresholds;
        let (down, up, window) = (
            t.visibility_down,
            t.visibility_up,
            t.flap_window_secs as f64,
        );
        let visibility = blackout_bgp::share(seen_by, of);
        let previous_visibility = blackout_bgp::share(previous, of);
        let before = self.track(id).health;
        self.track(id).seen = seen_by;
        for member in bgp.members(id) {
            self.dirty.insert(*member);
        }
        // With no counted peer at all, BGP says nothing about the prefix.
        let health = if of == 0 {
            before
        } else {
            match before {
                Health::Unknown if visibility >= up => Health::Up {
                    falling_since: None,
                },
                Health::Unknown => Health::Unknown,
                Health::Up { falling_since } => {
                    // The fall starts at the first loss of the decline that leads to
                    // it, not at the crossing of a threshold; a rise ends a decline.
                    let falling_since = if visibility > previous_visibility {
                        None
                    } else if visibility < previous_visibility {
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
                    self.track(id).returns.push_back((start, at));
                    self.return_expiries
                        .insert((at.add_secs(window as i64), id));
                    self.tally_return(id, start, at, bgp);
                    Health::Recovering { start, since: at }
                }
                Health::Down { start } => Health::Down { start },
                // Back means staying at or above `visibility_up` for the whole hold.
                Health::Recovering { start, .. } if visibility < up => Health::Down { start },
                recovering @ Health::Recovering { .. } => recovering,
            }
        };
        self.set_health(id, health, bgp);
        self.prune_returns(at, id, bgp);
        let changed_state = std::mem::discriminant(&before) != std::mem::discriminant(&health);
        let down_now = matches!(health, Health::Down { .. });
        let first_sight = before == Health::Unknown;
        if first_sight || !(changed_state || down_now || visibility < up) {
            return;
        }
        let prefix = bgp.prefix(id);
        for member in bgp.members(id).to_vec() {
            // Large entities get their evidence in counts when their event opens:
            // a text per prefix and change would be most of the work of a full table.
            let item = (bgp.aggregates(member).prefix_count() <= PER_PREFIX_EVIDENCE).then(|| {
                evidence(
                    at,
                    SignalKind::BgpVisibility,
                    self.describe_view(&prefix, bgp),
                    Some(visibility),
                )
            });
            if let Some(item) = &item {
                self.add_network_evidence(member, item.clone());
            }
            self.check_flap(at, member, item, bgp, updates);
        }
    }

    /// Declares the recoveries that have held long enough.
    fn declare_recoveries(&mut self, at: Timestamp, bgp: &BgpState) {
        let hold = self.config.thresholds.recovery_hold_secs as f64;
        let held: Vec<PrefixId> = self
            .recovering
            .iter()
            .copied()
            .filter(|id| {
                matches!(self.prefixes[id.0 as usize].health,
                    Health::Recovering { since, .. } if at.secs_since(since) >= hold)
            })
            .collect();
        for id in held {
            self.recovered(id, bgp);
        }
    }

    /// A prefix whose return held: up again, and back since it came back.
    fn recovered(&mut self, id: PrefixId, bgp: &BgpState) {
        if let Health::Recovering { since, .. } = self.track(id).health {
            for member in bgp.members(id).to_vec() {
                let track = self.entity(member);
                track.last_return = Some(track.last_return.map_or(since, |t| t.max(since)));
            }
        }
        self.set_health(
            id,
            Health::Up {
                falling_since: None,
            },
            bgp,
        );
    }

    /// Is every prefix of the entity up, seen by at least `visibility_up` of the
    /// peers, and not in the middle of a decline (one that began less than
    /// `cut_settle_secs` ago)? Peers that reach the network only through a cut
    /// upstream lose it, so a cut lowers visibility a little; a total outage
    /// lowers it all the way within the settling time.
    fn all_up(&self, entity: EntityIdx, at: Timestamp) -> bool {
        let settle = self.config.thresholds.cut_settle_secs;
        self.entity_ref(entity).is_none_or(|track| {
            track.dark.is_empty()
                && track.unsteady_below == 0
                && track
                    .declines
                    .last_key_value()
                    .is_none_or(|(since, _)| at.secs_since(*since) >= settle)
        })
    }

    /// Looks at the upstreams of one entity whose shares may have moved: those
    /// whose paths changed in number since the last look (every one, after the
    /// denominators changed), and those followed (any that carried a real share,
    /// and the profile's). A country has thousands of upstreams and is looked at
    /// every instant one of its routes changes, so the cost of a look is that of
    /// what moved, never of all its upstreams.
    ///
    /// Each upstream is followed per family, on its share of that family's paths
    /// (kept by the BGP state route by route): an upstream that drops the IPv6
    /// routes and keeps the IPv4 ones is cut for IPv6 only. One event tells of an
    /// upstream's cut, whatever the families: a second family lost later revises
    /// it, and it ends once every family it names is carried again.
    fn on_upstream_shares(
        &mut self,
        at: Timestamp,
        entity: EntityIdx,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let t = self.config.thresholds.clone();
        let denominators = bgp.denominators();
        let aggregates = bgp.aggregates(entity);
        let share_of = |asn: Asn| aggregates.upstream_share(asn, denominators).unwrap_or(0.0);
        let family_share = |asn: Asn, fam: usize| {
            aggregates
                .family_upstream_share(asn, fam, denominators)
                .unwrap_or(0.0)
        };
        let dual = aggregates.prefixes.iter().all(|n| *n > 0);
        let network_name = bgp.entities()[entity.0 as usize].name.clone();
        let expected: Vec<Asn> = self.expected_upstreams(entity, bgp);
        self.entity(entity);
        let track = &mut self.entities[entity.0 as usize];
        let rescan = std::mem::take(&mut track.rescan);
        let moved: Vec<Asn> = if rescan {
            track.moved.clear();
            aggregates.upstreams.iter().map(|(a, _)| *a).collect()
        } else {
            std::mem::take(&mut track.moved).into_iter().collect()
        };
        let shares: Vec<(Asn, f64)> = moved.iter().map(|a| (*a, share_of(*a))).collect();
        for (asn, share) in &shares {
            if *share > 0.0
                && let Err(i) = track.carriers.binary_search_by_key(asn, |(a, _)| *a)
            {
                track
                    .carriers
                    .insert(i, (*asn, self.config.upstream_label(*asn)));
            }
        }
        let track = self.entity(entity);
        for asn in &expected {
            track
                .upstreams
                .entry(*asn)
                .or_insert([Carriage::Unknown; 2]);
        }
        // Any upstream with a real share of either family is followed from now on.
        for (asn, _) in &shares {
            if (0..2).any(|fam| family_share(*asn, fam) >= t.upstream_up) {
                track
                    .upstreams
                    .entry(*asn)
                    .or_insert([Carriage::Unknown; 2]);
            }
        }
        // Only a share that moved, or time, can change a machine: those of the
        // upstreams whose paths moved (every one after the denominators
        // changed), those waiting on time, and the profile's own. (A new prefix
        // of a global entity thins every share without a path moving: that is
        // no loss of any upstream, and is judged when the upstream's paths move.)
        let track = &self.entities[entity.0 as usize];
        let look: BTreeSet<Asn> = if rescan {
            track.upstreams.keys().copied().collect()
        } else {
            moved
                .iter()
                .chain(&track.timed)
                .chain(&expected)
                .copied()
                .filter(|asn| track.upstreams.contains_key(asn))
                .collect()
        };
        let machines: Vec<(Asn, [Carriage; 2])> = look
            .into_iter()
            .map(|asn| (asn, track.upstreams[&asn]))
            .collect();
        for (asn, carriages) in machines {
            let mut next = carriages;
            // The families whose return held in this look, with when they came back.
            let mut back: Vec<(usize, Timestamp, f64)> = Vec::new();
            for fam in 0..2 {
                let share = family_share(asn, fam);
                next[fam] = match carriages[fam] {
                    Carriage::Unknown | Carriage::Folded if share >= t.upstream_up => {
                        Carriage::Carrying
                    }
                    // The counted peers changed: a peer whose session went down took
                    // its paths along, one that came back has yet to send them. The
                    // share moved with the feed, not with the routes: nothing to judge
                    // until the upstream is seen carrying again.
                    Carriage::Carrying if share < t.upstream_down && rescan => Carriage::Unknown,
                    Carriage::Carrying if share < t.upstream_down => {
                        let text = format!(
                            "{} carries {:.0}% of {}paths, down from its baseline",
                            self.config.upstream_label(asn),
                            share * 100.0,
                            family_words(fam, dual)
                        );
                        self.add_network_evidence(
                            entity,
                            evidence(at, SignalKind::BgpUpstream, text, Some(share)),
                        );
                        Carriage::Pending { since: at }
                    }
                    Carriage::Cut { since } if share >= t.upstream_up => Carriage::Returning {
                        cut: since,
                        since: at,
                    },
                    Carriage::Returning { cut, .. } if share < t.upstream_down => {
                        Carriage::Cut { since: cut }
                    }
                    Carriage::Returning { since, .. }
                        if at.secs_since(since) >= t.recovery_hold_secs as f64 =>
                    {
                        back.push((fam, since, share));
                        Carriage::Carrying
                    }
                    other => other,
                };
            }
            if next != carriages {
                self.entity(entity).set_carriages(asn, next);
            }
            if back.is_empty() {
                continue;
            }
            let label = self.config.upstream_label(asn);
            let slot = self.cut_slot(entity, asn, bgp);
            let items: Vec<Evidence> = back
                .iter()
                .map(|(fam, since, share)| {
                    let text = format!(
                        "{label} carries the {}routes again ({:.0}% of {}paths)",
                        family_words(*fam, dual),
                        share * 100.0,
                        family_words(*fam, dual),
                    );
                    evidence(*since, SignalKind::BgpUpstream, text, Some(*share))
                })
                .collect();
            if next.iter().any(|c| c.is_cut()) {
                // Another family is still cut: the event goes on, and says which
                // family came back.
                for item in items {
                    self.book.note(&slot, item);
                }
            } else {
                let end = back.iter().map(|(_, since, _)| *since).max().unwrap_or(at);
                self.book.end(&slot, end, items, updates);
            }
        }
        // Decide pending losses: a cut if another upstream carries that family's
        // routes over a steady view; folded into the outage if the family is dark.
        let track = self.entity(entity);
        let pending: Vec<(Asn, usize, Timestamp)> = track
            .timed
            .iter()
            .map(|asn| (asn, &track.upstreams[asn]))
            .flat_map(|(asn, carriages)| {
                carriages
                    .iter()
                    .enumerate()
                    .filter_map(move |(fam, c)| match c {
                        Carriage::Pending { since } => Some((*asn, fam, *since)),
                        _ => None,
                    })
            })
            .collect();
        let mut cuts: BTreeMap<Asn, Vec<(usize, Timestamp)>> = BTreeMap::new();
        for (asn, fam, since) in pending {
            if family_share(asn, fam) >= t.upstream_up {
                self.set_carriage(entity, asn, fam, Carriage::Carrying);
                continue;
            }
            if self.family_dark(entity, fam, bgp) {
                self.set_carriage(entity, asn, fam, Carriage::Folded);
                continue;
            }
            if !self.all_up(entity, at) {
                continue;
            }
            // Every upstream with a real share is followed: the carriers are among them.
            let carried = self
                .entity(entity)
                .upstreams
                .keys()
                .any(|other| *other != asn && family_share(*other, fam) >= t.upstream_up);
            if carried {
                cuts.entry(asn).or_default().push((fam, since));
            }
        }
        for (asn, families) in cuts {
            self.open_cut(at, entity, asn, &families, bgp, updates);
        }
        self.check_new_upstreams(at, entity, &shares, &network_name, bgp, updates);
    }

    fn set_carriage(&mut self, entity: EntityIdx, asn: Asn, fam: usize, carriage: Carriage) {
        let track = self.entity(entity);
        let mut carriages = track
            .upstreams
            .get(&asn)
            .copied()
            .unwrap_or([Carriage::Unknown; 2]);
        carriages[fam] = carriage;
        track.set_carriages(asn, carriages);
    }

    /// Is every prefix of family `fam` of the entity down (the family's routes
    /// are gone from every upstream, not from one)?
    fn family_dark(&self, entity: EntityIdx, fam: usize, bgp: &BgpState) -> bool {
        let prefixes = bgp.aggregates(entity).prefixes[fam];
        self.entity_ref(entity)
            .is_some_and(|t| prefixes > 0 && t.down_per_family[fam] >= prefixes)
    }

    /// `asn` no longer carries the routes of family `families` (each with the
    /// start of its loss) while other upstreams do: opens the upstream's cut,
    /// or, if it is cut for the other family already, revises that event to
    /// name both.
    fn open_cut(
        &mut self,
        at: Timestamp,
        entity: EntityIdx,
        asn: Asn,
        families: &[(usize, Timestamp)],
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let up = self.config.thresholds.upstream_up;
        let denominators = bgp.denominators();
        let aggregates = bgp.aggregates(entity);
        let dual = aggregates.prefixes.iter().all(|n| *n > 0);
        let network_name = &bgp.entities()[entity.0 as usize].name;
        for (fam, since) in families {
            self.set_carriage(entity, asn, *fam, Carriage::Cut { since: *since });
        }
        let carriages = self.entity(entity).upstreams[&asn];
        let cut: Vec<usize> = (0..2).filter(|fam| carriages[*fam].is_cut()).collect();
        let whole = !dual || cut.len() == 2;
        // The others that carry the routes it lost: of the families cut, each
        // with its share of those families' paths.
        let share_of = |other: Asn| -> f64 {
            if whole {
                aggregates
                    .upstream_share(other, denominators)
                    .unwrap_or(0.0)
            } else {
                aggregates
                    .family_upstream_share(other, cut[0], denominators)
                    .unwrap_or(0.0)
            }
        };
        let carriers: Vec<(Asn, f64)> = self.entities[entity.0 as usize]
            .upstreams
            .keys()
            .filter(|other| **other != asn)
            .filter(|other| {
                cut.iter().any(|fam| {
                    aggregates
                        .family_upstream_share(**other, *fam, denominators)
                        .unwrap_or(0.0)
                        >= up
                })
            })
            .map(|other| (*other, share_of(*other)))
            .collect();
        let paths = if whole {
            String::new()
        } else {
            family_words(cut[0], true)
        };
        let others: Vec<String> = carriers
            .iter()
            .map(|(a, s)| {
                format!(
                    "{} ({:.0}% of {paths}paths)",
                    self.config.upstream_label(*a),
                    s * 100.0
                )
            })
            .collect();
        let others = others.join(", ");
        let label = self.config.upstream_label(asn);
        let summary = if !dual {
            format!("{label} no longer carries the routes of {network_name}; {others} still does")
        } else if whole {
            format!(
                "{label} no longer carries the routes of {network_name}, IPv4 or IPv6; {others} still does"
            )
        } else {
            let (lost, kept) = (Family::ALL[cut[0]], Family::ALL[1 - cut[0]]);
            let still = if carriages[kept.index()] == Carriage::Carrying {
                format!("; it still carries the {} routes", kept.label())
            } else {
                String::new()
            };
            format!(
                "{label} no longer carries the {} routes of {network_name}{still}, and {others} carries the {} ones",
                lost.label(),
                lost.label()
            )
        };
        let scope_families: Vec<Family> = cut.iter().map(|fam| Family::ALL[*fam]).collect();
        let prefixes: Vec<IpNet> = self
            .scope_prefixes(entity, bgp)
            .into_iter()
            .filter(|p| cut.contains(&family(p)))
            .collect();
        let upstreams: Vec<Asn> = std::iter::once(asn)
            .chain(carriers.iter().map(|(a, _)| *a))
            .collect();
        let mut items: Vec<Evidence> = families
            .iter()
            .map(|(fam, since)| {
                evidence(
                    *since,
                    SignalKind::BgpUpstream,
                    format!("{label} {}paths gone", family_words(*fam, dual)),
                    Some(
                        aggregates
                            .family_upstream_share(asn, *fam, denominators)
                            .unwrap_or(0.0),
                    ),
                )
            })
            .collect();
        // The value: the share of paths the other upstreams carry between them.
        let carried: f64 = carriers.iter().map(|(_, share)| share).sum();
        items.push(evidence(
            at,
            SignalKind::BgpUpstream,
            format!("routes carried by {others}"),
            Some(carried.min(1.0)),
        ));
        items.push(peers_evidence(at, denominators));
        let slot = self.cut_slot(entity, asn, bgp);
        if self.book.is_open(&slot) {
            self.book.revise(&slot, updates, |event| {
                event.summary = summary;
                event.scope.families = scope_families;
                for prefix in prefixes {
                    if !event.scope.prefixes.contains(&prefix) {
                        event.scope.prefixes.push(prefix);
                    }
                }
                event.scope.prefixes.sort();
                for upstream in upstreams {
                    if !event.scope.upstreams.contains(&upstream) {
                        event.scope.upstreams.push(upstream);
                    }
                }
                for item in items {
                    crate::book::push_evidence(event, item);
                }
            });
            return;
        }
        let start = families.iter().map(|(_, since)| *since).min().unwrap_or(at);
        let opening = Opening {
            severity: Severity::Warning,
            confidence: 0.85 * peer_weight(denominators),
            scope: Scope {
                prefixes,
                upstreams,
                families: scope_families,
                ..Scope::default()
            },
            summary,
            evidence: items,
        };
        self.book.start(start, slot, opening, updates);
    }

    /// The profile's expected upstreams, followed for every network of a profile.
    fn expected_upstreams(&self, entity: EntityIdx, bgp: &BgpState) -> Vec<Asn> {
        match bgp.entities()[entity.0 as usize].role {
            blackout_bgp::EntityRole::Network | blackout_bgp::EntityRole::Whole => {
                self.config.upstreams.iter().map(|(a, _)| *a).collect()
            }
            _ => Vec::new(),
        }
    }

    /// The prefixes an event of the entity names: all of a small entity's, none
    /// of a large one's (its summary gives the counts).
    fn scope_prefixes(&self, entity: EntityIdx, bgp: &BgpState) -> Vec<IpNet> {
        if bgp.aggregates(entity).prefix_count() > PER_PREFIX_EVIDENCE {
            return Vec::new();
        }
        bgp.prefixes_of(entity)
            .iter()
            .map(|id| bgp.prefix(*id))
            .collect()
    }

    /// An upstream that carried nothing when the entity was first seen up and now
    /// carries a real share of the paths is news, named by the profile or not:
    /// the first time it carries the routes in the data. `shares` are those of the
    /// upstreams that moved since the last look: only they can have come to carry.
    fn check_new_upstreams(
        &mut self,
        at: Timestamp,
        entity: EntityIdx,
        shares: &[(Asn, f64)],
        network_name: &str,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let threshold = self.config.thresholds.upstream_up;
        let seen_up = self.has_baseline(entity);
        let steady = seen_up && self.tables_loading.is_empty() && self.all_up(entity, at);
        let track = self.entity(entity);
        let Some(baseline) = &mut track.baseline_upstreams else {
            if seen_up {
                let all = &bgp.aggregates(entity).upstreams;
                track.baseline_upstreams = Some(all.iter().map(|(a, _)| *a).collect());
            }
            return;
        };
        if !track.baseline_settled {
            if !steady {
                baseline.extend(shares.iter().map(|(a, _)| *a));
                return;
            }
            track.baseline_settled = true;
        }
        let baseline = &*baseline;
        let new: Vec<(Asn, f64)> = shares
            .iter()
            .filter(|(asn, share)| {
                *share >= threshold && !baseline.contains(asn) && !track.reported_new.contains(asn)
            })
            .map(|(a, s)| (*a, *s))
            .collect();
        for (asn, share) in new {
            self.entity(entity).reported_new.insert(asn);
            let known = self.config.upstreams.iter().any(|(a, _)| *a == asn)
                || self.config.known_upstreams.contains(&asn);
            let opening = Opening {
                severity: Severity::Warning,
                confidence: 0.9 * peer_weight(bgp.denominators()),
                scope: Scope {
                    prefixes: self.scope_prefixes(entity, bgp),
                    upstreams: vec![asn],
                    ..Scope::default()
                },
                summary: format!(
                    "{} now carries {:.0}% of the paths to {network_name}: a new upstream{}",
                    self.config.upstream_label(asn),
                    share * 100.0,
                    if known {
                        " (the profile names it, but it had not carried the routes before)"
                    } else {
                        ""
                    }
                ),
                evidence: vec![
                    evidence(
                        at,
                        SignalKind::BgpUpstream,
                        format!(
                            "{asn} seen as the AS before the origin on {:.0}% of full-feed paths, where it carried none before",
                            share * 100.0
                        ),
                        Some(share),
                    ),
                    peers_evidence(at, bgp.denominators()),
                ],
            };
            let key = if bgp.entities().len() == 1 {
                String::new()
            } else {
                bgp.entities()[entity.0 as usize].entity.to_string()
            };
            let slot: Slot = (Entity::Upstream(asn), Cause::NewUpstream, key);
            self.book.start(at, slot.clone(), opening, updates);
            // A change, not an outage: the event is a moment.
            self.book.end(&slot, at, None, updates);
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn on_rpki(
        &mut self,
        at: Timestamp,
        prefix: IpNet,
        origin: Option<Asn>,
        state: RpkiState,
        vrps: &[String],
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let (watched, _) = self.watched_for(&prefix, bgp);
        let members: Vec<EntityIdx> = bgp
            .prefix_id(&watched)
            .map(|id| bgp.members(id).to_vec())
            .unwrap_or_default();
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
                for member in &members {
                    self.entity(*member).rpki_invalid.insert(watched);
                }
                let against = if vrps.is_empty() {
                    "no VRP".to_string()
                } else {
                    vrps.join(", ")
                };
                let item = evidence(
                    at,
                    SignalKind::BgpRpki,
                    format!("{prefix} origin {origin_text}: invalid against {against}"),
                    Some(0.0),
                );
                for member in &members {
                    self.add_network_evidence(*member, item.clone());
                }
                // A warning state, not an event: while the route stays visible
                // nothing is out; the network's event says so if it loses
                // visibility while invalid.
                let since = self.rpki_warnings.get(&prefix).map_or(at, |w| w.since);
                self.rpki_warnings.insert(
                    prefix,
                    RpkiWarning {
                        prefix,
                        watched,
                        origin,
                        against,
                        since,
                    },
                );
            }
            RpkiState::Valid | RpkiState::NotFound => {
                for member in &members {
                    self.entity(*member).rpki_invalid.remove(&watched);
                }
                self.rpki_warnings.remove(&prefix);
                // An event of a prefix's own is only one resumed from an older
                // blackout, which opened them; it ends here.
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

    /// How many of the entity's prefixes must flap (or have come back within the
    /// window) for the entity itself to flap: one of a small network, the
    /// `partial_share` of a large one (a country's one flapping prefix in
    /// thousands is that prefix's trouble, not the country's).
    fn flap_quorum(&self, entity: EntityIdx, bgp: &BgpState) -> usize {
        let prefixes = bgp.aggregates(entity).prefix_count() as f64;
        ((self.config.thresholds.partial_share * prefixes).ceil() as usize).max(1)
    }

    /// Are enough of the entity's prefixes coming back from losses within the
    /// flap window that a loss now may be one cycle of a flapping?
    pub fn flap_forming(&self, entity: EntityIdx, bgp: &BgpState) -> bool {
        self.entity_ref(entity)
            .is_some_and(|t| t.returned.len() >= self.flap_quorum(entity, bgp))
    }

    /// Drops a prefix's returns that have left the flap window, and keeps its
    /// entities' counts of returned and flapping prefixes.
    fn prune_returns(&mut self, at: Timestamp, id: PrefixId, bgp: &BgpState) {
        let window = self.config.thresholds.flap_window_secs as f64;
        let count = self.config.thresholds.flap_count as usize;
        let track = self.track(id);
        while track
            .returns
            .front()
            .is_some_and(|(_, back)| at.secs_since(*back) > window)
        {
            track.returns.pop_front();
        }
        let returned = !track.returns.is_empty();
        let flapping = track.returns.len() >= count.max(1);
        if (returned, flapping) == (track.returned, track.flapping) {
            return;
        }
        track.returned = returned;
        track.flapping = flapping;
        for member in bgp.members(id).to_vec() {
            let entity = self.entity(member);
            if returned {
                entity.returned.insert(id);
            } else {
                entity.returned.remove(&id);
            }
            if flapping {
                entity.flapping.insert(id);
            } else {
                entity.flapping.remove(&id);
            }
            self.dirty.insert(member);
        }
    }

    /// Ages out the returns that left the flap window by `at`.
    fn expire_returns(&mut self, at: Timestamp, bgp: &BgpState) {
        while let Some(&(expiry, id)) = self.return_expiries.first() {
            if expiry >= at {
                break;
            }
            self.return_expiries.pop_first();
            self.prune_returns(at, id, bgp);
        }
    }

    fn check_flap(
        &mut self,
        at: Timestamp,
        entity: EntityIdx,
        item: Option<Evidence>,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let info = &bgp.entities()[entity.0 as usize];
        let slot = flap_slot(&info.entity);
        if self.book.is_open(&slot) {
            if let Some(item) = item {
                self.book.note(&slot, item);
            }
            return;
        }
        let Some(track) = self.entity_ref(entity) else {
            return;
        };
        if track.flapping.is_empty() || track.flapping.len() < self.flap_quorum(entity, bgp) {
            return;
        }
        let small = bgp.aggregates(entity).prefix_count() <= PER_PREFIX_EVIDENCE;
        // Every flapping prefix is counted, and with them, in a small entity,
        // every prefix down or back within the window (it flapped with them).
        let mut flapped: BTreeSet<PrefixId> = track.flapping.clone();
        if small {
            flapped.extend(track.dark.keys().copied());
        }
        let mut tally = FlapTally::default();
        for id in &flapped {
            let fam = family(&bgp.prefix(*id));
            for (down, back) in &self.prefixes[id.0 as usize].returns {
                tally.add(*id, fam, *down, *back);
            }
        }
        // Flapping began with the first withdrawal of the cycles in the window.
        let first = tally.first_loss.unwrap_or(at);
        let dual = bgp.aggregates(entity).prefixes.iter().all(|n| *n > 0);
        let summary = tally.summary(&info.name, dual);
        let families = tally.scope_families();
        let item = item.unwrap_or_else(|| {
            evidence(
                at,
                SignalKind::BgpVisibility,
                format!(
                    "{} of {} prefixes of {} lost and came back {} times or more within {}",
                    track.flapping.len(),
                    bgp.aggregates(entity).prefix_count(),
                    info.name,
                    self.config.thresholds.flap_count,
                    human_duration(self.config.thresholds.flap_window_secs as f64)
                ),
                Some(track.flapping.len() as f64),
            )
        });
        let prefixes: Vec<IpNet> = tally
            .returns
            .keys()
            .take(PER_PREFIX_EVIDENCE as usize)
            .map(|id| bgp.prefix(*id))
            .collect();
        self.entity(entity).flap = tally;
        let opening = Opening {
            severity: Severity::Warning,
            confidence: 0.8,
            scope: Scope {
                prefixes,
                families,
                ..Scope::default()
            },
            summary,
            evidence: vec![item],
        };
        self.book.start(first, slot, opening, updates);
        self.dirty.insert(entity);
    }

    /// Counts a prefix's return in the flapping open on each entity it belongs to,
    /// and says so in the event's summary and scope (quietly: the count is news
    /// when the flapping ends).
    fn tally_return(&mut self, id: PrefixId, down: Timestamp, back: Timestamp, bgp: &BgpState) {
        let net = bgp.prefix(id);
        let fam = family(&net);
        for member in bgp.members(id).to_vec() {
            let info = &bgp.entities()[member.0 as usize];
            let slot = flap_slot(&info.entity);
            if !self.book.is_open(&slot) {
                continue;
            }
            let dual = bgp.aggregates(member).prefixes.iter().all(|n| *n > 0);
            let track = self.entity(member);
            track.flap.add(id, fam, down, back);
            let Some(event) = self.book.open.get_mut(&slot) else {
                continue;
            };
            let track = &self.entities[member.0 as usize];
            event.summary = track.flap.summary(&info.name, dual);
            event.scope.families = track.flap.scope_families();
            if track.flap.returns.len() <= PER_PREFIX_EVIDENCE as usize
                && !event.scope.prefixes.contains(&net)
            {
                event.scope.prefixes.push(net);
            }
        }
    }

    /// Ends flapping once the routes have stayed put for a whole window.
    fn end_quiet_flap(
        &mut self,
        at: Timestamp,
        entity: EntityIdx,
        bgp: &BgpState,
        updates: &mut Vec<EventUpdate>,
    ) {
        let slot = flap_slot(&bgp.entities()[entity.0 as usize].entity);
        if !self.book.is_open(&slot) {
            return;
        }
        let window = self.config.thresholds.flap_window_secs as f64;
        let Some(track) = self.entity_ref(entity) else {
            return;
        };
        // The prefixes that flapped, and when the last of them came back: other
        // prefixes of a large entity come and go on their own.
        let last = track.flap.last_return.or(track.last_return);
        let quiet = last.is_none_or(|last| at.secs_since(last) > window);
        if quiet
            && track
                .flap
                .returns
                .keys()
                .all(|id| !track.dark.contains_key(id))
        {
            self.book.end(&slot, last.unwrap_or(at), None, updates);
        }
    }
}

/// The origin AS of a tracked prefix: that of the network or origin AS entity
/// it counts for.
fn origin_of(id: PrefixId, bgp: &BgpState) -> Option<Asn> {
    bgp.members(id).iter().find_map(|member| {
        let info = &bgp.entities()[member.0 as usize];
        match info.role {
            blackout_bgp::EntityRole::Network | blackout_bgp::EntityRole::Origin => {
                info.origins.first().copied()
            }
            _ => None,
        }
    })
}

fn flap_slot(entity: &Entity) -> Slot {
    (entity.clone(), Cause::Flap, String::new())
}

/// `count` counted peers out of `before`, seen again out of `after`: the same
/// share (rounded down), for a decline measured across a change of denominator.
fn scale(count: u32, before: u32, after: u32) -> u32 {
    if before == 0 {
        return count;
    }
    ((u64::from(count) * u64::from(after)) / u64::from(before)) as u32
}

/// How much a verdict from routes can be trusted, by the full-feed peers it rests
/// on: one peer's withdrawal is a hint, five or more agreeing are a fact.
pub fn peer_weight(denominators: [u32; 2]) -> f64 {
    match denominators[0].max(denominators[1]) {
        0 => 0.0,
        1 => 0.35,
        2 => 0.55,
        3 => 0.7,
        4 => 0.85,
        _ => 1.0,
    }
}

/// Evidence of how many full-feed peers a verdict rests on.
pub fn peers_evidence(at: Timestamp, denominators: [u32; 2]) -> Evidence {
    let [v4, v6] = denominators;
    let text = match (v4, v6) {
        (n, 0) => format!(
            "the routes seen by {n} full-feed peer{}",
            if n == 1 { "" } else { "s" }
        ),
        (0, n) => format!(
            "the routes seen by {n} IPv6 full-feed peer{}",
            if n == 1 { "" } else { "s" }
        ),
        (a, b) => format!("the routes seen by {a} IPv4 and {b} IPv6 full-feed peers"),
    };
    evidence(
        at,
        SignalKind::BgpVisibility,
        format!("verdict rests on {text}"),
        Some(f64::from(v4.max(v6))),
    )
}

fn evidence(at: Timestamp, signal: SignalKind, text: String, value: Option<f64>) -> Evidence {
    Evidence {
        at,
        signal,
        text,
        value,
    }
}
