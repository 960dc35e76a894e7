//! `mqlite_broker`: the broker, used from the thread that runs it. This
//! file has the type, its lifecycle and the ways to run it; the callback
//! setters are in `broker_hooks.rs`, the direct publish, local
//! subscriptions and counters in `broker_direct.rs`, the custom
//! listeners' ports and reload in `broker_listeners.rs`, and the bridges
//! in `broker_bridges.rs`, re-exported here so that every
//! `mqlite_broker_*` function is in this module.
//!
//! The Rust `Broker` needs `&mut` for everything, and a C host could call in
//! from a callback while `run` holds it, or from two threads at once. So
//! the wrapper keeps the broker in an `UnsafeCell` behind a claim flag:
//! every function claims it first and answers `MQLITE_BUSY` if it is taken,
//! so no two `&mut Broker` ever exist at once.

use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

pub use super::broker_bridges::{
    mqlite_broker_add_bridge, mqlite_broker_bridge_stats, mqlite_broker_remove_bridge,
};
pub use super::broker_direct::{
    mqlite_broker_publish, mqlite_broker_publish_with, mqlite_broker_stats,
    mqlite_broker_subscribe_local, mqlite_broker_unsubscribe_local,
};
pub use super::broker_hooks::{
    mqlite_broker_set_acl_callback, mqlite_broker_set_auth_callback,
    mqlite_broker_set_event_callback, mqlite_broker_set_message_callback,
};
pub use super::broker_listeners::{mqlite_broker_custom_port, mqlite_broker_reload};
pub use super::broker_management::{
    mqlite_broker_clients, mqlite_broker_delete_retained, mqlite_broker_delete_session,
    mqlite_broker_retained, mqlite_broker_session_subscriptions, mqlite_broker_sessions,
};
use super::config::mqlite_config;
use super::handle::mqlite_handle;
use super::panic::{arg, boundary, guard, out};
use super::result::{mqlite_result, Failure, MQLITE_NOT_FOUND};
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
pub(super) unsafe fn with_broker<T>(
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
/// quiet (keepalives, timeouts, backlog); 0 when work already waits (after
/// `mqlite_broker_publish()`, for instance).
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
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_BUSY` (from a callback,
/// or while another thread runs the broker: make the handles before the
/// run, or clone one with `mqlite_handle_clone()`, which works at any
/// time).
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
