//! MQTT 3.1.1 conformance, over raw sockets: retained messages (mosquitto's
//! `test/broker` group 04).
//!
//! §3.3.1.3 RETAIN ([MQTT-3.3.1-5] to [MQTT-3.3.1-12]: storing, replacing
//! and clearing, delivery to new and live subscribers), retained messages
//! and wildcard, QoS-capped and replaced subscriptions (§3.8.4). Each test
//! names the normative statement(s) it checks. Every test runs its own
//! broker.

use crate::support;

use support::conformance::*;
use support::*;

#[test]
fn retained_delivered_to_new_subscriber_with_retain_1() {
    // [MQTT-3.3.1-5] stored; [MQTT-3.3.1-6] sent to new subscribers;
    // [MQTT-3.3.1-8] with retain 1.
    let broker = TestBroker::start();
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("ret/a", b"kept", Q1, true);
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("ret/+", Q1)]);
    let msg = sub.expect_message("ret/a", b"kept");
    assert!(msg.retain, "{msg:?}");
    assert_eq!(msg.qos, Q1);
    sub.expect_nothing();
    assert_eq!(broker.stats().retained_messages, 1);
}

#[test]
fn retained_to_new_and_live_subscribers() {
    // retain 1 to the new subscriber, retain 0 to the existing one
    // [MQTT-3.3.1-8] [MQTT-3.3.1-9].
    let broker = TestBroker::start();
    let mut existing = broker.connect("existing", true, 60);
    existing.subscribe(&[("r/t", Q0)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("r/t", b"v1", Q0, true);
    assert!(!existing.expect_message("r/t", b"v1").retain);
    let mut newcomer = broker.connect("newcomer", true, 60);
    newcomer.subscribe(&[("r/t", Q0)]);
    assert!(newcomer.expect_message("r/t", b"v1").retain);
    existing.expect_nothing();
}

#[test]
fn retained_outlives_the_publishers_session() {
    // [MQTT-3.1.2-7] retained messages are not part of session state:
    // they stay when the publisher's session ends.
    let broker = TestBroker::start();
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("orphan", b"kept", Q1, true);
    publisher.disconnect();
    broker.wait_disconnected("pub");
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("orphan", Q1)]);
    assert!(sub.expect_message("orphan", b"kept").retain);
}

#[test]
fn newer_retained_replaces_older() {
    // [MQTT-3.3.1-5] a new retained message replaces the previous one;
    // [MQTT-3.3.1-7] also a QoS 0 one.
    let broker = TestBroker::start();
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("rep", b"old", Q1, true);
    publisher.publish_acked("rep", b"new", Q0, true);
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("rep", Q1)]);
    let msg = sub.expect_message("rep", b"new");
    assert_eq!((msg.qos, msg.retain), (Q0, true));
    sub.expect_nothing();
}

#[test]
fn empty_retained_payload_clears() {
    // [MQTT-3.3.1-10] a zero-byte retained message removes the
    // retained message; [MQTT-3.3.1-11] it is not stored.
    let broker = TestBroker::start();
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("clr", b"x", Q1, true);
    publisher.publish_acked("clr", b"", Q1, true);
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("clr", Q1), ("#", Q1)]);
    sub.expect_nothing();
    assert_eq!(broker.stats().retained_messages, 0);
}

#[test]
fn empty_retained_payload_is_forwarded_to_live_subscribers() {
    // [MQTT-3.3.1-10] the zero-byte message is still delivered as a
    // normal message to current subscribers.
    let broker = TestBroker::start();
    let mut live = broker.connect("live", true, 60);
    live.subscribe(&[("clr", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("clr", b"", Q1, true);
    let msg = live.expect_message("clr", b"");
    assert!(!msg.retain);
}

#[test]
fn non_retained_publish_leaves_retained_alone() {
    // [MQTT-3.3.1-12] retain 0: the retained message is not touched.
    let broker = TestBroker::start();
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("keep", b"retained", Q1, true);
    publisher.publish_acked("keep", b"transient", Q1, false);
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("keep", Q1)]);
    sub.expect_message("keep", b"retained");
    sub.expect_nothing();
}

#[test]
fn retained_qos_is_capped_by_subscription() {
    // [MQTT-3.8.4-6] applies to retained messages too.
    let broker = TestBroker::start();
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("rq", b"q2", Q2, true);
    let mut s0 = broker.connect("s0", true, 60);
    s0.subscribe(&[("rq", Q0)]);
    assert_eq!(s0.expect_message("rq", b"q2").qos, Q0);
    let mut s1 = broker.connect("s1", true, 60);
    s1.subscribe(&[("rq", Q1)]);
    assert_eq!(s1.expect_message("rq", b"q2").qos, Q1);
    let mut s2 = broker.connect("s2", true, 60);
    s2.subscribe(&[("rq", Q2)]);
    let msg = s2.expect_message("rq", b"q2");
    assert_eq!((msg.qos, msg.retain), (Q2, true));
}

#[test]
fn wildcard_subscription_gets_every_matching_retained() {
    let broker = TestBroker::start();
    let mut publisher = broker.connect("pub", true, 60);
    for topic in ["w/a", "w/b/c", "x/a", "$w/a"] {
        publisher.publish_acked(topic, topic.as_bytes(), Q0, true);
    }
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("w/#", Q0)]);
    let mut got: Vec<String> = (0..2).map(|_| sub.expect_publish().topic).collect();
    got.sort();
    assert_eq!(got, vec!["w/a".to_string(), "w/b/c".to_string()]);
    sub.expect_nothing();
    // `#` gets x/a too but never $w/a [MQTT-4.7.2-1].
    let mut all = broker.connect("all", true, 60);
    all.subscribe(&[("#", Q0)]);
    let mut got: Vec<String> = (0..3).map(|_| all.expect_publish().topic).collect();
    got.sort();
    assert_eq!(
        got,
        vec!["w/a".to_string(), "w/b/c".to_string(), "x/a".to_string()]
    );
    all.expect_nothing();
    // `+/a` gets w/a and x/a, never $w/a.
    let mut plus = broker.connect("plus", true, 60);
    plus.subscribe(&[("+/a", Q0)]);
    let mut got: Vec<String> = (0..2).map(|_| plus.expect_publish().topic).collect();
    got.sort();
    assert_eq!(got, vec!["w/a".to_string(), "x/a".to_string()]);
    plus.expect_nothing();
    // `$w/+` names it explicitly.
    let mut explicit = broker.connect("explicit", true, 60);
    explicit.subscribe(&[("$w/+", Q0)]);
    explicit.expect_message("$w/a", b"$w/a");
}

#[test]
fn resubscribe_resends_retained() {
    // [MQTT-3.8.4-3] replacing a subscription re-sends the retained
    // messages.
    let broker = TestBroker::start();
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("again", b"r", Q0, true);
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("again", Q0)]);
    sub.expect_message("again", b"r");
    sub.subscribe(&[("again", Q0)]);
    assert!(sub.expect_message("again", b"r").retain);
}

#[test]
fn retained_follows_suback() {
    // [MQTT-3.8.4-1] SUBACK answers the SUBSCRIBE; the retained
    // messages come after it (the subscribe helper asserts SUBACK is
    // the first packet).
    let broker = TestBroker::start();
    broker.handle.publish("order/r", b"r", Q1, true).unwrap();
    let mut sub = broker.connect("sub", true, 60);
    assert_eq!(broker.stats().retained_messages, 1);
    assert_eq!(sub.subscribe(&[("order/#", Q1)]), vec![1]);
    sub.expect_message("order/r", b"r");
}
