//! The ACL on every path to a client: a session resumed under another
//! identity gets none of what was queued or in flight for the previous one
//! that the new identity may not read.

use super::*;
use crate::hooks::AclAccess;

/// `alice` may read `secret/#`; everyone may read `open/#`.
fn install_acl(sim: &mut Sim) {
    sim.core.hooks.acl = Some(Box::new(|client, access, topic| {
        access != AclAccess::Receive
            || topic.starts_with("open/")
            || client.username == Some("alice")
    }));
}

fn connect_as<'a>(client_id: &'a str, username: &'a str) -> Connect<'a> {
    Connect {
        username: Some(username),
        ..connect(client_id, false)
    }
}

/// Alice subscribes to `secret/#` and `open/#` with a persistent session,
/// leaves one QoS 1 and one QoS 2 message unacknowledged in flight, and
/// goes away; three more are queued while she is offline.
fn alice_leaves_messages(sim: &mut Sim) {
    let (alice, got) = sim.connect_with(connect_as("shared-id", "alice"));
    assert_eq!(got, vec![Got::ConnAck(false, ReasonCode::SUCCESS)]);
    sim.subscribe(alice, "secret/#", QoS::ExactlyOnce);
    sim.subscribe(alice, "open/#", QoS::ExactlyOnce);
    let now = sim.now;
    sim.core
        .handle_host_publish(now, "secret/inflight1", b"s1", QoS::AtLeastOnce, false)
        .unwrap();
    sim.core
        .handle_host_publish(now, "secret/inflight2", b"s2", QoS::ExactlyOnce, false)
        .unwrap();
    assert_eq!(sim.publishes(alice).len(), 2);
    sim.core.handle_closed(now, alice);
    sim.reap();
    for topic in ["secret/queued1", "open/queued", "secret/queued2"] {
        sim.core
            .handle_host_publish(now, topic, b"q", QoS::AtLeastOnce, false)
            .unwrap();
    }
}

fn topics(got: &[Got]) -> Vec<String> {
    got.iter()
        .filter_map(|g| match g {
            Got::Publish { topic, .. } => Some(topic.clone()),
            _ => None,
        })
        .collect()
}

fn check_bob_gets_only_open(mut sim: Sim) {
    install_acl(&mut sim);
    alice_leaves_messages(&mut sim);
    let (bob, got) = sim.connect_with(connect_as("shared-id", "bob"));
    assert_eq!(got[0], Got::ConnAck(true, ReasonCode::SUCCESS));
    assert_eq!(topics(&got[1..]), vec!["open/queued".to_string()]);
    // Live messages through the inherited subscription are withheld too.
    let now = sim.now;
    sim.core
        .handle_host_publish(now, "secret/live", b"l", QoS::AtLeastOnce, false)
        .unwrap();
    assert!(topics(&sim.recv(bob)).is_empty());
    // Withheld messages are gone, not waiting for Alice.
    sim.core.handle_closed(now, bob);
    sim.reap();
    let (alice, got) = sim.connect_with(connect_as("shared-id", "alice"));
    assert_eq!(got[0], Got::ConnAck(true, ReasonCode::SUCCESS));
    let again = topics(&got[1..]);
    assert!(
        again.iter().all(|topic| topic == "open/queued"),
        "{again:?}"
    );
    assert!(sim.is_open(alice));
}

#[test]
fn resumed_session_withholds_what_the_new_user_may_not_read() {
    check_bob_gets_only_open(Sim::new());
}

#[test]
fn resumed_session_withholds_stored_pages_too() {
    let sim = Sim::persistent(test_config());
    check_bob_gets_only_open(sim);
}

#[test]
fn the_same_user_resuming_gets_everything() {
    let mut sim = Sim::new();
    install_acl(&mut sim);
    alice_leaves_messages(&mut sim);
    let (_, got) = sim.connect_with(connect_as("shared-id", "alice"));
    assert_eq!(got[0], Got::ConnAck(true, ReasonCode::SUCCESS));
    assert_eq!(
        topics(&got[1..]),
        vec![
            "secret/inflight1",
            "secret/inflight2",
            "secret/queued1",
            "open/queued",
            "secret/queued2"
        ]
    );
}
