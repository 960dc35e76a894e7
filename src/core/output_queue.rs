//! A connection's unwritten output: encoded bytes, with large payloads
//! sent from their message instead of copied.
//!
//! A payload of [`SPLICE_MIN`] bytes or more stays in its [`Message`] (a
//! reference count, not a copy): the PUBLISH's header goes into the byte
//! buffer and the payload is "spliced" in after it, and the driver writes
//! the lot with one `writev`. At 64 KiB per message, copying every payload
//! into the buffer (and growing the buffer to hold a pass's worth) was a
//! tenth of the broker's time.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::io::IoSlice;

use super::buffer_pool::BufferPool;
use super::topic_aliases::AliasUse;
use super::COMPACT_AFTER;
use crate::codec::{self, PacketId};
use crate::message::Message;

/// Payloads at least this long are spliced rather than copied.
pub(crate) const SPLICE_MIN: usize = 8 * 1024;

/// The form a PUBLISH takes on a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Wire {
    /// MQTT 3.1 / 3.1.1: no properties.
    V3,
    /// MQTT 5, at `now_ms` of the broker's clock (for the time left of a
    /// Message Expiry Interval), with a topic alias or not.
    V5 {
        /// The broker's clock.
        now_ms: u64,
        /// The topic alias this PUBLISH sets or uses.
        alias: AliasUse,
    },
}

/// The Message Expiry Interval property of `message` as sent at `now_ms`:
/// the seconds left, rounded up [MQTT-3.3.2-6]. Meaningful for
/// [`expiry_len`] bytes.
fn remaining_expiry(message: &Message, now_ms: u64) -> [u8; 5] {
    let Some(at) = message.expires_at_ms() else {
        return [0; 5];
    };
    let left = at.saturating_sub(now_ms).div_ceil(1000);
    let [a, b, c, d] = u32::try_from(left).unwrap_or(u32::MAX).to_be_bytes();
    [codec::property::MESSAGE_EXPIRY_INTERVAL, a, b, c, d]
}

/// A Topic Alias property.
fn alias_property(alias: u16) -> [u8; 3] {
    let [hi, lo] = alias.to_be_bytes();
    [codec::property::TOPIC_ALIAS, hi, lo]
}

/// Bytes of [`remaining_expiry`] that are a property: 5, or 0 without an
/// expiry.
fn expiry_len(message: &Message) -> usize {
    if message.expires_at_ms().is_some() {
        5
    } else {
        0
    }
}

/// Bytes the PUBLISH of `message` takes in the form `wire` gives it (for
/// the client's Maximum Packet Size).
pub(crate) fn publish_wire_len(message: &Message, wire: Wire) -> usize {
    let (topic, qos, payload) = (
        message.topic().len(),
        message.qos(),
        message.payload().len(),
    );
    match wire {
        Wire::V3 => codec::publish_len(topic, qos, payload),
        Wire::V5 { alias, .. } => {
            // A Topic Alias property, and no topic when the alias stands
            // for it.
            let (topic, alias_len) = match alias {
                AliasUse::None => (topic, 0),
                AliasUse::Set(_) => (topic, 3),
                AliasUse::Use(_) => (0, 3),
            };
            codec::publish_len_v5(
                topic,
                qos,
                expiry_len(message) + alias_len + message.property_bytes().len(),
                payload,
            )
        }
    }
}

/// A payload that goes out after `bytes[..at]`.
struct Splice {
    at: usize,
    message: Message,
    /// Bytes of the payload already written.
    sent: usize,
}

/// The bytes a connection has yet to write, in order: `bytes[pos..]` with
/// each splice's payload inserted at its `at`.
#[derive(Default)]
pub(crate) struct OutputQueue {
    bytes: Vec<u8>,
    /// Bytes of `bytes` already written.
    pos: usize,
    /// In `at` order; the first one's `at` is at least `pos`.
    splices: VecDeque<Splice>,
    /// Unwritten bytes of the spliced payloads.
    spliced_pending: usize,
}

impl OutputQueue {
    /// Bytes not yet written.
    pub(crate) fn pending(&self) -> usize {
        self.bytes.len() - self.pos + self.spliced_pending
    }

    /// Gives a queue without a byte buffer (an idle connection's) one from
    /// `pool`, if the pool has one, before output is appended.
    pub(crate) fn take_pooled_buffer(&mut self, pool: &mut BufferPool) {
        if self.bytes.capacity() == 0 {
            if let Some(buffer) = pool.take() {
                self.bytes = buffer;
            }
        }
    }

    /// The byte buffer, to append encoded packets to.
    pub(crate) fn bytes_mut(&mut self) -> &mut Vec<u8> {
        &mut self.bytes
    }

    /// Appends a PUBLISH of `message`, splicing its payload when large: in
    /// the 3.1.1 form, or for an MQTT 5 client (`wire`) with the message's
    /// properties and what is left of its expiry interval.
    pub(crate) fn push_publish(
        &mut self,
        message: &Message,
        dup: bool,
        packet_id: PacketId,
        wire: Wire,
    ) {
        let payload = message.payload();
        let (qos, retain, topic) = (message.qos(), message.retain(), message.topic());
        let out = &mut self.bytes;
        let splice = payload.len() >= SPLICE_MIN;
        match wire {
            Wire::V3 if !splice => {
                codec::encode_publish(out, dup, qos, retain, topic, packet_id, payload);
                return;
            }
            Wire::V3 => {
                codec::encode_publish_header(out, dup, qos, retain, topic, packet_id, payload.len())
            }
            Wire::V5 { now_ms, alias } => {
                let expiry = remaining_expiry(message, now_ms);
                let (alias_bytes, alias_len, topic) = match alias {
                    AliasUse::None => ([0; 3], 0, topic),
                    AliasUse::Set(n) => (alias_property(n), 3, topic),
                    AliasUse::Use(n) => (alias_property(n), 3, ""),
                };
                let properties = [
                    &expiry[..expiry_len(message)],
                    &alias_bytes[..alias_len],
                    message.property_bytes(),
                ];
                if !splice {
                    codec::encode_publish_v5(
                        out,
                        dup,
                        qos,
                        retain,
                        topic,
                        packet_id,
                        &properties,
                        payload,
                    );
                    return;
                }
                codec::encode_publish_header_v5(
                    out,
                    dup,
                    qos,
                    retain,
                    topic,
                    packet_id,
                    &properties,
                    payload.len(),
                );
            }
        }
        self.splices.push_back(Splice {
            at: self.bytes.len(),
            message: message.clone(),
            sent: 0,
        });
        self.spliced_pending += payload.len();
    }

    /// Fills `into` with the first `limit` unwritten bytes (or all of
    /// them) in order, as far as it has room; returns how many slices it
    /// filled.
    pub(crate) fn slices<'a>(&'a self, into: &mut [IoSlice<'a>], limit: usize) -> usize {
        let mut count = 0;
        let mut left = limit;
        let mut pos = self.pos;
        let mut push = |slice: &'a [u8], count: &mut usize, left: &mut usize| -> bool {
            let take = slice.len().min(*left);
            if take == 0 {
                return *left > 0;
            }
            let Some(slot) = into.get_mut(*count) else {
                return false;
            };
            *slot = IoSlice::new(&slice[..take]);
            *count += 1;
            *left -= take;
            *left > 0
        };
        for splice in &self.splices {
            if splice.at > pos {
                if !push(&self.bytes[pos..splice.at], &mut count, &mut left) {
                    return count;
                }
                pos = splice.at;
            }
            if !push(
                &splice.message.payload()[splice.sent..],
                &mut count,
                &mut left,
            ) {
                return count;
            }
        }
        if pos < self.bytes.len() {
            push(&self.bytes[pos..], &mut count, &mut left);
        }
        count
    }

    /// The first `limit` unwritten bytes (or all of them) in one slice
    /// (copied together when payloads are spliced): for tests and tools,
    /// not the write path.
    pub(crate) fn contiguous(&self, limit: usize) -> Cow<'_, [u8]> {
        if self.splices.is_empty() {
            let end = self.bytes.len().min(self.pos.saturating_add(limit));
            return Cow::Borrowed(&self.bytes[self.pos..end]);
        }
        // At most a byte run before each splice, the splice, and the tail.
        let mut slices = vec![IoSlice::new(&[]); 2 * self.splices.len() + 1];
        let count = self.slices(&mut slices, limit);
        let mut all = Vec::with_capacity(self.pending());
        for slice in &slices[..count] {
            all.extend_from_slice(slice);
        }
        Cow::Owned(all)
    }

    /// Records that the first `written` unwritten bytes went out. Returns
    /// the byte buffer, emptied, once nothing is left (for the pool).
    pub(crate) fn consume(&mut self, mut written: usize) -> Option<Vec<u8>> {
        while written > 0 {
            let segment_end = self.splices.front().map_or(self.bytes.len(), |s| s.at);
            if self.pos < segment_end {
                let step = (segment_end - self.pos).min(written);
                self.pos += step;
                written -= step;
                continue;
            }
            let Some(splice) = self.splices.front_mut() else {
                // More than was pending: the driver's count is wrong, and
                // everything is out.
                self.pos = self.bytes.len();
                break;
            };
            let left = splice.message.payload().len() - splice.sent;
            let step = left.min(written);
            splice.sent += step;
            self.spliced_pending -= step;
            written -= step;
            if step == left {
                self.splices.pop_front();
            }
        }
        if self.pending() == 0 {
            self.pos = 0;
            self.bytes.clear();
            return Some(std::mem::take(&mut self.bytes));
        }
        // A reader that keeps up only partly never empties its output: drop
        // the written prefix once it is half the buffer, or the buffer
        // would grow with everything ever sent (the move is amortised: each
        // byte moves at most once per doubling).
        if self.pos >= COMPACT_AFTER && self.pos * 2 >= self.bytes.len() {
            self.bytes.drain(..self.pos);
            for splice in &mut self.splices {
                splice.at -= self.pos;
            }
            self.pos = 0;
        }
        None
    }

    /// Empties the queue, returning its byte buffer (for the pool).
    pub(crate) fn take_buffer(&mut self) -> Vec<u8> {
        self.splices.clear();
        self.spliced_pending = 0;
        self.pos = 0;
        let mut buffer = std::mem::take(&mut self.bytes);
        buffer.clear();
        buffer
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::QoS;

    fn message(payload_len: usize, fill: u8) -> Message {
        Message::new("big/t", &vec![fill; payload_len], QoS::AtMostOnce, false).unwrap()
    }

    fn expected(parts: &[(&Message, bool)]) -> Vec<u8> {
        let mut all = Vec::new();
        for (message, _) in parts {
            codec::encode_publish(
                &mut all,
                false,
                message.qos(),
                message.retain(),
                message.topic(),
                0,
                message.payload(),
            );
        }
        all
    }

    /// Drains `queue` in writes of `step` bytes through `slices`, as the
    /// driver does, and returns what was written.
    fn drain(queue: &mut OutputQueue, step: usize, slots: usize) -> Vec<u8> {
        let mut written = Vec::new();
        while queue.pending() > 0 {
            let mut iov = vec![IoSlice::new(&[]); slots];
            let count = queue.slices(&mut iov, usize::MAX);
            assert!(count > 0, "pending bytes but no slice");
            let mut chunk = Vec::new();
            for slice in &iov[..count] {
                chunk.extend_from_slice(slice);
            }
            chunk.truncate(step);
            written.extend_from_slice(&chunk);
            let before = queue.pending();
            let emptied = queue.consume(chunk.len());
            assert_eq!(queue.pending(), before - chunk.len());
            assert_eq!(emptied.is_some(), queue.pending() == 0);
        }
        written
    }

    #[test]
    fn spliced_and_copied_publishes_come_out_in_order() {
        let small = message(100, 1);
        let large = message(SPLICE_MIN, 2);
        let larger = message(70_000, 3);
        let parts = [
            (&small, false),
            (&large, true),
            (&larger, true),
            (&small, false),
        ];
        for (step, slots) in [(1, 64), (7, 2), (4096, 1), (65_536, 3), (usize::MAX, 64)] {
            let mut queue = OutputQueue::default();
            for (message, _) in parts {
                queue.push_publish(message, false, 0, Wire::V3);
            }
            assert_eq!(queue.splices.len(), 2);
            assert_eq!(queue.contiguous(usize::MAX).into_owned(), expected(&parts));
            assert_eq!(
                drain(&mut queue, step, slots),
                expected(&parts),
                "step {step}"
            );
            assert!(queue.splices.is_empty() && queue.bytes.is_empty());
        }
    }

    #[test]
    fn compaction_keeps_splices_in_place() {
        let small = message(1000, 4);
        let large = message(20_000, 5);
        let mut queue = OutputQueue::default();
        let mut parts = Vec::new();
        for _ in 0..100 {
            queue.push_publish(&small, false, 0, Wire::V3);
            parts.push((&small, false));
        }
        queue.push_publish(&large, false, 0, Wire::V3);
        parts.push((&large, true));
        queue.push_publish(&small, false, 0, Wire::V3);
        parts.push((&small, false));
        let all = expected(&parts);
        // Past COMPACT_AFTER and half the buffer: the prefix is dropped.
        let first = 90 * (all.len() - 20_000) / 101;
        assert!(queue.consume(first).is_none());
        assert_eq!(queue.pos, 0, "compacted");
        assert_eq!(queue.contiguous(usize::MAX).into_owned(), all[first..]);
        assert_eq!(drain(&mut queue, 3000, 4), all[first..]);
    }
}
