//! [`DecodeError`]: why a datagram is not an MQTT-SN 1.2 message.
//!
//! UDP has no connection to close, so the gateway drops such a datagram;
//! the variants are distinct so that it can count them by kind and log a
//! reason, and answer [`DecodeError::Protocol`] with a CONNACK.

/// Why a datagram is not a valid MQTT-SN 1.2 message.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub(crate) enum DecodeError {
    /// The datagram ends before a field that the message must have.
    #[error("{message} truncated: it ends before its {field}")]
    Truncated {
        /// The message (or "datagram" before its MsgType is known).
        message: &'static str,
        /// The first missing field.
        field: &'static str,
    },
    /// The Length field does not agree with the size of the datagram (or,
    /// inside a forwarder's encapsulation, with what follows its header).
    #[error("Length field says {declared} bytes, but {actual} bytes came")]
    LengthMismatch {
        /// What the Length field says.
        declared: usize,
        /// What there is.
        actual: usize,
    },
    /// A message whose size the specification fixes (or limits to a few
    /// values) came with another one.
    #[error("{message} of {length} bytes: not a length this message can have")]
    BadLength {
        /// The message.
        message: &'static str,
        /// Its length, header included.
        length: usize,
    },
    /// A MsgType that MQTT-SN 1.2 does not define (0x03, 0x11, 0x19,
    /// 0x1E..=0xFD, 0xFF).
    #[error("unknown or reserved MsgType {0:#04x}")]
    UnknownType(u8),
    /// A field holds a value the specification reserves: TopicIdType 0b11,
    /// a ReturnCode above 0x03.
    #[error("reserved {field} value {value:#04x}")]
    Reserved {
        /// The field.
        field: &'static str,
        /// Its value.
        value: u8,
    },
    /// A CONNECT whose ProtocolId is not 0x01 (MQTT-SN 1.2 §5.3.3): the
    /// client speaks another version, which the gateway may answer with
    /// CONNACK "not supported" rather than silence.
    #[error("CONNECT with ProtocolId {0:#04x}: only 0x01 (MQTT-SN 1.2) is supported")]
    Protocol(u8),
    /// A forwarder's encapsulation holding another encapsulation: the
    /// specification has forwarders encapsulate client messages only.
    #[error("an encapsulated message is itself an encapsulation")]
    NestedEncapsulation,
}
