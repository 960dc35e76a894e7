//! Topic ids: the pre-defined ones every client shares, and each client's
//! registry of the names it and the gateway registered.

use super::FastMap;
use std::sync::Arc;

/// The pre-defined topic ids of a gateway (from its settings), both ways.
#[derive(Debug, Default)]
pub(crate) struct Predefined {
    by_id: FastMap<u16, Arc<str>>,
    by_name: FastMap<Arc<str>, u16>,
}

impl Predefined {
    pub(crate) fn new(topics: &[(u16, String)]) -> Predefined {
        let mut predefined = Predefined::default();
        for (id, name) in topics {
            let name: Arc<str> = Arc::from(name.as_str());
            predefined.by_id.insert(*id, Arc::clone(&name));
            predefined.by_name.insert(name, *id);
        }
        predefined
    }

    pub(crate) fn name(&self, id: u16) -> Option<&Arc<str>> {
        self.by_id.get(&id)
    }

    pub(crate) fn id(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }
}

/// One client's registered topic ids. Ids are given out from 1 up, never
/// reused within a connection (MQTT-SN 1.2 section 6.10: an id stays bound
/// to its name until the client connects again).
#[derive(Debug, Default)]
pub(crate) struct Registry {
    by_id: FastMap<u16, Arc<str>>,
    by_name: FastMap<Arc<str>, u16>,
    next: u16,
}

impl Registry {
    pub(crate) fn name(&self, id: u16) -> Option<&Arc<str>> {
        self.by_id.get(&id)
    }

    pub(crate) fn id(&self, name: &str) -> Option<u16> {
        self.by_name.get(name).copied()
    }

    /// The id of `name`, registering it if it has none and fewer than
    /// `max` names are registered; `None` when full (or out of ids).
    pub(crate) fn register(&mut self, name: &str, max: usize, avoid: &Predefined) -> Option<u16> {
        if let Some(id) = self.id(name) {
            return Some(id);
        }
        if self.by_id.len() >= max {
            return None;
        }
        // Ids the client could confuse with a pre-defined one are skipped,
        // and 0x0000 / 0xFFFF are reserved.
        loop {
            self.next = self.next.checked_add(1)?;
            if self.next == 0xFFFF {
                return None;
            }
            if avoid.name(self.next).is_none() && !self.by_id.contains_key(&self.next) {
                break;
            }
        }
        let name: Arc<str> = Arc::from(name);
        self.by_id.insert(self.next, Arc::clone(&name));
        self.by_name.insert(name, self.next);
        Some(self.next)
    }
}

/// The name a short topic id stands for: its two bytes, when they are a
/// valid topic name.
pub(crate) fn short_name(bytes: [u8; 2]) -> Option<String> {
    let name = std::str::from_utf8(&bytes).ok()?;
    crate::topic::is_valid_topic_name(name).then(|| name.to_string())
}

/// The short topic id of `name`, when it is two bytes long.
pub(crate) fn short_id(name: &str) -> Option<u16> {
    match name.as_bytes() {
        &[a, b] => Some(u16::from_be_bytes([a, b])),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_skip_predefined_ones_and_stop_at_the_bound() {
        let predefined = Predefined::new(&[(1, "a/b".into()), (3, "c".into())]);
        let mut registry = Registry::default();
        assert_eq!(registry.register("x", 3, &predefined), Some(2));
        assert_eq!(registry.register("y", 3, &predefined), Some(4));
        assert_eq!(registry.register("x", 3, &predefined), Some(2));
        assert_eq!(registry.register("z", 3, &predefined), Some(5));
        assert_eq!(registry.register("w", 3, &predefined), None);
        assert_eq!(registry.name(4).map(|n| &**n), Some("y"));
    }

    #[test]
    fn short_names_are_two_bytes() {
        assert_eq!(short_id("ab"), Some(0x6162));
        assert_eq!(short_id("abc"), None);
        assert_eq!(short_name(*b"ab").as_deref(), Some("ab"));
        assert_eq!(short_name(*b"a+"), None);
    }
}
