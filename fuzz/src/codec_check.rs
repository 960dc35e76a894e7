//! The checks behind the `decode` and `encode` fuzz targets.
//!
//! This file depends only on `mqlite` and `std`, so the regression tests
//! (`tests/fuzz_regressions.rs`) include it with `#[path]` and replay
//! inputs on stable Rust, without libFuzzer.

use mqlite::codec::property::{
    MAXIMUM_PACKET_SIZE, RECEIVE_MAXIMUM, SUBSCRIPTION_IDENTIFIER, USER_PROPERTY,
};
use mqlite::codec::{
    decode_as, encode, encode_as, peek_publish_topic, property, Ack, ConnAck, Connect, Packet,
    Properties, PropertiesBuilder, PropertyContext, Protocol, Publish, QoS, RawPacket, ReasonCode,
    ReasonContext, Reasoned, RetainHandling, SubAck, Subscribe, SubscriptionOptions, UnsubAck,
    Unsubscribe, Will,
};

/// Maximum packet sizes the decoder is tried with: the first input byte
/// picks one, the rest of the input is the buffer.
const MAX_SIZES: [usize; 8] = [2, 3, 5, 64, 127, 4096, 1 << 16, 268_435_460];

/// Decodes the input (after its first byte, which picks the maximum packet
/// size) as a single packet, then as a stream of packets, twice: as a
/// connection before its CONNECT reads it (3.1.1 packets; a CONNECT names
/// its own protocol) and as an MQTT 5 connection reads it. Each time
/// checks:
///
/// - the decoder never panics, never claims more bytes than it was given,
///   fewer than 2, or more than the maximum packet size;
/// - a packet decodes the same from exactly its own bytes, and every
///   strict prefix of it is "need more" (`Ok(None)`), never an error or a
///   different packet;
/// - an error on a prefix stays the same error with more bytes;
/// - what decodes re-encodes in the same protocol (no larger than it came:
///   only the remaining-length and property-length encodings may shrink,
///   and MQTT 5 acknowledgements and DISCONNECT / AUTH may leave out a
///   Success code and an empty property block), and the re-encoding
///   decodes to the same packet and re-encodes to the same bytes;
/// - a stream of packets decodes to the same packets fed in one buffer or
///   in two pieces split anywhere (what the broker does with partial reads);
/// - the look-ahead `peek_publish_topic` never panics, and on a PUBLISH
///   that decodes it gives that PUBLISH's topic.
pub fn check_decode(data: &[u8]) {
    let Some((&selector, buf)) = data.split_first() else {
        return;
    };
    let max = MAX_SIZES[usize::from(selector & 7)];
    // The broker's view: a stream cut at an arbitrary point.
    let split = if buf.is_empty() {
        0
    } else {
        usize::from(selector >> 3) * buf.len() / 32
    };
    for protocol in [None, Some(Protocol::V5)] {
        check_one(buf, max, protocol);
        check_stream(buf, max, split, protocol);
    }
}

/// The broker's input loop decodes through [`RawPacket`]: a PUBLISH and a
/// four-byte acknowledgement apart, anything else whole. Whatever the
/// bytes, that gives what `decode_as` gives: packet, size or error.
fn check_raw(buf: &[u8], max: usize, protocol: Option<Protocol>) {
    let ours = RawPacket::split(buf, max, protocol).and_then(|split| {
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
    assert_eq!(
        ours,
        decode_as(buf, max, protocol),
        "the input loop's decoding disagrees with decode_as"
    );
}

fn check_one(buf: &[u8], max: usize, protocol: Option<Protocol>) {
    check_raw(buf, max, protocol);
    let decode = |buf| decode_as(buf, max, protocol);
    let result = decode(buf);
    let peeked = peek_publish_topic(buf);
    if let Ok(Some((Packet::Publish(publish), _))) = &result {
        assert_eq!(
            peeked,
            Some(publish.topic.as_bytes()),
            "peek_publish_topic disagrees with decode"
        );
    }
    match &result {
        Ok(Some((packet, used))) => {
            let used = *used;
            assert!(used >= 2, "consumed {used} bytes");
            assert!(used <= buf.len(), "consumed {used} of {} bytes", buf.len());
            assert!(used <= max, "consumed {used} bytes with max {max}");
            assert_eq!(
                decode(&buf[..used]),
                Ok(Some((packet.clone(), used))),
                "not the same packet from exactly its bytes"
            );
            // Every strict prefix is incomplete. Checking them all is
            // quadratic: the first few, and the last few.
            for k in (0..used.min(8)).chain(used.saturating_sub(8)..used) {
                assert_eq!(
                    decode(&buf[..k]),
                    Ok(None),
                    "prefix of {k} bytes of a {used}-byte packet"
                );
            }
            roundtrip(packet, used, protocol);
        }
        Ok(None) => {
            for k in [0, 1, 2, buf.len() / 2, buf.len().saturating_sub(1)] {
                let k = k.min(buf.len());
                assert_eq!(decode(&buf[..k]), Ok(None), "prefix of {k} bytes");
            }
        }
        Err(error) => {
            // The same error with any number of extra bytes.
            let mut longer = buf.to_vec();
            longer.extend_from_slice(&[0u8; 8]);
            assert_eq!(
                decode(&longer),
                Err(error.clone()),
                "error changed with more bytes"
            );
        }
    }
}

/// Re-encodes a decoded packet in the protocol it was decoded in (3.1.1
/// before CONNECT) and checks it decodes back to itself.
fn roundtrip(packet: &Packet<'_>, used: usize, protocol: Option<Protocol>) {
    let encode =
        |packet, out: &mut Vec<u8>| encode_as(packet, protocol.unwrap_or(Protocol::V311), out);
    let mut out = Vec::new();
    encode(packet, &mut out).unwrap_or_else(|e| panic!("decoded {packet:?} does not encode: {e}"));
    assert!(
        out.len() <= used,
        "re-encoding grew from {used} to {} bytes",
        out.len()
    );
    assert_eq!(
        decode_as(&out, usize::MAX, protocol),
        Ok(Some((packet.clone(), out.len()))),
        "re-encoded packet decodes differently"
    );
    let mut again = Vec::new();
    encode(packet, &mut again).expect("encodes twice");
    assert_eq!(out, again, "encoding is not deterministic");
}

/// Decodes `buf` as a stream of packets the way the broker does (decode at
/// the front, drop what was used, keep the unparsed tail, append the next
/// read), once whole and once in two reads split at `split`; both must give
/// the same packets and the same final error or tail.
fn check_stream(buf: &[u8], max: usize, split: usize, protocol: Option<Protocol>) {
    let whole = stream(&[buf], max, protocol);
    let (a, b) = buf.split_at(split.min(buf.len()));
    let pieces = stream(&[a, b], max, protocol);
    assert_eq!(whole, pieces, "split at {split} changed the stream");
}

/// What a stream decoded to: the packets (as their debug form, so the
/// buffer they borrow from may go), and how it ended.
fn stream(reads: &[&[u8]], max: usize, protocol: Option<Protocol>) -> (Vec<String>, String) {
    let mut packets = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for read in reads {
        pending.extend_from_slice(read);
        let mut pos = 0;
        loop {
            match decode_as(&pending[pos..], max, protocol) {
                Ok(Some((packet, used))) => {
                    assert!(used > 0 && pos + used <= pending.len());
                    packets.push(format!("{packet:?}"));
                    pos += used;
                }
                Ok(None) => break,
                Err(error) => return (packets, format!("error {error:?}")),
            }
        }
        pending.drain(..pos);
    }
    (packets, format!("tail of {} bytes", pending.len()))
}

/// Reads fields from fuzz input; yields zeros once the input is used up.
struct Fields<'a> {
    data: &'a [u8],
}

impl<'a> Fields<'a> {
    fn byte(&mut self) -> u8 {
        match self.data.split_first() {
            Some((&b, rest)) => {
                self.data = rest;
                b
            }
            None => 0,
        }
    }

    fn u16(&mut self) -> u16 {
        u16::from_be_bytes([self.byte(), self.byte()])
    }

    /// A four-byte integer of any magnitude (shifted right by 0 to 31
    /// bits, so that small values are common too).
    fn u32(&mut self) -> u32 {
        let value = u32::from_be_bytes([self.byte(), self.byte(), self.byte(), self.byte()]);
        value >> (self.byte() & 31)
    }

    fn flag(&mut self) -> bool {
        self.byte() & 1 == 1
    }

    fn qos(&mut self) -> QoS {
        QoS::from_u8(self.byte() % 3).expect("0..=2")
    }

    /// Up to `limit` bytes, the length read first.
    fn bytes(&mut self, limit: usize) -> &'a [u8] {
        let n = usize::from(self.byte()).min(limit).min(self.data.len());
        let (taken, rest) = self.data.split_at(n);
        self.data = rest;
        taken
    }

    /// A string: the bytes if they are UTF-8, else their valid prefix.
    fn str(&mut self, limit: usize) -> &'a str {
        let bytes = self.bytes(limit);
        match std::str::from_utf8(bytes) {
            Ok(s) => s,
            Err(e) => std::str::from_utf8(&bytes[..e.valid_up_to()]).expect("valid prefix"),
        }
    }
}

/// Builds a packet from the input's fields, encodes it, and checks:
///
/// - encoding fails only for what the wire cannot carry (never for the
///   small fields built here, except a PUBLISH packet id not matching its
///   QoS, which the builder never makes);
/// - the bytes decode to the same packet when the packet is valid on the
///   wire, with the exact length, and re-encode to the same bytes;
/// - when it is not valid (a zero packet id, a NUL in a string, an empty
///   filter list...), decoding reports an error, never a different packet;
/// - the length matches `publish_len` for PUBLISH, and the infallible
///   helpers (`encode_publish`, `encode_ack`, `encode_suback`,
///   `encode_connack`) write the same bytes as `encode`.
///
/// Then the same packet as MQTT 5, with the MQTT 5 fields (property
/// blocks, reason codes, subscription options, AUTH) read from the input
/// after the 3.1.1 ones, so that an input's 3.1.1 packet stays what it
/// was; `encode_as` / `decode_as` in MQTT 5 must meet the same checks
/// (with the MQTT 5 helpers `encode_publish_v5`, `publish_len_v5`,
/// `encode_ack_v5` and `encode_suback`), each property block must be
/// valid exactly when the builder below says so, and its 3.1.1 encoding
/// must be that of the packet without its MQTT 5 fields.
pub fn check_encode(data: &[u8]) {
    let mut f = Fields { data };
    let kind = f.byte() % 14;
    let packet = match kind {
        0 => {
            let protocol = if f.flag() {
                Protocol::V311
            } else {
                Protocol::V31
            };
            let clean_session = f.flag();
            let keep_alive = f.u16();
            let client_id = f.str(64);
            let will = if f.flag() {
                Some(Will {
                    topic: f.str(64),
                    payload: f.bytes(255),
                    qos: f.qos(),
                    retain: f.flag(),
                    properties: Properties::EMPTY,
                })
            } else {
                None
            };
            let username = if f.flag() { Some(f.str(32)) } else { None };
            let password = if f.flag() { Some(f.bytes(32)) } else { None };
            Packet::Connect(Box::new(Connect {
                bridge: false,
                protocol,
                clean_session,
                keep_alive,
                client_id,
                will,
                username,
                password,
                properties: Properties::EMPTY,
            }))
        }
        1 => Packet::ConnAck(ConnAck::new(
            f.flag(),
            ReasonCode::from_v3_connack(f.byte() % 6),
        )),
        2 => {
            let qos = f.qos();
            let packet_id = match qos {
                QoS::AtMostOnce => None,
                _ => Some(f.u16()),
            };
            Packet::Publish(Publish {
                dup: f.flag(),
                qos,
                retain: f.flag(),
                topic: f.str(255),
                packet_id,
                payload: f.bytes(255),
                properties: Properties::EMPTY,
            })
        }
        3 => Packet::PubAck(Ack::new(f.u16())),
        4 => Packet::PubRec(Ack::new(f.u16())),
        5 => Packet::PubRel(Ack::new(f.u16())),
        6 => Packet::PubComp(Ack::new(f.u16())),
        7 => {
            let packet_id = f.u16();
            let n = f.byte() % 5;
            let filters = (0..n).map(|_| (f.str(32), f.qos().into())).collect();
            Packet::Subscribe(Subscribe {
                packet_id,
                filters,
                properties: Properties::EMPTY,
            })
        }
        8 => {
            let packet_id = f.u16();
            let n = f.byte() % 5;
            let codes = (0..n)
                .map(|_| match f.byte() % 4 {
                    3 => ReasonCode::UNSPECIFIED_ERROR,
                    q => ReasonCode::granted(QoS::from_u8(q).expect("0..=2")),
                })
                .collect();
            Packet::SubAck(SubAck {
                packet_id,
                codes,
                properties: Properties::EMPTY,
            })
        }
        9 => {
            let packet_id = f.u16();
            let n = f.byte() % 5;
            let filters = (0..n).map(|_| f.str(32)).collect();
            Packet::Unsubscribe(Unsubscribe {
                packet_id,
                filters,
                properties: Properties::EMPTY,
            })
        }
        10 => Packet::UnsubAck(UnsubAck::new(f.u16())),
        11 => Packet::PingReq,
        12 => Packet::PingResp,
        _ => Packet::Disconnect(Reasoned::default()),
    };
    let out = check_roundtrip(&packet, None, wire_valid(&packet));
    check_helpers(&packet, &out);

    // The same packet in MQTT 5.
    let mut blocks = [PropertiesBuilder::new(), PropertiesBuilder::new()];
    let (packet_v5, properties_valid) = v5_fields(&packet, &mut f, &mut blocks);
    let valid = properties_valid && wire_valid_v5(&packet_v5);
    let out_v5 = check_roundtrip(&packet_v5, Some(Protocol::V5), valid);
    check_helpers_v5(&packet_v5, &out_v5);
    // In 3.1.1 the MQTT 5 fields are left out (a CONNECT and an AUTH are
    // always written in MQTT 5).
    if !matches!(packet_v5, Packet::Connect(_) | Packet::Auth(_)) {
        let mut as_v3 = Vec::new();
        encode(&packet_v5, &mut as_v3).expect("encodes in 3.1.1");
        let mut expected = Vec::new();
        encode(&without_v5_fields(&packet_v5), &mut expected).expect("encodes");
        assert_eq!(as_v3, expected, "{packet_v5:?}: 3.1.1 form");
    }
}

/// Encodes `packet` for `protocol` (3.1.1 for `None`) and decodes it back:
/// the same packet, of the same length, re-encoding to the same bytes, or
/// an error exactly when the packet is not `valid` on the wire. Returns
/// the bytes.
fn check_roundtrip(packet: &Packet<'_>, protocol: Option<Protocol>, valid: bool) -> Vec<u8> {
    let encode =
        |packet, out: &mut Vec<u8>| encode_as(packet, protocol.unwrap_or(Protocol::V311), out);
    let mut out = Vec::new();
    encode(packet, &mut out).unwrap_or_else(|e| panic!("{packet:?} does not encode: {e}"));
    match decode_as(&out, usize::MAX, protocol) {
        Ok(Some((decoded, used))) => {
            assert_eq!(used, out.len(), "{packet:?}: decoded length");
            assert_eq!(&decoded, packet, "{packet:?}: decoded differently");
            let mut again = Vec::new();
            encode(&decoded, &mut again).expect("decoded packet encodes");
            assert_eq!(again, out, "{packet:?}: re-encoding differs");
        }
        Ok(None) => panic!("{packet:?}: encoded {out:02x?} is incomplete"),
        Err(_) => assert!(
            !valid,
            "{packet:?}: valid packet refused: {:?}",
            decode_as(&out, usize::MAX, protocol)
        ),
    }
    out
}

/// Whether the decoder must accept `packet` (as built by `check_encode`).
fn wire_valid(packet: &Packet<'_>) -> bool {
    let text = |s: &str| !s.contains('\0');
    match packet {
        Packet::Connect(c) => {
            text(c.client_id)
                && !matches!(&c.will, Some(w) if !text(w.topic))
                && !matches!(c.username, Some(u) if !text(u))
                // A password needs a user name [MQTT-3.1.2-22].
                && (c.password.is_none() || c.username.is_some())
        }
        Packet::ConnAck(a) => !a.session_present || a.code == ReasonCode::SUCCESS,
        Packet::Publish(p) => {
            text(p.topic) && p.packet_id != Some(0) && !(p.dup && p.qos == QoS::AtMostOnce)
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.packet_id != 0
        }
        Packet::UnsubAck(u) => u.packet_id != 0,
        Packet::Subscribe(s) => {
            s.packet_id != 0 && !s.filters.is_empty() && s.filters.iter().all(|(f, _)| text(f))
        }
        Packet::SubAck(s) => s.packet_id != 0 && !s.codes.is_empty(),
        Packet::Unsubscribe(u) => {
            u.packet_id != 0 && !u.filters.is_empty() && u.filters.iter().all(|f| text(f))
        }
        Packet::PingReq | Packet::PingResp | Packet::Disconnect(_) => true,
        // AUTH does not exist before MQTT 5.
        Packet::Auth(_) => false,
    }
}

/// Whether an MQTT 5 decoder must accept `packet` (as built by
/// `v5_fields`), its property blocks aside: the 3.1.1 rules, but a
/// password may come without a user name, and each reason code must be
/// one its packet may carry.
fn wire_valid_v5(packet: &Packet<'_>) -> bool {
    let allowed = |code: ReasonCode, context| code.allowed_in(context);
    match packet {
        Packet::Connect(c) => wire_valid(&Packet::Connect(Box::new(Connect {
            password: None,
            ..(**c).clone()
        }))),
        Packet::ConnAck(a) => wire_valid(packet) && allowed(a.code, ReasonContext::ConnAck),
        Packet::PubAck(a) | Packet::PubRec(a) => {
            a.packet_id != 0 && allowed(a.reason, ReasonContext::PubAckOrRec)
        }
        Packet::PubRel(a) | Packet::PubComp(a) => {
            a.packet_id != 0 && allowed(a.reason, ReasonContext::PubRelOrComp)
        }
        Packet::SubAck(s) => {
            wire_valid(packet)
                && s.codes
                    .iter()
                    .all(|&code| allowed(code, ReasonContext::SubAck))
        }
        Packet::UnsubAck(u) => {
            u.packet_id != 0
                && !u.codes.is_empty()
                && u.codes
                    .iter()
                    .all(|&code| allowed(code, ReasonContext::UnsubAck))
        }
        Packet::Disconnect(r) => allowed(r.reason, ReasonContext::Disconnect),
        Packet::Auth(r) => allowed(r.reason, ReasonContext::Auth),
        Packet::Publish(_)
        | Packet::Subscribe(_)
        | Packet::Unsubscribe(_)
        | Packet::PingReq
        | Packet::PingResp => wire_valid(packet),
    }
}

/// A reason code: usually `usual`, sometimes any byte (most of which the
/// packet may not carry).
fn reason(f: &mut Fields<'_>, usual: ReasonCode) -> ReasonCode {
    if f.byte() < 160 {
        usual
    } else {
        ReasonCode(f.byte())
    }
}

/// `packet` as an MQTT 5 packet: the MQTT 5 fields are read from the
/// input, its property blocks written into `blocks`. Returns the packet
/// and whether its property blocks are valid.
fn v5_fields<'a>(
    packet: &Packet<'a>,
    f: &mut Fields<'a>,
    blocks: &'a mut [PropertiesBuilder; 2],
) -> (Packet<'a>, bool) {
    let mut packet = match packet.clone() {
        Packet::Connect(mut c) => {
            c.protocol = Protocol::V5;
            Packet::Connect(c)
        }
        Packet::ConnAck(mut a) => {
            a.code = reason(f, a.code);
            Packet::ConnAck(a)
        }
        Packet::PubAck(mut a) => {
            a.reason = reason(f, ReasonCode::SUCCESS);
            Packet::PubAck(a)
        }
        Packet::PubRec(mut a) => {
            a.reason = reason(f, ReasonCode::SUCCESS);
            Packet::PubRec(a)
        }
        Packet::PubRel(mut a) => {
            a.reason = reason(f, ReasonCode::SUCCESS);
            Packet::PubRel(a)
        }
        Packet::PubComp(mut a) => {
            a.reason = reason(f, ReasonCode::SUCCESS);
            Packet::PubComp(a)
        }
        Packet::Subscribe(mut s) => {
            for (_, options) in &mut s.filters {
                let b = f.byte();
                options.no_local = b & 1 != 0;
                options.retain_as_published = b & 2 != 0;
                options.retain_handling = match (b >> 2) % 3 {
                    0 => RetainHandling::SendOnSubscribe,
                    1 => RetainHandling::SendIfNew,
                    _ => RetainHandling::DoNotSend,
                };
            }
            Packet::Subscribe(s)
        }
        Packet::SubAck(mut s) => {
            for code in &mut s.codes {
                *code = reason(f, *code);
            }
            Packet::SubAck(s)
        }
        Packet::UnsubAck(mut u) => {
            let n = f.byte() % 5;
            u.codes = (0..n).map(|_| reason(f, ReasonCode::SUCCESS)).collect();
            Packet::UnsubAck(u)
        }
        Packet::Disconnect(_) if f.byte() >= 192 => {
            Packet::Auth(Reasoned::new(reason(f, ReasonCode::SUCCESS)))
        }
        Packet::Disconnect(_) => {
            Packet::Disconnect(Reasoned::new(reason(f, ReasonCode::NORMAL_DISCONNECTION)))
        }
        other => other,
    };
    let context = match &packet {
        Packet::Connect(_) => PropertyContext::Connect,
        Packet::ConnAck(_) => PropertyContext::ConnAck,
        Packet::Publish(_) => PropertyContext::Publish,
        Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubRel(_) | Packet::PubComp(_) => {
            PropertyContext::Ack
        }
        Packet::Subscribe(_) => PropertyContext::Subscribe,
        Packet::SubAck(_) => PropertyContext::SubAck,
        Packet::Unsubscribe(_) => PropertyContext::Unsubscribe,
        Packet::UnsubAck(_) => PropertyContext::UnsubAck,
        Packet::Disconnect(_) => PropertyContext::Disconnect,
        Packet::Auth(_) => PropertyContext::Auth,
        Packet::PingReq | Packet::PingResp => return (packet, true),
    };
    let [block, will_block] = blocks;
    let mut valid = properties(f, context, block);
    if matches!(&packet, Packet::Connect(c) if c.will.is_some()) {
        valid &= properties(f, PropertyContext::Will, will_block);
    }
    let properties = block.unchecked();
    match &mut packet {
        Packet::Connect(c) => {
            c.properties = properties;
            if let Some(will) = &mut c.will {
                will.properties = will_block.unchecked();
            }
        }
        Packet::ConnAck(a) => a.properties = properties,
        Packet::Publish(p) => p.properties = properties,
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            a.properties = properties
        }
        Packet::Subscribe(s) => s.properties = properties,
        Packet::SubAck(s) => s.properties = properties,
        Packet::Unsubscribe(u) => u.properties = properties,
        Packet::UnsubAck(u) => u.properties = properties,
        Packet::Disconnect(r) | Packet::Auth(r) => r.properties = properties,
        Packet::PingReq | Packet::PingResp => {}
    }
    (packet, valid)
}

/// The type of a property's value (MQTT 5.0 §2.2.2.2).
#[derive(Clone, Copy)]
enum Kind {
    Byte,
    TwoByte,
    FourByte,
    VarInt,
    Str,
    Binary,
    StrPair,
}

/// Every property identifier with the type of its value.
const KINDS: [(u8, Kind); 27] = {
    use property::*;
    use Kind::*;
    [
        (PAYLOAD_FORMAT_INDICATOR, Byte),
        (MESSAGE_EXPIRY_INTERVAL, FourByte),
        (CONTENT_TYPE, Str),
        (RESPONSE_TOPIC, Str),
        (CORRELATION_DATA, Binary),
        (SUBSCRIPTION_IDENTIFIER, VarInt),
        (SESSION_EXPIRY_INTERVAL, FourByte),
        (ASSIGNED_CLIENT_IDENTIFIER, Str),
        (SERVER_KEEP_ALIVE, TwoByte),
        (AUTHENTICATION_METHOD, Str),
        (AUTHENTICATION_DATA, Binary),
        (REQUEST_PROBLEM_INFORMATION, Byte),
        (WILL_DELAY_INTERVAL, FourByte),
        (REQUEST_RESPONSE_INFORMATION, Byte),
        (RESPONSE_INFORMATION, Str),
        (SERVER_REFERENCE, Str),
        (REASON_STRING, Str),
        (RECEIVE_MAXIMUM, TwoByte),
        (TOPIC_ALIAS_MAXIMUM, TwoByte),
        (TOPIC_ALIAS, TwoByte),
        (MAXIMUM_QOS, Byte),
        (RETAIN_AVAILABLE, Byte),
        (USER_PROPERTY, StrPair),
        (MAXIMUM_PACKET_SIZE, FourByte),
        (WILDCARD_SUBSCRIPTION_AVAILABLE, Byte),
        (SUBSCRIPTION_IDENTIFIER_AVAILABLE, Byte),
        (SHARED_SUBSCRIPTION_AVAILABLE, Byte),
    ]
};

/// The properties each packet may carry (MQTT 5.0 table 2-4).
fn allowed(context: PropertyContext) -> &'static [u8] {
    use property::*;
    match context {
        PropertyContext::Connect => &[
            SESSION_EXPIRY_INTERVAL,
            AUTHENTICATION_METHOD,
            AUTHENTICATION_DATA,
            REQUEST_PROBLEM_INFORMATION,
            REQUEST_RESPONSE_INFORMATION,
            RECEIVE_MAXIMUM,
            TOPIC_ALIAS_MAXIMUM,
            USER_PROPERTY,
            MAXIMUM_PACKET_SIZE,
        ],
        PropertyContext::Will => &[
            PAYLOAD_FORMAT_INDICATOR,
            MESSAGE_EXPIRY_INTERVAL,
            CONTENT_TYPE,
            RESPONSE_TOPIC,
            CORRELATION_DATA,
            USER_PROPERTY,
            WILL_DELAY_INTERVAL,
        ],
        PropertyContext::ConnAck => &[
            REASON_STRING,
            USER_PROPERTY,
            SESSION_EXPIRY_INTERVAL,
            ASSIGNED_CLIENT_IDENTIFIER,
            SERVER_KEEP_ALIVE,
            AUTHENTICATION_METHOD,
            AUTHENTICATION_DATA,
            RESPONSE_INFORMATION,
            SERVER_REFERENCE,
            RECEIVE_MAXIMUM,
            TOPIC_ALIAS_MAXIMUM,
            MAXIMUM_QOS,
            RETAIN_AVAILABLE,
            MAXIMUM_PACKET_SIZE,
            WILDCARD_SUBSCRIPTION_AVAILABLE,
            SUBSCRIPTION_IDENTIFIER_AVAILABLE,
            SHARED_SUBSCRIPTION_AVAILABLE,
        ],
        PropertyContext::Publish => &[
            PAYLOAD_FORMAT_INDICATOR,
            MESSAGE_EXPIRY_INTERVAL,
            CONTENT_TYPE,
            RESPONSE_TOPIC,
            CORRELATION_DATA,
            USER_PROPERTY,
            TOPIC_ALIAS,
            SUBSCRIPTION_IDENTIFIER,
        ],
        PropertyContext::Ack | PropertyContext::SubAck | PropertyContext::UnsubAck => {
            &[REASON_STRING, USER_PROPERTY]
        }
        PropertyContext::Subscribe => &[SUBSCRIPTION_IDENTIFIER, USER_PROPERTY],
        PropertyContext::Unsubscribe => &[USER_PROPERTY],
        PropertyContext::Disconnect => &[
            REASON_STRING,
            USER_PROPERTY,
            SESSION_EXPIRY_INTERVAL,
            SERVER_REFERENCE,
        ],
        PropertyContext::Auth => &[
            REASON_STRING,
            USER_PROPERTY,
            AUTHENTICATION_METHOD,
            AUTHENTICATION_DATA,
        ],
    }
}

/// Writes a property block for `context` into `out`, from the input:
/// usually properties the packet may carry, with values of their type;
/// sometimes one it may not carry, a value the standard forbids (0 for
/// Receive Maximum, Maximum Packet Size or a Subscription Identifier,
/// more than 1 for a yes-or-no byte), a NUL in a string, a property twice
/// that may appear once, or an unknown identifier. Returns whether the
/// block is valid, and checks that `Properties::parse` agrees.
fn properties(f: &mut Fields<'_>, context: PropertyContext, out: &mut PropertiesBuilder) -> bool {
    let text = |s: &str| !s.contains('\0');
    let allowed = allowed(context);
    let repeatable = |property| {
        property == USER_PROPERTY
            || (property == SUBSCRIPTION_IDENTIFIER && context == PropertyContext::Publish)
    };
    let mut valid = true;
    let mut seen = Vec::new();
    for _ in 0..f.byte() % 4 {
        let pick = usize::from(f.byte());
        let property = match pick {
            0..=223 => allowed[pick % allowed.len()],
            224..=254 => KINDS[pick % KINDS.len()].0,
            _ => {
                // An identifier no property has.
                out.raw(&[0x05]);
                valid = false;
                continue;
            }
        };
        valid &= allowed.contains(&property);
        valid &= !seen.contains(&property) || repeatable(property);
        seen.push(property);
        let (_, kind) = KINDS
            .iter()
            .find(|(id, _)| *id == property)
            .expect("a known identifier");
        match kind {
            Kind::Byte => {
                let value = f.byte() % 3;
                valid &= value <= 1;
                out.byte(property, value);
            }
            Kind::TwoByte => {
                let value = f.u16();
                valid &= !(property == RECEIVE_MAXIMUM && value == 0);
                out.two_byte(property, value);
            }
            Kind::FourByte => {
                let value = f.u32();
                valid &= !(property == MAXIMUM_PACKET_SIZE && value == 0);
                out.four_byte(property, value);
            }
            Kind::VarInt => {
                // The builder clamps to the largest variable byte integer.
                let value = f.u32();
                valid &= value != 0;
                out.varint(property, value);
            }
            Kind::Str => {
                let value = f.str(16);
                valid &= text(value);
                out.string(property, value);
            }
            Kind::Binary => {
                out.binary(property, f.bytes(16));
            }
            Kind::StrPair => {
                let (key, value) = (f.str(16), f.str(16));
                valid &= text(key) && text(value);
                out.user_property(key, value);
            }
        }
    }
    assert_eq!(
        Properties::parse(out.as_bytes(), context)
            .map(|_| ())
            .is_ok(),
        valid,
        "{context:?} properties {:02x?}: {:?}",
        out.as_bytes(),
        Properties::parse(out.as_bytes(), context)
    );
    valid
}

/// `packet` without its MQTT 5 fields: what its 3.1.1 encoding carries
/// (return codes mapped to the nearest 3.1.1 one and back).
fn without_v5_fields<'a>(packet: &Packet<'a>) -> Packet<'a> {
    match packet.clone() {
        Packet::ConnAck(a) => Packet::ConnAck(ConnAck::new(
            a.session_present,
            ReasonCode::from_v3_connack(a.code.to_v3_connack()),
        )),
        Packet::Publish(p) => Packet::Publish(Publish {
            properties: Properties::EMPTY,
            ..p
        }),
        Packet::PubAck(a) => Packet::PubAck(Ack::new(a.packet_id)),
        Packet::PubRec(a) => Packet::PubRec(Ack::new(a.packet_id)),
        Packet::PubRel(a) => Packet::PubRel(Ack::new(a.packet_id)),
        Packet::PubComp(a) => Packet::PubComp(Ack::new(a.packet_id)),
        Packet::Subscribe(s) => Packet::Subscribe(Subscribe {
            packet_id: s.packet_id,
            filters: s
                .filters
                .iter()
                .map(|&(filter, options)| (filter, SubscriptionOptions::new(options.qos)))
                .collect(),
            properties: Properties::EMPTY,
        }),
        Packet::SubAck(s) => Packet::SubAck(SubAck {
            packet_id: s.packet_id,
            codes: s
                .codes
                .iter()
                .map(|&code| ReasonCode(code.to_v3_suback()))
                .collect(),
            properties: Properties::EMPTY,
        }),
        Packet::Unsubscribe(u) => Packet::Unsubscribe(Unsubscribe {
            properties: Properties::EMPTY,
            ..u
        }),
        Packet::UnsubAck(u) => Packet::UnsubAck(UnsubAck::new(u.packet_id)),
        Packet::Disconnect(_) => Packet::Disconnect(Reasoned::default()),
        other => other,
    }
}

/// The broker's infallible encoders must agree with `encode`.
fn check_helpers(packet: &Packet<'_>, expected: &[u8]) {
    use mqlite::codec::{
        encode_ack, encode_connack, encode_publish, encode_suback, publish_len, AckKind,
    };
    let mut out = Vec::new();
    match packet {
        // The helpers `debug_assert!` what the broker never writes.
        Packet::Publish(p) if p.packet_id == Some(0) || (p.dup && p.qos == QoS::AtMostOnce) => {
            return
        }
        Packet::ConnAck(a) if a.session_present && a.code != ReasonCode::SUCCESS => return,
        Packet::Publish(p) => {
            encode_publish(
                &mut out,
                p.dup,
                p.qos,
                p.retain,
                p.topic,
                p.packet_id.unwrap_or(0),
                p.payload,
            );
            assert_eq!(
                publish_len(p.topic.len(), p.qos, p.payload.len()),
                expected.len(),
                "publish_len"
            );
        }
        Packet::PubAck(a) => encode_ack(&mut out, AckKind::PubAck, a.packet_id),
        Packet::PubRec(a) => encode_ack(&mut out, AckKind::PubRec, a.packet_id),
        Packet::PubRel(a) => encode_ack(&mut out, AckKind::PubRel, a.packet_id),
        Packet::PubComp(a) => encode_ack(&mut out, AckKind::PubComp, a.packet_id),
        Packet::UnsubAck(u) => encode_ack(&mut out, AckKind::UnsubAck, u.packet_id),
        Packet::ConnAck(a) => encode_connack(&mut out, a.session_present, a.code),
        Packet::SubAck(s) => encode_suback(&mut out, s.packet_id, &s.codes, None),
        _ => return,
    }
    assert_eq!(out, expected, "{packet:?}: helper and encode differ");
}

/// The broker's MQTT 5 encoders must agree with `encode_as`.
fn check_helpers_v5(packet: &Packet<'_>, expected: &[u8]) {
    use mqlite::codec::{encode_ack_v5, encode_publish_v5, encode_suback, publish_len_v5, AckKind};
    let mut out = Vec::new();
    let ack = |kind, a: &Ack<'_>, out: &mut Vec<u8>| {
        if a.properties.is_empty() {
            encode_ack_v5(out, kind, a.packet_id, a.reason);
            true
        } else {
            false // The helper writes no properties.
        }
    };
    let compared = match packet {
        Packet::Publish(p) if p.packet_id == Some(0) || (p.dup && p.qos == QoS::AtMostOnce) => {
            false
        }
        Packet::Publish(p) => {
            // The block may come in pieces (the broker adds a
            // Subscription Identifier to a forwarded message's own).
            let block = p.properties.as_bytes();
            let (first, second) = block.split_at(block.len() / 2);
            encode_publish_v5(
                &mut out,
                p.dup,
                p.qos,
                p.retain,
                p.topic,
                p.packet_id.unwrap_or(0),
                &[first, second],
                p.payload,
            );
            assert_eq!(
                publish_len_v5(p.topic.len(), p.qos, block.len(), p.payload.len()),
                expected.len(),
                "publish_len_v5"
            );
            true
        }
        Packet::PubAck(a) => ack(AckKind::PubAck, a, &mut out),
        Packet::PubRec(a) => ack(AckKind::PubRec, a, &mut out),
        Packet::PubRel(a) => ack(AckKind::PubRel, a, &mut out),
        Packet::PubComp(a) => ack(AckKind::PubComp, a, &mut out),
        Packet::SubAck(s) => {
            encode_suback(
                &mut out,
                s.packet_id,
                &s.codes,
                Some(s.properties.as_bytes()),
            );
            true
        }
        _ => false,
    };
    if compared {
        assert_eq!(
            out, expected,
            "{packet:?}: MQTT 5 helper and encode_as differ"
        );
    }
}
