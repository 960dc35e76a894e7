//! [`Mqtt`], a rumqttc client driven by the test thread, for the scenarios
//! that are plain publish / subscribe.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rumqttc::{
    Client, Connection, ConnectionError, Event, Incoming, MqttOptions, Outgoing, Publish,
    QoS as RQoS, SubscribeReasonCode,
};

use crate::support::{QUIET, TIMEOUT};

pub struct Mqtt {
    client: Client,
    connection: Connection,
}

impl Mqtt {
    /// Connects; returns the client and the CONNACK's session-present flag.
    pub fn connect(addr: SocketAddr, id: &str, clean: bool) -> (Mqtt, bool) {
        let mut options = MqttOptions::new(id, addr.ip().to_string(), addr.port());
        options.set_keep_alive(Duration::from_secs(30));
        options.set_clean_session(clean);
        let (client, connection) = Client::new(options, 64);
        let mut mqtt = Mqtt { client, connection };
        let present = mqtt.wait_for("CONNACK", |event| match event {
            Event::Incoming(Incoming::ConnAck(ack)) => {
                assert_eq!(ack.code, rumqttc::ConnectReturnCode::Success);
                Some(ack.session_present)
            }
            _ => None,
        });
        (mqtt, present)
    }

    /// The next event, or `None` if nothing happens before `deadline`.
    fn poll(&mut self, deadline: Instant) -> Option<Result<Event, ConnectionError>> {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return None;
        }
        match self.connection.recv_timeout(left) {
            Ok(event) => Some(event),
            Err(rumqttc::RecvTimeoutError::Timeout) => None,
            Err(rumqttc::RecvTimeoutError::Disconnected) => {
                panic!("the rumqttc request channel closed")
            }
        }
    }

    /// Polls until `pick` accepts an event; panics on a connection error or
    /// after [`TIMEOUT`].
    fn wait_for<T>(&mut self, what: &str, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.poll(deadline) {
                Some(Ok(event)) => {
                    if let Some(value) = pick(&event) {
                        return value;
                    }
                }
                Some(Err(error)) => panic!("connection error while waiting for {what}: {error:?}"),
                None => panic!("no {what} within 5 s"),
            }
        }
    }

    pub fn subscribe(&mut self, filter: &str, qos: RQoS) {
        self.client.subscribe(filter, qos).unwrap();
        let code = self.wait_for("SUBACK", |event| match event {
            Event::Incoming(Incoming::SubAck(ack)) => Some(ack.return_codes[0]),
            _ => None,
        });
        assert_eq!(
            code,
            SubscribeReasonCode::Success(qos),
            "SUBACK for {filter}"
        );
    }

    /// Publishes and waits for the end of the QoS flow (PUBACK / PUBCOMP).
    pub fn publish(&mut self, topic: &str, qos: RQoS, retain: bool, payload: &[u8]) {
        self.client
            .publish(topic, qos, retain, payload.to_vec())
            .unwrap();
        self.wait_for("the publish acknowledgement", |event| match (qos, event) {
            (RQoS::AtMostOnce, Event::Outgoing(Outgoing::Publish(_)))
            | (RQoS::AtLeastOnce, Event::Incoming(Incoming::PubAck(_)))
            | (RQoS::ExactlyOnce, Event::Incoming(Incoming::PubComp(_))) => Some(()),
            _ => None,
        });
    }

    pub fn expect_publish(&mut self) -> Publish {
        self.wait_for("PUBLISH", |event| match event {
            Event::Incoming(Incoming::Publish(publish)) => Some(publish.clone()),
            _ => None,
        })
    }

    /// Asserts that no PUBLISH arrives for [`QUIET`].
    pub fn expect_no_publish(&mut self) {
        let deadline = Instant::now() + QUIET;
        while let Some(event) = self.poll(deadline) {
            match event {
                Ok(Event::Incoming(Incoming::Publish(publish))) => {
                    panic!("unexpected PUBLISH {publish:?}")
                }
                Ok(_) => {}
                Err(error) => panic!("connection error: {error:?}"),
            }
        }
    }

    /// Sends DISCONNECT and waits until the broker has closed the
    /// connection, so the session is offline when this returns.
    pub fn disconnect(mut self) {
        self.client.disconnect().unwrap();
        let deadline = Instant::now() + TIMEOUT;
        loop {
            match self.poll(deadline) {
                Some(Err(_)) => return,
                Some(Ok(_)) => {}
                None => panic!("the broker did not close the connection within 5 s of DISCONNECT"),
            }
        }
    }
}

pub fn rqos(qos: RQoS) -> u8 {
    qos as u8
}
