//! [`MqttSnGateway`]: the settings of the MQTT-SN gateway.

use std::net::SocketAddr;
use std::time::Duration;

use crate::topic::is_valid_topic_name;
use crate::Error;

/// The MQTT-SN 1.2 gateway inside the broker: a UDP listener whose devices
/// become clients of the broker, with sessions, retained messages, wills,
/// persistence, hooks and ACLs like any other (EMQX's `emqx_sn` settings,
/// under the same names where it has them).
///
/// Set it in [`crate::Config::mqttsn`]; `MqttSnGateway::default()` listens
/// on UDP port 1884 of every IPv4 and IPv6 address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MqttSnGateway {
    /// UDP addresses to listen on. Port 0 picks a free port (read it back
    /// with [`crate::Broker::mqttsn_addrs`]). Default: `0.0.0.0:1884` and
    /// `[::]:1884`.
    pub listen: Vec<SocketAddr>,
    /// The gateway id in ADVERTISE and GWINFO. Default: 1.
    pub gateway_id: u8,
    /// How often ADVERTISE is sent (its Duration field), and where to.
    /// `None` sends none (GWINFO still answers SEARCHGW). Default: 15
    /// minutes, like EMQX's `advertise_duration`.
    pub advertise_interval: Option<Duration>,
    /// Where ADVERTISE goes: broadcast or multicast addresses. Default:
    /// `255.255.255.255:1884`.
    pub advertise_to: Vec<SocketAddr>,
    /// Pre-defined topic ids (id, topic name), the same for every client.
    /// Default: none.
    pub predefined_topics: Vec<(u16, String)>,
    /// A user name presented to the auth hooks for every MQTT-SN client
    /// (MQTT-SN has none of its own), as EMQX's `username`. Default: none.
    pub username: Option<String>,
    /// The password that goes with `username`. Default: none.
    pub password: Option<String>,
    /// Tretry: how long the gateway waits for an acknowledgement before
    /// sending a PUBLISH, PUBREL or REGISTER again. Default: 10 s.
    pub retry_interval: Duration,
    /// Nretry: how many times it sends again before giving the client up
    /// as lost. Default: 4.
    pub max_retries: u32,
    /// How many topic ids one client may register (REGISTER from the
    /// client; a REGISTER beyond it is answered "congestion"). Default:
    /// 1000.
    pub max_registered_topics: usize,
    /// Clients the gateway keeps at once (every state: connecting, awake,
    /// asleep); a CONNECT beyond it is answered "congestion". Also bounded
    /// by the broker's `max_connections`. Default: 10,000.
    pub max_clients: usize,
}

impl Default for MqttSnGateway {
    fn default() -> Self {
        MqttSnGateway {
            listen: vec![
                SocketAddr::from(([0, 0, 0, 0], 1884)),
                SocketAddr::from(([0u16; 8], 1884)),
            ],
            gateway_id: 1,
            advertise_interval: Some(Duration::from_secs(15 * 60)),
            advertise_to: vec![SocketAddr::from(([255, 255, 255, 255], 1884))],
            predefined_topics: Vec::new(),
            username: None,
            password: None,
            retry_interval: Duration::from_secs(10),
            max_retries: 4,
            max_registered_topics: 1000,
            max_clients: 10_000,
        }
    }
}

impl MqttSnGateway {
    /// A gateway listening on `addr` only, with the other defaults.
    pub fn on(addr: SocketAddr) -> Self {
        MqttSnGateway {
            listen: vec![addr],
            ..MqttSnGateway::default()
        }
    }

    /// Checks values that cannot work; the error names the field.
    ///
    /// # Errors
    /// [`Error::Config`] naming the first field that is wrong.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, reason: String| {
            Err(Error::Config {
                field: format!("mqttsn.{field}"),
                reason,
            })
        };
        if self.listen.is_empty() {
            return bad("listen", "at least one address is needed".into());
        }
        if self.retry_interval.is_zero() {
            return bad("retry_interval", "must be above 0".into());
        }
        if matches!(self.advertise_interval, Some(d) if d.is_zero() || d.as_secs() > 65_535) {
            return bad(
                "advertise_interval",
                "must be 1 to 65535 seconds (it is sent in a 16-bit field)".into(),
            );
        }
        if self.max_clients == 0 {
            return bad("max_clients", "must be at least 1".into());
        }
        if self.password.is_some() && self.username.is_none() {
            return bad("password", "needs a username".into());
        }
        let mut seen = std::collections::HashSet::new();
        for (id, topic) in &self.predefined_topics {
            if *id == 0 || *id == 0xFFFF {
                return bad(
                    "predefined_topics",
                    format!("topic id {id} is reserved (0x0000 and 0xFFFF)"),
                );
            }
            if !seen.insert(*id) {
                return bad("predefined_topics", format!("topic id {id} is given twice"));
            }
            if !is_valid_topic_name(topic) {
                return bad(
                    "predefined_topics",
                    format!("`{topic}` (id {id}) is not a valid topic name"),
                );
            }
        }
        Ok(())
    }
}
