//! `mqlite_config` setters for the mosquitto-compatible access files,
//! anonymous access, generated client ids and starting persistence afresh.

use std::ffi::{c_char, CStr};
use std::path::PathBuf;

use super::config::{mqlite_config, with_config};
use super::panic::c_str;
use super::result::{mqlite_result, Failure};

/// A path from a NUL-terminated C string (any bytes), or `None` for NULL.
///
/// # Safety
/// `path` is NULL or NUL-terminated.
pub(super) unsafe fn optional_path(path: *const c_char) -> Option<PathBuf> {
    if path.is_null() {
        return None;
    }
    use std::os::unix::ffi::OsStrExt;
    // SAFETY: not NULL, NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(path) }.to_bytes();
    Some(std::ffi::OsStr::from_bytes(bytes).into())
}

/// Sets a password file in `mosquitto_passwd` format (`$7$` PBKDF2-SHA512
/// or `$6$` SHA-512 hashes), or NULL for none (the default). Clients that
/// give a user name must match it. The file is read by
/// `mqlite_broker_new()`, which fails with `MQLITE_INVALID_CONFIG` naming
/// the file and line when it is unreadable or malformed. A callback set
/// with `mqlite_broker_set_auth_callback()` replaces it.
///
/// # Parameters
/// - `config`: the config.
/// - `path`: NUL-terminated file path, or NULL.
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
pub unsafe extern "C" fn mqlite_config_set_password_file(
    config: *mut mqlite_config,
    path: *const c_char,
) -> mqlite_result {
    with_config("mqlite_config_set_password_file", config, |config| {
        // SAFETY: the caller's contract on `path`.
        config.config.password_file = unsafe { optional_path(path) };
        Ok(())
    })
}

/// Sets an ACL file in mosquitto's format (`user`, `topic [read|write|
/// readwrite|deny]`, `pattern` with `%c` / `%u`), or NULL for none (the
/// default: everything allowed). With a file, anything it does not grant is
/// refused. Read by `mqlite_broker_new()` like the password file. A
/// callback set with `mqlite_broker_set_acl_callback()` replaces it.
///
/// # Parameters
/// - `config`: the config.
/// - `path`: NUL-terminated file path, or NULL.
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
pub unsafe extern "C" fn mqlite_config_set_acl_file(
    config: *mut mqlite_config,
    path: *const c_char,
) -> mqlite_result {
    with_config("mqlite_config_set_acl_file", config, |config| {
        // SAFETY: the caller's contract on `path`.
        config.config.acl_file = unsafe { optional_path(path) };
        Ok(())
    })
}

/// Sets whether clients without a user name may connect.
///
/// # Parameters
/// - `config`: the config.
/// - `allow`: 1 yes, 0 no, -1 the default (yes unless a password file is
///   set).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, or `MQLITE_INVALID_ARGUMENT` for
/// another value of `allow`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_allow_anonymous(
    config: *mut mqlite_config,
    allow: i32,
) -> mqlite_result {
    with_config("mqlite_config_set_allow_anonymous", config, |config| {
        config.config.allow_anonymous = match allow {
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
    })
}

/// Sets the prefix of the client ids given to clients that connect with an
/// empty one (default `"mqlite-"`).
///
/// # Parameters
/// - `config`: the config.
/// - `prefix`: NUL-terminated UTF-8 text.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, or `MQLITE_INVALID_UTF8`.
///
/// # Memory and lifetimes
/// `prefix` is copied; the caller keeps it.
///
/// # Safety
/// `config` is NULL or a live config; `prefix` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_auto_id_prefix(
    config: *mut mqlite_config,
    prefix: *const c_char,
) -> mqlite_result {
    with_config("mqlite_config_set_auto_id_prefix", config, |config| {
        // SAFETY: the caller's contract on `prefix`.
        let prefix = unsafe { c_str(prefix, "prefix") }?;
        config.config.auto_id_prefix = prefix.to_string();
        Ok(())
    })
}

/// Sets whether `mqlite_broker_new()` starts with an empty store, moving an
/// existing persistence file aside (to `<file>.bak-<seconds>`) instead of
/// loading it. Default false.
///
/// # Parameters
/// - `config`: the config.
/// - `reset`: the new value.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// Only the value is stored.
///
/// # Safety
/// `config` is NULL or a live config.
#[no_mangle]
pub unsafe extern "C" fn mqlite_config_set_reset_persistence(
    config: *mut mqlite_config,
    reset: bool,
) -> mqlite_result {
    with_config("mqlite_config_set_reset_persistence", config, |config| {
        config.config.reset_persistence = reset;
        Ok(())
    })
}
