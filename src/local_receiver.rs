//! [`LocalReceiver`]: the host's end of a local subscription delivered
//! through a bounded channel.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::core::LocalSubscription;
use crate::message::Message;
use crate::reactor::{Command, Shared};

/// The receiving end of [`BrokerHandle::subscribe_channel`](crate::BrokerHandle::subscribe_channel), for the host's
/// own thread. A message counts as delivered once taken from here.
pub struct LocalReceiver {
    pub(crate) receiver: crossbeam_channel::Receiver<Message>,
    pub(crate) overflow: Arc<AtomicBool>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) subscription: LocalSubscription,
}

impl Drop for LocalReceiver {
    fn drop(&mut self) {
        // Refused, harmlessly, once the broker has stopped.
        self.shared
            .send(Command::UnsubscribeLocal(self.subscription.0));
    }
}

impl LocalReceiver {
    /// Waits for the next message; `None` once the broker has stopped and
    /// the channel is empty.
    pub fn recv(&self) -> Option<Message> {
        let message = self.receiver.recv().ok();
        self.made_room();
        message
    }

    /// Waits up to `timeout` for the next message.
    pub fn recv_timeout(&self, timeout: Duration) -> Option<Message> {
        let message = self.receiver.recv_timeout(timeout).ok();
        self.made_room();
        message
    }

    /// The next message if one is waiting.
    pub fn try_recv(&self) -> Option<Message> {
        let message = self.receiver.try_recv().ok();
        self.made_room();
        message
    }

    /// Messages waiting in the channel now.
    pub fn len(&self) -> usize {
        self.receiver.len()
    }

    /// Whether no message is waiting in the channel now.
    pub fn is_empty(&self) -> bool {
        self.receiver.is_empty()
    }

    /// The subscription, for [`BrokerHandle::unsubscribe_local`](crate::BrokerHandle::unsubscribe_local).
    pub fn subscription(&self) -> LocalSubscription {
        self.subscription
    }

    /// Wakes the broker if messages are waiting for room in the channel and
    /// the channel is down to half: one wake-up per half channel, not one
    /// per message.
    fn made_room(&self) {
        if self.overflow.load(Ordering::Acquire) {
            let half = self.receiver.capacity().unwrap_or(0) / 2;
            if self.receiver.len() <= half {
                self.shared.wake();
            }
        }
    }
}
