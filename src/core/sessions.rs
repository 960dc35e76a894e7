//! Every session of the core, by key and by client id: the one place that
//! keeps the two in step and hands out generated client ids.

use std::collections::HashMap;
use std::sync::Arc;

use slab::Slab;

use super::session::Session;
use super::SessionKey;

/// The sessions, online and offline.
#[derive(Default)]
pub(super) struct Sessions {
    slab: Slab<Session>,
    by_client_id: HashMap<Arc<str>, SessionKey>,
    /// Counter for generated client ids.
    next_auto_id: u64,
}

impl Sessions {
    pub(super) fn get(&self, key: SessionKey) -> Option<&Session> {
        self.slab.get(key.0 as usize)
    }

    pub(super) fn get_mut(&mut self, key: SessionKey) -> Option<&mut Session> {
        self.slab.get_mut(key.0 as usize)
    }

    /// The session of a client id.
    pub(super) fn key_of(&self, client_id: &str) -> Option<SessionKey> {
        self.by_client_id.get(client_id).copied()
    }

    /// The key the next inserted session gets.
    pub(super) fn next_key(&self) -> SessionKey {
        SessionKey(self.slab.vacant_key() as u32)
    }

    /// Adds a session under its client id (which must not have one).
    pub(super) fn insert(&mut self, session: Session) -> SessionKey {
        let client_id = Arc::clone(&session.client_id);
        let key = SessionKey(self.slab.insert(session) as u32);
        self.by_client_id.insert(client_id, key);
        key
    }

    /// Takes a session out, and its client id with it.
    pub(super) fn remove(&mut self, key: SessionKey) -> Option<Session> {
        if !self.slab.contains(key.0 as usize) {
            return None;
        }
        let session = self.slab.remove(key.0 as usize);
        if self.by_client_id.get(&session.client_id) == Some(&key) {
            self.by_client_id.remove(&session.client_id);
        }
        Some(session)
    }

    pub(super) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (SessionKey, &Session)> {
        self.slab
            .iter()
            .map(|(index, session)| (SessionKey(index as u32), session))
    }

    /// A client id no session has, for a client that connects with an
    /// empty one: `prefix` and a counter.
    pub(super) fn generate_client_id(&mut self, prefix: &str) -> String {
        loop {
            self.next_auto_id += 1;
            let id = format!("{prefix}{:x}", self.next_auto_id);
            if !self.by_client_id.contains_key(id.as_str()) {
                return id;
            }
        }
    }
}
