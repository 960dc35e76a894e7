//! Counters kept by the core, read through the broker handle and `$SYS`.

/// A snapshot of the broker's counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Network connections open now (including ones not yet past CONNECT).
    pub connections: u64,
    /// Network connections accepted since start.
    pub connections_total: u64,
    /// Connections refused because `max_connections` was reached.
    pub connections_refused: u64,
    /// Clients connected now (past CONNACK 0).
    pub clients_connected: u64,
    /// Sessions held now, connected or not.
    pub sessions: u64,
    /// Subscriptions held now (filter, session pairs).
    pub subscriptions: u64,
    /// Retained messages held now.
    pub retained_messages: u64,
    /// PUBLISH packets received from clients and the host.
    pub messages_received: u64,
    /// PUBLISH packets sent to clients (deliveries, including resends).
    pub messages_sent: u64,
    /// Messages dropped: QoS 0 to a client that stopped reading, or queued
    /// messages beyond a client's queue limits.
    pub messages_dropped: u64,
    /// Bytes read from sockets.
    pub bytes_received: u64,
    /// Bytes written to sockets.
    pub bytes_sent: u64,
}
