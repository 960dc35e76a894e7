//! [`TestBroker`]: the in-process broker of every test, on `127.0.0.1:0`
//! (its address read back, so no port is guessed), run in its own thread,
//! stopped and joined when dropped; [`test_config`].

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;

use mqlite::codec::QoS;
use mqlite::core::Stats;
use mqlite::{Broker, BrokerHandle, Config};

use super::{join_within, wait_for, wait_until, ConnectOptions, RawClient, TIMEOUT};

/// A config for tests: one listener on a free port, no `$SYS` timer.
pub fn test_config() -> Config {
    Config {
        listeners: vec!["127.0.0.1:0".parse().unwrap()],
        sys_interval: None,
        ..Config::default()
    }
}

/// A broker running in a thread of the test process.
pub struct TestBroker {
    pub addr: SocketAddr,
    /// The addresses of `Config::custom_listeners` (`None`: Unix).
    pub custom: Vec<Option<SocketAddr>>,
    /// The MQTT-SN gateway's UDP addresses (none without one).
    pub mqttsn: Vec<SocketAddr>,
    pub handle: BrokerHandle,
    thread: Option<JoinHandle<Result<(), mqlite::Error>>>,
}

impl TestBroker {
    /// A broker with [`test_config`].
    pub fn start() -> TestBroker {
        TestBroker::start_with(|_| {})
    }

    /// A broker with [`test_config`] changed by `configure`.
    pub fn start_with(configure: impl FnOnce(&mut Config)) -> TestBroker {
        let mut config = test_config();
        configure(&mut config);
        TestBroker::start_setup(config, |_| {})
    }

    /// A broker with `config`, `setup` acting on it first (installing hooks,
    /// subscribing locally: on this thread, before it runs).
    pub fn start_setup(config: Config, setup: impl FnOnce(&mut Broker)) -> TestBroker {
        let mut broker = Broker::new(config).expect("the broker starts");
        setup(&mut broker);
        let addr = broker.local_addr();
        let custom = broker.custom_local_addrs();
        let mqttsn = broker.mqttsn_addrs();
        let handle = broker.handle();
        let thread = std::thread::Builder::new()
            .name("mqlite-broker".into())
            .spawn(move || broker.run())
            .expect("spawn the broker thread");
        TestBroker {
            addr,
            custom,
            mqttsn,
            handle,
            thread: Some(thread),
        }
    }

    /// Stops the broker and returns what `run` returned. Panics if `run`
    /// does not return within [`TIMEOUT`].
    pub fn stop(mut self) -> Result<(), mqlite::Error> {
        self.handle.stop();
        let thread = self.thread.take().expect("not yet stopped");
        join_within(thread, TIMEOUT).expect("Broker::run did not return within 5 s of stop()")
    }

    /// Whether the broker thread has finished.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// A TCP connection, no MQTT yet.
    pub fn socket(&self) -> RawClient {
        RawClient::open(self.addr)
    }

    /// A connected client (CONNACK 0 checked).
    pub fn connect(&self, client_id: &str, clean: bool, keepalive: u16) -> RawClient {
        let mut client = self.socket();
        client.connect(client_id, clean, keepalive);
        client
    }

    /// A connected client with these options (CONNACK 0 checked); returns
    /// it with the session-present flag.
    pub fn connect_with(&self, options: &ConnectOptions) -> (RawClient, bool) {
        let mut client = self.socket();
        let present = client.connect_with(options);
        (client, present)
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.handle.stats(TIMEOUT).expect("stats answered")
    }

    /// Polls the stats until `done` holds (at most [`TIMEOUT`]).
    pub fn stats_until(&self, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
        wait_for(TIMEOUT, what, || Some(self.stats()).filter(|s| done(s)))
    }

    /// The connected client ids, sorted.
    pub fn clients(&self) -> Vec<String> {
        let mut clients = self
            .handle
            .connected_clients(TIMEOUT)
            .expect("connected_clients answered");
        clients.sort();
        clients
    }

    /// Waits until `client_id` is no longer connected (the broker has
    /// handled its disconnection).
    pub fn wait_disconnected(&self, client_id: &str) {
        wait_until(TIMEOUT, &format!("client {client_id} disconnected"), || {
            !self.clients().iter().any(|c| c == client_id)
        });
    }

    /// Checks that the broker still works for a brand new pair of clients:
    /// connect, subscribe, publish QoS 1, receive, disconnect.
    pub fn assert_serves(&self) {
        static PROBE: AtomicUsize = AtomicUsize::new(0);
        let n = PROBE.fetch_add(1, Ordering::Relaxed);
        let topic = format!("probe/{n}");
        let mut sub = self.connect(&format!("probe-sub-{n}"), true, 60);
        assert_eq!(sub.subscribe(&[(&topic, QoS::AtLeastOnce)]), vec![1]);
        let mut publisher = self.connect(&format!("probe-pub-{n}"), true, 60);
        publisher.publish_acked(&topic, b"probe", QoS::AtLeastOnce, false);
        let msg = sub.expect_publish();
        assert_eq!(
            (msg.topic.as_str(), &msg.payload[..]),
            (topic.as_str(), &b"probe"[..])
        );
        sub.ack(&msg);
        publisher.disconnect();
        sub.disconnect();
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.stop();
        let result = join_within(thread, TIMEOUT);
        if std::thread::panicking() {
            return;
        }
        match result {
            None => panic!("Broker::run did not return within 5 s of stop()"),
            Some(Err(error)) => panic!("Broker::run failed: {error}"),
            Some(Ok(())) => {}
        }
    }
}
