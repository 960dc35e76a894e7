//! Datagram to [`Datagram`]: the header, the forwarder's encapsulation,
//! then each message's fields (MQTT-SN 1.2 §5.2-5.5).

use super::msg_type as t;
use super::{DecodeError, LONG_LENGTH_MARKER};
use crate::mqttsn::packet::{
    Datagram, Flags, Forwarded, Packet, ReturnCode, SubscribeTopic, TopicIdType,
};

/// Decodes one received datagram: a message, or a forwarder's
/// encapsulation of one.
///
/// The encapsulation's own Length counts only its header (§5.5), so there
/// the encapsulated message's Length must cover the rest of the datagram.
pub(crate) fn decode(datagram: &[u8]) -> Result<Datagram, DecodeError> {
    let header = read_header(datagram)?;
    if header.msg_type != t::ENCAPSULATED {
        return Ok(Datagram {
            forwarded: None,
            packet: decode_filling(header, datagram)?,
        });
    }

    // §5.5 gives the encapsulation a one-octet Length; a 3-byte one would
    // also let a node id exceed what `encode_forwarded` can write back.
    if header.fields_at != 2 || header.length < 3 {
        return Err(DecodeError::BadLength {
            message: "encapsulation",
            length: header.length,
        });
    }
    if datagram.len() < header.length {
        return Err(DecodeError::Truncated {
            message: "encapsulation",
            field: "Wireless Node Id",
        });
    }
    let (encapsulation, inner) = datagram.split_at(header.length);
    let [_, _, ctrl, ref node_id @ ..] = *encapsulation else {
        return Err(DecodeError::Truncated {
            message: "encapsulation",
            field: "Ctrl",
        });
    };
    let node_id = node_id.to_vec();
    let inner_header = read_header(inner)?;
    if inner_header.msg_type == t::ENCAPSULATED {
        return Err(DecodeError::NestedEncapsulation);
    }
    Ok(Datagram {
        forwarded: Some(Forwarded { ctrl, node_id }),
        packet: decode_filling(inner_header, inner)?,
    })
}

/// Decodes the message that `bytes` hold, whose header is `header`: its
/// Length must be exactly `bytes`' size.
fn decode_filling(header: Header, bytes: &[u8]) -> Result<Packet, DecodeError> {
    match bytes.get(header.fields_at..) {
        Some(fields) if header.length == bytes.len() => decode_message(header, fields),
        _ => Err(DecodeError::LengthMismatch {
            declared: header.length,
            actual: bytes.len(),
        }),
    }
}

/// The Length and MsgType fields of a message.
#[derive(Clone, Copy)]
struct Header {
    /// What the Length field says: the whole message, header included
    /// (for an encapsulation: its header only).
    length: usize,
    /// The MsgType.
    msg_type: u8,
    /// Where the fields after MsgType start: 2, or 4 after a 3-byte Length.
    fields_at: usize,
}

/// Reads Length (one byte, or 0x01 and a big-endian u16) and MsgType.
fn read_header(bytes: &[u8]) -> Result<Header, DecodeError> {
    let truncated = |field| DecodeError::Truncated {
        message: "datagram",
        field,
    };
    let first = *bytes.first().ok_or_else(|| truncated("Length"))?;
    let (length, type_at) = if first == LONG_LENGTH_MARKER {
        match bytes.get(1..3) {
            Some(&[high, low]) => (usize::from(u16::from_be_bytes([high, low])), 3),
            _ => return Err(truncated("Length")),
        }
    } else {
        (usize::from(first), 1)
    };
    let msg_type = *bytes.get(type_at).ok_or_else(|| truncated("MsgType"))?;
    Ok(Header {
        length,
        msg_type,
        fields_at: type_at + 1,
    })
}

/// The fields of one message, read front to back; each read names the
/// field it wanted, so that a truncation error says where it struck.
struct Fields<'a> {
    /// The message's name, for errors.
    message: &'static str,
    /// What is left to read.
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    /// One byte.
    fn u8(&mut self, field: &'static str) -> Result<u8, DecodeError> {
        let (&byte, rest) = self.rest.split_first().ok_or(DecodeError::Truncated {
            message: self.message,
            field,
        })?;
        self.rest = rest;
        Ok(byte)
    }

    /// A big-endian u16 (§5.1: all two-byte fields are big-endian).
    fn u16(&mut self, field: &'static str) -> Result<u16, DecodeError> {
        match *self.rest {
            [high, low, ref rest @ ..] => {
                self.rest = rest;
                Ok(u16::from_be_bytes([high, low]))
            }
            _ => Err(DecodeError::Truncated {
                message: self.message,
                field,
            }),
        }
    }

    /// The flags byte.
    fn flags(&mut self) -> Result<Flags, DecodeError> {
        Flags::from_byte(self.u8("Flags")?)
    }

    /// A ReturnCode byte.
    fn return_code(&mut self) -> Result<ReturnCode, DecodeError> {
        ReturnCode::from_byte(self.u8("ReturnCode")?)
    }

    /// The variable-length field that ends every message that has one.
    fn rest(&mut self) -> Vec<u8> {
        std::mem::take(&mut self.rest).to_vec()
    }
}

/// The name of a message type, for errors.
fn name(msg_type: u8) -> &'static str {
    match msg_type {
        t::ADVERTISE => "ADVERTISE",
        t::SEARCHGW => "SEARCHGW",
        t::GWINFO => "GWINFO",
        t::CONNECT => "CONNECT",
        t::CONNACK => "CONNACK",
        t::WILLTOPICREQ => "WILLTOPICREQ",
        t::WILLTOPIC => "WILLTOPIC",
        t::WILLMSGREQ => "WILLMSGREQ",
        t::WILLMSG => "WILLMSG",
        t::REGISTER => "REGISTER",
        t::REGACK => "REGACK",
        t::PUBLISH => "PUBLISH",
        t::PUBACK => "PUBACK",
        t::PUBCOMP => "PUBCOMP",
        t::PUBREC => "PUBREC",
        t::PUBREL => "PUBREL",
        t::SUBSCRIBE => "SUBSCRIBE",
        t::SUBACK => "SUBACK",
        t::UNSUBSCRIBE => "UNSUBSCRIBE",
        t::UNSUBACK => "UNSUBACK",
        t::PINGREQ => "PINGREQ",
        t::PINGRESP => "PINGRESP",
        t::DISCONNECT => "DISCONNECT",
        t::WILLTOPICUPD => "WILLTOPICUPD",
        t::WILLTOPICRESP => "WILLTOPICRESP",
        t::WILLMSGUPD => "WILLMSGUPD",
        t::WILLMSGRESP => "WILLMSGRESP",
        _ => "message",
    }
}

/// The size of the fields (after MsgType) of a message whose size the
/// specification fixes; `None` for the others.
fn fixed_size(msg_type: u8) -> Option<usize> {
    match msg_type {
        t::ADVERTISE => Some(3),
        t::SEARCHGW | t::CONNACK | t::WILLTOPICRESP | t::WILLMSGRESP => Some(1),
        t::WILLTOPICREQ | t::WILLMSGREQ | t::PINGRESP => Some(0),
        t::REGACK | t::PUBACK => Some(5),
        t::PUBCOMP | t::PUBREC | t::PUBREL | t::UNSUBACK => Some(2),
        t::SUBACK => Some(6),
        _ => None,
    }
}

/// Decodes a message's fields, `fields` being everything after MsgType
/// (its Length already checked against the datagram).
fn decode_message(header: Header, fields: &[u8]) -> Result<Packet, DecodeError> {
    let msg_type = header.msg_type;
    let message = name(msg_type);
    if fixed_size(msg_type).is_some_and(|size| size != fields.len()) {
        return Err(DecodeError::BadLength {
            message,
            length: header.length,
        });
    }
    let mut f = Fields {
        message,
        rest: fields,
    };
    let packet = match msg_type {
        t::ADVERTISE => Packet::Advertise {
            gw_id: f.u8("GwId")?,
            duration: f.u16("Duration")?,
        },
        t::SEARCHGW => Packet::SearchGw {
            radius: f.u8("Radius")?,
        },
        t::GWINFO => Packet::GwInfo {
            gw_id: f.u8("GwId")?,
            gw_add: f.rest(),
        },
        t::CONNECT => {
            let flags = f.flags()?;
            let protocol_id = f.u8("ProtocolId")?;
            if protocol_id != 0x01 {
                return Err(DecodeError::Protocol(protocol_id));
            }
            Packet::Connect {
                flags,
                protocol_id,
                duration: f.u16("Duration")?,
                client_id: f.rest(),
            }
        }
        t::CONNACK => Packet::ConnAck {
            return_code: f.return_code()?,
        },
        t::WILLTOPICREQ => Packet::WillTopicReq,
        t::WILLTOPIC => Packet::WillTopic {
            will: decode_will_topic(&mut f)?,
        },
        t::WILLMSGREQ => Packet::WillMsgReq,
        t::WILLMSG => Packet::WillMsg { message: f.rest() },
        t::REGISTER => Packet::Register {
            topic_id: f.u16("TopicId")?,
            msg_id: f.u16("MsgId")?,
            topic_name: f.rest(),
        },
        t::REGACK => Packet::RegAck {
            topic_id: f.u16("TopicId")?,
            msg_id: f.u16("MsgId")?,
            return_code: f.return_code()?,
        },
        t::PUBLISH => Packet::Publish {
            flags: f.flags()?,
            topic_id: f.u16("TopicId")?,
            msg_id: f.u16("MsgId")?,
            data: f.rest(),
        },
        t::PUBACK => Packet::PubAck {
            topic_id: f.u16("TopicId")?,
            msg_id: f.u16("MsgId")?,
            return_code: f.return_code()?,
        },
        t::PUBCOMP => Packet::PubComp {
            msg_id: f.u16("MsgId")?,
        },
        t::PUBREC => Packet::PubRec {
            msg_id: f.u16("MsgId")?,
        },
        t::PUBREL => Packet::PubRel {
            msg_id: f.u16("MsgId")?,
        },
        t::SUBSCRIBE => {
            let (flags, msg_id, topic) = decode_subscription(header, &mut f)?;
            Packet::Subscribe {
                flags,
                msg_id,
                topic,
            }
        }
        t::SUBACK => Packet::SubAck {
            flags: f.flags()?,
            topic_id: f.u16("TopicId")?,
            msg_id: f.u16("MsgId")?,
            return_code: f.return_code()?,
        },
        t::UNSUBSCRIBE => {
            let (flags, msg_id, topic) = decode_subscription(header, &mut f)?;
            Packet::Unsubscribe {
                flags,
                msg_id,
                topic,
            }
        }
        t::UNSUBACK => Packet::UnsubAck {
            msg_id: f.u16("MsgId")?,
        },
        t::PINGREQ => Packet::PingReq {
            client_id: Some(f.rest()).filter(|id| !id.is_empty()),
        },
        t::PINGRESP => Packet::PingResp,
        t::DISCONNECT => Packet::Disconnect {
            duration: match fields.len() {
                0 => None,
                2 => Some(f.u16("Duration")?),
                _ => {
                    return Err(DecodeError::BadLength {
                        message,
                        length: header.length,
                    })
                }
            },
        },
        t::WILLTOPICUPD => Packet::WillTopicUpd {
            will: decode_will_topic(&mut f)?,
        },
        t::WILLTOPICRESP => Packet::WillTopicResp {
            return_code: f.return_code()?,
        },
        t::WILLMSGUPD => Packet::WillMsgUpd { message: f.rest() },
        t::WILLMSGRESP => Packet::WillMsgResp {
            return_code: f.return_code()?,
        },
        other => return Err(DecodeError::UnknownType(other)),
    };
    Ok(packet)
}

/// WILLTOPIC / WILLTOPICUPD: flags and topic, or nothing at all, which
/// deletes the will (§5.4.7, §5.4.23).
fn decode_will_topic(f: &mut Fields<'_>) -> Result<Option<(Flags, Vec<u8>)>, DecodeError> {
    if f.rest.is_empty() {
        return Ok(None);
    }
    let flags = f.flags()?;
    Ok(Some((flags, f.rest())))
}

/// SUBSCRIBE / UNSUBSCRIBE: flags, MsgId, then a topic whose form the
/// TopicIdType says (§5.4.15: a name for 0, two bytes for 1 and 2).
fn decode_subscription(
    header: Header,
    f: &mut Fields<'_>,
) -> Result<(Flags, u16, SubscribeTopic), DecodeError> {
    let flags = f.flags()?;
    let msg_id = f.u16("MsgId")?;
    let topic = match flags.topic_id_type {
        TopicIdType::Normal => SubscribeTopic::Name(f.rest()),
        two_bytes => {
            let [high, low] = *f.rest else {
                return Err(DecodeError::BadLength {
                    message: f.message,
                    length: header.length,
                });
            };
            if two_bytes == TopicIdType::Predefined {
                SubscribeTopic::Predefined(u16::from_be_bytes([high, low]))
            } else {
                SubscribeTopic::Short([high, low])
            }
        }
    };
    Ok((flags, msg_id, topic))
}
