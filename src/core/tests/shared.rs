//! Shared subscriptions: one member of a group per message.

use super::*;

fn payloads(sim: &mut Sim, id: ConnId) -> Vec<Vec<u8>> {
    sim.publishes(id)
        .into_iter()
        .map(|(_, p, _, _)| p)
        .collect()
}

#[test]
fn each_message_goes_to_one_member_in_turn() {
    let mut sim = Sim::new();
    let members: Vec<ConnId> = (0..3)
        .map(|n| {
            let id = sim.connect(&format!("m{n}"), true);
            sim.subscribe(id, "$share/g/jobs/+", QoS::AtLeastOnce);
            id
        })
        .collect();
    // Another group and a plain subscriber each get every message.
    let other = sim.connect("other", true);
    sim.subscribe(other, "$share/h/jobs/#", QoS::AtMostOnce);
    let plain = sim.connect("plain", true);
    sim.subscribe(plain, "jobs/#", QoS::AtMostOnce);
    let publisher = sim.connect("p", true);
    for n in 0..6u8 {
        sim.publish(publisher, "jobs/x", &[n], QoS::AtMostOnce, false, 0);
    }
    let mut all = Vec::new();
    for &id in &members {
        let got = payloads(&mut sim, id);
        assert_eq!(got.len(), 2, "an even share: {got:?}");
        all.extend(got);
    }
    all.sort();
    assert_eq!(all, (0..6u8).map(|n| vec![n]).collect::<Vec<_>>());
    assert_eq!(payloads(&mut sim, other).len(), 6);
    assert_eq!(payloads(&mut sim, plain).len(), 6);
    // Counted as `$SYS` counts them: each member once, apart from the
    // plain subscription.
    let stats = sim.core.stats();
    assert_eq!((stats.subscriptions, stats.shared_subscriptions), (1, 4));
}

#[test]
fn members_that_are_gone_or_full_are_passed_over() {
    let mut sim = Sim::with_config(Config {
        max_inflight: 1,
        ..test_config()
    });
    let busy = sim.connect("busy", true);
    sim.subscribe(busy, "$share/g/t", QoS::AtLeastOnce);
    let free = sim.connect("free", true);
    sim.subscribe(free, "$share/g/t", QoS::AtLeastOnce);
    let gone = sim.connect("gone", false);
    sim.subscribe(gone, "$share/g/t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, gone);
    sim.reap();
    let publisher = sim.connect("p", true);
    // `busy` takes the first and, not acknowledging, has a full window.
    sim.publish(publisher, "t", b"1", QoS::AtLeastOnce, false, 1);
    sim.publish(publisher, "t", b"2", QoS::AtLeastOnce, false, 2);
    sim.publish(publisher, "t", b"3", QoS::AtLeastOnce, false, 3);
    let busy_got = payloads(&mut sim, busy);
    let free_got = payloads(&mut sim, free);
    assert_eq!(
        busy_got.len() + free_got.len(),
        2,
        "{busy_got:?} {free_got:?}"
    );
    // Both online members are full now: the next one is queued with an
    // online member, not with the one that is gone.
    sim.publish(publisher, "t", b"4", QoS::AtLeastOnce, false, 4);
    let (_, got) = sim.connect_with(connect("gone", false));
    assert_eq!(
        got.len(),
        1,
        "nothing waited for the absent member: {got:?}"
    );
}

#[test]
fn an_offline_persistent_member_keeps_its_share_when_no_one_is_online() {
    let mut sim = Sim::new();
    let member = sim.connect("m", false);
    sim.subscribe(member, "$share/g/t", QoS::AtLeastOnce);
    sim.core.handle_closed(sim.now, member);
    sim.reap();
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "t", b"kept", QoS::AtLeastOnce, false, 1);
    let (_, got) = sim.connect_with(connect("m", false));
    assert!(
        matches!(&got[1], Got::Publish { payload, .. } if payload == b"kept"),
        "{got:?}"
    );
}

#[test]
fn shared_subscriptions_get_no_retained_messages_and_leave_nothing_behind() {
    let mut sim = Sim::new();
    let publisher = sim.connect("p", true);
    sim.publish(publisher, "r", b"old", QoS::AtMostOnce, true, 0);
    let member = sim.connect("m", true);
    let got = sim.subscribe(member, "$share/g/r", QoS::AtMostOnce);
    assert_eq!(got, vec![Got::SubAck(1, vec![ReasonCode::GRANTED_QOS_0])]);
    sim.send(
        member,
        Packet::Unsubscribe(codec::Unsubscribe {
            packet_id: 2,
            filters: vec!["$share/g/r"],
            properties: Properties::EMPTY,
        }),
    );
    assert_eq!(sim.recv(member), vec![Got::UnsubAck(2)]);
    assert_eq!(sim.core.router.subscriptions.node_count(), 0);
    sim.publish(publisher, "r", b"new", QoS::AtMostOnce, false, 0);
    assert!(sim.publishes(member).is_empty());
}

#[test]
fn bad_share_names_are_refused() {
    let mut sim = Sim::new();
    let c = sim.connect("c", true);
    for bad in ["$share/+/t", "$share/g", "$share//t"] {
        let got = sim.subscribe(c, bad, QoS::AtMostOnce);
        assert_eq!(
            got,
            vec![Got::SubAck(1, vec![ReasonCode::UNSPECIFIED_ERROR])],
            "{bad}"
        );
    }
}
