//! A set of packet ids kept sorted: the inbound QoS 2 ids a session holds
//! until their PUBREL.
//!
//! Every QoS 2 PUBLISH asks whether its id is held, then adds it; every
//! PUBREL takes one out. In an unsorted list each of these looked through
//! all of a publisher's window (a tenth of a QoS 2 fan-in's instructions
//! at a window of 100); sorted, they are binary searches, and as ids come
//! in ascending order an id is nearly always added at the end.

use crate::codec::PacketId;

/// Packet ids, each at most once, in ascending order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct PacketIds {
    ids: Vec<PacketId>,
}

impl PacketIds {
    /// Whether `id` is in the set.
    #[inline]
    pub(crate) fn contains(&self, id: PacketId) -> bool {
        self.ids.binary_search(&id).is_ok()
    }

    /// Adds `id`; false if it was there already.
    #[inline]
    pub(crate) fn insert(&mut self, id: PacketId) -> bool {
        // Ascending ids (all but the wrap from 65 535 to 1) go at the end
        // without a search.
        if self.ids.last().is_none_or(|&last| last < id) {
            self.ids.push(id);
            return true;
        }
        match self.ids.binary_search(&id) {
            Ok(_) => false,
            Err(at) => {
                self.ids.insert(at, id);
                true
            }
        }
    }

    /// Takes `id` out; false if it was not there.
    #[inline]
    pub(crate) fn remove(&mut self, id: PacketId) -> bool {
        match self.ids.binary_search(&id) {
            Ok(at) => {
                self.ids.remove(at);
                true
            }
            Err(_) => false,
        }
    }

    /// How many ids the set holds.
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.ids.len()
    }
}

impl From<Vec<PacketId>> for PacketIds {
    /// The set of the ids in `ids`, in any order, repeats dropped.
    fn from(mut ids: Vec<PacketId>) -> PacketIds {
        ids.sort_unstable();
        ids.dedup();
        PacketIds { ids }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_set_across_the_wrap() {
        let mut set = PacketIds::default();
        assert!(set.insert(65_534));
        assert!(set.insert(65_535));
        assert!(set.insert(1));
        assert!(set.insert(2));
        assert!(!set.insert(1));
        assert!(!set.insert(65_535));
        assert_eq!(set.ids, vec![1, 2, 65_534, 65_535]);
        assert!(set.contains(2) && set.contains(65_534) && !set.contains(3));
        assert!(set.remove(65_534));
        assert!(!set.remove(65_534));
        assert!(set.remove(1));
        assert_eq!(set.len(), 2);
        assert_eq!(PacketIds::from(vec![9, 3, 9, 5]).ids, vec![3, 5, 9]);
    }
}
