//! [`Packet`] to datagram bytes, directly or through a forwarder.

use super::msg_type as t;
use super::LONG_LENGTH_MARKER;
use crate::mqttsn::packet::{Flags, Forwarded, Packet, SubscribeTopic, TopicIdType};

/// The largest message the Length field can express (its 3-byte form is
/// a u16). The gateway checks [`encoded_len`] against it, and against its
/// datagram size, before encoding: [`encode`] cannot shorten a message.
pub(crate) const MAX_MESSAGE_LEN: usize = u16::MAX as usize;

/// The longest one-byte Length; longer messages take the 3-byte form.
const MAX_SHORT_LEN: usize = 255;

/// The longest Wireless Node Id: the encapsulation's Length is one byte
/// (§5.5) and counts itself, MsgType and Ctrl.
const MAX_NODE_ID_LEN: usize = MAX_SHORT_LEN - 3;

/// The size of `packet` encoded, header included.
pub(crate) fn encoded_len(packet: &Packet) -> usize {
    let fields = fields_len(packet);
    if 2 + fields <= MAX_SHORT_LEN {
        2 + fields
    } else {
        4 + fields
    }
}

/// Appends `packet` as a datagram to `out`, with the one-byte Length when
/// the message fits in 255 bytes and the 3-byte one otherwise.
///
/// A message longer than [`MAX_MESSAGE_LEN`] cannot be expressed: nothing
/// is appended (and debug builds panic), since sending a cut message would
/// hand the client other data than the broker's.
pub(crate) fn encode(packet: &Packet, out: &mut Vec<u8>) {
    let length = encoded_len(packet);
    debug_assert!(
        length <= MAX_MESSAGE_LEN,
        "MQTT-SN message of {length} bytes"
    );
    if length > MAX_MESSAGE_LEN {
        return;
    }
    out.reserve(length);
    if length <= MAX_SHORT_LEN {
        out.push(length as u8);
    } else {
        out.push(LONG_LENGTH_MARKER);
        out.extend_from_slice(&(length as u16).to_be_bytes());
    }
    out.push(msg_type(packet));
    encode_fields(packet, out);
}

/// Appends `packet` inside a forwarder's encapsulation (§5.5), for a client
/// whose message came through that forwarder.
///
/// A Wireless Node Id longer than 252 bytes does not fit the one-byte
/// Length; decoded ones never are, and for others nothing is appended
/// (and debug builds panic), as for an oversized [`encode`].
pub(crate) fn encode_forwarded(forwarded: &Forwarded, packet: &Packet, out: &mut Vec<u8>) {
    let node_id = &forwarded.node_id;
    debug_assert!(
        node_id.len() <= MAX_NODE_ID_LEN,
        "Wireless Node Id of {} bytes",
        node_id.len()
    );
    if node_id.len() > MAX_NODE_ID_LEN {
        return;
    }
    let length = encoded_len(packet);
    debug_assert!(
        length <= MAX_MESSAGE_LEN,
        "MQTT-SN message of {length} bytes"
    );
    if length > MAX_MESSAGE_LEN {
        // No encapsulation header without the message it announces.
        return;
    }
    out.push((3 + node_id.len()) as u8);
    out.push(t::ENCAPSULATED);
    out.push(forwarded.ctrl);
    out.extend_from_slice(node_id);
    encode(packet, out);
}

/// The MsgType of `packet`.
fn msg_type(packet: &Packet) -> u8 {
    match packet {
        Packet::Advertise { .. } => t::ADVERTISE,
        Packet::SearchGw { .. } => t::SEARCHGW,
        Packet::GwInfo { .. } => t::GWINFO,
        Packet::Connect { .. } => t::CONNECT,
        Packet::ConnAck { .. } => t::CONNACK,
        Packet::WillTopicReq => t::WILLTOPICREQ,
        Packet::WillTopic { .. } => t::WILLTOPIC,
        Packet::WillMsgReq => t::WILLMSGREQ,
        Packet::WillMsg { .. } => t::WILLMSG,
        Packet::Register { .. } => t::REGISTER,
        Packet::RegAck { .. } => t::REGACK,
        Packet::Publish { .. } => t::PUBLISH,
        Packet::PubAck { .. } => t::PUBACK,
        Packet::PubComp { .. } => t::PUBCOMP,
        Packet::PubRec { .. } => t::PUBREC,
        Packet::PubRel { .. } => t::PUBREL,
        Packet::Subscribe { .. } => t::SUBSCRIBE,
        Packet::SubAck { .. } => t::SUBACK,
        Packet::Unsubscribe { .. } => t::UNSUBSCRIBE,
        Packet::UnsubAck { .. } => t::UNSUBACK,
        Packet::PingReq { .. } => t::PINGREQ,
        Packet::PingResp => t::PINGRESP,
        Packet::Disconnect { .. } => t::DISCONNECT,
        Packet::WillTopicUpd { .. } => t::WILLTOPICUPD,
        Packet::WillTopicResp { .. } => t::WILLTOPICRESP,
        Packet::WillMsgUpd { .. } => t::WILLMSGUPD,
        Packet::WillMsgResp { .. } => t::WILLMSGRESP,
    }
}

/// The size of the fields after MsgType; must agree with `encode_fields`
/// (the round-trip tests compare the two for every message type).
fn fields_len(packet: &Packet) -> usize {
    match packet {
        Packet::WillTopicReq | Packet::WillMsgReq | Packet::PingResp => 0,
        Packet::SearchGw { .. }
        | Packet::ConnAck { .. }
        | Packet::WillTopicResp { .. }
        | Packet::WillMsgResp { .. } => 1,
        Packet::PubComp { .. } | Packet::PubRec { .. } | Packet::PubRel { .. } => 2,
        Packet::UnsubAck { .. } => 2,
        Packet::Advertise { .. } => 3,
        Packet::RegAck { .. } | Packet::PubAck { .. } => 5,
        Packet::SubAck { .. } => 6,
        Packet::GwInfo { gw_add, .. } => 1 + gw_add.len(),
        Packet::Connect { client_id, .. } => 4 + client_id.len(),
        Packet::WillTopic { will } | Packet::WillTopicUpd { will } => {
            will.as_ref().map_or(0, |(_, topic)| 1 + topic.len())
        }
        Packet::WillMsg { message } | Packet::WillMsgUpd { message } => message.len(),
        Packet::Register { topic_name, .. } => 4 + topic_name.len(),
        Packet::Publish { data, .. } => 5 + data.len(),
        Packet::Subscribe { topic, .. } | Packet::Unsubscribe { topic, .. } => {
            3 + match topic {
                SubscribeTopic::Name(name) => name.len(),
                SubscribeTopic::Predefined(_) | SubscribeTopic::Short(_) => 2,
            }
        }
        Packet::PingReq { client_id } => client_id.as_ref().map_or(0, Vec::len),
        Packet::Disconnect { duration } => duration.map_or(0, |_| 2),
    }
}

/// Appends the fields after MsgType.
fn encode_fields(packet: &Packet, out: &mut Vec<u8>) {
    let u16 = |out: &mut Vec<u8>, value: u16| out.extend_from_slice(&value.to_be_bytes());
    match packet {
        Packet::WillTopicReq | Packet::WillMsgReq | Packet::PingResp => {}
        Packet::Advertise { gw_id, duration } => {
            out.push(*gw_id);
            u16(out, *duration);
        }
        Packet::SearchGw { radius } => out.push(*radius),
        Packet::GwInfo { gw_id, gw_add } => {
            out.push(*gw_id);
            out.extend_from_slice(gw_add);
        }
        Packet::Connect {
            flags,
            protocol_id,
            duration,
            client_id,
        } => {
            out.push(flags.to_byte());
            out.push(*protocol_id);
            u16(out, *duration);
            out.extend_from_slice(client_id);
        }
        Packet::ConnAck { return_code }
        | Packet::WillTopicResp { return_code }
        | Packet::WillMsgResp { return_code } => out.push(return_code.to_byte()),
        Packet::WillTopic { will } | Packet::WillTopicUpd { will } => {
            if let Some((flags, topic)) = will {
                out.push(flags.to_byte());
                out.extend_from_slice(topic);
            }
        }
        Packet::WillMsg { message } | Packet::WillMsgUpd { message } => {
            out.extend_from_slice(message)
        }
        Packet::Register {
            topic_id,
            msg_id,
            topic_name,
        } => {
            u16(out, *topic_id);
            u16(out, *msg_id);
            out.extend_from_slice(topic_name);
        }
        Packet::RegAck {
            topic_id,
            msg_id,
            return_code,
        }
        | Packet::PubAck {
            topic_id,
            msg_id,
            return_code,
        } => {
            u16(out, *topic_id);
            u16(out, *msg_id);
            out.push(return_code.to_byte());
        }
        Packet::Publish {
            flags,
            topic_id,
            msg_id,
            data,
        } => {
            out.push(flags.to_byte());
            u16(out, *topic_id);
            u16(out, *msg_id);
            out.extend_from_slice(data);
        }
        Packet::PubComp { msg_id }
        | Packet::PubRec { msg_id }
        | Packet::PubRel { msg_id }
        | Packet::UnsubAck { msg_id } => u16(out, *msg_id),
        Packet::Subscribe {
            flags,
            msg_id,
            topic,
        }
        | Packet::Unsubscribe {
            flags,
            msg_id,
            topic,
        } => {
            // The topic's form decides the TopicIdType, so that the bytes
            // always say how to read the topic that follows.
            let topic_id_type = match topic {
                SubscribeTopic::Name(_) => TopicIdType::Normal,
                SubscribeTopic::Predefined(_) => TopicIdType::Predefined,
                SubscribeTopic::Short(_) => TopicIdType::Short,
            };
            out.push(
                Flags {
                    topic_id_type,
                    ..*flags
                }
                .to_byte(),
            );
            u16(out, *msg_id);
            match topic {
                SubscribeTopic::Name(name) => out.extend_from_slice(name),
                SubscribeTopic::Predefined(id) => u16(out, *id),
                SubscribeTopic::Short(name) => out.extend_from_slice(name),
            }
        }
        Packet::SubAck {
            flags,
            topic_id,
            msg_id,
            return_code,
        } => {
            out.push(flags.to_byte());
            u16(out, *topic_id);
            u16(out, *msg_id);
            out.push(return_code.to_byte());
        }
        Packet::PingReq { client_id } => {
            if let Some(client_id) = client_id {
                out.extend_from_slice(client_id);
            }
        }
        Packet::Disconnect { duration } => {
            if let Some(duration) = duration {
                u16(out, *duration);
            }
        }
    }
}
