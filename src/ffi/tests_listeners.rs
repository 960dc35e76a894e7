//! Listeners through the C API, from Rust: what the setters build, the
//! default listener's replacement, and the refusals. The end-to-end tests
//! (TLS, Unix socket, WebSocket, reload with real clients) are in
//! tests/c/test_listeners.c.

use std::path::PathBuf;
use std::ptr;

use super::broker::*;
use super::config::*;
use super::handle::*;
use super::listener::*;
use super::listener_tls::*;
use super::result::*;
use crate::listener::{ListenAddress, TlsSettings, TlsVersion, UnixSocket};
use crate::Listener;

#[test]
fn the_setters_build_the_rust_listener() {
    // SAFETY: NUL-terminated literals, local out-parameters, objects made
    // here and freed once.
    unsafe {
        let mut tls = ptr::null_mut();
        assert_eq!(
            mqlite_listener_new_tcp(c"0.0.0.0:8883".as_ptr(), &mut tls),
            MQLITE_OK
        );
        // TLS options before the certificate: the order does not matter.
        assert_eq!(
            mqlite_listener_set_tls_ca_file(tls, c"/etc/ca.pem".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_tls_ca_path(tls, c"/etc/cas".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_tls_require_certificate(tls, true),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_tls_use_identity_as_username(tls, true),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_tls_use_subject_as_username(tls, false),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_tls_min_version(tls, MQLITE_TLS_VERSION_1_3),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_tls(tls, c"/etc/s.pem".as_ptr(), c"/etc/s.key".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(mqlite_listener_set_websocket(tls, true), MQLITE_OK);
        assert_eq!(mqlite_listener_set_max_connections(tls, 5), MQLITE_OK);
        assert_eq!(mqlite_listener_set_allow_anonymous(tls, 0), MQLITE_OK);
        assert_eq!(
            mqlite_listener_set_password_file(tls, c"/etc/passwd".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_acl_file(tls, c"/etc/acl".as_ptr()),
            MQLITE_OK
        );
        let mut unix = ptr::null_mut();
        assert_eq!(
            mqlite_listener_new_unix(c"/run/m.sock".as_ptr(), &mut unix),
            MQLITE_OK
        );
        assert_eq!(mqlite_listener_set_unix_mode(unix, 0o660), MQLITE_OK);
        assert_eq!(
            mqlite_listener_set_unix_owner(unix, c"mqtt".as_ptr()),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_unix_group(unix, c"1000".as_ptr()),
            MQLITE_OK
        );

        let config = mqlite_config_new();
        assert_eq!(mqlite_config_add_custom_listener(config, tls), MQLITE_OK);
        assert_eq!(mqlite_config_add_custom_listener(config, unix), MQLITE_OK);
        // Copies: changing or freeing the listeners leaves the config alone.
        assert_eq!(
            mqlite_listener_set_tls(tls, ptr::null(), ptr::null()),
            MQLITE_OK
        );
        mqlite_listener_free(tls);
        mqlite_listener_free(unix);
        let built = &(*config).config;
        // The first custom listener replaced the default plain one.
        assert!(built.listeners.is_empty());
        let mut expected_tls = TlsSettings::new("/etc/s.pem", "/etc/s.key");
        expected_tls.ca_file = Some(PathBuf::from("/etc/ca.pem"));
        expected_tls.ca_path = Some(PathBuf::from("/etc/cas"));
        expected_tls.require_certificate = true;
        expected_tls.use_identity_as_username = true;
        expected_tls.min_version = TlsVersion::Tls13;
        let mut expected = Listener::tcp("0.0.0.0:8883".parse().unwrap())
            .with_tls(expected_tls)
            .with_websocket();
        expected.max_connections = Some(5);
        expected.allow_anonymous = Some(false);
        expected.password_file = Some(PathBuf::from("/etc/passwd"));
        expected.acl_file = Some(PathBuf::from("/etc/acl"));
        let mut expected_unix = Listener::unix("/run/m.sock");
        expected_unix.address = ListenAddress::Unix(UnixSocket {
            path: PathBuf::from("/run/m.sock"),
            mode: Some(0o660),
            owner: Some("mqtt".to_string()),
            group: Some("1000".to_string()),
        });
        assert_eq!(built.custom_listeners, vec![expected, expected_unix]);
        // A plain listener added later is kept beside them.
        assert_eq!(
            mqlite_config_add_listener(config, c"127.0.0.1:0".as_ptr()),
            MQLITE_OK
        );
        assert_eq!((*config).config.listeners.len(), 1);
        assert_eq!((*config).config.custom_listeners.len(), 2);
        mqlite_config_free(config);
    }
}

#[test]
fn tls_options_without_a_certificate_are_refused() {
    // SAFETY: as above.
    unsafe {
        let mut listener = ptr::null_mut();
        assert_eq!(
            mqlite_listener_new_tcp(c"127.0.0.1:0".as_ptr(), &mut listener),
            MQLITE_OK
        );
        let config = mqlite_config_new();
        // Without any TLS option: a plain custom listener.
        assert_eq!(
            mqlite_config_add_custom_listener(config, listener),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_listener_set_tls_min_version(listener, MQLITE_TLS_VERSION_1_3),
            MQLITE_OK
        );
        assert_eq!(
            mqlite_config_add_custom_listener(config, listener),
            MQLITE_INVALID_CONFIG
        );
        assert_eq!((*config).config.custom_listeners.len(), 1);
        assert_eq!(
            mqlite_listener_set_tls_min_version(listener, 10),
            MQLITE_INVALID_ARGUMENT
        );
        mqlite_listener_free(listener);
        mqlite_config_free(config);
    }
}

#[test]
fn custom_ports_and_reload() {
    // SAFETY: as above.
    unsafe {
        let dir = std::env::temp_dir().join(format!("mqlite-ffi-listeners-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let sock = dir.join("s.sock");
        let sock_c = std::ffi::CString::new(sock.to_str().unwrap()).unwrap();
        let config = mqlite_config_new();
        assert_eq!(mqlite_config_set_sys_interval_s(config, 0), MQLITE_OK);
        let mut unix = ptr::null_mut();
        assert_eq!(
            mqlite_listener_new_unix(sock_c.as_ptr(), &mut unix),
            MQLITE_OK
        );
        let mut tcp = ptr::null_mut();
        assert_eq!(
            mqlite_listener_new_tcp(c"127.0.0.1:0".as_ptr(), &mut tcp),
            MQLITE_OK
        );
        assert_eq!(mqlite_config_add_custom_listener(config, unix), MQLITE_OK);
        assert_eq!(mqlite_config_add_custom_listener(config, tcp), MQLITE_OK);
        mqlite_listener_free(unix);
        mqlite_listener_free(tcp);
        let mut broker = ptr::null_mut();
        assert_eq!(mqlite_broker_new(config, &mut broker), MQLITE_OK);
        mqlite_config_free(config);
        let mut port = 7u16;
        assert_eq!(mqlite_broker_custom_port(broker, 0, &mut port), MQLITE_OK);
        assert_eq!(port, 0, "a Unix socket listener has no port");
        assert_eq!(mqlite_broker_custom_port(broker, 1, &mut port), MQLITE_OK);
        assert_ne!(port, 0);
        assert_eq!(
            mqlite_broker_custom_port(broker, 2, &mut port),
            MQLITE_NOT_FOUND
        );
        assert_eq!(
            mqlite_broker_local_port(broker, 0, &mut port),
            MQLITE_NOT_FOUND
        );
        assert!(sock.exists());
        assert_eq!(mqlite_broker_reload(broker), MQLITE_OK);
        let mut handle = ptr::null_mut();
        assert_eq!(mqlite_broker_handle(broker, &mut handle), MQLITE_OK);
        // Between passes nobody answers the handle: it times out.
        assert_eq!(mqlite_handle_reload(handle, 10), MQLITE_STOPPED);
        let runner = {
            let handle = handle as usize;
            std::thread::spawn(move || {
                let handle = handle as *mut mqlite_handle;
                let answer = mqlite_handle_reload(handle, 10_000);
                assert_eq!(mqlite_handle_stop(handle), MQLITE_OK);
                answer
            })
        };
        assert_eq!(mqlite_broker_run(broker), MQLITE_OK);
        assert_eq!(runner.join().unwrap(), MQLITE_OK);
        assert!(!sock.exists(), "the socket file goes with the stop");
        mqlite_handle_free(handle);
        mqlite_broker_free(broker);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
