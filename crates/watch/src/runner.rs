//! The edge: sockets, the clock, signals and the database.

use crate::alerts::Alerting;
use crate::core::{Core, Output};
use crate::vrps::{VRPS_CHECK_SECS, VrpsFile, read_vrps};
use blackout_api::{Metrics, Publisher};
use blackout_bgp::Vrps;
use blackout_feeds::{Feed, FeedEvent};
use blackout_model::PrefixFilter;
use blackout_model::{EventUpdate, UpdateKind};
use blackout_probe::{EngineConfig, ProbeResult, Prober, targets_from_profile};
use blackout_profile::Profile;
use blackout_store::{Store, StoreError};
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;

/// What `watch` needs.
pub struct WatchConfig {
    /// What to watch.
    pub profile: Profile,
    /// The database.
    pub db: PathBuf,
    /// The name of this vantage point.
    pub vantage: String,
    /// Validated ROA payloads, if any.
    pub vrps: Vrps,
    /// The file they came from, read again whenever it changes.
    pub vrps_file: Option<PathBuf>,
    /// Where to serve the API and the dashboard (None: nowhere).
    pub listen: Option<std::net::SocketAddr>,
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
    /// Event updates written.
    pub updates: u64,
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
pub async fn run_with_ready(
    config: WatchConfig,
    shutdown: impl Future<Output = ()>,
    on_ready: impl FnOnce(),
    mut on_update: impl FnMut(&EventUpdate, &Core),
) -> Result<WatchReport, WatchError> {
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
    let mut store = Store::open(&config.db)?;
    if let Some(alerting) = &mut alerting {
        let restored = alerting.restore(&store, blackout_model::clock::now())?;
        tracing::info!("alerts: what {restored} recent events announced is remembered");
    }
    let mut core = Core::new(config.profile.clone(), config.vrps, &config.vantage);
    core.restore_last_seen(store.feed_health()?, store.probe_results()?);
    let open = store.open_events_of(&config.profile.name)?;
    let mut pending = Output::default();
    if !open.is_empty() {
        let count = open.len();
        let now = blackout_model::clock::now();
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
    let publisher = Publisher::new(core.status(blackout_model::clock::now()), metrics);
    let (stop_api, api_stopped) = tokio::sync::watch::channel(false);
    let mut api = None;
    if let Some((addr, listener)) = listener {
        let state = publisher.api_state(config.db.clone());
        let mut stopped = api_stopped.clone();
        tracing::info!("serving the API and the dashboard on http://{addr}/");
        api = Some(tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.wait_for(|stop| *stop).await;
            };
            if let Err(error) = blackout_api::serve(listener, state, shutdown).await {
                tracing::warn!("the API stopped: {error}");
            }
        }));
    }
    on_ready();
    let (feed_tx, mut feed_rx) = mpsc::channel::<FeedEvent>(65_536);
    let (probe_tx, mut probe_rx) = mpsc::channel::<ProbeResult>(4096);
    let filter =
        PrefixFilter::new(blackout_bgp::WatchSet::from_profile(&config.profile).all_prefixes());
    let mut tasks = tokio::task::JoinSet::new();
    for feed in &config.profile.feeds {
        let feed = Feed::from_config(feed, &filter);
        let sender = feed_tx.clone();
        tasks.spawn(async move {
            if let Err(error) = feed.run(sender).await {
                tracing::warn!("a feed stopped: {error}");
            }
        });
    }
    drop(feed_tx);
    let targets = targets_from_profile(&config.profile);
    if !targets.is_empty() {
        let prober = Arc::new(Prober::new(EngineConfig::from(&config.profile.probes)));
        if let Some(why) = prober.icmp_unavailable() {
            tracing::warn!("{why}");
        }
        let sink = Arc::new(probe_tx);
        tasks.spawn(async move { prober.run(targets, sink).await });
    } else {
        drop(probe_tx);
    }
    let mut vrps_file = config.vrps_file.clone().map(VrpsFile::new);
    let (vrps_tx, mut vrps_rx) = mpsc::channel::<Result<Vrps, String>>(1);
    let mut vrps_check = tokio::time::interval(Duration::from_secs(VRPS_CHECK_SECS));
    vrps_check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut vrps_loading = false;
    let mut clock = tokio::time::interval(Duration::from_secs(1));
    clock.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut report = WatchReport::default();
    tokio::pin!(shutdown);
    loop {
        tokio::select! {
            () = &mut shutdown => break,
            Some(event) = feed_rx.recv() => match event {
                FeedEvent::Input(input) => {
                    report.routes += 1;
                    absorb(&mut pending, core.on_bgp(&input));
                }
                FeedEvent::Health(health) => core.on_feed_health(health),
            },
            Some(result) = probe_rx.recv() => {
                report.probes += 1;
                absorb(&mut pending, core.on_probe(result));
            }
            _ = vrps_check.tick(), if vrps_file.is_some() && !vrps_loading => {
                if let Some(file) = vrps_file.as_mut()
                    && file.changed()
                {
                    // A large file takes a while to parse: not on the watch loop.
                    let path = file.path().to_path_buf();
                    let done = vrps_tx.clone();
                    vrps_loading = true;
                    tokio::task::spawn_blocking(move || {
                        let _ = done.blocking_send(read_vrps(&path));
                    });
                }
            }
            Some(loaded) = vrps_rx.recv() => {
                vrps_loading = false;
                let path = vrps_file.as_ref().map(|f| f.path().display().to_string()).unwrap_or_default();
                match loaded {
                    Ok(vrps) => {
                        let count = vrps.len();
                        let output = core.set_vrps(blackout_model::clock::now(), vrps);
                        tracing::info!("{path} changed: {count} VRPs in force now");
                        absorb(&mut pending, output);
                    }
                    Err(error) => tracing::error!(
                        "{path} changed but cannot be used: {error}; the VRPs read before stay in force"
                    ),
                }
            }
            _ = clock.tick() => {
                let now = blackout_model::clock::now();
                absorb(&mut pending, core.tick(now));
                report.updates += write(&mut store, &mut pending, &core, &publisher, &mut alerting, &mut on_update)?;
                publisher.publish_status(core.status(now));
            }
        }
    }
    tasks.abort_all();
    absorb(&mut pending, core.tick(blackout_model::clock::now()));
    report.updates += write(
        &mut store,
        &mut pending,
        &core,
        &publisher,
        &mut alerting,
        &mut on_update,
    )?;
    let _ = stop_api.send(true);
    if let Some(alerting) = alerting {
        alerting.finish().await;
    }
    if let Some(api) = api {
        let _ = api.await;
    }
    Ok(report)
}

fn absorb(pending: &mut Output, output: Output) {
    pending.extend(output);
}

/// Writes what is pending in one transaction per kind, then hands the updates on.
fn write(
    store: &mut Store,
    pending: &mut Output,
    core: &Core,
    publisher: &Publisher,
    alerting: &mut Option<Alerting>,
    on_update: &mut impl FnMut(&EventUpdate, &Core),
) -> Result<u64, WatchError> {
    let updates = std::mem::take(&mut pending.updates);
    let signals = std::mem::take(&mut pending.signals);
    if !signals.is_empty() {
        store.record_signals(&signals)?;
    }
    let probes = std::mem::take(&mut pending.probes);
    if !probes.is_empty() {
        store.record_probe_results(&probes)?;
    }
    let feeds = std::mem::take(&mut pending.feeds);
    if !feeds.is_empty() {
        store.record_feed_health(&feeds)?;
    }
    if updates.is_empty() {
        return Ok(0);
    }
    let changes: Vec<(UpdateKind, &blackout_model::Event)> = updates
        .iter()
        .map(|update| (update.kind, &update.event))
        .collect();
    store.record_events_of(&core.profile().name, &changes)?;
    for (change, event) in &changes {
        publisher.publish_event(*change, event);
    }
    for update in &updates {
        if let Some(alerting) = alerting {
            alerting.offer(update);
        }
        on_update(update, core);
    }
    Ok(updates.len() as u64)
}
