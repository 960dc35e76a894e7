//! Feeding bytes to a connection, and the model of what the core must do
//! with each packet a client sends.

use mqlite::codec::{self, Ack, DecodeError, Packet, Protocol, QoS, ReasonCode};
use mqlite::topic::{is_valid_topic_filter, is_valid_topic_name};

use super::client_model::{Owed, Phase, Stage};
use super::{Script, MAX_PACKET_SIZE};

impl Script<'_> {
    /// Feeds bytes to client `i`'s connection and runs the model over them.
    pub(super) fn feed(&mut self, i: usize, bytes: &[u8]) {
        let now = self.now;
        let id = self.clients[i].id;
        self.clients[i].fed = true;
        if self.trace {
            match codec::decode(bytes, usize::MAX) {
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
        while self.clients[i].open() && !self.stopped {
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
                    client.close();
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
                if connect.protocol == Protocol::V5 {
                    // The model covers MQTT 3.1 and 3.1.1 only: an MQTT 5
                    // client (made only from raw input bytes) ends the
                    // checks, not the core's run.
                    if self.trace {
                        eprintln!("  MQTT 5 CONNECT: the model stops here");
                    }
                    self.stopped = true;
                    return;
                }
                client.protocol = connect.protocol;
                if connect.client_id.is_empty()
                    && !(connect.clean_session
                        && connect.protocol == Protocol::V311
                        && self.config.allow_zero_length_client_id)
                {
                    client
                        .owed
                        .push_back(Owed::ConnAck(ReasonCode::CLIENT_IDENTIFIER_NOT_VALID));
                    client.close();
                    return;
                }
                if let Some(will) = &connect.will {
                    if !is_valid_topic_name(will.topic) {
                        client.close();
                        return;
                    }
                }
                client.phase = Phase::Connected;
                client.clean = connect.clean_session;
                client.keep_alive = connect.keep_alive;
                client.owed.push_back(Owed::ConnAck(ReasonCode::SUCCESS));
                let client_id = connect.client_id.to_string();
                if !client_id.is_empty() {
                    // Takeover: the other connection of this client id ends.
                    for (j, other) in self.clients.iter_mut().enumerate() {
                        if j != i
                            && other.phase == Phase::Connected
                            && other.client_id.as_deref() == Some(client_id.as_str())
                        {
                            other.close();
                        }
                    }
                    self.clients[i].client_id = Some(client_id);
                }
                // An empty client id gets a generated one, learnt from
                // `connected_clients` at the end of the step.
            }
            Phase::Connected => match packet {
                Packet::Publish(publish) => {
                    if !is_valid_topic_name(publish.topic) {
                        client.close();
                        return;
                    }
                    match (publish.qos, publish.packet_id) {
                        (QoS::AtLeastOnce, Some(id)) => client.owed.push_back(Owed::PubAck(id)),
                        (QoS::ExactlyOnce, Some(id)) => client.owed.push_back(Owed::PubRec(id)),
                        _ => {}
                    }
                }
                // An acknowledgement its delivery's flow does not allow
                // closes the connection. Where the model does not know the
                // broker's side (an id it has not seen in flight, or
                // acknowledgements read together with other packets) the
                // broker may have sent a message with that id meanwhile:
                // either outcome is taken.
                Packet::PubAck(Ack { packet_id: id, .. }) => match client.known_stage(id) {
                    Some(Stage::Ack(QoS::AtLeastOnce)) => {
                        client.inflight.remove(&id);
                    }
                    Some(_) => client.close(),
                    None => client.ack_ambiguous = true,
                },
                Packet::PubRec(Ack { packet_id: id, .. }) => {
                    match client.known_stage(id) {
                        Some(Stage::Ack(QoS::ExactlyOnce)) => {
                            client.inflight.insert(id, Stage::Comp);
                        }
                        Some(Stage::Comp) => {}
                        Some(_) => {
                            client.close();
                            return;
                        }
                        None => client.ack_ambiguous = true,
                    }
                    client.owed.push_back(Owed::PubRel(id));
                }
                Packet::PubComp(Ack { packet_id: id, .. }) => match client.known_stage(id) {
                    Some(Stage::Comp) => {
                        client.inflight.remove(&id);
                    }
                    Some(_) => client.close(),
                    None => client.ack_ambiguous = true,
                },
                Packet::PubRel(ack) => client.owed.push_back(Owed::PubComp(ack.packet_id)),
                Packet::Subscribe(subscribe) => {
                    let mut codes = Vec::new();
                    for &(filter, options) in &subscribe.filters {
                        let qos = options.qos;
                        if is_valid_topic_filter(filter) {
                            codes.push(ReasonCode::granted(qos));
                            let entry = (filter.to_string(), qos);
                            match &client.client_id {
                                Some(cid) => {
                                    self.history.entry(cid.clone()).or_default().push(entry)
                                }
                                None => client.own_history.push(entry),
                            }
                        } else {
                            codes.push(ReasonCode::UNSPECIFIED_ERROR);
                        }
                    }
                    client
                        .owed
                        .push_back(Owed::SubAck(subscribe.packet_id, codes));
                }
                Packet::Unsubscribe(unsubscribe) => {
                    client.owed.push_back(Owed::UnsubAck(unsubscribe.packet_id));
                }
                Packet::PingReq => client.owed.push_back(Owed::PingResp),
                // DISCONNECT, a second CONNECT, server-to-client packets.
                _ => client.close(),
            },
        }
    }
}
