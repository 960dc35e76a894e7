//! [`RawClient`]: a tiny MQTT client over a plain `TcpStream`, built on
//! `mqlite::codec` for well-formed packets and on raw byte slices for
//! malformed ones. Every blocking read has a deadline of at most
//! [`TIMEOUT`], so a misbehaving broker fails a test instead of hanging it.
//!
//! Most methods panic on anything unexpected, which fails the test; the
//! `try_*` ones return `io::Result` instead, for clients that must live
//! through a broker being killed under them (the crash test).

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mqlite::codec::{
    Ack, Connect, Packet, Properties, Protocol, Publish, QoS, Reasoned, Subscribe, Unsubscribe,
};

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
        RawClient::try_open(addr).expect("TCP connect to the broker")
    }

    /// [`RawClient::open`], returning the error.
    pub fn try_open(addr: SocketAddr) -> io::Result<RawClient> {
        let stream = TcpStream::connect_timeout(&addr, TIMEOUT)?;
        stream.set_nodelay(true)?;
        stream.set_write_timeout(Some(TIMEOUT))?;
        Ok(RawClient {
            stream,
            buf: Vec::new(),
            pending: VecDeque::new(),
            next_packet_id: 0,
        })
    }

    /// Opens a connection and connects (MQTT 3.1.1, no will), asserting
    /// CONNACK 0; returns the client and the session-present flag.
    pub fn connect_to(
        addr: SocketAddr,
        client_id: &str,
        clean: bool,
        keepalive: u16,
    ) -> (RawClient, bool) {
        let mut client = RawClient::open(addr);
        let present = client.connect(client_id, clean, keepalive);
        (client, present)
    }

    /// Opens a connection and connects (keepalive 60 s); any failure
    /// (refused, closed, no CONNACK within [`TIMEOUT`], code not 0) is an
    /// `Err`.
    pub fn try_connect_to(
        addr: SocketAddr,
        client_id: &str,
        clean: bool,
    ) -> io::Result<(RawClient, bool)> {
        let mut client = RawClient::try_open(addr)?;
        client.try_send(&Packet::Connect(Box::new(Connect {
            bridge: false,
            protocol: Protocol::V311,
            clean_session: clean,
            keep_alive: 60,
            client_id,
            will: None,
            username: None,
            password: None,
            properties: Properties::EMPTY,
        })))?;
        match client.try_recv(TIMEOUT)? {
            Some(Pkt::ConnAck {
                session_present,
                code: 0,
            }) => Ok((client, session_present)),
            Some(other) => Err(io::Error::other(format!(
                "expected CONNACK 0, got {other:?}"
            ))),
            None => Err(io::Error::new(io::ErrorKind::TimedOut, "no CONNACK")),
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

    /// Encodes and writes a packet, returning the write's error.
    pub fn try_send(&mut self, packet: &Packet<'_>) -> io::Result<()> {
        self.stream.write_all(&encode(packet))
    }

    /// Reads one packet, waiting at most `timeout`.
    pub fn recv(&mut self, timeout: Duration) -> Recv {
        match self.try_recv(timeout) {
            Ok(Some(pkt)) => Recv::Packet(pkt),
            Ok(None) => Recv::Timeout,
            Err(error) => {
                if error.kind() == io::ErrorKind::UnexpectedEof {
                    assert!(
                        self.buf.is_empty(),
                        "the broker closed in the middle of a packet: {:02x?}",
                        self.buf
                    );
                }
                Recv::Closed
            }
        }
    }

    /// Reads one packet: `Ok(None)` if none within `timeout`, `Err` when
    /// the connection is closed (`UnexpectedEof`) or broken.
    pub fn try_recv(&mut self, timeout: Duration) -> io::Result<Option<Pkt>> {
        if let Some(pkt) = self.pending.pop_front() {
            return Ok(Some(pkt));
        }
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
                Ok(0) => {
                    return Err(io::Error::new(
                        io::ErrorKind::UnexpectedEof,
                        "connection closed",
                    ))
                }
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
        self.subscribe_id(packet_id, filters)
    }

    /// [`RawClient::subscribe`] with this packet id.
    pub fn subscribe_id(&mut self, packet_id: u16, filters: &[(&str, QoS)]) -> Vec<u8> {
        self.send(&Packet::Subscribe(Subscribe {
            packet_id,
            filters: filters.iter().map(|&(f, q)| (f, q.into())).collect(),
            properties: Properties::EMPTY,
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
            properties: Properties::EMPTY,
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
            properties: Properties::EMPTY,
        }));
    }

    /// [`RawClient::send_publish`], returning the write's error.
    pub fn try_send_publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: Option<u16>,
    ) -> io::Result<()> {
        self.try_send(&Packet::Publish(Publish {
            dup,
            qos,
            retain,
            topic,
            packet_id,
            payload,
            properties: Properties::EMPTY,
        }))
    }

    /// Publishes and completes the QoS flow (PUBACK, or PUBREC / PUBREL /
    /// PUBCOMP), checking packet ids. For QoS 0 a PINGREQ round trip makes
    /// sure the broker has handled the PUBLISH. The client must not be
    /// subscribed to `topic` itself.
    pub fn publish_acked(&mut self, topic: &str, payload: &[u8], qos: QoS, retain: bool) {
        let packet_id = if qos == QoS::AtMostOnce {
            0
        } else {
            self.next_id()
        };
        self.publish_acked_id(topic, payload, qos, retain, packet_id);
    }

    /// [`RawClient::publish_acked`] with this packet id (ignored for QoS 0).
    pub fn publish_acked_id(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        packet_id: u16,
    ) {
        let packet_id = (qos != QoS::AtMostOnce).then_some(packet_id);
        self.send_publish(topic, payload, qos, retain, false, packet_id);
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
                self.send(&Packet::PubRel(Ack::new(id)));
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
            (QoS::AtLeastOnce, Some(id)) => self.send(&Packet::PubAck(Ack::new(id))),
            (QoS::ExactlyOnce, Some(id)) => {
                self.send(&Packet::PubRec(Ack::new(id)));
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
                self.send(&Packet::PubComp(Ack::new(id)));
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

    /// Receives `count` PUBLISHes, acknowledging each as a client would
    /// (PUBACK; PUBREC, then PUBCOMP for the PUBREL that follows), and
    /// returns them in arrival order once every QoS 2 flow is complete.
    pub fn receive_and_ack(&mut self, count: usize) -> Vec<Msg> {
        let mut received = Vec::new();
        let mut awaiting_rel = Vec::new();
        while received.len() < count || !awaiting_rel.is_empty() {
            match self.expect_packet() {
                Pkt::Publish(msg) => {
                    match (msg.qos, msg.packet_id) {
                        (QoS::AtMostOnce, _) => {}
                        (QoS::AtLeastOnce, Some(id)) => self.send(&Packet::PubAck(Ack::new(id))),
                        (QoS::ExactlyOnce, Some(id)) => {
                            self.send(&Packet::PubRec(Ack::new(id)));
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
                    self.send(&Packet::PubComp(Ack::new(id)));
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
        self.send(&Packet::Disconnect(Reasoned::default()));
        self.stream.shutdown(Shutdown::Write).ok();
        self.expect_closed();
    }

    /// Closes the socket without DISCONNECT (as a network failure would).
    pub fn close_abruptly(self) {
        self.stream.shutdown(Shutdown::Both).ok();
    }
}
