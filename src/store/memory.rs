//! A [`SessionStore`] in memory: what the SQLite store keeps, kept in maps.
//!
//! Nothing survives the process, so it does not make a broker durable; it
//! is the store a host hands to [`crate::Broker::with_store`] when it
//! restarts a broker inside the same process and wants sessions and queues
//! to carry over, the reference the SQLite store is tested against, and the
//! example of the trait for a host writing its own (flash, a key-value
//! store). It follows the same rules as the SQLite store: operations on a
//! session that does not exist are ignored, a body is kept while some
//! queued or sent entry refers to it (an entry added for a body not stored
//! is ignored), and a session created again starts empty.
//!
//! Message expiry deadlines are kept as [`Instant`]s: each `load` (one per
//! broker started on the store) takes the moment it is called as the zero
//! of the broker's clock, so a deadline keeps counting across a broker
//! restart in the same process (see [`crate::store`]).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::{Duration, Instant};

use super::{
    QueuedInStore, SessionStore, Snapshot, StoreOp, StoredMessage, StoredSession, StoredState,
    StoredSubscription,
};
use crate::codec::{QoS, SubscriptionOptions};
use crate::message::Message;
use crate::Error;

/// One queue entry of a stored session.
#[derive(Clone, Debug)]
struct Entry {
    message_id: u64,
    qos: QoS,
    retain: bool,
    state: StoredState,
}

impl Entry {
    /// Whether it keeps its body alive (a released QoS 2 message no longer
    /// needs it).
    fn holds_body(&self) -> bool {
        !matches!(self.state, StoredState::Released(_))
    }
}

/// A stored message: the body as given (its expiry deadline in the clock
/// of the broker that gave it) and that deadline as an instant.
#[derive(Clone, Debug)]
struct Body {
    message: Message,
    /// `None`: the message does not expire.
    expires_at: Option<Instant>,
}

#[derive(Clone, Debug, Default)]
struct MemorySession {
    username: Option<String>,
    /// `None`: never recorded (for ever).
    expiry_interval: Option<u32>,
    /// Filter → (options, identifier).
    subscriptions: BTreeMap<String, (SubscriptionOptions, u32)>,
    /// By `seq`.
    queue: BTreeMap<u64, Entry>,
    inbound_qos2: BTreeSet<u16>,
}

/// Persistent sessions, queues and retained messages in memory.
#[derive(Clone, Debug)]
pub struct MemoryStore {
    sessions: BTreeMap<String, MemorySession>,
    bodies: HashMap<u64, Body>,
    /// How many entries hold each body.
    body_refs: HashMap<u64, usize>,
    retained: BTreeMap<String, Body>,
    next_message_id: u64,
    /// When the broker's clock read 0.
    clock_zero: Instant,
}

impl Default for MemoryStore {
    fn default() -> Self {
        MemoryStore::new()
    }
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> MemoryStore {
        MemoryStore {
            sessions: BTreeMap::new(),
            bodies: HashMap::new(),
            body_refs: HashMap::new(),
            retained: BTreeMap::new(),
            next_message_id: 1,
            clock_zero: crate::clock::zero(),
        }
    }

    /// Sets the moment the broker's clock reads 0 (the process's
    /// otherwise), for tests with a simulated clock.
    #[cfg(test)]
    pub(crate) fn set_clock_zero(&mut self, zero: Instant) {
        self.clock_zero = zero;
    }

    /// `message` as kept: its deadline made an instant.
    fn body(&self, message: &Message) -> Body {
        Body {
            message: message.clone(),
            expires_at: message
                .expires_at_ms()
                .and_then(|ms| self.clock_zero.checked_add(Duration::from_millis(ms))),
        }
    }

    /// A kept message with its deadline in the broker's clock of now
    /// (saturating at 0: already expired).
    fn restored(&self, body: &Body, qos: QoS, retain: bool) -> Message {
        let expires_at_ms = body.expires_at.map(|at| {
            let left = at.saturating_duration_since(self.clock_zero).as_millis();
            u64::try_from(left).unwrap_or(u64::MAX - 1)
        });
        body.message
            .with_flags(qos, retain)
            .with_expiry(expires_at_ms)
    }

    fn hold(&mut self, body: u64) {
        *self.body_refs.entry(body).or_insert(0) += 1;
    }

    fn release(&mut self, body: u64) {
        if let Some(count) = self.body_refs.get_mut(&body) {
            *count -= 1;
            if *count == 0 {
                self.body_refs.remove(&body);
                self.bodies.remove(&body);
            }
        }
    }

    /// Drops what a session holds (not the session itself).
    fn clear_session(&mut self, client_id: &str) {
        let Some(session) = self.sessions.get_mut(client_id) else {
            return;
        };
        let queue = std::mem::take(&mut session.queue);
        session.subscriptions.clear();
        session.inbound_qos2.clear();
        for entry in queue.values().filter(|entry| entry.holds_body()) {
            self.release(entry.message_id);
        }
    }

    fn apply_op(&mut self, op: &StoreOp) {
        match op {
            StoreOp::SessionCreate { client_id } => {
                self.clear_session(client_id);
                self.sessions
                    .entry(client_id.to_string())
                    .or_default()
                    .expiry_interval = None;
            }
            StoreOp::SessionExpiry {
                client_id,
                interval,
            } => {
                if let Some(session) = self.sessions.get_mut(&**client_id) {
                    session.expiry_interval = Some(*interval);
                }
            }
            StoreOp::SessionUser {
                client_id,
                username,
            } => {
                if let Some(session) = self.sessions.get_mut(&**client_id) {
                    session.username = username.clone();
                }
            }
            StoreOp::SessionDelete { client_id } => {
                self.clear_session(client_id);
                self.sessions.remove(&**client_id);
            }
            StoreOp::Subscribe {
                client_id,
                filter,
                options,
                identifier,
            } => {
                if let Some(session) = self.sessions.get_mut(&**client_id) {
                    session
                        .subscriptions
                        .insert(filter.clone(), (*options, *identifier));
                }
            }
            StoreOp::Unsubscribe { client_id, filter } => {
                if let Some(session) = self.sessions.get_mut(&**client_id) {
                    session.subscriptions.remove(filter);
                }
            }
            StoreOp::MessageStore { id, message } => {
                let body = self.body(message);
                self.bodies.insert(*id, body);
                self.next_message_id = self.next_message_id.max(id.saturating_add(1));
            }
            StoreOp::SessionMessageAdd {
                client_id,
                seq,
                message_id,
                qos,
                retain,
            } => {
                // An entry without its body is nothing to deliver: the
                // SQLite store drops it at load, and leaves it out of pages.
                if !self.bodies.contains_key(message_id) {
                    return;
                }
                let Some(session) = self.sessions.get_mut(&**client_id) else {
                    return;
                };
                let entry = Entry {
                    message_id: *message_id,
                    qos: *qos,
                    retain: *retain,
                    state: StoredState::Queued,
                };
                let replaced = session.queue.insert(*seq, entry);
                self.hold(*message_id);
                if let Some(old) = replaced.filter(Entry::holds_body) {
                    self.release(old.message_id);
                }
            }
            StoreOp::SessionMessageSent {
                client_id,
                seq,
                packet_id,
            } => {
                let entry = self
                    .sessions
                    .get_mut(&**client_id)
                    .and_then(|session| session.queue.get_mut(seq));
                if let Some(entry) = entry.filter(|entry| entry.holds_body()) {
                    entry.state = StoredState::Sent(*packet_id);
                }
            }
            StoreOp::SessionMessageReleased { client_id, seq } => {
                let entry = self
                    .sessions
                    .get_mut(&**client_id)
                    .and_then(|session| session.queue.get_mut(seq));
                let Some(entry) = entry.filter(|entry| entry.holds_body()) else {
                    return;
                };
                let packet_id = match entry.state {
                    StoredState::Sent(packet_id) => packet_id,
                    _ => 0,
                };
                entry.state = StoredState::Released(packet_id);
                let body = entry.message_id;
                self.release(body);
            }
            StoreOp::SessionMessageDelete { client_id, seq } => {
                let removed = self
                    .sessions
                    .get_mut(&**client_id)
                    .and_then(|session| session.queue.remove(seq));
                if let Some(entry) = removed.filter(Entry::holds_body) {
                    self.release(entry.message_id);
                }
            }
            StoreOp::InboundQos2Add {
                client_id,
                packet_id,
            } => {
                if let Some(session) = self.sessions.get_mut(&**client_id) {
                    session.inbound_qos2.insert(*packet_id);
                }
            }
            StoreOp::InboundQos2Remove {
                client_id,
                packet_id,
            } => {
                if let Some(session) = self.sessions.get_mut(&**client_id) {
                    session.inbound_qos2.remove(packet_id);
                }
            }
            StoreOp::RetainSet { message } => {
                let body = self.body(message);
                self.retained.insert(message.topic().to_string(), body);
            }
            StoreOp::RetainDelete { topic } => {
                self.retained.remove(topic);
            }
        }
    }

    /// The message of a queue entry, with its delivered QoS and retain flag
    /// (empty when its body is no longer needed).
    fn entry_message(&self, entry: &Entry) -> Message {
        let body = self
            .bodies
            .get(&entry.message_id)
            .filter(|_| entry.holds_body());
        match body {
            Some(body) => self.restored(body, entry.qos, entry.retain),
            None => Message::empty(entry.qos),
        }
    }
}

impl SessionStore for MemoryStore {
    /// Everything kept.
    fn load(&mut self) -> Result<Snapshot, Error> {
        Ok(self.snapshot())
    }

    fn apply(&mut self, ops: &[StoreOp]) -> Result<(), Error> {
        for op in ops {
            self.apply_op(op);
        }
        Ok(())
    }

    fn load_queued(
        &mut self,
        client_id: &str,
        after_seq: Option<u64>,
        max_messages: usize,
        max_bytes: usize,
    ) -> Result<Vec<StoredMessage>, Error> {
        let Some(session) = self.sessions.get(client_id) else {
            return Ok(Vec::new());
        };
        let from = after_seq.map_or(0, |seq| seq.saturating_add(1));
        let mut page = Vec::new();
        let mut bytes = 0;
        for (&seq, entry) in session.queue.range(from..) {
            if page.len() >= max_messages || (!page.is_empty() && bytes >= max_bytes) {
                break;
            }
            if entry.state != StoredState::Queued {
                continue;
            }
            let message = self.entry_message(entry);
            bytes += message.size();
            page.push(StoredMessage {
                seq,
                message_id: entry.message_id,
                message,
                state: StoredState::Queued,
            });
        }
        Ok(page)
    }
}

impl MemoryStore {
    /// What `load` gives, in the broker's clock of `clock_zero`.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut sessions = Vec::with_capacity(self.sessions.len());
        for (client_id, session) in &self.sessions {
            let mut queued = QueuedInStore::default();
            let mut messages = Vec::new();
            for (&seq, entry) in &session.queue {
                if entry.state == StoredState::Queued {
                    queued.messages += 1;
                    queued.bytes += self.entry_message(entry).size();
                } else {
                    messages.push(StoredMessage {
                        seq,
                        message_id: entry.message_id,
                        message: self.entry_message(entry),
                        state: entry.state,
                    });
                }
            }
            sessions.push(StoredSession {
                client_id: client_id.clone(),
                username: session.username.clone(),
                expiry_interval: session.expiry_interval.unwrap_or(u32::MAX),
                subscriptions: session
                    .subscriptions
                    .iter()
                    .map(|(filter, &(options, identifier))| StoredSubscription {
                        filter: filter.clone(),
                        options,
                        identifier,
                    })
                    .collect(),
                messages,
                queued_in_store: queued,
                last_seq: session.queue.keys().next_back().copied().unwrap_or(0),
                inbound_qos2: session.inbound_qos2.iter().copied().collect(),
            });
        }
        Snapshot {
            sessions,
            retained: self
                .retained
                .values()
                .map(|body| self.restored(body, body.message.qos(), true))
                .collect(),
            next_message_id: self.next_message_id,
        }
    }
}
