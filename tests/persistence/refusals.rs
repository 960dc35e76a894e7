//! Persistence files the broker refuses, and `--fresh-db`, end to end: a
//! file that is not a database, a real store with damaged pages, a file in
//! use by another broker (binary or in-process) are refused naming the file
//! and left as they were; a store closed by the host reopens at once even
//! while the host forks a child (`store_lock_not_held_by_a_forked_child_api`);
//! `--fresh-db` moves the old file aside, intact, and starts empty.
//!
//! The broker and client harness is in `tests/support/persistence` (with `tests/support/binary.rs` and `tests/support/mqtt.rs`). Every
//! wait is bounded.

use crate::support;

use std::io::Read;
use std::os::fd::AsRawFd;
use std::path::Path;
use std::time::Duration;

use mqlite::codec::{Ack, Packet, QoS};
use mqlite::Broker;
use support::persistence::api_config;
use support::persistence::{mqlite_exits, Mqlite, Ready};
use support::RawClient;
use support::TempDir;

const GARBAGE: &[u8] = b"this is not a SQLite database, just some bytes a crash or a \
    careless copy could have left here. ";

fn write_garbage(path: &Path) -> Vec<u8> {
    let bytes = GARBAGE.repeat(100);
    std::fs::write(path, &bytes).expect("write the garbage file");
    bytes
}

#[test]
fn corrupt_db_refused_by_binary_naming_the_file() {
    let dir = TempDir::new("corrupt");
    let db = dir.path("x.db");
    let bytes = write_garbage(&db);
    let run = mqlite_exits(&["-p", "0", "--db", db.to_str().unwrap()], dir.dir());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success(),
        "mqlite must refuse a corrupt file, it exited with {}",
        run.status
    );
    assert!(
        stderr.contains(db.to_str().unwrap()),
        "the error must name the file: {}",
        stderr
    );
    assert!(!stderr.contains("panicked"), "{}", stderr);
    assert_eq!(
        std::fs::read(&db).unwrap(),
        bytes,
        "the refused file must be left as it was"
    );
}

/// A real store whose pages were damaged after a clean stop (a bad disk,
/// a bad copy) is refused, not loaded half-way.
#[test]
fn damaged_pages_of_a_real_store_refused_by_binary() {
    let dir = TempDir::new("damaged");
    let db = dir.path("x.db");
    let server = Mqlite::start_db(&db, None, &[], Ready::Serving);
    let (mut sub, _) = RawClient::connect_to(server.addr(), "damaged-sub", false, 60);
    assert_eq!(sub.subscribe_id(1, &[("dmg/#", QoS::AtLeastOnce)]), vec![1]);
    sub.disconnect();
    let (mut publisher, _) = RawClient::connect_to(server.addr(), "damaged-pub", true, 60);
    for i in 0..200u16 {
        let topic = format!("dmg/{}", i % 20);
        let payload = format!("queued message {i} ").repeat(20);
        publisher.publish_acked_id(&topic, payload.as_bytes(), QoS::AtLeastOnce, i < 20, i + 1);
    }
    publisher.disconnect();
    server.stop();

    let mut bytes = std::fs::read(&db).expect("read the store");
    let page_size = match u16::from_be_bytes([bytes[16], bytes[17]]) {
        1 => 65536,
        n => usize::from(n),
    };
    let pages = bytes.len() / page_size;
    assert!(pages > 3, "a store of {pages} pages is too small to damage");
    // Every b-tree page header after the first page.
    for page in 1..pages {
        bytes[page * page_size..page * page_size + 12].fill(0xa5);
    }
    std::fs::write(&db, &bytes).unwrap();
    let _ = std::fs::remove_file(dir.path("x.db-wal"));

    let run = mqlite_exits(&["-p", "0", "--db", db.to_str().unwrap()], dir.dir());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success(),
        "mqlite must refuse a damaged store, it exited with {}",
        run.status
    );
    assert!(
        stderr.contains(db.to_str().unwrap()) && stderr.contains("corrupt"),
        "the error must name the file and say it is corrupt: {}",
        stderr
    );
    assert!(!stderr.contains("panicked"), "{}", stderr);
}

#[test]
fn corrupt_and_locked_db_refused_by_api_naming_the_file() {
    let dir = TempDir::new("api-refuse");
    let bad = dir.path("bad.db");
    write_garbage(&bad);
    let error = Broker::new(api_config(&bad))
        .err()
        .expect("Broker::new must refuse a corrupt file");
    assert!(
        matches!(error, mqlite::Error::Store { .. })
            && error.to_string().contains(bad.to_str().unwrap()),
        "{error}"
    );

    let db = dir.path("x.db");
    let first = support::persistence::api_broker(&db);
    let error = Broker::new(api_config(&db))
        .err()
        .expect("a second Broker on the same file must be refused");
    let text = error.to_string();
    assert!(
        text.contains(db.to_str().unwrap()) && (text.contains("in use") || text.contains("lock")),
        "{text}"
    );
    first.stop().expect("Broker::run failed");
    // Released by the first broker's stop.
    support::persistence::api_broker(&db)
        .stop()
        .expect("Broker::run failed");
}

/// A store closed by the host must be reopenable at once, even while
/// another thread of the host is starting a child process.
///
/// An `flock` on `<db>.lock` would belong to the open file description: a
/// child forked while the store is open would share it until its `exec`
/// (or for good, if it never execs), and the host's next open of the same
/// file would be refused as "in use ... (pid <its own pid>)" though no
/// store is open. The store uses a POSIX record lock, which children do not
/// inherit. Here the child is held between fork and exec for 1 s to make
/// the window deterministic.
#[test]
fn store_lock_not_held_by_a_forked_child_api() {
    use std::os::unix::process::CommandExt;

    let dir = TempDir::new("fork");
    let db = dir.path("x.db");
    let first = support::persistence::api_broker(&db);
    // Another thread starts a child; it says it has forked, then execs in
    // 1 s. If the spawn fails, the pipe closes without a byte.
    let (mut forked, forked_tx) = std::io::pipe().expect("a pipe");
    let spawner = std::thread::spawn(move || {
        let fd = forked_tx.as_raw_fd();
        let mut command = std::process::Command::new("true");
        // SAFETY: the closure only calls write(2) and sleeps (nanosleep),
        // both async-signal-safe.
        unsafe {
            command.pre_exec(move || {
                libc::write(fd, b"f".as_ptr().cast(), 1);
                std::thread::sleep(Duration::from_secs(1));
                Ok(())
            });
        }
        let result = command.spawn().map(|mut child| child.wait());
        drop(forked_tx);
        result
    });
    let mut byte = [0u8; 1];
    forked.read_exact(&mut byte).expect("the child was forked");
    first.stop().expect("Broker::run failed");
    let result = Broker::new(api_config(&db));
    let _ = spawner.join();
    if let Err(error) = result {
        panic!("reopening a store closed by this process failed: {error}");
    }
}

#[test]
fn second_binary_on_same_db_refused_as_in_use() {
    let dir = TempDir::new("locked");
    let db = dir.path("x.db");
    let first = Mqlite::start_db(&db, None, &[], Ready::Serving);
    let run = mqlite_exits(&["-p", "0", "--db", db.to_str().unwrap()], dir.dir());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(
        !run.status.success(),
        "the second mqlite must exit non-zero"
    );
    assert!(
        stderr.contains(db.to_str().unwrap())
            && (stderr.contains("in use") || stderr.contains("locked")),
        "the error must name the file and say it is in use: {}",
        stderr
    );
    // The first one still serves.
    let (mut client, _) = RawClient::connect_to(first.addr(), "still-there", true, 60);
    client.ping();
    drop(client);
    // SIGKILL releases the lock: no stale lock to clean up by hand.
    let first = first.kill_and_restart();
    let (client, _) = RawClient::connect_to(first.addr(), "still-there", true, 60);
    client.disconnect();
    first.stop();
}

#[test]
fn fresh_db_moves_old_file_aside_and_starts_empty() {
    let dir = TempDir::new("fresh");
    let db = dir.path("x.db");
    let server = Mqlite::start_db(&db, None, &[], Ready::Serving);
    let (mut sub, _) = RawClient::connect_to(server.addr(), "fresh-sub", false, 60);
    assert_eq!(
        sub.subscribe_id(1, &[("fresh/t", QoS::AtLeastOnce)]),
        vec![1]
    );
    sub.disconnect();
    let (mut publisher, _) = RawClient::connect_to(server.addr(), "fresh-pub", true, 60);
    publisher.publish_acked_id("fresh/retained", b"old state", QoS::AtLeastOnce, true, 1);
    publisher.disconnect();
    server.stop();

    let server = Mqlite::start_db(&db, None, &["--fresh-db"], Ready::Serving);
    let backups: Vec<String> = dir
        .list()
        .into_iter()
        .filter(|name| name.starts_with("x.db.bak-") && !name.ends_with("-wal"))
        .collect();
    assert_eq!(
        backups.len(),
        1,
        "one backup of the old file expected, the directory holds {:?}; stderr: {}",
        dir.list(),
        server.stderr()
    );
    let (mut sub, present) = RawClient::connect_to(server.addr(), "fresh-sub", false, 60);
    assert!(!present, "--fresh-db starts without the old sessions");
    assert_eq!(
        sub.subscribe_id(1, &[("fresh/#", QoS::AtLeastOnce)]),
        vec![1]
    );
    sub.expect_nothing();
    sub.disconnect();
    server.stop();

    // The old state is intact in the backup.
    let backup = dir.path(&backups[0]);
    let server = Mqlite::start_db(&backup, None, &[], Ready::Serving);
    let (sub, present) = RawClient::connect_to(server.addr(), "fresh-sub", false, 60);
    assert!(present, "the backup holds the old session");
    sub.disconnect();
    let (mut watcher, _) = RawClient::connect_to(server.addr(), "fresh-watcher", true, 60);
    assert_eq!(
        watcher.subscribe_id(1, &[("fresh/#", QoS::AtLeastOnce)]),
        vec![1]
    );
    let msg = watcher.expect_publish();
    assert_eq!(
        (msg.topic.as_str(), msg.text().as_str(), msg.retain),
        ("fresh/retained", "old state", true),
        "the backup holds the old retained message"
    );
    watcher.send(&Packet::PubAck(Ack::new(msg.packet_id.unwrap())));
    watcher.disconnect();
    server.stop();
}

/// A database file the broker may not write (here left with its `-wal` by
/// a killed broker) is refused as read-only, naming the file, not as a
/// vague "disk I/O error". Run as root, the binary is started as `nobody`,
/// for whom the file is read-only.
#[test]
fn read_only_db_refused_as_read_only() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;

    let dir = TempDir::new("read-only");
    let db = dir.path("x.db");
    // A broker killed, not stopped: its `-wal` file stays beside the store.
    Mqlite::start_db(&db, None, &[], Ready::Serving).kill();
    let wal = dir.path("x.db-wal");
    assert!(wal.exists(), "the killed broker left its -wal");
    for file in [&db, &wal] {
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(0o444)).unwrap();
    }
    // The directory stays writable (for the lock file): only the file is
    // read-only.
    std::fs::set_permissions(dir.dir(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut command = std::process::Command::new(support::binary::bin_path());
    command
        .args(["-p", "0", "--db", db.to_str().unwrap()])
        .current_dir(dir.dir());
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } == 0 {
        command.uid(65534).gid(65534);
    }
    // It must refuse the file and exit.
    let output = support::binary::run(&mut command, support::TIMEOUT);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains(db.to_str().unwrap()), "{stderr}");
    assert!(stderr.contains("read-only"), "{stderr}");
    assert!(!stderr.contains("disk I/O error"), "{stderr}");
}

/// A `--db` in a directory that does not exist says so, rather than
/// blaming the lock file.
#[test]
fn db_in_a_missing_directory_says_so() {
    let dir = TempDir::new("no-dir");
    let db = dir.path("absent/deeper/x.db");
    let run = mqlite_exits(&["-p", "0", "--db", db.to_str().unwrap()], dir.dir());
    let stderr = String::from_utf8_lossy(&run.stderr);
    assert!(!run.status.success(), "{}", stderr);
    let missing = dir.path("absent/deeper");
    assert!(
        stderr.contains(&format!(
            "the directory {} does not exist",
            missing.display()
        )),
        "{}",
        stderr
    );
    assert!(!stderr.contains("lock file"), "{}", stderr);
}
