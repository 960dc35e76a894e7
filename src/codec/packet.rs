//! The packet model: one borrowed view per MQTT control packet, the same
//! for MQTT 3.1, 3.1.1 and 5.0. What 3.1.1 lacks is empty there: no
//! properties, Success reason codes.
//!
//! Decoded packets borrow their strings, payloads and property blocks from
//! the input buffer, so decoding allocates nothing but the filter lists of
//! SUBSCRIBE / UNSUBSCRIBE and the code lists of SUBACK / UNSUBACK. The core
//! copies what it keeps (a PUBLISH becomes one shared [`crate::Message`]).

use super::{Properties, ReasonCode};

/// A packet identifier. Zero is never valid on the wire where one is required;
/// the decoder refuses it.
pub type PacketId = u16;

/// Quality of service of a PUBLISH or a subscription.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum QoS {
    /// At most once (0).
    AtMostOnce = 0,
    /// At least once (1).
    AtLeastOnce = 1,
    /// Exactly once (2).
    ExactlyOnce = 2,
}

impl QoS {
    /// The QoS for a wire value 0..=2, `None` for 3 and above.
    pub fn from_u8(value: u8) -> Option<QoS> {
        match value {
            0 => Some(QoS::AtMostOnce),
            1 => Some(QoS::AtLeastOnce),
            2 => Some(QoS::ExactlyOnce),
            _ => None,
        }
    }
}

/// The protocol a client speaks, from the CONNECT protocol name and level.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Protocol {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3.
    V31,
    /// MQTT 3.1.1: protocol name `MQTT`, level 4.
    V311,
    /// MQTT 5.0: protocol name `MQTT`, level 5.
    V5,
}

impl Protocol {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Protocol::V31 => 3,
            Protocol::V311 => 4,
            Protocol::V5 => 5,
        }
    }

    /// The protocol name string of CONNECT.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V31 => "MQIsdp",
            Protocol::V311 | Protocol::V5 => "MQTT",
        }
    }

    /// Whether this is MQTT 5: packets carry properties and reason codes.
    #[inline]
    pub fn is_v5(self) -> bool {
        self == Protocol::V5
    }
}

/// The will message carried by CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Will<'a> {
    /// Topic the will is published to (a valid topic name is not checked by
    /// the codec; the core refuses wildcards).
    pub topic: &'a str,
    /// The will payload.
    pub payload: &'a [u8],
    /// QoS of the will publication.
    pub qos: QoS,
    /// Whether the will is published retained.
    pub retain: bool,
    /// MQTT 5 will properties (Will Delay Interval and the message's own).
    pub properties: Properties<'a>,
}

/// CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Protocol name and level.
    pub protocol: Protocol,
    /// The high bit of the protocol level: the client is another broker's
    /// bridge (mosquitto's `try_private`), which would have its own
    /// messages not sent back to it. MQTT 3.1 and 3.1.1 only (an MQTT 5
    /// bridge uses No Local instead).
    pub bridge: bool,
    /// The Clean Session flag (Clean Start in MQTT 5).
    pub clean_session: bool,
    /// Keep alive in seconds, 0 = off.
    pub keep_alive: u16,
    /// Client identifier, possibly empty.
    pub client_id: &'a str,
    /// The will, when the Will Flag is set.
    pub will: Option<Will<'a>>,
    /// User name, when its flag is set.
    pub username: Option<&'a str>,
    /// Password, when its flag is set (MQTT 5 allows one without a user
    /// name).
    pub password: Option<&'a [u8]>,
    /// MQTT 5 CONNECT properties.
    pub properties: Properties<'a>,
}

/// CONNACK. The code is an MQTT 5 reason code whatever the protocol: a
/// 3.1.1 return code decodes to its MQTT 5 equivalent and back
/// ([`ReasonCode::to_v3_connack`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnAck<'a> {
    /// The Session Present flag.
    pub session_present: bool,
    /// The return / reason code.
    pub code: ReasonCode,
    /// MQTT 5 CONNACK properties.
    pub properties: Properties<'a>,
}

impl ConnAck<'_> {
    /// A CONNACK without properties.
    pub fn new(session_present: bool, code: ReasonCode) -> ConnAck<'static> {
        ConnAck {
            session_present,
            code,
            properties: Properties::EMPTY,
        }
    }
}

/// PUBLISH.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Publish<'a> {
    /// The DUP flag.
    pub dup: bool,
    /// The QoS.
    pub qos: QoS,
    /// The RETAIN flag.
    pub retain: bool,
    /// The topic name (UTF-8 validated by the decoder; wildcards are not
    /// checked here). Empty in MQTT 5 when a Topic Alias stands for it.
    pub topic: &'a str,
    /// Present exactly when `qos` is 1 or 2.
    pub packet_id: Option<PacketId>,
    /// The application message.
    pub payload: &'a [u8],
    /// MQTT 5 PUBLISH properties.
    pub properties: Properties<'a>,
}

/// PUBACK, PUBREC, PUBREL or PUBCOMP: a packet identifier and, in MQTT 5,
/// a reason code and properties (both left out on the wire when Success
/// with none).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ack<'a> {
    /// The packet identifier acknowledged.
    pub packet_id: PacketId,
    /// The reason code (always Success in 3.1.1).
    pub reason: ReasonCode,
    /// MQTT 5 properties (Reason String, User Property).
    pub properties: Properties<'a>,
}

impl Ack<'_> {
    /// A successful acknowledgement of `packet_id`.
    pub fn new(packet_id: PacketId) -> Ack<'static> {
        Ack {
            packet_id,
            reason: ReasonCode::SUCCESS,
            properties: Properties::EMPTY,
        }
    }
}

/// Retain Handling, a SUBSCRIBE option (MQTT 5.0 §3.8.3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[repr(u8)]
pub enum RetainHandling {
    /// 0: send retained messages when subscribing.
    #[default]
    SendOnSubscribe = 0,
    /// 1: send them only if the subscription did not exist.
    SendIfNew = 1,
    /// 2: do not send them.
    DoNotSend = 2,
}

/// The options of one SUBSCRIBE filter. A 3.1.1 client sets only the QoS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SubscriptionOptions {
    /// The maximum QoS requested.
    pub qos: QoS,
    /// No Local: do not send this client its own messages.
    pub no_local: bool,
    /// Retain As Published: keep the RETAIN flag of forwarded messages.
    pub retain_as_published: bool,
    /// When to send retained messages.
    pub retain_handling: RetainHandling,
}

impl SubscriptionOptions {
    /// Options with QoS `qos` and every MQTT 5 option off (what a 3.1.1
    /// subscription means).
    pub const fn new(qos: QoS) -> Self {
        SubscriptionOptions {
            qos,
            no_local: false,
            retain_as_published: false,
            retain_handling: RetainHandling::SendOnSubscribe,
        }
    }

    /// The options byte of an MQTT 5 SUBSCRIBE.
    pub fn to_byte(self) -> u8 {
        self.qos as u8
            | u8::from(self.no_local) << 2
            | u8::from(self.retain_as_published) << 3
            | (self.retain_handling as u8) << 4
    }
}

impl From<QoS> for SubscriptionOptions {
    fn from(qos: QoS) -> Self {
        SubscriptionOptions::new(qos)
    }
}

/// SUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet identifier (non-zero).
    pub packet_id: PacketId,
    /// Topic filters with their options; never empty when decoded.
    /// Filters are UTF-8 validated but not checked for wildcard placement.
    pub filters: Vec<(&'a str, SubscriptionOptions)>,
    /// MQTT 5 properties (Subscription Identifier, User Property).
    pub properties: Properties<'a>,
}

/// SUBACK. A 3.1.1 failure (0x80) decodes as
/// [`ReasonCode::UNSPECIFIED_ERROR`]; any failure encodes as 0x80 for 3.1.1.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck<'a> {
    /// Packet identifier of the SUBSCRIBE it answers.
    pub packet_id: PacketId,
    /// One code per filter, in order.
    pub codes: Vec<ReasonCode>,
    /// MQTT 5 properties.
    pub properties: Properties<'a>,
}

/// UNSUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet identifier (non-zero).
    pub packet_id: PacketId,
    /// Topic filters; never empty when decoded.
    pub filters: Vec<&'a str>,
    /// MQTT 5 properties (User Property).
    pub properties: Properties<'a>,
}

/// UNSUBACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubAck<'a> {
    /// Packet identifier of the UNSUBSCRIBE it answers.
    pub packet_id: PacketId,
    /// MQTT 5: one code per filter, in order. Empty for 3.1.1, whose
    /// UNSUBACK has none.
    pub codes: Vec<ReasonCode>,
    /// MQTT 5 properties.
    pub properties: Properties<'a>,
}

impl UnsubAck<'_> {
    /// A 3.1.1 UNSUBACK.
    pub fn new(packet_id: PacketId) -> UnsubAck<'static> {
        UnsubAck {
            packet_id,
            codes: Vec::new(),
            properties: Properties::EMPTY,
        }
    }
}

/// DISCONNECT, or AUTH: a reason code and, in MQTT 5, properties. A
/// 3.1.1 DISCONNECT is Normal disconnection with none.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Reasoned<'a> {
    /// The reason code.
    pub reason: ReasonCode,
    /// MQTT 5 properties.
    pub properties: Properties<'a>,
}

impl Reasoned<'_> {
    /// A reason code with no properties.
    pub fn new(reason: ReasonCode) -> Reasoned<'static> {
        Reasoned {
            reason,
            properties: Properties::EMPTY,
        }
    }
}

/// Any MQTT 3.1 / 3.1.1 / 5.0 control packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// CONNECT (1).
    Connect(Box<Connect<'a>>),
    /// CONNACK (2).
    ConnAck(ConnAck<'a>),
    /// PUBLISH (3).
    Publish(Publish<'a>),
    /// PUBACK (4).
    PubAck(Ack<'a>),
    /// PUBREC (5).
    PubRec(Ack<'a>),
    /// PUBREL (6).
    PubRel(Ack<'a>),
    /// PUBCOMP (7).
    PubComp(Ack<'a>),
    /// SUBSCRIBE (8).
    Subscribe(Subscribe<'a>),
    /// SUBACK (9).
    SubAck(SubAck<'a>),
    /// UNSUBSCRIBE (10).
    Unsubscribe(Unsubscribe<'a>),
    /// UNSUBACK (11).
    UnsubAck(UnsubAck<'a>),
    /// PINGREQ (12).
    PingReq,
    /// PINGRESP (13).
    PingResp,
    /// DISCONNECT (14).
    Disconnect(Reasoned<'a>),
    /// AUTH (15), MQTT 5 only.
    Auth(Reasoned<'a>),
}

impl Packet<'_> {
    /// A short name for logs.
    pub fn name(&self) -> &'static str {
        match self {
            Packet::Connect(_) => "CONNECT",
            Packet::ConnAck(_) => "CONNACK",
            Packet::Publish(_) => "PUBLISH",
            Packet::PubAck(_) => "PUBACK",
            Packet::PubRec(_) => "PUBREC",
            Packet::PubRel(_) => "PUBREL",
            Packet::PubComp(_) => "PUBCOMP",
            Packet::Subscribe(_) => "SUBSCRIBE",
            Packet::SubAck(_) => "SUBACK",
            Packet::Unsubscribe(_) => "UNSUBSCRIBE",
            Packet::UnsubAck(_) => "UNSUBACK",
            Packet::PingReq => "PINGREQ",
            Packet::PingResp => "PINGRESP",
            Packet::Disconnect(_) => "DISCONNECT",
            Packet::Auth(_) => "AUTH",
        }
    }
}
