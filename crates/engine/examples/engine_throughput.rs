//! Engine throughput on a long synthetic trace: route churn from 400 collector
//! peers over the kp prefixes, through the engine (BGP state and detector), plus
//! probe rounds over every check. Prints inputs per second. Run by bench/detector.sh.

use blackout_bgp::Vrps;
use blackout_detect::ProbeSignal;
use blackout_engine::{Engine, EngineConfig, Input};
use blackout_model::{AsPath, Asn, BgpInput, PeerKey, RouteChange, RouteUpdate, Timestamp};
use blackout_model::{ProbeKind, ProbeRole};
use std::net::IpAddr;
use std::time::Instant;

fn main() {
    let inputs: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(2_000_000);
    let profile = blackout_profile::builtin("kp").expect("kp profile");
    let prefixes = profile.announced_prefixes();
    let mut engine = Engine::new(EngineConfig::live(profile.clone(), Vrps::default()));
    let peers: Vec<PeerKey> = (0..400u32)
        .map(|n| PeerKey {
            collector: format!("rrc{:02}", n % 25).into(),
            ip: IpAddr::from([198, 51, 100, (n % 250) as u8]),
            asn: Asn(64400 + n),
        })
        .collect();
    // A fixed pseudo-random sequence: the same trace every run.
    let mut x: u64 = 0x2545_f491_4f6c_dd1d;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let started = Instant::now();
    let (mut signals, mut events) = (0u64, 0u64);
    let inputs_count = inputs as u64;
    let mut t = Timestamp::from_secs(1_700_000_000);
    for i in 0..inputs {
        // Ten inputs a second; every 600 inputs, one probe round over every check.
        if i % 10 == 0 {
            t = t.add_secs(1);
        }
        let r = next();
        let peer = peers[(r % peers.len() as u64) as usize].clone();
        let prefix = prefixes[((r >> 16) % prefixes.len() as u64) as usize];
        let change = if (r >> 32) % 5 == 0 {
            RouteChange::Withdraw
        } else {
            let upstream = if (r >> 40) % 2 == 0 { 4837 } else { 20485 };
            RouteChange::Announce {
                as_path: AsPath::from_sequence([peer.asn.0, 3356, upstream, 131279]),
            }
        };
        let input = BgpInput::Route(RouteUpdate {
            at: t,
            peer,
            prefix,
            path_id: None,
            change,
        });
        events += engine.step(t, Input::Bgp(input)).updates.len() as u64;
        signals += 1;
        if i % 600 == 0 {
            for host in &profile.hosts {
                let probe = ProbeSignal {
                    at: t,
                    vantage: "local".into(),
                    role: ProbeRole::Host,
                    target: host.name.clone(),
                    kind: ProbeKind::Icmp,
                    ok: (r >> 48) % 50 != 0,
                    rtt_ms: Some(40.0),
                    loss: Some(0.0),
                    text: "answered".into(),
                    last_hop_asn: None,
                };
                events += engine.step(t, Input::Probe(probe)).updates.len() as u64;
                signals += 1;
            }
        }
    }
    let finished = engine.finish().events.len();
    let secs = started.elapsed().as_secs_f64();
    println!(
        "engine: {inputs} route inputs and {} probe results in {secs:.2} s: {:.0} inputs/s, {:.0} inputs and results/s ({events} event updates, {finished} events)",
        signals - inputs_count,
        inputs as f64 / secs,
        signals as f64 / secs
    );
}
