//! The hooks together, seen from real MQTT clients: every hook panicking
//! (the connection is refused or the message dropped, and the broker keeps
//! serving), and hooks that publish through the `BrokerHandle` from inside
//! the broker's loop without deadlock.
//!
//! Each hook on its own is covered by `embedding::auth`, `embedding::acl`,
//! `embedding::message_hook` and `embedding::events`. rumqttc is the client.
//! Every wait is bounded; no test asserts on timing.

use crate::support;

use mqlite::{AclAccess, AuthDecision, Event, MessageDecision, QoS};
use rumqttc::ConnectReturnCode;
use support::embedding::text;
use support::mqtt::{mqtt, with_credentials};
use support::{test_config, TestBroker, TIMEOUT};

// ---------------------------------------------------------------------------
// Panicking hooks.

#[test]
fn panicking_hooks_refuse_or_drop_and_the_broker_keeps_serving() {
    let broker = TestBroker::start_setup(test_config(), |broker| {
        broker.set_auth_hook(|info| {
            if info.username == Some("boom") {
                panic!("auth hook panics on purpose");
            }
            AuthDecision::Accept
        });
        broker.set_acl_hook(|_, access, topic| {
            if access == AclAccess::Publish && topic == "acl/boom" {
                panic!("ACL hook panics on purpose");
            }
            true
        });
        broker.set_message_hook(|_, message| {
            if message.topic() == "message/boom" {
                panic!("message hook panics on purpose");
            }
            MessageDecision::Pass
        });
        broker.set_event_hook(|event| {
            if let Event::Connected { client, .. } = event {
                if client.client_id == "event-boom" {
                    panic!("event hook panics on purpose");
                }
            }
        });
    });

    let boom = mqtt(broker.addr, "auth-boom", with_credentials("boom", "pw"));
    assert_eq!(boom.refusal(), ConnectReturnCode::NotAuthorized);

    // The next client is served; a panicking event hook changes nothing.
    let client = mqtt(broker.addr, "event-boom", with_credentials("fine", "pw")).connected();
    client.subscribe("#", rumqttc::QoS::AtLeastOnce);
    for topic in ["acl/boom", "message/boom", "ok/after"] {
        client
            .client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, "x")
            .unwrap();
    }
    let publish = client.expect_publish();
    assert_eq!(publish.topic, "ok/after");
    client.expect_no_publish();

    let other = mqtt(broker.addr, "after-panics", |_| {}).connected();
    other.subscribe("ok/#", rumqttc::QoS::AtMostOnce);
    let clients = broker.handle.connected_clients(TIMEOUT).unwrap();
    assert_eq!(clients.len(), 2, "{clients:?}");
}

// ---------------------------------------------------------------------------
// Hooks using the handle.

#[test]
fn hooks_publish_through_the_handle_without_deadlock() {
    let mut receiver = None;
    let broker = TestBroker::start_setup(test_config(), |broker| {
        let handle = broker.handle();
        receiver = Some(
            handle
                .subscribe_channel("audit/#", QoS::AtLeastOnce, 16)
                .unwrap(),
        );
        let auth_handle = handle.clone();
        broker.set_auth_hook(move |info| {
            auth_handle
                .publish(
                    "audit/login",
                    info.client_id.as_bytes(),
                    QoS::AtLeastOnce,
                    false,
                )
                .expect("publish from the auth hook");
            AuthDecision::Accept
        });
        let event_handle = handle.clone();
        broker.set_event_hook(move |event| {
            if let Event::Connected { client, .. } = event {
                event_handle
                    .publish(
                        "audit/connected",
                        client.client_id.as_bytes(),
                        QoS::AtLeastOnce,
                        false,
                    )
                    .expect("publish from the event hook");
            }
        });
        broker.set_message_hook(move |origin, message| {
            // Only clients' requests: the reply itself comes back through
            // this hook (with no origin).
            if origin.is_some() && message.topic() == "req/ping" {
                handle
                    .publish("resp/pong", message.payload(), QoS::AtLeastOnce, false)
                    .expect("publish from the message hook");
            }
            MessageDecision::Pass
        });
    });
    let audit = receiver.unwrap();

    let client = mqtt(broker.addr, "hp-1", |_| {}).connected();
    client.subscribe("resp/#", rumqttc::QoS::AtLeastOnce);
    client
        .client
        .publish("req/ping", rumqttc::QoS::AtLeastOnce, false, "42")
        .unwrap();
    let reply = client.expect_publish();
    assert_eq!(
        (reply.topic.as_str(), text(&reply.payload).as_str()),
        ("resp/pong", "42")
    );

    let mut audited = Vec::new();
    for _ in 0..2 {
        let message = audit.recv_timeout(TIMEOUT).expect("an audit message");
        audited.push((message.topic().to_string(), text(message.payload())));
    }
    assert_eq!(
        audited,
        vec![
            ("audit/login".to_string(), "hp-1".to_string()),
            ("audit/connected".to_string(), "hp-1".to_string()),
        ]
    );
}
