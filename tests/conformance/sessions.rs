//! MQTT 3.1.1 conformance, over raw sockets: sessions (mosquitto's
//! `test/broker` group 05).
//!
//! §3.1.2.4 Clean Session and §3.2.2.2 Session Present, §4.1 session state
//! (queued offline messages, inbound QoS 2 state), §4.4 message delivery
//! retry on reconnect, takeover of a persistent session (§3.1.4), and the
//! `max_queued_messages` and `session_expiry` settings. Each test names the
//! normative statement(s) it checks. Every test runs its own broker.

use crate::support;

use std::time::Duration;

use mqlite::codec::{Ack, Packet};
use support::conformance::*;
use support::*;

#[test]
fn first_persistent_connect_has_session_present_0() {
    // [MQTT-3.2.2-3] no stored session: session present 0.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    assert!(!c.connect("fresh", false, 60));
}

#[test]
fn offline_qos1_messages_are_queued_and_delivered() {
    // [MQTT-3.1.2-4] the session resumes; [MQTT-3.1.2-5] QoS 1/2
    // messages for a disconnected persistent client are stored;
    // [MQTT-3.2.2-2] session present 1.
    let broker = TestBroker::start();
    let mut sub = broker.connect("persist", false, 60);
    sub.subscribe(&[("off/t", Q1)]);
    sub.disconnect();
    let mut publisher = broker.connect("pub", true, 60);
    for i in 0..3u8 {
        publisher.publish_acked("off/t", &[b'0' + i], Q1, false);
    }
    let mut sub = broker.socket();
    assert!(sub.connect("persist", false, 60), "session present");
    for i in 0..3u8 {
        let msg = sub.expect_message("off/t", &[b'0' + i]);
        assert_eq!((msg.qos, msg.dup), (Q1, false), "{msg:?}");
    }
    sub.expect_nothing();
    // The subscription survived: a live message arrives too.
    publisher.publish_acked("off/t", b"live", Q1, false);
    sub.expect_message("off/t", b"live");
}

#[test]
fn unacked_messages_resent_with_dup_in_order() {
    // [MQTT-4.4.0-1] unacknowledged PUBLISH re-sent with the original
    // packet ids; [MQTT-3.3.1-1] DUP 1 on re-delivery; [MQTT-4.6.0-1]
    // in the original order; then the messages queued while offline.
    let broker = TestBroker::start();
    let mut sub = broker.connect("resend", false, 60);
    sub.subscribe(&[("rs", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    for payload in [b"a", b"b", b"c"] {
        publisher.publish_acked("rs", payload, Q1, false);
    }
    let first: Vec<Msg> = (0..3).map(|_| sub.expect_publish()).collect();
    assert!(first.iter().all(|m| !m.dup));
    sub.close_abruptly();
    broker.wait_disconnected("resend");
    publisher.publish_acked("rs", b"d", Q1, false);

    let mut sub = broker.socket();
    assert!(sub.connect("resend", false, 60));
    for original in &first {
        let again = sub.expect_publish();
        assert_eq!(
            (
                &again.topic,
                &again.payload,
                again.packet_id,
                again.dup,
                again.qos
            ),
            (
                &original.topic,
                &original.payload,
                original.packet_id,
                true,
                Q1
            ),
            "re-sent {again:?} for {original:?}"
        );
        sub.ack(&again);
    }
    let queued = sub.expect_message("rs", b"d");
    assert!(!queued.dup);
    sub.expect_nothing();
    // Everything acknowledged: nothing comes back on the next resume.
    sub.disconnect();
    let mut sub = broker.socket();
    assert!(sub.connect("resend", false, 60));
    sub.expect_nothing();
}

#[test]
fn qos2_resume_resends_pubrel_and_unreceived_publish() {
    // [MQTT-4.4.0-1] PUBREL re-sent for a message whose PUBREC came
    // back; PUBLISH (DUP 1) for one that was not; and the first is not
    // delivered again [MQTT-4.3.3-1].
    let broker = TestBroker::start();
    let mut sub = broker.connect("q2s", false, 60);
    sub.subscribe(&[("q2s", Q2)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("q2s", b"one", Q2, false);
    publisher.publish_acked("q2s", b"two", Q2, false);
    let one = sub.expect_publish();
    let two = sub.expect_publish();
    let (id1, id2) = (one.packet_id.unwrap(), two.packet_id.unwrap());
    sub.send(&Packet::PubRec(Ack::new(id1)));
    assert_eq!(sub.expect_packet(), Pkt::PubRel(id1));
    sub.close_abruptly();
    broker.wait_disconnected("q2s");

    let mut sub = broker.socket();
    assert!(sub.connect("q2s", false, 60));
    let mut resent = vec![sub.expect_packet(), sub.expect_packet()];
    resent.sort_by_key(|p| matches!(p, Pkt::Publish(_)));
    assert_eq!(resent[0], Pkt::PubRel(id1));
    let Pkt::Publish(again) = &resent[1] else {
        panic!("{resent:?}")
    };
    assert_eq!(
        (&again.payload[..], again.packet_id, again.dup, again.qos),
        (&b"two"[..], Some(id2), true, Q2)
    );
    sub.send(&Packet::PubComp(Ack::new(id1)));
    sub.ack(again);
    sub.expect_nothing();
}

#[test]
fn inbound_qos2_state_survives_reconnect() {
    // [MQTT-4.3.3-2] the receiver's "PUBREC sent" state is part of the
    // session [MQTT-3.1.2-4]: a re-sent PUBLISH after reconnecting is
    // not delivered again.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("in2", Q2)]);
    let mut publisher = broker.connect("p2", false, 60);
    publisher.send_publish("in2", b"once", Q2, false, false, Some(9));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(9));
    sub.expect_message("in2", b"once");
    publisher.close_abruptly();
    broker.wait_disconnected("p2");

    let mut publisher = broker.socket();
    assert!(publisher.connect("p2", false, 60));
    publisher.send_publish("in2", b"once", Q2, false, true, Some(9));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(9));
    publisher.send(&Packet::PubRel(Ack::new(9)));
    assert_eq!(publisher.expect_packet(), Pkt::PubComp(9));
    sub.expect_nothing();
}

#[test]
fn persistent_takeover_keeps_the_session() {
    // [MQTT-3.1.4-2] takeover, then [MQTT-3.2.2-2] the new connection
    // resumes the session: present 1, unacknowledged messages re-sent.
    let broker = TestBroker::start();
    let mut old = broker.connect("roam", false, 60);
    old.subscribe(&[("roam", Q1)]);
    broker.handle.publish("roam", b"m", Q1, false).unwrap();
    let first = old.expect_publish();
    let mut new = broker.socket();
    assert!(
        new.connect("roam", false, 60),
        "session present after takeover"
    );
    old.expect_closed();
    let again = new.expect_publish();
    assert_eq!((again.packet_id, again.dup), (first.packet_id, true));
    new.ack(&again);
    broker.handle.publish("roam", b"n", Q1, false).unwrap();
    new.expect_message("roam", b"n");
    new.expect_nothing();
}

#[test]
fn clean_session_1_discards_the_old_session() {
    // [MQTT-3.1.2-6] clean session 1 discards the previous session and
    // its own ends with the connection; [MQTT-3.2.2-1] present 0.
    let broker = TestBroker::start();
    let mut sub = broker.connect("cs", false, 60);
    sub.subscribe(&[("cs/t", Q1)]);
    sub.disconnect();
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("cs/t", b"queued", Q1, false);

    let mut sub = broker.socket();
    assert!(!sub.connect("cs", true, 60), "clean session: present 0");
    sub.expect_nothing();
    publisher.publish_acked("cs/t", b"unsubscribed", Q1, false);
    sub.expect_nothing();
    sub.disconnect();

    let mut sub = broker.socket();
    assert!(
        !sub.connect("cs", false, 60),
        "the clean session was not kept"
    );
    publisher.publish_acked("cs/t", b"still nothing", Q1, false);
    sub.expect_nothing();
}

#[test]
fn offline_qos0_not_queued_for_clean_session() {
    // A clean session ends with its connection: nothing is held.
    let broker = TestBroker::start();
    let mut sub = broker.connect("gone", true, 60);
    sub.subscribe(&[("g", Q1)]);
    sub.disconnect();
    assert_eq!(broker.stats().sessions, 0);
    assert_eq!(broker.stats().subscriptions, 0);
}

#[test]
fn queue_limit_drops_newest() {
    // Config max_queued_messages: beyond it, new messages for an
    // offline client are dropped (and counted).
    let broker = TestBroker::start_with(|c| c.max_queued_messages = 3);
    let mut sub = broker.connect("lim", false, 60);
    sub.subscribe(&[("lim", Q1)]);
    sub.disconnect();
    let mut publisher = broker.connect("pub", true, 60);
    for i in 0..6u8 {
        publisher.publish_acked("lim", &[i], Q1, false);
    }
    assert!(broker.stats().messages_dropped >= 3, "{:?}", broker.stats());
    let mut sub = broker.socket();
    assert!(sub.connect("lim", false, 60));
    for i in 0..3u8 {
        sub.expect_message("lim", &[i]);
    }
    sub.expect_nothing();
}

#[test]
fn session_expiry_removes_a_disconnected_session() {
    // Config session_expiry: a persistent session unused for longer is
    // discarded.
    let broker = TestBroker::start_with(|c| c.session_expiry = Some(Duration::from_secs(1)));
    let mut sub = broker.connect("exp", false, 60);
    sub.subscribe(&[("exp", Q1)]);
    sub.disconnect();
    broker.stats_until("the session expired", |stats| stats.sessions == 0);
    let mut sub = broker.socket();
    assert!(!sub.connect("exp", false, 60));
}

#[test]
fn persistent_session_kept_without_expiry() {
    let broker = TestBroker::start();
    let mut sub = broker.connect("kept", false, 60);
    sub.subscribe(&[("k", Q1)]);
    sub.disconnect();
    assert_eq!(broker.stats().sessions, 1);
    let mut sub = broker.socket();
    assert!(sub.connect("kept", false, 60));
}
