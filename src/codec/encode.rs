//! Packets to bytes.
//!
//! [`encode`] writes any packet and refuses only what the wire cannot carry
//! (fields over 65 535 bytes, a remaining length over 268 435 455, a PUBLISH
//! packet identifier that does not match its QoS); it does not police
//! protocol rules, so tests can build packets the decoder refuses.
//!
//! The broker's hot path uses the infallible helpers instead:
//! [`encode_publish`] once per delivered message, [`encode_ack`],
//! [`encode_connack`], [`encode_suback`] and [`encode_pingresp`] for replies.
//! They append to the caller's buffer with a single `reserve` and no
//! intermediate allocation.

use super::varint::{remaining_length_len, write_remaining_length, MAX_REMAINING_LENGTH};
use super::{
    ConnAck, Connect, ConnectReturnCode, EncodeError, Packet, PacketId, Publish, QoS, SubAckCode,
    Subscribe, Unsubscribe,
};

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

    /// The packet this kind and `packet_id` make.
    pub fn packet(self, packet_id: PacketId) -> Packet<'static> {
        match self {
            AckKind::PubAck => Packet::PubAck(packet_id),
            AckKind::PubRec => Packet::PubRec(packet_id),
            AckKind::PubRel => Packet::PubRel(packet_id),
            AckKind::PubComp => Packet::PubComp(packet_id),
            AckKind::UnsubAck => Packet::UnsubAck(packet_id),
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
const fn publish_remaining_length(topic_len: usize, qos: QoS, payload_len: usize) -> usize {
    let id_len = if matches!(qos, QoS::AtMostOnce) { 0 } else { 2 };
    2 + topic_len + id_len + payload_len
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
fn write_publish(
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

#[inline]
fn write_publish_header(
    out: &mut Vec<u8>,
    dup: bool,
    qos: QoS,
    retain: bool,
    topic: &str,
    packet_id: PacketId,
    remaining: usize,
) {
    out.push(0x30 | (u8::from(dup) << 3) | ((qos as u8) << 1) | u8::from(retain));
    write_remaining_length(out, remaining);
    out.extend_from_slice(&(topic.len() as u16).to_be_bytes());
    out.extend_from_slice(topic.as_bytes());
    if qos != QoS::AtMostOnce {
        out.extend_from_slice(&packet_id.to_be_bytes());
    }
}

/// Appends PUBACK, PUBREC, PUBREL, PUBCOMP or UNSUBACK ([`ACK_LEN`] bytes).
#[inline]
pub fn encode_ack(out: &mut Vec<u8>, kind: AckKind, packet_id: PacketId) {
    let [hi, lo] = packet_id.to_be_bytes();
    out.extend_from_slice(&[kind.first_byte(), 0x02, hi, lo]);
}

/// Appends a CONNACK (4 bytes). Session present must be false with a
/// non-zero code [MQTT-3.2.2-4] (checked by `debug_assert!`), and is always
/// false for MQTT 3.1 clients, where that byte is reserved.
#[inline]
pub fn encode_connack(out: &mut Vec<u8>, session_present: bool, code: ConnectReturnCode) {
    debug_assert!(!session_present || code == ConnectReturnCode::Accepted);
    out.extend_from_slice(&[0x20, 0x02, u8::from(session_present), code as u8]);
}

/// Appends a SUBACK with one code per filter of the SUBSCRIBE it answers.
/// Infallible: a SUBACK answering a decoded SUBSCRIBE is always smaller
/// than it.
#[inline]
pub fn encode_suback(out: &mut Vec<u8>, packet_id: PacketId, codes: &[SubAckCode]) {
    let remaining = 2 + codes.len();
    debug_assert!(remaining <= MAX_REMAINING_LENGTH, "SUBACK too large");
    out.reserve(1 + remaining_length_len(remaining) + remaining);
    out.push(0x90);
    write_remaining_length(out, remaining);
    out.extend_from_slice(&packet_id.to_be_bytes());
    out.extend(codes.iter().map(|code| code.to_u8()));
}

/// Appends a PINGRESP (2 bytes).
#[inline]
pub fn encode_pingresp(out: &mut Vec<u8>) {
    out.extend_from_slice(&PINGRESP);
}

/// Appends any packet. Nothing is appended on error.
///
/// Refuses a string or binary field over 65 535 bytes
/// ([`EncodeError::FieldTooLong`]), a packet whose remaining length would
/// exceed 268 435 455 bytes ([`EncodeError::PacketTooLarge`]) and a PUBLISH
/// whose `packet_id` is not present exactly when QoS > 0
/// ([`EncodeError::PacketIdMismatch`]). Everything else is written as given,
/// even when the decoder would refuse it (packet id 0, empty filter lists,
/// DUP on QoS 0...).
pub fn encode(packet: &Packet<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    match packet {
        Packet::Connect(connect) => encode_connect(connect, out)?,
        Packet::ConnAck(ConnAck {
            session_present,
            code,
        }) => {
            out.extend_from_slice(&[0x20, 0x02, u8::from(*session_present), *code as u8]);
        }
        Packet::Publish(publish) => encode_publish_checked(publish, out)?,
        Packet::PubAck(id) => encode_ack(out, AckKind::PubAck, *id),
        Packet::PubRec(id) => encode_ack(out, AckKind::PubRec, *id),
        Packet::PubRel(id) => encode_ack(out, AckKind::PubRel, *id),
        Packet::PubComp(id) => encode_ack(out, AckKind::PubComp, *id),
        Packet::Subscribe(subscribe) => encode_subscribe(subscribe, out)?,
        Packet::SubAck(suback) => {
            check_remaining_length(2 + suback.codes.len())?;
            encode_suback(out, suback.packet_id, &suback.codes);
        }
        Packet::Unsubscribe(unsubscribe) => encode_unsubscribe(unsubscribe, out)?,
        Packet::UnsubAck(id) => encode_ack(out, AckKind::UnsubAck, *id),
        Packet::PingReq => out.extend_from_slice(&PINGREQ),
        Packet::PingResp => out.extend_from_slice(&PINGRESP),
        Packet::Disconnect => out.extend_from_slice(&DISCONNECT),
    }
    Ok(())
}

/// Wire size of a string or binary field of `len` bytes (length prefix
/// included), or an error past 65 535 bytes.
#[inline]
fn field_len(len: usize) -> Result<usize, EncodeError> {
    if len <= usize::from(u16::MAX) {
        Ok(2 + len)
    } else {
        Err(EncodeError::FieldTooLong)
    }
}

#[inline]
fn check_remaining_length(remaining: usize) -> Result<usize, EncodeError> {
    if remaining <= MAX_REMAINING_LENGTH {
        Ok(remaining)
    } else {
        Err(EncodeError::PacketTooLarge)
    }
}

/// Reserves room for the packet and writes its fixed header.
#[inline]
fn write_header(out: &mut Vec<u8>, first_byte: u8, remaining: usize) {
    out.reserve(1 + remaining_length_len(remaining) + remaining);
    out.push(first_byte);
    write_remaining_length(out, remaining);
}

/// Writes a field whose length has been checked by [`field_len`].
#[inline]
fn write_field(out: &mut Vec<u8>, bytes: &[u8]) {
    out.extend_from_slice(&(bytes.len() as u16).to_be_bytes());
    out.extend_from_slice(bytes);
}

fn encode_publish_checked(p: &Publish<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    field_len(p.topic.len())?;
    let packet_id = match (p.qos, p.packet_id) {
        (QoS::AtMostOnce, None) => 0,
        (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(id)) => id,
        _ => return Err(EncodeError::PacketIdMismatch),
    };
    check_remaining_length(publish_remaining_length(
        p.topic.len(),
        p.qos,
        p.payload.len(),
    ))?;
    write_publish(out, p.dup, p.qos, p.retain, p.topic, packet_id, p.payload);
    Ok(())
}

fn encode_connect(c: &Connect<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let name = c.protocol.name();
    // Protocol name, level, flags, keep alive.
    let mut remaining = 2 + name.len() + 1 + 1 + 2 + field_len(c.client_id.len())?;
    let mut flags = 0u8;
    if c.clean_session {
        flags |= 0x02;
    }
    if let Some(will) = &c.will {
        remaining += field_len(will.topic.len())? + field_len(will.payload.len())?;
        flags |= 0x04 | ((will.qos as u8) << 3);
        if will.retain {
            flags |= 0x20;
        }
    }
    if let Some(username) = c.username {
        remaining += field_len(username.len())?;
        flags |= 0x80;
    }
    if let Some(password) = c.password {
        remaining += field_len(password.len())?;
        flags |= 0x40;
    }
    let remaining = check_remaining_length(remaining)?;
    write_header(out, 0x10, remaining);
    write_field(out, name.as_bytes());
    out.push(c.protocol.level());
    out.push(flags);
    out.extend_from_slice(&c.keep_alive.to_be_bytes());
    write_field(out, c.client_id.as_bytes());
    if let Some(will) = &c.will {
        write_field(out, will.topic.as_bytes());
        write_field(out, will.payload);
    }
    if let Some(username) = c.username {
        write_field(out, username.as_bytes());
    }
    if let Some(password) = c.password {
        write_field(out, password);
    }
    Ok(())
}

fn encode_subscribe(s: &Subscribe<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut remaining = 2usize;
    for (filter, _) in &s.filters {
        remaining = remaining.saturating_add(field_len(filter.len())? + 1);
    }
    let remaining = check_remaining_length(remaining)?;
    write_header(out, 0x82, remaining);
    out.extend_from_slice(&s.packet_id.to_be_bytes());
    for (filter, qos) in &s.filters {
        write_field(out, filter.as_bytes());
        out.push(*qos as u8);
    }
    Ok(())
}

fn encode_unsubscribe(u: &Unsubscribe<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut remaining = 2usize;
    for filter in &u.filters {
        remaining = remaining.saturating_add(field_len(filter.len())?);
    }
    let remaining = check_remaining_length(remaining)?;
    write_header(out, 0xa2, remaining);
    out.extend_from_slice(&u.packet_id.to_be_bytes());
    for filter in &u.filters {
        write_field(out, filter.as_bytes());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_bytes() {
        let mut out = Vec::new();
        encode_publish(&mut out, false, QoS::AtMostOnce, true, "a/b", 7, b"hi");
        assert_eq!(out, [0x31, 0x07, 0x00, 0x03, b'a', b'/', b'b', b'h', b'i']);
        assert_eq!(out.len(), publish_len(3, QoS::AtMostOnce, 2));
        out.clear();
        encode_publish(&mut out, true, QoS::ExactlyOnce, false, "t", 0x0102, b"");
        assert_eq!(out, [0x3c, 0x05, 0x00, 0x01, b't', 0x01, 0x02]);
        assert_eq!(out.len(), publish_len(1, QoS::ExactlyOnce, 0));
    }

    #[test]
    fn publish_header_and_payload_make_the_whole_publish() {
        let payload = vec![9u8; 20_000];
        for qos in [QoS::AtMostOnce, QoS::AtLeastOnce, QoS::ExactlyOnce] {
            let packet_id = if qos == QoS::AtMostOnce { 0 } else { 513 };
            let dup = qos != QoS::AtMostOnce;
            let mut whole = Vec::new();
            encode_publish(&mut whole, dup, qos, true, "x/y", packet_id, &payload);
            let mut split = Vec::new();
            encode_publish_header(&mut split, dup, qos, true, "x/y", packet_id, payload.len());
            assert_eq!(
                split.len(),
                publish_len(3, qos, payload.len()) - payload.len()
            );
            split.extend_from_slice(&payload);
            assert_eq!(split, whole);
        }
    }

    #[test]
    fn publish_len_boundaries() {
        // Remaining length 127 → 2-byte header; 128 → 3-byte header.
        assert_eq!(publish_len(0, QoS::AtMostOnce, 125), 129);
        assert_eq!(publish_len(0, QoS::AtMostOnce, 126), 131);
        assert_eq!(publish_len(0, QoS::AtLeastOnce, 123), 129);
        assert_eq!(publish_len(0, QoS::AtLeastOnce, 124), 131);
    }

    #[test]
    fn acks() {
        let mut out = Vec::new();
        encode_ack(&mut out, AckKind::PubRel, 0xabcd);
        encode_ack(&mut out, AckKind::UnsubAck, 1);
        encode_connack(&mut out, true, ConnectReturnCode::Accepted);
        encode_pingresp(&mut out);
        encode_suback(
            &mut out,
            5,
            &[SubAckCode::Granted(QoS::AtLeastOnce), SubAckCode::Failure],
        );
        assert_eq!(
            out,
            [
                0x62, 0x02, 0xab, 0xcd, 0xb0, 0x02, 0x00, 0x01, 0x20, 0x02, 0x01, 0x00, 0xd0, 0x00,
                0x90, 0x04, 0x00, 0x05, 0x01, 0x80
            ]
        );
    }

    #[test]
    fn refusals_append_nothing() {
        let mut out = vec![1, 2, 3];
        let long = "x".repeat(65_536);
        let p = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: &long,
            packet_id: None,
            payload: b"",
        });
        assert_eq!(encode(&p, &mut out), Err(EncodeError::FieldTooLong));
        let p = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "t",
            packet_id: None,
            payload: b"",
        });
        assert_eq!(encode(&p, &mut out), Err(EncodeError::PacketIdMismatch));
        let u = Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            filters: vec![&long[1..]; 4097],
        });
        assert_eq!(encode(&u, &mut out), Err(EncodeError::PacketTooLarge));
        assert_eq!(out, [1, 2, 3]);
    }
}
