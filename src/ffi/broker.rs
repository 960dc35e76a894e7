//! `mqlite_broker`: the broker, used from the thread that runs it.
//!
//! The Rust `Broker` needs `&mut` for everything, and a C host could call in
//! from a callback while `run` holds it, or from two threads at once. So
//! the wrapper keeps the broker in an `UnsafeCell` behind a claim flag:
//! every function claims it first and answers `MQLITE_BUSY` if it is taken,
//! so no two `&mut Broker` ever exist at once.

use std::cell::UnsafeCell;
use std::ffi::c_char;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::callbacks::{
    acl_hook, auth_hook, event_hook, local_callback, message_hook, mqlite_acl_callback,
    mqlite_auth_callback, mqlite_event_callback, mqlite_local_callback, mqlite_message_callback,
    UserData,
};
use super::config::mqlite_config;
use super::handle::mqlite_handle;
use super::panic::{arg, boundary, bytes, c_str, guard, out};
use super::result::{mqlite_result, Failure, MQLITE_NOT_FOUND};
use super::types::{mqlite_stats, qos_from_c};
use crate::core::LocalSubscription;
use crate::Broker;

/// A broker: its listeners are bound from `mqlite_broker_new()` on, and it
/// serves while `mqlite_broker_run()` (or `mqlite_broker_run_once()`) runs.
/// Opaque.
///
/// Use it from one thread at a time: the one that runs it. Other threads,
/// and callbacks, use a `mqlite_handle` (`mqlite_broker_handle()`). A call
/// made while the broker is in use (from one of its own callbacks, or
/// while another thread runs it) is refused with `MQLITE_BUSY`.
pub struct mqlite_broker {
    claimed: AtomicBool,
    inner: UnsafeCell<Broker>,
}

/// Releases the claim when dropped (also on a panic).
struct Claim<'a>(&'a AtomicBool);

impl Drop for Claim<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

/// Claims the broker behind `broker` and runs `body` with it.
///
/// # Safety
/// `broker` is NULL or a live broker from `mqlite_broker_new`.
unsafe fn with_broker<T>(
    broker: *const mqlite_broker,
    body: impl FnOnce(&mut Broker) -> Result<T, Failure>,
) -> Result<T, Failure> {
    // SAFETY: NULL or live (the caller's contract). Only a shared
    // reference is made: the flag is atomic and the broker sits in an
    // UnsafeCell, so this may coexist with the `&mut Broker` of a run.
    let wrapper = unsafe { arg(broker, "broker") }?;
    if wrapper
        .claimed
        .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return Err(Failure::busy());
    }
    let _claim = Claim(&wrapper.claimed);
    // SAFETY: the claim is ours until `_claim` drops, so this is the only
    // reference to the broker.
    let inner = unsafe { &mut *wrapper.inner.get() };
    body(inner)
}

/// Makes a broker from `config` and binds its listeners.
///
/// # Parameters
/// - `config`: the settings. Borrowed, not consumed: the broker copies
///   what it needs, and the caller still frees the config (at once if it
///   likes).
/// - `broker_out`: receives the broker on success.
///
/// # Returns
/// `MQLITE_OK`; `MQLITE_NULL_PARAMETER`; `MQLITE_INVALID_CONFIG` (the
/// detail from `mqlite_last_error_text()` names the field);
/// `MQLITE_BIND_FAILED`; `MQLITE_PERSISTENCE`; `MQLITE_IO`.
/// `*broker_out` is written only on success.
///
/// # Memory and lifetimes
/// The caller owns the broker and frees it with `mqlite_broker_free()`.
///
/// # Safety
/// `config` is NULL or a live config; `broker_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_new(
    config: *const mqlite_config,
    broker_out: *mut *mut mqlite_broker,
) -> mqlite_result {
    boundary("mqlite_broker_new", || {
        // SAFETY: NULL or a live config.
        let config = unsafe { arg(config, "config") }?;
        if broker_out.is_null() {
            return Err(Failure::null("broker_out"));
        }
        let broker = Broker::new(config.config.clone())?;
        let wrapper = Box::into_raw(Box::new(mqlite_broker {
            claimed: AtomicBool::new(false),
            inner: UnsafeCell::new(broker),
        }));
        // SAFETY: checked not NULL above; writable by the caller's contract.
        unsafe { out(broker_out, "broker_out", wrapper) }
    })
}

/// Frees a broker: closes its listeners and connections (without the
/// orderly stop of `mqlite_handle_stop()`, which flushes and sends the
/// clients on their way first) and every callback's hold on its userdata.
/// Handles stay valid and answer `MQLITE_STOPPED`.
///
/// # Parameters
/// - `broker`: from `mqlite_broker_new()`, or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer must not be used or freed again (there is
/// no pointer-nulling variant; a double free is the host's error, as with
/// `free(3)`). A broker still in use - freed from one of its own callbacks,
/// or while another thread runs it - is NOT freed: the call logs an error
/// and returns, and the host frees it once the run has returned.
///
/// # Safety
/// `broker` is NULL or a broker from `mqlite_broker_new()` not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_free(broker: *mut mqlite_broker) {
    guard((), || {
        if broker.is_null() {
            return;
        }
        // SAFETY: live by the caller's contract; shared reference only, as
        // a run may hold the claim.
        let wrapper = unsafe { &*broker };
        if wrapper
            .claimed
            .compare_exchange(false, true, Ordering::Acquire, Ordering::Relaxed)
            .is_err()
        {
            ::log::error!(
                "mqlite_broker_free: the broker is in use (freed from its own callback or \
                 while another thread runs it); not freed"
            );
            return;
        }
        // SAFETY: made by `Box::into_raw` in `mqlite_broker_new`, claimed
        // (so no run or call is using it), and the caller gives up
        // ownership here.
        drop(unsafe { Box::from_raw(broker) });
    })
}

/// The port a listener is bound to (useful after asking for port 0).
///
/// # Parameters
/// - `broker`: the broker.
/// - `index`: the listener, in the order they were added (0 for the first).
/// - `port_out`: receives the port.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (no such
/// listener), `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `*port_out` is written only on success.
///
/// # Safety
/// `broker` is NULL or live; `port_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_local_port(
    broker: *const mqlite_broker,
    index: usize,
    port_out: *mut u16,
) -> mqlite_result {
    boundary("mqlite_broker_local_port", || {
        // SAFETY: NULL or live.
        let addrs = unsafe { with_broker(broker, |broker| Ok(broker.local_addrs())) }?;
        let addr = addrs.get(index).ok_or_else(|| {
            Failure::new(
                MQLITE_NOT_FOUND,
                format!("no listener {index} (there are {})", addrs.len()),
            )
        })?;
        // SAFETY: NULL or writable.
        unsafe { out(port_out, "port_out", addr.port()) }
    })
}

/// Serves until the broker is stopped with `mqlite_handle_stop()` (from a
/// callback or another thread). Callbacks run inside this call, on this
/// thread.
///
/// # Parameters
/// - `broker`: the broker.
///
/// # Returns
/// `MQLITE_OK` once stopped (at once if it already was);
/// `MQLITE_NULL_PARAMETER`; `MQLITE_BUSY` (already running); `MQLITE_IO`.
///
/// # Memory and lifetimes
/// The broker stays the caller's; free it after this returns, never from a
/// callback. Callbacks' views are valid only during each callback.
///
/// # Safety
/// `broker` is NULL or live.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_run(broker: *mut mqlite_broker) -> mqlite_result {
    boundary("mqlite_broker_run", || {
        // SAFETY: NULL or live.
        unsafe { with_broker(broker, |broker| Ok(broker.run()?)) }
    })
}

/// Does one pass for a host with its own event loop: waits up to
/// `timeout_ms` for sockets, handle requests or timers, handles what is
/// ready, and returns. Wait on `mqlite_broker_fd()` and
/// `mqlite_broker_next_deadline_ms()` in between, then call it with 0.
///
/// # Parameters
/// - `broker`: the broker.
/// - `timeout_ms`: 0 to not wait, a positive number of milliseconds, or -1
///   to wait until something happens. The broker's own timers shorten it.
/// - `still_running_out`: receives false once the broker has stopped.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (below
/// -1), `MQLITE_BUSY`, `MQLITE_IO`.
///
/// # Memory and lifetimes
/// `*still_running_out` is written only on success. Callbacks' views are
/// valid only during each callback.
///
/// # Safety
/// `broker` is NULL or live; `still_running_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_run_once(
    broker: *mut mqlite_broker,
    timeout_ms: i64,
    still_running_out: *mut bool,
) -> mqlite_result {
    boundary("mqlite_broker_run_once", || {
        let timeout = match timeout_ms {
            -1 => None,
            ms if ms >= 0 => Some(Duration::from_millis(ms as u64)),
            _ => return Err(Failure::invalid("timeout_ms", "must be -1 or at least 0")),
        };
        if still_running_out.is_null() {
            return Err(Failure::null("still_running_out"));
        }
        // SAFETY: NULL or live.
        let running = unsafe { with_broker(broker, |broker| Ok(broker.run_once(timeout)?)) }?;
        // SAFETY: checked not NULL; writable by the caller's contract.
        unsafe { out(still_running_out, "still_running_out", running) }
    })
}

/// The file descriptor of the broker's poll, for a host event loop: it is
/// readable when a pass has work. Wait on it with `poll(2)`, `select(2)` or
/// `epoll` beside your own descriptors, and call
/// `mqlite_broker_run_once(broker, 0, ...)` when it is readable or the
/// deadline from `mqlite_broker_next_deadline_ms()` has passed.
///
/// # Parameters
/// - `broker`: the broker.
/// - `fd_out`: receives the descriptor.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// The broker owns the descriptor: do not read, close or change it; it is
/// valid until `mqlite_broker_free()`.
///
/// # Safety
/// `broker` is NULL or live; `fd_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_fd(
    broker: *const mqlite_broker,
    fd_out: *mut std::ffi::c_int,
) -> mqlite_result {
    boundary("mqlite_broker_fd", || {
        // SAFETY: NULL or live.
        let fd = unsafe { with_broker(broker, |broker| Ok(broker.raw_fd())) }?;
        // SAFETY: NULL or writable.
        unsafe { out(fd_out, "fd_out", fd) }
    })
}

/// How long until the broker needs a pass even if its descriptor stays
/// quiet (keepalives, timeouts, backlog).
///
/// # Parameters
/// - `ms_out`: receives milliseconds from now (rounded up; 0 if due now),
///   or -1 when there is no timer.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// `*ms_out` is written only on success.
///
/// # Safety
/// `broker` is NULL or live; `ms_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_next_deadline_ms(
    broker: *const mqlite_broker,
    ms_out: *mut i64,
) -> mqlite_result {
    boundary("mqlite_broker_next_deadline_ms", || {
        // SAFETY: NULL or live.
        let deadline = unsafe { with_broker(broker, |broker| Ok(broker.next_deadline())) }?;
        let ms = match deadline {
            None => -1,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Round up, so a host that sleeps this long finds it due.
                let ms = left.as_nanos().div_ceil(1_000_000);
                i64::try_from(ms).unwrap_or(i64::MAX)
            }
        };
        // SAFETY: NULL or writable.
        unsafe { out(ms_out, "ms_out", ms) }
    })
}

/// Makes a handle: the thread-safe way to publish, stop, kick, query and
/// subscribe from other threads and from callbacks.
///
/// # Parameters
/// - `handle_out`: receives the handle.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// The caller owns the handle and frees it with `mqlite_handle_free()`. It
/// may outlive the broker (it then answers `MQLITE_STOPPED`). Make as many
/// as you like.
///
/// # Safety
/// `broker` is NULL or live; `handle_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_handle(
    broker: *const mqlite_broker,
    handle_out: *mut *mut mqlite_handle,
) -> mqlite_result {
    boundary("mqlite_broker_handle", || {
        if handle_out.is_null() {
            return Err(Failure::null("handle_out"));
        }
        // SAFETY: NULL or live.
        let handle = unsafe { with_broker(broker, |broker| Ok(broker.handle())) }?;
        let handle = Box::into_raw(Box::new(mqlite_handle { inner: handle }));
        // SAFETY: checked not NULL; writable by the caller's contract.
        unsafe { out(handle_out, "handle_out", handle) }
    })
}

/// Sets the authentication callback, called on the broker thread for every
/// CONNECT (after the protocol checks, before the session is touched).
/// Without one, every client is accepted. Replaces an earlier one.
///
/// # Parameters
/// - `callback`: the callback (not NULL).
/// - `userdata`: passed back to every call.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY` (set it before
/// running, or between `mqlite_broker_run_once()` calls).
///
/// # Memory and lifetimes
/// `userdata` is not owned or freed by mqlite: keep it alive, and usable
/// from the broker thread, until the broker is freed or the callback
/// replaced.
///
/// # Safety
/// `broker` is NULL or live; `callback` is NULL or a function of the right
/// type.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_set_auth_callback(
    broker: *mut mqlite_broker,
    callback: mqlite_auth_callback,
    userdata: *mut std::ffi::c_void,
) -> mqlite_result {
    boundary("mqlite_broker_set_auth_callback", || {
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let hook = auth_hook(callback, UserData::new(userdata));
        // SAFETY: NULL or live.
        unsafe {
            with_broker(broker, |broker| {
                broker.set_auth_hook(hook);
                Ok(())
            })
        }
    })
}

/// Sets the ACL callback, called on the broker thread for each PUBLISH a
/// client sends, each filter it subscribes to, and each message about to be
/// delivered to it. Without one, everything is allowed. Replaces an earlier
/// one.
///
/// # Parameters
/// - `broker`: the broker.
/// - `callback`: the callback (not NULL).
/// - `userdata`: passed back to every call.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// As for `mqlite_broker_set_auth_callback()`.
///
/// # Safety
/// `broker` is NULL or live; `callback` is NULL or a function of the right
/// type.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_set_acl_callback(
    broker: *mut mqlite_broker,
    callback: mqlite_acl_callback,
    userdata: *mut std::ffi::c_void,
) -> mqlite_result {
    boundary("mqlite_broker_set_acl_callback", || {
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let hook = acl_hook(callback, UserData::new(userdata));
        // SAFETY: NULL or live.
        unsafe {
            with_broker(broker, |broker| {
                broker.set_acl_hook(hook);
                Ok(())
            })
        }
    })
}

/// Sets the message callback, called on the broker thread for every
/// accepted PUBLISH (clients, wills, the host) before the retained store
/// and the fan-out: it may pass, drop or rewrite the message. Replaces an
/// earlier one.
///
/// # Parameters
/// - `broker`: the broker.
/// - `callback`: the callback (not NULL).
/// - `userdata`: passed back to every call.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// As for `mqlite_broker_set_auth_callback()`.
///
/// # Safety
/// `broker` is NULL or live; `callback` is NULL or a function of the right
/// type.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_set_message_callback(
    broker: *mut mqlite_broker,
    callback: mqlite_message_callback,
    userdata: *mut std::ffi::c_void,
) -> mqlite_result {
    boundary("mqlite_broker_set_message_callback", || {
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let hook = message_hook(callback, UserData::new(userdata));
        // SAFETY: NULL or live.
        unsafe {
            with_broker(broker, |broker| {
                broker.set_message_hook(hook);
                Ok(())
            })
        }
    })
}

/// Sets the event callback, called on the broker thread when a client
/// connects, disconnects, subscribes or unsubscribes. Replaces an earlier
/// one.
///
/// # Parameters
/// - `broker`: the broker.
/// - `callback`: the callback (not NULL).
/// - `userdata`: passed back to every call.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// As for `mqlite_broker_set_auth_callback()`.
///
/// # Safety
/// `broker` is NULL or live; `callback` is NULL or a function of the right
/// type.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_set_event_callback(
    broker: *mut mqlite_broker,
    callback: mqlite_event_callback,
    userdata: *mut std::ffi::c_void,
) -> mqlite_result {
    boundary("mqlite_broker_set_event_callback", || {
        let callback = callback.ok_or_else(|| Failure::null("callback"))?;
        let hook = event_hook(callback, UserData::new(userdata));
        // SAFETY: NULL or live.
        unsafe {
            with_broker(broker, |broker| {
                broker.set_event_hook(hook);
                Ok(())
            })
        }
    })
}

/// Publishes a message as the host, at once, on the calling thread (the
/// one that runs the broker): the message callback, the retained store and
/// the fan-out to clients and local subscribers happen before this returns;
/// the bytes go out at the next pass. Other threads (and callbacks) use
/// `mqlite_handle_publish()`.
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

/// Subscribes the host to `filter`, at once: `callback` runs on the broker
/// thread for each matching message (retained ones first).
///
/// # Parameters
/// - `filter`: NUL-terminated topic filter (wildcards allowed).
/// - `qos`: 0, 1 or 2; messages come at the lower of theirs and this.
/// - `callback`, `userdata`: the receiver.
/// - `subscription_out`: receives the id for
///   `mqlite_broker_unsubscribe_local()` / `mqlite_handle_unsubscribe_local()`.
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
        if subscription_out.is_null() {
            return Err(Failure::null("subscription_out"));
        }
        let receiver = local_callback(callback, UserData::new(userdata));
        // SAFETY: NULL or live.
        let subscription = unsafe {
            with_broker(broker, |broker| {
                Ok(broker.subscribe_local(filter, qos, receiver)?)
            })
        }?;
        // SAFETY: checked not NULL; writable by the caller's contract.
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
/// `*stats_out` (the caller's) is written only on success.
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
        // SAFETY: NULL or writable.
        unsafe { out(stats_out, "stats_out", mqlite_stats::from(&stats)) }
    })
}
