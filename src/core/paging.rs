//! Offline queues kept in the store, not in RAM.
//!
//! With a store, the queue of a persistent session is in RAM only while its
//! client is connected, and then only up to [`RAM_QUEUE_MESSAGES`] /
//! [`RAM_QUEUE_BYTES`]; the rest (and all of it while the client is away)
//! is only counted, since every queued message of a persistent session is
//! saved anyway. When the in-flight window has room and the in-RAM part is
//! empty, the core asks its driver for the next page with a
//! [`QueuePageRequest`]; the driver reads it from the store after saving
//! the pass's operations, and hands it back with [`Core::handle_queue_page`].
//! So memory does not grow with what offline clients pile up: a thousand
//! sessions with a thousand queued messages each cost a few counters.

use super::session::{QueuePlace, Session};
use super::{Core, SessionKey};
use crate::store::StoredMessage;

/// Most queued messages a connected persistent session keeps in RAM, and
/// the size of a page read back from the store.
pub const RAM_QUEUE_MESSAGES: usize = 256;
/// Most queued bytes (topic plus payload) a connected persistent session
/// keeps in RAM, and about the size of a page (a page always has at least
/// one message).
pub const RAM_QUEUE_BYTES: usize = 1024 * 1024;

/// A request for the next queued messages of a session, read from the store
/// (see [`crate::store::SessionStore::load_queued`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QueuePageRequest {
    /// The session's client identifier.
    pub client_id: String,
    /// Messages with a `seq` above this one are wanted (all for `None`).
    pub after_seq: Option<u64>,
    /// At most this many.
    pub max_messages: usize,
    /// About this many bytes at most (at least one message).
    pub max_bytes: usize,
    key: SessionKey,
    token: u64,
}

/// Where a message queued for `session` may live, in a core that records
/// store operations when `persistent`.
pub(super) fn queue_place(persistent: bool, session: &Session) -> QueuePlace {
    if !persistent || session.clean {
        QueuePlace::Ram
    } else if session.conn.is_none() {
        QueuePlace::RamUpTo(0, 0)
    } else {
        QueuePlace::RamUpTo(RAM_QUEUE_MESSAGES, RAM_QUEUE_BYTES)
    }
}

impl Core {
    /// Hands over the page read for `request` (from
    /// [`Core::poll_store`]): its messages join the session's in-RAM queue
    /// and the window is refilled. A page for a session that has since gone
    /// offline, been replaced or removed is ignored (the messages are still
    /// in the store).
    pub fn handle_queue_page(&mut self, request: &QueuePageRequest, page: Vec<StoredMessage>) {
        let Some(session) = self.sessions.get_mut(request.key) else {
            return;
        };
        if session.page_token != Some(request.token) || *session.client_id != *request.client_id {
            return;
        }
        session.page_token = None;
        if page.is_empty() {
            // The store has none of what the session counted: nothing can be
            // delivered, and asking again would loop.
            log::warn!(
                "client {}: {} queued messages expected in the store, none found",
                session.client_id,
                session.stored_only.messages
            );
            session.stored_only = Default::default();
            return;
        }
        session.take_page(page);
        self.refill(request.key);
    }

    /// Asks for the next page of a session's stored-only queue, unless one
    /// is already asked for.
    pub(super) fn request_page(&mut self, key: SessionKey) {
        let Some(session) = self.sessions.get_mut(key) else {
            return;
        };
        if session.stored_only.messages == 0 || session.page_token.is_some() {
            return;
        }
        let token = self.store.next_page_token();
        session.page_token = Some(token);
        self.store.request_page(QueuePageRequest {
            client_id: session.client_id.to_string(),
            after_seq: session.last_seq_in_ram(),
            max_messages: RAM_QUEUE_MESSAGES,
            max_bytes: RAM_QUEUE_BYTES,
            key,
            token,
        });
    }
}
