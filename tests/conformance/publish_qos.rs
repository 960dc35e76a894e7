//! MQTT 3.1.1 conformance, over raw sockets: PUBLISH and its QoS flows
//! (mosquitto's `test/broker` group 03).
//!
//! §3.3 PUBLISH (DUP and RETAIN flags on delivery, payloads), §3.4-3.7
//! PUBACK / PUBREC / PUBREL / PUBCOMP, §4.3 QoS 1 and 2 delivery protocols,
//! §2.3.1 packet identifiers, §4.6 message ordering, and the flow-control
//! settings (`max_inflight`, `max_pending_output`) with slow subscribers.
//! Each test names the normative statement(s) it checks. Every test runs
//! its own broker.

use crate::support;

use std::time::Duration;

use mqlite::codec::{Ack, Packet};
use support::conformance::*;
use support::*;

#[test]
fn qos1_end_to_end() {
    // [MQTT-4.3.2-1] the sender's PUBLISH carries a fresh non-zero id
    // and DUP 0; [MQTT-4.3.2-2] PUBACK carries the PUBLISH's id.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("q1", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.send_publish("q1", b"one", Q1, false, false, Some(0x1234));
    assert_eq!(publisher.expect_packet(), Pkt::PubAck(0x1234));
    let msg = sub.expect_publish();
    assert_eq!((msg.qos, msg.dup, msg.retain), (Q1, false, false));
    let id = msg.packet_id.expect("QoS 1 has a packet id");
    assert_ne!(id, 0);
    sub.send(&Packet::PubAck(Ack::new(id)));
    sub.expect_nothing();
}

#[test]
fn qos2_end_to_end() {
    // [MQTT-4.3.3-2] receiver: PUBREC, then PUBCOMP for the PUBREL;
    // [MQTT-4.3.3-1] sender: PUBREL after PUBREC, with the same id.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("q2", Q2)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.send_publish("q2", b"two", Q2, false, false, Some(77));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(77));
    let msg = sub.expect_publish();
    assert_eq!(
        (msg.qos, msg.dup, &msg.payload[..]),
        (Q2, false, &b"two"[..])
    );
    let id = msg.packet_id.unwrap();
    sub.send(&Packet::PubRec(Ack::new(id)));
    assert_eq!(sub.expect_packet(), Pkt::PubRel(id));
    publisher.send(&Packet::PubRel(Ack::new(77)));
    assert_eq!(publisher.expect_packet(), Pkt::PubComp(77));
    sub.send(&Packet::PubComp(Ack::new(id)));
    sub.expect_nothing();
    publisher.expect_nothing();
}

#[test]
fn qos2_duplicate_publish_before_pubrel_delivered_once() {
    // [MQTT-4.3.3-2] until PUBREL, a PUBLISH with the same id is not a
    // new publication; after PUBREL the id may be reused for a new one.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("dup", Q2)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.send_publish("dup", b"m", Q2, false, false, Some(7));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
    publisher.send_publish("dup", b"m", Q2, false, true, Some(7));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
    publisher.send_publish("dup", b"m", Q2, false, true, Some(7));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
    sub.expect_message("dup", b"m");
    sub.expect_nothing();
    publisher.send(&Packet::PubRel(Ack::new(7)));
    assert_eq!(publisher.expect_packet(), Pkt::PubComp(7));
    // Id 7 released: this is a new message.
    publisher.publish_acked("dup", b"next", Q2, false);
    publisher.send_publish("dup", b"again", Q2, false, false, Some(7));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
    publisher.send(&Packet::PubRel(Ack::new(7)));
    assert_eq!(publisher.expect_packet(), Pkt::PubComp(7));
    sub.expect_message("dup", b"next");
    sub.expect_message("dup", b"again");
    sub.expect_nothing();
}

#[test]
fn qos1_duplicate_publish_is_acknowledged_each_time() {
    // [MQTT-4.3.2-2] every QoS 1 PUBLISH gets a PUBACK (QoS 1 may
    // deliver more than once, so no count is asserted beyond one).
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("d1", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.send_publish("d1", b"m", Q1, false, false, Some(3));
    assert_eq!(publisher.expect_packet(), Pkt::PubAck(3));
    publisher.send_publish("d1", b"m", Q1, false, true, Some(3));
    assert_eq!(publisher.expect_packet(), Pkt::PubAck(3));
    sub.expect_message("d1", b"m");
}

#[test]
fn incoming_dup_flag_is_not_propagated() {
    // [MQTT-3.3.1-3] the DUP flag of an incoming PUBLISH is not
    // propagated: a first delivery has DUP 0.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("dupflag", Q2)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.send_publish("dupflag", b"1", Q1, false, true, Some(1));
    assert_eq!(publisher.expect_packet(), Pkt::PubAck(1));
    publisher.send_publish("dupflag", b"2", Q2, false, true, Some(2));
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(2));
    publisher.send(&Packet::PubRel(Ack::new(2)));
    assert_eq!(publisher.expect_packet(), Pkt::PubComp(2));
    assert!(!sub.expect_message("dupflag", b"1").dup);
    assert!(!sub.expect_message("dupflag", b"2").dup);
}

#[test]
fn pubrel_for_unknown_id_gets_pubcomp() {
    // [MQTT-4.3.3-2] PUBCOMP answers PUBREL even for an id the server
    // no longer holds (e.g. after a lost PUBCOMP).
    let broker = TestBroker::start();
    let mut c = broker.connect("c", true, 60);
    c.send(&Packet::PubRel(Ack::new(999)));
    assert_eq!(c.expect_packet(), Pkt::PubComp(999));
}

#[test]
fn messages_keep_their_order() {
    // [MQTT-4.6.0-5] the server forwards messages on a topic in the
    // order it received them.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("ord", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    for i in 0..30u32 {
        publisher.publish_acked("ord", i.to_string().as_bytes(), Q1, false);
    }
    for i in 0..30u32 {
        sub.expect_message("ord", i.to_string().as_bytes());
    }
    sub.expect_nothing();
}

#[test]
fn outbound_packet_ids_are_unique_while_in_flight() {
    // [MQTT-2.3.1-2] a new QoS 1/2 PUBLISH uses an unused id.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("ids", Q2)]);
    let mut publisher = broker.connect("pub", true, 60);
    for i in 0..10u8 {
        publisher.publish_acked("ids", &[i], if i % 2 == 0 { Q1 } else { Q2 }, false);
    }
    let mut ids: Vec<u16> = (0..10)
        .map(|_| sub.expect_publish().packet_id.unwrap())
        .collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 10, "{ids:?}");
    assert!(!ids.contains(&0));
}

#[test]
fn max_inflight_limits_unacknowledged_messages() {
    // Config max_inflight: at most N unacknowledged, the rest follow as
    // acknowledgements come back, in order.
    let broker = TestBroker::start_with(|c| c.max_inflight = 2);
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("w", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    for i in 0..5u8 {
        publisher.publish_acked("w", &[i], Q1, false);
    }
    let first = sub.expect_publish();
    let second = sub.expect_publish();
    assert_eq!(
        (first.payload.clone(), second.payload.clone()),
        (vec![0], vec![1])
    );
    sub.expect_nothing();
    sub.ack(&first);
    let third = sub.expect_publish();
    assert_eq!(third.payload, vec![2]);
    sub.expect_nothing();
    sub.ack(&second);
    sub.ack(&third);
    sub.expect_message("w", &[3]);
    sub.expect_message("w", &[4]);
    sub.expect_nothing();
}

#[test]
fn slow_qos1_subscriber_loses_nothing_and_slows_no_one() {
    // Config max_pending_output: a subscriber that stops reading gets
    // its QoS 1 messages queued (not lost, still in order) while the
    // others keep receiving.
    let broker = TestBroker::start_with(|c| c.max_inflight = 500);
    let mut slow = broker.connect("slow", true, 60);
    slow.subscribe(&[("flood", Q1)]);
    let mut fast = broker.connect("fast", true, 60);
    fast.subscribe(&[("flood", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    let count = 200u32;
    let chunk = vec![0xabu8; 64 * 1024];
    for i in 0..count {
        let mut payload = i.to_be_bytes().to_vec();
        payload.extend_from_slice(&chunk);
        publisher.publish_acked("flood", &payload, Q1, false);
        let msg = fast.expect_publish();
        assert_eq!(&msg.payload[..4], &i.to_be_bytes(), "fast subscriber");
        fast.ack(&msg);
    }
    for i in 0..count {
        let msg = slow.expect_publish();
        assert_eq!(&msg.payload[..4], &i.to_be_bytes(), "slow subscriber");
        assert!(!msg.dup);
        slow.ack(&msg);
    }
    slow.expect_nothing();
}

#[test]
fn slow_qos0_subscriber_drops_and_slows_no_one() {
    // QoS 0 to a subscriber that stops reading is dropped past
    // max_pending_output (counted); what arrives is in order.
    let broker = TestBroker::start();
    let mut slow = broker.connect("slow", true, 60);
    slow.subscribe(&[("flood", Q0)]);
    let mut fast = broker.connect("fast", true, 60);
    fast.subscribe(&[("flood", Q0)]);
    let mut publisher = broker.connect("pub", true, 60);
    let count = 400u32;
    let chunk = vec![0xcdu8; 64 * 1024];
    for i in 0..count {
        let mut payload = i.to_be_bytes().to_vec();
        payload.extend_from_slice(&chunk);
        publisher.publish("flood", &payload, Q0, false);
        let msg = fast.expect_publish();
        assert_eq!(&msg.payload[..4], &i.to_be_bytes(), "fast subscriber");
    }
    publisher.ping();
    assert!(broker.stats().messages_dropped > 0, "{:?}", broker.stats());
    let mut last = None;
    let mut received = 0;
    while let Recv::Packet(pkt) = slow.recv(Duration::from_millis(500)) {
        let Pkt::Publish(msg) = pkt else {
            panic!("{pkt:?}")
        };
        let n = u32::from_be_bytes(msg.payload[..4].try_into().unwrap());
        assert!(last.is_none_or(|l| n > l), "{n} after {last:?}");
        last = Some(n);
        received += 1;
    }
    assert!(received < count, "nothing was dropped");
    slow.ping();
}

#[test]
fn retain_flag_is_0_for_existing_subscriptions() {
    // [MQTT-3.3.1-9] a retained publication forwarded to a current
    // subscriber has retain 0.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("live", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("live", b"r", Q1, true);
    let msg = sub.expect_message("live", b"r");
    assert!(!msg.retain, "{msg:?}");
}

#[test]
fn zero_length_payload_is_delivered() {
    // A PUBLISH may have an empty payload (§3.3.3).
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("empty", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    publisher.publish_acked("empty", b"", Q1, false);
    sub.expect_message("empty", b"");
}

#[test]
fn large_payload_is_delivered_intact() {
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("big", Q1)]);
    let mut publisher = broker.connect("pub", true, 60);
    let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    publisher.publish_acked("big", &payload, Q1, false);
    sub.expect_message("big", &payload);
}
