//! The broker under test, in-process or as a process: [`ApiBroker`] (the
//! public Rust API, stopped cleanly) and [`Server`], which runs a scenario
//! on either, per [`Mode`], and restarts it on the same file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mqlite::{Broker, BrokerHandle, Config};

use super::binary::Mqlite;
use super::{free_port, TempDir, TIMEOUT};

/// An in-process broker persisting to `db`, run in its own thread.
pub struct ApiBroker {
    addr: SocketAddr,
    db: PathBuf,
    handle: BrokerHandle,
    thread: Option<JoinHandle<Result<(), mqlite::Error>>>,
}

pub fn api_config(db: &Path) -> Config {
    Config {
        listeners: vec!["127.0.0.1:0".parse().unwrap()],
        sys_interval: None,
        persistence: Some(db.to_path_buf()),
        ..Config::default()
    }
}

/// `Broker::new` on `db`. The store's lock is a POSIX record lock, which a
/// child forked by another test thread does not inherit, so a store closed
/// by one test reopens at once (`store_lock_not_held_by_a_forked_child_api`
/// in `persistence_refusals.rs`).
pub fn new_broker_on(db: &Path) -> Broker {
    Broker::new(api_config(db))
        .unwrap_or_else(|error| panic!("the broker cannot start on its store: {error}"))
}

impl ApiBroker {
    pub fn start(db: &Path) -> ApiBroker {
        let mut broker = new_broker_on(db);
        let addr = broker.local_addr();
        let handle = broker.handle();
        let thread = std::thread::Builder::new()
            .name("mqlite-broker".into())
            .spawn(move || broker.run())
            .expect("spawn the broker thread");
        ApiBroker {
            addr,
            db: db.to_path_buf(),
            handle,
            thread: Some(thread),
        }
    }

    /// A clean stop: `stop()`, then `run` must return `Ok` within 5 s.
    pub fn stop(mut self) {
        self.handle.stop();
        let thread = self.thread.take().unwrap();
        let deadline = Instant::now() + TIMEOUT;
        while !thread.is_finished() {
            assert!(
                Instant::now() < deadline,
                "Broker::run did not return within 5 s of stop()"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        match thread.join() {
            Ok(Ok(())) => {}
            Ok(Err(error)) => panic!("Broker::run failed: {error}"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for ApiBroker {
    fn drop(&mut self) {
        if let Some(thread) = self.thread.take() {
            self.handle.stop();
            let deadline = Instant::now() + TIMEOUT;
            while !thread.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// In-process `Broker`, stopped cleanly between runs.
    ApiCleanStop,
    /// The `mqlite` binary, SIGKILLed between runs.
    BinarySigkill,
}

pub enum Server {
    Api(ApiBroker),
    Bin(Mqlite),
}

impl Server {
    pub fn start(mode: Mode, dir: &TempDir) -> Server {
        let db = dir.join("x.db");
        match mode {
            Mode::ApiCleanStop => Server::Api(ApiBroker::start(&db)),
            Mode::BinarySigkill => Server::Bin(Mqlite::start(&db, free_port(), &[])),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Server::Api(broker) => broker.addr,
            Server::Bin(mqlite) => mqlite.addr(),
        }
    }

    /// Ends this broker (clean stop / SIGKILL) and starts a new one on the
    /// same file.
    pub fn restart(self) -> Server {
        match self {
            Server::Api(broker) => {
                let db = broker.db.clone();
                broker.stop();
                Server::Api(ApiBroker::start(&db))
            }
            Server::Bin(mqlite) => Server::Bin(mqlite.kill_and_restart()),
        }
    }

    /// A clean stop at the end of a test.
    pub fn finish(self) {
        match self {
            Server::Api(broker) => broker.stop(),
            Server::Bin(mqlite) => {
                mqlite.stop();
            }
        }
    }
}
