//! The events a detector has open and closed, and the one way they start, change and end.
//!
//! After a restart, the events still open in the database are taken up again
//! ([`EventBook::resume`]) and *held* through the detector's first look: the
//! state machines start from what the events say, but with little fresh
//! evidence, so a held event is neither revised nor ended until the first look
//! is over ([`EventBook::release`]). What the detector sees meanwhile is kept: a
//! rule that finds the trouble again confirms the event (it goes on, with its id),
//! an end called for is kept and carried out at the release, with a note that
//! the event ended while blackout was not watching.
//!
//! An event's evidence is the record of its own incident: every item lies within
//! the event's start and end. What was seen before the start (a cut healed
//! minutes earlier) is not let in, and neither is what was weighed after the end
//! it was given: an end is often dated back (to the first answer of the return,
//! to the moment the routes began to come back), and what was noted while the
//! return was held for confirmation is dropped when the event ends. What
//! explains a start is dated at the start.

pub(crate) use blackout_model::human_duration;
use blackout_model::{
    Cause, Entity, Event, EventId, EventUpdate, Evidence, Scope, Severity, SignalKind, Timestamp,
};
use std::collections::{BTreeMap, BTreeSet};

/// Evidence kept per event; past this, the kind of signal with the most items
/// gives up the middle one (see [`make_room`]).
pub(crate) const MAX_EVIDENCE: usize = 64;

/// Which event: the entity, the cause it opened with, and a key that tells apart
/// events of one entity and cause (a hijacking origin, an RPKI-invalid prefix).
pub(crate) type Slot = (Entity, Cause, String);

/// The id of the event of `slot` that started at `start`. A keyed slot's id is
/// derived from the entity and the key together, so that two events of one entity
/// and cause (two hijacking origins) never share one.
pub(crate) fn slot_event_id(slot: &Slot, start: Timestamp) -> EventId {
    let (entity, cause, key) = slot;
    if key.is_empty() {
        return EventId::derive(entity, start, *cause);
    }
    let id_entity = Entity::Service {
        kind: cause.to_string(),
        name: format!("{entity}/{key}"),
    };
    EventId::derive(&id_entity, start, *cause)
}

/// Whether `id` is the id of the event of `slot` that started at `start`: the
/// derived one, or one that [`EventBook`] set apart from an earlier twin (`-2`…).
pub(crate) fn is_slot_event_id(slot: &Slot, start: Timestamp, id: &EventId) -> bool {
    let derived = slot_event_id(slot, start);
    match id.0.strip_prefix(derived.0.as_str()) {
        Some("") => true,
        Some(rest) => rest
            .strip_prefix('-')
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit())),
        None => false,
    }
}

/// What an event opens with.
pub(crate) struct Opening {
    pub(crate) severity: Severity,
    pub(crate) confidence: f64,
    pub(crate) scope: Scope,
    pub(crate) summary: String,
    pub(crate) evidence: Vec<Evidence>,
}

/// What the first look after a restart has seen of a resumed event.
enum Held {
    /// Nothing yet.
    Untouched,
    /// The trouble was seen again.
    Confirmed,
    /// The detector called for its end (the first such call), held back.
    Ending(Timestamp, Vec<Evidence>),
}

/// Open and closed events.
#[derive(Default)]
pub(crate) struct EventBook {
    pub(crate) open: BTreeMap<Slot, Event>,
    /// Closed events by id (ids are unique in a book), so that one that reopens
    /// or is taken into another is found by a lookup, not a search of them all.
    pub(crate) closed: BTreeMap<EventId, Event>,
    /// Resumed events, during the first look after a restart.
    held: BTreeMap<Slot, Held>,
    /// The last event each slot closed, and when it ended: an event of the slot
    /// that starts no later than that continues it.
    last_closed: BTreeMap<Slot, (EventId, Timestamp)>,
    /// Every id this book has given out or taken up: an event that absorbed
    /// another keeps its id under another slot, and a later event of the first
    /// slot, dated back to the same start, must not get it again.
    issued: BTreeSet<EventId>,
    /// Open events changed without a word yet ([`EventBook::revise_later`]), by
    /// slot: the event's id, and since when its change waits.
    unsaid: BTreeMap<Slot, (EventId, Timestamp)>,
}

/// What [`EventBook::end`] appends to a summary, taken off again when the event reopens.
const BACK_AFTER: &str = ". Back after ";

impl EventBook {
    pub(crate) fn is_open(&self, slot: &Slot) -> bool {
        self.open.contains_key(slot)
    }

    /// Takes up an event that was open when blackout last stopped, held until
    /// [`EventBook::release`]. Returns the event, back, if its slot is taken.
    pub(crate) fn resume(&mut self, slot: Slot, event: Event) -> Option<Event> {
        if self.open.contains_key(&slot) {
            return Some(event);
        }
        self.held.insert(slot.clone(), Held::Untouched);
        self.issued.insert(event.id.clone());
        self.open.insert(slot, event);
        None
    }

    /// The trouble of a resumed event was seen again: it goes on, and an end
    /// called for before is forgotten. Does nothing to an event not held.
    pub(crate) fn confirm(&mut self, slot: &Slot) {
        if let Some(held) = self.held.get_mut(slot) {
            *held = Held::Confirmed;
        }
    }

    /// Ends the first look: a held event whose end was called for ends now, one
    /// that nothing said anything about ends at `resumed_at` unless `keep` says
    /// its own state machine will tell (both with a note that it ended while
    /// blackout was not watching), and the rest go on, with a note of the gap.
    pub(crate) fn release(
        &mut self,
        resumed_at: Timestamp,
        keep: impl Fn(&Slot) -> bool,
        updates: &mut Vec<EventUpdate>,
    ) {
        for (slot, held) in std::mem::take(&mut self.held) {
            let Some(event) = self.open.get_mut(&slot) else {
                continue;
            };
            let signal = event
                .evidence
                .last()
                .map(|e| e.signal)
                .unwrap_or(SignalKind::Vantage);
            let end = match held {
                Held::Ending(end, evidence) => Some((end, evidence)),
                Held::Untouched if !keep(&slot) => Some((resumed_at, Vec::new())),
                Held::Untouched | Held::Confirmed => None,
            };
            let at = resumed_at.format_utc("%Y-%m-%d %H:%M:%S UTC");
            match end {
                Some((end, evidence)) => {
                    event.summary = format!(
                        "{} (it ended while blackout was not watching: the first look after the restart at {at} found it over)",
                        event.summary
                    );
                    // The note explains the end, so it is dated no later than it.
                    let note = Evidence {
                        at: resumed_at.min(end),
                        signal,
                        text: format!(
                            "blackout stopped while this went on; the first look after it restarted at {at} found it over, so it ended while blackout was not watching or as it came back"
                        ),
                        value: None,
                    };
                    push_evidence(event, note);
                    self.end(&slot, end, evidence, updates);
                }
                None => {
                    let note = Evidence {
                        at: resumed_at,
                        signal,
                        text: format!(
                            "blackout restarted at {at} and took this event up again: it goes on"
                        ),
                        value: None,
                    };
                    self.revise(&slot, updates, |event| push_evidence(event, note));
                }
            }
        }
    }

    /// Opens an event that started at `start` (which may lie before the signal
    /// that revealed it), unless the same one is open.
    pub(crate) fn start(
        &mut self,
        start: Timestamp,
        slot: Slot,
        opening: Opening,
        updates: &mut Vec<EventUpdate>,
    ) {
        let cause = slot.1;
        self.start_as(start, slot, cause, opening, updates);
    }

    /// Like [`EventBook::start`], for an event whose cause is not the one its slot
    /// is named after (the network's event keeps one slot while its cause changes).
    pub(crate) fn start_as(
        &mut self,
        start: Timestamp,
        slot: Slot,
        event_cause: Cause,
        opening: Opening,
        updates: &mut Vec<EventUpdate>,
    ) {
        if self.open.contains_key(&slot) {
            self.confirm(&slot);
            return;
        }
        let id = slot_event_id(&slot, start);
        // The same trouble back within the same event (it ended, then the evidence
        // changed its mind), or back the very second its last event of this slot
        // ended (two outages that touch in time are one to a reader): reopen it
        // rather than make a twin.
        let touching = self
            .last_closed
            .get(&slot)
            .filter(|(_, end)| *end >= start)
            .map(|(id, _)| id.clone());
        let reopen = [Some(id.clone()), touching]
            .into_iter()
            .flatten()
            .find_map(|id| self.closed.remove(&id));
        if let Some(mut event) = reopen {
            self.last_closed.remove(&slot);
            event.end = None;
            if let Some(cut) = event.summary.rfind(BACK_AFTER) {
                event.summary.truncate(cut);
            }
            event.cause = event_cause;
            for item in opening.evidence {
                push_evidence(&mut event, item);
            }
            updates.push(EventUpdate::revised(event.clone()));
            self.open.insert(slot, event);
            return;
        }
        let id = self.unused(id);
        let mut event = Event {
            id,
            entity: slot.0.clone(),
            cause: event_cause,
            severity: opening.severity,
            confidence: opening.confidence,
            start,
            end: None,
            scope: opening.scope,
            summary: opening.summary,
            evidence: Vec::new(),
        };
        for item in opening.evidence {
            push_evidence(&mut event, item);
        }
        updates.push(EventUpdate::started(event.clone()));
        self.open.insert(slot, event);
    }

    /// `id`, or if this book gave it out already, the first of `id-2`, `id-3`…
    /// that it did not: still the same for the same input.
    fn unused(&mut self, id: EventId) -> EventId {
        let mut candidate = id.clone();
        let mut n = 2u32;
        while self.issued.contains(&candidate) {
            candidate = EventId(format!("{}-{n}", id.0));
            n += 1;
        }
        self.issued.insert(candidate.clone());
        candidate
    }

    /// Adds evidence to an open event, quietly (no update).
    pub(crate) fn note(&mut self, slot: &Slot, evidence: Evidence) -> bool {
        match self.open.get_mut(slot) {
            Some(event) => {
                push_evidence(event, evidence);
                true
            }
            None => false,
        }
    }

    /// Adds evidence from outside the rules (a traceroute the engine asked for) to
    /// the open event `id`: reported as a revision, or kept quietly while the event
    /// is held through the first look. False when no event `id` is open.
    pub(crate) fn add_evidence(
        &mut self,
        id: &EventId,
        evidence: Evidence,
        updates: &mut Vec<EventUpdate>,
    ) -> bool {
        let Some(slot) = self
            .open
            .iter()
            .find(|(_, event)| event.id == *id)
            .map(|(slot, _)| slot.clone())
        else {
            return false;
        };
        if self.held.contains_key(&slot) {
            self.note(&slot, evidence);
        } else {
            self.revise(&slot, updates, |event| push_evidence(event, evidence));
        }
        true
    }

    /// Changes an open event and reports the change: a change that leaves it as
    /// it was (evidence it already holds, the same verdict again) reports
    /// nothing.
    pub(crate) fn revise(
        &mut self,
        slot: &Slot,
        updates: &mut Vec<EventUpdate>,
        change: impl FnOnce(&mut Event),
    ) {
        if self.apply(slot, change)
            && let Some(event) = self.open.get(slot)
        {
            updates.push(EventUpdate::revised(event.clone()));
            self.unsaid.remove(slot);
        }
    }

    /// Changes an open event at `at` without reporting it at once: the change is
    /// told with the event's next update, or by [`EventBook::tell_unsaid`] once
    /// it has waited long enough. For detail that comes in a stream, each item
    /// no news on its own (what each vantage point saw of each check, while the
    /// views flip under a flood's loss).
    pub(crate) fn revise_later(
        &mut self,
        slot: &Slot,
        at: Timestamp,
        change: impl FnOnce(&mut Event),
    ) {
        if self.apply(slot, change)
            && let Some(event) = self.open.get(slot)
        {
            self.unsaid
                .entry(slot.clone())
                .or_insert_with(|| (event.id.clone(), at));
        }
    }

    /// Changes an open event; whether that changed it. A held event keeps what
    /// it said until the first look is over.
    fn apply(&mut self, slot: &Slot, change: impl FnOnce(&mut Event)) -> bool {
        if self.held.contains_key(slot) {
            return false;
        }
        let Some(event) = self.open.get_mut(slot) else {
            return false;
        };
        let before = event.clone();
        change(event);
        *event != before
    }

    /// Reports, at `now`, the open events whose unsaid change has waited `after`
    /// seconds or more.
    pub(crate) fn tell_unsaid(
        &mut self,
        now: Timestamp,
        after: f64,
        updates: &mut Vec<EventUpdate>,
    ) {
        if self.unsaid.is_empty() {
            return;
        }
        let due: Vec<Slot> = self
            .unsaid
            .iter()
            .filter(|(_, (_, since))| now.secs_since(*since) >= after)
            .map(|(slot, _)| slot.clone())
            .collect();
        for slot in due {
            let Some((id, _)) = self.unsaid.remove(&slot) else {
                continue;
            };
            if let Some(event) = self.open.get(&slot).filter(|e| e.id == id) {
                updates.push(EventUpdate::revised(event.clone()));
            }
        }
    }

    /// Ends an open event at `end`, adding the evidence of its end. What was
    /// noted after `end` (while a return was held for confirmation) is dropped:
    /// it was weighed after the event was over.
    pub(crate) fn end(
        &mut self,
        slot: &Slot,
        end: Timestamp,
        evidence: impl IntoIterator<Item = Evidence>,
        updates: &mut Vec<EventUpdate>,
    ) {
        if let Some(held) = self.held.get_mut(slot) {
            if !matches!(held, Held::Ending(..)) {
                *held = Held::Ending(end, evidence.into_iter().collect());
            }
            return;
        }
        let Some(mut event) = self.open.remove(slot) else {
            return;
        };
        self.unsaid.remove(slot);
        let end = end.max(event.start);
        event.end = Some(end);
        event.evidence.retain(|item| item.at <= end);
        for item in evidence {
            push_evidence(&mut event, item);
        }
        let duration = end.secs_since(event.start);
        if duration > 0.0 {
            event.summary = format!("{}{BACK_AFTER}{}", event.summary, human_duration(duration));
        }
        updates.push(EventUpdate::ended(event.clone()));
        self.last_closed
            .insert(slot.clone(), (event.id.clone(), end));
        self.closed.insert(event.id.clone(), event);
    }

    /// The slot's event open now, or else the last one it closed.
    pub(crate) fn latest(&self, slot: &Slot) -> Option<&Event> {
        self.open.get(slot).or_else(|| {
            let (id, _) = self.last_closed.get(slot)?;
            self.closed.get(id)
        })
    }

    /// Takes the slot's event out of the book, the open one or the last closed,
    /// if `pick` accepts it, without an update: it becomes part of another event
    /// (a loss that turns out to be the first cycle of a flapping), and that
    /// event's update tells of it under the same id.
    pub(crate) fn take(&mut self, slot: &Slot, pick: impl Fn(&Event) -> bool) -> Option<Event> {
        if self.held.contains_key(slot) {
            return None;
        }
        if self.open.get(slot).is_some_and(&pick) {
            return self.open.remove(slot);
        }
        let (id, _) = self.last_closed.get(slot)?;
        if !pick(self.closed.get(id)?) {
            return None;
        }
        let id = id.clone();
        self.last_closed.remove(slot);
        self.closed.remove(&id)
    }

    /// Every event, closed and open, in order of start.
    pub(crate) fn into_events(self) -> Vec<Event> {
        let mut events: Vec<Event> = self.closed.into_values().collect();
        events.extend(self.open.into_values());
        events.sort_by(|a, b| (a.start, &a.id).cmp(&(b.start, &b.id)));
        events
    }
}

/// Appends evidence, each item once (the same thing seen at the same time by the
/// same signal is one fact), keeping the opening half and the latest when there
/// is too much. An item from outside the event's span (before its start, after
/// its end) is not this incident's and is left out.
/// Does the event's evidence already hold this item (the same time, signal and
/// text)?
pub(crate) fn holds(event: &Event, item: &Evidence) -> bool {
    event
        .evidence
        .iter()
        .any(|e| e.at == item.at && e.signal == item.signal && e.text == item.text)
}

pub(crate) fn push_evidence(event: &mut Event, evidence: Evidence) {
    if evidence.at < event.start || event.end.is_some_and(|end| evidence.at > end) {
        return;
    }
    if holds(event, &evidence) {
        return;
    }
    if event.evidence.len() >= MAX_EVIDENCE {
        make_room(&mut event.evidence);
    }
    event.evidence.push(evidence);
}

/// Drops one item of a full evidence list: the middle one of the signal kind
/// with the most items. The first and the latest of each kind stay, and a kind
/// with few items (the traceroutes asked for when the event started, a route
/// change) is not crowded out by a long event's stream of probe results from
/// several vantage points.
fn make_room(evidence: &mut Vec<Evidence>) {
    let mut counts: Vec<(SignalKind, usize)> = Vec::new();
    for item in evidence.iter() {
        match counts.iter_mut().find(|(kind, _)| *kind == item.signal) {
            Some((_, count)) => *count += 1,
            None => counts.push((item.signal, 1)),
        }
    }
    // The first kind to reach the highest count, for a stable choice.
    let Some((kind, count)) = counts
        .iter()
        .copied()
        .reduce(|best, next| if next.1 > best.1 { next } else { best })
    else {
        return;
    };
    let middle = evidence
        .iter()
        .enumerate()
        .filter(|(_, item)| item.signal == kind)
        .nth(count / 2)
        .map(|(index, _)| index);
    if let Some(index) = middle {
        evidence.remove(index);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening(summary: &str) -> Opening {
        Opening {
            severity: Severity::Critical,
            confidence: 0.9,
            scope: Scope::default(),
            summary: summary.to_string(),
            evidence: Vec::new(),
        }
    }

    fn at(secs: f64) -> Timestamp {
        Timestamp::from_secs_f64(secs)
    }

    #[test]
    fn outages_that_touch_in_time_are_one_event() {
        let slot: Slot = (Entity::Country("KP".into()), Cause::Internal, String::new());
        let mut book = EventBook::default();
        let mut updates = Vec::new();
        book.start(at(1000.0), slot.clone(), opening("KP dark"), &mut updates);
        book.end(&slot, at(2000.0), None, &mut updates);
        book.start(
            at(2000.0),
            slot.clone(),
            opening("KP dark again"),
            &mut updates,
        );
        book.end(&slot, at(3000.0), None, &mut updates);
        let events = book.into_events();
        assert_eq!(events.len(), 1, "{events:?}");
        assert_eq!(
            (events[0].start, events[0].end),
            (at(1000.0), Some(at(3000.0)))
        );
        assert_eq!(events[0].summary, "KP dark. Back after 33 m");
    }

    #[test]
    fn outages_apart_in_time_stay_two_events() {
        let slot: Slot = (Entity::Country("KP".into()), Cause::Internal, String::new());
        let mut book = EventBook::default();
        let mut updates = Vec::new();
        book.start(at(1000.0), slot.clone(), opening("KP dark"), &mut updates);
        book.end(&slot, at(2000.0), None, &mut updates);
        book.start(at(2001.0), slot.clone(), opening("KP dark"), &mut updates);
        book.end(&slot, at(3000.0), None, &mut updates);
        let events = book.into_events();
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[1].start, at(2001.0));
    }

    fn seen(secs: f64, text: &str) -> Evidence {
        Evidence {
            at: at(secs),
            signal: SignalKind::ProbeIcmp,
            text: text.to_string(),
            value: Some(1.0),
        }
    }

    #[test]
    fn a_long_stream_of_probe_results_does_not_crowd_out_the_traceroutes() {
        let slot: Slot = (Entity::Country("KP".into()), Cause::Partial, String::new());
        let mut book = EventBook::default();
        let mut updates = Vec::new();
        let mut opening = opening("hosts dark");
        opening.evidence = vec![seen(1000.0, "ping 0")];
        book.start(at(1000.0), slot.clone(), opening, &mut updates);
        for n in 1..5 {
            book.note(&slot, seen(1000.0 + f64::from(n), &format!("ping {n}")));
        }
        for vantage in ["vp-a", "vp-b", "vp-c"] {
            let trace = Evidence {
                at: at(1005.0),
                signal: SignalKind::ProbeTrace,
                text: format!("traceroute from {vantage}"),
                value: None,
            };
            book.add_evidence(&book.open[&slot].id.clone(), trace, &mut updates);
        }
        for n in 5..200 {
            book.note(&slot, seen(1005.0 + f64::from(n), &format!("ping {n}")));
        }
        let evidence = &book.open[&slot].evidence;
        assert_eq!(evidence.len(), MAX_EVIDENCE);
        let traces = evidence
            .iter()
            .filter(|e| e.signal == SignalKind::ProbeTrace)
            .count();
        assert_eq!(traces, 3, "every traceroute stays");
        let pings: Vec<&str> = evidence
            .iter()
            .filter(|e| e.signal == SignalKind::ProbeIcmp)
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(pings.first(), Some(&"ping 0"), "the first stays");
        assert_eq!(pings.last(), Some(&"ping 199"), "the latest stays");
    }

    #[test]
    fn evidence_from_before_the_start_is_not_let_in() {
        let slot: Slot = (Entity::Country("KP".into()), Cause::Partial, String::new());
        let mut book = EventBook::default();
        let mut updates = Vec::new();
        let mut opening = opening("a host dark");
        opening.evidence = vec![
            seen(900.0, "a cut healed before"),
            seen(1000.0, "the host stops answering"),
        ];
        book.start(at(1000.0), slot.clone(), opening, &mut updates);
        book.note(&slot, seen(950.0, "late word of the cut"));
        let texts: Vec<&str> = book.open[&slot]
            .evidence
            .iter()
            .map(|e| e.text.as_str())
            .collect();
        assert_eq!(texts, ["the host stops answering"]);
    }

    #[test]
    fn an_end_dated_back_drops_what_was_noted_after_it() {
        let slot: Slot = (Entity::Country("KP".into()), Cause::Internal, String::new());
        let mut book = EventBook::default();
        let mut updates = Vec::new();
        let mut opening = opening("KP dark");
        opening.evidence = vec![seen(1000.0, "every prefix gone")];
        book.start(at(1000.0), slot.clone(), opening, &mut updates);
        // Noted while the return was held for confirmation.
        book.note(&slot, seen(2010.0, "still dark by the count"));
        book.end(&slot, at(2000.0), Some(seen(2000.0, "back")), &mut updates);
        let event = book.latest(&slot).expect("the event");
        let texts: Vec<&str> = event.evidence.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["every prefix gone", "back"]);
        assert_eq!(event.end, Some(at(2000.0)));
    }

    #[test]
    fn an_event_dated_back_to_the_start_of_one_another_slot_absorbed_gets_its_own_id() {
        let partial: Slot = (Entity::Country("KP".into()), Cause::Partial, String::new());
        let flap: Slot = (Entity::Country("KP".into()), Cause::Flap, String::new());
        let mut book = EventBook::default();
        let mut updates = Vec::new();
        book.start(
            at(1000.0),
            partial.clone(),
            opening("KP partly dark"),
            &mut updates,
        );
        // Flapping takes the loss in, under its id, and stays open.
        let absorbed = book.take(&partial, |_| true).expect("the loss");
        book.open.insert(flap.clone(), absorbed);
        book.start(
            at(1000.0),
            partial.clone(),
            opening("KP partly dark"),
            &mut updates,
        );
        let ids: Vec<EventId> = book.open.values().map(|e| e.id.clone()).collect();
        assert_eq!(ids.len(), 2);
        assert_ne!(ids[0], ids[1]);
        let second = &book.open[&partial].id;
        assert!(second.0.ends_with("-2"), "{second}");
        assert!(is_slot_event_id(&partial, at(1000.0), second));
        assert!(!is_slot_event_id(&flap, at(1000.0), second));
    }
}
