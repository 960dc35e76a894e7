//! What a persistent MQTT 5 session keeps across a restart of the broker
//! (through the memory store, whose clock follows the simulator's): its
//! Session Expiry Interval, its subscriptions' options and identifiers, and
//! its queued messages' properties and remaining expiry.

use super::v5::{connect5, props, publish_properties};
use super::*;
use crate::codec::{property, Reasoned, RetainHandling};
use crate::core::router::Grant;

/// A session "sub" (expiry 3600 s at CONNECT, 7200 s by its DISCONNECT)
/// with a No Local / Retain As Published subscription of identifier 42 on
/// `a/+` and a plain QoS 2 one on `plain`, offline; then, 10 s later, a
/// QoS 1 message on `a/b` with properties and a 100 s expiry queued for it.
/// The broker has run for 30 s when this returns.
fn session_with_a_queued_message(sim: &mut Sim) {
    let mut expiry = props();
    expiry.four_byte(property::SESSION_EXPIRY_INTERVAL, 3600);
    let sub = sim.connect_v5("sub", true, &expiry);
    let options = SubscriptionOptions {
        qos: QoS::AtLeastOnce,
        no_local: true,
        retain_as_published: true,
        retain_handling: RetainHandling::SendIfNew,
    };
    let mut id42 = props();
    id42.varint(property::SUBSCRIPTION_IDENTIFIER, 42);
    sim.subscribe_with(sub, "a/+", options, id42.unchecked());
    sim.subscribe(sub, "plain", QoS::ExactlyOnce);
    let mut longer = props();
    longer.four_byte(property::SESSION_EXPIRY_INTERVAL, 7200);
    sim.send(
        sub,
        Packet::Disconnect(Reasoned {
            reason: ReasonCode::SUCCESS,
            properties: longer.unchecked(),
        }),
    );
    sim.reap();
    sim.advance(Duration::from_secs(10));
    let publisher = sim.connect_v5("pub", true, &props());
    let mut message = props();
    message
        .four_byte(property::MESSAGE_EXPIRY_INTERVAL, 100)
        .string(property::CONTENT_TYPE, "text/plain")
        .user_property("k", "v");
    sim.publish_v5(publisher, "a/b", b"kept", QoS::AtLeastOnce, &message);
    sim.advance(Duration::from_secs(20));
    sim.save();
}

#[test]
fn a_v5_sessions_options_identifier_expiry_and_message_properties_survive_a_restart() {
    let config = test_config();
    let mut sim = Sim::persistent(config.clone());
    session_with_a_queued_message(&mut sim);
    let grants = sim.session("sub").subscriptions.clone();
    assert_eq!(
        grants.get("a/+"),
        Some(&Grant::new(
            SubscriptionOptions {
                qos: QoS::AtLeastOnce,
                no_local: true,
                retain_as_published: true,
                retain_handling: RetainHandling::SendIfNew,
            },
            42
        ))
    );

    // Down for 30 s: the message's 100 s from 10 s into the first run have
    // 50 s left when the second one starts.
    sim.restart(config, Duration::from_secs(30));
    let restarted = sim.now;
    let session = sim.session("sub");
    assert_eq!(session.subscriptions, grants);
    assert_eq!(session.expiry_interval, 7200);
    assert_eq!(
        session.expires_at,
        Some(restarted + Duration::from_secs(7200))
    );
    assert_eq!(session.stored_only.messages, 1);

    sim.advance(Duration::from_secs(5));
    let mut expiry = props();
    expiry.four_byte(property::SESSION_EXPIRY_INTERVAL, 7200);
    let (sub, got) = sim.connect_with(connect5("sub", false, &expiry));
    assert_eq!(got[0], Got::ConnAck(true, ReasonCode::SUCCESS));
    assert_eq!(got.len(), 2, "{got:?}");
    let Got::Publish {
        topic,
        payload,
        qos,
        packet_id,
        ..
    } = &got[1]
    else {
        panic!("not a PUBLISH: {got:?}");
    };
    assert_eq!(
        (topic.as_str(), payload.as_slice(), *qos),
        ("a/b", &b"kept"[..], QoS::AtLeastOnce)
    );
    let mut properties = publish_properties(&got[1]);
    properties.sort();
    let mut want = vec![
        (
            property::MESSAGE_EXPIRY_INTERVAL,
            "FourByte(45)".to_string(),
        ),
        (property::CONTENT_TYPE, "Str(\"text/plain\")".to_string()),
        (property::SUBSCRIPTION_IDENTIFIER, "VarInt(42)".to_string()),
        (property::USER_PROPERTY, "StrPair(\"k\", \"v\")".to_string()),
    ];
    want.sort();
    assert_eq!(properties, want);
    sim.send(sub, Packet::PubAck(codec::Ack::new(*packet_id)));

    // The options route as before: No Local keeps its own message from it,
    // Retain As Published keeps the flag, the identifier comes along.
    sim.publish_v5(sub, "a/own", b"mine", QoS::AtMostOnce, &props());
    assert!(sim.recv(sub).is_empty());
    let publisher = sim.connect("pub3", true);
    sim.publish(publisher, "a/r", b"flagged", QoS::AtMostOnce, true, 0);
    let got = sim.recv(sub);
    assert!(
        matches!(&got[..], [Got::Publish { retain: true, payload, .. }] if payload == b"flagged"),
        "{got:?}"
    );
    assert_eq!(
        publish_properties(&got[0]),
        vec![(property::SUBSCRIPTION_IDENTIFIER, "VarInt(42)".to_string())]
    );
    sim.publish(publisher, "plain", b"two", QoS::ExactlyOnce, false, 9);
    let got = sim.recv(sub);
    assert!(
        matches!(&got[..], [Got::Publish { qos: QoS::ExactlyOnce, properties, .. }] if properties.is_empty()),
        "{got:?}"
    );
}

#[test]
fn a_message_whose_expiry_passed_while_the_broker_was_down_is_dropped() {
    let config = test_config();
    let mut sim = Sim::persistent(config.clone());
    session_with_a_queued_message(&mut sim);
    // 80 s left at the stop; down for 90.
    sim.restart(config, Duration::from_secs(90));
    let mut expiry = props();
    expiry.four_byte(property::SESSION_EXPIRY_INTERVAL, 7200);
    let (_, got) = sim.connect_with(connect5("sub", false, &expiry));
    assert_eq!(got, vec![Got::ConnAck(true, ReasonCode::SUCCESS)]);
    assert_eq!(sim.core.stats().messages_dropped, 1);
}

#[test]
fn a_restored_session_expires_after_its_own_interval_capped_by_the_config() {
    let mut sim = Sim::persistent(test_config());
    session_with_a_queued_message(&mut sim);
    // A broker that allows at most an hour: the session's 7200 s become
    // 3600, counted from the restart.
    let capped = Config {
        session_expiry: Some(Duration::from_secs(3600)),
        ..test_config()
    };
    sim.restart(capped, Duration::from_secs(1));
    assert_eq!(sim.session("sub").expiry_interval, 3600);
    // Its queued message is held, in RAM or only in the store.
    let stats = sim.core.stats();
    assert_eq!(stats.stored_messages, 1);
    assert!(stats.stored_bytes > 0);
    sim.advance(Duration::from_secs(3599));
    assert_eq!(sim.core.stats().sessions, 1);
    sim.advance(Duration::from_secs(1));
    let stats = sim.core.stats();
    assert_eq!((stats.sessions, stats.sessions_expired), (0, 1));
    assert_eq!((stats.stored_messages, stats.stored_bytes), (0, 0));
    // Gone from the store too.
    sim.save();
    let snapshot = sim.store.as_ref().map(|store| store.memory.snapshot());
    assert!(snapshot.is_some_and(|s| s.sessions.is_empty()));
}
