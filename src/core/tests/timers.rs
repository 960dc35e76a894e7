//! Timer behaviours the end-to-end tests used to wait for in real time:
//! what resets the keepalive, what the connect timeout spares, and a
//! session that expired being gone for its next connection. The clock is
//! the simulator's, so the boundaries are checked to the millisecond.

use super::*;

#[test]
fn any_packet_resets_the_keepalive_not_only_pingreq() {
    let mut sim = Sim::new();
    let (id, _) = sim.connect_with(Connect {
        keep_alive: 1,
        ..connect("busy", true)
    });
    // Over three times the 1.5 s allowance, a QoS 1 PUBLISH every 1.4 s.
    for n in 1..=4u16 {
        sim.advance(Duration::from_millis(1_400));
        assert!(sim.is_open(id), "closed before PUBLISH {n}");
        sim.publish(id, "busy/t", b"x", QoS::AtLeastOnce, false, n);
        assert_eq!(sim.recv(id), vec![Got::PubAck(n)]);
    }
    sim.advance(Duration::from_millis(1_499));
    assert!(sim.is_open(id));
    sim.advance(Duration::from_millis(1));
    assert!(
        !sim.is_open(id),
        "silent for 1.5 × keepalive after the last packet"
    );
}

#[test]
fn pingreq_every_keepalive_keeps_the_connection_and_its_will() {
    let mut sim = Sim::new();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, "ka/will", QoS::AtLeastOnce);
    let (id, _) = sim.connect_with(Connect {
        keep_alive: 1,
        will: Some(crate::codec::Will {
            topic: "ka/will",
            payload: b"x",
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: crate::codec::Properties::EMPTY,
        }),
        ..connect("alive", true)
    });
    for _ in 0..10 {
        sim.advance(Duration::from_millis(1_000));
        sim.send(id, Packet::PingReq);
        assert_eq!(sim.recv(id), vec![Got::PingResp]);
    }
    assert!(sim.is_open(id));
    assert!(sim.publishes(watcher).is_empty(), "no will while alive");
}

#[test]
fn connect_timeout_spares_a_connected_client_and_closes_a_partial_connect() {
    let mut sim = Sim::with_config(Config {
        connect_timeout: Duration::from_secs(1),
        ..test_config()
    });
    let (connected, got) = sim.connect_with(connect("in-time", true));
    assert!(matches!(got[0], Got::ConnAck(_, ReasonCode::SUCCESS)));
    let partial = sim.accept();
    let mut bytes = Vec::new();
    codec::encode(&Packet::Connect(connect("slow", true)), &mut bytes).unwrap();
    sim.send_raw(partial, &bytes[..5]);

    sim.advance(Duration::from_millis(999));
    assert!(sim.is_open(partial), "closed before connect_timeout");
    sim.advance(Duration::from_millis(1));
    assert!(!sim.is_open(partial), "a partial CONNECT is no CONNECT");
    assert!(sim.recv(partial).is_empty());

    // Keepalive 0: nothing closes it, however long it stays silent.
    sim.advance(Duration::from_secs(3600));
    assert!(sim.is_open(connected));
    sim.send(connected, Packet::PingReq);
    assert_eq!(sim.recv(connected), vec![Got::PingResp]);
}

#[test]
fn an_expired_session_is_not_resumed() {
    let mut sim = Sim::with_config(Config {
        session_expiry: Some(Duration::from_secs(1)),
        ..test_config()
    });
    let sub = sim.connect("exp", false);
    sim.subscribe(sub, "exp", QoS::AtLeastOnce);
    sim.send(sub, Packet::Disconnect(crate::codec::Reasoned::default()));
    assert!(!sim.is_open(sub));
    sim.advance(Duration::from_secs(1));
    assert_eq!(sim.core.stats().sessions, 0);
    let (_, got) = sim.connect_with(connect("exp", false));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
}
