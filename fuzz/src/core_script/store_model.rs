//! A model of the store, built from the core's store operations and read
//! back for queue pages.

use std::collections::{BTreeMap, HashMap, HashSet};

use mqlite::codec::QoS;
use mqlite::core::{Message, QueuePageRequest};
use mqlite::store::{StoreOp, StoredMessage, StoredState};
use mqlite::topic::is_valid_topic_filter;

/// A model of the store, built from the core's store operations.
#[derive(Default)]
pub(super) struct ModelStore {
    pub(super) sessions: HashMap<String, ModelSession>,
    bodies: HashMap<u64, Message>,
    retained: HashSet<String>,
    /// An MQTT 5 client connected: a queued message may be dropped
    /// (its Message Expiry Interval passed, or it is larger than the
    /// client's Maximum Packet Size), and a QoS 2 message refused by an
    /// error code in PUBREC, not only acknowledged.
    pub(super) drops: bool,
}

#[derive(Default)]
pub(super) struct ModelSession {
    /// seq -> (qos, packet id once sent, released)
    pub(super) messages: BTreeMap<u64, (QoS, Option<u16>, bool)>,
    /// seq -> (body id, retain), to read queued messages back.
    refs: BTreeMap<u64, (u64, bool)>,
    inbound_qos2: HashSet<u16>,
    subscriptions: HashMap<String, QoS>,
}

impl ModelStore {
    fn session(&mut self, client_id: &str, op: &StoreOp) -> &mut ModelSession {
        self.sessions
            .get_mut(client_id)
            .unwrap_or_else(|| panic!("{op:?} for a session not in the store"))
    }

    pub(super) fn apply(&mut self, op: &StoreOp) {
        match op {
            StoreOp::SessionCreate { client_id } => {
                self.sessions
                    .insert(client_id.to_string(), ModelSession::default());
            }
            StoreOp::SessionUser { client_id, .. } => {
                self.session(client_id, op);
            }
            StoreOp::SessionExpiry {
                client_id,
                interval,
            } => {
                assert_ne!(*interval, 0, "{op:?}: a session ending with its connection");
                self.session(client_id, op);
            }
            StoreOp::SessionDelete { client_id } => {
                assert!(
                    self.sessions.remove(&**client_id).is_some(),
                    "{op:?}: no such session"
                );
            }
            StoreOp::Subscribe {
                client_id,
                filter,
                options,
                ..
            } => {
                assert!(is_valid_topic_filter(filter), "{op:?}: invalid filter");
                self.session(client_id, op)
                    .subscriptions
                    .insert(filter.clone(), options.qos);
            }
            StoreOp::Unsubscribe { client_id, filter } => {
                let removed = self
                    .session(client_id, op)
                    .subscriptions
                    .remove(filter)
                    .is_some();
                assert!(removed, "{op:?}: not subscribed");
            }
            StoreOp::MessageStore { id, message } => {
                assert!(
                    self.bodies.insert(*id, message.clone()).is_none(),
                    "{op:?}: id used twice"
                );
            }
            StoreOp::SessionMessageAdd {
                client_id,
                seq,
                message_id,
                qos,
                retain,
            } => {
                assert!(self.bodies.contains_key(message_id), "{op:?}: no such body");
                assert_ne!(*qos, QoS::AtMostOnce, "{op:?}: QoS 0 stored");
                let session = self.session(client_id, op);
                let last = session.messages.keys().next_back().copied().unwrap_or(0);
                assert!(*seq > last, "{op:?}: seq not after {last}");
                session.messages.insert(*seq, (*qos, None, false));
                session.refs.insert(*seq, (*message_id, *retain));
            }
            StoreOp::SessionMessageSent {
                client_id,
                seq,
                packet_id,
            } => {
                let session = self.session(client_id, op);
                assert!(
                    !session
                        .messages
                        .values()
                        .any(|(_, id, _)| *id == Some(*packet_id)),
                    "{op:?}: packet id already in flight"
                );
                let entry = session
                    .messages
                    .get_mut(seq)
                    .unwrap_or_else(|| panic!("{op:?}: no such message"));
                assert_eq!(entry.1, None, "{op:?}: sent twice");
                entry.1 = Some(*packet_id);
            }
            StoreOp::SessionMessageReleased { client_id, seq } => {
                let entry = self
                    .session(client_id, op)
                    .messages
                    .get_mut(seq)
                    .unwrap_or_else(|| panic!("{op:?}: no such message"));
                assert_eq!(entry.0, QoS::ExactlyOnce, "{op:?}: not QoS 2");
                assert!(entry.1.is_some() && !entry.2, "{op:?}: not awaiting PUBREC");
                entry.2 = true;
            }
            StoreOp::SessionMessageDelete { client_id, seq } => {
                let session = self.session(client_id, op);
                session.refs.remove(seq);
                let entry = session
                    .messages
                    .remove(seq)
                    .unwrap_or_else(|| panic!("{op:?}: no such message"));
                match entry {
                    (QoS::AtLeastOnce, Some(_), false) | (QoS::ExactlyOnce, Some(_), true) => {}
                    // MQTT 5 only: dropped before it was sent, or a QoS 2
                    // message the client refused in PUBREC.
                    (_, None, false) | (QoS::ExactlyOnce, Some(_), false) if self.drops => {}
                    other => panic!("{op:?}: acknowledged in state {other:?}"),
                }
            }
            StoreOp::InboundQos2Add {
                client_id,
                packet_id,
            } => {
                assert!(
                    self.session(client_id, op).inbound_qos2.insert(*packet_id),
                    "{op:?}: already awaiting PUBREL"
                );
            }
            StoreOp::InboundQos2Remove {
                client_id,
                packet_id,
            } => {
                assert!(
                    self.session(client_id, op).inbound_qos2.remove(packet_id),
                    "{op:?}: not awaiting PUBREL"
                );
            }
            StoreOp::RetainSet { message } => {
                assert!(
                    !message.topic().starts_with("$SYS/") && !message.payload().is_empty(),
                    "{op:?}"
                );
                self.retained.insert(message.topic().to_string());
            }
            StoreOp::RetainDelete { topic } => {
                assert!(self.retained.remove(topic), "{op:?}: not retained");
            }
        }
    }
}

impl ModelStore {
    /// What `SessionStore::load_queued` gives: the unsent messages after
    /// `after_seq`, within the page's limits.
    pub(super) fn load_queued(&self, request: &QueuePageRequest) -> Vec<StoredMessage> {
        let Some(session) = self.sessions.get(&request.client_id) else {
            return Vec::new();
        };
        let from = request.after_seq.map_or(0, |seq| seq.saturating_add(1));
        let mut page = Vec::new();
        let mut bytes = 0;
        for (&seq, &(qos, sent, _)) in session.messages.range(from..) {
            if page.len() >= request.max_messages || bytes >= request.max_bytes {
                break;
            }
            if sent.is_some() {
                continue;
            }
            let (id, retain) = session.refs[&seq];
            let message = self.bodies[&id].with_flags(qos, retain);
            bytes += message.size();
            page.push(StoredMessage {
                seq,
                message_id: id,
                message,
                state: StoredState::Queued,
            });
        }
        page
    }
}
