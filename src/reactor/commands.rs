//! The host's commands, taken from the inbox once per pass.

use std::time::Instant;

use super::inbox::Command;
use super::Reactor;
use crate::message::Message;

impl Reactor {
    /// Handles the commands that had arrived when the pass started, in the
    /// order they were sent.
    pub(super) fn drain_commands(&mut self, now: Instant) {
        self.shared.take(&mut self.inbox);
        let mut inbox = std::mem::take(&mut self.inbox);
        self.drained_commands |= !inbox.commands.is_empty();
        let mut offset = 0;
        for command in inbox.commands.drain(..) {
            match command {
                Command::Publish {
                    topic_len,
                    len,
                    qos,
                    retain,
                } => {
                    let record = inbox.bytes.get(offset..offset + len).unwrap_or_default();
                    offset += len;
                    let (topic, payload) = record.split_at(usize::from(topic_len).min(len));
                    // The sender copied the topic from a valid `&str`.
                    let message = std::str::from_utf8(topic)
                        .ok()
                        .and_then(|topic| Message::new(topic, payload, qos, retain));
                    if let Some(message) = message {
                        self.core.publish_message(now, message);
                    }
                }
                Command::PublishMessage(message) => self.core.publish_message(now, message),
                Command::PublishExpiring(message, interval) => {
                    self.core
                        .handle_host_publish_with(now, message, Some(interval));
                }
                Command::Kick(client_id) => {
                    self.core.handle_kick(now, &client_id);
                }
                Command::AddBridge(bridge, reply) => {
                    let _ = reply.send(self.add_bridge(now, *bridge));
                }
                Command::RemoveBridge(name, reply) => {
                    let _ = reply.send(self.remove_bridge(now, &name));
                }
                Command::BridgeStats(reply) => {
                    let _ = reply.send(self.core.bridge_stats());
                }
                Command::Stats(reply) => {
                    let _ = reply.send(self.core.stats());
                }
                Command::Clients(reply) => {
                    let _ = reply.send(self.core.connected_clients());
                }
                Command::Manage(request) => request(&mut self.core, now),
                Command::Reload(reply) => {
                    let _ = reply.send(self.reload());
                }
                Command::CompleteAuth(token, decision) => {
                    if !self.core.handle_auth_decision(now, token, decision) {
                        log::debug!("auth decision for a connection no longer pending");
                    }
                }
                Command::SubscribeLocal {
                    id,
                    filter,
                    qos,
                    sink,
                } => {
                    if let Err(error) = self.subscribe_local(id, &filter, qos, sink) {
                        log::warn!("local subscription refused: {error}");
                    }
                }
                Command::UnsubscribeLocal(id) => {
                    self.unsubscribe_local(id);
                }
                Command::Stop => self.stopping = true,
            }
            // Each command is done, local deliveries included, before the
            // next one (a stats reply counts them; an unsubscribe follows
            // the publishes sent before it).
            if self.core.has_local_deliveries() {
                self.locals.dispatch(&mut self.core);
            }
        }
        inbox.recycle();
        self.inbox = inbox;
    }
}
