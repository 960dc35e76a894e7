//! The event hook's events, owned, and a hook that records them.

use std::sync::mpsc;
use std::time::Instant;

use mqlite::{Broker, CloseReason, Event, QoS};

use crate::support::TIMEOUT;

#[derive(Clone, Debug, PartialEq)]
pub enum Ev {
    Connected {
        client_id: String,
        username: Option<String>,
        clean_session: bool,
        session_present: bool,
    },
    Disconnected {
        client_id: String,
        reason: CloseReason,
    },
    Subscribed {
        client_id: String,
        filter: String,
        qos: QoS,
    },
    Unsubscribed {
        client_id: String,
        filter: String,
    },
    QueueOverflow {
        client_id: String,
        dropped: u64,
        queued: usize,
    },
    /// A kind of event these tests do not know.
    Other,
}

impl Ev {
    pub fn from_event(event: &Event<'_>) -> Ev {
        match event {
            Event::Connected {
                client,
                clean_session,
                session_present,
                ..
            } => Ev::Connected {
                client_id: client.client_id.to_string(),
                username: client.username.map(str::to_string),
                clean_session: *clean_session,
                session_present: *session_present,
            },
            Event::Disconnected { client, reason } => Ev::Disconnected {
                client_id: client.client_id.to_string(),
                reason: *reason,
            },
            Event::Subscribed {
                client,
                filter,
                qos,
            } => Ev::Subscribed {
                client_id: client.client_id.to_string(),
                filter: filter.to_string(),
                qos: *qos,
            },
            Event::Unsubscribed { client, filter } => Ev::Unsubscribed {
                client_id: client.client_id.to_string(),
                filter: filter.to_string(),
            },
            Event::QueueOverflow {
                client,
                dropped,
                queued,
            } => Ev::QueueOverflow {
                client_id: client.client_id.to_string(),
                dropped: *dropped,
                queued: *queued,
            },
            _ => Ev::Other,
        }
    }

    pub fn client_id(&self) -> &str {
        match self {
            Ev::Connected { client_id, .. }
            | Ev::Disconnected { client_id, .. }
            | Ev::Subscribed { client_id, .. }
            | Ev::Unsubscribed { client_id, .. }
            | Ev::QueueOverflow { client_id, .. } => client_id,
            Ev::Other => "",
        }
    }
}

/// Installs an event hook that records every event.
pub fn record_events(broker: &mut Broker) -> mpsc::Receiver<Ev> {
    let (tx, rx) = mpsc::channel();
    broker.set_event_hook(move |event| {
        let _ = tx.send(Ev::from_event(event));
    });
    rx
}

/// The next event about `client_id` (others are skipped).
pub fn next_event_of(events: &mpsc::Receiver<Ev>, client_id: &str) -> Ev {
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(event) if event.client_id() == client_id => return event,
            Ok(_) => {}
            Err(_) => panic!("no event for {client_id} within 5 s"),
        }
    }
}

pub fn disconnected(client_id: &str, reason: CloseReason) -> Ev {
    Ev::Disconnected {
        client_id: client_id.to_string(),
        reason,
    }
}
