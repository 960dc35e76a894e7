//! The MQTT-SN 1.2 messages, as the gateway reads and writes them
//! (`codec.rs` turns them into datagrams and back).
//!
//! Field names follow the specification (MQTT-SN 1.2, section 5). Strings
//! that the specification leaves as bytes (client ids, topic names, will
//! topics) are kept as bytes here: the gateway decides what is valid UTF-8
//! and answers with the right return code, rather than the codec dropping
//! the datagram.

/// The QoS of an MQTT-SN PUBLISH: MQTT's three levels, and −1 (a
/// connectionless publish to a pre-defined or short topic).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SnQos {
    /// QoS −1: no connection, no acknowledgement.
    MinusOne,
    /// QoS 0.
    AtMostOnce,
    /// QoS 1.
    AtLeastOnce,
    /// QoS 2.
    ExactlyOnce,
}

/// How the topic of a PUBLISH, SUBSCRIBE or UNSUBSCRIBE is given (the
/// TopicIdType bits of the flags).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TopicIdType {
    /// A topic id registered with REGISTER (in SUBSCRIBE / UNSUBSCRIBE: a
    /// topic name follows instead).
    Normal,
    /// A pre-defined topic id, known to both sides from configuration.
    Predefined,
    /// A short topic name: two characters carried in the topic id field.
    Short,
}

/// The flags byte, decoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Flags {
    /// DUP: a retransmission.
    pub(crate) dup: bool,
    /// The QoS.
    pub(crate) qos: SnQos,
    /// Retain.
    pub(crate) retain: bool,
    /// Will (in CONNECT: the will handshake follows).
    pub(crate) will: bool,
    /// CleanSession (in CONNECT).
    pub(crate) clean_session: bool,
    /// TopicIdType.
    pub(crate) topic_id_type: TopicIdType,
}

/// The return codes of CONNACK, REGACK, PUBACK, SUBACK, WILLTOPICRESP and
/// WILLMSGRESP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ReturnCode {
    /// 0x00.
    Accepted,
    /// 0x01: rejected, congestion.
    Congestion,
    /// 0x02: rejected, invalid topic id.
    InvalidTopicId,
    /// 0x03: rejected, not supported.
    NotSupported,
}

/// A topic as SUBSCRIBE and UNSUBSCRIBE carry it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum SubscribeTopic {
    /// A topic name or filter (TopicIdType 0), wildcards allowed.
    Name(Vec<u8>),
    /// A pre-defined topic id (TopicIdType 1).
    Predefined(u16),
    /// A short topic name (TopicIdType 2): its two bytes.
    Short([u8; 2]),
}

/// One MQTT-SN 1.2 message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Packet {
    /// 0x00, gateway to all.
    Advertise { gw_id: u8, duration: u16 },
    /// 0x01, client to all.
    SearchGw { radius: u8 },
    /// 0x02: `gw_add` is empty when a gateway answers (it is the sender).
    GwInfo { gw_id: u8, gw_add: Vec<u8> },
    /// 0x04. `protocol_id` is 0x01 in MQTT-SN 1.2.
    Connect {
        flags: Flags,
        protocol_id: u8,
        duration: u16,
        client_id: Vec<u8>,
    },
    /// 0x05.
    ConnAck { return_code: ReturnCode },
    /// 0x06.
    WillTopicReq,
    /// 0x07: `None` is the empty WILLTOPIC (no flags, no topic), which
    /// deletes the will.
    WillTopic { will: Option<(Flags, Vec<u8>)> },
    /// 0x08.
    WillMsgReq,
    /// 0x09.
    WillMsg { message: Vec<u8> },
    /// 0x0A.
    Register {
        topic_id: u16,
        msg_id: u16,
        topic_name: Vec<u8>,
    },
    /// 0x0B.
    RegAck {
        topic_id: u16,
        msg_id: u16,
        return_code: ReturnCode,
    },
    /// 0x0C.
    Publish {
        flags: Flags,
        topic_id: u16,
        msg_id: u16,
        data: Vec<u8>,
    },
    /// 0x0D.
    PubAck {
        topic_id: u16,
        msg_id: u16,
        return_code: ReturnCode,
    },
    /// 0x0E.
    PubComp { msg_id: u16 },
    /// 0x0F.
    PubRec { msg_id: u16 },
    /// 0x10.
    PubRel { msg_id: u16 },
    /// 0x12.
    Subscribe {
        flags: Flags,
        msg_id: u16,
        topic: SubscribeTopic,
    },
    /// 0x13.
    SubAck {
        flags: Flags,
        topic_id: u16,
        msg_id: u16,
        return_code: ReturnCode,
    },
    /// 0x14.
    Unsubscribe {
        flags: Flags,
        msg_id: u16,
        topic: SubscribeTopic,
    },
    /// 0x15.
    UnsubAck { msg_id: u16 },
    /// 0x16: with a client id, from a sleeping client waking up.
    PingReq { client_id: Option<Vec<u8>> },
    /// 0x17.
    PingResp,
    /// 0x18: with a duration, the client goes to sleep.
    Disconnect { duration: Option<u16> },
    /// 0x1A: `None` deletes the will.
    WillTopicUpd { will: Option<(Flags, Vec<u8>)> },
    /// 0x1B.
    WillTopicResp { return_code: ReturnCode },
    /// 0x1C.
    WillMsgUpd { message: Vec<u8> },
    /// 0x1D.
    WillMsgResp { return_code: ReturnCode },
}

/// A datagram as received: a message, maybe inside a forwarder's
/// encapsulation (0xFE).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Datagram {
    /// The forwarder's encapsulation, if the message came through one.
    pub(crate) forwarded: Option<Forwarded>,
    /// The message.
    pub(crate) packet: Packet,
}

/// What a forwarder's encapsulation says about the client behind it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct Forwarded {
    /// The Ctrl byte (its radius bits).
    pub(crate) ctrl: u8,
    /// The Wireless Node Id: the client's address on the forwarder's side.
    pub(crate) node_id: Vec<u8>,
}
