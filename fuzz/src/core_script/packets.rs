//! Packets built from input fields, and acknowledgements of what a client
//! has in flight.

use mqlite::codec::{
    self, Ack, ConnAck, Connect, Packet, Properties, PropertiesBuilder, Protocol, Publish, QoS,
    ReasonCode, Reasoned, SubAck, Subscribe, UnsubAck, Unsubscribe, Will,
};

use super::client_model::{Phase, Stage};
use super::{Script, CLIENT_IDS, FILTERS, TOPICS};

impl Script<'_> {
    /// A packet for client `i`, built from input fields and encoded: for
    /// an MQTT 5 client, with properties and reason codes (`packet5`).
    pub(super) fn packet(&mut self, i: usize) -> Vec<u8> {
        let client = &self.clients[i];
        if client.phase == Phase::Connected && client.v5() {
            return self.packet5(i);
        }
        let kind = self.input.byte() % 12;
        let mut out = Vec::new();
        let ok = match kind {
            0 => {
                out = self.connect_packet();
                Ok(())
            }
            1 | 2 => {
                let qos = self.input.qos();
                let flags = self.input.byte();
                let topic = self.input.word(&TOPICS);
                let payload = self.input.payload();
                let packet_id = (qos != QoS::AtMostOnce).then(|| self.input.packet_id());
                codec::encode(
                    &Packet::Publish(Publish {
                        dup: qos != QoS::AtMostOnce && flags & 1 != 0,
                        qos,
                        retain: flags & 2 != 0,
                        topic: &topic,
                        packet_id,
                        payload: &payload,
                        properties: Properties::EMPTY,
                    }),
                    &mut out,
                )
            }
            3..=6 => {
                let id = self.smart_id(i);
                let packet = match kind {
                    3 => Packet::PubAck(Ack::new(id)),
                    4 => Packet::PubRec(Ack::new(id)),
                    5 => Packet::PubRel(Ack::new(id)),
                    _ => Packet::PubComp(Ack::new(id)),
                };
                codec::encode(&packet, &mut out)
            }
            7 => {
                let packet_id = self.input.packet_id();
                let n = 1 + self.input.byte() % 3;
                let filters: Vec<(String, QoS)> = (0..n)
                    .map(|_| (self.input.word(&FILTERS), self.input.qos()))
                    .collect();
                codec::encode(
                    &Packet::Subscribe(Subscribe {
                        packet_id,
                        filters: filters
                            .iter()
                            .map(|(f, q)| (f.as_str(), (*q).into()))
                            .collect(),
                        properties: Properties::EMPTY,
                    }),
                    &mut out,
                )
            }
            8 => {
                let packet_id = self.input.packet_id();
                let n = 1 + self.input.byte() % 2;
                let filters: Vec<String> = (0..n).map(|_| self.input.word(&FILTERS)).collect();
                codec::encode(
                    &Packet::Unsubscribe(Unsubscribe {
                        packet_id,
                        filters: filters.iter().map(String::as_str).collect(),
                        properties: Properties::EMPTY,
                    }),
                    &mut out,
                )
            }
            9 => codec::encode(&Packet::PingReq, &mut out),
            10 => codec::encode(&Packet::Disconnect(Reasoned::default()), &mut out),
            _ => {
                // What a client may not send.
                let packet = match self.input.byte() % 4 {
                    0 => Packet::ConnAck(ConnAck {
                        session_present: false,
                        code: ReasonCode::SUCCESS,
                        properties: Properties::EMPTY,
                    }),
                    1 => Packet::SubAck(SubAck {
                        packet_id: 1,
                        codes: vec![ReasonCode::UNSPECIFIED_ERROR],
                        properties: Properties::EMPTY,
                    }),
                    2 => Packet::UnsubAck(UnsubAck::new(1)),
                    _ => Packet::PingResp,
                };
                codec::encode(&packet, &mut out)
            }
        };
        ok.expect("the script builds only encodable packets");
        out
    }

    /// A CONNECT: MQTT 3.1.1, 5.0 (with CONNECT and will properties) or
    /// 3.1.
    pub(super) fn connect_packet(&mut self) -> Vec<u8> {
        let protocol = match self.input.byte() {
            0..=111 => Protocol::V311,
            112..=223 => Protocol::V5,
            _ => Protocol::V31,
        };
        let v5 = protocol == Protocol::V5;
        let flags = self.input.byte();
        let keep_alive = match self.input.byte() % 4 {
            0 => 0,
            1 => 1,
            2 => 10,
            _ => self.input.u16(),
        };
        let client_id = self.input.word(&CLIENT_IDS);
        let will_topic = self.input.word(&TOPICS);
        let will_payload = self.input.payload();
        let will_qos = self.input.qos();
        let properties = if v5 {
            self.connect_properties()
        } else {
            PropertiesBuilder::new()
        };
        let will_properties = if v5 && flags & 2 != 0 {
            self.message_properties(true)
        } else {
            PropertiesBuilder::new()
        };
        let will = (flags & 2 != 0).then(|| Will {
            topic: &will_topic,
            payload: &will_payload,
            qos: will_qos,
            retain: flags & 4 != 0,
            properties: will_properties.unchecked(),
        });
        let mut out = Vec::new();
        codec::encode(
            &Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol,
                clean_session: flags & 1 == 0,
                keep_alive,
                client_id: &client_id,
                will,
                username: (flags & 8 != 0).then_some("user"),
                // MQTT 5 allows a password without a user name.
                password: (flags & 24 == 24 || (v5 && flags & 16 != 0)).then_some(b"pw".as_slice()),
                properties: properties.unchecked(),
            })),
            &mut out,
        )
        .expect("the script builds only encodable packets");
        out
    }

    /// A packet id to acknowledge: usually one the client has in flight.
    pub(super) fn smart_id(&mut self, i: usize) -> u16 {
        let b = self.input.byte();
        let inflight = &self.clients[i].inflight;
        if b < 192 && !inflight.is_empty() {
            *inflight
                .keys()
                .nth(usize::from(b) % inflight.len())
                .expect("in range")
        } else {
            u16::from(b % 8) + 1
        }
    }

    /// Acknowledges a message client `i` has in flight, as a client does.
    pub(super) fn smart_ack(&mut self, i: usize) {
        let b = self.input.byte();
        let client = &self.clients[i];
        let Some((&id, &stage)) = client
            .inflight
            .iter()
            .nth(usize::from(b) % client.inflight.len().max(1))
        else {
            return;
        };
        let packet = match stage {
            Stage::Ack(QoS::ExactlyOnce) => Packet::PubRec(Ack::new(id)),
            Stage::Ack(_) => Packet::PubAck(Ack::new(id)),
            Stage::Comp => Packet::PubComp(Ack::new(id)),
        };
        let mut bytes = Vec::new();
        codec::encode(&packet, &mut bytes).expect("encodable");
        self.feed(i, &bytes);
    }
}
