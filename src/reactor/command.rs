//! Requests from other threads to the reactor, sent through the handle.

use crossbeam_channel::Sender;

use crate::core::{Message, Stats};

/// One request to the broker thread.
pub(crate) enum Command {
    /// Publish a message as the host.
    Publish(Message),
    /// Close the connection of this client id.
    Kick(String),
    /// Reply with the counters.
    Stats(Sender<Stats>),
    /// Reply with the connected client ids.
    Clients(Sender<Vec<String>>),
    /// Stop the broker: close listeners and clients, then return from `run`.
    Stop,
}
