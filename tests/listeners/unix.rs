//! Unix domain socket listeners (with `mosquitto_pub` / `mosquitto_sub
//! --unix`: the file's mode, a stale file replaced, a live one or another
//! kind of file refused, the file removed at a clean stop) and the
//! per-listener settings: `max_connections` and a password file of its
//! own.

use crate::support;

use std::os::unix::fs::{FileTypeExt, PermissionsExt};
use std::process::Command;

use mqlite::codec::QoS;
use mqlite::{Broker, Config, ListenAddress, Listener};
use support::cli::mosquitto::mosquitto_tools;
use support::cli::run;
use support::{test_config, wait_until, ConnectOptions, RawClient, TempDir, TestBroker, TIMEOUT};

#[test]
fn mosquitto_clients_over_a_unix_socket() {
    let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let dir = TempDir::new("unix");
    let path = dir.path("mqlite.sock");
    let mut listener = Listener::unix(&path);
    if let ListenAddress::Unix(unix) = &mut listener.address {
        unix.mode = Some(0o660);
    }
    let broker = TestBroker::start_with(|config| config.custom_listeners.push(listener));
    assert_eq!(broker.custom, vec![None]);
    let meta = std::fs::symlink_metadata(&path).expect("the socket file");
    assert!(meta.file_type().is_socket());
    assert_eq!(meta.permissions().mode() & 0o777, 0o660);

    let mut plain = broker.connect("plain", true, 60);
    plain.subscribe(&[("unix/#", QoS::AtLeastOnce)]);
    let sock = path.to_str().unwrap();
    let sub = std::process::Command::new(&sub_tool)
        .args(["--unix", sock, "-t", "unix/#", "-v", "-C", "1", "-W", "10"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("mosquitto_sub");
    let mut sub = Some(sub);
    wait_until(
        std::time::Duration::from_secs(10),
        "mosquitto_sub receives",
        || {
            let out = run(
                Command::new(&pub_tool)
                    .args(["--unix", sock, "-t", "unix/a", "-m", "local", "-q", "1"]),
                TIMEOUT,
            );
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            matches!(sub.as_mut().map(|s| s.try_wait()), Some(Ok(Some(_))))
        },
    );
    let out = sub.take().unwrap().wait_with_output().unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "unix/a local");
    plain.expect_message("unix/a", b"local");

    // The file goes with the broker.
    drop(plain);
    broker.stop().expect("a clean stop");
    assert!(!path.exists(), "the socket file is left behind");
}

#[test]
fn socket_files_in_the_way() {
    let dir = TempDir::new("unix-files");
    let start = |path: &std::path::Path| {
        Broker::new(Config {
            custom_listeners: vec![Listener::unix(path)],
            ..test_config()
        })
    };
    // A stale socket (nothing listening) is replaced.
    let stale = dir.path("stale.sock");
    drop(std::os::unix::net::UnixListener::bind(&stale).unwrap());
    assert!(stale.exists());
    let first = start(&stale).expect("a stale socket file is replaced");
    // A live one is not.
    let error = start(&stale).err().expect("a socket in use").to_string();
    assert!(error.contains("in use"), "{error}");
    drop(first);
    // Nor another kind of file.
    let regular = dir.file("regular", "data");
    let error = start(&regular).err().expect("a regular file").to_string();
    assert!(error.contains("not a socket"), "{error}");
    assert!(regular.exists(), "a regular file was removed");
}

#[test]
fn a_listener_limits_its_own_connections() {
    let broker = TestBroker::start_with(|config| {
        let mut limited = Listener::tcp("127.0.0.1:0".parse().unwrap());
        limited.max_connections = Some(1);
        config.custom_listeners.push(limited);
    });
    let limited = broker.custom[0].unwrap();
    let mut first = RawClient::open(limited);
    first.connect("first", true, 60);
    let mut second = RawClient::open(limited);
    second.send_raw(&ConnectOptions::new("second").encode());
    second.expect_closed();
    // The plain listener is not limited by it.
    let mut other = broker.connect("other", true, 60);
    other.subscribe(&[("x", QoS::AtMostOnce)]);
    first.publish("x", b"still served", QoS::AtMostOnce, false);
    other.expect_message("x", b"still served");
}

#[test]
fn a_listener_with_its_own_password_file() {
    let passwd = support::auth::fixture("passwd_pbkdf2");
    let broker = TestBroker::start_with(|config| {
        let mut guarded = Listener::tcp("127.0.0.1:0".parse().unwrap());
        guarded.password_file = Some(passwd);
        config.custom_listeners.push(guarded);
    });
    let guarded = broker.custom[0].unwrap();
    // Anonymous on the plain listener: served.
    broker.connect("anonymous-plain", true, 60);
    // Anonymous on the guarded one: refused; alice: served.
    let mut anonymous = RawClient::open(guarded);
    anonymous.send_connect(&ConnectOptions::new("anonymous-guarded"));
    assert_eq!(anonymous.expect_connack().1, 5, "not authorized");
    let mut alice = RawClient::open(guarded);
    alice.send_connect(&ConnectOptions::new("alice").credentials("alice", b"wonderland"));
    assert_eq!(alice.expect_connack().1, 0);
}
