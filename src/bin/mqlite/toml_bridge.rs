//! The TOML file's `[[bridge]]` tables: bridges to upstream brokers
//! ([`mqlite::Bridge`], `Config::bridges`), with mosquitto's option names
//! where a table has no reason for others (`name` for `connection`,
//! `addresses` for `address`, `topics` for the `topic` lines, and the TLS
//! keys without their `bridge_` prefix, as a table says it is a bridge's).
//!
//! ```toml
//! [[bridge]]
//! name = "cloud"
//! addresses = ["mqtt.example.com:8883"]
//! remote_username = "gw1"
//! remote_password = "secret"
//! cafile = "/etc/mqlite/cloud-ca.pem"
//! topics = [
//!     { pattern = "sensors/#", direction = "out", qos = 1 },
//!     { pattern = "", direction = "in", local_prefix = "commands", remote_prefix = "gw1/commands" },
//! ]
//! ```
//!
//! Included by path from `config_file.rs` (also in
//! `tests/robust/limits_defaults.rs`), so it names nothing else of the
//! binary.

use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use mqlite::{Bridge, BridgeDirection, BridgeProtocol, BridgeStart, BridgeTls, BridgeTopic, QoS};

/// One `[[bridge]]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct BridgeTable {
    name: Option<String>,
    addresses: Option<Vec<String>>,
    round_robin: Option<bool>,
    topics: Option<Vec<TopicTable>>,
    cleansession: Option<bool>,
    local_cleansession: Option<bool>,
    remote_clientid: Option<String>,
    remote_username: Option<String>,
    remote_password: Option<String>,
    keepalive_interval: Option<u64>,
    restart_timeout: Option<u64>,
    restart_timeout_cap: Option<u64>,
    start_type: Option<String>,
    threshold: Option<usize>,
    idle_timeout: Option<u64>,
    try_private: Option<bool>,
    notifications: Option<bool>,
    notification_topic: Option<String>,
    protocol_version: Option<String>,
    cafile: Option<PathBuf>,
    capath: Option<PathBuf>,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    insecure: Option<bool>,
}

/// One entry of a bridge's `topics`: mosquitto's `topic` line as a table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct TopicTable {
    pattern: String,
    direction: Option<String>,
    qos: Option<u8>,
    local_prefix: Option<String>,
    remote_prefix: Option<String>,
}

/// The keys of a `[[bridge]]` table with their defaults, for `--help`.
pub const BRIDGE_KEYS: &[(&str, &str)] = &[
    (
        "name",
        "required  unique; names the bridge's session and logs",
    ),
    (
        "addresses",
        "required  [\"host:port\", ...]: port 1883, or 8883 with TLS, when absent",
    ),
    (
        "round_robin",
        "false  after a failure go on to the next address (false: back to the first)",
    ),
    (
        "topics",
        "required  [{ pattern = \"...\", ... }]: keys below",
    ),
    (
        "cleansession",
        "false  clean upstream session at each connection",
    ),
    (
        "local_cleansession",
        "cleansession  drop what is queued locally at a restart",
    ),
    (
        "remote_clientid",
        "\"<hostname>.<name>\"  client id upstream",
    ),
    ("remote_username", "none  user name upstream"),
    (
        "remote_password",
        "none  password upstream (with remote_username)",
    ),
    ("keepalive_interval", "60  seconds"),
    (
        "restart_timeout",
        "5  seconds before reconnecting; alone: always this wait",
    ),
    (
        "restart_timeout_cap",
        "30  with it, a backoff from restart_timeout up to this, with jitter",
    ),
    (
        "start_type",
        "\"automatic\"  or \"once\" (never reconnect) or \"lazy\" (when threshold messages wait)",
    ),
    (
        "threshold",
        "10  lazy: connect once this many messages wait",
    ),
    (
        "idle_timeout",
        "60  lazy: seconds without traffic before disconnecting",
    ),
    (
        "try_private",
        "true  tell the upstream it is a bridge (it then echoes nothing back)",
    ),
    (
        "notifications",
        "true  publish the link's state (retained \"1\" / \"0\")",
    ),
    (
        "notification_topic",
        "\"$SYS/broker/connection/<client id>/state\"",
    ),
    (
        "protocol_version",
        "\"mqttv311\"  or \"mqttv31\", \"mqttv50\"",
    ),
    (
        "cafile",
        "none  PEM CAs to verify the upstream: TLS (or capath)",
    ),
    ("capath", "none  directory of PEM CAs"),
    (
        "certfile",
        "none  PEM certificate chain of the bridge (with keyfile)",
    ),
    ("keyfile", "none  PEM private key"),
    (
        "insecure",
        "false  skip checking the certificate's host name",
    ),
];

/// The keys of an entry of a bridge's `topics`, for `--help`.
pub const BRIDGE_TOPIC_KEYS: &[(&str, &str)] = &[
    (
        "pattern",
        "required  topic filter; \"\" when the prefixes name the topic",
    ),
    ("direction", "\"out\"  or \"in\", \"both\""),
    ("qos", "0  QoS of the bridge's subscriptions"),
    ("local_prefix", "\"\"  prefix of the local topics"),
    ("remote_prefix", "\"\"  prefix of the upstream topics"),
];

impl BridgeTable {
    /// The bridge this table describes. `which` names the table in errors.
    /// What `Bridge::validate` checks (key names as here) is left to it.
    ///
    /// # Errors
    /// Why the table cannot be used, for `bridge` errors.
    pub fn bridge(self, which: &str) -> Result<Bridge, String> {
        let bad = |reason: String| format!("{which}: {reason}");
        let name = match self.name {
            Some(name) if !name.is_empty() => name,
            _ => return Err(bad("needs a `name`".into())),
        };
        if name.contains(['/', '+', '#', '\0']) {
            return Err(bad(format!(
                "name {name:?} may not hold '/', '+', '#' or NUL (it is part of topics and \
                 client ids)"
            )));
        }
        let addresses = match self.addresses {
            Some(addresses) if !addresses.is_empty() => addresses,
            _ => return Err(bad("needs `addresses`, at least one".into())),
        };
        let topics = match self.topics {
            Some(topics) if !topics.is_empty() => topics,
            _ => return Err(bad("needs `topics`, at least one".into())),
        };
        let mut bridge = Bridge::new(&name, "", Vec::new());
        bridge.addresses = addresses;
        bridge.topics = topics
            .into_iter()
            .enumerate()
            .map(|(index, topic)| {
                topic
                    .topic()
                    .map_err(|reason| bad(format!("topics[{index}]: {reason}")))
            })
            .collect::<Result<_, _>>()?;
        if let Some(value) = self.round_robin {
            bridge.round_robin = value;
        }
        if let Some(value) = self.cleansession {
            bridge.clean_session = value;
        }
        bridge.local_clean_session = self.local_cleansession;
        bridge.remote_client_id = self.remote_clientid;
        bridge.remote_username = self.remote_username;
        bridge.remote_password = self.remote_password;
        if let Some(seconds) = self.keepalive_interval {
            bridge.keepalive = Duration::from_secs(seconds);
        }
        if let Some(count) = self.threshold {
            bridge.threshold = count;
        }
        if let Some(seconds) = self.idle_timeout {
            bridge.idle_timeout = Duration::from_secs(seconds);
        }
        // As mosquitto's `restart_timeout`: one value alone is a constant
        // wait, a cap makes it a backoff.
        match (self.restart_timeout, self.restart_timeout_cap) {
            (None, None) => {}
            (base, cap) => {
                if let Some(base) = base {
                    bridge.restart_timeout = Duration::from_secs(base);
                }
                bridge.restart_timeout_cap = cap.map(Duration::from_secs);
            }
        }
        if let Some(start) = &self.start_type {
            bridge.start = match start.as_str() {
                "automatic" => BridgeStart::Automatic,
                "once" => BridgeStart::Once,
                "lazy" => BridgeStart::Lazy,
                other => {
                    return Err(bad(format!(
                        "start_type `{other}` is not \"automatic\", \"once\" or \"lazy\""
                    )))
                }
            };
        }
        if let Some(value) = self.try_private {
            bridge.try_private = value;
        }
        if let Some(value) = self.notifications {
            bridge.notifications = value;
        }
        bridge.notification_topic = self.notification_topic;
        if let Some(version) = &self.protocol_version {
            bridge.protocol = match version.as_str() {
                "mqttv31" => BridgeProtocol::V31,
                "mqttv311" => BridgeProtocol::V311,
                "mqttv50" => BridgeProtocol::V5,
                other => {
                    return Err(bad(format!(
                        "protocol_version `{other}` is not \"mqttv31\", \"mqttv311\" or \"mqttv50\""
                    )))
                }
            };
        }
        let tls = self.certfile.is_some()
            || self.keyfile.is_some()
            || self.insecure.is_some()
            || self.cafile.is_some()
            || self.capath.is_some();
        if tls {
            if self.cafile.is_none() && self.capath.is_none() {
                return Err(bad(
                    "TLS needs `cafile` or `capath`, to verify the upstream broker against".into(),
                ));
            }
            if self.certfile.is_some() != self.keyfile.is_some() {
                return Err(bad("`certfile` and `keyfile` go together".into()));
            }
            bridge.tls = Some(BridgeTls {
                ca_file: self.cafile,
                ca_path: self.capath,
                cert_file: self.certfile,
                key_file: self.keyfile,
                insecure: self.insecure.unwrap_or(false),
            });
        }
        Ok(bridge)
    }
}

impl TopicTable {
    fn topic(self) -> Result<BridgeTopic, String> {
        let direction = match self.direction.as_deref() {
            None | Some("out") => BridgeDirection::Out,
            Some("in") => BridgeDirection::In,
            Some("both") => BridgeDirection::Both,
            Some(other) => {
                return Err(format!(
                    "direction `{other}` is not \"in\", \"out\" or \"both\""
                ))
            }
        };
        let qos = match self.qos {
            None => QoS::AtMostOnce,
            Some(qos) => QoS::from_u8(qos).ok_or_else(|| format!("qos {qos} is not 0, 1 or 2"))?,
        };
        let mut topic = BridgeTopic::new(&self.pattern, direction, qos);
        topic.local_prefix = self.local_prefix.unwrap_or_default();
        topic.remote_prefix = self.remote_prefix.unwrap_or_default();
        if topic.pattern.is_empty()
            && (topic.local_prefix.is_empty() || topic.remote_prefix.is_empty())
        {
            return Err(
                "an empty pattern needs a local_prefix and a remote_prefix, which then name \
                 the one topic carried"
                    .into(),
            );
        }
        Ok(topic)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bridge(text: &str) -> Result<Bridge, String> {
        toml::from_str::<BridgeTable>(text)
            .unwrap_or_else(|e| panic!("{text}: {e}"))
            .bridge("bridge 1")
    }

    const MINIMAL: &str =
        "name = \"up\"\naddresses = [\"h:1883\"]\ntopics = [{ pattern = \"#\" }]\n";

    #[test]
    fn defaults_are_the_librarys() {
        let b = bridge(MINIMAL).unwrap();
        assert_eq!(
            b,
            Bridge::new(
                "up",
                "h:1883",
                vec![BridgeTopic::new("#", BridgeDirection::Out, QoS::AtMostOnce)]
            )
        );
    }

    #[test]
    fn every_key_is_applied() {
        let b = bridge(
            "name = \"cloud\"\naddresses = [\"a:8883\", \"[::1]:8884\"]\nround_robin = true\n\
             cleansession = true\nlocal_cleansession = false\nremote_clientid = \"gw1\"\n\
             remote_username = \"u\"\nremote_password = \"p w\"\nkeepalive_interval = 30\n\
             restart_timeout = 2\nrestart_timeout_cap = 90\nstart_type = \"once\"\n\
             try_private = false\nnotifications = false\nnotification_topic = \"gw/state\"\n\
             protocol_version = \"mqttv50\"\ncafile = \"ca.pem\"\ncapath = \"/etc/ca\"\n\
             certfile = \"c.pem\"\nkeyfile = \"k.pem\"\ninsecure = true\n\
             topics = [\n  { pattern = \"s/#\", direction = \"out\", qos = 1 },\n\
             { pattern = \"\", direction = \"in\", qos = 2, local_prefix = \"cmd\", remote_prefix = \"gw1/cmd\" },\n\
             { pattern = \"x\", direction = \"both\", local_prefix = \"l/\" },\n]\n",
        )
        .unwrap();
        let mut second = BridgeTopic::new("", BridgeDirection::In, QoS::ExactlyOnce);
        second.local_prefix = "cmd".into();
        second.remote_prefix = "gw1/cmd".into();
        let mut third = BridgeTopic::new("x", BridgeDirection::Both, QoS::AtMostOnce);
        third.local_prefix = "l/".into();
        let expected = Bridge {
            name: "cloud".into(),
            addresses: vec!["a:8883".into(), "[::1]:8884".into()],
            round_robin: true,
            topics: vec![
                BridgeTopic::new("s/#", BridgeDirection::Out, QoS::AtLeastOnce),
                second,
                third,
            ],
            clean_session: true,
            local_clean_session: Some(false),
            remote_client_id: Some("gw1".into()),
            remote_username: Some("u".into()),
            remote_password: Some("p w".into()),
            keepalive: Duration::from_secs(30),
            restart_timeout: Duration::from_secs(2),
            restart_timeout_cap: Some(Duration::from_secs(90)),
            start: BridgeStart::Once,
            threshold: 10,
            idle_timeout: Duration::from_secs(60),
            try_private: false,
            notifications: false,
            notification_topic: Some("gw/state".into()),
            protocol: BridgeProtocol::V5,
            tls: Some(BridgeTls {
                ca_file: Some("ca.pem".into()),
                ca_path: Some("/etc/ca".into()),
                cert_file: Some("c.pem".into()),
                key_file: Some("k.pem".into()),
                insecure: true,
            }),
        };
        assert_eq!(b, expected);
    }

    #[test]
    fn restart_timeout_alone_is_a_constant_wait() {
        let b = bridge(&format!("{MINIMAL}restart_timeout = 10\n")).unwrap();
        assert_eq!(
            (b.restart_timeout, b.restart_timeout_cap),
            (Duration::from_secs(10), None)
        );
        let b = bridge(&format!("{MINIMAL}restart_timeout_cap = 60\n")).unwrap();
        assert_eq!(
            (b.restart_timeout, b.restart_timeout_cap),
            (Duration::from_secs(5), Some(Duration::from_secs(60)))
        );
        let b = bridge(&format!(
            "{MINIMAL}protocol_version = \"mqttv31\"\nstart_type = \"automatic\"\n"
        ))
        .unwrap();
        assert_eq!(
            (b.protocol, b.start),
            (BridgeProtocol::V31, BridgeStart::Automatic)
        );
    }

    #[test]
    fn refusals_say_why() {
        let topic =
            |entry: &str| format!("name = \"up\"\naddresses = [\"h\"]\ntopics = [{entry}]\n");
        for (text, says) in [
            (
                "addresses = [\"h\"]\ntopics = [{ pattern = \"#\" }]\n",
                "needs a `name`",
            ),
            ("name = \"\"\naddresses = [\"h\"]\n", "needs a `name`"),
            ("name = \"a/b\"\n", "may not hold '/'"),
            (
                "name = \"up\"\ntopics = [{ pattern = \"#\" }]\n",
                "needs `addresses`",
            ),
            ("name = \"up\"\naddresses = []\n", "needs `addresses`"),
            ("name = \"up\"\naddresses = [\"h\"]\n", "needs `topics`"),
            (
                "name = \"up\"\naddresses = [\"h\"]\ntopics = []\n",
                "needs `topics`",
            ),
            (
                &topic("{ pattern = \"a\", direction = \"up\" }"),
                "topics[0]: direction `up`",
            ),
            (
                &topic("{ pattern = \"a\" }, { pattern = \"b\", qos = 3 }"),
                "topics[1]: qos 3",
            ),
            (
                &topic("{ pattern = \"\", local_prefix = \"l\" }"),
                "an empty pattern needs",
            ),
            (
                &format!("{MINIMAL}start_type = \"sometimes\""),
                "is not \"automatic\", \"once\" or \"lazy\"",
            ),
            (
                &format!("{MINIMAL}start_type = \"manual\""),
                "start_type `manual`",
            ),
            (
                &format!("{MINIMAL}protocol_version = \"5\""),
                "protocol_version `5`",
            ),
            (
                &format!("{MINIMAL}certfile = \"c\"\nkeyfile = \"k\""),
                "TLS needs `cafile` or `capath`",
            ),
            (
                &format!("{MINIMAL}insecure = true"),
                "TLS needs `cafile` or `capath`",
            ),
            (
                &format!("{MINIMAL}cafile = \"ca\"\ncertfile = \"c\""),
                "go together",
            ),
        ] {
            let error = bridge(text).unwrap_err();
            assert!(error.starts_with("bridge 1: "), "{error}");
            assert!(error.contains(says), "{text:?}: {error}");
        }
        for text in [
            format!("{MINIMAL}bridge_cafile = \"x\"\n"),
            format!("{MINIMAL}address = \"h\"\n"),
            "name = \"up\"\naddresses = [\"h\"]\ntopics = [{ pattern = \"#\", prefix = \"x\" }]\n"
                .into(),
            "name = \"up\"\naddresses = [\"h\"]\ntopics = [{ direction = \"in\" }]\n".into(),
        ] {
            assert!(toml::from_str::<BridgeTable>(&text).is_err(), "{text}");
        }
    }

    #[test]
    fn tables_in_a_file_become_config_bridges() {
        // Through `config_file.rs`, as `--help` reads them.
        use super::super::{from_toml, BRIDGE_KEYS, BRIDGE_TOPIC_KEYS};
        let config = from_toml(
            "[[bridge]]\nname = \"cloud\"\naddresses = [\"mqtt.example.com:8883\"]\n\
             cafile = \"/etc/ca.pem\"\ntopics = [{ pattern = \"s/#\", qos = 1 }]\n\n\
             [[bridge]]\nname = \"backup\"\naddresses = [\"b:1883\"]\n\
             [[bridge.topics]]\npattern = \"c/#\"\ndirection = \"in\"\n\
             [[bridge.topics]]\npattern = \"d\"\ndirection = \"both\"\nremote_prefix = \"gw/\"\n",
        )
        .unwrap();
        // Bridges leave the listeners as they are.
        assert_eq!(config.listeners, mqlite::Config::default().listeners);
        let names: Vec<&str> = config.bridges.iter().map(|b| b.name.as_str()).collect();
        assert_eq!(names, vec!["cloud", "backup"]);
        assert!(config.bridges[0].tls.is_some());
        let topics = &config.bridges[1].topics;
        assert_eq!(topics.len(), 2);
        assert_eq!(topics[1].remote_filter(), "gw/d");
        assert!(topics[0].comes_in() && !topics[0].goes_out());

        // The table's own errors name it and its line; the broker's
        // validation names the bridge and the key.
        let error = from_toml("port = 1\n\n[[bridge]]\nname = \"up\"\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid config `bridge`: [[bridge]] #1 (line 3): needs `addresses`, at least one"
        );
        let up = "[[bridge]]\nname = \"up\"\naddresses = [\"h\"]\ntopics = [{ pattern = \"#\" }]\n";
        for (extra, field, says) in [
            (
                "keepalive_interval = 0",
                "keepalive_interval",
                "at least 1 s",
            ),
            (
                "keepalive_interval = 65536",
                "keepalive_interval",
                "at most 65535 s",
            ),
            ("restart_timeout = 0", "restart_timeout", "more than 0"),
            (
                "restart_timeout = 9\nrestart_timeout_cap = 3",
                "restart_timeout",
                "at least the base",
            ),
            (
                "remote_password = \"p\"",
                "remote_password",
                "needs remote_username",
            ),
            (
                "remote_clientid = \"\"",
                "remote_clientid",
                "1 to 65535 bytes",
            ),
            (
                "notification_topic = \"a/+\"",
                "notification_topic",
                "not a valid topic name",
            ),
        ] {
            let error = from_toml(&format!("{up}{extra}\n"))
                .unwrap_err()
                .to_string();
            assert!(
                error.starts_with(&format!("invalid config `bridge up: {field}`: "))
                    && error.contains(says),
                "{extra}: {error}"
            );
        }
        let error = from_toml(&up.replace("\"h\"", "\"h:0\""))
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid config `bridge up: address`"),
            "{error}"
        );
        let error = from_toml(&up.replace("\"#\" }", "\"#\", local_prefix = \"a\" }"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            error,
            "invalid config `bridge up: topic`: \"a#\" is not a valid topic filter"
        );
        let error = from_toml(&format!("{up}{up}")).unwrap_err().to_string();
        assert_eq!(error, "invalid config `bridges`: two bridges named \"up\"");
        let error = from_toml(&format!("{up}remote_clientid_x = \"a\"\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("remote_clientid_x"), "{error}");
        // The keys are listed for --help.
        for key in [
            "name",
            "addresses",
            "topics",
            "restart_timeout_cap",
            "insecure",
        ] {
            assert!(BRIDGE_KEYS.iter().any(|(k, _)| *k == key), "{key}");
        }
        for key in [
            "pattern",
            "direction",
            "qos",
            "local_prefix",
            "remote_prefix",
        ] {
            assert!(BRIDGE_TOPIC_KEYS.iter().any(|(k, _)| *k == key), "{key}");
        }
    }
}
