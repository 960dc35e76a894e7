//! Driving mqlite from a host's own event loop, without mio.
//!
//! Use case: a program that already has a `poll(2)`/`select(2)`/`epoll`
//! loop (a GUI toolkit, a game loop, a C event library, a loop built on a
//! `timerfd`...) and wants the broker to run in that same thread, instead
//! of in a thread of its own. The broker exposes:
//!
//! - `Broker::raw_fd()`: a descriptor that is readable when the broker has
//!   work (a socket is ready, another thread used a `BrokerHandle`, or this
//!   one called `Broker::publish` since the last pass);
//! - `Broker::next_deadline()`: when it needs a pass even if that
//!   descriptor stays quiet (keepalive checks, `$SYS` statistics...);
//! - `Broker::run_once(Some(Duration::ZERO))`: one pass that never blocks.
//!
//! The loop below waits with `libc::poll` on the broker's descriptor beside
//! one of its own (a pipe another thread writes text commands to), with a
//! timeout computed from `next_deadline()`. A demo MQTT client (raw TCP
//! with `mqlite::codec`) publishes a reading, which arrives in a local
//! callback; the `$SYS` statistics, published on a timer, show the
//! deadline-driven passes at work (the demo stops once it has seen both).
//! Everything here, broker included, runs on the main thread.
//!
//! Unix only. Run with `cargo run --example host_loop`.

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mqlite::codec::{self, Ack, Connect, Packet, Properties, Protocol, Publish};
use mqlite::{Broker, Config, QoS};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The demo gives up after this long.
const GIVE_UP_AFTER: Duration = Duration::from_secs(10);

fn main() -> Result<(), BoxError> {
    let config = Config {
        listeners: vec!["127.0.0.1:0".parse()?],
        // `$SYS` statistics every second: a timer, which only a loop that
        // honours `next_deadline()` sees fire.
        sys_interval: Some(Duration::from_secs(1)),
        ..Config::default()
    };
    let mut broker = Broker::new(config)?;
    let addr = broker.local_addr();
    let handle = broker.handle();
    println!(
        "[host] broker listening on {addr}, poll fd {}",
        broker.raw_fd()
    );

    // The callback runs inside `run_once`, so on this very thread; a
    // channel still makes the hand-over simple (the callback must be Send).
    let (readings_tx, readings) = mpsc::channel::<(String, String)>();
    let sys_tx = readings_tx.clone();
    broker.subscribe_local("sensors/#", QoS::AtLeastOnce, move |message| {
        let _ = readings_tx.send((
            message.topic().to_string(),
            String::from_utf8_lossy(message.payload()).into_owned(),
        ));
    })?;
    // `#` does not match `$SYS` topics: they need a filter of their own.
    broker.subscribe_local("$SYS/broker/uptime", QoS::AtMostOnce, move |message| {
        let _ = sys_tx.send((
            message.topic().to_string(),
            String::from_utf8_lossy(message.payload()).into_owned(),
        ));
    })?;

    // The host's own descriptor: a pipe carrying line-based commands.
    let (pipe_read, pipe_write) = nonblocking_pipe()?;
    let mut commands_in = File::from(pipe_read);

    // A worker thread: an MQTT device, then commands for the host.
    let worker = thread::spawn(move || -> Result<(), BoxError> {
        let mut commands_out = File::from(pipe_write);
        writeln!(commands_out, "hello from the worker")?;
        publish_one_reading(addr)?;
        writeln!(commands_out, "device-done")?;
        Ok(())
    });

    let started = Instant::now();
    let give_up = started + GIVE_UP_AFTER;
    let mut pending_line = Vec::new();
    let mut pipe_open = true;
    let mut got_reading = false;
    let mut got_sys = false;
    let mut device_done = false;
    let (mut passes, mut fd_wakeups, mut deadline_wakeups) = (0u32, 0u32, 0u32);

    loop {
        // How long poll may sleep: until the broker's next deadline (or
        // forever without one), but never past the demo's own limit.
        let deadline = broker.next_deadline().map_or(give_up, |d| d.min(give_up));
        let timeout = poll_timeout(deadline);
        let mut fds = [
            libc::pollfd {
                fd: broker.raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            },
            libc::pollfd {
                // A negative descriptor is ignored by poll.
                fd: if pipe_open {
                    commands_in.as_raw_fd()
                } else {
                    -1
                },
                events: libc::POLLIN,
                revents: 0,
            },
        ];
        // SAFETY: `fds` is a valid array of two pollfd for the call.
        let ready = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if ready < 0 {
            let error = io::Error::last_os_error();
            if error.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(error.into());
        }
        let now = Instant::now();
        if now >= give_up {
            return Err("the demo did not finish within 10 s".into());
        }

        // The broker: a pass when its descriptor is readable or its
        // deadline has come.
        let broker_ready = fds[0].revents != 0;
        let deadline_passed = broker.next_deadline().is_some_and(|d| d <= now);
        if broker_ready || deadline_passed {
            if broker_ready {
                fd_wakeups += 1;
            } else {
                deadline_wakeups += 1;
            }
            passes += 1;
            if !broker.run_once(Some(Duration::ZERO))? {
                println!("[host] broker stopped");
                break;
            }
        }
        while let Ok((topic, payload)) = readings.try_recv() {
            println!("[host] local callback got {payload:?} on {topic}");
            if topic.starts_with("$SYS/") {
                got_sys = true;
            } else {
                got_reading = true;
            }
        }

        // Our own descriptor.
        if fds[1].revents != 0 {
            let mut chunk = [0u8; 256];
            loop {
                match commands_in.read(&mut chunk) {
                    Ok(0) => {
                        pipe_open = false;
                        break;
                    }
                    Ok(n) => pending_line.extend_from_slice(&chunk[..n]),
                    Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
                    Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
                    Err(error) => return Err(error.into()),
                }
            }
            while let Some(end) = pending_line.iter().position(|&b| b == b'\n') {
                let line: Vec<u8> = pending_line.drain(..=end).collect();
                let line = String::from_utf8_lossy(&line[..end]).into_owned();
                println!("[host] pipe says {line:?}");
                if line == "device-done" {
                    device_done = true;
                }
            }
        }

        if got_reading && got_sys && device_done && !handle.is_stopped() {
            let stats = broker.stats();
            println!(
                "[host] {} messages received, {} delivered; stopping",
                stats.messages_received, stats.messages_sent
            );
            // Through the handle, as another thread would: the next pass
            // sees it (the descriptor turns readable) and returns false.
            handle.stop();
        }
    }

    worker.join().expect("the worker thread panicked")?;
    println!(
        "[host] {passes} broker passes ({fd_wakeups} on the descriptor, \
         {deadline_wakeups} on a deadline) in {:?}",
        started.elapsed()
    );
    if !got_reading || !got_sys {
        return Err("the reading or the $SYS statistics never arrived".into());
    }
    Ok(())
}

/// Milliseconds from now until `deadline`, rounded up so that poll does
/// not wake a hair early and spin.
fn poll_timeout(deadline: Instant) -> libc::c_int {
    let left = deadline.saturating_duration_since(Instant::now());
    let ms = left.as_nanos().div_ceil(1_000_000);
    ms.min(libc::c_int::MAX as u128) as libc::c_int
}

/// A pipe whose read end does not block.
fn nonblocking_pipe() -> io::Result<(OwnedFd, OwnedFd)> {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors pipe writes.
    if unsafe { libc::pipe(fds.as_mut_ptr()) } != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: pipe just returned these descriptors and nothing else owns them.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: plain fcntl calls on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(read.as_raw_fd(), libc::F_GETFL);
        if flags < 0 || libc::fcntl(read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK) < 0 {
            return Err(io::Error::last_os_error());
        }
    }
    Ok((read, write))
}

/// A device: CONNECT, one QoS 1 PUBLISH, wait for its PUBACK, DISCONNECT.
/// Raw MQTT over TCP with the broker's own codec.
fn publish_one_reading(addr: SocketAddr) -> io::Result<()> {
    let mut stream = TcpStream::connect(addr)?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    let mut out = Vec::new();
    let packets = [
        Packet::Connect(Box::new(Connect {
            bridge: false,
            protocol: Protocol::V311,
            clean_session: true,
            keep_alive: 10,
            client_id: "kitchen-sensor",
            will: None,
            username: None,
            password: None,
            properties: Properties::EMPTY,
        })),
        Packet::Publish(Publish {
            dup: false,
            qos: QoS::AtLeastOnce,
            retain: false,
            topic: "sensors/kitchen/temperature",
            packet_id: Some(1),
            payload: b"21.5",
            properties: Properties::EMPTY,
        }),
    ];
    for packet in &packets {
        codec::encode(packet, &mut out).map_err(|e| io::Error::other(e.to_string()))?;
    }
    stream.write_all(&out)?;

    let mut input = Vec::new();
    let mut chunk = [0u8; 1024];
    loop {
        let decoded = codec::decode(&input, 1 << 20)
            .map_err(|e| io::Error::other(e.to_string()))?
            .map(|(packet, used)| {
                (
                    format!("{packet:?}"),
                    matches!(packet, Packet::PubAck(Ack { packet_id: 1, .. })),
                    used,
                )
            });
        if let Some((text, done, used)) = decoded {
            input.drain(..used);
            println!("[device] received {text}");
            if done {
                break;
            }
            continue;
        }
        let n = stream.read(&mut chunk)?;
        if n == 0 {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        input.extend_from_slice(&chunk[..n]);
    }
    stream.write_all(&codec::DISCONNECT)?;
    Ok(())
}
