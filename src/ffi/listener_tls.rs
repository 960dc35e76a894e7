//! The TLS settings of a listener in the C API: certificate and key,
//! client-certificate verification, identities as user names, the oldest
//! TLS version (see `listener.rs` for the listener itself).

use std::ffi::c_char;

use super::config_access::optional_path;
use super::listener::{
    mqlite_listener, mqlite_tls_version, with_listener, MQLITE_TLS_VERSION_1_2,
    MQLITE_TLS_VERSION_1_3,
};
use super::result::{mqlite_result, Failure};
use crate::listener::TlsVersion;

/// Turns TLS on for this listener (every client must speak TLS; over
/// WebSocket that is `wss://`), with the server's certificate chain and
/// private key, or off again. The files are read by `mqlite_broker_new()`
/// and again by each reload (`mqlite_broker_reload()`,
/// `mqlite_handle_reload()`), so a renewed certificate takes effect for
/// new connections without a restart; an unreadable or encrypted key, or
/// a key that is not the certificate's, fails with
/// `MQLITE_LISTENER_FAILED` naming the file.
///
/// # Parameters
/// - `listener`: the listener.
/// - `cert_file`: NUL-terminated path of the certificate chain (PEM, the
///   server's own certificate first), or NULL together with `key_file` to
///   turn TLS off (the default).
/// - `key_file`: NUL-terminated path of the private key (PEM: PKCS#8,
///   PKCS#1 or SEC1; not encrypted), or NULL with `cert_file`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`listener`, or one file NULL and
/// the other not).
///
/// # Memory and lifetimes
/// The paths are copied; the caller keeps them.
///
/// # Safety
/// `listener` is NULL or live; the paths are NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_tls(
    listener: *mut mqlite_listener,
    cert_file: *const c_char,
    key_file: *const c_char,
) -> mqlite_result {
    with_listener("mqlite_listener_set_tls", listener, |listener| {
        // SAFETY: the caller's contract on the paths.
        let (cert, key) = unsafe { (optional_path(cert_file), optional_path(key_file)) };
        listener.tls_files = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            (None, Some(_)) => return Err(Failure::null("cert_file")),
            (Some(_), None) => return Err(Failure::null("key_file")),
        };
        Ok(())
    })
}

/// Sets a file of CA certificates (PEM) that client certificates are
/// verified against (mosquitto's `cafile`), or NULL for none (the
/// default). With CAs a client certificate is verified when one is given,
/// and required with `mqlite_listener_set_tls_require_certificate()`. A
/// TLS option: the listener also needs `mqlite_listener_set_tls()`.
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
pub unsafe extern "C" fn mqlite_listener_set_tls_ca_file(
    listener: *mut mqlite_listener,
    path: *const c_char,
) -> mqlite_result {
    with_listener("mqlite_listener_set_tls_ca_file", listener, |listener| {
        // SAFETY: the caller's contract on `path`.
        listener.tls.ca_file = unsafe { optional_path(path) };
        listener.tls_options_set = true;
        Ok(())
    })
}

/// Sets a directory of CA certificates (PEM files), used like the CA file
/// (mosquitto's `capath`), or NULL for none (the default). A TLS option.
///
/// # Parameters
/// - `listener`: the listener.
/// - `path`: NUL-terminated directory path, or NULL.
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
pub unsafe extern "C" fn mqlite_listener_set_tls_ca_path(
    listener: *mut mqlite_listener,
    path: *const c_char,
) -> mqlite_result {
    with_listener("mqlite_listener_set_tls_ca_path", listener, |listener| {
        // SAFETY: the caller's contract on `path`.
        listener.tls.ca_path = unsafe { optional_path(path) };
        listener.tls_options_set = true;
        Ok(())
    })
}

/// Sets whether every client must present a certificate signed by a CA of
/// the CA file or path (mosquitto's `require_certificate`); without one
/// the handshake fails. Needs a CA file or path (`mqlite_broker_new()`
/// refuses it otherwise with `MQLITE_INVALID_CONFIG`). Default false. A
/// TLS option.
///
/// # Parameters
/// - `listener`: the listener.
/// - `require`: the new value.
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
pub unsafe extern "C" fn mqlite_listener_set_tls_require_certificate(
    listener: *mut mqlite_listener,
    require: bool,
) -> mqlite_result {
    with_listener(
        "mqlite_listener_set_tls_require_certificate",
        listener,
        |listener| {
            listener.tls.require_certificate = require;
            listener.tls_options_set = true;
            Ok(())
        },
    )
}

/// Sets whether the client certificate's Common Name is the client's user
/// name (mosquitto's `use_identity_as_username`): the user name and
/// password of CONNECT are then ignored and no password file is asked (the
/// certificate authenticated the client); the ACL applies to that name. A
/// certificate without a Common Name is refused (CONNACK 0x05 / 0x87).
/// Needs `require_certificate`, and excludes `use_subject_as_username`
/// (`mqlite_broker_new()` answers `MQLITE_INVALID_CONFIG`). Default false.
/// A TLS option.
///
/// # Parameters
/// - `listener`: the listener.
/// - `enable`: the new value.
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
pub unsafe extern "C" fn mqlite_listener_set_tls_use_identity_as_username(
    listener: *mut mqlite_listener,
    enable: bool,
) -> mqlite_result {
    with_listener(
        "mqlite_listener_set_tls_use_identity_as_username",
        listener,
        |listener| {
            listener.tls.use_identity_as_username = enable;
            listener.tls_options_set = true;
            Ok(())
        },
    )
}

/// Like `mqlite_listener_set_tls_use_identity_as_username()`, with the
/// certificate's whole subject (RFC 4514, e.g. `CN=dev1,O=Acme`) as the
/// user name (mosquitto's `use_subject_as_username`). Default false. A TLS
/// option.
///
/// # Parameters
/// - `listener`: the listener.
/// - `enable`: the new value.
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
pub unsafe extern "C" fn mqlite_listener_set_tls_use_subject_as_username(
    listener: *mut mqlite_listener,
    enable: bool,
) -> mqlite_result {
    with_listener(
        "mqlite_listener_set_tls_use_subject_as_username",
        listener,
        |listener| {
            listener.tls.use_subject_as_username = enable;
            listener.tls_options_set = true;
            Ok(())
        },
    )
}

/// Sets the oldest TLS version the listener accepts (mosquitto's
/// `tls_version`). Default `MQLITE_TLS_VERSION_1_2`. A TLS option.
///
/// # Parameters
/// - `listener`: the listener.
/// - `version`: `MQLITE_TLS_VERSION_1_2` or `MQLITE_TLS_VERSION_1_3`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT`
/// (another value; the listener is left as it was).
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `listener` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_listener_set_tls_min_version(
    listener: *mut mqlite_listener,
    version: mqlite_tls_version,
) -> mqlite_result {
    with_listener(
        "mqlite_listener_set_tls_min_version",
        listener,
        |listener| {
            listener.tls.min_version = match version {
                MQLITE_TLS_VERSION_1_2 => TlsVersion::Tls12,
                MQLITE_TLS_VERSION_1_3 => TlsVersion::Tls13,
                other => {
                    return Err(Failure::invalid(
                        "version",
                        format!("{other} is not MQLITE_TLS_VERSION_1_2 (12) or _1_3 (13)"),
                    ))
                }
            };
            listener.tls_options_set = true;
            Ok(())
        },
    )
}
