//! A bridge's outgoing queue across `kill -9`: messages acknowledged to
//! their publisher while the upstream is down are in the SQLite file, and
//! reach the upstream, all of them and in order, after the broker was
//! killed and started again.

use std::net::TcpListener;

use mqlite::codec::QoS;

use crate::support::binary::{Mqlite, Ready};
use crate::support::{RawClient, TempDir, TestBroker};

#[test]
fn queued_for_the_upstream_survives_kill_9() {
    let dir = TempDir::new("bridge-crash");
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let upstream_addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let upstream_db = dir.path("upstream.db");
    // The upstream's subscriber session is made first and kept in its own
    // file, so that it is there whenever the bridge gets through.
    {
        let upstream = TestBroker::start_with(|config| {
            config.listeners = vec![upstream_addr];
            config.persistence = Some(upstream_db.clone());
        });
        let mut cloud = RawClient::open(upstream.addr);
        cloud.connect("cloud", false, 30);
        cloud.subscribe(&[("data/#", QoS::AtLeastOnce)]);
        cloud.disconnect();
        upstream.stop().unwrap();
    }
    let config = dir.file(
        "mqlite.toml",
        &format!(
            "[[bridge]]\nname = \"up\"\naddresses = [\"127.0.0.1:{port}\"]\n\
             remote_clientid = \"gateway-1\"\nrestart_timeout = 1\n\
             topics = [{{ pattern = \"data/#\", direction = \"out\", qos = 1 }}]\n"
        ),
    );
    let db = dir.path("local.db");
    let config_arg = config.to_str().unwrap();
    let local = Mqlite::start_db(&db, None, &["-c", config_arg], Ready::Serving);
    let mut device = RawClient::open(local.addr);
    device.connect("device", true, 30);
    // QoS 1 and QoS 0 (which the QoS 1 topic carries at QoS 1): each
    // acknowledged (or, for QoS 0, followed by a PINGRESP) before the kill.
    for i in 0..300 {
        let qos = if i % 3 == 0 {
            QoS::AtMostOnce
        } else {
            QoS::AtLeastOnce
        };
        device.publish_acked("data/x", format!("{i}").as_bytes(), qos, false);
    }
    drop(device);
    let local = local.kill_and_restart();
    let upstream = TestBroker::start_with(|config| {
        config.listeners = vec![upstream_addr];
        config.persistence = Some(upstream_db.clone());
    });
    let mut cloud = RawClient::open(upstream.addr);
    cloud.connect("cloud", false, 30);
    let got = cloud.receive_and_ack(300);
    let payloads: Vec<String> = got.iter().map(|m| m.text()).collect();
    assert_eq!(
        payloads,
        (0..300).map(|i| i.to_string()).collect::<Vec<_>>()
    );
    assert!(got.iter().all(|m| m.qos == QoS::AtLeastOnce));
    cloud.expect_nothing();
    drop(local);
}
