//! The broker's hot-path encoders: infallible, appending to the caller's
//! buffer with a single `reserve` and no intermediate allocation.
//! [`encode_publish`] runs once per delivered message, the others once per
//! reply.

use super::varint::{
    put_remaining_length, remaining_length_len, write_remaining_length, MAX_REMAINING_LENGTH,
};
use super::{Ack, Packet, PacketId, QoS, ReasonCode, UnsubAck};

/// The packets that are a fixed header plus a packet identifier, for
/// [`encode_ack`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AckKind {
    /// PUBACK: answer to a QoS 1 PUBLISH.
    PubAck,
    /// PUBREC: first answer to a QoS 2 PUBLISH.
    PubRec,
    /// PUBREL: answer to PUBREC (fixed header flags 0b0010).
    PubRel,
    /// PUBCOMP: answer to PUBREL.
    PubComp,
    /// UNSUBACK: answer to UNSUBSCRIBE.
    UnsubAck,
}

impl AckKind {
    /// The first byte of the fixed header (type and flags).
    #[inline]
    pub const fn first_byte(self) -> u8 {
        match self {
            AckKind::PubAck => 0x40,
            AckKind::PubRec => 0x50,
            AckKind::PubRel => 0x62,
            AckKind::PubComp => 0x70,
            AckKind::UnsubAck => 0xb0,
        }
    }

    /// The packet this kind and `packet_id` make (3.1.1, or MQTT 5 with
    /// Success and no properties).
    pub fn packet(self, packet_id: PacketId) -> Packet<'static> {
        match self {
            AckKind::PubAck => Packet::PubAck(Ack::new(packet_id)),
            AckKind::PubRec => Packet::PubRec(Ack::new(packet_id)),
            AckKind::PubRel => Packet::PubRel(Ack::new(packet_id)),
            AckKind::PubComp => Packet::PubComp(Ack::new(packet_id)),
            AckKind::UnsubAck => Packet::UnsubAck(UnsubAck::new(packet_id)),
        }
    }
}

/// Size of an encoded ack ([`encode_ack`]) in bytes.
pub const ACK_LEN: usize = 4;

/// The encoded PINGREQ.
pub const PINGREQ: [u8; 2] = [0xc0, 0x00];
/// The encoded PINGRESP.
pub const PINGRESP: [u8; 2] = [0xd0, 0x00];
/// The encoded DISCONNECT.
pub const DISCONNECT: [u8; 2] = [0xe0, 0x00];

/// Remaining length of a PUBLISH.
#[inline]
pub(super) const fn publish_remaining_length(
    topic_len: usize,
    qos: QoS,
    payload_len: usize,
) -> usize {
    let id_len = if matches!(qos, QoS::AtMostOnce) { 0 } else { 2 };
    2 + topic_len + id_len + payload_len
}

/// Bytes an MQTT 5 property block of `len` bytes takes, its length prefix
/// included.
#[inline]
pub const fn properties_wire_len(len: usize) -> usize {
    remaining_length_len(len) + len
}

/// [`publish_len`] for an MQTT 5 PUBLISH whose property block (without its
/// length prefix) is `properties_len` bytes.
#[inline]
pub const fn publish_len_v5(
    topic_len: usize,
    qos: QoS,
    properties_len: usize,
    payload_len: usize,
) -> usize {
    publish_len(
        topic_len,
        qos,
        properties_wire_len(properties_len) + payload_len,
    )
}

/// Total encoded size of a PUBLISH (fixed header included) with a topic of
/// `topic_len` bytes and a payload of `payload_len` bytes: what
/// [`encode_publish`] appends. Compare it with a client's maximum packet
/// size or use it to size buffers.
#[inline]
pub const fn publish_len(topic_len: usize, qos: QoS, payload_len: usize) -> usize {
    let remaining = publish_remaining_length(topic_len, qos, payload_len);
    1 + remaining_length_len(remaining) + remaining
}

/// Appends a PUBLISH made from parts: the broker's hot path.
///
/// The packet identifier is written only when `qos` is 1 or 2. Infallible:
/// the caller guarantees `topic` is at most 65 535 bytes, the packet fits in
/// the 268 435 455-byte remaining length, `packet_id` is non-zero when
/// `qos` > 0 and `dup` is false for QoS 0 [MQTT-3.3.1-2] (checked by
/// `debug_assert!`). Appends exactly [`publish_len`] bytes, after one
/// `reserve`.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn encode_publish(
    out: &mut Vec<u8>,
    dup: bool,
    qos: QoS,
    retain: bool,
    topic: &str,
    packet_id: PacketId,
    payload: &[u8],
) {
    debug_check_publish(dup, qos, topic, packet_id, payload.len());
    write_publish(out, dup, qos, retain, topic, packet_id, payload);
}

/// Appends all of a PUBLISH but its payload, for a payload of
/// `payload_len` bytes that the caller sends right after these bytes from
/// where it already is (a large payload is then not copied). Same
/// guarantees as [`encode_publish`]; appends [`publish_len`] minus
/// `payload_len` bytes.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn encode_publish_header(
    out: &mut Vec<u8>,
    dup: bool,
    qos: QoS,
    retain: bool,
    topic: &str,
    packet_id: PacketId,
    payload_len: usize,
) {
    debug_check_publish(dup, qos, topic, packet_id, payload_len);
    let remaining = publish_remaining_length(topic.len(), qos, payload_len);
    out.reserve(1 + remaining_length_len(remaining) + remaining - payload_len);
    write_publish_header(out, dup, qos, retain, topic, packet_id, remaining);
}

/// [`encode_publish`] for an MQTT 5 client: `properties` is the property
/// block without its length prefix, in parts written one after the other
/// (possibly none). Appends exactly [`publish_len_v5`] bytes.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn encode_publish_v5(
    out: &mut Vec<u8>,
    dup: bool,
    qos: QoS,
    retain: bool,
    topic: &str,
    packet_id: PacketId,
    properties: &[&[u8]],
    payload: &[u8],
) {
    encode_publish_header_v5(
        out,
        dup,
        qos,
        retain,
        topic,
        packet_id,
        properties,
        payload.len(),
    );
    out.extend_from_slice(payload);
}

/// [`encode_publish_header`] for an MQTT 5 client: everything but the
/// payload, properties included.
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn encode_publish_header_v5(
    out: &mut Vec<u8>,
    dup: bool,
    qos: QoS,
    retain: bool,
    topic: &str,
    packet_id: PacketId,
    properties: &[&[u8]],
    payload_len: usize,
) {
    let properties_len = properties.iter().map(|part| part.len()).sum();
    let after_properties = properties_wire_len(properties_len) + payload_len;
    debug_check_publish(dup, qos, topic, packet_id, after_properties);
    let remaining = publish_remaining_length(topic.len(), qos, after_properties);
    out.reserve(1 + remaining_length_len(remaining) + remaining - payload_len);
    write_publish_header(out, dup, qos, retain, topic, packet_id, remaining);
    write_remaining_length(out, properties_len);
    for part in properties {
        out.extend_from_slice(part);
    }
}

/// The caller's guarantees for a PUBLISH, checked in debug builds.
#[inline]
fn debug_check_publish(dup: bool, qos: QoS, topic: &str, packet_id: PacketId, payload_len: usize) {
    debug_assert!(
        topic.len() <= usize::from(u16::MAX),
        "topic longer than 65535 bytes"
    );
    debug_assert!(
        publish_remaining_length(topic.len(), qos, payload_len) <= MAX_REMAINING_LENGTH,
        "PUBLISH too large"
    );
    debug_assert!(
        qos == QoS::AtMostOnce || packet_id != 0,
        "packet id 0 with QoS > 0"
    );
    debug_assert!(
        !(dup && qos == QoS::AtMostOnce),
        "DUP set on a QoS 0 PUBLISH"
    );
}

/// Writes a PUBLISH whose sizes have been checked.
#[inline]
pub(super) fn write_publish(
    out: &mut Vec<u8>,
    dup: bool,
    qos: QoS,
    retain: bool,
    topic: &str,
    packet_id: PacketId,
    payload: &[u8],
) {
    let remaining = publish_remaining_length(topic.len(), qos, payload.len());
    out.reserve(1 + remaining_length_len(remaining) + remaining);
    write_publish_header(out, dup, qos, retain, topic, packet_id, remaining);
    out.extend_from_slice(payload);
}

/// Writes a PUBLISH's fixed header, topic and packet id (with DUP and
/// retain as given, QoS 0 without an id) for a body of `remaining` bytes.
/// The parts go straight into the buffer's spare room, with one length
/// update at the end: pushed one by one, each checked the capacity and
/// stored the length again, a third of the encoding's instructions.
#[inline]
pub(super) fn write_publish_header(
    out: &mut Vec<u8>,
    dup: bool,
    qos: QoS,
    retain: bool,
    topic: &str,
    packet_id: PacketId,
    remaining: usize,
) {
    let fixed_len = 1 + remaining_length_len(remaining);
    let id_len = if qos == QoS::AtMostOnce { 0 } else { 2 };
    let len = fixed_len + 2 + topic.len() + id_len;
    // A no-op after the callers' own `reserve`, which covers more.
    out.reserve(len);
    let start = out.len();
    let spare = &mut out.spare_capacity_mut()[..len];
    let (fixed, rest) = spare.split_at_mut(fixed_len);
    let (first, length) = fixed.split_at_mut(1);
    first[0].write(0x30 | (u8::from(dup) << 3) | ((qos as u8) << 1) | u8::from(retain));
    put_remaining_length(length, remaining);
    let (topic_len, rest) = rest.split_at_mut(2);
    topic_len.write_copy_of_slice(&(topic.len() as u16).to_be_bytes());
    let (name, id) = rest.split_at_mut(topic.len());
    name.write_copy_of_slice(topic.as_bytes());
    // Two stores, not a copy of a length known only at run time (a
    // `memcpy` call).
    if let [hi, lo] = id {
        let [id_hi, id_lo] = packet_id.to_be_bytes();
        hi.write(id_hi);
        lo.write(id_lo);
    }
    // SAFETY: `spare` is the `len` bytes of capacity past `start`, and the
    // writes above cover all of it (`fixed`, `topic_len`, `name`, `id`).
    unsafe { out.set_len(start + len) };
}

/// Appends PUBACK, PUBREC, PUBREL, PUBCOMP or 3.1.1 UNSUBACK ([`ACK_LEN`]
/// bytes): also the MQTT 5 form of a PUBACK .. PUBCOMP with Success and no
/// properties.
#[inline]
pub fn encode_ack(out: &mut Vec<u8>, kind: AckKind, packet_id: PacketId) {
    out.extend_from_slice(&ack_bytes(kind, packet_id));
}

/// The bytes [`encode_ack`] appends, for a caller that copies them itself.
#[inline]
pub const fn ack_bytes(kind: AckKind, packet_id: PacketId) -> [u8; ACK_LEN] {
    let [hi, lo] = packet_id.to_be_bytes();
    [kind.first_byte(), 0x02, hi, lo]
}

/// Appends an MQTT 5 PUBACK, PUBREC, PUBREL or PUBCOMP with a reason code
/// and no properties (5 bytes; 4 when the code is Success, §3.4.2.1).
#[inline]
pub fn encode_ack_v5(out: &mut Vec<u8>, kind: AckKind, packet_id: PacketId, reason: ReasonCode) {
    if reason == ReasonCode::SUCCESS {
        encode_ack(out, kind, packet_id);
        return;
    }
    let [hi, lo] = packet_id.to_be_bytes();
    out.extend_from_slice(&[kind.first_byte(), 0x03, hi, lo, reason.0]);
}

/// Appends a 3.1 / 3.1.1 CONNACK (4 bytes): `code` becomes the nearest
/// 3.1.1 return code. Session present must be false with a non-zero code
/// [MQTT-3.2.2-4] (checked by `debug_assert!`), and is always false for
/// MQTT 3.1 clients, where that byte is reserved.
#[inline]
pub fn encode_connack(out: &mut Vec<u8>, session_present: bool, code: ReasonCode) {
    debug_assert!(!session_present || code == ReasonCode::SUCCESS);
    out.extend_from_slice(&[0x20, 0x02, u8::from(session_present), code.to_v3_connack()]);
}

/// Appends a SUBACK with one code per filter of the SUBSCRIBE it answers;
/// for 3.1.1 (`properties` `None`) every failure is 0x80. Infallible: a
/// SUBACK answering a decoded SUBSCRIBE is smaller than it, and the
/// broker's properties are short.
#[inline]
pub fn encode_suback(
    out: &mut Vec<u8>,
    packet_id: PacketId,
    codes: &[ReasonCode],
    properties: Option<&[u8]>,
) {
    let properties_len = properties.map_or(0, |p| properties_wire_len(p.len()));
    let remaining = 2 + properties_len + codes.len();
    debug_assert!(remaining <= MAX_REMAINING_LENGTH, "SUBACK too large");
    out.reserve(1 + remaining_length_len(remaining) + remaining);
    out.push(0x90);
    write_remaining_length(out, remaining);
    out.extend_from_slice(&packet_id.to_be_bytes());
    match properties {
        Some(properties) => {
            write_remaining_length(out, properties.len());
            out.extend_from_slice(properties);
            out.extend(codes.iter().map(|code| code.0));
        }
        None => out.extend(codes.iter().map(|code| code.to_v3_suback())),
    }
}

/// Appends a PINGRESP (2 bytes).
#[inline]
pub fn encode_pingresp(out: &mut Vec<u8>) {
    out.extend_from_slice(&PINGRESP);
}
