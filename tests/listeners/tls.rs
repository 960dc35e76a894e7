//! TLS listeners end to end with Debian's `mosquitto_pub` / `mosquitto_sub`
//! (`--cafile`, `--cert`, `--key`, `--tls-version`): server certificates,
//! client certificates naming the user (`use_identity_as_username`) under
//! a per-listener ACL, the certificate shown to the auth hook, TLS 1.3
//! only, a renewed certificate taken by a reload, and bad input
//! (garbage instead of a ClientHello, a stalled handshake, unusable files).
//! Certificates are made by the test (`support::pki`).

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::Path;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mqlite::{AuthDecision, Broker, Config, Listener, TlsSettings, TlsVersion};
use support::cli::mosquitto::{mosquitto_tools, Sub};
use support::cli::run;
use support::pki::{tls_connect, Pki};
use support::{test_config, wait_until, TestBroker, TIMEOUT};

/// A broker with a plain listener (`addr`) and `listener` (`custom[0]`).
fn broker_with(listener: Listener) -> TestBroker {
    TestBroker::start_with(|config| config.custom_listeners.push(listener))
}

fn tls_port(broker: &TestBroker) -> u16 {
    broker.custom[0].expect("a TCP listener").port()
}

/// Runs `mosquitto_pub` with `args` against `port` on `localhost` (the
/// name the server certificate carries); returns whether it succeeded and
/// its stderr.
fn publish(tool: &Path, port: u16, args: &[&str]) -> (bool, String) {
    let out = run(
        Command::new(tool)
            .args(["-h", "localhost", "-p", &port.to_string()])
            .args(args),
        TIMEOUT,
    );
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Publishes until `sub` (started with `-C 1`) exits, so the test does not
/// depend on when its subscription became active.
fn publish_until_received(tool: &Path, port: u16, args: &[&str], mut sub: Sub) -> String {
    wait_until(Duration::from_secs(10), "the subscriber receives", || {
        let (ok, err) = publish(tool, port, args);
        assert!(ok, "mosquitto_pub {args:?} failed: {err}");
        sub.exited()
    });
    sub.finish()
}

#[test]
fn mosquitto_clients_over_tls() {
    let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let pki = Pki::new("test CA");
    let broker = broker_with(
        Listener::tcp("127.0.0.1:0".parse().unwrap())
            .with_tls(TlsSettings::new(&pki.server_cert, &pki.server_key)),
    );
    let port = tls_port(&broker);
    let ca = pki.ca.to_str().unwrap();
    // A TLS subscriber gets what a TLS client and a plain client publish.
    for (publish_port, tls_args) in [(port, vec!["--cafile", ca]), (broker.addr.port(), vec![])] {
        let sub = Sub::spawn(
            &sub_tool,
            port,
            &[
                "-h",
                "localhost",
                "--cafile",
                ca,
                "-t",
                "tls/t",
                "-C",
                "1",
                "-W",
                "10",
            ],
        );
        let mut args = tls_args.clone();
        args.extend(["-t", "tls/t", "-m", "over tls", "-q", "1"]);
        let out = publish_until_received(&pub_tool, publish_port, &args, sub);
        assert_eq!(out.trim(), "over tls");
    }
    // A client that does not trust the CA gives up.
    let other = Pki::new("another CA");
    let (ok, _) = publish(
        &pub_tool,
        port,
        &["--cafile", other.ca.to_str().unwrap(), "-t", "x", "-m", "x"],
    );
    assert!(!ok, "a client trusting another CA connected");
    broker.assert_serves();
}

#[test]
fn client_certificate_names_the_user_under_the_listeners_acl() {
    let Some((pub_tool, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let pki = Pki::new("test CA");
    let acl = pki.dir.file("acl", "user dev1\ntopic readwrite dev1/#\n");
    let mut tls = TlsSettings::new(&pki.server_cert, &pki.server_key);
    tls.ca_file = Some(pki.ca.clone());
    tls.require_certificate = true;
    tls.use_identity_as_username = true;
    let mut listener = Listener::tcp("127.0.0.1:0".parse().unwrap()).with_tls(tls);
    listener.acl_file = Some(acl);
    let broker = broker_with(listener);
    let port = tls_port(&broker);
    let ca = pki.ca.to_str().unwrap();
    let (cert, key) = pki.client("dev1");
    let (cert, key) = (cert.to_str().unwrap(), key.to_str().unwrap());

    // The plain listener has no ACL: its subscriber sees what dev1 may
    // publish, and the test can tell what was dropped.
    let sub = Sub::spawn(
        &sub_tool,
        broker.addr.port(),
        &["-t", "#", "-v", "-C", "1", "-W", "10"],
    );
    let tls_args = ["--cafile", ca, "--cert", cert, "--key", key];
    // Outside dev1/#: connects (the certificate names dev1; the user
    // name given is ignored), but the ACL drops it.
    let mut denied = tls_args.to_vec();
    denied.extend(["-u", "someone-else", "-t", "other/x", "-m", "no", "-q", "1"]);
    let (ok, err) = publish(&pub_tool, port, &denied);
    assert!(ok, "{err}");
    let mut allowed = tls_args.to_vec();
    allowed.extend(["-t", "dev1/temp", "-m", "21", "-q", "1"]);
    let out = publish_until_received(&pub_tool, port, &allowed, sub);
    assert_eq!(out.trim(), "dev1/temp 21");

    // Without a certificate the handshake fails.
    let (ok, _) = publish(
        &pub_tool,
        port,
        &["--cafile", ca, "-t", "dev1/x", "-m", "x"],
    );
    assert!(!ok, "a client without a certificate connected");
    broker.assert_serves();
}

#[test]
fn the_auth_hook_sees_the_certificate_and_the_listener() {
    let Some((pub_tool, _)) = mosquitto_tools() else {
        return;
    };
    let pki = Pki::new("test CA");
    let mut tls = TlsSettings::new(&pki.server_cert, &pki.server_key);
    tls.ca_file = Some(pki.ca.clone());
    let mut config = test_config();
    config
        .custom_listeners
        .push(Listener::tcp("127.0.0.1:0".parse().unwrap()).with_tls(tls));
    let seen = Arc::new(Mutex::new(Vec::new()));
    let record = Arc::clone(&seen);
    let broker = TestBroker::start_setup(config, move |broker: &mut Broker| {
        broker.set_auth_hook(move |info| {
            let cert = info
                .certificate
                .map(|c| (c.subject.clone(), c.common_name.clone()));
            record.lock().unwrap().push((info.listener, cert));
            AuthDecision::Accept
        });
    });
    let port = tls_port(&broker);
    let (cert, key) = pki.client("dev2");
    let ca = pki.ca.to_str().unwrap();
    let (ok, err) = publish(
        &pub_tool,
        port,
        &[
            "--cafile",
            ca,
            "--cert",
            cert.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "-t",
            "t",
            "-m",
            "m",
        ],
    );
    assert!(ok, "{err}");
    // Certificates are optional on this listener.
    let (ok, err) = publish(&pub_tool, port, &["--cafile", ca, "-t", "t", "-m", "m"]);
    assert!(ok, "{err}");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen,
        vec![
            (
                1,
                Some((
                    "CN=dev2,O=mqlite tests".to_string(),
                    Some("dev2".to_string())
                ))
            ),
            (1, None),
        ]
    );
}

#[test]
fn tls_1_3_only() {
    let pki = Pki::new("test CA");
    let mut tls = TlsSettings::new(&pki.server_cert, &pki.server_key);
    tls.min_version = TlsVersion::Tls13;
    let broker = broker_with(Listener::tcp("127.0.0.1:0".parse().unwrap()).with_tls(tls));
    let addr = SocketAddr::from(([127, 0, 0, 1], tls_port(&broker)));
    let tls13 = tls_connect(addr, &pki.ca, &[&rustls::version::TLS13]).expect("TLS 1.3");
    assert_eq!(
        tls13.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_3)
    );
    let tls12 = tls_connect(addr, &pki.ca, &[&rustls::version::TLS12]);
    assert!(
        tls12.is_err(),
        "a TLS 1.2 client connected to a TLS 1.3 listener"
    );

    // The default listener takes both.
    let both = broker_with(
        Listener::tcp("127.0.0.1:0".parse().unwrap())
            .with_tls(TlsSettings::new(&pki.server_cert, &pki.server_key)),
    );
    let addr = SocketAddr::from(([127, 0, 0, 1], tls_port(&both)));
    let tls12 = tls_connect(addr, &pki.ca, &[&rustls::version::TLS12]).expect("TLS 1.2");
    assert_eq!(
        tls12.conn.protocol_version(),
        Some(rustls::ProtocolVersion::TLSv1_2)
    );
}

#[test]
fn a_reload_takes_a_renewed_certificate() {
    let Some((pub_tool, _)) = mosquitto_tools() else {
        return;
    };
    let old = Pki::new("old CA");
    let dir = support::TempDir::new("renewed");
    let cert = dir.path("server.pem");
    let key = dir.path("server.key");
    std::fs::copy(&old.server_cert, &cert).unwrap();
    std::fs::copy(&old.server_key, &key).unwrap();
    let broker = broker_with(
        Listener::tcp("127.0.0.1:0".parse().unwrap()).with_tls(TlsSettings::new(&cert, &key)),
    );
    let port = tls_port(&broker);
    let args = |ca: &Path| {
        vec![
            "--cafile".to_string(),
            ca.display().to_string(),
            "-t".into(),
            "t".into(),
            "-m".into(),
            "m".into(),
        ]
    };
    let try_with = |ca: &Path| {
        let args = args(ca);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        publish(&pub_tool, port, &args).0
    };
    assert!(try_with(&old.ca));

    // A broken file: the reload fails, naming it, and nothing changes.
    std::fs::write(&key, "not a key").unwrap();
    let error = broker.handle.reload(TIMEOUT).unwrap_err().to_string();
    assert!(error.contains("server.key"), "{error}");
    assert!(try_with(&old.ca));

    let new = Pki::new("new CA");
    std::fs::copy(&new.server_cert, &cert).unwrap();
    std::fs::copy(&new.server_key, &key).unwrap();
    broker.handle.reload(TIMEOUT).expect("the reload");
    assert!(try_with(&new.ca), "the renewed certificate is not used");
    assert!(!try_with(&old.ca), "the old certificate is still used");
}

/// Reads until the broker closes the connection; false if it stays open
/// past the deadline.
fn closed_by_broker(stream: &mut TcpStream, within: Duration) -> bool {
    stream.set_read_timeout(Some(within)).unwrap();
    let mut buf = [0u8; 4096];
    loop {
        match stream.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return true,
            Err(_) => return false,
        }
    }
}

#[test]
fn garbage_and_stalled_handshakes_close_only_their_connection() {
    let pki = Pki::new("test CA");
    let broker = TestBroker::start_with(|config| {
        config.connect_timeout = Duration::from_secs(1);
        config.custom_listeners.push(
            Listener::tcp("127.0.0.1:0".parse().unwrap())
                .with_tls(TlsSettings::new(&pki.server_cert, &pki.server_key)),
        );
    });
    let addr = SocketAddr::from(([127, 0, 0, 1], tls_port(&broker)));

    // MQTT instead of a ClientHello: an alert, then the end.
    let mut garbage = TcpStream::connect(addr).unwrap();
    garbage
        .write_all(&[0x10, 0x0c, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0])
        .unwrap();
    assert!(closed_by_broker(&mut garbage, TIMEOUT));

    // A handshake that never comes: closed at the connect timeout.
    let mut stalled = TcpStream::connect(addr).unwrap();
    assert!(closed_by_broker(&mut stalled, Duration::from_secs(10)));

    broker.assert_serves();
    let stats = broker.stats();
    assert_eq!(stats.connections, 0, "{stats:?}");
}

#[test]
fn a_listener_that_cannot_start_names_its_file() {
    let pki = Pki::new("test CA");
    let start = |listener: Listener| {
        let config = Config {
            custom_listeners: vec![listener],
            ..test_config()
        };
        match Broker::new(config) {
            Ok(_) => panic!("the broker started"),
            Err(error) => error.to_string(),
        }
    };
    let tcp = || Listener::tcp("127.0.0.1:0".parse().unwrap());
    let missing = pki.dir.path("missing.key");
    let error = start(tcp().with_tls(TlsSettings::new(&pki.server_cert, &missing)));
    assert!(error.contains("missing.key"), "{error}");
    assert!(error.contains("mqtts://127.0.0.1:0"), "{error}");

    let encrypted = pki.dir.file(
        "encrypted.key",
        "-----BEGIN ENCRYPTED PRIVATE KEY-----\nMIIB\n-----END ENCRYPTED PRIVATE KEY-----\n",
    );
    let error = start(tcp().with_tls(TlsSettings::new(&pki.server_cert, &encrypted)));
    assert!(error.contains("encrypted"), "{error}");

    // A key that is not the certificate's.
    let (_, other_key) = pki.client("other");
    let error = start(tcp().with_tls(TlsSettings::new(&pki.server_cert, &other_key)));
    assert!(error.contains("keyfile"), "{error}");

    let mut tls = TlsSettings::new(&pki.server_cert, &pki.server_key);
    tls.ca_file = Some(pki.dir.path("no-ca.pem"));
    let error = start(tcp().with_tls(tls));
    assert!(error.contains("no-ca.pem"), "{error}");

    let error = start(Listener::unix(pki.dir.path("no/such/dir/mqlite.sock")));
    assert!(error.contains("no/such/dir"), "{error}");
}
