//! Overload of connections, against the `mqlite` binary: past
//! `max_connections`, and out of file descriptors (run under
//! `prlimit --nofile=64:64`).
//!
//! What must hold: new clients past the limits are refused cleanly (closed,
//! no hang); descriptor exhaustion neither spins the reactor (its CPU time,
//! read from /proc/PID/stat, stays low) nor crashes it, and it serves again
//! once descriptors free up. Only generous liveness bounds are asserted,
//! never speeds. Subscribers that stop reading are in
//! `robust_overload_consumers.rs`.

use crate::support;

use std::time::{Duration, Instant};

use support::robust::{cpu_share, fd_count, Spawn};
use support::{ConnectOptions, Pkt, RawClient, Recv};

#[test]
fn past_max_connections_new_clients_are_refused_cleanly() {
    let mut broker = Spawn::new("max_connections = 50\nsys_interval = 0").start();
    let baseline = broker.fd_count();
    let mut clients: Vec<RawClient> = (0..50)
        .map(|i| {
            let mut c = RawClient::open(broker.addr);
            c.connect(&format!("full-{i}"), true, 60);
            c
        })
        .collect();

    // 200 more, from 4 threads: each is closed without a byte, promptly.
    let addr = broker.addr;
    let cpu_before = broker.cpu_ticks();
    let started = Instant::now();
    let threads: Vec<_> = (0..4)
        .map(|t| {
            std::thread::spawn(move || {
                let mut refused = 0;
                for i in 0..50 {
                    let mut c = RawClient::open(addr);
                    c.send_connect(&ConnectOptions::new(&format!("extra-{t}-{i}")));
                    c.expect_closed();
                    refused += 1;
                }
                refused
            })
        })
        .collect();
    let refused: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
    assert_eq!(refused, 200);
    let cpu = (broker.cpu_ticks() - cpu_before) as f64
        / support::robust::clk_tck() as f64
        / started.elapsed().as_secs_f64();
    println!(
        "200 refusals in {:?}, broker CPU {:.0} %",
        started.elapsed(),
        cpu * 100.0
    );
    // The log says why (rate-limited, so at least one line).
    broker.assert_log(&["refusing", "max_connections"]);
    println!(
        "refusal log lines: {}",
        broker.log_lines("max_connections").len()
    );
    // Those inside are untouched.
    for c in &mut clients {
        c.ping();
    }
    // Ten leave, ten others get in.
    for c in clients.drain(..10) {
        c.disconnect();
    }
    for i in 0..10 {
        let mut admitted = None;
        assert!(support::poll_until(Duration::from_secs(5), || {
            let mut c = RawClient::open(broker.addr);
            c.send_connect(&ConnectOptions::new(&format!("later-{i}")));
            match c.recv(Duration::from_secs(2)) {
                Recv::Packet(Pkt::ConnAck { code: 0, .. }) => {
                    admitted = Some(c);
                    true
                }
                _ => false,
            }
        }));
        clients.push(admitted.unwrap());
    }
    for c in clients.drain(..) {
        c.disconnect();
    }
    assert!(support::poll_until(Duration::from_secs(5), || broker
        .fd_count()
        <= baseline));
    broker.assert_serves();
}

#[test]
fn descriptor_exhaustion_does_not_spin_and_recovers() {
    // 64 descriptors in all: a few are the broker's own, the rest go to
    // clients; the clients beyond wait in the kernel's accept queue.
    let mut broker = Spawn::new("sys_interval = 0").nofile(64).start();
    let pid = broker.pid();
    let own = broker.fd_count();
    let room = 64 - own;
    let extra = 30;
    let mut clients: Vec<RawClient> = (0..room + extra)
        .map(|i| {
            let mut c = RawClient::open(broker.addr);
            c.send_connect(&ConnectOptions::new(&format!("fd-{i}")));
            c
        })
        .collect();
    // Who got a CONNACK: at most `room`.
    let mut connected = Vec::new();
    let mut waiting = Vec::new();
    for (i, mut c) in clients.drain(..).enumerate() {
        match c.recv(Duration::from_millis(if i < room { 3000 } else { 200 })) {
            Recv::Packet(Pkt::ConnAck { code: 0, .. }) => connected.push(c),
            Recv::Timeout => waiting.push(c),
            other => panic!("client {i}: {other:?}"),
        }
    }
    println!(
        "nofile 64: broker's own descriptors {own}, clients served {}, waiting {}",
        connected.len(),
        waiting.len()
    );
    assert!(!waiting.is_empty(), "the limit was never hit");
    assert!(
        connected.len() + 8 >= room,
        "only {} served",
        connected.len()
    );
    let in_use = fd_count(pid);
    assert!(in_use >= 62, "only {in_use} of 64 descriptors in use");

    // While out of descriptors: the reactor must not spin.
    let log_before = broker.log_lines("accept failed").len();
    let window = Duration::from_secs(3);
    let share = cpu_share(pid, window);
    let log_lines = broker.log_lines("accept failed").len() - log_before;
    println!(
        "out of descriptors: broker CPU {:.1} % of a core, {log_lines} `accept failed` lines in {window:?}",
        share * 100.0
    );
    broker.assert_log(&["accept failed", "Too many open files"]);
    assert!(
        share < 0.25,
        "the broker used {:.0} % of a core while out of descriptors",
        share * 100.0
    );
    assert!(
        log_lines < 100,
        "{log_lines} `accept failed` lines in {window:?}: the log floods"
    );
    broker.assert_running();
    for c in &mut connected {
        c.ping();
    }

    // Descriptors free up: the waiting clients are served.
    let freed = waiting.len() + 5;
    for c in connected.drain(..freed.min(connected.len())) {
        c.disconnect();
    }
    for (i, c) in waiting.iter_mut().enumerate() {
        match c.recv(Duration::from_secs(5)) {
            Recv::Packet(Pkt::ConnAck { code: 0, .. }) => c.ping(),
            other => panic!("waiting client {i} after descriptors freed up: {other:?}"),
        }
    }
    for c in waiting.drain(..).chain(connected.drain(..)) {
        c.disconnect();
    }
    assert!(support::poll_until(Duration::from_secs(5), || fd_count(
        pid
    ) <= own));
    broker.assert_serves();
}
