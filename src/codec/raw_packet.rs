//! The decoder of the broker's input loop.
//!
//! Nearly everything a connected client sends is a PUBLISH or a four-byte
//! acknowledgement. [`RawPacket`] splits a packet off the input and lets
//! the loop decode those as themselves rather than inside a [`Packet`], so
//! it neither moves a packet-sized enum through its results nor drops one
//! after each message.

use super::decode::{decode_body, publish, split_packet};
use super::reader::Reader;
use super::{AckKind, DecodeError, Packet, PacketId, Protocol, Publish};

/// A whole packet at the front of the input, its fixed header checked and
/// its body not yet decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RawPacket<'a> {
    first: u8,
    body: &'a [u8],
}

impl<'a> RawPacket<'a> {
    /// The packet at the start of `buf` and its size, once it is all
    /// there: the checks of [`super::decode_as`] up to the body (the first
    /// byte, the remaining length, the maximum size), with the same errors.
    #[inline(always)]
    pub fn split(
        buf: &'a [u8],
        max_packet_size: usize,
        protocol: Option<Protocol>,
    ) -> Result<Option<(RawPacket<'a>, usize)>, DecodeError> {
        Ok(split_packet(buf, max_packet_size, protocol)?
            .map(|(first, body, size)| (RawPacket { first, body }, size)))
    }

    /// The packet as a PUBLISH, if it is one (decoded and checked as
    /// [`super::decode_as`] does).
    #[inline(always)]
    pub fn publish(&self, protocol: Option<Protocol>) -> Option<Result<Publish<'a>, DecodeError>> {
        if self.first >> 4 != 3 {
            return None;
        }
        let mut r = Reader::new(self.body);
        let decoded = publish(self.first & 0x0f, &mut r, protocol == Some(Protocol::V5));
        Some(decoded.and_then(|publish| r.finish().map(|()| publish)))
    }

    /// The kind and packet id of a PUBACK, PUBREC, PUBREL or PUBCOMP in
    /// four bytes: the 3.1.1 form, which is also MQTT 5's with reason
    /// Success and no properties (§3.4.2.1). `None` for any other packet,
    /// a longer acknowledgement among them, and for packet id 0 (which
    /// [`RawPacket::decode`] refuses).
    #[inline(always)]
    pub fn short_ack(&self) -> Option<(AckKind, PacketId)> {
        let kind = match self.first {
            0x40 => AckKind::PubAck,
            0x50 => AckKind::PubRec,
            0x62 => AckKind::PubRel,
            0x70 => AckKind::PubComp,
            _ => return None,
        };
        match *self.body {
            [hi, lo] if [hi, lo] != [0, 0] => Some((kind, u16::from_be_bytes([hi, lo]))),
            _ => None,
        }
    }

    /// The packet, whatever it is, as [`super::decode_as`] gives it.
    #[inline(never)]
    pub fn decode(&self, protocol: Option<Protocol>) -> Result<Packet<'a>, DecodeError> {
        decode_body(self.first >> 4, self.first & 0x0f, self.body, protocol)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::{decode_as, Ack, Properties, QoS};

    /// Splits `bytes` and decodes the packet the way the broker's loop
    /// does: PUBLISH and short acks apart, the rest by `decode`. Checks
    /// that it agrees with `decode_as` (packet, size, error).
    fn loop_decode(bytes: &[u8], protocol: Option<Protocol>) -> Option<Packet<'_>> {
        let ours = RawPacket::split(bytes, 1024, protocol).and_then(|split| {
            split
                .map(|(raw, size)| {
                    let packet = match (raw.publish(protocol), raw.short_ack()) {
                        (Some(publish), _) => Packet::Publish(publish?),
                        (None, Some((kind, packet_id))) => kind.packet(packet_id),
                        (None, None) => raw.decode(protocol)?,
                    };
                    Ok((packet, size))
                })
                .transpose()
        });
        let expected = decode_as(bytes, 1024, protocol);
        assert_eq!(ours, expected, "{bytes:02x?} as {protocol:?}");
        ours.ok().flatten().map(|(packet, _)| packet)
    }

    #[test]
    fn hot_packets_apart() {
        let v311 = Some(Protocol::V311);
        let v5 = Some(Protocol::V5);
        let raw = |bytes| RawPacket::split(bytes, 1024, v311).unwrap().unwrap().0;
        assert_eq!(
            raw(&[0x40, 0x02, 0x00, 0x07]).short_ack(),
            Some((AckKind::PubAck, 7))
        );
        assert_eq!(
            raw(&[0x62, 0x02, 0x01, 0x00]).short_ack(),
            Some((AckKind::PubRel, 256))
        );
        assert_eq!(raw(&[0x40, 0x02, 0x00, 0x07]).publish(v311), None);
        assert_eq!(
            raw(&[0x32, 0x06, 0x00, 0x01, b'a', 0x00, 0x09, b'x']).publish(v311),
            Some(Ok(Publish {
                dup: false,
                qos: QoS::AtLeastOnce,
                retain: false,
                topic: "a",
                packet_id: Some(9),
                payload: b"x",
                properties: Properties::EMPTY,
            }))
        );
        // An MQTT 5 acknowledgement with a reason code is not a short one.
        let long = RawPacket::split(&[0x50, 0x03, 0x00, 0x07, 0x10], 1024, v5)
            .unwrap()
            .unwrap()
            .0;
        assert_eq!(long.short_ack(), None);
        assert_eq!(
            loop_decode(&[0x50, 0x03, 0x00, 0x07, 0x10], v5),
            Some(Packet::PubRec(Ack {
                reason: crate::codec::ReasonCode::NO_MATCHING_SUBSCRIBERS,
                ..Ack::new(7)
            }))
        );
        assert_eq!(loop_decode(&[0xc0, 0x00], v311), Some(Packet::PingReq));
    }

    #[test]
    fn same_packets_errors_and_partial_input() {
        for bytes in [
            &[0x40, 0x02, 0x00, 0x07][..],
            &[0x40, 0x02, 0x00, 0x00],
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
            &[0x32, 0x06, 0x00, 0x01, b'a', 0x00, 0x09, 0x00],
            &[0x30, 0xff, 0xff, 0xff, 0x7f],
            &[0xc0, 0x00],
        ] {
            for protocol in [
                None,
                Some(Protocol::V31),
                Some(Protocol::V311),
                Some(Protocol::V5),
            ] {
                loop_decode(bytes, protocol);
            }
        }
    }
}
