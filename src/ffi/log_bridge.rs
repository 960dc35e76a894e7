//! Routes the `log` crate's records (everything mqlite logs) to a C
//! callback.
//!
//! The `log` crate allows one logger per process, set once and never
//! removed, so the bridge is process-global: it is installed at the first
//! `mqlite_set_log_callback()`, and later calls only swap the callback and
//! the level.

use std::ffi::{c_char, c_void};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use super::callbacks::UserData;
use super::panic::boundary;
use super::result::{mqlite_result, Failure, MQLITE_LOGGER_TAKEN};

/// A log level: one of the `MQLITE_LOG_*` values, from the most severe.
pub type mqlite_log_level = u32;
/// No logging (as a maximum level: turns the callback off).
pub const MQLITE_LOG_OFF: mqlite_log_level = 0;
/// Errors.
pub const MQLITE_LOG_ERROR: mqlite_log_level = 1;
/// Warnings.
pub const MQLITE_LOG_WARN: mqlite_log_level = 2;
/// Information (listening, restored sessions).
pub const MQLITE_LOG_INFO: mqlite_log_level = 3;
/// Debugging detail (connections accepted and closed).
pub const MQLITE_LOG_DEBUG: mqlite_log_level = 4;
/// Very verbose tracing.
pub const MQLITE_LOG_TRACE: mqlite_log_level = 5;

/// Receives one log record.
///
/// Parameters: `userdata` as given to `mqlite_set_log_callback()`;
/// `level`, one of `MQLITE_LOG_ERROR` to `MQLITE_LOG_TRACE`; `target`, the
/// module that logged (e.g. `mqlite::reactor`); `message`, the text.
///
/// Memory and lifetimes: `target` and `message` are borrowed, valid only
/// during the call, UTF-8 and NOT NUL-terminated (print them with
/// `"%.*s", (int)len, ptr`).
///
/// Threads: called on whichever thread logs: the broker thread, a thread
/// using a handle, or the caller of a failing function, possibly several at
/// once. It must be thread-safe and must not block for long.
pub type mqlite_log_callback = Option<
    unsafe extern "C" fn(
        userdata: *mut c_void,
        level: mqlite_log_level,
        target: *const c_char,
        target_len: usize,
        message: *const c_char,
        message_len: usize,
    ),
>;

type LogFn =
    unsafe extern "C" fn(*mut c_void, mqlite_log_level, *const c_char, usize, *const c_char, usize);

/// The callback in use, if any.
static CALLBACK: Mutex<Option<(LogFn, UserData)>> = Mutex::new(None);
/// Whether our logger is the process's `log` logger.
static INSTALLED: AtomicBool = AtomicBool::new(false);
static BRIDGE: Bridge = Bridge;

struct Bridge;

impl ::log::Log for Bridge {
    fn enabled(&self, metadata: &::log::Metadata<'_>) -> bool {
        metadata.level() <= ::log::max_level()
    }

    fn log(&self, record: &::log::Record<'_>) {
        if !self.enabled(record.metadata()) {
            return;
        }
        // Copy the callback out so it runs without the lock held (it may
        // log, or set another callback).
        let current = *CALLBACK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let Some((callback, userdata)) = current else {
            return;
        };
        let level = match record.level() {
            ::log::Level::Error => MQLITE_LOG_ERROR,
            ::log::Level::Warn => MQLITE_LOG_WARN,
            ::log::Level::Info => MQLITE_LOG_INFO,
            ::log::Level::Debug => MQLITE_LOG_DEBUG,
            ::log::Level::Trace => MQLITE_LOG_TRACE,
        };
        let message = record.args().to_string();
        let target = record.target();
        // SAFETY: the host's function pointer, with its userdata and
        // strings that outlive the call. The host made it thread-safe, as
        // documented on `mqlite_log_callback`.
        unsafe {
            callback(
                userdata.get(),
                level,
                target.as_ptr().cast::<c_char>(),
                target.len(),
                message.as_ptr().cast::<c_char>(),
                message.len(),
            )
        }
    }

    fn flush(&self) {}
}

/// Routes mqlite's log records at `max_level` and more severe to
/// `callback`.
///
/// Process-global: the `log` crate allows one logger per process, so this
/// sets it for every broker in the process, and the logger, once set,
/// stays for the life of the process. Later calls replace the callback,
/// userdata and level; a NULL callback (or `MQLITE_LOG_OFF`) turns logging
/// off. If the process already has another `log` logger (a Rust host that
/// set its own), records go there instead and this answers
/// `MQLITE_LOGGER_TAKEN`.
///
/// # Parameters
/// - `callback`: the receiver, or NULL to stop logging.
/// - `userdata`: passed back to every call.
/// - `max_level`: `MQLITE_LOG_OFF` to `MQLITE_LOG_TRACE`.
///
/// # Returns
/// `MQLITE_OK`, `MQLITE_INVALID_ARGUMENT` (level above
/// `MQLITE_LOG_TRACE`), `MQLITE_LOGGER_TAKEN`.
///
/// # Memory and lifetimes
/// `userdata` must stay alive, and usable from any thread, until the
/// callback is replaced (and any call in progress on another thread has
/// returned) or the process ends.
///
/// # Safety
/// `callback` is NULL or a function of the right type.
#[no_mangle]
pub unsafe extern "C" fn mqlite_set_log_callback(
    callback: mqlite_log_callback,
    userdata: *mut c_void,
    max_level: mqlite_log_level,
) -> mqlite_result {
    boundary("mqlite_set_log_callback", || {
        let filter = match max_level {
            MQLITE_LOG_OFF => ::log::LevelFilter::Off,
            MQLITE_LOG_ERROR => ::log::LevelFilter::Error,
            MQLITE_LOG_WARN => ::log::LevelFilter::Warn,
            MQLITE_LOG_INFO => ::log::LevelFilter::Info,
            MQLITE_LOG_DEBUG => ::log::LevelFilter::Debug,
            MQLITE_LOG_TRACE => ::log::LevelFilter::Trace,
            other => {
                return Err(Failure::invalid(
                    "max_level",
                    format!("{other} is not an MQLITE_LOG_* level"),
                ))
            }
        };
        if !INSTALLED.load(Ordering::Acquire) {
            // Serialise installers on the callback lock.
            let _lock = CALLBACK
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner());
            if !INSTALLED.load(Ordering::Acquire) {
                ::log::set_logger(&BRIDGE).map_err(|_| {
                    Failure::new(
                        MQLITE_LOGGER_TAKEN,
                        "the process already has a `log` logger",
                    )
                })?;
                INSTALLED.store(true, Ordering::Release);
            }
        }
        let entry = callback.map(|callback| (callback, UserData::new(userdata)));
        *CALLBACK
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = entry;
        ::log::set_max_level(if entry.is_some() {
            filter
        } else {
            ::log::LevelFilter::Off
        });
        Ok(())
    })
}
