//! Packets to bytes.
//!
//! [`encode`] and [`encode_as`] write any packet and refuse only what the
//! wire cannot carry (fields over 65 535 bytes, a remaining length over
//! 268 435 455, a PUBLISH packet identifier that does not match its QoS);
//! they do not police protocol rules, so tests can build packets the
//! decoder refuses. The broker's hot path uses the infallible helpers of
//! [`super::encode_fast`] instead.

use super::encode_fast::{
    encode_ack, encode_suback, properties_wire_len, publish_remaining_length, write_publish,
    write_publish_header, AckKind, DISCONNECT, PINGREQ, PINGRESP,
};
use super::properties::write_properties;
use super::varint::{remaining_length_len, write_remaining_length, MAX_REMAINING_LENGTH};
use super::{
    Ack, ConnAck, Connect, EncodeError, Packet, Properties, Protocol, Publish, QoS, Reasoned,
    Subscribe, UnsubAck, Unsubscribe,
};

/// Appends any packet in its MQTT 3.1.1 form (a CONNECT in the form of the
/// protocol it names). Nothing is appended on error. See [`encode_as`].
pub fn encode(packet: &Packet<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    encode_as(packet, Protocol::V311, out)
}

/// Appends any packet in the form `protocol` gives it: MQTT 5 packets
/// carry their properties and reason codes, a 3.1.1 packet drops them.
/// CONNECT always uses the protocol it names. Nothing is appended on error.
///
/// Refuses a string or binary field over 65 535 bytes
/// ([`EncodeError::FieldTooLong`]), a packet whose remaining length would
/// exceed 268 435 455 bytes ([`EncodeError::PacketTooLarge`]) and a PUBLISH
/// whose `packet_id` is not present exactly when QoS > 0
/// ([`EncodeError::PacketIdMismatch`]). Everything else is written as given,
/// even when the decoder would refuse it (packet id 0, empty filter lists,
/// DUP on QoS 0, properties not allowed in the packet...).
pub fn encode_as(
    packet: &Packet<'_>,
    protocol: Protocol,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    let v5 = protocol.is_v5();
    match packet {
        Packet::Connect(connect) => encode_connect(connect, out)?,
        Packet::ConnAck(connack) => encode_connack(connack, v5, out)?,
        Packet::Publish(publish) => encode_publish(publish, v5, out)?,
        Packet::PubAck(ack) => encode_ack_packet(AckKind::PubAck, ack, v5, out)?,
        Packet::PubRec(ack) => encode_ack_packet(AckKind::PubRec, ack, v5, out)?,
        Packet::PubRel(ack) => encode_ack_packet(AckKind::PubRel, ack, v5, out)?,
        Packet::PubComp(ack) => encode_ack_packet(AckKind::PubComp, ack, v5, out)?,
        Packet::Subscribe(subscribe) => encode_subscribe(subscribe, v5, out)?,
        Packet::SubAck(suback) => {
            let properties = v5.then_some(suback.properties.as_bytes());
            let properties_len = properties.map_or(0, |p| properties_wire_len(p.len()));
            check_remaining_length(2 + properties_len + suback.codes.len())?;
            encode_suback(out, suback.packet_id, &suback.codes, properties);
        }
        Packet::Unsubscribe(unsubscribe) => encode_unsubscribe(unsubscribe, v5, out)?,
        Packet::UnsubAck(unsuback) => encode_unsuback(unsuback, v5, out)?,
        Packet::PingReq => out.extend_from_slice(&PINGREQ),
        Packet::PingResp => out.extend_from_slice(&PINGRESP),
        Packet::Disconnect(_) if !v5 => out.extend_from_slice(&DISCONNECT),
        Packet::Disconnect(reasoned) => encode_reasoned(0xe0, reasoned, out)?,
        Packet::Auth(reasoned) => encode_reasoned(0xf0, reasoned, out)?,
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

/// Bytes a property block takes in a packet of this protocol: none in
/// 3.1.1.
#[inline]
fn properties_len(properties: Properties<'_>, v5: bool) -> usize {
    if v5 {
        properties.wire_len()
    } else {
        0
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

fn encode_connack(c: &ConnAck<'_>, v5: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let remaining = check_remaining_length(2 + properties_len(c.properties, v5))?;
    let code = if v5 { c.code.0 } else { c.code.to_v3_connack() };
    write_header(out, 0x20, remaining);
    out.extend_from_slice(&[u8::from(c.session_present), code]);
    if v5 {
        write_properties(out, c.properties);
    }
    Ok(())
}

fn encode_publish(p: &Publish<'_>, v5: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    field_len(p.topic.len())?;
    let packet_id = match (p.qos, p.packet_id) {
        (QoS::AtMostOnce, None) => 0,
        (QoS::AtLeastOnce | QoS::ExactlyOnce, Some(id)) => id,
        _ => return Err(EncodeError::PacketIdMismatch),
    };
    let after_header = properties_len(p.properties, v5) + p.payload.len();
    check_remaining_length(publish_remaining_length(p.topic.len(), p.qos, after_header))?;
    if v5 {
        // Not `encode_publish_v5`: it `debug_assert!`s what the broker
        // never writes (DUP on QoS 0...), which this writes as given.
        let remaining = publish_remaining_length(p.topic.len(), p.qos, after_header);
        out.reserve(1 + remaining_length_len(remaining) + remaining);
        write_publish_header(out, p.dup, p.qos, p.retain, p.topic, packet_id, remaining);
        write_properties(out, p.properties);
        out.extend_from_slice(p.payload);
    } else {
        write_publish(out, p.dup, p.qos, p.retain, p.topic, packet_id, p.payload);
    }
    Ok(())
}

/// PUBACK .. PUBCOMP. MQTT 5 leaves out what it may: the properties when
/// empty, and the reason code too when it is Success (§3.4.2.1).
fn encode_ack_packet(
    kind: AckKind,
    ack: &Ack<'_>,
    v5: bool,
    out: &mut Vec<u8>,
) -> Result<(), EncodeError> {
    if !v5 || (ack.reason == super::ReasonCode::SUCCESS && ack.properties.is_empty()) {
        encode_ack(out, kind, ack.packet_id);
        return Ok(());
    }
    let properties = if ack.properties.is_empty() {
        0
    } else {
        ack.properties.wire_len()
    };
    let remaining = check_remaining_length(3 + properties)?;
    write_header(out, kind.first_byte(), remaining);
    out.extend_from_slice(&ack.packet_id.to_be_bytes());
    out.push(ack.reason.0);
    if !ack.properties.is_empty() {
        write_properties(out, ack.properties);
    }
    Ok(())
}

/// DISCONNECT and AUTH in MQTT 5: nothing after the fixed header when the
/// code is 0 with no properties, else the code and, when there are any,
/// the properties (§3.14.2.1, §3.15.2.1).
fn encode_reasoned(first_byte: u8, r: &Reasoned<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if r.reason.0 == 0 && r.properties.is_empty() {
        out.extend_from_slice(&[first_byte, 0]);
        return Ok(());
    }
    let properties = if r.properties.is_empty() {
        0
    } else {
        r.properties.wire_len()
    };
    let remaining = check_remaining_length(1 + properties)?;
    write_header(out, first_byte, remaining);
    out.push(r.reason.0);
    if !r.properties.is_empty() {
        write_properties(out, r.properties);
    }
    Ok(())
}

fn encode_connect(c: &Connect<'_>, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let v5 = c.protocol.is_v5();
    let name = c.protocol.name();
    // Protocol name, level, flags, keep alive.
    let mut remaining = 2 + name.len() + 1 + 1 + 2 + field_len(c.client_id.len())?;
    remaining += properties_len(c.properties, v5);
    let mut flags = 0u8;
    if c.clean_session {
        flags |= 0x02;
    }
    if let Some(will) = &c.will {
        remaining += field_len(will.topic.len())? + field_len(will.payload.len())?;
        remaining += properties_len(will.properties, v5);
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
    let bridge = if c.bridge && !c.protocol.is_v5() {
        0x80
    } else {
        0
    };
    out.push(c.protocol.level() | bridge);
    out.push(flags);
    out.extend_from_slice(&c.keep_alive.to_be_bytes());
    if v5 {
        write_properties(out, c.properties);
    }
    write_field(out, c.client_id.as_bytes());
    if let Some(will) = &c.will {
        if v5 {
            write_properties(out, will.properties);
        }
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

fn encode_subscribe(s: &Subscribe<'_>, v5: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut remaining = 2 + properties_len(s.properties, v5);
    for (filter, _) in &s.filters {
        remaining = remaining.saturating_add(field_len(filter.len())? + 1);
    }
    let remaining = check_remaining_length(remaining)?;
    write_header(out, 0x82, remaining);
    out.extend_from_slice(&s.packet_id.to_be_bytes());
    if v5 {
        write_properties(out, s.properties);
    }
    for (filter, options) in &s.filters {
        write_field(out, filter.as_bytes());
        out.push(if v5 {
            options.to_byte()
        } else {
            options.qos as u8
        });
    }
    Ok(())
}

fn encode_unsubscribe(u: &Unsubscribe<'_>, v5: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let mut remaining = 2 + properties_len(u.properties, v5);
    for filter in &u.filters {
        remaining = remaining.saturating_add(field_len(filter.len())?);
    }
    let remaining = check_remaining_length(remaining)?;
    write_header(out, 0xa2, remaining);
    out.extend_from_slice(&u.packet_id.to_be_bytes());
    if v5 {
        write_properties(out, u.properties);
    }
    for filter in &u.filters {
        write_field(out, filter.as_bytes());
    }
    Ok(())
}

fn encode_unsuback(u: &UnsubAck<'_>, v5: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    if !v5 {
        encode_ack(out, AckKind::UnsubAck, u.packet_id);
        return Ok(());
    }
    let remaining = check_remaining_length(2 + u.properties.wire_len() + u.codes.len())?;
    write_header(out, 0xb0, remaining);
    out.extend_from_slice(&u.packet_id.to_be_bytes());
    write_properties(out, u.properties);
    out.extend(u.codes.iter().map(|code| code.0));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::encode_fast::{
        encode_connack, encode_pingresp, encode_publish, encode_publish_header, publish_len,
    };
    use super::super::ReasonCode;
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
        encode_connack(&mut out, true, ReasonCode::SUCCESS);
        encode_pingresp(&mut out);
        encode_suback(
            &mut out,
            5,
            &[
                ReasonCode::granted(QoS::AtLeastOnce),
                ReasonCode::NOT_AUTHORIZED,
            ],
            None,
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
    fn what_the_decoder_refuses_is_written_as_given_in_mqtt_5_too() {
        // DUP on QoS 0: the fast path's debug assertion is not encode's.
        let p = Packet::Publish(Publish {
            dup: true,
            qos: QoS::AtMostOnce,
            retain: false,
            topic: "t",
            packet_id: None,
            payload: b"x",
            properties: Properties::EMPTY,
        });
        for protocol in [Protocol::V311, Protocol::V5] {
            let mut out = Vec::new();
            encode_as(&p, protocol, &mut out).unwrap();
            let properties: &[u8] = if protocol.is_v5() { &[0] } else { &[] };
            let expected = [
                &[0x38, 4 + properties.len() as u8, 0, 1, b't'][..],
                properties,
                b"x",
            ]
            .concat();
            assert_eq!(out, expected, "{protocol:?}");
        }
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
            properties: Properties::EMPTY,
        });
        assert_eq!(encode(&p, &mut out), Err(EncodeError::FieldTooLong));
        let p = Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "t",
            packet_id: None,
            payload: b"",
            properties: Properties::EMPTY,
        });
        assert_eq!(encode(&p, &mut out), Err(EncodeError::PacketIdMismatch));
        let u = Packet::Unsubscribe(Unsubscribe {
            packet_id: 1,
            filters: vec![&long[1..]; 4097],
            properties: Properties::EMPTY,
        });
        assert_eq!(encode(&u, &mut out), Err(EncodeError::PacketTooLarge));
        assert_eq!(out, [1, 2, 3]);
    }
}
