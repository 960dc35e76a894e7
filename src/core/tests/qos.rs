//! QoS 1 and 2 flows: the in-flight window, exactly-once in both
//! directions.

use super::*;

#[test]
fn qos1_window_queues_in_order() {
    let mut sim = Sim::with_config(Config {
        max_inflight: 2,
        ..test_config()
    });
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    for n in 0..5u8 {
        sim.core
            .handle_host_publish(sim.now, "t", &[n], QoS::AtLeastOnce, false)
            .unwrap();
    }
    let got = sim.recv(sub);
    let ids: Vec<u16> = got
        .iter()
        .map(|g| match g {
            Got::Publish { packet_id, .. } => *packet_id,
            _ => panic!("{g:?}"),
        })
        .collect();
    assert_eq!(ids.len(), 2);
    sim.send(sub, Packet::PubAck(crate::codec::Ack::new(ids[0])));
    sim.send(sub, Packet::PubAck(crate::codec::Ack::new(ids[1])));
    let got = sim.publishes(sub);
    assert_eq!(got.iter().map(|g| g.1[0]).collect::<Vec<_>>(), vec![2, 3]);
}

#[test]
fn qos2_inbound_is_delivered_once() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let publisher = sim.connect("pub", true);
    sim.publish(publisher, "t", b"once", QoS::ExactlyOnce, false, 42);
    sim.publish(publisher, "t", b"once", QoS::ExactlyOnce, false, 42);
    assert_eq!(sim.recv(publisher), vec![Got::PubRec(42), Got::PubRec(42)]);
    sim.send(publisher, Packet::PubRel(crate::codec::Ack::new(42)));
    assert_eq!(sim.recv(publisher), vec![Got::PubComp(42)]);
    assert_eq!(sim.publishes(sub).len(), 1);
    // After PUBREL the id is free again: a new message with it is delivered.
    sim.publish(publisher, "t", b"again", QoS::ExactlyOnce, false, 42);
    assert_eq!(sim.publishes(sub).len(), 1);
}

#[test]
fn qos2_outbound_flow() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "t", QoS::ExactlyOnce);
    sim.core
        .handle_host_publish(sim.now, "t", b"x", QoS::ExactlyOnce, false)
        .unwrap();
    let got = sim.recv(sub);
    let Got::Publish { packet_id, qos, .. } = got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(qos, QoS::ExactlyOnce);
    sim.send(sub, Packet::PubRec(crate::codec::Ack::new(packet_id)));
    assert_eq!(sim.recv(sub), vec![Got::PubRel(packet_id)]);
    sim.send(sub, Packet::PubComp(crate::codec::Ack::new(packet_id)));
    assert!(sim.recv(sub).is_empty());
    let session = sim
        .core
        .sessions
        .iter()
        .find(|(_, s)| &*s.client_id == "sub")
        .unwrap()
        .1;
    assert!(session.inflight.is_empty());
}

/// A subscriber `sub` that has received one message at `qos` on `t`;
/// returns the packet id it carried.
fn delivered(sim: &mut Sim, sub: ConnId, qos: QoS) -> u16 {
    sim.subscribe(sub, "t", QoS::ExactlyOnce);
    sim.core
        .handle_host_publish(sim.now, "t", b"x", qos, false)
        .unwrap();
    let got = sim.recv(sub);
    let Some(Got::Publish { packet_id, .. }) = got.first() else {
        panic!("{got:?}")
    };
    *packet_id
}

/// The acknowledgements a delivery's flow does not allow close the
/// connection, as mosquitto does; no PUBREL answers a PUBREC for QoS 1.
#[test]
fn a_wrong_acknowledgement_closes_the_connection() {
    use crate::codec::AckKind;
    let cases: [(QoS, &[AckKind]); 5] = [
        (QoS::AtLeastOnce, &[AckKind::PubRec]),
        (QoS::AtLeastOnce, &[AckKind::PubComp]),
        (QoS::ExactlyOnce, &[AckKind::PubAck]),
        (QoS::ExactlyOnce, &[AckKind::PubComp]),
        (QoS::ExactlyOnce, &[AckKind::PubRec, AckKind::PubAck]),
    ];
    for (qos, acks) in cases {
        let mut sim = Sim::new();
        let sub = sim.connect("sub", true);
        let packet_id = delivered(&mut sim, sub, qos);
        let (last, before) = acks.split_last().unwrap();
        for ack in before {
            sim.send(sub, ack.packet(packet_id));
            assert!(sim.is_open(sub));
        }
        sim.recv(sub);
        sim.send(sub, last.packet(packet_id));
        assert!(!sim.is_open(sub), "{qos:?}: {:?} accepted", acks);
        assert!(sim.recv(sub).is_empty(), "{qos:?}: {:?} answered", acks);
    }
}

/// Acknowledgements naming no message in flight are ignored (they may
/// answer a message resent before a reconnection); a PUBREC still gets its
/// PUBREL.
#[test]
fn acknowledgements_for_unknown_packet_ids_are_ignored() {
    let mut sim = Sim::new();
    let sub = sim.connect("sub", true);
    sim.send(sub, Packet::PubAck(crate::codec::Ack::new(9)));
    sim.send(sub, Packet::PubComp(crate::codec::Ack::new(9)));
    assert!(sim.is_open(sub));
    sim.send(sub, Packet::PubRec(crate::codec::Ack::new(9)));
    assert_eq!(sim.recv(sub), vec![Got::PubRel(9)]);
    assert!(sim.is_open(sub));
}

/// MQTT 3.1 clients set DUP on a PUBREL they send again (first byte 0x6A):
/// legal in 3.1, answered with PUBCOMP; in 3.1.1 the flags must be 0010.
#[test]
fn pubrel_with_dup_is_accepted_from_mqtt_31_only() {
    for (protocol, accepted) in [(Protocol::V31, true), (Protocol::V311, false)] {
        let mut sim = Sim::new();
        let (publisher, got) = sim.connect_with(Connect {
            protocol,
            ..connect("pub", true)
        });
        assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
        sim.publish(publisher, "t", b"x", QoS::ExactlyOnce, false, 5);
        assert_eq!(sim.recv(publisher), vec![Got::PubRec(5)]);
        sim.send_raw(publisher, &[0x6A, 0x02, 0x00, 0x05]);
        assert_eq!(sim.is_open(publisher), accepted, "{protocol:?}");
        let expected = if accepted {
            vec![Got::PubComp(5)]
        } else {
            vec![]
        };
        assert_eq!(sim.recv(publisher), expected, "{protocol:?}");
    }
}

/// The in-flight window is bounded in bytes too: further messages wait in
/// the queue, in order; one larger than the bound goes alone.
#[test]
fn inflight_bytes_bound_the_window() {
    let mut sim = Sim::with_config(Config {
        max_inflight_bytes: 10,
        ..test_config()
    });
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    // Each message is 1 topic byte and 4 payload bytes: two fit in 10.
    for payload in [b"aaaa", b"bbbb", b"cccc"] {
        sim.core
            .handle_host_publish(sim.now, "t", payload, QoS::AtLeastOnce, false)
            .unwrap();
    }
    sim.core
        .handle_host_publish(
            sim.now,
            "t",
            b"a payload past the bound",
            QoS::AtLeastOnce,
            false,
        )
        .unwrap();
    let mut seen = Vec::new();
    for expected in [2, 1, 1] {
        let got = sim.recv(sub);
        let ids: Vec<u16> = got
            .iter()
            .filter_map(|g| match g {
                Got::Publish {
                    packet_id, payload, ..
                } => {
                    seen.push(payload.clone());
                    Some(*packet_id)
                }
                _ => None,
            })
            .collect();
        assert_eq!(ids.len(), expected, "{got:?}");
        for id in ids {
            sim.send(sub, Packet::PubAck(crate::codec::Ack::new(id)));
        }
    }
    assert_eq!(
        seen,
        vec![
            b"aaaa".to_vec(),
            b"bbbb".to_vec(),
            b"cccc".to_vec(),
            b"a payload past the bound".to_vec()
        ]
    );
}
