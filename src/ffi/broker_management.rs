//! The management API on the thread that runs the broker, between passes:
//! snapshots of clients, sessions, a session's subscriptions and retained
//! messages, and discarding a session or a retained message. From a
//! callback, or while another thread runs the broker, use the
//! `mqlite_handle_*()` functions of `handle_management.rs`.

use std::ffi::c_char;

use super::broker::{mqlite_broker, with_broker};
use super::management_lists::{give_list, mqlite_client_list};
use super::management_retained::mqlite_retained_list;
use super::management_sessions::{mqlite_session_list, mqlite_subscription_list};
use super::panic::{boundary, c_str, out};
use super::result::{mqlite_result, Failure, MQLITE_NOT_FOUND};

/// A NUL-terminated filter, or `None` for NULL.
///
/// # Safety
/// `filter` is NULL or NUL-terminated.
pub(super) unsafe fn optional_filter<'a>(
    filter: *const c_char,
) -> Result<Option<&'a str>, Failure> {
    if filter.is_null() {
        return Ok(None);
    }
    // SAFETY: not NULL; NUL-terminated by the caller's contract.
    Ok(Some(unsafe { c_str(filter, "filter") }?))
}

/// The refusal of a client id without a session.
pub(super) fn no_session(client_id: &str) -> Failure {
    Failure::new(
        MQLITE_NOT_FOUND,
        format!("no session of client id {client_id:?}"),
    )
}

/// Writes `value` to `value_out` unless the caller passed NULL.
///
/// # Safety
/// `value_out` is NULL or writable.
pub(super) unsafe fn tell(value_out: *mut bool, value: bool) -> Result<(), Failure> {
    if value_out.is_null() {
        return Ok(());
    }
    // SAFETY: not NULL; writable by the caller's contract.
    unsafe { out(value_out, "deleted_out", value) }
}

/// The clients connected now: client id, user name, peer, protocol,
/// listener, when it connected, and its subscription, queued and in-flight
/// counts (the broker's own bridge links are not listed).
///
/// # Parameters
/// - `broker`: the broker.
/// - `list_out`: receives a new list (empty when nobody is connected).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// The caller owns the list and frees it with `mqlite_client_list_free()`;
/// it is a snapshot, independent of the broker. `*list_out` is written
/// only on success.
///
/// # Safety
/// `broker` is NULL or live; `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_clients(
    broker: *mut mqlite_broker,
    list_out: *mut *mut mqlite_client_list,
) -> mqlite_result {
    boundary("mqlite_broker_clients", || {
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        // SAFETY: NULL or live.
        let clients = unsafe { with_broker(broker, |broker| Ok(broker.clients())) }?;
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, mqlite_client_list::new(&clients)) }
    })
}

/// Every session, offline persistent ones included, with its expiry and
/// counts (bridges' own sessions are not listed).
///
/// # Parameters
/// - `broker`: the broker.
/// - `list_out`: receives a new list.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// The caller owns the list and frees it with
/// `mqlite_session_list_free()`. `*list_out` is written only on success.
///
/// # Safety
/// `broker` is NULL or live; `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_sessions(
    broker: *mut mqlite_broker,
    list_out: *mut *mut mqlite_session_list,
) -> mqlite_result {
    boundary("mqlite_broker_sessions", || {
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        // SAFETY: NULL or live.
        let sessions = unsafe { with_broker(broker, |broker| Ok(broker.sessions())) }?;
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, mqlite_session_list::new(&sessions)) }
    })
}

/// The subscriptions of a session (connected or not), sorted by filter,
/// with their QoS and MQTT 5 options.
///
/// # Parameters
/// - `broker`: the broker.
/// - `client_id`: NUL-terminated client id of the session.
/// - `list_out`: receives a new list.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_BUSY`, `MQLITE_NOT_FOUND` (no session of that client id).
///
/// # Memory and lifetimes
/// `client_id` is borrowed for the call. The caller owns the list and
/// frees it with `mqlite_subscription_list_free()`. `*list_out` is
/// written only on success.
///
/// # Safety
/// `broker` is NULL or live; `client_id` is NULL or NUL-terminated;
/// `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_session_subscriptions(
    broker: *mut mqlite_broker,
    client_id: *const c_char,
    list_out: *mut *mut mqlite_subscription_list,
) -> mqlite_result {
    boundary("mqlite_broker_session_subscriptions", || {
        // SAFETY: NULL or NUL-terminated.
        let client_id = unsafe { c_str(client_id, "client_id") }?;
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        // SAFETY: NULL or live.
        let subscriptions =
            unsafe { with_broker(broker, |broker| Ok(broker.session_subscriptions(client_id))) }?
                .ok_or_else(|| no_session(client_id))?;
        let list = mqlite_subscription_list::new(&subscriptions);
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, list) }
    })
}

/// The retained messages whose topic `filter` matches, sorted by topic.
///
/// # Parameters
/// - `broker`: the broker.
/// - `filter`: NUL-terminated topic filter, or NULL for every retained
///   message (`$SYS` ones included). A filter starting with a wildcard
///   does not match `$` topics.
/// - `list_out`: receives a new list.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC` (an invalid filter), `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `filter` is borrowed for the call. The caller owns the list and frees
/// it with `mqlite_retained_list_free()`; the messages are copies.
/// `*list_out` is written only on success.
///
/// # Safety
/// `broker` is NULL or live; `filter` is NULL or NUL-terminated;
/// `list_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_retained(
    broker: *mut mqlite_broker,
    filter: *const c_char,
    list_out: *mut *mut mqlite_retained_list,
) -> mqlite_result {
    boundary("mqlite_broker_retained", || {
        // SAFETY: NULL or NUL-terminated.
        let filter = unsafe { optional_filter(filter) }?;
        if list_out.is_null() {
            return Err(Failure::null("list_out"));
        }
        // SAFETY: NULL or live.
        let messages =
            unsafe { with_broker(broker, |broker| Ok(broker.retained_messages(filter)?)) }?;
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { give_list(list_out, mqlite_retained_list::new(messages)) }
    })
}

/// Discards a session: a connected client is disconnected as by
/// `mqlite_handle_kick()` (its will is published; an MQTT 5 client is
/// told 0x98, Administrative action), then the session, its
/// subscriptions, queue and in-flight messages go, from the persistence
/// file too.
///
/// # Parameters
/// - `broker`: the broker.
/// - `client_id`: NUL-terminated client id of the session.
/// - `deleted_out`: receives true when there was such a session, false
///   when there was none; NULL when the caller does not need to know.
///
/// # Returns
/// `MQLITE_OK` (also when there was no such session),
/// `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `client_id` is borrowed for the call; `*deleted_out` is written only
/// on success.
///
/// # Safety
/// `broker` is NULL or live; `client_id` is NULL or NUL-terminated;
/// `deleted_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_delete_session(
    broker: *mut mqlite_broker,
    client_id: *const c_char,
    deleted_out: *mut bool,
) -> mqlite_result {
    boundary("mqlite_broker_delete_session", || {
        // SAFETY: NULL or NUL-terminated.
        let client_id = unsafe { c_str(client_id, "client_id") }?;
        // SAFETY: NULL or live.
        let deleted = unsafe { with_broker(broker, |b| Ok(b.delete_session(client_id))) }?;
        // SAFETY: NULL or writable.
        unsafe { tell(deleted_out, deleted) }
    })
}

/// Clears the retained message of a topic, as an empty retained PUBLISH
/// would (from the persistence file too), without sending anything.
///
/// # Parameters
/// - `broker`: the broker.
/// - `topic`: NUL-terminated topic name.
/// - `deleted_out`: receives true when the topic had a retained message;
///   NULL when the caller does not need to know.
///
/// # Returns
/// `MQLITE_OK` (also when there was none), `MQLITE_NULL_PARAMETER`,
/// `MQLITE_INVALID_UTF8`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `topic` is borrowed for the call; `*deleted_out` is written only on
/// success.
///
/// # Safety
/// `broker` is NULL or live; `topic` is NULL or NUL-terminated;
/// `deleted_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_delete_retained(
    broker: *mut mqlite_broker,
    topic: *const c_char,
    deleted_out: *mut bool,
) -> mqlite_result {
    boundary("mqlite_broker_delete_retained", || {
        // SAFETY: NULL or NUL-terminated.
        let topic = unsafe { c_str(topic, "topic") }?;
        // SAFETY: NULL or live.
        let deleted = unsafe { with_broker(broker, |b| Ok(b.delete_retained(topic))) }?;
        // SAFETY: NULL or writable.
        unsafe { tell(deleted_out, deleted) }
    })
}
