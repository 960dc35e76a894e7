//! A raw MQTT 3.1.1 client on a TcpStream, built on `mqlite::codec`: for
//! exact packets (several written at once, before any answer) and for the
//! broker closing the connection.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Instant;

use mqlite::codec::{self, Connect, Packet, Protocol};

use super::TIMEOUT;

#[derive(Debug, PartialEq)]
pub enum In {
    ConnAck(u8),
    SubAck(Vec<u8>),
    PubAck(u16),
    Publish { topic: String, payload: Vec<u8> },
    Other(&'static str),
}

impl In {
    pub fn from_packet(packet: Packet<'_>) -> In {
        match packet {
            Packet::ConnAck(ack) => In::ConnAck(ack.code as u8),
            Packet::SubAck(ack) => In::SubAck(ack.codes.iter().map(|c| c.to_u8()).collect()),
            Packet::PubAck(id) => In::PubAck(id),
            Packet::Publish(publish) => In::Publish {
                topic: publish.topic.to_string(),
                payload: publish.payload.to_vec(),
            },
            other => In::Other(other.name()),
        }
    }
}

pub struct Raw {
    stream: TcpStream,
    input: Vec<u8>,
}

impl Raw {
    pub fn tcp(addr: SocketAddr) -> Raw {
        let stream = TcpStream::connect(addr).expect("connect to the broker");
        stream.set_nodelay(true).unwrap();
        Raw {
            stream,
            input: Vec::new(),
        }
    }

    pub fn connect_packet(client_id: &str, keep_alive: u16, username: Option<&str>) -> Vec<u8> {
        let mut out = Vec::new();
        codec::encode(
            &Packet::Connect(Connect {
                protocol: Protocol::V311,
                clean_session: true,
                keep_alive,
                client_id,
                will: None,
                username,
                password: username.map(|_| b"pw".as_slice()),
            }),
            &mut out,
        )
        .unwrap();
        out
    }

    /// Connects and expects CONNACK 0.
    pub fn connect(addr: SocketAddr, client_id: &str, keep_alive: u16) -> Raw {
        let mut raw = Raw::tcp(addr);
        raw.write(&Raw::connect_packet(client_id, keep_alive, None));
        assert_eq!(raw.recv(), In::ConnAck(0), "CONNACK for {client_id}");
        raw
    }

    pub fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write to the broker");
    }

    pub fn send(&mut self, packet: &Packet<'_>) {
        let mut out = Vec::new();
        codec::encode(packet, &mut out).unwrap();
        self.write(&out);
    }

    /// The next packet, or `Ok(None)` at end of stream.
    pub fn read_packet(&mut self, deadline: Instant) -> io::Result<Option<In>> {
        let mut chunk = [0u8; 4096];
        loop {
            let decoded = codec::decode(&self.input, 1 << 20)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?
                .map(|(packet, used)| (In::from_packet(packet), used));
            if let Some((packet, used)) = decoded {
                self.input.drain(..used);
                return Ok(Some(packet));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::ErrorKind::TimedOut.into());
            }
            self.stream.set_read_timeout(Some(left))?;
            match self.stream.read(&mut chunk) {
                Ok(0) => return Ok(None),
                Ok(n) => self.input.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(error) => return Err(error),
            }
        }
    }

    pub fn recv(&mut self) -> In {
        match self.read_packet(Instant::now() + TIMEOUT) {
            Ok(Some(packet)) => packet,
            Ok(None) => panic!("the broker closed the connection"),
            Err(error) => panic!("no packet from the broker: {error}"),
        }
    }

    /// Waits for the broker to close the connection; returns the packets
    /// received before.
    pub fn until_closed(&mut self) -> Vec<In> {
        let deadline = Instant::now() + TIMEOUT;
        let mut packets = Vec::new();
        loop {
            match self.read_packet(deadline) {
                Ok(Some(packet)) => packets.push(packet),
                Ok(None) => return packets,
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return packets,
                Err(error) => panic!("the broker did not close the connection: {error}"),
            }
        }
    }
}
