//! The retained-message tree: one value per topic name, found by filter.
//!
//! A trie of topic levels. Looking up a filter follows literal levels
//! directly and fans out only at `+` and `#`, so a query for one exact topic
//! touches one path, and `#` visits each stored topic once. Topic names are
//! not stored whole: they are rebuilt level by level in one buffer during a
//! walk. All walks are loops, never recursion (topics can have 32 768
//! levels).

use super::children::{dismantle, Children, IntoNodes, Iter};
use super::validate::is_valid_topic_filter;

/// One topic level.
struct Node<V> {
    children: Children<Node<V>>,
    value: Option<V>,
}

impl<V> Node<V> {
    fn new() -> Self {
        Node {
            children: Children::default(),
            value: None,
        }
    }

    /// Moves the child nodes out, so that this node drops shallowly.
    fn take_edges(&mut self) -> [Option<IntoNodes<Node<V>>>; 2] {
        [
            (!self.children.is_empty()).then(|| self.children.take_nodes()),
            None,
        ]
    }
}

impl<V> Drop for Node<V> {
    fn drop(&mut self) {
        if !self.children.is_empty() {
            dismantle(self.children.take_nodes(), Node::take_edges);
        }
    }
}

/// What remains to match below a node during a walk.
#[derive(Clone, Copy)]
enum Rest {
    /// The filter level starting at this byte offset.
    At(usize),
    /// Nothing: the filter is consumed and the node itself matches.
    Done,
    /// Everything: a `#` matched, so the whole subtree matches.
    All,
}

/// One level of a walk: children still to visit and what they must match.
struct Frame<'a, V> {
    children: Iter<'a, Node<V>>,
    /// Length of the topic buffer up to (excluding) these children.
    prefix: usize,
    /// Whether these children are first-level topics (no `/` before them).
    first: bool,
    /// Skip children whose level starts with `$` (wildcard at the root).
    skip_dollar: bool,
    rest: Rest,
}

/// Retained values by topic name, as a trie of topic levels.
///
/// Holds at most one `V` per topic name. Topic names are compared byte for
/// byte; the tree does not validate them (the broker refuses invalid names
/// before they get here) and simply stores them verbatim.
pub struct RetainedTree<V> {
    root: Node<V>,
    len: usize,
    /// How many of the `len` topics are `$SYS` ones.
    sys_len: usize,
}

/// Whether `topic` is a `$SYS` topic (the broker's own statistics).
fn is_sys(topic: &str) -> bool {
    topic == "$SYS" || topic.starts_with("$SYS/")
}

impl<V> Default for RetainedTree<V> {
    fn default() -> Self {
        Self::new()
    }
}

impl<V> RetainedTree<V> {
    /// An empty tree; allocates nothing.
    pub fn new() -> Self {
        RetainedTree {
            root: Node::new(),
            len: 0,
            sys_len: 0,
        }
    }

    /// Number of stored topics.
    pub fn len(&self) -> usize {
        self.len
    }

    /// Number of stored `$SYS` topics (`$SYS` itself and `$SYS/...`), the
    /// broker's own statistics among them.
    pub fn sys_len(&self) -> usize {
        self.sys_len
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Stores `value` for `topic`, returning the value it replaces.
    pub fn insert(&mut self, topic: &str, value: V) -> Option<V> {
        let mut node = &mut self.root;
        for level in topic.split('/') {
            node = node.children.get_or_insert_with(level, Node::new);
        }
        let old = node.value.replace(value);
        if old.is_none() {
            self.len += 1;
            self.sys_len += usize::from(is_sys(topic));
        }
        old
    }

    /// The value stored for `topic`.
    pub fn get(&self, topic: &str) -> Option<&V> {
        let mut node = &self.root;
        for level in topic.split('/') {
            node = node.children.get(level)?;
        }
        node.value.as_ref()
    }

    /// Removes and returns the value stored for `topic`. Nodes left empty
    /// are removed, so memory returns.
    pub fn remove(&mut self, topic: &str) -> Option<V> {
        // First pass, read-only: find the node and the depth of the deepest
        // node on the path that survives once the topic's node is gone.
        let mut node = &self.root;
        let mut keep = 0;
        for (depth, level) in topic.split('/').enumerate() {
            if node.value.is_some() || node.children.len() > 1 {
                keep = depth;
            }
            node = node.children.get(level)?;
        }
        node.value.as_ref()?;
        let prune = node.children.is_empty();

        // Second pass: take the value.
        let mut node = &mut self.root;
        for level in topic.split('/') {
            node = node.children.get_mut(level)?;
        }
        let old = node.value.take()?;
        self.len -= 1;
        self.sys_len -= usize::from(is_sys(topic));

        // Third pass: cut the emptied branch below `keep`.
        if prune {
            let mut node = &mut self.root;
            for (i, level) in topic.split('/').enumerate() {
                if i == keep {
                    node.children.remove(level);
                    break;
                }
                let Some(next) = node.children.get_mut(level) else {
                    break;
                };
                node = next;
            }
        }
        Some(old)
    }

    /// Calls `f(topic, value)` for every stored topic that the topic filter
    /// `filter` matches, in no particular order.
    ///
    /// Follows [`super::matches`]: `+` matches one level, `#` any number
    /// (`a/#` also yields `a`), and a filter starting with a wildcard skips
    /// topics starting with `$` [MQTT-4.7.2-1]. An invalid filter matches
    /// nothing. `topic` points into a buffer reused for the whole walk.
    pub fn for_each_match(&self, filter: &str, f: impl FnMut(&str, &V)) {
        if is_valid_topic_filter(filter) {
            self.walk(filter, Rest::At(0), f);
        }
    }

    /// Calls `f(topic, value)` for every stored topic, `$` topics included,
    /// in no particular order (for snapshots).
    pub fn for_each(&self, f: impl FnMut(&str, &V)) {
        self.walk("", Rest::All, f);
    }

    /// Walks the nodes matching `rest` of `filter` from the root.
    fn walk<'a>(&'a self, filter: &'a str, rest: Rest, mut f: impl FnMut(&str, &V)) {
        let mut topic = String::new();
        let mut frames: Vec<Frame<'a, V>> = Vec::new();
        // Enters `node`, whose topic is in `topic`, with `rest` to match.
        let mut enter =
            |node: &'a Node<V>, rest: Rest, root: bool, topic: &str| -> Option<Frame<'a, V>> {
                let frame = |children, skip_dollar, rest| Frame {
                    children,
                    prefix: topic.len(),
                    first: root,
                    skip_dollar,
                    rest,
                };
                let at = match rest {
                    Rest::Done => {
                        if let Some(v) = &node.value {
                            f(topic, v);
                        }
                        return None;
                    }
                    Rest::All => {
                        if let Some(v) = &node.value {
                            f(topic, v);
                        }
                        return (!node.children.is_empty())
                            .then(|| frame(node.children.iter(), false, Rest::All));
                    }
                    Rest::At(at) => at,
                };
                let level_text = filter.get(at..).unwrap_or("");
                let (level, next) = match level_text.find('/') {
                    Some(i) => (&level_text[..i], Rest::At(at + i + 1)),
                    None => (level_text, Rest::Done),
                };
                match level {
                    "#" => {
                        // `a/#` matches `a` itself; the root never has a value.
                        if let Some(v) = &node.value {
                            f(topic, v);
                        }
                        Some(frame(node.children.iter(), root, Rest::All))
                    }
                    "+" => Some(frame(node.children.iter(), root, next)),
                    _ => {
                        let child = node.children.get(level).map(|c| (level, c));
                        Some(frame(Iter::One(child), false, next))
                    }
                }
            };
        frames.extend(enter(&self.root, rest, true, &topic));
        while let Some(frame) = frames.last_mut() {
            let Some((level, child)) = frame.children.next() else {
                frames.pop();
                continue;
            };
            if frame.skip_dollar && level.starts_with('$') {
                continue;
            }
            topic.truncate(frame.prefix);
            if !frame.first {
                topic.push('/');
            }
            topic.push_str(level);
            let rest = frame.rest;
            frames.extend(enter(child, rest, false, &topic));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(tree: &RetainedTree<u32>, filter: &str) -> Vec<(String, u32)> {
        let mut out = Vec::new();
        tree.for_each_match(filter, |t, v| out.push((t.to_string(), *v)));
        out.sort();
        out
    }

    fn pairs(list: &[(&str, u32)]) -> Vec<(String, u32)> {
        list.iter().map(|(t, v)| (t.to_string(), *v)).collect()
    }

    #[test]
    fn insert_get_match_remove() {
        let mut t = RetainedTree::new();
        assert_eq!(t.insert("a/b", 1), None);
        assert_eq!(t.insert("a/b", 2), Some(1));
        t.insert("a", 3);
        t.insert("/x", 4);
        t.insert("$SYS/up", 5);
        t.insert("a//c/", 6);
        assert_eq!(t.len(), 5);
        assert_eq!(t.get("a/b"), Some(&2));
        assert_eq!(t.get("a/"), None);
        assert_eq!(
            found(&t, "a/#"),
            pairs(&[("a", 3), ("a//c/", 6), ("a/b", 2)])
        );
        assert_eq!(found(&t, "+/+"), pairs(&[("/x", 4), ("a/b", 2)]));
        assert_eq!(found(&t, "#").len(), 4);
        assert_eq!(found(&t, "$SYS/#"), pairs(&[("$SYS/up", 5)]));
        assert_eq!(found(&t, "a//+/"), pairs(&[("a//c/", 6)]));
        assert_eq!(found(&t, "a/#/b"), vec![]);
        let mut all = 0;
        t.for_each(|_, _| all += 1);
        assert_eq!(all, 5);
        assert_eq!(t.remove("a"), Some(3));
        assert_eq!(t.remove("a"), None);
        assert_eq!(t.remove("a/b/c"), None);
        assert_eq!(t.get("a/b"), Some(&2));
        for topic in ["a/b", "/x", "$SYS/up", "a//c/"] {
            assert!(t.remove(topic).is_some());
        }
        assert!(t.is_empty());
        assert!(t.root.children.is_empty());
    }

    #[test]
    fn deep_topics_do_not_recurse() {
        let topic = "x/".repeat(32_767) + "y";
        let run = move || {
            let mut t = RetainedTree::new();
            t.insert(&topic, 1u32);
            t.insert("x", 2);
            assert_eq!(found(&t, "#").len(), 2);
            assert_eq!(t.remove("x"), Some(2));
            drop(t);
        };
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(run);
        assert!(handle.map(|h| h.join().is_ok()).unwrap_or(false));
    }
}
