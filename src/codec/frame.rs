//! The decoder of the broker's input loop.
//!
//! Nearly everything a connected client sends is a PUBLISH or a four-byte
//! acknowledgement. [`decode_frame`] gives those as themselves rather than
//! inside a [`Packet`], so the loop neither moves a packet-sized enum
//! through its results nor drops one after each message.

use super::decode::{decode_body, publish, split_packet};
use super::reader::Reader;
use super::{AckKind, DecodeError, Packet, PacketId, Protocol, Publish};

/// One packet as the broker's input loop takes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Frame<'a> {
    /// A PUBLISH.
    Publish(Publish<'a>),
    /// PUBACK, PUBREC, PUBREL or PUBCOMP in four bytes: the 3.1.1 form,
    /// which is also MQTT 5's with reason Success and no properties
    /// (§3.4.2.1). Never [`AckKind::UnsubAck`].
    Ack(AckKind, PacketId),
    /// Any other packet, acknowledgements with a reason code or properties
    /// among them.
    Other(Packet<'a>),
}

impl<'a> Frame<'a> {
    /// The same packet in the general model.
    pub fn into_packet(self) -> Packet<'a> {
        match self {
            Frame::Publish(publish) => Packet::Publish(publish),
            Frame::Ack(kind, packet_id) => kind.packet(packet_id),
            Frame::Other(packet) => packet,
        }
    }
}

/// [`super::decode_as`] for the broker's input loop: the same checks, the
/// same errors and the same bytes consumed, with PUBLISH and the four-byte
/// acknowledgements apart.
#[inline(always)]
pub fn decode_frame(
    buf: &[u8],
    max_packet_size: usize,
    protocol: Option<Protocol>,
) -> Result<Option<(Frame<'_>, usize)>, DecodeError> {
    let Some((first, body, size)) = split_packet(buf, max_packet_size, protocol)? else {
        return Ok(None);
    };
    let kind = match first {
        0x30..=0x3f => {
            let mut r = Reader::new(body);
            let publish = publish(first & 0x0f, &mut r, protocol == Some(Protocol::V5))?;
            r.finish()?;
            return Ok(Some((Frame::Publish(publish), size)));
        }
        0x40 => AckKind::PubAck,
        0x50 => AckKind::PubRec,
        0x62 => AckKind::PubRel,
        0x70 => AckKind::PubComp,
        _ => return Ok(Some((general(first, body, protocol)?, size))),
    };
    // A longer acknowledgement (MQTT 5 with a reason code, or trailing
    // bytes in 3.1.1) and packet id 0 take the general path, which reads
    // or refuses them.
    match *body {
        [hi, lo] if [hi, lo] != [0, 0] => {
            Ok(Some((Frame::Ack(kind, u16::from_be_bytes([hi, lo])), size)))
        }
        _ => Ok(Some((general(first, body, protocol)?, size))),
    }
}

/// Any packet but the hot ones, by [`decode_body`].
#[cold]
#[inline(never)]
fn general(first: u8, body: &[u8], protocol: Option<Protocol>) -> Result<Frame<'_>, DecodeError> {
    decode_body(first >> 4, first & 0x0f, body, protocol).map(Frame::Other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_as, Ack, Properties, QoS, ReasonCode};

    /// `decode_frame` and `decode_as` agree on `bytes`.
    fn same(bytes: &[u8], protocol: Option<Protocol>) -> Option<Frame<'_>> {
        let frame = decode_frame(bytes, 1024, protocol);
        let packet = decode_as(bytes, 1024, protocol);
        match (frame, packet) {
            (Ok(Some((frame, used))), Ok(Some((packet, expected)))) => {
                assert_eq!(used, expected);
                let kept = frame.clone();
                assert_eq!(frame.into_packet(), packet);
                Some(kept)
            }
            (Ok(None), Ok(None)) => None,
            (frame, packet) => {
                assert_eq!(frame.err(), packet.err());
                None
            }
        }
    }

    #[test]
    fn hot_packets_apart() {
        let v311 = Some(Protocol::V311);
        let v5 = Some(Protocol::V5);
        assert_eq!(
            same(&[0x40, 0x02, 0x00, 0x07], v311),
            Some(Frame::Ack(AckKind::PubAck, 7))
        );
        assert_eq!(
            same(&[0x62, 0x02, 0x01, 0x00], v5),
            Some(Frame::Ack(AckKind::PubRel, 256))
        );
        assert_eq!(
            same(&[0x32, 0x06, 0x00, 0x01, b'a', 0x00, 0x09, b'x'], v311),
            Some(Frame::Publish(Publish {
                dup: false,
                qos: QoS::AtLeastOnce,
                retain: false,
                topic: "a",
                packet_id: Some(9),
                payload: b"x",
                properties: Properties::EMPTY,
            }))
        );
        // An MQTT 5 acknowledgement with a reason code is not a 4-byte one.
        assert_eq!(
            same(&[0x50, 0x03, 0x00, 0x07, 0x10], v5),
            Some(Frame::Other(Packet::PubRec(Ack {
                reason: ReasonCode::NO_MATCHING_SUBSCRIBERS,
                ..Ack::new(7)
            })))
        );
        assert_eq!(
            same(&[0xc0, 0x00], v311),
            Some(Frame::Other(Packet::PingReq))
        );
    }

    #[test]
    fn same_errors_and_partial_input() {
        let v311 = Some(Protocol::V311);
        let v31 = Some(Protocol::V31);
        for bytes in [
            &[0x40, 0x02, 0x00, 0x00][..],
            &[0x40, 0x03, 0x00, 0x01, 0x00],
            &[0x41, 0x02, 0x00, 0x01],
            &[0x6a, 0x02, 0x00, 0x01],
            &[0x40, 0x02, 0x00],
            &[0x40],
            &[0x36, 0x02, 0x00, 0x00],
            &[0x38, 0x03, 0x00, 0x01, b'a'],
            &[0x30, 0x04, 0x00, 0x03, b'a', b'b'],
            &[0x30, 0x03, 0x00, 0x01, 0x00],
            &[0x32, 0x05, 0x00, 0x01, b'a', 0x00, 0x00],
            &[0x30, 0xff, 0xff, 0xff, 0x7f],
        ] {
            same(bytes, v311);
            same(bytes, v31);
            same(bytes, Some(Protocol::V5));
            same(bytes, None);
        }
        assert_eq!(
            same(&[0x6a, 0x02, 0x00, 0x01], v31),
            Some(Frame::Other(Packet::PubRel(Ack::new(1))))
        );
    }
}
