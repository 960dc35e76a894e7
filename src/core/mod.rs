//! The sans-IO broker: connections, sessions, routing, retained messages,
//! wills and timers. It never touches a socket, a file, a thread or the
//! clock: every input carries `now`, and every output is something the
//! driver (the reactor, or a test) picks up.
//!
//! # The driver's contract
//!
//! Inputs are `handle_*` calls:
//! - [`Core::handle_accept`] when a connection arrives (gives its
//!   [`ConnId`]); [`Core::handle_read`] with bytes read from it;
//!   [`Core::handle_closed`] when it reaches end-of-file or fails;
//! - [`Core::handle_timeout`] once [`Core::next_deadline`] has passed;
//! - [`Core::handle_host_publish`], [`Core::handle_auth_decision`],
//!   [`Core::handle_kick`], [`Core::handle_shutdown`] for the host.
//!
//! Outputs are `poll_*` calls, made after the inputs of a pass, in this
//! order:
//! 1. [`Core::poll_local`]: deliveries to the host's local subscriptions.
//! 2. [`Core::poll_store`]: operations for the store and queue pages to
//!    read. Apply the operations in one durable transaction, report them
//!    with [`Core::handle_store_applied`], then read the pages and hand
//!    each back with [`Core::handle_queue_page`]; repeat until it returns
//!    false.
//! 3. [`Core::poll_dirty`]: connections with bytes to write. Write
//!    [`Core::output_slices`] and report what went out with
//!    [`Core::handle_written`] (which may record store work: go back to 2).
//! 4. [`Core::poll_closing`]: connections the core is done with. Write
//!    what output they may still have, drop the socket, then
//!    [`Core::handle_released`].
//! 5. [`Core::next_deadline`]: when to call [`Core::handle_timeout`].
//!
//! [`Core::poll_output_pressure`] says, in the middle of reading, that
//! some connection's output is large enough to write before reading more.
//!
//! The guarantee that no acknowledgement leaves before what it
//! acknowledges is stored does not depend on the driver keeping this
//! order: bytes appended while store operations are not yet reported
//! applied are held, and [`Core::output_slices`] does not offer them (see
//! `store_log`).
//!
//! # Parts
//!
//! `Core` is a set of parts, each in its own file with the methods that
//! change it, so that one PUBLISH's delivery borrows them separately:
//! `Conns` (connections), `Sessions` (sessions by key and client id),
//! `Router` (subscriptions, retained messages, match scratch), `Locals`
//! (local subscriptions and their deliveries), `Outbox` (output lists,
//! buffer pool, held output), `StoreLog` (store work and its watermark),
//! `Timers`, `Stats` and the host's `Hooks`.

mod acks;
mod bridge;
mod bridge_topics;
mod bridge_up;
mod buffer_pool;
mod closing;
mod connect;
mod connect_options;
mod connection;
mod conns;
mod delivery;
mod enhanced_auth;
mod gateway;
mod inbound;
mod listener_settings;
mod local;
mod management;
mod outbox;
mod output;
mod output_queue;
mod overflow;
mod packet_ids;
mod paging;
mod persist;
mod router;
mod session;
mod sessions;
mod shared;
mod stats;
mod store_log;
mod subscribe;
mod sys;
mod timers;
mod topic_aliases;

#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::message::Message;
pub(crate) use bridge::BRIDGE_SESSION_PREFIX;
pub use bridge::{BridgeId, BridgeStats};
pub use connection::CloseReason;
pub use paging::{QueuePageRequest, RAM_QUEUE_BYTES, RAM_QUEUE_MESSAGES};
pub use stats::Stats;
pub use store_log::StoreBatch;
use store_log::StoreLog;

use crate::codec::QoS;
use crate::hooks::{Hooks, Identity};
use crate::peer::Peer;
use crate::Config;
use connection::{Conn, ConnState};
use conns::Conns;
pub use local::{LocalDelivery, LocalSubscription};
use local::{LocalKey, Locals};
use outbox::Outbox;
use router::Router;
use sessions::Sessions;
use shared::SharedGroups;
use timers::{Timer, Timers};

/// Identifies a network connection inside one core. Slots are reused after
/// [`Core::handle_released`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ConnId(pub usize);

/// Identifies a session inside one core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct SessionKey(pub(crate) u32);

/// Who holds a subscription in the trie.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Subscriber {
    /// A client session.
    Session(SessionKey),
    /// A subscription of the host program.
    Local(LocalKey),
    /// A shared subscription group (see `shared`).
    Shared(u32),
}

/// Written bytes kept at the front of an output buffer before they are
/// dropped (see `handle_written`).
const COMPACT_AFTER: usize = 64 * 1024;

/// The broker's state machine. See the module documentation for the call
/// order.
pub struct Core {
    config: Config,
    conns: Conns,
    sessions: Sessions,
    router: Router,
    /// Shared subscription groups.
    shared: SharedGroups,
    timers: Timers,
    stats: Stats,
    /// The host's callbacks.
    pub(crate) hooks: Hooks,
    /// The host's local subscriptions.
    locals: Locals,
    /// When the core was made, for `$SYS/broker/uptime`.
    started: Instant,
    /// What the `$SYS` rounds remember (published values, load averages).
    sys: sys::SysState,
    /// When the broker's clock (message expiry deadlines) reads 0: the
    /// process's, see `crate::clock`.
    clock_zero: Instant,
    /// The broker's clock at the latest input, in milliseconds.
    now_ms: u64,
    /// Work for the store, and the watermark of what it has applied.
    store: StoreLog,
    /// Output waiting for the driver.
    outbox: Outbox,
    /// Bridges to upstream brokers, by `BridgeId` (`None`: removed).
    bridges: Vec<Option<bridge::BridgeLink>>,
}

impl Core {
    /// A core with nothing in it. `config` is taken as given (the broker
    /// validates it first).
    pub fn new(config: Config, now: Instant) -> Core {
        let pressure_threshold = config.max_pending_output / 2;
        let clock_zero = crate::clock::zero_at_or_before(now);
        let mut timers = Timers::default();
        // The first `$SYS` round is due at once, as mosquitto publishes
        // its tree when it starts.
        if config.sys_interval.is_some() {
            timers.push(now, Timer::Sys);
        }
        Core {
            config,
            conns: Conns::default(),
            sessions: Sessions::default(),
            router: Router::new(),
            shared: SharedGroups::default(),
            timers,
            stats: Stats::default(),
            hooks: Hooks::default(),
            locals: Locals::default(),
            started: now,
            sys: sys::SysState::default(),
            clock_zero,
            now_ms: crate::clock::millis_at(clock_zero, now),
            store: StoreLog::new(),
            outbox: Outbox::new(pressure_threshold),
            bridges: Vec::new(),
        }
    }

    /// The configuration in force.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Registers a new connection from `peer` (a `SocketAddr` for TCP).
    /// `None` when `max_connections` is reached: the driver closes the
    /// socket at once.
    pub fn handle_accept(&mut self, now: Instant, peer: impl Into<Peer>) -> Option<ConnId> {
        self.handle_accept_on(now, peer, 0)
    }

    /// A socket was accepted on `listener` (its place in
    /// `Config::listeners`, then `Config::custom_listeners`): as
    /// [`Core::handle_accept`], within that listener's `max_connections`
    /// too.
    pub fn handle_accept_on(
        &mut self,
        now: Instant,
        peer: impl Into<Peer>,
        listener: u16,
    ) -> Option<ConnId> {
        let peer = peer.into();
        let listener_full = self
            .listener_settings(listener)
            .and_then(|l| l.max_connections)
            .is_some_and(|max| self.conns.on_listener(listener) >= max);
        if self.conns.len() >= self.config.max_connections || listener_full {
            self.stats.connections_refused += 1;
            return None;
        }
        let (id, generation) = self.conns.insert(peer, listener, now);
        self.timers.push(
            now + self.config.connect_timeout,
            Timer::ConnectTimeout(id, generation),
        );
        self.stats.connections += 1;
        self.stats.connections_total += 1;
        Some(id)
    }

    /// Advances the broker's clock to `now` (it never goes back).
    fn tick(&mut self, now: Instant) {
        self.now_ms = self.now_ms.max(self.clock_ms(now));
    }

    /// Feeds bytes read from a connection's socket.
    pub fn handle_read(&mut self, now: Instant, id: ConnId, bytes: &[u8]) {
        self.tick(now);
        let Some(conn) = self.conns.get_mut(id) else {
            return;
        };
        if conn.state == ConnState::Closing {
            return;
        }
        self.stats.bytes_received += bytes.len() as u64;
        if conn.input.is_empty() {
            let consumed = self.process_input(now, id, bytes);
            if let Some(conn) = self.live_conn(id) {
                if consumed < bytes.len() {
                    conn.input.extend_from_slice(&bytes[consumed..]);
                }
            }
        } else {
            let mut input = std::mem::take(&mut conn.input);
            input.extend_from_slice(bytes);
            let consumed = self.process_input(now, id, &input);
            if let Some(conn) = self.live_conn(id) {
                input.drain(..consumed);
                if !input.is_empty() {
                    conn.input = input;
                }
            }
        }
    }

    /// The socket of `id` reached end-of-file or failed. The connection is
    /// closed as by the network (its will is published) and appears in
    /// [`Core::poll_closing`].
    pub fn handle_closed(&mut self, now: Instant, id: ConnId) {
        // A will published now counts its expiry from now, as the copies
        // sent count down from the broker's clock.
        self.tick(now);
        self.close(now, id, CloseReason::Network);
    }

    /// Closes a connection for `reason` (used by the host to kick a client
    /// and by the reactor at shutdown).
    pub fn close_connection(&mut self, now: Instant, id: ConnId, reason: CloseReason) {
        self.tick(now);
        self.close(now, id, reason);
    }

    /// Checks again every connected client that a password file let in,
    /// against the password files loaded now, with the user name and
    /// password it connected with (as mosquitto 2.0 does on a reload). A
    /// client that no longer passes (its user removed, its password
    /// changed) is closed as by a kick: its will is published and an MQTT 5
    /// client is told 0x98 (Administrative action). Clients let in by a
    /// host's hook, as anonymous, or by their certificate are not checked.
    /// Returns how many were closed.
    pub(crate) fn recheck_passwords(&mut self, now: Instant) -> usize {
        if !self.hooks.auth_from_files {
            return 0;
        }
        self.tick(now);
        let mut failing = Vec::new();
        for id in self.conns.ids() {
            let Some(conn) = self.conns.get(id) else {
                continue;
            };
            let ConnState::Connected(key) = conn.state else {
                continue;
            };
            let Some(credentials) = conn.credentials.as_deref() else {
                continue;
            };
            let passes = match self.hooks.passwords.for_listener(conn.listener) {
                Some(file) => file.check(&credentials.username, &credentials.password),
                // The listener checks no password now (cannot happen: a
                // reload reads the same config's files).
                None => true,
            };
            if !passes {
                failing.push((id, key, credentials.username.clone()));
            }
        }
        let closed = failing.len();
        for (id, key, username) in failing {
            let client_id = self
                .sessions
                .get(key)
                .map_or_else(|| Arc::from("?"), |session| Arc::clone(&session.client_id));
            log::info!(
                "client {client_id} (user {username}) disconnected: the reloaded password \
                 file no longer accepts its user name and password"
            );
            self.close(now, id, CloseReason::Kicked);
        }
        closed
    }

    /// Closes the connection of `client_id`, if it is connected. Returns
    /// whether one was.
    pub fn handle_kick(&mut self, now: Instant, client_id: &str) -> bool {
        self.tick(now);
        let conn = self
            .sessions
            .key_of(client_id)
            .and_then(|key| self.sessions.get(key))
            .and_then(|session| session.conn);
        match conn {
            Some(id) => {
                self.close(now, id, CloseReason::Kicked);
                true
            }
            None => false,
        }
    }

    /// Runs every timer due at `now`: connect timeouts, keepalive expiry,
    /// session expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.tick(now);
        while let Some((_, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::ConnectTimeout(id, generation) => {
                    if let Some(conn) = self.conns.get(id) {
                        if conn.generation == generation && conn.state.awaits_connection() {
                            self.close(now, id, CloseReason::ConnectTimeout);
                        }
                    }
                }
                Timer::BridgePing(id, generation) => self.bridge_ping(now, id, generation),
                Timer::BridgeIdle(id, generation) => self.bridge_idle(now, id, generation),
                Timer::Keepalive(id, generation) => self.check_keepalive(now, id, generation),
                Timer::AuthTimeout(id, generation) => self.check_auth_timeout(now, id, generation),
                Timer::SessionExpiry(key, generation) => self.expire_session(now, key, generation),
                Timer::WillDelay(key, generation) => self.send_delayed_will(now, key, generation),
                Timer::Sys => {
                    if let Some(interval) = self.config.sys_interval {
                        self.timers.push(now + interval, Timer::Sys);
                    }
                    self.publish_sys(now);
                }
            }
        }
    }

    /// When [`Core::handle_timeout`] should next be called.
    pub fn next_deadline(&self) -> Option<Instant> {
        self.timers.next_deadline()
    }

    /// Publishes a message from the host program, as if a client had sent
    /// it (retained handling and fan-out included).
    pub fn handle_host_publish(
        &mut self,
        now: Instant,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<(), crate::Error> {
        if !crate::topic::is_valid_topic_name(topic) {
            return Err(crate::Error::InvalidTopic(topic.to_string()));
        }
        let message = Message::new(topic, payload, qos, retain)
            .ok_or_else(|| crate::Error::InvalidTopic(topic.to_string()))?;
        self.publish_message(now, message);
        Ok(())
    }

    /// Publishes a message from the host with MQTT 5 properties: its
    /// Message Expiry Interval (`expiry_interval`, seconds) counts from
    /// now.
    pub fn handle_host_publish_with(
        &mut self,
        now: Instant,
        message: Message,
        expiry_interval: Option<u32>,
    ) {
        self.tick(now);
        let message = match expiry_interval {
            Some(interval) => message.with_expiry(Some(self.expiry_deadline(now, interval))),
            None => message,
        };
        self.publish_message(now, message);
    }

    /// Publishes a message from the host whose topic the caller already
    /// validated (the handle does, before queueing it).
    pub(crate) fn publish_message(&mut self, now: Instant, message: Message) {
        self.tick(now);
        self.stats.messages_received += 1;
        self.stats.publish_bytes_received += message.payload().len() as u64;
        self.route(now, message, None, None);
    }

    /// Closes every connection and ends every local subscription (for a
    /// broker stop: channel receivers then see the end). Sessions stay.
    pub fn handle_shutdown(&mut self, now: Instant) {
        self.tick(now);
        let ids = self.conns.ids();
        for id in ids {
            self.close(now, id, CloseReason::Shutdown);
        }
        let locals = self.locals.ids();
        for id in locals {
            self.unsubscribe_local(id);
        }
    }

    /// The counters as they are now. The gauges of held messages are
    /// summed over the sessions here, not kept up to date on the message
    /// path.
    pub fn stats(&self) -> Stats {
        let mut stats = self.stats.clone();
        stats.sessions = self.sessions.len() as u64;
        let groups = self.shared.groups() as u64;
        stats.subscriptions = (self.router.subscriptions.len() as u64).saturating_sub(groups);
        stats.shared_subscriptions = self.shared.members() as u64;
        stats.retained_messages = self.router.retained.len() as u64;
        stats.packets_sent = self.outbox.packets;
        stats.publish_bytes_sent = self.outbox.publish_bytes;
        let (mut messages, mut bytes) = (0, 0);
        for (_, session) in self.sessions.iter() {
            messages += session.inflight.len() + session.queue.len() + session.stored_only.messages;
            bytes += session.inflight_bytes + session.queued_bytes + session.stored_only.bytes;
        }
        stats.stored_messages = stats.retained_messages + messages as u64;
        stats.stored_bytes = self.router.retained_bytes + bytes as u64;
        stats
    }

    /// The client ids connected now.
    pub fn connected_clients(&self) -> Vec<String> {
        self.sessions
            .iter()
            .filter(|(_, session)| session.conn.is_some())
            .map(|(_, session)| session.client_id.to_string())
            .collect()
    }

    /// Whether the core still has this connection open (not closing).
    pub fn is_open(&self, id: ConnId) -> bool {
        matches!(self.conns.get(id), Some(conn) if conn.state != ConnState::Closing)
    }

    /// The connection, unless it is gone or closing.
    fn live_conn(&mut self, id: ConnId) -> Option<&mut Conn> {
        self.conns.live_mut(id)
    }

    /// Ends an authentication still undecided after `auth_timeout`: a
    /// CONNECT is refused, a re-authentication disconnects.
    fn check_auth_timeout(&mut self, now: Instant, id: ConnId, generation: u32) {
        let Some(conn) = self.conns.get(id) else {
            return;
        };
        if conn.generation != generation {
            return;
        }
        let code = crate::codec::ReasonCode::NOT_AUTHORIZED;
        match conn.state {
            ConnState::AuthPending | ConnState::Authenticating => {
                log::info!("authentication of {} timed out", conn.peer);
                self.refuse(now, id, code);
            }
            ConnState::Connected(_) if conn.auth.as_ref().is_some_and(|a| a.active) => {
                log::info!("re-authentication of {} timed out", conn.peer);
                self.close_with(now, id, CloseReason::Refused, Some(code));
            }
            _ => {}
        }
    }

    fn check_keepalive(&mut self, now: Instant, id: ConnId, generation: u32) {
        let Some(conn) = self.conns.get(id) else {
            return;
        };
        if conn.generation != generation
            || conn.state == ConnState::Closing
            || conn.keepalive.is_zero()
        {
            return;
        }
        let deadline = conn.last_packet_at + conn.keepalive;
        if deadline <= now {
            log::debug!("keepalive expired for {}", conn.peer);
            self.close(now, id, CloseReason::KeepaliveTimeout);
        } else {
            self.timers.push(deadline, Timer::Keepalive(id, generation));
        }
    }

    /// Who the client of a session is (`peer` being its connection's
    /// address).
    pub(crate) fn identity(&self, key: SessionKey, peer: Peer) -> Option<Identity> {
        self.sessions.get(key).map(|session| Identity {
            client_id: Arc::clone(&session.client_id),
            username: session.username.clone(),
            peer,
            listener: session.listener,
        })
    }

    /// A client id not in use, for clients that connect with an empty one.
    fn generate_client_id(&mut self) -> String {
        self.sessions
            .generate_client_id(&self.config.auto_id_prefix)
    }
}

/// How long a connection may stay silent: 1.5 × its keepalive.
fn keepalive_window(keep_alive_secs: u16) -> Duration {
    Duration::from_millis(u64::from(keep_alive_secs) * 1500)
}
