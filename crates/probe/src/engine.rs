//! The engine: resolves targets, runs each check with retries, and runs rounds.
//!
//! - [`Prober`] holds what all probes share (the ICMP sockets, the TLS
//!   configuration, the AS lookup, the last address each name resolved to) and
//!   probes one [`Target`] into one [`ProbeResult`], retrying silent attempts so that
//!   packet loss (an answer after a retry, counted in `lost`) is told from an outage
//!   (no answer on any attempt). A name that does not resolve is probed at the last
//!   address it resolved to, if it ever did, and the result says so.
//! - [`Prober::round`] probes many targets once, concurrently, under the global
//!   rate limit; [`Prober::run`] does so forever, each target on its own interval
//!   with jitter, sending results to a [`ProbeSink`] (a tokio channel is one).

use crate::dns;
use crate::http;
use crate::icmp::{IcmpAccess, IcmpMode, IcmpUnavailable, PingReply, Pinger};
use crate::last_known::{LastKnown, NameKey};
use crate::result::{Detail, LastKnownAddress, Outcome, ProbeResult};
use crate::route::{self, KernelRoutes, RouteLookup};

use crate::schedule::{Changes, Jitter, RateLimiter, Schedule, Witnesses};
use crate::smtp;
use crate::target::{Address, CheckSpec, Target};
use crate::tcp;
use crate::trace::{self, AsLookup, NoAsLookup, TraceOptions};
use blackout_model::{ProbeRole, Timestamp, clock};
use blackout_profile::ProbeSettings;
use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Mutex, mpsc};

/// Where results go. Later parts (the detector, the store) implement it; a tokio
/// channel sender does.
pub trait ProbeSink: Send + Sync {
    /// Takes one result. Returns false when the consumer is gone (the engine stops).
    fn record(&self, result: ProbeResult) -> impl std::future::Future<Output = bool> + Send;
}

impl ProbeSink for mpsc::Sender<ProbeResult> {
    async fn record(&self, result: ProbeResult) -> bool {
        self.send(result).await.is_ok()
    }
}

/// How hard and how often to probe.
#[derive(Clone, Copy, Debug)]
pub struct EngineConfig {
    /// How long one attempt waits.
    pub timeout: Duration,
    /// Attempts after the first, for attempts that got no answer.
    pub retries: u32,
    /// Time between two probes of one target.
    pub interval: Duration,
    /// Random spread of the interval, as a share of it.
    pub jitter: f64,
    /// Probes per second across all targets (0: no limit).
    pub rate_per_sec: u32,
    /// The most probes in flight at once.
    pub concurrency: usize,
    /// Highest TTL for traceroutes.
    pub max_hops: u8,
    /// How soon a target whose result changed (a failure after a pass, a pass
    /// after a failure) is probed again, instead of a whole interval later; a
    /// first failure has the controls and the hosts' pings probed again with it.
    pub recheck: Duration,
}

/// How soon a changed result is looked at again: a quarter of the interval, at
/// most 2 s. The detector counts a check failing after two failed results in a
/// row; this brings the second close behind the first.
fn recheck_after(interval: Duration) -> Duration {
    (interval / 4).min(Duration::from_secs(2))
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig::from(&ProbeSettings::default())
    }
}

impl From<&ProbeSettings> for EngineConfig {
    fn from(settings: &ProbeSettings) -> Self {
        let interval = Duration::from_secs_f64(settings.interval_secs.clamp(0.001, 86_400.0));
        EngineConfig {
            timeout: Duration::from_secs_f64(settings.timeout_secs.clamp(0.001, 3600.0)),
            retries: settings.retries,
            interval,
            jitter: settings.jitter,
            rate_per_sec: settings.rate_per_sec,
            concurrency: 256,
            max_hops: 30,
            recheck: recheck_after(interval),
        }
    }
}

/// Probes targets. Create it inside a tokio runtime.
pub struct Prober {
    config: EngineConfig,
    pinger: Result<Pinger, String>,
    icmp_unavailable: Option<IcmpUnavailable>,
    tls: Option<Arc<rustls::ClientConfig>>,
    lookup: Arc<dyn AsLookup>,
    limiter: Mutex<RateLimiter>,
    epoch: Instant,
    /// Held only to read or write one entry, never across an await.
    last_known: std::sync::Mutex<LastKnown>,
    routes: Arc<dyn RouteLookup>,
    /// Set once the missing IPv6 route has been logged.
    said_no_ipv6_route: AtomicBool,
}

/// Where to probe a target: the address, and whether it is the last one its name
/// resolved to (because the name did not resolve now).
type Located = (IpAddr, Option<LastKnownAddress>);

impl Prober {
    /// A prober with no AS lookup.
    pub fn new(config: EngineConfig) -> Prober {
        Prober::with_lookup(config, Arc::new(NoAsLookup))
    }

    /// A prober whose traceroutes name each hop's AS with `lookup`.
    pub fn with_lookup(config: EngineConfig, lookup: Arc<dyn AsLookup>) -> Prober {
        let access = IcmpAccess::detect();
        let (pinger, icmp_unavailable) = match access.mode {
            Ok(mode) => (
                Pinger::new(mode).map_err(|e| format!("opening the ICMP socket: {e}")),
                None,
            ),
            Err(why) => (
                Err(
                    "ICMP unavailable: no ping socket (net.ipv4.ping_group_range) and no raw socket (CAP_NET_RAW)"
                        .to_string(),
                ),
                Some(why),
            ),
        };
        let epoch = Instant::now();
        Prober {
            config,
            pinger,
            icmp_unavailable,
            tls: http::tls_config().ok(),
            lookup,
            limiter: Mutex::new(RateLimiter::new(
                config.rate_per_sec,
                // Bursts of a tenth of a second's worth: the limit holds over short spans too.
                (config.rate_per_sec / 10).max(1),
                0,
            )),
            epoch,
            last_known: std::sync::Mutex::new(LastKnown::default()),
            routes: Arc::new(KernelRoutes),
            said_no_ipv6_route: AtomicBool::new(false),
        }
    }

    /// The same prober asking `routes` whether this vantage point has a route to an
    /// IPv6 target (the kernel by default).
    pub fn with_routes(mut self, routes: Arc<dyn RouteLookup>) -> Prober {
        self.routes = routes;
        self
    }

    /// An IPv6 target this vantage point has no route to: our problem, said once in
    /// the log and in every such result, never a verdict on the target.
    fn without_ipv6_route(&self, address: IpAddr) -> Option<Outcome> {
        if !address.is_ipv6() || self.routes.has_route(address) {
            return None;
        }
        let message = route::no_ipv6_route(address);
        if !self.said_no_ipv6_route.swap(true, Ordering::Relaxed) {
            tracing::warn!("{message}");
        }
        Some(Outcome::Error { message })
    }

    /// The ICMP mode in use, or `None` when ICMP is unavailable.
    pub fn icmp_mode(&self) -> Option<IcmpMode> {
        self.pinger.as_ref().ok().map(Pinger::mode)
    }

    /// Why ICMP is unavailable, with the fix: for the caller to say once.
    pub fn icmp_unavailable(&self) -> Option<&IcmpUnavailable> {
        self.icmp_unavailable.as_ref()
    }

    fn micros(&self) -> i64 {
        self.epoch.elapsed().as_micros() as i64
    }

    /// Waits for a token of the global rate limit.
    async fn pace(&self) {
        loop {
            let wait = self.limiter.lock().await.take(self.micros());
            if wait == 0 {
                return;
            }
            tokio::time::sleep(Duration::from_micros(wait as u64)).await;
        }
    }

    /// Probes one target, resolving its name if needed (or, when the name does not
    /// resolve, at the last address it resolved to).
    pub async fn probe(&self, target: &Target) -> ProbeResult {
        let at = clock::now();
        match self.locate(target).await {
            Ok(located) => self.probe_located(target, located, at).await,
            Err(message) => result(target, at, None, Outcome::Error { message }),
        }
    }

    /// Resolves a target's address and remembers the answer; when resolution fails,
    /// the last address the name resolved to, if it ever did.
    async fn locate(&self, target: &Target) -> Result<Located, String> {
        if let Address::Fixed(ip) = target.address {
            return Ok((ip, None));
        }
        let key = NameKey::of(target);
        let resolved = self.resolve(target).await;
        let at = clock::now();
        // A poisoned lock only means another probe panicked mid-update of a plain map.
        let mut memory = self
            .last_known
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match resolved {
            Ok(address) => {
                memory.remember(key, address, at);
                Ok((address, None))
            }
            Err(error) => match memory.recall(&key, at, &error) {
                Some((address, last)) => Ok((address, Some(last))),
                None => Err(error),
            },
        }
    }

    async fn probe_located(
        &self,
        target: &Target,
        (address, last_known): Located,
        at: Timestamp,
    ) -> ProbeResult {
        let mut result = self.probe_address(target, address, at).await;
        result.last_known_address = last_known;
        result
    }

    /// Resolves a target's address: fixed, the system resolver, or MX then resolver.
    pub async fn resolve(&self, target: &Target) -> Result<IpAddr, String> {
        let timeout = self.config.timeout.max(Duration::from_secs(2));
        match &target.address {
            Address::Fixed(ip) => Ok(*ip),
            Address::Resolve => resolve_name(&target.name, timeout).await,
            Address::Mx => {
                let hosts = dns::lookup_mx(&target.name, timeout).await?;
                let first = hosts
                    .first()
                    .ok_or_else(|| format!("{} has no MX records", target.name))?;
                resolve_name(first, timeout).await
            }
        }
    }

    /// Probes a target at a known address, with retries for silent attempts.
    pub async fn probe_address(
        &self,
        target: &Target,
        address: IpAddr,
        at: Timestamp,
    ) -> ProbeResult {
        let attempts_allowed = match target.check {
            // A traceroute makes its own rounds.
            CheckSpec::Trace(_) => 1,
            _ => 1 + self.config.retries,
        };
        // A control target is how the vantage point judges itself: one it cannot
        // reach (its uplinks are down) must fail as itself, so the vantage is found
        // offline rather than left with its last good answer.
        let route_problem = (target.role != ProbeRole::Control)
            .then(|| self.without_ipv6_route(address))
            .flatten();
        if let Some(outcome) = route_problem {
            let mut result = result(target, at, Some(address), outcome);
            // Nothing was sent.
            result.attempts = 0;
            return result;
        }
        let timeout = self.config.timeout;
        let mut lost = 0;
        let mut attempts = 0;
        loop {
            attempts += 1;
            self.pace().await;
            let (outcome, rtt, detail) = self.attempt(target, address).await;
            if outcome == Outcome::Timeout && attempts < attempts_allowed {
                lost += 1;
                continue;
            }
            let outcome = match (outcome, rtt, &detail) {
                (Outcome::Timeout, Some(_), Some(detail)) => {
                    silent_service(target, detail, timeout)
                }
                (outcome, ..) => outcome,
            };
            let mut result = result(target, at, Some(address), outcome);
            result.rtt_ms = rtt.map(|d| d.as_secs_f64() * 1000.0);
            result.attempts = attempts;
            result.lost = if result.outcome.is_ok() {
                lost
            } else {
                attempts.saturating_sub(1)
            };
            result.detail = detail;
            return result;
        }
    }

    async fn attempt(
        &self,
        target: &Target,
        address: IpAddr,
    ) -> (Outcome, Option<Duration>, Option<Detail>) {
        let timeout = self.config.timeout;
        match &target.check {
            CheckSpec::Icmp => match &self.pinger {
                Err(message) => (
                    Outcome::Error {
                        message: message.clone(),
                    },
                    None,
                    None,
                ),
                Ok(pinger) => match pinger.ping(address, timeout).await {
                    PingReply::Reply(rtt) => (Outcome::Ok, Some(rtt), None),
                    PingReply::Timeout => (Outcome::Timeout, None, None),
                    PingReply::Unreachable(reason) => (Outcome::Unreachable { reason }, None, None),
                    PingReply::Error(message) => (Outcome::Error { message }, None, None),
                },
            },
            CheckSpec::Tcp(port) => {
                match tcp::connect(SocketAddr::new(address, *port), timeout).await {
                    Ok((_, rtt)) => (Outcome::Ok, Some(rtt), None),
                    Err(outcome) => (outcome, None, None),
                }
            }
            CheckSpec::Http { port, tls, path } => {
                let tls = if *tls {
                    match &self.tls {
                        Some(config) => Some(config),
                        None => {
                            return (
                                Outcome::Error {
                                    message: "no TLS configuration".to_string(),
                                },
                                None,
                                None,
                            );
                        }
                    }
                } else {
                    None
                };
                let (outcome, rtt, detail) = http::probe(
                    SocketAddr::new(address, *port),
                    &target.name,
                    tls,
                    path,
                    timeout,
                )
                .await;
                (outcome, rtt, Some(Detail::Http(detail)))
            }
            CheckSpec::Smtp(port) => {
                let (outcome, rtt, detail) =
                    smtp::probe(SocketAddr::new(address, *port), timeout).await;
                (outcome, rtt, Some(Detail::Smtp(detail)))
            }
            CheckSpec::Dns { zone, port, aaaa } => {
                let (outcome, rtt, detail) = dns::probe(
                    SocketAddr::new(address, *port),
                    &target.name,
                    zone,
                    *aaaa,
                    timeout,
                )
                .await;
                (outcome, rtt, Some(Detail::Dns(detail)))
            }
            CheckSpec::Trace(mode) => {
                let options = TraceOptions {
                    mode: *mode,
                    max_hops: self.config.max_hops,
                    timeout,
                    rounds: 1 + self.config.retries,
                };
                let (outcome, rtt, detail) =
                    trace::trace(address, options, self.lookup.as_ref()).await;
                (outcome, rtt, Some(Detail::Trace(detail)))
            }
        }
    }

    /// Probes every target once, concurrently (bounded by the configured
    /// concurrency and the rate limit). Names are resolved once per round. Results
    /// come back in the targets' order.
    pub async fn round(self: &Arc<Self>, targets: &[Target]) -> Vec<ProbeResult> {
        let at = clock::now();
        let mut names: HashMap<NameKey, Result<Located, String>> = HashMap::new();
        let mut lookups = tokio::task::JoinSet::new();
        for target in targets {
            let key = NameKey::of(target);
            if matches!(target.address, Address::Fixed(_)) || names.contains_key(&key) {
                continue;
            }
            names.insert(key.clone(), Err(String::new()));
            let prober = self.clone();
            let target = target.clone();
            lookups.spawn(async move { (key, prober.locate(&target).await) });
        }
        while let Some(Ok((key, resolved))) = lookups.join_next().await {
            names.insert(key, resolved);
        }
        let gate = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        for (index, target) in targets.iter().enumerate() {
            let located = match &target.address {
                Address::Fixed(ip) => Ok((*ip, None)),
                _ => names
                    .get(&NameKey::of(target))
                    .cloned()
                    .unwrap_or_else(|| Err(format!("{} was not resolved", target.name))),
            };
            let prober = self.clone();
            let target = target.clone();
            let gate = gate.clone();
            tasks.spawn(async move {
                let _permit = gate.acquire_owned().await;
                let result = match located {
                    Ok(located) => prober.probe_located(&target, located, at).await,
                    Err(message) => {
                        super::engine::result(&target, at, None, Outcome::Error { message })
                    }
                };
                (index, result)
            });
        }
        let mut results: Vec<Option<ProbeResult>> = vec![None; targets.len()];
        while let Some(joined) = tasks.join_next().await {
            if let Ok((index, result)) = joined
                && let Some(slot) = results.get_mut(index)
            {
                *slot = Some(result);
            }
        }
        results.into_iter().flatten().collect()
    }

    /// Probes the targets forever, each on its own interval with jitter, and hands
    /// every result to `sink`. Returns when the sink reports its consumer gone.
    pub async fn run<S: ProbeSink + 'static>(self: Arc<Self>, targets: Vec<Target>, sink: Arc<S>) {
        let interval = self.config.interval.as_micros() as i64;
        let mut schedule =
            Schedule::new(targets.len(), self.micros(), interval, self.config.jitter);
        let mut jitter = Jitter::new(clock::now().as_micros().unsigned_abs().max(1));
        let gate = Arc::new(tokio::sync::Semaphore::new(self.config.concurrency.max(1)));
        // Each finished probe says which target it was, whether it passed, and
        // whether the sink still wants results.
        let (done_tx, mut done_rx) = mpsc::channel::<Finished>(256);
        let mut changes = Changes::new(targets.len());
        let recheck = self.config.recheck.as_micros() as i64;
        let mut controls_due = Witnesses::new(recheck);
        // What a target's first failure is weighed against. The controls (is
        // this vantage point online?) are asked again at once, so the detector
        // has them when the failure is confirmed, by the recheck here or by other
        // vantage points' misses at the same time; at most once per recheck
        // period, so a network going dark, whose checks fail by the hundred
        // within a round, has them asked no more often than before. The hosts'
        // pings (do the hosts answer while a service fails?) are asked with the
        // recheck: a flood that times a service out first shows in them a
        // moment later, and a service must not be judged broken on pings sent
        // as the flood began.
        let controls: Vec<usize> = (0..targets.len())
            .filter(|&i| targets[i].role == ProbeRole::Control)
            .collect();
        let host_pings: Vec<usize> = (0..targets.len())
            .filter(|&i| targets[i].role == ProbeRole::Host && targets[i].check == CheckSpec::Icmp)
            .collect();
        loop {
            let Some((_, due)) = schedule.next_due() else {
                return;
            };
            let wait = due - self.micros();
            if wait > 0 {
                tokio::select! {
                    _ = tokio::time::sleep(Duration::from_micros(wait as u64)) => {}
                    Some(finished) = done_rx.recv() => {
                        if !finished.alive {
                            return;
                        }
                        if changes.changed(finished.index, finished.ok) {
                            let now = self.micros();
                            schedule.recheck(finished.index, now + recheck);
                            if !finished.ok && targets[finished.index].role != ProbeRole::Control {
                                let at = controls_due.ask(now);
                                for &control in &controls {
                                    schedule.recheck(control, at);
                                }
                                for &ping in &host_pings {
                                    schedule.recheck(ping, now + recheck);
                                }
                            }
                        }
                        continue;
                    }
                }
            }
            let now = self.micros();
            for index in schedule.due_at(now) {
                schedule.started(index, now, jitter.sample());
                let Some(target) = targets.get(index).cloned() else {
                    continue;
                };
                let prober = self.clone();
                let sink = sink.clone();
                let gate = gate.clone();
                let done = done_tx.clone();
                tokio::spawn(async move {
                    let permit = gate.acquire_owned().await;
                    let result = prober.probe(&target).await;
                    drop(permit);
                    let ok = result.outcome.is_ok();
                    let alive = sink.record(result).await;
                    let _ = done.send(Finished { index, ok, alive }).await;
                });
            }
        }
    }
}

/// A probe of the run loop's that finished.
struct Finished {
    index: usize,
    ok: bool,
    alive: bool,
}

/// A service that took the connection and then stayed silent on every attempt: not a
/// dark host (it connected) and not an answer, so its result says at which step it
/// fell silent.
fn silent_service(target: &Target, detail: &Detail, timeout: Duration) -> Outcome {
    match (detail, &target.check) {
        (Detail::Smtp(smtp), _) => Outcome::Failed {
            reason: smtp::silence_reason(smtp, timeout),
        },
        (Detail::Http(http), CheckSpec::Http { tls, .. }) => Outcome::Failed {
            reason: http::silence_reason(http, *tls, timeout),
        },
        _ => Outcome::Timeout,
    }
}

/// A result with no details yet.
pub(crate) fn result(
    target: &Target,
    at: Timestamp,
    address: Option<IpAddr>,
    outcome: Outcome,
) -> ProbeResult {
    ProbeResult {
        at,
        target: target.name.clone(),
        address,
        kind: target.check.kind(),
        check: target.check_label(),
        role: target.role,
        outcome,
        rtt_ms: None,
        attempts: u32::from(address.is_some()),
        lost: 0,
        detail: None,
        last_known_address: None,
    }
}

/// Resolves a name with the system resolver, preferring IPv4.
async fn resolve_name(name: &str, timeout: Duration) -> Result<IpAddr, String> {
    let lookup = tokio::net::lookup_host((name, 0));
    match tokio::time::timeout(timeout, lookup).await {
        Err(_) => Err(format!(
            "resolving {name}: no answer from the system resolver within {:.0} s",
            timeout.as_secs_f64()
        )),
        Ok(Err(error)) => Err(format!("cannot resolve {name}: {error}")),
        Ok(Ok(addresses)) => {
            let addresses: Vec<IpAddr> = addresses.map(|a| a.ip()).collect();
            addresses
                .iter()
                .find(|a| a.is_ipv4())
                .or_else(|| addresses.first())
                .copied()
                .ok_or_else(|| format!("{name} has no address"))
        }
    }
}
