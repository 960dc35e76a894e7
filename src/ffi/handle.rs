//! `mqlite_handle`: the thread-safe side of a broker. Its bridge
//! functions are in `broker_bridges.rs`, re-exported here.

use std::ffi::{c_char, c_void};
use std::time::Duration;

pub use super::broker_bridges::{
    mqlite_handle_add_bridge, mqlite_handle_bridge_stats, mqlite_handle_remove_bridge,
};
use super::callbacks::{local_callback, mqlite_local_callback, UserData};
pub use super::handle_management::{
    mqlite_handle_clients, mqlite_handle_delete_retained, mqlite_handle_delete_session,
    mqlite_handle_retained, mqlite_handle_session_subscriptions, mqlite_handle_sessions,
};
use super::panic::{arg, boundary, bytes, c_str, guard, out};
use super::properties::{mqlite_properties, optional};
use super::result::{mqlite_result, Failure};
use super::stats::{write_stats, STATS_SIZE_0_1};
use super::types::{
    auth_decision_from_c, mqlite_auth_decision, mqlite_stats, qos_from_c, MQLITE_AUTH_ACCEPT,
    MQLITE_AUTH_BAD_CREDENTIALS, MQLITE_AUTH_NOT_AUTHORIZED,
};
use crate::core::LocalSubscription;
use crate::hooks::{AuthDecision, AuthToken};
use crate::BrokerHandle;

/// A handle to a broker, safe to use from any thread (and from the
/// broker's own callbacks) at the same time. Opaque. Made by
/// `mqlite_broker_handle()` or `mqlite_handle_clone()`; each one is freed
/// once with `mqlite_handle_free()`.
///
/// Requests are queued and carried out at the broker's next pass, never
/// re-entrantly. Once the broker has stopped or been freed, calls answer
/// `MQLITE_STOPPED`.
pub struct mqlite_handle {
    pub(crate) inner: BrokerHandle,
}

/// Frees a handle. The broker is not affected.
///
/// # Parameters
/// - `handle`: from `mqlite_broker_handle()` or `mqlite_handle_clone()`,
///   or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer must not be used (or freed) again, by any
/// thread.
///
/// # Safety
/// `handle` is NULL or a handle not yet freed, and no other thread is
/// using it.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_free(handle: *mut mqlite_handle) {
    guard((), || {
        if !handle.is_null() {
            // SAFETY: made by `Box::into_raw` in `mqlite_broker_handle` or
            // `mqlite_handle_clone`, and the caller gives up ownership here.
            drop(unsafe { Box::from_raw(handle) });
        }
    })
}

/// Makes another handle to the same broker, from a handle, for another
/// thread (or another part of the host) to own.
///
/// Unlike `mqlite_broker_handle()`, which needs the broker itself and so
/// is refused with `MQLITE_BUSY` while another thread runs it, this works
/// at any time, from any thread and from the broker's callbacks: a thread
/// that only has a handle can hand a handle of its own to each thread it
/// starts. The two handles are equal and independent: either may be freed
/// first, and each reaches the broker until it stops or is freed (then both
/// answer `MQLITE_STOPPED`). Cloning the handle of a stopped or freed
/// broker succeeds and gives a handle that answers `MQLITE_STOPPED` too.
///
/// # Parameters
/// - `handle`: a live handle (from `mqlite_broker_handle()` or
///   `mqlite_handle_clone()`). Borrowed during the call only.
/// - `handle_out`: receives the new handle on success (untouched on
///   failure).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// The caller owns `*handle_out` and frees it with `mqlite_handle_free()`,
/// once, whenever it likes (before or after the broker, before or after
/// `handle`). It shares nothing with `handle` that the caller must manage;
/// the broker it reaches is still freed by `mqlite_broker_free()`.
///
/// # Safety
/// `handle` is NULL or a handle not yet freed, and no thread frees it
/// during the call (other threads may use it meanwhile); `handle_out` is
/// NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_clone(
    handle: *const mqlite_handle,
    handle_out: *mut *mut mqlite_handle,
) -> mqlite_result {
    boundary("mqlite_handle_clone", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        if handle_out.is_null() {
            return Err(Failure::null("handle_out"));
        }
        let clone = Box::into_raw(Box::new(mqlite_handle {
            inner: handle.inner.clone(),
        }));
        // SAFETY: checked not NULL; writable by the caller's contract.
        unsafe { out(handle_out, "handle_out", clone) }
    })
}

/// Publishes a message as the host, to every matching subscriber (and to
/// the retained store when `retain` is set: an empty retained payload
/// clears the topic). The message also passes the message callback.
///
/// # Parameters
/// - `topic`: NUL-terminated topic name (no wildcards).
/// - `payload`, `payload_len`: the payload (NULL allowed when
///   `payload_len` is 0).
/// - `qos`: 0, 1 or 2. `retain`: the retain flag.
///
/// # Returns
/// `MQLITE_OK` (queued); `MQLITE_NULL_PARAMETER`; `MQLITE_INVALID_UTF8`;
/// `MQLITE_INVALID_TOPIC`; `MQLITE_INVALID_ARGUMENT` (QoS);
/// `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// Topic and payload are copied before the call returns.
///
/// # Safety
/// `handle` is NULL or live; `topic` is NULL or NUL-terminated; `payload`
/// is NULL or points to `payload_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_publish(
    handle: *const mqlite_handle,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: u8,
    retain: bool,
) -> mqlite_result {
    boundary("mqlite_handle_publish", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let topic = unsafe { c_str(topic, "topic") }?;
        // SAFETY: NULL or `payload_len` readable bytes.
        let payload = unsafe { bytes(payload, payload_len, "payload") }?;
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        Ok(handle.inner.publish(topic, payload, qos, retain)?)
    })
}

/// `mqlite_handle_publish()` with MQTT 5 properties, from any thread (and
/// from callbacks): MQTT 5 subscribers and local subscriptions get them,
/// MQTT 3.1.1 subscribers get the message without them. A Message Expiry
/// Interval counts from when the broker thread takes the message (its next
/// pass).
///
/// # Parameters
/// - `handle`: the handle.
/// - `topic`: NUL-terminated topic name (no wildcards).
/// - `payload`, `payload_len`: the payload (NULL allowed when
///   `payload_len` is 0).
/// - `qos`: 0, 1 or 2. `retain`: the retain flag.
/// - `properties`: from `mqlite_properties_new()`, or NULL for none (then
///   this is `mqlite_handle_publish()`).
///
/// # Returns
/// `MQLITE_OK` (queued); `MQLITE_NULL_PARAMETER`; `MQLITE_INVALID_UTF8`;
/// `MQLITE_INVALID_TOPIC`; `MQLITE_INVALID_ARGUMENT` (QoS);
/// `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// Topic, payload and properties are copied before the call returns: the
/// caller may change or free `properties` at once.
///
/// # Safety
/// `handle` is NULL or live; `topic` is NULL or NUL-terminated; `payload`
/// is NULL or points to `payload_len` readable bytes; `properties` is NULL
/// or live, and not being changed by another thread.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_publish_with(
    handle: *const mqlite_handle,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: u8,
    retain: bool,
    properties: *const mqlite_properties,
) -> mqlite_result {
    boundary("mqlite_handle_publish_with", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let topic = unsafe { c_str(topic, "topic") }?;
        // SAFETY: NULL or `payload_len` readable bytes.
        let payload = unsafe { bytes(payload, payload_len, "payload") }?;
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        // SAFETY: NULL or live.
        match unsafe { optional(properties) } {
            Some(properties) => handle
                .inner
                .publish_with(topic, payload, qos, retain, properties)?,
            None => handle.inner.publish(topic, payload, qos, retain)?,
        }
        Ok(())
    })
}

/// Subscribes the host to `filter` from any thread: `callback` runs on the
/// broker thread for each matching message, from the broker's next pass
/// on (retained ones first).
///
/// # Parameters
/// - `filter`: NUL-terminated topic filter (wildcards allowed).
/// - `qos`: 0, 1 or 2.
/// - `callback`, `userdata`: the receiver.
/// - `subscription_out`: receives the id for
///   `mqlite_handle_unsubscribe_local()`; NULL when the caller does not
///   need it (the subscription then lasts as long as the broker).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC`, `MQLITE_INVALID_ARGUMENT` (QoS),
/// `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// `filter` is copied. `userdata` must stay alive, and usable from the
/// broker thread, until the unsubscription has been carried out (the
/// broker's next pass after `mqlite_handle_unsubscribe_local()`) or the
/// broker is freed.
///
/// # Safety
/// `handle` is NULL or live; `filter` is NULL or NUL-terminated;
/// `callback` is NULL or a function of the right type;
/// `subscription_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_subscribe_local(
    handle: *const mqlite_handle,
    filter: *const c_char,
    qos: u8,
    callback: mqlite_local_callback,
    userdata: *mut c_void,
    subscription_out: *mut u64,
) -> mqlite_result {
    boundary("mqlite_handle_subscribe_local", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let filter = unsafe { c_str(filter, "filter") }?;
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let receiver = local_callback(callback, UserData::new(userdata));
        let subscription = handle.inner.subscribe_local(filter, qos, receiver)?;
        if subscription_out.is_null() {
            return Ok(());
        }
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { out(subscription_out, "subscription_out", subscription.0) }
    })
}

/// Ends a local subscription at the broker's next pass (its callback may
/// still run until then).
///
/// # Parameters
/// - `handle`: the handle.
/// - `subscription`: the id from a `*_subscribe_local()` call.
///
/// # Returns
/// `MQLITE_OK` (queued; an unknown id is ignored), `MQLITE_NULL_PARAMETER`,
/// `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// The callback's userdata may still be used until the broker's next pass
/// has carried out the request; free it after that (or after the broker).
///
/// # Safety
/// `handle` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_unsubscribe_local(
    handle: *const mqlite_handle,
    subscription: u64,
) -> mqlite_result {
    boundary("mqlite_handle_unsubscribe_local", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        Ok(handle
            .inner
            .unsubscribe_local(LocalSubscription(subscription))?)
    })
}

/// Decides an authentication the callback left `MQLITE_AUTH_PENDING`.
/// Harmless if the client has gone or the decision timed out. The
/// decisions of MQTT 5 enhanced authentication, and refusals with a
/// chosen reason code, are given with
/// `mqlite_handle_complete_auth_with_data()`.
///
/// # Parameters
/// - `token`: the `token` of the `mqlite_connect_info`.
/// - `decision`: `MQLITE_AUTH_ACCEPT`, `MQLITE_AUTH_BAD_CREDENTIALS` or
///   `MQLITE_AUTH_NOT_AUTHORIZED`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (any
/// other decision), `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// Nothing is kept but the decision.
///
/// # Safety
/// `handle` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_complete_auth(
    handle: *const mqlite_handle,
    token: u64,
    decision: mqlite_auth_decision,
) -> mqlite_result {
    boundary("mqlite_handle_complete_auth", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        let decision = match decision {
            MQLITE_AUTH_ACCEPT => AuthDecision::Accept,
            MQLITE_AUTH_BAD_CREDENTIALS => AuthDecision::BadCredentials,
            MQLITE_AUTH_NOT_AUTHORIZED => AuthDecision::NotAuthorized,
            other => {
                return Err(Failure::invalid(
                    "decision",
                    format!("{other} is not ACCEPT, BAD_CREDENTIALS or NOT_AUTHORIZED"),
                ))
            }
        };
        Ok(handle
            .inner
            .complete_auth(AuthToken::from_u64(token), decision)?)
    })
}

/// Decides an authentication the callback left `MQLITE_AUTH_PENDING`, with
/// every decision the callback itself could give: also MQTT 5 enhanced
/// authentication's `MQLITE_AUTH_CONTINUE` (a challenge) and
/// `MQLITE_AUTH_ACCEPT_WITH_DATA`, with their data, and
/// `MQLITE_AUTH_REFUSE_REASON | code`. Harmless if the client has gone or
/// the decision timed out. Also decides a pending re-authentication (use
/// the token its callback was given).
///
/// # Parameters
/// - `handle`: the handle.
/// - `token`: the `token` of the `mqlite_connect_info`.
/// - `decision`: `MQLITE_AUTH_ACCEPT`, `_BAD_CREDENTIALS`,
///   `_NOT_AUTHORIZED`, `_CONTINUE`, `_ACCEPT_WITH_DATA`, or
///   `MQLITE_AUTH_REFUSE_REASON | code` with `code` from 0x80 to 0xFF.
/// - `data`, `data_len`: the Authentication Data sent with `_CONTINUE`
///   (the challenge) or `_ACCEPT_WITH_DATA` (at most 65535 bytes; NULL
///   allowed when `data_len` is 0); ignored for other decisions.
///
/// # Returns
/// `MQLITE_OK` (queued), `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT`
/// (`MQLITE_AUTH_PENDING`, an unknown decision, a refusal code below 0x80,
/// data over 65535 bytes), `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// The data is copied before the call returns.
///
/// # Safety
/// `handle` is NULL or live; `data` is NULL or points to `data_len`
/// readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_complete_auth_with_data(
    handle: *const mqlite_handle,
    token: u64,
    decision: mqlite_auth_decision,
    data: *const u8,
    data_len: usize,
) -> mqlite_result {
    boundary("mqlite_handle_complete_auth_with_data", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or `data_len` readable bytes.
        let data = unsafe { bytes(data, data_len, "data") }?;
        if data.len() > usize::from(u16::MAX) {
            return Err(Failure::invalid(
                "data_len",
                "authentication data is at most 65535 bytes",
            ));
        }
        let decision = auth_decision_from_c(decision, Some(data.to_vec()), false)
            .map_err(|why| Failure::invalid("decision", why))?;
        Ok(handle
            .inner
            .complete_auth(AuthToken::from_u64(token), decision)?)
    })
}

/// Closes the connection of a client (its will is published).
///
/// # Parameters
/// - `client_id`: NUL-terminated client identifier. Unknown ids are
///   ignored.
///
/// # Returns
/// `MQLITE_OK` (queued), `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_STOPPED`.
///
/// # Memory and lifetimes
/// `client_id` is copied.
///
/// # Safety
/// `handle` is NULL or live; `client_id` is NULL or NUL-terminated.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_kick(
    handle: *const mqlite_handle,
    client_id: *const c_char,
) -> mqlite_result {
    boundary("mqlite_handle_kick", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // SAFETY: NULL or NUL-terminated.
        let client_id = unsafe { c_str(client_id, "client_id") }?;
        Ok(handle.inner.kick(client_id)?)
    })
}

/// Reads the broker's counters, waiting up to `timeout_ms` for the broker
/// thread to answer. From one of the broker's callbacks (the broker thread
/// cannot answer while it runs your callback) it fails at once with
/// `MQLITE_ON_BROKER_THREAD`. On the thread that runs the broker, between
/// passes, use `mqlite_broker_stats()`: nobody would answer this call
/// before its timeout.
///
/// # Parameters
/// - `timeout_ms`: how long to wait, in milliseconds.
/// - `stats_out`: receives the counters.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_ON_BROKER_THREAD` (called
/// from a callback of this broker), `MQLITE_STOPPED` (stopped, or no
/// answer in time).
///
/// # Memory and lifetimes
/// `*stats_out` (the caller's) is written only on success: the twelve
/// counters of mqlite 0.1, never more (`mqlite_handle_stats_sized()` reads the
/// ones added since).
///
/// # Safety
/// `handle` is NULL or live; `stats_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_stats(
    handle: *const mqlite_handle,
    timeout_ms: u64,
    stats_out: *mut mqlite_stats,
) -> mqlite_result {
    boundary("mqlite_handle_stats", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        if stats_out.is_null() {
            return Err(Failure::null("stats_out"));
        }
        let stats = handle.inner.stats(Duration::from_millis(timeout_ms))?;
        // SAFETY: checked not NULL; writable as the 0.1 struct, the one
        // this function's callers have.
        unsafe { write_stats(&stats, stats_out, STATS_SIZE_0_1, "stats_out") }
    })
}

/// Reads the password file, the ACL file (broker-wide and per-listener)
/// and every TLS listener's certificate, key and CAs again (what SIGHUP
/// does to mosquitto), waiting up to `timeout_ms` for the broker thread to
/// do it and answer. New connections use them; connected clients keep what
/// they connected with, except that a client the password file let in is
/// checked again against the new file and disconnected (as by a kick) if
/// it no longer passes, as in mosquitto 2.0; callbacks the host set stay in place. If any file
/// cannot be read or parsed nothing changes. From one of the broker's
/// callbacks it fails at once with `MQLITE_ON_BROKER_THREAD` (the broker
/// cannot answer while it runs the callback); on the thread that runs the
/// broker, between passes, use `mqlite_broker_reload()`.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `timeout_ms`: how long to wait for the answer, in milliseconds.
///
/// # Returns
/// `MQLITE_OK` (reloaded), `MQLITE_NULL_PARAMETER`,
/// `MQLITE_INVALID_CONFIG` (a password or ACL file; the detail names the
/// file and line), `MQLITE_LISTENER_FAILED` (a certificate or key; the
/// detail names the listener and the file), `MQLITE_ON_BROKER_THREAD`
/// (called from a callback of this broker), `MQLITE_STOPPED` (stopped, or
/// no answer in time: the broker may still reload at its next pass).
///
/// # Memory and lifetimes
/// Nothing is kept.
///
/// # Safety
/// `handle` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_reload(
    handle: *const mqlite_handle,
    timeout_ms: u64,
) -> mqlite_result {
    boundary("mqlite_handle_reload", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        Ok(handle.inner.reload(Duration::from_millis(timeout_ms))?)
    })
}

/// Asks the broker to stop: it stops accepting, closes every client,
/// flushes, and `mqlite_broker_run()` returns (`mqlite_broker_run_once()`
/// reports it is no longer running). Harmless once stopped.
///
/// # Parameters
/// - `handle`: a handle of the broker.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// The handle stays valid (free it with `mqlite_handle_free()`); the broker
/// is freed by `mqlite_broker_free()` once its run has returned.
///
/// # Safety
/// `handle` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_stop(handle: *const mqlite_handle) -> mqlite_result {
    boundary("mqlite_handle_stop", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        handle.inner.stop();
        Ok(())
    })
}

/// Whether the broker has stopped.
///
/// # Parameters
/// - `handle`: a handle, or NULL.
///
/// # Returns
/// true once the broker has stopped, and for a NULL handle. (A broker freed
/// without a stop may still read as not stopped; calls through the handle
/// then answer `MQLITE_STOPPED`.)
///
/// # Memory and lifetimes
/// Nothing is kept.
///
/// # Safety
/// `handle` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_is_stopped(handle: *const mqlite_handle) -> bool {
    guard(true, || {
        // SAFETY: NULL or live.
        match unsafe { handle.as_ref() } {
            Some(handle) => handle.inner.is_stopped(),
            None => true,
        }
    })
}
