//! Sessions and a session's subscriptions seen from C:
//! `mqlite_session_list` and `mqlite_subscription_list`, snapshots read as
//! `mqlite_client_list` is (see `management_lists.rs`).

use std::ffi::c_char;
use std::mem::size_of;

use super::management_lists::{entry, free_list, give_sized, give_text, Text};
use super::panic::{arg, boundary, guard, out};
use super::result::mqlite_result;
use crate::management::{SessionInfo, SubscriptionInfo};

/// One session's numbers, read with `mqlite_session_list_get()`.
///
/// Grows: later libraries append `uint64_t` fields at the end, and only
/// there. Pass `sizeof(mqlite_session_entry)` as your header has it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct mqlite_session_entry {
    /// 1 while a client is connected to it, else 0.
    pub connected: u64,
    /// 1 when it outlives its connection, else 0 (such a session is listed
    /// only while its client is connected).
    pub persistent: u64,
    /// How long it outlives its connection, in seconds; `0xFFFFFFFF`: for
    /// ever.
    pub expiry_interval: u64,
    /// For an offline session that expires: milliseconds left before it
    /// does; `UINT64_MAX` otherwise.
    pub expires_in_ms: u64,
    /// Subscriptions it holds.
    pub subscriptions: u64,
    /// QoS 1/2 messages waiting for its client.
    pub queued: u64,
    /// QoS 1/2 messages sent and not yet acknowledged.
    pub inflight: u64,
}

const SESSION_ENTRY_FIRST: usize = 7 * size_of::<u64>();
const _: () = assert!(size_of::<mqlite_session_entry>() >= SESSION_ENTRY_FIRST);

/// The sessions at one moment, offline ones included. Opaque: made by
/// `mqlite_broker_sessions()` or `mqlite_handle_sessions()`, read with
/// `mqlite_session_list_count()`, `mqlite_session_list_id()`,
/// `mqlite_session_list_username()` and `mqlite_session_list_get()`,
/// freed with `mqlite_session_list_free()`.
pub struct mqlite_session_list {
    entries: Vec<SessionEntry>,
}

struct SessionEntry {
    id: Text,
    username: Option<Text>,
    numbers: mqlite_session_entry,
}

impl mqlite_session_list {
    pub(super) fn new(sessions: &[SessionInfo]) -> mqlite_session_list {
        let entries = sessions
            .iter()
            .map(|session| {
                let numbers = mqlite_session_entry {
                    connected: u64::from(session.connected),
                    persistent: u64::from(session.persistent),
                    expiry_interval: u64::from(session.expiry_interval.unwrap_or(u32::MAX)),
                    expires_in_ms: session.expires_in.map_or(u64::MAX, |left| {
                        u64::try_from(left.as_millis()).unwrap_or(u64::MAX)
                    }),
                    subscriptions: session.subscriptions as u64,
                    queued: session.queued as u64,
                    inflight: session.inflight as u64,
                };
                SessionEntry {
                    id: Text::new(&session.client_id),
                    username: session.username.as_deref().map(Text::new),
                    numbers,
                }
            })
            .collect();
        mqlite_session_list { entries }
    }
}

/// One subscription's grant, read with `mqlite_subscription_list_get()`.
///
/// Grows: later libraries append `uint64_t` fields at the end, and only
/// there. Pass `sizeof(mqlite_subscription_entry)` as your header has it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct mqlite_subscription_entry {
    /// The maximum QoS granted: 0, 1 or 2.
    pub qos: u64,
    /// 1 for MQTT 5 No Local, else 0.
    pub no_local: u64,
    /// 1 for MQTT 5 Retain As Published, else 0.
    pub retain_as_published: u64,
    /// The MQTT 5 Subscription Identifier; 0 when none.
    pub identifier: u64,
}

const SUBSCRIPTION_ENTRY_FIRST: usize = 4 * size_of::<u64>();
const _: () = assert!(size_of::<mqlite_subscription_entry>() >= SUBSCRIPTION_ENTRY_FIRST);

/// A session's subscriptions at one moment, sorted by filter. Opaque: made
/// by `mqlite_broker_session_subscriptions()` or
/// `mqlite_handle_session_subscriptions()`, read with
/// `mqlite_subscription_list_count()`, `mqlite_subscription_list_filter()`
/// and `mqlite_subscription_list_get()`, freed with
/// `mqlite_subscription_list_free()`.
pub struct mqlite_subscription_list {
    entries: Vec<(Text, mqlite_subscription_entry)>,
}

impl mqlite_subscription_list {
    pub(super) fn new(subscriptions: &[SubscriptionInfo]) -> mqlite_subscription_list {
        let entries = subscriptions
            .iter()
            .map(|subscription| {
                let numbers = mqlite_subscription_entry {
                    qos: subscription.qos as u64,
                    no_local: u64::from(subscription.no_local),
                    retain_as_published: u64::from(subscription.retain_as_published),
                    identifier: u64::from(subscription.identifier.unwrap_or(0)),
                };
                (Text::new(&subscription.filter), numbers)
            })
            .collect();
        mqlite_subscription_list { entries }
    }
}

/// The size of the library's `mqlite_session_entry`.
///
/// # Parameters
/// None.
///
/// # Returns
/// The library's `sizeof(mqlite_session_entry)`.
///
/// # Memory and lifetimes
/// Nothing is kept.
#[no_mangle]
pub extern "C" fn mqlite_session_entry_size() -> usize {
    guard(SESSION_ENTRY_FIRST, size_of::<mqlite_session_entry>)
}

/// Frees a session list.
///
/// # Parameters
/// - `list`: from `mqlite_broker_sessions()` or `mqlite_handle_sessions()`,
///   or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer, and every string read from the list, must
/// not be used again.
///
/// # Safety
/// `list` is NULL or a list not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_session_list_free(list: *mut mqlite_session_list) {
    // SAFETY: the caller's contract.
    guard((), || unsafe { free_list(list) })
}

/// How many sessions a list holds.
///
/// # Parameters
/// - `list`: the list.
/// - `count_out`: receives the count; entries are numbered from 0.
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
pub unsafe extern "C" fn mqlite_session_list_count(
    list: *const mqlite_session_list,
    count_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_session_list_count", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        // SAFETY: NULL or writable.
        unsafe { out(count_out, "count_out", list.entries.len()) }
    })
}

/// The client identifier of a session in a list.
///
/// # Parameters
/// - `list`: the list.
/// - `index`: from 0 to the count less 1.
/// - `text_out`: receives the client id (UTF-8, NUL-terminated).
/// - `len_out`: receives its length in bytes, without the NUL.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (`index` past
/// the last).
///
/// # Memory and lifetimes
/// `*text_out` belongs to the list: valid until
/// `mqlite_session_list_free()`; do not free it. Written only on success.
///
/// # Safety
/// `list` is NULL or live; the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_session_list_id(
    list: *const mqlite_session_list,
    index: usize,
    text_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_session_list_id", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let id = || Ok(Some(&entry(&list.entries, index)?.id));
        // SAFETY: NULL or writable.
        unsafe { give_text(id, text_out, len_out) }
    })
}

/// The user name of the latest connection of a session in a list.
///
/// # Parameters
/// As for `mqlite_session_list_id()`; `*text_out` is NULL (and `*len_out`
/// 0) when that connection gave none.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND`.
///
/// # Memory and lifetimes
/// As for `mqlite_session_list_id()`.
///
/// # Safety
/// As for `mqlite_session_list_id()`.
#[no_mangle]
pub unsafe extern "C" fn mqlite_session_list_username(
    list: *const mqlite_session_list,
    index: usize,
    text_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_session_list_username", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let username = || Ok(entry(&list.entries, index)?.username.as_ref());
        // SAFETY: NULL or writable.
        unsafe { give_text(username, text_out, len_out) }
    })
}

/// The numbers of a session in a list, into a `mqlite_session_entry` of
/// the caller's size.
///
/// # Parameters
/// - `list`: the list.
/// - `index`: from 0 to the count less 1.
/// - `value_out`: receives the numbers.
/// - `size`: `sizeof(mqlite_session_entry)` as your header has it.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND`,
/// `MQLITE_INVALID_ARGUMENT` (`size` below the first
/// `mqlite_session_entry`, 56 bytes).
///
/// # Memory and lifetimes
/// The caller owns `*value_out`; exactly `size` bytes of it are written,
/// only on success.
///
/// # Safety
/// `list` is NULL or live; `value_out` is NULL or has `size` writable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_session_list_get(
    list: *const mqlite_session_list,
    index: usize,
    value_out: *mut mqlite_session_entry,
    size: usize,
) -> mqlite_result {
    boundary("mqlite_session_list_get", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let numbers = || Ok(&entry(&list.entries, index)?.numbers);
        let name = "mqlite_session_entry";
        // SAFETY: NULL or `size` writable bytes.
        unsafe { give_sized(numbers, value_out, size, SESSION_ENTRY_FIRST, name) }
    })
}

/// The size of the library's `mqlite_subscription_entry`.
///
/// # Parameters
/// None.
///
/// # Returns
/// The library's `sizeof(mqlite_subscription_entry)`.
///
/// # Memory and lifetimes
/// Nothing is kept.
#[no_mangle]
pub extern "C" fn mqlite_subscription_entry_size() -> usize {
    guard(
        SUBSCRIPTION_ENTRY_FIRST,
        size_of::<mqlite_subscription_entry>,
    )
}

/// Frees a subscription list.
///
/// # Parameters
/// - `list`: from `mqlite_broker_session_subscriptions()` or
///   `mqlite_handle_session_subscriptions()`, or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer, and every filter read from the list,
/// must not be used again.
///
/// # Safety
/// `list` is NULL or a list not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_subscription_list_free(list: *mut mqlite_subscription_list) {
    // SAFETY: the caller's contract.
    guard((), || unsafe { free_list(list) })
}

/// How many subscriptions a list holds.
///
/// # Parameters
/// - `list`: the list.
/// - `count_out`: receives the count; entries are numbered from 0.
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
pub unsafe extern "C" fn mqlite_subscription_list_count(
    list: *const mqlite_subscription_list,
    count_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_subscription_list_count", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        // SAFETY: NULL or writable.
        unsafe { out(count_out, "count_out", list.entries.len()) }
    })
}

/// The topic filter of a subscription in a list (`$share/{group}/...`
/// for a shared one).
///
/// # Parameters
/// - `list`: the list.
/// - `index`: from 0 to the count less 1.
/// - `text_out`: receives the filter (UTF-8, NUL-terminated).
/// - `len_out`: receives its length in bytes, without the NUL.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (`index` past
/// the last).
///
/// # Memory and lifetimes
/// `*text_out` belongs to the list: valid until
/// `mqlite_subscription_list_free()`; do not free it. Written only on
/// success.
///
/// # Safety
/// `list` is NULL or live; the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_subscription_list_filter(
    list: *const mqlite_subscription_list,
    index: usize,
    text_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_subscription_list_filter", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let filter = || Ok(Some(&entry(&list.entries, index)?.0));
        // SAFETY: NULL or writable.
        unsafe { give_text(filter, text_out, len_out) }
    })
}

/// The grant of a subscription in a list, into a
/// `mqlite_subscription_entry` of the caller's size.
///
/// # Parameters
/// - `list`: the list.
/// - `index`: from 0 to the count less 1.
/// - `value_out`: receives the grant.
/// - `size`: `sizeof(mqlite_subscription_entry)` as your header has it.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND`,
/// `MQLITE_INVALID_ARGUMENT` (`size` below the first
/// `mqlite_subscription_entry`, 32 bytes).
///
/// # Memory and lifetimes
/// The caller owns `*value_out`; exactly `size` bytes of it are written,
/// only on success.
///
/// # Safety
/// `list` is NULL or live; `value_out` is NULL or has `size` writable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_subscription_list_get(
    list: *const mqlite_subscription_list,
    index: usize,
    value_out: *mut mqlite_subscription_entry,
    size: usize,
) -> mqlite_result {
    boundary("mqlite_subscription_list_get", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let numbers = || Ok(&entry(&list.entries, index)?.1);
        let name = "mqlite_subscription_entry";
        // SAFETY: NULL or `size` writable bytes.
        unsafe { give_sized(numbers, value_out, size, SUBSCRIPTION_ENTRY_FIRST, name) }
    })
}
