//! The management API's snapshots seen from C: `mqlite_client_list` here
//! (with what every list shares), `mqlite_session_list` and
//! `mqlite_subscription_list` in `management_sessions.rs`,
//! `mqlite_retained_list` in `management_retained.rs`; each made at one moment by a
//! `mqlite_broker_*()` or `mqlite_handle_*()` call (`broker_management.rs`),
//! read with `_count()`, a text accessor per string and `_get()` for the
//! numbers, and freed with `_free()`. A list does not change after it is
//! made and does not depend on the broker (it may outlive it).
//!
//! The numbers come in caller-allocated structs that grow as
//! `mqlite_bridge_stats` does (docs/C_API.md, "A C ABI that only grows"):
//! `uint64_t` fields appended at the end, read with the caller's `sizeof`.
//! Strings are kept NUL-terminated in the list, so C may use them as C
//! strings too.

use std::ffi::c_char;
use std::mem::size_of;
use std::time::UNIX_EPOCH;

use super::panic::{arg, boundary, guard, out};
use super::result::{mqlite_result, Failure, MQLITE_INVALID_ARGUMENT, MQLITE_NOT_FOUND};
use super::stats::copy_sized;
use crate::management::ConnectedClient;

/// A string of a list and its NUL.
pub(super) struct Text(Vec<u8>);

impl Text {
    pub(super) fn new(text: &str) -> Text {
        let mut bytes = Vec::with_capacity(text.len() + 1);
        bytes.extend_from_slice(text.as_bytes());
        bytes.push(0);
        Text(bytes)
    }
}

/// An entry at `index` of `entries`, or `MQLITE_NOT_FOUND`.
pub(super) fn entry<T>(entries: &[T], index: usize) -> Result<&T, Failure> {
    entries.get(index).ok_or_else(|| {
        Failure::new(
            MQLITE_NOT_FOUND,
            format!("no entry {index} (the list has {})", entries.len()),
        )
    })
}

/// Writes the text `text` finds (`None`: NULL and 0) to the
/// out-parameters, which are checked first: a NULL one is refused before
/// the index.
///
/// # Safety
/// The out-parameters are NULL or writable.
pub(super) unsafe fn give_text<'a>(
    text: impl FnOnce() -> Result<Option<&'a Text>, Failure>,
    text_out: *mut *const c_char,
    len_out: *mut usize,
) -> Result<(), Failure> {
    if text_out.is_null() {
        return Err(Failure::null("text_out"));
    }
    if len_out.is_null() {
        return Err(Failure::null("len_out"));
    }
    let (ptr, len) = match text()? {
        Some(text) => (text.0.as_ptr().cast::<c_char>(), text.0.len() - 1),
        None => (std::ptr::null(), 0),
    };
    // SAFETY: checked not NULL; writable by the caller's contract.
    unsafe { out(text_out, "text_out", ptr) }?;
    // SAFETY: checked not NULL; writable by the caller's contract.
    unsafe { out(len_out, "len_out", len) }
}

/// Copies the value `value` finds, a struct of `first` bytes or more of
/// `u64`s, into the caller's `size` bytes at `value_out` (checked first,
/// with `size`, before the index).
///
/// # Safety
/// `value_out` is NULL or has `size` writable bytes.
pub(super) unsafe fn give_sized<'a, T: 'a>(
    value: impl FnOnce() -> Result<&'a T, Failure>,
    value_out: *mut T,
    size: usize,
    first: usize,
    name: &str,
) -> Result<(), Failure> {
    if value_out.is_null() {
        return Err(Failure::null("value_out"));
    }
    if size < first {
        return Err(Failure::new(
            MQLITE_INVALID_ARGUMENT,
            format!("size {size} is smaller than any {name} ({first} bytes): pass sizeof({name})"),
        ));
    }
    let value = value()?;
    // SAFETY: u64 fields only; `value_out` has `size` writable bytes (the
    // caller's contract), which do not overlap the list.
    unsafe { copy_sized(value, value_out.cast::<u8>(), size) };
    Ok(())
}

/// Frees a boxed list given to C.
///
/// # Safety
/// `list` is NULL or made by `Box::into_raw` and not yet freed.
pub(super) unsafe fn free_list<T>(list: *mut T) {
    if !list.is_null() {
        // SAFETY: the caller's contract; C gives up ownership here.
        drop(unsafe { Box::from_raw(list) });
    }
}

/// Writes a new boxed list to `list_out`.
///
/// # Safety
/// `list_out` is NULL or writable.
pub(super) unsafe fn give_list<T>(list_out: *mut *mut T, list: T) -> Result<(), Failure> {
    if list_out.is_null() {
        return Err(Failure::null("list_out"));
    }
    let list = Box::into_raw(Box::new(list));
    // SAFETY: not NULL; writable by the caller's contract.
    unsafe { out(list_out, "list_out", list) }
}

/// One connected client's numbers, read with `mqlite_client_list_get()`.
///
/// Grows: later libraries append `uint64_t` fields at the end, and only
/// there. Pass `sizeof(mqlite_client_entry)` as your header has it: the
/// library fills the fields it has and zeroes those it does not.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct mqlite_client_entry {
    /// 3 (MQTT 3.1), 4 (3.1.1) or 5.
    pub protocol_level: u64,
    /// The listener it came in on (numbered as for
    /// `mqlite_connect_info_listener()`).
    pub listener: u64,
    /// When its CONNECT was accepted: milliseconds since the Unix epoch, by
    /// the wall clock when the list was made.
    pub connected_at_ms: u64,
    /// 1 when its session outlives the connection, else 0.
    pub persistent: u64,
    /// Subscriptions it holds.
    pub subscriptions: u64,
    /// QoS 1/2 messages waiting for room in its in-flight window.
    pub queued: u64,
    /// QoS 1/2 messages sent and not yet acknowledged.
    pub inflight: u64,
    /// Messages sent to it (resends not counted again).
    pub messages_sent: u64,
    /// Messages for it that were dropped.
    pub messages_dropped: u64,
}

const CLIENT_ENTRY_FIRST: usize = 9 * size_of::<u64>();
const _: () = assert!(size_of::<mqlite_client_entry>() >= CLIENT_ENTRY_FIRST);

/// The clients connected at one moment. Opaque: made by
/// `mqlite_broker_clients()` or `mqlite_handle_clients()`, read with
/// `mqlite_client_list_count()`, `mqlite_client_list_id()`,
/// `mqlite_client_list_username()`, `mqlite_client_list_peer()` and
/// `mqlite_client_list_get()`, freed with `mqlite_client_list_free()`.
pub struct mqlite_client_list {
    entries: Vec<ClientEntry>,
}

struct ClientEntry {
    id: Text,
    username: Option<Text>,
    peer: Text,
    numbers: mqlite_client_entry,
}

impl mqlite_client_list {
    pub(super) fn new(clients: &[ConnectedClient]) -> mqlite_client_list {
        let entries = clients
            .iter()
            .map(|client| {
                let since_epoch = client
                    .connected_at
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                ClientEntry {
                    id: Text::new(&client.client_id),
                    username: client.username.as_deref().map(Text::new),
                    peer: Text::new(&client.peer.to_string()),
                    numbers: mqlite_client_entry {
                        protocol_level: u64::from(client.protocol.level()),
                        listener: u64::from(client.listener),
                        connected_at_ms: u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
                        persistent: u64::from(client.persistent),
                        subscriptions: client.subscriptions as u64,
                        queued: client.queued as u64,
                        inflight: client.inflight as u64,
                        messages_sent: client.messages_sent,
                        messages_dropped: client.messages_dropped,
                    },
                }
            })
            .collect();
        mqlite_client_list { entries }
    }
}

/// The size of the library's `mqlite_client_entry`.
///
/// # Parameters
/// None.
///
/// # Returns
/// The library's `sizeof(mqlite_client_entry)`: a field of your header
/// exists in the library when its offset is below it.
///
/// # Memory and lifetimes
/// Nothing is kept.
#[no_mangle]
pub extern "C" fn mqlite_client_entry_size() -> usize {
    guard(CLIENT_ENTRY_FIRST, size_of::<mqlite_client_entry>)
}

/// Frees a client list.
///
/// # Parameters
/// - `list`: from `mqlite_broker_clients()` or `mqlite_handle_clients()`,
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
pub unsafe extern "C" fn mqlite_client_list_free(list: *mut mqlite_client_list) {
    // SAFETY: the caller's contract.
    guard((), || unsafe { free_list(list) })
}

/// How many clients a list holds.
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
pub unsafe extern "C" fn mqlite_client_list_count(
    list: *const mqlite_client_list,
    count_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_client_list_count", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        // SAFETY: NULL or writable.
        unsafe { out(count_out, "count_out", list.entries.len()) }
    })
}

/// The client identifier of a client in a list.
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
/// `mqlite_client_list_free()`; do not free it. Written only on success.
///
/// # Safety
/// `list` is NULL or live; the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_client_list_id(
    list: *const mqlite_client_list,
    index: usize,
    text_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_client_list_id", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let id = || Ok(Some(&entry(&list.entries, index)?.id));
        // SAFETY: NULL or writable.
        unsafe { give_text(id, text_out, len_out) }
    })
}

/// The user name a client in a list connected with.
///
/// # Parameters
/// As for `mqlite_client_list_id()`; `*text_out` is NULL (and `*len_out`
/// 0) when the client gave none.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND`.
///
/// # Memory and lifetimes
/// As for `mqlite_client_list_id()`.
///
/// # Safety
/// As for `mqlite_client_list_id()`.
#[no_mangle]
pub unsafe extern "C" fn mqlite_client_list_username(
    list: *const mqlite_client_list,
    index: usize,
    text_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_client_list_username", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let username = || Ok(entry(&list.entries, index)?.username.as_ref());
        // SAFETY: NULL or writable.
        unsafe { give_text(username, text_out, len_out) }
    })
}

/// Who is at the other end of a client's connection, as text
/// (`127.0.0.1:50000`, `[::1]:50000`, `unix:/path`, as
/// `mqlite_client_info.peer`).
///
/// # Parameters
/// As for `mqlite_client_list_id()`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND`.
///
/// # Memory and lifetimes
/// As for `mqlite_client_list_id()`.
///
/// # Safety
/// As for `mqlite_client_list_id()`.
#[no_mangle]
pub unsafe extern "C" fn mqlite_client_list_peer(
    list: *const mqlite_client_list,
    index: usize,
    text_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_client_list_peer", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let peer = || Ok(Some(&entry(&list.entries, index)?.peer));
        // SAFETY: NULL or writable.
        unsafe { give_text(peer, text_out, len_out) }
    })
}

/// The numbers of a client in a list, into a `mqlite_client_entry` of the
/// caller's size.
///
/// # Parameters
/// - `list`: the list.
/// - `index`: from 0 to the count less 1.
/// - `value_out`: receives the numbers.
/// - `size`: `sizeof(mqlite_client_entry)` as your header has it.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND`,
/// `MQLITE_INVALID_ARGUMENT` (`size` below the first
/// `mqlite_client_entry`, 72 bytes).
///
/// # Memory and lifetimes
/// The caller owns `*value_out`; exactly `size` bytes of it are written,
/// only on success.
///
/// # Safety
/// `list` is NULL or live; `value_out` is NULL or has `size` writable
/// bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_client_list_get(
    list: *const mqlite_client_list,
    index: usize,
    value_out: *mut mqlite_client_entry,
    size: usize,
) -> mqlite_result {
    boundary("mqlite_client_list_get", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        let numbers = || Ok(&entry(&list.entries, index)?.numbers);
        let name = "mqlite_client_entry";
        // SAFETY: NULL or `size` writable bytes.
        unsafe { give_sized(numbers, value_out, size, CLIENT_ENTRY_FIRST, name) }
    })
}
