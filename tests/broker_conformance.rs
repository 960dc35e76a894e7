//! MQTT 3.1.1 conformance of the broker, over raw sockets.
//!
//! Grouped like eclipse/mosquitto's `test/broker`: 01 connect, 02
//! subscribe/publish, 03 publish QoS flows, 04 retain, 05 sessions, 07 will,
//! 08 keepalive, 09 malformed input, plus MQTT 3.1. Each test names the
//! normative statement(s) it checks. Every test runs its own broker.

mod support;

use std::time::{Duration, Instant};

use mqlite::codec::{Packet, QoS};
use support::*;

const Q0: QoS = QoS::AtMostOnce;
const Q1: QoS = QoS::AtLeastOnce;
const Q2: QoS = QoS::ExactlyOnce;

/// Asserts that a close is not preceded by an accepting CONNACK.
fn assert_refused_without_accept(packets: &[Pkt]) {
    for pkt in packets {
        if let Pkt::ConnAck { code, .. } = pkt {
            assert_ne!(*code, 0, "connection accepted: {packets:?}");
        } else {
            panic!("unexpected packet before the close: {pkt:?}");
        }
    }
}

mod connect_01 {
    use super::*;

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
    fn protocol_level_5_gets_0x01_and_close() {
        // [MQTT-3.1.2-2] unsupported level: CONNACK 0x01, then close.
        let broker = TestBroker::start();
        let mut c = broker.socket();
        // An MQTT 5 CONNECT: level 5 and an empty properties block.
        let body = cat(&[&field(b"MQTT"), &[5, 0x02, 0, 60, 0], &field(b"v5")]);
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
                filters: vec![("#", Q0)],
            })),
            encode(&Packet::Publish(mqlite::codec::Publish {
                dup: false,
                qos: Q0,
                retain: false,
                topic: "a",
                packet_id: None,
                payload: b"x",
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
        let broker = TestBroker::start_with(|c| c.connect_timeout = Duration::from_secs(1));
        let started = Instant::now();
        let mut silent = broker.socket();
        let mut partial = broker.socket();
        // The first 5 bytes of a CONNECT, and nothing more.
        let connect = ConnectOptions::new("slow").encode();
        partial.send_raw(&connect[..5]);
        silent.expect_closed();
        partial.expect_closed();
        assert!(
            started.elapsed() >= Duration::from_millis(900),
            "closed before connect_timeout: {:?}",
            started.elapsed()
        );
        broker.assert_serves();
    }

    #[test]
    fn connect_in_time_is_not_timed_out() {
        let broker = TestBroker::start_with(|c| c.connect_timeout = Duration::from_secs(1));
        let mut c = broker.connect("in-time", true, 0);
        std::thread::sleep(Duration::from_millis(1500));
        c.ping();
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
        let mut bytes = encode(&Packet::Disconnect);
        bytes.extend(encode(&Packet::Publish(mqlite::codec::Publish {
            dup: false,
            qos: Q0,
            retain: true,
            topic: "after",
            packet_id: None,
            payload: b"x",
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
            filters: vec![("pipe", Q1)],
        })));
        bytes.extend(encode(&Packet::Publish(mqlite::codec::Publish {
            dup: false,
            qos: Q1,
            retain: false,
            topic: "pipe",
            packet_id: Some(6),
            payload: b"self",
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
        })));
        for byte in bytes {
            c.send_raw(&[byte]);
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
}

mod subpub_02 {
    use super::*;

    #[test]
    fn qos0_publish_reaches_subscriber() {
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        assert_eq!(sub.subscribe(&[("a/b", Q0)]), vec![0]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("a/b", b"hello", Q0, false);
        let msg = sub.expect_publish();
        assert_eq!(
            msg,
            Msg {
                topic: "a/b".into(),
                payload: b"hello".to_vec(),
                qos: Q0,
                retain: false,
                dup: false,
                packet_id: None
            }
        );
        sub.expect_nothing();
    }

    #[test]
    fn suback_grants_requested_qos() {
        // [MQTT-3.9.3-1] one code per filter, in order; [MQTT-3.8.4-5]
        // granted QoS may be lower, here it is the requested one.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        assert_eq!(
            sub.subscribe(&[("a", Q0), ("b", Q1), ("c", Q2)]),
            vec![0, 1, 2]
        );
    }

    #[test]
    fn suback_0x80_for_bad_filters_mixed_with_good_ones() {
        // [MQTT-3.9.3-1] codes in filter order; 0x80 for a refused filter
        // [MQTT-4.7.1-2] [MQTT-4.7.1-3] [MQTT-4.7.3-1]; the good ones work.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        let codes = sub.subscribe(&[
            ("good/#", Q1),
            ("bad/#/x", Q1),
            ("bad+", Q0),
            ("", Q0),
            ("ok/+/x", Q2),
            ("#/", Q0),
            ("a/b#", Q0),
        ]);
        assert_eq!(codes, vec![1, 0x80, 0x80, 0x80, 2, 0x80, 0x80]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("good/1", b"g", Q1, false);
        publisher.publish_acked("ok/y/x", b"o", Q2, false);
        let first = sub.expect_message("good/1", b"g");
        assert_eq!(first.qos, Q1);
        let second = sub.expect_message("ok/y/x", b"o");
        assert_eq!(second.qos, Q2);
        sub.expect_nothing();
        sub.ping();
    }

    #[test]
    fn qos_is_downgraded_to_the_subscription() {
        // [MQTT-3.8.4-6] delivered QoS = min(published, granted).
        let broker = TestBroker::start();
        let mut s0 = broker.connect("s0", true, 60);
        let mut s1 = broker.connect("s1", true, 60);
        let mut s2 = broker.connect("s2", true, 60);
        s0.subscribe(&[("t", Q0)]);
        s1.subscribe(&[("t", Q1)]);
        s2.subscribe(&[("t", Q2)]);
        let mut publisher = broker.connect("pub", true, 60);
        for (qos, payload) in [(Q2, b"p2"), (Q1, b"p1"), (Q0, b"p0")] {
            publisher.publish_acked("t", payload, qos, false);
            for (sub, granted) in [(&mut s0, Q0), (&mut s1, Q1), (&mut s2, Q2)] {
                let msg = sub.expect_message("t", payload);
                assert_eq!(
                    msg.qos,
                    qos.min(granted),
                    "published {qos:?}, granted {granted:?}"
                );
                assert_eq!(msg.packet_id.is_some(), msg.qos != Q0);
            }
        }
        for sub in [&mut s0, &mut s1, &mut s2] {
            sub.expect_nothing();
        }
    }

    #[test]
    fn overlapping_subscriptions_give_one_copy_at_max_qos() {
        // [MQTT-3.3.5-1] the server delivers respecting the maximum QoS of
        // all matching subscriptions (mqlite sends one copy, as mosquitto's
        // default does).
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("o/+", Q0), ("o/#", Q2), ("o/x", Q1), ("#", Q0)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("o/x", b"once", Q2, false);
        let msg = sub.expect_message("o/x", b"once");
        assert_eq!(msg.qos, Q2);
        sub.expect_nothing();
        // Published at QoS 1: one copy at QoS 1.
        publisher.publish_acked("o/x", b"q1", Q1, false);
        assert_eq!(sub.expect_message("o/x", b"q1").qos, Q1);
        sub.expect_nothing();
    }

    #[test]
    fn dollar_topics_not_matched_by_leading_wildcards() {
        // [MQTT-4.7.2-1] `#` and `+/...` do not match topics starting
        // with `$`; an explicit `$foo/+` does.
        let broker = TestBroker::start();
        let mut wild = broker.connect("wild", true, 60);
        assert_eq!(
            wild.subscribe(&[("#", Q0), ("+/x", Q0), ("+/+", Q0)]),
            vec![0, 0, 0]
        );
        let mut explicit = broker.connect("explicit", true, 60);
        assert_eq!(
            explicit.subscribe(&[("$foo/+", Q0), ("$SYS/#", Q0)]),
            vec![0, 0]
        );
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("$foo/x", b"dollar", Q0, false);
        broker.handle.publish("$SYS/x", b"sys", Q0, false).unwrap();
        let mut got: Vec<String> = (0..2).map(|_| explicit.expect_publish().topic).collect();
        got.sort();
        assert_eq!(got, vec!["$SYS/x".to_string(), "$foo/x".to_string()]);
        wild.expect_nothing();
        // A plain topic still reaches the wildcard subscriber (once).
        publisher.publish_acked("plain/x", b"p", Q0, false);
        wild.expect_message("plain/x", b"p");
        wild.expect_nothing();
    }

    #[test]
    fn wildcard_matching_rules() {
        // [MQTT-4.7.1-2] `#` matches the parent and any number of levels;
        // [MQTT-4.7.1-3] `+` matches exactly one level (possibly empty).
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("sport/#", Q0), ("a/+/c", Q0), ("x/+", Q0)]);
        let mut publisher = broker.connect("pub", true, 60);
        let cases: &[(&str, bool)] = &[
            ("sport", true),
            ("sport/tennis/player1", true),
            ("sports", false),
            ("a/b/c", true),
            ("a//c", true),
            ("a/b/c/d", false),
            ("a/c", false),
            ("x/", true),
            ("x", false),
            ("x/y/z", false),
            ("/x/y", false),
            ("A/b/c", false),
        ];
        for (topic, matched) in cases {
            publisher.publish_acked(topic, topic.as_bytes(), Q0, false);
            if *matched {
                sub.expect_message(topic, topic.as_bytes());
            } else {
                sub.expect_nothing_for(Duration::from_millis(100));
            }
        }
    }

    #[test]
    fn utf8_topics_match_level_by_level() {
        // [MQTT-4.7.3-4] no normalization; multi-byte characters are plain
        // bytes of a level.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("t/+/日本", Q1), ("température/#", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("t/ümlaut/日本", b"1", Q1, false);
        publisher.publish_acked("t/ümlaut/日本語", b"2", Q1, false);
        publisher.publish_acked("température/salle", b"3", Q1, false);
        publisher.publish_acked("temperature/salle", b"4", Q1, false);
        sub.expect_message("t/ümlaut/日本", b"1");
        sub.expect_message("température/salle", b"3");
        sub.expect_nothing();
    }

    #[test]
    fn long_topic_round_trip() {
        // [MQTT-4.7.3-3] topics up to 65 535 bytes.
        let broker = TestBroker::start();
        let topic = format!("long/{}", "x".repeat(65_535 - 5));
        assert_eq!(topic.len(), 65_535);
        let mut sub = broker.connect("sub", true, 60);
        assert_eq!(sub.subscribe(&[(&topic, Q1), ("long/#", Q0)]), vec![1, 0]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked(&topic, b"far", Q1, true);
        assert_eq!(sub.expect_message(&topic, b"far").qos, Q1);
        sub.expect_nothing();
    }

    #[test]
    fn many_filters_in_one_subscribe() {
        // [MQTT-3.8.4-4] one SUBACK code per filter, in order.
        let broker = TestBroker::start();
        let filters: Vec<String> = (0..500).map(|i| format!("many/{i}")).collect();
        let requested: Vec<(&str, QoS)> = filters
            .iter()
            .enumerate()
            .map(|(i, f)| (f.as_str(), [Q0, Q1, Q2][i % 3]))
            .collect();
        let mut sub = broker.connect("sub", true, 60);
        let codes = sub.subscribe(&requested);
        let expected: Vec<u8> = (0..500).map(|i| (i % 3) as u8).collect();
        assert_eq!(codes, expected);
        assert_eq!(broker.stats().subscriptions, 500);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("many/499", b"last", Q2, false);
        assert_eq!(sub.expect_message("many/499", b"last").qos, Q1);
    }

    #[test]
    fn sys_topics_published_but_hidden_from_hash() {
        // `$SYS/broker/...` statistics every sys_interval, retained, not
        // matched by `#` [MQTT-4.7.2-1].
        let broker = TestBroker::start_with(|c| c.sys_interval = Some(Duration::from_secs(1)));
        let mut all = broker.connect("all", true, 60);
        all.subscribe(&[("#", Q0)]);
        let mut sys = broker.connect("sys", true, 60);
        sys.subscribe(&[("$SYS/broker/clients/connected", Q0)]);
        let msg = sys.expect_publish();
        assert_eq!(msg.topic, "$SYS/broker/clients/connected");
        assert_eq!(String::from_utf8_lossy(&msg.payload), "2");
        all.expect_nothing_for(Duration::from_millis(1500));
        // Retained: a later subscriber gets the last value at once.
        let mut late = broker.connect("late", true, 60);
        late.subscribe(&[("$SYS/broker/version", Q0)]);
        let msg = late.expect_publish();
        assert!(msg.retain, "{msg:?}");
        assert!(
            String::from_utf8_lossy(&msg.payload).contains("mqlite"),
            "{msg:?}"
        );
    }

    #[test]
    fn unsubscribe_stops_delivery() {
        // [MQTT-3.10.4-1] the subscription is deleted; [MQTT-3.10.4-4]
        // UNSUBACK with the same packet id; [MQTT-3.10.4-5] also when
        // nothing matched.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("u/1", Q1), ("u/2", Q1)]);
        sub.unsubscribe(&["u/1", "never/subscribed"]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("u/1", b"gone", Q1, false);
        publisher.publish_acked("u/2", b"kept", Q1, false);
        sub.expect_message("u/2", b"kept");
        sub.expect_nothing();
    }

    #[test]
    fn unsubscribe_one_of_overlapping_filters_keeps_the_others() {
        // [MQTT-3.10.4-1] only the exactly matching filter is removed, and
        // only for this client.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("ov/#", Q1), ("ov/+", Q0)]);
        let mut other = broker.connect("other", true, 60);
        other.subscribe(&[("ov/+", Q0)]);
        sub.unsubscribe(&["ov/+"]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("ov/x", b"still", Q1, false);
        assert_eq!(sub.expect_message("ov/x", b"still").qos, Q1);
        other.expect_message("ov/x", b"still");
        sub.unsubscribe(&["ov/#"]);
        publisher.publish_acked("ov/x", b"gone", Q1, false);
        other.expect_message("ov/x", b"gone");
        sub.expect_nothing();
    }

    #[test]
    fn unsubscribe_completes_deliveries_already_started() {
        // [MQTT-3.10.4-3] QoS 1/2 deliveries started before UNSUBSCRIBE
        // are completed: an unacknowledged message is re-sent on resume.
        let broker = TestBroker::start();
        let mut sub = broker.connect("unsub", false, 60);
        sub.subscribe(&[("started", Q1)]);
        broker.handle.publish("started", b"m", Q1, false).unwrap();
        let first = sub.expect_publish();
        sub.unsubscribe(&["started"]);
        sub.close_abruptly();
        broker.wait_disconnected("unsub");
        broker
            .handle
            .publish("started", b"after", Q1, false)
            .unwrap();
        let mut sub = broker.socket();
        assert!(sub.connect("unsub", false, 60));
        let again = sub.expect_publish();
        assert_eq!(
            (again.packet_id, again.dup, &again.payload[..]),
            (first.packet_id, true, &b"m"[..])
        );
        sub.ack(&again);
        sub.expect_nothing();
    }

    #[test]
    fn many_connections_fan_out() {
        // 200 subscribers on one broker each get one copy.
        let broker = TestBroker::start();
        let mut subs: Vec<RawClient> = (0..200)
            .map(|i| {
                let mut c = broker.connect(&format!("fan{i}"), true, 60);
                c.subscribe(&[("fan/out", Q1)]);
                c
            })
            .collect();
        assert_eq!(broker.stats().clients_connected, 200);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("fan/out", b"all", Q1, false);
        for sub in &mut subs {
            sub.expect_message("fan/out", b"all");
        }
        for sub in &mut subs {
            sub.expect_nothing_for(Duration::from_millis(5));
        }
    }

    #[test]
    fn resubscribe_replaces_qos() {
        // [MQTT-3.8.4-3] an identical filter replaces the subscription.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("r/t", Q2)]);
        sub.subscribe(&[("r/t", Q0)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("r/t", b"x", Q2, false);
        assert_eq!(sub.expect_message("r/t", b"x").qos, Q0);
        sub.expect_nothing();
    }

    #[test]
    fn pingreq_gets_pingresp() {
        // [MQTT-3.12.4-1]
        let broker = TestBroker::start();
        let mut c = broker.connect("pinger", true, 60);
        for _ in 0..3 {
            c.ping();
        }
    }

    #[test]
    fn publisher_subscribed_to_its_own_topic_receives_it() {
        // MQTT 3.1.1 has no "no local": the message goes back to its sender.
        let broker = TestBroker::start();
        let mut c = broker.connect("self", true, 60);
        c.subscribe(&[("me", Q0)]);
        c.publish("me", b"echo", Q0, false);
        c.expect_message("me", b"echo");
    }

    #[test]
    fn host_publish_reaches_raw_subscriber() {
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("host/#", Q2)]);
        broker
            .handle
            .publish("host/a", b"from host", Q1, false)
            .unwrap();
        let msg = sub.expect_message("host/a", b"from host");
        assert_eq!((msg.qos, msg.retain), (Q1, false));
    }
}

mod publish_qos_03 {
    use super::*;

    #[test]
    fn qos1_end_to_end() {
        // [MQTT-4.3.2-1] the sender's PUBLISH carries a fresh non-zero id
        // and DUP 0; [MQTT-4.3.2-2] PUBACK carries the PUBLISH's id.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("q1", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.send_publish("q1", b"one", Q1, false, false, Some(0x1234));
        assert_eq!(publisher.expect_packet(), Pkt::PubAck(0x1234));
        let msg = sub.expect_publish();
        assert_eq!((msg.qos, msg.dup, msg.retain), (Q1, false, false));
        let id = msg.packet_id.expect("QoS 1 has a packet id");
        assert_ne!(id, 0);
        sub.send(&Packet::PubAck(id));
        sub.expect_nothing();
    }

    #[test]
    fn qos2_end_to_end() {
        // [MQTT-4.3.3-2] receiver: PUBREC, then PUBCOMP for the PUBREL;
        // [MQTT-4.3.3-1] sender: PUBREL after PUBREC, with the same id.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("q2", Q2)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.send_publish("q2", b"two", Q2, false, false, Some(77));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(77));
        let msg = sub.expect_publish();
        assert_eq!(
            (msg.qos, msg.dup, &msg.payload[..]),
            (Q2, false, &b"two"[..])
        );
        let id = msg.packet_id.unwrap();
        sub.send(&Packet::PubRec(id));
        assert_eq!(sub.expect_packet(), Pkt::PubRel(id));
        publisher.send(&Packet::PubRel(77));
        assert_eq!(publisher.expect_packet(), Pkt::PubComp(77));
        sub.send(&Packet::PubComp(id));
        sub.expect_nothing();
        publisher.expect_nothing();
    }

    #[test]
    fn qos2_duplicate_publish_before_pubrel_delivered_once() {
        // [MQTT-4.3.3-2] until PUBREL, a PUBLISH with the same id is not a
        // new publication; after PUBREL the id may be reused for a new one.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("dup", Q2)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.send_publish("dup", b"m", Q2, false, false, Some(7));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
        publisher.send_publish("dup", b"m", Q2, false, true, Some(7));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
        publisher.send_publish("dup", b"m", Q2, false, true, Some(7));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
        sub.expect_message("dup", b"m");
        sub.expect_nothing();
        publisher.send(&Packet::PubRel(7));
        assert_eq!(publisher.expect_packet(), Pkt::PubComp(7));
        // Id 7 released: this is a new message.
        publisher.publish_acked("dup", b"next", Q2, false);
        publisher.send_publish("dup", b"again", Q2, false, false, Some(7));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(7));
        publisher.send(&Packet::PubRel(7));
        assert_eq!(publisher.expect_packet(), Pkt::PubComp(7));
        sub.expect_message("dup", b"next");
        sub.expect_message("dup", b"again");
        sub.expect_nothing();
    }

    #[test]
    fn qos1_duplicate_publish_is_acknowledged_each_time() {
        // [MQTT-4.3.2-2] every QoS 1 PUBLISH gets a PUBACK (QoS 1 may
        // deliver more than once, so no count is asserted beyond one).
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("d1", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.send_publish("d1", b"m", Q1, false, false, Some(3));
        assert_eq!(publisher.expect_packet(), Pkt::PubAck(3));
        publisher.send_publish("d1", b"m", Q1, false, true, Some(3));
        assert_eq!(publisher.expect_packet(), Pkt::PubAck(3));
        sub.expect_message("d1", b"m");
    }

    #[test]
    fn incoming_dup_flag_is_not_propagated() {
        // [MQTT-3.3.1-3] the DUP flag of an incoming PUBLISH is not
        // propagated: a first delivery has DUP 0.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("dupflag", Q2)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.send_publish("dupflag", b"1", Q1, false, true, Some(1));
        assert_eq!(publisher.expect_packet(), Pkt::PubAck(1));
        publisher.send_publish("dupflag", b"2", Q2, false, true, Some(2));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(2));
        publisher.send(&Packet::PubRel(2));
        assert_eq!(publisher.expect_packet(), Pkt::PubComp(2));
        assert!(!sub.expect_message("dupflag", b"1").dup);
        assert!(!sub.expect_message("dupflag", b"2").dup);
    }

    #[test]
    fn pubrel_for_unknown_id_gets_pubcomp() {
        // [MQTT-4.3.3-2] PUBCOMP answers PUBREL even for an id the server
        // no longer holds (e.g. after a lost PUBCOMP).
        let broker = TestBroker::start();
        let mut c = broker.connect("c", true, 60);
        c.send(&Packet::PubRel(999));
        assert_eq!(c.expect_packet(), Pkt::PubComp(999));
    }

    #[test]
    fn messages_keep_their_order() {
        // [MQTT-4.6.0-5] the server forwards messages on a topic in the
        // order it received them.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("ord", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        for i in 0..30u32 {
            publisher.publish_acked("ord", i.to_string().as_bytes(), Q1, false);
        }
        for i in 0..30u32 {
            sub.expect_message("ord", i.to_string().as_bytes());
        }
        sub.expect_nothing();
    }

    #[test]
    fn outbound_packet_ids_are_unique_while_in_flight() {
        // [MQTT-2.3.1-2] a new QoS 1/2 PUBLISH uses an unused id.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("ids", Q2)]);
        let mut publisher = broker.connect("pub", true, 60);
        for i in 0..10u8 {
            publisher.publish_acked("ids", &[i], if i % 2 == 0 { Q1 } else { Q2 }, false);
        }
        let mut ids: Vec<u16> = (0..10)
            .map(|_| sub.expect_publish().packet_id.unwrap())
            .collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 10, "{ids:?}");
        assert!(!ids.contains(&0));
    }

    #[test]
    fn max_inflight_limits_unacknowledged_messages() {
        // Config max_inflight: at most N unacknowledged, the rest follow as
        // acknowledgements come back, in order.
        let broker = TestBroker::start_with(|c| c.max_inflight = 2);
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("w", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        for i in 0..5u8 {
            publisher.publish_acked("w", &[i], Q1, false);
        }
        let first = sub.expect_publish();
        let second = sub.expect_publish();
        assert_eq!(
            (first.payload.clone(), second.payload.clone()),
            (vec![0], vec![1])
        );
        sub.expect_nothing();
        sub.ack(&first);
        let third = sub.expect_publish();
        assert_eq!(third.payload, vec![2]);
        sub.expect_nothing();
        sub.ack(&second);
        sub.ack(&third);
        sub.expect_message("w", &[3]);
        sub.expect_message("w", &[4]);
        sub.expect_nothing();
    }

    #[test]
    fn slow_qos1_subscriber_loses_nothing_and_slows_no_one() {
        // Config max_pending_output: a subscriber that stops reading gets
        // its QoS 1 messages queued (not lost, still in order) while the
        // others keep receiving.
        let broker = TestBroker::start_with(|c| c.max_inflight = 500);
        let mut slow = broker.connect("slow", true, 60);
        slow.subscribe(&[("flood", Q1)]);
        let mut fast = broker.connect("fast", true, 60);
        fast.subscribe(&[("flood", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        let count = 200u32;
        let chunk = vec![0xabu8; 64 * 1024];
        for i in 0..count {
            let mut payload = i.to_be_bytes().to_vec();
            payload.extend_from_slice(&chunk);
            publisher.publish_acked("flood", &payload, Q1, false);
            let msg = fast.expect_publish();
            assert_eq!(&msg.payload[..4], &i.to_be_bytes(), "fast subscriber");
            fast.ack(&msg);
        }
        for i in 0..count {
            let msg = slow.expect_publish();
            assert_eq!(&msg.payload[..4], &i.to_be_bytes(), "slow subscriber");
            assert!(!msg.dup);
            slow.ack(&msg);
        }
        slow.expect_nothing();
    }

    #[test]
    fn slow_qos0_subscriber_drops_and_slows_no_one() {
        // QoS 0 to a subscriber that stops reading is dropped past
        // max_pending_output (counted); what arrives is in order.
        let broker = TestBroker::start();
        let mut slow = broker.connect("slow", true, 60);
        slow.subscribe(&[("flood", Q0)]);
        let mut fast = broker.connect("fast", true, 60);
        fast.subscribe(&[("flood", Q0)]);
        let mut publisher = broker.connect("pub", true, 60);
        let count = 400u32;
        let chunk = vec![0xcdu8; 64 * 1024];
        for i in 0..count {
            let mut payload = i.to_be_bytes().to_vec();
            payload.extend_from_slice(&chunk);
            publisher.publish("flood", &payload, Q0, false);
            let msg = fast.expect_publish();
            assert_eq!(&msg.payload[..4], &i.to_be_bytes(), "fast subscriber");
        }
        publisher.ping();
        assert!(broker.stats().messages_dropped > 0, "{:?}", broker.stats());
        let mut last = None;
        let mut received = 0;
        while let Recv::Packet(pkt) = slow.recv(Duration::from_millis(500)) {
            let Pkt::Publish(msg) = pkt else {
                panic!("{pkt:?}")
            };
            let n = u32::from_be_bytes(msg.payload[..4].try_into().unwrap());
            assert!(last.is_none_or(|l| n > l), "{n} after {last:?}");
            last = Some(n);
            received += 1;
        }
        assert!(received < count, "nothing was dropped");
        slow.ping();
    }

    #[test]
    fn retain_flag_is_0_for_existing_subscriptions() {
        // [MQTT-3.3.1-9] a retained publication forwarded to a current
        // subscriber has retain 0.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("live", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("live", b"r", Q1, true);
        let msg = sub.expect_message("live", b"r");
        assert!(!msg.retain, "{msg:?}");
    }

    #[test]
    fn zero_length_payload_is_delivered() {
        // A PUBLISH may have an empty payload (§3.3.3).
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("empty", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("empty", b"", Q1, false);
        sub.expect_message("empty", b"");
    }

    #[test]
    fn large_payload_is_delivered_intact() {
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("big", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        let payload: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        publisher.publish_acked("big", &payload, Q1, false);
        sub.expect_message("big", &payload);
    }
}

mod retain_04 {
    use super::*;

    #[test]
    fn retained_delivered_to_new_subscriber_with_retain_1() {
        // [MQTT-3.3.1-5] stored; [MQTT-3.3.1-6] sent to new subscribers;
        // [MQTT-3.3.1-8] with retain 1.
        let broker = TestBroker::start();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("ret/a", b"kept", Q1, true);
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("ret/+", Q1)]);
        let msg = sub.expect_message("ret/a", b"kept");
        assert!(msg.retain, "{msg:?}");
        assert_eq!(msg.qos, Q1);
        sub.expect_nothing();
        assert_eq!(broker.stats().retained_messages, 1);
    }

    #[test]
    fn retained_to_new_and_live_subscribers() {
        // retain 1 to the new subscriber, retain 0 to the existing one
        // [MQTT-3.3.1-8] [MQTT-3.3.1-9].
        let broker = TestBroker::start();
        let mut existing = broker.connect("existing", true, 60);
        existing.subscribe(&[("r/t", Q0)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("r/t", b"v1", Q0, true);
        assert!(!existing.expect_message("r/t", b"v1").retain);
        let mut newcomer = broker.connect("newcomer", true, 60);
        newcomer.subscribe(&[("r/t", Q0)]);
        assert!(newcomer.expect_message("r/t", b"v1").retain);
        existing.expect_nothing();
    }

    #[test]
    fn retained_outlives_the_publishers_session() {
        // [MQTT-3.1.2-7] retained messages are not part of session state:
        // they stay when the publisher's session ends.
        let broker = TestBroker::start();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("orphan", b"kept", Q1, true);
        publisher.disconnect();
        broker.wait_disconnected("pub");
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("orphan", Q1)]);
        assert!(sub.expect_message("orphan", b"kept").retain);
    }

    #[test]
    fn newer_retained_replaces_older() {
        // [MQTT-3.3.1-5] a new retained message replaces the previous one;
        // [MQTT-3.3.1-7] also a QoS 0 one.
        let broker = TestBroker::start();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("rep", b"old", Q1, true);
        publisher.publish_acked("rep", b"new", Q0, true);
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("rep", Q1)]);
        let msg = sub.expect_message("rep", b"new");
        assert_eq!((msg.qos, msg.retain), (Q0, true));
        sub.expect_nothing();
    }

    #[test]
    fn empty_retained_payload_clears() {
        // [MQTT-3.3.1-10] a zero-byte retained message removes the
        // retained message; [MQTT-3.3.1-11] it is not stored.
        let broker = TestBroker::start();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("clr", b"x", Q1, true);
        publisher.publish_acked("clr", b"", Q1, true);
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("clr", Q1), ("#", Q1)]);
        sub.expect_nothing();
        assert_eq!(broker.stats().retained_messages, 0);
    }

    #[test]
    fn empty_retained_payload_is_forwarded_to_live_subscribers() {
        // [MQTT-3.3.1-10] the zero-byte message is still delivered as a
        // normal message to current subscribers.
        let broker = TestBroker::start();
        let mut live = broker.connect("live", true, 60);
        live.subscribe(&[("clr", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("clr", b"", Q1, true);
        let msg = live.expect_message("clr", b"");
        assert!(!msg.retain);
    }

    #[test]
    fn non_retained_publish_leaves_retained_alone() {
        // [MQTT-3.3.1-12] retain 0: the retained message is not touched.
        let broker = TestBroker::start();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("keep", b"retained", Q1, true);
        publisher.publish_acked("keep", b"transient", Q1, false);
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("keep", Q1)]);
        sub.expect_message("keep", b"retained");
        sub.expect_nothing();
    }

    #[test]
    fn retained_qos_is_capped_by_subscription() {
        // [MQTT-3.8.4-6] applies to retained messages too.
        let broker = TestBroker::start();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("rq", b"q2", Q2, true);
        let mut s0 = broker.connect("s0", true, 60);
        s0.subscribe(&[("rq", Q0)]);
        assert_eq!(s0.expect_message("rq", b"q2").qos, Q0);
        let mut s1 = broker.connect("s1", true, 60);
        s1.subscribe(&[("rq", Q1)]);
        assert_eq!(s1.expect_message("rq", b"q2").qos, Q1);
        let mut s2 = broker.connect("s2", true, 60);
        s2.subscribe(&[("rq", Q2)]);
        let msg = s2.expect_message("rq", b"q2");
        assert_eq!((msg.qos, msg.retain), (Q2, true));
    }

    #[test]
    fn wildcard_subscription_gets_every_matching_retained() {
        let broker = TestBroker::start();
        let mut publisher = broker.connect("pub", true, 60);
        for topic in ["w/a", "w/b/c", "x/a", "$w/a"] {
            publisher.publish_acked(topic, topic.as_bytes(), Q0, true);
        }
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("w/#", Q0)]);
        let mut got: Vec<String> = (0..2).map(|_| sub.expect_publish().topic).collect();
        got.sort();
        assert_eq!(got, vec!["w/a".to_string(), "w/b/c".to_string()]);
        sub.expect_nothing();
        // `#` gets x/a too but never $w/a [MQTT-4.7.2-1].
        let mut all = broker.connect("all", true, 60);
        all.subscribe(&[("#", Q0)]);
        let mut got: Vec<String> = (0..3).map(|_| all.expect_publish().topic).collect();
        got.sort();
        assert_eq!(
            got,
            vec!["w/a".to_string(), "w/b/c".to_string(), "x/a".to_string()]
        );
        all.expect_nothing();
        // `+/a` gets w/a and x/a, never $w/a.
        let mut plus = broker.connect("plus", true, 60);
        plus.subscribe(&[("+/a", Q0)]);
        let mut got: Vec<String> = (0..2).map(|_| plus.expect_publish().topic).collect();
        got.sort();
        assert_eq!(got, vec!["w/a".to_string(), "x/a".to_string()]);
        plus.expect_nothing();
        // `$w/+` names it explicitly.
        let mut explicit = broker.connect("explicit", true, 60);
        explicit.subscribe(&[("$w/+", Q0)]);
        explicit.expect_message("$w/a", b"$w/a");
    }

    #[test]
    fn resubscribe_resends_retained() {
        // [MQTT-3.8.4-3] replacing a subscription re-sends the retained
        // messages.
        let broker = TestBroker::start();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("again", b"r", Q0, true);
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("again", Q0)]);
        sub.expect_message("again", b"r");
        sub.subscribe(&[("again", Q0)]);
        assert!(sub.expect_message("again", b"r").retain);
    }

    #[test]
    fn retained_follows_suback() {
        // [MQTT-3.8.4-1] SUBACK answers the SUBSCRIBE; the retained
        // messages come after it (the subscribe helper asserts SUBACK is
        // the first packet).
        let broker = TestBroker::start();
        broker.handle.publish("order/r", b"r", Q1, true).unwrap();
        let mut sub = broker.connect("sub", true, 60);
        assert_eq!(broker.stats().retained_messages, 1);
        assert_eq!(sub.subscribe(&[("order/#", Q1)]), vec![1]);
        sub.expect_message("order/r", b"r");
    }
}

mod session_05 {
    use super::*;

    #[test]
    fn first_persistent_connect_has_session_present_0() {
        // [MQTT-3.2.2-3] no stored session: session present 0.
        let broker = TestBroker::start();
        let mut c = broker.socket();
        assert!(!c.connect("fresh", false, 60));
    }

    #[test]
    fn offline_qos1_messages_are_queued_and_delivered() {
        // [MQTT-3.1.2-4] the session resumes; [MQTT-3.1.2-5] QoS 1/2
        // messages for a disconnected persistent client are stored;
        // [MQTT-3.2.2-2] session present 1.
        let broker = TestBroker::start();
        let mut sub = broker.connect("persist", false, 60);
        sub.subscribe(&[("off/t", Q1)]);
        sub.disconnect();
        let mut publisher = broker.connect("pub", true, 60);
        for i in 0..3u8 {
            publisher.publish_acked("off/t", &[b'0' + i], Q1, false);
        }
        let mut sub = broker.socket();
        assert!(sub.connect("persist", false, 60), "session present");
        for i in 0..3u8 {
            let msg = sub.expect_message("off/t", &[b'0' + i]);
            assert_eq!((msg.qos, msg.dup), (Q1, false), "{msg:?}");
        }
        sub.expect_nothing();
        // The subscription survived: a live message arrives too.
        publisher.publish_acked("off/t", b"live", Q1, false);
        sub.expect_message("off/t", b"live");
    }

    #[test]
    fn unacked_messages_resent_with_dup_in_order() {
        // [MQTT-4.4.0-1] unacknowledged PUBLISH re-sent with the original
        // packet ids; [MQTT-3.3.1-1] DUP 1 on re-delivery; [MQTT-4.6.0-1]
        // in the original order; then the messages queued while offline.
        let broker = TestBroker::start();
        let mut sub = broker.connect("resend", false, 60);
        sub.subscribe(&[("rs", Q1)]);
        let mut publisher = broker.connect("pub", true, 60);
        for payload in [b"a", b"b", b"c"] {
            publisher.publish_acked("rs", payload, Q1, false);
        }
        let first: Vec<Msg> = (0..3).map(|_| sub.expect_publish()).collect();
        assert!(first.iter().all(|m| !m.dup));
        sub.close_abruptly();
        broker.wait_disconnected("resend");
        publisher.publish_acked("rs", b"d", Q1, false);

        let mut sub = broker.socket();
        assert!(sub.connect("resend", false, 60));
        for original in &first {
            let again = sub.expect_publish();
            assert_eq!(
                (
                    &again.topic,
                    &again.payload,
                    again.packet_id,
                    again.dup,
                    again.qos
                ),
                (
                    &original.topic,
                    &original.payload,
                    original.packet_id,
                    true,
                    Q1
                ),
                "re-sent {again:?} for {original:?}"
            );
            sub.ack(&again);
        }
        let queued = sub.expect_message("rs", b"d");
        assert!(!queued.dup);
        sub.expect_nothing();
        // Everything acknowledged: nothing comes back on the next resume.
        sub.disconnect();
        let mut sub = broker.socket();
        assert!(sub.connect("resend", false, 60));
        sub.expect_nothing();
    }

    #[test]
    fn qos2_resume_resends_pubrel_and_unreceived_publish() {
        // [MQTT-4.4.0-1] PUBREL re-sent for a message whose PUBREC came
        // back; PUBLISH (DUP 1) for one that was not; and the first is not
        // delivered again [MQTT-4.3.3-1].
        let broker = TestBroker::start();
        let mut sub = broker.connect("q2s", false, 60);
        sub.subscribe(&[("q2s", Q2)]);
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("q2s", b"one", Q2, false);
        publisher.publish_acked("q2s", b"two", Q2, false);
        let one = sub.expect_publish();
        let two = sub.expect_publish();
        let (id1, id2) = (one.packet_id.unwrap(), two.packet_id.unwrap());
        sub.send(&Packet::PubRec(id1));
        assert_eq!(sub.expect_packet(), Pkt::PubRel(id1));
        sub.close_abruptly();
        broker.wait_disconnected("q2s");

        let mut sub = broker.socket();
        assert!(sub.connect("q2s", false, 60));
        let mut resent = vec![sub.expect_packet(), sub.expect_packet()];
        resent.sort_by_key(|p| matches!(p, Pkt::Publish(_)));
        assert_eq!(resent[0], Pkt::PubRel(id1));
        let Pkt::Publish(again) = &resent[1] else {
            panic!("{resent:?}")
        };
        assert_eq!(
            (&again.payload[..], again.packet_id, again.dup, again.qos),
            (&b"two"[..], Some(id2), true, Q2)
        );
        sub.send(&Packet::PubComp(id1));
        sub.ack(again);
        sub.expect_nothing();
    }

    #[test]
    fn inbound_qos2_state_survives_reconnect() {
        // [MQTT-4.3.3-2] the receiver's "PUBREC sent" state is part of the
        // session [MQTT-3.1.2-4]: a re-sent PUBLISH after reconnecting is
        // not delivered again.
        let broker = TestBroker::start();
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("in2", Q2)]);
        let mut publisher = broker.connect("p2", false, 60);
        publisher.send_publish("in2", b"once", Q2, false, false, Some(9));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(9));
        sub.expect_message("in2", b"once");
        publisher.close_abruptly();
        broker.wait_disconnected("p2");

        let mut publisher = broker.socket();
        assert!(publisher.connect("p2", false, 60));
        publisher.send_publish("in2", b"once", Q2, false, true, Some(9));
        assert_eq!(publisher.expect_packet(), Pkt::PubRec(9));
        publisher.send(&Packet::PubRel(9));
        assert_eq!(publisher.expect_packet(), Pkt::PubComp(9));
        sub.expect_nothing();
    }

    #[test]
    fn persistent_takeover_keeps_the_session() {
        // [MQTT-3.1.4-2] takeover, then [MQTT-3.2.2-2] the new connection
        // resumes the session: present 1, unacknowledged messages re-sent.
        let broker = TestBroker::start();
        let mut old = broker.connect("roam", false, 60);
        old.subscribe(&[("roam", Q1)]);
        broker.handle.publish("roam", b"m", Q1, false).unwrap();
        let first = old.expect_publish();
        let mut new = broker.socket();
        assert!(
            new.connect("roam", false, 60),
            "session present after takeover"
        );
        old.expect_closed();
        let again = new.expect_publish();
        assert_eq!((again.packet_id, again.dup), (first.packet_id, true));
        new.ack(&again);
        broker.handle.publish("roam", b"n", Q1, false).unwrap();
        new.expect_message("roam", b"n");
        new.expect_nothing();
    }

    #[test]
    fn clean_session_1_discards_the_old_session() {
        // [MQTT-3.1.2-6] clean session 1 discards the previous session and
        // its own ends with the connection; [MQTT-3.2.2-1] present 0.
        let broker = TestBroker::start();
        let mut sub = broker.connect("cs", false, 60);
        sub.subscribe(&[("cs/t", Q1)]);
        sub.disconnect();
        let mut publisher = broker.connect("pub", true, 60);
        publisher.publish_acked("cs/t", b"queued", Q1, false);

        let mut sub = broker.socket();
        assert!(!sub.connect("cs", true, 60), "clean session: present 0");
        sub.expect_nothing();
        publisher.publish_acked("cs/t", b"unsubscribed", Q1, false);
        sub.expect_nothing();
        sub.disconnect();

        let mut sub = broker.socket();
        assert!(
            !sub.connect("cs", false, 60),
            "the clean session was not kept"
        );
        publisher.publish_acked("cs/t", b"still nothing", Q1, false);
        sub.expect_nothing();
    }

    #[test]
    fn offline_qos0_not_queued_for_clean_session() {
        // A clean session ends with its connection: nothing is held.
        let broker = TestBroker::start();
        let mut sub = broker.connect("gone", true, 60);
        sub.subscribe(&[("g", Q1)]);
        sub.disconnect();
        assert_eq!(broker.stats().sessions, 0);
        assert_eq!(broker.stats().subscriptions, 0);
    }

    #[test]
    fn queue_limit_drops_newest() {
        // Config max_queued_messages: beyond it, new messages for an
        // offline client are dropped (and counted).
        let broker = TestBroker::start_with(|c| c.max_queued_messages = 3);
        let mut sub = broker.connect("lim", false, 60);
        sub.subscribe(&[("lim", Q1)]);
        sub.disconnect();
        let mut publisher = broker.connect("pub", true, 60);
        for i in 0..6u8 {
            publisher.publish_acked("lim", &[i], Q1, false);
        }
        assert!(broker.stats().messages_dropped >= 3, "{:?}", broker.stats());
        let mut sub = broker.socket();
        assert!(sub.connect("lim", false, 60));
        for i in 0..3u8 {
            sub.expect_message("lim", &[i]);
        }
        sub.expect_nothing();
    }

    #[test]
    fn session_expiry_removes_a_disconnected_session() {
        // Config session_expiry: a persistent session unused for longer is
        // discarded.
        let broker = TestBroker::start_with(|c| c.session_expiry = Some(Duration::from_secs(1)));
        let mut sub = broker.connect("exp", false, 60);
        sub.subscribe(&[("exp", Q1)]);
        sub.disconnect();
        let deadline = Instant::now() + TIMEOUT;
        while broker.stats().sessions > 0 {
            assert!(Instant::now() < deadline, "session not expired after 5 s");
            std::thread::sleep(Duration::from_millis(50));
        }
        let mut sub = broker.socket();
        assert!(!sub.connect("exp", false, 60));
    }

    #[test]
    fn persistent_session_kept_without_expiry() {
        let broker = TestBroker::start();
        let mut sub = broker.connect("kept", false, 60);
        sub.subscribe(&[("k", Q1)]);
        sub.disconnect();
        assert_eq!(broker.stats().sessions, 1);
        let mut sub = broker.socket();
        assert!(sub.connect("kept", false, 60));
    }
}

mod will_07 {
    use super::*;

    fn will_client(broker: &TestBroker, id: &str, qos: QoS, retain: bool) -> RawClient {
        let (c, _) =
            broker.connect_with(&ConnectOptions::new(id).will("will/t", b"gone", qos, retain));
        c
    }

    fn will_watcher(broker: &TestBroker) -> RawClient {
        let mut sub = broker.connect("watcher", true, 60);
        sub.subscribe(&[("will/#", Q2)]);
        sub
    }

    #[test]
    fn will_on_abrupt_close() {
        // [MQTT-3.1.2-8] the will is published when the network connection
        // closes without DISCONNECT.
        let broker = TestBroker::start();
        let mut watcher = will_watcher(&broker);
        let w = will_client(&broker, "w", Q1, false);
        watcher.expect_nothing();
        w.close_abruptly();
        let msg = watcher.expect_message("will/t", b"gone");
        assert_eq!((msg.qos, msg.retain), (Q1, false));
        watcher.expect_nothing();
    }

    #[test]
    fn no_will_after_disconnect() {
        // [MQTT-3.1.2-10] DISCONNECT removes the will; [MQTT-3.14.4-3].
        let broker = TestBroker::start();
        let mut watcher = will_watcher(&broker);
        let w = will_client(&broker, "w", Q1, false);
        w.disconnect();
        broker.wait_disconnected("w");
        watcher.expect_nothing_for(Duration::from_millis(500));
    }

    #[test]
    fn retained_will() {
        // [MQTT-3.1.2-17] will retain 1: published as a retained message.
        let broker = TestBroker::start();
        let w = will_client(&broker, "w", Q0, true);
        w.close_abruptly();
        broker.wait_disconnected("w");
        let mut late = broker.connect("late", true, 60);
        late.subscribe(&[("will/t", Q1)]);
        let msg = late.expect_message("will/t", b"gone");
        assert!(msg.retain);
    }

    #[test]
    fn will_qos2_delivered_at_qos2() {
        // [MQTT-3.1.2-14] the will's QoS is used.
        let broker = TestBroker::start();
        let mut watcher = will_watcher(&broker);
        let w = will_client(&broker, "w", Q2, false);
        w.close_abruptly();
        assert_eq!(watcher.expect_message("will/t", b"gone").qos, Q2);
    }

    #[test]
    fn will_on_takeover() {
        // [MQTT-3.1.4-2] the old connection is closed by the server without
        // DISCONNECT, so its will is published.
        let broker = TestBroker::start();
        let mut watcher = will_watcher(&broker);
        let mut old = will_client(&broker, "dup-id", Q1, false);
        let mut new = broker.connect("dup-id", true, 60);
        old.expect_closed();
        watcher.expect_message("will/t", b"gone");
        watcher.expect_nothing();
        new.ping();
    }

    #[test]
    fn will_on_protocol_error() {
        // [MQTT-3.1.2-8] the server closing for a protocol error publishes
        // the will.
        let broker = TestBroker::start();
        let mut watcher = will_watcher(&broker);
        let mut w = will_client(&broker, "w", Q1, false);
        w.send_raw(&[0x60, 0x02, 0x00, 0x01]); // PUBREL with flags 0
        w.expect_closed();
        watcher.expect_message("will/t", b"gone");
    }

    #[test]
    fn will_on_kick() {
        let broker = TestBroker::start();
        let mut watcher = will_watcher(&broker);
        let mut w = will_client(&broker, "kicked", Q1, false);
        broker.handle.kick("kicked").unwrap();
        w.expect_closed();
        watcher.expect_message("will/t", b"gone");
    }

    #[test]
    fn will_not_published_for_refused_connect() {
        // A refused CONNECT (CONNACK 0x02) never had a session or a will.
        let broker = TestBroker::start();
        let mut watcher = will_watcher(&broker);
        let mut c = broker.socket();
        c.send_connect(
            &ConnectOptions::new("")
                .clean(false)
                .will("will/t", b"x", Q0, false),
        );
        assert_eq!(c.drain_until_closed().len(), 1);
        watcher.expect_nothing();
    }
}

mod keepalive_08 {
    use super::*;

    #[test]
    fn keepalive_expiry_closes_and_publishes_will() {
        // [MQTT-3.1.2-24] no packet within 1.5 × keepalive: the server
        // disconnects, as for a network failure (will published).
        let broker = TestBroker::start();
        let mut watcher = broker.connect("watcher", true, 60);
        watcher.subscribe(&[("ka/will", Q1)]);
        let mut w = broker.socket();
        let sent = Instant::now();
        w.connect_with(
            &ConnectOptions::new("ka")
                .keepalive(1)
                .will("ka/will", b"expired", Q1, false),
        );
        w.expect_closed();
        let elapsed = sent.elapsed();
        assert!(
            elapsed >= Duration::from_millis(1500),
            "closed after {elapsed:?}, before 1.5 × keepalive"
        );
        assert!(
            elapsed <= Duration::from_millis(3000),
            "closed only after {elapsed:?}"
        );
        watcher.expect_message("ka/will", b"expired");
    }

    #[test]
    fn pingreq_keeps_the_connection_alive() {
        // [MQTT-3.1.2-23] any control packet within the keepalive resets
        // it.
        let broker = TestBroker::start();
        let mut watcher = broker.connect("watcher", true, 60);
        watcher.subscribe(&[("ka/will", Q1)]);
        let (mut c, _) = broker.connect_with(
            &ConnectOptions::new("alive")
                .keepalive(1)
                .will("ka/will", b"x", Q1, false),
        );
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2600) {
            std::thread::sleep(Duration::from_millis(400));
            c.ping();
        }
        watcher.expect_nothing();
        assert!(broker.clients().contains(&"alive".to_string()));
    }

    #[test]
    fn other_packets_also_reset_keepalive() {
        let broker = TestBroker::start();
        let mut c = broker.connect("busy", true, 1);
        let start = Instant::now();
        while start.elapsed() < Duration::from_millis(2600) {
            std::thread::sleep(Duration::from_millis(400));
            c.publish_acked("busy/t", b"x", Q1, false);
        }
        c.ping();
    }
}

mod malformed_09 {
    use super::*;

    /// Connects a fresh client, sends `bytes`, and asserts the broker
    /// closes the connection without answering, then still serves.
    fn assert_closes(bytes: &[u8]) {
        let broker = TestBroker::start();
        let mut c = broker.connect("bad", true, 60);
        c.send_raw(bytes);
        let packets = c.drain_until_closed();
        assert!(packets.is_empty(), "answered {packets:?} to {bytes:02x?}");
        broker.wait_disconnected("bad");
        broker.assert_serves();
    }

    fn publish_bytes(qos_flags: u8, topic: &[u8], packet_id: Option<u16>) -> Vec<u8> {
        let mut body = field(topic);
        if let Some(id) = packet_id {
            body.extend_from_slice(&id.to_be_bytes());
        }
        body.extend_from_slice(b"payload");
        frame(0x30 | qos_flags, &body)
    }

    fn subscribe_bytes(filter: &[u8], qos: u8) -> Vec<u8> {
        frame(0x82, &cat(&[&[0, 1], &field(filter), &[qos]]))
    }

    #[test]
    fn invalid_utf8_in_publish_topic() {
        // [MQTT-1.5.3-1] ill-formed UTF-8: close.
        assert_closes(&publish_bytes(0, b"a/\xff", None));
    }

    #[test]
    fn overlong_utf8_in_publish_topic() {
        // [MQTT-1.5.3-1] an overlong encoding of '/' is ill-formed.
        assert_closes(&publish_bytes(0, b"a\xc0\xafb", None));
    }

    #[test]
    fn surrogate_in_publish_topic() {
        // [MQTT-1.5.3-1] U+D800..U+DFFF MUST NOT be included.
        assert_closes(&publish_bytes(0x02, b"a\xed\xa0\x80", Some(1)));
    }

    #[test]
    fn null_character_in_publish_topic() {
        // [MQTT-1.5.3-2] U+0000: close.
        assert_closes(&publish_bytes(0, b"a\x00b", None));
    }

    #[test]
    fn invalid_utf8_in_subscribe_filter() {
        // [MQTT-1.5.3-1]
        assert_closes(&subscribe_bytes(b"f/\xfe", 0));
    }

    #[test]
    fn null_character_in_subscribe_filter() {
        // [MQTT-1.5.3-2]
        assert_closes(&subscribe_bytes(b"f/\x00", 0));
    }

    #[test]
    fn invalid_utf8_in_client_id() {
        // [MQTT-1.5.3-1] also in CONNECT: no accepting CONNACK.
        let broker = TestBroker::start();
        let mut c = broker.socket();
        let body = cat(&[&field(b"MQTT"), &[4, 0x02, 0, 60], &field(b"id\xff")]);
        c.send_raw(&frame(0x10, &body));
        assert_refused_without_accept(&c.drain_until_closed());
        broker.assert_serves();
    }

    #[test]
    fn subscribe_reserved_flags_wrong() {
        // [MQTT-3.8.1-1] SUBSCRIBE flags MUST be 0010.
        assert_closes(&frame(0x80, &cat(&[&[0, 1], &field(b"a"), &[0]])));
    }

    #[test]
    fn unsubscribe_reserved_flags_wrong() {
        // [MQTT-3.10.1-1] UNSUBSCRIBE flags MUST be 0010.
        assert_closes(&frame(0xa0, &cat(&[&[0, 1], &field(b"a")])));
    }

    #[test]
    fn pubrel_reserved_flags_wrong() {
        // [MQTT-3.6.1-1] PUBREL flags MUST be 0010.
        assert_closes(&[0x60, 0x02, 0x00, 0x01]);
    }

    #[test]
    fn pingreq_and_disconnect_flags_wrong() {
        // [MQTT-2.2.2-2] invalid flags: close.
        assert_closes(&[0xc1, 0x00]);
        assert_closes(&[0xe8, 0x00]);
        assert_closes(&[0x48, 0x02, 0x00, 0x01]);
    }

    #[test]
    fn publish_qos_3() {
        // [MQTT-3.3.1-4] QoS bits 11: close.
        assert_closes(&publish_bytes(0x06, b"a", Some(1)));
    }

    #[test]
    fn reserved_packet_types() {
        // Types 0 and 15 are reserved (§2.2.1).
        assert_closes(&[0x00, 0x00]);
        assert_closes(&[0xf0, 0x00]);
    }

    #[test]
    fn packet_id_0_in_publish() {
        // [MQTT-2.3.1-1] QoS 1/2 PUBLISH needs a non-zero id.
        assert_closes(&publish_bytes(0x02, b"a", Some(0)));
        assert_closes(&publish_bytes(0x04, b"a", Some(0)));
    }

    #[test]
    fn packet_id_0_in_subscribe() {
        // [MQTT-2.3.1-1]
        assert_closes(&frame(0x82, &cat(&[&[0, 0], &field(b"a"), &[0]])));
    }

    #[test]
    fn packet_id_0_in_unsubscribe() {
        // [MQTT-2.3.1-1]
        assert_closes(&frame(0xa2, &cat(&[&[0, 0], &field(b"a")])));
    }

    #[test]
    fn packet_id_0_in_acks() {
        // [MQTT-2.3.1-1]
        assert_closes(&[0x40, 0x02, 0x00, 0x00]);
        assert_closes(&[0x62, 0x02, 0x00, 0x00]);
    }

    #[test]
    fn wildcard_in_publish_topic() {
        // [MQTT-3.3.2-2] a PUBLISH topic name MUST NOT contain wildcards.
        assert_closes(&publish_bytes(0, b"a/+", None));
        assert_closes(&publish_bytes(0x02, b"a/#", Some(1)));
        assert_closes(&publish_bytes(0, b"#", None));
    }

    #[test]
    fn empty_publish_topic() {
        // [MQTT-4.7.3-1] a topic name is at least one character.
        assert_closes(&publish_bytes(0, b"", None));
    }

    #[test]
    fn subscribe_without_filters() {
        // [MQTT-3.8.3-3] at least one filter.
        assert_closes(&frame(0x82, &[0, 1]));
    }

    #[test]
    fn subscribe_qos_3_or_reserved_bits() {
        // [MQTT-3-8.3-4] QoS 3 or reserved bits set: malformed, close.
        assert_closes(&subscribe_bytes(b"a", 3));
        assert_closes(&subscribe_bytes(b"a", 0x41));
    }

    #[test]
    fn unsubscribe_without_filters() {
        // [MQTT-3.10.3-2]
        assert_closes(&frame(0xa2, &[0, 1]));
    }

    #[test]
    fn remaining_length_of_5_bytes() {
        // §2.2.3: at most 4 bytes.
        assert_closes(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]);
    }

    #[test]
    fn string_longer_than_packet() {
        // A topic length past the end of the packet.
        assert_closes(&frame(0x30, &[0x00, 0x10, b'a']));
    }

    #[test]
    fn trailing_bytes_after_pingreq() {
        // PINGREQ has no variable header or payload (§3.12).
        assert_closes(&[0xc0, 0x01, 0x00]);
    }

    #[test]
    fn server_only_packets_from_a_client() {
        // CONNACK, SUBACK, UNSUBACK, PINGRESP are server-to-client only
        // (§2.2.1): a client sending one is a protocol violation.
        assert_closes(&[0x20, 0x02, 0x00, 0x00]);
        assert_closes(&[0x90, 0x03, 0x00, 0x01, 0x00]);
        assert_closes(&[0xb0, 0x02, 0x00, 0x01]);
        assert_closes(&[0xd0, 0x00]);
    }

    #[test]
    fn malformed_before_connect_closes_without_connack() {
        let broker = TestBroker::start();
        let mut c = broker.socket();
        c.send_raw(&[0x10, 0xff, 0xff, 0xff, 0xff, 0x01]);
        c.expect_closed();
        let mut c = broker.socket();
        c.send_raw(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        c.expect_closed();
        broker.assert_serves();
    }

    #[test]
    fn max_packet_size_exceeded_closes() {
        // Config max_packet_size: a larger packet closes its connection,
        // detected from the fixed header alone (no body sent).
        let broker = TestBroker::start_with(|c| c.max_packet_size = 1024);
        let mut sub = broker.connect("sub", true, 60);
        sub.subscribe(&[("big", Q0)]);

        let mut fits = broker.connect("fits", true, 60);
        fits.publish_acked("big", &[7u8; 900], Q1, false);
        sub.expect_message("big", &[7u8; 900]);

        let mut large = broker.connect("large", true, 60);
        large.publish("big", &[7u8; 2000], Q1, false);
        large.expect_closed();

        let mut header_only = broker.connect("header", true, 60);
        header_only.send_raw(&[0x30, 0xa0, 0x8d, 0x06]); // remaining length 100 000
        header_only.expect_closed();

        sub.expect_nothing();
        broker.assert_serves();
    }

    #[test]
    fn many_malformed_clients_then_normal_service() {
        // One broker, a sequence of bad clients, then a normal client and
        // the earlier good client still connected.
        let broker = TestBroker::start();
        let mut bystander = broker.connect("bystander", true, 60);
        bystander.subscribe(&[("#", Q0)]);
        let bad: Vec<Vec<u8>> = vec![
            publish_bytes(0, b"a/\xff", None),
            publish_bytes(0x06, b"a", Some(1)),
            vec![0x62, 0x02, 0x00, 0x00],
            subscribe_bytes(b"a", 3),
            vec![0xf0, 0x00],
            vec![0x10, 0x00],
        ];
        for (i, bytes) in bad.iter().enumerate() {
            let mut c = broker.connect(&format!("bad{i}"), true, 60);
            c.send_raw(bytes);
            c.expect_closed();
        }
        bystander.expect_nothing();
        bystander.ping();
        broker.assert_serves();
    }
}

mod mqtt31 {
    use super::*;

    #[test]
    fn mqisdp_level_3_client_works() {
        // MQTT 3.1: CONNECT "MQIsdp" level 3, then subscribe and publish at
        // every QoS.
        let broker = TestBroker::start();
        let mut sub = broker.socket();
        sub.send_connect(&ConnectOptions::new("old-sub").v31());
        assert_eq!(sub.expect_connack(), (false, 0));
        assert_eq!(sub.subscribe(&[("v31/#", Q2)]), vec![2]);
        let mut publisher = broker.socket();
        publisher.send_connect(&ConnectOptions::new("old-pub").v31());
        assert_eq!(publisher.expect_connack(), (false, 0));
        for (qos, payload) in [(Q0, b"zero"), (Q1, b"one_"), (Q2, b"two_")] {
            publisher.publish_acked("v31/t", payload, qos, false);
            assert_eq!(sub.expect_message("v31/t", payload).qos, qos);
        }
        // A 3.1.1 client sees the 3.1 client's messages too.
        let mut modern = broker.connect("modern", true, 60);
        modern.subscribe(&[("v31/#", Q1)]);
        publisher.publish_acked("v31/x", b"mixed", Q1, false);
        sub.expect_message("v31/x", b"mixed");
        modern.expect_message("v31/x", b"mixed");
        publisher.disconnect();
    }

    #[test]
    fn mqtt31_persistent_session_and_will() {
        // 3.1 has no session present flag (the CONNACK byte is reserved, so
        // it stays 0) but the session is resumed; wills work the same.
        let broker = TestBroker::start();
        let mut sub = broker.socket();
        sub.connect_with(&ConnectOptions::new("old").v31().clean(false));
        sub.subscribe(&[("o", Q1)]);
        sub.disconnect();
        broker
            .handle
            .publish("o", b"while away", Q1, false)
            .unwrap();
        let mut sub = broker.socket();
        sub.send_connect(&ConnectOptions::new("old").v31().clean(false));
        assert_eq!(sub.expect_connack(), (false, 0));
        sub.expect_message("o", b"while away");

        let mut watcher = broker.connect("watcher", true, 60);
        watcher.subscribe(&[("old/will", Q0)]);
        let (w, _) = broker.connect_with(
            &ConnectOptions::new("old-w")
                .v31()
                .will("old/will", b"bye", Q0, false),
        );
        w.close_abruptly();
        watcher.expect_message("old/will", b"bye");
    }

    #[test]
    fn mqtt31_empty_client_id_refused() {
        // MQTT 3.1 requires a 1-23 character id: 0x02.
        let broker = TestBroker::start();
        let mut c = broker.socket();
        c.send_connect(&ConnectOptions::new("").v31());
        assert_eq!(
            c.drain_until_closed(),
            vec![Pkt::ConnAck {
                session_present: false,
                code: 2
            }]
        );
    }
}
