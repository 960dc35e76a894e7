//! Unit tests of the mosquitto.conf reader: listeners (plain, Unix, TLS,
//! WebSocket, limits), per-listener security, the default listener, and
//! `include_dir`.

use std::net::SocketAddr;
use std::path::PathBuf;

use mqlite::{ListenAddress, Listener, TlsSettings, TlsVersion, UnixSocket};

use super::tests::{parse, refused, refused_at, Dir};

fn addr(text: &str) -> SocketAddr {
    text.parse().unwrap()
}

fn tls(cert: &str, key: &str) -> TlsSettings {
    TlsSettings::new(cert, key)
}

#[test]
fn listener_addresses() {
    let c = parse("listener 1883 127.0.0.1\nlistener 1884 ::1\n").config;
    assert_eq!(
        c.listeners,
        vec![addr("127.0.0.1:1883"), addr("[::1]:1884")]
    );
    assert!(c.custom_listeners.is_empty());
    // No address: every interface, in both IP versions.
    let c = parse("listener 1883\n").config;
    assert!(
        !c.listeners.is_empty() && c.listeners.len() <= 2,
        "{:?}",
        c.listeners
    );
    assert!(c
        .listeners
        .iter()
        .all(|a| a.ip().is_unspecified() && a.port() == 1883));
    // A host name: every address it resolves to.
    let c = parse("listener 1885 localhost\n").config;
    assert!(!c.listeners.is_empty());
    assert!(c
        .listeners
        .iter()
        .all(|a| a.ip().is_loopback() && a.port() == 1885));
    let c = parse("listener 1883\nsocket_domain ipv4\nlistener 1884\nsocket_domain ipv6\n").config;
    assert_eq!(c.listeners, vec![addr("0.0.0.0:1883"), addr("[::]:1884")]);
    let c = parse("listener 1885 localhost\nsocket_domain ipv4\n").config;
    assert_eq!(c.listeners, vec![addr("127.0.0.1:1885")]);

    refused_at("listener\n", 1, "listener", "needs a port");
    refused_at("listener 70000\n", 1, "listener", "not a port");
    refused_at(
        "listener 0\n",
        1,
        "listener",
        "must give a Unix socket path",
    );
    refused_at(
        "listener 1 no.such.host.invalid\n",
        1,
        "listener",
        "no.such.host.invalid",
    );
    refused_at(
        "listener 1 127.0.0.1\nsocket_domain ipv6\n",
        1,
        "listener",
        "no IPv6 address",
    );
    refused_at(
        "listener 1\nsocket_domain ipx\n",
        2,
        "socket_domain",
        "not ipv4 or ipv6",
    );
    refused_at(
        "listener 1\nprotocol mqttsn\n",
        2,
        "protocol",
        "not mqtt or websockets",
    );
}

#[test]
fn unix_socket_listener() {
    let s = parse("listener 0 /run/mosquitto/mqtt.sock\nsocket_domain ipv4\n");
    assert!(s.config.listeners.is_empty());
    assert_eq!(
        s.config.custom_listeners,
        vec![Listener::unix("/run/mosquitto/mqtt.sock")]
    );
    assert!(s.warnings[0].contains("`socket_domain`: ignored for a Unix socket"));
    let c = parse("listener 0 /s\nmax_connections 10\n").config;
    assert!(matches!(
        &c.custom_listeners[0].address,
        ListenAddress::Unix(UnixSocket { path, mode: None, .. }) if path == &PathBuf::from("/s")
    ));
    assert_eq!(c.custom_listeners[0].max_connections, Some(10));
}

#[test]
fn the_default_listener_mosquitto_1x_style() {
    let c = parse("port 1884\nbind_address 127.0.0.1\n").config;
    assert_eq!(c.listeners, vec![addr("127.0.0.1:1884")]);
    // bind_address alone: port 1883.
    let c = parse("bind_address 127.0.0.1\n").config;
    assert_eq!(c.listeners, vec![addr("127.0.0.1:1883")]);
    // With listeners, the default one comes after them, as in mosquitto.
    let c = parse("port 1884\nbind_address 127.0.0.1\nlistener 1885 127.0.0.1\n").config;
    assert_eq!(
        c.listeners,
        vec![addr("127.0.0.1:1885"), addr("127.0.0.1:1884")]
    );
    // The last port counts, with a warning.
    let s = parse("port 1\nport 2\nbind_address ::1\n");
    assert_eq!(s.config.listeners, vec![addr("[::1]:2")]);
    assert!(s.warnings[0].contains("line 2: `port`"), "{:?}", s.warnings);
    // A listener option before any `listener` starts the default one
    // too, as in mosquitto.
    let c = parse("max_connections 5\nlistener 1884 127.0.0.1\n").config;
    assert_eq!(c.listeners, vec![addr("127.0.0.1:1884")]);
    assert!(!c.custom_listeners.is_empty());
    assert!(c
        .custom_listeners
        .iter()
        .all(|l| l.max_connections == Some(5)
            && matches!(l.address, ListenAddress::Tcp(a) if a.port() == 1883)));
    refused_at(
        "bind_address a\nbind_address b\n",
        2,
        "bind_address",
        "given twice",
    );
    refused_at("port 0\n", 1, "port", "not within 1..65535");
}

#[test]
fn options_of_a_default_listener_that_is_not_started_are_named() {
    // Local-only mode: mosquitto ignores them.
    let s = parse("max_connections 10\nprotocol websockets\n");
    assert_eq!(s.config.listeners, vec![addr("127.0.0.1:1883")]);
    assert!(s.config.custom_listeners.is_empty());
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(s.warnings[0].contains("line 1: `max_connections`: ignored: without `listener`"));
    // With per_listener_settings, security options before any listener
    // belong to the default listener.
    let s = parse("per_listener_settings true\nallow_anonymous true\nlistener 1883 127.0.0.1\n");
    assert_eq!(s.config.allow_anonymous, Some(false));
    assert!(
        s.warnings[0]
            .contains("line 2: `allow_anonymous`: ignored: it belongs to the default listener"),
        "{:?}",
        s.warnings
    );
}

#[test]
fn a_tls_and_websockets_gateway() {
    let text = "\
# MQTT for the local network, TLS for the field, WebSockets for the dashboard
per_listener_settings false
allow_anonymous false
password_file /etc/mosquitto/passwd
acl_file /etc/mosquitto/acl

listener 1883 127.0.0.1

listener 8883
certfile /etc/mosquitto/certs/server.crt
keyfile /etc/mosquitto/certs/server.key
cafile /etc/mosquitto/ca_certificates/ca.crt
require_certificate true
use_identity_as_username true
tls_version tlsv1.2
max_connections 500

listener 9001 0.0.0.0
protocol websockets
certfile /etc/mosquitto/certs/server.crt
keyfile /etc/mosquitto/certs/server.key
tls_version tlsv1.3

listener 9002 127.0.0.1
protocol websockets
";
    let s = parse(text);
    // Where IPv6 sockets do not take IPv4, 8883 has two addresses, and a
    // warning says each gets max_connections.
    assert!(
        s.warnings.iter().all(|w| w.contains("`max_connections`")),
        "{:?}",
        s.warnings
    );
    let c = s.config;
    assert_eq!(c.allow_anonymous, Some(false));
    assert_eq!(
        c.password_file,
        Some(PathBuf::from("/etc/mosquitto/passwd"))
    );
    assert_eq!(c.acl_file, Some(PathBuf::from("/etc/mosquitto/acl")));
    assert_eq!(c.listeners, vec![addr("127.0.0.1:1883")]);
    let mut field = tls(
        "/etc/mosquitto/certs/server.crt",
        "/etc/mosquitto/certs/server.key",
    );
    field.ca_file = Some("/etc/mosquitto/ca_certificates/ca.crt".into());
    field.require_certificate = true;
    field.use_identity_as_username = true;
    let tls_8883: Vec<&Listener> = c
        .custom_listeners
        .iter()
        .filter(|l| matches!(l.address, ListenAddress::Tcp(a) if a.port() == 8883))
        .collect();
    assert!(!tls_8883.is_empty() && tls_8883.len() <= 2);
    for listener in tls_8883 {
        let ListenAddress::Tcp(at) = listener.address else {
            panic!()
        };
        assert!(at.ip().is_unspecified());
        let mut expected = Listener::tcp(at).with_tls(field.clone());
        expected.max_connections = Some(500);
        assert_eq!(listener, &expected);
    }
    let mut dashboard = tls(
        "/etc/mosquitto/certs/server.crt",
        "/etc/mosquitto/certs/server.key",
    );
    dashboard.min_version = TlsVersion::Tls13;
    let rest: Vec<&Listener> = c
        .custom_listeners
        .iter()
        .filter(|l| !matches!(l.address, ListenAddress::Tcp(a) if a.port() == 8883))
        .collect();
    assert_eq!(
        rest,
        vec![
            &Listener::tcp(addr("0.0.0.0:9001"))
                .with_tls(dashboard)
                .with_websocket(),
            &Listener::tcp(addr("127.0.0.1:9002")).with_websocket(),
        ]
    );
}

#[test]
fn tls_options_that_cannot_work_are_refused_or_named() {
    refused_at(
        "listener 8883\ncertfile /c\n",
        2,
        "certfile",
        "needs keyfile",
    );
    refused_at(
        "listener 8883\nkeyfile /k\n",
        2,
        "keyfile",
        "needs certfile",
    );
    let s = parse("listener 1883 127.0.0.1\ncafile /ca\n");
    assert_eq!(s.config.listeners, vec![addr("127.0.0.1:1883")]);
    assert!(s.warnings[0].contains("line 2: `cafile`: ignored: without certfile and keyfile"));
    let cert = "listener 8883 127.0.0.1\ncertfile /c\nkeyfile /k\n";
    refused_at(
        &format!("{cert}require_certificate true\n"),
        4,
        "require_certificate",
        "needs cafile or capath",
    );
    refused_at(
        &format!("{cert}use_subject_as_username true\n"),
        4,
        "use_subject_as_username",
        "needs `require_certificate true`",
    );
    let s = parse(&format!(
        "{cert}capath /ca\nrequire_certificate true\nuse_identity_as_username true\n\
         use_subject_as_username true\ntls_version tlsv1.1\n"
    ));
    let tls = s.config.custom_listeners[0].tls.clone().unwrap();
    assert_eq!(tls.ca_path, Some(PathBuf::from("/ca")));
    assert!(tls.use_identity_as_username && !tls.use_subject_as_username);
    assert_eq!(tls.min_version, TlsVersion::Tls12);
    assert_eq!(s.warnings.len(), 2, "{:?}", s.warnings);
    assert!(s
        .warnings
        .iter()
        .any(|w| w.contains("`tls_version`: TLS 1.2 is mqlite's oldest")));
    assert!(s
        .warnings
        .iter()
        .any(|w| w.contains("`use_subject_as_username`: ignored")));
    refused_at(
        &format!("{cert}tls_version tlsv1\n"),
        4,
        "tls_version",
        "not tlsv1.2 or tlsv1.3",
    );
    refused_at(
        &format!("{cert}certfile /d\n"),
        4,
        "certfile",
        "given twice",
    );
}

#[test]
fn max_connections_makes_a_listener_of_its_own() {
    let c = parse(
        "listener 1883 127.0.0.1\nmax_connections -1\nlistener 1884 127.0.0.1\nmax_connections 2\n",
    )
    .config;
    assert_eq!(c.listeners, vec![addr("127.0.0.1:1883")]);
    let mut limited = Listener::tcp(addr("127.0.0.1:1884"));
    limited.max_connections = Some(2);
    assert_eq!(c.custom_listeners, vec![limited]);
    refused_at(
        "listener 1 127.0.0.1\nmax_connections 0\n",
        2,
        "max_connections",
        "refuse every client",
    );
}

#[test]
fn per_listener_settings_give_listeners_their_own_access() {
    let text = "\
per_listener_settings true

listener 1883 127.0.0.1
allow_anonymous true

listener 1884 127.0.0.1
password_file /etc/mosquitto/field.passwd
acl_file /etc/mosquitto/field.acl

listener 1885 127.0.0.1
allow_anonymous false
";
    let s = parse(text);
    assert!(s.warnings.is_empty(), "{:?}", s.warnings);
    let c = s.config;
    assert_eq!(c.allow_anonymous, Some(false));
    assert_eq!(c.password_file, None);
    assert_eq!(c.acl_file, None);
    // The third has nothing the broker-wide settings lack.
    assert_eq!(c.listeners, vec![addr("127.0.0.1:1885")]);
    let mut open = Listener::tcp(addr("127.0.0.1:1883"));
    open.allow_anonymous = Some(true);
    let mut field = Listener::tcp(addr("127.0.0.1:1884"));
    field.password_file = Some("/etc/mosquitto/field.passwd".into());
    field.acl_file = Some("/etc/mosquitto/field.acl".into());
    assert_eq!(c.custom_listeners, vec![open, field]);

    // Without it, the same lines are broker-wide whatever block they are in.
    let c =
        parse(&text.replace("per_listener_settings true", "per_listener_settings false")).config;
    assert_eq!(c.allow_anonymous, Some(false), "the last allow_anonymous");
    assert_eq!(c.password_file, Some("/etc/mosquitto/field.passwd".into()));
    assert_eq!(c.acl_file, Some("/etc/mosquitto/field.acl".into()));
    assert_eq!(c.listeners.len(), 3);
    assert!(c.custom_listeners.is_empty());
}

#[test]
fn settings_mqlite_has_once_must_agree_across_listeners() {
    let same = "listener 1 127.0.0.1\nmax_qos 1\nlistener 2 127.0.0.1\nmax_qos 1\n";
    assert_eq!(parse(same).config.max_qos, mqlite::QoS::AtLeastOnce);
    let error = refused("listener 1 127.0.0.1\nmax_qos 1\nlistener 2 127.0.0.1\n");
    assert!(
        error.contains("line 2: `max_qos`: mqlite has one max_qos for all listeners"),
        "{error}"
    );
    refused_at(
        "listener 1 127.0.0.1\nmax_topic_alias 5\nlistener 2 127.0.0.1\nmax_topic_alias 6\n",
        4,
        "max_topic_alias",
        "`6` (set at /etc/m.conf:4) and `5` (set at /etc/m.conf:2)",
    );
    let per = "per_listener_settings true\nlistener 1 127.0.0.1\nauto_id_prefix a-\nlistener 2 127.0.0.1\n";
    refused_at(per, 3, "auto_id_prefix", "mqlite has one auto_id_prefix");
    let c = parse(&format!("{per}auto_id_prefix a-\n")).config;
    assert_eq!(c.auto_id_prefix, "a-");
}

#[test]
fn include_dir_reads_the_conf_files_in_mosquittos_order() {
    let dir = Dir::new();
    let conf_d = dir.0.join("conf.d");
    dir.write("conf.d/b.conf", "listener 1885 127.0.0.1\n");
    dir.write(
        "conf.d/A.conf",
        "listener 1884 127.0.0.1\nmax_connections 3\n",
    );
    dir.write("conf.d/a.conf", "# only comments\n");
    dir.write("conf.d/notes.txt", "not read\n");
    dir.write("conf.d/.conf", "not read either\n");
    let main = dir.write(
        "mosquitto.conf",
        &format!(
            "listener 1883 127.0.0.1\ninclude_dir {}\nallow_anonymous true\n",
            conf_d.display()
        ),
    );
    let text = std::fs::read_to_string(&main).unwrap();
    let s = super::from_text(&main, &text).unwrap();
    assert_eq!(
        s.config.listeners,
        vec![addr("127.0.0.1:1883"), addr("127.0.0.1:1885")]
    );
    assert_eq!(s.config.custom_listeners.len(), 1);
    assert_eq!(s.config.custom_listeners[0].max_connections, Some(3));
    assert_eq!(s.config.allow_anonymous, Some(true));

    // An error in an included file names that file and its line.
    let bad = dir.write("conf.d/c.conf", "\n\nbridge_alpn x\n");
    let error = super::from_text(&main, &text).unwrap_err().to_string();
    assert_eq!(
        error,
        format!(
            "config file {}: line 3: `bridge_alpn`: not supported: mqlite's bridge sends no ALPN protocol",
            bad.display()
        )
    );
    std::fs::remove_file(&bad).unwrap();

    // Only the main file includes; each file starts on the default
    // listener, as in mosquitto.
    dir.write(
        "conf.d/d.conf",
        "include_dir /elsewhere\nsocket_domain ipv4\n",
    );
    let s = super::from_text(&main, &text).unwrap();
    assert!(
        s.warnings
            .iter()
            .any(|w| w.contains("d.conf: line 1: `include_dir`: skipped")),
        "{:?}",
        s.warnings
    );
    // socket_domain before any listener of d.conf: the default listener's,
    // which it starts.
    assert_eq!(s.config.listeners.last(), Some(&addr("0.0.0.0:1883")));

    let missing = "include_dir /no/such/dir\n";
    refused_at(missing, 1, "include_dir", "cannot read /no/such/dir");
    let itself = dir.write("self/m.conf", "");
    let self_text = format!("include_dir {}\n", dir.0.join("self").display());
    let error = super::from_text(&itself, &self_text)
        .unwrap_err()
        .to_string();
    assert!(error.contains("is the main config file"), "{error}");
}
