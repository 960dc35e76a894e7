//! The children of one trie node, keyed by topic level.
//!
//! Most nodes have few children (often one: `device/<id>/temp`), a few have
//! very many (`device/<id>` with 100 000 ids). Small fan-out is an
//! exactly-sized `Vec` searched linearly: no hashing and no spare buckets.
//! Past [`SMALL_MAX`] children it becomes a boxed hash table, so lookups
//! stay O(1) however wide the level is. Removal shrinks storage back, so
//! memory returns when subscriptions or retained messages go.
//!
//! The table is hashbrown's raw `HashTable` rather than a `HashMap` so that
//! routing can fetch a child's entry ahead of time ([`Children::prefetch`]):
//! a level 10 000 wide does not stay in the cache, and the entry of the
//! child a topic is routed through would otherwise be a wait on memory.
//!
//! Keys are [`TopicKey`]s: a short level sits in the entry itself, and a
//! scan rejects most siblings on length and end bytes. A binary search over
//! `Box<str>` keys chased a pointer and called `memcmp` per step, which
//! made 10 short levels cost more than hashing.

use std::hash::BuildHasher;

use hashbrown::hash_table::{self, HashTable};

use super::prefetch::prefetch_read;
use super::topic_key::TopicKey;

/// The hasher of wide levels: foldhash is several times faster than the
/// standard SipHash on short level strings, and randomly seeded per map,
/// so clients cannot precompute colliding topics.
type LevelHasher = foldhash::fast::RandomState;

/// Most children kept in the sorted vector before switching to a map.
const SMALL_MAX: usize = 16;
/// A map shrinking to this many children switches back to a vector.
const SMALL_AGAIN: usize = SMALL_MAX / 2;

/// Child nodes of type `N`, keyed by their level text.
#[derive(Debug)]
pub(crate) enum Children<N> {
    /// In no particular order, capacity kept equal to length.
    Small(Vec<(TopicKey, N)>),
    /// Boxed so that every node stays small: inline, the table and its
    /// hasher would grow each leaf.
    Large(Box<Wide<N>>),
}

/// The children of a wide level: a table of `(level, child)` entries
/// hashed by level text.
#[derive(Debug)]
pub(crate) struct Wide<N> {
    table: HashTable<(TopicKey, N)>,
    hasher: LevelHasher,
}

/// How the table rehashes an entry when it grows or shrinks: by its key,
/// as lookups hash the level.
fn entry_hash<N>(hasher: &LevelHasher) -> impl Fn(&(TopicKey, N)) -> u64 + '_ {
    |(key, _)| hasher.hash_one(key.as_bytes())
}

impl<N> Wide<N> {
    fn with_capacity(capacity: usize) -> Self {
        Wide {
            table: HashTable::with_capacity(capacity),
            hasher: LevelHasher::default(),
        }
    }

    fn hash(&self, level: &[u8]) -> u64 {
        self.hasher.hash_one(level)
    }

    fn get(&self, level: &[u8]) -> Option<&N> {
        let found = self.table.find(self.hash(level), |(k, _)| k.is(level));
        found.map(|(_, n)| n)
    }

    fn get_mut(&mut self, level: &[u8]) -> Option<&mut N> {
        let hash = self.hash(level);
        let found = self.table.find_mut(hash, |(k, _)| k.is(level));
        found.map(|(_, n)| n)
    }

    fn get_or_insert_with(&mut self, level: &str, make: impl FnOnce() -> N) -> &mut N {
        let probe = level.as_bytes();
        let hasher = &self.hasher;
        let entry = self.table.entry(
            hasher.hash_one(probe),
            |(k, _)| k.is(probe),
            entry_hash(hasher),
        );
        &mut entry
            .or_insert_with(|| (TopicKey::new(level), make()))
            .into_mut()
            .1
    }

    fn insert(&mut self, key: TopicKey, node: N) {
        let hash = self.hash(key.as_bytes());
        self.table
            .insert_unique(hash, (key, node), entry_hash(&self.hasher));
    }

    fn remove(&mut self, level: &[u8]) -> Option<N> {
        let hash = self.hash(level);
        let entry = self.table.find_entry(hash, |(k, _)| k.is(level)).ok()?;
        let ((_, node), _) = entry.remove();
        if self.table.len() * 4 < self.table.capacity() {
            self.table.shrink_to_fit(entry_hash(&self.hasher));
        }
        Some(node)
    }

    /// Starts fetching the entry of `level` (and of any other child whose
    /// hash tag matches) into the cache, without comparing keys.
    fn prefetch(&self, level: &[u8]) {
        // Every candidate is fetched and none is accepted, so the probe
        // reads only the table's control bytes, which stay cached.
        let _ = self.table.find(self.hash(level), |entry| {
            prefetch_read(entry);
            false
        });
    }
}

impl<N> Default for Children<N> {
    fn default() -> Self {
        Children::Small(Vec::new())
    }
}

impl<N> Children<N> {
    /// Number of children.
    pub(crate) fn len(&self) -> usize {
        match self {
            Children::Small(v) => v.len(),
            Children::Large(m) => m.table.len(),
        }
    }

    /// Whether the children are in a hash table (past [`SMALL_MAX`]).
    pub(crate) fn is_wide(&self) -> bool {
        matches!(self, Children::Large(_))
    }

    /// Whether there are no children.
    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The child at `level` (text or bytes).
    pub(crate) fn get(&self, level: impl AsRef<[u8]>) -> Option<&N> {
        let probe = level.as_ref();
        match self {
            Children::Small(v) => v.iter().find(|(k, _)| k.is(probe)).map(|(_, n)| n),
            Children::Large(m) => m.get(probe),
        }
    }

    /// Starts loading the entry of the child at `level` if this is a wide
    /// level (a small one is read in full by a lookup anyway). Only a hint.
    pub(crate) fn prefetch(&self, level: &[u8]) -> bool {
        match self {
            Children::Small(_) => false,
            Children::Large(m) => {
                m.prefetch(level);
                true
            }
        }
    }

    /// The child at `level`, mutably.
    pub(crate) fn get_mut(&mut self, level: &str) -> Option<&mut N> {
        let probe = level.as_bytes();
        match self {
            Children::Small(v) => v.iter_mut().find(|(k, _)| k.is(probe)).map(|(_, n)| n),
            Children::Large(m) => m.get_mut(probe),
        }
    }

    /// The child at `level`, created with `make` if missing.
    pub(crate) fn get_or_insert_with(&mut self, level: &str, make: impl FnOnce() -> N) -> &mut N {
        self.get_or_insert_widening(level, make).0
    }

    /// [`Children::get_or_insert_with`], also telling whether the insert
    /// turned the small vector into a hash table.
    pub(crate) fn get_or_insert_widening(
        &mut self,
        level: &str,
        make: impl FnOnce() -> N,
    ) -> (&mut N, bool) {
        let probe = level.as_bytes();
        let mut widened = false;
        if let Children::Small(v) = self {
            if v.len() >= SMALL_MAX && !v.iter().any(|(k, _)| k.is(probe)) {
                let mut wide = Wide::with_capacity(v.len() + 1);
                for (key, node) in std::mem::take(v) {
                    wide.insert(key, node);
                }
                *self = Children::Large(Box::new(wide));
                widened = true;
            }
        }
        let child = match self {
            Children::Small(v) => {
                let i = match v.iter().position(|(k, _)| k.is(probe)) {
                    Some(i) => i,
                    None => {
                        v.reserve_exact(1);
                        v.push((TopicKey::new(level), make()));
                        v.len() - 1
                    }
                };
                &mut v[i].1
            }
            Children::Large(m) => m.get_or_insert_with(level, make),
        };
        (child, widened)
    }

    /// Removes and returns the child at `level`, giving back spare storage.
    pub(crate) fn remove(&mut self, level: &str) -> Option<N> {
        let probe = level.as_bytes();
        let removed = match self {
            Children::Small(v) => {
                let i = v.iter().position(|(k, _)| k.is(probe))?;
                let (_, node) = v.swap_remove(i);
                v.shrink_to_fit();
                return Some(node);
            }
            Children::Large(m) => m.remove(probe)?,
        };
        if self.len() <= SMALL_AGAIN {
            let mut small: Vec<(TopicKey, N)> = match std::mem::take(self) {
                Children::Large(m) => m.table.into_iter().collect(),
                Children::Small(v) => v,
            };
            small.shrink_to_fit();
            *self = Children::Small(small);
        }
        Some(removed)
    }

    /// Iterates over `(level, child)` in no particular order.
    pub(crate) fn iter(&self) -> Iter<'_, N> {
        match self {
            Children::Small(v) => Iter::Small(v.iter()),
            Children::Large(m) => Iter::Large(m.table.iter()),
        }
    }
}

/// An iterator over `(level, child)` pairs: all the children of a node, or
/// just one (or none) found by an exact lookup.
pub(crate) enum Iter<'a, N> {
    /// Over a small node's vector.
    Small(std::slice::Iter<'a, (TopicKey, N)>),
    /// Over a large node's table.
    Large(hash_table::Iter<'a, (TopicKey, N)>),
    /// At most one pair, then done.
    One(Option<(&'a str, &'a N)>),
}

impl<'a, N> Iterator for Iter<'a, N> {
    type Item = (&'a str, &'a N);

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            Iter::Small(it) => it.next().map(|(k, n)| (k.as_str(), n)),
            Iter::Large(it) => it.next().map(|(k, n)| (k.as_str(), n)),
            Iter::One(one) => one.take(),
        }
    }
}

/// An owning iterator over child nodes, used to tear trees down.
pub(crate) enum IntoNodes<N> {
    /// A small node's children.
    Small(std::vec::IntoIter<(TopicKey, N)>),
    /// A large node's children.
    Large(hash_table::IntoIter<(TopicKey, N)>),
    /// A single node (a `+` child), then done.
    One(Option<N>),
}

impl<N> Iterator for IntoNodes<N> {
    type Item = N;

    fn next(&mut self) -> Option<N> {
        match self {
            IntoNodes::Small(it) => it.next().map(|(_, n)| n),
            IntoNodes::Large(it) => it.next().map(|(_, n)| n),
            IntoNodes::One(one) => one.take(),
        }
    }
}

impl<N> Children<N> {
    /// Moves the children out, leaving none and no storage.
    pub(crate) fn take_nodes(&mut self) -> IntoNodes<N> {
        match std::mem::take(self) {
            Children::Small(v) => IntoNodes::Small(v.into_iter()),
            Children::Large(m) => IntoNodes::Large(m.table.into_iter()),
        }
    }
}

/// Drops a subtree without recursion, whatever its depth.
///
/// `first` holds the nodes to drop. `edges` moves one node's own children
/// out (as an iterator, or `None` when it has none) so that the node itself
/// then drops shallowly; the frames kept here grow with the depth of the
/// tree, not its width.
pub(crate) fn dismantle<N>(
    first: IntoNodes<N>,
    mut edges: impl FnMut(&mut N) -> [Option<IntoNodes<N>>; 2],
) {
    let mut frames = vec![first];
    while let Some(top) = frames.last_mut() {
        match top.next() {
            None => {
                frames.pop();
            }
            Some(mut node) => frames.extend(edges(&mut node).into_iter().flatten()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_into_a_map_and_back() {
        let mut c: Children<u32> = Children::default();
        for i in 0..100u32 {
            *c.get_or_insert_with(&i.to_string(), || 0) += i;
            assert_eq!(c.len(), i as usize + 1);
        }
        assert!(matches!(c, Children::Large(_)));
        for i in 0..100u32 {
            assert_eq!(c.get(i.to_string()), Some(&i));
        }
        assert_eq!(c.iter().count(), 100);
        for i in 0..95u32 {
            assert_eq!(c.remove(&i.to_string()), Some(i));
            assert_eq!(c.remove(&i.to_string()), None);
        }
        assert!(matches!(&c, Children::Small(v) if v.len() == 5 && v.capacity() == 5));
        assert_eq!(c.get("97"), Some(&97));
        *c.get_mut("97").unwrap() = 1;
        assert_eq!(c.get("97"), Some(&1));
        assert_eq!(c.take_nodes().count(), 5);
        assert!(c.is_empty());
    }
}
