//! Peers that send bytes in pieces, send garbage, or read too slowly.

use super::*;

#[test]
fn slow_subscriber_memory_is_bounded() {
    let mut sim = Sim::with_config(Config {
        max_pending_output: 4096,
        max_queued_messages: 10,
        ..test_config()
    });
    let slow = sim.connect("slow", true);
    sim.subscribe(slow, "t", QoS::AtLeastOnce);
    let fast = sim.connect("fast", true);
    sim.subscribe(fast, "t", QoS::AtMostOnce);
    let payload = [7u8; 1000];
    for _ in 0..100 {
        sim.core
            .handle_host_publish(sim.now, "t", &payload, QoS::AtMostOnce, false)
            .unwrap();
        sim.core
            .handle_host_publish(sim.now, "t", &payload, QoS::AtLeastOnce, false)
            .unwrap();
        // The fast one reads everything.
        sim.recv(fast);
    }
    assert!(sim.core.output(slow).len() < 4096 + 2000);
    assert!(sim.core.stats().messages_dropped > 100);
}

#[test]
fn split_packets_are_reassembled() {
    let mut sim = Sim::new();
    let id = sim.accept();
    let mut bytes = Vec::new();
    codec::encode(
        &Packet::Connect(Box::new(connect("split", true))),
        &mut bytes,
    )
    .unwrap();
    codec::encode(&Packet::PingReq, &mut bytes).unwrap();
    for byte in &bytes {
        sim.send_raw(id, std::slice::from_ref(byte));
    }
    assert_eq!(
        sim.recv(id),
        vec![Got::ConnAck(false, ReasonCode::SUCCESS), Got::PingResp]
    );
}

#[test]
fn malformed_packet_closes_only_its_connection() {
    let mut sim = Sim::new();
    let good = sim.connect("good", true);
    let bad = sim.connect("bad", true);
    sim.send_raw(bad, &[0x82, 0xff, 0xff, 0xff, 0xff, 0x01]);
    assert!(!sim.is_open(bad));
    assert!(sim.is_open(good));
}
