//! Bridges between two brokers in the test process: topics out and in
//! with their prefixes, the link's state notifications, no echo for
//! `both`, and store-and-forward while the upstream is down.

use std::net::TcpListener;
use std::time::Duration;

use mqlite::codec::QoS;
use mqlite::{Bridge, BridgeDirection, BridgeTopic};

use crate::support::{RawClient, TestBroker, TIMEOUT};

pub(super) fn topic(
    pattern: &str,
    direction: BridgeDirection,
    qos: QoS,
    local: &str,
    remote: &str,
) -> BridgeTopic {
    BridgeTopic {
        local_prefix: local.into(),
        remote_prefix: remote.into(),
        ..BridgeTopic::new(pattern, direction, qos)
    }
}

pub(super) fn bridge_to(addr: std::net::SocketAddr, topics: Vec<BridgeTopic>) -> Bridge {
    let mut bridge = Bridge::new("up", &addr.to_string(), topics);
    bridge.remote_client_id = Some("gateway-1".into());
    bridge.restart_timeout = Duration::from_millis(200);
    bridge.restart_timeout_cap = None;
    bridge
}

/// The one `out` topic most tests need: `data/#` at QoS 1, no prefixes.
pub(super) fn data_out() -> Vec<BridgeTopic> {
    vec![topic(
        "data/#",
        BridgeDirection::Out,
        QoS::AtLeastOnce,
        "",
        "",
    )]
}

/// A clean-session 3.1.1 client of the broker at `addr`.
pub(super) fn client(addr: std::net::SocketAddr, id: &str) -> RawClient {
    let mut client = RawClient::open(addr);
    client.connect(id, true, 30);
    client
}

/// A loopback address nothing listens on (yet).
pub(super) fn unused_addr() -> std::net::SocketAddr {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
}

pub(super) const STATE: &str = "$SYS/broker/connection/gateway-1/state";

/// Waits until the bridge's state topic on `broker` reads `state`.
pub(super) fn wait_state(broker: &TestBroker, id: &str, state: &[u8]) {
    let mut watcher = RawClient::open(broker.addr);
    watcher.connect(id, true, 30);
    watcher.subscribe(&[(STATE, QoS::AtLeastOnce)]);
    let deadline = std::time::Instant::now() + TIMEOUT * 2;
    loop {
        assert!(
            std::time::Instant::now() < deadline,
            "bridge state never {state:?}"
        );
        let msg = watcher.expect_publish();
        watcher.ack(&msg);
        if msg.payload == state {
            return;
        }
    }
}

#[test]
fn topics_cross_both_ways_with_their_prefixes() {
    let upstream = TestBroker::start();
    let local = TestBroker::start_with(|config| {
        config.bridges = vec![bridge_to(
            upstream.addr,
            vec![
                topic(
                    "sensors/#",
                    BridgeDirection::Out,
                    QoS::AtLeastOnce,
                    "site/",
                    "gw1/",
                ),
                topic(
                    "cmd/#",
                    BridgeDirection::In,
                    QoS::AtLeastOnce,
                    "local/",
                    "cloud/",
                ),
            ],
        )];
    });
    // Up on both sides, retained.
    wait_state(&upstream, "up-watch", b"1");
    wait_state(&local, "local-watch", b"1");

    let mut cloud = client(upstream.addr, "cloud");
    cloud.subscribe(&[("gw1/#", QoS::AtLeastOnce)]);
    let mut device = client(local.addr, "device");
    device.subscribe(&[("local/#", QoS::AtLeastOnce)]);

    device.publish_acked("site/sensors/t1", b"21.5", QoS::AtLeastOnce, false);
    // A QoS 0 message crosses at the topic's QoS 1.
    device.publish("site/sensors/t2", b"22.0", QoS::AtMostOnce, false);
    let first = cloud.expect_message("gw1/sensors/t1", b"21.5");
    assert_eq!(first.qos, QoS::AtLeastOnce);
    cloud.expect_message("gw1/sensors/t2", b"22.0");
    // Not a bridge topic: stays local.
    device.publish_acked("site/other", b"x", QoS::AtLeastOnce, false);

    cloud.publish_acked("cloud/cmd/reboot", b"now", QoS::AtLeastOnce, false);
    device.expect_message("local/cmd/reboot", b"now");
    cloud.expect_nothing();

    // The upstream goes away: the local state says so.
    drop(cloud);
    upstream.stop().unwrap();
    wait_state(&local, "local-watch-2", b"0");
}

#[test]
fn both_ways_without_echo() {
    let upstream = TestBroker::start();
    let local = TestBroker::start_with(|config| {
        config.bridges = vec![bridge_to(
            upstream.addr,
            vec![topic(
                "chat/#",
                BridgeDirection::Both,
                QoS::AtLeastOnce,
                "",
                "",
            )],
        )];
    });
    wait_state(&upstream, "up-watch", b"1");
    let mut far = client(upstream.addr, "far");
    far.subscribe(&[("chat/#", QoS::AtLeastOnce)]);
    let mut near = client(local.addr, "near");
    near.subscribe(&[("chat/#", QoS::AtLeastOnce)]);
    let mut near_writer = client(local.addr, "near-writer");
    let mut far_writer = client(upstream.addr, "far-writer");

    near_writer.publish_acked("chat/a", b"from near", QoS::AtLeastOnce, false);
    near.expect_message("chat/a", b"from near");
    far.expect_message("chat/a", b"from near");
    far_writer.publish_acked("chat/b", b"from far", QoS::AtLeastOnce, false);
    far.expect_message("chat/b", b"from far");
    near.expect_message("chat/b", b"from far");
    // Nothing came back around: each side saw each message once.
    near.expect_nothing();
    far.expect_nothing();
}

#[test]
fn messages_wait_for_the_upstream_and_arrive_in_order() {
    // The upstream's port is chosen now, and nothing listens on it yet.
    let upstream_addr = unused_addr();
    let local = TestBroker::start_with(|config| {
        config.bridges = vec![bridge_to(upstream_addr, data_out())];
    });
    let mut device = client(local.addr, "device");
    for i in 0..50 {
        device.publish_acked("data/x", format!("{i}").as_bytes(), QoS::AtLeastOnce, false);
    }
    // The upstream comes up; its subscriber is in before the bridge's
    // next attempt.
    let upstream = TestBroker::start_with(|config| {
        config.listeners = vec![upstream_addr];
    });
    let mut cloud = RawClient::open(upstream.addr);
    cloud.connect("cloud", false, 30);
    cloud.subscribe(&[("data/#", QoS::AtLeastOnce)]);
    let got = cloud.receive_and_ack(50);
    let payloads: Vec<String> = got.iter().map(|m| m.text()).collect();
    let expected: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
}

#[test]
fn a_bridge_added_and_removed_while_running() {
    let upstream = TestBroker::start();
    let local = TestBroker::start();
    let bridge = bridge_to(upstream.addr, data_out());
    local.handle.add_bridge(bridge.clone(), TIMEOUT).unwrap();
    // The same name again is refused.
    assert!(local.handle.add_bridge(bridge, TIMEOUT).is_err());
    wait_state(&upstream, "up-watch", b"1");
    let mut cloud = client(upstream.addr, "cloud");
    cloud.subscribe(&[("data/#", QoS::AtLeastOnce)]);
    let mut device = client(local.addr, "device");
    device.publish_acked("data/1", b"a", QoS::AtLeastOnce, false);
    cloud.expect_message("data/1", b"a");
    let stats = local.handle.bridge_stats(TIMEOUT).unwrap();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0].name, "up");
    assert!(stats[0].connected);
    assert_eq!(stats[0].connections, 1);
    assert_eq!(stats[0].sent, 1);

    assert!(local.handle.remove_bridge("up", TIMEOUT).unwrap());
    assert!(!local.handle.remove_bridge("up", TIMEOUT).unwrap());
    // The upstream sees the link go (the bridge's will).
    wait_state(&upstream, "up-watch-2", b"0");
    device.publish_acked("data/2", b"b", QoS::AtLeastOnce, false);
    cloud.expect_nothing();
    assert!(local.handle.bridge_stats(TIMEOUT).unwrap().is_empty());
}

#[test]
fn clients_may_not_take_a_bridge_session() {
    let broker = TestBroker::start();
    let mut client = RawClient::open(broker.addr);
    client.send_connect(&crate::support::ConnectOptions::new("$bridge/up"));
    assert_eq!(client.expect_connack().1, 2, "identifier rejected");
}

#[test]
fn an_mqtt_5_bridge_keeps_to_the_upstreams_receive_maximum() {
    // The upstream takes 2 unreleased QoS 2 messages at a time from a
    // client, and disconnects one that sends more.
    let upstream = TestBroker::start_with(|config| config.max_inflight = 2);
    let local = TestBroker::start_with(|config| {
        let mut bridge = bridge_to(
            upstream.addr,
            vec![topic(
                "q2/#",
                BridgeDirection::Both,
                QoS::ExactlyOnce,
                "",
                "",
            )],
        );
        bridge.protocol = mqlite::BridgeProtocol::V5;
        config.bridges = vec![bridge];
    });
    wait_state(&upstream, "up-watch", b"1");
    let mut cloud = client(upstream.addr, "cloud");
    cloud.subscribe(&[("q2/#", QoS::ExactlyOnce)]);
    let mut device = client(local.addr, "device");
    // All at once (QoS 1 here; they cross at the topic's QoS 2): the
    // bridge has 20 to send and a window of 2.
    for i in 0..20u16 {
        let payload = format!("{i}");
        device.send_publish(
            "q2/x",
            payload.as_bytes(),
            QoS::AtLeastOnce,
            false,
            false,
            Some(i + 1),
        );
    }
    for _ in 0..20 {
        assert!(matches!(
            device.expect_packet(),
            crate::support::Pkt::PubAck(_)
        ));
    }
    let got = cloud.receive_and_ack(20);
    assert!(got.iter().all(|m| m.qos == QoS::ExactlyOnce));
    let payloads: Vec<String> = got.iter().map(|m| m.text()).collect();
    assert_eq!(payloads, (0..20).map(|i| i.to_string()).collect::<Vec<_>>());
    // And back, at QoS 2.
    let mut sink = client(local.addr, "sink");
    sink.subscribe(&[("q2/#", QoS::ExactlyOnce)]);
    let mut cloud_writer = client(upstream.addr, "cloud-writer");
    cloud_writer.publish_acked("q2/back", b"b", QoS::ExactlyOnce, false);
    let back = sink.receive_and_ack(1);
    assert_eq!(
        (back[0].topic.as_str(), back[0].qos),
        ("q2/back", QoS::ExactlyOnce)
    );
    // One connection all along: never over the upstream's window.
    let stats = local.handle.bridge_stats(TIMEOUT).unwrap();
    assert_eq!(stats[0].connections, 1, "{stats:?}");
    assert_eq!(stats[0].sent, 20);
}

#[test]
fn the_upstream_restarted_mid_stream_loses_nothing() {
    let dir = crate::support::TempDir::new("bridge-restart");
    let upstream_addr = unused_addr();
    let upstream_db = dir.path("upstream.db");
    let start_upstream = || {
        TestBroker::start_with(|config| {
            config.listeners = vec![upstream_addr];
            config.persistence = Some(upstream_db.clone());
        })
    };
    let upstream = start_upstream();
    let mut cloud = RawClient::open(upstream.addr);
    cloud.connect("cloud", false, 30);
    cloud.subscribe(&[("data/#", QoS::AtLeastOnce)]);
    let local = TestBroker::start_with(|config| {
        config.bridges = vec![bridge_to(upstream_addr, data_out())];
    });
    wait_state(&upstream, "up-watch", b"1");
    let mut device = client(local.addr, "device");
    let mut received = Vec::new();
    for i in 0..100 {
        device.publish_acked("data/x", format!("{i}").as_bytes(), QoS::AtLeastOnce, false);
    }
    received.extend(cloud.receive_and_ack(100));
    // The upstream goes down in the middle; the device goes on.
    drop(cloud);
    upstream.stop().unwrap();
    for i in 100..200 {
        device.publish_acked("data/x", format!("{i}").as_bytes(), QoS::AtLeastOnce, false);
    }
    let upstream = start_upstream();
    let mut cloud = RawClient::open(upstream.addr);
    cloud.connect("cloud", false, 30);
    // At least once: a message sent before the stop whose PUBACK was lost
    // may come again; none is missing, and the first copies are in order.
    let deadline = std::time::Instant::now() + TIMEOUT * 3;
    let mut seen = std::collections::BTreeSet::new();
    let mut order = Vec::new();
    for m in &received {
        if seen.insert(m.text()) {
            order.push(m.text());
        }
    }
    while seen.len() < 200 {
        assert!(
            std::time::Instant::now() < deadline,
            "only {} of 200",
            seen.len()
        );
        let m = cloud.receive_and_ack(1).remove(0);
        if seen.insert(m.text()) {
            order.push(m.text());
        }
    }
    assert_eq!(order, (0..200).map(|i| i.to_string()).collect::<Vec<_>>());
}

#[test]
fn a_stored_queue_of_a_bridge_no_longer_configured_can_be_removed() {
    let dir = crate::support::TempDir::new("bridge-orphan");
    let db = dir.path("local.db");
    let nowhere: std::net::SocketAddr = ([127, 0, 0, 1], 9).into();
    let local = TestBroker::start_with(|config| {
        config.persistence = Some(db.clone());
        config.bridges = vec![bridge_to(nowhere, data_out())];
    });
    let mut device = client(local.addr, "device");
    device.publish_acked("data/x", b"kept", QoS::AtLeastOnce, false);
    drop(device);
    local.stop().unwrap();
    // Started again without the bridge: its queue is still there, until
    // removed by name.
    let local = TestBroker::start_with(|config| config.persistence = Some(db.clone()));
    assert!(local.handle.bridge_stats(TIMEOUT).unwrap().is_empty());
    assert!(local.handle.remove_bridge("up", TIMEOUT).unwrap());
    assert!(!local.handle.remove_bridge("up", TIMEOUT).unwrap());
}

#[test]
fn what_comes_in_is_published_as_the_bridge_under_the_acl() {
    let upstream = TestBroker::start();
    let mut config = crate::support::test_config();
    config.bridges = vec![bridge_to(
        upstream.addr,
        vec![topic(
            "cmd/#",
            BridgeDirection::In,
            QoS::AtLeastOnce,
            "",
            "",
        )],
    )];
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let record = std::sync::Arc::clone(&seen);
    let local = TestBroker::start_setup(config, move |broker| {
        broker.set_acl_hook(move |client, access, topic| {
            if access == mqlite::AclAccess::Publish {
                record
                    .lock()
                    .unwrap()
                    .push((client.client_id.to_string(), topic.to_string()));
                // The bridge may not bring in `cmd/forbidden`.
                return topic != "cmd/forbidden";
            }
            true
        });
    });
    wait_state(&upstream, "up-watch", b"1");
    let mut device = client(local.addr, "device");
    device.subscribe(&[("cmd/#", QoS::AtLeastOnce)]);
    let mut cloud = client(upstream.addr, "cloud");
    cloud.publish_acked("cmd/forbidden", b"no", QoS::AtLeastOnce, false);
    cloud.publish_acked("cmd/allowed", b"yes", QoS::AtLeastOnce, false);
    device.expect_message("cmd/allowed", b"yes");
    device.expect_nothing();
    let seen = seen.lock().unwrap();
    assert!(
        seen.contains(&("$bridge/up".to_string(), "cmd/forbidden".to_string())),
        "{seen:?}"
    );
}

#[test]
fn addresses_are_tried_in_turn() {
    let upstream = TestBroker::start();
    // Nothing listens on the first one.
    let dead = unused_addr();
    let local = TestBroker::start_with(|config| {
        let mut bridge = bridge_to(dead, data_out());
        bridge.addresses.push(upstream.addr.to_string());
        config.bridges = vec![bridge];
    });
    wait_state(&upstream, "up-watch", b"1");
    let stats = local.handle.bridge_stats(TIMEOUT).unwrap();
    assert!(stats[0].connected, "{stats:?}");
}

#[test]
fn an_acl_file_does_not_stop_the_brokers_own_bridge() {
    let upstream = TestBroker::start();
    let dir = crate::support::TempDir::new("bridge-acl");
    // Only the user "dev" may do anything; the bridge has no user name.
    let acl = dir.file(
        "acl",
        "user dev\ntopic readwrite data/#\ntopic readwrite cmd/#\n",
    );
    let local = TestBroker::start_with(|config| {
        config.acl_file = Some(acl.clone());
        config.bridges = vec![bridge_to(
            upstream.addr,
            vec![
                topic("data/#", BridgeDirection::Out, QoS::AtLeastOnce, "", ""),
                topic("cmd/#", BridgeDirection::In, QoS::AtLeastOnce, "", ""),
            ],
        )];
    });
    wait_state(&upstream, "up-watch", b"1");
    let mut cloud = client(upstream.addr, "cloud");
    cloud.subscribe(&[("data/#", QoS::AtLeastOnce)]);
    let mut options = crate::support::ConnectOptions::new("device");
    options.username = Some("dev".into());
    let mut device = RawClient::open(local.addr);
    device.connect_with(&options);
    device.subscribe(&[("cmd/#", QoS::AtLeastOnce)]);
    device.publish_acked("data/1", b"out", QoS::AtLeastOnce, false);
    cloud.expect_message("data/1", b"out");
    let mut cloud_writer = client(upstream.addr, "cloud-writer");
    cloud_writer.publish_acked("cmd/1", b"in", QoS::AtLeastOnce, false);
    device.expect_message("cmd/1", b"in");
}

#[test]
fn a_lazy_bridge_connects_at_its_threshold_and_leaves_when_idle() {
    let upstream = TestBroker::start();
    let local = TestBroker::start_with(|config| {
        let mut bridge = bridge_to(upstream.addr, data_out());
        bridge.start = mqlite::BridgeStart::Lazy;
        bridge.threshold = 3;
        bridge.idle_timeout = Duration::from_secs(1);
        config.bridges = vec![bridge];
    });
    let mut cloud = client(upstream.addr, "cloud");
    cloud.subscribe(&[("data/#", QoS::AtLeastOnce), (STATE, QoS::AtLeastOnce)]);
    let mut device = client(local.addr, "device");
    device.publish_acked("data/x", b"1", QoS::AtLeastOnce, false);
    device.publish_acked("data/x", b"2", QoS::AtLeastOnce, false);
    // Below the threshold: no link.
    cloud.expect_nothing();
    let stats = local.handle.bridge_stats(TIMEOUT).unwrap();
    assert!(!stats[0].connected && stats[0].connections == 0 && stats[0].queued == 2);
    device.publish_acked("data/x", b"3", QoS::AtLeastOnce, false);
    let mut got = Vec::new();
    while got.len() < 4 {
        let m = cloud.receive_and_ack(1).remove(0);
        got.push((m.topic.clone(), m.text()));
    }
    assert!(
        got.contains(&(STATE.to_string(), "1".to_string())),
        "{got:?}"
    );
    for i in 1..=3 {
        assert!(
            got.contains(&("data/x".to_string(), i.to_string())),
            "{got:?}"
        );
    }
    // Idle for a second: it says so upstream and goes.
    let m = cloud.receive_and_ack(1).remove(0);
    assert_eq!((m.topic.as_str(), m.text().as_str()), (STATE, "0"));
    crate::support::wait_until(TIMEOUT, "the link closed", || {
        !local.handle.bridge_stats(TIMEOUT).unwrap()[0].connected
    });
    let stats = local.handle.bridge_stats(TIMEOUT).unwrap();
    assert_eq!(stats[0].connections, 1);
}
