//! What the management API reports: owned snapshots of the broker's
//! clients, sessions and subscriptions, taken on the broker thread
//! ([`crate::Broker::clients`], [`crate::BrokerHandle::clients`] and their
//! siblings) and free of any borrow of the broker, so that a host may keep
//! them, send them to another thread or show them later.
//!
//! The structs are `#[non_exhaustive]`: later versions add fields (a host
//! reads them, it never builds them), so matching one needs `..`.

use std::time::{Duration, SystemTime};

use crate::codec::{Protocol, QoS};
use crate::peer::Peer;

/// A client connected now (past CONNACK).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectedClient {
    /// Client identifier (a generated one if the client sent none).
    pub client_id: String,
    /// User name it connected with (or the one a TLS listener took from
    /// its certificate), if any.
    pub username: Option<String>,
    /// MQTT 3.1, 3.1.1 or 5.0.
    pub protocol: Protocol,
    /// Who is at the other end (for TCP, [`Peer::Tcp`] with its address).
    pub peer: Peer,
    /// The listener it came in on: its place in `Config::listeners`, then
    /// `Config::custom_listeners`.
    pub listener: u16,
    /// When its CONNECT was accepted, by the wall clock. Worked out from
    /// the broker's monotonic clock when the snapshot is taken, so a wall
    /// clock set since then (NTP at boot) shifts it by as much.
    pub connected_at: SystemTime,
    /// Whether its session outlives the connection (Clean Session 0, or an
    /// MQTT 5 Session Expiry Interval above 0).
    pub persistent: bool,
    /// Subscriptions it holds (shared ones included).
    pub subscriptions: usize,
    /// QoS 1/2 messages waiting for room in its in-flight window (those
    /// kept only in the store included).
    pub queued: usize,
    /// QoS 1/2 messages sent and not yet fully acknowledged.
    pub inflight: usize,
    /// Messages sent to this session (resends not counted again).
    pub messages_sent: u64,
    /// Messages for this session that were dropped (queue full, QoS 0 to a
    /// client not reading, too large for it, ...).
    pub messages_dropped: u64,
}

/// A session, connected or not.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SessionInfo {
    /// Client identifier.
    pub client_id: String,
    /// Whether a client is connected to it now.
    pub connected: bool,
    /// Whether it outlives its connection (see
    /// [`ConnectedClient::persistent`]). A session that is not is only
    /// listed while its client is connected.
    pub persistent: bool,
    /// How long it outlives its connection, in seconds; `None`: for ever
    /// (a 3.1.1 Clean Session 0 without `Config::session_expiry`, or an
    /// MQTT 5 interval of 0xFFFFFFFF).
    pub expiry_interval: Option<u32>,
    /// For an offline session that expires: the time left before it does.
    pub expires_in: Option<Duration>,
    /// The user name of its latest connection.
    pub username: Option<String>,
    /// Subscriptions it holds.
    pub subscriptions: usize,
    /// QoS 1/2 messages waiting for its client (see
    /// [`ConnectedClient::queued`]).
    pub queued: usize,
    /// QoS 1/2 messages sent and not yet fully acknowledged (kept for
    /// resending when the client comes back).
    pub inflight: usize,
}

/// One subscription of a session, as granted.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct SubscriptionInfo {
    /// The topic filter as subscribed (`$share/{group}/{filter}` for a
    /// shared subscription).
    pub filter: String,
    /// The maximum QoS granted.
    pub qos: QoS,
    /// MQTT 5 No Local: the client's own messages are not sent back to it.
    pub no_local: bool,
    /// MQTT 5 Retain As Published: forwarded messages keep their RETAIN
    /// flag.
    pub retain_as_published: bool,
    /// MQTT 5 Subscription Identifier, if one was given. (Retain Handling
    /// is not listed: it only acts at the moment of subscribing.)
    pub identifier: Option<u32>,
}
