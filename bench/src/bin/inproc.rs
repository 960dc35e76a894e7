//! In-process throughput: the host publishes through the Rust API and a
//! local subscriber receives, with no socket anywhere.
//!
//! `mqlite-inproc [MESSAGES] [--json]` prints four lines: publish from
//! another thread through `BrokerHandle::publish` to a callback, the same
//! with `BrokerHandle::publish_batch` (64 messages a call), one message at a
//! time to a channel read on a third thread, and `Broker::publish` on the
//! broker's own thread to a callback. `--case NAME` runs only that line's
//! case (for profiling one path).

use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mqlite::{Broker, BrokerHandle, Config, Message, QoS};

const PAYLOAD: [u8; 16] = [7; 16];

/// One way of publishing and receiving, timed over `n` messages.
type Case = fn(u64) -> Result<Duration, String>;

fn broker() -> Result<Broker, mqlite::Error> {
    Broker::new(Config {
        listeners: vec![std::net::SocketAddr::from(([127, 0, 0, 1], 0))],
        sys_interval: None,
        // The publisher outruns the channel reader at times: let QoS 1
        // messages wait in the broker instead of being dropped.
        max_queued_messages: usize::MAX,
        ..Config::default()
    })
}

/// Waits until `count` reaches `n` (bounded), returns the elapsed time.
fn wait_for(count: &AtomicU64, n: u64, start: Instant) -> Result<Duration, String> {
    let limit = start + Duration::from_secs(60);
    while count.load(Ordering::Relaxed) < n {
        if Instant::now() > limit {
            return Err(format!(
                "only {} of {n} delivered in 60 s",
                count.load(Ordering::Relaxed)
            ));
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    Ok(start.elapsed())
}

/// A broker with a callback subscription to `bench/#` that counts what it
/// receives.
fn counting_broker() -> Result<(Broker, Arc<AtomicU64>), String> {
    let mut broker = broker().map_err(|e| e.to_string())?;
    let count = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&count);
    broker
        .subscribe_local("bench/#", QoS::AtMostOnce, move |_| {
            seen.fetch_add(1, Ordering::Relaxed);
        })
        .map_err(|e| e.to_string())?;
    Ok((broker, count))
}

/// Runs a [`counting_broker`] in its own thread, calls `publish` with a
/// handle on this one, and times until all `n` messages were received.
fn from_another_thread(
    n: u64,
    publish: impl FnOnce(&BrokerHandle) -> Result<(), String>,
) -> Result<Duration, String> {
    let (mut broker, count) = counting_broker()?;
    let handle = broker.handle();
    let runner = std::thread::spawn(move || broker.run());
    let start = Instant::now();
    publish(&handle)?;
    let elapsed = wait_for(&count, n, start);
    handle.stop();
    let _ = runner.join();
    elapsed
}

fn handle_to_callback(n: u64) -> Result<Duration, String> {
    from_another_thread(n, |handle| {
        for _ in 0..n {
            handle
                .publish("bench/x", &PAYLOAD, QoS::AtMostOnce, false)
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    })
}

/// Messages per `BrokerHandle::publish_batch` call.
const BATCH: u64 = 64;

fn handle_batch_to_callback(n: u64) -> Result<Duration, String> {
    from_another_thread(n, |handle| {
        let mut sent = 0;
        while sent < n {
            let size = BATCH.min(n - sent);
            let batch = (0..size)
                .map(|_| Message::new("bench/x", &PAYLOAD, QoS::AtMostOnce, false))
                .collect::<Option<Vec<_>>>()
                .ok_or("message not built")?;
            handle.publish_batch(batch).map_err(|e| e.to_string())?;
            sent += size;
        }
        Ok(())
    })
}

fn handle_to_channel(n: u64) -> Result<Duration, String> {
    let mut broker = broker().map_err(|e| e.to_string())?;
    let handle = broker.handle();
    // QoS 1 so that a full channel holds messages back instead of dropping.
    let receiver = handle
        .subscribe_channel("bench/#", QoS::AtLeastOnce, 65536)
        .map_err(|e| e.to_string())?;
    let runner = std::thread::spawn(move || broker.run());
    let count = Arc::new(AtomicU64::new(0));
    let seen = Arc::clone(&count);
    let reader = std::thread::spawn(move || {
        while let Some(_message) = receiver.recv_timeout(Duration::from_secs(5)) {
            if seen.fetch_add(1, Ordering::Relaxed) + 1 == n {
                break;
            }
        }
    });
    // Let the subscription land before timing.
    std::thread::sleep(Duration::from_millis(50));
    let start = Instant::now();
    for _ in 0..n {
        handle
            .publish("bench/x", &PAYLOAD, QoS::AtLeastOnce, false)
            .map_err(|e| e.to_string())?;
    }
    let elapsed = wait_for(&count, n, start);
    handle.stop();
    let _ = reader.join();
    let _ = runner.join();
    elapsed
}

fn broker_thread_to_callback(n: u64) -> Result<Duration, String> {
    let (mut broker, count) = counting_broker()?;
    let start = Instant::now();
    for _ in 0..n {
        broker
            .publish("bench/x", &PAYLOAD, QoS::AtMostOnce, false)
            .map_err(|e| e.to_string())?;
    }
    wait_for(&count, n, start)
}

fn main() -> ExitCode {
    let mut n = 5_000_000u64;
    let mut json = false;
    let mut only: Option<String> = None;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--json" => json = true,
            "--case" => only = args.next(),
            text => match text.parse() {
                Ok(value) => n = value,
                Err(_) => {
                    eprintln!("usage: mqlite-inproc [MESSAGES] [--json] [--case NAME]");
                    return ExitCode::from(2);
                }
            },
        }
    }
    let cases: [(&str, Case); 4] = [
        ("handle_to_callback", handle_to_callback),
        ("handle_batch_to_callback", handle_batch_to_callback),
        ("handle_to_channel", handle_to_channel),
        ("broker_thread_to_callback", broker_thread_to_callback),
    ];
    if let Some(wanted) = &only {
        if !cases.iter().any(|(name, _)| name == wanted) {
            eprintln!("mqlite-inproc: no case named {wanted}");
            return ExitCode::from(2);
        }
    }
    for (name, case) in cases {
        if only.as_ref().is_some_and(|wanted| wanted != name) {
            continue;
        }
        match case(n) {
            Ok(elapsed) => {
                let rate = n as f64 / elapsed.as_secs_f64();
                if json {
                    println!(
                        "{{\"scenario\":\"inproc\",\"mode\":\"{name}\",\"messages\":{n},\"duration_s\":{:.3},\"msg_per_s\":{rate:.0}}}",
                        elapsed.as_secs_f64()
                    );
                } else {
                    println!(
                        "inproc mode={name} messages={n} duration_s={:.3} msg_per_s={rate:.0}",
                        elapsed.as_secs_f64()
                    );
                }
            }
            Err(error) => {
                eprintln!("inproc {name}: {error}");
                return ExitCode::FAILURE;
            }
        }
    }
    ExitCode::SUCCESS
}
