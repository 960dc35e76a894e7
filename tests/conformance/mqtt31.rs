//! MQTT 3.1 conformance, over raw sockets: CONNECT with protocol name
//! "MQIsdp" and level 3, a persistent session and a will, interoperating
//! with MQTT 3.1.1 clients, and the 3.1 client identifier rule (1-23
//! characters, else CONNACK 0x02). Every test runs its own broker.

use crate::support;

use support::conformance::*;
use support::*;

#[test]
fn mqisdp_level_3_client_works() {
    // MQTT 3.1: CONNECT "MQIsdp" level 3, then subscribe and publish at
    // every QoS.
    let broker = TestBroker::start();
    let mut sub = broker.socket();
    sub.send_connect(&ConnectOptions::new("old-sub").v31());
    assert_eq!(sub.expect_connack(), (false, 0));
    assert_eq!(sub.subscribe(&[("v31/#", Q2)]), vec![2]);
    let mut publisher = broker.socket();
    publisher.send_connect(&ConnectOptions::new("old-pub").v31());
    assert_eq!(publisher.expect_connack(), (false, 0));
    for (qos, payload) in [(Q0, b"zero"), (Q1, b"one_"), (Q2, b"two_")] {
        publisher.publish_acked("v31/t", payload, qos, false);
        assert_eq!(sub.expect_message("v31/t", payload).qos, qos);
    }
    // A 3.1.1 client sees the 3.1 client's messages too.
    let mut modern = broker.connect("modern", true, 60);
    modern.subscribe(&[("v31/#", Q1)]);
    publisher.publish_acked("v31/x", b"mixed", Q1, false);
    sub.expect_message("v31/x", b"mixed");
    modern.expect_message("v31/x", b"mixed");
    publisher.disconnect();
}

#[test]
fn mqtt31_persistent_session_and_will() {
    // 3.1 has no session present flag (the CONNACK byte is reserved, so
    // it stays 0) but the session is resumed; wills work the same.
    let broker = TestBroker::start();
    let mut sub = broker.socket();
    sub.connect_with(&ConnectOptions::new("old").v31().clean(false));
    sub.subscribe(&[("o", Q1)]);
    sub.disconnect();
    broker
        .handle
        .publish("o", b"while away", Q1, false)
        .unwrap();
    let mut sub = broker.socket();
    sub.send_connect(&ConnectOptions::new("old").v31().clean(false));
    assert_eq!(sub.expect_connack(), (false, 0));
    sub.expect_message("o", b"while away");

    let mut watcher = broker.connect("watcher", true, 60);
    watcher.subscribe(&[("old/will", Q0)]);
    let (w, _) = broker.connect_with(
        &ConnectOptions::new("old-w")
            .v31()
            .will("old/will", b"bye", Q0, false),
    );
    w.close_abruptly();
    watcher.expect_message("old/will", b"bye");
}

#[test]
fn mqtt31_empty_client_id_refused() {
    // MQTT 3.1 requires a 1-23 character id: 0x02.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    c.send_connect(&ConnectOptions::new("").v31());
    assert_eq!(
        c.drain_until_closed(),
        vec![Pkt::ConnAck {
            session_present: false,
            code: 2
        }]
    );
}
