//! Every malformed packet gives its precise decode error.

mod codec {
    use mqlite::codec::*;
    use DecodeError::*;

    const MAX: usize = 1 << 20;

    /// A packet made of a first byte and a body (remaining length computed).
    fn frame(first: u8, body: &[u8]) -> Vec<u8> {
        let mut out = vec![first];
        let mut len = body.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            out.push(if len > 0 { byte | 0x80 } else { byte });
            if len == 0 {
                break;
            }
        }
        out.extend_from_slice(body);
        out
    }

    /// A string field.
    fn s(text: &[u8]) -> Vec<u8> {
        let mut out = (text.len() as u16).to_be_bytes().to_vec();
        out.extend_from_slice(text);
        out
    }

    fn err(bytes: &[u8]) -> DecodeError {
        match decode(bytes, MAX) {
            Err(e) => e,
            other => panic!("expected an error for {bytes:02x?}, got {other:?}"),
        }
    }

    fn ok(bytes: &[u8]) -> Packet<'_> {
        match decode(bytes, MAX) {
            Ok(Some((packet, used))) if used == bytes.len() => packet,
            other => panic!("expected a packet for {bytes:02x?}, got {other:?}"),
        }
    }

    #[test]
    fn remaining_length_over_4_bytes() {
        assert_eq!(
            err(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
            MalformedRemainingLength
        );
        // Known malformed as soon as the 4th byte says "more".
        assert_eq!(
            err(&[0xc0, 0x80, 0x80, 0x80, 0x80]),
            MalformedRemainingLength
        );
        assert_eq!(decode(&[0xc0, 0x80, 0x80, 0x80], MAX), Ok(None));
    }

    #[test]
    fn packet_types_and_flags() {
        for flags in 0..16u8 {
            assert_eq!(err(&[flags]), InvalidPacketType(0));
            assert_eq!(err(&[0xf0 | flags]), InvalidPacketType(15));
        }
        for packet_type in 1..=14u8 {
            for flags in 0..16u8 {
                let first = packet_type << 4 | flags;
                let bytes = [first];
                let result = decode(&bytes, MAX);
                let expected = match packet_type {
                    3 if flags & 0b0110 == 0b0110 => Err(InvalidQoS(3)),
                    3 if flags & 0b1110 == 0b1000 => Err(InvalidFlags { packet_type, flags }),
                    3 => Ok(None),
                    6 | 8 | 10 if flags == 0b0010 => Ok(None),
                    _ if flags == 0 && ![6, 8, 10].contains(&packet_type) => Ok(None),
                    _ => Err(InvalidFlags { packet_type, flags }),
                };
                assert_eq!(result, expected, "first byte {first:#04x}");
            }
        }
    }

    #[test]
    fn publish() {
        let mut body = s(b"t");
        body.extend_from_slice(&[0x00, 0x00]);
        assert_eq!(err(&frame(0x32, &body)), ZeroPacketId);
        assert_eq!(err(&frame(0x34, &body)), ZeroPacketId);
        assert_eq!(err(&frame(0x3d, &body)), ZeroPacketId);
        // With QoS 0 those bytes are payload.
        let bytes = frame(0x30, &body);
        let Packet::Publish(p) = ok(&bytes) else {
            panic!()
        };
        assert_eq!(p.payload, [0, 0]);
        // Packet identifier missing or cut.
        assert_eq!(err(&frame(0x32, &s(b"t"))), Truncated);
        assert_eq!(err(&frame(0x32, &[0x00, 0x01, b't', 0x01])), Truncated);
        // Topic running past the remaining length.
        assert_eq!(err(&frame(0x30, &[0x00, 0x05, b'a', b'b'])), Truncated);
        assert_eq!(err(&frame(0x30, &[0x00])), Truncated);
        assert_eq!(err(&frame(0x30, &[])), Truncated);
        // Topic validation.
        assert_eq!(err(&frame(0x30, &s(b"a\0b"))), NullCharacter);
        assert_eq!(err(&frame(0x30, &s(&[0xff]))), InvalidUtf8);
        assert_eq!(err(&frame(0x30, &s(&[0xed, 0xa0, 0x80]))), InvalidUtf8);
        assert_eq!(err(&frame(0x30, &s(&[0xc0, 0xaf]))), InvalidUtf8);
        // The payload is binary: anything goes.
        let mut body = s(b"t");
        body.extend_from_slice(&[0x00, 0xff, 0xed, 0xa0, 0x80]);
        assert!(matches!(ok(&frame(0x30, &body)), Packet::Publish(_)));
    }

    #[test]
    fn acks() {
        for first in [0x40, 0x50, 0x62, 0x70, 0xb0] {
            assert_eq!(err(&frame(first, &[0x00, 0x00])), ZeroPacketId);
            assert_eq!(err(&frame(first, &[0x01])), Truncated);
            assert_eq!(err(&frame(first, &[])), Truncated);
            assert_eq!(err(&frame(first, &[0x00, 0x01, 0x00])), TrailingBytes);
            ok(&frame(first, &[0x00, 0x01]));
        }
        for first in [0xc0, 0xd0, 0xe0] {
            assert_eq!(err(&frame(first, &[0x00])), TrailingBytes);
        }
    }

    #[test]
    fn subscribe() {
        let mut body = vec![0x00, 0x01];
        body.extend(s(b"a/b"));
        for (qos, expected) in [
            (0u8, None),
            (1, None),
            (2, None),
            (3, Some(InvalidQoS(3))),
            (4, Some(InvalidQoS(4))),
            (0x81, Some(InvalidQoS(0x81))),
            (0xfc, Some(InvalidQoS(0xfc))),
        ] {
            let mut body = body.clone();
            body.push(qos);
            match expected {
                None => drop(ok(&frame(0x82, &body))),
                Some(e) => assert_eq!(err(&frame(0x82, &body)), e),
            }
        }
        // QoS byte missing.
        assert_eq!(err(&frame(0x82, &body)), Truncated);
        // No filter at all.
        assert_eq!(err(&frame(0x82, &[0x00, 0x01])), EmptySubscription);
        let mut zero = body.clone();
        zero[1] = 0;
        zero.push(0);
        assert_eq!(err(&frame(0x82, &zero)), ZeroPacketId);
        // An empty filter decodes: the broker refuses it with 0x80.
        let mut empty = vec![0x00, 0x01];
        empty.extend(s(b""));
        empty.push(1);
        let bytes = frame(0x82, &empty);
        let Packet::Subscribe(sub) = ok(&bytes) else {
            panic!()
        };
        assert_eq!(
            sub.filters,
            [("", SubscriptionOptions::new(QoS::AtLeastOnce))]
        );
        // Filter validation.
        let mut nul = vec![0x00, 0x01];
        nul.extend(s(b"a\0"));
        nul.push(0);
        assert_eq!(err(&frame(0x82, &nul)), NullCharacter);
    }

    #[test]
    fn unsubscribe() {
        assert_eq!(err(&frame(0xa2, &[0x00, 0x01])), EmptyUnsubscription);
        assert_eq!(
            err(&frame(0xa2, &[0x00, 0x00, 0x00, 0x01, b'a'])),
            ZeroPacketId
        );
        assert_eq!(
            err(&frame(0xa2, &[0x00, 0x01, 0x00, 0x02, b'a'])),
            Truncated
        );
        assert_eq!(
            err(&frame(0xa2, &[0x00, 0x01, 0x00, 0x01, 0xfe])),
            InvalidUtf8
        );
        assert_eq!(
            err(&frame(0xa2, &[0x00, 0x01, 0x00, 0x01, 0x00])),
            NullCharacter
        );
        assert_eq!(
            err(&frame(0xa2, &[0x00, 0x01, 0x00, 0x01, b'a', 0x00])),
            Truncated
        );
        let bytes = frame(0xa2, &[0x00, 0x01, 0x00, 0x00]);
        let Packet::Unsubscribe(u) = ok(&bytes) else {
            panic!()
        };
        assert_eq!(u.filters, [""]);
    }

    #[test]
    fn suback_and_connack() {
        assert_eq!(err(&frame(0x90, &[0x00, 0x01])), EmptySubAck);
        assert_eq!(err(&frame(0x90, &[0x00, 0x00, 0x00])), ZeroPacketId);
        for code in [3u8, 4, 0x7f, 0x81, 0xff] {
            assert_eq!(
                err(&frame(0x90, &[0x00, 0x01, 0x00, code])),
                InvalidSubAckCode(code)
            );
        }
        assert_eq!(err(&frame(0x20, &[0x02, 0x00])), InvalidConnAckFlags(0x02));
        assert_eq!(err(&frame(0x20, &[0x80, 0x00])), InvalidConnAckFlags(0x80));
        assert_eq!(err(&frame(0x20, &[0x01, 0x05])), InvalidConnAckFlags(0x01));
        assert_eq!(
            err(&frame(0x20, &[0x00, 0x06])),
            InvalidConnectReturnCode(6)
        );
        assert_eq!(err(&frame(0x20, &[0x00])), Truncated);
        assert_eq!(err(&frame(0x20, &[0x00, 0x00, 0x00])), TrailingBytes);
    }

    /// A CONNECT body: name, level, flags, keep alive 60, then `payload`.
    fn connect(name: &[u8], level: u8, flags: u8, payload: &[&[u8]]) -> Vec<u8> {
        let mut body = s(name);
        body.extend_from_slice(&[level, flags, 0x00, 0x3c]);
        for field in payload {
            body.extend(s(field));
        }
        frame(0x10, &body)
    }

    #[test]
    fn connect_protocol() {
        ok(&connect(b"MQTT", 4, 0x02, &[b"c"]));
        ok(&connect(b"MQIsdp", 3, 0x02, &[b"c"]));
        assert_eq!(
            err(&connect(b"MQTT", 3, 0x02, &[b"c"])),
            UnsupportedProtocolLevel(3)
        );
        assert_eq!(
            err(&connect(b"MQTT", 6, 0x02, &[b"c"])),
            UnsupportedProtocolLevel(6)
        );
        assert_eq!(
            err(&connect(b"MQIsdp", 4, 0x02, &[b"c"])),
            UnsupportedProtocolLevel(4)
        );
        // The level is judged even when what follows is garbage (a later
        // version's CONNECT; level 5 is MQTT 5, decoded).
        assert_eq!(
            err(&frame(0x10, &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06])),
            UnsupportedProtocolLevel(6)
        );
        for name in [&b"mqtt"[..], b"MQT", b"MQTTT", b"", b"MQIsdP", b"\xff\xfe"] {
            assert_eq!(err(&connect(name, 4, 0x02, &[b"c"])), InvalidProtocolName);
        }
        assert_eq!(err(&frame(0x10, &[0x00, 0x04, b'M', b'Q'])), Truncated);
        assert_eq!(
            err(&frame(0x10, &[0x00, 0x04, b'M', b'Q', b'T', b'T'])),
            Truncated
        );
    }

    #[test]
    fn connect_flags() {
        let bad = |flags: u8, payload: &[&[u8]]| {
            assert_eq!(
                err(&connect(b"MQTT", 4, flags, payload)),
                InvalidConnectFlags(flags)
            );
            assert_eq!(
                err(&connect(b"MQIsdp", 3, flags, payload)),
                InvalidConnectFlags(flags)
            );
        };
        bad(0x03, &[b"c"]); // reserved bit
        bad(0x01, &[b"c"]);
        bad(0x08, &[b"c"]); // will QoS 1 without will
        bad(0x10, &[b"c"]); // will QoS 2 without will
        bad(0x20, &[b"c"]); // will retain without will
        bad(0x1c, &[b"c", b"w", b"m"]); // will QoS 3
        bad(0x40, &[b"c", b"p"]); // password without user name
                                  // Valid combinations.
        for flags in [0x00, 0x02, 0x04, 0x0c, 0x14, 0x24, 0x34, 0x80, 0xc0, 0xf6] {
            let mut fields: Vec<&[u8]> = vec![b"c"];
            if flags & 0x04 != 0 {
                fields.extend([&b"w"[..], b"m"]);
            }
            if flags & 0x80 != 0 {
                fields.push(b"u");
            }
            if flags & 0x40 != 0 {
                fields.push(b"p");
            }
            let bytes = connect(b"MQTT", 4, flags, &fields);
            let Packet::Connect(c) = ok(&bytes) else {
                panic!()
            };
            assert_eq!(c.will.is_some(), flags & 0x04 != 0);
            assert_eq!(
                c.will
                    .map(|w| (w.qos as u8, w.retain))
                    .unwrap_or((0, false)),
                ((flags >> 3) & 3, flags & 0x20 != 0)
            );
            assert_eq!(c.username.is_some(), flags & 0x80 != 0);
            assert_eq!(c.password.is_some(), flags & 0x40 != 0);
        }
    }

    #[test]
    fn connect_payload() {
        // Empty client identifier: the broker decides.
        let bytes = connect(b"MQTT", 4, 0x02, &[b""]);
        let Packet::Connect(c) = ok(&bytes) else {
            panic!()
        };
        assert_eq!(c.client_id, "");
        // Missing or cut fields.
        assert_eq!(err(&connect(b"MQTT", 4, 0x02, &[])), Truncated);
        assert_eq!(err(&connect(b"MQTT", 4, 0x04, &[b"c", b"w"])), Truncated);
        assert_eq!(err(&connect(b"MQTT", 4, 0x80, &[b"c"])), Truncated);
        assert_eq!(err(&connect(b"MQTT", 4, 0xc0, &[b"c", b"u"])), Truncated);
        let mut cut = connect(b"MQTT", 4, 0x02, &[b"cid"]);
        cut.pop();
        cut[1] -= 1;
        assert_eq!(err(&cut), Truncated);
        assert_eq!(
            err(&frame(
                0x10,
                &[0x00, 0x04, b'M', b'Q', b'T', b'T', 0x04, 0x02, 0x00]
            )),
            Truncated
        );
        // Fields the flags do not announce.
        assert_eq!(
            err(&connect(b"MQTT", 4, 0x02, &[b"c", b"u"])),
            TrailingBytes
        );
        assert_eq!(
            err(&connect(b"MQTT", 4, 0x80, &[b"c", b"u", b"p"])),
            TrailingBytes
        );
        // String validation of client id, will topic and user name; will
        // payload and password are binary.
        assert_eq!(err(&connect(b"MQTT", 4, 0x02, &[b"c\0"])), NullCharacter);
        assert_eq!(err(&connect(b"MQTT", 4, 0x02, &[b"\xc3"])), InvalidUtf8);
        assert_eq!(
            err(&connect(b"MQTT", 4, 0x04, &[b"c", b"\0", b"m"])),
            NullCharacter
        );
        assert_eq!(
            err(&connect(b"MQTT", 4, 0x80, &[b"c", b"\xff"])),
            InvalidUtf8
        );
        let bytes = connect(b"MQTT", 4, 0xc4, &[b"c", b"w", b"\0\xff", b"u", b"\0\xff"]);
        let Packet::Connect(c) = ok(&bytes) else {
            panic!()
        };
        assert_eq!(
            (c.will.map(|w| w.payload), c.password),
            (Some(&b"\0\xff"[..]), Some(&b"\0\xff"[..]))
        );
    }

    #[test]
    fn display_texts() {
        let samples = [
            MalformedRemainingLength,
            PacketTooLarge { size: 10, max: 5 },
            InvalidPacketType(0),
            InvalidFlags {
                packet_type: 6,
                flags: 0,
            },
            InvalidQoS(3),
            InvalidUtf8,
            NullCharacter,
            ZeroPacketId,
            EmptySubscription,
            EmptyUnsubscription,
            EmptySubAck,
            InvalidProtocolName,
            UnsupportedProtocolLevel(5),
            InvalidConnectFlags(1),
            InvalidConnAckFlags(2),
            InvalidConnectReturnCode(6),
            InvalidSubAckCode(3),
            Truncated,
            TrailingBytes,
        ];
        let texts: std::collections::HashSet<String> =
            samples.iter().map(|e| e.to_string()).collect();
        assert_eq!(texts.len(), samples.len());
        assert_eq!(
            PacketTooLarge { size: 10, max: 5 }.to_string(),
            "packet of 10 bytes exceeds the maximum of 5 bytes"
        );
        assert_eq!(
            InvalidFlags {
                packet_type: 6,
                flags: 0
            }
            .to_string(),
            "invalid fixed header flags 0b0000 for packet type 6"
        );
    }
}
