//! Helpers shared by the persistence tests (`mod persistence_support;` in
//! `tests/persistence_restart.rs` and `tests/persistence_crash.rs`).
//!
//! - [`TempDir`]: a scratch directory for the `--db` files, removed on drop.
//! - [`Mqlite`]: the `mqlite` binary on a fixed port with `--db`, restarted
//!   on the same port and file, stopped with SIGTERM or killed with SIGKILL.
//! - [`Raw`]: a raw-socket MQTT 3.1.1 client built on `mqlite::codec`,
//!   whose I/O returns `io::Result` (a broker killed under it is an ordinary
//!   event for the crash test), plus panicking `expect_*` helpers for the
//!   scripted tests.
//!
//! Every wait is bounded (at most [`TIMEOUT`] per call).

#![allow(dead_code)]

use std::io::{self, BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use mqlite::codec::{self, Connect, Packet, Protocol, Publish, QoS, Subscribe};

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

/// Reads a child's pipe into a shared string, in a thread.
fn collect(pipe: impl Read + Send + 'static) -> Arc<Mutex<String>> {
    let text = Arc::new(Mutex::new(String::new()));
    let sink = Arc::clone(&text);
    std::thread::spawn(move || {
        let mut reader = BufReader::new(pipe);
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) {
            sink.lock().unwrap().push_str(&line);
            line.clear();
        }
    });
    text
}

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
        match Raw::try_connect(mqlite.addr(), &id, true) {
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

fn closed() -> io::Error {
    io::Error::new(io::ErrorKind::UnexpectedEof, "connection closed")
}

/// A raw-socket MQTT client.
pub struct Raw {
    stream: TcpStream,
    buf: Vec<u8>,
}

impl Raw {
    /// A TCP connection to `addr`, no MQTT yet.
    pub fn open(addr: SocketAddr) -> io::Result<Raw> {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        Ok(Raw {
            stream,
            buf: Vec::new(),
        })
    }

    /// Connects (MQTT 3.1.1, keepalive 60 s) and waits for CONNACK 0;
    /// returns the client and the session-present flag. Any failure
    /// (refused, closed, no CONNACK within [`TIMEOUT`], code not 0) is an
    /// `Err`.
    pub fn try_connect(addr: SocketAddr, client_id: &str, clean: bool) -> io::Result<(Raw, bool)> {
        let mut raw = Raw::open(addr)?;
        raw.send(&Packet::Connect(Connect {
            protocol: Protocol::V311,
            clean_session: clean,
            keep_alive: 60,
            client_id,
            will: None,
            username: None,
            password: None,
        }))?;
        match raw.recv(TIMEOUT)? {
            Some(Pkt::ConnAck {
                session_present,
                code: 0,
            }) => Ok((raw, session_present)),
            Some(other) => Err(io::Error::other(format!(
                "expected CONNACK 0, got {other:?}"
            ))),
            None => Err(io::Error::new(io::ErrorKind::TimedOut, "no CONNACK")),
        }
    }

    /// [`Raw::try_connect`], panicking on failure.
    pub fn connect(addr: SocketAddr, client_id: &str, clean: bool) -> (Raw, bool) {
        Raw::try_connect(addr, client_id, clean)
            .unwrap_or_else(|e| panic!("{client_id} cannot connect to {addr}: {e}"))
    }

    /// Encodes and writes a packet.
    pub fn send(&mut self, packet: &Packet<'_>) -> io::Result<()> {
        let mut out = Vec::new();
        codec::encode(packet, &mut out).expect("the test packet encodes");
        self.stream.write_all(&out)
    }

    /// Sends a PUBLISH exactly as given.
    pub fn send_publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: Option<u16>,
    ) -> io::Result<()> {
        self.send(&Packet::Publish(Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            payload,
        }))
    }

    /// Reads one packet: `Ok(None)` if none within `timeout`, `Err` when
    /// the connection is closed or broken.
    pub fn recv(&mut self, timeout: Duration) -> io::Result<Option<Pkt>> {
        let deadline = Instant::now() + timeout.min(TIMEOUT);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(pkt) = Pkt::take(&mut self.buf) {
                return Ok(Some(pkt));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(closed()),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock
                            | io::ErrorKind::TimedOut
                            | io::ErrorKind::Interrupted
                    ) => {}
                Err(error) => return Err(error),
            }
        }
    }

    /// The next packet; panics if the connection closes or nothing comes
    /// within [`TIMEOUT`].
    pub fn expect(&mut self) -> Pkt {
        match self.recv(TIMEOUT) {
            Ok(Some(pkt)) => pkt,
            Ok(None) => panic!("expected a packet, none within 5 s"),
            Err(error) => panic!("expected a packet, the connection failed: {error}"),
        }
    }

    /// The next packet, which must be a PUBLISH.
    pub fn expect_publish(&mut self) -> Msg {
        match self.expect() {
            Pkt::Publish(msg) => msg,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Asserts that no packet arrives (and the connection stays open) for
    /// `quiet`.
    pub fn expect_nothing_for(&mut self, quiet: Duration) {
        match self.recv(quiet) {
            Ok(None) => {}
            Ok(Some(pkt)) => panic!("expected nothing, got {pkt:?}"),
            Err(error) => panic!("expected nothing, the connection failed: {error}"),
        }
    }

    /// [`Raw::expect_nothing_for`] for [`QUIET`].
    pub fn expect_nothing(&mut self) {
        self.expect_nothing_for(QUIET);
    }

    /// Sends a packet; panics if the write fails.
    pub fn must_send(&mut self, packet: &Packet<'_>) {
        self.send(packet)
            .unwrap_or_else(|e| panic!("sending {} failed: {e}", packet.name()));
    }

    /// Subscribes with packet id `packet_id`; returns the SUBACK codes.
    pub fn subscribe(&mut self, packet_id: u16, filters: &[(&str, QoS)]) -> Vec<u8> {
        self.must_send(&Packet::Subscribe(Subscribe {
            packet_id,
            filters: filters.to_vec(),
        }));
        match self.expect() {
            Pkt::SubAck {
                packet_id: acked,
                codes,
            } => {
                assert_eq!(acked, packet_id, "SUBACK packet id");
                codes
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Publishes with packet id `packet_id` (ignored for QoS 0) and
    /// completes the flow: PUBACK, or PUBREC / PUBREL / PUBCOMP; for QoS 0
    /// a PINGREQ round trip makes sure the broker handled it. The client
    /// must not be subscribed to `topic`.
    pub fn publish_acked(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        packet_id: u16,
    ) {
        let id = (qos != QoS::AtMostOnce).then_some(packet_id);
        self.send_publish(topic, payload, qos, retain, false, id)
            .expect("send PUBLISH");
        match qos {
            QoS::AtMostOnce => self.ping(),
            QoS::AtLeastOnce => assert_eq!(self.expect(), Pkt::PubAck(packet_id), "PUBACK"),
            QoS::ExactlyOnce => {
                assert_eq!(self.expect(), Pkt::PubRec(packet_id), "PUBREC");
                self.must_send(&Packet::PubRel(packet_id));
                assert_eq!(self.expect(), Pkt::PubComp(packet_id), "PUBCOMP");
            }
        }
    }

    /// Receives `count` PUBLISHes, acknowledging each as a client would
    /// (PUBACK; PUBREC, then PUBCOMP for the PUBREL that follows), and
    /// returns them in arrival order once every QoS 2 flow is complete.
    pub fn receive_and_ack(&mut self, count: usize) -> Vec<Msg> {
        let mut received = Vec::new();
        let mut awaiting_rel = Vec::new();
        while received.len() < count || !awaiting_rel.is_empty() {
            match self.expect() {
                Pkt::Publish(msg) => {
                    match (msg.qos, msg.packet_id) {
                        (QoS::AtMostOnce, _) => {}
                        (QoS::AtLeastOnce, Some(id)) => self.must_send(&Packet::PubAck(id)),
                        (QoS::ExactlyOnce, Some(id)) => {
                            self.must_send(&Packet::PubRec(id));
                            awaiting_rel.push(id);
                        }
                        _ => panic!("PUBLISH with inconsistent QoS and packet id: {msg:?}"),
                    }
                    received.push(msg);
                }
                Pkt::PubRel(id) => {
                    let Some(index) = awaiting_rel.iter().position(|&p| p == id) else {
                        panic!("PUBREL({id}) for no PUBREC sent (awaiting {awaiting_rel:?})");
                    };
                    awaiting_rel.remove(index);
                    self.must_send(&Packet::PubComp(id));
                }
                other => panic!("expected PUBLISH or PUBREL, got {other:?}"),
            }
        }
        assert!(
            received.len() == count,
            "expected {count} messages, got {received:?}"
        );
        received
    }

    /// PINGREQ, expecting PINGRESP: once it arrives, the broker has handled
    /// (and saved) everything sent before.
    pub fn ping(&mut self) {
        self.must_send(&Packet::PingReq);
        assert_eq!(self.expect(), Pkt::PingResp, "PINGRESP");
    }

    /// Sends DISCONNECT and waits for the broker to close the connection
    /// (so the session is offline once this returns).
    pub fn disconnect(mut self) {
        self.must_send(&Packet::Disconnect);
        self.stream.shutdown(Shutdown::Write).ok();
        match self.recv(TIMEOUT) {
            Err(_) => {}
            Ok(None) => panic!("the broker did not close the connection within 5 s"),
            Ok(Some(pkt)) => panic!("expected the connection to close, got {pkt:?}"),
        }
    }

    /// Closes the socket without DISCONNECT.
    pub fn close_abruptly(self) {
        self.stream.shutdown(Shutdown::Both).ok();
    }
}
