//! The crash test: the `mqlite` binary is SIGKILLed at random moments while
//! persistent clients publish and subscribe at QoS 1 and 2, and is started
//! again on the same `--db` file each time. At the end nothing acknowledged
//! may be missing, and no QoS 2 message may have been delivered twice.
//!
//! # Running it
//!
//! - Short form (CI, part of `cargo test`): 5 kills, a few seconds.
//! - Long form: `MQLITE_CRASH_ROUNDS=100 cargo test --release --test
//!   persistence_crash -- --nocapture` (or `scripts/crash_test.sh 100`).
//! - `MQLITE_CRASH_SEED=<u64>` replays the kill delays of a failed run (the
//!   seed is printed; the default is fixed). The delays are reproducible,
//!   the interleaving with the clients is not.
//!
//! # What runs
//!
//! - Two persistent subscribers (raw sockets, clean session 0) on
//!   `crash/#`: one at QoS 1, one at QoS 2. They subscribe once, before the
//!   first kill, and never again: the subscriptions must survive. They
//!   acknowledge what they receive as a real client does, and a message
//!   counts as received when it arrives. The QoS 2 subscriber keeps its
//!   inbound packet ids awaiting PUBREL across its reconnections (its state
//!   lives in the test process, which does not crash), so a QoS 2 message
//!   redelivered with DUP after a crash, under a packet id it already sent
//!   PUBREC for, is recognized and not counted again.
//! - Two persistent publishers (raw sockets, clean session 0): one QoS 1 on
//!   `crash/q1`, one QoS 2 on `crash/q2`, with up to 20 messages in flight.
//!   Payloads are `<publisher>:<sequence>`. A message counts as
//!   acknowledged at PUBACK (QoS 1) or PUBREC (QoS 2). After each
//!   reconnection they resend, in order, what is not acknowledged: PUBLISH
//!   with DUP (QoS 1: same payload; QoS 2: same packet id and payload), and
//!   PUBREL for QoS 2 messages past PUBREC but not yet PUBCOMP.
//!   Publishers pause while a subscriber is more than 2000 messages behind
//!   (the broker has no flow control from subscribers back to publishers).
//! - The test kills the broker with SIGKILL after a seeded pseudo-random
//!   50-300 ms, N times, restarting it at once on the same file and port.
//!   It waits for the restarted port to accept TCP connections only, not
//!   for the store to be loaded, so a kill may also land during start-up.
//!
//! # What is checked, with the broker up at the end
//!
//! Publishers finish their outstanding flows; subscribers drain. Then:
//! every acknowledged message reached both subscribers at least once; every
//! acknowledged QoS 2 message reached the QoS 2 subscriber exactly once
//! (counting what it received before each crash too); each reconnection of
//! a client after its first CONNACK found its session present; nothing
//! arrived that was never published, at the wrong QoS, or under a packet id
//! still in use; no broker run panicked; after a clean stop the file holds
//! the four sessions and the two subscriptions, and no message, inbound
//! QoS 2 packet id or retained message.
//!
//! The broker runs with `max_queued_messages = 1000000` (a TOML file via
//! `-c`) so that a subscriber offline across a restart never has messages
//! dropped by the queue limit, which would be a legitimate loss.
//!
//! The client threads are in `tests/support/crash.rs`, the broker harness
//! in `tests/support/persistence`.

use crate::support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mqlite::codec::QoS;
use mqlite::store::{SessionStore, StoredSubscription};
use support::crash::{
    publisher, subscriber, PublisherReport, Shared, SubscriberReport, SubscriberThread,
};
use support::persistence::{Mqlite, Ready};
use support::{env_or, join_within, poll_until, wait_until, Rng, TempDir, QUIET};

/// Time allowed, after the last restart, for publishers to finish and
/// subscribers to drain.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(15);
const DEFAULT_ROUNDS: u32 = 5;
const DEFAULT_SEED: u64 = 0x6d71_6c69_7465_2121;

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_message_and_duplicates_no_qos2() {
    let rounds: u32 = env_or("MQLITE_CRASH_ROUNDS", DEFAULT_ROUNDS);
    let seed: u64 = env_or("MQLITE_CRASH_SEED", DEFAULT_SEED);
    eprintln!("crash test: {rounds} rounds, MQLITE_CRASH_SEED={seed}");
    let mut rng = Rng::new(seed);
    let started = Instant::now();

    let dir = TempDir::new("crash");
    let db = dir.path("crash.db");
    let config = dir.path("crash.toml");
    std::fs::write(&config, "max_queued_messages = 1000000\nsys_interval = 0\n").unwrap();
    let config_text = config.to_str().unwrap().to_string();
    let extra = ["-c", config_text.as_str()];
    let mut server = Mqlite::start_db(&db, None, &extra, Ready::Serving);

    let shared = Arc::new(Shared {
        addr: server.addr(),
        stop_publishing: AtomicBool::new(false),
        stop_subscribers: AtomicBool::new(false),
        hard_deadline: Instant::now()
            + Duration::from_secs(60)
            + Duration::from_secs(u64::from(rounds)),
        created: AtomicU64::new(0),
        received: [AtomicU64::new(0), AtomicU64::new(0)],
    });

    // Subscribers first, subscribed before anything is published or killed.
    let subscribers: Vec<SubscriberThread> = [
        ("crash-sub-q1", QoS::AtLeastOnce),
        ("crash-sub-q2", QoS::ExactlyOnce),
    ]
    .into_iter()
    .enumerate()
    .map(|(index, (id, qos))| {
        let report = Arc::new(Mutex::new(SubscriberReport::default()));
        let (s, r) = (Arc::clone(&shared), Arc::clone(&report));
        let thread = std::thread::spawn(move || subscriber(s, index, id, qos, r));
        (id, qos, report, thread)
    })
    .collect();
    wait_until(Duration::from_secs(5), "the subscribers' SUBACK", || {
        subscribers
            .iter()
            .all(|(_, _, r, _)| r.lock().unwrap().subscribed)
    });

    let publishers: Vec<(&str, JoinHandle<PublisherReport>)> =
        [("q1", QoS::AtLeastOnce), ("q2", QoS::ExactlyOnce)]
            .into_iter()
            .map(|(tag, qos)| {
                let s = Arc::clone(&shared);
                let id: &'static str = if tag == "q1" {
                    "crash-pub-q1"
                } else {
                    "crash-pub-q2"
                };
                (tag, std::thread::spawn(move || publisher(s, id, tag, qos)))
            })
            .collect();

    for _ in 0..rounds {
        // The kill lands at a random point of the load.
        std::thread::sleep(Duration::from_millis(rng.range(50, 300)));
        server = server.kill_and_restart_until(Ready::Listening);
    }

    // Publishers complete their outstanding flows and stop.
    shared.stop_publishing.store(true, Ordering::Release);
    let drain_deadline = Instant::now() + DRAIN_TIMEOUT;
    let publisher_reports: BTreeMap<&str, PublisherReport> = publishers
        .into_iter()
        .map(|(tag, thread)| {
            let left = drain_deadline.saturating_duration_since(Instant::now());
            let report = join_within(thread, left)
                .unwrap_or_else(|| panic!("publisher {tag} did not finish in time"));
            (tag, report)
        })
        .collect();

    // Subscribers drain: every acknowledged message arrived, no QoS 2 flow
    // left open.
    let all_arrived = |r: &SubscriberReport| {
        r.awaiting_release.is_empty()
            && publisher_reports.iter().all(|(tag, p)| {
                p.acked
                    .keys()
                    .all(|&seq| r.received.contains_key(&(tag.to_string(), seq)))
            })
    };
    let drained = poll_until(
        drain_deadline.saturating_duration_since(Instant::now()),
        || {
            subscribers
                .iter()
                .all(|(_, _, r, _)| all_arrived(&r.lock().unwrap()))
        },
    );
    // Part of the scenario, not a wait: a quiet window in which a late
    // duplicate would show up.
    std::thread::sleep(QUIET);
    shared.stop_subscribers.store(true, Ordering::Release);
    let subscriber_reports: Vec<(&str, QoS, SubscriberReport)> = subscribers
        .into_iter()
        .map(|(id, qos, report, thread)| {
            join_within(thread, Duration::from_secs(5))
                .unwrap_or_else(|| panic!("subscriber {id} did not finish in time"));
            let report = std::mem::take(&mut *report.lock().unwrap());
            (id, qos, report)
        })
        .collect();
    server.stop();

    // The verdict.
    let mut problems = Vec::new();
    let mut summary = format!(
        "crash test: {rounds} SIGKILLs in {:.1} s, seed {seed}\n",
        started.elapsed().as_secs_f64()
    );
    for (tag, p) in &publisher_reports {
        summary.push_str(&format!(
            "  publisher {tag}: {} messages, {} acknowledged, {} connections, {} resent\n",
            p.created,
            p.acked.len(),
            p.connects,
            p.resent
        ));
        problems.extend(p.problems.iter().cloned());
        if p.acked.is_empty() {
            problems.push(format!("publisher {tag}: nothing acknowledged at all"));
        }
        if p.acked.len() as u64 != p.created {
            problems.push(format!(
                "publisher {tag}: {} of {} messages never acknowledged",
                p.created - p.acked.len() as u64,
                p.created
            ));
        }
    }
    for (id, sub_qos, r) in &subscriber_reports {
        let arrivals: usize = r.received.values().map(Vec::len).sum();
        summary.push_str(&format!(
            "  subscriber {id}: {arrivals} arrivals of {} messages, {} QoS 2 redeliveries \
             recognized, {} connections\n",
            r.received.len(),
            r.recognized_duplicates,
            r.connects
        ));
        problems.extend(r.problems.iter().cloned());
        if !r.awaiting_release.is_empty() {
            problems.push(format!(
                "{id}: QoS 2 packet ids never released: {:?}",
                r.awaiting_release.keys().collect::<Vec<_>>()
            ));
        }
        for ((tag, seq), qoses) in &r.received {
            let Some(p) = publisher_reports.get(tag.as_str()) else {
                problems.push(format!("{id}: message from unknown publisher {tag}:{seq}"));
                continue;
            };
            if *seq >= p.created {
                problems.push(format!("{id}: {tag}:{seq} was never published"));
            }
            let published_qos = if tag == "q1" {
                QoS::AtLeastOnce
            } else {
                QoS::ExactlyOnce
            };
            let want = published_qos.min(*sub_qos);
            if qoses.iter().any(|&q| q != want) {
                problems.push(format!(
                    "{id}: {tag}:{seq} arrived at QoS {qoses:?}, not {want:?}"
                ));
            }
            if want == QoS::ExactlyOnce && qoses.len() > 1 {
                problems.push(format!(
                    "{id}: QoS 2 message {tag}:{seq} delivered {} times",
                    qoses.len()
                ));
            }
        }
        let mut missing = Vec::new();
        for (tag, p) in &publisher_reports {
            for &seq in p.acked.keys() {
                if !r.received.contains_key(&(tag.to_string(), seq)) {
                    missing.push(format!("{tag}:{seq}"));
                }
            }
        }
        if !missing.is_empty() {
            problems.push(format!(
                "{id}: {} acknowledged messages never arrived (first: {:?})",
                missing.len(),
                &missing[..missing.len().min(10)]
            ));
        }
    }
    // Everything is acknowledged and complete: the file holds the four
    // sessions, the two subscriptions, and nothing else.
    match mqlite::store::SqliteStore::open(&db).and_then(|mut store| store.load()) {
        Ok(snapshot) => {
            let mut ids: Vec<&str> = snapshot
                .sessions
                .iter()
                .map(|s| s.client_id.as_str())
                .collect();
            ids.sort_unstable();
            if ids
                != [
                    "crash-pub-q1",
                    "crash-pub-q2",
                    "crash-sub-q1",
                    "crash-sub-q2",
                ]
            {
                problems.push(format!("the file holds the sessions {ids:?}"));
            }
            for session in &snapshot.sessions {
                let want = match session.client_id.as_str() {
                    "crash-sub-q1" => {
                        vec![StoredSubscription::qos_only("crash/#", QoS::AtLeastOnce)]
                    }
                    "crash-sub-q2" => {
                        vec![StoredSubscription::qos_only("crash/#", QoS::ExactlyOnce)]
                    }
                    _ => vec![],
                };
                if session.subscriptions != want
                    || !session.messages.is_empty()
                    || session.queued_in_store.messages > 0
                    || !session.inbound_qos2.is_empty()
                {
                    problems.push(format!(
                        "stale state left in the file for {}: subscriptions {:?}, {} messages, \
                         inbound QoS 2 ids {:?}",
                        session.client_id,
                        session.subscriptions,
                        session.messages.len() + session.queued_in_store.messages,
                        session.inbound_qos2
                    ));
                }
            }
            if !snapshot.retained.is_empty() {
                problems.push(format!(
                    "{} retained messages in the file",
                    snapshot.retained.len()
                ));
            }
        }
        Err(error) => problems.push(format!("cannot read the file at the end: {error}")),
    }
    if !drained {
        problems.push(format!(
            "the subscribers had not received everything {DRAIN_TIMEOUT:?} after the last restart"
        ));
    }
    eprint!("{summary}");
    assert!(
        problems.is_empty(),
        "{summary}{} problems (replay the kill delays with MQLITE_CRASH_SEED={seed}):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}
