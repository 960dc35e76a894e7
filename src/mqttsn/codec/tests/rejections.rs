//! The MQTT-SN codec refusing what is not MQTT-SN 1.2, and never
//! panicking on any datagram.

use super::*;

/// Decodes bytes expected to be refused.
fn refused(bytes: &[u8]) -> DecodeError {
    match decode(bytes) {
        Err(e) => {
            assert!(!e.to_string().is_empty());
            e
        }
        Ok(datagram) => panic!("{bytes:02x?} decoded to {datagram:?}"),
    }
}

#[test]
fn truncated_datagrams_are_refused() {
    let truncated = |message, field| DecodeError::Truncated { message, field };
    assert_eq!(refused(&[]), truncated("datagram", "Length"));
    assert_eq!(refused(&[0x01, 0x00]), truncated("datagram", "Length"));
    assert_eq!(
        refused(&[0x01, 0x00, 0x03]),
        truncated("datagram", "MsgType")
    );
    // A CONNECT cut before its Duration, with a Length to match.
    assert_eq!(
        refused(&[0x05, 0x04, 0x04, 0x01, 0x00]),
        truncated("CONNECT", "Duration")
    );
    assert_eq!(
        refused(&[0x05, 0x0c, 0x00, 0x00, 0x01]),
        truncated("PUBLISH", "MsgId")
    );
    assert_eq!(refused(&[0x02, 0x0a]), truncated("REGISTER", "TopicId"));
    assert_eq!(
        refused(&[0x04, 0x12, 0x00, 0x01]),
        truncated("SUBSCRIBE", "MsgId")
    );
    assert_eq!(refused(&[0x02, 0x02]), truncated("GWINFO", "GwId"));
    // The encapsulation cut inside its header, and with nothing after it.
    assert_eq!(
        refused(&[0x06, 0xfe, 0x00, 0x01]),
        truncated("encapsulation", "Wireless Node Id")
    );
    assert_eq!(
        refused(&[0x03, 0xfe, 0x00]),
        truncated("datagram", "Length")
    );
}

#[test]
fn lengths_that_disagree_are_refused() {
    let mismatch = |declared, actual| DecodeError::LengthMismatch { declared, actual };
    // Longer and shorter than the datagram.
    assert_eq!(refused(&[0x05, 0x0e, 0x00, 0x01]), mismatch(5, 4));
    assert_eq!(refused(&[0x03, 0x0e, 0x00, 0x01]), mismatch(3, 4));
    assert_eq!(refused(&[0x00, 0x17]), mismatch(0, 2));
    assert_eq!(refused(&[0x01, 0x00, 0x05, 0x17]), mismatch(5, 4));
    // The encapsulated message must fill what follows the encapsulation.
    assert_eq!(
        refused(&[0x03, 0xfe, 0x00, 0x02, 0x17, 0x00]),
        mismatch(2, 3)
    );
}

#[test]
fn fixed_sizes_are_enforced() {
    let bad = |message, length| DecodeError::BadLength { message, length };
    assert_eq!(refused(&[0x04, 0x05, 0x00, 0x00]), bad("CONNACK", 4));
    assert_eq!(refused(&[0x03, 0x17, 0x00]), bad("PINGRESP", 3));
    assert_eq!(refused(&[0x03, 0x0e, 0x00]), bad("PUBCOMP", 3));
    assert_eq!(refused(&[0x04, 0x00, 0x01, 0x00]), bad("ADVERTISE", 4));
    assert_eq!(refused(&[0x08, 0x0d, 0, 1, 0, 2, 0, 0]), bad("PUBACK", 8));
    assert_eq!(refused(&[0x03, 0x18, 0x00]), bad("DISCONNECT", 3));
    assert_eq!(
        refused(&[0x05, 0x18, 0x00, 0x01, 0x02]),
        bad("DISCONNECT", 5)
    );
    // A pre-defined or short topic is exactly two bytes.
    assert_eq!(
        refused(&[0x08, 0x12, 0x01, 0x00, 0x01, 0x00, 0x02, 0x03]),
        bad("SUBSCRIBE", 8)
    );
    assert_eq!(
        refused(&[0x06, 0x14, 0x02, 0x00, 0x01, b'a']),
        bad("UNSUBSCRIBE", 6)
    );
    // An encapsulation's Length is one byte and covers at least its Ctrl.
    assert_eq!(refused(&[0x02, 0xfe, 0x02, 0x17]), bad("encapsulation", 2));
    assert_eq!(
        refused(&[0x01, 0x00, 0x05, 0xfe, 0x00, 0x02, 0x17]),
        bad("encapsulation", 5)
    );
}

#[test]
fn unknown_types_are_refused() {
    for msg_type in [0x03, 0x11, 0x19, 0x1e, 0x80, 0xfd, 0xff] {
        assert_eq!(
            refused(&[0x02, msg_type]),
            DecodeError::UnknownType(msg_type)
        );
    }
    assert_eq!(
        refused(&[0x03, 0xfe, 0x00, 0x03, 0xfe, 0x00, 0x02, 0x17]),
        DecodeError::NestedEncapsulation
    );
}

#[test]
fn reserved_values_are_refused() {
    let topic_id_type = DecodeError::Reserved {
        field: "TopicIdType",
        value: 3,
    };
    assert_eq!(
        refused(&[0x07, 0x0c, 0x03, 0x00, 0x01, 0x00, 0x00]),
        topic_id_type
    );
    assert_eq!(
        refused(&[0x07, 0x12, 0x03, 0x00, 0x01, 0x00, 0x01]),
        topic_id_type
    );
    assert_eq!(refused(&[0x03, 0x07, 0x23]), topic_id_type);
    let return_code = DecodeError::Reserved {
        field: "ReturnCode",
        value: 4,
    };
    assert_eq!(refused(&[0x03, 0x05, 0x04]), return_code);
    assert_eq!(refused(&[0x07, 0x0b, 0, 1, 0, 1, 4]), return_code);
    assert_eq!(refused(&[0x08, 0x13, 0, 0, 1, 0, 1, 4]), return_code);
    assert_eq!(refused(&[0x03, 0x1d, 0x04]), return_code);
}

#[test]
fn connect_of_another_protocol_is_refused() {
    let e = refused(&[0x07, 0x04, 0x04, 0x02, 0x00, 0x3c, b'c']);
    assert_eq!(e, DecodeError::Protocol(0x02));
    assert!(e.to_string().contains("ProtocolId 0x02"), "{e}");
}

/// A small xorshift generator: deterministic, so a failure replays.
struct XorShift(u64);

impl XorShift {
    /// The next pseudo-random value.
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// A value in `0..bound`.
    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Checks that `bytes` decode without panicking, and that what decodes
/// re-encodes to bytes that decode the same.
fn check_decode(bytes: &[u8]) {
    let Ok(datagram) = decode(bytes) else {
        return;
    };
    let mut out = Vec::new();
    match &datagram.forwarded {
        Some(forwarded) => encode_forwarded(forwarded, &datagram.packet, &mut out),
        None => encode(&datagram.packet, &mut out),
    }
    assert_eq!(decode(&out).as_ref(), Ok(&datagram), "{bytes:02x?}");
    // Only a 3-byte Length on a short message shrinks on re-encoding.
    assert!(out.len() <= bytes.len(), "{bytes:02x?}");
}

#[test]
fn decode_never_panics() {
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let seeds: Vec<Vec<u8>> = every_message().iter().map(encoded).collect();
    for _ in 0..200_000 {
        let mut bytes = match rng.below(3) {
            // Random bytes with a plausible Length and MsgType.
            0 => {
                let len = rng.below(12);
                let mut bytes: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
                if let Some(first) = bytes.first_mut() {
                    *first = len as u8;
                }
                if let Some(second) = bytes.get_mut(1) {
                    *second %= 0x20;
                }
                bytes
            }
            // A valid message with a byte changed, cut or extended.
            1 => {
                let mut bytes = seeds[rng.below(seeds.len())].clone();
                let at = rng.below(bytes.len());
                match rng.below(3) {
                    0 => bytes[at] = rng.next() as u8,
                    1 => bytes.truncate(at),
                    _ => bytes.push(rng.next() as u8),
                }
                if rng.below(2) == 0 {
                    let len = bytes.len() as u8;
                    if let Some(first) = bytes.first_mut() {
                        *first = len;
                    }
                }
                bytes
            }
            // A valid message behind an encapsulation header of any shape.
            _ => {
                let header_len = rng.below(6);
                let mut bytes: Vec<u8> = (0..header_len).map(|_| rng.next() as u8).collect();
                if let Some(first) = bytes.first_mut() {
                    *first = header_len as u8;
                }
                if let Some(second) = bytes.get_mut(1) {
                    *second = 0xfe;
                }
                bytes.extend_from_slice(&seeds[rng.below(seeds.len())]);
                bytes
            }
        };
        check_decode(&bytes);
        // And every prefix of the datagram (UDP may hand over a cut one).
        while bytes.pop().is_some() {
            check_decode(&bytes);
        }
    }
}
