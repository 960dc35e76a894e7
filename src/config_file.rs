//! Reading a [`Config`] from TOML: the `mqlite -c FILE` format.
//!
//! Keys are the field names of [`Config`]; durations are whole seconds, and
//! `0` means "never" for `session_expiry` and "off" for `sys_interval`.
//! `port` and `bind` are shorthands for a single listener. Unknown keys are
//! refused, so a typo is reported instead of silently ignored.
//!
//! ```toml
//! listeners = ["127.0.0.1:1883", "[::1]:1883"]
//! max_inflight = 100
//! session_expiry = 86400
//! ```

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use serde::Deserialize;

use crate::{Config, Error};

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
}

/// The keys of the TOML file with their defaults, for `--help`.
pub const CONFIG_FILE_KEYS: &[(&str, &str)] = &[
    ("listeners", "[\"127.0.0.1:1883\"]  addresses to listen on"),
    ("port", "1883  port of the single listener (with `bind`)"),
    ("bind", "\"127.0.0.1\"  address of the single listener"),
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
];

impl Config {
    /// Parses TOML text into a config, on top of the defaults, and
    /// validates it.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key at fault (or `config` for a syntax
    /// error, with the line in the reason).
    pub fn from_toml(text: &str) -> Result<Config, Error> {
        let file: FileConfig = toml::from_str(text).map_err(|error| Error::Config {
            field: "config".to_string(),
            reason: error.to_string().trim().replace('\n', " "),
        })?;
        let mut config = Config::default();
        file.apply(&mut config)?;
        config.validate()?;
        Ok(config)
    }

    /// Reads and parses a TOML file; errors name the file.
    ///
    /// # Errors
    /// [`Error::Config`] when the file cannot be read or is invalid.
    pub fn from_toml_file(path: &std::path::Path) -> Result<Config, Error> {
        let text = std::fs::read_to_string(path).map_err(|error| Error::Config {
            field: "config".to_string(),
            reason: format!("cannot read {}: {error}", path.display()),
        })?;
        Config::from_toml(&text).map_err(|error| match error {
            Error::Config { field, reason } => Error::Config {
                field,
                reason: format!("{reason} (in {})", path.display()),
            },
            other => other,
        })
    }
}

fn invalid(field: &str, reason: impl Into<String>) -> Error {
    Error::Config {
        field: field.to_string(),
        reason: reason.into(),
    }
}

impl FileConfig {
    fn apply(self, config: &mut Config) -> Result<(), Error> {
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
            let ip: IpAddr = match &self.bind {
                Some(text) => text
                    .parse()
                    .map_err(|_| invalid("bind", format!("`{text}` is not an IP address")))?,
                None => IpAddr::from([127, 0, 0, 1]),
            };
            config.listeners = vec![SocketAddr::new(ip, self.port.unwrap_or(1883))];
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
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::from_toml("").unwrap(), Config::default());
    }

    #[test]
    fn keys_are_applied() {
        let config = Config::from_toml(
            "port = 1884\nbind = \"0.0.0.0\"\nmax_inflight = 5\nsession_expiry = 60\nsys_interval = 0\n",
        )
        .unwrap();
        assert_eq!(config.listeners, vec!["0.0.0.0:1884".parse().unwrap()]);
        assert_eq!(config.max_inflight, 5);
        assert_eq!(config.session_expiry, Some(Duration::from_secs(60)));
        assert_eq!(config.sys_interval, None);
    }

    #[test]
    fn errors_name_the_key() {
        let error = Config::from_toml("max_inflight = 0")
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_inflight"), "{error}");
        let error = Config::from_toml("max_inflght = 3")
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_inflght"), "{error}");
        let error = Config::from_toml("listeners = [\"nope\"]")
            .unwrap_err()
            .to_string();
        assert!(
            error.contains("listeners") && error.contains("nope"),
            "{error}"
        );
        let error = Config::from_toml("max_inflight = \"x\"")
            .unwrap_err()
            .to_string();
        assert!(error.contains("max_inflight"), "{error}");
    }
}
