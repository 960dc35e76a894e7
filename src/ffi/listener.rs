//! `mqlite_listener`: a listener with a transport or settings of its own
//! (TLS, MQTT over WebSocket, a Unix domain socket, per-listener limits
//! and access files), built by the host and added to a config with
//! `mqlite_config_add_custom_listener()`. See docs/LISTENERS.md.
//!
//! Like the config setters, the listener setters only store; what cannot
//! work together is refused by `mqlite_config_add_custom_listener()` (TLS
//! options without a certificate) or by `mqlite_broker_new()` (the rest,
//! checked by `Config::validate`, and the files, read when the broker
//! starts).

use std::ffi::c_char;
use std::net::SocketAddr;
use std::path::PathBuf;

use super::config::{mqlite_config, with_config};
use super::config_access::optional_path;
use super::panic::{boundary, c_str, guard, out};
use super::result::{mqlite_result, Failure, MQLITE_INVALID_ADDRESS, MQLITE_INVALID_CONFIG};
use crate::listener::{ListenAddress, TlsSettings};
use crate::Listener;

/// The oldest TLS version a listener accepts, for
/// `mqlite_listener_set_tls_min_version()`: one of the
/// `MQLITE_TLS_VERSION_*` values.
pub type mqlite_tls_version = u32;
/// TLS 1.2 and 1.3 (the default; mosquitto's `tls_version tlsv1.2`).
pub const MQLITE_TLS_VERSION_1_2: mqlite_tls_version = 12;
/// TLS 1.3 only (mosquitto's `tls_version tlsv1.3`).
pub const MQLITE_TLS_VERSION_1_3: mqlite_tls_version = 13;

/// A listener with its own transport or settings. Opaque: create it with
/// `mqlite_listener_new_tcp()` or `mqlite_listener_new_unix()`, change it
/// with the `mqlite_listener_set_*()` functions, add it to a config with
/// `mqlite_config_add_custom_listener()` (which copies it), free it with
/// `mqlite_listener_free()`. Use it from one thread at a time.
pub struct mqlite_listener {
    /// The listener, without its TLS settings (kept apart below until the
    /// listener is added, so that the TLS setters work in any order).
    pub(super) listener: Listener,
    /// The certificate chain and key of `mqlite_listener_set_tls()`.
    pub(super) tls_files: Option<(PathBuf, PathBuf)>,
    /// The other TLS settings; their certificate and key are unused.
    pub(super) tls: TlsSettings,
    /// Whether a TLS setting other than the files was changed, so that a
    /// listener with TLS options but no certificate is refused.
    pub(super) tls_options_set: bool,
}

impl mqlite_listener {
    fn new(listener: Listener) -> *mut mqlite_listener {
        Box::into_raw(Box::new(mqlite_listener {
            listener,
            tls_files: None,
            tls: TlsSettings::new("", ""),
            tls_options_set: false,
        }))
    }

    /// The `Listener` to add to a config, with its TLS settings.
    fn to_listener(&self) -> Result<Listener, Failure> {
        let mut listener = self.listener.clone();
        match &self.tls_files {
            Some((cert_file, key_file)) => {
                let mut tls = self.tls.clone();
                tls.cert_file = cert_file.clone();
                tls.key_file = key_file.clone();
                listener.tls = Some(tls);
            }
            None if self.tls_options_set => {
                return Err(Failure::new(
                    MQLITE_INVALID_CONFIG,
                    format!(
                        "listener {}: TLS options are set but no certificate \
                         (call mqlite_listener_set_tls() with a certificate and key)",
                        listener.describe()
                    ),
                ))
            }
            None => {}
        }
        Ok(listener)
    }
}

/// Runs `body` on the listener behind `listener`, refusing NULL.
pub(super) fn with_listener(
    function: &'static str,
    listener: *mut mqlite_listener,
    body: impl FnOnce(&mut mqlite_listener) -> Result<(), Failure>,
) -> mqlite_result {
    boundary(function, || {
        // SAFETY: NULL or a live listener from `mqlite_listener_new_*`,
        // used by one thread at a time (the documented contract).
        let listener = unsafe { listener.as_mut() }.ok_or_else(|| Failure::null("listener"))?;
        body(listener)
    })
}

/// Writes a new listener to `listener_out`, or refuses a NULL one (before
/// anything is made).
///
/// # Safety
/// `listener_out` is NULL or writable.
unsafe fn give(listener_out: *mut *mut mqlite_listener, listener: Listener) -> Result<(), Failure> {
    if listener_out.is_null() {
        return Err(Failure::null("listener_out"));
    }
    // SAFETY: not NULL, writable by the caller's contract.
    unsafe { out(listener_out, "listener_out", mqlite_listener::new(listener)) }
}

/// Makes a TCP listener with the broker-wide settings: plain MQTT until a
/// TLS or WebSocket setter says otherwise. Port 0 picks a free port (read
/// it back with `mqlite_broker_custom_port()`).
///
/// # Parameters
/// - `address`: NUL-terminated `IP:PORT`, e.g. `"0.0.0.0:8883"`,
///   `"127.0.0.1:0"`, `"[::1]:8080"`. Host names are not resolved.
/// - `listener_out`: receives the listener.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ADDRESS`. `*listener_out` is written only on success.
///
/// # Memory and lifetimes
/// `address` is copied; the caller keeps it. The caller owns the listener
/// and frees it with `mqlite_listener_free()`.
///
/// # Safety
/// `address` is NULL or NUL-terminated; `listener_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_new_tcp(
    address: *const c_char,
    listener_out: *mut *mut mqlite_listener,
) -> mqlite_result {
    boundary("mqlite_listener_new_tcp", || {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let text = unsafe { c_str(address, "address") }?;
        let addr: SocketAddr = text.parse().map_err(|_| {
            Failure::new(
                MQLITE_INVALID_ADDRESS,
                format!("`{text}` is not IP:PORT (e.g. 0.0.0.0:8883 or [::1]:0)"),
            )
        })?;
        // SAFETY: NULL or writable.
        unsafe { give(listener_out, Listener::tcp(addr)) }
    })
}

/// Makes a Unix domain socket listener with the broker-wide settings. The
/// socket file is created when the broker starts (a stale socket file left
/// by a crash is replaced; a socket another process listens on, or a file
/// that is not a socket, makes `mqlite_broker_new()` fail with
/// `MQLITE_LISTENER_FAILED`) and removed when the broker stops (or is
/// freed). Its clients' transport is `MQLITE_TRANSPORT_UNIX`.
///
/// # Parameters
/// - `path`: NUL-terminated path of the socket file (any bytes the file
///   system accepts; at most 107 bytes on Linux); its directory must
///   exist.
/// - `listener_out`: receives the listener.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (an
/// empty path). `*listener_out` is written only on success.
///
/// # Memory and lifetimes
/// `path` is copied; the caller keeps it. The caller owns the listener and
/// frees it with `mqlite_listener_free()`.
///
/// # Safety
/// `path` is NULL or NUL-terminated; `listener_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_new_unix(
    path: *const c_char,
    listener_out: *mut *mut mqlite_listener,
) -> mqlite_result {
    boundary("mqlite_listener_new_unix", || {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let path = unsafe { optional_path(path) }.ok_or_else(|| Failure::null("path"))?;
        if path.as_os_str().is_empty() {
            return Err(Failure::invalid("path", "is empty"));
        }
        // SAFETY: NULL or writable.
        unsafe { give(listener_out, Listener::unix(path)) }
    })
}

/// Frees a listener. A config it was added to, and a broker made from that
/// config, are not affected (they hold copies).
///
/// # Parameters
/// - `listener`: from `mqlite_listener_new_tcp()` or
///   `mqlite_listener_new_unix()`, or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer must not be used (or freed) again.
///
/// # Safety
/// `listener` is NULL or a listener not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_free(listener: *mut mqlite_listener) {
    guard((), || {
        if !listener.is_null() {
            // SAFETY: made by `Box::into_raw` in `mqlite_listener::new`,
            // and the caller gives up ownership here.
            drop(unsafe { Box::from_raw(listener) });
        }
    })
}

/// Sets whether clients speak MQTT over WebSocket (an HTTP upgrade asking
/// for the `mqtt` subprotocol, or `mqttv3.1`, on any path; then MQTT in
/// binary frames) instead of bare MQTT. With TLS this is `wss://`. Default
/// false.
///
/// # Parameters
/// - `listener`: the listener.
/// - `websocket`: the new value.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `listener` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_websocket(
    listener: *mut mqlite_listener,
    websocket: bool,
) -> mqlite_result {
    with_listener("mqlite_listener_set_websocket", listener, |listener| {
        listener.listener.websocket = websocket;
        Ok(())
    })
}

/// The Unix socket settings of a listener, or a refusal naming `what` for
/// a TCP one.
fn unix_socket<'a>(
    listener: &'a mut mqlite_listener,
    what: &str,
) -> Result<&'a mut crate::listener::UnixSocket, Failure> {
    match &mut listener.listener.address {
        ListenAddress::Unix(unix) => Ok(unix),
        ListenAddress::Tcp(addr) => Err(Failure::invalid(
            what,
            format!("only for a Unix socket listener, and this one is TCP ({addr})"),
        )),
    }
}

/// Sets the file mode of a Unix socket listener's socket file (for
/// example `0660`), or -1 for what the process's umask gives (the
/// default).
///
/// # Parameters
/// - `listener`: a listener from `mqlite_listener_new_unix()`.
/// - `mode`: 0 to 07777, or -1.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (a TCP
/// listener, or another value; the listener is left as it was).
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `listener` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_unix_mode(
    listener: *mut mqlite_listener,
    mode: i32,
) -> mqlite_result {
    with_listener("mqlite_listener_set_unix_mode", listener, |listener| {
        let mode = match mode {
            -1 => None,
            0..=0o7777 => Some(mode as u32),
            other => {
                return Err(Failure::invalid(
                    "mode",
                    format!("{other:#o} is not -1 or within 0..=07777"),
                ))
            }
        };
        unix_socket(listener, "listener")?.mode = mode;
        Ok(())
    })
}

/// Sets the user owning a Unix socket listener's socket file, by name or
/// number, or NULL for the broker's user (the default). Changing it needs
/// the privilege to; an unknown user or a refused change makes
/// `mqlite_broker_new()` fail with `MQLITE_LISTENER_FAILED`.
///
/// # Parameters
/// - `listener`: a listener from `mqlite_listener_new_unix()`.
/// - `owner`: NUL-terminated UTF-8 user name or number, or NULL.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (listener), `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ARGUMENT` (a TCP listener).
///
/// # Memory and lifetimes
/// `owner` is copied; the caller keeps it.
///
/// # Safety
/// `listener` is NULL or live; `owner` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_unix_owner(
    listener: *mut mqlite_listener,
    owner: *const c_char,
) -> mqlite_result {
    with_listener("mqlite_listener_set_unix_owner", listener, |listener| {
        // SAFETY: the caller's contract on `owner`.
        let owner = unsafe { optional_text(owner, "owner") }?;
        unix_socket(listener, "listener")?.owner = owner;
        Ok(())
    })
}

/// Sets the group owning a Unix socket listener's socket file, by name or
/// number, or NULL for the broker's group (the default). As for the owner,
/// a refused change makes `mqlite_broker_new()` fail with
/// `MQLITE_LISTENER_FAILED`.
///
/// # Parameters
/// - `listener`: a listener from `mqlite_listener_new_unix()`.
/// - `group`: NUL-terminated UTF-8 group name or number, or NULL.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (listener), `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ARGUMENT` (a TCP listener).
///
/// # Memory and lifetimes
/// `group` is copied; the caller keeps it.
///
/// # Safety
/// `listener` is NULL or live; `group` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_unix_group(
    listener: *mut mqlite_listener,
    group: *const c_char,
) -> mqlite_result {
    with_listener("mqlite_listener_set_unix_group", listener, |listener| {
        // SAFETY: the caller's contract on `group`.
        let group = unsafe { optional_text(group, "group") }?;
        unix_socket(listener, "listener")?.group = group;
        Ok(())
    })
}

/// A copied string from a NUL-terminated C string, `None` for NULL.
///
/// # Safety
/// `text` is NULL or NUL-terminated.
unsafe fn optional_text(text: *const c_char, what: &str) -> Result<Option<String>, Failure> {
    if text.is_null() {
        return Ok(None);
    }
    // SAFETY: not NULL, NUL-terminated by the caller's contract.
    Ok(Some(unsafe { c_str(text, what) }?.to_string()))
}

/// Sets the most connections on this listener at once (mosquitto's
/// per-listener `max_connections`); further ones are accepted and closed
/// at once. The broker-wide limit (`mqlite_config_set_max_connections()`)
/// still bounds them all.
///
/// # Parameters
/// - `listener`: the listener.
/// - `max_connections`: the limit, or 0 for none of its own (the default:
///   only the broker-wide limit).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `listener` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_max_connections(
    listener: *mut mqlite_listener,
    max_connections: usize,
) -> mqlite_result {
    with_listener(
        "mqlite_listener_set_max_connections",
        listener,
        |listener| {
            listener.listener.max_connections = (max_connections > 0).then_some(max_connections);
            Ok(())
        },
    )
}

/// Sets whether clients without a user name may connect on this listener
/// (mosquitto's `allow_anonymous` with `per_listener_settings true`).
///
/// # Parameters
/// - `listener`: the listener.
/// - `allow`: 1 yes, 0 no, -1 the broker-wide setting (the default; false
///   when the listener has a password file of its own).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (another
/// value of `allow`).
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `listener` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_allow_anonymous(
    listener: *mut mqlite_listener,
    allow: i32,
) -> mqlite_result {
    with_listener(
        "mqlite_listener_set_allow_anonymous",
        listener,
        |listener| {
            listener.listener.allow_anonymous = match allow {
                -1 => None,
                0 => Some(false),
                1 => Some(true),
                other => {
                    return Err(Failure::invalid(
                        "allow",
                        format!("{other} is not -1, 0 or 1"),
                    ))
                }
            };
            Ok(())
        },
    )
}

/// Sets a password file (`mosquitto_passwd` format) for this listener's
/// clients instead of the broker-wide one, or NULL for the broker-wide one
/// (the default). Read by `mqlite_broker_new()` and each reload, like the
/// broker-wide file. An authentication callback, when set, decides for
/// every listener instead.
///
/// # Parameters
/// - `listener`: the listener.
/// - `path`: NUL-terminated file path, or NULL.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER` (listener only).
///
/// # Memory and lifetimes
/// `path` is copied; the caller keeps it.
///
/// # Safety
/// `listener` is NULL or live; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_password_file(
    listener: *mut mqlite_listener,
    path: *const c_char,
) -> mqlite_result {
    with_listener("mqlite_listener_set_password_file", listener, |listener| {
        // SAFETY: the caller's contract on `path`.
        listener.listener.password_file = unsafe { optional_path(path) };
        Ok(())
    })
}

/// Sets an ACL file (mosquitto's format) for this listener's clients
/// instead of the broker-wide one, or NULL for the broker-wide one (the
/// default). Read like the password file. An ACL callback, when set,
/// decides for every listener instead.
///
/// # Parameters
/// - `listener`: the listener.
/// - `path`: NUL-terminated file path, or NULL.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER` (listener only).
///
/// # Memory and lifetimes
/// `path` is copied; the caller keeps it.
///
/// # Safety
/// `listener` is NULL or live; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_acl_file(
    listener: *mut mqlite_listener,
    path: *const c_char,
) -> mqlite_result {
    with_listener("mqlite_listener_set_acl_file", listener, |listener| {
        // SAFETY: the caller's contract on `path`.
        listener.listener.acl_file = unsafe { optional_path(path) };
        Ok(())
    })
}

/// Adds a copy of `listener` to the config's listeners. Like
/// `mqlite_config_add_listener()`, the first listener added (of either
/// kind) replaces the default `127.0.0.1:1883`.
///
/// Listeners are numbered, for `mqlite_connect_info_listener()` and
/// `mqlite_client_info_listener()`, plain ones first: those of
/// `mqlite_config_add_listener()` from 0 in the order they were added,
/// then these in the order they were added. `mqlite_broker_custom_port()`
/// numbers these from 0 among themselves.
///
/// # Parameters
/// - `config`: the config.
/// - `listener`: the listener; not consumed.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_CONFIG` (TLS
/// options set but no certificate: see `mqlite_listener_set_tls()`; the
/// config is left as it was). Other combinations that cannot work (for
/// instance `require_certificate` without CAs) are refused by
/// `mqlite_broker_new()`, and files that cannot be read there too.
///
/// # Memory and lifetimes
/// Copies the listener: the caller keeps it, may change it (later changes
/// do not reach the config) or add it again, and frees it with
/// `mqlite_listener_free()`, at once if it likes.
///
/// # Safety
/// `config` is NULL or a live config; `listener` is NULL or a live
/// listener.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_add_custom_listener(
    config: *mut mqlite_config,
    listener: *const mqlite_listener,
) -> mqlite_result {
    with_config("mqlite_config_add_custom_listener", config, |config| {
        // SAFETY: NULL or a live listener (the caller's contract).
        let listener = unsafe { listener.as_ref() }.ok_or_else(|| Failure::null("listener"))?;
        let listener = listener.to_listener()?;
        config.add_custom_listener(listener);
        Ok(())
    })
}
