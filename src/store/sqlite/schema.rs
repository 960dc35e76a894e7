//! The schema of the SQLite store, as a list of migration steps keyed by
//! `PRAGMA user_version`.
//!
//! A file at version `n` is brought to [`CURRENT_VERSION`] by running steps
//! `n..` in one transaction, then setting `user_version`. To change the
//! schema, append a step: never edit a step that has shipped, since files in
//! the field were made by it (`tests/library/store_sqlite_migrations.rs` keeps a copy of the
//! version 1 and version 2 schemas and opens files made from them).

/// `PRAGMA application_id` of an mqlite store ("mqlt"), so that a SQLite file
/// of another program is not mistaken for one.
pub(super) const APPLICATION_ID: i32 = 0x6d71_6c74;

/// The migration steps: `MIGRATIONS[n]` takes a file from version `n` to
/// `n + 1`.
pub(super) const MIGRATIONS: &[&str] = &[V1, V2, V3, V4];

/// The schema version this code writes and understands.
pub(super) const CURRENT_VERSION: i64 = MIGRATIONS.len() as i64;

/// Version 1.
///
/// - `meta`: `next_message_id`, a high-water mark of message ids, so that an
///   id is never handed out twice even after its body was deleted.
/// - `sessions`: one row per persistent session.
/// - `subscriptions`: per session.
/// - `messages`: the bodies, stored once however many sessions queue them
///   (a rowid table: payloads can be large).
/// - `session_messages`: each session's outbound queue, in `seq` order;
///   `state` is 0 queued, 1 sent (`packet_id` set), 2 released (PUBREL sent;
///   the body is no longer referenced: `message_id` is kept for the
///   snapshot but does not hold the body alive).
/// - `session_messages_by_body`: a partial index of the references that hold
///   a body alive, so deciding whether a body is still needed is one index
///   probe.
/// - `inbound_qos2`: inbound QoS 2 packet ids awaiting PUBREL.
/// - `retained`: one message per topic (a rowid table: payloads can be
///   large).
const V1: &str = "
CREATE TABLE meta (
    key TEXT PRIMARY KEY NOT NULL,
    value INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO meta (key, value) VALUES ('next_message_id', 1);

CREATE TABLE sessions (
    client_id TEXT PRIMARY KEY NOT NULL
) WITHOUT ROWID;

CREATE TABLE subscriptions (
    client_id TEXT NOT NULL,
    filter TEXT NOT NULL,
    qos INTEGER NOT NULL,
    PRIMARY KEY (client_id, filter)
) WITHOUT ROWID;

CREATE TABLE messages (
    id INTEGER PRIMARY KEY,
    topic TEXT NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL
);

CREATE TABLE session_messages (
    client_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    message_id INTEGER NOT NULL,
    qos INTEGER NOT NULL,
    retain INTEGER NOT NULL,
    state INTEGER NOT NULL,
    packet_id INTEGER,
    PRIMARY KEY (client_id, seq)
) WITHOUT ROWID;
CREATE INDEX session_messages_by_body ON session_messages (message_id)
    WHERE state < 2;

CREATE TABLE inbound_qos2 (
    client_id TEXT NOT NULL,
    packet_id INTEGER NOT NULL,
    PRIMARY KEY (client_id, packet_id)
) WITHOUT ROWID;

CREATE TABLE retained (
    topic TEXT PRIMARY KEY NOT NULL,
    payload BLOB NOT NULL,
    qos INTEGER NOT NULL
);
";

/// Version 2: `sessions.username`, the user name of the client last
/// connected to the session (NULL: none), for the ACL checks made while it
/// is away.
const V2: &str = "
ALTER TABLE sessions ADD COLUMN username TEXT;
";

/// Version 3: what MQTT 5 adds. Every new column reads, in a row written
/// before it, as what a 3.1.1 client would have had.
///
/// - `sessions.expiry_interval`: the Session Expiry Interval in seconds
///   (4294967295: for ever); NULL, not recorded, is for ever too.
/// - `subscriptions.no_local`, `retain_as_published`, `retain_handling`
///   (0, 1, 2 as in SUBSCRIBE) and `identifier` (the Subscription
///   Identifier, 0: none): 0 by default, a QoS-only subscription.
/// - `messages.properties` and `retained.properties`: the MQTT 5 property
///   block forwarded with the message, as on the wire without its length
///   (NULL: none).
/// - `messages.expires_at` and `retained.expires_at`: when the message
///   expires, in Unix milliseconds (NULL: never). The core's deadlines are
///   in its own clock, which restarts with every broker; the store converts
///   them (see `SqliteStore`).
const V3: &str = "
ALTER TABLE sessions ADD COLUMN expiry_interval INTEGER;

ALTER TABLE subscriptions ADD COLUMN no_local INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN retain_as_published INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN retain_handling INTEGER NOT NULL DEFAULT 0;
ALTER TABLE subscriptions ADD COLUMN identifier INTEGER NOT NULL DEFAULT 0;

ALTER TABLE messages ADD COLUMN properties BLOB;
ALTER TABLE messages ADD COLUMN expires_at INTEGER;

ALTER TABLE retained ADD COLUMN properties BLOB;
ALTER TABLE retained ADD COLUMN expires_at INTEGER;
";

/// Version 4: `op_log`, batches of queue, inbound QoS 2 and retained
/// operations committed as one row each and folded into the other tables
/// later (see `op_log.rs`); `ops` is the row form of `log_codec.rs`. A row
/// left by a crash is folded at the next open.
const V4: &str = "
CREATE TABLE op_log (
    id INTEGER PRIMARY KEY,
    ops BLOB NOT NULL
);
";
