//! Retained messages seen from C: `mqlite_retained_list`, a snapshot made
//! by `mqlite_broker_retained()` or `mqlite_handle_retained()`, each
//! message shown as the `mqlite_message` callbacks get.

use super::management_lists::{entry, free_list};
use super::panic::{arg, boundary, guard, out};
use super::result::{mqlite_result, Failure};
use super::types::mqlite_message;
use crate::Message;

/// The retained messages at one moment, sorted by topic. Opaque: read
/// with `mqlite_retained_list_count()` and `mqlite_retained_list_get()`,
/// freed with `mqlite_retained_list_free()`.
pub struct mqlite_retained_list {
    /// Owns what `views` point to; never changed after the views are made.
    messages: Vec<Message>,
    views: Vec<mqlite_message>,
}

impl mqlite_retained_list {
    pub(super) fn new(messages: Vec<Message>) -> mqlite_retained_list {
        // The views point into the messages' buffers, which stay where they
        // are when the list (and its vectors) move.
        let views = messages.iter().map(mqlite_message::view).collect();
        mqlite_retained_list { messages, views }
    }
}

/// Frees a retained list.
///
/// # Parameters
/// - `list`: from `mqlite_broker_retained()` or `mqlite_handle_retained()`,
///   or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer, and every message read from the list,
/// must not be used again.
///
/// # Safety
/// `list` is NULL or a list not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_retained_list_free(list: *mut mqlite_retained_list) {
    // SAFETY: the caller's contract.
    guard((), || unsafe { free_list(list) })
}

/// How many messages a retained list holds.
///
/// # Parameters
/// - `list`: the list.
/// - `count_out`: receives the count; messages are numbered from 0.
///
/// # Returns
/// `MQLITE_OK` or `MQLITE_NULL_PARAMETER`.
///
/// # Memory and lifetimes
/// `*count_out` is written only on success; nothing is kept.
///
/// # Safety
/// `list` is NULL or live; `count_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_retained_list_count(
    list: *const mqlite_retained_list,
    count_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_retained_list_count", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        // SAFETY: NULL or writable.
        unsafe { out(count_out, "count_out", list.messages.len()) }
    })
}

/// A message of a retained list: topic, payload, QoS, and the retain flag
/// (set).
///
/// # Parameters
/// - `list`: the list.
/// - `index`: from 0 to the count less 1.
/// - `message_out`: receives the message.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (`index` past
/// the last).
///
/// # Memory and lifetimes
/// `*message_out`, and the topic and payload it points to, belong to the
/// list: valid until `mqlite_retained_list_free()`; do not free them. The
/// `mqlite_message_*()` property accessors read only a message lent to a
/// running callback, and refuse this one. Written only on success.
///
/// # Safety
/// `list` is NULL or live; `message_out` is NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_retained_list_get(
    list: *const mqlite_retained_list,
    index: usize,
    message_out: *mut *const mqlite_message,
) -> mqlite_result {
    boundary("mqlite_retained_list_get", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        // The out-parameter is checked before the index.
        if message_out.is_null() {
            return Err(Failure::null("message_out"));
        }
        let view: *const mqlite_message = entry(&list.views, index)?;
        // SAFETY: NULL or writable.
        unsafe { out(message_out, "message_out", view) }
    })
}
