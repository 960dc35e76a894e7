//! The checks behind the `decode` and `encode` fuzz targets.
//!
//! This file depends only on `mqlite` and `std`, so the regression tests
//! (`tests/fuzz_regressions.rs`) include it with `#[path]` and replay
//! inputs on stable Rust, without libFuzzer.

use mqlite::codec::{
    decode, encode, peek_publish_topic, ConnAck, Connect, ConnectReturnCode, Packet, Protocol,
    Publish, QoS, SubAck, SubAckCode, Subscribe, Unsubscribe, Will,
};

/// Maximum packet sizes the decoder is tried with: the first input byte
/// picks one, the rest of the input is the buffer.
const MAX_SIZES: [usize; 8] = [2, 3, 5, 64, 127, 4096, 1 << 16, 268_435_460];

/// Decodes the input (after its first byte, which picks the maximum packet
/// size) as a single packet, then as a stream of packets, checking:
///
/// - the decoder never panics, never claims more bytes than it was given,
///   fewer than 2, or more than the maximum packet size;
/// - a packet decodes the same from exactly its own bytes, and every
///   strict prefix of it is "need more" (`Ok(None)`), never an error or a
///   different packet;
/// - an error on a prefix stays the same error with more bytes;
/// - what decodes re-encodes (no larger than it came, since only the
///   remaining-length encoding may shrink), and the re-encoding decodes to
///   the same packet and re-encodes to the same bytes;
/// - a stream of packets decodes to the same packets fed in one buffer or
///   in two pieces split anywhere (what the broker does with partial reads);
/// - the look-ahead `peek_publish_topic` never panics, and on a PUBLISH
///   that decodes it gives that PUBLISH's topic.
pub fn check_decode(data: &[u8]) {
    let Some((&selector, buf)) = data.split_first() else {
        return;
    };
    let max = MAX_SIZES[usize::from(selector & 7)];
    check_one(buf, max);
    // The broker's view: a stream cut at an arbitrary point.
    let split = if buf.is_empty() {
        0
    } else {
        usize::from(selector >> 3) * buf.len() / 32
    };
    check_stream(buf, max, split);
}

fn check_one(buf: &[u8], max: usize) {
    let result = decode(buf, max);
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
                decode(&buf[..used], max),
                Ok(Some((packet.clone(), used))),
                "not the same packet from exactly its bytes"
            );
            // Every strict prefix is incomplete. Checking them all is
            // quadratic: the first few, and the last few.
            for k in (0..used.min(8)).chain(used.saturating_sub(8)..used) {
                assert_eq!(
                    decode(&buf[..k], max),
                    Ok(None),
                    "prefix of {k} bytes of a {used}-byte packet"
                );
            }
            roundtrip(packet, used);
        }
        Ok(None) => {
            for k in [0, 1, 2, buf.len() / 2, buf.len().saturating_sub(1)] {
                let k = k.min(buf.len());
                assert_eq!(decode(&buf[..k], max), Ok(None), "prefix of {k} bytes");
            }
        }
        Err(error) => {
            // The same error with any number of extra bytes.
            let mut longer = buf.to_vec();
            longer.extend_from_slice(&[0u8; 8]);
            assert_eq!(
                decode(&longer, max),
                Err(error.clone()),
                "error changed with more bytes"
            );
        }
    }
}

/// Re-encodes a decoded packet and checks it decodes back to itself.
fn roundtrip(packet: &Packet<'_>, used: usize) {
    let mut out = Vec::new();
    encode(packet, &mut out).unwrap_or_else(|e| panic!("decoded {packet:?} does not encode: {e}"));
    assert!(
        out.len() <= used,
        "re-encoding grew from {used} to {} bytes",
        out.len()
    );
    assert_eq!(
        decode(&out, usize::MAX),
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
fn check_stream(buf: &[u8], max: usize, split: usize) {
    let whole = stream(&[buf], max);
    let (a, b) = buf.split_at(split.min(buf.len()));
    let pieces = stream(&[a, b], max);
    assert_eq!(whole, pieces, "split at {split} changed the stream");
}

/// What a stream decoded to: the packets (as their debug form, so the
/// buffer they borrow from may go), and how it ended.
fn stream(reads: &[&[u8]], max: usize) -> (Vec<String>, String) {
    let mut packets = Vec::new();
    let mut pending: Vec<u8> = Vec::new();
    for read in reads {
        pending.extend_from_slice(read);
        let mut pos = 0;
        loop {
            match decode(&pending[pos..], max) {
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
                })
            } else {
                None
            };
            let username = if f.flag() { Some(f.str(32)) } else { None };
            let password = if f.flag() { Some(f.bytes(32)) } else { None };
            Packet::Connect(Connect {
                protocol,
                clean_session,
                keep_alive,
                client_id,
                will,
                username,
                password,
            })
        }
        1 => Packet::ConnAck(ConnAck {
            session_present: f.flag(),
            code: ConnectReturnCode::from_u8(f.byte() % 6).expect("0..=5"),
        }),
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
            })
        }
        3 => Packet::PubAck(f.u16()),
        4 => Packet::PubRec(f.u16()),
        5 => Packet::PubRel(f.u16()),
        6 => Packet::PubComp(f.u16()),
        7 => {
            let packet_id = f.u16();
            let n = f.byte() % 5;
            let filters = (0..n).map(|_| (f.str(32), f.qos())).collect();
            Packet::Subscribe(Subscribe { packet_id, filters })
        }
        8 => {
            let packet_id = f.u16();
            let n = f.byte() % 5;
            let codes = (0..n)
                .map(|_| match f.byte() % 4 {
                    3 => SubAckCode::Failure,
                    q => SubAckCode::Granted(QoS::from_u8(q).expect("0..=2")),
                })
                .collect();
            Packet::SubAck(SubAck { packet_id, codes })
        }
        9 => {
            let packet_id = f.u16();
            let n = f.byte() % 5;
            let filters = (0..n).map(|_| f.str(32)).collect();
            Packet::Unsubscribe(Unsubscribe { packet_id, filters })
        }
        10 => Packet::UnsubAck(f.u16()),
        11 => Packet::PingReq,
        12 => Packet::PingResp,
        _ => Packet::Disconnect,
    };
    let mut out = Vec::new();
    encode(&packet, &mut out).unwrap_or_else(|e| panic!("{packet:?} does not encode: {e}"));
    match decode(&out, usize::MAX) {
        Ok(Some((decoded, used))) => {
            assert_eq!(used, out.len(), "{packet:?}: decoded length");
            assert_eq!(decoded, packet, "{packet:?}: decoded differently");
            let mut again = Vec::new();
            encode(&decoded, &mut again).expect("decoded packet encodes");
            assert_eq!(again, out, "{packet:?}: re-encoding differs");
        }
        Ok(None) => panic!("{packet:?}: encoded {out:02x?} is incomplete"),
        Err(_) => assert!(
            !wire_valid(&packet),
            "{packet:?}: valid packet refused: {:?}",
            decode(&out, usize::MAX)
        ),
    }
    check_helpers(&packet, &out);
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
        Packet::ConnAck(a) => !a.session_present || a.code == ConnectReturnCode::Accepted,
        Packet::Publish(p) => {
            text(p.topic) && p.packet_id != Some(0) && !(p.dup && p.qos == QoS::AtMostOnce)
        }
        Packet::PubAck(id)
        | Packet::PubRec(id)
        | Packet::PubRel(id)
        | Packet::PubComp(id)
        | Packet::UnsubAck(id) => *id != 0,
        Packet::Subscribe(s) => {
            s.packet_id != 0 && !s.filters.is_empty() && s.filters.iter().all(|(f, _)| text(f))
        }
        Packet::SubAck(s) => s.packet_id != 0 && !s.codes.is_empty(),
        Packet::Unsubscribe(u) => {
            u.packet_id != 0 && !u.filters.is_empty() && u.filters.iter().all(|f| text(f))
        }
        Packet::PingReq | Packet::PingResp | Packet::Disconnect => true,
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
        Packet::ConnAck(a) if a.session_present && a.code != ConnectReturnCode::Accepted => return,
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
        Packet::PubAck(id) => encode_ack(&mut out, AckKind::PubAck, *id),
        Packet::PubRec(id) => encode_ack(&mut out, AckKind::PubRec, *id),
        Packet::PubRel(id) => encode_ack(&mut out, AckKind::PubRel, *id),
        Packet::PubComp(id) => encode_ack(&mut out, AckKind::PubComp, *id),
        Packet::UnsubAck(id) => encode_ack(&mut out, AckKind::UnsubAck, *id),
        Packet::ConnAck(a) => encode_connack(&mut out, a.session_present, a.code),
        Packet::SubAck(s) => encode_suback(&mut out, s.packet_id, &s.codes),
        _ => return,
    }
    assert_eq!(out, expected, "{packet:?}: helper and encode differ");
}
