//! Windowed publish/subscribe flows: `fanin`, `fanout`, `subscriptions` and
//! `ceiling` (fan-in against the in-process forwarder).
//!
//! Every publisher keeps at most `window` messages outstanding, where a
//! message is outstanding until the subscriber(s) received it *and*, for
//! QoS 1/2, until its PUBACK / PUBCOMP arrived. This paces QoS 0 as well, so
//! the broker is measured delivering messages, not buffering them.

use std::time::{Duration, Instant};

use crate::common::{
    connect_all, connect_all_session, disconnect_all, secs, send_subscribes, step, wait_subacks,
};
use crate::histogram::Histogram;
use crate::net::{nanos_since, Net, BIG_BUF};
use crate::proto::{self, kind, read_stamp, Packet, PublishArena};
use crate::report::Report;
use crate::Opts;

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Every publisher has its own topic `bench/<p>`; one subscriber on `bench/+`.
    FanIn,
    /// One topic, every subscriber gets every message.
    FanOut,
    /// Topics `sub/<i>/x` round robin; each matches exactly one filter.
    Filters,
}

#[derive(Clone, Copy)]
enum Role {
    Pub(usize),
    Sub(usize),
}

struct State {
    hist: Histogram,
    received: u64,
    bytes: u64,
    unstamped: u64,
    /// Per (subscriber, publisher): messages received.
    cnt: Vec<u64>,
    /// Per (subscriber, publisher): highest sequence number + 1.
    wm: Vec<u64>,
    /// Per publisher: messages received by any subscriber.
    per_pub: Vec<u64>,
    sent: Vec<u64>,
    acked: Vec<u64>,
    /// Time of the last received message (ns since the run's base).
    last_rx: u64,
}

/// Runs the scenario named in `o.scenario`.
pub fn run(o: &Opts) -> Result<Report, String> {
    let mode = match o.scenario.as_str() {
        "fanout" => Mode::FanOut,
        "subscriptions" => Mode::Filters,
        _ => Mode::FanIn,
    };
    let addr = o.addr()?;
    let qos = o.qos;
    let (npub, nsub) = match mode {
        Mode::FanIn => (o.publishers.unwrap_or(4), 1),
        Mode::FanOut => (1, o.subscribers.unwrap_or(10)),
        Mode::Filters => (o.publishers.unwrap_or(4), o.subscribers.unwrap_or(4)),
    };
    let duration = secs(o.duration.unwrap_or(10.0));
    let max_messages = o.messages.unwrap_or(5_000_000);
    let window = u64::from(o.window.unwrap_or(100).min(65_000));
    let refill = (window / 4).max(1);
    let setup = Duration::from_secs(30);
    let mut net = Net::new().map_err(|e| format!("poll: {e}"))?;

    // Subscribers and their filters.
    let subs = connect_all_session(
        &mut net,
        addr,
        "sub",
        nsub,
        BIG_BUF,
        setup,
        !o.persistent_sub,
    )?;
    let mut pid = 0u16;
    let mut packets = 0;
    let mut wildcards = 0usize;
    let nfilters = match mode {
        Mode::FanIn => {
            packets += send_subscribes(&mut net, subs[0], &["bench/+"], qos, 1, &mut pid);
            1
        }
        Mode::FanOut => {
            for &s in &subs {
                packets += send_subscribes(&mut net, s, &["bench/fanout"], qos, 1, &mut pid);
            }
            subs.len()
        }
        Mode::Filters => {
            let n = o.filters.max(1);
            let every = if o.wildcard_pct == 0 {
                usize::MAX
            } else {
                (100 / o.wildcard_pct as usize).max(1)
            };
            for (k, &s) in subs.iter().enumerate() {
                let filters: Vec<String> = (k..n)
                    .step_by(subs.len())
                    .map(|i| {
                        if i % every == 0 {
                            wildcards += 1;
                            format!("sub/{i}/+")
                        } else {
                            format!("sub/{i}/x")
                        }
                    })
                    .collect();
                packets += send_subscribes(&mut net, s, &filters, qos, o.per_packet, &mut pid);
            }
            n
        }
    };
    let t_sub = Instant::now();
    let refused = wait_subacks(&mut net, packets, Duration::from_secs(120))?;
    let subscribe_s = t_sub.elapsed().as_secs_f64();
    if refused > 0 {
        return Err(format!(
            "broker refused {refused} of {nfilters} subscriptions"
        ));
    }

    let pubs = connect_all(&mut net, addr, "pub", npub, 1 << 16, setup)?;
    let mut role = vec![Role::Pub(0); net.conns.len()];
    for (k, &s) in subs.iter().enumerate() {
        role[s] = Role::Sub(k);
    }
    for (k, &p) in pubs.iter().enumerate() {
        role[p] = Role::Pub(k);
    }

    // Pre-encoded messages.
    let mut arena = PublishArena::new(o.payload, qos, false);
    match mode {
        Mode::FanIn => (0..npub).for_each(|p| {
            arena.add_topic(format!("bench/{p}").as_bytes());
        }),
        Mode::FanOut => {
            arena.add_topic(b"bench/fanout");
        }
        Mode::Filters => (0..nfilters).for_each(|i| {
            arena.add_topic(format!("sub/{i}/x").as_bytes());
        }),
    }
    let ntopics = arena.topics() as u64;

    let base = Instant::now();
    let mut st = State {
        hist: Histogram::new(),
        received: 0,
        bytes: 0,
        unstamped: 0,
        cnt: vec![0; nsub * npub],
        wm: vec![0; nsub * npub],
        per_pub: vec![0; npub],
        sent: vec![0; npub],
        acked: vec![0; npub],
        last_rx: 0,
    };
    // Whether per-publisher ordering lets the sequence watermark stand for
    // "delivered" (tolerates messages a broker dropped).
    let ordered = mode != Mode::Filters || nsub == 1;
    let t0 = Instant::now();
    let send_end = t0 + duration;
    let mut total_sent = 0u64;
    let mut sending = true;
    let mut drain_end = send_end;
    let mut stalled = false;
    let mut ready = Vec::new();
    let mut last_progress = (t0, 0u64);
    loop {
        let now = Instant::now();
        if sending && (now >= send_end || total_sent >= max_messages) {
            sending = false;
            drain_end = now + Duration::from_secs(5);
        }
        let expected = total_sent * if mode == Mode::FanOut { nsub as u64 } else { 1 };
        let acked_all = qos == 0 || st.acked.iter().sum::<u64>() == total_sent;
        if !sending && ((st.received >= expected && acked_all) || now >= drain_end) {
            break;
        }
        let progress = st.received + st.acked.iter().sum::<u64>();
        if progress != last_progress.1 {
            last_progress = (now, progress);
        } else if now.duration_since(last_progress.0) > Duration::from_secs(3) {
            stalled = true;
            break;
        }
        if sending {
            let ts = nanos_since(base);
            for (p, &conn) in pubs.iter().enumerate() {
                let delivered = delivered(&st, p, npub, nsub, mode, ordered);
                let mut outstanding = st.sent[p].saturating_sub(delivered);
                if qos > 0 {
                    outstanding = outstanding.max(st.sent[p] - st.acked[p]);
                }
                let n = window
                    .saturating_sub(outstanding)
                    .min(max_messages - total_sent);
                // Refill in batches (a quarter window) rather than one
                // write per acknowledged message, unless the pipe is empty
                // or the message budget is nearly spent.
                if n == 0 || (n < refill && outstanding > 0 && n < max_messages - total_sent) {
                    continue;
                }
                let out = net.out(conn);
                out.reserve(n as usize * arena.wire_len(0));
                for _ in 0..n {
                    let seq = st.sent[p];
                    let topic = match mode {
                        Mode::FanIn => p,
                        Mode::FanOut => 0,
                        Mode::Filters => ((seq * npub as u64 + p as u64) % ntopics) as usize,
                    };
                    let pid = (seq % 65_535) as u16 + 1;
                    arena.write(out, topic, pid, ts, p as u32, seq as u32);
                    st.sent[p] += 1;
                }
                total_sent += n;
            }
        }
        let wait = Duration::from_millis(5);
        step(&mut net, &mut ready, wait, |id, pkt, out| {
            on_packet(&mut st, role[id], pkt, out, qos, npub, base)
        })?;
    }
    let expected = total_sent * if mode == Mode::FanOut { nsub as u64 } else { 1 };
    let t0_ns = t0.duration_since(base).as_nanos() as u64;
    let elapsed = (st.last_rx.saturating_sub(t0_ns) as f64 / 1e9).max(1e-9);
    disconnect_all(&mut net);

    let name = if o.scenario == "ceiling" {
        "ceiling-fanin"
    } else {
        o.scenario.as_str()
    };
    let mut r = Report::new(name, &o.label);
    r.int("qos", u64::from(qos))
        .int("payload", arena.payload_len() as u64)
        .int("publishers", npub as u64)
        .int("subscribers", nsub as u64)
        .int("window", window);
    if mode == Mode::Filters {
        r.int("filters", nfilters as u64)
            .int("wildcards", wildcards as u64)
            .float("subscribe_s", subscribe_s);
    }
    r.int("sent", total_sent)
        .int("received", st.received)
        .int("lost", expected.saturating_sub(st.received))
        .float("duration_s", elapsed)
        .float("msg_per_s", st.received as f64 / elapsed)
        .float("mb_per_s", st.bytes as f64 / elapsed / 1e6);
    if mode == Mode::FanOut {
        r.float("publish_per_s", total_sent as f64 / elapsed);
    }
    r.latency(&st.hist);
    if st.unstamped > 0 {
        r.int("unstamped", st.unstamped);
    }
    if stalled {
        r.text("note", "stalled: no progress for 3 s");
    }
    Ok(r)
}

/// How many of publisher `p`'s messages count as delivered for pacing.
fn delivered(st: &State, p: usize, npub: usize, nsub: usize, mode: Mode, ordered: bool) -> u64 {
    let done = |s: usize| {
        let i = s * npub + p;
        if ordered {
            st.cnt[i].max(st.wm[i])
        } else {
            st.cnt[i]
        }
    };
    match mode {
        Mode::FanOut => (0..nsub).map(done).min().unwrap_or(0),
        Mode::FanIn => done(0),
        Mode::Filters if nsub == 1 => done(0),
        Mode::Filters => st.per_pub[p],
    }
}

fn on_packet(
    st: &mut State,
    role: Role,
    pkt: Packet<'_>,
    out: &mut Vec<u8>,
    qos: u8,
    npub: usize,
    base: Instant,
) {
    match (role, pkt) {
        (
            Role::Sub(s),
            Packet::Publish {
                qos: q,
                pid,
                payload,
                ..
            },
        ) => {
            match q {
                1 => proto::ack(out, kind::PUBACK, pid),
                2 => proto::ack(out, kind::PUBREC, pid),
                _ => {}
            }
            st.received += 1;
            st.bytes += payload.len() as u64;
            let now = nanos_since(base);
            st.last_rx = now;
            match read_stamp(payload) {
                Some((ts, p, seq)) if (p as usize) < npub => {
                    st.hist.record(now.saturating_sub(ts));
                    let i = s * npub + p as usize;
                    st.cnt[i] += 1;
                    st.wm[i] = st.wm[i].max(u64::from(seq) + 1);
                    st.per_pub[p as usize] += 1;
                }
                _ => st.unstamped += 1,
            }
        }
        (Role::Sub(_), Packet::Ack(kind::PUBREL, pid)) => proto::ack(out, kind::PUBCOMP, pid),
        (Role::Pub(p), Packet::Ack(kind::PUBACK, _)) if qos == 1 => st.acked[p] += 1,
        (Role::Pub(_), Packet::Ack(kind::PUBREC, pid)) => proto::ack(out, kind::PUBREL, pid),
        (Role::Pub(p), Packet::Ack(kind::PUBCOMP, _)) => st.acked[p] += 1,
        _ => {}
    }
}
