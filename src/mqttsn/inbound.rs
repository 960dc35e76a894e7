//! Messages from clients: what each asks of the gateway, and the MQTT
//! packet that stands for it at the core.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{ClientKey, State};
use super::gateway::{message_id, with_dup, Gateway, Role};
use super::mqtt::{self, AckKind};
use super::packet::{Flags, Forwarded, Packet, ReturnCode, SnQos, SubscribeTopic, TopicIdType};
use super::topics::short_name;
use crate::codec::QoS;
use crate::core::Core;
use crate::peer::{GatewayProtocol, Peer};

/// MQTT-SN's QoS as MQTT's; `None` for −1.
pub(crate) fn mqtt_qos(qos: SnQos) -> Option<QoS> {
    match qos {
        SnQos::AtMostOnce => Some(QoS::AtMostOnce),
        SnQos::AtLeastOnce => Some(QoS::AtLeastOnce),
        SnQos::ExactlyOnce => Some(QoS::ExactlyOnce),
        SnQos::MinusOne => None,
    }
}

impl Gateway {
    pub(crate) fn handle_packet(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: ClientKey,
        forwarded: Option<Forwarded>,
        packet: Packet,
    ) {
        match packet {
            Packet::SearchGw { .. } => {
                let answer = Packet::GwInfo {
                    gw_id: self.settings.gateway_id,
                    gw_add: Vec::new(),
                };
                self.send(&key, forwarded.as_ref(), &answer);
                return;
            }
            // Other gateways' announcements, and answers to searches.
            Packet::Advertise { .. } | Packet::GwInfo { .. } => return,
            Packet::Connect {
                flags,
                duration,
                client_id,
                ..
            } => {
                self.connect(now, core, key, forwarded, flags, duration, client_id);
                return;
            }
            Packet::Publish {
                flags,
                topic_id,
                data,
                ..
            } if flags.qos == SnQos::MinusOne && !self.clients.contains_key(&key) => {
                self.connectionless_publish(now, core, &key, flags, topic_id, &data);
                return;
            }
            _ => {}
        }
        let Some(client) = self.clients.get_mut(&key) else {
            // Not connected: told so, it connects again (as the
            // specification's clients do on DISCONNECT).
            self.stats.dropped += 1;
            if !matches!(packet, Packet::Disconnect { .. }) {
                self.send(
                    &key,
                    forwarded.as_ref(),
                    &Packet::Disconnect { duration: None },
                );
            }
            return;
        };
        client.last_heard = now;
        match packet {
            Packet::WillTopic { will } => self.will_topic(now, core, &key, will),
            Packet::WillMsg { message } => self.will_message(now, core, &key, &message),
            Packet::Register {
                msg_id, topic_name, ..
            } => self.register(&key, msg_id, &topic_name),
            Packet::RegAck {
                msg_id,
                return_code,
                ..
            } => self.reg_ack(now, core, &key, msg_id, return_code),
            Packet::Publish {
                flags,
                topic_id,
                msg_id,
                data,
            } => self.publish(now, core, &key, flags, topic_id, msg_id, &data),
            Packet::PubAck {
                msg_id,
                return_code,
                ..
            } => self.client_ack(now, core, &key, msg_id, AckKind::PubAck, return_code),
            Packet::PubRec { msg_id } => {
                self.client_ack(
                    now,
                    core,
                    &key,
                    msg_id,
                    AckKind::PubRec,
                    ReturnCode::Accepted,
                );
            }
            Packet::PubComp { msg_id } => {
                self.client_ack(
                    now,
                    core,
                    &key,
                    msg_id,
                    AckKind::PubComp,
                    ReturnCode::Accepted,
                );
            }
            Packet::PubRel { msg_id } => self.feed(now, core, &key, |out| {
                mqtt::ack(AckKind::PubRel, msg_id, out);
            }),
            Packet::Subscribe {
                flags,
                msg_id,
                topic,
            } => self.subscribe(now, core, &key, flags, msg_id, topic),
            Packet::Unsubscribe { msg_id, topic, .. } => {
                self.unsubscribe(now, core, &key, msg_id, topic);
            }
            Packet::PingReq { client_id } => self.ping(now, core, &key, client_id),
            Packet::Disconnect { duration } => self.disconnect(now, core, &key, duration),
            Packet::WillTopicUpd { will } => self.will_topic_update(core, &key, will),
            Packet::WillMsgUpd { message } => self.will_message_update(core, &key, &message),
            // Gateway-to-client messages sent to the gateway.
            _ => self.stats.dropped += 1,
        }
    }

    /// Hands the core the MQTT bytes `build` writes, on `key`'s connection.
    pub(crate) fn feed(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        build: impl FnOnce(&mut Vec<u8>),
    ) {
        let Some(conn) = self.clients.get(key).and_then(|c| c.conn) else {
            self.stats.dropped += 1;
            return;
        };
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        build(&mut bytes);
        core.handle_read(now, conn, &bytes);
        self.scratch = bytes;
    }

    fn register(&mut self, key: &ClientKey, msg_id: u16, topic_name: &[u8]) {
        let max = self.settings.max_registered_topics;
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let name = std::str::from_utf8(topic_name)
            .ok()
            .filter(|name| crate::topic::is_valid_topic_name(name));
        let (topic_id, return_code) = match name {
            None => (0, ReturnCode::NotSupported),
            Some(name) => match client.topics.register(name, max, &self.predefined) {
                Some(id) => (id, ReturnCode::Accepted),
                None => (0, ReturnCode::Congestion),
            },
        };
        if return_code == ReturnCode::Congestion {
            self.stats.dropped += 1;
        }
        self.send_to_client(
            key,
            &Packet::RegAck {
                topic_id,
                msg_id,
                return_code,
            },
        );
    }

    #[allow(clippy::too_many_arguments)]
    fn publish(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        flags: Flags,
        topic_id: u16,
        msg_id: u16,
        data: &[u8],
    ) {
        // One look at the client for the whole message (the per-message
        // path): its state, its topic ids, its connection.
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        let conn = match (client.state, client.conn) {
            (State::Active | State::Awake { .. }, Some(conn)) => conn,
            _ => {
                self.stats.dropped += 1;
                return;
            }
        };
        let topic: Option<Arc<str>> = match flags.topic_id_type {
            TopicIdType::Normal => client.topics.name(topic_id).cloned(),
            TopicIdType::Predefined => self.predefined.name(topic_id).cloned(),
            TopicIdType::Short => short_name(topic_id.to_be_bytes()).map(Arc::from),
        };
        let qos = mqtt_qos(flags.qos).unwrap_or(QoS::AtMostOnce);
        let refusal = match &topic {
            None => Some(ReturnCode::InvalidTopicId),
            Some(_) if qos != QoS::AtMostOnce && msg_id == 0 => Some(ReturnCode::NotSupported),
            Some(_) => None,
        };
        if let Some(return_code) = refusal {
            self.send_to_client(
                key,
                &Packet::PubAck {
                    topic_id,
                    msg_id,
                    return_code,
                },
            );
            return;
        }
        if qos != QoS::AtMostOnce {
            client.inbound_topics.insert(msg_id, topic_id);
        }
        let topic = topic.as_deref().unwrap_or_default();
        let mut bytes = std::mem::take(&mut self.scratch);
        bytes.clear();
        mqtt::publish(
            topic,
            qos,
            flags.retain,
            flags.dup,
            msg_id,
            data,
            &mut bytes,
        );
        core.handle_read(now, conn, &bytes);
        self.scratch = bytes;
    }

    /// A QoS −1 PUBLISH from an address with no connection: published on a
    /// connection of its own, opened and closed around it, so that the
    /// hooks see it (with the gateway's user name and the sender's
    /// address) as they see any client.
    fn connectionless_publish(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        flags: Flags,
        topic_id: u16,
        data: &[u8],
    ) {
        let topic = match flags.topic_id_type {
            TopicIdType::Predefined => self.predefined.name(topic_id).map(|n| n.to_string()),
            TopicIdType::Short => short_name(topic_id.to_be_bytes()),
            TopicIdType::Normal => None,
        };
        let Some(topic) = topic else {
            self.stats.dropped += 1;
            return;
        };
        let peer = Peer::Gateway {
            protocol: GatewayProtocol::MqttSn,
            addr: key.addr,
        };
        let Some(conn) = core.handle_accept_on(now, peer, core.gateway_listener()) else {
            self.stats.dropped += 1;
            return;
        };
        self.stats.connectionless_publishes += 1;
        self.conns.insert(conn, Role::Detached);
        let mut bytes = Vec::new();
        mqtt::connect(
            "",
            true,
            None,
            self.settings.username.as_deref(),
            self.settings.password.as_deref().map(str::as_bytes),
            &mut bytes,
        );
        mqtt::publish(
            &topic,
            QoS::AtMostOnce,
            flags.retain,
            false,
            0,
            data,
            &mut bytes,
        );
        mqtt::disconnect(&mut bytes);
        core.handle_read(now, conn, &bytes);
    }

    fn subscribe(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        flags: Flags,
        msg_id: u16,
        topic: SubscribeTopic,
    ) {
        let refuse = |gateway: &mut Gateway, return_code| {
            gateway.send_to_client(
                key,
                &Packet::SubAck {
                    flags,
                    topic_id: 0,
                    msg_id,
                    return_code,
                },
            );
        };
        let Some(qos) = mqtt_qos(flags.qos) else {
            refuse(self, ReturnCode::NotSupported);
            return;
        };
        if msg_id == 0 {
            refuse(self, ReturnCode::NotSupported);
            return;
        }
        let max = self.settings.max_registered_topics;
        let (filter, topic_id) = match topic {
            SubscribeTopic::Name(name) => {
                let Ok(filter) = String::from_utf8(name) else {
                    refuse(self, ReturnCode::NotSupported);
                    return;
                };
                if !crate::topic::is_valid_topic_filter(&filter) {
                    refuse(self, ReturnCode::NotSupported);
                    return;
                }
                let wildcard = filter.contains(['+', '#']);
                let id = if wildcard {
                    Some(0)
                } else if let Some(id) = self.predefined.id(&filter) {
                    Some(id)
                } else {
                    self.clients
                        .get_mut(key)
                        .and_then(|c| c.topics.register(&filter, max, &self.predefined))
                };
                let Some(id) = id else {
                    refuse(self, ReturnCode::Congestion);
                    return;
                };
                (filter, id)
            }
            SubscribeTopic::Predefined(id) => match self.predefined.name(id) {
                Some(name) => (name.to_string(), id),
                None => {
                    refuse(self, ReturnCode::InvalidTopicId);
                    return;
                }
            },
            SubscribeTopic::Short(bytes) => match short_name(bytes) {
                Some(name) => (name, 0),
                None => {
                    refuse(self, ReturnCode::InvalidTopicId);
                    return;
                }
            },
        };
        if let Some(client) = self.clients.get_mut(key) {
            client.subscribes.insert(msg_id, topic_id);
        }
        self.feed(now, core, key, |out| {
            mqtt::subscribe(msg_id, &filter, qos, out)
        });
    }

    fn unsubscribe(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        msg_id: u16,
        topic: SubscribeTopic,
    ) {
        let filter = match topic {
            SubscribeTopic::Name(name) => String::from_utf8(name).ok(),
            SubscribeTopic::Predefined(id) => self.predefined.name(id).map(|n| n.to_string()),
            SubscribeTopic::Short(bytes) => short_name(bytes),
        };
        match filter {
            Some(filter) if msg_id != 0 && crate::topic::is_valid_topic_filter(&filter) => {
                self.feed(now, core, key, |out| {
                    mqtt::unsubscribe(msg_id, &filter, out)
                });
            }
            // Nothing to unsubscribe from: done.
            _ => self.send_to_client(key, &Packet::UnsubAck { msg_id }),
        }
    }

    fn ping(&mut self, now: Instant, core: &mut Core, key: &ClientKey, client_id: Option<Vec<u8>>) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        match (client.state, client_id) {
            (State::Asleep { duration, .. }, Some(id)) if id == client.client_id.as_bytes() => {
                client.state = State::Awake { duration };
                let conn = client.conn;
                // What it was sent before it slept and did not acknowledge
                // goes again first.
                let mut again: Vec<Packet> = client
                    .unacked
                    .values_mut()
                    .chain(client.registering.values_mut())
                    .map(|unacked| {
                        unacked.sent_at = now;
                        with_dup(&unacked.packet)
                    })
                    .collect();
                again.sort_by_key(|packet| {
                    (
                        !matches!(packet, Packet::Register { .. }),
                        message_id(packet),
                    )
                });
                for packet in &again {
                    self.send_to_client(key, packet);
                }
                // What the core kept for it goes out now; PINGRESP once
                // nothing is left (see `outbound.rs`).
                if let Some(conn) = conn {
                    self.write(now, core, conn);
                }
                self.finish_wake(now, core, key);
            }
            (State::Asleep { .. }, _) => self.stats.dropped += 1,
            _ => self.send_to_client(key, &Packet::PingResp),
        }
    }

    fn disconnect(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        duration: Option<u16>,
    ) {
        match duration {
            Some(seconds) if seconds > 0 => {
                let Some(client) = self.clients.get_mut(key) else {
                    return;
                };
                if matches!(
                    client.state,
                    State::Active | State::Awake { .. } | State::Asleep { .. }
                ) {
                    client.state = State::Asleep {
                        since: now,
                        duration: Duration::from_secs(u64::from(seconds)),
                    };
                    self.send_to_client(key, &Packet::Disconnect { duration: None });
                } else {
                    self.stats.dropped += 1;
                }
            }
            _ => {
                // The core closes the connection; the client hears
                // DISCONNECT when it is released.
                let conn = self.clients.get(key).and_then(|c| c.conn);
                match conn {
                    Some(_) => self.feed(now, core, key, mqtt::disconnect),
                    None => {
                        self.clients.remove(key);
                        self.send(key, None, &Packet::Disconnect { duration: None });
                    }
                }
            }
        }
    }
}
