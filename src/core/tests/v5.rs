//! MQTT 5 in the core: CONNECT / CONNACK properties, session expiry,
//! properties forwarded with messages, subscription options, topic
//! aliases, message expiry, flow control, reason codes both ways.

use super::*;
use crate::codec::{property, PropertiesBuilder, PropertyContext, Reasoned, RetainHandling, Will};

pub(super) fn connect5<'a>(
    client_id: &'a str,
    clean: bool,
    properties: &'a PropertiesBuilder,
) -> Connect<'a> {
    Connect {
        protocol: Protocol::V5,
        properties: properties.unchecked(),
        ..connect(client_id, clean)
    }
}

pub(super) fn props() -> PropertiesBuilder {
    PropertiesBuilder::new()
}

impl Sim {
    pub(super) fn connect_v5(
        &mut self,
        client_id: &str,
        clean: bool,
        properties: &PropertiesBuilder,
    ) -> ConnId {
        let (id, got) = self.connect_with(connect5(client_id, clean, properties));
        assert!(
            matches!(got.first(), Some(Got::ConnAck(_, ReasonCode::SUCCESS))),
            "{got:?}"
        );
        id
    }

    pub(super) fn publish_v5(
        &mut self,
        id: ConnId,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        properties: &PropertiesBuilder,
    ) {
        self.send(
            id,
            Packet::Publish(Publish {
                dup: false,
                qos,
                retain: false,
                topic,
                packet_id: (qos != QoS::AtMostOnce).then_some(7),
                payload,
                properties: properties.unchecked(),
            }),
        );
    }

    fn connack_props(&self, id: ConnId) -> Vec<(u8, String)> {
        let raw = self
            .connack_properties
            .get(&id)
            .cloned()
            .unwrap_or_default();
        described(&raw, PropertyContext::ConnAck)
    }
}

/// A property block as `(identifier, value)` text, for assertions.
pub(super) fn described(raw: &[u8], context: PropertyContext) -> Vec<(u8, String)> {
    let properties = Properties::parse(raw, context).expect("valid properties");
    properties
        .iter()
        .map(|(id, value)| (id, format!("{value:?}")))
        .collect()
}

pub(super) fn publish_properties(got: &Got) -> Vec<(u8, String)> {
    match got {
        Got::Publish { properties, .. } => described(properties, PropertyContext::Publish),
        other => panic!("not a PUBLISH: {other:?}"),
    }
}

#[test]
fn connack_announces_limits_and_capabilities() {
    let mut sim = Sim::with_config(Config {
        max_inflight: 20,
        max_topic_alias: 4,
        max_packet_size: 1000,
        ..test_config()
    });
    let id = sim.connect_v5("c", true, &props());
    let got = sim.connack_props(id);
    let has = |p: u8, v: &str| got.iter().any(|(id, value)| *id == p && value.contains(v));
    assert!(has(property::RECEIVE_MAXIMUM, "20"), "{got:?}");
    assert!(has(property::TOPIC_ALIAS_MAXIMUM, "4"), "{got:?}");
    assert!(has(property::MAXIMUM_PACKET_SIZE, "1000"), "{got:?}");
    // Nothing the client did not need: no assigned id, no keep alive, and
    // no capability at its default (all available).
    assert!(!got.iter().any(|(id, _)| [
        property::ASSIGNED_CLIENT_IDENTIFIER,
        property::SERVER_KEEP_ALIVE,
        property::SHARED_SUBSCRIPTION_AVAILABLE,
        property::WILDCARD_SUBSCRIPTION_AVAILABLE,
        property::SUBSCRIPTION_IDENTIFIER_AVAILABLE,
        property::RETAIN_AVAILABLE,
        property::MAXIMUM_QOS,
    ]
    .contains(id)));
}

#[test]
fn empty_client_id_is_assigned_and_told() {
    let mut sim = Sim::new();
    // MQTT 5 allows it with clean start 0 too.
    let id = sim.connect_v5("", false, &props());
    let got = sim.connack_props(id);
    let assigned = got
        .iter()
        .find(|(id, _)| *id == property::ASSIGNED_CLIENT_IDENTIFIER)
        .map(|(_, v)| v.clone())
        .expect("an assigned id");
    assert!(assigned.contains("mqlite-"), "{assigned}");
}

#[test]
fn server_keep_alive_and_session_expiry_limits_are_told() {
    let mut sim = Sim::with_config(Config {
        max_keepalive: Some(30),
        session_expiry: Some(Duration::from_secs(100)),
        ..test_config()
    });
    let mut p = props();
    p.four_byte(property::SESSION_EXPIRY_INTERVAL, 1000);
    let id = sim.connect_v5("c", true, &p);
    let got = sim.connack_props(id);
    assert!(
        got.contains(&(property::SERVER_KEEP_ALIVE, "TwoByte(30)".into())),
        "{got:?}"
    );
    assert!(
        got.contains(&(property::SESSION_EXPIRY_INTERVAL, "FourByte(100)".into())),
        "{got:?}"
    );
    // A 3.1.1 client asking more keep alive than allowed is refused.
    let (_, got) = sim.connect_with(Connect {
        keep_alive: 60,
        ..connect("old", true)
    });
    assert_eq!(
        got,
        vec![Got::ConnAck(false, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID)]
    );
}

#[test]
fn session_expiry_interval_keeps_the_session_that_long() {
    let mut sim = Sim::new();
    let mut p = props();
    p.four_byte(property::SESSION_EXPIRY_INTERVAL, 60);
    let id = sim.connect_v5("c", true, &p);
    sim.subscribe(id, "t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, id);
    sim.reap();
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", b"while away", QoS::AtLeastOnce, false, 1);
    sim.advance(Duration::from_secs(59));
    let (back, got) = sim.connect_with(connect5("c", false, &p));
    assert_eq!(got[0], Got::ConnAck(true, ReasonCode::SUCCESS));
    assert!(matches!(&got[1], Got::Publish { payload, .. } if payload == b"while away"));
    sim.core.handle_closed(sim.now, back);
    sim.reap();
    sim.advance(Duration::from_secs(61));
    let (_, got) = sim.connect_with(connect5("c", false, &p));
    assert_eq!(got[0], Got::ConnAck(false, ReasonCode::SUCCESS));
}

#[test]
fn session_expiry_zero_ends_the_session_with_the_connection() {
    let mut sim = Sim::new();
    let id = sim.connect_v5("c", false, &props());
    sim.subscribe(id, "t", QoS::AtLeastOnce);
    sim.send(id, Packet::Disconnect(Reasoned::default()));
    sim.reap();
    let (_, got) = sim.connect_with(connect5("c", false, &props()));
    assert_eq!(got[0], Got::ConnAck(false, ReasonCode::SUCCESS));
}

#[test]
fn disconnect_may_not_make_a_session_outlive_its_connection() {
    let mut sim = Sim::new();
    let id = sim.connect_v5("c", true, &props());
    let mut p = props();
    p.four_byte(property::SESSION_EXPIRY_INTERVAL, 30);
    sim.send(
        id,
        Packet::Disconnect(Reasoned {
            reason: ReasonCode::SUCCESS,
            properties: p.unchecked(),
        }),
    );
    assert_eq!(
        sim.recv(id),
        vec![Got::Disconnect(ReasonCode::PROTOCOL_ERROR)]
    );
    assert!(!sim.is_open(id));
}

#[test]
fn message_properties_reach_mqtt5_subscribers_in_order() {
    let mut sim = Sim::new();
    let v5 = sim.connect_v5("five", true, &props());
    sim.subscribe(v5, "t", QoS::AtMostOnce);
    let v3 = sim.connect("three", true);
    sim.subscribe(v3, "t", QoS::AtMostOnce);
    let publisher = sim.connect_v5("p", true, &props());
    let mut p = props();
    p.user_property("b", "2")
        .string(property::CONTENT_TYPE, "text/plain")
        .user_property("a", "1")
        .string(property::RESPONSE_TOPIC, "reply/here")
        .binary(property::CORRELATION_DATA, b"\x00\x01")
        .byte(property::PAYLOAD_FORMAT_INDICATOR, 1)
        .two_byte(property::TOPIC_ALIAS, 1);
    sim.publish_v5(publisher, "t", b"x", QoS::AtMostOnce, &p);
    let got = sim.recv(v5);
    let properties = publish_properties(&got[0]);
    let ids: Vec<u8> = properties.iter().map(|(id, _)| *id).collect();
    // The topic alias is the publisher's connection's, never forwarded.
    assert_eq!(
        ids,
        [
            property::USER_PROPERTY,
            property::CONTENT_TYPE,
            property::USER_PROPERTY,
            property::RESPONSE_TOPIC,
            property::CORRELATION_DATA,
            property::PAYLOAD_FORMAT_INDICATOR
        ]
    );
    assert!(properties[0].1.contains("\"b\", \"2\""), "{properties:?}");
    assert!(properties[2].1.contains("\"a\", \"1\""), "{properties:?}");
    // The 3.1.1 subscriber gets the same message without properties.
    assert_eq!(
        sim.publishes(v3),
        vec![publish_got("t", b"x", QoS::AtMostOnce, false)]
    );
}

#[test]
fn topic_aliases_set_use_and_refuse() {
    let mut sim = Sim::with_config(Config {
        max_topic_alias: 2,
        ..test_config()
    });
    let sub = sim.connect("sub", true);
    sim.subscribe(sub, "#", QoS::AtMostOnce);
    let publisher = sim.connect_v5("p", true, &props());
    let mut alias = props();
    alias.two_byte(property::TOPIC_ALIAS, 2);
    sim.publish_v5(publisher, "long/topic/name", b"1", QoS::AtMostOnce, &alias);
    sim.publish_v5(publisher, "", b"2", QoS::AtMostOnce, &alias);
    assert_eq!(
        sim.publishes(sub),
        vec![
            publish_got("long/topic/name", b"1", QoS::AtMostOnce, false),
            publish_got("long/topic/name", b"2", QoS::AtMostOnce, false),
        ]
    );
    assert!(sim.is_open(publisher));
    // Above the maximum the broker announced: Topic Alias invalid.
    let mut too_high = props();
    too_high.two_byte(property::TOPIC_ALIAS, 3);
    sim.publish_v5(publisher, "x", b"3", QoS::AtMostOnce, &too_high);
    assert_eq!(
        sim.recv(publisher),
        vec![Got::Disconnect(ReasonCode::TOPIC_ALIAS_INVALID)]
    );
    assert!(!sim.is_open(publisher));
    // An empty topic without an alias: Protocol Error.
    let other = sim.connect_v5("q", true, &props());
    sim.publish_v5(other, "", b"4", QoS::AtMostOnce, &props());
    assert_eq!(
        sim.recv(other),
        vec![Got::Disconnect(ReasonCode::PROTOCOL_ERROR)]
    );
}

#[test]
fn subscription_identifiers_come_with_each_delivery() {
    let mut sim = Sim::new();
    let sub = sim.connect_v5("sub", true, &props());
    let mut id7 = props();
    id7.varint(property::SUBSCRIPTION_IDENTIFIER, 7);
    let mut id300 = props();
    id300.varint(property::SUBSCRIPTION_IDENTIFIER, 300);
    sim.subscribe_with(sub, "a/+", QoS::AtMostOnce.into(), id7.unchecked());
    sim.subscribe_with(sub, "a/#", QoS::AtMostOnce.into(), id300.unchecked());
    sim.subscribe(sub, "#", QoS::AtMostOnce);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "a/b", b"x", QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "z", b"y", QoS::AtMostOnce, false, 0);
    let got = sim.recv(sub);
    assert_eq!(got.len(), 2, "one copy each: {got:?}");
    let mut ids: Vec<String> = publish_properties(&got[0])
        .into_iter()
        .filter(|(id, _)| *id == property::SUBSCRIPTION_IDENTIFIER)
        .map(|(_, v)| v)
        .collect();
    ids.sort();
    assert_eq!(ids, ["VarInt(300)", "VarInt(7)"]);
    assert!(publish_properties(&got[1]).is_empty());
}

#[test]
fn no_local_keeps_a_clients_own_messages_from_it() {
    let mut sim = Sim::new();
    let c = sim.connect_v5("c", true, &props());
    let options = SubscriptionOptions {
        no_local: true,
        ..QoS::AtMostOnce.into()
    };
    sim.subscribe_with(c, "t", options, Properties::EMPTY);
    sim.publish_v5(c, "t", b"mine", QoS::AtMostOnce, &props());
    assert!(sim.publishes(c).is_empty());
    let other = sim.connect("o", true);
    sim.publish(other, "t", b"theirs", QoS::AtMostOnce, false, 0);
    assert_eq!(
        sim.publishes(c),
        vec![publish_got("t", b"theirs", QoS::AtMostOnce, false)]
    );
}

#[test]
fn retain_as_published_and_retain_handling() {
    let mut sim = Sim::new();
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "r", b"kept", QoS::AtMostOnce, true, 0);
    let c = sim.connect_v5("c", true, &props());
    let rap = SubscriptionOptions {
        retain_as_published: true,
        retain_handling: RetainHandling::SendIfNew,
        ..QoS::AtMostOnce.into()
    };
    let got = sim.subscribe_with(c, "r", rap, Properties::EMPTY);
    assert!(matches!(&got[1], Got::Publish { payload, retain: true, .. } if payload == b"kept"));
    // Subscribing again: not new, so no retained message (handling 1).
    let got = sim.subscribe_with(c, "r", rap, Properties::EMPTY);
    assert_eq!(got.len(), 1, "only the SUBACK: {got:?}");
    // A live retained publish keeps its flag (retain as published).
    sim.publish(publisher, "r", b"live", QoS::AtMostOnce, true, 0);
    assert_eq!(
        sim.publishes(c),
        vec![publish_got("r", b"live", QoS::AtMostOnce, true)]
    );
    // Handling 2: never.
    let d = sim.connect_v5("d", true, &props());
    let never = SubscriptionOptions {
        retain_handling: RetainHandling::DoNotSend,
        ..QoS::AtMostOnce.into()
    };
    let got = sim.subscribe_with(d, "r", never, Properties::EMPTY);
    assert_eq!(got.len(), 1, "only the SUBACK: {got:?}");
}

#[test]
fn message_expiry_counts_down_and_drops_what_waited_too_long() {
    let mut sim = Sim::new();
    let mut p = props();
    p.four_byte(property::SESSION_EXPIRY_INTERVAL, 1000);
    let sub = sim.connect_v5("sub", true, &p);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, sub);
    sim.reap();
    let publisher = sim.connect_v5("p", true, &props());
    let mut ten = props();
    ten.four_byte(property::MESSAGE_EXPIRY_INTERVAL, 10);
    let mut hundred = props();
    hundred.four_byte(property::MESSAGE_EXPIRY_INTERVAL, 100);
    sim.publish_v5(publisher, "t", b"short", QoS::AtLeastOnce, &ten);
    sim.publish_v5(publisher, "t", b"long", QoS::AtLeastOnce, &hundred);
    sim.advance(Duration::from_secs(30));
    let (_, got) = sim.connect_with(connect5("sub", false, &p));
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(matches!(&got[1], Got::Publish { payload, .. } if payload == b"long"));
    assert_eq!(
        publish_properties(&got[1]),
        vec![(
            property::MESSAGE_EXPIRY_INTERVAL,
            "FourByte(70)".to_string()
        )]
    );
}

#[test]
fn the_clients_receive_maximum_bounds_what_is_in_flight() {
    let mut sim = Sim::new();
    let mut p = props();
    p.two_byte(property::RECEIVE_MAXIMUM, 2);
    let sub = sim.connect_v5("sub", true, &p);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = sim.connect("p", true);
    for n in 1..=5 {
        sim.publish(publisher, "t", &[n], QoS::AtLeastOnce, false, u16::from(n));
    }
    let got = sim.recv(sub);
    assert_eq!(got.len(), 2, "{got:?}");
    let Got::Publish { packet_id, .. } = got[0] else {
        panic!("{got:?}")
    };
    sim.send(sub, Packet::PubAck(codec::Ack::new(packet_id)));
    assert_eq!(sim.recv(sub).len(), 1);
}

#[test]
fn nothing_larger_than_the_clients_maximum_packet_size_is_sent() {
    let mut sim = Sim::new();
    let mut p = props();
    p.four_byte(property::MAXIMUM_PACKET_SIZE, 64);
    let sub = sim.connect_v5("sub", true, &p);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", &[0; 100], QoS::AtLeastOnce, false, 1);
    sim.publish(publisher, "t", b"small", QoS::AtLeastOnce, false, 2);
    let got = sim.publishes(sub);
    assert_eq!(
        got,
        vec![publish_got("t", b"small", QoS::AtLeastOnce, false)]
    );
    assert!(sim.core.stats().messages_dropped >= 1);
}

#[test]
fn a_resumed_session_drops_what_exceeds_the_new_maximum_packet_size() {
    // Found by the `core` fuzz target: messages left in flight were sent
    // again (DUP) whatever the Maximum Packet Size the client came back
    // with [MQTT-3.1.2-24], [MQTT-3.1.2-25].
    let mut sim = Sim::new();
    let mut p = props();
    p.four_byte(property::SESSION_EXPIRY_INTERVAL, 60);
    let sub = sim.connect_v5("sub", false, &p);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", &[7; 100], QoS::AtLeastOnce, false, 1);
    sim.publish(publisher, "t", b"small", QoS::AtLeastOnce, false, 2);
    assert_eq!(sim.publishes(sub).len(), 2);
    sim.core.handle_closed(sim.now, sub);
    p.four_byte(property::MAXIMUM_PACKET_SIZE, 64);
    let (sub, got) = sim.connect_with(connect5("sub", false, &p));
    assert_eq!(got[0], Got::ConnAck(true, ReasonCode::SUCCESS));
    let resent: Vec<&[u8]> = got[1..]
        .iter()
        .map(|g| match g {
            Got::Publish {
                payload, dup: true, ..
            } => payload.as_slice(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(resent, [b"small"]);
    assert!(sim.core.stats().messages_dropped >= 1);
    // The dropped one is done with: the window is not held by it.
    assert!(sim.is_open(sub));
}

#[test]
fn a_resumed_session_resends_within_the_new_receive_maximum() {
    // Found by the `core` fuzz target: every message left in flight was
    // sent again at once, beyond the Receive Maximum the client came back
    // with [MQTT-3.3.4-9]; the rest now follow as it acknowledges.
    let mut sim = Sim::new();
    let mut p = props();
    p.four_byte(property::SESSION_EXPIRY_INTERVAL, 60);
    let sub = sim.connect_v5("sub", false, &p);
    sim.subscribe(sub, "t", QoS::AtLeastOnce);
    let publisher = sim.connect("p", true);
    for n in 1..=3 {
        sim.publish(publisher, "t", &[n], QoS::AtLeastOnce, false, u16::from(n));
    }
    assert_eq!(sim.publishes(sub).len(), 3);
    sim.core.handle_closed(sim.now, sub);
    p.two_byte(property::RECEIVE_MAXIMUM, 1);
    let (sub, mut got) = sim.connect_with(connect5("sub", false, &p));
    assert_eq!(got.remove(0), Got::ConnAck(true, ReasonCode::SUCCESS));
    for n in 1..=3u8 {
        let [Got::Publish {
            packet_id,
            dup: true,
            ref payload,
            ..
        }] = got[..]
        else {
            panic!("{got:?}")
        };
        assert_eq!(payload, &[n]);
        sim.send(sub, Packet::PubAck(codec::Ack::new(packet_id)));
        got = sim.recv(sub);
    }
    assert_eq!(got, []);
}

#[test]
fn acknowledgements_carry_reason_codes() {
    let mut sim = Sim::new();
    let c = sim.connect_v5("c", true, &props());
    // Nobody subscribed.
    sim.publish_v5(c, "nobody", b"x", QoS::AtLeastOnce, &props());
    assert_eq!(
        sim.recv(c),
        vec![Got::Reason(
            "PUBACK",
            7,
            ReasonCode::NO_MATCHING_SUBSCRIBERS
        )]
    );
    // A PUBREL for an id never received.
    sim.send(c, Packet::PubRel(codec::Ack::new(9)));
    assert_eq!(
        sim.recv(c),
        vec![Got::Reason(
            "PUBCOMP",
            9,
            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND
        )]
    );
    // UNSUBACK: one code per filter.
    sim.subscribe(c, "a", QoS::AtMostOnce);
    sim.send(
        c,
        Packet::Unsubscribe(codec::Unsubscribe {
            packet_id: 3,
            filters: vec!["a", "b"],
            properties: Properties::EMPTY,
        }),
    );
    assert_eq!(
        sim.recv(c),
        vec![Got::UnsubAckCodes(
            3,
            vec![ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED]
        )]
    );
    // SUBACK: an invalid filter, a shared one (not offered).
    sim.send(
        c,
        Packet::Subscribe(Subscribe {
            packet_id: 4,
            filters: vec![
                ("a/#/b", QoS::AtMostOnce.into()),
                ("$share/+/t", QoS::AtMostOnce.into()),
            ],
            properties: Properties::EMPTY,
        }),
    );
    assert_eq!(
        sim.recv(c),
        vec![Got::SubAck(
            4,
            vec![
                ReasonCode::TOPIC_FILTER_INVALID,
                ReasonCode::TOPIC_FILTER_INVALID
            ]
        )]
    );
}

fn will_connect<'a>(
    client_id: &'a str,
    will_props: &'a PropertiesBuilder,
    session: &'a PropertiesBuilder,
) -> Connect<'a> {
    Connect {
        will: Some(Will {
            topic: "will",
            payload: b"gone",
            qos: QoS::AtMostOnce,
            retain: false,
            properties: will_props.unchecked(),
        }),
        ..connect5(client_id, true, session)
    }
}

#[test]
fn disconnect_with_will_publishes_it_and_a_normal_one_does_not() {
    let mut sim = Sim::new();
    let watcher = sim.connect("w", true);
    sim.subscribe(watcher, "will", QoS::AtMostOnce);
    let (c, _) = sim.connect_with(will_connect("c", &props(), &props()));
    sim.send(c, Packet::Disconnect(Reasoned::default()));
    assert!(sim.publishes(watcher).is_empty());
    let (c, _) = sim.connect_with(will_connect("c", &props(), &props()));
    sim.send(
        c,
        Packet::Disconnect(Reasoned::new(ReasonCode::DISCONNECT_WITH_WILL)),
    );
    assert_eq!(
        sim.publishes(watcher),
        vec![publish_got("will", b"gone", QoS::AtMostOnce, false)]
    );
}

#[test]
fn a_will_published_when_the_socket_closes_counts_its_expiry_from_then() {
    // Found by the `core` fuzz target: a close from the driver (socket
    // closed, kick) did not move the broker's clock, so a will published
    // then went out with its Message Expiry Interval plus the time since
    // the last input [MQTT-3.3.2-6].
    let mut sim = Sim::new();
    let watcher = sim.connect_v5("w", true, &props());
    sim.subscribe(watcher, "will", QoS::AtMostOnce);
    let mut will = props();
    will.four_byte(property::MESSAGE_EXPIRY_INTERVAL, 5);
    let (c, _) = sim.connect_with(will_connect("c", &will, &props()));
    sim.now += Duration::from_secs(20);
    sim.core.handle_closed(sim.now, c);
    let got = sim.recv(watcher);
    assert_eq!(
        publish_properties(&got[0]),
        vec![(property::MESSAGE_EXPIRY_INTERVAL, "FourByte(5)".to_string())]
    );
}

#[test]
fn will_delay_waits_and_a_reconnect_cancels_it() {
    let mut sim = Sim::new();
    let watcher = sim.connect("w", true);
    sim.subscribe(watcher, "will", QoS::AtMostOnce);
    let mut delay = props();
    delay.four_byte(property::WILL_DELAY_INTERVAL, 10);
    let mut session = props();
    session.four_byte(property::SESSION_EXPIRY_INTERVAL, 100);
    // Sent once the delay has passed.
    let (c, _) = sim.connect_with(will_connect("c", &delay, &session));
    sim.core.handle_closed(sim.now, c);
    sim.reap();
    sim.advance(Duration::from_secs(9));
    assert!(sim.publishes(watcher).is_empty());
    sim.advance(Duration::from_secs(2));
    assert_eq!(sim.publishes(watcher).len(), 1);
    // Not sent when the client is back in time.
    let (c, _) = sim.connect_with(Connect {
        clean_session: false,
        ..will_connect("c", &delay, &session)
    });
    sim.core.handle_closed(sim.now, c);
    sim.reap();
    sim.advance(Duration::from_secs(5));
    let back = sim.connect_v5("c", false, &session);
    sim.advance(Duration::from_secs(20));
    assert!(sim.publishes(watcher).is_empty());
    assert!(sim.is_open(back));
    // Sent when the session ends first.
    let mut short = props();
    short.four_byte(property::SESSION_EXPIRY_INTERVAL, 3);
    sim.send(back, Packet::Disconnect(Reasoned::default()));
    sim.reap();
    let (c, _) = sim.connect_with(will_connect("c", &delay, &short));
    sim.core.handle_closed(sim.now, c);
    sim.reap();
    sim.advance(Duration::from_secs(4));
    assert_eq!(sim.publishes(watcher).len(), 1);
}

#[test]
fn the_server_says_why_it_closes() {
    let mut sim = Sim::new();
    // Taken over.
    let first = sim.connect_v5("c", true, &props());
    let _second = sim.connect_v5("c", true, &props());
    assert_eq!(
        sim.recv(first),
        vec![Got::Disconnect(ReasonCode::SESSION_TAKEN_OVER)]
    );
    // Keep alive.
    let (k, _) = sim.connect_with(Connect {
        keep_alive: 10,
        ..connect5("k", true, &props())
    });
    sim.advance(Duration::from_secs(16));
    assert_eq!(
        sim.recv(k),
        vec![Got::Disconnect(ReasonCode::KEEP_ALIVE_TIMEOUT)]
    );
    // A property twice: Protocol Error; an unknown one: Malformed Packet.
    let d = sim.connect_v5("d", true, &props());
    sim.send_raw(d, &[0x30, 0x08, 0, 1, b't', 4, 0x01, 0, 0x01, 0]);
    assert_eq!(
        sim.recv(d),
        vec![Got::Disconnect(ReasonCode::PROTOCOL_ERROR)]
    );
    let m = sim.connect_v5("m", true, &props());
    sim.send_raw(m, &[0x30, 0x06, 0, 1, b't', 2, 0x05, 0]);
    assert_eq!(
        sim.recv(m),
        vec![Got::Disconnect(ReasonCode::MALFORMED_PACKET)]
    );
}

#[test]
fn more_unreleased_qos2_than_our_receive_maximum_closes() {
    let mut sim = Sim::with_config(Config {
        max_inflight: 2,
        ..test_config()
    });
    let c = sim.connect_v5("c", true, &props());
    for pid in 1..=2 {
        sim.publish(c, "t", b"x", QoS::ExactlyOnce, false, pid);
    }
    assert!(sim.is_open(c));
    sim.publish(c, "t", b"x", QoS::ExactlyOnce, false, 3);
    let got = sim.recv(c);
    assert_eq!(
        got.last(),
        Some(&Got::Disconnect(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED))
    );
}

#[test]
fn an_authentication_method_is_refused() {
    let mut sim = Sim::new();
    let mut p = props();
    p.string(property::AUTHENTICATION_METHOD, "SCRAM-SHA-1");
    let (id, got) = sim.connect_with(connect5("c", true, &p));
    assert_eq!(
        got,
        vec![Got::ConnAck(false, ReasonCode::BAD_AUTHENTICATION_METHOD)]
    );
    assert!(!sim.is_open(id));
}

#[test]
fn a_refusal_leaves_out_its_reason_string_beyond_the_maximum_packet_size() {
    // Found by the `core` fuzz target: the refusing CONNACK carried its
    // Reason String whatever the client's Maximum Packet Size
    // [MQTT-3.2.2-19].
    let mut sim = Sim::new();
    let mut p = props();
    p.string(property::AUTHENTICATION_METHOD, "SCRAM-SHA-1")
        .four_byte(property::MAXIMUM_PACKET_SIZE, 20);
    let id = sim.accept();
    sim.send(id, Packet::Connect(Box::new(connect5("c", true, &p))));
    let out = raw_output(&mut sim, id);
    assert_eq!(out, [0x20, 0x03, 0x00, 0x8C, 0x00]);
    assert!(!sim.is_open(id));
    // Within it, the string is there.
    let mut p = props();
    p.string(property::AUTHENTICATION_METHOD, "SCRAM-SHA-1")
        .four_byte(property::MAXIMUM_PACKET_SIZE, 64);
    let id = sim.accept();
    sim.send(id, Packet::Connect(Box::new(connect5("c", true, &p))));
    let out = raw_output(&mut sim, id);
    assert!(out.len() <= 64 && contains(&out, b"Bad authentication method"));
}

#[test]
fn no_local_on_a_shared_subscription_is_a_protocol_error() {
    let mut sim = Sim::new();
    let c = sim.connect_v5("c", true, &props());
    let options = SubscriptionOptions {
        no_local: true,
        ..QoS::AtMostOnce.into()
    };
    let got = sim.subscribe_with(c, "$share/g/t", options, Properties::EMPTY);
    assert_eq!(got, vec![Got::Disconnect(ReasonCode::PROTOCOL_ERROR)]);
}

#[test]
fn the_broker_sets_topic_aliases_for_clients_that_take_them() {
    let mut sim = Sim::new();
    let mut p = props();
    p.two_byte(property::TOPIC_ALIAS_MAXIMUM, 1);
    let sub = sim.connect_v5("sub", true, &p);
    sim.subscribe(sub, "#", QoS::AtMostOnce);
    let publisher = sim.connect("p", true);
    for topic in [
        "long/topic/a",
        "long/topic/a",
        "long/topic/b",
        "long/topic/b",
    ] {
        sim.publish(publisher, topic, b"x", QoS::AtMostOnce, false, 0);
    }
    let got: Vec<(String, Vec<(u8, String)>)> = sim
        .recv(sub)
        .iter()
        .map(|g| match g {
            Got::Publish { topic, .. } => (topic.clone(), publish_properties(g)),
            other => panic!("{other:?}"),
        })
        .collect();
    let alias = |n: u16| vec![(property::TOPIC_ALIAS, format!("TwoByte({n})"))];
    assert_eq!(
        got,
        vec![
            ("long/topic/a".to_string(), alias(1)),
            (String::new(), alias(1)),
            ("long/topic/b".to_string(), alias(1)),
            (String::new(), alias(1)),
        ]
    );
    // A client that did not ask for aliases gets none.
    let plain = sim.connect_v5("plain", true, &props());
    sim.subscribe(plain, "#", QoS::AtMostOnce);
    sim.publish(publisher, "long/topic/a", b"x", QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "long/topic/a", b"x", QoS::AtMostOnce, false, 0);
    let got = sim.recv(plain);
    assert!(
        got.iter().all(|g| publish_properties(g).is_empty()),
        "{got:?}"
    );
}

#[test]
fn a_topic_alias_never_takes_a_publish_over_the_maximum_packet_size() {
    // Setting an alias adds 3 bytes the size check did not count: a
    // PUBLISH that just fit went out larger than the client's Maximum
    // Packet Size [MQTT-3.1.2-24]. It now goes out without the alias.
    let mut sim = Sim::new();
    let mut p = props();
    // "t" with 20 bytes at QoS 0: 26 bytes, 29 with a Topic Alias.
    p.two_byte(property::TOPIC_ALIAS_MAXIMUM, 5)
        .four_byte(property::MAXIMUM_PACKET_SIZE, 26);
    let sub = sim.connect_v5("sub", true, &p);
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", &[1; 20], QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "t", &[2; 10], QoS::AtMostOnce, false, 0);
    let out = raw_output(&mut sim, sub);
    let mut pos = 0;
    let mut got = Vec::new();
    while pos < out.len() {
        let (packet, used) = codec::decode_as(&out[pos..], usize::MAX, Some(Protocol::V5))
            .unwrap()
            .unwrap();
        assert!(used <= 26, "{used}-byte {packet:?}");
        if let Packet::Publish(publish) = packet {
            got.push((publish.topic.to_string(), publish.properties.topic_alias()));
        }
        pos += used;
    }
    assert_eq!(
        got,
        [("t".to_string(), None), ("t".to_string(), Some(1))],
        "the first without an alias, the next sets it"
    );
}

#[test]
fn a_topic_alias_used_never_takes_a_publish_over_the_maximum_packet_size() {
    // Found by the `core` fuzz target: an alias (3 bytes) standing for a
    // one-byte topic makes the PUBLISH 2 bytes larger than with the topic.
    let mut sim = Sim::new();
    let mut p = props();
    // "t" with 20 bytes at QoS 0: 26 bytes, 28 with the alias in its place.
    p.two_byte(property::TOPIC_ALIAS_MAXIMUM, 5)
        .four_byte(property::MAXIMUM_PACKET_SIZE, 26);
    let sub = sim.connect_v5("sub", true, &p);
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", &[1; 10], QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "t", &[2; 20], QoS::AtMostOnce, false, 0);
    sim.publish(publisher, "t", &[3; 10], QoS::AtMostOnce, false, 0);
    let out = raw_output(&mut sim, sub);
    let mut pos = 0;
    let mut got = Vec::new();
    while pos < out.len() {
        let (packet, used) = codec::decode_as(&out[pos..], usize::MAX, Some(Protocol::V5))
            .unwrap()
            .unwrap();
        assert!(used <= 26, "{used}-byte {packet:?}");
        if let Packet::Publish(publish) = packet {
            got.push((publish.topic.to_string(), publish.properties.topic_alias()));
        }
        pos += used;
    }
    assert_eq!(
        got,
        [
            ("t".to_string(), Some(1)),
            ("t".to_string(), None),
            (String::new(), Some(1))
        ]
    );
}

#[test]
fn response_information_is_given_to_who_asks() {
    let mut sim = Sim::with_config(Config {
        response_information: Some("responses/%c".into()),
        ..test_config()
    });
    let mut ask = props();
    ask.byte(property::REQUEST_RESPONSE_INFORMATION, 1);
    let id = sim.connect_v5("c", true, &ask);
    assert!(sim.connack_props(id).contains(&(
        property::RESPONSE_INFORMATION,
        "Str(\"responses/c\")".into()
    )));
    let other = sim.connect_v5("d", true, &props());
    assert!(!sim
        .connack_props(other)
        .iter()
        .any(|(id, _)| *id == property::RESPONSE_INFORMATION));
}

#[test]
fn a_redirecting_broker_names_the_other_server() {
    let mut sim = Sim::with_config(Config {
        redirect: Some("other.example:1883".into()),
        redirect_permanent: true,
        ..test_config()
    });
    let (id, got) = sim.connect_with(connect5("c", true, &props()));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SERVER_MOVED)]);
    assert!(sim.connack_props(id).contains(&(
        property::SERVER_REFERENCE,
        "Str(\"other.example:1883\")".into()
    )));
    let (_, got) = sim.connect_with(connect("old", true));
    assert_eq!(
        got,
        vec![Got::ConnAck(false, ReasonCode::SERVER_UNAVAILABLE)]
    );
}

#[test]
fn host_publishes_carry_properties_and_an_expiry_from_now() {
    let mut sim = Sim::new();
    let sub = sim.connect_v5("sub", true, &props());
    sim.subscribe(sub, "t", QoS::AtMostOnce);
    let properties = crate::PublishProperties {
        content_type: Some("text/plain".into()),
        user_properties: vec![("k".into(), "v".into())],
        message_expiry_interval: Some(30),
        ..Default::default()
    };
    let message = properties
        .message("t", b"x", QoS::AtMostOnce, false)
        .unwrap();
    sim.advance(Duration::from_secs(100));
    sim.core
        .handle_host_publish_with(sim.now, message, properties.message_expiry_interval);
    let got = sim.recv(sub);
    let ids: Vec<u8> = publish_properties(&got[0])
        .iter()
        .map(|(id, _)| *id)
        .collect();
    assert_eq!(
        ids,
        [
            property::MESSAGE_EXPIRY_INTERVAL,
            property::CONTENT_TYPE,
            property::USER_PROPERTY
        ]
    );
    assert!(publish_properties(&got[0])[0].1.contains("30"));
}

/// Everything written to `id` so far, raw.
fn raw_output(sim: &mut Sim, id: ConnId) -> Vec<u8> {
    let out = sim.core.output(id).to_vec();
    sim.core.handle_written(sim.now, id, out.len());
    out
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn refusals_carry_a_code_and_disconnects_a_reason_string() {
    let mut sim = Sim::new();
    sim.core.hooks.acl = Some(Box::new(|_, access, _| access != crate::AclAccess::Publish));
    let c = sim.connect_v5("c", true, &props());
    // The PUBACK: the code alone (some clients cannot read properties
    // there).
    sim.publish_v5(c, "t", b"x", QoS::AtLeastOnce, &props());
    let out = raw_output(&mut sim, c);
    assert_eq!(out, [0x40, 0x03, 0x00, 0x07, 0x87]);
    // A DISCONNECT for a malformed packet says what was wrong.
    sim.send_raw(c, &[0x30, 0x06, 0, 1, b't', 2, 0x05, 0]);
    let out = raw_output(&mut sim, c);
    assert!(
        contains(&out, b"not allowed"),
        "{:?}",
        String::from_utf8_lossy(&out)
    );
}

#[test]
fn a_pubrec_with_an_error_ends_the_qos2_flow() {
    let mut sim = Sim::new();
    let mut p = props();
    p.two_byte(property::RECEIVE_MAXIMUM, 1);
    let sub = sim.connect_v5("sub", true, &p);
    sim.subscribe(sub, "t", QoS::ExactlyOnce);
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", b"1", QoS::ExactlyOnce, false, 1);
    sim.publish(publisher, "t", b"2", QoS::ExactlyOnce, false, 2);
    let got = sim.recv(sub);
    let [Got::Publish { packet_id, .. }] = got[..] else {
        panic!("{got:?}")
    };
    // The client refuses the message: no PUBREL, and the window moves on.
    sim.send(
        sub,
        Packet::PubRec(codec::Ack {
            packet_id,
            reason: ReasonCode::QUOTA_EXCEEDED,
            properties: Properties::EMPTY,
        }),
    );
    let got = sim.recv(sub);
    assert!(
        matches!(&got[..], [Got::Publish { payload, .. }] if payload == b"2"),
        "{got:?}"
    );
}
