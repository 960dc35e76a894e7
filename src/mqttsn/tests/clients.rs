//! Connecting, wills, keep alive, limits, discovery and forwarders.

use super::*;

#[test]
fn connect_then_disconnect() {
    let mut sim = Sim::new();
    sim.sn_connect(1000, "dev1");
    assert_eq!(sim.gateway.stats().clients, 1);
    sim.send(1000, &Packet::Disconnect { duration: None });
    assert_eq!(sim.one(1000), Packet::Disconnect { duration: None });
    assert_eq!(sim.gateway.stats().clients, 0);
}

#[test]
fn the_will_handshake_gives_the_core_a_will_published_when_the_client_is_lost() {
    let mut sim = Sim::new();
    let watcher = sim.mqtt_connect("watcher");
    sim.mqtt_subscribe(watcher, "wills/#", QoS::AtMostOnce);
    let mut f = flags(SnQos::AtMostOnce, TopicIdType::Normal);
    f.will = true;
    sim.send(
        1000,
        &Packet::Connect {
            flags: f,
            protocol_id: 1,
            duration: 10,
            client_id: b"dev1".to_vec(),
        },
    );
    assert_eq!(sim.one(1000), Packet::WillTopicReq);
    let mut will_flags = flags(SnQos::AtLeastOnce, TopicIdType::Normal);
    will_flags.retain = false;
    sim.send(
        1000,
        &Packet::WillTopic {
            will: Some((will_flags, b"wills/dev1".to_vec())),
        },
    );
    assert_eq!(sim.one(1000), Packet::WillMsgReq);
    sim.send(
        1000,
        &Packet::WillMsg {
            message: b"gone".to_vec(),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::ConnAck {
            return_code: ReturnCode::Accepted
        }
    );
    // Silent for 1.5 × 10 s: lost.
    sim.advance(Duration::from_secs(14));
    assert!(sim.mqtt_take(watcher).is_empty());
    sim.advance(Duration::from_secs(2));
    let got = sim.mqtt_take(watcher);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].topic, "wills/dev1");
    assert_eq!(got[0].payload, b"gone");
    assert_eq!(sim.gateway.stats().lost, 1);
    assert_eq!(sim.gateway.stats().clients, 0);
}

#[test]
fn an_empty_will_topic_connects_without_a_will() {
    let mut sim = Sim::new();
    let mut f = flags(SnQos::AtMostOnce, TopicIdType::Normal);
    f.will = true;
    sim.send(
        1000,
        &Packet::Connect {
            flags: f,
            protocol_id: 1,
            duration: 10,
            client_id: b"dev1".to_vec(),
        },
    );
    assert_eq!(sim.one(1000), Packet::WillTopicReq);
    sim.send(1000, &Packet::WillTopic { will: None });
    assert_eq!(
        sim.one(1000),
        Packet::ConnAck {
            return_code: ReturnCode::Accepted
        }
    );
}

#[test]
fn will_updates_change_what_is_published_and_disconnect_discards_it() {
    let mut sim = Sim::new();
    let watcher = sim.mqtt_connect("watcher");
    sim.mqtt_subscribe(watcher, "w/#", QoS::AtMostOnce);
    sim.sn_connect_with(1000, "dev1", true, 10);
    // No will yet: a message update has nothing to change.
    sim.send(
        1000,
        &Packet::WillMsgUpd {
            message: b"x".to_vec(),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::WillMsgResp {
            return_code: ReturnCode::NotSupported
        }
    );
    let f = flags(SnQos::AtMostOnce, TopicIdType::Normal);
    sim.send(
        1000,
        &Packet::WillTopicUpd {
            will: Some((f, b"w/one".to_vec())),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::WillTopicResp {
            return_code: ReturnCode::Accepted
        }
    );
    sim.send(
        1000,
        &Packet::WillMsgUpd {
            message: b"bye".to_vec(),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::WillMsgResp {
            return_code: ReturnCode::Accepted
        }
    );
    // A wildcard is no topic name.
    sim.send(
        1000,
        &Packet::WillTopicUpd {
            will: Some((f, b"w/+".to_vec())),
        },
    );
    assert_eq!(
        sim.one(1000),
        Packet::WillTopicResp {
            return_code: ReturnCode::NotSupported
        }
    );
    sim.advance(Duration::from_secs(16));
    let got = sim.mqtt_take(watcher);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        (got[0].topic.as_str(), &got[0].payload[..]),
        ("w/one", &b"bye"[..])
    );

    // DISCONNECT: no will.
    sim.sn_connect_with(1001, "dev2", true, 10);
    sim.send(
        1001,
        &Packet::WillTopicUpd {
            will: Some((f, b"w/two".to_vec())),
        },
    );
    sim.received(1001);
    sim.send(1001, &Packet::Disconnect { duration: None });
    sim.advance(Duration::from_secs(30));
    assert!(sim.mqtt_take(watcher).is_empty());
}

#[test]
fn a_client_that_connects_again_keeps_its_persistent_session() {
    let mut sim = Sim::new();
    let publisher = sim.mqtt_connect("pub");
    sim.sn_connect_with(1000, "dev1", false, 60);
    sim.send(
        1000,
        &Packet::Subscribe {
            flags: flags(SnQos::AtLeastOnce, TopicIdType::Normal),
            msg_id: 3,
            topic: super::super::packet::SubscribeTopic::Name(b"cmd/dev1".to_vec()),
        },
    );
    let topic_id = match sim.one(1000) {
        Packet::SubAck {
            topic_id,
            msg_id: 3,
            return_code: ReturnCode::Accepted,
            ..
        } => topic_id,
        other => panic!("{other:?}"),
    };
    assert_ne!(topic_id, 0);
    sim.send(1000, &Packet::Disconnect { duration: None });
    sim.received(1000);
    sim.mqtt_publish(publisher, "cmd/dev1", b"on", QoS::AtLeastOnce, false);
    // Back (from another port, as after a reboot): the queued message
    // comes, under a topic registered again.
    let mut f = flags(SnQos::AtMostOnce, TopicIdType::Normal);
    f.clean_session = false;
    sim.send(
        1001,
        &Packet::Connect {
            flags: f,
            protocol_id: 1,
            duration: 60,
            client_id: b"dev1".to_vec(),
        },
    );
    let got = sim.received(1001);
    assert_eq!(
        got.first(),
        Some(&Packet::ConnAck {
            return_code: ReturnCode::Accepted
        })
    );
    let Some(Packet::Register {
        topic_id, msg_id, ..
    }) = got.get(1).cloned()
    else {
        panic!("expected REGISTER, got {got:?}");
    };
    sim.send(
        1001,
        &Packet::RegAck {
            topic_id,
            msg_id,
            return_code: ReturnCode::Accepted,
        },
    );
    match sim.one(1001) {
        Packet::Publish {
            topic_id: id, data, ..
        } => {
            assert_eq!(id, topic_id);
            assert_eq!(data, b"on");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn connects_beyond_max_clients_are_refused_with_congestion() {
    let mut sim = Sim::with(MqttSnGateway {
        max_clients: 2,
        ..settings()
    });
    sim.sn_connect(1000, "a");
    sim.sn_connect(1001, "b");
    sim.send(
        1002,
        &Packet::Connect {
            flags: flags(SnQos::AtMostOnce, TopicIdType::Normal),
            protocol_id: 1,
            duration: 60,
            client_id: b"c".to_vec(),
        },
    );
    assert_eq!(
        sim.one(1002),
        Packet::ConnAck {
            return_code: ReturnCode::Congestion
        }
    );
    // Connecting again from a known address is no new client.
    sim.sn_connect(1001, "b");
}

#[test]
fn a_client_the_gateway_does_not_know_is_told_to_connect() {
    let mut sim = Sim::new();
    sim.send(
        1000,
        &Packet::Publish {
            flags: flags(SnQos::AtLeastOnce, TopicIdType::Normal),
            topic_id: 1,
            msg_id: 1,
            data: b"x".to_vec(),
        },
    );
    assert_eq!(sim.one(1000), Packet::Disconnect { duration: None });
    assert_eq!(sim.gateway.stats().dropped, 1);
}

#[test]
fn malformed_datagrams_are_counted_and_dropped() {
    let mut sim = Sim::new();
    for bytes in [&[][..], &[5][..], &[2, 0xEE][..], &[9, 0x04, 0, 1][..]] {
        sim.send_raw(1000, bytes);
    }
    assert!(sim.received(1000).is_empty());
    assert_eq!(sim.gateway.stats().malformed, 4);
    assert_eq!(sim.gateway.stats().clients, 0);
}

#[test]
fn searchgw_is_answered_and_advertise_repeats() {
    let mut sim = Sim::with(MqttSnGateway {
        gateway_id: 9,
        advertise_interval: Some(Duration::from_secs(30)),
        advertise_to: vec![addr(1884)],
        ..settings()
    });
    sim.send(1000, &Packet::SearchGw { radius: 1 });
    assert_eq!(
        sim.one(1000),
        Packet::GwInfo {
            gw_id: 9,
            gw_add: Vec::new()
        }
    );
    sim.advance(Duration::from_millis(1));
    assert_eq!(
        sim.one(1884),
        Packet::Advertise {
            gw_id: 9,
            duration: 30
        }
    );
    sim.advance(Duration::from_secs(29));
    assert!(sim.received(1884).is_empty());
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.received(1884).len(), 1);
}

#[test]
fn clients_behind_a_forwarder_are_told_apart_and_answered_through_it() {
    let mut sim = Sim::new();
    for (node, id) in [(&b"\x01"[..], "n1"), (&b"\x02"[..], "n2")] {
        let mut bytes = Vec::new();
        codec::encode_forwarded(
            &forwarded(node),
            &Packet::Connect {
                flags: flags(SnQos::AtMostOnce, TopicIdType::Normal),
                protocol_id: 1,
                duration: 60,
                client_id: id.as_bytes().to_vec(),
            },
            &mut bytes,
        );
        sim.send_raw(1000, &bytes);
        let sent = sim.gateway.outgoing.drain(..).collect::<Vec<_>>();
        assert_eq!(sent.len(), 1);
        let decoded = codec::decode(&sent[0].bytes).map_err(|e| e.to_string());
        assert_eq!(
            decoded,
            Ok(Datagram {
                forwarded: Some(forwarded(node)),
                packet: Packet::ConnAck {
                    return_code: ReturnCode::Accepted
                }
            })
        );
    }
    assert_eq!(sim.gateway.stats().clients, 2);
}

#[test]
fn a_will_handshake_left_half_done_frees_its_place() {
    let mut sim = Sim::with(MqttSnGateway {
        max_clients: 1,
        ..settings()
    });
    let mut f = flags(SnQos::AtMostOnce, TopicIdType::Normal);
    f.will = true;
    sim.send(
        1000,
        &Packet::Connect {
            flags: f,
            protocol_id: 1,
            duration: 0,
            client_id: b"half".to_vec(),
        },
    );
    assert_eq!(sim.one(1000), Packet::WillTopicReq);
    sim.advance(Duration::from_secs(9));
    assert_eq!(sim.gateway.stats().clients, 1);
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.gateway.stats().clients, 0);
    sim.sn_connect(1001, "next");
}
