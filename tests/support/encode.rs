//! Packets as a test sends them: [`ConnectOptions`] for CONNECT, [`encode`]
//! for any well-formed packet, and [`frame`], [`field`] and [`cat`] to build
//! malformed ones byte by byte.

use mqlite::codec::{self, Connect, Packet, Properties, Protocol, QoS, Will};

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
                properties: Properties::EMPTY,
            });
        let packet = Packet::Connect(Box::new(Connect {
            bridge: false,
            protocol: self.protocol,
            clean_session: self.clean,
            keep_alive: self.keepalive,
            client_id: &self.client_id,
            will,
            username: self.username.as_deref(),
            password: self.password.as_deref(),
            properties: Properties::EMPTY,
        }));
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
