//! For the robustness tests (`tests/robust_*.rs`).
//!
//! - [`Spawn`]: the `mqlite` binary ([`Mqlite`], `support/binary.rs`)
//!   with a TOML config written to a temp dir; [`broker`] starts it with
//!   `-v`.
//! - [`procfs`]: process figures read from `/proc`: resident memory
//!   ([`rss_kib`]), CPU time ([`cpu_ticks`]), open descriptors
//!   ([`fd_count`]); [`assert_fds_back`] waits for the descriptor count to
//!   come back down.
//! - [`sys_snapshot`]: the broker's counters as published under
//!   `$SYS/broker/...` (the binary's only way to show its `Stats`).
//! - [`soak_load`] and [`soak_figures`]: the soak's workload and its
//!   measurements (`tests/robust/soak.rs`).
//!
//! Every wait is bounded.

pub mod procfs;
pub mod soak_figures;
pub mod soak_load;

use std::collections::HashMap;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[allow(unused_imports)]
pub use super::binary::{bin_path, Mqlite, START_TIMEOUT};
use super::binary::{Launch, Ready};
use super::{poll_until, Pkt, RawClient, Recv, TempDir};
use mqlite::codec::QoS;

// Each test binary uses a different subset of these.
#[allow(unused_imports)]
pub use procfs::{clk_tck, cpu_share, cpu_ticks, fd_count, files_size, rss_kib};

/// How to start the binary.
#[derive(Clone, Debug, Default)]
pub struct Spawn {
    /// Extra TOML lines. `listeners` is always set by us; `sys_interval = 1`
    /// is added unless these lines set it.
    pub toml: String,
    /// `-v`: debug logging (every connection and packet error).
    pub verbose: bool,
    /// Persistence on, with `--db DIR/mqlite.db`; off (`--no-persist`)
    /// otherwise.
    pub persist: bool,
    /// Run under `prlimit --nofile=N:N`.
    pub nofile: Option<u64>,
    /// Listen on this port instead of a free one (for restarts).
    pub port: Option<u16>,
    /// Use this directory (config file, database) instead of a fresh one
    /// (for restarts on the same database).
    pub dir: Option<PathBuf>,
}

impl Spawn {
    pub fn new(toml: &str) -> Spawn {
        Spawn {
            toml: toml.to_string(),
            ..Spawn::default()
        }
    }

    pub fn verbose(mut self) -> Spawn {
        self.verbose = true;
        self
    }

    pub fn persist(mut self) -> Spawn {
        self.persist = true;
        self
    }

    pub fn nofile(mut self, n: u64) -> Spawn {
        self.nofile = Some(n);
        self
    }

    pub fn port(mut self, port: u16) -> Spawn {
        self.port = Some(port);
        self
    }

    pub fn dir(mut self, dir: &Path) -> Spawn {
        self.dir = Some(dir.to_path_buf());
        self
    }

    /// Starts the binary and waits until it answers a CONNECT.
    pub fn start(self) -> Mqlite {
        let (temp, dir) = match &self.dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = TempDir::new("robust");
                let dir = temp.0.clone();
                (Some(temp), dir)
            }
        };
        let mut toml = format!("listeners = [\"127.0.0.1:{}\"]\n", self.port.unwrap_or(0));
        if !self.toml.contains("sys_interval") {
            toml.push_str("sys_interval = 1\n");
        }
        toml.push_str(&self.toml);
        toml.push('\n');
        let config = dir.join("mqlite.toml");
        std::fs::write(&config, toml).expect("write the config file");

        let bin = bin_path();
        let mut args: Vec<OsString> = Vec::new();
        let program = match self.nofile {
            Some(n) => {
                args.extend([format!("--nofile={n}:{n}").into(), "--".into(), bin.into()]);
                PathBuf::from("prlimit")
            }
            None => bin,
        };
        args.extend(["-c".into(), config.into()]);
        if self.persist {
            args.extend(["--db".into(), dir.join("mqlite.db").into()]);
        } else {
            args.push("--no-persist".into());
        }
        if self.verbose {
            args.push("-v".into());
        }
        let launch = Launch {
            program,
            args,
            cwd: dir,
            port: self.port,
        };
        let mut mqlite = Mqlite::launch(launch, Ready::Serving).unwrap_or_else(|e| panic!("{e}"));
        mqlite.own_dir(temp);
        mqlite
    }
}

/// What only the robustness tests ask of the binary.
impl Mqlite {
    /// The lines of stderr containing `needle`.
    pub fn log_lines(&self, needle: &str) -> Vec<String> {
        self.stderr()
            .lines()
            .filter(|line| line.contains(needle))
            .map(str::to_string)
            .collect()
    }

    /// Waits up to `timeout` for a stderr line containing every one of
    /// `needles`; returns it.
    pub fn wait_log(&self, needles: &[&str], timeout: Duration) -> Option<String> {
        let mut found = None;
        poll_until(timeout, || {
            found = self
                .stderr()
                .lines()
                .find(|line| needles.iter().all(|n| line.contains(n)))
                .map(str::to_string);
            found.is_some()
        });
        found
    }

    /// Panics unless a stderr line containing every one of `needles`
    /// appears within 5 s; returns it.
    pub fn assert_log(&self, needles: &[&str]) -> String {
        match self.wait_log(needles, Duration::from_secs(5)) {
            Some(line) => line,
            None => panic!(
                "no log line with {needles:?}; stderr ends with:\n{}",
                tail(&self.stderr(), 40)
            ),
        }
    }

    /// Panics if the process has exited.
    pub fn assert_running(&mut self) {
        if !self.is_running() {
            panic!(
                "mqlite exited; stderr ends with:\n{}",
                tail(&self.stderr(), 40)
            );
        }
    }

    pub fn rss_kib(&self) -> u64 {
        rss_kib(self.pid())
    }

    pub fn cpu_ticks(&self) -> u64 {
        cpu_ticks(self.pid())
    }

    pub fn fd_count(&self) -> usize {
        fd_count(self.pid())
    }

    /// The `$SYS/broker/...` counters, published after this call.
    pub fn sys(&self) -> HashMap<String, String> {
        sys_snapshot(self.addr)
    }

    /// One `$SYS/broker/...` counter, published after this call.
    pub fn sys_u64(&self, name: &str) -> u64 {
        sys_u64(&self.sys(), name)
    }

    /// Checks that a brand new pair of clients is served.
    pub fn assert_serves(&mut self) {
        self.assert_running();
        assert_serves(self.addr);
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The `$SYS/broker/...` values (names without the prefix) as of the
/// first `$SYS` round after this call (so they count everything the broker
/// had handled when it was called): the retained copies the subscription
/// brings, updated by what the round publishes, which ends with the
/// uptime (a round sends only the values that changed). The reading
/// client itself adds one connected client and one subscription. Panics
/// if no round comes within 5 s (needs `sys_interval` of a few seconds at
/// most).
pub fn sys_snapshot(addr: SocketAddr) -> HashMap<String, String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut client = RawClient::open(addr);
    client.connect(&format!("robust-sys-{}-{n}", std::process::id()), true, 60);
    client.subscribe(&[("$SYS/broker/#", QoS::AtMostOnce)]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut values = HashMap::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no complete $SYS publication within 5 s");
        match client.recv(left) {
            Recv::Packet(Pkt::Publish(msg)) => {
                let name = msg.topic.trim_start_matches("$SYS/broker/").to_string();
                // Retained copies come first, on subscribe; a live uptime
                // ends a round that ran after it.
                let last = name == "uptime" && !msg.retain;
                values.insert(name, String::from_utf8_lossy(&msg.payload).into_owned());
                if last {
                    break;
                }
            }
            Recv::Packet(other) => panic!("unexpected {other:?} while reading $SYS"),
            Recv::Closed => panic!("the broker closed the $SYS reader"),
            Recv::Timeout => {}
        }
    }
    client.disconnect();
    values
}

/// A numeric `$SYS` value ("12", or "12 seconds").
pub fn sys_u64(values: &HashMap<String, String>, name: &str) -> u64 {
    values
        .get(name)
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no numeric $SYS value {name}: {values:?}"))
}

/// Checks that the broker at `addr` serves a brand new pair of clients:
/// connect, subscribe, publish QoS 1, receive, disconnect.
pub fn assert_serves(addr: SocketAddr) {
    static PROBE: AtomicUsize = AtomicUsize::new(0);
    let n = PROBE.fetch_add(1, Ordering::Relaxed);
    let topic = format!("robust-probe/{n}");
    let mut sub = RawClient::open(addr);
    sub.connect(&format!("robust-probe-sub-{n}"), true, 60);
    assert_eq!(sub.subscribe(&[(&topic, QoS::AtLeastOnce)]), vec![1]);
    let mut publisher = RawClient::open(addr);
    publisher.connect(&format!("robust-probe-pub-{n}"), true, 60);
    publisher.publish_acked(&topic, b"probe", QoS::AtLeastOnce, false);
    sub.expect_message(&topic, b"probe");
    publisher.disconnect();
    sub.disconnect();
}

/// A broker run with `-v` (every connection and packet error logged) and
/// these config lines.
pub fn broker(toml: &str) -> Mqlite {
    Spawn::new(toml).verbose().start()
}

/// Waits (at most 10 s) until the broker holds no more descriptors than
/// `baseline`: the abusers' sockets are all closed.
pub fn assert_fds_back(broker: &Mqlite, baseline: usize) {
    let ok = poll_until(Duration::from_secs(10), || broker.fd_count() <= baseline);
    assert!(
        ok,
        "the broker still holds {} descriptors (baseline {baseline})",
        broker.fd_count()
    );
}

/// Pings from a neighbour client `client_id` every 50 ms until `stop`;
/// returns the slowest round trip. Panics if one takes longer than 5 s.
pub fn neighbour_pings(
    addr: SocketAddr,
    client_id: &str,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Duration> {
    let mut neighbour = RawClient::open(addr);
    neighbour.connect(client_id, true, 0);
    std::thread::spawn(move || {
        let mut worst = Duration::ZERO;
        while !stop.load(Ordering::Relaxed) {
            let started = Instant::now();
            neighbour.ping();
            worst = worst.max(started.elapsed());
            std::thread::sleep(Duration::from_millis(50));
        }
        neighbour.disconnect();
        worst
    })
}
