//! The core's timers: one min-heap of deadlines with lazy cancellation.
//!
//! Entries are never removed early. Each names what it is for and the
//! generation of that thing; when it fires, the core checks the thing still
//! exists with the same generation and that its real deadline has come (a
//! keepalive deadline moves with every packet, so the entry is pushed again
//! at the new deadline instead of being updated on each packet).

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use super::{ConnId, SessionKey};

/// What a deadline is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// A connection must have sent CONNECT by now.
    ConnectTimeout(ConnId, u32),
    /// A connection must have sent some packet by now (1.5 × keepalive).
    Keepalive(ConnId, u32),
    /// A pending authentication must be decided by now.
    AuthTimeout(ConnId, u32),
    /// A disconnected persistent session expires.
    SessionExpiry(SessionKey, u32),
    /// A disconnected session's will is due (its Will Delay Interval).
    WillDelay(SessionKey, u32),
    /// Time to send PINGREQ on a bridge's link.
    BridgePing(ConnId, u32),
    /// Time to see whether a lazy bridge's link has been idle.
    BridgeIdle(ConnId, u32),
    /// Time to publish `$SYS` statistics.
    Sys,
}

/// A min-heap of `(deadline, timer)`.
#[derive(Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    /// Adds a deadline.
    pub(crate) fn push(&mut self, at: Instant, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    /// The earliest deadline, if any.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    /// Number of entries, stale ones included.
    pub(crate) fn len(&self) -> usize {
        self.heap.len()
    }

    /// Keeps only the timers `keep` accepts.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&Timer) -> bool) {
        self.heap.retain(|Reverse((_, timer))| keep(timer));
    }

    /// Removes and returns one timer whose deadline is at or before `now`.
    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, Timer)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(entry)| entry),
            _ => None,
        }
    }
}
