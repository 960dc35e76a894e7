//! Bridges over TLS between two brokers in the test process: by host
//! name with a client certificate, the host name checked unless
//! `insecure`, and TLS files checked when the bridge is added.

use std::time::Duration;

use mqlite::codec::QoS;
use mqlite::{Bridge, BridgeDirection};

use super::bridge::{client, topic, wait_state};
use crate::support::{TestBroker, TIMEOUT};

/// An upstream whose only other listener is TLS on all addresses,
/// requiring a client certificate from its CA.
fn tls_upstream(pki: &crate::support::pki::Pki) -> (TestBroker, u16) {
    let mut tls = mqlite::TlsSettings::new(&pki.server_cert, &pki.server_key);
    tls.ca_file = Some(pki.ca.clone());
    tls.require_certificate = true;
    let broker = TestBroker::start_with(|config| {
        config
            .custom_listeners
            .push(mqlite::Listener::tcp("0.0.0.0:0".parse().unwrap()).with_tls(tls));
    });
    let port = broker.custom[0].expect("a TCP listener").port();
    (broker, port)
}

fn tls_bridge(address: &str, pki: &crate::support::pki::Pki, insecure: bool) -> Bridge {
    let (cert, key) = pki.client("gateway");
    let mut bridge = Bridge::new(
        "up",
        address,
        vec![topic(
            "secure/#",
            BridgeDirection::Out,
            QoS::AtLeastOnce,
            "",
            "",
        )],
    );
    bridge.remote_client_id = Some("gateway-1".into());
    bridge.restart_timeout = Duration::from_millis(200);
    bridge.restart_timeout_cap = None;
    bridge.tls = Some(mqlite::BridgeTls {
        ca_file: Some(pki.ca.clone()),
        ca_path: None,
        cert_file: Some(cert),
        key_file: Some(key),
        insecure,
    });
    bridge
}

#[test]
fn a_tls_uplink_with_a_client_certificate() {
    let pki = crate::support::pki::Pki::new("bridge CA");
    let (upstream, port) = tls_upstream(&pki);
    // By host name: resolved, and the certificate checked against it.
    let local = TestBroker::start_with(|config| {
        config.bridges = vec![tls_bridge(&format!("localhost:{port}"), &pki, false)];
    });
    wait_state(&upstream, "up-watch", b"1");
    let mut cloud = client(upstream.addr, "cloud");
    cloud.subscribe(&[("secure/#", QoS::AtLeastOnce)]);
    let mut device = client(local.addr, "device");
    device.publish_acked("secure/a", b"s", QoS::AtLeastOnce, false);
    cloud.expect_message("secure/a", b"s");
}

#[test]
fn a_tls_uplink_checks_the_host_name_unless_insecure() {
    let pki = crate::support::pki::Pki::new("bridge CA");
    let (upstream, port) = tls_upstream(&pki);
    // 127.0.0.2 reaches the upstream, but its certificate does not name it.
    let checked = TestBroker::start_with(|config| {
        config.bridges = vec![tls_bridge(&format!("127.0.0.2:{port}"), &pki, false)];
    });
    let insecure = TestBroker::start_with(|config| {
        let mut bridge = tls_bridge(&format!("127.0.0.2:{port}"), &pki, true);
        bridge.name = "insecure".into();
        bridge.remote_client_id = Some("gateway-2".into());
        config.bridges = vec![bridge];
    });
    let mut watcher = client(upstream.addr, "watch");
    watcher.subscribe(&[("$SYS/broker/connection/+/state", QoS::AtLeastOnce)]);
    let up = watcher.expect_publish();
    assert_eq!(
        (up.topic.as_str(), up.payload.as_slice()),
        ("$SYS/broker/connection/gateway-2/state", &b"1"[..])
    );
    watcher.ack(&up);
    watcher.expect_nothing();
    let stats = checked.handle.bridge_stats(TIMEOUT).unwrap();
    assert!(
        !stats[0].connected && stats[0].connections == 0,
        "{stats:?}"
    );
    drop(insecure);
}

#[test]
fn a_bridge_with_an_unreadable_ca_file_does_not_start() {
    let pki = crate::support::pki::Pki::new("bridge CA");
    let mut bridge = tls_bridge("localhost:8883", &pki, false);
    if let Some(tls) = &mut bridge.tls {
        tls.ca_file = Some(pki.dir.path("missing.pem"));
    }
    let mut config = crate::support::test_config();
    config.bridges = vec![bridge];
    let error = mqlite::Broker::new(config)
        .err()
        .expect("refused")
        .to_string();
    assert!(
        error.contains("missing.pem") && error.contains("bridge up"),
        "{error}"
    );
}
