//! `connections`: K idle clients, each CONNECT + SUBSCRIBE `idle/<i>`.
//! Reports the handshake rate and the broker's resident memory per
//! connection (VmRSS of `--broker-pid` after − before, divided by K), and
//! the broker's CPU time per connection while they were made (with the
//! capacity that implies: the one-thread generator, which pays the client
//! side of every handshake, saturates first).

use std::time::{Duration, Instant};

use crate::common::{
    client_id, cpu_seconds, disconnect_all, raise_nofile, secs, vm_rss, KEEP_ALIVE,
};
use crate::histogram::Histogram;
use crate::net::{nanos_since, Net, SMALL_BUF};
use crate::proto::{self, Packet};
use crate::report::Report;
use crate::Opts;

const WAIT_CONNACK: u8 = 0;
const WAIT_SUBACK: u8 = 1;
const DONE: u8 = 2;
const FAILED: u8 = 3;

/// Runs the connections scenario.
pub fn run(o: &Opts) -> Result<Report, String> {
    let addr = o.addr()?;
    let k = o.connections;
    // With --ceiling the forwarder's sockets live in this process too.
    let fds = if o.ceiling { 2 * k as u64 } else { k as u64 };
    let limit = raise_nofile(fds + 256)?;
    if limit < fds + 64 {
        return Err(format!(
            "RLIMIT_NOFILE is {limit}, too low for {k} connections"
        ));
    }
    // Handshakes in progress at once. Kept below common listen backlogs
    // (mosquitto: 100): an overflowing accept queue drops SYNs, and the
    // client's 1 s SYN retransmission would dominate the measurement.
    let concurrency = o.window.unwrap_or(64) as usize;
    let timeout = secs(o.duration.unwrap_or(120.0));
    let rss_before = o.broker_pid.map(vm_rss).transpose()?;
    let cpu_before = o.broker_pid.map(cpu_seconds).transpose()?;

    let mut net = Net::new().map_err(|e| format!("poll: {e}"))?;
    let mut state: Vec<u8> = Vec::with_capacity(k);
    let mut started_at: Vec<u64> = Vec::with_capacity(k);
    let mut hist = Histogram::new();
    let (mut started, mut done, mut failed) = (0usize, 0usize, 0usize);
    let mut first_error: Option<String> = None;
    let mut ready = Vec::new();
    let t0 = Instant::now();
    let deadline = t0 + timeout;
    while done + failed < k && Instant::now() < deadline {
        while started - done - failed < concurrency && started < k {
            match net.connect(addr, SMALL_BUF) {
                Ok(id) => {
                    let out = net.out(id);
                    proto::connect(out, &client_id("idle", started), KEEP_ALIVE);
                    proto::subscribe(out, 1, &[format!("idle/{started}")], 0);
                    state.push(WAIT_CONNACK);
                    started_at.push(nanos_since(t0));
                }
                Err(e) => {
                    failed += 1;
                    first_error.get_or_insert_with(|| format!("connect: {e}"));
                }
            }
            started += 1;
        }
        net.flush();
        net.poll(Some(Duration::from_millis(10)), &mut ready)
            .map_err(|e| format!("poll: {e}"))?;
        for &id in &ready {
            let st = &mut state[id];
            net.read(id, |p, _, _| match p {
                Packet::ConnAck { code, .. } if *st == WAIT_CONNACK => {
                    *st = if code == 0 { WAIT_SUBACK } else { FAILED };
                }
                Packet::SubAck { codes, .. } if *st == WAIT_SUBACK => {
                    *st = if codes.first().is_some_and(|&c| c & 0x80 == 0) {
                        DONE
                    } else {
                        FAILED
                    };
                }
                _ => {}
            });
            if let Some(why) = &net.conns[id].closed {
                if *st < DONE {
                    *st = FAILED;
                }
                first_error.get_or_insert_with(|| why.clone());
            }
            match *st {
                DONE => {
                    done += 1;
                    hist.record(nanos_since(t0).saturating_sub(started_at[id]));
                    *st = DONE + 10; // counted
                }
                FAILED => {
                    failed += 1;
                    *st = FAILED + 10;
                }
                _ => {}
            }
        }
    }
    let connect_s = t0.elapsed().as_secs_f64();
    let cpu_after = o.broker_pid.map(cpu_seconds).transpose()?;

    // Hold the connections open, then measure the broker.
    let hold_end = Instant::now() + secs(o.hold);
    let mut dropped = 0usize;
    while Instant::now() < hold_end {
        net.flush();
        net.poll(Some(Duration::from_millis(50)), &mut ready)
            .map_err(|e| format!("poll: {e}"))?;
        for &id in &ready {
            let was_open = net.conns[id].closed.is_none();
            net.read(id, |_, _, _| {});
            if was_open && net.conns[id].closed.is_some() {
                dropped += 1;
            }
        }
    }
    let rss_after = o.broker_pid.map(vm_rss).transpose()?;
    disconnect_all(&mut net);

    let mut r = Report::new("connections", &o.label);
    r.int("connections", k as u64)
        .int("connected", done as u64)
        .int("failed", failed as u64)
        .int("dropped_while_idle", dropped as u64)
        .float("duration_s", connect_s)
        .float("conn_per_s", done as f64 / connect_s.max(1e-9))
        .int("concurrency", concurrency as u64);
    // Time from connect() to SUBACK per client.
    r.latency(&hist);
    if let (Some(b), Some(a)) = (rss_before, rss_after) {
        r.int("rss_before", b).int("rss_after", a).float(
            "rss_per_conn_bytes",
            (a as f64 - b as f64) / (done.max(1) as f64),
        );
    }
    // The broker's own CPU per connection while they were made: what it
    // could accept if the generator (one thread, paying the client side of
    // every handshake) were not the limit.
    if let (Some(b), Some(a)) = (cpu_before, cpu_after) {
        let per_conn = (a - b) / (done.max(1) as f64);
        r.float("broker_cpu_us_per_conn", per_conn * 1e6);
        if per_conn > 0.0 {
            r.float("broker_capacity_conn_per_s", 1.0 / per_conn);
        }
    }
    if let Some(e) = first_error {
        r.text("first_error", &e);
    }
    Ok(r)
}
