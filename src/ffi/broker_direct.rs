//! What the thread that runs the broker does directly, without a handle:
//! publish, subscribe and unsubscribe locally, read the counters. Each has
//! an `mqlite_handle_*` counterpart for other threads and callbacks, which
//! is queued instead of done at once.

use std::ffi::c_char;

use super::broker::{mqlite_broker, with_broker};
use super::callbacks::{local_callback, mqlite_local_callback, UserData};
use super::panic::{boundary, bytes, c_str, out};
use super::properties::{mqlite_properties, optional};
use super::result::{mqlite_result, Failure, MQLITE_NOT_FOUND};
use super::stats::{write_stats, STATS_SIZE_0_1};
use super::types::{mqlite_stats, qos_from_c};
use crate::core::LocalSubscription;

/// Publishes a message as the host, at once, on the calling thread (the
/// one that runs the broker): the message callback, the retained store and
/// the fan-out to clients and local subscribers happen before this returns;
/// the bytes go out at the next pass, which this makes due at once (the
/// descriptor from `mqlite_broker_fd()` turns readable and
/// `mqlite_broker_next_deadline_ms()` gives 0). Other threads (and
/// callbacks) use `mqlite_handle_publish()`.
///
/// # Parameters
/// - `topic`: NUL-terminated topic name (no wildcards).
/// - `payload`, `payload_len`: the payload (NULL allowed when
///   `payload_len` is 0).
/// - `qos`: 0, 1 or 2. `retain`: the retain flag (an empty retained payload
///   clears the topic).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC`, `MQLITE_INVALID_ARGUMENT` (QoS), `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// Topic and payload are copied before the call returns.
///
/// # Safety
/// `broker` is NULL or live; `topic` is NULL or NUL-terminated; `payload`
/// is NULL or points to `payload_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_publish(
    broker: *mut mqlite_broker,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: u8,
    retain: bool,
) -> mqlite_result {
    boundary("mqlite_broker_publish", || {
        // SAFETY: NULL or NUL-terminated.
        let topic = unsafe { c_str(topic, "topic") }?;
        // SAFETY: NULL or `payload_len` readable bytes.
        let payload = unsafe { bytes(payload, payload_len, "payload") }?;
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        // SAFETY: NULL or live.
        unsafe {
            with_broker(broker, |broker| {
                Ok(broker.publish(topic, payload, qos, retain)?)
            })
        }
    })
}

/// `mqlite_broker_publish()` with MQTT 5 properties: MQTT 5 subscribers
/// and local subscriptions get them (read with the `mqlite_message_*()`
/// accessors), MQTT 3.1.1 subscribers get the message without them. A
/// Message Expiry Interval counts from this call.
///
/// # Parameters
/// - `broker`: the broker.
/// - `topic`: NUL-terminated topic name (no wildcards).
/// - `payload`, `payload_len`: the payload (NULL allowed when
///   `payload_len` is 0).
/// - `qos`: 0, 1 or 2. `retain`: the retain flag (a retained message keeps
///   its properties, and its expiry: it leaves the store when it expires).
/// - `properties`: from `mqlite_properties_new()`, or NULL for none (then
///   this is `mqlite_broker_publish()`).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC`, `MQLITE_INVALID_ARGUMENT` (QoS), `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// Topic, payload and properties are copied before the call returns: the
/// caller may change or free `properties` at once.
///
/// # Safety
/// `broker` is NULL or live; `topic` is NULL or NUL-terminated; `payload`
/// is NULL or points to `payload_len` readable bytes; `properties` is NULL
/// or live, and not being changed by another thread.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_publish_with(
    broker: *mut mqlite_broker,
    topic: *const c_char,
    payload: *const u8,
    payload_len: usize,
    qos: u8,
    retain: bool,
    properties: *const mqlite_properties,
) -> mqlite_result {
    boundary("mqlite_broker_publish_with", || {
        // SAFETY: NULL or NUL-terminated.
        let topic = unsafe { c_str(topic, "topic") }?;
        // SAFETY: NULL or `payload_len` readable bytes.
        let payload = unsafe { bytes(payload, payload_len, "payload") }?;
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        // SAFETY: NULL or live.
        let properties = unsafe { optional(properties) };
        // SAFETY: NULL or live.
        unsafe {
            with_broker(broker, |broker| {
                match properties {
                    Some(properties) => {
                        broker.publish_with(topic, payload, qos, retain, properties)?
                    }
                    None => broker.publish(topic, payload, qos, retain)?,
                }
                Ok(())
            })
        }
    })
}

/// Subscribes the host to `filter`, at once: `callback` runs on the broker
/// thread for each matching message (retained ones first). Like
/// `mqlite_broker_publish()`, this makes the next pass due at once.
///
/// # Parameters
/// - `filter`: NUL-terminated topic filter (wildcards allowed).
/// - `qos`: 0, 1 or 2; messages come at the lower of theirs and this.
/// - `callback`, `userdata`: the receiver.
/// - `subscription_out`: receives the id for
///   `mqlite_broker_unsubscribe_local()` / `mqlite_handle_unsubscribe_local()`;
///   NULL when the caller does not need it (the subscription then lasts as
///   long as the broker).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_UTF8`,
/// `MQLITE_INVALID_TOPIC`, `MQLITE_INVALID_ARGUMENT` (QoS), `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `filter` is copied. `userdata` must stay alive, and usable from the
/// broker thread, until the subscription ends or the broker is freed.
///
/// # Safety
/// `broker` is NULL or live; `filter` is NULL or NUL-terminated; `callback`
/// is NULL or a function of the right type; `subscription_out` is NULL or
/// writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_subscribe_local(
    broker: *mut mqlite_broker,
    filter: *const c_char,
    qos: u8,
    callback: mqlite_local_callback,
    userdata: *mut std::ffi::c_void,
    subscription_out: *mut u64,
) -> mqlite_result {
    boundary("mqlite_broker_subscribe_local", || {
        // SAFETY: NULL or NUL-terminated.
        let filter = unsafe { c_str(filter, "filter") }?;
        let qos = qos_from_c(qos).ok_or_else(|| Failure::invalid("qos", "must be 0, 1 or 2"))?;
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let receiver = local_callback(callback, UserData::new(userdata));
        // SAFETY: NULL or live.
        let subscription = unsafe {
            with_broker(broker, |broker| {
                Ok(broker.subscribe_local(filter, qos, receiver)?)
            })
        }?;
        if subscription_out.is_null() {
            return Ok(());
        }
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { out(subscription_out, "subscription_out", subscription.0) }
    })
}

/// Ends a local subscription at once.
///
/// # Parameters
/// - `broker`: the broker.
/// - `subscription`: the id from `mqlite_broker_subscribe_local()` or
///   `mqlite_handle_subscribe_local()`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (no such
/// subscription, or not yet made: one made through a handle exists from
/// the broker's next pass on), `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// Once this returns `MQLITE_OK` the callback is not called again and its
/// userdata may be freed.
///
/// # Safety
/// `broker` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_unsubscribe_local(
    broker: *mut mqlite_broker,
    subscription: u64,
) -> mqlite_result {
    boundary("mqlite_broker_unsubscribe_local", || {
        // SAFETY: NULL or live.
        let found = unsafe {
            with_broker(broker, |broker| {
                Ok(broker.unsubscribe_local(LocalSubscription(subscription)))
            })
        }?;
        if found {
            Ok(())
        } else {
            Err(Failure::new(
                MQLITE_NOT_FOUND,
                format!("no local subscription {subscription}"),
            ))
        }
    })
}

/// The broker's counters, read directly (on the thread that runs it, not
/// during a run; other threads use `mqlite_handle_stats()`).
///
/// # Parameters
/// - `broker`: the broker.
/// - `stats_out`: receives the counters.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `*stats_out` (the caller's) is written only on success: the twelve
/// counters of mqlite 0.1, never more (`mqlite_broker_stats_sized()` reads the
/// ones added since).
///
/// # Safety
/// `broker` is NULL or live; `stats_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_stats(
    broker: *const mqlite_broker,
    stats_out: *mut mqlite_stats,
) -> mqlite_result {
    boundary("mqlite_broker_stats", || {
        // SAFETY: NULL or live.
        let stats = unsafe { with_broker(broker, |broker| Ok(broker.stats())) }?;
        // SAFETY: NULL or writable as the 0.1 struct, the one this
        // function's callers have.
        unsafe { write_stats(&stats, stats_out, STATS_SIZE_0_1, "stats_out") }
    })
}
