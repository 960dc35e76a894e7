//! Codec round trips, known encodings, incremental decoding and size limits.

mod codec {
    use mqlite::codec::*;

    const MAX: usize = 4 << 20;

    /// Every packet type, with both protocol versions for CONNECT.
    fn samples() -> Vec<Packet<'static>> {
        let mut packets = Vec::new();
        for protocol in [Protocol::V31, Protocol::V311] {
            packets.push(Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol,
                clean_session: true,
                keep_alive: 60,
                client_id: "client-1",
                will: None,
                username: None,
                password: None,
                properties: Properties::EMPTY,
            })));
            packets.push(Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol,
                clean_session: false,
                keep_alive: 0,
                client_id: "",
                will: Some(Will {
                    topic: "last/will",
                    payload: &[0, 1, 2, 0xff],
                    qos: QoS::ExactlyOnce,
                    retain: true,
                    properties: Properties::EMPTY,
                }),
                username: Some("user"),
                password: Some(b"\x00secret\xff"),
                properties: Properties::EMPTY,
            })));
            packets.push(Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol,
                clean_session: true,
                keep_alive: 65535,
                client_id: "ü/é",
                will: Some(Will {
                    topic: "w",
                    payload: b"",
                    qos: QoS::AtMostOnce,
                    retain: false,
                    properties: Properties::EMPTY,
                }),
                username: Some(""),
                password: None,
                properties: Properties::EMPTY,
            })));
        }
        for session_present in [false, true] {
            packets.push(Packet::ConnAck(ConnAck {
                session_present,
                code: ReasonCode::SUCCESS,
                properties: Properties::EMPTY,
            }));
        }
        for code in 1..=5 {
            let code = ReasonCode::from_v3_connack(code);
            packets.push(Packet::ConnAck(ConnAck {
                session_present: false,
                code,
                properties: Properties::EMPTY,
            }));
        }
        for (qos, packet_id) in [
            (QoS::AtMostOnce, None),
            (QoS::AtLeastOnce, Some(1)),
            (QoS::ExactlyOnce, Some(65535)),
        ] {
            for (dup, retain) in [(false, false), (true, true)] {
                let dup = dup && qos != QoS::AtMostOnce;
                packets.push(Packet::Publish(Publish {
                    dup,
                    qos,
                    retain,
                    topic: "sensors/temp",
                    packet_id,
                    payload: b"21.5",
                    properties: Properties::EMPTY,
                }));
                packets.push(Packet::Publish(Publish {
                    dup,
                    qos,
                    retain,
                    topic: "",
                    packet_id,
                    payload: b"",
                    properties: Properties::EMPTY,
                }));
            }
        }
        packets.extend([
            Packet::PubAck(Ack::new(1)),
            Packet::PubRec(Ack::new(0x1234)),
            Packet::PubRel(Ack::new(0xffff)),
            Packet::PubComp(Ack::new(42)),
            Packet::Subscribe(Subscribe {
                packet_id: 7,
                filters: vec![
                    ("a/+/c", QoS::AtMostOnce.into()),
                    ("#", QoS::AtLeastOnce.into()),
                    ("", QoS::ExactlyOnce.into()),
                ],
                properties: Properties::EMPTY,
            }),
            Packet::SubAck(SubAck {
                packet_id: 7,
                codes: vec![
                    ReasonCode::granted(QoS::AtMostOnce),
                    ReasonCode::granted(QoS::AtLeastOnce),
                    ReasonCode::granted(QoS::ExactlyOnce),
                    ReasonCode::UNSPECIFIED_ERROR,
                ],
                properties: Properties::EMPTY,
            }),
            Packet::Unsubscribe(Unsubscribe {
                packet_id: 8,
                filters: vec!["a/+/c", "#"],
                properties: Properties::EMPTY,
            }),
            Packet::UnsubAck(UnsubAck::new(8)),
            Packet::PingReq,
            Packet::PingResp,
            Packet::Disconnect(Reasoned::default()),
        ]);
        packets
    }

    fn encoded(packet: &Packet<'_>) -> Vec<u8> {
        let mut out = Vec::new();
        encode(packet, &mut out).unwrap();
        out
    }

    fn decoded(bytes: &[u8]) -> (Packet<'_>, usize) {
        match decode(bytes, MAX) {
            Ok(Some(found)) => found,
            other => panic!("cannot decode {bytes:02x?}: {other:?}"),
        }
    }

    #[test]
    fn roundtrip_every_packet_type() {
        let packets = samples();
        let mut seen = std::collections::HashSet::new();
        for packet in &packets {
            seen.insert(packet.name());
            let bytes = encoded(packet);
            assert_eq!(decoded(&bytes), (packet.clone(), bytes.len()), "{packet:?}");
        }
        assert_eq!(seen.len(), 14);
    }

    #[test]
    fn stream_of_packets() {
        let packets = samples();
        let mut stream = Vec::new();
        for packet in &packets {
            encode(packet, &mut stream).unwrap();
        }
        let mut at = 0;
        for packet in &packets {
            let (found, used) = decoded(&stream[at..]);
            assert_eq!(&found, packet);
            at += used;
        }
        assert_eq!(at, stream.len());
        assert_eq!(decode(&stream[at..], MAX), Ok(None));
    }

    #[test]
    fn every_prefix_is_incomplete() {
        for packet in samples() {
            let bytes = encoded(&packet);
            for cut in 0..bytes.len() {
                assert_eq!(
                    decode(&bytes[..cut], MAX),
                    Ok(None),
                    "{packet:?} cut at {cut}"
                );
            }
        }
    }

    #[test]
    fn encode_publish_matches_encode() {
        for packet in samples() {
            if let Packet::Publish(p) = &packet {
                let mut out = Vec::new();
                let id = p.packet_id.unwrap_or(0);
                encode_publish(&mut out, p.dup, p.qos, p.retain, p.topic, id, p.payload);
                assert_eq!(out, encoded(&packet));
                assert_eq!(
                    out.len(),
                    publish_len(p.topic.len(), p.qos, p.payload.len())
                );
            }
        }
    }

    #[test]
    fn ack_helpers_match_encode() {
        for kind in [
            AckKind::PubAck,
            AckKind::PubRec,
            AckKind::PubRel,
            AckKind::PubComp,
            AckKind::UnsubAck,
        ] {
            let mut out = Vec::new();
            encode_ack(&mut out, kind, 0x0102);
            assert_eq!(out.len(), ACK_LEN);
            assert_eq!(out, encoded(&kind.packet(0x0102)));
            assert_eq!(decoded(&out), (kind.packet(0x0102), ACK_LEN));
        }
        let mut out = Vec::new();
        encode_connack(&mut out, false, ReasonCode::NOT_AUTHORIZED);
        assert_eq!(out, [0x20, 0x02, 0x00, 0x05]);
        out.clear();
        encode_pingresp(&mut out);
        assert_eq!(out, PINGRESP);
    }

    #[test]
    fn known_encodings() {
        assert_eq!(encoded(&Packet::PingReq), [0xc0, 0x00]);
        assert_eq!(encoded(&Packet::PingResp), [0xd0, 0x00]);
        assert_eq!(
            encoded(&Packet::Disconnect(Reasoned::default())),
            [0xe0, 0x00]
        );
        assert_eq!(
            encoded(&Packet::PubRel(Ack::new(10))),
            [0x62, 0x02, 0x00, 0x0a]
        );

        // CONNECT with the variable header of MQTT 3.1.1 figure 3.6: "MQTT",
        // level 4, flags 0xCE (user name, password, will QoS 1, will, clean
        // session), keep alive 10.
        let connect = Packet::Connect(Box::new(Connect {
            bridge: false,
            protocol: Protocol::V311,
            clean_session: true,
            keep_alive: 10,
            client_id: "id",
            will: Some(Will {
                topic: "w",
                payload: b"bye",
                qos: QoS::AtLeastOnce,
                retain: false,
                properties: Properties::EMPTY,
            }),
            username: Some("u"),
            password: Some(b"p"),
            properties: Properties::EMPTY,
        }));
        let bytes: &[u8] = &[
            0x10, 0x1c, // fixed header, remaining length 28
            0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0xce, 0x00, 0x0a, // variable header
            0x00, 0x02, b'i', b'd', // client id
            0x00, 0x01, b'w', 0x00, 0x03, b'b', b'y', b'e', // will
            0x00, 0x01, b'u', 0x00, 0x01, b'p', // user name, password
        ];
        assert_eq!(encoded(&connect), bytes);
        assert_eq!(decoded(bytes), (connect, bytes.len()));

        // An MQTT 3.1 CONNECT.
        let bytes: &[u8] = &[
            0x10, 0x0f, 0x00, 0x06, b'M', b'Q', b'I', b's', b'd', b'p', 0x03, 0x02, 0x00, 0x3c,
            0x00, 0x01, b'c',
        ];
        let (packet, _) = decoded(bytes);
        let Packet::Connect(c) = &packet else {
            panic!("{packet:?}")
        };
        assert_eq!(
            (c.protocol, c.clean_session, c.keep_alive, c.client_id),
            (Protocol::V31, true, 60, "c")
        );
        assert_eq!(encoded(&packet), bytes);

        // PUBLISH with the variable header of figure 3.11 (topic "a/b", id 10).
        let publish = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "a/b",
            packet_id: Some(10),
            payload: b"x",
            properties: Properties::EMPTY,
        });
        assert_eq!(
            encoded(&publish),
            [0x32, 0x08, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x0a, b'x']
        );

        // SUBSCRIBE of figure 3.22: id 10, "a/b" QoS 1, "c/d" QoS 2.
        let subscribe = Packet::Subscribe(Subscribe {
            packet_id: 10,
            filters: vec![
                ("a/b", QoS::AtLeastOnce.into()),
                ("c/d", QoS::ExactlyOnce.into()),
            ],
            properties: Properties::EMPTY,
        });
        let bytes: &[u8] = &[
            0x82, 0x0e, 0x00, 0x0a, 0x00, 0x03, b'a', b'/', b'b', 0x01, 0x00, 0x03, b'c', b'/',
            b'd', 0x02,
        ];
        assert_eq!(encoded(&subscribe), bytes);
        assert_eq!(decoded(bytes), (subscribe, bytes.len()));

        // SUBACK of figure 3.26: 0, 1, 2, failure.
        let suback = Packet::SubAck(SubAck {
            packet_id: 10,
            codes: vec![
                ReasonCode::granted(QoS::AtMostOnce),
                ReasonCode::granted(QoS::AtLeastOnce),
                ReasonCode::granted(QoS::ExactlyOnce),
                ReasonCode::UNSPECIFIED_ERROR,
            ],
            properties: Properties::EMPTY,
        });
        assert_eq!(
            encoded(&suback),
            [0x90, 0x06, 0x00, 0x0a, 0x00, 0x01, 0x02, 0x80]
        );

        // UNSUBSCRIBE of figure 3.30: id 10, "a/b", "c/d".
        let unsubscribe = Packet::Unsubscribe(Unsubscribe {
            packet_id: 10,
            filters: vec!["a/b", "c/d"],
            properties: Properties::EMPTY,
        });
        let bytes: &[u8] = &[
            0xa2, 0x0c, 0x00, 0x0a, 0x00, 0x03, b'a', b'/', b'b', 0x00, 0x03, b'c', b'/', b'd',
        ];
        assert_eq!(encoded(&unsubscribe), bytes);
        assert_eq!(decoded(bytes), (unsubscribe, bytes.len()));
    }

    #[test]
    fn non_minimal_remaining_length_accepted() {
        let bytes = [0xc0, 0x80, 0x80, 0x00, 0xc0];
        assert_eq!(decode(&bytes, MAX), Ok(Some((Packet::PingReq, 4))));
        let bytes = [0x40, 0x82, 0x00, 0x00, 0x05];
        assert_eq!(
            decode(&bytes, MAX),
            Ok(Some((Packet::PubAck(Ack::new(5)), 5)))
        );
    }

    /// A QoS 0 PUBLISH with an empty topic and a remaining length of `rl`.
    fn publish_with_remaining_length(rl: usize, payload: &[u8]) -> Packet<'_> {
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "",
            packet_id: None,
            payload: &payload[..rl - 2],
            properties: Properties::EMPTY,
        })
    }

    #[test]
    fn remaining_length_boundaries() {
        let payload = vec![0xa5u8; 2_097_152];
        for (rl, header) in [
            (127usize, 2usize),
            (128, 3),
            (16_383, 3),
            (16_384, 4),
            (2_097_151, 4),
            (2_097_152, 5),
        ] {
            assert_eq!(remaining_length_len(rl) + 1, header);
            let packet = publish_with_remaining_length(rl, &payload);
            let bytes = encoded(&packet);
            assert_eq!(bytes.len(), header + rl);
            assert_eq!(bytes.len(), publish_len(0, QoS::AtMostOnce, rl - 2));
            assert_eq!(decoded(&bytes), (packet, header + rl));
            // Size limit exactly at, and one below, the packet size.
            assert!(matches!(decode(&bytes, header + rl), Ok(Some(_))));
            assert_eq!(
                decode(&bytes, header + rl - 1),
                Err(DecodeError::PacketTooLarge {
                    size: header + rl,
                    max: header + rl - 1
                })
            );
            // The body arrives late: incomplete, then complete.
            assert_eq!(decode(&bytes[..header], MAX), Ok(None));
            assert_eq!(decode(&bytes[..bytes.len() - 1], MAX), Ok(None));
        }
    }

    #[test]
    fn largest_remaining_length() {
        const LARGEST: usize = 268_435_455;
        assert_eq!(MAX_REMAINING_LENGTH, LARGEST);
        assert_eq!(publish_len(0, QoS::AtMostOnce, LARGEST - 2), LARGEST + 5);
        // A zeroed buffer from the allocator: pages are never touched.
        let mut buf = vec![0u8; LARGEST + 5];
        buf[..5].copy_from_slice(&[0x30, 0xff, 0xff, 0xff, 0x7f]);
        assert_eq!(decode(&buf[..5], usize::MAX), Ok(None));
        assert_eq!(
            decode(&buf[..5], LARGEST),
            Err(DecodeError::PacketTooLarge {
                size: LARGEST + 5,
                max: LARGEST
            })
        );
        let (packet, used) = decoded_with(&buf, usize::MAX);
        assert_eq!(used, LARGEST + 5);
        let Packet::Publish(p) = packet else {
            panic!("not a PUBLISH")
        };
        assert_eq!((p.topic, p.payload.len()), ("", LARGEST - 2));
        // One byte more cannot be encoded.
        let too_big = publish_with_remaining_length(LARGEST + 1, &buf);
        assert_eq!(
            encode(&too_big, &mut Vec::new()),
            Err(EncodeError::PacketTooLarge)
        );
    }

    fn decoded_with(bytes: &[u8], max: usize) -> (Packet<'_>, usize) {
        decode(bytes, max).unwrap().unwrap()
    }

    #[test]
    fn max_packet_size_checked_before_body() {
        // A PUBLISH declaring 1 MiB with only its fixed header received.
        let header = [0x30, 0x80, 0x80, 0x40];
        let size = 4 + (1 << 20);
        assert_eq!(decode(&header, MAX), Ok(None));
        assert_eq!(
            decode(&header, 1024),
            Err(DecodeError::PacketTooLarge { size, max: 1024 })
        );
        // A remaining length still incomplete cannot be judged yet.
        assert_eq!(decode(&header[..3], 16), Ok(None));
        // Small packets pass a small limit.
        assert_eq!(decode(&[0xc0, 0x00], 2), Ok(Some((Packet::PingReq, 2))));
        assert_eq!(
            decode(&[0xc0, 0x00], 1),
            Err(DecodeError::PacketTooLarge { size: 2, max: 1 })
        );
    }

    #[test]
    fn encode_refuses_long_fields() {
        let long = "x".repeat(65_536);
        let ok = &long[..65_535];
        let connect = |client_id, username, password| {
            Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol: Protocol::V311,
                clean_session: true,
                keep_alive: 0,
                client_id,
                will: None,
                username,
                password,
                properties: Properties::EMPTY,
            }))
        };
        let mut out = Vec::new();
        assert_eq!(
            encode(&connect(&long, None, None), &mut out),
            Err(EncodeError::FieldTooLong)
        );
        assert_eq!(
            encode(&connect("", Some(&long), None), &mut out),
            Err(EncodeError::FieldTooLong)
        );
        assert_eq!(
            encode(&connect("", Some(""), Some(long.as_bytes())), &mut out),
            Err(EncodeError::FieldTooLong)
        );
        let subscribe = Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: vec![(&long, QoS::AtMostOnce.into())],
            properties: Properties::EMPTY,
        });
        assert_eq!(encode(&subscribe, &mut out), Err(EncodeError::FieldTooLong));
        assert!(out.is_empty());
        // 65 535 bytes is fine.
        let packet = connect(ok, Some(ok), Some(ok.as_bytes()));
        encode(&packet, &mut out).unwrap();
        assert_eq!(decoded(&out), (packet, out.len()));
    }
}
