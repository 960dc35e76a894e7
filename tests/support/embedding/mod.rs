//! For the embedding tests (`tests/embedding_*.rs`, whose broker is a
//! [`TestBroker`](super::TestBroker) started with a setup closure):
//!
//! - [`events`]: the event hook's events, owned, with a recording hook.
//! - [`Got`], [`forward`], [`recv`], [`recv_local`]: what local
//!   subscriptions (callbacks and channels) deliver.
//!
//! Every wait is bounded (at most [`TIMEOUT`] per call).

pub mod events;

use std::sync::mpsc;

use mqlite::{Message, QoS};

use super::TIMEOUT;

pub fn text(payload: &[u8]) -> String {
    String::from_utf8_lossy(payload).into_owned()
}

/// What a test keeps of a message.
#[derive(Clone, Debug, PartialEq)]
pub struct Got {
    pub topic: String,
    pub payload: String,
    pub qos: QoS,
    pub retain: bool,
}

impl Got {
    pub fn of(message: &Message) -> Got {
        Got {
            topic: message.topic().to_string(),
            payload: text(message.payload()),
            qos: message.qos(),
            retain: message.retain(),
        }
    }
}

/// A callback sending what it receives to a channel.
pub fn forward(tx: mpsc::Sender<Got>) -> impl FnMut(&Message) + Send + 'static {
    move |message| {
        let _ = tx.send(Got::of(message));
    }
}

pub fn recv(rx: &mpsc::Receiver<Got>, what: &str) -> Got {
    rx.recv_timeout(TIMEOUT)
        .unwrap_or_else(|_| panic!("no {what} within 5 s"))
}

pub fn recv_local(rx: &mqlite::LocalReceiver, what: &str) -> Got {
    let message = rx
        .recv_timeout(TIMEOUT)
        .unwrap_or_else(|| panic!("no {what} within 5 s"));
    Got::of(&message)
}
