//! Every connection of the core, by id: slots reused after release, each
//! use told apart by a generation, and the list of those the core has
//! closed and the driver has yet to release.

use std::time::Instant;

use slab::Slab;

use super::connection::{Conn, ConnState};
use super::ConnId;
use crate::peer::Peer;

/// The connections, from accept to release.
#[derive(Default)]
pub(super) struct Conns {
    slab: Slab<Conn>,
    /// Counter giving each accepted connection a distinct generation.
    generation: u32,
    /// Connections closed by the core, awaiting `release`.
    pub(super) closing: Vec<ConnId>,
    /// Connections per listener, from accept to release.
    per_listener: Vec<usize>,
}

impl Conns {
    pub(super) fn get(&self, id: ConnId) -> Option<&Conn> {
        self.slab.get(id.0)
    }

    pub(super) fn get_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.slab.get_mut(id.0)
    }

    /// The connection, unless it is gone or closing.
    pub(super) fn live_mut(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.slab
            .get_mut(id.0)
            .filter(|conn| conn.state != ConnState::Closing)
    }

    /// Adds a connection from `peer` on `listener`; gives its id and
    /// generation.
    pub(super) fn insert(&mut self, peer: Peer, listener: u16, now: Instant) -> (ConnId, u32) {
        self.generation = self.generation.wrapping_add(1);
        let generation = self.generation;
        let id = ConnId(self.slab.insert(Conn::new(peer, listener, generation, now)));
        let index = usize::from(listener);
        if self.per_listener.len() <= index {
            self.per_listener.resize(index + 1, 0);
        }
        self.per_listener[index] += 1;
        (id, generation)
    }

    /// Frees a connection's slot.
    pub(super) fn remove(&mut self, id: ConnId) -> Option<Conn> {
        let conn = self.slab.try_remove(id.0)?;
        if let Some(count) = self.per_listener.get_mut(usize::from(conn.listener)) {
            *count = count.saturating_sub(1);
        }
        Some(conn)
    }

    /// Connections on `listener` now.
    pub(super) fn on_listener(&self, listener: u16) -> usize {
        self.per_listener
            .get(usize::from(listener))
            .copied()
            .unwrap_or(0)
    }

    pub(super) fn len(&self) -> usize {
        self.slab.len()
    }

    pub(super) fn ids(&self) -> Vec<ConnId> {
        self.slab.iter().map(|(index, _)| ConnId(index)).collect()
    }
}
