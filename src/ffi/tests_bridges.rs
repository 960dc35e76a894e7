//! Bridges through the C API, from Rust: what the setters build, the
//! refusals, the copies, TLS refused at run time, adding and removing at
//! run time and the stats list. Messages crossing between two brokers are
//! tested in tests/c/test_bridges.c.

use std::path::PathBuf;
use std::ptr;
use std::time::Duration;

use super::bridge::*;
use super::bridge_settings::*;
use super::bridge_stats::*;
use super::broker::*;
use super::config::*;
use super::handle::*;
use super::result::*;
use crate::codec::QoS;
use crate::{Bridge, BridgeDirection, BridgeProtocol, BridgeStart, BridgeTls, BridgeTopic};

/// A bridge `name` to `address` with one `out` topic `#`.
///
/// # Safety
/// `name` and `address` are NUL-terminated.
unsafe fn simple(name: &std::ffi::CStr, address: &std::ffi::CStr) -> *mut mqlite_bridge {
    let mut bridge = ptr::null_mut();
    // SAFETY: NUL-terminated strings, a local out-parameter.
    unsafe {
        assert_eq!(
            mqlite_bridge_new(name.as_ptr(), address.as_ptr(), &mut bridge),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_bridge_add_topic(
                bridge,
                c"#".as_ptr(),
                MQLITE_BRIDGE_OUT,
                0,
                ptr::null(),
                ptr::null()
            ),
            MQLITE_OK
        );
    }
    bridge
}

#[test]
fn the_setters_build_the_rust_bridge() {
    // SAFETY: NUL-terminated literals, local out-parameters, objects made
    // here and freed once.
    unsafe {
        let mut bridge = ptr::null_mut();
        assert_eq!(
            mqlite_bridge_new(c"up".as_ptr(), c"cloud.example:8883".as_ptr(), &mut bridge),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_bridge_add_address(bridge, c"[::1]:1884".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_bridge_add_topic(
                bridge,
                c"sensors/#".as_ptr(),
                MQLITE_BRIDGE_OUT,
                1,
                c"site/".as_ptr(),
                c"gw1/".as_ptr()
            ),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_bridge_add_topic(
                bridge,
                c"".as_ptr(),
                MQLITE_BRIDGE_IN,
                2,
                c"cmd".as_ptr(),
                c"cloud/cmd".as_ptr()
            ),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_bridge_add_topic(
                bridge,
                c"chat/+".as_ptr(),
                MQLITE_BRIDGE_BOTH,
                0,
                ptr::null(),
                ptr::null()
            ),
            MQLITE_OK
        );
        assert_eq!(mqlite_bridge_set_round_robin(bridge, true), MQLITE_OK);
        assert_eq!(mqlite_bridge_set_clean_session(bridge, true), MQLITE_OK);
        assert_eq!(mqlite_bridge_set_local_clean_session(bridge, 0), MQLITE_OK);
        assert_eq!(
            mqlite_bridge_set_remote_client_id(bridge, c"gw-1".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_bridge_set_remote_credentials(bridge, c"user".as_ptr(), c"secret".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(mqlite_bridge_set_keepalive_s(bridge, 30), MQLITE_OK);
        assert_eq!(
            mqlite_bridge_set_restart_timeout_s(bridge, 2, -1),
            MQLITE_OK
        );
        assert_eq!(mqlite_bridge_set_start_once(bridge, true), MQLITE_OK);
        assert_eq!(mqlite_bridge_set_try_private(bridge, false), MQLITE_OK);
        assert_eq!(mqlite_bridge_set_notifications(bridge, false), MQLITE_OK);
        assert_eq!(
            mqlite_bridge_set_notification_topic(bridge, c"gw/state".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(mqlite_bridge_set_protocol_version(bridge, 5), MQLITE_OK);
        assert_eq!(
            mqlite_bridge_set_tls(
                bridge,
                c"/etc/ca.pem".as_ptr(),
                ptr::null(),
                c"/etc/c.pem".as_ptr(),
                c"/etc/c.key".as_ptr(),
                true
            ),
            MQLITE_OK
        );
        let config = mqlite_config_new();
        assert_eq!(mqlite_config_add_bridge(config, bridge), MQLITE_OK);
        // A copy: changing or freeing the bridge leaves the config alone.
        assert_eq!(mqlite_bridge_set_keepalive_s(bridge, 99), MQLITE_OK);
        mqlite_bridge_free(bridge);

        let mut sensors = BridgeTopic::new("sensors/#", BridgeDirection::Out, QoS::AtLeastOnce);
        sensors.local_prefix = "site/".into();
        sensors.remote_prefix = "gw1/".into();
        let mut cmd = BridgeTopic::new("", BridgeDirection::In, QoS::ExactlyOnce);
        cmd.local_prefix = "cmd".into();
        cmd.remote_prefix = "cloud/cmd".into();
        let chat = BridgeTopic::new("chat/+", BridgeDirection::Both, QoS::AtMostOnce);
        let mut expected = Bridge::new("up", "cloud.example:8883", vec![sensors, cmd, chat]);
        expected.addresses.push("[::1]:1884".into());
        expected.round_robin = true;
        expected.clean_session = true;
        expected.local_clean_session = Some(false);
        expected.remote_client_id = Some("gw-1".into());
        expected.remote_username = Some("user".into());
        expected.remote_password = Some("secret".into());
        expected.keepalive = Duration::from_secs(30);
        expected.restart_timeout = Duration::from_secs(2);
        expected.restart_timeout_cap = None;
        expected.start = BridgeStart::Once;
        expected.try_private = false;
        expected.notifications = false;
        expected.notification_topic = Some("gw/state".into());
        expected.protocol = BridgeProtocol::V5;
        expected.tls = Some(BridgeTls {
            ca_file: Some(PathBuf::from("/etc/ca.pem")),
            ca_path: None,
            cert_file: Some(PathBuf::from("/etc/c.pem")),
            key_file: Some(PathBuf::from("/etc/c.key")),
            insecure: true,
        });
        assert_eq!((*config).config.bridges, vec![expected]);
        // Bridges do not touch the listeners: the default one stays.
        assert_eq!((*config).config.listeners.len(), 1);
        mqlite_config_free(config);
    }
}

#[test]
fn a_lazy_bridge_from_c() {
    // SAFETY: NUL-terminated literals, objects made here and freed once.
    unsafe {
        let bridge = simple(c"lazy", c"h");
        assert_eq!(
            mqlite_bridge_set_start_lazy(bridge, 0, 60),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(mqlite_bridge_set_start_lazy(bridge, 3, 7), MQLITE_OK);
        let config = mqlite_config_new();
        assert_eq!(mqlite_config_add_bridge(config, bridge), MQLITE_OK);
        let added = (*config).config.bridges.clone();
        assert_eq!(added[0].start, BridgeStart::Lazy);
        assert_eq!(
            (added[0].threshold, added[0].idle_timeout),
            (3, Duration::from_secs(7))
        );
        mqlite_config_free(config);
        mqlite_bridge_free(bridge);
    }
}

#[test]
fn bad_values_are_refused_where_given() {
    // SAFETY: as above.
    unsafe {
        let mut bridge = ptr::null_mut();
        for (name, address, expected) in [
            (c"", c"h", MQLITE_INVALID_ARGUMENT),
            (c"a/b", c"h", MQLITE_INVALID_ARGUMENT),
            (c"a#", c"h", MQLITE_INVALID_ARGUMENT),
            (c"up", c"", MQLITE_INVALID_ADDRESS),
            (c"up", c"h:0", MQLITE_INVALID_ADDRESS),
            (c"up", c"h:port", MQLITE_INVALID_ADDRESS),
            (c"up", c"[::1", MQLITE_INVALID_ADDRESS),
        ] {
            assert_eq!(
                mqlite_bridge_new(name.as_ptr(), address.as_ptr(), &mut bridge),
                expected,
                "{name:?} {address:?}"
            );
        }
        assert!(bridge.is_null(), "nothing written on an error");
        let bridge = simple(c"up", c"127.0.0.1:1");
        let before = (*bridge).bridge.clone();
        assert_eq!(
            mqlite_bridge_add_address(bridge, c"h:65536".as_ptr()),
            MQLITE_INVALID_ADDRESS
        );
        let topic = |pattern: &std::ffi::CStr, direction, qos, local: &std::ffi::CStr| {
            mqlite_bridge_add_topic(
                bridge,
                pattern.as_ptr(),
                direction,
                qos,
                local.as_ptr(),
                ptr::null(),
            )
        };
        assert_eq!(topic(c"a", 0, 0, c""), MQLITE_INVALID_ARGUMENT);
        assert_eq!(topic(c"a", 4, 0, c""), MQLITE_INVALID_ARGUMENT);
        assert_eq!(
            topic(c"a", MQLITE_BRIDGE_IN, 3, c""),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            topic(c"a/#/b", MQLITE_BRIDGE_IN, 0, c""),
            MQLITE_INVALID_TOPIC
        );
        assert_eq!(
            topic(c"a", MQLITE_BRIDGE_IN, 0, c"x/+/"),
            MQLITE_INVALID_TOPIC
        );
        // A prefix alone or a pattern alone, but not neither.
        assert_eq!(topic(c"", MQLITE_BRIDGE_IN, 0, c""), MQLITE_INVALID_TOPIC);
        assert_eq!(
            mqlite_bridge_set_local_clean_session(bridge, 2),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            mqlite_bridge_set_remote_client_id(bridge, c"".as_ptr()),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            mqlite_bridge_set_remote_credentials(bridge, ptr::null(), c"p".as_ptr()),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(
            mqlite_bridge_set_keepalive_s(bridge, 0),
            MQLITE_INVALID_ARGUMENT
        );
        for (base, cap) in [(0, -1), (5, 4), (5, -2), (5, i64::from(u32::MAX) + 1)] {
            assert_eq!(
                mqlite_bridge_set_restart_timeout_s(bridge, base, cap),
                MQLITE_INVALID_ARGUMENT,
                "{base} {cap}"
            );
        }
        assert_eq!(
            mqlite_bridge_set_notification_topic(bridge, c"a/+".as_ptr()),
            MQLITE_INVALID_TOPIC
        );
        assert_eq!(
            mqlite_bridge_set_protocol_version(bridge, 6),
            MQLITE_INVALID_ARGUMENT
        );
        let null = ptr::null();
        let path = c"/p".as_ptr();
        for (ca, cert, key) in [(null, path, path), (path, path, null), (path, null, path)] {
            assert_eq!(
                mqlite_bridge_set_tls(bridge, ca, null, cert, key, false),
                MQLITE_NULL_PARAMETER
            );
        }
        assert_eq!((*bridge).bridge, before, "refusals change nothing");
        // Four NULLs: no TLS.
        assert_eq!(
            mqlite_bridge_set_tls(bridge, path, null, null, null, false),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_bridge_set_tls(bridge, null, null, null, null, true),
            MQLITE_OK
        );
        assert_eq!((*bridge).bridge.tls, None);
        mqlite_bridge_free(bridge);
    }
}

#[test]
fn a_config_refuses_a_bridge_that_cannot_work() {
    // SAFETY: as above.
    unsafe {
        let config = mqlite_config_new();
        let mut bare = ptr::null_mut();
        assert_eq!(
            mqlite_bridge_new(c"bare".as_ptr(), c"h".as_ptr(), &mut bare),
            MQLITE_OK
        );
        // No topic: refused when added, not when made.
        assert_eq!(
            mqlite_config_add_bridge(config, bare),
            MQLITE_INVALID_CONFIG
        );
        let one = simple(c"one", c"h");
        assert_eq!(mqlite_config_add_bridge(config, one), MQLITE_OK);
        assert_eq!(mqlite_config_add_bridge(config, one), MQLITE_INVALID_CONFIG);
        assert_eq!((*config).config.bridges.len(), 1);
        assert_eq!(
            mqlite_config_add_bridge(config, ptr::null()),
            MQLITE_NULL_PARAMETER
        );
        assert_eq!(
            mqlite_config_add_bridge(ptr::null_mut(), one),
            MQLITE_NULL_PARAMETER
        );
        mqlite_bridge_free(bare);
        mqlite_bridge_free(one);
        mqlite_config_free(config);
    }
}

#[test]
fn tls_is_refused_by_the_broker_for_now() {
    // SAFETY: as above.
    unsafe {
        let config = mqlite_config_new();
        assert_eq!(
            mqlite_config_add_listener(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        let tls = simple(c"secure", c"127.0.0.1:8883");
        assert_eq!(
            mqlite_bridge_set_tls(
                tls,
                c"/etc/ca.pem".as_ptr(),
                ptr::null(),
                ptr::null(),
                ptr::null(),
                false
            ),
            MQLITE_OK
        );
        assert_eq!(mqlite_config_add_bridge(config, tls), MQLITE_OK);
        let mut broker = ptr::null_mut();
        assert_eq!(
            mqlite_broker_new(config, &mut broker),
            MQLITE_INVALID_CONFIG
        );
        assert!(broker.is_null());
        (*config).config.bridges.clear();
        assert_eq!(mqlite_broker_new(config, &mut broker), MQLITE_OK);
        assert_eq!(mqlite_broker_add_bridge(broker, tls), MQLITE_INVALID_CONFIG);
        let mut list = ptr::null_mut();
        assert_eq!(mqlite_broker_bridge_stats(broker, &mut list), MQLITE_OK);
        let mut count = 7;
        assert_eq!(mqlite_bridge_stats_list_count(list, &mut count), MQLITE_OK);
        assert_eq!(count, 0);
        mqlite_bridge_stats_list_free(list);
        mqlite_bridge_free(tls);
        mqlite_broker_free(broker);
        mqlite_config_free(config);
    }
}

#[test]
fn bridges_added_read_and_removed_at_run_time() {
    // SAFETY: as above; the handle is used from one other thread while the
    // broker runs on this one.
    unsafe {
        let config = mqlite_config_new();
        assert_eq!(
            mqlite_config_add_listener(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
        // Nothing listens on port 1: the bridges stay down.
        let first = simple(c"first", c"127.0.0.1:1");
        assert_eq!(mqlite_config_add_bridge(config, first), MQLITE_OK);
        let mut broker = ptr::null_mut();
        assert_eq!(mqlite_broker_new(config, &mut broker), MQLITE_OK);
        mqlite_config_free(config);
        let second = simple(c"second", c"127.0.0.1:1");
        assert_eq!(mqlite_broker_add_bridge(broker, second), MQLITE_OK);
        assert_eq!(
            mqlite_broker_add_bridge(broker, second),
            MQLITE_INVALID_CONFIG
        );

        let mut list = ptr::null_mut();
        assert_eq!(mqlite_broker_bridge_stats(broker, &mut list), MQLITE_OK);
        let mut count = 0;
        assert_eq!(mqlite_bridge_stats_list_count(list, &mut count), MQLITE_OK);
        assert_eq!(count, 2);
        let mut name = ptr::null();
        let mut len = 0;
        for (index, expected) in [c"first", c"second"].into_iter().enumerate() {
            assert_eq!(
                mqlite_bridge_stats_list_name(list, index, &mut name, &mut len),
                MQLITE_OK
            );
            assert_eq!(std::ffi::CStr::from_ptr(name), expected);
            assert_eq!(len, expected.count_bytes());
        }
        assert_eq!(
            mqlite_bridge_stats_list_name(list, 2, &mut name, &mut len),
            MQLITE_NOT_FOUND
        );
        // A later header's larger struct: its extra field reads 0, nothing
        // past its size is written.
        let mut later = [0xA5A5_A5A5_A5A5_A5A5u64; 9];
        let size = 8 * std::mem::size_of::<u64>();
        assert_eq!(
            mqlite_bridge_stats_list_get(list, 0, later.as_mut_ptr().cast(), size),
            MQLITE_OK
        );
        assert_eq!(&later[..], &[0, 0, 0, 0, 0, 0, 0, 0, 0xA5A5_A5A5_A5A5_A5A5]);
        assert_eq!(
            mqlite_bridge_stats_list_get(list, 0, later.as_mut_ptr().cast(), 47),
            MQLITE_INVALID_ARGUMENT
        );
        assert_eq!(mqlite_bridge_stats_size(), 48);
        mqlite_bridge_stats_list_free(list);

        let mut removed = false;
        assert_eq!(
            mqlite_broker_remove_bridge(broker, c"second".as_ptr(), &mut removed),
            MQLITE_OK
        );
        assert!(removed);
        assert_eq!(
            mqlite_broker_remove_bridge(broker, c"second".as_ptr(), ptr::null_mut()),
            MQLITE_OK
        );

        let mut handle = ptr::null_mut();
        assert_eq!(mqlite_broker_handle(broker, &mut handle), MQLITE_OK);
        // Between passes nobody answers the handle: it times out.
        assert_eq!(mqlite_handle_add_bridge(handle, second, 10), MQLITE_STOPPED);
        let runner = {
            let (handle, second) = (handle as usize, second as usize);
            std::thread::spawn(move || {
                let handle = handle as *mut mqlite_handle;
                let second = second as *const mqlite_bridge;
                let mut answers = Vec::new();
                // Taken at the pass that answered the timed-out request.
                answers.push(mqlite_handle_add_bridge(handle, second, 10_000));
                let mut list = ptr::null_mut();
                answers.push(mqlite_handle_bridge_stats(handle, 10_000, &mut list));
                let mut count = 0;
                answers.push(mqlite_bridge_stats_list_count(list, &mut count));
                mqlite_bridge_stats_list_free(list);
                let mut removed = [false; 2];
                for flag in &mut removed {
                    answers.push(mqlite_handle_remove_bridge(
                        handle,
                        c"first".as_ptr(),
                        10_000,
                        flag,
                    ));
                }
                assert_eq!(mqlite_handle_stop(handle), MQLITE_OK);
                (answers, count, removed)
            })
        };
        assert_eq!(mqlite_broker_run(broker), MQLITE_OK);
        let (answers, count, removed) = runner.join().unwrap();
        // The request that timed out was still carried out at the first
        // pass, so the second add finds the name taken.
        assert_eq!(
            answers,
            vec![
                MQLITE_INVALID_CONFIG,
                MQLITE_OK,
                MQLITE_OK,
                MQLITE_OK,
                MQLITE_OK
            ]
        );
        assert_eq!(count, 2);
        assert_eq!(removed, [true, false]);
        mqlite_bridge_free(first);
        mqlite_bridge_free(second);
        mqlite_handle_free(handle);
        mqlite_broker_free(broker);
    }
}
