//! Filters without wildcards, indexed by their whole text.
//!
//! A filter with no `+` or `#` matches exactly one topic name: itself, byte
//! for byte (the `$` rule of [MQTT-4.7.2-1] only concerns wildcards). Such
//! filters are usually the bulk of a large subscription set (one per
//! device), and in the trie each cost a walk of several nodes, with the
//! widest level (100 000 device ids) missing the cache on every hop. Here
//! routing costs one hash of the topic, one bucket and one entry.
//!
//! The table is built for being fetched ahead of time. Its buckets are
//! one cache line each and hold only 32-bit hash tags and entry numbers;
//! the filters' text and subscribers sit in a dense vector of entries
//! beside them. A topic's bucket is requested two messages ahead
//! ([`ExactIndex::prefetch_bucket`]), and one message ahead the bucket,
//! cached by then, names the entry to request
//! ([`ExactIndex::prefetch_entry`]). So a hit reads two lines, both loaded
//! in time, and a miss (a topic only wildcards match) reads one. The
//! previous table held whole entries in line-sized slots probed linearly:
//! at 0.69 full, a fifth of the hits and every miss (5 to 6 lines on
//! average) walked past the two slots it could prefetch.

use std::hash::BuildHasher;

use super::prefetch::prefetch_read;
use super::sublist::Subscribers;
use super::topic_key::TopicKey;
use crate::codec::QoS;

/// foldhash: several times faster than SipHash on short topics, and seeded
/// randomly per index, so clients cannot precompute colliding filters.
type TopicHasher = foldhash::fast::RandomState;

/// Whether `filter` has no wildcard level, so it belongs in [`ExactIndex`].
pub(crate) fn is_exact(filter: &str) -> bool {
    !filter.bytes().any(|b| b == b'+' || b == b'#')
}

/// Entries one bucket holds: seven tags (and an eighth, always free, so
/// that the tags compare as two 16-byte vectors) and seven entry numbers,
/// with the overflow count, fill one cache line.
const BUCKET_SLOTS: usize = 7;

/// The table grows past this many filters per bucket on average. At 2 to
/// 4 per bucket of 7, a bucket overflows into the next for about 1 % of
/// filters.
const MAX_LOAD: usize = 4;

/// One cache line of the table: where the filters hashed here are.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(64))]
struct Bucket {
    /// Each slot's hash tag ([`tag`]), 0 when the slot is free; the last
    /// one is never used.
    tags: [u32; BUCKET_SLOTS + 1],
    /// Each used slot's index in [`ExactIndex::entries`].
    entries: [u32; BUCKET_SLOTS],
    /// How many filters sit past this bucket although their search passes
    /// through it (their home bucket, or one before, was full). While it is
    /// 0, a search that does not find its filter here can stop.
    overflow: u32,
}

impl Bucket {
    fn free_slot(&self) -> Option<usize> {
        self.tags[..BUCKET_SLOTS].iter().position(|&t| t == 0)
    }

    /// A bit per slot whose tag is `tag`. Computed without a branch per
    /// slot: which slot holds a filter is random, so branching on each
    /// compare mispredicts about once per lookup.
    #[inline]
    fn matching(&self, tag: u32) -> u32 {
        self.tags
            .iter()
            .enumerate()
            .fold(0, |bits, (slot, &t)| bits | (u32::from(t == tag) << slot))
    }
}

/// The slots set in `bits`, lowest first.
#[inline]
fn slots(mut bits: u32) -> impl Iterator<Item = usize> {
    std::iter::from_fn(move || {
        if bits == 0 {
            return None;
        }
        let slot = bits.trailing_zeros() as usize;
        bits &= bits - 1;
        Some(slot)
    })
}

/// A filter and its subscribers.
#[derive(Debug)]
struct Entry<K, V = QoS> {
    key: TopicKey,
    subs: Subscribers<K, V>,
}

/// The 32-bit tag kept in a bucket: high bits of the hash (the bucket
/// number comes from the low ones), never 0 so that 0 marks a free slot.
#[inline]
fn tag(hash: u64) -> u32 {
    (hash >> 32) as u32 | 1
}

/// Where a filter sits: bucket and slot, and the entry they name.
#[derive(Debug, Clone, Copy)]
struct Place {
    bucket: usize,
    slot: usize,
    entry: usize,
}

/// Subscribers of wildcard-free filters, keyed by the filter text: buckets
/// of tags probed linearly, over a dense vector of entries (see the module
/// documentation for why).
#[derive(Debug)]
pub(crate) struct ExactIndex<K, V = QoS> {
    /// Power-of-two length (or empty).
    buckets: Vec<Bucket>,
    /// Every filter once, in no particular order (removal moves the last
    /// one into the gap).
    entries: Vec<Entry<K, V>>,
    hasher: TopicHasher,
}

impl<K, V> Default for ExactIndex<K, V> {
    fn default() -> Self {
        ExactIndex {
            buckets: Vec::new(),
            entries: Vec::new(),
            hasher: TopicHasher::default(),
        }
    }
}

impl<K: Copy + Eq, V: Copy> ExactIndex<K, V> {
    /// Number of distinct filters.
    pub(crate) fn filters(&self) -> usize {
        self.entries.len()
    }

    fn hash(&self, text: &[u8]) -> u64 {
        self.hasher.hash_one(text)
    }

    fn mask(&self) -> usize {
        self.buckets.len().wrapping_sub(1)
    }

    /// The bucket a search for `hash` starts at.
    fn home(&self, hash: u64) -> usize {
        hash as usize & self.mask()
    }

    /// Where the filter `text` (with `hash`) sits, if it is here.
    fn find(&self, text: &[u8], hash: u64) -> Option<Place> {
        let mask = self.mask();
        let tag = tag(hash);
        let mut b = self.home(hash);
        // Bounded by the table's length: a search ends at the first bucket
        // with no overflow, but a bound costs nothing and rules out a loop.
        for _ in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            for slot in slots(bucket.matching(tag)) {
                let entry = bucket.entries[slot] as usize;
                if self.entries.get(entry).is_some_and(|e| e.key.is(text)) {
                    return Some(Place {
                        bucket: b,
                        slot,
                        entry,
                    });
                }
            }
            if bucket.overflow == 0 {
                return None;
            }
            b = (b + 1) & mask;
        }
        None
    }

    /// Puts entry number `index`, whose text hashes to `hash`, in the first
    /// free slot from its home bucket on (there is one: the load limit
    /// keeps the table far from full).
    fn place(&mut self, hash: u64, index: usize) {
        let mask = self.mask();
        let mut b = self.home(hash);
        for _ in 0..self.buckets.len() {
            let bucket = &mut self.buckets[b];
            if let Some(slot) = bucket.free_slot() {
                bucket.tags[slot] = tag(hash);
                // Fewer than 2^32 filters: each takes far more than 2^32
                // bytes of memory in all before that.
                bucket.entries[slot] = index as u32;
                return;
            }
            bucket.overflow += 1;
            b = (b + 1) & mask;
        }
    }

    /// Rebuilds the buckets, `count` of them (a power of two, or 0 when
    /// there are no filters).
    fn rehash(&mut self, count: usize) {
        self.buckets = vec![Bucket::default(); count];
        if count == 0 {
            return;
        }
        for index in 0..self.entries.len() {
            let hash = self.hash(self.entries[index].key.as_bytes());
            self.place(hash, index);
        }
    }

    /// Subscribes `key` to `filter` (which must have no wildcard). Returns
    /// whether the pair is new; otherwise its QoS is updated.
    pub(crate) fn subscribe(&mut self, filter: &str, key: K, qos: V) -> bool {
        let hash = self.hash(filter.as_bytes());
        if let Some(place) = self.find(filter.as_bytes(), hash) {
            return self.entries[place.entry].subs.upsert(key, qos);
        }
        let mut subs = Subscribers::Empty;
        subs.upsert(key, qos);
        self.entries.push(Entry {
            key: TopicKey::new(filter),
            subs,
        });
        let len = self.entries.len();
        if len > self.buckets.len() * MAX_LOAD {
            // Rehashing places every entry, the new one included. Twice
            // the buckets: 2 filters per bucket again.
            self.rehash((2 * self.buckets.len()).max(1));
        } else {
            self.place(hash, len - 1);
        }
        true
    }

    /// Removes `key` from `filter`. Returns whether it was there. A filter
    /// left without subscribers is removed, and the table shrinks as it
    /// empties, so memory returns.
    pub(crate) fn unsubscribe(&mut self, filter: &str, key: K) -> bool {
        let hash = self.hash(filter.as_bytes());
        let Some(place) = self.find(filter.as_bytes(), hash) else {
            return false;
        };
        let subs = &mut self.entries[place.entry].subs;
        if !subs.remove(key) {
            return false;
        }
        if subs.is_empty() {
            self.remove_entry(hash, place);
            let len = self.entries.len();
            // Shrinking below half a filter per bucket, to about 2 per
            // bucket, keeps the cost amortized O(1) and frees the table once
            // the last filter goes.
            if len * 2 < self.buckets.len() {
                let count = match len {
                    0 => 0,
                    _ => len.div_ceil(MAX_LOAD / 2).next_power_of_two(),
                };
                self.rehash(count);
            }
            if len * 4 < self.entries.capacity() {
                self.entries.shrink_to(len * 2);
            }
        }
        true
    }

    /// Removes the filter at `place` (hashing to `hash`): frees its slot,
    /// uncounts it from the buckets its search passes through, and moves
    /// the last entry into its place in the vector.
    fn remove_entry(&mut self, hash: u64, place: Place) {
        let mask = self.mask();
        let index = place.entry;
        self.buckets[place.bucket].tags[place.slot] = 0;
        let mut b = self.home(hash);
        while b != place.bucket {
            let bucket = &mut self.buckets[b];
            bucket.overflow = bucket.overflow.saturating_sub(1);
            b = (b + 1) & mask;
        }
        self.entries.swap_remove(index);
        let Some(moved) = self.entries.get(index) else {
            return;
        };
        // The entry that was last now sits at `index`: repoint its slot.
        let old = self.entries.len() as u32;
        let moved_hash = self.hash(moved.key.as_bytes());
        let tag = tag(moved_hash);
        let mut b = self.home(moved_hash);
        for _ in 0..self.buckets.len() {
            let bucket = &mut self.buckets[b];
            let slot = slots(bucket.matching(tag)).find(|&s| bucket.entries[s] == old);
            if let Some(slot) = slot {
                bucket.entries[slot] = index as u32;
                return;
            }
            b = (b + 1) & mask;
        }
    }

    /// Calls `f` for every subscriber of the filter equal to `topic`.
    pub(crate) fn for_each_match(&self, topic: &str, f: &mut impl FnMut(K, V)) {
        if self.entries.is_empty() {
            return;
        }
        let hash = self.hash(topic.as_bytes());
        if let Some(place) = self.find(topic.as_bytes(), hash) {
            self.entries[place.entry].subs.report(f);
        }
    }

    /// First stage of fetching `topic`'s filter ahead of time (call it a
    /// few messages ahead): starts loading the topic's home bucket into the
    /// cache without waiting. Only a hint; does nothing on targets without
    /// a prefetch.
    pub(crate) fn prefetch_bucket(&self, topic: &[u8]) {
        if self.entries.is_empty() {
            return;
        }
        if let Some(bucket) = self.buckets.get(self.home(self.hash(topic))) {
            prefetch_read(bucket);
        }
    }

    /// Second stage (call it one message ahead, after
    /// [`ExactIndex::prefetch_bucket`]): reads the home bucket, cached by
    /// now, and starts loading every entry whose tag matches, without
    /// comparing text. Only a hint.
    pub(crate) fn prefetch_entry(&self, topic: &[u8]) {
        if self.entries.is_empty() {
            return;
        }
        let hash = self.hash(topic);
        let tag = tag(hash);
        if let Some(bucket) = self.buckets.get(self.home(hash)) {
            for slot in slots(bucket.matching(tag)) {
                if let Some(entry) = self.entries.get(bucket.entries[slot] as usize) {
                    prefetch_read(entry);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(index: &ExactIndex<u32>, topic: &str) -> Vec<(u32, QoS)> {
        let mut out = Vec::new();
        index.for_each_match(topic, &mut |k, q| out.push((k, q)));
        out.sort();
        out
    }

    /// Checks what lookups rely on: every entry has exactly one slot, found
    /// from its home bucket, and each bucket's overflow counts the entries
    /// whose search passes it.
    fn check_structure(index: &ExactIndex<u32>) {
        let mask = index.mask();
        let mut overflow = vec![0u32; index.buckets.len()];
        let mut seen = vec![false; index.entries.len()];
        for (b, bucket) in index.buckets.iter().enumerate() {
            assert_eq!(bucket.tags[BUCKET_SLOTS], 0, "the eighth tag stays free");
            for slot in (0..BUCKET_SLOTS).filter(|&s| bucket.tags[s] != 0) {
                let e = bucket.entries[slot] as usize;
                assert!(!std::mem::replace(&mut seen[e], true), "entry {e} twice");
                let hash = index.hash(index.entries[e].key.as_bytes());
                assert_eq!(bucket.tags[slot], tag(hash));
                let mut passed = index.home(hash);
                while passed != b {
                    overflow[passed] += 1;
                    passed = (passed + 1) & mask;
                }
            }
        }
        assert!(seen.iter().all(|&s| s), "every entry has a slot");
        let counted: Vec<u32> = index.buckets.iter().map(|b| b.overflow).collect();
        assert_eq!(counted, overflow);
    }

    #[test]
    fn buckets_rarely_overflow_and_stay_consistent() {
        let mut index = ExactIndex::default();
        for i in 0..12_000 {
            index.subscribe(&format!("device/{i}/temp"), 1u32, QoS::AtMostOnce);
        }
        check_structure(&index);
        // 12 000 filters in 4096 buckets of 7 (about 2.9 per bucket): a
        // bucket overflows for about 1 % of them; 5 % would mean that
        // homes cluster (a poor choice of hash bits).
        let spilled: u32 = index.buckets.iter().map(|b| b.overflow).sum();
        assert_eq!(index.buckets.len(), 4096);
        assert!(spilled < 600, "{spilled} searches pass a full bucket");
        assert_eq!(std::mem::size_of::<Bucket>(), 64);
    }

    #[test]
    fn exact_filters_match_only_themselves() {
        assert!(is_exact("a//b") && is_exact("$SYS/x") && is_exact("/"));
        assert!(!is_exact("a/+") && !is_exact("#") && !is_exact("a/#"));
        let mut index = ExactIndex::default();
        assert!(index.subscribe("a//b", 1, QoS::AtMostOnce));
        assert!(index.subscribe("a/b", 2, QoS::AtLeastOnce));
        assert!(!index.subscribe("a/b", 2, QoS::ExactlyOnce));
        assert!(index.subscribe("a/b", 3, QoS::AtMostOnce));
        assert!(index.subscribe("$SYS/x", 4, QoS::AtMostOnce));
        assert_eq!(index.filters(), 3);
        assert_eq!(matched(&index, "a//b"), vec![(1, QoS::AtMostOnce)]);
        assert!(matched(&index, "a/b/").is_empty());
        assert!(matched(&index, "a/").is_empty());
        assert_eq!(
            matched(&index, "a/b"),
            vec![(2, QoS::ExactlyOnce), (3, QoS::AtMostOnce)]
        );
        assert_eq!(matched(&index, "$SYS/x"), vec![(4, QoS::AtMostOnce)]);
        assert!(!index.unsubscribe("a/b", 9));
        assert!(!index.unsubscribe("a/c", 2));
        assert!(index.unsubscribe("a/b", 2));
        assert_eq!(matched(&index, "a/b"), vec![(3, QoS::AtMostOnce)]);
        for (filter, key) in [("a/b", 3), ("a//b", 1), ("$SYS/x", 4)] {
            assert!(index.unsubscribe(filter, key));
            assert!(matched(&index, filter).is_empty());
        }
        assert_eq!(index.filters(), 0);
        assert_eq!(index.buckets.capacity(), 0, "the table is freed");
        assert_eq!(index.entries.capacity(), 0, "the entries are freed");
    }

    #[test]
    fn many_filters_with_removals_in_any_order() {
        // Against a HashMap model: inserts, removals (shifting probe runs
        // back) and shrinking keep every remaining filter findable.
        let mut index = ExactIndex::default();
        let mut model = std::collections::HashMap::new();
        let mut seed = 12345u64;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for round in 0..20_000u32 {
            let n = next() % 3000;
            let filter = format!("dev/{n}/cmd");
            let key = (next() % 3) as u32;
            if next() % 3 == 0 {
                let was = model.remove(&(filter.clone(), key)).is_some();
                assert_eq!(index.unsubscribe(&filter, key), was, "round {round}");
            } else {
                let new = model.insert((filter.clone(), key), ()).is_none();
                assert_eq!(index.subscribe(&filter, key, QoS::AtMostOnce), new);
            }
            if round % 997 == 0 {
                check_structure(&index);
                for n in 0..3000 {
                    let filter = format!("dev/{n}/cmd");
                    let want: Vec<(u32, QoS)> = (0..3)
                        .filter(|k| model.contains_key(&(filter.clone(), *k)))
                        .map(|k| (k, QoS::AtMostOnce))
                        .collect();
                    assert_eq!(matched(&index, &filter), want, "{filter}");
                }
            }
        }
        let filters: std::collections::HashSet<_> = model.keys().map(|(f, _)| f).collect();
        assert_eq!(index.filters(), filters.len());
        for ((filter, key), ()) in model.clone() {
            assert!(index.unsubscribe(&filter, key));
            index.prefetch_bucket(filter.as_bytes());
            index.prefetch_entry(filter.as_bytes());
        }
        assert_eq!(index.filters(), 0);
        assert!(index.buckets.is_empty());
    }
}
