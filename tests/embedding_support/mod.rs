//! The harness shared by the embedding tests (`mod embedding_support;` in
//! each `tests/embedding_*.rs`).
//!
//! - [`start`] and [`Running`]: a [`Broker`] on a loopback port, run by
//!   `Broker::run` in its own thread after a setup closure has installed
//!   hooks or local subscriptions; stopped (and checked to stop) on drop.
//! - [`mqtt`]: a rumqttc client ([`mqtt::Mqtt`]) whose events a thread
//!   forwards to the test, with `connected()` / `refusal()` for the CONNACK.
//! - [`raw`]: a raw-socket MQTT 3.1.1 client built on `mqlite::codec`, for
//!   exact packets and disconnect reasons.
//! - [`events`]: the event hook's events, owned, with a recording hook.
//! - [`Got`], [`forward`], [`recv`], [`recv_local`]: what local
//!   subscriptions (callbacks and channels) deliver.
//!
//! Every wait is bounded (at most [`TIMEOUT`] per call).

#![allow(dead_code)]

pub mod events;
pub mod mqtt;
pub mod raw;

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use mqlite::{Broker, BrokerHandle, Config, Message, QoS, Stats};

/// The longest any single wait lasts.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long to listen before concluding that nothing more is coming.
pub const QUIET: Duration = Duration::from_millis(300);

/// One listener on an ephemeral loopback port, no `$SYS`.
pub fn test_config() -> Config {
    Config {
        listeners: vec!["127.0.0.1:0".parse().unwrap()],
        sys_interval: None,
        ..Config::default()
    }
}

// ---------------------------------------------------------------------------
// A broker in a thread.

pub struct Running {
    pub addr: SocketAddr,
    pub handle: BrokerHandle,
    thread: Option<JoinHandle<Result<(), mqlite::Error>>>,
}

/// Starts a broker with `config`, letting `setup` act on it first (install
/// hooks, subscribe locally: on this thread, before it runs).
pub fn start(config: Config, setup: impl FnOnce(&mut Broker)) -> Running {
    let mut broker = Broker::new(config).expect("the broker starts");
    setup(&mut broker);
    let addr = broker.local_addr();
    let handle = broker.handle();
    let thread = thread::spawn(move || broker.run());
    Running {
        addr,
        handle,
        thread: Some(thread),
    }
}

impl Running {
    pub fn stats(&self) -> Stats {
        self.handle.stats(TIMEOUT).expect("the broker answers")
    }

    /// Polls the stats until `done` holds (at most [`TIMEOUT`]).
    pub fn stats_until(&self, what: &str, done: impl Fn(&Stats) -> bool) -> Stats {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let stats = self.stats();
            if done(&stats) {
                return stats;
            }
            assert!(Instant::now() < deadline, "{what} within 5 s: {stats:?}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// The connected clients' ids, sorted.
    pub fn clients(&self) -> Vec<String> {
        let mut clients = self.handle.connected_clients(TIMEOUT).unwrap();
        clients.sort();
        clients
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        self.handle.stop();
        let Some(thread) = self.thread.take() else {
            return;
        };
        let deadline = Instant::now() + TIMEOUT;
        while !thread.is_finished() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(5));
        }
        if thread::panicking() {
            return;
        }
        assert!(
            thread.is_finished(),
            "Broker::run did not return within 5 s of stop()"
        );
        thread
            .join()
            .expect("the broker thread panicked")
            .expect("Broker::run failed");
    }
}

// ---------------------------------------------------------------------------
// What local subscriptions receive.

pub fn text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// What a test keeps of a message.
#[derive(Clone, Debug, PartialEq)]
pub struct Got {
    pub topic: String,
    pub payload: String,
    pub qos: QoS,
    pub retain: bool,
}

impl Got {
    pub fn of(message: &Message) -> Got {
        Got {
            topic: message.topic().to_string(),
            payload: text(message.payload()),
            qos: message.qos(),
            retain: message.retain(),
        }
    }
}

/// A callback sending what it receives to a channel.
pub fn forward(tx: mpsc::Sender<Got>) -> impl FnMut(&Message) + Send + 'static {
    move |message| {
        let _ = tx.send(Got::of(message));
    }
}

pub fn recv(rx: &mpsc::Receiver<Got>, what: &str) -> Got {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("no {what} within 5 s"))
}

pub fn recv_local(rx: &mqlite::LocalReceiver, what: &str) -> Got {
    let message = rx
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|| panic!("no {what} within 5 s"));
    Got::of(&message)
}
