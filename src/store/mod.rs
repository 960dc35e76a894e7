//! Persistence of sessions, queued messages and retained messages.
//!
//! The core never touches a file: while it runs it emits [`StoreOp`]s, and
//! the reactor hands all the operations of one pass to
//! [`SessionStore::apply`] (or those of several passes to
//! [`SessionStore::apply_all`]) in one transaction, on the store's own
//! thread, and holds back every byte written after them until the store
//! reports them applied. So no PUBACK / PUBREC leaves before what it
//! acknowledges is on disk. At start, [`SessionStore::load`] gives the [`Snapshot`] the core
//! is rebuilt from.
//!
//! Only persistent sessions (clean session 0, or an MQTT 5 Session Expiry
//! Interval above 0) and retained messages are stored; clean sessions live
//! and die in memory.
//!
//! # The broker's clock
//!
//! A message's expiry ([`Message::expires_at_ms`]) is a deadline in
//! milliseconds of the *broker's clock*, whose zero is one moment of the
//! process ([`clock_zero`]), and so a different one in every process. A
//! store keeps each deadline as an absolute time (the zero plus what
//! [`SessionStore::apply`] was given), and [`SessionStore::load`] and
//! [`SessionStore::load_queued`] give it back relative to the zero of the
//! process that loads it, saturating at 0. A message whose deadline passed
//! while the broker was down thus comes back already expired, and the
//! broker drops it instead of sending it.

mod memory;

/// When the broker's clock read 0, by the system clock: what a store adds
/// to an expiry deadline to keep it as an absolute time, and subtracts to
/// give it back.
pub fn clock_zero() -> std::time::SystemTime {
    crate::clock::zero_system_time()
}

#[cfg(feature = "sqlite")]
mod sqlite;
#[cfg(test)]
mod tests;

use std::sync::Arc;

use crate::codec::{PacketId, QoS, SubscriptionOptions};
use crate::message::Message;

pub use memory::MemoryStore;
#[cfg(feature = "sqlite")]
pub use sqlite::SqliteStore;

/// One change to persistent state, in the order the core made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreOp {
    /// A persistent session was created (or reset by a clean-session-0
    /// CONNECT after a clean-session-1 one): any stored state of this client
    /// id is replaced by an empty session, whose expiry interval is "for
    /// ever" until a [`StoreOp::SessionExpiry`] says otherwise.
    SessionCreate {
        /// The client identifier.
        client_id: Arc<str>,
    },
    /// The user name of the client last connected to a session (`None`:
    /// it gave none). Kept so that messages routed to the session while
    /// its client is away, even across a restart, are checked against the
    /// ACL for that user.
    SessionUser {
        /// The client identifier.
        client_id: Arc<str>,
        /// The user name, if any.
        username: Option<String>,
    },
    /// The Session Expiry Interval of a persistent session: recorded when
    /// the session is created or resumed with a new one, and when the
    /// client's DISCONNECT changes it. A restored session gets it back
    /// (within `Config::session_expiry`), counting from the restart.
    SessionExpiry {
        /// The client identifier.
        client_id: Arc<str>,
        /// Seconds the session outlives its connection; `u32::MAX`: for
        /// ever.
        interval: u32,
    },
    /// A session and everything it holds is gone.
    SessionDelete {
        /// The client identifier.
        client_id: Arc<str>,
    },
    /// A subscription was added or replaced (its QoS, options or
    /// identifier changed).
    Subscribe {
        /// The client identifier.
        client_id: Arc<str>,
        /// The topic filter (`$share/{group}/{filter}` for a shared one).
        filter: String,
        /// The options as granted: `options.qos` is the granted QoS; a
        /// 3.1.1 subscription has every MQTT 5 option off.
        options: SubscriptionOptions,
        /// The Subscription Identifier, 0 for none.
        identifier: u32,
    },
    /// A subscription was removed.
    Unsubscribe {
        /// The client identifier.
        client_id: Arc<str>,
        /// The topic filter.
        filter: String,
    },
    /// A message body, stored once however many sessions hold it. `id` is
    /// unique for the life of the store (the core continues from
    /// [`Snapshot::next_message_id`]).
    MessageStore {
        /// The message's store id.
        id: u64,
        /// Topic, properties, payload, the QoS / retain flag as published,
        /// and the expiry deadline (in the broker's clock: see the module
        /// documentation), all of which the store keeps.
        message: Message,
    },
    /// A message was added to a session's outbound queue at position `seq`
    /// (increasing per session: the delivery order).
    SessionMessageAdd {
        /// The client identifier.
        client_id: Arc<str>,
        /// Position in the session's outbound order.
        seq: u64,
        /// The stored body (see [`StoreOp::MessageStore`]).
        message_id: u64,
        /// Delivered QoS (1 or 2).
        qos: QoS,
        /// Delivered retain flag.
        retain: bool,
    },
    /// The message at `seq` was sent with `packet_id` and awaits PUBACK /
    /// PUBREC.
    SessionMessageSent {
        /// The client identifier.
        client_id: Arc<str>,
        /// The message's position.
        seq: u64,
        /// Its packet id.
        packet_id: PacketId,
    },
    /// The QoS 2 message at `seq` got PUBREC; PUBREL was sent, PUBCOMP is
    /// awaited. Its body is no longer needed.
    SessionMessageReleased {
        /// The client identifier.
        client_id: Arc<str>,
        /// The message's position.
        seq: u64,
    },
    /// The message at `seq` was acknowledged (PUBACK / PUBCOMP) or dropped.
    /// A body no session refers to any more may be deleted.
    SessionMessageDelete {
        /// The client identifier.
        client_id: Arc<str>,
        /// The message's position.
        seq: u64,
    },
    /// An inbound QoS 2 packet id now awaits PUBREL.
    InboundQos2Add {
        /// The client identifier.
        client_id: Arc<str>,
        /// The publisher's packet id.
        packet_id: PacketId,
    },
    /// An inbound QoS 2 packet id was released by PUBREL.
    InboundQos2Remove {
        /// The client identifier.
        client_id: Arc<str>,
        /// The publisher's packet id.
        packet_id: PacketId,
    },
    /// The retained message of a topic was set (replacing any other).
    RetainSet {
        /// The message; its topic is the key. Its properties and expiry are
        /// kept as for [`StoreOp::MessageStore`].
        message: Message,
    },
    /// The retained message of a topic was cleared.
    RetainDelete {
        /// The topic.
        topic: String,
    },
}

/// The packet id of `next` when `op` is a [`StoreOp::SessionMessageAdd`]
/// and `next` the [`StoreOp::SessionMessageSent`] of the same entry: a
/// message sent as soon as it was queued, the common case, which stores
/// write as one.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
pub(crate) fn sent_right_after(op: &StoreOp, next: Option<&StoreOp>) -> Option<PacketId> {
    match (op, next) {
        (
            StoreOp::SessionMessageAdd { client_id, seq, .. },
            Some(StoreOp::SessionMessageSent {
                client_id: sent_client,
                seq: sent_seq,
                packet_id,
            }),
        ) if client_id == sent_client && seq == sent_seq => Some(*packet_id),
        _ => None,
    }
}

/// Where a stored outbound message is in its flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StoredState {
    /// Not sent yet (queued).
    Queued,
    /// Sent with this packet id, awaiting PUBACK / PUBREC.
    Sent(PacketId),
    /// QoS 2, PUBREL sent with this packet id, awaiting PUBCOMP.
    Released(PacketId),
}

/// One outbound message of a stored session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredMessage {
    /// Position in the session's order.
    pub seq: u64,
    /// Store id of the body.
    pub message_id: u64,
    /// The message with its delivered QoS and retain flag, its properties,
    /// and its expiry in the broker's clock of the run that loads it. For
    /// [`StoredState::Released`] the body may be empty.
    pub message: Message,
    /// Where it is in its flow.
    pub state: StoredState,
}

/// The queued messages of a stored session that [`SessionStore::load`]
/// left in the store, to be read a page at a time with
/// [`SessionStore::load_queued`]. They follow every message of
/// [`StoredSession::messages`] in `seq` order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct QueuedInStore {
    /// How many messages.
    pub messages: usize,
    /// Their topic, property and payload bytes ([`Message::size`]).
    pub bytes: usize,
}

/// One subscription of a stored session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSubscription {
    /// The topic filter (`$share/{group}/{filter}` for a shared one).
    pub filter: String,
    /// The options as granted (`options.qos` is the granted QoS). A
    /// subscription stored before the store kept options has only its QoS.
    pub options: SubscriptionOptions,
    /// The Subscription Identifier, 0 for none.
    pub identifier: u32,
}

impl StoredSubscription {
    /// A subscription of `filter` at `qos` with no MQTT 5 option.
    pub fn qos_only(filter: impl Into<String>, qos: QoS) -> StoredSubscription {
        StoredSubscription {
            filter: filter.into(),
            options: SubscriptionOptions::new(qos),
            identifier: 0,
        }
    }
}

/// One stored persistent session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredSession {
    /// The client identifier.
    pub client_id: String,
    /// The user name of the client last connected to it, if any.
    pub username: Option<String>,
    /// Its Session Expiry Interval in seconds ([`StoreOp::SessionExpiry`]);
    /// `u32::MAX` (for ever) for a session stored without one, such as one
    /// written before the store kept it.
    pub expiry_interval: u32,
    /// Its subscriptions, by filter.
    pub subscriptions: Vec<StoredSubscription>,
    /// The outbound messages loaded with the session, in `seq` order: the
    /// in-flight ones (sent or released), and any queued ones the store
    /// chose to load eagerly.
    pub messages: Vec<StoredMessage>,
    /// The queued messages not in `messages`.
    pub queued_in_store: QueuedInStore,
    /// The highest `seq` of any stored message of the session (0 if none):
    /// the session continues after it.
    pub last_seq: u64,
    /// Inbound QoS 2 packet ids awaiting PUBREL.
    pub inbound_qos2: Vec<PacketId>,
}

/// Everything a store holds, as loaded at start.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Snapshot {
    /// The persistent sessions.
    pub sessions: Vec<StoredSession>,
    /// The retained messages.
    pub retained: Vec<Message>,
    /// The next unused message store id.
    pub next_message_id: u64,
}

/// A place to keep persistent state.
///
/// The broker calls [`SessionStore::load`] on the thread that makes it,
/// then every other method from a thread of its own (`mqlite-store`), one
/// call at a time, never from a hook or callback: hence `Send`.
///
/// A store keeps everything the ops carry: messages with their MQTT 5
/// properties and expiry, sessions with their user name and expiry
/// interval, subscriptions with their options and identifier. Message
/// expiry deadlines are in the broker's clock, whose zero is different in
/// every process: see the module documentation for how a store carries
/// them across a restart.
pub trait SessionStore {
    /// Reads everything stored. The broker calls it once, right after
    /// making its core; expiry deadlines come back in the broker's clock
    /// (see the module documentation).
    ///
    /// # Errors
    /// When the store cannot be read; the message names the file.
    fn load(&mut self) -> Result<Snapshot, crate::Error>;

    /// Applies `ops` in order, atomically and durably: when this returns
    /// `Ok`, all of them survive a crash or power cut; when it fails, none
    /// of them were applied.
    ///
    /// # Errors
    /// When the store cannot be written (disk full, I/O error).
    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), crate::Error>;

    /// Applies several batches, in order, as if they were one: when this
    /// returns `Ok`, all of them survive a crash or power cut. The broker
    /// calls it with the batches that queued up while the store was busy,
    /// so that one commit (one fsync) covers them all; nothing of them has
    /// been acknowledged yet. This default applies them one by one: on
    /// failure, the batches before the failing one may have been applied.
    ///
    /// # Errors
    /// As [`SessionStore::apply`].
    fn apply_all(&mut self, batches: &[&[StoreOp]]) -> Result<(), crate::Error> {
        for ops in batches {
            self.apply(ops)?;
        }
        Ok(())
    }

    /// Housekeeping that may wait while batches are being acknowledged
    /// (folding a log, checkpointing a journal). The broker calls it on the
    /// store's thread after each commit, once the output that commit held
    /// back is on its way; by default it does nothing.
    ///
    /// # Errors
    /// When the store cannot be written.
    fn maintain(&mut self) -> Result<(), crate::Error> {
        Ok(())
    }

    /// Reads the queued (not yet sent) messages of `client_id` whose `seq`
    /// is above `after_seq` (all of them for `None`), in `seq` order: at most `max_messages`, and
    /// no more once their sizes add up to `max_bytes` (but always at least
    /// one if there is one). Every operation applied so far is visible.
    ///
    /// # Errors
    /// When the store cannot be read; the message names the file.
    fn load_queued(
        &mut self,
        client_id: &str,
        after_seq: Option<u64>,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredMessage>, crate::Error>;
}

/// A store the host shares with the broker (and with the next broker it
/// starts in the same process): the broker locks it for each call.
impl<S: SessionStore + ?Sized> SessionStore for std::sync::Arc<std::sync::Mutex<S>> {
    fn load(&mut self) -> Result<Snapshot, crate::Error> {
        lock_shared(self)?.load()
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), crate::Error> {
        lock_shared(self)?.apply(ops)
    }

    fn apply_all(&mut self, batches: &[&[StoreOp]]) -> Result<(), crate::Error> {
        lock_shared(self)?.apply_all(batches)
    }

    fn maintain(&mut self) -> Result<(), crate::Error> {
        lock_shared(self)?.maintain()
    }

    fn load_queued(
        &mut self,
        client_id: &str,
        after_seq: Option<u64>,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredMessage>, crate::Error> {
        lock_shared(self)?.load_queued(client_id, after_seq, max_messages, max_bytes)
    }
}

/// Locks a shared store; a lock poisoned by a panic elsewhere is refused,
/// since what that panic left half done cannot be trusted.
fn lock_shared<S: ?Sized>(
    shared: &std::sync::Mutex<S>,
) -> Result<std::sync::MutexGuard<'_, S>, crate::Error> {
    shared.lock().map_err(|_| crate::Error::Store {
        path: "(shared store)".to_string(),
        reason: "a thread panicked while holding it".to_string(),
    })
}
