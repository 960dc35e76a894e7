//! Decoding and encoding errors.
//!
//! Every [`DecodeError`] means the peer broke the byte format of MQTT 3.1.1:
//! the receiver closes the network connection. The only exception the broker
//! answers before closing is [`DecodeError::UnsupportedProtocolLevel`]
//! (CONNACK 0x01, [MQTT-3.1.2-2]).

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
