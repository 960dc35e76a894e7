//! The end of a connection and of a session: the DISCONNECT an MQTT 5
//! client is told, detaching or discarding the session, the will (at once
//! or after its delay), and session expiry.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::connect_options::SESSION_NEVER_EXPIRES;
use super::connection::{CloseReason, ConnState, Will};
use super::timers::Timer;
use super::{ConnId, Core, SessionKey};
use crate::codec::{self, property, Packet, PropertiesBuilder, Protocol, ReasonCode, Reasoned};
use crate::hooks::{AclAccess, Event, Identity};
use crate::peer::Peer;
use crate::store::StoreOp;

impl Core {
    /// Ends a connection: tells an MQTT 5 client why when the broker is the
    /// one ending it, detaches or discards its session, publishes its will
    /// when `reason` calls for it, and queues it for release.
    pub(super) fn close(&mut self, now: Instant, id: ConnId, reason: CloseReason) {
        self.close_with(now, id, reason, reason.disconnect_code());
    }

    /// [`Core::close`] with the reason code of the DISCONNECT sent to an
    /// MQTT 5 client (`None`: none is sent). A DISCONNECT goes only to a
    /// client whose CONNECT was accepted [MQTT-3.14.0-1].
    pub(super) fn close_with(
        &mut self,
        now: Instant,
        id: ConnId,
        reason: CloseReason,
        code: Option<ReasonCode>,
    ) {
        self.close_explained(now, id, reason, code, "");
    }

    /// [`Core::close_with`], the DISCONNECT carrying `why` as its Reason
    /// String (when not empty, and when the packet stays within the
    /// client's Maximum Packet Size [MQTT-3.14.2-3]).
    pub(super) fn close_explained(
        &mut self,
        now: Instant,
        id: ConnId,
        reason: CloseReason,
        code: Option<ReasonCode>,
        why: &str,
    ) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        if conn.state == ConnState::Closing {
            return;
        }
        let was_up = matches!(conn.state, ConnState::Connected(_));
        let bridge = conn.bridge.take();
        // On a bridge's link the broker is the client: a code only a
        // server may send becomes the nearest a client may.
        let code = match &bridge {
            Some(_) => code.map(|code| match code.0 {
                0x87 | 0x89 | 0x8D | 0x8E | 0x8F | 0x9A.. => ReasonCode::UNSPECIFIED_ERROR,
                0x8B => ReasonCode::SUCCESS,
                _ => code,
            }),
            None => code,
        };
        self.end_connection(now, id, reason, code, why);
        if let Some(bridge) = bridge {
            self.bridge_closed(now, &bridge, was_up);
        }
    }

    /// The work of [`Core::close_explained`] for a connection not yet
    /// closing.
    fn end_connection(
        &mut self,
        now: Instant,
        id: ConnId,
        reason: CloseReason,
        code: Option<ReasonCode>,
        why: &str,
    ) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        if let (Some(code), ConnState::Connected(_), true) = (code, conn.state, conn.is_v5()) {
            let mut properties = PropertiesBuilder::new();
            if !why.is_empty() && why.len() + 16 <= conn.max_packet_size as usize {
                properties.string(property::REASON_STRING, why);
            }
            let disconnect = Packet::Disconnect(Reasoned {
                reason: code,
                properties: properties.unchecked(),
            });
            self.outbox.encode(id, conn, &self.store, |out| {
                // A reason code and a string cut to 65 535 bytes: it encodes.
                let _ = codec::encode_as(&disconnect, Protocol::V5, out);
            });
        }
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let previous = conn.state;
        conn.state = ConnState::Closing;
        conn.input = Vec::new();
        conn.pending = None;
        conn.topic_aliases = None;
        let will = conn.will.take();
        let peer = conn.peer.clone();
        self.conns.closing.push(id);
        self.stats.connections = self.stats.connections.saturating_sub(1);
        let ConnState::Connected(key) = previous else {
            log::debug!("connection from {peer} closed before CONNECT completed: {reason:?}");
            return;
        };
        self.stats.clients_connected = self.stats.clients_connected.saturating_sub(1);
        let identity = self.identity(key, peer);
        let stored = self.store.enabled();
        let mut session_ends = false;
        let mut session_generation = 0;
        if let Some(session) = self.sessions.get_mut(key) {
            log::debug!("client {} disconnected: {reason:?}", session.client_id);
            if session.detach(id, stored) {
                session_generation = session.generation;
                if session.expiry_interval == 0 {
                    session_ends = true;
                } else if session.expiry_interval != SESSION_NEVER_EXPIRES {
                    let at = now + Duration::from_secs(u64::from(session.expiry_interval));
                    session.expires_at = Some(at);
                    self.timers
                        .push(at, Timer::SessionExpiry(key, session.generation));
                }
            }
        }
        if let Some(identity) = &identity {
            if self.hooks.has_event() {
                self.hooks.event(&Event::Disconnected {
                    client: identity.info(),
                    reason,
                });
            }
        }
        if let Some(will) = will.filter(|_| reason.publishes_will()) {
            if will.delay == 0 || session_ends {
                self.publish_will(now, *will, identity.as_ref());
            } else if let Some(session) = self.sessions.get_mut(key) {
                // Sent when the delay passes or the session ends, whichever
                // comes first [MQTT-3.1.3-9].
                let delay = Duration::from_secs(u64::from(will.delay.min(session.expiry_interval)));
                session.delayed_will = Some(will);
                self.timers
                    .push(now + delay, Timer::WillDelay(key, session_generation));
            }
        }
        if session_ends {
            self.remove_session(key);
        }
    }

    /// Publishes a will, as a publish of its client: the same ACL applies,
    /// and its Message Expiry Interval counts from now. Under `$SYS` only a
    /// bridge's link state may go (another broker's bridge's will).
    fn publish_will(&mut self, now: Instant, will: Will, identity: Option<&Identity>) {
        let allowed = match identity {
            Some(identity) => {
                self.hooks
                    .authorize(identity, AclAccess::Publish, will.message.topic())
            }
            None => true,
        };
        let topic = will.message.topic();
        if !allowed || (topic.starts_with("$SYS/") && !super::bridge_up::is_bridge_state(topic)) {
            self.stats.messages_dropped += 1;
            return;
        }
        let message = match will.expiry_interval {
            Some(interval) => will
                .message
                .with_expiry(Some(self.expiry_deadline(now, interval))),
            None => will.message,
        };
        self.stats.messages_received += 1;
        self.stats.publish_bytes_received += message.payload().len() as u64;
        self.route(now, message, identity, None);
    }

    /// The broker-clock deadline of a Message Expiry Interval starting now.
    pub(super) fn expiry_deadline(&self, now: Instant, interval_secs: u32) -> u64 {
        self.clock_ms(now)
            .saturating_add(u64::from(interval_secs) * 1000)
    }

    /// Milliseconds of the broker's clock.
    pub(super) fn clock_ms(&self, now: Instant) -> u64 {
        crate::clock::millis_at(self.clock_zero, now)
    }

    /// Sends the will of a disconnected session once its delay has passed.
    pub(super) fn send_delayed_will(&mut self, now: Instant, key: SessionKey, generation: u32) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        if session.generation != generation || session.conn.is_some() {
            return;
        }
        if let Some(will) = session.delayed_will.take() {
            let identity = self.offline_identity(key);
            self.publish_will(now, *will, identity.as_ref());
        }
    }

    /// Removes a disconnected session whose expiry interval has passed.
    pub(super) fn expire_session(&mut self, now: Instant, key: SessionKey, generation: u32) {
        let Some(session) = self.sessions.get(key) else {
            return;
        };
        if session.generation != generation || session.conn.is_some() {
            return;
        }
        if matches!(session.expires_at, Some(at) if at <= now) {
            log::debug!("session {} expired", session.client_id);
            self.stats.sessions_expired += 1;
            self.end_session(now, key);
        }
    }

    /// Ends a session: a will still waiting for its delay goes out first
    /// (the session's end is the other moment it is due), then the session
    /// and its subscriptions go.
    pub(super) fn end_session(&mut self, now: Instant, key: SessionKey) {
        let will = self
            .sessions
            .get_mut(key)
            .and_then(|session| session.delayed_will.take());
        if let Some(will) = will {
            let identity = self.offline_identity(key);
            self.publish_will(now, *will, identity.as_ref());
        }
        self.remove_session(key);
    }

    /// Who the client of an offline session was, for its ACL checks.
    pub(super) fn offline_identity(&self, key: SessionKey) -> Option<Identity> {
        self.identity(key, Peer::Tcp(SocketAddr::from(([0, 0, 0, 0], 0))))
    }

    /// Drops a session and all its subscriptions.
    pub(super) fn remove_session(&mut self, key: SessionKey) {
        let Some(session) = self.sessions.remove(key) else {
            return;
        };
        if self.store.enabled() && !session.clean {
            self.store.push(StoreOp::SessionDelete {
                client_id: Arc::clone(&session.client_id),
            });
        }
        for filter in session.subscriptions.keys() {
            self.unroute_subscription(key, filter);
        }
    }
}
