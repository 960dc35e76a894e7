//! Bridges with Debian's mosquitto on the other side: mqlite bridging to a
//! mosquitto upstream, and a mosquitto bridge whose upstream is mqlite
//! (mosquitto's bridge flag, `try_private`, understood).

use mqlite::codec::QoS;
use mqlite::{Bridge, BridgeDirection, BridgeTopic};

use crate::support::cli::mosquitto_broker::MosquittoBroker;
use crate::support::{RawClient, TestBroker, TIMEOUT};

/// Waits until `topic` on the broker at `addr` reads `state` (retained).
fn wait_retained(addr: std::net::SocketAddr, id: &str, topic: &str, state: &[u8]) {
    let mut watcher = RawClient::open(addr);
    watcher.connect(id, true, 30);
    watcher.subscribe(&[(topic, QoS::AtLeastOnce)]);
    let deadline = std::time::Instant::now() + TIMEOUT * 2;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "{topic} never {state:?}"
        );
        let msg = watcher.expect_publish();
        watcher.ack(&msg);
        if msg.payload == state {
            return;
        }
    }
}

#[test]
fn mqlite_bridges_to_a_mosquitto_upstream() {
    let Some(mosquitto) = MosquittoBroker::start("") else {
        return;
    };
    let local = TestBroker::start_with(|config| {
        let mut bridge = Bridge::new(
            "cloud",
            &mosquitto.addr.to_string(),
            vec![
                BridgeTopic::new("sensors/#", BridgeDirection::Out, QoS::AtLeastOnce),
                BridgeTopic::new("cmd/#", BridgeDirection::In, QoS::AtLeastOnce),
                BridgeTopic::new("chat/#", BridgeDirection::Both, QoS::AtLeastOnce),
            ],
        );
        bridge.remote_client_id = Some("mqlite-gw".into());
        config.bridges = vec![bridge];
    });
    let state = "$SYS/broker/connection/mqlite-gw/state";
    wait_retained(mosquitto.addr, "up-watch", state, b"1");
    wait_retained(local.addr, "local-watch", state, b"1");

    let mut cloud = RawClient::open(mosquitto.addr);
    cloud.connect("cloud", true, 30);
    cloud.subscribe(&[
        ("sensors/#", QoS::AtLeastOnce),
        ("chat/#", QoS::AtLeastOnce),
    ]);
    let mut device = RawClient::open(local.addr);
    device.connect("device", true, 30);
    device.subscribe(&[("cmd/#", QoS::AtLeastOnce), ("chat/#", QoS::AtLeastOnce)]);
    let mut writer = RawClient::open(local.addr);
    writer.connect("writer", true, 30);
    let mut cloud_writer = RawClient::open(mosquitto.addr);
    cloud_writer.connect("cloud-writer", true, 30);

    writer.publish_acked("sensors/t", b"20", QoS::AtLeastOnce, false);
    cloud.expect_message("sensors/t", b"20");
    cloud_writer.publish_acked("cmd/go", b"now", QoS::AtLeastOnce, false);
    device.expect_message("cmd/go", b"now");
    // Both ways, each message seen once on each side: mosquitto honours
    // the bridge flag and does not send the bridge's messages back.
    writer.publish_acked("chat/a", b"near", QoS::AtLeastOnce, false);
    device.expect_message("chat/a", b"near");
    cloud.expect_message("chat/a", b"near");
    cloud_writer.publish_acked("chat/b", b"far", QoS::AtLeastOnce, false);
    cloud.expect_message("chat/b", b"far");
    device.expect_message("chat/b", b"far");
    device.expect_nothing();
    cloud.expect_nothing();
}

#[test]
fn a_mosquitto_bridge_to_an_mqlite_upstream() {
    let upstream = TestBroker::start();
    let Some(mosquitto) = MosquittoBroker::start(&format!(
        "connection to-mqlite\naddress {}\nremote_clientid mosq-gw\n\
         restart_timeout 1\ntopic chat/# both 1\ntopic up/# out 1 site/ gw/\n",
        upstream.addr
    )) else {
        return;
    };
    // The bridge's notification reaches mqlite: a bridge may publish its
    // link's state under $SYS.
    wait_retained(
        upstream.addr,
        "watch",
        "$SYS/broker/connection/mosq-gw/state",
        b"1",
    );

    let mut far = RawClient::open(upstream.addr);
    far.connect("far", true, 30);
    far.subscribe(&[("chat/#", QoS::AtLeastOnce), ("gw/#", QoS::AtLeastOnce)]);
    let mut near = RawClient::open(mosquitto.addr);
    near.connect("near", true, 30);
    near.subscribe(&[("chat/#", QoS::AtLeastOnce)]);
    let mut near_writer = RawClient::open(mosquitto.addr);
    near_writer.connect("near-writer", true, 30);
    let mut far_writer = RawClient::open(upstream.addr);
    far_writer.connect("far-writer", true, 30);

    near_writer.publish_acked("site/up/x", b"1", QoS::AtLeastOnce, false);
    far.expect_message("gw/up/x", b"1");
    near_writer.publish_acked("chat/a", b"near", QoS::AtLeastOnce, false);
    near.expect_message("chat/a", b"near");
    far.expect_message("chat/a", b"near");
    far_writer.publish_acked("chat/b", b"far", QoS::AtLeastOnce, false);
    far.expect_message("chat/b", b"far");
    near.expect_message("chat/b", b"far");
    // mqlite did not send the bridge's own messages back to it (its
    // subscriptions are No Local), so nothing came around.
    near.expect_nothing();
    far.expect_nothing();
    assert!(
        mosquitto.log().contains("to-mqlite"),
        "mosquitto's log: {}",
        mosquitto.log()
    );
}

#[test]
fn a_mosquitto_conf_bridge_in_the_binary() {
    let Some(upstream) = MosquittoBroker::start("") else {
        return;
    };
    let dir = crate::support::TempDir::new("conf-bridge");
    let port = crate::support::cli::mosquitto_broker::free_port();
    let conf = dir.file(
        "mosquitto.conf",
        &format!(
            "# a gateway's config, as mosquitto reads it\nlistener {port} 127.0.0.1\n\
             allow_anonymous true\npersistence false\n\n\
             connection cloud\naddress {}\nremote_clientid gw-7\n\
             restart_timeout 1 5\ntopic sensors/# out 1 site/ gw7/\n\
             topic cmd/# in 1\n",
            upstream.addr
        ),
    );
    let conf_arg = conf.to_str().unwrap().to_string();
    let launch = crate::support::binary::Launch::new(&["-c", &conf_arg], dir.dir(), Some(port));
    let local = crate::support::cli::Mqlite::launch(launch, crate::support::binary::Ready::Serving)
        .unwrap_or_else(|error| panic!("{error}"));
    wait_retained(
        upstream.addr,
        "watch",
        "$SYS/broker/connection/gw-7/state",
        b"1",
    );
    let mut cloud = RawClient::open(upstream.addr);
    cloud.connect("cloud", true, 30);
    cloud.subscribe(&[("gw7/#", QoS::AtLeastOnce)]);
    let mut device = RawClient::open(local.addr);
    device.connect("device", true, 30);
    device.subscribe(&[("cmd/#", QoS::AtLeastOnce)]);
    let mut writer = RawClient::open(local.addr);
    writer.connect("writer", true, 30);
    writer.publish_acked("site/sensors/t", b"21", QoS::AtLeastOnce, false);
    cloud.expect_message("gw7/sensors/t", b"21");
    let mut cloud_writer = RawClient::open(upstream.addr);
    cloud_writer.connect("cloud-writer", true, 30);
    cloud_writer.publish_acked("cmd/reboot", b"now", QoS::AtLeastOnce, false);
    device.expect_message("cmd/reboot", b"now");
}
