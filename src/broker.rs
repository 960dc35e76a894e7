//! The embedding API: [`Broker`], owned by the thread that runs it, and
//! [`BrokerHandle`], usable from any thread.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use crate::core::{Message, Stats};
use crate::reactor::{Command, Reactor, Shared};
use crate::{Config, Error, QoS};

/// An MQTT broker running in the caller's thread.
///
/// [`Broker::new`] binds the listeners; [`Broker::run`] then serves until a
/// [`BrokerHandle::stop`]. A host with its own event loop calls
/// [`Broker::run_once`] instead, waiting on [`Broker::raw_fd`] and
/// [`Broker::next_deadline`] in between.
///
/// `Broker` is `Send` (it can be moved to the thread that will run it) but
/// is used from one thread at a time; everything other threads need goes
/// through [`Broker::handle`].
pub struct Broker {
    reactor: Reactor,
    handle: BrokerHandle,
}

impl Broker {
    /// Validates `config` and binds its listeners. Port 0 picks a free port
    /// (read it back with [`Broker::local_addrs`]).
    ///
    /// # Errors
    /// [`Error::Config`] for an unusable value, [`Error::Bind`] when an
    /// address cannot be bound, [`Error::Io`] when the poll cannot be made.
    pub fn new(config: Config) -> Result<Broker, Error> {
        let (sender, receiver): (Sender<Command>, Receiver<Command>) =
            crossbeam_channel::unbounded();
        let (reactor, shared) = Reactor::new(config, receiver)?;
        for addr in reactor.local_addrs() {
            log::info!("listening on {addr}");
        }
        Ok(Broker {
            reactor,
            handle: BrokerHandle { sender, shared },
        })
    }

    /// The addresses the listeners are bound to, in the order of
    /// `Config::listeners`.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.reactor.local_addrs().to_vec()
    }

    /// The first listener's address.
    pub fn local_addr(&self) -> SocketAddr {
        // `Config::validate` guarantees at least one listener.
        self.reactor.local_addrs()[0]
    }

    /// A handle for other threads (cheap to clone).
    pub fn handle(&self) -> BrokerHandle {
        self.handle.clone()
    }

    /// Serves until the broker is stopped through a handle.
    ///
    /// # Errors
    /// [`Error::Io`] if polling fails.
    pub fn run(&mut self) -> Result<(), Error> {
        while self.reactor.run_once(None)? {}
        Ok(())
    }

    /// Does one pass: waits up to `timeout` (`None`: until something
    /// happens) for sockets, commands or timers, handles them, and returns.
    /// Returns `Ok(false)` once the broker has stopped.
    ///
    /// # Errors
    /// [`Error::Io`] if polling fails.
    pub fn run_once(&mut self, timeout: Option<Duration>) -> Result<bool, Error> {
        self.reactor.run_once(timeout)
    }

    /// The file descriptor of the broker's poll: it is readable when a pass
    /// has work to do. Wait on it with `poll(2)`/`select(2)`/`epoll` beside
    /// your own descriptors, and call `run_once(Some(Duration::ZERO))` when
    /// it is readable or [`Broker::next_deadline`] has passed.
    #[cfg(unix)]
    pub fn raw_fd(&self) -> std::os::unix::io::RawFd {
        self.reactor.raw_fd()
    }

    /// When the broker next needs a pass even if its descriptor stays
    /// quiet (keepalive and session timers); `None` when there is no timer.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.reactor.next_deadline()
    }

    /// The counters, read directly on the broker's thread.
    pub fn stats(&self) -> Stats {
        self.reactor.core().stats()
    }

    /// Whether the broker has stopped.
    pub fn is_stopped(&self) -> bool {
        self.reactor.is_stopped()
    }
}

/// A thread-safe handle to a [`Broker`]: publish, stop, kick, query.
///
/// Requests are queued on a channel and carried out at the broker's next
/// pass, never re-entrantly, so a handle may be used from a hook on the
/// broker thread too.
#[derive(Clone)]
pub struct BrokerHandle {
    sender: Sender<Command>,
    shared: Arc<Shared>,
}

impl BrokerHandle {
    /// Publishes a message as the host, to every matching subscriber (and
    /// the retained store when `retain` is set; an empty retained payload
    /// clears the topic).
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for a topic that is empty, has wildcards or
    /// is longer than 65 535 bytes; [`Error::Stopped`] once the broker has
    /// stopped.
    pub fn publish(&self, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> Result<(), Error> {
        if !crate::topic::is_valid_topic_name(topic) {
            return Err(Error::InvalidTopic(topic.to_string()));
        }
        let message = Message::new(topic, payload, qos, retain)
            .ok_or_else(|| Error::InvalidTopic(topic.to_string()))?;
        self.send(Command::Publish(message))
    }

    /// Asks the broker to stop: it stops accepting, closes every client,
    /// flushes, and `run` returns. Harmless once stopped.
    pub fn stop(&self) {
        let _ = self.send(Command::Stop);
    }

    /// Closes the connection of `client_id` (its will is published).
    ///
    /// # Errors
    /// [`Error::Stopped`] once the broker has stopped.
    pub fn kick(&self, client_id: &str) -> Result<(), Error> {
        self.send(Command::Kick(client_id.to_string()))
    }

    /// The broker's counters, waiting up to `timeout` for the broker thread
    /// to answer.
    ///
    /// # Errors
    /// [`Error::Stopped`] when the broker has stopped or does not answer in
    /// time.
    pub fn stats(&self, timeout: Duration) -> Result<Stats, Error> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::Stats(reply))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)
    }

    /// The client ids connected now, waiting up to `timeout`.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`].
    pub fn connected_clients(&self, timeout: Duration) -> Result<Vec<String>, Error> {
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::Clients(reply))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)
    }

    /// Whether the broker has stopped.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    fn send(&self, command: Command) -> Result<(), Error> {
        if self.is_stopped() {
            return Err(Error::Stopped);
        }
        self.sender.send(command).map_err(|_| Error::Stopped)?;
        self.shared.wake();
        Ok(())
    }
}
