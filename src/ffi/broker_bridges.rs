//! Bridges while the broker runs: adding and removing them, and reading
//! their state, directly on the thread that runs the broker (between
//! passes) or through a handle from any other thread. Re-exported by
//! `broker.rs` and `handle.rs`.

use std::ffi::c_char;
use std::time::Duration;

use super::bridge::{checked_copy, mqlite_bridge};
use super::bridge_stats::{give_list, mqlite_bridge_stats_list};
use super::broker::{mqlite_broker, with_broker};
use super::handle::mqlite_handle;
use super::panic::{arg, boundary, c_str, out};
use super::result::{mqlite_result, Failure};

/// Writes `removed` to `removed_out` unless the caller passed NULL.
///
/// # Safety
/// `removed_out` is NULL or writable.
unsafe fn tell_removed(removed_out: *mut bool, removed: bool) -> Result<(), Failure> {
    if removed_out.is_null() {
        return Ok(());
    }
    // SAFETY: not NULL; writable by the caller's contract.
    unsafe { out(removed_out, "removed_out", removed) }
}

/// Adds a copy of `bridge` to the broker, on the thread that runs it,
/// between passes: it connects at the next pass. Its local queue is the
/// one kept in the persistence file under its name, if any (unless
/// `mqlite_bridge_set_local_clean_session()` says otherwise). From a
/// callback, or while another thread runs the broker, use
/// `mqlite_handle_add_bridge()`.
///
/// # Parameters
/// - `broker`: the broker.
/// - `bridge`: the bridge; not consumed.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`,
/// `MQLITE_INVALID_CONFIG` (a bridge without a topic, one whose name is
/// taken, or one with TLS, which bridges do not support yet; the detail
/// names the bridge and the setting, and the broker is left as it was).
///
/// # Memory and lifetimes
/// Copies the bridge: the caller keeps it and frees it with
/// `mqlite_bridge_free()`, at once if it likes.
///
/// # Safety
/// `broker` is NULL or live; `bridge` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_add_bridge(
    broker: *mut mqlite_broker,
    bridge: *const mqlite_bridge,
) -> mqlite_result {
    boundary("mqlite_broker_add_bridge", || {
        // SAFETY: NULL or live (the caller's contract).
        let bridge = unsafe { checked_copy(bridge) }?;
        // SAFETY: NULL or live.
        unsafe { with_broker(broker, |broker| Ok(broker.add_bridge(bridge)?)) }
    })
}

/// Removes the bridge `name`, on the thread that runs the broker, between
/// passes: its link closes (the upstream publishes its will: the state
/// `0`) and what it still had queued for the upstream is dropped. From a
/// callback, or while another thread runs the broker, use
/// `mqlite_handle_remove_bridge()`.
///
/// # Parameters
/// - `broker`: the broker.
/// - `name`: NUL-terminated name of the bridge.
/// - `removed_out`: receives true when there was such a bridge, false
///   when there was none; NULL when the caller does not need to know.
///
/// # Returns
/// `MQLITE_OK` (also when there was no such bridge),
/// `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `name` is copied; `*removed_out` is written only on success.
///
/// # Safety
/// `broker` is NULL or live; `name` is NULL or NUL-terminated;
/// `removed_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_remove_bridge(
    broker: *mut mqlite_broker,
    name: *const c_char,
    removed_out: *mut bool,
) -> mqlite_result {
    boundary("mqlite_broker_remove_bridge", || {
        // SAFETY: NULL or NUL-terminated.
        let name = unsafe { c_str(name, "name") }?;
        // SAFETY: NULL or live.
        let removed = unsafe { with_broker(broker, |broker| Ok(broker.remove_bridge(name))) }?;
        // SAFETY: NULL or writable.
        unsafe { tell_removed(removed_out, removed) }
    })
}

/// Every bridge's state and counters, read directly on the thread that
/// runs the broker (between passes). Other threads use
/// `mqlite_handle_bridge_stats()`.
///
/// # Parameters
/// - `broker`: the broker.
/// - `list_out`: receives a new list (empty when the broker has no
///   bridge).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// The caller owns the list and frees it with
/// `mqlite_bridge_stats_list_free()`; it is a snapshot, independent of the
/// broker. `*list_out` is written only on success.
///
/// # Safety
/// `broker` is NULL or live; `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_bridge_stats(
    broker: *const mqlite_broker,
    list_out: *mut *mut mqlite_bridge_stats_list,
) -> mqlite_result {
    boundary("mqlite_broker_bridge_stats", || {
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        // SAFETY: NULL or live.
        let stats = unsafe { with_broker(broker, |broker| Ok(broker.bridge_stats())) }?;
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, &stats) }
    })
}

/// Adds a copy of `bridge` to the broker from any thread, waiting up to
/// `timeout_ms` for the broker thread to add it and answer; it connects at
/// that pass. From one of the broker's callbacks it fails at once with
/// `MQLITE_ON_BROKER_THREAD` (the broker cannot answer while it runs the
/// callback); on the thread that runs the broker, between passes, use
/// `mqlite_broker_add_bridge()`.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `bridge`: the bridge; not consumed.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
///
/// # Returns
/// `MQLITE_OK` (added), `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_CONFIG` (a
/// bridge without a topic, one whose name is taken, or one with TLS, which
/// bridges do not support yet; the detail names the bridge and the
/// setting), `MQLITE_ON_BROKER_THREAD`, `MQLITE_STOPPED` (stopped, or no
/// answer in time: the broker may still add it at its next pass).
///
/// # Memory and lifetimes
/// Copies the bridge before the call returns: the caller keeps it and
/// frees it with `mqlite_bridge_free()`, at once if it likes.
///
/// # Safety
/// `handle` is NULL or live; `bridge` is NULL or live, and not being
/// changed by another thread.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_add_bridge(
    handle: *const mqlite_handle,
    bridge: *const mqlite_bridge,
    timeout_ms: u64,
) -> mqlite_result {
    boundary("mqlite_handle_add_bridge", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or live (the caller's contract).
        let bridge = unsafe { checked_copy(bridge) }?;
        Ok(handle
            .inner
            .add_bridge(bridge, Duration::from_millis(timeout_ms))?)
    })
}

/// Removes the bridge `name` from any thread, waiting up to `timeout_ms`
/// for the broker thread to do it and answer: its link closes (the
/// upstream publishes its will: the state `0`) and what it still had
/// queued for the upstream is dropped. From one of the broker's callbacks
/// it fails at once with `MQLITE_ON_BROKER_THREAD`; on the thread that
/// runs the broker, between passes, use `mqlite_broker_remove_bridge()`.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `name`: NUL-terminated name of the bridge.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
/// - `removed_out`: receives true when there was such a bridge, false
///   when there was none; NULL when the caller does not need to know.
///
/// # Returns
/// `MQLITE_OK` (also when there was no such bridge),
/// `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_ON_BROKER_THREAD`, `MQLITE_STOPPED` (stopped, or no answer in
/// time: the broker may still remove it at its next pass).
///
/// # Memory and lifetimes
/// `name` is copied; `*removed_out` is written only on success.
///
/// # Safety
/// `handle` is NULL or live; `name` is NULL or NUL-terminated;
/// `removed_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_remove_bridge(
    handle: *const mqlite_handle,
    name: *const c_char,
    timeout_ms: u64,
    removed_out: *mut bool,
) -> mqlite_result {
    boundary("mqlite_handle_remove_bridge", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let name = unsafe { c_str(name, "name") }?;
        let removed = handle
            .inner
            .remove_bridge(name, Duration::from_millis(timeout_ms))?;
        // SAFETY: NULL or writable.
        unsafe { tell_removed(removed_out, removed) }
    })
}

/// Every bridge's state and counters from any thread, waiting up to
/// `timeout_ms` for the broker thread to answer; one request, so the list
/// is one moment's. From one of the broker's callbacks it fails at once
/// with `MQLITE_ON_BROKER_THREAD`; on the thread that runs the broker,
/// between passes, use `mqlite_broker_bridge_stats()`.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
/// - `list_out`: receives a new list (empty when the broker has no
///   bridge).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_ON_BROKER_THREAD`,
/// `MQLITE_STOPPED` (stopped, or no answer in time).
///
/// # Memory and lifetimes
/// The caller owns the list and frees it with
/// `mqlite_bridge_stats_list_free()`; it is a snapshot, independent of the
/// broker and the handle. `*list_out` is written only on success.
///
/// # Safety
/// `handle` is NULL or live; `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_bridge_stats(
    handle: *const mqlite_handle,
    timeout_ms: u64,
    list_out: *mut *mut mqlite_bridge_stats_list,
) -> mqlite_result {
    boundary("mqlite_handle_bridge_stats", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // The arguments are checked before waiting for the broker.
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        let stats = handle
            .inner
            .bridge_stats(Duration::from_millis(timeout_ms))?;
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, &stats) }
    })
}
