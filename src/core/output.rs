//! What the driver collects after the inputs of a pass: each connection's
//! output bytes and how much of it went out, the dirty and closing lists,
//! and the output buffers recycled between connections.

use std::borrow::Cow;
use std::io::IoSlice;
use std::time::Instant;

use super::connection::ConnState;
use super::timers::Timer;
use super::{ConnId, Core};

impl Core {
    /// Whether some connection's output grew past half of
    /// `max_pending_output` since the last call: the driver should flush
    /// before reading more (clears the flag).
    pub fn poll_output_pressure(&mut self) -> bool {
        std::mem::take(&mut self.outbox.pressure)
    }

    /// Moves the connections with fresh output into `into` (cleared first).
    pub fn poll_dirty(&mut self, into: &mut Vec<ConnId>) {
        into.clear();
        std::mem::swap(into, &mut self.outbox.dirty);
        for &id in into.iter() {
            if let Some(conn) = self.conns.get_mut(id) {
                conn.in_dirty_list = false;
            }
        }
    }

    /// Puts a connection back in the dirty list (the reactor does this when
    /// its socket becomes writable again and output is pending).
    pub fn mark_dirty(&mut self, id: ConnId) {
        if let Some(conn) = self.conns.get_mut(id) {
            if conn.writable_output(self.store.applied()) > 0 {
                self.outbox.mark(id, conn);
            }
        }
    }

    /// The bytes that may be written to `id` now, in one slice: copied
    /// together when large payloads are spliced in (see
    /// [`Core::output_slices`], which the driver writes from). Bytes held
    /// for the store are not included.
    pub fn output(&self, id: ConnId) -> Cow<'_, [u8]> {
        match self.conns.get(id) {
            Some(conn) => conn
                .output
                .contiguous(conn.writable_output(self.store.applied())),
            None => Cow::Borrowed(&[]),
        }
    }

    /// Fills `into` with the bytes that may be written to `id` now, in
    /// order, as far as it has room (large payloads are slices of their
    /// message, not copies): one `writev`. Returns how many slices it
    /// filled. Bytes held until the store has applied what they
    /// acknowledge are not offered (see [`Core::poll_store`]).
    pub fn output_slices<'a>(&'a self, id: ConnId, into: &mut [IoSlice<'a>]) -> usize {
        match self.conns.get(id) {
            Some(conn) => conn
                .output
                .slices(into, conn.writable_output(self.store.applied())),
            None => 0,
        }
    }

    /// Reports that `written` bytes of [`Core::output`] went out. When the
    /// output empties, queued messages may be encoded (the connection then
    /// shows up in the dirty list again).
    pub fn handle_written(&mut self, now: Instant, id: ConnId, written: usize) {
        self.tick(now);
        let _ = now;
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        self.stats.bytes_sent += written as u64;
        conn.consumed(written);
        if let Some(buffer) = conn.output.consume(written) {
            let session = conn.session();
            self.outbox.pool.give(buffer);
            if let Some(key) = session {
                self.refill(key);
            }
        }
    }

    /// Moves the connections the core has closed into `into` (cleared
    /// first). For each: write what [`Core::output`] still holds if the
    /// socket allows, drop the socket, then call [`Core::handle_released`].
    pub fn poll_closing(&mut self, into: &mut Vec<ConnId>) {
        into.clear();
        std::mem::swap(into, &mut self.conns.closing);
    }

    /// Frees a closed connection's slot. Ignored unless the core closed it.
    pub fn handle_released(&mut self, id: ConnId) {
        if matches!(self.conns.get(id), Some(conn) if conn.state == ConnState::Closing) {
            let Some(mut conn) = self.conns.remove(id) else {
                return;
            };
            self.outbox.pool.give(conn.output.take_buffer());
            self.prune_timers();
        }
    }

    /// Drops timers whose connection or session is gone once they outnumber
    /// the live ones by far: under connection churn, each closed connection
    /// would otherwise leave its keepalive timer for up to 1.5 × keepalive.
    /// The O(n) sweep runs only after the heap has doubled, so its cost per
    /// connection stays constant.
    fn prune_timers(&mut self) {
        let live_bound = 2 * (self.conns.len() + self.sessions.len()) + 1024;
        if self.timers.len() <= live_bound {
            return;
        }
        let (conns, sessions) = (&self.conns, &self.sessions);
        self.timers.retain(|timer| match *timer {
            Timer::ConnectTimeout(id, generation) => matches!(conns.get(id),
                Some(c) if c.generation == generation && c.state.awaits_connection()),
            Timer::BridgePing(id, generation) | Timer::BridgeIdle(id, generation) => {
                matches!(conns.get(id),
                Some(c) if c.generation == generation && c.state != ConnState::Closing)
            }
            Timer::Keepalive(id, generation) => matches!(conns.get(id),
                Some(c) if c.generation == generation && c.state != ConnState::Closing),
            Timer::AuthTimeout(id, generation) => matches!(conns.get(id),
                Some(c) if c.generation == generation && c.state != ConnState::Closing),
            Timer::SessionExpiry(key, generation) | Timer::WillDelay(key, generation) => {
                matches!(sessions.get(key),
                Some(s) if s.generation == generation && s.conn.is_none())
            }
            Timer::Sys => true,
        });
    }
}
