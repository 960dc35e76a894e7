//! Topic filters and their subscribers: which subscribers' filters match a
//! topic name.
//!
//! Filters without wildcards (usually the bulk: one per device) live in an
//! [`ExactIndex`] keyed by their whole text, so routing finds them with one
//! hash probe however many there are. Wildcard filters live in a trie with
//! one node per filter level. A node holds its literal children (see
//! [`Children`]), a separate `+` child and three subscriber lists: `subs`
//! for filters ending at this node, `hash` for filters ending in `/#` right
//! below it and `plus_leaf` for filters ending in `/+` right below it. The
//! last is the common `device/<id>/+`: kept in the node, reporting it reads
//! no other node, which matters when `<id>` is one of 10 000 and every
//! node is a cache miss. Routing a PUBLISH walks the topic's levels,
//! following at each level the literal child and the `+` child and
//! reporting `hash` lists on the way, so its cost grows with the depth of
//! the topic and the number of matches, not with the number of
//! subscriptions.
//!
//! Walks are loops over an explicit stack, never recursion: a 65 535-byte
//! filter can have 32 768 levels.

use std::hash::Hash;

use super::children::{dismantle, Children, IntoNodes};
use super::exact::{is_exact, ExactIndex};
use super::stack::InlineStack;
use super::sublist::Subscribers;
use super::validate::is_valid_topic_filter;
use crate::codec::QoS;

/// One filter level.
struct Node<K, V = QoS> {
    /// Literal children by level text.
    children: Children<Node<K, V>>,
    /// The `+` child, for filters going on past a `+` level.
    plus: Option<Box<Node<K, V>>>,
    /// Subscribers of the filter ending in `+` right below this node.
    plus_leaf: Subscribers<K, V>,
    /// Subscribers of the filter ending in `#` right below this node.
    hash: Subscribers<K, V>,
    /// Subscribers of the filter ending at this node.
    subs: Subscribers<K, V>,
}

impl<K, V> Node<K, V> {
    fn new() -> Self {
        Node {
            children: Children::default(),
            plus: None,
            plus_leaf: Subscribers::Empty,
            hash: Subscribers::Empty,
            subs: Subscribers::Empty,
        }
    }

    /// Number of child nodes, `+` included.
    fn edges(&self) -> usize {
        self.children.len() + usize::from(self.plus.is_some())
    }

    /// Moves the child nodes out, so that this node drops shallowly.
    fn take_edges(&mut self) -> [Option<IntoNodes<Node<K, V>>>; 2] {
        let children = (!self.children.is_empty()).then(|| self.children.take_nodes());
        let plus = self.plus.take().map(|p| IntoNodes::One(Some(*p)));
        [children, plus]
    }
}

impl<K: Copy + Eq, V: Copy> Node<K, V> {
    /// The list of filters that end `at` this node.
    fn list(&self, at: End) -> &Subscribers<K, V> {
        match at {
            End::Here => &self.subs,
            End::Plus => &self.plus_leaf,
            End::Hash => &self.hash,
        }
    }

    /// The list of filters that end `at` this node, mutably.
    fn list_mut(&mut self, at: End) -> &mut Subscribers<K, V> {
        match at {
            End::Here => &mut self.subs,
            End::Plus => &mut self.plus_leaf,
            End::Hash => &mut self.hash,
        }
    }

    /// Number of subscribers in the three lists.
    fn subscribers(&self) -> usize {
        self.subs.len() + self.plus_leaf.len() + self.hash.len()
    }
}

impl<K, V> Drop for Node<K, V> {
    fn drop(&mut self) {
        if self.edges() > 0 {
            let [children, plus] = self.take_edges();
            for first in [children, plus].into_iter().flatten() {
                dismantle(first, Node::take_edges);
            }
        }
    }
}

/// Levels [`SubscriptionTree::prefetch`] walks at most before it gives up
/// finding a wide level: a hint must stay cheap.
const PREFETCH_LEVELS: usize = 4;

/// Which list of its node a filter's subscribers live in.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    /// `subs`: the filter's last level is the node's.
    Here,
    /// `plus_leaf`: the filter ends in `+` below the node.
    Plus,
    /// `hash`: the filter ends in `#` below the node.
    Hash,
}

/// A filter split into the path of levels to its node (`None`: the root)
/// and the list there that holds its subscribers.
fn split_filter(filter: &str) -> (Option<&str>, End) {
    match filter {
        "#" => (None, End::Hash),
        "+" => (None, End::Plus),
        _ => {
            if let Some(path) = filter.strip_suffix("/#") {
                (Some(path), End::Hash)
            } else if let Some(path) = filter.strip_suffix("/+") {
                (Some(path), End::Plus)
            } else {
                (Some(filter), End::Here)
            }
        }
    }
}

/// The level of `topic` starting at byte `start`, and where the next level
/// starts (`None` after the last level).
fn level_at(topic: &str, start: usize) -> (&str, Option<usize>) {
    let rest = topic.get(start..).unwrap_or("");
    // A byte loop: levels are short, and `str::find` sets up a searcher
    // per call, which showed in profiles.
    match rest.bytes().position(|b| b == b'/') {
        Some(i) => (&rest[..i], Some(start + i + 1)),
        None => (rest, None),
    }
}

/// Topic filters and their subscribers: wildcard-free filters in a hash
/// index, the others in a trie of filter levels.
///
/// `K` identifies a subscriber (the broker uses a small session id). Each
/// `(filter, key)` pair holds one QoS. Matching a topic never scans
/// unrelated subscriptions, and memory is given back as subscriptions go.
pub struct SubscriptionTree<K, V = QoS> {
    /// Filters without `+` or `#`.
    exact: ExactIndex<K, V>,
    /// Filters with a wildcard.
    root: Node<K, V>,
    len: usize,
    /// Trie nodes whose children are a hash table: while there are none,
    /// [`SubscriptionTree::prefetch`] has nothing to do in the trie.
    wide_levels: usize,
}

impl<K: Copy + Eq + Hash, V: Copy> Default for SubscriptionTree<K, V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<K: Copy + Eq + Hash, V: Copy> SubscriptionTree<K, V> {
    /// An empty tree; allocates nothing.
    pub fn new() -> Self {
        SubscriptionTree {
            exact: ExactIndex::default(),
            root: Node::new(),
            len: 0,
            wide_levels: 0,
        }
    }

    /// Number of `(filter, key)` pairs.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Whether there are no subscriptions.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Subscribes `key` to `filter` with `qos`.
    ///
    /// Returns `true` if the pair is new, `false` if `key` already had this
    /// filter (its QoS is now `qos`) or if `filter` is not a valid topic
    /// filter (then nothing is stored; the broker validates first).
    /// Filters are compared byte for byte, never normalized.
    pub fn subscribe(&mut self, filter: &str, key: K, qos: V) -> bool {
        if !is_valid_topic_filter(filter) {
            return false;
        }
        if is_exact(filter) {
            let added = self.exact.subscribe(filter, key, qos);
            self.len += usize::from(added);
            return added;
        }
        let (path, end) = split_filter(filter);
        let mut node = &mut self.root;
        for level in path.into_iter().flat_map(|p| p.split('/')) {
            if level == "+" {
                node = node.plus.get_or_insert_with(|| Box::new(Node::new()));
                continue;
            }
            let (child, widened) = node.children.get_or_insert_widening(level, Node::new);
            self.wide_levels += usize::from(widened);
            node = child;
        }
        let added = node.list_mut(end).upsert(key, qos);
        self.len += usize::from(added);
        added
    }

    /// Removes the subscription of `key` to `filter`. Returns whether there
    /// was one. Nodes left empty are removed, so memory returns.
    pub fn unsubscribe(&mut self, filter: &str, key: K) -> bool {
        if !is_valid_topic_filter(filter) {
            return false;
        }
        if is_exact(filter) {
            let removed = self.exact.unsubscribe(filter, key);
            self.len -= usize::from(removed);
            return removed;
        }
        let (path, end) = split_filter(filter);
        let levels = || path.into_iter().flat_map(|p| p.split('/'));

        // First pass, read-only: find the node, check the key is there, and
        // find the shallowest node that removing the key would leave empty.
        // `keep` is the depth of its parent, which survives.
        let mut node = &self.root;
        let mut depth = 0;
        let mut keep = 0;
        for level in levels() {
            if node.subscribers() > 0 || node.edges() > 1 {
                keep = depth;
            }
            let next = if level == "+" {
                node.plus.as_deref()
            } else {
                node.children.get(level)
            };
            let Some(next) = next else {
                return false;
            };
            node = next;
            depth += 1;
        }
        if !node.list(end).contains(key) {
            return false;
        }
        // The key is the node's last subscriber and nothing hangs below.
        let prune = depth > 0 && node.subscribers() == 1 && node.edges() == 0;

        // Second pass: cut the emptied branch below `keep`, or just remove
        // the key from its list.
        let mut node = &mut self.root;
        for (i, level) in levels().enumerate() {
            if prune && i == keep {
                if level == "+" {
                    node.plus = None;
                } else {
                    // The branch cut holds no wide level: below `keep`
                    // every node has one edge at most.
                    let wide = node.children.is_wide();
                    node.children.remove(level);
                    self.wide_levels -= usize::from(wide && !node.children.is_wide());
                }
                self.len -= 1;
                return true;
            }
            let next = if level == "+" {
                node.plus.as_deref_mut()
            } else {
                node.children.get_mut(level)
            };
            let Some(next) = next else {
                return false;
            };
            node = next;
        }
        let removed = node.list_mut(end).remove(key);
        self.len -= usize::from(removed);
        removed
    }

    /// Starts loading the first of what matching `topic` will read from
    /// memory: the bucket of the wildcard-free filters where `topic` would
    /// be. Call it a few messages ahead (the core: three), then
    /// [`SubscriptionTree::prefetch`] one message ahead, which reads that
    /// bucket. Only a hint; nothing (not even hashing) on a target without
    /// a prefetch ([`super::CAN_PREFETCH`]).
    pub fn prefetch_early(&self, topic: &[u8]) {
        if !super::CAN_PREFETCH {
            return;
        }
        self.exact.prefetch_bucket(topic);
    }

    /// Whether [`SubscriptionTree::prefetch_early`] has anything to fetch
    /// (there are wildcard-free filters, on a target with a prefetch):
    /// without, callers can skip looking that far ahead.
    pub fn prefetches_early(&self) -> bool {
        super::CAN_PREFETCH && self.exact.filters() > 0
    }

    /// Starts loading what matching `topic` will read from memory (the
    /// wildcard-free filter equal to it, and the entry of the topic's
    /// level at the first wide trie level on its path), without waiting
    /// for it: called for the next message while this one is routed, it
    /// hides the cache misses of a large subscription set. Only a hint;
    /// nothing on a target without a prefetch ([`super::CAN_PREFETCH`]).
    pub fn prefetch(&self, topic: &[u8]) {
        if !super::CAN_PREFETCH {
            return;
        }
        self.exact.prefetch_entry(topic);
        if self.wide_levels == 0 {
            return;
        }
        // Along the topic's literal path, to the first wide level: that is
        // where a large subscription set (`sub/<id>/...`) misses the cache.
        // Narrow levels on the way are small vectors, read in full by the
        // walk anyway. Bytes, not text: a hint need not validate UTF-8.
        let mut node = &self.root;
        for level in topic.split(|&b| b == b'/').take(PREFETCH_LEVELS) {
            if node.children.prefetch(level) {
                return;
            }
            match node.children.get(level) {
                Some(child) => node = child,
                None => return,
            }
        }
    }

    /// Calls `f(key, qos)` once for every `(filter, key)` pair whose filter
    /// matches the topic name `topic`, in no particular order.
    ///
    /// A key subscribed with two matching filters (`a/+` and `a/#`) is
    /// reported twice; the caller keeps the highest QoS per key. Filters
    /// starting with a wildcard do not match topics starting with `$`
    /// [MQTT-4.7.2-1]. `topic` should be a valid topic name: a `+` or `#`
    /// in it only ever matches wildcards, never a literal level.
    ///
    /// Does not allocate unless more than 16 `+` branches are pending at
    /// once.
    pub fn for_each_match(&self, topic: &str, mut f: impl FnMut(K, V)) {
        self.exact.for_each_match(topic, &mut f);
        // Without wildcard filters (the root holds no `#` and no edge) there
        // is no trie to walk.
        if self.root.edges() == 0 && self.root.subscribers() == 0 {
            return;
        }
        // Pending branches: a node and where its next topic level starts.
        let mut pending: InlineStack<(&Node<K, V>, Option<usize>), 16> = InlineStack::new();
        pending.push((&self.root, Some(0)));
        let mut at_root = true;
        let dollar = topic.starts_with('$');
        while let Some((mut node, mut start)) = pending.pop() {
            loop {
                let Some(at) = start else {
                    // Topic consumed: filters ending here, and `x/#`
                    // matching its parent level `x`.
                    node.subs.report(&mut f);
                    node.hash.report(&mut f);
                    break;
                };
                let wild = !(at_root && dollar);
                at_root = false;
                let (level, next) = level_at(topic, at);
                if wild {
                    node.hash.report(&mut f);
                    if next.is_none() {
                        node.plus_leaf.report(&mut f);
                    }
                    if let Some(plus) = node.plus.as_deref() {
                        pending.push((plus, next));
                    }
                }
                match node.children.get(level) {
                    Some(child) => {
                        node = child;
                        start = next;
                    }
                    None => break,
                }
            }
        }
    }

    /// Number of trie nodes below the root plus wildcard-free filters held
    /// (for tests: 0 once every subscription is gone).
    #[doc(hidden)]
    pub fn node_count(&self) -> usize {
        let mut count = self.exact.filters();
        let mut stack = vec![&self.root];
        while let Some(node) = stack.pop() {
            stack.extend(node.children.iter().map(|(_, n)| n));
            stack.extend(node.plus.as_deref());
            count += 1;
        }
        count - 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn matched(tree: &SubscriptionTree<u32>, topic: &str) -> Vec<(u32, QoS)> {
        let mut out = Vec::new();
        tree.for_each_match(topic, |k, q| out.push((k, q)));
        out.sort();
        out
    }

    #[test]
    fn subscribe_replace_unsubscribe() {
        let mut t = SubscriptionTree::new();
        assert!(t.subscribe("a/+/c", 1, QoS::AtMostOnce));
        assert!(!t.subscribe("a/+/c", 1, QoS::ExactlyOnce));
        assert!(t.subscribe("a/#", 1, QoS::AtLeastOnce));
        assert!(t.subscribe("#", 2, QoS::AtMostOnce));
        assert!(!t.subscribe("a/#/c", 3, QoS::AtMostOnce));
        assert_eq!(t.len(), 3);
        assert_eq!(
            matched(&t, "a/b/c"),
            vec![
                (1, QoS::AtLeastOnce),
                (1, QoS::ExactlyOnce),
                (2, QoS::AtMostOnce)
            ]
        );
        assert_eq!(
            matched(&t, "a"),
            vec![(1, QoS::AtLeastOnce), (2, QoS::AtMostOnce)]
        );
        assert!(matched(&t, "$SYS/a").is_empty());
        assert!(!t.unsubscribe("a/+/c", 2));
        assert!(!t.unsubscribe("a/+", 1));
        assert!(t.unsubscribe("a/+/c", 1));
        assert!(!t.unsubscribe("a/+/c", 1));
        assert_eq!(t.node_count(), 1);
        assert!(t.unsubscribe("a/#", 1));
        assert!(t.unsubscribe("#", 2));
        assert!(t.is_empty());
        assert_eq!(t.node_count(), 0);
    }

    #[test]
    fn prunes_only_the_emptied_branch() {
        let mut t = SubscriptionTree::new();
        t.subscribe("a/b/c/+", 1, QoS::AtMostOnce);
        t.subscribe("a/b/#", 2, QoS::AtMostOnce);
        t.subscribe("a/+/x", 3, QoS::AtMostOnce);
        // a, b, c (holding `+` leaf subscribers: no node of their own), the
        // `+` under a and its x.
        assert_eq!(t.node_count(), 5);
        assert!(t.unsubscribe("a/b/c/+", 1));
        assert_eq!(t.node_count(), 4);
        assert_eq!(matched(&t, "a/b"), vec![(2, QoS::AtMostOnce)]);
        assert!(t.unsubscribe("a/b/#", 2));
        assert_eq!(t.node_count(), 3);
        assert_eq!(matched(&t, "a/q/x"), vec![(3, QoS::AtMostOnce)]);
    }

    #[test]
    fn exact_and_wildcard_filters_overlap() {
        let mut t = SubscriptionTree::new();
        assert!(t.subscribe("a/b", 1, QoS::AtMostOnce));
        assert!(t.subscribe("a/+", 1, QoS::ExactlyOnce));
        assert!(t.subscribe("#", 2, QoS::AtLeastOnce));
        assert!(t.subscribe("a/b", 3, QoS::AtLeastOnce));
        assert!(t.subscribe("a//b", 4, QoS::AtMostOnce));
        assert!(t.subscribe("a/+/b", 5, QoS::AtMostOnce));
        assert!(t.subscribe("$SYS/x", 6, QoS::AtMostOnce));
        assert!(t.subscribe("+/x", 7, QoS::AtMostOnce));
        assert!(!t.subscribe("a/b", 3, QoS::ExactlyOnce));
        assert_eq!(t.len(), 8);
        // Three filters of key 1 and 2 match the same topic: every pair
        // is reported.
        assert_eq!(
            matched(&t, "a/b"),
            vec![
                (1, QoS::AtMostOnce),
                (1, QoS::ExactlyOnce),
                (2, QoS::AtLeastOnce),
                (3, QoS::ExactlyOnce)
            ]
        );
        // Empty levels are levels: `a//b` is matched exactly and by `a/+/b`.
        assert_eq!(
            matched(&t, "a//b"),
            vec![
                (2, QoS::AtLeastOnce),
                (4, QoS::AtMostOnce),
                (5, QoS::AtMostOnce)
            ]
        );
        assert_eq!(
            matched(&t, "a/"),
            vec![(1, QoS::ExactlyOnce), (2, QoS::AtLeastOnce)]
        );
        // `$SYS` topics: the exact filter matches, `#` and `+/x` do not.
        assert_eq!(matched(&t, "$SYS/x"), vec![(6, QoS::AtMostOnce)]);
        assert_eq!(
            matched(&t, "y/x"),
            vec![(2, QoS::AtLeastOnce), (7, QoS::AtMostOnce)]
        );
        // Unsubscribing removes from the index, leaving the wildcards.
        assert!(t.unsubscribe("a/b", 1));
        assert!(!t.unsubscribe("a/b", 1));
        assert_eq!(
            matched(&t, "a/b"),
            vec![
                (1, QoS::ExactlyOnce),
                (2, QoS::AtLeastOnce),
                (3, QoS::ExactlyOnce)
            ]
        );
        assert!(t.unsubscribe("a/b", 3));
        assert!(t.unsubscribe("#", 2));
        assert_eq!(matched(&t, "a/b"), vec![(1, QoS::ExactlyOnce)]);
        for (filter, key) in [
            ("a/+", 1),
            ("a//b", 4),
            ("a/+/b", 5),
            ("$SYS/x", 6),
            ("+/x", 7),
        ] {
            assert!(t.unsubscribe(filter, key), "{filter}");
        }
        assert!(t.is_empty());
        assert_eq!(t.node_count(), 0);
        assert!(matched(&t, "a/b").is_empty());
    }

    #[test]
    fn wide_levels_are_counted_and_prefetching_changes_nothing() {
        let mut t = SubscriptionTree::new();
        for i in 0..40u32 {
            assert!(t.subscribe(&format!("w/{i}/+"), i, QoS::AtMostOnce));
            assert!(t.subscribe(&format!("w/{i}/x"), i, QoS::AtLeastOnce));
        }
        assert_eq!(t.wide_levels, 1, "the level under w holds 40 children");
        for topic in [
            &b"w/7/x"[..],
            b"w/77/x",
            b"w",
            b"",
            b"w/\xff/x",
            b"/w/7",
            b"w/7/x/y/z/q",
        ] {
            t.prefetch_early(topic);
            t.prefetch(topic);
        }
        assert_eq!(
            matched(&t, "w/7/x"),
            vec![(7, QoS::AtMostOnce), (7, QoS::AtLeastOnce)]
        );
        assert!(matched(&t, "w/7").is_empty());
        assert!(matched(&t, "w/7/x/y").is_empty());
        for i in 0..40u32 {
            assert!(t.unsubscribe(&format!("w/{i}/+"), i));
            assert_eq!(t.wide_levels, usize::from(i < 31), "after {i}");
        }
        for i in 0..40u32 {
            assert!(t.unsubscribe(&format!("w/{i}/x"), i));
        }
        assert_eq!((t.wide_levels, t.node_count()), (0, 0));
    }

    #[test]
    fn deep_filters_do_not_recurse() {
        let filter = "+/".repeat(32_767) + "#";
        let topic = "x/".repeat(32_767) + "y";
        let run = move || {
            let mut t = SubscriptionTree::new();
            assert!(t.subscribe(&filter, 1u32, QoS::AtMostOnce));
            assert!(t.subscribe(&topic, 2, QoS::AtMostOnce));
            assert_eq!(matched(&t, &topic).len(), 2);
            assert!(t.unsubscribe(&filter, 1));
            drop(t);
        };
        // A small stack: recursion over 32 768 levels would overflow it.
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(run);
        assert!(handle.map(|h| h.join().is_ok()).unwrap_or(false));
    }
}
