//! Local subscriptions: the host program receiving messages without a
//! socket, through a callback on the broker thread or a bounded channel read
//! on its own thread.
//!
//! Channel policy when full: a QoS 0 message is dropped (and counted); a
//! QoS 1/2 message waits in an overflow queue inside the broker (bounded by
//! `max_queued_messages`, beyond which it is dropped and counted) and is
//! moved into the channel, in order, as the receiver takes messages. A
//! message counts as delivered once the callback returns or the receiver
//! has it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use crossbeam_channel::{Sender, TrySendError};

use super::{Core, Message, Subscriber};
use crate::codec::QoS;
use crate::hooks::{guarded, LocalCallback};
use crate::topic::is_valid_topic_filter;

/// A local subscription, as returned when it is made; give it back to
/// unsubscribe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct LocalSubscription(pub(crate) u64);

impl LocalSubscription {
    /// The subscription as a number (for hosts that pass it through C or
    /// Python).
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// A subscription from [`LocalSubscription::to_u64`].
    pub fn from_u64(value: u64) -> LocalSubscription {
        LocalSubscription(value)
    }
}

/// Identifies a local subscription inside one core's slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct LocalKey(pub(crate) u32);

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

/// One local subscription.
pub(crate) struct LocalSub {
    pub(crate) id: u64,
    pub(crate) filter: Box<str>,
    pub(crate) sink: LocalSink,
    /// The channel's receiver is gone: remove at the next flush.
    pub(crate) dead: bool,
}

impl Core {
    /// Adds a local subscription with the caller's id, and delivers the
    /// retained messages that match it.
    ///
    /// # Errors
    /// [`crate::Error::InvalidTopic`] for an invalid filter.
    pub(crate) fn subscribe_local(
        &mut self,
        id: u64,
        filter: &str,
        qos: QoS,
        sink: LocalSink,
    ) -> Result<(), crate::Error> {
        if !is_valid_topic_filter(filter) {
            return Err(crate::Error::InvalidTopic(filter.to_string()));
        }
        let key = LocalKey(self.locals.insert(LocalSub {
            id,
            filter: filter.into(),
            sink,
            dead: false,
        }) as u32);
        self.locals_by_id.insert(id, key);
        self.subscriptions
            .subscribe(filter, Subscriber::Local(key), qos);
        let mut found = Vec::new();
        self.retained
            .for_each_match(filter, |_, message: &Message| found.push(message.clone()));
        for message in found {
            let qos = message.qos().min(qos);
            self.deliver_local(key, &message.with_flags(qos, true));
        }
        Ok(())
    }

    /// Removes a local subscription; false if there was none with that id.
    pub(crate) fn unsubscribe_local(&mut self, id: u64) -> bool {
        let Some(key) = self.locals_by_id.remove(&id) else {
            return false;
        };
        if !self.locals.contains(key.0 as usize) {
            return false;
        }
        let local = self.locals.remove(key.0 as usize);
        self.subscriptions
            .unsubscribe(&local.filter, Subscriber::Local(key));
        if let LocalSink::Channel { overflow, .. } = &local.sink {
            if !overflow.is_empty() {
                self.locals_with_overflow = self.locals_with_overflow.saturating_sub(1);
            }
        }
        true
    }

    /// Hands one message (already at its delivered QoS) to a local
    /// subscription.
    pub(super) fn deliver_local(&mut self, key: LocalKey, message: &Message) {
        let Some(local) = self.locals.get_mut(key.0 as usize) else {
            return;
        };
        match &mut local.sink {
            LocalSink::Callback(callback) => {
                guarded("local subscription", (), || callback(message));
                self.stats.messages_sent += 1;
            }
            LocalSink::Channel {
                sender,
                overflow,
                overflow_flag,
            } => {
                // Keep order: once something waits, newer messages wait too.
                let attempt = if overflow.is_empty() {
                    sender.try_send(message.clone())
                } else {
                    Err(TrySendError::Full(message.clone()))
                };
                match attempt {
                    Ok(()) => self.stats.messages_sent += 1,
                    Err(TrySendError::Full(message)) => {
                        if message.qos() == QoS::AtMostOnce
                            || overflow.len() >= self.config.max_queued_messages
                        {
                            self.stats.messages_dropped += 1;
                        } else {
                            if overflow.is_empty() {
                                self.locals_with_overflow += 1;
                                overflow_flag.store(true, Ordering::Release);
                            }
                            overflow.push_back(message);
                        }
                    }
                    Err(TrySendError::Disconnected(_)) => {
                        local.dead = true;
                        self.locals_dead = true;
                    }
                }
            }
        }
    }

    /// Moves overflowed messages into channels that have room again, and
    /// drops subscriptions whose receiver is gone. Cheap when there is
    /// nothing to do.
    pub fn flush_local(&mut self) {
        if self.locals_with_overflow > 0 {
            for (_, local) in self.locals.iter_mut() {
                let LocalSink::Channel {
                    sender,
                    overflow,
                    overflow_flag,
                } = &mut local.sink
                else {
                    continue;
                };
                if overflow.is_empty() {
                    continue;
                }
                while let Some(message) = overflow.pop_front() {
                    match sender.try_send(message) {
                        Ok(()) => self.stats.messages_sent += 1,
                        Err(TrySendError::Full(message)) => {
                            overflow.push_front(message);
                            break;
                        }
                        Err(TrySendError::Disconnected(_)) => {
                            local.dead = true;
                            self.locals_dead = true;
                            overflow.clear();
                            break;
                        }
                    }
                }
                if overflow.is_empty() {
                    overflow_flag.store(false, Ordering::Release);
                    self.locals_with_overflow = self.locals_with_overflow.saturating_sub(1);
                }
            }
        }
        if self.locals_dead {
            self.locals_dead = false;
            let dead: Vec<u64> = self
                .locals
                .iter()
                .filter(|(_, local)| local.dead)
                .map(|(_, local)| local.id)
                .collect();
            for id in dead {
                self.unsubscribe_local(id);
            }
        }
    }
}
