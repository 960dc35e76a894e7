//! Broker restarts with `Config::persistence`: persistent sessions (their
//! subscriptions, queued and unacknowledged messages, inbound QoS 2 state)
//! and retained messages survive; clean sessions do not. MQTT 3.1.1 asks
//! for session state to outlive the network connection [MQTT-3.1.2-4]; a
//! durable broker keeps it across its own restarts too.

use crate::support;

use std::path::Path;

use mqlite::codec::{Ack, Packet, QoS};
use support::*;

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;
const Q2: QoS = QoS::ExactlyOnce;

fn durable(db: &Path) -> TestBroker {
    let db = db.to_path_buf();
    TestBroker::start_with(move |c| c.persistence = Some(db))
}

#[test]
fn retained_messages_survive_a_restart() {
    let dir = TempDir::new("retained");
    let db = dir.path("store.db");
    {
        let broker = durable(&db);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("keep/a", b"1", Q1, true);
        publisher.publish_acked("keep/b", b"2", Q2, true);
        publisher.publish_acked("keep/c", b"3", Q0, true);
        publisher.publish_acked("keep/b", b"", Q1, true); // cleared
        publisher.publish_acked("keep/c", b"3bis", Q1, true); // replaced
        publisher.publish_acked("keep/d", b"not retained", Q1, false);
        broker.stop().unwrap();
    }
    let broker = durable(&db);
    assert_eq!(broker.stats().retained_messages, 2);
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("keep/#", Q2)]);
    let mut got: Vec<(String, Vec<u8>, QoS, bool)> = (0..2)
        .map(|_| {
            let msg = sub.expect_publish();
            sub.ack(&msg);
            (msg.topic, msg.payload, msg.qos, msg.retain)
        })
        .collect();
    got.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        got,
        vec![
            ("keep/a".to_string(), b"1".to_vec(), Q1, true),
            ("keep/c".to_string(), b"3bis".to_vec(), Q1, true),
        ]
    );
    sub.expect_nothing();
}

#[test]
fn subscriptions_and_queued_messages_survive_a_restart() {
    let dir = TempDir::new("queue");
    let db = dir.path("store.db");
    {
        let broker = durable(&db);
        let mut sub = broker.connect("durable", false, 60);
        sub.subscribe(&[("jobs/#", Q2), ("gone", Q1)]);
        sub.unsubscribe(&["gone"]);
        sub.disconnect();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("jobs/1", b"one", Q1, false);
        publisher.publish_acked("jobs/2", b"two", Q2, false);
        publisher.publish_acked("jobs/3", b"three", Q1, false);
        broker.stop().unwrap();
    }
    let broker = durable(&db);
    let mut sub = broker.socket();
    assert!(
        sub.connect("durable", false, 60),
        "session present after restart"
    );
    for (topic, payload, qos) in [
        ("jobs/1", &b"one"[..], Q1),
        ("jobs/2", b"two", Q2),
        ("jobs/3", b"three", Q1),
    ] {
        let msg = sub.expect_message(topic, payload);
        assert_eq!((msg.qos, msg.dup), (qos, false), "{msg:?}");
    }
    sub.expect_nothing();
    // Subscriptions: jobs/# kept, gone removed.
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("gone", b"x", Q1, false);
    publisher.publish_acked("jobs/4", b"four", Q1, false);
    sub.expect_message("jobs/4", b"four");
    sub.expect_nothing();
}

#[test]
fn unacknowledged_messages_resent_after_a_restart() {
    // [MQTT-4.4.0-1] re-sent with their original packet ids and DUP 1, in
    // order; a QoS 2 message already PUBREC'd gets its PUBREL again, not
    // a second PUBLISH.
    let dir = TempDir::new("inflight");
    let db = dir.path("store.db");
    let (first, second, third);
    {
        let broker = durable(&db);
        let mut sub = broker.connect("durable", false, 60);
        sub.subscribe(&[("t", Q2)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("t", b"q1-unacked", Q1, false);
        publisher.publish_acked("t", b"q2-released", Q2, false);
        publisher.publish_acked("t", b"q2-unacked", Q2, false);
        first = sub.expect_publish();
        second = sub.expect_publish();
        third = sub.expect_publish();
        let id = second.packet_id.unwrap();
        sub.send(&Packet::PubRec(Ack::new(id)));
        assert_eq!(sub.expect_packet(), Pkt::PubRel(id));
        sub.close_abruptly();
        broker.wait_disconnected("durable");
        broker.stop().unwrap();
    }
    let broker = durable(&db);
    let mut sub = broker.socket();
    assert!(sub.connect("durable", false, 60));
    let resent = vec![
        sub.expect_packet(),
        sub.expect_packet(),
        sub.expect_packet(),
    ];
    let publishes: Vec<&Msg> = resent
        .iter()
        .filter_map(|p| match p {
            Pkt::Publish(m) => Some(m),
            _ => None,
        })
        .collect();
    assert!(
        resent.contains(&Pkt::PubRel(second.packet_id.unwrap())),
        "no PUBREL for the released message: {resent:?}"
    );
    assert_eq!(publishes.len(), 2, "{resent:?}");
    for (again, original) in publishes.iter().zip([&first, &third]) {
        assert_eq!(
            (&again.payload, again.packet_id, again.qos, again.dup),
            (&original.payload, original.packet_id, original.qos, true),
            "{resent:?}"
        );
    }
    sub.send(&Packet::PubComp(Ack::new(second.packet_id.unwrap())));
    for msg in publishes {
        sub.ack(msg);
    }
    sub.expect_nothing();
    // All acknowledged: a further restart has nothing to resend.
    sub.disconnect();
    broker.stop().unwrap();
    let broker = durable(&db);
    let mut sub = broker.socket();
    assert!(sub.connect("durable", false, 60));
    sub.expect_nothing();
}

#[test]
fn inbound_qos2_state_survives_a_restart() {
    // [MQTT-4.3.3-2] a PUBLISH re-sent after PUBREC is not a new message,
    // even across a broker restart.
    let dir = TempDir::new("inbound");
    let db = dir.path("store.db");
    {
        let broker = durable(&db);
        let mut sub = broker.connect("sub", false, 60);
        sub.subscribe(&[("in", Q2)]);
        let mut publisher = broker.connect("p", false, 60);
        publisher.send_publish("in", b"once", Q2, false, false, Some(42));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(42));
        sub.expect_message("in", b"once");
        sub.disconnect();
        publisher.close_abruptly();
        broker.wait_disconnected("p");
        broker.stop().unwrap();
    }
    let broker = durable(&db);
    let mut sub = broker.socket();
    assert!(sub.connect("sub", false, 60));
    let mut publisher = broker.socket();
    assert!(publisher.connect("p", false, 60));
    publisher.send_publish("in", b"once", Q2, false, true, Some(42));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(42));
    publisher.send(&Packet::PubRel(Ack::new(42)));
    assert_eq!(publisher.expect_packet(), Pkt::PubComp(42));
    sub.expect_nothing();
}

#[test]
fn clean_sessions_are_not_persisted() {
    let dir = TempDir::new("clean");
    let db = dir.path("store.db");
    {
        let broker = durable(&db);
        let mut transient = broker.connect("transient", true, 60);
        transient.subscribe(&[("x", Q1)]);
        // A persistent session ended by a clean-session connect.
        let mut ended = broker.connect("ended", false, 60);
        ended.subscribe(&[("x", Q1)]);
        ended.disconnect();
        let ended = broker.connect("ended", true, 60);
        ended.disconnect();
        broker.stop().unwrap();
    }
    let broker = durable(&db);
    let stats = broker.stats();
    assert_eq!((stats.sessions, stats.subscriptions), (0, 0), "{stats:?}");
    let mut c = broker.socket();
    assert!(!c.connect("transient", false, 60));
    let mut c = broker.socket();
    assert!(!c.connect("ended", false, 60));
}

#[test]
fn reset_persistence_starts_empty() {
    let dir = TempDir::new("reset");
    let db = dir.path("store.db");
    {
        let broker = durable(&db);
        broker.handle.publish("r", b"old", Q1, true).unwrap();
        let sub = broker.connect("durable", false, 60);
        sub.disconnect();
        broker.stop().unwrap();
    }
    let reset = {
        let db = db.clone();
        TestBroker::start_with(move |c| {
            c.persistence = Some(db);
            c.reset_persistence = true;
        })
    };
    let stats = reset.stats();
    assert_eq!(
        (stats.sessions, stats.retained_messages),
        (0, 0),
        "{stats:?}"
    );
    let mut c = reset.socket();
    assert!(!c.connect("durable", false, 60));
    drop(c);
    reset.stop().unwrap();
    // The old file was moved aside, not deleted.
    let kept = std::fs::read_dir(&dir.0)
        .unwrap()
        .filter_map(|e| e.ok())
        .any(|e| e.file_name().to_string_lossy().contains(".bak"));
    assert!(kept, "no backup of the old store in {:?}", dir.0);
}
