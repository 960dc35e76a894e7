//! Bridges to upstream brokers, as mosquitto's `connection` blocks
//! configure them: an MQTT client inside the broker that forwards chosen
//! topics out to another broker and in from it, keeping what goes out in
//! the broker's session store while the uplink is down.

use std::path::PathBuf;
use std::time::Duration;

use crate::codec::QoS;
use crate::topic::{is_valid_topic_filter, is_valid_topic_name};
use crate::Error;

/// One bridge: where it connects, as whom, and which topics it carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bridge {
    /// Its name (mosquitto's `connection NAME`): unique among the bridges;
    /// names its local session, its log lines and its default client id.
    pub name: String,
    /// Upstream brokers as `host:port` (the port defaults to 1883, or 8883
    /// with TLS), tried in turn until one accepts.
    pub addresses: Vec<String>,
    /// After a failure, go on to the next address (true), or go back to the
    /// first one at every reconnection (false, mosquitto's default): the
    /// others are fallbacks.
    pub round_robin: bool,
    /// The topics it carries, and which way.
    pub topics: Vec<BridgeTopic>,
    /// The Clean Session flag (MQTT 5: a Session Expiry Interval of 0) of
    /// the upstream session. Default: false, so that the upstream broker
    /// keeps what is for the bridge while the link is down.
    pub clean_session: bool,
    /// Whether what is queued locally for the upstream is dropped when the
    /// broker restarts. Default: `None`, the same as `clean_session`.
    pub local_clean_session: Option<bool>,
    /// The client identifier upstream. Default: `<hostname>.<name>`.
    pub remote_client_id: Option<String>,
    /// The user name upstream, if any.
    pub remote_username: Option<String>,
    /// The password upstream, if any (needs `remote_username` in 3.1.1).
    pub remote_password: Option<String>,
    /// The keep alive upstream; a link silent for 1.5 times this is
    /// closed as dead. Default: 60 s.
    pub keepalive: Duration,
    /// The wait before reconnecting: `restart_timeout` (a constant wait), or
    /// with `restart_timeout_cap` a backoff from the first to the cap with
    /// jitter, as mosquitto's `restart_timeout BASE CAP`. Default: 5 s and
    /// 30 s.
    pub restart_timeout: Duration,
    /// See `restart_timeout`. Default: `Some(30 s)`.
    pub restart_timeout_cap: Option<Duration>,
    /// When it connects. Default: [`BridgeStart::Automatic`].
    pub start: BridgeStart,
    /// [`BridgeStart::Lazy`]: connect once this many messages wait for
    /// the upstream. Default: 10.
    pub threshold: usize,
    /// [`BridgeStart::Lazy`]: disconnect once the link has carried nothing
    /// for this long and nothing waits. Default: 60 s.
    pub idle_timeout: Duration,
    /// Tell the upstream broker that this client is a bridge (mosquitto's
    /// `try_private`: the protocol level's high bit in MQTT 3.1.1, No Local
    /// subscriptions in MQTT 5), so that it does not send back what the
    /// bridge published. Default: true.
    pub try_private: bool,
    /// Publish the link's state, retained, locally and upstream (`1` up,
    /// `0` down; upstream through the bridge's will when the broker dies).
    /// Default: true.
    pub notifications: bool,
    /// The topic of those notifications. Default:
    /// `$SYS/broker/connection/<remote client id>/state`.
    pub notification_topic: Option<String>,
    /// The MQTT version spoken upstream. Default: 3.1.1.
    pub protocol: BridgeProtocol,
    /// TLS upstream, when set.
    pub tls: Option<BridgeTls>,
}

/// When a bridge connects (mosquitto's `start_type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeStart {
    /// At start, and again after every disconnection.
    Automatic,
    /// Once only: no reconnection after it ends.
    Once,
    /// When `threshold` messages wait for the upstream; disconnected again
    /// after `idle_timeout` without traffic (mosquitto's `lazy`).
    Lazy,
}

/// The MQTT version a bridge speaks upstream (`bridge_protocol_version`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeProtocol {
    /// MQTT 3.1 (`mqttv31`).
    V31,
    /// MQTT 3.1.1 (`mqttv311`).
    V311,
    /// MQTT 5.0 (`mqttv50`): the upstream's Receive Maximum bounds what is
    /// in flight, and `try_private` becomes No Local subscriptions.
    V5,
}

/// TLS for a bridge's connection (mosquitto's `bridge_cafile`,
/// `bridge_capath`, `bridge_certfile`, `bridge_keyfile`,
/// `bridge_insecure`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeTls {
    /// CA certificates (PEM) the upstream's certificate is verified
    /// against. `None` with `ca_path` `None`: the system's roots are not
    /// used; one of the two is required.
    pub ca_file: Option<PathBuf>,
    /// A directory of CA certificates (PEM files).
    pub ca_path: Option<PathBuf>,
    /// The bridge's own certificate chain (PEM), for upstream brokers that
    /// require one, with `key_file`.
    pub cert_file: Option<PathBuf>,
    /// The private key of `cert_file` (PEM).
    pub key_file: Option<PathBuf>,
    /// Skip checking that the certificate names the host connected to
    /// (never in production). Default: false.
    pub insecure: bool,
}

/// Which way a bridge topic goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BridgeDirection {
    /// From the upstream broker into this one.
    In,
    /// From this broker to the upstream one.
    Out,
    /// Both ways (without echoing a message back where it came from).
    Both,
}

/// One `topic` line of a bridge: `topic PATTERN [DIRECTION [QOS
/// [LOCAL-PREFIX REMOTE-PREFIX]]]`. Locally the topics are `local_prefix +
/// pattern`, upstream `remote_prefix + pattern`; a message that crosses has
/// the one prefix replaced by the other.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BridgeTopic {
    /// A topic filter (wildcards allowed), or empty when a prefix alone
    /// names the topic.
    pub pattern: String,
    /// Which way. Default: out.
    pub direction: BridgeDirection,
    /// The QoS of the subscription on the sending side: messages cross at
    /// this QoS, so a QoS 0 message on a QoS 1 topic is queued and
    /// acknowledged like a QoS 1 one. Default: 0.
    pub qos: QoS,
    /// Prefix of the local topics. Default: empty.
    pub local_prefix: String,
    /// Prefix of the upstream topics. Default: empty.
    pub remote_prefix: String,
}

impl BridgeTopic {
    /// A topic carried `direction` at `qos`, with no prefixes.
    pub fn new(pattern: &str, direction: BridgeDirection, qos: QoS) -> BridgeTopic {
        BridgeTopic {
            pattern: pattern.to_string(),
            direction,
            qos,
            local_prefix: String::new(),
            remote_prefix: String::new(),
        }
    }

    /// The local filter: `local_prefix + pattern`.
    pub fn local_filter(&self) -> String {
        format!("{}{}", self.local_prefix, self.pattern)
    }

    /// The upstream filter: `remote_prefix + pattern`.
    pub fn remote_filter(&self) -> String {
        format!("{}{}", self.remote_prefix, self.pattern)
    }

    /// Whether messages go out on it.
    pub fn goes_out(&self) -> bool {
        matches!(self.direction, BridgeDirection::Out | BridgeDirection::Both)
    }

    /// Whether messages come in on it.
    pub fn comes_in(&self) -> bool {
        matches!(self.direction, BridgeDirection::In | BridgeDirection::Both)
    }
}

impl Bridge {
    /// A bridge named `name` to `address` carrying `topics`, with every
    /// other setting at its default.
    pub fn new(name: &str, address: &str, topics: Vec<BridgeTopic>) -> Bridge {
        Bridge {
            name: name.to_string(),
            addresses: vec![address.to_string()],
            round_robin: false,
            topics,
            clean_session: false,
            local_clean_session: None,
            remote_client_id: None,
            remote_username: None,
            remote_password: None,
            keepalive: Duration::from_secs(60),
            restart_timeout: Duration::from_secs(5),
            restart_timeout_cap: Some(Duration::from_secs(30)),
            start: BridgeStart::Automatic,
            threshold: 10,
            idle_timeout: Duration::from_secs(60),
            try_private: true,
            notifications: true,
            notification_topic: None,
            protocol: BridgeProtocol::V311,
            tls: None,
        }
    }

    /// The client identifier it uses upstream.
    pub fn client_id(&self) -> String {
        match &self.remote_client_id {
            Some(id) => id.clone(),
            None => format!("{}.{}", host_name(), self.name),
        }
    }

    /// The topic its state is published on.
    pub fn state_topic(&self) -> String {
        match &self.notification_topic {
            Some(topic) => topic.clone(),
            None => format!("$SYS/broker/connection/{}/state", self.client_id()),
        }
    }

    /// Whether its local queue is dropped at a restart.
    pub fn local_clean(&self) -> bool {
        self.local_clean_session.unwrap_or(self.clean_session)
    }

    /// Checks the settings; the message names the bridge and the field.
    pub fn validate(&self) -> Result<(), Error> {
        let bad = |field: &str, reason: String| {
            Err(Error::Config {
                field: format!("bridge {}: {field}", self.name),
                reason,
            })
        };
        if self.name.is_empty() || self.name.contains(['/', '+', '#', '\0']) {
            return bad(
                "connection",
                "a name is needed, without '/', '+', '#' or NUL".into(),
            );
        }
        if self.addresses.is_empty() {
            return bad("address", "at least one upstream address is needed".into());
        }
        for address in &self.addresses {
            if let Err(reason) = split_address(address, 1883) {
                return bad("address", reason);
            }
        }
        if self.topics.is_empty() {
            return bad("topic", "at least one topic is needed".into());
        }
        for topic in &self.topics {
            for prefix in [&topic.local_prefix, &topic.remote_prefix] {
                if prefix.contains(['+', '#', '\0']) {
                    return bad(
                        "topic",
                        format!("prefix {prefix:?} may not hold wildcards or NUL"),
                    );
                }
            }
            for filter in [topic.local_filter(), topic.remote_filter()] {
                if !is_valid_topic_filter(&filter) {
                    return bad("topic", format!("{filter:?} is not a valid topic filter"));
                }
            }
        }
        if let Some(id) = &self.remote_client_id {
            if id.is_empty() || id.len() > 65_535 || id.contains('\0') {
                return bad("remote_clientid", "must be 1 to 65535 bytes, no NUL".into());
            }
        }
        if self.remote_password.is_some() && self.remote_username.is_none() {
            return bad("remote_password", "needs remote_username".into());
        }
        if self.keepalive.as_secs() > u64::from(u16::MAX) {
            return bad("keepalive_interval", "must be at most 65535 s".into());
        }
        if self.keepalive < Duration::from_secs(1) {
            return bad("keepalive_interval", "must be at least 1 s".into());
        }
        if self.restart_timeout.is_zero() {
            return bad("restart_timeout", "must be more than 0".into());
        }
        // Far past any real need, and kept where a deadline cannot
        // overflow.
        let longest = Duration::from_secs(u64::from(u32::MAX));
        if self.restart_timeout > longest || self.restart_timeout_cap.is_some_and(|c| c > longest) {
            return bad("restart_timeout", "must be at most 4294967295 s".into());
        }
        if matches!(self.restart_timeout_cap, Some(cap) if cap < self.restart_timeout) {
            return bad(
                "restart_timeout",
                "the cap must be at least the base".into(),
            );
        }
        if self.threshold == 0 {
            return bad("threshold", "must be at least 1".into());
        }
        if self.idle_timeout < Duration::from_secs(1) || self.idle_timeout > longest {
            return bad("idle_timeout", "must be 1 to 4294967295 s".into());
        }
        if let Some(topic) = &self.notification_topic {
            if !is_valid_topic_name(topic) {
                return bad(
                    "notification_topic",
                    format!("{topic:?} is not a valid topic name"),
                );
            }
        }
        if let Some(tls) = &self.tls {
            if tls.ca_file.is_none() && tls.ca_path.is_none() {
                return bad(
                    "bridge_cafile",
                    "TLS needs bridge_cafile or bridge_capath".into(),
                );
            }
            if tls.cert_file.is_some() != tls.key_file.is_some() {
                return bad(
                    "bridge_certfile",
                    "bridge_certfile and bridge_keyfile go together".into(),
                );
            }
        }
        Ok(())
    }
}

/// `host:port` split, with `default_port` when no port is given (an IPv6
/// address in brackets: `[::1]:1883`).
pub(crate) fn split_address(address: &str, default_port: u16) -> Result<(String, u16), String> {
    let address = address.trim();
    let (host, port) = if let Some(rest) = address.strip_prefix('[') {
        let Some((host, after)) = rest.split_once(']') else {
            return Err(format!(
                "{address:?}: an IPv6 address needs its closing ']'"
            ));
        };
        match after.strip_prefix(':') {
            Some(port) => (host, Some(port)),
            None if after.is_empty() => (host, None),
            None => return Err(format!("{address:?}: expected ':PORT' after ']'")),
        }
    } else {
        match address.rsplit_once(':') {
            // More than one ':' without brackets: a bare IPv6 address.
            Some((host, _)) if host.contains(':') => (address, None),
            Some((host, port)) => (host, Some(port)),
            None => (address, None),
        }
    };
    if host.is_empty() {
        return Err(format!("{address:?}: a host is needed"));
    }
    let port = match port {
        Some(port) => port
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("{address:?}: the port must be 1 to 65535"))?,
        None => default_port,
    };
    Ok((host.to_string(), port))
}

/// This machine's host name, for default client identifiers (as
/// mosquitto's `<hostname>.<connection>`); `mqlite` when unknown.
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .ok()
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "mqlite".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_split_with_default_ports() {
        assert_eq!(split_address("host", 1883), Ok(("host".into(), 1883)));
        assert_eq!(split_address("h:1884", 1883), Ok(("h".into(), 1884)));
        assert_eq!(split_address("[::1]:8883", 1883), Ok(("::1".into(), 8883)));
        assert_eq!(split_address("[::1]", 8883), Ok(("::1".into(), 8883)));
        assert_eq!(split_address("::1", 1883), Ok(("::1".into(), 1883)));
        assert!(split_address("h:0", 1883).is_err());
        assert!(split_address("h:x", 1883).is_err());
        assert!(split_address(":1883", 1883).is_err());
        assert!(split_address("[::1", 1883).is_err());
    }

    #[test]
    fn topics_map_prefixes() {
        let mut topic = BridgeTopic::new("sensors/#", BridgeDirection::Both, QoS::AtLeastOnce);
        topic.local_prefix = "site/".into();
        topic.remote_prefix = "gw1/".into();
        assert_eq!(topic.local_filter(), "site/sensors/#");
        assert_eq!(topic.remote_filter(), "gw1/sensors/#");
        assert!(topic.goes_out() && topic.comes_in());
    }

    #[test]
    fn validation_names_the_field() {
        let ok = Bridge::new(
            "up",
            "localhost:1883",
            vec![BridgeTopic::new("#", BridgeDirection::Out, QoS::AtMostOnce)],
        );
        assert!(ok.validate().is_ok());
        let mut no_topics = ok.clone();
        no_topics.topics.clear();
        let mut wild_prefix = ok.clone();
        wild_prefix.topics[0].local_prefix = "a/+/".into();
        let mut password_alone = ok.clone();
        password_alone.remote_password = Some("x".into());
        let mut slash_name = ok.clone();
        slash_name.name = "a/b".into();
        for (bridge, field) in [
            (no_topics, "topic"),
            (wild_prefix, "topic"),
            (password_alone, "remote_password"),
            (slash_name, "connection"),
        ] {
            match bridge.validate() {
                Err(Error::Config { field: named, .. }) => {
                    assert!(named.ends_with(field), "{named}")
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
