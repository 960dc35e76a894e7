//! Where the core's output goes before the driver writes it: the list of
//! connections with fresh bytes, the connections held for the store, the
//! pool of output buffers, and the output-pressure flag.
//!
//! Appending to a connection's output goes through here, so that every
//! append is listed for the driver, raises the pressure flag when the
//! connection's unwritten bytes pass the threshold, and is held while the
//! store has not applied what it depends on (see `store_log`).

use super::buffer_pool::BufferPool;
use super::connection::Conn;
use super::output_queue::Wire;
use super::store_log::{hold_appended, StoreLog};
use super::ConnId;
use crate::message::Message;

/// The output side of the core.
pub(super) struct Outbox {
    /// Connections with output added since the last `take_dirty`.
    pub(super) dirty: Vec<ConnId>,
    /// Connections whose output is (or was) held for the store.
    pub(super) held: Vec<ConnId>,
    /// Reusable output buffers.
    pub(super) pool: BufferPool,
    /// Some connection's unwritten output passed `threshold`: the driver
    /// should write now rather than at the end of its pass, so a fast
    /// reader is not cut off by `max_pending_output` within one pass.
    pub(super) pressure: bool,
    pub(super) threshold: usize,
    /// Packets appended, for `Stats::packets_sent`: every packet goes
    /// through `append`, so it is counted here once.
    pub(super) packets: u64,
    /// Payload bytes of the PUBLISH packets appended
    /// (`Stats::publish_bytes_sent`).
    pub(super) publish_bytes: u64,
}

impl Outbox {
    pub(super) fn new(threshold: usize) -> Outbox {
        Outbox {
            dirty: Vec::new(),
            held: Vec::new(),
            pool: BufferPool::default(),
            pressure: false,
            threshold,
            packets: 0,
            publish_bytes: 0,
        }
    }

    /// Appends a PUBLISH of `message` (with its own QoS and retain flag)
    /// to `conn`'s output.
    #[inline(always)]
    pub(super) fn publish(
        &mut self,
        id: ConnId,
        conn: &mut Conn,
        store: &StoreLog,
        message: &Message,
        packet_id: u16,
        wire: Wire,
    ) {
        self.publish_bytes += message.payload().len() as u64;
        if conn.bridge.is_some() {
            self.publish_upstream(id, conn, store, message, packet_id, wire);
            return;
        }
        let wire = conn.with_alias(wire, message);
        self.append(id, conn, store, |output| {
            output.push_publish(message, false, packet_id, wire)
        });
    }

    /// [`Outbox::publish`] on a bridge's link: under the message's upstream
    /// topic.
    #[cold]
    #[inline(never)]
    fn publish_upstream(
        &mut self,
        id: ConnId,
        conn: &mut Conn,
        store: &StoreLog,
        message: &Message,
        packet_id: u16,
        wire: Wire,
    ) {
        let crossed = conn.crossing(message).into_owned();
        self.append(id, conn, store, |output| {
            output.push_publish(&crossed, false, packet_id, wire)
        });
    }

    /// Appends the bytes `encode` writes to `conn`'s output.
    #[inline]
    pub(super) fn encode(
        &mut self,
        id: ConnId,
        conn: &mut Conn,
        store: &StoreLog,
        encode: impl FnOnce(&mut Vec<u8>),
    ) {
        self.append(id, conn, store, |output| encode(output.bytes_mut()));
    }

    /// Appends `bytes` (a short packet encoded beforehand) to `conn`'s
    /// output.
    #[inline]
    pub(super) fn bytes(&mut self, id: ConnId, conn: &mut Conn, store: &StoreLog, bytes: &[u8]) {
        self.append(id, conn, store, |output| {
            output.bytes_mut().extend_from_slice(bytes)
        });
    }

    /// Appends one packet to `conn`'s output through `push`, then lists,
    /// holds and flags it as needed.
    #[inline(always)]
    pub(super) fn append(
        &mut self,
        id: ConnId,
        conn: &mut Conn,
        store: &StoreLog,
        push: impl FnOnce(&mut super::output_queue::OutputQueue),
    ) {
        // Only a core with store work outstanding holds output back.
        self.packets += 1;
        let before = store.outstanding().then(|| conn.pending_output());
        conn.output.take_pooled_buffer(&mut self.pool);
        push(&mut conn.output);
        if let Some(before) = before {
            hold_appended(conn, id, before, store, &mut self.held);
        }
        self.mark(id, conn);
        if conn.pending_output() >= self.threshold {
            self.pressure = true;
        }
    }

    /// Lists `conn` for the driver unless it is listed already.
    #[inline]
    pub(super) fn mark(&mut self, id: ConnId, conn: &mut Conn) {
        if !conn.in_dirty_list {
            conn.in_dirty_list = true;
            self.dirty.push(id);
        }
    }
}
