//! CONNECT at the gateway: the will handshake (WILLTOPICREQ, WILLTOPIC,
//! WILLMSGREQ, WILLMSG) that completes it before the core hears an MQTT
//! CONNECT, and the will updates MQTT-SN allows while connected.

use std::time::Instant;

use super::client::{ClientKey, PendingConnect, SnClient, State};
use super::gateway::{Gateway, Role};
use super::inbound::mqtt_qos;
use super::mqtt::{self, WillParts};
use super::packet::{Flags, Forwarded, Packet, ReturnCode};
use crate::codec::QoS;
use crate::core::Core;
use crate::peer::{GatewayProtocol, Peer};

impl Gateway {
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn connect(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: ClientKey,
        forwarded: Option<Forwarded>,
        flags: Flags,
        duration: u16,
        client_id: Vec<u8>,
    ) {
        let refuse = |gateway: &mut Gateway, code| {
            let answer = Packet::ConnAck { return_code: code };
            gateway.send(&key, forwarded.as_ref(), &answer);
        };
        let Ok(client_id) = String::from_utf8(client_id) else {
            refuse(self, ReturnCode::NotSupported);
            return;
        };
        // A client that connects again leaves its old connection: it ends
        // as by DISCONNECT (no will), its session taken over by the new.
        let mut kept_topics = None;
        if let Some(old) = self.clients.remove(&key) {
            // A session that goes on keeps its topic ids: the client may
            // publish with them without registering again.
            if !flags.clean_session {
                kept_topics = Some(old.topics);
            }
            if let Some(conn) = old.conn {
                self.conns.insert(conn, Role::Detached);
                let mut bytes = Vec::new();
                mqtt::disconnect(&mut bytes);
                core.handle_read(now, conn, &bytes);
            }
        } else if self.clients.len() >= self.settings.max_clients {
            self.stats.dropped += 1;
            refuse(self, ReturnCode::Congestion);
            return;
        }
        let mut client = SnClient::new(forwarded.clone(), now);
        client.client_id.clone_from(&client_id);
        client.keep_alive = duration;
        if let Some(topics) = kept_topics {
            client.topics = topics;
        }
        client.pending = Some(PendingConnect {
            client_id,
            clean_session: flags.clean_session,
            will_topic: None,
        });
        if flags.will {
            client.state = State::WillTopic;
            self.clients.insert(key.clone(), client);
            self.send(&key, forwarded.as_ref(), &Packet::WillTopicReq);
        } else {
            self.clients.insert(key.clone(), client);
            self.connect_core(now, core, &key, None);
        }
    }

    pub(crate) fn will_topic(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        will: Option<(Flags, Vec<u8>)>,
    ) {
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        if client.state != State::WillTopic {
            self.stats.dropped += 1;
            return;
        }
        match will {
            None => self.connect_core(now, core, key, None),
            Some((flags, topic)) => {
                let Ok(topic) = String::from_utf8(topic) else {
                    self.refuse_pending(key);
                    return;
                };
                if let Some(pending) = client.pending.as_mut() {
                    pending.will_topic = Some((flags, topic));
                }
                client.state = State::WillMessage;
                self.send_to_client(key, &Packet::WillMsgReq);
            }
        }
    }

    pub(crate) fn will_message(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        message: &[u8],
    ) {
        if self.clients.get(key).map(|c| c.state) != Some(State::WillMessage) {
            self.stats.dropped += 1;
            return;
        }
        self.connect_core(now, core, key, Some(message));
    }

    /// A CONNECT the core cannot take (a will topic that is not UTF-8).
    fn refuse_pending(&mut self, key: &ClientKey) {
        self.send_to_client(
            key,
            &Packet::ConnAck {
                return_code: ReturnCode::NotSupported,
            },
        );
        self.clients.remove(key);
    }

    /// Opens the client's connection at the core and hands it CONNECT.
    fn connect_core(
        &mut self,
        now: Instant,
        core: &mut Core,
        key: &ClientKey,
        will_message: Option<&[u8]>,
    ) {
        let peer = Peer::Gateway {
            protocol: GatewayProtocol::MqttSn,
            addr: key.addr,
        };
        let Some(conn) = core.handle_accept_on(now, peer, core.gateway_listener()) else {
            self.send_to_client(
                key,
                &Packet::ConnAck {
                    return_code: ReturnCode::Congestion,
                },
            );
            self.clients.remove(key);
            return;
        };
        let settings = std::sync::Arc::clone(&self.settings);
        let Some(client) = self.clients.get_mut(key) else {
            return;
        };
        client.conn = Some(conn);
        client.state = State::Connecting;
        self.conns.insert(conn, Role::Client(key.clone()));
        let Some(pending) = client.pending.take() else {
            return;
        };
        let will = pending.will_topic.as_ref().map(|(flags, topic)| WillParts {
            topic,
            payload: will_message.unwrap_or_default(),
            qos: mqtt_qos(flags.qos).unwrap_or(QoS::AtMostOnce),
            retain: flags.retain,
        });
        let mut bytes = Vec::new();
        mqtt::connect(
            &pending.client_id,
            pending.clean_session,
            will,
            settings.username.as_deref(),
            settings.password.as_deref().map(str::as_bytes),
            &mut bytes,
        );
        core.handle_read(now, conn, &bytes);
    }

    pub(crate) fn will_topic_update(
        &mut self,
        core: &mut Core,
        key: &ClientKey,
        will: Option<(Flags, Vec<u8>)>,
    ) {
        let conn = self.clients.get(key).and_then(|c| c.conn);
        let done = conn.is_some_and(|conn| match &will {
            None => core.set_will(conn, None),
            Some((flags, topic)) => {
                let payload = core
                    .will_of(conn)
                    .map(|m| m.payload().to_vec())
                    .unwrap_or_default();
                std::str::from_utf8(topic).is_ok_and(|topic| {
                    let qos = mqtt_qos(flags.qos).unwrap_or(QoS::AtMostOnce);
                    core.set_will(conn, Some((topic, &payload, qos, flags.retain)))
                })
            }
        });
        let return_code = if done {
            ReturnCode::Accepted
        } else {
            ReturnCode::NotSupported
        };
        self.send_to_client(key, &Packet::WillTopicResp { return_code });
    }

    pub(crate) fn will_message_update(&mut self, core: &mut Core, key: &ClientKey, message: &[u8]) {
        let conn = self.clients.get(key).and_then(|c| c.conn);
        let done = conn.is_some_and(|conn| {
            let current = core
                .will_of(conn)
                .map(|m| (m.topic().to_string(), m.qos(), m.retain()));
            current.is_some_and(|(topic, qos, retain)| {
                core.set_will(conn, Some((&topic, message, qos, retain)))
            })
        });
        let return_code = if done {
            ReturnCode::Accepted
        } else {
            ReturnCode::NotSupported
        };
        self.send_to_client(key, &Packet::WillMsgResp { return_code });
    }
}
