//! MQTT 5 properties (§2.2.2): a validated, borrowed view of a packet's
//! property block (the blocks the broker writes come from
//! `properties_builder`).
//!
//! Decoding checks the whole block once: each identifier is known and
//! allowed in that packet ([`PropertyContext`]), appears at most once
//! unless it may repeat, has a value of its type within the block, and a
//! value the standard allows. [`Properties`] then keeps only the block's
//! bytes (two words, no allocation) and its accessors walk them: a packet
//! without properties costs nothing, and a PUBLISH's properties can be
//! forwarded by copying bytes.

use super::reader::Reader;
use super::varint::{read_remaining_length, remaining_length_len, write_remaining_length};
use super::DecodeError;

/// Property identifiers (MQTT 5.0 table 2-4).
pub mod id {
    /// Payload Format Indicator (byte): PUBLISH, will.
    pub const PAYLOAD_FORMAT_INDICATOR: u8 = 0x01;
    /// Message Expiry Interval (four-byte integer): PUBLISH, will.
    pub const MESSAGE_EXPIRY_INTERVAL: u8 = 0x02;
    /// Content Type (string): PUBLISH, will.
    pub const CONTENT_TYPE: u8 = 0x03;
    /// Response Topic (string): PUBLISH, will.
    pub const RESPONSE_TOPIC: u8 = 0x08;
    /// Correlation Data (binary): PUBLISH, will.
    pub const CORRELATION_DATA: u8 = 0x09;
    /// Subscription Identifier (variable byte integer): PUBLISH, SUBSCRIBE.
    pub const SUBSCRIPTION_IDENTIFIER: u8 = 0x0B;
    /// Session Expiry Interval (four-byte integer): CONNECT, CONNACK, DISCONNECT.
    pub const SESSION_EXPIRY_INTERVAL: u8 = 0x11;
    /// Assigned Client Identifier (string): CONNACK.
    pub const ASSIGNED_CLIENT_IDENTIFIER: u8 = 0x12;
    /// Server Keep Alive (two-byte integer): CONNACK.
    pub const SERVER_KEEP_ALIVE: u8 = 0x13;
    /// Authentication Method (string): CONNECT, CONNACK, AUTH.
    pub const AUTHENTICATION_METHOD: u8 = 0x15;
    /// Authentication Data (binary): CONNECT, CONNACK, AUTH.
    pub const AUTHENTICATION_DATA: u8 = 0x16;
    /// Request Problem Information (byte): CONNECT.
    pub const REQUEST_PROBLEM_INFORMATION: u8 = 0x17;
    /// Will Delay Interval (four-byte integer): will.
    pub const WILL_DELAY_INTERVAL: u8 = 0x18;
    /// Request Response Information (byte): CONNECT.
    pub const REQUEST_RESPONSE_INFORMATION: u8 = 0x19;
    /// Response Information (string): CONNACK.
    pub const RESPONSE_INFORMATION: u8 = 0x1A;
    /// Server Reference (string): CONNACK, DISCONNECT.
    pub const SERVER_REFERENCE: u8 = 0x1C;
    /// Reason String (string): acknowledgements, DISCONNECT, AUTH.
    pub const REASON_STRING: u8 = 0x1F;
    /// Receive Maximum (two-byte integer): CONNECT, CONNACK.
    pub const RECEIVE_MAXIMUM: u8 = 0x21;
    /// Topic Alias Maximum (two-byte integer): CONNECT, CONNACK.
    pub const TOPIC_ALIAS_MAXIMUM: u8 = 0x22;
    /// Topic Alias (two-byte integer): PUBLISH.
    pub const TOPIC_ALIAS: u8 = 0x23;
    /// Maximum QoS (byte): CONNACK.
    pub const MAXIMUM_QOS: u8 = 0x24;
    /// Retain Available (byte): CONNACK.
    pub const RETAIN_AVAILABLE: u8 = 0x25;
    /// User Property (string pair): every packet with properties.
    pub const USER_PROPERTY: u8 = 0x26;
    /// Maximum Packet Size (four-byte integer): CONNECT, CONNACK.
    pub const MAXIMUM_PACKET_SIZE: u8 = 0x27;
    /// Wildcard Subscription Available (byte): CONNACK.
    pub const WILDCARD_SUBSCRIPTION_AVAILABLE: u8 = 0x28;
    /// Subscription Identifier Available (byte): CONNACK.
    pub const SUBSCRIPTION_IDENTIFIER_AVAILABLE: u8 = 0x29;
    /// Shared Subscription Available (byte): CONNACK.
    pub const SHARED_SUBSCRIPTION_AVAILABLE: u8 = 0x2A;
}

/// The largest Subscription Identifier (a variable byte integer).
pub const MAX_SUBSCRIPTION_IDENTIFIER: u32 = 268_435_455;

/// The wire type of a property's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    Byte,
    TwoByte,
    FourByte,
    VarInt,
    Str,
    Binary,
    StrPair,
}

fn kind_of(property: u8) -> Option<Kind> {
    use id::*;
    Some(match property {
        PAYLOAD_FORMAT_INDICATOR
        | REQUEST_PROBLEM_INFORMATION
        | REQUEST_RESPONSE_INFORMATION
        | MAXIMUM_QOS
        | RETAIN_AVAILABLE
        | WILDCARD_SUBSCRIPTION_AVAILABLE
        | SUBSCRIPTION_IDENTIFIER_AVAILABLE
        | SHARED_SUBSCRIPTION_AVAILABLE => Kind::Byte,
        SERVER_KEEP_ALIVE | RECEIVE_MAXIMUM | TOPIC_ALIAS_MAXIMUM | TOPIC_ALIAS => Kind::TwoByte,
        MESSAGE_EXPIRY_INTERVAL
        | SESSION_EXPIRY_INTERVAL
        | WILL_DELAY_INTERVAL
        | MAXIMUM_PACKET_SIZE => Kind::FourByte,
        SUBSCRIPTION_IDENTIFIER => Kind::VarInt,
        CONTENT_TYPE
        | RESPONSE_TOPIC
        | ASSIGNED_CLIENT_IDENTIFIER
        | AUTHENTICATION_METHOD
        | RESPONSE_INFORMATION
        | SERVER_REFERENCE
        | REASON_STRING => Kind::Str,
        CORRELATION_DATA | AUTHENTICATION_DATA => Kind::Binary,
        USER_PROPERTY => Kind::StrPair,
        _ => return None,
    })
}

/// Where a property block is: which identifiers it may hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyContext {
    /// CONNECT's variable header.
    Connect,
    /// The will properties in CONNECT's payload.
    Will,
    /// CONNACK.
    ConnAck,
    /// PUBLISH.
    Publish,
    /// PUBACK, PUBREC, PUBREL and PUBCOMP.
    Ack,
    /// SUBSCRIBE.
    Subscribe,
    /// SUBACK.
    SubAck,
    /// UNSUBSCRIBE.
    Unsubscribe,
    /// UNSUBACK.
    UnsubAck,
    /// DISCONNECT.
    Disconnect,
    /// AUTH.
    Auth,
}

const fn bit(property: u8) -> u64 {
    1 << property
}

impl PropertyContext {
    /// The identifiers allowed here, one bit each (MQTT 5.0 table 2-4).
    const fn allowed(self) -> u64 {
        use id::*;
        let message = bit(PAYLOAD_FORMAT_INDICATOR)
            | bit(MESSAGE_EXPIRY_INTERVAL)
            | bit(CONTENT_TYPE)
            | bit(RESPONSE_TOPIC)
            | bit(CORRELATION_DATA)
            | bit(USER_PROPERTY);
        let reply = bit(REASON_STRING) | bit(USER_PROPERTY);
        match self {
            PropertyContext::Connect => {
                bit(SESSION_EXPIRY_INTERVAL)
                    | bit(AUTHENTICATION_METHOD)
                    | bit(AUTHENTICATION_DATA)
                    | bit(REQUEST_PROBLEM_INFORMATION)
                    | bit(REQUEST_RESPONSE_INFORMATION)
                    | bit(RECEIVE_MAXIMUM)
                    | bit(TOPIC_ALIAS_MAXIMUM)
                    | bit(USER_PROPERTY)
                    | bit(MAXIMUM_PACKET_SIZE)
            }
            PropertyContext::Will => message | bit(WILL_DELAY_INTERVAL),
            PropertyContext::ConnAck => {
                reply
                    | bit(SESSION_EXPIRY_INTERVAL)
                    | bit(ASSIGNED_CLIENT_IDENTIFIER)
                    | bit(SERVER_KEEP_ALIVE)
                    | bit(AUTHENTICATION_METHOD)
                    | bit(AUTHENTICATION_DATA)
                    | bit(RESPONSE_INFORMATION)
                    | bit(SERVER_REFERENCE)
                    | bit(RECEIVE_MAXIMUM)
                    | bit(TOPIC_ALIAS_MAXIMUM)
                    | bit(MAXIMUM_QOS)
                    | bit(RETAIN_AVAILABLE)
                    | bit(MAXIMUM_PACKET_SIZE)
                    | bit(WILDCARD_SUBSCRIPTION_AVAILABLE)
                    | bit(SUBSCRIPTION_IDENTIFIER_AVAILABLE)
                    | bit(SHARED_SUBSCRIPTION_AVAILABLE)
            }
            PropertyContext::Publish => message | bit(TOPIC_ALIAS) | bit(SUBSCRIPTION_IDENTIFIER),
            PropertyContext::Ack | PropertyContext::SubAck | PropertyContext::UnsubAck => reply,
            PropertyContext::Subscribe => bit(SUBSCRIPTION_IDENTIFIER) | bit(USER_PROPERTY),
            PropertyContext::Unsubscribe => bit(USER_PROPERTY),
            PropertyContext::Disconnect => {
                reply | bit(SESSION_EXPIRY_INTERVAL) | bit(SERVER_REFERENCE)
            }
            PropertyContext::Auth => reply | bit(AUTHENTICATION_METHOD) | bit(AUTHENTICATION_DATA),
        }
    }

    /// The identifiers that may appear more than once here: User Property
    /// everywhere, Subscription Identifier in a PUBLISH (one per matching
    /// subscription, server to client).
    const fn repeatable(self) -> u64 {
        match self {
            PropertyContext::Publish => bit(id::USER_PROPERTY) | bit(id::SUBSCRIPTION_IDENTIFIER),
            _ => bit(id::USER_PROPERTY),
        }
    }
}

/// One property's value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PropertyValue<'a> {
    /// A byte.
    Byte(u8),
    /// A two-byte integer.
    TwoByte(u16),
    /// A four-byte integer.
    FourByte(u32),
    /// A variable byte integer.
    VarInt(u32),
    /// A UTF-8 string.
    Str(&'a str),
    /// Binary data.
    Binary(&'a [u8]),
    /// A UTF-8 string pair (User Property).
    StrPair(&'a str, &'a str),
}

/// A validated property block, borrowed from a decoded packet or a
/// [`PropertiesBuilder`](super::PropertiesBuilder). Empty for MQTT 3.1 / 3.1.1 packets.
#[derive(Clone, Copy, Default, PartialEq, Eq)]
pub struct Properties<'a> {
    raw: &'a [u8],
}

impl<'a> Properties<'a> {
    /// No properties.
    pub const EMPTY: Properties<'static> = Properties { raw: &[] };

    /// Validates `raw` (the block without its length prefix) as the
    /// properties of `context`.
    pub fn parse(raw: &'a [u8], context: PropertyContext) -> Result<Self, DecodeError> {
        let allowed = context.allowed();
        let repeatable = context.repeatable();
        let mut seen = 0u64;
        let mut r = Reader::new(raw);
        while !r.is_empty() {
            let property = r.u8()?;
            let Some(kind) = kind_of(property) else {
                return Err(DecodeError::InvalidProperty(property));
            };
            if allowed & bit(property) == 0 {
                return Err(DecodeError::InvalidProperty(property));
            }
            if seen & bit(property) != 0 && repeatable & bit(property) == 0 {
                return Err(DecodeError::DuplicateProperty(property));
            }
            seen |= bit(property);
            let value = read_value(&mut r, kind)?;
            if !value_allowed(property, value) {
                return Err(DecodeError::InvalidPropertyValue(property));
            }
        }
        Ok(Properties { raw })
    }

    /// Reads a length-prefixed property block from `r` and validates it.
    pub(crate) fn read(r: &mut Reader<'a>, context: PropertyContext) -> Result<Self, DecodeError> {
        let rest = r.peek_rest();
        let (len, len_bytes) = match read_remaining_length(rest) {
            Ok(Some(found)) => found,
            Ok(None) => return Err(DecodeError::Truncated),
            Err(_) => return Err(DecodeError::MalformedPropertyLength),
        };
        r.bytes(len_bytes)?;
        let raw = r.bytes(len)?;
        Properties::parse(raw, context)
    }

    /// The block's bytes, without the length prefix.
    pub fn as_bytes(&self) -> &'a [u8] {
        self.raw
    }

    /// Whether the block is empty.
    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Bytes on the wire: the length prefix and the block.
    pub fn wire_len(&self) -> usize {
        remaining_length_len(self.raw.len()) + self.raw.len()
    }

    /// Every property in order, with its identifier.
    pub fn iter(&self) -> PropertyIter<'a> {
        PropertyIter {
            r: Reader::new(self.raw),
        }
    }

    /// Every property in order as its identifier and its bytes (the
    /// identifier's included): for copying some of a block unchanged,
    /// without encoding each value again.
    pub(crate) fn encoded(&self) -> impl Iterator<Item = (u8, &'a [u8])> {
        let mut iter = self.iter();
        std::iter::from_fn(move || {
            let before = iter.r.peek_rest();
            let (property, _) = iter.next()?;
            let used = before.len() - iter.r.peek_rest().len();
            Some((property, before.get(..used)?))
        })
    }

    /// `raw` as a block without checking it (for the builder, whose
    /// writers only make well-formed properties, and for tests).
    pub(super) fn unchecked(raw: &'a [u8]) -> Properties<'a> {
        Properties { raw }
    }

    /// The first value of `property`.
    pub fn get(&self, property: u8) -> Option<PropertyValue<'a>> {
        self.iter().find(|&(p, _)| p == property).map(|(_, v)| v)
    }

    fn byte(&self, property: u8) -> Option<u8> {
        match self.get(property)? {
            PropertyValue::Byte(v) => Some(v),
            _ => None,
        }
    }

    fn two_byte(&self, property: u8) -> Option<u16> {
        match self.get(property)? {
            PropertyValue::TwoByte(v) => Some(v),
            _ => None,
        }
    }

    fn four_byte(&self, property: u8) -> Option<u32> {
        match self.get(property)? {
            PropertyValue::FourByte(v) => Some(v),
            _ => None,
        }
    }

    fn string(&self, property: u8) -> Option<&'a str> {
        match self.get(property)? {
            PropertyValue::Str(v) => Some(v),
            _ => None,
        }
    }

    fn binary(&self, property: u8) -> Option<&'a [u8]> {
        match self.get(property)? {
            PropertyValue::Binary(v) => Some(v),
            _ => None,
        }
    }

    /// Payload Format Indicator: 1 = UTF-8 text.
    pub fn payload_format_indicator(&self) -> Option<u8> {
        self.byte(id::PAYLOAD_FORMAT_INDICATOR)
    }
    /// Message Expiry Interval, seconds.
    pub fn message_expiry_interval(&self) -> Option<u32> {
        self.four_byte(id::MESSAGE_EXPIRY_INTERVAL)
    }
    /// Content Type.
    pub fn content_type(&self) -> Option<&'a str> {
        self.string(id::CONTENT_TYPE)
    }
    /// Response Topic.
    pub fn response_topic(&self) -> Option<&'a str> {
        self.string(id::RESPONSE_TOPIC)
    }
    /// Correlation Data.
    pub fn correlation_data(&self) -> Option<&'a [u8]> {
        self.binary(id::CORRELATION_DATA)
    }
    /// Every Subscription Identifier, in order.
    pub fn subscription_identifiers(&self) -> impl Iterator<Item = u32> + 'a {
        self.iter().filter_map(|(_, v)| match v {
            PropertyValue::VarInt(v) => Some(v),
            _ => None,
        })
    }
    /// Session Expiry Interval, seconds.
    pub fn session_expiry_interval(&self) -> Option<u32> {
        self.four_byte(id::SESSION_EXPIRY_INTERVAL)
    }
    /// Assigned Client Identifier.
    pub fn assigned_client_identifier(&self) -> Option<&'a str> {
        self.string(id::ASSIGNED_CLIENT_IDENTIFIER)
    }
    /// Server Keep Alive, seconds.
    pub fn server_keep_alive(&self) -> Option<u16> {
        self.two_byte(id::SERVER_KEEP_ALIVE)
    }
    /// Authentication Method.
    pub fn authentication_method(&self) -> Option<&'a str> {
        self.string(id::AUTHENTICATION_METHOD)
    }
    /// Authentication Data.
    pub fn authentication_data(&self) -> Option<&'a [u8]> {
        self.binary(id::AUTHENTICATION_DATA)
    }
    /// Request Problem Information (0 or 1).
    pub fn request_problem_information(&self) -> Option<u8> {
        self.byte(id::REQUEST_PROBLEM_INFORMATION)
    }
    /// Will Delay Interval, seconds.
    pub fn will_delay_interval(&self) -> Option<u32> {
        self.four_byte(id::WILL_DELAY_INTERVAL)
    }
    /// Request Response Information (0 or 1).
    pub fn request_response_information(&self) -> Option<u8> {
        self.byte(id::REQUEST_RESPONSE_INFORMATION)
    }
    /// Response Information.
    pub fn response_information(&self) -> Option<&'a str> {
        self.string(id::RESPONSE_INFORMATION)
    }
    /// Server Reference.
    pub fn server_reference(&self) -> Option<&'a str> {
        self.string(id::SERVER_REFERENCE)
    }
    /// Reason String.
    pub fn reason_string(&self) -> Option<&'a str> {
        self.string(id::REASON_STRING)
    }
    /// Receive Maximum (never 0).
    pub fn receive_maximum(&self) -> Option<u16> {
        self.two_byte(id::RECEIVE_MAXIMUM)
    }
    /// Topic Alias Maximum.
    pub fn topic_alias_maximum(&self) -> Option<u16> {
        self.two_byte(id::TOPIC_ALIAS_MAXIMUM)
    }
    /// Topic Alias.
    pub fn topic_alias(&self) -> Option<u16> {
        self.two_byte(id::TOPIC_ALIAS)
    }
    /// Maximum QoS (0 or 1; absent means 2).
    pub fn maximum_qos(&self) -> Option<u8> {
        self.byte(id::MAXIMUM_QOS)
    }
    /// Retain Available (0 or 1).
    pub fn retain_available(&self) -> Option<u8> {
        self.byte(id::RETAIN_AVAILABLE)
    }
    /// Maximum Packet Size (never 0).
    pub fn maximum_packet_size(&self) -> Option<u32> {
        self.four_byte(id::MAXIMUM_PACKET_SIZE)
    }
    /// Wildcard Subscription Available (0 or 1).
    pub fn wildcard_subscription_available(&self) -> Option<u8> {
        self.byte(id::WILDCARD_SUBSCRIPTION_AVAILABLE)
    }
    /// Subscription Identifier Available (0 or 1).
    pub fn subscription_identifier_available(&self) -> Option<u8> {
        self.byte(id::SUBSCRIPTION_IDENTIFIER_AVAILABLE)
    }
    /// Shared Subscription Available (0 or 1).
    pub fn shared_subscription_available(&self) -> Option<u8> {
        self.byte(id::SHARED_SUBSCRIPTION_AVAILABLE)
    }
    /// Every User Property, in the order sent [MQTT-3.3.2-18].
    pub fn user_properties(&self) -> impl Iterator<Item = (&'a str, &'a str)> + 'a {
        self.iter().filter_map(|(_, v)| match v {
            PropertyValue::StrPair(k, v) => Some((k, v)),
            _ => None,
        })
    }
}

impl std::fmt::Debug for Properties<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// The properties of a block, in order: `(identifier, value)`.
pub struct PropertyIter<'a> {
    r: Reader<'a>,
}

impl<'a> Iterator for PropertyIter<'a> {
    type Item = (u8, PropertyValue<'a>);

    fn next(&mut self) -> Option<Self::Item> {
        // The block was validated: a failure here means it ends.
        let property = self.r.u8().ok()?;
        let value = read_value(&mut self.r, kind_of(property)?).ok()?;
        Some((property, value))
    }
}

fn read_value<'a>(r: &mut Reader<'a>, kind: Kind) -> Result<PropertyValue<'a>, DecodeError> {
    Ok(match kind {
        Kind::Byte => PropertyValue::Byte(r.u8()?),
        Kind::TwoByte => PropertyValue::TwoByte(r.u16()?),
        Kind::FourByte => PropertyValue::FourByte(r.u32()?),
        Kind::VarInt => PropertyValue::VarInt(r.varint()?),
        Kind::Str => PropertyValue::Str(r.string()?),
        Kind::Binary => PropertyValue::Binary(r.binary()?),
        Kind::StrPair => {
            let key = r.string()?;
            PropertyValue::StrPair(key, r.string()?)
        }
    })
}

/// The values the standard allows: it is a Protocol Error to send 0 for
/// Receive Maximum, Maximum Packet Size or a Subscription Identifier
/// (§3.1.2.11.3, §3.1.2.11.4, §3.8.2.1.2), or anything but 0 / 1 for the
/// yes-or-no bytes.
fn value_allowed(property: u8, value: PropertyValue<'_>) -> bool {
    use id::*;
    match (property, value) {
        (RECEIVE_MAXIMUM, PropertyValue::TwoByte(0)) => false,
        (MAXIMUM_PACKET_SIZE, PropertyValue::FourByte(0)) => false,
        (SUBSCRIPTION_IDENTIFIER, PropertyValue::VarInt(0)) => false,
        (_, PropertyValue::Byte(v)) => v <= 1,
        _ => true,
    }
}

/// Appends a property block with its length prefix.
#[inline]
pub(crate) fn write_properties(out: &mut Vec<u8>, properties: Properties<'_>) {
    write_remaining_length(out, properties.raw.len());
    out.extend_from_slice(properties.raw);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::codec::PropertiesBuilder;

    #[test]
    fn builder_and_accessors_agree() {
        let mut b = PropertiesBuilder::new();
        b.four_byte(id::MESSAGE_EXPIRY_INTERVAL, 60)
            .user_property("a", "1")
            .string(id::CONTENT_TYPE, "text/plain")
            .user_property("a", "2")
            .byte(id::PAYLOAD_FORMAT_INDICATOR, 1);
        let p = b.properties(PropertyContext::Publish).unwrap();
        assert_eq!(p.message_expiry_interval(), Some(60));
        assert_eq!(p.content_type(), Some("text/plain"));
        assert_eq!(p.payload_format_indicator(), Some(1));
        assert_eq!(
            p.user_properties().collect::<Vec<_>>(),
            [("a", "1"), ("a", "2")]
        );
        assert_eq!(p.response_topic(), None);
        assert!(b.properties(PropertyContext::Connect).is_err());
    }

    #[test]
    fn refusals() {
        let parse = |bytes: &[u8], ctx| Properties::parse(bytes, ctx).map(|_| ());
        use PropertyContext::*;
        // Unknown identifier, and one not allowed here: malformed.
        assert_eq!(
            parse(&[0x05, 0], Publish),
            Err(DecodeError::InvalidProperty(5))
        );
        assert_eq!(
            parse(&[0x11, 0, 0, 0, 1], Publish),
            Err(DecodeError::InvalidProperty(0x11))
        );
        // Twice: protocol error; User Property may repeat.
        assert_eq!(
            parse(&[0x01, 0, 0x01, 1], Publish),
            Err(DecodeError::DuplicateProperty(1))
        );
        assert_eq!(parse(&[0x26, 0, 0, 0, 0, 0x26, 0, 0, 0, 0], Ack), Ok(()));
        // Subscription Identifier repeats only in PUBLISH.
        assert_eq!(parse(&[0x0B, 1, 0x0B, 2], Publish), Ok(()));
        assert_eq!(
            parse(&[0x0B, 1, 0x0B, 2], Subscribe),
            Err(DecodeError::DuplicateProperty(0x0B))
        );
        // Values.
        assert_eq!(
            parse(&[0x21, 0, 0], Connect),
            Err(DecodeError::InvalidPropertyValue(0x21))
        );
        assert_eq!(
            parse(&[0x17, 2], Connect),
            Err(DecodeError::InvalidPropertyValue(0x17))
        );
        assert_eq!(
            parse(&[0x0B, 0], Subscribe),
            Err(DecodeError::InvalidPropertyValue(0x0B))
        );
        // Types and lengths.
        assert_eq!(parse(&[0x02, 0, 0], Publish), Err(DecodeError::Truncated));
        assert_eq!(
            parse(&[0x03, 0, 2, 0xff, 0xfe], Publish),
            Err(DecodeError::InvalidUtf8)
        );
        assert_eq!(
            parse(&[0x0B, 0x80, 0x80, 0x80, 0x80, 0x01], Subscribe),
            Err(DecodeError::MalformedVarInt)
        );
    }
}
