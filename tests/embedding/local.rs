//! Local subscriptions: the host receiving messages without a socket,
//! through a callback or a bounded channel (`LocalReceiver`). Wildcards and
//! `$SYS`, retained messages, reading from another thread, a slow QoS 1
//! reader, a full channel dropping QoS 0, and the end of a subscription
//! (receiver dropped, `unsubscribe_local`).
//!
//! rumqttc is the network client. Every wait is bounded; no test asserts on
//! timing.

use crate::support;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mqlite::{Config, QoS};
use support::embedding::{forward, recv, recv_local, text, Got};
use support::mqtt::mqtt;
use support::{test_config, TestBroker, QUIET, TIMEOUT};

// ---------------------------------------------------------------------------
// Callbacks.

#[test]
fn local_callbacks_follow_wildcard_rules_and_hash_does_not_match_sys() {
    let config = Config {
        sys_interval: Some(Duration::from_secs(1)),
        ..test_config()
    };
    let (temp_tx, temp) = mpsc::channel();
    let (all_tx, all) = mpsc::channel();
    let (sys_tx, sys) = mpsc::channel();
    let broker = TestBroker::start_setup(config, |broker| {
        broker
            .subscribe_local("sensors/+/temp", QoS::AtLeastOnce, forward(temp_tx))
            .unwrap();
        broker
            .subscribe_local("#", QoS::AtMostOnce, forward(all_tx))
            .unwrap();
        broker
            .subscribe_local("$SYS/broker/uptime", QoS::AtMostOnce, forward(sys_tx))
            .unwrap();
        assert!(broker
            .subscribe_local("bad/#/filter", QoS::AtMostOnce, |_| {})
            .is_err());
    });

    let client = mqtt(broker.addr, "wild-pub", |_| {}).connected();
    let topics = [
        "sensors/a/temp",
        "sensors/b/humidity",
        "sensors/b/temp",
        "sensors/a/b/temp",
        "sensors/temp",
        "other/x",
    ];
    for topic in topics {
        client.publish_nowait(topic, rumqttc::QoS::AtLeastOnce, false, topic);
    }
    client.publish_nowait("done", rumqttc::QoS::AtLeastOnce, false, "sentinel");

    // Callbacks run in routing order: once `#` has the sentinel, every
    // callback has seen everything before it.
    let mut seen = Vec::new();
    loop {
        let got = recv(&all, "message on #");
        if got.topic == "done" {
            break;
        }
        assert_eq!(got.qos, QoS::AtMostOnce, "capped by the subscription");
        assert!(!got.retain);
        seen.push(got.topic);
    }
    assert_eq!(seen, topics);
    let temps: Vec<Got> = temp.try_iter().collect();
    let temp_topics: Vec<&str> = temps.iter().map(|g| g.topic.as_str()).collect();
    assert_eq!(temp_topics, ["sensors/a/temp", "sensors/b/temp"]);
    assert!(temps.iter().all(|g| g.qos == QoS::AtLeastOnce));

    // `$SYS` is published (its own subscriber sees it) but `#` gets none.
    let uptime = recv(&sys, "$SYS/broker/uptime");
    assert!(uptime.payload.ends_with("seconds"), "{uptime:?}");
    broker
        .handle
        .publish("done", b"again", QoS::AtMostOnce, false)
        .unwrap();
    loop {
        let got = recv(&all, "message on #");
        assert!(!got.topic.starts_with('$'), "# matched {}", got.topic);
        if got.topic == "done" {
            break;
        }
    }
}

#[test]
fn local_subscriptions_receive_retained_messages_with_the_retain_flag() {
    let broker = TestBroker::start_setup(test_config(), |_| {});
    broker
        .handle
        .publish("status/host", b"up", QoS::AtLeastOnce, true)
        .unwrap();
    let client = mqtt(broker.addr, "retainer", |_| {}).connected();
    client.publish_nowait("status/device", rumqttc::QoS::AtLeastOnce, true, "online");
    client.pubacks(1);

    // A channel and a callback, both at QoS 0.
    let channel = broker
        .handle
        .subscribe_channel("status/#", QoS::AtMostOnce, 8)
        .unwrap();
    let (tx, callback) = mpsc::channel();
    broker
        .handle
        .subscribe_local("status/#", QoS::AtMostOnce, forward(tx))
        .unwrap();

    let expected = |topic: &str, payload: &str| Got {
        topic: topic.into(),
        payload: payload.into(),
        qos: QoS::AtMostOnce,
        retain: true,
    };
    let mut from_channel = vec![
        recv_local(&channel, "retained"),
        recv_local(&channel, "retained"),
    ];
    let mut from_callback = vec![recv(&callback, "retained"), recv(&callback, "retained")];
    from_channel.sort_by(|a, b| a.topic.cmp(&b.topic));
    from_callback.sort_by(|a, b| a.topic.cmp(&b.topic));
    let wanted = vec![
        expected("status/device", "online"),
        expected("status/host", "up"),
    ];
    assert_eq!(from_channel, wanted);
    assert_eq!(from_callback, wanted);

    // A live message, even a retained one, is forwarded without the flag.
    client.publish_nowait("status/device", rumqttc::QoS::AtLeastOnce, true, "busy");
    let live = recv_local(&channel, "live message");
    assert_eq!((live.payload.as_str(), live.retain), ("busy", false));
    let live = recv(&callback, "live message");
    assert_eq!((live.payload.as_str(), live.retain), ("busy", false));
}

// ---------------------------------------------------------------------------
// Channels.

#[test]
fn channel_subscription_is_read_from_another_thread() {
    let broker = TestBroker::start_setup(test_config(), |_| {});
    let handle = broker.handle.clone();
    let (ready_tx, ready) = mpsc::channel();
    let reader = thread::spawn(move || {
        let receiver = handle
            .subscribe_channel("chat/#", QoS::AtLeastOnce, 4)
            .unwrap();
        ready_tx.send(()).unwrap();
        let mut got = Vec::new();
        for _ in 0..3 {
            got.push(recv_local(&receiver, "chat message"));
        }
        (thread::current().id(), got)
    });
    ready.recv_timeout(TIMEOUT).unwrap();

    let client = mqtt(broker.addr, "chatter", |_| {}).connected();
    for i in 0..3 {
        client.publish_nowait(
            "chat/room",
            rumqttc::QoS::AtLeastOnce,
            false,
            format!("m{i}"),
        );
    }
    let (reader_id, got) = reader.join().expect("the reader thread");
    assert_ne!(reader_id, thread::current().id());
    let payloads: Vec<&str> = got.iter().map(|g| g.payload.as_str()).collect();
    assert_eq!(payloads, ["m0", "m1", "m2"]);
    assert!(got.iter().all(|g| g.qos == QoS::AtLeastOnce && !g.retain));
}

#[test]
fn slow_qos1_channel_subscriber_gets_every_message_in_order() {
    const COUNT: usize = 50;
    let broker = TestBroker::start_setup(test_config(), |_| {});
    let receiver = broker
        .handle
        .subscribe_channel("slow/#", QoS::AtLeastOnce, 2)
        .unwrap();
    let reader = thread::spawn(move || {
        let mut payloads = Vec::new();
        for _ in 0..COUNT {
            // Pacing: a reader slower than the publisher fills the channel.
            thread::sleep(Duration::from_millis(5));
            match receiver.recv_timeout(TIMEOUT) {
                Some(message) => payloads.push(text(message.payload())),
                None => break,
            }
        }
        payloads
    });

    let client = mqtt(broker.addr, "fast-publisher", |_| {}).connected();
    for i in 0..COUNT {
        client.publish_nowait("slow/data", rumqttc::QoS::AtLeastOnce, false, i.to_string());
    }
    client.pubacks(COUNT);

    let payloads = reader.join().expect("the reader thread");
    let expected: Vec<String> = (0..COUNT).map(|i| i.to_string()).collect();
    assert_eq!(payloads, expected);
    assert_eq!(broker.stats().messages_dropped, 0);
}

#[test]
fn qos0_messages_for_a_full_channel_are_dropped_and_counted() {
    let broker = TestBroker::start_setup(test_config(), |_| {});
    let receiver = broker
        .handle
        .subscribe_channel("full/#", QoS::AtLeastOnce, 2)
        .unwrap();
    let before = broker.stats();
    for i in 0..10 {
        broker
            .handle
            .publish("full/q0", i.to_string().as_bytes(), QoS::AtMostOnce, false)
            .unwrap();
    }
    // Commands are handled in order: these stats come after the publishes.
    let after = broker.stats();
    assert_eq!(after.messages_dropped, before.messages_dropped + 8);
    assert_eq!(receiver.len(), 2);
    let first: Vec<String> = std::iter::from_fn(|| receiver.try_recv())
        .map(|m| text(m.payload()))
        .collect();
    assert_eq!(first, ["0", "1"]);

    // QoS 1 messages wait for room instead.
    for i in 0..5 {
        broker
            .handle
            .publish("full/q1", i.to_string().as_bytes(), QoS::AtLeastOnce, false)
            .unwrap();
    }
    let _ = broker.stats();
    let mut waited = Vec::new();
    for _ in 0..5 {
        waited.push(recv_local(&receiver, "QoS 1 message").payload);
    }
    assert_eq!(waited, ["0", "1", "2", "3", "4"]);
    assert_eq!(broker.stats().messages_dropped, before.messages_dropped + 8);
}

#[test]
fn dropping_the_receiver_ends_the_subscription() {
    let broker = TestBroker::start_setup(test_config(), |_| {});
    let base = broker.stats().subscriptions;
    let receiver = broker
        .handle
        .subscribe_channel("gone/#", QoS::AtLeastOnce, 4)
        .unwrap();
    broker.stats_until("the subscription", |s| s.subscriptions == base + 1);
    drop(receiver);
    broker
        .handle
        .publish("gone/x", b"nobody listens", QoS::AtLeastOnce, false)
        .unwrap();
    broker.stats_until("the subscription gone", |s| s.subscriptions == base);
}

#[test]
fn dropping_an_idle_receiver_ends_the_subscription() {
    let broker = TestBroker::start_setup(test_config(), |_| {});
    let base = broker.stats().subscriptions;
    let receiver = broker
        .handle
        .subscribe_channel("idle/#", QoS::AtLeastOnce, 4)
        .unwrap();
    broker.stats_until("the subscription", |s| s.subscriptions == base + 1);
    drop(receiver);
    broker.stats_until("the subscription gone", |s| s.subscriptions == base);
}

#[test]
fn unsubscribe_local_stops_deliveries() {
    let (tx, first) = mpsc::channel();
    let broker = TestBroker::start_setup(test_config(), |broker| {
        // On the broker's own thread, before it runs.
        let subscription = broker
            .subscribe_local("unsub/#", QoS::AtMostOnce, |_| {})
            .unwrap();
        assert!(broker.unsubscribe_local(subscription));
        assert!(!broker.unsubscribe_local(subscription));
    });
    assert_eq!(broker.stats().subscriptions, 0);

    let subscription = broker
        .handle
        .subscribe_local("unsub/#", QoS::AtMostOnce, forward(tx))
        .unwrap();
    let witness = broker
        .handle
        .subscribe_channel("unsub/#", QoS::AtMostOnce, 8)
        .unwrap();
    let channel = broker
        .handle
        .subscribe_channel("unsub/#", QoS::AtMostOnce, 8)
        .unwrap();
    broker
        .handle
        .publish("unsub/1", b"1", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(recv(&first, "first message").topic, "unsub/1");
    assert_eq!(recv_local(&witness, "first message").topic, "unsub/1");
    assert_eq!(recv_local(&channel, "first message").topic, "unsub/1");

    broker.handle.unsubscribe_local(subscription).unwrap();
    broker
        .handle
        .unsubscribe_local(channel.subscription())
        .unwrap();
    broker
        .handle
        .publish("unsub/2", b"2", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(recv_local(&witness, "second message").topic, "unsub/2");
    // The witness got it, so the others would have by now.
    assert!(
        first.try_recv().is_err(),
        "callback called after unsubscribe"
    );
    // The channel's sending side went with the subscription.
    assert!(channel.recv_timeout(QUIET).is_none());
    assert_eq!(broker.stats().subscriptions, 1);
}
