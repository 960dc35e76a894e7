//! Decoding and encoding errors.
//!
//! Every [`DecodeError`] means the peer broke the byte format of its
//! protocol: the receiver closes the network connection. Before closing, the
//! broker answers [`DecodeError::UnsupportedProtocolLevel`] with CONNACK
//! (0x01, or 0x84 in MQTT 5 [MQTT-3.1.2-2]) and tells an MQTT 5 client why
//! with a DISCONNECT carrying [`DecodeError::reason_code`].

/// Why bytes from a peer are not a valid packet.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The remaining length has a continuation bit on its 4th byte: it would
    /// need 5 or more bytes (MQTT 3.1.1 §2.2.3).
    #[error("malformed remaining length: more than 4 bytes")]
    MalformedRemainingLength,
    /// The packet (fixed header + remaining length) is larger than the
    /// configured maximum. Detected as soon as the remaining length is read.
    #[error("packet of {size} bytes exceeds the maximum of {max} bytes")]
    PacketTooLarge {
        /// Total size the packet declares, fixed header included.
        size: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The control packet type is 0 or 15 (reserved).
    #[error("invalid control packet type {0}")]
    InvalidPacketType(u8),
    /// Fixed header flags not allowed for the packet type [MQTT-2.2.2-1],
    /// [MQTT-2.2.2-2], or DUP set on a QoS 0 PUBLISH [MQTT-3.3.1-2].
    #[error("invalid fixed header flags {flags:#06b} for packet type {packet_type}")]
    InvalidFlags {
        /// The control packet type (1..=14).
        packet_type: u8,
        /// The low nibble of the first byte.
        flags: u8,
    },
    /// A PUBLISH with QoS 3 [MQTT-3.3.1-4], or a SUBSCRIBE requested-QoS byte
    /// with reserved bits set or a value above 2 [MQTT-3-8.3-4]. Holds the
    /// offending value.
    #[error("invalid QoS value {0:#04x}")]
    InvalidQoS(u8),
    /// A string is not well-formed UTF-8 (this includes surrogates and
    /// overlong forms) [MQTT-1.5.3-1].
    #[error("string is not valid UTF-8")]
    InvalidUtf8,
    /// A string contains U+0000 [MQTT-1.5.3-2].
    #[error("string contains the null character U+0000")]
    NullCharacter,
    /// A packet identifier is 0 where one is required [MQTT-2.3.1-1].
    #[error("packet identifier 0 is not allowed")]
    ZeroPacketId,
    /// SUBSCRIBE without any topic filter [MQTT-3.8.3-3].
    #[error("SUBSCRIBE without any topic filter")]
    EmptySubscription,
    /// UNSUBSCRIBE without any topic filter [MQTT-3.10.3-2].
    #[error("UNSUBSCRIBE without any topic filter")]
    EmptyUnsubscription,
    /// SUBACK without any return code (it answers a SUBSCRIBE, which has at
    /// least one filter).
    #[error("SUBACK without any return code")]
    EmptySubAck,
    /// CONNECT whose protocol name is neither `MQTT` nor `MQIsdp`
    /// [MQTT-3.1.2-1].
    #[error("unknown protocol name in CONNECT")]
    InvalidProtocolName,
    /// CONNECT with a known protocol name but an unsupported level: the
    /// server answers CONNACK 0x01 and closes [MQTT-3.1.2-2].
    #[error("unsupported protocol level {0}")]
    UnsupportedProtocolLevel(u8),
    /// CONNECT flags break a rule: reserved bit set [MQTT-3.1.2-3], will QoS
    /// or will retain without the will flag [MQTT-3.1.2-13] [MQTT-3.1.2-15],
    /// will QoS 3 [MQTT-3.1.2-14], or password without user name
    /// [MQTT-3.1.2-22]. Holds the flags byte.
    #[error("invalid CONNECT flags {0:#010b}")]
    InvalidConnectFlags(u8),
    /// CONNACK acknowledge flags with reserved bits 7-1 set (§3.2.2.1),
    /// or session present with a non-zero return code [MQTT-3.2.2-4].
    #[error("invalid CONNACK flags {0:#010b}")]
    InvalidConnAckFlags(u8),
    /// CONNACK return code above 5 (reserved).
    #[error("invalid CONNACK return code {0}")]
    InvalidConnectReturnCode(u8),
    /// SUBACK return code other than 0x00, 0x01, 0x02, 0x80 [MQTT-3.9.3-2].
    #[error("invalid SUBACK return code {0:#04x}")]
    InvalidSubAckCode(u8),
    /// A field runs past the end of the packet's remaining length.
    #[error("packet truncated: a field runs past the remaining length")]
    Truncated,
    /// Bytes are left in the packet after its last field.
    #[error("unexpected bytes after the last field of the packet")]
    TrailingBytes,
    /// A property identifier that is unknown or not allowed in this packet
    /// (MQTT 5.0 §2.2.2.2: a Malformed Packet).
    #[error("property {0:#04x} is not allowed in this packet")]
    InvalidProperty(u8),
    /// A property that may appear once appears again (a Protocol Error).
    #[error("property {0:#04x} appears more than once")]
    DuplicateProperty(u8),
    /// A property value the standard forbids: 0 for Receive Maximum,
    /// Maximum Packet Size or a Subscription Identifier, or a yes-or-no
    /// byte other than 0 or 1 (a Protocol Error).
    #[error("invalid value for property {0:#04x}")]
    InvalidPropertyValue(u8),
    /// The property length is not a valid variable byte integer.
    #[error("malformed property length")]
    MalformedPropertyLength,
    /// A variable byte integer (a Subscription Identifier) longer than
    /// 4 bytes.
    #[error("malformed variable byte integer")]
    MalformedVarInt,
    /// A reason code the packet may not carry (MQTT 5.0 §2.4).
    #[error("reason code {code:#04x} is not allowed in packet type {packet_type}")]
    InvalidReasonCode {
        /// The control packet type.
        packet_type: u8,
        /// The code.
        code: u8,
    },
    /// SUBSCRIBE options with reserved bits 6-7 set [MQTT-3.8.3-5].
    #[error("reserved bits set in subscription options {0:#010b}")]
    ReservedSubscriptionOptions(u8),
    /// SUBSCRIBE options with Retain Handling 3 (a Protocol Error,
    /// §3.8.3.1).
    #[error("retain handling 3 in subscription options")]
    InvalidRetainHandling,
}

impl DecodeError {
    /// The MQTT 5 reason code a DISCONNECT (or CONNACK) reports for this
    /// error: 0x95 for a packet too large, 0x82 Protocol Error where the
    /// bytes parse but break a rule, 0x81 Malformed Packet otherwise.
    pub fn reason_code(&self) -> super::ReasonCode {
        use super::ReasonCode;
        match self {
            DecodeError::PacketTooLarge { .. } => ReasonCode::PACKET_TOO_LARGE,
            DecodeError::UnsupportedProtocolLevel(_) => ReasonCode::UNSUPPORTED_PROTOCOL_VERSION,
            DecodeError::DuplicateProperty(_)
            | DecodeError::InvalidPropertyValue(_)
            | DecodeError::InvalidReasonCode { .. }
            | DecodeError::InvalidRetainHandling
            | DecodeError::ZeroPacketId
            | DecodeError::EmptySubscription
            | DecodeError::EmptyUnsubscription => ReasonCode::PROTOCOL_ERROR,
            _ => ReasonCode::MALFORMED_PACKET,
        }
    }
}

/// Why a packet cannot be encoded.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum EncodeError {
    /// A string or binary field is longer than 65 535 bytes.
    #[error("field longer than 65535 bytes")]
    FieldTooLong,
    /// The packet is longer than the protocol's 268 435 455-byte remaining length.
    #[error("packet too large")]
    PacketTooLarge,
    /// A PUBLISH whose `packet_id` is absent with QoS 1 or 2, or present with
    /// QoS 0.
    #[error("PUBLISH packet identifier must be present exactly when QoS > 0")]
    PacketIdMismatch,
}
