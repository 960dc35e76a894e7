//! [`Mqtt`]: rumqttc, a real client library, driven by a thread that
//! forwards its events to the test.
//!
//! The thread keeps the connection going (keepalive, acknowledgements)
//! while the test waits on something else, e.g. a broker the test thread
//! itself drives; it stops at the first error, so the client never
//! reconnects behind the test's back. Dropping an [`Mqtt`] closes its socket
//! without DISCONNECT (the will is published).

use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use rumqttc::{
    ConnectReturnCode, ConnectionError, Event, Incoming, MqttOptions, Outgoing, QoS,
    SubscribeReasonCode,
};

use crate::support::{QUIET, TIMEOUT};

/// How long the driving thread waits for an event before it looks whether
/// the client was dropped. Once connected, rumqttc's event loop is only
/// interrupted while idle (reading, or waiting for a request), where that
/// loses nothing; interrupting the connection attempt would start it over,
/// so the first event is awaited in full.
const DRIVE_SLICE: Duration = Duration::from_millis(50);

pub struct Mqtt {
    pub client: rumqttc::Client,
    pub events: mpsc::Receiver<Result<Event, ConnectionError>>,
    dropped: Arc<AtomicBool>,
    driver: Option<JoinHandle<()>>,
}

/// A rumqttc client, not yet known to be connected (see
/// [`Mqtt::connected`], [`Mqtt::connack`], [`Mqtt::refusal`]).
pub fn mqtt(addr: SocketAddr, client_id: &str, configure: impl FnOnce(&mut MqttOptions)) -> Mqtt {
    let mut options = MqttOptions::new(client_id, addr.ip().to_string(), addr.port());
    options.set_keep_alive(Duration::from_secs(30));
    configure(&mut options);
    let (client, mut connection) = rumqttc::Client::new(options, 200);
    let (tx, events) = mpsc::channel();
    let dropped = Arc::new(AtomicBool::new(false));
    let stop = Arc::clone(&dropped);
    let driver = thread::spawn(move || {
        let mut next = connection
            .recv()
            .map_err(|_| rumqttc::RecvTimeoutError::Disconnected);
        while !stop.load(Ordering::Relaxed) {
            match next {
                Ok(event) => {
                    let failed = event.is_err();
                    if tx.send(event).is_err() || failed {
                        break;
                    }
                }
                Err(rumqttc::RecvTimeoutError::Timeout) => {}
                Err(rumqttc::RecvTimeoutError::Disconnected) => break,
            }
            next = connection.recv_timeout(DRIVE_SLICE);
        }
    });
    Mqtt {
        client,
        events,
        dropped,
        driver: Some(driver),
    }
}

pub fn with_credentials(user: &str, password: &str) -> impl FnOnce(&mut MqttOptions) {
    let (user, password) = (user.to_string(), password.to_string());
    move |options| {
        options.set_credentials(user, password);
    }
}

/// A QoS as its number, for comparing tuples that hold one.
pub fn rqos(qos: QoS) -> u8 {
    qos as u8
}

impl Drop for Mqtt {
    fn drop(&mut self) {
        self.dropped.store(true, Ordering::Relaxed);
        if let Some(driver) = self.driver.take() {
            let _ = driver.join();
        }
    }
}

impl Mqtt {
    /// Connects with a clean or persistent session; returns the client and
    /// the CONNACK's session-present flag.
    pub fn connect(addr: SocketAddr, client_id: &str, clean: bool) -> (Mqtt, bool) {
        let mqtt = mqtt(addr, client_id, |options| {
            options.set_clean_session(clean);
        });
        let ack = match mqtt.connack() {
            Ok(ack) => ack,
            Err(error) => panic!("connection failed: {error}"),
        };
        assert_eq!(ack.code, ConnectReturnCode::Success);
        (mqtt, ack.session_present)
    }

    /// The next event, or `None` if nothing happens before `deadline`. A
    /// driving thread that has ended reads as a connection error.
    fn next_event(&self, deadline: Instant) -> Option<Result<Event, ConnectionError>> {
        let left = deadline.saturating_duration_since(Instant::now());
        match self.events.recv_timeout(left) {
            Ok(event) => Some(event),
            Err(mpsc::RecvTimeoutError::Timeout) => None,
            Err(mpsc::RecvTimeoutError::Disconnected) => Some(Err(ConnectionError::RequestsDone)),
        }
    }

    /// The outcome of the connection attempt: the CONNACK, or the error.
    pub fn connack(&self) -> Result<rumqttc::ConnAck, Box<ConnectionError>> {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_event(deadline) {
                Some(Ok(Event::Incoming(Incoming::ConnAck(ack)))) => return Ok(ack),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(Box::new(error)),
                None => panic!("no CONNACK nor error within 5 s"),
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

    /// Waits for the first event `pick` accepts, skipping others; panics on
    /// a connection error or after [`TIMEOUT`].
    pub fn wait_event<T>(&self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_event(deadline) {
                Some(Ok(event)) => {
                    if let Some(value) = pick(&event) {
                        return value;
                    }
                }
                Some(Err(error)) => panic!("connection failed while waiting for {what}: {error}"),
                None => panic!("no {what} within 5 s"),
            }
        }
    }

    /// Waits for the first incoming packet `pick` accepts, skipping others.
    pub fn wait_for<T>(&self, what: &str, mut pick: impl FnMut(&Incoming) -> Option<T>) -> T {
        self.wait_event(what, |event| match event {
            Event::Incoming(packet) => pick(packet),
            Event::Outgoing(_) => None,
        })
    }

    /// Waits until the connection fails (the broker closed it); whatever
    /// still arrives before that is skipped.
    pub fn wait_closed(&self) {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_event(deadline) {
                Some(Ok(_)) => {}
                Some(Err(_)) => return,
                None => panic!("still connected after 5 s"),
            }
        }
    }

    pub fn suback(&self) -> Vec<SubscribeReasonCode> {
        self.wait_for("SUBACK", |packet| match packet {
            Incoming::SubAck(ack) => Some(ack.return_codes.clone()),
            _ => None,
        })
    }

    /// Subscribes; asserts that the broker grants `qos`.
    pub fn subscribe(&self, filter: &str, qos: QoS) {
        self.client.subscribe(filter, qos).unwrap();
        let codes = self.suback();
        assert_eq!(
            codes,
            [SubscribeReasonCode::Success(qos)],
            "SUBACK for {filter}"
        );
    }

    /// Publishes without waiting for anything.
    pub fn publish_nowait(&self, topic: &str, qos: QoS, retain: bool, payload: impl AsRef<[u8]>) {
        self.client
            .publish(topic, qos, retain, payload.as_ref().to_vec())
            .unwrap();
    }

    /// Publishes and waits for the end of the QoS flow (PUBACK / PUBCOMP;
    /// at QoS 0, until it has been written). Incoming messages meanwhile
    /// are skipped.
    pub fn publish(&self, topic: &str, qos: QoS, retain: bool, payload: impl AsRef<[u8]>) {
        self.publish_nowait(topic, qos, retain, payload);
        self.wait_event("the publish acknowledgement", |event| match (qos, event) {
            (QoS::AtMostOnce, Event::Outgoing(Outgoing::Publish(_)))
            | (QoS::AtLeastOnce, Event::Incoming(Incoming::PubAck(_)))
            | (QoS::ExactlyOnce, Event::Incoming(Incoming::PubComp(_))) => Some(()),
            _ => None,
        });
    }

    /// Waits for `count` PUBACKs.
    pub fn pubacks(&self, count: usize) {
        for _ in 0..count {
            self.wait_for("PUBACK", |packet| {
                matches!(packet, Incoming::PubAck(_)).then_some(())
            });
        }
    }

    pub fn expect_publish(&self) -> rumqttc::Publish {
        self.wait_for("PUBLISH", |packet| match packet {
            Incoming::Publish(publish) => Some(publish.clone()),
            _ => None,
        })
    }

    /// Panics if a PUBLISH arrives within [`QUIET`].
    pub fn expect_no_publish(&self) {
        let deadline = Instant::now() + QUIET;
        while let Some(event) = self.next_event(deadline) {
            match event {
                Ok(Event::Incoming(Incoming::Publish(publish))) => {
                    panic!("unexpected PUBLISH on {}", publish.topic)
                }
                Ok(_) => {}
                Err(error) => panic!("connection failed: {error}"),
            }
        }
    }

    /// Sends DISCONNECT and waits until the broker has closed the
    /// connection, so the session is offline when this returns.
    pub fn disconnect(self) {
        self.client.disconnect().unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.next_event(deadline) {
                Some(Err(_)) => return,
                Some(Ok(_)) => {}
                None => panic!("the broker did not close the connection within 5 s of DISCONNECT"),
            }
        }
    }
}
