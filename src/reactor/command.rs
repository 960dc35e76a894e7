//! Requests from other threads to the reactor, sent through the handle.

use crossbeam_channel::Sender;

use crate::codec::QoS;
use crate::core::{LocalSink, Message, Stats};
use crate::hooks::{AuthDecision, AuthToken};

/// One request to the broker thread.
pub(crate) enum Command {
    /// Publish a message as the host.
    Publish(Message),
    /// Publish these messages as the host, in order.
    PublishBatch(Vec<Message>),
    /// Close the connection of this client id.
    Kick(String),
    /// Reply with the counters.
    Stats(Sender<Stats>),
    /// Reply with the connected client ids.
    Clients(Sender<Vec<String>>),
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
