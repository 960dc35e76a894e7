//! The ACL hook, seen from real MQTT clients: what a subscriber may
//! receive (live and retained), which subscriptions are refused in the
//! SUBACK, refused publishes (dropped, yet acknowledged at QoS 1 and 2),
//! and the will topic checked like any publish.
//!
//! rumqttc is the client. Every wait is bounded; no test asserts on timing.

use crate::support;

use std::sync::mpsc;
use std::time::Instant;

use mqlite::AclAccess;
use rumqttc::{SubscribeFilter, SubscribeReasonCode};
use support::embedding::text;
use support::mqtt::{mqtt, with_credentials};
use support::{test_config, TestBroker, TIMEOUT};

/// `secret/#` is for the `admin` user only (subscribe and receive);
/// devices publish under `devices/<client id>/` only; others publish
/// anywhere else.
fn gateway_acl(client: &mqlite::ClientInfo<'_>, access: AclAccess, topic: &str) -> bool {
    let admin = client.username == Some("admin");
    let secret = topic.starts_with("secret");
    match access {
        AclAccess::Subscribe | AclAccess::Receive => admin || !secret,
        AclAccess::Publish => {
            if topic.starts_with("devices/") {
                topic.starts_with(&format!("devices/{}/", client.client_id))
            } else {
                true
            }
        }
    }
}

#[test]
fn acl_hides_secret_topics_from_a_wildcard_subscriber() {
    let broker = TestBroker::start_setup(test_config(), |broker| broker.set_acl_hook(gateway_acl));

    let viewer = mqtt(broker.addr, "viewer", with_credentials("viewer", "pw")).connected();
    viewer.subscribe("#", rumqttc::QoS::AtLeastOnce);
    let admin = mqtt(broker.addr, "admin-1", with_credentials("admin", "pw")).connected();
    admin.subscribe("secret/#", rumqttc::QoS::AtLeastOnce);
    let publisher = mqtt(broker.addr, "publisher", |_| {}).connected();

    publisher
        .client
        .publish("secret/x", rumqttc::QoS::AtLeastOnce, false, "s")
        .unwrap();
    publisher
        .client
        .publish("public/x", rumqttc::QoS::AtLeastOnce, false, "p")
        .unwrap();

    // Deliveries to one client keep their order: had secret/x leaked, it
    // would come first.
    let first = viewer.expect_publish();
    assert_eq!(first.topic, "public/x");
    viewer.expect_no_publish();
    assert_eq!(admin.expect_publish().topic, "secret/x");

    // Retained messages are filtered too.
    publisher
        .client
        .publish("secret/retained", rumqttc::QoS::AtLeastOnce, true, "s")
        .unwrap();
    publisher
        .client
        .publish("public/retained", rumqttc::QoS::AtLeastOnce, true, "p")
        .unwrap();
    publisher.pubacks(4);
    let late = mqtt(broker.addr, "late-viewer", with_credentials("viewer", "pw")).connected();
    late.subscribe("#", rumqttc::QoS::AtLeastOnce);
    publisher
        .client
        .publish("public/sentinel", rumqttc::QoS::AtLeastOnce, false, "end")
        .unwrap();
    let mut topics = Vec::new();
    loop {
        let publish = late.expect_publish();
        if publish.topic == "public/sentinel" {
            break;
        }
        topics.push(publish.topic);
    }
    assert_eq!(topics, vec!["public/retained".to_string()]);
}

#[test]
fn acl_refuses_a_forbidden_subscription_with_suback_failure() {
    let broker = TestBroker::start_setup(test_config(), |broker| broker.set_acl_hook(gateway_acl));
    let stats_before = broker.handle.stats(TIMEOUT).unwrap();

    let viewer = mqtt(broker.addr, "sub-viewer", with_credentials("viewer", "pw")).connected();
    viewer
        .client
        .subscribe_many([
            SubscribeFilter::new("secret/#".into(), rumqttc::QoS::AtMostOnce),
            SubscribeFilter::new("public/#".into(), rumqttc::QoS::AtLeastOnce),
        ])
        .unwrap();
    assert_eq!(
        viewer.suback(),
        vec![
            SubscribeReasonCode::Failure,
            SubscribeReasonCode::Success(rumqttc::QoS::AtLeastOnce)
        ]
    );

    let admin = mqtt(broker.addr, "sub-admin", with_credentials("admin", "pw")).connected();
    admin
        .client
        .subscribe("secret/#", rumqttc::QoS::AtMostOnce)
        .unwrap();
    assert_eq!(
        admin.suback(),
        vec![SubscribeReasonCode::Success(rumqttc::QoS::AtMostOnce)]
    );

    let stats = broker.handle.stats(TIMEOUT).unwrap();
    assert_eq!(stats.subscriptions, stats_before.subscriptions + 2);
}

#[test]
fn acl_refused_publish_is_dropped_but_still_acknowledged() {
    let broker = TestBroker::start_setup(test_config(), |broker| broker.set_acl_hook(gateway_acl));
    let watcher = mqtt(broker.addr, "watcher", |_| {}).connected();
    watcher.subscribe("devices/#", rumqttc::QoS::AtLeastOnce);
    let before = broker.handle.stats(TIMEOUT).unwrap();

    let device = mqtt(broker.addr, "d1", |_| {}).connected();
    device
        .client
        .publish(
            "devices/d2/telemetry",
            rumqttc::QoS::AtLeastOnce,
            false,
            "spoof",
        )
        .unwrap();
    device
        .client
        .publish(
            "devices/d2/telemetry",
            rumqttc::QoS::ExactlyOnce,
            false,
            "spoof2",
        )
        .unwrap();
    device
        .client
        .publish(
            "devices/d1/telemetry",
            rumqttc::QoS::AtLeastOnce,
            false,
            "mine",
        )
        .unwrap();
    // Both QoS 1 publishes are acknowledged, and the QoS 2 one completes.
    let mut pubacks = 0;
    let mut pubcomps = 0;
    while pubacks < 2 || pubcomps < 1 {
        device.wait_for("PUBACK or PUBCOMP", |packet| match packet {
            rumqttc::Packet::PubAck(_) => {
                pubacks += 1;
                Some(())
            }
            rumqttc::Packet::PubComp(_) => {
                pubcomps += 1;
                Some(())
            }
            _ => None,
        });
    }

    let publish = watcher.expect_publish();
    assert_eq!(publish.topic, "devices/d1/telemetry");
    assert_eq!(text(&publish.payload), "mine");
    watcher.expect_no_publish();

    let after = broker.handle.stats(TIMEOUT).unwrap();
    assert_eq!(after.messages_dropped, before.messages_dropped + 2);
}

#[test]
fn acl_applies_to_the_will_topic() {
    let broker = TestBroker::start_setup(test_config(), |broker| broker.set_acl_hook(gateway_acl));
    let watcher = mqtt(broker.addr, "will-watcher", |_| {}).connected();
    watcher.subscribe("devices/#", rumqttc::QoS::AtLeastOnce);
    let legit = mqtt(broker.addr, "legit", |_| {}).connected();

    // "attacker" may only publish under devices/attacker/, but sets its
    // will on another device's command topic. Refusing it at CONNECT or
    // dropping the will are both fine.
    let attacker = mqtt(broker.addr, "attacker", |options| {
        options.set_last_will(rumqttc::LastWill::new(
            "devices/victim/commands",
            "reboot",
            rumqttc::QoS::AtLeastOnce,
            false,
        ));
    });
    if attacker.connack().is_ok() {
        broker.handle.kick("attacker").unwrap();
        // Wait for the close: the will, if any, was routed before it.
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match attacker.events.recv_timeout(left) {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => break,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("attacker not kicked"),
            }
        }
    }

    legit
        .client
        .publish(
            "devices/legit/x",
            rumqttc::QoS::AtLeastOnce,
            false,
            "sentinel",
        )
        .unwrap();
    let first = watcher.expect_publish();
    assert_eq!(
        (first.topic.as_str(), text(&first.payload).as_str()),
        ("devices/legit/x", "sentinel"),
        "the will bypassed the ACL"
    );
}
