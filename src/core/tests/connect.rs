//! CONNECT: acceptance, refusals, protocol levels, client ids, the
//! connect timeout.

use super::*;

#[test]
fn connect_is_acknowledged() {
    let mut sim = Sim::new();
    let (id, got) = sim.connect_with(connect("a", true));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
    assert!(sim.is_open(id));
    assert_eq!(sim.core.stats().clients_connected, 1);
}

#[test]
fn first_packet_must_be_connect() {
    let mut sim = Sim::new();
    let id = sim.accept();
    sim.send(id, Packet::PingReq);
    assert!(!sim.is_open(id));
    assert!(sim.recv(id).is_empty());
}

#[test]
fn second_connect_closes() {
    let mut sim = Sim::new();
    let id = sim.connect("a", true);
    sim.send(id, Packet::Connect(Box::new(connect("a", true))));
    assert!(!sim.is_open(id));
}

#[test]
fn unsupported_level_gets_connack_1() {
    let mut sim = Sim::new();
    let id = sim.accept();
    // CONNECT, protocol MQTT level 6 (no such version), clean session.
    sim.send_raw(
        id,
        &[
            0x10, 0x0d, 0, 4, b'M', b'Q', b'T', b'T', 6, 2, 0, 60, 0, 1, b'x',
        ],
    );
    assert_eq!(
        sim.recv(id),
        vec![Got::ConnAck(
            false,
            ReasonCode::UNSUPPORTED_PROTOCOL_VERSION
        )]
    );
    assert!(!sim.is_open(id));
}

#[test]
fn mqtt31_clients_connect() {
    let mut sim = Sim::new();
    let (_, got) = sim.connect_with(Connect {
        protocol: Protocol::V31,
        ..connect("old-firmware", true)
    });
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
}

#[test]
fn empty_client_id_rules() {
    let mut sim = Sim::new();
    let (a, got) = sim.connect_with(connect("", true));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
    let (b, got) = sim.connect_with(connect("", true));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
    assert!(
        sim.is_open(a) && sim.is_open(b),
        "generated ids are distinct"
    );
    let (c, got) = sim.connect_with(connect("", false));
    assert_eq!(
        got,
        vec![Got::ConnAck(false, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID)]
    );
    assert!(!sim.is_open(c));
}

#[test]
fn connect_timeout_closes_silent_sockets() {
    let mut sim = Sim::new();
    let id = sim.accept();
    assert_eq!(
        sim.core.next_deadline(),
        Some(sim.now + Duration::from_secs(10))
    );
    sim.advance(Duration::from_millis(9_999));
    assert!(sim.is_open(id));
    sim.advance(Duration::from_millis(1));
    assert!(!sim.is_open(id));
}

/// A connection's peer need not be TCP: a gateway's device (or a Unix
/// socket client) reaches the hooks as it was accepted.
#[test]
fn the_hooks_see_the_peer_as_accepted() {
    use std::sync::{Arc, Mutex};

    use crate::peer::GatewayProtocol;

    let device = Peer::Gateway {
        protocol: GatewayProtocol::MqttSn,
        addr: ([10, 0, 0, 7], 1884).into(),
    };
    let seen = Arc::new(Mutex::new(Vec::new()));
    let mut sim = Sim::new();
    let log = Arc::clone(&seen);
    sim.core.hooks.auth = Some(Box::new(move |info| {
        log.lock().unwrap().push(format!("auth {}", info.peer));
        crate::hooks::AuthDecision::Accept
    }));
    let log = Arc::clone(&seen);
    sim.core.hooks.acl = Some(Box::new(move |client, _, _| {
        log.lock().unwrap().push(format!("acl {}", client.peer));
        true
    }));
    let id = sim.core.handle_accept(sim.now, device.clone()).unwrap();
    sim.send(id, Packet::Connect(Box::new(connect("sensor-7", true))));
    sim.subscribe(id, "t", QoS::AtMostOnce);
    assert_eq!(
        *seen.lock().unwrap(),
        ["auth mqtt-sn:10.0.0.7:1884", "acl mqtt-sn:10.0.0.7:1884"]
    );
}
