//! [`SnClient`]: a raw MQTT-SN 1.2 client over a UDP socket, with its own
//! encoder (written from the specification, not the broker's codec), for
//! the gateway's tests from outside. Every read has a deadline.

use std::net::{SocketAddr, UdpSocket};
use std::time::Duration;

pub const CONNECT: u8 = 0x04;
pub const CONNACK: u8 = 0x05;
pub const WILLTOPICREQ: u8 = 0x06;
pub const WILLTOPIC: u8 = 0x07;
pub const WILLMSGREQ: u8 = 0x08;
pub const WILLMSG: u8 = 0x09;
pub const REGISTER: u8 = 0x0A;
pub const REGACK: u8 = 0x0B;
pub const PUBLISH: u8 = 0x0C;
pub const PUBACK: u8 = 0x0D;
pub const PUBCOMP: u8 = 0x0E;
pub const PUBREC: u8 = 0x0F;
pub const PUBREL: u8 = 0x10;
pub const SUBSCRIBE: u8 = 0x12;
pub const SUBACK: u8 = 0x13;
pub const PINGREQ: u8 = 0x16;
pub const PINGRESP: u8 = 0x17;
pub const DISCONNECT: u8 = 0x18;

/// QoS bits of the flags byte.
pub fn qos_flags(qos: i8) -> u8 {
    match qos {
        -1 => 0b0110_0000,
        1 => 0b0010_0000,
        2 => 0b0100_0000,
        _ => 0,
    }
}

/// A message: header (length, type) around `body`.
pub fn frame(msg_type: u8, body: &[u8]) -> Vec<u8> {
    let len = body.len() + 2;
    let mut out = if len <= 255 {
        vec![len as u8]
    } else {
        let len = len + 2;
        vec![0x01, (len >> 8) as u8, len as u8]
    };
    out.push(msg_type);
    out.extend_from_slice(body);
    out
}

/// A received message: its type and body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SnMsg {
    pub msg_type: u8,
    pub body: Vec<u8>,
}

impl SnMsg {
    pub fn u16_at(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.body[at], self.body[at + 1]])
    }
}

/// A client of the gateway at `gateway`.
pub struct SnClient {
    pub socket: UdpSocket,
    pub gateway: SocketAddr,
    next_msg_id: u16,
}

impl SnClient {
    pub fn new(gateway: SocketAddr) -> SnClient {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind a UDP socket");
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .expect("set a read timeout");
        SnClient {
            socket,
            gateway,
            next_msg_id: 0,
        }
    }

    pub fn msg_id(&mut self) -> u16 {
        self.next_msg_id += 1;
        self.next_msg_id
    }

    pub fn send_raw(&self, bytes: &[u8]) {
        self.socket
            .send_to(bytes, self.gateway)
            .expect("send a datagram");
    }

    pub fn send(&self, msg_type: u8, body: &[u8]) {
        self.send_raw(&frame(msg_type, body));
    }

    /// The next datagram, within 5 s.
    pub fn recv(&self) -> SnMsg {
        self.try_recv(Duration::from_secs(5))
            .expect("a datagram from the gateway within 5 s")
    }

    /// The next datagram within `wait`, if one comes.
    pub fn try_recv(&self, wait: Duration) -> Option<SnMsg> {
        self.socket
            .set_read_timeout(Some(wait))
            .expect("set a read timeout");
        let mut buf = [0u8; 65_536];
        let (len, _) = self.socket.recv_from(&mut buf).ok()?;
        let bytes = &buf[..len];
        let (header, length) = if bytes[0] == 0x01 {
            (3, usize::from(u16::from_be_bytes([bytes[1], bytes[2]])))
        } else {
            (1, usize::from(bytes[0]))
        };
        assert_eq!(length, len, "the length field says the datagram's size");
        Some(SnMsg {
            msg_type: bytes[header],
            body: bytes[header + 1..].to_vec(),
        })
    }

    /// The next datagram, which must be of `msg_type`.
    pub fn expect(&self, msg_type: u8) -> SnMsg {
        let msg = self.recv();
        assert_eq!(msg.msg_type, msg_type, "unexpected message {msg:?}");
        msg
    }

    /// CONNECT (no will) and its CONNACK's return code.
    pub fn connect(&self, client_id: &str, clean: bool, duration: u16) -> u8 {
        let mut body = vec![if clean { 0x04 } else { 0 }, 0x01];
        body.extend_from_slice(&duration.to_be_bytes());
        body.extend_from_slice(client_id.as_bytes());
        self.send(CONNECT, &body);
        self.expect(CONNACK).body[0]
    }

    /// CONNECT with a will, through the handshake.
    pub fn connect_with_will(
        &self,
        client_id: &str,
        duration: u16,
        topic: &str,
        message: &[u8],
        qos: i8,
    ) -> u8 {
        let mut body = vec![0x04 | 0x08, 0x01];
        body.extend_from_slice(&duration.to_be_bytes());
        body.extend_from_slice(client_id.as_bytes());
        self.send(CONNECT, &body);
        self.expect(WILLTOPICREQ);
        let mut will = vec![qos_flags(qos)];
        will.extend_from_slice(topic.as_bytes());
        self.send(WILLTOPIC, &will);
        self.expect(WILLMSGREQ);
        self.send(WILLMSG, message);
        self.expect(CONNACK).body[0]
    }

    /// REGISTER; the topic id from REGACK.
    pub fn register(&mut self, topic: &str) -> u16 {
        let msg_id = self.msg_id();
        let mut body = vec![0, 0];
        body.extend_from_slice(&msg_id.to_be_bytes());
        body.extend_from_slice(topic.as_bytes());
        self.send(REGISTER, &body);
        let ack = self.expect(REGACK);
        assert_eq!(ack.u16_at(2), msg_id);
        assert_eq!(ack.body[4], 0, "REGACK accepted");
        ack.u16_at(0)
    }

    /// PUBLISH to a normal topic id; waits for the acknowledgement at QoS 1
    /// and goes through PUBREC / PUBREL / PUBCOMP at QoS 2.
    pub fn publish(&mut self, topic_id: u16, qos: i8, retain: bool, data: &[u8]) {
        let msg_id = if qos > 0 { self.msg_id() } else { 0 };
        let flags = qos_flags(qos) | if retain { 0x10 } else { 0 };
        let mut body = vec![flags];
        body.extend_from_slice(&topic_id.to_be_bytes());
        body.extend_from_slice(&msg_id.to_be_bytes());
        body.extend_from_slice(data);
        self.send(PUBLISH, &body);
        match qos {
            1 => {
                let ack = self.expect(PUBACK);
                assert_eq!(ack.u16_at(2), msg_id);
                assert_eq!(ack.body[4], 0, "PUBACK accepted");
            }
            2 => {
                assert_eq!(self.expect(PUBREC).u16_at(0), msg_id);
                self.send(PUBREL, &msg_id.to_be_bytes());
                assert_eq!(self.expect(PUBCOMP).u16_at(0), msg_id);
            }
            _ => {}
        }
    }

    /// SUBSCRIBE by name; SUBACK's topic id.
    pub fn subscribe(&mut self, filter: &str, qos: i8) -> u16 {
        let msg_id = self.msg_id();
        let mut body = vec![qos_flags(qos)];
        body.extend_from_slice(&msg_id.to_be_bytes());
        body.extend_from_slice(filter.as_bytes());
        self.send(SUBSCRIBE, &body);
        let ack = self.expect(SUBACK);
        assert_eq!(ack.u16_at(3), msg_id);
        assert_eq!(ack.body[5], 0, "SUBACK accepted");
        ack.u16_at(1)
    }

    /// The next PUBLISH, after answering the REGISTERs before it; QoS 1
    /// and 2 acknowledged. Returns (topic id, flags, data).
    pub fn next_publish(&self) -> (u16, u8, Vec<u8>) {
        loop {
            let msg = self.recv();
            match msg.msg_type {
                REGISTER => {
                    let mut ack = msg.body[..4].to_vec();
                    ack.push(0);
                    self.send(REGACK, &ack);
                }
                PUBLISH => {
                    let flags = msg.body[0];
                    let topic_id = msg.u16_at(1);
                    let msg_id = msg.u16_at(3);
                    match (flags >> 5) & 0b11 {
                        0b01 => {
                            let mut ack = topic_id.to_be_bytes().to_vec();
                            ack.extend_from_slice(&msg_id.to_be_bytes());
                            ack.push(0);
                            self.send(PUBACK, &ack);
                        }
                        0b10 => {
                            self.send(PUBREC, &msg_id.to_be_bytes());
                            assert_eq!(self.expect(PUBREL).u16_at(0), msg_id);
                            self.send(PUBCOMP, &msg_id.to_be_bytes());
                        }
                        _ => {}
                    }
                    return (topic_id, flags, msg.body[5..].to_vec());
                }
                other => panic!("expected PUBLISH or REGISTER, got type {other:#x}"),
            }
        }
    }
}
