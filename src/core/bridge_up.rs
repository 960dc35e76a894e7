//! A bridge's link once connected: CONNACK, the SUBSCRIBE upstream, the
//! state notifications, what comes in from upstream, pings, and the link
//! going down (see `bridge` for what a bridge is to the core).

use std::sync::Arc;
use std::time::Instant;

use super::bridge::BridgeConn;
use super::bridge_topics::Crossed;
use super::connect_options::SESSION_NEVER_EXPIRES;
use super::connection::{CloseReason, ConnState};
use super::session::Session;
use super::timers::Timer;
use super::{keepalive_window, ConnId, Core, Message, SessionKey};
use crate::bridge::{Bridge, BridgeStart};
use crate::codec::{
    self, AckKind, ConnAck, Packet, Protocol, Publish, QoS, ReasonCode, SubAck, Subscribe,
    SubscriptionOptions,
};

impl Core {
    /// CONNACK from upstream: the link is up, or refused.
    pub(super) fn handle_bridge_connack(&mut self, now: Instant, id: ConnId, ack: ConnAck<'_>) {
        let Some((bridge_id, private, v5)) = self.conns.get(id).and_then(|c| {
            let b = c.bridge.as_ref()?;
            Some((b.id, b.private, c.is_v5()))
        }) else {
            return;
        };
        let Some(link) = self.bridges.get_mut(bridge_id.0).and_then(Option::as_mut) else {
            self.close(now, id, CloseReason::Kicked);
            return;
        };
        let settings = Arc::clone(&link.settings);
        if ack.code != ReasonCode::SUCCESS {
            if private && ack.code == ReasonCode::UNSUPPORTED_PROTOCOL_VERSION {
                log::warn!(
                    "bridge {}: the upstream broker refused the bridge flag (try_private); \
                     trying again without it",
                    settings.name
                );
                link.private_refused = true;
            } else {
                log::warn!(
                    "bridge {}: connection refused by the upstream broker: {}",
                    settings.name,
                    ack.code.describe()
                );
            }
            self.close(now, id, CloseReason::Refused);
            return;
        }
        let key = link.key;
        link.connected = true;
        link.connections += 1;
        let window = if v5 {
            ack.properties
                .receive_maximum()
                .unwrap_or(u16::MAX)
                .min(self.config.max_inflight)
        } else {
            self.config.max_inflight
        };
        let max_packet_size = if v5 {
            ack.properties.maximum_packet_size().unwrap_or(u32::MAX)
        } else {
            u32::MAX
        };
        let listener = self.bridge_listener();
        if let Some(session) = self.sessions.get_mut(key) {
            session.resume(id, None, SESSION_NEVER_EXPIRES);
            session.window = window;
            session.listener = listener;
        }
        let keepalive = u16::try_from(settings.keepalive.as_secs()).unwrap_or(u16::MAX);
        let Some(conn) = self.live_conn(id) else {
            return;
        };
        conn.state = ConnState::Connected(key);
        conn.keepalive = keepalive_window(keepalive);
        conn.max_packet_size = max_packet_size;
        let generation = conn.generation;
        let silence = conn.keepalive;
        self.timers
            .push(now + silence, Timer::Keepalive(id, generation));
        self.timers
            .push(now + settings.keepalive, Timer::BridgePing(id, generation));
        if settings.start == BridgeStart::Lazy {
            self.timers.push(
                now + settings.idle_timeout,
                Timer::BridgeIdle(id, generation),
            );
        }
        self.stats.clients_connected += 1;
        log::info!(
            "bridge {}: connected{}",
            settings.name,
            if ack.session_present {
                " (session present upstream)"
            } else {
                ""
            }
        );
        self.subscribe_upstream(id, key, &settings, v5);
        if settings.notifications {
            self.notify_upstream(id, key, &settings);
            self.notify_locally(now, &settings, true);
        }
        self.resend_inflight(id, key);
        self.refill(key);
    }

    /// The local topic of a PUBLISH that came in on bridge connection
    /// `id` with the upstream topic `remote`; `None` when no `in` topic
    /// matches it (an upstream session that kept an older subscription).
    pub(super) fn incoming_topic(&self, id: ConnId, remote: &str) -> Option<String> {
        let bridge = self.conns.get(id)?.bridge.as_ref()?;
        Some(match bridge.topics.incoming(remote)? {
            Crossed::Same => remote.to_string(),
            Crossed::Renamed(topic) => topic,
        })
    }

    /// SUBSCRIBE upstream to the `in` topics (in MQTT 5 with No Local and
    /// Retain As Published for a `try_private` bridge: the upstream does
    /// not send back what the bridge published).
    fn subscribe_upstream(&mut self, id: ConnId, key: SessionKey, settings: &Bridge, v5: bool) {
        let filters: Vec<(String, SubscriptionOptions)> = settings
            .topics
            .iter()
            .filter(|t| t.comes_in())
            .map(|t| {
                let mut options = SubscriptionOptions::new(t.qos);
                if v5 && settings.try_private {
                    options.no_local = true;
                    options.retain_as_published = true;
                }
                (t.remote_filter(), options)
            })
            .collect();
        if filters.is_empty() {
            return;
        }
        let Some(packet_id) = self.sessions.get_mut(key).map(Session::next_packet_id) else {
            return;
        };
        let subscribe = Packet::Subscribe(Subscribe {
            packet_id,
            filters: filters.iter().map(|(f, o)| (f.as_str(), *o)).collect(),
            properties: codec::Properties::EMPTY,
        });
        self.send_upstream(id, &subscribe);
    }

    /// Writes `packet` on bridge link `id`, in the link's protocol. The
    /// bridge builds only packets that encode (validated topics and
    /// filters, no oversized fields).
    fn send_upstream(&mut self, id: ConnId, packet: &Packet<'_>) {
        let protocol = self.conns.get(id).map_or(Protocol::V311, |c| c.protocol);
        self.write_to(id, |out| {
            let _ = codec::encode_as(packet, protocol, out);
        });
    }

    /// The link's state `1`, retained, upstream (its will says `0`).
    fn notify_upstream(&mut self, id: ConnId, key: SessionKey, settings: &Bridge) {
        let Some(packet_id) = self.sessions.get_mut(key).map(Session::next_packet_id) else {
            return;
        };
        let topic = settings.state_topic();
        self.send_upstream(id, &state_publish(&topic, b"1", Some(packet_id)));
    }

    /// The link's state, retained, to local subscribers.
    fn notify_locally(&mut self, now: Instant, settings: &Bridge, up: bool) {
        let payload: &[u8] = if up { b"1" } else { b"0" };
        if let Some(message) =
            Message::new(&settings.state_topic(), payload, QoS::AtLeastOnce, true)
        {
            self.route(now, message, None, None);
        }
    }

    /// What a bridge's connection receives once up, beyond what a client's
    /// does: a PUBLISH from upstream comes in under its local topic; SUBACK
    /// and PINGRESP are answers to the bridge.
    pub(super) fn handle_bridge_packet(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        packet: Packet<'_>,
    ) {
        match packet {
            Packet::Publish(publish) => {
                let bridge = self
                    .conns
                    .get(id)
                    .and_then(|c| c.bridge.as_ref())
                    .map(|b| b.id);
                if let Some(link) = bridge
                    .and_then(|b| self.bridges.get_mut(b.0))
                    .and_then(Option::as_mut)
                {
                    link.received += 1;
                }
                // Its topic is mapped once `handle_publish` has resolved
                // any Topic Alias (see `incoming_topic`).
                self.handle_publish(now, id, key, publish);
            }
            Packet::PubAck(ack) => self.handle_puback(now, id, key, ack.packet_id),
            Packet::PubRec(ack) if ack.reason.is_error() => {
                self.handle_refused_pubrec(now, id, key, ack.packet_id)
            }
            Packet::PubRec(ack) => self.handle_pubrec(now, id, key, ack.packet_id),
            Packet::PubRel(ack) => self.handle_pubrel(id, key, ack.packet_id),
            Packet::PubComp(ack) => self.handle_pubcomp(now, id, key, ack.packet_id),
            Packet::SubAck(ack) => self.log_refused_subscriptions(id, &ack),
            Packet::UnsubAck(_) | Packet::PingResp => {}
            Packet::Disconnect(reasoned) => {
                if let Some(name) = self.bridge_name_of(id) {
                    log::warn!(
                        "bridge {name}: the upstream broker disconnected: {}",
                        reasoned.reason.describe()
                    );
                }
                self.close(now, id, CloseReason::Network);
            }
            other => {
                if let Some(name) = self.bridge_name_of(id) {
                    log::warn!("bridge {name}: unexpected {} from upstream", other.name());
                }
                self.close(now, id, CloseReason::ProtocolError);
            }
        }
    }

    fn bridge_name_of(&self, id: ConnId) -> Option<String> {
        let conn = self.conns.get(id)?;
        Some(conn.bridge.as_ref()?.settings.name.clone())
    }

    fn log_refused_subscriptions(&self, id: ConnId, ack: &SubAck<'_>) {
        let Some(name) = self.bridge_name_of(id) else {
            return;
        };
        for code in ack.codes.iter().filter(|c| c.is_error()) {
            log::warn!(
                "bridge {name}: the upstream broker refused a subscription: {}",
                code.describe()
            );
        }
    }

    /// Sends PINGREQ on a bridge's link, every keep alive.
    pub(super) fn bridge_ping(&mut self, now: Instant, id: ConnId, generation: u32) {
        let Some(conn) = self.conns.get(id) else {
            return;
        };
        if conn.generation != generation || !matches!(conn.state, ConnState::Connected(_)) {
            return;
        }
        let Some(every) = conn.bridge.as_ref().map(|b| b.settings.keepalive) else {
            return;
        };
        self.send_upstream(id, &Packet::PingReq);
        self.timers
            .push(now + every, Timer::BridgePing(id, generation));
    }

    /// Every `idle_timeout` on a lazy bridge's link: when nothing crossed
    /// since the last look and nothing waits, the link is closed (its
    /// state `0` published upstream first, then DISCONNECT, so that the
    /// upstream does not take it for a failure); the dialer connects again
    /// once `threshold` messages wait.
    pub(super) fn bridge_idle(&mut self, now: Instant, id: ConnId, generation: u32) {
        let Some(conn) = self.conns.get(id) else {
            return;
        };
        if conn.generation != generation || !matches!(conn.state, ConnState::Connected(_)) {
            return;
        }
        let Some(bridge) = conn.bridge.as_ref() else {
            return;
        };
        let (bridge_id, settings) = (bridge.id, Arc::clone(&bridge.settings));
        let Some(link) = self.bridges.get(bridge_id.0).and_then(Option::as_ref) else {
            return;
        };
        let key = link.key;
        let activity = (
            self.sessions.get(key).map_or(0, |s| s.messages_sent),
            link.received,
        );
        let idle = activity == link.activity_mark && self.bridge_queued(bridge_id) == 0;
        if !idle {
            if let Some(link) = self.bridges.get_mut(bridge_id.0).and_then(Option::as_mut) {
                link.activity_mark = activity;
            }
            self.timers.push(
                now + settings.idle_timeout,
                Timer::BridgeIdle(id, generation),
            );
            return;
        }
        log::info!(
            "bridge {}: idle for {:?}, disconnecting (start_type lazy)",
            settings.name,
            settings.idle_timeout
        );
        if settings.notifications {
            let topic = settings.state_topic();
            self.send_upstream(id, &state_publish(&topic, b"0", None));
        }
        self.send_upstream(
            id,
            &Packet::Disconnect(codec::Reasoned {
                reason: ReasonCode::SUCCESS,
                properties: codec::Properties::EMPTY,
            }),
        );
        self.close(now, id, CloseReason::Disconnect);
    }

    /// A bridge's connection ended (after the session was detached): the
    /// link is down.
    pub(super) fn bridge_closed(&mut self, now: Instant, bridge: &BridgeConn, was_up: bool) {
        let Some(link) = self.bridges.get_mut(bridge.id.0).and_then(Option::as_mut) else {
            return;
        };
        link.connected = false;
        let settings = Arc::clone(&link.settings);
        if was_up {
            log::warn!("bridge {}: link down", settings.name);
            if settings.notifications {
                self.notify_locally(now, &settings, false);
            }
        }
    }

    /// Acknowledges a PUBLISH that goes nowhere (so that its sender does
    /// not send it again), completing a QoS 2 exchange as usual.
    pub(super) fn acknowledge_unrouted(
        &mut self,
        key: SessionKey,
        id: ConnId,
        publish: &Publish<'_>,
        v5: bool,
    ) {
        let packet_id = publish.packet_id.unwrap_or(0);
        let code = ReasonCode::NO_MATCHING_SUBSCRIBERS;
        match publish.qos {
            QoS::AtMostOnce => {}
            QoS::AtLeastOnce => self.acknowledge_publish(id, AckKind::PubAck, packet_id, code, v5),
            QoS::ExactlyOnce => {
                let fresh = self
                    .sessions
                    .get_mut(key)
                    .is_some_and(|session| session.receive_qos2(packet_id));
                if fresh {
                    self.record_inbound_qos2(key, packet_id, true);
                }
                self.acknowledge_publish(id, AckKind::PubRec, packet_id, code, v5);
            }
        }
    }
}

/// The bridge's state message upstream: retained, QoS 1 with a packet id
/// (when the link comes up), QoS 0 without (as it leaves when idle).
fn state_publish<'a>(topic: &'a str, state: &'a [u8], packet_id: Option<u16>) -> Packet<'a> {
    Packet::Publish(Publish {
        dup: false,
        qos: if packet_id.is_some() {
            QoS::AtLeastOnce
        } else {
            QoS::AtMostOnce
        },
        retain: true,
        topic,
        packet_id,
        payload: state,
        properties: codec::Properties::EMPTY,
    })
}

/// Whether `topic` is where a bridge publishes its link's state
/// (`$SYS/broker/connection/<client id>/state`), the one place under `$SYS`
/// clients may publish: bridges of other brokers do.
pub(super) fn is_bridge_state(topic: &str) -> bool {
    crate::topic::matches("$SYS/broker/connection/+/state", topic)
}
