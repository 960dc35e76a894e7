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
        MQLITE_ON_BROKER_THREAD,
        MQLITE_LISTENER_FAILED,
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

/// A broker on an ephemeral port without `$SYS` (so without timers), its
/// handle, and a first pass done.
///
/// # Safety
/// The caller frees both.
pub(super) unsafe fn quiet_broker() -> (*mut mqlite_broker, *mut mqlite_handle) {
    // SAFETY: objects made here; out-parameters are locals.
    unsafe {
        let config = mqlite_config_new();
        assert_eq!(
            mqlite_config_add_listener(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
        let mut broker = ptr::null_mut();
        assert_eq!(mqlite_broker_new(config, &mut broker), MQLITE_OK);
        mqlite_config_free(config);
        let mut handle = ptr::null_mut();
        assert_eq!(mqlite_broker_handle(broker, &mut handle), MQLITE_OK);
        let mut running = false;
        assert_eq!(mqlite_broker_run_once(broker, 0, &mut running), MQLITE_OK);
        assert!(running);
        (broker, handle)
    }
}

/// (descriptor readable now, milliseconds to the deadline).
///
/// # Safety
/// `broker` is live.
unsafe fn due(broker: *mut mqlite_broker) -> (bool, i64) {
    let mut fd = -1;
    let mut ms = 0;
    // SAFETY: live broker, local out-parameters, one pollfd; a zero
    // timeout never blocks.
    unsafe {
        assert_eq!(mqlite_broker_fd(broker, &mut fd), MQLITE_OK);
        assert_eq!(mqlite_broker_next_deadline_ms(broker, &mut ms), MQLITE_OK);
        let mut poll = libc::pollfd {
            fd,
            events: libc::POLLIN,
            revents: 0,
        };
        let readable = libc::poll(&mut poll, 1, 0) > 0 && poll.revents != 0;
        (readable, ms)
    }
}

extern "C" fn ignore(_: *mut std::ffi::c_void, _: *const super::types::mqlite_message) {}

#[test]
fn direct_calls_make_the_next_pass_due() {
    // SAFETY: objects made here and freed once; literals are
    // NUL-terminated; out-parameters are locals.
    unsafe {
        let (broker, handle) = quiet_broker();
        assert_eq!(due(broker), (false, -1), "nothing to do yet");
        assert_eq!(
            mqlite_broker_publish(broker, c"t/x".as_ptr(), b"hi".as_ptr(), 2, 0, true),
            MQLITE_OK
        );
        assert_eq!(due(broker), (true, 0), "after mqlite_broker_publish");
        let mut running = false;
        assert_eq!(mqlite_broker_run_once(broker, 0, &mut running), MQLITE_OK);
        assert_eq!(due(broker), (false, -1), "the pass did the work");
        let mut id = 0;
        assert_eq!(
            mqlite_broker_subscribe_local(
                broker,
                c"t/#".as_ptr(),
                0,
                Some(ignore),
                ptr::null_mut(),
                &mut id
            ),
            MQLITE_OK
        );
        assert_eq!(
            due(broker),
            (true, 0),
            "after mqlite_broker_subscribe_local"
        );
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
    }
}

#[test]
fn subscription_out_may_be_null() {
    // SAFETY: as above.
    unsafe {
        let (broker, handle) = quiet_broker();
        assert_eq!(
            mqlite_broker_subscribe_local(
                broker,
                c"a/#".as_ptr(),
                1,
                Some(ignore),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_handle_subscribe_local(
                handle,
                c"b/#".as_ptr(),
                1,
                Some(ignore),
                ptr::null_mut(),
                ptr::null_mut()
            ),
            MQLITE_OK
        );
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
    }
}

/// What the local callback of `stats_from_a_callback_fails_at_once` saw.
struct StatsFromCallback {
    handle: *mut mqlite_handle,
    results: Vec<(mqlite_result, std::time::Duration)>,
}

extern "C" fn ask_stats(userdata: *mut std::ffi::c_void, _: *const super::types::mqlite_message) {
    // SAFETY: the test passes a live `StatsFromCallback` and uses it only
    // on this (the broker's) thread.
    let seen = unsafe { &mut *userdata.cast::<StatsFromCallback>() };
    let started = std::time::Instant::now();
    let mut stats = std::mem::MaybeUninit::uninit();
    // SAFETY: live handle; `stats` is writable.
    let rc = unsafe { mqlite_handle_stats(seen.handle, 2000, stats.as_mut_ptr()) };
    seen.results.push((rc, started.elapsed()));
}

#[test]
fn stats_from_a_callback_fails_at_once() {
    // SAFETY: objects made here and freed once; `seen` outlives the broker
    // and is only used on this thread.
    unsafe {
        let (broker, handle) = quiet_broker();
        let mut seen = StatsFromCallback {
            handle,
            results: Vec::new(),
        };
        let userdata = (&mut seen as *mut StatsFromCallback).cast();
        assert_eq!(
            mqlite_broker_subscribe_local(
                broker,
                c"ask/#".as_ptr(),
                0,
                Some(ask_stats),
                userdata,
                ptr::null_mut()
            ),
            MQLITE_OK
        );
        // Inside a direct publish, then inside a pass.
        assert_eq!(
            mqlite_broker_publish(broker, c"ask/direct".as_ptr(), ptr::null(), 0, 0, false),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_handle_publish(handle, c"ask/pass".as_ptr(), ptr::null(), 0, 0, false),
            MQLITE_OK
        );
        let mut running = false;
        assert_eq!(mqlite_broker_run_once(broker, 0, &mut running), MQLITE_OK);
        let codes: Vec<_> = seen.results.iter().map(|(rc, _)| *rc).collect();
        assert_eq!(codes, [MQLITE_ON_BROKER_THREAD, MQLITE_ON_BROKER_THREAD]);
        // Outside callbacks, from another thread, it still answers.
        let address = handle as usize;
        // The handle lives until after the join.
        let asker = std::thread::spawn(move || {
            let mut stats = std::mem::MaybeUninit::uninit();
            mqlite_handle_stats(address as *const mqlite_handle, 5000, stats.as_mut_ptr())
        });
        while !asker.is_finished() {
            assert_eq!(mqlite_broker_run_once(broker, 10, &mut running), MQLITE_OK);
        }
        assert_eq!(asker.join().unwrap(), MQLITE_OK);
        mqlite_broker_free(broker);
        mqlite_handle_free(handle);
    }
}
