//! `$SYS/broker/...` statistics, published retained every `sys_interval`
//! under mosquitto's topic names.

use std::time::Instant;

use super::{Core, Message};
use crate::codec::QoS;

impl Core {
    /// Publishes the current counters under `$SYS/broker/`.
    pub(super) fn publish_sys(&mut self, now: Instant) {
        let stats = self.stats();
        let uptime = now.saturating_duration_since(self.started).as_secs();
        let disconnected = stats.sessions.saturating_sub(stats.clients_connected);
        // As mosquitto counts them: the broker's own `$SYS` topics left out.
        let retained = stats
            .retained_messages
            .saturating_sub(self.router.retained.sys_len() as u64);
        let entries: [(&str, String); 14] = [
            (
                "version",
                format!("mqlite version {}", env!("CARGO_PKG_VERSION")),
            ),
            ("uptime", format!("{uptime} seconds")),
            ("clients/connected", stats.clients_connected.to_string()),
            ("clients/active", stats.clients_connected.to_string()),
            ("clients/disconnected", disconnected.to_string()),
            ("clients/inactive", disconnected.to_string()),
            ("clients/total", stats.sessions.to_string()),
            ("messages/received", stats.messages_received.to_string()),
            ("messages/sent", stats.messages_sent.to_string()),
            (
                "publish/messages/dropped",
                stats.messages_dropped.to_string(),
            ),
            ("bytes/received", stats.bytes_received.to_string()),
            ("bytes/sent", stats.bytes_sent.to_string()),
            ("subscriptions/count", stats.subscriptions.to_string()),
            ("retained messages/count", retained.to_string()),
        ];
        for (name, value) in entries {
            let topic = format!("$SYS/broker/{name}");
            if let Some(message) = Message::new(&topic, value.as_bytes(), QoS::AtMostOnce, true) {
                self.route(now, message, None, None);
            }
        }
    }
}
