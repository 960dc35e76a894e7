//! The `mqlite` binary as a child process: [`Mqlite`] (started on a port
//! and a `--db` file, restarted, stopped with SIGTERM, killed with SIGKILL)
//! and [`mqlite_exits`] (a run expected to exit, with its stderr).

use std::io;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::BIN;
use crate::support::child_output::collect;
use crate::support::{RawClient, TIMEOUT};

/// Waits for a child to exit, at most `timeout`.
fn wait_exit(child: &mut Child, timeout: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return Some(status);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// What a run of the binary that was expected to exit gave.
pub struct Exited {
    pub status: ExitStatus,
    pub stderr: String,
}

/// Runs the binary with `args` in `cwd`; it must exit within [`TIMEOUT`]
/// (it is killed and the test fails otherwise).
pub fn mqlite_exits(args: &[&str], cwd: &Path) -> Exited {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn mqlite");
    let stderr = collect(child.stderr.take().unwrap());
    let Some(status) = wait_exit(&mut child, TIMEOUT) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!(
            "mqlite {args:?} was expected to exit but still runs after 5 s; stderr: {}",
            stderr.lock().unwrap()
        );
    };
    // The pipe reaches end-of-file once the process is gone.
    std::thread::sleep(Duration::from_millis(30));
    let stderr = stderr.lock().unwrap().clone();
    Exited { status, stderr }
}

/// A running `mqlite -p PORT --db DB` (in the db's directory, so nothing
/// can land in the working tree). Killed on drop if still running.
pub struct Mqlite {
    child: Child,
    pub port: u16,
    pub db: PathBuf,
    extra: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

impl Mqlite {
    /// Starts the binary and waits until it serves: a probe client (clean
    /// session) gets its CONNACK, so the store has been opened and loaded.
    /// Panics (with its stderr) if it exits or is not ready within
    /// [`TIMEOUT`].
    pub fn start(db: &Path, port: u16, extra: &[&str]) -> Mqlite {
        let mqlite = Mqlite::start_listening(db, port, extra);
        static PROBE: AtomicUsize = AtomicUsize::new(0);
        let id = format!("probe-{}", PROBE.fetch_add(1, Ordering::Relaxed));
        match RawClient::try_connect_to(mqlite.addr(), &id, true) {
            Ok((raw, _)) => raw.disconnect(),
            Err(error) => panic!(
                "mqlite on {} listens but does not serve: {error}; stderr: {}",
                mqlite.addr(),
                mqlite.stderr()
            ),
        }
        mqlite
    }

    /// Starts the binary and waits only until its port accepts TCP
    /// connections. The broker binds its listener before it opens the
    /// store, so it may still be loading the file (a kill then lands in the
    /// middle of start-up, which the crash test wants). Panics (with its
    /// stderr) if it exits or does not listen within [`TIMEOUT`].
    pub fn start_listening(db: &Path, port: u16, extra: &[&str]) -> Mqlite {
        Mqlite::try_start(db, port, extra).unwrap_or_else(|error| panic!("{error}"))
    }

    /// [`Mqlite::start_listening`], returning what went wrong instead of
    /// panicking.
    pub fn try_start(db: &Path, port: u16, extra: &[&str]) -> Result<Mqlite, String> {
        let port_text = port.to_string();
        let db_text = db.to_str().expect("a UTF-8 temp path");
        let mut args = vec!["-p", port_text.as_str(), "--db", db_text];
        args.extend_from_slice(extra);
        let cwd = db.parent().expect("the db has a directory");
        let mut child = Command::new(BIN)
            .args(&args)
            .current_dir(cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot spawn {BIN}: {e}"))?;
        let stderr = collect(child.stderr.take().unwrap());
        let mut mqlite = Mqlite {
            child,
            port,
            db: db.to_path_buf(),
            extra: extra.iter().map(|s| s.to_string()).collect(),
            stderr,
        };
        let deadline = Instant::now() + TIMEOUT;
        loop {
            if let Some(status) = mqlite.child.try_wait().expect("try_wait") {
                std::thread::sleep(Duration::from_millis(30));
                return Err(format!(
                    "mqlite {args:?} exited early ({status}): {}",
                    mqlite.stderr()
                ));
            }
            if TcpStream::connect_timeout(&mqlite.addr(), Duration::from_millis(200)).is_ok() {
                return Ok(mqlite);
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "mqlite {args:?} not listening after 5 s: {}",
                    mqlite.stderr()
                ));
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn addr(&self) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to stderr so far.
    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// SIGKILL, as a crash or power cut would end it (no chance to flush or
    /// close anything); waits for the process to be gone. Returns its
    /// stderr.
    pub fn kill(mut self) -> String {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) of our own child, which has not been reaped
        // (we hold its `Child`), so the pid cannot have been reused.
        let rc = unsafe { libc::kill(pid, libc::SIGKILL) };
        assert_eq!(rc, 0, "kill(SIGKILL): {}", io::Error::last_os_error());
        let status = wait_exit(&mut self.child, TIMEOUT).expect("mqlite gone after SIGKILL");
        assert!(!status.success(), "killed mqlite exited with {status}");
        std::thread::sleep(Duration::from_millis(10));
        self.stderr()
    }

    /// SIGKILL, then the same binary, file, port and options again.
    pub fn kill_and_restart(self) -> Mqlite {
        let (db, port, extra) = (self.db.clone(), self.port, self.extra.clone());
        let log = self.kill();
        assert!(!log.contains("panicked"), "mqlite panicked: {log}");
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        Mqlite::start(&db, port, &extra)
    }

    /// SIGTERM (a clean stop); asserts that it exits with 0 and did not
    /// panic. Returns its stderr.
    pub fn stop(mut self) -> String {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: as in `kill`.
        let rc = unsafe { libc::kill(pid, libc::SIGTERM) };
        assert_eq!(rc, 0, "kill(SIGTERM): {}", io::Error::last_os_error());
        let Some(status) = wait_exit(&mut self.child, TIMEOUT) else {
            panic!("mqlite still runs 5 s after SIGTERM: {}", self.stderr());
        };
        std::thread::sleep(Duration::from_millis(30));
        let log = self.stderr();
        assert!(status.success(), "mqlite exited with {status}: {log}");
        assert!(!log.contains("panicked"), "mqlite panicked: {log}");
        log
    }
}

impl Drop for Mqlite {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
