//! A session's subscriptions, plain or shared: SUBSCRIBE and UNSUBSCRIBE
//! from a client, and the one place that keeps the session's own list,
//! the trie and the shared groups in step.

use std::time::Instant;

use super::connection::CloseReason;
use super::router::Grant;
use super::shared::{parse_shared, SharedFilter};
use super::{ConnId, Core, SessionKey, Subscriber};
use crate::codec::{self, Packet, ReasonCode, RetainHandling, Subscribe, Unsubscribe};
use crate::hooks::{AclAccess, Event};
use crate::store::StoreOp;
use crate::topic::is_valid_topic_filter;

impl Core {
    /// Subscribes a session to `filter` (valid, or a valid `$share/...`)
    /// with `grant`; true if the session did not have it.
    pub(super) fn add_subscription(&mut self, key: SessionKey, filter: &str, grant: Grant) -> bool {
        match parse_shared(filter) {
            SharedFilter::Yes { filter: inner, .. } => self.join_shared(filter, inner, key, grant),
            SharedFilter::No => {
                self.router
                    .subscriptions
                    .subscribe(filter, Subscriber::Session(key), grant);
            }
            SharedFilter::Invalid => return false,
        }
        match self.sessions.get_mut(key) {
            Some(session) => session.add_subscription(filter, grant),
            None => false,
        }
    }

    /// Unsubscribes a session from `filter`; true if it had it.
    pub(super) fn remove_subscription(&mut self, key: SessionKey, filter: &str) -> bool {
        self.unroute_subscription(key, filter);
        match self.sessions.get_mut(key) {
            Some(session) => session.remove_subscription(filter),
            None => false,
        }
    }

    /// Takes a session's subscription to `filter` out of the trie or its
    /// shared group, leaving the session's own list as it is (for a session
    /// being removed whole).
    pub(super) fn unroute_subscription(&mut self, key: SessionKey, filter: &str) {
        match parse_shared(filter) {
            SharedFilter::Yes { .. } => {
                self.leave_shared(filter, key);
            }
            SharedFilter::No => {
                self.router
                    .subscriptions
                    .unsubscribe(filter, Subscriber::Session(key));
            }
            SharedFilter::Invalid => {}
        }
    }

    pub(super) fn handle_subscribe(
        &mut self,
        now: Instant,
        id: ConnId,
        key: SessionKey,
        subscribe: Subscribe<'_>,
    ) {
        let v5 = self.conns.get(id).is_some_and(|conn| conn.is_v5());
        let remote_bridge = self.conns.get(id).is_some_and(|conn| conn.remote_bridge);
        let identifier = subscribe
            .properties
            .subscription_identifiers()
            .next()
            .unwrap_or(0);
        let mut codes = Vec::with_capacity(subscribe.filters.len());
        let mut granted = Vec::with_capacity(subscribe.filters.len());
        let identity = if self.hooks.has_acl() || self.hooks.has_event() {
            let peer = self.conns.get(id).map(|conn| conn.peer.clone());
            peer.and_then(|peer| self.identity(key, peer))
        } else {
            None
        };
        for &(filter, options) in &subscribe.filters {
            let shared = parse_shared(filter);
            let acl_filter = match shared {
                SharedFilter::Invalid => {
                    codes.push(ReasonCode::TOPIC_FILTER_INVALID);
                    continue;
                }
                // No Local on a shared subscription is a Protocol Error
                // [MQTT-3.8.3-4].
                SharedFilter::Yes { .. } if options.no_local && v5 => {
                    self.close(now, id, CloseReason::ProtocolError);
                    return;
                }
                SharedFilter::Yes { filter: inner, .. } => inner,
                SharedFilter::No if !is_valid_topic_filter(filter) => {
                    codes.push(ReasonCode::TOPIC_FILTER_INVALID);
                    continue;
                }
                SharedFilter::No => filter,
            };
            let qos = options.qos.min(self.config.max_qos);
            // Another broker's bridge: what it published is not sent back
            // to it, and retained flags cross as they are (as mosquitto
            // treats a bridge).
            let options = if remote_bridge && shared == SharedFilter::No {
                codec::SubscriptionOptions {
                    no_local: true,
                    retain_as_published: true,
                    ..options
                }
            } else {
                options
            };
            if let Some(identity) = &identity {
                if !self
                    .hooks
                    .authorize(identity, AclAccess::Subscribe, acl_filter)
                {
                    // 0x80, not 0x87: the Eclipse Paho MQTT 5 interoperability
                    // suite expects a refused subscription to read 0x80, which
                    // the standard allows as well.
                    log::debug!("{} may not subscribe to {filter}", identity.client_id);
                    codes.push(ReasonCode::UNSPECIFIED_ERROR);
                    continue;
                }
                self.hooks.event(&Event::Subscribed {
                    client: identity.info(),
                    filter,
                    qos,
                });
            }
            let grant = Grant::new(codec::SubscriptionOptions { qos, ..options }, identifier);
            let new = self.add_subscription(key, filter, grant);
            self.record_session_op(key, |client_id| StoreOp::Subscribe {
                client_id,
                filter: filter.to_string(),
                options: codec::SubscriptionOptions { qos, ..options },
                identifier: grant.identifier(),
            });
            codes.push(ReasonCode::granted(qos));
            // A shared subscription gets no retained messages (§4.8.2).
            let send_retained = match options.retain_handling {
                _ if shared != SharedFilter::No => false,
                RetainHandling::SendOnSubscribe => true,
                RetainHandling::SendIfNew => new,
                RetainHandling::DoNotSend => false,
            };
            if send_retained {
                granted.push((filter, grant));
            }
        }
        let packet_id = subscribe.packet_id;
        self.write_to(id, |out| {
            // At most the SUBSCRIBE's size: it always encodes.
            codec::encode_suback(out, packet_id, &codes, v5.then_some(&[][..]));
        });
        // Retained messages follow the SUBACK, also when a subscription is
        // replaced [MQTT-3.8.4-3].
        for (filter, grant) in granted {
            self.deliver_retained(key, filter, grant);
        }
        let _ = now;
    }

    pub(super) fn handle_unsubscribe(
        &mut self,
        id: ConnId,
        key: SessionKey,
        unsubscribe: Unsubscribe<'_>,
    ) {
        let v5 = self.conns.get(id).is_some_and(|conn| conn.is_v5());
        let identity = if self.hooks.has_event() {
            let peer = self.conns.get(id).map(|conn| conn.peer.clone());
            peer.and_then(|peer| self.identity(key, peer))
        } else {
            None
        };
        let mut codes = Vec::new();
        for filter in &unsubscribe.filters {
            let removed = self.remove_subscription(key, filter);
            if v5 {
                codes.push(if removed {
                    ReasonCode::SUCCESS
                } else {
                    ReasonCode::NO_SUBSCRIPTION_EXISTED
                });
            }
            if removed {
                self.record_session_op(key, |client_id| StoreOp::Unsubscribe {
                    client_id,
                    filter: filter.to_string(),
                });
            }
            if let (true, Some(identity)) = (removed, &identity) {
                self.hooks.event(&Event::Unsubscribed {
                    client: identity.info(),
                    filter,
                });
            }
        }
        let unsuback = codec::UnsubAck {
            packet_id: unsubscribe.packet_id,
            codes,
            properties: codec::Properties::EMPTY,
        };
        let protocol = if v5 {
            codec::Protocol::V5
        } else {
            codec::Protocol::V311
        };
        self.write_to(id, |out| {
            // One code per filter of a decoded UNSUBSCRIBE: always encodes.
            let _ = codec::encode_as(&Packet::UnsubAck(unsuback), protocol, out);
        });
    }
}
