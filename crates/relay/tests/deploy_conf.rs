//! The shipped broker configuration (`deploy/nats-server.conf`) against a real
//! nats-server (Debian's package) started with it on a loopback port, its store in
//! a temporary directory: the logins in the agents' and the central's URLs are
//! used, and each role may do what it needs and nothing more. Probes go to
//! loopback only. Without nats-server the tests say so and pass.

use async_nats::jetstream::{self, consumer::pull, message::PublishMessage};
use blackout_profile::Profile;
use blackout_relay::{
    AgentConfig, AgentCounters, AgentResult, CentralConfig, CentralCounters, consume, run_agent,
};
use blackout_testdata::nats::{NatsServer, free_port};
use std::net::TcpListener;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, oneshot};

/// The stream of the test's profile, `deploytest`, in place of the file's `kp`.
const STREAM: &str = "BLACKOUT_RESULTS_deploytest";

/// The agent vp-1's password in the test's copy of the file: every character a
/// URL must percent-encode.
const AGENT_PASSWORD: &str = "p@ss:w/rd%1";
const AGENT_PASSWORD_IN_URL: &str = "p%40ss%3Aw%2Frd%251";
const CENTRAL_PASSWORD: &str = "CHANGE-ME-central";

/// A nats-server running the shipped configuration, on a loopback port.
struct Broker {
    server: NatsServer,
}

impl Broker {
    /// Starts one, or None (with the reason printed) when nats-server is missing.
    fn start(dir: &Path) -> Option<Broker> {
        if !NatsServer::installed() {
            return None;
        }
        let port = free_port();
        let shipped = std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy/nats-server.conf"),
        )
        .unwrap();
        // Only the address, the store, one password and the profile change.
        let conf = shipped
            .replace("listen: 0.0.0.0:4222", &format!("listen: 127.0.0.1:{port}"))
            .replace(
                "store_dir: \"/var/lib/nats-blackout\"",
                &format!("store_dir: \"{}\"", dir.join("store").display()),
            )
            .replace("CHANGE-ME-agent-vp-1", AGENT_PASSWORD)
            .replace("BLACKOUT_RESULTS_kp", STREAM);
        assert_ne!(conf, shipped);
        assert!(conf.contains(&format!("127.0.0.1:{port}")));
        let path = dir.join("nats-server.conf");
        std::fs::write(&path, conf).unwrap();
        let server = NatsServer::with_config(port, &path);
        Some(Broker { server })
    }

    fn url(&self, user: &str, password: &str) -> String {
        format!("nats://{user}:{password}@127.0.0.1:{}", self.server.port())
    }

    fn agent_url(&self) -> String {
        self.url("agent-vp-1", AGENT_PASSWORD_IN_URL)
    }

    fn central_url(&self) -> String {
        self.url("central", CENTRAL_PASSWORD)
    }

    /// A JetStream context logged in as `user`, whose requests give up after 1 s
    /// (a request the broker refuses gets no answer).
    async fn jetstream(&self, user: &str, password: &str) -> jetstream::Context {
        let client = async_nats::ConnectOptions::with_user_and_password(
            user.to_string(),
            password.to_string(),
        )
        .connect(format!("127.0.0.1:{}", self.server.port()))
        .await
        .unwrap();
        let mut js = jetstream::new(client);
        js.set_timeout(Duration::from_secs(1));
        js
    }
}

/// A profile with one loopback host that answers and one control, probed every
/// 0.1 s.
fn profile(open: &TcpListener) -> Profile {
    let port = open.local_addr().unwrap().port();
    let text = format!(
        r#"
name = "deploytest"

[[network]]
name = "Loopback Net"
asn = 64500
prefixes = ["192.0.2.0/24"]

[[host]]
name = "open.loopback.test"
address = "127.0.0.1"
checks = ["tcp:{port}"]

[[control]]
name = "control.loopback.test"
address = "127.0.0.1"
checks = ["tcp:{port}"]

[probes]
interval_secs = 0.1
jitter = 0.0
timeout_secs = 0.5
retries = 0
"#
    );
    blackout_profile::load_str(&text, "deploytest.toml").unwrap()
}

/// Runs the agent vp-1 with `url` until `count` results are published.
async fn agent_publishes(profile: &Profile, url: &str, buffer: &Path, count: u64) {
    let counters = Arc::new(AgentCounters::default());
    let (stop, stopped) = oneshot::channel::<()>();
    let config = AgentConfig {
        profile: profile.clone(),
        vantage: "vp-1".into(),
        location: None,
        nats: url.into(),
        buffer_dir: buffer.into(),
        buffer_max_bytes: 1 << 20,
        feeds: Vec::new(),
    };
    let task = tokio::spawn(run_agent(config, Arc::clone(&counters), async move {
        let _ = stopped.await;
    }));
    let deadline = Instant::now() + Duration::from_secs(20);
    while counters.published.load(Ordering::Relaxed) + counters.resent.load(Ordering::Relaxed)
        < count
    {
        assert!(
            Instant::now() < deadline,
            "the agent did not publish {count} results: {:?}",
            counters.report(0)
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_and_the_central_log_in_with_the_users_in_their_urls() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(dir.path()) else {
        return;
    };
    // Without a login the broker refuses the connection.
    let anonymous = async_nats::ConnectOptions::new()
        .connect(format!("127.0.0.1:{}", broker.server.port()))
        .await;
    assert!(anonymous.is_err(), "an anonymous client was let in");

    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let profile = profile(&open);
    agent_publishes(
        &profile,
        &broker.agent_url(),
        &dir.path().join("buffer"),
        10,
    )
    .await;

    let (tx, mut rx) = mpsc::channel(64);
    let counters = Arc::new(CentralCounters::default());
    let central = tokio::spawn(consume(
        CentralConfig::new(&broker.central_url(), "deploytest"),
        tx,
        Arc::clone(&counters),
    ));
    let mut got: Vec<AgentResult> = Vec::new();
    while got.len() < 10 {
        let delivery = tokio::time::timeout(Duration::from_secs(20), rx.recv())
            .await
            .expect("the central reads the agent's results")
            .unwrap();
        delivery.ack_confirmed().await.unwrap();
        got.extend(
            delivery
                .message
                .as_results()
                .cloned()
                .into_iter()
                .flat_map(|results| results.into_each()),
        );
    }
    central.abort();
    assert!(got.iter().all(|result| result.vantage == "vp-1"));
    assert_eq!(counters.rejected.load(Ordering::Relaxed), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_may_publish_only_its_own_results_and_read_or_delete_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let Some(broker) = Broker::start(dir.path()) else {
        return;
    };
    let open = TcpListener::bind("127.0.0.1:0").unwrap();
    let profile = profile(&open);
    // The agent creates the stream and fills it a little.
    agent_publishes(&profile, &broker.agent_url(), &dir.path().join("buffer"), 5).await;

    let agent = broker.jetstream("agent-vp-1", AGENT_PASSWORD).await;
    let central = broker.jetstream("central", CENTRAL_PASSWORD).await;
    let messages = || async {
        let mut stream = central.get_stream(STREAM).await.unwrap();
        stream.info().await.unwrap().state.messages
    };
    let before = messages().await;
    assert!(before >= 5);

    // Its own subject, yes; another vantage point's, no.
    let own = agent
        .send_publish(
            "blackout.v1.deploytest.vp-1.results",
            PublishMessage::build().payload("own".into()),
        )
        .await
        .unwrap()
        .await;
    assert!(own.is_ok(), "{own:?}");
    let other = async {
        agent
            .send_publish(
                "blackout.v1.deploytest.vp-2.results",
                PublishMessage::build().payload("forged".into()),
            )
            .await
            .map_err(|error| error.to_string())?
            .await
            .map_err(|error| error.to_string())
    }
    .await;
    assert!(other.is_err(), "vp-1 published as vp-2: {other:?}");
    assert_eq!(messages().await, before + 1);

    // It may look the stream up, but neither read it nor delete or purge it.
    let stream = agent.get_stream(STREAM).await.unwrap();
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("agent-reads".to_string()),
            ..Default::default()
        })
        .await;
    assert!(consumer.is_err(), "an agent created a consumer");
    let ephemeral = stream.create_consumer(pull::Config::default()).await;
    assert!(ephemeral.is_err(), "an agent created an ephemeral consumer");
    assert!(
        agent.delete_stream(STREAM).await.is_err(),
        "an agent deleted the stream"
    );
    assert!(stream.purge().await.is_err(), "an agent purged the stream");

    // Nor may the central publish results or delete the stream.
    let forged = async {
        central
            .send_publish(
                "blackout.v1.deploytest.vp-1.results",
                PublishMessage::build().payload("forged".into()),
            )
            .await
            .map_err(|error| error.to_string())?
            .await
            .map_err(|error| error.to_string())
    }
    .await;
    assert!(
        forged.is_err(),
        "the central published a result: {forged:?}"
    );
    assert!(
        central.delete_stream(STREAM).await.is_err(),
        "the central deleted the stream"
    );
    assert_eq!(messages().await, before + 1, "the stream is whole");
}
