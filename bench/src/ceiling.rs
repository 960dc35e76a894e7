//! The `ceiling` pseudo-broker: a trivial TCP forwarder with no MQTT logic
//! beyond framing. CONNECT and SUBSCRIBE get canned CONNACK / SUBACK, QoS
//! handshakes get canned acknowledgements, and every PUBLISH frame is copied
//! verbatim to every connection that subscribed (no topic matching). Its
//! numbers show what loopback TCP and the generator itself allow.

use std::io;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use crate::net::Net;
use crate::proto::{self, kind, Packet};

/// A forwarder running in a background thread; stopped when dropped.
pub struct Forwarder {
    /// Address it listens on.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Starts a forwarder thread on an ephemeral loopback port.
pub fn spawn() -> io::Result<Forwarder> {
    let mut net = Net::new()?;
    let addr = net.listen(SocketAddr::from(([127, 0, 0, 1], 0)))?;
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let thread = std::thread::Builder::new()
        .name("ceiling-forwarder".into())
        .spawn(move || {
            if let Err(e) = serve(net, &flag) {
                eprintln!("mqlite-bench: forwarder: {e}");
            }
        })?;
    Ok(Forwarder {
        addr,
        stop,
        thread: Some(thread),
    })
}

/// Runs the forwarder in the foreground until the process is killed.
pub fn serve_forever(bind: &str, port: u16) -> Result<(), String> {
    let addr = (bind, port)
        .to_socket_addrs()
        .map_err(|e| format!("{bind}: {e}"))?
        .next()
        .ok_or_else(|| format!("{bind} resolves to no address"))?;
    let mut net = Net::new().map_err(|e| format!("poll: {e}"))?;
    let local = net
        .listen(addr)
        .map_err(|e| format!("listen on {addr}: {e}"))?;
    eprintln!("mqlite-bench ceiling-server listening on {local}");
    serve(net, &AtomicBool::new(false)).map_err(|e| e.to_string())
}

fn suback(out: &mut Vec<u8>, pid: u16, filters: &[u8]) {
    let mut codes = Vec::new();
    let mut i = 0;
    while i + 2 <= filters.len() {
        let len = u16::from_be_bytes([filters[i], filters[i + 1]]) as usize;
        i += 2 + len;
        let Some(&q) = filters.get(i) else { break };
        codes.push(q.min(2));
        i += 1;
    }
    out.push(kind::SUBACK << 4);
    proto::put_varint(out, 2 + codes.len());
    out.extend_from_slice(&pid.to_be_bytes());
    out.extend_from_slice(&codes);
}

fn serve(mut net: Net, stop: &AtomicBool) -> io::Result<()> {
    let mut subs: Vec<usize> = Vec::new();
    let mut is_sub: Vec<bool> = Vec::new();
    let mut staging: Vec<u8> = Vec::with_capacity(1 << 20);
    let mut ready = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        net.flush();
        net.poll(Some(Duration::from_millis(100)), &mut ready)?;
        if is_sub.len() < net.conns.len() {
            is_sub.resize(net.conns.len(), false);
        }
        for &id in &ready {
            let mut subscribed = false;
            net.read(id, |p, raw, out| match p {
                Packet::Publish { qos, pid, .. } => {
                    match qos {
                        1 => proto::ack(out, kind::PUBACK, pid),
                        2 => proto::ack(out, kind::PUBREC, pid),
                        _ => {}
                    }
                    staging.extend_from_slice(raw);
                }
                Packet::Subscribe { pid, filters } => {
                    suback(out, pid, filters);
                    subscribed = true;
                }
                Packet::Ack(kind::PUBREL, pid) => proto::ack(out, kind::PUBCOMP, pid),
                Packet::Ack(kind::PUBREC, pid) => proto::ack(out, kind::PUBREL, pid),
                Packet::Other(kind::CONNECT) => {
                    out.extend_from_slice(&[kind::CONNACK << 4, 2, 0, 0])
                }
                Packet::Other(kind::PINGREQ) => out.extend_from_slice(&[kind::PINGRESP << 4, 0]),
                _ => {}
            });
            if subscribed && !is_sub[id] {
                is_sub[id] = true;
                subs.push(id);
            }
            if !staging.is_empty() {
                subs.retain(|&s| net.conns[s].closed.is_none());
                if let [only] = subs[..] {
                    let o = net.out(only);
                    if o.is_empty() {
                        std::mem::swap(o, &mut staging);
                    } else {
                        o.extend_from_slice(&staging);
                    }
                } else {
                    for &s in &subs {
                        net.out(s).extend_from_slice(&staging);
                    }
                }
                staging.clear();
            }
            if net.conns[id].closed.is_some() {
                is_sub[id] = false;
                subs.retain(|&s| s != id);
                net.recycle(id);
            }
        }
    }
    Ok(())
}
