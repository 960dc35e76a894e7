//! A minimal MQTT-SN 1.2 client codec: the messages the `mqttsn` scenario
//! sends (CONNECT, REGISTER, PUBLISH, PUBACK, DISCONNECT) and the ones it
//! reads (CONNACK, REGACK, PUBACK, DISCONNECT, and whatever else, skipped).
//!
//! Written here rather than taken from the broker so that the benchmark
//! checks the gateway against the specification, not against itself.

/// MQTT-SN message types (specification section 5.2.2).
pub mod msg {
    /// CONNECT.
    pub const CONNECT: u8 = 0x04;
    /// CONNACK.
    pub const CONNACK: u8 = 0x05;
    /// REGISTER.
    pub const REGISTER: u8 = 0x0A;
    /// REGACK.
    pub const REGACK: u8 = 0x0B;
    /// PUBLISH.
    pub const PUBLISH: u8 = 0x0C;
    /// PUBACK.
    pub const PUBACK: u8 = 0x0D;
    /// DISCONNECT.
    pub const DISCONNECT: u8 = 0x18;
}

/// Flags bit: CleanSession (CONNECT).
pub const FLAG_CLEAN: u8 = 0x04;
/// The only protocol id MQTT-SN 1.2 defines.
pub const PROTOCOL_ID: u8 = 0x01;

/// Writes the length field and message type of a message whose body
/// (everything after the type) is `body_len` bytes: one length byte up to
/// 255 in total, else 0x01 and a 16-bit length.
fn header(out: &mut Vec<u8>, kind: u8, body_len: usize) -> Result<(), String> {
    let short = body_len + 2;
    if short <= 255 {
        out.push(short as u8);
    } else {
        let long = body_len + 4;
        let long = u16::try_from(long).map_err(|_| format!("MQTT-SN message of {long} bytes"))?;
        out.push(0x01);
        out.extend_from_slice(&long.to_be_bytes());
    }
    out.push(kind);
    Ok(())
}

/// CONNECT: Flags, ProtocolId, Duration (keep alive), ClientId.
pub fn connect(out: &mut Vec<u8>, client_id: &str, keep_alive: u16, clean: bool) {
    // A client id is at most 23 bytes: always a short message.
    let _ = header(out, msg::CONNECT, 4 + client_id.len());
    out.push(if clean { FLAG_CLEAN } else { 0 });
    out.push(PROTOCOL_ID);
    out.extend_from_slice(&keep_alive.to_be_bytes());
    out.extend_from_slice(client_id.as_bytes());
}

/// REGISTER from a client: TopicId 0, MsgId, TopicName.
pub fn register(out: &mut Vec<u8>, msg_id: u16, topic: &str) -> Result<(), String> {
    header(out, msg::REGISTER, 4 + topic.len())?;
    out.extend_from_slice(&0u16.to_be_bytes());
    out.extend_from_slice(&msg_id.to_be_bytes());
    out.extend_from_slice(topic.as_bytes());
    Ok(())
}

/// The flags byte of a PUBLISH with a normal (registered) topic id.
/// `qos` is 0, 1, 2, or 3 for QoS −1.
pub fn publish_flags(qos: u8, retain: bool) -> u8 {
    ((qos & 3) << 5) | if retain { 0x10 } else { 0 }
}

/// PUBLISH: Flags, TopicId, MsgId, Data.
pub fn publish(
    out: &mut Vec<u8>,
    flags: u8,
    topic_id: u16,
    msg_id: u16,
    data: &[u8],
) -> Result<(), String> {
    header(out, msg::PUBLISH, 5 + data.len())?;
    out.push(flags);
    out.extend_from_slice(&topic_id.to_be_bytes());
    out.extend_from_slice(&msg_id.to_be_bytes());
    out.extend_from_slice(data);
    Ok(())
}

/// PUBACK: TopicId, MsgId, ReturnCode.
// No scenario subscribes over MQTT-SN yet (the one that will must
// acknowledge QoS 1 deliveries with it); the tests use it meanwhile.
#[allow(dead_code)]
pub fn puback(out: &mut Vec<u8>, topic_id: u16, msg_id: u16, code: u8) {
    let _ = header(out, msg::PUBACK, 5);
    out.extend_from_slice(&topic_id.to_be_bytes());
    out.extend_from_slice(&msg_id.to_be_bytes());
    out.push(code);
}

/// DISCONNECT without a sleep duration.
pub fn disconnect(out: &mut Vec<u8>) {
    let _ = header(out, msg::DISCONNECT, 0);
}

/// A message the gateway sent, as far as the benchmark cares.
#[derive(Debug, PartialEq, Eq)]
pub enum SnPacket {
    /// CONNACK with its return code.
    ConnAck {
        /// 0 accepted, 1 congestion, 2 invalid topic id, 3 not supported.
        code: u8,
    },
    /// REGACK.
    RegAck {
        /// The topic id the gateway assigned.
        topic_id: u16,
        /// The MsgId of the REGISTER it answers.
        msg_id: u16,
        /// Return code.
        code: u8,
    },
    /// PUBACK.
    PubAck {
        /// Topic id of the PUBLISH it answers.
        topic_id: u16,
        /// MsgId of the PUBLISH it answers.
        msg_id: u16,
        /// Return code.
        code: u8,
    },
    /// DISCONNECT (the gateway dropping the client, or answering ours).
    Disconnect,
    /// Any other well-formed message: its type.
    Other(u8),
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

/// Decodes one datagram. The length field must match the datagram's size
/// (a datagram carries exactly one message).
pub fn decode(d: &[u8]) -> Result<SnPacket, String> {
    let (len, at) = match d.first() {
        None => return Err("empty datagram".into()),
        Some(0x01) => (usize::from(u16_at(d, 1).ok_or("truncated long length")?), 3),
        Some(&n) => (usize::from(n), 1),
    };
    if len != d.len() || len <= at {
        return Err(format!("length field {len}, datagram of {} bytes", d.len()));
    }
    let kind = d[at];
    let body = &d[at + 1..];
    let short = || format!("short message type 0x{kind:02x} ({} bytes)", d.len());
    Ok(match kind {
        msg::CONNACK => SnPacket::ConnAck {
            code: *body.first().ok_or_else(short)?,
        },
        msg::REGACK | msg::PUBACK => {
            let topic_id = u16_at(body, 0).ok_or_else(short)?;
            let msg_id = u16_at(body, 2).ok_or_else(short)?;
            let code = *body.get(4).ok_or_else(short)?;
            if kind == msg::REGACK {
                SnPacket::RegAck {
                    topic_id,
                    msg_id,
                    code,
                }
            } else {
                SnPacket::PubAck {
                    topic_id,
                    msg_id,
                    code,
                }
            }
        }
        msg::DISCONNECT => SnPacket::Disconnect,
        other => SnPacket::Other(other),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn connect_bytes() {
        let mut b = Vec::new();
        connect(&mut b, "ab", 60, true);
        assert_eq!(b, [8, 0x04, 0x04, 0x01, 0, 60, b'a', b'b']);
    }

    #[test]
    fn register_and_publish_bytes() {
        let mut b = Vec::new();
        register(&mut b, 7, "bench/sn/1").unwrap();
        assert_eq!(&b[..6], [16, 0x0A, 0, 0, 0, 7]);
        assert_eq!(&b[6..], b"bench/sn/1");
        b.clear();
        publish(&mut b, publish_flags(1, false), 0x0102, 0x0304, b"xy").unwrap();
        assert_eq!(b, [9, 0x0C, 0x20, 1, 2, 3, 4, b'x', b'y']);
        assert_eq!(publish_flags(0, true), 0x10);
        assert_eq!(publish_flags(3, false), 0x60);
    }

    #[test]
    fn long_form_above_255_bytes() {
        let mut b = Vec::new();
        let data = vec![0u8; 300];
        publish(&mut b, 0, 1, 0, &data).unwrap();
        assert_eq!(b.len(), 4 + 5 + 300);
        assert_eq!(&b[..4], [0x01, 0x01, 0x35, 0x0C]);
        // The boundary: 253 bytes of body make 255 in total, still short.
        b.clear();
        publish(&mut b, 0, 1, 0, &[0u8; 248]).unwrap();
        assert_eq!(b[0], 255);
        assert_eq!(b.len(), 255);
        b.clear();
        publish(&mut b, 0, 1, 0, &[0u8; 249]).unwrap();
        assert_eq!(&b[..3], [0x01, 0x01, 0x02]);
        assert!(publish(&mut b, 0, 1, 0, &[0u8; 65_530]).is_err());
    }

    #[test]
    fn decode_acks() {
        assert_eq!(decode(&[3, 0x05, 0]), Ok(SnPacket::ConnAck { code: 0 }));
        assert_eq!(
            decode(&[7, 0x0B, 0, 9, 0, 1, 0]),
            Ok(SnPacket::RegAck {
                topic_id: 9,
                msg_id: 1,
                code: 0
            })
        );
        assert_eq!(
            decode(&[7, 0x0D, 0, 9, 1, 2, 1]),
            Ok(SnPacket::PubAck {
                topic_id: 9,
                msg_id: 258,
                code: 1
            })
        );
        assert_eq!(
            decode(&[0x01, 0, 5, 0x0D, 0]),
            Err("short message type 0x0d (5 bytes)".into())
        );
        assert_eq!(decode(&[2, 0x18]), Ok(SnPacket::Disconnect));
        assert_eq!(decode(&[4, 0x18, 0, 5]), Ok(SnPacket::Disconnect));
        assert_eq!(decode(&[2, 0x17]), Ok(SnPacket::Other(0x17)));
        // Long form.
        assert_eq!(
            decode(&[0x01, 0, 5, 0x05, 2]),
            Ok(SnPacket::ConnAck { code: 2 })
        );
    }

    #[test]
    fn decode_rejects_bad_lengths() {
        assert!(decode(&[]).is_err());
        assert!(decode(&[5, 0x05, 0]).is_err());
        assert!(decode(&[1]).is_err());
        assert!(decode(&[0x01, 0]).is_err());
        assert!(decode(&[0x01, 0, 3]).is_err());
        assert!(decode(&[3, 0x05]).is_err());
        assert!(decode(&[2, 0x05]).is_err());
        assert!(decode(&[0]).is_err());
    }

    #[test]
    fn own_messages_decode() {
        let mut b = Vec::new();
        puback(&mut b, 4, 5, 0);
        assert_eq!(
            decode(&b),
            Ok(SnPacket::PubAck {
                topic_id: 4,
                msg_id: 5,
                code: 0
            })
        );
        b.clear();
        disconnect(&mut b);
        assert_eq!(decode(&b), Ok(SnPacket::Disconnect));
    }
}
