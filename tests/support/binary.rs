//! The `mqlite` binary as a child process: [`Mqlite`], the one wrapper of
//! the tests that run it (command line, persistence, robustness), and
//! [`mqlite_exits`] / [`run`] for runs that must end on their own.
//!
//! A first start asks for port 0 and reads the address the binary bound
//! from its `mqlite: listening on ADDR` stderr line, so no two tests can
//! race for a port. A restart on the same port (the persistence tests kill
//! the binary and start it again on the same file and address) passes the
//! port the first run got: the test owns it, and the start is retried while
//! the port is briefly unavailable.
//!
//! The binary is `$MQLITE_BIN` when set (the soak and valgrind scripts
//! point it elsewhere), else Cargo's `CARGO_BIN_EXE_mqlite`.

use std::ffi::OsString;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::child_output::{collect, Collected};
use super::{poll_until, ConnectOptions, RawClient, TempDir, TIMEOUT};

/// How long the binary may take to start listening, or to exit once asked.
pub const START_TIMEOUT: Duration = Duration::from_secs(10);

/// The broker binary under test.
pub fn bin_path() -> PathBuf {
    match std::env::var_os("MQLITE_BIN") {
        Some(path) => PathBuf::from(path),
        None => PathBuf::from(env!("CARGO_BIN_EXE_mqlite")),
    }
}

/// The address of the first `mqlite: listening on ADDR` line of `stderr`.
pub fn listening_addr(stderr: &str) -> Option<SocketAddr> {
    stderr
        .lines()
        .filter_map(|line| line.strip_prefix("mqlite: listening on "))
        .filter(|rest| !rest.is_empty() && !rest.contains(char::is_whitespace))
        .find_map(|rest| rest.parse().ok())
}

/// Waits for a child to exit, at most `timeout`; kills it and panics
/// otherwise.
pub fn wait_exit(child: &mut Child, timeout: Duration, what: &str) -> ExitStatus {
    let mut status = None;
    poll_until(timeout, || {
        status = child.try_wait().expect("try_wait");
        status.is_some()
    });
    match status {
        Some(status) => status,
        None => {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} did not exit within {timeout:?}");
        }
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
    let mut stdout = collect(child.stdout.take().unwrap());
    let mut stderr = collect(child.stderr.take().unwrap());
    let status = wait_exit(&mut child, timeout, &what);
    Output {
        status,
        stdout: stdout.join().into_bytes(),
        stderr: stderr.join().into_bytes(),
    }
}

/// Runs the binary with `args` in `cwd` to completion: it must exit within
/// [`TIMEOUT`].
pub fn mqlite_exits(args: &[&str], cwd: &Path) -> Output {
    run(
        Command::new(bin_path()).args(args).current_dir(cwd),
        TIMEOUT,
    )
}

/// How far a start goes before it returns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Ready {
    /// The listener is bound. The store may still be loading: a kill then
    /// lands in the middle of start-up, which the crash test wants.
    Listening,
    /// A probe client got a CONNACK (any: with a password file the
    /// anonymous probe is refused, but the broker has answered), so the
    /// store has been opened and loaded.
    Serving,
}

/// How to run the binary: the program (the binary, or a wrapper such as
/// `prlimit` in front of it), its arguments and working directory.
pub struct Launch {
    pub program: PathBuf,
    pub args: Vec<OsString>,
    pub cwd: PathBuf,
    /// The port the arguments ask for, when it is not 0 (a restart).
    pub port: Option<u16>,
}

impl Launch {
    /// The binary with `args` in `cwd`, on the port `args` give (0 unless
    /// `port` says otherwise).
    pub fn new(args: &[&str], cwd: &Path, port: Option<u16>) -> Launch {
        Launch {
            program: bin_path(),
            args: args.iter().map(OsString::from).collect(),
            cwd: cwd.to_path_buf(),
            port,
        }
    }
}

/// A running `mqlite` process, stopped (SIGTERM, then SIGKILL) on drop.
pub struct Mqlite {
    child: Child,
    pub addr: SocketAddr,
    pub port: u16,
    stderr: Collected,
    /// The working directory (config files, database).
    pub dir: PathBuf,
    /// Owns `dir` when the wrapper made it.
    temp: Option<TempDir>,
    /// `--db` and the other arguments, for [`Mqlite::kill_and_restart`].
    db: Option<(PathBuf, Vec<String>)>,
}

impl Mqlite {
    /// `mqlite -p 0 --no-persist ARGS...` in a fresh temp dir, serving.
    pub fn start(args: &[&str]) -> Mqlite {
        let mut all = vec!["-p", "0", "--no-persist"];
        all.extend_from_slice(args);
        Mqlite::start_in(&all, TempDir::new("run"))
    }

    /// The binary with exactly `args` (whose port must be 0) in `dir`,
    /// serving.
    pub fn start_in(args: &[&str], dir: TempDir) -> Mqlite {
        let mut mqlite = Mqlite::launch(Launch::new(args, &dir.0, None), Ready::Serving)
            .unwrap_or_else(|error| panic!("{error}"));
        mqlite.temp = Some(dir);
        mqlite
    }

    /// `mqlite -p PORT --db DB EXTRA...` in the db's directory (so nothing
    /// can land in the working tree); port 0 unless `port` is given (a
    /// restart).
    pub fn start_db(db: &Path, port: Option<u16>, extra: &[&str], ready: Ready) -> Mqlite {
        let port_text = port.unwrap_or(0).to_string();
        let db_text = db.to_str().expect("a UTF-8 temp path");
        let mut args = vec!["-p", port_text.as_str(), "--db", db_text];
        args.extend_from_slice(extra);
        let cwd = db.parent().expect("the db has a directory");
        let mut mqlite = Mqlite::launch(Launch::new(&args, cwd, port), ready)
            .unwrap_or_else(|error| panic!("{error}"));
        mqlite.db = Some((
            db.to_path_buf(),
            extra.iter().map(|s| s.to_string()).collect(),
        ));
        mqlite
    }

    /// Starts `launch` and waits until it is `ready`, at most
    /// [`START_TIMEOUT`]; on a known port (a restart) the start is tried
    /// again while the port is still in use. Returns what went wrong
    /// (with the binary's stderr) instead of panicking.
    pub fn launch(launch: Launch, ready: Ready) -> Result<Mqlite, String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            match Mqlite::launch_once(&launch, deadline) {
                Ok(mqlite) => {
                    if ready == Ready::Serving {
                        mqlite.probe();
                    }
                    return Ok(mqlite);
                }
                Err((error, port_in_use)) => {
                    if !(port_in_use && launch.port.is_some() && Instant::now() < deadline) {
                        return Err(error);
                    }
                }
            }
        }
    }

    /// One start; the error says whether it failed on a port in use.
    fn launch_once(launch: &Launch, deadline: Instant) -> Result<Mqlite, (String, bool)> {
        let what = format!("{} {:?}", launch.program.display(), launch.args);
        let mut child = Command::new(&launch.program)
            .args(&launch.args)
            .current_dir(&launch.cwd)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| (format!("cannot run {what}: {e}"), false))?;
        let mut stderr = collect(child.stderr.take().expect("stderr piped"));
        let mut exited = None;
        let mut addr = None;
        poll_until(deadline.saturating_duration_since(Instant::now()), || {
            addr = listening_addr(&stderr.text()).or_else(|| {
                // A restart on a known port: accepting connections is
                // enough, the store may still be loading.
                let port = launch.port?;
                let addr = SocketAddr::from(([127, 0, 0, 1], port));
                TcpStream::connect_timeout(&addr, Duration::from_millis(200))
                    .ok()
                    .map(|_| addr)
            });
            exited = child.try_wait().expect("try_wait");
            addr.is_some() || exited.is_some()
        });
        let Some(addr) = addr.filter(|_| exited.is_none()) else {
            let status = match exited {
                Some(status) => status.to_string(),
                None => {
                    let _ = child.kill();
                    let _ = child.wait();
                    "still starting".to_string()
                }
            };
            let log = stderr.join();
            let in_use = log.contains("in use");
            return Err((
                format!("{what} did not start listening ({status}): {log}"),
                in_use,
            ));
        };
        Ok(Mqlite {
            child,
            addr,
            port: addr.port(),
            stderr,
            dir: launch.cwd.clone(),
            temp: None,
            db: None,
        })
    }

    /// Any CONNACK will do; an accepted probe disconnects cleanly.
    fn probe(&self) {
        static PROBE: AtomicUsize = AtomicUsize::new(0);
        let id = format!("ready-probe-{}", PROBE.fetch_add(1, Ordering::Relaxed));
        let mut probe = RawClient::open(self.addr);
        probe.send_connect(&ConnectOptions::new(&id));
        let (_, code) = probe.expect_connack();
        if code == 0 {
            probe.disconnect();
        }
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn port_arg(&self) -> String {
        self.port.to_string()
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Everything the broker wrote to stderr so far; all of it once a wait
    /// for the exit has returned.
    pub fn stderr(&self) -> String {
        self.stderr.text()
    }

    /// Removes `temp` (the working directory) with this process.
    pub fn own_dir(&mut self, temp: Option<TempDir>) {
        self.temp = temp;
    }

    /// The directory the wrapper made, handed over (for a restart on it);
    /// it is no longer removed with this process.
    pub fn take_dir(&mut self) -> TempDir {
        self.temp.take().expect("a directory made by the wrapper")
    }

    /// Sends a signal to the process.
    pub fn signal(&self, signal: libc::c_int) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: plain kill(2) of our own child, which has not been reaped
        // (we hold its `Child`), so the pid cannot have been reused.
        let rc = unsafe { libc::kill(pid, signal) };
        assert_eq!(
            rc,
            0,
            "kill({pid}, {signal}): {}",
            std::io::Error::last_os_error()
        );
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Waits (at most [`START_TIMEOUT`]) for the process to exit.
    pub fn wait(&mut self) -> ExitStatus {
        self.wait_exit(START_TIMEOUT)
    }

    /// Waits for the exit; kills the process and panics after `timeout`.
    pub fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let status = wait_exit(&mut self.child, timeout, "mqlite");
        self.stderr.join();
        status
    }

    /// SIGTERM (a clean stop); asserts that it exits with 0 and did not
    /// panic. Returns its stderr.
    pub fn stop(mut self) -> String {
        self.signal(libc::SIGTERM);
        let status = self.wait();
        let log = self.stderr();
        assert!(status.success(), "mqlite exited with {status}: {log}");
        assert!(!log.contains("panicked"), "mqlite panicked: {log}");
        log
    }

    /// SIGKILL, as a crash or power cut would end it (no chance to flush or
    /// close anything); waits for the process to be gone. Returns its
    /// stderr.
    pub fn kill(mut self) -> String {
        self.signal(libc::SIGKILL);
        let status = self.wait();
        assert!(!status.success(), "killed mqlite exited with {status}");
        self.stderr()
    }

    /// SIGKILL, then the same binary, file, port and options again,
    /// serving.
    pub fn kill_and_restart(self) -> Mqlite {
        self.kill_and_restart_until(Ready::Serving)
    }

    /// SIGKILL (asserting that the run did not panic), then the same
    /// binary, file, port and options again, `ready`.
    pub fn kill_and_restart_until(mut self, ready: Ready) -> Mqlite {
        let (db, extra) = self.db.take().expect("started with start_db");
        let port = self.port;
        let log = self.kill();
        assert!(!log.contains("panicked"), "mqlite panicked: {log}");
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        Mqlite::start_db(&db, Some(port), &extra, ready)
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
        if !poll_until(START_TIMEOUT, || {
            self.child.try_wait().ok().flatten().is_some()
        }) {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
