//! The host's management requests: snapshots of clients, sessions,
//! subscriptions and retained messages, and discarding a session or a
//! retained message. Each change is recorded for the store exactly as the
//! broker's own (a session's end, a retained clear), so a persistence file
//! follows.

use std::time::{Instant, SystemTime};

use super::connect_options::SESSION_NEVER_EXPIRES;
use super::connection::CloseReason;
use super::session::Session;
use super::{Core, SessionKey, BRIDGE_SESSION_PREFIX};
use crate::management::{ConnectedClient, SessionInfo, SubscriptionInfo};
use crate::message::Message;
use crate::Error;

impl Core {
    /// Every client connected now. `now` and `wall_now` are the same
    /// moment on the monotonic and the wall clock: the core keeps no wall
    /// time, and gives connection times on the wall clock through them.
    /// The broker's own bridge links are left out (see
    /// [`Core::bridge_stats`]).
    pub fn clients(&self, now: Instant, wall_now: SystemTime) -> Vec<ConnectedClient> {
        self.host_sessions()
            .filter_map(|(_, session)| {
                let conn = self.conns.get(session.conn?)?;
                let since = now.saturating_duration_since(conn.connected_at);
                Some(ConnectedClient {
                    client_id: session.client_id.to_string(),
                    username: session.username.as_deref().map(str::to_string),
                    protocol: conn.protocol,
                    peer: conn.peer.clone(),
                    listener: conn.listener,
                    connected_at: wall_now.checked_sub(since).unwrap_or(wall_now),
                    persistent: !session.clean,
                    subscriptions: session.subscriptions.len(),
                    queued: session.queued_messages(),
                    inflight: session.inflight.len(),
                    messages_sent: session.messages_sent,
                    messages_dropped: session.messages_dropped,
                })
            })
            .collect()
    }

    /// Every session, connected or not (a clean one exists only while its
    /// client is connected), bridges' own left out.
    pub fn sessions(&self, now: Instant) -> Vec<SessionInfo> {
        self.host_sessions()
            .map(|(_, session)| SessionInfo {
                client_id: session.client_id.to_string(),
                connected: session.conn.is_some(),
                persistent: !session.clean,
                expiry_interval: (session.expiry_interval != SESSION_NEVER_EXPIRES)
                    .then_some(session.expiry_interval),
                expires_in: session
                    .expires_at
                    .filter(|_| session.conn.is_none())
                    .map(|at| at.saturating_duration_since(now)),
                username: session.username.as_deref().map(str::to_string),
                subscriptions: session.subscriptions.len(),
                queued: session.queued_messages(),
                inflight: session.inflight.len(),
            })
            .collect()
    }

    /// The subscriptions of the session of `client_id`, sorted by filter;
    /// `None` when there is no such session.
    pub fn session_subscriptions(&self, client_id: &str) -> Option<Vec<SubscriptionInfo>> {
        let session = self.host_session(client_id)?.1;
        let mut list: Vec<SubscriptionInfo> = session
            .subscriptions
            .iter()
            .map(|(filter, grant)| SubscriptionInfo {
                filter: filter.to_string(),
                qos: grant.qos(),
                no_local: grant.no_local(),
                retain_as_published: grant.retain_as_published(),
                identifier: Some(grant.identifier()).filter(|&id| id != 0),
            })
            .collect();
        list.sort_by(|a, b| a.filter.cmp(&b.filter));
        Some(list)
    }

    /// Discards the session of `client_id`: a connected client is closed
    /// first as by a kick (an MQTT 5 client is told 0x98 Administrative
    /// action; its will is published), then the session goes with its
    /// subscriptions, queue and in-flight messages, in the store too; a
    /// will still waiting for its delay is published now, as when a
    /// session expires. False when there is no such session (a bridge's
    /// own session is not the host's to discard: see
    /// `Broker::remove_bridge`).
    pub fn delete_session(&mut self, now: Instant, client_id: &str) -> bool {
        self.tick(now);
        let Some((key, session)) = self.host_session(client_id) else {
            return false;
        };
        if let Some(id) = session.conn {
            self.close(now, id, CloseReason::Kicked);
        }
        // A clean session ended with its connection; a persistent one is
        // now offline, and its client id may not be this key's any more.
        if self.sessions.key_of(client_id) == Some(key) {
            self.end_session(now, key);
        }
        true
    }

    /// The retained messages, all of them (`$SYS` ones included) or those
    /// whose topic `filter` matches (where, as for a subscription, a
    /// filter starting with a wildcard does not match `$` topics), sorted
    /// by topic. Expired ones are left out.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid filter.
    pub fn retained_messages(&self, filter: Option<&str>) -> Result<Vec<Message>, Error> {
        let mut list = Vec::new();
        let mut add = |_: &str, message: &Message| {
            if !message.expired(self.now_ms) {
                list.push(message.clone());
            }
        };
        match filter {
            None => self.router.retained.for_each(&mut add),
            Some(filter) if crate::topic::is_valid_topic_filter(filter) => {
                self.router.retained.for_each_match(filter, &mut add);
            }
            Some(filter) => return Err(Error::InvalidTopic(filter.to_string())),
        }
        list.sort_by(|a, b| a.topic().cmp(b.topic()));
        Ok(list)
    }

    /// Clears the retained message of `topic` (a topic name, not a
    /// filter), recorded for the store as a retained clear by a client is.
    /// False when the topic had none.
    pub fn delete_retained(&mut self, now: Instant, topic: &str) -> bool {
        self.tick(now);
        self.clear_retained(topic)
    }

    /// The sessions of clients, without the bridges' own.
    fn host_sessions(&self) -> impl Iterator<Item = (SessionKey, &Session)> {
        self.sessions
            .iter()
            .filter(|(_, session)| !session.client_id.starts_with(BRIDGE_SESSION_PREFIX))
    }

    /// The session of a client id, unless it is a bridge's own.
    fn host_session(&self, client_id: &str) -> Option<(SessionKey, &Session)> {
        if client_id.starts_with(BRIDGE_SESSION_PREFIX) {
            return None;
        }
        let key = self.sessions.key_of(client_id)?;
        Some((key, self.sessions.get(key)?))
    }
}
