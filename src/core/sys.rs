//! `$SYS/broker/...`: the statistics mosquitto 2.0 publishes, under its
//! topic names and with its update rules, so that a dashboard made for
//! mosquitto reads mqlite unchanged (docs/SYS.md has the table).
//!
//! Every `sys_interval`, from the first pass on: the version once, then
//! the load averages that moved by 0.01 or more, then each counter whose
//! value changed since it was last published, then the uptime. Retained,
//! at QoS 0. Unchanged values are not sent again (as in mosquitto): a new
//! subscriber gets them retained. The uptime comes last, so that a reader
//! that sees it has seen the round's other changes.

use std::time::Instant;

use super::{Core, Message, Stats};
use crate::codec::QoS;

/// Reads one counter of a snapshot.
type Counter = fn(&Stats) -> u64;

/// The sources of the load averages: the name under `$SYS/broker/load/`
/// and the counter whose rate it averages (mosquitto's `metric_loads`).
const LOAD_SOURCES: [(&str, Counter); 9] = [
    ("messages/received", |s| s.packets_received),
    ("messages/sent", |s| s.packets_sent),
    ("publish/dropped", |s| s.messages_dropped),
    ("publish/received", |s| s.messages_received),
    ("publish/sent", |s| s.messages_sent),
    ("bytes/received", |s| s.bytes_received),
    ("bytes/sent", |s| s.bytes_sent),
    ("sockets", |s| s.connections_total),
    ("connections", |s| s.connects_received),
];

/// The windows of the load averages: the topic's last level and the time
/// constant, in seconds, of its exponential decay.
const LOAD_WINDOWS: [(&str, f64); 3] = [("1min", 60.0), ("5min", 300.0), ("15min", 900.0)];

/// How much a load average must move to be published again.
const LOAD_STEP: f64 = 0.01;

/// The counters and gauges, each with the second topic mosquitto also
/// publishes it under. The heap is only known when the host gave a probe.
const METRICS: usize = 21;

/// One round's values of the counters and gauges, in the order of
/// `METRIC_TOPICS`.
type Values = [Option<u64>; METRICS];

/// Topics of the counters and gauges (after `$SYS/broker/`), in
/// mosquitto's order, with their aliases.
const METRIC_TOPICS: [(&str, Option<&str>); METRICS] = [
    ("clients/total", None),
    ("clients/maximum", None),
    ("clients/disconnected", Some("clients/inactive")),
    ("clients/connected", Some("clients/active")),
    ("clients/expired", None),
    ("messages/stored", Some("store/messages/count")),
    ("store/messages/bytes", None),
    ("subscriptions/count", None),
    ("shared_subscriptions/count", None),
    ("retained messages/count", None),
    ("heap/current", None),
    ("heap/maximum", None),
    ("messages/received", None),
    ("messages/sent", None),
    ("bytes/received", None),
    ("bytes/sent", None),
    ("publish/bytes/received", None),
    ("publish/bytes/sent", None),
    ("publish/messages/dropped", None),
    ("publish/messages/received", None),
    ("publish/messages/sent", None),
];

/// What the `$SYS` rounds remember between them.
#[derive(Default)]
pub(super) struct SysState {
    /// When the last round ran; `None` before the first.
    last_round: Option<Instant>,
    /// The value last published for each metric.
    published: Values,
    /// The load averages, per source then window.
    loads: [[f64; LOAD_WINDOWS.len()]; LOAD_SOURCES.len()],
    /// Each load source's counter at the last round.
    counted: [u64; LOAD_SOURCES.len()],
    /// The most sessions seen at a round.
    clients_maximum: u64,
    /// The largest heap the probe reported.
    heap_maximum: u64,
}

impl SysState {
    /// This round's metric values.
    fn values(&mut self, stats: &Stats, heap: Option<u64>) -> Values {
        self.clients_maximum = self.clients_maximum.max(stats.sessions);
        if let Some(heap) = heap {
            self.heap_maximum = self.heap_maximum.max(heap);
        }
        let disconnected = stats.sessions.saturating_sub(stats.clients_connected);
        [
            Some(stats.sessions),
            Some(self.clients_maximum),
            Some(disconnected),
            Some(stats.clients_connected),
            Some(stats.sessions_expired),
            Some(stats.stored_messages),
            Some(stats.stored_bytes),
            Some(stats.subscriptions),
            Some(stats.shared_subscriptions),
            Some(stats.retained_messages),
            heap,
            heap.map(|_| self.heap_maximum),
            Some(stats.packets_received),
            Some(stats.packets_sent),
            Some(stats.bytes_received),
            Some(stats.bytes_sent),
            Some(stats.publish_bytes_received),
            Some(stats.publish_bytes_sent),
            Some(stats.messages_dropped),
            Some(stats.messages_received),
            Some(stats.messages_sent),
        ]
    }

    /// Moves the load averages on to `now` and lists those to publish:
    /// all of them (at 0) in the first round, then those that moved by
    /// `LOAD_STEP` or more. mosquitto's `calc_load`: the rate over the
    /// last interval, per minute, pulls each average towards it by
    /// `1 - exp(-interval / window)`.
    fn loads(&mut self, now: Instant, stats: &Stats) -> Vec<(String, String)> {
        let counts = LOAD_SOURCES.map(|(_, read)| read(stats));
        let mut out = Vec::new();
        let elapsed = match self.last_round {
            None => {
                for (name, _) in LOAD_SOURCES {
                    for (window, _) in LOAD_WINDOWS {
                        out.push((format!("load/{name}/{window}"), "0.00".to_string()));
                    }
                }
                self.counted = counts;
                return out;
            }
            Some(last) => now.saturating_duration_since(last).as_secs_f64(),
        };
        // Two rounds in the same instant (a timer run late) say nothing
        // about a rate.
        if elapsed < 0.001 {
            return out;
        }
        for (source, (name, _)) in LOAD_SOURCES.iter().enumerate() {
            let delta = counts[source].saturating_sub(self.counted[source]);
            let rate = delta as f64 * 60.0 / elapsed;
            for (index, (window, span)) in LOAD_WINDOWS.iter().enumerate() {
                let old = self.loads[source][index];
                let new = rate + (-elapsed / span).exp() * (old - rate);
                if (new - old).abs() >= LOAD_STEP {
                    out.push((format!("load/{name}/{window}"), format!("{new:.2}")));
                }
                self.loads[source][index] = new;
            }
        }
        self.counted = counts;
        out
    }
}

impl Core {
    /// One `$SYS` round (see the module documentation).
    pub(super) fn publish_sys(&mut self, now: Instant) {
        let stats = self.stats();
        let heap = self.heap_in_use();
        let first = self.sys.last_round.is_none();
        if first {
            let version = format!("mqlite version {}", env!("CARGO_PKG_VERSION"));
            self.publish_sys_value(now, "version", &version);
        }
        for (name, value) in self.sys.loads(now, &stats) {
            self.publish_sys_value(now, &name, &value);
        }
        let values = self.sys.values(&stats, heap);
        for (index, ((topic, alias), value)) in METRIC_TOPICS.iter().zip(values).enumerate() {
            let Some(value) = value else { continue };
            if self.sys.published[index] == Some(value) {
                continue;
            }
            self.sys.published[index] = Some(value);
            let text = value.to_string();
            self.publish_sys_value(now, topic, &text);
            if let Some(alias) = alias {
                self.publish_sys_value(now, alias, &text);
            }
        }
        let uptime = now.saturating_duration_since(self.started).as_secs();
        self.publish_sys_value(now, "uptime", &format!("{uptime} seconds"));
        self.sys.last_round = Some(now);
    }

    /// The heap in use, from the host's probe (a panicking probe is
    /// logged and reports nothing).
    fn heap_in_use(&mut self) -> Option<u64> {
        let probe = self.hooks.heap.as_mut()?;
        crate::hooks::guarded("heap probe", None, probe)
    }

    /// Publishes `$SYS/broker/{name}` retained at QoS 0, as the broker
    /// (not counted as a message received).
    fn publish_sys_value(&mut self, now: Instant, name: &str, value: &str) {
        let topic = format!("$SYS/broker/{name}");
        if let Some(message) = Message::new(&topic, value.as_bytes(), QoS::AtMostOnce, true) {
            self.route(now, message, None, None);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn topics(loads: &[(String, String)]) -> Vec<&str> {
        loads.iter().map(|(topic, _)| topic.as_str()).collect()
    }

    #[test]
    fn the_first_round_publishes_every_load_at_zero() {
        let mut sys = SysState::default();
        let loads = sys.loads(Instant::now(), &Stats::default());
        assert_eq!(loads.len(), 27);
        assert!(loads.iter().all(|(_, value)| value == "0.00"));
        assert!(topics(&loads).contains(&"load/connections/15min"));
    }

    #[test]
    fn loads_follow_mosquittos_moving_average() {
        let start = Instant::now();
        let mut sys = SysState::default();
        sys.loads(start, &Stats::default());
        sys.last_round = Some(start);
        // 60 packets in 10 s: 360 a minute. The 1 minute average moves by
        // 1 - e^(-10/60) of the way there: 55.27.
        let stats = Stats {
            packets_received: 60,
            ..Stats::default()
        };
        let loads = sys.loads(start + Duration::from_secs(10), &stats);
        let value = |topic: &str| {
            loads
                .iter()
                .find(|(t, _)| t == topic)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(value("load/messages/received/1min"), Some("55.27"));
        assert_eq!(value("load/messages/received/5min"), Some("11.80"));
        assert_eq!(value("load/messages/received/15min"), Some("3.98"));
        // Nothing else moved, so nothing else is published.
        assert_eq!(loads.len(), 3, "{loads:?}");
    }

    #[test]
    fn maxima_only_grow_and_the_heap_needs_a_probe() {
        let mut sys = SysState::default();
        let busy = Stats {
            sessions: 5,
            clients_connected: 3,
            ..Stats::default()
        };
        let values = sys.values(&busy, None);
        assert_eq!(values[0..4], [Some(5), Some(5), Some(2), Some(3)]);
        assert_eq!(values[10..12], [None, None]);
        let values = sys.values(&Stats::default(), Some(100));
        assert_eq!(values[0..2], [Some(0), Some(5)]);
        assert_eq!(values[10..12], [Some(100), Some(100)]);
        let values = sys.values(&Stats::default(), Some(40));
        assert_eq!(values[10..12], [Some(40), Some(100)]);
    }
}
