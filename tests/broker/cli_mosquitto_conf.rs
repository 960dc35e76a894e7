//! The `mqlite` binary started with a mosquitto.conf (`-c FILE`, told from
//! TOML by its content): a gateway's config (a listener, password and ACL
//! files, persistence, a log file, a pid file, `include_dir`) starts it
//! unchanged and is obeyed; everything commented out is mosquitto's
//! local-only default; a refused option exits 1 naming file, line and
//! option; `log_dest stdout` and `log_timestamp false` shape the log;
//! SIGHUP reopens the log file. Each option's mapping onto `Config` (TLS,
//! WebSocket and Unix listeners included) is unit-tested in
//! `src/bin/mqlite/mosquitto/`.
//!
//! mosquitto.conf has no "any free port": `listener 0` is a Unix socket.
//! So a test reserves a port (binds 127.0.0.1:0 and closes it), writes it
//! into the file, and starts the binary; should something else take the
//! port in between, the binary exits with "in use" and the test picks
//! another port and tries again. The binary's `listening on` line must
//! name the port written, so a broker on another port cannot be mistaken
//! for it.

use crate::support;

use std::net::TcpListener;
use std::path::Path;

use support::binary::{Launch, Ready};
use support::cli::{mqlite_exits, Mqlite};
use support::{wait_until, ConnectOptions, RawClient, TempDir, TIMEOUT};

/// A port free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("bind 127.0.0.1:0")
}

/// Starts `mqlite -c DIR/NAME` with the file `conf(port)` on a reserved
/// port, serving; retried on another port while the port is taken.
fn start_conf(dir: TempDir, name: &str, conf: impl Fn(u16) -> String) -> Mqlite {
    let mut last = String::new();
    for _ in 0..10 {
        let port = free_port();
        let file = dir.file(name, &conf(port));
        let file = file.to_str().expect("a UTF-8 temp path");
        match Mqlite::launch(Launch::new(&["-c", file], &dir.0, None), Ready::Serving) {
            Ok(mut broker) => {
                assert_eq!(broker.port, port, "{}", broker.stderr());
                broker.own_dir(Some(dir));
                return broker;
            }
            Err(error) if error.contains("in use") => last = error,
            Err(error) => panic!("{error}"),
        }
    }
    panic!("no free port in 10 tries: {last}");
}

fn fixture(name: &str) -> String {
    format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"))
}

/// The CONNACK code for a 3.1.1 client with these credentials (`None`:
/// anonymous).
fn connack(broker: &Mqlite, id: &str, credentials: Option<(&str, &str)>) -> u8 {
    let mut options = ConnectOptions::new(id);
    if let Some((user, password)) = credentials {
        options = options.credentials(user, password.as_bytes());
    }
    let mut client = RawClient::open(broker.addr());
    client.send_connect(&options);
    client.expect_connack().1
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

#[test]
fn a_gateway_mosquitto_conf_starts_unchanged_and_is_obeyed() {
    // Debian's layout: a main file with persistence, a log file and a pid
    // file, and the listener and access settings in conf.d/.
    let dir = TempDir::new("mosqconf");
    let root = dir.0.clone();
    std::fs::create_dir_all(root.join("conf.d")).unwrap();
    std::fs::create_dir_all(root.join("lib")).unwrap();
    dir.file(
        "acl",
        "user alice\ntopic readwrite sensors/#\n\nuser bob\ntopic read sensors/#\n",
    );
    dir.file(
        "conf.d/README",
        "Any files placed in this directory with a .conf ending will be loaded.\n",
    );
    dir.file(
        "conf.d/10-limits.conf",
        "max_inflight_messages 20\nmax_queued_messages 1000\npersistent_client_expiration 2d\n\
         autosave_interval 1800\n",
    );
    let root_text = root.display().to_string();
    let broker = start_conf(dir, "mosquitto.conf", |port| {
        std::fs::write(
            root.join("conf.d/00-listener.conf"),
            format!(
                "listener {port} 127.0.0.1\nallow_anonymous false\npassword_file {}\nacl_file {root_text}/acl\n",
                fixture("passwd_pbkdf2")
            ),
        )
        .unwrap();
        format!(
            "# Place your local configuration in conf.d/\n\n\
             pid_file {root_text}/mosquitto.pid\n\n\
             persistence true\npersistence_location {root_text}/lib/\n\n\
             log_dest file {root_text}/mosquitto.log\n\n\
             include_dir {root_text}/conf.d\n"
        )
    });
    let pid_file = root.join("mosquitto.pid");
    assert_eq!(read(&pid_file), format!("{}\n", broker.pid()));
    assert!(root.join("lib/mosquitto.db").exists(), "the SQLite file");

    // allow_anonymous false and the password file.
    assert_eq!(connack(&broker, "anon", None), 5);
    assert_ne!(connack(&broker, "w", Some(("alice", "nope"))), 0);
    assert_eq!(connack(&broker, "a", Some(("alice", "wonderland"))), 0);
    // The ACL file: bob may read sensors/#, not write it.
    let mut alice = RawClient::open(broker.addr());
    alice.connect_with(&ConnectOptions::new("alice").credentials("alice", b"wonderland"));
    let mut bob = RawClient::open(broker.addr());
    bob.connect_with(
        &ConnectOptions::new("bob").credentials("bob", b"correct horse battery staple"),
    );
    bob.subscribe(&[("sensors/#", mqlite::QoS::AtLeastOnce)]);
    bob.publish("sensors/bob", b"denied", mqlite::QoS::AtMostOnce, false);
    alice.publish_acked("sensors/t", b"21.5", mqlite::QoS::AtLeastOnce, false);
    bob.expect_message("sensors/t", b"21.5");
    bob.expect_nothing();

    // The log goes to the file, with the skipped option named and
    // connections logged (connection_messages defaults to true).
    let log_file = root.join("mosquitto.log");
    wait_until(TIMEOUT, "the connection line in the log file", || {
        read(&log_file).contains("New client connected from 127.0.0.1")
    });
    let log = read(&log_file);
    assert!(
        log.contains("10-limits.conf: line 4: `autosave_interval`: skipped"),
        "{log}"
    );
    assert!(log.contains("as alice (p2, c1, k60, u'alice')"), "{log}");

    let stderr = broker.stop();
    assert!(!stderr.contains("WARN"), "the log is in the file: {stderr}");
    assert!(!pid_file.exists(), "pid file removed at exit");
}

#[test]
fn a_commented_out_example_is_mosquittos_local_only_default() {
    // The shape of mosquitto's shipped mosquitto.conf: every option
    // commented out. mosquitto then listens on localhost:1883 only,
    // anonymous clients allowed, nothing persisted. (-p 0 moves the port,
    // as 1883 may be taken here.)
    let dir = TempDir::new("mosqdefault");
    let mut text = String::from(
        "# Config file for mosquitto\n#\n# See mosquitto.conf(5) for more information.\n\n",
    );
    for option in [
        "per_listener_settings false",
        "allow_zero_length_clientid true",
        "persistent_client_expiration",
        "max_inflight_messages 20",
        "listener",
        "socket_domain",
        "protocol mqtt",
        "certfile",
        "persistence false",
        "log_dest stderr",
        "include_dir",
        "allow_anonymous false",
        "password_file",
    ] {
        text.push_str(&format!(
            "# =================================================================\n\
             # A section\n# ===========================================================\n\n\
             # What the option does.\n#{option}\n\n"
        ));
    }
    let file = dir.file("mosquitto.conf", &text);
    let file = file.to_str().unwrap().to_string();
    let mut broker = Mqlite::start_in(&["-c", &file, "-p", "0"], dir);
    assert!(broker.addr().ip().is_loopback());
    assert_eq!(connack(&broker, "anon", None), 0);
    let dir = broker.take_dir();
    let log = broker.stop();
    assert!(!log.contains("WARN"), "{log}");
    let mut files: Vec<String> = std::fs::read_dir(&dir.0)
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    files.sort();
    assert_eq!(files, vec!["mosquitto.conf"], "no persistence file");
}

#[test]
fn a_refused_option_exits_1_naming_file_line_and_option() {
    let dir = TempDir::new("mosqbad");
    for (text, says) in [
        (
            "listener 1883\n\nconnection cloud\naddress broker.example:1883\ntopic # out 1\n\
             start_type manual\n",
            "mosquitto.conf: line 6: `start_type`: `manual` is not supported",
        ),
        (
            "listener 1883\n\ntopic # out 1\n",
            "mosquitto.conf: line 3: `topic`: a bridge option, but no `connection` line",
        ),
        (
            "listener 1883\nplugin /usr/lib/mosquitto_dynamic_security.so\n",
            "mosquitto.conf: line 2: `plugin`: not supported: mqlite loads no plugins",
        ),
        (
            "port 1883\nmax_inflight_mesages 10\n",
            "mosquitto.conf: line 2: `max_inflight_mesages`: unknown option",
        ),
        (
            "listener 8883\ncertfile /etc/ssl/server.pem\n",
            "mosquitto.conf: line 2: `certfile`: needs keyfile too",
        ),
    ] {
        let file = dir.file("mosquitto.conf", text);
        let output = mqlite_exits(&["-c", file.to_str().unwrap()], &dir.0);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{text:?}: {stderr}");
        assert!(
            stderr.starts_with(&format!("mqlite: config file {}", dir.0.display())),
            "{stderr}"
        );
        assert!(stderr.contains(says), "{text:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{stderr}");
    }
}

#[test]
fn log_dest_stdout_and_log_timestamp_false() {
    // The warning goes to stdout without a time; then the listener's port
    // is taken (held here), so the binary exits 1 and its output can be
    // read whole.
    let dir = TempDir::new("mosqstdout");
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = held.local_addr().unwrap().port();
    let file = dir.file(
        "m.conf",
        &format!(
            "log_dest stdout\nlog_timestamp false\nlistener {port} 127.0.0.1\nautosave_on_changes false\n"
        ),
    );
    let output = mqlite_exits(&["-c", file.to_str().unwrap()], &dir.0);
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    assert!(
        stdout.starts_with("WARN config file ")
            && stdout.contains("line 4: `autosave_on_changes`: skipped"),
        "{stdout}"
    );
    drop(held);
}

#[test]
fn sighup_reopens_the_log_file() {
    // logrotate moves the file away and sends SIGHUP; the broker then
    // writes to a new file at the configured path.
    let dir = TempDir::new("mosqrotate");
    let root = dir.0.clone();
    let log_file = root.join("mqlite.log");
    let log_text = log_file.display().to_string();
    let broker = start_conf(dir, "mosquitto.conf", |port| {
        format!("listener {port} 127.0.0.1\nallow_anonymous true\nlog_dest file {log_text}\n")
    });
    assert_eq!(connack(&broker, "before", None), 0);
    wait_until(TIMEOUT, "the first connection logged", || {
        read(&log_file).contains("as before ")
    });
    let rotated = root.join("mqlite.log.1");
    std::fs::rename(&log_file, &rotated).unwrap();
    broker.signal(libc::SIGHUP);
    wait_until(TIMEOUT, "the reload logged in a new file", || {
        read(&log_file).contains("SIGHUP: reloaded")
    });
    assert_eq!(connack(&broker, "after", None), 0);
    wait_until(TIMEOUT, "the second connection in the new file", || {
        read(&log_file).contains("as after ")
    });
    assert!(!read(&rotated).contains("as after "));
    broker.stop();
}
