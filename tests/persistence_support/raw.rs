//! [`Raw`], a raw-socket MQTT 3.1.1 client built on `mqlite::codec`, for
//! the tests where packet ids, DUP flags and a client that does not
//! acknowledge matter.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use mqlite::codec::{self, Connect, Packet, Protocol, Publish, QoS, Subscribe};

use super::{Msg, Pkt, QUIET, TIMEOUT};

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
