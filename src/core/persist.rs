//! The core's side of persistence: recording [`StoreOp`]s as state changes,
//! and rebuilding state from a [`Snapshot`] at start.
//!
//! Only persistent sessions (clean session 0) and retained messages are
//! recorded, and only when the core was told it is persistent; an
//! in-memory broker pays nothing here.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::connect_options::{granted_session_expiry, SESSION_NEVER_EXPIRES};
use super::router::Grant;
use super::session::{Inflight, InflightState, Queued, Session};
use super::timers::Timer;
use super::{Core, Message, SessionKey};
use crate::codec::PacketId;
use crate::store::{Snapshot, StoreOp, StoredState};

impl Core {
    /// Rebuilds sessions, their queues and subscriptions, and retained
    /// messages from a snapshot. Call once, before any connection, with the
    /// snapshot of a store loaded just now (its messages' expiry deadlines
    /// are in this core's clock). Every restored session is offline; it
    /// keeps its Session Expiry Interval (within `Config::session_expiry`),
    /// which counts from `now`.
    pub fn restore(&mut self, now: Instant, snapshot: Snapshot) {
        self.store
            .continue_message_ids_from(snapshot.next_message_id);
        for message in snapshot.retained {
            let topic = message.topic().to_string();
            self.router.set_retained(&topic, message);
        }
        for mut stored in snapshot.sessions {
            let client_id: Arc<str> = Arc::from(stored.client_id.as_str());
            let mut session = Session::new(Arc::clone(&client_id), false, super::ConnId(0));
            session.conn = None;
            session.username = stored.username.as_deref().map(Arc::from);
            let key = self.sessions.next_key();
            let subscriptions = std::mem::take(&mut stored.subscriptions);
            let mut last_seq = stored.last_seq;
            for message in stored.messages {
                last_seq = last_seq.max(message.seq);
                match message.state {
                    StoredState::Queued => {
                        session.queued_bytes += message.message.size();
                        session.queue.push_back(Queued {
                            seq: message.seq,
                            message: message.message,
                        });
                    }
                    StoredState::Sent(packet_id) => session.push_inflight(Inflight {
                        seq: message.seq,
                        packet_id,
                        message: message.message,
                        state: InflightState::AwaitingAck,
                    }),
                    StoredState::Released(packet_id) => session.push_inflight(Inflight {
                        seq: message.seq,
                        packet_id,
                        message: message.message,
                        state: InflightState::AwaitingComp,
                    }),
                }
            }
            // The rest of the queue stays in the store until the client is
            // back (see `paging`).
            session.stored_only.messages = stored.queued_in_store.messages;
            session.stored_only.bytes = stored.queued_in_store.bytes;
            session.next_seq = last_seq + 1;
            session.inbound_qos2 = stored.inbound_qos2.into();
            session.expiry_interval = granted_session_expiry(&self.config, stored.expiry_interval);
            if session.expiry_interval != SESSION_NEVER_EXPIRES {
                let at = now + Duration::from_secs(u64::from(session.expiry_interval));
                session.expires_at = Some(at);
                self.timers
                    .push(at, Timer::SessionExpiry(key, session.generation));
            }
            let inserted = self.sessions.insert(session);
            debug_assert_eq!(inserted, key);
            for subscription in &subscriptions {
                let filter = subscription.filter.as_str();
                if crate::topic::is_valid_topic_filter(filter) {
                    let grant = Grant::new(subscription.options, subscription.identifier);
                    self.add_subscription(key, filter, grant);
                }
            }
        }
    }

    /// Sets or clears the retained message of a topic, recording it.
    pub(super) fn update_retained(&mut self, message: &Message) {
        let topic = message.topic();
        if message.payload().is_empty() {
            let removed = self.router.remove_retained(topic);
            if removed && self.persists_retained(topic) {
                self.store.push(StoreOp::RetainDelete {
                    topic: topic.to_string(),
                });
            }
        } else {
            self.router.set_retained(topic, message.clone());
            if self.persists_retained(topic) {
                self.store.push(StoreOp::RetainSet {
                    message: message.clone(),
                });
            }
        }
    }

    /// Clears the retained message of `topic` (one whose expiry passed, or
    /// one the host deletes), recording it. Returns whether there was one.
    pub(super) fn clear_retained(&mut self, topic: &str) -> bool {
        let removed = self.router.remove_retained(topic);
        if removed && self.persists_retained(topic) {
            self.store.push(StoreOp::RetainDelete {
                topic: topic.to_string(),
            });
        }
        removed
    }

    /// `$SYS` topics are rebuilt every interval: not worth a disk write.
    fn persists_retained(&self, topic: &str) -> bool {
        self.store.enabled() && !topic.starts_with("$SYS/")
    }

    /// Records a store operation about a session if it is persistent.
    pub(super) fn record_session_op(
        &mut self,
        key: SessionKey,
        op: impl FnOnce(Arc<str>) -> StoreOp,
    ) {
        if !self.store.enabled() {
            return;
        }
        if let Some(session) = self.sessions.get(key) {
            if !session.clean {
                let op = op(Arc::clone(&session.client_id));
                self.store.push(op);
            }
        }
    }

    /// Records the Session Expiry Interval of a session.
    pub(super) fn record_session_expiry(&mut self, key: SessionKey) {
        let Some(interval) = self.sessions.get(key).map(|s| s.expiry_interval) else {
            return;
        };
        self.record_session_op(key, |client_id| StoreOp::SessionExpiry {
            client_id,
            interval,
        });
    }

    /// Records the user name now connected to a session.
    pub(super) fn record_session_user(&mut self, key: SessionKey, username: Option<&str>) {
        self.record_session_op(key, |client_id| StoreOp::SessionUser {
            client_id,
            username: username.map(str::to_string),
        });
    }

    /// Records that an outbound message left the in-flight window.
    pub(super) fn record_acknowledged(&mut self, key: SessionKey, seq: u64) {
        self.record_session_op(key, |client_id| StoreOp::SessionMessageDelete {
            client_id,
            seq,
        });
    }

    /// Records a QoS 2 message moving to the PUBREL stage.
    pub(super) fn record_released(&mut self, key: SessionKey, seq: u64) {
        self.record_session_op(key, |client_id| StoreOp::SessionMessageReleased {
            client_id,
            seq,
        });
    }

    /// Records an inbound QoS 2 packet id awaiting PUBREL (or released).
    pub(super) fn record_inbound_qos2(&mut self, key: SessionKey, packet_id: PacketId, add: bool) {
        self.record_session_op(key, |client_id| {
            if add {
                StoreOp::InboundQos2Add {
                    client_id,
                    packet_id,
                }
            } else {
                StoreOp::InboundQos2Remove {
                    client_id,
                    packet_id,
                }
            }
        });
    }
}
