//! Wills, and the closes that publish them: network loss, keepalive
//! expiry, takeover.

use super::*;
use crate::codec::Will;

fn will_connect(client_id: &str, keep_alive: u16) -> Connect<'_> {
    Connect {
        keep_alive,
        will: Some(Will {
            topic: "wills",
            payload: b"gone",
            qos: QoS::AtLeastOnce,
            retain: false,
            properties: crate::codec::Properties::EMPTY,
        }),
        ..connect(client_id, true)
    }
}

#[test]
fn will_on_network_close_not_after_disconnect() {
    let mut sim = Sim::new();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, "wills", QoS::AtLeastOnce);

    let (dying, _) = sim.connect_with(will_connect("dying", 0));
    sim.core.handle_closed(sim.now, dying);
    assert_eq!(
        sim.publishes(watcher),
        vec![publish_got("wills", b"gone", QoS::AtLeastOnce, false)]
    );

    let (polite, _) = sim.connect_with(will_connect("polite", 0));
    sim.send(
        polite,
        Packet::Disconnect(crate::codec::Reasoned::default()),
    );
    assert!(!sim.is_open(polite));
    assert!(sim.publishes(watcher).is_empty());
}

#[test]
fn keepalive_expires_at_one_and_a_half_times_and_publishes_will() {
    let mut sim = Sim::new();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, "wills", QoS::AtMostOnce);
    let (id, _) = sim.connect_with(will_connect("sleepy", 10));
    sim.advance(Duration::from_secs(10));
    sim.send(id, Packet::PingReq);
    assert_eq!(sim.recv(id), vec![Got::PingResp]);
    // The deadline moved to 10 s + 15 s.
    sim.advance(Duration::from_millis(14_999));
    assert!(sim.is_open(id));
    assert!(
        sim.publishes(watcher).is_empty(),
        "no will before the expiry"
    );
    let deadline = sim.core.next_deadline().unwrap();
    assert_eq!(deadline, sim.now + Duration::from_millis(1));
    sim.advance(Duration::from_millis(1));
    assert!(!sim.is_open(id));
    assert_eq!(sim.publishes(watcher).len(), 1);
}

#[test]
fn takeover_closes_old_connection_with_will() {
    let mut sim = Sim::new();
    let watcher = sim.connect("watcher", true);
    sim.subscribe(watcher, "wills", QoS::AtMostOnce);
    let (old, _) = sim.connect_with(will_connect("dev", 0));
    let new = sim.connect("dev", true);
    assert!(!sim.is_open(old));
    assert!(sim.is_open(new));
    assert_eq!(sim.publishes(watcher).len(), 1);
    sim.reap();
    assert_eq!(sim.core.stats().connections, 2);
}
