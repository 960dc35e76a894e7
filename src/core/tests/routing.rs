//! Routing: subscriptions, matching, QoS downgrade, unsubscribe, retained
//! messages.

use super::*;
use crate::codec::Unsubscribe;

#[test]
fn qos0_pub_sub_and_downgrade() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    let got = sim.subscribe(sub, "a/+", QoS::AtLeastOnce);
    assert_eq!(
        got,
        vec![Got::SubAck(1, vec![ReasonCode::granted(QoS::AtLeastOnce)])]
    );
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "a/b", b"zero", QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "a/b", b"two", QoS::ExactlyOnce, false, 7);
    assert_eq!(sim.recv(publisher), vec![Got::PubRec(7)]);
    let got = sim.recv(sub);
    assert_eq!(got.len(), 2);
    assert!(
        matches!(&got[0], Got::Publish { qos: QoS::AtMostOnce, payload, .. } if payload == b"zero")
    );
    assert!(
        matches!(&got[1], Got::Publish { qos: QoS::AtLeastOnce, payload, .. } if payload == b"two")
    );
}

#[test]
fn overlapping_subscriptions_deliver_one_copy_at_highest_qos() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "a/#", QoS::AtMostOnce);
    sim.subscribe(sub, "a/+", QoS::ExactlyOnce);
    sim.subscribe(sub, "a/b", QoS::AtLeastOnce);
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "a/b", b"x", QoS::ExactlyOnce, false, 1);
    let got = sim.publishes(sub);
    assert_eq!(got, vec![publish_got("a/b", b"x", QoS::ExactlyOnce, false)]);
}

#[test]
fn invalid_filter_gets_0x80_and_wildcard_publish_closes() {
    let mut sim = Sim::new();
    let id = sim.connect("c", true);
    sim.send(
        id,
        Packet::Subscribe(Subscribe {
            packet_id: 3,
            filters: vec![
                ("a/#/b", QoS::AtMostOnce.into()),
                ("ok", QoS::ExactlyOnce.into()),
                ("", QoS::AtMostOnce.into()),
            ],
            properties: crate::codec::Properties::EMPTY,
        }),
    );
    assert_eq!(
        sim.recv(id),
        vec![Got::SubAck(
            3,
            vec![
                ReasonCode::UNSPECIFIED_ERROR,
                ReasonCode::granted(QoS::ExactlyOnce),
                ReasonCode::UNSPECIFIED_ERROR
            ]
        )]
    );
    sim.publish(id, "a/+", b"", QoS::AtMostOnce, false, 0);
    assert!(!sim.is_open(id));
}

#[test]
fn dollar_topics_are_not_matched_by_leading_wildcards() {
    let mut sim = Sim::new();
    let all = sim.connect("all", true);
    sim.subscribe(all, "#", QoS::AtMostOnce);
    let sys = sim.connect("sys", true);
    sim.subscribe(sys, "$SYS/#", QoS::AtMostOnce);
    sim.core
        .handle_host_publish(sim.now, "$SYS/x", b"1", QoS::AtMostOnce, false)
        .unwrap();
    assert!(sim.publishes(all).is_empty());
    assert_eq!(sim.publishes(sys).len(), 1);
}

#[test]
fn unsubscribe_stops_delivery() {
    let mut sim = Sim::new();
    let id = sim.connect("c", true);
    sim.subscribe(id, "t", QoS::AtMostOnce);
    sim.send(
        id,
        Packet::Unsubscribe(Unsubscribe {
            packet_id: 9,
            filters: vec!["t", "never-subscribed"],
            properties: crate::codec::Properties::EMPTY,
        }),
    );
    assert_eq!(sim.recv(id), vec![Got::UnsubAck(9)]);
    sim.core
        .handle_host_publish(sim.now, "t", b"x", QoS::AtMostOnce, false)
        .unwrap();
    assert!(sim.recv(id).is_empty());
    assert_eq!(sim.core.stats().subscriptions, 0);
}

#[test]
fn retained_messages() {
    let mut sim = Sim::new();
    let early = sim.connect("early", true);
    sim.subscribe(early, "r/#", QoS::ExactlyOnce);
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "r/1", b"one", QoS::AtMostOnce, true, 0);
    sim.publish(publisher, "r/2", b"two", QoS::AtLeastOnce, true, 5);
    sim.publish(publisher, "r/2", b"two-b", QoS::AtLeastOnce, true, 6);
    // Existing subscribers get retain = 0.
    assert!(sim.publishes(early).iter().all(|p| !p.3));
    let late = sim.connect("late", true);
    let got = sim.subscribe(late, "r/+", QoS::ExactlyOnce);
    assert!(matches!(got[0], Got::SubAck(..)));
    let mut retained: Vec<_> = got[1..]
        .iter()
        .map(|g| match g {
            Got::Publish {
                topic,
                payload,
                qos,
                retain,
                ..
            } => (topic.clone(), payload.clone(), *qos, *retain),
            _ => panic!("{g:?}"),
        })
        .collect();
    retained.sort();
    assert_eq!(
        retained,
        vec![
            publish_got("r/1", b"one", QoS::AtMostOnce, true),
            publish_got("r/2", b"two-b", QoS::AtLeastOnce, true),
        ]
    );
    // An empty retained payload removes the topic.
    sim.publish(publisher, "r/1", b"", QoS::AtMostOnce, true, 0);
    let again = sim.connect("again", true);
    let got = sim.subscribe(again, "r/1", QoS::AtMostOnce);
    assert_eq!(got.len(), 1);
    assert_eq!(sim.core.stats().retained_messages, 1);
}
