//! The core's outgoing stream of work for the store, and the watermark that
//! holds back output until the store has done it.
//!
//! Every state change of a persistent session or a retained message is
//! recorded as a [`StoreOp`]; reading a stored-only queue back is a
//! [`QueuePageRequest`]. The driver takes both with [`Core::poll_store`],
//! applies the operations durably in one transaction, reports it with
//! [`Core::handle_store_applied`], and then reads the pages and hands each
//! back with [`Core::handle_queue_page`].
//!
//! Bytes the core appends to a connection's output while some recorded
//! operation is not yet reported applied are *held*: [`Core::output_slices`]
//! does not offer them until [`Core::handle_store_applied`] has covered
//! every operation recorded before they were appended. So an
//! acknowledgement (PUBACK, PUBREC, CONNACK, SUBACK) can never be written
//! before the state it acknowledges is stored, whatever the driver's order;
//! the core records the operations of a change before it writes the bytes
//! that depend on them.

use super::connection::Conn;
use super::{ConnId, Core, QueuePageRequest};
use crate::message::Message;
use crate::store::StoreOp;

/// What the store has to do, in order: apply `ops` in one transaction,
/// then read `pages` (the reads must see `ops`). Filled by
/// [`Core::poll_store`]; reuse it from pass to pass.
#[derive(Debug, Default)]
pub struct StoreBatch {
    /// The operations to apply, atomically and durably.
    pub ops: Vec<StoreOp>,
    /// The queue pages to read once `ops` are applied.
    pub pages: Vec<QueuePageRequest>,
    /// How many operations the core had recorded in all, this batch
    /// included: the watermark [`Core::handle_store_applied`] moves to.
    through: u64,
}

impl StoreBatch {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty() && self.pages.is_empty()
    }
}

/// The operations and page requests recorded and not yet taken, and the
/// counts behind the watermark.
pub(super) struct StoreLog {
    /// Whether operations are recorded at all (a core without a store
    /// records none, and holds no output).
    enabled: bool,
    ops: Vec<StoreOp>,
    pages: Vec<QueuePageRequest>,
    /// Operations recorded since the core was made.
    recorded: u64,
    /// Operations the driver has reported applied.
    applied: u64,
    /// The store id the next message body gets.
    next_message_id: u64,
    /// The last page request token handed out.
    next_page_token: u64,
}

impl StoreLog {
    pub(super) fn new() -> StoreLog {
        StoreLog {
            enabled: false,
            ops: Vec::new(),
            pages: Vec::new(),
            recorded: 0,
            applied: 0,
            next_message_id: 1,
            next_page_token: 0,
        }
    }

    pub(super) fn enable(&mut self) {
        self.enabled = true;
    }

    /// Whether operations are recorded.
    pub(super) fn enabled(&self) -> bool {
        self.enabled
    }

    /// Records one operation.
    pub(super) fn push(&mut self, op: StoreOp) {
        self.ops.push(op);
        self.recorded += 1;
    }

    /// Operations recorded so far: output appended now is held until the
    /// store has applied this many.
    pub(super) fn recorded(&self) -> u64 {
        self.recorded
    }

    /// Operations the driver has reported applied.
    pub(super) fn applied(&self) -> u64 {
        self.applied
    }

    /// Whether some recorded operation is not yet applied.
    pub(super) fn outstanding(&self) -> bool {
        self.recorded > self.applied
    }

    /// Continues message ids after those of a loaded store.
    pub(super) fn continue_message_ids_from(&mut self, next: u64) {
        self.next_message_id = self.next_message_id.max(next);
    }

    /// The store id of `message`'s body, recording the body the first time
    /// it is needed for the message being routed (`body_id` is that
    /// message's slot, `None` until then).
    pub(super) fn body_id(&mut self, body_id: &mut Option<u64>, message: &Message) -> u64 {
        if let Some(id) = *body_id {
            return id;
        }
        let id = self.next_message_id;
        self.next_message_id += 1;
        *body_id = Some(id);
        self.push(StoreOp::MessageStore {
            id,
            message: message.clone(),
        });
        id
    }

    /// A token for a new page request.
    pub(super) fn next_page_token(&mut self) -> u64 {
        self.next_page_token += 1;
        self.next_page_token
    }

    /// Asks the driver for a page.
    pub(super) fn request_page(&mut self, request: QueuePageRequest) {
        self.pages.push(request);
    }
}

impl Core {
    /// Makes the core record store operations from now on.
    pub fn enable_persistence(&mut self) {
        self.store.enable();
    }

    /// Moves the store's work recorded since the last call into `batch`
    /// (emptied first). Returns whether there is any. The driver applies
    /// `batch.ops` durably, calls [`Core::handle_store_applied`], then
    /// reads each of `batch.pages` and hands it to
    /// [`Core::handle_queue_page`]; either may record more work, so it
    /// calls this again until it returns false.
    pub fn poll_store(&mut self, batch: &mut StoreBatch) -> bool {
        batch.ops.clear();
        batch.pages.clear();
        std::mem::swap(&mut batch.ops, &mut self.store.ops);
        std::mem::swap(&mut batch.pages, &mut self.store.pages);
        batch.through = self.store.recorded;
        !batch.is_empty()
    }

    /// Whether store work waits for [`Core::poll_store`].
    pub fn has_store_work(&self) -> bool {
        !self.store.ops.is_empty() || !self.store.pages.is_empty()
    }

    /// Reports that the operations of `batch` (and all before them) are
    /// applied: the output held for them may now be written (its
    /// connections show up in [`Core::poll_dirty`] again).
    pub fn handle_store_applied(&mut self, batch: &StoreBatch) {
        if batch.through <= self.store.applied {
            return;
        }
        self.store.applied = batch.through;
        let applied = self.store.applied;
        let outbox = &mut self.outbox;
        let conns = &mut self.conns;
        let mut held = std::mem::take(&mut outbox.held);
        held.retain(|&id| {
            let Some(conn) = conns.get_mut(id) else {
                return false;
            };
            if !conn.release_held(applied) {
                return true;
            }
            if conn.pending_output() > 0 {
                outbox.mark(id, conn);
            }
            false
        });
        outbox.held = held;
    }
}

/// Holds the bytes appended to `conn`'s output after its first `before`
/// bytes until the store has applied what `store` has recorded now, if any
/// of it is not applied yet; a connection newly held joins `held`.
pub(super) fn hold_appended(
    conn: &mut Conn,
    id: ConnId,
    before: usize,
    store: &StoreLog,
    held: &mut Vec<ConnId>,
) {
    if store.outstanding() && conn.hold(before, store.recorded()) {
        held.push(id);
    }
}
