//! What the model checks of the broker's output to an MQTT 5 client:
//! packet sizes, CONNACK properties, topic aliases, Subscription
//! Identifiers, No Local, and tagged messages forwarded unchanged.

use mqlite::codec::{
    property, ConnAck, Packet, Properties, PropertiesBuilder, PropertyValue, Publish, QoS,
};

use super::{Script, MAX_INFLIGHT, MAX_PACKET_SIZE, MAX_TOPIC_ALIAS, OUTGOING_TOPIC_ALIASES};

/// The User Property key of the tag the script puts on each PUBLISH (and
/// will) an MQTT 5 client sends.
pub(super) const TAG_KEY: &str = "fz";

/// Who published a tagged message.
#[derive(Clone, Debug)]
pub(super) enum Origin {
    /// A client's PUBLISH: its serial, and its client id once known.
    Client(u64, Option<String>),
    /// A will: routed with no publishing session, so No Local does not
    /// apply.
    Will,
}

/// A tagged message as the broker took it.
#[derive(Clone, Debug)]
pub(super) struct Sent {
    topic: String,
    payload: Vec<u8>,
    qos: QoS,
    retain: bool,
    /// The properties a server forwards unchanged, in order.
    forwarded: Vec<u8>,
    expiry: Option<u32>,
    origin: Origin,
    /// The tag was seen twice (raw input bytes may copy a packet): its
    /// copies are not checked.
    poisoned: bool,
}

/// The tag of a message: its one User Property `TAG_KEY`.
pub(super) fn tag_of(properties: &Properties<'_>) -> Option<u64> {
    let mut tags = properties
        .user_properties()
        .filter(|(key, _)| *key == TAG_KEY);
    let (_, value) = tags.next()?;
    if tags.next().is_some() {
        return None;
    }
    value.parse().ok()
}

/// The properties a server forwards unchanged (MQTT 5.0 §3.3.2.3): Payload
/// Format Indicator, Content Type, Response Topic, Correlation Data and
/// User Properties, in order.
fn forwarded(properties: &Properties<'_>) -> Vec<u8> {
    let mut kept = PropertiesBuilder::new();
    for (id, value) in properties.iter() {
        match (id, value) {
            (property::PAYLOAD_FORMAT_INDICATOR, PropertyValue::Byte(v)) => {
                kept.byte(id, v);
            }
            (property::CONTENT_TYPE | property::RESPONSE_TOPIC, PropertyValue::Str(v)) => {
                kept.string(id, v);
            }
            (property::CORRELATION_DATA, PropertyValue::Binary(v)) => {
                kept.binary(id, v);
            }
            (property::USER_PROPERTY, PropertyValue::StrPair(k, v)) => {
                kept.user_property(k, v);
            }
            _ => {}
        }
    }
    kept.as_bytes().to_vec()
}

impl Script<'_> {
    /// Keeps a tagged message the broker takes from client `serial`:
    /// `origin` is its client id (`None` inside: not known yet), or `None`
    /// for a will.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn record_sent(
        &mut self,
        topic: &str,
        payload: &[u8],
        qos: QoS,
        retain: bool,
        properties: Properties<'_>,
        origin: Option<Option<String>>,
        serial: u64,
    ) {
        let Some(tag) = tag_of(&properties) else {
            return;
        };
        if let Some(sent) = self.sent.get_mut(&tag) {
            sent.poisoned = true;
            return;
        }
        self.sent.insert(
            tag,
            Sent {
                topic: topic.to_string(),
                payload: payload.to_vec(),
                qos,
                retain,
                forwarded: forwarded(&properties),
                expiry: properties.message_expiry_interval(),
                origin: match origin {
                    Some(cid) => Origin::Client(serial, cid),
                    None => Origin::Will,
                },
                poisoned: false,
            },
        );
    }

    /// Client `i`'s generated client id is `cid`: its subscriptions so far
    /// and the messages it published are filed under it.
    pub(super) fn learn_client_id(&mut self, i: usize, cid: String) {
        let client = &mut self.clients[i];
        if client.client_id.is_some() {
            return;
        }
        let own = std::mem::take(&mut client.own_history);
        if !own.is_empty() {
            self.history.entry(cid.clone()).or_default().extend(own);
        }
        let serial = client.serial;
        for sent in self.sent.values_mut() {
            if let Origin::Client(s, origin @ None) = &mut sent.origin {
                if *s == serial {
                    *origin = Some(cid.clone());
                }
            }
        }
        self.clients[i].client_id = Some(cid);
    }

    /// A packet larger than the client's Maximum Packet Size is never sent
    /// [MQTT-3.1.2-24]: a PUBLISH is dropped instead, and the Reason String
    /// of a refusing CONNACK or a DISCONNECT left out [MQTT-3.2.2-19],
    /// [MQTT-3.14.2-3]. Packets with nothing to leave out (acknowledgements
    /// with no properties, a successful CONNACK, whose properties tell the
    /// client what it needs) are not held to it.
    pub(super) fn check_size(&self, i: usize, packet: &Packet<'_>, len: usize) {
        let client = &self.clients[i];
        if len <= client.max_packet as usize {
            return;
        }
        let optional = match packet {
            Packet::Publish(_) => true,
            Packet::ConnAck(ack) => ack.code.is_error() && !ack.properties.is_empty(),
            Packet::PubAck(ack)
            | Packet::PubRec(ack)
            | Packet::PubRel(ack)
            | Packet::PubComp(ack) => !ack.properties.is_empty(),
            Packet::SubAck(suback) => !suback.properties.is_empty(),
            Packet::UnsubAck(unsuback) => !unsuback.properties.is_empty(),
            Packet::Disconnect(reasoned) | Packet::Auth(reasoned) => {
                !reasoned.properties.is_empty()
            }
            _ => false,
        };
        if optional {
            let what = match packet {
                Packet::Publish(p) => format!(
                    "topic {:?} q{} dup {} payload {} properties {:?}",
                    p.topic,
                    p.qos as u8,
                    p.dup,
                    p.payload.len(),
                    p.properties
                ),
                other => format!("{other:?}"),
            };
            panic!(
                "{:?}: {len}-byte {} over its Maximum Packet Size {}: {what}",
                client.id,
                packet.name(),
                client.max_packet
            );
        }
    }

    /// A client that asked for no problem information gets no Reason String
    /// or User Property but on PUBLISH, CONNACK and DISCONNECT
    /// [MQTT-3.1.2-29].
    pub(super) fn check_problem_information(&self, i: usize, packet: &Packet<'_>) {
        let client = &self.clients[i];
        if client.problem_information {
            return;
        }
        let properties = match packet {
            Packet::PubAck(ack)
            | Packet::PubRec(ack)
            | Packet::PubRel(ack)
            | Packet::PubComp(ack) => ack.properties,
            Packet::SubAck(suback) => suback.properties,
            Packet::UnsubAck(unsuback) => unsuback.properties,
            Packet::Auth(auth) => auth.properties,
            _ => return,
        };
        assert!(
            properties.reason_string().is_none() && properties.user_properties().next().is_none(),
            "{:?}: {packet:?} to a client that asked for no problem information",
            client.id
        );
    }

    /// A successful CONNACK to an MQTT 5 client: what differs from what it
    /// asked, and the broker's limits (§3.2.2.3).
    pub(super) fn check_connack5(&mut self, i: usize, ack: &ConnAck<'_>) {
        let client = &self.clients[i];
        let id = client.id;
        let p = &ack.properties;
        let expiry = (client.expiry != client.expiry_asked).then_some(client.expiry);
        assert_eq!(
            p.session_expiry_interval(),
            expiry,
            "{id:?}: CONNACK Session Expiry Interval (asked {})",
            client.expiry_asked
        );
        assert_eq!(p.receive_maximum(), Some(MAX_INFLIGHT), "{id:?}: {p:?}");
        assert_eq!(
            p.maximum_packet_size(),
            Some(MAX_PACKET_SIZE as u32),
            "{id:?}: {p:?}"
        );
        assert_eq!(
            p.topic_alias_maximum(),
            Some(MAX_TOPIC_ALIAS),
            "{id:?}: {p:?}"
        );
        assert!(
            p.server_keep_alive().is_none()
                && p.maximum_qos().is_none()
                && p.retain_available().is_none()
                && p.response_information().is_none()
                && p.authentication_method().is_none()
                && p.reason_string().is_none(),
            "{id:?}: {p:?}"
        );
        match (client.assigned_expected, p.assigned_client_identifier()) {
            (true, Some(cid)) => {
                assert!(
                    cid.starts_with(&self.config.auto_id_prefix),
                    "{id:?}: assigned {cid:?}"
                );
                self.learn_client_id(i, cid.to_string());
            }
            (false, None) => {}
            (expected, got) => panic!("{id:?}: Assigned Client Identifier {got:?} ({expected})"),
        }
    }

    /// The topic of a PUBLISH to MQTT 5 client `i`: its Topic Alias is
    /// within the client's Topic Alias Maximum (and the broker's own), and
    /// used without a topic only once set.
    pub(super) fn alias_out(&mut self, i: usize, publish: &Publish<'_>) -> String {
        let client = &mut self.clients[i];
        let Some(alias) = publish.properties.topic_alias() else {
            return publish.topic.to_string();
        };
        assert!(
            alias >= 1 && alias <= client.alias_max && alias <= OUTGOING_TOPIC_ALIASES,
            "{:?}: Topic Alias {alias}, Topic Alias Maximum {}",
            client.id,
            client.alias_max
        );
        if publish.topic.is_empty() {
            match client.aliases_out.get(&alias) {
                Some(topic) => topic.clone(),
                None => panic!("{:?}: Topic Alias {alias} used before set", client.id),
            }
        } else {
            client.aliases_out.insert(alias, publish.topic.to_string());
            publish.topic.to_string()
        }
    }

    /// A PUBLISH to MQTT 5 client `i` on `topic`: its Subscription
    /// Identifiers are of subscriptions matching it; a tagged message
    /// arrives as published (topic, payload, forwarded properties, no more
    /// than its QoS, RETAIN only if retained, what is left of its expiry)
    /// and never through a No Local subscription to the client that
    /// published it.
    pub(super) fn check_delivery5(&self, i: usize, topic: &str, publish: &Publish<'_>) {
        let client = &self.clients[i];
        let id = client.id;
        for identifier in publish.properties.subscription_identifiers() {
            assert!(
                self.matching(i, topic).any(|g| g.identifier == identifier),
                "{id:?}: PUBLISH to {topic:?} with Subscription Identifier {identifier}, \
                 which no matching subscription of {:?} has",
                client.client_id
            );
        }
        let Some(tag) = tag_of(&publish.properties) else {
            return;
        };
        let Some(sent) = self.sent.get(&tag).filter(|sent| !sent.poisoned) else {
            return;
        };
        assert_eq!(topic, sent.topic, "{id:?}: message {tag} on another topic");
        assert!(
            publish.payload == sent.payload.as_slice(),
            "{id:?}: message {tag} with another payload"
        );
        assert!(
            publish.qos <= sent.qos,
            "{id:?}: message {tag} of QoS {:?} at {:?}",
            sent.qos,
            publish.qos
        );
        assert!(
            sent.retain || !publish.retain,
            "{id:?}: message {tag} published without RETAIN, delivered with it"
        );
        assert_eq!(
            forwarded(&publish.properties),
            sent.forwarded,
            "{id:?}: message {tag}'s properties not forwarded unchanged: {:?}",
            publish.properties
        );
        let expiry = publish.properties.message_expiry_interval();
        match (sent.expiry, expiry) {
            (None, None) => {}
            (Some(published), Some(left)) => assert!(
                left <= published,
                "{id:?}: message {tag} with expiry {left} > {published}"
            ),
            (published, left) => panic!(
                "{id:?}: message {tag} published with expiry {published:?}, delivered with {left:?}"
            ),
        }
        // No Local [MQTT-3.8.3-3]: a live copy of the client's own message
        // only through a subscription without it (a retained copy may come
        // on subscribe).
        if let (Origin::Client(_, Some(origin)), Some(cid)) = (&sent.origin, &client.client_id) {
            if origin == cid && !publish.retain {
                assert!(
                    self.matching(i, topic).any(|g| !g.no_local),
                    "{id:?}: {cid:?}'s own message {tag} through a No Local subscription"
                );
            }
        }
    }
}
