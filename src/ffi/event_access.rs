//! Accessors of the lent `mqlite_event` for what events gained after its
//! layout was frozen: the counts of an `MQLITE_EVENT_QUEUE_OVERFLOW`.
//!
//! Like every accessor (see `view_access.rs`) they take the pointer the
//! callback was given and refuse anything else.

use super::panic::{boundary, out};
use super::result::{mqlite_result, Failure, MQLITE_INVALID_ARGUMENT};
use super::types::mqlite_event;
use super::views;
use crate::hooks::Event;

/// The counts of an `MQLITE_EVENT_QUEUE_OVERFLOW` event.
///
/// # Parameters
/// - `event`: the pointer the event callback was given.
/// - `dropped_out`: receives how many messages the client's queue refused
///   since the previous overflow event of its session (1 at the start of
///   an overflow, unless drops of the previous one were not told yet).
/// - `queued_out`: receives how many messages its queue holds now; NULL
///   when the caller does not need it.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_NULL_PARAMETER` (`event` or `dropped_out`),
/// `MQLITE_INVALID_ARGUMENT` (`event` is not the pointer an event callback
/// running on this thread was given, or its kind is not
/// `MQLITE_EVENT_QUEUE_OVERFLOW`).
///
/// # Memory and lifetimes
/// The out-parameters are written only on success; nothing is kept.
///
/// # Safety
/// `event` is NULL or any pointer (looked up, not read, unless it is the
/// callback's); `dropped_out` and `queued_out` are NULL or writable.
#[no_mangle]
pub unsafe extern "C" fn mqlite_event_queue_overflow(
    event: *const mqlite_event,
    dropped_out: *mut u64,
    queued_out: *mut usize,
) -> mqlite_result {
    boundary("mqlite_event_queue_overflow", || {
        // SAFETY: only used during this call, inside the callback.
        let event = unsafe { views::event(event, "event") }?;
        if dropped_out.is_null() {
            return Err(Failure::null("dropped_out"));
        }
        let Event::QueueOverflow {
            dropped, queued, ..
        } = *event
        else {
            return Err(Failure::new(
                MQLITE_INVALID_ARGUMENT,
                "`event` is not an MQLITE_EVENT_QUEUE_OVERFLOW event".to_string(),
            ));
        };
        // SAFETY: not NULL; writable by the caller's contract.
        unsafe { out(dropped_out, "dropped_out", dropped) }?;
        if !queued_out.is_null() {
            // SAFETY: not NULL; writable by the caller's contract.
            unsafe { out(queued_out, "queued_out", queued) }?;
        }
        Ok(())
    })
}
