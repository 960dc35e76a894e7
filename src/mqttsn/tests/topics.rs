//! Topic ids: registration both ways, its bound, subscriptions.

use super::super::packet::SubscribeTopic;
use super::*;

#[test]
fn registrations_beyond_the_bound_are_refused_with_congestion() {
    let mut sim = Sim::with(MqttSnGateway {
        max_registered_topics: 2,
        ..settings()
    });
    sim.sn_connect(1000, "dev1");
    let a = sim.sn_register(1000, "a");
    assert_eq!(sim.sn_register(1000, "a"), a);
    sim.sn_register(1000, "b");
    sim.send(
        1000,
        &Packet::Register {
            topic_id: 0,
            msg_id: 4,
            topic_name: b"c".to_vec(),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::RegAck {
            topic_id: 0,
            msg_id: 4,
            return_code: ReturnCode::Congestion
        }
    );
    // A wildcard is no topic name.
    sim.send(
        1000,
        &Packet::Register {
            topic_id: 0,
            msg_id: 5,
            topic_name: b"a/#".to_vec(),
        },
    );
    assert!(matches!(
        sim.one(1000),
        Packet::RegAck {
            return_code: ReturnCode::NotSupported,
            ..
        }
    ));
}

#[test]
fn a_wildcard_subscription_registers_each_topic_before_its_first_publish() {
    let mut sim = Sim::new();
    let publisher = sim.mqtt_connect("pub");
    sim.mqtt_publish(publisher, "room/1/temp", b"21", QoS::AtMostOnce, true);
    sim.sn_connect(1000, "dev1");
    sim.send(
        1000,
        &Packet::Subscribe {
            flags: flags(SnQos::AtLeastOnce, TopicIdType::Normal),
            msg_id: 9,
            topic: SubscribeTopic::Name(b"room/+/temp".to_vec()),
        },
    );
    let got = sim.received(1000);
    assert!(
        matches!(
            got.first(),
            Some(Packet::SubAck {
                topic_id: 0,
                msg_id: 9,
                return_code: ReturnCode::Accepted,
                ..
            })
        ),
        "{got:?}"
    );
    // The retained message waits for its topic's REGACK.
    let Some(Packet::Register {
        topic_id,
        msg_id,
        topic_name,
    }) = got.get(1).cloned()
    else {
        panic!("expected REGISTER, got {got:?}");
    };
    assert_eq!(topic_name, b"room/1/temp");
    assert_eq!(got.len(), 2);
    // Another message meanwhile queues behind it, in order.
    sim.mqtt_publish(publisher, "room/2/temp", b"19", QoS::AtMostOnce, false);
    assert!(sim.received(1000).is_empty());
    sim.send(
        1000,
        &Packet::RegAck {
            topic_id,
            msg_id,
            return_code: ReturnCode::Accepted,
        },
    );
    let got = sim.received(1000);
    assert!(
        matches!(&got[0], Packet::Publish { topic_id: t, flags, data, .. }
            if *t == topic_id && flags.retain && data == b"21"),
        "{got:?}"
    );
    let Some(Packet::Register {
        topic_id: second,
        msg_id,
        ..
    }) = got.get(1).cloned()
    else {
        panic!("expected a second REGISTER, got {got:?}");
    };
    sim.send(
        1000,
        &Packet::RegAck {
            topic_id: second,
            msg_id,
            return_code: ReturnCode::Accepted,
        },
    );
    assert!(matches!(
        sim.one(1000),
        Packet::Publish { topic_id, data, .. } if topic_id == second && data == b"19"
    ));
    // Known now: no REGISTER the next time.
    sim.mqtt_publish(publisher, "room/1/temp", b"22", QoS::AtMostOnce, false);
    assert!(matches!(sim.one(1000), Packet::Publish { topic_id: t, .. } if t == topic_id));
}

#[test]
fn subscriptions_by_name_by_predefined_id_and_by_short_name() {
    let mut sim = Sim::new();
    sim.sn_connect(1000, "dev1");
    let cases = [
        (SubscribeTopic::Name(b"a/b".to_vec()), ReturnCode::Accepted),
        (SubscribeTopic::Predefined(7), ReturnCode::Accepted),
        (SubscribeTopic::Predefined(99), ReturnCode::InvalidTopicId),
        (SubscribeTopic::Short(*b"xy"), ReturnCode::Accepted),
        (
            SubscribeTopic::Name(b"a/#/b".to_vec()),
            ReturnCode::NotSupported,
        ),
    ];
    for (index, (topic, expected)) in cases.into_iter().enumerate() {
        let msg_id = u16::try_from(index).unwrap_or(0) + 1;
        sim.send(
            1000,
            &Packet::Subscribe {
                flags: flags(SnQos::AtMostOnce, TopicIdType::Normal),
                msg_id,
                topic,
            },
        );
        match sim.one(1000) {
            Packet::SubAck {
                msg_id: m,
                return_code,
                ..
            } => {
                assert_eq!(m, msg_id);
                assert_eq!(return_code, expected, "case {index}");
            }
            other => panic!("{other:?}"),
        }
    }
    sim.send(
        1000,
        &Packet::Unsubscribe {
            flags: flags(SnQos::AtMostOnce, TopicIdType::Normal),
            msg_id: 20,
            topic: SubscribeTopic::Name(b"a/b".to_vec()),
        },
    );
    assert_eq!(sim.one(1000), Packet::UnsubAck { msg_id: 20 });
}
