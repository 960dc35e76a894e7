//! Result codes, their text, the version, and the per-thread error detail.

use std::cell::RefCell;
use std::ffi::c_char;

use crate::Error;

/// The outcome of a fallible mqlite call: `MQLITE_OK` (0) or one of the
/// `MQLITE_*` error codes, which start at 7001 and are never reused for
/// another meaning. `mqlite_result_text()` turns a code into words, and
/// `mqlite_last_error_text()` gives the detail of the calling thread's last
/// failure.
pub type mqlite_result = u32;

/// Success.
pub const MQLITE_OK: mqlite_result = 0;
/// A pointer argument that must not be NULL was NULL.
pub const MQLITE_NULL_PARAMETER: mqlite_result = 7001;
/// A string argument was not valid UTF-8.
pub const MQLITE_INVALID_UTF8: mqlite_result = 7002;
/// An argument is out of its range (a QoS above 2, an unknown decision, a
/// negative timeout other than -1, ...).
pub const MQLITE_INVALID_ARGUMENT: mqlite_result = 7003;
/// A listener address is not `IP:PORT` (`127.0.0.1:1883`, `[::1]:0`).
pub const MQLITE_INVALID_ADDRESS: mqlite_result = 7004;
/// A topic name or filter is not valid MQTT.
pub const MQLITE_INVALID_TOPIC: mqlite_result = 7005;
/// A configuration value is unusable (the detail names the field).
pub const MQLITE_INVALID_CONFIG: mqlite_result = 7006;
/// A listener address cannot be bound (in use, not local, no permission).
pub const MQLITE_BIND_FAILED: mqlite_result = 7007;
/// An operating system I/O error in the broker's poll.
pub const MQLITE_IO: mqlite_result = 7008;
/// The persistence file cannot be opened, read or written.
pub const MQLITE_PERSISTENCE: mqlite_result = 7009;
/// The broker has stopped (or did not answer in time): the handle can no
/// longer reach it.
pub const MQLITE_STOPPED: mqlite_result = 7010;
/// No such item: a listener index past the last, an unknown subscription.
pub const MQLITE_NOT_FOUND: mqlite_result = 7011;
/// The broker is in use: called from one of its own callbacks (use a
/// handle there), or while another thread runs it.
pub const MQLITE_BUSY: mqlite_result = 7012;
/// Another logger is installed in this process (the `log` crate allows
/// one), so the log callback cannot be.
pub const MQLITE_LOGGER_TAKEN: mqlite_result = 7013;
/// A bug: mqlite panicked inside the call. The call had no effect or a
/// partial one; the detail says where.
pub const MQLITE_PANIC: mqlite_result = 7014;
/// An error that has no code of its own yet; the detail says what.
pub const MQLITE_ERROR: mqlite_result = 7015;
/// A handle call that waits for the broker's answer (`mqlite_handle_stats()`)
/// was made from one of the broker's callbacks, on the broker thread, where
/// the broker cannot answer until the call returns: it fails at once
/// instead of waiting out its timeout. Use `mqlite_broker_stats()` between
/// passes instead.
pub const MQLITE_ON_BROKER_THREAD: mqlite_result = 7016;
/// A custom listener (`mqlite_config_add_custom_listener()`) cannot start,
/// or cannot take its files again at a reload: a certificate or key file
/// that cannot be read or used (an encrypted key, a key that is not the
/// certificate's), a Unix socket path in a missing directory or in use, a
/// socket owner or group that cannot be set, TLS or WebSocket missing from
/// this build. The detail names the listener (`mqtts://0.0.0.0:8883`,
/// `unix:/run/mqlite.sock`) and the file. (A TCP address that cannot be
/// bound is `MQLITE_BIND_FAILED`, for custom listeners too.)
pub const MQLITE_LISTENER_FAILED: mqlite_result = 7017;

/// A static, NUL-terminated C string from a literal.
macro_rules! cstr {
    ($text:expr) => {
        concat!($text, "\0").as_ptr().cast::<c_char>()
    };
}

/// Describes a result code.
///
/// # Parameters
/// - `code`: any value; unknown ones are described as such.
///
/// # Returns
/// A NUL-terminated English description, never NULL.
///
/// # Memory and lifetimes
/// The string is static: do not free it.
#[no_mangle]
pub extern "C" fn mqlite_result_text(code: mqlite_result) -> *const c_char {
    crate::ffi::panic::guard(cstr!("unknown result code"), || match code {
        MQLITE_OK => cstr!("success"),
        MQLITE_NULL_PARAMETER => cstr!("a required pointer argument was NULL"),
        MQLITE_INVALID_UTF8 => cstr!("a string argument was not valid UTF-8"),
        MQLITE_INVALID_ARGUMENT => cstr!("an argument is out of range"),
        MQLITE_INVALID_ADDRESS => cstr!("invalid listener address (expected IP:PORT)"),
        MQLITE_INVALID_TOPIC => cstr!("invalid topic name or filter"),
        MQLITE_INVALID_CONFIG => cstr!("invalid configuration value"),
        MQLITE_BIND_FAILED => cstr!("cannot listen on the address"),
        MQLITE_IO => cstr!("I/O error"),
        MQLITE_PERSISTENCE => cstr!("persistence file error"),
        MQLITE_STOPPED => cstr!("the broker has stopped"),
        MQLITE_NOT_FOUND => cstr!("no such item"),
        MQLITE_BUSY => cstr!("the broker is in use (from its own callback, or by another thread)"),
        MQLITE_LOGGER_TAKEN => cstr!("another logger is already installed in this process"),
        MQLITE_PANIC => cstr!("internal error: mqlite panicked"),
        MQLITE_ERROR => cstr!("error"),
        MQLITE_ON_BROKER_THREAD => {
            cstr!("called from a callback on the broker thread, which cannot answer while the call waits")
        }
        MQLITE_LISTENER_FAILED => {
            cstr!("a listener cannot start (certificate, key, socket path or transport)")
        }
        _ => cstr!("unknown result code"),
    })
}

/// The library's version, `MAJOR.MINOR.PATCH`.
///
/// # Parameters
/// None.
///
/// # Returns
/// A NUL-terminated string equal to the header's `MQLITE_VERSION` when the
/// header and the library match.
///
/// # Memory and lifetimes
/// The string is static: do not free it.
#[no_mangle]
pub extern "C" fn mqlite_version() -> *const c_char {
    crate::ffi::panic::guard(cstr!("unknown"), || cstr!(env!("CARGO_PKG_VERSION")))
}

thread_local! {
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Copies the detail of the calling thread's last failed mqlite call
/// (`mqlite_result_text()` plus specifics: the field, the address, the
/// topic) into `buf`, like `errno` but as text.
///
/// # Parameters
/// - `buf`: where to write; may be NULL when `buf_len` is 0 (to ask for the
///   length).
/// - `buf_len`: the size of `buf` in bytes. The text is cut to fit and
///   always NUL-terminated when `buf_len` > 0.
///
/// # Returns
/// The full length of the detail in bytes, without the NUL (0 if no call
/// on this thread has failed yet). Only meaningful right after a call that
/// returned an error: successful calls do not clear it.
///
/// # Memory and lifetimes
/// `buf` is only written during the call; the caller owns it.
///
/// # Safety
/// `buf` must be NULL or point to `buf_len` writable bytes.
#[no_mangle]
pub unsafe extern "C" fn mqlite_last_error_text(buf: *mut c_char, buf_len: usize) -> usize {
    crate::ffi::panic::guard(0, || {
        // `try_with`: 0 instead of a panic during thread teardown.
        LAST_ERROR
            .try_with(|last| {
                let Ok(last) = last.try_borrow() else {
                    return 0;
                };
                let bytes = last.as_bytes();
                if !buf.is_null() && buf_len > 0 {
                    let n = bytes.len().min(buf_len - 1);
                    // SAFETY: the caller gives `buf_len` writable bytes at
                    // `buf`; `n + 1 <= buf_len`, and `bytes` is our own string,
                    // so the two cannot overlap.
                    unsafe {
                        std::ptr::copy_nonoverlapping(bytes.as_ptr(), buf.cast::<u8>(), n);
                        *buf.add(n) = 0;
                    }
                }
                bytes.len()
            })
            .unwrap_or(0)
    })
}

/// Why a call failed: the code returned to C and the detail kept for
/// `mqlite_last_error_text`.
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: mqlite_result,
    pub(crate) detail: String,
}

impl Failure {
    pub(crate) fn new(code: mqlite_result, detail: impl Into<String>) -> Failure {
        Failure {
            code,
            detail: detail.into(),
        }
    }

    /// A NULL pointer where `what` was needed.
    pub(crate) fn null(what: &str) -> Failure {
        Failure::new(MQLITE_NULL_PARAMETER, format!("`{what}` is NULL"))
    }

    /// `what` is out of range.
    pub(crate) fn invalid(what: &str, why: impl std::fmt::Display) -> Failure {
        Failure::new(MQLITE_INVALID_ARGUMENT, format!("`{what}`: {why}"))
    }

    /// The broker is claimed by a run or another thread.
    pub(crate) fn busy() -> Failure {
        Failure::new(
            MQLITE_BUSY,
            "the broker is in use: this call came from one of its own callbacks \
             (use a mqlite_handle there) or while another thread uses it",
        )
    }

    /// Records the detail for this thread.
    pub(crate) fn remember(&self, function: &str) {
        let text = format!("{function}: {}", self.detail);
        let _ = LAST_ERROR.try_with(|last| {
            if let Ok(mut last) = last.try_borrow_mut() {
                *last = text;
            }
        });
    }
}

impl From<Error> for Failure {
    fn from(error: Error) -> Failure {
        let code = match &error {
            Error::Config { .. } => MQLITE_INVALID_CONFIG,
            Error::Bind { .. } => MQLITE_BIND_FAILED,
            Error::Listener { .. } => MQLITE_LISTENER_FAILED,
            Error::Io(_) => MQLITE_IO,
            Error::InvalidTopic(_) => MQLITE_INVALID_TOPIC,
            Error::Store { .. } => MQLITE_PERSISTENCE,
            Error::Stopped => MQLITE_STOPPED,
            Error::OnBrokerThread => MQLITE_ON_BROKER_THREAD,
            Error::ConfigFile { .. } => MQLITE_INVALID_CONFIG,
            // A variant added later gets the generic code until it has one.
            #[allow(unreachable_patterns)]
            _ => MQLITE_ERROR,
        };
        Failure::new(code, error.to_string())
    }
}
