//! The edge: sockets, the clock, signals and the database.
//!
//! A run has three parts: [`Watch::start`] takes the address, opens the database,
//! takes up the last run's open events and starts the feeds and the prober;
//! [`Watch::step`] feeds the core one input; [`Watch::drain`] lets time pass,
//! writes what came out to the store and hands it on (stream, alerts, the
//! caller). The loop in [`run_with_ready`] drains as soon as a burst of inputs
//! has been taken (so an event is stored, streamed and alerted within
//! milliseconds of the input that revealed it), and once a second besides.
//! The traceroutes the engine asks for when an event starts go, as each drain
//! writes, to the tracer task (`blackout_probe::tracer`) and, with `--nats`, to
//! every agent of the profile; their reports come back as inputs.

use crate::alerts::Alerting;
use crate::core::{Core, Output};
use crate::vrps::{VRPS_CHECK_SECS, VrpsFile, read_vrps};
use blackout_api::{Metrics, Publisher};
use blackout_bgp::{Tracking, Vrps};
use blackout_feeds::{Feed, FeedEvent};
use blackout_model::{EventUpdate, Timestamp, TraceReport, TraceRequest, UpdateKind, clock};
use blackout_probe::tracer::{self, TRACE_QUEUE, TracerConfig};
use blackout_probe::{EngineConfig, ProbeResult, Prober, targets_from_profile};
use blackout_profile::Profile;
use blackout_relay::{AgentMessage, CentralConfig, CentralCounters, Delivery};
use blackout_store::{Batch, Store, StoreError};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// How many inputs a burst may hold before the core is settled and the result
/// written anyway: a full table arriving must not hold back an event for long.
const BURST: usize = 4096;
/// How long a burst of agents' results waits for more before it is judged and
/// written: at full pace the results come a few microseconds apart.
const AGENTS_GATHER: Duration = Duration::from_millis(5);
/// How long what the agents' results changed (series points, probe rows) may
/// wait in memory before it is written, while more keep coming and no event
/// changed: one transaction a second rather than one a burst. With thousands of targets
/// each series' point lands in a page of its own, and a commit writes every
/// page it touched: bursts of a second touch the same pages again and again.
const AGENTS_WRITE_EVERY: Duration = Duration::from_secs(1);
/// Deliveries held for the next write, at most: well below what the broker lets
/// the central have unacknowledged (`MAX_ACK_PENDING` of the relay's consumer,
/// 20,000), past which it would stop delivering until the write.
const AGENTS_HELD_MAX: usize = 8_000;
/// How often the status snapshot is rebuilt while nothing but results comes in
/// (at once when events change).
const STATUS_EVERY: Duration = Duration::from_millis(250);

/// What `watch` needs.
pub struct WatchConfig {
    /// What to watch: its feeds, targets, thresholds and alerts.
    pub profile: Profile,
    /// What the BGP state tracks: the profile's networks, or every country and AS.
    pub tracking: Tracking,
    /// The database.
    pub db: blackout_store::Db,
    /// The name of this vantage point.
    pub vantage: String,
    /// Validated ROA payloads, if any.
    pub vrps: Vrps,
    /// The file they came from, read again whenever it changes.
    pub vrps_file: Option<PathBuf>,
    /// Where to serve the API and the dashboard (None: nowhere).
    pub listen: Option<std::net::SocketAddr>,
    /// The broker whose stream holds the agents' results, when this watch is
    /// the central of many vantage points (`--nats`).
    pub nats: Option<CentralConfig>,
    /// Does this watch probe the profile's targets and controls itself? A central
    /// that only judges its agents' results (`--no-probes`) does not: its own
    /// place is no vantage point then, and its failing controls open no
    /// `vantage:local` event.
    pub own_probes: bool,
    /// Host names the API answers for besides IP addresses and `localhost` (a
    /// reverse proxy's name; `*`: any), see `blackout_api::AllowedHosts`.
    pub api_hosts: Vec<String>,
}

/// Why `watch` stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// The database could not be opened or written.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The alert channels could not be set up (a bad setting, or TLS).
    #[error("cannot set up alerts: {0}")]
    Alerts(#[from] blackout_alert::SetupError),
    /// The API's address could not be taken.
    #[error(
        "cannot listen on {addr}: {reason} (is another blackout, or something else, using it? choose another with --listen)"
    )]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The operating system's reason (in the message, so not a source too).
        reason: std::io::Error,
    },
}

/// What a run did, for the last line of the log.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct WatchReport {
    /// Route inputs taken in.
    pub routes: u64,
    /// Probe results taken in.
    pub probes: u64,
    /// Probe results of agents taken in (from the broker).
    pub agent_results: u64,
    /// Event updates written.
    pub updates: u64,
    /// Reactive traceroutes that came back (this watch's and its agents').
    pub traces: u64,
}

/// Runs the observatory until `shutdown` resolves; every event update is also
/// handed to `on_update` (the log, alerts, the API's stream).
pub async fn run(
    config: WatchConfig,
    shutdown: impl Future<Output = ()>,
    on_update: impl FnMut(&EventUpdate, &Core),
) -> Result<WatchReport, WatchError> {
    run_with_ready(config, shutdown, || {}, on_update).await
}

/// Like [`run`], calling `on_ready` once the address is taken, the database open
/// and the last run's events taken up, before the feeds and probes start: what
/// can stop watch at its start has passed by then, so a banner printed there is
/// not a lie.
pub async fn run_with_ready<F: FnMut(&EventUpdate, &Core)>(
    config: WatchConfig,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(),
    on_update: F,
) -> Result<WatchReport, WatchError> {
    let (mut watch, mut inputs) = Watch::start(config, on_update).await?;
    on_ready();
    watch.tracer = inputs.start_tracer(&watch.config);
    (watch.agent_tracers, watch.routes_asks) = inputs.start_asking_agents(&watch.config);
    inputs.start_sources(&watch.config);
    watch.acks = inputs.acks.clone();
    let mut clock_tick = tokio::time::interval(Duration::from_secs(1));
    clock_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut vrps_check = tokio::time::interval(Duration::from_secs(VRPS_CHECK_SECS));
    vrps_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(event) = inputs.feeds.recv() => {
                watch.take_feed(event);
                // The rest of the burst, then everything it said goes out at once.
                let mut taken = 1;
                while taken < BURST {
                    match inputs.feeds.try_recv() {
                        Ok(event) => watch.take_feed(event),
                        Err(_) => break,
                    }
                    taken += 1;
                }
                watch.drain(clock::now())?;
            }
            Some(delivery) = inputs.agents.recv() => {
                // What is queued, and what follows within a moment: one drain
                // (a store transaction, a status) per thousands of results at
                // full pace, rather than per handful.
                // A message may carry hundreds of results: the burst counts results.
                let mut held = delivery.message.count();
                let mut batch = vec![delivery];
                let gather_until = tokio::time::Instant::now() + AGENTS_GATHER;
                while held < BURST as u64 {
                    let delivery = match inputs.agents.try_recv() {
                        Ok(delivery) => delivery,
                        Err(mpsc::error::TryRecvError::Empty) => {
                            match tokio::time::timeout_at(gather_until, inputs.agents.recv()).await {
                                Ok(Some(delivery)) => delivery,
                                _ => break,
                            }
                        }
                        Err(mpsc::error::TryRecvError::Disconnected) => break,
                    };
                    held += delivery.message.count();
                    batch.push(delivery);
                }
                // A repeat (its ack was lost with the broker) was taken before.
                for delivery in batch.iter().filter(|d| !d.repeat) {
                    watch.take_agent(&delivery.message);
                }
                // Taken by the engine; acknowledged once written (by this drain,
                // or by the next one that writes). A burst cut short by its size
                // has more behind it: its writing may wait for theirs.
                let more_behind = held >= BURST as u64;
                watch.held.extend(batch);
                watch.settle(clock::now(), more_behind)?;
            }
            Some(report) = inputs.traces.recv() => {
                watch.take_trace(report);
                watch.drain(clock::now())?;
            }
            Some(result) = inputs.probes.recv() => {
                watch.take_probe(result);
                while let Ok(result) = inputs.probes.try_recv() {
                    watch.take_probe(result);
                }
                watch.drain(clock::now())?;
            }
            _ = vrps_check.tick(), if inputs.vrps_file.is_some() && !inputs.vrps_loading => {
                inputs.check_vrps();
            }
            Some(loaded) = inputs.vrps_loaded.recv() => {
                inputs.vrps_loading = false;
                let path = inputs.vrps_file.as_ref().map(|f| f.path().display().to_string()).unwrap_or_default();
                match loaded {
                    Ok(vrps) => {
                        let count = vrps.len();
                        watch.take_vrps(clock::now(), vrps);
                        tracing::info!("{path} changed: {count} VRPs in force now");
                        watch.drain(clock::now())?;
                    }
                    Err(error) => tracing::error!(
                        "{path} changed but cannot be used: {error}; the VRPs read before stay in force"
                    ),
                }
            }
            _ = clock_tick.tick() => watch.drain(clock::now())?,
        }
    }
    inputs.tasks.abort_all();
    watch.drain(clock::now())?;
    watch.acks = None;
    inputs.finish_acks().await;
    watch.stop().await
}

/// The sources of inputs: the feeds, the prober and the VRP file.
struct Inputs {
    feeds: mpsc::Receiver<FeedEvent>,
    feeds_tx: Option<mpsc::Sender<FeedEvent>>,
    probes: mpsc::Receiver<ProbeResult>,
    probes_tx: Option<mpsc::Sender<ProbeResult>>,
    /// The tracer's reports, and where it sends them.
    traces: mpsc::Receiver<TraceReport>,
    traces_tx: Option<mpsc::Sender<TraceReport>>,
    vrps_file: Option<VrpsFile>,
    vrps_loaded: mpsc::Receiver<Result<Vrps, String>>,
    vrps_tx: mpsc::Sender<Result<Vrps, String>>,
    vrps_loading: bool,
    tasks: JoinSet<()>,
    agents: mpsc::Receiver<Delivery>,
    agents_tx: Option<mpsc::Sender<Delivery>>,
    /// Batches of agents' results to acknowledge, to the task that does it (so
    /// that a broker gone away never holds up the loop).
    acks: Option<mpsc::UnboundedSender<Vec<Delivery>>>,
    acker: Option<tokio::task::JoinHandle<()>>,
}

impl Inputs {
    fn new(vrps_file: Option<PathBuf>) -> Self {
        let (feeds_tx, feeds) = mpsc::channel::<FeedEvent>(65_536);
        let (probes_tx, probes) = mpsc::channel::<ProbeResult>(4096);
        let (vrps_tx, vrps_loaded) = mpsc::channel(1);
        let (agents_tx, agents) = mpsc::channel::<Delivery>(BURST);
        let (traces_tx, traces) = mpsc::channel::<TraceReport>(TRACE_QUEUE);
        Inputs {
            traces,
            traces_tx: Some(traces_tx),
            agents,
            agents_tx: Some(agents_tx),
            acks: None,
            acker: None,
            feeds,
            feeds_tx: Some(feeds_tx),
            probes,
            probes_tx: Some(probes_tx),
            vrps_file: vrps_file.map(VrpsFile::new),
            vrps_loaded,
            vrps_tx,
            vrps_loading: false,
            tasks: JoinSet::new(),
        }
    }

    /// Starts the profile's feeds and its probe rounds.
    fn start_sources(&mut self, config: &WatchConfig) {
        let filter = config.tracking.filter();
        if let Some(sender) = self.feeds_tx.take() {
            for feed in &config.profile.feeds {
                let feed = Feed::from_config(feed, &filter);
                let sender = sender.clone();
                self.tasks.spawn(async move {
                    if let Err(error) = feed.run(sender).await {
                        tracing::warn!("a feed stopped: {error}");
                    }
                });
            }
        }
        if let (Some(central), Some(sender)) = (&config.nats, self.agents_tx.take()) {
            let central = central.clone();
            let counters = Arc::new(CentralCounters::default());
            tracing::info!(
                "reading the agents' results of {} from {} (durable consumer {})",
                central.profile,
                blackout_relay::redact(&central.nats),
                central.durable
            );
            self.tasks.spawn(async move {
                if let Err(error) = blackout_relay::consume(central, sender, counters).await {
                    tracing::error!("the agents' results cannot be read: {error}");
                }
            });
            let (acks, mut batches) = mpsc::unbounded_channel::<Vec<Delivery>>();
            self.acks = Some(acks);
            self.acker = Some(tokio::spawn(async move {
                while let Some(batch) = batches.recv().await {
                    let (count, started) = (batch.len(), std::time::Instant::now());
                    if let Err(error) = blackout_relay::ack_all(batch).await {
                        tracing::warn!("{error}; the broker will deliver those results again");
                    }
                    tracing::debug!("{count} results acknowledged in {:?}", started.elapsed());
                }
            }));
        }
        let targets = if config.own_probes {
            targets_from_profile(&config.profile)
        } else {
            Vec::new()
        };
        if let Some(sink) = self.probes_tx.take()
            && !targets.is_empty()
        {
            let prober = Arc::new(Prober::new(EngineConfig::from(&config.profile.probes)));
            if let Some(why) = prober.icmp_unavailable() {
                tracing::warn!("{why}");
            }
            let sink = Arc::new(sink);
            self.tasks
                .spawn(async move { prober.run(targets, sink).await });
        }
    }

    /// Starts the tracer, and returns where to send it the engine's requests;
    /// None (said once in the log) where this process may not open a raw socket,
    /// and for a central that does not probe (its place is no vantage point).
    fn start_tracer(&mut self, config: &WatchConfig) -> Option<mpsc::Sender<TraceRequest>> {
        if !config.own_probes {
            return None;
        }
        let reports = self.traces_tx.take()?;
        if let Some(why) = tracer::unavailable() {
            tracing::warn!("{why}");
            return None;
        }
        let (requests_tx, requests) = mpsc::channel::<TraceRequest>(TRACE_QUEUE);
        let tracer = TracerConfig::from_profile(&config.profile, &config.vantage);
        self.tasks.spawn(tracer::run(tracer, requests, reports));
        Some(requests_tx)
    }

    /// As the central, starts the task that asks every agent for the engine's
    /// traceroutes and a vantage point for its relayed routes, and returns
    /// where to send each.
    fn start_asking_agents(
        &mut self,
        config: &WatchConfig,
    ) -> (
        Option<mpsc::Sender<TraceRequest>>,
        Option<mpsc::Sender<String>>,
    ) {
        let Some(central) = config.nats.clone() else {
            return (None, None);
        };
        let (requests_tx, requests) = mpsc::channel::<TraceRequest>(TRACE_QUEUE);
        let (vantages_tx, vantages) = mpsc::channel::<String>(TRACE_QUEUE);
        self.tasks.spawn(async move {
            if let Err(error) = blackout_relay::ask_agents(central, requests, vantages).await {
                tracing::warn!("the agents cannot be asked for traceroutes or routes: {error}");
            }
        });
        (Some(requests_tx), Some(vantages_tx))
    }

    /// Waits (a few seconds at most) for the acknowledgements under way.
    async fn finish_acks(&mut self) {
        self.acks = None;
        if let Some(acker) = self.acker.take() {
            let _ = tokio::time::timeout(Duration::from_secs(5), acker).await;
        }
    }

    /// Reads the VRP file again if it changed, off the watch loop (a large file
    /// takes a while to parse).
    fn check_vrps(&mut self) {
        let Some(file) = self.vrps_file.as_mut() else {
            return;
        };
        if !file.changed() {
            return;
        }
        let path = file.path().to_path_buf();
        let done = self.vrps_tx.clone();
        self.vrps_loading = true;
        tokio::task::spawn_blocking(move || {
            let _ = done.blocking_send(read_vrps(&path));
        });
    }
}

/// A running watch: the core, the store and everything that hears of events.
struct Watch<F> {
    config: WatchConfig,
    core: Core,
    store: Store,
    publisher: Publisher,
    alerting: Option<Alerting>,
    on_update: F,
    pending: Output,
    report: WatchReport,
    /// Where the engine's traceroute requests go (None: no tracer).
    tracer: Option<mpsc::Sender<TraceRequest>>,
    /// Where they go to be asked of every agent (None: not a central).
    agent_tracers: Option<mpsc::Sender<TraceRequest>>,
    /// Where a vantage point whose relayed routes are missing goes to be asked
    /// for them (None: not a central).
    routes_asks: Option<mpsc::Sender<String>>,
    /// When the status snapshot was last rebuilt.
    status_at: Option<std::time::Instant>,
    /// The agents' relayed feed sessions and the peers each reported.
    relayed: blackout_relay::RelayedSessions,
    /// Deliveries of the agents taken by the engine and not yet written; the
    /// next write hands them to `acks`, and only then may the broker forget them.
    held: Vec<Delivery>,
    /// Where written deliveries go to be acknowledged (None: not a central).
    acks: Option<mpsc::UnboundedSender<Vec<Delivery>>>,
    /// When the store was last written.
    written_at: Option<std::time::Instant>,
    api: Option<(
        tokio::task::JoinHandle<()>,
        tokio::sync::watch::Sender<bool>,
    )>,
}

impl<F: FnMut(&EventUpdate, &Core)> Watch<F> {
    /// Takes the address, opens the database, takes up the last run's open events
    /// and starts serving the API.
    async fn start(config: WatchConfig, on_update: F) -> Result<(Self, Inputs), WatchError> {
        let metrics = Arc::new(Metrics::new());
        let mut alerting = Alerting::start(
            &config.profile.alerts,
            config.profile.entity_labels(),
            Arc::clone(&metrics),
        )?;
        // The address first: a port in use stops watch before anything else starts.
        let listener = match config.listen {
            Some(addr) => Some((
                addr,
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|reason| WatchError::Listen { addr, reason })?,
            )),
            None => None,
        };
        // The one writer of this database: a second watch is refused here.
        let store = Store::open_writer(&config.db)?;
        if let Some(alerting) = &mut alerting {
            let restored = alerting.restore(&store, clock::now())?;
            tracing::info!("alerts: what {restored} recent events announced is remembered");
        }
        let mut core = Core::tracking(
            config.profile.clone(),
            config.tracking.clone(),
            config.vrps.clone(),
            &config.vantage,
        );
        core.restore_last_seen(store.feed_health()?, store.probe_results()?);
        let open = store.open_events_of(&config.profile.name)?;
        let mut pending = Output::default();
        if !open.is_empty() {
            let count = open.len();
            let now = clock::now();
            let left = core.resume(open, now);
            tracing::info!(
                "took up {} events left open by the last run; they go on or end after the first look",
                count - left.len()
            );
            for event in &left {
                tracing::warn!(
                    event = %event.id,
                    entity = %event.entity,
                    "an open event that this profile no longer watches as it was is closed"
                );
            }
            pending.extend(Core::close_unwatched(left, now));
        }
        let publisher = Publisher::new(core.status(clock::now()), metrics);
        let api = listener.map(|(addr, listener)| {
            let state = publisher
                .api_state(config.db.clone())
                .with_allowed_hosts(blackout_api::AllowedHosts::with_names(&config.api_hosts));
            let (stop, mut stopped) = tokio::sync::watch::channel(false);
            tracing::info!("serving the API and the dashboard on http://{addr}/");
            let task = tokio::spawn(async move {
                let shutdown = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                if let Err(error) = blackout_api::serve(listener, state, shutdown).await {
                    tracing::warn!("the API stopped: {error}");
                }
            });
            (task, stop)
        });
        let inputs = Inputs::new(config.vrps_file.clone());
        let mut relayed = blackout_relay::RelayedSessions::default();
        if config.nats.is_some() {
            // The consumer asks every agent for its routes as it starts.
            relayed.asked_everyone(clock::now());
        }
        let watch = Watch {
            config,
            core,
            store,
            publisher,
            alerting,
            on_update,
            pending,
            report: WatchReport::default(),
            tracer: None,
            agent_tracers: None,
            routes_asks: None,
            status_at: None,
            relayed,
            held: Vec::new(),
            acks: None,
            written_at: None,
            api,
        };
        Ok((watch, inputs))
    }

    fn take_feed(&mut self, event: FeedEvent) {
        match event {
            FeedEvent::Input(input) => {
                self.report.routes += 1;
                let output = self.core.on_bgp(&input);
                self.pending.extend(output);
            }
            FeedEvent::Health(health) => self.core.on_feed_health(health),
        }
    }

    fn take_probe(&mut self, result: ProbeResult) {
        self.report.probes += 1;
        let output = self.core.on_probe(result);
        self.pending.extend(output);
    }

    fn take_agent(&mut self, message: &AgentMessage) {
        match message {
            AgentMessage::Results(message) => {
                for result in &message.results {
                    self.report.agent_results += 1;
                    let output = self.core.on_agent_probe(&message.vantage, result);
                    self.pending.extend(output);
                }
            }
            // Named after its vantage point by the decoder.
            AgentMessage::Trace(trace) => {
                tracing::debug!(
                    "a traceroute from {} for {} toward {}",
                    trace.vantage,
                    trace.report.event,
                    trace.report.target
                );
                self.take_trace(trace.report.clone())
            }
            // Route inputs of the vantage's feed, its peers named `VANTAGE/COLLECTOR`,
            // after the losses of an older session's peers.
            AgentMessage::Routes(routes) => {
                // Its first routes: its feeds' tables are awaited only seconds more.
                for (report, until) in self.relayed.heard_from(&routes.vantage, clock::now()) {
                    self.core
                        .on_relayed_feed_health(report.into_health(), until);
                }
                for input in self.relayed.inputs(routes.clone()) {
                    self.report.routes += 1;
                    let output = self.core.on_bgp(&input);
                    self.pending.extend(output);
                }
            }
            // The health of a vantage's relayed feed, named `KIND:VANTAGE/NAME`;
            // its table loading while it is on its way here after a request.
            AgentMessage::Feed(report) => {
                if self.relayed.table_wanted(report, clock::now())
                    && let Some(asks) = &self.routes_asks
                {
                    let _ = asks.try_send(report.vantage.clone());
                }
                let until = self.relayed.feed_reported(report);
                self.core
                    .on_relayed_feed_health(report.clone().into_health(), until);
            }
        }
    }

    fn take_trace(&mut self, report: TraceReport) {
        self.report.traces += 1;
        let output = self.core.on_trace(report);
        self.pending.extend(output);
    }

    fn take_vrps(&mut self, now: Timestamp, vrps: Vrps) {
        let output = self.core.set_vrps(now, vrps);
        self.pending.extend(output);
    }

    /// Time passes to `now`: the core settles, and what is pending is written in
    /// one transaction, then handed on.
    fn drain(&mut self, now: Timestamp) -> Result<(), WatchError> {
        self.settle(now, false)
    }

    /// Like [`Watch::drain`], but when `may_wait` (after a burst of the agents'
    /// results with more behind it) what they changed may wait for the next
    /// write (see [`AGENTS_WRITE_EVERY`]) unless an event changed, a traceroute
    /// is asked for, or too many deliveries wait.
    fn settle(&mut self, now: Timestamp, may_wait: bool) -> Result<(), WatchError> {
        let output = self.core.tick(now);
        self.pending.extend(output);
        let wait = may_wait
            && self.pending.updates.is_empty()
            && self.pending.traces.is_empty()
            && self.held.len() < AGENTS_HELD_MAX
            && self
                .written_at
                .is_some_and(|at| at.elapsed() < AGENTS_WRITE_EVERY);
        let updates = if wait { 0 } else { self.write()? };
        self.report.updates += updates;
        let due = self.status_at.is_none_or(|at| at.elapsed() >= STATUS_EVERY);
        if updates > 0 || due {
            self.publisher.publish_status(self.core.status(now));
            self.status_at = Some(std::time::Instant::now());
        }
        Ok(())
    }

    /// Writes what is pending, then hands the updates on.
    fn write(&mut self) -> Result<u64, WatchError> {
        let pending = std::mem::take(&mut self.pending);
        for request in pending.traces {
            // One asked of an agent alone is not this watch's own to run.
            let own = request.is_for(&self.config.vantage);
            for (tracer, whose, asked) in [
                (&self.tracer, "the tracer's", own),
                (&self.agent_tracers, "the agents'", true),
            ] {
                let Some(tracer) = tracer.as_ref().filter(|_| asked) else {
                    continue;
                };
                if let Err(error) = tracer.try_send(request.clone()) {
                    tracing::warn!(
                        "a traceroute toward an event's target is dropped: {whose} queue is full or gone ({error})"
                    );
                }
            }
        }
        // One transaction for all of it: a kill leaves the drain whole or absent.
        // An event revised several times in one drain is written, streamed and
        // offered to the alerts once, as it last stands.
        let updates = blackout_model::fold_revisions(pending.updates);
        let changes: Vec<(UpdateKind, &blackout_model::Event)> =
            updates.iter().map(|u| (u.kind, &u.event)).collect();
        self.store.write(&Batch {
            owner: Some(&self.core.profile().name),
            events: &changes,
            signals: &pending.series,
            feeds: &pending.feeds,
            probes: &pending.probes,
        })?;
        self.written_at = Some(std::time::Instant::now());
        // Taken by the engine and written: only now may the broker forget them.
        if !self.held.is_empty()
            && let Some(acks) = &self.acks
        {
            let _ = acks.send(std::mem::take(&mut self.held));
        }
        if updates.is_empty() {
            return Ok(0);
        }
        for (change, event) in &changes {
            self.publisher.publish_event(*change, event);
        }
        for update in &updates {
            if let Some(alerting) = &mut self.alerting {
                alerting.offer(update);
            }
            (self.on_update)(update, &self.core);
        }
        Ok(updates.len() as u64)
    }

    /// Stops the API and waits for the alerts under way.
    async fn stop(self) -> Result<WatchReport, WatchError> {
        if let Some(alerting) = self.alerting {
            alerting.finish().await;
        }
        if let Some((task, stop)) = self.api {
            let _ = stop.send(true);
            let _ = task.await;
        }
        Ok(self.report)
    }
}
