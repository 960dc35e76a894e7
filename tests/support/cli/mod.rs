//! For the tests of the `mqlite` binary's command line
//! (`tests/broker_cli*.rs`):
//!
//! - [`Mqlite`]: the binary as a child process on a free port, in a temp
//!   dir, ready once it answers a CONNECT, its stderr captured, killed on
//!   drop; [`mqlite_exits`] for runs that must end on their own.
//! - [`mosquitto`]: Debian's `mosquitto_pub` / `mosquitto_sub` against it.

pub mod mosquitto;

pub use super::child_output::collect;

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{ConnectOptions, RawClient, TempDir, TIMEOUT};

pub const BIN: &str = env!("CARGO_BIN_EXE_mqlite");

/// A port nothing listens on (bound, read, released).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind a free port");
    listener.local_addr().unwrap().port()
}

pub fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], port))
}

/// Waits for a child to exit, at most `timeout`; kills it and panics
/// otherwise.
pub fn wait_exit(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {timeout:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Runs a command to completion (at most `timeout`), capturing its output.
pub fn run(command: &mut Command, timeout: Duration) -> Output {
    let what = format!("{command:?}");
    let mut child = command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run {what}: {e}"));
    let stdout = collect(child.stdout.take().unwrap());
    let stderr = collect(child.stderr.take().unwrap());
    let status = wait_exit(&mut child, timeout, &what);
    // The pipes reach end-of-file once the process is gone.
    std::thread::sleep(Duration::from_millis(20));
    let out = stdout.lock().unwrap().clone();
    let err = stderr.lock().unwrap().clone();
    Output {
        status,
        stdout: out.into_bytes(),
        stderr: err.into_bytes(),
    }
}

/// Runs the mqlite binary with `args` to completion (it must exit).
pub fn mqlite_exits(args: &[&str], cwd: &Path) -> Output {
    run(Command::new(BIN).args(args).current_dir(cwd), TIMEOUT)
}

/// A running `mqlite` process, killed on drop.
pub struct Mqlite {
    child: Child,
    pub port: u16,
    stderr: Arc<Mutex<String>>,
    pub dir: TempDir,
}

impl Mqlite {
    /// `mqlite -p PORT --no-persist ARGS...` in a fresh temp dir, ready.
    pub fn start(args: &[&str]) -> Mqlite {
        let port = free_port();
        let port_text = port.to_string();
        let mut all = vec!["-p", &port_text, "--no-persist"];
        all.extend_from_slice(args);
        Mqlite::start_exact(&all, port, TempDir::new("run"))
    }

    /// The binary with exactly these args, in `dir`, expected to listen on
    /// `port`.
    pub fn start_exact(args: &[&str], port: u16, dir: TempDir) -> Mqlite {
        let mut child = Command::new(BIN)
            .args(args)
            .current_dir(&dir.0)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn mqlite");
        let stderr = collect(child.stderr.take().unwrap());
        let mut mqlite = Mqlite {
            child,
            port,
            stderr,
            dir,
        };
        mqlite.wait_ready();
        mqlite
    }

    /// Waits until the port accepts a complete MQTT exchange.
    fn wait_ready(&mut self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                panic!("mqlite exited early ({status}): {}", self.stderr());
            }
            if TcpStream::connect_timeout(&addr(self.port), Duration::from_millis(200)).is_ok() {
                // Any CONNACK will do: with a password file the anonymous
                // probe is refused, but the broker has answered.
                let mut probe = RawClient::open(addr(self.port));
                probe.send_connect(&ConnectOptions::new("ready-probe"));
                let _ = probe.expect_connack();
                return;
            }
            assert!(
                Instant::now() < deadline,
                "mqlite not listening on {} after 5 s: {}",
                self.port,
                self.stderr()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        addr(self.port)
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) on our own child.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(rc, 0, "kill({pid}, {signal})");
    }

    /// Waits (at most 5 s) for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        wait_exit(&mut self.child, TIMEOUT, "mqlite")
    }
}

impl Drop for Mqlite {
    fn drop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
