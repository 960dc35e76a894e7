//! Accessors of a lent `mqlite_message`: its MQTT 5 properties (Payload
//! Format Indicator, Content Type, Response Topic, Correlation Data, User
//! Properties), for the local subscription and message callbacks.
//!
//! Like every accessor (see `view_access.rs`) they take the pointer the
//! callback was given and refuse anything else. What they lend points into
//! the message and is valid only during the callback. A message from an
//! MQTT 3.1.1 client, or published without properties, has none: the
//! accessors then answer "absent" (NULL, 0), not an error.

use std::ffi::c_char;

use super::panic::{boundary, out};
use super::result::{mqlite_result, Failure, MQLITE_NOT_FOUND};
use super::types::mqlite_message;
use super::views;
use crate::codec::Properties;

/// Writes a lent (pointer, length) pair: both out-parameters must be
/// writable; NULL and 0 for an absent value.
///
/// # Safety
/// `ptr_out` and `len_out` are NULL or writable.
pub(crate) unsafe fn out_span<T>(
    ptr_out: *mut *const T,
    ptr_what: &str,
    len_out: *mut usize,
    len_what: &str,
    value: Option<&[u8]>,
) -> Result<(), Failure> {
    if ptr_out.is_null() {
        return Err(Failure::null(ptr_what));
    }
    if len_out.is_null() {
        return Err(Failure::null(len_what));
    }
    let (ptr, len) = match value {
        Some(bytes) => (bytes.as_ptr().cast::<T>(), bytes.len()),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: both checked not NULL; writable by the caller's contract.
    unsafe {
        out(ptr_out, ptr_what, ptr)?;
        out(len_out, len_what, len)
    }
}

/// Writes the `index`-th User Property of `properties` into the four
/// out-parameters, or answers `MQLITE_NOT_FOUND`.
///
/// # Safety
/// Every out-parameter is NULL or writable.
pub(crate) unsafe fn out_user_property(
    properties: Properties<'_>,
    index: usize,
    name_out: *mut *const c_char,
    name_len_out: *mut usize,
    value_out: *mut *const c_char,
    value_len_out: *mut usize,
) -> Result<(), Failure> {
    let outs = [
        (name_out.is_null(), "name_out"),
        (name_len_out.is_null(), "name_len_out"),
        (value_out.is_null(), "value_out"),
        (value_len_out.is_null(), "value_len_out"),
    ];
    if let Some((_, what)) = outs.iter().find(|(null, _)| *null) {
        return Err(Failure::null(what));
    }
    let (name, value) = properties.user_properties().nth(index).ok_or_else(|| {
        Failure::new(
            MQLITE_NOT_FOUND,
            format!(
                "no user property {index} (there are {})",
                properties.user_properties().count()
            ),
        )
    })?;
    // SAFETY: all checked not NULL; writable by the caller's contract.
    unsafe {
        out_span(
            name_out,
            "name_out",
            name_len_out,
            "name_len_out",
            Some(name.as_bytes()),
        )?;
        out_span(
            value_out,
            "value_out",
            value_len_out,
            "value_len_out",
            Some(value.as_bytes()),
        )
    }
}

/// The Payload Format Indicator of a message: 1 when the publisher said
/// the payload is UTF-8 text, 0 when it said it is unspecified bytes or
/// said nothing (the same meaning in MQTT 5).
///
/// # Parameters
/// - `message`: the pointer a local subscription or message callback was
///   given.
/// - `indicator_out`: receives 0 or 1.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT`
/// (`message` is not the pointer a callback running on this thread was
/// given: a copy, or one kept after the callback returned).
///
/// # Memory and lifetimes
/// `*indicator_out` is written only on success; nothing is kept.
///
/// # Safety
/// `message` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); `indicator_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_payload_format(
    message: *const mqlite_message,
    indicator_out: *mut u8,
) -> mqlite_result {
    boundary("mqlite_message_payload_format", || {
        // SAFETY: only used during this call, inside the callback.
        let message = unsafe { views::message(message, "message") }?;
        let indicator = message.properties().payload_format_indicator().unwrap_or(0);
        // SAFETY: NULL or writable.
        unsafe { out(indicator_out, "indicator_out", indicator) }
    })
}

/// The Content Type of a message.
///
/// # Parameters
/// - `message`: the pointer a local subscription or message callback was
///   given.
/// - `content_type_out`: receives the content type (UTF-8, NOT
///   NUL-terminated), or NULL when the message has none (an empty one is
///   non-NULL with length 0).
/// - `len_out`: receives its length in bytes (0 when absent).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not a
/// pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*content_type_out` is borrowed from the message: valid only until the
/// callback returns; copy what you keep, do not free it. Written only on
/// success.
///
/// # Safety
/// `message` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_content_type(
    message: *const mqlite_message,
    content_type_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_message_content_type", || {
        // SAFETY: only used during this call, inside the callback.
        let message = unsafe { views::message(message, "message") }?;
        let value = message.properties().content_type().map(str::as_bytes);
        // SAFETY: NULL or writable.
        unsafe {
            out_span(
                content_type_out,
                "content_type_out",
                len_out,
                "len_out",
                value,
            )
        }
    })
}

/// The Response Topic of a message: where the publisher wants an answer.
///
/// # Parameters
/// - `message`: the pointer a local subscription or message callback was
///   given.
/// - `topic_out`: receives the topic name (UTF-8, NOT NUL-terminated), or
///   NULL when the message has none.
/// - `len_out`: receives its length in bytes (0 when absent).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not a
/// pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*topic_out` is borrowed from the message: valid only until the
/// callback returns; copy it (for instance to publish the answer). Written
/// only on success.
///
/// # Safety
/// `message` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_response_topic(
    message: *const mqlite_message,
    topic_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_message_response_topic", || {
        // SAFETY: only used during this call, inside the callback.
        let message = unsafe { views::message(message, "message") }?;
        let value = message.properties().response_topic().map(str::as_bytes);
        // SAFETY: NULL or writable.
        unsafe { out_span(topic_out, "topic_out", len_out, "len_out", value) }
    })
}

/// The Correlation Data of a message (any bytes).
///
/// # Parameters
/// - `message`: the pointer a local subscription or message callback was
///   given.
/// - `data_out`: receives the bytes, or NULL when the message has none
///   (empty data is non-NULL with length 0).
/// - `len_out`: receives their number (0 when absent).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not a
/// pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*data_out` is borrowed from the message: valid only until the callback
/// returns; copy what you keep. Written only on success.
///
/// # Safety
/// `message` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_correlation_data(
    message: *const mqlite_message,
    data_out: *mut *const u8,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_message_correlation_data", || {
        // SAFETY: only used during this call, inside the callback.
        let message = unsafe { views::message(message, "message") }?;
        let value = message.properties().correlation_data();
        // SAFETY: NULL or writable.
        unsafe { out_span(data_out, "data_out", len_out, "len_out", value) }
    })
}

/// How many User Properties a message carries (read each with
/// `mqlite_message_user_property()`).
///
/// # Parameters
/// - `message`: the pointer a local subscription or message callback was
///   given.
/// - `count_out`: receives the number (0 for none).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not a
/// pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*count_out` is written only on success; nothing is kept.
///
/// # Safety
/// `message` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); `count_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_user_property_count(
    message: *const mqlite_message,
    count_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_message_user_property_count", || {
        // SAFETY: only used during this call, inside the callback.
        let message = unsafe { views::message(message, "message") }?;
        let count = message.properties().user_properties().count();
        // SAFETY: NULL or writable.
        unsafe { out(count_out, "count_out", count) }
    })
}

/// One User Property of a message: the `index`-th name and value pair, in
/// the order the publisher gave them (names may repeat).
///
/// # Parameters
/// - `message`: the pointer a local subscription or message callback was
///   given.
/// - `index`: from 0 to the count of `mqlite_message_user_property_count()`
///   minus one.
/// - `name_out`, `name_len_out`: receive the name (UTF-8, NOT
///   NUL-terminated; non-NULL even when empty) and its length in bytes.
/// - `value_out`, `value_len_out`: receive the value, likewise.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not a
/// pointer a callback running on this thread was given),
/// `MQLITE_NOT_FOUND` (`index` past the last).
///
/// # Memory and lifetimes
/// The strings are borrowed from the message: valid only until the
/// callback returns; copy what you keep. Written only on success.
///
/// # Safety
/// `message` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_user_property(
    message: *const mqlite_message,
    index: usize,
    name_out: *mut *const c_char,
    name_len_out: *mut usize,
    value_out: *mut *const c_char,
    value_len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_message_user_property", || {
        // SAFETY: only used during this call, inside the callback.
        let message = unsafe { views::message(message, "message") }?;
        // SAFETY: NULL or writable.
        unsafe {
            out_user_property(
                message.properties(),
                index,
                name_out,
                name_len_out,
                value_out,
                value_len_out,
            )
        }
    })
}

/// The Message Expiry Interval of a message as a subscriber would get it
/// now: the seconds it has left, rounded up, or -1 when it does not
/// expire. It keeps counting down from when the broker took the message
/// (through queues, the retained store and restarts).
///
/// # Parameters
/// - `message`: the pointer a local subscription or message callback was
///   given.
/// - `seconds_out`: receives 0 to 4294967295, or -1 (no expiry).
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT` (not a
/// pointer a callback running on this thread was given).
///
/// # Memory and lifetimes
/// `*seconds_out` is written only on success; nothing is kept.
///
/// # Safety
/// `message` is NULL or any pointer (looked up, not read, unless it is a
/// callback's); `seconds_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_message_expiry_interval(
    message: *const mqlite_message,
    seconds_out: *mut i64,
) -> mqlite_result {
    boundary("mqlite_message_expiry_interval", || {
        // SAFETY: only used during this call, inside the callback.
        let message = unsafe { views::message(message, "message") }?;
        let seconds = message.expiry_interval().map_or(-1, i64::from);
        // SAFETY: NULL or writable.
        unsafe { out(seconds_out, "seconds_out", seconds) }
    })
}
