//! What the core does with each packet a client sends.

use std::time::Instant;

use super::connect_options::granted_session_expiry;
use super::connection::{CloseReason, ConnState};
use super::topic_aliases::TopicAliases;
use super::{ConnId, Core, Message, SessionKey};
use crate::codec::{
    self, AckKind, DecodeError, Packet, Protocol, Publish, QoS, RawPacket, ReasonCode, Reasoned,
};
use crate::hooks::AclAccess;
use crate::topic::{is_valid_topic_name, CAN_PREFETCH};

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
            // `hot`: the session of a connected client (not a bridge's
            // link), whose PUBLISH and four-byte acks go straight to their
            // handlers, without a `Packet`.
            let (protocol, hot) = match self.conns.get(id) {
                Some(conn) => match conn.state {
                    ConnState::AuthPending => break,
                    ConnState::AwaitingConnect => (None, None),
                    ConnState::Connected(key) if conn.bridge.is_none() => {
                        (Some(conn.protocol), Some(key))
                    }
                    _ => (Some(conn.protocol), None),
                },
                None => break,
            };
            match RawPacket::split(&bytes[pos..], max, protocol) {
                Ok(None) => break,
                Ok(Some((raw, used))) => {
                    self.stats.packets_received += 1;
                    let next = &bytes[pos + used..];
                    // Routing data starts loading while this packet is
                    // handled, in two stages: what the next packet needs,
                    // and the first step (the exact table's bucket) of the
                    // one three ahead; that wait then overlaps with two
                    // packets' work, not one (cache misses hidden when
                    // there are many filters). A target without a prefetch
                    // skips the peeking and hashing altogether.
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
                    match self.handle_raw(now, id, hot, protocol, raw) {
                        Ok(()) => pos += used,
                        Err(error) => self.handle_decode_error(now, id, error),
                    }
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

    /// Decodes and handles one packet: a connected client's PUBLISH and
    /// four-byte acknowledgements straight to their handlers, every other
    /// packet (and those from a connection in any other state) by
    /// [`Core::handle_packet`]. An error is the packet's, not handled.
    #[inline(always)]
    fn handle_raw(
        &mut self,
        now: Instant,
        id: ConnId,
        hot: Option<SessionKey>,
        protocol: Option<Protocol>,
        raw: RawPacket<'_>,
    ) -> Result<(), DecodeError> {
        if let Some(key) = hot {
            if let Some(publish) = raw.publish(protocol) {
                let publish = publish?;
                self.touch(now, id);
                self.handle_publish(now, id, key, publish);
                return Ok(());
            }
            if let Some((kind, packet_id)) = raw.short_ack() {
                self.touch(now, id);
                self.handle_ack(now, id, key, kind, packet_id);
                return Ok(());
            }
        }
        let packet = raw.decode(protocol)?;
        self.handle_packet(now, id, packet);
        Ok(())
    }

    /// Notes that a packet came from `id` now (for its keepalive).
    #[inline(always)]
    fn touch(&mut self, now: Instant, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id) {
            conn.last_packet_at = now;
        }
    }

    fn handle_decode_error(&mut self, now: Instant, id: ConnId, error: DecodeError) {
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        log::debug!("malformed input from {}: {error}", conn.peer);
        if conn.state == ConnState::AwaitingConnect {
            if let DecodeError::UnsupportedProtocolLevel(_) = error {
                self.refuse(now, id, ReasonCode::UNSUPPORTED_PROTOCOL_VERSION);
                return;
            }
        }
        self.close_explained(
            now,
            id,
            CloseReason::ProtocolError,
            Some(error.reason_code()),
            &error.to_string(),
        );
    }

    fn handle_packet(&mut self, now: Instant, id: ConnId, packet: Packet<'_>) {
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        conn.last_packet_at = now;
        let key = match conn.state {
            ConnState::Authenticating => {
                match packet {
                    Packet::Auth(auth) => self.handle_auth_packet(now, id, auth),
                    // Only AUTH may come before CONNACK (§4.12);
                    // DISCONNECT ends the attempt.
                    Packet::Disconnect(_) => self.close(now, id, CloseReason::Disconnect),
                    other => {
                        log::debug!("{} during authentication", other.name());
                        self.close(now, id, CloseReason::ProtocolError);
                    }
                }
                return;
            }
            ConnState::AwaitingConnect => {
                match packet {
                    Packet::Connect(connect) => {
                        self.stats.connects_received += 1;
                        self.handle_connect(now, id, *connect)
                    }
                    other => {
                        log::debug!("first packet was {}, not CONNECT", other.name());
                        self.close(now, id, CloseReason::ProtocolError);
                    }
                }
                return;
            }
            ConnState::BridgeConnecting => {
                match packet {
                    Packet::ConnAck(ack) => self.handle_bridge_connack(now, id, ack),
                    other => {
                        log::warn!("bridge link: {} before CONNACK", other.name());
                        self.close(now, id, CloseReason::ProtocolError);
                    }
                }
                return;
            }
            ConnState::Connected(key) if conn.bridge.is_some() => {
                self.handle_bridge_packet(now, id, key, packet);
                return;
            }
            ConnState::Connected(key) => key,
            ConnState::AuthPending | ConnState::Closing => return,
        };
        match packet {
            Packet::Publish(publish) => self.handle_publish(now, id, key, publish),
            Packet::PubAck(ack) => self.handle_puback(now, id, key, ack.packet_id),
            // A PUBREC with an error code ends the flow: the receiver will
            // not take the message (§4.3.3), like a PUBCOMP would.
            Packet::PubRec(ack) if ack.reason.is_error() => {
                self.handle_refused_pubrec(now, id, key, ack.packet_id)
            }
            Packet::PubRec(ack) => self.handle_pubrec(now, id, key, ack.packet_id),
            Packet::PubRel(ack) => self.handle_pubrel(id, key, ack.packet_id),
            Packet::PubComp(ack) => self.handle_pubcomp(now, id, key, ack.packet_id),
            Packet::Subscribe(subscribe) => self.handle_subscribe(now, id, key, subscribe),
            Packet::Unsubscribe(unsubscribe) => self.handle_unsubscribe(id, key, unsubscribe),
            Packet::PingReq => self.write_to(id, codec::encode_pingresp),
            Packet::Disconnect(disconnect) => self.handle_disconnect(now, id, key, disconnect),
            Packet::Auth(auth) => self.handle_auth_packet(now, id, auth),
            other => {
                // CONNECT again [MQTT-3.1.0-2], or a server-to-client packet.
                log::debug!("unexpected {} from a connected client", other.name());
                self.close(now, id, CloseReason::ProtocolError);
            }
        }
    }

    pub(super) fn handle_publish(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        publish: Publish<'_>,
    ) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let v5 = conn.is_v5();
        let from_bridge = conn.bridge.is_some();
        // A topic named by an alias, shared with the alias table.
        let mut aliased = None;
        if v5 {
            if let Err(code) = self.check_v5_publish(&publish) {
                self.close_with(now, id, CloseReason::ProtocolError, Some(code));
                return;
            }
            let alias = publish.properties.topic_alias();
            if alias.is_some() || publish.topic.is_empty() {
                let Some(conn) = self.conns.get_mut(id) else {
                    return;
                };
                match TopicAliases::resolve(
                    &mut conn.topic_aliases,
                    publish.topic,
                    alias,
                    self.config.max_topic_alias,
                ) {
                    Ok(topic) => aliased = topic,
                    Err(code) => {
                        log::debug!("PUBLISH with topic alias {alias:?} refused: {code}");
                        self.close_with(now, id, CloseReason::ProtocolError, Some(code));
                        return;
                    }
                }
            }
        }
        let publish = match &aliased {
            Some(topic) => Publish {
                topic: topic.as_ref(),
                ..publish
            },
            None => publish,
        };
        if from_bridge {
            self.publish_from_bridge(now, id, key, publish, v5);
            return;
        }
        self.accept_publish(now, id, key, publish, v5);
    }

    /// A PUBLISH from upstream on a bridge's link: taken under its local
    /// topic, or only acknowledged when no `in` topic matches it.
    #[cold]
    #[inline(never)]
    fn publish_from_bridge(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        publish: Publish<'_>,
        v5: bool,
    ) {
        match self.incoming_topic(id, publish.topic) {
            Some(topic) => self.accept_publish(
                now,
                id,
                key,
                Publish {
                    topic: &topic,
                    ..publish
                },
                v5,
            ),
            None => {
                log::debug!("bridged {} matches no `in` topic: dropped", publish.topic);
                self.acknowledge_unrouted(key, id, &publish, v5);
            }
        }
    }

    /// A PUBLISH under its final topic: checked, routed and acknowledged.
    #[inline(always)]
    fn accept_publish(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        publish: Publish<'_>,
        v5: bool,
    ) {
        if !is_valid_topic_name(publish.topic) {
            // A wildcard (or empty) topic name in PUBLISH is a protocol
            // violation [MQTT-3.3.2-2].
            log::debug!("PUBLISH to invalid topic {:?}", publish.topic);
            self.close_with(
                now,
                id,
                CloseReason::ProtocolError,
                Some(ReasonCode::TOPIC_NAME_INVALID),
            );
            return;
        }
        self.stats.messages_received += 1;
        self.stats.publish_bytes_received += publish.payload.len() as u64;
        let packet_id = publish.packet_id.unwrap_or(0);
        if publish.qos == QoS::ExactlyOnce {
            let Some(session) = self.sessions.get_mut(key) else {
                return;
            };
            // A resent QoS 2 PUBLISH whose id awaits PUBREL was already
            // delivered: only acknowledge it again.
            let mut code = ReasonCode::SUCCESS;
            if !session.inbound_qos2.contains(packet_id) {
                // The client may have at most our Receive Maximum of QoS 2
                // messages unreleased [MQTT-3.3.4-9].
                if v5 && session.inbound_qos2.len() >= usize::from(self.config.max_inflight) {
                    self.close_with(
                        now,
                        id,
                        CloseReason::ProtocolError,
                        Some(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED),
                    );
                    return;
                }
                code = self.route_publish(now, id, key, &publish);
                // A refused message has no exchange to complete: its packet
                // id is not kept waiting for PUBREL (§4.3.3).
                if !code.is_error() {
                    if let Some(session) = self.sessions.get_mut(key) {
                        session.receive_qos2(packet_id);
                    }
                    self.record_inbound_qos2(key, packet_id, true);
                }
            }
            self.acknowledge_publish(id, AckKind::PubRec, packet_id, code, v5);
            return;
        }
        let code = self.route_publish(now, id, key, &publish);
        if publish.qos == QoS::AtLeastOnce {
            self.acknowledge_publish(id, AckKind::PubAck, packet_id, code, v5);
        }
    }

    /// What an MQTT 5 PUBLISH may not carry: a Subscription Identifier
    /// [MQTT-3.3.4-6], a QoS above the broker's Maximum QoS, a RETAIN flag
    /// when retain is not available (§3.2.2.3.4, §3.2.2.3.5).
    fn check_v5_publish(&self, publish: &Publish<'_>) -> Result<(), ReasonCode> {
        if publish
            .properties
            .get(codec::property::SUBSCRIPTION_IDENTIFIER)
            .is_some()
        {
            return Err(ReasonCode::PROTOCOL_ERROR);
        }
        if publish.qos > self.config.max_qos {
            return Err(ReasonCode::QOS_NOT_SUPPORTED);
        }
        if publish.retain && !self.config.retain_available {
            return Err(ReasonCode::RETAIN_NOT_SUPPORTED);
        }
        Ok(())
    }

    /// Routes a client's PUBLISH unless the ACL hook refuses it. Returns
    /// the reason code of its acknowledgement: Not authorized when refused
    /// (an MQTT 5 client is told; a 3.1.1 client's ack is the same as ever
    /// and the message is dropped silently, as mosquitto does), No
    /// matching subscribers when it reached nobody.
    fn route_publish(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        publish: &Publish<'_>,
    ) -> ReasonCode {
        // `$SYS` belongs to the broker: clients may not publish there (as in
        // mosquitto); the message is dropped but still acknowledged.
        // Except for the state of a bridge's link, which another broker's
        // bridge publishes there (as to mosquitto; an MQTT 5 bridge has no
        // bridge flag to be known by).
        if (publish.topic.starts_with("$SYS/") || publish.topic == "$SYS")
            && !super::bridge_up::is_bridge_state(publish.topic)
        {
            log::debug!("client publish to {} dropped", publish.topic);
            self.stats.messages_dropped += 1;
            return ReasonCode::NOT_AUTHORIZED;
        }
        let expires_at = publish
            .properties
            .message_expiry_interval()
            .map(|interval| self.expiry_deadline(now, interval));
        let Some(message) = Message::from_publish(
            publish.topic,
            publish.properties,
            publish.payload,
            publish.qos,
            publish.retain,
            expires_at,
        ) else {
            return ReasonCode::TOPIC_NAME_INVALID;
        };
        let routed = if !self.hooks.has_acl() && !self.hooks.has_message() {
            self.route(now, message, None, Some(key))
        } else {
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
                    return ReasonCode::NOT_AUTHORIZED;
                }
            }
            self.route(now, message, identity.as_ref(), Some(key))
        };
        if routed {
            ReasonCode::SUCCESS
        } else {
            ReasonCode::NO_MATCHING_SUBSCRIBERS
        }
    }

    /// DISCONNECT from the client. MQTT 5: reason 0x04 asks for the will;
    /// a Session Expiry Interval replaces the one given at CONNECT, except
    /// that a session that was to end with the connection cannot be made
    /// to outlive it [MQTT-3.14.2-2].
    fn handle_disconnect(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        disconnect: Reasoned<'_>,
    ) {
        if let Some(expiry) = disconnect.properties.session_expiry_interval() {
            let Some(session) = self.sessions.get_mut(key) else {
                return;
            };
            if session.expiry_interval == 0 && expiry != 0 {
                self.close(now, id, CloseReason::ProtocolError);
                return;
            }
            let granted = granted_session_expiry(&self.config, expiry);
            if session.expiry_interval != granted {
                session.expiry_interval = granted;
                // 0 ends the session with this connection, which deletes it
                // from the store.
                if granted != 0 {
                    self.record_session_expiry(key);
                }
            }
        }
        let reason = if disconnect.reason == ReasonCode::DISCONNECT_WITH_WILL {
            CloseReason::DisconnectWithWill
        } else {
            CloseReason::Disconnect
        };
        self.close(now, id, reason);
    }
}
