//! The MQTT 3.1.1 packets the gateway feeds the core for its clients: what
//! an MQTT client would have sent to do what the MQTT-SN message asks.

use crate::codec::{
    self, Connect, Packet, PacketId, Properties, Protocol, Publish, QoS, Reasoned, Subscribe,
    SubscriptionOptions, Unsubscribe, Will,
};

/// A will as the gateway hands it to CONNECT.
pub(crate) struct WillParts<'a> {
    pub(crate) topic: &'a str,
    pub(crate) payload: &'a [u8],
    pub(crate) qos: QoS,
    pub(crate) retain: bool,
}

/// CONNECT, keep alive off: the gateway watches the client's silence
/// itself, since a sleeping client is silent on purpose.
pub(crate) fn connect(
    client_id: &str,
    clean_session: bool,
    will: Option<WillParts<'_>>,
    username: Option<&str>,
    password: Option<&[u8]>,
    out: &mut Vec<u8>,
) {
    let packet = Packet::Connect(Box::new(Connect {
        protocol: Protocol::V311,
        bridge: false,
        clean_session,
        keep_alive: 0,
        client_id,
        will: will.map(|will| Will {
            topic: will.topic,
            payload: will.payload,
            qos: will.qos,
            retain: will.retain,
            properties: Properties::EMPTY,
        }),
        username,
        password,
        properties: Properties::EMPTY,
    }));
    put(&packet, out);
}

/// PUBLISH; `packet_id` is ignored at QoS 0.
pub(crate) fn publish(
    topic: &str,
    qos: QoS,
    retain: bool,
    dup: bool,
    packet_id: PacketId,
    payload: &[u8],
    out: &mut Vec<u8>,
) {
    let packet = Packet::Publish(Publish {
        dup: dup && qos != QoS::AtMostOnce,
        qos,
        retain,
        topic,
        packet_id: (qos != QoS::AtMostOnce).then_some(packet_id),
        payload,
        properties: Properties::EMPTY,
    });
    put(&packet, out);
}

pub(crate) use crate::codec::AckKind;

/// PUBACK, PUBREC, PUBREL or PUBCOMP.
pub(crate) fn ack(kind: AckKind, packet_id: PacketId, out: &mut Vec<u8>) {
    codec::encode_ack(out, kind, packet_id);
}

/// SUBSCRIBE to one filter.
pub(crate) fn subscribe(packet_id: PacketId, filter: &str, qos: QoS, out: &mut Vec<u8>) {
    let packet = Packet::Subscribe(Subscribe {
        packet_id,
        filters: vec![(filter, SubscriptionOptions::new(qos))],
        properties: Properties::EMPTY,
    });
    put(&packet, out);
}

/// UNSUBSCRIBE from one filter.
pub(crate) fn unsubscribe(packet_id: PacketId, filter: &str, out: &mut Vec<u8>) {
    let packet = Packet::Unsubscribe(Unsubscribe {
        packet_id,
        filters: vec![filter],
        properties: Properties::EMPTY,
    });
    put(&packet, out);
}

/// DISCONNECT: the client leaves, its will discarded.
pub(crate) fn disconnect(out: &mut Vec<u8>) {
    put(&Packet::Disconnect(Reasoned::default()), out);
}

/// The packets built here are within 3.1.1's limits (the MQTT-SN datagram
/// they come from is at most 64 KiB), so encoding cannot fail; were it to,
/// nothing is appended and the core sees no packet.
fn put(packet: &Packet<'_>, out: &mut Vec<u8>) {
    let start = out.len();
    if codec::encode(packet, out).is_err() {
        out.truncate(start);
    }
}
