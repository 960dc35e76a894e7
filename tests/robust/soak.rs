//! Soak: the `mqlite` binary with persistence on (`--db` in a temp dir)
//! under a steady mixed load for `MQLITE_SOAK_SECS` seconds (default 60,
//! the CI form; `scripts/soak.sh` runs 600 against the release build):
//!
//! - QoS 0, 1 and 2 publishers at fixed rates, reconnecting every ~10 s;
//! - 4 persistent subscribers (clean session 0; two at QoS 1, two at
//!   QoS 2, all also on the QoS 0 stream) that go offline for 0.3-1.5 s
//!   every 2-6 s, half the time with DISCONNECT, half by dropping the
//!   socket, and keep their QoS 2 receiver state across connections;
//! - retained churn: 200 topics set, replaced and cleared;
//! - connection churn: short-lived clean and persistent sessions (created
//!   and discarded), wills, bare TCP connections.
//!
//! Every `MQLITE_SOAK_SAMPLE_SECS` (default 10) it records the broker's
//! RSS, open descriptors, database size (file + WAL + SHM) and message
//! counters. At the end it checks: RSS flat after warm-up (no more than 5 %
//! above the first sample after warm-up; 10 % for runs under 5 minutes,
//! whose warm-up is too short for the allocator to settle), descriptors back to the start
//! figure, database size stable, every acknowledged QoS 1/2 message
//! received by every persistent subscriber (QoS 2 exactly once), the
//! retained store equal to what was published, and all of it again after
//! a restart on the same database. With `MQLITE_SOAK_REPORT=FILE` the
//! figures are also written there as Markdown.
//!
//! The workload is in `robust_support/soak_load.rs`, the sampling and the
//! table of figures in `robust_support/soak_figures.rs`.

use crate::support;

use std::collections::HashMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::mpsc::channel;
use std::sync::Arc;
use std::time::{Duration, Instant};

use support::robust::soak_figures::{sample, table, Sample};
use support::robust::soak_load::{
    connection_churn, publisher, retained_churn, subscriber, Counters, Ledger, Q0, Q1, Q2,
    SUBSCRIBERS,
};
use support::robust::{sys_u64, Spawn};
use support::{env_or, Pkt, RawClient, Recv, TempDir};

#[test]
fn soak() {
    let secs = env_or("MQLITE_SOAK_SECS", 60u64);
    let every = env_or("MQLITE_SOAK_SAMPLE_SECS", 10u64).max(1);
    // Warm-up: the first third of the run, at most 2 minutes.
    let warmup = (secs / 3).min(120);
    let dir = TempDir::new("soak");
    let config = "sys_interval = 1";
    let mut broker = Spawn::new(config).persist().dir(&dir.0).start();
    let addr = broker.addr;
    let fds_at_start = broker.fd_count();
    let counters = Arc::new(Counters::default());
    let started = Instant::now();
    let end = started + Duration::from_secs(secs);
    println!(
        "soak: {secs} s against {} (pid {}), sampling every {every} s, warm-up {warmup} s",
        support::robust::bin_path().display(),
        broker.pid()
    );

    // Publishing starts once every persistent subscriber has subscribed.
    let (subscribed, ready) = channel();
    let subscribers: Vec<_> = (0..SUBSCRIBERS)
        .map(|k| subscriber(addr, k, end, Arc::clone(&counters), subscribed.clone()))
        .collect();
    for _ in 0..SUBSCRIBERS {
        ready
            .recv_timeout(Duration::from_secs(10))
            .expect("a persistent subscriber did not subscribe within 10 s");
    }
    let publishers: Vec<_> = [Q0, Q1, Q2]
        .into_iter()
        .map(|qos| publisher(addr, qos, end, Arc::clone(&counters)))
        .collect();
    let retained = retained_churn(addr, end, Arc::clone(&counters));
    let churn = connection_churn(addr, end, Arc::clone(&counters));

    let mut samples = vec![sample(&broker, started, &counters)];
    let threads_done = || {
        publishers.iter().all(|t| t.is_finished()) && retained.is_finished() && churn.is_finished()
    };
    let mut next_sample = started + Duration::from_secs(every);
    while Instant::now() < end {
        broker.assert_running();
        if threads_done() {
            break; // a load thread failed: its panic is reported below
        }
        if Instant::now() >= next_sample {
            samples.push(sample(&broker, started, &counters));
            let s = samples.last().unwrap();
            println!(
                "t={:>4}s rss={} KiB fds={} db={} KiB q1 {}/{}/{} q2 {}/{}/{}",
                s.at,
                s.rss_kib,
                s.fds,
                s.db_bytes / 1024,
                s.sent[1],
                s.acked[1],
                s.received[1],
                s.sent[2],
                s.acked[2],
                s.received[2]
            );
            next_sample += Duration::from_secs(every);
        }
        // Paces the sampling loop while the load runs for its set duration.
        std::thread::sleep(Duration::from_millis(100));
    }

    // Load ends; everyone finishes and disconnects.
    let acked: Vec<Vec<u64>> = publishers
        .into_iter()
        .map(|t| t.join().expect("publisher"))
        .collect();
    let expected_retained = retained.join().expect("retained churn");
    let churned = churn.join().expect("connection churn");
    let ledgers: Vec<Ledger> = subscribers
        .into_iter()
        .map(|t| t.join().expect("persistent subscriber"))
        .collect();
    samples.push(sample(&broker, started, &counters));

    // Every acknowledged QoS 1/2 message reached every persistent
    // subscriber of its stream; QoS 2 exactly once.
    let mut accounting = String::new();
    for ledger in &ledgers {
        let stream = &acked[ledger.qos as usize];
        let missing: Vec<u64> = stream
            .iter()
            .copied()
            .filter(|s| !ledger.received.contains(s))
            .collect();
        let _ = writeln!(
            accounting,
            "| {} | {} | {} | {} | {} | {} | {} | {} |",
            ledger.id,
            ledger.qos,
            stream.len(),
            ledger.received.len(),
            missing.len(),
            ledger.duplicates,
            ledger.resent_awaiting_rel,
            ledger.connections
        );
        assert!(
            missing.is_empty(),
            "{} (QoS {}) misses {} of {} acknowledged messages, first {:?}",
            ledger.id,
            ledger.qos,
            missing.len(),
            stream.len(),
            &missing[..missing.len().min(10)]
        );
        if ledger.qos == 2 {
            assert_eq!(ledger.duplicates, 0, "{}: QoS 2 duplicates", ledger.id);
        }
    }
    let sent = samples.last().unwrap().sent;

    // The retained store is exactly what was published.
    let check_retained = |addr: SocketAddr| {
        let mut c = RawClient::open(addr);
        c.connect("soak-retained-check", true, 30);
        c.subscribe(&[("soak/ret/#", Q0)]);
        let mut found = HashMap::new();
        while let Recv::Packet(pkt) = c.recv(Duration::from_millis(1000)) {
            let Pkt::Publish(msg) = pkt else {
                panic!("{pkt:?}")
            };
            assert!(msg.retain);
            found.insert(msg.topic, msg.payload);
        }
        c.disconnect();
        assert_eq!(found.len(), expected_retained.len(), "retained topics");
        for (topic, payload) in &expected_retained {
            assert_eq!(found.get(topic), Some(payload), "retained {topic}");
        }
    };
    check_retained(addr);

    // No descriptor leak: back to the start figure once all are gone.
    let fds_closed =
        support::poll_until(Duration::from_secs(5), || broker.fd_count() <= fds_at_start);
    let fds_end = broker.fd_count();

    // And all of it survives a restart on the same database.
    let sessions = sys_u64(&samples.last().unwrap().sys, "clients/total");
    let port = addr.port();
    broker.stop();
    let restarted = Spawn::new(config).persist().port(port).dir(&dir.0).start();
    let restored = restarted
        .wait_log(&["restored"], Duration::from_secs(5))
        .unwrap_or_default();
    check_retained(restarted.addr);
    for ledger in &ledgers {
        let mut c = RawClient::open(restarted.addr);
        assert!(
            c.connect(&ledger.id, false, 30),
            "{}: session not restored",
            ledger.id
        );
        c.expect_nothing();
        c.disconnect();
    }
    drop(restarted);

    // The figures.
    let after: Vec<&Sample> = samples.iter().filter(|s| s.at >= warmup).collect();
    let base = after.first().copied().unwrap_or(samples.last().unwrap());
    let rss_max = after.iter().map(|s| s.rss_kib).max().unwrap_or(0);
    let rss_growth = (rss_max as f64 / base.rss_kib as f64 - 1.0) * 100.0;
    let db_max = after.iter().map(|s| s.db_bytes).max().unwrap_or(0);
    let db_growth = (db_max as f64 / base.db_bytes.max(1) as f64 - 1.0) * 100.0;
    let mut report = String::new();
    let _ = writeln!(
        report,
        "Soak of {secs} s ({}), samples every {every} s, warm-up {warmup} s.\n",
        support::robust::bin_path().display()
    );
    report.push_str(&table(&samples));
    let _ = writeln!(
        report,
        "\nRSS after warm-up: {} KiB at {} s, max {rss_max} KiB ({rss_growth:+.1} %). \
         Database (file + WAL + SHM) after warm-up: {} KiB, max {} KiB ({db_growth:+.1} %). \
         Descriptors: {fds_at_start} at start, {fds_end} at the end. \
         Connections opened by the load: {}; churn loop iterations: {churned}. \
         Sessions at the end: {sessions}. Restart: {}.\n",
        base.rss_kib,
        base.at,
        base.db_bytes / 1024,
        db_max / 1024,
        samples.last().unwrap().connections,
        // The line without its timestamp.
        restored
            .split_once(' ')
            .map_or("?", |(_, rest)| rest.trim()),
    );
    let _ = writeln!(
        report,
        "Published: QoS 0 {}, QoS 1 {} (acked {}), QoS 2 {} (acked {}).\n",
        sent[0],
        sent[1],
        acked[1].len(),
        sent[2],
        acked[2].len()
    );
    report.push_str(
        "| subscriber | QoS | acked on its stream | distinct received | missing | duplicates | \
         QoS 2 resends awaiting PUBREL | connections |\n|---|---|---|---|---|---|---|---|\n",
    );
    report.push_str(&accounting);
    println!("{report}");
    if let Ok(path) = std::env::var("MQLITE_SOAK_REPORT") {
        std::fs::write(&path, &report).expect("write the soak report");
    }

    assert!(
        fds_closed,
        "descriptor leak: {fds_at_start} at start, {fds_end} at the end"
    );
    // A short run (CI's 30 s) ends its warm-up before the allocator's
    // pools settle (+5.5 % seen at 30 s, +1.4 % after 150 s): it is allowed
    // more, and the 10-minute soak (scripts/soak.sh) is the leak check.
    let rss_limit = if secs >= 300 { 5.0 } else { 10.0 };
    assert!(
        rss_growth <= rss_limit,
        "RSS grew {rss_growth:.1} % after warm-up ({} -> {rss_max} KiB), over {rss_limit} %",
        base.rss_kib
    );
    assert!(
        db_growth <= 25.0,
        "database grew {db_growth:.1} % after warm-up ({} -> {db_max} bytes)",
        base.db_bytes
    );
}
