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
    /// Subscriptions held now: (filter, session) pairs, and the host's
    /// local subscriptions; shared ones are counted apart.
    pub subscriptions: u64,
    /// Shared subscriptions held now: (`$share/group/filter`, session)
    /// pairs.
    pub shared_subscriptions: u64,
    /// Retained messages held now, the broker's own `$SYS` ones included
    /// (as mosquitto counts them).
    pub retained_messages: u64,
    /// Messages held now: the retained ones, and each session's copies
    /// queued or in flight (those of a persistent queue kept only in the
    /// store included).
    pub stored_messages: u64,
    /// The size of those messages: topic, properties and payload bytes.
    pub stored_bytes: u64,
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
    /// MQTT packets received from clients, of every kind.
    pub packets_received: u64,
    /// MQTT packets sent to clients, of every kind (counted when queued
    /// for writing).
    pub packets_sent: u64,
    /// CONNECT packets received.
    pub connects_received: u64,
    /// Payload bytes of the messages `messages_received` counts.
    pub publish_bytes_received: u64,
    /// Payload bytes of the PUBLISH packets sent to clients.
    pub publish_bytes_sent: u64,
    /// Persistent sessions removed because their expiry interval passed
    /// while the client was away.
    pub sessions_expired: u64,
}

impl Stats {
    /// Counts a message dropped for `client_id` because of `why` (the limit
    /// or rule), logging the 1st, 10th, 100th, ... drop so that a client
    /// hitting a limit is visible in the log without flooding it.
    pub(crate) fn drop_message(&mut self, client_id: &str, why: &str) {
        self.messages_dropped += 1;
        let n = self.messages_dropped;
        if n == 1 || is_power_of_ten(n) {
            log::warn!("message for {client_id} dropped: {why} ({n} dropped in all)");
        }
    }
}

fn is_power_of_ten(mut n: u64) -> bool {
    while n >= 10 && n.is_multiple_of(10) {
        n /= 10;
    }
    n == 1
}
