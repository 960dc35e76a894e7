//! The management API: what a firmware or application embedding the
//! broker needs to administer it — the clients connected, the sessions
//! (offline ones too) and their subscriptions, the retained messages —
//! and discarding a session or a retained message. Each answer is an owned
//! snapshot (see [`crate::management`]).
//!
//! On the broker's own thread the [`Broker`] methods read the core
//! directly; from any other thread the [`BrokerHandle`] ones send the
//! request to the broker thread and wait for its answer, up to a timeout.

use std::time::{Duration, Instant, SystemTime};

use super::{Broker, BrokerHandle};
use crate::core::Core;
use crate::management::{ConnectedClient, SessionInfo, SubscriptionInfo};
use crate::message::Message;
use crate::reactor::Command;
use crate::Error;

impl Broker {
    /// Every client connected now: who, how, since when, and how many
    /// subscriptions, queued and in-flight messages it has. The broker's
    /// own bridge links are not listed (see [`Broker::bridge_stats`]).
    pub fn clients(&self) -> Vec<ConnectedClient> {
        self.reactor
            .core()
            .clients(Instant::now(), SystemTime::now())
    }

    /// Every session, connected or not: persistent sessions whose client
    /// is offline are listed with their expiry and queue. A clean session
    /// exists, and is listed, only while its client is connected.
    pub fn sessions(&self) -> Vec<SessionInfo> {
        self.reactor.core().sessions(Instant::now())
    }

    /// The subscriptions of the session of `client_id` (connected or
    /// not), sorted by filter; `None` when there is no such session.
    pub fn session_subscriptions(&self, client_id: &str) -> Option<Vec<SubscriptionInfo>> {
        self.reactor.core().session_subscriptions(client_id)
    }

    /// Discards the session of `client_id`: a connected client is
    /// disconnected as by [`BrokerHandle::kick`] (its will is published;
    /// an MQTT 5 client is told 0x98, Administrative action), then the
    /// session, its subscriptions and its queued and in-flight messages
    /// are removed, from the persistence file too. The client's next
    /// CONNECT starts a new session. False when there is no such session.
    pub fn delete_session(&mut self, client_id: &str) -> bool {
        let _busy = self.handle.shared.enter_busy();
        let deleted = self
            .reactor
            .core_with_work()
            .delete_session(Instant::now(), client_id);
        self.reactor.dispatch_local();
        deleted
    }

    /// The retained messages whose topic `filter` matches (`None`: all of
    /// them, `$SYS` ones included), sorted by topic, with their payloads
    /// and properties. A filter starting with a wildcard does not match
    /// `$` topics, as for a subscription.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid filter.
    pub fn retained_messages(&self, filter: Option<&str>) -> Result<Vec<Message>, Error> {
        self.reactor.core().retained_messages(filter)
    }

    /// Clears the retained message of `topic` (a topic name), as an empty
    /// retained PUBLISH would, from the persistence file too, without
    /// sending anything to subscribers. False when the topic had none.
    pub fn delete_retained(&mut self, topic: &str) -> bool {
        self.reactor
            .core_with_work()
            .delete_retained(Instant::now(), topic)
    }
}

impl BrokerHandle {
    /// [`Broker::clients`] from any thread, waiting up to `timeout` for the
    /// broker thread to answer.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`].
    pub fn clients(&self, timeout: Duration) -> Result<Vec<ConnectedClient>, Error> {
        self.ask(timeout, |core, _| {
            core.clients(Instant::now(), SystemTime::now())
        })
    }

    /// [`Broker::sessions`] from any thread, waiting up to `timeout`.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`].
    pub fn sessions(&self, timeout: Duration) -> Result<Vec<SessionInfo>, Error> {
        self.ask(timeout, |core, _| core.sessions(Instant::now()))
    }

    /// [`Broker::session_subscriptions`] from any thread, waiting up to
    /// `timeout`.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`].
    pub fn session_subscriptions(
        &self,
        client_id: &str,
        timeout: Duration,
    ) -> Result<Option<Vec<SubscriptionInfo>>, Error> {
        let client_id = client_id.to_string();
        self.ask(timeout, move |core, _| {
            core.session_subscriptions(&client_id)
        })
    }

    /// [`Broker::delete_session`] from any thread, waiting up to `timeout`
    /// for the broker thread to do it and answer.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`]; after a timeout the broker may
    /// still discard the session at its next pass.
    pub fn delete_session(&self, client_id: &str, timeout: Duration) -> Result<bool, Error> {
        let client_id = client_id.to_string();
        self.ask(timeout, move |core, now| {
            core.delete_session(now, &client_id)
        })
    }

    /// [`Broker::retained_messages`] from any thread, waiting up to
    /// `timeout`.
    ///
    /// # Errors
    /// [`Error::InvalidTopic`] for an invalid filter (before anything is
    /// sent); otherwise as for [`BrokerHandle::stats`].
    pub fn retained_messages(
        &self,
        filter: Option<&str>,
        timeout: Duration,
    ) -> Result<Vec<Message>, Error> {
        if let Some(filter) = filter {
            if !crate::topic::is_valid_topic_filter(filter) {
                return Err(Error::InvalidTopic(filter.to_string()));
            }
        }
        let filter = filter.map(str::to_string);
        self.ask(timeout, move |core, _| {
            core.retained_messages(filter.as_deref())
        })?
    }

    /// [`Broker::delete_retained`] from any thread, waiting up to
    /// `timeout`.
    ///
    /// # Errors
    /// As for [`BrokerHandle::stats`]; after a timeout the broker may
    /// still clear the message at its next pass.
    pub fn delete_retained(&self, topic: &str, timeout: Duration) -> Result<bool, Error> {
        let topic = topic.to_string();
        self.ask(timeout, move |core, now| core.delete_retained(now, &topic))
    }

    /// Runs `request` on the broker thread at its next pass and waits up
    /// to `timeout` for its answer.
    fn ask<T: Send + 'static>(
        &self,
        timeout: Duration,
        request: impl FnOnce(&mut Core, Instant) -> T + Send + 'static,
    ) -> Result<T, Error> {
        if self.shared.busy_on_this_thread() {
            return Err(Error::OnBrokerThread);
        }
        let (reply, answer) = crossbeam_channel::bounded(1);
        self.send(Command::Manage(Box::new(move |core, now| {
            // The asker may have timed out and gone: nobody to tell.
            let _ = reply.send(request(core, now));
        })))?;
        answer.recv_timeout(timeout).map_err(|_| Error::Stopped)
    }
}
