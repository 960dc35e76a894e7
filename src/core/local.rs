//! Local subscriptions: the host program receiving messages without a
//! socket. The core routes to them like to any subscriber, and hands each
//! delivery to its driver as an output ([`Core::poll_local`]); the driver
//! owns where it goes (a callback, a channel) and reports what it could
//! not deliver with [`Core::count_local`]. So the core holds no callback
//! and no channel.

use std::collections::HashMap;

use slab::Slab;

use super::router::Grant;
use super::{Core, Message, Subscriber};
use crate::codec::QoS;
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

/// One message for one local subscription, at its delivered QoS (and with
/// the retain flag set for a retained message sent at subscription).
#[derive(Clone, Debug)]
pub struct LocalDelivery {
    /// The subscription it is for.
    pub subscription: LocalSubscription,
    /// The message.
    pub message: Message,
}

/// Identifies a local subscription inside one core's slab.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct LocalKey(pub(crate) u32);

/// One local subscription, as routing knows it.
pub(crate) struct LocalSub {
    pub(crate) id: u64,
    pub(crate) filter: Box<str>,
}

/// The host's local subscriptions, and the deliveries to them not yet
/// taken by the driver.
#[derive(Default)]
pub(super) struct Locals {
    slab: Slab<LocalSub>,
    by_id: HashMap<u64, LocalKey>,
    out: Vec<LocalDelivery>,
}

impl Locals {
    /// The ids of every local subscription.
    pub(super) fn ids(&self) -> Vec<u64> {
        self.slab.iter().map(|(_, local)| local.id).collect()
    }
}

impl Core {
    /// Adds a local subscription with the caller's id; the retained
    /// messages that match it are its first deliveries.
    ///
    /// # Errors
    /// [`crate::Error::InvalidTopic`] for an invalid filter.
    pub(crate) fn subscribe_local(
        &mut self,
        id: u64,
        filter: &str,
        qos: QoS,
    ) -> Result<(), crate::Error> {
        if !is_valid_topic_filter(filter) {
            return Err(crate::Error::InvalidTopic(filter.to_string()));
        }
        let key = LocalKey(self.locals.slab.insert(LocalSub {
            id,
            filter: filter.into(),
        }) as u32);
        self.locals.by_id.insert(id, key);
        self.router
            .subscriptions
            .subscribe(filter, Subscriber::Local(key), Grant::qos_only(qos));
        let mut found = Vec::new();
        self.router
            .retained
            .for_each_match(filter, |_, message: &Message| found.push(message.clone()));
        for message in found {
            let qos = message.qos().min(qos);
            self.deliver_local(key, &message.with_flags(qos, true));
        }
        Ok(())
    }

    /// Removes a local subscription; false if there was none with that id.
    /// Deliveries to it not yet taken with [`Core::poll_local`] stay.
    pub(crate) fn unsubscribe_local(&mut self, id: u64) -> bool {
        let Some(key) = self.locals.by_id.remove(&id) else {
            return false;
        };
        let Some(local) = self.locals.slab.try_remove(key.0 as usize) else {
            return false;
        };
        self.router
            .subscriptions
            .unsubscribe(&local.filter, Subscriber::Local(key));
        true
    }

    /// Queues one message (already at its delivered QoS) for a local
    /// subscription.
    pub(super) fn deliver_local(&mut self, key: LocalKey, message: &Message) {
        let Some(local) = self.locals.slab.get(key.0 as usize) else {
            return;
        };
        self.locals.out.push(LocalDelivery {
            subscription: LocalSubscription(local.id),
            message: message.clone(),
        });
    }

    /// Moves the deliveries to local subscriptions made since the last call
    /// into `into` (cleared first), in routing order. Each counts as sent;
    /// the driver reports the ones it had to drop with
    /// [`Core::count_local`].
    pub fn poll_local(&mut self, into: &mut Vec<LocalDelivery>) {
        into.clear();
        std::mem::swap(into, &mut self.locals.out);
        self.stats.messages_sent += into.len() as u64;
    }

    /// Whether deliveries wait for [`Core::poll_local`].
    pub fn has_local_deliveries(&self) -> bool {
        !self.locals.out.is_empty()
    }

    /// Reports `dropped` local deliveries the driver could not hand over (a
    /// full channel, a receiver gone) after [`Core::poll_local`] counted
    /// them sent: they move from sent to dropped.
    pub fn count_local(&mut self, dropped: u64) {
        self.stats.messages_sent = self.stats.messages_sent.saturating_sub(dropped);
        self.stats.messages_dropped += dropped;
    }
}
