//! Files the SQLite store refuses to open, naming the file and leaving it as
//! it was: one already open (locked, by this or another program), one that
//! is not a SQLite database, a corrupt database, a schema from a newer
//! version, another program's database. And `open_fresh`, which moves the
//! old file aside (never overwriting an earlier backup) and starts empty.

use crate::support;

use std::time::Duration;

use mqlite::store::*;
use mqlite::QoS;
use support::store::{add, create, store_body, store_error_text};
use support::TempDir;

#[test]
fn a_second_open_is_refused_while_the_first_is_alive() {
    let dir = TempDir::new("locked");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store.apply(&[create("c")]).unwrap();

    let text = store_error_text(SqliteStore::open(&path));
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("locked") && text.contains("in use"), "{text}");
    let text = store_error_text(SqliteStore::open_fresh(&path));
    assert!(text.contains("locked"), "{text}");
    // open_fresh refused before moving anything.
    assert!(path.exists());

    // SQLite's own lock keeps out programs that ignore the lock file.
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.busy_timeout(Duration::ZERO).unwrap();
    let read = conn.query_row("SELECT count(*) FROM sessions", [], |r| r.get::<_, i64>(0));
    let err = read.unwrap_err();
    assert_eq!(
        err.sqlite_error_code(),
        Some(rusqlite::ErrorCode::DatabaseBusy),
        "{err}"
    );
    drop(conn);

    // The first store is unharmed, and the file is free once it is dropped.
    store.apply(&[create("d")]).unwrap();
    drop(store);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.load().unwrap().sessions.len(), 2);
}

#[test]
fn a_file_that_is_not_a_database_is_refused() {
    let dir = TempDir::new("garbage");
    for (name, content) in [
        ("short.db", b"hello, I am a text file\n".to_vec()),
        ("long.db", b"not a database. ".repeat(1000)),
    ] {
        let path = dir.path(name);
        std::fs::write(&path, &content).unwrap();
        let text = store_error_text(SqliteStore::open(&path));
        assert!(text.contains(&path.display().to_string()), "{text}");
        assert!(text.contains("not a SQLite database"), "{text}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            content,
            "the file was changed"
        );
    }
}

#[test]
fn a_corrupt_database_is_refused() {
    let dir = TempDir::new("corrupt");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let mut ops = vec![create("c")];
    for id in 1..=200u64 {
        ops.push(store_body(id, "t", &[7u8; 200]));
        ops.push(add("c", id, id, QoS::AtLeastOnce));
    }
    store.apply(&ops).unwrap();
    drop(store);
    // Scribble over a b-tree page in the middle of the (checkpointed) file.
    let mut bytes = std::fs::read(&path).unwrap();
    assert!(bytes.len() > 5 * 4096, "{}", bytes.len());
    for b in &mut bytes[3 * 4096..4 * 4096] {
        *b = 0x5a;
    }
    std::fs::write(&path, &bytes).unwrap();
    let text = store_error_text(SqliteStore::open(&path));
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("corrupt"), "{text}");
}

#[test]
fn a_schema_from_a_newer_version_is_refused() {
    let dir = TempDir::new("newer");
    let path = dir.path("store.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE future (x); PRAGMA user_version = 99;")
            .unwrap();
    }
    let text = store_error_text(SqliteStore::open(&path));
    assert!(text.contains(&path.display().to_string()), "{text}");
    assert!(text.contains("99") && text.contains("newer"), "{text}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .pragma_query_value(None, "user_version", |r| r.get(0))
        .unwrap();
    assert_eq!(version, 99);
}

#[test]
fn another_programs_database_is_refused() {
    let dir = TempDir::new("foreign");
    let path = dir.path("app.db");
    {
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch("CREATE TABLE accounts (id INTEGER PRIMARY KEY, name TEXT);")
            .unwrap();
    }
    let text = store_error_text(SqliteStore::open(&path));
    assert!(text.contains("not an mqlite store"), "{text}");
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.query_row("SELECT count(*) FROM accounts", [], |r| r.get::<_, i64>(0))
        .unwrap();
}

#[test]
fn open_fresh_moves_the_old_file_aside() {
    let dir = TempDir::new("fresh");
    let path = dir.path("store.db");
    let mut store = SqliteStore::open(&path).unwrap();
    store
        .apply(&[
            create("c"),
            store_body(1, "t", b"kept"),
            add("c", 0, 1, QoS::AtLeastOnce),
        ])
        .unwrap();
    let before = store.load().unwrap();
    assert!(store.moved_aside().is_none());
    drop(store);

    let mut fresh = SqliteStore::open_fresh(&path).unwrap();
    assert_eq!(
        fresh.load().unwrap(),
        Snapshot {
            next_message_id: 1,
            ..Snapshot::default()
        }
    );
    let backup = fresh.moved_aside().unwrap().to_path_buf();
    let name = backup.file_name().unwrap().to_string_lossy().into_owned();
    assert!(name.starts_with("store.db.bak-"), "{name}");
    fresh.apply(&[create("new")]).unwrap();
    drop(fresh);

    // The backup is a store of its own with the old data.
    let mut old = SqliteStore::open(&backup).unwrap();
    assert_eq!(old.load().unwrap(), before);
    drop(old);

    // A garbage file is moved aside too, byte for byte; and again within the
    // same second does not overwrite the first backup.
    std::fs::write(&path, b"garbage").unwrap();
    let fresh = SqliteStore::open_fresh(&path).unwrap();
    let second = fresh.moved_aside().unwrap().to_path_buf();
    assert_ne!(second, backup);
    assert_eq!(std::fs::read(&second).unwrap(), b"garbage");
    let mut old = SqliteStore::open(&backup).unwrap();
    assert_eq!(old.load().unwrap(), before);

    // Nothing to move: nothing moved.
    let other = dir.path("other.db");
    let fresh = SqliteStore::open_fresh(&other).unwrap();
    assert!(fresh.moved_aside().is_none());
}
