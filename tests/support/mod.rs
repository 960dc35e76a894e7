//! Shared helpers for the broker integration tests (`mod support;`).
//!
//! - [`TestBroker`]: an in-process broker on `127.0.0.1:0`, run in its own
//!   thread, stopped and joined when dropped.
//! - [`RawClient`]: a tiny MQTT client over a plain `TcpStream`, built on
//!   `mqlite::codec` for well-formed packets and on raw byte slices for
//!   malformed ones. Every blocking read has a deadline of at most
//!   [`TIMEOUT`], so a misbehaving broker fails a test instead of hanging it.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mqlite::codec::{self, Connect, Packet, Protocol, Publish, QoS, Subscribe, Unsubscribe, Will};
use mqlite::core::Stats;
use mqlite::{Broker, BrokerHandle, Config};

mod packets;
pub use packets::{Msg, Pkt};

/// The longest any single wait lasts.
pub const TIMEOUT: Duration = Duration::from_secs(5);
/// How long to listen before concluding that nothing more is coming.
pub const QUIET: Duration = Duration::from_millis(300);

/// A config for tests: one listener on a free port, no `$SYS` timer.
pub fn test_config() -> Config {
    Config {
        listeners: vec!["127.0.0.1:0".parse().unwrap()],
        sys_interval: None,
        ..Config::default()
    }
}

/// A broker running in a thread of the test process.
pub struct TestBroker {
    pub addr: SocketAddr,
    pub handle: BrokerHandle,
    thread: Option<JoinHandle<Result<(), mqlite::Error>>>,
}

impl TestBroker {
    /// A broker with [`test_config`].
    pub fn start() -> TestBroker {
        TestBroker::start_with(|_| {})
    }

    /// A broker with [`test_config`] changed by `configure`.
    pub fn start_with(configure: impl FnOnce(&mut Config)) -> TestBroker {
        let mut config = test_config();
        configure(&mut config);
        let mut broker = Broker::new(config).expect("the broker starts");
        let addr = broker.local_addr();
        let handle = broker.handle();
        let thread = std::thread::Builder::new()
            .name("mqlite-broker".into())
            .spawn(move || broker.run())
            .expect("spawn the broker thread");
        TestBroker {
            addr,
            handle,
            thread: Some(thread),
        }
    }

    /// Stops the broker and returns what `run` returned. Panics if `run`
    /// does not return within [`TIMEOUT`].
    pub fn stop(mut self) -> Result<(), mqlite::Error> {
        self.handle.stop();
        let thread = self.thread.take().expect("not yet stopped");
        join_within(thread, TIMEOUT).expect("Broker::run did not return within 5 s of stop()")
    }

    /// Whether the broker thread has finished.
    pub fn is_finished(&self) -> bool {
        self.thread.as_ref().is_none_or(|t| t.is_finished())
    }

    /// A TCP connection, no MQTT yet.
    pub fn socket(&self) -> RawClient {
        RawClient::open(self.addr)
    }

    /// A connected client (CONNACK 0 checked).
    pub fn connect(&self, client_id: &str, clean: bool, keepalive: u16) -> RawClient {
        let mut client = self.socket();
        client.connect(client_id, clean, keepalive);
        client
    }

    /// A connected client with these options (CONNACK 0 checked); returns
    /// it with the session-present flag.
    pub fn connect_with(&self, options: &ConnectOptions) -> (RawClient, bool) {
        let mut client = self.socket();
        let present = client.connect_with(options);
        (client, present)
    }

    /// The counters.
    pub fn stats(&self) -> Stats {
        self.handle.stats(TIMEOUT).expect("stats answered")
    }

    /// The connected client ids.
    pub fn clients(&self) -> Vec<String> {
        self.handle
            .connected_clients(TIMEOUT)
            .expect("connected_clients answered")
    }

    /// Waits until `client_id` is no longer connected (the broker has
    /// handled its disconnection).
    pub fn wait_disconnected(&self, client_id: &str) {
        let deadline = Instant::now() + TIMEOUT;
        while self.clients().iter().any(|c| c == client_id) {
            assert!(
                Instant::now() < deadline,
                "client {client_id} still connected after 5 s"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// Checks that the broker still works for a brand new pair of clients:
    /// connect, subscribe, publish QoS 1, receive, disconnect.
    pub fn assert_serves(&self) {
        static PROBE: AtomicUsize = AtomicUsize::new(0);
        let n = PROBE.fetch_add(1, Ordering::Relaxed);
        let topic = format!("probe/{n}");
        let mut sub = self.connect(&format!("probe-sub-{n}"), true, 60);
        assert_eq!(sub.subscribe(&[(&topic, QoS::AtLeastOnce)]), vec![1]);
        let mut publisher = self.connect(&format!("probe-pub-{n}"), true, 60);
        publisher.publish_acked(&topic, b"probe", QoS::AtLeastOnce, false);
        let msg = sub.expect_publish();
        assert_eq!(
            (msg.topic.as_str(), &msg.payload[..]),
            (topic.as_str(), &b"probe"[..])
        );
        sub.ack(&msg);
        publisher.disconnect();
        sub.disconnect();
    }
}

impl Drop for TestBroker {
    fn drop(&mut self) {
        let Some(thread) = self.thread.take() else {
            return;
        };
        self.handle.stop();
        let result = join_within(thread, TIMEOUT);
        if std::thread::panicking() {
            return;
        }
        match result {
            None => panic!("Broker::run did not return within 5 s of stop()"),
            Some(Err(error)) => panic!("Broker::run failed: {error}"),
            Some(Ok(())) => {}
        }
    }
}

/// Joins `thread` if it finishes within `timeout` (a thread that does not
/// is left running, detached). A panic in the thread is re-raised.
pub fn join_within<T>(thread: JoinHandle<T>, timeout: Duration) -> Option<T> {
    let deadline = Instant::now() + timeout;
    while !thread.is_finished() {
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    match thread.join() {
        Ok(value) => Some(value),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

/// A directory under the system temp dir, removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let n = COUNT.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("mqlite-test-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("create a temp dir");
        TempDir(path)
    }

    /// A path inside the directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }

    /// Writes a file inside the directory and returns its path.
    pub fn file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write a temp file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// What one read attempt gave.
#[derive(Debug)]
pub enum Recv {
    Packet(Pkt),
    /// End of file or a connection error (reset...).
    Closed,
    /// Nothing within the time allowed.
    Timeout,
}

/// CONNECT fields, with builder-style setters.
#[derive(Clone, Debug)]
pub struct ConnectOptions {
    pub client_id: String,
    pub clean: bool,
    pub keepalive: u16,
    pub protocol: Protocol,
    /// Topic, payload, QoS, retain.
    pub will: Option<(String, Vec<u8>, QoS, bool)>,
    pub username: Option<String>,
    pub password: Option<Vec<u8>>,
}

impl ConnectOptions {
    /// Clean session 1, keepalive 60 s, MQTT 3.1.1, no will.
    pub fn new(client_id: &str) -> ConnectOptions {
        ConnectOptions {
            client_id: client_id.to_string(),
            clean: true,
            keepalive: 60,
            protocol: Protocol::V311,
            will: None,
            username: None,
            password: None,
        }
    }

    pub fn clean(mut self, clean: bool) -> Self {
        self.clean = clean;
        self
    }

    pub fn keepalive(mut self, seconds: u16) -> Self {
        self.keepalive = seconds;
        self
    }

    pub fn v31(mut self) -> Self {
        self.protocol = Protocol::V31;
        self
    }

    pub fn will(mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Self {
        self.will = Some((topic.to_string(), payload.to_vec(), qos, retain));
        self
    }

    pub fn credentials(mut self, username: &str, password: &[u8]) -> Self {
        self.username = Some(username.to_string());
        self.password = Some(password.to_vec());
        self
    }

    /// The encoded CONNECT packet.
    pub fn encode(&self) -> Vec<u8> {
        let will = self
            .will
            .as_ref()
            .map(|(topic, payload, qos, retain)| Will {
                topic,
                payload,
                qos: *qos,
                retain: *retain,
            });
        let packet = Packet::Connect(Connect {
            protocol: self.protocol,
            clean_session: self.clean,
            keep_alive: self.keepalive,
            client_id: &self.client_id,
            will,
            username: self.username.as_deref(),
            password: self.password.as_deref(),
        });
        encode(&packet)
    }
}

/// Encodes one packet.
pub fn encode(packet: &Packet<'_>) -> Vec<u8> {
    let mut out = Vec::new();
    codec::encode(packet, &mut out).expect("the test packet encodes");
    out
}

/// A packet made of a first byte and a body, the remaining length computed.
pub fn frame(first: u8, body: &[u8]) -> Vec<u8> {
    let mut out = vec![first];
    let mut len = body.len();
    loop {
        let byte = (len & 0x7f) as u8;
        len >>= 7;
        out.push(if len > 0 { byte | 0x80 } else { byte });
        if len == 0 {
            break;
        }
    }
    out.extend_from_slice(body);
    out
}

/// A length-prefixed string field, any bytes.
pub fn field(bytes: &[u8]) -> Vec<u8> {
    let mut out = (bytes.len() as u16).to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

/// Concatenates byte slices.
pub fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// A raw-socket MQTT client. Panics (failing the test) on anything
/// unexpected; never blocks longer than [`TIMEOUT`] per call.
pub struct RawClient {
    stream: TcpStream,
    buf: Vec<u8>,
    /// Packets read ahead (while waiting for a PUBREL), returned first.
    pending: VecDeque<Pkt>,
    next_packet_id: u16,
}

impl RawClient {
    /// Opens a TCP connection to `addr`.
    pub fn open(addr: SocketAddr) -> RawClient {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT).expect("TCP connect to the broker");
        stream.set_nodelay(true).ok();
        stream
            .set_write_timeout(Some(TIMEOUT))
            .expect("set write timeout");
        RawClient {
            stream,
            buf: Vec::new(),
            pending: VecDeque::new(),
            next_packet_id: 0,
        }
    }

    /// The next packet identifier (never 0).
    pub fn next_id(&mut self) -> u16 {
        self.next_packet_id = self.next_packet_id.wrapping_add(1).max(1);
        self.next_packet_id
    }

    /// Writes bytes. A connection already closed by the broker is not an
    /// error here (the test's next expectation sees the close).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        match self.stream.write_all(bytes) {
            Ok(()) => {}
            Err(error)
                if matches!(
                    error.kind(),
                    io::ErrorKind::BrokenPipe
                        | io::ErrorKind::ConnectionReset
                        | io::ErrorKind::ConnectionAborted
                ) => {}
            Err(error) => panic!("write to the broker failed: {error}"),
        }
    }

    /// Encodes and writes a packet.
    pub fn send(&mut self, packet: &Packet<'_>) {
        let bytes = encode(packet);
        self.send_raw(&bytes);
    }

    /// Reads one packet, waiting at most `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Recv {
        if let Some(pkt) = self.pending.pop_front() {
            return Recv::Packet(pkt);
        }
        let deadline = Instant::now() + timeout.min(TIMEOUT);
        let mut chunk = [0u8; 16 * 1024];
        loop {
            if let Some(pkt) = Pkt::take(&mut self.buf) {
                return Recv::Packet(pkt);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Recv::Timeout;
            }
            self.stream
                .set_read_timeout(Some(left))
                .expect("set read timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => {
                    assert!(
                        self.buf.is_empty(),
                        "the broker closed in the middle of a packet: {:02x?}",
                        self.buf
                    );
                    return Recv::Closed;
                }
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(error)
                    if matches!(
                        error.kind(),
                        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                    ) => {}
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => return Recv::Closed,
            }
        }
    }

    /// The next packet; panics if the connection closes or nothing comes
    /// within [`TIMEOUT`].
    pub fn expect_packet(&mut self) -> Pkt {
        match self.recv(TIMEOUT) {
            Recv::Packet(pkt) => pkt,
            Recv::Closed => panic!("expected a packet, the broker closed the connection"),
            Recv::Timeout => panic!("expected a packet, none within 5 s"),
        }
    }

    /// The next packet, which must be a PUBLISH.
    pub fn expect_publish(&mut self) -> Msg {
        match self.expect_packet() {
            Pkt::Publish(msg) => msg,
            other => panic!("expected PUBLISH, got {other:?}"),
        }
    }

    /// Asserts that no packet arrives (and the connection stays open) for
    /// `quiet`.
    pub fn expect_nothing_for(&mut self, quiet: Duration) {
        match self.recv(quiet) {
            Recv::Timeout => {}
            Recv::Packet(pkt) => panic!("expected nothing, got {pkt:?}"),
            Recv::Closed => panic!("expected nothing, the broker closed the connection"),
        }
    }

    /// [`RawClient::expect_nothing_for`] for [`QUIET`].
    pub fn expect_nothing(&mut self) {
        self.expect_nothing_for(QUIET);
    }

    /// Reads until the broker closes the connection; returns the packets
    /// that came first. Panics if it is still open after [`TIMEOUT`].
    pub fn drain_until_closed(&mut self) -> Vec<Pkt> {
        let deadline = Instant::now() + TIMEOUT;
        let mut packets = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.recv(left) {
                Recv::Closed => return packets,
                Recv::Packet(pkt) => packets.push(pkt),
                Recv::Timeout => panic!(
                    "expected the broker to close the connection within 5 s (received {packets:?})"
                ),
            }
        }
    }

    /// Asserts that the broker closes the connection within [`TIMEOUT`]
    /// without sending anything more.
    pub fn expect_closed(&mut self) {
        let packets = self.drain_until_closed();
        assert!(
            packets.is_empty(),
            "expected the connection to close without a packet, got {packets:?}"
        );
    }

    /// Sends CONNECT.
    pub fn send_connect(&mut self, options: &ConnectOptions) {
        let bytes = options.encode();
        self.send_raw(&bytes);
    }

    /// The next packet, which must be CONNACK: (session present, code).
    pub fn expect_connack(&mut self) -> (bool, u8) {
        match self.expect_packet() {
            Pkt::ConnAck {
                session_present,
                code,
            } => (session_present, code),
            other => panic!("expected CONNACK, got {other:?}"),
        }
    }

    /// Connects with these options and asserts CONNACK 0; returns the
    /// session-present flag.
    pub fn connect_with(&mut self, options: &ConnectOptions) -> bool {
        self.send_connect(options);
        let (present, code) = self.expect_connack();
        assert_eq!(code, 0, "CONNACK return code for {options:?}");
        present
    }

    /// Connects (MQTT 3.1.1, no will) and asserts CONNACK 0; returns the
    /// session-present flag.
    pub fn connect(&mut self, client_id: &str, clean: bool, keepalive: u16) -> bool {
        self.connect_with(
            &ConnectOptions::new(client_id)
                .clean(clean)
                .keepalive(keepalive),
        )
    }

    /// Subscribes and returns the SUBACK codes (checking its packet id).
    pub fn subscribe(&mut self, filters: &[(&str, QoS)]) -> Vec<u8> {
        let packet_id = self.next_id();
        self.send(&Packet::Subscribe(Subscribe {
            packet_id,
            filters: filters.to_vec(),
        }));
        match self.expect_packet() {
            Pkt::SubAck {
                packet_id: acked,
                codes,
            } => {
                assert_eq!(acked, packet_id, "SUBACK packet id [MQTT-3.8.4-2]");
                codes
            }
            other => panic!("expected SUBACK, got {other:?}"),
        }
    }

    /// Unsubscribes and checks the UNSUBACK.
    pub fn unsubscribe(&mut self, filters: &[&str]) {
        let packet_id = self.next_id();
        self.send(&Packet::Unsubscribe(Unsubscribe {
            packet_id,
            filters: filters.to_vec(),
        }));
        assert_eq!(
            self.expect_packet(),
            Pkt::UnsubAck(packet_id),
            "UNSUBACK [MQTT-3.10.4-4]"
        );
    }

    /// Sends a PUBLISH with a fresh packet id when QoS > 0; returns it.
    pub fn publish(&mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Option<u16> {
        let packet_id = (qos != QoS::AtMostOnce).then(|| self.next_id());
        self.send_publish(topic, payload, qos, retain, false, packet_id);
        packet_id
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
    ) {
        self.send(&Packet::Publish(Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            payload,
        }));
    }

    /// Publishes and completes the QoS flow (PUBACK, or PUBREC / PUBREL /
    /// PUBCOMP), checking packet ids. For QoS 0 a PINGREQ round trip makes
    /// sure the broker has handled the PUBLISH. The client must not be
    /// subscribed to `topic` itself.
    pub fn publish_acked(&mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) {
        let packet_id = self.publish(topic, payload, qos, retain);
        match (qos, packet_id) {
            (QoS::AtMostOnce, _) => self.ping(),
            (QoS::AtLeastOnce, Some(id)) => {
                assert_eq!(
                    self.expect_packet(),
                    Pkt::PubAck(id),
                    "PUBACK [MQTT-4.3.2-2]"
                )
            }
            (QoS::ExactlyOnce, Some(id)) => {
                assert_eq!(
                    self.expect_packet(),
                    Pkt::PubRec(id),
                    "PUBREC [MQTT-4.3.3-2]"
                );
                self.send(&Packet::PubRel(id));
                assert_eq!(
                    self.expect_packet(),
                    Pkt::PubComp(id),
                    "PUBCOMP [MQTT-4.3.3-2]"
                );
            }
            _ => unreachable!(),
        }
    }

    /// Acknowledges a received PUBLISH: PUBACK for QoS 1; PUBREC, then the
    /// PUBREL that must follow, then PUBCOMP for QoS 2. Packets that arrive
    /// before the PUBREL (other deliveries) are kept, in order, for the
    /// next reads.
    pub fn ack(&mut self, msg: &Msg) {
        match (msg.qos, msg.packet_id) {
            (QoS::AtMostOnce, None) => {}
            (QoS::AtLeastOnce, Some(id)) => self.send(&Packet::PubAck(id)),
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(&Packet::PubRec(id));
                let mut before = Vec::new();
                loop {
                    match self.expect_packet() {
                        Pkt::PubRel(rel) if rel == id => break,
                        Pkt::Publish(other) => before.push(Pkt::Publish(other)),
                        other => panic!("expected PUBREL({id}) after PUBREC, got {other:?}"),
                    }
                }
                for pkt in before.into_iter().rev() {
                    self.pending.push_front(pkt);
                }
                self.send(&Packet::PubComp(id));
            }
            _ => panic!("PUBLISH with inconsistent QoS and packet id: {msg:?}"),
        }
    }

    /// Expects a PUBLISH with this topic and payload, acknowledges it and
    /// returns it.
    pub fn expect_message(&mut self, topic: &str, payload: &[u8]) -> Msg {
        let msg = self.expect_publish();
        assert_eq!(
            (msg.topic.as_str(), msg.payload.as_slice()),
            (topic, payload),
            "received {msg:?}"
        );
        self.ack(&msg);
        msg
    }

    /// PINGREQ, expecting PINGRESP.
    pub fn ping(&mut self) {
        self.send(&Packet::PingReq);
        assert_eq!(
            self.expect_packet(),
            Pkt::PingResp,
            "PINGRESP [MQTT-3.12.4-1]"
        );
    }

    /// Sends DISCONNECT and waits for the broker to close the connection.
    pub fn disconnect(mut self) {
        self.send(&Packet::Disconnect);
        self.stream.shutdown(Shutdown::Write).ok();
        self.expect_closed();
    }

    /// Closes the socket without DISCONNECT (as a network failure would).
    pub fn close_abruptly(self) {
        self.stream.shutdown(Shutdown::Both).ok();
    }
}
