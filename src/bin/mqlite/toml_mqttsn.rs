//! The TOML file's `[mqttsn]` table: the MQTT-SN gateway
//! ([`mqlite::MqttSnGateway`], `Config::mqttsn`). The table being there
//! turns the gateway on; every key is optional, with the library's
//! defaults.
//!
//! ```toml
//! [mqttsn]
//! port = 1884
//! gateway_id = 7
//! advertise_interval = 900
//! predefined_topics = [{ id = 1, topic = "sensors/temp" }]
//! ```
//!
//! Included by path from `config_file.rs` (also in
//! `tests/robust/limits_defaults.rs`), so it names nothing else of the
//! binary.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use serde::Deserialize;

use mqlite::{Error, MqttSnGateway};

/// The `[mqttsn]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct MqttSnTable {
    listen: Option<Vec<String>>,
    port: Option<u16>,
    gateway_id: Option<u8>,
    advertise_interval: Option<u64>,
    advertise_to: Option<Vec<String>>,
    predefined_topics: Option<Vec<PredefinedTopicTable>>,
    username: Option<String>,
    password: Option<String>,
    retry_interval: Option<u64>,
    max_retries: Option<u32>,
    max_registered_topics: Option<usize>,
    max_clients: Option<usize>,
}

/// One entry of `predefined_topics`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PredefinedTopicTable {
    id: u16,
    topic: String,
}

/// The keys of the `[mqttsn]` table with their defaults, for `--help`.
pub const MQTTSN_KEYS: &[(&str, &str)] = &[
    (
        "listen",
        "[\"0.0.0.0:1884\", \"[::]:1884\"]  UDP addresses of the gateway",
    ),
    (
        "port",
        "1884  shorthand: listen on 0.0.0.0:PORT and [::]:PORT",
    ),
    ("gateway_id", "1  id in ADVERTISE and GWINFO"),
    (
        "advertise_interval",
        "900  seconds between ADVERTISE (0: none; at most 65535)",
    ),
    (
        "advertise_to",
        "[\"255.255.255.255:1884\"]  where ADVERTISE goes",
    ),
    (
        "predefined_topics",
        "none  [{ id = 1, topic = \"a/b\" }]: topic ids every client knows",
    ),
    (
        "username",
        "none  user name the auth hooks see for every MQTT-SN client",
    ),
    ("password", "none  password with username"),
    (
        "retry_interval",
        "10  seconds before a PUBLISH, PUBREL or REGISTER is sent again",
    ),
    (
        "max_retries",
        "4  sends again before the client is given up as lost",
    ),
    (
        "max_registered_topics",
        "1000  topic ids one client may register",
    ),
    ("max_clients", "10000  clients the gateway keeps at once"),
];

/// The keys of an entry of `predefined_topics`, for `--help`.
pub const MQTTSN_TOPIC_KEYS: &[(&str, &str)] = &[
    ("id", "required  1 to 65534, unique"),
    ("topic", "required  topic name (no wildcards)"),
];

fn invalid(key: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        field: format!("mqttsn.{key}"),
        reason: reason.into(),
    }
}

fn addresses(key: &str, texts: &[String]) -> Result<Vec<SocketAddr>, Error> {
    texts
        .iter()
        .map(|text| {
            text.parse::<SocketAddr>().map_err(|_| {
                invalid(
                    key,
                    format!("`{text}` is not an address like 0.0.0.0:1884 or [::]:1884"),
                )
            })
        })
        .collect()
}

impl MqttSnTable {
    /// The gateway this table describes. What `MqttSnGateway::validate`
    /// checks (a zero retry interval, a reserved topic id...) is left to it,
    /// so that the file and the library refuse with the same words.
    ///
    /// # Errors
    /// [`Error::Config`] naming `mqttsn.KEY`.
    pub fn gateway(self) -> Result<MqttSnGateway, Error> {
        let mut gateway = MqttSnGateway::default();
        match (self.listen, self.port) {
            (Some(_), Some(_)) => {
                return Err(invalid(
                    "listen",
                    "give either `listen` or `port`, not both",
                ))
            }
            (Some(listen), None) => {
                if listen.is_empty() {
                    return Err(invalid("listen", "at least one address is needed"));
                }
                gateway.listen = addresses("listen", &listen)?;
            }
            (None, Some(port)) => gateway.listen = every_address(port),
            (None, None) => {}
        }
        if let Some(id) = self.gateway_id {
            gateway.gateway_id = id;
        }
        if let Some(seconds) = self.advertise_interval {
            gateway.advertise_interval = (seconds > 0).then(|| Duration::from_secs(seconds));
        }
        if let Some(to) = self.advertise_to {
            gateway.advertise_to = addresses("advertise_to", &to)?;
        }
        if let Some(topics) = self.predefined_topics {
            gateway.predefined_topics = topics.into_iter().map(|t| (t.id, t.topic)).collect();
        }
        gateway.username = self.username;
        gateway.password = self.password;
        if let Some(seconds) = self.retry_interval {
            gateway.retry_interval = Duration::from_secs(seconds);
        }
        if let Some(count) = self.max_retries {
            gateway.max_retries = count;
        }
        if let Some(count) = self.max_registered_topics {
            gateway.max_registered_topics = count;
        }
        if let Some(count) = self.max_clients {
            gateway.max_clients = count;
        }
        gateway.validate()?;
        Ok(gateway)
    }
}

/// `port = P`: every IPv4 and IPv6 address, as the default listens on
/// 1884.
pub fn every_address(port: u16) -> Vec<SocketAddr> {
    vec![
        SocketAddr::new(IpAddr::from([0u8; 4]), port),
        SocketAddr::new(IpAddr::from([0u16; 8]), port),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(text: &str) -> Result<MqttSnGateway, Error> {
        toml::from_str::<MqttSnTable>(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .gateway()
    }

    #[test]
    fn an_empty_table_is_the_default_gateway() {
        assert_eq!(gateway("").unwrap(), MqttSnGateway::default());
    }

    #[test]
    fn every_key_is_applied() {
        let g = gateway(
            "listen = [\"127.0.0.1:10000\", \"[::1]:10001\"]\ngateway_id = 7\n\
             advertise_interval = 60\nadvertise_to = [\"224.0.0.1:1884\"]\n\
             predefined_topics = [{ id = 1, topic = \"a/b\" }, { id = 2, topic = \"c\" }]\n\
             username = \"sn\"\npassword = \"pw\"\nretry_interval = 3\nmax_retries = 2\n\
             max_registered_topics = 50\nmax_clients = 20\n",
        )
        .unwrap();
        let expected = MqttSnGateway {
            listen: vec![
                "127.0.0.1:10000".parse().unwrap(),
                "[::1]:10001".parse().unwrap(),
            ],
            gateway_id: 7,
            advertise_interval: Some(Duration::from_secs(60)),
            advertise_to: vec!["224.0.0.1:1884".parse().unwrap()],
            predefined_topics: vec![(1, "a/b".into()), (2, "c".into())],
            username: Some("sn".into()),
            password: Some("pw".into()),
            retry_interval: Duration::from_secs(3),
            max_retries: 2,
            max_registered_topics: 50,
            max_clients: 20,
        };
        assert_eq!(g, expected);
    }

    #[test]
    fn port_listens_everywhere_and_zero_advertises_nothing() {
        let g = gateway("port = 0\nadvertise_interval = 0\n").unwrap();
        assert_eq!(
            g.listen,
            vec![
                "0.0.0.0:0".parse::<SocketAddr>().unwrap(),
                "[::]:0".parse().unwrap()
            ]
        );
        assert_eq!(g.advertise_interval, None);
    }

    #[test]
    fn bad_values_name_the_key() {
        for (text, key, says) in [
            ("listen = []", "listen", "at least one address"),
            (
                "listen = [\"h:1884\"]",
                "listen",
                "`h:1884` is not an address",
            ),
            ("listen = [\"1884\"]", "listen", "is not an address"),
            ("listen = [\"0.0.0.0:1\"]\nport = 2", "listen", "not both"),
            ("advertise_to = [\"x\"]", "advertise_to", "`x` is not"),
            (
                "advertise_interval = 65536",
                "advertise_interval",
                "1 to 65535 seconds",
            ),
            ("retry_interval = 0", "retry_interval", "above 0"),
            ("max_clients = 0", "max_clients", "at least 1"),
            ("password = \"p\"", "password", "needs a username"),
            (
                "predefined_topics = [{ id = 0, topic = \"a\" }]",
                "predefined_topics",
                "reserved",
            ),
            (
                "predefined_topics = [{ id = 65535, topic = \"a\" }]",
                "predefined_topics",
                "reserved",
            ),
            (
                "predefined_topics = [{ id = 3, topic = \"a\" }, { id = 3, topic = \"b\" }]",
                "predefined_topics",
                "given twice",
            ),
            (
                "predefined_topics = [{ id = 3, topic = \"a/+\" }]",
                "predefined_topics",
                "not a valid topic name",
            ),
        ] {
            let error = gateway(text).unwrap_err().to_string();
            assert!(
                error.starts_with(&format!("invalid config `mqttsn.{key}`: "))
                    && error.contains(says),
                "{text}: {error}"
            );
        }
    }

    #[test]
    fn wrong_shapes_and_unknown_keys_are_refused_by_toml() {
        for (text, says) in [
            ("gateway_id = 256", "gateway_id"),
            ("gateway_id = -1", "gateway_id"),
            ("port = 70000", "port"),
            ("max_retries = \"four\"", "max_retries"),
            ("listen = \"0.0.0.0:1884\"", "listen"),
            ("retry_interval = -1", "retry_interval"),
            ("predefined_topics = [{ id = 1 }]", "topic"),
            ("predefined_topics = [{ id = 70000, topic = \"a\" }]", "id"),
            (
                "predefined_topics = [{ id = 1, topic = \"a\", qos = 1 }]",
                "qos",
            ),
            ("advertise = 5", "advertise"),
        ] {
            let error = toml::from_str::<MqttSnTable>(text).unwrap_err().to_string();
            assert!(error.contains(says), "{text}: {error}");
        }
    }

    #[test]
    fn the_table_in_a_file_becomes_config_mqttsn() {
        use super::super::{from_toml, MQTTSN_KEYS, MQTTSN_TOPIC_KEYS};
        assert_eq!(from_toml("port = 1883\n").unwrap().mqttsn, None);
        let config = from_toml(
            "port = 1883\n\n[mqttsn]\nport = 10884\nmax_clients = 5\n\n\
             [[mqttsn.predefined_topics]]\nid = 9\ntopic = \"s/t\"\n",
        )
        .unwrap();
        let g = config.mqttsn.unwrap();
        assert_eq!(g.listen, every_address(10884));
        assert_eq!(g.max_clients, 5);
        assert_eq!(g.predefined_topics, vec![(9, "s/t".to_string())]);
        // The gateway leaves the TCP listeners as they are.
        assert_eq!(config.listeners, vec!["127.0.0.1:1883".parse().unwrap()]);
        let error = from_toml("[mqttsn]\nretry_interval = 0\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid config `mqttsn.retry_interval`: must be above 0"
        );
        let error = from_toml("[mqttsn]\nmax_client = 5\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_client"), "{error}");
        // --help lists every key of the table and of a topic entry.
        for key in [
            "listen",
            "port",
            "gateway_id",
            "advertise_interval",
            "advertise_to",
            "predefined_topics",
            "username",
            "password",
            "retry_interval",
            "max_retries",
            "max_registered_topics",
            "max_clients",
        ] {
            assert!(MQTTSN_KEYS.iter().any(|(k, _)| *k == key), "{key}");
        }
        for key in ["id", "topic"] {
            assert!(MQTTSN_TOPIC_KEYS.iter().any(|(k, _)| *k == key), "{key}");
        }
    }
}
