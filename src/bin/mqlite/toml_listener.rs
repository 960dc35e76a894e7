//! The TOML file's `[[listener]]` tables: listeners with a transport or
//! settings of their own ([`mqlite::Listener`], `Config::custom_listeners`),
//! with mosquitto's names for what mosquitto.conf also has, and
//! `socket_mode` / `socket_owner` / `socket_group` for Unix sockets, which
//! mosquitto has not.
//!
//! ```toml
//! [[listener]]
//! port = 8883
//! bind = "0.0.0.0"
//! certfile = "/etc/mqlite/server.pem"
//! keyfile = "/etc/mqlite/server.key"
//!
//! [[listener]]
//! unix = "/run/mqlite/mqtt.sock"
//! socket_mode = "660"
//! ```
//!
//! Included by path from `config_file.rs` (also in
//! `tests/robust/limits_defaults.rs`), so it names nothing else of the
//! binary.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Deserialize;

use mqlite::{ListenAddress, Listener, TlsSettings, TlsVersion, UnixSocket};

/// One `[[listener]]` table.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ListenerTable {
    port: Option<u16>,
    bind: Option<String>,
    address: Option<String>,
    unix: Option<PathBuf>,
    socket_mode: Option<Mode>,
    socket_owner: Option<Id>,
    socket_group: Option<Id>,
    protocol: Option<String>,
    certfile: Option<PathBuf>,
    keyfile: Option<PathBuf>,
    cafile: Option<PathBuf>,
    capath: Option<PathBuf>,
    require_certificate: Option<bool>,
    use_identity_as_username: Option<bool>,
    use_subject_as_username: Option<bool>,
    tls_version: Option<String>,
    max_connections: Option<usize>,
    allow_anonymous: Option<bool>,
    password_file: Option<PathBuf>,
    acl_file: Option<PathBuf>,
}

/// A file mode: an octal string (`"660"`, `"0660"`) or a number (write
/// `0o660` in TOML).
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum Mode {
    Text(String),
    Number(i64),
}

/// A user or group: a name or a number.
#[derive(Deserialize, Debug)]
#[serde(untagged)]
enum Id {
    Name(String),
    Number(u32),
}

/// The keys of a `[[listener]]` table with their defaults, for `--help`.
pub const LISTENER_KEYS: &[(&str, &str)] = &[
    ("port", "none  TCP port (with `bind`)"),
    (
        "bind",
        "\"127.0.0.1\"  IP address or host name (one listener per address)",
    ),
    ("address", "none  \"IP:PORT\", instead of port and bind"),
    ("unix", "none  Unix socket path, instead of a TCP address"),
    (
        "socket_mode",
        "umask  Unix socket file mode: \"660\" or 0o660",
    ),
    ("socket_owner", "none  Unix socket owner, name or number"),
    ("socket_group", "none  Unix socket group, name or number"),
    (
        "protocol",
        "\"mqtt\"  or \"websockets\" (MQTT over WebSocket)",
    ),
    (
        "certfile",
        "none  PEM certificate chain: TLS (with keyfile)",
    ),
    ("keyfile", "none  PEM private key"),
    ("cafile", "none  PEM CAs for client certificates"),
    ("capath", "none  directory of PEM CAs"),
    (
        "require_certificate",
        "false  clients must present a certificate",
    ),
    (
        "use_identity_as_username",
        "false  certificate's CN is the user name",
    ),
    (
        "use_subject_as_username",
        "false  certificate's subject is the user name",
    ),
    (
        "tls_version",
        "\"tlsv1.2\"  oldest TLS version: tlsv1.2 or tlsv1.3",
    ),
    (
        "max_connections",
        "none  connections on this listener (the broker-wide limit still holds)",
    ),
    (
        "allow_anonymous",
        "broker-wide  for this listener's clients",
    ),
    ("password_file", "broker-wide  for this listener's clients"),
    ("acl_file", "broker-wide  for this listener's clients"),
];

impl ListenerTable {
    /// The listeners this table describes (one per address `bind`
    /// resolves to). `which` names the table in errors.
    ///
    /// # Errors
    /// Why the table cannot be used, for `listener` errors.
    pub fn listeners(self, which: &str) -> Result<Vec<Listener>, String> {
        let bad = |reason: String| format!("{which}: {reason}");
        let addresses = self.addresses().map_err(bad)?;
        let websocket = match self.protocol.as_deref() {
            None | Some("mqtt") => false,
            Some("websockets") => true,
            Some(other) => {
                return Err(bad(format!(
                    "protocol `{other}` is not \"mqtt\" or \"websockets\""
                )))
            }
        };
        let tls = self.tls().map_err(bad)?;
        if self.max_connections == Some(0) {
            return Err(bad("max_connections must be at least 1".into()));
        }
        Ok(addresses
            .into_iter()
            .map(|address| Listener {
                address,
                tls: tls.clone(),
                websocket,
                max_connections: self.max_connections,
                allow_anonymous: self.allow_anonymous,
                password_file: self.password_file.clone(),
                acl_file: self.acl_file.clone(),
            })
            .collect())
    }

    fn addresses(&self) -> Result<Vec<ListenAddress>, String> {
        let tcp = self.port.is_some() || self.bind.is_some();
        let unix_only = self.socket_mode.is_some()
            || self.socket_owner.is_some()
            || self.socket_group.is_some();
        match (&self.unix, &self.address, tcp) {
            (Some(path), None, false) => {
                let mode = match &self.socket_mode {
                    Some(mode) => Some(socket_mode(mode)?),
                    None => None,
                };
                let id = |id: &Option<Id>| match id {
                    Some(Id::Name(name)) => Some(name.clone()),
                    Some(Id::Number(number)) => Some(number.to_string()),
                    None => None,
                };
                Ok(vec![ListenAddress::Unix(UnixSocket {
                    path: path.clone(),
                    mode,
                    owner: id(&self.socket_owner),
                    group: id(&self.socket_group),
                })])
            }
            (None, _, _) if unix_only => {
                Err("socket_mode, socket_owner and socket_group are for `unix` listeners".into())
            }
            (None, Some(text), false) => {
                let addr = text
                    .parse::<SocketAddr>()
                    .map_err(|_| format!("address `{text}` is not like 127.0.0.1:1883"))?;
                Ok(vec![ListenAddress::Tcp(addr)])
            }
            (None, None, true) => {
                let port = self.port.ok_or("`bind` needs a `port`")?;
                let addrs = match &self.bind {
                    Some(host) => super::resolve_bind(host, port)?,
                    None => vec![SocketAddr::new(IpAddr::from([127, 0, 0, 1]), port)],
                };
                Ok(addrs.into_iter().map(ListenAddress::Tcp).collect())
            }
            (None, None, false) => Err("needs `port`, `address` or `unix`".into()),
            _ => Err("give one of `port`/`bind`, `address` or `unix`".into()),
        }
    }

    fn tls(&self) -> Result<Option<TlsSettings>, String> {
        let any = self.certfile.is_some()
            || self.keyfile.is_some()
            || self.cafile.is_some()
            || self.capath.is_some()
            || self.require_certificate.is_some()
            || self.use_identity_as_username.is_some()
            || self.use_subject_as_username.is_some()
            || self.tls_version.is_some();
        if !any {
            return Ok(None);
        }
        let (Some(cert), Some(key)) = (&self.certfile, &self.keyfile) else {
            return Err("TLS needs both certfile and keyfile".into());
        };
        let mut tls = TlsSettings::new(cert, key);
        tls.ca_file = self.cafile.clone();
        tls.ca_path = self.capath.clone();
        tls.require_certificate = self.require_certificate.unwrap_or(false);
        tls.use_identity_as_username = self.use_identity_as_username.unwrap_or(false);
        tls.use_subject_as_username = self.use_subject_as_username.unwrap_or(false);
        tls.min_version = match self.tls_version.as_deref() {
            None | Some("tlsv1.2") => TlsVersion::Tls12,
            Some("tlsv1.3") => TlsVersion::Tls13,
            Some(other) => {
                return Err(format!(
                "tls_version `{other}` is not \"tlsv1.2\" or \"tlsv1.3\" (TLS 1.2 is the oldest)"
            ))
            }
        };
        Ok(Some(tls))
    }
}

/// A Unix socket's mode: permission bits only (at most `0o777`).
fn socket_mode(mode: &Mode) -> Result<u32, String> {
    let value = match mode {
        Mode::Text(text) => {
            let digits = text.strip_prefix("0o").unwrap_or(text);
            u32::from_str_radix(digits, 8)
                .map_err(|_| format!("socket_mode `{text}` is not an octal mode like \"660\""))?
        }
        Mode::Number(number) => u32::try_from(*number).unwrap_or(u32::MAX),
    };
    if value > 0o777 {
        return Err(match mode {
            Mode::Number(number) => format!(
                "socket_mode {number} is not a mode (decimal {number} is octal {value:o}): \
                 write 0o{number} or \"{number}\""
            ),
            Mode::Text(text) => format!("socket_mode `{text}` is more than 777"),
        });
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table(text: &str) -> ListenerTable {
        toml::from_str(text).unwrap()
    }

    fn listeners(text: &str) -> Result<Vec<Listener>, String> {
        table(text).listeners("listener 1")
    }

    #[test]
    fn addresses() {
        let l = listeners("port = 8883\n").unwrap();
        assert_eq!(l, vec![Listener::tcp("127.0.0.1:8883".parse().unwrap())]);
        let l = listeners("address = \"[::1]:1\"\n").unwrap();
        assert_eq!(l[0].address, ListenAddress::Tcp("[::1]:1".parse().unwrap()));
        let l = listeners("port = 2\nbind = \"localhost\"\nmax_connections = 5\n").unwrap();
        assert!(!l.is_empty());
        assert!(l.iter().all(
            |l| matches!(l.address, ListenAddress::Tcp(a) if a.ip().is_loopback() && a.port() == 2)
                && l.max_connections == Some(5)
        ));
        let l = listeners(
            "unix = \"/run/m.sock\"\nsocket_mode = \"0660\"\nsocket_owner = \"mqtt\"\nsocket_group = 20\n",
        )
        .unwrap();
        assert_eq!(
            l[0].address,
            ListenAddress::Unix(UnixSocket {
                path: "/run/m.sock".into(),
                mode: Some(0o660),
                owner: Some("mqtt".into()),
                group: Some("20".into()),
            })
        );
        let l = listeners("unix = \"/s\"\nsocket_mode = 0o600\n").unwrap();
        assert!(matches!(&l[0].address, ListenAddress::Unix(u) if u.mode == Some(0o600)));
    }

    #[test]
    fn refusals_say_why() {
        for (text, says) in [
            ("", "needs `port`, `address` or `unix`"),
            ("port = 1\nunix = \"/s\"\n", "one of"),
            ("address = \"x\"\n", "not like 127.0.0.1:1883"),
            ("port = 1\nsocket_mode = \"600\"\n", "for `unix` listeners"),
            ("unix = \"/s\"\nsocket_mode = 660\n", "write 0o660"),
            ("unix = \"/s\"\nsocket_mode = \"9\"\n", "not an octal mode"),
            ("bind = \"::1\"\n", "needs a `port`"),
            ("port = 1\nprotocol = \"ws\"\n", "protocol `ws`"),
            ("port = 1\ncertfile = \"c\"\n", "both certfile and keyfile"),
            (
                "port = 1\ncertfile = \"c\"\nkeyfile = \"k\"\ntls_version = \"tlsv1.1\"\n",
                "TLS 1.2 is the oldest",
            ),
            ("port = 1\nmax_connections = 0\n", "at least 1"),
        ] {
            let error = listeners(text).unwrap_err();
            assert!(error.starts_with("listener 1: "), "{error}");
            assert!(error.contains(says), "{text:?}: {error}");
        }
    }

    #[test]
    fn tls_websocket_and_access() {
        let l = listeners(
            "port = 8884\nbind = \"0.0.0.0\"\nprotocol = \"websockets\"\ncertfile = \"c.pem\"\n\
             keyfile = \"k.pem\"\ncafile = \"ca.pem\"\ncapath = \"/etc/ca\"\nrequire_certificate = true\n\
             use_identity_as_username = true\ntls_version = \"tlsv1.3\"\nallow_anonymous = false\n\
             password_file = \"pw\"\nacl_file = \"acl\"\n",
        )
        .unwrap();
        let mut tls = TlsSettings::new("c.pem", "k.pem");
        tls.ca_file = Some("ca.pem".into());
        tls.ca_path = Some("/etc/ca".into());
        tls.require_certificate = true;
        tls.use_identity_as_username = true;
        tls.min_version = TlsVersion::Tls13;
        let mut expected = Listener::tcp("0.0.0.0:8884".parse().unwrap())
            .with_tls(tls)
            .with_websocket();
        expected.allow_anonymous = Some(false);
        expected.password_file = Some("pw".into());
        expected.acl_file = Some("acl".into());
        assert_eq!(l, vec![expected]);
        let l = listeners(
            "port = 1\nuse_subject_as_username = true\ncertfile = \"c\"\nkeyfile = \"k\"\n",
        )
        .unwrap();
        assert!(l[0].tls.as_ref().unwrap().use_subject_as_username);
    }
}
