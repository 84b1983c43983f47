//! Reactive traceroute at every vantage point: an agent's results show a host
//! down, the central opens the event and asks its agents for a traceroute; the
//! agent traces from where it is and the report comes back as the event's
//! evidence, named after the agent. Against a real nats-server on loopback; the
//! host and the control are loopback ports.

use crate::common::{Watch, free_port, host_and_control_profile};
use blackout_model::{SignalKind, UpdateKind};
use blackout_relay::{AgentConfig, AgentCounters, CentralConfig, run_agent};
use blackout_testdata::nats::NatsServer;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// A host on a closed loopback port (down) and a control that answers (so the
/// agent is a healthy vantage point), probed every 0.1 s.
fn profile(control: &TcpListener) -> blackout_profile::Profile {
    host_and_control_profile("traced", free_port(), control.local_addr().unwrap().port())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_agents_trace_when_an_event_starts_and_the_evidence_names_each() {
    let dir = tempfile::tempdir().unwrap();
    let Some(nats) = NatsServer::start(dir.path()) else {
        return;
    };
    let control = TcpListener::bind("127.0.0.1:0").unwrap();
    let profile = profile(&control);
    let counters = Arc::new(AgentCounters::default());
    let (stop_agent, agent_stopped) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(run_agent(
        AgentConfig {
            profile: profile.clone(),
            vantage: "vp-a".into(),
            location: None,
            nats: nats.url(),
            buffer_dir: dir.path().join("buffer"),
            buffer_max_bytes: 1 << 20,
            feeds: Vec::new(),
        },
        Arc::clone(&counters),
        async move {
            let _ = agent_stopped.await;
        },
    ));
    let central = Watch::start_central(
        profile.clone(),
        &dir.path().join("central.db"),
        CentralConfig::new(&nats.url(), &profile.name),
    );
    let traced = central
        .wait_for(40, 1, "the host's event with the agent's traceroute", |u| {
            u.event.entity.to_string().contains("svc.loopback.test")
                && u.event
                    .evidence
                    .iter()
                    .any(|e| e.signal == SignalKind::ProbeTrace && e.text.contains("from vp-a"))
        })
        .await;
    let event = &traced[0].event;
    assert!(
        central
            .updates
            .lock()
            .unwrap()
            .iter()
            .any(|u| { u.kind == UpdateKind::Started && u.event.id == event.id }),
        "the event started first"
    );
    let trace = event
        .evidence
        .iter()
        .find(|e| e.signal == SignalKind::ProbeTrace)
        .unwrap();
    assert!(
        trace
            .text
            .starts_with("traceroute to svc.loopback.test (127.0.0.1) from vp-a"),
        "{}",
        trace.text
    );
    let report = central.stop().await;
    assert!(report.traces >= 1, "{report:?}");
    assert_eq!(report.probes, 0, "the central probes nothing itself");
    let _ = stop_agent.send(());
    let agent = agent.await.unwrap().unwrap();
    assert!(agent.trace_requests >= 1, "{agent:?}");
    assert!(counters.traces.load(Ordering::Relaxed) >= 1);
}
