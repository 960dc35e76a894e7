//! The panic boundary every exported function runs inside, and the helpers
//! that turn pointers from C into references or refuse them.

use std::ffi::{c_char, CStr};
use std::panic::{catch_unwind, AssertUnwindSafe};

use super::result::{mqlite_result, Failure, MQLITE_INVALID_UTF8, MQLITE_OK, MQLITE_PANIC};

/// The text of a caught panic.
fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".to_string())
}

/// Runs `body`; a panic becomes `on_panic` (and a log line) instead of
/// unwinding into C. For functions that do not return a result code.
pub(crate) fn guard<T>(on_panic: T, body: impl FnOnce() -> T) -> T {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(value) => value,
        Err(panic) => {
            let text = panic_text(&*panic);
            ::log::error!("mqlite C API: panic caught at the boundary: {text}");
            Failure::new(MQLITE_PANIC, text).remember("mqlite");
            on_panic
        }
    }
}

/// Runs `body` for the exported function `function`: `Ok` is `MQLITE_OK`,
/// an error is its code (its detail kept for `mqlite_last_error_text`), a
/// panic is `MQLITE_PANIC`.
pub(crate) fn boundary(
    function: &'static str,
    body: impl FnOnce() -> Result<(), Failure>,
) -> mqlite_result {
    match catch_unwind(AssertUnwindSafe(body)) {
        Ok(Ok(())) => MQLITE_OK,
        Ok(Err(failure)) => {
            failure.remember(function);
            failure.code
        }
        Err(panic) => {
            let text = panic_text(&*panic);
            ::log::error!("{function}: panic caught at the C API boundary: {text}");
            Failure::new(MQLITE_PANIC, format!("panicked: {text}")).remember(function);
            MQLITE_PANIC
        }
    }
}

/// A shared reference from a pointer, or `MQLITE_NULL_PARAMETER`.
///
/// # Safety
/// `ptr` must be NULL or valid for reads as a `T` for `'a`.
pub(crate) unsafe fn arg<'a, T>(ptr: *const T, what: &str) -> Result<&'a T, Failure> {
    // SAFETY: the caller's contract.
    unsafe { ptr.as_ref() }.ok_or_else(|| Failure::null(what))
}

/// Writes an out-parameter, or refuses a NULL one.
///
/// # Safety
/// `ptr` must be NULL or valid for writes as a `T`.
pub(crate) unsafe fn out<T>(ptr: *mut T, what: &str, value: T) -> Result<(), Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: not NULL, and valid for writes by the caller's contract;
    // `write` does not read (or drop) whatever was there.
    unsafe { ptr.write(value) };
    Ok(())
}

/// A `&str` from a NUL-terminated C string, or a NULL / UTF-8 refusal.
///
/// # Safety
/// `ptr` must be NULL or point to a NUL-terminated string alive for `'a`.
pub(crate) unsafe fn c_str<'a>(ptr: *const c_char, what: &str) -> Result<&'a str, Failure> {
    if ptr.is_null() {
        return Err(Failure::null(what));
    }
    // SAFETY: not NULL, and NUL-terminated by the caller's contract.
    let bytes = unsafe { CStr::from_ptr(ptr) }.to_bytes();
    std::str::from_utf8(bytes).map_err(|error| {
        Failure::new(
            MQLITE_INVALID_UTF8,
            format!("`{what}` is not valid UTF-8 ({error})"),
        )
    })
}

/// A byte slice from a pointer and a length; NULL is allowed only for an
/// empty slice.
///
/// # Safety
/// `ptr` must be NULL or point to `len` readable bytes alive for `'a`.
pub(crate) unsafe fn bytes<'a>(
    ptr: *const u8,
    len: usize,
    what: &str,
) -> Result<&'a [u8], Failure> {
    if ptr.is_null() {
        if len == 0 {
            return Ok(&[]);
        }
        return Err(Failure::null(what));
    }
    // SAFETY: not NULL, `len` readable bytes by the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(ptr, len) })
}

/// A `&str` from a pointer and a length (not NUL-terminated).
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn str_len<'a>(
    ptr: *const c_char,
    len: usize,
    what: &str,
) -> Result<&'a str, Failure> {
    // SAFETY: the caller's contract, passed on.
    let bytes = unsafe { bytes(ptr.cast::<u8>(), len, what) }?;
    std::str::from_utf8(bytes).map_err(|error| {
        Failure::new(
            MQLITE_INVALID_UTF8,
            format!("`{what}` is not valid UTF-8 ({error})"),
        )
    })
}
