//! MQTT 3.1.1 conformance, over raw sockets: wills and keepalive
//! (mosquitto's `test/broker` groups 07 and 08).
//!
//! §3.1.2.5-3.1.2.7 Will flag, QoS and retain (published on abrupt close,
//! takeover, protocol error and kick; not after DISCONNECT or a refused
//! CONNECT), and §3.1.2.10 Keep Alive (closing after 1.5 × keepalive,
//! PINGREQ and other packets resetting it). Each test names the normative
//! statement(s) it checks. Every test runs its own broker.

use crate::support;

use std::time::Duration;

use mqlite::codec::QoS;
use support::conformance::*;
use support::*;

fn will_client(broker: &TestBroker, id: &str, qos: QoS, retain: bool) -> RawClient {
    let (c, _) = broker.connect_with(&ConnectOptions::new(id).will("will/t", b"gone", qos, retain));
    c
}

fn will_watcher(broker: &TestBroker) -> RawClient {
    let mut sub = broker.connect("watcher", true, 60);
    sub.subscribe(&[("will/#", Q2)]);
    sub
}

#[test]
fn will_on_abrupt_close() {
    // [MQTT-3.1.2-8] the will is published when the network connection
    // closes without DISCONNECT.
    let broker = TestBroker::start();
    let mut watcher = will_watcher(&broker);
    let w = will_client(&broker, "w", Q1, false);
    watcher.expect_nothing();
    w.close_abruptly();
    let msg = watcher.expect_message("will/t", b"gone");
    assert_eq!((msg.qos, msg.retain), (Q1, false));
    watcher.expect_nothing();
}

#[test]
fn no_will_after_disconnect() {
    // [MQTT-3.1.2-10] DISCONNECT removes the will; [MQTT-3.14.4-3].
    let broker = TestBroker::start();
    let mut watcher = will_watcher(&broker);
    let w = will_client(&broker, "w", Q1, false);
    w.disconnect();
    broker.wait_disconnected("w");
    watcher.expect_nothing_for(Duration::from_millis(500));
}

#[test]
fn retained_will() {
    // [MQTT-3.1.2-17] will retain 1: published as a retained message.
    let broker = TestBroker::start();
    let w = will_client(&broker, "w", Q0, true);
    w.close_abruptly();
    broker.wait_disconnected("w");
    let mut late = broker.connect("late", true, 60);
    late.subscribe(&[("will/t", Q1)]);
    let msg = late.expect_message("will/t", b"gone");
    assert!(msg.retain);
}

#[test]
fn will_qos2_delivered_at_qos2() {
    // [MQTT-3.1.2-14] the will's QoS is used.
    let broker = TestBroker::start();
    let mut watcher = will_watcher(&broker);
    let w = will_client(&broker, "w", Q2, false);
    w.close_abruptly();
    assert_eq!(watcher.expect_message("will/t", b"gone").qos, Q2);
}

#[test]
fn will_on_takeover() {
    // [MQTT-3.1.4-2] the old connection is closed by the server without
    // DISCONNECT, so its will is published.
    let broker = TestBroker::start();
    let mut watcher = will_watcher(&broker);
    let mut old = will_client(&broker, "dup-id", Q1, false);
    let mut new = broker.connect("dup-id", true, 60);
    old.expect_closed();
    watcher.expect_message("will/t", b"gone");
    watcher.expect_nothing();
    new.ping();
}

#[test]
fn will_on_protocol_error() {
    // [MQTT-3.1.2-8] the server closing for a protocol error publishes
    // the will.
    let broker = TestBroker::start();
    let mut watcher = will_watcher(&broker);
    let mut w = will_client(&broker, "w", Q1, false);
    w.send_raw(&[0x60, 0x02, 0x00, 0x01]); // PUBREL with flags 0
    w.expect_closed();
    watcher.expect_message("will/t", b"gone");
}

#[test]
fn will_on_kick() {
    let broker = TestBroker::start();
    let mut watcher = will_watcher(&broker);
    let mut w = will_client(&broker, "kicked", Q1, false);
    broker.handle.kick("kicked").unwrap();
    w.expect_closed();
    watcher.expect_message("will/t", b"gone");
}

#[test]
fn will_not_published_for_refused_connect() {
    // A refused CONNECT (CONNACK 0x02) never had a session or a will.
    let broker = TestBroker::start();
    let mut watcher = will_watcher(&broker);
    let mut c = broker.socket();
    c.send_connect(
        &ConnectOptions::new("")
            .clean(false)
            .will("will/t", b"x", Q0, false),
    );
    assert_eq!(c.drain_until_closed().len(), 1);
    watcher.expect_nothing();
}

#[test]
fn keepalive_expiry_closes_and_publishes_will() {
    // [MQTT-3.1.2-24] no packet within 1.5 × keepalive: the server
    // disconnects, as for a network failure (will published).
    let broker = TestBroker::start();
    let mut watcher = broker.connect("watcher", true, 60);
    watcher.subscribe(&[("ka/will", Q1)]);
    // When it closes (1.5 × keepalive to the millisecond) is checked by
    // the core's simulation (`src/core/tests/wills.rs`).
    let mut w = broker.socket();
    w.connect_with(
        &ConnectOptions::new("ka")
            .keepalive(1)
            .will("ka/will", b"expired", Q1, false),
    );
    w.expect_closed();
    watcher.expect_message("ka/will", b"expired");
}

#[test]
fn pingreq_keeps_the_connection_alive() {
    // [MQTT-3.1.2-23] any control packet within the keepalive resets
    // it.
    let broker = TestBroker::start();
    let mut watcher = broker.connect("watcher", true, 60);
    watcher.subscribe(&[("ka/will", Q1)]);
    let (mut c, _) = broker.connect_with(
        &ConnectOptions::new("alive")
            .keepalive(1)
            .will("ka/will", b"x", Q1, false),
    );
    // The client's pace, spanning twice the 1.5 s allowance, is the
    // scenario; other packets resetting it too is checked by the core's
    // simulation (`src/core/tests/timers.rs`).
    for _ in 0..7 {
        std::thread::sleep(Duration::from_millis(400));
        c.ping();
    }
    watcher.expect_nothing();
    assert!(broker.clients().contains(&"alive".to_string()));
}
