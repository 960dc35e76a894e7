//! Persistence across a restart, end to end: sessions, queues and retained
//! messages.
//!
//! Each scenario runs twice:
//! - `*_api`: the public Rust API, a [`Broker`](mqlite::Broker) with
//!   `config.persistence = Some(path)` in a thread of the test, stopped
//!   cleanly (`BrokerHandle::stop`) and built again on the same file;
//! - `*_binary`: the `mqlite` binary with `--db`, killed with SIGKILL (no
//!   chance to flush anything) and started again on the same file and port.
//!
//! The guarantee under test (src/store/mod.rs): no PUBACK / PUBREC / SUBACK /
//! CONNACK / PUBREL leaves the broker before what it acknowledges is
//! committed, so whatever a client saw acknowledged is there after the
//! restart. Here: persistent sessions with their subscriptions, their
//! offline queues (paged back from the store in order when longer than the
//! RAM window), retained messages, and a clean-session connect that
//! discards a stored session for good.
//!
//! Elsewhere: in-flight messages and inbound QoS 2 packet ids in
//! `persistence_inflight.rs`; refused files and `--fresh-db` in
//! `persistence_refusals.rs`; random SIGKILLs under load in
//! `persistence_crash.rs`. The broker and client harness is in
//! `tests/support/persistence` (with `tests/support/binary.rs` and `tests/support/mqtt.rs`). rumqttc is the client here (plain publish /
//! subscribe). Every wait is bounded.

use crate::support;

use rumqttc::QoS as RQoS;
use support::mqtt::{rqos, Mqtt};
use support::persistence::{Mode, Server};
use support::TempDir;

/// A long offline queue (several pages of `RAM_QUEUE_MESSAGES`), filled
/// before and after a restart, is read back from the store page by page:
/// every message arrives once, in order.
fn long_offline_queue_is_paged_back_in_order(mode: Mode) {
    let dir = TempDir::new("paged");
    let server = Server::start(mode, &dir);
    let addr = server.addr();
    let total = 2 * mqlite::core::RAM_QUEUE_MESSAGES + 150;
    let half = total / 2;

    let (sub, _) = Mqtt::connect(addr, "paged-sub", false);
    sub.subscribe("paged/#", RQoS::AtLeastOnce);
    sub.disconnect();

    let (publisher, _) = Mqtt::connect(addr, "paged-pub", true);
    for i in 0..half {
        let qos = if i % 2 == 0 {
            RQoS::AtLeastOnce
        } else {
            RQoS::ExactlyOnce
        };
        publisher.publish("paged/a", qos, false, format!("m{i}").as_bytes());
    }
    publisher.disconnect();
    let server = server.restart();
    let addr = server.addr();
    let (publisher, _) = Mqtt::connect(addr, "paged-pub", true);
    for i in half..total {
        publisher.publish(
            "paged/b",
            RQoS::AtLeastOnce,
            false,
            format!("m{i}").as_bytes(),
        );
    }
    publisher.disconnect();

    let (sub, present) = Mqtt::connect(addr, "paged-sub", false);
    assert!(present);
    for i in 0..total {
        let msg = sub.expect_publish();
        assert_eq!(
            String::from_utf8_lossy(&msg.payload),
            format!("m{i}"),
            "message {i} of {total}"
        );
    }
    sub.expect_no_publish();
    sub.disconnect();
    server.finish();
}

#[test]
fn long_offline_queue_is_paged_back_in_order_api() {
    long_offline_queue_is_paged_back_in_order(Mode::ApiCleanStop);
}

#[test]
fn long_offline_queue_is_paged_back_in_order_binary() {
    long_offline_queue_is_paged_back_in_order(Mode::BinarySigkill);
}

/// A persistent subscriber (QoS 1 and QoS 2 subscriptions) goes offline;
/// QoS 1 and 2 messages and retained messages are published; the broker
/// restarts. The subscriber gets its session back with every message in
/// order, its subscriptions still work without subscribing again, and the
/// retained messages (but not a cleared one) are back.
fn offline_messages_subscriptions_and_retained(mode: Mode) {
    let dir = TempDir::new("offline");
    let server = Server::start(mode, &dir);
    let addr = server.addr();

    let (sub, present) = Mqtt::connect(addr, "offline-sub", false);
    assert!(!present, "a new session is not present");
    sub.subscribe("off/q1", RQoS::AtLeastOnce);
    sub.subscribe("off/q2", RQoS::ExactlyOnce);
    sub.disconnect();

    let (publisher, _) = Mqtt::connect(addr, "offline-pub", true);
    let mut expected = Vec::new();
    // More than the in-flight window (20): the rest is sent as acks come.
    for i in 0..30 {
        let (topic, qos) = if i % 3 != 2 {
            ("off/q1", RQoS::AtLeastOnce)
        } else {
            ("off/q2", RQoS::ExactlyOnce)
        };
        let payload = format!("offline-{i}");
        publisher.publish(topic, qos, false, payload.as_bytes());
        expected.push((topic, payload, qos));
    }
    // QoS 0 is not acknowledged: the QoS 1 PUBACK after it says it was
    // handled (and saved) too.
    publisher.publish("keep/r0", RQoS::AtMostOnce, true, b"retained-0");
    publisher.publish("keep/r1", RQoS::AtLeastOnce, true, b"retained-1");
    publisher.publish("keep/r2", RQoS::ExactlyOnce, true, b"retained-2");
    publisher.publish("keep/gone", RQoS::AtLeastOnce, true, b"cleared below");
    publisher.publish("keep/gone", RQoS::AtLeastOnce, true, b"");
    publisher.disconnect();

    let server = server.restart();
    let addr = server.addr();

    let (sub, present) = Mqtt::connect(addr, "offline-sub", false);
    assert!(present, "the persistent session is back after the restart");
    for (topic, payload, qos) in &expected {
        let msg = sub.expect_publish();
        assert_eq!(
            (
                msg.topic.as_str(),
                &msg.payload[..],
                rqos(msg.qos),
                msg.retain,
                msg.dup
            ),
            (*topic, payload.as_bytes(), rqos(*qos), false, false),
            "offline messages come back in order, with their QoS, never sent before"
        );
    }

    // The subscriptions were restored: no SUBSCRIBE this time.
    let (publisher, _) = Mqtt::connect(addr, "offline-pub", true);
    publisher.publish("off/q1", RQoS::AtLeastOnce, false, b"after-1");
    publisher.publish("off/q2", RQoS::ExactlyOnce, false, b"after-2");
    for (topic, payload, qos) in [
        ("off/q1", &b"after-1"[..], RQoS::AtLeastOnce),
        ("off/q2", &b"after-2"[..], RQoS::ExactlyOnce),
    ] {
        let msg = sub.expect_publish();
        assert_eq!(
            (msg.topic.as_str(), &msg.payload[..], rqos(msg.qos)),
            (topic, payload, rqos(qos))
        );
    }
    sub.expect_no_publish();

    // The retained messages are back; the cleared one stays cleared.
    let (watcher, _) = Mqtt::connect(addr, "offline-watcher", true);
    watcher.subscribe("keep/#", RQoS::ExactlyOnce);
    let mut retained: Vec<(String, Vec<u8>, u8, bool)> = (0..3)
        .map(|_| {
            let msg = watcher.expect_publish();
            (
                msg.topic.clone(),
                msg.payload.to_vec(),
                rqos(msg.qos),
                msg.retain,
            )
        })
        .collect();
    retained.sort();
    assert_eq!(
        retained,
        vec![
            ("keep/r0".to_string(), b"retained-0".to_vec(), 0, true),
            ("keep/r1".to_string(), b"retained-1".to_vec(), 1, true),
            ("keep/r2".to_string(), b"retained-2".to_vec(), 2, true),
        ]
    );
    watcher.expect_no_publish();

    watcher.disconnect();
    publisher.disconnect();
    sub.disconnect();
    server.finish();
}

#[test]
fn offline_messages_subscriptions_and_retained_api() {
    offline_messages_subscriptions_and_retained(Mode::ApiCleanStop);
}

#[test]
fn offline_messages_subscriptions_and_retained_binary() {
    offline_messages_subscriptions_and_retained(Mode::BinarySigkill);
}

/// A clean-session reconnect after the restart discards the stored session
/// (its queued messages and subscriptions), and the discard is itself
/// durable: after one more restart the session is still gone.
fn clean_session_discards_stored_session(mode: Mode) {
    let dir = TempDir::new("clean");
    let server = Server::start(mode, &dir);
    let addr = server.addr();

    let (sub, _) = Mqtt::connect(addr, "clean-sub", false);
    sub.subscribe("cs/t", RQoS::AtLeastOnce);
    sub.disconnect();
    let (publisher, _) = Mqtt::connect(addr, "clean-pub", true);
    publisher.publish("cs/t", RQoS::AtLeastOnce, false, b"queued-1");
    publisher.publish("cs/t", RQoS::ExactlyOnce, false, b"queued-2");
    publisher.disconnect();

    let server = server.restart();
    let addr = server.addr();
    let (sub, present) = Mqtt::connect(addr, "clean-sub", true);
    assert!(!present, "clean session 1: no session present");
    sub.expect_no_publish();
    // No DISCONNECT: with SIGKILL the discard must already be on disk.
    drop(sub);

    let server = server.restart();
    let addr = server.addr();
    let (sub, present) = Mqtt::connect(addr, "clean-sub", false);
    assert!(
        !present,
        "the session discarded by the clean-session connect must not come back"
    );
    let (publisher, _) = Mqtt::connect(addr, "clean-pub", true);
    publisher.publish("cs/t", RQoS::AtLeastOnce, false, b"after");
    sub.expect_no_publish();
    publisher.disconnect();
    sub.disconnect();
    server.finish();
}

#[test]
fn clean_session_discards_stored_session_api() {
    clean_session_discards_stored_session(Mode::ApiCleanStop);
}

#[test]
fn clean_session_discards_stored_session_binary() {
    clean_session_discards_stored_session(Mode::BinarySigkill);
}
