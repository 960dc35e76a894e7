//! The inbox: requests from other threads to the reactor, sent through the
//! handle, and the wake-up that goes with them.
//!
//! A small host publish is copied into the inbox's byte buffer rather than
//! into a [`Message`] of its own: the sending thread then allocates nothing,
//! and the broker thread builds the message and frees it on its side.
//! Memory allocated on one thread and freed on another makes the two
//! threads fight over the allocator's locks (glibc's arenas): that, not the
//! routing, was what limited publishing from another thread. A publish
//! costs one uncontended lock and a copy. The reactor swaps the
//! whole inbox for an empty one once per pass, so the lock changes hands
//! once per pass, not once per message, and a pass handles what had arrived
//! when it started (a host publishing without pause cannot hold the
//! reactor in one pass).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crossbeam_channel::Sender;
use mio::Waker;

use super::LocalSink;
use crate::codec::QoS;
use crate::core::Stats;
use crate::hooks::{AuthDecision, AuthToken};
use crate::message::Message;

/// One request to the broker thread.
pub(crate) enum Command {
    /// Publish a message as the host; its topic (`topic_len` bytes) and
    /// payload follow each other, `len` bytes in all, in the inbox's byte
    /// buffer, after those of the publishes before it.
    Publish {
        topic_len: u16,
        len: usize,
        qos: QoS,
        retain: bool,
    },
    /// Publish this message (one too large to copy, or with properties) as
    /// the host.
    PublishMessage(Message),
    /// Publish this message as the host, expiring this many seconds after
    /// it reaches the broker thread.
    PublishExpiring(Message, u32),
    /// Close the connection of this client id.
    Kick(String),
    /// Add this bridge; reply whether that worked.
    AddBridge(Box<crate::Bridge>, Sender<Result<(), crate::Error>>),
    /// Remove the bridge of this name; reply whether there was one.
    RemoveBridge(String, Sender<bool>),
    /// Reply with every bridge's state and counters.
    BridgeStats(Sender<Vec<crate::core::BridgeStats>>),
    /// Reply with the counters.
    Stats(Sender<Stats>),
    /// Reply with the connected client ids.
    Clients(Sender<Vec<String>>),
    /// A management request (list clients or sessions, discard a session
    /// or a retained message, ...): run on the broker thread with the core
    /// and the pass's time, it sends its own answer. One variant for every
    /// such request keeps each new one to a method of the handle.
    Manage(ManageRequest),
    /// Read the password, ACL and certificate files again; reply whether
    /// that worked.
    Reload(Sender<Result<(), crate::Error>>),
    /// Decide a pending authentication.
    CompleteAuth(AuthToken, AuthDecision),
    /// Add a local subscription with this id.
    SubscribeLocal {
        id: u64,
        filter: String,
        qos: QoS,
        sink: LocalSink,
    },
    /// Remove a local subscription.
    UnsubscribeLocal(u64),
    /// Stop the broker: close listeners and clients, then return from `run`.
    Stop,
}

/// The work of a [`Command::Manage`].
pub(crate) type ManageRequest = Box<dyn FnOnce(&mut crate::core::Core, std::time::Instant) + Send>;

/// Requests in the order they were sent, with the bytes of the publishes
/// among them.
#[derive(Default)]
pub(crate) struct Inbox {
    pub(crate) commands: Vec<Command>,
    pub(crate) bytes: Vec<u8>,
    /// The reactor may sleep: the next sender must wake it.
    asleep: bool,
    /// The broker has stopped: nothing more is accepted.
    closed: bool,
}

/// Above these, the reactor's spare inbox gives its buffers back after a
/// burst instead of keeping them for the next one.
const KEEP_BYTES: usize = 1 << 20;
const KEEP_COMMANDS: usize = 16 * 1024;

/// Publishes whose topic and payload together are larger than this travel
/// as a [`Message`] instead of being copied twice.
const INLINE_MAX: usize = 4096;

/// The topic's length, when a publish is small enough to be copied into
/// the inbox.
fn inline_topic_len(topic: &str, payload: &[u8]) -> Option<u16> {
    let topic_len = u16::try_from(topic.len()).ok()?;
    (topic.len() + payload.len() <= INLINE_MAX).then_some(topic_len)
}

impl Inbox {
    fn copy_publish(
        &mut self,
        topic_len: u16,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
    ) {
        self.bytes.extend_from_slice(topic.as_bytes());
        self.bytes.extend_from_slice(payload);
        self.commands.push(Command::Publish {
            topic_len,
            len: topic.len() + payload.len(),
            qos,
            retain,
        });
    }

    /// Empties the inbox after its commands were handled, keeping its
    /// buffers unless a burst made them large.
    pub(crate) fn recycle(&mut self) {
        self.commands.clear();
        self.bytes.clear();
        if self.commands.capacity() > KEEP_COMMANDS {
            self.commands = Vec::new();
        }
        if self.bytes.capacity() > KEEP_BYTES {
            self.bytes = Vec::new();
        }
    }
}

/// What the handles share with the reactor.
pub(crate) struct Shared {
    waker: Waker,
    inbox: Mutex<Inbox>,
    /// Set when a command lands in an empty inbox: what the reactor checks
    /// while it spins before sleeping, without taking the lock.
    queued: AtomicBool,
    /// Set once the broker has stopped.
    pub(crate) stopped: AtomicBool,
    /// Source of local subscription ids.
    pub(crate) next_local_id: AtomicU64,
    /// The [`thread_token`] of the thread inside the broker now (running a
    /// pass, or a direct call such as `Broker::publish` that runs hooks), 0
    /// otherwise: a request that waits for the broker's answer, made on that
    /// thread (from a hook or callback), would wait for itself.
    busy_thread: AtomicU64,
}

/// A number for the calling thread, unique in the process and never 0.
fn thread_token() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    thread_local! {
        static TOKEN: u64 = NEXT.fetch_add(1, Ordering::Relaxed);
    }
    TOKEN.try_with(|token| *token).unwrap_or(u64::MAX)
}

/// Marks the broker as busy on this thread until dropped (also on a
/// panic).
pub(crate) struct BusyGuard(std::sync::Arc<Shared>);

impl Drop for BusyGuard {
    fn drop(&mut self) {
        self.0.busy_thread.store(0, Ordering::Release);
    }
}

impl Shared {
    pub(crate) fn new(waker: Waker) -> Shared {
        Shared {
            waker,
            inbox: Mutex::new(Inbox {
                // Until its first pass the reactor has not looked: the
                // first sender wakes it (a host loop may be waiting on the
                // poll's descriptor).
                asleep: true,
                ..Inbox::default()
            }),
            queued: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            next_local_id: AtomicU64::new(1),
            busy_thread: AtomicU64::new(0),
        }
    }

    /// Broker side: marks the broker as busy on the calling thread (a pass,
    /// or a direct call that can run hooks) until the guard drops.
    pub(crate) fn enter_busy(self: &std::sync::Arc<Self>) -> BusyGuard {
        self.busy_thread.store(thread_token(), Ordering::Release);
        BusyGuard(std::sync::Arc::clone(self))
    }

    /// Whether the calling thread is inside the broker now (so in one of
    /// its hooks or callbacks): a request that waits for the broker's
    /// answer would then wait for itself.
    pub(crate) fn busy_on_this_thread(&self) -> bool {
        self.busy_thread.load(Ordering::Acquire) == thread_token()
    }

    fn lock(&self) -> MutexGuard<'_, Inbox> {
        // Nothing that holds the lock can panic half-way (pushes only), so
        // a poisoned inbox is still consistent.
        self.inbox
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Queues `command`; false once the broker has stopped.
    pub(crate) fn send(&self, command: Command) -> bool {
        self.push(|inbox| inbox.commands.push(command))
    }

    /// Queues a host publish (the topic was validated by the caller, and is
    /// at most 65 535 bytes); false once the broker has stopped.
    pub(crate) fn send_publish(&self, topic: &str, payload: &[u8], qos: QoS, retain: bool) -> bool {
        match inline_topic_len(topic, payload) {
            Some(topic_len) => self.push(|inbox| {
                inbox.copy_publish(topic_len, topic, payload, qos, retain);
            }),
            None => match Message::new(topic, payload, qos, retain) {
                Some(message) => self.send(Command::PublishMessage(message)),
                None => false,
            },
        }
    }

    /// Queues host publishes, in order, under one lock; false once the
    /// broker has stopped. Small ones are copied, so that the caller's
    /// thread frees what it allocated.
    pub(crate) fn send_messages(&self, messages: &[Message]) -> bool {
        self.push(|inbox| {
            for message in messages {
                let (topic, payload) = (message.topic(), message.payload());
                match inline_topic_len(topic, payload) {
                    // Only a message without properties travels as bytes.
                    Some(topic_len) if message.property_bytes().is_empty() => {
                        let (qos, retain) = (message.qos(), message.retain());
                        inbox.copy_publish(topic_len, topic, payload, qos, retain);
                    }
                    _ => inbox
                        .commands
                        .push(Command::PublishMessage(message.clone())),
                }
            }
        })
    }

    /// Queues one host publish with properties (and an expiry interval,
    /// counted from when the broker thread takes it); false once the broker
    /// has stopped.
    pub(crate) fn send_with_properties(&self, message: Message, expiry: Option<u32>) -> bool {
        self.send(match expiry {
            Some(interval) => Command::PublishExpiring(message, interval),
            None => Command::PublishMessage(message),
        })
    }

    fn push(&self, add: impl FnOnce(&mut Inbox)) -> bool {
        let wake = {
            let mut inbox = self.lock();
            if inbox.closed {
                return false;
            }
            if inbox.commands.is_empty() {
                self.queued.store(true, Ordering::Relaxed);
            }
            add(&mut inbox);
            std::mem::take(&mut inbox.asleep)
        };
        // One wake-up per sleep of the reactor, not one per command.
        if wake {
            self.wake();
        }
        true
    }

    /// Wakes the reactor whatever it is doing: for events it does not check
    /// for before sleeping (a local receiver making room for overflowed
    /// messages).
    pub(crate) fn wake(&self) {
        if let Err(error) = self.waker.wake() {
            log::warn!("cannot wake the broker: {error}");
        }
    }

    /// Reactor side: swaps the inbox's contents with `spare` (which must be
    /// empty), so the commands can be handled without the lock.
    pub(crate) fn take(&self, spare: &mut Inbox) {
        let mut inbox = self.lock();
        std::mem::swap(&mut inbox.commands, &mut spare.commands);
        std::mem::swap(&mut inbox.bytes, &mut spare.bytes);
        inbox.asleep = false;
        self.queued.store(false, Ordering::Relaxed);
    }

    /// Reactor side: whether a command arrived since the last `take`, read
    /// without the lock (a hint for spinning).
    pub(crate) fn maybe_queued(&self) -> bool {
        self.queued.load(Ordering::Relaxed)
    }

    /// Reactor side, at the end of a pass: marks the reactor asleep unless
    /// commands are waiting. Returns whether they are (then the next pass
    /// must not wait).
    pub(crate) fn sleep_unless_queued(&self) -> bool {
        let mut inbox = self.lock();
        if inbox.commands.is_empty() {
            inbox.asleep = true;
            false
        } else {
            true
        }
    }

    /// Marks the broker stopped and drops what is still queued, so that a
    /// handle waiting for an answer hears at once that none will come.
    pub(crate) fn close(&self) {
        self.stopped.store(true, Ordering::Release);
        let (commands, _bytes) = {
            let mut inbox = self.lock();
            inbox.closed = true;
            (
                std::mem::take(&mut inbox.commands),
                std::mem::take(&mut inbox.bytes),
            )
        };
        drop(commands);
    }
}
