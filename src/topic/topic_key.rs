//! A key holding a topic (or topic level) inline when it is short.
//!
//! A `Box<str>` key costs a pointer chase on every probe that finds a
//! matching hash tag: with 100 000 keys that is a cache miss per lookup on
//! top of the bucket's own. Most topics and levels are short
//! (`sensor/42/temp`), so those bytes sit in the bucket or vector entry
//! itself; longer ones fall back to the heap. Maps are looked up by the
//! text's bytes (`Borrow<[u8]>`), so no key is built per lookup: copying
//! the text into an inline key first was measured slower (a variable-length
//! copy, then a stalled wide load) than the one `memcmp` a hit costs.

use std::borrow::Borrow;
use std::hash::{Hash, Hasher};

/// Longest key stored inline: with the length byte and the enum tag, a key
/// is 32 bytes, half a cache line.
const INLINE: usize = 30;

/// The bytes of a topic, inline up to [`INLINE`] bytes, else on the heap.
///
/// Hashes and compares as the `[u8]` it holds, so a map keyed by it is
/// looked up with `topic.as_bytes()` (no key built per lookup).
#[derive(Debug, Clone)]
pub(crate) enum TopicKey {
    /// `len` bytes at the start of `bytes`.
    Inline {
        /// How many bytes of `bytes` are used (at most [`INLINE`]).
        len: u8,
        /// The bytes, zero padded.
        bytes: [u8; INLINE],
    },
    /// A key longer than [`INLINE`] bytes.
    Heap(Box<[u8]>),
}

impl TopicKey {
    /// A key holding `text`.
    pub(crate) fn new(text: &str) -> Self {
        let src = text.as_bytes();
        match u8::try_from(src.len()) {
            Ok(len) if src.len() <= INLINE => {
                let mut bytes = [0; INLINE];
                bytes[..src.len()].copy_from_slice(src);
                TopicKey::Inline { len, bytes }
            }
            _ => TopicKey::Heap(src.into()),
        }
    }

    /// Whether this key holds `text`. Length, first and last byte are
    /// checked before the full comparison: sibling levels (`7`, `12`,
    /// `42`) mostly differ there, and scanning a node's few children then
    /// calls `memcmp` at most for the one that matches.
    #[inline]
    pub(crate) fn is(&self, text: &[u8]) -> bool {
        let bytes = self.as_bytes();
        bytes.len() == text.len()
            && bytes.first() == text.first()
            && bytes.last() == text.last()
            && bytes == text
    }

    /// The text held. Keys are only made from `&str`, so this never sees
    /// invalid UTF-8; the check is the price of not using `unsafe`, paid
    /// only when iterating, never when looking up.
    pub(crate) fn as_str(&self) -> &str {
        std::str::from_utf8(self.as_bytes()).unwrap_or_default()
    }

    /// The bytes held.
    #[inline]
    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            // `len <= INLINE` by construction; `min` keeps the slice in
            // bounds without a panic path.
            TopicKey::Inline { len, bytes } => &bytes[..usize::from(*len).min(INLINE)],
            TopicKey::Heap(b) => b,
        }
    }
}

impl Borrow<[u8]> for TopicKey {
    #[inline]
    fn borrow(&self) -> &[u8] {
        self.as_bytes()
    }
}

impl PartialEq for TopicKey {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for TopicKey {}

impl Hash for TopicKey {
    /// Exactly as `[u8]` hashes, as `Borrow<[u8]>` requires.
    #[inline]
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_bytes().hash(state);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn inline_and_heap_keys_agree_with_their_bytes() {
        assert_eq!(std::mem::size_of::<TopicKey>(), 32);
        let short = "a".repeat(INLINE);
        let long = "b".repeat(INLINE + 1);
        let mut map = HashMap::new();
        for (i, text) in ["", "a//b", "$SYS/x", &short, &long].iter().enumerate() {
            let key = TopicKey::new(text);
            assert_eq!(key.as_bytes(), text.as_bytes());
            let inline = matches!(key, TopicKey::Inline { .. });
            assert_eq!(inline, text.len() <= INLINE, "{text:?}");
            map.insert(key, i);
        }
        assert_eq!(map.get(short.as_bytes()), Some(&3));
        assert_eq!(map.get(long.as_bytes()), Some(&4));
        assert_eq!(map.get("a//b".as_bytes()), Some(&1));
        assert_eq!(map.get("".as_bytes()), Some(&0));
        assert_eq!(map.get("a/b".as_bytes()), None);
        assert_ne!(TopicKey::new("ab"), TopicKey::new("ab\0"));
        for text in ["", "a//b", "$SYS/x", "ab", "ba", "aab", &short, &long] {
            let key = TopicKey::new(text);
            assert!(key.is(text.as_bytes()));
            assert_eq!(key.as_str(), text);
            for other in ["", "a", "a/b", "abb", "aba", &short[1..], &long[1..]] {
                assert_eq!(key.is(other.as_bytes()), text == other, "{text} {other}");
            }
        }
    }
}
