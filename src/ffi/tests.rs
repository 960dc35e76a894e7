//! The header check, and a few calls through the C API from Rust.

use std::ffi::CStr;
use std::path::Path;
use std::ptr;

use super::broker::*;
use super::config::*;
use super::handle::*;
use super::result::*;

/// The committed `include/mqlite.h` must be what build.rs generated from
/// this source. `MQLITE_BLESS_HEADER=1 cargo test --lib ffi::` rewrites it.
#[test]
fn committed_header_is_current() {
    let generated_path = concat!(env!("OUT_DIR"), "/mqlite.h");
    let generated = std::fs::read_to_string(generated_path).unwrap_or_else(|error| {
        panic!("{generated_path}: {error} (did cbindgen fail? see the build warnings)")
    });
    let committed_path = Path::new(env!("CARGO_MANIFEST_DIR")).join("include/mqlite.h");
    if std::env::var_os("MQLITE_BLESS_HEADER").is_some() {
        std::fs::write(&committed_path, &generated).expect("write include/mqlite.h");
        return;
    }
    let committed = std::fs::read_to_string(&committed_path).unwrap_or_default();
    if committed != generated {
        let line = committed
            .lines()
            .zip(generated.lines())
            .position(|(a, b)| a != b)
            .unwrap_or_else(|| committed.lines().count().min(generated.lines().count()))
            + 1;
        panic!(
            "include/mqlite.h differs from the generated header (first at line {line}); \
             regenerate it with `MQLITE_BLESS_HEADER=1 cargo test --lib ffi::` and commit it"
        );
    }
}

#[test]
fn version_matches_cargo() {
    // SAFETY: a static NUL-terminated string.
    let version = unsafe { CStr::from_ptr(mqlite_version()) };
    assert_eq!(version.to_str().unwrap(), env!("CARGO_PKG_VERSION"));
}

#[test]
fn every_code_has_its_own_text() {
    let codes = [
        MQLITE_OK,
        MQLITE_NULL_PARAMETER,
        MQLITE_INVALID_UTF8,
        MQLITE_INVALID_ARGUMENT,
        MQLITE_INVALID_ADDRESS,
        MQLITE_INVALID_TOPIC,
        MQLITE_INVALID_CONFIG,
        MQLITE_BIND_FAILED,
        MQLITE_IO,
        MQLITE_PERSISTENCE,
        MQLITE_STOPPED,
        MQLITE_NOT_FOUND,
        MQLITE_BUSY,
        MQLITE_LOGGER_TAKEN,
        MQLITE_PANIC,
        MQLITE_ERROR,
    ];
    // SAFETY: a static NUL-terminated string.
    let unknown = unsafe { CStr::from_ptr(mqlite_result_text(1)) };
    let mut texts = std::collections::HashSet::new();
    for code in codes {
        // SAFETY: static NUL-terminated strings.
        let text = unsafe { CStr::from_ptr(mqlite_result_text(code)) };
        assert_ne!(text, unknown, "code {code}");
        assert!(texts.insert(text.to_owned()), "code {code} repeats a text");
    }
}

#[test]
fn broker_through_the_c_api() {
    // SAFETY: every pointer passed is NULL, a NUL-terminated literal, a
    // local out-parameter, or an object made here and freed once.
    unsafe {
        let config = mqlite_config_new();
        assert_eq!(
            mqlite_config_add_listener(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_add_listener(config, c"nope".as_ptr()),
            MQLITE_INVALID_ADDRESS
        );
        let mut broker = ptr::null_mut();
        assert_eq!(mqlite_broker_new(config, &mut broker), MQLITE_OK);
        mqlite_config_free(config);
        let mut port = 0u16;
        assert_eq!(mqlite_broker_local_port(broker, 0, &mut port), MQLITE_OK);
        assert_ne!(port, 0);
        assert_eq!(
            mqlite_broker_local_port(broker, 1, &mut port),
            MQLITE_NOT_FOUND
        );
        let mut handle = ptr::null_mut();
        assert_eq!(mqlite_broker_handle(broker, &mut handle), MQLITE_OK);
        assert_eq!(mqlite_handle_stop(handle), MQLITE_OK);
        assert_eq!(mqlite_broker_run(broker), MQLITE_OK);
        assert!(mqlite_handle_is_stopped(handle));
        assert_eq!(
            mqlite_handle_publish(handle, c"t".as_ptr(), ptr::null(), 0, 0, false),
            MQLITE_STOPPED
        );
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
        mqlite_broker_free(ptr::null_mut());
        mqlite_handle_free(ptr::null_mut());
    }
}
