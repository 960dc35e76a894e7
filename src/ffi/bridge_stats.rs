//! Bridges' state and counters seen from C: `mqlite_bridge_stats_list`, a
//! snapshot of every bridge taken at once (by
//! `mqlite_broker_bridge_stats()` or `mqlite_handle_bridge_stats()`), so
//! that a host reading it through a handle never sees a bridge added or
//! removed between two calls; and `mqlite_bridge_stats`, the counters of
//! one bridge in a caller's struct of any version.
//!
//! `mqlite_bridge_stats` grows as `mqlite_stats` does (docs/C_API.md, "A C
//! ABI that only grows"): `uint64_t` fields appended at its end, read with
//! the caller's `sizeof`, and `mqlite_bridge_stats_size()` the library's.

use std::ffi::c_char;
use std::mem::size_of;

use super::panic::{arg, boundary, guard, out};
use super::result::{mqlite_result, Failure, MQLITE_INVALID_ARGUMENT, MQLITE_NOT_FOUND};
use super::stats::copy_sized;
use crate::BridgeStats;

/// One bridge's state and counters, read with
/// `mqlite_bridge_stats_list_get()`.
///
/// Grows: later libraries append `uint64_t` fields at the end, and only
/// there. Pass `sizeof(mqlite_bridge_stats)` as the caller's header has
/// it: the library fills the fields it has and zeroes those it does not;
/// the first `mqlite_bridge_stats_size()` bytes are the library's.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct mqlite_bridge_stats {
    /// 1 while the link is up (the upstream's CONNACK received), else 0.
    pub connected: u64,
    /// Times the link came up.
    pub connections: u64,
    /// Messages sent upstream (resends not counted again).
    pub sent: u64,
    /// Messages received from upstream.
    pub received: u64,
    /// Messages waiting to go upstream, queued or in flight (those in the
    /// persistence file included).
    pub queued: u64,
    /// Messages for upstream dropped: the queue was full, or a QoS 0
    /// topic's message came while the link was down.
    pub dropped: u64,
}

/// The size of the first `mqlite_bridge_stats`: six counters.
const BRIDGE_STATS_SIZE_FIRST: usize = 6 * size_of::<u64>();

// Only `u64` fields are ever appended: no padding, copied as bytes.
const _: () = assert!(size_of::<mqlite_bridge_stats>().is_multiple_of(size_of::<u64>()));
const _: () = assert!(size_of::<mqlite_bridge_stats>() >= BRIDGE_STATS_SIZE_FIRST);

impl From<&BridgeStats> for mqlite_bridge_stats {
    fn from(stats: &BridgeStats) -> mqlite_bridge_stats {
        mqlite_bridge_stats {
            connected: u64::from(stats.connected),
            connections: stats.connections,
            sent: stats.sent,
            received: stats.received,
            queued: stats.queued as u64,
            dropped: stats.dropped,
        }
    }
}

/// Every bridge of a broker as it was at one moment: names, state and
/// counters. Opaque: made by `mqlite_broker_bridge_stats()` or
/// `mqlite_handle_bridge_stats()`, read with
/// `mqlite_bridge_stats_list_count()`, `mqlite_bridge_stats_list_name()`
/// and `mqlite_bridge_stats_list_get()`, freed with
/// `mqlite_bridge_stats_list_free()`. It does not change after it is made
/// and does not depend on the broker (it may outlive it).
pub struct mqlite_bridge_stats_list {
    entries: Vec<Entry>,
}

/// One bridge in a list.
struct Entry {
    /// Its name and a NUL, so that C may use it as a C string too.
    name: Vec<u8>,
    stats: mqlite_bridge_stats,
}

impl mqlite_bridge_stats_list {
    /// A list of `stats`, in the broker's order.
    pub(super) fn new(stats: &[BridgeStats]) -> mqlite_bridge_stats_list {
        let entries = stats
            .iter()
            .map(|stats| {
                let mut name = Vec::with_capacity(stats.name.len() + 1);
                name.extend_from_slice(stats.name.as_bytes());
                name.push(0);
                Entry {
                    name,
                    stats: mqlite_bridge_stats::from(stats),
                }
            })
            .collect();
        mqlite_bridge_stats_list { entries }
    }

    fn entry(&self, index: usize) -> Result<&Entry, Failure> {
        self.entries.get(index).ok_or_else(|| {
            Failure::new(
                MQLITE_NOT_FOUND,
                format!("no bridge {index} (the list has {})", self.entries.len()),
            )
        })
    }
}

/// Writes a new list to `list_out`.
///
/// # Safety
/// `list_out` is NULL or writable.
pub(super) unsafe fn give_list(
    list_out: *mut *mut mqlite_bridge_stats_list,
    stats: &[BridgeStats],
) -> Result<(), Failure> {
    if list_out.is_null() {
        return Err(Failure::null("list_out"));
    }
    let list = Box::into_raw(Box::new(mqlite_bridge_stats_list::new(stats)));
    // SAFETY: not NULL; writable by the caller's contract.
    unsafe { out(list_out, "list_out", list) }
}

/// The size of the library's `mqlite_bridge_stats`.
///
/// # Parameters
/// None.
///
/// # Returns
/// The library's `sizeof(mqlite_bridge_stats)`. A field of your header
/// exists in the library when `offsetof(mqlite_bridge_stats, field) <
/// mqlite_bridge_stats_size()`; the others read 0.
///
/// # Memory and lifetimes
/// Nothing is kept.
#[no_mangle]
pub extern "C" fn mqlite_bridge_stats_size() -> usize {
    guard(BRIDGE_STATS_SIZE_FIRST, size_of::<mqlite_bridge_stats>)
}

/// Frees a list of bridge stats.
///
/// # Parameters
/// - `list`: from `mqlite_broker_bridge_stats()` or
///   `mqlite_handle_bridge_stats()`, or NULL (nothing happens).
///
/// # Returns
/// Nothing.
///
/// # Memory and lifetimes
/// Takes ownership: the pointer, and every name read from the list, must
/// not be used again.
///
/// # Safety
/// `list` is NULL or a list not yet freed.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_stats_list_free(list: *mut mqlite_bridge_stats_list) {
    guard((), || {
        if !list.is_null() {
            // SAFETY: made by `Box::into_raw` in `give_list`, and the caller
            // gives up ownership here.
            drop(unsafe { Box::from_raw(list) });
        }
    })
}

/// How many bridges a list holds.
///
/// # Parameters
/// - `list`: the list.
/// - `count_out`: receives the number of bridges (0 for a broker without
///   any); they are numbered from 0, in the order they were added (those
///   of the config first).
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
pub unsafe extern "C" fn mqlite_bridge_stats_list_count(
    list: *const mqlite_bridge_stats_list,
    count_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_bridge_stats_list_count", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        // SAFETY: NULL or writable.
        unsafe { out(count_out, "count_out", list.entries.len()) }
    })
}

/// The name of a bridge in a list.
///
/// # Parameters
/// - `list`: the list.
/// - `index`: from 0 to the count less 1.
/// - `name_out`: receives the name (UTF-8, NUL-terminated).
/// - `len_out`: receives its length in bytes, without the NUL.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (`index` past
/// the last).
///
/// # Memory and lifetimes
/// `*name_out` belongs to the list: valid until
/// `mqlite_bridge_stats_list_free()`; do not free it. The out-parameters
/// are written only on success.
///
/// # Safety
/// `list` is NULL or live; the out-parameters are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_stats_list_name(
    list: *const mqlite_bridge_stats_list,
    index: usize,
    name_out: *mut *const c_char,
    len_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_bridge_stats_list_name", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        // Both checked before anything is written, and before the index.
        if name_out.is_null() {
            return Err(Failure::null("name_out"));
        }
        if len_out.is_null() {
            return Err(Failure::null("len_out"));
        }
        let entry = list.entry(index)?;
        // SAFETY: checked not NULL; writable by the caller's contract.
        unsafe { out(name_out, "name_out", entry.name.as_ptr().cast::<c_char>()) }?;
        // SAFETY: checked not NULL; writable by the caller's contract.
        unsafe { out(len_out, "len_out", entry.name.len() - 1) }
    })
}

/// The state and counters of a bridge in a list, into a
/// `mqlite_bridge_stats` of the caller's size.
///
/// # Parameters
/// - `list`: the list.
/// - `index`: from 0 to the count less 1.
/// - `stats_out`: receives the state and counters.
/// - `stats_size`: `sizeof(mqlite_bridge_stats)` as the caller's header has
///   it. The library writes its fields up to that size and zeroes the
///   rest.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_NOT_FOUND` (`index` past
/// the last), `MQLITE_INVALID_ARGUMENT` (`stats_size` smaller than the
/// first `mqlite_bridge_stats`, 48 bytes).
///
/// # Memory and lifetimes
/// The caller owns `*stats_out`; exactly `stats_size` bytes of it are
/// written, only on success, and nothing is kept.
///
/// # Safety
/// `list` is NULL or live; `stats_out` is NULL or points to `stats_size`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_bridge_stats_list_get(
    list: *const mqlite_bridge_stats_list,
    index: usize,
    stats_out: *mut mqlite_bridge_stats,
    stats_size: usize,
) -> mqlite_result {
    boundary("mqlite_bridge_stats_list_get", || {
        // SAFETY: NULL or live.
        let list = unsafe { arg(list, "list") }?;
        if stats_out.is_null() {
            return Err(Failure::null("stats_out"));
        }
        if stats_size < BRIDGE_STATS_SIZE_FIRST {
            return Err(Failure::new(
                MQLITE_INVALID_ARGUMENT,
                format!(
                    "stats size {stats_size} is smaller than any mqlite_bridge_stats \
                     ({BRIDGE_STATS_SIZE_FIRST} bytes): pass sizeof(mqlite_bridge_stats)"
                ),
            ));
        }
        let entry = list.entry(index)?;
        // SAFETY: u64 fields only; `stats_out` is not NULL and has
        // `stats_size` writable bytes (the caller's contract), which do not
        // overlap the list.
        unsafe { copy_sized(&entry.stats, stats_out.cast::<u8>(), stats_size) };
        Ok(())
    })
}
