//! Routing one message to its subscribers, and the outbound flow control:
//! the in-flight window, the queue behind it, and the pending-output limit.

use std::net::SocketAddr;
use std::time::Instant;

use super::buffer_pool::BufferPool;
use super::connection::Conn;
use super::paging::queue_place;
use super::session::{Inflight, InflightState, Session};
use super::{ConnId, Core, Message, SessionKey, Subscriber};
use crate::codec::QoS;
use crate::hooks::{AclAccess, ClientInfo, Hooks, Identity, MessageDecision};
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
        self.current_message_id = None;

        self.match_stamp += 1;
        let stamp = self.match_stamp;
        let mut matches = std::mem::take(&mut self.matches);
        let mut local_matches = std::mem::take(&mut self.local_matches);
        matches.clear();
        local_matches.clear();
        let sessions = &mut self.sessions;
        self.subscriptions
            .for_each_match(message.topic(), |subscriber, qos| match subscriber {
                Subscriber::Session(key) => {
                    let Some(session) = sessions.get_mut(key.0 as usize) else {
                        return;
                    };
                    if session.match_stamp == stamp {
                        if let Some(entry) = matches.get_mut(session.match_slot as usize) {
                            entry.1 = entry.1.max(qos);
                        }
                    } else {
                        session.match_stamp = stamp;
                        session.match_slot = matches.len() as u32;
                        matches.push((key, qos));
                    }
                }
                Subscriber::Local(key) => local_matches.push((key, qos)),
            });
        let check_acl = self.hooks.has_acl();
        for &(key, granted) in &matches {
            if check_acl && !self.may_receive(key, message.topic()) {
                continue;
            }
            // Forwarded to an existing subscription: retain is 0 [MQTT-3.3.1-9].
            self.deliver(key, &message, message.qos().min(granted), false);
        }
        for &(key, granted) in &local_matches {
            let qos = message.qos().min(granted);
            self.deliver_local(key, &message.with_flags(qos, false));
        }
        self.matches = matches;
        self.local_matches = local_matches;
    }

    /// Whether the ACL hook lets the session's client receive on `topic`.
    fn may_receive(&mut self, key: SessionKey, topic: &str) -> bool {
        let peer = self
            .sessions
            .get(key.0 as usize)
            .and_then(|session| session.conn)
            .and_then(|id| self.conns.get(id.0))
            .map(|conn| conn.peer)
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)));
        match self.identity(key, peer) {
            Some(identity) => self.hooks.authorize(&identity, AclAccess::Receive, topic),
            None => false,
        }
    }

    /// Sends the retained messages matching `filter` to a session that just
    /// subscribed with `granted`, with the retain flag set [MQTT-3.3.1-8].
    pub(super) fn deliver_retained(&mut self, key: SessionKey, filter: &str, granted: QoS) {
        let mut found = Vec::new();
        self.retained
            .for_each_match(filter, |_, message: &Message| found.push(message.clone()));
        let check_acl = self.hooks.has_acl();
        for message in found {
            if check_acl && !self.may_receive(key, message.topic()) {
                continue;
            }
            self.current_message_id = None;
            // The same limits as any delivery: a client that subscribes again
            // and again without reading must not make the broker buffer the
            // retained store each time.
            self.deliver(key, &message, message.qos().min(granted), true);
        }
    }

    /// Delivers one message to one session at `qos`: straight to the
    /// connection's output when the window and output allow, else into the
    /// session's queue; dropped (and counted) when that is full, or when it
    /// is QoS 0 and the client is offline or not reading. QoS 1/2 messages
    /// of persistent sessions are recorded for the store.
    pub(super) fn deliver(&mut self, key: SessionKey, message: &Message, qos: QoS, retain: bool) {
        let Some(session) = self.sessions.get_mut(key.0 as usize) else {
            return;
        };
        let delivered = if message.qos() == qos && message.retain() == retain {
            message.clone()
        } else {
            message.with_flags(qos, retain)
        };
        let persistent = self.persistent && !session.clean;
        let conn = session
            .conn
            .and_then(|id| self.conns.get_mut(id.0).map(|conn| (id, conn)));
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
        if send_now {
            let Some((id, conn)) = conn else {
                return;
            };
            if qos == QoS::AtMostOnce {
                write_publish(
                    conn,
                    &mut self.buffer_pool,
                    &mut self.dirty,
                    (&mut self.output_pressure, self.pressure_threshold),
                    id,
                    &delivered,
                    false,
                    0,
                );
                self.stats.messages_sent += 1;
                return;
            }
            let packet_id = session.next_packet_id();
            let seq = session.take_seq();
            write_publish(
                conn,
                &mut self.buffer_pool,
                &mut self.dirty,
                (&mut self.output_pressure, self.pressure_threshold),
                id,
                &delivered,
                false,
                packet_id,
            );
            if persistent {
                let message_id = record_body(
                    &mut self.store_ops,
                    &mut self.next_message_id,
                    &mut self.current_message_id,
                    message,
                );
                let client_id = session.client_id.to_string();
                self.store_ops.push(StoreOp::SessionMessageAdd {
                    client_id: client_id.clone(),
                    seq,
                    message_id,
                    qos,
                    retain,
                });
                self.store_ops.push(StoreOp::SessionMessageSent {
                    client_id,
                    seq,
                    packet_id,
                });
            }
            session.push_inflight(Inflight {
                seq,
                packet_id,
                message: delivered,
                state: InflightState::AwaitingAck,
            });
            self.stats.messages_sent += 1;
            return;
        }
        let place = queue_place(self.persistent, session);
        match session.enqueue(
            delivered,
            self.config.max_queued_messages,
            self.config.max_queued_bytes,
            place,
        ) {
            Ok(seq) => {
                if persistent {
                    let message_id = record_body(
                        &mut self.store_ops,
                        &mut self.next_message_id,
                        &mut self.current_message_id,
                        message,
                    );
                    self.store_ops.push(StoreOp::SessionMessageAdd {
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
        let Some(session) = self.sessions.get_mut(key.0 as usize) else {
            return;
        };
        let Some(id) = session.conn else {
            return;
        };
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        let window = usize::from(self.config.max_inflight);
        let check_acl = self.hooks.has_acl();
        while session.inflight.len() < window
            && conn.pending_output() < self.config.max_pending_output
        {
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
                if self.persistent && !session.clean {
                    self.store_ops.push(StoreOp::SessionMessageDelete {
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
            write_publish(
                conn,
                &mut self.buffer_pool,
                &mut self.dirty,
                (&mut self.output_pressure, self.pressure_threshold),
                id,
                &message,
                false,
                packet_id,
            );
            self.stats.messages_sent += 1;
            if self.persistent && !session.clean {
                self.store_ops.push(StoreOp::SessionMessageSent {
                    client_id: session.client_id.to_string(),
                    seq: queued.seq,
                    packet_id,
                });
            }
            session.push_inflight(Inflight {
                seq: queued.seq,
                packet_id,
                message,
                state: InflightState::AwaitingAck,
            });
        }
    }

    /// Appends bytes to a connection's output through `encode`.
    pub(super) fn write_to(&mut self, id: ConnId, encode: impl FnOnce(&mut Vec<u8>)) {
        let Some(conn) = self.conns.get_mut(id.0) else {
            return;
        };
        conn.output.take_pooled_buffer(&mut self.buffer_pool);
        encode(conn.output.bytes_mut());
        if !conn.in_dirty_list {
            conn.in_dirty_list = true;
            self.dirty.push(id);
        }
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
        peer: conn.peer,
    };
    hooks.authorize_client(&client, AclAccess::Receive, topic)
}

/// Encodes a PUBLISH of `message` (with its own QoS and retain flag) into
/// the connection's output, lists the connection as dirty, and raises the
/// output-pressure flag when its unwritten bytes reach `threshold`.
#[allow(clippy::too_many_arguments)]
fn write_publish(
    conn: &mut Conn,
    pool: &mut BufferPool,
    dirty: &mut Vec<ConnId>,
    (pressure, threshold): (&mut bool, usize),
    id: ConnId,
    message: &Message,
    dup: bool,
    packet_id: u16,
) {
    conn.output.take_pooled_buffer(pool);
    conn.output.push_publish(message, dup, packet_id);
    if !conn.in_dirty_list {
        conn.in_dirty_list = true;
        dirty.push(id);
    }
    if conn.pending_output() >= threshold {
        *pressure = true;
    }
}

/// Records a message body for the store once per routed message, and gives
/// its store id.
fn record_body(
    ops: &mut Vec<StoreOp>,
    next_id: &mut u64,
    current: &mut Option<u64>,
    message: &Message,
) -> u64 {
    if let Some(id) = *current {
        return id;
    }
    let id = *next_id;
    *next_id += 1;
    *current = Some(id);
    ops.push(StoreOp::MessageStore {
        id,
        message: message.clone(),
    });
    id
}
