//! The packet model: one borrowed view per MQTT control packet.
//!
//! Decoded packets borrow their strings and payloads from the input buffer, so
//! decoding allocates nothing but the filter list of SUBSCRIBE / UNSUBSCRIBE
//! and the return codes of SUBACK. The core copies what it keeps (a PUBLISH's
//! topic and payload become one shared [`crate::Message`]).

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
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Protocol {
    /// MQTT 3.1: protocol name `MQIsdp`, level 3.
    V31,
    /// MQTT 3.1.1: protocol name `MQTT`, level 4.
    V311,
}

impl Protocol {
    /// The protocol level byte of CONNECT.
    pub fn level(self) -> u8 {
        match self {
            Protocol::V31 => 3,
            Protocol::V311 => 4,
        }
    }

    /// The protocol name string of CONNECT.
    pub fn name(self) -> &'static str {
        match self {
            Protocol::V31 => "MQIsdp",
            Protocol::V311 => "MQTT",
        }
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
}

/// CONNECT.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Connect<'a> {
    /// Protocol name and level.
    pub protocol: Protocol,
    /// The Clean Session flag.
    pub clean_session: bool,
    /// Keep alive in seconds, 0 = off.
    pub keep_alive: u16,
    /// Client identifier, possibly empty.
    pub client_id: &'a str,
    /// The will, when the Will Flag is set.
    pub will: Option<Will<'a>>,
    /// User name, when its flag is set.
    pub username: Option<&'a str>,
    /// Password, when its flag is set.
    pub password: Option<&'a [u8]>,
}

/// CONNACK return codes (MQTT 3.1.1 table 3.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub enum ConnectReturnCode {
    /// 0x00 Connection accepted.
    Accepted = 0,
    /// 0x01 The server does not support the requested protocol level.
    UnacceptableProtocolVersion = 1,
    /// 0x02 The client identifier is not allowed.
    IdentifierRejected = 2,
    /// 0x03 The MQTT service is unavailable.
    ServerUnavailable = 3,
    /// 0x04 Malformed user name or password (bad credentials).
    BadUsernameOrPassword = 4,
    /// 0x05 The client is not authorized to connect.
    NotAuthorized = 5,
}

impl ConnectReturnCode {
    /// The code for a wire value 0..=5.
    pub fn from_u8(value: u8) -> Option<ConnectReturnCode> {
        Some(match value {
            0 => ConnectReturnCode::Accepted,
            1 => ConnectReturnCode::UnacceptableProtocolVersion,
            2 => ConnectReturnCode::IdentifierRejected,
            3 => ConnectReturnCode::ServerUnavailable,
            4 => ConnectReturnCode::BadUsernameOrPassword,
            5 => ConnectReturnCode::NotAuthorized,
            _ => return None,
        })
    }
}

/// CONNACK.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnAck {
    /// The Session Present flag.
    pub session_present: bool,
    /// The return code.
    pub code: ConnectReturnCode,
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
    /// checked here).
    pub topic: &'a str,
    /// Present exactly when `qos` is 1 or 2.
    pub packet_id: Option<PacketId>,
    /// The application message.
    pub payload: &'a [u8],
}

/// One SUBACK return code: the granted QoS, or failure (0x80).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SubAckCode {
    /// Subscription accepted with this maximum QoS.
    Granted(QoS),
    /// 0x80: the subscription was refused.
    Failure,
}

impl SubAckCode {
    /// The byte on the wire.
    pub fn to_u8(self) -> u8 {
        match self {
            SubAckCode::Granted(qos) => qos as u8,
            SubAckCode::Failure => 0x80,
        }
    }
}

/// SUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscribe<'a> {
    /// Packet identifier (non-zero).
    pub packet_id: PacketId,
    /// Topic filters with their requested QoS; never empty when decoded.
    /// Filters are UTF-8 validated but not checked for wildcard placement.
    pub filters: Vec<(&'a str, QoS)>,
}

/// SUBACK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubAck {
    /// Packet identifier of the SUBSCRIBE it answers.
    pub packet_id: PacketId,
    /// One code per filter, in order.
    pub codes: Vec<SubAckCode>,
}

/// UNSUBSCRIBE.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unsubscribe<'a> {
    /// Packet identifier (non-zero).
    pub packet_id: PacketId,
    /// Topic filters; never empty when decoded.
    pub filters: Vec<&'a str>,
}

/// Any MQTT 3.1 / 3.1.1 control packet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Packet<'a> {
    /// CONNECT (1).
    Connect(Connect<'a>),
    /// CONNACK (2).
    ConnAck(ConnAck),
    /// PUBLISH (3).
    Publish(Publish<'a>),
    /// PUBACK (4).
    PubAck(PacketId),
    /// PUBREC (5).
    PubRec(PacketId),
    /// PUBREL (6).
    PubRel(PacketId),
    /// PUBCOMP (7).
    PubComp(PacketId),
    /// SUBSCRIBE (8).
    Subscribe(Subscribe<'a>),
    /// SUBACK (9).
    SubAck(SubAck),
    /// UNSUBSCRIBE (10).
    Unsubscribe(Unsubscribe<'a>),
    /// UNSUBACK (11).
    UnsubAck(PacketId),
    /// PINGREQ (12).
    PingReq,
    /// PINGRESP (13).
    PingResp,
    /// DISCONNECT (14).
    Disconnect,
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
            Packet::Disconnect => "DISCONNECT",
        }
    }
}
