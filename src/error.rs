//! The crate's error type.

use std::io;

/// Errors returned by the public API.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A configuration value is unusable.
    #[error("invalid config `{field}`: {reason}")]
    Config {
        /// The field (or command-line option) at fault.
        field: String,
        /// Why it is refused.
        reason: String,
    },
    /// Binding a listener failed.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address that could not be bound.
        addr: std::net::SocketAddr,
        /// The operating system's reason.
        source: io::Error,
    },
    /// A listener cannot start: a Unix socket path, a certificate or key
    /// file, a TLS or WebSocket setting.
    #[error("cannot start listener {listener}: {reason}")]
    Listener {
        /// The listener (`mqtts://0.0.0.0:8883`, `unix:/run/mqlite.sock`...).
        listener: String,
        /// What is wrong, naming the file at fault.
        reason: String,
    },
    /// An I/O error of the reactor (poll, waker).
    #[error("I/O error: {0}")]
    Io(#[from] io::Error),
    /// A topic name or filter is not valid MQTT.
    #[error("invalid topic `{0}`")]
    InvalidTopic(String),
    /// The persistence file cannot be opened, read or written.
    #[error("persistence file {path}: {reason}")]
    Store {
        /// The SQLite file.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// The broker has stopped; the handle can no longer reach it.
    #[error("the broker has stopped")]
    Stopped,
    /// A request that waits for the broker's answer
    /// ([`crate::BrokerHandle::stats`],
    /// [`crate::BrokerHandle::connected_clients`]) was made from a hook or
    /// callback, on the broker's own thread: the broker cannot answer
    /// until the call returns, so it fails at once instead of waiting out
    /// its timeout.
    #[error(
        "called from a hook or callback on the broker's own thread, \
         where the broker cannot answer a request that waits for it"
    )]
    OnBrokerThread,
    /// A TOML configuration file that cannot be read or parsed (the
    /// `mqlite` binary's `-c FILE`; the library reads no config file).
    #[error("config file {path}: {reason}")]
    ConfigFile {
        /// The file.
        path: String,
        /// What is wrong, with the line and column for a syntax error (on
        /// several lines: TOML's excerpt of the file with a caret under the
        /// fault).
        reason: String,
    },
}
