//! Where the host's local subscriptions lead: a callback on the broker
//! thread, or a bounded channel read on the host's own thread. The core
//! routes to local subscriptions and hands over each delivery
//! (`Core::poll_local`); this is the driver's side, which owns the
//! callbacks and channels.
//!
//! Channel policy when full: a QoS 0 message is dropped (and counted); a
//! QoS 1/2 message waits in an overflow queue here (bounded by
//! `max_queued_messages`, beyond which it is dropped and counted) and is
//! moved into the channel, in order, as the receiver takes messages. A
//! message counts as delivered once the callback returns or the receiver
//! has it.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};

use crate::codec::QoS;
use crate::core::{Core, LocalDelivery};
use crate::hooks::{guarded, LocalCallback};
use crate::message::Message;

/// Where a local subscription's messages go.
pub(crate) enum LocalSink {
    /// Called on the broker thread for each message.
    Callback(LocalCallback),
    /// Sent to a bounded channel.
    Channel {
        sender: Sender<Message>,
        /// QoS 1/2 messages that did not fit, oldest first.
        overflow: VecDeque<Message>,
        /// Set while `overflow` is non-empty, so the receiver knows to wake
        /// the broker when it makes room.
        overflow_flag: Arc<AtomicBool>,
    },
}

/// The sinks of every local subscription, by subscription id.
#[derive(Default)]
pub(crate) struct LocalSinks {
    sinks: HashMap<u64, LocalSink>,
    /// How many channel sinks hold overflowed messages.
    with_overflow: usize,
    /// Reused list of the core's deliveries.
    deliveries: Vec<LocalDelivery>,
    /// Subscriptions whose receiver is gone, to end at the next flush.
    dead: Vec<u64>,
}

impl LocalSinks {
    pub(crate) fn add(&mut self, id: u64, sink: LocalSink) {
        self.sinks.insert(id, sink);
    }

    /// Forgets a subscription's sink (its undelivered overflow with it).
    pub(crate) fn remove(&mut self, id: u64) {
        if let Some(LocalSink::Channel { overflow, .. }) = self.sinks.remove(&id) {
            if !overflow.is_empty() {
                self.with_overflow = self.with_overflow.saturating_sub(1);
            }
        }
    }

    /// Drops every sink: channel receivers then see the end.
    pub(crate) fn clear(&mut self) {
        self.sinks.clear();
        self.with_overflow = 0;
    }

    /// Hands the core's deliveries to their sinks, then moves overflowed
    /// messages into channels that have room again and ends subscriptions
    /// whose receiver is gone. Cheap when there is nothing to do.
    pub(crate) fn dispatch(&mut self, core: &mut Core) {
        let max_queued = core.config().max_queued_messages;
        let mut dropped = 0;
        if core.has_local_deliveries() {
            let mut deliveries = std::mem::take(&mut self.deliveries);
            core.poll_local(&mut deliveries);
            for delivery in deliveries.drain(..) {
                let id = delivery.subscription.to_u64();
                if !self.deliver(id, delivery.message, max_queued) {
                    dropped += 1;
                }
            }
            self.deliveries = deliveries;
        }
        if self.with_overflow > 0 {
            self.flush_overflow();
        }
        for id in self.dead.drain(..) {
            if let Some(LocalSink::Channel { overflow, .. }) = self.sinks.remove(&id) {
                if !overflow.is_empty() {
                    self.with_overflow = self.with_overflow.saturating_sub(1);
                    dropped += overflow.len() as u64;
                }
            }
            core.unsubscribe_local(id);
        }
        if dropped > 0 {
            core.count_local(dropped);
        }
    }

    /// Delivers one message; false when it was dropped.
    fn deliver(&mut self, id: u64, message: Message, max_queued: usize) -> bool {
        let Some(sink) = self.sinks.get_mut(&id) else {
            // Unsubscribed after the core routed to it.
            return false;
        };
        match sink {
            LocalSink::Callback(callback) => {
                guarded("local subscription", (), || callback(&message));
                true
            }
            LocalSink::Channel {
                sender,
                overflow,
                overflow_flag,
            } => {
                // Keep order: once something waits, newer messages wait too.
                let attempt = if overflow.is_empty() {
                    sender.try_send(message)
                } else {
                    Err(TrySendError::Full(message))
                };
                match attempt {
                    Ok(()) => true,
                    Err(TrySendError::Full(message)) => {
                        if message.qos() == QoS::AtMostOnce || overflow.len() >= max_queued {
                            return false;
                        }
                        if overflow.is_empty() {
                            self.with_overflow += 1;
                            overflow_flag.store(true, Ordering::Release);
                        }
                        overflow.push_back(message);
                        true
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        self.dead.push(id);
                        false
                    }
                }
            }
        }
    }

    /// Moves overflowed messages into channels that have room again.
    fn flush_overflow(&mut self) {
        for (&id, sink) in self.sinks.iter_mut() {
            let LocalSink::Channel {
                sender,
                overflow,
                overflow_flag,
            } = sink
            else {
                continue;
            };
            if overflow.is_empty() {
                continue;
            }
            while let Some(message) = overflow.pop_front() {
                match sender.try_send(message) {
                    Ok(()) => {}
                    Err(TrySendError::Full(message)) => {
                        overflow.push_front(message);
                        break;
                    }
                    Err(TrySendError::Disconnected(message)) => {
                        overflow.push_front(message);
                        self.dead.push(id);
                        break;
                    }
                }
            }
            if overflow.is_empty() {
                overflow_flag.store(false, Ordering::Release);
                self.with_overflow = self.with_overflow.saturating_sub(1);
            }
        }
    }
}
