//! The management API from any thread, through a handle: each call waits
//! up to `timeout_ms` for the broker thread to answer. From one of the
//! broker's callbacks they fail at once with `MQLITE_ON_BROKER_THREAD`;
//! on the thread that runs the broker, between passes, use the
//! `mqlite_broker_*()` functions of `broker_management.rs`.

use std::ffi::c_char;
use std::time::Duration;

use super::broker_management::{no_session, optional_filter, tell};
use super::handle::mqlite_handle;
use super::management_lists::{give_list, mqlite_client_list};
use super::management_retained::mqlite_retained_list;
use super::management_sessions::{mqlite_session_list, mqlite_subscription_list};
use super::panic::{arg, boundary, c_str};
use super::result::{mqlite_result, Failure};

/// `mqlite_broker_clients()` from any thread.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
/// - `list_out`: receives a new list.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_ON_BROKER_THREAD`,
/// `MQLITE_STOPPED` (stopped, or no answer in time).
///
/// # Memory and lifetimes
/// The caller owns the list and frees it with `mqlite_client_list_free()`.
/// `*list_out` is written only on success.
///
/// # Safety
/// `handle` is NULL or live; `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_clients(
    handle: *const mqlite_handle,
    timeout_ms: u64,
    list_out: *mut *mut mqlite_client_list,
) -> mqlite_result {
    boundary("mqlite_handle_clients", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        let clients = handle.inner.clients(Duration::from_millis(timeout_ms))?;
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, mqlite_client_list::new(&clients)) }
    })
}

/// `mqlite_broker_sessions()` from any thread.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
/// - `list_out`: receives a new list.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_ON_BROKER_THREAD`,
/// `MQLITE_STOPPED` (stopped, or no answer in time).
///
/// # Memory and lifetimes
/// The caller owns the list and frees it with
/// `mqlite_session_list_free()`. `*list_out` is written only on success.
///
/// # Safety
/// `handle` is NULL or live; `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_sessions(
    handle: *const mqlite_handle,
    timeout_ms: u64,
    list_out: *mut *mut mqlite_session_list,
) -> mqlite_result {
    boundary("mqlite_handle_sessions", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        let sessions = handle.inner.sessions(Duration::from_millis(timeout_ms))?;
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, mqlite_session_list::new(&sessions)) }
    })
}

/// `mqlite_broker_session_subscriptions()` from any thread.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `client_id`: NUL-terminated client id of the session.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
/// - `list_out`: receives a new list.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_NOT_FOUND` (no session of that client id),
/// `MQLITE_ON_BROKER_THREAD`, `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// `client_id` is copied. The caller owns the list and frees it with
/// `mqlite_subscription_list_free()`. `*list_out` is written only on
/// success.
///
/// # Safety
/// `handle` is NULL or live; `client_id` is NULL or NUL-terminated;
/// `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_session_subscriptions(
    handle: *const mqlite_handle,
    client_id: *const c_char,
    timeout_ms: u64,
    list_out: *mut *mut mqlite_subscription_list,
) -> mqlite_result {
    boundary("mqlite_handle_session_subscriptions", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let client_id = unsafe { c_str(client_id, "client_id") }?;
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        let subscriptions = handle
            .inner
            .session_subscriptions(client_id, Duration::from_millis(timeout_ms))?
            .ok_or_else(|| no_session(client_id))?;
        let list = mqlite_subscription_list::new(&subscriptions);
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, list) }
    })
}

/// `mqlite_broker_retained()` from any thread.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `filter`: NUL-terminated topic filter, or NULL for every retained
///   message.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
/// - `list_out`: receives a new list.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC`, `MQLITE_ON_BROKER_THREAD`, `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// `filter` is copied. The caller owns the list and frees it with
/// `mqlite_retained_list_free()`. `*list_out` is written only on success.
///
/// # Safety
/// `handle` is NULL or live; `filter` is NULL or NUL-terminated;
/// `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_retained(
    handle: *const mqlite_handle,
    filter: *const c_char,
    timeout_ms: u64,
    list_out: *mut *mut mqlite_retained_list,
) -> mqlite_result {
    boundary("mqlite_handle_retained", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let filter = unsafe { optional_filter(filter) }?;
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        let messages = handle
            .inner
            .retained_messages(filter, Duration::from_millis(timeout_ms))?;
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, mqlite_retained_list::new(messages)) }
    })
}

/// `mqlite_broker_delete_session()` from any thread, waiting up to
/// `timeout_ms` for the broker thread to do it.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `client_id`: NUL-terminated client id of the session.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
/// - `deleted_out`: receives whether there was such a session; NULL when
///   the caller does not need to know.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_ON_BROKER_THREAD`, `MQLITE_STOPPED` (stopped, or no answer in
/// time: the broker may still discard the session at its next pass).
///
/// # Memory and lifetimes
/// `client_id` is copied; `*deleted_out` is written only on success.
///
/// # Safety
/// `handle` is NULL or live; `client_id` is NULL or NUL-terminated;
/// `deleted_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_delete_session(
    handle: *const mqlite_handle,
    client_id: *const c_char,
    timeout_ms: u64,
    deleted_out: *mut bool,
) -> mqlite_result {
    boundary("mqlite_handle_delete_session", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let client_id = unsafe { c_str(client_id, "client_id") }?;
        let deleted = handle
            .inner
            .delete_session(client_id, Duration::from_millis(timeout_ms))?;
        // SAFETY: NULL or writable.
        unsafe { tell(deleted_out, deleted) }
    })
}

/// `mqlite_broker_delete_retained()` from any thread, waiting up to
/// `timeout_ms` for the broker thread to do it.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `topic`: NUL-terminated topic name.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
/// - `deleted_out`: receives whether the topic had a retained message;
///   NULL when the caller does not need to know.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_ON_BROKER_THREAD`, `MQLITE_STOPPED` (stopped, or no answer in
/// time: the broker may still clear it at its next pass).
///
/// # Memory and lifetimes
/// `topic` is copied; `*deleted_out` is written only on success.
///
/// # Safety
/// `handle` is NULL or live; `topic` is NULL or NUL-terminated;
/// `deleted_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_delete_retained(
    handle: *const mqlite_handle,
    topic: *const c_char,
    timeout_ms: u64,
    deleted_out: *mut bool,
) -> mqlite_result {
    boundary("mqlite_handle_delete_retained", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let topic = unsafe { c_str(topic, "topic") }?;
        let deleted = handle
            .inner
            .delete_retained(topic, Duration::from_millis(timeout_ms))?;
        // SAFETY: NULL or writable.
        unsafe { tell(deleted_out, deleted) }
    })
}
