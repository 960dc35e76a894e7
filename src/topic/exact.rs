//! Filters without wildcards, indexed by their whole text.
//!
//! A filter with no `+` or `#` matches exactly one topic name: itself, byte
//! for byte (the `$` rule of [MQTT-4.7.2-1] only concerns wildcards). Such
//! filters are usually the bulk of a large subscription set (one per
//! device), and in the trie each cost a walk of several nodes, with the
//! widest level (100 000 device ids) missing the cache on every hop. Here
//! routing costs one hash of the topic and one probe: the key and, for the
//! usual single subscriber, the subscriber list sit in the bucket itself.

use std::collections::HashMap;

use super::sublist::Subscribers;
use super::topic_key::TopicKey;
use crate::codec::QoS;

/// foldhash: several times faster than SipHash on short topics, and seeded
/// randomly per map, so clients cannot precompute colliding filters.
type TopicHasher = foldhash::fast::RandomState;

/// Whether `filter` has no wildcard level, so it belongs in [`ExactIndex`].
pub(crate) fn is_exact(filter: &str) -> bool {
    !filter.bytes().any(|b| b == b'+' || b == b'#')
}

/// Subscribers of wildcard-free filters, keyed by the filter text.
#[derive(Debug)]
pub(crate) struct ExactIndex<K> {
    map: HashMap<TopicKey, Subscribers<K>, TopicHasher>,
}

impl<K> Default for ExactIndex<K> {
    fn default() -> Self {
        ExactIndex {
            map: HashMap::with_hasher(TopicHasher::default()),
        }
    }
}

impl<K: Copy + Eq> ExactIndex<K> {
    /// Number of distinct filters.
    pub(crate) fn filters(&self) -> usize {
        self.map.len()
    }

    /// Subscribes `key` to `filter` (which must have no wildcard). Returns
    /// whether the pair is new; otherwise its QoS is updated.
    pub(crate) fn subscribe(&mut self, filter: &str, key: K, qos: QoS) -> bool {
        match self.map.get_mut(filter.as_bytes()) {
            Some(list) => list.upsert(key, qos),
            None => {
                let mut list = Subscribers::default();
                list.upsert(key, qos);
                self.map.insert(TopicKey::new(filter), list);
                true
            }
        }
    }

    /// Removes `key` from `filter`. Returns whether it was there. A filter
    /// left without subscribers is removed, and the table shrinks as it
    /// empties, so memory returns.
    pub(crate) fn unsubscribe(&mut self, filter: &str, key: K) -> bool {
        let Some(list) = self.map.get_mut(filter.as_bytes()) else {
            return false;
        };
        if !list.remove(key) {
            return false;
        }
        if list.is_empty() {
            self.map.remove(filter.as_bytes());
            // Shrinking at a quarter keeps the cost amortized O(1) and
            // frees the table entirely once the last filter goes.
            if self.map.len() * 4 < self.map.capacity() {
                self.map.shrink_to_fit();
            }
        }
        true
    }

    /// Calls `f` for every subscriber of the filter equal to `topic`.
    pub(crate) fn for_each_match(&self, topic: &str, f: &mut impl FnMut(K, QoS)) {
        if self.map.is_empty() {
            return;
        }
        if let Some(list) = self.map.get(topic.as_bytes()) {
            list.report(f);
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
        assert_eq!(index.map.capacity(), 0, "the table is freed");
    }
}
