//! A client's session: what outlives a network connection when clean
//! session is 0 — subscriptions, the outbound in-flight window and queue,
//! and the inbound QoS 2 packet ids awaiting PUBREL.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Instant;

use super::connect_options::SESSION_NEVER_EXPIRES;
use super::connection::Will;
use super::overflow::Overflow;
use super::packet_ids::PacketIds;
use super::router::Grant;
use super::ConnId;
use crate::codec::PacketId;
use crate::message::Message;
use crate::store::{StoredMessage, StoredState};

/// Where an outbound QoS 1/2 message is in its acknowledgement flow.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InflightState {
    /// PUBLISH sent, waiting for PUBACK (QoS 1) or PUBREC (QoS 2).
    AwaitingAck,
    /// QoS 2: PUBREL sent, waiting for PUBCOMP.
    AwaitingComp,
}

/// An outbound message sent and not yet fully acknowledged.
#[derive(Clone, Debug)]
pub(crate) struct Inflight {
    /// Position in the session's delivery order (the store's key).
    pub(crate) seq: u64,
    pub(crate) packet_id: PacketId,
    /// The message; its QoS is the delivered QoS (1 or 2).
    pub(crate) message: Message,
    pub(crate) state: InflightState,
}

/// A message waiting for room in the in-flight window.
#[derive(Clone, Debug)]
pub(crate) struct Queued {
    /// Position in the session's delivery order (the store's key).
    pub(crate) seq: u64,
    /// The message with its delivered QoS and retain flag.
    pub(crate) message: Message,
}

/// Why a message could not be queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QueueFull;

/// The tail of a persistent session's queue that is kept only in the store:
/// these messages come after every message of `Session::queue`, and are
/// read back a page at a time when the window needs them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct StoredOnly {
    /// How many messages.
    pub(crate) messages: usize,
    /// Sum of their `Message::size`.
    pub(crate) bytes: usize,
}

/// Where a newly queued message may live.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QueuePlace {
    /// In RAM, whatever the length of the queue (clean sessions, or a core
    /// without a store).
    Ram,
    /// In RAM while the in-memory part of the queue is under these limits
    /// (messages, bytes) and nothing is stored-only yet; else only in the
    /// store.
    RamUpTo(usize, usize),
}

/// A run of packet ids going up from `first`, wrapping from 65 535 to 1
/// (0 is not a packet id): `first`, `first + 1`, ... `first + span`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct IdRange {
    first: PacketId,
    span: u16,
}

impl IdRange {
    /// How many packet ids there are.
    const IDS: u32 = 65_535;

    fn single(id: PacketId) -> IdRange {
        IdRange { first: id, span: 0 }
    }

    /// Steps up from `first` to `id`, wrapping.
    fn distance(&self, id: PacketId) -> u16 {
        // Both are 1..=65 535; the result is below 65 535.
        ((u32::from(id) + Self::IDS - u32::from(self.first)) % Self::IDS) as u16
    }

    fn contains(&self, id: PacketId) -> bool {
        self.distance(id) <= self.span
    }

    /// Grows the run upwards (wrapping) until it holds `id`: the run it
    /// was is still inside.
    fn extend(&mut self, id: PacketId) {
        self.span = self.span.max(self.distance(id));
    }
}

/// One client's session.
pub(crate) struct Session {
    pub(crate) client_id: Arc<str>,
    /// The user name of the latest connection, for ACL checks.
    pub(crate) username: Option<Arc<str>>,
    /// The listener of the latest connection, for ACL checks.
    pub(crate) listener: u16,
    /// Discarded when the connection ends (3.1.1 clean session 1, MQTT 5
    /// Session Expiry Interval 0); a session that is not clean is the
    /// store's.
    pub(crate) clean: bool,
    /// How long the session outlives its connection, seconds
    /// (`SESSION_NEVER_EXPIRES`: for ever).
    pub(crate) expiry_interval: u32,
    /// Most QoS 1/2 messages in flight to the client: the broker's
    /// `max_inflight`, or less if the client's Receive Maximum is less.
    pub(crate) window: u16,
    /// A will waiting for its Will Delay Interval after the connection
    /// ended; sent when the delay passes or the session ends, dropped if
    /// the client comes back first.
    pub(crate) delayed_will: Option<Box<Will>>,
    /// The connection currently attached, if online.
    pub(crate) conn: Option<ConnId>,
    /// The filters this session holds, with what each grants (the trie
    /// holds the routing copy; this one lets the session be torn down or
    /// saved).
    pub(crate) subscriptions: HashMap<Box<str>, Grant>,
    /// Outbound messages sent and awaiting acknowledgement, in send order.
    /// Added to only through `push_inflight` (which keeps `inflight_ids`).
    pub(crate) inflight: VecDeque<Inflight>,
    /// Packet ids that `inflight` may use: every id there is within this
    /// range (wider than needed after acknowledgements), so that
    /// `next_packet_id` need not look through the window for an id outside
    /// it. Meaningless while `inflight` is empty.
    inflight_ids: IdRange,
    /// Sum of `Message::size` over `inflight`.
    pub(crate) inflight_bytes: usize,
    /// Packet ids of `inflight` messages a resumed session did not send
    /// again at once, in order: the client's Receive Maximum had no room
    /// for them. Each goes out as acknowledgements make room.
    pub(crate) held_back: Vec<PacketId>,
    /// Outbound QoS 1/2 messages waiting for the window, in order.
    pub(crate) queue: VecDeque<Queued>,
    /// Sum of `Message::size` over `queue`.
    pub(crate) queued_bytes: usize,
    /// The rest of the queue, after `queue`, held only by the store.
    pub(crate) stored_only: StoredOnly,
    /// The token of the page of `stored_only` requested from the store and
    /// not yet loaded.
    pub(crate) page_token: Option<u64>,
    /// Inbound QoS 2 packet ids received and not yet released by PUBREL.
    pub(crate) inbound_qos2: PacketIds,
    /// Last packet id handed out.
    last_packet_id: PacketId,
    /// The `seq` the next outbound QoS 1/2 message gets.
    pub(crate) next_seq: u64,
    /// Bumped whenever the session is reused or detached, so stale expiry
    /// timers can tell.
    pub(crate) generation: u32,
    /// When a detached persistent session is removed.
    pub(crate) expires_at: Option<Instant>,
    /// Outbound messages with a `seq` below this one were admitted by the
    /// ACL for an earlier connection (another user may have resumed the
    /// session since, or the rules changed across a restart): each is
    /// checked again, for the identity connected now, before it is sent.
    pub(crate) acl_recheck_below: u64,
    /// Routing scratch: the publish number that last matched this session
    /// and where in the match list it was put, to merge overlapping
    /// subscriptions into one delivery without a hash set.
    pub(crate) match_stamp: u64,
    pub(crate) match_slot: u32,
    /// Messages for it go at its subscription's QoS, not the lower of the
    /// two: a bridge's session, so that a QoS 0 message on a QoS 1 bridge
    /// topic is queued and acknowledged upstream.
    pub(crate) crosses_at_granted_qos: bool,
    /// Messages sent to it (resends not counted again).
    pub(crate) messages_sent: u64,
    /// Messages for it that were dropped.
    pub(crate) messages_dropped: u64,
    /// Its queue's overflows, for the event hook.
    pub(crate) overflow: Overflow,
}

impl Session {
    pub(crate) fn new(client_id: Arc<str>, clean: bool, conn: ConnId) -> Session {
        Session {
            client_id,
            username: None,
            listener: 0,
            clean,
            expiry_interval: if clean { 0 } else { SESSION_NEVER_EXPIRES },
            window: u16::MAX,
            delayed_will: None,
            conn: Some(conn),
            subscriptions: HashMap::new(),
            inflight: VecDeque::new(),
            inflight_ids: IdRange::single(1),
            inflight_bytes: 0,
            held_back: Vec::new(),
            queue: VecDeque::new(),
            queued_bytes: 0,
            stored_only: StoredOnly::default(),
            page_token: None,
            inbound_qos2: PacketIds::default(),
            last_packet_id: 0,
            next_seq: 1,
            generation: 0,
            expires_at: None,
            acl_recheck_below: 0,
            match_stamp: 0,
            match_slot: 0,
            crosses_at_granted_qos: false,
            messages_sent: 0,
            messages_dropped: 0,
            overflow: Overflow::default(),
        }
    }

    /// Attaches a new connection of the client, resuming the session (clean
    /// session 0 / clean start 0) with a new expiry interval. Every message
    /// queued or in flight before now is checked again against the ACL for
    /// `username` before it is sent. Returns whether the user name changed.
    pub(crate) fn resume(
        &mut self,
        conn: ConnId,
        username: Option<Arc<str>>,
        expiry_interval: u32,
    ) -> bool {
        self.conn = Some(conn);
        self.clean = expiry_interval == 0;
        self.expiry_interval = expiry_interval;
        self.expires_at = None;
        let changed = self.username != username;
        self.username = username;
        self.generation = self.generation.wrapping_add(1);
        self.acl_recheck_below = self.next_seq;
        changed
    }

    /// Detaches the connection `conn` if it is the session's own: the
    /// session is then offline (the caller discards a clean one). With a
    /// store, its queue leaves RAM (the store holds it). Returns whether
    /// `conn` was attached.
    pub(crate) fn detach(&mut self, conn: ConnId, stored: bool) -> bool {
        if self.conn != Some(conn) {
            return false;
        }
        self.conn = None;
        if !self.clean {
            if stored {
                self.page_out_queue();
            }
            self.generation = self.generation.wrapping_add(1);
        }
        true
    }

    /// Records an inbound QoS 2 packet id awaiting PUBREL; false if it was
    /// already (a PUBLISH sent again).
    pub(crate) fn receive_qos2(&mut self, packet_id: PacketId) -> bool {
        self.inbound_qos2.insert(packet_id)
    }

    /// Forgets an inbound QoS 2 packet id on PUBREL; false if it was not
    /// awaiting one.
    pub(crate) fn release_qos2(&mut self, packet_id: PacketId) -> bool {
        self.inbound_qos2.remove(packet_id)
    }

    /// A packet id not used by any in-flight message: the one after the
    /// last handed out (0 skipped), or the next one after it that is free.
    /// The caller has room in the window, so at most 65 534 ids are in use
    /// and one is always found.
    #[inline]
    pub(crate) fn next_packet_id(&mut self) -> PacketId {
        loop {
            self.last_packet_id = self.last_packet_id.wrapping_add(1);
            if self.last_packet_id == 0 {
                self.last_packet_id = 1;
            }
            let id = self.last_packet_id;
            if !self.packet_id_in_flight(id) {
                return id;
            }
        }
    }

    /// Whether an in-flight message uses `id`. Ids are handed out in
    /// ascending order, so the next one is nearly always past the range
    /// the window's ids span, and the window is not looked through; when
    /// it is, the range is narrowed to what the window holds now.
    fn packet_id_in_flight(&mut self, id: PacketId) -> bool {
        if self.inflight.is_empty() || !self.inflight_ids.contains(id) {
            return false;
        }
        let Some(front) = self.inflight.front() else {
            return false;
        };
        let mut range = IdRange::single(front.packet_id);
        let mut found = false;
        for inflight in &self.inflight {
            found |= inflight.packet_id == id;
            range.extend(inflight.packet_id);
        }
        self.inflight_ids = range;
        found
    }

    /// Whether a message of `size` bytes fits in the in-flight window of at
    /// most `max_messages` messages and `max_bytes` bytes (0: no byte
    /// limit; a larger message fits an empty window).
    #[inline]
    pub(crate) fn window_has_room(
        &self,
        max_messages: usize,
        max_bytes: usize,
        size: usize,
    ) -> bool {
        self.inflight.len() < max_messages
            && (max_bytes == 0
                || self.inflight.is_empty()
                || self.inflight_bytes + size <= max_bytes)
    }

    /// The next message of `held_back` that a window of `window` now has
    /// room for (counting every in-flight message out on this connection):
    /// its index in `inflight`. Those acknowledged meanwhile, or answered
    /// with PUBREC (the client had them), are not sent again.
    pub(crate) fn next_held_back(&mut self, window: usize) -> Option<usize> {
        if self.held_back.is_empty() {
            return None;
        }
        let inflight = &self.inflight;
        self.held_back.retain(|&id| {
            inflight
                .iter()
                .any(|m| m.packet_id == id && m.state == InflightState::AwaitingAck)
        });
        if self.held_back.is_empty() || self.inflight.len() - self.held_back.len() >= window {
            return None;
        }
        let id = self.held_back.remove(0);
        self.inflight.iter().position(|m| m.packet_id == id)
    }

    /// Adds a message to the end of the in-flight window.
    #[inline(always)]
    pub(crate) fn push_inflight(&mut self, inflight: Inflight) {
        if self.inflight.is_empty() {
            self.inflight_ids = IdRange::single(inflight.packet_id);
        } else {
            self.inflight_ids.extend(inflight.packet_id);
        }
        self.inflight_bytes += inflight.message.size();
        self.inflight.push_back(inflight);
    }

    /// Takes the in-flight message at `index` out of the window.
    #[inline(always)]
    pub(crate) fn remove_inflight(&mut self, index: usize) -> Option<Inflight> {
        // Acknowledgements mostly come in send order: the oldest goes
        // without `VecDeque::remove`'s general shifting.
        let inflight = if index == 0 {
            self.inflight.pop_front()
        } else {
            self.inflight.remove(index)
        }?;
        self.inflight_bytes = self.inflight_bytes.saturating_sub(inflight.message.size());
        Some(inflight)
    }

    /// Appends to the queue unless it is at its count or byte limit
    /// (counting the stored-only part); returns the message's `seq`. The
    /// message is kept in RAM or only counted in `stored_only` as `place`
    /// allows.
    pub(crate) fn enqueue(
        &mut self,
        message: Message,
        max_messages: usize,
        max_bytes: usize,
        place: QueuePlace,
    ) -> Result<u64, QueueFull> {
        let size = message.size();
        if self.queued_messages() >= max_messages
            || self.queued_bytes + self.stored_only.bytes + size > max_bytes
        {
            return Err(QueueFull);
        }
        let seq = self.take_seq();
        let in_ram = match place {
            QueuePlace::Ram => true,
            QueuePlace::RamUpTo(messages, bytes) => {
                self.stored_only.messages == 0
                    && self.queue.len() < messages
                    && self.queued_bytes + size <= bytes
            }
        };
        if in_ram {
            self.queued_bytes += size;
            self.queue.push_back(Queued { seq, message });
        } else {
            self.stored_only.messages += 1;
            self.stored_only.bytes += size;
        }
        Ok(seq)
    }

    /// Messages waiting for the window, in RAM and stored-only.
    pub(crate) fn queued_messages(&self) -> usize {
        self.queue.len() + self.stored_only.messages
    }

    /// Whether nothing waits for the window.
    pub(crate) fn queue_is_empty(&self) -> bool {
        self.queue.is_empty() && self.stored_only.messages == 0
    }

    /// Drops the in-RAM part of the queue, counting it as stored-only (the
    /// store holds every queued message of a persistent session). The
    /// pending page request, if any, is forgotten.
    pub(crate) fn page_out_queue(&mut self) {
        self.stored_only.messages += self.queue.len();
        self.stored_only.bytes += self.queued_bytes;
        self.queue = VecDeque::new();
        self.queued_bytes = 0;
        self.page_token = None;
    }

    /// Moves the messages of a page read from the store (those past the
    /// ones in RAM, in order) from the stored-only count into the in-RAM
    /// queue.
    pub(crate) fn take_page(&mut self, page: Vec<StoredMessage>) {
        let mut last_seq = self.last_seq_in_ram();
        for stored in page {
            if stored.state != StoredState::Queued
                || last_seq.is_some_and(|last| stored.seq <= last)
            {
                continue;
            }
            if self.stored_only.messages == 0 {
                break;
            }
            last_seq = Some(stored.seq);
            let size = stored.message.size();
            self.stored_only.messages -= 1;
            self.stored_only.bytes = self.stored_only.bytes.saturating_sub(size);
            self.queued_bytes += size;
            self.queue.push_back(Queued {
                seq: stored.seq,
                message: stored.message,
            });
        }
        if self.stored_only.messages == 0 {
            self.stored_only.bytes = 0;
        }
    }

    /// The highest `seq` held in RAM (queue, else in-flight window), which
    /// every stored-only message follows; `None` when none.
    pub(crate) fn last_seq_in_ram(&self) -> Option<u64> {
        self.queue
            .back()
            .map(|queued| queued.seq)
            .or_else(|| self.inflight.back().map(|inflight| inflight.seq))
    }

    /// The next delivery-order position.
    pub(crate) fn take_seq(&mut self) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        seq
    }

    /// Takes the oldest queued message.
    pub(crate) fn dequeue(&mut self) -> Option<Queued> {
        let queued = self.queue.pop_front()?;
        self.queued_bytes -= queued.message.size();
        Some(queued)
    }

    /// Position of an in-flight message by packet id. Ids go out in
    /// ascending order and acknowledgements mostly come back in it, so the
    /// message is nearly always as far from the front as its id is from
    /// the front's: looked at first, before the whole window (a QoS 2
    /// window holds its messages until PUBCOMP, and every PUBREC scanned
    /// past them).
    #[inline]
    pub(crate) fn inflight_position(&self, packet_id: PacketId) -> Option<usize> {
        let front = self.inflight.front()?;
        let guess = usize::from(IdRange::single(front.packet_id).distance(packet_id));
        if self
            .inflight
            .get(guess)
            .is_some_and(|m| m.packet_id == packet_id)
        {
            return Some(guess);
        }
        self.inflight.iter().position(|m| m.packet_id == packet_id)
    }

    /// Records what a filter grants; true if it was new.
    pub(crate) fn add_subscription(&mut self, filter: &str, grant: Grant) -> bool {
        match self.subscriptions.get_mut(filter) {
            Some(granted) => {
                *granted = grant;
                false
            }
            None => {
                self.subscriptions.insert(filter.into(), grant);
                true
            }
        }
    }

    /// Forgets a filter; true if it was there.
    pub(crate) fn remove_subscription(&mut self, filter: &str) -> bool {
        self.subscriptions.remove(filter).is_some()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::QoS;

    fn msg(payload: &[u8]) -> Message {
        Message::new("t", payload, QoS::AtLeastOnce, false).unwrap()
    }

    #[test]
    fn packet_ids_skip_zero_and_inflight() {
        let mut s = Session::new("c".into(), false, ConnId(0));
        s.last_packet_id = u16::MAX - 1;
        assert_eq!(s.next_packet_id(), u16::MAX);
        s.push_inflight(Inflight {
            seq: 1,
            packet_id: 1,
            message: msg(b""),
            state: InflightState::AwaitingAck,
        });
        assert_eq!(s.next_packet_id(), 2);
    }

    /// `next_packet_id` hands out exactly the ids a search of the whole
    /// window would, through wrap-arounds, acknowledgements out of order,
    /// messages left in flight while the ids go round past them, and full
    /// windows.
    #[test]
    fn packet_ids_match_a_search_of_the_window() {
        fn reference(last: &mut PacketId, window: &[PacketId], skipped: &mut usize) -> PacketId {
            loop {
                *last = last.wrapping_add(1).max(1);
                if !window.contains(last) {
                    return *last;
                }
                *skipped += 1;
            }
        }
        let mut rng = 0x9E37_79B9_7F4A_7C15_u64;
        let mut next = move |below: u64| {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng % below
        };
        // (window limit, eighths of the acknowledgements that are for the
        // oldest message)
        for (limit, in_order) in [(3, 8), (100, 8), (100, 6), (2_000, 7)] {
            let mut s = Session::new("c".into(), false, ConnId(0));
            let (mut last, mut window) = (0, Vec::new());
            // Messages not acknowledged before this step: some stay in
            // flight while more than 65 535 ids are handed out.
            let mut held: HashMap<PacketId, u64> = HashMap::new();
            let mut skipped = 0;
            for step in 0..300_000 {
                let fill = window.len() < limit && (window.len() < limit / 2 || next(2) == 0);
                if fill {
                    let id = s.next_packet_id();
                    let expected = reference(&mut last, &window, &mut skipped);
                    assert_eq!(id, expected, "limit {limit}, step {step}");
                    s.push_inflight(Inflight {
                        seq: step,
                        packet_id: id,
                        message: msg(b""),
                        state: InflightState::AwaitingAck,
                    });
                    window.push(id);
                    if held.len() < limit / 4 && next(3_000) == 0 {
                        held.insert(id, step + 140_000 + next(60_000));
                    }
                } else if !window.is_empty() {
                    let mut index = if next(8) < in_order {
                        0
                    } else {
                        next(window.len() as u64) as usize
                    };
                    while index < window.len() && held.get(&window[index]) > Some(&step) {
                        index += 1;
                    }
                    if index == window.len() {
                        continue;
                    }
                    held.remove(&window[index]);
                    let done = s.remove_inflight(index).map(|m| m.packet_id);
                    assert_eq!(done, Some(window.remove(index)));
                }
            }
            assert!(
                limit < 100 || skipped > 0,
                "limit {limit}: no id was skipped"
            );
        }
    }

    /// With all ids but one in flight, the free one is found.
    #[test]
    fn packet_ids_fill_the_id_space() {
        let mut s = Session::new("c".into(), false, ConnId(0));
        let push = |s: &mut Session, id: PacketId| {
            s.push_inflight(Inflight {
                seq: u64::from(id),
                packet_id: id,
                message: msg(b""),
                state: InflightState::AwaitingAck,
            })
        };
        for expected in 1..=65_534 {
            let id = s.next_packet_id();
            assert_eq!(id, expected);
            push(&mut s, id);
        }
        assert_eq!(s.remove_inflight(100).map(|m| m.packet_id), Some(101));
        assert_eq!(s.next_packet_id(), 65_535);
        push(&mut s, 65_535);
        assert_eq!(s.next_packet_id(), 101);
    }

    /// Runs of packet ids wrap from 65 535 to 1 and only grow.
    #[test]
    fn id_ranges_wrap() {
        let mut range = IdRange::single(65_534);
        assert!(range.contains(65_534));
        assert!(!range.contains(65_535) && !range.contains(1));
        range.extend(2);
        assert_eq!(
            range,
            IdRange {
                first: 65_534,
                span: 3
            }
        );
        assert!(range.contains(65_535) && range.contains(1) && range.contains(2));
        assert!(!range.contains(3) && !range.contains(65_533));
        range.extend(65_535);
        assert_eq!(range.span, 3, "already inside");
        range.extend(65_533);
        assert_eq!(range.span, 65_534, "every id");
        assert!((1..=65_535).all(|id| range.contains(id)));
    }

    #[test]
    fn queue_limits_count_and_bytes() {
        let mut s = Session::new("c".into(), false, ConnId(0));
        let ram = QueuePlace::Ram;
        assert!(s.enqueue(msg(b"1234"), 2, 100, ram).is_ok());
        assert!(s.enqueue(msg(b"1234"), 2, 100, ram).is_ok());
        assert_eq!(s.enqueue(msg(b"1"), 2, 100, ram), Err(QueueFull));
        assert_eq!(s.queue.back().map(|q| q.seq), Some(2));
        assert_eq!(s.queued_bytes, 10);
        assert!(s.dequeue().is_some());
        assert_eq!(s.queued_bytes, 5);
        assert_eq!(s.enqueue(msg(b"123456"), 10, 11, ram), Err(QueueFull));
    }

    #[test]
    fn queue_spills_past_its_ram_part_and_limits_count_both() {
        let mut s = Session::new("c".into(), false, ConnId(0));
        let place = QueuePlace::RamUpTo(1, 100);
        assert_eq!(s.enqueue(msg(b"1234"), 3, 100, place), Ok(1));
        assert_eq!(s.enqueue(msg(b"1234"), 3, 100, place), Ok(2));
        assert_eq!(s.queue.len(), 1);
        assert_eq!(
            s.stored_only,
            StoredOnly {
                messages: 1,
                bytes: 5
            }
        );
        // Once something is stored-only, later messages follow it there
        // even when RAM has room, or the order would break.
        assert!(s.dequeue().is_some());
        assert_eq!(s.enqueue(msg(b"1"), 3, 100, place), Ok(3));
        assert!(s.queue.is_empty());
        assert_eq!(s.queued_messages(), 2);
        assert_eq!(s.enqueue(msg(b"x"), 2, 100, place), Err(QueueFull));
        assert_eq!(s.last_seq_in_ram(), None);
        s.page_out_queue();
        assert_eq!(s.stored_only.messages, 2);
    }
}
