//! Sockets the core has closed, kept open for reading a moment longer so
//! that the last bytes written to them reach the peer.
//!
//! Closing a socket whose receive buffer still holds unread bytes makes the
//! kernel answer with RST instead of FIN, and a peer that receives RST may
//! throw away what it had not read yet: the server's DISCONNECT with its
//! reason (receive maximum exceeded, packet too large...) would be lost
//! exactly when the client was still sending. So a closed socket is shut
//! for writing (FIN goes after the last bytes), and what arrives is read
//! and dropped until the peer closes too, or until [`LINGER`] has passed.
//! At most [`MAX_LINGERING`] sockets linger; past that a socket closes at
//! once, as before.

use std::collections::VecDeque;
use std::io::{self, Read};
use std::net::Shutdown;
use std::time::{Duration, Instant};

use mio::{Interest, Registry, Token};

use super::transport::Stream;

/// How long a closed socket waits for its peer to close.
pub(super) const LINGER: Duration = Duration::from_secs(2);
/// Closed sockets waiting at once, at most (each holds a descriptor).
pub(super) const MAX_LINGERING: usize = 256;
/// Tokens of lingering sockets start here, far above any connection's.
pub(super) const FIRST_LINGER_TOKEN: usize = usize::MAX / 2;
/// Bytes dropped from one lingering socket per readiness event: a peer
/// that keeps sending is left to the deadline.
const DRAIN_BUDGET: usize = 256 * 1024;

/// The lingering sockets, by slot (token [`FIRST_LINGER_TOKEN`] + slot).
#[derive(Default)]
pub(super) struct Lingering {
    slots: Vec<Option<(Stream, Instant)>>,
    free: Vec<usize>,
    /// Slots and their deadlines, oldest first (all wait [`LINGER`], so
    /// this is also deadline order). An entry whose slot has since been
    /// freed, or reused with a later deadline, is skipped.
    deadlines: VecDeque<(usize, Instant)>,
    count: usize,
}

impl Lingering {
    /// Takes a socket the core closed (its last output already written).
    pub(super) fn add(
        &mut self,
        registry: &Registry,
        mut socket: Stream,
        now: Instant,
        buf: &mut [u8],
    ) {
        if self.count >= MAX_LINGERING || socket.shutdown(Shutdown::Write).is_err() {
            let _ = registry.deregister(&mut socket);
            return;
        }
        let slot = self.free.pop().unwrap_or_else(|| {
            self.slots.push(None);
            self.slots.len() - 1
        });
        let token = Token(FIRST_LINGER_TOKEN + slot);
        if registry
            .reregister(&mut socket, token, Interest::READABLE)
            .is_err()
        {
            let _ = registry.deregister(&mut socket);
            self.free.push(slot);
            return;
        }
        let deadline = now + LINGER;
        self.slots[slot] = Some((socket, deadline));
        self.deadlines.push_back((slot, deadline));
        self.count += 1;
        self.drain(registry, slot, buf);
    }

    /// Whether `token` belongs to a lingering socket.
    pub(super) fn owns(token: Token) -> bool {
        token.0 >= FIRST_LINGER_TOKEN
    }

    /// A lingering socket is readable: drops what it sent, and closes it
    /// once the peer has closed.
    pub(super) fn ready(&mut self, registry: &Registry, token: Token, buf: &mut [u8]) {
        if let Some(slot) = token.0.checked_sub(FIRST_LINGER_TOKEN) {
            self.drain(registry, slot, buf);
        }
    }

    /// Closes the sockets whose time is up.
    pub(super) fn expire(&mut self, registry: &Registry, now: Instant) {
        while let Some(&(slot, deadline)) = self.deadlines.front() {
            if deadline > now {
                break;
            }
            self.deadlines.pop_front();
            if matches!(self.slots.get(slot), Some(Some((_, d))) if *d == deadline) {
                self.close(registry, slot);
            }
        }
    }

    /// When the oldest lingering socket must close.
    pub(super) fn next_deadline(&self) -> Option<Instant> {
        self.deadlines.front().map(|&(_, deadline)| deadline)
    }

    /// Reads and drops `slot`'s input until it would block, its budget is
    /// spent, or the peer has closed (then the socket closes).
    fn drain(&mut self, registry: &Registry, slot: usize, buf: &mut [u8]) {
        let Some(Some((socket, _))) = self.slots.get_mut(slot) else {
            return;
        };
        let mut total = 0;
        let finished = loop {
            match socket.read(buf) {
                Ok(0) => break true,
                Ok(n) => {
                    total += n;
                    if total >= DRAIN_BUDGET {
                        break false;
                    }
                }
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => break false,
                Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        if finished {
            self.close(registry, slot);
        }
    }

    fn close(&mut self, registry: &Registry, slot: usize) {
        if let Some((mut socket, _)) = self.slots.get_mut(slot).and_then(Option::take) {
            let _ = registry.deregister(&mut socket);
            self.free.push(slot);
            self.count -= 1;
        }
    }
}
