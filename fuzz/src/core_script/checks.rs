//! The checks after every step: connections open or closed, owed answers,
//! output growth, in-flight windows, `connected_clients`, `stats` and the
//! store model.

use std::collections::BTreeMap;

use super::client_model::{Owed, Phase, Stage};
use super::{Script, MAX_INFLIGHT, MAX_PUBLISH, MAX_PUBLISH_V5, MAX_QUEUED_MESSAGES};

impl Script<'_> {
    pub(super) fn begin_step(&mut self) {
        self.timed_out = false;
        for client in &mut self.clients {
            client.fed = false;
            client.pending_before = self.core.output(client.id).len();
            client.disconnect_len = 0;
            client.open_before = client.open();
        }
    }

    /// The checks after every step.
    pub(super) fn end_step(&mut self) {
        // As the reactor does before it writes: save, then read the queue
        // pages the core asked for (which may send and record more).
        if self.persistent {
            self.save_and_page();
        }
        let now = self.now;
        if self.timed_out {
            if let Some(at) = self.core.next_deadline() {
                assert!(
                    at > now,
                    "next deadline {at:?} not after handle_timeout({now:?})"
                );
            }
        }
        for i in 0..self.clients.len() {
            self.parse_output(i);
            let client = &mut self.clients[i];
            client.in_resend = false;
            let id = client.id;
            if client.pubrel_ambiguous {
                client.pubrel_ambiguous = false;
                client.owed.retain(|o| !matches!(o, Owed::PubRel(_)));
            }
            if client.ack_ambiguous {
                client.ack_ambiguous = false;
                if client.open() && !self.core.is_open(id) {
                    client.close();
                }
            }
            // The broker tells an MQTT 5 client it accepted why it closes
            // the connection, in a DISCONNECT written last.
            if client.disconnect_required {
                client.disconnect_required = false;
                assert!(
                    client.disconnected,
                    "{id:?}: closed by the broker ({:?}) without DISCONNECT",
                    client.disconnect_allowed
                );
            }
            if client.open() {
                client.disconnect_allowed.clear();
            }
            assert_eq!(
                self.core.is_open(id),
                client.open(),
                "{id:?} ({:?}, {:?}): open in the core vs the model",
                client.client_id,
                client.phase
            );
            if client.open() {
                assert!(
                    client.owed.is_empty(),
                    "{id:?}: answers never sent: {:?}",
                    client.owed
                );
            } else {
                client.owed.clear();
            }
            let pending = self.core.output(id).len();
            if !client.open_before {
                assert!(
                    pending <= client.pending_before,
                    "{id:?}: output grew after close ({} -> {pending})",
                    client.pending_before
                );
            }
            let max_publish = if client.v5() {
                MAX_PUBLISH_V5
            } else {
                MAX_PUBLISH
            };
            // A DISCONNECT (a few bytes) is written whatever the output
            // holds.
            if !client.fed && pending > client.pending_before + client.disconnect_len {
                assert!(
                    pending < self.config.max_pending_output + max_publish + client.disconnect_len,
                    "{id:?}: output grew from {} to {pending} with max_pending_output {}",
                    client.pending_before,
                    self.config.max_pending_output
                );
            }
            if client.inflight_known {
                assert!(
                    client.inflight.len() <= usize::from(MAX_INFLIGHT),
                    "{id:?}: {} messages in flight: {:?}",
                    client.inflight.len(),
                    client.inflight
                );
                // Never more unacknowledged QoS 1/2 PUBLISHes than the
                // client's Receive Maximum [MQTT-3.3.4-9].
                assert!(
                    client.published.len() <= usize::from(client.receive_max),
                    "{id:?}: {} PUBLISHes unacknowledged ({:?}), Receive Maximum {}",
                    client.published.len(),
                    client.published,
                    client.receive_max
                );
            }
        }
        self.check_clients();
        self.check_stats();
        if self.store.is_some() {
            self.check_store();
        }
    }

    /// `connected_clients` against the model, and generated client ids.
    pub(super) fn check_clients(&mut self) {
        let mut actual = self.core.connected_clients();
        actual.sort();
        let mut unknown = Vec::new();
        let mut known = Vec::new();
        for (i, client) in self.clients.iter().enumerate() {
            if client.phase == Phase::Connected {
                match &client.client_id {
                    Some(cid) => known.push(cid.clone()),
                    None => unknown.push(i),
                }
            }
        }
        let mut rest = actual.clone();
        for cid in &known {
            let at = rest
                .iter()
                .position(|a| a == cid)
                .unwrap_or_else(|| panic!("{cid:?} connected but not in {actual:?}"));
            rest.remove(at);
        }
        assert_eq!(
            rest.len(),
            unknown.len(),
            "connected_clients {actual:?}, model {known:?} and {} generated",
            unknown.len()
        );
        if let [i] = unknown[..] {
            let generated = rest.pop().expect("one left");
            assert!(generated.starts_with(&self.config.auto_id_prefix));
            self.learn_client_id(i, generated);
        }
    }

    pub(super) fn check_stats(&self) {
        let stats = self.core.stats();
        let open = self.clients.iter().filter(|c| c.open()).count() as u64;
        let connected = self
            .clients
            .iter()
            .filter(|c| c.phase == Phase::Connected)
            .count() as u64;
        assert_eq!(stats.connections, open, "stats.connections");
        assert_eq!(
            stats.connections_total, self.accepted,
            "stats.connections_total"
        );
        assert_eq!(
            stats.connections_refused, self.refused,
            "stats.connections_refused"
        );
        assert_eq!(
            stats.clients_connected, connected,
            "stats.clients_connected"
        );
        assert!(stats.sessions >= connected, "fewer sessions than clients");
    }

    /// Applies the store operations to the model store, and compares it
    /// with the clients' view.
    /// Applies the store operations to the model store (if checked) and
    /// answers the core's page requests from it (with nothing when
    /// persistence came late and no model is kept), until neither is left.
    pub(super) fn save_and_page(&mut self) {
        while self.core.poll_store(&mut self.batch) {
            if let Some(store) = &mut self.store {
                for op in &self.batch.ops {
                    store.apply(op);
                }
            }
            self.core.handle_store_applied(&self.batch);
            let pages = std::mem::take(&mut self.batch.pages);
            for request in &pages {
                let page = match &self.store {
                    Some(store) => store.load_queued(request),
                    None => Vec::new(),
                };
                self.core.handle_queue_page(request, page);
            }
        }
    }

    pub(super) fn check_store(&mut self) {
        self.save_and_page();
        let Some(store) = &mut self.store else {
            return;
        };
        for session in store.sessions.values() {
            let queued = session
                .messages
                .values()
                .filter(|(_, id, _)| id.is_none())
                .count();
            assert!(queued <= MAX_QUEUED_MESSAGES, "{queued} messages queued");
        }
        // A session kept 0 s after its connection (a Session Expiry
        // Interval 0, asked or cut to it by `session_expiry` 0) ends with
        // it: it is never the store's, clean session 0 or not.
        for client in &self.clients {
            if client.phase != Phase::Connected || (client.clean && !client.v5()) {
                continue;
            }
            let Some(cid) = &client.client_id else {
                continue;
            };
            if client.expiry == 0 {
                assert!(
                    !store.sessions.contains_key(cid),
                    "{cid:?}: a session of expiry 0 in the store"
                );
                continue;
            }
            if !client.inflight_known {
                continue;
            }
            let session = store
                .sessions
                .get(cid)
                .unwrap_or_else(|| panic!("persistent session {cid:?} not in the store"));
            let stored: BTreeMap<u16, Stage> = session
                .messages
                .values()
                .filter_map(|&(qos, id, released)| {
                    id.map(|id| {
                        (
                            id,
                            if released {
                                Stage::Comp
                            } else {
                                Stage::Ack(qos)
                            },
                        )
                    })
                })
                .collect();
            if client.resumed && client.receive_max < MAX_INFLIGHT {
                // A resumed session holds back what the client's Receive
                // Maximum has no room for: not on the wire yet.
                let mut held_back = stored.clone();
                held_back.retain(|id, _| !client.inflight.contains_key(id));
                assert!(
                    client
                        .inflight
                        .iter()
                        .all(|(id, stage)| stored.get(id) == Some(stage))
                        && held_back
                            .values()
                            .all(|stage| matches!(stage, Stage::Ack(_))),
                    "{cid:?}: in flight in the store {stored:?} vs on the wire {:?}",
                    client.inflight
                );
                continue;
            }
            assert_eq!(
                stored, client.inflight,
                "{cid:?}: in flight in the store vs on the wire"
            );
        }
    }
}
