//! One test per `Config` limit on a client's messages that goes past it and
//! checks what the limit's documentation says happens: held back in order
//! (`max_inflight`), or dropped and counted (`max_queued_messages`,
//! `max_queued_bytes`, `max_pending_output`). The limits are set through
//! the `mqlite` binary's TOML file (which proves them configurable) and the
//! broker runs with `-v`; the drop counter comes from
//! `$SYS/broker/publish/messages/dropped`.
//!
//! The limits on connections and sessions are in `robust_limits.rs`.

use crate::support;

use std::time::{Duration, Instant};

use mqlite::codec::{Ack, Packet, QoS};
use support::robust::{broker, Mqlite};
use support::{Pkt, RawClient, Recv};

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;
const Q2: QoS = QoS::ExactlyOnce;

fn dropped(broker: &Mqlite) -> u64 {
    broker.sys_u64("publish/messages/dropped")
}

/// The 4-byte sequence number at the front of a payload.
fn seq(payload: &[u8]) -> u32 {
    u32::from_be_bytes(payload[..4].try_into().unwrap())
}

fn numbered(n: u32, size: usize) -> Vec<u8> {
    let mut payload = n.to_be_bytes().to_vec();
    payload.resize(size.max(4), 0x5a);
    payload
}

#[test]
fn max_inflight_holds_further_messages_in_order() {
    // Documented: "Most outbound QoS 1/2 messages awaiting acknowledgement
    // per client; more are queued in order."
    let mut broker = broker("max_inflight = 3");
    for qos in [Q1, Q2] {
        let topic = format!("inflight/{}", qos as u8);
        let mut sub = RawClient::open(broker.addr);
        sub.connect(&format!("mi-sub-{}", qos as u8), true, 60);
        sub.subscribe(&[(&topic, qos)]);
        let mut publisher = RawClient::open(broker.addr);
        publisher.connect(&format!("mi-pub-{}", qos as u8), true, 60);
        for i in 0..10u32 {
            publisher.publish_acked(&topic, &numbered(i, 4), qos, false);
        }
        let mut window: Vec<_> = (0..3).map(|_| sub.expect_publish()).collect();
        assert_eq!(
            window.iter().map(|m| seq(&m.payload)).collect::<Vec<_>>(),
            vec![0, 1, 2]
        );
        sub.expect_nothing();
        let mut next = 3;
        while !window.is_empty() {
            let oldest = window.remove(0);
            let id = oldest.packet_id.unwrap();
            if qos == Q1 {
                sub.send(&Packet::PubAck(Ack::new(id)));
            } else {
                // QoS 2 holds its slot until PUBCOMP.
                sub.send(&Packet::PubRec(Ack::new(id)));
                assert_eq!(sub.expect_packet(), Pkt::PubRel(id));
                sub.expect_nothing_for(Duration::from_millis(100));
                sub.send(&Packet::PubComp(Ack::new(id)));
            }
            if next < 10 {
                let msg = sub.expect_publish();
                assert_eq!(seq(&msg.payload), next, "in order");
                window.push(msg);
                next += 1;
            }
        }
        sub.expect_nothing();
        sub.disconnect();
        publisher.disconnect();
    }
    broker.assert_serves();
}

#[test]
fn max_queued_messages_drops_and_counts_the_newest() {
    // Documented: "Most QoS 1/2 messages queued per client beyond the
    // in-flight window, online or offline. When full, new messages for
    // that client are dropped (and counted)."
    let mut broker = broker("max_inflight = 2\nmax_queued_messages = 5");
    // Online, not acknowledging: 2 in flight + 5 queued, 13 dropped.
    let mut stuck = RawClient::open(broker.addr);
    stuck.connect("mq-online", true, 60);
    stuck.subscribe(&[("mq/online", Q1)]);
    let mut publisher = RawClient::open(broker.addr);
    publisher.connect("mq-pub", true, 60);
    let before = dropped(&broker);
    for i in 0..20u32 {
        publisher.publish_acked("mq/online", &numbered(i, 4), Q1, false);
    }
    assert_eq!(dropped(&broker) - before, 13);
    let mut got = Vec::new();
    loop {
        match stuck.recv(Duration::from_millis(500)) {
            Recv::Packet(Pkt::Publish(msg)) => {
                got.push(seq(&msg.payload));
                stuck.ack(&msg);
            }
            Recv::Timeout => break,
            other => panic!("{other:?}"),
        }
    }
    assert_eq!(
        got,
        (0..7).collect::<Vec<_>>(),
        "the oldest 7 kept, in order"
    );

    // Offline: nothing is in flight, 5 queued, 3 dropped.
    let mut offline = RawClient::open(broker.addr);
    offline.connect("mq-offline", false, 60);
    offline.subscribe(&[("mq/offline", Q1)]);
    offline.disconnect();
    let before = dropped(&broker);
    for i in 0..8u32 {
        publisher.publish_acked("mq/offline", &numbered(i, 4), Q1, false);
    }
    assert_eq!(dropped(&broker) - before, 3);
    let mut back = RawClient::open(broker.addr);
    assert!(back.connect("mq-offline", false, 60));
    for i in 0..5u32 {
        let msg = back.expect_publish();
        assert_eq!(seq(&msg.payload), i);
        back.ack(&msg);
    }
    back.expect_nothing();
    back.disconnect();
    broker.assert_serves();
}

#[test]
fn max_queued_bytes_drops_and_counts_past_the_byte_limit() {
    // Documented: "Most payload+topic bytes queued per client, same policy
    // as max_queued_messages."
    let mut broker = broker("max_queued_bytes = 1000");
    let mut offline = RawClient::open(broker.addr);
    offline.connect("qb-offline", false, 60);
    offline.subscribe(&[("qb", Q1)]);
    offline.disconnect();
    let mut publisher = RawClient::open(broker.addr);
    publisher.connect("qb-pub", true, 60);
    let before = dropped(&broker);
    // 2 topic bytes + 98 payload bytes = 100 bytes each: 10 fit.
    for i in 0..15u32 {
        publisher.publish_acked("qb", &numbered(i, 98), Q1, false);
    }
    assert_eq!(dropped(&broker) - before, 5);
    let mut back = RawClient::open(broker.addr);
    assert!(back.connect("qb-offline", false, 60));
    for i in 0..10u32 {
        let msg = back.expect_publish();
        assert_eq!(seq(&msg.payload), i);
        back.ack(&msg);
    }
    back.expect_nothing();
    back.disconnect();

    // One message larger than the whole limit is dropped even into an
    // empty queue.
    let before = dropped(&broker);
    publisher.publish_acked("qb", &numbered(99, 2000), Q1, false);
    assert_eq!(dropped(&broker) - before, 1);
    let mut back = RawClient::open(broker.addr);
    assert!(back.connect("qb-offline", false, 60));
    back.expect_nothing();
    back.disconnect();
    broker.assert_serves();
}

#[test]
fn max_pending_output_drops_qos0_and_queues_qos1_of_a_stuck_reader() {
    // Documented: "Bytes of unwritten output a connection may hold before
    // its QoS 0 messages are dropped and its QoS 1/2 messages wait in its
    // queue, so a subscriber that stops reading costs bounded memory."
    let mut broker = broker("max_pending_output = 65536\nmax_inflight = 1000");
    let mut stuck = RawClient::open(broker.addr);
    stuck.connect("po-stuck", true, 0);
    stuck.subscribe(&[("po/0", Q0), ("po/1", Q1)]);
    let mut publisher = RawClient::open(broker.addr);
    publisher.connect("po-pub", true, 0);
    let rss_before = broker.rss_kib();
    let before = dropped(&broker);

    // 32 MB of QoS 0 to a client that does not read: far more than the
    // kernel's socket buffers and the 64 KiB of pending output.
    let chunk = 32 * 1024;
    for i in 0..1000u32 {
        publisher.publish("po/0", &numbered(i, chunk), Q0, false);
    }
    publisher.ping();
    let dropped_qos0 = dropped(&broker) - before;
    let rss_after = broker.rss_kib();
    assert!(dropped_qos0 > 500, "only {dropped_qos0} of 1000 dropped");
    assert!(
        rss_after < rss_before + 16 * 1024,
        "RSS grew from {rss_before} to {rss_after} KiB for a stuck reader"
    );

    // QoS 1 waits instead: nothing more is dropped.
    let before = dropped(&broker);
    for i in 0..100u32 {
        publisher.publish_acked("po/1", &numbered(i, chunk), Q1, false);
    }
    assert_eq!(dropped(&broker), before, "QoS 1 was dropped");

    // Reading again: some QoS 0 (in order), then every QoS 1 in order.
    let mut last0 = None;
    let mut qos0 = 0;
    let mut next1 = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    while next1 < 100 {
        assert!(Instant::now() < deadline, "QoS 1 {next1}/100 after 30 s");
        let msg = stuck.expect_publish();
        let n = seq(&msg.payload);
        if msg.topic == "po/0" {
            assert!(last0.is_none_or(|l| n > l), "QoS 0 {n} after {last0:?}");
            last0 = Some(n);
            qos0 += 1;
        } else {
            assert_eq!(n, next1, "QoS 1 in order");
            next1 += 1;
        }
        stuck.ack(&msg);
    }
    stuck.expect_nothing();
    assert_eq!(qos0 + dropped_qos0, 1000, "QoS 0: delivered + dropped");
    broker.assert_serves();
}
