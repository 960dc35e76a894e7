//! The SQL of `apply`, and the values of a queue entry's `state` column.
//! [`APPLY_STATEMENTS`] lists every statement so that opening can prepare
//! each once (and refuse a schema they do not compile against) before the
//! first batch.

// Session message states, as stored.
pub(super) const QUEUED: i64 = 0;
pub(super) const SENT: i64 = 1;
pub(super) const RELEASED: i64 = 2;

// The statements of `apply`, prepared (and cached) at open.
/// A session created again keeps its user name (set again by the op that
/// follows) but not its expiry interval.
pub(super) const INSERT_SESSION: &str = "INSERT INTO sessions (client_id) VALUES (?1)
  ON CONFLICT (client_id) DO UPDATE SET expiry_interval = NULL";
pub(super) const DELETE_SESSION: &str = "DELETE FROM sessions WHERE client_id = ?1";
pub(super) const SESSION_USER: &str = "UPDATE sessions SET username = ?2 WHERE client_id = ?1";
pub(super) const SESSION_EXPIRY: &str =
    "UPDATE sessions SET expiry_interval = ?2 WHERE client_id = ?1";
/// Deletes the bodies that only this session's queue holds.
pub(super) const DELETE_SESSION_BODIES: &str = "DELETE FROM messages WHERE id IN (
    SELECT message_id FROM session_messages WHERE client_id = ?1 AND state < 2)
  AND NOT EXISTS (SELECT 1 FROM session_messages AS o
    WHERE o.message_id = messages.id AND o.state < 2 AND o.client_id <> ?1)";
pub(super) const DELETE_SESSION_MESSAGES: &str =
    "DELETE FROM session_messages WHERE client_id = ?1";
pub(super) const DELETE_SUBSCRIPTIONS: &str = "DELETE FROM subscriptions WHERE client_id = ?1";
pub(super) const DELETE_INBOUND: &str = "DELETE FROM inbound_qos2 WHERE client_id = ?1";
pub(super) const SUBSCRIBE: &str = "INSERT INTO subscriptions
  (client_id, filter, qos, no_local, retain_as_published, retain_handling, identifier)
  SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7
  WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?1)
  ON CONFLICT (client_id, filter) DO UPDATE SET qos = excluded.qos,
    no_local = excluded.no_local, retain_as_published = excluded.retain_as_published,
    retain_handling = excluded.retain_handling, identifier = excluded.identifier";
pub(super) const UNSUBSCRIBE: &str =
    "DELETE FROM subscriptions WHERE client_id = ?1 AND filter = ?2";
pub(super) const MESSAGE_STORE: &str = "INSERT INTO messages
  (id, topic, payload, qos, retain, properties, expires_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)";
pub(super) const BUMP_NEXT_ID: &str =
    "UPDATE meta SET value = max(value, ?1) WHERE key = 'next_message_id'";
/// A `seq` used before replaces that entry (the core never reuses one; the
/// op log, folded later, must not fail on what was accepted).
pub(super) const SESSION_MESSAGE_ADD: &str = "INSERT OR REPLACE INTO session_messages
  (client_id, seq, message_id, qos, retain, state, packet_id)
  SELECT ?1, ?2, ?3, ?4, ?5, 0, NULL
  WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?1)";
/// `SessionMessageAdd` directly followed by its `SessionMessageSent`
/// (a message sent as soon as it is queued, the common case): one insert.
pub(super) const SESSION_MESSAGE_ADD_SENT: &str = "INSERT OR REPLACE INTO session_messages
  (client_id, seq, message_id, qos, retain, state, packet_id)
  SELECT ?1, ?2, ?3, ?4, ?5, 1, ?6
  WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?1)";
pub(super) const SESSION_MESSAGE_SENT: &str =
    "UPDATE session_messages SET state = 1, packet_id = ?3
  WHERE client_id = ?1 AND seq = ?2 AND state < 2";
pub(super) const SESSION_MESSAGE_RELEASED: &str = "UPDATE session_messages SET state = 2
  WHERE client_id = ?1 AND seq = ?2 AND state < 2 RETURNING message_id";
pub(super) const SESSION_MESSAGE_DELETE: &str =
    "DELETE FROM session_messages WHERE client_id = ?1 AND seq = ?2 RETURNING message_id, state";
/// Deletes a body if no queue holds it any more (one probe of
/// `session_messages_by_body`).
pub(super) const DELETE_BODY_IF_UNUSED: &str = "DELETE FROM messages WHERE id = ?1
  AND NOT EXISTS (SELECT 1 FROM session_messages WHERE message_id = ?1 AND state < 2)";
pub(super) const INBOUND_ADD: &str = "INSERT INTO inbound_qos2 (client_id, packet_id)
  SELECT ?1, ?2 WHERE EXISTS (SELECT 1 FROM sessions WHERE client_id = ?1)
  ON CONFLICT DO NOTHING";
pub(super) const INBOUND_REMOVE: &str =
    "DELETE FROM inbound_qos2 WHERE client_id = ?1 AND packet_id = ?2";
pub(super) const RETAIN_SET: &str = "INSERT INTO retained
  (topic, payload, qos, properties, expires_at) VALUES (?1, ?2, ?3, ?4, ?5)
  ON CONFLICT (topic) DO UPDATE SET payload = excluded.payload, qos = excluded.qos,
    properties = excluded.properties, expires_at = excluded.expires_at";
pub(super) const RETAIN_DELETE: &str = "DELETE FROM retained WHERE topic = ?1";
pub(super) const OP_LOG_APPEND: &str = "INSERT INTO op_log (ops) VALUES (?1)";
pub(super) const OP_LOG_READ: &str = "SELECT ops FROM op_log ORDER BY id";
pub(super) const OP_LOG_CLEAR: &str = "DELETE FROM op_log";

pub(super) const APPLY_STATEMENTS: &[&str] = &[
    INSERT_SESSION,
    DELETE_SESSION,
    SESSION_USER,
    SESSION_EXPIRY,
    DELETE_SESSION_BODIES,
    DELETE_SESSION_MESSAGES,
    DELETE_SUBSCRIPTIONS,
    DELETE_INBOUND,
    SUBSCRIBE,
    UNSUBSCRIBE,
    MESSAGE_STORE,
    BUMP_NEXT_ID,
    SESSION_MESSAGE_ADD,
    SESSION_MESSAGE_SENT,
    SESSION_MESSAGE_RELEASED,
    SESSION_MESSAGE_DELETE,
    DELETE_BODY_IF_UNUSED,
    INBOUND_ADD,
    INBOUND_REMOVE,
    RETAIN_SET,
    RETAIN_DELETE,
    OP_LOG_APPEND,
    OP_LOG_READ,
    OP_LOG_CLEAR,
];
