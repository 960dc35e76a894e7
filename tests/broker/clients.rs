//! The broker exercised by a real client library: rumqttc's synchronous
//! `Client`, plus the embedding API (`BrokerHandle`) from the same process.

use crate::support;

use std::time::Duration;

use rumqttc::{LastWill, QoS as RQoS};
use support::mqtt::{mqtt, Mqtt};
use support::{join_within, TestBroker, TIMEOUT};

fn connect(broker: &TestBroker, id: &str, clean: bool) -> (Mqtt, bool) {
    Mqtt::connect(broker.addr, id, clean)
}

fn pubsub(qos: RQoS) {
    let broker = TestBroker::start();
    let (sub, _) = connect(&broker, "sub", true);
    sub.subscribe("r/+/t", qos);
    let (publisher, _) = connect(&broker, "pub", true);
    for i in 0..5u8 {
        publisher.publish("r/x/t", qos, false, [i; 3]);
    }
    for i in 0..5u8 {
        let msg = sub.expect_publish();
        assert_eq!(
            (msg.topic.as_str(), &msg.payload[..]),
            ("r/x/t", &[i; 3][..])
        );
        assert_eq!((msg.qos, msg.retain, msg.dup), (qos, false, false));
    }
    sub.expect_no_publish();
    publisher.disconnect();
    sub.disconnect();
}

#[test]
fn pubsub_qos0() {
    pubsub(RQoS::AtMostOnce);
}

#[test]
fn pubsub_qos1() {
    pubsub(RQoS::AtLeastOnce);
}

#[test]
fn pubsub_qos2() {
    pubsub(RQoS::ExactlyOnce);
}

#[test]
fn qos_downgrade_for_rumqttc_subscriber() {
    let broker = TestBroker::start();
    let (sub, _) = connect(&broker, "sub", true);
    sub.subscribe("down", RQoS::AtLeastOnce);
    let (publisher, _) = connect(&broker, "pub", true);
    publisher.publish("down", RQoS::ExactlyOnce, false, b"x");
    assert_eq!(sub.expect_publish().qos, RQoS::AtLeastOnce);
}

#[test]
fn retained_message_for_new_subscriber() {
    let broker = TestBroker::start();
    let (publisher, _) = connect(&broker, "pub", true);
    publisher.publish("state/lamp", RQoS::AtLeastOnce, true, b"on");
    publisher.publish("state/door", RQoS::AtLeastOnce, true, b"closed");
    publisher.publish("state/door", RQoS::AtLeastOnce, true, b"open");
    let (sub, _) = connect(&broker, "sub", true);
    sub.subscribe("state/#", RQoS::AtLeastOnce);
    let mut got: Vec<(String, Vec<u8>, bool)> = (0..2)
        .map(|_| {
            let msg = sub.expect_publish();
            (msg.topic, msg.payload.to_vec(), msg.retain)
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        vec![
            ("state/door".to_string(), b"open".to_vec(), true),
            ("state/lamp".to_string(), b"on".to_vec(), true)
        ]
    );
    sub.expect_no_publish();
    // Clearing one.
    publisher.publish("state/lamp", RQoS::AtLeastOnce, true, b"");
    assert!(sub.expect_publish().payload.is_empty());
    let (late, _) = connect(&broker, "late", true);
    late.subscribe("state/#", RQoS::AtLeastOnce);
    assert_eq!(late.expect_publish().topic, "state/door");
    late.expect_no_publish();
}

#[test]
fn persistent_session_resume_with_offline_messages() {
    let broker = TestBroker::start();
    let (sub, present) = connect(&broker, "durable", false);
    assert!(!present);
    sub.subscribe("jobs/#", RQoS::ExactlyOnce);
    sub.disconnect();
    broker.wait_disconnected("durable");

    let (publisher, _) = connect(&broker, "pub", true);
    for i in 0..10u8 {
        publisher.publish("jobs/new", RQoS::AtLeastOnce, false, [i]);
    }
    publisher.publish("jobs/q2", RQoS::ExactlyOnce, false, b"exactly");

    let (sub, present) = connect(&broker, "durable", false);
    assert!(present, "session present on resume");
    for i in 0..10u8 {
        let msg = sub.expect_publish();
        assert_eq!(
            (msg.topic.as_str(), &msg.payload[..]),
            ("jobs/new", &[i][..])
        );
    }
    let msg = sub.expect_publish();
    assert_eq!(
        (msg.topic.as_str(), msg.qos),
        ("jobs/q2", RQoS::ExactlyOnce)
    );
    sub.expect_no_publish();
    sub.disconnect();
    broker.wait_disconnected("durable");

    // A clean session then ends it.
    let (clean, present) = connect(&broker, "durable", true);
    assert!(!present);
    clean.disconnect();
}

#[test]
fn host_publish_reaches_rumqttc() {
    let broker = TestBroker::start();
    let (sub, _) = connect(&broker, "sub", true);
    sub.subscribe("host/#", RQoS::ExactlyOnce);
    broker
        .handle
        .publish(
            "host/live",
            b"from the host",
            mqlite::QoS::AtLeastOnce,
            false,
        )
        .unwrap();
    let msg = sub.expect_publish();
    assert_eq!(
        (msg.topic.as_str(), &msg.payload[..]),
        ("host/live", &b"from the host"[..])
    );
    assert_eq!((msg.qos, msg.retain), (RQoS::AtLeastOnce, false));

    broker
        .handle
        .publish("host/kept", b"retained", mqlite::QoS::ExactlyOnce, true)
        .unwrap();
    assert_eq!(sub.expect_publish().topic, "host/kept");
    let (late, _) = connect(&broker, "late", true);
    late.subscribe("host/+", RQoS::ExactlyOnce);
    let msg = late.expect_publish();
    assert_eq!(
        (msg.topic.as_str(), msg.retain, msg.qos),
        ("host/kept", true, RQoS::ExactlyOnce)
    );
}

#[test]
fn host_publish_refuses_invalid_topics() {
    let broker = TestBroker::start();
    for topic in ["", "a/+", "a/#", "#", "nul\0"] {
        match broker
            .handle
            .publish(topic, b"x", mqlite::QoS::AtMostOnce, false)
        {
            Err(mqlite::Error::InvalidTopic(t)) => assert_eq!(t, topic),
            other => panic!("publish to {topic:?}: {other:?}"),
        }
    }
    let long = "x".repeat(65_536);
    assert!(broker
        .handle
        .publish(&long, b"x", mqlite::QoS::AtMostOnce, false)
        .is_err());
    assert_eq!(broker.stats().messages_received, 0);
}

#[test]
fn rumqttc_publishes_counted_in_stats() {
    let broker = TestBroker::start();
    let before = broker.stats();
    assert_eq!((before.messages_received, before.clients_connected), (0, 0));
    let (sub, _) = connect(&broker, "counted-sub", true);
    sub.subscribe("count/#", RQoS::AtLeastOnce);
    let (publisher, _) = connect(&broker, "counted-pub", true);
    for i in 0..5u8 {
        publisher.publish("count/t", RQoS::AtLeastOnce, i == 4, [i]);
    }
    for _ in 0..5 {
        sub.expect_publish();
    }
    let stats = broker.stats();
    assert_eq!(stats.messages_received, 5, "{stats:?}");
    assert_eq!(stats.messages_sent, 5, "{stats:?}");
    assert_eq!(stats.clients_connected, 2, "{stats:?}");
    assert_eq!(stats.sessions, 2, "{stats:?}");
    assert_eq!(stats.subscriptions, 1, "{stats:?}");
    assert_eq!(stats.retained_messages, 1, "{stats:?}");
    assert!(
        stats.bytes_received > 0 && stats.bytes_sent > 0,
        "{stats:?}"
    );
    let mut clients = broker.clients();
    clients.sort();
    assert_eq!(
        clients,
        vec!["counted-pub".to_string(), "counted-sub".to_string()]
    );

    publisher.disconnect();
    broker.wait_disconnected("counted-pub");
    let stats = broker.stats();
    assert_eq!(stats.clients_connected, 1, "{stats:?}");
    assert_eq!(stats.sessions, 1, "{stats:?}");
}

#[test]
fn kick_disconnects_rumqttc_and_publishes_its_will() {
    let broker = TestBroker::start();
    let (watcher, _) = connect(&broker, "watcher", true);
    watcher.subscribe("wills/#", RQoS::AtLeastOnce);
    let victim = mqtt(broker.addr, "victim", |options| {
        options.set_last_will(LastWill::new(
            "wills/victim",
            "kicked",
            RQoS::AtLeastOnce,
            false,
        ));
    })
    .connected();
    assert!(broker.clients().contains(&"victim".to_string()));
    broker.handle.kick("victim").unwrap();
    victim.wait_closed();
    let msg = watcher.expect_publish();
    assert_eq!(
        (msg.topic.as_str(), &msg.payload[..]),
        ("wills/victim", &b"kicked"[..])
    );
    broker.wait_disconnected("victim");
}

#[test]
fn rumqttc_will_on_dropped_connection() {
    let broker = TestBroker::start();
    let (watcher, _) = connect(&broker, "watcher", true);
    watcher.subscribe("wills/#", RQoS::ExactlyOnce);
    let dropper = mqtt(broker.addr, "dropper", |options| {
        options.set_last_will(LastWill::new(
            "wills/dropper",
            "lost",
            RQoS::ExactlyOnce,
            true,
        ));
    })
    .connected();
    drop(dropper); // the socket closes without DISCONNECT
    let msg = watcher.expect_publish();
    assert_eq!(
        (&msg.payload[..], msg.qos),
        (&b"lost"[..], RQoS::ExactlyOnce)
    );
}

#[test]
fn many_subscribers_fan_out() {
    let broker = TestBroker::start();
    let subs: Vec<Mqtt> = (0..8)
        .map(|i| {
            let (sub, _) = connect(&broker, &format!("fan-{i}"), true);
            sub.subscribe("fan/#", RQoS::AtLeastOnce);
            sub
        })
        .collect();
    let (publisher, _) = connect(&broker, "pub", true);
    publisher.publish("fan/out", RQoS::AtLeastOnce, false, b"to all");
    for sub in &subs {
        assert_eq!(&sub.expect_publish().payload[..], b"to all");
    }
    assert_eq!(broker.stats().messages_sent, 8);
}

#[test]
fn two_brokers_side_by_side() {
    let a = TestBroker::start();
    let b = TestBroker::start();
    assert_ne!(a.addr, b.addr);
    let (sub_a, _) = connect(&a, "sub", true);
    let (sub_b, _) = connect(&b, "sub", true);
    sub_a.subscribe("t", RQoS::AtLeastOnce);
    sub_b.subscribe("t", RQoS::AtLeastOnce);
    let (pub_a, _) = connect(&a, "pub", true);
    let (pub_b, _) = connect(&b, "pub", true);

    pub_a.publish("t", RQoS::AtLeastOnce, false, b"on a");
    assert_eq!(&sub_a.expect_publish().payload[..], b"on a");
    pub_b.publish("t", RQoS::AtLeastOnce, true, b"on b");
    assert_eq!(&sub_b.expect_publish().payload[..], b"on b");
    a.handle
        .publish("t", b"host a", mqlite::QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(&sub_a.expect_publish().payload[..], b"host a");
    sub_a.expect_no_publish();
    sub_b.expect_no_publish();
    assert_eq!(
        (a.stats().retained_messages, b.stats().retained_messages),
        (0, 1)
    );

    // Stopping one leaves the other running.
    a.stop().unwrap();
    sub_a.wait_closed();
    pub_b.publish("t", RQoS::AtLeastOnce, false, b"still here");
    assert_eq!(&sub_b.expect_publish().payload[..], b"still here");
}

#[test]
fn stop_with_connected_clients() {
    let broker = TestBroker::start();
    let handle = broker.handle.clone();
    let (one, _) = connect(&broker, "one", true);
    let (two, _) = connect(&broker, "two", false);
    one.subscribe("x", RQoS::AtLeastOnce);
    two.subscribe("x", RQoS::AtLeastOnce);
    assert_eq!(broker.clients().len(), 2);
    let addr = broker.addr;

    broker.stop().expect("run returns Ok after stop");
    one.wait_closed();
    two.wait_closed();
    assert!(handle.is_stopped());
    assert!(matches!(
        handle.publish("x", b"late", mqlite::QoS::AtMostOnce, false),
        Err(mqlite::Error::Stopped)
    ));
    assert!(handle.stats(Duration::from_millis(200)).is_err());
    assert!(handle
        .connected_clients(Duration::from_millis(200))
        .is_err());
    handle.stop(); // harmless once stopped
                   // The listener is closed: nothing accepts connections any more.
    assert!(std::net::TcpStream::connect_timeout(&addr, Duration::from_secs(1)).is_err());
}

#[test]
fn stop_flushes_what_was_published_before_it() {
    // publish() then stop(): the message still reaches the subscriber
    // before its connection closes; wills are not published at a stop.
    let broker = TestBroker::start();
    let mut sub = broker.connect("last-words", true, 60);
    sub.subscribe(&[
        ("final", mqlite::QoS::AtLeastOnce),
        ("wills", mqlite::QoS::AtMostOnce),
    ]);
    let (_with_will, _) = broker.connect_with(&support::ConnectOptions::new("will-holder").will(
        "wills",
        b"x",
        mqlite::QoS::AtMostOnce,
        false,
    ));
    broker
        .handle
        .publish("final", b"goodbye", mqlite::QoS::AtLeastOnce, false)
        .unwrap();
    broker.handle.stop();
    let packets = sub.drain_until_closed();
    assert_eq!(packets.len(), 1, "{packets:?}");
    let support::Pkt::Publish(msg) = &packets[0] else {
        panic!("{packets:?}")
    };
    assert_eq!(&msg.payload[..], b"goodbye");
    broker.stop().unwrap();
}

#[test]
fn stop_from_another_thread_while_busy() {
    // stop() while a publisher floods the broker: run returns promptly.
    let broker = TestBroker::start();
    let (sub, _) = connect(&broker, "sub", true);
    sub.subscribe("busy", RQoS::AtMostOnce);
    let handle = broker.handle.clone();
    let flood = std::thread::spawn(move || {
        let mut sent = 0u32;
        while handle
            .publish("busy", &sent.to_be_bytes(), mqlite::QoS::AtMostOnce, false)
            .is_ok()
        {
            sent += 1;
            if sent.is_multiple_of(1000) {
                std::thread::sleep(Duration::from_millis(1));
            }
            if sent > 5_000_000 {
                break;
            }
        }
        sent
    });
    sub.expect_publish();
    broker.stop().expect("run returns Ok");
    let sent = join_within(flood, TIMEOUT).expect("the publishing thread sees the stop");
    assert!(sent > 0);
    sub.wait_closed();
}
