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
            .publish(sim.now, "t", &[n], QoS::AtLeastOnce, false)
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
    sim.send(sub, Packet::PubAck(ids[0]));
    sim.send(sub, Packet::PubAck(ids[1]));
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
    sim.send(publisher, Packet::PubRel(42));
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
        .publish(sim.now, "t", b"x", QoS::ExactlyOnce, false)
        .unwrap();
    let got = sim.recv(sub);
    let Got::Publish { packet_id, qos, .. } = got[0] else {
        panic!("{got:?}")
    };
    assert_eq!(qos, QoS::ExactlyOnce);
    sim.send(sub, Packet::PubRec(packet_id));
    assert_eq!(sim.recv(sub), vec![Got::PubRel(packet_id)]);
    sim.send(sub, Packet::PubComp(packet_id));
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
