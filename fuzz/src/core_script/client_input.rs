//! Feeding bytes to a connection, and the model of what the core must do
//! with each packet a client sends.

use std::collections::BTreeSet;

use mqlite::codec::{
    self, property, Ack, Connect, DecodeError, Packet, Protocol, Publish, QoS, ReasonCode,
    Reasoned, Subscribe, Unsubscribe,
};
use mqlite::topic::{is_valid_topic_filter, is_valid_topic_name};

use super::client_model::{Codes, Granted, Owed, Phase, Stage};
use super::{Script, MAX_INFLIGHT, MAX_PACKET_SIZE, MAX_TOPIC_ALIAS};

/// What a `$share/...` filter is (the core's rules, MQTT 5.0 §4.8.2).
pub(super) enum Shared<'a> {
    No,
    /// A valid shared subscription: its topic filter part.
    Yes(&'a str),
    Invalid,
}

pub(super) fn parse_shared(filter: &str) -> Shared<'_> {
    let Some(rest) = filter.strip_prefix("$share/") else {
        return Shared::No;
    };
    match rest.split_once('/') {
        Some((group, inner))
            if !group.is_empty() && !group.contains(['+', '#']) && is_valid_topic_filter(inner) =>
        {
            Shared::Yes(inner)
        }
        _ => Shared::Invalid,
    }
}

/// Whether a client publishing to `topic` is refused: `$SYS` belongs to
/// the broker (acknowledged with Not authorized, and dropped).
fn is_sys(topic: &str) -> bool {
    topic.starts_with("$SYS/") || topic == "$SYS"
}

impl Script<'_> {
    /// Feeds bytes to client `i`'s connection and runs the model over them.
    pub(super) fn feed(&mut self, i: usize, bytes: &[u8]) {
        let now = self.now;
        let id = self.clients[i].id;
        self.clients[i].fed = true;
        if self.trace {
            let protocol = match self.clients[i].phase {
                Phase::Connected => Some(self.clients[i].protocol),
                _ => None,
            };
            match codec::decode_as(bytes, usize::MAX, protocol) {
                Ok(Some((packet, used))) if used == bytes.len() => {
                    eprintln!("  -> {id:?}: {packet:?}")
                }
                _ => eprintln!(
                    "  -> {id:?}: {} bytes {:02x?}",
                    bytes.len(),
                    &bytes[..bytes.len().min(40)]
                ),
            }
        }
        self.core.handle_read(now, id, bytes);
        let client = &mut self.clients[i];
        if !client.open() {
            return; // The core ignores input of a closing connection.
        }
        client.input.extend_from_slice(bytes);
        let mut input = std::mem::take(&mut client.input);
        let mut pos = 0;
        let mut handled = 0;
        let mut acks = false;
        let mut connect = false;
        while self.clients[i].open() {
            let protocol = match self.clients[i].phase {
                Phase::Connected => Some(self.clients[i].protocol),
                _ => None,
            };
            match codec::decode_as(&input[pos..], MAX_PACKET_SIZE, protocol) {
                Ok(None) => break,
                Err(error) => {
                    let client = &mut self.clients[i];
                    if client.phase == Phase::AwaitingConnect
                        && matches!(error, DecodeError::UnsupportedProtocolLevel(_))
                    {
                        client
                            .owed
                            .push_back(Owed::ConnAck(ReasonCode::UNSUPPORTED_PROTOCOL_VERSION));
                    }
                    client.close_with(error.reason_code());
                }
                Ok(Some((packet, used))) => {
                    pos += used;
                    handled += 1;
                    acks |= matches!(
                        packet,
                        Packet::PubAck(_) | Packet::PubRec(_) | Packet::PubComp(_)
                    );
                    if connect && matches!(packet, Packet::PubRec(_)) {
                        self.clients[i].pubrel_ambiguous = true;
                    }
                    connect |= matches!(packet, Packet::Connect(_));
                    self.clients[i].last_packet_at = now;
                    self.model_packet(i, packet);
                }
            }
        }
        let client = &mut self.clients[i];
        if client.open() {
            input.drain(..pos);
            client.input = input;
        }
        if handled > 1 && acks {
            client.inflight_known = false;
        }
    }

    /// What the core must do with one packet from client `i`.
    pub(super) fn model_packet(&mut self, i: usize, packet: Packet<'_>) {
        let client = &mut self.clients[i];
        match client.phase {
            Phase::Closed => unreachable!("packet handled after close"),
            Phase::AwaitingConnect => {
                let Packet::Connect(connect) = packet else {
                    client.close();
                    return;
                };
                self.model_connect(i, *connect);
            }
            Phase::Connected => match packet {
                Packet::Publish(publish) => self.model_publish(i, publish),
                // An acknowledgement its delivery's flow does not allow
                // closes the connection. Where the model does not know the
                // broker's side (an id it has not seen in flight, or
                // acknowledgements read together with other packets) the
                // broker may have sent a message with that id meanwhile:
                // either outcome is taken.
                Packet::PubAck(Ack { packet_id: id, .. }) => match client.known_stage(id) {
                    Some(Stage::Ack(QoS::AtLeastOnce)) => client.complete(id),
                    Some(_) => client.close_with(ReasonCode::PROTOCOL_ERROR),
                    None => client.may_close_with(ReasonCode::PROTOCOL_ERROR),
                },
                // MQTT 5: a PUBREC with an error code ends a QoS 2 flow
                // awaiting it (no PUBREL); one for an unknown id is ignored.
                Packet::PubRec(Ack {
                    packet_id: id,
                    reason,
                    ..
                }) if reason.is_error() => match client.known_stage(id) {
                    Some(Stage::Ack(QoS::ExactlyOnce)) => client.complete(id),
                    Some(_) => client.close_with(ReasonCode::PROTOCOL_ERROR),
                    None => client.may_close_with(ReasonCode::PROTOCOL_ERROR),
                },
                Packet::PubRec(Ack { packet_id: id, .. }) => {
                    match client.known_stage(id) {
                        Some(Stage::Ack(QoS::ExactlyOnce)) => {
                            client.inflight.insert(id, Stage::Comp);
                        }
                        Some(Stage::Comp) => {}
                        Some(_) => {
                            client.close_with(ReasonCode::PROTOCOL_ERROR);
                            return;
                        }
                        None => client.may_close_with(ReasonCode::PROTOCOL_ERROR),
                    }
                    client.owed.push_back(Owed::PubRel(id));
                }
                Packet::PubComp(Ack { packet_id: id, .. }) => match client.known_stage(id) {
                    Some(Stage::Comp) => client.complete(id),
                    Some(_) => client.close_with(ReasonCode::PROTOCOL_ERROR),
                    None => client.may_close_with(ReasonCode::PROTOCOL_ERROR),
                },
                Packet::PubRel(ack) => {
                    let id = ack.packet_id;
                    let released = client.inbound_qos2.as_mut().map(|ids| ids.remove(&id));
                    // MQTT 5 tells a client releasing an id it never sent
                    // that it was not found.
                    let codes = match (client.v5(), released) {
                        (false, _) | (true, Some(true)) => Codes::SUCCESS,
                        (true, Some(false)) => Codes::one(ReasonCode::PACKET_IDENTIFIER_NOT_FOUND),
                        (true, None) => Codes::either(
                            ReasonCode::SUCCESS,
                            ReasonCode::PACKET_IDENTIFIER_NOT_FOUND,
                        ),
                    };
                    client.owed.push_back(Owed::PubComp(id, codes));
                }
                Packet::Subscribe(subscribe) => self.model_subscribe(i, subscribe),
                Packet::Unsubscribe(unsubscribe) => self.model_unsubscribe(i, unsubscribe),
                Packet::PingReq => client.owed.push_back(Owed::PingResp),
                Packet::Disconnect(disconnect) => self.model_disconnect(i, disconnect),
                // AUTH with no enhanced authentication under way, a second
                // CONNECT, server-to-client packets.
                _ => client.close_with(ReasonCode::PROTOCOL_ERROR),
            },
        }
    }

    fn model_connect(&mut self, i: usize, connect: Connect<'_>) {
        let session_expiry = self.config.session_expiry;
        let allow_empty = self.config.allow_zero_length_client_id;
        let client = &mut self.clients[i];
        let v5 = connect.protocol == Protocol::V5;
        client.protocol = connect.protocol;
        let p = &connect.properties;
        client.expiry_asked = if v5 {
            p.session_expiry_interval().unwrap_or(0)
        } else if connect.clean_session {
            0
        } else {
            u32::MAX
        };
        client.expiry = match session_expiry {
            Some(limit) => client
                .expiry_asked
                .min(u32::try_from(limit.as_secs()).unwrap_or(u32::MAX - 1)),
            None => client.expiry_asked,
        };
        client.receive_max = p.receive_maximum().unwrap_or(u16::MAX);
        client.max_packet = p.maximum_packet_size().unwrap_or(u32::MAX);
        client.alias_max = p.topic_alias_maximum().unwrap_or(0);
        client.problem_information = p.request_problem_information() != Some(0);
        let refuse = |client: &mut super::client_model::Client, code| {
            client.owed.push_back(Owed::ConnAck(code));
            client.close();
        };
        if connect.client_id.is_empty()
            && !(allow_empty
                && (v5 || (connect.clean_session && connect.protocol == Protocol::V311)))
        {
            refuse(client, ReasonCode::CLIENT_IDENTIFIER_NOT_VALID);
            return;
        }
        if let Some(will) = &connect.will {
            if !is_valid_topic_name(will.topic) {
                if v5 {
                    refuse(client, ReasonCode::TOPIC_NAME_INVALID);
                } else {
                    client.close();
                }
                return;
            }
        }
        // Without an authentication hook no enhanced authentication
        // method is known.
        if p.authentication_method().is_some() {
            refuse(client, ReasonCode::BAD_AUTHENTICATION_METHOD);
            return;
        }
        client.phase = Phase::Connected;
        if let (Some(store), true) = (&mut self.store, v5) {
            store.drops = true;
        }
        let client = &mut self.clients[i];
        client.clean = connect.clean_session;
        client.keep_alive = connect.keep_alive;
        client.owed.push_back(Owed::ConnAck(ReasonCode::SUCCESS));
        client.assigned_expected = v5 && connect.client_id.is_empty();
        // A new session (Clean Start, or a client id made up for it) starts
        // with nothing; a resumed one holds what earlier connections left.
        let fresh = connect.clean_session || connect.client_id.is_empty();
        client.inbound_qos2 = fresh.then(BTreeSet::new);
        client.subscriptions = fresh.then(BTreeSet::new);
        let client_id = connect.client_id.to_string();
        if let (Some(will), true) = (&connect.will, v5) {
            let serial = client.serial;
            self.record_sent(
                will.topic,
                will.payload,
                will.qos,
                will.retain,
                will.properties,
                None,
                serial,
            );
        }
        if !client_id.is_empty() {
            // Takeover: the other connection of this client id ends.
            for (j, other) in self.clients.iter_mut().enumerate() {
                if j != i
                    && other.phase == Phase::Connected
                    && other.client_id.as_deref() == Some(client_id.as_str())
                {
                    other.close_with(ReasonCode::SESSION_TAKEN_OVER);
                }
            }
            self.clients[i].client_id = Some(client_id);
        }
        // An empty client id gets a generated one, learnt from CONNACK
        // (MQTT 5) or `connected_clients` at the end of the step.
    }

    fn model_publish(&mut self, i: usize, publish: Publish<'_>) {
        let client = &mut self.clients[i];
        let v5 = client.v5();
        let mut topic = publish.topic.to_string();
        if v5 {
            // What an MQTT 5 PUBLISH may not carry: a Subscription
            // Identifier [MQTT-3.3.4-6].
            if publish
                .properties
                .get(property::SUBSCRIPTION_IDENTIFIER)
                .is_some()
            {
                client.close_with(ReasonCode::PROTOCOL_ERROR);
                return;
            }
            let alias = publish.properties.topic_alias();
            if alias.is_some() || topic.is_empty() {
                match resolve_alias(&mut client.aliases_in, &topic, alias) {
                    Ok(resolved) => topic = resolved,
                    Err(code) => {
                        client.close_with(code);
                        return;
                    }
                }
            }
        }
        if !is_valid_topic_name(&topic) {
            client.close_with(ReasonCode::TOPIC_NAME_INVALID);
            return;
        }
        // PUBACK / PUBREC codes: Not authorized for `$SYS`; else Success,
        // or No matching subscribers (the model does not follow every
        // session's subscriptions).
        let routed_codes = if !v5 {
            Codes::SUCCESS
        } else if is_sys(&topic) {
            Codes::one(ReasonCode::NOT_AUTHORIZED)
        } else {
            Codes::either(ReasonCode::SUCCESS, ReasonCode::NO_MATCHING_SUBSCRIBERS)
        };
        let mut routed = true;
        match (publish.qos, publish.packet_id) {
            (QoS::AtLeastOnce, Some(id)) => client.owed.push_back(Owed::PubAck(id, routed_codes)),
            (QoS::ExactlyOnce, Some(id)) => {
                let codes = match &mut client.inbound_qos2 {
                    // A resent QoS 2 PUBLISH whose id awaits PUBREL is only
                    // acknowledged again.
                    Some(ids) if ids.contains(&id) => {
                        routed = false;
                        Codes::SUCCESS
                    }
                    // MQTT 5: at most our Receive Maximum unreleased
                    // [MQTT-3.3.4-9].
                    Some(ids) if v5 && ids.len() >= usize::from(MAX_INFLIGHT) => {
                        client.close_with(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED);
                        return;
                    }
                    Some(ids) => {
                        // A refused message ($SYS) is not kept waiting for
                        // PUBREL.
                        if !is_sys(&topic) {
                            ids.insert(id);
                        }
                        routed_codes
                    }
                    // The session's unreleased ids are not known: the id
                    // may be one of them (Success, not routed), or too many
                    // may be.
                    None if v5 => {
                        client.may_close_with(ReasonCode::RECEIVE_MAXIMUM_EXCEEDED);
                        if is_sys(&topic) {
                            Codes::either(ReasonCode::SUCCESS, ReasonCode::NOT_AUTHORIZED)
                        } else {
                            routed_codes
                        }
                    }
                    None => Codes::SUCCESS,
                };
                client.owed.push_back(Owed::PubRec(id, codes));
            }
            _ => {}
        }
        if v5 && routed && !is_sys(&topic) {
            let serial = client.serial;
            let origin = client.client_id.clone();
            self.record_sent(
                &topic,
                publish.payload,
                publish.qos,
                publish.retain,
                publish.properties,
                Some(origin),
                serial,
            );
        }
    }

    fn model_subscribe(&mut self, i: usize, subscribe: Subscribe<'_>) {
        let client = &mut self.clients[i];
        let v5 = client.v5();
        let identifier = subscribe
            .properties
            .subscription_identifiers()
            .next()
            .unwrap_or(0);
        let mut codes = Vec::new();
        // A 3.1.1 client is told 0x80 for any failure.
        let invalid = if v5 {
            ReasonCode::TOPIC_FILTER_INVALID
        } else {
            ReasonCode::UNSPECIFIED_ERROR
        };
        for &(filter, options) in &subscribe.filters {
            let matched = match parse_shared(filter) {
                Shared::Invalid => {
                    codes.push(invalid);
                    continue;
                }
                // No Local on a shared subscription is a Protocol Error
                // [MQTT-3.8.3-4] (the filters before it stay granted).
                Shared::Yes(_) if options.no_local && v5 => {
                    client.close_with(ReasonCode::PROTOCOL_ERROR);
                    return;
                }
                Shared::Yes(inner) => inner,
                Shared::No if !is_valid_topic_filter(filter) => {
                    codes.push(invalid);
                    continue;
                }
                Shared::No => filter,
            };
            let qos = options.qos;
            codes.push(ReasonCode::granted(qos));
            let entry = Granted {
                filter: matched.to_string(),
                qos,
                no_local: options.no_local,
                identifier,
            };
            match &client.client_id {
                Some(cid) => self.history.entry(cid.clone()).or_default().push(entry),
                None => client.own_history.push(entry),
            }
            if let Some(subscriptions) = &mut client.subscriptions {
                subscriptions.insert(filter.to_string());
            }
        }
        client
            .owed
            .push_back(Owed::SubAck(subscribe.packet_id, codes));
    }

    fn model_unsubscribe(&mut self, i: usize, unsubscribe: Unsubscribe<'_>) {
        let client = &mut self.clients[i];
        let v5 = client.v5();
        let mut codes = Vec::new();
        for filter in &unsubscribe.filters {
            let removed = client
                .subscriptions
                .as_mut()
                .map(|subscriptions| subscriptions.remove(*filter));
            let code = match removed {
                Some(true) => Codes::SUCCESS,
                Some(false) => Codes::one(ReasonCode::NO_SUBSCRIPTION_EXISTED),
                None => Codes::either(ReasonCode::SUCCESS, ReasonCode::NO_SUBSCRIPTION_EXISTED),
            };
            if v5 {
                codes.push(code);
            }
        }
        client
            .owed
            .push_back(Owed::UnsubAck(unsubscribe.packet_id, codes));
    }

    /// DISCONNECT from the client: MQTT 5 may change the Session Expiry
    /// Interval, but not from 0 [MQTT-3.14.2-2].
    fn model_disconnect(&mut self, i: usize, disconnect: Reasoned<'_>) {
        let client = &mut self.clients[i];
        if let Some(expiry) = disconnect.properties.session_expiry_interval() {
            if client.expiry == 0 && expiry != 0 {
                client.close_with(ReasonCode::PROTOCOL_ERROR);
                return;
            }
        }
        client.close();
    }
}

/// The topic a PUBLISH from a client names, from its topic and Topic
/// Alias, as the core reads them (`TopicAliases::resolve`): a topic with an
/// alias sets it; an empty topic uses it. Errors with the reason the
/// connection closes.
fn resolve_alias(
    aliases: &mut Vec<Option<String>>,
    topic: &str,
    alias: Option<u16>,
) -> Result<String, ReasonCode> {
    let Some(alias) = alias else {
        return if topic.is_empty() {
            Err(ReasonCode::PROTOCOL_ERROR)
        } else {
            Ok(topic.to_string())
        };
    };
    if alias == 0 || alias > MAX_TOPIC_ALIAS {
        return Err(ReasonCode::TOPIC_ALIAS_INVALID);
    }
    let slot = usize::from(alias - 1);
    if topic.is_empty() {
        return match aliases.get(slot) {
            Some(Some(known)) => Ok(known.clone()),
            _ => Err(ReasonCode::PROTOCOL_ERROR),
        };
    }
    if aliases.len() <= slot {
        aliases.resize(slot + 1, None);
    }
    aliases[slot] = Some(topic.to_string());
    Ok(topic.to_string())
}
