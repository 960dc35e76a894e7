//! Accessors of a lent `mqlite_connect_info` for MQTT 5: enhanced
//! authentication (method, data, step, re-authentication), the User
//! Properties of the CONNECT (or AUTH) packet, and the reply data of a
//! `MQLITE_AUTH_CONTINUE` or `MQLITE_AUTH_ACCEPT_WITH_DATA` answer.
//!
//! Like every accessor (see `view_access.rs`) they take the pointer the
//! authentication callback was given and refuse anything else.
//!
//! Enhanced authentication (MQTT 5.0 §4.12), as the callback sees it: a
//! client names a method (and may send data) in CONNECT: step 0. The
//! callback answers `MQLITE_AUTH_CONTINUE` with a challenge (reply data),
//! the client answers with AUTH: step 1, with the client's data; and so on
//! until the callback accepts (`MQLITE_AUTH_ACCEPT`, or
//! `MQLITE_AUTH_ACCEPT_WITH_DATA` with final data) or refuses. A connected
//! client may authenticate again (AUTH 0x19): the callback is called with
//! `reauthentication` true, steps from 0 again, while the client keeps
//! working; a refusal disconnects it.

use std::ffi::c_char;

use super::message_access::{out_span, out_user_property};
use super::panic::{boundary, bytes, out};
use super::result::{mqlite_result, Failure};
use super::types::mqlite_connect_info;
use super::views;

/// The Authentication Method the client named (MQTT 5 enhanced
/// authentication), the same at every step of an exchange.
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `method_out`: receives the method (UTF-8, NOT NUL-terminated), or
///   NULL when the client named none (plain user name and password, and
///   every MQTT 3.1.1 client).
/// - `len_out`: receives its length in bytes (0 when absent).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*method_out` is borrowed like `info`: valid only until the callback
/// returns. Written only on success.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_authentication_method(
    info: *const mqlite_connect_info,
    method_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_connect_info_authentication_method", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        let value = connect.info.authentication_method.map(str::as_bytes);
        // SAFETY: NULL or writable.
        unsafe { out_span(method_out, "method_out", len_out, "len_out", value) }
    })
}

/// The Authentication Data of this step: from CONNECT at step 0, then from
/// each AUTH packet the client answers with.
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `data_out`: receives the bytes, or NULL when the packet carried none
///   (empty data is non-NULL with length 0).
/// - `len_out`: receives their number (0 when absent).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*data_out` is borrowed like `info`: valid only until the callback
/// returns; copy what you keep (for a `MQLITE_AUTH_PENDING` answer).
/// Written only on success.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_authentication_data(
    info: *const mqlite_connect_info,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_connect_info_authentication_data", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        let value = connect.info.authentication_data;
        // SAFETY: NULL or writable.
        unsafe { out_span(data_out, "data_out", len_out, "len_out", value) }
    })
}

/// Which step of an enhanced authentication this call is: 0 for the
/// CONNECT (or the AUTH 0x19 that starts a re-authentication), then 1, 2,
/// ... for each AUTH the client answers a `MQLITE_AUTH_CONTINUE` with.
/// Always 0 without an authentication method.
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `step_out`: receives the step.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*step_out` is written only on success; nothing is kept.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); `step_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_auth_step(
    info: *const mqlite_connect_info,
    step_out: *mut u32,
) -> mqlite_result {
    boundary("mqlite_connect_info_auth_step", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        // SAFETY: NULL or writable.
        unsafe { out(step_out, "step_out", connect.info.step) }
    })
}

/// Whether this call is a re-authentication of a connected client (MQTT 5
/// AUTH with reason 0x19) rather than a new connection. The client keeps
/// working meanwhile; a refusal disconnects it, an acceptance sends AUTH
/// 0x00.
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `reauthentication_out`: receives true for a re-authentication.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*reauthentication_out` is written only on success; nothing is kept.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); `reauthentication_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_reauthentication(
    info: *const mqlite_connect_info,
    reauthentication_out: *mut bool,
) -> mqlite_result {
    boundary("mqlite_connect_info_reauthentication", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        // SAFETY: NULL or writable.
        unsafe {
            out(
                reauthentication_out,
                "reauthentication_out",
                connect.info.reauthentication,
            )
        }
    })
}

/// How many User Properties the packet of this step carries: the CONNECT
/// at step 0 of a connection, else the AUTH packet.
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `count_out`: receives the number (0 for none, and for MQTT 3.1.1).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*count_out` is written only on success; nothing is kept.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); `count_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_user_property_count(
    info: *const mqlite_connect_info,
    count_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_connect_info_user_property_count", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        let count = connect.info.properties.user_properties().count();
        // SAFETY: NULL or writable.
        unsafe { out(count_out, "count_out", count) }
    })
}

/// One User Property of the packet of this step: the `index`-th name and
/// value pair, in the client's order (names may repeat).
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `index`: from 0 to the count of
///   `mqlite_connect_info_user_property_count()` minus one.
/// - `name_out`, `name_len_out`: receive the name (UTF-8, NOT
///   NUL-terminated; non-NULL even when empty) and its length in bytes.
/// - `value_out`, `value_len_out`: receive the value, likewise.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (`info`
/// is not the pointer a callback running on this thread was given),
/// `MQLITE_NOT_FOUND` (`index` past the last).
///
/// # Memory and lifetimes
/// The strings are borrowed like `info`: valid only until the callback
/// returns. Written only on success.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_user_property(
    info: *const mqlite_connect_info,
    index: usize,
    name_out: *mut *const c_char,
    name_len_out: *mut usize,
    value_out: *mut *const c_char,
    value_len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_connect_info_user_property", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        // SAFETY: NULL or writable.
        unsafe {
            out_user_property(
                connect.info.properties,
                index,
                name_out,
                name_len_out,
                value_out,
                value_len_out,
            )
        }
    })
}

/// Sets the Authentication Data the callback's answer sends: the challenge
/// of `MQLITE_AUTH_CONTINUE`, or the final data of
/// `MQLITE_AUTH_ACCEPT_WITH_DATA` (ignored with any other answer). Call it
/// during the callback, before returning; a second call replaces the
/// first. (For a `MQLITE_AUTH_PENDING` answer, give the data later to
/// `mqlite_handle_complete_auth_with_data()` instead.)
///
/// # Parameters
/// - `info`: the pointer the authentication callback was given.
/// - `data`, `data_len`: the bytes, at most 65535 (NULL allowed when
///   `data_len` is 0: no data).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`info`, or `data` NULL with a
/// length), `MQLITE_INVALID_ARGUMENT` (`info` is not the pointer a
/// callback running on this thread was given; over 65535 bytes).
///
/// # Memory and lifetimes
/// The bytes are copied; the caller keeps its buffer.
///
/// # Safety
/// `info` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); `data` is NULL or points to `data_len` readable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_connect_info_set_reply_data(
    info: *const mqlite_connect_info,
    data: *const u8,
    data_len: usize,
) -> mqlite_result {
    boundary("mqlite_connect_info_set_reply_data", || {
        // SAFETY: only used during this call, inside the callback.
        let connect = unsafe { views::connect(info, "info") }?;
        // SAFETY: NULL or `data_len` readable bytes.
        let data = unsafe { bytes(data, data_len, "data") }?;
        if data.len() > usize::from(u16::MAX) {
            return Err(Failure::invalid(
                "data_len",
                "authentication data is at most 65535 bytes",
            ));
        }
        let mut reply = connect
            .reply
            .try_borrow_mut()
            .map_err(|_| Failure::invalid("info", "reply data is being set already"))?;
        *reply = Some(data.to_vec());
        Ok(())
    })
}
