//! Waiting for something to happen: poll a condition until it holds, with
//! a deadline, instead of sleeping for a time that is usually long enough;
//! [`join_within`] for a thread that must finish.

use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How often a condition is polled.
const POLL: Duration = Duration::from_millis(5);

/// Polls `cond` until it holds; panics with `what` if it still does not
/// after `timeout`.
#[track_caller]
pub fn wait_until(timeout: Duration, what: &str, cond: impl FnMut() -> bool) {
    assert!(poll_until(timeout, cond), "{what}: not within {timeout:?}");
}

/// Polls `cond` until it holds (true) or `timeout` passes (false), for the
/// callers that report the failure themselves.
pub fn poll_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}

/// Polls `get` until it returns `Some`; panics with `what` after `timeout`.
#[track_caller]
pub fn wait_for<T>(timeout: Duration, what: &str, mut get: impl FnMut() -> Option<T>) -> T {
    let mut found = None;
    wait_until(timeout, what, || {
        found = get();
        found.is_some()
    });
    found.expect("the condition held")
}

/// Joins `thread` if it finishes within `timeout` (a thread that does not
/// is left running, detached). A panic in the thread is re-raised.
pub fn join_within<T>(thread: JoinHandle<T>, timeout: Duration) -> Option<T> {
    if !poll_until(timeout, || thread.is_finished()) {
        return None;
    }
    match thread.join() {
        Ok(value) => Some(value),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}
