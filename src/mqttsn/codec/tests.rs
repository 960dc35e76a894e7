//! The MQTT-SN codec against the specification's byte layouts: round
//! trips of every message and hand-written examples (refusals in
//! `rejections.rs`).

use super::*;
use crate::mqttsn::packet::{Datagram, Forwarded, Packet, SubscribeTopic};

mod rejections;

/// Flags with everything off (QoS 0, TopicIdType normal).
fn no_flags() -> Flags {
    Flags {
        dup: false,
        qos: SnQos::AtMostOnce,
        retain: false,
        will: false,
        clean_session: false,
        topic_id_type: TopicIdType::Normal,
    }
}

/// `packet` encoded on its own.
fn encoded(packet: &Packet) -> Vec<u8> {
    let mut out = Vec::new();
    encode(packet, &mut out);
    out
}

/// Decodes bytes expected to hold a message without encapsulation.
fn decoded(bytes: &[u8]) -> Packet {
    match decode(bytes) {
        Ok(Datagram {
            forwarded: None,
            packet,
        }) => packet,
        other => panic!("{bytes:02x?} decoded to {other:?}"),
    }
}

/// One of each message type, with fields set to non-trivial values, and
/// the optional forms (empty will, PINGREQ with and without a client id,
/// DISCONNECT with and without a duration, the three subscription forms).
fn every_message() -> Vec<Packet> {
    let flags = Flags {
        dup: true,
        qos: SnQos::ExactlyOnce,
        retain: true,
        will: false,
        clean_session: false,
        topic_id_type: TopicIdType::Normal,
    };
    let connect_flags = Flags {
        will: true,
        clean_session: true,
        ..no_flags()
    };
    vec![
        Packet::Advertise {
            gw_id: 7,
            duration: 900,
        },
        Packet::SearchGw { radius: 3 },
        Packet::GwInfo {
            gw_id: 1,
            gw_add: Vec::new(),
        },
        Packet::GwInfo {
            gw_id: 2,
            gw_add: vec![192, 168, 1, 9, 0x07, 0x5c],
        },
        Packet::Connect {
            flags: connect_flags,
            protocol_id: 1,
            duration: 60,
            client_id: b"sensor-12".to_vec(),
        },
        Packet::ConnAck {
            return_code: ReturnCode::Accepted,
        },
        Packet::WillTopicReq,
        Packet::WillTopic {
            will: Some((
                Flags {
                    qos: SnQos::AtLeastOnce,
                    retain: true,
                    ..no_flags()
                },
                b"last/will".to_vec(),
            )),
        },
        Packet::WillTopic { will: None },
        Packet::WillMsgReq,
        Packet::WillMsg {
            message: b"gone".to_vec(),
        },
        Packet::Register {
            topic_id: 0x1234,
            msg_id: 0xbeef,
            topic_name: b"a/b/c".to_vec(),
        },
        Packet::RegAck {
            topic_id: 0x1234,
            msg_id: 0xbeef,
            return_code: ReturnCode::Congestion,
        },
        Packet::Publish {
            flags,
            topic_id: 42,
            msg_id: 9,
            data: b"21.5".to_vec(),
        },
        Packet::Publish {
            flags: Flags {
                qos: SnQos::MinusOne,
                topic_id_type: TopicIdType::Short,
                ..no_flags()
            },
            topic_id: u16::from_be_bytes(*b"ab"),
            msg_id: 0,
            data: Vec::new(),
        },
        Packet::PubAck {
            topic_id: 42,
            msg_id: 9,
            return_code: ReturnCode::InvalidTopicId,
        },
        Packet::PubComp { msg_id: 1 },
        Packet::PubRec { msg_id: 2 },
        Packet::PubRel { msg_id: 3 },
        Packet::Subscribe {
            flags: Flags {
                qos: SnQos::AtLeastOnce,
                ..no_flags()
            },
            msg_id: 4,
            topic: SubscribeTopic::Name(b"a/+/#".to_vec()),
        },
        Packet::Subscribe {
            flags: Flags {
                topic_id_type: TopicIdType::Predefined,
                ..no_flags()
            },
            msg_id: 5,
            topic: SubscribeTopic::Predefined(0x0102),
        },
        Packet::Subscribe {
            flags: Flags {
                dup: true,
                topic_id_type: TopicIdType::Short,
                ..no_flags()
            },
            msg_id: 6,
            topic: SubscribeTopic::Short(*b"xy"),
        },
        Packet::SubAck {
            flags: Flags {
                qos: SnQos::ExactlyOnce,
                ..no_flags()
            },
            topic_id: 17,
            msg_id: 4,
            return_code: ReturnCode::NotSupported,
        },
        Packet::Unsubscribe {
            flags: no_flags(),
            msg_id: 7,
            topic: SubscribeTopic::Name(b"a/b".to_vec()),
        },
        Packet::Unsubscribe {
            flags: Flags {
                topic_id_type: TopicIdType::Predefined,
                ..no_flags()
            },
            msg_id: 8,
            topic: SubscribeTopic::Predefined(3),
        },
        Packet::Unsubscribe {
            flags: Flags {
                topic_id_type: TopicIdType::Short,
                ..no_flags()
            },
            msg_id: 9,
            topic: SubscribeTopic::Short(*b"zz"),
        },
        Packet::UnsubAck { msg_id: 7 },
        Packet::PingReq { client_id: None },
        Packet::PingReq {
            client_id: Some(b"sleepy".to_vec()),
        },
        Packet::PingResp,
        Packet::Disconnect { duration: None },
        Packet::Disconnect {
            duration: Some(3600),
        },
        Packet::WillTopicUpd {
            will: Some((no_flags(), b"new/will".to_vec())),
        },
        Packet::WillTopicUpd { will: None },
        Packet::WillTopicResp {
            return_code: ReturnCode::Accepted,
        },
        Packet::WillMsgUpd {
            message: b"new message".to_vec(),
        },
        Packet::WillMsgResp {
            return_code: ReturnCode::NotSupported,
        },
    ]
}

#[test]
fn every_message_round_trips() {
    let messages = every_message();
    // Every MsgType of MQTT-SN 1.2 but the encapsulation (tested apart).
    let mut types: Vec<u8> = messages.iter().map(|p| encoded(p)[1]).collect();
    types.dedup();
    assert_eq!(types.len(), 27);
    for packet in messages {
        let bytes = encoded(&packet);
        assert_eq!(bytes.len(), encoded_len(&packet), "{packet:?}");
        assert_eq!(usize::from(bytes[0]), bytes.len(), "{packet:?}");
        assert_eq!(decoded(&bytes), packet);
    }
}

#[test]
fn every_message_round_trips_through_a_forwarder() {
    let forwarded = Forwarded {
        ctrl: 0x02,
        node_id: vec![0xde, 0xad, 0xbe, 0xef],
    };
    for packet in every_message() {
        let mut bytes = Vec::new();
        encode_forwarded(&forwarded, &packet, &mut bytes);
        assert_eq!(bytes[..7], [7, 0xfe, 0x02, 0xde, 0xad, 0xbe, 0xef]);
        assert_eq!(bytes[7..], encoded(&packet));
        let datagram = decode(&bytes).unwrap();
        assert_eq!(datagram.forwarded.as_ref(), Some(&forwarded));
        assert_eq!(datagram.packet, packet);
    }
}

#[test]
fn flags_bits_follow_the_specification() {
    let all = Flags {
        dup: true,
        qos: SnQos::MinusOne,
        retain: true,
        will: true,
        clean_session: true,
        topic_id_type: TopicIdType::Short,
    };
    assert_eq!(all.to_byte(), 0b1111_1110);
    assert_eq!(Flags::from_byte(0b1111_1110), Ok(all));
    assert_eq!(no_flags().to_byte(), 0);
    let qos1_predefined = Flags {
        qos: SnQos::AtLeastOnce,
        topic_id_type: TopicIdType::Predefined,
        ..no_flags()
    };
    assert_eq!(qos1_predefined.to_byte(), 0b0010_0001);
    let qos2 = Flags {
        qos: SnQos::ExactlyOnce,
        ..no_flags()
    };
    assert_eq!(qos2.to_byte(), 0b0100_0000);
    // Every byte whose TopicIdType is not reserved survives the round trip.
    for byte in 0..=u8::MAX {
        match Flags::from_byte(byte) {
            Ok(flags) => assert_eq!(flags.to_byte(), byte),
            Err(e) => assert_eq!(
                e,
                DecodeError::Reserved {
                    field: "TopicIdType",
                    value: 3
                }
            ),
        }
        assert_eq!(Flags::from_byte(byte).is_err(), byte & 0b11 == 0b11);
    }
}

#[test]
fn return_codes() {
    for byte in 0..=3 {
        assert_eq!(
            ReturnCode::from_byte(byte).map(ReturnCode::to_byte),
            Ok(byte)
        );
    }
    assert_eq!(
        ReturnCode::from_byte(4),
        Err(DecodeError::Reserved {
            field: "ReturnCode",
            value: 4
        })
    );
}

#[test]
fn connect_bytes() {
    // Length 10, CONNECT, flags Will + CleanSession, ProtocolId 1,
    // Duration 30 s, client id "abcd".
    let bytes = [0x0a, 0x04, 0x0c, 0x01, 0x00, 0x1e, b'a', b'b', b'c', b'd'];
    let packet = Packet::Connect {
        flags: Flags {
            will: true,
            clean_session: true,
            ..no_flags()
        },
        protocol_id: 1,
        duration: 30,
        client_id: b"abcd".to_vec(),
    };
    assert_eq!(decoded(&bytes), packet);
    assert_eq!(encoded(&packet), bytes);
}

#[test]
fn publish_bytes() {
    // QoS 1, retained, pre-defined topic 0x0102, MsgId 0x0304, data "hi".
    let bytes = [0x09, 0x0c, 0x31, 0x01, 0x02, 0x03, 0x04, b'h', b'i'];
    let packet = Packet::Publish {
        flags: Flags {
            qos: SnQos::AtLeastOnce,
            retain: true,
            topic_id_type: TopicIdType::Predefined,
            ..no_flags()
        },
        topic_id: 0x0102,
        msg_id: 0x0304,
        data: b"hi".to_vec(),
    };
    assert_eq!(decoded(&bytes), packet);
    assert_eq!(encoded(&packet), bytes);
}

#[test]
fn short_messages_bytes() {
    let cases: [(&[u8], Packet); 8] = [
        (
            &[0x05, 0x00, 0x01, 0x03, 0x84],
            Packet::Advertise {
                gw_id: 1,
                duration: 900,
            },
        ),
        (&[0x03, 0x01, 0x00], Packet::SearchGw { radius: 0 }),
        (
            &[0x03, 0x05, 0x03],
            Packet::ConnAck {
                return_code: ReturnCode::NotSupported,
            },
        ),
        (
            &[0x08, 0x13, 0x20, 0x00, 0x05, 0x00, 0x06, 0x00],
            Packet::SubAck {
                flags: Flags {
                    qos: SnQos::AtLeastOnce,
                    ..no_flags()
                },
                topic_id: 5,
                msg_id: 6,
                return_code: ReturnCode::Accepted,
            },
        ),
        (&[0x02, 0x16], Packet::PingReq { client_id: None }),
        (
            &[0x04, 0x16, b'i', b'd'],
            Packet::PingReq {
                client_id: Some(b"id".to_vec()),
            },
        ),
        (
            &[0x04, 0x18, 0x00, 0x3c],
            Packet::Disconnect { duration: Some(60) },
        ),
        (&[0x02, 0x07], Packet::WillTopic { will: None }),
    ];
    for (bytes, packet) in cases {
        assert_eq!(decoded(bytes), packet);
        assert_eq!(encoded(&packet), bytes);
    }
}

#[test]
fn subscribe_bytes() {
    // Short topic "ab", QoS 0, MsgId 1.
    let short = [0x07, 0x12, 0x02, 0x00, 0x01, b'a', b'b'];
    // Topic name "t/#", QoS 1, MsgId 2.
    let name = [0x08, 0x12, 0x20, 0x00, 0x02, b't', b'/', b'#'];
    assert_eq!(
        decoded(&short),
        Packet::Subscribe {
            flags: Flags {
                topic_id_type: TopicIdType::Short,
                ..no_flags()
            },
            msg_id: 1,
            topic: SubscribeTopic::Short(*b"ab"),
        }
    );
    assert_eq!(
        decoded(&name),
        Packet::Subscribe {
            flags: Flags {
                qos: SnQos::AtLeastOnce,
                ..no_flags()
            },
            msg_id: 2,
            topic: SubscribeTopic::Name(b"t/#".to_vec()),
        }
    );
    // The topic decides the TopicIdType written, whatever the flags say.
    let mismatched = Packet::Unsubscribe {
        flags: no_flags(),
        msg_id: 1,
        topic: SubscribeTopic::Predefined(0x0a0b),
    };
    assert_eq!(
        encoded(&mismatched),
        [0x07, 0x14, 0x01, 0x00, 0x01, 0x0a, 0x0b]
    );
}

#[test]
fn long_length_form() {
    // 255 bytes in all: the last size with a one-byte Length.
    let fits = Packet::Publish {
        flags: no_flags(),
        topic_id: 1,
        msg_id: 0,
        data: vec![0x55; 255 - 7],
    };
    let bytes = encoded(&fits);
    assert_eq!((bytes.len(), bytes[0]), (255, 255));
    assert_eq!(decoded(&bytes), fits);

    // One byte more and the Length takes 3 bytes: 0x01, then 258.
    let long = Packet::Publish {
        flags: no_flags(),
        topic_id: 1,
        msg_id: 0,
        data: vec![0x55; 256 - 7],
    };
    let bytes = encoded(&long);
    assert_eq!(bytes.len(), 258);
    assert_eq!(bytes[..5], [0x01, 0x01, 0x02, 0x0c, 0x00]);
    assert_eq!(encoded_len(&long), 258);
    assert_eq!(decoded(&bytes), long);

    // A short message may come with the 3-byte form too.
    assert_eq!(
        decoded(&[0x01, 0x00, 0x06, 0x0e, 0x00, 0x07]),
        Packet::PubComp { msg_id: 7 }
    );
}

#[test]
fn forwarder_encapsulation_bytes() {
    // Encapsulation of Length 5 (Ctrl 0x01, node id 0xaa 0xbb) around a
    // PINGREQ.
    let bytes = [0x05, 0xfe, 0x01, 0xaa, 0xbb, 0x02, 0x16];
    let datagram = decode(&bytes).unwrap();
    let forwarded = Forwarded {
        ctrl: 0x01,
        node_id: vec![0xaa, 0xbb],
    };
    assert_eq!(datagram.forwarded.as_ref(), Some(&forwarded));
    assert_eq!(datagram.packet, Packet::PingReq { client_id: None });
    let mut out = vec![0x99];
    encode_forwarded(&forwarded, &datagram.packet, &mut out);
    assert_eq!(out[0], 0x99, "encoding appends");
    assert_eq!(out[1..], bytes);

    // An empty node id, and a long message inside.
    let long = Packet::WillMsg {
        message: vec![7; 300],
    };
    let mut out = Vec::new();
    let forwarded = Forwarded {
        ctrl: 0,
        node_id: Vec::new(),
    };
    encode_forwarded(&forwarded, &long, &mut out);
    assert_eq!(out[..6], [0x03, 0xfe, 0x00, 0x01, 0x01, 0x30]);
    let datagram = decode(&out).unwrap();
    assert_eq!(datagram.forwarded, Some(forwarded));
    assert_eq!(datagram.packet, long);
}

#[test]
fn largest_message() {
    let largest = Packet::Publish {
        flags: no_flags(),
        topic_id: 1,
        msg_id: 0,
        data: vec![0xaa; MAX_MESSAGE_LEN - 4 - 5],
    };
    let bytes = encoded(&largest);
    assert_eq!(bytes.len(), MAX_MESSAGE_LEN);
    assert_eq!(bytes[..3], [0x01, 0xff, 0xff]);
    assert_eq!(decoded(&bytes), largest);
}

/// A message the Length cannot express is not sent cut: debug builds stop
/// there (release builds append nothing).
#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "MQTT-SN message of 65536 bytes")]
fn too_large_a_message() {
    let too_large = Packet::WillMsg {
        message: vec![0; MAX_MESSAGE_LEN - 3],
    };
    assert_eq!(encoded_len(&too_large), MAX_MESSAGE_LEN + 1);
    encoded(&too_large);
}

#[test]
fn longest_node_id() {
    let forwarded = Forwarded {
        ctrl: 3,
        node_id: vec![0x11; 252],
    };
    let mut out = Vec::new();
    encode_forwarded(&forwarded, &Packet::PingResp, &mut out);
    assert_eq!(out[..3], [0xff, 0xfe, 0x03]);
    assert_eq!(out[255..], [0x02, 0x17]);
    let datagram = decode(&out).unwrap();
    assert_eq!(datagram.forwarded, Some(forwarded));
}

/// A node id the one-byte encapsulation Length cannot cover (none that
/// `decode` returns) is a bug of the gateway's.
#[cfg(debug_assertions)]
#[test]
#[should_panic(expected = "Wireless Node Id of 253 bytes")]
fn too_long_a_node_id() {
    let forwarded = Forwarded {
        ctrl: 0,
        node_id: vec![0; 253],
    };
    encode_forwarded(&forwarded, &Packet::PingResp, &mut Vec::new());
}
