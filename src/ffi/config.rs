//! `mqlite_config`: the broker's settings, built before `mqlite_broker_new()`.
//!
//! Setters only store; `mqlite_broker_new()` checks the whole config and
//! answers `MQLITE_INVALID_CONFIG` (the detail names the field) for a value
//! that cannot work.

use std::ffi::c_char;
use std::net::SocketAddr;
use std::time::Duration;

use super::panic::{boundary, c_str, guard};
use super::result::{mqlite_result, Failure, MQLITE_INVALID_ADDRESS};
use crate::Config;

/// The broker's settings. Opaque: create with `mqlite_config_new()`, change
/// with the `mqlite_config_set_*` functions, give to `mqlite_broker_new()`
/// (which copies it), free with `mqlite_config_free()`.
pub struct mqlite_config {
    pub(crate) config: Config,
    /// Whether a listener was added: the first one replaces the default.
    listeners_added: bool,
    /// Whether an ADVERTISE destination was added: the first one replaces
    /// the gateway's default broadcast address.
    pub(crate) mqttsn_advertise_to_added: bool,
}

impl mqlite_config {
    /// Adds a custom listener; the first listener of either kind replaces
    /// the default one.
    pub(crate) fn add_custom_listener(&mut self, listener: crate::Listener) {
        self.drop_default_listener();
        self.config.custom_listeners.push(listener);
    }

    /// Forgets the default `127.0.0.1:1883` when the first listener is
    /// added.
    fn drop_default_listener(&mut self) {
        if !self.listeners_added {
            self.config.listeners.clear();
            self.listeners_added = true;
        }
    }
}

/// Runs `body` on the config behind `config`, refusing NULL.
pub(crate) fn with_config(
    function: &'static str,
    config: *mut mqlite_config,
    body: impl FnOnce(&mut mqlite_config) -> Result<(), Failure>,
) -> mqlite_result {
    boundary(function, || {
        // SAFETY: NULL or a live config from `mqlite_config_new`, used by
        // one thread at a time (the documented contract).
        let config = unsafe { config.as_mut() }.ok_or_else(|| Failure::null("config"))?;
        body(config)
    })
}

/// Makes a config with the defaults: listener `127.0.0.1:1883`, 100 000
/// connections, 16 MiB packets, 20 in flight, 1000 queued messages and
/// 64 MiB queued bytes per client, 10 s connect timeout, 30 s auth timeout,
/// sessions kept forever, `$SYS` every 10 s, no persistence.
///
/// # Parameters
/// None.
///
/// # Returns
/// A new config, or NULL if it could not be made (out of memory).
///
/// # Memory and lifetimes
/// The caller owns it and frees it with `mqlite_config_free()`.
#[no_mangle]
pub extern "C" fn mqlite_config_new() -> *mut mqlite_config {
    guard(std::ptr::null_mut(), || {
        Box::into_raw(Box::new(mqlite_config {
            config: Config::default(),
            listeners_added: false,
            mqttsn_advertise_to_added: false,
        }))
    })
}

/// Frees a config. A broker made from it is not affected.
///
/// # Parameters
/// - `config`: from `mqlite_config_new()`, or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer must not be used (or freed) again.
///
/// # Safety
/// `config` is NULL or a config from `mqlite_config_new()` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_free(config: *mut mqlite_config) {
    guard((), || {
        if !config.is_null() {
            // SAFETY: made by `Box::into_raw` in `mqlite_config_new`, and
            // the caller gives up ownership here.
            drop(unsafe { Box::from_raw(config) });
        }
    })
}

/// Adds a TCP listener for plain MQTT with the broker-wide settings. The
/// first listener added (by this function or by
/// `mqlite_config_add_custom_listener()`) replaces the default
/// `127.0.0.1:1883`; later calls add more. Port 0 picks a free port (read
/// it back with `mqlite_broker_local_port()`).
///
/// # Parameters
/// - `config`: the config.
/// - `address`: NUL-terminated `IP:PORT`, e.g. `"127.0.0.1:1883"`,
///   `"0.0.0.0:1883"`, `"[::1]:0"`. Host names are not resolved.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ADDRESS`.
///
/// # Memory and lifetimes
/// `address` is copied; the caller keeps it.
///
/// # Safety
/// `config` is NULL or a live config; `address` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_add_listener(
    config: *mut mqlite_config,
    address: *const c_char,
) -> mqlite_result {
    with_config("mqlite_config_add_listener", config, |config| {
        // SAFETY: NULL or NUL-terminated (the caller's contract).
        let text = unsafe { c_str(address, "address") }?;
        let addr: SocketAddr = text.parse().map_err(|_| {
            Failure::new(
                MQLITE_INVALID_ADDRESS,
                format!("`{text}` is not IP:PORT (e.g. 127.0.0.1:1883 or [::1]:0)"),
            )
        })?;
        config.drop_default_listener();
        config.config.listeners.push(addr);
        Ok(())
    })
}

/// Sets the most simultaneous network connections (default 100 000; at
/// least 1). Further ones are accepted and closed at once.
///
/// # Parameters
/// - `config`: the config.
/// - `max_connections`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_max_connections(
    config: *mut mqlite_config,
    max_connections: usize,
) -> mqlite_result {
    with_config("mqlite_config_set_max_connections", config, |config| {
        config.config.max_connections = max_connections;
        Ok(())
    })
}

/// Sets the largest packet accepted, in bytes including the fixed header
/// (default 16 MiB; 2 to 268 435 460). A larger packet closes its
/// connection.
///
/// # Parameters
/// - `config`: the config.
/// - `max_packet_size`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_max_packet_size(
    config: *mut mqlite_config,
    max_packet_size: usize,
) -> mqlite_result {
    with_config("mqlite_config_set_max_packet_size", config, |config| {
        config.config.max_packet_size = max_packet_size;
        Ok(())
    })
}

/// Sets the most outbound QoS 1/2 messages awaiting acknowledgement per
/// client (default 20; at least 1); more wait in the client's queue.
///
/// # Parameters
/// - `config`: the config.
/// - `max_inflight`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_max_inflight(
    config: *mut mqlite_config,
    max_inflight: u16,
) -> mqlite_result {
    with_config("mqlite_config_set_max_inflight", config, |config| {
        config.config.max_inflight = max_inflight;
        Ok(())
    })
}

/// Sets the most QoS 1/2 messages queued per client beyond the in-flight
/// window (default 1000). When full, new messages for that client are
/// dropped and counted.
///
/// # Parameters
/// - `config`: the config.
/// - `max_queued_messages`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_max_queued_messages(
    config: *mut mqlite_config,
    max_queued_messages: usize,
) -> mqlite_result {
    with_config("mqlite_config_set_max_queued_messages", config, |config| {
        config.config.max_queued_messages = max_queued_messages;
        Ok(())
    })
}

/// Sets the most topic+payload bytes queued per client (default 64 MiB),
/// with the same policy as the message limit.
///
/// # Parameters
/// - `config`: the config.
/// - `max_queued_bytes`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_max_queued_bytes(
    config: *mut mqlite_config,
    max_queued_bytes: usize,
) -> mqlite_result {
    with_config("mqlite_config_set_max_queued_bytes", config, |config| {
        config.config.max_queued_bytes = max_queued_bytes;
        Ok(())
    })
}

/// Sets the bytes of unwritten output a connection may hold before its QoS
/// 0 messages are dropped and its QoS 1/2 ones wait in its queue (default
/// 16 MiB; at least 1024).
///
/// # Parameters
/// - `config`: the config.
/// - `max_pending_output`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_max_pending_output(
    config: *mut mqlite_config,
    max_pending_output: usize,
) -> mqlite_result {
    with_config("mqlite_config_set_max_pending_output", config, |config| {
        config.config.max_pending_output = max_pending_output;
        Ok(())
    })
}

/// Sets how long a socket may take to send a complete CONNECT, in
/// milliseconds (default 10 000; more than 0).
///
/// # Parameters
/// - `config`: the config.
/// - `timeout_ms`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_connect_timeout_ms(
    config: *mut mqlite_config,
    timeout_ms: u64,
) -> mqlite_result {
    with_config("mqlite_config_set_connect_timeout_ms", config, |config| {
        config.config.connect_timeout = Duration::from_millis(timeout_ms);
        Ok(())
    })
}

/// Sets how long a CONNECT may wait for a pending authentication decision
/// (`MQLITE_AUTH_PENDING`) before it is refused with CONNACK 0x05, in
/// milliseconds (default 30 000; more than 0).
///
/// # Parameters
/// - `config`: the config.
/// - `timeout_ms`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_auth_timeout_ms(
    config: *mut mqlite_config,
    timeout_ms: u64,
) -> mqlite_result {
    with_config("mqlite_config_set_auth_timeout_ms", config, |config| {
        config.config.auth_timeout = Duration::from_millis(timeout_ms);
        Ok(())
    })
}

/// Sets how long a disconnected persistent session (clean session 0) is
/// kept, in seconds; -1 keeps it forever (the default).
///
/// # Parameters
/// - `config`: the config.
/// - `expiry_s`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (below
/// -1).
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_session_expiry_s(
    config: *mut mqlite_config,
    expiry_s: i64,
) -> mqlite_result {
    with_config("mqlite_config_set_session_expiry_s", config, |config| {
        config.config.session_expiry = match expiry_s {
            -1 => None,
            s if s >= 0 => Some(Duration::from_secs(s as u64)),
            _ => return Err(Failure::invalid("expiry_s", "must be -1 or at least 0")),
        };
        Ok(())
    })
}

/// Sets how often `$SYS/broker/...` statistics are published, in seconds;
/// 0 turns them off (default 10).
///
/// # Parameters
/// - `config`: the config.
/// - `interval_s`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_sys_interval_s(
    config: *mut mqlite_config,
    interval_s: u64,
) -> mqlite_result {
    with_config("mqlite_config_set_sys_interval_s", config, |config| {
        config.config.sys_interval = match interval_s {
            0 => None,
            s => Some(Duration::from_secs(s)),
        };
        Ok(())
    })
}

/// Sets whether a client may connect with an empty client id and clean
/// session 1 (it is then given a generated id). Default true.
///
/// # Parameters
/// - `config`: the config.
/// - `allow`: the new value (checked by `mqlite_broker_new()`).
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored; the config stays the caller's.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_allow_zero_length_client_id(
    config: *mut mqlite_config,
    allow: bool,
) -> mqlite_result {
    with_config(
        "mqlite_config_set_allow_zero_length_client_id",
        config,
        |config| {
            config.config.allow_zero_length_client_id = allow;
            Ok(())
        },
    )
}

/// Sets the SQLite file that keeps persistent sessions and retained
/// messages across restarts, or NULL for memory only (the default).
///
/// # Parameters
/// - `config`: the config.
/// - `path`: NUL-terminated file path (any bytes the file system accepts,
///   not necessarily UTF-8), or NULL.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER` (config only).
///
/// # Memory and lifetimes
/// `path` is copied; the caller keeps it.
///
/// # Safety
/// `config` is NULL or a live config; `path` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_persistence_path(
    config: *mut mqlite_config,
    path: *const c_char,
) -> mqlite_result {
    with_config("mqlite_config_set_persistence_path", config, |config| {
        // SAFETY: the caller's contract on `path`.
        config.config.persistence = unsafe { super::config_access::optional_path(path) };
        Ok(())
    })
}
