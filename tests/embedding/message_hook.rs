//! The message hook, seen from real MQTT clients: messages passed,
//! rewritten (topic, payload and retain flag), dropped and counted, an
//! invalid rewrite dropped, and the host's own publishes seen with no
//! origin.
//!
//! rumqttc is the client. Every wait is bounded; no test asserts on timing.

use crate::support;

use std::sync::mpsc;

use mqlite::{Message, MessageDecision, QoS};
use support::embedding::text;
use support::mqtt::mqtt;
use support::{test_config, TestBroker, TIMEOUT};

#[test]
fn message_hook_rewrites_and_drops_messages() {
    let (origins_tx, origins) = mpsc::channel::<(Option<String>, String)>();
    let broker = TestBroker::start_setup(test_config(), |broker| {
        broker.set_message_hook(move |origin, message| {
            let _ = origins_tx.send((
                origin.map(|client| client.client_id.to_string()),
                message.topic().to_string(),
            ));
            let from_client = origin.is_some();
            match message.topic() {
                "in/raw" if from_client => {
                    let upper = message.payload().to_ascii_uppercase();
                    // Topic, payload and retain flag all change.
                    let rewritten = Message::new("out/cooked", &upper, message.qos(), true)
                        .expect("a short topic");
                    MessageDecision::Rewrite(rewritten)
                }
                "bad/rewrite" => MessageDecision::Rewrite(
                    Message::new(
                        "bad/#",
                        b"wildcards are not topic names",
                        message.qos(),
                        false,
                    )
                    .unwrap(),
                ),
                topic if topic.starts_with("drop/") => MessageDecision::Drop,
                _ => MessageDecision::Pass,
            }
        });
    });

    let subscriber = mqtt(broker.addr, "mh-sub", |_| {}).connected();
    subscriber.subscribe("#", rumqttc::QoS::AtLeastOnce);
    let publisher = mqtt(broker.addr, "mh-pub", |_| {}).connected();
    for (topic, payload) in [
        ("drop/me", "gone"),
        ("bad/rewrite", "gone too"),
        ("in/raw", "hello"),
        ("plain/x", "as is"),
    ] {
        publisher
            .client
            .publish(topic, rumqttc::QoS::AtLeastOnce, false, payload)
            .unwrap();
    }
    publisher.pubacks(4);

    let first = subscriber.expect_publish();
    assert_eq!(
        (first.topic.as_str(), text(&first.payload).as_str()),
        ("out/cooked", "HELLO")
    );
    let second = subscriber.expect_publish();
    assert_eq!(
        (second.topic.as_str(), text(&second.payload).as_str()),
        ("plain/x", "as is")
    );
    subscriber.expect_no_publish();

    // The host's own publish is seen by the hook with no origin (and this
    // hook only rewrites clients' messages).
    broker
        .handle
        .publish("in/raw", b"from the host", QoS::AtLeastOnce, false)
        .unwrap();
    let host = subscriber.expect_publish();
    assert_eq!(
        (host.topic.as_str(), text(&host.payload).as_str()),
        ("in/raw", "from the host")
    );

    // The rewrite made the message retained.
    let late = mqtt(broker.addr, "mh-late", |_| {}).connected();
    late.subscribe("out/#", rumqttc::QoS::AtLeastOnce);
    let retained = late.expect_publish();
    assert_eq!(retained.topic, "out/cooked");
    assert!(retained.retain);
    assert_eq!(text(&retained.payload), "HELLO");

    let seen: Vec<_> = origins.try_iter().collect();
    let expected =
        |origin: Option<&str>, topic: &str| (origin.map(str::to_string), topic.to_string());
    assert_eq!(
        seen,
        vec![
            expected(Some("mh-pub"), "drop/me"),
            expected(Some("mh-pub"), "bad/rewrite"),
            expected(Some("mh-pub"), "in/raw"),
            expected(Some("mh-pub"), "plain/x"),
            expected(None, "in/raw"),
        ]
    );
    let stats = broker.handle.stats(TIMEOUT).unwrap();
    assert_eq!(stats.messages_dropped, 2);
}
