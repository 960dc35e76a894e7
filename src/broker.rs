//! The embedding API: [`Broker`], owned by the thread that runs it, and
//! [`BrokerHandle`], usable from any thread.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::core::{LocalSubscription, Stats};
use crate::hooks::{
    AclAccess, AuthDecision, AuthToken, ClientInfo, ConnectInfo, Event, MessageDecision,
};
use crate::message::Message;
use crate::publish_properties::PublishProperties;
use crate::reactor::LocalSink;
use crate::reactor::{Command, Reactor, Shared};
use crate::store::SessionStore;
use crate::{Config, Error, QoS};

pub use crate::local_receiver::LocalReceiver;

mod bridges;
mod heap;
mod management;
mod store;

use store::open_configured_store;

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
    /// Validates `config`, loads its password and ACL files (installing them
    /// as the authentication and ACL hooks, which `set_auth_hook` /
    /// `set_acl_hook` replace), opens its persistence file and restores
    /// what it holds, and binds its listeners. Port 0 picks a free port
    /// (read it back with [`Broker::local_addrs`]).
    ///
    /// # Errors
    /// [`Error::Config`] for an unusable value or a bad password / ACL file
    /// (naming the file and line), [`Error::Store`] for a persistence file
    /// that is corrupt, newer, or in use, [`Error::Bind`] when an address
    /// cannot be bound, [`Error::Io`] when the poll cannot be made.
    pub fn new(config: Config) -> Result<Broker, Error> {
        let store = open_configured_store(&config)?;
        Broker::start(config, store)
    }

    /// A broker that keeps its persistent sessions, queues and retained
    /// messages in `store` (a [`crate::store::MemoryStore`], or the host's
    /// own [`SessionStore`]) instead of the SQLite file of
    /// `Config::persistence`, which must then be `None`. Everything in the
    /// store is restored first; from then on the broker acknowledges a
    /// message only after `store.apply` has returned for it.
    ///
    /// # Errors
    /// As [`Broker::new`]; [`Error::Config`] when `Config::persistence` is
    /// set too; the store's own error when its `load` fails.
    pub fn with_store(
        config: Config,
        store: impl SessionStore + Send + 'static,
    ) -> Result<Broker, Error> {
        if config.persistence.is_some() {
            return Err(Error::Config {
                field: "persistence".to_string(),
                reason: "a store is given: leave persistence unset".to_string(),
            });
        }
        Broker::start(config, Some(Box::new(store)))
    }

    fn start(config: Config, store: Option<Box<dyn SessionStore + Send>>) -> Result<Broker, Error> {
        let file_hooks = crate::auth::files::load(&config)?;
        let (mut reactor, shared) = Reactor::new(config, store)?;
        let hooks = &mut reactor.core_mut().hooks;
        hooks.auth = file_hooks.auth;
        hooks.acl = file_hooks.acl;
        hooks.passwords = file_hooks.passwords;
        hooks.auth_from_files = true;
        hooks.acl_from_files = true;
        for name in reactor.listener_names() {
            log::info!("listening on {name}");
        }
        for addr in reactor.mqttsn_addrs() {
            log::info!("mqtt-sn gateway on udp {addr}");
        }
        Ok(Broker {
            reactor,
            handle: BrokerHandle { shared },
        })
    }

    /// The addresses the listeners are bound to, in the order of
    /// `Config::listeners`.
    pub fn local_addrs(&self) -> Vec<SocketAddr> {
        self.reactor.local_addrs().to_vec()
    }

    /// The UDP addresses the MQTT-SN gateway is bound to, in the order of
    /// [`crate::MqttSnGateway::listen`]; empty without a gateway.
    pub fn mqttsn_addrs(&self) -> Vec<SocketAddr> {
        self.reactor.mqttsn_addrs()
    }

    /// The MQTT-SN gateway's counters; `None` without a gateway.
    pub fn mqttsn_stats(&self) -> Option<crate::MqttSnStats> {
        self.reactor.mqttsn_stats()
    }

    /// The first TCP listener's address (`Config::listeners` first, then
    /// the custom ones); `0.0.0.0:0` when every listener is a Unix socket.
    pub fn local_addr(&self) -> SocketAddr {
        let custom = self.reactor.custom_local_addrs().iter().flatten();
        self.reactor
            .local_addrs()
            .iter()
            .chain(custom)
            .next()
            .copied()
            .unwrap_or_else(|| SocketAddr::from(([0, 0, 0, 0], 0)))
    }

    /// The addresses `Config::custom_listeners` are bound to, in their
    /// order: `None` for a Unix socket listener.
    pub fn custom_local_addrs(&self) -> Vec<Option<SocketAddr>> {
        self.reactor.custom_local_addrs().to_vec()
    }

    /// Reads the password file, the ACL file and the TLS listeners'
    /// certificates again, on the broker thread: see
    /// [`BrokerHandle::reload`].
    ///
    /// # Errors
    /// [`Error::Config`] naming the file that cannot be read or parsed.
    pub fn reload(&mut self) -> Result<(), Error> {
        self.reactor.reload()
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
    /// has work to do (a socket is ready, a handle was used, or
    /// [`Broker::publish`] / [`Broker::subscribe_local`] was called since
    /// the last pass). Wait on it with `poll(2)`/`select(2)`/`epoll` beside
    /// your own descriptors, with a timeout from [`Broker::next_deadline`],
    /// and call `run_once(Some(Duration::ZERO))` when it is readable or
    /// that deadline has passed.
    #[cfg(unix)]
    pub fn raw_fd(&self) -> std::os::unix::io::RawFd {
        self.reactor.raw_fd()
    }

    /// When the broker next needs a pass even if its descriptor stays
    /// quiet (keepalive and session timers), or now when work is already
    /// waiting (after [`Broker::publish`], for instance); `None` when there
    /// is no timer and nothing waits.
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

    /// Publishes a message as the host, right now on the broker's own
    /// thread (no channel): retained handling and fan-out to clients and
    /// local subscribers happen before this returns; the bytes go out at
    /// the next pass, which this makes due at once ([`Broker::raw_fd`]
    /// turns readable and [`Broker::next_deadline`] says now). For other
    /// threads use [`BrokerHandle::publish`].
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid topic name.
    pub fn publish(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<(), Error> {
        let now = self.reactor.pass_time();
        let _busy = self.handle.shared.enter_busy();
        self.reactor
            .core_with_work()
            .handle_host_publish(now, topic, payload, qos, retain)?;
        self.reactor.dispatch_local();
        Ok(())
    }

    /// [`Broker::publish`] with MQTT 5 properties: MQTT 5 subscribers (and
    /// local subscriptions) get them; the Message Expiry Interval counts
    /// from now.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid topic name or Response Topic,
    /// [`Error::Config`] for a property the protocol cannot carry.
    pub fn publish_with(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &PublishProperties,
    ) -> Result<(), Error> {
        let message = properties.message(topic, payload, qos, retain)?;
        let now = self.reactor.pass_time();
        let _busy = self.handle.shared.enter_busy();
        self.reactor.core_with_work().handle_host_publish_with(
            now,
            message,
            properties.message_expiry_interval,
        );
        self.reactor.dispatch_local();
        Ok(())
    }

    /// Sets the authentication hook, called on the broker thread for every
    /// CONNECT (after protocol checks, before the session is touched) with
    /// what the client presented. Without one, every client is accepted.
    ///
    /// It must answer quickly; for a slow check answer
    /// [`AuthDecision::Pending`] and call [`BrokerHandle::complete_auth`]
    /// with [`ConnectInfo::token`] from any thread. A panic refuses the
    /// client (0x05).
    pub fn set_auth_hook(
        &mut self,
        hook: impl FnMut(&ConnectInfo<'_>) -> AuthDecision + Send + 'static,
    ) {
        let hooks = &mut self.reactor.core_mut().hooks;
        hooks.auth = Some(Box::new(hook));
        hooks.auth_from_files = false;
    }

    /// Sets the ACL hook, called on the broker thread for each PUBLISH a
    /// client sends ([`AclAccess::Publish`], topic name), each filter it
    /// subscribes to ([`AclAccess::Subscribe`]), and each message about to
    /// be delivered to it ([`AclAccess::Receive`], topic name). `false`
    /// drops the PUBLISH (still acknowledged), refuses the filter (SUBACK
    /// 0x80) or skips the delivery. It runs once per delivery, so keep it
    /// cheap. A panic counts as `false`.
    pub fn set_acl_hook(
        &mut self,
        hook: impl FnMut(&ClientInfo<'_>, AclAccess, &str) -> bool + Send + 'static,
    ) {
        let hooks = &mut self.reactor.core_mut().hooks;
        hooks.acl = Some(Box::new(hook));
        hooks.acl_from_files = false;
    }

    /// Sets the message hook, called on the broker thread for every accepted
    /// PUBLISH — from clients (with who sent it), wills, and the host
    /// (`None`) — before the retained store and fan-out. It may pass, drop
    /// or rewrite the message. A panic drops the message.
    pub fn set_message_hook(
        &mut self,
        hook: impl FnMut(Option<&ClientInfo<'_>>, &Message) -> MessageDecision + Send + 'static,
    ) {
        self.reactor.core_mut().hooks.message = Some(Box::new(hook));
    }

    /// Sets the event hook, called on the broker thread when a client
    /// connects, disconnects (with the reason), subscribes or unsubscribes, and
    /// when its queue overflows ([`Event::QueueOverflow`]).
    /// A panic is logged and ignored.
    pub fn set_event_hook(&mut self, hook: impl FnMut(&Event<'_>) + Send + 'static) {
        self.reactor.core_mut().hooks.event = Some(Box::new(hook));
    }

    /// Subscribes the host to `filter`: `callback` runs on the broker
    /// thread for each matching message (retained ones first, with the
    /// retain flag), at QoS min(message, `qos`). It must not block. Like
    /// [`Broker::publish`], this makes the next pass due at once.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid filter.
    pub fn subscribe_local(
        &mut self,
        filter: &str,
        qos: QoS,
        callback: impl FnMut(&Message) + Send + 'static,
    ) -> Result<LocalSubscription, Error> {
        let id = self.handle.next_local_id();
        let _busy = self.handle.shared.enter_busy();
        self.reactor.core_with_work();
        self.reactor
            .subscribe_local(id, filter, qos, LocalSink::Callback(Box::new(callback)))?;
        Ok(LocalSubscription(id))
    }

    /// Ends a local subscription; false if it was not there.
    pub fn unsubscribe_local(&mut self, subscription: LocalSubscription) -> bool {
        self.reactor.unsubscribe_local(subscription.0)
    }
}

impl Drop for Broker {
    /// A broker dropped without a stop is stopped all the same: its handles
    /// report it, and its sockets and store close with it.
    fn drop(&mut self) {
        self.handle.shared.close();
    }
}

/// A thread-safe handle to a [`Broker`]: publish, stop, kick, query.
///
/// Requests are queued on a channel and carried out at the broker's next
/// pass, never re-entrantly, so a handle may be used from a hook on the
/// broker thread too.
#[derive(Clone)]
pub struct BrokerHandle {
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
    pub fn publish(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) -> Result<(), Error> {
        if !crate::topic::is_valid_topic_name(topic) {
            return Err(Error::InvalidTopic(topic.to_string()));
        }
        // The inbox refuses it once the broker has stopped.
        if !self.shared.send_publish(topic, payload, qos, retain) {
            return Err(Error::Stopped);
        }
        Ok(())
    }

    /// [`BrokerHandle::publish`] with MQTT 5 properties (see
    /// [`Broker::publish_with`]); the Message Expiry Interval counts from
    /// when the broker thread takes the message.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid topic name or Response Topic,
    /// [`Error::Config`] for a property the protocol cannot carry,
    /// [`Error::Stopped`] once the broker has stopped.
    pub fn publish_with(
        &self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: &PublishProperties,
    ) -> Result<(), Error> {
        let message = properties.message(topic, payload, qos, retain)?;
        if !self
            .shared
            .send_with_properties(message, properties.message_expiry_interval)
        {
            return Err(Error::Stopped);
        }
        Ok(())
    }

    /// Publishes several messages as the host, in order, with one wake-up
    /// of the broker thread: the fast path for a host that produces
    /// messages in bursts (each [`Message::new`] with its topic, payload,
    /// QoS and retain flag). Either every message is queued for the broker
    /// or, when one topic is invalid, none is.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for the first message whose topic is empty or
    /// has wildcards; [`Error::Stopped`] once the broker has stopped.
    pub fn publish_batch(&self, messages: Vec<Message>) -> Result<(), Error> {
        if let Some(bad) = messages
            .iter()
            .find(|message| !crate::topic::is_valid_topic_name(message.topic()))
        {
            return Err(Error::InvalidTopic(bad.topic().to_string()));
        }
        if messages.is_empty() {
            return Ok(());
        }
        if !self.shared.send_messages(&messages) {
            return Err(Error::Stopped);
        }
        Ok(())
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
    /// to answer. On the broker's own thread use [`Broker::stats`] instead:
    /// from a hook or callback this fails at once
    /// ([`Error::OnBrokerThread`]), and between `run_once` passes nobody
    /// would answer until `timeout`.
    ///
    /// # Errors
    /// [`Error::OnBrokerThread`] when called from a hook or callback of this
    /// broker; [`Error::Stopped`] when the broker has stopped or does not
    /// answer in time.
    pub fn stats(&self, timeout: Duration) -> Result<Stats, Error> {
        if self.shared.busy_on_this_thread() {
            return Err(Error::OnBrokerThread);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::Stats(reply))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)
    }

    /// The client ids connected now, waiting up to `timeout`.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`].
    pub fn connected_clients(&self, timeout: Duration) -> Result<Vec<String>, Error> {
        if self.shared.busy_on_this_thread() {
            return Err(Error::OnBrokerThread);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::Clients(reply))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)
    }

    /// Reads the password file, the ACL file and the TLS listeners'
    /// certificates and keys again (what SIGHUP does to the `mqlite`
    /// binary, as to mosquitto), waiting up to `timeout` for the broker
    /// thread: new connections use them. As in mosquitto 2.0, each
    /// connected client that the password file let in is checked again
    /// against the new file with the user name and password it connected
    /// with, and one that no longer passes (user removed, password changed)
    /// is disconnected as by [`BrokerHandle::kick`] (its will is published;
    /// an MQTT 5 client is told 0x98, Administrative action). Other clients
    /// keep the decisions and certificates they connected with. Hooks the
    /// host set are kept (clients they let in are not checked again). On an
    /// error nothing changes.
    ///
    /// # Errors
    /// [`Error::Config`] naming the file that cannot be read or parsed;
    /// otherwise as for [`BrokerHandle::stats`].
    pub fn reload(&self, timeout: Duration) -> Result<(), Error> {
        if self.shared.busy_on_this_thread() {
            return Err(Error::OnBrokerThread);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::Reload(reply))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)?
    }

    /// Whether the broker has stopped.
    pub fn is_stopped(&self) -> bool {
        self.shared.stopped.load(Ordering::Acquire)
    }

    /// Decides an authentication the hook left [`AuthDecision::Pending`].
    /// Harmless if the client has gone or the decision timed out.
    ///
    /// # Errors
    /// [`Error::Stopped`] once the broker has stopped.
    pub fn complete_auth(&self, token: AuthToken, decision: AuthDecision) -> Result<(), Error> {
        self.send(Command::CompleteAuth(token, decision))
    }

    /// Subscribes the host to `filter` from any thread: `callback` runs on
    /// the broker thread for each matching message, from the broker's next
    /// pass on. See [`Broker::subscribe_local`].
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid filter, [`Error::Stopped`].
    pub fn subscribe_local(
        &self,
        filter: &str,
        qos: QoS,
        callback: impl FnMut(&Message) + Send + 'static,
    ) -> Result<LocalSubscription, Error> {
        self.subscribe_sink(filter, qos, LocalSink::Callback(Box::new(callback)))
    }

    /// Subscribes the host to `filter` through a channel of `capacity`
    /// messages, read on the caller's own thread with the returned
    /// [`LocalReceiver`]. When the channel is full, QoS 0 messages are
    /// dropped and QoS 1/2 ones wait in the broker (up to
    /// `max_queued_messages`) until the receiver makes room. Dropping the
    /// receiver ends the subscription.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid filter, [`Error::Config`] for
    /// a zero capacity, [`Error::Stopped`].
    pub fn subscribe_channel(
        &self,
        filter: &str,
        qos: QoS,
        capacity: usize,
    ) -> Result<LocalReceiver, Error> {
        if capacity == 0 {
            return Err(Error::Config {
                field: "capacity".to_string(),
                reason: "a local channel needs room for at least one message".to_string(),
            });
        }
        let (sender, receiver) = crossbeam_channel::bounded(capacity);
        let overflow = Arc::new(AtomicBool::new(false));
        let sink = LocalSink::Channel {
            sender,
            overflow: Default::default(),
            overflow_flag: Arc::clone(&overflow),
        };
        let subscription = self.subscribe_sink(filter, qos, sink)?;
        Ok(LocalReceiver {
            receiver,
            overflow,
            shared: Arc::clone(&self.shared),
            subscription,
        })
    }

    /// Ends a local subscription (at the broker's next pass).
    ///
    /// # Errors
    /// [`Error::Stopped`] once the broker has stopped.
    pub fn unsubscribe_local(&self, subscription: LocalSubscription) -> Result<(), Error> {
        self.send(Command::UnsubscribeLocal(subscription.0))
    }

    fn subscribe_sink(
        &self,
        filter: &str,
        qos: QoS,
        sink: LocalSink,
    ) -> Result<LocalSubscription, Error> {
        if !crate::topic::is_valid_topic_filter(filter) {
            return Err(Error::InvalidTopic(filter.to_string()));
        }
        let id = self.next_local_id();
        self.send(Command::SubscribeLocal {
            id,
            filter: filter.to_string(),
            qos,
            sink,
        })?;
        Ok(LocalSubscription(id))
    }

    fn next_local_id(&self) -> u64 {
        self.shared.next_local_id.fetch_add(1, Ordering::Relaxed)
    }

    fn send(&self, command: Command) -> Result<(), Error> {
        if self.shared.send(command) {
            Ok(())
        } else {
            Err(Error::Stopped)
        }
    }
}
