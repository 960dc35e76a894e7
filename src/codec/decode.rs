//! Bytes to packets.
//!
//! [`decode`] validates everything the MQTT 3.1.1 and 5.0 standards say
//! about the byte format, properties included. What it leaves to the broker (it depends on state or policy,
//! not on bytes): topic name / filter syntax (wildcards, empty filters),
//! client identifier rules, and which packets a peer may send when.

use super::decode_connect::{connack, connect};
use super::reader::Reader;
use super::varint::read_remaining_length;
use super::{
    Ack, DecodeError, Packet, Properties, PropertyContext, Protocol, Publish, QoS, ReasonCode,
    ReasonContext, Reasoned, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe,
};

/// Decodes one packet from the start of `buf`.
///
/// - `Ok(None)`: `buf` holds only the beginning of a packet (possibly not
///   even its whole remaining length); read more bytes and call again.
/// - `Ok(Some((packet, consumed)))`: the first `consumed` bytes of `buf` are
///   `packet`, which borrows from `buf`.
/// - `Err(_)`: the peer sent a malformed packet; close the connection (after
///   CONNACK 0x01 for [`DecodeError::UnsupportedProtocolLevel`]).
///
/// The first byte (packet type and flags) is checked as soon as it arrives,
/// and the declared total size (fixed header + remaining length) is checked
/// against `max_packet_size` as soon as the remaining length is complete,
/// before the body has arrived: an error is returned rather than `Ok(None)`,
/// so a peer cannot make the caller buffer an oversized packet.
///
/// Never panics, whatever the bytes; allocates only the filter list of
/// SUBSCRIBE / UNSUBSCRIBE and the code list of SUBACK.
pub fn decode(
    buf: &[u8],
    max_packet_size: usize,
) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    decode_as(buf, max_packet_size, None)
}

/// [`decode`] for a connection whose protocol is known (`None`: not yet,
/// before its CONNECT). The fixed header's reserved flags are checked by
/// that protocol's rules: MQTT 3.1 lets a client set DUP on a PUBREL,
/// SUBSCRIBE or UNSUBSCRIBE it sends again; 3.1.1 requires 0010
/// [MQTT-3.6.1-1], [MQTT-3.8.1-1], [MQTT-3.10.1-1].
pub fn decode_as(
    buf: &[u8],
    max_packet_size: usize,
    protocol: Option<Protocol>,
) -> Result<Option<(Packet<'_>, usize)>, DecodeError> {
    let Some((first, body, size)) = split_packet(buf, max_packet_size, protocol)? else {
        return Ok(None);
    };
    let packet = decode_body(first >> 4, first & 0x0f, body, protocol)?;
    Ok(Some((packet, size)))
}

/// A whole packet at the start of a buffer, its body not yet decoded: the
/// fixed header's first byte, the body, and the total size.
pub(super) type Split<'a> = (u8, &'a [u8], usize);

/// The packet at the start of `buf`, once it is all there: the checks of
/// [`decode_as`] up to the body (the first byte, the remaining length, the
/// maximum size).
#[inline(always)]
pub(super) fn split_packet(
    buf: &[u8],
    max_packet_size: usize,
    protocol: Option<Protocol>,
) -> Result<Option<Split<'_>>, DecodeError> {
    let Some((&first, after_first)) = buf.split_first() else {
        return Ok(None);
    };
    check_fixed_header(first >> 4, first & 0x0f, protocol)?;
    let Some((remaining, len_bytes)) = read_remaining_length(after_first)? else {
        return Ok(None);
    };
    let header = 1 + len_bytes;
    let size = header + remaining;
    if size > max_packet_size {
        return Err(DecodeError::PacketTooLarge {
            size,
            max: max_packet_size,
        });
    }
    let Some(body) = buf.get(header..size) else {
        return Ok(None);
    };
    Ok(Some((first, body, size)))
}

/// The topic bytes of the PUBLISH at the start of `buf`, if that is where a
/// PUBLISH and its whole topic are; nothing is validated. For looking
/// ahead (to prefetch routing data for the next packet), never for
/// handling a packet: [`decode`] does that.
pub fn peek_publish_topic(buf: &[u8]) -> Option<&[u8]> {
    let (&first, rest) = buf.split_first()?;
    if first >> 4 != 3 {
        return None;
    }
    let (_, len_bytes) = read_remaining_length(rest).ok()??;
    let body = rest.get(len_bytes..)?;
    let topic_len = usize::from(u16::from_be_bytes([*body.first()?, *body.get(1)?]));
    body.get(2..2 + topic_len)
}

/// The length of the packet at the start of `buf` (fixed header and
/// body), if its fixed header is all there; nothing is validated. For
/// looking ahead, like [`peek_publish_topic`].
pub fn peek_packet_len(buf: &[u8]) -> Option<usize> {
    let (value, len_bytes) = read_remaining_length(buf.get(1..)?).ok()??;
    Some(1 + len_bytes + value)
}

/// Checks the packet type and its reserved flags [MQTT-2.2.2-1],
/// [MQTT-2.2.2-2], and PUBLISH's QoS [MQTT-3.3.1-4] and DUP [MQTT-3.3.1-2].
fn check_fixed_header(
    packet_type: u8,
    flags: u8,
    protocol: Option<Protocol>,
) -> Result<(), DecodeError> {
    let ok = match packet_type {
        0 => return Err(DecodeError::InvalidPacketType(packet_type)),
        // AUTH exists only in MQTT 5.
        15 if protocol != Some(Protocol::V5) => {
            return Err(DecodeError::InvalidPacketType(packet_type))
        }
        3 => {
            let qos = (flags >> 1) & 0b11;
            if qos == 3 {
                return Err(DecodeError::InvalidQoS(qos));
            }
            // DUP must be 0 for QoS 0.
            !(qos == 0 && flags & 0b1000 != 0)
        }
        // PUBREL, SUBSCRIBE, UNSUBSCRIBE: QoS 1, and in 3.1 DUP on a retry.
        6 | 8 | 10 => {
            let dup_allowed = protocol == Some(Protocol::V31);
            flags == 0b0010 || (dup_allowed && flags == 0b1010)
        }
        _ => flags == 0,
    };
    if ok {
        Ok(())
    } else {
        Err(DecodeError::InvalidFlags { packet_type, flags })
    }
}

/// Decodes the body (variable header + payload) of a packet whose fixed
/// header has been checked. CONNECT names its own protocol; any other
/// packet before it is read as 3.1.1.
pub(super) fn decode_body(
    packet_type: u8,
    flags: u8,
    body: &[u8],
    protocol: Option<Protocol>,
) -> Result<Packet<'_>, DecodeError> {
    let v5 = protocol == Some(Protocol::V5);
    let mut r = Reader::new(body);
    let packet = match packet_type {
        1 => Packet::Connect(Box::new(connect(&mut r)?)),
        2 => Packet::ConnAck(connack(&mut r, v5)?),
        3 => Packet::Publish(publish(flags, &mut r, v5)?),
        4 => Packet::PubAck(ack(&mut r, v5, packet_type, ReasonContext::PubAckOrRec)?),
        5 => Packet::PubRec(ack(&mut r, v5, packet_type, ReasonContext::PubAckOrRec)?),
        6 => Packet::PubRel(ack(&mut r, v5, packet_type, ReasonContext::PubRelOrComp)?),
        7 => Packet::PubComp(ack(&mut r, v5, packet_type, ReasonContext::PubRelOrComp)?),
        8 => Packet::Subscribe(subscribe(&mut r, v5)?),
        9 => Packet::SubAck(suback(&mut r, v5)?),
        10 => Packet::Unsubscribe(unsubscribe(&mut r, v5)?),
        11 => Packet::UnsubAck(unsuback(&mut r, v5)?),
        12 => Packet::PingReq,
        13 => Packet::PingResp,
        14 => Packet::Disconnect(reasoned(&mut r, v5, packet_type)?),
        15 => Packet::Auth(reasoned(&mut r, v5, packet_type)?),
        _ => return Err(DecodeError::InvalidPacketType(packet_type)),
    };
    r.finish()?;
    Ok(packet)
}

/// The properties of an MQTT 5 packet, none for 3.1.1.
#[inline]
fn properties<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    context: PropertyContext,
) -> Result<Properties<'a>, DecodeError> {
    if v5 {
        Properties::read(r, context)
    } else {
        Ok(Properties::EMPTY)
    }
}

/// A reason code byte, checked against the packet's list.
fn reason(
    r: &mut Reader<'_>,
    packet_type: u8,
    context: ReasonContext,
) -> Result<ReasonCode, DecodeError> {
    let code = ReasonCode(r.u8()?);
    if code.allowed_in(context) {
        Ok(code)
    } else {
        Err(DecodeError::InvalidReasonCode {
            packet_type,
            code: code.0,
        })
    }
}

/// PUBLISH (§3.3): topic, packet identifier when QoS > 0, MQTT 5
/// properties, payload (the rest, possibly empty).
#[inline]
pub(super) fn publish<'a>(
    flags: u8,
    r: &mut Reader<'a>,
    v5: bool,
) -> Result<Publish<'a>, DecodeError> {
    let qos_bits = (flags >> 1) & 0b11;
    let qos = QoS::from_u8(qos_bits).ok_or(DecodeError::InvalidQoS(qos_bits))?;
    let topic = r.string()?;
    let packet_id = match qos {
        QoS::AtMostOnce => None,
        QoS::AtLeastOnce | QoS::ExactlyOnce => Some(r.packet_id()?),
    };
    let properties = properties(r, v5, PropertyContext::Publish)?;
    Ok(Publish {
        dup: flags & 0b1000 != 0,
        qos,
        retain: flags & 0b0001 != 0,
        topic,
        packet_id,
        payload: r.rest(),
        properties,
    })
}

/// PUBACK, PUBREC, PUBREL, PUBCOMP (§3.4-3.7): packet identifier; in
/// MQTT 5 a reason code and properties may follow (Success and none when
/// absent, §3.4.2.1).
fn ack<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    packet_type: u8,
    context: ReasonContext,
) -> Result<Ack<'a>, DecodeError> {
    let packet_id = r.packet_id()?;
    if !v5 || r.is_empty() {
        return Ok(Ack::new(packet_id));
    }
    let reason = reason(r, packet_type, context)?;
    let properties = if r.is_empty() {
        Properties::EMPTY
    } else {
        Properties::read(r, PropertyContext::Ack)?
    };
    Ok(Ack {
        packet_id,
        reason,
        properties,
    })
}

/// DISCONNECT (§3.14) and AUTH (§3.15): in MQTT 5 an optional reason code
/// and properties; nothing in 3.1.1.
fn reasoned<'a>(
    r: &mut Reader<'a>,
    v5: bool,
    packet_type: u8,
) -> Result<Reasoned<'a>, DecodeError> {
    if !v5 || r.is_empty() {
        return Ok(Reasoned::default());
    }
    let (reason_context, property_context) = if packet_type == 15 {
        (ReasonContext::Auth, PropertyContext::Auth)
    } else {
        (ReasonContext::Disconnect, PropertyContext::Disconnect)
    };
    let reason = reason(r, packet_type, reason_context)?;
    let properties = if r.is_empty() {
        Properties::EMPTY
    } else {
        Properties::read(r, property_context)?
    };
    Ok(Reasoned { reason, properties })
}

/// SUBSCRIBE (§3.8): packet identifier, MQTT 5 properties, then one or
/// more (filter, options byte). An empty filter string is decoded; the
/// broker refuses it.
fn subscribe<'a>(r: &mut Reader<'a>, v5: bool) -> Result<Subscribe<'a>, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = properties(r, v5, PropertyContext::Subscribe)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        let filter = r.string()?;
        let byte = r.u8()?;
        filters.push((filter, subscription_options(byte, v5)?));
    }
    if filters.is_empty() {
        return Err(DecodeError::EmptySubscription); // [MQTT-3.8.3-3]
    }
    Ok(Subscribe {
        packet_id,
        filters,
        properties,
    })
}

/// One filter's options byte. 3.1.1: reserved bits 7-2 must be 0 and QoS 3
/// is invalid [MQTT-3-8.3-4]. MQTT 5: bits 7-6 reserved [MQTT-3.8.3-5],
/// Retain Handling 3 a Protocol Error.
fn subscription_options(byte: u8, v5: bool) -> Result<SubscriptionOptions, DecodeError> {
    let reserved = if v5 { 0xc0 } else { 0xfc };
    if byte & reserved != 0 {
        return Err(if v5 {
            DecodeError::ReservedSubscriptionOptions(byte)
        } else {
            DecodeError::InvalidQoS(byte)
        });
    }
    let qos = QoS::from_u8(byte & 0b11).ok_or(DecodeError::InvalidQoS(byte))?;
    let retain_handling = match (byte >> 4) & 0b11 {
        0 => RetainHandling::SendOnSubscribe,
        1 => RetainHandling::SendIfNew,
        2 => RetainHandling::DoNotSend,
        _ => return Err(DecodeError::InvalidRetainHandling),
    };
    Ok(SubscriptionOptions {
        qos,
        no_local: byte & 0b0100 != 0,
        retain_as_published: byte & 0b1000 != 0,
        retain_handling,
    })
}

/// SUBACK (§3.9): packet identifier, MQTT 5 properties, one or more codes.
fn suback<'a>(r: &mut Reader<'a>, v5: bool) -> Result<SubAck<'a>, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = properties(r, v5, PropertyContext::SubAck)?;
    let codes = r
        .rest()
        .iter()
        .map(|&byte| match byte {
            0x80 if !v5 => Ok(ReasonCode::UNSPECIFIED_ERROR),
            0..=2 if !v5 => Ok(ReasonCode(byte)),
            _ if v5 && ReasonCode(byte).allowed_in(ReasonContext::SubAck) => Ok(ReasonCode(byte)),
            _ => Err(DecodeError::InvalidSubAckCode(byte)),
        })
        .collect::<Result<Vec<_>, _>>()?;
    if codes.is_empty() {
        return Err(DecodeError::EmptySubAck);
    }
    Ok(SubAck {
        packet_id,
        codes,
        properties,
    })
}

/// UNSUBSCRIBE (§3.10): packet identifier, MQTT 5 properties, then one or
/// more filters.
fn unsubscribe<'a>(r: &mut Reader<'a>, v5: bool) -> Result<Unsubscribe<'a>, DecodeError> {
    let packet_id = r.packet_id()?;
    let properties = properties(r, v5, PropertyContext::Unsubscribe)?;
    let mut filters = Vec::new();
    while !r.is_empty() {
        filters.push(r.string()?);
    }
    if filters.is_empty() {
        return Err(DecodeError::EmptyUnsubscription); // [MQTT-3.10.3-2]
    }
    Ok(Unsubscribe {
        packet_id,
        filters,
        properties,
    })
}

/// UNSUBACK (§3.11): packet identifier; in MQTT 5 properties and one code
/// per filter.
fn unsuback<'a>(r: &mut Reader<'a>, v5: bool) -> Result<UnsubAck<'a>, DecodeError> {
    let packet_id = r.packet_id()?;
    if !v5 {
        return Ok(UnsubAck::new(packet_id));
    }
    let properties = Properties::read(r, PropertyContext::UnsubAck)?;
    let mut codes = Vec::new();
    while !r.is_empty() {
        codes.push(reason(r, 11, ReasonContext::UnsubAck)?);
    }
    if codes.is_empty() {
        return Err(DecodeError::EmptySubAck);
    }
    Ok(UnsubAck {
        packet_id,
        codes,
        properties,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAX: usize = 1 << 20;

    fn err(bytes: &[u8]) -> DecodeError {
        match decode(bytes, MAX) {
            Err(e) => e,
            other => panic!("expected an error for {bytes:02x?}, got {other:?}"),
        }
    }

    #[test]
    fn fixed_header_checked_on_first_byte() {
        assert_eq!(decode(&[], MAX), Ok(None));
        assert_eq!(err(&[0x00]), DecodeError::InvalidPacketType(0));
        assert_eq!(err(&[0xf0]), DecodeError::InvalidPacketType(15));
        assert_eq!(
            err(&[0x60]),
            DecodeError::InvalidFlags {
                packet_type: 6,
                flags: 0
            }
        );
        assert_eq!(err(&[0x36]), DecodeError::InvalidQoS(3));
        assert_eq!(
            err(&[0x38]),
            DecodeError::InvalidFlags {
                packet_type: 3,
                flags: 8
            }
        );
        assert_eq!(decode(&[0x62], MAX), Ok(None));
        assert_eq!(decode(&[0x3d], MAX), Ok(None));
    }

    #[test]
    fn simple_packets() {
        assert_eq!(decode(&[0xc0, 0x00], MAX), Ok(Some((Packet::PingReq, 2))));
        assert_eq!(
            decode(&[0xd0, 0x00, 0xff], MAX),
            Ok(Some((Packet::PingResp, 2)))
        );
        assert_eq!(
            decode(&[0xe0, 0x80, 0x00], MAX),
            Ok(Some((Packet::Disconnect(Reasoned::default()), 3)))
        );
        assert_eq!(err(&[0xe0, 0x01, 0x00]), DecodeError::TrailingBytes);
        assert_eq!(
            decode(&[0x62, 0x02, 0x12, 0x34], MAX),
            Ok(Some((Packet::PubRel(crate::codec::Ack::new(0x1234)), 4)))
        );
        assert_eq!(err(&[0x40, 0x02, 0x00, 0x00]), DecodeError::ZeroPacketId);
        assert_eq!(err(&[0x40, 0x01, 0x01]), DecodeError::Truncated);
        assert_eq!(
            err(&[0x40, 0x03, 0x00, 0x01, 0x00]),
            DecodeError::TrailingBytes
        );
    }

    #[test]
    fn too_large_before_body() {
        // Remaining length 200 → 203 bytes in all; nothing of the body yet.
        assert_eq!(
            decode(&[0x30, 0xc8, 0x01], 202),
            Err(DecodeError::PacketTooLarge {
                size: 203,
                max: 202
            })
        );
        assert_eq!(decode(&[0x30, 0xc8, 0x01], 203), Ok(None));
    }

    #[test]
    fn publish_payload_may_be_empty() {
        let bytes = [0x31, 0x03, 0x00, 0x01, b'a'];
        let Ok(Some((Packet::Publish(p), 5))) = decode(&bytes, MAX) else {
            panic!("not decoded");
        };
        assert!(p.retain && !p.dup);
        assert_eq!((p.topic, p.packet_id, p.payload), ("a", None, &[][..]));
    }

    #[test]
    fn connect_level_before_rest() {
        // A CONNECT of level 6: the rest is not parsed.
        let bytes = [0x10, 0x08, 0x00, 0x04, b'M', b'Q', b'T', b'T', 0x06, 0xff];
        assert_eq!(err(&bytes), DecodeError::UnsupportedProtocolLevel(6));
        let bytes = [0x10, 0x07, 0x00, 0x04, b'M', b'Q', b'T', b'X', 0x04];
        assert_eq!(err(&bytes), DecodeError::InvalidProtocolName);
    }

    #[test]
    fn peek_publish_topic_reads_only_a_complete_publish_topic() {
        let publish = [0x30, 0x06, 0x00, 0x02, b'a', b'/', b'x', b'y'];
        assert_eq!(peek_publish_topic(&publish), Some(&b"a/"[..]));
        // The topic is there even if the payload is not.
        assert_eq!(peek_publish_topic(&publish[..4 + 2]), Some(&b"a/"[..]));
        for cut in 0..6 {
            assert_eq!(peek_publish_topic(&publish[..cut]), None, "{cut}");
        }
        // Not a PUBLISH, or a remaining length that never ends.
        assert_eq!(peek_publish_topic(&[0x82, 0x06, 0x00, 0x01]), None);
        assert_eq!(
            peek_publish_topic(&[0x30, 0xff, 0xff, 0xff, 0xff, 0x01]),
            None
        );
        // Two-byte remaining length, QoS 1 flags.
        let mut long = vec![0x32, 0x80, 0x01, 0x00, 0x01, b't'];
        long.resize(3 + 128, 0);
        assert_eq!(peek_publish_topic(&long), Some(&b"t"[..]));
    }

    #[test]
    fn peek_packet_len_needs_only_the_fixed_header() {
        let publish = [0x30, 0x06, 0x00, 0x02, b'a', b'/', b'x', b'y'];
        assert_eq!(peek_packet_len(&publish), Some(8));
        assert_eq!(peek_packet_len(&publish[..2]), Some(8));
        assert_eq!(peek_packet_len(&publish[..1]), None);
        assert_eq!(peek_packet_len(&[]), None);
        assert_eq!(peek_packet_len(&[0xC0, 0x00]), Some(2));
        assert_eq!(peek_packet_len(&[0x30, 0x80, 0x01]), Some(3 + 128));
        assert_eq!(peek_packet_len(&[0x30, 0xff, 0xff, 0xff, 0xff]), None);
        assert_eq!(peek_packet_len(&[0x30, 0xff, 0xff]), None);
    }
}
