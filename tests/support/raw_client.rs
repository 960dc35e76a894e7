//! [`RawClient`]: a tiny MQTT client over a plain `TcpStream`, built on
//! `mqlite::codec` for well-formed packets and on raw byte slices for
//! malformed ones. Every blocking read has a deadline of at most
//! [`TIMEOUT`], so a misbehaving broker fails a test instead of hanging it.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mqlite::codec::{Packet, Publish, QoS, Subscribe, Unsubscribe};

use super::{encode, ConnectOptions, Msg, Pkt, QUIET, TIMEOUT};

/// What one read attempt gave.
#[derive(Debug)]
pub enum Recv {
    Packet(Pkt),
    /// End of file or a connection error (reset...).
    Closed,
    /// Nothing within the time allowed.
    Timeout,
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
