//! Binding the listeners at start: TCP addresses and Unix socket files,
//! each with the layers its connections get (TLS, WebSocket), and making
//! those layers again at a reload.

use std::io;
use std::net::SocketAddr;
use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::path::Path;
use std::sync::Arc;

use mio::net::{TcpListener, UnixListener, UnixStream};

use super::transport::Layers;
use crate::listener::{ListenAddress, UnixSocket};
use crate::{Config, Error, Listener};

/// A bound listening socket.
pub(super) enum Acceptor {
    Tcp(TcpListener),
    Unix(UnixListener, Arc<Path>),
}

/// A listener, bound, with what its connections are carried in.
pub(super) struct Bound {
    pub(super) acceptor: Acceptor,
    pub(super) layers: Layers,
    /// Its settings, when it is a custom listener.
    pub(super) spec: Option<Listener>,
    /// For logs: `mqtt://127.0.0.1:1883`, `wss://...`, `unix:PATH`.
    pub(super) name: String,
}

impl Drop for Bound {
    /// A Unix socket's file goes with its listener.
    fn drop(&mut self) {
        if let Acceptor::Unix(_, path) = &self.acceptor {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Every listener of `config`, plain ones first.
pub(super) fn bind_all(config: &Config) -> Result<Vec<Bound>, Error> {
    let plain = Layers {
        #[cfg(feature = "tls")]
        tls: None,
        websocket: None,
    };
    let mut bound = Vec::new();
    for &addr in &config.listeners {
        let listener = TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?;
        bound.push(Bound {
            acceptor: Acceptor::Tcp(listener),
            layers: plain.clone(),
            spec: None,
            name: format!("mqtt://{addr}"),
        });
    }
    for spec in &config.custom_listeners {
        let name = spec.describe();
        let failed = |reason: String| Error::Listener {
            listener: name.clone(),
            reason,
        };
        let layers = layers(spec, config.max_packet_size).map_err(failed)?;
        let acceptor = match &spec.address {
            ListenAddress::Tcp(addr) => {
                let addr = *addr;
                Acceptor::Tcp(
                    TcpListener::bind(addr).map_err(|source| Error::Bind { addr, source })?,
                )
            }
            ListenAddress::Unix(unix) => bind_unix(unix).map_err(failed)?,
        };
        bound.push(Bound {
            acceptor,
            layers,
            spec: Some(spec.clone()),
            name,
        });
    }
    Ok(bound)
}

impl Bound {
    /// The TCP address it is bound to.
    pub(super) fn local_addr(&self) -> Option<SocketAddr> {
        match &self.acceptor {
            Acceptor::Tcp(listener) => listener.local_addr().ok(),
            Acceptor::Unix(..) => None,
        }
    }

    /// The name with the bound port (for port 0).
    pub(super) fn bound_name(&self) -> String {
        match (&self.spec, self.local_addr()) {
            (Some(spec), Some(addr)) => {
                let mut spec = spec.clone();
                spec.address = ListenAddress::Tcp(addr);
                spec.describe()
            }
            (None, Some(addr)) => format!("mqtt://{addr}"),
            _ => self.name.clone(),
        }
    }
}

/// The layers a listener's connections get; errors name the file.
pub(super) fn layers(spec: &Listener, max_packet_size: usize) -> Result<Layers, String> {
    #[cfg(feature = "tls")]
    let tls = match &spec.tls {
        Some(settings) => Some(super::transport::tls_config::server_config(settings)?),
        None => None,
    };
    #[cfg(not(feature = "tls"))]
    if spec.tls.is_some() {
        return Err("TLS needs mqlite built with the `tls` feature".to_string());
    }
    #[cfg(not(feature = "websocket"))]
    if spec.websocket {
        return Err("WebSocket needs mqlite built with the `websocket` feature".to_string());
    }
    Ok(Layers {
        #[cfg(feature = "tls")]
        tls,
        websocket: spec.websocket.then_some(max_packet_size),
    })
}

/// Binds a Unix socket: a stale socket file (nothing listening) is
/// replaced; a live one, or another kind of file, is an error.
fn bind_unix(unix: &UnixSocket) -> Result<Acceptor, String> {
    let path = &unix.path;
    let shown = path.display();
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        if !meta.file_type().is_socket() {
            return Err(format!("{shown} exists and is not a socket"));
        }
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return Err(format!("{shown} is in use by another process"));
        }
        std::fs::remove_file(path)
            .map_err(|e| format!("{shown}: cannot remove the stale socket: {e}"))?;
    }
    let listener = UnixListener::bind(path).map_err(|e| format!("{shown}: {e}"))?;
    let path: Arc<Path> = Arc::from(path.as_path());
    // From here on the file is removed if anything fails.
    let acceptor = Acceptor::Unix(listener, Arc::clone(&path));
    if let Some(mode) = unix.mode {
        if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)) {
            let _ = std::fs::remove_file(&path);
            return Err(format!("{shown}: cannot set mode {mode:o}: {e}"));
        }
    }
    if unix.owner.is_some() || unix.group.is_some() {
        if let Err(e) = chown(&path, unix.owner.as_deref(), unix.group.as_deref()) {
            let _ = std::fs::remove_file(&path);
            return Err(format!("{shown}: {e}"));
        }
    }
    Ok(acceptor)
}

/// Gives the socket file to `owner` / `group` (names or numbers).
fn chown(path: &Path, owner: Option<&str>, group: Option<&str>) -> Result<(), String> {
    let uid = match owner {
        Some(name) => Some(user_id(name).ok_or_else(|| format!("no user {name:?}"))?),
        None => None,
    };
    let gid = match group {
        Some(name) => Some(group_id(name).ok_or_else(|| format!("no group {name:?}"))?),
        None => None,
    };
    std::os::unix::fs::chown(path, uid, gid).map_err(|e| format!("cannot change owner: {e}"))
}

fn user_id(name: &str) -> Option<u32> {
    if let Ok(id) = name.parse() {
        return Some(id);
    }
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: a NUL-terminated name; the returned entry (static storage
    // owned by libc) is read at once, on this thread, before any other
    // passwd call.
    let entry = unsafe { libc::getpwnam(name.as_ptr()) };
    // SAFETY: non-null entries point to a valid passwd struct.
    (!entry.is_null()).then(|| unsafe { (*entry).pw_uid })
}

fn group_id(name: &str) -> Option<u32> {
    if let Ok(id) = name.parse() {
        return Some(id);
    }
    let name = std::ffi::CString::new(name).ok()?;
    // SAFETY: as in `user_id`, for the group database.
    let entry = unsafe { libc::getgrnam(name.as_ptr()) };
    // SAFETY: non-null entries point to a valid group struct.
    (!entry.is_null()).then(|| unsafe { (*entry).gr_gid })
}

/// A connection accepted by an [`Acceptor`].
pub(super) enum Accepted {
    Tcp(mio::net::TcpStream, SocketAddr),
    Unix(UnixStream, Arc<Path>),
}

impl Acceptor {
    /// The next pending connection.
    pub(super) fn accept(&self) -> io::Result<Accepted> {
        match self {
            Acceptor::Tcp(listener) => listener
                .accept()
                .map(|(stream, addr)| Accepted::Tcp(stream, addr)),
            Acceptor::Unix(listener, path) => listener
                .accept()
                .map(|(stream, _)| Accepted::Unix(stream, Arc::clone(path))),
        }
    }
}
