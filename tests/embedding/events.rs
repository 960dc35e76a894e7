//! The event hook: connect, subscribe, unsubscribe and disconnect events,
//! and the reason of every kind of close (client DISCONNECT, network,
//! takeover, kick, protocol error, keepalive timeout, broker shutdown).
//!
//! rumqttc is the client where it can express the scenario; raw sockets
//! (with `mqlite::codec`) give the precise disconnect reasons. Every wait
//! is bounded; no test asserts on timing.

use crate::support;

use mqlite::codec::{Packet, Reasoned};
use mqlite::{CloseReason, QoS};
use support::embedding::events::{disconnected, next_event_of, record_events, Ev};
use support::mqtt::{mqtt, with_credentials};
use support::{test_config, ConnectOptions, RawClient, TestBroker};

#[test]
fn event_hook_sees_connect_subscribe_unsubscribe_and_disconnect() {
    let mut events = None;
    let broker =
        TestBroker::start_setup(test_config(), |broker| events = Some(record_events(broker)));
    let events = events.unwrap();

    let client = mqtt(broker.addr, "ev-1", with_credentials("eve", "pw")).connected();
    client.subscribe("a/+", rumqttc::QoS::AtLeastOnce);
    client.client.unsubscribe("a/+").unwrap();
    client.wait_for("UNSUBACK", |packet| {
        matches!(packet, rumqttc::Packet::UnsubAck(_)).then_some(())
    });
    // Unsubscribing from a filter it does not hold reports nothing.
    client.client.unsubscribe("never/subscribed").unwrap();
    client.wait_for("UNSUBACK", |packet| {
        matches!(packet, rumqttc::Packet::UnsubAck(_)).then_some(())
    });
    client.client.disconnect().unwrap();

    assert_eq!(
        next_event_of(&events, "ev-1"),
        Ev::Connected {
            client_id: "ev-1".into(),
            username: Some("eve".into()),
            clean_session: true,
            session_present: false,
        }
    );
    assert_eq!(
        next_event_of(&events, "ev-1"),
        Ev::Subscribed {
            client_id: "ev-1".into(),
            filter: "a/+".into(),
            qos: QoS::AtLeastOnce,
        }
    );
    assert_eq!(
        next_event_of(&events, "ev-1"),
        Ev::Unsubscribed {
            client_id: "ev-1".into(),
            filter: "a/+".into(),
        }
    );
    assert_eq!(
        next_event_of(&events, "ev-1"),
        disconnected("ev-1", CloseReason::Disconnect)
    );
}

#[test]
fn event_hook_reports_network_takeover_kick_protocol_error_and_shutdown() {
    let mut events = None;
    let broker =
        TestBroker::start_setup(test_config(), |broker| events = Some(record_events(broker)));
    let events = events.unwrap();

    // The socket just goes away.
    let gone = RawClient::connect_to(broker.addr, "r-network", true, 0).0;
    assert!(matches!(
        next_event_of(&events, "r-network"),
        Ev::Connected { .. }
    ));
    drop(gone);
    assert_eq!(
        next_event_of(&events, "r-network"),
        disconnected("r-network", CloseReason::Network)
    );

    // A second connection with the same client id takes over.
    let mut first = RawClient::connect_to(broker.addr, "r-takeover", true, 0).0;
    assert!(matches!(
        next_event_of(&events, "r-takeover"),
        Ev::Connected { .. }
    ));
    let _second = RawClient::connect_to(broker.addr, "r-takeover", true, 0).0;
    assert_eq!(
        next_event_of(&events, "r-takeover"),
        disconnected("r-takeover", CloseReason::Takeover)
    );
    assert!(matches!(
        next_event_of(&events, "r-takeover"),
        Ev::Connected { .. }
    ));
    first.drain_until_closed();

    // The host kicks a client.
    let mut kicked = RawClient::connect_to(broker.addr, "r-kicked", true, 0).0;
    assert!(matches!(
        next_event_of(&events, "r-kicked"),
        Ev::Connected { .. }
    ));
    broker.handle.kick("r-kicked").unwrap();
    assert_eq!(
        next_event_of(&events, "r-kicked"),
        disconnected("r-kicked", CloseReason::Kicked)
    );
    kicked.drain_until_closed();

    // A second CONNECT breaks the protocol.
    let mut rude = RawClient::connect_to(broker.addr, "r-protocol", true, 0).0;
    assert!(matches!(
        next_event_of(&events, "r-protocol"),
        Ev::Connected { .. }
    ));
    rude.send_raw(&ConnectOptions::new("r-protocol").keepalive(0).encode());
    assert_eq!(
        next_event_of(&events, "r-protocol"),
        disconnected("r-protocol", CloseReason::ProtocolError)
    );
    rude.drain_until_closed();

    // A clean DISCONNECT.
    let mut polite = RawClient::connect_to(broker.addr, "r-polite", true, 0).0;
    assert!(matches!(
        next_event_of(&events, "r-polite"),
        Ev::Connected { .. }
    ));
    polite.send(&Packet::Disconnect(Reasoned::default()));
    assert_eq!(
        next_event_of(&events, "r-polite"),
        disconnected("r-polite", CloseReason::Disconnect)
    );

    // Stopping the broker ends whoever is left.
    broker.handle.stop();
    assert_eq!(
        next_event_of(&events, "r-takeover"),
        disconnected("r-takeover", CloseReason::Shutdown)
    );
}

#[test]
fn event_hook_reports_keepalive_timeout_of_a_silent_client() {
    let mut events = None;
    let broker =
        TestBroker::start_setup(test_config(), |broker| events = Some(record_events(broker)));
    let events = events.unwrap();

    // Keepalive 1 s, then silence: closed after 1.5 s.
    let mut silent = RawClient::connect_to(broker.addr, "r-silent", true, 1).0;
    assert!(matches!(
        next_event_of(&events, "r-silent"),
        Ev::Connected { .. }
    ));
    assert_eq!(
        next_event_of(&events, "r-silent"),
        disconnected("r-silent", CloseReason::KeepaliveTimeout)
    );
    silent.drain_until_closed();
}
