//! What the core sends a client, as MQTT-SN: its MQTT output read packet
//! by packet and turned into datagrams, with a REGISTER first for a topic
//! the client has no id for, and copies kept of what must be acknowledged.

use std::io::IoSlice;
use std::time::Instant;

use super::client::{ClientKey, HeldPublish, State, Unacked};
use super::gateway::{Gateway, Role};
use super::mqtt::{self, AckKind};
use super::packet::{Flags, Packet, ReturnCode, SnQos, TopicIdType};
use super::topics::short_id;
use crate::codec::{self, QoS};
use crate::core::{ConnId, Core};

/// Output slices looked at per round (the rest in the next round).
const SLICES: usize = 64;

/// MQTT's QoS as MQTT-SN's.
fn sn_qos(qos: QoS) -> SnQos {
    match qos {
        QoS::AtMostOnce => SnQos::AtMostOnce,
        QoS::AtLeastOnce => SnQos::AtLeastOnce,
        QoS::ExactlyOnce => SnQos::ExactlyOnce,
    }
}

/// Flags for a message of `qos` with everything else off.
pub(crate) fn flags(qos: SnQos, topic_id_type: TopicIdType) -> Flags {
    Flags {
        dup: false,
        qos,
        retain: false,
        will: false,
        clean_session: false,
        topic_id_type,
    }
}

impl Gateway {
    /// Turns what the core holds for connection `id` into datagrams, unless
    /// its client sleeps: then it stays in the core, which keeps queueing
    /// behind it (bounded, and in the store for a persistent session).
    pub(crate) fn write(&mut self, now: Instant, core: &mut Core, id: ConnId) {
        let key = match self.conns.get(&id) {
            Some(Role::Client(key)) => Some(key.clone()),
            Some(Role::Detached) => None,
            None => return,
        };
        if let Some(key) = &key {
            if !self.clients.get(key).is_some_and(|c| c.reachable()) {
                return;
            }
        }
        let mut later: Vec<Vec<u8>> = Vec::new();
        loop {
            let mut output = std::mem::take(&mut self.output);
            output.clear();
            {
                let mut slices = [IoSlice::new(&[]); SLICES];
                let count = core.output_slices(id, &mut slices);
                for slice in &slices[..count] {
                    output.extend_from_slice(slice);
                }
            }
            let mut consumed = 0;
            // Behind a REGISTER, the rest stays in the core until REGACK:
            // order kept, and the core's own bounds (the window,
            // `max_pending_output`) hold what waits.
            let mut waiting = key
                .as_ref()
                .is_some_and(|k| self.clients.get(k).is_some_and(|c| !c.held.is_empty()));
            while !waiting {
                let Ok(Some((packet, size))) = codec::decode(&output[consumed..], usize::MAX)
                else {
                    break;
                };
                if let Some(key) = &key {
                    waiting = self.translate(now, key, packet, &mut later);
                }
                consumed += size;
            }
            self.output = output;
            if consumed == 0 {
                break;
            }
            core.handle_written(now, id, consumed);
        }
        for bytes in later {
            core.handle_read(now, id, &bytes);
        }
        if let Some(key) = &key {
            self.finish_wake(now, core, key);
        }
    }

    /// One MQTT packet the core sent the client, as MQTT-SN. Acknowledgements
    /// the gateway gives the core itself go to `later`. Returns whether a
    /// PUBLISH now waits for a registration.
    fn translate(
        &mut self,
        now: Instant,
        key: &ClientKey,
        packet: codec::Packet<'_>,
        later: &mut Vec<Vec<u8>>,
    ) -> bool {
        let Some(client) = self.clients.get_mut(key) else {
            return false;
        };
        let answer = match packet {
            codec::Packet::ConnAck(connack) => {
                let return_code = if !connack.code.is_error() {
                    client.state = State::Active;
                    ReturnCode::Accepted
                } else if connack.code == codec::ReasonCode::SERVER_UNAVAILABLE
                    || connack.code == codec::ReasonCode::SERVER_BUSY
                {
                    ReturnCode::Congestion
                } else {
                    ReturnCode::NotSupported
                };
                Packet::ConnAck { return_code }
            }
            codec::Packet::Publish(publish) => {
                let held = HeldPublish {
                    topic: publish.topic.to_string(),
                    dup: publish.dup,
                    qos: publish.qos,
                    retain: publish.retain,
                    packet_id: publish.packet_id.unwrap_or(0),
                    payload: publish.payload.to_vec(),
                };
                if client.held.is_empty() {
                    return self.send_publish(now, key, held, later);
                }
                client.held.push_back(held);
                return true;
            }
            codec::Packet::PubAck(ack) => Packet::PubAck {
                topic_id: client.inbound_topics.remove(&ack.packet_id).unwrap_or(0),
                msg_id: ack.packet_id,
                return_code: ReturnCode::Accepted,
            },
            codec::Packet::PubRec(ack) => {
                client.inbound_topics.remove(&ack.packet_id);
                Packet::PubRec {
                    msg_id: ack.packet_id,
                }
            }
            codec::Packet::PubRel(ack) => {
                let msg_id = ack.packet_id;
                if let Some(at) = client.abandoned_qos2.iter().position(|&id| id == msg_id) {
                    client.abandoned_qos2.swap_remove(at);
                    let mut bytes = Vec::new();
                    mqtt::ack(AckKind::PubComp, msg_id, &mut bytes);
                    later.push(bytes);
                    return false;
                }
                let packet = Packet::PubRel { msg_id };
                client.unacked.insert(
                    msg_id,
                    Unacked {
                        packet: packet.clone(),
                        sent_at: now,
                        tries: 0,
                    },
                );
                packet
            }
            codec::Packet::PubComp(ack) => Packet::PubComp {
                msg_id: ack.packet_id,
            },
            codec::Packet::SubAck(suback) => {
                let topic_id = client.subscribes.remove(&suback.packet_id).unwrap_or(0);
                let granted = suback
                    .codes
                    .first()
                    .and_then(|code| (!code.is_error()).then(|| QoS::from_u8(code.0)))
                    .flatten();
                match granted {
                    Some(qos) => Packet::SubAck {
                        flags: flags(sn_qos(qos), TopicIdType::Normal),
                        topic_id,
                        msg_id: suback.packet_id,
                        return_code: ReturnCode::Accepted,
                    },
                    None => Packet::SubAck {
                        flags: flags(SnQos::AtMostOnce, TopicIdType::Normal),
                        topic_id: 0,
                        msg_id: suback.packet_id,
                        return_code: ReturnCode::NotSupported,
                    },
                }
            }
            codec::Packet::UnsubAck(unsuback) => Packet::UnsubAck {
                msg_id: unsuback.packet_id,
            },
            // The gateway answers PINGREQ itself; nothing else is for a
            // 3.1.1 client.
            _ => return false,
        };
        self.send_to_client(key, &answer);
        false
    }

    /// Sends `publish` to the client, or registers its topic first (then it
    /// waits, with every later one, for the REGACK): returns whether it
    /// waits.
    pub(crate) fn send_publish(
        &mut self,
        now: Instant,
        key: &ClientKey,
        publish: HeldPublish,
        later: &mut Vec<Vec<u8>>,
    ) -> bool {
        let max = self.settings.max_registered_topics;
        let known = if let Some(id) = self.predefined.id(&publish.topic) {
            Some((TopicIdType::Predefined, id))
        } else if let Some(id) = short_id(&publish.topic) {
            Some((TopicIdType::Short, id))
        } else {
            self.clients
                .get(key)
                .and_then(|c| c.topics.id(&publish.topic))
                .map(|id| (TopicIdType::Normal, id))
        };
        let Some(client) = self.clients.get_mut(key) else {
            return false;
        };
        // What MQTT-SN cannot carry (a payload near 64 KiB, a topic name
        // too long for REGISTER) counts as delivered, as for a topic id
        // the client has no room for.
        let too_large = publish.payload.len() + 7 > super::codec::MAX_MESSAGE_LEN
            || (known.is_none() && publish.topic.len() + 6 > super::codec::MAX_MESSAGE_LEN);
        if too_large {
            log::debug!(
                "mqtt-sn client {}: a message on {} too large for MQTT-SN, dropped",
                client.client_id,
                publish.topic
            );
            self.abandon(key, &publish, later);
            return false;
        }
        let Some((topic_id_type, topic_id)) = known else {
            match client
                .topics
                .register(&publish.topic, max, &self.predefined)
            {
                Some(topic_id) => {
                    let msg_id = client.next_register_id();
                    let register = Packet::Register {
                        topic_id,
                        msg_id,
                        topic_name: publish.topic.as_bytes().to_vec(),
                    };
                    client.registering.insert(
                        msg_id,
                        Unacked {
                            packet: register.clone(),
                            sent_at: now,
                            tries: 0,
                        },
                    );
                    client.held.push_back(publish);
                    self.send_to_client(key, &register);
                    return true;
                }
                None => {
                    log::debug!(
                        "mqtt-sn client {}: no topic id left for {}, message dropped",
                        client.client_id,
                        publish.topic
                    );
                    self.abandon(key, &publish, later);
                }
            }
            return false;
        };
        let qos = sn_qos(publish.qos);
        let packet = Packet::Publish {
            flags: Flags {
                dup: publish.dup,
                retain: publish.retain,
                ..flags(qos, topic_id_type)
            },
            topic_id,
            msg_id: publish.packet_id,
            data: publish.payload,
        };
        if publish.qos != QoS::AtMostOnce {
            client.unacked.insert(
                publish.packet_id,
                Unacked {
                    packet: packet.clone(),
                    sent_at: now,
                    tries: 0,
                },
            );
        }
        self.send_to_client(key, &packet);
        false
    }

    /// A message the client cannot be sent: the core is told it was
    /// delivered, so that its window does not stay taken.
    fn abandon(&mut self, key: &ClientKey, publish: &HeldPublish, later: &mut Vec<Vec<u8>>) {
        self.stats.dropped += 1;
        let mut bytes = Vec::new();
        match publish.qos {
            QoS::AtMostOnce => return,
            QoS::AtLeastOnce => mqtt::ack(AckKind::PubAck, publish.packet_id, &mut bytes),
            QoS::ExactlyOnce => {
                mqtt::ack(AckKind::PubRec, publish.packet_id, &mut bytes);
                if let Some(client) = self.clients.get_mut(key) {
                    client.abandoned_qos2.push(publish.packet_id);
                }
            }
        }
        later.push(bytes);
    }

    /// REGACK from the client: the held messages go out (those of a topic
    /// it refused are dropped).
    pub(crate) fn reg_ack(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        msg_id: u16,
        return_code: ReturnCode,
    ) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let Some(Unacked {
            packet: Packet::Register { topic_name, .. },
            ..
        }) = client.registering.remove(&msg_id)
        else {
            self.stats.dropped += 1;
            return;
        };
        let mut later = Vec::new();
        if return_code != ReturnCode::Accepted {
            let refused: Vec<HeldPublish> = client
                .held
                .iter()
                .filter(|p| p.topic.as_bytes() == topic_name.as_slice())
                .cloned()
                .collect();
            client
                .held
                .retain(|p| p.topic.as_bytes() != topic_name.as_slice());
            for publish in &refused {
                self.abandon(key, publish, &mut later);
            }
        }
        self.release_held(now, key, &mut later);
        self.feed_all(now, core, key, later);
        // What waited in the core behind the registration.
        let conn = self.clients.get(key).and_then(|c| c.conn);
        if let Some(conn) = conn {
            self.write(now, core, conn);
        }
    }

    /// Sends held messages until one needs a registration.
    fn release_held(&mut self, now: Instant, key: &ClientKey, later: &mut Vec<Vec<u8>>) {
        loop {
            let Some(client) = self.clients.get_mut(key) else {
                return;
            };
            if !client.registering.is_empty() {
                return;
            }
            let Some(publish) = client.held.pop_front() else {
                return;
            };
            if self.send_publish(now, key, publish, later) {
                return;
            }
        }
    }

    fn feed_all(&mut self, now: Instant, core: &mut Core, key: &ClientKey, later: Vec<Vec<u8>>) {
        for bytes in later {
            self.feed(now, core, key, |out| out.extend_from_slice(&bytes));
        }
    }

    /// PUBACK, PUBREC or PUBCOMP from the client for what the gateway sent:
    /// the core hears it as an MQTT client's.
    pub(crate) fn client_ack(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        msg_id: u16,
        kind: AckKind,
        return_code: ReturnCode,
    ) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if client.unacked.remove(&msg_id).is_none() {
            // A duplicate, or an answer to what the core never sent.
            self.stats.dropped += 1;
            return;
        }
        if return_code != ReturnCode::Accepted {
            // The client refused it (it lost the topic id): it counts as
            // delivered, as nothing would make the client take it.
            self.stats.dropped += 1;
        }
        self.feed(now, core, key, |out| mqtt::ack(kind, msg_id, out));
        self.finish_wake(now, core, key);
    }

    /// Ends a client's wake-up once everything kept for it went out and was
    /// acknowledged: PINGRESP, and it sleeps again.
    pub(crate) fn finish_wake(&mut self, now: Instant, core: &Core, key: &ClientKey) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let State::Awake { duration } = client.state else {
            return;
        };
        let drained = client.unacked.is_empty()
            && client.registering.is_empty()
            && client.held.is_empty()
            && client.conn.is_some_and(|conn| {
                let mut slices = [IoSlice::new(&[])];
                core.output_slices(conn, &mut slices) == 0
            });
        if drained {
            client.state = State::Asleep {
                since: now,
                duration,
            };
            self.send_to_client(key, &Packet::PingResp);
        }
    }
}
