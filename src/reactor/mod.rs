//! The thin mio driver around the core: the only code that does I/O or
//! reads the clock.
//!
//! One pass ([`Reactor::run_once`]) is:
//! 1. poll, with the core's next deadline as the timeout;
//! 2. accept new sockets, and read each readable socket until `WouldBlock`
//!    (or its per-pass budget), feeding the bytes to the core;
//! 3. take the inbox (host publishes, stop, kick, stats) and handle it;
//! 4. fire due timers;
//! 5. write every connection with output, one batched write per socket;
//! 6. close what the core has finished with.
//!
//! Between 4 and 5 the store operations of the pass go to the store's
//! thread (`store_worker.rs`), which commits them in one transaction; the
//! core holds back every byte that depends on them until the thread reports
//! them applied, so no acknowledgement leaves before what it acknowledges
//! is saved (and 5/6 repeat, saving first, while writes or closes make more
//! work).

mod accept;
mod bridges;
mod commands;
mod fd_table;
mod inbox;
mod lingering;
mod listeners;
mod local_sinks;
mod mqttsn;
mod socket_io;
mod store_worker;
mod transport;
mod udp_batch;

use std::io;
use std::net::SocketAddr;
use std::os::unix::io::AsRawFd;
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::{Events, Interest, Poll, Token, Waker};

pub(crate) use inbox::{Command, Shared};

use bridges::Dialers;
use inbox::Inbox;
use lingering::Lingering;
use listeners::{Acceptor, Bound};
pub(crate) use local_sinks::LocalSink;
use local_sinks::LocalSinks;
use mqttsn::MqttSnSockets;
use store_worker::StoreWorker;
use transport::Transport;

use crate::core::{ConnId, Core};
use crate::store::SessionStore;
use crate::{Config, Error};

const WAKER: Token = Token(0);
/// Listener tokens start here; connection tokens follow the listeners.
const FIRST_LISTENER: usize = 1;
/// Bytes read per `read` call.
const READ_CHUNK: usize = 1024 * 1024;
/// Bytes read from one socket per pass before others get their turn.
const READ_BUDGET: usize = 1024 * 1024;
/// Slices of output per `writev` (a header and a payload per large
/// message).
const WRITE_SLICES: usize = 64;
/// Times the reactor checks for more commands before sleeping after a pass
/// that handled some (a few microseconds).
const SPIN_CHECKS: u32 = 2000;
/// Wait before accepting again after an accept error.
const ACCEPT_RETRY: Duration = Duration::from_millis(100);
/// Connections accepted per pass before reading gets its turn.
const ACCEPT_BUDGET: usize = 512;

/// Owns the poll, the sockets and the core.
pub(crate) struct Reactor {
    poll: Poll,
    events: Events,
    listeners: Vec<Bound>,
    /// Token of connection 0: the tokens below belong to the waker and the
    /// listeners.
    conn_base: usize,
    local_addrs: Vec<SocketAddr>,
    /// Bound addresses of the custom listeners (`None`: a Unix socket).
    custom_local_addrs: Vec<Option<SocketAddr>>,
    /// Sockets by connection id.
    sockets: Vec<Option<Transport>>,
    /// Closed sockets waiting for their peer to close.
    lingering: Lingering,
    /// The bridges' connection attempts.
    dialers: Dialers,
    core: Core,
    /// Where the host's local subscriptions lead.
    locals: LocalSinks,
    shared: Arc<Shared>,
    /// The inbox taken at the latest pass (its buffers are reused).
    inbox: Inbox,
    read_buf: Vec<u8>,
    /// Connections that still had bytes when their read budget ran out.
    read_backlog: Vec<ConnId>,
    /// Listeners may still hold connections after the accept budget.
    accept_backlog: bool,
    /// After an accept error (out of descriptors), when to try again: a
    /// retry at every pass would spin the CPU while the error lasts.
    accept_retry_at: Option<Instant>,
    /// Whether accepted sockets come with TCP_NODELAY from their listener
    /// (Linux does this), learnt from the first one: then the per-accept
    /// `setsockopt` is skipped. `None` until known.
    nodelay_inherited: Option<bool>,
    /// When the latest pass started.
    pass_time: Instant,
    /// When a refusal was last logged (refusals are logged once a second).
    last_refusal_log: Option<Instant>,
    /// Reused list of ready tokens and of connection ids.
    ready: Vec<(Token, bool, bool, bool)>,
    scratch_ids: Vec<ConnId>,
    /// The persistence store's thread, if there is a store.
    store: Option<StoreWorker>,
    /// The MQTT-SN gateway, if configured.
    mqttsn: Option<MqttSnSockets>,
    /// The last pass handled commands (see `prepare_to_sleep`).
    drained_commands: bool,
    /// Commands arrived after the last drain: the next pass is due now.
    commands_pending: bool,
    /// The host changed the core on the broker thread between passes (a
    /// direct publish or local subscription): the next pass is due now, and
    /// the poll's descriptor has been made readable.
    direct_work: bool,
    stopping: bool,
    stopped: bool,
}

impl Reactor {
    /// Sets up the poll, loads `store` (if any) into the core, then binds
    /// the listeners.
    pub(crate) fn new(
        config: Config,
        store: Option<Box<dyn SessionStore + Send>>,
    ) -> Result<(Reactor, Arc<Shared>), Error> {
        config.validate()?;
        let poll = Poll::new()?;
        let waker = Waker::new(poll.registry(), WAKER)?;
        // State first: no port opens before the store is loaded (or
        // refused).
        let now = Instant::now();
        let mut core = Core::new(config.clone(), now);
        let mut store = store;
        if let Some(store) = &mut store {
            let snapshot = store.load()?;
            log::info!(
                "restored {} sessions and {} retained messages",
                snapshot.sessions.len(),
                snapshot.retained.len(),
            );
            core.restore(now, snapshot);
            core.enable_persistence();
        }
        let mut listeners = listeners::bind_all(&config)?;
        let mut local_addrs = Vec::new();
        let mut custom_local_addrs = Vec::new();
        for (index, bound) in listeners.iter_mut().enumerate() {
            let token = Token(FIRST_LISTENER + index);
            match &mut bound.acceptor {
                Acceptor::Tcp(listener) => {
                    // Inherited by accepted sockets on Linux, which saves
                    // a system call per connection; elsewhere each socket
                    // still gets it.
                    if let Err(error) = accept::set_nodelay(listener) {
                        log::debug!("TCP_NODELAY on {} failed: {error}", bound.name);
                    }
                    poll.registry()
                        .register(listener, token, Interest::READABLE)?;
                }
                Acceptor::Unix(listener, _) => {
                    poll.registry()
                        .register(listener, token, Interest::READABLE)?;
                }
            }
            if index < config.listeners.len() {
                local_addrs.push(bound.local_addr().ok_or_else(|| {
                    Error::Io(io::Error::other("a TCP listener without an address"))
                })?);
            } else {
                custom_local_addrs.push(bound.local_addr());
            }
        }
        // Room for every connection allowed, and the listeners, store and
        // poll descriptors: grown now, not while clients wait.
        let wanted = config.max_connections.saturating_add(64);
        if let Some(reached) = fd_table::reserve_descriptors(poll.as_raw_fd(), wanted) {
            log::debug!("descriptor table grown to {reached}");
        }
        let shared = Arc::new(Shared::new(waker));
        let store = match store {
            Some(store) => Some(StoreWorker::start(store, Arc::clone(&shared))?),
            None => None,
        };
        let mqttsn = match &config.mqttsn {
            Some(settings) => Some(MqttSnSockets::bind(settings, poll.registry(), now)?),
            None => None,
        };
        let mut bridge_ids = Vec::new();
        for bridge in &config.bridges {
            bridges::refuse_unsupported(bridge)?;
            bridge_ids.push(core.add_bridge(now, bridge.clone())?);
        }
        for name in core.orphan_bridge_sessions() {
            log::warn!(
                "the stored queue of bridge {name} is kept, but no such bridge is configured: \
                 it fills up to max_queued_messages until the bridge is added again \
                 (or removed with remove_bridge)"
            );
        }
        let mut reactor = Reactor {
            poll,
            events: Events::with_capacity(1024),
            conn_base: FIRST_LISTENER + listeners.len(),
            listeners,
            local_addrs,
            custom_local_addrs,
            sockets: Vec::new(),
            lingering: Lingering::default(),
            dialers: Dialers::default(),
            core,
            locals: LocalSinks::default(),
            shared: Arc::clone(&shared),
            inbox: Inbox::default(),
            read_buf: vec![0; READ_CHUNK],
            read_backlog: Vec::new(),
            accept_backlog: false,
            accept_retry_at: None,
            nodelay_inherited: None,
            pass_time: now,
            last_refusal_log: None,
            ready: Vec::new(),
            scratch_ids: Vec::new(),
            store,
            mqttsn,
            drained_commands: false,
            commands_pending: false,
            direct_work: false,
            stopping: false,
            stopped: false,
        };
        for id in bridge_ids {
            reactor.dial_bridge(id, now);
        }
        Ok((reactor, shared))
    }

    /// The addresses the listeners are bound to.
    pub(crate) fn local_addrs(&self) -> &[SocketAddr] {
        &self.local_addrs
    }

    /// What each listener is, with its bound port (`mqtts://0.0.0.0:8883`,
    /// `unix:/run/mqlite.sock`), for the start-up log.
    pub(crate) fn listener_names(&self) -> Vec<String> {
        self.listeners.iter().map(Bound::bound_name).collect()
    }

    /// The addresses the custom listeners are bound to (`None`: Unix).
    pub(crate) fn custom_local_addrs(&self) -> &[Option<SocketAddr>] {
        &self.custom_local_addrs
    }

    /// The poll's file descriptor, readable when a pass has work.
    #[cfg(unix)]
    pub(crate) fn raw_fd(&self) -> std::os::unix::io::RawFd {
        use std::os::unix::io::AsRawFd;
        self.poll.as_raw_fd()
    }

    /// When the core next needs a pass even if no socket is ready.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if !self.read_backlog.is_empty()
            || self.mqttsn.as_ref().is_some_and(MqttSnSockets::has_backlog)
            || self.accept_backlog
            || self.commands_pending
            || self.direct_work
        {
            // Due already: the start of the latest pass is in the past for
            // every caller, where `Instant::now()` read here would be a
            // hair later than a `now` the caller read just before.
            return Some(self.pass_time);
        }
        [
            self.core.next_deadline(),
            self.accept_retry_at,
            self.lingering.next_deadline(),
            self.dialers.next_deadline(),
            self.mqttsn.as_ref().and_then(|g| g.gateway.next_deadline()),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    /// When the latest pass started: the time of host publishes made on
    /// the broker thread between passes (routing does not depend on it, so
    /// a clock read per message is not worth its cost).
    pub(crate) fn pass_time(&self) -> Instant {
        self.pass_time
    }

    /// The core, for introspection.
    pub(crate) fn core(&self) -> &Core {
        &self.core
    }

    /// The core, to set hooks and local subscriptions on the broker thread.
    pub(crate) fn core_mut(&mut self) -> &mut Core {
        &mut self.core
    }

    /// The core, for a change made on the broker thread between passes that
    /// leaves work for the next pass (output to write, state to save): the
    /// next pass becomes due at once, both through [`Reactor::next_deadline`]
    /// and by making the poll's descriptor readable, so that a host loop
    /// waiting on either runs it. One wake-up per pass, however many
    /// changes.
    pub(crate) fn core_with_work(&mut self) -> &mut Core {
        if !self.direct_work {
            self.direct_work = true;
            self.shared.wake();
        }
        &mut self.core
    }

    /// Subscribes the host to `filter` through `sink`: the retained
    /// messages that match reach it at once.
    pub(crate) fn subscribe_local(
        &mut self,
        id: u64,
        filter: &str,
        qos: crate::codec::QoS,
        sink: LocalSink,
    ) -> Result<(), Error> {
        self.locals.add(id, sink);
        if let Err(error) = self.core.subscribe_local(id, filter, qos) {
            self.locals.remove(id);
            return Err(error);
        }
        self.locals.dispatch(&mut self.core);
        Ok(())
    }

    /// Ends a local subscription; false if it was not there. What was
    /// routed to it before is delivered first.
    pub(crate) fn unsubscribe_local(&mut self, id: u64) -> bool {
        self.locals.dispatch(&mut self.core);
        self.locals.remove(id);
        self.core.unsubscribe_local(id)
    }

    /// Hands the deliveries to local subscriptions that host calls made on
    /// the broker thread to their callbacks and channels now, as a pass
    /// would.
    pub(crate) fn dispatch_local(&mut self) {
        self.locals.dispatch(&mut self.core);
    }

    /// Reads the password and ACL files (where the hooks are the files',
    /// not the host's) and the listeners' certificates again; new
    /// connections use them. Connected clients that a password file let in
    /// are checked again against the new one, and closed if they no longer
    /// pass (see `Core::recheck_passwords`); other connected clients are
    /// not affected. On an error nothing changes.
    pub(crate) fn reload(&mut self) -> Result<(), Error> {
        let files = crate::auth::files::load(self.core.config())?;
        let max_packet_size = self.core.config().max_packet_size;
        let mut layers = Vec::with_capacity(self.listeners.len());
        for bound in &self.listeners {
            layers.push(match &bound.spec {
                Some(spec) => Some(listeners::layers(spec, max_packet_size).map_err(|reason| {
                    Error::Listener {
                        listener: bound.bound_name(),
                        reason,
                    }
                })?),
                None => None,
            });
        }
        for (bound, layers) in self.listeners.iter_mut().zip(layers) {
            if let Some(layers) = layers {
                bound.layers = layers;
            }
        }
        let hooks = &mut self.core.hooks;
        if hooks.auth_from_files {
            hooks.auth = files.auth;
            hooks.passwords = files.passwords;
        }
        if hooks.acl_from_files {
            hooks.acl = files.acl;
        }
        log::info!("reloaded the password and ACL files and the certificates");
        if self.core.recheck_passwords(Instant::now()) > 0 {
            // Called between passes, the closes leave output to write.
            self.core_with_work();
        }
        Ok(())
    }

    /// Whether the broker has stopped.
    /// The MQTT-SN gateway's bound addresses (none without one).
    pub(crate) fn mqttsn_addrs(&self) -> Vec<SocketAddr> {
        self.mqttsn
            .as_ref()
            .map(|g| g.addrs().to_vec())
            .unwrap_or_default()
    }

    /// The MQTT-SN gateway's counters (`None` without a gateway).
    pub(crate) fn mqttsn_stats(&self) -> Option<crate::MqttSnStats> {
        self.mqttsn.as_ref().map(MqttSnSockets::stats)
    }

    pub(crate) fn is_stopped(&self) -> bool {
        self.stopped
    }

    /// One pass. Returns `Ok(false)` once the broker has stopped.
    pub(crate) fn run_once(&mut self, timeout: Option<Duration>) -> Result<bool, Error> {
        if self.stopped {
            return Ok(false);
        }
        let _busy = self.shared.enter_busy();
        let mut timeout = timeout;
        if let Some(deadline) = self.next_deadline() {
            let until = deadline.saturating_duration_since(Instant::now());
            timeout = Some(timeout.map_or(until, |t| t.min(until)));
        }
        match self.poll.poll(&mut self.events, timeout) {
            Ok(()) => {}
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error.into()),
        }
        let now = Instant::now();
        self.pass_time = now;
        // This pass carries out what was done between passes.
        self.direct_work = false;

        self.ready.clear();
        for event in self.events.iter() {
            // The peer's close (or an error) comes as part of an event that
            // may also carry its last bytes: such a socket is read to the
            // end, not just until a short read.
            let closed = event.is_read_closed() || event.is_error();
            let readable = event.is_readable() || closed;
            self.ready
                .push((event.token(), readable, event.is_writable(), closed));
        }
        let ready = std::mem::take(&mut self.ready);
        let mut accept = self.accept_backlog;
        if matches!(self.accept_retry_at, Some(at) if at <= now) {
            self.accept_retry_at = None;
            accept = true;
        }
        for &(token, readable, writable, closed) in &ready {
            match token.0 {
                0 => {}
                n if n < self.conn_base => accept = true,
                _ if Lingering::owns(token) => {
                    self.lingering
                        .ready(self.poll.registry(), token, &mut self.read_buf);
                }
                // Looked at below, with every bridge.
                _ if Dialers::owns(token) => {}
                _ if MqttSnSockets::owns(token) => {
                    if let Some(gateway) = &mut self.mqttsn {
                        gateway.ready(now, &mut self.core, token);
                    }
                }
                n => {
                    let id = ConnId(n - self.conn_base);
                    if writable {
                        self.flush_transport(now, id);
                        self.core.mark_dirty(id);
                    }
                    if readable {
                        self.read(now, id, closed)?;
                    }
                }
            }
        }
        self.ready = ready;
        self.lingering.expire(self.poll.registry(), now);
        if accept {
            self.accept(now);
        }
        if !self.read_backlog.is_empty() {
            let backlog = std::mem::take(&mut self.read_backlog);
            for &id in &backlog {
                self.read(now, id, true)?;
            }
            self.scratch_ids = backlog;
            self.scratch_ids.clear();
        }
        if let Some(gateway) = &mut self.mqttsn {
            gateway.read_backlog(now, &mut self.core);
            gateway.gateway.handle_timeout(now, &mut self.core);
        }
        self.drain_commands(now);
        self.drive_bridges(now);
        self.core.handle_timeout(now);
        self.locals.dispatch(&mut self.core);
        self.flush(now)?;
        if let Some(gateway) = &mut self.mqttsn {
            gateway.send_queued();
        }
        if self.stopping {
            self.finish_stop(now)?;
            return Ok(false);
        }
        self.prepare_to_sleep();
        Ok(true)
    }

    /// Whether a repeated warning may be logged now (at most once a second,
    /// so a flood of refusals or errors cannot flood the log).
    fn log_allowed(&mut self, now: Instant) -> bool {
        let quiet = matches!(self.last_refusal_log,
            Some(at) if now.saturating_duration_since(at) < Duration::from_secs(1));
        if !quiet {
            self.last_refusal_log = Some(now);
        }
        !quiet
    }

    /// Ends a pass: tells senders the reactor may sleep from now on (so the
    /// next command wakes its descriptor), unless commands are already
    /// waiting, in which case the next pass must come at once.
    fn prepare_to_sleep(&mut self) {
        // Right after a burst of commands, more usually follow within
        // microseconds: a short bounded spin saves a sleep and a wake-up.
        if std::mem::take(&mut self.drained_commands) {
            for _ in 0..SPIN_CHECKS {
                if self.shared.maybe_queued() {
                    self.commands_pending = true;
                    return;
                }
                std::hint::spin_loop();
            }
        }
        self.commands_pending = self.shared.sleep_unless_queued();
    }

    /// Saves what the core recorded, writes all pending output, and closes
    /// what the core closed, until none of these produces more work (a
    /// close can publish a will, a write can fail and close, a write can
    /// make room for queued messages). Store operations are always applied
    /// before the bytes that depend on them are written.
    fn flush(&mut self, now: Instant) -> Result<(), Error> {
        let mut ids = std::mem::take(&mut self.scratch_ids);
        let result = loop {
            if let Err(error) = self.save() {
                break Err(error);
            }
            self.core.poll_dirty(&mut ids);
            let wrote = !ids.is_empty();
            for &id in &ids {
                self.write(now, id);
            }
            if let Err(error) = self.save() {
                break Err(error);
            }
            self.core.poll_closing(&mut ids);
            let closed = !ids.is_empty();
            for &id in &ids {
                self.close_socket(id);
            }
            if !wrote && !closed {
                break Ok(());
            }
        };
        ids.clear();
        self.scratch_ids = ids;
        result
    }

    /// Applies the core's store operations in one transaction, then reads
    /// the queue pages the core asked for (which can record more
    /// operations: saved in turn). A failure stops the broker: it must not
    /// acknowledge what it cannot keep.
    fn save(&mut self) -> Result<(), Error> {
        self.save_waiting(false)
    }

    /// [`Reactor::save`], waiting until the store has applied everything
    /// (when the broker stops).
    fn save_waiting(&mut self, wait: bool) -> Result<(), Error> {
        let result = self.save_and_page(wait);
        if let Err(error) = &result {
            log::error!("cannot save state, stopping: {error}");
            self.stopped = true;
            self.shared.close();
        }
        result
    }

    /// The core's store contract: its operations applied in one
    /// transaction per pass (on the store's thread), reported applied
    /// (which releases the output waiting for them), then the queue pages
    /// it asked for read; until it has nothing more. Does not wait for the
    /// store unless `wait`.
    fn save_and_page(&mut self, wait: bool) -> Result<(), Error> {
        match &mut self.store {
            Some(store) => store.exchange(&mut self.core, wait),
            None => Ok(()),
        }
    }

    /// Stops accepting, closes every client, flushes, and marks the broker
    /// stopped.
    fn finish_stop(&mut self, now: Instant) -> Result<(), Error> {
        for mut bound in self.listeners.drain(..) {
            let _ = match &mut bound.acceptor {
                Acceptor::Tcp(listener) => self.poll.registry().deregister(listener),
                Acceptor::Unix(listener, _) => self.poll.registry().deregister(listener),
            };
        }
        self.core.handle_shutdown(now);
        self.locals.dispatch(&mut self.core);
        self.locals.clear();
        // What was acknowledged before the stop, and what the stop itself
        // records (sessions, wills), is on disk before `run` returns.
        let mut result = self.save_waiting(true);
        if result.is_ok() {
            result = self.flush(now);
        }
        if result.is_ok() {
            result = self.save_waiting(true);
        }
        if let Some(gateway) = &mut self.mqttsn {
            gateway.send_queued();
        }
        self.stopped = true;
        self.shared.close();
        log::info!("broker stopped");
        result
    }
}
