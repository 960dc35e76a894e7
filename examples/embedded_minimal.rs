//! The smallest useful embedding of mqlite.
//!
//! Use case: a program that wants an MQTT broker inside itself, say to let
//! a few devices or tools talk to it, without running a separate server.
//! The whole integration is:
//!
//! 1. build a `Config` and a `Broker` (this binds the listener),
//! 2. subscribe the host itself to the topics it cares about
//!    (`subscribe_local`: a callback on the broker thread, no socket),
//! 3. run the broker in a thread of its own (`Broker::run`),
//! 4. talk to it from any thread through a `BrokerHandle` (`publish`),
//! 5. `stop()` it and join the thread.
//!
//! MQTT clients can connect to the printed address meanwhile; here the host
//! just publishes to itself.
//!
//! Run with `cargo run --example embedded_minimal`.

use std::sync::mpsc;
use std::time::Duration;

use mqlite::{Broker, Config, QoS};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Port 0 picks a free port; the default would be 127.0.0.1:1883.
    let config = Config {
        listeners: vec!["127.0.0.1:0".parse()?],
        ..Config::default()
    };
    let mut broker = Broker::new(config)?;
    println!("broker listening on {}", broker.local_addr());

    // The callback runs on the broker thread and must not block: hand the
    // message over to the host's own thread through a channel.
    let (tx, rx) = mpsc::channel();
    broker.subscribe_local("greetings/#", QoS::AtMostOnce, move |message| {
        let _ = tx.send((
            message.topic().to_string(),
            String::from_utf8_lossy(message.payload()).into_owned(),
        ));
    })?;

    let handle = broker.handle();
    let broker_thread = std::thread::spawn(move || broker.run());

    handle.publish(
        "greetings/world",
        b"hello from the host",
        QoS::AtMostOnce,
        false,
    )?;

    let (topic, payload) = rx
        .recv_timeout(Duration::from_secs(5))
        .map_err(|_| "the local subscription received nothing within 5 s")?;
    println!("local subscriber got {topic:?}: {payload:?}");

    handle.stop();
    broker_thread.join().expect("the broker thread panicked")?;
    println!("broker stopped");
    Ok(())
}
