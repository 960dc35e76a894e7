//! Deterministic tests of the gateway: a core, the gateway, datagrams
//! built with the codec, simulated MQTT clients on the core, and a fake
//! clock. The reactor's part (sockets) is left out: `Sim::pump` does what
//! its flush does for gateway connections.

mod clients;
mod publish;
mod sleep;
mod topics;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::codec;
use super::gateway::Gateway;
use super::packet::{Datagram, Flags, Forwarded, Packet, ReturnCode, SnQos, TopicIdType};
use super::MqttSnGateway;
use crate::codec::{self as mqtt_codec, QoS};
use crate::core::{ConnId, Core};
use crate::{Config, Peer};

/// A message an MQTT client of the core received.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Got {
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
}

struct Sim {
    core: Core,
    gateway: Gateway,
    now: Instant,
}

fn addr(port: u16) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, 1], port))
}

fn settings() -> MqttSnGateway {
    MqttSnGateway {
        listen: vec![SocketAddr::from(([127, 0, 0, 1], 0))],
        advertise_interval: None,
        predefined_topics: vec![(7, "pre/defined".into())],
        retry_interval: Duration::from_secs(2),
        max_retries: 2,
        ..MqttSnGateway::default()
    }
}

fn flags(qos: SnQos, topic_id_type: TopicIdType) -> Flags {
    Flags {
        dup: false,
        qos,
        retain: false,
        will: false,
        clean_session: true,
        topic_id_type,
    }
}

impl Sim {
    fn new() -> Sim {
        Sim::with(settings())
    }

    fn with(settings: MqttSnGateway) -> Sim {
        let now = Instant::now();
        let config = Config {
            sys_interval: None,
            mqttsn: Some(settings.clone()),
            ..Config::default()
        };
        Sim {
            core: Core::new(config, now),
            gateway: Gateway::new(settings, now),
            now,
        }
    }

    /// A datagram from `port`, then what the reactor would do after it.
    fn send(&mut self, port: u16, packet: &Packet) {
        let mut bytes = Vec::new();
        codec::encode(packet, &mut bytes);
        self.send_raw(port, &bytes);
    }

    fn send_raw(&mut self, port: u16, bytes: &[u8]) {
        self.gateway
            .handle_datagram(self.now, &mut self.core, 0, addr(port), bytes);
        self.pump();
    }

    /// Writes the gateway connections' output and closes what the core
    /// closed, until nothing changes (the reactor's flush).
    fn pump(&mut self) {
        loop {
            let mut ids = Vec::new();
            self.core.poll_dirty(&mut ids);
            let mut busy = false;
            for &id in &ids {
                if self.gateway.owns(id) {
                    self.gateway.write(self.now, &mut self.core, id);
                    busy = true;
                }
            }
            let mut closing = Vec::new();
            self.core.poll_closing(&mut closing);
            for &id in &closing {
                if self.gateway.owns(id) {
                    self.gateway.release(self.now, &mut self.core, id);
                }
                self.core.handle_released(id);
                busy = true;
            }
            if !busy {
                return;
            }
        }
    }

    /// The datagrams sent to `port` since the last call, decoded.
    fn received(&mut self, port: u16) -> Vec<Packet> {
        let mut got = Vec::new();
        let mut kept = Vec::new();
        for datagram in self.gateway.outgoing.drain(..) {
            if datagram.to == addr(port) {
                match codec::decode(&datagram.bytes) {
                    Ok(Datagram { packet, .. }) => got.push(packet),
                    Err(error) => panic!("the gateway sent a malformed datagram: {error}"),
                }
            } else {
                kept.push(datagram);
            }
        }
        self.gateway.outgoing = kept;
        got
    }

    /// The one datagram sent to `port`.
    fn one(&mut self, port: u16) -> Packet {
        let got = self.received(port);
        assert_eq!(got.len(), 1, "expected one datagram, got {got:?}");
        got.into_iter().next().unwrap_or(Packet::PingResp)
    }

    fn advance(&mut self, by: Duration) {
        self.now += by;
        self.core.handle_timeout(self.now);
        self.gateway.handle_timeout(self.now, &mut self.core);
        self.pump();
    }

    /// An MQTT-SN client at `port` connects (clean session, keep alive 60).
    fn sn_connect(&mut self, port: u16, client_id: &str) {
        self.sn_connect_with(port, client_id, true, 60);
    }

    fn sn_connect_with(&mut self, port: u16, client_id: &str, clean: bool, duration: u16) {
        let mut f = flags(SnQos::AtMostOnce, TopicIdType::Normal);
        f.clean_session = clean;
        self.send(
            port,
            &Packet::Connect {
                flags: f,
                protocol_id: 1,
                duration,
                client_id: client_id.as_bytes().to_vec(),
            },
        );
        assert_eq!(
            self.one(port),
            Packet::ConnAck {
                return_code: ReturnCode::Accepted
            }
        );
    }

    /// REGISTER from the client; returns the topic id.
    fn sn_register(&mut self, port: u16, topic: &str) -> u16 {
        self.send(
            port,
            &Packet::Register {
                topic_id: 0,
                msg_id: 1,
                topic_name: topic.as_bytes().to_vec(),
            },
        );
        match self.one(port) {
            Packet::RegAck {
                topic_id,
                msg_id: 1,
                return_code: ReturnCode::Accepted,
            } => topic_id,
            other => panic!("expected REGACK, got {other:?}"),
        }
    }

    /// An MQTT 3.1.1 client connects to the core.
    fn mqtt_connect(&mut self, client_id: &str) -> ConnId {
        let peer = Peer::Tcp(SocketAddr::from(([127, 0, 0, 1], 40000)));
        let id = self
            .core
            .handle_accept_on(self.now, peer, 0)
            .unwrap_or(ConnId(usize::MAX));
        let mut bytes = Vec::new();
        let connect = mqtt_codec::Packet::Connect(Box::new(mqtt_codec::Connect {
            protocol: mqtt_codec::Protocol::V311,
            bridge: false,
            clean_session: true,
            keep_alive: 0,
            client_id,
            will: None,
            username: None,
            password: None,
            properties: mqtt_codec::Properties::EMPTY,
        }));
        let _ = mqtt_codec::encode(&connect, &mut bytes);
        self.core.handle_read(self.now, id, &bytes);
        self.pump();
        self.mqtt_take(id);
        id
    }

    /// Subscribes MQTT client `id`; returns the retained messages it got.
    fn mqtt_subscribe(&mut self, id: ConnId, filter: &str, qos: QoS) -> Vec<Got> {
        let mut bytes = Vec::new();
        super::mqtt::subscribe(1, filter, qos, &mut bytes);
        self.core.handle_read(self.now, id, &bytes);
        self.pump();
        self.mqtt_take(id)
    }

    fn mqtt_publish(&mut self, id: ConnId, topic: &str, payload: &[u8], qos: QoS, retain: bool) {
        let mut bytes = Vec::new();
        super::mqtt::publish(topic, qos, retain, false, 9, payload, &mut bytes);
        self.core.handle_read(self.now, id, &bytes);
        self.pump();
        self.mqtt_take(id);
    }

    /// The PUBLISHes MQTT client `id` received since the last call (other
    /// packets are dropped; QoS 1 ones are acknowledged).
    fn mqtt_take(&mut self, id: ConnId) -> Vec<Got> {
        let mut slices = [std::io::IoSlice::new(&[]); 64];
        let count = self.core.output_slices(id, &mut slices);
        let mut bytes = Vec::new();
        for slice in &slices[..count] {
            bytes.extend_from_slice(slice);
        }
        let mut got = Vec::new();
        let mut acks = Vec::new();
        let mut at = 0;
        while let Ok(Some((packet, size))) = mqtt_codec::decode(&bytes[at..], usize::MAX) {
            if let mqtt_codec::Packet::Publish(p) = packet {
                if p.qos == QoS::AtLeastOnce {
                    super::mqtt::ack(
                        super::mqtt::AckKind::PubAck,
                        p.packet_id.unwrap_or(0),
                        &mut acks,
                    );
                }
                got.push(Got {
                    topic: p.topic.to_string(),
                    payload: p.payload.to_vec(),
                    qos: p.qos,
                    retain: p.retain,
                });
            }
            at += size;
        }
        if at > 0 {
            self.core.handle_written(self.now, id, at);
        }
        if !acks.is_empty() {
            self.core.handle_read(self.now, id, &acks);
            self.pump();
        }
        got
    }
}

/// A forwarder's encapsulation, for tests that go through one.
fn forwarded(node: &[u8]) -> Forwarded {
    Forwarded {
        ctrl: 0,
        node_id: node.to_vec(),
    }
}
