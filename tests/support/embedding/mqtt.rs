//! rumqttc, driven by a thread that forwards its events.

use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use rumqttc::{ConnectReturnCode, ConnectionError, MqttOptions, SubscribeReasonCode};

use crate::support::{QUIET, TIMEOUT};

pub struct Mqtt {
    pub client: rumqttc::Client,
    pub events: mpsc::Receiver<Result<rumqttc::Event, ConnectionError>>,
}

/// A rumqttc client, not yet known to be connected (see
/// [`Mqtt::connected`], [`Mqtt::connack`], [`Mqtt::refusal`]); its
/// connection is driven in a thread that stops at the first error (so it
/// never reconnects behind the test's back).
pub fn mqtt(addr: SocketAddr, client_id: &str, configure: impl FnOnce(&mut MqttOptions)) -> Mqtt {
    let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(30));
    configure(&mut options);
    let (client, mut connection) = rumqttc::Client::new(options, 200);
    let (tx, events) = mpsc::channel();
    thread::spawn(move || {
        for event in connection.iter() {
            let failed = event.is_err();
            if tx.send(event).is_err() || failed {
                break;
            }
        }
    });
    Mqtt { client, events }
}

pub fn with_credentials(user: &str, password: &str) -> impl FnOnce(&mut MqttOptions) {
    let (user, password) = (user.to_string(), password.to_string());
    move |options| {
        options.set_credentials(user, password);
    }
}

impl Mqtt {
    /// The outcome of the connection attempt: the CONNACK, or the error.
    pub fn connack(&self) -> Result<rumqttc::ConnAck, Box<ConnectionError>> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::ConnAck(ack)))) => return Ok(ack),
                Ok(Ok(_)) => {}
                Ok(Err(error)) => return Err(Box::new(error)),
                Err(_) => panic!("no CONNACK nor error within 5 s"),
            }
        }
    }

    /// The return code of a refused connection attempt (rumqttc reports a
    /// non-zero CONNACK as `ConnectionError::ConnectionRefused`).
    pub fn refusal(&self) -> ConnectReturnCode {
        match self.connack() {
            Err(error) => match *error {
                ConnectionError::ConnectionRefused(code) => code,
                other => panic!("expected a refusing CONNACK, got {other}"),
            },
            Ok(ack) => panic!("expected a refusing CONNACK, got {ack:?}"),
        }
    }

    /// Waits for a successful CONNACK.
    pub fn connected(self) -> Mqtt {
        match self.connack() {
            Ok(ack) => assert_eq!(ack.code, ConnectReturnCode::Success),
            Err(error) => panic!("connection failed: {error}"),
        }
        self
    }

    /// Waits for the first incoming packet `pick` accepts, skipping others.
    pub fn wait_for<T>(
        &self,
        what: &str,
        mut pick: impl FnMut(&rumqttc::Packet) -> Option<T>,
    ) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(rumqttc::Event::Incoming(packet))) => {
                    if let Some(value) = pick(&packet) {
                        return value;
                    }
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => panic!("connection failed while waiting for {what}: {error}"),
                Err(_) => panic!("no {what} within 5 s"),
            }
        }
    }

    /// Waits until the connection fails (the broker closed it).
    pub fn wait_closed(&self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(_)) => {}
                Ok(Err(_)) | Err(mpsc::RecvTimeoutError::Disconnected) => return,
                Err(mpsc::RecvTimeoutError::Timeout) => panic!("still connected after 5 s"),
            }
        }
    }

    pub fn suback(&self) -> Vec<SubscribeReasonCode> {
        self.wait_for("SUBACK", |packet| match packet {
            rumqttc::Packet::SubAck(ack) => Some(ack.return_codes.clone()),
            _ => None,
        })
    }

    pub fn subscribe(&self, filter: &str, qos: rumqttc::QoS) {
        self.client.subscribe(filter, qos).unwrap();
        let codes = self.suback();
        assert!(
            matches!(codes.as_slice(), [SubscribeReasonCode::Success(_)]),
            "subscription to {filter} refused: {codes:?}"
        );
    }

    pub fn publication(&self) -> rumqttc::Publish {
        self.wait_for("PUBLISH", |packet| match packet {
            rumqttc::Packet::Publish(publish) => Some(publish.clone()),
            _ => None,
        })
    }

    pub fn publish(&self, topic: &str, qos: rumqttc::QoS, retain: bool, payload: &str) {
        self.client
            .publish(topic, qos, retain, payload.as_bytes().to_vec())
            .unwrap();
    }

    /// Panics if a PUBLISH arrives within [`QUIET`].
    pub fn assert_no_publication(&self) {
        let deadline = Instant::now() + QUIET;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.events.recv_timeout(left) {
                Ok(Ok(rumqttc::Event::Incoming(rumqttc::Packet::Publish(publish)))) => {
                    panic!("unexpected PUBLISH on {}", publish.topic)
                }
                Ok(Ok(_)) => {}
                Ok(Err(error)) => panic!("connection failed: {error}"),
                Err(_) => return,
            }
        }
    }

    /// Waits for `count` PUBACKs.
    pub fn pubacks(&self, count: usize) {
        for _ in 0..count {
            self.wait_for("PUBACK", |packet| {
                matches!(packet, rumqttc::Packet::PubAck(_)).then_some(())
            });
        }
    }
}
