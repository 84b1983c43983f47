//! A restart at the core's level, with a real database file: the core of a
//! first run opens an event and stops; the core of a second run takes up what
//! the database holds open. The same event goes on (same id, one row, no second
//! start) while the trouble lasts, and ends when it is gone; trouble gone while
//! blackout was away ends on the first look after the restart, with a note.

use blackout_feeds::{FeedHealth, FeedId, FeedState};
use blackout_model::EventUpdate;
use blackout_model::UpdateKind;
use blackout_model::{AsPath, Asn, BgpInput, Event, PeerKey, RouteChange, RouteUpdate, Timestamp};
use blackout_profile::Profile;
use blackout_store::Store;
use blackout_watch::{Core, FEED_SETTLE_SECS, Output};
use std::net::IpAddr;

/// The loopback BGP profile; this test drives the core directly, so the session's
/// port is never dialled.
fn profile() -> Profile {
    crate::common::bgp_profile(179, "[thresholds]\nrecovery_hold_secs = 60\n")
}

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_750_000_000 + secs)
}

/// Five peers behind the session, each with a path through one of the upstreams.
fn peer(n: u8) -> PeerKey {
    PeerKey {
        collector: "bgp:127.0.0.1".into(),
        ip: IpAddr::from([198, 51, 100, n]),
        asn: Asn(64400 + u32::from(n)),
    }
}

fn routes(at: Timestamp, announce: bool) -> Vec<BgpInput> {
    let mut inputs = Vec::new();
    for n in 1..=5u8 {
        let upstream = if n % 2 == 0 { 64502 } else { 64501 };
        for prefix in profile().announced_prefixes() {
            inputs.push(BgpInput::Route(RouteUpdate {
                at,
                peer: peer(n),
                prefix,
                path_id: None,
                change: if announce {
                    RouteChange::Announce {
                        as_path: AsPath::from_sequence([64400 + u32::from(n), upstream, 64500]),
                    }
                } else {
                    RouteChange::Withdraw
                },
            }));
        }
    }
    inputs
}

/// The session, up since `since`, its last message (a keepalive at least) at `now`.
fn session_up(since: Timestamp, now: Timestamp) -> FeedHealth {
    FeedHealth {
        feed: FeedId::bgp("127.0.0.1".parse().unwrap()),
        state: FeedState::Up,
        since,
        last_message: Some(now),
        messages: 1,
        messages_per_sec: 1.0,
        reconnects: 0,
        gaps: 0,
        last_gap: None,
        peers: 5,
        last_error: None,
        why_no_routes: None,
        stalled: 0,
        router: None,
        session: None,
    }
}

/// One run of the core against the database, writing what comes out as the
/// watch loop does.
struct Run {
    core: Core,
    store: Store,
    updates: Vec<EventUpdate>,
    since: Timestamp,
}

impl Run {
    fn start(db: &std::path::Path, now: Timestamp) -> Run {
        let store = Store::open(db).unwrap();
        let mut core = Core::new(profile(), blackout_bgp::Vrps::default(), "local");
        let open = store.open_events_of(&profile().name).unwrap();
        let left = core.resume(open, now);
        assert!(left.is_empty(), "{left:?}");
        core.on_feed_health(session_up(now, now));
        Run {
            core,
            store,
            updates: Vec::new(),
            since: now,
        }
    }

    fn write(&mut self, output: Output) {
        let changes: Vec<(UpdateKind, &Event)> =
            output.updates.iter().map(|u| (u.kind, &u.event)).collect();
        self.store
            .record_events_of(&profile().name, &changes)
            .unwrap();
        self.updates.extend(output.updates);
    }

    fn bgp(&mut self, inputs: Vec<BgpInput>) {
        for input in inputs {
            let output = self.core.on_bgp(&input);
            self.write(output);
        }
    }

    /// Ticks once a second over `from..=to`, the session alive.
    fn ticks(&mut self, from: i64, to: i64) {
        for s in from..=to {
            self.core.on_feed_health(session_up(self.since, t(s)));
            let output = self.core.tick(t(s));
            self.write(output);
        }
    }

    fn started(&self) -> Vec<&Event> {
        self.updates
            .iter()
            .filter_map(|u| match u {
                EventUpdate {
                    kind: UpdateKind::Started,
                    event: e,
                } => Some(e),
                _ => None,
            })
            .collect()
    }

    fn ended(&self) -> Vec<&Event> {
        self.updates
            .iter()
            .filter_map(|u| match u {
                EventUpdate {
                    kind: UpdateKind::Ended,
                    event: e,
                } => Some(e),
                _ => None,
            })
            .collect()
    }
}

/// A first run that sees the network, then sees it go dark, then stops.
fn first_run(db: &std::path::Path) -> Event {
    let mut run = Run::start(db, t(0));
    run.bgp(routes(t(1), true));
    run.ticks(1, 30);
    run.bgp(routes(t(31), false));
    run.ticks(31, 60);
    let started = run.started();
    assert_eq!(started.len(), 1, "{:?}", run.updates);
    assert_eq!(started[0].entity.to_string(), "as:64500");
    assert_eq!(started[0].cause.to_string(), "internal");
    started[0].clone()
}

#[test]
fn an_outage_that_lasts_across_a_restart_is_one_event() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blackout.db");
    let dark = first_run(&db);
    // Given a second run an hour later, whose session delivers no route: still dark
    let mut run = Run::start(&db, t(3600));
    run.ticks(3600, 3600 + FEED_SETTLE_SECS as i64 + 60 + 5);
    // Then the same event goes on: no start, no end, a note of the gap
    assert!(run.started().is_empty(), "{:?}", run.updates);
    assert!(run.ended().is_empty(), "{:?}", run.updates);
    let noted = run.store.event(&dark.id.0).unwrap().unwrap();
    assert!(noted.end.is_none());
    assert!(
        noted
            .evidence
            .iter()
            .any(|e| e.text.contains("took this event up again")),
        "{noted:?}"
    );
    // When the routes come back
    run.bgp(routes(t(4000), true));
    run.ticks(4000, 4100);
    // Then it ends, at their return, as the same event, once in the database
    let ended = run.ended();
    assert_eq!(ended.len(), 1, "{:?}", run.updates);
    assert_eq!(ended[0].id, dark.id);
    assert_eq!(ended[0].end, Some(t(4000)));
    assert!(!ended[0].summary.contains("not watching"));
    assert_eq!(run.store.event_count().unwrap(), 1);
    let log = run.store.event_log(&dark.id.0).unwrap();
    let changes: Vec<&str> = log.iter().map(|(_, c, _)| c.as_str()).collect();
    assert_eq!(changes.first(), Some(&"started"));
    assert_eq!(changes.iter().filter(|c| **c == "started").count(), 1);
    assert_eq!(changes.last(), Some(&"ended"));
    assert!(
        run.store
            .open_events_of(&profile().name)
            .unwrap()
            .is_empty()
    );
}

#[test]
fn an_outage_over_while_blackout_was_away_ends_on_the_first_look() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blackout.db");
    let dark = first_run(&db);
    // Given a second run whose session delivers every route again
    let mut run = Run::start(&db, t(3600));
    run.bgp(routes(t(3601), true));
    // Then nothing is said before the recovery has held and the first look is over
    run.ticks(3601, 3640);
    assert!(run.updates.is_empty(), "{:?}", run.updates);
    run.ticks(3641, 3700);
    // And then the same event ends, where the routes were seen back, with a note
    assert!(run.started().is_empty(), "{:?}", run.updates);
    let ended = run.ended();
    assert_eq!(ended.len(), 1, "{:?}", run.updates);
    assert_eq!(ended[0].id, dark.id);
    assert_eq!(ended[0].end, Some(t(3601)));
    assert!(
        ended[0]
            .summary
            .contains("ended while blackout was not watching"),
        "{}",
        ended[0].summary
    );
    assert_eq!(run.store.event_count().unwrap(), 1);
    assert_eq!(
        run.store.event(&dark.id.0).unwrap().unwrap().end,
        Some(t(3601))
    );
}

/// The same across a real restart of the watch loop, over a live BGP session on
/// loopback: the second run's session delivers no route, so the outage goes on
/// as the same event (one row, one start) and ends when the routes come back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_live_outage_across_a_restart_of_the_loop_is_one_event() {
    use crate::common::{PREFIXES, SPEAKER_AS, Speaker, Watch, bgp_profile};
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("blackout.db");
    let speaker = Speaker::start().await;
    speaker.announce(&PREFIXES, &[SPEAKER_AS, 64501, 64500]);
    let profile = || bgp_profile(speaker.port, "[thresholds]\nrecovery_hold_secs = 2\n");
    let dark = |u: &EventUpdate| u.event.entity.to_string() == "as:64500";
    // Given a run that sees the routes go, and stops
    let first = Watch::start(profile(), &db);
    first.wait_visibility(1.0, 30).await;
    speaker.withdraw(&PREFIXES);
    let started = first
        .wait_for(15, 1, "the outage", |u| {
            matches!(
                u,
                EventUpdate {
                    kind: UpdateKind::Started,
                    ..
                }
            ) && dark(u)
        })
        .await;
    let id = started[0].event.id.clone();
    first.stop().await;
    // When a second run starts while the routes are still gone
    let second = Watch::start(profile(), &db);
    // Then after its first look the same event goes on
    second
        .wait_for(45, 1, "the event taken up again", |u| {
            matches!(u, EventUpdate { kind: UpdateKind::Revised, event: e } if e.id == id
                && e.evidence.iter().any(|e| e.text.contains("took this event up again")))
        })
        .await;
    // And when the routes come back, it ends
    speaker.announce(&PREFIXES, &[SPEAKER_AS, 64501, 64500]);
    let ended = second
        .wait_for(
            30,
            1,
            "the end",
            |u| matches!(u, EventUpdate { kind: UpdateKind::Ended, event: e } if e.id == id),
        )
        .await;
    assert!(!ended[0].event.summary.contains("not watching"));
    let updates = second.updates.lock().unwrap().clone();
    second.stop().await;
    assert!(
        updates.iter().all(
            |u| !matches!(u, EventUpdate { kind: UpdateKind::Started, event: e } if e.id == id)
        ),
        "{updates:#?}"
    );
    let store = Store::open_read_only(&db).unwrap();
    assert_eq!(
        store
            .events(&Default::default())
            .unwrap()
            .iter()
            .filter(|e| e.entity.to_string() == "as:64500")
            .count(),
        1
    );
}

#[test]
fn an_open_event_the_profile_no_longer_watches_is_closed_with_why() {
    // Given an open event about an upstream the profile does not name (any more)
    let gone = Event {
        id: blackout_model::EventId("ev-gone".into()),
        entity: blackout_model::Entity::Upstream(Asn(64499)),
        cause: blackout_model::Cause::UpstreamCut,
        severity: blackout_model::Severity::Warning,
        confidence: 0.8,
        start: t(0),
        end: None,
        scope: Default::default(),
        summary: "AS64499 no longer carries the routes".into(),
        evidence: vec![blackout_model::Evidence {
            at: t(0),
            signal: blackout_model::SignalKind::BgpUpstream,
            text: "paths gone".into(),
            value: None,
        }],
    };
    let mut core = Core::new(profile(), blackout_bgp::Vrps::default(), "local");
    // When the core takes up what was open
    let left = core.resume(vec![gone.clone()], t(3600));
    assert_eq!(left, vec![gone.clone()]);
    // Then what it cannot take up is closed, saying why
    let output = Core::close_unwatched(left, t(3600));
    let [
        EventUpdate {
            kind: UpdateKind::Ended,
            event: closed,
        },
    ] = &output.updates[..]
    else {
        panic!("{:?}", output.updates)
    };
    assert_eq!(closed.id, gone.id);
    assert_eq!(closed.end, Some(t(3600)));
    assert!(
        closed.summary.contains("no longer watched"),
        "{}",
        closed.summary
    );
}
