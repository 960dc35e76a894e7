//! For the robustness tests (`tests/robust_*.rs`).
//!
//! - [`Mqlite`]: the `mqlite` binary as a child process, with a TOML config
//!   written to a temp dir, listening on a port it picked itself (read back
//!   from its "listening on" log line), its stderr captured, stopped on drop;
//!   [`broker`] starts it with `-v`.
//! - [`procfs`]: process figures read from `/proc`: resident memory
//!   ([`rss_kib`]), CPU time ([`cpu_ticks`]), open descriptors
//!   ([`fd_count`]); [`assert_fds_back`] waits for the descriptor count to
//!   come back down.
//! - [`sys_snapshot`]: the broker's counters as published under
//!   `$SYS/broker/...` (the binary's only way to show its `Stats`).
//! - [`soak_load`] and [`soak_figures`]: the soak's workload and its
//!   measurements (`tests/robust_soak.rs`).
//!
//! The binary is `$MQLITE_BIN` when set (the soak script points it at the
//! release build), else Cargo's `CARGO_BIN_EXE_mqlite`. Every wait is
//! bounded.

pub mod procfs;
pub mod soak_figures;
pub mod soak_load;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::child_output::collect;
use super::{poll_until, Pkt, RawClient, Recv, TempDir};
use mqlite::codec::QoS;

// Each test binary uses a different subset of these.
#[allow(unused_imports)]
pub use procfs::{clk_tck, cpu_share, cpu_ticks, fd_count, files_size, rss_kib};

/// How long the binary may take to start listening.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The broker binary under test.
pub fn bin_path() -> PathBuf {
    match std::env::var_os("MQLITE_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_mqlite")),
    }
}

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

    pub fn start(self) -> Mqlite {
        Mqlite::start(self)
    }
}

/// A running `mqlite` process, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Mqlite {
    child: Child,
    pub addr: SocketAddr,
    stderr: Arc<Mutex<String>>,
    /// The directory holding the config file and the database.
    pub dir: PathBuf,
    /// Owns `dir` unless the caller gave one.
    _temp: Option<TempDir>,
}

impl Mqlite {
    /// Starts the binary and waits until it answers a CONNECT.
    pub fn start(spawn: Spawn) -> Mqlite {
        let (temp, dir) = match &spawn.dir {
            Some(dir) => (None, dir.clone()),
            None => {
                let temp = TempDir::new("robust");
                let dir = temp.0.clone();
                (Some(temp), dir)
            }
        };
        let mut toml = format!("listeners = [\"127.0.0.1:{}\"]\n", spawn.port.unwrap_or(0));
        if !spawn.toml.contains("sys_interval") {
            toml.push_str("sys_interval = 1\n");
        }
        toml.push_str(&spawn.toml);
        toml.push('\n');
        let config = dir.join("mqlite.toml");
        std::fs::write(&config, toml).expect("write the config file");

        let bin = bin_path();
        let mut command = match spawn.nofile {
            Some(n) => {
                let mut command = Command::new("prlimit");
                command.arg(format!("--nofile={n}:{n}")).arg("--").arg(&bin);
                command
            }
            None => Command::new(&bin),
        };
        command.arg("-c").arg(&config);
        if spawn.persist {
            command.arg("--db").arg(dir.join("mqlite.db"));
        } else {
            command.arg("--no-persist");
        }
        if spawn.verbose {
            command.arg("-v");
        }
        let mut child = command
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {command:?}: {e}"));
        let stderr = collect(child.stderr.take().expect("stderr piped"));

        // The port: from the "listening on ADDR" line.
        let deadline = Instant::now() + START_TIMEOUT;
        let addr = loop {
            let text = stderr.lock().unwrap().clone();
            if let Some(addr) = text
                .lines()
                .filter_map(|line| line.split("listening on ").nth(1))
                .filter_map(|rest| rest.trim().parse::<SocketAddr>().ok())
                .next()
            {
                break addr;
            }
            if let Some(status) = child.try_wait().expect("try_wait") {
                panic!("mqlite exited at start ({status}): {text}");
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("mqlite did not log `listening on` within {START_TIMEOUT:?}: {text}");
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mqlite = Mqlite {
            child,
            addr,
            stderr,
            dir,
            _temp: temp,
        };
        let mut probe = RawClient::open(mqlite.addr);
        probe.connect("robust-ready-probe", true, 60);
        probe.disconnect();
        mqlite
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the broker wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

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

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Panics if the process has exited.
    pub fn assert_running(&mut self) {
        if let Some(status) = self.child.try_wait().expect("try_wait") {
            panic!(
                "mqlite exited ({status}); stderr ends with:\n{}",
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

    /// SIGTERM, then waits (at most 10 s) for the exit.
    pub fn stop(mut self) -> ExitStatus {
        self.signal(libc::SIGTERM);
        self.wait_exit(Duration::from_secs(10))
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: libc::c_int) {
        // SAFETY: plain kill(2) on our own child.
        unsafe {
            libc::kill(self.child.id() as libc::pid_t, signal);
        }
    }

    /// Waits for the exit; kills the process and panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                panic!("mqlite did not exit within {timeout:?}");
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Mqlite {
    /// SIGTERM first, so the broker goes through its clean stop (and a
    /// memory checker wrapping it, see `scripts/valgrind.sh`, gets to write
    /// its report); SIGKILL if it has not exited within 10 s.
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_some() {
            return;
        }
        self.signal(libc::SIGTERM);
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if self.child.try_wait().ok().flatten().is_some() {
                return;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `n` lines of `text`.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The `$SYS/broker/...` values (names without the prefix) of the first
/// complete `$SYS` publication after this call (so they count everything
/// the broker had handled when it was called). The reading client itself
/// adds one connected client and one subscription. Panics if none comes
/// within 5 s (needs `sys_interval` of a few seconds at most).
pub fn sys_snapshot(addr: SocketAddr) -> HashMap<String, String> {
    static N: AtomicUsize = AtomicUsize::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let mut client = RawClient::open(addr);
    client.connect(&format!("robust-sys-{}-{n}", std::process::id()), true, 60);
    client.subscribe(&[("$SYS/broker/#", QoS::AtMostOnce)]);
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut values = HashMap::new();
    let mut collecting = false;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "no complete $SYS publication within 5 s");
        match client.recv(left) {
            Recv::Packet(Pkt::Publish(msg)) => {
                // Retained copies (sent on subscribe) may be stale.
                if msg.retain {
                    continue;
                }
                let name = msg.topic.trim_start_matches("$SYS/broker/").to_string();
                if name == "version" {
                    collecting = true;
                    values.clear();
                }
                if collecting {
                    let last = name == "retained messages/count";
                    values.insert(name, String::from_utf8_lossy(&msg.payload).into_owned());
                    if last {
                        break;
                    }
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
