//! MQTT 5 enhanced authentication: the AUTH exchange at CONNECT and
//! re-authentication.

use super::*;
use crate::codec::{property, PropertiesBuilder, PropertyContext, Reasoned};
use crate::hooks::AuthDecision;

/// A challenge-response hook for method "TEST": step 0 sends "challenge",
/// step 1 accepts "response" (with "welcome") and refuses anything else.
fn challenge_hook(sim: &mut Sim) {
    sim.core.hooks.auth = Some(Box::new(|info| {
        match (
            info.authentication_method,
            info.step,
            info.authentication_data,
        ) {
            (Some("TEST"), 0, _) => AuthDecision::Continue(b"challenge".to_vec()),
            (Some("TEST"), 1, Some(b"response")) => AuthDecision::AcceptWith(b"welcome".to_vec()),
            (Some(_), _, _) => AuthDecision::Refuse(ReasonCode::BAD_AUTHENTICATION_METHOD),
            (None, _, _) => AuthDecision::Accept,
        }
    }));
}

fn auth_props(method: &str, data: &[u8]) -> PropertiesBuilder {
    let mut p = PropertiesBuilder::new();
    p.string(property::AUTHENTICATION_METHOD, method);
    if !data.is_empty() {
        p.binary(property::AUTHENTICATION_DATA, data);
    }
    p
}

fn connect_with_method<'a>(p: &'a PropertiesBuilder) -> Connect<'a> {
    Connect {
        protocol: Protocol::V5,
        properties: p.unchecked(),
        ..connect("c", true)
    }
}

fn auth(reason: ReasonCode, p: &PropertiesBuilder) -> Packet<'_> {
    Packet::Auth(Reasoned {
        reason,
        properties: p.unchecked(),
    })
}

fn data_of(raw: &[u8]) -> Option<Vec<u8>> {
    Properties::parse(raw, PropertyContext::Auth)
        .ok()?
        .authentication_data()
        .map(<[u8]>::to_vec)
}

#[test]
fn a_challenge_and_its_answer_let_the_client_in() {
    let mut sim = Sim::new();
    challenge_hook(&mut sim);
    let p = auth_props("TEST", b"");
    let (id, got) = sim.connect_with(connect_with_method(&p));
    let [Got::Auth(ReasonCode::CONTINUE_AUTHENTICATION, props)] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(data_of(props), Some(b"challenge".to_vec()));
    sim.send(
        id,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            &auth_props("TEST", b"response"),
        ),
    );
    let got = sim.recv(id);
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
    let connack =
        Properties::parse(&sim.connack_properties[&id], PropertyContext::ConnAck).unwrap();
    assert_eq!(connack.authentication_method(), Some("TEST"));
    assert_eq!(connack.authentication_data(), Some(&b"welcome"[..]));
}

#[test]
fn a_wrong_answer_is_refused() {
    let mut sim = Sim::new();
    challenge_hook(&mut sim);
    let p = auth_props("TEST", b"");
    let (id, _) = sim.connect_with(connect_with_method(&p));
    sim.send(
        id,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            &auth_props("TEST", b"guess"),
        ),
    );
    assert_eq!(
        sim.recv(id),
        vec![Got::ConnAck(false, ReasonCode::BAD_AUTHENTICATION_METHOD)]
    );
    assert!(!sim.is_open(id));
}

#[test]
fn another_method_or_another_packet_during_the_exchange_closes() {
    let mut sim = Sim::new();
    challenge_hook(&mut sim);
    let p = auth_props("TEST", b"");
    let (id, _) = sim.connect_with(connect_with_method(&p));
    sim.send(
        id,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            &auth_props("OTHER", b"response"),
        ),
    );
    assert!(!sim.is_open(id));
    let (id, _) = sim.connect_with(connect_with_method(&p));
    sim.send(id, Packet::PingReq);
    assert!(!sim.is_open(id));
    assert!(sim.recv(id).is_empty(), "no CONNACK, no PINGRESP");
}

#[test]
fn without_a_hook_a_method_is_refused() {
    let mut sim = Sim::new();
    let p = auth_props("SCRAM-SHA-256", b"x");
    let (id, got) = sim.connect_with(connect_with_method(&p));
    assert_eq!(
        got,
        vec![Got::ConnAck(false, ReasonCode::BAD_AUTHENTICATION_METHOD)]
    );
    assert!(!sim.is_open(id));
}

#[test]
fn authentication_data_without_a_method_is_a_protocol_error() {
    let mut sim = Sim::new();
    challenge_hook(&mut sim);
    let mut p = PropertiesBuilder::new();
    p.binary(property::AUTHENTICATION_DATA, b"orphan");
    let (id, got) = sim.connect_with(connect_with_method(&p));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::PROTOCOL_ERROR)]);
    assert!(!sim.is_open(id));
}

#[test]
fn reauthentication_succeeds_or_disconnects() {
    let mut sim = Sim::new();
    challenge_hook(&mut sim);
    let p = auth_props("TEST", b"");
    let (id, _) = sim.connect_with(connect_with_method(&p));
    sim.send(
        id,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            &auth_props("TEST", b"response"),
        ),
    );
    sim.recv(id);
    // Again, while connected.
    sim.send(
        id,
        auth(ReasonCode::RE_AUTHENTICATE, &auth_props("TEST", b"")),
    );
    let got = sim.recv(id);
    assert!(
        matches!(
            &got[..],
            [Got::Auth(ReasonCode::CONTINUE_AUTHENTICATION, _)]
        ),
        "{got:?}"
    );
    // The connection works meanwhile.
    sim.send(id, Packet::PingReq);
    assert_eq!(sim.recv(id), vec![Got::PingResp]);
    sim.send(
        id,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            &auth_props("TEST", b"response"),
        ),
    );
    let got = sim.recv(id);
    let [Got::Auth(ReasonCode::SUCCESS, props)] = &got[..] else {
        panic!("{got:?}")
    };
    assert_eq!(data_of(props), Some(b"welcome".to_vec()));
    // A failed re-authentication disconnects (0x8C is no DISCONNECT code:
    // Not authorized).
    sim.send(
        id,
        auth(ReasonCode::RE_AUTHENTICATE, &auth_props("TEST", b"")),
    );
    sim.recv(id);
    sim.send(
        id,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            &auth_props("TEST", b"nope"),
        ),
    );
    assert_eq!(
        sim.recv(id),
        vec![Got::Disconnect(ReasonCode::NOT_AUTHORIZED)]
    );
    assert!(!sim.is_open(id));
}

#[test]
fn reauthentication_without_a_method_at_connect_is_a_protocol_error() {
    let mut sim = Sim::new();
    let id = sim
        .connect_with(Connect {
            protocol: Protocol::V5,
            ..connect("c", true)
        })
        .0;
    sim.send(
        id,
        auth(ReasonCode::RE_AUTHENTICATE, &auth_props("TEST", b"")),
    );
    assert_eq!(
        sim.recv(id),
        vec![Got::Disconnect(ReasonCode::PROTOCOL_ERROR)]
    );
}

#[test]
fn a_pending_step_is_completed_later() {
    let mut sim = Sim::new();
    sim.core.hooks.auth = Some(Box::new(|info| match info.step {
        0 => AuthDecision::Pending,
        _ => AuthDecision::Accept,
    }));
    let p = auth_props("TEST", b"");
    let (id, got) = sim.connect_with(connect_with_method(&p));
    assert!(got.is_empty());
    let token =
        crate::core::enhanced_auth::auth_token(id, sim.core.conns.get(id).unwrap().generation);
    assert!(sim
        .core
        .handle_auth_decision(sim.now, token, AuthDecision::Continue(b"c".to_vec())));
    let got = sim.recv(id);
    assert!(
        matches!(
            &got[..],
            [Got::Auth(ReasonCode::CONTINUE_AUTHENTICATION, _)]
        ),
        "{got:?}"
    );
    sim.send(
        id,
        auth(
            ReasonCode::CONTINUE_AUTHENTICATION,
            &auth_props("TEST", b"r"),
        ),
    );
    assert_eq!(sim.recv(id), vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
}
