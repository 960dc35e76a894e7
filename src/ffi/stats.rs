//! The counters written into a caller's `mqlite_stats` of any version.
//!
//! `mqlite_stats` is allocated by the C program, so its size is the one of
//! the header the program was compiled with. It only grows, by `uint64_t`
//! counters appended at its end; the `_sized` functions take the caller's
//! `sizeof(mqlite_stats)`, write the counters both sides know and zero
//! the ones only the caller's header names. The functions of mqlite 0.1
//! without a size write the 0.1 struct, whatever the library's has grown
//! to, since that is all their callers may have allocated.

use std::mem::size_of;
use std::time::Duration;

use super::broker::{mqlite_broker, with_broker};
use super::handle::mqlite_handle;
use super::panic::{arg, boundary, guard};
use super::result::{mqlite_result, Failure, MQLITE_INVALID_ARGUMENT};
use super::types::mqlite_stats;
use crate::Stats;

/// The size of `mqlite_stats` in mqlite 0.1: twelve counters.
pub(crate) const STATS_SIZE_0_1: usize = 12 * size_of::<u64>();

// Only `u64` counters are ever appended, so the struct has no padding and
// its bytes may be copied as they are.
const _: () = assert!(size_of::<mqlite_stats>().is_multiple_of(size_of::<u64>()));
const _: () = assert!(size_of::<mqlite_stats>() >= STATS_SIZE_0_1);

/// Refuses a size no `mqlite_stats` ever had (a pointer's size, a count).
pub(crate) fn check_stats_size(size: usize) -> Result<(), Failure> {
    if size < STATS_SIZE_0_1 {
        return Err(Failure::new(
            MQLITE_INVALID_ARGUMENT,
            format!(
                "stats size {size} is smaller than any mqlite_stats ({STATS_SIZE_0_1} bytes): \
                 pass sizeof(mqlite_stats)"
            ),
        ));
    }
    Ok(())
}

/// Writes `stats` into the caller's `out`, which is `size` bytes: the
/// library's counters up to `size`, then zeroes.
///
/// # Safety
/// `out` is NULL or points to `size` writable bytes.
pub(crate) unsafe fn write_stats(
    stats: &Stats,
    out: *mut mqlite_stats,
    size: usize,
    what: &str,
) -> Result<(), Failure> {
    if out.is_null() {
        return Err(Failure::null(what));
    }
    check_stats_size(size)?;
    let value = mqlite_stats::from(stats);
    // SAFETY: `mqlite_stats` has u64 fields only; `out` has `size`
    // writable bytes (the caller's contract), and a caller's buffer never
    // overlaps a local.
    unsafe { copy_sized(&value, out.cast::<u8>(), size) };
    Ok(())
}

/// Copies a struct the library fills into the caller's `size` bytes at
/// `out`: the library's fields up to `size`, then zeroes for the fields
/// only a later header names.
///
/// # Safety
/// `T` has no padding (every byte of it is initialised: `u64` fields
/// only); `out` points to `size` writable bytes that do not overlap
/// `value`.
pub(crate) unsafe fn copy_sized<T>(value: &T, out: *mut u8, size: usize) {
    let known = size.min(size_of::<T>());
    // SAFETY: `value` is `size_of::<T>()` initialised bytes and `known` is
    // no more than that; `out` has `size` writable bytes and `known` <=
    // `size`; they do not overlap (the caller's contract).
    unsafe {
        std::ptr::copy_nonoverlapping((value as *const T).cast::<u8>(), out, known);
        std::ptr::write_bytes(out.add(known), 0, size - known);
    }
}

/// The size of the library's `mqlite_stats`: the counters
/// `mqlite_broker_stats_sized()` and `mqlite_handle_stats_sized()` fill.
///
/// # Parameters
/// None.
///
/// # Returns
/// The library's `sizeof(mqlite_stats)`. A counter of your header exists in
/// the library when `offsetof(mqlite_stats, counter) < mqlite_stats_size()`;
/// the others read 0.
///
/// # Memory and lifetimes
/// Nothing is kept.
#[no_mangle]
pub extern "C" fn mqlite_stats_size() -> usize {
    guard(STATS_SIZE_0_1, size_of::<mqlite_stats>)
}

/// The broker's counters, read directly (on the thread that runs it, not
/// during a run), into a `mqlite_stats` of the caller's size: the form that
/// keeps working as `mqlite_stats` grows. Other threads use
/// `mqlite_handle_stats_sized()`.
///
/// # Parameters
/// - `broker`: the broker.
/// - `stats_out`: receives the counters.
/// - `stats_size`: `sizeof(mqlite_stats)` as the caller's header has it. The
///   library writes its counters up to that size and zeroes the rest.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT`
/// (`stats_size` smaller than the first `mqlite_stats`, 96 bytes),
/// `MQLITE_BUSY`.
///
/// # Memory and lifetimes
/// The caller owns `*stats_out`; exactly `stats_size` bytes of it are
/// written, only on success, and nothing is kept.
///
/// # Safety
/// `broker` is NULL or live; `stats_out` is NULL or points to `stats_size`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_broker_stats_sized(
    broker: *const mqlite_broker,
    stats_out: *mut mqlite_stats,
    stats_size: usize,
) -> mqlite_result {
    boundary("mqlite_broker_stats_sized", || {
        // SAFETY: NULL or live.
        let stats = unsafe { with_broker(broker, |broker| Ok(broker.stats())) }?;
        // SAFETY: NULL or `stats_size` writable bytes.
        unsafe { write_stats(&stats, stats_out, stats_size, "stats_out") }
    })
}

/// Reads the broker's counters through a handle, like
/// `mqlite_handle_stats()`, into a `mqlite_stats` of the caller's size:
/// the form that keeps working as `mqlite_stats` grows.
///
/// # Parameters
/// - `handle`: a handle of the broker.
/// - `timeout_ms`: how long to wait for the broker thread, in milliseconds.
/// - `stats_out`: receives the counters.
/// - `stats_size`: `sizeof(mqlite_stats)` as the caller's header has it. The
///   library writes its counters up to that size and zeroes the rest.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER`, `MQLITE_INVALID_ARGUMENT`
/// (`stats_size` smaller than the first `mqlite_stats`, 96 bytes),
/// `MQLITE_ON_BROKER_THREAD` (called from a callback of this broker),
/// `MQLITE_STOPPED` (stopped, or no answer in time).
///
/// # Memory and lifetimes
/// The caller owns `*stats_out`; exactly `stats_size` bytes of it are
/// written, only on success, and nothing is kept.
///
/// # Safety
/// `handle` is NULL or live; `stats_out` is NULL or points to `stats_size`
/// writable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_handle_stats_sized(
    handle: *const mqlite_handle,
    timeout_ms: u64,
    stats_out: *mut mqlite_stats,
    stats_size: usize,
) -> mqlite_result {
    boundary("mqlite_handle_stats_sized", || {
        // SAFETY: NULL or live.
        let handle = unsafe { arg(handle, "handle") }?;
        // The arguments are checked before waiting for the broker.
        if stats_out.is_null() {
            return Err(Failure::null("stats_out"));
        }
        check_stats_size(stats_size)?;
        let stats = handle.inner.stats(Duration::from_millis(timeout_ms))?;
        // SAFETY: not NULL; `stats_size` writable bytes by the contract.
        unsafe { write_stats(&stats, stats_out, stats_size, "stats_out") }
    })
}
