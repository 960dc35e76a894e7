//! Deterministic tests of the core: simulated clients and a fake clock.
//!
//! This file has the simulator; the tests are in one submodule per feature.

mod access;
mod connect;
mod enhanced_auth;
mod paging;
mod persist_v5;
mod qos;
mod robustness;
mod routing;
mod sessions;
mod shared;
mod timers;
mod v5;
mod wills;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::*;
use crate::codec::{
    self, Connect, Packet, Properties, Protocol, Publish, ReasonCode, Subscribe,
    SubscriptionOptions,
};

/// What a simulated client received, owned for assertions. MQTT 5
/// acknowledgements with a code other than Success are `Reason`.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Got {
    ConnAck(bool, ReasonCode),
    Publish {
        topic: String,
        payload: Vec<u8>,
        qos: QoS,
        retain: bool,
        dup: bool,
        packet_id: u16,
        /// The MQTT 5 property block, raw.
        properties: Vec<u8>,
    },
    PubAck(u16),
    PubRec(u16),
    PubRel(u16),
    PubComp(u16),
    /// An MQTT 5 PUBACK .. PUBCOMP with an error or informative code.
    Reason(&'static str, u16, ReasonCode),
    SubAck(u16, Vec<ReasonCode>),
    UnsubAck(u16),
    /// An MQTT 5 UNSUBACK's codes.
    UnsubAckCodes(u16, Vec<ReasonCode>),
    /// An MQTT 5 DISCONNECT from the server.
    Disconnect(ReasonCode),
    /// An MQTT 5 AUTH: its code and raw properties.
    Auth(ReasonCode, Vec<u8>),
    PingResp,
}

struct Sim {
    core: Core,
    now: Instant,
    /// A store the core's operations are applied to, as the reactor does.
    store: Option<paging::ModelStore>,
    /// The protocol of each connection's CONNECT, to encode and decode its
    /// packets.
    protocols: HashMap<ConnId, Protocol>,
    /// The CONNACK properties each MQTT 5 connection received, raw.
    connack_properties: HashMap<ConnId, Vec<u8>>,
}

fn peer() -> Peer {
    Peer::Tcp(([127, 0, 0, 1], 40000).into())
}

fn test_config() -> Config {
    Config {
        sys_interval: None,
        ..Config::default()
    }
}

impl Sim {
    fn new() -> Sim {
        Sim::with_config(test_config())
    }

    fn with_config(config: Config) -> Sim {
        let now = Instant::now();
        Sim {
            core: Core::new(config, now),
            now,
            store: None,
            protocols: HashMap::new(),
            connack_properties: HashMap::new(),
        }
    }

    fn accept(&mut self) -> ConnId {
        self.core.handle_accept(self.now, peer()).expect("accepted")
    }

    fn protocol(&self, id: ConnId) -> Protocol {
        self.protocols.get(&id).copied().unwrap_or(Protocol::V311)
    }

    fn send(&mut self, id: ConnId, packet: Packet<'_>) {
        if let Packet::Connect(connect) = &packet {
            self.protocols.insert(id, connect.protocol);
        }
        let mut bytes = Vec::new();
        codec::encode_as(&packet, self.protocol(id), &mut bytes).expect("encodable");
        self.core.handle_read(self.now, id, &bytes);
    }

    fn send_raw(&mut self, id: ConnId, bytes: &[u8]) {
        self.core.handle_read(self.now, id, bytes);
    }

    /// Everything written to `id` so far (the socket "reads" it all).
    fn recv(&mut self, id: ConnId) -> Vec<Got> {
        let mut bytes = Vec::new();
        loop {
            self.save();
            let out = self.core.output(id).to_vec();
            if out.is_empty() {
                break;
            }
            self.core.handle_written(self.now, id, out.len());
            bytes.extend_from_slice(&out);
        }
        let protocol = self.protocol(id);
        let mut got = Vec::new();
        let mut pos = 0;
        while pos < bytes.len() {
            let (packet, used) = codec::decode_as(&bytes[pos..], usize::MAX, Some(protocol))
                .expect("valid output")
                .expect("complete output");
            pos += used;
            let ack = |name, ack: codec::Ack<'_>, plain: fn(u16) -> Got| {
                if ack.reason == ReasonCode::SUCCESS {
                    plain(ack.packet_id)
                } else {
                    Got::Reason(name, ack.packet_id, ack.reason)
                }
            };
            got.push(match packet {
                Packet::ConnAck(connack) => {
                    self.connack_properties
                        .insert(id, connack.properties.as_bytes().to_vec());
                    Got::ConnAck(connack.session_present, connack.code)
                }
                Packet::Publish(p) => Got::Publish {
                    topic: p.topic.to_string(),
                    payload: p.payload.to_vec(),
                    qos: p.qos,
                    retain: p.retain,
                    dup: p.dup,
                    packet_id: p.packet_id.unwrap_or(0),
                    properties: p.properties.as_bytes().to_vec(),
                },
                Packet::PubAck(a) => ack("PUBACK", a, Got::PubAck),
                Packet::PubRec(a) => ack("PUBREC", a, Got::PubRec),
                Packet::PubRel(a) => ack("PUBREL", a, Got::PubRel),
                Packet::PubComp(a) => ack("PUBCOMP", a, Got::PubComp),
                Packet::SubAck(ack) => Got::SubAck(ack.packet_id, ack.codes),
                Packet::UnsubAck(ack) if protocol.is_v5() => {
                    Got::UnsubAckCodes(ack.packet_id, ack.codes)
                }
                Packet::UnsubAck(ack) => Got::UnsubAck(ack.packet_id),
                Packet::Disconnect(d) => Got::Disconnect(d.reason),
                Packet::Auth(a) => Got::Auth(a.reason, a.properties.as_bytes().to_vec()),
                Packet::PingResp => Got::PingResp,
                other => panic!("server sent {}", other.name()),
            });
        }
        got
    }

    fn publishes(&mut self, id: ConnId) -> Vec<(String, Vec<u8>, QoS, bool)> {
        self.recv(id)
            .into_iter()
            .filter_map(|g| match g {
                Got::Publish {
                    topic,
                    payload,
                    qos,
                    retain,
                    ..
                } => Some((topic, payload, qos, retain)),
                _ => None,
            })
            .collect()
    }

    fn is_open(&self, id: ConnId) -> bool {
        self.core.is_open(id)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.core.handle_timeout(self.now);
    }

    /// Releases closed connections, as the reactor does after its writes.
    fn reap(&mut self) {
        let mut ids = Vec::new();
        self.core.poll_closing(&mut ids);
        for id in ids {
            self.core.handle_released(id);
        }
    }

    fn connect_with(&mut self, connect: Connect<'_>) -> (ConnId, Vec<Got>) {
        let id = self.accept();
        self.send(id, Packet::Connect(Box::new(connect)));
        let got = self.recv(id);
        (id, got)
    }

    fn connect(&mut self, client_id: &str, clean: bool) -> ConnId {
        let (id, got) = self.connect_with(connect(client_id, clean));
        assert!(matches!(got[0], Got::ConnAck(_, ReasonCode::SUCCESS)));
        id
    }

    fn subscribe(&mut self, id: ConnId, filter: &str, qos: QoS) -> Vec<Got> {
        self.subscribe_with(id, filter, qos.into(), Properties::EMPTY)
    }

    fn subscribe_with(
        &mut self,
        id: ConnId,
        filter: &str,
        options: SubscriptionOptions,
        properties: Properties<'_>,
    ) -> Vec<Got> {
        self.send(
            id,
            Packet::Subscribe(Subscribe {
                packet_id: 1,
                filters: vec![(filter, options)],
                properties,
            }),
        );
        self.recv(id)
    }

    fn publish(
        &mut self,
        id: ConnId,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        pid: u16,
    ) {
        self.send(
            id,
            Packet::Publish(Publish {
                dup: false,
                qos,
                retain,
                topic,
                packet_id: (qos != QoS::AtMostOnce).then_some(pid),
                payload,
                properties: Properties::EMPTY,
            }),
        );
    }
}

fn connect(client_id: &str, clean: bool) -> Connect<'_> {
    Connect {
        bridge: false,
        protocol: Protocol::V311,
        clean_session: clean,
        keep_alive: 0,
        client_id,
        will: None,
        username: None,
        password: None,
        properties: Properties::EMPTY,
    }
}

fn publish_got(
    topic: &str,
    payload: &[u8],
    qos: QoS,
    retain: bool,
) -> (String, Vec<u8>, QoS, bool) {
    (topic.to_string(), payload.to_vec(), qos, retain)
}
