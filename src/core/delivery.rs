//! Routing one message to its subscribers, and the outbound flow control:
//! the in-flight window, the queue behind it, and the pending-output limit.

use std::net::SocketAddr;
use std::time::Instant;

use super::connection::Conn;
use super::paging::queue_place;
use super::session::{Inflight, InflightState, Session};
use super::{ConnId, Core, Message, SessionKey};
use crate::codec::QoS;
use crate::hooks::{AclAccess, ClientInfo, Hooks, Identity, MessageDecision};
use crate::peer::Peer;
use crate::store::StoreOp;
use crate::topic::is_valid_topic_name;

impl Core {
    /// Runs the message hook, stores or clears the retained copy, then
    /// delivers the message once to every session with a matching
    /// subscription, at the highest QoS among that session's matching
    /// filters (capped by the message's QoS), and to every matching local
    /// subscription. `origin` is the publishing client (`None`: the host).
    pub(super) fn route(&mut self, _now: Instant, message: Message, origin: Option<&Identity>) {
        let message = if self.hooks.has_message() {
            match self.hooks.filter_message(origin, &message) {
                MessageDecision::Pass => message,
                MessageDecision::Drop => {
                    self.stats.messages_dropped += 1;
                    return;
                }
                MessageDecision::Rewrite(rewritten) => {
                    if !is_valid_topic_name(rewritten.topic()) {
                        log::warn!("message hook gave invalid topic {:?}", rewritten.topic());
                        self.stats.messages_dropped += 1;
                        return;
                    }
                    rewritten
                }
            }
        } else {
            message
        };
        if message.retain() {
            self.update_retained(&message);
        }
        // The store id of the message's body, once some persistent session
        // needs it stored.
        let mut body_id = None;

        let matched = self.router.matches(message.topic(), &mut self.sessions);
        let check_acl = self.hooks.has_acl();
        for &(key, granted) in &matched.sessions {
            if check_acl && !self.may_receive(key, message.topic()) {
                continue;
            }
            // Forwarded to an existing subscription: retain is 0 [MQTT-3.3.1-9].
            let qos = message.qos().min(granted);
            self.deliver(key, &message, qos, false, &mut body_id);
        }
        for &(key, granted) in &matched.locals {
            let qos = message.qos().min(granted);
            self.deliver_local(key, &message.with_flags(qos, false));
        }
        self.router.recycle(matched);
    }

    /// Whether the ACL hook lets the session's client receive on `topic`.
    fn may_receive(&mut self, key: SessionKey, topic: &str) -> bool {
        let peer = self
            .sessions
            .get(key)
            .and_then(|session| session.conn)
            .and_then(|id| self.conns.get(id))
            .map(|conn| conn.peer.clone())
            .unwrap_or_else(|| Peer::Tcp(SocketAddr::from(([0, 0, 0, 0], 0))));
        match self.identity(key, peer) {
            Some(identity) => self.hooks.authorize(&identity, AclAccess::Receive, topic),
            None => false,
        }
    }

    /// Sends the retained messages matching `filter` to a session that just
    /// subscribed with `granted`, with the retain flag set [MQTT-3.3.1-8].
    pub(super) fn deliver_retained(&mut self, key: SessionKey, filter: &str, granted: QoS) {
        let mut found = Vec::new();
        self.router
            .retained
            .for_each_match(filter, |_, message: &Message| found.push(message.clone()));
        let check_acl = self.hooks.has_acl();
        for message in found {
            if check_acl && !self.may_receive(key, message.topic()) {
                continue;
            }
            // The same limits as any delivery: a client that subscribes again
            // and again without reading must not make the broker buffer the
            // retained store each time.
            let qos = message.qos().min(granted);
            self.deliver(key, &message, qos, true, &mut None);
        }
    }

    /// Delivers one message to one session at `qos`: straight to the
    /// connection's output when the window and output allow, else into the
    /// session's queue; dropped (and counted) when that is full, or when it
    /// is QoS 0 and the client is offline or not reading. QoS 1/2 messages
    /// of persistent sessions are recorded for the store, before the bytes
    /// that send them; `body_id` is the store id of the message's body once
    /// recorded for an earlier receiver.
    pub(super) fn deliver(
        &mut self,
        key: SessionKey,
        message: &Message,
        qos: QoS,
        retain: bool,
        body_id: &mut Option<u64>,
    ) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let delivered = if message.qos() == qos && message.retain() == retain {
            message.clone()
        } else {
            message.with_flags(qos, retain)
        };
        let persistent = self.store.enabled() && !session.clean;
        let conn = session
            .conn
            .and_then(|id| self.conns.get_mut(id).map(|conn| (id, conn)));
        let send_now = match &conn {
            Some((_, conn)) => {
                let output_full = conn.pending_output() >= self.config.max_pending_output;
                if qos == QoS::AtMostOnce {
                    if output_full {
                        self.stats.drop_message(
                            &session.client_id,
                            "QoS 0 while its unwritten output is over max_pending_output",
                        );
                        return;
                    }
                    true
                } else {
                    session.queue_is_empty()
                        && session.window_has_room(
                            usize::from(self.config.max_inflight),
                            self.config.max_inflight_bytes,
                            delivered.size(),
                        )
                        && !output_full
                }
            }
            None => {
                if qos == QoS::AtMostOnce || session.clean {
                    self.stats
                        .drop_message(&session.client_id, "QoS 0 while offline (not queued)");
                    return;
                }
                false
            }
        };
        let out = &mut self.outbox;
        if send_now {
            let Some((id, conn)) = conn else {
                return;
            };
            if qos == QoS::AtMostOnce {
                out.publish(id, conn, &self.store, &delivered, 0);
                self.stats.messages_sent += 1;
                return;
            }
            let packet_id = session.next_packet_id();
            let seq = session.take_seq();
            if persistent {
                let message_id = self.store.body_id(body_id, message);
                let client_id = session.client_id.to_string();
                self.store.push(StoreOp::SessionMessageAdd {
                    client_id: client_id.clone(),
                    seq,
                    message_id,
                    qos,
                    retain,
                });
                self.store.push(StoreOp::SessionMessageSent {
                    client_id,
                    seq,
                    packet_id,
                });
            }
            out.publish(id, conn, &self.store, &delivered, packet_id);
            session.push_inflight(Inflight {
                seq,
                packet_id,
                message: delivered,
                state: InflightState::AwaitingAck,
            });
            self.stats.messages_sent += 1;
            return;
        }
        let place = queue_place(self.store.enabled(), session);
        match session.enqueue(
            delivered,
            self.config.max_queued_messages,
            self.config.max_queued_bytes,
            place,
        ) {
            Ok(seq) => {
                if persistent {
                    let message_id = self.store.body_id(body_id, message);
                    self.store.push(StoreOp::SessionMessageAdd {
                        client_id: session.client_id.to_string(),
                        seq,
                        message_id,
                        qos,
                        retain,
                    });
                }
            }
            Err(_) => self.stats.drop_message(
                &session.client_id,
                "queue full (max_queued_messages / max_queued_bytes)",
            ),
        }
    }

    /// Moves queued messages into the in-flight window while it and the
    /// connection's output have room.
    pub(super) fn refill(&mut self, key: SessionKey) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        let Some(id) = session.conn else {
            return;
        };
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let window = usize::from(self.config.max_inflight);
        let check_acl = self.hooks.has_acl();
        let persistent = self.store.enabled() && !session.clean;
        let out = &mut self.outbox;
        while conn.pending_output() < self.config.max_pending_output {
            let Some(next) = session.queue.front() else {
                if session.stored_only.messages > 0 {
                    self.request_page(key);
                }
                return;
            };
            if !session.window_has_room(window, self.config.max_inflight_bytes, next.message.size())
            {
                return;
            }
            let Some(queued) = session.dequeue() else {
                return;
            };
            if check_acl
                && queued.seq < session.acl_recheck_below
                && !may_read(&mut self.hooks, session, conn, queued.message.topic())
            {
                if persistent {
                    self.store.push(StoreOp::SessionMessageDelete {
                        client_id: session.client_id.to_string(),
                        seq: queued.seq,
                    });
                }
                self.stats
                    .drop_message(&session.client_id, WITHHELD_FROM_RESUMING_CLIENT);
                continue;
            }
            let message = queued.message;
            let packet_id = session.next_packet_id();
            if persistent {
                self.store.push(StoreOp::SessionMessageSent {
                    client_id: session.client_id.to_string(),
                    seq: queued.seq,
                    packet_id,
                });
            }
            out.publish(id, conn, &self.store, &message, packet_id);
            self.stats.messages_sent += 1;
            session.push_inflight(Inflight {
                seq: queued.seq,
                packet_id,
                message,
                state: InflightState::AwaitingAck,
            });
        }
    }

    /// Appends bytes to a connection's output through `encode` (held for
    /// the store when operations recorded before are not applied yet).
    pub(super) fn write_to(&mut self, id: ConnId, encode: impl FnOnce(&mut Vec<u8>)) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        self.outbox.encode(id, conn, &self.store, encode);
    }
}

/// Why a queued or in-flight message is dropped when a session resumes.
pub(super) const WITHHELD_FROM_RESUMING_CLIENT: &str =
    "queued before the session was resumed, and the ACL does not let the client now connected read it";

/// Whether the ACL lets the client connected to `session` over `conn` read
/// `topic`.
pub(super) fn may_read(hooks: &mut Hooks, session: &Session, conn: &Conn, topic: &str) -> bool {
    let client = ClientInfo {
        client_id: &session.client_id,
        username: session.username.as_deref(),
        peer: &conn.peer,
    };
    hooks.authorize_client(&client, AclAccess::Receive, topic)
}
