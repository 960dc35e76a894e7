//! MQTT 3.1 / 3.1.1 / 5.0 packets to bytes and back. No I/O.
//!
//! [`decode`] reads one packet from the front of a buffer: `Ok(None)` means
//! "not enough bytes yet", an error means the peer sent something malformed
//! and its connection must close (after CONNACK 0x01 for
//! [`DecodeError::UnsupportedProtocolLevel`]). Decoded packets borrow from the
//! buffer.
//!
//! [`encode`] appends any packet (client or server side). The broker's hot
//! path uses the infallible helpers [`encode_publish`], [`encode_ack`],
//! [`encode_connack`], [`encode_suback`] and [`encode_pingresp`].
//!
//! # What the codec checks, and what it leaves to the broker
//!
//! The decoder enforces every byte-format rule of MQTT 3.1.1 and 5.0
//! (for 5.0 also every property: known, allowed in its packet, not
//! repeated unless it may be, of its type, and with an allowed value; and
//! reason codes from each packet's list): packet types
//! and reserved flags, PUBLISH QoS 3 and DUP on QoS 0, the remaining length
//! (at most 4 bytes; non-minimal encodings accepted) and the maximum packet
//! size, UTF-8 strings (well-formed, no U+0000), non-zero packet
//! identifiers, CONNECT's protocol name / level / flags, SUBSCRIBE QoS bytes
//! and non-empty filter lists, CONNACK / SUBACK codes, and that every field
//! lies within the remaining length with no byte left over (PUBLISH's payload
//! is whatever follows its variable header).
//!
//! It does not check what depends on the broker's policy or state: topic
//! names and filters are only UTF-8 validated (empty strings and wildcard
//! placement are for [`crate::topic`]), client identifiers may be empty or
//! long, and any packet type is decoded regardless of who may send it when
//! (a server receiving CONNACK, a second CONNECT...).

mod decode;
mod decode_connect;
mod encode;
mod encode_fast;
mod error;
mod packet;
mod properties;
mod properties_builder;
mod raw_packet;
mod reader;
mod reason;
mod varint;

pub use decode::{decode, decode_as, peek_packet_len, peek_publish_topic};
pub use encode::{encode, encode_as};
pub use encode_fast::{
    ack_bytes, encode_ack, encode_ack_v5, encode_connack, encode_pingresp, encode_publish,
    encode_publish_header, encode_publish_header_v5, encode_publish_v5, encode_suback,
    properties_wire_len, publish_len, publish_len_v5, AckKind, ACK_LEN, DISCONNECT, PINGREQ,
    PINGRESP,
};
pub use error::{DecodeError, EncodeError};
pub use packet::*;
pub use properties::{
    id as property, Properties, PropertyContext, PropertyIter, PropertyValue,
    MAX_SUBSCRIPTION_IDENTIFIER,
};
pub use properties_builder::PropertiesBuilder;
pub use raw_packet::RawPacket;
pub use reason::{ReasonCode, ReasonContext};
pub use varint::{remaining_length_len, MAX_REMAINING_LENGTH};
