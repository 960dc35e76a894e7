//! The `mqlite_broker_set_*_callback` functions: each wraps a C callback
//! and its userdata in the Rust hook of the same name (adapters in
//! `callbacks.rs`) and installs it on a claimed broker.

use super::broker::{mqlite_broker, with_broker};
use super::callbacks::{
    acl_hook, auth_hook, event_hook, message_hook, mqlite_acl_callback, mqlite_auth_callback,
    mqlite_event_callback, mqlite_message_callback, UserData,
};
use super::panic::boundary;
use super::result::{mqlite_result, Failure};

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
/// connects, disconnects, subscribes or unsubscribes, and when its queue
/// overflows (`MQLITE_EVENT_QUEUE_OVERFLOW`). Replaces an earlier one.
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
