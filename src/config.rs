//! Broker configuration: a plain struct with documented defaults.
//!
//! Every field has a default (see [`Config::default`]); the `mqlite` binary
//! reads the same fields from a TOML file (`-c FILE`), with the same names.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::codec::QoS;

/// Everything a [`crate::Broker`] can be told.
///
/// Build it with `Config::default()` and change the fields you need, or use
/// the chained setters. Durations are whole seconds in the TOML file.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// TCP addresses to listen on, for plain MQTT with the broker-wide
    /// settings. Port 0 picks a free port; read the bound addresses back
    /// with [`crate::Broker::local_addrs`]. Default: `127.0.0.1:1883`.
    pub listeners: Vec<SocketAddr>,
    /// Listeners with a transport or settings of their own (TLS, WebSocket,
    /// Unix domain sockets, per-listener limits and access files), beside
    /// `listeners`. Default: none.
    pub custom_listeners: Vec<crate::Listener>,
    /// Most simultaneous network connections; further ones are accepted and
    /// closed at once. Default: 100 000.
    pub max_connections: usize,
    /// Largest packet accepted, in bytes, counting the fixed header. A larger
    /// packet closes its connection. Default: 16 MiB (the protocol allows
    /// 256 MiB).
    pub max_packet_size: usize,
    /// Most outbound QoS 1/2 messages awaiting acknowledgement per client;
    /// more are queued in order. Default: 100.
    pub max_inflight: u16,
    /// Most topic+payload bytes of the messages awaiting acknowledgement
    /// per client (as mosquitto's `max_inflight_bytes`); more are queued in
    /// order. A message larger than this still goes out alone once the
    /// window is empty. 0: no byte limit, only `max_inflight`. With
    /// `max_pending_output` and `max_queued_bytes` it bounds what a client
    /// that reads but never acknowledges can hold. Default: 16 MiB.
    pub max_inflight_bytes: usize,
    /// Most QoS 1/2 messages queued per client beyond the in-flight window,
    /// online or offline. When full, new messages for that client are dropped
    /// (and counted), as mosquitto does. Default: 1000.
    pub max_queued_messages: usize,
    /// Most payload+topic bytes queued per client, same policy as
    /// `max_queued_messages`. Default: 64 MiB.
    pub max_queued_bytes: usize,
    /// Bytes of unwritten output a connection may hold before its QoS 0
    /// messages are dropped and its QoS 1/2 messages wait in its queue, so a
    /// subscriber that stops reading costs bounded memory and never slows
    /// anyone else. Default: 16 MiB.
    pub max_pending_output: usize,
    /// A socket that sends no complete CONNECT within this time is closed.
    /// Default: 10 s.
    pub connect_timeout: Duration,
    /// How long a CONNECT may wait for a pending authentication decision
    /// (see [`crate::hooks::AuthDecision::Pending`]) before it is refused
    /// with CONNACK 0x05. Default: 30 s.
    pub auth_timeout: Duration,
    /// How long a disconnected persistent session is kept: a 3.1.1 session
    /// with clean session 0, and the most an MQTT 5 client's Session Expiry
    /// Interval may ask (a longer one is cut, and CONNACK says so). `None`
    /// keeps a 3.1.1 session forever, like mosquitto's default, and lets a
    /// 5.0 client choose. Default: `None`.
    pub session_expiry: Option<Duration>,
    /// Most keep alive a client may ask, in seconds (mosquitto's
    /// `max_keepalive`): an MQTT 5 client asking more, or 0, is told this
    /// one with Server Keep Alive; a 3.1.1 client asking more is refused
    /// (CONNACK 0x02, as mosquitto). `None`: no limit. Default: `None`.
    pub max_keepalive: Option<u16>,
    /// Most topic aliases an MQTT 5 client may set for the PUBLISHes it
    /// sends (mosquitto's `max_topic_alias`); 0 turns them off. Default: 10.
    pub max_topic_alias: u16,
    /// Most topic aliases the broker sets on the PUBLISHes it sends an
    /// MQTT 5 client, replacing a repeated topic name by a number (never
    /// more than the client's own Topic Alias Maximum, which is 0 unless it
    /// asks for aliases); 0 turns them off. Default: 10.
    pub outgoing_topic_aliases: u16,
    /// Highest QoS the broker supports (mosquitto's `max_qos`): a lower one
    /// is announced to MQTT 5 clients, a PUBLISH above it is refused, and
    /// subscriptions are granted at most this. Default: 2.
    pub max_qos: QoS,
    /// Whether clients may publish retained messages (mosquitto's
    /// `retain_available`). Default: true.
    pub retain_available: bool,
    /// Response Information for an MQTT 5 client that asks for it
    /// (Request Response Information 1): the base of the topics it may use
    /// for responses, with `%c` replaced by its client id. `None`: none is
    /// sent. Default: `None`.
    pub response_information: Option<String>,
    /// Redirects every MQTT 5 client to this Server Reference (CONNACK
    /// 0x9C "use another server", or 0x9D "server moved" with
    /// `redirect_permanent`); a 3.1.1 client is refused with 0x03 (server
    /// unavailable). `None`: clients are served. Default: `None`.
    pub redirect: Option<String>,
    /// Whether `redirect` is permanent (0x9D) rather than temporary
    /// (0x9C). Default: false.
    pub redirect_permanent: bool,
    /// Whether a client may connect with an empty client id and clean
    /// session 1 (it is then given a generated id). Default: true.
    pub allow_zero_length_client_id: bool,
    /// Prefix of generated client ids. Default: `"mqlite-"`.
    pub auto_id_prefix: String,
    /// SQLite file for persistent sessions, their queued messages and
    /// retained messages; `None` keeps everything in memory only (lost at
    /// exit). Default: `None` for the library (the `mqlite` binary uses
    /// `mqlite.db`).
    pub persistence: Option<PathBuf>,
    /// Start with an empty store, moving an existing `persistence` file
    /// aside (to `<file>.bak-<seconds>`) instead of loading it. Default:
    /// false.
    pub reset_persistence: bool,
    /// A password file in `mosquitto_passwd` format (`$7$` / `$6$` hashes):
    /// clients giving a user name must match it. Default: none.
    pub password_file: Option<PathBuf>,
    /// An ACL file in mosquitto's format (`user`, `topic`, `pattern` with
    /// `%c` / `%u`): when given, anything it does not grant is refused.
    /// Default: none.
    pub acl_file: Option<PathBuf>,
    /// Whether clients without a user name may connect. `None`: yes unless
    /// a `password_file` is given. Default: `None`.
    pub allow_anonymous: Option<bool>,
    /// How often `$SYS/broker/...` statistics are published; `None` turns
    /// them off. Default: 10 s.
    pub sys_interval: Option<Duration>,
    /// Bridges to upstream brokers (see [`crate::Bridge`]). Default: none.
    pub bridges: Vec<crate::Bridge>,
    /// The MQTT-SN gateway (see [`crate::MqttSnGateway`]). Default: none.
    pub mqttsn: Option<crate::MqttSnGateway>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listeners: vec![SocketAddr::from(([127, 0, 0, 1], 1883))],
            custom_listeners: Vec::new(),
            max_connections: 100_000,
            max_packet_size: 16 * 1024 * 1024,
            max_inflight: 100,
            max_inflight_bytes: 16 * 1024 * 1024,
            max_queued_messages: 1000,
            max_queued_bytes: 64 * 1024 * 1024,
            max_pending_output: 16 * 1024 * 1024,
            connect_timeout: Duration::from_secs(10),
            auth_timeout: Duration::from_secs(30),
            session_expiry: None,
            max_keepalive: None,
            max_topic_alias: 10,
            outgoing_topic_aliases: 10,
            max_qos: QoS::ExactlyOnce,
            retain_available: true,
            response_information: None,
            redirect: None,
            redirect_permanent: false,
            allow_zero_length_client_id: true,
            auto_id_prefix: "mqlite-".to_string(),
            persistence: None,
            reset_persistence: false,
            password_file: None,
            acl_file: None,
            allow_anonymous: None,
            sys_interval: Some(Duration::from_secs(10)),
            bridges: Vec::new(),
            mqttsn: None,
        }
    }
}

impl Config {
    /// A default config listening on `addr` only.
    pub fn with_listener(addr: SocketAddr) -> Self {
        Config {
            listeners: vec![addr],
            ..Config::default()
        }
    }

    /// Checks values that cannot work together; the message names the field.
    pub fn validate(&self) -> Result<(), crate::Error> {
        let bad = |field: &'static str, reason: String| {
            Err(crate::Error::Config {
                field: field.to_string(),
                reason,
            })
        };
        if let Some(gateway) = &self.mqttsn {
            gateway.validate()?;
        }
        if self.listeners.is_empty() && self.custom_listeners.is_empty() {
            return bad("listeners", "at least one listener is needed".into());
        }
        for listener in &self.custom_listeners {
            if listener.max_connections == Some(0) {
                return bad(
                    "max_connections",
                    format!("must be at least 1 (listener {})", listener.describe()),
                );
            }
            if let Some(tls) = &listener.tls {
                if tls.use_identity_as_username && tls.use_subject_as_username {
                    return bad(
                        "use_identity_as_username",
                        format!(
                            "cannot be used with use_subject_as_username (listener {})",
                            listener.describe()
                        ),
                    );
                }
                if (tls.use_identity_as_username || tls.use_subject_as_username)
                    && !tls.require_certificate
                {
                    return bad(
                        "use_identity_as_username",
                        format!(
                            "needs require_certificate (listener {})",
                            listener.describe()
                        ),
                    );
                }
                if tls.require_certificate && tls.ca_file.is_none() && tls.ca_path.is_none() {
                    return bad(
                        "require_certificate",
                        format!(
                            "needs cafile or capath to verify certificates against (listener {})",
                            listener.describe()
                        ),
                    );
                }
            }
        }
        if self.max_connections == 0 {
            return bad("max_connections", "must be at least 1".into());
        }
        if self.max_packet_size < 2 {
            return bad("max_packet_size", "must be at least 2 bytes".into());
        }
        if self.max_packet_size > 268_435_460 {
            return bad(
                "max_packet_size",
                "must be at most 268435460 bytes (the protocol's limit)".into(),
            );
        }
        if self.max_inflight == 0 {
            return bad("max_inflight", "must be at least 1".into());
        }
        if self.max_pending_output < 1024 {
            return bad("max_pending_output", "must be at least 1024 bytes".into());
        }
        if self.connect_timeout.is_zero() {
            return bad("connect_timeout", "must be more than 0".into());
        }
        if self.auth_timeout.is_zero() {
            return bad("auth_timeout", "must be more than 0".into());
        }
        if matches!(self.sys_interval, Some(d) if d.is_zero()) {
            return bad("sys_interval", "must be more than 0 (or absent)".into());
        }
        for (index, bridge) in self.bridges.iter().enumerate() {
            bridge.validate()?;
            if self.bridges[..index].iter().any(|b| b.name == bridge.name) {
                return bad("bridges", format!("two bridges named {:?}", bridge.name));
            }
        }
        Ok(())
    }
}
