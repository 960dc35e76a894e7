//! Helpers shared by the persistence tests (`mod persistence_support;` in
//! `tests/persistence_*.rs`).
//!
//! - [`TempDir`]: a scratch directory for the `--db` files, removed on drop.
//! - [`binary`]: `Mqlite`, the `mqlite` binary on a fixed port with `--db`,
//!   restarted on the same port and file, stopped with SIGTERM or killed
//!   with SIGKILL; `mqlite_exits` for a run that must exit.
//! - [`raw`]: `Raw`, a raw-socket MQTT 3.1.1 client built on
//!   `mqlite::codec`, whose I/O returns `io::Result` (a broker killed under
//!   it is an ordinary event for the crash test), plus panicking `expect_*`
//!   helpers for the scripted tests.
//! - [`server`]: `ApiBroker` (an in-process `Broker` persisting to a file,
//!   in a thread) and `Server`, either it or the binary, per `Mode`, for the
//!   scenarios that run both ways.
//! - [`mqtt`]: `Mqtt`, a rumqttc client driven by the test thread.
//!
//! Every wait is bounded (at most [`TIMEOUT`] per call).

#![allow(dead_code)]

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

pub mod binary;
#[path = "../support/child_output.rs"]
mod child_output;
pub mod mqtt;
pub mod raw;
pub mod server;

#[path = "../support/packets.rs"]
mod packets;
pub use packets::{Msg, Pkt};

/// The longest any single wait lasts.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long to listen before concluding that nothing more is coming.
pub const QUIET: Duration = Duration::from_millis(300);
/// The broker binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_mqlite");

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mqlite-persist-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// The names of the files in the directory, sorted.
    pub fn list(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .expect("read the temp dir")
            .filter_map(|entry| entry.ok())
            .map(|entry| entry.file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A port nothing listens on (bound, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}
