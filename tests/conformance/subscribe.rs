//! MQTT 3.1.1 conformance, over raw sockets: subscribing and publishing
//! (mosquitto's `test/broker` group 02).
//!
//! §3.8 SUBSCRIBE / §3.9 SUBACK (granted QoS, 0x80 for refused filters, QoS
//! downgrade, overlapping and replaced subscriptions), §4.7 topic names and
//! filters (wildcards, `$` topics, UTF-8, long topics), §3.10 UNSUBSCRIBE /
//! §3.11 UNSUBACK, §3.12 PINGREQ, and delivery to many subscribers and from
//! the host API. Each test names the normative statement(s) it checks.
//! Every test runs its own broker.

use crate::support;

use std::time::Duration;

use mqlite::codec::QoS;
use support::conformance::*;
use support::*;

#[test]
fn qos0_publish_reaches_subscriber() {
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    assert_eq!(sub.subscribe(&[("a/b", Q0)]), vec![0]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("a/b", b"hello", Q0, false);
    let msg = sub.expect_publish();
    assert_eq!(
        msg,
        Msg {
            topic: "a/b".into(),
            payload: b"hello".to_vec(),
            qos: Q0,
            retain: false,
            dup: false,
            packet_id: None
        }
    );
    sub.expect_nothing();
}

#[test]
fn suback_grants_requested_qos() {
    // [MQTT-3.9.3-1] one code per filter, in order; [MQTT-3.8.4-5]
    // granted QoS may be lower, here it is the requested one.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    assert_eq!(
        sub.subscribe(&[("a", Q0), ("b", Q1), ("c", Q2)]),
        vec![0, 1, 2]
    );
}

#[test]
fn suback_0x80_for_bad_filters_mixed_with_good_ones() {
    // [MQTT-3.9.3-1] codes in filter order; 0x80 for a refused filter
    // [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1]; the good ones work.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    let codes = sub.subscribe(&[
        ("good/#", Q1),
        ("bad/#/x", Q1),
        ("bad+", Q0),
        ("", Q0),
        ("ok/+/x", Q2),
        ("#/", Q0),
        ("a/b#", Q0),
    ]);
    assert_eq!(codes, vec![1, 0x80, 0x80, 0x80, 2, 0x80, 0x80]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("good/1", b"g", Q1, false);
    publisher.publish_acked("ok/y/x", b"o", Q2, false);
    let first = sub.expect_message("good/1", b"g");
    assert_eq!(first.qos, Q1);
    let second = sub.expect_message("ok/y/x", b"o");
    assert_eq!(second.qos, Q2);
    sub.expect_nothing();
    sub.ping();
}

#[test]
fn qos_is_downgraded_to_the_subscription() {
    // [MQTT-3.8.4-6] delivered QoS = min(published, granted).
    let broker = TestBroker::start();
    let mut s0 = broker.connect("s0", true, 60);
    let mut s1 = broker.connect("s1", true, 60);
    let mut s2 = broker.connect("s2", true, 60);
    s0.subscribe(&[("t", Q0)]);
    s1.subscribe(&[("t", Q1)]);
    s2.subscribe(&[("t", Q2)]);
    let mut publisher = broker.connect("pub", true, 60);
    for (qos, payload) in [(Q2, b"p2"), (Q1, b"p1"), (Q0, b"p0")] {
        publisher.publish_acked("t", payload, qos, false);
        for (sub, granted) in [(&mut s0, Q0), (&mut s1, Q1), (&mut s2, Q2)] {
            let msg = sub.expect_message("t", payload);
            assert_eq!(
                msg.qos,
                qos.min(granted),
                "published {qos:?}, granted {granted:?}"
            );
            assert_eq!(msg.packet_id.is_some(), msg.qos != Q0);
        }
    }
    for sub in [&mut s0, &mut s1, &mut s2] {
        sub.expect_nothing();
    }
}

#[test]
fn overlapping_subscriptions_give_one_copy_at_max_qos() {
    // [MQTT-3.3.5-1] the server delivers respecting the maximum QoS of
    // all matching subscriptions (mqlite sends one copy, as mosquitto's
    // default does).
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("o/+", Q0), ("o/#", Q2), ("o/x", Q1), ("#", Q0)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("o/x", b"once", Q2, false);
    let msg = sub.expect_message("o/x", b"once");
    assert_eq!(msg.qos, Q2);
    sub.expect_nothing();
    // Published at QoS 1: one copy at QoS 1.
    publisher.publish_acked("o/x", b"q1", Q1, false);
    assert_eq!(sub.expect_message("o/x", b"q1").qos, Q1);
    sub.expect_nothing();
}

#[test]
fn dollar_topics_not_matched_by_leading_wildcards() {
    // [MQTT-4.7.2-1] `#` and `+/...` do not match topics starting
    // with `$`; an explicit `$foo/+` does.
    let broker = TestBroker::start();
    let mut wild = broker.connect("wild", true, 60);
    assert_eq!(
        wild.subscribe(&[("#", Q0), ("+/x", Q0), ("+/+", Q0)]),
        vec![0, 0, 0]
    );
    let mut explicit = broker.connect("explicit", true, 60);
    assert_eq!(
        explicit.subscribe(&[("$foo/+", Q0), ("$SYS/#", Q0)]),
        vec![0, 0]
    );
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("$foo/x", b"dollar", Q0, false);
    broker.handle.publish("$SYS/x", b"sys", Q0, false).unwrap();
    let mut got: Vec<String> = (0..2).map(|_| explicit.expect_publish().topic).collect();
    got.sort();
    assert_eq!(got, vec!["$SYS/x".to_string(), "$foo/x".to_string()]);
    wild.expect_nothing();
    // A plain topic still reaches the wildcard subscriber (once).
    publisher.publish_acked("plain/x", b"p", Q0, false);
    wild.expect_message("plain/x", b"p");
    wild.expect_nothing();
}

#[test]
fn wildcard_matching_rules() {
    // [MQTT-4.7.1-2] `#` matches the parent and any number of levels;
    // [MQTT-4.7.1-3] `+` matches exactly one level (possibly empty).
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("sport/#", Q0), ("a/+/c", Q0), ("x/+", Q0)]);
    let mut publisher = broker.connect("pub", true, 60);
    let cases: &[(&str, bool)] = &[
        ("sport", true),
        ("sport/tennis/player1", true),
        ("sports", false),
        ("a/b/c", true),
        ("a//c", true),
        ("a/b/c/d", false),
        ("a/c", false),
        ("x/", true),
        ("x", false),
        ("x/y/z", false),
        ("/x/y", false),
        ("A/b/c", false),
    ];
    for (topic, matched) in cases {
        publisher.publish_acked(topic, topic.as_bytes(), Q0, false);
        if *matched {
            sub.expect_message(topic, topic.as_bytes());
        } else {
            sub.expect_nothing_for(Duration::from_millis(100));
        }
    }
}

#[test]
fn utf8_topics_match_level_by_level() {
    // [MQTT-4.7.3-4] no normalization; multi-byte characters are plain
    // bytes of a level.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("t/+/日本", Q1), ("température/#", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("t/ümlaut/日本", b"1", Q1, false);
    publisher.publish_acked("t/ümlaut/日本語", b"2", Q1, false);
    publisher.publish_acked("température/salle", b"3", Q1, false);
    publisher.publish_acked("temperature/salle", b"4", Q1, false);
    sub.expect_message("t/ümlaut/日本", b"1");
    sub.expect_message("température/salle", b"3");
    sub.expect_nothing();
}

#[test]
fn long_topic_round_trip() {
    // [MQTT-4.7.3-3] topics up to 65 535 bytes.
    let broker = TestBroker::start();
    let topic = format!("long/{}", "x".repeat(65_535 - 5));
    assert_eq!(topic.len(), 65_535);
    let mut sub = broker.connect("sub", true, 60);
    assert_eq!(sub.subscribe(&[(&topic, Q1), ("long/#", Q0)]), vec![1, 0]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked(&topic, b"far", Q1, true);
    assert_eq!(sub.expect_message(&topic, b"far").qos, Q1);
    sub.expect_nothing();
}

#[test]
fn many_filters_in_one_subscribe() {
    // [MQTT-3.8.4-4] one SUBACK code per filter, in order.
    let broker = TestBroker::start();
    let filters: Vec<String> = (0..500).map(|i| format!("many/{i}")).collect();
    let requested: Vec<(&str, QoS)> = filters
        .iter()
        .enumerate()
        .map(|(i, f)| (f.as_str(), [Q0, Q1, Q2][i % 3]))
        .collect();
    let mut sub = broker.connect("sub", true, 60);
    let codes = sub.subscribe(&requested);
    let expected: Vec<u8> = (0..500).map(|i| (i % 3) as u8).collect();
    assert_eq!(codes, expected);
    assert_eq!(broker.stats().subscriptions, 500);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("many/499", b"last", Q2, false);
    assert_eq!(sub.expect_message("many/499", b"last").qos, Q1);
}

#[test]
fn sys_topics_published_but_hidden_from_hash() {
    // `$SYS/broker/...` statistics every sys_interval, retained, not
    // matched by `#` [MQTT-4.7.2-1].
    let broker = TestBroker::start_with(|c| c.sys_interval = Some(Duration::from_secs(1)));
    let mut all = broker.connect("all", true, 60);
    all.subscribe(&[("#", Q0)]);
    let mut sys = broker.connect("sys", true, 60);
    sys.subscribe(&[("$SYS/broker/clients/connected", Q0)]);
    // The value of an earlier round comes first, retained (the first
    // round runs at start); the next round counts both clients. A value
    // is only published again when it changes, so this ends.
    loop {
        let msg = sys.expect_publish();
        assert_eq!(msg.topic, "$SYS/broker/clients/connected");
        if String::from_utf8_lossy(&msg.payload) == "2" {
            break;
        }
        assert!(msg.retain, "{msg:?}");
    }
    all.expect_nothing_for(Duration::from_millis(1500));
    // Retained: a later subscriber gets the last value at once.
    let mut late = broker.connect("late", true, 60);
    late.subscribe(&[("$SYS/broker/version", Q0)]);
    let msg = late.expect_publish();
    assert!(msg.retain, "{msg:?}");
    assert!(
        String::from_utf8_lossy(&msg.payload).contains("mqlite"),
        "{msg:?}"
    );
}

#[test]
fn unsubscribe_stops_delivery() {
    // [MQTT-3.10.4-1] the subscription is deleted; [MQTT-3.10.4-4]
    // UNSUBACK with the same packet id; [MQTT-3.10.4-5] also when
    // nothing matched.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("u/1", Q1), ("u/2", Q1)]);
    sub.unsubscribe(&["u/1", "never/subscribed"]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("u/1", b"gone", Q1, false);
    publisher.publish_acked("u/2", b"kept", Q1, false);
    sub.expect_message("u/2", b"kept");
    sub.expect_nothing();
}

#[test]
fn unsubscribe_one_of_overlapping_filters_keeps_the_others() {
    // [MQTT-3.10.4-1] only the exactly matching filter is removed, and
    // only for this client.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("ov/#", Q1), ("ov/+", Q0)]);
    let mut other = broker.connect("other", true, 60);
    other.subscribe(&[("ov/+", Q0)]);
    sub.unsubscribe(&["ov/+"]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("ov/x", b"still", Q1, false);
    assert_eq!(sub.expect_message("ov/x", b"still").qos, Q1);
    other.expect_message("ov/x", b"still");
    sub.unsubscribe(&["ov/#"]);
    publisher.publish_acked("ov/x", b"gone", Q1, false);
    other.expect_message("ov/x", b"gone");
    sub.expect_nothing();
}

#[test]
fn unsubscribe_completes_deliveries_already_started() {
    // [MQTT-3.10.4-3] QoS 1/2 deliveries started before UNSUBSCRIBE
    // are completed: an unacknowledged message is re-sent on resume.
    let broker = TestBroker::start();
    let mut sub = broker.connect("unsub", false, 60);
    sub.subscribe(&[("started", Q1)]);
    broker.handle.publish("started", b"m", Q1, false).unwrap();
    let first = sub.expect_publish();
    sub.unsubscribe(&["started"]);
    sub.close_abruptly();
    broker.wait_disconnected("unsub");
    broker
        .handle
        .publish("started", b"after", Q1, false)
        .unwrap();
    let mut sub = broker.socket();
    assert!(sub.connect("unsub", false, 60));
    let again = sub.expect_publish();
    assert_eq!(
        (again.packet_id, again.dup, &again.payload[..]),
        (first.packet_id, true, &b"m"[..])
    );
    sub.ack(&again);
    sub.expect_nothing();
}

#[test]
fn many_connections_fan_out() {
    // 200 subscribers on one broker each get one copy.
    let broker = TestBroker::start();
    let mut subs: Vec<RawClient> = (0..200)
        .map(|i| {
            let mut c = broker.connect(&format!("fan{i}"), true, 60);
            c.subscribe(&[("fan/out", Q1)]);
            c
        })
        .collect();
    assert_eq!(broker.stats().clients_connected, 200);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("fan/out", b"all", Q1, false);
    for sub in &mut subs {
        sub.expect_message("fan/out", b"all");
    }
    for sub in &mut subs {
        sub.expect_nothing_for(Duration::from_millis(5));
    }
}

#[test]
fn resubscribe_replaces_qos() {
    // [MQTT-3.8.4-3] an identical filter replaces the subscription.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("r/t", Q2)]);
    sub.subscribe(&[("r/t", Q0)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("r/t", b"x", Q2, false);
    assert_eq!(sub.expect_message("r/t", b"x").qos, Q0);
    sub.expect_nothing();
}

#[test]
fn pingreq_gets_pingresp() {
    // [MQTT-3.12.4-1]
    let broker = TestBroker::start();
    let mut c = broker.connect("pinger", true, 60);
    for _ in 0..3 {
        c.ping();
    }
}

#[test]
fn publisher_subscribed_to_its_own_topic_receives_it() {
    // MQTT 3.1.1 has no "no local": the message goes back to its sender.
    let broker = TestBroker::start();
    let mut c = broker.connect("self", true, 60);
    c.subscribe(&[("me", Q0)]);
    c.publish("me", b"echo", Q0, false);
    c.expect_message("me", b"echo");
}

#[test]
fn host_publish_reaches_raw_subscriber() {
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("host/#", Q2)]);
    broker
        .handle
        .publish("host/a", b"from host", Q1, false)
        .unwrap();
    let msg = sub.expect_message("host/a", b"from host");
    assert_eq!((msg.qos, msg.retain), (Q1, false));
}
