//! MQTT-SN 1.2 datagrams: encoding and decoding (see `packet.rs`).
//!
//! A UDP datagram carries exactly one message (MQTT-SN 1.2 §5.2), so the
//! codec works on whole datagrams, not on a stream: the Length field must
//! agree with the datagram's size, which catches truncated and padded
//! datagrams that would otherwise decode to something else.
//!
//! Strings (client ids, topic names) stay bytes: whether they are valid
//! UTF-8 is the gateway's decision, answered with a return code.

mod decode;
mod encode;
mod error;

pub(crate) use decode::decode;
pub(crate) use encode::{encode, encode_forwarded, encoded_len, MAX_MESSAGE_LEN};
pub(crate) use error::DecodeError;

use super::packet::{Flags, ReturnCode, SnQos, TopicIdType};

/// The MsgType values (MQTT-SN 1.2 §5.2.2, table 3); the gaps are
/// reserved.
mod msg_type {
    /// ADVERTISE.
    pub(super) const ADVERTISE: u8 = 0x00;
    /// SEARCHGW.
    pub(super) const SEARCHGW: u8 = 0x01;
    /// GWINFO.
    pub(super) const GWINFO: u8 = 0x02;
    /// CONNECT.
    pub(super) const CONNECT: u8 = 0x04;
    /// CONNACK.
    pub(super) const CONNACK: u8 = 0x05;
    /// WILLTOPICREQ.
    pub(super) const WILLTOPICREQ: u8 = 0x06;
    /// WILLTOPIC.
    pub(super) const WILLTOPIC: u8 = 0x07;
    /// WILLMSGREQ.
    pub(super) const WILLMSGREQ: u8 = 0x08;
    /// WILLMSG.
    pub(super) const WILLMSG: u8 = 0x09;
    /// REGISTER.
    pub(super) const REGISTER: u8 = 0x0A;
    /// REGACK.
    pub(super) const REGACK: u8 = 0x0B;
    /// PUBLISH.
    pub(super) const PUBLISH: u8 = 0x0C;
    /// PUBACK.
    pub(super) const PUBACK: u8 = 0x0D;
    /// PUBCOMP.
    pub(super) const PUBCOMP: u8 = 0x0E;
    /// PUBREC.
    pub(super) const PUBREC: u8 = 0x0F;
    /// PUBREL.
    pub(super) const PUBREL: u8 = 0x10;
    /// SUBSCRIBE.
    pub(super) const SUBSCRIBE: u8 = 0x12;
    /// SUBACK.
    pub(super) const SUBACK: u8 = 0x13;
    /// UNSUBSCRIBE.
    pub(super) const UNSUBSCRIBE: u8 = 0x14;
    /// UNSUBACK.
    pub(super) const UNSUBACK: u8 = 0x15;
    /// PINGREQ.
    pub(super) const PINGREQ: u8 = 0x16;
    /// PINGRESP.
    pub(super) const PINGRESP: u8 = 0x17;
    /// DISCONNECT.
    pub(super) const DISCONNECT: u8 = 0x18;
    /// WILLTOPICUPD.
    pub(super) const WILLTOPICUPD: u8 = 0x1A;
    /// WILLTOPICRESP.
    pub(super) const WILLTOPICRESP: u8 = 0x1B;
    /// WILLMSGUPD.
    pub(super) const WILLMSGUPD: u8 = 0x1C;
    /// WILLMSGRESP.
    pub(super) const WILLMSGRESP: u8 = 0x1D;
    /// A forwarder's encapsulation (§5.5).
    pub(super) const ENCAPSULATED: u8 = 0xFE;
}

/// The one-byte Length form holds 2..=255; this value instead announces
/// a 3-byte Length: it, then the total length as a big-endian u16.
const LONG_LENGTH_MARKER: u8 = 0x01;

/// Bit masks of the flags byte (MQTT-SN 1.2 §5.3.4).
mod flag_bits {
    /// DUP.
    pub(super) const DUP: u8 = 0b1000_0000;
    /// Where the QoS sits: bits 6-5.
    pub(super) const QOS_SHIFT: u8 = 5;
    /// Retain.
    pub(super) const RETAIN: u8 = 0b0001_0000;
    /// Will.
    pub(super) const WILL: u8 = 0b0000_1000;
    /// CleanSession.
    pub(super) const CLEAN_SESSION: u8 = 0b0000_0100;
    /// TopicIdType: bits 1-0.
    pub(super) const TOPIC_ID_TYPE: u8 = 0b0000_0011;
}

impl Flags {
    /// Reads the flags byte. TopicIdType 0b11 is reserved and refused in
    /// every message, even those that do not use the field: a client
    /// setting reserved bits is not one whose other fields can be trusted.
    pub(crate) fn from_byte(byte: u8) -> Result<Flags, DecodeError> {
        let qos = match (byte >> flag_bits::QOS_SHIFT) & 0b11 {
            0b00 => SnQos::AtMostOnce,
            0b01 => SnQos::AtLeastOnce,
            0b10 => SnQos::ExactlyOnce,
            _ => SnQos::MinusOne,
        };
        let topic_id_type = match byte & flag_bits::TOPIC_ID_TYPE {
            0b00 => TopicIdType::Normal,
            0b01 => TopicIdType::Predefined,
            0b10 => TopicIdType::Short,
            value => {
                return Err(DecodeError::Reserved {
                    field: "TopicIdType",
                    value,
                })
            }
        };
        Ok(Flags {
            dup: byte & flag_bits::DUP != 0,
            qos,
            retain: byte & flag_bits::RETAIN != 0,
            will: byte & flag_bits::WILL != 0,
            clean_session: byte & flag_bits::CLEAN_SESSION != 0,
            topic_id_type,
        })
    }

    /// The flags byte.
    pub(crate) fn to_byte(self) -> u8 {
        let qos: u8 = match self.qos {
            SnQos::AtMostOnce => 0b00,
            SnQos::AtLeastOnce => 0b01,
            SnQos::ExactlyOnce => 0b10,
            SnQos::MinusOne => 0b11,
        };
        let topic_id_type: u8 = match self.topic_id_type {
            TopicIdType::Normal => 0b00,
            TopicIdType::Predefined => 0b01,
            TopicIdType::Short => 0b10,
        };
        let bit = |on: bool, mask: u8| if on { mask } else { 0 };
        bit(self.dup, flag_bits::DUP)
            | qos << flag_bits::QOS_SHIFT
            | bit(self.retain, flag_bits::RETAIN)
            | bit(self.will, flag_bits::WILL)
            | bit(self.clean_session, flag_bits::CLEAN_SESSION)
            | topic_id_type
    }
}

impl ReturnCode {
    /// Reads a ReturnCode byte; 0x04..=0xFF are reserved.
    pub(crate) fn from_byte(byte: u8) -> Result<ReturnCode, DecodeError> {
        match byte {
            0x00 => Ok(ReturnCode::Accepted),
            0x01 => Ok(ReturnCode::Congestion),
            0x02 => Ok(ReturnCode::InvalidTopicId),
            0x03 => Ok(ReturnCode::NotSupported),
            value => Err(DecodeError::Reserved {
                field: "ReturnCode",
                value,
            }),
        }
    }

    /// The ReturnCode byte.
    pub(crate) fn to_byte(self) -> u8 {
        match self {
            ReturnCode::Accepted => 0x00,
            ReturnCode::Congestion => 0x01,
            ReturnCode::InvalidTopicId => 0x02,
            ReturnCode::NotSupported => 0x03,
        }
    }
}

#[cfg(test)]
mod tests;
