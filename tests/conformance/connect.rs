//! MQTT 3.1.1 conformance, over raw sockets: connecting (mosquitto's
//! `test/broker` group 01).
//!
//! §3.1 CONNECT (protocol name and level, flags, client identifier, will
//! and credential fields, [MQTT-3.1.0-1] / [MQTT-3.1.0-2]), §3.2 CONNACK
//! return codes and session present for a clean session, §3.1.4 server
//! behaviour (takeover, nothing processed after a refusal), §3.14
//! DISCONNECT, plus framing (pipelined and byte-by-byte packets), the
//! connect timeout and `max_connections`. Each test names the normative
//! statement(s) it checks. Every test runs its own broker.

use crate::support;

use std::time::Duration;

use mqlite::codec::{Packet, Properties, Reasoned};
use support::conformance::*;
use support::*;

#[test]
fn accepted_with_session_present_0_for_clean_session() {
    // [MQTT-3.2.2-1] clean session 1: session present 0, code 0.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    c.send_connect(&ConnectOptions::new("c1"));
    assert_eq!(c.expect_connack(), (false, 0));
    c.ping();
    assert_eq!(broker.clients(), vec!["c1".to_string()]);
    c.disconnect();
}

#[test]
fn protocol_level_6_gets_0x01_and_close() {
    // [MQTT-3.1.2-2] unsupported level: CONNACK 0x01, then close.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    // A CONNECT of a level after MQTT 5 (level 5 is MQTT 5, accepted):
    // level 6 and an empty properties block.
    let body = cat(&[&field(b"MQTT"), &[6, 0x02, 0, 60, 0], &field(b"v6")]);
    c.send_raw(&frame(0x10, &body));
    assert_eq!(
        c.drain_until_closed(),
        vec![Pkt::ConnAck {
            session_present: false,
            code: 1
        }]
    );
    broker.assert_serves();
}

#[test]
fn mqisdp_with_level_4_gets_0x01_and_close() {
    // [MQTT-3.1.2-2] MQIsdp is MQTT 3.1, which is level 3 only.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let body = cat(&[&field(b"MQIsdp"), &[4, 0x02, 0, 60], &field(b"old")]);
    c.send_raw(&frame(0x10, &body));
    assert_eq!(
        c.drain_until_closed(),
        vec![Pkt::ConnAck {
            session_present: false,
            code: 1
        }]
    );
    broker.assert_serves();
}

#[test]
fn mqtt_with_level_3_gets_0x01_and_close() {
    // [MQTT-3.1.2-2] the name MQTT with level 3 is not a supported pair.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let body = cat(&[&field(b"MQTT"), &[3, 0x02, 0, 60], &field(b"x")]);
    c.send_raw(&frame(0x10, &body));
    assert_eq!(
        c.drain_until_closed(),
        vec![Pkt::ConnAck {
            session_present: false,
            code: 1
        }]
    );
    broker.assert_serves();
}

#[test]
fn unknown_protocol_name_is_not_accepted() {
    // [MQTT-3.1.2-1] an incorrect protocol name: the server MAY
    // disconnect and MUST NOT go on under this specification.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let body = cat(&[&field(b"MQTX"), &[4, 0x02, 0, 60], &field(b"x")]);
    c.send_raw(&frame(0x10, &body));
    assert_refused_without_accept(&c.drain_until_closed());
    broker.assert_serves();
}

#[test]
fn empty_client_id_with_clean_session_0_gets_0x02() {
    // [MQTT-3.1.3-8] zero-byte id with clean session 0: CONNACK 0x02,
    // then close.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    c.send_connect(&ConnectOptions::new("").clean(false));
    assert_eq!(
        c.drain_until_closed(),
        vec![Pkt::ConnAck {
            session_present: false,
            code: 2
        }]
    );
    broker.assert_serves();
}

#[test]
fn empty_client_id_with_clean_session_1_is_assigned_one() {
    // [MQTT-3.1.3-6] the server assigns a unique id.
    let broker = TestBroker::start();
    let mut a = broker.socket();
    assert!(!a.connect_with(&ConnectOptions::new("")));
    let mut b = broker.socket();
    assert!(!b.connect_with(&ConnectOptions::new("")));
    // Both are connected at once under distinct ids.
    a.ping();
    b.ping();
    let clients = broker.clients();
    assert_eq!(clients.len(), 2, "{clients:?}");
    assert_ne!(clients[0], clients[1]);
    assert!(clients.iter().all(|id| !id.is_empty()), "{clients:?}");
}

#[test]
fn empty_client_id_refused_when_not_allowed() {
    // allow_zero_length_client_id = false: CONNACK 0x02 [MQTT-3.1.3-9].
    let broker = TestBroker::start_with(|c| c.allow_zero_length_client_id = false);
    let mut c = broker.socket();
    c.send_connect(&ConnectOptions::new(""));
    assert_eq!(
        c.drain_until_closed(),
        vec![Pkt::ConnAck {
            session_present: false,
            code: 2
        }]
    );
    broker.assert_serves();
}

#[test]
fn first_packet_not_connect_closes() {
    // [MQTT-3.1.0-1] the first packet from the client MUST be CONNECT.
    let broker = TestBroker::start();
    for first in [
        encode(&Packet::PingReq),
        encode(&Packet::Subscribe(mqlite::codec::Subscribe {
            packet_id: 1,
            filters: vec![("#", Q0.into())],
            properties: Properties::EMPTY,
        })),
        encode(&Packet::Publish(mqlite::codec::Publish {
            dup: false,
            qos: Q0,
            retain: false,
            topic: "a",
            packet_id: None,
            payload: b"x",
            properties: Properties::EMPTY,
        })),
    ] {
        let mut c = broker.socket();
        c.send_raw(&first);
        c.expect_closed();
    }
    broker.assert_serves();
}

#[test]
fn second_connect_closes() {
    // [MQTT-3.1.0-2] a second CONNECT is a protocol violation.
    let broker = TestBroker::start();
    let mut c = broker.connect("twice", true, 60);
    c.send_connect(&ConnectOptions::new("twice"));
    c.expect_closed();
    broker.wait_disconnected("twice");
    broker.assert_serves();
}

#[test]
fn connect_timeout_closes_silent_socket() {
    // A socket that never sends CONNECT is closed after connect_timeout
    // (mosquitto: 01-connect-*-timeout).
    // When they close is checked by the core's simulation
    // (`src/core/tests/connect.rs`, `timers.rs`).
    let broker = TestBroker::start_with(|c| c.connect_timeout = Duration::from_secs(1));
    let mut silent = broker.socket();
    let mut partial = broker.socket();
    // The first 5 bytes of a CONNECT, and nothing more.
    let connect = ConnectOptions::new("slow").encode();
    partial.send_raw(&connect[..5]);
    silent.expect_closed();
    partial.expect_closed();
    broker.assert_serves();
}

#[test]
fn reserved_connect_flag_closes() {
    // [MQTT-3.1.2-3] the reserved flag (bit 0) MUST be 0.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let body = cat(&[&field(b"MQTT"), &[4, 0x03, 0, 60], &field(b"r")]);
    c.send_raw(&frame(0x10, &body));
    assert_refused_without_accept(&c.drain_until_closed());
    broker.assert_serves();
}

#[test]
fn will_qos_without_will_flag_closes() {
    // [MQTT-3.1.2-13] will flag 0: will QoS MUST be 0.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let body = cat(&[&field(b"MQTT"), &[4, 0x02 | 0x08, 0, 60], &field(b"w")]);
    c.send_raw(&frame(0x10, &body));
    assert_refused_without_accept(&c.drain_until_closed());
    broker.assert_serves();
}

#[test]
fn will_qos_3_closes() {
    // [MQTT-3.1.2-14] will QoS 3 is invalid.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let body = cat(&[
        &field(b"MQTT"),
        &[4, 0x02 | 0x04 | 0x18, 0, 60],
        &field(b"w"),
        &field(b"will/t"),
        &field(b"bye"),
    ]);
    c.send_raw(&frame(0x10, &body));
    assert_refused_without_accept(&c.drain_until_closed());
    broker.assert_serves();
}

#[test]
fn password_without_username_closes() {
    // [MQTT-3.1.2-22] password flag set, user name flag not.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let body = cat(&[
        &field(b"MQTT"),
        &[4, 0x02 | 0x40, 0, 60],
        &field(b"p"),
        &field(b"secret"),
    ]);
    c.send_raw(&frame(0x10, &body));
    assert_refused_without_accept(&c.drain_until_closed());
    broker.assert_serves();
}

#[test]
fn username_and_password_accepted() {
    // No authentication is configured: credentials are accepted.
    let broker = TestBroker::start();
    let (c, present) =
        broker.connect_with(&ConnectOptions::new("cred").credentials("user", b"pass"));
    assert!(!present);
    c.disconnect();
}

#[test]
fn will_topic_with_wildcard_is_not_accepted() {
    // [MQTT-3.1.2-9] the will topic is a topic name; wildcards are not
    // allowed in topic names [MQTT-4.7.1-1].
    let broker = TestBroker::start();
    let mut c = broker.socket();
    c.send_connect(&ConnectOptions::new("bad-will").will("will/#", b"x", Q0, false));
    assert_refused_without_accept(&c.drain_until_closed());
    broker.assert_serves();
}

#[test]
fn data_after_a_refused_connect_is_not_processed() {
    // [MQTT-3.1.4-5] a rejected CONNECT: nothing the client sent after
    // it is processed (here a retained PUBLISH in the same write).
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let mut bytes = ConnectOptions::new("").clean(false).encode();
    bytes.extend(encode(&Packet::Publish(mqlite::codec::Publish {
        dup: false,
        qos: Q0,
        retain: true,
        topic: "sneaky",
        packet_id: None,
        payload: b"x",
        properties: Properties::EMPTY,
    })));
    c.send_raw(&bytes);
    assert_eq!(
        c.drain_until_closed(),
        vec![Pkt::ConnAck {
            session_present: false,
            code: 2
        }]
    );
    let stats = broker.stats();
    assert_eq!(
        (stats.retained_messages, stats.messages_received),
        (0, 0),
        "{stats:?}"
    );
}

#[test]
fn data_after_disconnect_is_not_processed() {
    // [MQTT-3.14.4-2]: after DISCONNECT the connection is over; a
    // PUBLISH behind it in the same write is not processed.
    let broker = TestBroker::start();
    let mut c = broker.connect("bye", true, 60);
    let mut bytes = encode(&Packet::Disconnect(Reasoned::default()));
    bytes.extend(encode(&Packet::Publish(mqlite::codec::Publish {
        dup: false,
        qos: Q0,
        retain: true,
        topic: "after",
        packet_id: None,
        payload: b"x",
        properties: Properties::EMPTY,
    })));
    c.send_raw(&bytes);
    c.expect_closed();
    broker.wait_disconnected("bye");
    assert_eq!(broker.stats().retained_messages, 0);
}

#[test]
fn pipelined_packets_in_one_write() {
    // Several packets in one TCP segment are all handled, in order.
    let broker = TestBroker::start();
    let mut c = broker.socket();
    let mut bytes = ConnectOptions::new("pipeline").encode();
    bytes.extend(encode(&Packet::Subscribe(mqlite::codec::Subscribe {
        packet_id: 5,
        filters: vec![("pipe", Q1.into())],
        properties: Properties::EMPTY,
    })));
    bytes.extend(encode(&Packet::Publish(mqlite::codec::Publish {
        dup: false,
        qos: Q1,
        retain: false,
        topic: "pipe",
        packet_id: Some(6),
        payload: b"self",
        properties: Properties::EMPTY,
    })));
    bytes.extend(encode(&Packet::PingReq));
    c.send_raw(&bytes);
    assert_eq!(c.expect_connack(), (false, 0));
    assert_eq!(
        c.expect_packet(),
        Pkt::SubAck {
            packet_id: 5,
            codes: vec![1]
        }
    );
    let mut rest = vec![c.expect_packet(), c.expect_packet(), c.expect_packet()];
    let Some(index) = rest.iter().position(|p| matches!(p, Pkt::Publish(_))) else {
        panic!("no PUBLISH in {rest:?}")
    };
    let Pkt::Publish(msg) = rest.remove(index) else {
        unreachable!()
    };
    assert_eq!(&msg.payload[..], b"self");
    c.ack(&msg);
    // PUBACK before PINGRESP: answers keep the order of the requests.
    assert_eq!(rest, vec![Pkt::PubAck(6), Pkt::PingResp]);
}

#[test]
fn packets_split_into_single_bytes() {
    // A client writing one byte at a time is reassembled.
    let broker = TestBroker::start();
    let mut sub = broker.connect("sub", true, 60);
    sub.subscribe(&[("slow/bytes", Q1)]);
    let mut c = broker.socket();
    let mut bytes = ConnectOptions::new("dribble").encode();
    bytes.extend(encode(&Packet::Publish(mqlite::codec::Publish {
        dup: false,
        qos: Q1,
        retain: false,
        topic: "slow/bytes",
        packet_id: Some(1),
        payload: b"one byte at a time",
        properties: Properties::EMPTY,
    })));
    for byte in bytes {
        c.send_raw(&[byte]);
        // Pacing: each byte should reach the broker in a read of its own.
        std::thread::sleep(Duration::from_millis(2));
    }
    assert_eq!(c.expect_connack(), (false, 0));
    assert_eq!(c.expect_packet(), Pkt::PubAck(1));
    sub.expect_message("slow/bytes", b"one byte at a time");
}

#[test]
fn max_connections_refuses_extra_sockets() {
    // Config max_connections: further sockets are closed at once.
    let broker = TestBroker::start_with(|c| c.max_connections = 2);
    let mut a = broker.connect("a", true, 60);
    let mut b = broker.connect("b", true, 60);
    let mut extra = broker.socket();
    extra.send_connect(&ConnectOptions::new("c"));
    extra.expect_closed();
    assert_eq!(broker.stats().connections_refused, 1);
    a.ping();
    b.ping();
    // A slot frees up when a client leaves.
    a.disconnect();
    broker.wait_disconnected("a");
    let mut c = broker.connect("c", true, 60);
    c.ping();
}

#[test]
fn takeover_closes_the_old_connection() {
    // [MQTT-3.1.4-2] a second client with the same id: the server MUST
    // disconnect the existing client.
    let broker = TestBroker::start();
    let mut old = broker.connect("same", true, 60);
    let mut new = broker.connect("same", true, 60);
    old.expect_closed();
    new.ping();
    assert_eq!(broker.clients(), vec!["same".to_string()]);
}
