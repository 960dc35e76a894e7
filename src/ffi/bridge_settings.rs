//! The settings of a `mqlite_bridge` beyond its addresses and topics (see
//! `bridge.rs`): the session upstream, who the bridge is there, its
//! timers, how it starts, what it announces, the protocol and TLS. Each
//! has mosquitto's default until set.

use std::ffi::c_char;
use std::time::Duration;

use super::bridge::{mqlite_bridge, with_bridge};
use super::config_access::optional_path;
use super::panic::c_str;
use super::result::{mqlite_result, Failure, MQLITE_INVALID_TOPIC, MQLITE_NULL_PARAMETER};
use crate::topic::is_valid_topic_name;
use crate::{BridgeProtocol, BridgeStart, BridgeTls};

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

/// Sets which address the bridge tries after a failed connection: the
/// next one (true), or the first one again at every reconnection (false,
/// the default: the others are only fallbacks).
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `round_robin`: the new value.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_round_robin(
    bridge: *mut mqlite_bridge,
    round_robin: bool,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_round_robin", bridge, |bridge| {
        bridge.round_robin = round_robin;
        Ok(())
    })
}

/// Sets the Clean Session flag of the upstream session (for MQTT 5, a
/// Session Expiry Interval of 0). Default false, so that the upstream
/// broker keeps what is for the bridge while the link is down.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `clean_session`: the new value.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_clean_session(
    bridge: *mut mqlite_bridge,
    clean_session: bool,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_clean_session", bridge, |bridge| {
        bridge.clean_session = clean_session;
        Ok(())
    })
}

/// Sets whether what is queued locally for the upstream is dropped when
/// the broker restarts (mosquitto's `local_cleansession`); it is kept in
/// the persistence file otherwise.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `local_clean_session`: 1 dropped, 0 kept, -1 as the clean session
///   flag (`mqlite_bridge_set_clean_session()`; the default).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (another
/// value).
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_local_clean_session(
    bridge: *mut mqlite_bridge,
    local_clean_session: i32,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_local_clean_session", bridge, |bridge| {
        bridge.local_clean_session = match local_clean_session {
            -1 => None,
            0 => Some(false),
            1 => Some(true),
            other => {
                return Err(Failure::invalid(
                    "local_clean_session",
                    format!("{other} is not -1, 0 or 1"),
                ))
            }
        };
        Ok(())
    })
}

/// Sets the client identifier the bridge uses upstream (mosquitto's
/// `remote_clientid`), or NULL for the default, `<hostname>.<name>`.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `client_id`: NUL-terminated UTF-8, 1 to 65535 bytes, or NULL.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`bridge`), `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ARGUMENT` (empty or too long).
///
/// # Memory and lifetimes
/// `client_id` is copied; the caller keeps it.
///
/// # Safety
/// `bridge` is NULL or live; `client_id` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_remote_client_id(
    bridge: *mut mqlite_bridge,
    client_id: *const c_char,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_remote_client_id", bridge, |bridge| {
        // SAFETY: the caller's contract on `client_id`.
        let id = unsafe { optional_text(client_id, "client_id") }?;
        if matches!(&id, Some(id) if id.is_empty() || id.len() > usize::from(u16::MAX)) {
            return Err(Failure::invalid("client_id", "must be 1 to 65535 bytes"));
        }
        bridge.remote_client_id = id;
        Ok(())
    })
}

/// Sets the user name and password the bridge gives upstream (mosquitto's
/// `remote_username`, `remote_password`). Default: none.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `username`: NUL-terminated UTF-8, or NULL for none.
/// - `password`: NUL-terminated UTF-8, or NULL for none; needs a user name.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`bridge`), `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_ARGUMENT` (a password without a user name). On an error
/// the bridge is left as it was.
///
/// # Memory and lifetimes
/// The strings are copied; the caller keeps them (and may wipe them at
/// once).
///
/// # Safety
/// `bridge` is NULL or live; the strings are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_remote_credentials(
    bridge: *mut mqlite_bridge,
    username: *const c_char,
    password: *const c_char,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_remote_credentials", bridge, |bridge| {
        // SAFETY: the caller's contract on the strings.
        let (username, password) = unsafe {
            (
                optional_text(username, "username")?,
                optional_text(password, "password")?,
            )
        };
        if password.is_some() && username.is_none() {
            return Err(Failure::invalid("password", "needs a username"));
        }
        bridge.remote_username = username;
        bridge.remote_password = password;
        Ok(())
    })
}

/// Sets the keep alive upstream, in seconds (mosquitto's
/// `keepalive_interval`): the bridge pings this often, and a link silent
/// for 1.5 times this is closed as dead. Default 60.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `keepalive_s`: 1 to 65535.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (0).
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_keepalive_s(
    bridge: *mut mqlite_bridge,
    keepalive_s: u16,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_keepalive_s", bridge, |bridge| {
        if keepalive_s == 0 {
            return Err(Failure::invalid("keepalive_s", "must be at least 1"));
        }
        bridge.keepalive = Duration::from_secs(u64::from(keepalive_s));
        Ok(())
    })
}

/// Sets the wait before reconnecting, in seconds (mosquitto's
/// `restart_timeout BASE [CAP]`): always `base_s`, or with a cap a backoff
/// from `base_s` up to `cap_s`, with jitter, that spreads the reconnections
/// of many bridges. Default 5 and 30.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `base_s`: at least 1.
/// - `cap_s`: from `base_s` up to 4294967295 (`UINT32_MAX`), or -1 for no
///   backoff (a constant wait of `base_s`).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (a base
/// of 0, a cap below the base, above `UINT32_MAX` or below -1).
///
/// # Memory and lifetimes
/// Only the values are stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_restart_timeout_s(
    bridge: *mut mqlite_bridge,
    base_s: u32,
    cap_s: i64,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_restart_timeout_s", bridge, |bridge| {
        if base_s == 0 {
            return Err(Failure::invalid("base_s", "must be at least 1"));
        }
        let cap = match cap_s {
            -1 => None,
            // Bounded, so that a wait added to the clock cannot overflow it.
            cap if cap >= i64::from(base_s) && cap <= i64::from(u32::MAX) => {
                Some(Duration::from_secs(cap.unsigned_abs()))
            }
            other => {
                return Err(Failure::invalid(
                    "cap_s",
                    format!("{other} is not -1 or within {base_s}..={}", u32::MAX),
                ))
            }
        };
        bridge.restart_timeout = Duration::from_secs(u64::from(base_s));
        bridge.restart_timeout_cap = cap;
        Ok(())
    })
}

/// Sets whether the bridge connects once only, not again after its link
/// ends (mosquitto's `start_type once`), or at start and again after every
/// disconnection (false, the default: `start_type automatic`).
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `once`: the new value.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_start_once(
    bridge: *mut mqlite_bridge,
    once: bool,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_start_once", bridge, |bridge| {
        bridge.start = if once {
            BridgeStart::Once
        } else {
            BridgeStart::Automatic
        };
        Ok(())
    })
}

/// Makes the bridge lazy (mosquitto's `start_type lazy`): it connects
/// only once `threshold` messages wait for the upstream, and disconnects
/// again after `idle_timeout_s` seconds without traffic and with nothing
/// waiting. `mqlite_bridge_set_start_once()` makes it automatic or once
/// again.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `threshold`: at least 1 (mosquitto's default: 10).
/// - `idle_timeout_s`: at least 1 (mosquitto's default: 60).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (a 0).
/// On an error the bridge is left as it was.
///
/// # Memory and lifetimes
/// Only the values are stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_start_lazy(
    bridge: *mut mqlite_bridge,
    threshold: u64,
    idle_timeout_s: u32,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_start_lazy", bridge, |bridge| {
        if threshold == 0 {
            return Err(Failure::invalid("threshold", "must be at least 1"));
        }
        if idle_timeout_s == 0 {
            return Err(Failure::invalid("idle_timeout_s", "must be at least 1"));
        }
        bridge.start = BridgeStart::Lazy;
        bridge.threshold = usize::try_from(threshold).unwrap_or(usize::MAX);
        bridge.idle_timeout = Duration::from_secs(u64::from(idle_timeout_s));
        Ok(())
    })
}

/// Sets whether the bridge tells the upstream broker it is a bridge
/// (mosquitto's `try_private`: the protocol level's high bit in MQTT
/// 3.1/3.1.1, No Local subscriptions in MQTT 5), so that the upstream does
/// not send back what the bridge published. An upstream that refuses the
/// bit is connected to again without it. Default true.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `try_private`: the new value.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_try_private(
    bridge: *mut mqlite_bridge,
    try_private: bool,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_try_private", bridge, |bridge| {
        bridge.try_private = try_private;
        Ok(())
    })
}

/// Sets whether the bridge publishes the link's state, retained, locally
/// and upstream (`1` up, `0` down; upstream through the bridge's will when
/// the link breaks). Default true.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `notifications`: the new value.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_notifications(
    bridge: *mut mqlite_bridge,
    notifications: bool,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_notifications", bridge, |bridge| {
        bridge.notifications = notifications;
        Ok(())
    })
}

/// Sets the topic of the state notifications, or NULL for the default,
/// `$SYS/broker/connection/<remote client id>/state`.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `topic`: NUL-terminated topic name (no wildcards), or NULL.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`bridge`), `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC`.
///
/// # Memory and lifetimes
/// `topic` is copied; the caller keeps it.
///
/// # Safety
/// `bridge` is NULL or live; `topic` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_notification_topic(
    bridge: *mut mqlite_bridge,
    topic: *const c_char,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_notification_topic", bridge, |bridge| {
        // SAFETY: the caller's contract on `topic`.
        let topic = unsafe { optional_text(topic, "topic") }?;
        if let Some(name) = &topic {
            if !is_valid_topic_name(name) {
                return Err(Failure::new(
                    MQLITE_INVALID_TOPIC,
                    format!("{name:?} is not a valid topic name"),
                ));
            }
        }
        bridge.notification_topic = topic;
        Ok(())
    })
}

/// Sets the MQTT version the bridge speaks upstream (mosquitto's
/// `bridge_protocol_version`). Default 4 (MQTT 3.1.1).
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `protocol_level`: 3 (MQTT 3.1), 4 (MQTT 3.1.1) or 5 (MQTT 5.0: the
///   upstream's Receive Maximum bounds what is in flight).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (another
/// value).
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_protocol_version(
    bridge: *mut mqlite_bridge,
    protocol_level: u8,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_protocol_version", bridge, |bridge| {
        bridge.protocol = match protocol_level {
            3 => BridgeProtocol::V31,
            4 => BridgeProtocol::V311,
            5 => BridgeProtocol::V5,
            other => {
                return Err(Failure::invalid(
                    "protocol_level",
                    format!("{other} is not 3, 4 or 5"),
                ))
            }
        };
        Ok(())
    })
}

/// Sets TLS for the bridge's connection (mosquitto's `bridge_cafile`,
/// `bridge_capath`, `bridge_certfile`, `bridge_keyfile`,
/// `bridge_insecure`), or turns it off with four NULLs (the default).
///
/// The files are read when the bridge is added (`mqlite_broker_new()`,
/// `mqlite_broker_add_bridge()`, `mqlite_handle_add_bridge()`, which
/// refuse a missing or unreadable one with `MQLITE_INVALID_CONFIG`, the
/// detail naming the bridge and the file) and again at each connection.
///
/// # Parameters
/// - `bridge`: the bridge.
/// - `cafile`: NUL-terminated path of CA certificates (PEM) the upstream's
///   certificate is verified against, or NULL.
/// - `capath`: NUL-terminated path of a directory of CA certificates, or
///   NULL. With TLS, one of `cafile` and `capath` is needed.
/// - `certfile`, `keyfile`: NUL-terminated paths of the bridge's own
///   certificate chain and private key (PEM), for an upstream that asks
///   for one; both or neither.
/// - `insecure`: skip checking that the certificate names the host
///   connected to (never in production).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`bridge`; `cafile` and `capath`
/// both NULL while `certfile` or `keyfile` is not; one of `certfile` and
/// `keyfile` NULL and the other not). On an error the bridge is left as it
/// was.
///
/// # Memory and lifetimes
/// The paths are copied; the caller keeps them.
///
/// # Safety
/// `bridge` is NULL or live; the paths are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_set_tls(
    bridge: *mut mqlite_bridge,
    cafile: *const c_char,
    capath: *const c_char,
    certfile: *const c_char,
    keyfile: *const c_char,
    insecure: bool,
) -> mqlite_result {
    with_bridge("mqlite_bridge_set_tls", bridge, |bridge| {
        // SAFETY: the caller's contract on the paths.
        let (ca_file, ca_path, cert_file, key_file) = unsafe {
            (
                optional_path(cafile),
                optional_path(capath),
                optional_path(certfile),
                optional_path(keyfile),
            )
        };
        if ca_file.is_none() && ca_path.is_none() {
            if cert_file.is_none() && key_file.is_none() {
                bridge.tls = None;
                return Ok(());
            }
            return Err(Failure::new(
                MQLITE_NULL_PARAMETER,
                "`cafile` and `capath` are both NULL: TLS needs one of them",
            ));
        }
        match (&cert_file, &key_file) {
            (Some(_), None) => return Err(Failure::null("keyfile")),
            (None, Some(_)) => return Err(Failure::null("certfile")),
            _ => {}
        }
        bridge.tls = Some(BridgeTls {
            ca_file,
            ca_path,
            cert_file,
            key_file,
            insecure,
        });
        Ok(())
    })
}
