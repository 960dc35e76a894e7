//! For the persistence tests (`tests/persistence_*.rs`): the broker under
//! test in-process or as a process, per [`Mode`], restarted on the same
//! database file ([`Server`]); the binary is [`Mqlite`]
//! (`support/binary.rs`) with `--db`.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use mqlite::{Broker, Config};

#[allow(unused_imports)]
pub use super::binary::{mqlite_exits, Mqlite, Ready};
use super::{test_config, TempDir, TestBroker};

/// [`test_config`] persisting to `db`.
pub fn api_config(db: &Path) -> Config {
    Config {
        persistence: Some(db.to_path_buf()),
        ..test_config()
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

/// An in-process broker persisting to `db`, run in its own thread.
pub fn api_broker(db: &Path) -> TestBroker {
    TestBroker::start_setup(api_config(db), |_| {})
}

#[derive(Clone, Copy, Debug)]
pub enum Mode {
    /// In-process `Broker`, stopped cleanly between runs.
    ApiCleanStop,
    /// The `mqlite` binary, SIGKILLed between runs.
    BinarySigkill,
}

pub enum Server {
    Api(TestBroker, PathBuf),
    Bin(Mqlite),
}

impl Server {
    pub fn start(mode: Mode, dir: &TempDir) -> Server {
        let db = dir.path("x.db");
        match mode {
            Mode::ApiCleanStop => Server::Api(api_broker(&db), db),
            Mode::BinarySigkill => Server::Bin(Mqlite::start_db(&db, None, &[], Ready::Serving)),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Server::Api(broker, _) => broker.addr,
            Server::Bin(mqlite) => mqlite.addr(),
        }
    }

    /// Ends this broker (clean stop / SIGKILL) and starts a new one on the
    /// same file.
    pub fn restart(self) -> Server {
        match self {
            Server::Api(broker, db) => {
                broker.stop().expect("Broker::run failed");
                Server::Api(api_broker(&db), db)
            }
            Server::Bin(mqlite) => Server::Bin(mqlite.kill_and_restart()),
        }
    }

    /// A clean stop at the end of a test.
    pub fn finish(self) {
        match self {
            Server::Api(broker, _) => broker.stop().expect("Broker::run failed"),
            Server::Bin(mqlite) => {
                mqlite.stop();
            }
        }
    }
}
