//! Routing one message to its subscribers, and the outbound flow control:
//! the in-flight window, the queue behind it, and the pending-output limit.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use super::connection::Conn;
use super::paging::queue_place;
use super::router::Grant;
use super::session::{Inflight, InflightState, Session};
use super::{ConnId, Core, Message, SessionKey};
use crate::codec::{self, property, AckKind, PacketId, PropertiesBuilder, QoS};
use crate::hooks::{AclAccess, ClientInfo, Event, Hooks, Identity, MessageDecision};
use crate::peer::Peer;
use crate::store::StoreOp;
use crate::topic::is_valid_topic_name;

impl Core {
    /// Runs the message hook, stores or clears the retained copy, then
    /// delivers the message once to every session with a matching
    /// subscription, at the highest QoS among that session's matching
    /// filters (capped by the message's QoS), and to every matching local
    /// subscription. `origin` is the publishing client (`None`: the host),
    /// `origin_session` its session (whose No Local subscriptions it does
    /// not reach). Returns whether any subscription matched.
    pub(super) fn route(
        &mut self,
        _now: Instant,
        message: Message,
        origin: Option<&Identity>,
        origin_session: Option<SessionKey>,
    ) -> bool {
        let message = if self.hooks.has_message() {
            match self.hooks.filter_message(origin, &message) {
                MessageDecision::Pass => message,
                MessageDecision::Drop => {
                    self.stats.messages_dropped += 1;
                    return false;
                }
                MessageDecision::Rewrite(rewritten) => {
                    if !is_valid_topic_name(rewritten.topic()) {
                        log::warn!("message hook gave invalid topic {:?}", rewritten.topic());
                        self.stats.messages_dropped += 1;
                        return false;
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

        let matched = self
            .router
            .matches(message.topic(), &mut self.sessions, origin_session);
        let check_acl = self.hooks.has_acl();
        for (index, found) in matched.sessions.iter().enumerate() {
            if check_acl && !self.may_receive(found.key, message.topic()) {
                continue;
            }
            // Forwarded to an existing subscription: retain is 0
            // [MQTT-3.3.1-9], unless Retain As Published [MQTT-3.3.1-12].
            let retain = found.retain_as_published && message.retain();
            let qos = if found.at_granted_qos {
                found.qos
            } else {
                message.qos().min(found.qos)
            };
            if found.identifier == 0 {
                self.deliver(found.key, &message, qos, retain, &mut body_id);
            } else {
                // Its Subscription Identifiers go with this receiver's copy
                // [MQTT-3.3.4-3].
                let ids = subscription_identifiers(matched.identifiers(index));
                let own = message.with_extra_properties(&ids);
                self.deliver(found.key, &own, qos, retain, &mut None);
            }
        }
        for &(key, granted) in &matched.locals {
            let qos = message.qos().min(granted);
            self.deliver_local(key, &message.with_flags(qos, false));
        }
        for &index in &matched.shared {
            self.deliver_shared(index, &message, &mut body_id);
        }
        let any = !matched.sessions.is_empty()
            || !matched.locals.is_empty()
            || !matched.shared.is_empty();
        self.router.recycle(matched);
        any
    }

    /// Whether the ACL hook lets the session's client receive on `topic`.
    pub(super) fn may_receive(&mut self, key: SessionKey, topic: &str) -> bool {
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
    /// subscribed with `grant`, with the retain flag set [MQTT-3.3.1-8] and
    /// the subscription's identifier; expired ones are dropped from the
    /// retained store instead.
    pub(super) fn deliver_retained(&mut self, key: SessionKey, filter: &str, grant: Grant) {
        let mut found = Vec::new();
        self.router
            .retained
            .for_each_match(filter, |_, message: &Message| found.push(message.clone()));
        let check_acl = self.hooks.has_acl();
        let ids = subscription_identifiers(std::iter::once(grant.identifier()));
        for message in found {
            if message.expired(self.now_ms) {
                self.clear_retained(message.topic());
                continue;
            }
            if check_acl && !self.may_receive(key, message.topic()) {
                continue;
            }
            // The same limits as any delivery: a client that subscribes again
            // and again without reading must not make the broker buffer the
            // retained store each time.
            let qos = message.qos().min(grant.qos());
            let message = if ids.is_empty() {
                message
            } else {
                message.with_extra_properties(&ids)
            };
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
        // A copy with other flags only when they differ; a QoS 0 message
        // sent at once is written from the borrowed one, never cloned.
        let retagged = (message.qos() != qos || message.retain() != retain)
            .then(|| message.with_flags(qos, retain));
        let delivered = retagged.as_ref().unwrap_or(message);
        let persistent = self.store.enabled() && !session.clean;
        let conn = session
            .conn
            .and_then(|id| self.conns.get_mut(id).map(|conn| (id, conn)));
        let send_now = match &conn {
            Some((_, conn)) if conn.too_large(delivered, conn.wire(self.now_ms)) => {
                session.messages_dropped += 1;
                self.stats
                    .drop_message(&session.client_id, TOO_LARGE_FOR_CLIENT);
                return;
            }
            Some((_, conn)) => {
                let output_full = conn.pending_output() >= self.config.max_pending_output;
                if qos == QoS::AtMostOnce {
                    if output_full {
                        session.messages_dropped += 1;
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
                            usize::from(session.window),
                            self.config.max_inflight_bytes,
                            delivered.size(),
                        )
                        && !output_full
                }
            }
            None => {
                if qos == QoS::AtMostOnce || session.clean {
                    session.messages_dropped += 1;
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
            let wire = conn.wire(self.now_ms);
            if qos == QoS::AtMostOnce {
                out.publish(id, conn, &self.store, delivered, 0, wire);
                self.stats.messages_sent += 1;
                session.messages_sent += 1;
                return;
            }
            let packet_id = session.next_packet_id();
            let seq = session.take_seq();
            if persistent {
                let message_id = self.store.body_id(body_id, message);
                let client_id = Arc::clone(&session.client_id);
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
            out.publish(id, conn, &self.store, delivered, packet_id, wire);
            session.messages_sent += 1;
            session.push_inflight(Inflight {
                seq,
                packet_id,
                message: retagged.unwrap_or_else(|| message.clone()),
                state: InflightState::AwaitingAck,
            });
            self.stats.messages_sent += 1;
            return;
        }
        let place = queue_place(self.store.enabled(), session);
        match session.enqueue(
            retagged.unwrap_or_else(|| message.clone()),
            self.config.max_queued_messages,
            self.config.max_queued_bytes,
            place,
        ) {
            Ok(seq) => {
                if persistent {
                    let message_id = self.store.body_id(body_id, message);
                    self.store.push(StoreOp::SessionMessageAdd {
                        client_id: Arc::clone(&session.client_id),
                        seq,
                        message_id,
                        qos,
                        retain,
                    });
                }
            }
            Err(_) => {
                session.messages_dropped += 1;
                self.stats.drop_message(
                    &session.client_id,
                    "queue full (max_queued_messages / max_queued_bytes)",
                );
                if let Some(dropped) = session.overflow.note(session.next_seq, self.now_ms) {
                    self.report_overflow(key, dropped);
                }
            }
        }
    }

    /// Tells the event hook that the queue of `key` refused `dropped`
    /// messages. Cold: a queue overflows rarely, and the check for a hook
    /// stays out of the delivery path.
    #[cold]
    #[inline(never)]
    fn report_overflow(&mut self, key: SessionKey, dropped: u64) {
        if !self.hooks.has_event() {
            return;
        }
        let Some(session) = self.sessions.get(key) else {
            return;
        };
        let queued = session.queued_messages();
        let peer = session
            .conn
            .and_then(|id| self.conns.get(id))
            .map(|conn| conn.peer.clone());
        let identity = match peer {
            Some(peer) => self.identity(key, peer),
            None => self.offline_identity(key),
        };
        if let Some(identity) = identity {
            self.hooks.event(&Event::QueueOverflow {
                client: identity.info(),
                dropped,
                queued,
            });
        }
    }

    /// Moves queued messages into the in-flight window while it and the
    /// connection's output have room.
    pub(super) fn refill(&mut self, key: SessionKey) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        // Nothing waits (the common case: called on every acknowledgement):
        // the loop below would find as much, after looking up the
        // connection and its output.
        if session.held_back.is_empty()
            && session.queue.is_empty()
            && session.stored_only.messages == 0
        {
            return;
        }
        let Some(id) = session.conn else {
            return;
        };
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        let window = usize::from(session.window);
        let check_acl = self.hooks.has_acl();
        let persistent = self.store.enabled() && !session.clean;
        let wire = conn.wire(self.now_ms);
        let out = &mut self.outbox;
        while conn.pending_output() < self.config.max_pending_output {
            // First what a resumed session held back for the client's
            // Receive Maximum, again with DUP.
            if let Some(index) = session.next_held_back(window) {
                let held = &session.inflight[index];
                let message = conn.crossing(&held.message).into_owned();
                out.append(id, conn, &self.store, |output| {
                    output.push_publish(&message, true, held.packet_id, wire)
                });
                self.stats.messages_sent += 1;
                continue;
            }
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
            let withheld = if queued.message.expired(self.now_ms) {
                Some(EXPIRED)
            } else if conn.too_large(&queued.message, wire) {
                Some(TOO_LARGE_FOR_CLIENT)
            } else if check_acl
                && queued.seq < session.acl_recheck_below
                && !may_read(&mut self.hooks, session, conn, queued.message.topic())
            {
                Some(WITHHELD_FROM_RESUMING_CLIENT)
            } else {
                None
            };
            if let Some(why) = withheld {
                if persistent {
                    self.store.push(StoreOp::SessionMessageDelete {
                        client_id: Arc::clone(&session.client_id),
                        seq: queued.seq,
                    });
                }
                session.messages_dropped += 1;
                self.stats.drop_message(&session.client_id, why);
                continue;
            }
            let message = queued.message;
            let packet_id = session.next_packet_id();
            if persistent {
                self.store.push(StoreOp::SessionMessageSent {
                    client_id: Arc::clone(&session.client_id),
                    seq: queued.seq,
                    packet_id,
                });
            }
            out.publish(id, conn, &self.store, &message, packet_id, wire);
            self.stats.messages_sent += 1;
            session.messages_sent += 1;
            session.push_inflight(Inflight {
                seq: queued.seq,
                packet_id,
                message,
                state: InflightState::AwaitingAck,
            });
        }
    }

    /// Appends a four-byte acknowledgement to a connection's output (held
    /// for the store like any output): the bytes are made here, with no
    /// encoder closure to call.
    #[inline]
    pub(super) fn write_ack(&mut self, id: ConnId, kind: AckKind, packet_id: PacketId) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        self.outbox
            .bytes(id, conn, &self.store, &codec::ack_bytes(kind, packet_id));
    }

    /// Appends bytes to a connection's output through `encode` (held for
    /// the store when operations recorded before are not applied yet).
    #[inline]
    pub(super) fn write_to(&mut self, id: ConnId, encode: impl FnOnce(&mut Vec<u8>)) {
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        self.outbox.encode(id, conn, &self.store, encode);
    }
}

/// Why a message is not sent to a client whose Maximum Packet Size it
/// exceeds.
pub(super) const TOO_LARGE_FOR_CLIENT: &str = "larger than the client's Maximum Packet Size";

/// Why a queued message is dropped once its Message Expiry Interval passed.
pub(super) const EXPIRED: &str = "its Message Expiry Interval passed while it was queued";

/// The Subscription Identifier properties for `ids` (zeros left out).
pub(super) fn subscription_identifiers(ids: impl Iterator<Item = u32>) -> Vec<u8> {
    let mut block = PropertiesBuilder::new();
    for id in ids.filter(|&id| id != 0) {
        block.varint(property::SUBSCRIPTION_IDENTIFIER, id);
    }
    block.as_bytes().to_vec()
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
        listener: conn.listener,
    };
    hooks.authorize_client(&client, AclAccess::Receive, topic)
}
