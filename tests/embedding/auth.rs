//! The authentication hook, seen from real MQTT clients: immediate
//! decisions (accept, bad credentials, not authorized), pending decisions
//! completed from another thread through `BrokerHandle::complete_auth`,
//! packets a client sends while its authentication is pending, and the
//! refusal of a pending connection after `Config::auth_timeout`.
//!
//! rumqttc is the client wherever it can express the scenario; a raw socket
//! sends packets before the CONNACK. Every wait is bounded; no test asserts
//! on timing.

use crate::support;

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use mqlite::codec::{self, Packet, Properties, Protocol, Publish, Subscribe};
use mqlite::{AuthDecision, AuthToken, Config, QoS};
use rumqttc::ConnectReturnCode;
use support::embedding::events::{next_event_of, record_events, Ev};
use support::embedding::text;
use support::mqtt::{mqtt, with_credentials};
use support::{test_config, ConnectOptions, Pkt, RawClient, TestBroker, TIMEOUT};

#[test]
fn auth_hook_refuses_bad_password_and_unauthorized_and_accepts_good_ones() {
    let (seen_tx, seen) = mpsc::channel();
    let broker = TestBroker::start_setup(test_config(), |broker| {
        broker.set_auth_hook(move |info| {
            let _ = seen_tx.send((
                info.client_id.to_string(),
                info.protocol,
                info.clean_session,
                info.peer
                    .socket_addr()
                    .is_some_and(|addr| addr.ip().is_loopback()),
            ));
            match (info.username, info.password) {
                (Some("alice"), Some(b"wonderland")) => AuthDecision::Accept,
                (Some("alice"), _) => AuthDecision::BadCredentials,
                _ => AuthDecision::NotAuthorized,
            }
        });
    });

    let bad = mqtt(broker.addr, "auth-bad", with_credentials("alice", "wrong"));
    assert_eq!(bad.refusal(), ConnectReturnCode::BadUserNamePassword);

    let anonymous = mqtt(broker.addr, "auth-anonymous", |_| {});
    assert_eq!(anonymous.refusal(), ConnectReturnCode::NotAuthorized);

    let stranger = mqtt(broker.addr, "auth-stranger", with_credentials("bob", "x"));
    assert_eq!(stranger.refusal(), ConnectReturnCode::NotAuthorized);

    let good = mqtt(
        broker.addr,
        "auth-good",
        with_credentials("alice", "wonderland"),
    );
    let ack = good.connack().expect("alice is accepted");
    assert_eq!(ack.code, ConnectReturnCode::Success);

    let clients = broker.handle.connected_clients(TIMEOUT).unwrap();
    assert_eq!(clients, vec!["auth-good".to_string()]);

    let seen: Vec<_> = seen.try_iter().collect();
    let ids: Vec<&str> = seen.iter().map(|(id, ..)| id.as_str()).collect();
    assert_eq!(
        ids,
        ["auth-bad", "auth-anonymous", "auth-stranger", "auth-good"]
    );
    for (_, protocol, clean_session, loopback) in &seen {
        assert_eq!(*protocol, Protocol::V311);
        assert!(*clean_session);
        assert!(*loopback);
    }
}

#[test]
fn pending_auth_is_completed_from_another_thread() {
    let (pending_tx, pending_rx) = mpsc::channel::<(u64, String)>();
    let broker = TestBroker::start_setup(test_config(), |broker| {
        broker.set_auth_hook(move |info| {
            let user = info.username.unwrap_or_default().to_string();
            // The token travels as a number, as it would through C.
            let _ = pending_tx.send((info.token.to_u64(), user));
            AuthDecision::Pending
        });
    });

    // The "slow authentication service".
    let handle = broker.handle.clone();
    let decider = thread::spawn(move || {
        let mut decided = 0;
        while decided < 3 {
            let Ok((token, user)) = pending_rx.recv_timeout(TIMEOUT) else {
                break;
            };
            // Pacing: the decision comes after the CONNECT, as from a
            // remote service.
            thread::sleep(Duration::from_millis(20));
            let decision = match user.as_str() {
                "ok" => AuthDecision::Accept,
                "wrong" => AuthDecision::BadCredentials,
                _ => AuthDecision::NotAuthorized,
            };
            handle
                .complete_auth(AuthToken::from_u64(token), decision)
                .expect("the broker is running");
            decided += 1;
        }
        decided
    });

    let accepted = mqtt(broker.addr, "pending-ok", with_credentials("ok", "pw"));
    let ack = accepted.connack().expect("accepted after the decision");
    assert_eq!(ack.code, ConnectReturnCode::Success);

    let wrong = mqtt(
        broker.addr,
        "pending-wrong",
        with_credentials("wrong", "pw"),
    );
    assert_eq!(wrong.refusal(), ConnectReturnCode::BadUserNamePassword);

    let refused = mqtt(
        broker.addr,
        "pending-refused",
        with_credentials("nobody", "pw"),
    );
    assert_eq!(refused.refusal(), ConnectReturnCode::NotAuthorized);

    assert_eq!(decider.join().unwrap(), 3);

    // The accepted client works normally.
    accepted.subscribe("pending/echo", rumqttc::QoS::AtLeastOnce);
    accepted
        .client
        .publish("pending/echo", rumqttc::QoS::AtLeastOnce, false, "hi")
        .unwrap();
    assert_eq!(text(&accepted.expect_publish().payload), "hi");
}

#[test]
fn packets_sent_while_auth_is_pending_are_handled_after_accept() {
    let (pending_tx, pending_rx) = mpsc::channel::<AuthToken>();
    let broker = TestBroker::start_setup(test_config(), |broker| {
        broker.set_auth_hook(move |info| {
            let _ = pending_tx.send(info.token);
            AuthDecision::Pending
        });
    });

    // CONNECT, SUBSCRIBE and a PUBLISH to itself, all before any answer.
    let mut raw = RawClient::open(broker.addr);
    let mut bytes = ConnectOptions::new("eager")
        .keepalive(30)
        .credentials("eager", b"pw")
        .encode();
    codec::encode(
        &Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![("eager/topic", QoS::AtLeastOnce.into())],
            properties: Properties::EMPTY,
        }),
        &mut bytes,
    )
    .unwrap();
    codec::encode(
        &Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "eager/topic",
            packet_id: Some(2),
            payload: b"early bird",
            properties: Properties::EMPTY,
        }),
        &mut bytes,
    )
    .unwrap();
    raw.send_raw(&bytes);

    let token = pending_rx.recv_timeout(TIMEOUT).expect("the hook ran");
    broker
        .handle
        .complete_auth(token, AuthDecision::Accept)
        .unwrap();

    assert_eq!(raw.expect_connack().1, 0);
    assert!(
        matches!(raw.expect_packet(), Pkt::SubAck { codes, .. } if codes == [1]),
        "SUBACK granting QoS 1"
    );
    // The PUBACK and the delivery of the PUBLISH to itself, in either order.
    let mut rest = [raw.expect_packet(), raw.expect_packet()];
    rest.sort_by_key(|packet| matches!(packet, Pkt::Publish(_)));
    assert_eq!(rest[0], Pkt::PubAck(2));
    match &rest[1] {
        Pkt::Publish(msg) => assert_eq!(
            (msg.topic.as_str(), msg.payload.as_slice()),
            ("eager/topic", &b"early bird"[..])
        ),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
}

#[test]
fn pending_auth_without_decision_is_refused_after_auth_timeout() {
    let (pending_tx, pending_rx) = mpsc::channel::<AuthToken>();
    let config = Config {
        auth_timeout: Duration::from_secs(1),
        ..test_config()
    };
    let mut events = None;
    let broker = TestBroker::start_setup(config, |broker| {
        broker.set_auth_hook(move |info| {
            if info.username == Some("slow") {
                let _ = pending_tx.send(info.token);
                AuthDecision::Pending
            } else {
                AuthDecision::Accept
            }
        });
        events = Some(record_events(broker));
    });
    let events = events.unwrap();

    let slow = mqtt(broker.addr, "never-decided", with_credentials("slow", "pw"));
    assert_eq!(slow.refusal(), ConnectReturnCode::NotAuthorized);
    let token = pending_rx.recv_timeout(TIMEOUT).expect("the hook ran");

    // A late decision is harmless.
    broker
        .handle
        .complete_auth(token, AuthDecision::Accept)
        .expect("complete_auth after the timeout is not an error");

    // The broker still serves others, and never reported the refused one.
    let next = mqtt(
        broker.addr,
        "decided-at-once",
        with_credentials("fast", "pw"),
    )
    .connected();
    next.subscribe("still/alive", rumqttc::QoS::AtMostOnce);
    let event = next_event_of(&events, "decided-at-once");
    assert!(matches!(event, Ev::Connected { .. }), "{event:?}");
    let stray: Vec<Ev> = events
        .try_iter()
        .filter(|event| event.client_id() == "never-decided")
        .collect();
    assert!(stray.is_empty(), "events for a refused client: {stray:?}");
    let clients = broker.handle.connected_clients(TIMEOUT).unwrap();
    assert_eq!(clients, vec!["decided-at-once".to_string()]);
}
