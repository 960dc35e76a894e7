//! Windowed publish/subscribe flows: `fanin` (also with `--shared N`:
//! the subscribers are N members of one shared subscription), `fanout`,
//! `subscriptions` and `ceiling` (fan-in against the in-process forwarder);
//! in MQTT 3.1.1, or MQTT 5 with `--mqtt5` (and `--props`, `--topic-alias`).
//!
//! Every publisher keeps at most `window` messages outstanding, where a
//! message is outstanding until the subscriber(s) received it *and*, for
//! QoS 1/2, until its PUBACK / PUBCOMP arrived. This paces QoS 0 as well, so
//! the broker is measured delivering messages, not buffering them.

use std::time::{Duration, Instant};

use crate::common::{connect_all_as, disconnect_all, secs, send_subscribes_as, step, wait_subacks};
use crate::histogram::Histogram;
use crate::net::{nanos_since, Net, BIG_BUF};
use crate::proto::{self, kind, prop, read_stamp, Packet, PublishArena};
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
    /// Like `FanIn`, but the subscribers are the members of one shared
    /// subscription `$share/bench/bench/+`: each message goes to one of them.
    Shared,
}

/// The shared subscription of [`Mode::Shared`].
const SHARED_FILTER: &str = "$share/bench/bench/+";

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
    /// MQTT 5: the length of the property block every delivery must carry
    /// (the application properties sent; None for 3.1.1).
    want_props: Option<usize>,
    /// MQTT 5: deliveries whose property block had another length.
    props_mismatch: u64,
    /// MQTT 5: PUBACKs / PUBRECs / PUBCOMPs with a failure reason code, and
    /// the last one's packet type and reason code.
    refused: u64,
    refused_last: (u8, u8),
}

/// Runs the scenario named in `o.scenario`.
pub fn run(o: &Opts) -> Result<Report, String> {
    let mode = match o.scenario.as_str() {
        "fanout" => Mode::FanOut,
        "subscriptions" => Mode::Filters,
        _ if o.shared.is_some() => Mode::Shared,
        _ => Mode::FanIn,
    };
    let addr = o.addr()?;
    let qos = o.qos;
    let v5 = o.mqtt5;
    let (npub, nsub) = match mode {
        Mode::FanIn => (o.publishers.unwrap_or(4), 1),
        Mode::FanOut => (1, o.subscribers.unwrap_or(10)),
        Mode::Filters => (o.publishers.unwrap_or(4), o.subscribers.unwrap_or(4)),
        Mode::Shared => (o.publishers.unwrap_or(4), o.shared.unwrap_or(8)),
    };
    let duration = secs(o.duration.unwrap_or(10.0));
    let max_messages = o.messages.unwrap_or(5_000_000);
    let mut window = u64::from(o.window.unwrap_or(100).min(65_000));
    let setup = Duration::from_secs(30);
    let mut net = Net::new().map_err(|e| format!("poll: {e}"))?;

    // Subscribers and their filters.
    let (subs, _) = connect_all_as(
        &mut net,
        o.sub_addr()?,
        "sub",
        nsub,
        BIG_BUF,
        setup,
        !o.persistent_sub,
        v5,
    )?;
    let mut pid = 0u16;
    let mut packets = 0;
    let mut wildcards = 0usize;
    let nfilters = match mode {
        Mode::FanIn => {
            packets += send_subscribes_as(&mut net, subs[0], &["bench/+"], qos, 1, &mut pid, v5);
            1
        }
        Mode::FanOut | Mode::Shared => {
            let filter = if mode == Mode::Shared {
                SHARED_FILTER
            } else {
                "bench/fanout"
            };
            for &s in &subs {
                packets += send_subscribes_as(&mut net, s, &[filter], qos, 1, &mut pid, v5);
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
                packets +=
                    send_subscribes_as(&mut net, s, &filters, qos, o.per_packet, &mut pid, v5);
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

    let (pubs, granted) = connect_all_as(&mut net, addr, "pub", npub, 1 << 16, setup, true, v5)?;
    if o.topic_alias && granted.topic_alias_max == 0 {
        return Err(
            "--topic-alias: the broker's CONNACK grants no topic aliases \
             (Topic Alias Maximum absent or 0)"
                .into(),
        );
    }
    if v5 && qos > 0 {
        // No more unacknowledged QoS 1/2 PUBLISHes than the broker's Receive
        // Maximum allows.
        window = window.min(u64::from(granted.receive_max.max(1)));
    }
    let refill = (window / 4).max(1);
    let mut role = vec![Role::Pub(0); net.conns.len()];
    for (k, &s) in subs.iter().enumerate() {
        role[s] = Role::Sub(k);
    }
    for (k, &p) in pubs.iter().enumerate() {
        role[p] = Role::Pub(k);
    }

    // Pre-encoded messages. MQTT 5: every PUBLISH carries the same property
    // block (the application properties of --props, then the Topic Alias).
    let mut arena = PublishArena::new(o.payload, qos, false);
    let app_props = if o.props {
        proto::app_properties()
    } else {
        Vec::new()
    };
    let mut block = app_props.clone();
    if o.topic_alias {
        // Alias 1 on every connection: each has its own alias space.
        proto::put_prop_u16(&mut block, prop::TOPIC_ALIAS, 1);
    }
    let add = |arena: &mut PublishArena, topic: &[u8]| {
        if v5 {
            arena.add_topic_v5(topic, &block);
        } else {
            arena.add_topic(topic);
        }
    };
    match mode {
        Mode::FanIn | Mode::Shared => {
            (0..npub).for_each(|p| add(&mut arena, format!("bench/{p}").as_bytes()))
        }
        Mode::FanOut => add(&mut arena, b"bench/fanout"),
        Mode::Filters => {
            (0..nfilters).for_each(|i| add(&mut arena, format!("sub/{i}/x").as_bytes()))
        }
    }
    let ntopics = arena.topics() as u64;
    // With topic aliases a publisher's first message (sequence 0) names the
    // topic and sets the alias; the later ones use the entry `alias_base`
    // further on: an empty topic name with the alias. (Every publisher has
    // one topic: --topic-alias is only for fanin and fanout.)
    let alias_base = if o.topic_alias {
        (0..ntopics).for_each(|_| add(&mut arena, b""));
        ntopics as usize
    } else {
        0
    };

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
        want_props: v5.then_some(app_props.len()),
        props_mismatch: 0,
        refused: 0,
        refused_last: (0, 0),
    };
    // Whether per-publisher ordering lets the sequence watermark stand for
    // "delivered" (tolerates messages a broker dropped). Shared members get
    // a share each: only the sum over them counts.
    let ordered = match mode {
        Mode::FanIn | Mode::FanOut => true,
        Mode::Filters => nsub == 1,
        Mode::Shared => false,
    };
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
                        Mode::FanIn | Mode::Shared => p,
                        Mode::FanOut => 0,
                        Mode::Filters => ((seq * npub as u64 + p as u64) % ntopics) as usize,
                    };
                    let topic = topic + if seq == 0 { 0 } else { alias_base };
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
    if v5 {
        r.int("mqtt", 5)
            .int("props_bytes", app_props.len() as u64)
            .int("topic_alias", u64::from(o.topic_alias));
    }
    if mode == Mode::Shared {
        // Deliveries per member (stamped messages): how evenly the broker
        // spreads the group's messages.
        let per_member = |s: usize| st.cnt[s * npub..(s + 1) * npub].iter().sum::<u64>();
        r.int("shared_members", nsub as u64)
            .int("member_min", (0..nsub).map(per_member).min().unwrap_or(0))
            .int("member_max", (0..nsub).map(per_member).max().unwrap_or(0));
    }
    r.int("sent", total_sent)
        .int("received", st.received)
        .int("lost", expected.saturating_sub(st.received));
    if st.received > expected {
        r.int("duplicates", st.received - expected);
    }
    r.float("duration_s", elapsed)
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
    // A broker that refuses the messages or drops their properties is not
    // doing the work measured: no result.
    if st.refused > 0 {
        return Err(format!(
            "the broker refused {} of {total_sent} PUBLISHes (last: packet type {} with \
             reason code 0x{:02x}); {}",
            st.refused,
            st.refused_last.0,
            st.refused_last.1,
            r.render(false)
        ));
    }
    if st.props_mismatch > 0 {
        return Err(format!(
            "{} of {} deliveries did not carry the {}-byte property block sent; {}",
            st.props_mismatch,
            st.received,
            app_props.len(),
            r.render(false)
        ));
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
        Mode::Filters | Mode::Shared => st.per_pub[p],
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
                props,
                ..
            },
        ) => {
            if let Some(n) = st.want_props {
                if props.len() != n {
                    st.props_mismatch += 1;
                }
            }
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
        // MQTT 5: a refused message ends its flow (and fails the run).
        (Role::Pub(p), Packet::AckRefused { kind, reason }) => {
            st.acked[p] += 1;
            st.refused += 1;
            st.refused_last = (kind, reason);
        }
        _ => {}
    }
}
