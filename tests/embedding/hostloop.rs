//! Driving the broker from a host's own `poll(2)` loop, as in
//! `examples/host_loop.rs`: wait on `Broker::raw_fd()` beside the host's
//! descriptors with a timeout from `Broker::next_deadline()`, and call
//! `run_once(Some(Duration::ZERO))` when the descriptor is readable or the
//! deadline has passed. The broker runs on the test's thread.
//!
//! Every wait is bounded; no test asserts on timing.

#![cfg(unix)]

use crate::support;

use std::fs::File;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use mqlite::{Broker, CloseReason, Config, Event, QoS};
use rumqttc::{ConnectReturnCode, MqttOptions};
use support::{test_config, ConnectOptions, Pkt, RawClient, TIMEOUT};

/// What one `poll(2)` call saw.
struct Woken {
    /// The broker's descriptor was readable.
    broker_fd: bool,
    /// The broker's deadline had passed.
    deadline: bool,
    /// Readiness of each of the host's own descriptors.
    own: Vec<bool>,
}

/// Waits with `poll(2)` on the broker's descriptor (unless `watch_broker`
/// is false) and `own`, until the broker's next deadline, capped at
/// `limit`.
fn wait(broker: &Broker, watch_broker: bool, own: &[RawFd], limit: Instant) -> Woken {
    let deadline = broker.next_deadline().map_or(limit, |d| d.min(limit));
    let left = deadline.saturating_duration_since(Instant::now());
    let timeout = left
        .as_nanos()
        .div_ceil(1_000_000)
        .min(libc::c_int::MAX as u128) as libc::c_int;
    let mut fds = vec![libc::pollfd {
        fd: if watch_broker { broker.raw_fd() } else { -1 },
        events: libc::POLLIN,
        revents: 0,
    }];
    fds.extend(own.iter().map(|&fd| libc::pollfd {
        fd,
        events: libc::POLLIN,
        revents: 0,
    }));
    loop {
        // SAFETY: `fds` is a valid array of `fds.len()` pollfd.
        let n = unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, timeout) };
        if n >= 0 {
            break;
        }
        let error = io::Error::last_os_error();
        assert_eq!(error.kind(), io::ErrorKind::Interrupted, "poll: {error}");
    }
    let now = Instant::now();
    Woken {
        broker_fd: fds[0].revents != 0,
        deadline: broker.next_deadline().is_some_and(|d| d <= now),
        own: fds[1..].iter().map(|fd| fd.revents != 0).collect(),
    }
}

/// The example's loop: serves the broker until `done` says so (checked
/// after every wake-up), the broker stops (returns false), or [`TIMEOUT`]
/// passes (panics). Returns whether the broker is still running.
fn serve(
    broker: &mut Broker,
    own: &[RawFd],
    mut done: impl FnMut(&mut Broker, &Woken) -> bool,
) -> bool {
    let limit = Instant::now() + TIMEOUT;
    loop {
        let woken = wait(broker, true, own, limit);
        if (woken.broker_fd || woken.deadline)
            && !broker
                .run_once(Some(Duration::ZERO))
                .expect("run_once succeeds")
        {
            return false;
        }
        if done(broker, &woken) {
            return true;
        }
        assert!(
            Instant::now() < limit,
            "the host loop did not finish within 5 s"
        );
    }
}

/// A pipe whose read end does not block: the host's own descriptor.
fn pipe() -> (File, File) {
    let mut fds = [0 as libc::c_int; 2];
    // SAFETY: `fds` has room for the two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    // SAFETY: fresh descriptors owned by nobody else.
    let (read, write) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // SAFETY: fcntl on a descriptor we own.
    unsafe {
        let flags = libc::fcntl(read.as_raw_fd(), libc::F_GETFL);
        assert!(flags >= 0);
        assert_eq!(
            libc::fcntl(read.as_raw_fd(), libc::F_SETFL, flags | libc::O_NONBLOCK),
            0
        );
    }
    (File::from(read), File::from(write))
}

fn read_pipe(file: &mut File) -> String {
    let mut text = String::new();
    let mut chunk = [0u8; 256];
    loop {
        match file.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => text.push_str(&String::from_utf8_lossy(&chunk[..n])),
            Err(error) if error.kind() == io::ErrorKind::WouldBlock => break,
            Err(error) => panic!("pipe read: {error}"),
        }
    }
    text
}

/// A raw socket that has sent CONNECT with `keep_alive` (the caller serves
/// the broker to get it answered).
fn raw_connect(addr: SocketAddr, client_id: &str, keep_alive: u16) -> TcpStream {
    let mut stream = TcpStream::connect(addr).expect("connect");
    stream
        .write_all(
            &ConnectOptions::new(client_id)
                .keepalive(keep_alive)
                .encode(),
        )
        .unwrap();
    stream
}

#[test]
fn poll_loop_serves_a_rumqttc_client() {
    let mut broker = Broker::new(test_config()).unwrap();
    let addr = broker.local_addr();
    let handle = broker.handle();

    // The host replies to each request, from its local callback, through
    // the handle.
    let (seen_tx, seen) = mpsc::channel();
    let reply = handle.clone();
    broker
        .subscribe_local("host/in", QoS::AtLeastOnce, move |message| {
            let _ = seen_tx.send(thread::current().id());
            let mut answer = b"echo: ".to_vec();
            answer.extend_from_slice(message.payload());
            reply
                .publish("host/out", &answer, QoS::AtLeastOnce, false)
                .unwrap();
        })
        .unwrap();

    let (mut pipe_in, mut pipe_out) = pipe();
    let client = thread::spawn(move || {
        let mut options = MqttOptions::new("loop-client", addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        let (client, mut connection) = rumqttc::Client::new(options, 10);
        let mut answer = None;
        let mut subscribed = false;
        let deadline = Instant::now() + TIMEOUT;
        while answer.is_none() && Instant::now() < deadline {
            let event = match connection.recv_timeout(Duration::from_millis(200)) {
                Ok(Ok(event)) => event,
                Ok(Err(error)) => panic!("connection failed: {error}"),
                Err(_) => continue,
            };
            match event {
                rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack)) => {
                    assert_eq!(ack.code, ConnectReturnCode::Success);
                    client
                        .subscribe("host/out", rumqttc::QoS::AtLeastOnce)
                        .unwrap();
                }
                rumqttc::Event::Incoming(rumqttc::Packet::SubAck(_)) if !subscribed => {
                    subscribed = true;
                    client
                        .publish("host/in", rumqttc::QoS::AtLeastOnce, false, "ping")
                        .unwrap();
                }
                rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish)) => {
                    answer = Some(String::from_utf8_lossy(&publish.payload).into_owned());
                }
                _ => {}
            }
        }
        // Tell the host loop, through its own descriptor.
        writeln!(pipe_out, "{}", answer.as_deref().unwrap_or("nothing")).unwrap();
        answer
    });

    let mut said = String::new();
    let running = serve(&mut broker, &[pipe_in.as_raw_fd()], |_, woken| {
        if woken.own[0] {
            said.push_str(&read_pipe(&mut pipe_in));
        }
        said.ends_with('\n')
    });
    assert!(running);
    assert_eq!(said, "echo: ping\n");
    assert_eq!(client.join().unwrap().as_deref(), Some("echo: ping"));
    // The callback ran inside run_once, on this thread.
    assert_eq!(seen.try_recv().unwrap(), thread::current().id());

    // A stop from another thread wakes the loop, which then ends.
    let stopper = thread::spawn(move || handle.stop());
    let running = serve(&mut broker, &[], |_, _| false);
    assert!(!running);
    stopper.join().unwrap();
    assert!(broker.is_stopped());
    assert!(!broker.run_once(Some(Duration::ZERO)).unwrap());
}

#[test]
fn handle_commands_from_other_threads_wake_the_broker_descriptor() {
    let mut broker = Broker::new(test_config()).unwrap();
    // Idle, no `$SYS`: no timer, so only the descriptor can wake the loop.
    assert_eq!(broker.next_deadline(), None);
    let (tx, got) = mpsc::channel();
    broker
        .subscribe_local("wake/#", QoS::AtMostOnce, move |message| {
            let _ = tx.send(String::from_utf8_lossy(message.payload()).into_owned());
        })
        .unwrap();

    let handle = broker.handle();
    let publisher = thread::spawn(move || {
        for i in 0..3 {
            // Pacing: each publish should find the host loop idle, waiting.
            thread::sleep(Duration::from_millis(20));
            handle
                .publish("wake/up", i.to_string().as_bytes(), QoS::AtMostOnce, false)
                .unwrap();
        }
        handle
    });
    let mut received = Vec::new();
    let mut fd_wakeups = 0;
    serve(&mut broker, &[], |_, woken| {
        fd_wakeups += usize::from(woken.broker_fd);
        received.extend(got.try_iter());
        received.len() == 3
    });
    assert_eq!(received, ["0", "1", "2"]);
    assert!(fd_wakeups >= 1);

    // Stats through the handle need a pass to answer: asked from another
    // thread while this one serves, which hears back through its own pipe.
    let handle = publisher.join().unwrap();
    let (mut pipe_in, mut pipe_out) = pipe();
    let asker = thread::spawn(move || {
        let stats = handle.stats(TIMEOUT);
        writeln!(pipe_out, "answered").unwrap();
        stats
    });
    serve(&mut broker, &[pipe_in.as_raw_fd()], |_, woken| {
        woken.own[0] && read_pipe(&mut pipe_in).contains("answered")
    });
    let stats = asker.join().unwrap().expect("stats answered");
    assert_eq!(stats.messages_received, 3);
}

#[test]
fn deadline_driven_passes_drop_a_silent_keepalive_client() {
    let mut broker = Broker::new(test_config()).unwrap();
    let addr = broker.local_addr();
    let (events_tx, events) = mpsc::channel();
    broker.set_event_hook(move |event| match event {
        Event::Connected { client, .. } => {
            let _ = events_tx.send((client.client_id.to_string(), None));
        }
        Event::Disconnected { client, reason } => {
            let _ = events_tx.send((client.client_id.to_string(), Some(*reason)));
        }
        _ => {}
    });

    // Keepalive 1 s: the broker closes it after 1.5 s of silence.
    let mut silent = raw_connect(addr, "silent", 1);
    serve(
        &mut broker,
        &[],
        |_, _| matches!(events.try_recv(), Ok((id, None)) if id == "silent"),
    );

    // From now on the loop never looks at the broker's descriptor: it only
    // sleeps until `next_deadline()` and then runs a pass.
    let limit = Instant::now() + TIMEOUT;
    let mut reason = None;
    let mut passes = 0;
    while reason.is_none() {
        assert!(
            broker.next_deadline().is_some(),
            "a connected client with a keepalive gives the broker a deadline"
        );
        let woken = wait(&broker, false, &[], limit);
        assert!(!woken.broker_fd);
        if woken.deadline {
            passes += 1;
            assert!(broker.run_once(Some(Duration::ZERO)).unwrap());
        }
        if let Ok((id, Some(why))) = events.try_recv() {
            assert_eq!(id, "silent");
            reason = Some(why);
        }
        assert!(
            Instant::now() < limit,
            "the silent client was not dropped within 5 s"
        );
    }
    assert_eq!(reason, Some(CloseReason::KeepaliveTimeout));
    assert!(passes >= 1);

    // Its socket got CONNACK, then end of file.
    silent.set_read_timeout(Some(TIMEOUT)).unwrap();
    let mut bytes = Vec::new();
    match silent.read_to_end(&mut bytes) {
        Ok(_) => {}
        Err(error) if error.kind() == io::ErrorKind::ConnectionReset => {}
        Err(error) => panic!("the socket was not closed: {error}"),
    }
    assert_eq!(bytes, [0x20, 0x02, 0x00, 0x00]);
}

#[test]
fn pending_auth_times_out_in_a_deadline_driven_loop() {
    let config = Config {
        auth_timeout: Duration::from_secs(1),
        ..test_config()
    };
    let mut broker = Broker::new(config).unwrap();
    let addr = broker.local_addr();
    broker.set_auth_hook(|_| mqlite::AuthDecision::Pending);

    let mut waiting = raw_connect(addr, "waiting", 0);
    waiting.set_nonblocking(true).unwrap();
    let mut bytes = Vec::new();
    serve(&mut broker, &[], |_, _| {
        let mut chunk = [0u8; 64];
        loop {
            match waiting.read(&mut chunk) {
                Ok(0) => return true,
                Ok(n) => bytes.extend_from_slice(&chunk[..n]),
                Err(error) if error.kind() == io::ErrorKind::WouldBlock => return false,
                Err(error) if error.kind() == io::ErrorKind::ConnectionReset => return true,
                Err(error) => panic!("read: {error}"),
            }
        }
    });
    // CONNACK 0x05, then the close.
    assert_eq!(bytes, [0x20, 0x02, 0x00, 0x05]);
}

#[test]
fn local_receiver_ends_when_the_broker_stops() {
    let mut broker = Broker::new(test_config()).unwrap();
    let handle = broker.handle();
    let receiver = handle
        .subscribe_channel("end/#", QoS::AtLeastOnce, 4)
        .unwrap();
    let reader = thread::spawn(move || receiver.recv().is_none());
    handle.stop();
    serve(&mut broker, &[], |_, _| false);
    assert!(broker.is_stopped());

    // The broker value is still alive, as in any host loop.
    support::poll_until(TIMEOUT, || reader.is_finished());
    assert!(
        reader.is_finished(),
        "LocalReceiver::recv still blocked 5 s after the broker stopped"
    );
    assert!(reader.join().unwrap(), "recv returned a message");
    drop(broker);
}

/// Whether a loop that follows the docs would run a pass right now: the
/// broker's descriptor is readable (polled without waiting) and
/// `next_deadline()` has come.
fn pass_due(broker: &Broker) -> (bool, bool) {
    let mut fd = libc::pollfd {
        fd: broker.raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd; a zero timeout never blocks.
    let n = unsafe { libc::poll(&mut fd, 1, 0) };
    let readable = n > 0 && fd.revents != 0;
    let deadline = broker.next_deadline().is_some_and(|d| d <= Instant::now());
    (readable, deadline)
}

/// Runs passes until the broker has nothing left to do now.
fn settle(broker: &mut Broker) {
    for _ in 0..100 {
        if pass_due(broker) == (false, false) {
            return;
        }
        assert!(broker.run_once(Some(Duration::ZERO)).unwrap());
    }
    panic!("the broker still had work after 100 passes");
}

#[test]
fn broker_thread_calls_between_passes_make_the_next_pass_due() {
    let mut broker = Broker::new(test_config()).unwrap();
    let addr = broker.local_addr();
    let (mut pipe_in, mut pipe_out) = pipe();
    // A subscriber with a keepalive: the broker has an unrelated timer
    // (60 s away), which must not be what the host waits for.
    let client = thread::spawn(move || {
        let mut raw = RawClient::connect_to(addr, "direct-sub", true, 60).0;
        raw.send(&mqlite::codec::Packet::Subscribe(
            mqlite::codec::Subscribe {
                packet_id: 1,
                filters: vec![("direct/#", QoS::AtMostOnce.into())],
                properties: mqlite::codec::Properties::EMPTY,
            },
        ));
        assert!(
            matches!(raw.expect_packet(), Pkt::SubAck { codes, .. } if codes == [0]),
            "SUBACK granting QoS 0"
        );
        writeln!(pipe_out, "subscribed").unwrap();
        let got = raw.expect_packet();
        writeln!(pipe_out, "got").unwrap();
        let rest = raw.drain_until_closed();
        writeln!(pipe_out, "closed").unwrap();
        (got, rest)
    });
    let mut said = String::new();
    let mut until = |broker: &mut Broker, word: &str| {
        serve(broker, &[pipe_in.as_raw_fd()], |_, woken| {
            if woken.own[0] {
                said.push_str(&read_pipe(&mut pipe_in));
            }
            said.lines().any(|line| line == word)
        });
    };
    until(&mut broker, "subscribed");
    settle(&mut broker);
    assert!(
        broker
            .next_deadline()
            .is_some_and(|d| d > Instant::now() + Duration::from_secs(1)),
        "only the keepalive timer is left"
    );

    // A direct publish between passes: due at once, both ways.
    broker
        .publish("direct/now", b"at once", QoS::AtMostOnce, false)
        .unwrap();
    assert_eq!(
        pass_due(&broker),
        (true, true),
        "(descriptor readable, deadline now) after Broker::publish"
    );
    until(&mut broker, "got");
    settle(&mut broker);

    // A local subscription made between passes: the same.
    broker
        .subscribe_local("direct/#", QoS::AtMostOnce, |_| {})
        .unwrap();
    assert_eq!(
        pass_due(&broker),
        (true, true),
        "(descriptor readable, deadline now) after Broker::subscribe_local"
    );
    settle(&mut broker);

    // A handle used on the broker thread between passes: the same.
    broker.handle().kick("direct-sub").unwrap();
    assert!(
        pass_due(&broker).0,
        "descriptor readable after BrokerHandle::kick"
    );
    until(&mut broker, "closed");
    let (got, rest) = client.join().unwrap();
    match got {
        Pkt::Publish(msg) => assert_eq!(
            (msg.topic.as_str(), msg.payload.as_slice()),
            ("direct/now", &b"at once"[..])
        ),
        other => panic!("expected PUBLISH, got {other:?}"),
    }
    assert!(rest.is_empty(), "{rest:?}");
}
