//! The soak's figures (`tests/robust/soak.rs`): one [`Sample`] of the
//! broker process (RSS, descriptors, database size), the load's counters
//! and the `$SYS` values, and the Markdown table of all samples.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::atomic::AtomicU64;
use std::time::Instant;

use super::soak_load::Counters;
use super::{files_size, sys_snapshot, Mqlite};

/// One line of the figures.
#[derive(Clone, Debug)]
pub struct Sample {
    pub at: u64,
    pub rss_kib: u64,
    pub fds: usize,
    pub db_bytes: u64,
    pub sent: [u64; 3],
    pub acked: [u64; 3],
    pub received: [u64; 3],
    pub connections: u64,
    pub sys: HashMap<String, String>,
}

/// The process figures now, then the next `$SYS` publication (up to
/// `sys_interval` later).
pub fn sample(broker: &Mqlite, started: Instant, counters: &Counters) -> Sample {
    let c = |a: &[AtomicU64; 3]| [0, 1, 2].map(|q| Counters::get(&a[q]));
    let mut sample = Sample {
        at: started.elapsed().as_secs(),
        rss_kib: broker.rss_kib(),
        fds: broker.fd_count(),
        db_bytes: files_size(&broker.dir, "mqlite.db"),
        sent: c(&counters.sent),
        acked: c(&counters.acked),
        received: c(&counters.received),
        connections: Counters::get(&counters.connections),
        sys: HashMap::new(),
    };
    sample.sys = sys_snapshot(broker.addr);
    sample
}

pub fn table(samples: &[Sample]) -> String {
    let mut out = String::new();
    out.push_str(
        "| t (s) | RSS (KiB) | fds | db+wal (KiB) | connections | q0 sent/recv | \
         q1 sent/acked/recv | q2 sent/acked/recv | sessions | retained | dropped |\n",
    );
    out.push_str("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for s in samples {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {}/{} | {}/{}/{} | {}/{}/{} | {} | {} | {} |",
            s.at,
            s.rss_kib,
            s.fds,
            s.db_bytes / 1024,
            s.connections,
            s.sent[0],
            s.received[0],
            s.sent[1],
            s.acked[1],
            s.received[1],
            s.sent[2],
            s.acked[2],
            s.received[2],
            s.sys.get("clients/total").map_or("?", |v| v),
            s.sys.get("retained messages/count").map_or("?", |v| v),
            s.sys.get("publish/messages/dropped").map_or("?", |v| v),
        );
    }
    out
}
