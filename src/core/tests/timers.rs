//! Timer behaviours the end-to-end tests used to wait for in real time:
//! what resets the keepalive (and what does not: a packet's bytes trickling
//! in), what the connect timeout spares and what it does not (a CONNECT
//! trickling in), the authentication timeout, and a session that expired
//! being gone for its next connection. The clock is the simulator's, so the
//! boundaries are checked to the millisecond; the end-to-end tests
//! (`tests/robust/limits.rs`, `tests/robust/hostile_slow.rs`) only check
//! that the close or refusal happens, within a generous deadline.

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
    codec::encode(
        &Packet::Connect(Box::new(connect("slow", true))),
        &mut bytes,
    )
    .unwrap();
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
fn bytes_of_a_packet_trickling_in_do_not_reset_the_keepalive() {
    let mut sim = Sim::new();
    let (id, _) = sim.connect_with(Connect {
        keep_alive: 2,
        ..connect("loris-after", true)
    });
    let mut bytes = Vec::new();
    codec::encode(
        &Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "loris/topic/that/is/long/enough",
            packet_id: None,
            payload: b"0123456789",
            properties: crate::codec::Properties::EMPTY,
        }),
        &mut bytes,
    )
    .unwrap();
    // A byte every 500 ms: six by 2.5 s, the packet never complete.
    for (n, byte) in bytes[..6].iter().enumerate() {
        if n > 0 {
            sim.advance(Duration::from_millis(500));
        }
        sim.send_raw(id, std::slice::from_ref(byte));
        assert!(sim.is_open(id));
    }
    // 1.5 × keepalive after the CONNECT, the last complete packet.
    sim.advance(Duration::from_millis(499));
    assert!(sim.is_open(id));
    sim.advance(Duration::from_millis(1));
    assert!(!sim.is_open(id), "only complete packets count as activity");
    assert!(sim.recv(id).is_empty());
}

#[test]
fn a_connect_completed_just_before_connect_timeout_is_in_time() {
    let mut sim = Sim::with_config(Config {
        connect_timeout: Duration::from_secs(1),
        ..test_config()
    });
    let late = sim.accept();
    sim.advance(Duration::from_millis(999));
    sim.send(late, Packet::Connect(Box::new(connect("late", true))));
    assert_eq!(
        sim.recv(late),
        vec![Got::ConnAck(false, ReasonCode::SUCCESS)]
    );
    sim.advance(Duration::from_millis(1));
    assert!(
        sim.is_open(late),
        "the timer of a completed CONNECT does nothing"
    );
    sim.advance(Duration::from_secs(3600));
    assert!(sim.is_open(late));
}

#[test]
fn a_connect_trickling_in_is_closed_at_connect_timeout() {
    let mut sim = Sim::with_config(Config {
        connect_timeout: Duration::from_secs(2),
        ..test_config()
    });
    let loris = sim.accept();
    let mut bytes = Vec::new();
    codec::encode(
        &Packet::Connect(Box::new(connect("loris", true))),
        &mut bytes,
    )
    .unwrap();
    assert!(bytes.len() > 8);
    // A byte every 250 ms: eight by 1.75 s, the CONNECT never complete.
    for (n, byte) in bytes[..8].iter().enumerate() {
        if n > 0 {
            sim.advance(Duration::from_millis(250));
        }
        sim.send_raw(loris, std::slice::from_ref(byte));
        assert!(sim.is_open(loris));
    }
    sim.advance(Duration::from_millis(249));
    assert!(sim.is_open(loris), "closed before connect_timeout");
    sim.advance(Duration::from_millis(1));
    assert!(
        !sim.is_open(loris),
        "bytes arriving do not extend connect_timeout"
    );
    assert!(sim.recv(loris).is_empty());
}

#[test]
fn a_pending_authentication_is_refused_with_0x05_at_auth_timeout() {
    let mut sim = Sim::with_config(Config {
        auth_timeout: Duration::from_secs(1),
        ..test_config()
    });
    sim.core.hooks.auth = Some(Box::new(|info| {
        if info.client_id.starts_with("pending") {
            crate::hooks::AuthDecision::Pending
        } else {
            crate::hooks::AuthDecision::Accept
        }
    }));
    let (waiting, got) = sim.connect_with(connect("pending-forever", true));
    assert!(got.is_empty(), "no CONNACK while the decision is pending");
    // Others are served while it waits.
    let other = sim.connect("accepted-meanwhile", true);
    sim.advance(Duration::from_millis(999));
    assert!(sim.is_open(waiting));
    assert!(sim.recv(waiting).is_empty());
    sim.advance(Duration::from_millis(1));
    assert_eq!(
        sim.recv(waiting),
        vec![Got::ConnAck(false, ReasonCode::NOT_AUTHORIZED)]
    );
    assert!(!sim.is_open(waiting));
    assert!(sim.is_open(other));
}

#[test]
fn an_authentication_decided_within_auth_timeout_is_carried_out_a_late_one_ignored() {
    use std::sync::{Arc, Mutex};

    use crate::hooks::AuthDecision;

    let mut sim = Sim::with_config(Config {
        auth_timeout: Duration::from_secs(1),
        ..test_config()
    });
    let tokens = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&tokens);
    sim.core.hooks.auth = Some(Box::new(move |info| {
        seen.lock().unwrap().push(info.token);
        AuthDecision::Pending
    }));
    let (in_time, _) = sim.connect_with(connect("in-time", true));
    let (late, _) = sim.connect_with(connect("late", true));
    let [in_time_token, late_token] = tokens.lock().unwrap()[..] else {
        panic!("one authentication per CONNECT");
    };
    sim.advance(Duration::from_millis(999));
    assert!(sim
        .core
        .handle_auth_decision(sim.now, in_time_token, AuthDecision::Accept));
    assert_eq!(
        sim.recv(in_time),
        vec![Got::ConnAck(false, ReasonCode::SUCCESS)]
    );
    sim.advance(Duration::from_millis(1));
    assert!(sim.is_open(in_time), "its timer does nothing once decided");
    assert_eq!(
        sim.recv(late),
        vec![Got::ConnAck(false, ReasonCode::NOT_AUTHORIZED)]
    );
    assert!(
        !sim.core
            .handle_auth_decision(sim.now, late_token, AuthDecision::Accept),
        "a decision after the timeout names no pending connection"
    );
    assert!(sim.recv(late).is_empty());
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
