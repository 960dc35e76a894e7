//! Listeners with a transport or settings of their own: TLS, MQTT over
//! WebSocket, Unix domain sockets, and per-listener limits and access
//! files, as mosquitto's `listener` blocks configure them.
//!
//! [`crate::Config::listeners`] are plain TCP listeners with the
//! broker-wide settings; [`crate::Config::custom_listeners`] holds these.

use std::net::SocketAddr;
use std::path::PathBuf;

/// One listener: where it listens, how clients speak to it, and the
/// settings that differ from the broker-wide ones for its clients.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Listener {
    /// Where it listens.
    pub address: ListenAddress,
    /// TLS on this listener (every client must speak TLS), when set.
    pub tls: Option<TlsSettings>,
    /// Whether clients speak MQTT over WebSocket (an HTTP upgrade, then
    /// MQTT in binary frames; subprotocol `mqtt`, or `mqttv3.1`) instead of
    /// bare MQTT. Default: false.
    pub websocket: bool,
    /// Most connections on this listener at once (mosquitto's per-listener
    /// `max_connections`); the broker-wide `max_connections` still bounds
    /// them all. `None`: only the broker-wide limit. Default: `None`.
    pub max_connections: Option<usize>,
    /// Whether clients without a user name may connect here. `None`: the
    /// broker-wide `allow_anonymous`. Default: `None`.
    pub allow_anonymous: Option<bool>,
    /// A password file for this listener's clients instead of the
    /// broker-wide one (mosquitto's `per_listener_settings true`). `None`:
    /// the broker-wide `password_file`. Default: `None`.
    pub password_file: Option<PathBuf>,
    /// An ACL file for this listener's clients instead of the broker-wide
    /// one. `None`: the broker-wide `acl_file`. Default: `None`.
    pub acl_file: Option<PathBuf>,
}

/// Where a listener listens.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ListenAddress {
    /// A TCP address; port 0 picks a free port (read it back with
    /// [`crate::Broker::custom_local_addrs`]).
    Tcp(SocketAddr),
    /// A Unix domain socket (the file is created at start, replacing a
    /// stale socket file, and removed when the broker stops).
    Unix(UnixSocket),
}

/// A Unix domain socket listener's file and its permissions.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnixSocket {
    /// The socket file's path; its directory must exist.
    pub path: PathBuf,
    /// File mode of the socket (for example `0o660`). `None`: what the
    /// process's umask gives. Default: `None`.
    pub mode: Option<u32>,
    /// User owning the socket file, by name or number. `None`: the
    /// broker's user. Default: `None`.
    pub owner: Option<String>,
    /// Group owning the socket file, by name or number. `None`: the
    /// broker's group. Default: `None`.
    pub group: Option<String>,
}

/// TLS on a listener, from PEM files (mosquitto's `certfile`, `keyfile`,
/// `cafile`, `capath`, `require_certificate`, `use_identity_as_username`,
/// `use_subject_as_username`, `tls_version`). The files are read when the
/// broker starts and again at each reload, so a renewed certificate takes
/// effect for new connections without a restart.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TlsSettings {
    /// The server's certificate chain (PEM), its own certificate first.
    pub cert_file: PathBuf,
    /// The server's private key (PEM: PKCS#8, PKCS#1 or SEC1; not
    /// encrypted).
    pub key_file: PathBuf,
    /// CA certificates (PEM) that client certificates are verified
    /// against. Default: `None`.
    pub ca_file: Option<PathBuf>,
    /// A directory of CA certificates (PEM files), used like `ca_file`.
    /// Default: `None`.
    pub ca_path: Option<PathBuf>,
    /// Whether every client must present a certificate signed by a CA of
    /// `ca_file` / `ca_path` (otherwise the handshake fails). Without it,
    /// a client certificate is verified when one is given, when CAs are
    /// configured. Default: false.
    pub require_certificate: bool,
    /// Whether the client certificate's Common Name is the client's user
    /// name (the user name and password in CONNECT are then ignored, and
    /// the password file is not asked: the certificate has authenticated
    /// the client). Needs `require_certificate`. Default: false.
    pub use_identity_as_username: bool,
    /// Like `use_identity_as_username`, with the certificate's whole
    /// subject (RFC 4514, for example `CN=dev1,O=Acme`) as the user name.
    /// Default: false.
    pub use_subject_as_username: bool,
    /// The oldest TLS version accepted. Default: TLS 1.2.
    pub min_version: TlsVersion,
}

/// A TLS protocol version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub enum TlsVersion {
    /// TLS 1.2.
    #[default]
    Tls12,
    /// TLS 1.3.
    Tls13,
}

impl Listener {
    /// A TCP listener on `addr` with the broker-wide settings.
    pub fn tcp(addr: SocketAddr) -> Listener {
        Listener::at(ListenAddress::Tcp(addr))
    }

    /// A Unix domain socket listener at `path` with the broker-wide
    /// settings.
    pub fn unix(path: impl Into<PathBuf>) -> Listener {
        Listener::at(ListenAddress::Unix(UnixSocket {
            path: path.into(),
            mode: None,
            owner: None,
            group: None,
        }))
    }

    fn at(address: ListenAddress) -> Listener {
        Listener {
            address,
            tls: None,
            websocket: false,
            max_connections: None,
            allow_anonymous: None,
            password_file: None,
            acl_file: None,
        }
    }

    /// This listener with TLS.
    pub fn with_tls(mut self, tls: TlsSettings) -> Listener {
        self.tls = Some(tls);
        self
    }

    /// This listener speaking MQTT over WebSocket.
    pub fn with_websocket(mut self) -> Listener {
        self.websocket = true;
        self
    }

    /// What the listener is, for logs and errors: `mqtt://127.0.0.1:1883`,
    /// `mqtts://...`, `ws://...`, `wss://...`, or `unix:PATH`.
    pub fn describe(&self) -> String {
        let scheme = match (self.websocket, self.tls.is_some()) {
            (false, false) => "mqtt",
            (false, true) => "mqtts",
            (true, false) => "ws",
            (true, true) => "wss",
        };
        match &self.address {
            ListenAddress::Tcp(addr) => format!("{scheme}://{addr}"),
            ListenAddress::Unix(unix) if scheme == "mqtt" => {
                format!("unix:{}", unix.path.display())
            }
            ListenAddress::Unix(unix) => format!("{scheme}+unix:{}", unix.path.display()),
        }
    }
}

impl From<SocketAddr> for Listener {
    fn from(addr: SocketAddr) -> Listener {
        Listener::tcp(addr)
    }
}

impl TlsSettings {
    /// TLS with this certificate chain and key, no client certificates.
    pub fn new(cert_file: impl Into<PathBuf>, key_file: impl Into<PathBuf>) -> TlsSettings {
        TlsSettings {
            cert_file: cert_file.into(),
            key_file: key_file.into(),
            ca_file: None,
            ca_path: None,
            require_certificate: false,
            use_identity_as_username: false,
            use_subject_as_username: false,
            min_version: TlsVersion::Tls12,
        }
    }
}
