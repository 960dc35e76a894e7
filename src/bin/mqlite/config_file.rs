//! Reading a [`Config`] from TOML: the `mqlite -c FILE` format. It lives
//! with the binary so that the library links no TOML parser;
//! `tests/robust/limits_defaults.rs` includes this file to check that every
//! limit has a key.
//!
//! Keys are the field names of [`Config`]; durations are whole seconds, and
//! `0` means "never" for `session_expiry` and "off" for `sys_interval`.
//! `port` and `bind` are shorthands for listeners on one port: `bind` is
//! an IP address or a host name, which gets a listener on every address it
//! resolves to. `[[listener]]` tables (`toml_listener.rs`) add listeners
//! with settings of their own (TLS, WebSocket, Unix sockets, limits and
//! access files); with them and without `listeners`, `port` or `bind`,
//! no plain listener is made (as mosquitto starts no default listener once
//! a `listener` is configured). `[[bridge]]` tables (`toml_bridge.rs`)
//! add bridges to upstream brokers; an `[mqttsn]` table (`toml_mqttsn.rs`)
//! turns the MQTT-SN gateway on. Unknown keys are refused, so a typo is
//! reported instead of silently ignored.
//!
//! ```toml
//! listeners = ["127.0.0.1:1883", "[::1]:1883"]
//! max_inflight = 100
//! session_expiry = 86400
//!
//! [[listener]]
//! port = 8883
//! certfile = "server.pem"
//! keyfile = "server.key"
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use mqlite::{Config, Error};

#[path = "toml_listener.rs"]
mod listener_table;

#[path = "toml_bridge.rs"]
mod bridge_table;

#[path = "toml_mqttsn.rs"]
mod mqttsn_table;

pub use bridge_table::{BRIDGE_KEYS, BRIDGE_TOPIC_KEYS};
pub use listener_table::LISTENER_KEYS;
// `every_address` is for `--mqttsn-port`; the tests that include this file
// have no command line.
#[allow(unused_imports)]
pub use mqttsn_table::{every_address as mqttsn_every_address, MQTTSN_KEYS, MQTTSN_TOPIC_KEYS};

/// The TOML file's shape: every key optional, defaults from [`Config`].
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    listeners: Option<Vec<String>>,
    port: Option<u16>,
    bind: Option<String>,
    max_connections: Option<usize>,
    max_packet_size: Option<usize>,
    max_inflight: Option<u16>,
    max_inflight_bytes: Option<usize>,
    max_queued_messages: Option<usize>,
    max_queued_bytes: Option<usize>,
    max_pending_output: Option<usize>,
    connect_timeout: Option<u64>,
    auth_timeout: Option<u64>,
    session_expiry: Option<u64>,
    allow_zero_length_client_id: Option<bool>,
    auto_id_prefix: Option<String>,
    persistence: Option<PathBuf>,
    reset_persistence: Option<bool>,
    password_file: Option<PathBuf>,
    acl_file: Option<PathBuf>,
    allow_anonymous: Option<bool>,
    sys_interval: Option<u64>,
    max_keepalive: Option<u16>,
    max_topic_alias: Option<u16>,
    outgoing_topic_aliases: Option<u16>,
    max_qos: Option<u8>,
    retain_available: Option<bool>,
    response_information: Option<String>,
    redirect: Option<String>,
    redirect_permanent: Option<bool>,
    listener: Option<Vec<toml::Spanned<listener_table::ListenerTable>>>,
    bridge: Option<Vec<toml::Spanned<bridge_table::BridgeTable>>>,
    mqttsn: Option<mqttsn_table::MqttSnTable>,
}

/// The keys of the TOML file with their defaults, for `--help`.
pub const CONFIG_FILE_KEYS: &[(&str, &str)] = &[
    ("listeners", "[\"127.0.0.1:1883\"]  addresses to listen on"),
    ("port", "1883  port of the listeners made by `bind`"),
    (
        "bind",
        "\"127.0.0.1\"  IP address or host name (one listener per address it resolves to)",
    ),
    ("max_connections", "100000"),
    ("max_packet_size", "16777216  bytes"),
    (
        "max_inflight",
        "100  unacknowledged QoS 1/2 messages per client",
    ),
    (
        "max_inflight_bytes",
        "16777216  bytes of unacknowledged messages per client (0: no limit)",
    ),
    (
        "max_queued_messages",
        "1000  per client, beyond the in-flight window",
    ),
    ("max_queued_bytes", "67108864  per client"),
    (
        "max_pending_output",
        "16777216  unwritten bytes per connection",
    ),
    ("connect_timeout", "10  seconds to send CONNECT"),
    (
        "auth_timeout",
        "30  seconds a pending authentication may take",
    ),
    (
        "session_expiry",
        "0  seconds a disconnected persistent session is kept (0: forever)",
    ),
    ("allow_zero_length_client_id", "true"),
    ("auto_id_prefix", "\"mqlite-\""),
    (
        "persistence",
        "\"mqlite.db\"  SQLite file (the library's default: none)",
    ),
    (
        "reset_persistence",
        "false  move the file aside and start empty",
    ),
    ("password_file", "none  mosquitto_passwd file"),
    ("acl_file", "none  mosquitto ACL file"),
    ("allow_anonymous", "true unless password_file is given"),
    ("sys_interval", "10  seconds between $SYS updates (0: off)"),
    (
        "max_keepalive",
        "none  most keep alive a client may ask, seconds (MQTT 5: Server Keep Alive)",
    ),
    (
        "max_topic_alias",
        "10  topic aliases an MQTT 5 client may set (0: none)",
    ),
    (
        "outgoing_topic_aliases",
        "10  topic aliases the broker sets for MQTT 5 clients that take them (0: none)",
    ),
    ("max_qos", "2  highest QoS supported"),
    (
        "retain_available",
        "true  whether clients may publish retained messages",
    ),
    (
        "response_information",
        "none  MQTT 5 Response Information, %c = client id",
    ),
    (
        "redirect",
        "none  send every MQTT 5 client to this server (CONNACK 0x9C)",
    ),
    (
        "redirect_permanent",
        "false  redirect with 0x9D (server moved)",
    ),
    (
        "listener",
        "none  [[listener]] tables: TLS, WebSocket, Unix socket listeners (keys below)",
    ),
    (
        "bridge",
        "none  [[bridge]] tables: bridges to upstream brokers (keys below)",
    ),
    (
        "mqttsn",
        "none  [mqttsn] table: the MQTT-SN gateway over UDP (keys below)",
    ),
];

/// Parses TOML text into a config, on top of the defaults, and validates
/// it.
///
/// # Errors
/// [`Error::Config`] naming the key at fault; for a syntax error or an
/// unknown key, the field is `TOML` and the reason is TOML's own message:
/// line and column, then an excerpt with a caret under the fault, on
/// several lines.
// Only tests (here and in tests/) parse text; the binary reads a file.
#[cfg_attr(not(test), allow(dead_code))]
pub fn from_toml(text: &str) -> Result<Config, Error> {
    parse(text).map_err(|error| match error {
        Parse::Syntax(reason) => Error::Config {
            field: "TOML".to_string(),
            reason,
        },
        Parse::Invalid(error) => error,
    })
}

/// Reads and parses a TOML file; errors name the file.
///
/// # Errors
/// [`Error::ConfigFile`] when the file cannot be read or is not valid TOML
/// for a config (with the line, the column and TOML's excerpt of the file,
/// on several lines); [`Error::Config`] naming the key and the file when a
/// value is unusable.
// The binary reads the text first, to tell TOML from mosquitto.conf.
#[allow(dead_code)]
pub fn from_toml_file(path: &std::path::Path) -> Result<Config, Error> {
    let text = std::fs::read_to_string(path).map_err(|error| Error::ConfigFile {
        path: path.display().to_string(),
        reason: format!("cannot read it: {error}"),
    })?;
    from_toml_text(path, &text)
}

/// Parses the text of the TOML file at `path`; errors name the file.
///
/// # Errors
/// As for [`from_toml_file`].
pub fn from_toml_text(path: &std::path::Path, text: &str) -> Result<Config, Error> {
    parse(text).map_err(|error| match error {
        Parse::Syntax(reason) => Error::ConfigFile {
            path: path.display().to_string(),
            reason,
        },
        Parse::Invalid(Error::Config { field, reason }) => Error::Config {
            field,
            reason: format!("{reason} (in {})", path.display()),
        },
        Parse::Invalid(other) => other,
    })
}

/// Why TOML text did not give a config.
enum Parse {
    /// Not TOML, or not the shape of a config (an unknown key, a value of
    /// the wrong type): TOML's message, on several lines.
    Syntax(String),
    /// A value the config refuses.
    Invalid(Error),
}

fn parse(text: &str) -> Result<Config, Parse> {
    let file: FileConfig = toml::from_str(text)
        .map_err(|error| Parse::Syntax(error.to_string().trim().to_string()))?;
    let mut config = Config::default();
    file.apply(&mut config, text).map_err(Parse::Invalid)?;
    config.validate().map_err(Parse::Invalid)?;
    Ok(config)
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        field: field.to_string(),
        reason: reason.into(),
    }
}

impl FileConfig {
    fn apply(self, config: &mut Config, text: &str) -> Result<(), Error> {
        if let Some(tables) = self.listener {
            if self.listeners.is_none() && self.port.is_none() && self.bind.is_none() {
                config.listeners = Vec::new();
            }
            for (index, table) in tables.into_iter().enumerate() {
                let which = format!(
                    "[[listener]] #{} (line {})",
                    index + 1,
                    line_of(text, table.span())
                );
                let listeners = table
                    .into_inner()
                    .listeners(&which)
                    .map_err(|reason| invalid("listener", reason))?;
                config.custom_listeners.extend(listeners);
            }
        }
        for (index, table) in self.bridge.into_iter().flatten().enumerate() {
            let which = format!(
                "[[bridge]] #{} (line {})",
                index + 1,
                line_of(text, table.span())
            );
            let bridge = table
                .into_inner()
                .bridge(&which)
                .map_err(|reason| invalid("bridge", reason))?;
            config.bridges.push(bridge);
        }
        if let Some(table) = self.mqttsn {
            config.mqttsn = Some(table.gateway()?);
        }
        if let Some(listeners) = self.listeners {
            if self.port.is_some() || self.bind.is_some() {
                return Err(invalid(
                    "listeners",
                    "give either `listeners` or `port`/`bind`, not both",
                ));
            }
            config.listeners = listeners
                .iter()
                .map(|text| {
                    text.parse::<SocketAddr>().map_err(|_| {
                        invalid(
                            "listeners",
                            format!("`{text}` is not an address like 127.0.0.1:1883"),
                        )
                    })
                })
                .collect::<Result<_, _>>()?;
        }
        if self.port.is_some() || self.bind.is_some() {
            let port = self.port.unwrap_or(1883);
            config.listeners = match &self.bind {
                Some(host) => resolve_bind(host, port).map_err(|reason| invalid("bind", reason))?,
                None => vec![SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)],
            };
        }
        if let Some(value) = self.max_connections {
            config.max_connections = value;
        }
        if let Some(value) = self.max_packet_size {
            config.max_packet_size = value;
        }
        if let Some(value) = self.max_inflight {
            config.max_inflight = value;
        }
        if let Some(value) = self.max_inflight_bytes {
            config.max_inflight_bytes = value;
        }
        if let Some(value) = self.max_queued_messages {
            config.max_queued_messages = value;
        }
        if let Some(value) = self.max_queued_bytes {
            config.max_queued_bytes = value;
        }
        if let Some(value) = self.max_pending_output {
            config.max_pending_output = value;
        }
        if let Some(value) = self.connect_timeout {
            config.connect_timeout = Duration::from_secs(value);
        }
        if let Some(value) = self.auth_timeout {
            config.auth_timeout = Duration::from_secs(value);
        }
        if let Some(value) = self.session_expiry {
            config.session_expiry = (value > 0).then(|| Duration::from_secs(value));
        }
        if let Some(value) = self.allow_zero_length_client_id {
            config.allow_zero_length_client_id = value;
        }
        if let Some(value) = self.auto_id_prefix {
            config.auto_id_prefix = value;
        }
        if let Some(value) = self.persistence {
            config.persistence = Some(value);
        }
        if let Some(value) = self.reset_persistence {
            config.reset_persistence = value;
        }
        if let Some(value) = self.password_file {
            config.password_file = Some(value);
        }
        if let Some(value) = self.acl_file {
            config.acl_file = Some(value);
        }
        if let Some(value) = self.allow_anonymous {
            config.allow_anonymous = Some(value);
        }
        if let Some(value) = self.sys_interval {
            config.sys_interval = (value > 0).then(|| Duration::from_secs(value));
        }
        if let Some(value) = self.max_keepalive {
            config.max_keepalive = Some(value);
        }
        if let Some(value) = self.max_topic_alias {
            config.max_topic_alias = value;
        }
        if let Some(value) = self.outgoing_topic_aliases {
            config.outgoing_topic_aliases = value;
        }
        if let Some(value) = self.max_qos {
            config.max_qos = mqlite::codec::QoS::from_u8(value)
                .ok_or_else(|| invalid("max_qos", format!("{value} is not 0, 1 or 2")))?;
        }
        if let Some(value) = self.retain_available {
            config.retain_available = value;
        }
        if let Some(value) = self.response_information {
            config.response_information = Some(value);
        }
        if let Some(value) = self.redirect {
            config.redirect = Some(value);
        }
        if let Some(value) = self.redirect_permanent {
            config.redirect_permanent = value;
        }
        Ok(())
    }
}

/// The line (from 1) of byte `span.start` of `text`: where a table starts.
fn line_of(text: &str, span: std::ops::Range<usize>) -> usize {
    text.get(..span.start).unwrap_or(text).matches('\n').count() + 1
}

/// The listeners for `bind = HOST` and a port: an IP address as it is, a
/// host name resolved to every address it has (each gets a listener, as
/// mosquitto does), in the resolver's order without repeats.
///
/// # Errors
/// Why the host cannot be used, for the caller to name the option.
pub fn resolve_bind(host: &str, port: u16) -> Result<Vec<SocketAddr>, String> {
    if let Ok(ip) = host.parse::<IpAddr>() {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    let resolved = std::net::ToSocketAddrs::to_socket_addrs(&(host, port)).map_err(|error| {
        format!("`{host}` is neither an IP address nor a host name that resolves: {error}")
    })?;
    let mut addrs: Vec<SocketAddr> = Vec::new();
    for addr in resolved {
        if !addrs.contains(&addr) {
            addrs.push(addr);
        }
    }
    if addrs.is_empty() {
        return Err(format!("`{host}` resolves to no address"));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn keys_are_applied() {
        let config = from_toml(
            "port = 1884\nbind = \"0.0.0.0\"\nmax_inflight = 5\nsession_expiry = 60\nsys_interval = 0\n",
        )
        .unwrap();
        assert_eq!(config.listeners, vec!["0.0.0.0:1884".parse().unwrap()]);
        assert_eq!(config.max_inflight, 5);
        assert_eq!(config.session_expiry, Some(Duration::from_secs(60)));
        assert_eq!(config.sys_interval, None);
    }

    #[test]
    fn mqtt5_keys_are_applied() {
        let config = from_toml(
            "max_keepalive = 120\nmax_topic_alias = 0\noutgoing_topic_aliases = 3\n\
             max_qos = 1\nretain_available = false\nresponse_information = \"r/%c\"\n\
             redirect = \"b:1883\"\nredirect_permanent = true\n",
        )
        .unwrap();
        assert_eq!(config.max_keepalive, Some(120));
        assert_eq!(config.max_topic_alias, 0);
        assert_eq!(config.outgoing_topic_aliases, 3);
        assert_eq!(config.max_qos, mqlite::codec::QoS::AtLeastOnce);
        assert!(!config.retain_available);
        assert_eq!(config.response_information.as_deref(), Some("r/%c"));
        assert_eq!(config.redirect.as_deref(), Some("b:1883"));
        assert!(config.redirect_permanent);
        let error = from_toml("max_qos = 3").unwrap_err().to_string();
        assert!(error.contains("max_qos"), "{error}");
    }

    #[test]
    fn errors_name_the_key() {
        let error = from_toml("max_inflight = 0").unwrap_err().to_string();
        assert!(error.contains("max_inflight"), "{error}");
        let error = from_toml("max_inflght = 3").unwrap_err().to_string();
        assert!(error.contains("max_inflght"), "{error}");
        let error = from_toml("listeners = [\"nope\"]").unwrap_err().to_string();
        assert!(
            error.contains("listeners") && error.contains("nope"),
            "{error}"
        );
        let error = from_toml("max_inflight = \"x\"").unwrap_err().to_string();
        assert!(error.contains("max_inflight"), "{error}");
    }

    #[test]
    fn syntax_errors_name_the_file_and_keep_tomls_lines() {
        let dir = std::env::temp_dir().join(format!("mqlite-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("broken.toml");
        std::fs::write(&path, "port = 1884\nmax_inflight = = 3\n").unwrap();
        let error = from_toml_file(&path).unwrap_err();
        let text = error.to_string();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(matches!(error, Error::ConfigFile { .. }), "{text}");
        assert!(
            text.starts_with(&format!("config file {}: ", path.display())),
            "{text}"
        );
        assert!(!text.contains("`config`"), "{text}");
        assert!(text.contains("line 2, column"), "{text}");
        // The excerpt and its caret stay on lines of their own.
        let lines: Vec<&str> = text.lines().collect();
        assert!(lines.len() >= 4, "{text}");
        assert!(
            lines.iter().any(|line| line.contains("max_inflight = = 3")),
            "{text}"
        );
        assert!(
            lines
                .iter()
                .any(|line| line.trim_start().starts_with('|') && line.contains('^')),
            "{text}"
        );
    }

    #[test]
    fn listener_tables_add_custom_listeners() {
        let config = from_toml(
            "max_inflight = 5\n\n[[listener]]\naddress = \"127.0.0.1:8883\"\ncertfile = \"c\"\n\
             keyfile = \"k\"\n\n[[listener]]\nunix = \"/run/m.sock\"\n",
        )
        .unwrap();
        // No `listeners`, `port` or `bind`: no plain listener.
        assert!(config.listeners.is_empty());
        assert_eq!(config.max_inflight, 5);
        assert_eq!(
            config.custom_listeners,
            vec![
                mqlite::Listener::tcp("127.0.0.1:8883".parse().unwrap())
                    .with_tls(mqlite::TlsSettings::new("c", "k")),
                mqlite::Listener::unix("/run/m.sock"),
            ]
        );
        let config = from_toml("port = 1884\n[[listener]]\nport = 1885\n").unwrap();
        assert_eq!(config.listeners, vec!["127.0.0.1:1884".parse().unwrap()]);
        assert_eq!(config.custom_listeners.len(), 1);
        // Errors name the table and its line.
        let error = from_toml("port = 1\n\n[[listener]]\nport = 2\n[[listener]]\ncafile = \"x\"\n")
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with("invalid config `listener`: [[listener]] #2 (line 5): "),
            "{error}"
        );
        let error = from_toml("[[listener]]\nport = 1\nsocket = 2\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("socket"), "{error}");
        // The table's keys are listed for --help.
        for key in ["port", "unix", "socket_mode", "tls_version", "acl_file"] {
            assert!(LISTENER_KEYS.iter().any(|(k, _)| *k == key), "{key}");
        }
    }

    #[test]
    fn bind_takes_a_host_name() {
        let config = from_toml("bind = \"localhost\"\nport = 0\n").unwrap();
        assert!(!config.listeners.is_empty());
        assert!(
            config
                .listeners
                .iter()
                .all(|addr| addr.ip().is_loopback() && addr.port() == 0),
            "{:?}",
            config.listeners
        );
    }
}
