//! Tests of the `mqttsn` scenario against a throwaway fake: a UDP
//! "gateway" that answers CONNECT and REGISTER and forwards every PUBLISH
//! as an MQTT PUBLISH to the one subscriber of a fake TCP "broker".
//! It checks the generator, not any gateway.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream, UdpSocket};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use crate::proto;

/// Starts the fake; returns (TCP port, UDP port). The n-th PUBLISH (from
/// 1) is dropped, as a lossy network would, if `drop(n)`.
fn spawn_fake(drop: fn(u64) -> bool) -> (u16, u16) {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    // What a gateway under load needs: the default (about 200 kB, under
    // 300 small datagrams on loopback) is less than 100 clients' windows.
    let size: libc::c_int = 4 << 20;
    // SAFETY: setsockopt reads `size` (an int of the length given).
    unsafe {
        libc::setsockopt(
            std::os::fd::AsRawFd::as_raw_fd(&udp),
            libc::SOL_SOCKET,
            libc::SO_RCVBUF,
            (&size as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
    let ports = (
        tcp.local_addr().unwrap().port(),
        udp.local_addr().unwrap().port(),
    );
    let (tx, rx) = mpsc::channel::<TcpStream>();
    thread::spawn(move || {
        let (mut s, _) = tcp.accept().unwrap();
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        loop {
            let Ok(n) = s.read(&mut chunk) else { return };
            if n == 0 {
                return;
            }
            buf.extend_from_slice(&chunk[..n]);
            while let Ok(Some((first, rem, hlen))) = proto::fixed_header(&buf) {
                if buf.len() < hlen + rem {
                    break;
                }
                let body = buf[hlen..hlen + rem].to_vec();
                buf.drain(..hlen + rem);
                match first >> 4 {
                    1 => s.write_all(&[0x20, 2, 0, 0]).unwrap(),
                    8 => {
                        let granted = body[body.len() - 1];
                        s.write_all(&[0x90, 3, body[0], body[1], granted]).unwrap();
                        tx.send(s.try_clone().unwrap()).unwrap();
                    }
                    _ => {}
                }
            }
        }
    });
    thread::spawn(move || {
        let mut sub = rx.recv().unwrap();
        udp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut topics: HashMap<u16, Vec<u8>> = HashMap::new();
        let mut publishes = 0u64;
        let mut d = [0u8; 2048];
        // Deliveries are written in batches: everything that was waiting,
        // once no datagram is left (so the fake keeps up in --ignored runs).
        let mut out = Vec::new();
        loop {
            let (len, peer) = match udp.recv_from(&mut d) {
                Ok(x) => x,
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock && !out.is_empty() => {
                    sub.write_all(&out).unwrap();
                    out.clear();
                    continue;
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    udp.set_nonblocking(false).unwrap();
                    continue;
                }
                Err(_) => return,
            };
            udp.set_nonblocking(true).unwrap();
            let m = &d[..len];
            assert_eq!(usize::from(m[0]), len, "short form only here");
            match m[1] {
                0x04 => {
                    udp.send_to(&[3, 0x05, 0], peer).unwrap();
                }
                0x0A => {
                    let id = topics.len() as u16 + 1;
                    topics.insert(id, m[6..].to_vec());
                    let [hi, lo] = id.to_be_bytes();
                    udp.send_to(&[7, 0x0B, hi, lo, m[4], m[5], 0], peer)
                        .unwrap();
                }
                0x0C => {
                    publishes += 1;
                    if drop(publishes) {
                        continue;
                    }
                    let qos = (m[2] >> 5) & 3;
                    let id = u16::from_be_bytes([m[3], m[4]]);
                    proto::publish(&mut out, &topics[&id], qos, false, 1, &m[7..]);
                    if qos == 1 {
                        udp.send_to(&[7, 0x0D, m[3], m[4], m[5], m[6], 0], peer)
                            .unwrap();
                    }
                }
                _ => {}
            }
        }
    });
    ports
}

fn run(extra: &[&str], drop: fn(u64) -> bool) -> crate::report::Report {
    let (tcp, udp) = spawn_fake(drop);
    let mut args: Vec<String> = ["mqttsn", "--port", &tcp.to_string()]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--sn-port".into(), udp.to_string()]);
    args.extend(extra.iter().map(|s| s.to_string()));
    let o = crate::parse(&args).unwrap();
    crate::sn_flow::run(&o).unwrap()
}

fn field(line: &str, key: &str) -> u64 {
    line.split(' ')
        .find_map(|kv| kv.strip_prefix(&format!("{key}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no integer {key} in {line}"))
}

#[test]
fn qos1_through_fake_gateway_loses_nothing() {
    let r = run(
        &["--qos", "1", "--publishers", "5", "--duration", "0.5"],
        |_| false,
    );
    let line = r.render(false);
    assert!(line.starts_with("mqttsn "), "{line}");
    let sent = field(&line, "sent");
    assert!(sent > 100, "{line}");
    assert_eq!(field(&line, "received"), sent, "{line}");
    assert_eq!(field(&line, "lost"), 0, "{line}");
    assert_eq!(field(&line, "unacked"), 0, "{line}");
    assert!(!line.contains("stalled"), "{line}");
}

#[test]
fn qos0_losses_are_counted() {
    let r = run(
        &[
            "--qos",
            "0",
            "--publishers",
            "4",
            "--window",
            "4",
            "--duration",
            "0.5",
        ],
        |n| n % 50 == 0,
    );
    let line = r.render(false);
    let sent = field(&line, "sent");
    let lost = field(&line, "lost");
    assert!(sent > 400, "{line}");
    assert!(lost > 0 && lost <= sent / 40, "{line}");
    assert_eq!(field(&line, "received") + lost, sent, "{line}");
    assert!(!line.contains("stalled"), "{line}");
}

#[test]
fn lost_windows_are_written_off_not_stalled() {
    // Every client's whole window lost: only the write-off lets them go on.
    let r = run(
        &[
            "--qos",
            "0",
            "--publishers",
            "4",
            "--window",
            "4",
            "--duration",
            "1.5",
        ],
        |n| (200..240).contains(&n),
    );
    let line = r.render(false);
    let sent = field(&line, "sent");
    assert!(sent > 1000, "{line}");
    assert_eq!(field(&line, "lost"), 40, "{line}");
    assert!(field(&line, "written_off") >= 16, "{line}");
    assert!(!line.contains("stalled"), "{line}");
}

#[test]
fn no_gateway_is_an_error() {
    // A UDP port nobody listens on: the kernel answers port unreachable.
    let free = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = free.local_addr().unwrap().port();
    drop(free);
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    thread::spawn(move || {
        let (mut s, _) = tcp.accept().unwrap();
        let mut b = [0u8; 512];
        let _ = s.read(&mut b);
        s.write_all(&[0x20, 2, 0, 0]).unwrap();
        let n = s.read(&mut b).unwrap();
        s.write_all(&[0x90, 3, b[2], b[3], b[n - 1]]).unwrap();
        thread::sleep(Duration::from_secs(5));
    });
    let args: Vec<String> = [
        "mqttsn",
        "--port",
        &tcp_port.to_string(),
        "--sn-port",
        &port.to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let o = crate::parse(&args).unwrap();
    let e = crate::sn_flow::run(&o).err().unwrap();
    assert!(e.contains("no MQTT-SN gateway listening"), "{e}");
}

/// How fast the generator and the fake go together: an upper bound for what
/// `mqttsn` can show on this machine. `cargo test --release -p mqlite-bench
/// --bin mqlite-bench -- --ignored --nocapture generator_rate`
#[test]
#[ignore]
fn generator_rate_against_fake() {
    for qos in ["0", "1"] {
        let r = run(&["--qos", qos, "--duration", "3"], |_| false);
        println!("{}", r.render(false));
    }
}
