//! In-flight state across a restart, end to end: messages sent but not
//! acknowledged come back with DUP and their packet ids (a QoS 2 message at
//! the PUBREL stage gets PUBREL again), ahead of the queued ones; an
//! inbound QoS 2 PUBLISH awaiting PUBREL across the restart is not
//! delivered twice when the publisher resends it.
//!
//! Each scenario runs twice, as in `persistence_restart.rs`: `*_api` (the
//! in-process `Broker`, stopped cleanly) and `*_binary` (the `mqlite`
//! binary, SIGKILLed). Raw sockets (`support::RawClient`), since
//! packet ids, DUP flags and a client that does not acknowledge matter.
//! Every wait is bounded.

use crate::support;

use mqlite::codec::{Ack, Packet, QoS};
use support::persistence::{Mode, Server};
use support::RawClient;
use support::{Pkt, TempDir};

/// Messages sent but not acknowledged before the broker went down come back
/// with DUP=1 and the same packet ids, in their original order (a retained
/// one brought by SUBSCRIBE keeps RETAIN=1); a QoS 2 message at the PUBREL stage
/// gets PUBREL again (not the PUBLISH); messages queued behind them follow,
/// in order, without DUP. Once acknowledged after the restart they are gone
/// for good (one more restart resends nothing).
fn inflight_resent_after_restart(mode: Mode) {
    let dir = TempDir::new("inflight");
    let server = Server::start(mode, &dir);
    let addr = server.addr();

    let (mut publisher, _) = RawClient::connect_to(addr, "inflight-pub", true, 60);
    publisher.publish_acked_id("inf/ret", b"retained", QoS::AtLeastOnce, true, 9);
    let (mut sub, present) = RawClient::connect_to(addr, "inflight-sub", false, 60);
    assert!(!present);
    assert_eq!(
        sub.subscribe_id(
            1,
            &[
                ("inf/ret", QoS::AtLeastOnce),
                ("inf/rel", QoS::ExactlyOnce),
                ("inf/q1", QoS::AtLeastOnce),
                ("inf/q2", QoS::ExactlyOnce),
            ]
        ),
        vec![1, 2, 1, 2]
    );
    // The retained message the subscription brings, never acknowledged.
    let ret = sub.expect_publish();
    assert_eq!(
        (ret.text().as_str(), ret.qos, ret.retain, ret.dup),
        ("retained", QoS::AtLeastOnce, true, false)
    );
    let ret_id = ret.packet_id.unwrap();

    // QoS 2 to the PUBREL stage: PUBREC sent, PUBREL received (so the
    // PUBREC is saved), no PUBCOMP.
    publisher.publish_acked_id("inf/rel", b"released", QoS::ExactlyOnce, false, 1);
    let rel_id = expect_first_send(&mut sub, "released", QoS::ExactlyOnce);
    sub.send(&Packet::PubRec(Ack::new(rel_id)));
    assert_eq!(sub.expect_packet(), Pkt::PubRel(rel_id));

    // QoS 1 and QoS 2 received and never acknowledged.
    publisher.publish_acked_id("inf/q1", b"unacked-1", QoS::AtLeastOnce, false, 2);
    publisher.publish_acked_id("inf/q2", b"unacked-2", QoS::ExactlyOnce, false, 3);
    let one_id = expect_first_send(&mut sub, "unacked-1", QoS::AtLeastOnce);
    let two_id = expect_first_send(&mut sub, "unacked-2", QoS::ExactlyOnce);

    // Offline, two more are queued behind the in-flight ones.
    sub.disconnect();
    publisher.publish_acked_id("inf/q2", b"queued-3", QoS::ExactlyOnce, false, 4);
    publisher.publish_acked_id("inf/q1", b"queued-4", QoS::AtLeastOnce, false, 5);

    let server = server.restart();
    let addr = server.addr();
    drop(publisher);

    let (mut sub, present) = RawClient::connect_to(addr, "inflight-sub", false, 60);
    assert!(present, "the persistent session is back after the restart");
    assert_eq!(
        sub.expect_publish(),
        support::Msg {
            topic: "inf/ret".into(),
            payload: b"retained".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: true,
            dup: true,
            packet_id: Some(ret_id),
        },
        "unacknowledged retained message resent with DUP, RETAIN and its packet id"
    );
    assert_eq!(
        sub.expect_packet(),
        Pkt::PubRel(rel_id),
        "the QoS 2 message at the PUBREL stage gets PUBREL again"
    );
    let again = sub.expect_publish();
    assert_eq!(
        again,
        support::Msg {
            topic: "inf/q1".into(),
            payload: b"unacked-1".to_vec(),
            qos: QoS::AtLeastOnce,
            retain: false,
            dup: true,
            packet_id: Some(one_id),
        },
        "unacknowledged QoS 1 message resent with DUP and its packet id"
    );
    let again = sub.expect_publish();
    assert_eq!(
        again,
        support::Msg {
            topic: "inf/q2".into(),
            payload: b"unacked-2".to_vec(),
            qos: QoS::ExactlyOnce,
            retain: false,
            dup: true,
            packet_id: Some(two_id),
        },
        "unacknowledged QoS 2 message resent with DUP and its packet id"
    );
    // Then the queued ones, in order, sent for the first time.
    let three_id = expect_first_send(&mut sub, "queued-3", QoS::ExactlyOnce);
    let four_id = expect_first_send(&mut sub, "queued-4", QoS::AtLeastOnce);
    let mut ids = vec![ret_id, rel_id, one_id, two_id, three_id, four_id];
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), 6, "packet ids in use are not reused");
    sub.send(&Packet::PubAck(Ack::new(ret_id)));
    sub.send(&Packet::PubComp(Ack::new(rel_id)));
    sub.send(&Packet::PubAck(Ack::new(one_id)));
    sub.send(&Packet::PubRec(Ack::new(two_id)));
    assert_eq!(sub.expect_packet(), Pkt::PubRel(two_id));
    sub.send(&Packet::PubComp(Ack::new(two_id)));
    sub.send(&Packet::PubRec(Ack::new(three_id)));
    assert_eq!(sub.expect_packet(), Pkt::PubRel(three_id));
    sub.send(&Packet::PubComp(Ack::new(three_id)));
    sub.send(&Packet::PubAck(Ack::new(four_id)));
    sub.ping();
    sub.expect_nothing();

    // Acknowledged after the restart: nothing comes back after another.
    let server = server.restart();
    drop(sub);
    let (mut sub, present) = RawClient::connect_to(server.addr(), "inflight-sub", false, 60);
    assert!(present);
    sub.expect_nothing();
    sub.disconnect();
    server.finish();
}

#[test]
fn inflight_resent_with_dup_and_pubrel_after_restart_api() {
    inflight_resent_after_restart(Mode::ApiCleanStop);
}

#[test]
fn inflight_resent_with_dup_and_pubrel_after_restart_binary() {
    inflight_resent_after_restart(Mode::BinarySigkill);
}

/// An inbound QoS 2 PUBLISH acknowledged with PUBREC whose PUBREL had not
/// arrived when the broker went down: the publisher resends it (DUP, same
/// packet id) after the restart, then PUBREL; the subscriber gets it
/// exactly once.
fn inbound_qos2_resent_after_restart_delivered_once(mode: Mode) {
    let dir = TempDir::new("inbound");
    let server = Server::start(mode, &dir);
    let addr = server.addr();

    let (mut sub, _) = RawClient::connect_to(addr, "inbound-sub", false, 60);
    assert_eq!(sub.subscribe_id(1, &[("in/q2", QoS::ExactlyOnce)]), vec![2]);
    let (mut publisher, present) = RawClient::connect_to(addr, "inbound-pub", false, 60);
    assert!(!present);
    publisher.send_publish(
        "in/q2",
        b"exactly-once",
        QoS::ExactlyOnce,
        false,
        false,
        Some(7),
    );
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
    // The subscriber gets it (and completes its own flow) before the crash.
    let got = sub.receive_and_ack(1);
    assert_eq!(got[0].text(), "exactly-once");
    sub.ping();

    let server = server.restart();
    let addr = server.addr();
    drop(sub);
    drop(publisher);

    let (mut sub, present) = RawClient::connect_to(addr, "inbound-sub", false, 60);
    assert!(present);
    let (mut publisher, present) = RawClient::connect_to(addr, "inbound-pub", false, 60);
    assert!(present, "the publisher's persistent session is back");
    publisher.send_publish(
        "in/q2",
        b"exactly-once",
        QoS::ExactlyOnce,
        false,
        true,
        Some(7),
    );
    assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
    publisher.send(&Packet::PubRel(Ack::new(7)));
    assert_eq!(publisher.expect_packet(), Pkt::PubComp(7));
    // A marker after it: had the resend been routed, it would arrive first.
    publisher.publish_acked_id("in/q2", b"marker", QoS::ExactlyOnce, false, 8);
    let got = sub.receive_and_ack(1);
    assert_eq!(
        got[0].text(),
        "marker",
        "the resent QoS 2 PUBLISH (packet id 7, awaiting PUBREL across the restart) was \
         delivered a second time"
    );
    sub.expect_nothing();
    publisher.disconnect();
    sub.disconnect();
    server.finish();
}

#[test]
fn inbound_qos2_resent_after_restart_delivered_once_api() {
    inbound_qos2_resent_after_restart_delivered_once(Mode::ApiCleanStop);
}

#[test]
fn inbound_qos2_resent_after_restart_delivered_once_binary() {
    inbound_qos2_resent_after_restart_delivered_once(Mode::BinarySigkill);
}

/// The next PUBLISH `sub` receives, checked to carry `text` at `qos` and to
/// be a first send (no DUP); returns its packet id.
fn expect_first_send(sub: &mut RawClient, text: &str, qos: QoS) -> u16 {
    let publish = sub.expect_publish();
    assert_eq!(
        (publish.text().as_str(), publish.qos, publish.dup),
        (text, qos, false)
    );
    publish.packet_id.unwrap()
}
