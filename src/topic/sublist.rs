//! The subscribers of one filter: `(key, QoS)` pairs, one per key.
//!
//! Most filters have exactly one subscriber (`device/<id>/cmd`), so that
//! case is stored inline in the trie node or index entry holding the list:
//! reading it during routing touches no other cache line, and it costs no
//! allocation. Two or more subscribers live in an exactly-sized `Vec`,
//! boxed so that a list is 16 bytes, not 24: a trie node holds three.

use crate::codec::QoS;

/// The `(key, QoS)` pairs of one filter, each key at most once.
#[derive(Debug, Default)]
pub(crate) enum Subscribers<K, V = QoS> {
    /// No subscriber.
    #[default]
    Empty,
    /// Exactly one subscriber, inline (a pair, so it reads as a slice).
    One((K, V)),
    /// Two or more subscribers.
    #[allow(clippy::box_collection)]
    Many(Box<Vec<(K, V)>>),
}

impl<K: Copy + Eq, V: Copy> Subscribers<K, V> {
    /// Number of subscribers.
    pub(crate) fn len(&self) -> usize {
        match self {
            Subscribers::Empty => 0,
            Subscribers::One(_) => 1,
            Subscribers::Many(v) => v.len(),
        }
    }

    /// Whether there is no subscriber.
    pub(crate) fn is_empty(&self) -> bool {
        matches!(self, Subscribers::Empty)
    }

    /// Whether `key` is a subscriber.
    pub(crate) fn contains(&self, key: K) -> bool {
        self.as_slice().iter().any(|(k, _)| *k == key)
    }

    /// The pairs as a slice (one inline pair is a slice of one).
    fn as_slice(&self) -> &[(K, V)] {
        match self {
            Subscribers::Empty => &[],
            Subscribers::One(pair) => std::slice::from_ref(pair),
            Subscribers::Many(v) => v,
        }
    }

    /// Adds `(key, qos)`, or updates the QoS of `key`. Returns whether it
    /// was added.
    pub(crate) fn upsert(&mut self, key: K, qos: V) -> bool {
        match self {
            Subscribers::Empty => {
                *self = Subscribers::One((key, qos));
                true
            }
            Subscribers::One((k, q)) if *k == key => {
                *q = qos;
                false
            }
            Subscribers::One(first) => {
                // `vec!` sizes exactly: two pairs, no spare room.
                *self = Subscribers::Many(Box::new(vec![*first, (key, qos)]));
                true
            }
            Subscribers::Many(v) => {
                if let Some(entry) = v.iter_mut().find(|(k, _)| *k == key) {
                    entry.1 = qos;
                    return false;
                }
                // Most lists hold a few subscribers: size those exactly.
                if v.len() == v.capacity() && v.len() < 4 {
                    v.reserve_exact(1);
                }
                v.push((key, qos));
                true
            }
        }
    }

    /// Removes `key`, giving back spare storage. Returns whether it was
    /// there.
    pub(crate) fn remove(&mut self, key: K) -> bool {
        match self {
            Subscribers::Empty => false,
            Subscribers::One((k, _)) => {
                if *k != key {
                    return false;
                }
                *self = Subscribers::Empty;
                true
            }
            Subscribers::Many(v) => {
                let Some(i) = v.iter().position(|(k, _)| *k == key) else {
                    return false;
                };
                v.swap_remove(i);
                match v.as_slice() {
                    [] => *self = Subscribers::Empty,
                    &[pair] => *self = Subscribers::One(pair),
                    _ if v.len() * 4 < v.capacity() => v.shrink_to(v.len() * 2),
                    _ => {}
                }
                true
            }
        }
    }

    /// Calls `f` for every subscriber.
    pub(crate) fn report(&self, f: &mut impl FnMut(K, V)) {
        match self {
            Subscribers::Empty => {}
            Subscribers::One((k, q)) => f(*k, *q),
            Subscribers::Many(v) => {
                for &(k, q) in v.iter() {
                    f(k, q);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_inline_then_many_and_back() {
        let mut s: Subscribers<u32> = Subscribers::default();
        assert!(s.is_empty());
        assert!(s.upsert(1, QoS::AtMostOnce));
        assert!(!s.upsert(1, QoS::ExactlyOnce));
        assert!(matches!(s, Subscribers::One((1, QoS::ExactlyOnce))));
        assert!(s.upsert(2, QoS::AtLeastOnce));
        assert!(s.upsert(3, QoS::AtLeastOnce));
        assert_eq!(s.len(), 3);
        assert!(s.contains(2) && !s.contains(4));
        let mut seen = Vec::new();
        s.report(&mut |k, q| seen.push((k, q)));
        seen.sort();
        assert_eq!(
            seen,
            vec![
                (1, QoS::ExactlyOnce),
                (2, QoS::AtLeastOnce),
                (3, QoS::AtLeastOnce)
            ]
        );
        assert!(!s.remove(4));
        assert!(s.remove(1));
        assert!(s.remove(3));
        assert!(matches!(s, Subscribers::One((2, QoS::AtLeastOnce))));
        assert!(!s.remove(1));
        assert!(s.remove(2));
        assert!(s.is_empty());
        assert_eq!(s.len(), 0);
    }
}
