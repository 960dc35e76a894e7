//! `$SYS` against mosquitto 2.0's: Debian's mosquitto and the `mqlite`
//! binary, both with `sys_interval 1`, read by `mosquitto_sub -t '$SYS/#'`.
//! mqlite must publish every topic mosquitto publishes and no other
//! (docs/SYS.md lists them), with values of the same form.
//!
//! Needs `mosquitto` and `mosquitto-clients` (scripts/test.sh installs
//! them); without them the test fails, unless `MQLITE_SKIP_EXTERNAL=1`.

use crate::support;

use std::collections::BTreeMap;
use std::path::Path;

use support::cli::mosquitto::{mosquitto_tools, Sub};
use support::cli::mosquitto_broker::MosquittoBroker;
use support::cli::Mqlite;
use support::{wait_until, TempDir, TIMEOUT};

/// The `$SYS` topics a broker on `port` publishes, with a value of each:
/// the retained copies a new subscriber gets, and what the next round
/// changes (read until a round's uptime arrives live, after them).
fn sys_tree(tool: &Path, port: u16) -> BTreeMap<String, String> {
    // `|` is in no topic and no value; `%r` tells retained copies apart.
    let sub = Sub::spawn(tool, port, &["-t", "$SYS/#", "-F", "%r|%t|%p"]);
    wait_until(TIMEOUT, "a live $SYS/broker/uptime", || {
        sub.received()
            .lines()
            .any(|line| line.starts_with("0|$SYS/broker/uptime|"))
    });
    let mut tree = BTreeMap::new();
    for line in sub.kill().lines() {
        let mut fields = line.splitn(3, '|');
        if let (Some(_), Some(topic), Some(value)) = (fields.next(), fields.next(), fields.next()) {
            tree.insert(topic.to_string(), value.to_string());
        }
    }
    tree
}

/// Whether `value` has the form mosquitto gives `topic`'s values.
fn well_formed(topic: &str, value: &str) -> bool {
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    match topic {
        "$SYS/broker/version" => value.starts_with("mqlite version "),
        "$SYS/broker/uptime" => value.strip_suffix(" seconds").is_some_and(digits),
        _ if topic.starts_with("$SYS/broker/load/") => {
            value.split_once('.').is_some_and(|(whole, fraction)| {
                digits(whole) && fraction.len() == 2 && digits(fraction)
            })
        }
        _ => digits(value),
    }
}

#[test]
fn mqlite_publishes_the_sys_tree_of_mosquitto_2_0() {
    let Some((_, sub_tool)) = mosquitto_tools() else {
        return;
    };
    let Some(mosquitto) = MosquittoBroker::start("sys_interval 1") else {
        return;
    };
    let dir = TempDir::new("sys");
    let config = dir.file("mqlite.toml", "sys_interval = 1\n");
    let config = config.to_str().expect("a UTF-8 temp path").to_string();
    let mqlite = Mqlite::start_in(&["-p", "0", "--no-persist", "-c", &config], dir);

    let theirs = sys_tree(&sub_tool, mosquitto.addr.port());
    let ours = sys_tree(&sub_tool, mqlite.port);
    // The one documented difference: the binary has no heap figures where
    // the C library cannot give them (glibc before 2.33, musl).
    let heapless = !ours
        .keys()
        .any(|topic| topic.starts_with("$SYS/broker/heap/"));
    if heapless {
        eprintln!("note: no $SYS/broker/heap/... here (no mallinfo2), as docs/SYS.md allows");
    }
    let missing: Vec<&String> = theirs
        .keys()
        .filter(|t| {
            let excused = heapless && t.starts_with("$SYS/broker/heap/");
            !ours.contains_key(*t) && !excused
        })
        .collect();
    let extra: Vec<&String> = ours.keys().filter(|t| !theirs.contains_key(*t)).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "mosquitto publishes but mqlite does not: {missing:?}\n\
         mqlite publishes but mosquitto does not: {extra:?}"
    );
    let malformed: Vec<_> = ours
        .iter()
        .filter(|(topic, value)| !well_formed(topic, value))
        .collect();
    assert!(malformed.is_empty(), "{malformed:?}");
}
