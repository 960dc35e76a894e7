//! Filters without wildcards, indexed by their whole text.
//!
//! A filter with no `+` or `#` matches exactly one topic name: itself, byte
//! for byte (the `$` rule of [MQTT-4.7.2-1] only concerns wildcards). Such
//! filters are usually the bulk of a large subscription set (one per
//! device), and in the trie each cost a walk of several nodes, with the
//! widest level (100 000 device ids) missing the cache on every hop. Here
//! routing costs one hash of the topic and one probe: the key and, for the
//! usual single subscriber, the subscriber list sit in the bucket itself.

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

/// One bucket: a filter with its subscribers, or empty (`hash == 0`).
/// Aligned to a cache line, which it fills: a probe then touches one line,
/// not two (the allocator aligns the table to 16 bytes only).
#[derive(Debug)]
#[repr(align(64))]
struct Slot<K> {
    /// The filter's hash with the low bit set (so never 0), 0 when empty.
    hash: u64,
    key: TopicKey,
    subs: Subscribers<K>,
}

impl<K> Slot<K> {
    fn empty() -> Self {
        Slot {
            hash: 0,
            key: TopicKey::new(""),
            subs: Subscribers::Empty,
        }
    }
}

/// The bucket where a filter with `hash` would sit if nothing were in the
/// way. Not the low bits: they are forced to 1 (see [`Slot::hash`]), which
/// would leave every even bucket without a home and double the clusters.
#[inline]
fn home(hash: u64, mask: usize) -> usize {
    (hash >> 1) as usize & mask
}

/// Subscribers of wildcard-free filters, keyed by the filter text: an
/// open-addressing table with linear probing.
///
/// A table of its own rather than a `HashMap` so that routing can ask for
/// a topic's bucket ahead of time ([`ExactIndex::prefetch`]): with 100 000
/// filters the bucket is in main memory, and fetching it while the packet
/// before is being routed hides most of that wait.
#[derive(Debug)]
pub(crate) struct ExactIndex<K> {
    /// Power-of-two length (or empty), at most 3/4 full.
    slots: Vec<Slot<K>>,
    len: usize,
    hasher: TopicHasher,
}

impl<K> Default for ExactIndex<K> {
    fn default() -> Self {
        ExactIndex {
            slots: Vec::new(),
            len: 0,
            hasher: TopicHasher::default(),
        }
    }
}

impl<K: Copy + Eq> ExactIndex<K> {
    /// Number of distinct filters.
    pub(crate) fn filters(&self) -> usize {
        self.len
    }

    fn hash(&self, text: &[u8]) -> u64 {
        self.hasher.hash_one(text) | 1
    }

    fn mask(&self) -> usize {
        self.slots.len().wrapping_sub(1)
    }

    /// The bucket holding `text`, if any.
    fn find(&self, text: &[u8], hash: u64) -> Option<usize> {
        if self.slots.is_empty() {
            return None;
        }
        let mask = self.mask();
        let mut i = home(hash, mask);
        loop {
            let slot = &self.slots[i];
            if slot.hash == 0 {
                return None;
            }
            if slot.hash == hash && slot.key.is(text) {
                return Some(i);
            }
            i = (i + 1) & mask;
        }
    }

    /// Rebuilds the table with `capacity` buckets (a power of two that
    /// holds every filter within the load limit).
    fn rehash(&mut self, capacity: usize) {
        let old = std::mem::take(&mut self.slots);
        if capacity == 0 {
            return;
        }
        self.slots.resize_with(capacity, Slot::empty);
        let mask = capacity - 1;
        for slot in old.into_iter().filter(|slot| slot.hash != 0) {
            let mut i = home(slot.hash, mask);
            while self.slots[i].hash != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }

    /// Subscribes `key` to `filter` (which must have no wildcard). Returns
    /// whether the pair is new; otherwise its QoS is updated.
    pub(crate) fn subscribe(&mut self, filter: &str, key: K, qos: QoS) -> bool {
        let hash = self.hash(filter.as_bytes());
        if let Some(i) = self.find(filter.as_bytes(), hash) {
            return self.slots[i].subs.upsert(key, qos);
        }
        // Grow at 3/4 full: linear probing stays short below that.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            let capacity = (self.slots.len() * 2).max(8);
            self.rehash(capacity);
        }
        let mask = self.mask();
        let mut i = home(hash, mask);
        while self.slots[i].hash != 0 {
            i = (i + 1) & mask;
        }
        let mut subs = Subscribers::Empty;
        subs.upsert(key, qos);
        self.slots[i] = Slot {
            hash,
            key: TopicKey::new(filter),
            subs,
        };
        self.len += 1;
        true
    }

    /// Removes `key` from `filter`. Returns whether it was there. A filter
    /// left without subscribers is removed, and the table shrinks as it
    /// empties, so memory returns.
    pub(crate) fn unsubscribe(&mut self, filter: &str, key: K) -> bool {
        let hash = self.hash(filter.as_bytes());
        let Some(hole) = self.find(filter.as_bytes(), hash) else {
            return false;
        };
        if !self.slots[hole].subs.remove(key) {
            return false;
        }
        if self.slots[hole].subs.is_empty() {
            self.remove_slot(hole);
            self.len -= 1;
            // Shrinking at a quarter keeps the cost amortized O(1) and
            // frees the table entirely once the last filter goes.
            if self.len * 4 < self.slots.len() {
                let capacity = if self.len == 0 {
                    0
                } else {
                    (self.len * 2).next_power_of_two().max(8)
                };
                self.rehash(capacity);
            }
        }
        true
    }

    /// Empties bucket `hole`, moving back the entries of its probe run that
    /// would no longer be found past the gap (no tombstones).
    fn remove_slot(&mut self, mut hole: usize) {
        let mask = self.mask();
        self.slots[hole] = Slot::empty();
        let mut i = (hole + 1) & mask;
        while self.slots[i].hash != 0 {
            let home_slot = home(self.slots[i].hash, mask);
            // Distance from home to i and to the hole, along the probe
            // direction: the entry may move back only if the hole is on
            // its way from home.
            if (i.wrapping_sub(home_slot) & mask) >= (i.wrapping_sub(hole) & mask) {
                self.slots.swap(hole, i);
                hole = i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Calls `f` for every subscriber of the filter equal to `topic`.
    pub(crate) fn for_each_match(&self, topic: &str, f: &mut impl FnMut(K, QoS)) {
        if self.len == 0 {
            return;
        }
        let hash = self.hash(topic.as_bytes());
        if let Some(i) = self.find(topic.as_bytes(), hash) {
            self.slots[i].subs.report(f);
        }
    }

    /// Starts fetching the bucket where `topic` would be, and the one
    /// after it, into the cache without waiting: call it for the next
    /// message while routing this one. At 3/4 load a third of the lookups
    /// go on past their home bucket (and a topic nobody subscribed to
    /// exactly always does). Only a hint; does nothing on targets without
    /// a prefetch.
    pub(crate) fn prefetch(&self, topic: &[u8]) {
        if self.len == 0 {
            return;
        }
        let mask = self.mask();
        let home = home(self.hash(topic), mask);
        for i in [home, (home + 1) & mask] {
            if let Some(slot) = self.slots.get(i) {
                prefetch_read(slot);
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

    #[test]
    fn homes_use_every_bucket_and_probe_runs_stay_short() {
        let mut index = ExactIndex::default();
        for i in 0..12_000 {
            index.subscribe(&format!("device/{i}/temp"), 1u32, QoS::AtMostOnce);
        }
        let mask = index.mask();
        let homes: Vec<(usize, usize)> = index
            .slots
            .iter()
            .enumerate()
            .filter(|(_, slot)| slot.hash != 0)
            .map(|(i, slot)| (i, home(slot.hash, mask)))
            .collect();
        // Homes taken from the hash's low bit, which is forced to 1, were
        // all odd: half the table could only hold overflow.
        let even = homes.iter().filter(|(_, home)| home % 2 == 0).count();
        assert!(
            even * 3 > homes.len(),
            "{even} of {} homes even",
            homes.len()
        );
        // Linear probing at this load (12 000 in 16 384 buckets) averages
        // about 1.3 buckets past home.
        let total: usize = homes
            .iter()
            .map(|&(i, home)| i.wrapping_sub(home) & mask)
            .sum();
        let mean = total as f64 / homes.len() as f64;
        assert!(mean < 2.0, "mean displacement {mean}");
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
        assert_eq!(index.slots.capacity(), 0, "the table is freed");
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
            index.prefetch(filter.as_bytes());
        }
        assert_eq!(index.filters(), 0);
        assert!(index.slots.is_empty());
    }
}
