//! A central that starts again, at the core's level, with the relay's own
//! bookkeeping of relayed tables (as the watch loop drives them): two vantage
//! points relay a BGP feed each, up at the agents for an hour. The central asks
//! every agent for its routes as it starts; one vantage's table comes 2 s later,
//! the other's (a slow agent's) 30 s later, through another upstream. The second is part of the
//! baseline, not a new upstream: the feeds' tables count as loading while they
//! are on their way here, though the agents' health says up for an hour. Without
//! that (the control), the same arrival opens a new-upstream event.

use blackout_feeds::{FeedHealth, FeedId, FeedKind, FeedState};
use blackout_model::{
    AsPath, Asn, BgpInput, Cause, EventUpdate, PeerKey, RouteChange, RouteUpdate, Timestamp,
};
use blackout_relay::{AgentFeedHealth, AgentRoutes, RelayedSessions};
use blackout_watch::Core;
use std::net::IpAddr;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_secs(1_750_000_000 + secs)
}

const VANTAGES: [(&str, u32); 2] = [("fra-1", 64501), ("ams-2", 64510)];

/// The agent's health report of its feed, up since an hour before the central
/// started, its last message at `now`.
fn report(vantage: &str, now: Timestamp) -> AgentFeedHealth {
    let health = FeedHealth {
        feed: FeedId {
            kind: FeedKind::Bgp,
            name: "192.0.2.1".into(),
        },
        state: FeedState::Up,
        since: t(-3600),
        last_message: Some(now),
        messages: 100,
        messages_per_sec: 1.0,
        reconnects: 0,
        gaps: 0,
        last_gap: None,
        peers: 3,
        last_error: None,
        why_no_routes: None,
        stalled: 0,
        router: None,
        session: None,
    };
    AgentFeedHealth::new("bgp-loopback", vantage, 1, now, &health)
}

/// The table the agent of `vantage` sends again when asked: three peers, every
/// prefix through `upstream`.
fn table(vantage: &str, upstream: u32, now: Timestamp) -> AgentRoutes {
    let profile = crate::common::bgp_profile(179, "");
    let mut inputs = Vec::new();
    for n in 1..=3u8 {
        let peer = PeerKey {
            collector: "bgp:192.0.2.1".into(),
            ip: IpAddr::from([198, 51, 100, n]),
            asn: Asn(64400 + u32::from(n)),
        };
        for prefix in profile.announced_prefixes() {
            inputs.push(BgpInput::Route(RouteUpdate {
                at: now,
                peer: peer.clone(),
                prefix,
                path_id: None,
                change: RouteChange::Announce {
                    as_path: AsPath::from_sequence([64400 + u32::from(n), upstream, 64500]),
                },
            }));
        }
    }
    AgentRoutes {
        schema: 1,
        profile: "bgp-loopback".into(),
        vantage: vantage.into(),
        feed: "bgp-192.0.2.1".into(),
        session: t(-3600),
        sequence: 2,
        sent_at: now,
        inputs,
    }
}

/// The central's first 90 s; `waits` says whether it takes relayed tables as
/// loading while they come. Returns every event update.
fn central_starts(waits: bool) -> Vec<EventUpdate> {
    let mut core = Core::new(
        crate::common::bgp_profile(179, ""),
        blackout_bgp::Vrps::default(),
        "central",
    );
    let mut relayed = RelayedSessions::default();
    relayed.asked_everyone(t(0));
    let mut updates = Vec::new();
    for s in 0..=90 {
        let now = t(s);
        for (vantage, upstream) in VANTAGES {
            let arrives = if vantage == "fra-1" { 2 } else { 30 };
            if s == arrives {
                let batch = table(vantage, upstream, now);
                for (report, until) in relayed.heard_from(vantage, now) {
                    let until = until.filter(|_| waits);
                    core.on_relayed_feed_health(report.into_health(), until);
                }
                for input in relayed.inputs(batch) {
                    updates.extend(core.on_bgp(&input).updates);
                }
            }
            // Each agent reports its feed's health every few seconds.
            if s % 5 == 0 {
                let report = report(vantage, now);
                let until = relayed.feed_reported(&report).filter(|_| waits);
                core.on_relayed_feed_health(report.into_health(), until);
            }
        }
        updates.extend(core.tick(now).updates);
    }
    updates
}

fn new_upstreams(updates: &[EventUpdate]) -> Vec<String> {
    updates
        .iter()
        .filter(|u| u.event.cause == Cause::NewUpstream)
        .map(|u| format!("{} {}", u.event.entity, u.event.summary))
        .collect()
}

#[test]
fn a_relayed_table_that_reaches_a_restarted_central_late_is_no_new_upstream() {
    let control = central_starts(false);
    assert!(
        !new_upstreams(&control).is_empty(),
        "the control: without the wait, the second table's upstream is news: {control:?}"
    );
    let updates = central_starts(true);
    assert_eq!(new_upstreams(&updates), Vec::<String>::new());
}
