//! Bridges in the core: an upstream broker reached through a connection
//! the driver opens, on which the broker is the client.
//!
//! A bridge is a session of the core like any client's, under a client id
//! no client may take (`$bridge/<name>`): its `out` topics are that
//! session's subscriptions (No Local, so what came in through the bridge
//! never goes back out; Retain As Published), so what it must send upstream
//! is queued, kept in the store, sent within the window and taken out only
//! when the upstream acknowledged it, exactly as for a client. Messages
//! cross at the bridge topic's QoS (a QoS 0 message on a QoS 1 topic is
//! queued and acknowledged like a QoS 1 one).
//!
//! The connection differs from a client's only at its ends: the core sends
//! CONNECT and reads CONNACK; then SUBSCRIBEs upstream for the `in` topics,
//! publishes the link's state, sends PINGREQ every keep alive, and maps the
//! topics between the local and remote prefixes as they cross. A PUBLISH
//! from upstream is handled as a client's publish, from the bridge's
//! identity (the ACL and message hooks apply).

use std::sync::Arc;
use std::time::Instant;

use super::bridge_topics::{Crossed, TopicMap};
use super::connect_options::SESSION_NEVER_EXPIRES;
use super::connection::{CloseReason, ConnState};
use super::router::Grant;
use super::session::Session;
use super::timers::Timer;
use super::{ConnId, Core, Message, SessionKey};
use crate::bridge::{Bridge, BridgeProtocol};
use crate::codec::{
    self, property, Connect, Packet, PropertiesBuilder, Protocol, QoS, RetainHandling,
    SubscriptionOptions, Will,
};
use crate::peer::Peer;
use crate::store::StoreOp;
use crate::Error;

/// The client ids of bridges' local sessions start with this; clients may
/// not connect with such an id.
pub(crate) const BRIDGE_SESSION_PREFIX: &str = "$bridge/";

/// Identifies a bridge inside one core.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct BridgeId(pub usize);

/// A bridge's state and counters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BridgeStats {
    /// The bridge's name.
    pub name: String,
    /// Whether the link is up (CONNACK received).
    pub connected: bool,
    /// Times the link came up.
    pub connections: u64,
    /// Messages sent upstream (resends not counted again).
    pub sent: u64,
    /// Messages received from upstream.
    pub received: u64,
    /// Messages waiting to go upstream, queued or in flight (those in the
    /// store included).
    pub queued: usize,
    /// Messages for upstream dropped: the queue was full
    /// (`max_queued_messages` / `max_queued_bytes`), or a QoS 0 topic's
    /// message while the link was down.
    pub dropped: u64,
}

/// One bridge.
pub(super) struct BridgeLink {
    pub(super) settings: Arc<Bridge>,
    /// Its local session.
    pub(super) key: SessionKey,
    /// Its connection, from `bridge_connected` until released.
    pub(super) conn: Option<ConnId>,
    /// The upstream refused the bridge bit of `try_private` (an unknown
    /// protocol level to it): later attempts go without it.
    pub(super) private_refused: bool,
    pub(super) connected: bool,
    pub(super) connections: u64,
    pub(super) received: u64,
    /// Messages sent and received when a lazy bridge's idle check last
    /// looked.
    pub(super) activity_mark: (u64, u64),
}

/// What a bridge's connection carries beyond a client's.
pub(crate) struct BridgeConn {
    pub(crate) id: BridgeId,
    pub(crate) settings: Arc<Bridge>,
    /// Its topic lines, made ready for the messages that cross.
    pub(super) topics: TopicMap,
    /// Whether its CONNECT set the bridge bit.
    pub(super) private: bool,
}

impl BridgeConn {
    /// `message` as it goes upstream: its topic with the remote prefix.
    pub(crate) fn outgoing(&self, message: &Message) -> Option<Message> {
        match self.topics.outgoing(message.topic())? {
            Crossed::Same => Some(message.clone()),
            Crossed::Renamed(topic) => message.with_topic(&topic),
        }
    }
}

/// The local session's client id of bridge `name`.
fn session_id(name: &str) -> String {
    format!("{BRIDGE_SESSION_PREFIX}{name}")
}

impl Core {
    /// Adds a bridge: its local session (the one restored from the store,
    /// if any, unless `local_clean`) with its `out` topics as
    /// subscriptions. The driver then connects it and calls
    /// [`Core::handle_bridge_connected`].
    ///
    /// # Errors
    /// An invalid bridge, or one whose name is taken.
    pub fn add_bridge(&mut self, now: Instant, bridge: Bridge) -> Result<BridgeId, Error> {
        self.tick(now);
        bridge.validate()?;
        if self.bridge_named(&bridge.name).is_some() {
            return Err(Error::Config {
                field: format!("bridge {}", bridge.name),
                reason: "a bridge of that name exists".into(),
            });
        }
        let client_id = session_id(&bridge.name);
        let mut key = self.sessions.key_of(&client_id);
        if let Some(existing) = key.filter(|_| bridge.local_clean()) {
            self.end_session(now, existing);
            key = None;
        }
        let key = match key {
            Some(key) => key,
            None => {
                let mut session = Session::new(Arc::from(client_id.as_str()), false, ConnId(0));
                session.conn = None;
                session.expiry_interval = SESSION_NEVER_EXPIRES;
                let key = self.sessions.insert(session);
                self.record_session_op(key, |client_id| StoreOp::SessionCreate { client_id });
                self.record_session_expiry(key);
                key
            }
        };
        if let Some(session) = self.sessions.get_mut(key) {
            session.crosses_at_granted_qos = true;
        }
        self.set_bridge_subscriptions(key, &bridge);
        let link = BridgeLink {
            settings: Arc::new(bridge),
            key,
            conn: None,
            private_refused: false,
            connected: false,
            connections: 0,
            received: 0,
            activity_mark: (0, 0),
        };
        let slot = self.bridges.iter().position(Option::is_none);
        let id = match slot {
            Some(index) => {
                self.bridges[index] = Some(link);
                index
            }
            None => {
                self.bridges.push(Some(link));
                self.bridges.len() - 1
            }
        };
        Ok(BridgeId(id))
    }

    /// Makes the session's subscriptions those of the bridge's `out`
    /// topics (a restored session may have others from an older
    /// configuration); a new one gets the retained messages it matches.
    fn set_bridge_subscriptions(&mut self, key: SessionKey, bridge: &Bridge) {
        let wanted: Vec<(String, SubscriptionOptions)> = bridge
            .topics
            .iter()
            .filter(|t| t.goes_out())
            .map(|t| {
                let options = SubscriptionOptions {
                    qos: t.qos,
                    no_local: true,
                    retain_as_published: true,
                    retain_handling: RetainHandling::SendOnSubscribe,
                };
                (t.local_filter(), options)
            })
            .collect();
        let stale: Vec<String> = self
            .sessions
            .get(key)
            .map(|s| {
                s.subscriptions
                    .keys()
                    .filter(|f| !wanted.iter().any(|(w, _)| **w == ***f))
                    .map(|f| f.to_string())
                    .collect()
            })
            .unwrap_or_default();
        for filter in stale {
            self.remove_subscription(key, &filter);
            self.record_session_op(key, |client_id| StoreOp::Unsubscribe { client_id, filter });
        }
        for (filter, options) in wanted {
            let grant = Grant::new(options, 0);
            let same = self
                .sessions
                .get(key)
                .and_then(|s| s.subscriptions.get(filter.as_str()))
                .is_some_and(|g| *g == grant);
            if same {
                continue;
            }
            let new = self.add_subscription(key, &filter, grant);
            self.record_session_op(key, |client_id| StoreOp::Subscribe {
                client_id,
                filter: filter.clone(),
                options,
                identifier: 0,
            });
            if new {
                self.deliver_retained(key, &filter, grant);
            }
        }
    }

    /// Removes the bridge `name`: its link closes and its local session,
    /// with what it still had queued, is dropped (also the session of a
    /// bridge restored from the store but not added again). False if there
    /// is neither.
    pub fn remove_bridge(&mut self, now: Instant, name: &str) -> bool {
        self.tick(now);
        let Some(id) = self.bridge_named(name) else {
            return match self.sessions.key_of(&session_id(name)) {
                Some(key) => {
                    self.end_session(now, key);
                    true
                }
                None => false,
            };
        };
        if let Some(conn) = self.bridges[id.0].as_ref().and_then(|l| l.conn) {
            self.close(now, conn, CloseReason::Kicked);
        }
        if let Some(link) = self.bridges[id.0].take() {
            self.end_session(now, link.key);
        }
        true
    }

    /// The names of bridges whose sessions were restored from the store
    /// but which are not (yet) added: their queues go on filling.
    pub fn orphan_bridge_sessions(&self) -> Vec<String> {
        self.sessions
            .iter()
            .filter_map(|(_, s)| s.client_id.strip_prefix(BRIDGE_SESSION_PREFIX))
            .filter(|name| self.bridge_named(name).is_none())
            .map(str::to_string)
            .collect()
    }

    /// The bridge named `name`.
    pub fn bridge_named(&self, name: &str) -> Option<BridgeId> {
        self.bridges
            .iter()
            .position(|l| l.as_ref().is_some_and(|l| l.settings.name == name))
            .map(BridgeId)
    }

    /// Every bridge, with its settings.
    pub fn bridges(&self) -> impl Iterator<Item = (BridgeId, &Bridge)> + '_ {
        self.bridges
            .iter()
            .enumerate()
            .filter_map(|(i, l)| l.as_ref().map(|l| (BridgeId(i), &*l.settings)))
    }

    /// The connection of bridge `id`, from `handle_bridge_connected` until
    /// the core closes it (the driver reconnects after that).
    pub fn bridge_conn(&self, id: BridgeId) -> Option<ConnId> {
        let link = self.bridges.get(id.0)?.as_ref()?;
        let conn = link.conn?;
        match self.conns.get(conn) {
            Some(c) if c.state != ConnState::Closing => Some(conn),
            _ => None,
        }
    }

    /// Messages waiting for bridge `id`'s upstream: queued or in flight,
    /// those in the store included.
    pub fn bridge_queued(&self, id: BridgeId) -> usize {
        self.bridges
            .get(id.0)
            .and_then(Option::as_ref)
            .and_then(|link| self.sessions.get(link.key))
            .map_or(0, |s| {
                s.queued_messages() + s.inflight.len() + s.stored_only.messages
            })
    }

    /// The state and counters of every bridge.
    pub fn bridge_stats(&self) -> Vec<BridgeStats> {
        self.bridges
            .iter()
            .flatten()
            .map(|link| {
                let session = self.sessions.get(link.key);
                BridgeStats {
                    name: link.settings.name.clone(),
                    connected: link.connected,
                    connections: link.connections,
                    sent: session.map_or(0, |s| s.messages_sent),
                    received: link.received,
                    queued: session.map_or(0, |s| {
                        s.queued_messages() + s.inflight.len() + s.stored_only.messages
                    }),
                    dropped: session.map_or(0, |s| s.messages_dropped),
                }
            })
            .collect()
    }

    /// The driver connected a socket to an upstream broker of bridge `id`
    /// (over TLS, once its handshake is done): the core sends CONNECT on
    /// it. `None` when there is no such bridge.
    pub fn handle_bridge_connected(
        &mut self,
        now: Instant,
        id: BridgeId,
        peer: impl Into<Peer>,
    ) -> Option<ConnId> {
        self.tick(now);
        let link = self.bridges.get(id.0)?.as_ref()?;
        let settings = Arc::clone(&link.settings);
        let private = settings.try_private && !link.private_refused;
        let listener = self.bridge_listener();
        let (conn_id, generation) = self.conns.insert(peer.into(), listener, now);
        self.stats.connections += 1;
        let protocol = match settings.protocol {
            BridgeProtocol::V31 => Protocol::V31,
            BridgeProtocol::V311 => Protocol::V311,
            BridgeProtocol::V5 => Protocol::V5,
        };
        let connect = self.bridge_connect_bytes(&settings, protocol, private);
        let conn = self.conns.get_mut(conn_id)?;
        conn.state = ConnState::BridgeConnecting;
        conn.protocol = protocol;
        conn.bridge = Some(Box::new(BridgeConn {
            id,
            topics: TopicMap::new(&settings),
            settings: Arc::clone(&settings),
            private,
        }));
        self.outbox.encode(conn_id, conn, &self.store, |out| {
            out.extend_from_slice(&connect)
        });
        self.timers.push(
            now + self.config.connect_timeout,
            Timer::ConnectTimeout(conn_id, generation),
        );
        if let Some(link) = self.bridges.get_mut(id.0).and_then(Option::as_mut) {
            link.conn = Some(conn_id);
        }
        log::info!(
            "bridge {}: connecting as {}{}",
            settings.name,
            settings.client_id(),
            if private { " (as a bridge)" } else { "" }
        );
        Some(conn_id)
    }

    /// The listener number bridge connections count under: one past the
    /// configured listeners (no listener's limits apply to them).
    pub(super) fn bridge_listener(&self) -> u16 {
        let count = self.config.listeners.len() + self.config.custom_listeners.len();
        u16::try_from(count).unwrap_or(u16::MAX)
    }

    /// The CONNECT of a bridge: its will is the link's state `0` (retained)
    /// when it publishes notifications.
    fn bridge_connect_bytes(
        &self,
        settings: &Bridge,
        protocol: Protocol,
        private: bool,
    ) -> Vec<u8> {
        let client_id = settings.client_id();
        let state_topic = settings.state_topic();
        let v5 = protocol == Protocol::V5;
        let mut properties = PropertiesBuilder::new();
        if v5 {
            let expiry = if settings.clean_session { 0 } else { u32::MAX };
            properties.four_byte(property::SESSION_EXPIRY_INTERVAL, expiry);
            if self.config.max_inflight < u16::MAX {
                properties.two_byte(property::RECEIVE_MAXIMUM, self.config.max_inflight);
            }
            let max = u32::try_from(self.config.max_packet_size).unwrap_or(u32::MAX);
            properties.four_byte(property::MAXIMUM_PACKET_SIZE, max);
        }
        let connect = Connect {
            bridge: private,
            protocol,
            clean_session: settings.clean_session,
            keep_alive: u16::try_from(settings.keepalive.as_secs()).unwrap_or(u16::MAX),
            client_id: &client_id,
            will: settings.notifications.then(|| Will {
                topic: &state_topic,
                payload: b"0",
                qos: QoS::AtLeastOnce,
                retain: true,
                properties: codec::Properties::EMPTY,
            }),
            username: settings.remote_username.as_deref(),
            password: settings.remote_password.as_deref().map(str::as_bytes),
            properties: properties.unchecked(),
        };
        let mut out = Vec::new();
        // Validated settings: the CONNECT encodes.
        let _ = codec::encode_as(&Packet::Connect(Box::new(connect)), protocol, &mut out);
        out
    }
}
