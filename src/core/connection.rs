//! A network connection as the core sees it: protocol state and the bytes
//! waiting to be parsed or written. No socket: the reactor owns that.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

pub use crate::close_reason::CloseReason;
use crate::message::Message;
use super::output_queue::OutputQueue;
use super::SessionKey;
use crate::codec::Protocol;

/// Where a connection is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ConnState {
    /// Accepted; the first packet must be CONNECT.
    AwaitingConnect,
    /// CONNECT received; the authentication hook answered "pending".
    /// Further input waits unparsed.
    AuthPending,
    /// CONNACK 0 sent; attached to a session.
    Connected(SessionKey),
    /// The core is done with it; the reactor flushes what is left and
    /// releases it. Input is ignored.
    Closing,
}

/// What the core keeps of a CONNECT while its authentication is pending.
pub(crate) struct PendingConnect {
    pub(crate) client_id: String,
    pub(crate) username: Option<Box<str>>,
    pub(crate) clean_session: bool,
    pub(crate) keep_alive: u16,
    pub(crate) will: Option<Box<Message>>,
}

/// Per-connection state. Kept small: an idle connection holds no buffer.
pub(crate) struct Conn {
    pub(crate) state: ConnState,
    /// Distinguishes this connection from earlier ones in the same slot.
    pub(crate) generation: u32,
    pub(crate) peer: SocketAddr,
    pub(crate) protocol: Protocol,
    /// Keepalive window (1.5 × the client's keepalive); zero means none.
    pub(crate) keepalive: Duration,
    pub(crate) last_packet_at: Instant,
    /// The will to publish unless the client sends DISCONNECT.
    pub(crate) will: Option<Box<Message>>,
    /// The CONNECT being authenticated, while `AuthPending`.
    pub(crate) pending: Option<Box<PendingConnect>>,
    /// The unparsed tail of a partly received packet (empty when idle).
    pub(crate) input: Vec<u8>,
    /// Encoded bytes (and spliced payloads) not yet written.
    pub(crate) output: OutputQueue,
    /// Whether the connection is in the core's list of connections with
    /// fresh output.
    pub(crate) in_dirty_list: bool,
}

impl Conn {
    pub(crate) fn new(peer: SocketAddr, generation: u32, now: Instant) -> Conn {
        Conn {
            state: ConnState::AwaitingConnect,
            generation,
            peer,
            protocol: Protocol::V311,
            keepalive: Duration::ZERO,
            last_packet_at: now,
            will: None,
            pending: None,
            input: Vec::new(),
            output: OutputQueue::default(),
            in_dirty_list: false,
        }
    }

    /// Bytes encoded and not yet written.
    pub(crate) fn pending_output(&self) -> usize {
        self.output.pending()
    }

    /// The session it is attached to, if connected.
    pub(crate) fn session(&self) -> Option<SessionKey> {
        match self.state {
            ConnState::Connected(key) => Some(key),
            _ => None,
        }
    }
}
