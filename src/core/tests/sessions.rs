//! Persistent sessions: offline queueing, resend on reconnect, clean
//! session, bounds and expiry.

use super::*;

#[test]
fn persistent_session_queues_offline_and_resends_in_order() {
    let mut sim = Sim::new();
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "q/#", QoS::ExactlyOnce);
    sim.core
        .handle_host_publish(sim.now, "q/1", b"first", QoS::AtLeastOnce, false)
        .unwrap();
    sim.core
        .handle_host_publish(sim.now, "q/2", b"second", QoS::ExactlyOnce, false)
        .unwrap();
    let got = sim.recv(sub);
    assert_eq!(got.len(), 2);
    let Got::Publish {
        packet_id: second_id,
        ..
    } = got[1]
    else {
        panic!()
    };
    // Acknowledge the QoS 2 one as far as PUBREC, then drop the network.
    sim.send(sub, Packet::PubRec(crate::codec::Ack::new(second_id)));
    assert_eq!(sim.recv(sub), vec![Got::PubRel(second_id)]);
    sim.core.handle_closed(sim.now, sub);
    sim.reap();
    // Offline: QoS 1 is queued, QoS 0 is not.
    sim.core
        .handle_host_publish(sim.now, "q/3", b"third", QoS::AtLeastOnce, false)
        .unwrap();
    sim.core
        .handle_host_publish(sim.now, "q/4", b"lost", QoS::AtMostOnce, false)
        .unwrap();

    let (back, got) = sim.connect_with(connect("dev", false));
    assert_eq!(got[0], Got::ConnAck(true, ReasonCode::SUCCESS));
    let rest = &got[1..];
    assert!(matches!(&rest[0], Got::Publish { dup: true, payload, .. } if payload == b"first"));
    assert_eq!(rest[1], Got::PubRel(second_id));
    assert!(matches!(&rest[2], Got::Publish { dup: false, payload, .. } if payload == b"third"));
    assert_eq!(rest.len(), 3);
    // Subscriptions survived.
    sim.core
        .handle_host_publish(sim.now, "q/5", b"live", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(sim.publishes(back).len(), 1);
}

#[test]
fn clean_session_discards_state() {
    let mut sim = Sim::new();
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, sub);
    let (_, got) = sim.connect_with(connect("dev", true));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
    assert_eq!(sim.core.stats().subscriptions, 0);
}

#[test]
fn offline_queue_is_bounded() {
    let mut sim = Sim::with_config(Config {
        max_queued_messages: 3,
        ..test_config()
    });
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, sub);
    for n in 0..10u8 {
        sim.core
            .handle_host_publish(sim.now, "t", &[n], QoS::AtLeastOnce, false)
            .unwrap();
    }
    assert_eq!(sim.core.stats().messages_dropped, 7);
    let (_, got) = sim.connect_with(connect("dev", false));
    assert_eq!(got.len(), 4);
}

#[test]
fn abandoned_sessions_expire() {
    let mut sim = Sim::with_config(Config {
        session_expiry: Some(Duration::from_secs(60)),
        ..test_config()
    });
    let sub = sim.connect("dev", false);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, sub);
    sim.advance(Duration::from_secs(59));
    assert_eq!(sim.core.stats().sessions, 1);
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.core.stats().sessions, 0);
    assert_eq!(sim.core.stats().subscriptions, 0);
}
