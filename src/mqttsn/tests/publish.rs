//! PUBLISH both ways at every QoS, and retransmission.

use super::*;

#[test]
fn publishes_at_qos_0_1_and_2_reach_an_mqtt_subscriber() {
    let mut sim = Sim::new();
    let sub = sim.mqtt_connect("sub");
    sim.mqtt_subscribe(sub, "sn/#", QoS::ExactlyOnce);
    sim.sn_connect(1000, "dev1");
    let id = sim.sn_register(1000, "sn/temp");

    sim.send(
        1000,
        &Packet::Publish {
            flags: flags(SnQos::AtMostOnce, TopicIdType::Normal),
            topic_id: id,
            msg_id: 0,
            data: b"q0".to_vec(),
        },
    );
    assert!(sim.received(1000).is_empty());

    sim.send(
        1000,
        &Packet::Publish {
            flags: flags(SnQos::AtLeastOnce, TopicIdType::Normal),
            topic_id: id,
            msg_id: 5,
            data: b"q1".to_vec(),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::PubAck {
            topic_id: id,
            msg_id: 5,
            return_code: ReturnCode::Accepted
        }
    );

    sim.send(
        1000,
        &Packet::Publish {
            flags: flags(SnQos::ExactlyOnce, TopicIdType::Normal),
            topic_id: id,
            msg_id: 6,
            data: b"q2".to_vec(),
        },
    );
    assert_eq!(sim.one(1000), Packet::PubRec { msg_id: 6 });
    // A duplicate before PUBREL is not published twice.
    let mut dup = flags(SnQos::ExactlyOnce, TopicIdType::Normal);
    dup.dup = true;
    sim.send(
        1000,
        &Packet::Publish {
            flags: dup,
            topic_id: id,
            msg_id: 6,
            data: b"q2".to_vec(),
        },
    );
    assert_eq!(sim.one(1000), Packet::PubRec { msg_id: 6 });
    sim.send(1000, &Packet::PubRel { msg_id: 6 });
    assert_eq!(sim.one(1000), Packet::PubComp { msg_id: 6 });

    let got = sim.mqtt_take(sub);
    let payloads: Vec<&[u8]> = got.iter().map(|g| &g.payload[..]).collect();
    assert_eq!(payloads, [&b"q0"[..], b"q1", b"q2"]);
    assert!(got.iter().all(|g| g.topic == "sn/temp"));
}

#[test]
fn an_unknown_topic_id_is_answered_invalid_topic_id() {
    let mut sim = Sim::new();
    sim.sn_connect(1000, "dev1");
    sim.send(
        1000,
        &Packet::Publish {
            flags: flags(SnQos::AtLeastOnce, TopicIdType::Normal),
            topic_id: 42,
            msg_id: 1,
            data: b"x".to_vec(),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::PubAck {
            topic_id: 42,
            msg_id: 1,
            return_code: ReturnCode::InvalidTopicId
        }
    );
    sim.send(
        1000,
        &Packet::Publish {
            flags: flags(SnQos::AtMostOnce, TopicIdType::Predefined),
            topic_id: 8,
            msg_id: 0,
            data: b"x".to_vec(),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::PubAck {
            topic_id: 8,
            msg_id: 0,
            return_code: ReturnCode::InvalidTopicId
        }
    );
}

#[test]
fn predefined_and_short_topics_need_no_registration() {
    let mut sim = Sim::new();
    let sub = sim.mqtt_connect("sub");
    sim.mqtt_subscribe(sub, "#", QoS::AtMostOnce);
    sim.sn_connect(1000, "dev1");
    sim.send(
        1000,
        &Packet::Publish {
            flags: flags(SnQos::AtMostOnce, TopicIdType::Predefined),
            topic_id: 7,
            msg_id: 0,
            data: b"p".to_vec(),
        },
    );
    sim.send(
        1000,
        &Packet::Publish {
            flags: flags(SnQos::AtMostOnce, TopicIdType::Short),
            topic_id: u16::from_be_bytes(*b"ab"),
            msg_id: 0,
            data: b"s".to_vec(),
        },
    );
    let got = sim.mqtt_take(sub);
    let topics: Vec<&str> = got.iter().map(|g| g.topic.as_str()).collect();
    assert_eq!(topics, ["pre/defined", "ab"]);
}

#[test]
fn qos_minus_one_publishes_without_a_connection() {
    let mut sim = Sim::new();
    let sub = sim.mqtt_connect("sub");
    sim.mqtt_subscribe(sub, "#", QoS::AtMostOnce);
    let mut f = flags(SnQos::MinusOne, TopicIdType::Predefined);
    f.retain = true;
    sim.send(
        2000,
        &Packet::Publish {
            flags: f,
            topic_id: 7,
            msg_id: 0,
            data: b"hello".to_vec(),
        },
    );
    // A normal topic id means nothing without a connection: dropped.
    sim.send(
        2000,
        &Packet::Publish {
            flags: flags(SnQos::MinusOne, TopicIdType::Normal),
            topic_id: 1,
            msg_id: 0,
            data: b"lost".to_vec(),
        },
    );
    assert!(sim.received(2000).is_empty());
    let got = sim.mqtt_take(sub);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].topic, "pre/defined");
    assert_eq!(got[0].payload, b"hello");
    assert_eq!(sim.gateway.stats().connectionless_publishes, 1);
    assert_eq!(sim.gateway.stats().clients, 0);
    // The connection it was published on is gone again.
    assert!(sim.gateway.conns.is_empty());
    // Retained: a later subscriber gets it.
    let late = sim.mqtt_connect("late");
    let retained = sim.mqtt_subscribe(late, "pre/#", QoS::AtMostOnce);
    assert_eq!(retained.len(), 1, "{retained:?}");
    assert!(retained[0].retain);
}

#[test]
fn outbound_qos_1_is_sent_again_with_dup_then_the_client_is_lost() {
    let mut sim = Sim::new();
    let publisher = sim.mqtt_connect("pub");
    sim.sn_connect_with(1000, "dev1", true, 600);
    sim.send(
        1000,
        &Packet::Subscribe {
            flags: flags(SnQos::AtLeastOnce, TopicIdType::Predefined),
            msg_id: 2,
            topic: super::super::packet::SubscribeTopic::Predefined(7),
        },
    );
    assert!(matches!(
        sim.one(1000),
        Packet::SubAck {
            topic_id: 7,
            return_code: ReturnCode::Accepted,
            ..
        }
    ));
    sim.mqtt_publish(publisher, "pre/defined", b"m", QoS::AtLeastOnce, false);
    let Packet::Publish {
        flags: first,
        msg_id,
        ..
    } = sim.one(1000)
    else {
        panic!("expected PUBLISH");
    };
    assert!(!first.dup);
    assert_eq!(first.qos, SnQos::AtLeastOnce);
    assert_eq!(first.topic_id_type, TopicIdType::Predefined);
    // Tretry 2 s, Nretry 2.
    sim.advance(Duration::from_millis(1500));
    assert!(sim.received(1000).is_empty());
    sim.advance(Duration::from_millis(1000));
    match sim.one(1000) {
        Packet::Publish {
            flags, msg_id: m, ..
        } => {
            assert!(flags.dup);
            assert_eq!(m, msg_id);
        }
        other => panic!("{other:?}"),
    }
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.received(1000).len(), 1);
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.gateway.stats().lost, 1);
    assert_eq!(sim.gateway.stats().clients, 0);
}

#[test]
fn an_acknowledged_outbound_message_is_not_sent_again() {
    let mut sim = Sim::new();
    let publisher = sim.mqtt_connect("pub");
    sim.sn_connect(1000, "dev1");
    sim.send(
        1000,
        &Packet::Subscribe {
            flags: flags(SnQos::ExactlyOnce, TopicIdType::Short),
            msg_id: 2,
            topic: super::super::packet::SubscribeTopic::Short(*b"ab"),
        },
    );
    sim.received(1000);
    sim.mqtt_publish(publisher, "ab", b"m", QoS::ExactlyOnce, false);
    let Packet::Publish { msg_id, .. } = sim.one(1000) else {
        panic!("expected PUBLISH");
    };
    sim.send(1000, &Packet::PubRec { msg_id });
    assert_eq!(sim.one(1000), Packet::PubRel { msg_id });
    sim.send(1000, &Packet::PubComp { msg_id });
    sim.advance(Duration::from_secs(10));
    assert!(sim.received(1000).is_empty());
    assert_eq!(sim.gateway.stats().clients, 1);
}
