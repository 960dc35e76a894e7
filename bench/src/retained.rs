//! `retained`: publish R retained messages to `ret/<i>/x` (QoS 1, windowed,
//! so the broker has stored them all), then time SUBSCRIBE `ret/#` → all R
//! received. The retained messages are deleted again afterwards.

use std::time::{Duration, Instant};

use crate::common::{connect_all, disconnect_all, secs, send_subscribes, step};
use crate::net::{Net, BIG_BUF};
use crate::proto::{self, kind, Packet, PublishArena};
use crate::report::Report;
use crate::Opts;

/// Runs the retained scenario.
pub fn run(o: &Opts) -> Result<Report, String> {
    let addr = o.addr()?;
    let r_total = o.retained.max(1) as u64;
    let window = u64::from(o.window.unwrap_or(1000).min(65_000));
    let timeout = secs(o.duration.unwrap_or(60.0));
    let setup = Duration::from_secs(30);
    let mut ready = Vec::new();

    // 1. Store R retained messages.
    let mut net = Net::new().map_err(|e| format!("poll: {e}"))?;
    let publisher = connect_all(&mut net, addr, "rpub", 1, 1 << 16, setup)?[0];
    let mut arena = PublishArena::new(o.payload, 1, true);
    for i in 0..r_total {
        arena.add_topic(format!("ret/{i}/x").as_bytes());
    }
    let (mut sent, mut acked) = (0u64, 0u64);
    let t0 = Instant::now();
    while acked < r_total {
        if t0.elapsed() > timeout {
            return Err(format!(
                "storing: only {acked}/{r_total} PUBACKs within {timeout:?}"
            ));
        }
        let n = window.saturating_sub(sent - acked).min(r_total - sent);
        if n > 0 {
            let out = net.out(publisher);
            for _ in 0..n {
                arena.write(
                    out,
                    sent as usize,
                    (sent % 65_535) as u16 + 1,
                    0,
                    0,
                    sent as u32,
                );
                sent += 1;
            }
        }
        step(
            &mut net,
            &mut ready,
            Duration::from_millis(10),
            |_, p, _| {
                if let Packet::Ack(kind::PUBACK, _) = p {
                    acked += 1;
                }
            },
        )?;
    }
    let store_s = t0.elapsed().as_secs_f64();

    // 2. Subscribe and time the delivery of all R.
    let sub = connect_all(&mut net, addr, "rsub", 1, BIG_BUF, setup)?[0];
    let mut pid = 0;
    let t_sub = Instant::now();
    send_subscribes(&mut net, sub, &["ret/#"], 0, 1, &mut pid);
    let (mut got, mut bytes, mut suback) = (0u64, 0u64, false);
    let mut t_last = t_sub;
    while got < r_total && t_sub.elapsed() < timeout {
        step(
            &mut net,
            &mut ready,
            Duration::from_millis(10),
            |id, p, out| match p {
                Packet::Publish {
                    retain: true,
                    topic,
                    payload,
                    qos,
                    pid,
                    ..
                } if id == sub => {
                    if qos == 1 {
                        proto::ack(out, kind::PUBACK, pid);
                    }
                    if topic.starts_with(b"ret/") {
                        got += 1;
                        bytes += payload.len() as u64;
                        t_last = Instant::now();
                    }
                }
                Packet::SubAck { .. } => suback = true,
                _ => {}
            },
        )?;
    }
    let deliver_s = t_last.duration_since(t_sub).as_secs_f64();
    disconnect_all(&mut net);

    // 3. Delete them again (empty retained payloads), then a QoS 1 marker
    //    whose PUBACK says the deletions were processed.
    let mut net = Net::new().map_err(|e| format!("poll: {e}"))?;
    let cleaner = connect_all(&mut net, addr, "rclean", 1, 1 << 16, setup)?[0];
    let out = net.out(cleaner);
    for i in 0..r_total {
        proto::publish(out, format!("ret/{i}/x").as_bytes(), 0, true, 0, &[]);
    }
    proto::publish(out, b"bench/ret-done", 1, false, 1, b"done");
    let mut done = false;
    let t_clean = Instant::now();
    while !done && t_clean.elapsed() < timeout {
        step(
            &mut net,
            &mut ready,
            Duration::from_millis(10),
            |_, p, _| {
                if let Packet::Ack(kind::PUBACK, _) = p {
                    done = true;
                }
            },
        )?;
    }
    disconnect_all(&mut net);

    let mut r = Report::new("retained", &o.label);
    r.int("retained", r_total)
        .int("payload", arena.payload_len() as u64)
        .int("received", got)
        .int("lost", r_total - got)
        .float("store_s", store_s)
        .float("store_per_s", r_total as f64 / store_s.max(1e-9))
        .float("duration_s", deliver_s)
        .float("msg_per_s", got as f64 / deliver_s.max(1e-9))
        .float("mb_per_s", bytes as f64 / deliver_s.max(1e-9) / 1e6);
    if !suback {
        r.text("note", "no SUBACK received");
    }
    if !done {
        r.text("cleanup", "retained messages not confirmed deleted");
    }
    Ok(r)
}
