//! What the lines of a mosquitto.conf have said so far, kept as mosquitto
//! keeps it (a default listener, listener blocks, broker-wide and
//! per-listener security, bridges), with where each value came from; `build.rs`
//! turns it into a [`mqlite::Config`] once every file is read.

use std::path::PathBuf;

use mqlite::{Config, TlsVersion};

use super::lines::{Fault, Line, Loc};
use crate::logging::LogSettings;

/// A value and the line that gave it.
pub type At<T> = Option<(T, Loc)>;

/// mosquitto's security options: broker-wide, or one listener's with
/// `per_listener_settings true`.
#[derive(Default)]
pub struct Security {
    pub allow_anonymous: At<bool>,
    pub password_file: At<PathBuf>,
    pub acl_file: At<PathBuf>,
    pub allow_zero_length_clientid: At<bool>,
    pub auto_id_prefix: At<String>,
}

/// A listener's certificate options.
#[derive(Default)]
pub struct Tls {
    pub certfile: At<PathBuf>,
    pub keyfile: At<PathBuf>,
    pub cafile: At<PathBuf>,
    pub capath: At<PathBuf>,
    pub require_certificate: At<bool>,
    pub use_identity_as_username: At<bool>,
    pub use_subject_as_username: At<bool>,
    pub tls_version: At<TlsVersion>,
}

impl Tls {
    /// The first TLS option given, for messages.
    pub fn first(&self) -> Option<(&'static str, &Loc)> {
        [
            ("certfile", loc(&self.certfile)),
            ("keyfile", loc(&self.keyfile)),
            ("cafile", loc(&self.cafile)),
            ("capath", loc(&self.capath)),
            ("require_certificate", loc(&self.require_certificate)),
            (
                "use_identity_as_username",
                loc(&self.use_identity_as_username),
            ),
            (
                "use_subject_as_username",
                loc(&self.use_subject_as_username),
            ),
            ("tls_version", loc(&self.tls_version)),
        ]
        .into_iter()
        .filter_map(|(name, loc)| loc.map(|loc| (name, loc)))
        .min_by_key(|(_, loc)| loc.line)
    }
}

/// Where a value came from.
pub fn loc<T>(slot: &At<T>) -> Option<&Loc> {
    slot.as_ref().map(|(_, loc)| loc)
}

/// IPv4 or IPv6 only (`socket_domain`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Domain {
    Ipv4,
    Ipv6,
}

/// One listener block (`listener PORT [ADDRESS]` and the lines after it),
/// or the default listener (`port`, `bind_address`, and listener options
/// before any `listener` line).
#[derive(Default)]
pub struct Block {
    /// The `listener` line; `None` for the default listener.
    pub opened: Option<Loc>,
    /// The port: a listener's, or the default listener's `port`. 0 with
    /// `host`: a Unix socket.
    pub port: At<u16>,
    /// The bind address or host name (`bind_address`, or a listener's
    /// second word), or a Unix socket's path.
    pub host: At<String>,
    pub domain: At<Domain>,
    pub websocket: At<bool>,
    pub tls: Tls,
    pub max_connections: At<i64>,
    pub max_qos: At<u8>,
    pub max_topic_alias: At<u16>,
    /// Its security options, with `per_listener_settings true`.
    pub security: Security,
}

/// Everything read so far.
pub struct State {
    pub per_listener_settings: bool,
    /// Where the first security option was (`per_listener_settings true`
    /// must come before any).
    pub security_seen: Option<Loc>,
    pub global: Security,
    pub default: Block,
    pub listeners: Vec<Block>,
    /// No `listener`, `port` or `bind_address` yet: mosquitto then listens
    /// on the local machine only.
    pub local_only: bool,
    /// The broker-wide settings that map one to one.
    pub config: Config,
    pub persistence: bool,
    pub persistence_location: At<PathBuf>,
    pub persistence_file: At<String>,
    pub pid_file: At<PathBuf>,
    pub log: LogSettings,
    pub log_file: At<PathBuf>,
    pub connection_messages: bool,
    /// The bridges (`connection` blocks), in the order of their lines.
    pub bridges: Vec<super::bridges::Pending>,
    pub warnings: Vec<String>,
}

impl State {
    pub fn new() -> State {
        State {
            per_listener_settings: false,
            security_seen: None,
            global: Security::default(),
            default: Block::default(),
            listeners: Vec::new(),
            local_only: true,
            config: Config::default(),
            persistence: false,
            persistence_location: None,
            persistence_file: None,
            pid_file: None,
            log: LogSettings::default(),
            log_file: None,
            connection_messages: true,
            bridges: Vec::new(),
            warnings: Vec::new(),
        }
    }

    /// The block the lines of a file are in: `current` is the index of its
    /// latest `listener`, `None` before one (the default listener; each
    /// included file starts there, as in mosquitto).
    pub fn block(&mut self, current: Option<usize>) -> &mut Block {
        match current.and_then(|index| self.listeners.get_mut(index)) {
            Some(block) => block,
            None => &mut self.default,
        }
    }

    /// Where a security option goes: the current block's with
    /// `per_listener_settings true`, else the broker-wide ones.
    pub fn security(&mut self, current: Option<usize>, line: &Line<'_>) -> &mut Security {
        if self.security_seen.is_none() {
            self.security_seen = Some(line.loc.clone());
        }
        if self.per_listener_settings {
            &mut self.block(current).security
        } else {
            &mut self.global
        }
    }
}

/// Sets a value mosquitto takes once per place (a path, a prefix): a
/// second one is refused, as mosquitto refuses it ("Duplicate ... value").
pub fn set_once<T>(slot: &mut At<T>, value: T, line: &Line<'_>) -> Result<(), Fault> {
    if let Some((_, first)) = slot {
        return Err(line.refuse(format!(
            "given twice for the same listener or broker (first at {first}); mosquitto refuses this too"
        )));
    }
    *slot = Some((value, line.loc.clone()));
    Ok(())
}

/// Sets a value whose last occurrence counts.
pub fn set<T>(slot: &mut At<T>, value: T, line: &Line<'_>) {
    *slot = Some((value, line.loc.clone()));
}
