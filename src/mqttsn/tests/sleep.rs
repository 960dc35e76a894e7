//! Sleeping clients: messages kept while they sleep, delivered when they
//! wake, and a client that sleeps too long is lost.

use super::super::packet::SubscribeTopic;
use super::*;

fn subscribed_sleeper(sim: &mut Sim) -> ConnId {
    let publisher = sim.mqtt_connect("pub");
    sim.sn_connect_with(1000, "sleeper", false, 60);
    sim.send(
        1000,
        &Packet::Subscribe {
            flags: flags(SnQos::AtLeastOnce, TopicIdType::Predefined),
            msg_id: 1,
            topic: SubscribeTopic::Predefined(7),
        },
    );
    sim.received(1000);
    sim.send(
        1000,
        &Packet::Disconnect {
            duration: Some(100),
        },
    );
    assert_eq!(sim.one(1000), Packet::Disconnect { duration: None });
    publisher
}

#[test]
fn messages_wait_for_a_sleeping_client_and_come_when_it_wakes() {
    let mut sim = Sim::new();
    let publisher = subscribed_sleeper(&mut sim);
    sim.mqtt_publish(publisher, "pre/defined", b"1", QoS::AtLeastOnce, false);
    sim.mqtt_publish(publisher, "pre/defined", b"2", QoS::AtMostOnce, false);
    assert!(sim.received(1000).is_empty());
    sim.advance(Duration::from_secs(90));
    assert!(sim.received(1000).is_empty());
    // A PINGREQ without its client id does not wake it.
    sim.send(1000, &Packet::PingReq { client_id: None });
    assert!(sim.received(1000).is_empty());
    sim.send(
        1000,
        &Packet::PingReq {
            client_id: Some(b"sleeper".to_vec()),
        },
    );
    let got = sim.received(1000);
    assert_eq!(got.len(), 2, "{got:?}");
    let Packet::Publish { msg_id, data, .. } = &got[0] else {
        panic!("{got:?}");
    };
    assert_eq!(data, b"1");
    assert!(matches!(&got[1], Packet::Publish { data, .. } if data == b"2"));
    // PINGRESP once the QoS 1 one is acknowledged: asleep again.
    sim.send(
        1000,
        &Packet::PubAck {
            topic_id: 7,
            msg_id: *msg_id,
            return_code: ReturnCode::Accepted,
        },
    );
    assert_eq!(sim.one(1000), Packet::PingResp);
    sim.mqtt_publish(publisher, "pre/defined", b"3", QoS::AtLeastOnce, false);
    assert!(sim.received(1000).is_empty());
    // Nothing waiting: PINGRESP at once.
    sim.send(
        1000,
        &Packet::PingReq {
            client_id: Some(b"sleeper".to_vec()),
        },
    );
    let got = sim.received(1000);
    assert!(
        matches!(&got[0], Packet::Publish { data, .. } if data == b"3"),
        "{got:?}"
    );
}

#[test]
fn a_client_asleep_past_its_duration_is_lost() {
    let mut sim = Sim::new();
    let watcher = sim.mqtt_connect("watcher");
    sim.mqtt_subscribe(watcher, "w", QoS::AtMostOnce);
    sim.sn_connect_with(1000, "sleeper", true, 60);
    sim.send(
        1000,
        &Packet::WillTopicUpd {
            will: Some((flags(SnQos::AtMostOnce, TopicIdType::Normal), b"w".to_vec())),
        },
    );
    sim.received(1000);
    sim.send(1000, &Packet::Disconnect { duration: Some(20) });
    sim.received(1000);
    // Its keep alive (60 s) no longer counts; its sleep (20 s) does.
    sim.advance(Duration::from_secs(29));
    assert_eq!(sim.gateway.stats().clients, 1);
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.gateway.stats().clients, 0);
    assert_eq!(sim.mqtt_take(watcher).len(), 1);
}

#[test]
fn a_sleeping_client_that_connects_again_is_awake() {
    let mut sim = Sim::new();
    let publisher = subscribed_sleeper(&mut sim);
    sim.mqtt_publish(publisher, "pre/defined", b"1", QoS::AtLeastOnce, false);
    let mut f = flags(SnQos::AtMostOnce, TopicIdType::Normal);
    f.clean_session = false;
    sim.send(
        1000,
        &Packet::Connect {
            flags: f,
            protocol_id: 1,
            duration: 60,
            client_id: b"sleeper".to_vec(),
        },
    );
    let got = sim.received(1000);
    assert_eq!(
        got.first(),
        Some(&Packet::ConnAck {
            return_code: ReturnCode::Accepted
        })
    );
    assert!(
        matches!(got.get(1), Some(Packet::Publish { data, .. }) if data == b"1"),
        "{got:?}"
    );
}

#[test]
fn what_a_client_left_unacknowledged_before_sleeping_comes_again_when_it_wakes() {
    let mut sim = Sim::new();
    let publisher = sim.mqtt_connect("pub");
    sim.sn_connect_with(1000, "sleeper", false, 60);
    sim.send(
        1000,
        &Packet::Subscribe {
            flags: flags(SnQos::AtLeastOnce, TopicIdType::Predefined),
            msg_id: 1,
            topic: SubscribeTopic::Predefined(7),
        },
    );
    sim.received(1000);
    sim.mqtt_publish(
        publisher,
        "pre/defined",
        b"unacked",
        QoS::AtLeastOnce,
        false,
    );
    let Packet::Publish { msg_id, .. } = sim.one(1000) else {
        panic!("expected PUBLISH");
    };
    sim.send(
        1000,
        &Packet::Disconnect {
            duration: Some(100),
        },
    );
    sim.received(1000);
    // Asleep: no retries.
    sim.advance(Duration::from_secs(30));
    assert!(sim.received(1000).is_empty());
    sim.send(
        1000,
        &Packet::PingReq {
            client_id: Some(b"sleeper".to_vec()),
        },
    );
    match sim.one(1000) {
        Packet::Publish {
            flags,
            msg_id: m,
            data,
            ..
        } => {
            assert!(flags.dup);
            assert_eq!((m, &data[..]), (msg_id, &b"unacked"[..]));
        }
        other => panic!("{other:?}"),
    }
    sim.send(
        1000,
        &Packet::PubAck {
            topic_id: 7,
            msg_id,
            return_code: ReturnCode::Accepted,
        },
    );
    assert_eq!(sim.one(1000), Packet::PingResp);
}
