//! What the core does with each packet a client sends.

use std::time::Instant;

use super::connection::{CloseReason, ConnState};
use super::session::InflightState;
use super::{ConnId, Core, Message, SessionKey, Subscriber};
use crate::codec::{
    self, ConnectReturnCode, DecodeError, Packet, PacketId, Publish, QoS, SubAckCode, Subscribe,
    Unsubscribe,
};
use crate::hooks::{AclAccess, Event};
use crate::store::StoreOp;
use crate::topic::{is_valid_topic_filter, is_valid_topic_name, CAN_PREFETCH};

/// How many packets past the next one the first prefetch stage looks: the
/// bucket it asks for is read by the second stage, which runs one packet
/// ahead. At 1, the second stage still waited for the bucket (7.7 % of the
/// broker's time at 100 000 filters, against 4.0 % at 2).
const EARLY_PREFETCH_DISTANCE: usize = 2;

impl Core {
    /// Decodes and handles every complete packet at the front of `bytes`;
    /// returns how many bytes were used. Stops early when the connection
    /// closes.
    pub(super) fn process_input(&mut self, now: Instant, id: ConnId, bytes: &[u8]) -> usize {
        let max = self.config.max_packet_size;
        let mut pos = 0;
        while pos < bytes.len() {
            let protocol = match self.conns.get(id) {
                Some(conn) if conn.state == ConnState::AuthPending => break,
                Some(conn) if conn.state == ConnState::AwaitingConnect => None,
                Some(conn) => Some(conn.protocol),
                None => break,
            };
            match codec::decode_as(&bytes[pos..], max, protocol) {
                Ok(None) => break,
                Ok(Some((packet, used))) => {
                    pos += used;
                    // Routing data starts loading while this packet is
                    // handled, in two stages: what the next packet needs,
                    // and the first step (the exact table's bucket) of the
                    // one three ahead; that wait then overlaps with two
                    // packets' work, not one (cache misses hidden when
                    // there are many filters). A target without a prefetch
                    // skips the peeking and hashing altogether.
                    let next = &bytes[pos..];
                    if CAN_PREFETCH {
                        if let Some(topic) = codec::peek_publish_topic(next) {
                            self.router.subscriptions.prefetch(topic);
                            if self.router.subscriptions.prefetches_early() {
                                let far = (0..EARLY_PREFETCH_DISTANCE)
                                    .try_fold(next, |b, _| b.get(codec::peek_packet_len(b)?..));
                                if let Some(topic) = far.and_then(codec::peek_publish_topic) {
                                    self.router.subscriptions.prefetch_early(topic);
                                }
                            }
                        }
                    }
                    self.handle_packet(now, id, packet);
                }
                Err(error) => {
                    self.handle_decode_error(now, id, error);
                }
            }
            if self.live_conn(id).is_none() {
                break;
            }
        }
        pos
    }

    fn handle_decode_error(&mut self, now: Instant, id: ConnId, error: DecodeError) {
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        log::debug!("malformed input from {}: {error}", conn.peer);
        if conn.state == ConnState::AwaitingConnect {
            if let DecodeError::UnsupportedProtocolLevel(_) = error {
                self.send_connack(id, false, ConnectReturnCode::UnacceptableProtocolVersion);
                self.close(now, id, CloseReason::Refused);
                return;
            }
        }
        self.close(now, id, CloseReason::ProtocolError);
    }

    fn handle_packet(&mut self, now: Instant, id: ConnId, packet: Packet<'_>) {
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        conn.last_packet_at = now;
        let key = match conn.state {
            ConnState::AwaitingConnect => {
                match packet {
                    Packet::Connect(connect) => self.handle_connect(now, id, connect),
                    other => {
                        log::debug!("first packet was {}, not CONNECT", other.name());
                        self.close(now, id, CloseReason::ProtocolError);
                    }
                }
                return;
            }
            ConnState::Connected(key) => key,
            ConnState::AuthPending | ConnState::Closing => return,
        };
        match packet {
            Packet::Publish(publish) => self.handle_publish(now, id, key, publish),
            Packet::PubAck(packet_id) => self.handle_puback(now, id, key, packet_id),
            Packet::PubRec(packet_id) => self.handle_pubrec(now, id, key, packet_id),
            Packet::PubRel(packet_id) => self.handle_pubrel(id, key, packet_id),
            Packet::PubComp(packet_id) => self.handle_pubcomp(now, id, key, packet_id),
            Packet::Subscribe(subscribe) => self.handle_subscribe(id, key, subscribe),
            Packet::Unsubscribe(unsubscribe) => self.handle_unsubscribe(id, key, unsubscribe),
            Packet::PingReq => self.write_to(id, |out| out.extend_from_slice(&[0xD0, 0x00])),
            Packet::Disconnect => self.close(now, id, CloseReason::Disconnect),
            other => {
                // CONNECT again [MQTT-3.1.0-2], or a server-to-client packet.
                log::debug!("unexpected {} from a connected client", other.name());
                self.close(now, id, CloseReason::ProtocolError);
            }
        }
    }

    fn handle_publish(&mut self, now: Instant, id: ConnId, key: SessionKey, publish: Publish<'_>) {
        if !is_valid_topic_name(publish.topic) {
            // A wildcard (or empty) topic name in PUBLISH is a protocol
            // violation [MQTT-3.3.2-2].
            log::debug!("PUBLISH to invalid topic {:?}", publish.topic);
            self.close(now, id, CloseReason::ProtocolError);
            return;
        }
        self.stats.messages_received += 1;
        let packet_id = publish.packet_id.unwrap_or(0);
        if publish.qos == QoS::ExactlyOnce {
            let Some(session) = self.sessions.get_mut(key) else {
                return;
            };
            // A resent QoS 2 PUBLISH whose id awaits PUBREL was already
            // delivered: only acknowledge it again.
            if session.receive_qos2(packet_id) {
                self.record_inbound_qos2(key, packet_id, true);
                self.route_publish(now, id, key, &publish);
            }
            self.write_to(id, |out| {
                codec::encode_ack(out, codec::AckKind::PubRec, packet_id)
            });
            return;
        }
        self.route_publish(now, id, key, &publish);
        if publish.qos == QoS::AtLeastOnce {
            self.write_to(id, |out| {
                codec::encode_ack(out, codec::AckKind::PubAck, packet_id)
            });
        }
    }

    /// Routes a client's PUBLISH unless the ACL hook refuses it (a refused
    /// message is dropped silently; its acknowledgement still goes out, as
    /// mosquitto does for 3.1.1).
    fn route_publish(&mut self, now: Instant, id: ConnId, key: SessionKey, publish: &Publish<'_>) {
        // `$SYS` belongs to the broker: clients may not publish there (as in
        // mosquitto); the message is dropped but still acknowledged.
        if publish.topic.starts_with("$SYS/") || publish.topic == "$SYS" {
            log::debug!("client publish to {} dropped", publish.topic);
            self.stats.messages_dropped += 1;
            return;
        }
        let Some(message) =
            Message::new(publish.topic, publish.payload, publish.qos, publish.retain)
        else {
            return;
        };
        if !self.hooks.has_acl() && !self.hooks.has_message() {
            self.route(now, message, None);
            return;
        }
        let peer = self.conns.get(id).map(|conn| conn.peer.clone());
        let identity = peer.and_then(|peer| self.identity(key, peer));
        if let Some(identity) = &identity {
            if !self
                .hooks
                .authorize(identity, AclAccess::Publish, publish.topic)
            {
                log::debug!(
                    "{} may not publish to {}",
                    identity.client_id,
                    publish.topic
                );
                self.stats.messages_dropped += 1;
                return;
            }
        }
        self.route(now, message, identity.as_ref());
    }

    /// PUBACK: ends the flow of an in-flight QoS 1 message. One for a
    /// QoS 2 message is a protocol violation (closed, as mosquitto does);
    /// one for an unknown packet id is ignored (it may answer a message
    /// resent before a reconnection).
    fn handle_puback(&mut self, now: Instant, id: ConnId, key: SessionKey, packet_id: PacketId) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let Some(index) = session.inflight_position(packet_id) else {
            return;
        };
        if session.inflight[index].message.qos() != QoS::AtLeastOnce {
            self.close_for_wrong_ack(now, id, "PUBACK", packet_id);
            return;
        }
        if let Some(done) = session.remove_inflight(index) {
            self.record_acknowledged(key, done.seq);
        }
        self.refill(key);
    }

    /// PUBREC: the client has a QoS 2 message; PUBREL follows (again, when
    /// the PUBREC is repeated or names an unknown packet id, as mosquitto
    /// does). One for a QoS 1 message is a protocol violation.
    fn handle_pubrec(&mut self, now: Instant, id: ConnId, key: SessionKey, packet_id: PacketId) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        if let Some(index) = session.inflight_position(packet_id) {
            let inflight = &mut session.inflight[index];
            if inflight.message.qos() != QoS::ExactlyOnce {
                self.close_for_wrong_ack(now, id, "PUBREC", packet_id);
                return;
            }
            if inflight.state == InflightState::AwaitingAck {
                inflight.state = InflightState::AwaitingComp;
                let seq = inflight.seq;
                self.record_released(key, seq);
            }
        }
        self.write_to(id, |out| {
            codec::encode_ack(out, codec::AckKind::PubRel, packet_id)
        });
    }

    fn handle_pubrel(&mut self, id: ConnId, key: SessionKey, packet_id: PacketId) {
        if self
            .sessions
            .get_mut(key)
            .is_some_and(|session| session.release_qos2(packet_id))
        {
            self.record_inbound_qos2(key, packet_id, false);
        }
        self.write_to(id, |out| {
            codec::encode_ack(out, codec::AckKind::PubComp, packet_id)
        });
    }

    /// PUBCOMP: ends the flow of a QoS 2 message whose PUBREL was sent.
    /// One for a QoS 1 message, or before the PUBREC, is a protocol
    /// violation; one for an unknown packet id is ignored.
    fn handle_pubcomp(&mut self, now: Instant, id: ConnId, key: SessionKey, packet_id: PacketId) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let Some(index) = session.inflight_position(packet_id) else {
            return;
        };
        if session.inflight[index].state != InflightState::AwaitingComp {
            self.close_for_wrong_ack(now, id, "PUBCOMP", packet_id);
            return;
        }
        if let Some(done) = session.remove_inflight(index) {
            self.record_acknowledged(key, done.seq);
        }
        self.refill(key);
    }

    /// Closes a connection that acknowledged a delivery with a packet its
    /// flow does not allow. The message stays in flight for its session.
    fn close_for_wrong_ack(&mut self, now: Instant, id: ConnId, ack: &str, packet_id: PacketId) {
        if let Some(conn) = self.conns.get(id) {
            log::debug!(
                "{} sent {ack} for packet id {packet_id}, which its flow does not allow",
                conn.peer
            );
        }
        self.close(now, id, CloseReason::ProtocolError);
    }

    fn handle_subscribe(&mut self, id: ConnId, key: SessionKey, subscribe: Subscribe<'_>) {
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut granted = Vec::with_capacity(subscribe.filters.len());
        let identity = if self.hooks.has_acl() || self.hooks.has_event() {
            let peer = self.conns.get(id).map(|conn| conn.peer.clone());
            peer.and_then(|peer| self.identity(key, peer))
        } else {
            None
        };
        for &(filter, qos) in &subscribe.filters {
            if !is_valid_topic_filter(filter) {
                codes.push(SubAckCode::Failure);
                continue;
            }
            if let Some(identity) = &identity {
                if !self.hooks.authorize(identity, AclAccess::Subscribe, filter) {
                    log::debug!("{} may not subscribe to {filter}", identity.client_id);
                    codes.push(SubAckCode::Failure);
                    continue;
                }
                self.hooks.event(&Event::Subscribed {
                    client: identity.info(),
                    filter,
                    qos,
                });
            }
            self.router
                .subscriptions
                .subscribe(filter, Subscriber::Session(key), qos);
            if let Some(session) = self.sessions.get_mut(key) {
                session.add_subscription(filter, qos);
            }
            self.record_session_op(key, |client_id| StoreOp::Subscribe {
                client_id,
                filter: filter.to_string(),
                qos,
            });
            codes.push(SubAckCode::Granted(qos));
            granted.push((filter, qos));
        }
        let suback = codec::SubAck {
            packet_id: subscribe.packet_id,
            codes,
        };
        self.write_to(id, |out| {
            // At most 65 535-byte SUBACK: the SUBSCRIBE it answers was larger.
            let _ = codec::encode(&Packet::SubAck(suback), out);
        });
        // Retained messages follow the SUBACK, also when a subscription is
        // replaced [MQTT-3.8.4-3].
        for (filter, qos) in granted {
            self.deliver_retained(key, filter, qos);
        }
    }

    fn handle_unsubscribe(&mut self, id: ConnId, key: SessionKey, unsubscribe: Unsubscribe<'_>) {
        let identity = if self.hooks.has_event() {
            let peer = self.conns.get(id).map(|conn| conn.peer.clone());
            peer.and_then(|peer| self.identity(key, peer))
        } else {
            None
        };
        for filter in &unsubscribe.filters {
            self.router
                .subscriptions
                .unsubscribe(filter, Subscriber::Session(key));
            let removed = match self.sessions.get_mut(key) {
                Some(session) => session.remove_subscription(filter),
                None => false,
            };
            if removed {
                self.record_session_op(key, |client_id| StoreOp::Unsubscribe {
                    client_id,
                    filter: filter.to_string(),
                });
            }
            if let (true, Some(identity)) = (removed, &identity) {
                self.hooks.event(&Event::Unsubscribed {
                    client: identity.info(),
                    filter,
                });
            }
        }
        let packet_id = unsubscribe.packet_id;
        self.write_to(id, |out| {
            codec::encode_ack(out, codec::AckKind::UnsubAck, packet_id)
        });
    }
}
